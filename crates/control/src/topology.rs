//! Topology changes the control plane drives through the node admin API, each as one safe step per reconcile
//! pass: taking a node out of the ring before its slot goes (decommission while it answers, removenode from a
//! live peer once it is dead), turnkey replication when a datacenter joins (keyspaces altered to include it,
//! then `rebuild` from an existing datacenter on its nodes) and the reverse when one is deleted (the
//! datacenter stripped from every keyspace before its nodes leave).
//!
//! Long node-side work runs as [`Jobs`]; what must survive a control-plane crash is either observable on the
//! nodes (ring membership, keyspace replication) or recorded in the store before acting (pending rebuilds).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use mica_control_api::AutoReplicate;
use mica_node_admin_api::{KeyspaceReplication, NodeLiveness, NodeState, RebuildRequest};
use mica_nodetool::{AdminClient, NodetoolError};

use crate::jobs::{JobPoll, Jobs};
use crate::provider::{ADMIN_PROBE_TIMEOUT_SECONDS, Provider};
use crate::store::{ClusterRow, DataCenterRow, NodeRecord, PendingRebuild, Store, StoreError};

/// The system keyspaces `autoReplicate: SystemKeyspaces` (and `AllKeyspaces`) replicate to every datacenter.
pub const REPLICATED_SYSTEM_KEYSPACES: [&str; 3] = ["system_auth", "system_distributed", "system_traces"];
/// The replication factor a datacenter gets at most (capped by its node count).
pub const DEFAULT_REPLICATION_FACTOR: u32 = 3;
/// How long a rebuild waits for every node to agree on the altered schema.
const SCHEMA_AGREEMENT_WAIT: Duration = Duration::from_secs(60);
/// How long a rebuild retries a node still busy with an earlier rebuild (one started before a restart).
const BUSY_NODE_WAIT: Duration = Duration::from_secs(600);
const POLL: Duration = Duration::from_secs(1);
const NETWORK_TOPOLOGY_STRATEGY: &str = "org.apache.cassandra.locator.NetworkTopologyStrategy";

/// What one topology step did.
#[derive(Debug, PartialEq, Eq)]
pub enum Progress {
    /// Nothing (more) to do.
    Settled,
    /// Took a step (recorded in the operation).
    Step(String),
    /// Waiting for the nodes; the text says for what.
    Wait(String),
    /// The operation cannot go on; the text says why and what to do.
    Failed(String),
}

/// An admin client for `node` with the long timeout node-side work needs.
fn admin(provider: &dyn Provider, node: &NodeRecord) -> Option<AdminClient> {
    let endpoint = provider.admin_endpoint(node)?;
    Some(AdminClient::new(&endpoint.host, endpoint.port, &endpoint.token))
}

/// An admin client for `node` with the short probe timeout.
fn probe(provider: &dyn Provider, node: &NodeRecord) -> Option<AdminClient> {
    Some(admin(provider, node)?.with_timeout(Duration::from_secs(ADMIN_PROBE_TIMEOUT_SECONDS)))
}

/// The first node of `candidates` whose admin API answers.
fn live_node<'a>(
    provider: &dyn Provider,
    candidates: impl IntoIterator<Item = &'a NodeRecord>,
) -> Option<(&'a NodeRecord, AdminClient)> {
    candidates.into_iter().find_map(|n| {
        let client = probe(provider, n)?;
        client.info().ok().map(|_| (n, client))
    })
}

/// A node of the cluster (other than `except`) that runs but has not finished joining: its admin API does not
/// answer yet, or it does not report itself Normal. Cassandra lets one node join at a time (two nodes
/// bootstrapping together could pick the same tokens and stream from replicas that are about to move).
pub fn joining_node<'a>(
    provider: &dyn Provider,
    nodes: &'a [NodeRecord],
    except: &NodeRecord,
) -> Option<&'a NodeRecord> {
    nodes
        .iter()
        .filter(|n| n.address != except.address && provider.is_running(n))
        .find(|n| provider.node_state(n) != Some(NodeState::Normal))
}

/// Takes `victim` out of the ring so its slot can go: `decommission` while it answers (it streams its ranges
/// to the nodes that take them over), `removenode` from a live peer once it is dead (the other replicas
/// re-stream its ranges). `Settled` once no node lists it any more and its process is stopped.
pub fn retire(provider: &dyn Provider, jobs: &Jobs, nodes: &[NodeRecord], victim: &NodeRecord) -> Progress {
    let key = format!("retire {}", victim.address);
    let label = victim.label();
    let mut left = false;
    match jobs.poll(&key) {
        Some(JobPoll::Running) => return Progress::Wait(format!("node {label} is leaving the ring")),
        Some(JobPoll::Finished(Err(e))) => {
            return Progress::Failed(format!("cannot take node {label} out of the ring: {e}"));
        }
        Some(JobPoll::Finished(Ok(()))) => left = true,
        None => {}
    }
    let answering = probe(provider, victim).filter(|c| c.info().is_ok());
    if !left && let Some(client) = answering {
        let status = match client.status(None) {
            Ok(status) => status,
            Err(e) => return Progress::Wait(format!("node {label} does not report its status: {e}")),
        };
        let address = victim.address.to_string();
        // A node that has left no longer lists itself; it is about to exit.
        match status
            .nodes
            .iter()
            .find(|p| p.address == address)
            .map(|p| p.state)
        {
            Some(NodeState::Normal) => {
                // The node checks replication factors against the schema it has: a keyspace just altered
                // to fit the smaller datacenter must have reached it.
                if !client
                    .describe_cluster()
                    .is_ok_and(|d| d.schema_versions.len() == 1)
                {
                    return Progress::Wait("the nodes do not agree on the schema yet".into());
                }
                let Some(client) = admin(provider, victim) else {
                    return Progress::Wait(format!("node {label} has no admin endpoint"));
                };
                jobs.start(&key, move || client.decommission().map_err(|e| e.to_string()));
                return Progress::Step(format!(
                    "decommissioning node {label}: it streams its data to the remaining replicas, then leaves \
                     the ring"
                ));
            }
            Some(NodeState::Leaving) => return Progress::Wait(format!("node {label} is leaving the ring")),
            Some(state) => {
                return Progress::Wait(format!(
                    "node {label} is {state:?}; it is decommissioned once Normal"
                ));
            }
            None => {}
        }
    } else if !left && provider.is_running(victim) {
        return Progress::Wait(format!("node {label} does not answer its admin API yet"));
    }
    // The node left or is dead: its process goes, then the ring must have forgotten it.
    if provider.is_running(victim)
        && let Err(e) = provider.stop_node(victim)
    {
        return Progress::Failed(format!("cannot stop node {label}: {e}"));
    }
    let Some((peer, client)) = live_node(provider, nodes.iter().filter(|n| n.address != victim.address))
    else {
        return Progress::Failed(format!(
            "no other node of cluster {} answers, so node {label} cannot be removed from the ring; start the \
             cluster and retry",
            victim.cluster
        ));
    };
    let status = match client.status(None) {
        Ok(status) => status,
        Err(e) => return Progress::Wait(format!("node {} does not report its status: {e}", peer.label())),
    };
    let address = victim.address.to_string();
    match status.nodes.iter().find(|p| p.address == address) {
        None => Progress::Settled,
        Some(p) if p.status == NodeLiveness::Up => {
            Progress::Wait(format!("node {label} is stopped but the ring still sees it Up"))
        }
        Some(p) => {
            let host_id = p.host_id.to_string();
            let Some(client) = admin(provider, peer) else {
                return Progress::Wait(format!("node {} has no admin endpoint", peer.label()));
            };
            jobs.start(&key, move || {
                client.remove_node(&host_id).map_err(|e| e.to_string())
            });
            Progress::Step(format!(
                "removing dead node {label} from the ring through {}: the other replicas re-stream its ranges",
                peer.address
            ))
        }
    }
}

/// The replication factor a keyspace gets in a datacenter of `node_count` nodes.
fn factor_for(node_count: i64, wanted: u32) -> u32 {
    u32::try_from(node_count.max(1))
        .unwrap_or(u32::MAX)
        .min(wanted.max(1))
}

/// Whether the control plane owns a keyspace's replication (min(3, nodes) replicas in every datacenter,
/// adjusted on every topology change): its own probe keyspace always, the system keyspaces when the cluster
/// auto-replicates.
pub fn is_managed(auto: AutoReplicate, keyspace: &str) -> bool {
    keyspace == crate::probe::PROBE_KEYSPACE
        || (auto != AutoReplicate::None && REPLICATED_SYSTEM_KEYSPACES.contains(&keyspace))
}

/// The keyspaces turnkey replication keeps in every datacenter.
fn in_scope(auto: AutoReplicate, keyspace: &KeyspaceReplication) -> bool {
    // User keyspaces with SimpleStrategy are left alone: turning them into NetworkTopologyStrategy would move
    // replicas without streaming.
    is_managed(auto, &keyspace.keyspace)
        || (auto == AutoReplicate::AllKeyspaces && keyspace.is_network_topology())
}

/// The replication a keyspace needs so that every datacenter of `dcs` holds it, or `None` when it has it.
/// A user keyspace gains the missing datacenters (at its largest factor, capped by their node counts) and
/// keeps the rest; a managed keyspace ([`is_managed`]) becomes NetworkTopologyStrategy with
/// min([`DEFAULT_REPLICATION_FACTOR`], nodes) replicas in every datacenter, following scale-outs and -ins.
/// Datacenters the control plane does not run (external ones) are kept as they are.
fn replication_with_every_dc(
    keyspace: &KeyspaceReplication,
    managed: bool,
    dcs: &[&DataCenterRow],
) -> Option<BTreeMap<String, String>> {
    let present = keyspace.data_centers();
    let wanted = present
        .values()
        .copied()
        .max()
        .unwrap_or(DEFAULT_REPLICATION_FACTOR);
    let mut factors: BTreeMap<String, u32> = present
        .iter()
        .map(|(dc, factor)| ((*dc).to_owned(), *factor))
        .collect();
    for dc in dcs {
        let nodes = dc.properties.node_count.unwrap_or(0);
        if managed {
            factors.insert(dc.name.clone(), factor_for(nodes, DEFAULT_REPLICATION_FACTOR));
        } else {
            factors
                .entry(dc.name.clone())
                .or_insert_with(|| factor_for(nodes, wanted));
        }
    }
    let unchanged = factors
        .iter()
        .map(|(dc, f)| (dc.as_str(), *f))
        .eq(present.iter().map(|(dc, f)| (*dc, *f)));
    if keyspace.is_network_topology() && unchanged {
        return None;
    }
    let mut replication = BTreeMap::from([("class".to_owned(), NETWORK_TOPOLOGY_STRATEGY.to_owned())]);
    replication.extend(factors.into_iter().map(|(dc, f)| (dc, f.to_string())));
    Some(replication)
}

/// Turnkey replication for the live datacenters: every keyspace in the cluster's `autoReplicate` scope gets
/// every datacenter (one keyspace per step, its rebuild recorded first), then pending rebuilds run. Called
/// only when every node answers.
pub fn replicate(
    store: &Store,
    provider: &dyn Provider,
    jobs: &Jobs,
    cluster: &ClusterRow,
    live_dcs: &[&DataCenterRow],
    nodes: &[NodeRecord],
) -> Result<Progress, StoreError> {
    let auto = cluster.properties.auto_replicate.unwrap_or_default();
    let pending = store.pending_rebuilds(&cluster.name)?;
    // Nothing to ask without nodes, or with a provider that gives no admin endpoints (it cannot tell, like
    // `Provider::config_is_current`'s default).
    if nodes.iter().all(|n| provider.admin_endpoint(n).is_none()) {
        return Ok(Progress::Settled);
    }
    let Some((_, client)) = live_node(provider, nodes) else {
        return Ok(Progress::Wait("no node answers its admin API".into()));
    };
    let keyspaces = match client.keyspaces() {
        Ok(k) => k,
        Err(e) => return Ok(Progress::Wait(format!("cannot list keyspaces: {e}"))),
    };
    // With one datacenter, SimpleStrategy system keyspaces stay as Cassandra creates them.
    let managed = keyspaces
        .iter()
        .filter(|k| in_scope(auto, k) && (live_dcs.len() > 1 || k.is_network_topology()));
    for keyspace in managed {
        let managed = is_managed(auto, &keyspace.keyspace);
        let Some(replication) = replication_with_every_dc(keyspace, managed, live_dcs) else {
            continue;
        };
        // A datacenter added to an existing keyspace must stream its data, unless the whole datacenter
        // is about to be rebuilt anyway. The rebuild is recorded before the keyspace changes.
        let before: Vec<&str> = keyspace.data_centers().into_keys().collect();
        let source = before
            .iter()
            .find(|dc| live_dcs.iter().any(|d| d.name == **dc))
            .map(|dc| (*dc).to_owned());
        for dc in live_dcs.iter().filter(|d| !before.contains(&d.name.as_str())) {
            let whole = pending
                .iter()
                .any(|p| p.data_center == dc.name && p.keyspace.is_none());
            if let (false, Some(source), true) = (whole, &source, keyspace.is_network_topology()) {
                store.add_pending_rebuild(&PendingRebuild {
                    cluster: cluster.name.clone(),
                    data_center: dc.name.clone(),
                    keyspace: Some(keyspace.keyspace.clone()),
                    source: source.clone(),
                })?;
            }
        }
        let altered = KeyspaceReplication {
            keyspace: keyspace.keyspace.clone(),
            replication,
        };
        let done = format!(
            "replicated keyspace {} to every datacenter: {}",
            altered.keyspace,
            describe(&altered.replication)
        );
        return Ok(alter(&client, &altered, done));
    }
    // One rebuild at a time, in the store's order.
    if let Some(rebuild) = pending.first() {
        let what = match &rebuild.keyspace {
            Some(ks) => format!("keyspace {ks} in datacenter {}", rebuild.data_center),
            None => format!("datacenter {}", rebuild.data_center),
        };
        let key = format!(
            "rebuild {}/{}/{}",
            rebuild.cluster,
            rebuild.data_center,
            rebuild.keyspace.as_deref().unwrap_or_default()
        );
        match jobs.poll(&key) {
            Some(JobPoll::Running) => {
                return Ok(Progress::Wait(format!(
                    "rebuilding {what} from {}",
                    rebuild.source
                )));
            }
            Some(JobPoll::Finished(Ok(()))) => {
                store.delete_pending_rebuild(rebuild)?;
                return Ok(Progress::Step(format!("rebuilt {what} from {}", rebuild.source)));
            }
            Some(JobPoll::Finished(Err(e))) => {
                return Ok(Progress::Failed(format!(
                    "rebuilding {what} from {} failed: {e}",
                    rebuild.source
                )));
            }
            None => {}
        }
        let targets: Vec<(String, AdminClient)> = nodes
            .iter()
            .filter(|n| n.data_center == rebuild.data_center)
            .filter_map(|n| Some((n.label(), admin(provider, n)?)))
            .collect();
        let request = RebuildRequest {
            source_dc: rebuild.source.clone(),
            keyspace: rebuild.keyspace.clone(),
            tokens: None,
        };
        let count = targets.len();
        jobs.start(&key, move || rebuild_nodes(&targets, &request));
        return Ok(Progress::Step(format!(
            "rebuilding {what} from {} (nodetool rebuild on {count} node(s))",
            rebuild.source
        )));
    }
    Ok(Progress::Settled)
}

/// Alters a keyspace's replication: `done` names the step; a refusal stops the operation, an unreachable node
/// is waited for.
fn alter(client: &AdminClient, altered: &KeyspaceReplication, done: String) -> Progress {
    match client.alter_replication(altered) {
        Ok(()) => Progress::Step(done),
        Err(e @ NodetoolError::Refused { .. }) => Progress::Failed(format!(
            "cannot alter the replication of keyspace {}: {e}",
            altered.keyspace
        )),
        Err(e) => Progress::Wait(format!("cannot alter keyspace {}: {e}", altered.keyspace)),
    }
}

/// `{'dc': rf, ...}` for an operation step.
fn describe(replication: &BTreeMap<String, String>) -> String {
    let dcs: Vec<String> = replication
        .iter()
        .filter(|(k, _)| k.as_str() != "class")
        .map(|(k, v)| format!("'{k}': {v}"))
        .collect();
    format!("{{{}}}", dcs.join(", "))
}

/// Waits until the nodes agree on the schema (the altered replication), then rebuilds them one at a time.
fn rebuild_nodes(targets: &[(String, AdminClient)], request: &RebuildRequest) -> Result<(), String> {
    let deadline = Instant::now() + SCHEMA_AGREEMENT_WAIT;
    loop {
        let agreed = targets
            .iter()
            .all(|(_, c)| c.describe_cluster().is_ok_and(|d| d.schema_versions.len() == 1));
        if agreed {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!(
                "the nodes did not agree on the schema within {}s",
                SCHEMA_AGREEMENT_WAIT.as_secs()
            ));
        }
        std::thread::sleep(POLL);
    }
    for (label, client) in targets {
        let deadline = Instant::now() + BUSY_NODE_WAIT;
        loop {
            match client.rebuild(request) {
                Ok(summary) => {
                    tracing::info!(
                        "node {label} rebuilt from {}: {} partitions, {} bytes",
                        request.source_dc,
                        summary.partitions,
                        summary.bytes
                    );
                    break;
                }
                // A rebuild started before a control-plane restart still runs there; this one follows it.
                Err(NodetoolError::Refused { status: 409, .. }) if Instant::now() < deadline => {
                    std::thread::sleep(POLL);
                }
                Err(e) => return Err(format!("node {label}: {e}")),
            }
        }
    }
    Ok(())
}

/// Before a datacenter's nodes leave: strips it from every keyspace (one per step) when the cluster
/// auto-replicates; without autoReplicate a keyspace that still replicates there stops the operation.
pub fn strip(
    provider: &dyn Provider,
    cluster: &ClusterRow,
    dc: &DataCenterRow,
    nodes: &[NodeRecord],
) -> Progress {
    let auto = cluster.properties.auto_replicate.unwrap_or_default();
    // Ask a node that stays, so the answer does not depend on a node about to leave.
    let staying = nodes.iter().filter(|n| n.data_center != dc.name);
    let Some((_, client)) = live_node(provider, staying) else {
        return Progress::Wait("no node outside the datacenter answers its admin API".into());
    };
    let keyspaces = match client.keyspaces() {
        Ok(k) => k,
        Err(e) => return Progress::Wait(format!("cannot list keyspaces: {e}")),
    };
    // One keyspace per step.
    if let Some(keyspace) = keyspaces
        .iter()
        .find(|k| k.data_centers().contains_key(dc.name.as_str()))
    {
        if keyspace.data_centers().len() == 1 {
            return Progress::Failed(format!(
                "keyspace {} replicates only to datacenter {}; drop it or add another datacenter to its \
                 replication first",
                keyspace.keyspace, dc.name
            ));
        }
        if auto == AutoReplicate::None && !is_managed(auto, &keyspace.keyspace) {
            return Progress::Failed(format!(
                "keyspace {} still replicates to datacenter {}; ALTER KEYSPACE to remove it (or set \
                 autoReplicate) first",
                keyspace.keyspace, dc.name
            ));
        }
        let mut replication = keyspace.replication.clone();
        replication.remove(&dc.name);
        let altered = KeyspaceReplication {
            keyspace: keyspace.keyspace.clone(),
            replication,
        };
        let done = format!(
            "removed datacenter {} from keyspace {}: {}",
            dc.name,
            altered.keyspace,
            describe(&altered.replication)
        );
        return alter(&client, &altered, done);
    }
    Progress::Settled
}

#[cfg(test)]
mod tests {
    use mica_control_api::DataCenterProperties;
    use mica_control_api::ProvisioningState;

    use super::*;

    fn dc(name: &str, nodes: i64) -> DataCenterRow {
        DataCenterRow {
            cluster: "c".into(),
            name: name.into(),
            properties: DataCenterProperties {
                node_count: Some(nodes),
                ..Default::default()
            },
            state: ProvisioningState::Succeeded,
            error: None,
            deleting: false,
        }
    }

    fn keyspace(name: &str, pairs: &[(&str, &str)]) -> KeyspaceReplication {
        KeyspaceReplication {
            keyspace: name.into(),
            replication: pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    #[test]
    fn a_new_datacenter_gets_the_keyspace_factor_capped_by_its_size() {
        let (dc1, dc2) = (dc("dc1", 3), dc("dc2", 2));
        let ks = keyspace("ks", &[("class", NETWORK_TOPOLOGY_STRATEGY), ("dc1", "3")]);
        let replication = replication_with_every_dc(&ks, false, &[&dc1, &dc2]).expect("dc2 is missing");
        assert_eq!(replication.get("dc1").map(String::as_str), Some("3"));
        assert_eq!(replication.get("dc2").map(String::as_str), Some("2"));
        let done = keyspace(
            "ks",
            &[("class", NETWORK_TOPOLOGY_STRATEGY), ("dc1", "3"), ("dc2", "2")],
        );
        assert_eq!(replication_with_every_dc(&done, false, &[&dc1, &dc2]), None);
    }

    #[test]
    fn system_keyspaces_on_simple_strategy_become_network_topology() {
        let (dc1, dc2) = (dc("dc1", 3), dc("dc2", 5));
        let ks = keyspace(
            "system_auth",
            &[
                ("class", "org.apache.cassandra.locator.SimpleStrategy"),
                ("replication_factor", "1"),
            ],
        );
        let replication = replication_with_every_dc(&ks, true, &[&dc1, &dc2]).expect("not NTS yet");
        assert_eq!(
            replication.get("class").map(String::as_str),
            Some(NETWORK_TOPOLOGY_STRATEGY)
        );
        assert!(!replication.contains_key("replication_factor"));
        assert_eq!(replication.get("dc1").map(String::as_str), Some("3"));
        assert_eq!(replication.get("dc2").map(String::as_str), Some("3"));
    }

    #[test]
    fn the_scope_follows_auto_replicate() {
        let user_nts = keyspace("ks", &[("class", NETWORK_TOPOLOGY_STRATEGY), ("dc1", "3")]);
        let user_simple = keyspace("ks2", &[("class", "SimpleStrategy"), ("replication_factor", "1")]);
        let traces = keyspace(
            "system_traces",
            &[("class", "SimpleStrategy"), ("replication_factor", "2")],
        );
        assert!(!in_scope(AutoReplicate::None, &traces));
        assert!(in_scope(AutoReplicate::SystemKeyspaces, &traces));
        assert!(!in_scope(AutoReplicate::SystemKeyspaces, &user_nts));
        assert!(in_scope(AutoReplicate::AllKeyspaces, &user_nts));
        assert!(!in_scope(AutoReplicate::AllKeyspaces, &user_simple));
    }
}
