//! Schema statements: CREATE/ALTER/DROP of keyspaces, tables and types, USE and TRUNCATE.

use std::collections::BTreeMap;
use std::sync::Arc;

use mica_cql_protocol::{SchemaChange, SchemaChangeTarget, SchemaChangeType};
use mica_cql_syntax as ast;
use mica_cql_types::{CqlType, UdtDef};
use mica_schema::{ColumnDef, ColumnKind, KeyspaceDef, Replication, Schema, TableDef, TableOptions};
use uuid::Uuid;

use crate::engine::{ClientState, QueryEngine, QueryResult};
use crate::error::{QueryError, Result, invalid};

/// Converts a parsed type to a resolved CQL type; `udt` looks user types up by name.
pub(crate) fn resolve_type(ty: &ast::TypeExpr, udt: &dyn Fn(&str) -> Option<Arc<UdtDef>>) -> Result<CqlType> {
    use ast::NativeType as N;
    Ok(match ty {
        ast::TypeExpr::Native(n) => match n {
            N::Ascii => CqlType::Ascii,
            N::Bigint => CqlType::Bigint,
            N::Blob => CqlType::Blob,
            N::Boolean => CqlType::Boolean,
            N::Counter => CqlType::Counter,
            N::Date => CqlType::Date,
            N::Decimal => CqlType::Decimal,
            N::Double => CqlType::Double,
            N::Duration => CqlType::Duration,
            N::Float => CqlType::Float,
            N::Inet => CqlType::Inet,
            N::Int => CqlType::Int,
            N::Smallint => CqlType::Smallint,
            N::Text => CqlType::Varchar,
            N::Time => CqlType::Time,
            N::Timestamp => CqlType::Timestamp,
            N::Timeuuid => CqlType::Timeuuid,
            N::Tinyint => CqlType::Tinyint,
            N::Uuid => CqlType::Uuid,
            N::Varint => CqlType::Varint,
        },
        ast::TypeExpr::List(t) => CqlType::List(Box::new(resolve_inner(t, udt)?)),
        ast::TypeExpr::Set(t) => CqlType::Set(Box::new(resolve_inner(t, udt)?)),
        ast::TypeExpr::Map(k, v) => {
            CqlType::Map(Box::new(resolve_inner(k, udt)?), Box::new(resolve_inner(v, udt)?))
        }
        ast::TypeExpr::Tuple(ts) => {
            CqlType::Tuple(ts.iter().map(|t| resolve_inner(t, udt)).collect::<Result<_>>()?)
        }
        ast::TypeExpr::Frozen(t) => CqlType::Frozen(Box::new(resolve_type(t, udt)?)),
        ast::TypeExpr::Vector(t, n) => CqlType::Vector(Box::new(resolve_inner(t, udt)?), *n),
        ast::TypeExpr::UserDefined(name) => {
            CqlType::Udt(udt(&name.name).ok_or_else(|| invalid(format!("Unknown type {name}")))?)
        }
        ast::TypeExpr::Custom(class) => CqlType::Custom(class.clone()),
    })
}

/// Types nested in collections and tuples are implicitly frozen, as in Cassandra.
pub(crate) fn resolve_inner(
    ty: &ast::TypeExpr,
    udt: &dyn Fn(&str) -> Option<Arc<UdtDef>>,
) -> Result<CqlType> {
    let t = resolve_type(ty, udt)?;
    Ok(match t {
        CqlType::List(_) | CqlType::Set(_) | CqlType::Map(..) | CqlType::Udt(_) => {
            CqlType::Frozen(Box::new(t))
        }
        other => other,
    })
}

/// Builds a table definition from CREATE TABLE.
pub(crate) fn table_from_ast(
    keyspace: &str,
    create: &ast::CreateTable,
    id: Uuid,
    udt: &dyn Fn(&str) -> Option<Arc<UdtDef>>,
) -> Result<TableDef> {
    let pk = create.resolved_primary_key().map_err(invalid)?;
    let mut columns = Vec::with_capacity(create.columns.len());
    for c in &create.columns {
        if columns.iter().any(|x: &ColumnDef| x.name == c.name) {
            return Err(invalid(format!(
                "Duplicate column '{}' declaration for table {}",
                c.name, create.name.name
            )));
        }
        let typ = resolve_type(&c.ty, udt)?;
        let (kind, position) = if let Some(p) = pk.partition_key.iter().position(|n| *n == c.name) {
            (ColumnKind::PartitionKey, p as i32)
        } else if let Some(p) = pk.clustering.iter().position(|n| *n == c.name) {
            (ColumnKind::Clustering, p as i32)
        } else if c.is_static {
            (ColumnKind::Static, -1)
        } else {
            (ColumnKind::Regular, -1)
        };
        if kind != ColumnKind::Regular && kind != ColumnKind::Static && typ.is_multicell() {
            return Err(invalid(format!(
                "Invalid non-frozen collection type {} for PRIMARY KEY component {}",
                typ.cql_name(),
                c.name
            )));
        }
        if c.is_static && pk.clustering.is_empty() {
            return Err(invalid(format!(
                "Static column {} cannot be added to a table without clustering columns",
                c.name
            )));
        }
        let descending = create
            .options
            .clustering_order
            .iter()
            .any(|(n, d)| *n == c.name && *d == ast::Direction::Desc);
        columns.push(ColumnDef {
            name: c.name.clone(),
            typ,
            kind,
            position,
            descending,
            id: 0,
        });
    }
    for name in pk.partition_key.iter().chain(&pk.clustering) {
        if !columns.iter().any(|c| c.name == *name) {
            return Err(invalid(format!(
                "Unknown definition {name} referenced in PRIMARY KEY"
            )));
        }
    }
    for (name, _) in &create.options.clustering_order {
        if !pk.clustering.contains(name) {
            return Err(invalid(format!(
                "Only clustering key columns can be defined in CLUSTERING ORDER directive: {name} is not a clustering column"
            )));
        }
    }
    let mut options = TableOptions::cassandra_defaults();
    apply_table_options(&mut options, &create.options.properties)?;
    let table = TableDef::new(keyspace, &create.name.name, id, columns, options);
    if table.is_counter && table.value_columns().any(|c| !matches!(c.typ, CqlType::Counter)) {
        return Err(invalid(
            "Cannot mix counter and non counter columns in the same table",
        ));
    }
    Ok(table)
}

pub(crate) fn apply_table_options(options: &mut TableOptions, props: &[ast::Property]) -> Result<()> {
    for p in props {
        let text = || {
            p.value
                .as_text()
                .ok_or_else(|| invalid(format!("Invalid value for property '{}'", p.name)))
        };
        let map = || {
            p.value
                .as_text_map()
                .map(|m| m.into_iter().collect::<BTreeMap<_, _>>())
                .ok_or_else(|| invalid(format!("Invalid value for property '{}': expected a map", p.name)))
        };
        let num = |s: String| -> Result<f64> {
            s.parse::<f64>()
                .map_err(|_| invalid(format!("Invalid double value {s} for '{}'", p.name)))
        };
        let int = |s: String| -> Result<i32> {
            s.parse::<i32>()
                .map_err(|_| invalid(format!("Invalid integer value {s} for '{}'", p.name)))
        };
        match p.name.as_str() {
            "bloom_filter_fp_chance" => options.bloom_filter_fp_chance = num(text()?)?,
            "caching" => options.caching = map()?,
            "comment" => options.comment = text()?,
            "compaction" => options.compaction = map()?,
            "compression" => options.compression = map()?,
            "crc_check_chance" => options.crc_check_chance = num(text()?)?,
            "default_time_to_live" => options.default_time_to_live = int(text()?)?,
            "gc_grace_seconds" => options.gc_grace_seconds = int(text()?)?,
            "max_index_interval" => options.max_index_interval = int(text()?)?,
            "memtable_flush_period_in_ms" => options.memtable_flush_period_in_ms = int(text()?)?,
            "min_index_interval" => options.min_index_interval = int(text()?)?,
            "read_repair" => options.read_repair = text()?,
            "speculative_retry" => options.speculative_retry = text()?,
            "additional_write_policy" => options.additional_write_policy = text()?,
            "cdc" => options.cdc = text()?.eq_ignore_ascii_case("true"),
            "memtable" => options.memtable = text()?,
            "id" => {}
            other => return Err(QueryError::Syntax(format!("Unknown property '{other}'"))),
        }
    }
    Ok(())
}

fn replication_from(props: &[ast::Property]) -> Result<(Option<Replication>, Option<bool>)> {
    let mut replication = None;
    let mut durable = None;
    for p in props {
        match p.name.as_str() {
            "replication" => {
                let mut map: BTreeMap<String, String> = p
                    .value
                    .as_text_map()
                    .ok_or_else(|| invalid("Invalid replication: expected a map"))?
                    .into_iter()
                    .collect();
                let class = map
                    .remove("class")
                    .ok_or_else(|| QueryError::Config("Missing replication strategy class".into()))?;
                let class = match class.as_str() {
                    "SimpleStrategy" => "org.apache.cassandra.locator.SimpleStrategy".to_string(),
                    "NetworkTopologyStrategy" => {
                        "org.apache.cassandra.locator.NetworkTopologyStrategy".to_string()
                    }
                    "LocalStrategy" | "org.apache.cassandra.locator.LocalStrategy" => {
                        return Err(QueryError::Config(
                            "Unable to use given strategy class: LocalStrategy is reserved for internal use."
                                .into(),
                        ));
                    }
                    c if c.starts_with("org.apache.cassandra.locator.") => c.to_string(),
                    c => {
                        return Err(QueryError::Config(format!(
                            "Unable to find replication strategy class '{c}'"
                        )));
                    }
                };
                if class.ends_with("SimpleStrategy") {
                    let rf = map.get("replication_factor").ok_or_else(|| {
                        QueryError::Config(
                            "SimpleStrategy requires a replication_factor strategy option.".into(),
                        )
                    })?;
                    if rf.parse::<u32>().is_err() {
                        return Err(QueryError::Config(format!(
                            "Replication factor must be non-negative; found {rf}"
                        )));
                    }
                }
                for (k, v) in &map {
                    if class.ends_with("NetworkTopologyStrategy") && v.parse::<u32>().is_err() {
                        return Err(QueryError::Config(format!(
                            "Replication factor must be non-negative integer; found {v} for {k}"
                        )));
                    }
                }
                replication = Some(Replication { class, options: map });
            }
            "durable_writes" => {
                durable = Some(p.value.as_text().is_some_and(|t| t.eq_ignore_ascii_case("true")));
            }
            other => return Err(QueryError::Syntax(format!("Unknown property '{other}'"))),
        }
    }
    Ok((replication, durable))
}

fn created(target: SchemaChangeTarget) -> QueryResult {
    QueryResult::SchemaChange(SchemaChange {
        change_type: SchemaChangeType::Created,
        target,
    })
}

fn dropped(target: SchemaChangeTarget) -> QueryResult {
    QueryResult::SchemaChange(SchemaChange {
        change_type: SchemaChangeType::Dropped,
        target,
    })
}

fn updated(target: SchemaChangeTarget) -> QueryResult {
    QueryResult::SchemaChange(SchemaChange {
        change_type: SchemaChangeType::Updated,
        target,
    })
}

pub(crate) fn deny_system(ks: &str) -> Result<()> {
    if mica_schema::is_system_keyspace(ks)
        || matches!(ks, "system_auth" | "system_traces" | "system_distributed")
    {
        return Err(QueryError::Unauthorized(format!(
            "{ks} keyspace is not user-modifiable."
        )));
    }
    Ok(())
}

impl QueryEngine {
    pub(crate) fn keyspace_name(&self, state: &ClientState, explicit: &Option<String>) -> Result<String> {
        explicit.clone().or_else(|| state.keyspace.clone()).ok_or_else(|| {
            invalid("No keyspace has been specified. USE a keyspace, or explicitly specify keyspace.tablename")
        })
    }

    /// Executes a schema statement; `None` if the statement is not DDL.
    pub(crate) fn execute_ddl(
        &self,
        state: &mut ClientState,
        kind: &ast::StatementKind,
    ) -> Result<Option<QueryResult>> {
        use ast::StatementKind as K;
        let result = match kind {
            K::Use(ks) => {
                if self.schema().keyspace(ks).is_none() {
                    return Err(invalid(format!("Keyspace '{ks}' does not exist")));
                }
                state.keyspace = Some(ks.clone());
                QueryResult::SetKeyspace(ks.clone())
            }
            K::CreateKeyspace(c) => {
                let (replication, durable) = replication_from(&c.properties)?;
                let replication = replication
                    .ok_or_else(|| QueryError::Config("Missing mandatory option 'replication'".into()))?;
                deny_system(&c.name)?;
                let changed = self.change_schema(
                    |schema| {
                        if schema.keyspaces.contains_key(&c.name) {
                            if c.if_not_exists {
                                return Ok(false);
                            }
                            return Err(QueryError::AlreadyExists {
                                keyspace: c.name.clone(),
                                table: String::new(),
                                message: format!("Cannot add existing keyspace \"{}\"", c.name),
                            });
                        }
                        schema.keyspaces.insert(
                            c.name.clone(),
                            Arc::new(KeyspaceDef {
                                name: c.name.clone(),
                                replication: replication.clone(),
                                durable_writes: durable.unwrap_or(true),
                                tables: BTreeMap::new(),
                                types: BTreeMap::new(),
                                is_virtual: false,
                            }),
                        );
                        Ok(true)
                    },
                    Some(&c.name),
                )?;
                if !changed {
                    return Ok(Some(QueryResult::Void));
                }
                created(SchemaChangeTarget::Keyspace(c.name.clone()))
            }
            K::AlterKeyspace(a) => {
                let (replication, durable) = replication_from(&a.properties)?;
                let changed = self.change_schema(
                    |schema| {
                        let Some(ks) = schema.keyspaces.get_mut(&a.name) else {
                            if a.if_exists {
                                return Ok(false);
                            }
                            return Err(QueryError::Config(format!(
                                "Keyspace '{}' does not exist",
                                a.name
                            )));
                        };
                        if mica_schema::is_system_keyspace(&a.name) {
                            return Err(QueryError::Unauthorized(format!(
                                "{} keyspace is not user-modifiable.",
                                a.name
                            )));
                        }
                        let ks = Arc::make_mut(ks);
                        if let Some(r) = &replication {
                            ks.replication = r.clone();
                        }
                        if let Some(d) = durable {
                            ks.durable_writes = d;
                        }
                        Ok(true)
                    },
                    Some(&a.name),
                )?;
                if !changed {
                    return Ok(Some(QueryResult::Void));
                }
                updated(SchemaChangeTarget::Keyspace(a.name.clone()))
            }
            K::DropKeyspace { if_exists, name } => {
                deny_system(name)?;
                let mut tables = Vec::new();
                let changed = self.change_schema(
                    |schema| match schema.keyspaces.remove(name) {
                        Some(ks) => {
                            tables.extend(ks.tables.values().map(|t| t.id));
                            tables.extend(
                                ks.tables
                                    .values()
                                    .flat_map(|t| crate::index::storage_ids(t))
                                    .map(|i| i.0),
                            );
                            Ok(true)
                        }
                        None if *if_exists => Ok(false),
                        None => Err(QueryError::Config(format!("Keyspace '{name}' doesn't exist"))),
                    },
                    Some(name),
                )?;
                if !changed {
                    return Ok(Some(QueryResult::Void));
                }
                for id in tables {
                    self.storage.drop_table(mica_storage::TableId(id))?;
                }
                if state.keyspace.as_deref() == Some(name) {
                    state.keyspace = None;
                }
                dropped(SchemaChangeTarget::Keyspace(name.clone()))
            }
            K::CreateTable(c) => {
                let ks_name = self.keyspace_name(state, &c.name.keyspace)?;
                deny_system(&ks_name)?;
                let mut new_table = None;
                let changed = self.change_schema(
                    |schema| {
                        let ks = schema
                            .keyspaces
                            .get_mut(&ks_name)
                            .ok_or_else(|| invalid(format!("Keyspace '{ks_name}' does not exist")))?;
                        if ks.tables.contains_key(&c.name.name) {
                            if c.if_not_exists {
                                return Ok(false);
                            }
                            return Err(QueryError::AlreadyExists {
                                keyspace: ks_name.clone(),
                                table: c.name.name.clone(),
                                message: format!(
                                    "Cannot add already existing table \"{}\" to keyspace \"{}\"",
                                    c.name.name, ks_name
                                ),
                            });
                        }
                        let types = ks.types.clone();
                        let table = table_from_ast(&ks_name, c, Uuid::new_v4(), &|n| types.get(n).cloned())?;
                        let ks = Arc::make_mut(ks);
                        let table = Arc::new(table);
                        ks.tables.insert(table.name.clone(), table.clone());
                        new_table = Some(table);
                        Ok(true)
                    },
                    Some(&ks_name),
                )?;
                if !changed {
                    return Ok(Some(QueryResult::Void));
                }
                created(SchemaChangeTarget::Table {
                    keyspace: ks_name,
                    name: c.name.name.clone(),
                })
            }
            K::DropTable { if_exists, name } => {
                let ks_name = self.keyspace_name(state, &name.keyspace)?;
                deny_system(&ks_name)?;
                let mut dropped_id = None;
                let mut dropped_indexes = Vec::new();
                let changed = self.change_schema(
                    |schema| {
                        let Some(ks) = schema.keyspaces.get_mut(&ks_name) else {
                            if *if_exists {
                                return Ok(false);
                            }
                            return Err(invalid(format!("Keyspace '{ks_name}' does not exist")));
                        };
                        let ks = Arc::make_mut(ks);
                        match ks.tables.remove(&name.name) {
                            Some(t) => {
                                dropped_id = Some(t.id);
                                dropped_indexes = crate::index::storage_ids(&t);
                            }
                            None if *if_exists => return Ok(false),
                            None => {
                                return Err(invalid(format!(
                                    "Table '{}.{}' doesn't exist",
                                    ks_name, name.name
                                )));
                            }
                        }
                        Ok(true)
                    },
                    Some(&ks_name),
                )?;
                if !changed {
                    return Ok(Some(QueryResult::Void));
                }
                if let Some(id) = dropped_id {
                    self.storage.drop_table(mica_storage::TableId(id))?;
                }
                for id in dropped_indexes {
                    self.storage.drop_table(id)?;
                }
                dropped(SchemaChangeTarget::Table {
                    keyspace: ks_name,
                    name: name.name.clone(),
                })
            }
            K::Truncate(name) => {
                let ks_name = self.keyspace_name(state, &name.keyspace)?;
                let schema = self.schema();
                let table = schema.require_table(&ks_name, &name.name)?;
                if table.is_virtual {
                    return Err(invalid(format!(
                        "Cannot truncate virtual table {ks_name}.{}",
                        name.name
                    )));
                }
                self.storage.truncate_table(mica_storage::TableId(table.id))?;
                for id in crate::index::storage_ids(table) {
                    self.storage.truncate_table(id)?;
                }
                QueryResult::Void
            }
            K::CreateType(c) => {
                let ks_name = self.keyspace_name(state, &c.name.keyspace)?;
                deny_system(&ks_name)?;
                let changed = self.change_schema(
                    |schema| {
                        let ks = schema
                            .keyspaces
                            .get_mut(&ks_name)
                            .ok_or_else(|| invalid(format!("Keyspace '{ks_name}' does not exist")))?;
                        if ks.types.contains_key(&c.name.name) {
                            if c.if_not_exists {
                                return Ok(false);
                            }
                            return Err(QueryError::AlreadyExists {
                                keyspace: ks_name.clone(),
                                table: c.name.name.clone(),
                                message: format!("A user type with name '{}' already exists", c.name.name),
                            });
                        }
                        let types = ks.types.clone();
                        let mut fields = Vec::with_capacity(c.fields.len());
                        for (n, t) in &c.fields {
                            fields.push((n.clone(), resolve_inner(t, &|x| types.get(x).cloned())?));
                        }
                        let ks = Arc::make_mut(ks);
                        ks.types.insert(
                            c.name.name.clone(),
                            Arc::new(UdtDef {
                                keyspace: ks_name.clone(),
                                name: c.name.name.clone(),
                                fields,
                            }),
                        );
                        Ok(true)
                    },
                    Some(&ks_name),
                )?;
                if !changed {
                    return Ok(Some(QueryResult::Void));
                }
                created(SchemaChangeTarget::Type {
                    keyspace: ks_name,
                    name: c.name.name.clone(),
                })
            }
            K::DropType { if_exists, name } => {
                let ks_name = self.keyspace_name(state, &name.keyspace)?;
                deny_system(&ks_name)?;
                let changed = self.change_schema(
                    |schema| {
                        let Some(ks) = schema.keyspaces.get_mut(&ks_name) else {
                            return if *if_exists {
                                Ok(false)
                            } else {
                                Err(invalid(format!("Keyspace '{ks_name}' does not exist")))
                            };
                        };
                        if !ks.types.contains_key(&name.name) {
                            return if *if_exists {
                                Ok(false)
                            } else {
                                Err(invalid(format!("No user type named {} exists.", name.name)))
                            };
                        }
                        let used = ks.tables.values().any(|t| {
                            t.columns.iter().any(|c| {
                                c.typ
                                    .any_nested(&|x| matches!(x, CqlType::Udt(u) if u.name == name.name))
                            })
                        });
                        if used {
                            return Err(invalid(format!(
                                "Cannot drop user type {}.{} as it is still used by a table",
                                ks_name, name.name
                            )));
                        }
                        let ks = Arc::make_mut(ks);
                        ks.types.remove(&name.name);
                        Ok(true)
                    },
                    Some(&ks_name),
                )?;
                if !changed {
                    return Ok(Some(QueryResult::Void));
                }
                dropped(SchemaChangeTarget::Type {
                    keyspace: ks_name,
                    name: name.name.clone(),
                })
            }
            K::AlterTable(alter) => self.alter_table(state, alter)?,
            K::AlterType(alter) => self.alter_type(state, alter)?,
            K::CreateIndex(c) => self.create_index(state, c)?,
            K::DropIndex { if_exists, name } => self.drop_index(state, *if_exists, name)?,
            _ => return Ok(None),
        };
        Ok(Some(result))
    }

    /// Applies `change` to a copy of the schema under the DDL lock, persists the touched keyspace and
    /// publishes the new snapshot with a fresh version. Returns what `change` returned.
    pub(crate) fn change_schema(
        &self,
        change: impl FnOnce(&mut Schema) -> Result<bool>,
        keyspace: Option<&str>,
    ) -> Result<bool> {
        let _guard = self
            .ddl_lock
            .lock()
            .map_err(|_| QueryError::Server("schema lock poisoned".into()))?;
        let mut schema = (*self.schema()).clone();
        if !change(&mut schema)? {
            return Ok(false);
        }
        if let Some(ks) = keyspace {
            let key = format!("schema/keyspace/{ks}");
            match schema.keyspaces.get(ks) {
                Some(def) => {
                    for t in def.tables.values().filter(|t| !t.is_virtual) {
                        self.storage
                            .create_table(mica_storage::TableId(t.id), storage_options(t))?;
                    }
                    let doc = mica_schema::PersistedSchema::from_keyspace(def, |t| t.cql_name());
                    self.storage.put_meta(key.as_bytes(), &doc.to_json())?;
                }
                None => self.storage.delete_meta(key.as_bytes())?,
            }
            crate::schema_sync::record_modification(&*self.storage, ks)?;
        }
        schema.version = crate::schema_sync::content_version(&schema);
        self.storage
            .put_meta(b"schema/version", schema.version.as_bytes())?;
        let mut slot = self
            .schema
            .write()
            .map_err(|_| QueryError::Server("schema lock poisoned".into()))?;
        *slot = Arc::new(schema);
        Ok(true)
    }
}

/// The storage engine's view of a table's options.
pub(crate) fn storage_options(t: &TableDef) -> mica_storage::TableOptions {
    mica_storage::TableOptions {
        gc_grace_seconds: t.options.gc_grace_seconds.max(0) as u32,
        default_ttl: (t.options.default_time_to_live > 0).then_some(t.options.default_time_to_live as u32),
    }
}
