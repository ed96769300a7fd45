//! Node assembly: storage, persistent identity, the query engine and the CQL server, started from a
//! loaded cassandra.yaml, and the handle that waits for a stop signal and shuts everything down.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;

use mica_config::{CommitLogSync as ConfigSync, ConfigError, LoadedConfig, NodeConfig, TlsMode};
use mica_query::{LocalInfo, QueryEngine, QueryError};
use mica_storage::{CommitLogSync, Engine, EngineConfig, FjallEngine, StorageError};
use tokio::sync::{broadcast, watch};

use crate::identity::Identity;
use crate::server::{self, Shared};

/// Cassandra's default `listen_address` is the host name's address; Mica uses loopback, which is
/// what a single-host development node wants and never exposes the node by accident.
const DEFAULT_LISTEN_ADDRESS: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// Schema change events buffered per subscriber before a slow connection starts missing some.
const EVENT_QUEUE: usize = 1024;
/// Authenticator class names (without package) that make clients log in with a password.
const PASSWORD_AUTHENTICATOR: &str = "PasswordAuthenticator";
/// Authorizer class name (without package) that checks permissions against system_auth.
const CASSANDRA_AUTHORIZER: &str = "CassandraAuthorizer";
/// A table's memtable is this fraction of the node's memtable budget ...
const MEMTABLE_SHARES: u64 = 8;
/// ... but never smaller than this (tiny memtables flush constantly) ...
const MIN_TABLE_MEMTABLE: u64 = 1 << 20;
/// ... nor larger than this (large ones make flushes and restarts slow).
const MAX_TABLE_MEMTABLE: u64 = 256 << 20;
/// Default name of the admin API token file inside the first data directory.
pub const ADMIN_TOKEN_FILE: &str = "admin.token";

/// Why the node could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error(transparent)]
    ConfigFile(#[from] ConfigError),
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    #[error("query engine: {0}")]
    Query(#[from] QueryError),
    #[error("corrupt node metadata: {0}")]
    CorruptMetadata(String),
    #[error("bootstrap failed: {0}")]
    Bootstrap(String),
    #[error("cannot listen for CQL clients on {address}: {source}")]
    Bind {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
}

impl NodeError {
    fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> NodeError {
        let context = context.into();
        move |source| NodeError::Io { context, source }
    }
}

/// Starts nodes; see [`Node::start`].
#[derive(Debug)]
pub struct Node;

impl Node {
    /// Opens storage, loads or creates the node identity, opens the query engine and starts serving
    /// CQL on `rpc_address:native_transport_port`. Returns once the port accepts connections.
    pub fn start(loaded: LoadedConfig) -> Result<NodeHandle, NodeError> {
        loaded.log_ignored_keys();
        let config = &loaded.config;
        let addresses = Addresses::resolve(config)?;
        let tls = config.native_tls()?;

        let data_dir = config
            .data_file_directories
            .first()
            .cloned()
            .ok_or_else(|| NodeError::Config("data_file_directories is empty".into()))?;
        // fjall keeps a single journal inside the data directory, so commitlog_directory is created
        // (operators and tools expect it) but holds nothing yet.
        std::fs::create_dir_all(&config.commitlog_directory).map_err(NodeError::io(format!(
            "cannot create commitlog_directory {}",
            config.commitlog_directory.display()
        )))?;
        let storage = Arc::new(FjallEngine::open(engine_config(config, data_dir.clone()))?);
        let first_start = !crate::identity::has_tokens(storage.as_ref())?;
        let ring_learned = std::cell::Cell::new(false);
        // A node replacing a dead one (replace_address_first_boot) takes over its tokens.
        let replacement = crate::replace::prepare(
            config,
            addresses.broadcast,
            addresses.listen,
            &loaded.rackdc.dc,
            first_start,
            storage.as_ref(),
        )?;
        let identity = Identity::load_or_create_with(
            storage.as_ref(),
            config.num_tokens,
            &replacement
                .as_ref()
                .map_or_else(|| config.initial_tokens(), |r| r.token_texts()),
            |host_id| {
                let tokens = crate::ring_probe::allocate(
                    config,
                    addresses.broadcast,
                    addresses.listen,
                    &loaded.rackdc.dc,
                    host_id,
                );
                ring_learned.set(tokens.is_some());
                tokens
            },
        )?;
        let bootstrap = crate::movement::bootstrap_needed(
            storage.as_ref(),
            config,
            SocketAddr::new(addresses.broadcast, config.storage_port),
            first_start && (ring_learned.get() || replacement.is_some()),
        )?;

        let password_auth = config.authenticator.simple_name() == PASSWORD_AUTHENTICATOR;
        let authorization = config.authorizer.simple_name() == CASSANDRA_AUTHORIZER;
        if authorization && !password_auth {
            // Permissions belong to logged-in roles, so Cassandra refuses this combination at startup.
            return Err(NodeError::Config(format!(
                "{} can't be used with {}",
                config.authenticator.simple_name(),
                config.authorizer.simple_name()
            )));
        }
        let local = LocalInfo {
            cluster_name: config.cluster_name.clone(),
            data_center: loaded.rackdc.dc.clone(),
            rack: loaded.rackdc.rack.clone(),
            host_id: identity.host_id,
            listen_address: addresses.listen,
            broadcast_address: addresses.broadcast,
            rpc_address: addresses.broadcast_rpc,
            native_port: config.native_transport_port,
            storage_port: config.storage_port,
            release_version: config.mica.release_version.clone(),
            tokens: identity.tokens.clone(),
            password_auth,
            authorization,
        };
        // Local reads and writes of the query engine and the coordinator are timed per table
        // (`nodetool tablehistograms`).
        let table_metrics = Arc::new(mica_storage::metrics::TableMetrics::default());
        let storage_dyn: Arc<dyn Engine> = Arc::new(mica_storage::metrics::MeteredEngine::new(
            storage.clone(),
            table_metrics.clone(),
        ));
        let engine = QueryEngine::open(Arc::clone(&storage_dyn), local.clone())?;
        // A configured release sets the compatibility level (protocol versions, gated CQL features).
        if config.mica.release_version_configured
            && let Some(compat) =
                mica_query::compat::Compatibility::from_release_version(&config.mica.release_version)
        {
            engine.set_compatibility(compat);
        }

        let (events, _) = broadcast::channel(EVENT_QUEUE);
        let sender = events.clone();
        engine.on_schema_change(Box::new(move |change| {
            // No receiver simply means no connection registered for events.
            let _ = sender.send(change.clone());
        }));

        let settings = Arc::new(crate::settings::NodeSettings::from_config(config));
        // A bootstrapping node gossips BOOT until it has streamed its ranges (Cassandra's JOINING).
        let initial_status = if bootstrap {
            mica_cluster::NodeStatus::Joining
        } else {
            mica_cluster::NodeStatus::Normal
        };
        let gossip = crate::cluster::start(config, &local, addresses.listen, &engine, initial_status)?;
        if let (Some(g), Some(r), true) = (&gossip, &replacement, bootstrap) {
            g.set_state(mica_cluster::AppState::Status, r.status());
        }
        let coordinator = match &gossip {
            Some(g) => Some(
                crate::replication::start(config, g, &engine, storage_dyn, &settings)
                    .map_err(NodeError::io("cannot start the replication coordinator"))?,
            ),
            None => None,
        };

        let (cluster_events, _) = broadcast::channel(EVENT_QUEUE);

        let (stop_tx, stop_rx) = watch::channel(false);
        let stop = Arc::new(stop_tx);
        // The CQL server has its own stop signal so `nodetool drain` can stop it while the node keeps running.
        let (native_stop_tx, native_stop_rx) = watch::channel(false);
        let native_stop = Arc::new(native_stop_tx);
        let maintenance = crate::maintenance::spawn(
            config.mica.tombstone_purge_interval,
            storage.clone(),
            stop_rx.clone(),
        )
        .map_err(NodeError::io("cannot start the maintenance thread"))?;
        let cluster_watch = match &gossip {
            Some(g) => Some(
                crate::cluster_watch::spawn(g, &engine, cluster_events.clone(), stop_rx.clone())
                    .map_err(NodeError::io("cannot start the cluster watch thread"))?,
            ),
            None => None,
        };
        // The native transport opens only once the node has joined, so it is never a replica clients read
        // (the cluster watch runs first: it brings the schema the node streams tables of).
        if bootstrap && let (Some(g), Some(c)) = (&gossip, &coordinator) {
            crate::movement::bootstrap(g, &engine, c, storage.as_ref())?;
        }
        if let Some(g) = &gossip {
            crate::replace::finish(g, storage.as_ref())?;
        }
        let mut native_address = None;
        let mut workers = Vec::new();
        if config.start_native_transport {
            let bind = SocketAddr::new(addresses.rpc_bind, config.native_transport_port);
            let threads = std::thread::available_parallelism().map_or(1, usize::from);
            let listeners = server::bind(bind, threads).map_err(|source| NodeError::Bind {
                address: bind,
                source,
            })?;
            let shared = Arc::new(Shared {
                engine: engine.clone(),
                password_auth,
                max_frame_size: usize::try_from(config.native_transport_max_frame_size.as_bytes())
                    .unwrap_or(usize::MAX),
                keepalive: config.rpc_keepalive,
                events,
                cluster_events,
            });
            let address = listeners
                .first()
                .and_then(|l| l.local_addr().ok())
                .unwrap_or(bind);
            workers = server::spawn_workers(listeners, shared, tls.clone(), native_stop_rx)
                .map_err(NodeError::io("cannot start CQL worker threads"))?;
            native_address = Some(address);
        }

        let mut admin_address = None;
        let mut admin_thread = None;
        if config.mica.admin_port != 0 {
            let host = if config.mica.admin_address.trim().is_empty() {
                addresses.listen
            } else {
                resolve_address("mica.admin_address", Some(&config.mica.admin_address))?
                    .unwrap_or(addresses.listen)
            };
            let token_path = config
                .mica
                .admin_token_file
                .clone()
                .unwrap_or_else(|| data_dir.join(ADMIN_TOKEN_FILE));
            let token = crate::admin::load_or_create_token(&token_path).map_err(NodeError::io(format!(
                "cannot read or create the admin token file {}",
                token_path.display()
            )))?;
            let state = Arc::new(crate::admin::AdminState {
                engine: engine.clone(),
                storage: storage.clone(),
                table_metrics: table_metrics.clone(),
                local: local.clone(),
                native_address,
                data_dir: data_dir.clone(),
                token,
                stop: stop.clone(),
                started: std::time::Instant::now(),
                cpu: std::sync::Mutex::new(None),
                gossip: gossip.clone(),
                settings: settings.clone(),
                native_stop: native_stop.clone(),
                coordinator: coordinator.clone(),
                movements: match (&gossip, &coordinator) {
                    (Some(g), Some(c)) => Some(crate::movement::Movements::new(
                        g.clone(),
                        engine.clone(),
                        c.clone(),
                        stop.clone(),
                        native_stop.clone(),
                    )),
                    _ => None,
                },
            });
            let bind = SocketAddr::new(host, config.mica.admin_port);
            let (address, thread) =
                crate::admin::spawn(bind, state, stop.subscribe()).map_err(|source| NodeError::Bind {
                    address: bind,
                    source,
                })?;
            admin_address = Some(address);
            admin_thread = Some(thread);
        }

        let tls_text = match tls.as_ref().map(|t| t.mode) {
            None | Some(TlsMode::Disabled) => "off",
            Some(TlsMode::Optional) => "optional",
            Some(TlsMode::Required) => "required",
        };
        tracing::info!(
            "Mica {} node started: cluster '{}', CQL on {} (TLS {tls_text}, authenticator {}), \
             release_version {}, dc {} rack {}, host_id {}, {} tokens, commitlog_sync {}, data {}, \
             {} CQL threads, admin API on {}",
            env!("CARGO_PKG_VERSION"),
            local.cluster_name,
            native_address.map_or_else(|| "(disabled)".to_owned(), |a| a.to_string()),
            config.authenticator.simple_name(),
            local.release_version,
            local.data_center,
            local.rack,
            local.host_id,
            local.tokens.len(),
            config.commitlog_sync.as_str(),
            data_dir.display(),
            workers.len(),
            admin_address.map_or_else(|| "(disabled)".to_owned(), |a| a.to_string()),
        );

        Ok(NodeHandle {
            native_address,
            local,
            engine,
            storage,
            stop,
            workers,
            maintenance,
            admin_address,
            admin_thread,
            gossip,
            cluster_watch,
            settings,
            native_stop,
            coordinator,
        })
    }
}

/// Maps cassandra.yaml's durability settings onto the storage engine's configuration.
fn engine_config(config: &NodeConfig, data_dir: PathBuf) -> EngineConfig {
    let mut engine = EngineConfig::new(data_dir);
    engine.commitlog_sync = match config.commitlog_sync {
        ConfigSync::Periodic => CommitLogSync::Periodic {
            period: config.commitlog_sync_period,
        },
        ConfigSync::Batch => CommitLogSync::Batch,
        ConfigSync::Group => CommitLogSync::Group {
            window: config.commitlog_sync_group_window,
        },
    };
    // Cassandra sizes its memtables as one budget for all tables (memtable_heap_space + memtable_offheap_space)
    // and flushes the largest when it fills. fjall flushes per table, so each table's memtable gets a share of
    // the budget that lets several busy tables fit in it.
    let memtable_budget = [config.memtable_heap_space, config.memtable_offheap_space]
        .into_iter()
        .flatten()
        .map(|d| d.as_bytes())
        .sum::<u64>();
    if memtable_budget > 0 {
        engine.memtable_bytes =
            (memtable_budget / MEMTABLE_SHARES).clamp(MIN_TABLE_MEMTABLE, MAX_TABLE_MEMTABLE);
    }
    // Mica has one block cache where Cassandra has a key cache and a chunk (file) cache; it gets both budgets.
    let cache = [config.key_cache_size, config.file_cache_size]
        .into_iter()
        .flatten()
        .map(|d| d.as_bytes())
        .sum::<u64>();
    if cache > 0 {
        engine.cache_bytes = cache;
    }
    engine.worker_threads = config.concurrent_compactors.map(|n| n as usize);
    engine
}

/// The node's addresses, with Cassandra's defaulting rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Addresses {
    listen: IpAddr,
    broadcast: IpAddr,
    /// Where the CQL listener binds (may be a wildcard).
    rpc_bind: IpAddr,
    /// What clients are told to connect to (system.local.rpc_address).
    broadcast_rpc: IpAddr,
}

impl Addresses {
    fn resolve(config: &NodeConfig) -> Result<Addresses, NodeError> {
        let listen = resolve_address("listen_address", config.listen_address.as_deref())?
            .unwrap_or(DEFAULT_LISTEN_ADDRESS);
        let broadcast =
            resolve_address("broadcast_address", config.broadcast_address.as_deref())?.unwrap_or(listen);
        let rpc_bind = resolve_address("rpc_address", config.rpc_address.as_deref())?.unwrap_or(listen);
        let broadcast_rpc =
            resolve_address("broadcast_rpc_address", config.broadcast_rpc_address.as_deref())?
                .unwrap_or(rpc_bind);
        Ok(Addresses {
            listen,
            broadcast,
            rpc_bind,
            broadcast_rpc,
        })
    }
}

/// Parses an IP address or resolves a host name; `None` when the setting is absent or empty.
pub(crate) fn resolve_address(key: &str, value: Option<&str>) -> Result<Option<IpAddr>, NodeError> {
    let Some(text) = value.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Ok(Some(ip));
    }
    (text, 0)
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .map(|a| Some(a.ip()))
        .ok_or_else(|| NodeError::Config(format!("{key}: cannot resolve '{text}' to an address")))
}

/// Stops a node from another thread (for example an admin endpoint or a control plane).
#[derive(Debug, Clone)]
pub struct StopSignal(Arc<watch::Sender<bool>>);

impl StopSignal {
    /// Asks the node to stop; [`NodeHandle::wait`] then shuts it down and returns.
    pub fn trigger(&self) {
        self.0.send_replace(true);
    }
}

/// A running node.
pub struct NodeHandle {
    native_address: Option<SocketAddr>,
    local: LocalInfo,
    engine: Arc<QueryEngine>,
    storage: Arc<FjallEngine>,
    stop: Arc<watch::Sender<bool>>,
    workers: Vec<JoinHandle<()>>,
    /// The periodic tombstone purge (absent when disabled).
    maintenance: Option<JoinHandle<()>>,
    admin_address: Option<SocketAddr>,
    admin_thread: Option<JoinHandle<()>>,
    /// Cluster membership (absent for a node that is its own only seed).
    gossip: Option<Arc<mica_cluster::Gossiper>>,
    /// Schema pulls and driver topology events (present with gossip).
    cluster_watch: Option<JoinHandle<()>>,
    settings: Arc<crate::settings::NodeSettings>,
    /// Stops the CQL server alone (drain); set with `stop` on shutdown.
    native_stop: Arc<watch::Sender<bool>>,
    /// Replicated reads and writes (present with gossip).
    coordinator: Option<Arc<mica_coordinator::Coordinator>>,
}

impl std::fmt::Debug for NodeHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeHandle")
            .field("native_address", &self.native_address)
            .field("host_id", &self.local.host_id)
            .finish_non_exhaustive()
    }
}

impl NodeHandle {
    /// The address the CQL listener is bound to (`None` when `start_native_transport` is false).
    pub fn native_address(&self) -> Option<SocketAddr> {
        self.native_address
    }

    /// The address the admin HTTP API is bound to (`None` when `mica.admin_port` is 0).
    pub fn admin_address(&self) -> Option<SocketAddr> {
        self.admin_address
    }

    /// The node facts handed to the query engine (host id, tokens, addresses, ...).
    pub fn local_info(&self) -> &LocalInfo {
        &self.local
    }

    /// The query engine, for in-process callers such as an admin API.
    pub fn query_engine(&self) -> &Arc<QueryEngine> {
        &self.engine
    }

    /// The node's gossip view: every known node with its liveness and states (empty without gossip).
    pub fn cluster_endpoints(&self) -> Vec<mica_cluster::EndpointInfo> {
        self.gossip.as_ref().map(|g| g.endpoints()).unwrap_or_default()
    }

    /// The node's runtime settings (timeouts, throughput caps), changeable through nodetool.
    pub fn settings(&self) -> &Arc<crate::settings::NodeSettings> {
        &self.settings
    }

    /// A signal other threads can use to stop the node.
    /// Hint counters of the replication coordinator (`None` for a node without gossip).
    pub fn hint_stats(&self) -> Option<mica_coordinator::HintStats> {
        self.coordinator.as_ref().map(|c| c.hint_stats())
    }

    pub fn stop_signal(&self) -> StopSignal {
        StopSignal(self.stop.clone())
    }

    /// Blocks until SIGTERM, SIGINT or a [`StopSignal`], then shuts the node down gracefully.
    pub fn wait(self) -> Result<(), NodeError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(NodeError::io("cannot start the signal runtime"))?;
        let mut stopped = self.stop.subscribe();
        let reason = runtime.block_on(async move {
            let stop = async move {
                // An error means the sender is gone, which also means stopping.
                let _ = stopped.wait_for(|&s| s).await;
            };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => "SIGINT",
                _ = terminate() => "SIGTERM",
                _ = stop => "a stop request",
            }
        });
        tracing::info!("received {reason}; shutting down");
        self.shutdown()
    }

    /// Stops accepting connections, lets in-flight requests finish (bounded by a grace period), closes
    /// connections and flushes storage.
    pub fn shutdown(mut self) -> Result<(), NodeError> {
        self.stop_workers();
        self.storage.flush()?;
        tracing::info!("node stopped");
        Ok(())
    }

    fn stop_workers(&mut self) {
        self.stop.send_replace(true);
        self.native_stop.send_replace(true);
        // The admin thread holds the other reference; once it has stopped, announce the shutdown.
        let gossip = self.gossip.take();
        for worker in self.workers.drain(..) {
            if worker.join().is_err() {
                tracing::error!("a CQL worker thread panicked");
            }
        }
        if let Some(a) = self.admin_thread.take()
            && a.join().is_err()
        {
            tracing::error!("the admin API thread panicked");
        }
        if let Some(w) = self.cluster_watch.take()
            && w.join().is_err()
        {
            tracing::error!("the cluster watch thread panicked");
        }
        if let Some(g) = gossip {
            match Arc::try_unwrap(g) {
                Ok(g) => g.stop(),
                Err(g) => drop(g),
            }
        }
        if let Some(m) = self.maintenance.take()
            && m.join().is_err()
        {
            tracing::error!("the maintenance thread panicked");
        }
    }
}

impl Drop for NodeHandle {
    fn drop(&mut self) {
        self.stop_workers();
    }
}

#[cfg(unix)]
async fn terminate() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut term) => {
            term.recv().await;
        }
        Err(e) => {
            tracing::warn!("cannot listen for SIGTERM: {e}");
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(not(unix))]
async fn terminate() {
    std::future::pending::<()>().await;
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn config(yaml: &str) -> NodeConfig {
        NodeConfig::from_yaml_str(yaml, Path::new("/tmp")).unwrap().config
    }

    #[test]
    fn memory_settings_reach_the_storage_engine() {
        let defaults = engine_config(&config("cluster_name: x\n"), PathBuf::from("/tmp/d"));
        assert_eq!(
            defaults.memtable_bytes,
            EngineConfig::new("/tmp/d").memtable_bytes
        );
        assert_eq!(defaults.cache_bytes, EngineConfig::new("/tmp/d").cache_bytes);

        let c = config(
            "memtable_heap_space: 512MiB\nmemtable_offheap_space: 512MiB\nkey_cache_size: 100MiB\n\
             file_cache_size: 156MiB\nconcurrent_compactors: 2\n",
        );
        let e = engine_config(&c, PathBuf::from("/tmp/d"));
        assert_eq!(e.memtable_bytes, 128 << 20);
        assert_eq!(e.cache_bytes, 256 << 20);
        assert_eq!(e.worker_threads, Some(2));

        // The legacy spelling in megabytes means the same, and a tiny budget still leaves a usable memtable.
        let e = engine_config(&config("memtable_heap_space_in_mb: 4\n"), PathBuf::from("/tmp/d"));
        assert_eq!(e.memtable_bytes, MIN_TABLE_MEMTABLE);
    }

    #[test]
    fn addresses_follow_cassandra_defaults() {
        let a = Addresses::resolve(&config("cluster_name: x\n")).unwrap();
        assert_eq!(a.listen, DEFAULT_LISTEN_ADDRESS);
        assert_eq!(a.broadcast, a.listen);
        assert_eq!(a.rpc_bind, a.listen);
        assert_eq!(a.broadcast_rpc, a.listen);

        let a = Addresses::resolve(&config(
            "listen_address: 127.0.0.5\nrpc_address: 0.0.0.0\nbroadcast_rpc_address: 127.0.0.6\n",
        ))
        .unwrap();
        assert_eq!(a.listen, "127.0.0.5".parse::<IpAddr>().unwrap());
        assert_eq!(a.broadcast, a.listen);
        assert_eq!(a.rpc_bind, "0.0.0.0".parse::<IpAddr>().unwrap());
        assert_eq!(a.broadcast_rpc, "127.0.0.6".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn host_names_resolve_and_garbage_is_an_error() {
        assert_eq!(
            resolve_address("listen_address", Some("localhost"))
                .unwrap()
                .map(|ip| ip.is_loopback()),
            Some(true)
        );
        assert_eq!(resolve_address("listen_address", Some("  ")).unwrap(), None);
        assert!(resolve_address("listen_address", Some("no such host.invalid")).is_err());
    }

    #[test]
    fn commitlog_sync_is_mapped() {
        let c = config("commitlog_sync: group\ncommitlog_sync_group_window: 15ms\n");
        assert_eq!(
            engine_config(&c, "/d".into()).commitlog_sync,
            CommitLogSync::Group {
                window: std::time::Duration::from_millis(15)
            }
        );
        let c = config("commitlog_sync: batch\n");
        assert_eq!(
            engine_config(&c, "/d".into()).commitlog_sync,
            CommitLogSync::Batch
        );
        let c = config("commitlog_sync_period: 2s\n");
        assert_eq!(
            engine_config(&c, "/d".into()).commitlog_sync,
            CommitLogSync::Periodic {
                period: std::time::Duration::from_secs(2)
            }
        );
    }
}
