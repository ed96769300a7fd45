//! Executing a SELECT: validation of DISTINCT, GROUP BY and ORDER BY as Cassandra 4.1 does it, reading the
//! restricted partitions (clustering slices pushed down to storage), and feeding rows through the
//! projection: row by row, or grouped and aggregated, with paging by rows or by groups.

use std::cmp::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use mica_cql_protocol::{ColumnSpec, RowsMetadata};
use mica_cql_syntax as ast;
use mica_cql_types::{CqlType, UdtDef, compare_serialized};
use mica_schema::{ColumnKind, Schema, TableDef};
use mica_storage::{
    Clustering, ClusteringBound, PartitionKey, ReadSelection, ScanLimits, ScanRange, ScanStart, TableId,
};
use std::ops::Bound;

use crate::engine::{QueryEngine, QueryResult};
use crate::error::{QueryError, Result, invalid};
use crate::restrictions::{self, Restrictions};
use crate::select::{FullRow, rows_of_partition};
use crate::selection::{Group, Projection, check_distinct};
use crate::values::{Binds, Evaluated, eval_bytes};

/// Rows returned at most in one page when the client did not ask for paging.
const MAX_UNPAGED_ROWS: usize = 1_000_000;
/// Version byte of the paging states this module writes.
const PAGING_STATE_VERSION: u8 = 2;

/// The result columns of a SELECT, exactly as execution returns them (prepared statement metadata).
pub(crate) fn result_columns(
    table: &TableDef,
    sel: &ast::Select,
    schema: &Schema,
) -> Result<Vec<ColumnSpec>> {
    let udt = udt_lookup(schema, &table.keyspace);
    let projection = Projection::prepare(table, sel, None, &udt)?;
    Structure::check(table, sel, &projection)?;
    Ok(projection.specs())
}

fn udt_lookup(schema: &Schema, keyspace: &str) -> impl Fn(&str) -> Option<Arc<UdtDef>> {
    let types = schema
        .keyspace(keyspace)
        .map(|k| k.types.clone())
        .unwrap_or_default();
    move |name: &str| types.get(name).cloned()
}

/// What the statement's shape says about grouping and ordering (no bound values needed).
struct Structure {
    /// Rows are grouped by this many leading primary key columns; `Some(0)` puts every row in one group.
    group_len: Option<usize>,
    /// Read partitions in reverse clustering order.
    reversed: bool,
    /// ORDER BY columns (index, descending) for sorting results across partitions.
    ordering: Vec<(usize, bool)>,
}

/// Column indexes restricted by `=` in the WHERE clause (single or multi-column).
fn eq_columns(table: &TableDef, relations: &[ast::Relation]) -> Vec<usize> {
    let index = |n: &str| table.columns.iter().position(|c| c.name == n);
    let mut out = Vec::new();
    for r in relations.iter().filter(|r| r.op == ast::Operator::Eq) {
        match &r.lhs {
            ast::RelationLhs::Column(n) => out.extend(index(n)),
            ast::RelationLhs::Tuple(ns) => out.extend(ns.iter().filter_map(|n| index(n))),
            _ => {}
        }
    }
    out
}

/// Whether every partition key column has an `=` or `IN` relation (a single- or multi-partition read).
fn is_keyed(table: &TableDef, relations: &[ast::Relation]) -> bool {
    table.partition_key().all(|c| {
        relations.iter().any(|r| {
            matches!(&r.lhs, ast::RelationLhs::Column(n) if *n == c.name)
                && matches!(r.op, ast::Operator::Eq | ast::Operator::In)
        })
    })
}

impl Structure {
    fn check(table: &TableDef, sel: &ast::Select, projection: &Projection) -> Result<Structure> {
        let keyed = is_keyed(table, &sel.where_clause);
        let eq = eq_columns(table, &sel.where_clause);
        if sel.distinct {
            let restricts_rows = sel.where_clause.iter().any(|r| match &r.lhs {
                ast::RelationLhs::Column(n) | ast::RelationLhs::Element { column: n, .. } => table
                    .column(n)
                    .is_some_and(|c| matches!(c.kind, ColumnKind::Clustering | ColumnKind::Regular)),
                ast::RelationLhs::Tuple(_) => true,
                _ => false,
            });
            if restricts_rows {
                return Err(invalid(
                    "SELECT DISTINCT with WHERE clause only supports restriction by partition key and/or static columns.",
                ));
            }
            check_distinct(
                table,
                projection,
                matches!(sel.selection, ast::Selection::Wildcard),
                !keyed,
            )?;
        }

        let group_len = if sel.group_by.is_empty() {
            projection.is_aggregate().then_some(0)
        } else {
            Some(group_by_len(table, sel, &eq)?)
        };

        let mut reversed = false;
        let mut ordering = Vec::new();
        if !sel.order_by.is_empty() {
            let mut columns = Vec::new();
            for o in &sel.order_by {
                let i = table
                    .columns
                    .iter()
                    .position(|c| c.name == o.column)
                    .ok_or_else(|| invalid(format!("Undefined column name {}", o.column)))?;
                columns.push((i, o.direction == ast::Direction::Desc));
            }
            if !keyed {
                return Err(invalid(
                    "ORDER BY is only supported when the partition key is restricted by an EQ or an IN.",
                ));
            }
            let pk_len = table.partition_key_len();
            let mut next = 0;
            let mut direction: Option<bool> = None;
            for &(i, desc) in &columns {
                let c = &table.columns[i];
                if c.kind != ColumnKind::Clustering {
                    return Err(invalid(format!(
                        "Order by is currently only supported on the clustered columns of the PRIMARY KEY, got {}",
                        c.name
                    )));
                }
                let position = i - pk_len;
                while next != position {
                    if next > position || !eq.contains(&(pk_len + next)) {
                        return Err(invalid(
                            "Order by currently only supports the ordering of columns following their declared order in the PRIMARY KEY",
                        ));
                    }
                    next += 1;
                }
                next += 1;
                let rev = desc != c.descending;
                if direction.is_some_and(|d| d != rev) {
                    return Err(invalid("Unsupported order by relation"));
                }
                direction = Some(rev);
            }
            reversed = direction.unwrap_or(false);
            ordering = columns;
        }
        Ok(Structure {
            group_len,
            reversed,
            ordering,
        })
    }
}

/// Validates GROUP BY (primary key columns in order, equality-restricted ones may be skipped, the whole
/// partition key) and returns how many primary key columns form a group.
fn group_by_len(table: &TableDef, sel: &ast::Select, eq: &[usize]) -> Result<usize> {
    const ORDER: &str =
        "Group by currently only support groups of columns following their declared order in the PRIMARY KEY";
    let pk_count = table.partition_key_len() + table.clustering_len();
    let mut next = 0;
    for g in &sel.group_by {
        let ast::Selectable::Column(name) = g else {
            return Err(invalid("Only column names are supported in the GROUP BY clause"));
        };
        let i = table
            .columns
            .iter()
            .position(|c| c.name == *name)
            .ok_or_else(|| invalid(format!("Undefined column name {name}")))?;
        if !table.columns[i].is_primary_key() {
            return Err(invalid(format!(
                "Group by is currently only supported on the columns of the PRIMARY KEY, got {name}"
            )));
        }
        loop {
            if next >= pk_count {
                return Err(invalid(ORDER));
            }
            let current = next;
            next += 1;
            if current == i {
                break;
            }
            if !eq.contains(&current) {
                return Err(invalid(ORDER));
            }
        }
    }
    if next < table.partition_key_len() {
        return Err(invalid(
            "Group by is not supported on only a part of the partition key",
        ));
    }
    if sel.distinct && next > table.partition_key_len() {
        return Err(invalid(
            "Grouping on clustering columns is not allowed for SELECT DISTINCT queries",
        ));
    }
    Ok(next)
}

/// Where the previous page stopped.
struct Resume {
    key: Vec<u8>,
    clustering: Option<Vec<u8>>,
    /// Rows (or groups) returned by earlier pages, for LIMIT.
    returned: usize,
    /// Rows (or groups) returned from the resume partition, for PER PARTITION LIMIT.
    in_partition: usize,
}

impl Resume {
    /// Whether `row` of the resume partition comes after the last returned row.
    fn passed(&self, row: &FullRow, reversed: bool) -> bool {
        match (&self.clustering, &row.clustering) {
            (Some(last), Some(c)) => {
                if reversed {
                    c < last
                } else {
                    c > last
                }
            }
            _ => false,
        }
    }
}

fn encode_paging_state(r: &Resume) -> Vec<u8> {
    let mut out = vec![PAGING_STATE_VERSION];
    out.extend_from_slice(&(r.key.len() as u32).to_be_bytes());
    out.extend_from_slice(&r.key);
    match &r.clustering {
        Some(c) => {
            out.push(1);
            out.extend_from_slice(&(c.len() as u32).to_be_bytes());
            out.extend_from_slice(c);
        }
        None => out.push(0),
    }
    out.extend_from_slice(&(r.returned as u64).to_be_bytes());
    out.extend_from_slice(&(r.in_partition as u64).to_be_bytes());
    out
}

fn decode_paging_state(b: &[u8]) -> Result<Resume> {
    let bad = || QueryError::Protocol("Invalid value for the paging state".into());
    let mut pos = 0;
    let mut take = |n: usize| -> Result<&[u8]> {
        let s = b.get(pos..pos + n).ok_or_else(bad)?;
        pos += n;
        Ok(s)
    };
    if take(1)? != [PAGING_STATE_VERSION] {
        return Err(bad());
    }
    let len = u32::from_be_bytes(take(4)?.try_into().map_err(|_| bad())?) as usize;
    let key = take(len)?.to_vec();
    let clustering = match take(1)? {
        [1] => {
            let len = u32::from_be_bytes(take(4)?.try_into().map_err(|_| bad())?) as usize;
            Some(take(len)?.to_vec())
        }
        _ => None,
    };
    let returned = u64::from_be_bytes(take(8)?.try_into().map_err(|_| bad())?) as usize;
    let in_partition = u64::from_be_bytes(take(8)?.try_into().map_err(|_| bad())?) as usize;
    Ok(Resume {
        key,
        clustering,
        returned,
        in_partition,
    })
}

/// A group being aggregated, with the position of its last row (for paging).
struct OpenGroup {
    key: Vec<Option<Vec<u8>>>,
    group: Group,
    partition: Vec<u8>,
    last: (Vec<u8>, Option<Vec<u8>>),
}

/// Receives the selected rows in order and produces the page's output rows.
struct Sink<'a> {
    projection: &'a Projection,
    group_len: Option<usize>,
    /// Output rows this page may hold.
    want: usize,
    per_partition: Option<usize>,
    /// Keep each output's first input row, to sort across partitions afterwards.
    keep_rows: bool,
    out: Vec<(Option<FullRow>, Vec<Option<Bytes>>)>,
    partition: Option<Vec<u8>>,
    in_partition: usize,
    resume_partition: Option<(Vec<u8>, usize)>,
    open: Option<OpenGroup>,
    /// Position and partition count after the last output, for the paging state.
    last: Option<(Vec<u8>, Option<Vec<u8>>, usize)>,
    more: bool,
}

impl Sink<'_> {
    fn enter_partition(&mut self, key: &[u8]) {
        if self.partition.as_deref() != Some(key) {
            self.partition = Some(key.to_vec());
            self.in_partition = match &self.resume_partition {
                Some((k, n)) if k == key => *n,
                _ => 0,
            };
        }
    }

    /// Feeds one row; returns false once the page is full.
    fn push(&mut self, row: FullRow) -> Result<bool> {
        match self.group_len {
            None => {
                self.enter_partition(&row.key);
                if self.per_partition.is_some_and(|l| self.in_partition >= l) {
                    return Ok(true);
                }
                if self.out.len() >= self.want {
                    self.more = true;
                    return Ok(false);
                }
                self.in_partition += 1;
                self.last = Some((row.key.clone(), row.clustering.clone(), self.in_partition));
                let output = self.projection.row(&row)?;
                self.out.push((self.keep_rows.then_some(row), output));
            }
            // One group for everything: PER PARTITION LIMIT then limits the rows of each partition.
            Some(0) => {
                self.enter_partition(&row.key);
                if self.per_partition.is_some_and(|l| self.in_partition >= l) {
                    return Ok(true);
                }
                self.in_partition += 1;
                let open = self.open.get_or_insert_with(|| OpenGroup {
                    key: Vec::new(),
                    group: self.projection.start_group(),
                    partition: row.key.clone(),
                    last: (Vec::new(), None),
                });
                self.projection.feed(&mut open.group, &row)?;
            }
            Some(n) => {
                let key: Vec<Option<Vec<u8>>> = row.values[..n].to_vec();
                if self
                    .open
                    .as_ref()
                    .is_some_and(|g| g.key == key && g.partition == row.key)
                {
                    if let Some(g) = &mut self.open {
                        self.projection.feed(&mut g.group, &row)?;
                        g.last = (row.key.clone(), row.clustering.clone());
                    }
                    return Ok(true);
                }
                self.close_group()?;
                self.enter_partition(&row.key);
                if self.per_partition.is_some_and(|l| self.in_partition >= l) {
                    return Ok(true);
                }
                if self.out.len() >= self.want {
                    self.more = true;
                    return Ok(false);
                }
                let mut group = self.projection.start_group();
                self.projection.feed(&mut group, &row)?;
                self.open = Some(OpenGroup {
                    key,
                    group,
                    partition: row.key.clone(),
                    last: (row.key.clone(), row.clustering.clone()),
                });
            }
        }
        Ok(true)
    }

    /// Emits the open group, if any.
    fn close_group(&mut self) -> Result<()> {
        if let Some(g) = self.open.take() {
            let output = self.projection.group_row(&g.group)?;
            let first = if self.keep_rows {
                g.group.first_row().cloned()
            } else {
                None
            };
            self.out.push((first, output));
            if self.group_len != Some(0) {
                self.in_partition += 1;
                self.last = Some((g.last.0, g.last.1, self.in_partition));
            }
        }
        Ok(())
    }

    /// Ends the input: emits the last group (or the single group of an aggregate over no rows).
    fn finish(&mut self) -> Result<()> {
        if self.group_len == Some(0) && self.open.is_none() {
            self.open = Some(OpenGroup {
                key: Vec::new(),
                group: self.projection.start_group(),
                partition: Vec::new(),
                last: (Vec::new(), None),
            });
        }
        self.close_group()
    }
}

/// Everything needed to read the rows of one SELECT.
struct Reader<'a> {
    engine: &'a QueryEngine,
    table: &'a TableDef,
    restrictions: &'a Restrictions,
    reversed: bool,
    distinct: bool,
    resume: Option<&'a Resume>,
    /// Storage may stop each partition after this many rows (no filtering or grouping in memory).
    row_limit: Option<usize>,
    /// Candidate partitions come from a secondary index (a range query with an indexed relation).
    via_index: bool,
    now_seconds: i64,
    /// The data plane and consistency level when the table is replicated.
    data: Option<(&'a dyn crate::DataPlane, mica_cql_protocol::Consistency)>,
}

impl Reader<'_> {
    /// Reads one partition from the data plane, or from local storage when the table is not replicated.
    fn read_partition(
        &self,
        table: TableId,
        key: &PartitionKey,
        selection: &ReadSelection,
    ) -> Result<Option<mica_storage::PartitionView>> {
        match self.data {
            Some((data, consistency)) => {
                data.read_partition(table, key, selection, self.now_seconds, consistency)
            }
            None => Ok(self
                .engine
                .storage
                .read_partition(table, key, selection, self.now_seconds)?),
        }
    }

    /// The storage selection; `after` restricts it to rows following that clustering (in read order),
    /// and `None` means no row can follow it.
    fn selection(&self, limit: Option<usize>, after: Option<&[u8]>) -> Option<ReadSelection> {
        let slices = match after {
            Some(last) => {
                let s = resume_slices(&self.restrictions.slices, last, self.reversed);
                if s.is_empty() {
                    return None;
                }
                s
            }
            None => self.restrictions.slices.clone(),
        };
        Some(ReadSelection {
            slices,
            include_static: true,
            reversed: self.reversed,
            limit_rows: if self.distinct { Some(1) } else { limit },
            columns: None,
        })
    }

    /// The selected rows of one partition view, filtered. A `continuation` view (a later chunk of a
    /// partition) never yields the partition's static-only row.
    fn rows(&self, view: &mica_storage::PartitionView, continuation: bool) -> Result<Vec<FullRow>> {
        let mut rows = Vec::new();
        rows_of_partition(self.table, view, self.now_seconds, &mut rows)?;
        if continuation {
            rows.retain(|r| r.clustering.is_some());
        }
        if self.distinct {
            rows.truncate(1);
            for row in &mut rows {
                for (i, c) in self.table.columns.iter().enumerate() {
                    if matches!(c.kind, ColumnKind::Clustering | ColumnKind::Regular) {
                        row.values[i] = None;
                        row.writetime[i] = None;
                        row.ttl[i] = None;
                    }
                }
                row.clustering = None;
            }
        } else if !self.restrictions.full_partitions() {
            rows.retain(|r| r.clustering.is_some());
        }
        // Rows read through an index ignore the clustering slices, so every relation is re-checked.
        let filters = if self.via_index {
            &self.restrictions.all_filters
        } else {
            &self.restrictions.filters
        };
        rows.retain(|r| {
            filters.iter().all(|f| f.matches(r))
                && self
                    .restrictions
                    .index
                    .as_ref()
                    .is_none_or(|ix| ix.matches(&r.values))
        });
        if let Some(resume) = self.resume
            && rows.first().is_some_and(|r| r.key == resume.key)
        {
            rows.retain(|r| resume.passed(r, self.reversed));
        }
        Ok(rows)
    }

    fn feed(&self, sink: &mut Sink) -> Result<()> {
        if self.restrictions.empty {
            return Ok(());
        }
        if self.table.is_virtual {
            return self.feed_virtual(sink);
        }
        let table_id = TableId(self.table.id);
        if let Some(keys) = &self.restrictions.keys {
            let start = match self.resume {
                Some(r) => keys.iter().position(|k| *k == r.key).unwrap_or(keys.len()),
                None => 0,
            };
            for key in &keys[start..] {
                if !self.restrictions.token_ok(key) {
                    continue;
                }
                let after = self
                    .resume
                    .filter(|r| r.key == *key)
                    .map(|r| r.clustering.as_deref());
                // A partition the previous page ended on with a static-only (or DISTINCT) row is done.
                if after == Some(None) {
                    continue;
                }
                if !self.feed_partition(key, None, after.flatten().map(<[u8]>::to_vec), sink)? {
                    return Ok(());
                }
            }
            return Ok(());
        }
        if let Some(ix) = &self.restrictions.index {
            let from = self.resume.map(|r| r.key.as_slice());
            for (pk, selection) in ix.candidates(&*self.engine.storage, self.now_seconds, from)? {
                if !self.restrictions.token_ok(&pk.key) {
                    continue;
                }
                if self
                    .resume
                    .is_some_and(|r| r.key == pk.key && r.clustering.is_none())
                {
                    continue;
                }
                let selection = ReadSelection {
                    reversed: self.reversed,
                    limit_rows: self.distinct.then_some(1),
                    ..selection
                };
                let view = self.read_partition(table_id, &pk, &selection)?;
                let Some(view) = view else { continue };
                for row in self.rows(&view, false)? {
                    if !sink.push(row)? {
                        return Ok(());
                    }
                }
            }
            return Ok(());
        }
        let (token_start, token_end) = self.restrictions.token_bounds();
        let start = match self.resume {
            Some(Resume {
                key,
                clustering: Some(c),
                ..
            }) => ScanStart::AfterRow {
                key: PartitionKey::new(key.clone()),
                clustering: Clustering::Row(c.clone()),
            },
            Some(r) => ScanStart::Key {
                key: PartitionKey::new(r.key.clone()),
                inclusive: false,
            },
            None => ScanStart::Token(token_start),
        };
        let range = ScanRange {
            start,
            end: token_end,
        };
        let Some(selection) = self.selection(self.row_limit, None) else {
            return Ok(());
        };
        let stream = match self.data {
            Some((data, consistency)) => {
                // The data plane resumes after the partition a page stopped inside; finish that one here.
                if let Some(Resume {
                    key,
                    clustering: Some(c),
                    ..
                }) = self.resume
                    && self.restrictions.token_ok(key)
                    && !self.feed_partition(key, None, Some(c.clone()), sink)?
                {
                    return Ok(());
                }
                data.scan(table_id, &range, &selection, self.now_seconds, consistency)?
            }
            None => self.engine.storage.scan(
                table_id,
                &range,
                &selection,
                ScanLimits::default(),
                self.now_seconds,
            )?,
        };
        for view in stream {
            let view = view?;
            if !self.restrictions.token_ok(&view.key.key) {
                continue;
            }
            let key = view.key.key.clone();
            if !self.feed_partition(&key, Some(view), None, sink)? {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Feeds one partition, starting with `first` (already read) or a read after clustering `after`.
    /// When storage stops at the row limit the partition is read on in further chunks, since rows the
    /// row builder drops (e.g. only cells of dropped columns) may have counted towards it. Returns false
    /// once the sink is full.
    fn feed_partition(
        &self,
        key: &[u8],
        mut first: Option<mica_storage::PartitionView>,
        mut after: Option<Vec<u8>>,
        sink: &mut Sink,
    ) -> Result<bool> {
        let limit = if self.distinct { Some(1) } else { self.row_limit };
        let mut continuation = false;
        loop {
            let view = match first.take() {
                Some(v) => v,
                None => {
                    let Some(selection) = self.selection(self.row_limit, after.as_deref()) else {
                        return Ok(true);
                    };
                    let read = self.read_partition(
                        TableId(self.table.id),
                        &PartitionKey::new(key.to_vec()),
                        &selection,
                    )?;
                    match read {
                        Some(v) => v,
                        None => return Ok(true),
                    }
                }
            };
            let returned = view.rows.len();
            let last = view.rows.last().and_then(|r| match &r.clustering {
                Clustering::Row(c) => Some(c.clone()),
                Clustering::Static => None,
            });
            let rows = self.rows(&view, continuation)?;
            let produced = !rows.is_empty();
            for row in rows {
                if !sink.push(row)? {
                    return Ok(false);
                }
            }
            let truncated = limit.is_some_and(|l| returned >= l);
            if !truncated || last.is_none() || (self.distinct && produced) {
                return Ok(true);
            }
            after = last;
            continuation = true;
        }
    }

    /// Virtual tables: rows are computed in memory; each gets its index as clustering for paging.
    fn feed_virtual(&self, sink: &mut Sink) -> Result<()> {
        let all = crate::peers::with_peer_rows(
            self.engine,
            self.table,
            crate::system::virtual_rows(
                self.table,
                &self.engine.schema(),
                &self.engine.local,
                self.engine.compatibility(),
            )?,
        );
        let n = self.table.columns.len();
        let pk_len = self.table.partition_key_len();
        for (index, values) in all.into_iter().enumerate() {
            let key = crate::values::partition_key_bytes(
                &values[..pk_len]
                    .iter()
                    .map(|v| v.as_deref().unwrap_or(&[]))
                    .collect::<Vec<_>>(),
            )?;
            let row = FullRow {
                values,
                writetime: vec![None; n],
                ttl: vec![None; n],
                key,
                clustering: Some((index as u64).to_be_bytes().to_vec()),
            };
            if let Some(r) = self.resume
                && r.clustering
                    .as_ref()
                    .is_some_and(|c| row.clustering.as_ref().is_some_and(|rc| rc <= c))
            {
                continue;
            }
            if !self.restrictions.token_ok(&row.key)
                || !self.restrictions.all_filters.iter().all(|f| f.matches(&row))
            {
                continue;
            }
            if !sink.push(row)? {
                return Ok(());
            }
        }
        Ok(())
    }
}

/// Restricts clustering slices to the rows strictly after the full clustering `last` in read order (before
/// it when `reversed`), so a resumed page does not re-read the rows earlier pages returned. Bounds are
/// prefix bounds (see [`ClusteringBound`]).
fn resume_slices(
    slices: &[(ClusteringBound, ClusteringBound)],
    last: &[u8],
    reversed: bool,
) -> Vec<(ClusteringBound, ClusteringBound)> {
    let whole = [(Bound::Unbounded, Bound::Unbounded)];
    let slices = if slices.is_empty() { &whole[..] } else { slices };
    let cut = Bound::Excluded(last.to_vec());
    let mut out = Vec::with_capacity(slices.len());
    for (start, end) in slices {
        if reversed {
            // Keep slices admitting some row before `last`; end them at `last` unless already earlier.
            let admits_before = match start {
                Bound::Unbounded => true,
                Bound::Included(p) => p.as_slice() < last,
                Bound::Excluded(p) => p.as_slice() < last && !last.starts_with(p),
            };
            if !admits_before {
                continue;
            }
            let end_tighter = match end {
                Bound::Unbounded => false,
                Bound::Included(q) => q.as_slice() < last && !last.starts_with(q),
                Bound::Excluded(q) => q.as_slice() <= last,
            };
            out.push((start.clone(), if end_tighter { end.clone() } else { cut.clone() }));
        } else {
            // Keep slices admitting some row after `last`; start them after `last` unless already later.
            let admits_after = match end {
                Bound::Unbounded => true,
                Bound::Included(q) => q.as_slice() > last || last.starts_with(q),
                Bound::Excluded(q) => q.as_slice() > last && !last.starts_with(q),
            };
            if !admits_after {
                continue;
            }
            let start_tighter = match start {
                Bound::Unbounded => false,
                Bound::Included(p) => p.as_slice() > last,
                Bound::Excluded(p) => p.as_slice() > last || last.starts_with(p),
            };
            out.push((
                if start_tighter { start.clone() } else { cut.clone() },
                end.clone(),
            ));
        }
    }
    out
}

/// Sorts outputs across partitions by the ORDER BY columns (stable, as Cassandra's post-query ordering).
fn sort_outputs(
    out: &mut [(Option<FullRow>, Vec<Option<Bytes>>)],
    ordering: &[(usize, bool)],
    table: &TableDef,
) {
    out.sort_by(|(a, _), (b, _)| {
        for &(i, desc) in ordering {
            let typ: &CqlType = &table.columns[i].typ;
            let va = a.as_ref().and_then(|r| r.values[i].as_deref());
            let vb = b.as_ref().and_then(|r| r.values[i].as_deref());
            let ord = match (va, vb) {
                (Some(x), Some(y)) => compare_serialized(typ, x, y).unwrap_or(Ordering::Equal),
                (None, Some(_)) => Ordering::Less,
                (Some(_), None) => Ordering::Greater,
                (None, None) => Ordering::Equal,
            };
            let ord = if desc { ord.reverse() } else { ord };
            if ord != Ordering::Equal {
                return ord;
            }
        }
        Ordering::Equal
    });
}

/// A LIMIT or PER PARTITION LIMIT value: unset means no limit, null and non-positive values are refused.
fn limit_value(
    term: &ast::Term,
    binds: Binds,
    receiver: &str,
    what: &str,
    clause: &str,
) -> Result<Option<usize>> {
    match eval_bytes(term, &CqlType::Int, receiver, binds)? {
        Evaluated::Unset => Ok(None),
        Evaluated::Null => Err(invalid(format!("Invalid null value of {what}"))),
        Evaluated::Bytes(b) => {
            let n = i32::from_be_bytes(
                b.as_slice()
                    .try_into()
                    .map_err(|_| invalid(format!("Invalid value for {what}")))?,
            );
            match usize::try_from(n) {
                Ok(n) if n > 0 => Ok(Some(n)),
                _ => Err(invalid(format!("{clause} must be strictly positive"))),
            }
        }
    }
}

/// Executes a SELECT on `table`.
pub(crate) fn execute(
    engine: &QueryEngine,
    table: &TableDef,
    sel: &ast::Select,
    binds: Binds,
    page_size: Option<i32>,
    paging_state: Option<&[u8]>,
    consistency: Option<mica_cql_protocol::Consistency>,
) -> Result<QueryResult> {
    let started = std::time::Instant::now();
    let now_seconds = mica_types::now_seconds();
    let schema = engine.schema();
    let udt = udt_lookup(&schema, &table.keyspace);
    let projection = Projection::prepare(table, sel, Some(binds), &udt)?;
    let structure = Structure::check(table, sel, &projection)?;
    // Virtual tables are computed in memory, so filtering them is always allowed.
    let restrictions = restrictions::analyze(
        table,
        &sel.where_clause,
        binds,
        sel.allow_filtering || table.is_virtual,
    )?;
    let _latency = engine
        .latencies
        .read_timer(started, consistency, restrictions.keys.is_some());

    let limit = match &sel.limit {
        Some(t) => limit_value(t, binds, "[limit]", "limit", "LIMIT")?.unwrap_or(usize::MAX),
        None => usize::MAX,
    };
    let per_partition = match &sel.per_partition_limit {
        Some(t) => limit_value(
            t,
            binds,
            "[per_partition_limit]",
            "per partition limit",
            "PER PARTITION LIMIT",
        )?,
        None => None,
    };
    let page = page_size
        .filter(|p| *p > 0)
        .map(|p| p as usize)
        .unwrap_or(MAX_UNPAGED_ROWS);
    let multi_partition_order = restrictions.partition_in
        && restrictions.keys.as_ref().is_some_and(|k| k.len() > 1)
        && !structure.ordering.is_empty();
    let aggregate_all = structure.group_len == Some(0);
    if multi_partition_order
        && !aggregate_all
        && structure.group_len.is_none()
        && page_size.is_some_and(|p| p > 0)
        && limit > page
    {
        return Err(invalid(
            "Cannot page queries with both ORDER BY and a IN restriction on the partition key; you must either remove the ORDER BY or the IN and sort client side, or disable paging for this query",
        ));
    }
    let resume = paging_state.map(decode_paging_state).transpose()?;
    let returned_before = resume.as_ref().map_or(0, |r| r.returned);
    // Aggregates over all rows and sorted multi-partition results come back in a single page.
    let single_page = aggregate_all || multi_partition_order;
    let want = if single_page {
        usize::MAX
    } else {
        page.min(limit.saturating_sub(returned_before))
    };
    let specs = projection.specs();
    if want == 0 {
        return Ok(QueryResult::Rows {
            metadata: RowsMetadata::new(specs),
            rows: Vec::new(),
        });
    }
    let row_limit =
        (restrictions.filters.is_empty() && structure.group_len.is_none() && !single_page).then(|| {
            let l = want.saturating_add(1);
            per_partition.map_or(l, |p| p.min(l))
        });
    let reader = Reader {
        engine,
        table,
        restrictions: &restrictions,
        reversed: structure.reversed,
        distinct: sel.distinct,
        resume: resume.as_ref(),
        row_limit,
        via_index: restrictions.keys.is_none() && restrictions.index.is_some(),
        now_seconds,
        data: consistency.and_then(|c| engine.data_plane(&table.keyspace).map(|d| (&**d, c))),
    };
    let mut sink = Sink {
        projection: &projection,
        group_len: structure.group_len,
        want,
        per_partition,
        keep_rows: multi_partition_order,
        out: Vec::new(),
        partition: None,
        in_partition: 0,
        resume_partition: resume.as_ref().map(|r| (r.key.clone(), r.in_partition)),
        open: None,
        last: None,
        more: false,
    };
    reader.feed(&mut sink)?;
    sink.finish()?;
    let mut out = sink.out;
    if multi_partition_order {
        sort_outputs(&mut out, &structure.ordering, table);
        out.truncate(limit);
    }
    let paging = match (sink.more, sink.last) {
        (true, Some((key, clustering, in_partition))) if returned_before + out.len() < limit => {
            Some(encode_paging_state(&Resume {
                key,
                clustering,
                returned: returned_before + out.len(),
                in_partition,
            }))
        }
        _ => None,
    };
    let mut metadata = RowsMetadata::new(specs);
    metadata.paging_state = paging.map(Bytes::from);
    Ok(QueryResult::Rows {
        metadata,
        rows: out.into_iter().map(|(_, r)| r).collect(),
    })
}
