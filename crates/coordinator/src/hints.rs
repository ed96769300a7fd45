//! Hinted handoff: writes a replica missed are kept on the coordinator, durably, in the storage engine's
//! metadata store, and replayed to the replica once gossip sees it up again. Hints keep the original
//! mutations (and so their timestamps), so replaying one twice or late changes nothing.
//!
//! Key layout: `hints/<ip>:<port>/<20-digit microseconds><10-digit sequence>`; the value is the MUTATION
//! payload the replica missed.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use mica_storage::Engine;

/// The metadata key prefix of every hint.
const PREFIX: &str = "hints/";

/// A stored hint: its metadata key and the MUTATION payload.
pub(crate) type StoredHint = (Vec<u8>, Vec<u8>);

/// The hint store of one node.
pub struct Hints {
    storage: Arc<dyn Engine>,
    sequence: AtomicU64,
    stored: AtomicU64,
    delivered: AtomicU64,
}

/// Counters for `nodetool` and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HintStats {
    pub stored: u64,
    pub delivered: u64,
    pub pending: u64,
}

impl Hints {
    pub(crate) fn new(storage: Arc<dyn Engine>) -> Hints {
        Hints {
            storage,
            sequence: AtomicU64::new(0),
            stored: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
        }
    }

    /// Durably stores a hint for `target` (the write path waits for it, as a hint may be the only copy
    /// counted for consistency level ANY). Failures are logged: a lost hint is repaired by anti-entropy.
    pub(crate) async fn store(&self, target: SocketAddr, payload: &[u8]) {
        let seq = self.sequence.fetch_add(1, Ordering::Relaxed) % 10_000_000_000;
        let key = format!(
            "{PREFIX}{target}/{:020}{seq:010}",
            mica_types::Timestamp::now().0.max(0)
        );
        let storage = Arc::clone(&self.storage);
        let value = payload.to_vec();
        let result = tokio::task::spawn_blocking(move || storage.put_meta(key.as_bytes(), &value)).await;
        match result {
            Ok(Ok(())) => {
                self.stored.fetch_add(1, Ordering::Relaxed);
            }
            failed => tracing::warn!("cannot store a hint for {target}: {:?}", failed.map(|r| r.err())),
        }
    }

    /// Pending hints per target, oldest first.
    pub(crate) fn pending(
        &self,
    ) -> Result<BTreeMap<SocketAddr, Vec<StoredHint>>, mica_storage::StorageError> {
        let mut out: BTreeMap<SocketAddr, Vec<StoredHint>> = BTreeMap::new();
        for (key, value) in self.storage.scan_meta(PREFIX.as_bytes())? {
            let Some(target) = std::str::from_utf8(&key)
                .ok()
                .and_then(|k| k.strip_prefix(PREFIX))
                .and_then(|k| k.split('/').next())
                .and_then(|a| a.parse().ok())
            else {
                tracing::warn!("ignoring a malformed hint key");
                continue;
            };
            out.entry(target).or_default().push((key, value));
        }
        Ok(out)
    }

    /// Removes a delivered hint.
    pub(crate) fn delivered(&self, key: &[u8]) -> Result<(), mica_storage::StorageError> {
        self.storage.delete_meta(key)?;
        self.delivered.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Counters since start, and hints waiting now.
    pub fn stats(&self) -> HintStats {
        HintStats {
            stored: self.stored.load(Ordering::Relaxed),
            delivered: self.delivered.load(Ordering::Relaxed),
            pending: self
                .storage
                .scan_meta(PREFIX.as_bytes())
                .map_or(0, |v| v.len() as u64),
        }
    }
}

/// How often the coordinator looks for hints it can deliver.
pub const HINT_DELIVERY_INTERVAL: Duration = Duration::from_secs(2);
