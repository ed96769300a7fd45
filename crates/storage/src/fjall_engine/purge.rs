//! The purge pass of `major_compact`: a scan of the table's merged view (so every version of a
//! partition is visible, unlike in a compaction filter) that removes
//!
//! * versions shadowed by a deletion or superseded by a newer version of the same cell/marker;
//! * deletions and tombstones (including expired TTL data) older than `gc_grace_seconds`;
//! * all counter deltas of a cell but one holding their sum (consolidation).
//!
//! Removals are ordinary LSM deletes; the major compaction that follows drops them physically.
//! A deletion is only removed after (or atomically with) the data it shadows, so a crash midway
//! never resurrects anything.

use super::codec::{self, CellVersion, ENTRY_CELL, KIND_PARTITION_DELETION, KIND_STATIC, RowEntry};
use super::read::Header;
use crate::error::Result;
use crate::reconcile::{RegularVersion, cmp_regular};
use crate::types::{CellValue, TableOptions};
use fjall::{Database, Keyspace, OwnedWriteBatch, Readable, Slice};
use std::cmp::Ordering;

struct Purge<'a> {
    db: &'a Database,
    ks: &'a Keyspace,
    now: i64,
    gc_before: i64,
    batch_entries: usize,
    batch: OwnedWriteBatch,
    batch_len: usize,
    /// Purged deletions/tombstones of the current partition, removed after its data.
    deferred: Vec<Slice>,
    alloc_uids: &'a mut dyn FnMut(u64) -> Result<u64>,
}

impl Purge<'_> {
    fn remove(&mut self, key: &Slice) -> Result<()> {
        self.batch.remove(self.ks, key.clone());
        self.batch_len += 1;
        if self.batch_len >= self.batch_entries {
            self.commit()?;
        }
        Ok(())
    }

    fn commit(&mut self) -> Result<()> {
        let batch = std::mem::replace(&mut self.batch, self.db.batch());
        self.batch_len = 0;
        batch.commit()?;
        Ok(())
    }

    /// Whether a deletion dated `ldt` is past gc_grace.
    fn purgeable(&self, ldt: i64) -> bool {
        ldt < self.gc_before
    }

    fn finish_partition(&mut self) -> Result<()> {
        if self.deferred.is_empty() {
            return Ok(());
        }
        self.commit()?;
        for key in std::mem::take(&mut self.deferred) {
            self.remove(&key)?;
        }
        self.commit()
    }

    /// Decides the partition-level entries; returns the partition deletion timestamp and the live
    /// range tombstones.
    fn header(&mut self, entries: &[(Slice, Slice)], pp: usize) -> Result<Header> {
        let mut deletion = i64::MIN;
        for (key, _) in entries {
            if key[pp] == KIND_PARTITION_DELETION {
                deletion = deletion.max(codec::ts_from_inverted(&key[pp + 1..])?);
            }
        }
        let mut rts = Vec::new();
        for (key, value) in entries {
            let ldt = codec::i64_at(value)?;
            if key[pp] == KIND_PARTITION_DELETION {
                let ts = codec::ts_from_inverted(&key[pp + 1..])?;
                if ts < deletion {
                    self.remove(key)?;
                } else if self.purgeable(ldt) {
                    self.deferred.push(key.clone());
                }
            } else {
                let (start, end, ts) = codec::decode_range_tombstone(&key[pp + 1..])?;
                if ts <= deletion {
                    self.remove(key)?;
                } else {
                    if self.purgeable(ldt) {
                        self.deferred.push(key.clone());
                    }
                    rts.push((start, end, ts));
                }
            }
        }
        Ok(Header {
            deletion,
            range_tombstones: rts,
        })
    }

    fn row(&mut self, entries: &[(Slice, Slice)], rp: usize, floor: i64) -> Result<()> {
        // Pass 1: deletions and markers (they sort before cells).
        let mut row_floor = floor;
        let mut marker_max = i64::MIN;
        let mut complex: Vec<(u32, i64)> = Vec::new();
        for (key, value) in entries {
            match codec::decode_row_entry(&key[rp..], value)? {
                RowEntry::RowDeletion { ts } => row_floor = row_floor.max(ts),
                RowEntry::Marker { ts, .. } => marker_max = marker_max.max(ts),
                RowEntry::ComplexDeletion { column, ts } => complex.push((column, ts)),
                RowEntry::Cell { .. } => break,
            }
        }
        let complex_floor = |column: u32| {
            complex
                .iter()
                .filter(|(c, _)| *c == column)
                .map(|(_, t)| *t)
                .fold(row_floor, i64::max)
        };
        let mut cells_from = entries.len();
        for (i, (key, value)) in entries.iter().enumerate() {
            if key[rp] == ENTRY_CELL {
                cells_from = i;
                break;
            }
            let ldt_of = |v: &Slice| codec::i64_at(v);
            match codec::decode_row_entry(&key[rp..], value)? {
                RowEntry::RowDeletion { ts } => {
                    if ts < row_floor || ts <= floor {
                        self.remove(key)?;
                    } else if self.purgeable(ldt_of(value)?) {
                        self.deferred.push(key.clone());
                    }
                }
                RowEntry::Marker { ts, ttl } => {
                    let expired_long_ago = ttl.is_some_and(|t| {
                        self.now >= t.expires_at && self.purgeable(t.expires_at - i64::from(t.ttl_seconds))
                    });
                    if ts <= row_floor || ts < marker_max || expired_long_ago {
                        self.remove(key)?;
                    }
                }
                RowEntry::ComplexDeletion { column, ts } => {
                    let others = complex.iter().filter(|(c, t)| *c == column && *t > ts).count();
                    if ts <= row_floor || others > 0 {
                        self.remove(key)?;
                    } else if self.purgeable(ldt_of(value)?) {
                        self.deferred.push(key.clone());
                    }
                }
                RowEntry::Cell { .. } => {}
            }
        }
        // Pass 2: cells, one (column, path) group at a time.
        let cells = &entries[cells_from..];
        let mut start = 0;
        while start < cells.len() {
            let group_key = cell_group(&cells[start].0, rp)?;
            let mut end = start + 1;
            while end < cells.len() && cell_group(&cells[end].0, rp)? == group_key {
                end += 1;
            }
            self.cell_group(&cells[start..end], rp, &complex_floor)?;
            start = end;
        }
        Ok(())
    }

    fn cell_group(
        &mut self,
        versions: &[(Slice, Slice)],
        rp: usize,
        floor_of: &dyn Fn(u32) -> i64,
    ) -> Result<()> {
        let mut decoded = Vec::with_capacity(versions.len());
        for (key, value) in versions {
            let RowEntry::Cell {
                column, ts, value, ..
            } = codec::decode_row_entry(&key[rp..], value)?
            else {
                return Err(codec::corrupt("cell expected"));
            };
            decoded.push((key, column, ts, value));
        }
        let Some(&(_, column, _, _)) = decoded.first() else {
            return Ok(());
        };
        let floor = floor_of(column);
        let has_counter = decoded.iter().any(|d| matches!(d.3, CellVersion::Counter(_)));
        if has_counter {
            return self.counter_group(&decoded, floor);
        }
        let mut winner: Option<(usize, i64, RegularVersion<'_>)> = None;
        for (i, (_, _, ts, v)) in decoded.iter().enumerate() {
            let CellVersion::Regular(v) = v else { continue };
            if winner
                .as_ref()
                .is_none_or(|(_, wts, w)| cmp_regular(*ts, v, *wts, w) == Ordering::Greater)
            {
                winner = Some((i, *ts, *v));
            }
        }
        let Some((wi, wts, w)) = winner else { return Ok(()) };
        for (i, (key, ..)) in decoded.iter().enumerate() {
            if i != wi {
                self.remove(key)?;
            }
        }
        let dead_since = match w {
            RegularVersion::Tombstone { local_deletion_time } => Some(local_deletion_time),
            RegularVersion::Live { ttl: Some(t), .. } if self.now >= t.expires_at => {
                Some(t.expires_at - i64::from(t.ttl_seconds))
            }
            RegularVersion::Live { .. } => None,
        };
        // A shadowed tombstone is kept until gc_grace like any deletion: on a counter column it
        // also kills later deltas whatever their timestamps, so its fate must not depend on
        // which other versions happen to exist at purge time.
        let is_tombstone = matches!(w, RegularVersion::Tombstone { .. });
        if wts <= floor && !is_tombstone {
            self.remove(decoded[wi].0)?;
        } else if dead_since.is_some_and(|ldt| self.purgeable(ldt)) {
            self.deferred.push(decoded[wi].0.clone());
        }
        Ok(())
    }

    fn counter_group(&mut self, decoded: &[(&Slice, u32, i64, CellVersion<'_>)], floor: i64) -> Result<()> {
        let now = self.now;
        let dead_since = |v: &CellVersion<'_>| match v {
            CellVersion::Regular(RegularVersion::Tombstone { local_deletion_time }) => {
                Some(*local_deletion_time)
            }
            CellVersion::Regular(RegularVersion::Live { ttl: Some(t), .. }) if now >= t.expires_at => {
                Some(t.expires_at - i64::from(t.ttl_seconds))
            }
            _ => None,
        };
        if decoded.iter().any(|d| dead_since(&d.3).is_some()) {
            // A tombstone kills the whole counter: keep only tombstones, until past gc_grace.
            for (key, _, _, v) in decoded {
                match dead_since(v) {
                    None => self.remove(key)?,
                    Some(ldt) if self.purgeable(ldt) => self.deferred.push((*key).clone()),
                    Some(_) => {}
                }
            }
            return Ok(());
        }
        let mut sum = 0i64;
        let mut max_ts = i64::MIN;
        let mut live = 0usize;
        for (key, _, ts, v) in decoded {
            match v {
                CellVersion::Counter(d) if *ts > floor => {
                    sum = sum.wrapping_add(*d);
                    max_ts = max_ts.max(*ts);
                    live += 1;
                }
                _ => self.remove(key)?,
            }
        }
        if live < 2 {
            return Ok(());
        }
        // Replace every live delta by one delta holding the sum at the newest timestamp, in one
        // atomic batch.
        self.commit()?;
        let Some((first, ..)) = decoded.first() else {
            return Ok(());
        };
        let group_end = first.len() - codec::VERSION_SUFFIX_LEN;
        let uid = (self.alloc_uids)(1)?;
        let mut key = first[..group_end].to_vec();
        key.extend_from_slice(&codec::inverted_ts(max_ts));
        key.extend_from_slice(&uid.to_be_bytes());
        let mut value = Vec::with_capacity(9);
        codec::encode_cell_value(&mut value, &CellValue::CounterDelta(sum));
        for (old, _, ts, v) in decoded {
            if matches!(v, CellVersion::Counter(_)) && *ts > floor {
                self.batch.remove(self.ks, (*old).clone());
            }
        }
        self.batch.insert(self.ks, key, value);
        self.commit()
    }
}

fn cell_group(key: &[u8], rp: usize) -> Result<&[u8]> {
    let end = key
        .len()
        .checked_sub(codec::VERSION_SUFFIX_LEN)
        .filter(|e| *e > rp)
        .ok_or_else(|| codec::corrupt("short cell"))?;
    Ok(&key[rp..end])
}

/// Runs the purge pass over `ks` as of `now` (seconds).
pub(crate) fn run(
    db: &Database,
    ks: &Keyspace,
    options: TableOptions,
    now: i64,
    batch_entries: usize,
    alloc_uids: &mut dyn FnMut(u64) -> Result<u64>,
) -> Result<()> {
    let snapshot = db.snapshot();
    let mut purge = Purge {
        db,
        ks,
        now,
        gc_before: now.saturating_sub(i64::from(options.gc_grace_seconds)),
        batch_entries: batch_entries.max(1),
        batch: db.batch(),
        batch_len: 0,
        deferred: Vec::new(),
        alloc_uids,
    };
    let mut partition: Vec<u8> = Vec::new();
    let mut header: Vec<(Slice, Slice)> = Vec::new();
    let mut floors: Option<Header> = None;
    let mut row: Vec<(Slice, Slice)> = Vec::new();
    let mut rp = 0;

    let flush_row = |purge: &mut Purge<'_>,
                     row: &mut Vec<(Slice, Slice)>,
                     rp: usize,
                     pp: usize,
                     floors: &Header|
     -> Result<()> {
        let Some((first, _)) = row.first() else {
            return Ok(());
        };
        let floor = if first[pp] == KIND_STATIC {
            floors.deletion
        } else {
            floors.row_floor(&codec::unescape(&first[pp + 1..rp]))
        };
        purge.row(row, rp, floor)?;
        row.clear();
        Ok(())
    };

    for guard in snapshot.iter(ks) {
        let (key, value) = guard.into_inner()?;
        let pp = codec::partition_prefix_len(&key)?;
        if key[..pp] != partition[..] {
            if !partition.is_empty() {
                let f = match floors.take() {
                    Some(f) => f,
                    None => purge.header(&header, partition.len())?,
                };
                flush_row(&mut purge, &mut row, rp, partition.len(), &f)?;
                purge.finish_partition()?;
            }
            partition.clear();
            partition.extend_from_slice(&key[..pp]);
            header.clear();
        }
        match codec::row_prefix_len(&key, pp)? {
            None => header.push((key, value)),
            Some(len) => {
                if floors.is_none() {
                    floors = Some(purge.header(&header, pp)?);
                }
                let same_row = row.first().is_some_and(|(k, _)| key.starts_with(&k[..rp]));
                if !same_row && let Some(f) = &floors {
                    flush_row(&mut purge, &mut row, rp, pp, f)?;
                }
                rp = len;
                row.push((key, value));
            }
        }
    }
    if !partition.is_empty() {
        let f = match floors.take() {
            Some(f) => f,
            None => purge.header(&header, partition.len())?,
        };
        flush_row(&mut purge, &mut row, rp, partition.len(), &f)?;
        purge.finish_partition()?;
    }
    purge.commit()
}
