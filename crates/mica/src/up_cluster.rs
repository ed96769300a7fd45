//! `mica up` without --single-node: runs the control plane (what `mica server` runs) in a thread, makes sure a
//! default cluster exists (creating it and its datacenter dc1 through the REST API, as `mica cluster create` and
//! `mica datacenter create` do), waits until its nodes serve CQL, prints how to connect, then serves until
//! Ctrl-C or SIGTERM, when the control plane stops its nodes.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, bail};
use mica_control::client::{Client, ClientError};
use mica_control::server::{ServerError, ServerOptions, TOKEN_FILE, URL_FILE};
use mica_control_api::validate::{validate_data_center, validate_new_cluster};
use mica_control_api::validate_cluster_name;
use mica_control_api::{
    ClusterProperties, ClusterResource, ClusterStatus, ClusterType, DataCenterProperties, DataCenterResource,
    ListResponse, OperationResource,
};
use rand::Rng;

use crate::control::{cluster_body, default_state_dir, wait_succeeded};
use crate::up::UpArgs;

/// The file (mode 0600, in the state directory) keeping the admin password `mica up` created its cluster with.
pub const PASSWORD_FILE: &str = "up-admin-password";
/// Characters of a generated admin password (alphanumeric, so it pastes into a shell as is).
const GENERATED_PASSWORD_LENGTH: usize = 24;
/// The Cassandra version of the cluster `mica up` creates.
const CASSANDRA_VERSION: &str = "4.1";
/// The datacenter `mica up` creates.
const DATA_CENTER: &str = "dc1";
/// The CQL port of every node the local provider runs (each node has its own address).
const NATIVE_PORT: u16 = 9042;
/// How long the control plane may take to answer after its thread starts.
const SERVER_START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the nodes of an existing cluster may take to come up before `mica up` stops waiting for them.
const NODES_UP_TIMEOUT: Duration = Duration::from_secs(600);
/// How long an operation already running on the cluster may keep `mica up` from adding its datacenter.
const BUSY_TIMEOUT: Duration = Duration::from_secs(600);
/// How often `mica up` polls while waiting.
const POLL_INTERVAL: Duration = Duration::from_millis(250);
/// How long one probe of a node's CQL port may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Runs the control plane, brings the default cluster up and serves until Ctrl-C or SIGTERM.
pub fn run(args: &UpArgs) -> Result<()> {
    // Requests the control plane would reject are refused before it starts, so that `mica up` exits.
    validate_cluster_name(&args.cluster_name).context("invalid --cluster-name")?;
    let mut properties = cluster_properties();
    properties.initial_cassandra_admin_password = args.admin_password.clone();
    validate_new_cluster(&properties).context("invalid --admin-password")?;
    validate_data_center(&data_center_properties(args.nodes)).context("invalid --nodes")?;
    let state_dir = args
        .state_dir
        .clone()
        .or_else(|| std::env::var_os("MICA_STATE_DIR").map(PathBuf::from))
        .unwrap_or_else(default_state_dir);
    std::fs::create_dir_all(&state_dir).with_context(|| format!("cannot create {}", state_dir.display()))?;
    let state_dir =
        std::path::absolute(&state_dir).with_context(|| format!("cannot resolve {}", state_dir.display()))?;
    let options = ServerOptions {
        state_dir: state_dir.clone(),
        listen: args.listen,
        first_node_address: args.first_node_address,
        node_binary: std::env::current_exe().context("cannot find the mica executable to run nodes with")?,
    };
    let started = SystemTime::now();
    let server = std::thread::Builder::new()
        .name("control-plane".into())
        .spawn(move || mica_control::server::run(&options))
        .context("cannot start the control plane thread")?;

    let setup = bring_up(args, &state_dir, &server, started);
    if let Err(e) = &setup
        && !server.is_finished()
    {
        eprintln!(
            "error: {}; the control plane keeps running until Ctrl-C",
            crate::error_chain(e)
        );
    }
    let served = server
        .join()
        .map_err(|_| anyhow::anyhow!("the control plane thread panicked"))?;
    served.map_err(anyhow::Error::from)?;
    setup.map(|_| ())
}

/// What `mica up` tells the user once the cluster is ready.
struct Ready {
    url: String,
    password: Option<String>,
    addresses: Vec<String>,
}

fn bring_up(
    args: &UpArgs,
    state_dir: &Path,
    server: &JoinHandle<Result<(), ServerError>>,
    started: SystemTime,
) -> Result<Ready> {
    let (client, url) = connect(args, state_dir, server, started)?;
    let name = &args.cluster_name;
    let path = format!("/clusters/{name}");
    let password_file = state_dir.join(PASSWORD_FILE);
    let saved = read_password(&password_file)?;
    let password = match client.get::<ClusterResource>(&path) {
        Ok(cluster) => {
            if args.admin_password.is_some() && args.admin_password != saved {
                eprintln!(
                    "note: cluster '{name}' exists; --admin-password applies only when `mica up` creates it \
                     (change a password with ALTER ROLE through CQL)"
                );
            }
            if cluster.properties.deallocated == Some(true) {
                println!("Starting the deallocated cluster '{name}'.");
                let op = client.post::<OperationResource>(&format!("{path}/start"))?;
                wait_succeeded(&client, op)?;
            }
            saved
        }
        Err(ClientError::Problem(problem)) if problem.status == 404 => {
            let password = match (&args.admin_password, saved) {
                (Some(given), _) => given.clone(),
                (None, Some(saved)) => saved,
                (None, None) => generate_password(),
            };
            // Saved before the cluster exists, so that an interrupted first run still knows the password.
            write_password(&password_file, &password)?;
            create_cluster(&client, name, &password)?;
            Some(password)
        }
        Err(e) => return Err(e.into()),
    };
    let data_centers = client
        .get::<ListResponse<DataCenterResource>>(&format!("{path}/dataCenters"))?
        .value;
    if data_centers.is_empty() {
        create_data_center(&client, name, args.nodes)?;
    }
    let addresses = wait_for_nodes(&client, name)?;
    let ready = Ready {
        url,
        password,
        addresses,
    };
    print_ready(args, state_dir, &ready);
    Ok(ready)
}

/// Waits until the server thread has written its URL and token and its API answers.
fn connect(
    args: &UpArgs,
    state_dir: &Path,
    server: &JoinHandle<Result<(), ServerError>>,
    started: SystemTime,
) -> Result<(Client, String)> {
    let deadline = Instant::now() + SERVER_START_TIMEOUT;
    // With a fixed port the URL is known; with port 0 only a file written since this start is ours.
    let expected = (args.listen.port() != 0).then(|| format!("http://{}", args.listen));
    loop {
        if server.is_finished() {
            bail!("the control plane stopped while starting");
        }
        if let Some(url) = current_url(state_dir, expected.as_deref(), started)
            && let Ok(token) = std::fs::read_to_string(state_dir.join(TOKEN_FILE))
        {
            let client = Client::new(&url, &token);
            if client.get::<ListResponse<ClusterResource>>("/clusters").is_ok() {
                return Ok((client, url));
            }
        }
        if Instant::now() > deadline {
            bail!(
                "the control plane did not answer within {}s",
                SERVER_START_TIMEOUT.as_secs()
            );
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}

fn current_url(state_dir: &Path, expected: Option<&str>, started: SystemTime) -> Option<String> {
    let path = state_dir.join(URL_FILE);
    let url = std::fs::read_to_string(&path).ok()?.trim().to_owned();
    let fresh = match expected {
        Some(expected) => url == expected,
        None => std::fs::metadata(&path)
            .and_then(|m| m.modified())
            .is_ok_and(|modified| modified >= started),
    };
    fresh.then_some(url)
}

/// The cluster `mica up` creates (the password is added to the request body separately: it is write-only).
fn cluster_properties() -> ClusterProperties {
    ClusterProperties {
        cassandra_version: Some(CASSANDRA_VERSION.to_owned()),
        cluster_type: Some(ClusterType::NonProduction),
        ..Default::default()
    }
}

/// The datacenter `mica up` creates: `nodes` nodes of the default sku.
fn data_center_properties(nodes: u32) -> DataCenterProperties {
    DataCenterProperties {
        node_count: Some(i64::from(nodes)),
        ..Default::default()
    }
}

fn create_cluster(client: &Client, name: &str, password: &str) -> Result<()> {
    println!("Creating cluster '{name}' (Cassandra {CASSANDRA_VERSION}, NonProduction).");
    let body = ClusterResource {
        properties: cluster_properties(),
        ..Default::default()
    };
    let op = client.put(
        &format!("/clusters/{name}"),
        &cluster_body(&body, Some(password))?,
    )?;
    wait_succeeded(client, op)?;
    Ok(())
}

fn create_data_center(client: &Client, cluster: &str, nodes: u32) -> Result<()> {
    println!("Creating datacenter {DATA_CENTER} with {nodes} node(s); the first start takes a while.");
    let body = DataCenterResource {
        properties: data_center_properties(nodes),
        ..Default::default()
    };
    let path = format!("/clusters/{cluster}/dataCenters/{DATA_CENTER}");
    let deadline = Instant::now() + BUSY_TIMEOUT;
    // An operation left running by an interrupted run (the control plane resumes it) answers 409 until done.
    let op = loop {
        match client.put(&path, &body) {
            Err(ClientError::Problem(problem)) if problem.status == 409 && Instant::now() < deadline => {
                std::thread::sleep(POLL_INTERVAL);
            }
            other => break other?,
        }
    };
    wait_succeeded(client, op)?;
    Ok(())
}

/// Waits until every node of the cluster is Up and accepts CQL connections; returns their addresses.
fn wait_for_nodes(client: &Client, cluster: &str) -> Result<Vec<String>> {
    let spinner = indicatif::ProgressBar::new_spinner();
    spinner.enable_steady_tick(Duration::from_millis(120));
    let deadline = Instant::now() + NODES_UP_TIMEOUT;
    loop {
        let status = client.get::<ClusterStatus>(&format!("/clusters/{cluster}/status"))?;
        let nodes: Vec<_> = status.data_centers.iter().flat_map(|dc| &dc.nodes).collect();
        let up = nodes
            .iter()
            .filter(|n| n.status == "Up" && accepts_cql(&n.address))
            .count();
        let addresses: Vec<String> = nodes.iter().map(|n| n.address.clone()).collect();
        if !nodes.is_empty() && up == nodes.len() {
            spinner.finish_and_clear();
            return Ok(addresses);
        }
        if Instant::now() > deadline {
            spinner.finish_and_clear();
            eprintln!(
                "warning: {up} of {} node(s) of '{cluster}' serve CQL after {}s; see `mica cluster status -c {cluster} -o table`",
                nodes.len(),
                NODES_UP_TIMEOUT.as_secs()
            );
            return Ok(addresses);
        }
        spinner.set_message(format!(
            "waiting for the nodes of '{cluster}': {up} of {} up",
            nodes.len()
        ));
        std::thread::sleep(POLL_INTERVAL);
    }
}

fn accepts_cql(address: &str) -> bool {
    address.parse::<std::net::IpAddr>().is_ok_and(|ip| {
        TcpStream::connect_timeout(&SocketAddr::new(ip, NATIVE_PORT), CONNECT_TIMEOUT).is_ok()
    })
}

fn print_ready(args: &UpArgs, state_dir: &Path, ready: &Ready) {
    let cluster = &args.cluster_name;
    // The CLI finds a local server by its state directory; name it unless it is the default one.
    let dir_flag = if args.state_dir.is_none() && std::env::var_os("MICA_STATE_DIR").is_none() {
        String::new()
    } else {
        format!(" --state-dir {}", state_dir.display())
    };
    let first = ready.addresses.first().map_or("<node address>", String::as_str);
    let password = ready
        .password
        .as_deref()
        .unwrap_or("<the password the cluster was created with>");
    let ca = state_dir.join("clusters").join(cluster).join("ca.pem");
    println!();
    println!(
        "Mica is running: cluster '{cluster}' with {} node(s) ({}), TLS and password authentication.",
        ready.addresses.len(),
        ready.addresses.join(", ")
    );
    println!("  cqlsh:    SSL_VALIDATE=false cqlsh {first} {NATIVE_PORT} --ssl -u cassandra -p {password}");
    println!(
        "  drivers:  contact point {first}:{NATIVE_PORT}, user cassandra, password {password}; trust the cluster CA {}",
        ca.display()
    );
    if ready.password.is_some() {
        println!("  password: kept in {}", state_dir.join(PASSWORD_FILE).display());
    }
    println!("  status:   mica cluster status -c {cluster} -o table{dir_flag}");
    println!(
        "  nodetool: mica cluster invoke-command -c {cluster} --host {first} --command-name status{dir_flag}"
    );
    println!(
        "  control plane: {} (API token in {}; the `mica cluster` and `mica datacenter` commands find both)",
        ready.url,
        state_dir.join(TOKEN_FILE).display()
    );
    // The fragment carries the token into the page without sending it to the server in the URL.
    if let Ok(token) = std::fs::read_to_string(state_dir.join(TOKEN_FILE)) {
        println!("  Portal: {}/#token={}", ready.url, token.trim());
    }
    println!("Press Ctrl-C to stop the control plane and every node.");
    println!();
    let _ = std::io::stdout().flush();
}

fn generate_password() -> String {
    rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(GENERATED_PASSWORD_LENGTH)
        .map(char::from)
        .collect()
}

fn read_password(path: &Path) -> Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text.trim_end_matches(['\r', '\n']).to_owned()).filter(|p| !p.is_empty())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

fn write_password(path: &Path, password: &str) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(password.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn what_up_creates_passes_validation() {
        let mut properties = cluster_properties();
        properties.initial_cassandra_admin_password = Some(generate_password());
        validate_new_cluster(&properties).unwrap();
        validate_data_center(&data_center_properties(3)).unwrap();
        properties.initial_cassandra_admin_password = Some("short".into());
        assert!(validate_new_cluster(&properties).is_err());
    }

    #[test]
    fn generated_passwords_are_long_alphanumeric_and_differ() {
        let (a, b) = (generate_password(), generate_password());
        assert_eq!(a.len(), GENERATED_PASSWORD_LENGTH);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
    }

    #[test]
    fn the_password_file_is_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(PASSWORD_FILE);
        assert_eq!(read_password(&path).unwrap(), None);
        write_password(&path, "S3cret-pass").unwrap();
        assert_eq!(read_password(&path).unwrap().as_deref(), Some("S3cret-pass"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
    }
}
