//! Wire types of the admin API's keyspace replication endpoints, which the control plane uses for turnkey
//! replication (a datacenter added to or removed from every keyspace's replication) without CQL credentials.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `GET`: every keyspace that replicates across nodes, as a list of [`KeyspaceReplication`];
/// `POST` [`KeyspaceReplication`]: `ALTER KEYSPACE ... WITH replication = ...`, run as the node itself.
pub const KEYSPACES: &str = "/v1/keyspaces";

/// A keyspace and its replication map (`class` plus the strategy's options), as in
/// `system_schema.keyspaces.replication`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyspaceReplication {
    pub keyspace: String,
    pub replication: BTreeMap<String, String>,
}

impl KeyspaceReplication {
    /// Whether the keyspace uses NetworkTopologyStrategy (whose options are per-datacenter factors).
    pub fn is_network_topology(&self) -> bool {
        self.replication
            .get("class")
            .is_some_and(|c| c.rsplit('.').next() == Some("NetworkTopologyStrategy"))
    }

    /// The datacenters a NetworkTopologyStrategy keyspace replicates to, with their factors.
    pub fn data_centers(&self) -> BTreeMap<&str, u32> {
        if !self.is_network_topology() {
            return BTreeMap::new();
        }
        self.replication
            .iter()
            .filter(|(k, _)| k.as_str() != "class")
            .filter_map(|(k, v)| Some((k.as_str(), v.trim().parse().ok()?)))
            .collect()
    }
}
