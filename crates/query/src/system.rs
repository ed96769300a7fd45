//! The node's own keyspaces: their table definitions (as CQL, parsed at start) and the rows of the
//! virtual tables (system.local, system.peers*, system_schema.*) generated from the schema snapshot.

use std::collections::BTreeMap;
use std::sync::Arc;

use mica_cql_types::{CqlType, CqlValue, to_bytes};
use mica_schema::{KeyspaceDef, Replication, Schema, TableDef, TableOptions};

use crate::engine::LocalInfo;
use crate::error::{QueryError, Result};

/// Definitions of the system tables, as Apache Cassandra 4.1 declares them.
const SYSTEM_TABLES: &[(&str, &str)] = &[
    (
        "system",
        "CREATE TABLE local (key text PRIMARY KEY, bootstrapped text, broadcast_address inet, broadcast_port int, cluster_name text, cql_version text, data_center text, gossip_generation int, host_id uuid, listen_address inet, listen_port int, native_protocol_version text, partitioner text, rack text, release_version text, rpc_address inet, rpc_port int, schema_version uuid, tokens set<text>, truncated_at map<uuid, blob>)",
    ),
    (
        "system",
        "CREATE TABLE peers (peer inet PRIMARY KEY, data_center text, host_id uuid, preferred_ip inet, rack text, release_version text, rpc_address inet, schema_version uuid, tokens set<text>)",
    ),
    (
        "system",
        "CREATE TABLE peers_v2 (peer inet, peer_port int, data_center text, host_id uuid, native_address inet, native_port int, preferred_ip inet, preferred_port int, rack text, release_version text, schema_version uuid, tokens set<text>, PRIMARY KEY ((peer), peer_port))",
    ),
    (
        "system_schema",
        "CREATE TABLE keyspaces (keyspace_name text PRIMARY KEY, durable_writes boolean, replication frozen<map<text, text>>)",
    ),
    (
        "system_schema",
        "CREATE TABLE tables (keyspace_name text, table_name text, additional_write_policy text, bloom_filter_fp_chance double, caching frozen<map<text, text>>, cdc boolean, comment text, compaction frozen<map<text, text>>, compression frozen<map<text, text>>, crc_check_chance double, dclocal_read_repair_chance double, default_time_to_live int, extensions frozen<map<text, blob>>, flags frozen<set<text>>, gc_grace_seconds int, id uuid, max_index_interval int, memtable_flush_period_in_ms int, min_index_interval int, read_repair text, read_repair_chance double, speculative_retry text, PRIMARY KEY ((keyspace_name), table_name))",
    ),
    (
        "system_schema",
        "CREATE TABLE columns (keyspace_name text, table_name text, column_name text, clustering_order text, column_name_bytes blob, kind text, position int, type text, PRIMARY KEY ((keyspace_name), table_name, column_name))",
    ),
    (
        "system_schema",
        "CREATE TABLE dropped_columns (keyspace_name text, table_name text, column_name text, dropped_time timestamp, kind text, type text, PRIMARY KEY ((keyspace_name), table_name, column_name))",
    ),
    (
        "system_schema",
        "CREATE TABLE triggers (keyspace_name text, table_name text, trigger_name text, options frozen<map<text, text>>, PRIMARY KEY ((keyspace_name), table_name, trigger_name))",
    ),
    (
        "system_schema",
        "CREATE TABLE views (keyspace_name text, view_name text, additional_write_policy text, base_table_id uuid, base_table_name text, bloom_filter_fp_chance double, caching frozen<map<text, text>>, cdc boolean, comment text, compaction frozen<map<text, text>>, compression frozen<map<text, text>>, crc_check_chance double, dclocal_read_repair_chance double, default_time_to_live int, extensions frozen<map<text, blob>>, gc_grace_seconds int, id uuid, include_all_columns boolean, max_index_interval int, memtable_flush_period_in_ms int, min_index_interval int, read_repair text, read_repair_chance double, speculative_retry text, where_clause text, PRIMARY KEY ((keyspace_name), view_name))",
    ),
    (
        "system_schema",
        "CREATE TABLE types (keyspace_name text, type_name text, field_names frozen<list<text>>, field_types frozen<list<text>>, PRIMARY KEY ((keyspace_name), type_name))",
    ),
    (
        "system_schema",
        "CREATE TABLE functions (keyspace_name text, function_name text, argument_types frozen<list<text>>, argument_names frozen<list<text>>, body text, called_on_null_input boolean, language text, return_type text, PRIMARY KEY ((keyspace_name), function_name, argument_types))",
    ),
    (
        "system_schema",
        "CREATE TABLE aggregates (keyspace_name text, aggregate_name text, argument_types frozen<list<text>>, final_func text, initcond text, return_type text, state_func text, state_type text, PRIMARY KEY ((keyspace_name), aggregate_name, argument_types))",
    ),
    (
        "system_schema",
        "CREATE TABLE indexes (keyspace_name text, table_name text, index_name text, kind text, options frozen<map<text, text>>, PRIMARY KEY ((keyspace_name), table_name, index_name))",
    ),
    (
        "system_auth",
        "CREATE TABLE roles (role text PRIMARY KEY, can_login boolean, is_superuser boolean, member_of set<text>, salted_hash text)",
    ),
    (
        "system_auth",
        "CREATE TABLE role_members (role text, member text, PRIMARY KEY (role, member))",
    ),
    (
        "system_auth",
        "CREATE TABLE role_permissions (role text, resource text, permissions set<text>, PRIMARY KEY (role, resource))",
    ),
    (
        "system_auth",
        "CREATE TABLE resource_role_permissons_index (resource text, role text, PRIMARY KEY (resource, role))",
    ),
    (
        "system_auth",
        "CREATE TABLE network_permissions (role text PRIMARY KEY, dcs frozen<set<text>>)",
    ),
    (
        "system_traces",
        "CREATE TABLE sessions (session_id uuid PRIMARY KEY, client inet, command text, coordinator inet, coordinator_port int, duration int, parameters map<text, text>, request text, started_at timestamp)",
    ),
    (
        "system_traces",
        "CREATE TABLE events (session_id uuid, event_id timeuuid, activity text, source inet, source_elapsed int, source_port int, thread text, PRIMARY KEY ((session_id), event_id))",
    ),
    (
        "system_distributed",
        "CREATE TABLE repair_history (keyspace_name text, columnfamily_name text, id timeuuid, coordinator inet, coordinator_port int, exception_message text, exception_stacktrace text, finished_at timestamp, options map<text, text>, parent_id timeuuid, participants set<inet>, participants_v2 set<text>, range_begin text, range_end text, started_at timestamp, status text, PRIMARY KEY ((keyspace_name, columnfamily_name), id))",
    ),
    (
        "system_distributed",
        "CREATE TABLE view_build_status (keyspace_name text, view_name text, host_id uuid, status text, PRIMARY KEY ((keyspace_name, view_name), host_id))",
    ),
];

/// Keyspaces whose tables are generated from node state rather than stored.
fn is_virtual_table(keyspace: &str, table: &str) -> bool {
    keyspace == "system_schema" || (keyspace == "system" && matches!(table, "local" | "peers" | "peers_v2"))
}

/// A deterministic table id for a system table, so stored system tables keep their data across restarts.
fn system_table_id(keyspace: &str, table: &str) -> uuid::Uuid {
    let name = format!("{keyspace}.{table}");
    let a = mica_types::murmur3_token(name.as_bytes()) as u64;
    let b = mica_types::murmur3_token(format!("mica:{name}").as_bytes()) as u64;
    uuid::Builder::from_bytes(uuid::Uuid::from_u64_pair(a, b).into_bytes())
        .with_version(uuid::Version::Md5)
        .into_uuid()
}

/// Builds the system keyspaces with their tables.
pub(crate) fn system_keyspaces() -> Result<Vec<KeyspaceDef>> {
    let mut keyspaces: BTreeMap<&str, KeyspaceDef> = BTreeMap::new();
    for (ks, replication) in [
        ("system", Replication::local()),
        ("system_schema", Replication::local()),
        ("system_auth", Replication::simple(1)),
        ("system_traces", Replication::simple(2)),
        ("system_distributed", Replication::simple(3)),
    ] {
        keyspaces.insert(
            ks,
            KeyspaceDef {
                name: ks.to_string(),
                replication,
                durable_writes: true,
                tables: BTreeMap::new(),
                types: BTreeMap::new(),
                is_virtual: false,
            },
        );
    }
    for (ks, ddl) in SYSTEM_TABLES {
        let statement = mica_cql_syntax::parse_statement(ddl)
            .map_err(|e| QueryError::Server(format!("system table definition: {e}")))?;
        let mica_cql_syntax::StatementKind::CreateTable(create) = statement.kind else {
            return Err(QueryError::Server(
                "system table definition is not CREATE TABLE".into(),
            ));
        };
        let keyspace = keyspaces
            .get_mut(ks)
            .ok_or_else(|| QueryError::Server(format!("no keyspace {ks}")))?;
        let id = system_table_id(ks, &create.name.name);
        let mut table = crate::ddl::table_from_ast(ks, &create, id, &|_| None)?;
        table.options = TableOptions::cassandra_defaults();
        table.options.gc_grace_seconds = if *ks == "system" || *ks == "system_schema" {
            0
        } else {
            7_776_000
        };
        table.is_virtual = is_virtual_table(ks, &table.name);
        keyspace.tables.insert(table.name.clone(), Arc::new(table));
    }
    Ok(keyspaces.into_values().collect())
}

/// Serializes `value` as `ty`; system table values are always well-typed, so failures become server errors.
fn ser(value: CqlValue, ty: &CqlType) -> Option<Vec<u8>> {
    to_bytes(&value, ty).ok()
}

fn text(s: &str) -> CqlValue {
    CqlValue::Text(s.to_string())
}

fn text_map(map: &BTreeMap<String, String>) -> CqlValue {
    CqlValue::Map(map.iter().map(|(k, v)| (text(k), text(v))).collect())
}

/// All rows of a virtual table, each a full row in the table's column order.
pub(crate) fn virtual_rows(
    table: &TableDef,
    schema: &Schema,
    local: &LocalInfo,
    compat: crate::compat::Compatibility,
) -> Result<Vec<Vec<Option<Vec<u8>>>>> {
    let mut rows = Vec::new();
    let mut push = |values: Vec<(&str, Option<CqlValue>)>| {
        let row = table
            .columns
            .iter()
            .map(|c| {
                values
                    .iter()
                    .find(|(name, _)| *name == c.name)
                    .and_then(|(_, v)| v.clone())
                    .and_then(|v| ser(v, &c.typ))
            })
            .collect();
        rows.push(row);
    };
    match (table.keyspace.as_str(), table.name.as_str()) {
        ("system", "local") => {
            let tokens = CqlValue::Set({
                let mut t: Vec<String> = local.tokens.iter().map(|t| t.to_string()).collect();
                t.sort();
                t.into_iter().map(CqlValue::Text).collect()
            });
            push(vec![
                ("key", Some(text("local"))),
                ("bootstrapped", Some(text("COMPLETED"))),
                ("broadcast_address", Some(CqlValue::Inet(local.broadcast_address))),
                ("broadcast_port", Some(CqlValue::Int(local.storage_port.into()))),
                ("cluster_name", Some(text(&local.cluster_name))),
                ("cql_version", Some(text(compat.cql_version()))),
                ("data_center", Some(text(&local.data_center))),
                ("gossip_generation", Some(CqlValue::Int(0))),
                ("host_id", Some(CqlValue::Uuid(local.host_id))),
                ("listen_address", Some(CqlValue::Inet(local.listen_address))),
                ("listen_port", Some(CqlValue::Int(local.storage_port.into()))),
                (
                    "native_protocol_version",
                    Some(text(compat.native_protocol_version())),
                ),
                (
                    "partitioner",
                    Some(text("org.apache.cassandra.dht.Murmur3Partitioner")),
                ),
                ("rack", Some(text(&local.rack))),
                ("release_version", Some(text(&local.release_version))),
                ("rpc_address", Some(CqlValue::Inet(local.rpc_address))),
                ("rpc_port", Some(CqlValue::Int(local.native_port.into()))),
                ("schema_version", Some(CqlValue::Uuid(schema.version))),
                ("tokens", Some(tokens)),
            ]);
        }
        ("system", "peers") | ("system", "peers_v2") => {}
        ("system_schema", "keyspaces") => {
            for ks in schema.keyspaces.values() {
                push(vec![
                    ("keyspace_name", Some(text(&ks.name))),
                    ("durable_writes", Some(CqlValue::Boolean(ks.durable_writes))),
                    ("replication", Some(text_map(&ks.replication.as_map()))),
                ]);
            }
        }
        ("system_schema", "tables") => {
            for ks in schema.keyspaces.values() {
                for t in ks.tables.values() {
                    let o = &t.options;
                    push(vec![
                        ("keyspace_name", Some(text(&ks.name))),
                        ("table_name", Some(text(&t.name))),
                        ("additional_write_policy", Some(text(&o.additional_write_policy))),
                        (
                            "bloom_filter_fp_chance",
                            Some(CqlValue::Double(o.bloom_filter_fp_chance)),
                        ),
                        ("caching", Some(text_map(&o.caching))),
                        ("cdc", Some(CqlValue::Boolean(o.cdc))),
                        ("comment", Some(text(&o.comment))),
                        ("compaction", Some(text_map(&o.compaction))),
                        ("compression", Some(text_map(&o.compression))),
                        ("crc_check_chance", Some(CqlValue::Double(o.crc_check_chance))),
                        ("dclocal_read_repair_chance", Some(CqlValue::Double(0.0))),
                        (
                            "default_time_to_live",
                            Some(CqlValue::Int(o.default_time_to_live)),
                        ),
                        (
                            "extensions",
                            Some(CqlValue::Map(
                                o.extensions
                                    .iter()
                                    .map(|(k, v)| (text(k), CqlValue::Blob(v.clone())))
                                    .collect(),
                            )),
                        ),
                        (
                            "flags",
                            Some(CqlValue::Set(if t.is_counter {
                                vec![text("compound"), text("counter")]
                            } else {
                                vec![text("compound")]
                            })),
                        ),
                        ("gc_grace_seconds", Some(CqlValue::Int(o.gc_grace_seconds))),
                        ("id", Some(CqlValue::Uuid(t.id))),
                        ("max_index_interval", Some(CqlValue::Int(o.max_index_interval))),
                        (
                            "memtable_flush_period_in_ms",
                            Some(CqlValue::Int(o.memtable_flush_period_in_ms)),
                        ),
                        ("min_index_interval", Some(CqlValue::Int(o.min_index_interval))),
                        ("read_repair", Some(text(&o.read_repair))),
                        ("read_repair_chance", Some(CqlValue::Double(0.0))),
                        ("speculative_retry", Some(text(&o.speculative_retry))),
                    ]);
                }
            }
        }
        ("system_schema", "columns") => {
            for ks in schema.keyspaces.values() {
                for t in ks.tables.values() {
                    for c in &t.columns {
                        push(vec![
                            ("keyspace_name", Some(text(&ks.name))),
                            ("table_name", Some(text(&t.name))),
                            ("column_name", Some(text(&c.name))),
                            ("clustering_order", Some(text(c.clustering_order()))),
                            (
                                "column_name_bytes",
                                Some(CqlValue::Blob(c.name.as_bytes().to_vec())),
                            ),
                            ("kind", Some(text(c.kind.as_str()))),
                            ("position", Some(CqlValue::Int(c.position))),
                            ("type", Some(text(&c.typ.cql_name()))),
                        ]);
                    }
                }
            }
        }
        ("system_schema", "dropped_columns") => {
            for ks in schema.keyspaces.values() {
                for t in ks.tables.values() {
                    for d in &t.dropped_columns {
                        push(vec![
                            ("keyspace_name", Some(text(&ks.name))),
                            ("table_name", Some(text(&t.name))),
                            ("column_name", Some(text(&d.name))),
                            (
                                "dropped_time",
                                Some(CqlValue::Timestamp(d.dropped_at_micros / 1000)),
                            ),
                            ("kind", Some(text("regular"))),
                            ("type", Some(text(&d.typ.cql_name()))),
                        ]);
                    }
                }
            }
        }
        ("system_schema", "types") => {
            for ks in schema.keyspaces.values() {
                for ty in ks.types.values() {
                    push(vec![
                        ("keyspace_name", Some(text(&ks.name))),
                        ("type_name", Some(text(&ty.name))),
                        (
                            "field_names",
                            Some(CqlValue::List(ty.fields.iter().map(|(n, _)| text(n)).collect())),
                        ),
                        (
                            "field_types",
                            Some(CqlValue::List(
                                ty.fields.iter().map(|(_, t)| text(&t.cql_name())).collect(),
                            )),
                        ),
                    ]);
                }
            }
        }
        ("system_schema", "indexes") => {
            for ks in schema.keyspaces.values() {
                for t in ks.tables.values() {
                    for i in &t.indexes {
                        push(vec![
                            ("keyspace_name", Some(text(&ks.name))),
                            ("table_name", Some(text(&t.name))),
                            ("index_name", Some(text(&i.name))),
                            ("kind", Some(text(&i.kind))),
                            ("options", Some(text_map(&i.options))),
                        ]);
                    }
                }
            }
        }
        // triggers, views, functions, aggregates: none defined yet.
        _ => {}
    }
    Ok(rows)
}
