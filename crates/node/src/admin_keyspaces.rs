//! Admin API endpoints for keyspace replication: list every replicated keyspace's replication map and alter
//! one, run as the node itself (no CQL credentials), so the control plane can add a datacenter to — or strip
//! one from — keyspaces during turnkey replication. Merged into the admin router by [`routes`].

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use mica_cql_protocol::request::QueryParameters;
use mica_node_admin_api as api;
use mica_query::ClientState;

use crate::admin::{AdminError, AdminState};

pub(crate) fn routes() -> Router<Arc<AdminState>> {
    Router::new().route(api::KEYSPACES, get(list).post(alter))
}

/// Keyspaces whose data lives on the ring: not the node-local or virtual system keyspaces.
fn replicated_keyspaces(state: &AdminState) -> Vec<api::KeyspaceReplication> {
    state
        .engine
        .schema()
        .keyspaces
        .values()
        .filter(|ks| !mica_schema::is_system_keyspace(&ks.name))
        .filter(|ks| crate::cluster::strategy_of(&ks.replication).is_some())
        .map(|ks| api::KeyspaceReplication {
            keyspace: ks.name.clone(),
            replication: ks.replication.as_map(),
        })
        .collect()
}

async fn list(State(state): State<Arc<AdminState>>) -> Json<Vec<api::KeyspaceReplication>> {
    Json(replicated_keyspaces(&state))
}

/// A CQL string literal.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

async fn alter(
    State(state): State<Arc<AdminState>>,
    Json(request): Json<api::KeyspaceReplication>,
) -> Result<StatusCode, AdminError> {
    let bad = |text: String| AdminError(StatusCode::BAD_REQUEST, text);
    if !replicated_keyspaces(&state)
        .iter()
        .any(|k| k.keyspace == request.keyspace)
    {
        return Err(bad(format!(
            "Keyspace '{}' does not exist or does not replicate across nodes",
            request.keyspace
        )));
    }
    if !request.replication.contains_key("class") {
        return Err(bad("Missing replication strategy class".into()));
    }
    let options: Vec<String> = request
        .replication
        .iter()
        .map(|(k, v)| format!("{}: {}", literal(k), literal(v)))
        .collect();
    let statement = format!(
        "ALTER KEYSPACE \"{}\" WITH replication = {{{}}}",
        request.keyspace.replace('"', "\"\""),
        options.join(", ")
    );
    tracing::info!("admin API: {statement}");
    // No user: the node's own request (Cassandra's internal client state).
    let mut client = ClientState::default();
    state
        .engine
        .query(&mut client, &statement, &QueryParameters::default())
        .await
        .map_err(|e| bad(e.to_string()))?;
    Ok(StatusCode::NO_CONTENT)
}
