//! Admin API endpoints for multi-datacenter maintenance: `rebuild` (stream this node's ranges from another
//! datacenter, after a datacenter was added or a keyspace replicated into it) and `cleanup` (remove the
//! partitions this node no longer replicates). Merged into the admin router by [`routes`]; wire types are in
//! `mica-node-admin-api`'s `dc` module, the work itself in `mica-coordinator` (`rebuild`, `cleanup`).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use mica_cluster::NodeStatus;
use mica_coordinator::Coordinator;
use mica_coordinator::cleanup::CleanupError;
use mica_coordinator::rebuild::RebuildError;
use mica_node_admin_api as api;
use mica_storage::TableId;

use crate::admin::{AdminError, AdminState, select_tables, server_error};

/// Set while a rebuild runs: Cassandra refuses a second one until the first ends.
static REBUILDING: AtomicBool = AtomicBool::new(false);

pub(crate) fn routes() -> Router<Arc<AdminState>> {
    Router::new()
        .route(api::REBUILD, post(rebuild))
        .route(api::CLEANUP, post(cleanup))
}

fn coordinator(state: &AdminState) -> Result<Arc<Coordinator>, AdminError> {
    state.coordinator.clone().ok_or_else(|| {
        AdminError(
            StatusCode::BAD_REQUEST,
            "This node does not replicate data (it runs without gossip)".into(),
        )
    })
}

/// The datacenters of the token ring (nodes that own tokens and have not left), sorted.
fn ring_datacenters(state: &AdminState) -> BTreeSet<String> {
    match &state.gossip {
        Some(g) => g
            .endpoints()
            .into_iter()
            .filter(|e| e.status != NodeStatus::Left && !e.tokens.is_empty())
            .filter_map(|e| e.dc)
            .collect(),
        None => BTreeSet::from([state.local.data_center.clone()]),
    }
}

/// Whether a keyspace's tables replicate across nodes (system keyspaces and LocalStrategy do not).
fn replicated(state: &AdminState, keyspace: &str) -> bool {
    state.engine.schema().keyspace(keyspace).is_some_and(|ks| {
        !mica_schema::is_system_keyspace(&ks.name) && crate::cluster::strategy_of(&ks.replication).is_some()
    })
}

/// Validates a rebuild request and lists the tables it covers, as Cassandra's `StorageService.rebuild` does.
fn rebuild_tables(
    state: &AdminState,
    request: &api::RebuildRequest,
) -> Result<Vec<(String, String, TableId)>, AdminError> {
    let bad = |text: String| AdminError(StatusCode::BAD_REQUEST, text);
    if request.tokens.is_some() && request.keyspace.is_none() {
        return Err(bad("Cannot specify tokens without keyspace.".into()));
    }
    let dcs = ring_datacenters(state);
    if !dcs.contains(&request.source_dc) {
        return Err(bad(format!(
            "Provided datacenter '{}' is not a valid datacenter, available datacenters are: {}",
            request.source_dc,
            dcs.into_iter().collect::<Vec<_>>().join(",")
        )));
    }
    let tables = select_tables(
        state,
        &api::TablesRequest {
            keyspace: request.keyspace.clone(),
            tables: Vec::new(),
        },
    )?;
    Ok(tables
        .into_iter()
        .filter(|(ks, _, _)| replicated(state, ks))
        .collect())
}

async fn rebuild(
    State(state): State<Arc<AdminState>>,
    Json(request): Json<api::RebuildRequest>,
) -> Result<Json<api::RebuildSummary>, AdminError> {
    let coordinator = coordinator(&state)?;
    let tables = rebuild_tables(&state, &request)?;
    if REBUILDING.swap(true, Ordering::SeqCst) {
        return Err(AdminError(
            StatusCode::CONFLICT,
            "Node is still rebuilding. Check nodetool netstats.".into(),
        ));
    }
    let guard = RebuildGuard;
    // The rebuild runs as a task of its own so that it completes (as Cassandra's does) even when the client
    // disconnects; the guard clears the flag however the task ends.
    let task = tokio::spawn(async move {
        let _guard = guard;
        run_rebuild(&coordinator, &tables, &request).await
    });
    task.await.map_err(server_error)?.map(Json)
}

/// Clears [`REBUILDING`] when dropped.
struct RebuildGuard;

impl Drop for RebuildGuard {
    fn drop(&mut self) {
        REBUILDING.store(false, Ordering::SeqCst);
    }
}

async fn run_rebuild(
    coordinator: &Arc<Coordinator>,
    tables: &[(String, String, TableId)],
    request: &api::RebuildRequest,
) -> Result<api::RebuildSummary, AdminError> {
    let mut summary = api::RebuildSummary::default();
    tracing::info!(
        "rebuild from {} of {} tables started",
        request.source_dc,
        tables.len()
    );
    for (keyspace, table, id) in tables {
        let stats = match coordinator
            .rebuild_table(*id, &request.source_dc, request.tokens.as_deref())
            .await
        {
            Ok(stats) => stats,
            // The table was dropped or its keyspace stopped replicating since it was listed.
            Err(RebuildError::NotReplicated) => continue,
            Err(e @ RebuildError::NoSource { .. }) => {
                return Err(AdminError(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("{e} (keyspace {keyspace}, table {table})"),
                ));
            }
            Err(e) => return Err(server_error(format!("Error while rebuilding node: {e}"))),
        };
        if !summary.keyspaces.contains(keyspace) {
            summary.keyspaces.push(keyspace.clone());
        }
        summary.tables += 1;
        summary.ranges += stats.ranges;
        summary.partitions += stats.partitions;
        summary.bytes += stats.bytes;
    }
    tracing::info!(
        "rebuild from {} finished: {} ranges of {} tables, {} partitions, {} bytes",
        request.source_dc,
        summary.ranges,
        summary.tables,
        summary.partitions,
        summary.bytes
    );
    Ok(summary)
}

/// Whether ranges may be moving to this node: another node is leaving (its ranges stream to the next
/// replicas) or this node is joining. Cleanup then could drop data that is arriving, so Cassandra refuses it.
fn membership_changing(state: &AdminState) -> bool {
    state.gossip.as_ref().is_some_and(|g| {
        g.endpoints()
            .into_iter()
            .any(|e| e.status == NodeStatus::Leaving || (e.is_local && e.status == NodeStatus::Joining))
    })
}

async fn cleanup(
    State(state): State<Arc<AdminState>>,
    body: Option<Json<api::TablesRequest>>,
) -> Result<Json<api::CleanupSummary>, AdminError> {
    let coordinator = coordinator(&state)?;
    if membership_changing(&state) {
        return Err(AdminError(
            StatusCode::CONFLICT,
            CleanupError::NotInRing.to_string(),
        ));
    }
    let tables: Vec<TableId> = select_tables(&state, &body.map(|b| b.0).unwrap_or_default())?
        .into_iter()
        .filter(|(ks, _, _)| replicated(&state, ks))
        .map(|(_, _, id)| id)
        .collect();
    let summary = tokio::task::spawn_blocking(move || {
        let mut summary = api::CleanupSummary::default();
        for table in tables {
            match coordinator.cleanup_table(table) {
                Ok(stats) => {
                    summary.tables += 1;
                    summary.partitions_scanned += stats.scanned;
                    summary.partitions_removed += stats.removed;
                }
                Err(CleanupError::NotReplicated) => {}
                Err(e @ CleanupError::NotInRing) => {
                    return Err(AdminError(StatusCode::CONFLICT, e.to_string()));
                }
                Err(e) => return Err(server_error(e)),
            }
        }
        Ok(summary)
    })
    .await
    .map_err(server_error)??;
    tracing::info!(
        "cleanup removed {} of {} partitions in {} tables",
        summary.partitions_removed,
        summary.partitions_scanned,
        summary.tables
    );
    Ok(Json(summary))
}
