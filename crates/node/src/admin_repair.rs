//! The admin API's anti-entropy repair endpoint (`nodetool repair`): plans one repair command per keyspace
//! (its token ranges, all or primary only), runs it range by range through the coordinator
//! (`mica_coordinator::repair`) and reports Cassandra 4.1's progress messages. Every repair is full:
//! incremental repair is not supported.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use mica_coordinator::{Coordinator, TokenRange};
use mica_node_admin_api as api;
use mica_storage::TableId;

use crate::admin::{AdminError, AdminState, select_tables, server_error};

/// Keyspaces `nodetool repair` without a keyspace skips even though they are replicated (Cassandra's
/// `REPLICATED_SYSTEM_KEYSPACE_NAMES`, CASSANDRA-9621).
const REPLICATED_SYSTEM_KEYSPACES: &[&str] = &["system_auth", "system_distributed", "system_traces"];

/// Repair command numbers, counted per node process as Cassandra does.
static NEXT_COMMAND: AtomicU32 = AtomicU32::new(1);

pub(crate) fn routes() -> Router<Arc<AdminState>> {
    Router::new().route(api::REPAIR, post(repair))
}

/// One keyspace's planned repair.
struct Plan {
    keyspace: String,
    /// Tables named in the request (Cassandra's `ColumnFamilies` option).
    requested: Vec<String>,
    tables: Vec<TableId>,
    /// `None`: the keyspace is not replicated on the ring (or has a single replica).
    ranges: Option<Vec<TokenRange>>,
}

async fn repair(
    State(state): State<Arc<AdminState>>,
    Json(request): Json<api::RepairRequest>,
) -> Result<Json<api::RepairReport>, AdminError> {
    let plans = plan(&state, &request)?;
    let coordinator = state.coordinator.clone();
    let (tx, rx) = tokio::sync::oneshot::channel();
    // The repair runs on a thread of its own so that the admin API stays responsive meanwhile.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(server_error)?;
    let primary = request.primary_range;
    let full = request.full;
    std::thread::Builder::new()
        .name("repair".into())
        .spawn(move || {
            let report = runtime.block_on(async move {
                let mut commands = Vec::new();
                for plan in plans {
                    commands.push(run(coordinator.as_ref(), plan, primary, full).await);
                }
                api::RepairReport { commands }
            });
            let _ = tx.send(report);
        })
        .map_err(server_error)?;
    rx.await
        .map(Json)
        .map_err(|_| server_error("the repair thread stopped without a report"))
}

fn plan(state: &AdminState, request: &api::RepairRequest) -> Result<Vec<Plan>, AdminError> {
    let keyspaces: Vec<String> = match &request.keyspace {
        Some(ks) => vec![ks.clone()],
        None if request.tables.is_empty() => state
            .engine
            .schema()
            .keyspaces
            .values()
            .filter(|ks| !ks.is_system() && !ks.is_virtual)
            .filter(|ks| !REPLICATED_SYSTEM_KEYSPACES.contains(&ks.name.as_str()))
            .filter(|ks| crate::cluster::strategy_of(&ks.replication).is_some())
            .map(|ks| ks.name.clone())
            .collect(),
        None => {
            return Err(AdminError(
                StatusCode::BAD_REQUEST,
                "tables need a keyspace".into(),
            ));
        }
    };
    let primary_tokens = request.primary_range.then_some(state.local.tokens.as_slice());
    let mut plans = Vec::new();
    for keyspace in keyspaces {
        let selected = select_tables(
            state,
            &api::TablesRequest {
                keyspace: Some(keyspace.clone()),
                tables: request.tables.clone(),
            },
        )?;
        let tables: Vec<TableId> = selected.iter().map(|(_, _, id)| *id).collect();
        let ranges = match (&state.coordinator, tables.first()) {
            (Some(c), Some(&table)) => c
                .repair_ranges(table, primary_tokens)
                .filter(|r| !r.is_empty() && r.iter().any(|range| range.replicas.len() > 1)),
            _ => None,
        };
        plans.push(Plan {
            keyspace,
            requested: request.tables.clone(),
            tables,
            ranges,
        });
    }
    Ok(plans)
}

/// The record of one command as it runs.
struct Progress {
    command: api::RepairCommand,
}

impl Progress {
    fn event(&mut self, message: String) {
        tracing::info!("{message}");
        self.command.events.push(api::RepairEvent {
            time_ms: now_ms(),
            message,
        });
    }
}

async fn run(
    coordinator: Option<&Arc<Coordinator>>,
    plan: Plan,
    primary: bool,
    full: bool,
) -> api::RepairCommand {
    let mut progress = Progress {
        command: api::RepairCommand {
            keyspace: plan.keyspace.clone(),
            command: None,
            events: Vec::new(),
            success: true,
            error: None,
            ranges_repaired: 0,
            ranges_failed: 0,
            partitions_repaired: 0,
            mutations_sent: 0,
        },
    };
    let (Some(coordinator), Some(ranges)) = (coordinator, plan.ranges) else {
        progress.event(format!(
            "Replication factor is 1. No repair is needed for keyspace '{}'",
            plan.keyspace
        ));
        return progress.command;
    };
    let number = NEXT_COMMAND.fetch_add(1, Ordering::Relaxed);
    progress.command.command = Some(number);
    let started = Instant::now();
    progress.event(format!(
        "Starting repair command #{number} ({}), repairing keyspace {} with repair options (parallelism: parallel, \
         primary range: {primary}, incremental: false, job threads: 1, ColumnFamilies: [{}], dataCenters: [], \
         hosts: [], previewKind: NONE, # of ranges: {}, pull repair: false, force repair: false, optimise streams: \
         false, ignore unreplicated keyspaces: false, repairPaxos: true, paxosOnly: false)",
        uuid::Uuid::new_v4(),
        plan.keyspace,
        plan.requested.join(", "),
        ranges.len()
    ));
    if !full {
        progress.event(
            "Incremental repair is not supported by Mica: running a full repair (as with -full)".to_owned(),
        );
    }
    // Cassandra's prepare phase: every participant must be up before any range is compared.
    let dead = ranges
        .iter()
        .flat_map(|r| r.replicas.iter().map(|x| x.addr))
        .find(|&addr| !coordinator.endpoint_alive(addr));
    if let Some(addr) = dead {
        fail(&mut progress, number, &format!("Endpoint not alive: /{addr}"));
        progress.command.ranges_failed = ranges.len() as u64;
        return progress.command;
    }
    let total = ranges.len().max(1);
    for (done, range) in ranges.iter().enumerate() {
        let session = uuid::Uuid::new_v4();
        let mut outcome = Ok(());
        for &table in &plan.tables {
            match coordinator.repair_range(table, range).await {
                Ok(stats) => {
                    progress.command.partitions_repaired += stats.partitions_repaired;
                    progress.command.mutations_sent += stats.mutations_sent;
                }
                Err(e) => {
                    outcome = Err(e);
                    break;
                }
            }
        }
        let percent = (done + 1) * 100 / total;
        let described = describe_range(range);
        match outcome {
            Ok(()) => {
                progress.command.ranges_repaired += 1;
                progress.event(format!(
                    "Repair session {session} for range {described} finished (progress: {percent}%)"
                ));
            }
            Err(e) => {
                progress.command.ranges_failed += 1;
                progress.event(format!(
                    "Repair session {session} for range {described} failed with error {e} (progress: {percent}%)"
                ));
            }
        }
    }
    if progress.command.ranges_failed > 0 {
        fail(&mut progress, number, "Some repair failed");
        return progress.command;
    }
    progress.event("Repair completed successfully".to_owned());
    progress.event(format!(
        "Repair command #{number} finished in {}",
        duration_words(started.elapsed().as_secs())
    ));
    progress.command
}

fn fail(progress: &mut Progress, number: u32, why: &str) {
    let error = format!("Repair command #{number} failed with error {why}");
    progress.event(error.clone());
    progress.event(format!("Repair command #{number} finished with error"));
    progress.command.success = false;
    progress.command.error = Some(error);
}

/// Cassandra's range list: `[(start,end]]`.
fn describe_range(range: &TokenRange) -> String {
    format!("[({},{}]]", range.start, range.end)
}

/// Commons-lang `formatDurationWords(ms, true, true)` as Cassandra prints repair durations: "0 seconds",
/// "1 second", "2 minutes 5 seconds", "1 hour".
fn duration_words(seconds: u64) -> String {
    let parts = [
        (seconds / 86_400, "day"),
        (seconds / 3600 % 24, "hour"),
        (seconds / 60 % 60, "minute"),
        (seconds % 60, "second"),
    ];
    let first = parts.iter().position(|(n, _)| *n > 0);
    let last = parts.iter().rposition(|(n, _)| *n > 0);
    let (Some(first), Some(last)) = (first, last) else {
        return "0 seconds".to_owned();
    };
    parts[first..=last]
        .iter()
        .map(|(n, unit)| format!("{n} {unit}{}", if *n == 1 { "" } else { "s" }))
        .collect::<Vec<_>>()
        .join(" ")
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_cassandra() {
        assert_eq!(duration_words(0), "0 seconds");
        assert_eq!(duration_words(1), "1 second");
        assert_eq!(duration_words(65), "1 minute 5 seconds");
        assert_eq!(duration_words(3600), "1 hour");
        assert_eq!(duration_words(3601), "1 hour 0 minutes 1 second");
    }

    #[test]
    fn ranges_and_dead_endpoints_use_cassandra_wording() {
        let range = TokenRange {
            start: 10,
            end: -20,
            replicas: Vec::new(),
        };
        assert_eq!(describe_range(&range), "[(10,-20]]");
        let addr: std::net::SocketAddr = "127.0.0.3:7000".parse().expect("address");
        let error = mica_coordinator::repair::RepairError::EndpointNotAlive(addr);
        assert_eq!(error.to_string(), "Endpoint not alive: /127.0.0.3:7000");
    }
}
