//! Raw reads of the fjall engine (see [`crate::Engine::read_partition_raw`]): every stored version
//! of a partition is decoded into the reference model and canonicalized with the rules shared by
//! all engines, leaving the hot live-read path in `read.rs` untouched.

use super::codec::{
    self, CellVersion, KIND_PARTITION_DELETION, KIND_RANGE_TOMBSTONE, KIND_ROW, KIND_STATIC, RowEntry,
};
use super::read::Entries;
use crate::error::Result;
use crate::memory::{Partition, Row};
use crate::raw::{add_complex_deletion, keep_max_deletion, produce_raw};
use crate::reconcile::RegularVersion;
use crate::types::{CellValue, Deletion, Marker, Mutation, PartitionKey, ReadSelection, ScanLimits, TableId};
use fjall::Slice;

/// Adds one stored entry of the partition whose prefix is `pp` bytes long.
pub(crate) fn load_entry(p: &mut Partition, key: &[u8], value: &[u8], pp: usize) -> Result<()> {
    let kind = *key
        .get(pp)
        .ok_or_else(|| codec::corrupt("short partition entry"))?;
    match kind {
        KIND_PARTITION_DELETION => keep_max_deletion(
            &mut p.deletion,
            Deletion {
                timestamp: codec::ts_from_inverted(&key[pp + 1..])?,
                local_deletion_time: codec::i64_at(value)?,
            },
        ),
        KIND_RANGE_TOMBSTONE => {
            let (start, end, timestamp) = codec::decode_range_tombstone(&key[pp + 1..])?;
            let deletion = Deletion {
                timestamp,
                local_deletion_time: codec::i64_at(value)?,
            };
            p.range_tombstones.push((start, end, deletion));
        }
        KIND_STATIC | KIND_ROW => {
            let rp = codec::row_prefix_len(key, pp)?.ok_or_else(|| codec::corrupt("row expected"))?;
            let row: &mut Row = if kind == KIND_STATIC {
                &mut p.static_row
            } else {
                p.rows.entry(codec::unescape(&key[pp + 1..rp])).or_default()
            };
            load_row_entry(row, &key[rp..], value)?;
        }
        _ => return Err(codec::corrupt("unknown partition entry kind")),
    }
    Ok(())
}

fn load_row_entry(row: &mut Row, suffix: &[u8], value: &[u8]) -> Result<()> {
    match codec::decode_row_entry(suffix, value)? {
        RowEntry::RowDeletion { ts } => keep_max_deletion(
            &mut row.deletion,
            Deletion {
                timestamp: ts,
                local_deletion_time: codec::i64_at(value)?,
            },
        ),
        RowEntry::Marker { ts, ttl } => row.markers.push(Marker { timestamp: ts, ttl }),
        RowEntry::ComplexDeletion { column, ts } => add_complex_deletion(
            row,
            column,
            Deletion {
                timestamp: ts,
                local_deletion_time: codec::i64_at(value)?,
            },
        ),
        RowEntry::Cell {
            column,
            path,
            ts,
            value,
            ..
        } => {
            let value = match value {
                CellVersion::Regular(RegularVersion::Live { value, ttl }) => CellValue::Live {
                    value: value.to_vec(),
                    ttl,
                },
                CellVersion::Regular(RegularVersion::Tombstone { local_deletion_time }) => {
                    CellValue::Tombstone { local_deletion_time }
                }
                CellVersion::Counter(d) => CellValue::CounterDelta(d),
            };
            row.cells
                .entry((column, path.map(codec::unescape)))
                .or_default()
                .push((ts, value));
        }
    }
    Ok(())
}

/// Loads every entry of the partition with prefix `pfx` from `it` (which yields the partition's
/// entries first).
pub(crate) fn load_partition(
    it: impl Iterator<Item = Result<(Slice, Slice)>>,
    pfx: &[u8],
) -> Result<Partition> {
    let mut p = Partition::default();
    for entry in it {
        let (key, value) = entry?;
        if !key.starts_with(pfx) {
            break;
        }
        load_entry(&mut p, &key, &value, pfx.len())?;
    }
    Ok(p)
}

/// The lazy raw-partition iterator behind `FjallEngine::scan_raw`: reads each partition whole.
pub(crate) struct RawScan {
    pub table: TableId,
    pub iter: Entries,
    pub selection: ReadSelection,
    pub now: i64,
    /// `(partition prefix, clustering)` to resume after in the first partition.
    pub resume: Option<(Vec<u8>, Vec<u8>)>,
    pub limits: ScanLimits,
    pub done: bool,
}

impl RawScan {
    fn step(&mut self) -> Result<Option<Mutation>> {
        loop {
            if self.limits.partitions == Some(0) || self.limits.rows == Some(0) {
                return Ok(None);
            }
            let pfx = match self.iter.peek() {
                None => return Ok(None),
                Some(Err(_)) => {
                    return Err(self
                        .iter
                        .next()
                        .and_then(|r| r.err())
                        .map_or_else(|| codec::corrupt("iterator"), Into::into));
                }
                Some(Ok((key, _))) => key[..codec::partition_prefix_len(key)?].to_vec(),
            };
            let mut p = Partition::default();
            while let Some(Ok((key, _))) = self.iter.peek() {
                if !key.starts_with(&pfx) {
                    break;
                }
                let Some(entry) = self.iter.next() else { break };
                let (key, value) = entry?;
                load_entry(&mut p, &key, &value, pfx.len())?;
            }
            let key: PartitionKey = codec::decode_partition_key(&pfx)?;
            let resume = self.resume.take().filter(|(p, _)| *p == pfx).map(|(_, c)| c);
            let row_limit = match (self.selection.limit_rows, self.limits.rows) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let produced = produce_raw(
                &key,
                self.table,
                &p,
                &self.selection,
                self.now,
                row_limit,
                resume.as_deref(),
            );
            if let Some((raw, counted)) = produced {
                if let Some(live_rows) = counted {
                    if let Some(n) = self.limits.partitions.as_mut() {
                        *n -= 1;
                    }
                    if let Some(n) = self.limits.rows.as_mut() {
                        *n = n.saturating_sub(live_rows.max(1));
                    }
                }
                return Ok(Some(raw));
            }
        }
    }
}

impl Iterator for RawScan {
    type Item = Result<Mutation>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.step() {
            Ok(Some(raw)) => Some(Ok(raw)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}
