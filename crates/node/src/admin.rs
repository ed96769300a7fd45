//! The node admin HTTP API: node facts, status, table statistics and maintenance verbs for `mica nodetool`
//! and the control plane, served with axum on `mica.admin_address:admin_port` behind a bearer token.
//! Wire types live in `mica-node-admin-api`; this module only maps them onto the node's parts.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use axum::extract::{Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use mica_node_admin_api as api;
use mica_query::{LocalInfo, QueryEngine};
use mica_storage::{Engine, TableId};
use serde::Deserialize;
use tokio::sync::watch;

/// Bytes of randomness in a generated admin token (hex-encoded, so the file holds twice as many characters).
const TOKEN_BYTES: usize = 32;
/// Linux reports process CPU times in clock ticks of 1/100 s on every platform Mica runs on.
pub(crate) const CLOCK_TICKS_PER_SECOND: f64 = 100.0;

/// What the handlers need from the running node.
pub(crate) struct AdminState {
    pub engine: Arc<QueryEngine>,
    pub storage: Arc<dyn Engine>,
    /// Local read and write latencies per table (`nodetool tablehistograms`).
    pub table_metrics: Arc<mica_storage::metrics::TableMetrics>,
    pub local: LocalInfo,
    pub native_address: Option<SocketAddr>,
    pub data_dir: PathBuf,
    pub token: String,
    pub stop: Arc<watch::Sender<bool>>,
    pub started: Instant,
    /// The previous CPU sample (when, process ticks) so `cpu_usage` covers the time since the last call.
    pub cpu: Mutex<Option<(Instant, u64)>>,
    /// Cluster membership, when the node gossips.
    pub gossip: Option<Arc<mica_cluster::Gossiper>>,
    /// Runtime settings (`nodetool settimeout`, ...).
    pub settings: Arc<crate::settings::NodeSettings>,
    /// Stops the CQL listeners and connections without stopping the node (`nodetool drain`).
    pub native_stop: Arc<watch::Sender<bool>>,
    /// The replication coordinator, when the node gossips (`repair`, `rebuild`, `cleanup`).
    pub coordinator: Option<Arc<mica_coordinator::Coordinator>>,
    /// Decommission and removenode (present with gossip and a coordinator).
    pub movements: Option<Arc<crate::movement::Movements>>,
}

/// Reads the admin token from `path`, creating the file with a fresh random token (mode 0600) if it is missing.
pub(crate) fn load_or_create_token(path: &Path) -> std::io::Result<String> {
    match std::fs::read_to_string(path) {
        Ok(text) if !text.trim().is_empty() => return Ok(text.trim().to_owned()),
        Ok(_) => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("admin token file {} is empty", path.display()),
            ));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let token: String = (0..TOKEN_BYTES)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(token.as_bytes())?;
    file.sync_all()?;
    Ok(token)
}

/// Binds the listener now (so a taken port fails the node's start) and serves on a thread of its own.
pub(crate) fn spawn(
    bind: SocketAddr,
    state: Arc<AdminState>,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<(SocketAddr, JoinHandle<()>)> {
    let listener = std::net::TcpListener::bind(bind)?;
    listener.set_nonblocking(true)?;
    let address = listener.local_addr()?;
    let app = router(state);
    let thread = std::thread::Builder::new()
        .name("mica-admin".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!("cannot start the admin API runtime: {e}");
                    return;
                }
            };
            runtime.block_on(async move {
                let listener = match tokio::net::TcpListener::from_std(listener) {
                    Ok(l) => l,
                    Err(e) => {
                        tracing::error!("cannot serve the admin API: {e}");
                        return;
                    }
                };
                let shutdown = async move {
                    let _ = stop.wait_for(|&s| s).await;
                };
                if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(shutdown).await {
                    tracing::error!("admin API stopped: {e}");
                }
            });
        })?;
    Ok((address, thread))
}

fn router(state: Arc<AdminState>) -> Router {
    Router::new()
        .route(api::INFO, get(info))
        .route(api::STATUS, get(status))
        .route(api::DESCRIBE_CLUSTER, get(describe_cluster))
        .route(api::RING, get(ring))
        .route(api::TABLE_STATS, get(table_stats))
        .route(api::FLUSH, post(flush))
        .route(api::COMPACT, post(compact))
        .route(api::STOP_DAEMON, post(stop_daemon))
        .merge(crate::admin_ops::routes())
        .merge(crate::admin_repair::routes())
        .merge(crate::admin_dc::routes())
        .merge(crate::admin_topology::routes())
        .merge(crate::admin_histograms::routes())
        .merge(crate::admin_keyspaces::routes())
        .fallback(|| async { problem(StatusCode::NOT_FOUND, "no such admin endpoint") })
        .layer(middleware::from_fn_with_state(state.clone(), authenticate))
        // Merged after the token check: Prometheus scrapes without a token (see admin_metrics).
        .merge(crate::admin_metrics::routes())
        .with_state(state)
}

/// A failed request, answered as an RFC 9457 problem document.
pub(crate) struct AdminError(pub(crate) StatusCode, pub(crate) String);

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        problem(self.0, &self.1)
    }
}

fn problem(status: StatusCode, detail: &str) -> Response {
    let body = api::Problem {
        title: status.canonical_reason().unwrap_or("error").to_owned(),
        status: status.as_u16(),
        detail: detail.to_owned(),
    };
    (
        status,
        [(header::CONTENT_TYPE, "application/problem+json")],
        Json(body),
    )
        .into_response()
}

pub(crate) fn server_error(e: impl std::fmt::Display) -> AdminError {
    AdminError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

async fn authenticate(State(state): State<Arc<AdminState>>, request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match presented {
        Some(token) if constant_time_eq(token.as_bytes(), state.token.as_bytes()) => next.run(request).await,
        _ => problem(
            StatusCode::UNAUTHORIZED,
            "missing or wrong admin token: send 'Authorization: Bearer <token>' with the token from the node's \
             admin token file (mica.admin_token_file, by default admin.token in its data directory)",
        ),
    }
}

/// Compares without an early exit so response timing does not reveal how much of a guess was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn info(State(state): State<Arc<AdminState>>) -> Result<Json<api::NodeInfo>, AdminError> {
    let local = &state.local;
    let load = load_bytes(state.storage.as_ref())?;
    let used = state.storage.disk_usage_bytes().map_err(server_error)?;
    let free = fs4::available_space(&state.data_dir).unwrap_or(0);
    let (memory_used_kb, memory_total_kb) = memory_kb();
    Ok(Json(api::NodeInfo {
        host_id: local.host_id,
        cluster_name: local.cluster_name.clone(),
        release_version: local.release_version.clone(),
        data_center: local.data_center.clone(),
        rack: local.rack.clone(),
        listen_address: local.listen_address.to_string(),
        native_address: state.native_address.map(|a| a.to_string()),
        native_transport_active: state.native_address.is_some()
            && !*state.stop.borrow()
            && !*state.native_stop.borrow(),
        gossip_active: state.gossip.is_some(),
        tokens: local.tokens.clone(),
        uptime_seconds: state.started.elapsed().as_secs(),
        load_bytes: load,
        disk_used_kb: used / 1024,
        disk_free_kb: free / 1024,
        memory_used_kb,
        memory_total_kb,
        cpu_usage: cpu_usage(&state),
    }))
}

#[derive(Deserialize)]
struct StatusQuery {
    keyspace: Option<String>,
}

async fn status(
    State(state): State<Arc<AdminState>>,
    Query(q): Query<StatusQuery>,
) -> Result<Json<api::ClusterStatus>, AdminError> {
    let local = &state.local;
    let load = load_bytes(state.storage.as_ref())?;
    let (strategy, effective) = ownership_strategy(&state, q.keyspace.as_deref())?;
    if let Some(gossip) = &state.gossip {
        return Ok(Json(api::ClusterStatus {
            nodes: crate::cluster::status_lines(gossip, load, strategy.as_ref()),
            effective_ownership: effective,
        }));
    }
    // A lone node owns the whole ring, whatever the replication.
    Ok(Json(api::ClusterStatus {
        nodes: vec![api::PeerStatus {
            address: local.broadcast_address.to_string(),
            data_center: local.data_center.clone(),
            rack: local.rack.clone(),
            state: api::NodeState::Normal,
            status: api::NodeLiveness::Up,
            load_bytes: load,
            tokens: local.tokens.len(),
            owns: Some(100.0),
            host_id: local.host_id,
        }],
        effective_ownership: effective,
    }))
}

/// System keyspaces that replicate like user keyspaces; `nodetool status` leaves them out, as Cassandra does.
const REPLICATED_SYSTEM_KEYSPACES: &[&str] = &["system_auth", "system_distributed", "system_traces"];

/// How `nodetool status` computes ownership, as Cassandra does: effective for the named keyspace, or for the one
/// replication setting every non-system keyspace shares (primary ranges, which is RF 1, when there are none);
/// otherwise primary ownership, flagged as not effective.
fn ownership_strategy(
    state: &AdminState,
    keyspace: Option<&str>,
) -> Result<(Option<mica_cluster::ring::ReplicationStrategy>, bool), AdminError> {
    let schema = state.engine.schema();
    if let Some(name) = keyspace {
        let ks = schema
            .keyspace(name)
            .ok_or_else(|| AdminError(StatusCode::NOT_FOUND, format!("Keyspace {name} does not exist")))?;
        return Ok((crate::cluster::strategy_of(&ks.replication), true));
    }
    let settings: Vec<_> = schema
        .keyspaces
        .values()
        .filter(|ks| {
            !mica_schema::is_system_keyspace(&ks.name)
                && !REPLICATED_SYSTEM_KEYSPACES.contains(&ks.name.as_str())
        })
        .map(|ks| &ks.replication)
        .collect();
    match settings.first() {
        None => Ok((None, true)),
        Some(first) if settings.iter().all(|r| r == first) => Ok((crate::cluster::strategy_of(first), true)),
        Some(_) => Ok((None, false)),
    }
}

async fn describe_cluster(State(state): State<Arc<AdminState>>) -> Json<api::DescribeCluster> {
    let schema_versions = match &state.gossip {
        Some(gossip) => crate::cluster::schema_versions(gossip),
        None => vec![(
            state.engine.schema().version.to_string(),
            vec![state.local.broadcast_address.to_string()],
        )],
    };
    Json(api::DescribeCluster {
        name: state.local.cluster_name.clone(),
        snitch: "org.apache.cassandra.locator.GossipingPropertyFileSnitch".into(),
        partitioner: "org.apache.cassandra.dht.Murmur3Partitioner".into(),
        schema_versions,
    })
}

async fn ring(State(state): State<Arc<AdminState>>) -> Result<Json<Vec<api::RingToken>>, AdminError> {
    let load = load_bytes(state.storage.as_ref())?;
    if let Some(gossip) = &state.gossip {
        return Ok(Json(crate::cluster::ring_tokens(gossip, load)));
    }
    let local = &state.local;
    let mut tokens: Vec<api::RingToken> = local
        .tokens
        .iter()
        .map(|&token| api::RingToken {
            token,
            address: local.broadcast_address.to_string(),
            data_center: local.data_center.clone(),
            rack: local.rack.clone(),
            state: api::NodeState::Normal,
            status: api::NodeLiveness::Up,
            load_bytes: load,
            owns: Some(100.0),
        })
        .collect();
    tokens.sort_by_key(|t| t.token);
    Ok(Json(tokens))
}

#[derive(Deserialize)]
struct StatsQuery {
    keyspace: Option<String>,
    table: Option<String>,
}

async fn table_stats(
    State(state): State<Arc<AdminState>>,
    Query(q): Query<StatsQuery>,
) -> Result<Json<Vec<api::TableStats>>, AdminError> {
    let request = api::TablesRequest {
        keyspace: q.keyspace,
        tables: q.table.into_iter().collect(),
    };
    let mut out = Vec::new();
    for (keyspace, table, id) in select_tables(&state, &request)? {
        out.push(api::TableStats {
            keyspace,
            table,
            space_used_bytes: state.storage.table_size_bytes(id).map_err(server_error)?,
        });
    }
    Ok(Json(out))
}

async fn flush(
    State(state): State<Arc<AdminState>>,
    body: Option<Json<api::TablesRequest>>,
) -> Result<StatusCode, AdminError> {
    // Validate the names even though the engine flushes its one journal and all memtables together.
    select_tables(&state, &body.map(|b| b.0).unwrap_or_default())?;
    let storage = state.storage.clone();
    tokio::task::spawn_blocking(move || storage.flush())
        .await
        .map_err(server_error)?
        .map_err(server_error)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn compact(
    State(state): State<Arc<AdminState>>,
    body: Option<Json<api::TablesRequest>>,
) -> Result<StatusCode, AdminError> {
    let tables = select_tables(&state, &body.map(|b| b.0).unwrap_or_default())?;
    let storage = state.storage.clone();
    tokio::task::spawn_blocking(move || {
        let now = mica_types::now_seconds();
        tables
            .into_iter()
            .try_for_each(|(_, _, id)| storage.major_compact(id, now))
    })
    .await
    .map_err(server_error)?
    .map_err(server_error)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn stop_daemon(State(state): State<Arc<AdminState>>) -> StatusCode {
    tracing::info!("stop requested through the admin API");
    state.stop.send_replace(true);
    StatusCode::ACCEPTED
}

/// The stored tables a request names, as (keyspace, table, storage id); unknown names are a 404.
pub(crate) fn select_tables(
    state: &AdminState,
    request: &api::TablesRequest,
) -> Result<Vec<(String, String, TableId)>, AdminError> {
    let schema = state.engine.schema();
    let keyspaces: Vec<_> =
        match &request.keyspace {
            Some(name) => vec![schema.keyspace(name).ok_or_else(|| {
                AdminError(StatusCode::NOT_FOUND, format!("Keyspace {name} does not exist"))
            })?],
            None if request.tables.is_empty() => schema.keyspaces.values().collect(),
            None => {
                return Err(AdminError(
                    StatusCode::BAD_REQUEST,
                    "tables need a keyspace".into(),
                ));
            }
        };
    let mut out = Vec::new();
    for ks in keyspaces {
        for name in &request.tables {
            if !ks.tables.contains_key(name) {
                return Err(AdminError(
                    StatusCode::NOT_FOUND,
                    format!("Table {}.{name} does not exist", ks.name),
                ));
            }
        }
        for t in ks.tables.values() {
            if !t.is_virtual && (request.tables.is_empty() || request.tables.contains(&t.name)) {
                out.push((ks.name.clone(), t.name.clone(), TableId(t.id)));
            }
        }
    }
    Ok(out)
}

/// Cassandra's "Load": bytes of table data on disk (the journal and engine metadata are not counted).
pub(crate) fn load_bytes(storage: &dyn Engine) -> Result<u64, AdminError> {
    let tables = storage.list_tables().map_err(server_error)?;
    tables.into_iter().try_fold(0u64, |sum, t| {
        Ok(sum + storage.table_size_bytes(t).map_err(server_error)?)
    })
}

/// Resident memory of this process and total memory of the machine, from /proc (zeros elsewhere).
pub(crate) fn memory_kb() -> (u64, u64) {
    let field = |file: &str, key: &str| {
        std::fs::read_to_string(file).ok().and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        })
    };
    (
        field("/proc/self/status", "VmRSS:").unwrap_or(0),
        field("/proc/meminfo", "MemTotal:").unwrap_or(0),
    )
}

/// Process CPU time (user + system) in clock ticks, from /proc/self/stat.
pub(crate) fn cpu_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th fields overall.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

fn cpu_usage(state: &AdminState) -> f64 {
    let (Some(ticks), Ok(mut last)) = (cpu_ticks(), state.cpu.lock()) else {
        return 0.0;
    };
    let now = Instant::now();
    let (since, before) = last.replace((now, ticks)).unwrap_or((state.started, 0));
    let elapsed = now.duration_since(since).as_secs_f64();
    if elapsed <= 0.0 {
        return 0.0;
    }
    (ticks.saturating_sub(before) as f64 / CLOCK_TICKS_PER_SECOND) / elapsed * 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_file_is_created_once_and_reused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("admin.token");
        let token = load_or_create_token(&path).expect("create");
        assert_eq!(token.len(), TOKEN_BYTES * 2);
        assert_eq!(load_or_create_token(&path).expect("reuse"), token);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).expect("metadata").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "\n").expect("write");
        assert!(
            load_or_create_token(&path).is_err(),
            "an empty token file is refused"
        );
    }

    #[test]
    fn token_comparison() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }

    #[test]
    fn proc_readings_are_sane() {
        let (used, total) = memory_kb();
        assert!(used > 0 && total > used, "{used} of {total}");
        assert!(cpu_ticks().is_some());
    }
}
