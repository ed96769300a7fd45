//! Server-side DESCRIBE, as Cassandra 4.1 implements it: name listings, CREATE statements rebuilt from the
//! schema snapshot with Cassandra's exact formatting, and DESCRIBE CLUSTER.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use bytes::Bytes;
use mica_cql_protocol::{ColumnSpec, RowsMetadata};
use mica_cql_syntax::{Describe, DescribeTarget, QualifiedName, quote_identifier};
use mica_cql_types::{CqlType, CqlValue, UdtDef, to_bytes};
use mica_schema::{ColumnDef, ColumnKind, IndexDef, KeyspaceDef, Schema, TableDef, TableOptions};

use crate::engine::{ClientState, LocalInfo, QueryEngine, QueryResult};
use crate::error::{Result, invalid};

/// The pseudo table DESCRIBE results claim to come from, as in Cassandra.
const RESULT_KEYSPACE: &str = "system";
const RESULT_TABLE: &str = "describe";
/// The partitioner and snitch Cassandra reports with its default configuration (the configured snitch is
/// wrapped in the dynamic snitch unless `dynamic_snitch: false`); package prefixes are trimmed as Cassandra does.
const PARTITIONER: &str = "Murmur3Partitioner";
const SNITCH: &str = "DynamicEndpointSnitch";
/// Indentation of one nesting level in generated CQL (Cassandra's `CqlBuilder`).
const INDENT: &str = "    ";

/// Keyspaces Cassandra treats as system keyspaces: left out of DESCRIBE SCHEMA and of range ownership.
fn is_system_keyspace(name: &str) -> bool {
    mica_schema::is_system_keyspace(name)
        || matches!(
            name,
            "system_auth" | "system_traces" | "system_distributed" | "system_views" | "system_virtual_schema"
        )
}

/// What kind of schema element a DESCRIBE row is about (`SchemaElementType` in Cassandra).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ElementType {
    Keyspace,
    Type,
    Table,
    Index,
}

impl ElementType {
    fn as_str(self) -> &'static str {
        match self {
            ElementType::Keyspace => "keyspace",
            ElementType::Type => "type",
            ElementType::Table => "table",
            ElementType::Index => "index",
        }
    }
}

/// One schema element: the first three columns of every DESCRIBE row, plus its CREATE statement.
struct Element {
    keyspace: String,
    kind: ElementType,
    name: String,
    create: String,
}

impl Element {
    fn new(keyspace: &str, kind: ElementType, name: &str, create: String) -> Element {
        Element {
            keyspace: keyspace.to_string(),
            kind,
            name: name.to_string(),
            create,
        }
    }
}

/// Cassandra's `SchemaElement.NAME_COMPARATOR`: names compared ignoring case.
fn by_name(a: &str, b: &str) -> Ordering {
    a.chars()
        .flat_map(char::to_lowercase)
        .cmp(b.chars().flat_map(char::to_lowercase))
}

impl QueryEngine {
    /// Executes a DESCRIBE statement against the current schema snapshot.
    pub(crate) fn run_describe(&self, state: &ClientState, describe: &Describe) -> Result<QueryResult> {
        let schema = self.schema();
        let internals = describe.with_internals;
        let current = state.keyspace.as_deref();
        match &describe.target {
            DescribeTarget::Cluster => Ok(describe_cluster(&schema, &self.local, current)),
            DescribeTarget::Keyspaces => {
                let mut names: Vec<&KeyspaceDef> = schema.keyspaces.values().map(|k| &**k).collect();
                names.sort_by(|a, b| by_name(&a.name, &b.name));
                Ok(listing(names.into_iter().map(|k| {
                    (k.name.as_str(), ElementType::Keyspace, k.name.as_str())
                })))
            }
            DescribeTarget::Tables => {
                let keyspaces = listed_keyspaces(&schema, current)?;
                let mut rows = Vec::new();
                for ks in keyspaces {
                    let mut tables: Vec<&str> = ks.tables.keys().map(String::as_str).collect();
                    tables.sort_by(|a, b| by_name(a, b));
                    rows.extend(
                        tables
                            .into_iter()
                            .map(|t| (ks.name.as_str(), ElementType::Table, t)),
                    );
                }
                Ok(listing(rows.into_iter()))
            }
            DescribeTarget::Types => {
                let keyspaces = listed_keyspaces(&schema, current)?;
                let mut rows = Vec::new();
                for ks in keyspaces {
                    let mut types: Vec<&str> = ks.types.keys().map(String::as_str).collect();
                    types.sort_by(|a, b| by_name(a, b));
                    rows.extend(
                        types
                            .into_iter()
                            .map(|t| (ks.name.as_str(), ElementType::Type, t)),
                    );
                }
                Ok(listing(rows.into_iter()))
            }
            // Mica has no user-defined functions or aggregates yet, so the listings are empty, but still
            // validate the current keyspace as Cassandra does.
            DescribeTarget::Functions | DescribeTarget::Aggregates => {
                listed_keyspaces(&schema, current)?;
                Ok(listing(std::iter::empty()))
            }
            DescribeTarget::Schema { full } => {
                let mut keyspaces: Vec<&KeyspaceDef> = schema
                    .keyspaces
                    .values()
                    .map(|k| &**k)
                    .filter(|k| *full || !is_system_keyspace(&k.name))
                    .collect();
                keyspaces.sort_by(|a, b| by_name(&a.name, &b.name));
                let mut out = Vec::new();
                for ks in keyspaces {
                    keyspace_elements(ks, false, internals, &mut out);
                }
                Ok(elements(out))
            }
            DescribeTarget::Keyspace { only, name } => {
                let ks = element_keyspace(&schema, name.as_deref(), current)?;
                let mut out = Vec::new();
                keyspace_elements(ks, *only, internals, &mut out);
                Ok(elements(out))
            }
            DescribeTarget::Table(name) => {
                let ks = element_keyspace(&schema, name.keyspace.as_deref(), current)?;
                Ok(elements(table_or_error(ks, &name.name, internals)?))
            }
            DescribeTarget::Type(name) => {
                let ks = element_keyspace(&schema, name.keyspace.as_deref(), current)?;
                let ty = ks.types.get(&name.name).ok_or_else(|| {
                    invalid(format!(
                        "User defined type '{}' not found in '{}'",
                        name.name, ks.name
                    ))
                })?;
                Ok(elements(vec![type_element(ty)]))
            }
            DescribeTarget::Function(name) => {
                let ks = element_keyspace(&schema, name.keyspace.as_deref(), current)?;
                Err(invalid(format!(
                    "User defined function '{}' not found in '{}'",
                    name.name, ks.name
                )))
            }
            DescribeTarget::Aggregate(name) => {
                let ks = element_keyspace(&schema, name.keyspace.as_deref(), current)?;
                Err(invalid(format!(
                    "User defined aggregate '{}' not found in '{}'",
                    name.name, ks.name
                )))
            }
            DescribeTarget::Index(name) => {
                let ks = element_keyspace(&schema, name.keyspace.as_deref(), current)?;
                Ok(elements(vec![index_or_error(ks, &name.name)?]))
            }
            DescribeTarget::MaterializedView(name) => {
                let ks = element_keyspace(&schema, name.keyspace.as_deref(), current)?;
                Err(invalid(format!(
                    "Materialized view '{}' not found in '{}'",
                    name.name, ks.name
                )))
            }
            DescribeTarget::Name(name) => describe_generic(&schema, name, current, internals),
        }
    }
}

/// `DESCRIBE name`: a keyspace, else a table, an index or a view of the given or current keyspace.
fn describe_generic(
    schema: &Schema,
    name: &QualifiedName,
    current: Option<&str>,
    internals: bool,
) -> Result<QueryResult> {
    let ks_name = match &name.keyspace {
        Some(ks) => ks.as_str(),
        None => {
            if let Some(ks) = schema.keyspace(&name.name) {
                let mut out = Vec::new();
                keyspace_elements(ks, false, internals, &mut out);
                return Ok(elements(out));
            }
            current.unwrap_or(&name.name)
        }
    };
    let ks = require_keyspace(schema, ks_name)?;
    if ks.tables.contains_key(&name.name) {
        return Ok(elements(table_or_error(ks, &name.name, internals)?));
    }
    if ks
        .tables
        .values()
        .any(|t| t.indexes.iter().any(|i| i.name == name.name))
    {
        return Ok(elements(vec![index_or_error(ks, &name.name)?]));
    }
    Err(invalid(format!(
        "'{}' not found in keyspace '{}'",
        name.name, ks.name
    )))
}

fn require_keyspace<'s>(schema: &'s Schema, name: &str) -> Result<&'s KeyspaceDef> {
    schema
        .keyspace(name)
        .map(|k| &**k)
        .ok_or_else(|| invalid(format!("'{name}' not found in keyspaces")))
}

/// The keyspace of a single-element DESCRIBE: the named one, else the current one.
fn element_keyspace<'s>(
    schema: &'s Schema,
    name: Option<&str>,
    current: Option<&str>,
) -> Result<&'s KeyspaceDef> {
    let name = name
        .or(current)
        .ok_or_else(|| invalid("No keyspace specified and no current keyspace"))?;
    require_keyspace(schema, name)
}

/// Keyspaces a listing covers: the current keyspace only, or all of them by name.
fn listed_keyspaces<'s>(schema: &'s Schema, current: Option<&str>) -> Result<Vec<&'s KeyspaceDef>> {
    if let Some(ks) = current {
        return Ok(vec![require_keyspace(schema, ks)?]);
    }
    let mut all: Vec<&KeyspaceDef> = schema.keyspaces.values().map(|k| &**k).collect();
    all.sort_by(|a, b| by_name(&a.name, &b.name));
    Ok(all)
}

fn table_or_error(ks: &KeyspaceDef, name: &str, internals: bool) -> Result<Vec<Element>> {
    let table = ks
        .tables
        .get(name)
        .ok_or_else(|| invalid(format!("Table '{name}' not found in keyspace '{}'", ks.name)))?;
    let mut out = vec![Element::new(
        &ks.name,
        ElementType::Table,
        &table.name,
        table_cql(table, ks.is_virtual, internals),
    )];
    out.extend(index_elements(table));
    Ok(out)
}

fn index_or_error(ks: &KeyspaceDef, name: &str) -> Result<Element> {
    ks.tables
        .values()
        .find_map(|t| {
            t.indexes
                .iter()
                .find(|i| i.name == name)
                .map(|i| Element::new(&ks.name, ElementType::Index, &i.name, index_cql(t, i)))
        })
        .ok_or_else(|| {
            invalid(format!(
                "Table for existing index '{name}' not found in '{}'",
                ks.name
            ))
        })
}

/// A keyspace followed (unless `only`) by its types, then each table with its indexes, as Cassandra orders them.
fn keyspace_elements(ks: &KeyspaceDef, only: bool, internals: bool, out: &mut Vec<Element>) {
    out.push(Element::new(
        &ks.name,
        ElementType::Keyspace,
        &ks.name,
        keyspace_cql(ks),
    ));
    if only {
        return;
    }
    out.extend(sorted_types(ks).into_iter().map(type_element));
    let mut tables: Vec<&TableDef> = ks.tables.values().map(|t| &**t).collect();
    tables.sort_by(|a, b| by_name(&a.name, &b.name));
    for t in tables {
        out.push(Element::new(
            &ks.name,
            ElementType::Table,
            &t.name,
            table_cql(t, ks.is_virtual, internals),
        ));
        out.extend(index_elements(t));
    }
}

fn index_elements(table: &TableDef) -> Vec<Element> {
    let mut indexes: Vec<&IndexDef> = table.indexes.iter().collect();
    indexes.sort_by(|a, b| by_name(&a.name, &b.name));
    indexes
        .into_iter()
        .map(|i| Element::new(&table.keyspace, ElementType::Index, &i.name, index_cql(table, i)))
        .collect()
}

fn type_element(ty: &std::sync::Arc<UdtDef>) -> Element {
    Element::new(&ty.keyspace, ElementType::Type, &ty.name, type_cql(ty))
}

/// User types ordered so that every type comes after the types it uses, otherwise by name.
fn sorted_types(ks: &KeyspaceDef) -> Vec<&std::sync::Arc<UdtDef>> {
    fn uses(ty: &CqlType, name: &str) -> bool {
        ty.any_nested(&|t| matches!(t, CqlType::Udt(u) if u.name == name))
    }
    let mut pending: Vec<&std::sync::Arc<UdtDef>> = ks.types.values().collect();
    pending.sort_by(|a, b| by_name(&a.name, &b.name));
    let mut ordered: Vec<&std::sync::Arc<UdtDef>> = Vec::with_capacity(pending.len());
    while !pending.is_empty() {
        let ready = pending.iter().position(|t| {
            pending
                .iter()
                .filter(|o| o.name != t.name)
                .all(|o| !t.fields.iter().any(|(_, f)| uses(f, &o.name)))
        });
        // DDL cannot create a cycle; should one exist anyway, emit the rest in name order.
        let next = ready.unwrap_or(0);
        ordered.push(pending.remove(next));
    }
    ordered
}

fn text_cell(s: &str) -> Option<Bytes> {
    Some(Bytes::from(s.as_bytes().to_vec()))
}

fn spec(name: &str, typ: CqlType) -> ColumnSpec {
    ColumnSpec {
        keyspace: RESULT_KEYSPACE.into(),
        table: RESULT_TABLE.into(),
        name: name.into(),
        typ,
    }
}

/// The rows of a name listing: `keyspace_name, type, name`.
fn listing<'a>(rows: impl Iterator<Item = (&'a str, ElementType, &'a str)>) -> QueryResult {
    let rows = rows
        .map(|(ks, kind, name)| {
            vec![
                text_cell(&quote_identifier(ks)),
                text_cell(kind.as_str()),
                text_cell(&quote_identifier(name)),
            ]
        })
        .collect();
    QueryResult::Rows {
        metadata: RowsMetadata::new(vec![
            spec("keyspace_name", CqlType::Varchar),
            spec("type", CqlType::Varchar),
            spec("name", CqlType::Varchar),
        ]),
        rows,
    }
}

/// The rows of element descriptions: `keyspace_name, type, name, create_statement`.
fn elements(list: Vec<Element>) -> QueryResult {
    let rows = list
        .into_iter()
        .map(|e| {
            vec![
                text_cell(&quote_identifier(&e.keyspace)),
                text_cell(e.kind.as_str()),
                text_cell(&quote_identifier(&e.name)),
                text_cell(&e.create),
            ]
        })
        .collect();
    QueryResult::Rows {
        metadata: RowsMetadata::new(vec![
            spec("keyspace_name", CqlType::Varchar),
            spec("type", CqlType::Varchar),
            spec("name", CqlType::Varchar),
            spec("create_statement", CqlType::Varchar),
        ]),
        rows,
    }
}

/// DESCRIBE CLUSTER: name, partitioner and snitch, plus the token ranges this node owns when a
/// non-system keyspace is in use.
fn describe_cluster(schema: &Schema, local: &LocalInfo, current: Option<&str>) -> QueryResult {
    let mut specs = vec![
        spec("cluster", CqlType::Varchar),
        spec("partitioner", CqlType::Varchar),
        spec("snitch", CqlType::Varchar),
    ];
    let mut row = vec![
        text_cell(&local.cluster_name),
        text_cell(PARTITIONER),
        text_cell(SNITCH),
    ];
    let with_ranges = current.is_some_and(|ks| !is_system_keyspace(ks) && schema.keyspace(ks).is_some());
    if with_ranges {
        let typ = CqlType::Map(
            Box::new(CqlType::Varchar),
            Box::new(CqlType::Frozen(Box::new(CqlType::List(Box::new(
                CqlType::Varchar,
            ))))),
        );
        // Every range ends at one of this node's tokens, and this single node replicates all of them.
        let endpoint = format!("{}:{}", local.broadcast_address, local.storage_port);
        let mut ends: Vec<String> = local.tokens.iter().map(i64::to_string).collect();
        ends.sort();
        let map = CqlValue::Map(
            ends.into_iter()
                .map(|t| {
                    (
                        CqlValue::Text(t),
                        CqlValue::List(vec![CqlValue::Text(endpoint.clone())]),
                    )
                })
                .collect(),
        );
        row.push(to_bytes(&map, &typ).ok().map(Bytes::from));
        specs.push(spec("range_ownership", typ));
    }
    QueryResult::Rows {
        metadata: RowsMetadata::new(specs),
        rows: vec![row],
    }
}

/// Formats a double as Java's `Double.toString` does (`0.01`, `1.0`, `1.0E-5`), which is how
/// Cassandra prints numeric table options.
pub(crate) fn java_double(d: f64) -> String {
    if d.is_nan() {
        return "NaN".into();
    }
    if d.is_infinite() {
        return if d > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    if d == 0.0 {
        return if d.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    let magnitude = d.abs();
    if (1e-3..1e7).contains(&magnitude) {
        let s = format!("{d}");
        return if s.contains('.') { s } else { format!("{s}.0") };
    }
    // Computerized scientific notation: one digit before the point, at least one after, `E` exponent.
    let s = format!("{d:e}");
    let (mantissa, exponent) = s.split_once('e').unwrap_or((&s, "0"));
    let mantissa = if mantissa.contains('.') {
        mantissa.to_string()
    } else {
        format!("{mantissa}.0")
    };
    format!("{mantissa}E{exponent}")
}

/// `'text'` with single quotes doubled.
fn single_quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A `{'k': 'v', ...}` map in key order, as Cassandra's `CqlBuilder` prints option maps.
fn quoted_map(map: &BTreeMap<String, String>) -> String {
    let entries: Vec<String> = map
        .iter()
        .map(|(k, v)| format!("{}: {}", single_quoted(k), single_quoted(v)))
        .collect();
    format!("{{{}}}", entries.join(", "))
}

/// `ks.name` with each part quoted when needed.
fn qualified(keyspace: &str, name: &str) -> String {
    format!("{}.{}", quote_identifier(keyspace), quote_identifier(name))
}

/// CREATE KEYSPACE, exactly as Cassandra 4.1 prints it (note the two spaces before AND).
pub(crate) fn keyspace_cql(ks: &KeyspaceDef) -> String {
    if ks.is_virtual {
        return format!(
            "/*\nWarning: Keyspace {name} is a virtual keyspace and cannot be recreated with CQL.\nStructure, for reference:\nVIRTUAL KEYSPACE {name};\n*/",
            name = quote_identifier(&ks.name)
        );
    }
    let class = ks
        .replication
        .class
        .strip_prefix("org.apache.cassandra.locator.")
        .unwrap_or(&ks.replication.class);
    let mut replication = format!("{{'class': {}", single_quoted(class));
    for (k, v) in &ks.replication.options {
        let _ = write!(replication, ", {}: {}", single_quoted(k), single_quoted(v));
    }
    replication.push('}');
    format!(
        "CREATE KEYSPACE {} WITH replication = {replication}  AND durable_writes = {};",
        quote_identifier(&ks.name),
        ks.durable_writes
    )
}

/// CREATE TYPE with one field per line.
pub(crate) fn type_cql(ty: &UdtDef) -> String {
    let fields: Vec<String> = ty
        .fields
        .iter()
        .map(|(n, t)| format!("{INDENT}{} {}", quote_identifier(n), t.cql_name()))
        .collect();
    format!(
        "CREATE TYPE {} (\n{}\n);",
        qualified(&ty.keyspace, &ty.name),
        fields.join(",\n")
    )
}

/// CREATE [CUSTOM] INDEX for one index of `table`.
pub(crate) fn index_cql(table: &TableDef, index: &IndexDef) -> String {
    let mut options = index.options.clone();
    let target = options.remove("target").unwrap_or_default();
    let on = qualified(&table.keyspace, &table.name);
    let name = quote_identifier(&index.name);
    if index.kind.eq_ignore_ascii_case("CUSTOM") {
        let class = options.remove("class_name").unwrap_or_default();
        let mut out = format!(
            "CREATE CUSTOM INDEX {name} ON {on} ({target}) USING {}",
            single_quoted(&class)
        );
        if !options.is_empty() {
            let _ = write!(out, " WITH OPTIONS = {}", quoted_map(&options));
        }
        out.push(';');
        out
    } else {
        format!("CREATE INDEX {name} ON {on} ({target});")
    }
}

/// Value columns in Cassandra's create order: static columns before regular ones, and within each
/// group simple (single-cell) columns before multi-cell collections and UDTs, then by name.
fn value_columns_in_create_order(table: &TableDef) -> Vec<&ColumnDef> {
    let mut columns: Vec<&ColumnDef> = table.value_columns().collect();
    columns.sort_by(|a, b| {
        let rank = |c: &ColumnDef| (c.kind != ColumnKind::Static, c.typ.is_multicell());
        rank(a)
            .cmp(&rank(b))
            .then_with(|| a.name.as_bytes().cmp(b.name.as_bytes()))
    });
    columns
}

fn column_cql(name: &str, typ: &CqlType, is_static: bool) -> String {
    let mut out = format!("{} {}", quote_identifier(name), typ.cql_name());
    if is_static {
        out.push_str(" static");
    }
    out
}

/// CREATE TABLE with Cassandra 4.1's layout: one column per line, the PRIMARY KEY clause (inline for a
/// single-column key), then every table option in Cassandra's order. With internals, the table id and the
/// dropped columns (and their DROP/ADD history) are included.
pub(crate) fn table_cql(table: &TableDef, is_virtual: bool, internals: bool) -> String {
    let name = qualified(&table.keyspace, &table.name);
    let pk: Vec<&ColumnDef> = table.partition_key().collect();
    let clustering: Vec<&ColumnDef> = table.clustering().collect();
    let single_key = pk.len() == 1 && clustering.is_empty();
    let mut dropped: Vec<&mica_schema::DroppedColumn> = if internals {
        table.dropped_columns.iter().collect()
    } else {
        Vec::new()
    };
    dropped.sort_by(|a, b| {
        a.name
            .cmp(&b.name)
            .then(a.dropped_at_micros.cmp(&b.dropped_at_micros))
    });
    // Only the latest drop of a name is kept, as Cassandra keeps one dropped entry per column name.
    dropped.dedup_by(|later, earlier| {
        if later.name == earlier.name {
            *earlier = *later;
            true
        } else {
            false
        }
    });
    let is_dropped_name = |n: &str| dropped.iter().any(|d| d.name == n);

    let mut out = String::new();
    if is_virtual {
        let _ = write!(
            out,
            "/*\nWarning: Table {name} is a virtual table and cannot be recreated with CQL.\nStructure, for reference:\nVIRTUAL"
        );
    } else {
        out.push_str("CREATE");
    }
    let _ = writeln!(out, " TABLE {name} (");

    let mut columns: Vec<&ColumnDef> = pk.iter().chain(clustering.iter()).copied().collect();
    columns.extend(value_columns_in_create_order(table));
    // A column re-added after a drop is listed after the DROP below instead, replaying history.
    let shown: Vec<&ColumnDef> = columns
        .into_iter()
        .filter(|c| !is_dropped_name(&c.name))
        .collect();
    for (i, c) in shown.iter().enumerate() {
        out.push_str(INDENT);
        out.push_str(&column_cql(&c.name, &c.typ, c.kind == ColumnKind::Static));
        if single_key && c.kind == ColumnKind::PartitionKey {
            out.push_str(" PRIMARY KEY");
        }
        if !single_key || !dropped.is_empty() || i + 1 < shown.len() {
            out.push(',');
        }
        out.push('\n');
    }
    for d in &dropped {
        out.push_str(INDENT);
        out.push_str(&column_cql(&d.name, &d.typ, false));
        if !single_key {
            out.push(',');
        }
        out.push('\n');
    }
    if !single_key {
        let names = |cols: &[&ColumnDef]| {
            cols.iter()
                .map(|c| quote_identifier(&c.name))
                .collect::<Vec<_>>()
                .join(", ")
        };
        out.push_str(INDENT);
        out.push_str("PRIMARY KEY (");
        if pk.len() > 1 {
            let _ = write!(out, "({})", names(&pk));
        } else {
            out.push_str(&names(&pk));
        }
        if !clustering.is_empty() {
            let _ = write!(out, ", {}", names(&clustering));
        }
        out.push_str(")\n");
    }
    out.push_str(") WITH ");

    let mut options: Vec<String> = Vec::new();
    if internals {
        options.push(format!("ID = {}", table.id));
    }
    if !clustering.is_empty() {
        let order: Vec<String> = clustering
            .iter()
            .map(|c| {
                format!(
                    "{} {}",
                    quote_identifier(&c.name),
                    if c.descending { "DESC" } else { "ASC" }
                )
            })
            .collect();
        options.push(format!("CLUSTERING ORDER BY ({})", order.join(", ")));
    }
    if is_virtual {
        options.push(format!("comment = {}", single_quoted(&table.options.comment)));
    } else {
        options.extend(table_options_cql(&table.options));
    }
    out.push_str(&options.join(&format!("\n{INDENT}AND ")));
    out.push(';');
    if is_virtual {
        out.push_str("\n*/");
    }
    for d in &dropped {
        let _ = write!(
            out,
            "\nALTER TABLE {name} DROP {} USING TIMESTAMP {};",
            quote_identifier(&d.name),
            d.dropped_at_micros
        );
        if let Some(c) = table.column(&d.name) {
            let _ = write!(
                out,
                "\nALTER TABLE {name} ADD {};",
                column_cql(&c.name, &c.typ, c.kind == ColumnKind::Static)
            );
        }
    }
    out
}

/// The `name = value` table options, in the order Cassandra 4.1 prints them.
fn table_options_cql(o: &TableOptions) -> Vec<String> {
    let extensions: Vec<String> = o
        .extensions
        .iter()
        .map(|(k, v)| {
            let hex: String = v.iter().map(|b| format!("{b:02x}")).collect();
            format!("{}: 0x{hex}", single_quoted(k))
        })
        .collect();
    vec![
        format!(
            "additional_write_policy = {}",
            single_quoted(&o.additional_write_policy)
        ),
        format!(
            "bloom_filter_fp_chance = {}",
            java_double(o.bloom_filter_fp_chance)
        ),
        format!("caching = {}", quoted_map(&o.caching)),
        format!("cdc = {}", o.cdc),
        format!("comment = {}", single_quoted(&o.comment)),
        format!("compaction = {}", quoted_map(&o.compaction)),
        format!("compression = {}", quoted_map(&o.compression)),
        format!("memtable = {}", single_quoted(&o.memtable)),
        format!("crc_check_chance = {}", java_double(o.crc_check_chance)),
        format!("default_time_to_live = {}", o.default_time_to_live),
        format!("extensions = {{{}}}", extensions.join(", ")),
        format!("gc_grace_seconds = {}", o.gc_grace_seconds),
        format!("max_index_interval = {}", o.max_index_interval),
        format!("memtable_flush_period_in_ms = {}", o.memtable_flush_period_in_ms),
        format!("min_index_interval = {}", o.min_index_interval),
        format!("read_repair = {}", single_quoted(&o.read_repair)),
        format!("speculative_retry = {}", single_quoted(&o.speculative_retry)),
    ]
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use mica_schema::{DroppedColumn, Replication};

    use super::*;

    /// The table options of a table created with Cassandra's defaults, as DESCRIBE prints them.
    const DEFAULT_OPTIONS: &str = "    AND additional_write_policy = '99p'
    AND bloom_filter_fp_chance = 0.01
    AND caching = {'keys': 'ALL', 'rows_per_partition': 'NONE'}
    AND cdc = false
    AND comment = ''
    AND compaction = {'class': 'org.apache.cassandra.db.compaction.SizeTieredCompactionStrategy', 'max_threshold': '32', 'min_threshold': '4'}
    AND compression = {'chunk_length_in_kb': '16', 'class': 'org.apache.cassandra.io.compress.LZ4Compressor'}
    AND memtable = 'default'
    AND crc_check_chance = 1.0
    AND default_time_to_live = 0
    AND extensions = {}
    AND gc_grace_seconds = 864000
    AND max_index_interval = 2048
    AND memtable_flush_period_in_ms = 0
    AND min_index_interval = 128
    AND read_repair = 'BLOCKING'
    AND speculative_retry = '99p';";

    fn table(cql: &str) -> TableDef {
        let statement = mica_cql_syntax::parse_statement(cql).expect("valid CREATE TABLE");
        let mica_cql_syntax::StatementKind::CreateTable(create) = statement.kind else {
            panic!("not CREATE TABLE");
        };
        crate::ddl::table_from_ast("ks", &create, uuid::Uuid::from_u128(0x1234), &|_| None)
            .expect("a valid table")
    }

    fn keyspace(name: &str, replication: Replication) -> KeyspaceDef {
        KeyspaceDef {
            name: name.into(),
            replication,
            durable_writes: true,
            tables: BTreeMap::new(),
            types: BTreeMap::new(),
            is_virtual: false,
        }
    }

    #[test]
    fn keyspaces_print_short_strategy_names_and_two_spaces_before_and() {
        assert_eq!(
            keyspace_cql(&keyspace("ks", Replication::simple(1))),
            "CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': '1'}  AND durable_writes = true;"
        );
        let mut nts = keyspace("Mixed", Replication::simple(1));
        nts.replication = Replication {
            class: "org.apache.cassandra.locator.NetworkTopologyStrategy".into(),
            options: [
                ("dc1".to_string(), "3".to_string()),
                ("dc2".to_string(), "1".to_string()),
            ]
            .into_iter()
            .collect(),
        };
        nts.durable_writes = false;
        assert_eq!(
            keyspace_cql(&nts),
            "CREATE KEYSPACE \"Mixed\" WITH replication = {'class': 'NetworkTopologyStrategy', 'dc1': '3', 'dc2': '1'}  AND durable_writes = false;"
        );
        assert_eq!(
            keyspace_cql(&keyspace("system", Replication::local())),
            "CREATE KEYSPACE system WITH replication = {'class': 'LocalStrategy'}  AND durable_writes = true;"
        );
    }

    #[test]
    fn single_column_key_is_inline() {
        let t = table("CREATE TABLE users (id uuid PRIMARY KEY, name text, age int)");
        let expected = format!(
            "CREATE TABLE ks.users (\n    id uuid PRIMARY KEY,\n    age int,\n    name text\n) WITH additional_write_policy = '99p'\n{}",
            &DEFAULT_OPTIONS["    AND additional_write_policy = '99p'\n".len()..]
        );
        assert_eq!(table_cql(&t, false, false), expected);
    }

    #[test]
    fn compound_key_with_order_statics_collections_and_quoting() {
        let t = table(
            "CREATE TABLE t (k int, \"Ck\" text, c2 int, s int STATIC, v text, l list<int>, \"select\" int, a int, \
             m map<text, frozen<set<int>>>, f frozen<list<int>>, PRIMARY KEY (k, \"Ck\", c2)) \
             WITH CLUSTERING ORDER BY (\"Ck\" DESC)",
        );
        let expected = format!(
            "CREATE TABLE ks.t (
    k int,
    \"Ck\" text,
    c2 int,
    s int static,
    a int,
    f frozen<list<int>>,
    \"select\" int,
    v text,
    l list<int>,
    m map<text, frozen<set<int>>>,
    PRIMARY KEY (k, \"Ck\", c2)
) WITH CLUSTERING ORDER BY (\"Ck\" DESC, c2 ASC)
{DEFAULT_OPTIONS}"
        );
        assert_eq!(table_cql(&t, false, false), expected);
    }

    #[test]
    fn composite_partition_key_and_changed_options() {
        let mut t = table("CREATE TABLE events (a int, b text, ts timestamp, PRIMARY KEY ((a, b), ts))");
        t.options.comment = "it's here".into();
        t.options.bloom_filter_fp_chance = 0.1;
        t.options.default_time_to_live = 3600;
        t.options.extensions.insert("ext".into(), vec![0xca, 0xfe]);
        let cql = table_cql(&t, false, false);
        assert!(
            cql.starts_with(
                "CREATE TABLE ks.events (\n    a int,\n    b text,\n    ts timestamp,\n    PRIMARY KEY ((a, b), ts)\n) WITH CLUSTERING ORDER BY (ts ASC)\n    AND additional_write_policy = '99p'\n    AND bloom_filter_fp_chance = 0.1\n"
            ),
            "{cql}"
        );
        assert!(cql.contains("\n    AND comment = 'it''s here'\n"), "{cql}");
        assert!(cql.contains("\n    AND default_time_to_live = 3600\n"), "{cql}");
        assert!(cql.contains("\n    AND extensions = {'ext': 0xcafe}\n"), "{cql}");
    }

    #[test]
    fn internals_show_the_id_and_replay_dropped_columns() {
        let mut t = table("CREATE TABLE t (k int, c int, v int, w text, PRIMARY KEY (k, c))");
        // `v` dropped once; `w` dropped and re-added with a new storage id.
        let v = t.column("v").cloned().expect("v");
        let w = t.column("w").cloned().expect("w");
        t.columns.retain(|c| c.name != "v");
        t.dropped_columns.push(DroppedColumn {
            name: "v".into(),
            typ: v.typ.clone(),
            id: v.id,
            dropped_at_micros: 1_000,
        });
        t.dropped_columns.push(DroppedColumn {
            name: "w".into(),
            typ: w.typ.clone(),
            id: w.id,
            dropped_at_micros: 2_000,
        });
        if let Some(c) = t.columns.iter_mut().find(|c| c.name == "w") {
            c.id = 99;
        }
        let expected = format!(
            "CREATE TABLE ks.t (
    k int,
    c int,
    v int,
    w text,
    PRIMARY KEY (k, c)
) WITH ID = 00000000-0000-0000-0000-000000001234
    AND CLUSTERING ORDER BY (c ASC)
{DEFAULT_OPTIONS}
ALTER TABLE ks.t DROP v USING TIMESTAMP 1000;
ALTER TABLE ks.t DROP w USING TIMESTAMP 2000;
ALTER TABLE ks.t ADD w text;"
        );
        assert_eq!(table_cql(&t, false, true), expected);
        // Without internals the dropped columns are invisible.
        assert!(!table_cql(&t, false, false).contains(" v int"));
    }

    #[test]
    fn user_types_and_indexes() {
        let ty = UdtDef {
            keyspace: "ks".into(),
            name: "address".into(),
            fields: vec![
                ("street".into(), CqlType::Varchar),
                ("zip".into(), CqlType::Int),
                (
                    "Tags".into(),
                    CqlType::Frozen(Box::new(CqlType::Set(Box::new(CqlType::Varchar)))),
                ),
            ],
        };
        assert_eq!(
            type_cql(&ty),
            "CREATE TYPE ks.address (\n    street text,\n    zip int,\n    \"Tags\" frozen<set<text>>\n);"
        );
        let nested = CqlType::Frozen(Box::new(CqlType::Udt(Arc::new(ty))));
        assert_eq!(nested.cql_name(), "frozen<address>");

        let t = table("CREATE TABLE items (k int PRIMARY KEY, props map<text, text>)");
        let plain = IndexDef {
            name: "props_keys".into(),
            kind: "COMPOSITES".into(),
            options: [("target".to_string(), "keys(props)".to_string())]
                .into_iter()
                .collect(),
        };
        assert_eq!(
            index_cql(&t, &plain),
            "CREATE INDEX props_keys ON ks.items (keys(props));"
        );
        let custom = IndexDef {
            name: "sai".into(),
            kind: "CUSTOM".into(),
            options: [
                ("target".to_string(), "props".to_string()),
                ("class_name".to_string(), "StorageAttachedIndex".to_string()),
                ("mode".to_string(), "CONTAINS".to_string()),
            ]
            .into_iter()
            .collect(),
        };
        assert_eq!(
            index_cql(&t, &custom),
            "CREATE CUSTOM INDEX sai ON ks.items (props) USING 'StorageAttachedIndex' WITH OPTIONS = {'mode': 'CONTAINS'};"
        );
    }

    #[test]
    fn doubles_print_like_java() {
        assert_eq!(java_double(0.01), "0.01");
        assert_eq!(java_double(1.0), "1.0");
        assert_eq!(java_double(0.1), "0.1");
        assert_eq!(java_double(0.0), "0.0");
        assert_eq!(java_double(1e-5), "1.0E-5");
        assert_eq!(java_double(1.5e-4), "1.5E-4");
        assert_eq!(java_double(12345678.0), "1.2345678E7");
        assert_eq!(java_double(100.0), "100.0");
    }

    #[test]
    fn virtual_keyspaces_and_tables_are_commented_out() {
        let mut ks = keyspace("system_views", Replication::local());
        ks.is_virtual = true;
        assert_eq!(
            keyspace_cql(&ks),
            "/*\nWarning: Keyspace system_views is a virtual keyspace and cannot be recreated with CQL.\nStructure, for reference:\nVIRTUAL KEYSPACE system_views;\n*/"
        );
        let t = table("CREATE TABLE clients (address inet, port int, PRIMARY KEY (address, port))");
        assert_eq!(
            table_cql(&t, true, false),
            "/*\nWarning: Table ks.clients is a virtual table and cannot be recreated with CQL.\nStructure, for reference:\nVIRTUAL TABLE ks.clients (\n    address inet,\n    port int,\n    PRIMARY KEY (address, port)\n) WITH CLUSTERING ORDER BY (port ASC)\n    AND comment = '';\n*/"
        );
    }

    #[test]
    fn names_compare_ignoring_case() {
        let mut names = vec!["b", "A", "a_c", "C"];
        names.sort_by(|a, b| by_name(a, b));
        assert_eq!(names, vec!["A", "a_c", "b", "C"]);
    }
}
