//! `mica server` (the control plane) and its CLI commands, `mica cluster
//! create|update|show|list|delete|status|deallocate|start|invoke-command` and `mica datacenter create|update|show|list|delete`, with `az managed-cassandra`'s flag names. The CLI finds the server through
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
    AuthenticationMethod, AutoReplicate, Certificate, ClusterProperties, ClusterResource, ClusterStatus,
    ClusterType, CommandOutput, CommandPostBody, DataCenterProperties, DataCenterResource, ListResponse,
    OperationResource, OperationStatus, ScheduledEventStrategy,
};

/// The control plane's default address.
pub(crate) const DEFAULT_LISTEN: &str = "127.0.0.1:9190";
/// The first loopback address a local control plane hands to nodes.
pub(crate) const DEFAULT_FIRST_NODE_ADDRESS: &str = "127.0.1.1";
/// How often the CLI polls a long-running operation.
const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// The default state directory of a local control plane: $MICA_STATE_DIR, else ~/.mica/control.
pub(crate) fn default_state_dir() -> PathBuf {
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
    #[arg(long, value_name = "ADDR", default_value = DEFAULT_FIRST_NODE_ADDRESS)]
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

mod commands;

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
    /// How to print results: json (the API's resources) or table (a compact summary).
    #[arg(short = 'o', long, global = true, value_enum, default_value_t = OutputFormat::Json)]
    output: OutputFormat,
}

/// `--output`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    #[default]
    Json,
    Table,
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
    /// Update a cluster (version, client certificates, ...); configuration changes restart nodes one at a time.
    Update(crate::control_update::ClusterUpdateArgs),
    /// Show a cluster.
    Show(ClusterName),
    /// List clusters.
    List,
    /// Delete a cluster with all its nodes and data.
    Delete(ClusterDeleteArgs),
    /// Show every node's status (address, Up/Down, state, load, host id, rack, disk and memory use).
    Status(ClusterName),
    /// Stop every node, keeping its data (Production clusters need --force).
    Deallocate(ClusterForceArgs),
    /// Start a deallocated cluster again.
    Start(ClusterForceArgs),
    /// Run an allowlisted nodetool command on one node and print its output (with --no-wait: start it in the
    /// background and print the command resource; see `mica cluster command show`).
    InvokeCommand(InvokeCommandArgs),
    /// Show or list commands started with `invoke-command --no-wait`.
    #[command(subcommand)]
    Command(commands::CommandCommand),
}

#[derive(Debug, Args)]
pub struct ClusterForceArgs {
    #[arg(short = 'c', long = "cluster-name")]
    cluster_name: String,
    /// Deallocate even a Production cluster (accepted and ignored by start).
    #[arg(long)]
    force: bool,
}

#[derive(Debug, Args)]
pub struct InvokeCommandArgs {
    #[arg(short = 'c', long = "cluster-name")]
    cluster_name: String,
    /// Address of the node to run the command on.
    #[arg(long)]
    host: String,
    /// The nodetool verb: status, info, describecluster, ring, version, tablestats, flush or compact.
    #[arg(long = "command-name")]
    command_name: String,
    /// Arguments as key=value pairs (a key starting with '-' is a flag; `keyspace=ks` passes `ks`). Give it
    /// last: it takes every following word, flags like `-T` included.
    #[arg(long, num_args = 1.., allow_hyphen_values = true, value_parser = parse_argument)]
    arguments: Vec<(String, String)>,
}

fn parse_argument(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some(("", _)) => Err(format!("'{text}' has no key; use key=value")),
        Some((k, v)) => Ok((k.to_owned(), v.to_owned())),
        None => Ok((text.to_owned(), String::new())),
    }
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
    /// Update a datacenter (node count, sku, yaml fragment); configuration changes restart nodes one at a time.
    Update(crate::control_update::DataCenterUpdateArgs),
    /// Show a datacenter.
    Show(DataCenterName),
    /// List a cluster's datacenters.
    List(ClusterName),
    /// Delete a datacenter with its nodes and their data.
    Delete(DataCenterDeleteArgs),
}

#[derive(Debug, Args)]
pub struct DataCenterDeleteArgs {
    #[arg(short = 'c', long = "cluster-name")]
    cluster_name: String,
    #[arg(short = 'd', long = "data-center-name")]
    data_center_name: String,
    /// Do not prompt for confirmation (accepted for `az` compatibility; the CLI never prompts).
    #[arg(short = 'y', long)]
    yes: bool,
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

pub(crate) fn parse_with<T: serde::de::DeserializeOwned>(text: &str, names: &str) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|_| format!("use one of {names}"))
}
pub(crate) fn parse_cluster_type(s: &str) -> Result<ClusterType, String> {
    parse_with(s, "Production, NonProduction")
}
pub(crate) fn parse_authentication_method(s: &str) -> Result<AuthenticationMethod, String> {
    parse_with(s, "None, Cassandra")
}
pub(crate) fn parse_auto_replicate(s: &str) -> Result<AutoReplicate, String> {
    parse_with(s, "None, SystemKeyspaces, AllKeyspaces")
}
pub(crate) fn parse_strategy(s: &str) -> Result<ScheduledEventStrategy, String> {
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
            let op = client.put(&path, &with_admin_password(&body, args)?)?;
            finish(&client, connection, op, Some(&path))
        }
        ClusterCommand::Update(args) => {
            let (path, op) = crate::control_update::cluster(args, &client)?;
            finish(&client, connection, op, Some(&path))
        }
        ClusterCommand::Show(args) => {
            let cluster = client.get::<ClusterResource>(&format!("/clusters/{}", args.cluster_name))?;
            match connection.output {
                OutputFormat::Json => print_json(&cluster),
                OutputFormat::Table => print_table(&crate::table::clusters(std::slice::from_ref(&cluster))),
            }
        }
        ClusterCommand::List => {
            let clusters = client.get::<ListResponse<ClusterResource>>("/clusters")?.value;
            match connection.output {
                OutputFormat::Json => print_json(&clusters),
                OutputFormat::Table => print_table(&crate::table::clusters(&clusters)),
            }
        }
        ClusterCommand::Status(args) => {
            let status = client.get::<ClusterStatus>(&format!("/clusters/{}/status", args.cluster_name))?;
            match connection.output {
                OutputFormat::Json => print_json(&status),
                OutputFormat::Table => print_table(&crate::table::status(&status)),
            }
        }
        ClusterCommand::Deallocate(args) => {
            let path = format!("/clusters/{}", args.cluster_name);
            let op = client.post::<OperationResource>(&format!("{path}/deallocate?force={}", args.force))?;
            finish(&client, connection, op, Some(&path))
        }
        ClusterCommand::Start(args) => {
            let path = format!("/clusters/{}", args.cluster_name);
            let op = client.post::<OperationResource>(&format!("{path}/start"))?;
            finish(&client, connection, op, Some(&path))
        }
        ClusterCommand::InvokeCommand(args) => {
            let body = CommandPostBody {
                command: args.command_name.clone(),
                arguments: args.arguments.iter().cloned().collect(),
                host: args.host.clone(),
                cassandra_stop_start: None,
                read_write: None,
            };
            if connection.no_wait {
                return commands::invoke_async(connection, &args.cluster_name, &body);
            }
            let output: CommandOutput =
                client.post_json(&format!("/clusters/{}/invokeCommand", args.cluster_name), &body)?;
            match connection.output {
                OutputFormat::Json => print_json(&output),
                OutputFormat::Table => {
                    // The raw nodetool output, as `nodetool` itself prints it.
                    print!("{}", output.command_output);
                    if let Some(error) = &output.error_output {
                        eprint!("{error}");
                    }
                    match output.exit_code {
                        Some(0) | None => Ok(()),
                        Some(code) => bail!("{} exited with code {code}", args.command_name),
                    }
                }
            }
        }
        ClusterCommand::Command(command) => commands::run(command, connection),
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
        DataCenterCommand::Update(args) => {
            let (path, op) = crate::control_update::data_center(args, &client)?;
            finish(&client, connection, op, Some(&path))
        }
        DataCenterCommand::Show(args) => {
            let dc = client.get::<DataCenterResource>(&format!(
                "/clusters/{}/dataCenters/{}",
                args.cluster_name, args.data_center_name
            ))?;
            match connection.output {
                OutputFormat::Json => print_json(&dc),
                OutputFormat::Table => print_table(&crate::table::data_centers(std::slice::from_ref(&dc))),
            }
        }
        DataCenterCommand::List(args) => {
            let dcs = client
                .get::<ListResponse<DataCenterResource>>(&format!(
                    "/clusters/{}/dataCenters",
                    args.cluster_name
                ))?
                .value;
            match connection.output {
                OutputFormat::Json => print_json(&dcs),
                OutputFormat::Table => print_table(&crate::table::data_centers(&dcs)),
            }
        }
        DataCenterCommand::Delete(args) => {
            let _ = args.yes;
            let op = client.delete(&format!(
                "/clusters/{}/dataCenters/{}",
                args.cluster_name, args.data_center_name
            ))?;
            finish(&client, connection, op, None)
        }
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
    let op = wait_succeeded(client, op)?;
    match resource {
        Some(path) => print_json(&client.get::<serde_json::Value>(path)?),
        None => print_json(&op),
    }
}

/// Waits for the operation with a progress line; an operation that did not succeed is an error with its reason.
pub(crate) fn wait_succeeded(client: &Client, op: OperationResource) -> Result<OperationResource> {
    let op = wait(client, op)?;
    if op.status != OperationStatus::Succeeded {
        let reason = op
            .error
            .as_ref()
            .map_or("no reason given".to_owned(), |e| e.message.clone());
        bail!("{} {}: {reason}", op.name, op.status.as_str());
    }
    Ok(op)
}

pub(crate) fn wait(client: &Client, mut op: OperationResource) -> Result<OperationResource> {
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

/// The request body: the resource never serializes the write-only password, so it is added here.
fn with_admin_password(body: &ClusterResource, args: &ClusterCreateArgs) -> Result<serde_json::Value> {
    cluster_body(body, args.initial_cassandra_admin_password.as_deref())
}

/// A cluster's request body with the write-only initial admin password, if any.
pub(crate) fn cluster_body(body: &ClusterResource, password: Option<&str>) -> Result<serde_json::Value> {
    let mut json = serde_json::to_value(body)?;
    if let Some(password) = password
        && let Some(properties) = json.get_mut("properties").and_then(|p| p.as_object_mut())
    {
        properties.insert(
            "initialCassandraAdminPassword".to_owned(),
            serde_json::Value::String(password.to_owned()),
        );
    }
    Ok(json)
}

fn print_table(text: &str) -> Result<()> {
    print!("{text}");
    Ok(())
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
        // The write-only password reaches the request body.
        let json = with_admin_password(&ClusterResource::default(), &args).unwrap();
        assert_eq!(json["properties"]["initialCassandraAdminPassword"], "pw");

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

    #[test]
    fn status_deallocate_start_invoke_and_datacenter_delete_parse() {
        let cli =
            Cli::try_parse_from(["mica", "cluster", "status", "-c", "c1", "--output", "table"]).unwrap();
        let Command::Cluster {
            command: ClusterCommand::Status(args),
            connection,
        } = cli.command
        else {
            panic!("expected cluster status");
        };
        assert_eq!(args.cluster_name, "c1");
        assert_eq!(connection.output, OutputFormat::Table);

        let cli = Cli::try_parse_from(["mica", "cluster", "deallocate", "-c", "c1", "--force"]).unwrap();
        let Command::Cluster {
            command: ClusterCommand::Deallocate(args),
            connection,
        } = cli.command
        else {
            panic!("expected cluster deallocate");
        };
        assert!(args.force);
        assert_eq!(connection.output, OutputFormat::Json, "JSON by default");
        assert!(matches!(
            Cli::try_parse_from(["mica", "cluster", "start", "-c", "c1"])
                .unwrap()
                .command,
            Command::Cluster {
                command: ClusterCommand::Start(ClusterForceArgs { force: false, .. }),
                ..
            }
        ));

        let cli = Cli::try_parse_from([
            "mica",
            "cluster",
            "invoke-command",
            "-c",
            "c1",
            "--host",
            "127.0.1.1",
            "--command-name",
            "info",
            "--arguments",
            "-T",
            "keyspace=ks",
        ])
        .unwrap();
        let Command::Cluster {
            command: ClusterCommand::InvokeCommand(args),
            ..
        } = cli.command
        else {
            panic!("expected cluster invoke-command");
        };
        assert_eq!(
            (args.host.as_str(), args.command_name.as_str()),
            ("127.0.1.1", "info")
        );
        assert_eq!(
            args.arguments,
            vec![
                ("-T".to_owned(), String::new()),
                ("keyspace".to_owned(), "ks".to_owned())
            ]
        );
        assert!(
            Cli::try_parse_from([
                "mica",
                "cluster",
                "invoke-command",
                "-c",
                "c1",
                "--host",
                "h",
                "--command-name",
                "x",
                "--arguments",
                "=v"
            ])
            .is_err()
        );

        let cli =
            Cli::try_parse_from(["mica", "datacenter", "delete", "-c", "c1", "-d", "dc2", "--yes"]).unwrap();
        let Command::Datacenter {
            command: DataCenterCommand::Delete(args),
            ..
        } = cli.command
        else {
            panic!("expected datacenter delete");
        };
        assert_eq!(
            (args.cluster_name.as_str(), args.data_center_name.as_str()),
            ("c1", "dc2")
        );
        assert!(Cli::try_parse_from(["mica", "cluster", "list", "--output", "yaml"]).is_err());
    }
}
