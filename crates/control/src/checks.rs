//! Checks the API makes against the running nodes (through their admin API) before it accepts a topology
//! change, so a request that cannot safely finish is refused with a 400 instead of failing half-way:
//! deleting a datacenter that keyspaces still replicate to, and a scale-in the remaining nodes lack the disk
//! space for. They block (HTTP to the nodes): call them from a blocking thread.

use std::time::Duration;

use mica_control_api::AutoReplicate;
use mica_nodetool::AdminClient;

use crate::provider::{ADMIN_PROBE_TIMEOUT_SECONDS, Provider};
use crate::store::NodeRecord;

/// Share of a node's free disk a scale-in may fill with the data streamed to it (compaction needs the rest).
pub const SCALE_IN_FREE_SPACE_SHARE: f64 = 0.9;

/// Why a check refused the request (the message says what to change) or could not decide.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Unknown(String),
}

/// A short-timeout admin client of the first node in `nodes` that answers.
fn any_live(provider: &dyn Provider, nodes: &[&NodeRecord]) -> Option<AdminClient> {
    nodes.iter().find_map(|n| {
        let endpoint = provider.admin_endpoint(n)?;
        let client = AdminClient::new(&endpoint.host, endpoint.port, &endpoint.token)
            .with_timeout(Duration::from_secs(ADMIN_PROBE_TIMEOUT_SECONDS));
        client.info().ok().map(|_| client)
    })
}

/// Refuses deleting datacenter `dc` while a keyspace replicates only there, or (without autoReplicate, which
/// would strip it first) while any keyspace still replicates there.
pub fn data_center_deletion(
    provider: &dyn Provider,
    auto: AutoReplicate,
    nodes: &[NodeRecord],
    dc: &str,
) -> Result<(), CheckError> {
    let staying: Vec<&NodeRecord> = nodes.iter().filter(|n| n.data_center != dc).collect();
    if staying.is_empty() {
        return Err(CheckError::Refused(format!(
            "datacenter '{dc}' is the cluster's last datacenter; delete the cluster instead"
        )));
    }
    let client = any_live(provider, &staying).ok_or_else(|| {
        CheckError::Unknown(format!(
            "no node outside datacenter '{dc}' answers, so its keyspaces cannot be checked; start the cluster \
             and retry"
        ))
    })?;
    let keyspaces = client
        .keyspaces()
        .map_err(|e| CheckError::Unknown(format!("cannot list keyspaces: {e}")))?;
    // The control plane's own keyspace is stripped whatever autoReplicate says.
    let referencing: Vec<_> = keyspaces
        .iter()
        .filter(|k| k.data_centers().contains_key(dc) && k.keyspace != crate::probe::PROBE_KEYSPACE)
        .collect();
    if let Some(only) = referencing.iter().find(|k| k.data_centers().len() == 1) {
        return Err(CheckError::Refused(format!(
            "keyspace '{}' replicates only to datacenter '{dc}'; drop it or add another datacenter to its \
             replication, then retry",
            only.keyspace
        )));
    }
    if auto == AutoReplicate::None && !referencing.is_empty() {
        let names: Vec<&str> = referencing.iter().map(|k| k.keyspace.as_str()).collect();
        return Err(CheckError::Refused(format!(
            "keyspace(s) {} still replicate to datacenter '{dc}'; remove '{dc}' from their replication \
             (ALTER KEYSPACE) or set the cluster's autoReplicate to SystemKeyspaces or AllKeyspaces, then retry",
            names.join(", ")
        )));
    }
    Ok(())
}

/// Refuses shrinking datacenter `dc` from its current nodes to `keep` when a keyspace keeps more replicas
/// there than nodes would remain (Cassandra refuses such a decommission; the managed system keyspaces are
/// lowered by the reconciler when the cluster auto-replicates), or when the data of the nodes that leave
/// (the highest ordinals) does not fit in the free space of those that stay. Nodes that do not answer are
/// not counted, so an unreachable datacenter is not refused on a guess.
pub fn scale_in(
    provider: &dyn Provider,
    auto: AutoReplicate,
    dc: &str,
    dc_nodes: &[NodeRecord],
    keep: usize,
) -> Result<(), CheckError> {
    let mut ordered: Vec<&NodeRecord> = dc_nodes.iter().collect();
    ordered.sort_by_key(|n| n.ordinal);
    if keep >= ordered.len() {
        return Ok(());
    }
    if let Some(client) = any_live(provider, &ordered)
        && let Ok(keyspaces) = client.keyspaces()
    {
        let managed = |name: &str| crate::topology::is_managed(auto, name);
        for keyspace in keyspaces.iter().filter(|k| !managed(&k.keyspace)) {
            if let Some(&factor) = keyspace.data_centers().get(dc)
                && usize::try_from(factor).unwrap_or(usize::MAX) > keep
            {
                return Err(CheckError::Refused(format!(
                    "keyspace '{}' keeps {factor} replicas in datacenter '{dc}', more than the {keep} node(s)                      that would remain; lower its replication factor there first (ALTER KEYSPACE) or keep at                      least {factor} nodes",
                    keyspace.keyspace
                )));
            }
        }
    }
    let (staying, leaving) = ordered.split_at(keep);
    let moving: u64 = leaving
        .iter()
        .filter_map(|n| provider.node_info(n))
        .map(|i| i.load_bytes)
        .sum();
    let free: u64 = staying
        .iter()
        .filter_map(|n| provider.node_info(n))
        .map(|i| i.disk_free_kb.saturating_mul(1024))
        .sum();
    // Lossy only above 2^53 bytes, far beyond any disk.
    #[allow(clippy::cast_precision_loss)]
    let usable = free as f64 * SCALE_IN_FREE_SPACE_SHARE;
    #[allow(clippy::cast_precision_loss)]
    if keep > 0 && moving as f64 > usable {
        return Err(CheckError::Refused(format!(
            "the {} node(s) that would leave hold {} MiB, more than the {} remaining node(s) can take ({} MiB \
             usable of {} MiB free); keep more nodes or free disk space first",
            leaving.len(),
            moving / (1024 * 1024),
            staying.len(),
            (usable / (1024.0 * 1024.0)) as u64,
            free / (1024 * 1024)
        )));
    }
    Ok(())
}
