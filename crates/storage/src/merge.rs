//! Coordinator-side reconciliation of raw partitions (see [`crate::Engine::read_partition_raw`]):
//! merging several replicas' responses, turning the merge into a live view, digesting it, and
//! computing what each replica lacks (read repair).
//!
//! Every function is pure. They build the reference model's partition from the inputs and reuse
//! the engines' canonicalization, so a merge is exactly what one engine holding every input would
//! return from a raw read.

use crate::memory::{Partition, view_partition};
use crate::raw::{Canon, Counters, absorb, raw_partition};
use crate::types::{
    Cell, CellValue, Clustering, ClusteringBound, Deletion, Marker, Mutation, PartitionView, RangeTombstone,
    ReadSelection, RowMutation,
};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::ops::Bound;

/// Reconciles several raw partitions of the same table and key (e.g. from several replicas) into
/// one canonical raw partition: winning versions only, shadowed data dropped, rows sorted (static
/// first, then clustering order ascending), cells sorted by `(column, path)`, range tombstones
/// sorted, de-duplicated and without those contained in a newer one. `None` for an empty input;
/// the table and key are taken from the first part.
///
/// Row markers are compared without a clock (at equal timestamps an expiring marker beats a
/// permanent one, the later expiration wins), and counter cells keep the newest replica's value
/// (see the crate docs on counters).
pub fn merge(parts: impl IntoIterator<Item = Mutation>) -> Option<Mutation> {
    let mut parts = parts.into_iter();
    let first = parts.next()?;
    let mut p = Partition::default();
    absorb(&mut p, &first);
    for part in parts {
        absorb(&mut p, &part);
    }
    let selection = ReadSelection::all();
    let canon = Canon {
        selection: &selection,
        now: i64::MIN,
        marker_now: i64::MIN,
        row_limit: None,
        resume_after: None,
        counters: Counters::Newest,
    };
    Some(
        raw_partition(first.table, &first.key, &p, &canon)
            .map_or_else(|| Mutation::new(first.table, first.key.clone()), |(m, _)| m),
    )
}

/// What [`crate::Engine::read_partition`] would return from an engine holding exactly `raw`, with
/// the same selection, limit and reversed semantics.
pub fn live_view(raw: &Mutation, selection: &ReadSelection, now_seconds: i64) -> Option<PartitionView> {
    let mut p = Partition::default();
    absorb(&mut p, raw);
    view_partition(&raw.key, &p, selection, now_seconds, selection.limit_rows, None)
}

/// Domain separation tags of the digest encoding.
const TAG_PARTITION_DELETION: u8 = 1;
const TAG_RANGE_TOMBSTONE: u8 = 2;
const TAG_ROW: u8 = 3;
const TAG_STATIC_ROW: u8 = 4;
const TAG_MARKER: u8 = 5;
const TAG_ROW_DELETION: u8 = 6;
const TAG_COMPLEX_DELETION: u8 = 7;
const TAG_CELL: u8 = 8;
/// Length of the digest (SHA-256 truncated).
pub const DIGEST_LEN: usize = 16;

/// A digest of the canonical form of `raw` (its merge with nothing else): replicas with the same
/// reconciled content get equal digests whatever their write history.
pub fn digest(raw: &Mutation) -> [u8; DIGEST_LEN] {
    let canonical = merge([raw.clone()]).unwrap_or_else(|| raw.clone());
    let mut h = Sha256::new();
    h.update(canonical.table.0.as_bytes());
    h.update(canonical.key.token.0.to_be_bytes());
    bytes(&mut h, &canonical.key.key);
    if let Some(d) = canonical.partition_deletion {
        h.update([TAG_PARTITION_DELETION]);
        deletion(&mut h, &d);
    }
    for rt in &canonical.range_tombstones {
        h.update([TAG_RANGE_TOMBSTONE]);
        bound(&mut h, &rt.start);
        bound(&mut h, &rt.end);
        deletion(&mut h, &rt.deletion);
    }
    for row in &canonical.rows {
        match &row.clustering {
            Clustering::Static => h.update([TAG_STATIC_ROW]),
            Clustering::Row(c) => {
                h.update([TAG_ROW]);
                bytes(&mut h, c);
            }
        }
        if let Some(m) = row.marker {
            h.update([TAG_MARKER]);
            marker(&mut h, &m);
        }
        if let Some(d) = row.deletion {
            h.update([TAG_ROW_DELETION]);
            deletion(&mut h, &d);
        }
        for (column, d) in &row.column_deletions {
            h.update([TAG_COMPLEX_DELETION]);
            h.update(column.to_be_bytes());
            deletion(&mut h, d);
        }
        for c in &row.cells {
            h.update([TAG_CELL]);
            cell(&mut h, c);
        }
    }
    let full = h.finalize();
    let mut out = [0u8; DIGEST_LEN];
    out.copy_from_slice(&full[..DIGEST_LEN]);
    out
}

fn bytes(h: &mut Sha256, b: &[u8]) {
    h.update((b.len() as u64).to_be_bytes());
    h.update(b);
}

fn deletion(h: &mut Sha256, d: &Deletion) {
    h.update(d.timestamp.to_be_bytes());
    h.update(d.local_deletion_time.to_be_bytes());
}

fn ttl(h: &mut Sha256, t: Option<crate::types::Ttl>) {
    match t {
        None => h.update([0]),
        Some(t) => {
            h.update([1]);
            h.update(t.ttl_seconds.to_be_bytes());
            h.update(t.expires_at.to_be_bytes());
        }
    }
}

fn marker(h: &mut Sha256, m: &Marker) {
    h.update(m.timestamp.to_be_bytes());
    ttl(h, m.ttl);
}

fn bound(h: &mut Sha256, b: &ClusteringBound) {
    match b {
        Bound::Unbounded => h.update([0]),
        Bound::Included(p) => {
            h.update([1]);
            bytes(h, p);
        }
        Bound::Excluded(p) => {
            h.update([2]);
            bytes(h, p);
        }
    }
}

fn cell(h: &mut Sha256, c: &Cell) {
    h.update(c.column.to_be_bytes());
    match &c.path {
        None => h.update([0]),
        Some(p) => {
            h.update([1]);
            bytes(h, p);
        }
    }
    h.update(c.timestamp.to_be_bytes());
    match &c.value {
        CellValue::Live { value, ttl: t } => {
            h.update([0]);
            bytes(h, value);
            ttl(h, *t);
        }
        CellValue::Tombstone { local_deletion_time } => {
            h.update([1]);
            h.update(local_deletion_time.to_be_bytes());
        }
        CellValue::CounterDelta(d) => {
            h.update([2]);
            h.update(d.to_be_bytes());
        }
    }
}

/// What `replica` lacks compared with `merged` (the result of [`merge`]): the deletions, markers
/// and cells of `merged` that `replica` does not hold with the same winning version, as a
/// mutation to apply to that replica; `None` when nothing is missing.
///
/// Both must come from reads with the same selection and without a column restriction (with
/// `selection.columns`, cells of other columns carry empty values and must not be written back).
pub fn diff(merged: &Mutation, replica: &Mutation) -> Option<Mutation> {
    let mut out = Mutation::new(merged.table, merged.key.clone());
    if merged.partition_deletion.is_some() && merged.partition_deletion != replica.partition_deletion {
        out.partition_deletion = merged.partition_deletion;
    }
    let held: HashSet<&RangeTombstone> = replica.range_tombstones.iter().collect();
    out.range_tombstones = merged
        .range_tombstones
        .iter()
        .filter(|rt| !held.contains(rt))
        .cloned()
        .collect();
    let rows: HashMap<&Clustering, &RowMutation> = replica.rows.iter().map(|r| (&r.clustering, r)).collect();
    for row in &merged.rows {
        let theirs = rows.get(&row.clustering).copied();
        let mut missing = RowMutation::new(row.clustering.clone());
        missing.marker = row.marker.filter(|m| theirs.is_none_or(|t| t.marker != Some(*m)));
        missing.deletion = row
            .deletion
            .filter(|d| theirs.is_none_or(|t| t.deletion != Some(*d)));
        missing.column_deletions = row
            .column_deletions
            .iter()
            .filter(|cd| theirs.is_none_or(|t| !t.column_deletions.contains(cd)))
            .copied()
            .collect();
        let held_cells: HashSet<&Cell> = theirs.map(|t| t.cells.iter().collect()).unwrap_or_default();
        missing.cells = row
            .cells
            .iter()
            .filter(|c| !held_cells.contains(c))
            .cloned()
            .collect();
        if missing.marker.is_some()
            || missing.deletion.is_some()
            || !missing.column_deletions.is_empty()
            || !missing.cells.is_empty()
        {
            out.rows.push(missing);
        }
    }
    (out.partition_deletion.is_some() || !out.range_tombstones.is_empty() || !out.rows.is_empty())
        .then_some(out)
}
