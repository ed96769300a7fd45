//! SELECT: reading partitions (or virtual rows), filtering, projecting, aggregating and paging.

use bytes::Bytes;
use mica_cql_protocol::{ColumnSpec, RowsMetadata};
use mica_cql_syntax as ast;
use mica_cql_types::{CqlType, compare_serialized, decode_clustering_serialized};
use mica_schema::{ColumnKind, TableDef};
use mica_storage::{
    CellView, Clustering, PartitionKey, PartitionView, ReadSelection, ScanLimits, ScanRange, ScanStart,
    TableId, Value,
};
use std::cmp::Ordering;

use crate::engine::{QueryEngine, QueryResult};
use crate::error::{QueryError, Result, invalid};
use crate::values::{Binds, Evaluated, eval_bytes, eval_i64, split_partition_key};

/// Rows above which a page is always cut, whatever page size the client asked for.
const MAX_PAGE_ROWS: usize = 10_000;

/// One result row before projection: every table column, plus write metadata of simple columns.
struct FullRow {
    values: Vec<Option<Vec<u8>>>,
    writetime: Vec<Option<i64>>,
    ttl: Vec<Option<i32>>,
    /// Position for paging: the partition key and the clustering bytes (None for a static-only row).
    key: Vec<u8>,
    clustering: Option<Vec<u8>>,
}

enum Output {
    Column(usize),
    WriteTime(usize),
    Ttl(usize),
    CountRows,
}

/// Builds full rows for one partition in clustering order.
fn rows_of_partition(
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

/// A WHERE relation evaluated against full rows.
struct Filter {
    column: usize,
    op: ast::Operator,
    values: Vec<Vec<u8>>,
    typ: CqlType,
}

impl Filter {
    fn matches(&self, row: &FullRow) -> bool {
        let Some(v) = &row.values[self.column] else {
            return false;
        };
        let cmp = |other: &Vec<u8>| compare_serialized(&self.typ, v, other).unwrap_or(Ordering::Less);
        match self.op {
            ast::Operator::Eq => cmp(&self.values[0]) == Ordering::Equal,
            ast::Operator::In => self.values.iter().any(|x| cmp(x) == Ordering::Equal),
            ast::Operator::Lt => cmp(&self.values[0]) == Ordering::Less,
            ast::Operator::Le => cmp(&self.values[0]) != Ordering::Greater,
            ast::Operator::Gt => cmp(&self.values[0]) == Ordering::Greater,
            ast::Operator::Ge => cmp(&self.values[0]) != Ordering::Less,
            ast::Operator::Neq => cmp(&self.values[0]) != Ordering::Equal,
            _ => false,
        }
    }
}

/// A `token(pk) op x` restriction.
struct TokenFilter {
    op: ast::Operator,
    token: i64,
}

impl QueryEngine {
    pub(crate) fn select(
        &self,
        table: &TableDef,
        sel: &ast::Select,
        binds: Binds,
        page_size: Option<i32>,
        paging_state: Option<&[u8]>,
    ) -> Result<QueryResult> {
        let now_seconds = mica_types::now_seconds();
        // Projection.
        let mut outputs = Vec::new();
        let mut specs = Vec::new();
        let spec = |name: String, typ: CqlType| ColumnSpec {
            keyspace: table.keyspace.clone(),
            table: table.name.clone(),
            name,
            typ,
        };
        let column_index = |name: &str| {
            table
                .columns
                .iter()
                .position(|c| c.name == name)
                .ok_or_else(|| invalid(format!("Undefined column name {name} in selection clause")))
        };
        match &sel.selection {
            ast::Selection::Wildcard => {
                for (i, c) in table.columns.iter().enumerate() {
                    outputs.push(Output::Column(i));
                    specs.push(spec(c.name.clone(), c.typ.clone()));
                }
            }
            ast::Selection::Selectors(selectors) => {
                for s in selectors {
                    let (output, name, typ) = match &s.selectable {
                        ast::Selectable::Column(name) => {
                            let i = column_index(name)?;
                            (Output::Column(i), name.clone(), table.columns[i].typ.clone())
                        }
                        ast::Selectable::CountRows => {
                            (Output::CountRows, "count".to_string(), CqlType::Bigint)
                        }
                        ast::Selectable::Function { name, args }
                            if name.name.eq_ignore_ascii_case("count") && args.len() == 1 =>
                        {
                            (
                                Output::CountRows,
                                "system.count(*)".replace("(*)", "").replace("system.", ""),
                                CqlType::Bigint,
                            )
                        }
                        ast::Selectable::Metadata { kind, arg } => {
                            let ast::Selectable::Column(name) = &**arg else {
                                return Err(invalid("writetime()/ttl() take a column name"));
                            };
                            let i = column_index(name)?;
                            if table.columns[i].is_primary_key() {
                                return Err(invalid(format!(
                                    "Cannot use selection function {} on PRIMARY KEY part {name}",
                                    if matches!(kind, ast::MetadataKind::Ttl) {
                                        "ttl"
                                    } else {
                                        "writeTime"
                                    }
                                )));
                            }
                            match kind {
                                ast::MetadataKind::Ttl => {
                                    (Output::Ttl(i), format!("ttl({name})"), CqlType::Int)
                                }
                                _ => (
                                    Output::WriteTime(i),
                                    format!("writetime({name})"),
                                    CqlType::Bigint,
                                ),
                            }
                        }
                        other => {
                            return Err(invalid(format!("Unsupported selector {other:?} (coming soon)")));
                        }
                    };
                    specs.push(spec(s.alias.clone().unwrap_or(name), typ));
                    outputs.push(output);
                }
            }
        }
        let aggregate = outputs.iter().any(|o| matches!(o, Output::CountRows));
        if aggregate && outputs.iter().any(|o| !matches!(o, Output::CountRows)) {
            return Err(invalid(
                "Mixing aggregate functions and plain columns is not supported yet",
            ));
        }

        // Restrictions.
        let mut filters = Vec::new();
        let mut token_filters = Vec::new();
        let mut needs_filtering = false;
        let mut index: Option<crate::index::IndexRestriction> = None;
        for r in &sel.where_clause {
            if index.is_none()
                && !table.is_virtual
                && let Some(ix) = crate::index::restriction_for(table, r, binds)?
            {
                let on_key = table.columns[ix.column].is_primary_key();
                index = Some(ix);
                if !on_key {
                    continue;
                }
            }
            match &r.lhs {
                ast::RelationLhs::Column(name) => {
                    let i =
                        column_index(name).map_err(|_| invalid(format!("Undefined column name {name}")))?;
                    let c = &table.columns[i];
                    if !c.is_primary_key() {
                        needs_filtering = true;
                    }
                    let values = match (&r.op, &r.rhs) {
                        (_, ast::RelationRhs::Term(t)) if r.op != ast::Operator::In => {
                            vec![non_null(eval_bytes(t, &c.typ, &c.name, binds)?, name)?]
                        }
                        (ast::Operator::In, ast::RelationRhs::List(items)) => items
                            .iter()
                            .map(|t| non_null(eval_bytes(t, &c.typ, &c.name, binds)?, name))
                            .collect::<Result<_>>()?,
                        (ast::Operator::In, ast::RelationRhs::Term(t)) => {
                            let list = CqlType::List(Box::new(c.typ.clone()));
                            match eval_bytes(t, &list, &format!("in({name})"), binds)? {
                                Evaluated::Bytes(b) => split_list(&b)?,
                                _ => {
                                    return Err(invalid(format!(
                                        "Invalid null value for IN restriction on {name}"
                                    )));
                                }
                            }
                        }
                        _ => return Err(invalid(format!("Unsupported restriction on {name}"))),
                    };
                    filters.push(Filter {
                        column: i,
                        op: r.op,
                        values,
                        typ: c.typ.clone(),
                    });
                }
                ast::RelationLhs::Token(_) => {
                    let ast::RelationRhs::Term(t) = &r.rhs else {
                        return Err(invalid("Invalid token restriction"));
                    };
                    let token = eval_i64(t, &CqlType::Bigint, "partition key token", binds)?
                        .ok_or_else(|| invalid("Invalid null token"))?;
                    token_filters.push(TokenFilter { op: r.op, token });
                }
                _ => return Err(invalid("This kind of restriction is not supported yet")),
            }
        }
        if needs_filtering && !sel.allow_filtering && !table.is_virtual {
            return Err(invalid(
                "Cannot execute this query as it might involve data filtering and thus may have unpredictable performance. If you want to execute this query despite the performance unpredictability, use ALLOW FILTERING",
            ));
        }
        let limit = match &sel.limit {
            Some(t) => {
                let l = eval_i64(t, &CqlType::Int, "[limit]", binds)?.unwrap_or(i64::MAX);
                if l <= 0 {
                    return Err(invalid("LIMIT must be strictly positive"));
                }
                l as usize
            }
            None => usize::MAX,
        };
        let per_partition_limit = match &sel.per_partition_limit {
            Some(t) => eval_i64(t, &CqlType::Int, "[per_partition_limit]", binds)?.map(|l| l.max(1) as usize),
            None => None,
        };
        let reversed = match sel.order_by.first() {
            Some(o) => {
                let c = table
                    .column(&o.column)
                    .ok_or_else(|| invalid(format!("Undefined column name {}", o.column)))?;
                if c.kind != ColumnKind::Clustering {
                    return Err(invalid(
                        "Order by is currently only supported on the clustered columns of the PRIMARY KEY",
                    ));
                }
                (o.direction == ast::Direction::Desc) != c.descending
            }
            None => false,
        };

        // Partition keys restricted by `=`/`IN` on every partition key column: read those partitions only.
        let pk_len = table.partition_key_len();
        let keyed = (0..pk_len).all(|i| {
            filters
                .iter()
                .any(|f| f.column == i && matches!(f.op, ast::Operator::Eq | ast::Operator::In))
        });
        let resume = paging_state.map(decode_paging_state).transpose()?;
        let page = if aggregate {
            usize::MAX
        } else {
            page_size
                .filter(|p| *p > 0)
                .map(|p| p as usize)
                .unwrap_or(MAX_PAGE_ROWS * 100)
        };
        let want = page.min(limit.saturating_sub(resume.as_ref().map_or(0, |r| r.returned)));

        let mut rows: Vec<FullRow> = Vec::new();
        let mut more = false;
        let accept = |row: &FullRow| {
            filters.iter().all(|f| f.matches(row)) && index.as_ref().is_none_or(|ix| ix.matches(&row.values))
        };
        let token_ok = |key: &[u8]| {
            let t = mica_types::Token::for_key(key).0;
            token_filters.iter().all(|f| match f.op {
                ast::Operator::Gt => t > f.token,
                ast::Operator::Ge => t >= f.token,
                ast::Operator::Lt => t < f.token,
                ast::Operator::Le => t <= f.token,
                ast::Operator::Eq => t == f.token,
                _ => false,
            })
        };
        let push_partition = |prows: Vec<FullRow>, rows: &mut Vec<FullRow>, more: &mut bool| -> bool {
            let mut prows = prows;
            if reversed {
                prows.reverse();
            }
            let mut taken = 0;
            for row in prows {
                if !accept(&row) {
                    continue;
                }
                if let Some(r) = &resume
                    && row.key == r.key
                    && !r.passed(&row, reversed)
                {
                    continue;
                }
                if per_partition_limit.is_some_and(|l| taken >= l) {
                    break;
                }
                if rows.len() >= want {
                    *more = true;
                    return false;
                }
                taken += 1;
                rows.push(row);
            }
            true
        };

        if table.is_virtual {
            let all = crate::peers::with_peer_rows(
                self,
                table,
                crate::system::virtual_rows(table, &self.schema(), &self.local)?,
            );
            let n = table.columns.len();
            let skip = resume.as_ref().map_or(0, |r| r.returned);
            let mut prows = Vec::new();
            for values in all {
                let key = crate::values::partition_key_bytes(
                    &values[..pk_len]
                        .iter()
                        .map(|v| v.as_deref().unwrap_or(&[]))
                        .collect::<Vec<_>>(),
                )?;
                prows.push(FullRow {
                    values,
                    writetime: vec![None; n],
                    ttl: vec![None; n],
                    key,
                    clustering: None,
                });
            }
            let filtered: Vec<FullRow> = prows
                .into_iter()
                .filter(|r| accept(r) && token_ok(&r.key))
                .skip(skip)
                .collect();
            for row in filtered {
                if rows.len() >= want {
                    more = true;
                    break;
                }
                rows.push(row);
            }
        } else if keyed {
            let mut keys: Vec<Vec<u8>> = vec![Vec::new()];
            let mut parts: Vec<Vec<Vec<u8>>> = vec![Vec::new()];
            for i in 0..pk_len {
                let f = filters
                    .iter()
                    .find(|f| f.column == i && matches!(f.op, ast::Operator::Eq | ast::Operator::In));
                let values = f.map(|f| f.values.clone()).unwrap_or_default();
                parts = parts
                    .iter()
                    .flat_map(|p| {
                        values.iter().map(move |v| {
                            let mut p = p.clone();
                            p.push(v.clone());
                            p
                        })
                    })
                    .collect();
            }
            keys.clear();
            for p in parts {
                let k =
                    crate::values::partition_key_bytes(&p.iter().map(|x| x.as_slice()).collect::<Vec<_>>())?;
                if !keys.contains(&k) {
                    keys.push(k);
                }
            }
            let mut started = resume.is_none();
            for key in keys {
                if !started {
                    if resume.as_ref().is_some_and(|r| r.key == key) {
                        started = true;
                    } else {
                        continue;
                    }
                }
                if !token_ok(&key) {
                    continue;
                }
                let pk = PartitionKey::new(key);
                let view = self.storage.read_partition(
                    TableId(table.id),
                    &pk,
                    &ReadSelection::all(),
                    now_seconds,
                )?;
                let mut prows = Vec::new();
                if let Some(view) = view {
                    rows_of_partition(table, &view, now_seconds, &mut prows)?;
                }
                if !push_partition(prows, &mut rows, &mut more) {
                    break;
                }
            }
        } else if let Some(ix) = &index {
            let from = resume.as_ref().map(|r| r.key.as_slice());
            for (pk, selection) in ix.candidates(&*self.storage, now_seconds, from)? {
                if !token_ok(&pk.key) {
                    continue;
                }
                let view = self
                    .storage
                    .read_partition(TableId(table.id), &pk, &selection, now_seconds)?;
                let mut prows = Vec::new();
                if let Some(view) = view {
                    rows_of_partition(table, &view, now_seconds, &mut prows)?;
                }
                if !push_partition(prows, &mut rows, &mut more) {
                    break;
                }
            }
        } else {
            let start = match &resume {
                Some(r) => ScanStart::Key {
                    key: PartitionKey::new(r.key.clone()),
                    inclusive: true,
                },
                None => ScanStart::Unbounded,
            };
            let range = ScanRange {
                start,
                ..ScanRange::all()
            };
            let stream = self.storage.scan(
                TableId(table.id),
                &range,
                &ReadSelection::all(),
                ScanLimits::default(),
                now_seconds,
            )?;
            for view in stream {
                let view = view?;
                if !token_ok(&view.key.key) {
                    continue;
                }
                let mut prows = Vec::new();
                rows_of_partition(table, &view, now_seconds, &mut prows)?;
                if !push_partition(prows, &mut rows, &mut more) {
                    break;
                }
            }
        }

        if aggregate {
            let count = rows.len().min(limit) as i64;
            let row = outputs
                .iter()
                .map(|_| Some(Bytes::from(count.to_be_bytes().to_vec())))
                .collect();
            return Ok(QueryResult::Rows {
                metadata: RowsMetadata::new(specs),
                rows: vec![row],
            });
        }
        let returned_before = resume.as_ref().map_or(0, |r| r.returned);
        let paging = if more && returned_before + rows.len() < limit {
            rows.last().map(|last| {
                encode_paging_state(
                    &last.key,
                    last.clustering.as_deref(),
                    returned_before + rows.len(),
                )
            })
        } else {
            None
        };
        let out_rows = rows
            .iter()
            .map(|r| {
                outputs
                    .iter()
                    .map(|o| match o {
                        Output::Column(i) => r.values[*i].clone().map(Bytes::from),
                        Output::WriteTime(i) => {
                            r.writetime[*i].map(|t| Bytes::from(t.to_be_bytes().to_vec()))
                        }
                        Output::Ttl(i) => r.ttl[*i].map(|t| Bytes::from(t.to_be_bytes().to_vec())),
                        Output::CountRows => None,
                    })
                    .collect()
            })
            .collect();
        let mut metadata = RowsMetadata::new(specs);
        metadata.paging_state = paging.map(Bytes::from);
        Ok(QueryResult::Rows {
            metadata,
            rows: out_rows,
        })
    }
}

fn non_null(e: Evaluated, name: &str) -> Result<Vec<u8>> {
    match e {
        Evaluated::Bytes(b) => Ok(b),
        _ => Err(invalid(format!(
            "Invalid null value in condition for column {name}"
        ))),
    }
}

/// Splits a serialized list into its element values.
fn split_list(b: &[u8]) -> Result<Vec<Vec<u8>>> {
    let bad = || invalid("Invalid list value for IN");
    let n = i32::from_be_bytes(b.get(0..4).ok_or_else(bad)?.try_into().map_err(|_| bad())?);
    let mut pos = 4;
    let mut out = Vec::new();
    for _ in 0..n.max(0) {
        let len = i32::from_be_bytes(
            b.get(pos..pos + 4)
                .ok_or_else(bad)?
                .try_into()
                .map_err(|_| bad())?,
        );
        pos += 4;
        let len = usize::try_from(len).map_err(|_| bad())?;
        out.push(b.get(pos..pos + len).ok_or_else(bad)?.to_vec());
        pos += len;
    }
    Ok(out)
}

/// Where the previous page stopped.
struct Resume {
    key: Vec<u8>,
    clustering: Option<Vec<u8>>,
    returned: usize,
}

impl Resume {
    /// Whether `row` (of the resume partition) comes after the last returned row.
    fn passed(&self, row: &FullRow, reversed: bool) -> bool {
        match (&self.clustering, &row.clustering) {
            (None, _) => false,
            (Some(last), Some(c)) => {
                if reversed {
                    c < last
                } else {
                    c > last
                }
            }
            (Some(_), None) => false,
        }
    }
}

const PAGING_STATE_VERSION: u8 = 1;

fn encode_paging_state(key: &[u8], clustering: Option<&[u8]>, returned: usize) -> Vec<u8> {
    let mut out = vec![PAGING_STATE_VERSION];
    out.extend_from_slice(&(key.len() as u32).to_be_bytes());
    out.extend_from_slice(key);
    match clustering {
        Some(c) => {
            out.push(1);
            out.extend_from_slice(&(c.len() as u32).to_be_bytes());
            out.extend_from_slice(c);
        }
        None => out.push(0),
    }
    out.extend_from_slice(&(returned as u64).to_be_bytes());
    out
}

fn decode_paging_state(b: &[u8]) -> Result<Resume> {
    let bad = || QueryError::Protocol("Invalid value for the paging state".into());
    let take = |pos: &mut usize, n: usize| -> Result<&[u8]> {
        let s = b.get(*pos..*pos + n).ok_or_else(bad)?;
        *pos += n;
        Ok(s)
    };
    let mut pos = 0;
    if take(&mut pos, 1)? != [PAGING_STATE_VERSION] {
        return Err(bad());
    }
    let len = u32::from_be_bytes(take(&mut pos, 4)?.try_into().map_err(|_| bad())?) as usize;
    let key = take(&mut pos, len)?.to_vec();
    let clustering = match take(&mut pos, 1)? {
        [1] => {
            let len = u32::from_be_bytes(take(&mut pos, 4)?.try_into().map_err(|_| bad())?) as usize;
            Some(take(&mut pos, len)?.to_vec())
        }
        _ => None,
    };
    let returned = u64::from_be_bytes(take(&mut pos, 8)?.try_into().map_err(|_| bad())?) as usize;
    Ok(Resume {
        key,
        clustering,
        returned,
    })
}
