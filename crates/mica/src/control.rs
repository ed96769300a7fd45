//! `mica server` (the control plane) and its first CLI commands, `mica cluster create|show|list|delete` and
//! `mica datacenter create|show|list`, with `az managed-cassandra`'s flag names. The CLI finds the server through
//! --server / MICA_SERVER and its token through --token / MICA_TOKEN, falling back to the files a local server
//! writes into its state directory, so that on one machine no flags are needed.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use mica_control::client::Client;
use mica_control::server::{ServerOptions, TOKEN_FILE, URL_FILE};
use mica_control_api::{
    AuthenticationMethod, AutoReplicate, Certificate, ClusterProperties, ClusterResource, ClusterType,
    DataCenterProperties, DataCenterResource, ListResponse, OperationResource, OperationStatus,
    ScheduledEventStrategy,
};

/// The control plane's default address.
const DEFAULT_LISTEN: &str = "127.0.0.1:9190";
/// How often the CLI polls a long-running operation.
const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// The default state directory of a local control plane: $MICA_STATE_DIR, else ~/.mica/control.
fn default_state_dir() -> PathBuf {
    match std::env::var_os("HOME") {
        Some(home) => PathBuf::from(home).join(".mica").join("control"),
        None => PathBuf::from(".mica-control"),
    }
}

/// Options of `mica server`.
#[derive(Debug, Args)]
pub struct ServerArgs {
    /// Directory holding the state database, the API token and every node's files.
    #[arg(long, value_name = "DIR", env = "MICA_STATE_DIR")]
    state_dir: Option<PathBuf>,
    /// Address and port of the REST API.
    #[arg(long, value_name = "ADDR:PORT", default_value = DEFAULT_LISTEN)]
    listen: SocketAddr,
    /// First loopback address handed to nodes (each node gets its own, counting up).
    #[arg(long, value_name = "ADDR", default_value = "127.0.1.1")]
    first_node_address: Ipv4Addr,
}

pub fn server(args: &ServerArgs) -> Result<()> {
    let node_binary = std::env::current_exe().context("cannot find the mica executable to run nodes with")?;
    let options = ServerOptions {
        state_dir: args.state_dir.clone().unwrap_or_else(default_state_dir),
        listen: args.listen,
        first_node_address: args.first_node_address,
        node_binary,
    };
    mica_control::server::run(&options)?;
    Ok(())
}

/// How the CLI reaches the control plane.
#[derive(Debug, Args)]
pub struct Connection {
    /// URL of the control plane (default: the local server's, from its state directory).
    #[arg(long, global = true, env = "MICA_SERVER", value_name = "URL")]
    server: Option<String>,
    /// API token (default: the local server's, from its state directory).
    #[arg(long, global = true, env = "MICA_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// State directory of a local server, read when --server or --token is not given.
    #[arg(long, global = true, env = "MICA_STATE_DIR", value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// Return at once instead of waiting for the operation to finish.
    #[arg(long, global = true)]
    no_wait: bool,
}

impl Connection {
    fn client(&self) -> Result<Client> {
        let dir = self.state_dir.clone().unwrap_or_else(default_state_dir);
        let read = |name: &str, what: &str, flag: &str| {
            let path = dir.join(name);
            std::fs::read_to_string(&path).with_context(|| {
                format!(
                    "no {what} given and none found in {} (pass {flag}, or start `mica server` on this machine)",
                    path.display()
                )
            })
        };
        let server = match &self.server {
            Some(s) => s.clone(),
            None => read(URL_FILE, "server URL", "--server / MICA_SERVER")?,
        };
        let token = match &self.token {
            Some(t) => t.clone(),
            None => read(TOKEN_FILE, "API token", "--token / MICA_TOKEN")?,
        };
        Ok(Client::new(&server, &token))
    }
}

#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Create a cluster (add datacenters with `mica datacenter create`).
    Create(ClusterCreateArgs),
    /// Show a cluster.
    Show(ClusterName),
    /// List clusters.
    List,
    /// Delete a cluster with all its nodes and data.
    Delete(ClusterDeleteArgs),
}

#[derive(Debug, Args)]
pub struct ClusterName {
    #[arg(short = 'c', long = "cluster-name")]
    cluster_name: String,
}

#[derive(Debug, Args)]
pub struct ClusterDeleteArgs {
    #[arg(short = 'c', long = "cluster-name")]
    cluster_name: String,
    /// Do not prompt for confirmation (accepted for `az` compatibility; the CLI never prompts).
    #[arg(short = 'y', long)]
    yes: bool,
}

#[derive(Debug, Args)]
pub struct ClusterCreateArgs {
    #[arg(short = 'c', long = "cluster-name")]
    cluster_name: String,
    /// Password of the `cassandra` role.
    #[arg(short = 'i', long = "initial-cassandra-admin-password")]
    initial_cassandra_admin_password: Option<String>,
    /// 3.11, 4.0, 4.1 or 5.0.
    #[arg(long = "cassandra-version")]
    cassandra_version: Option<String>,
    #[arg(long = "cluster-type", value_parser = parse_cluster_type)]
    cluster_type: Option<ClusterType>,
    #[arg(long = "authentication-method", value_parser = parse_authentication_method)]
    authentication_method: Option<AuthenticationMethod>,
    /// PEM files of client certificates; clients must then present a certificate they sign.
    #[arg(long = "client-certificates", num_args = 1..)]
    client_certificates: Vec<PathBuf>,
    #[arg(long = "auto-replicate", value_parser = parse_auto_replicate)]
    auto_replicate: Option<AutoReplicate>,
    #[arg(long = "scheduled-event-strategy", value_parser = parse_strategy)]
    scheduled_event_strategy: Option<ScheduledEventStrategy>,
    #[arg(long = "repair-enabled")]
    repair_enabled: Option<bool>,
}

#[derive(Debug, Subcommand)]
pub enum DataCenterCommand {
    /// Add a datacenter to a cluster.
    Create(DataCenterCreateArgs),
    /// Show a datacenter.
    Show(DataCenterName),
    /// List a cluster's datacenters.
    List(ClusterName),
}

#[derive(Debug, Args)]
pub struct DataCenterName {
    #[arg(short = 'c', long = "cluster-name")]
    cluster_name: String,
    #[arg(short = 'd', long = "data-center-name")]
    data_center_name: String,
}

#[derive(Debug, Args)]
pub struct DataCenterCreateArgs {
    #[arg(short = 'c', long = "cluster-name")]
    cluster_name: String,
    #[arg(short = 'd', long = "data-center-name")]
    data_center_name: String,
    #[arg(short = 'n', long = "node-count", allow_negative_numbers = true)]
    node_count: i64,
    #[arg(short = 'l', long = "data-center-location")]
    data_center_location: Option<String>,
    #[arg(long)]
    sku: Option<String>,
    #[arg(long = "disk-sku")]
    disk_sku: Option<String>,
    #[arg(long = "disk-capacity")]
    disk_capacity: Option<i64>,
    #[arg(long = "availability-zone")]
    availability_zone: Option<bool>,
    #[arg(short = 'b', long = "base64-encoded-cassandra-yaml-fragment")]
    base64_encoded_cassandra_yaml_fragment: Option<String>,
}

fn parse_with<T: serde::de::DeserializeOwned>(text: &str, names: &str) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|_| format!("use one of {names}"))
}
fn parse_cluster_type(s: &str) -> Result<ClusterType, String> {
    parse_with(s, "Production, NonProduction")
}
fn parse_authentication_method(s: &str) -> Result<AuthenticationMethod, String> {
    parse_with(s, "None, Cassandra")
}
fn parse_auto_replicate(s: &str) -> Result<AutoReplicate, String> {
    parse_with(s, "None, SystemKeyspaces, AllKeyspaces")
}
fn parse_strategy(s: &str) -> Result<ScheduledEventStrategy, String> {
    parse_with(s, "StopAny, StopByRack")
}

pub fn cluster(command: &ClusterCommand, connection: &Connection) -> Result<()> {
    let client = connection.client()?;
    match command {
        ClusterCommand::Create(args) => {
            let client_certificates = args
                .client_certificates
                .iter()
                .map(|p| {
                    std::fs::read_to_string(p)
                        .map(|pem| Certificate { pem })
                        .with_context(|| format!("cannot read {}", p.display()))
                })
                .collect::<Result<Vec<_>>>()?;
            let body = ClusterResource {
                properties: ClusterProperties {
                    cassandra_version: args.cassandra_version.clone(),
                    cluster_type: args.cluster_type,
                    authentication_method: args.authentication_method,
                    initial_cassandra_admin_password: args.initial_cassandra_admin_password.clone(),
                    client_certificates,
                    auto_replicate: args.auto_replicate,
                    scheduled_event_strategy: args.scheduled_event_strategy,
                    repair_enabled: args.repair_enabled,
                    ..Default::default()
                },
                ..Default::default()
            };
            let path = format!("/clusters/{}", args.cluster_name);
            let op = client.put(&path, &body)?;
            finish(&client, connection, op, Some(&path))
        }
        ClusterCommand::Show(args) => {
            print_json(&client.get::<ClusterResource>(&format!("/clusters/{}", args.cluster_name))?)
        }
        ClusterCommand::List => print_json(&client.get::<ListResponse<ClusterResource>>("/clusters")?.value),
        ClusterCommand::Delete(args) => {
            let _ = args.yes;
            let op = client.delete(&format!("/clusters/{}", args.cluster_name))?;
            finish(&client, connection, op, None)
        }
    }
}

pub fn data_center(command: &DataCenterCommand, connection: &Connection) -> Result<()> {
    let client = connection.client()?;
    match command {
        DataCenterCommand::Create(args) => {
            let body = DataCenterResource {
                properties: DataCenterProperties {
                    data_center_location: args.data_center_location.clone(),
                    availability_zone: args.availability_zone,
                    sku: args.sku.clone(),
                    disk_sku: args.disk_sku.clone(),
                    disk_capacity: args.disk_capacity,
                    node_count: Some(args.node_count),
                    base64_encoded_cassandra_yaml_fragment: args
                        .base64_encoded_cassandra_yaml_fragment
                        .clone(),
                    ..Default::default()
                },
                ..Default::default()
            };
            let path = format!(
                "/clusters/{}/dataCenters/{}",
                args.cluster_name, args.data_center_name
            );
            let op = client.put(&path, &body)?;
            finish(&client, connection, op, Some(&path))
        }
        DataCenterCommand::Show(args) => print_json(&client.get::<DataCenterResource>(&format!(
            "/clusters/{}/dataCenters/{}",
            args.cluster_name, args.data_center_name
        ))?),
        DataCenterCommand::List(args) => print_json(
            &client
                .get::<ListResponse<DataCenterResource>>(&format!(
                    "/clusters/{}/dataCenters",
                    args.cluster_name
                ))?
                .value,
        ),
    }
}

/// Waits for the operation (unless --no-wait) with a progress line, then prints the resource (or the operation).
fn finish(
    client: &Client,
    connection: &Connection,
    op: OperationResource,
    resource: Option<&str>,
) -> Result<()> {
    if connection.no_wait {
        return print_json(&op);
    }
    let op = wait(client, op)?;
    if op.status != OperationStatus::Succeeded {
        let reason = op
            .error
            .as_ref()
            .map_or("no reason given".to_owned(), |e| e.message.clone());
        bail!("{} {}: {reason}", op.name, op.status.as_str());
    }
    match resource {
        Some(path) => print_json(&client.get::<serde_json::Value>(path)?),
        None => print_json(&op),
    }
}

fn wait(client: &Client, mut op: OperationResource) -> Result<OperationResource> {
    let spinner = indicatif::ProgressBar::new_spinner();
    spinner.enable_steady_tick(Duration::from_millis(120));
    while !op.status.is_terminal() {
        let last = op.steps.last().map_or("waiting", |s| s.name.as_str());
        spinner.set_message(format!("{} {}% {last}", op.name, op.percent_complete));
        std::thread::sleep(POLL_INTERVAL);
        op = client.get(&op.id)?;
    }
    spinner.finish_and_clear();
    Ok(op)
}

fn print_json<T: serde::Serialize>(value: &T) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use clap::Parser;

    use super::*;
    use crate::{Cli, Command};

    #[test]
    fn az_style_flags_parse() {
        let cli = Cli::try_parse_from([
            "mica",
            "cluster",
            "create",
            "-c",
            "c1",
            "-i",
            "pw",
            "--cassandra-version",
            "4.0",
            "--cluster-type",
            "NonProduction",
            "--no-wait",
            "--server",
            "http://h:1",
        ])
        .unwrap();
        let Command::Cluster {
            command: ClusterCommand::Create(args),
            connection,
        } = cli.command
        else {
            panic!("expected cluster create");
        };
        assert_eq!(args.cluster_name, "c1");
        assert_eq!(args.cluster_type, Some(ClusterType::NonProduction));
        assert!(connection.no_wait);
        assert_eq!(connection.server.as_deref(), Some("http://h:1"));

        let cli = Cli::try_parse_from([
            "mica",
            "datacenter",
            "create",
            "-c",
            "c1",
            "-d",
            "dc1",
            "-n",
            "-1",
        ])
        .unwrap();
        let Command::Datacenter {
            command: DataCenterCommand::Create(args),
            ..
        } = cli.command
        else {
            panic!("expected datacenter create");
        };
        // Negative counts reach the server, whose 400 says what to change.
        assert_eq!(args.node_count, -1);
        assert!(
            Cli::try_parse_from(["mica", "cluster", "create", "-c", "c", "--cluster-type", "Dev"]).is_err()
        );
    }
}
