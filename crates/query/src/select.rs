//! SELECT: turning stored partitions into full rows (every column plus write metadata); the read path
//! itself (restrictions, projection, aggregation, paging) lives in `read`.

use mica_cql_syntax as ast;
use mica_cql_types::{CqlType, decode_clustering_serialized};
use mica_schema::{ColumnKind, TableDef};
use mica_storage::{CellView, Clustering, PartitionView, Value};

use crate::engine::{QueryEngine, QueryResult};
use crate::error::{QueryError, Result};
use crate::values::{Binds, split_partition_key};

/// One result row before projection: every table column, plus write metadata of simple columns.
#[derive(Clone, Debug)]
pub(crate) struct FullRow {
    pub(crate) values: Vec<Option<Vec<u8>>>,
    pub(crate) writetime: Vec<Option<i64>>,
    pub(crate) ttl: Vec<Option<i32>>,
    /// Position for paging: the partition key and the clustering bytes (None for a static-only row).
    pub(crate) key: Vec<u8>,
    pub(crate) clustering: Option<Vec<u8>>,
}

/// Builds full rows for one partition in clustering order.
pub(crate) fn rows_of_partition(
    table: &TableDef,
    p: &PartitionView,
    now_seconds: i64,
    out: &mut Vec<FullRow>,
) -> Result<()> {
    let ncols = table.columns.len();
    let pk = split_partition_key(&p.key.key, table.partition_key_len())?;
    let clustering_types: Vec<(&CqlType, bool)> =
        table.clustering().map(|c| (&c.typ, c.descending)).collect();
    let base = |clustering: Option<Vec<u8>>| FullRow {
        values: vec![None; ncols],
        writetime: vec![None; ncols],
        ttl: vec![None; ncols],
        key: p.key.key.clone(),
        clustering,
    };
    let mut static_values = base(None);
    if let Some(s) = &p.static_row {
        fill_cells(table, &s.cells, &mut static_values, now_seconds)?;
    }
    let fill_keys = |row: &mut FullRow, ck: &[Vec<u8>]| {
        for (i, v) in pk.iter().enumerate() {
            row.values[i] = Some(v.clone());
        }
        for (i, v) in ck.iter().enumerate() {
            row.values[pk.len() + i] = Some(v.clone());
        }
    };
    // A row without a live marker lives only through its cells, and cells of dropped columns no longer count.
    let visible = |cells: &[CellView]| {
        cells
            .iter()
            .any(|c| table.column_by_id(c.column).is_some() && !table.is_dropped(c.column, c.timestamp))
    };
    let live_rows: Vec<_> = p
        .rows
        .iter()
        .filter(|r| r.marker.is_some() || visible(&r.cells))
        .collect();
    if live_rows.is_empty() {
        if p.static_row.as_ref().is_some_and(|s| visible(&s.cells)) {
            let mut row = static_values;
            fill_keys(&mut row, &[]);
            out.push(row);
        }
        return Ok(());
    }
    for r in live_rows {
        let Clustering::Row(ck_bytes) = &r.clustering else {
            continue;
        };
        let ck = if clustering_types.is_empty() {
            Vec::new()
        } else {
            decode_clustering_serialized(&clustering_types, ck_bytes)
                .map_err(|e| QueryError::Server(format!("stored clustering key is unreadable: {e}")))?
        };
        let mut row = base(Some(ck_bytes.clone()));
        for i in 0..ncols {
            if table.columns[i].kind == ColumnKind::Static {
                row.values[i] = static_values.values[i].clone();
                row.writetime[i] = static_values.writetime[i];
                row.ttl[i] = static_values.ttl[i];
            }
        }
        fill_keys(&mut row, &ck);
        fill_cells(table, &r.cells, &mut row, now_seconds)?;
        out.push(row);
    }
    Ok(())
}

/// Places cell values into a row; non-frozen collections are reassembled from their element cells.
fn fill_cells(table: &TableDef, cells: &[CellView], row: &mut FullRow, now_seconds: i64) -> Result<()> {
    let mut i = 0;
    while i < cells.len() {
        let column = cells[i].column;
        let mut j = i;
        while j < cells.len() && cells[j].column == column {
            j += 1;
        }
        let group = &cells[i..j];
        i = j;
        let Some(idx) = table.columns.iter().position(|c| c.id == column) else {
            continue;
        };
        let c = &table.columns[idx];
        let group: Vec<&CellView> = group
            .iter()
            .filter(|cell| !table.is_dropped(column, cell.timestamp))
            .collect();
        if group.is_empty() {
            continue;
        }
        if matches!(c.typ, CqlType::Udt(_)) {
            let cells: Vec<(Vec<u8>, Vec<u8>)> = group
                .iter()
                .filter_map(|cell| match (&cell.path, &cell.value) {
                    (Some(p), Value::Bytes(v)) => Some((p.clone(), v.clone())),
                    _ => None,
                })
                .collect();
            row.values[idx] = crate::collections::multicell_value(&c.typ, &cells)?;
        } else if c.typ.is_multicell() {
            let mut body = Vec::new();
            body.extend_from_slice(&(group.len() as i32).to_be_bytes());
            for cell in &group {
                let Value::Bytes(v) = &cell.value else { continue };
                match &c.typ {
                    CqlType::Map(..) => {
                        if v.len() < 4 {
                            return Err(QueryError::Server("stored map cell is truncated".into()));
                        }
                        let klen = u32::from_be_bytes([v[0], v[1], v[2], v[3]]) as usize;
                        if v.len() < 4 + klen {
                            return Err(QueryError::Server("stored map cell is truncated".into()));
                        }
                        body.extend_from_slice(&(klen as i32).to_be_bytes());
                        body.extend_from_slice(&v[4..4 + klen]);
                        body.extend_from_slice(&((v.len() - 4 - klen) as i32).to_be_bytes());
                        body.extend_from_slice(&v[4 + klen..]);
                    }
                    _ => {
                        body.extend_from_slice(&(v.len() as i32).to_be_bytes());
                        body.extend_from_slice(v);
                    }
                }
            }
            row.values[idx] = Some(body);
        } else if let Some(cell) = group.last() {
            row.values[idx] = Some(match &cell.value {
                Value::Bytes(b) => b.clone(),
                Value::Counter(n) => n.to_be_bytes().to_vec(),
            });
            row.writetime[idx] = Some(cell.timestamp);
            row.ttl[idx] = cell.expires_at.map(|e| (e - now_seconds).max(0) as i32);
        }
    }
    Ok(())
}

impl QueryEngine {
    /// Executes a SELECT (the read path lives in [`crate::read`]); without a consistency level the read is
    /// local (internal reads), with one it goes through the data plane for replicated tables.
    pub(crate) fn select(
        &self,
        table: &TableDef,
        sel: &ast::Select,
        binds: Binds,
        page_size: Option<i32>,
        paging_state: Option<&[u8]>,
        consistency: Option<mica_cql_protocol::Consistency>,
    ) -> Result<QueryResult> {
        crate::read::execute(self, table, sel, binds, page_size, paging_state, consistency)
    }
}
