//! Rolling restarts: when a datacenter's sku or yaml fragment, or the cluster's version (or anything else the
//! node configuration is rendered from) changes, running nodes whose configuration on disk is stale are
//! restarted. This module only decides; the reconciler stops the chosen nodes, and its ordinary start path
//! rewrites the configuration and starts them again.
//!
//! The intent is never stored: which nodes still need the new configuration is derived on every pass from the
//! desired state (the store) and the files the provider wrote ([`Provider::config_is_current`]), so a control
//! plane killed in the middle of a rolling restart simply continues with the next stale nodes.
//!
//! Safety gates, checked before every stop while every node answers its admin API:
//! 1. every node reports every node Up and Normal in `/v1/status` ([`Provider::all_peers_up`]);
//! 2. a LOCAL_QUORUM read of the probe keyspace succeeds coordinated by every node, hence in every datacenter
//!    ([`crate::probe`]). Clusters with password authentication whose admin password was set before probes
//!    existed have no probe role; for them the probe is skipped and the stop step says so.
//!
//! While a gate holds the restart back, the reason is recorded once in the operation's steps (prefixed
//! [`WAIT_PREFIX`]), so users see why it waits; those steps do not count as progress for [`stalled`].
//!
//! `scheduledEventStrategy`: StopAny restarts one node at a time anywhere in the cluster. StopByRack stops
//! every stale node of one rack together (racks in datacenter order, then rack name), waits until all of them
//! are back and the gates pass, then takes the next rack. A rack may only go down as a whole when its
//! datacenter has at least [`MIN_RACKS_FOR_RACK_STOPS`] racks: NetworkTopologyStrategy places the replicas of a
//! range on distinct racks, so with three racks and RF 3 a rack holds one replica of each range and QUORUM
//! survives; with fewer racks StopByRack falls back to one node at a time (and the step says so).

use std::net::IpAddr;
use std::time::Duration;

use mica_control_api::{AuthenticationMethod, OperationResource, OperationStep, ScheduledEventStrategy};

use crate::probe::ProbeSpec;
use crate::provider::{NodeSpec, Provider, ProviderError};
use crate::store::{ClusterRow, DataCenterRow, NodeRecord, Store, now_seconds};

/// How long a rolling restart may wait (since its last step) for the cluster to be all Up again.
pub const ROLLING_STEP_TIMEOUT: Duration = Duration::from_secs(180);
/// Racks a datacenter needs before StopByRack takes a whole rack down at once.
pub const MIN_RACKS_FOR_RACK_STOPS: usize = 3;
/// How the operation steps that explain a wait begin.
pub const WAIT_PREFIX: &str = "waiting: ";
/// How every stop step of a rolling restart ends (how [`owns_progress`] recognises them).
const ROLLING_MARK: &str = "(rolling restart";

/// What the rolling restart wants next.
#[derive(Debug, PartialEq, Eq)]
pub enum RollingStep<'a> {
    /// Every running node has the configuration the desired state renders.
    Settled,
    /// Some node is stale, but a safety gate holds: no node may go down now.
    Wait(String),
    /// Stop these nodes; they are started again with their new configuration on following passes.
    Stop(StopGroup<'a>),
}

/// The nodes one rolling step takes down together, and what was checked before.
#[derive(Debug, PartialEq, Eq)]
pub struct StopGroup<'a> {
    pub nodes: Vec<&'a NodeRecord>,
    /// The strategy and gates as the step reports them, e.g. `StopByRack, rack rack1 of dc1`.
    pub why: String,
}

impl StopGroup<'_> {
    /// The nodes' labels, for error messages.
    pub fn label(&self) -> String {
        let labels: Vec<String> = self.nodes.iter().map(|n| n.label()).collect();
        labels.join(", ")
    }
}

/// The next rolling-restart step, for a cluster whose nodes all answer their admin API.
pub fn next_step<'a>(
    provider: &dyn Provider,
    cluster: &ClusterRow,
    data_centers: &[&DataCenterRow],
    nodes: &'a [NodeRecord],
    seeds: &[IpAddr],
) -> Result<RollingStep<'a>, ProviderError> {
    let stale = stale_nodes(provider, cluster, data_centers, nodes, seeds)?;
    let Some(first) = stale.first() else {
        return Ok(RollingStep::Settled);
    };
    if let Some(down) = nodes.iter().find(|n| provider.all_peers_up(n) != Some(true)) {
        return Ok(RollingStep::Wait(format!(
            "until node {} reports every node Up and Normal",
            down.label()
        )));
    }
    let probed = match probe_gate(provider, cluster, data_centers, nodes)? {
        Gate::Open(how) => how,
        Gate::Closed(why) => return Ok(RollingStep::Wait(why)),
    };
    let strategy = cluster.properties.scheduled_event_strategy.unwrap_or_default();
    let racks_in_dc = |dc: &str| {
        let mut racks: Vec<&str> = nodes
            .iter()
            .filter(|n| n.data_center == dc)
            .map(|n| n.rack.as_str())
            .collect();
        racks.sort_unstable();
        racks.dedup();
        racks.len()
    };
    let (group, how) = match strategy {
        ScheduledEventStrategy::StopAny => (vec![*first], "StopAny".to_owned()),
        ScheduledEventStrategy::StopByRack if racks_in_dc(&first.data_center) >= MIN_RACKS_FOR_RACK_STOPS => {
            let rack: Vec<&NodeRecord> = stale
                .iter()
                .filter(|n| n.data_center == first.data_center && n.rack == first.rack)
                .copied()
                .collect();
            (
                rack,
                format!("StopByRack, rack {} of {}", first.rack, first.data_center),
            )
        }
        ScheduledEventStrategy::StopByRack => (
            vec![*first],
            format!(
                "StopByRack with fewer than {MIN_RACKS_FOR_RACK_STOPS} racks in {}: one node at a time",
                first.data_center
            ),
        ),
    };
    Ok(RollingStep::Stop(StopGroup {
        nodes: group,
        why: format!("{how}; every node reported every node Up and Normal; {probed}"),
    }))
}

/// [`next_step`], recording in the operation what the user should see: a wait reason as a step (once per
/// reason since the last real step) and percentComplete as the share of the operation's nodes already on their
/// new configuration.
#[allow(clippy::too_many_arguments)]
pub fn next_step_recorded<'a>(
    store: &Store,
    op: &mut Option<OperationResource>,
    provider: &dyn Provider,
    cluster: &ClusterRow,
    data_centers: &[&DataCenterRow],
    nodes: &'a [NodeRecord],
    seeds: &[IpAddr],
) -> Result<RollingStep<'a>, ProviderError> {
    let step = next_step(provider, cluster, data_centers, nodes, seeds)?;
    let Some(op) = op.as_mut() else {
        return Ok(step);
    };
    let mut changed = false;
    if !matches!(step, RollingStep::Settled) {
        let stale = stale_nodes(provider, cluster, data_centers, nodes, seeds)?;
        let percent = progress(op, nodes, &stale);
        if percent > op.percent_complete {
            op.percent_complete = percent;
            changed = true;
        }
    }
    if let RollingStep::Wait(why) = &step {
        let name = format!("{WAIT_PREFIX}{why}");
        let since_last_real_step = op
            .steps
            .iter()
            .rev()
            .take_while(|s| s.name.starts_with(WAIT_PREFIX));
        if !since_last_real_step.clone().any(|s| s.name == name) {
            op.steps.push(OperationStep {
                name,
                time: now_seconds(),
            });
            changed = true;
        }
    }
    if changed && let Err(e) = store.save_operation(op) {
        return Err(ProviderError::new(format!(
            "cannot record the rolling restart's progress: {e}"
        )));
    }
    Ok(step)
}

/// Stops every node of the group (the first failure is returned, naming its node).
pub fn stop(provider: &dyn Provider, group: &StopGroup<'_>) -> Result<(), ProviderError> {
    for node in &group.nodes {
        provider
            .stop_node(node)
            .map_err(|e| ProviderError::new(format!("node {}: {e}", node.label())))?;
    }
    Ok(())
}

/// The step name recorded in the operation when nodes are stopped for their new configuration.
pub fn stop_step_name(group: StopGroup<'_>) -> String {
    let noun = if group.nodes.len() == 1 { "node" } else { "nodes" };
    format!(
        "stopped {noun} {} to apply the new configuration {ROLLING_MARK}: {})",
        group.label(),
        group.why
    )
}

/// Whether the operation has waited longer than [`ROLLING_STEP_TIMEOUT`] since its last step that was not a
/// wait.
pub fn stalled(op: Option<&OperationResource>) -> bool {
    op.is_some_and(|op| {
        let since = op
            .steps
            .iter()
            .rev()
            .find(|s| !s.name.starts_with(WAIT_PREFIX))
            .map_or(op.start_time, |s| s.time);
        now_seconds().saturating_sub(since) > ROLLING_STEP_TIMEOUT.as_secs()
    })
}

/// Whether the operation is a rolling restart, whose percentComplete [`next_step_recorded`] keeps (the count of
/// answering nodes would say 66% as soon as the first of three nodes is down).
pub fn owns_progress(op: &OperationResource) -> bool {
    op.steps.iter().any(|s| s.name.contains(ROLLING_MARK))
}

/// Percent of the operation's nodes on their new configuration: the nodes of the datacenter an operation on
/// `/clusters/c/dataCenters/d` changes, else every node. Never 100 (the operation's end says that).
pub fn progress(op: &OperationResource, nodes: &[NodeRecord], stale: &[&NodeRecord]) -> u8 {
    let data_center = op.resource_id.split("/dataCenters/").nth(1);
    let in_scope = |n: &NodeRecord| data_center.is_none_or(|dc| n.data_center == dc);
    let total = nodes.iter().filter(|n| in_scope(n)).count();
    let pending = stale.iter().filter(|n| in_scope(n)).count();
    let done = total.saturating_sub(pending);
    u8::try_from(done * 100 / total.max(1)).unwrap_or(100).min(99)
}

/// Running nodes whose configuration on disk is not what the desired state renders, in node order.
fn stale_nodes<'a>(
    provider: &dyn Provider,
    cluster: &ClusterRow,
    data_centers: &[&DataCenterRow],
    nodes: &'a [NodeRecord],
    seeds: &[IpAddr],
) -> Result<Vec<&'a NodeRecord>, ProviderError> {
    let mut stale = Vec::new();
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
            stale.push(node);
        }
    }
    Ok(stale)
}

enum Gate {
    /// The probe passed (or was skipped); how, for the step name.
    Open(String),
    /// The probe failed; the wait reason.
    Closed(String),
}

/// Gate 2: a LOCAL_QUORUM read coordinated by every node of every datacenter.
fn probe_gate(
    provider: &dyn Provider,
    cluster: &ClusterRow,
    data_centers: &[&DataCenterRow],
    nodes: &[NodeRecord],
) -> Result<Gate, ProviderError> {
    let password = match cluster.properties.authentication_method.unwrap_or_default() {
        AuthenticationMethod::None => None,
        AuthenticationMethod::Cassandra => match provider.probe_password(&cluster.name, false)? {
            Some(password) => Some(password),
            None => {
                return Ok(Gate::Open(
                    "LOCAL_QUORUM probe skipped: the cluster has no probe role (its admin password was set \
                     before probes existed)"
                        .to_owned(),
                ));
            }
        },
    };
    let spec = ProbeSpec {
        password,
        replication: crate::probe::replication_for(nodes),
    };
    let mut names = Vec::new();
    for dc in data_centers {
        for node in nodes.iter().filter(|n| n.data_center == dc.name) {
            if let Err(e) = provider.local_quorum_probe(node, &spec) {
                tracing::info!("LOCAL_QUORUM probe through node {}: {e}", node.label());
                return Ok(Gate::Closed(format!(
                    "until a LOCAL_QUORUM read in datacenter {} coordinated by node {} succeeds",
                    dc.name,
                    node.label()
                )));
            }
        }
        names.push(dc.name.clone());
    }
    Ok(Gate::Open(format!(
        "a LOCAL_QUORUM read succeeded through every node of {}",
        names.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::collections::{HashMap, HashSet};
    use std::sync::Mutex;

    use mica_control_api::{ClusterProperties, DataCenterProperties, OperationStatus, ProvisioningState};

    use crate::probe::ProbeSpec;
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
        /// Nodes through which the LOCAL_QUORUM probe fails, and every probe run (coordinator, password).
        probe_failures: Mutex<HashSet<IpAddr>>,
        probes: Mutex<Vec<(IpAddr, Option<String>)>>,
        /// How many nodes may be down at once (StopByRack); 0 means one.
        max_down: Mutex<usize>,
        /// The kept probe role password (`None`: a cluster whose admin password predates probes).
        probe_password: Mutex<Option<String>>,
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
            let allowed = (*self.max_down.lock().unwrap()).max(1);
            assert!(
                running.len() + allowed >= self.rendered.lock().unwrap().len(),
                "more than {allowed} node(s) down at once"
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
        fn probe_password(&self, _: &str, _: bool) -> Result<Option<String>, ProviderError> {
            Ok(self.probe_password.lock().unwrap().clone())
        }
        fn local_quorum_probe(&self, node: &NodeRecord, probe: &ProbeSpec) -> Result<(), ProviderError> {
            assert_eq!(
                self.running.lock().unwrap().len(),
                self.rendered.lock().unwrap().len(),
                "probes run only while every node is up"
            );
            self.probes
                .lock()
                .unwrap()
                .push((node.address, probe.password.clone()));
            if self.probe_failures.lock().unwrap().contains(&node.address) {
                return Err(ProviderError::new("Unavailable: 1 of 2 replicas"));
            }
            Ok(())
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
        cluster_with(3, false, ClusterProperties::default())
    }

    fn cluster_with(nodes: i64, zones: bool, cluster: ClusterProperties) -> (Store, FakeProvider) {
        let store = Store::open_in_memory().unwrap();
        let cluster = ClusterProperties {
            cassandra_version: Some("4.0".into()),
            ..cluster
        };
        let op = new_operation("create cluster".into(), "/clusters/c1".into());
        store.create_cluster("c1", &cluster, None, &op).unwrap();
        let provider = FakeProvider::default();
        *provider.probe_password.lock().unwrap() = Some("probe-pw".into());
        converge(&store, &provider);
        let dc = DataCenterProperties {
            node_count: Some(nodes),
            availability_zone: Some(zones),
            ..Default::default()
        };
        let op = new_operation("create dc".into(), "/clusters/c1/dataCenters/dc1".into());
        store
            .put_data_center("c1", "dc1", &dc, ProvisioningState::Creating, &op)
            .unwrap();
        converge(&store, &provider);
        assert_eq!(
            provider.running.lock().unwrap().len(),
            usize::try_from(nodes).unwrap()
        );
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

    /// A new yaml fragment for dc1 (keeping its node count and zones): every node becomes stale.
    fn update_fragment(store: &Store) -> OperationResource {
        let mut dc = store.data_center("c1", "dc1").unwrap().unwrap().properties;
        dc.base64_encoded_cassandra_yaml_fragment =
            Some("Y29tcGFjdGlvbl90aHJvdWdocHV0OiA2NE1pQi9zCg==".into());
        let op = new_operation("update dc".into(), "/clusters/c1/dataCenters/dc1".into());
        store
            .put_data_center("c1", "dc1", &dc, ProvisioningState::Updating, &op)
            .unwrap();
        op
    }

    /// Another fragment, after `previous` finished.
    fn update_fragment_again(store: &Store, previous: OperationResource) -> OperationResource {
        assert_eq!(
            store.operation(&previous.id).unwrap().unwrap().status,
            OperationStatus::Succeeded
        );
        let mut dc = store.data_center("c1", "dc1").unwrap().unwrap().properties;
        dc.base64_encoded_cassandra_yaml_fragment =
            Some("Y29tcGFjdGlvbl90aHJvdWdocHV0OiAzMk1pQi9zCg==".into());
        let op = new_operation("update dc".into(), "/clusters/c1/dataCenters/dc1".into());
        store
            .put_data_center("c1", "dc1", &dc, ProvisioningState::Updating, &op)
            .unwrap();
        op
    }

    fn rack_of(store: &Store, address: &str) -> String {
        let address: IpAddr = address.parse().unwrap();
        store
            .nodes("c1")
            .unwrap()
            .into_iter()
            .find(|n| n.address == address)
            .unwrap()
            .rack
    }

    #[test]
    fn stop_by_rack_takes_each_rack_down_whole_and_the_next_only_after_it_is_back() {
        let strategy = ClusterProperties {
            scheduled_event_strategy: Some(ScheduledEventStrategy::StopByRack),
            ..Default::default()
        };
        let (store, provider) = cluster_with(6, true, strategy);
        *provider.max_down.lock().unwrap() = 2;
        let op = update_fragment(&store);
        converge(&store, &provider);
        let log = provider.log.lock().unwrap().clone();
        assert_eq!(log.len(), 12, "{log:?}");
        // stop, stop (one rack), start, start; three times, racks in order.
        for (i, chunk) in log.chunks(4).enumerate() {
            let addresses: Vec<&str> = chunk.iter().map(|l| l.split(' ').nth(1).unwrap()).collect();
            assert!(
                chunk[0].starts_with("stop") && chunk[1].starts_with("stop"),
                "{log:?}"
            );
            assert!(
                chunk[2].starts_with("start") && chunk[3].starts_with("start"),
                "{log:?}"
            );
            let rack = rack_of(&store, addresses[0]);
            assert_eq!(rack, format!("rack{}", i + 1), "{log:?}");
            assert!(addresses.iter().all(|a| rack_of(&store, a) == rack), "{log:?}");
        }
        let op = store.operation(&op.id).unwrap().unwrap();
        assert_eq!(op.status, OperationStatus::Succeeded);
        let stops: Vec<&str> = op
            .steps
            .iter()
            .map(|s| s.name.as_str())
            .filter(|s| s.starts_with("stopped"))
            .collect();
        assert_eq!(stops.len(), 3, "{stops:?}");
        assert!(stops[0].contains("StopByRack, rack rack1 of dc1"), "{}", stops[0]);
        assert!(stops[0].starts_with("stopped nodes "), "{}", stops[0]);
        assert!(
            stops[0].contains("a LOCAL_QUORUM read succeeded through every node of dc1"),
            "{}",
            stops[0]
        );
    }

    #[test]
    fn stop_by_rack_with_a_single_rack_restarts_one_node_at_a_time() {
        let strategy = ClusterProperties {
            scheduled_event_strategy: Some(ScheduledEventStrategy::StopByRack),
            ..Default::default()
        };
        let (store, provider) = cluster_with(3, false, strategy);
        let op = update_fragment(&store);
        converge(&store, &provider);
        let log = provider.log.lock().unwrap().clone();
        for pair in log.chunks(2) {
            assert_eq!(pair[0].replace("stop", "start"), pair[1], "{log:?}");
        }
        let op = store.operation(&op.id).unwrap().unwrap();
        assert!(
            op.steps
                .iter()
                .any(|s| s.name.contains("fewer than 3 racks in dc1: one node at a time")),
            "{:?}",
            op.steps
        );
    }

    #[test]
    fn a_failing_local_quorum_probe_holds_the_restart_and_says_why_once() {
        let no_auth = ClusterProperties {
            authentication_method: Some(AuthenticationMethod::None),
            ..Default::default()
        };
        let (store, provider) = cluster_with(3, false, no_auth);
        let addresses: Vec<IpAddr> = store.nodes("c1").unwrap().iter().map(|n| n.address).collect();
        provider.probe_failures.lock().unwrap().insert(addresses[1]);
        let op = update_fragment(&store);
        for _ in 0..5 {
            assert_eq!(pass(&store, &provider), Outcome::Waiting);
        }
        assert!(provider.log.lock().unwrap().is_empty(), "nothing stopped");
        let steps = store.operation(&op.id).unwrap().unwrap().steps;
        let waits: Vec<&str> = steps
            .iter()
            .map(|s| s.name.as_str())
            .filter(|s| s.starts_with(WAIT_PREFIX))
            .collect();
        assert_eq!(
            waits,
            [format!(
                "waiting: until a LOCAL_QUORUM read in datacenter dc1 coordinated by node c1/dc1/1 ({}) succeeds",
                addresses[1]
            )],
            "recorded once, however many passes wait"
        );
        // Anonymous probes on a cluster without authentication, through the nodes in order.
        let probes = provider.probes.lock().unwrap().clone();
        assert_eq!(probes[0], (addresses[0], None));
        assert_eq!(probes[1], (addresses[1], None));
        // A stalled operation counts from its last real step, not from its wait steps.
        assert!(!stalled(Some(&store.operation(&op.id).unwrap().unwrap())));

        provider.probe_failures.lock().unwrap().clear();
        converge(&store, &provider);
        assert_eq!(provider.log.lock().unwrap().len(), 6);
        assert_eq!(
            store.operation(&op.id).unwrap().unwrap().status,
            OperationStatus::Succeeded
        );
    }

    #[test]
    fn a_peer_reported_down_is_the_wait_reason_before_any_probe() {
        let (store, provider) = three_node_cluster();
        let addresses: Vec<IpAddr> = store.nodes("c1").unwrap().iter().map(|n| n.address).collect();
        provider.degraded.lock().unwrap().insert(addresses[0]);
        let op = update_fragment(&store);
        assert_eq!(pass(&store, &provider), Outcome::Waiting);
        assert!(provider.probes.lock().unwrap().is_empty());
        let steps = store.operation(&op.id).unwrap().unwrap().steps;
        assert_eq!(
            steps.last().unwrap().name,
            format!(
                "waiting: until node c1/dc1/0 ({}) reports every node Up and Normal",
                addresses[0]
            )
        );
    }

    #[test]
    fn percent_complete_counts_nodes_on_the_new_configuration() {
        let (store, provider) = three_node_cluster();
        let op = update_fragment(&store);
        let mut seen = Vec::new();
        while pass(&store, &provider) != Outcome::Converged {
            seen.push(store.operation(&op.id).unwrap().unwrap().percent_complete);
        }
        seen.dedup();
        assert_eq!(
            seen,
            [0, 33, 66],
            "never the 66% of two answering nodes while the first is down"
        );
        assert_eq!(store.operation(&op.id).unwrap().unwrap().percent_complete, 100);
    }

    #[test]
    fn password_clusters_probe_as_the_probe_role_or_skip_without_one() {
        let auth = ClusterProperties {
            authentication_method: Some(AuthenticationMethod::Cassandra),
            ..Default::default()
        };
        let (store, provider) = cluster_with(3, false, auth);
        let op = update_fragment(&store);
        converge(&store, &provider);
        let probes = provider.probes.lock().unwrap().clone();
        assert_eq!(probes.len(), 9, "three coordinators before each of three stops");
        assert!(probes.iter().all(|(_, p)| p.as_deref() == Some("probe-pw")));

        *provider.probe_password.lock().unwrap() = None;
        provider.probes.lock().unwrap().clear();
        let op = update_fragment_again(&store, op);
        converge(&store, &provider);
        assert!(
            provider.probes.lock().unwrap().is_empty(),
            "no probe role: no probe"
        );
        let steps = store.operation(&op.id).unwrap().unwrap().steps;
        assert!(
            steps
                .iter()
                .any(|s| s.name.contains("LOCAL_QUORUM probe skipped")),
            "{steps:?}"
        );
    }
}
