//! Automatic repairs, as Azure Managed Instance runs them for clusters with `repairEnabled` (absent means true):
//! once per interval (default five days, well inside the default `gc_grace_seconds` of ten days, so deleted data
//! cannot come back) a *round* repairs every node's primary ranges of every keyspace (`nodetool repair -pr`
//! through the node admin API), one node at a time, so together the nodes cover every range exactly once. A round
//! is due one interval after the previous one started (as Cassandra Reaper schedules); the first one interval
//! after the scheduler first saw the cluster.
//!
//! The scheduler runs on a thread of its own next to the reconciler and never overlaps an operation: a round
//! starts, and each node's repair begins, only while the cluster has no operation in progress, is not
//! deallocated and every node answers; otherwise it waits (the reason is reported in the cluster status). A node
//! repair that is already running when an operation starts runs to its end (a node-side repair cannot be
//! interrupted); no other starts until the operation finished. Node repairs run as [`Jobs`] so the thread keeps
//! looking at other clusters meanwhile.
//!
//! The schedule and the round's progress are in the store ([`RepairRecord`]), written before each step: after a
//! control-plane restart a finished round is not repeated, and a round half done goes on at the node whose repair
//! had not been recorded as finished (repeating that one node's repair, which is harmless). A node whose repair
//! fails is reported (`lastError`) and repaired again in the next round.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use mica_control_api::{RepairStatus, repair_enabled};
use mica_node_admin_api::RepairRequest;

use crate::jobs::{JobPoll, Jobs};
use crate::provider::Provider;
use crate::store::{ClusterRow, NodeRecord, RepairRecord, Store, StoreError, now_seconds};

/// How often rounds repeat unless `MICA_REPAIR_INTERVAL_SECONDS` says otherwise: five days, half of Cassandra's
/// default `gc_grace_seconds` (ten days), so a round that waits or fails once is still repeated in time.
pub const DEFAULT_REPAIR_INTERVAL: Duration = Duration::from_secs(5 * 24 * 3600);
/// The environment variable that overrides [`DEFAULT_REPAIR_INTERVAL`] (in seconds; tests use a few seconds).
pub const REPAIR_INTERVAL_ENV: &str = "MICA_REPAIR_INTERVAL_SECONDS";
/// How often the scheduler looks at every cluster.
const TICK: Duration = Duration::from_secs(1);
/// How long the scheduler thread sleeps between checks of the stop flag.
const STOP_POLL: Duration = Duration::from_millis(100);

/// The interval between rounds: [`REPAIR_INTERVAL_ENV`] when set to a positive number of seconds, else the default.
pub fn interval_from_env() -> Duration {
    match std::env::var(REPAIR_INTERVAL_ENV) {
        Ok(text) => match text.trim().parse::<u64>() {
            Ok(seconds) if seconds > 0 => Duration::from_secs(seconds),
            _ => {
                tracing::warn!(
                    "{REPAIR_INTERVAL_ENV}={text:?} is not a positive number of seconds; repairing every {} s",
                    DEFAULT_REPAIR_INTERVAL.as_secs()
                );
                DEFAULT_REPAIR_INTERVAL
            }
        },
        Err(_) => DEFAULT_REPAIR_INTERVAL,
    }
}

/// What the scheduler needs from the nodes (the provider's admin API in production, a fake in tests).
pub trait RepairTarget: Send + Sync {
    /// Whether the node's admin API answers.
    fn answering(&self, node: &NodeRecord) -> bool;
    /// Repairs the node's primary ranges of every keyspace; `Ok` holds a one-line summary for the log.
    fn repair(&self, node: &NodeRecord) -> Result<String, String>;
}

/// [`RepairTarget`] through a provider's node admin API.
pub struct AdminTarget(pub Arc<dyn Provider>);

impl RepairTarget for AdminTarget {
    fn answering(&self, node: &NodeRecord) -> bool {
        self.0.node_info(node).is_some()
    }

    fn repair(&self, node: &NodeRecord) -> Result<String, String> {
        let endpoint = self
            .0
            .admin_endpoint(node)
            .ok_or_else(|| "the node has no admin endpoint".to_owned())?;
        // The default (long) request timeout: a repair answers only when every keyspace is done.
        let client = mica_nodetool::AdminClient::new(&endpoint.host, endpoint.port, &endpoint.token);
        let report = client
            .repair(&RepairRequest {
                keyspace: None,
                tables: Vec::new(),
                primary_range: true,
                full: true,
            })
            .map_err(|e| e.to_string())?;
        let failed: Vec<String> = report
            .commands
            .iter()
            .filter(|c| !c.success)
            .map(|c| {
                format!(
                    "keyspace {}: {}",
                    c.keyspace,
                    c.error.as_deref().unwrap_or("repair failed")
                )
            })
            .collect();
        if !failed.is_empty() {
            return Err(failed.join("; "));
        }
        let ranges: u64 = report.commands.iter().map(|c| c.ranges_repaired).sum();
        let partitions: u64 = report.commands.iter().map(|c| c.partitions_repaired).sum();
        Ok(format!(
            "{} keyspace(s), {ranges} range(s), {partitions} partition(s) repaired",
            report.commands.len()
        ))
    }
}

/// What the scheduler does next for one cluster (decided from stored state only; see [`next_step`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Repairs are off for the cluster (a round in progress is dropped).
    Off,
    /// No round is in progress and the next one is due at this time.
    NotDue(u64),
    /// A round is due or in progress but must wait; the text says why.
    Wait(String),
    /// Start a round (every node still has to answer).
    StartRound,
    /// Repair this node next (every node still has to answer).
    Repair(NodeRecord),
    /// Every node of the round has been repaired.
    FinishRound,
}

/// The next step for `cluster` given its repair record, its nodes (in the store's order), the name of its
/// operation in progress and the time.
pub fn next_step(
    cluster: &ClusterRow,
    record: &RepairRecord,
    nodes: &[NodeRecord],
    operation: Option<&str>,
    now: u64,
) -> Step {
    if !repair_enabled(&cluster.properties) {
        return Step::Off;
    }
    let in_round = record.round_started.is_some();
    if !in_round && now < record.next_due {
        return Step::NotDue(record.next_due);
    }
    if cluster.deleting {
        return Step::Wait("the cluster is being deleted".into());
    }
    if cluster.properties.deallocated == Some(true) {
        return Step::Wait("the cluster is deallocated".into());
    }
    if let Some(operation) = operation {
        return Step::Wait(format!("operation '{operation}' is in progress"));
    }
    if !in_round {
        return if nodes.is_empty() {
            Step::Wait("the cluster has no nodes".into())
        } else {
            Step::StartRound
        };
    }
    match next_node(record, nodes) {
        Some(node) => Step::Repair(node.clone()),
        None => Step::FinishRound,
    }
}

/// The first node at or after the round's cursor.
fn next_node<'a>(record: &RepairRecord, nodes: &'a [NodeRecord]) -> Option<&'a NodeRecord> {
    let (dc, ordinal) = &record.next_node;
    nodes
        .iter()
        .find(|n| (n.data_center.as_str(), n.ordinal) >= (dc.as_str(), *ordinal))
}

/// The key of a cluster's node repair job.
fn job_key(cluster: &str) -> String {
    format!("repair/{cluster}")
}

/// The repair scheduler of every cluster.
pub struct Scheduler {
    store: Store,
    target: Arc<dyn RepairTarget>,
    jobs: Jobs,
    interval: u64,
}

impl Scheduler {
    pub fn new(store: Store, target: Arc<dyn RepairTarget>, interval: Duration) -> Scheduler {
        Scheduler {
            store,
            target,
            jobs: Jobs::default(),
            interval: interval.as_secs().max(1),
        }
    }

    /// Takes the next step of every cluster (a failure of one cluster is logged and does not stop the others).
    pub fn tick(&self, now: u64) -> Result<(), StoreError> {
        for cluster in self.store.clusters()? {
            if let Err(e) = self.tick_cluster(&cluster, now) {
                tracing::warn!("repair scheduling of cluster {} failed: {e}", cluster.name);
            }
        }
        Ok(())
    }

    fn tick_cluster(&self, cluster: &ClusterRow, now: u64) -> Result<(), StoreError> {
        let name = cluster.name.as_str();
        let mut record = match self.store.repair_record(name)? {
            Some(record) => record,
            None if repair_enabled(&cluster.properties) => {
                let record = RepairRecord::new(name, now.saturating_add(self.interval));
                self.store.save_repair_record(&record)?;
                tracing::info!(
                    "repair: cluster {name} gets a repair round every {} s; the first is due at {}",
                    self.interval,
                    record.next_due
                );
                record
            }
            None => return Ok(()),
        };
        let key = job_key(name);
        match self.jobs.poll(&key) {
            Some(JobPoll::Running) => return Ok(()),
            Some(JobPoll::Finished(outcome)) => {
                // The node under the cursor is the one whose repair just ended.
                if let Err(e) = outcome {
                    record.round_errors.push(e);
                }
                record.next_node.1 = record.next_node.1.saturating_add(1);
                self.store.save_repair_record(&record)?;
            }
            None => {}
        }
        let nodes = self.store.nodes(name)?;
        let operation = self.store.active_operation(name)?.map(|op| op.name);
        let mut step = next_step(cluster, &record, &nodes, operation.as_deref(), now);
        if matches!(step, Step::StartRound | Step::Repair(_))
            && let Some(down) = nodes.iter().find(|n| !self.target.answering(n))
        {
            step = Step::Wait(format!("node {} does not answer", down.label()));
        }
        match step {
            Step::Off => {
                if record.round_started.take().is_some() || record.waiting.take().is_some() {
                    tracing::info!(
                        "repair: repairs of cluster {name} are off; the round in progress is dropped"
                    );
                    self.store.save_repair_record(&record)?;
                }
            }
            Step::NotDue(_) => {
                if record.waiting.take().is_some() {
                    self.store.save_repair_record(&record)?;
                }
            }
            Step::Wait(reason) => {
                if record.waiting.as_deref() != Some(reason.as_str()) {
                    tracing::info!("repair: cluster {name} waits: {reason}");
                    record.waiting = Some(reason);
                    self.store.save_repair_record(&record)?;
                }
            }
            Step::StartRound => {
                record.round_started = Some(now);
                record.last_started = Some(now);
                record.next_due = now.saturating_add(self.interval);
                record.next_node = (String::new(), 0);
                record.round_errors.clear();
                record.waiting = None;
                self.store.save_repair_record(&record)?;
                tracing::info!(
                    "repair: round of cluster {name} started: primary ranges of every keyspace on {} node(s), \
                     one at a time",
                    nodes.len()
                );
            }
            Step::Repair(node) => {
                // The cursor points at the node before its repair starts, so a restart repeats at most this one.
                record.next_node = (node.data_center.clone(), node.ordinal);
                record.waiting = None;
                self.store.save_repair_record(&record)?;
                let position = nodes.iter().position(|n| n == &node).map_or(0, |i| i + 1);
                tracing::info!(
                    "repair: cluster {name}: repairing node {} ({position} of {})",
                    node.label(),
                    nodes.len()
                );
                let target = Arc::clone(&self.target);
                self.jobs.start(&key, move || {
                    let label = node.label();
                    match target.repair(&node) {
                        Ok(summary) => {
                            tracing::info!("repair: node {label} repaired: {summary}");
                            Ok(())
                        }
                        Err(e) => Err(format!("node {label}: {e}")),
                    }
                });
            }
            Step::FinishRound => {
                record.round_started = None;
                record.waiting = None;
                if record.round_errors.is_empty() {
                    record.last_completed = Some(now);
                    record.last_error = None;
                    tracing::info!("repair: round of cluster {name} completed");
                } else {
                    let errors = std::mem::take(&mut record.round_errors).join("; ");
                    tracing::warn!(
                        "repair: round of cluster {name} finished with failures (retried in the next round): \
                         {errors}"
                    );
                    record.last_error = Some(errors);
                }
                self.store.save_repair_record(&record)?;
            }
        }
        Ok(())
    }
}

/// Starts the scheduler thread; it stops when `stop` is set.
pub fn spawn(
    store: Store,
    provider: Arc<dyn Provider>,
    stop: Arc<AtomicBool>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let interval = interval_from_env();
    let scheduler = Scheduler::new(store, Arc::new(AdminTarget(provider)), interval);
    std::thread::Builder::new()
        .name("repair-scheduler".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if let Err(e) = scheduler.tick(now_seconds()) {
                    tracing::error!("repair scheduling pass failed: {e}");
                }
                let mut slept = Duration::ZERO;
                while slept < TICK && !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(STOP_POLL);
                    slept += STOP_POLL;
                }
            }
        })
}

/// The `repair` object of a cluster's status.
pub fn status(store: &Store, cluster: &ClusterRow) -> Result<RepairStatus, StoreError> {
    let enabled = repair_enabled(&cluster.properties);
    let Some(record) = store.repair_record(&cluster.name)? else {
        return Ok(RepairStatus {
            enabled,
            ..RepairStatus::default()
        });
    };
    let in_progress = enabled && record.round_started.is_some();
    let current_node = if in_progress {
        next_node(&record, &store.nodes(&cluster.name)?).map(|n| n.address.to_string())
    } else {
        None
    };
    Ok(RepairStatus {
        enabled,
        in_progress,
        current_node,
        waiting: if enabled { record.waiting } else { None },
        last_started: record.last_started,
        last_completed: record.last_completed,
        next_scheduled: (enabled && !in_progress).then_some(record.next_due),
        last_error: record.last_error,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::collections::HashSet;
    use std::net::IpAddr;
    use std::sync::Mutex;
    use std::time::Instant;

    use mica_control_api::{ClusterProperties, DataCenterProperties, OperationStatus, ProvisioningState};

    use super::*;
    use crate::store::new_operation;

    const INTERVAL: u64 = 100;

    /// Nodes that answer unless listed in `down`, repair instantly (or fail when listed in `failing`), and
    /// record every repair.
    #[derive(Default)]
    struct FakeTarget {
        repaired: Mutex<Vec<IpAddr>>,
        down: Mutex<HashSet<IpAddr>>,
        failing: Mutex<HashSet<IpAddr>>,
    }

    impl RepairTarget for FakeTarget {
        fn answering(&self, node: &NodeRecord) -> bool {
            !self.down.lock().unwrap().contains(&node.address)
        }
        fn repair(&self, node: &NodeRecord) -> Result<String, String> {
            self.repaired.lock().unwrap().push(node.address);
            if self.failing.lock().unwrap().contains(&node.address) {
                return Err("keyspace ks: endpoint died".into());
            }
            Ok("1 keyspace(s)".into())
        }
    }

    fn address(i: u8) -> IpAddr {
        IpAddr::from([127, 0, 77, i])
    }

    /// A cluster `c1` (repairEnabled as given) whose creation finished, with one datacenter of `nodes` nodes.
    fn cluster(repair: Option<bool>, nodes: u8) -> Store {
        let store = Store::open_in_memory().unwrap();
        let properties = ClusterProperties {
            repair_enabled: repair,
            ..Default::default()
        };
        let mut op = new_operation("create cluster c1".into(), "/clusters/c1".into());
        store.create_cluster("c1", &properties, None, &op).unwrap();
        let dc = DataCenterProperties {
            node_count: Some(i64::from(nodes)),
            ..Default::default()
        };
        let mut dc_op = new_operation(
            "create dataCenter dc1".into(),
            "/clusters/c1/dataCenters/dc1".into(),
        );
        store
            .put_data_center("c1", "dc1", &dc, ProvisioningState::Creating, &dc_op)
            .unwrap();
        dc_op.status = OperationStatus::Succeeded;
        store.save_operation(&dc_op).unwrap();
        for i in 0..nodes {
            store
                .insert_node(&NodeRecord {
                    cluster: "c1".into(),
                    data_center: "dc1".into(),
                    ordinal: u32::from(i),
                    address: address(i + 1),
                    rack: "rack1".into(),
                })
                .unwrap();
        }
        op.status = OperationStatus::Succeeded;
        store.save_operation(&op).unwrap();
        store
    }

    fn row(store: &Store) -> ClusterRow {
        store.cluster("c1").unwrap().unwrap()
    }

    fn record(store: &Store) -> RepairRecord {
        store.repair_record("c1").unwrap().unwrap()
    }

    /// Ticks at `now` until the stored record satisfies `done` (node repairs run on job threads).
    fn tick_until(scheduler: &Scheduler, store: &Store, now: u64, done: impl Fn(&RepairRecord) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            scheduler.tick(now).unwrap();
            if done(&record(store)) {
                return;
            }
            assert!(Instant::now() < deadline, "stuck at {:?}", record(store));
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn round_over(r: &RepairRecord) -> bool {
        r.round_started.is_none()
    }

    fn scheduler(store: &Store, target: &Arc<FakeTarget>) -> Scheduler {
        let target: Arc<dyn RepairTarget> = target.clone();
        Scheduler::new(store.clone(), target, Duration::from_secs(INTERVAL))
    }

    #[test]
    fn absent_repair_enabled_means_on_and_false_means_off() {
        let store = cluster(None, 1);
        let target = Arc::new(FakeTarget::default());
        let s = scheduler(&store, &target);
        s.tick(1000).unwrap();
        assert_eq!(record(&store).next_due, 1000 + INTERVAL);
        assert!(status(&store, &row(&store)).unwrap().enabled);

        let store = cluster(Some(false), 1);
        let s = scheduler(&store, &target);
        s.tick(1000).unwrap();
        s.tick(1000 + 10 * INTERVAL).unwrap();
        assert_eq!(store.repair_record("c1").unwrap(), None);
        assert!(target.repaired.lock().unwrap().is_empty());
        assert!(!status(&store, &row(&store)).unwrap().enabled);
    }

    #[test]
    fn a_round_is_due_once_per_interval_and_repairs_every_node_in_turn() {
        let store = cluster(None, 3);
        let target = Arc::new(FakeTarget::default());
        let s = scheduler(&store, &target);
        let nodes = store.nodes("c1").unwrap();
        s.tick(1000).unwrap();
        let r = record(&store);
        assert_eq!(
            next_step(&row(&store), &r, &nodes, None, 1050),
            Step::NotDue(1100)
        );
        assert_eq!(next_step(&row(&store), &r, &nodes, None, 1100), Step::StartRound);
        s.tick(1099).unwrap();
        assert_eq!(record(&store).round_started, None);

        s.tick(1100).unwrap();
        assert_eq!(record(&store).round_started, Some(1100));
        assert_eq!(record(&store).next_due, 1100 + INTERVAL);
        assert!(status(&store, &row(&store)).unwrap().in_progress);
        tick_until(&s, &store, 1101, round_over);
        assert_eq!(
            *target.repaired.lock().unwrap(),
            vec![address(1), address(2), address(3)]
        );
        let r = record(&store);
        assert_eq!(
            (r.last_started, r.last_completed, r.last_error),
            (Some(1100), Some(1101), None)
        );
        let shown = status(&store, &row(&store)).unwrap();
        assert!(!shown.in_progress);
        assert_eq!(shown.next_scheduled, Some(1200));

        // Not due again before the interval has passed since the round started.
        for t in 1102..1200 {
            s.tick(t).unwrap();
        }
        assert_eq!(target.repaired.lock().unwrap().len(), 3);
        s.tick(1200).unwrap();
        assert_eq!(record(&store).round_started, Some(1200));
    }

    #[test]
    fn an_operation_in_progress_pauses_a_round_and_it_resumes_after() {
        let store = cluster(None, 2);
        let target = Arc::new(FakeTarget::default());
        let s = scheduler(&store, &target);
        s.tick(1000).unwrap();
        // A due round does not start while an operation runs.
        let mut op = new_operation("update cluster c1".into(), "/clusters/c1".into());
        store.update_cluster("c1", &row(&store).properties, &op).unwrap();
        s.tick(1100).unwrap();
        let r = record(&store);
        assert_eq!(r.round_started, None);
        assert_eq!(
            r.waiting.as_deref(),
            Some("operation 'update cluster c1' is in progress")
        );
        assert_eq!(status(&store, &row(&store)).unwrap().waiting, r.waiting);
        op.status = OperationStatus::Succeeded;
        store.save_operation(&op).unwrap();
        s.tick(1101).unwrap();
        assert_eq!(record(&store).round_started, Some(1101));
        assert_eq!(record(&store).waiting, None);
        // The first node's repair starts; then an operation starts and holds the second node back.
        s.tick(1102).unwrap();
        let mut op = new_operation(
            "update dataCenter dc1".into(),
            "/clusters/c1/dataCenters/dc1".into(),
        );
        store.update_cluster("c1", &row(&store).properties, &op).unwrap();
        tick_until(&s, &store, 1103, |r| r.waiting.is_some());
        for t in 1104..1110 {
            s.tick(t).unwrap();
        }
        assert_eq!(*target.repaired.lock().unwrap(), vec![address(1)]);
        let shown = status(&store, &row(&store)).unwrap();
        assert!(shown.in_progress);
        assert_eq!(shown.current_node, Some(address(2).to_string()));
        op.status = OperationStatus::Succeeded;
        store.save_operation(&op).unwrap();
        tick_until(&s, &store, 1111, round_over);
        assert_eq!(*target.repaired.lock().unwrap(), vec![address(1), address(2)]);
        assert_eq!(record(&store).last_completed, Some(1111));
    }

    #[test]
    fn a_restarted_scheduler_goes_on_at_the_next_node_and_does_not_repeat_a_finished_round() {
        let store = cluster(None, 3);
        let target = Arc::new(FakeTarget::default());
        let s = scheduler(&store, &target);
        s.tick(1000).unwrap();
        s.tick(1100).unwrap();
        // The pass that collects the first node's outcome starts the second node's repair.
        tick_until(&s, &store, 1101, |r| r.next_node == ("dc1".to_owned(), 1));
        // The control plane stops: the second node's outcome is never collected.
        drop(s);
        let deadline = Instant::now() + Duration::from_secs(10);
        while target.repaired.lock().unwrap().len() < 2 {
            assert!(Instant::now() < deadline);
            std::thread::sleep(Duration::from_millis(5));
        }
        let restarted = scheduler(&store, &target);
        tick_until(&restarted, &store, 1102, round_over);
        assert_eq!(
            *target.repaired.lock().unwrap(),
            vec![address(1), address(2), address(2), address(3)],
            "only the node whose repair was not recorded as finished is repaired again"
        );
        assert_eq!(record(&store).last_completed, Some(1102));

        // Restarting after the round finished does not repeat it before the interval.
        let again = scheduler(&store, &target);
        for t in 1103..1200 {
            again.tick(t).unwrap();
        }
        assert_eq!(target.repaired.lock().unwrap().len(), 4);
    }

    #[test]
    fn a_failed_node_is_reported_and_repaired_again_next_round() {
        let store = cluster(None, 2);
        let target = Arc::new(FakeTarget::default());
        target.failing.lock().unwrap().insert(address(1));
        let s = scheduler(&store, &target);
        s.tick(1000).unwrap();
        s.tick(1100).unwrap();
        tick_until(&s, &store, 1101, round_over);
        let r = record(&store);
        assert_eq!(r.last_completed, None);
        let error = r.last_error.unwrap();
        assert!(
            error.contains("127.0.77.1") && error.contains("endpoint died"),
            "{error}"
        );
        assert_eq!(
            target.repaired.lock().unwrap().len(),
            2,
            "the round went on past the failure"
        );
        assert_eq!(
            status(&store, &row(&store)).unwrap().last_error.as_deref(),
            Some(error.as_str())
        );

        target.failing.lock().unwrap().clear();
        s.tick(1200).unwrap();
        tick_until(&s, &store, 1201, round_over);
        let r = record(&store);
        assert_eq!((r.last_completed, r.last_error), (Some(1201), None));
        assert_eq!(target.repaired.lock().unwrap().len(), 4);
    }

    #[test]
    fn a_node_that_does_not_answer_or_a_deallocated_cluster_holds_the_round() {
        let store = cluster(None, 2);
        let target = Arc::new(FakeTarget::default());
        target.down.lock().unwrap().insert(address(2));
        let s = scheduler(&store, &target);
        s.tick(1000).unwrap();
        s.tick(1100).unwrap();
        let r = record(&store);
        assert_eq!(r.round_started, None);
        assert!(r.waiting.unwrap().contains("does not answer"));
        target.down.lock().unwrap().clear();

        let mut deallocated = row(&store);
        deallocated.properties.deallocated = Some(true);
        let r = record(&store);
        let nodes = store.nodes("c1").unwrap();
        assert_eq!(
            next_step(&deallocated, &r, &nodes, None, 1101),
            Step::Wait("the cluster is deallocated".into())
        );
        s.tick(1101).unwrap();
        assert_eq!(record(&store).round_started, Some(1101));
        assert!(target.repaired.lock().unwrap().is_empty());
    }
}
