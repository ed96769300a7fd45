//! The asynchronous command routes, as Azure has them: `POST clusters/{c}/invokeCommandAsync` answers 202 with
//! the command resource and `Location: /clusters/{c}/commands/{commandId}`; `GET clusters/{c}/commands` lists
//! a cluster's commands and `GET clusters/{c}/commands/{commandId}` shows one (see [`crate::command`]).

use axum::Json;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mica_control_api::{CommandPostBody, CommandPublicResource, ListResponse};

use super::{ApiError, ApiResult, AppState, existing_cluster, parse_body};

/// Where a command resource lives.
pub fn command_location(cluster: &str, command_id: &str) -> String {
    format!("/clusters/{cluster}/commands/{command_id}")
}

/// `POST /clusters/{c}/invokeCommandAsync`.
pub(super) async fn invoke_command_async(
    State(state): State<AppState>,
    UrlPath(name): UrlPath<String>,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let request: CommandPostBody = parse_body(&body)?;
    existing_cluster(&state, &name)?;
    let nodes = state.store.nodes(&name)?;
    let (node, argv) = crate::command::resolve(&request, &nodes)?;
    let command =
        crate::command::start_async(&state.store, state.provider.clone(), node.clone(), &request, argv)?;
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&command_location(&name, &command.command_id)) {
        headers.insert(header::LOCATION, v);
    }
    Ok((StatusCode::ACCEPTED, headers, Json(command)).into_response())
}

/// `GET /clusters/{c}/commands`.
pub(super) async fn list_commands(
    State(state): State<AppState>,
    UrlPath(name): UrlPath<String>,
) -> ApiResult<Json<ListResponse<CommandPublicResource>>> {
    existing_cluster(&state, &name)?;
    Ok(Json(ListResponse {
        value: state.store.commands(&name)?,
    }))
}

/// `GET /clusters/{c}/commands/{commandId}`.
pub(super) async fn get_command(
    State(state): State<AppState>,
    UrlPath((name, id)): UrlPath<(String, String)>,
) -> ApiResult<Json<CommandPublicResource>> {
    existing_cluster(&state, &name)?;
    state
        .store
        .command(&name, &id)?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("command '{id}' does not exist in cluster '{name}'")))
}
