//! Secondary indexes: CREATE/DROP INDEX, index maintenance on writes and index-backed reads.
//!
//! Each index is a hidden storage table. Its partition key is the indexed value (an element, map
//! key or `key, value` pair for collection indexes) and each row is one base row holding it, keyed
//! by `token || escaped partition key || 00 01 || kind || clustering` so entries sort in the base
//! table's token order. Entries carry only a row marker written with the base write's timestamp and
//! TTL. Overwritten or deleted values leave stale entries behind; reads re-check every candidate row
//! against its current value and skip stale ones, as Cassandra does.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use mica_cql_protocol::{SchemaChange, SchemaChangeTarget, SchemaChangeType};
use mica_cql_syntax as ast;
use mica_cql_types::{
    CqlType, CqlValue, compare, decode_clustering_serialized, deserialize, quote_identifier,
};
use mica_schema::{ColumnDef, ColumnKind, IndexDef, TableDef};
use mica_storage::{
    CellValue, Clustering, Engine, Marker, Mutation, PartitionKey, ReadSelection, RowMutation, ScanLimits,
    ScanRange, TableId, Ttl,
};

use crate::collections::split_map_cell;
use crate::engine::{ClientState, QueryEngine, QueryResult};
use crate::error::{QueryError, Result, invalid};
use crate::values::{Binds, Evaluated, eval_bytes, partition_key_bytes, split_partition_key};

/// Largest indexed value, as in Cassandra (index partition keys are limited to an unsigned short).
const MAX_INDEXED_VALUE: usize = u16::MAX as usize;
/// Index entries applied per storage write while building an index from existing data.
const BUILD_BATCH: usize = 1_000;
/// The index kind Cassandra shows for its built-in secondary indexes.
const COMPOSITES: &str = "COMPOSITES";

/// What an index covers in its column, from the `target` option.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TargetKind {
    /// The whole value of a non-collection column.
    Simple,
    /// The elements of a list or set, the values of a map.
    Values,
    Keys,
    Entries,
    /// The whole value of a frozen collection.
    Full,
}

impl TargetKind {
    fn name(self) -> &'static str {
        match self {
            TargetKind::Simple => "",
            TargetKind::Values => "values",
            TargetKind::Keys => "keys",
            TargetKind::Entries => "entries",
            TargetKind::Full => "full",
        }
    }
}

/// The `target` option value: `col`, `values(col)`, `keys(col)`, `entries(col)` or `full(col)`.
fn target_option(kind: TargetKind, column: &str) -> String {
    match kind {
        TargetKind::Simple => quote_identifier(column),
        other => format!("{}({})", other.name(), quote_identifier(column)),
    }
}

fn parse_target(option: &str) -> (TargetKind, String) {
    let unquote = |s: &str| match s.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        Some(q) => q.replace("\"\"", "\""),
        None => s.to_string(),
    };
    for kind in [
        TargetKind::Values,
        TargetKind::Keys,
        TargetKind::Entries,
        TargetKind::Full,
    ] {
        if let Some(inner) = option
            .strip_prefix(kind.name())
            .and_then(|s| s.strip_prefix('('))
            .and_then(|s| s.strip_suffix(')'))
        {
            return (kind, unquote(inner));
        }
    }
    (TargetKind::Simple, unquote(option))
}

/// An index of a table resolved against its columns.
struct Resolved<'t> {
    def: &'t IndexDef,
    storage: TableId,
    column: &'t ColumnDef,
    kind: TargetKind,
}

fn resolved(table: &TableDef) -> Vec<Resolved<'_>> {
    table
        .indexes
        .iter()
        .filter_map(|def| {
            let (kind, name) = parse_target(def.options.get("target")?);
            Some(Resolved {
                def,
                storage: storage_id(table, &def.name),
                column: table.column(&name)?,
                kind,
            })
        })
        .collect()
}

/// The storage table holding index `index` of `table` (derived, so it needs no bookkeeping).
pub(crate) fn storage_id(table: &TableDef, index: &str) -> TableId {
    let name = format!("{}/index/{index}", table.id);
    let a = mica_types::murmur3_token(name.as_bytes()) as u64;
    let b = mica_types::murmur3_token(format!("mica:{name}").as_bytes()) as u64;
    TableId(
        uuid::Builder::from_bytes(uuid::Uuid::from_u64_pair(a, b).into_bytes())
            .with_version(uuid::Version::Md5)
            .into_uuid(),
    )
}

/// The storage tables of all indexes of a table.
pub(crate) fn storage_ids(table: &TableDef) -> Vec<TableId> {
    table.indexes.iter().map(|i| storage_id(table, &i.name)).collect()
}

fn storage_options(table: &TableDef) -> mica_storage::TableOptions {
    mica_storage::TableOptions {
        gc_grace_seconds: table.options.gc_grace_seconds.max(0) as u32,
        default_ttl: None,
    }
}

/// Creates the storage tables of a table's indexes (idempotent; used when the node opens).
pub(crate) fn open_index_tables(storage: &dyn Engine, table: &TableDef) -> Result<()> {
    for id in storage_ids(table) {
        storage.create_table(id, storage_options(table))?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Index entries
// ---------------------------------------------------------------------------------------------

/// A live cell of a base row as seen by index maintenance.
struct Source<'a> {
    column: u32,
    path: Option<&'a [u8]>,
    value: &'a [u8],
    timestamp: i64,
    ttl: Option<Ttl>,
}

/// The clustering of an index entry pointing at a base row.
fn entry_clustering(key: &PartitionKey, clustering: &Clustering) -> Vec<u8> {
    let mut out = key.token.to_ordered_bytes().to_vec();
    for &b in &key.key {
        out.push(b);
        if b == 0 {
            out.push(0xFF);
        }
    }
    out.extend_from_slice(&[0, 1]);
    match clustering {
        Clustering::Static => out.push(0),
        Clustering::Row(ck) => {
            out.push(1);
            out.extend_from_slice(ck);
        }
    }
    out
}

/// Inverse of [`entry_clustering`]: the base partition key and clustering (`None` for static).
fn decode_entry(bytes: &[u8]) -> Option<(Vec<u8>, Option<Vec<u8>>)> {
    let mut key = Vec::new();
    let mut i = 8;
    loop {
        match (bytes.get(i)?, bytes.get(i + 1)) {
            (0, Some(0xFF)) => {
                key.push(0);
                i += 2;
            }
            (0, Some(1)) => {
                i += 2;
                break;
            }
            (&b, _) => {
                key.push(b);
                i += 1;
            }
        }
    }
    match bytes.get(i)? {
        0 => Some((key, None)),
        _ => Some((key, Some(bytes.get(i + 1..)?.to_vec()))),
    }
}

/// Appends the index entries of one base row to `out`.
fn row_entries(
    table: &TableDef,
    indexes: &[Resolved<'_>],
    key: &PartitionKey,
    clustering: &Clustering,
    sources: &[Source<'_>],
    liveness: Option<(i64, Option<Ttl>)>,
    out: &mut Vec<Mutation>,
) -> Result<()> {
    for ix in indexes {
        let mut values: Vec<(Vec<u8>, i64, Option<Ttl>)> = Vec::new();
        match ix.column.kind {
            ColumnKind::PartitionKey | ColumnKind::Clustering => {
                let (Some((timestamp, ttl)), Clustering::Row(ck)) = (liveness, clustering) else {
                    continue;
                };
                let component = if ix.column.kind == ColumnKind::PartitionKey {
                    split_partition_key(&key.key, table.partition_key_len())?
                        .into_iter()
                        .nth(ix.column.position.max(0) as usize)
                } else {
                    let types: Vec<(&CqlType, bool)> =
                        table.clustering().map(|c| (&c.typ, c.descending)).collect();
                    decode_clustering_serialized(&types, ck)
                        .map_err(|e| QueryError::Server(format!("stored clustering key is unreadable: {e}")))?
                        .into_iter()
                        .nth(ix.column.position.max(0) as usize)
                };
                if let Some(v) = component {
                    values.push((v, timestamp, ttl));
                }
            }
            ColumnKind::Regular | ColumnKind::Static => {
                for s in sources.iter().filter(|s| s.column == ix.column.id) {
                    let value = match (ix.kind, s.path, &ix.column.typ) {
                        (TargetKind::Simple | TargetKind::Full, None, _) => s.value.to_vec(),
                        (TargetKind::Values, Some(_), CqlType::Map(..)) => {
                            split_map_cell(s.value)?.1.to_vec()
                        }
                        (TargetKind::Values, Some(_), _) => s.value.to_vec(),
                        (TargetKind::Keys, Some(_), _) => split_map_cell(s.value)?.0.to_vec(),
                        (TargetKind::Entries, Some(_), _) => {
                            let (k, v) = split_map_cell(s.value)?;
                            partition_key_bytes(&[k, v])?
                        }
                        _ => continue,
                    };
                    values.push((value, s.timestamp, s.ttl));
                }
            }
        }
        for (value, timestamp, ttl) in values {
            if value.len() >= MAX_INDEXED_VALUE {
                return Err(invalid(format!(
                    "Cannot index value of size {} for index {} on {}.{}({}) (maximum allowed size={MAX_INDEXED_VALUE})",
                    value.len(),
                    ix.def.name,
                    table.keyspace,
                    table.name,
                    ix.column.name
                )));
            }
            let mut m = Mutation::new(ix.storage, PartitionKey::new(value));
            let mut row = RowMutation::new(Clustering::Row(entry_clustering(key, clustering)));
            row.marker = Some(Marker { timestamp, ttl });
            m.rows.push(row);
            out.push(m);
        }
    }
    Ok(())
}

/// Adds the index entries for the base-table writes in `mutations` (same timestamps and TTLs).
pub(crate) fn add_entries(table: &TableDef, mutations: &mut Vec<Mutation>) -> Result<()> {
    if table.indexes.is_empty() {
        return Ok(());
    }
    let indexes = resolved(table);
    let mut out = Vec::new();
    for m in mutations.iter().filter(|m| m.table == TableId(table.id)) {
        for row in &m.rows {
            let sources: Vec<Source<'_>> = row
                .cells
                .iter()
                .filter_map(|c| match &c.value {
                    CellValue::Live { value, ttl } => Some(Source {
                        column: c.column,
                        path: c.path.as_deref(),
                        value,
                        timestamp: c.timestamp,
                        ttl: *ttl,
                    }),
                    _ => None,
                })
                .collect();
            let liveness = row
                .marker
                .map(|mk| (mk.timestamp, mk.ttl))
                .or_else(|| sources.first().map(|s| (s.timestamp, s.ttl)));
            row_entries(
                table,
                &indexes,
                &m.key,
                &row.clustering,
                &sources,
                liveness,
                &mut out,
            )?;
        }
    }
    mutations.extend(out);
    Ok(())
}

/// The index entries of a stored base row (used to build an index over existing data).
fn stored_row_entries(
    table: &TableDef,
    indexes: &[Resolved<'_>],
    key: &PartitionKey,
    row: &mica_storage::RowView,
    out: &mut Vec<Mutation>,
) -> Result<()> {
    let ttl = |ttl: Option<u32>, expires_at: Option<i64>| {
        ttl.zip(expires_at).map(|(ttl_seconds, expires_at)| Ttl {
            ttl_seconds,
            expires_at,
        })
    };
    let sources: Vec<Source<'_>> = row
        .cells
        .iter()
        .filter_map(|c| match &c.value {
            mica_storage::Value::Bytes(v) => Some(Source {
                column: c.column,
                path: c.path.as_deref(),
                value: v,
                timestamp: c.timestamp,
                ttl: ttl(c.ttl, c.expires_at),
            }),
            mica_storage::Value::Counter(_) => None,
        })
        .collect();
    let liveness = row
        .marker
        .map(|mk| (mk.timestamp, ttl(mk.ttl, mk.expires_at)))
        .or_else(|| {
            sources
                .iter()
                .map(|s| (s.timestamp, s.ttl))
                .max_by_key(|(t, _)| *t)
        });
    row_entries(table, indexes, key, &row.clustering, &sources, liveness, out)
}

// ---------------------------------------------------------------------------------------------
// Reads
// ---------------------------------------------------------------------------------------------

/// How a candidate row is re-checked against its current value.
#[derive(Debug)]
enum Check {
    Equals(Vec<u8>),
    Contains(CqlValue),
    ContainsKey(CqlValue),
    Entry(CqlValue, CqlValue),
}

/// A WHERE relation answered by an index.
#[derive(Debug)]
pub(crate) struct IndexRestriction {
    storage: TableId,
    key: Vec<u8>,
    /// Position of the restricted column in the table's columns.
    pub column: usize,
    typ: CqlType,
    check: Check,
}

/// The index restriction `r` can use, if an index of `table` covers it.
pub(crate) fn restriction_for(
    table: &TableDef,
    r: &ast::Relation,
    binds: Binds,
) -> Result<Option<IndexRestriction>> {
    if table.indexes.is_empty() {
        return Ok(None);
    }
    let (name, wanted) = match (&r.lhs, r.op) {
        (ast::RelationLhs::Column(n), ast::Operator::Eq) => (n, [TargetKind::Simple, TargetKind::Full]),
        (ast::RelationLhs::Column(n), ast::Operator::Contains) => (n, [TargetKind::Values; 2]),
        (ast::RelationLhs::Column(n), ast::Operator::ContainsKey) => (n, [TargetKind::Keys; 2]),
        (ast::RelationLhs::Element { column, .. }, ast::Operator::Eq) => (column, [TargetKind::Entries; 2]),
        _ => return Ok(None),
    };
    let ast::RelationRhs::Term(term) = &r.rhs else {
        return Ok(None);
    };
    let indexes = resolved(table);
    let Some(ix) = indexes
        .iter()
        .find(|ix| ix.column.name == *name && wanted.contains(&ix.kind))
    else {
        return Ok(None);
    };
    let c = ix.column;
    let column = table
        .columns
        .iter()
        .position(|x| x.id == c.id)
        .ok_or_else(|| QueryError::Server("indexed column vanished".into()))?;
    let bytes = |t: &ast::Term, ty: &CqlType, receiver: &str| match eval_bytes(t, ty, receiver, binds)? {
        Evaluated::Bytes(b) => Ok(b),
        Evaluated::Null => Err(invalid(format!(
            "Invalid null value in condition for column {}",
            c.name
        ))),
        Evaluated::Unset => Err(invalid(format!("Invalid unset value for column {}", c.name))),
    };
    let value = |t: &ast::Term, ty: &CqlType, receiver: &str| {
        let b = bytes(t, ty, receiver)?;
        let v = deserialize(ty, &b).map_err(|e| invalid(e.to_string()))?;
        Ok::<_, QueryError>((b, v))
    };
    let (key, check) = match (ix.kind, c.typ.unfrozen()) {
        (TargetKind::Simple | TargetKind::Full, _) => {
            let b = bytes(term, &c.typ, &c.name)?;
            (b.clone(), Check::Equals(b))
        }
        (TargetKind::Values, CqlType::List(et) | CqlType::Set(et) | CqlType::Map(_, et)) => {
            let (b, v) = value(term, et, &format!("value({})", c.name))?;
            (b, Check::Contains(v))
        }
        (TargetKind::Keys, CqlType::Map(kt, _)) => {
            let (b, v) = value(term, kt, &format!("key({})", c.name))?;
            (b, Check::ContainsKey(v))
        }
        (TargetKind::Entries, CqlType::Map(kt, vt)) => {
            let ast::RelationLhs::Element { key, .. } = &r.lhs else {
                return Ok(None);
            };
            let (kb, k) = value(key, kt, &format!("key({})", c.name))?;
            let (vb, v) = value(term, vt, &format!("value({})", c.name))?;
            (partition_key_bytes(&[&kb, &vb])?, Check::Entry(k, v))
        }
        _ => return Ok(None),
    };
    Ok(Some(IndexRestriction {
        storage: ix.storage,
        key,
        column,
        typ: c.typ.clone(),
        check,
    }))
}

impl IndexRestriction {
    /// Whether a row (full serialized column values in table order) currently satisfies the
    /// restriction; stale index entries fail this check.
    pub(crate) fn matches(&self, values: &[Option<Vec<u8>>]) -> bool {
        let Some(Some(current)) = values.get(self.column) else {
            return false;
        };
        if let Check::Equals(expected) = &self.check {
            return mica_cql_types::compare_serialized(&self.typ, current, expected)
                .is_ok_and(|o| o == std::cmp::Ordering::Equal);
        }
        let Ok(value) = deserialize(&self.typ, current) else {
            return false;
        };
        let eq = |ty: &CqlType, a: &CqlValue, b: &CqlValue| compare(ty, a, b) == std::cmp::Ordering::Equal;
        match (&self.check, self.typ.unfrozen(), value) {
            (
                Check::Contains(x),
                CqlType::List(et) | CqlType::Set(et),
                CqlValue::List(items) | CqlValue::Set(items),
            ) => items.iter().any(|i| eq(et, i, x)),
            (Check::Contains(x), CqlType::Map(_, vt), CqlValue::Map(entries)) => {
                entries.iter().any(|(_, v)| eq(vt, v, x))
            }
            (Check::ContainsKey(x), CqlType::Map(kt, _), CqlValue::Map(entries)) => {
                entries.iter().any(|(k, _)| eq(kt, k, x))
            }
            (Check::Entry(xk, xv), CqlType::Map(kt, vt), CqlValue::Map(entries)) => {
                entries.iter().any(|(k, v)| eq(kt, k, xk) && eq(vt, v, xv))
            }
            _ => false,
        }
    }

    /// The base partitions (in token order) holding candidate rows, each with the selection of its
    /// candidate rows, starting at partition `from` (inclusive) when resuming a page.
    pub(crate) fn candidates(
        &self,
        storage: &dyn Engine,
        now_seconds: i64,
        from: Option<&[u8]>,
    ) -> Result<Vec<(PartitionKey, ReadSelection)>> {
        let view = storage.read_partition(
            self.storage,
            &PartitionKey::new(self.key.clone()),
            &ReadSelection::all(),
            now_seconds,
        )?;
        let Some(view) = view else { return Ok(Vec::new()) };
        let start = from.map(|k| PartitionKey::new(k.to_vec()));
        // Entries sort by (token, key bytes) of the base partition, then clustering.
        let mut partitions: BTreeMap<PartitionKey, Option<Vec<Vec<u8>>>> = BTreeMap::new();
        for row in &view.rows {
            let Clustering::Row(entry) = &row.clustering else {
                continue;
            };
            let Some((key, ck)) = decode_entry(entry) else {
                continue;
            };
            let pk = PartitionKey::new(key);
            if start.as_ref().is_some_and(|s| pk < *s) {
                continue;
            }
            let slot = partitions.entry(pk).or_insert_with(|| Some(Vec::new()));
            match (slot.as_mut(), ck) {
                (Some(cks), Some(ck)) => cks.push(ck),
                // A static entry selects the whole partition.
                (_, None) => *slot = None,
                (None, Some(_)) => {}
            }
        }
        Ok(partitions
            .into_iter()
            .map(|(pk, cks)| {
                let selection = match cks {
                    Some(cks) => ReadSelection {
                        slices: cks
                            .into_iter()
                            .map(|ck| (Bound::Included(ck.clone()), Bound::Included(ck)))
                            .collect(),
                        include_static: true,
                        ..ReadSelection::default()
                    },
                    None => ReadSelection::all(),
                };
                (pk, selection)
            })
            .collect())
    }
}

// ---------------------------------------------------------------------------------------------
// DDL
// ---------------------------------------------------------------------------------------------

fn deny_system(ks: &str) -> Result<()> {
    if mica_schema::is_system_keyspace(ks)
        || matches!(ks, "system_auth" | "system_traces" | "system_distributed")
    {
        return Err(QueryError::Unauthorized(format!(
            "{ks} keyspace is not user-modifiable."
        )));
    }
    Ok(())
}

/// Checks an index target against its column as Cassandra's CreateIndexStatement does.
fn validate_target(table: &TableDef, target: &ast::IndexTarget) -> Result<(TargetKind, ColumnDef)> {
    let c = table
        .column(&target.column)
        .ok_or_else(|| invalid(format!("Column '{}' doesn't exist", target.column)))?;
    let name = &c.name;
    let is_collection = c.typ.is_collection();
    let kind = match target.kind {
        ast::IndexTargetKind::Simple if is_collection => TargetKind::Values,
        ast::IndexTargetKind::Simple => TargetKind::Simple,
        ast::IndexTargetKind::Values => TargetKind::Values,
        ast::IndexTargetKind::Keys => TargetKind::Keys,
        ast::IndexTargetKind::Entries => TargetKind::Entries,
        ast::IndexTargetKind::Full => TargetKind::Full,
    };
    if c.typ.any_nested(&|t| matches!(t, CqlType::Duration)) {
        return Err(invalid(match c.typ.unfrozen() {
            CqlType::List(_) | CqlType::Set(_) | CqlType::Map(..) => {
                "Secondary indexes are not supported on collections containing durations"
            }
            CqlType::Tuple(_) => "Secondary indexes are not supported on tuples containing durations",
            CqlType::Udt(_) => "Secondary indexes are not supported on UDTs containing durations",
            _ => "Secondary indexes are not supported on duration columns",
        }));
    }
    if c.kind == ColumnKind::PartitionKey && table.partition_key_len() == 1 {
        return Err(invalid(format!(
            "Cannot create secondary index on the only partition key column {name}"
        )));
    }
    let frozen_collection = is_collection && !c.typ.is_multicell();
    if frozen_collection && kind != TargetKind::Full {
        return Err(invalid(format!(
            "Cannot create {}() index on frozen column {name}. Frozen collections are immutable and must be fully indexed by using the 'full({name})' modifier",
            kind.name()
        )));
    }
    if !frozen_collection && kind == TargetKind::Full {
        return Err(invalid(
            "full() indexes can only be created on frozen collections",
        ));
    }
    if !is_collection && kind != TargetKind::Simple {
        return Err(invalid(format!(
            "Cannot create {}() index on {name}. Non-collection columns only support simple indexes",
            kind.name()
        )));
    }
    let multicell_map = matches!(c.typ, CqlType::Map(..));
    if !multicell_map && matches!(kind, TargetKind::Keys | TargetKind::Entries) {
        return Err(invalid(format!(
            "Cannot create index on {} of column {name} with non-map type",
            kind.name()
        )));
    }
    if matches!(c.typ, CqlType::Udt(_)) {
        return Err(invalid(format!(
            "Cannot create index on non-frozen UDT column {name}"
        )));
    }
    Ok((kind, c.clone()))
}

/// Cassandra's default index name: `<table>_<column>_idx` without non-word characters.
fn default_index_name(table: &str, column: &str) -> String {
    format!("{table}_{column}_idx")
        .chars()
        .filter(|ch| ch.is_ascii_alphanumeric() || *ch == '_')
        .collect()
}

impl QueryEngine {
    /// `CREATE INDEX`: adds the index to the schema, then builds it from the table's existing data.
    pub(crate) fn create_index(&self, state: &ClientState, c: &ast::CreateIndex) -> Result<QueryResult> {
        let ks_name = self.keyspace_name(state, &c.table.keyspace)?;
        deny_system(&ks_name)?;
        if c.custom || c.using.is_some() {
            return Err(invalid("Custom secondary indexes are not supported by Mica"));
        }
        let mut created: Option<(Arc<TableDef>, IndexDef)> = None;
        let changed = self.change_schema(
            |schema| {
                let ks = schema
                    .keyspaces
                    .get(&ks_name)
                    .ok_or_else(|| invalid(format!("Keyspace '{ks_name}' doesn't exist")))?;
                let table = ks
                    .tables
                    .get(&c.table.name)
                    .ok_or_else(|| invalid(format!("Table '{}' doesn't exist", c.table.name)))?;
                let has_index = |name: &str| {
                    ks.tables
                        .values()
                        .any(|t| t.indexes.iter().any(|i| i.name == name))
                };
                if let Some(name) = &c.name
                    && has_index(name)
                {
                    if c.if_not_exists {
                        return Ok(false);
                    }
                    return Err(invalid(format!("Index '{name}' already exists")));
                }
                if table.is_counter {
                    return Err(invalid("Secondary indexes on counter tables aren't supported"));
                }
                let target = match c.targets.as_slice() {
                    [] => {
                        return Err(invalid(
                            "Only CUSTOM indexes can be created without specifying a target column",
                        ));
                    }
                    [one] => one,
                    _ => return Err(invalid("Only CUSTOM indexes support multiple columns")),
                };
                let (kind, column) = validate_target(table, target)?;
                let name = match &c.name {
                    Some(n) => n.clone(),
                    None => {
                        let base = default_index_name(&table.name, &column.name);
                        let mut candidate = base.clone();
                        let mut i = 0;
                        while has_index(&candidate) {
                            i += 1;
                            candidate = format!("{base}_{i}");
                        }
                        candidate
                    }
                };
                let index = IndexDef {
                    name,
                    kind: COMPOSITES.into(),
                    options: [("target".to_string(), target_option(kind, &column.name))].into(),
                };
                if let Some(equal) = table
                    .indexes
                    .iter()
                    .find(|i| i.kind == index.kind && i.options == index.options)
                {
                    if c.if_not_exists {
                        return Ok(false);
                    }
                    return Err(invalid(format!(
                        "Index {} is a duplicate of existing index {}",
                        index.name, equal.name
                    )));
                }
                let mut t = (**table).clone();
                // Kept sorted by name, the clustering order of system_schema.indexes.
                let at = t.indexes.partition_point(|i| i.name < index.name);
                t.indexes.insert(at, index.clone());
                let t = Arc::new(t);
                schema.put_table(t.clone());
                created = Some((t, index));
                Ok(true)
            },
            Some(&ks_name),
        )?;
        let Some((table, index)) = created.filter(|_| changed) else {
            return Ok(QueryResult::Void);
        };
        let id = storage_id(&table, &index.name);
        // A leftover table from an earlier index of the same name must not leak old entries.
        self.storage.drop_table(id)?;
        self.storage.create_table(id, storage_options(&table))?;
        self.build_index(&table, &index)?;
        Ok(table_updated(&table))
    }

    /// Writes the entries of one index for every live row of its table.
    fn build_index(&self, table: &TableDef, index: &IndexDef) -> Result<()> {
        let now = mica_types::now_seconds();
        let indexes: Vec<Resolved<'_>> = resolved(table)
            .into_iter()
            .filter(|r| r.def.name == index.name)
            .collect();
        let stream = self.storage.scan(
            TableId(table.id),
            &ScanRange::all(),
            &ReadSelection::all(),
            ScanLimits::default(),
            now,
        )?;
        let mut pending = Vec::new();
        for view in stream {
            let view = view?;
            for row in view.static_row.iter().chain(&view.rows) {
                stored_row_entries(table, &indexes, &view.key, row, &mut pending)?;
            }
            if pending.len() >= BUILD_BATCH {
                // Durability of the whole build is ensured by the flush below.
                drop(self.storage.apply_visible(std::mem::take(&mut pending))?);
            }
        }
        if !pending.is_empty() {
            drop(self.storage.apply_visible(pending)?);
        }
        self.storage.flush()?;
        Ok(())
    }

    /// `DROP INDEX [IF EXISTS] [ks.]name`.
    pub(crate) fn drop_index(
        &self,
        state: &ClientState,
        if_exists: bool,
        name: &ast::QualifiedName,
    ) -> Result<QueryResult> {
        let ks_name = self.keyspace_name(state, &name.keyspace)?;
        deny_system(&ks_name)?;
        let mut dropped: Option<(Arc<TableDef>, TableId)> = None;
        let changed = self.change_schema(
            |schema| {
                let found = schema.keyspaces.get(&ks_name).and_then(|ks| {
                    ks.tables
                        .values()
                        .find(|t| t.indexes.iter().any(|i| i.name == name.name))
                        .cloned()
                });
                let Some(table) = found else {
                    if if_exists {
                        return Ok(false);
                    }
                    return Err(invalid(format!("Index '{ks_name}.{}' doesn't exist'", name.name)));
                };
                let storage = storage_id(&table, &name.name);
                let mut t = (*table).clone();
                t.indexes.retain(|i| i.name != name.name);
                let t = Arc::new(t);
                schema.put_table(t.clone());
                dropped = Some((t, storage));
                Ok(true)
            },
            Some(&ks_name),
        )?;
        let Some((table, storage)) = dropped.filter(|_| changed) else {
            return Ok(QueryResult::Void);
        };
        self.storage.drop_table(storage)?;
        Ok(table_updated(&table))
    }
}

fn table_updated(table: &TableDef) -> QueryResult {
    QueryResult::SchemaChange(SchemaChange {
        change_type: SchemaChangeType::Updated,
        target: SchemaChangeTarget::Table {
            keyspace: table.keyspace.clone(),
            name: table.name.clone(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_round_trip() {
        for (kind, col) in [
            (TargetKind::Simple, "v"),
            (TargetKind::Values, "m"),
            (TargetKind::Keys, "Mixed"),
            (TargetKind::Entries, "m"),
            (TargetKind::Full, "l"),
        ] {
            let option = target_option(kind, col);
            assert_eq!(parse_target(&option), (kind, col.to_string()));
        }
        assert_eq!(target_option(TargetKind::Keys, "Mixed"), "keys(\"Mixed\")");
        assert_eq!(default_index_name("t-1", "v"), "t1_v_idx");
    }

    #[test]
    fn entry_keys_round_trip_and_sort_by_token() {
        let a = PartitionKey::new(vec![0, 1, 0, 0xFF]);
        let row = Clustering::Row(vec![5, 0, 6]);
        let bytes = entry_clustering(&a, &row);
        assert_eq!(decode_entry(&bytes), Some((a.key.clone(), Some(vec![5, 0, 6]))));
        assert_eq!(
            decode_entry(&entry_clustering(&a, &Clustering::Static)),
            Some((a.key.clone(), None))
        );
        let b = PartitionKey::new(vec![7]);
        let (first, second) = if a < b { (&a, &b) } else { (&b, &a) };
        assert!(entry_clustering(first, &row) < entry_clustering(second, &row));
    }
}
