//! The replication coordinator: turns a node's reads and writes into requests to the replicas of each
//! partition at a consistency level, as Cassandra's `StorageProxy` does.
//!
//! - **Writes** ([`Coordinator::write`]) go to every replica; the answer waits for as many
//!   acknowledgements as the consistency level needs. Replicas that are down or do not answer get a
//!   durable hint, replayed when they come back ([`hints`]).
//! - **Reads** ([`Coordinator::read_partition`]) contact the closest replicas the level needs, compare
//!   their digests, merge their raw answers (deletions included) and repair the ones that disagree before
//!   answering. [`Coordinator::range_scan`] walks the ring range by range.
//! - **Failures** are Cassandra's: Unavailable before anything is sent when too few replicas are alive,
//!   WriteTimeout/ReadTimeout after `*_request_timeout`, WriteFailure/ReadFailure when replicas report
//!   errors ([`CoordinatorError`]).
//!
//! The crate knows no CQL and no schema: tables are ids, placement comes from a [`Topology`], bytes travel
//! through `mica-cluster`'s messaging, data lives in a `mica-storage` engine.

pub mod batchlog;
pub mod cleanup;
pub mod consistency;
pub mod error;
mod handlers;
pub mod hints;
pub mod merkle;
pub mod movement;
pub mod paxos;
mod read;
pub mod rebuild;
pub mod repair;
mod scan;
pub mod stream;
pub mod topology;
pub mod verbs;
mod write;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use mica_cluster::Messaging;
use mica_storage::Engine;

pub use consistency::{ConsistencyLevel, Requirement};
pub use error::{CoordinatorError, WriteType};
pub use hints::HintStats;
pub use scan::RangeScan;
pub use topology::{Replica, TokenRange, Topology};

/// Timeouts and switches, read on every request so that changes at run time (`nodetool settimeout`) apply
/// at once. The node implements it over its runtime settings.
pub trait Settings: Send + Sync {
    /// `write_request_timeout`.
    fn write_timeout(&self) -> Duration;
    /// `read_request_timeout`.
    fn read_timeout(&self) -> Duration;
    /// `range_request_timeout`.
    fn range_timeout(&self) -> Duration;
    /// `hinted_handoff_enabled`.
    fn hints_enabled(&self) -> bool;
    /// `stream_throughput_outbound` in bytes per second (0: unthrottled).
    fn stream_throughput_bytes_per_second(&self) -> u64;
    /// `max_hint_window`: no hints are stored for a node down longer than this.
    fn max_hint_window(&self) -> Duration {
        DEFAULT_MAX_HINT_WINDOW
    }
}

/// Cassandra's default `max_hint_window` (three hours).
pub const DEFAULT_MAX_HINT_WINDOW: Duration = Duration::from_secs(3 * 3600);

/// Cassandra's default timeouts, with hints on.
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultSettings;

impl Settings for DefaultSettings {
    fn write_timeout(&self) -> Duration {
        Duration::from_millis(2000)
    }

    fn read_timeout(&self) -> Duration {
        Duration::from_millis(5000)
    }

    fn range_timeout(&self) -> Duration {
        Duration::from_millis(10_000)
    }

    fn hints_enabled(&self) -> bool {
        true
    }

    fn stream_throughput_bytes_per_second(&self) -> u64 {
        // Cassandra's default: 24 MiB/s.
        24 * 1024 * 1024
    }
}

/// One node's coordinator.
pub struct Coordinator {
    storage: Arc<dyn Engine>,
    messaging: Messaging,
    topology: Arc<dyn Topology>,
    settings: Arc<dyn Settings>,
    hints: hints::Hints,
    read_repairs: AtomicU64,
    /// Replica-side Paxos state.
    paxos: Arc<paxos::PaxosStore>,
    /// The last ballot microseconds this coordinator used.
    paxos_clock: std::sync::atomic::AtomicI64,
    /// This node's part of every ballot it proposes.
    node_id: u64,
}

impl std::fmt::Debug for Coordinator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Coordinator").finish_non_exhaustive()
    }
}

impl Coordinator {
    /// A coordinator over the local engine, registering the replica-side verbs on `messaging`.
    pub fn new(
        storage: Arc<dyn Engine>,
        messaging: Messaging,
        topology: Arc<dyn Topology>,
        settings: Arc<dyn Settings>,
    ) -> Arc<Coordinator> {
        let paxos = Arc::new(paxos::PaxosStore::new());
        handlers::register(&messaging, &storage, &paxos);
        repair::register(&messaging, &storage);
        let node_id = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            topology.local_addr().hash(&mut h);
            h.finish()
        };
        let coordinator = Arc::new(Coordinator {
            paxos,
            paxos_clock: std::sync::atomic::AtomicI64::new(0),
            node_id,
            hints: hints::Hints::new(Arc::clone(&storage)),
            storage,
            messaging,
            topology,
            settings,
            read_repairs: AtomicU64::new(0),
        });
        movement::register(&coordinator);
        coordinator
    }

    /// Whether a write `addr` missed becomes a hint: hints are on and the node has not been down longer
    /// than `max_hint_window` (after that, repair brings it up to date, as in Cassandra).
    pub(crate) fn should_hint(&self, addr: std::net::SocketAddr) -> bool {
        self.settings.hints_enabled()
            && self
                .topology
                .down_for(addr)
                .is_none_or(|down| down < self.settings.max_hint_window())
    }

    /// Hint counters.
    pub fn hint_stats(&self) -> HintStats {
        self.hints.stats()
    }

    /// How many replicas read repair has written to since start.
    pub fn read_repairs(&self) -> u64 {
        self.read_repairs.load(Ordering::Relaxed)
    }

    /// Delivers pending hints to every target that is up; returns how many were delivered. Stops at a
    /// target's first failure (the rest wait for the next round, in order).
    pub async fn deliver_hints(self: &Arc<Self>) -> usize {
        let this = Arc::clone(self);
        let pending = match tokio::task::spawn_blocking(move || this.hints.pending()).await {
            Ok(Ok(p)) => p,
            failed => {
                tracing::warn!("cannot read hints: {:?}", failed.map(|r| r.err()));
                return 0;
            }
        };
        let mut delivered = 0;
        let timeout = self.settings.write_timeout();
        for (target, hints) in pending {
            if !self.topology.is_alive(target) {
                continue;
            }
            for (key, payload) in hints {
                if let Err(e) = self
                    .messaging
                    .request(target, verbs::HINT, payload, timeout)
                    .await
                {
                    tracing::debug!("hint delivery to {target} paused: {e}");
                    break;
                }
                let this = Arc::clone(self);
                match tokio::task::spawn_blocking(move || this.hints.delivered(&key)).await {
                    Ok(Ok(())) => delivered += 1,
                    failed => tracing::warn!("cannot remove a delivered hint: {:?}", failed.map(|r| r.err())),
                }
            }
        }
        if delivered > 0 {
            tracing::info!("delivered {delivered} hints");
        }
        delivered
    }
}
