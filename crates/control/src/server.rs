//! `mica server`: the REST API (axum) over the store, plus the reconciler thread. Mutating calls validate,
//! write the desired state and an operation in one transaction, wake the reconciler and answer 202 with
//! `Location: /operations/{id}`. Errors are RFC 9457 problem documents (400 validation, 401, 404, 409).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::{Path as UrlPath, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use mica_control_api::validate::{
    ValidationError, validate_cluster_update, validate_data_center, validate_deallocate, validate_new_cluster,
};
use mica_control_api::{
    CLUSTER_RESOURCE_TYPE, Certificate, ClusterProperties, ClusterResource, ClusterStatus, ClusterType,
    DATA_CENTER_RESOURCE_TYPE, DEFAULT_CASSANDRA_VERSION, DataCenterResource, DataCenterStatus, ListResponse,
    NodeStatus, OperationResource, PROBLEM_CONTENT_TYPE, Problem, ProvisioningState, SeedNode,
    validate_cluster_name, validate_data_center_name,
};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::local::{LocalProvider, hex};
use crate::provider::Provider;
use crate::reconcile::{reconcile_all, seeds};
use crate::store::{ClusterRow, DataCenterRow, Store, StoreError, new_operation, now_seconds};

/// The state database's file name in the state directory.
pub const STATE_DB: &str = "state.db";
/// The file (mode 0600) holding the API token for local CLI use, written at first start.
pub const TOKEN_FILE: &str = "api.token";
/// The file holding the server's URL, so a local CLI finds it without flags.
pub const URL_FILE: &str = "server.url";
/// How often the reconciler looks at every cluster when nothing wakes it.
const RECONCILE_INTERVAL: Duration = Duration::from_millis(500);
/// Bytes of randomness in an API token.
const API_TOKEN_BYTES: usize = 32;

/// Options of `mica server`.
#[derive(Clone, Debug)]
pub struct ServerOptions {
    pub state_dir: PathBuf,
    pub listen: SocketAddr,
    /// The first loopback address the local provider hands to nodes.
    pub first_node_address: Ipv4Addr,
    /// The `mica` executable nodes run as (`mica node`).
    pub node_binary: PathBuf,
}

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> ServerError {
    let context = context.into();
    move |source| ServerError::Io { context, source }
}

#[derive(Clone)]
struct AppState {
    store: Store,
    provider: Arc<dyn Provider>,
    wake: Arc<Mutex<mpsc::Sender<()>>>,
    /// Throughput and latency series of every cluster (see [`crate::metrics`]).
    metrics: Arc<crate::metrics::Metrics>,
}

impl AppState {
    fn wake(&self) {
        let _ = self
            .wake
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .send(());
    }
}

/// Runs the control plane until SIGTERM or Ctrl-C, then stops the nodes it started.
pub fn run(options: &ServerOptions) -> Result<(), ServerError> {
    std::fs::create_dir_all(&options.state_dir)
        .map_err(io(format!("cannot create {}", options.state_dir.display())))?;
    let state_dir =
        std::path::absolute(&options.state_dir).map_err(io("cannot resolve the state directory"))?;
    let store = Store::open(&state_dir.join(STATE_DB))?;
    if store.token_count()? == 0 {
        let token = issue_token(&store, &state_dir)?;
        println!(
            "API token (shown once; also saved to {}): {token}",
            state_dir.join(TOKEN_FILE).display()
        );
    }
    let interrupted = store.fail_interrupted_commands()?;
    if interrupted > 0 {
        tracing::warn!(
            "{interrupted} command(s) were still running when the control plane stopped; marked Failed"
        );
    }
    let provider: Arc<dyn Provider> = Arc::new(LocalProvider::new(
        &state_dir,
        options.node_binary.clone(),
        options.first_node_address,
    ));

    let (wake_tx, wake_rx) = mpsc::channel::<()>();
    let stop = Arc::new(AtomicBool::new(false));
    let reconciler = {
        let (store, provider, stop) = (store.clone(), provider.clone(), stop.clone());
        std::thread::Builder::new()
            .name("reconciler".into())
            .spawn(move || {
                let jobs = crate::jobs::Jobs::default();
                while !stop.load(Ordering::Relaxed) {
                    if let Err(e) = reconcile_all(&store, provider.as_ref(), &jobs) {
                        tracing::error!("reconcile pass failed: {e}");
                    }
                    let _ = wake_rx.recv_timeout(RECONCILE_INTERVAL);
                }
            })
            .map_err(io("cannot start the reconciler thread"))?
    };
    let repairs = crate::repair::spawn(store.clone(), provider.clone(), stop.clone())
        .map_err(io("cannot start the repair scheduler thread"))?;
    let (metrics, metrics_thread) = crate::metrics::spawn(store.clone(), provider.clone(), stop.clone())
        .map_err(io("cannot start the metrics collector thread"))?;

    let state = AppState {
        store,
        provider: provider.clone(),
        wake: Arc::new(Mutex::new(wake_tx.clone())),
        metrics,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(io("cannot start the server runtime"))?;
    let served = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(options.listen)
            .await
            .map_err(io(format!("cannot listen on {}", options.listen)))?;
        let address = listener
            .local_addr()
            .map_err(io("cannot read the listen address"))?;
        let url = format!("http://{address}");
        std::fs::write(state_dir.join(URL_FILE), &url).map_err(io("cannot write the server URL file"))?;
        println!(
            "Mica control plane listening on {url} (state in {})",
            state_dir.display()
        );
        axum::serve(listener, router(state))
            .with_graceful_shutdown(shutdown_signal())
            .await
            .map_err(io("the API server failed"))
    });
    stop.store(true, Ordering::Relaxed);
    let _ = wake_tx.send(());
    let _ = reconciler.join();
    let _ = metrics_thread.join();
    let _ = repairs.join();
    tracing::info!("stopping the nodes this control plane started");
    provider.shutdown();
    served
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// Creates a random API token, stores its hash and saves it for the local CLI.
fn issue_token(store: &Store, state_dir: &Path) -> Result<String, ServerError> {
    let mut bytes = [0u8; API_TOKEN_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    let token = hex(&bytes);
    let path = state_dir.join(TOKEN_FILE);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&path)
        .map_err(io(format!("cannot write {}", path.display())))?;
    std::io::Write::write_all(&mut file, token.as_bytes())
        .map_err(io(format!("cannot write {}", path.display())))?;
    store.add_token_hash(&token_hash(&token))?;
    Ok(token)
}

/// SHA-256 of a token, hex-encoded: what the store keeps.
pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.trim().as_bytes()))
}

fn router(state: AppState) -> axum::Router {
    let api = axum::Router::new()
        .route("/clusters", get(list_clusters))
        .route(
            "/clusters/{cluster}",
            get(get_cluster).put(put_cluster).delete(delete_cluster),
        )
        .route("/clusters/{cluster}/dataCenters", get(list_data_centers))
        .route(
            "/clusters/{cluster}/dataCenters/{dc}",
            get(get_data_center)
                .put(put_data_center)
                .delete(delete_data_center),
        )
        .route(
            "/clusters/{cluster}/status",
            get(cluster_status).post(cluster_status),
        )
        .route("/clusters/{cluster}/deallocate", axum::routing::post(deallocate))
        .route("/clusters/{cluster}/start", axum::routing::post(start))
        .route(
            "/clusters/{cluster}/invokeCommand",
            axum::routing::post(invoke_command),
        )
        .route(
            "/clusters/{cluster}/invokeCommandAsync",
            axum::routing::post(commands::invoke_command_async),
        )
        .route("/clusters/{cluster}/commands", get(commands::list_commands))
        .route(
            "/clusters/{cluster}/commands/{command}",
            get(commands::get_command),
        )
        .route("/operations/{id}", get(get_operation))
        .route("/clusters/{cluster}/metrics", get(cluster_metrics))
        .route("/clusters/{cluster}/operations", get(list_operations))
        .layer(axum::middleware::from_fn_with_state(state.clone(), authenticate))
        .with_state(state);
    axum::Router::new()
        .route(mica_control_api::OPENAPI_PATH, get(openapi))
        .merge(api)
        // The web portal's page and files (no token needed: the page asks for it and sends it on API calls).
        .merge(mica_portal::router())
        .fallback(|| async { ApiError::NotFound("no such path; see /openapi.json".into()) })
}

async fn authenticate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(token_hash);
    let known = state.store.token_hashes().unwrap_or_default();
    match presented {
        Some(hash)
            if known
                .iter()
                .any(|k| constant_time_eq(k.as_bytes(), hash.as_bytes())) =>
        {
            next.run(request).await
        }
        _ => ApiError::Unauthorized.into_response(),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        crate::openapi::document().to_string(),
    )
        .into_response()
}

mod commands;

/// Every error the API returns, mapped once to a status and a problem document.
#[derive(Debug)]
enum ApiError {
    Validation(ValidationError),
    Unauthorized,
    NotFound(String),
    Conflict(String),
    Internal(String),
}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        ApiError::Validation(e)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        tracing::error!("{e}");
        ApiError::Internal(e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, title, detail, property) = match self {
            ApiError::Validation(e) => (StatusCode::BAD_REQUEST, "Invalid request", e.to_string(), Some(e.property)),
            ApiError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "Unauthorized",
                "missing or wrong API token: send 'Authorization: Bearer <token>' with the token `mica server` \
                 printed at first start (saved in <state dir>/api.token)"
                    .to_owned(),
                None,
            ),
            ApiError::NotFound(d) => (StatusCode::NOT_FOUND, "Not found", d, None),
            ApiError::Conflict(d) => (StatusCode::CONFLICT, "Conflict", d, None),
            ApiError::Internal(d) => (StatusCode::INTERNAL_SERVER_ERROR, "Internal error", d, None),
        };
        let problem = Problem {
            problem_type: "about:blank".into(),
            title: title.into(),
            status: status.as_u16(),
            detail,
            property,
        };
        let body = serde_json::to_string(&problem).unwrap_or_default();
        (status, [(header::CONTENT_TYPE, PROBLEM_CONTENT_TYPE)], body).into_response()
    }
}

type ApiResult<T> = Result<T, ApiError>;

/// A JSON body whose parse errors become 400 problem documents (axum's default is a plain-text 422).
fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> ApiResult<T> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return serde_json::from_slice(b"{}").map_err(|e| bad_json(&e));
    }
    serde_json::from_slice(body).map_err(|e| bad_json(&e))
}

fn bad_json(e: &serde_json::Error) -> ApiError {
    ApiError::Validation(ValidationError {
        property: "body".into(),
        message: format!("the request body is not a valid resource: {e}"),
    })
}

fn accepted(state: &AppState, op: &OperationResource) -> Response {
    state.wake();
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&op.id) {
        headers.insert(header::LOCATION, v.clone());
        headers.insert("Azure-AsyncOperation", v);
    }
    (StatusCode::ACCEPTED, headers, Json(op.clone())).into_response()
}

fn existing_cluster(state: &AppState, name: &str) -> ApiResult<ClusterRow> {
    match state.store.cluster(name)? {
        Some(c) if !c.deleting => Ok(c),
        Some(_) => Err(ApiError::NotFound(format!("cluster '{name}' is being deleted"))),
        None => Err(ApiError::NotFound(format!(
            "cluster '{name}' does not exist; create it with PUT /clusters/{name}"
        ))),
    }
}

fn ensure_idle(state: &AppState, cluster: &str) -> ApiResult<()> {
    if let Some(op) = state.store.active_operation(cluster)? {
        return Err(ApiError::Conflict(format!(
            "cluster '{cluster}' has an operation in progress ({}: {}); wait for it to finish, then retry",
            op.id, op.name
        )));
    }
    Ok(())
}

fn cluster_resource(state: &AppState, row: &ClusterRow) -> ApiResult<ClusterResource> {
    let mut properties = row.properties.clone();
    properties.provisioning_state = Some(row.state);
    properties.provision_error = row.error.clone();
    properties.cassandra_version = properties
        .cassandra_version
        .or_else(|| Some(DEFAULT_CASSANDRA_VERSION.to_owned()));
    properties.cluster_type = properties.cluster_type.or(Some(ClusterType::Production));
    properties.repair_enabled = Some(mica_control_api::repair_enabled(&properties));
    properties.gossip_certificates = state
        .provider
        .cluster_ca(&row.name)
        .map(|pem| vec![Certificate { pem }])
        .unwrap_or_default();
    properties.seed_nodes = seeds(&state.store.nodes(&row.name)?)
        .into_iter()
        .map(|a| SeedNode {
            ip_address: a.to_string(),
        })
        .collect();
    properties.prometheus_endpoint = state.metrics.prometheus_endpoint(&row.name).map(|a| SeedNode {
        ip_address: a.to_string(),
    });
    Ok(ClusterResource {
        id: Some(format!("/clusters/{}", row.name)),
        name: Some(row.name.clone()),
        resource_type: Some(CLUSTER_RESOURCE_TYPE.into()),
        location: None,
        tags: Default::default(),
        properties,
    })
}

fn data_center_resource(state: &AppState, row: &DataCenterRow) -> ApiResult<DataCenterResource> {
    let mut properties = row.properties.clone();
    properties.provisioning_state = Some(row.state);
    properties.provision_error = row.error.clone();
    let nodes: Vec<_> = state
        .store
        .nodes(&row.cluster)?
        .into_iter()
        .filter(|n| n.data_center == row.name)
        .collect();
    properties.seed_nodes = seeds(&nodes)
        .into_iter()
        .map(|a| SeedNode {
            ip_address: a.to_string(),
        })
        .collect();
    Ok(DataCenterResource {
        id: Some(format!("/clusters/{}/dataCenters/{}", row.cluster, row.name)),
        name: Some(row.name.clone()),
        resource_type: Some(DATA_CENTER_RESOURCE_TYPE.into()),
        properties,
    })
}

async fn list_clusters(State(state): State<AppState>) -> ApiResult<Json<ListResponse<ClusterResource>>> {
    let rows = state.store.clusters()?;
    let value = rows
        .iter()
        .map(|r| cluster_resource(&state, r))
        .collect::<ApiResult<_>>()?;
    Ok(Json(ListResponse { value }))
}

async fn get_cluster(
    State(state): State<AppState>,
    UrlPath(name): UrlPath<String>,
) -> ApiResult<Json<ClusterResource>> {
    match state.store.cluster(&name)? {
        Some(row) => Ok(Json(cluster_resource(&state, &row)?)),
        None => Err(ApiError::NotFound(format!("cluster '{name}' does not exist"))),
    }
}

async fn put_cluster(
    State(state): State<AppState>,
    UrlPath(name): UrlPath<String>,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    validate_cluster_name(&name)?;
    let resource: ClusterResource = parse_body(&body)?;
    let requested = resource.properties;
    match state.store.cluster(&name)? {
        None => {
            validate_new_cluster(&requested)?;
            let mut stored = requested.clone();
            stored.cassandra_version = stored
                .cassandra_version
                .or_else(|| Some(DEFAULT_CASSANDRA_VERSION.to_owned()));
            let op = new_operation(format!("create cluster {name}"), format!("/clusters/{name}"));
            state.store.create_cluster(
                &name,
                &stored,
                requested.initial_cassandra_admin_password.as_deref(),
                &op,
            )?;
            Ok(accepted(&state, &op))
        }
        Some(current) if current.deleting => Err(ApiError::Conflict(format!(
            "cluster '{name}' is being deleted; wait for the deletion to finish"
        ))),
        Some(current) => {
            validate_cluster_update(&current.properties, &requested)?;
            ensure_idle(&state, &name)?;
            let merged = merge_cluster(&current.properties, &requested);
            let op = new_operation(format!("update cluster {name}"), format!("/clusters/{name}"));
            state.store.update_cluster(&name, &merged, &op)?;
            Ok(accepted(&state, &op))
        }
    }
}

/// PUT replaces what the request sets and keeps what it leaves out (as `az ... update` does).
fn merge_cluster(current: &ClusterProperties, requested: &ClusterProperties) -> ClusterProperties {
    let mut merged = current.clone();
    macro_rules! take {
        ($($field:ident),*) => { $(if requested.$field.is_some() { merged.$field = requested.$field.clone(); })* };
    }
    take!(
        cassandra_version,
        cluster_type,
        authentication_method,
        auto_replicate,
        scheduled_event_strategy,
        repair_enabled
    );
    if !requested.client_certificates.is_empty() {
        merged.client_certificates = requested.client_certificates.clone();
    }
    if !requested.external_seed_nodes.is_empty() {
        merged.external_seed_nodes = requested.external_seed_nodes.clone();
    }
    merged
}

async fn delete_cluster(
    State(state): State<AppState>,
    UrlPath(name): UrlPath<String>,
) -> ApiResult<Response> {
    let cluster = existing_cluster(&state, &name)?;
    // A delete supersedes whatever was in flight: the unfinished operation is marked canceled.
    if let Some(mut op) = state.store.active_operation(&cluster.name)? {
        op.status = mica_control_api::OperationStatus::Canceled;
        op.end_time = Some(now_seconds());
        state.store.save_operation(&op)?;
    }
    let op = new_operation(format!("delete cluster {name}"), format!("/clusters/{name}"));
    state.store.mark_cluster_deleting(&name, &op)?;
    Ok(accepted(&state, &op))
}

async fn list_data_centers(
    State(state): State<AppState>,
    UrlPath(cluster): UrlPath<String>,
) -> ApiResult<Json<ListResponse<DataCenterResource>>> {
    existing_cluster(&state, &cluster)?;
    let rows = state.store.data_centers(&cluster)?;
    let value = rows
        .iter()
        .map(|r| data_center_resource(&state, r))
        .collect::<ApiResult<_>>()?;
    Ok(Json(ListResponse { value }))
}

async fn get_data_center(
    State(state): State<AppState>,
    UrlPath((cluster, dc)): UrlPath<(String, String)>,
) -> ApiResult<Json<DataCenterResource>> {
    existing_cluster(&state, &cluster)?;
    match state.store.data_center(&cluster, &dc)? {
        Some(row) => Ok(Json(data_center_resource(&state, &row)?)),
        None => Err(ApiError::NotFound(format!(
            "datacenter '{dc}' does not exist in cluster '{cluster}'"
        ))),
    }
}

async fn put_data_center(
    State(state): State<AppState>,
    UrlPath((cluster, dc)): UrlPath<(String, String)>,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    validate_data_center_name(&dc)?;
    let resource: DataCenterResource = parse_body(&body)?;
    let existing = existing_cluster(&state, &cluster)?;
    let current = state.store.data_center(&cluster, &dc)?;
    let mut requested = resource.properties;
    if let Some(current) = &current {
        if current.deleting {
            return Err(ApiError::Conflict(format!("datacenter '{dc}' is being deleted")));
        }
        // Updates may leave out what they do not change.
        requested.node_count = requested.node_count.or(current.properties.node_count);
        requested.sku = requested.sku.or_else(|| current.properties.sku.clone());
        requested.disk_capacity = requested.disk_capacity.or(current.properties.disk_capacity);
        requested.base64_encoded_cassandra_yaml_fragment = requested
            .base64_encoded_cassandra_yaml_fragment
            .or_else(|| current.properties.base64_encoded_cassandra_yaml_fragment.clone());
        if requested.disk_capacity != current.properties.disk_capacity {
            return Err(ApiError::Validation(ValidationError {
                property: "properties.diskCapacity".into(),
                message:
                    "the number of data directories of existing nodes cannot change; add a datacenter with \
                          the new capacity instead"
                        .into(),
            }));
        }
    }
    validate_data_center(&requested)?;
    ensure_idle(&state, &existing.name)?;
    let resizing = current
        .as_ref()
        .is_none_or(|c| c.properties.node_count != requested.node_count);
    if resizing && existing.properties.deallocated == Some(true) {
        return Err(ApiError::Conflict(format!(
            "cluster '{cluster}' is deallocated; start it before adding datacenters or changing node counts"
        )));
    }
    if let Some(current) = &current
        && requested.node_count < current.properties.node_count
    {
        let dc_nodes: Vec<_> = state
            .store
            .nodes(&cluster)?
            .into_iter()
            .filter(|n| n.data_center == dc)
            .collect();
        let keep = usize::try_from(requested.node_count.unwrap_or(0)).unwrap_or(0);
        let auto = existing.properties.auto_replicate.unwrap_or_default();
        let name = dc.clone();
        node_check(&state, "properties.nodeCount", move |provider| {
            crate::checks::scale_in(provider, auto, &name, &dc_nodes, keep)
        })
        .await?;
    }
    // A datacenter joining a cluster that auto-replicates rebuilds from an existing one once replicated.
    let rebuild_from = match (&current, existing.properties.auto_replicate.unwrap_or_default()) {
        (None, auto) if auto != mica_control_api::AutoReplicate::None => state
            .store
            .data_centers(&cluster)?
            .into_iter()
            .find(|d| !d.deleting && d.properties.node_count.unwrap_or(0) > 0)
            .map(|d| d.name),
        _ => None,
    };
    let (verb, provisioning) = if current.is_some() {
        ("update", ProvisioningState::Updating)
    } else {
        ("create", ProvisioningState::Creating)
    };
    let op = new_operation(
        format!("{verb} dataCenter {dc}"),
        format!("/clusters/{cluster}/dataCenters/{dc}"),
    );
    state.store.put_data_center_rebuilt_from(
        &cluster,
        &dc,
        &requested,
        provisioning,
        &op,
        rebuild_from.as_deref(),
    )?;
    Ok(accepted(&state, &op))
}

async fn delete_data_center(
    State(state): State<AppState>,
    UrlPath((cluster, dc)): UrlPath<(String, String)>,
) -> ApiResult<Response> {
    let existing = existing_cluster(&state, &cluster)?;
    if state.store.data_center(&cluster, &dc)?.is_none() {
        return Err(ApiError::NotFound(format!(
            "datacenter '{dc}' does not exist in cluster '{cluster}'"
        )));
    }
    ensure_idle(&state, &cluster)?;
    if existing.properties.deallocated == Some(true) {
        return Err(ApiError::Conflict(format!(
            "cluster '{cluster}' is deallocated; start it before deleting a datacenter"
        )));
    }
    let nodes = state.store.nodes(&cluster)?;
    let auto = existing.properties.auto_replicate.unwrap_or_default();
    let name = dc.clone();
    node_check(&state, "dataCenterName", move |provider| {
        crate::checks::data_center_deletion(provider, auto, &nodes, &name)
    })
    .await?;
    let op = new_operation(
        format!("delete dataCenter {dc}"),
        format!("/clusters/{cluster}/dataCenters/{dc}"),
    );
    state.store.mark_data_center_deleting(&cluster, &dc, &op)?;
    Ok(accepted(&state, &op))
}

/// Runs a check that asks the nodes on a blocking thread: a refusal is a 400 naming `property`, a check that
/// cannot decide (no node answers) a 409.
async fn node_check<F>(state: &AppState, property: &str, check: F) -> ApiResult<()>
where
    F: FnOnce(&dyn Provider) -> Result<(), crate::checks::CheckError> + Send + 'static,
{
    let provider = Arc::clone(&state.provider);
    let outcome = tokio::task::spawn_blocking(move || check(provider.as_ref()))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    match outcome {
        Ok(()) => Ok(()),
        Err(crate::checks::CheckError::Refused(message)) => Err(ApiError::Validation(ValidationError {
            property: property.to_owned(),
            message,
        })),
        Err(crate::checks::CheckError::Unknown(message)) => Err(ApiError::Conflict(message)),
    }
}

#[derive(serde::Deserialize)]
struct ForceQuery {
    #[serde(default)]
    force: bool,
}

async fn deallocate(
    State(state): State<AppState>,
    UrlPath(name): UrlPath<String>,
    Query(query): Query<ForceQuery>,
) -> ApiResult<Response> {
    set_deallocated(&state, &name, true, query.force)
}

async fn start(State(state): State<AppState>, UrlPath(name): UrlPath<String>) -> ApiResult<Response> {
    set_deallocated(&state, &name, false, false)
}

fn set_deallocated(state: &AppState, name: &str, deallocated: bool, force: bool) -> ApiResult<Response> {
    let cluster = existing_cluster(state, name)?;
    if deallocated {
        validate_deallocate(cluster.properties.cluster_type.unwrap_or_default(), force)?;
    }
    ensure_idle(state, name)?;
    let mut properties = cluster.properties.clone();
    properties.deallocated = Some(deallocated);
    let verb = if deallocated { "deallocate" } else { "start" };
    let op = new_operation(format!("{verb} cluster {name}"), format!("/clusters/{name}"));
    state.store.update_cluster(name, &properties, &op)?;
    Ok(accepted(state, &op))
}

async fn cluster_status(
    State(state): State<AppState>,
    UrlPath(name): UrlPath<String>,
) -> ApiResult<Json<ClusterStatus>> {
    let cluster = existing_cluster(&state, &name)?;
    let (store, provider) = (state.store.clone(), state.provider.clone());
    // Admin API probes block; keep them off the async workers.
    let status = tokio::task::spawn_blocking(move || -> ApiResult<ClusterStatus> {
        let nodes = store.nodes(&name)?;
        let mut data_centers = Vec::new();
        for dc in store.data_centers(&name)? {
            let dc_nodes: Vec<_> = nodes
                .iter()
                .filter(|n| n.data_center == dc.name)
                .cloned()
                .collect();
            let statuses: Vec<NodeStatus> =
                crate::node_status::data_center_nodes(provider.as_ref(), &dc_nodes, now_seconds());
            data_centers.push(DataCenterStatus {
                name: dc.name.clone(),
                seed_nodes: seeds(&dc_nodes).iter().map(ToString::to_string).collect(),
                nodes: statuses,
            });
        }
        let repair = Some(crate::repair::status(&store, &cluster)?);
        Ok(ClusterStatus { data_centers, repair })
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))??;
    Ok(Json(status))
}

/// `POST /clusters/{c}/invokeCommand`: an allowlisted nodetool verb on one node (see [`crate::command`]).
async fn invoke_command(
    State(state): State<AppState>,
    UrlPath(name): UrlPath<String>,
    body: axum::body::Bytes,
) -> ApiResult<Json<mica_control_api::CommandOutput>> {
    let request: mica_control_api::CommandPostBody = parse_body(&body)?;
    existing_cluster(&state, &name)?;
    let nodes = state.store.nodes(&name)?;
    let (node, argv) = crate::command::resolve(&request, &nodes)?;
    let node = node.clone();
    let provider = state.provider.clone();
    // Admin API calls block; keep them off the async workers.
    let output = tokio::task::spawn_blocking(move || crate::command::invoke(provider.as_ref(), &node, &argv))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Json(output))
}

async fn get_operation(
    State(state): State<AppState>,
    UrlPath(id): UrlPath<String>,
) -> ApiResult<Json<OperationResource>> {
    state
        .store
        .operation(&id)?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("operation '{id}' does not exist")))
}

/// `GET /clusters/{c}/metrics`: the last hour of throughput and latency points (see [`crate::metrics`]).
async fn cluster_metrics(
    State(state): State<AppState>,
    UrlPath(name): UrlPath<String>,
) -> ApiResult<Json<mica_control_api::ClusterMetrics>> {
    existing_cluster(&state, &name)?;
    let data_centers: Vec<String> = state
        .store
        .data_centers(&name)?
        .into_iter()
        .map(|dc| dc.name)
        .collect();
    Ok(Json(state.metrics.series(&name, &data_centers)))
}

/// How many operations `GET /clusters/{c}/operations` returns at most (newest first).
const MAX_LISTED_OPERATIONS: usize = 100;

/// `GET /clusters/{c}/operations`: the cluster's operations, newest first (the portal's Activity pane). Operations
/// outlive a deleted cluster, so only a name with neither a cluster nor operations is unknown.
async fn list_operations(
    State(state): State<AppState>,
    UrlPath(cluster): UrlPath<String>,
) -> ApiResult<Json<ListResponse<OperationResource>>> {
    let value = state.store.cluster_operations(&cluster, MAX_LISTED_OPERATIONS)?;
    if value.is_empty() && state.store.cluster(&cluster)?.is_none() {
        return Err(ApiError::NotFound(format!("cluster '{cluster}' does not exist")));
    }
    Ok(Json(ListResponse { value }))
}

/// The routes the router serves, as the OpenAPI document lists them (kept in step by a test).
pub const ROUTES: &[(&str, &[&str])] = &[
    ("/openapi.json", &["get"]),
    ("/clusters", &["get"]),
    ("/clusters/{clusterName}", &["get", "put", "delete"]),
    ("/clusters/{clusterName}/dataCenters", &["get"]),
    (
        "/clusters/{clusterName}/dataCenters/{dataCenterName}",
        &["get", "put", "delete"],
    ),
    ("/clusters/{clusterName}/status", &["get", "post"]),
    ("/clusters/{clusterName}/deallocate", &["post"]),
    ("/clusters/{clusterName}/start", &["post"]),
    ("/clusters/{clusterName}/invokeCommand", &["post"]),
    ("/clusters/{clusterName}/invokeCommandAsync", &["post"]),
    ("/clusters/{clusterName}/commands", &["get"]),
    ("/clusters/{clusterName}/commands/{commandId}", &["get"]),
    ("/operations/{operationId}", &["get"]),
    ("/clusters/{clusterName}/metrics", &["get"]),
    ("/clusters/{clusterName}/operations", &["get"]),
];
