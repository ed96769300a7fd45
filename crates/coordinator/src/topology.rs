//! What the coordinator needs to know about the cluster: the replicas of a token, the token ranges of a
//! table's keyspace, and which nodes are alive. The node implements it over gossip and the schema.

use std::net::SocketAddr;

use mica_storage::TableId;
use mica_types::Token;

/// One replica of a token range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replica {
    /// The node's internode (storage) address.
    pub addr: SocketAddr,
    /// Its datacenter.
    pub dc: String,
    /// Whether the failure detector considers it up.
    pub alive: bool,
}

/// A token range `(start, end]` and its replicas. `start == i64::MIN` marks the range that begins the ring.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRange {
    pub start: i64,
    pub end: i64,
    pub replicas: Vec<Replica>,
}

/// The cluster as the coordinator sees it.
pub trait Topology: Send + Sync {
    /// This node's internode address.
    fn local_addr(&self) -> SocketAddr;
    /// This node's datacenter.
    fn local_dc(&self) -> String;
    /// The natural replicas of `token` in `table`'s keyspace, in proximity order (this node first, then
    /// its datacenter, then the others). `None` when the table is node-local (system keyspaces, hidden tables).
    fn replicas(&self, table: TableId, token: Token) -> Option<Vec<Replica>>;
    /// The ranges of `table`'s keyspace covering the whole ring in token order (the last one ends at
    /// `i64::MAX`), replicas in proximity order. `None` when the table is node-local.
    fn ranges(&self, table: TableId) -> Option<Vec<TokenRange>>;
    /// Whether `addr` is currently up.
    fn is_alive(&self, addr: SocketAddr) -> bool;
    /// How long `addr` has been down, as far as this node saw it go down; `None` when up or unknown.
    fn down_for(&self, _addr: SocketAddr) -> Option<std::time::Duration> {
        None
    }
    /// Every ring member, up or down (node-wide data such as roles goes to all of them).
    fn members(&self) -> Vec<Replica>;
    /// The ring members of datacenter `dc` that are up (this node included when it is in `dc`).
    fn live_nodes_in(&self, dc: &str) -> Vec<SocketAddr>;
    /// The pending replicas of `token` in `table`'s keyspace: nodes that are joining or taking over a
    /// leaving node's ranges. Writes go to them too (and wait for them, as Cassandra's block_for grows by
    /// the pending count); reads never use them. Empty when no node is joining or leaving.
    fn pending_replicas(&self, _table: TableId, _token: Token) -> Vec<Replica> {
        Vec::new()
    }
}
