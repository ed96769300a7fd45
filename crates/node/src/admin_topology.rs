//! Admin API endpoints for topology changes: `decommission` and `removenode` (status, force), mapped onto
//! [`crate::movement::Movements`]; merged into the admin router by [`routes`].

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use mica_node_admin_api as api;

use crate::admin::{AdminError, AdminState};
use crate::movement::{MovementError, Movements};

pub(crate) fn routes() -> Router<Arc<AdminState>> {
    Router::new()
        .route(api::DECOMMISSION, post(decommission))
        .route(api::REMOVE_NODE, post(remove_node))
        .route(api::REMOVE_NODE_STATUS, get(removal_status))
        .route(api::REMOVE_NODE_FORCE, post(force_removal))
}

impl From<MovementError> for AdminError {
    fn from(e: MovementError) -> AdminError {
        match e {
            MovementError::Refused(m) => AdminError(StatusCode::BAD_REQUEST, m),
            MovementError::Failed(m) => AdminError(StatusCode::INTERNAL_SERVER_ERROR, m),
        }
    }
}

fn movements(state: &AdminState) -> Result<&Arc<Movements>, AdminError> {
    state.movements.as_ref().ok_or_else(|| {
        AdminError(
            StatusCode::BAD_REQUEST,
            "this node does not belong to a cluster (no gossip)".into(),
        )
    })
}

/// Runs a movement as a task of its own so that it completes (as Cassandra's does) even when the client
/// disconnects: a decommission cut off half-way would leave the node LEAVING for good.
async fn detached<F>(work: F) -> Result<StatusCode, AdminError>
where
    F: std::future::Future<Output = Result<(), MovementError>> + Send + 'static,
{
    tokio::spawn(work).await.map_err(crate::admin::server_error)??;
    Ok(StatusCode::NO_CONTENT)
}

async fn decommission(State(state): State<Arc<AdminState>>) -> Result<StatusCode, AdminError> {
    let movements = Arc::clone(movements(&state)?);
    detached(async move { movements.decommission().await }).await
}

async fn remove_node(
    State(state): State<Arc<AdminState>>,
    Json(request): Json<api::RemoveNodeRequest>,
) -> Result<StatusCode, AdminError> {
    let host_id = request.host_id.trim().parse::<uuid::Uuid>().map_err(|_| {
        AdminError(
            StatusCode::BAD_REQUEST,
            format!("Invalid host ID '{}'", request.host_id),
        )
    })?;
    let movements = Arc::clone(movements(&state)?);
    detached(async move { movements.remove_node(host_id).await }).await
}

async fn removal_status(
    State(state): State<Arc<AdminState>>,
) -> Result<Json<api::RemovalStatus>, AdminError> {
    Ok(Json(api::RemovalStatus {
        status: movements(&state)?.removal_status(),
    }))
}

async fn force_removal(State(state): State<Arc<AdminState>>) -> Result<StatusCode, AdminError> {
    movements(&state)?.force_removal()?;
    Ok(StatusCode::NO_CONTENT)
}
