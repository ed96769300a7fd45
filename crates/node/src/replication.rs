//! Wires the replication coordinator into the node: a [`Topology`] built from gossip (ring, datacenters,
//! liveness) and the schema (each keyspace's replication strategy), refreshed in the background, and the
//! query layer's [`DataPlane`] on top of the coordinator.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use mica_cluster::ring::{Location, TokenRing};
use mica_cluster::{Gossiper, NodeStatus};
use mica_coordinator::{
    ConsistencyLevel, Coordinator, CoordinatorError, Replica, TokenRange, Topology, WriteType,
};
use mica_cql_protocol::Consistency;
use mica_query::{CasDecide, CasFuture, DataPlane, QueryEngine, QueryError, WriteFuture};
use mica_storage::{
    Engine, Mutation, PartitionKey, PartitionStream, PartitionView, ReadSelection, ScanRange, TableId,
};
use mica_types::Token;

use crate::settings::{NodeSettings, TimeoutKind};

/// How often the topology snapshot is rebuilt from gossip (liveness and ring changes are seen this late).
const REFRESH_INTERVAL: Duration = Duration::from_millis(250);

/// The placement of one keyspace: ring ranges `(start, end]` in token order with their replicas.
struct Placement {
    ranges: Vec<(i64, i64, Vec<SocketAddr>)>,
}

impl Placement {
    fn replicas_of(&self, token: i64) -> &[SocketAddr] {
        let i = self.ranges.partition_point(|(_, end, _)| *end < token);
        match self.ranges.get(i) {
            Some((_, _, r)) => r,
            // Past the last token: the range that wraps to the ring's start.
            None => self.ranges.first().map_or(&[], |(_, _, r)| r.as_slice()),
        }
    }
}

/// What gossip and the schema said at one moment.
#[derive(Default)]
struct Snapshot {
    ring: Option<TokenRing<SocketAddr>>,
    locations: BTreeMap<SocketAddr, Location>,
    alive: HashMap<SocketAddr, bool>,
    /// Every user table's keyspace, for tables whose keyspace is replicated.
    tables: HashMap<TableId, String>,
    /// Keyspace placements, computed on first use.
    placements: Mutex<HashMap<String, Arc<Placement>>>,
    /// The ring once the nodes now joining or leaving have done so (`None` when none is): the source of
    /// pending replicas.
    future: Option<TokenRing<SocketAddr>>,
    fingerprint: String,
    /// The schema version the snapshot was built from.
    schema_version: uuid::Uuid,
}

/// The cluster as gossip and the schema describe it.
pub(crate) struct GossipTopology {
    local: SocketAddr,
    local_dc: String,
    gossiper: Weak<Gossiper>,
    engine: Weak<QueryEngine>,
    snapshot: RwLock<Arc<Snapshot>>,
    /// When each node currently down was first seen down (for `max_hint_window`).
    down_since: Mutex<HashMap<SocketAddr, std::time::Instant>>,
}

impl GossipTopology {
    pub(crate) fn new(gossiper: &Arc<Gossiper>, engine: &Arc<QueryEngine>) -> Arc<GossipTopology> {
        let topology = Arc::new(GossipTopology {
            local: gossiper.address(),
            local_dc: engine.local().data_center.clone(),
            gossiper: Arc::downgrade(gossiper),
            engine: Arc::downgrade(engine),
            snapshot: RwLock::new(Arc::new(Snapshot::default())),
            down_since: Mutex::new(HashMap::new()),
        });
        topology.refresh();
        topology
    }

    /// The snapshot, rebuilt first when `table` is not in it and the schema changed since it was built:
    /// a table created a moment ago must never be taken for a node-local one (its writes would be
    /// acknowledged after a local write only).
    fn current_for(&self, table: TableId) -> Arc<Snapshot> {
        let snapshot = self.snapshot();
        if snapshot.tables.contains_key(&table) {
            return snapshot;
        }
        match self.engine.upgrade() {
            Some(engine) if engine.schema().version != snapshot.schema_version => {
                self.refresh();
                self.snapshot()
            }
            _ => snapshot,
        }
    }

    fn snapshot(&self) -> Arc<Snapshot> {
        match self.snapshot.read() {
            Ok(s) => Arc::clone(&s),
            Err(p) => Arc::clone(&p.into_inner()),
        }
    }

    /// Rebuilds the snapshot when the ring, liveness or schema changed.
    pub(crate) fn refresh(&self) {
        let (Some(gossiper), Some(engine)) = (self.gossiper.upgrade(), self.engine.upgrade()) else {
            return;
        };
        let endpoints = gossiper.endpoints();
        if let Ok(mut down) = self.down_since.lock() {
            let now = std::time::Instant::now();
            for e in &endpoints {
                if e.alive {
                    down.remove(&e.address);
                } else {
                    down.entry(e.address).or_insert(now);
                }
            }
        }
        let schema = engine.schema();
        let mut fingerprint = schema.version.to_string();
        for e in &endpoints {
            fingerprint.push_str(&format!(
                "|{}{}{:?}{:?}{:?}{}",
                e.address,
                e.alive,
                e.status,
                e.dc,
                e.rack,
                e.tokens.len()
            ));
            if let Some(t) = e.tokens.first() {
                fingerprint.push_str(&t.to_string());
            }
        }
        if self.snapshot().fingerprint == fingerprint {
            return;
        }
        // Nodes in the ring: those that own tokens and have not left or started leaving for good
        // (nor been replaced by a live node holding their tokens).
        let replaced = crate::replace::replaced(&endpoints, false);
        let members: Vec<_> = endpoints
            .iter()
            .filter(|e| !e.tokens.is_empty() && !replaced.contains(&e.address))
            .filter(|e| {
                matches!(
                    e.status,
                    NodeStatus::Normal | NodeStatus::Leaving | NodeStatus::Shutdown
                )
            })
            .collect();
        let ring = TokenRing::from_nodes(members.iter().map(|e| (e.address, e.tokens.as_slice()))).ok();
        let future = crate::movement::future_ring(&endpoints);
        // Joining nodes need a location too: they are pending replicas.
        let locations = endpoints
            .iter()
            .filter(|e| !e.tokens.is_empty())
            .filter_map(|e| Some((e.address, Location::new(e.dc.clone()?, e.rack.clone()?))))
            .collect();
        let alive = endpoints
            .iter()
            .map(|e| (e.address, e.alive && e.status != NodeStatus::Shutdown))
            .collect();
        let mut tables = HashMap::new();
        for ks in schema.keyspaces.values() {
            if !is_replicated(ks) {
                continue;
            }
            for t in ks.tables.values().filter(|t| !t.is_virtual) {
                tables.insert(TableId(t.id), ks.name.clone());
            }
        }
        let snapshot = Snapshot {
            ring,
            locations,
            alive,
            tables,
            placements: Mutex::new(HashMap::new()),
            future,
            fingerprint,
            schema_version: schema.version,
        };
        if let Ok(mut s) = self.snapshot.write() {
            *s = Arc::new(snapshot);
        }
    }

    /// Refreshes the snapshot every [`REFRESH_INTERVAL`] until the topology is dropped.
    pub(crate) fn spawn_refresh(self: &Arc<Self>) -> std::io::Result<()> {
        let weak = Arc::downgrade(self);
        std::thread::Builder::new()
            .name("topology".into())
            .spawn(move || {
                while let Some(t) = weak.upgrade() {
                    t.refresh();
                    drop(t);
                    std::thread::sleep(REFRESH_INTERVAL);
                }
            })
            .map(drop)
    }

    fn placement(&self, snapshot: &Snapshot, keyspace: &str) -> Option<Arc<Placement>> {
        if let Ok(p) = snapshot.placements.lock()
            && let Some(p) = p.get(keyspace)
        {
            return Some(Arc::clone(p));
        }
        let engine = self.engine.upgrade()?;
        let schema = engine.schema();
        let strategy = crate::cluster::strategy_of(&schema.keyspace(keyspace)?.replication)?;
        let ring = snapshot.ring.as_ref()?;
        let ranges = ring
            .ranges()
            .map(|(start, end, _)| (start, end, strategy.replicas(ring, &snapshot.locations, end)))
            .collect::<Vec<_>>();
        let mut ranges = ranges;
        ranges.sort_by_key(|(_, end, _)| *end);
        let placement = Arc::new(Placement { ranges });
        if let Ok(mut p) = snapshot.placements.lock() {
            p.insert(keyspace.to_owned(), Arc::clone(&placement));
        }
        Some(placement)
    }

    /// Replicas in proximity order: this node, its datacenter, then the rest (placement order kept within each).
    fn describe(&self, snapshot: &Snapshot, addrs: &[SocketAddr]) -> Vec<Replica> {
        let mut out: Vec<Replica> = addrs
            .iter()
            .map(|a| Replica {
                addr: *a,
                dc: snapshot
                    .locations
                    .get(a)
                    .map(|l| l.dc.clone())
                    .unwrap_or_default(),
                alive: *a == self.local || snapshot.alive.get(a).copied().unwrap_or(false),
            })
            .collect();
        out.sort_by_key(|r| (r.addr != self.local, r.dc != self.local_dc));
        out
    }

    /// Whether tables of `keyspace` replicate through the coordinator.
    fn keyspace_replicated(&self, keyspace: &str) -> bool {
        self.engine
            .upgrade()
            .and_then(|e| e.schema().keyspace(keyspace).map(|k| is_replicated(k)))
            .unwrap_or(false)
    }
}

/// System keyspaces whose data stays on each node: roles and permissions reach every node by broadcast
/// instead (`DataPlane::broadcast`). system_traces and system_distributed replicate by their strategies.
const NODE_LOCAL_KEYSPACES: &[&str] = &["system_auth"];

/// User keyspaces with a ring strategy replicate; system keyspaces and LocalStrategy stay on each node.
fn is_replicated(ks: &mica_schema::KeyspaceDef) -> bool {
    !mica_schema::is_system_keyspace(&ks.name)
        && !NODE_LOCAL_KEYSPACES.contains(&ks.name.as_str())
        && crate::cluster::strategy_of(&ks.replication).is_some()
}

impl Topology for GossipTopology {
    fn local_addr(&self) -> SocketAddr {
        self.local
    }

    fn local_dc(&self) -> String {
        self.local_dc.clone()
    }

    fn replicas(&self, table: TableId, token: Token) -> Option<Vec<Replica>> {
        let snapshot = self.current_for(table);
        let keyspace = snapshot.tables.get(&table)?;
        let placement = self.placement(&snapshot, keyspace)?;
        Some(self.describe(&snapshot, placement.replicas_of(token.0)))
    }

    fn ranges(&self, table: TableId) -> Option<Vec<TokenRange>> {
        let snapshot = self.current_for(table);
        let keyspace = snapshot.tables.get(&table)?;
        let placement = self.placement(&snapshot, keyspace)?;
        let mut out = Vec::with_capacity(placement.ranges.len() + 1);
        for (start, end, replicas) in &placement.ranges {
            let replicas = self.describe(&snapshot, replicas);
            if start >= end {
                // The wrapping range: (start, MAX] and [MIN, end].
                out.push(TokenRange {
                    start: i64::MIN,
                    end: *end,
                    replicas: replicas.clone(),
                });
                if *start < i64::MAX {
                    out.push(TokenRange {
                        start: *start,
                        end: i64::MAX,
                        replicas,
                    });
                }
            } else {
                out.push(TokenRange {
                    start: *start,
                    end: *end,
                    replicas,
                });
            }
        }
        out.sort_by_key(|r| r.end);
        Some(out)
    }

    fn is_alive(&self, addr: SocketAddr) -> bool {
        // Straight from the failure detector: the snapshot may be a refresh behind.
        addr == self.local || self.gossiper.upgrade().is_some_and(|g| g.is_alive(addr))
    }

    fn members(&self) -> Vec<Replica> {
        let snapshot = self.snapshot();
        let addrs: Vec<SocketAddr> = snapshot.locations.keys().copied().collect();
        self.describe(&snapshot, &addrs)
    }

    fn down_for(&self, addr: SocketAddr) -> Option<Duration> {
        self.down_since
            .lock()
            .ok()?
            .get(&addr)
            .map(|since| since.elapsed())
    }

    fn live_nodes_in(&self, dc: &str) -> Vec<SocketAddr> {
        let snapshot = self.snapshot();
        snapshot
            .locations
            .iter()
            .filter(|(a, l)| {
                l.dc == dc && (**a == self.local || snapshot.alive.get(*a).copied().unwrap_or(false))
            })
            .map(|(a, _)| *a)
            .collect()
    }

    fn pending_replicas(&self, table: TableId, token: Token) -> Vec<Replica> {
        let snapshot = self.snapshot();
        let (Some(future), Some(keyspace)) = (&snapshot.future, snapshot.tables.get(&table)) else {
            return Vec::new();
        };
        let Some(placement) = self.placement(&snapshot, keyspace) else {
            return Vec::new();
        };
        let Some(strategy) = self
            .engine
            .upgrade()
            .and_then(|e| crate::cluster::strategy_of(&e.schema().keyspace(keyspace)?.replication))
        else {
            return Vec::new();
        };
        let natural = placement.replicas_of(token.0);
        let pending: Vec<SocketAddr> = strategy
            .replicas(future, &snapshot.locations, token.0)
            .into_iter()
            .filter(|a| !natural.contains(a))
            .collect();
        self.describe(&snapshot, &pending)
    }
}

/// The query layer's data plane over the coordinator.
pub(crate) struct ClusterDataPlane {
    pub coordinator: Arc<Coordinator>,
    pub topology: Arc<GossipTopology>,
    pub storage: Arc<dyn Engine>,
}

fn level(c: Consistency) -> ConsistencyLevel {
    match c {
        Consistency::Any => ConsistencyLevel::Any,
        Consistency::One => ConsistencyLevel::One,
        Consistency::Two => ConsistencyLevel::Two,
        Consistency::Three => ConsistencyLevel::Three,
        Consistency::Quorum => ConsistencyLevel::Quorum,
        Consistency::All => ConsistencyLevel::All,
        Consistency::LocalQuorum => ConsistencyLevel::LocalQuorum,
        Consistency::EachQuorum => ConsistencyLevel::EachQuorum,
        Consistency::Serial => ConsistencyLevel::Serial,
        Consistency::LocalSerial => ConsistencyLevel::LocalSerial,
        Consistency::LocalOne => ConsistencyLevel::LocalOne,
    }
}

fn consistency(l: ConsistencyLevel) -> Consistency {
    match l {
        ConsistencyLevel::Any => Consistency::Any,
        ConsistencyLevel::One => Consistency::One,
        ConsistencyLevel::Two => Consistency::Two,
        ConsistencyLevel::Three => Consistency::Three,
        ConsistencyLevel::Quorum => Consistency::Quorum,
        ConsistencyLevel::All => Consistency::All,
        ConsistencyLevel::LocalQuorum => Consistency::LocalQuorum,
        ConsistencyLevel::EachQuorum => Consistency::EachQuorum,
        ConsistencyLevel::Serial => Consistency::Serial,
        ConsistencyLevel::LocalSerial => Consistency::LocalSerial,
        ConsistencyLevel::LocalOne => Consistency::LocalOne,
    }
}

fn write_type(w: mica_cql_protocol::WriteType) -> WriteType {
    use mica_cql_protocol::WriteType as W;
    match w {
        W::Batch => WriteType::Batch,
        W::UnloggedBatch => WriteType::UnloggedBatch,
        W::Counter => WriteType::Counter,
        W::BatchLog => WriteType::BatchLog,
        W::Cas => WriteType::Cas,
        _ => WriteType::Simple,
    }
}

fn protocol_write_type(w: WriteType) -> mica_cql_protocol::WriteType {
    use mica_cql_protocol::WriteType as W;
    match w {
        WriteType::Simple => W::Simple,
        WriteType::Batch => W::Batch,
        WriteType::UnloggedBatch => W::UnloggedBatch,
        WriteType::Counter => W::Counter,
        WriteType::BatchLog => W::BatchLog,
        WriteType::Cas => W::Cas,
    }
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// The one mapping of coordinator failures to query errors (and so to CQL error codes).
fn query_error(e: CoordinatorError) -> QueryError {
    match e {
        CoordinatorError::Unavailable {
            level,
            required,
            alive,
        } => QueryError::Unavailable {
            consistency: consistency(level),
            required: count(required),
            alive: count(alive),
        },
        CoordinatorError::WriteTimeout {
            level,
            received,
            block_for,
            write_type,
        } => QueryError::WriteTimeout {
            consistency: consistency(level),
            received: count(received),
            block_for: count(block_for),
            write_type: protocol_write_type(write_type),
        },
        CoordinatorError::ReadTimeout {
            level,
            received,
            block_for,
            data_present,
        } => QueryError::ReadTimeout {
            consistency: consistency(level),
            received: count(received),
            block_for: count(block_for),
            data_present,
        },
        CoordinatorError::WriteFailure {
            level,
            received,
            block_for,
            failures,
            write_type,
        } => QueryError::WriteFailure {
            consistency: consistency(level),
            received: count(received),
            block_for: count(block_for),
            failures,
            write_type: protocol_write_type(write_type),
        },
        CoordinatorError::ReadFailure {
            level,
            received,
            block_for,
            failures,
            data_present,
        } => QueryError::ReadFailure {
            consistency: consistency(level),
            received: count(received),
            block_for: count(block_for),
            failures,
            data_present,
        },
        CoordinatorError::Invalid(m) => QueryError::Invalid(m),
        other => QueryError::Server(other.to_string()),
    }
}

impl DataPlane for ClusterDataPlane {
    fn is_distributed(&self, keyspace: &str) -> bool {
        self.topology.keyspace_replicated(keyspace)
    }

    fn write(
        &self,
        mutations: Vec<Mutation>,
        consistency: Consistency,
        kind: mica_cql_protocol::WriteType,
    ) -> WriteFuture<'_> {
        Box::pin(async move {
            self.coordinator
                .write(mutations, level(consistency), write_type(kind))
                .await
                .map_err(query_error)
        })
    }

    fn cas<'a>(
        &'a self,
        table: TableId,
        key: PartitionKey,
        serial: Consistency,
        commit: Consistency,
        selections: Vec<ReadSelection>,
        now_seconds: i64,
        mut decide: CasDecide<'a>,
    ) -> CasFuture<'a> {
        Box::pin(async move {
            let outcome = self
                .coordinator
                .cas(
                    table,
                    &key,
                    level(serial),
                    level(commit),
                    &selections,
                    now_seconds,
                    |views, timestamp| {
                        decide(views, timestamp)
                            .map(|(result, update)| mica_coordinator::paxos::CasDecision { result, update })
                    },
                )
                .await;
            match outcome {
                Ok(result) => Ok(result),
                Err(mica_coordinator::paxos::CasError::Decision(e)) => Err(e),
                Err(mica_coordinator::paxos::CasError::Coordinator(e)) => Err(query_error(e)),
            }
        })
    }

    fn broadcast(&self, mutations: Vec<Mutation>) -> WriteFuture<'_> {
        Box::pin(async move { self.coordinator.broadcast(mutations).await.map_err(query_error) })
    }

    fn read_partition(
        &self,
        table: TableId,
        key: &PartitionKey,
        selection: &ReadSelection,
        now_seconds: i64,
        consistency: Consistency,
    ) -> Result<Option<PartitionView>, QueryError> {
        let handle = tokio::runtime::Handle::current();
        handle
            .block_on(
                self.coordinator
                    .read_partition(table, key, selection, now_seconds, level(consistency)),
            )
            .map_err(query_error)
    }

    fn scan(
        &self,
        table: TableId,
        range: &ScanRange,
        selection: &ReadSelection,
        now_seconds: i64,
        consistency: Consistency,
    ) -> Result<PartitionStream, QueryError> {
        match self
            .coordinator
            .range_scan(table, range, selection, now_seconds, level(consistency))
        {
            Some(mut scan) => {
                // The first page is fetched here so that Unavailable and timeouts reach the client as such.
                let handle = tokio::runtime::Handle::current();
                let first = handle.block_on(scan.next_page()).map_err(query_error)?;
                Ok(Box::new(PagedScan {
                    scan,
                    done: first.is_empty(),
                    page: first.into(),
                    handle,
                }))
            }
            None => Ok(self.storage.scan(
                table,
                range,
                selection,
                mica_storage::ScanLimits::default(),
                now_seconds,
            )?),
        }
    }
}

/// A coordinated range scan as a blocking partition stream.
struct PagedScan {
    scan: mica_coordinator::RangeScan,
    page: std::collections::VecDeque<PartitionView>,
    done: bool,
    handle: tokio::runtime::Handle,
}

impl Iterator for PagedScan {
    type Item = mica_storage::Result<PartitionView>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(v) = self.page.pop_front() {
                return Some(Ok(v));
            }
            if self.done {
                return None;
            }
            match self.handle.block_on(self.scan.next_page()) {
                Ok(page) if page.is_empty() => self.done = true,
                Ok(page) => self.page = page.into(),
                Err(e) => {
                    self.done = true;
                    return Some(Err(mica_storage::StorageError::Io(format!(
                        "coordinated scan: {e}"
                    ))));
                }
            }
        }
    }
}

/// The coordinator's view of the node's run-time settings (`nodetool settimeout` changes apply at once).
struct CoordinatorSettings {
    node: Arc<NodeSettings>,
    hints_enabled: bool,
    max_hint_window: Duration,
}

impl mica_coordinator::Settings for CoordinatorSettings {
    fn write_timeout(&self) -> Duration {
        self.node.timeout(TimeoutKind::Write)
    }

    fn read_timeout(&self) -> Duration {
        self.node.timeout(TimeoutKind::Read)
    }

    fn range_timeout(&self) -> Duration {
        self.node.timeout(TimeoutKind::Range)
    }

    fn hints_enabled(&self) -> bool {
        self.hints_enabled
    }

    fn stream_throughput_bytes_per_second(&self) -> u64 {
        self.node.stream_throughput_bytes_per_second()
    }

    fn max_hint_window(&self) -> Duration {
        self.max_hint_window
    }
}

/// Runs the coordinator's background work on a thread of its own until the coordinator is dropped: once,
/// copies the roles and permissions (system_auth) from a live peer, so a node that joins or was down learns
/// them; then delivers hints and replays the batchlog every
/// [`mica_coordinator::hints::HINT_DELIVERY_INTERVAL`].
pub(crate) fn spawn_background(
    coordinator: &Arc<Coordinator>,
    topology: &Arc<GossipTopology>,
    engine: &Arc<QueryEngine>,
) -> std::io::Result<()> {
    let weak = Arc::downgrade(coordinator);
    let topology = Arc::downgrade(topology);
    let engine = Arc::downgrade(engine);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("coordinator".into())
        .spawn(move || {
            runtime.block_on(async move {
                let mut auth_synced = false;
                let mut rounds = 0u32;
                loop {
                    rounds += 1;
                    tokio::time::sleep(mica_coordinator::hints::HINT_DELIVERY_INTERVAL).await;
                    let Some(c) = weak.upgrade() else { return };
                    if !auth_synced && let (Some(t), Some(e)) = (topology.upgrade(), engine.upgrade()) {
                        auth_synced = match sync_auth(&c, &t, &e).await {
                            Some(done) => done,
                            // Alone for a while: the first node of a cluster has nothing to learn.
                            None => rounds >= ALONE_ROUNDS,
                        };
                    }
                    c.deliver_hints().await;
                    c.replay_batchlog().await;
                }
            });
        })
        .map(drop)
}

/// How many background rounds a node without live peers waits before it stops looking for roles to copy.
const ALONE_ROUNDS: u32 = 15;

/// Copies every system_auth table from every live peer (rows merge by timestamp): `Some(true)` once every
/// peer was copied, `Some(false)` after a failure (retried), `None` while no peer is up. Copying from one peer
/// is not enough: nodes that start together could copy each other's still-empty tables.
async fn sync_auth(
    coordinator: &Arc<Coordinator>,
    topology: &GossipTopology,
    engine: &QueryEngine,
) -> Option<bool> {
    let local = topology.local_addr();
    let peers: Vec<_> = topology
        .members()
        .into_iter()
        .filter(|r| r.alive && r.addr != local)
        .collect();
    if peers.is_empty() {
        return None;
    }
    let Some(keyspace) = engine.schema().keyspace("system_auth").cloned() else {
        return Some(true);
    };
    for peer in &peers {
        for table in keyspace.tables.values().filter(|t| !t.is_virtual) {
            if let Err(e) = coordinator
                .stream_range_from(peer.addr, TableId(table.id), i64::MIN, i64::MAX)
                .await
            {
                tracing::debug!("cannot copy system_auth.{} from {}: {e}", table.name, peer.addr);
                return Some(false);
            }
        }
    }
    let names: Vec<String> = peers.iter().map(|p| p.addr.to_string()).collect();
    tracing::info!("copied roles and permissions from {}", names.join(", "));
    Some(true)
}

/// Starts the coordinator on a gossiping node and routes the engine's user-table traffic through it.
pub(crate) fn start(
    config: &mica_config::NodeConfig,
    gossiper: &Arc<Gossiper>,
    engine: &Arc<QueryEngine>,
    storage: Arc<dyn Engine>,
    settings: &Arc<NodeSettings>,
) -> std::io::Result<Arc<Coordinator>> {
    let topology = GossipTopology::new(gossiper, engine);
    topology.spawn_refresh()?;
    let settings = Arc::new(CoordinatorSettings {
        node: Arc::clone(settings),
        hints_enabled: config.hinted_handoff_enabled,
        max_hint_window: config.max_hint_window,
    });
    let coordinator = Coordinator::new(
        Arc::clone(&storage),
        gossiper.messaging(),
        Arc::clone(&topology) as Arc<dyn Topology>,
        settings,
    );
    spawn_background(&coordinator, &topology, engine)?;
    engine.set_data_plane(Arc::new(ClusterDataPlane {
        coordinator: Arc::clone(&coordinator),
        topology,
        storage,
    }));
    Ok(coordinator)
}
