//! Joins the node to its cluster's gossip: starts the gossiper unless the seed list is Cassandra's
//! default on a node listening elsewhere, publishes the node's application states, and turns the live view into system.peers
//! rows and `nodetool status` lines.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Weak};

use mica_cluster::ring::{Location, ReplicationStrategy, TokenRing};
use mica_cluster::{
    AppState, EndpointInfo, GossipConfig, GossipError, GossipTls, Gossiper, NodeStatus, format_tokens,
};
use mica_config::{NodeConfig, TlsMode};
use mica_node_admin_api as api;
use mica_query::{LocalInfo, PeerInfo, QueryEngine};

use crate::node::NodeError;

/// The gossip address of each seed (`host` or `host:port`; the port defaults to storage_port).
pub(crate) fn seed_addresses(config: &NodeConfig) -> Result<Vec<SocketAddr>, NodeError> {
    config
        .seeds()
        .iter()
        .map(|seed| {
            let seed = seed.trim();
            let with_port = if seed.parse::<IpAddr>().is_ok() || !seed.contains(':') {
                format!("{seed}:{}", config.storage_port)
            } else {
                seed.to_owned()
            };
            with_port
                .to_socket_addrs()
                .ok()
                .and_then(|mut a| a.next())
                .ok_or_else(|| NodeError::Config(format!("seed_provider: cannot resolve seed '{seed}'")))
        })
        .collect()
}

/// Starts gossip unless this node is its own only seed (a single-node cluster needs none), and
/// installs the gossip view as the source of system.peers.
pub(crate) fn start(
    config: &NodeConfig,
    local: &LocalInfo,
    listen: IpAddr,
    engine: &Arc<QueryEngine>,
    status: NodeStatus,
) -> Result<Option<Arc<Gossiper>>, NodeError> {
    let me = SocketAddr::new(local.broadcast_address, config.storage_port);
    let seeds = seed_addresses(config)?;
    let default_seed = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), config.storage_port);
    // Cassandra's default seed list on a node listening elsewhere means "no cluster configured":
    // gossiping with whatever answers on 127.0.0.1 could merge unrelated local nodes.
    if seeds == [default_seed] && me != default_seed {
        return Ok(None);
    }
    let others = seeds.iter().any(|s| *s != me);
    let mut gossip = GossipConfig::new(config.cluster_name.clone(), me, seeds);
    gossip.listen = SocketAddr::new(listen, config.storage_port);
    gossip.phi_convict_threshold = config.phi_convict_threshold;
    if config.server_encryption_options.internode_tls_mode() != TlsMode::Disabled {
        gossip.tls = Some(
            GossipTls::from_options(&config.server_encryption_options)
                .map_err(|e| NodeError::Config(e.to_string()))?,
        );
    }
    gossip.states = vec![
        (AppState::HostId, local.host_id.to_string()),
        (AppState::Dc, local.data_center.clone()),
        (AppState::Rack, local.rack.clone()),
        (AppState::Tokens, format_tokens(&local.tokens)),
        (AppState::Schema, engine.schema().version.to_string()),
        (AppState::RpcAddress, local.rpc_address.to_string()),
        (AppState::ReleaseVersion, local.release_version.clone()),
        (
            AppState::NativeAddressAndPort,
            SocketAddr::new(local.rpc_address, local.native_port).to_string(),
        ),
        (AppState::Status, status.as_str().to_owned()),
    ];
    let gossiper = match Gossiper::start(gossip) {
        Ok(g) => Arc::new(g),
        // A node that is its own only seed works alone without gossip (several development nodes
        // on one host share the default storage port).
        Err(e @ GossipError::Bind { .. }) if !others => {
            tracing::warn!("{e}; running as a single node without gossip");
            return Ok(None);
        }
        Err(e) => return Err(NodeError::Config(e.to_string())),
    };

    // Weak references: the engine must not keep the gossiper alive past the node's shutdown.
    let weak: Weak<Gossiper> = Arc::downgrade(&gossiper);
    let schema_engine = Arc::downgrade(engine);
    engine.on_schema_change(Box::new(move |_| {
        if let (Some(g), Some(e)) = (weak.upgrade(), schema_engine.upgrade()) {
            g.set_state(AppState::Schema, e.schema().version.to_string());
        }
    }));
    let weak: Weak<Gossiper> = Arc::downgrade(&gossiper);
    engine.set_peer_source(Arc::new(move || {
        weak.upgrade()
            .map(|g| g.endpoints().iter().filter_map(peer_info).collect())
            .unwrap_or_default()
    }));
    Ok(Some(gossiper))
}

/// A remote endpoint as a system.peers row; endpoints that have left or not yet published their
/// host id are not listed, as in Cassandra.
fn peer_info(e: &EndpointInfo) -> Option<PeerInfo> {
    if e.is_local || e.status == NodeStatus::Left {
        return None;
    }
    let native = e.native_address;
    Some(PeerInfo {
        peer: e.address.ip(),
        peer_port: e.address.port(),
        data_center: e.dc.clone().unwrap_or_default(),
        rack: e.rack.clone().unwrap_or_default(),
        host_id: e.host_id?.0,
        release_version: e.release_version.clone().unwrap_or_default(),
        rpc_address: native.map(|a| a.ip()).or(e.rpc_address).unwrap_or(e.address.ip()),
        native_port: native.map_or(9042, |a| a.port()),
        schema_version: e.schema_version,
        tokens: e.tokens.clone(),
    })
}

/// `nodetool status` lines for every node gossip knows (load is only known for the local node).
///
/// With a replication strategy the ownership is effective (each range counted for every replica), otherwise
/// the primary range share.
pub(crate) fn status_lines(
    gossiper: &Gossiper,
    local_load: u64,
    strategy: Option<&ReplicationStrategy>,
) -> Vec<api::PeerStatus> {
    let endpoints = gossiper.endpoints();
    // Nodes that left own nothing any more.
    let ring = TokenRing::from_nodes(
        endpoints
            .iter()
            .filter(|e| e.status != NodeStatus::Left)
            .map(|e| (e.address, e.tokens.as_slice())),
    );
    let locations: BTreeMap<SocketAddr, Location> = endpoints
        .iter()
        .filter_map(|e| Some((e.address, Location::new(e.dc.clone()?, e.rack.clone()?))))
        .collect();
    let owns: BTreeMap<SocketAddr, f64> = match (ring, strategy) {
        (Ok(ring), Some(strategy)) => strategy.effective_ownership(&ring, &locations),
        (Ok(ring), None) => ring.ownership(),
        (Err(_), _) => BTreeMap::new(),
    };
    endpoints
        .iter()
        .filter(|e| e.status != NodeStatus::Left)
        // A new node learning the ring before choosing tokens publishes no status and owns nothing yet.
        .filter(|e| e.status != NodeStatus::Unknown || !e.tokens.is_empty())
        .filter_map(|e| {
            Some(api::PeerStatus {
                address: e.address.ip().to_string(),
                data_center: e.dc.clone().unwrap_or_default(),
                rack: e.rack.clone().unwrap_or_default(),
                state: match e.status {
                    NodeStatus::Joining => api::NodeState::Joining,
                    NodeStatus::Leaving => api::NodeState::Leaving,
                    NodeStatus::Shutdown => api::NodeState::Stopped,
                    _ => api::NodeState::Normal,
                },
                status: if e.alive {
                    api::NodeLiveness::Up
                } else {
                    api::NodeLiveness::Down
                },
                load_bytes: if e.is_local { local_load } else { 0 },
                tokens: e.tokens.len(),
                owns: owns.get(&e.address).map(|o| o * 100.0),
                host_id: e.host_id?.0,
            })
        })
        .collect()
}

/// `nodetool describecluster`'s schema versions: version → live nodes on it, plus `UNREACHABLE` for the dead ones.
pub(crate) fn schema_versions(gossiper: &Gossiper) -> Vec<(String, Vec<String>)> {
    let mut versions: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for e in gossiper
        .endpoints()
        .iter()
        .filter(|e| e.status != NodeStatus::Left)
    {
        let key = match (e.alive, e.schema_version) {
            (true, Some(v)) => v.to_string(),
            _ => UNREACHABLE.to_owned(),
        };
        versions.entry(key).or_default().push(e.address.ip().to_string());
    }
    versions.into_iter().collect()
}

/// What Cassandra prints for nodes whose schema version cannot be asked.
const UNREACHABLE: &str = "UNREACHABLE";

/// `nodetool ring`: every token with its node, in token order.
pub(crate) fn ring_tokens(gossiper: &Gossiper, local_load: u64) -> Vec<api::RingToken> {
    let lines = status_lines(gossiper, local_load, None);
    let endpoints = gossiper.endpoints();
    let mut tokens = Vec::new();
    for line in lines {
        let Some(e) = endpoints
            .iter()
            .find(|e| e.host_id.map(|h| h.0) == Some(line.host_id))
        else {
            continue;
        };
        tokens.extend(e.tokens.iter().map(|&token| api::RingToken {
            token,
            address: line.address.clone(),
            data_center: line.data_center.clone(),
            rack: line.rack.clone(),
            state: line.state,
            status: line.status,
            load_bytes: line.load_bytes,
            owns: line.owns,
        }));
    }
    tokens.sort_by_key(|t| t.token);
    tokens
}

/// The replication strategy of a keyspace's `replication` map; `None` for local or unknown strategies.
pub(crate) fn strategy_of(replication: &mica_schema::Replication) -> Option<ReplicationStrategy> {
    let class = replication.class.rsplit('.').next().unwrap_or_default();
    match class {
        "SimpleStrategy" => Some(ReplicationStrategy::Simple {
            replication_factor: replication.options.get("replication_factor")?.parse().ok()?,
        }),
        "NetworkTopologyStrategy" => Some(ReplicationStrategy::NetworkTopology {
            datacenters: replication
                .options
                .iter()
                .filter(|(dc, _)| dc.as_str() != "replication_factor")
                .filter_map(|(dc, rf)| Some((dc.clone(), rf.parse().ok()?)))
                .collect(),
        }),
        _ => None,
    }
}
