//! The `mica` command line: `mica node` runs a database node from a cassandra.yaml, `mica up` starts
//! a ready-to-use local node with TLS and a password, `mica nodetool` talks to a node's admin API.

mod control;
mod control_update;
mod nodetool;
mod table;
mod up;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use mica_config::NodeConfig;
use mica_node::Node;

/// Log filter when RUST_LOG is unset: Mica at info, the storage library only when something is wrong
/// (it reports every flush at info).
const DEFAULT_LOG_FILTER: &str = "info,fjall=warn,lsm_tree=warn";

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
    /// Start a local node with TLS and password authentication, creating its state on first run.
    Up(up::UpArgs),
    /// Run a nodetool command (status, info, describecluster, ring, version, tablestats, flush, compact, stopdaemon,
    /// describering, getendpoints, gossipinfo, get/settimeout, get/setcompactionthroughput, get/setstreamthroughput,
    /// drain, snapshot, listsnapshots, clearsnapshot, tpstats, compactionstats, netstats, decommission, removenode)
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
    tracing_subscriber::fmt()
        .with_writer(std::io::stdout)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_LOG_FILTER)),
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
        assert_eq!(args.state_dir, PathBuf::from(".mica"));
        assert_eq!(args.address.to_string(), "127.0.0.1");
        assert_eq!(args.port, 9042);

        let cli = Cli::try_parse_from([
            "mica",
            "up",
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
        assert_eq!(args.state_dir, PathBuf::from("/s"));
        assert_eq!(args.address.to_string(), "::1");
        assert_eq!(args.port, 9100);
    }
}
