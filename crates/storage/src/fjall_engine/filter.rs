//! Background compaction filter for table keyspaces.
//!
//! fjall hands the filter every entry of one compaction in key order, but only the entries of the
//! tables being compacted: a shadowing deletion or newer version may live in another table. The
//! filter therefore only does what is safe with partial knowledge:
//!
//! * drops entries shadowed by a deletion (partition, range, row, complex) seen earlier in the same
//!   stream, and cell versions older than a newer version of the same cell seen earlier;
//! * converts expired TTL cells into tombstones (dropping their value bytes).
//!
//! It never removes a tombstone or deletion: purging those after `gc_grace_seconds` needs the
//! whole partition and is done by [`super::purge`] during `major_compact`.

use super::codec::{self, CellVersion, KIND_PARTITION_DELETION, KIND_RANGE_TOMBSTONE, KIND_STATIC, RowEntry};
use crate::error::Result;
use crate::reconcile::{RegularVersion, range_admits};
use crate::types::{CellValue, ClusteringBound};
use lsm_tree::compaction::filter::Context;
use lsm_tree::compaction::{CompactionFilter, Factory, ItemAccessor, Verdict};
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

/// Sentinel meaning "use the wall clock".
const NO_CLOCK_OVERRIDE: i64 = i64::MIN;

/// State shared between the engine and its compaction filters.
pub(crate) struct FilterState {
    options: RwLock<HashMap<String, crate::types::TableOptions>>,
    clock_override: AtomicI64,
}

impl Default for FilterState {
    fn default() -> Self {
        FilterState {
            options: RwLock::default(),
            clock_override: AtomicI64::new(NO_CLOCK_OVERRIDE),
        }
    }
}

impl FilterState {
    pub fn set(&self, name: &str, options: crate::types::TableOptions) {
        if let Ok(mut map) = self.options.write() {
            map.insert(name.to_string(), options);
        }
    }

    pub fn remove(&self, name: &str) {
        if let Ok(mut map) = self.options.write() {
            map.remove(name);
        }
    }

    /// Pins the clock compaction uses to expire TTL cells (`None`: wall clock).
    pub fn set_clock(&self, now_seconds: Option<i64>) {
        self.clock_override
            .store(now_seconds.unwrap_or(NO_CLOCK_OVERRIDE), Ordering::Relaxed);
    }

    fn now(&self) -> i64 {
        match self.clock_override.load(Ordering::Relaxed) {
            NO_CLOCK_OVERRIDE => mica_types::now_seconds(),
            pinned => pinned,
        }
    }
}

struct MicaFactory {
    state: Arc<FilterState>,
    name: String,
}

/// The filter factory installed on table keyspace `name`.
pub(crate) fn factory(state: Arc<FilterState>, name: &str) -> Arc<dyn Factory> {
    Arc::new(MicaFactory {
        state,
        name: format!("mica:{name}"),
    })
}

impl Factory for MicaFactory {
    fn name(&self) -> &str {
        &self.name
    }

    fn make_filter(&self, _ctx: &Context) -> Box<dyn CompactionFilter> {
        Box::new(ShadowFilter::new(self.state.now()))
    }
}

/// Streaming shadow tracker over one compaction's entries.
pub(crate) struct ShadowFilter {
    now: i64,
    partition: Vec<u8>,
    partition_deletion: i64,
    range_tombstones: Vec<(ClusteringBound, ClusteringBound, i64)>,
    row: Vec<u8>,
    row_floor: i64,
    marker_max: i64,
    complex: Vec<(u32, i64)>,
    group: Vec<u8>,
    group_max: i64,
}

/// What to do with one entry.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    Keep,
    Drop,
    Replace(Vec<u8>),
}

impl ShadowFilter {
    pub fn new(now: i64) -> ShadowFilter {
        ShadowFilter {
            now,
            partition: Vec::new(),
            partition_deletion: i64::MIN,
            range_tombstones: Vec::new(),
            row: Vec::new(),
            row_floor: i64::MIN,
            marker_max: i64::MIN,
            complex: Vec::new(),
            group: Vec::new(),
            group_max: i64::MIN,
        }
    }

    /// Decides the fate of one entry; entries must arrive in ascending key order.
    pub fn decide(&mut self, key: &[u8], value: &[u8]) -> Result<Decision> {
        let pp = codec::partition_prefix_len(key)?;
        if key[..pp] != self.partition[..] {
            self.partition.clear();
            self.partition.extend_from_slice(&key[..pp]);
            self.partition_deletion = i64::MIN;
            self.range_tombstones.clear();
            self.row.clear();
        }
        let Some(rp) = codec::row_prefix_len(key, pp)? else {
            return Ok(match key[pp] {
                KIND_PARTITION_DELETION => {
                    let ts = codec::ts_from_inverted(&key[pp + 1..])?;
                    if ts < self.partition_deletion {
                        Decision::Drop
                    } else {
                        self.partition_deletion = ts;
                        Decision::Keep
                    }
                }
                KIND_RANGE_TOMBSTONE => {
                    let (start, end, ts) = codec::decode_range_tombstone(&key[pp + 1..])?;
                    if ts <= self.partition_deletion {
                        Decision::Drop
                    } else {
                        self.range_tombstones.push((start, end, ts));
                        Decision::Keep
                    }
                }
                _ => Decision::Keep,
            });
        };
        if key[..rp] != self.row[..] {
            self.row.clear();
            self.row.extend_from_slice(&key[..rp]);
            self.row_floor = if key[pp] == KIND_STATIC {
                self.partition_deletion
            } else {
                let clustering = codec::unescape(&key[pp + 1..rp]);
                self.range_tombstones
                    .iter()
                    .filter(|(s, e, _)| range_admits(s, e, &clustering))
                    .map(|(_, _, ts)| *ts)
                    .fold(self.partition_deletion, i64::max)
            };
            self.marker_max = i64::MIN;
            self.complex.clear();
            self.group.clear();
        }
        Ok(match codec::decode_row_entry(&key[rp..], value)? {
            RowEntry::RowDeletion { ts } => {
                if ts <= self.row_floor {
                    Decision::Drop
                } else {
                    self.row_floor = ts;
                    Decision::Keep
                }
            }
            RowEntry::Marker { ts, .. } => {
                if ts <= self.row_floor || ts < self.marker_max {
                    Decision::Drop
                } else {
                    self.marker_max = ts;
                    Decision::Keep
                }
            }
            RowEntry::ComplexDeletion { column, ts } => {
                let existing = self.complex_floor(column);
                if ts <= self.row_floor || ts <= existing {
                    Decision::Drop
                } else {
                    self.complex.push((column, ts));
                    Decision::Keep
                }
            }
            RowEntry::Cell {
                column,
                group,
                ts,
                value,
                ..
            } => {
                if group != &self.group[..] {
                    self.group.clear();
                    self.group.extend_from_slice(group);
                    self.group_max = i64::MIN;
                }
                let floor = self.row_floor.max(self.complex_floor(column));
                match value {
                    CellVersion::Counter(_) => {
                        if ts <= floor {
                            Decision::Drop
                        } else {
                            Decision::Keep
                        }
                    }
                    CellVersion::Regular(RegularVersion::Tombstone { .. }) => {
                        self.group_max = self.group_max.max(ts);
                        Decision::Keep
                    }
                    CellVersion::Regular(RegularVersion::Live { ttl, .. }) => {
                        if ts <= floor || ts < self.group_max {
                            Decision::Drop
                        } else {
                            self.group_max = ts;
                            match ttl {
                                Some(ttl) if self.now >= ttl.expires_at => {
                                    // Cassandra dates the tombstone at the write time (expiry - ttl)
                                    // so gc_grace counts from when the cell was written.
                                    let ldt = ttl.expires_at - i64::from(ttl.ttl_seconds);
                                    let mut v = Vec::with_capacity(9);
                                    codec::encode_cell_value(
                                        &mut v,
                                        &CellValue::Tombstone {
                                            local_deletion_time: ldt,
                                        },
                                    );
                                    Decision::Replace(v)
                                }
                                _ => Decision::Keep,
                            }
                        }
                    }
                }
            }
        })
    }

    fn complex_floor(&self, column: u32) -> i64 {
        self.complex
            .iter()
            .filter(|(c, _)| *c == column)
            .map(|(_, t)| *t)
            .max()
            .unwrap_or(i64::MIN)
    }
}

impl CompactionFilter for ShadowFilter {
    fn filter_item(&mut self, item: ItemAccessor<'_>, _ctx: &Context) -> lsm_tree::Result<Verdict> {
        let value = item.value()?;
        match self.decide(item.key(), &value) {
            // Dropped entries have unique keys (or are deletions equal to one kept), so nothing
            // older can resurface: no tombstone is needed.
            Ok(Decision::Drop) => Ok(Verdict::Destroy),
            Ok(Decision::Replace(v)) => Ok(Verdict::ReplaceValue(v.into())),
            Ok(Decision::Keep) => Ok(Verdict::Keep),
            Err(e) => {
                // Never abort a compaction over an entry we cannot parse; keep it as is.
                tracing::warn!(error = %e, "compaction filter kept an undecodable entry");
                Ok(Verdict::Keep)
            }
        }
    }
}
