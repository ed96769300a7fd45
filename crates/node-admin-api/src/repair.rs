//! Wire types of the admin API's anti-entropy repair endpoint (`nodetool repair`).

use serde::{Deserialize, Serialize};

/// `POST` [`RepairRequest`]: repairs keyspaces between their replicas, synchronously (the answer comes when
/// every repair command finished), answering a [`RepairReport`]. Failed repairs still answer 200 with
/// `success: false` in their command, so the progress that was made is reported.
pub const REPAIR: &str = "/v1/repair";

/// What to repair (Cassandra 4.1's `nodetool repair` options Mica supports).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepairRequest {
    /// The keyspace; every non-system keyspace when absent.
    #[serde(default)]
    pub keyspace: Option<String>,
    /// Tables of the keyspace; all of them when empty.
    #[serde(default)]
    pub tables: Vec<String>,
    /// `-pr`: only the ranges this node is the primary replica of.
    #[serde(default)]
    pub primary_range: bool,
    /// `-full`. Every Mica repair is full (incremental repair is not supported); the flag only changes
    /// whether the output says so.
    #[serde(default)]
    pub full: bool,
}

/// Every repair command the request ran, one per keyspace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepairReport {
    pub commands: Vec<RepairCommand>,
}

/// One keyspace's repair command: the progress messages nodetool prints, in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepairCommand {
    pub keyspace: String,
    /// The command number (Cassandra's `#n`), `None` when nothing needed repairing.
    pub command: Option<u32>,
    /// Progress messages with the time they happened (milliseconds since the Unix epoch).
    pub events: Vec<RepairEvent>,
    /// Whether every range was repaired.
    pub success: bool,
    /// Why the command failed (Cassandra's "Repair command #n failed with error ..." text).
    pub error: Option<String>,
    /// Token ranges repaired / that failed.
    pub ranges_repaired: u64,
    pub ranges_failed: u64,
    /// Partitions some replica lacked part of, and the repairing mutations sent.
    pub partitions_repaired: u64,
    pub mutations_sent: u64,
}

/// One progress message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepairEvent {
    pub time_ms: i64,
    pub message: String,
}
