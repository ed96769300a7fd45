//! The read path: a partition is read from as many replicas as the consistency level needs (closest
//! first), their raw answers (deletions included) are compared by digest and merged; replicas that
//! disagree are repaired before the answer goes back (blocking read repair, so a later read at the same
//! level cannot see older data). A replica that fails is replaced by another live one; short reads
//! (a replica's rows shadowed by another's deletions) are re-read with a larger limit.

use std::net::SocketAddr;
use std::sync::Arc;

use futures::stream::{FuturesUnordered, StreamExt};
use mica_storage::{Mutation, PartitionKey, PartitionView, ReadSelection, TableId};
use tokio::time::Instant;

use crate::consistency::{ConsistencyLevel, Requirement};
use crate::error::{CoordinatorError, FAILURE_UNKNOWN};
use crate::topology::Replica;
use crate::{Coordinator, verbs};

/// How many times a short read is retried with a doubled limit before the answer is returned as is.
const MAX_SHORT_READ_RETRIES: u32 = 8;

/// One replica's raw answer for one partition.
type Answer = Option<Mutation>;

impl Coordinator {
    /// Reads one partition at `level`. Node-local tables are read here only.
    pub async fn read_partition(
        self: &Arc<Self>,
        table: TableId,
        key: &PartitionKey,
        selection: &ReadSelection,
        now_seconds: i64,
        level: ConsistencyLevel,
    ) -> Result<Option<PartitionView>, CoordinatorError> {
        let Some(replicas) = self.topology.replicas(table, key.token) else {
            return Ok(self.storage.read_partition(table, key, selection, now_seconds)?);
        };
        let req = Requirement::new(level, &replicas, &self.topology.local_dc());
        req.check_available(&replicas)?;
        // One replica needed and it is this node: nothing to compare or repair, read storage directly.
        if let Some([only]) = req.pick(&replicas).as_deref()
            && only.addr == self.topology.local_addr()
        {
            return Ok(self.storage.read_partition(table, key, selection, now_seconds)?);
        }
        let mut selection = selection.clone();
        for _ in 0..MAX_SHORT_READ_RETRIES {
            let (merged, short) = self
                .read_merged(table, key, &selection, now_seconds, &req, &replicas)
                .await?;
            let view = merged
                .as_ref()
                .and_then(|m| mica_storage::live_view(m, &selection, now_seconds));
            let Some(limit) = selection.limit_rows else {
                return Ok(view);
            };
            let live = view.as_ref().map_or(0, |v| v.rows.len());
            // A replica stopped at the limit but the merge has fewer live rows: rows beyond that
            // replica's limit may be live, so ask again for more.
            if !short || live >= limit {
                return Ok(view);
            }
            selection.limit_rows = Some(limit.saturating_mul(2));
        }
        let merged = self
            .read_merged(table, key, &selection, now_seconds, &req, &replicas)
            .await?
            .0;
        Ok(merged.and_then(|m| mica_storage::live_view(&m, &selection, now_seconds)))
    }

    /// Reads the contacted replicas' raw partitions, repairs disagreeing ones and returns the merge,
    /// plus whether any replica stopped at the row limit.
    async fn read_merged(
        self: &Arc<Self>,
        table: TableId,
        key: &PartitionKey,
        selection: &ReadSelection,
        now_seconds: i64,
        req: &Requirement,
        replicas: &[Replica],
    ) -> Result<(Option<Mutation>, bool), CoordinatorError> {
        let Some(first) = req.pick(replicas) else {
            return Err(unavailable(req, replicas));
        };
        let timeout = self.settings.read_timeout();
        let deadline = Instant::now() + timeout;
        // Replicas answer with every column: a raw answer restricted to some columns could not be
        // reconciled or used for repair (row liveness depends on all of them).
        let request = verbs::ReadRequest {
            table,
            keys: vec![key.clone()],
            selection: ReadSelection {
                columns: None,
                ..selection.clone()
            },
            now_seconds,
        };
        let payload = Arc::new(verbs::encode(&request)?);
        let mut contacted: Vec<SocketAddr> = first.iter().map(|r| r.addr).collect();
        let mut inflight = FuturesUnordered::new();
        for r in &first {
            inflight.push(self.read_one(r.addr, Arc::clone(&payload), &request, timeout));
        }
        let mut answers: Vec<(SocketAddr, Answer)> = Vec::new();
        let mut failures = Vec::new();
        let started = Instant::now();
        let mut speculated = false;
        loop {
            let acked: Vec<&Replica> = answers
                .iter()
                .filter_map(|(a, _)| replicas.iter().find(|r| r.addr == *a))
                .collect();
            if req.is_met(&acked) {
                break;
            }
            // Speculative retry: when the contacted replicas are slow, one more live replica is asked once.
            let speculate_at = started + speculative_delay(timeout);
            let speculating = !speculated && speculate_at < deadline;
            let next =
                tokio::time::timeout_at(if speculating { speculate_at } else { deadline }, inflight.next())
                    .await;
            if speculating && next.is_err() {
                speculated = true;
                if let Some(r) = self.spare(replicas, &contacted) {
                    tracing::debug!("speculative read from {}", r.addr);
                    contacted.push(r.addr);
                    inflight.push(self.read_one(r.addr, Arc::clone(&payload), &request, timeout));
                }
                continue;
            }
            match next {
                Ok(Some((addr, Ok(answer)))) => answers.push((addr, answer)),
                Ok(Some((addr, Err(e)))) => {
                    tracing::debug!("read from {addr} failed: {e}");
                    failures.push((addr.ip(), FAILURE_UNKNOWN));
                    // Try a live replica not asked yet, so one failure does not fail the read.
                    match self.spare(replicas, &contacted) {
                        Some(r) => {
                            contacted.push(r.addr);
                            inflight.push(self.read_one(r.addr, Arc::clone(&payload), &request, timeout));
                        }
                        None if inflight.is_empty() => {
                            return Err(CoordinatorError::ReadFailure {
                                level: req.level,
                                received: req.received(&acked),
                                block_for: req.block_for(),
                                failures,
                                data_present: answers.iter().any(|(_, a)| a.is_some()),
                            });
                        }
                        None => {}
                    }
                }
                Ok(None) | Err(_) => {
                    return Err(CoordinatorError::ReadTimeout {
                        level: req.level,
                        received: req.received(&acked),
                        block_for: req.block_for(),
                        data_present: answers.iter().any(|(_, a)| a.is_some()),
                    });
                }
            }
        }
        let short = selection.limit_rows.is_some_and(|limit| {
            answers.iter().any(|(_, a)| {
                a.as_ref()
                    .and_then(|m| mica_storage::live_view(m, selection, now_seconds))
                    .is_some_and(|v| v.rows.len() >= limit)
            })
        });
        let digests: Vec<Option<[u8; 16]>> = answers
            .iter()
            .map(|(_, a)| a.as_ref().map(mica_storage::digest))
            .collect();
        let merged = mica_storage::merge(answers.iter().filter_map(|(_, a)| a.clone()));
        if digests.windows(2).any(|w| w[0] != w[1])
            && let Some(merged) = &merged
            && !has_counters(merged)
        {
            self.repair(merged, &answers).await;
        }
        Ok((merged, short))
    }

    /// A live replica not contacted yet.
    fn spare<'a>(&self, replicas: &'a [Replica], contacted: &[SocketAddr]) -> Option<&'a Replica> {
        replicas
            .iter()
            .find(|r| r.alive && !contacted.contains(&r.addr) && self.topology.is_alive(r.addr))
    }

    /// Sends each disagreeing replica what it lacks and waits (up to the write timeout) for them.
    async fn repair(self: &Arc<Self>, merged: &Mutation, answers: &[(SocketAddr, Answer)]) {
        let timeout = self.settings.write_timeout();
        let mut writes = FuturesUnordered::new();
        for (addr, answer) in answers {
            let missing = match answer {
                Some(a) => mica_storage::diff(merged, a),
                None => Some(merged.clone()),
            };
            let Some(missing) = missing else { continue };
            self.read_repairs
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let addr = *addr;
            writes.push(async move {
                let result = if addr == self.topology.local_addr() {
                    match self.storage.apply(vec![missing]) {
                        Ok(d) => d.await.map_err(|e| e.to_string()),
                        Err(e) => Err(e.to_string()),
                    }
                } else {
                    match verbs::encode(&vec![missing]) {
                        Ok(p) => self
                            .messaging
                            .request(addr, verbs::MUTATION, p, timeout)
                            .await
                            .map(drop)
                            .map_err(|e| e.to_string()),
                        Err(e) => Err(e.to_string()),
                    }
                };
                if let Err(e) = result {
                    tracing::debug!("read repair of {addr} failed: {e}");
                }
            });
        }
        while writes.next().await.is_some() {}
    }

    /// One replica's answer for a single-key read request.
    async fn read_one(
        &self,
        addr: SocketAddr,
        payload: Arc<Vec<u8>>,
        request: &verbs::ReadRequest,
        timeout: std::time::Duration,
    ) -> (SocketAddr, Result<Answer, CoordinatorError>) {
        let result = if addr == self.topology.local_addr() {
            self.storage
                .read_partition_raw(
                    request.table,
                    &request.keys[0],
                    &request.selection,
                    request.now_seconds,
                )
                .map_err(CoordinatorError::from)
        } else {
            match self
                .messaging
                .request(addr, verbs::READ, payload.to_vec(), timeout)
                .await
            {
                Ok(bytes) => verbs::decode::<verbs::ReadReply>(&bytes).and_then(|r| {
                    r.partitions
                        .into_iter()
                        .next()
                        .ok_or_else(|| CoordinatorError::Codec("empty read reply".into()))
                }),
                Err(e) => Err(CoordinatorError::Codec(e.to_string())),
            }
        };
        (addr, result)
    }
}

/// How long a read waits for its replicas before asking one more (Cassandra's `speculative_retry`, here a
/// fixed share of the read timeout rather than a latency percentile).
fn speculative_delay(read_timeout: std::time::Duration) -> std::time::Duration {
    (read_timeout / 20).max(std::time::Duration::from_millis(50))
}

/// Counter cells hold per-replica sums, which a repair would add again: counters are not read-repaired.
fn has_counters(m: &Mutation) -> bool {
    m.rows.iter().any(|r| {
        r.cells
            .iter()
            .any(|c| matches!(c.value, mica_storage::CellValue::CounterDelta(_)))
    })
}

fn unavailable(req: &Requirement, replicas: &[Replica]) -> CoordinatorError {
    match req.check_available(replicas) {
        Err(e) => e,
        Ok(()) => CoordinatorError::Unavailable {
            level: req.level,
            required: req.block_for(),
            alive: replicas.iter().filter(|r| r.alive).count(),
        },
    }
}
