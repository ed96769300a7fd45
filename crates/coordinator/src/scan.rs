//! Range reads: the ring is walked range by range in token order; for each range the coordinator lists
//! partition keys from as many replicas as the consistency level needs (their union, cut where a replica
//! stopped early so that no key can be missing), then reads those partitions through the single-partition
//! path, which reconciles and repairs them.

use std::sync::Arc;

use mica_storage::{PartitionKey, PartitionView, ReadSelection, ScanRange, ScanStart, TableId, TokenBound};
use mica_types::Token;
use tokio::time::Instant;

use crate::consistency::{ConsistencyLevel, Requirement};
use crate::error::CoordinatorError;
use crate::topology::TokenRange;
use crate::{Coordinator, verbs};

/// How many keys one listing asks each replica for.
pub const KEYS_PAGE: usize = 128;

/// A range read in progress; [`RangeScan::next_page`] returns partitions in token order.
pub struct RangeScan {
    coordinator: Arc<Coordinator>,
    table: TableId,
    selection: ReadSelection,
    now_seconds: i64,
    level: ConsistencyLevel,
    ranges: Vec<TokenRange>,
    /// Index of the ring range being listed.
    index: usize,
    /// Where listing resumes (`None` at the start of range `index`).
    resume: Option<PartitionKey>,
    first_token: Option<(i64, bool)>,
    end: TokenBound,
}

impl Coordinator {
    /// Starts a range read of `range` in `table` at `level`; `None` when the table is node-local (scan the
    /// storage engine directly). A `ScanStart::AfterRow` start resumes *after* that partition: callers
    /// continue a partition they stopped inside with [`Coordinator::read_partition`].
    pub fn range_scan(
        self: &Arc<Self>,
        table: TableId,
        range: &ScanRange,
        selection: &ReadSelection,
        now_seconds: i64,
        level: ConsistencyLevel,
    ) -> Option<RangeScan> {
        let ranges = self.topology.ranges(table)?;
        let (first_token, resume) = match &range.start {
            ScanStart::Unbounded => (None, None),
            ScanStart::Token(TokenBound::Unbounded) => (None, None),
            ScanStart::Token(TokenBound::Inclusive(t)) => (Some((t.0, true)), None),
            ScanStart::Token(TokenBound::Exclusive(t)) => (Some((t.0, false)), None),
            ScanStart::Key { key, inclusive: true } => (Some((key.token.0, true)), None),
            ScanStart::Key { key, .. } | ScanStart::AfterRow { key, .. } => {
                (Some((key.token.0, true)), Some(key.clone()))
            }
        };
        // Skip the ranges that end before the start.
        let index = match first_token {
            None => 0,
            Some((t, inclusive)) => ranges
                .iter()
                .position(|r| r.end > t || (inclusive && r.end == t))
                .unwrap_or(ranges.len()),
        };
        Some(RangeScan {
            coordinator: Arc::clone(self),
            table,
            selection: selection.clone(),
            now_seconds,
            level,
            ranges,
            index,
            resume,
            first_token,
            end: range.end,
        })
    }
}

impl RangeScan {
    /// The next partitions in token order; an empty page means the scan is done.
    pub async fn next_page(&mut self) -> Result<Vec<PartitionView>, CoordinatorError> {
        loop {
            let Some(range) = self.ranges.get(self.index).cloned() else {
                return Ok(Vec::new());
            };
            if self.past_end(range.start) {
                self.index = self.ranges.len();
                return Ok(Vec::new());
            }
            let keys = self.list_keys(&range).await?;
            let reads = keys.iter().map(|k| {
                self.coordinator
                    .read_partition(self.table, k, &self.selection, self.now_seconds, self.level)
            });
            let mut page = Vec::with_capacity(keys.len());
            for view in futures::future::join_all(reads).await {
                if let Some(v) = view? {
                    page.push(v);
                }
            }
            if !page.is_empty() {
                return Ok(page);
            }
        }
    }

    /// Whether a range starting (exclusively) at `start` lies wholly past the scan's end.
    fn past_end(&self, start: i64) -> bool {
        match self.end {
            TokenBound::Unbounded => false,
            TokenBound::Inclusive(t) => start >= t.0,
            TokenBound::Exclusive(t) => start >= t.0.saturating_sub(1),
        }
    }

    /// The sub-range of ring range `range` still to list.
    fn sub_range(&self, range: &TokenRange) -> ScanRange {
        let start = match (&self.resume, self.first_token) {
            (Some(key), _) => ScanStart::Key {
                key: key.clone(),
                inclusive: false,
            },
            (None, Some((t, inclusive))) if t > range.start || (t == range.start && inclusive) => {
                ScanStart::Token(if inclusive {
                    TokenBound::Inclusive(Token(t))
                } else {
                    TokenBound::Exclusive(Token(t))
                })
            }
            (None, _) if range.start == i64::MIN => ScanStart::Unbounded,
            (None, _) => ScanStart::Token(TokenBound::Exclusive(Token(range.start))),
        };
        let end = match self.end {
            TokenBound::Inclusive(t) | TokenBound::Exclusive(t) if t.0 <= range.end => self.end,
            _ => TokenBound::Inclusive(Token(range.end)),
        };
        ScanRange { start, end }
    }

    /// Lists the next keys of `range` from the replicas the consistency level needs, moving on to the
    /// next range when this one is exhausted.
    async fn list_keys(&mut self, range: &TokenRange) -> Result<Vec<PartitionKey>, CoordinatorError> {
        let c = &self.coordinator;
        let req = Requirement::new(self.level, &range.replicas, &c.topology.local_dc());
        req.check_available(&range.replicas)?;
        let Some(targets) = req.pick(&range.replicas) else {
            return Err(CoordinatorError::Unavailable {
                level: self.level,
                required: req.block_for(),
                alive: range.replicas.iter().filter(|r| r.alive).count(),
            });
        };
        let request = verbs::KeysRequest {
            table: self.table,
            range: self.sub_range(range),
            limit: KEYS_PAGE,
            now_seconds: self.now_seconds,
        };
        let timeout = c.settings.range_timeout();
        let deadline = Instant::now() + timeout;
        let payload = verbs::encode(&request)?;
        let mut contacted: Vec<&crate::topology::Replica> = Vec::new();
        let mut answered: Vec<&crate::topology::Replica> = Vec::new();
        let mut round = targets;
        let mut keys: Vec<PartitionKey> = Vec::new();
        let mut cut: Option<PartitionKey> = None;
        let mut failures = Vec::new();
        // Rounds: the fewest replicas first, then a spare for each one that failed.
        while !round.is_empty() {
            contacted.extend(round.iter().copied());
            let listings = round.iter().map(|r| {
                let payload = payload.clone();
                let request = &request;
                async move {
                    if r.addr == c.topology.local_addr() {
                        crate::handlers::list_keys(&*c.storage, request)
                    } else {
                        let bytes = c
                            .messaging
                            .request(r.addr, verbs::KEYS, payload, timeout)
                            .await
                            .map_err(|e| CoordinatorError::Codec(e.to_string()))?;
                        verbs::decode::<verbs::KeysReply>(&bytes)
                    }
                }
            });
            let Ok(replies) = tokio::time::timeout_at(deadline, futures::future::join_all(listings)).await
            else {
                return Err(CoordinatorError::ReadTimeout {
                    level: self.level,
                    received: req.received(&answered),
                    block_for: req.block_for(),
                    data_present: !keys.is_empty(),
                });
            };
            let mut failed = 0;
            for (reply, target) in replies.into_iter().zip(&round) {
                match reply {
                    Ok(reply) => {
                        if reply.truncated
                            && let Some(last) = reply.keys.last()
                            && cut.as_ref().is_none_or(|c| last < c)
                        {
                            cut = Some(last.clone());
                        }
                        keys.extend(reply.keys);
                        answered.push(target);
                    }
                    Err(e) => {
                        tracing::debug!("listing keys on {} failed: {e}", target.addr);
                        failures.push((target.addr.ip(), crate::error::FAILURE_UNKNOWN));
                        failed += 1;
                    }
                }
            }
            if req.is_met(&answered) {
                break;
            }
            round = range
                .replicas
                .iter()
                .filter(|r| r.alive && !contacted.iter().any(|x| x.addr == r.addr))
                .take(failed)
                .collect();
        }
        if !req.is_met(&answered) {
            return Err(CoordinatorError::ReadFailure {
                level: self.level,
                received: req.received(&answered),
                block_for: req.block_for(),
                failures,
                data_present: !keys.is_empty(),
            });
        }
        keys.sort();
        keys.dedup();
        match cut {
            Some(cut) => {
                keys.retain(|k| *k <= cut);
                self.resume = Some(cut);
            }
            None => {
                self.index += 1;
                self.resume = None;
                self.first_token = None;
            }
        }
        Ok(keys)
    }
}
