//! The node lines of `clusters/{c}/status`: what each node says about itself (`/v1/info`: tokens, load, disk,
//! memory, CPU) joined with what one live node of its datacenter reports for the ring (`/v1/status`: state,
//! liveness and ownership, as `nodetool status` shows them). The control plane reaches nodes only through their
//! admin API; these calls block, so run them on a blocking thread.

use std::time::Duration;

use mica_control_api::NodeStatus;
use mica_node_admin_api::{NodeInfo, NodeLiveness, NodeState, PeerStatus};
use mica_nodetool::AdminClient;

use crate::provider::{ADMIN_PROBE_TIMEOUT_SECONDS, Provider};
use crate::store::NodeRecord;

/// `owns` in the API is a fraction (0.3 is 30% of the data, as Azure reports it); the admin API gives percent.
const PERCENT: f64 = 100.0;

/// The status lines of one datacenter's nodes. One admin `/v1/status` call per datacenter (to the first node
/// that answers it) gives every node's ring view; each node's `/v1/info` gives its own facts.
pub fn data_center_nodes(provider: &dyn Provider, dc_nodes: &[NodeRecord], now: u64) -> Vec<NodeStatus> {
    let infos: Vec<Option<NodeInfo>> = dc_nodes.iter().map(|n| provider.node_info(n)).collect();
    // Only nodes that just answered /v1/info are worth asking for the ring.
    let ring: Vec<PeerStatus> = dc_nodes
        .iter()
        .zip(&infos)
        .filter(|(_, info)| info.is_some())
        .find_map(|(node, _)| ring_status(provider, node))
        .unwrap_or_default();
    dc_nodes
        .iter()
        .zip(infos)
        .map(|(node, info)| {
            let address = node.address.to_string();
            let peer = ring.iter().find(|p| p.address == address);
            node_status(node, info.as_ref(), peer, now)
        })
        .collect()
}

/// Every node `node` knows about, with ownership; `None` when it does not answer.
fn ring_status(provider: &dyn Provider, node: &NodeRecord) -> Option<Vec<PeerStatus>> {
    let endpoint = provider.admin_endpoint(node)?;
    AdminClient::new(&endpoint.host, endpoint.port, &endpoint.token)
        .with_timeout(Duration::from_secs(ADMIN_PROBE_TIMEOUT_SECONDS))
        .status(None)
        .ok()
        .map(|status| status.nodes)
}

/// One node's line. A node whose admin API does not answer is Stopped and Down whatever gossip still believes;
/// one that answers takes its state and liveness from the ring view (Joining, Leaving, a partitioned node
/// gossip marks Down), and Normal/Up when no ring view is available.
pub fn node_status(
    node: &NodeRecord,
    info: Option<&NodeInfo>,
    peer: Option<&PeerStatus>,
    now: u64,
) -> NodeStatus {
    let (state, status) = match (info, peer) {
        (None, _) => ("Stopped".to_owned(), "Down".to_owned()),
        (Some(_), Some(p)) => (state_name(p.state).to_owned(), liveness_name(p.status).to_owned()),
        (Some(_), None) => ("Normal".to_owned(), "Up".to_owned()),
    };
    let load_bytes = info.map(|i| i.load_bytes).or(peer.map(|p| p.load_bytes));
    NodeStatus {
        address: node.address.to_string(),
        state,
        status,
        load: load_bytes.map(|b| format!("{b} bytes")),
        tokens: info
            .map(|i| i.tokens.iter().map(ToString::to_string).collect())
            .unwrap_or_default(),
        owns: peer.and_then(|p| p.owns).map(|percent| percent / PERCENT),
        host_id: info
            .map(|i| i.host_id.to_string())
            .or(peer.map(|p| p.host_id.to_string())),
        rack: Some(node.rack.clone()),
        timestamp: now,
        disk_used_kb: info.map(|i| i.disk_used_kb),
        disk_free_kb: info.map(|i| i.disk_free_kb),
        memory_used_kb: info.map(|i| i.memory_used_kb),
        memory_total_kb: info.map(|i| i.memory_total_kb),
        cpu_usage: info.map(|i| i.cpu_usage),
    }
}

fn state_name(state: NodeState) -> &'static str {
    match state {
        NodeState::Normal => "Normal",
        NodeState::Joining => "Joining",
        NodeState::Leaving => "Leaving",
        NodeState::Moving => "Moving",
        NodeState::Stopped => "Stopped",
    }
}

fn liveness_name(status: NodeLiveness) -> &'static str {
    match status {
        NodeLiveness::Up => "Up",
        NodeLiveness::Down => "Down",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use uuid::Uuid;

    fn record() -> NodeRecord {
        NodeRecord {
            cluster: "c".into(),
            data_center: "dc1".into(),
            ordinal: 0,
            address: "127.0.0.2".parse().unwrap(),
            rack: "rack1".into(),
        }
    }

    fn info() -> NodeInfo {
        NodeInfo {
            host_id: Uuid::nil(),
            cluster_name: "c".into(),
            release_version: "4.0.13".into(),
            data_center: "dc1".into(),
            rack: "rack1".into(),
            listen_address: "127.0.0.2".into(),
            native_address: None,
            native_transport_active: true,
            gossip_active: true,
            tokens: vec![-5, 7],
            uptime_seconds: 1,
            load_bytes: 42,
            disk_used_kb: 1,
            disk_free_kb: 2,
            memory_used_kb: 3,
            memory_total_kb: 4,
            cpu_usage: 0.5,
        }
    }

    fn peer(state: NodeState, status: NodeLiveness, owns: Option<f64>) -> PeerStatus {
        PeerStatus {
            address: "127.0.0.2".into(),
            data_center: "dc1".into(),
            rack: "rack1".into(),
            state,
            status,
            load_bytes: 40,
            tokens: 2,
            owns,
            host_id: Uuid::nil(),
        }
    }

    #[test]
    fn ownership_state_and_liveness_come_from_the_ring_view() {
        let line = node_status(
            &record(),
            Some(&info()),
            Some(&peer(NodeState::Joining, NodeLiveness::Up, Some(62.5))),
            9,
        );
        assert_eq!((line.state.as_str(), line.status.as_str()), ("Joining", "Up"));
        assert_eq!(line.owns, Some(0.625));
        assert_eq!(line.tokens, vec!["-5".to_owned(), "7".to_owned()]);
        assert_eq!(line.load.as_deref(), Some("42 bytes"));
        assert_eq!(line.timestamp, 9);
    }

    #[test]
    fn a_silent_node_is_stopped_but_keeps_its_ring_share() {
        let line = node_status(
            &record(),
            None,
            Some(&peer(NodeState::Normal, NodeLiveness::Up, Some(50.0))),
            1,
        );
        assert_eq!((line.state.as_str(), line.status.as_str()), ("Stopped", "Down"));
        assert_eq!(line.owns, Some(0.5));
        assert_eq!(line.load.as_deref(), Some("40 bytes"));
        assert!(line.tokens.is_empty() && line.disk_used_kb.is_none());
    }

    #[test]
    fn without_a_ring_view_an_answering_node_is_normal_and_up() {
        let line = node_status(&record(), Some(&info()), None, 1);
        assert_eq!(
            (line.state.as_str(), line.status.as_str(), line.owns),
            ("Normal", "Up", None)
        );
    }
}
