//! Admin API endpoints for the ring and gossip views (`describering`, `getendpoints`, `gossipinfo`), runtime
//! settings (`gettimeout`/`settimeout`, compaction and stream throughput) and `drain`; merged into the admin
//! router by [`routes`]. Wire types are in `mica-node-admin-api`'s `ops` module.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use mica_cluster::ring::{Location, ReplicationStrategy, TokenRing};
use mica_cluster::{AppState, EndpointState, NodeStatus, VersionedValue, format_tokens};
use mica_cql_types::{CqlType, from_string, to_bytes};
use mica_node_admin_api as api;
use serde::Deserialize;

use crate::admin::{AdminError, AdminState, select_tables, server_error};
use crate::snapshot::{self, SnapshotError};

/// Cassandra 4.1's `ApplicationState` names in declaration order: gossipinfo lists states in this order.
const CASSANDRA_STATE_ORDER: &[&str] = &[
    "STATUS",
    "LOAD",
    "SCHEMA",
    "DC",
    "RACK",
    "RELEASE_VERSION",
    "REMOVAL_COORDINATOR",
    "INTERNAL_IP",
    "RPC_ADDRESS",
    "X_11_PADDING",
    "SEVERITY",
    "NET_VERSION",
    "HOST_ID",
    "TOKENS",
    "RPC_READY",
    "INTERNAL_ADDRESS_AND_PORT",
    "NATIVE_ADDRESS_AND_PORT",
    "STATUS_WITH_PORT",
    "SSTABLE_VERSIONS",
];

/// Largest serialized partition key component (Cassandra's limit, a u16 length).
const MAX_KEY_COMPONENT_BYTES: usize = u16::MAX as usize;

pub(crate) fn routes() -> Router<Arc<AdminState>> {
    Router::new()
        .route(api::DESCRIBE_RING, get(describe_ring))
        .route(api::GET_ENDPOINTS, get(get_endpoints))
        .route(api::GOSSIP_INFO, get(gossip_info))
        .route(api::SETTINGS, get(settings).post(update_settings))
        .route(api::DRAIN, post(drain))
        .route(api::SNAPSHOT, post(take_snapshot))
        .route(api::LIST_SNAPSHOTS, get(list_snapshots))
        .route(api::CLEAR_SNAPSHOT, post(clear_snapshot))
        .route(api::ACTIVITY, get(activity))
}

/// The ring as this node sees it: tokens by node, node locations and (host, rpc host) addresses.
struct RingView {
    ring: TokenRing<SocketAddr>,
    locations: BTreeMap<SocketAddr, Location>,
    hosts: BTreeMap<SocketAddr, (String, String)>,
}

fn ring_view(state: &AdminState) -> Result<RingView, AdminError> {
    let mut nodes: Vec<(SocketAddr, Vec<i64>, Location, String, String)> = Vec::new();
    match &state.gossip {
        Some(gossip) => {
            for e in gossip.endpoints() {
                if e.status == NodeStatus::Left || e.tokens.is_empty() {
                    continue;
                }
                let rpc = e
                    .native_address
                    .map(|a| a.ip())
                    .or(e.rpc_address)
                    .unwrap_or(e.address.ip());
                let location = Location::new(
                    e.dc.clone().unwrap_or_default(),
                    e.rack.clone().unwrap_or_default(),
                );
                nodes.push((
                    e.address,
                    e.tokens.clone(),
                    location,
                    e.address.ip().to_string(),
                    rpc.to_string(),
                ));
            }
        }
        None => {
            let local = &state.local;
            nodes.push((
                SocketAddr::new(local.broadcast_address, local.storage_port),
                local.tokens.clone(),
                Location::new(local.data_center.clone(), local.rack.clone()),
                local.broadcast_address.to_string(),
                local.rpc_address.to_string(),
            ));
        }
    }
    let ring = TokenRing::from_nodes(nodes.iter().map(|n| (n.0, n.1.as_slice()))).map_err(server_error)?;
    Ok(RingView {
        ring,
        locations: nodes.iter().map(|n| (n.0, n.2.clone())).collect(),
        hosts: nodes.into_iter().map(|n| (n.0, (n.3, n.4))).collect(),
    })
}

/// The replication strategy of a keyspace; keyspaces replicated locally (the system ones) have no ring.
fn keyspace_strategy(state: &AdminState, keyspace: &str) -> Result<ReplicationStrategy, AdminError> {
    let schema = state.engine.schema();
    let ks = schema.keyspace(keyspace).ok_or_else(|| {
        AdminError(
            StatusCode::NOT_FOUND,
            format!("Keyspace {keyspace} does not exist"),
        )
    })?;
    crate::cluster::strategy_of(&ks.replication).ok_or_else(|| {
        AdminError(
            StatusCode::BAD_REQUEST,
            format!("There is no ring for the keyspace: {keyspace}"),
        )
    })
}

#[derive(Deserialize)]
struct KeyspaceQuery {
    keyspace: String,
}

async fn describe_ring(
    State(state): State<Arc<AdminState>>,
    Query(q): Query<KeyspaceQuery>,
) -> Result<Json<api::DescribeRing>, AdminError> {
    let strategy = keyspace_strategy(&state, &q.keyspace)?;
    let view = ring_view(&state)?;
    let ranges = view
        .ring
        .ranges()
        .map(|(start, end, _)| {
            let replicas = strategy.replicas(&view.ring, &view.locations, end);
            let mut range = api::TokenRange {
                start_token: start,
                end_token: end,
                endpoints: Vec::new(),
                rpc_endpoints: Vec::new(),
                endpoint_details: Vec::new(),
            };
            for r in replicas {
                let (host, rpc) = view.hosts.get(&r).cloned().unwrap_or_default();
                let location = view.locations.get(&r);
                range.endpoint_details.push(api::EndpointDetails {
                    host: host.clone(),
                    datacenter: location.map(|l| l.dc.clone()).unwrap_or_default(),
                    rack: location.map(|l| l.rack.clone()).unwrap_or_default(),
                });
                range.endpoints.push(host);
                range.rpc_endpoints.push(rpc);
            }
            range
        })
        .collect();
    Ok(Json(api::DescribeRing {
        schema_version: state.engine.schema().version.to_string(),
        ranges,
    }))
}

#[derive(Deserialize)]
struct EndpointsQuery {
    keyspace: String,
    table: String,
    key: String,
}

async fn get_endpoints(
    State(state): State<Arc<AdminState>>,
    Query(q): Query<EndpointsQuery>,
) -> Result<Json<Vec<String>>, AdminError> {
    let strategy = keyspace_strategy(&state, &q.keyspace)?;
    let key = {
        let schema = state.engine.schema();
        let table = schema
            .keyspace(&q.keyspace)
            .and_then(|ks| ks.tables.get(&q.table).cloned())
            .ok_or_else(|| {
                AdminError(
                    StatusCode::NOT_FOUND,
                    format!("Table {}.{} does not exist", q.keyspace, q.table),
                )
            })?;
        let types: Vec<CqlType> = table.partition_key().map(|c| c.typ.clone()).collect();
        partition_key_from_string(&types, &q.key).map_err(|e| AdminError(StatusCode::BAD_REQUEST, e))?
    };
    let token = mica_types::Token::for_key(&key).0;
    let view = ring_view(&state)?;
    Ok(Json(
        strategy
            .replicas(&view.ring, &view.locations, token)
            .iter()
            .filter_map(|r| view.hosts.get(r).map(|h| h.0.clone()))
            .collect(),
    ))
}

/// Serializes a partition key given as nodetool takes it: each component in its type's string form (as
/// Cassandra's `AbstractType.fromString`), components of a composite key separated by `:` (`\:` escapes one).
pub(crate) fn partition_key_from_string(types: &[CqlType], text: &str) -> Result<Vec<u8>, String> {
    let parts = if types.len() == 1 {
        vec![text.to_owned()]
    } else {
        split_components(text)
    };
    if parts.len() != types.len() {
        return Err(format!(
            "Invalid partition key '{text}': expected {} components separated by ':'",
            types.len()
        ));
    }
    let mut components = Vec::with_capacity(types.len());
    for (ty, part) in types.iter().zip(&parts) {
        let value = from_string(ty, part).map_err(|e| e.to_string())?;
        let bytes = to_bytes(&value, ty).map_err(|e| e.to_string())?;
        if bytes.len() > MAX_KEY_COMPONENT_BYTES {
            return Err(format!(
                "Key length of {} is longer than maximum of {MAX_KEY_COMPONENT_BYTES}",
                bytes.len()
            ));
        }
        components.push(bytes);
    }
    if let [single] = components.as_slice() {
        return Ok(single.clone());
    }
    // Cassandra's composite key form: per component a u16 length, the bytes and an end-of-component 0.
    let mut out = Vec::new();
    for c in components {
        out.extend_from_slice(&(c.len() as u16).to_be_bytes());
        out.extend_from_slice(&c);
        out.push(0);
    }
    Ok(out)
}

fn split_components(text: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&':') => {
                chars.next();
                parts.last_mut().expect("parts is never empty").push(':');
            }
            ':' => parts.push(String::new()),
            c => parts.last_mut().expect("parts is never empty").push(c),
        }
    }
    parts
}

async fn gossip_info(State(state): State<Arc<AdminState>>) -> Json<Vec<api::GossipEndpoint>> {
    let states = match &state.gossip {
        Some(gossip) => gossip.endpoint_states(),
        None => vec![lone_endpoint_state(&state)],
    };
    Json(
        states
            .into_iter()
            .map(|(address, s)| gossip_endpoint(address, &s))
            .collect(),
    )
}

/// A node without gossip still describes itself the way its gossiper would publish it at start.
fn lone_endpoint_state(state: &AdminState) -> (SocketAddr, EndpointState) {
    let local = &state.local;
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.saturating_sub(state.started.elapsed()).as_secs())
        .unwrap_or(0);
    let mut endpoint = EndpointState::new(i32::try_from(started).unwrap_or(i32::MAX));
    let values = [
        (AppState::HostId, local.host_id.to_string()),
        (AppState::Dc, local.data_center.clone()),
        (AppState::Rack, local.rack.clone()),
        (AppState::Tokens, format_tokens(&local.tokens)),
        (AppState::Schema, state.engine.schema().version.to_string()),
        (AppState::RpcAddress, local.rpc_address.to_string()),
        (AppState::ReleaseVersion, local.release_version.clone()),
        (
            AppState::NativeAddressAndPort,
            SocketAddr::new(local.rpc_address, local.native_port).to_string(),
        ),
        (AppState::Status, NodeStatus::Normal.as_str().to_owned()),
    ];
    for (version, (key, value)) in (1..).zip(values) {
        endpoint.states.insert(key, VersionedValue { value, version });
    }
    (
        SocketAddr::new(local.broadcast_address, local.storage_port),
        endpoint,
    )
}

/// Cassandra's name of a Mica application state: the variant name in SCREAMING_SNAKE_CASE.
fn cassandra_state_name(key: AppState) -> String {
    let mut name = String::new();
    for (i, c) in format!("{key:?}").chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            name.push('_');
        }
        name.push(c.to_ascii_uppercase());
    }
    name
}

fn gossip_endpoint(address: SocketAddr, s: &EndpointState) -> api::GossipEndpoint {
    let mut states: Vec<api::GossipState> = s
        .states
        .iter()
        .map(|(key, v)| api::GossipState {
            name: cassandra_state_name(*key),
            version: v.version,
            value: v.value.clone(),
        })
        .collect();
    let rank = |name: &str| {
        CASSANDRA_STATE_ORDER
            .iter()
            .position(|n| *n == name)
            .unwrap_or(CASSANDRA_STATE_ORDER.len())
    };
    states.sort_by_key(|st| rank(&st.name));
    api::GossipEndpoint {
        address: address.ip().to_string(),
        port: address.port(),
        generation: s.generation,
        heartbeat: s.heartbeat,
        states,
    }
}

async fn settings(State(state): State<Arc<AdminState>>) -> Json<api::RuntimeSettings> {
    Json(state.settings.to_api())
}

async fn update_settings(
    State(state): State<Arc<AdminState>>,
    Json(update): Json<api::SettingsUpdate>,
) -> Result<Json<api::RuntimeSettings>, AdminError> {
    state
        .settings
        .update(&update)
        .map_err(|e| AdminError(StatusCode::BAD_REQUEST, e))?;
    Ok(Json(state.settings.to_api()))
}

/// `nodetool drain`: stops the CQL listeners (closing client connections, refusing new ones) and flushes
/// every table; the node keeps running for the admin API until it is stopped.
async fn drain(State(state): State<Arc<AdminState>>) -> Result<StatusCode, AdminError> {
    tracing::info!("DRAINING: stopping native transport and flushing tables");
    state.native_stop.send_replace(true);
    let storage = state.storage.clone();
    tokio::task::spawn_blocking(move || storage.flush())
        .await
        .map_err(server_error)?
        .map_err(server_error)?;
    tracing::info!("DRAINED");
    Ok(StatusCode::NO_CONTENT)
}

impl From<SnapshotError> for AdminError {
    fn from(e: SnapshotError) -> AdminError {
        match e {
            SnapshotError::Invalid(text) => AdminError(StatusCode::BAD_REQUEST, text),
            other => server_error(other),
        }
    }
}

/// `nodetool snapshot`: copies the named keyspaces' tables (all keyspaces when none are named).
async fn take_snapshot(
    State(state): State<Arc<AdminState>>,
    Json(request): Json<api::SnapshotRequest>,
) -> Result<Json<api::SnapshotTaken>, AdminError> {
    let now_ms = mica_cql_types::now_millis();
    let tag = request.tag.clone().unwrap_or_else(|| now_ms.to_string());
    let mut tables = Vec::new();
    if request.keyspaces.is_empty() {
        tables = select_tables(&state, &api::TablesRequest::default())?;
    }
    for keyspace in &request.keyspaces {
        tables.extend(select_tables(
            &state,
            &api::TablesRequest {
                keyspace: Some(keyspace.clone()),
                tables: Vec::new(),
            },
        )?);
    }
    let storage = state.storage.clone();
    let root = state.data_dir.clone();
    let snapshot_tag = tag.clone();
    let count = tokio::task::spawn_blocking(move || {
        snapshot::take(storage.as_ref(), &root, &snapshot_tag, &tables, now_ms)
    })
    .await
    .map_err(server_error)??;
    tracing::info!("snapshot {tag}: {count} tables");
    Ok(Json(api::SnapshotTaken { tag, tables: count }))
}

async fn list_snapshots(
    State(state): State<Arc<AdminState>>,
) -> Result<Json<Vec<api::SnapshotDetails>>, AdminError> {
    let root = state.data_dir.clone();
    Ok(Json(
        tokio::task::spawn_blocking(move || snapshot::list(&root))
            .await
            .map_err(server_error)??,
    ))
}

async fn clear_snapshot(
    State(state): State<Arc<AdminState>>,
    Json(request): Json<api::ClearSnapshotRequest>,
) -> Result<StatusCode, AdminError> {
    let tag = match (request.tag, request.all) {
        (Some(tag), false) if !tag.is_empty() => Some(tag),
        (None, true) => None,
        (Some(tag), true) if tag.is_empty() => None,
        (Some(_), true) => {
            return Err(AdminError(
                StatusCode::BAD_REQUEST,
                "Specify only one of snapshot name or --all".into(),
            ));
        }
        _ => {
            return Err(AdminError(
                StatusCode::BAD_REQUEST,
                "Specify snapshot name or --all".into(),
            ));
        }
    };
    let root = state.data_dir.clone();
    tokio::task::spawn_blocking(move || snapshot::clear(&root, tag.as_deref(), &request.keyspaces))
        .await
        .map_err(server_error)??;
    Ok(StatusCode::NO_CONTENT)
}

/// Internode message kinds Cassandra reports drops for; Mica has no internode request path yet, so none are
/// dropped.
const DROPPABLE_MESSAGES: &[&str] = &[
    "COUNTER_MUTATION_REQ",
    "HINT_REQ",
    "MUTATION_REQ",
    "MUTATION_RSP",
    "PAGED_RANGE_REQ",
    "RANGE_REQ",
    "READ_REPAIR_REQ",
    "READ_REQ",
    "READ_RSP",
];

async fn activity(State(state): State<Arc<AdminState>>) -> Json<api::ActivityStats> {
    let drained = *state.native_stop.borrow() && !*state.stop.borrow();
    let native = &crate::activity::NATIVE_REQUESTS;
    Json(api::ActivityStats {
        mode: if drained { "DRAINED" } else { "NORMAL" }.to_owned(),
        pools: vec![api::PoolStats {
            name: "Native-Transport-Requests".into(),
            active: native.active(),
            pending: 0,
            completed: native.completed(),
            blocked: 0,
            all_time_blocked: 0,
        }],
        dropped: DROPPABLE_MESSAGES.iter().map(|m| ((*m).to_owned(), 0)).collect(),
        pending_compactions: 0,
        gossip_active: state.gossip.is_some(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_names_are_cassandras() {
        assert_eq!(cassandra_state_name(AppState::HostId), "HOST_ID");
        assert_eq!(
            cassandra_state_name(AppState::NativeAddressAndPort),
            "NATIVE_ADDRESS_AND_PORT"
        );
        assert_eq!(cassandra_state_name(AppState::Dc), "DC");
        assert_eq!(cassandra_state_name(AppState::ReleaseVersion), "RELEASE_VERSION");
    }

    #[test]
    fn partition_keys_from_strings() {
        let single = partition_key_from_string(&[CqlType::Int], "1").expect("int key");
        assert_eq!(single, vec![0, 0, 0, 1]);
        let text = partition_key_from_string(&[CqlType::Varchar], "a:b").expect("text key");
        assert_eq!(text, b"a:b");
        let composite =
            partition_key_from_string(&[CqlType::Varchar, CqlType::Int], "x\\:y:2").expect("composite");
        assert_eq!(composite, vec![0, 3, b'x', b':', b'y', 0, 0, 4, 0, 0, 0, 2, 0]);
        assert!(partition_key_from_string(&[CqlType::Int], "nope").is_err());
        assert!(partition_key_from_string(&[CqlType::Int, CqlType::Int], "1").is_err());
    }
}
