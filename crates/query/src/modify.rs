//! INSERT, UPDATE and DELETE: turning statements into storage mutations with Cassandra's semantics.

use std::sync::atomic::{AtomicU64, Ordering};

use mica_cql_syntax as ast;
use mica_cql_types::{
    CqlType, CqlValue, deserialize, encode_clustering_serialized, encode_element_key, to_bytes,
};
use mica_schema::{ColumnDef, ColumnKind, TableDef};
use mica_storage::{
    Cell, CellValue, Clustering, Deletion, Marker, Mutation, PartitionKey, RangeTombstone, RowMutation,
    TableId, Ttl,
};
use std::ops::Bound;

use crate::error::{QueryError, Result, invalid};
use crate::values::{Binds, Evaluated, eval_bytes, eval_i64, eval_value, partition_key_bytes};

/// Timestamp, TTL and clock of one write.
#[derive(Clone, Copy, Debug)]
pub(crate) struct WriteParams {
    pub timestamp: i64,
    pub ttl: Option<u32>,
    pub now_seconds: i64,
}

impl WriteParams {
    pub(crate) fn ttl(&self) -> Option<Ttl> {
        self.ttl.filter(|t| *t > 0).map(|t| Ttl {
            ttl_seconds: t,
            expires_at: self.now_seconds + t as i64,
        })
    }

    fn deletion(&self, timestamp: i64) -> Deletion {
        Deletion {
            timestamp,
            local_deletion_time: self.now_seconds,
        }
    }
}

/// Resolves USING TIMESTAMP / TTL against the statement defaults.
pub(crate) fn write_params(
    using: &ast::Using,
    table: &TableDef,
    binds: Binds,
    default_timestamp: i64,
    now_seconds: i64,
) -> Result<WriteParams> {
    let timestamp = match &using.timestamp {
        Some(t) => eval_i64(t, &CqlType::Bigint, "[timestamp]", binds)?.unwrap_or(default_timestamp),
        None => default_timestamp,
    };
    let ttl = match &using.ttl {
        Some(t) => {
            let ttl = eval_i64(t, &CqlType::Int, "[ttl]", binds)?.unwrap_or(0);
            if ttl < 0 {
                return Err(invalid(format!(
                    "A TTL must be greater or equal to 0, but was {ttl}"
                )));
            }
            if ttl > 630_720_000 {
                return Err(invalid(format!(
                    "ttl is too large. requested ({ttl}) maximum (630720000)"
                )));
            }
            Some(ttl as u32)
        }
        None => (table.options.default_time_to_live > 0).then_some(table.options.default_time_to_live as u32),
    };
    Ok(WriteParams {
        timestamp,
        ttl,
        now_seconds,
    })
}

fn column<'t>(table: &'t TableDef, name: &str) -> Result<&'t ColumnDef> {
    table.column(name).ok_or_else(|| {
        invalid(format!(
            "Undefined column name {name} in table {}.{}",
            table.keyspace, table.name
        ))
    })
}

/// The primary key values a WHERE clause selects: all partition keys (cartesian product of `=`/`IN`)
/// and the clustering prefix given by `=` relations.
pub(crate) struct KeySelection {
    pub partitions: Vec<Vec<u8>>,
    pub clustering: Vec<Vec<u8>>,
    pub clustering_columns: usize,
}

pub(crate) fn keys_from_where(
    table: &TableDef,
    relations: &[ast::Relation],
    binds: Binds,
) -> Result<KeySelection> {
    let mut pk_values: Vec<Vec<Vec<u8>>> = Vec::new();
    for c in table.partition_key() {
        let values = relation_values(relations, c, binds)?
            .ok_or_else(|| invalid(format!("Some partition key parts are missing: {}", c.name)))?;
        pk_values.push(values);
    }
    let mut partitions = vec![Vec::<Vec<u8>>::new()];
    for values in pk_values {
        let mut next = Vec::new();
        for prefix in &partitions {
            for v in &values {
                let mut p = prefix.clone();
                p.push(v.clone());
                next.push(p);
            }
        }
        partitions = next;
    }
    let partitions = partitions
        .iter()
        .map(|parts| partition_key_bytes(&parts.iter().map(|p| p.as_slice()).collect::<Vec<_>>()))
        .collect::<Result<Vec<_>>>()?;
    let mut clustering_values = Vec::new();
    let mut clustering_types = Vec::new();
    for c in table.clustering() {
        match relation_values(relations, c, binds)? {
            Some(v) if v.len() == 1 => {
                clustering_values.push(v.into_iter().next().unwrap_or_default());
                clustering_types.push((c.typ.clone(), c.descending));
            }
            Some(_) => {
                return Err(invalid(
                    "IN restrictions on clustering columns are not supported for modifications yet",
                ));
            }
            None => break,
        }
    }
    let clustering_columns = clustering_values.len();
    let encoded = encode_clustering_serialized(
        &clustering_types
            .iter()
            .zip(&clustering_values)
            .map(|((t, d), v)| (t, v.as_slice(), *d))
            .collect::<Vec<_>>(),
    )
    .map_err(|e| invalid(e.to_string()))?;
    Ok(KeySelection {
        partitions,
        clustering: vec![encoded],
        clustering_columns,
    })
}

/// The serialized values an `=` or `IN` relation gives column `c`, or `None` if it is not restricted.
fn relation_values(relations: &[ast::Relation], c: &ColumnDef, binds: Binds) -> Result<Option<Vec<Vec<u8>>>> {
    for r in relations {
        let ast::RelationLhs::Column(name) = &r.lhs else {
            continue;
        };
        if *name != c.name {
            continue;
        }
        let non_null = |e: Evaluated| match e {
            Evaluated::Bytes(b) => Ok(b),
            _ => Err(invalid(format!(
                "Invalid null value in condition for column {}",
                c.name
            ))),
        };
        return match (r.op, &r.rhs) {
            (ast::Operator::Eq, ast::RelationRhs::Term(t)) => {
                Ok(Some(vec![non_null(eval_bytes(t, &c.typ, &c.name, binds)?)?]))
            }
            (ast::Operator::In, ast::RelationRhs::List(items)) => Ok(Some(
                items
                    .iter()
                    .map(|t| non_null(eval_bytes(t, &c.typ, &c.name, binds)?))
                    .collect::<Result<_>>()?,
            )),
            (ast::Operator::In, ast::RelationRhs::Term(t)) => {
                let list_ty = CqlType::List(Box::new(c.typ.clone()));
                match eval_value(t, &list_ty, &format!("in({})", c.name), binds)? {
                    Some(CqlValue::List(items)) => Ok(Some(
                        items
                            .iter()
                            .map(|v| to_bytes(v, &c.typ).map_err(|e| invalid(e.to_string())))
                            .collect::<Result<_>>()?,
                    )),
                    _ => Err(invalid(format!(
                        "Invalid null value for IN restriction on {}",
                        c.name
                    ))),
                }
            }
            _ => Err(invalid(format!(
                "Only EQ and IN relation are supported on the partition key (unless you use the token() function or allow filtering) for column {}",
                c.name
            ))),
        };
    }
    Ok(None)
}

static LIST_SEQUENCE: AtomicU64 = AtomicU64::new(0);

/// A fresh cell path for a list element appended at `timestamp`, ordered by time then sequence.
fn list_path(timestamp: i64) -> Vec<u8> {
    let mut p = Vec::with_capacity(16);
    p.extend_from_slice(&((timestamp as u64) ^ (1 << 63)).to_be_bytes());
    p.extend_from_slice(&LIST_SEQUENCE.fetch_add(1, Ordering::Relaxed).to_be_bytes());
    p
}

/// Cells of a non-frozen collection value (elements only; the caller adds the overwrite deletion).
fn collection_cells(c: &ColumnDef, value: &CqlValue, wp: &WriteParams) -> Result<Vec<Cell>> {
    let live = |path: Vec<u8>, bytes: Vec<u8>| Cell {
        column: c.id,
        path: Some(path),
        timestamp: wp.timestamp,
        value: CellValue::Live {
            value: bytes,
            ttl: wp.ttl(),
        },
    };
    let err = |e: mica_cql_types::MarshalError| invalid(e.to_string());
    let mut cells = Vec::new();
    match (&c.typ, value) {
        (CqlType::List(el), CqlValue::List(items)) => {
            for v in items {
                cells.push(live(list_path(wp.timestamp), to_bytes(v, el).map_err(err)?));
            }
        }
        (CqlType::Set(el), CqlValue::Set(items) | CqlValue::List(items)) => {
            for v in items {
                cells.push(live(
                    encode_element_key(el, v).map_err(err)?,
                    to_bytes(v, el).map_err(err)?,
                ));
            }
        }
        (CqlType::Map(kt, vt), CqlValue::Map(entries)) => {
            for (k, v) in entries {
                let kb = to_bytes(k, kt).map_err(err)?;
                let mut value = Vec::with_capacity(4 + kb.len());
                value.extend_from_slice(&(kb.len() as u32).to_be_bytes());
                value.extend_from_slice(&kb);
                value.extend_from_slice(&to_bytes(v, vt).map_err(err)?);
                cells.push(live(encode_element_key(kt, k).map_err(err)?, value));
            }
        }
        (CqlType::Udt(def), CqlValue::Udt(fields)) => {
            cells.extend(crate::collections::udt_cells(c, def, fields, wp)?);
        }
        _ => return Err(invalid(format!("Invalid value for collection column {}", c.name))),
    }
    Ok(cells)
}

/// Adds the cells that set column `c` to the evaluated value (a whole-value overwrite).
fn set_column(row: &mut RowMutation, c: &ColumnDef, value: Evaluated, wp: &WriteParams) -> Result<()> {
    match value {
        Evaluated::Unset => {}
        Evaluated::Null => {
            if c.typ.is_multicell() {
                row.column_deletions.push((c.id, wp.deletion(wp.timestamp)));
            } else {
                row.cells.push(Cell {
                    column: c.id,
                    path: None,
                    timestamp: wp.timestamp,
                    value: CellValue::Tombstone {
                        local_deletion_time: wp.now_seconds,
                    },
                });
            }
        }
        Evaluated::Bytes(bytes) => {
            if c.typ.is_counter() {
                return Err(invalid(format!(
                    "Cannot set the value of counter column {} (counters can only be incremented/decremented, not set)",
                    c.name
                )));
            }
            if c.typ.is_multicell() {
                // An overwrite deletes what was there just before this write's timestamp.
                row.column_deletions.push((c.id, wp.deletion(wp.timestamp - 1)));
                let value = deserialize(&c.typ, &bytes).map_err(|e| invalid(e.to_string()))?;
                row.cells.extend(collection_cells(c, &value, wp)?);
            } else {
                row.cells.push(Cell {
                    column: c.id,
                    path: None,
                    timestamp: wp.timestamp,
                    value: CellValue::Live {
                        value: bytes,
                        ttl: wp.ttl(),
                    },
                });
            }
        }
    }
    Ok(())
}

fn mutation_for(table: &TableDef, key: &[u8]) -> Mutation {
    Mutation::new(TableId(table.id), PartitionKey::new(key.to_vec()))
}

fn check_key_value(c: &ColumnDef, v: &Evaluated) -> Result<Vec<u8>> {
    match v {
        Evaluated::Bytes(b) => {
            if b.len() > u16::MAX as usize && c.kind == ColumnKind::PartitionKey {
                return Err(invalid(format!(
                    "Key length of {} is longer than maximum of 65535",
                    b.len()
                )));
            }
            Ok(b.clone())
        }
        Evaluated::Null => Err(invalid(format!(
            "Invalid null value in condition for column {}",
            c.name
        ))),
        Evaluated::Unset => Err(invalid(format!("Invalid unset value for column {}", c.name))),
    }
}

/// Builds the mutation of an INSERT.
pub(crate) fn insert(
    table: &TableDef,
    ins: &ast::Insert,
    binds: Binds,
    wp: &WriteParams,
) -> Result<Vec<Mutation>> {
    let assigned = insert_values(table, ins, binds)?;
    insert_assigned(table, assigned, wp)
}

/// The evaluated value of every column an INSERT assigns (terms are evaluated exactly once, so a
/// conditional INSERT can build its mutation later with the LWT timestamp).
pub(crate) fn insert_values<'a>(
    table: &'a TableDef,
    ins: &'a ast::Insert,
    binds: Binds,
) -> Result<Vec<(&'a str, Evaluated)>> {
    if table.is_counter {
        return Err(invalid(
            "INSERT statements are not allowed on counter tables, use UPDATE instead",
        ));
    }
    let mut assigned = Vec::new();
    match &ins.values {
        ast::InsertValues::Columns { columns, values } => {
            if columns.len() != values.len() {
                return Err(invalid("Unmatched column names/values"));
            }
            for (name, term) in columns.iter().zip(values) {
                let c = column(table, name)?;
                if assigned.iter().any(|(n, _): &(&str, _)| *n == name) {
                    return Err(invalid(format!("Multiple definitions found for column {name}")));
                }
                let v = eval_bytes(term, &c.typ, &c.name, binds)?;
                assigned.push((name.as_str(), v));
            }
        }
        ast::InsertValues::Json { json, default_unset } => {
            assigned = crate::json_insert::assignments(table, json, *default_unset, binds)?;
        }
    }
    Ok(assigned)
}

/// Builds the mutation of an INSERT from its evaluated column values.
pub(crate) fn insert_assigned(
    table: &TableDef,
    assigned: Vec<(&str, Evaluated)>,
    wp: &WriteParams,
) -> Result<Vec<Mutation>> {
    let mut pk = Vec::new();
    let mut clustering = Vec::new();
    for c in table.partition_key() {
        let v = assigned
            .iter()
            .find(|(n, _)| *n == c.name)
            .ok_or_else(|| invalid(format!("Some partition key parts are missing: {}", c.name)))?;
        pk.push(check_key_value(c, &v.1)?);
    }
    for c in table.clustering() {
        let v = assigned
            .iter()
            .find(|(n, _)| *n == c.name)
            .ok_or_else(|| invalid(format!("Some clustering keys are missing: {}", c.name)))?;
        clustering.push((c, check_key_value(c, &v.1)?));
    }
    let key = partition_key_bytes(&pk.iter().map(|p| p.as_slice()).collect::<Vec<_>>())?;
    let mut m = mutation_for(table, &key);
    let encoded = encode_clustering_serialized(
        &clustering
            .iter()
            .map(|(c, v)| (&c.typ, v.as_slice(), c.descending))
            .collect::<Vec<_>>(),
    )
    .map_err(|e| invalid(e.to_string()))?;
    let mut row = RowMutation::new(Clustering::Row(encoded));
    row.marker = Some(Marker {
        timestamp: wp.timestamp,
        ttl: wp.ttl(),
    });
    let mut static_row = RowMutation::new(Clustering::Static);
    for (name, v) in assigned {
        let c = column(table, name)?;
        match c.kind {
            ColumnKind::PartitionKey | ColumnKind::Clustering => {}
            ColumnKind::Static => set_column(&mut static_row, c, v, wp)?,
            ColumnKind::Regular => set_column(&mut row, c, v, wp)?,
        }
    }
    if !static_row.cells.is_empty() || !static_row.column_deletions.is_empty() {
        m.rows.push(static_row);
    }
    m.rows.push(row);
    let mut mutations = vec![m];
    crate::index::add_entries(table, &mut mutations)?;
    Ok(mutations)
}

/// Builds the mutations of an UPDATE.
pub(crate) fn update(
    table: &TableDef,
    upd: &ast::Update,
    binds: Binds,
    wp: &WriteParams,
    prefetch: &dyn crate::collections::Prefetch,
) -> Result<Vec<Mutation>> {
    let keys = keys_from_where(table, &upd.where_clause, binds)?;
    let only_static = upd.assignments.iter().all(|a| {
        table
            .column(a.column())
            .is_some_and(|c| c.kind == ColumnKind::Static)
    });
    if keys.clustering_columns != table.clustering_len() && !only_static {
        return Err(invalid(format!(
            "Some clustering keys are missing: {}",
            table
                .clustering()
                .skip(keys.clustering_columns)
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let mut mutations = Vec::new();
    for key in &keys.partitions {
        let mut m = mutation_for(table, key);
        let mut row = RowMutation::new(Clustering::Row(keys.clustering[0].clone()));
        let mut static_row = RowMutation::new(Clustering::Static);
        for a in &upd.assignments {
            let c = column(table, a.column())?;
            if c.is_primary_key() {
                return Err(invalid(format!("PRIMARY KEY part {} found in SET part", c.name)));
            }
            crate::collections::check_assignment(c, a)?;
            let target = if c.kind == ColumnKind::Static {
                &mut static_row
            } else {
                &mut row
            };
            let current = || prefetch.cells(key, &target_clustering(c, &keys), c.id);
            match a {
                ast::Assignment::Set {
                    target: ast::ColumnTarget::Element { key: index, .. },
                    value,
                } if matches!(c.typ, CqlType::List(_)) => {
                    crate::collections::set_list_index(target, c, index, value, binds, wp, current)?;
                }
                ast::Assignment::Set {
                    target: ast::ColumnTarget::Field { field, .. },
                    value,
                } => crate::collections::set_udt_field(target, c, field, value, binds, wp)?,
                ast::Assignment::Subtract { value, .. } if matches!(c.typ, CqlType::List(_)) => {
                    crate::collections::discard_from_list(target, c, value, binds, wp, current)?;
                }
                ast::Assignment::Prepend { value, .. } => {
                    crate::collections::prepend_to_list(target, c, value, binds, wp)?;
                }
                ast::Assignment::Set {
                    target: ast::ColumnTarget::Column(_),
                    value,
                } => {
                    set_column(target, c, eval_bytes(value, &c.typ, &c.name, binds)?, wp)?;
                }
                ast::Assignment::Add { value, .. } | ast::Assignment::Subtract { value, .. }
                    if c.typ.is_counter() =>
                {
                    let delta = eval_i64(value, &CqlType::Bigint, &c.name, binds)?.ok_or_else(|| {
                        invalid(format!("Invalid null value for counter increment on {}", c.name))
                    })?;
                    let delta = if matches!(a, ast::Assignment::Subtract { .. }) {
                        -delta
                    } else {
                        delta
                    };
                    target.cells.push(Cell {
                        column: c.id,
                        path: None,
                        timestamp: wp.timestamp,
                        value: CellValue::CounterDelta(delta),
                    });
                }
                ast::Assignment::Add { value, .. } if c.typ.is_multicell() => {
                    if let Some(v) = eval_value(value, &c.typ, &c.name, binds)? {
                        target.cells.extend(collection_cells(c, &v, wp)?);
                    }
                }
                ast::Assignment::Subtract { value, .. } if c.typ.is_multicell() => {
                    // The value removed from a map is the set of its keys.
                    let removed = match &c.typ {
                        CqlType::Map(k, _) => CqlType::Set(k.clone()),
                        other => other.clone(),
                    };
                    let Some(v) = eval_value(value, &removed, &c.name, binds)? else {
                        continue;
                    };
                    match (&c.typ, v) {
                        (CqlType::Set(el), CqlValue::Set(items))
                        | (CqlType::Map(el, _), CqlValue::Set(items)) => {
                            for item in items {
                                target.cells.push(Cell {
                                    column: c.id,
                                    path: Some(
                                        encode_element_key(el, &item).map_err(|e| invalid(e.to_string()))?,
                                    ),
                                    timestamp: wp.timestamp,
                                    value: CellValue::Tombstone {
                                        local_deletion_time: wp.now_seconds,
                                    },
                                });
                            }
                        }
                        _ => {
                            return Err(invalid(format!(
                                "Removing elements from {} is not supported yet",
                                c.name
                            )));
                        }
                    }
                }
                ast::Assignment::Set {
                    target: ast::ColumnTarget::Element { key, .. },
                    value,
                } => match &c.typ {
                    CqlType::Map(kt, vt) => {
                        let k = eval_value(key, kt, &c.name, binds)?
                            .ok_or_else(|| invalid("Invalid null map key"))?;
                        match eval_value(value, vt, &c.name, binds)? {
                            Some(v) => {
                                target
                                    .cells
                                    .extend(collection_cells(c, &CqlValue::Map(vec![(k, v)]), wp)?)
                            }
                            None => target.cells.push(Cell {
                                column: c.id,
                                path: Some(encode_element_key(kt, &k).map_err(|e| invalid(e.to_string()))?),
                                timestamp: wp.timestamp,
                                value: CellValue::Tombstone {
                                    local_deletion_time: wp.now_seconds,
                                },
                            }),
                        }
                    }
                    _ => {
                        return Err(invalid(format!(
                            "Element assignment on {} is not supported yet",
                            c.name
                        )));
                    }
                },
                _ => return Err(invalid(format!("Invalid operation for column {}", c.name))),
            }
        }
        if table.clustering_len() == 0 || keys.clustering_columns == table.clustering_len() {
            if !table.is_counter {
                // UPDATE does not write a row marker: a row only made of nulls disappears, as in Cassandra.
            }
            if !row.cells.is_empty() || !row.column_deletions.is_empty() {
                m.rows.push(row);
            }
        }
        if !static_row.cells.is_empty() || !static_row.column_deletions.is_empty() {
            m.rows.push(static_row);
        }
        mutations.push(m);
    }
    crate::index::add_entries(table, &mut mutations)?;
    Ok(mutations)
}

/// Builds the mutations of a DELETE.
pub(crate) fn delete(
    table: &TableDef,
    del: &ast::Delete,
    binds: Binds,
    wp: &WriteParams,
    prefetch: &dyn crate::collections::Prefetch,
) -> Result<Vec<Mutation>> {
    let keys = keys_from_where(table, &del.where_clause, binds)?;
    let deletion = wp.deletion(wp.timestamp);
    let mut mutations = Vec::new();
    for key in &keys.partitions {
        let mut m = mutation_for(table, key);
        if del.columns.is_empty() {
            if keys.clustering_columns == 0 {
                m.partition_deletion = Some(deletion);
            } else if keys.clustering_columns == table.clustering_len() {
                let mut row = RowMutation::new(Clustering::Row(keys.clustering[0].clone()));
                row.deletion = Some(deletion);
                m.rows.push(row);
            } else {
                let prefix = keys.clustering[0].clone();
                m.range_tombstones.push(RangeTombstone {
                    start: Bound::Included(prefix.clone()),
                    end: Bound::Included(prefix),
                    deletion,
                });
            }
        } else {
            let mut row = RowMutation::new(Clustering::Row(keys.clustering[0].clone()));
            let mut static_row = RowMutation::new(Clustering::Static);
            for target in &del.columns {
                let c = column(table, target.column())?;
                if c.is_primary_key() {
                    return Err(invalid(format!(
                        "Invalid identifier {} for deletion (should not be a PRIMARY KEY part)",
                        c.name
                    )));
                }
                crate::collections::check_deletion(c, target)?;
                let r = if c.kind == ColumnKind::Static {
                    &mut static_row
                } else {
                    &mut row
                };
                match target {
                    ast::ColumnTarget::Column(_) => set_column(r, c, Evaluated::Null, wp)?,
                    ast::ColumnTarget::Element { key: index, .. } if matches!(c.typ, CqlType::List(_)) => {
                        let current = || prefetch.cells(key, &target_clustering(c, &keys), c.id);
                        crate::collections::delete_list_index(r, c, index, binds, wp, current)?;
                    }
                    ast::ColumnTarget::Element { key, .. } => {
                        let kt = match &c.typ {
                            CqlType::Map(k, _) => k,
                            CqlType::Set(k) => k,
                            _ => {
                                return Err(invalid(format!(
                                    "Element deletion on {} is not supported yet",
                                    c.name
                                )));
                            }
                        };
                        let k = eval_value(key, kt, &c.name, binds)?
                            .ok_or_else(|| invalid("Invalid null key"))?;
                        r.cells.push(Cell {
                            column: c.id,
                            path: Some(encode_element_key(kt, &k).map_err(|e| invalid(e.to_string()))?),
                            timestamp: wp.timestamp,
                            value: CellValue::Tombstone {
                                local_deletion_time: wp.now_seconds,
                            },
                        });
                    }
                    ast::ColumnTarget::Field { field, .. } => {
                        crate::collections::delete_udt_field(r, c, field, wp)?;
                    }
                }
            }
            if !row.cells.is_empty() || !row.column_deletions.is_empty() {
                if keys.clustering_columns != table.clustering_len() {
                    return Err(QueryError::Invalid("Some clustering keys are missing".into()));
                }
                m.rows.push(row);
            }
            if !static_row.cells.is_empty() || !static_row.column_deletions.is_empty() {
                m.rows.push(static_row);
            }
        }
        mutations.push(m);
    }
    Ok(mutations)
}

/// The row a column of an UPDATE/DELETE lives in: the static row for static columns.
fn target_clustering(c: &ColumnDef, keys: &KeySelection) -> Clustering {
    if c.kind == ColumnKind::Static {
        Clustering::Static
    } else {
        Clustering::Row(keys.clustering[0].clone())
    }
}
