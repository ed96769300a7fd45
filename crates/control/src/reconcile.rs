//! The reconciler: compares each cluster's desired state (the store) with what its nodes report (admin API via
//! the provider) and takes one step at a time, recording every step in the cluster's operation. It holds no
//! state of its own, so after a restart it simply recomputes the next step: a node slot written before its
//! process started is started; a process adopted from a killed control plane is recognised by its admin API.

use std::collections::HashSet;
use std::net::IpAddr;
use std::time::Duration;

use mica_control_api::{
    AuthenticationMethod, OperationError, OperationResource, OperationStatus, OperationStep, ProvisionError,
    ProvisioningState,
};

use crate::jobs::Jobs;
use crate::provider::{NodeSpec, Provider};
use crate::store::{ClusterRow, DataCenterRow, NodeRecord, Store, StoreError, now_seconds};
use crate::topology::{self, Progress};

/// Seed nodes per datacenter (the first ordinals), as Cassandra operators usually pick.
pub const SEEDS_PER_DATA_CENTER: usize = 3;
/// How long an operation may wait for its nodes to answer before it fails.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(180);
/// Racks nodes are spread over when a datacenter asks for availability zones.
pub const AVAILABILITY_ZONE_RACKS: u32 = 3;

/// What one reconcile pass did for a cluster.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Took a step; another pass should follow soon.
    Stepped(String),
    /// Waiting for nodes to answer.
    Waiting,
    /// Desired and observed state agree.
    Converged,
}

/// Takes at most one step for every cluster.
pub fn reconcile_all(store: &Store, provider: &dyn Provider, jobs: &Jobs) -> Result<(), StoreError> {
    for cluster in store.clusters()? {
        let name = cluster.name.clone();
        match reconcile_cluster(store, provider, jobs, cluster) {
            Ok(outcome) => tracing::debug!("cluster {name}: {outcome:?}"),
            Err(e) => tracing::error!("cluster {name}: {e}"),
        }
    }
    Ok(())
}

/// One reconcile pass for one cluster.
pub fn reconcile_cluster(
    store: &Store,
    provider: &dyn Provider,
    jobs: &Jobs,
    cluster: ClusterRow,
) -> Result<Outcome, StoreError> {
    let mut op = store.active_operation(&cluster.name)?;
    let step = |op: &mut Option<OperationResource>, name: String| -> Result<Outcome, StoreError> {
        tracing::info!("cluster {}: {name}", cluster.name);
        if let Some(op) = op.as_mut() {
            op.steps.push(OperationStep {
                name: name.clone(),
                time: now_seconds(),
            });
            store.save_operation(op)?;
        }
        Ok(Outcome::Stepped(name))
    };
    let fail =
        |op: &mut Option<OperationResource>, code: &str, message: String| -> Result<Outcome, StoreError> {
            tracing::error!("cluster {}: {message}", cluster.name);
            let error = ProvisionError {
                code: code.to_owned(),
                message: message.clone(),
            };
            store.set_cluster_state(&cluster.name, ProvisioningState::Failed, Some(&error))?;
            if let Some(op) = op.as_mut() {
                op.status = OperationStatus::Failed;
                op.end_time = Some(now_seconds());
                op.error = Some(OperationError {
                    code: code.to_owned(),
                    message,
                });
                store.save_operation(op)?;
            }
            Ok(Outcome::Waiting)
        };
    // A topology step's outcome: `None` lets the pass go on.
    let topology_outcome =
        |op: &mut Option<OperationResource>, progress: Progress| -> Option<Result<Outcome, StoreError>> {
            match progress {
                Progress::Settled => None,
                Progress::Step(name) => Some(step(op, name)),
                Progress::Wait(why) => {
                    tracing::info!("cluster {}: {why}", cluster.name);
                    Some(Ok(Outcome::Waiting))
                }
                Progress::Failed(message) => Some(fail(op, "TopologyChangeFailed", message)),
            }
        };
    // A node that has left the ring: its directory and slot go.
    let forget = |op: &mut Option<OperationResource>, node: &NodeRecord| -> Result<Outcome, StoreError> {
        let _ = provider.remove_node(node);
        store.delete_node(node)?;
        step(op, format!("removed node {}", node.label()))
    };
    let nodes = store.nodes(&cluster.name)?;
    let data_centers = store.data_centers(&cluster.name)?;

    // Deletion: stop nodes one at a time, then remove everything.
    if cluster.deleting {
        if let Some(node) = nodes.iter().find(|n| is_alive(provider, n)) {
            if let Err(e) = provider.stop_node(node) {
                return fail(
                    &mut op,
                    "NodeStopFailed",
                    format!("cannot stop node {}: {e}", node.label()),
                );
            }
            return step(&mut op, format!("stopped node {}", node.label()));
        }
        for node in &nodes {
            let _ = provider.remove_node(node);
        }
        if let Err(e) = provider.remove_cluster(&cluster.name) {
            return fail(&mut op, "RemoveFailed", e.to_string());
        }
        store.delete_cluster(&cluster.name)?;
        finish(store, &mut op)?;
        return Ok(Outcome::Converged);
    }

    if provider.cluster_ca(&cluster.name).is_none() {
        if let Err(e) = provider.prepare_cluster(&cluster.name) {
            return fail(&mut op, "CertificateFailed", e.to_string());
        }
        return step(&mut op, "created the cluster CA".to_owned());
    }

    // Datacenters being deleted, one at a time: stripped from every keyspace, then their nodes leave the
    // ring one by one (highest ordinal first), then the datacenter is forgotten.
    if let Some(dc) = data_centers.iter().find(|d| d.deleting) {
        let dc_nodes: Vec<&NodeRecord> = nodes.iter().filter(|n| n.data_center == dc.name).collect();
        if !dc_nodes.is_empty()
            && let Some(outcome) = topology_outcome(&mut op, topology::strip(provider, &cluster, dc, &nodes))
        {
            return outcome;
        }
        if let Some(victim) = dc_nodes.iter().max_by_key(|n| n.ordinal) {
            if let Some(outcome) = topology_outcome(&mut op, topology::retire(provider, jobs, &nodes, victim))
            {
                return outcome;
            }
            return forget(&mut op, victim);
        }
        store.delete_data_center(&cluster.name, &dc.name)?;
        return step(&mut op, format!("removed datacenter {}", dc.name));
    }

    let live_dcs: Vec<&DataCenterRow> = data_centers.iter().filter(|d| !d.deleting).collect();
    let seeds = seeds(&nodes);
    let deallocated = cluster.properties.deallocated == Some(true);
    let mut desired_total = 0usize;
    for dc in &live_dcs {
        let wanted = usize::try_from(dc.properties.node_count.unwrap_or(0)).unwrap_or(0);
        desired_total += wanted;
        let dc_nodes: Vec<&NodeRecord> = nodes.iter().filter(|n| n.data_center == dc.name).collect();
        // Grow: the slot (with its address) is written before anything is created for it.
        if dc_nodes.len() < wanted {
            let taken: HashSet<IpAddr> = store.all_nodes()?.iter().map(|n| n.address).collect();
            let address = match provider.allocate_address(&taken) {
                Ok(a) => a,
                Err(e) => return fail(&mut op, "NoAddress", e.to_string()),
            };
            let ordinal = dc_nodes.iter().map(|n| n.ordinal + 1).max().unwrap_or(0);
            let rack = if dc.properties.availability_zone == Some(true) {
                format!("rack{}", ordinal % AVAILABILITY_ZONE_RACKS + 1)
            } else {
                "rack1".to_owned()
            };
            let node = NodeRecord {
                cluster: cluster.name.clone(),
                data_center: dc.name.clone(),
                ordinal,
                address,
                rack,
            };
            store.insert_node(&node)?;
            return step(&mut op, format!("allocated node {}", node.label()));
        }
        // Shrink: the highest ordinal leaves the ring first (its data streams to the remaining replicas),
        // once the managed system keyspaces' replication fits the smaller datacenter.
        if dc_nodes.len() > wanted
            && let Some(node) = dc_nodes.iter().max_by_key(|n| n.ordinal)
        {
            if let Some(outcome) = topology_outcome(
                &mut op,
                topology::replicate(store, provider, jobs, &cluster, &live_dcs, &nodes)?,
            ) {
                return outcome;
            }
            if let Some(outcome) = topology_outcome(&mut op, topology::retire(provider, jobs, &nodes, node)) {
                return outcome;
            }
            return forget(&mut op, node);
        }
        for node in dc_nodes {
            let alive = is_alive(provider, node);
            if deallocated && alive {
                if let Err(e) = provider.stop_node(node) {
                    return fail(
                        &mut op,
                        "NodeStopFailed",
                        format!("cannot stop node {}: {e}", node.label()),
                    );
                }
                return step(&mut op, format!("stopped node {}", node.label()));
            }
            if !deallocated && !alive {
                if let Some(busy) = topology::joining_node(provider, &nodes, node) {
                    tracing::info!(
                        "cluster {}: node {} waits until node {} has joined",
                        cluster.name,
                        node.label(),
                        busy.label()
                    );
                    return Ok(Outcome::Waiting);
                }
                let spec = NodeSpec {
                    cluster: &cluster.properties,
                    data_center: &dc.properties,
                    node,
                    seeds: &seeds,
                };
                let started = provider
                    .prepare_node(&spec)
                    .and_then(|()| provider.start_node(node));
                if let Err(e) = started {
                    return fail(
                        &mut op,
                        "NodeStartFailed",
                        format!("cannot start node {}: {e}", node.label()),
                    );
                }
                // Auto-healing: a node of a settled cluster that died is restarted like any missing one.
                return step(&mut op, format!("started node {}", node.label()));
            }
        }
    }

    // Every node that should run runs; it is ready when its admin API answers as a node of this cluster.
    // A bootstrapping node answers before it has joined: ready means Normal in its own view too.
    let ready = |n: &NodeRecord| {
        provider
            .node_info(n)
            .is_some_and(|info| info.cluster_name == n.cluster)
            && provider.node_state(n) == Some(mica_node_admin_api::NodeState::Normal)
    };
    let not_ready: Vec<&NodeRecord> = if deallocated {
        Vec::new()
    } else {
        nodes.iter().filter(|n| !ready(n)).collect()
    };
    // The initial admin password, once every node answers; the cluster is Succeeded only after it.
    if not_ready.is_empty()
        && !deallocated
        && !nodes.is_empty()
        && cluster.properties.authentication_method.unwrap_or_default() == AuthenticationMethod::Cassandra
        && let Some(password) = store.pending_admin_password(&cluster.name)?
    {
        match crate::admin_password::set_on_nodes(provider, &nodes, &password) {
            Ok(()) => {
                store.delete_pending_admin_password(&cluster.name)?;
                return step(
                    &mut op,
                    format!(
                        "set the password of the cassandra role on {} node(s)",
                        nodes.len()
                    ),
                );
            }
            Err(e)
                if op.as_ref().is_some_and(|o| {
                    now_seconds().saturating_sub(o.start_time) > OPERATION_TIMEOUT.as_secs()
                }) =>
            {
                return fail(&mut op, "AdminPasswordFailed", e.to_string());
            }
            Err(e) => {
                tracing::warn!("cluster {}: admin password not set yet: {e}", cluster.name);
                return Ok(Outcome::Waiting);
            }
        }
    }
    // Turnkey replication: keyspaces follow the datacenters, new datacenters rebuild from an existing one.
    if not_ready.is_empty()
        && !deallocated
        && let Some(outcome) = topology_outcome(
            &mut op,
            topology::replicate(store, provider, jobs, &cluster, &live_dcs, &nodes)?,
        )
    {
        return outcome;
    }
    // Rolling restart: a running node whose configuration is stale (new sku, yaml fragment or version) is
    // stopped, one per pass and only while every node is Up; the start path above brings it back with the new
    // configuration.
    if not_ready.is_empty() && !deallocated {
        match crate::rolling::next_step_recorded(
            store, &mut op, provider, &cluster, &live_dcs, &nodes, &seeds,
        ) {
            Ok(crate::rolling::RollingStep::Settled) => {}
            Ok(crate::rolling::RollingStep::Wait(why)) => {
                if crate::rolling::stalled(op.as_ref()) {
                    return fail(&mut op, "RollingRestartTimeout", why);
                }
                tracing::info!("cluster {}: rolling restart waits: {why}", cluster.name);
                return Ok(Outcome::Waiting);
            }
            Ok(crate::rolling::RollingStep::Stop(node)) => {
                if let Err(e) = crate::rolling::stop(provider, &node) {
                    return fail(
                        &mut op,
                        "NodeStopFailed",
                        format!("cannot stop node {}: {e}", node.label()),
                    );
                }
                return step(&mut op, crate::rolling::stop_step_name(node));
            }
            Err(e) => return fail(&mut op, "ConfigurationFailed", e.to_string()),
        }
    }
    if not_ready.is_empty() {
        for dc in &live_dcs {
            if dc.state != ProvisioningState::Succeeded {
                store.set_data_center_state(&cluster.name, &dc.name, ProvisioningState::Succeeded, None)?;
            }
        }
        if cluster.state != ProvisioningState::Succeeded {
            store.set_cluster_state(&cluster.name, ProvisioningState::Succeeded, None)?;
        }
        finish(store, &mut op)?;
        return Ok(Outcome::Converged);
    }
    if let Some(current) = op.as_mut() {
        let done = nodes.len().saturating_sub(not_ready.len());
        let percent = u8::try_from(done * 100 / desired_total.max(1))
            .unwrap_or(100)
            .min(99);
        if percent > current.percent_complete && !crate::rolling::owns_progress(current) {
            current.percent_complete = percent;
            store.save_operation(current)?;
        }
        // Measured from the last step, so a long rolling restart is not cut off by its total duration.
        let since = current.steps.last().map_or(current.start_time, |s| s.time);
        if now_seconds().saturating_sub(since) > OPERATION_TIMEOUT.as_secs() {
            let names: Vec<String> = not_ready
                .iter()
                .map(|n| format!("{} (log: {})", n.label(), provider.log_location(n)))
                .collect();
            return fail(
                &mut op,
                "NodeStartTimeout",
                format!(
                    "nodes did not answer their admin API within {}s: {}",
                    OPERATION_TIMEOUT.as_secs(),
                    names.join(", ")
                ),
            );
        }
    }
    Ok(Outcome::Waiting)
}

/// A node counts as alive when the provider runs it or its admin API answers (an adopted orphan).
fn is_alive(provider: &dyn Provider, node: &NodeRecord) -> bool {
    provider.is_running(node) || provider.node_info(node).is_some()
}

/// The first [`SEEDS_PER_DATA_CENTER`] nodes of every datacenter.
pub fn seeds(nodes: &[NodeRecord]) -> Vec<IpAddr> {
    let mut seeds = Vec::new();
    let mut per_dc: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for node in nodes {
        let count = per_dc.entry(node.data_center.as_str()).or_default();
        if *count < SEEDS_PER_DATA_CENTER {
            seeds.push(node.address);
            *count += 1;
        }
    }
    seeds
}

fn finish(store: &Store, op: &mut Option<OperationResource>) -> Result<(), StoreError> {
    if let Some(op) = op.as_mut() {
        op.status = OperationStatus::Succeeded;
        op.percent_complete = 100;
        op.end_time = Some(now_seconds());
        store.save_operation(op)?;
        tracing::info!("operation {} ({}) succeeded", op.id, op.name);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::collections::HashMap;
    use std::sync::Mutex;

    use mica_control_api::{ClusterProperties, DataCenterProperties};
    use mica_node_admin_api::NodeInfo;

    use super::*;
    use crate::provider::{AdminEndpoint, ProviderError};
    use crate::store::new_operation;

    /// A provider that keeps "processes" in a map and checks, at every start, that the store already holds
    /// the node's slot (intent is written before acting).
    struct FakeProvider {
        store: Store,
        running: Mutex<HashMap<IpAddr, String>>,
        ca: Mutex<bool>,
        log: Mutex<Vec<String>>,
        /// Nodes told the admin password, and how many attempts fail first (a node still starting).
        passwords: Mutex<Vec<(IpAddr, String)>>,
        password_failures: Mutex<u32>,
    }

    impl Provider for FakeProvider {
        fn node_state(&self, node: &NodeRecord) -> Option<mica_node_admin_api::NodeState> {
            self.is_running(node)
                .then_some(mica_node_admin_api::NodeState::Normal)
        }
        fn prepare_cluster(&self, _: &str) -> Result<(), ProviderError> {
            *self.ca.lock().unwrap() = true;
            Ok(())
        }
        fn cluster_ca(&self, _: &str) -> Option<String> {
            self.ca.lock().unwrap().then(|| "pem".to_owned())
        }
        fn allocate_address(&self, taken: &HashSet<IpAddr>) -> Result<IpAddr, ProviderError> {
            Ok((1..250u8)
                .map(|i| IpAddr::from([127, 0, 99, i]))
                .find(|a| !taken.contains(a))
                .unwrap())
        }
        fn prepare_node(&self, spec: &NodeSpec<'_>) -> Result<(), ProviderError> {
            assert!(!spec.seeds.is_empty());
            Ok(())
        }
        fn start_node(&self, node: &NodeRecord) -> Result<(), ProviderError> {
            assert!(
                self.store.nodes(&node.cluster).unwrap().contains(node),
                "slot must be stored before the node starts"
            );
            self.log.lock().unwrap().push(format!("start {}", node.address));
            self.running
                .lock()
                .unwrap()
                .insert(node.address, node.cluster.clone());
            Ok(())
        }
        fn is_running(&self, node: &NodeRecord) -> bool {
            self.running.lock().unwrap().contains_key(&node.address)
        }
        fn stop_node(&self, node: &NodeRecord) -> Result<(), ProviderError> {
            self.log.lock().unwrap().push(format!("stop {}", node.address));
            self.running.lock().unwrap().remove(&node.address);
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
        fn set_admin_password(
            &self,
            node: &NodeRecord,
            password: &str,
        ) -> Result<crate::admin_password::PasswordOutcome, ProviderError> {
            let mut failures = self.password_failures.lock().unwrap();
            if *failures > 0 {
                *failures -= 1;
                return Err(ProviderError::new("not yet"));
            }
            self.passwords
                .lock()
                .unwrap()
                .push((node.address, password.to_owned()));
            Ok(crate::admin_password::PasswordOutcome::Changed)
        }
        fn node_info(&self, node: &NodeRecord) -> Option<NodeInfo> {
            let cluster = self.running.lock().unwrap().get(&node.address).cloned()?;
            Some(NodeInfo {
                host_id: uuid::Uuid::nil(),
                cluster_name: cluster,
                release_version: "4.1.5".into(),
                data_center: node.data_center.clone(),
                rack: node.rack.clone(),
                listen_address: node.address.to_string(),
                native_address: None,
                native_transport_active: true,
                gossip_active: false,
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

    fn setup(nodes: i64) -> (Store, FakeProvider) {
        let store = Store::open_in_memory().unwrap();
        let op = new_operation("create cluster".into(), "/clusters/c1".into());
        store
            .create_cluster("c1", &ClusterProperties::default(), None, &op)
            .unwrap();
        // The cluster op finishes first, as the API would have waited for it.
        reconcile_until_converged(&store, &FakeProvider::new(&store));
        let dc = DataCenterProperties {
            node_count: Some(nodes),
            ..Default::default()
        };
        let op = new_operation("create dc".into(), "/clusters/c1/dataCenters/dc1".into());
        store
            .put_data_center("c1", "dc1", &dc, ProvisioningState::Creating, &op)
            .unwrap();
        let provider = FakeProvider::new(&store);
        *provider.ca.lock().unwrap() = true;
        (store, provider)
    }

    impl FakeProvider {
        fn new(store: &Store) -> FakeProvider {
            FakeProvider {
                store: store.clone(),
                running: Mutex::new(HashMap::new()),
                ca: Mutex::new(false),
                log: Mutex::new(Vec::new()),
                passwords: Mutex::new(Vec::new()),
                password_failures: Mutex::new(0),
            }
        }
    }

    fn reconcile_until_converged(store: &Store, provider: &FakeProvider) -> usize {
        for passes in 1..100 {
            let cluster = match store.cluster("c1").unwrap() {
                Some(c) => c,
                None => return passes,
            };
            if reconcile_cluster(store, provider, &crate::jobs::Jobs::default(), cluster).unwrap()
                == Outcome::Converged
            {
                return passes;
            }
        }
        panic!("did not converge");
    }

    #[test]
    fn create_takes_one_step_per_pass_and_succeeds() {
        let (store, provider) = setup(2);
        let op = store.active_operation("c1").unwrap().unwrap();
        let passes = reconcile_until_converged(&store, &provider);
        // allocate, allocate, start, start, then the converging pass.
        assert_eq!(passes, 5);
        let op = store.operation(&op.id).unwrap().unwrap();
        assert_eq!(op.status, OperationStatus::Succeeded);
        assert_eq!(op.percent_complete, 100);
        assert_eq!(op.steps.len(), 4, "{:?}", op.steps);
        assert_eq!(
            store.cluster("c1").unwrap().unwrap().state,
            ProvisioningState::Succeeded
        );
        assert_eq!(
            store.data_center("c1", "dc1").unwrap().unwrap().state,
            ProvisioningState::Succeeded
        );
        assert_eq!(provider.running.lock().unwrap().len(), 2);
    }

    #[test]
    fn a_restarted_control_plane_resumes_from_the_stored_slots() {
        let (store, provider) = setup(3);
        // Two passes: two slots written, nothing started; then the control plane "dies".
        for _ in 0..2 {
            let c = store.cluster("c1").unwrap().unwrap();
            reconcile_cluster(&store, &provider, &Jobs::default(), c).unwrap();
        }
        assert_eq!(store.nodes("c1").unwrap().len(), 2);
        assert!(provider.running.lock().unwrap().is_empty());
        let fresh = FakeProvider::new(&store);
        *fresh.ca.lock().unwrap() = true;
        reconcile_until_converged(&store, &fresh);
        let nodes = store.nodes("c1").unwrap();
        assert_eq!(nodes.len(), 3);
        let addresses: HashSet<IpAddr> = nodes.iter().map(|n| n.address).collect();
        assert_eq!(addresses.len(), 3, "no address handed out twice");
    }

    #[test]
    fn crashed_nodes_are_restarted_and_delete_stops_everything() {
        let (store, provider) = setup(2);
        reconcile_until_converged(&store, &provider);
        let victim = store.nodes("c1").unwrap()[1].address;
        provider.running.lock().unwrap().remove(&victim);
        reconcile_until_converged(&store, &provider);
        assert!(
            provider.running.lock().unwrap().contains_key(&victim),
            "auto-healed"
        );

        let op = new_operation("delete".into(), "/clusters/c1".into());
        store.mark_cluster_deleting("c1", &op).unwrap();
        reconcile_until_converged(&store, &provider);
        assert!(provider.running.lock().unwrap().is_empty());
        assert!(store.cluster("c1").unwrap().is_none());
        assert_eq!(
            store.operation(&op.id).unwrap().unwrap().status,
            OperationStatus::Succeeded
        );
    }

    #[test]
    fn scale_in_never_stops_a_node_the_ring_may_still_hold() {
        let (store, provider) = setup(3);
        reconcile_until_converged(&store, &provider);
        let dc = DataCenterProperties {
            node_count: Some(1),
            ..Default::default()
        };
        let op = new_operation("scale".into(), "/clusters/c1/dataCenters/dc1".into());
        store
            .put_data_center("c1", "dc1", &dc, ProvisioningState::Updating, &op)
            .unwrap();
        // The fake nodes have no admin API, so the victim can neither be decommissioned nor be seen to have
        // left the ring: the reconciler waits rather than stopping it and dropping its slot.
        let jobs = Jobs::default();
        for _ in 0..5 {
            let c = store.cluster("c1").unwrap().unwrap();
            assert_eq!(
                reconcile_cluster(&store, &provider, &jobs, c).unwrap(),
                Outcome::Waiting
            );
        }
        assert_eq!(store.nodes("c1").unwrap().len(), 3);
        assert_eq!(provider.running.lock().unwrap().len(), 3);
        assert!(
            provider
                .log
                .lock()
                .unwrap()
                .iter()
                .all(|l| !l.starts_with("stop"))
        );
    }

    #[test]
    fn the_admin_password_is_set_on_every_node_before_success_then_forgotten() {
        let store = Store::open_in_memory().unwrap();
        let op = new_operation("create cluster".into(), "/clusters/c1".into());
        store
            .create_cluster("c1", &ClusterProperties::default(), Some("n3w-pass"), &op)
            .unwrap();
        let provider = FakeProvider::new(&store);
        reconcile_until_converged(&store, &provider);
        // No nodes yet: the password waits for the first datacenter.
        assert!(store.pending_admin_password("c1").unwrap().is_some());
        let dc = DataCenterProperties {
            node_count: Some(2),
            ..Default::default()
        };
        let op = new_operation("create dc".into(), "/clusters/c1/dataCenters/dc1".into());
        store
            .put_data_center("c1", "dc1", &dc, ProvisioningState::Creating, &op)
            .unwrap();
        *provider.password_failures.lock().unwrap() = 2;
        for _ in 0..4 {
            let c = store.cluster("c1").unwrap().unwrap();
            reconcile_cluster(&store, &provider, &Jobs::default(), c).unwrap();
        }
        // Both nodes started; the first attempts fail (nodes still starting) and nothing is Succeeded yet.
        for _ in 0..2 {
            let c = store.cluster("c1").unwrap().unwrap();
            assert_eq!(
                reconcile_cluster(&store, &provider, &Jobs::default(), c).unwrap(),
                Outcome::Waiting
            );
            assert_eq!(
                store.cluster("c1").unwrap().unwrap().state,
                ProvisioningState::Updating
            );
        }
        reconcile_until_converged(&store, &provider);
        let told = provider.passwords.lock().unwrap().clone();
        assert_eq!(told.len(), 2, "every node: {told:?}");
        assert!(told.iter().all(|(_, p)| p == "n3w-pass"));
        assert!(store.pending_admin_password("c1").unwrap().is_none());
        let op = store.operation(&op.id).unwrap().unwrap();
        assert_eq!(op.status, OperationStatus::Succeeded);
        assert!(
            op.steps
                .iter()
                .any(|s| s.name == "set the password of the cassandra role on 2 node(s)"),
            "{:?}",
            op.steps
        );
        assert_eq!(
            store.cluster("c1").unwrap().unwrap().state,
            ProvisioningState::Succeeded
        );
    }
}
