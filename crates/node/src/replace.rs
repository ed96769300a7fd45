//! Replacing a dead node (Cassandra's `replace_address_first_boot`): on its first start a new node learns
//! the ring, checks that the address names a known node that is down, takes over that node's tokens instead
//! of choosing new ones and bootstraps with them (gossiping `BOOT_REPLACE,<address>`, so the other nodes
//! treat it as the pending replica of the dead node's ranges and send it their writes). Once it has streamed
//! every range and turned NORMAL it marks the dead node removed, so every node drops it from the ring,
//! `system.peers` and `nodetool status`.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use mica_cluster::{EndpointInfo, Gossiper, NodeStatus};
use mica_config::NodeConfig;
use mica_storage::Engine;
use uuid::Uuid;

use crate::node::NodeError;

/// The environment variable naming the node to replace (Cassandra: `-Dcassandra.replace_address_first_boot`).
pub(crate) const REPLACE_ENV: &str = "MICA_REPLACE_ADDRESS_FIRST_BOOT";
/// Node-local metadata key holding `<address>,<host id>` of the node being replaced until it is marked removed.
const REPLACING_KEY: &[u8] = b"node/replacing";
/// How long the replacing node watches the dead node's heartbeat: a node whose heartbeat advances is alive.
const LIVENESS_WINDOW: Duration = Duration::from_secs(4);
/// How long the end of a replacement waits for gossip to know the replaced node before marking it removed.
const FORGET_WAIT: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(100);

/// The node this node takes the place of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Replacement {
    pub address: SocketAddr,
    pub host_id: Option<Uuid>,
    pub tokens: Vec<i64>,
}

impl Replacement {
    /// The tokens as `initial_token` texts, which a first start takes as its own.
    pub(crate) fn token_texts(&self) -> Vec<String> {
        self.tokens.iter().map(i64::to_string).collect()
    }

    /// The STATUS value gossiped while replacing (Cassandra's `BOOT_REPLACE,<address>`).
    pub(crate) fn status(&self) -> String {
        format!("BOOT_REPLACE,{}", self.address.ip())
    }
}

/// The address to replace, from `MICA_REPLACE_ADDRESS_FIRST_BOOT` or `mica.replace_address_first_boot`.
fn configured_address(config: &NodeConfig) -> Result<Option<IpAddr>, NodeError> {
    let text = std::env::var(REPLACE_ENV)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| config.mica.replace_address_first_boot.clone());
    let text = text.trim().trim_start_matches('/');
    if text.is_empty() {
        return Ok(None);
    }
    let resolved = crate::node::resolve_address("replace_address_first_boot", Some(text))?;
    Ok(resolved)
}

/// On a first start with `replace_address_first_boot` set, learns the ring and returns the node to replace
/// (refusing, with Cassandra's messages, an unknown or live one); `None` when there is nothing to replace.
pub(crate) fn prepare(
    config: &NodeConfig,
    broadcast: IpAddr,
    listen: IpAddr,
    dc: &str,
    first_start: bool,
    storage: &dyn Engine,
) -> Result<Option<Replacement>, NodeError> {
    let Some(ip) = configured_address(config)? else {
        return Ok(None);
    };
    if !first_start {
        tracing::info!("replace_address_first_boot={ip} ignored: this node has already joined the ring");
        return Ok(None);
    }
    let refuse = |m: String| NodeError::Bootstrap(m);
    if !config.auto_bootstrap {
        return Err(refuse(
            "Trying to replace_address with auto_bootstrap disabled will not work, check your configuration"
                .into(),
        ));
    }
    tracing::info!("Gathering node replacement information for /{ip}");
    // Without a host id: a refused replacement must not leave a row in the peers' system.peers.
    let probe = crate::ring_probe::start(config, broadcast, listen, dc, None).ok_or_else(|| {
        refuse(format!(
            "Cannot replace_address /{ip} because it doesn't exist in gossip"
        ))
    })?;
    let outcome = inspect(&probe, ip);
    probe.kill();
    let replacement = outcome?;
    if usize::try_from(config.num_tokens).ok() != Some(replacement.tokens.len()) {
        return Err(refuse(format!(
            "Cannot replace /{ip}: it owns {} tokens but num_tokens is {}",
            replacement.tokens.len(),
            config.num_tokens
        )));
    }
    let record = format!(
        "{},{}",
        replacement.address,
        replacement.host_id.map(|h| h.to_string()).unwrap_or_default()
    );
    storage.put_meta(REPLACING_KEY, record.as_bytes())?;
    tracing::info!(
        "Replacing /{ip} (host id {}): taking over its {} tokens",
        record.split(',').nth(1).unwrap_or_default(),
        replacement.tokens.len()
    );
    Ok(Some(replacement))
}

/// Finds the node to replace in what the probe learned and checks that it is down: its heartbeat must not
/// advance while the probe watches (Cassandra checks the endpoint's last update the same way).
fn inspect(probe: &Gossiper, ip: IpAddr) -> Result<Replacement, NodeError> {
    let refuse = |m: String| NodeError::Bootstrap(m);
    let find = |view: &[EndpointInfo]| {
        view.iter()
            .find(|e| !e.is_local && e.address.ip() == ip && e.status != NodeStatus::Left)
            .cloned()
    };
    let view = crate::ring_probe::settle(probe);
    let target = find(&view).filter(|e| !e.tokens.is_empty()).ok_or_else(|| {
        refuse(format!(
            "Cannot replace_address /{ip} because it doesn't exist in gossip"
        ))
    })?;
    let started = Instant::now();
    while started.elapsed() < LIVENESS_WINDOW {
        std::thread::sleep(POLL);
        let now = find(&probe.endpoints());
        let advanced =
            now.is_some_and(|e| (e.generation, e.heartbeat) != (target.generation, target.heartbeat));
        if advanced {
            return Err(refuse(format!(
                "Cannot replace a live node /{ip}. Endpoint is still alive"
            )));
        }
    }
    Ok(Replacement {
        address: target.address,
        host_id: target.host_id.map(|h| h.0),
        tokens: target.tokens,
    })
}

/// Whether this node is replacing another (from its first start until it has marked that node removed).
pub(crate) fn in_progress(storage: &dyn Engine) -> Result<bool, NodeError> {
    Ok(storage.get_meta(REPLACING_KEY)?.is_some())
}

/// Once this node is NORMAL with the replaced node's tokens, marks that node removed cluster-wide (as
/// removenode does), so every node drops it; a no-op when no replacement is recorded.
pub(crate) fn finish(gossiper: &Gossiper, storage: &dyn Engine) -> Result<(), NodeError> {
    let Some(record) = storage.get_meta(REPLACING_KEY)? else {
        return Ok(());
    };
    let record = String::from_utf8_lossy(&record).into_owned();
    let (address, host_id) = record.split_once(',').unwrap_or((record.as_str(), ""));
    let Ok(address) = address.parse::<SocketAddr>() else {
        tracing::warn!("ignoring an unreadable replacement record '{record}'");
        storage.delete_meta(REPLACING_KEY)?;
        return Ok(());
    };
    let started = Instant::now();
    loop {
        if gossiper.set_remote_status(address, format!("removed,{host_id}")) {
            tracing::info!(
                "Node /{} is replaced by this node; marked it removed",
                address.ip()
            );
            break;
        }
        if started.elapsed() >= FORGET_WAIT {
            tracing::warn!("gossip does not know the replaced node {address}; not marking it removed");
            break;
        }
        std::thread::sleep(POLL);
    }
    storage.delete_meta(REPLACING_KEY)?;
    Ok(())
}

/// The down nodes whose tokens a live node has taken over (the replaced ones): they leave the ring once
/// their replacement is NORMAL, and the pending ring (`joining_counts`) as soon as it bootstraps. The
/// replacing node itself does not wait for its failure detector to convict the node it replaces (a node it
/// just discovered counts as up for a while).
pub(crate) fn replaced(endpoints: &[EndpointInfo], joining_counts: bool) -> BTreeSet<SocketAddr> {
    let claimants: Vec<&EndpointInfo> = endpoints
        .iter()
        .filter(|r| {
            r.alive && (r.status == NodeStatus::Normal || (joining_counts && r.status == NodeStatus::Joining))
        })
        .collect();
    endpoints
        .iter()
        .filter(|e| !e.tokens.is_empty() && !e.is_local)
        .filter(|e| {
            claimants.iter().any(|r| {
                r.address != e.address
                    && (!e.alive || r.is_local)
                    && r.tokens.iter().any(|t| e.tokens.contains(t))
            })
        })
        .map(|e| e.address)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(n: u8, alive: bool, status: NodeStatus, tokens: Vec<i64>) -> EndpointInfo {
        EndpointInfo {
            address: SocketAddr::from(([127, 0, 0, n], 7000)),
            is_local: false,
            alive,
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
        }
    }

    #[test]
    fn a_dead_node_is_replaced_by_the_live_node_holding_its_tokens() {
        let dead = ep(3, false, NodeStatus::Normal, vec![30, 31]);
        let others = [
            ep(1, true, NodeStatus::Normal, vec![10]),
            ep(2, false, NodeStatus::Normal, vec![20]),
        ];
        let joining = ep(4, true, NodeStatus::Joining, vec![30, 31]);
        let mut view: Vec<EndpointInfo> = others.to_vec();
        view.push(dead.clone());
        assert!(replaced(&view, true).is_empty());
        view.push(joining.clone());
        // While the replacement bootstraps the dead node only leaves the pending ring.
        assert!(replaced(&view, false).is_empty());
        assert_eq!(
            replaced(&view, true).into_iter().collect::<Vec<_>>(),
            vec![dead.address]
        );
        // Once it is NORMAL the dead node leaves the ring too; a down replacement claims nothing.
        view.last_mut().expect("pushed").status = NodeStatus::Normal;
        assert_eq!(replaced(&view, false).len(), 1);
        view.last_mut().expect("pushed").alive = false;
        assert!(replaced(&view, true).is_empty());
        // The replacing node itself drops the node it replaces even while it still believes it up.
        let mut own = vec![
            ep(3, true, NodeStatus::Normal, vec![30]),
            ep(4, true, NodeStatus::Joining, vec![30]),
        ];
        own[1].is_local = true;
        assert!(replaced(&own, false).is_empty());
        assert_eq!(replaced(&own, true).len(), 1);
    }

    #[test]
    fn the_status_names_the_replaced_address() {
        let r = Replacement {
            address: SocketAddr::from(([127, 0, 0, 3], 7000)),
            host_id: None,
            tokens: vec![-1, 5],
        };
        assert_eq!(r.status(), "BOOT_REPLACE,127.0.0.3");
        assert_eq!(r.token_texts(), vec!["-1", "5"]);
    }
}
