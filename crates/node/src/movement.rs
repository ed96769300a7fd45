//! Online topology changes with streaming, as Cassandra does them: bootstrap (a new node announces BOOT,
//! waits `ring_delay`, streams the ranges it gains from their current replicas, then turns NORMAL),
//! decommission (LEAVING, stream every range to its new replicas, deliver hints, LEFT, exit) and removenode
//! (the survivors re-stream the ranges of a dead node, which is then marked removed cluster-wide).
//!
//! While a node joins or leaves, writes also go to the pending replicas ([`future_ring`], used by the
//! replication topology); reads use the natural replicas only.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mica_cluster::ring::{Location, ReplicationStrategy, TokenRing};
use mica_cluster::{AppState, EndpointInfo, Gossiper, NodeStatus};
use mica_config::NodeConfig;
use mica_coordinator::Coordinator;
use mica_query::QueryEngine;
use mica_storage::{Engine, TableId};
use tokio::sync::watch;
use uuid::Uuid;

use crate::node::NodeError;

/// Node-local metadata key of the bootstrap state: `in_progress` until the node has streamed its ranges.
const BOOTSTRAP_KEY: &[u8] = b"node/bootstrap";
const BOOTSTRAP_IN_PROGRESS: &[u8] = b"in_progress";
const BOOTSTRAP_DONE: &[u8] = b"done";
/// How long a node waits for the cluster to see a ring change before streaming (Cassandra's `ring_delay`).
const DEFAULT_RING_DELAY: Duration = Duration::from_secs(5);
/// The environment variable overriding it in milliseconds (Cassandra: `-Dcassandra.ring_delay_ms`).
const RING_DELAY_ENV: &str = "MICA_RING_DELAY_MS";
/// How long a decommissioned node keeps gossiping LEFT before it stops, so every peer hears it.
const LEFT_ANNOUNCE: Duration = Duration::from_secs(2);
/// The longest a bootstrap waits for the cluster's schema.
const SCHEMA_WAIT: Duration = Duration::from_secs(30);
const SCHEMA_POLL: Duration = Duration::from_millis(100);
/// Grace given to the admin response of `decommission` before the node stops.
const STOP_GRACE: Duration = Duration::from_millis(300);

/// Cassandra's `ring_delay`, overridable for tests.
pub(crate) fn ring_delay() -> Duration {
    std::env::var(RING_DELAY_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(DEFAULT_RING_DELAY, Duration::from_millis)
}

/// Whether an endpoint is a member of the ring (owns tokens and has not left or started joining).
fn is_member(e: &EndpointInfo) -> bool {
    !e.tokens.is_empty()
        && matches!(
            e.status,
            NodeStatus::Normal | NodeStatus::Leaving | NodeStatus::Shutdown
        )
}

fn current_ring(endpoints: &[EndpointInfo]) -> Option<TokenRing<SocketAddr>> {
    let replaced = crate::replace::replaced(endpoints, false);
    TokenRing::from_nodes(
        endpoints
            .iter()
            .filter(|e| is_member(e) && !replaced.contains(&e.address))
            .map(|e| (e.address, e.tokens.as_slice())),
    )
    .ok()
}

/// The ring once the live joining nodes have joined and the leaving ones have left; `None` when no node is
/// joining or leaving (no pending replicas).
pub(crate) fn future_ring(endpoints: &[EndpointInfo]) -> Option<TokenRing<SocketAddr>> {
    let joining = |e: &&EndpointInfo| e.status == NodeStatus::Joining && e.alive && !e.tokens.is_empty();
    let moving = endpoints
        .iter()
        .any(|e| joining(&e) || (e.status == NodeStatus::Leaving && !e.tokens.is_empty()));
    if !moving {
        return None;
    }
    // A node replacing a dead one takes its place (Cassandra: the replacement is the pending replica).
    let replaced = crate::replace::replaced(endpoints, true);
    TokenRing::from_nodes(
        endpoints
            .iter()
            .filter(|e| !replaced.contains(&e.address))
            .filter(|e| (is_member(e) && e.status != NodeStatus::Leaving) || joining(e))
            .map(|e| (e.address, e.tokens.as_slice())),
    )
    .ok()
}

/// One piece of the ring `(start, end]` of one table with its replicas before and after a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Transfer {
    pub table: TableId,
    pub name: String,
    pub start: i64,
    pub end: i64,
    pub current: Vec<SocketAddr>,
    pub future: Vec<SocketAddr>,
}

/// The pieces between every token of both rings, with the token whose replicas they have
/// (`(start, end, probe)`; the wrapping range is split at the ends of the token space).
fn pieces(a: &TokenRing<SocketAddr>, b: &TokenRing<SocketAddr>) -> Vec<(i64, i64, i64)> {
    let tokens: BTreeSet<i64> = a.entries().iter().chain(b.entries()).map(|(t, _)| *t).collect();
    let tokens: Vec<i64> = tokens.into_iter().collect();
    let (Some(&first), Some(&last)) = (tokens.first(), tokens.last()) else {
        return Vec::new();
    };
    let mut out = vec![(i64::MIN, first, first)];
    out.extend(tokens.windows(2).map(|w| (w[0], w[1], w[1])));
    if last < i64::MAX {
        out.push((last, i64::MAX, first));
    }
    out
}

/// Every replicated table's pieces whose replica set differs between `current` and `future`.
pub(crate) fn plan(
    engine: &QueryEngine,
    endpoints: &[EndpointInfo],
    current: &TokenRing<SocketAddr>,
    future: &TokenRing<SocketAddr>,
) -> Vec<Transfer> {
    let locations: BTreeMap<SocketAddr, Location> = endpoints
        .iter()
        .filter_map(|e| Some((e.address, Location::new(e.dc.clone()?, e.rack.clone()?))))
        .collect();
    let schema = engine.schema();
    let mut out = Vec::new();
    for ks in schema.keyspaces.values() {
        if mica_schema::is_system_keyspace(&ks.name) {
            continue;
        }
        let Some(strategy) = crate::cluster::strategy_of(&ks.replication) else {
            continue;
        };
        let moves = changed(&strategy, &locations, current, future);
        for t in ks.tables.values().filter(|t| !t.is_virtual) {
            for (start, end, before, after) in &moves {
                out.push(Transfer {
                    table: TableId(t.id),
                    name: format!("{}.{}", ks.name, t.name),
                    start: *start,
                    end: *end,
                    current: before.clone(),
                    future: after.clone(),
                });
            }
        }
    }
    out
}

type Move = (i64, i64, Vec<SocketAddr>, Vec<SocketAddr>);

fn changed(
    strategy: &ReplicationStrategy,
    locations: &BTreeMap<SocketAddr, Location>,
    current: &TokenRing<SocketAddr>,
    future: &TokenRing<SocketAddr>,
) -> Vec<Move> {
    pieces(current, future)
        .into_iter()
        .filter_map(|(start, end, probe)| {
            let before = strategy.replicas(current, locations, probe);
            let after = strategy.replicas(future, locations, probe);
            let same = before.iter().collect::<BTreeSet<_>>() == after.iter().collect::<BTreeSet<_>>();
            (!same).then_some((start, end, before, after))
        })
        .collect()
}

/// Whether this start must bootstrap: a resumed bootstrap always does; a first start does when it learned
/// a ring from its seeds, `auto_bootstrap` is on and the node is not a seed itself (as in Cassandra).
pub(crate) fn bootstrap_needed(
    storage: &dyn Engine,
    config: &NodeConfig,
    me: SocketAddr,
    first_start_into_ring: bool,
) -> Result<bool, NodeError> {
    match storage.get_meta(BOOTSTRAP_KEY)?.as_deref() {
        Some(BOOTSTRAP_IN_PROGRESS) => return Ok(true),
        Some(_) => return Ok(false),
        None => {}
    }
    let seeds = crate::cluster::seed_addresses(config)?;
    let wanted = first_start_into_ring
        && config.auto_bootstrap
        && !seeds.contains(&me)
        && seeds.iter().any(|s| *s != me);
    storage.put_meta(
        BOOTSTRAP_KEY,
        if wanted {
            BOOTSTRAP_IN_PROGRESS
        } else {
            BOOTSTRAP_DONE
        },
    )?;
    Ok(wanted)
}

/// Bootstraps this node (already gossiping STATUS=BOOT with its tokens): waits `ring_delay`, streams every
/// range it gains from a live current replica (preferring one that loses the range), then announces NORMAL.
/// On failure the node stays out of the ring; the next start resumes (streaming again is harmless).
pub(crate) fn bootstrap(
    gossiper: &Arc<Gossiper>,
    engine: &Arc<QueryEngine>,
    coordinator: &Arc<Coordinator>,
    storage: &dyn Engine,
) -> Result<(), NodeError> {
    let fail = |m: String| NodeError::Bootstrap(m);
    let delay = ring_delay();
    tracing::info!("JOINING: waiting {delay:?} for ring information");
    std::thread::sleep(delay);
    wait_for_schema(gossiper, engine)?;
    let me = gossiper.address();
    let endpoints = gossiper.endpoints();
    let current = current_ring(&endpoints).ok_or_else(|| fail("no ring to join".into()))?;
    let mut with_me: Vec<EndpointInfo> = endpoints.clone();
    for e in &mut with_me {
        if e.address == me {
            e.status = NodeStatus::Normal;
        }
    }
    let future = current_ring(&with_me).ok_or_else(|| fail("no ring to join".into()))?;
    // A node this one replaces is no source even while this node's failure detector has not convicted it.
    let replaced = crate::replace::replaced(&with_me, false);
    let alive: BTreeSet<SocketAddr> = endpoints
        .iter()
        .filter(|e| e.alive && e.status != NodeStatus::Shutdown && !replaced.contains(&e.address))
        .map(|e| e.address)
        .collect();
    let transfers: Vec<Transfer> = plan(engine, &endpoints, &current, &future)
        .into_iter()
        .filter(|t| t.future.contains(&me) && !t.current.contains(&me))
        .collect();
    // A replacement cannot recover what only the dead node held (replication factor 1): it skips it.
    let replacing = crate::replace::in_progress(storage)?;
    tracing::info!("JOINING: streaming {} ranges", transfers.len());
    // On a thread of its own with its own runtime: Node::start may itself run inside a runtime.
    let partitions = std::thread::scope(|scope| {
        scope
            .spawn(|| stream_ranges(coordinator, &transfers, &alive, me, replacing))
            .join()
    })
    .map_err(|_| fail("the streaming thread panicked".into()))??;
    storage.put_meta(BOOTSTRAP_KEY, BOOTSTRAP_DONE)?;
    gossiper.set_state(AppState::Status, NodeStatus::Normal.as_str());
    tracing::info!("Bootstrap completed: streamed {partitions} partitions; node is NORMAL");
    Ok(())
}

/// Streams every transfer into this node from a live current replica (preferring one that loses the range);
/// returns the number of partitions copied.
fn stream_ranges(
    coordinator: &Arc<Coordinator>,
    transfers: &[Transfer],
    alive: &BTreeSet<SocketAddr>,
    me: SocketAddr,
    skip_unavailable: bool,
) -> Result<u64, NodeError> {
    let fail = |m: String| NodeError::Bootstrap(m);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| fail(format!("cannot start the streaming runtime: {e}")))?;
    let mut partitions = 0;
    for t in transfers {
        // Prefer a live replica that is losing the range, as Cassandra's range streamer does.
        let mut sources: Vec<SocketAddr> = t
            .current
            .iter()
            .filter(|a| alive.contains(a) && **a != me)
            .copied()
            .collect();
        sources.sort_by_key(|a| t.future.contains(a));
        if sources.is_empty() && skip_unavailable {
            tracing::warn!(
                "no live replica holds ({}, {}] of {}; its data is lost with the replaced node",
                t.start,
                t.end,
                t.name
            );
            continue;
        }
        if sources.is_empty() {
            return Err(fail(format!(
                "no live replica to stream ({}, {}] of {} from",
                t.start, t.end, t.name
            )));
        }
        let mut last_error = None;
        let mut done = false;
        for source in sources {
            // On a thread of its own: Node::start may itself run inside a runtime (in-process callers).
            let stream = std::thread::scope(|scope| {
                scope
                    .spawn(|| {
                        runtime.block_on(coordinator.stream_range_from(source, t.table, t.start, t.end))
                    })
                    .join()
            })
            .map_err(|_| fail("the streaming thread panicked".into()))?;
            match stream {
                Ok(stats) => {
                    partitions += stats.partitions;
                    done = true;
                    break;
                }
                Err(e) => {
                    tracing::warn!(
                        "streaming ({}, {}] of {} from {source} failed: {e}",
                        t.start,
                        t.end,
                        t.name
                    );
                    last_error = Some(e.to_string());
                }
            }
        }
        if !done {
            return Err(fail(format!(
                "Error during bootstrap: streaming ({}, {}] of {} failed: {}",
                t.start,
                t.end,
                t.name,
                last_error.unwrap_or_default()
            )));
        }
    }
    Ok(partitions)
}

/// Waits until this node's schema matches every live normal peer's (the cluster watch pulls it), so that
/// every table is streamed. Without agreement after [`SCHEMA_WAIT`] the bootstrap fails, as Cassandra's
/// does ("Didn't receive schemas for all known versions within the timeout"): streaming the tables known
/// so far would join a node that lacks data for the others. The next start resumes.
fn wait_for_schema(gossiper: &Gossiper, engine: &QueryEngine) -> Result<(), NodeError> {
    let started = std::time::Instant::now();
    loop {
        let ours = engine.schema().version;
        let peers: Vec<_> = gossiper
            .endpoints()
            .into_iter()
            .filter(|e| !e.is_local && e.alive && e.status == NodeStatus::Normal)
            .collect();
        let agreed = !peers.is_empty() && peers.iter().all(|e| e.schema_version == Some(ours));
        if agreed {
            return Ok(());
        }
        if started.elapsed() >= SCHEMA_WAIT {
            return Err(NodeError::Bootstrap(format!(
                "Didn't receive schemas for all known versions within the timeout ({SCHEMA_WAIT:?}); \
                 restart the node to try again"
            )));
        }
        std::thread::sleep(SCHEMA_POLL);
    }
}

/// A removal in progress (`nodetool removenode status`).
#[derive(Debug, Clone)]
struct Removal {
    host_id: Uuid,
    address: SocketAddr,
    tokens: Vec<i64>,
    /// Nodes still receiving ranges.
    waiting: BTreeSet<SocketAddr>,
    force: bool,
}

/// The admin side of topology changes: decommission and removenode.
pub(crate) struct Movements {
    pub gossiper: Arc<Gossiper>,
    pub engine: Arc<QueryEngine>,
    pub coordinator: Arc<Coordinator>,
    pub stop: Arc<watch::Sender<bool>>,
    pub native_stop: Arc<watch::Sender<bool>>,
    removal: Mutex<Option<Removal>>,
    busy: tokio::sync::Mutex<()>,
}

/// Why a topology operation was refused or failed (the message is what nodetool prints).
#[derive(Debug, thiserror::Error)]
pub(crate) enum MovementError {
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Failed(String),
}

impl Movements {
    pub(crate) fn new(
        gossiper: Arc<Gossiper>,
        engine: Arc<QueryEngine>,
        coordinator: Arc<Coordinator>,
        stop: Arc<watch::Sender<bool>>,
        native_stop: Arc<watch::Sender<bool>>,
    ) -> Arc<Movements> {
        Arc::new(Movements {
            gossiper,
            engine,
            coordinator,
            stop,
            native_stop,
            removal: Mutex::new(None),
            busy: tokio::sync::Mutex::new(()),
        })
    }

    fn lock_removal(&self) -> std::sync::MutexGuard<'_, Option<Removal>> {
        self.removal.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Refuses a change that would leave a keyspace's datacenter with fewer nodes than its replication factor.
    fn check_capacity(
        &self,
        remaining: &TokenRing<SocketAddr>,
        endpoints: &[EndpointInfo],
    ) -> Result<(), MovementError> {
        let nodes = remaining.nodes();
        let mut per_dc: BTreeMap<String, usize> = BTreeMap::new();
        for e in endpoints.iter().filter(|e| nodes.contains(&e.address)) {
            *per_dc.entry(e.dc.clone().unwrap_or_default()).or_default() += 1;
        }
        let schema = self.engine.schema();
        for ks in schema.keyspaces.values() {
            if mica_schema::is_system_keyspace(&ks.name) {
                continue;
            }
            let needs: Vec<(String, usize)> = match crate::cluster::strategy_of(&ks.replication) {
                Some(ReplicationStrategy::NetworkTopology { datacenters }) => {
                    datacenters.into_iter().collect()
                }
                Some(ReplicationStrategy::Simple { replication_factor }) => {
                    vec![(String::new(), replication_factor)]
                }
                None => continue,
            };
            for (dc, rf) in needs {
                let n = if dc.is_empty() {
                    nodes.len()
                } else {
                    per_dc.get(&dc).copied().unwrap_or(0)
                };
                if rf > n {
                    return Err(MovementError::Refused(format!(
                        "Not enough live nodes to maintain replication factor in keyspace {} (RF = {rf}, N = {n}). \
                         Perform a forceful decommission to ignore.",
                        ks.name
                    )));
                }
            }
        }
        Ok(())
    }

    /// `nodetool decommission`: LEAVING, stream this node's ranges to their new replicas, deliver hints,
    /// LEFT, then stop the node (its process exits).
    pub(crate) async fn decommission(self: &Arc<Self>) -> Result<(), MovementError> {
        let _busy = self.busy.try_lock().map_err(|_| {
            MovementError::Refused("Another topology operation is in progress on this node".into())
        })?;
        let me = self.gossiper.address();
        let endpoints = self.gossiper.endpoints();
        let local = endpoints.iter().find(|e| e.address == me);
        if local.map(|e| e.status) != Some(NodeStatus::Normal) {
            return Err(MovementError::Refused(
                "Node is not in NORMAL state and cannot be decommissioned".into(),
            ));
        }
        let current = current_ring(&endpoints).ok_or_else(|| MovementError::Refused("no ring".into()))?;
        let future = current.filter(|a| *a != me);
        if future.is_empty() {
            return Err(MovementError::Refused(
                "no other normal nodes in the ring; decommission would result in data loss".into(),
            ));
        }
        self.check_capacity(&future, &endpoints)?;
        tracing::info!(
            "LEAVING: announcing and waiting {:?} for the ring to see it",
            ring_delay()
        );
        self.gossiper
            .set_state(AppState::Status, NodeStatus::Leaving.as_str());
        tokio::time::sleep(ring_delay()).await;
        let endpoints = self.gossiper.endpoints();
        let transfers = plan(&self.engine, &endpoints, &current, &future);
        let mut count = 0;
        for t in transfers.iter().filter(|t| t.current.contains(&me)) {
            for target in t.future.iter().filter(|a| !t.current.contains(a)) {
                self.coordinator
                    .transfer_range(*target, me, t.table, t.start, t.end)
                    .await
                    .map_err(|e| {
                        // Back to NORMAL so the node keeps serving; the operator can retry.
                        self.gossiper.set_state(AppState::Status, NodeStatus::Normal.as_str());
                        MovementError::Failed(format!(
                            "Error while decommissioning node: streaming ({}, {}] of {} to {target} failed: {e}",
                            t.start, t.end, t.name
                        ))
                    })?;
                count += 1;
            }
        }
        tracing::info!("LEAVING: streamed {count} ranges; delivering hints");
        self.coordinator.deliver_hints().await;
        self.gossiper
            .set_state(AppState::Status, NodeStatus::Left.as_str());
        tracing::info!("LEFT: announcing for {LEFT_ANNOUNCE:?}");
        tokio::time::sleep(LEFT_ANNOUNCE).await;
        self.native_stop.send_replace(true);
        tracing::info!("DECOMMISSIONED");
        let stop = Arc::clone(&self.stop);
        tokio::spawn(async move {
            tokio::time::sleep(STOP_GRACE).await;
            stop.send_replace(true);
        });
        Ok(())
    }

    /// `nodetool removenode <host id>`: the survivors re-stream the dead node's ranges, then it is removed.
    pub(crate) async fn remove_node(self: &Arc<Self>, host_id: Uuid) -> Result<(), MovementError> {
        let _busy = self.busy.try_lock().map_err(|_| {
            MovementError::Refused("Another topology operation is in progress on this node".into())
        })?;
        let me = self.gossiper.address();
        let endpoints = self.gossiper.endpoints();
        let target = endpoints
            .iter()
            .find(|e| e.host_id.map(|h| h.0) == Some(host_id) && e.status != NodeStatus::Left)
            .ok_or_else(|| MovementError::Refused("Host ID not found.".into()))?;
        if target.address == me {
            return Err(MovementError::Refused("Cannot remove self".into()));
        }
        if target.alive {
            return Err(MovementError::Refused(format!(
                "Node /{} is alive and owns this ID. Use decommission command to remove it from the ring",
                target.address.ip()
            )));
        }
        let dead = target.address;
        let current = current_ring(&endpoints).ok_or_else(|| MovementError::Refused("no ring".into()))?;
        let future = current.filter(|a| *a != dead);
        let transfers = plan(&self.engine, &endpoints, &current, &future);
        let alive: BTreeSet<SocketAddr> = endpoints
            .iter()
            .filter(|e| e.alive && e.status != NodeStatus::Shutdown)
            .map(|e| e.address)
            .collect();
        let waiting: BTreeSet<SocketAddr> = transfers
            .iter()
            .flat_map(|t| {
                t.future
                    .iter()
                    .filter(|a| !t.current.contains(a))
                    .copied()
                    .collect::<Vec<_>>()
            })
            .collect();
        *self.lock_removal() = Some(Removal {
            host_id,
            address: dead,
            tokens: target.tokens.clone(),
            waiting,
            force: false,
        });
        tracing::info!("Removing node {host_id} ({dead}): streaming its ranges from the survivors");
        for t in &transfers {
            if self.lock_removal().as_ref().is_none_or(|r| r.force) {
                break;
            }
            let Some(source) = t
                .current
                .iter()
                .find(|a| **a != dead && alive.contains(a) && t.future.contains(a))
                .copied()
            else {
                tracing::warn!(
                    "no live replica holds ({}, {}] of {}; skipping it",
                    t.start,
                    t.end,
                    t.name
                );
                continue;
            };
            for target in t.future.iter().filter(|a| !t.current.contains(a)) {
                if let Err(e) = self
                    .coordinator
                    .transfer_range(*target, source, t.table, t.start, t.end)
                    .await
                {
                    *self.lock_removal() = None;
                    return Err(MovementError::Failed(format!(
                        "Error while removing node {host_id}: streaming ({}, {}] of {} to {target} failed: {e}",
                        t.start, t.end, t.name
                    )));
                }
            }
        }
        self.finish_removal();
        Ok(())
    }

    /// Publishes the removal of the node being removed and forgets the removal.
    fn finish_removal(&self) {
        let Some(removal) = self.lock_removal().take() else {
            return;
        };
        self.gossiper
            .set_remote_status(removal.address, format!("removed,{}", removal.host_id));
        tracing::info!("Removed node {} ({})", removal.host_id, removal.address);
    }

    /// `nodetool removenode status`.
    pub(crate) fn removal_status(&self) -> String {
        match self.lock_removal().as_ref() {
            None => "RemovalStatus: No removals in process.".into(),
            Some(r) => format!(
                "RemovalStatus: Removing token ({}). Waiting for replication confirmation from [{}].",
                r.tokens.first().copied().unwrap_or_default(),
                r.waiting
                    .iter()
                    .map(|a| format!("/{}", a.ip()))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        }
    }

    /// `nodetool removenode force`: completes the removal in progress without waiting for its streams.
    pub(crate) fn force_removal(&self) -> Result<(), MovementError> {
        {
            let mut removal = self.lock_removal();
            let Some(r) = removal.as_mut() else {
                return Err(MovementError::Refused(
                    "No tokens to force removal on, call 'removenode' first".into(),
                ));
            };
            r.force = true;
        }
        self.finish_removal();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(n: u8) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, n], 7000))
    }

    #[test]
    fn bootstrap_is_decided_once_and_resumed_until_done() {
        let yaml = "seed_provider:\n  - class_name: org.apache.cassandra.locator.SimpleSeedProvider\n    \
                    parameters:\n      - seeds: \"127.0.0.1\"\n";
        let config = NodeConfig::from_yaml_str(yaml, std::path::Path::new("/tmp"))
            .unwrap()
            .config;
        let me = addr(2);
        let seed = SocketAddr::from(([127, 0, 0, 1], config.storage_port));
        let me = SocketAddr::new(me.ip(), config.storage_port);
        // A seed never bootstraps.
        let storage = mica_storage::MemoryEngine::new();
        assert!(!bootstrap_needed(&storage, &config, seed, true).unwrap());
        // A node that learned no ring has nothing to stream, and the decision sticks.
        let storage = mica_storage::MemoryEngine::new();
        assert!(!bootstrap_needed(&storage, &config, me, false).unwrap());
        assert!(!bootstrap_needed(&storage, &config, me, true).unwrap());
        // A first start into a ring bootstraps, and a restart before it finished resumes.
        let storage = mica_storage::MemoryEngine::new();
        assert!(bootstrap_needed(&storage, &config, me, true).unwrap());
        assert!(bootstrap_needed(&storage, &config, me, false).unwrap());
        storage.put_meta(BOOTSTRAP_KEY, BOOTSTRAP_DONE).unwrap();
        assert!(!bootstrap_needed(&storage, &config, me, false).unwrap());
    }

    #[test]
    fn pieces_cover_the_whole_ring() {
        let a = TokenRing::from_nodes([(addr(1), &[-100_i64, 100][..])]).unwrap();
        let b = TokenRing::from_nodes([(addr(1), &[-100_i64, 100][..]), (addr(2), &[0_i64][..])]).unwrap();
        assert_eq!(
            pieces(&a, &b),
            vec![
                (i64::MIN, -100, -100),
                (-100, 0, 0),
                (0, 100, 100),
                (100, i64::MAX, -100)
            ]
        );
    }

    #[test]
    fn a_joining_node_gains_ranges_from_the_nodes_it_displaces() {
        let dc = |n| (addr(n), Location::new("dc1", "r1"));
        let locations: BTreeMap<_, _> = (1..=4).map(dc).collect();
        let current = TokenRing::from_nodes([
            (addr(1), &[-300_i64][..]),
            (addr(2), &[0_i64][..]),
            (addr(3), &[300_i64][..]),
        ])
        .unwrap();
        let future = TokenRing::from_nodes([
            (addr(1), &[-300_i64][..]),
            (addr(2), &[0_i64][..]),
            (addr(3), &[300_i64][..]),
            (addr(4), &[150_i64][..]),
        ])
        .unwrap();
        let simple = ReplicationStrategy::Simple {
            replication_factor: 2,
        };
        let moves = changed(&simple, &locations, &current, &future);
        // Node 4 takes (0, 150] from node 3 (primary) and becomes a replica of (-300, 0] instead of node 3.
        assert!(moves.iter().any(|(s, e, before, after)| *s == 0
            && *e == 150
            && before == &vec![addr(3), addr(1)]
            && after == &vec![addr(4), addr(3)]));
        assert!(moves.iter().all(|(_, _, _, after)| after.contains(&addr(4))));
        // Leaving is the mirror image.
        let back = changed(&simple, &locations, &future, &current);
        assert_eq!(back.len(), moves.len());
    }

    #[test]
    fn pending_ring_exists_only_while_nodes_move() {
        let ep = |n: u8, status, tokens: Vec<i64>| EndpointInfo {
            address: addr(n),
            is_local: false,
            alive: true,
            status,
            generation: 1,
            heartbeat: 1,
            host_id: None,
            dc: Some("dc1".into()),
            rack: Some("r1".into()),
            tokens,
            schema_version: None,
            rpc_address: None,
            native_address: None,
            release_version: None,
        };
        let stable = vec![
            ep(1, NodeStatus::Normal, vec![1]),
            ep(2, NodeStatus::Normal, vec![2]),
        ];
        assert!(future_ring(&stable).is_none());
        let mut joining = stable.clone();
        joining.push(ep(3, NodeStatus::Joining, vec![3]));
        assert_eq!(future_ring(&joining).unwrap().nodes().len(), 3);
        let mut leaving = stable;
        leaving[0].status = NodeStatus::Leaving;
        assert_eq!(
            future_ring(&leaving)
                .unwrap()
                .nodes()
                .into_iter()
                .collect::<Vec<_>>(),
            vec![addr(2)]
        );
    }
}
