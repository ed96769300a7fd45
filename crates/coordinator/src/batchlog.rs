//! The batchlog: a logged batch spanning several partitions is first stored on up to two other live nodes
//! of the coordinator's datacenter, then written, then removed from the batchlog. If the coordinator dies
//! in between, the batchlog nodes replay the batch once it is older than twice the write timeout, so a
//! logged batch is eventually applied entirely or (if never acknowledged to the batchlog) not at all.
//!
//! Entries live in the storage engine's metadata store under
//! `batchlog/<20-digit written-at microseconds>/<32 hex digit id>`; the value is the BATCH_STORE payload.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mica_storage::Mutation;
use serde::{Deserialize, Serialize};

use crate::consistency::ConsistencyLevel;
use crate::error::{CoordinatorError, WriteType};
use crate::{Coordinator, verbs};

/// The metadata key prefix of batchlog entries.
const PREFIX: &str = "batchlog/";
/// How many other nodes hold a batch (Cassandra picks two, from different racks when it can).
const BATCHLOG_REPLICAS: usize = 2;

/// A stored batch.
#[derive(Debug, Serialize, Deserialize)]
pub struct BatchlogEntry {
    pub id: u128,
    pub written_at_micros: i64,
    pub mutations: Vec<Mutation>,
}

/// Which batch to forget once it was written.
#[derive(Debug, Serialize, Deserialize)]
pub struct BatchlogRemove {
    pub id: u128,
    pub written_at_micros: i64,
}

fn key(id: u128, written_at_micros: i64) -> String {
    format!("{PREFIX}{:020}/{id:032x}", written_at_micros.max(0))
}

/// Stores an entry in the local metadata store.
pub(crate) fn store_local(
    storage: &dyn mica_storage::Engine,
    entry_payload: &[u8],
) -> Result<(), CoordinatorError> {
    let entry: BatchlogEntry = verbs::decode(entry_payload)?;
    storage.put_meta(key(entry.id, entry.written_at_micros).as_bytes(), entry_payload)?;
    Ok(())
}

/// Removes an entry from the local metadata store.
pub(crate) fn remove_local(
    storage: &dyn mica_storage::Engine,
    payload: &[u8],
) -> Result<(), CoordinatorError> {
    let remove: BatchlogRemove = verbs::decode(payload)?;
    storage.delete_meta(key(remove.id, remove.written_at_micros).as_bytes())?;
    Ok(())
}

impl Coordinator {
    /// Writes a logged batch: batchlog first, then the mutations at `level`, then the batchlog entry is dropped.
    pub(crate) async fn write_logged_batch(
        self: &Arc<Self>,
        mutations: Vec<Mutation>,
        level: ConsistencyLevel,
    ) -> Result<(), CoordinatorError> {
        let written_at_micros = mica_types::Timestamp::now().0;
        let id = batch_id(written_at_micros, &mutations);
        let entry = BatchlogEntry {
            id,
            written_at_micros,
            mutations,
        };
        let payload = verbs::encode(&entry)?;
        let candidates = self.batchlog_candidates();
        let wanted = candidates.len().min(BATCHLOG_REPLICAS);
        let timeout = self.settings.write_timeout();
        let mut targets = Vec::with_capacity(wanted);
        // The first candidates in parallel; a spare for each that fails (a dead node gossip has not convicted yet).
        let mut next = 0;
        while targets.len() < wanted && next < candidates.len() {
            let round: Vec<SocketAddr> = candidates[next..]
                .iter()
                .take(wanted - targets.len())
                .copied()
                .collect();
            next += round.len();
            let stores = round
                .iter()
                .map(|&addr| self.store_batch(addr, payload.clone(), timeout));
            for (addr, result) in round.iter().zip(futures::future::join_all(stores).await) {
                match result {
                    Ok(()) => targets.push(*addr),
                    Err(e) => tracing::debug!("batchlog store on {addr} failed: {e}"),
                }
            }
        }
        if targets.len() < wanted {
            return Err(CoordinatorError::WriteTimeout {
                level: ConsistencyLevel::One,
                received: targets.len(),
                block_for: wanted,
                write_type: WriteType::BatchLog,
            });
        }
        let BatchlogEntry { mutations, .. } = entry;
        self.write_now(mutations, level, WriteType::Batch).await?;
        let remove = verbs::encode(&BatchlogRemove {
            id,
            written_at_micros,
        })?;
        for addr in targets {
            if addr == self.topology.local_addr() {
                let storage = Arc::clone(&self.storage);
                let remove = remove.clone();
                tokio::task::spawn_blocking(move || {
                    if let Err(e) = remove_local(&*storage, &remove) {
                        tracing::warn!("cannot remove a batchlog entry: {e}");
                    }
                });
            } else {
                self.messaging.send(addr, verbs::BATCH_REMOVE, remove.clone());
            }
        }
        Ok(())
    }

    async fn store_batch(
        &self,
        addr: SocketAddr,
        payload: Vec<u8>,
        timeout: Duration,
    ) -> Result<(), CoordinatorError> {
        if addr == self.topology.local_addr() {
            let storage = Arc::clone(&self.storage);
            tokio::task::spawn_blocking(move || store_local(&*storage, &payload))
                .await
                .map_err(|e| CoordinatorError::Codec(e.to_string()))?
        } else {
            self.messaging
                .request(addr, verbs::BATCH_STORE, payload, timeout)
                .await
                .map(drop)
                .map_err(|e| CoordinatorError::Codec(e.to_string()))
        }
    }

    /// The other live nodes of this datacenter in a rotating order; this node itself when it is alone there.
    fn batchlog_candidates(&self) -> Vec<SocketAddr> {
        let local = self.topology.local_addr();
        let mut others: Vec<SocketAddr> = self
            .topology
            .live_nodes_in(&self.topology.local_dc())
            .into_iter()
            .filter(|a| *a != local)
            .collect();
        // Spread batches over the candidates rather than always loading the first two.
        let n = others.len();
        if n > BATCHLOG_REPLICAS {
            let start = (mica_types::Timestamp::now().0.unsigned_abs() as usize) % n;
            others.rotate_left(start);
        }
        if others.is_empty() {
            others.push(local);
        }
        others
    }

    /// Replays batches whose coordinator did not remove them in time (it probably died); returns how many.
    pub async fn replay_batchlog(self: &Arc<Self>) -> usize {
        let storage = Arc::clone(&self.storage);
        let entries = match tokio::task::spawn_blocking(move || storage.scan_meta(PREFIX.as_bytes())).await {
            Ok(Ok(e)) => e,
            _ => return 0,
        };
        let cutoff = mica_types::Timestamp::now().0
            - i64::try_from((self.settings.write_timeout() * 2 + Duration::from_secs(1)).as_micros())
                .unwrap_or(i64::MAX);
        let mut replayed = 0;
        for (key, payload) in entries {
            let entry: BatchlogEntry = match verbs::decode(&payload) {
                Ok(e) => e,
                Err(e) => {
                    tracing::warn!("dropping an unreadable batchlog entry: {e}");
                    let _ = self.storage.delete_meta(&key);
                    continue;
                }
            };
            if entry.written_at_micros > cutoff {
                continue;
            }
            // Every replica gets the batch (hints for the ones that are down); one acknowledgement will do.
            match self
                .write_now(entry.mutations, ConsistencyLevel::One, WriteType::Batch)
                .await
            {
                Ok(()) => {
                    let storage = Arc::clone(&self.storage);
                    let _ = tokio::task::spawn_blocking(move || storage.delete_meta(&key)).await;
                    replayed += 1;
                }
                Err(e) => tracing::debug!("batchlog replay postponed: {e}"),
            }
        }
        if replayed > 0 {
            tracing::info!("replayed {replayed} batches from the batchlog");
        }
        replayed
    }
}

/// A batch id unique enough for the batchlog: the time, then a hash of the batch's keys and this process.
fn batch_id(written_at_micros: i64, mutations: &[Mutation]) -> u128 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for m in mutations {
        m.key.key.hash(&mut hasher);
    }
    std::process::id().hash(&mut hasher);
    (u128::from(written_at_micros.unsigned_abs()) << 64) | u128::from(hasher.finish())
}
