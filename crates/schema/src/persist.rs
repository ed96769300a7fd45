//! The persistent form of the schema: one JSON document per keyspace in the storage engine's metadata KV.
//!
//! Types are stored as CQL type strings and parsed back through a caller-supplied resolver, so this module
//! does not depend on the type parser. Bump `SCHEMA_FORMAT_VERSION` whenever the document shape changes.

use std::collections::BTreeMap;
use std::sync::Arc;

use mica_cql_types::{CqlType, UdtDef};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::model::{
    ColumnDef, ColumnKind, DroppedColumn, IndexDef, KeyspaceDef, Replication, SchemaError, TableDef,
    TableOptions,
};

/// Version of the JSON document layout below.
pub const SCHEMA_FORMAT_VERSION: u32 = 1;

/// Serialized keyspace document.
#[derive(Serialize, Deserialize)]
pub struct PersistedSchema {
    format: u32,
    name: String,
    replication_class: String,
    replication_options: BTreeMap<String, String>,
    durable_writes: bool,
    /// User types in an order where every type only refers to types listed before it.
    types: Vec<PersistedType>,
    tables: Vec<PersistedTable>,
}

#[derive(Serialize, Deserialize)]
struct PersistedType {
    name: String,
    fields: Vec<(String, String)>,
}

#[derive(Serialize, Deserialize)]
struct PersistedTable {
    name: String,
    id: Uuid,
    columns: Vec<PersistedColumn>,
    dropped: Vec<PersistedDropped>,
    indexes: Vec<(String, String, BTreeMap<String, String>)>,
    next_column_id: u32,
    options: PersistedOptions,
}

#[derive(Serialize, Deserialize)]
struct PersistedColumn {
    name: String,
    typ: String,
    kind: String,
    position: i32,
    descending: bool,
    id: u32,
}

#[derive(Serialize, Deserialize)]
struct PersistedDropped {
    name: String,
    typ: String,
    id: u32,
    dropped_at_micros: i64,
}

#[derive(Serialize, Deserialize)]
struct PersistedOptions {
    bloom_filter_fp_chance: f64,
    caching: BTreeMap<String, String>,
    comment: String,
    compaction: BTreeMap<String, String>,
    compression: BTreeMap<String, String>,
    crc_check_chance: f64,
    default_time_to_live: i32,
    gc_grace_seconds: i32,
    max_index_interval: i32,
    memtable_flush_period_in_ms: i32,
    min_index_interval: i32,
    read_repair: String,
    speculative_retry: String,
    additional_write_policy: String,
    cdc: bool,
    extensions: BTreeMap<String, Vec<u8>>,
    memtable: String,
}

fn kind_from_str(s: &str) -> Result<ColumnKind, SchemaError> {
    Ok(match s {
        "partition_key" => ColumnKind::PartitionKey,
        "clustering" => ColumnKind::Clustering,
        "regular" => ColumnKind::Regular,
        "static" => ColumnKind::Static,
        other => {
            return Err(SchemaError::Invalid(format!(
                "stored schema has unknown column kind {other}"
            )));
        }
    })
}

impl PersistedSchema {
    /// Captures a keyspace; `type_name` renders a type as a CQL type string.
    pub fn from_keyspace(ks: &KeyspaceDef, type_name: impl Fn(&CqlType) -> String) -> PersistedSchema {
        let types = order_types(&ks.types)
            .into_iter()
            .map(|t| PersistedType {
                name: t.name.clone(),
                fields: t
                    .fields
                    .iter()
                    .map(|(n, ty)| (n.clone(), type_name(ty)))
                    .collect(),
            })
            .collect();
        let tables = ks
            .tables
            .values()
            .filter(|t| !t.is_virtual)
            .map(|t| PersistedTable {
                name: t.name.clone(),
                id: t.id,
                columns: t
                    .columns
                    .iter()
                    .map(|c| PersistedColumn {
                        name: c.name.clone(),
                        typ: type_name(&c.typ),
                        kind: c.kind.as_str().to_string(),
                        position: c.position,
                        descending: c.descending,
                        id: c.id,
                    })
                    .collect(),
                dropped: t
                    .dropped_columns
                    .iter()
                    .map(|d| PersistedDropped {
                        name: d.name.clone(),
                        typ: type_name(&d.typ),
                        id: d.id,
                        dropped_at_micros: d.dropped_at_micros,
                    })
                    .collect(),
                indexes: t
                    .indexes
                    .iter()
                    .map(|i| (i.name.clone(), i.kind.clone(), i.options.clone()))
                    .collect(),
                next_column_id: t.next_column_id,
                options: {
                    let o = &t.options;
                    PersistedOptions {
                        bloom_filter_fp_chance: o.bloom_filter_fp_chance,
                        caching: o.caching.clone(),
                        comment: o.comment.clone(),
                        compaction: o.compaction.clone(),
                        compression: o.compression.clone(),
                        crc_check_chance: o.crc_check_chance,
                        default_time_to_live: o.default_time_to_live,
                        gc_grace_seconds: o.gc_grace_seconds,
                        max_index_interval: o.max_index_interval,
                        memtable_flush_period_in_ms: o.memtable_flush_period_in_ms,
                        min_index_interval: o.min_index_interval,
                        read_repair: o.read_repair.clone(),
                        speculative_retry: o.speculative_retry.clone(),
                        additional_write_policy: o.additional_write_policy.clone(),
                        cdc: o.cdc,
                        extensions: o.extensions.clone(),
                        memtable: o.memtable.clone(),
                    }
                },
            })
            .collect();
        PersistedSchema {
            format: SCHEMA_FORMAT_VERSION,
            name: ks.name.clone(),
            replication_class: ks.replication.class.clone(),
            replication_options: ks.replication.options.clone(),
            durable_writes: ks.durable_writes,
            types,
            tables,
        }
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn from_json(bytes: &[u8]) -> Result<PersistedSchema, SchemaError> {
        let doc: PersistedSchema = serde_json::from_slice(bytes)
            .map_err(|e| SchemaError::Invalid(format!("stored schema document is unreadable: {e}")))?;
        if doc.format != SCHEMA_FORMAT_VERSION {
            return Err(SchemaError::Invalid(format!(
                "stored schema format {} is not supported by this version (expected {SCHEMA_FORMAT_VERSION})",
                doc.format
            )));
        }
        Ok(doc)
    }

    /// Rebuilds the keyspace; `parse_type(text, known_types)` parses a stored type string, resolving user
    /// types among those already rebuilt in this keyspace.
    pub fn into_keyspace(
        self,
        parse_type: impl Fn(&str, &BTreeMap<String, Arc<UdtDef>>) -> Result<CqlType, String>,
    ) -> Result<KeyspaceDef, SchemaError> {
        let bad = |what: &str, e: String| SchemaError::Invalid(format!("stored schema of {what}: {e}"));
        let mut types = BTreeMap::new();
        for t in self.types {
            let mut fields = Vec::with_capacity(t.fields.len());
            for (name, ty) in t.fields {
                fields.push((name, parse_type(&ty, &types).map_err(|e| bad(&t.name, e))?));
            }
            let def = UdtDef {
                keyspace: self.name.clone(),
                name: t.name.clone(),
                fields,
            };
            types.insert(t.name, Arc::new(def));
        }
        let mut tables = BTreeMap::new();
        for t in self.tables {
            let mut columns = Vec::with_capacity(t.columns.len());
            for c in t.columns {
                columns.push(ColumnDef {
                    typ: parse_type(&c.typ, &types).map_err(|e| bad(&t.name, e))?,
                    kind: kind_from_str(&c.kind)?,
                    name: c.name,
                    position: c.position,
                    descending: c.descending,
                    id: c.id,
                });
            }
            let mut dropped_columns = Vec::new();
            for d in t.dropped {
                dropped_columns.push(DroppedColumn {
                    typ: parse_type(&d.typ, &types).unwrap_or(CqlType::Blob),
                    name: d.name,
                    id: d.id,
                    dropped_at_micros: d.dropped_at_micros,
                });
            }
            let o = t.options;
            let is_counter = columns.iter().any(|c| matches!(c.typ, CqlType::Counter));
            let mut table = TableDef {
                keyspace: self.name.clone(),
                name: t.name.clone(),
                id: t.id,
                columns,
                options: TableOptions {
                    bloom_filter_fp_chance: o.bloom_filter_fp_chance,
                    caching: o.caching,
                    comment: o.comment,
                    compaction: o.compaction,
                    compression: o.compression,
                    crc_check_chance: o.crc_check_chance,
                    default_time_to_live: o.default_time_to_live,
                    gc_grace_seconds: o.gc_grace_seconds,
                    max_index_interval: o.max_index_interval,
                    memtable_flush_period_in_ms: o.memtable_flush_period_in_ms,
                    min_index_interval: o.min_index_interval,
                    read_repair: o.read_repair,
                    speculative_retry: o.speculative_retry,
                    additional_write_policy: o.additional_write_policy,
                    cdc: o.cdc,
                    extensions: o.extensions,
                    memtable: o.memtable,
                },
                dropped_columns,
                indexes: t
                    .indexes
                    .into_iter()
                    .map(|(name, kind, options)| IndexDef { name, kind, options })
                    .collect(),
                next_column_id: t.next_column_id,
                is_counter,
                is_virtual: false,
            };
            table.sort_columns();
            tables.insert(t.name, Arc::new(table));
        }
        Ok(KeyspaceDef {
            name: self.name,
            replication: Replication {
                class: self.replication_class,
                options: self.replication_options,
            },
            durable_writes: self.durable_writes,
            tables,
            types,
            is_virtual: false,
        })
    }
}

/// Orders user types so that each comes after the types its fields use.
fn order_types(types: &BTreeMap<String, Arc<UdtDef>>) -> Vec<&Arc<UdtDef>> {
    fn uses(ty: &CqlType, name: &str) -> bool {
        match ty {
            CqlType::Udt(u) => u.name == name || u.fields.iter().any(|(_, f)| uses(f, name)),
            CqlType::List(t) | CqlType::Set(t) | CqlType::Frozen(t) | CqlType::Vector(t, _) => uses(t, name),
            CqlType::Map(k, v) => uses(k, name) || uses(v, name),
            CqlType::Tuple(ts) => ts.iter().any(|t| uses(t, name)),
            _ => false,
        }
    }
    let mut ordered: Vec<&Arc<UdtDef>> = Vec::with_capacity(types.len());
    let mut pending: Vec<&Arc<UdtDef>> = types.values().collect();
    while !pending.is_empty() {
        let before = pending.len();
        pending.retain(|t| {
            let ready = pending_free(t, types, &ordered, &uses);
            if ready {
                ordered.push(t);
            }
            !ready
        });
        if pending.len() == before {
            // A cycle cannot be created through DDL; keep whatever is left in name order rather than loop.
            ordered.append(&mut pending);
        }
    }
    ordered
}

fn pending_free(
    t: &UdtDef,
    all: &BTreeMap<String, Arc<UdtDef>>,
    done: &[&Arc<UdtDef>],
    uses: &dyn Fn(&CqlType, &str) -> bool,
) -> bool {
    all.keys().filter(|n| **n != t.name).all(|other| {
        let depends = t.fields.iter().any(|(_, f)| uses(f, other));
        !depends || done.iter().any(|d| &d.name == other)
    })
}
