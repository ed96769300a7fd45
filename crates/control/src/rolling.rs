//! Rolling restarts: when a datacenter's sku or yaml fragment, or the cluster's version (or anything else the
//! node configuration is rendered from) changes, running nodes whose configuration on disk is stale are
//! restarted one at a time. This module only decides; the reconciler stops the chosen node, and its ordinary
//! start path rewrites the configuration and starts the node again.
//!
//! The intent is never stored: which nodes still need the new configuration is derived on every pass from the
//! desired state (the store) and the files the provider wrote ([`Provider::config_is_current`]), so a control
//! plane killed in the middle of a rolling restart simply continues with the next stale node. A node is taken
//! down only while every node answers its admin API and every node reports every node Up in `/v1/status`.
//!
//! `scheduledEventStrategy`: StopAny restarts one node at a time anywhere in the cluster. StopByRack is treated
//! the same way for now (one node at a time is always within one rack, so it is the stricter reading of
//! "one rack at a time"); restarting a whole rack at once is a possible later optimisation.

use std::net::IpAddr;
use std::time::Duration;

use mica_control_api::OperationResource;

use crate::provider::{NodeSpec, Provider, ProviderError};
use crate::store::{ClusterRow, DataCenterRow, NodeRecord, now_seconds};

/// How long a rolling restart may wait (since its last step) for the cluster to be all Up again.
pub const ROLLING_STEP_TIMEOUT: Duration = Duration::from_secs(180);

/// What the rolling restart wants next.
#[derive(Debug, PartialEq, Eq)]
pub enum RollingStep<'a> {
    /// Every running node has the configuration the desired state renders.
    Settled,
    /// Some node is stale, but the cluster is not all Up yet: no node may go down now.
    Wait(String),
    /// Stop this node; it is started again with its new configuration on a following pass.
    Stop(&'a NodeRecord),
}

/// The next rolling-restart step, for a cluster whose nodes all answer their admin API.
pub fn next_step<'a>(
    provider: &dyn Provider,
    cluster: &ClusterRow,
    data_centers: &[&DataCenterRow],
    nodes: &'a [NodeRecord],
    seeds: &[IpAddr],
) -> Result<RollingStep<'a>, ProviderError> {
    let mut stale = None;
    for node in nodes {
        let Some(dc) = data_centers.iter().find(|d| d.name == node.data_center) else {
            continue;
        };
        let spec = NodeSpec {
            cluster: &cluster.properties,
            data_center: &dc.properties,
            node,
            seeds,
        };
        if !provider.config_is_current(&spec)? {
            stale = Some(node);
            break;
        }
    }
    let Some(node) = stale else {
        return Ok(RollingStep::Settled);
    };
    if let Some(down) = nodes.iter().find(|n| provider.all_peers_up(n) != Some(true)) {
        return Ok(RollingStep::Wait(format!(
            "node {} does not report every node Up yet",
            down.label()
        )));
    }
    Ok(RollingStep::Stop(node))
}

/// The step name recorded in the operation when a node is stopped for its new configuration.
pub fn stop_step_name(node: &NodeRecord) -> String {
    format!(
        "stopped node {} to apply its new configuration (rolling restart)",
        node.label()
    )
}

/// Whether the operation has waited longer than [`ROLLING_STEP_TIMEOUT`] since its last step.
pub fn stalled(op: Option<&OperationResource>) -> bool {
    op.is_some_and(|op| {
        let since = op.steps.last().map_or(op.start_time, |s| s.time);
        now_seconds().saturating_sub(since) > ROLLING_STEP_TIMEOUT.as_secs()
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::collections::{HashMap, HashSet};
    use std::sync::Mutex;

    use mica_control_api::{ClusterProperties, DataCenterProperties, OperationStatus, ProvisioningState};
    use mica_node_admin_api::NodeInfo;

    use super::*;
    use crate::provider::AdminEndpoint;
    use crate::reconcile::{Outcome, reconcile_cluster};
    use crate::store::{Store, new_operation};

    /// A provider whose "configuration on disk" is the sku, fragment and version the node was prepared with.
    #[derive(Default)]
    struct FakeProvider {
        running: Mutex<HashSet<IpAddr>>,
        rendered: Mutex<HashMap<IpAddr, String>>,
        log: Mutex<Vec<String>>,
        /// Nodes that report a peer Down in their status.
        degraded: Mutex<HashSet<IpAddr>>,
    }

    fn render(spec: &NodeSpec<'_>) -> String {
        format!(
            "{:?}/{:?}/{:?}",
            spec.data_center.sku,
            spec.data_center.base64_encoded_cassandra_yaml_fragment,
            spec.cluster.cassandra_version
        )
    }

    impl Provider for FakeProvider {
        fn node_state(&self, node: &NodeRecord) -> Option<mica_node_admin_api::NodeState> {
            self.is_running(node)
                .then_some(mica_node_admin_api::NodeState::Normal)
        }
        fn prepare_cluster(&self, _: &str) -> Result<(), ProviderError> {
            Ok(())
        }
        fn cluster_ca(&self, _: &str) -> Option<String> {
            Some("pem".into())
        }
        fn allocate_address(&self, taken: &HashSet<IpAddr>) -> Result<IpAddr, ProviderError> {
            Ok((1..250u8)
                .map(|i| IpAddr::from([127, 0, 98, i]))
                .find(|a| !taken.contains(a))
                .unwrap())
        }
        fn prepare_node(&self, spec: &NodeSpec<'_>) -> Result<(), ProviderError> {
            assert!(
                !self.running.lock().unwrap().contains(&spec.node.address),
                "configuration rewritten under a running node"
            );
            self.rendered
                .lock()
                .unwrap()
                .insert(spec.node.address, render(spec));
            Ok(())
        }
        fn start_node(&self, node: &NodeRecord) -> Result<(), ProviderError> {
            self.log.lock().unwrap().push(format!("start {}", node.address));
            self.running.lock().unwrap().insert(node.address);
            Ok(())
        }
        fn is_running(&self, node: &NodeRecord) -> bool {
            self.running.lock().unwrap().contains(&node.address)
        }
        fn stop_node(&self, node: &NodeRecord) -> Result<(), ProviderError> {
            let mut running = self.running.lock().unwrap();
            running.remove(&node.address);
            assert!(
                running.len() + 1 >= self.rendered.lock().unwrap().len(),
                "two nodes down at once"
            );
            self.log.lock().unwrap().push(format!("stop {}", node.address));
            Ok(())
        }
        fn remove_node(&self, _: &NodeRecord) -> Result<(), ProviderError> {
            Ok(())
        }
        fn remove_cluster(&self, _: &str) -> Result<(), ProviderError> {
            Ok(())
        }
        fn admin_endpoint(&self, _: &NodeRecord) -> Option<AdminEndpoint> {
            None
        }
        fn log_location(&self, _: &NodeRecord) -> String {
            "log".into()
        }
        fn config_is_current(&self, spec: &NodeSpec<'_>) -> Result<bool, ProviderError> {
            Ok(self
                .rendered
                .lock()
                .unwrap()
                .get(&spec.node.address)
                .is_none_or(|r| *r == render(spec)))
        }
        fn all_peers_up(&self, node: &NodeRecord) -> Option<bool> {
            let running = self.running.lock().unwrap();
            running.contains(&node.address).then(|| {
                running.len() == self.rendered.lock().unwrap().len()
                    && !self.degraded.lock().unwrap().contains(&node.address)
            })
        }
        fn node_info(&self, node: &NodeRecord) -> Option<NodeInfo> {
            self.running
                .lock()
                .unwrap()
                .contains(&node.address)
                .then(|| NodeInfo {
                    host_id: uuid::Uuid::nil(),
                    cluster_name: node.cluster.clone(),
                    release_version: "4.1.5".into(),
                    data_center: node.data_center.clone(),
                    rack: node.rack.clone(),
                    listen_address: node.address.to_string(),
                    native_address: None,
                    native_transport_active: true,
                    gossip_active: true,
                    tokens: vec![],
                    uptime_seconds: 1,
                    load_bytes: 0,
                    disk_used_kb: 0,
                    disk_free_kb: 0,
                    memory_used_kb: 0,
                    memory_total_kb: 0,
                    cpu_usage: 0.0,
                })
        }
    }

    fn pass(store: &Store, provider: &FakeProvider) -> Outcome {
        let cluster = store.cluster("c1").unwrap().unwrap();
        reconcile_cluster(store, provider, &crate::jobs::Jobs::default(), cluster).unwrap()
    }

    fn converge(store: &Store, provider: &FakeProvider) {
        for _ in 0..100 {
            if pass(store, provider) == Outcome::Converged {
                return;
            }
        }
        panic!("did not converge");
    }

    fn three_node_cluster() -> (Store, FakeProvider) {
        let store = Store::open_in_memory().unwrap();
        let cluster = ClusterProperties {
            cassandra_version: Some("4.0".into()),
            ..Default::default()
        };
        let op = new_operation("create cluster".into(), "/clusters/c1".into());
        store.create_cluster("c1", &cluster, None, &op).unwrap();
        let provider = FakeProvider::default();
        converge(&store, &provider);
        let dc = DataCenterProperties {
            node_count: Some(3),
            ..Default::default()
        };
        let op = new_operation("create dc".into(), "/clusters/c1/dataCenters/dc1".into());
        store
            .put_data_center("c1", "dc1", &dc, ProvisioningState::Creating, &op)
            .unwrap();
        converge(&store, &provider);
        assert_eq!(provider.running.lock().unwrap().len(), 3);
        provider.log.lock().unwrap().clear();
        (store, provider)
    }

    #[test]
    fn a_fragment_update_restarts_one_node_per_pass_and_never_two_at_once() {
        let (store, provider) = three_node_cluster();
        // Converged and unchanged: nothing restarts.
        converge(&store, &provider);
        assert!(provider.log.lock().unwrap().is_empty());

        let dc = DataCenterProperties {
            node_count: Some(3),
            base64_encoded_cassandra_yaml_fragment: Some(
                "Y29tcGFjdGlvbl90aHJvdWdocHV0OiA2NE1pQi9zCg==".into(),
            ),
            ..Default::default()
        };
        let op = new_operation("update dc".into(), "/clusters/c1/dataCenters/dc1".into());
        store
            .put_data_center("c1", "dc1", &dc, ProvisioningState::Updating, &op)
            .unwrap();
        let mut passes = 0;
        while pass(&store, &provider) != Outcome::Converged {
            passes += 1;
            assert!(passes < 50, "did not converge");
            assert!(
                provider.running.lock().unwrap().len() >= 2,
                "never two nodes down"
            );
        }
        let log = provider.log.lock().unwrap().clone();
        assert_eq!(log.len(), 6, "{log:?}");
        // Strictly stop, start, stop, start...: each node is back before the next goes down.
        for pair in log.chunks(2) {
            let (stop, start) = (&pair[0], &pair[1]);
            assert_eq!(stop.replace("stop", "start"), *start, "{log:?}");
        }
        let op = store.operation(&op.id).unwrap().unwrap();
        assert_eq!(op.status, OperationStatus::Succeeded);
        let rolling = op
            .steps
            .iter()
            .filter(|s| s.name.contains("rolling restart"))
            .count();
        assert_eq!(rolling, 3, "{:?}", op.steps);
        let current = render(&NodeSpec {
            cluster: &store.cluster("c1").unwrap().unwrap().properties,
            data_center: &dc,
            node: &store.nodes("c1").unwrap()[0],
            seeds: &[],
        });
        assert!(provider.rendered.lock().unwrap().values().all(|r| *r == current));
    }

    #[test]
    fn no_node_goes_down_while_a_node_reports_a_peer_down() {
        let (store, provider) = three_node_cluster();
        let addresses: Vec<IpAddr> = store.nodes("c1").unwrap().iter().map(|n| n.address).collect();
        provider.degraded.lock().unwrap().insert(addresses[2]);
        let mut cluster = store.cluster("c1").unwrap().unwrap().properties;
        cluster.cassandra_version = Some("4.1".into());
        let op = new_operation("update cluster".into(), "/clusters/c1".into());
        store.update_cluster("c1", &cluster, &op).unwrap();
        for _ in 0..5 {
            assert_eq!(pass(&store, &provider), Outcome::Waiting);
        }
        assert!(provider.log.lock().unwrap().is_empty());
        // Once every node is Up, the restart proceeds and completes; a fresh provider instance (a restarted
        // control plane) would see the same stale nodes because the intent lives in the rendered files.
        provider.degraded.lock().unwrap().clear();
        converge(&store, &provider);
        assert_eq!(provider.log.lock().unwrap().len(), 6);
        assert_eq!(
            store.operation(&op.id).unwrap().unwrap().status,
            OperationStatus::Succeeded
        );
    }
}
