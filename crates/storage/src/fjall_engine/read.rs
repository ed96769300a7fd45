//! Read path of the fjall engine: one pass over a partition's entries, reconciling versions,
//! tombstones and TTLs into live row views, plus the lazy token-ordered partition scan.

use super::codec::{
    self, CellVersion, ENTRY_CELL, KIND_PARTITION_DELETION, KIND_RANGE_TOMBSTONE, KIND_ROW, KIND_STATIC,
    RowEntry,
};
use crate::error::Result;
use crate::reconcile::{RegularVersion, cmp_marker, cmp_regular, marker_live, range_admits};
use crate::types::{
    CellView, Clustering, ClusteringBound, LiveMarker, PartitionKey, PartitionView, ReadSelection, RowView,
    ScanLimits, Ttl, Value,
};
use fjall::{Keyspace, Readable, Slice, Snapshot};
use std::cmp::Ordering;
use std::ops::Bound;

/// Partition-level deletions that apply to the rows being read.
#[derive(Default)]
pub(crate) struct Header {
    /// Partition deletion timestamp (`i64::MIN` when none).
    pub deletion: i64,
    /// Range tombstones `(start, end, timestamp)`.
    pub range_tombstones: Vec<(ClusteringBound, ClusteringBound, i64)>,
}

impl Header {
    /// A header with no deletions.
    pub fn empty() -> Header {
        Header {
            deletion: i64::MIN,
            range_tombstones: Vec::new(),
        }
    }

    /// Records a partition-level entry, given its key suffix after the partition prefix.
    pub fn add(&mut self, suffix: &[u8]) -> Result<()> {
        match suffix[0] {
            KIND_PARTITION_DELETION => {
                self.deletion = self.deletion.max(codec::ts_from_inverted(&suffix[1..])?)
            }
            KIND_RANGE_TOMBSTONE => self
                .range_tombstones
                .push(codec::decode_range_tombstone(&suffix[1..])?),
            _ => return Err(codec::corrupt("unexpected partition-level entry")),
        }
        Ok(())
    }

    /// The highest deletion timestamp covering regular row `clustering`.
    pub fn row_floor(&self, clustering: &[u8]) -> i64 {
        self.range_tombstones
            .iter()
            .filter(|(s, e, _)| range_admits(s, e, clustering))
            .map(|(_, _, ts)| *ts)
            .fold(self.deletion, i64::max)
    }
}

/// Reusable buffers for reading rows (avoids allocating per row).
#[derive(Default)]
pub(crate) struct RowBuffer {
    entries: Vec<(Slice, Slice)>,
    complex: Vec<(u32, i64)>,
}

/// Per-cell reconciliation state while walking one `(column, path)` group.
struct Group<'a> {
    column: u32,
    path: Option<&'a [u8]>,
    key: &'a [u8],
    best: Option<(i64, RegularVersion<'a>)>,
    counter_sum: i64,
    counter_ts: Option<i64>,
    has_counter: bool,
    dead_regular: bool,
    floor: i64,
}

impl RowBuffer {
    /// Reconciles the buffered entries of one row (in ascending key order) into a live view.
    fn resolve(
        &mut self,
        prefix_len: usize,
        clustering: Clustering,
        floor: i64,
        columns: Option<&[u32]>,
        now: i64,
    ) -> Result<Option<RowView>> {
        let mut row_floor = floor;
        let mut marker: Option<(i64, Option<Ttl>)> = None;
        self.complex.clear();
        for (key, value) in &self.entries {
            let suffix = &key[prefix_len..];
            if suffix.first() == Some(&ENTRY_CELL) {
                break;
            }
            match codec::decode_row_entry(suffix, value)? {
                RowEntry::RowDeletion { ts } => row_floor = row_floor.max(ts),
                RowEntry::Marker { ts, ttl } => {
                    if marker
                        .is_none_or(|(bts, bttl)| cmp_marker(ts, ttl, bts, bttl, now) == Ordering::Greater)
                    {
                        marker = Some((ts, ttl));
                    }
                }
                RowEntry::ComplexDeletion { column, ts } => self.complex.push((column, ts)),
                RowEntry::Cell { .. } => {}
            }
        }
        let live_marker = marker
            .filter(|(ts, ttl)| *ts > row_floor && marker_live(*ttl, now))
            .map(|(ts, ttl)| LiveMarker {
                timestamp: ts,
                ttl: ttl.map(|t| t.ttl_seconds),
                expires_at: ttl.map(|t| t.expires_at),
            });
        let mut row_live = live_marker.is_some();
        let mut cells = Vec::new();
        let mut group: Option<Group<'_>> = None;
        for (key, value) in &self.entries {
            let suffix = &key[prefix_len..];
            if suffix.first() != Some(&ENTRY_CELL) {
                continue;
            }
            let RowEntry::Cell {
                column,
                group: gkey,
                path,
                ts,
                value,
            } = codec::decode_row_entry(suffix, value)?
            else {
                continue;
            };
            if group.as_ref().is_none_or(|g| g.key != gkey) {
                if let Some(done) = group.take() {
                    row_live |= finish_group(done, columns, now, &mut cells);
                }
                let complex_floor = self
                    .complex
                    .iter()
                    .filter(|(c, _)| *c == column)
                    .map(|(_, t)| *t)
                    .max();
                group = Some(Group {
                    column,
                    path,
                    key: gkey,
                    best: None,
                    counter_sum: 0,
                    counter_ts: None,
                    has_counter: false,
                    dead_regular: false,
                    floor: complex_floor.map_or(row_floor, |c| c.max(row_floor)),
                });
            }
            let Some(g) = group.as_mut() else { continue };
            match value {
                CellVersion::Counter(delta) => {
                    g.has_counter = true;
                    if ts > g.floor {
                        g.counter_sum = g.counter_sum.wrapping_add(delta);
                        g.counter_ts = Some(g.counter_ts.map_or(ts, |t| t.max(ts)));
                    }
                }
                CellVersion::Regular(v) => {
                    g.dead_regular |= !v.is_live(now);
                    if g.best
                        .as_ref()
                        .is_none_or(|(bts, b)| cmp_regular(ts, &v, *bts, b) == Ordering::Greater)
                    {
                        g.best = Some((ts, v));
                    }
                }
            }
        }
        if let Some(done) = group.take() {
            row_live |= finish_group(done, columns, now, &mut cells);
        }
        Ok(row_live.then_some(RowView {
            clustering,
            marker: live_marker,
            cells,
        }))
    }
}

/// Decides a cell's liveness and appends its view if selected; returns whether it is live.
fn finish_group(g: Group<'_>, columns: Option<&[u32]>, now: i64, out: &mut Vec<CellView>) -> bool {
    let selected = columns.is_none_or(|c| c.contains(&g.column));
    let path = || g.path.map(codec::unescape);
    if g.has_counter {
        // A counter cell tombstone shadows every delta regardless of timestamps (CASSANDRA-7346).
        let Some(ts) = g.counter_ts.filter(|_| !g.dead_regular) else {
            return false;
        };
        if selected {
            out.push(CellView {
                column: g.column,
                path: path(),
                value: Value::Counter(g.counter_sum),
                timestamp: ts,
                ttl: None,
                expires_at: None,
            });
        }
        return true;
    }
    let Some((ts, best)) = g.best else { return false };
    if ts <= g.floor || !best.is_live(now) {
        return false;
    }
    if selected && let RegularVersion::Live { value, ttl } = best {
        out.push(CellView {
            column: g.column,
            path: path(),
            value: Value::Bytes(value.to_vec()),
            timestamp: ts,
            ttl: ttl.map(|t| t.ttl_seconds),
            expires_at: ttl.map(|t| t.expires_at),
        });
    }
    true
}

/// One decoded-later key/value pair.
type Entry = (Slice, Slice);

/// Entries of a snapshot range, with lookahead.
pub(crate) type Entries = std::iter::Peekable<Box<dyn Iterator<Item = fjall::Result<Entry>> + Send>>;

pub(crate) fn entries(iter: fjall::Iter) -> Entries {
    let boxed: Box<dyn Iterator<Item = fjall::Result<Entry>> + Send> =
        Box::new(iter.map(fjall::Guard::into_inner));
    boxed.peekable()
}

/// Takes the next entry if its key satisfies `pred`.
fn next_if<I: Iterator<Item = fjall::Result<Entry>>>(
    it: &mut std::iter::Peekable<I>,
    pred: impl Fn(&[u8]) -> bool,
) -> Result<Option<Entry>> {
    match it.peek() {
        None => Ok(None),
        Some(Ok((key, _))) if !pred(key) => Ok(None),
        _ => Ok(it.next().transpose()?),
    }
}

/// Reads one partition from a snapshot.
pub(crate) struct PartitionRead<'a> {
    pub snap: &'a Snapshot,
    pub ks: &'a Keyspace,
    pub selection: &'a ReadSelection,
    pub now: i64,
    /// Maximum regular rows to return (already combined with the selection's limit).
    pub row_limit: Option<usize>,
    /// Resume strictly after this regular row (paging), in selection order.
    pub resume_after: Option<&'a [u8]>,
}

impl PartitionRead<'_> {
    /// Whether the read takes every row in forward order, so one sequential pass suffices.
    fn whole_forward(&self) -> bool {
        self.selection.slices.is_empty() && !self.selection.reversed && self.resume_after.is_none()
    }

    /// Reads the partition with prefix `pfx`.
    pub fn run(&self, key: PartitionKey, pfx: &[u8], buf: &mut RowBuffer) -> Result<Option<PartitionView>> {
        let lo = [pfx, &[KIND_PARTITION_DELETION]].concat();
        let hi = if self.whole_forward() {
            let mut hi = pfx.to_vec();
            codec::prefix_successor(&mut hi);
            hi
        } else {
            // Partition-level entries and the static row are adjacent: one seek reads both.
            [
                pfx,
                &[if self.selection.include_static {
                    KIND_STATIC + 1
                } else {
                    KIND_STATIC
                }],
            ]
            .concat()
        };
        let mut it = entries(self.snap.range(self.ks, lo..hi));
        Ok(self.read_from(&mut it, key, pfx, buf)?.0)
    }

    /// Reads the partition with prefix `pfx` from `it`, which must be positioned at or before
    /// its first entry. Returns the view and whether `it` was consumed past the partition (only
    /// for whole-partition forward reads not cut short by a limit).
    pub fn read_from(
        &self,
        it: &mut Entries,
        key: PartitionKey,
        pfx: &[u8],
        buf: &mut RowBuffer,
    ) -> Result<(Option<PartitionView>, bool)> {
        let pp = pfx.len();
        let mut header = Header::empty();
        while let Some((k, _)) = next_if(it, |k| {
            k.starts_with(pfx) && k.get(pp).is_some_and(|b| *b < KIND_STATIC)
        })? {
            header.add(&k[pp..])?;
        }
        buf.entries.clear();
        while let Some(entry) = next_if(it, |k| k.starts_with(pfx) && k.get(pp) == Some(&KIND_STATIC))? {
            if self.selection.include_static {
                buf.entries.push(entry);
            }
        }
        let columns = self.selection.columns.as_deref();
        let static_row = if buf.entries.is_empty() {
            None
        } else {
            buf.resolve(pp + 1, Clustering::Static, header.deletion, columns, self.now)?
        };

        let mut rows = Vec::new();
        let mut complete = false;
        if self.whole_forward() {
            let mut cursor = None;
            let partition_rows = std::iter::from_fn(|| next_if(it, |k| k.starts_with(pfx)).transpose());
            let stopped =
                self.collect_rows(partition_rows, pfx, &header, false, buf, &mut rows, &mut cursor)?;
            complete = !stopped;
        } else {
            self.read_slices(pfx, &header, buf, &mut rows)?;
        }
        let view = (static_row.is_some() || !rows.is_empty()).then_some(PartitionView {
            key,
            static_row,
            rows,
        });
        Ok((view, complete))
    }

    fn read_slices(
        &self,
        pfx: &[u8],
        header: &Header,
        buf: &mut RowBuffer,
        rows: &mut Vec<RowView>,
    ) -> Result<()> {
        let full = [(Bound::Unbounded, Bound::Unbounded)];
        let slices: &[(ClusteringBound, ClusteringBound)] = if self.selection.slices.is_empty() {
            &full
        } else {
            &self.selection.slices
        };
        let reversed = self.selection.reversed;
        // The row prefix key of the last row returned (or resumed after): later slices never go
        // back past it, which also makes overlapping slices harmless.
        let mut cursor: Option<Vec<u8>> = self.resume_after.map(|c| {
            let mut k = [pfx, &[KIND_ROW]].concat();
            codec::escape_into(&mut k, c);
            k
        });
        let ordered: Box<dyn Iterator<Item = &(ClusteringBound, ClusteringBound)>> = if reversed {
            Box::new(slices.iter().rev())
        } else {
            Box::new(slices.iter())
        };
        for (start, end) in ordered {
            if self.row_limit.is_some_and(|l| rows.len() >= l) {
                break;
            }
            let Some((mut lo, mut hi)) = slice_key_range(pfx, start, end) else {
                continue;
            };
            if let Some(c) = &cursor {
                if reversed {
                    if *c < hi {
                        hi.clone_from(c);
                    }
                } else {
                    let mut after = c.clone();
                    if codec::prefix_successor(&mut after) && after > lo {
                        lo = after;
                    }
                }
            }
            if lo >= hi {
                continue;
            }
            let iter = self.snap.range(self.ks, lo..hi);
            if reversed {
                let iter = iter.rev().map(|g| g.into_inner().map_err(Into::into));
                self.collect_rows(iter, pfx, header, true, buf, rows, &mut cursor)?;
            } else {
                let iter = iter.map(|g| g.into_inner().map_err(Into::into));
                self.collect_rows(iter, pfx, header, false, buf, rows, &mut cursor)?;
            }
        }
        Ok(())
    }

    /// Groups row entries into rows and resolves them; returns whether the row limit stopped it.
    #[expect(clippy::too_many_arguments, reason = "internal helper threading read state")]
    fn collect_rows(
        &self,
        iter: impl Iterator<Item = Result<Entry>>,
        pfx: &[u8],
        header: &Header,
        reversed: bool,
        buf: &mut RowBuffer,
        rows: &mut Vec<RowView>,
        cursor: &mut Option<Vec<u8>>,
    ) -> Result<bool> {
        let columns = self.selection.columns.as_deref();
        let mut prefix_len = 0;
        buf.entries.clear();
        let mut flush = |buf: &mut RowBuffer, prefix_len: usize, rows: &mut Vec<RowView>| -> Result<bool> {
            if reversed {
                buf.entries.reverse();
            }
            let row_key = &buf.entries[0].0[..prefix_len];
            let clustering_bytes = codec::unescape(&row_key[pfx.len() + 1..]);
            let floor = header.row_floor(&clustering_bytes);
            *cursor = Some(row_key.to_vec());
            if let Some(row) = buf.resolve(
                prefix_len,
                Clustering::Row(clustering_bytes),
                floor,
                columns,
                self.now,
            )? {
                rows.push(row);
            }
            buf.entries.clear();
            Ok(self.row_limit.is_some_and(|l| rows.len() >= l))
        };
        if self.row_limit == Some(0) {
            return Ok(true);
        }
        for entry in iter {
            let (key, value) = entry?;
            if let Some((first, _)) = buf.entries.first() {
                if key.starts_with(&first[..prefix_len]) {
                    buf.entries.push((key, value));
                    continue;
                }
                if flush(buf, prefix_len, rows)? {
                    return Ok(true);
                }
            }
            prefix_len =
                codec::row_prefix_len(&key, pfx.len())?.ok_or_else(|| codec::corrupt("row expected"))?;
            buf.entries.push((key, value));
        }
        if !buf.entries.is_empty() {
            return flush(buf, prefix_len, rows);
        }
        Ok(false)
    }
}

/// Key range `[lo, hi)` holding the regular rows admitted by a slice; `None` if empty.
pub(crate) fn slice_key_range(
    pfx: &[u8],
    start: &ClusteringBound,
    end: &ClusteringBound,
) -> Option<(Vec<u8>, Vec<u8>)> {
    let base = [pfx, &[KIND_ROW]].concat();
    let with = |p: &[u8], succ: bool| {
        let mut k = base.clone();
        codec::escape_unterminated(&mut k, p);
        if succ {
            codec::prefix_successor(&mut k);
        }
        k
    };
    let lo = match start {
        Bound::Unbounded => base.clone(),
        Bound::Included(p) => with(p, false),
        Bound::Excluded(p) => with(p, true),
    };
    let hi = match end {
        Bound::Unbounded => {
            let mut k = base.clone();
            codec::prefix_successor(&mut k);
            k
        }
        Bound::Included(p) => with(p, true),
        Bound::Excluded(p) => with(p, false),
    };
    (lo < hi).then_some((lo, hi))
}

/// The lazy partition iterator behind `FjallEngine::scan`.
pub(crate) struct Scan {
    pub snap: Snapshot,
    pub ks: Keyspace,
    /// Where to seek next when `iter` is `None`; `None` once exhausted.
    pub next: Option<Vec<u8>>,
    /// Exclusive upper key bound.
    pub hi: Option<Vec<u8>>,
    /// The open sequential iterator, reused across partitions by whole-partition reads.
    pub iter: Option<Entries>,
    pub selection: ReadSelection,
    pub now: i64,
    /// `(partition prefix, clustering)` to resume after in the first partition.
    pub resume: Option<(Vec<u8>, Vec<u8>)>,
    pub limits: ScanLimits,
    pub buf: RowBuffer,
}

impl Scan {
    fn step(&mut self) -> Result<Option<PartitionView>> {
        loop {
            if self.limits.partitions == Some(0) || self.limits.rows == Some(0) {
                return Ok(None);
            }
            if self.iter.is_none() {
                let Some(lo) = self.next.take() else {
                    return Ok(None);
                };
                let iter = match &self.hi {
                    Some(hi) if *hi <= lo => return Ok(None),
                    Some(hi) => self.snap.range(&self.ks, lo..hi.clone()),
                    None => self.snap.range(&self.ks, lo..),
                };
                self.iter = Some(entries(iter));
            }
            let Some(it) = self.iter.as_mut() else {
                return Ok(None);
            };
            let pfx = match it.peek() {
                None => return Ok(None),
                Some(Err(_)) => {
                    return Err(it
                        .next()
                        .and_then(|r| r.err())
                        .map_or_else(|| codec::corrupt("iterator"), Into::into));
                }
                Some(Ok((key, _))) => key[..codec::partition_prefix_len(key)?].to_vec(),
            };
            let resume = self.resume.take().filter(|(p, _)| *p == pfx).map(|(_, c)| c);
            let row_limit = match (self.selection.limit_rows, self.limits.rows) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let read = PartitionRead {
                snap: &self.snap,
                ks: &self.ks,
                selection: &self.selection,
                now: self.now,
                row_limit,
                resume_after: resume.as_deref(),
            };
            let key = codec::decode_partition_key(&pfx)?;
            let (view, complete) = if read.whole_forward() {
                read.read_from(it, key, &pfx, &mut self.buf)?
            } else {
                (read.run(key, &pfx, &mut self.buf)?, false)
            };
            if !complete {
                // Re-seek past this partition rather than reading its remaining entries.
                self.iter = None;
                let mut after = pfx;
                self.next = codec::prefix_successor(&mut after).then_some(after);
            }
            if let Some(view) = view {
                if let Some(p) = self.limits.partitions.as_mut() {
                    *p -= 1;
                }
                if let Some(r) = self.limits.rows.as_mut() {
                    *r = r.saturating_sub(view.rows.len().max(1));
                }
                return Ok(Some(view));
            }
        }
    }
}

impl Iterator for Scan {
    type Item = Result<PartitionView>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.step() {
            Ok(view) => view.map(Ok),
            Err(e) => {
                self.next = None;
                self.iter = None;
                Some(Err(e))
            }
        }
    }
}
