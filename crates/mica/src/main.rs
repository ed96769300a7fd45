//! The `mica` command line: `mica node` runs a database node from a cassandra.yaml, `mica up` starts the
//! control plane with a ready-to-use cluster (TLS and a password; `--single-node`: one in-process node),
//! `mica nodetool` talks to a node's admin API, `mica server|cluster|datacenter` are the control plane.

mod control;
mod control_update;
mod nodetool;
mod table;
mod up;
mod up_cluster;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use mica_config::NodeConfig;
use mica_node::Node;

/// Log filter when RUST_LOG is unset: Mica at info, the storage library only when something is wrong
/// (it reports every flush at info).
const DEFAULT_LOG_FILTER: &str = "info,fjall=warn,lsm_tree=warn";
/// Log filter of `mica up` (the control plane with a cluster) when RUST_LOG is unset: its own lines say what
/// happens, so only warnings are logged; the CQL driver's retries while nodes start are expected, not news.
const UP_LOG_FILTER: &str = "warn,scylla=off";

/// Mica: an Apache Cassandra-compatible database node and its tooling.
#[derive(Debug, Parser)]
#[command(name = "mica", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a database node configured by a cassandra.yaml (stops on SIGTERM or Ctrl-C).
    Node {
        /// Path of the node's cassandra.yaml; cassandra-rackdc.properties is read from the same directory.
        #[arg(long, value_name = "PATH")]
        config: PathBuf,
    },
    /// Start the control plane with a ready cluster (default: 3 nodes, TLS, a password), creating it on first
    /// run; Ctrl-C stops everything. --single-node runs one node in this process instead.
    Up(up::UpArgs),
    /// Run a nodetool command (status, info, describecluster, ring, version, tablestats, flush, compact, stopdaemon,
    /// describering, getendpoints, gossipinfo, get/settimeout, get/setcompactionthroughput, get/setstreamthroughput,
    /// drain, snapshot, listsnapshots, clearsnapshot, tpstats, compactionstats, netstats, repair, rebuild, cleanup,
    /// decommission, removenode, proxyhistograms, tablehistograms)
    /// against a node's admin API, printing what Cassandra's nodetool prints.
    Nodetool(nodetool::NodetoolArgs),
    /// Run the control plane: the REST API, the reconciler and the nodes of every cluster.
    Server(control::ServerArgs),
    /// Create, show, list or delete clusters through the control plane.
    Cluster {
        #[command(subcommand)]
        command: control::ClusterCommand,
        #[command(flatten)]
        connection: control::Connection,
    },
    /// Create, show or list a cluster's datacenters through the control plane.
    Datacenter {
        #[command(subcommand)]
        command: control::DataCenterCommand,
        #[command(flatten)]
        connection: control::Connection,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_filter = match &cli.command {
        Command::Up(args) if !args.single_node => UP_LOG_FILTER,
        _ => DEFAULT_LOG_FILTER,
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stdout)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter)),
        )
        .init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", error_chain(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, skipping causes whose text the error above already shows
/// (several library errors embed their source in their own message).
fn error_chain(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if !line.contains(&text) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
    }
    line
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Node { config } => {
            let loaded = NodeConfig::load(&config).context("cannot load the node configuration")?;
            let node = Node::start(loaded).context("cannot start the node")?;
            node.wait()?;
            Ok(())
        }
        Command::Up(args) => up::run(&args),
        Command::Nodetool(args) => nodetool::run(&args),
        Command::Server(args) => control::server(&args),
        Command::Cluster { command, connection } => control::cluster(&command, &connection),
        Command::Datacenter { command, connection } => control::data_center(&command, &connection),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_chain_drops_repeated_causes() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "gone");
        let error = anyhow::Error::new(io)
            .context("cannot read x: gone")
            .context("cannot load");
        assert_eq!(error_chain(&error), "cannot load: cannot read x: gone");
    }

    #[test]
    fn command_lines_parse() {
        let cli = Cli::try_parse_from(["mica", "node", "--config", "conf/cassandra.yaml"]).unwrap();
        assert!(
            matches!(cli.command, Command::Node { config } if config.as_path() == std::path::Path::new("conf/cassandra.yaml"))
        );
        assert!(Cli::try_parse_from(["mica", "node"]).is_err());

        let cli = Cli::try_parse_from(["mica", "up"]).unwrap();
        let Command::Up(args) = cli.command else {
            panic!("expected up");
        };
        assert!(!args.single_node);
        assert_eq!(args.state_dir, None);
        assert_eq!(args.listen.to_string(), "127.0.0.1:9190");
        assert_eq!(args.first_node_address.to_string(), "127.0.1.1");
        assert_eq!((args.cluster_name.as_str(), args.nodes), ("default", 3));
        assert_eq!(args.admin_password, None);
        assert_eq!(args.address.to_string(), "127.0.0.1");
        assert_eq!(args.port, 9042);

        let cli = Cli::try_parse_from([
            "mica",
            "up",
            "--nodes",
            "1",
            "--cluster-name",
            "c1",
            "--admin-password",
            "S3cret-pass",
            "--listen",
            "127.0.0.1:0",
        ])
        .unwrap();
        let Command::Up(args) = cli.command else {
            panic!("expected up");
        };
        assert_eq!((args.cluster_name.as_str(), args.nodes), ("c1", 1));
        assert_eq!(args.admin_password.as_deref(), Some("S3cret-pass"));
        assert!(Cli::try_parse_from(["mica", "up", "--nodes", "0"]).is_err());
        // The node's own address and port belong to --single-node.
        assert!(Cli::try_parse_from(["mica", "up", "--port", "9100"]).is_err());

        let cli = Cli::try_parse_from([
            "mica",
            "up",
            "--single-node",
            "--state-dir",
            "/s",
            "--address",
            "::1",
            "--port",
            "9100",
        ])
        .unwrap();
        let Command::Up(args) = cli.command else {
            panic!("expected up");
        };
        assert!(args.single_node);
        assert_eq!(args.state_dir, Some(PathBuf::from("/s")));
        assert_eq!(args.address.to_string(), "::1");
        assert_eq!(args.port, 9100);
    }
}
