//! The gossiper: a background thread that exchanges endpoint state with peers every interval
//! (SYN/ACK/ACK2 over TCP, TLS when configured), runs the failure detector and keeps the live view.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mica_config::{ClientAuth, EncryptionOptions};
use rand::seq::IndexedRandom;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::detector::ArrivalWindow;
use crate::messaging::Messaging;
use crate::state::{AppState, Digest, EndpointInfo, EndpointState, NodeStatus, VersionedValue};
use crate::wire::{Message, read_message, write_message};

/// Cassandra's gossip interval.
pub const DEFAULT_GOSSIP_INTERVAL: Duration = Duration::from_secs(1);
/// How long one exchange (connect, TLS handshake, three messages) may take.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(2);
/// The first byte of a TLS record (handshake), used to tell TLS from plain peers in optional mode.
const TLS_HANDSHAKE_BYTE: u8 = 0x16;
/// How long a graceful stop waits for the shutdown announcement to reach live peers.
const SHUTDOWN_ANNOUNCE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a PULL (connect, request, a reply of up to a frame) may take.
const PULL_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the gossiper could not start or an exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum GossipError {
    #[error("cannot listen for gossip on {address}: {source}")]
    Bind {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("gossip I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("internode TLS: {0}")]
    Tls(String),
    #[error("ClusterName mismatch from {peer} {theirs}!={ours}")]
    ClusterNameMismatch {
        peer: SocketAddr,
        theirs: String,
        ours: String,
    },
    #[error("unexpected gossip message from {0}")]
    Protocol(SocketAddr),
    #[error("gossip exchange with {0} timed out")]
    Timeout(SocketAddr),
}

/// Internode TLS for gossip: every connection is mutually authenticated against the truststore CA.
#[derive(Debug, Clone)]
pub struct GossipTls {
    pub server: Arc<rustls::ServerConfig>,
    pub client: Arc<rustls::ClientConfig>,
    /// When false (cassandra.yaml `optional: true`), plain peers are accepted too.
    pub required: bool,
}

impl GossipTls {
    /// Builds the TLS pair from `server_encryption_options`, demanding client certificates whatever
    /// `require_client_auth` says: a peer that cannot prove its CA-signed identity must not gossip.
    pub fn from_options(opts: &EncryptionOptions) -> Result<Self, GossipError> {
        let mut mutual = opts.clone();
        mutual.require_client_auth = ClientAuth::Required;
        let section = "server_encryption_options";
        let tls = |e: mica_config::ConfigError| GossipError::Tls(e.to_string());
        Ok(Self {
            server: mica_config::build_server_config(&mutual, section).map_err(tls)?,
            client: mica_config::build_client_config(&mutual, section).map_err(tls)?,
            required: opts.optional != Some(true),
        })
    }
}

/// How to run a gossiper.
#[derive(Debug, Clone)]
pub struct GossipConfig {
    pub cluster_name: String,
    /// Where to listen (listen_address:storage_port).
    pub listen: SocketAddr,
    /// How peers know this node (broadcast_address:storage_port); usually `listen`.
    pub address: SocketAddr,
    /// Seed addresses (storage port); this node's own address is ignored.
    pub seeds: Vec<SocketAddr>,
    /// Start time in seconds; must grow across restarts.
    pub generation: i32,
    pub interval: Duration,
    pub phi_convict_threshold: f64,
    pub tls: Option<GossipTls>,
    /// The application states published at start.
    pub states: Vec<(AppState, String)>,
}

impl GossipConfig {
    /// A configuration with Cassandra's defaults: generation = now in seconds, one-second interval,
    /// phi_convict_threshold 8, no TLS, no application states.
    pub fn new(cluster_name: impl Into<String>, address: SocketAddr, seeds: Vec<SocketAddr>) -> Self {
        Self {
            cluster_name: cluster_name.into(),
            listen: address,
            address,
            seeds,
            generation: i32::try_from(mica_types::now_seconds()).unwrap_or(i32::MAX),
            interval: DEFAULT_GOSSIP_INTERVAL,
            phi_convict_threshold: 8.0,
            tls: None,
            states: Vec::new(),
        }
    }
}

/// The shared gossip state.
struct Inner {
    local: SocketAddr,
    /// The local node's version counter; every published change and heartbeat takes the next value.
    version: i32,
    endpoints: BTreeMap<SocketAddr, EndpointState>,
    /// Failure-detector windows and liveness of remote endpoints.
    detectors: BTreeMap<SocketAddr, ArrivalWindow>,
    alive: BTreeSet<SocketAddr>,
}

impl Inner {
    fn local_state(&mut self) -> &mut EndpointState {
        self.endpoints
            .entry(self.local)
            .or_insert_with(|| EndpointState::new(0))
    }

    fn publish(&mut self, key: AppState, value: String) {
        self.version += 1;
        let version = self.version;
        self.local_state()
            .states
            .insert(key, VersionedValue { value, version });
    }

    fn beat(&mut self) {
        self.version += 1;
        let version = self.version;
        self.local_state().heartbeat = version;
    }

    fn digests(&self) -> Vec<Digest> {
        self.endpoints
            .iter()
            .map(|(address, s)| Digest {
                address: *address,
                generation: s.generation,
                max_version: s.max_version(),
            })
            .collect()
    }

    /// Answers a SYN: what to ask the sender for and what to send it (Cassandra's examineGossiper,
    /// plus the endpoints the sender did not mention at all).
    fn examine(&self, digests: &[Digest]) -> (Vec<Digest>, Vec<(SocketAddr, EndpointState)>) {
        let mut requests = Vec::new();
        let mut send = Vec::new();
        for d in digests {
            match self.endpoints.get(&d.address) {
                None => requests.push(Digest { max_version: 0, ..*d }),
                Some(l) if d.generation > l.generation => requests.push(Digest { max_version: 0, ..*d }),
                Some(l) if d.generation < l.generation => send.push((d.address, l.clone())),
                Some(l) => {
                    let have = l.max_version();
                    if d.max_version > have {
                        requests.push(Digest {
                            max_version: have,
                            ..*d
                        });
                    } else if d.max_version < have {
                        send.push((d.address, l.delta_after(d.max_version)));
                    }
                }
            }
        }
        let mentioned: BTreeSet<SocketAddr> = digests.iter().map(|d| d.address).collect();
        for (address, state) in &self.endpoints {
            if !mentioned.contains(address) {
                send.push((*address, state.clone()));
            }
        }
        (requests, send)
    }

    /// The states a peer asked for in an ACK.
    fn answer(&self, requests: &[Digest]) -> Vec<(SocketAddr, EndpointState)> {
        requests
            .iter()
            .filter_map(|r| {
                let l = self.endpoints.get(&r.address)?;
                match l.generation.cmp(&r.generation) {
                    std::cmp::Ordering::Equal => Some((r.address, l.delta_after(r.max_version))),
                    std::cmp::Ordering::Greater => Some((r.address, l.clone())),
                    std::cmp::Ordering::Less => None,
                }
            })
            .collect()
    }

    /// Applies states received from a peer: a higher generation replaces the state (a restart), the
    /// same generation merges newer parts, an older one is ignored. Heartbeat progress feeds the
    /// failure detector and marks the endpoint up; a shutdown announcement marks it down at once.
    fn apply(&mut self, states: Vec<(SocketAddr, EndpointState)>, initial_interval: Duration) {
        let now = Instant::now();
        for (address, remote) in states {
            if address == self.local {
                continue;
            }
            let heard = match self.endpoints.get_mut(&address) {
                None => {
                    tracing::info!("gossip: discovered {address}");
                    self.endpoints.insert(address, remote);
                    self.detectors.remove(&address);
                    true
                }
                Some(local) if remote.generation > local.generation => {
                    tracing::info!(
                        "gossip: {address} restarted (generation {} -> {})",
                        local.generation,
                        remote.generation
                    );
                    *local = remote;
                    self.detectors.remove(&address);
                    true
                }
                Some(local) if remote.generation == local.generation => local.merge_same_generation(remote),
                Some(_) => false,
            };
            let Some(state) = self.endpoints.get(&address) else {
                continue;
            };
            if state.status() == NodeStatus::Shutdown {
                if self.alive.remove(&address) {
                    tracing::info!("gossip: {address} announced shutdown; marking it down");
                }
                self.detectors.remove(&address);
                continue;
            }
            if heard {
                match self.detectors.get_mut(&address) {
                    Some(window) => window.report(now),
                    None => {
                        self.detectors
                            .insert(address, ArrivalWindow::new(now, initial_interval));
                    }
                }
                if self.alive.insert(address) {
                    tracing::info!("gossip: {address} is now UP");
                }
            }
        }
    }

    /// Convicts endpoints whose phi exceeds the threshold.
    fn interpret(&mut self, threshold: f64) {
        let now = Instant::now();
        let convicted: Vec<SocketAddr> = self
            .alive
            .iter()
            .filter(|a| self.detectors.get(a).is_none_or(|w| w.phi(now) > threshold))
            .copied()
            .collect();
        for address in convicted {
            tracing::info!("gossip: {address} is now DOWN");
            self.alive.remove(&address);
        }
    }

    fn view(&self) -> Vec<EndpointInfo> {
        self.endpoints
            .iter()
            .map(|(address, state)| {
                let local = *address == self.local;
                EndpointInfo::from_state(*address, state, local, local || self.alive.contains(address))
            })
            .collect()
    }
}

/// What the gossip thread needs.
struct Shared {
    inner: Mutex<Inner>,
    cluster_name: String,
    local: SocketAddr,
    seeds: Vec<SocketAddr>,
    interval: Duration,
    phi_convict_threshold: f64,
    tls: Option<GossipTls>,
    /// What this node serves to PULL requests, by topic.
    pulls: Mutex<BTreeMap<String, PullHandler>>,
    /// The request/response service that OpenMessaging connections are handed to.
    messaging: Messaging,
}

/// Produces the document a node serves under a pull topic (called on the gossip thread).
pub type PullHandler = Arc<dyn Fn() -> Vec<u8> + Send + Sync>;

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The state stays consistent even if a holder panicked: every update is a single insert.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn initial_interval(&self) -> Duration {
        self.interval * 2
    }
}

/// How the gossip thread should stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Run {
    Running,
    /// Announce the shutdown to live peers, then stop.
    Stop,
    /// Stop at once, as a crash would.
    Kill,
}

/// A running gossiper; dropping it stops gossip without an announcement.
pub struct Gossiper {
    shared: Arc<Shared>,
    control: watch::Sender<Run>,
    thread: Option<JoinHandle<()>>,
    bound: SocketAddr,
}

impl std::fmt::Debug for Gossiper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gossiper")
            .field("address", &self.shared.local)
            .finish_non_exhaustive()
    }
}

impl Gossiper {
    /// Binds the storage port and starts gossiping on a background thread.
    pub fn start(config: GossipConfig) -> Result<Gossiper, GossipError> {
        let listener = std::net::TcpListener::bind(config.listen).map_err(|source| GossipError::Bind {
            address: config.listen,
            source,
        })?;
        listener.set_nonblocking(true)?;
        let bound = listener.local_addr()?;
        let mut inner = Inner {
            local: config.address,
            version: 0,
            endpoints: BTreeMap::new(),
            detectors: BTreeMap::new(),
            alive: BTreeSet::new(),
        };
        inner.local_state().generation = config.generation;
        for (key, value) in config.states {
            inner.publish(key, value);
        }
        inner.beat();
        let messaging = Messaging::start(config.address, config.cluster_name.clone(), config.tls.clone())?;
        let shared = Arc::new(Shared {
            inner: Mutex::new(inner),
            cluster_name: config.cluster_name,
            local: config.address,
            seeds: config
                .seeds
                .into_iter()
                .filter(|s| *s != config.address)
                .collect(),
            interval: config.interval,
            phi_convict_threshold: config.phi_convict_threshold,
            tls: config.tls,
            pulls: Mutex::new(BTreeMap::new()),
            messaging,
        });
        let (control, control_rx) = watch::channel(Run::Running);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let thread_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name("mica-gossip".into())
            .spawn(move || {
                runtime.block_on(async move {
                    match TcpListener::from_std(listener) {
                        Ok(listener) => run(thread_shared, listener, control_rx).await,
                        Err(e) => tracing::error!("gossip: cannot register the listener: {e}"),
                    }
                });
            })?;
        Ok(Gossiper {
            shared,
            control,
            thread: Some(thread),
            bound,
        })
    }

    /// The address peers know this node by.
    pub fn address(&self) -> SocketAddr {
        self.shared.local
    }

    /// The address the listener is bound to.
    pub fn listen_address(&self) -> SocketAddr {
        self.bound
    }

    /// Every known endpoint, the local one included, in address order.
    pub fn endpoints(&self) -> Vec<EndpointInfo> {
        self.shared.lock().view()
    }

    /// Every known endpoint's raw gossip state (generation, heartbeat and versioned application states), the
    /// local one included, in address order: what `nodetool gossipinfo` prints.
    /// Whether the failure detector considers `address` up right now (the local node always is).
    pub fn is_alive(&self, address: SocketAddr) -> bool {
        let inner = self.shared.lock();
        address == inner.local || inner.alive.contains(&address)
    }

    pub fn endpoint_states(&self) -> Vec<(SocketAddr, EndpointState)> {
        let inner = self.shared.lock();
        inner.endpoints.iter().map(|(a, s)| (*a, s.clone())).collect()
    }

    /// Publishes a new value of one of the local application states.
    pub fn set_state(&self, key: AppState, value: impl Into<String>) {
        self.shared.lock().publish(key, value.into());
    }

    /// Serves `handler`'s document to peers that PULL `topic` (replacing an earlier handler).
    pub fn set_pull_handler(&self, topic: impl Into<String>, handler: PullHandler) {
        let mut pulls = self.shared.pulls.lock().unwrap_or_else(|p| p.into_inner());
        pulls.insert(topic.into(), handler);
    }

    /// Fetches the document `peer` serves under `topic` over the gossip transport (TLS when
    /// configured); `None` when the peer serves nothing under that topic. Runs on the caller's runtime.
    pub async fn pull(&self, peer: SocketAddr, topic: &str) -> Result<Option<Vec<u8>>, GossipError> {
        let shared = &self.shared;
        let exchange = async {
            let mut stream = connect(shared, peer).await?;
            write_message(
                &mut stream,
                &Message::Pull {
                    cluster_name: shared.cluster_name.clone(),
                    topic: topic.to_owned(),
                },
            )
            .await?;
            match read_message(&mut stream).await? {
                Message::PullReply { payload } => Ok(payload),
                _ => Err(GossipError::Protocol(peer)),
            }
        };
        tokio::time::timeout(PULL_TIMEOUT, exchange)
            .await
            .map_err(|_| GossipError::Timeout(peer))?
    }

    /// The internode request/response service sharing this node's storage port; stopping or
    /// killing the gossiper closes it.
    pub fn messaging(&self) -> Messaging {
        self.shared.messaging.clone()
    }

    /// Announces the shutdown to live peers (STATUS `shutdown`) and stops. A node that has left the ring or
    /// is still bootstrapping stops silently (Cassandra's silent shutdown states): announcing `shutdown`
    /// would turn it back into a ring member.
    pub fn stop(mut self) {
        let status = self.shared.lock().local_state().status();
        if !matches!(status, NodeStatus::Left | NodeStatus::Joining) {
            self.set_state(AppState::Status, "shutdown,true");
        }
        self.finish(Run::Stop);
    }

    /// Publishes `status` as the STATUS of another endpoint (`removenode`: Cassandra's `removed,<host id>`),
    /// at a version above everything known of it so that every peer takes it, and marks it down. Returns
    /// false when the endpoint is unknown or is this node.
    pub fn set_remote_status(&self, address: SocketAddr, status: impl Into<String>) -> bool {
        let mut inner = self.shared.lock();
        if address == inner.local {
            return false;
        }
        let Some(state) = inner.endpoints.get_mut(&address) else {
            return false;
        };
        let version = state.max_version().saturating_add(1);
        state.states.insert(
            AppState::Status,
            VersionedValue {
                value: status.into(),
                version,
            },
        );
        inner.alive.remove(&address);
        inner.detectors.remove(&address);
        true
    }

    /// Stops at once without telling anyone, as a crashed node would; peers convict it through the
    /// failure detector.
    pub fn kill(mut self) {
        self.finish(Run::Kill);
    }

    fn finish(&mut self, how: Run) {
        self.control.send_replace(how);
        // Messaging goes first so that in-flight requests fail at once, as they would on a crash.
        self.shared.messaging.close();
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("the gossip thread panicked");
        }
    }
}

impl Drop for Gossiper {
    fn drop(&mut self) {
        self.finish(Run::Kill);
    }
}

async fn run(shared: Arc<Shared>, listener: TcpListener, mut control: watch::Receiver<Run>) {
    let mut ticker = tokio::time::interval(shared.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            changed = control.changed() => {
                if changed.is_err() || *control.borrow() != Run::Running {
                    break;
                }
            }
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let shared = shared.clone();
                    tasks.spawn(async move {
                        match tokio::time::timeout(EXCHANGE_TIMEOUT, respond(&shared, stream, peer)).await {
                            Ok(Ok(())) => {}
                            Ok(Err(e)) => tracing::warn!("gossip from {peer}: {e}"),
                            Err(_) => tracing::debug!("gossip from {peer} timed out"),
                        }
                    });
                }
                Err(e) => tracing::warn!("gossip accept failed: {e}"),
            },
            _ = ticker.tick() => {
                for target in round(&shared) {
                    let shared = shared.clone();
                    tasks.spawn(async move {
                        if let Err(e) = initiate(&shared, target).await {
                            tracing::debug!("gossip to {target}: {e}");
                        }
                    });
                }
            }
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    }
    tasks.abort_all();
    if *control.borrow() == Run::Stop {
        let live: Vec<SocketAddr> = shared.lock().alive.iter().copied().collect();
        let announcements = live.into_iter().map(|peer| {
            let shared = shared.clone();
            async move {
                let _ = tokio::time::timeout(SHUTDOWN_ANNOUNCE_TIMEOUT, initiate(&shared, peer)).await;
            }
        });
        futures_join_all(announcements).await;
    }
}

/// Runs futures concurrently to completion (a tiny join_all without another dependency).
async fn futures_join_all<F: Future<Output = ()> + Send + 'static>(futures: impl Iterator<Item = F>) {
    let mut set = tokio::task::JoinSet::new();
    for f in futures {
        set.spawn(f);
    }
    while set.join_next().await.is_some() {}
}

/// One gossip round: beat, convict, and choose whom to talk to (Cassandra's choice: a random live
/// peer, sometimes an unreachable one, and a seed when the live peer was not one).
fn round(shared: &Shared) -> Vec<SocketAddr> {
    let mut inner = shared.lock();
    inner.beat();
    inner.interpret(shared.phi_convict_threshold);
    let live: Vec<SocketAddr> = inner.alive.iter().copied().collect();
    let unreachable: Vec<SocketAddr> = inner
        .endpoints
        .iter()
        .filter(|(a, s)| **a != inner.local && !inner.alive.contains(a) && s.status() != NodeStatus::Left)
        .map(|(a, _)| *a)
        .collect();
    drop(inner);
    let mut rng = rand::rng();
    let mut targets = Vec::new();
    let live_target = live.choose(&mut rng).copied();
    targets.extend(live_target);
    if !unreachable.is_empty() && rand::random::<f64>() < unreachable.len() as f64 / (live.len() + 1) as f64 {
        targets.extend(unreachable.choose(&mut rng).copied());
    }
    let gossiped_to_seed = live_target.is_some_and(|t| shared.seeds.contains(&t));
    if !gossiped_to_seed || live.len() < shared.seeds.len() {
        targets.extend(shared.seeds.choose(&mut rng).copied());
    }
    targets.sort_unstable();
    targets.dedup();
    targets
}

/// Anything gossip can run over: a TCP stream or a TLS stream on top of one.
pub(crate) trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// Opens a connection to a peer's gossip port, TLS when configured.
async fn connect(shared: &Shared, peer: SocketAddr) -> Result<Box<dyn Stream>, GossipError> {
    Ok(connect_stream(shared.tls.as_ref(), peer).await?)
}

/// Opens a connection to a peer's storage port, mutual TLS when `tls` is set.
pub(crate) async fn connect_stream(
    tls: Option<&GossipTls>,
    peer: SocketAddr,
) -> std::io::Result<Box<dyn Stream>> {
    let tcp = TcpStream::connect(peer).await?;
    tcp.set_nodelay(true)?;
    Ok(match tls {
        Some(tls) => {
            let connector = tokio_rustls::TlsConnector::from(tls.client.clone());
            Box::new(
                connector
                    .connect(ServerName::IpAddress(peer.ip().into()), tcp)
                    .await?,
            )
        }
        None => Box::new(tcp),
    })
}

/// The initiator's side of an exchange: SYN, then ACK back, then ACK2.
async fn initiate(shared: &Shared, peer: SocketAddr) -> Result<(), GossipError> {
    let exchange = async {
        let mut stream = connect(shared, peer).await?;
        let digests = shared.lock().digests();
        write_message(
            &mut stream,
            &Message::Syn {
                cluster_name: shared.cluster_name.clone(),
                digests,
            },
        )
        .await?;
        let Message::Ack {
            cluster_name,
            requests,
            states,
        } = read_message(&mut stream).await?
        else {
            return Err(GossipError::Protocol(peer));
        };
        if cluster_name != shared.cluster_name {
            return Err(GossipError::ClusterNameMismatch {
                peer,
                theirs: cluster_name,
                ours: shared.cluster_name.clone(),
            });
        }
        let answer = {
            let mut inner = shared.lock();
            inner.apply(states, shared.initial_interval());
            inner.answer(&requests)
        };
        write_message(&mut stream, &Message::Ack2 { states: answer }).await?;
        Ok(())
    };
    tokio::time::timeout(EXCHANGE_TIMEOUT, exchange)
        .await
        .map_err(|_| GossipError::Timeout(peer))?
}

/// The receiver's side: read SYN, refuse other clusters, send ACK, apply the ACK2.
async fn respond(shared: &Shared, tcp: TcpStream, peer: SocketAddr) -> Result<(), GossipError> {
    tcp.set_nodelay(true)?;
    let mut stream: Box<dyn Stream> = match &shared.tls {
        Some(tls) => {
            let mut first = [0u8; 1];
            let is_tls = tcp.peek(&mut first).await? == 1 && first[0] == TLS_HANDSHAKE_BYTE;
            if is_tls {
                let acceptor = tokio_rustls::TlsAcceptor::from(tls.server.clone());
                Box::new(acceptor.accept(tcp).await?)
            } else if tls.required {
                return Err(GossipError::Tls(format!("{peer} connected without TLS")));
            } else {
                Box::new(tcp)
            }
        }
        None => Box::new(tcp),
    };
    let (cluster_name, digests) = match read_message(&mut stream).await? {
        Message::Syn {
            cluster_name,
            digests,
        } => (cluster_name, digests),
        Message::Pull { cluster_name, topic } => {
            return answer_pull(shared, &mut stream, peer, cluster_name, &topic).await;
        }
        Message::OpenMessaging { cluster_name, from } => {
            if cluster_name != shared.cluster_name {
                return Err(GossipError::ClusterNameMismatch {
                    peer,
                    theirs: cluster_name,
                    ours: shared.cluster_name.clone(),
                });
            }
            write_message(&mut stream, &Message::MessagingAccepted).await?;
            shared.messaging.accept(stream, from);
            return Ok(());
        }
        _ => return Err(GossipError::Protocol(peer)),
    };
    if cluster_name != shared.cluster_name {
        return Err(GossipError::ClusterNameMismatch {
            peer,
            theirs: cluster_name,
            ours: shared.cluster_name.clone(),
        });
    }
    let (requests, states) = shared.lock().examine(&digests);
    write_message(
        &mut stream,
        &Message::Ack {
            cluster_name: shared.cluster_name.clone(),
            requests,
            states,
        },
    )
    .await?;
    let Message::Ack2 { states } = read_message(&mut stream).await? else {
        return Err(GossipError::Protocol(peer));
    };
    shared.lock().apply(states, shared.initial_interval());
    Ok(())
}

/// Answers a PULL from a node of the same cluster with the document served under its topic.
async fn answer_pull(
    shared: &Shared,
    stream: &mut Box<dyn Stream>,
    peer: SocketAddr,
    cluster_name: String,
    topic: &str,
) -> Result<(), GossipError> {
    if cluster_name != shared.cluster_name {
        return Err(GossipError::ClusterNameMismatch {
            peer,
            theirs: cluster_name,
            ours: shared.cluster_name.clone(),
        });
    }
    let handler = shared
        .pulls
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(topic)
        .cloned();
    // The handler may take a moment (it serializes the schema); it runs outside the gossip lock.
    let payload = handler.map(|h| h());
    write_message(stream, &Message::PullReply { payload }).await?;
    Ok(())
}
