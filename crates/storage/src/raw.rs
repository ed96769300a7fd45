//! Raw partition content as replicas exchange it: the winning version of every marker, deletion
//! and cell, deletions included, shadowed data dropped. Both engines' raw reads and the
//! coordinator-side [`crate::merge`] build the reference model's [`Partition`] and canonicalize it
//! here, so that every producer of raw partitions agrees on one canonical form.

use crate::memory::{Partition, Row, regular, ts};
use crate::reconcile::{cmp_marker, cmp_regular, marker_live, range_admits};
use crate::types::{
    Cell, CellValue, Clustering, ClusteringBound, Deletion, Mutation, PartitionKey, RangeTombstone,
    ReadSelection, RowMutation, TableId,
};
use std::cmp::Ordering;
use std::ops::Bound;

/// How the versions of a counter cell combine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Counters {
    /// One replica's deltas: their sum is the replica's value.
    Sum,
    /// Several replicas' sums of the same counter: the newest one is kept (summing would count
    /// the same increments once per replica).
    Newest,
}

/// Parameters of one canonicalization.
pub(crate) struct Canon<'a> {
    /// Which rows, whether the static row, which columns keep their values.
    pub selection: &'a ReadSelection,
    /// The reader's clock: decides which rows count against `row_limit`.
    pub now: i64,
    /// The clock used to pick the winning row marker (`i64::MIN` for a clock-free choice).
    pub marker_now: i64,
    /// Maximum number of regular rows with live content.
    pub row_limit: Option<usize>,
    /// Resume strictly after this clustering (paging), in selection order.
    pub resume_after: Option<&'a [u8]>,
    /// How counter versions combine.
    pub counters: Counters,
}

/// Keeps the greater of two deletions by `(timestamp, local deletion time)`, so that the result
/// does not depend on the order versions arrive in.
pub(crate) fn keep_max_deletion(current: &mut Option<Deletion>, d: Deletion) {
    if current.is_none_or(|c| (d.timestamp, d.local_deletion_time) > (c.timestamp, c.local_deletion_time)) {
        *current = Some(d);
    }
}

/// Adds every version held by `m` to `p`.
pub(crate) fn absorb(p: &mut Partition, m: &Mutation) {
    if let Some(d) = m.partition_deletion {
        keep_max_deletion(&mut p.deletion, d);
    }
    for rt in &m.range_tombstones {
        p.range_tombstones
            .push((rt.start.clone(), rt.end.clone(), rt.deletion));
    }
    for rm in &m.rows {
        let row = match &rm.clustering {
            Clustering::Static => &mut p.static_row,
            Clustering::Row(c) => p.rows.entry(c.clone()).or_default(),
        };
        if let Some(d) = rm.deletion {
            keep_max_deletion(&mut row.deletion, d);
        }
        if let Some(marker) = rm.marker {
            row.markers.push(marker);
        }
        for (column, d) in &rm.column_deletions {
            add_complex_deletion(row, *column, *d);
        }
        for cell in &rm.cells {
            row.cells
                .entry((cell.column, cell.path.clone()))
                .or_default()
                .push((cell.timestamp, cell.value.clone()));
        }
    }
}

/// Records a complex-column deletion, keeping the greatest per column.
pub(crate) fn add_complex_deletion(row: &mut Row, column: u32, d: Deletion) {
    let mut current = row.complex.get(&column).copied();
    keep_max_deletion(&mut current, d);
    if let Some(c) = current {
        row.complex.insert(column, c);
    }
}

/// A position between clustering prefixes: where a bound cuts the clustering order.
#[derive(Clone, Copy, Debug)]
enum Pos<'a> {
    BeforeAll,
    /// Just before every clustering having this prefix.
    Before(&'a [u8]),
    /// Just after every clustering having this prefix.
    After(&'a [u8]),
    AfterAll,
}

fn start_pos(b: &ClusteringBound) -> Pos<'_> {
    match b {
        Bound::Unbounded => Pos::BeforeAll,
        Bound::Included(p) => Pos::Before(p),
        Bound::Excluded(p) => Pos::After(p),
    }
}

fn end_pos(b: &ClusteringBound) -> Pos<'_> {
    match b {
        Bound::Unbounded => Pos::AfterAll,
        Bound::Included(p) => Pos::After(p),
        Bound::Excluded(p) => Pos::Before(p),
    }
}

/// `(rank, prefix, side)` of a position: infinities rank outside every prefix position.
fn split_pos(p: Pos<'_>) -> (u8, &[u8], i8) {
    match p {
        Pos::BeforeAll => (0, &[], 0),
        Pos::Before(x) => (1, x, -1),
        Pos::After(x) => (1, x, 1),
        Pos::AfterAll => (2, &[], 0),
    }
}

fn cmp_pos(a: Pos<'_>, b: Pos<'_>) -> Ordering {
    let ((ra, xa, sa), (rb, xb, sb)) = (split_pos(a), split_pos(b));
    if ra != 1 || rb != 1 {
        return ra.cmp(&rb);
    }
    if xa == xb {
        sa.cmp(&sb)
    } else if xb.starts_with(xa) {
        // `a` cuts around every clustering with the shorter prefix, `b` inside it.
        if sa < 0 { Ordering::Less } else { Ordering::Greater }
    } else if xa.starts_with(xb) {
        if sb < 0 { Ordering::Greater } else { Ordering::Less }
    } else {
        xa.cmp(xb)
    }
}

/// Orders range tombstones by their bounds.
fn cmp_bounds(a: (&ClusteringBound, &ClusteringBound), b: (&ClusteringBound, &ClusteringBound)) -> Ordering {
    cmp_pos(start_pos(a.0), start_pos(b.0)).then_with(|| cmp_pos(end_pos(a.1), end_pos(b.1)))
}

/// Canonical order of range tombstones: by bounds, then deletion.
pub(crate) fn cmp_range_tombstones(a: &RangeTombstone, b: &RangeTombstone) -> Ordering {
    cmp_bounds((&a.start, &a.end), (&b.start, &b.end)).then_with(|| {
        (a.deletion.timestamp, a.deletion.local_deletion_time)
            .cmp(&(b.deletion.timestamp, b.deletion.local_deletion_time))
    })
}

/// Whether `outer` covers every clustering `[start, end]` covers.
fn contains(outer: &RangeTombstone, start: &ClusteringBound, end: &ClusteringBound) -> bool {
    cmp_pos(start_pos(&outer.start), start_pos(start)) != Ordering::Greater
        && cmp_pos(end_pos(end), end_pos(&outer.end)) != Ordering::Greater
}

/// The range tombstones not shadowed by the partition deletion nor contained in another one at
/// least as new, in canonical order. Taking them newest first, a tombstone is kept exactly when no
/// newer (or equal) tombstone contains it, so the result depends only on the set of tombstones,
/// and tombstones a replica lacks only because they are covered never make digests differ.
fn canonical_range_tombstones(p: &Partition, partition_floor: i64) -> Vec<RangeTombstone> {
    let mut all: Vec<&(ClusteringBound, ClusteringBound, Deletion)> = p
        .range_tombstones
        .iter()
        .filter(|(_, _, d)| d.timestamp > partition_floor)
        .collect();
    all.sort_by(|(sa, ea, da), (sb, eb, db)| {
        (db.timestamp, db.local_deletion_time)
            .cmp(&(da.timestamp, da.local_deletion_time))
            .then_with(|| cmp_bounds((sa, ea), (sb, eb)))
    });
    let mut kept: Vec<RangeTombstone> = Vec::new();
    for (start, end, deletion) in all {
        if kept.iter().any(|k| contains(k, start, end)) {
            continue;
        }
        kept.push(RangeTombstone {
            start: start.clone(),
            end: end.clone(),
            deletion: *deletion,
        });
    }
    kept.sort_by(cmp_range_tombstones);
    kept
}

/// Whether a range tombstone may cover a row of the selected slices.
fn intersects(rt: &RangeTombstone, slices: &[(ClusteringBound, ClusteringBound)]) -> bool {
    slices.is_empty()
        || slices.iter().any(|(s, e)| {
            cmp_pos(start_pos(&rt.start), end_pos(e)) != Ordering::Greater
                && cmp_pos(start_pos(s), end_pos(&rt.end)) != Ordering::Greater
        })
}

/// Whether a canonical row has live content at `now`.
pub(crate) fn row_has_live(row: &RowMutation, now: i64) -> bool {
    row.marker.is_some_and(|m| marker_live(m.ttl, now))
        || row.cells.iter().any(|c| match &c.value {
            CellValue::Live { ttl, .. } => marker_live(*ttl, now),
            CellValue::CounterDelta(_) => true,
            CellValue::Tombstone { .. } => false,
        })
}

/// The canonical content of one row; `floor` is the highest deletion above it (partition, range).
fn canonical_row(row: &Row, clustering: Clustering, floor: i64, o: &Canon<'_>) -> Option<RowMutation> {
    let deletion = row.deletion.filter(|d| d.timestamp > floor);
    let row_floor = ts(&deletion).max(floor);
    let marker = row
        .markers
        .iter()
        .copied()
        .max_by(|a, b| cmp_marker(a.timestamp, a.ttl, b.timestamp, b.ttl, o.marker_now))
        .filter(|m| m.timestamp > row_floor);
    let column_deletions: Vec<(u32, Deletion)> = row
        .complex
        .iter()
        .filter(|(_, d)| d.timestamp > row_floor)
        .map(|(c, d)| (*c, *d))
        .collect();
    let columns = o.selection.columns.as_deref();
    let mut cells = Vec::new();
    for ((column, path), versions) in &row.cells {
        let col_floor = row
            .complex
            .get(column)
            .map_or(row_floor, |d| d.timestamp.max(row_floor));
        let cell = |timestamp: i64, value: CellValue| Cell {
            column: *column,
            path: path.clone(),
            timestamp,
            value,
        };
        let best_regular = |dead_only: bool| {
            versions
                .iter()
                .filter_map(|(t, v)| regular(v).map(|r| (*t, r, v)))
                .filter(|(_, r, _)| !dead_only || !r.is_live(o.now))
                .max_by(|(at, a, _), (bt, b, _)| cmp_regular(*at, a, *bt, b))
        };
        if versions
            .iter()
            .any(|(_, v)| matches!(v, CellValue::CounterDelta(_)))
        {
            // A counter tombstone kills every delta whatever the timestamps (CASSANDRA-7346), so
            // it travels even below the deletion floor.
            if let Some((t, _, v)) = best_regular(true) {
                cells.push(cell(t, v.clone()));
                continue;
            }
            let alive = versions.iter().filter_map(|(t, v)| match v {
                CellValue::CounterDelta(d) if *t > col_floor => Some((*t, *d)),
                _ => None,
            });
            let combined = match o.counters {
                Counters::Sum => alive.fold(None, |acc: Option<(i64, i64)>, (t, d)| {
                    Some(acc.map_or((t, d), |(at, ad)| (at.max(t), ad.wrapping_add(d))))
                }),
                Counters::Newest => alive.max(),
            };
            if let Some((t, d)) = combined {
                cells.push(cell(t, CellValue::CounterDelta(d)));
            }
            continue;
        }
        let Some((t, _, v)) = best_regular(false) else {
            continue;
        };
        if t <= col_floor {
            continue;
        }
        let selected = columns.is_none_or(|c| c.contains(column));
        let value = match v {
            // Unselected columns still decide row liveness: keep the version, not the bytes.
            CellValue::Live { ttl, .. } if !selected => CellValue::Live {
                value: Vec::new(),
                ttl: *ttl,
            },
            other => other.clone(),
        };
        cells.push(cell(t, value));
    }
    let empty = deletion.is_none() && marker.is_none() && column_deletions.is_empty() && cells.is_empty();
    (!empty).then_some(RowMutation {
        clustering,
        marker,
        deletion,
        column_deletions,
        cells,
    })
}

/// The canonical raw content of `p` within `o.selection`, with the number of live regular rows
/// it holds when it has any live content (`None` when all of it is dead). `None` overall when
/// nothing at all is selected.
pub(crate) fn raw_partition(
    table: TableId,
    key: &PartitionKey,
    p: &Partition,
    o: &Canon<'_>,
) -> Option<(Mutation, Option<usize>)> {
    let selection = o.selection;
    let partition_floor = ts(&p.deletion);
    let rts = canonical_range_tombstones(p, partition_floor);
    let mut out = Mutation::new(table, key.clone());
    out.partition_deletion = p.deletion;
    let mut live = false;
    if selection.include_static
        && let Some(row) = canonical_row(&p.static_row, Clustering::Static, partition_floor, o)
    {
        live |= row_has_live(&row, o.now);
        out.rows.push(row);
    }
    let admitted = |c: &[u8]| {
        let in_slices =
            selection.slices.is_empty() || selection.slices.iter().any(|(s, e)| range_admits(s, e, c));
        let after_resume = o.resume_after.is_none_or(|r| {
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
    let mut counted = 0usize;
    for (c, row) in ordered {
        if o.row_limit.is_some_and(|l| counted >= l) {
            break;
        }
        if !admitted(c) {
            continue;
        }
        let floor = rts
            .iter()
            .filter(|rt| range_admits(&rt.start, &rt.end, c))
            .map(|rt| rt.deletion.timestamp)
            .fold(partition_floor, i64::max);
        if let Some(row) = canonical_row(row, Clustering::Row(c.clone()), floor, o) {
            if row_has_live(&row, o.now) {
                counted += 1;
            }
            out.rows.push(row);
        }
    }
    out.range_tombstones = rts
        .into_iter()
        .filter(|rt| intersects(rt, &selection.slices))
        .collect();
    if out.partition_deletion.is_none() && out.range_tombstones.is_empty() && out.rows.is_empty() {
        return None;
    }
    let live = live || counted > 0;
    Some((out, live.then_some(counted)))
}

/// An engine's raw read of one partition (see [`crate::Engine::read_partition_raw`]); the
/// signature matches the memory engine's scan callback.
pub(crate) fn produce_raw(
    key: &PartitionKey,
    table: TableId,
    p: &Partition,
    selection: &ReadSelection,
    now: i64,
    row_limit: Option<usize>,
    resume_after: Option<&[u8]>,
) -> Option<(Mutation, Option<usize>)> {
    raw_partition(
        table,
        key,
        p,
        &Canon {
            selection,
            now,
            marker_now: now,
            row_limit,
            resume_after,
            counters: Counters::Sum,
        },
    )
}
