//! The in-memory reference engine: a plain `BTreeMap` model that keeps every written version and
//! reconciles at read time. It is deliberately simple so that it can serve as the oracle in
//! randomized differential tests of real engines.

use crate::durable::Durable;
use crate::engine::{Engine, PartitionStream, RawPartitionStream};
use crate::error::{Result, StorageError};
use crate::reconcile::{RegularVersion, cmp_marker, cmp_regular, marker_live, range_admits};
use crate::types::{
    CellValue, CellView, Clustering, ClusteringBound, Deletion, LiveMarker, Marker, Mutation, PartitionKey,
    PartitionView, ReadSelection, RowView, ScanLimits, ScanRange, ScanStart, TableId, TableOptions,
    TokenBound, Value,
};
use mica_types::Token;
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// An engine keeping everything in memory (lost on drop).
#[derive(Clone, Default)]
pub struct MemoryEngine {
    state: Arc<RwLock<State>>,
}

impl std::fmt::Debug for MemoryEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryEngine").finish_non_exhaustive()
    }
}

#[derive(Default)]
struct State {
    tables: HashMap<TableId, Table>,
    meta: BTreeMap<Vec<u8>, Vec<u8>>,
}

#[derive(Default)]
struct Table {
    options: TableOptions,
    partitions: BTreeMap<PartitionKey, Partition>,
}

#[derive(Default)]
pub(crate) struct Partition {
    pub(crate) deletion: Option<Deletion>,
    pub(crate) range_tombstones: Vec<(ClusteringBound, ClusteringBound, Deletion)>,
    pub(crate) static_row: Row,
    pub(crate) rows: BTreeMap<Vec<u8>, Row>,
}

/// A cell's identity within a row: column id and optional collection path.
pub(crate) type CellKey = (u32, Option<Vec<u8>>);

#[derive(Default)]
pub(crate) struct Row {
    pub(crate) deletion: Option<Deletion>,
    pub(crate) markers: Vec<Marker>,
    pub(crate) complex: BTreeMap<u32, Deletion>,
    pub(crate) cells: BTreeMap<CellKey, Vec<(i64, CellValue)>>,
}

impl MemoryEngine {
    /// A new, empty engine.
    pub fn new() -> MemoryEngine {
        MemoryEngine::default()
    }

    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Keeps the newest deletion; at equal timestamps the later write wins, like a key overwrite in
/// an LSM tree.
fn newest(current: &mut Option<Deletion>, d: Deletion) {
    if current.is_none_or(|c| d.timestamp >= c.timestamp) {
        *current = Some(d);
    }
}

pub(crate) fn ts(d: &Option<Deletion>) -> i64 {
    d.map_or(i64::MIN, |d| d.timestamp)
}

fn apply_one(table: &mut Table, m: &Mutation) {
    let p = table.partitions.entry(m.key.clone()).or_default();
    if let Some(d) = m.partition_deletion {
        newest(&mut p.deletion, d);
    }
    for rt in &m.range_tombstones {
        let same = |(s, e, d): &&mut (ClusteringBound, ClusteringBound, Deletion)| {
            *s == rt.start && *e == rt.end && d.timestamp == rt.deletion.timestamp
        };
        match p.range_tombstones.iter_mut().find(same) {
            Some(existing) => existing.2 = rt.deletion,
            None => p
                .range_tombstones
                .push((rt.start.clone(), rt.end.clone(), rt.deletion)),
        }
    }
    for rm in &m.rows {
        let row = match &rm.clustering {
            Clustering::Static => &mut p.static_row,
            Clustering::Row(c) => p.rows.entry(c.clone()).or_default(),
        };
        if let Some(d) = rm.deletion {
            newest(&mut row.deletion, d);
        }
        if let Some(marker) = rm.marker {
            row.markers.push(marker);
        }
        for (column, d) in &rm.column_deletions {
            let mut current = row.complex.get(column).copied();
            newest(&mut current, *d);
            if let Some(c) = current {
                row.complex.insert(*column, c);
            }
        }
        for cell in &rm.cells {
            row.cells
                .entry((cell.column, cell.path.clone()))
                .or_default()
                .push((cell.timestamp, cell.value.clone()));
        }
    }
}

pub(crate) fn regular(v: &CellValue) -> Option<RegularVersion<'_>> {
    match v {
        CellValue::Live { value, ttl } => Some(RegularVersion::Live { value, ttl: *ttl }),
        CellValue::Tombstone { local_deletion_time } => Some(RegularVersion::Tombstone {
            local_deletion_time: *local_deletion_time,
        }),
        CellValue::CounterDelta(_) => None,
    }
}

/// Reconciles one row; `floor` is the highest deletion above the row (partition, range).
fn resolve_row(
    row: &Row,
    clustering: Clustering,
    floor: i64,
    columns: Option<&[u32]>,
    now: i64,
) -> Option<RowView> {
    let row_floor = ts(&row.deletion).max(floor);
    let marker = row
        .markers
        .iter()
        .max_by(|a, b| cmp_marker(a.timestamp, a.ttl, b.timestamp, b.ttl, now))
        .filter(|m| m.timestamp > row_floor && marker_live(m.ttl, now))
        .map(|m| LiveMarker {
            timestamp: m.timestamp,
            ttl: m.ttl.map(|t| t.ttl_seconds),
            expires_at: m.ttl.map(|t| t.expires_at),
        });
    let mut live = marker.is_some();
    let mut cells = Vec::new();
    for ((column, path), versions) in &row.cells {
        let col_floor = row
            .complex
            .get(column)
            .map_or(row_floor, |c| c.timestamp.max(row_floor));
        let selected = columns.is_none_or(|c| c.contains(column));
        let deltas: Vec<(i64, i64)> = versions
            .iter()
            .filter_map(|(ts, v)| match v {
                CellValue::CounterDelta(d) => Some((*ts, *d)),
                _ => None,
            })
            .collect();
        if !deltas.is_empty() {
            // Any dead regular version (tombstone) kills a counter regardless of timestamps.
            let killed = versions
                .iter()
                .filter_map(|(_, v)| regular(v))
                .any(|v| !v.is_live(now));
            let alive: Vec<&(i64, i64)> = deltas.iter().filter(|(ts, _)| *ts > col_floor).collect();
            if killed || alive.is_empty() {
                continue;
            }
            live = true;
            if selected {
                cells.push(CellView {
                    column: *column,
                    path: path.clone(),
                    value: Value::Counter(alive.iter().fold(0i64, |s, (_, d)| s.wrapping_add(*d))),
                    timestamp: alive.iter().map(|(ts, _)| *ts).max().unwrap_or(i64::MIN),
                    ttl: None,
                    expires_at: None,
                });
            }
            continue;
        }
        let winner = versions
            .iter()
            .filter_map(|(ts, v)| regular(v).map(|r| (*ts, r)))
            .max_by(|(ats, a), (bts, b)| cmp_regular(*ats, a, *bts, b));
        let Some((ts, version)) = winner else { continue };
        if ts <= col_floor || !version.is_live(now) {
            continue;
        }
        live = true;
        if selected && let RegularVersion::Live { value, ttl } = version {
            cells.push(CellView {
                column: *column,
                path: path.clone(),
                value: Value::Bytes(value.to_vec()),
                timestamp: ts,
                ttl: ttl.map(|t| t.ttl_seconds),
                expires_at: ttl.map(|t| t.expires_at),
            });
        }
    }
    live.then_some(RowView {
        clustering,
        marker,
        cells,
    })
}

pub(crate) fn view_partition(
    key: &PartitionKey,
    p: &Partition,
    selection: &ReadSelection,
    now: i64,
    row_limit: Option<usize>,
    resume_after: Option<&[u8]>,
) -> Option<PartitionView> {
    let pfloor = ts(&p.deletion);
    let columns = selection.columns.as_deref();
    let static_row = if selection.include_static {
        resolve_row(&p.static_row, Clustering::Static, pfloor, columns, now)
    } else {
        None
    };
    let admitted = |c: &[u8]| {
        let in_slices =
            selection.slices.is_empty() || selection.slices.iter().any(|(s, e)| range_admits(s, e, c));
        let after_resume = resume_after.is_none_or(|r| {
            let ord = c.cmp(r);
            if selection.reversed {
                ord == Ordering::Less
            } else {
                ord == Ordering::Greater
            }
        });
        in_slices && after_resume
    };
    let ordered: Box<dyn Iterator<Item = (&Vec<u8>, &Row)>> = if selection.reversed {
        Box::new(p.rows.iter().rev())
    } else {
        Box::new(p.rows.iter())
    };
    let mut rows = Vec::new();
    for (c, row) in ordered {
        if row_limit.is_some_and(|l| rows.len() >= l) {
            break;
        }
        if !admitted(c) {
            continue;
        }
        let floor = p
            .range_tombstones
            .iter()
            .filter(|(s, e, _)| range_admits(s, e, c))
            .map(|(_, _, d)| d.timestamp)
            .fold(pfloor, i64::max);
        if let Some(view) = resolve_row(row, Clustering::Row(c.clone()), floor, columns, now) {
            rows.push(view);
        }
    }
    (static_row.is_some() || !rows.is_empty()).then(|| PartitionView {
        key: key.clone(),
        static_row,
        rows,
    })
}

/// When a dead regular version became dead (tombstone time, or write time of an expired cell).
fn dead_since(v: &CellValue, now: i64) -> Option<i64> {
    match v {
        CellValue::Tombstone { local_deletion_time } => Some(*local_deletion_time),
        CellValue::Live { ttl: Some(t), .. } if now >= t.expires_at => {
            Some(t.expires_at - i64::from(t.ttl_seconds))
        }
        _ => None,
    }
}

/// The `major_compact` purge, with exactly the fjall engine's rules: drop shadowed and superseded
/// versions, consolidate counter deltas, then drop deletions and dead data older than gc_grace.
fn purge_partition(p: &mut Partition, now: i64, gc_before: i64) {
    let pfloor = ts(&p.deletion);
    p.range_tombstones.retain(|(_, _, d)| d.timestamp > pfloor);
    purge_row(&mut p.static_row, pfloor, now, gc_before);
    for (c, row) in p.rows.iter_mut() {
        let floor = p
            .range_tombstones
            .iter()
            .filter(|(s, e, _)| range_admits(s, e, c))
            .map(|(_, _, d)| d.timestamp)
            .fold(pfloor, i64::max);
        purge_row(row, floor, now, gc_before);
    }
    p.range_tombstones
        .retain(|(_, _, d)| d.local_deletion_time >= gc_before);
    if p.deletion.is_some_and(|d| d.local_deletion_time < gc_before) {
        p.deletion = None;
    }
}

fn purge_row(row: &mut Row, floor: i64, now: i64, gc_before: i64) {
    let row_floor = ts(&row.deletion).max(floor);
    if ts(&row.deletion) <= floor {
        row.deletion = None;
    }
    let marker_max = row.markers.iter().map(|m| m.timestamp).max().unwrap_or(i64::MIN);
    row.markers.retain(|m| {
        let expired_long_ago = m
            .ttl
            .is_some_and(|t| now >= t.expires_at && t.expires_at - i64::from(t.ttl_seconds) < gc_before);
        m.timestamp > row_floor && m.timestamp >= marker_max && !expired_long_ago
    });
    let complex = std::mem::take(&mut row.complex);
    for ((column, _), versions) in row.cells.iter_mut() {
        let col_floor = complex
            .get(column)
            .map_or(row_floor, |c| c.timestamp.max(row_floor));
        if versions
            .iter()
            .any(|(_, v)| matches!(v, CellValue::CounterDelta(_)))
        {
            if versions.iter().any(|(_, v)| dead_since(v, now).is_some()) {
                versions.retain(|(_, v)| dead_since(v, now).is_some_and(|ldt| ldt >= gc_before));
                continue;
            }
            versions.retain(|(t, v)| matches!(v, CellValue::CounterDelta(_)) && *t > col_floor);
            if versions.len() >= 2 {
                let max_ts = versions.iter().map(|(t, _)| *t).max().unwrap_or(i64::MIN);
                let sum = versions.iter().fold(0i64, |s, (_, v)| match v {
                    CellValue::CounterDelta(d) => s.wrapping_add(*d),
                    _ => s,
                });
                *versions = vec![(max_ts, CellValue::CounterDelta(sum))];
            }
            continue;
        }
        let winner = versions
            .iter()
            .filter_map(|(t, v)| regular(v).map(|r| (*t, r, v)))
            .max_by(|(at, a, _), (bt, b, _)| cmp_regular(*at, a, *bt, b))
            .map(|(t, _, v)| (t, v.clone()));
        versions.clear();
        if let Some((t, v)) = winner
            && (t > col_floor || matches!(v, CellValue::Tombstone { .. }))
            && dead_since(&v, now).is_none_or(|ldt| ldt >= gc_before)
        {
            versions.push((t, v));
        }
    }
    row.cells.retain(|_, versions| !versions.is_empty());
    row.complex = complex
        .into_iter()
        .filter(|(_, d)| d.timestamp > row_floor && d.local_deletion_time >= gc_before)
        .collect();
    if row.deletion.is_some_and(|d| d.local_deletion_time < gc_before) {
        row.deletion = None;
    }
}

/// Renders one partition for a scan: the item and, when the partition has live content, the
/// number of live regular rows it counts against the scan's limits.
pub(crate) type Produce<T> = fn(
    &PartitionKey,
    TableId,
    &Partition,
    &ReadSelection,
    i64,
    Option<usize>,
    Option<&[u8]>,
) -> Option<(T, Option<usize>)>;

fn produce_view(
    key: &PartitionKey,
    _table: TableId,
    p: &Partition,
    selection: &ReadSelection,
    now: i64,
    row_limit: Option<usize>,
    resume_after: Option<&[u8]>,
) -> Option<(PartitionView, Option<usize>)> {
    view_partition(key, p, selection, now, row_limit, resume_after).map(|v| {
        let n = v.rows.len();
        (v, Some(n))
    })
}

pub(crate) struct MemScan<T> {
    produce: Produce<T>,
    state: Arc<RwLock<State>>,
    table: TableId,
    cursor: Bound<PartitionKey>,
    end: TokenBound,
    selection: ReadSelection,
    now: i64,
    resume: Option<(PartitionKey, Vec<u8>)>,
    limits: ScanLimits,
    done: bool,
}

impl<T> Iterator for MemScan<T> {
    type Item = Result<T>;

    fn next(&mut self) -> Option<Self::Item> {
        let state = self
            .state
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(table) = state.tables.get(&self.table) else {
            return (!std::mem::replace(&mut self.done, true))
                .then_some(Err(StorageError::UnknownTable(self.table)));
        };
        loop {
            if self.done || self.limits.partitions == Some(0) || self.limits.rows == Some(0) {
                return None;
            }
            let Some((key, p)) = table
                .partitions
                .range((self.cursor.clone(), Bound::Unbounded))
                .next()
            else {
                self.done = true;
                return None;
            };
            let in_range = match self.end {
                TokenBound::Unbounded => true,
                TokenBound::Inclusive(t) => key.token <= t,
                TokenBound::Exclusive(t) => key.token < t,
            };
            if !in_range {
                self.done = true;
                return None;
            }
            self.cursor = Bound::Excluded(key.clone());
            let resume = self.resume.take().filter(|(k, _)| k == key).map(|(_, c)| c);
            let row_limit = match (self.selection.limit_rows, self.limits.rows) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let produced = (self.produce)(
                key,
                self.table,
                p,
                &self.selection,
                self.now,
                row_limit,
                resume.as_deref(),
            );
            if let Some((item, counted)) = produced {
                if let Some(live_rows) = counted {
                    if let Some(n) = self.limits.partitions.as_mut() {
                        *n -= 1;
                    }
                    if let Some(n) = self.limits.rows.as_mut() {
                        *n = n.saturating_sub(live_rows.max(1));
                    }
                }
                return Some(Ok(item));
            }
        }
    }
}

impl Engine for MemoryEngine {
    fn create_table(&self, table: TableId, options: TableOptions) -> Result<()> {
        self.write().tables.entry(table).or_default().options = options;
        Ok(())
    }

    fn drop_table(&self, table: TableId) -> Result<()> {
        self.write().tables.remove(&table);
        Ok(())
    }

    fn truncate_table(&self, table: TableId) -> Result<()> {
        let mut state = self.write();
        let t = state
            .tables
            .get_mut(&table)
            .ok_or(StorageError::UnknownTable(table))?;
        t.partitions.clear();
        Ok(())
    }

    fn remove_partitions(&self, table: TableId, keys: &[PartitionKey]) -> Result<()> {
        let mut state = self.write();
        let t = state
            .tables
            .get_mut(&table)
            .ok_or(StorageError::UnknownTable(table))?;
        for key in keys {
            t.partitions.remove(key);
        }
        Ok(())
    }

    fn set_table_options(&self, table: TableId, options: TableOptions) -> Result<()> {
        let mut state = self.write();
        state
            .tables
            .get_mut(&table)
            .ok_or(StorageError::UnknownTable(table))?
            .options = options;
        Ok(())
    }

    fn table_options(&self, table: TableId) -> Result<Option<TableOptions>> {
        Ok(self.read().tables.get(&table).map(|t| t.options))
    }

    fn list_tables(&self) -> Result<Vec<TableId>> {
        let mut tables: Vec<TableId> = self.read().tables.keys().copied().collect();
        tables.sort();
        Ok(tables)
    }

    fn apply(&self, mutations: Vec<Mutation>) -> Result<Durable> {
        let mut state = self.write();
        if let Some(m) = mutations.iter().find(|m| !state.tables.contains_key(&m.table)) {
            return Err(StorageError::UnknownTable(m.table));
        }
        for m in &mutations {
            if let Some(table) = state.tables.get_mut(&m.table) {
                apply_one(table, m);
            }
        }
        Ok(Durable::ready(Ok(())))
    }

    fn read_partition(
        &self,
        table: TableId,
        key: &PartitionKey,
        selection: &ReadSelection,
        now_seconds: i64,
    ) -> Result<Option<PartitionView>> {
        let state = self.read();
        let t = state
            .tables
            .get(&table)
            .ok_or(StorageError::UnknownTable(table))?;
        Ok(t.partitions
            .get(key)
            .and_then(|p| view_partition(key, p, selection, now_seconds, selection.limit_rows, None)))
    }

    fn scan(
        &self,
        table: TableId,
        range: &ScanRange,
        selection: &ReadSelection,
        limits: ScanLimits,
        now_seconds: i64,
    ) -> Result<PartitionStream> {
        Ok(Box::new(self.scan_with(
            table,
            range,
            selection,
            limits,
            now_seconds,
            produce_view,
        )?))
    }

    fn read_partition_raw(
        &self,
        table: TableId,
        key: &PartitionKey,
        selection: &ReadSelection,
        now_seconds: i64,
    ) -> Result<Option<Mutation>> {
        let state = self.read();
        let t = state
            .tables
            .get(&table)
            .ok_or(StorageError::UnknownTable(table))?;
        Ok(t.partitions.get(key).and_then(|p| {
            crate::raw::produce_raw(key, table, p, selection, now_seconds, selection.limit_rows, None)
                .map(|(m, _)| m)
        }))
    }

    fn scan_raw(
        &self,
        table: TableId,
        range: &ScanRange,
        selection: &ReadSelection,
        limits: ScanLimits,
        now_seconds: i64,
    ) -> Result<RawPartitionStream> {
        Ok(Box::new(self.scan_with(
            table,
            range,
            selection,
            limits,
            now_seconds,
            crate::raw::produce_raw,
        )?))
    }

    fn put_meta(&self, key: &[u8], value: &[u8]) -> Result<()> {
        self.write().meta.insert(key.to_vec(), value.to_vec());
        Ok(())
    }

    fn get_meta(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.read().meta.get(key).cloned())
    }

    fn delete_meta(&self, key: &[u8]) -> Result<()> {
        self.write().meta.remove(key);
        Ok(())
    }

    fn scan_meta(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let state = self.read();
        Ok(state
            .meta
            .range(prefix.to_vec()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    fn flush(&self) -> Result<()> {
        Ok(())
    }

    fn major_compact(&self, table: TableId, now_seconds: i64) -> Result<()> {
        let mut state = self.write();
        let t = state
            .tables
            .get_mut(&table)
            .ok_or(StorageError::UnknownTable(table))?;
        let gc_before = now_seconds.saturating_sub(i64::from(t.options.gc_grace_seconds));
        for p in t.partitions.values_mut() {
            purge_partition(p, now_seconds, gc_before);
        }
        Ok(())
    }

    fn table_size_bytes(&self, table: TableId) -> Result<u64> {
        let state = self.read();
        let t = state
            .tables
            .get(&table)
            .ok_or(StorageError::UnknownTable(table))?;
        let row_size = |r: &Row| -> usize {
            r.cells
                .iter()
                .map(|((_, p), vs)| {
                    p.as_ref().map_or(0, Vec::len)
                        + vs.iter()
                            .map(|(_, v)| match v {
                                CellValue::Live { value, .. } => value.len() + 16,
                                _ => 16,
                            })
                            .sum::<usize>()
                })
                .sum::<usize>()
                + 16 * r.markers.len()
        };
        let total: usize = t
            .partitions
            .iter()
            .map(|(k, p)| {
                k.key.len()
                    + row_size(&p.static_row)
                    + p.rows.iter().map(|(c, r)| c.len() + row_size(r)).sum::<usize>()
            })
            .sum();
        Ok(total as u64)
    }

    fn disk_usage_bytes(&self) -> Result<u64> {
        Ok(0)
    }
}

impl MemoryEngine {
    /// The scan machinery shared by `scan` and `scan_raw`: positions a cursor for `range`.
    fn scan_with<T>(
        &self,
        table: TableId,
        range: &ScanRange,
        selection: &ReadSelection,
        limits: ScanLimits,
        now_seconds: i64,
        produce: Produce<T>,
    ) -> Result<MemScan<T>> {
        if !self.read().tables.contains_key(&table) {
            return Err(StorageError::UnknownTable(table));
        }
        let token_start = |t: Token| {
            Bound::Included(PartitionKey {
                token: t,
                key: Vec::new(),
            })
        };
        let mut resume = None;
        let mut done = false;
        let cursor = match &range.start {
            ScanStart::Unbounded | ScanStart::Token(TokenBound::Unbounded) => Bound::Unbounded,
            ScanStart::Token(TokenBound::Inclusive(t)) => token_start(*t),
            ScanStart::Token(TokenBound::Exclusive(t)) => match t.0.checked_add(1) {
                Some(next) => token_start(Token(next)),
                None => {
                    done = true;
                    Bound::Unbounded
                }
            },
            ScanStart::Key { key, inclusive: true } => Bound::Included(key.clone()),
            ScanStart::Key {
                key,
                inclusive: false,
            } => Bound::Excluded(key.clone()),
            ScanStart::AfterRow { key, clustering } => {
                if let Clustering::Row(c) = clustering {
                    resume = Some((key.clone(), c.clone()));
                }
                Bound::Included(key.clone())
            }
        };
        Ok(MemScan {
            produce,
            state: self.state.clone(),
            table,
            cursor,
            end: range.end,
            selection: selection.clone(),
            now: now_seconds,
            resume,
            limits,
            done,
        })
    }
}
