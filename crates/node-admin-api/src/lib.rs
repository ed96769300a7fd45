//! The node admin HTTP API's wire types: what `mica node` serves on `mica.admin_address:admin_port`, what
//! `mica nodetool` and the control plane read. Only serde types and path constants live here, so callers never
//! depend on node internals.
//!
//! Every request carries `Authorization: Bearer <token>`; the token is the content of the node's admin token
//! file (`mica.admin_token_file`, by default `<data dir>/admin.token`, created at first start).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

mod dc;
mod histograms;
pub use histograms::*;
mod keyspaces;
pub use keyspaces::*;
pub mod metrics;
mod ops;
pub use dc::*;
pub use ops::*;
mod repair;
pub use repair::*;
mod topology;
pub use topology::*;

/// Path prefix of every endpoint (the version is part of the path so later versions can coexist).
pub const PREFIX: &str = "/v1";
/// `GET`: [`NodeInfo`].
pub const INFO: &str = "/v1/info";
/// `GET` with an optional `keyspace` query parameter: [`ClusterStatus`] as this node sees the cluster.
pub const STATUS: &str = "/v1/status";
/// `GET`: [`DescribeCluster`].
pub const DESCRIBE_CLUSTER: &str = "/v1/describecluster";
/// `GET`: every token of the ring with its node, as a list of [`RingToken`] in token order.
pub const RING: &str = "/v1/ring";
/// `GET` with optional `keyspace` and `table` query parameters: a list of [`TableStats`].
pub const TABLE_STATS: &str = "/v1/tablestats";
/// `POST` [`TablesRequest`]: flush memtables to disk.
pub const FLUSH: &str = "/v1/flush";
/// `POST` [`TablesRequest`]: major compaction (purges tombstones past gc_grace_seconds).
pub const COMPACT: &str = "/v1/compact";
/// `POST`: flush everything and stop accepting client requests, as before an orderly shutdown.
pub const DRAIN: &str = "/v1/drain";
/// `POST`: stop the node process gracefully.
pub const STOP_DAEMON: &str = "/v1/stopdaemon";

/// One node's own facts (`nodetool info`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeInfo {
    pub host_id: Uuid,
    pub cluster_name: String,
    pub release_version: String,
    pub data_center: String,
    pub rack: String,
    pub listen_address: String,
    pub native_address: Option<String>,
    /// Whether the node accepts CQL clients (false after `drain`).
    pub native_transport_active: bool,
    pub gossip_active: bool,
    pub tokens: Vec<i64>,
    pub uptime_seconds: u64,
    /// Bytes of table data on disk.
    pub load_bytes: u64,
    pub disk_used_kb: u64,
    pub disk_free_kb: u64,
    pub memory_used_kb: u64,
    pub memory_total_kb: u64,
    /// CPU used by the node process since the previous sample, in percent of one core.
    pub cpu_usage: f64,
}

/// Cassandra's node states (`nodetool status`'s second letter).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum NodeState {
    Normal,
    Joining,
    Leaving,
    Moving,
    Stopped,
}

/// Whether the failure detector considers a node alive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum NodeLiveness {
    Up,
    Down,
}

/// One line of `nodetool status`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PeerStatus {
    pub address: String,
    pub data_center: String,
    pub rack: String,
    pub state: NodeState,
    pub status: NodeLiveness,
    pub load_bytes: u64,
    pub tokens: usize,
    /// Ownership in percent (see [`ClusterStatus::effective_ownership`]); `None` when unknown.
    pub owns: Option<f64>,
    pub host_id: Uuid,
}

/// Every node this node knows about.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterStatus {
    pub nodes: Vec<PeerStatus>,
    /// Whether `owns` is effective ownership (replicas counted, per the named keyspace or the one replication
    /// setting all non-system keyspaces share) rather than the primary range share.
    #[serde(default)]
    pub effective_ownership: bool,
}

/// `nodetool describecluster`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeCluster {
    pub name: String,
    pub snitch: String,
    pub partitioner: String,
    /// Schema version → addresses of the nodes on it (one entry when the schema agrees); unreachable nodes
    /// are listed under the version text `UNREACHABLE`, as Cassandra does.
    pub schema_versions: Vec<(String, Vec<String>)>,
}

/// One token of the ring (`nodetool ring`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RingToken {
    pub token: i64,
    pub address: String,
    pub data_center: String,
    pub rack: String,
    pub state: NodeState,
    pub status: NodeLiveness,
    pub load_bytes: u64,
    /// The node's share of the ring in percent.
    pub owns: Option<f64>,
}

/// Storage facts of one table (`nodetool tablestats`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TableStats {
    pub keyspace: String,
    pub table: String,
    pub space_used_bytes: u64,
}

/// Which tables an operation applies to: all of them, one keyspace's, or named tables of one keyspace.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TablesRequest {
    pub keyspace: Option<String>,
    #[serde(default)]
    pub tables: Vec<String>,
}

/// The body of every error response (an RFC 9457 problem document).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Problem {
    pub title: String,
    pub status: u16,
    pub detail: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_names_are_camel_case_and_round_trip() {
        let s = PeerStatus {
            address: "127.0.0.2".into(),
            data_center: "dc1".into(),
            rack: "rack1".into(),
            state: NodeState::Normal,
            status: NodeLiveness::Up,
            load_bytes: 10,
            tokens: 16,
            owns: Some(100.0),
            host_id: Uuid::nil(),
        };
        let text = serde_json::to_string(&s).expect("serialize");
        assert!(
            text.contains("\"dataCenter\":\"dc1\"") && text.contains("\"state\":\"Normal\""),
            "{text}"
        );
        assert_eq!(serde_json::from_str::<PeerStatus>(&text).expect("parse"), s);
        let req: TablesRequest = serde_json::from_str(r#"{"keyspace":"ks"}"#).expect("tables default");
        assert!(req.tables.is_empty());
    }
}
