//! The `Provider` trait: how the reconciler makes nodes exist (local processes today, Kubernetes pods later).
//! Providers place, start and stop nodes; they never look inside a node. The reconciler observes nodes only
//! through the node admin API ([`Provider::node_info`]'s default uses `mica-nodetool`'s `AdminClient`).

use std::collections::HashSet;
use std::net::IpAddr;

use mica_control_api::{ClusterProperties, DataCenterProperties};
use mica_node_admin_api::NodeInfo;

use crate::store::NodeRecord;

/// Why a provider action failed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ProviderError(pub String);

impl ProviderError {
    pub fn new(message: impl Into<String>) -> ProviderError {
        ProviderError(message.into())
    }
}

/// Everything a provider needs to lay out one node.
#[derive(Clone, Debug)]
pub struct NodeSpec<'a> {
    pub cluster: &'a ClusterProperties,
    pub data_center: &'a DataCenterProperties,
    pub node: &'a NodeRecord,
    /// Seed addresses of every datacenter of the cluster.
    pub seeds: &'a [IpAddr],
}

/// Where a node's admin API is and the token it accepts.
#[derive(Clone, Debug)]
pub struct AdminEndpoint {
    pub host: String,
    pub port: u16,
    pub token: String,
}

/// A place where nodes run. Every method is idempotent: the reconciler may repeat any step after a restart.
pub trait Provider: Send + Sync {
    /// Creates the cluster-wide material (the cluster CA) if missing.
    fn prepare_cluster(&self, cluster: &str) -> Result<(), ProviderError>;
    /// The cluster CA certificate (PEM) clients trust, once prepared.
    fn cluster_ca(&self, cluster: &str) -> Option<String>;
    /// Picks a free node address not in `taken`.
    fn allocate_address(&self, taken: &HashSet<IpAddr>) -> Result<IpAddr, ProviderError>;
    /// Writes (or rewrites) the node's configuration, certificates and directories.
    fn prepare_node(&self, spec: &NodeSpec<'_>) -> Result<(), ProviderError>;
    /// Starts the node's process; a no-op when this provider already runs it.
    fn start_node(&self, node: &NodeRecord) -> Result<(), ProviderError>;
    /// Whether this provider has a live process for the node (a node adopted after a control-plane restart
    /// answers its admin API without being a child: see [`Provider::node_info`]).
    fn is_running(&self, node: &NodeRecord) -> bool;
    /// Stops the node gracefully and waits until it is gone.
    fn stop_node(&self, node: &NodeRecord) -> Result<(), ProviderError>;
    /// Removes the node's directory (its data is gone).
    fn remove_node(&self, node: &NodeRecord) -> Result<(), ProviderError>;
    /// Removes the cluster's directory (after all its nodes are removed).
    fn remove_cluster(&self, cluster: &str) -> Result<(), ProviderError>;
    /// The node's admin API endpoint, once prepared.
    fn admin_endpoint(&self, node: &NodeRecord) -> Option<AdminEndpoint>;
    /// Where the node's log is, for error messages.
    fn log_location(&self, node: &NodeRecord) -> String;

    /// The control plane's client identity (key and certificate PEM) for clusters that require client
    /// certificates; `None` when the provider keeps none.
    fn client_identity(&self, _cluster: &str) -> Option<String> {
        None
    }

    /// What the control plane's CQL connections to the cluster's nodes need (see
    /// [`crate::admin_password::CqlTls`]).
    fn cql_tls(&self, cluster: &str) -> Result<crate::admin_password::CqlTls, ProviderError> {
        let ca_pem = self
            .cluster_ca(cluster)
            .ok_or_else(|| ProviderError::new(format!("cluster {cluster} has no CA yet")))?;
        Ok(crate::admin_password::CqlTls {
            ca_pem,
            identity_pem: self.client_identity(cluster),
        })
    }

    /// What the node says about itself through its admin API; `None` while it does not answer.
    fn node_info(&self, node: &NodeRecord) -> Option<NodeInfo> {
        let endpoint = self.admin_endpoint(node)?;
        mica_nodetool::AdminClient::new(&endpoint.host, endpoint.port, &endpoint.token)
            .with_timeout(std::time::Duration::from_secs(ADMIN_PROBE_TIMEOUT_SECONDS))
            .info()
            .ok()
    }

    /// Makes `password` the `cassandra` role's password on the node, through CQL over TLS with the cluster CA.
    fn set_admin_password(
        &self,
        node: &NodeRecord,
        password: &str,
    ) -> Result<crate::admin_password::PasswordOutcome, ProviderError> {
        let tls = self.cql_tls(&node.cluster)?;
        crate::admin_password::ensure_admin_password(node.address, CQL_PORT, &tls, password)
    }

    /// Whether the node's configuration on disk is what `spec` renders today (ignoring the seed list, which
    /// changes as datacenters grow and needs no restart). A running node whose configuration is stale gets a
    /// rolling restart (see [`crate::rolling`]). Providers that cannot tell say it is current.
    fn config_is_current(&self, _spec: &NodeSpec<'_>) -> Result<bool, ProviderError> {
        Ok(true)
    }

    /// Whether the node's admin API (`/v1/status`) reports every node it knows as Up; `None` while it does
    /// not answer.
    fn all_peers_up(&self, node: &NodeRecord) -> Option<bool> {
        let endpoint = self.admin_endpoint(node)?;
        let status = mica_nodetool::AdminClient::new(&endpoint.host, endpoint.port, &endpoint.token)
            .with_timeout(std::time::Duration::from_secs(ADMIN_PROBE_TIMEOUT_SECONDS))
            .status(None)
            .ok()?;
        Some(status.nodes.iter().all(|peer| {
            peer.status == mica_node_admin_api::NodeLiveness::Up
                && peer.state == mica_node_admin_api::NodeState::Normal
        }))
    }

    /// The password of the cluster's probe role ([`crate::probe::PROBE_ROLE`]); with `create`, one is generated
    /// and kept first when none exists. Providers with no place for secrets answer `None`, and rolling restarts
    /// of clusters with password authentication then skip the LOCAL_QUORUM probe.
    fn probe_password(&self, _cluster: &str, _create: bool) -> Result<Option<String>, ProviderError> {
        Ok(None)
    }

    /// Creates the probe role, keyspace and grants through `node`, as the `cassandra` superuser.
    fn create_probe_role(
        &self,
        node: &NodeRecord,
        admin_password: &str,
        probe: &crate::probe::ProbeSpec,
    ) -> Result<(), ProviderError> {
        let tls = self.cql_tls(&node.cluster)?;
        let password = probe
            .password
            .as_deref()
            .ok_or_else(|| ProviderError::new("the probe role needs a password"))?;
        crate::probe::create_role(
            node.address,
            CQL_PORT,
            &tls,
            admin_password,
            password,
            &probe.replication,
        )
    }

    /// The node's own state in the ring as it reports it through its admin API; `None` while it does not
    /// answer or no longer lists itself (it has left).
    fn node_state(&self, node: &NodeRecord) -> Option<mica_node_admin_api::NodeState> {
        let endpoint = self.admin_endpoint(node)?;
        let address = node.address.to_string();
        mica_nodetool::AdminClient::new(&endpoint.host, endpoint.port, &endpoint.token)
            .with_timeout(std::time::Duration::from_secs(ADMIN_PROBE_TIMEOUT_SECONDS))
            .status(None)
            .ok()?
            .nodes
            .into_iter()
            .find(|p| p.address == address)
            .map(|p| p.state)
    }

    /// Runs the LOCAL_QUORUM probe coordinated by `node` (see [`crate::probe`]).
    fn local_quorum_probe(
        &self,
        node: &NodeRecord,
        probe: &crate::probe::ProbeSpec,
    ) -> Result<(), ProviderError> {
        let tls = self.cql_tls(&node.cluster)?;
        crate::probe::run(node.address, CQL_PORT, &tls, probe)
    }

    /// Stops every process this provider started (control-plane shutdown).
    fn shutdown(&self) {}
}

/// The native transport port every node listens on (on its own address).
pub const CQL_PORT: u16 = 9042;

/// How long one admin API probe may take before the node counts as not answering.
pub const ADMIN_PROBE_TIMEOUT_SECONDS: u64 = 3;
