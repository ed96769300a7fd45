//! Wire types of the admin API's ring, gossip, runtime-settings, drain, snapshot and statistics endpoints
//! (`nodetool describering`, `getendpoints`, `gossipinfo`, `gettimeout`/`settimeout`, `getcompactionthroughput`,
//! `getstreamthroughput`, `drain`, `snapshot`, `listsnapshots`, `clearsnapshot`, `tpstats`, `compactionstats`,
//! `netstats`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `GET` with a `keyspace` query parameter: the keyspace's token ranges with their replicas, a list of
/// [`TokenRange`] in token order.
pub const DESCRIBE_RING: &str = "/v1/describering";
/// `GET` with `keyspace`, `table` and `key` query parameters: the replicas of that partition key, a list of
/// addresses in replica order.
pub const GET_ENDPOINTS: &str = "/v1/getendpoints";
/// `GET`: every endpoint's gossip state, a list of [`GossipEndpoint`] in address order.
pub const GOSSIP_INFO: &str = "/v1/gossipinfo";
/// `GET`: [`RuntimeSettings`]; `POST` [`SettingsUpdate`]: changes them (answers the new [`RuntimeSettings`]).
pub const SETTINGS: &str = "/v1/settings";
/// `POST` [`SnapshotRequest`]: takes a snapshot, answers [`SnapshotTaken`].
pub const SNAPSHOT: &str = "/v1/snapshot";
/// `GET`: every snapshot on the node, a list of [`SnapshotDetails`].
pub const LIST_SNAPSHOTS: &str = "/v1/listsnapshots";
/// `POST` [`ClearSnapshotRequest`]: removes snapshots.
pub const CLEAR_SNAPSHOT: &str = "/v1/clearsnapshot";
/// `GET`: [`ActivityStats`] (`tpstats`, `compactionstats`, `netstats`).
pub const ACTIVITY: &str = "/v1/activity";

/// The timeout names `gettimeout`/`settimeout` accept, in Cassandra 4.1's order.
pub const TIMEOUT_TYPES: &[&str] = &[
    "read",
    "range",
    "write",
    "counterwrite",
    "cascontention",
    "truncate",
    "internodeconnect",
    "internodeuser",
    "internodestreaminguser",
    "misc",
];

/// One node of a token range's replica list (Cassandra's `EndpointDetails`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointDetails {
    pub host: String,
    pub datacenter: String,
    pub rack: String,
}

/// One range of the ring, `(start_token, end_token]`, with its replicas (`nodetool describering`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenRange {
    pub start_token: i64,
    pub end_token: i64,
    /// Replica (listen/broadcast) addresses, in replica order.
    pub endpoints: Vec<String>,
    /// The same replicas' client (native transport) addresses.
    pub rpc_endpoints: Vec<String>,
    pub endpoint_details: Vec<EndpointDetails>,
}

/// `nodetool describering`: the schema version the node runs and the keyspace's ranges.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeRing {
    pub schema_version: String,
    pub ranges: Vec<TokenRange>,
}

/// One application state as gossip holds it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GossipState {
    /// Cassandra's `ApplicationState` name, e.g. `STATUS`, `HOST_ID`.
    pub name: String,
    pub version: i32,
    pub value: String,
}

/// One endpoint's gossip state (`nodetool gossipinfo`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GossipEndpoint {
    /// The endpoint's IP address (its gossip address without the port).
    pub address: String,
    pub port: u16,
    pub generation: i32,
    pub heartbeat: i32,
    /// Application states in Cassandra's `ApplicationState` order.
    pub states: Vec<GossipState>,
}

/// Node-wide settings that can change at run time; they start from cassandra.yaml.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeSettings {
    /// Timeout in milliseconds per [`TIMEOUT_TYPES`] name.
    pub timeouts_ms: BTreeMap<String, u64>,
    /// `compaction_throughput` in MiB/s (0: unthrottled).
    pub compaction_throughput_mib_per_sec: u64,
    /// `stream_throughput_outbound` in megabits per second (0: unthrottled).
    pub stream_throughput_mbit_per_sec: u64,
}

/// A change of [`RuntimeSettings`]; absent fields stay as they are.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SettingsUpdate {
    /// A [`TIMEOUT_TYPES`] name and its new value in milliseconds.
    pub timeout: Option<(String, u64)>,
    pub compaction_throughput_mib_per_sec: Option<u64>,
    pub stream_throughput_mbit_per_sec: Option<u64>,
}

/// `nodetool snapshot`: which keyspaces (all when empty) and the tag (the current time in milliseconds when
/// absent, as Cassandra does).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotRequest {
    pub tag: Option<String>,
    #[serde(default)]
    pub keyspaces: Vec<String>,
}

/// What a snapshot request did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotTaken {
    pub tag: String,
    pub tables: usize,
}

/// One table's part of a snapshot (`nodetool listsnapshots`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotDetails {
    pub tag: String,
    pub keyspace: String,
    pub table: String,
    /// Bytes only this snapshot holds (all of it: Mica's snapshots share no files with live data).
    pub true_size_bytes: u64,
    pub size_on_disk_bytes: u64,
    /// RFC 3339 creation time.
    pub created_at: String,
}

/// `nodetool clearsnapshot`: a tag or `all`, optionally limited to keyspaces.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClearSnapshotRequest {
    pub tag: Option<String>,
    #[serde(default)]
    pub all: bool,
    #[serde(default)]
    pub keyspaces: Vec<String>,
}

/// One row of `nodetool tpstats`'s thread pool table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PoolStats {
    pub name: String,
    pub active: u64,
    pub pending: u64,
    pub completed: u64,
    pub blocked: u64,
    pub all_time_blocked: u64,
}

/// What the node is doing: request pools, compactions, streams. Only activity Mica really has is counted;
/// kinds of work Mica does not do yet are zeros.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActivityStats {
    /// `NORMAL`, or `DRAINED` after `nodetool drain`.
    pub mode: String,
    pub pools: Vec<PoolStats>,
    /// Dropped messages per verb (`READ`, `MUTATION`, ...).
    pub dropped: BTreeMap<String, u64>,
    pub pending_compactions: u64,
    /// Whether the node gossips (gossip messages are not counted yet).
    pub gossip_active: bool,
}
