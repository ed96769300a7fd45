//! Token allocation on a node's first start: before the node announces itself NORMAL it gossips
//! briefly (publishing no status, so nobody counts it as a member yet) to learn the ring from its
//! seeds, then takes balanced tokens with `mica_cluster::ring::allocate_tokens` instead of random
//! ones, as Cassandra's `allocate_tokens_for_local_replication_factor` does.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use mica_cluster::ring::{TokenRing, allocate_tokens, refine_for_replication};
use mica_cluster::{AppState, EndpointInfo, GossipConfig, GossipTls, Gossiper};
use mica_config::{NodeConfig, TlsMode};
use uuid::Uuid;

/// The longest a first start waits to learn the ring.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// The ring counts as learned once the known nodes and their tokens stayed the same this long.
const PROBE_STABLE: Duration = Duration::from_millis(1500);
/// The replication factor token allocation balances for when cassandra.yaml names none.
const DEFAULT_ALLOCATION_RF: u32 = 3;
/// How often the probe looks at what gossip learned.
const PROBE_POLL: Duration = Duration::from_millis(100);

/// Balanced tokens for a new node in datacenter `dc`, from the ring its seeds gossip; `None` when
/// the node is its own only seed, no ring could be learned in time, or the probe could not start
/// (the caller then falls back to random tokens).
pub(crate) fn allocate(
    config: &NodeConfig,
    broadcast: IpAddr,
    listen: IpAddr,
    dc: &str,
    host_id: Uuid,
) -> Option<Vec<i64>> {
    if config.num_tokens == 0 {
        return None;
    }
    let me = SocketAddr::new(broadcast, config.storage_port);
    let probe = start(config, broadcast, listen, dc, Some(host_id))?;
    let view = settle(&probe);
    // Stop without an announcement: the real gossiper takes over the port and the endpoint.
    probe.kill();
    let endpoints: Vec<&EndpointInfo> = view
        .iter()
        .filter(|e| !e.is_local && !e.tokens.is_empty() && e.status != mica_cluster::NodeStatus::Left)
        .collect();
    if endpoints.is_empty() {
        tracing::info!("no ring learned from the seeds; choosing random tokens");
        return None;
    }
    let taken: BTreeSet<i64> = endpoints.iter().flat_map(|e| e.tokens.iter().copied()).collect();
    let local_dc = endpoints
        .iter()
        .filter(|e| e.dc.as_deref() == Some(dc))
        .map(|e| (e.address, e.tokens.as_slice()));
    // Cassandra 4.1's cassandra.yaml asks for balance at three replicas per datacenter.
    let rf = config
        .allocate_tokens_for_local_replication_factor
        .unwrap_or(DEFAULT_ALLOCATION_RF) as usize;
    // A new datacenter (no node of it in the ring yet): its first node takes evenly spaced tokens at a phase
    // drawn from its host id, as a cluster's first nodes do, so first nodes of one datacenter starting
    // together never pick the same tokens.
    let ring = match TokenRing::from_nodes(local_dc) {
        Ok(ring) if !ring.is_empty() => ring,
        _ => {
            tracing::info!("first node of datacenter {dc} in the ring; choosing random tokens");
            return None;
        }
    };
    let primary = allocate_tokens(&ring, config.num_tokens as usize, &taken);
    let tokens = refine_for_replication(&ring, &me, primary, rf, &taken);
    tracing::info!(
        "allocated {} tokens balanced against {} known nodes",
        tokens.len(),
        endpoints.len()
    );
    Some(tokens)
}

/// Starts a probe gossiper that publishes no status (so nobody counts it as a member) to learn the
/// ring from the seeds; `None` when the node is its own only seed, no cluster is configured or the
/// probe cannot start. The caller stops it with `kill` before the real gossiper starts. Without a host
/// id the probe never appears in the peers' `system.peers`.
pub(crate) fn start(
    config: &NodeConfig,
    broadcast: IpAddr,
    listen: IpAddr,
    dc: &str,
    host_id: Option<Uuid>,
) -> Option<Gossiper> {
    let me = SocketAddr::new(broadcast, config.storage_port);
    let seeds = crate::cluster::seed_addresses(config).ok()?;
    // As in `cluster::start`: Cassandra's default seed on a node listening elsewhere means no
    // cluster is configured, so there is no ring to learn.
    let default_seed = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), config.storage_port);
    let unconfigured = seeds == [default_seed] && me != default_seed;
    if unconfigured || seeds.iter().all(|s| *s == me) {
        return None;
    }
    let mut gossip = GossipConfig::new(config.cluster_name.clone(), me, seeds);
    gossip.listen = SocketAddr::new(listen, config.storage_port);
    // One second older than the real gossiper's generation, so peers replace this probe's state
    // with the node's real one as a restart.
    gossip.generation = gossip.generation.saturating_sub(1);
    if config.server_encryption_options.internode_tls_mode() != TlsMode::Disabled {
        gossip.tls = Some(GossipTls::from_options(&config.server_encryption_options).ok()?);
    }
    gossip.states = vec![(AppState::Dc, dc.to_owned())];
    if let Some(host_id) = host_id {
        gossip.states.push((AppState::HostId, host_id.to_string()));
    }
    match Gossiper::start(gossip) {
        Ok(g) => Some(g),
        Err(e) => {
            tracing::warn!("cannot learn the ring from the seeds: {e}");
            None
        }
    }
}

/// Waits until the known nodes and their tokens stop changing (or the timeout passes).
pub(crate) fn settle(probe: &Gossiper) -> Vec<EndpointInfo> {
    let start = Instant::now();
    let mut last: Vec<(SocketAddr, Vec<i64>)> = Vec::new();
    let mut stable_since = Instant::now();
    loop {
        let view = probe.endpoints();
        let now: Vec<(SocketAddr, Vec<i64>)> = view
            .iter()
            .filter(|e| !e.is_local)
            .map(|e| (e.address, e.tokens.clone()))
            .collect();
        if now != last {
            last = now;
            stable_since = Instant::now();
        }
        let known = last.iter().any(|(_, t)| !t.is_empty());
        if (known && stable_since.elapsed() >= PROBE_STABLE) || start.elapsed() >= PROBE_TIMEOUT {
            return view;
        }
        std::thread::sleep(PROBE_POLL);
    }
}
