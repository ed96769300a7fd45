//! A Mica database node: storage, persistent identity, the query engine and the CQL native-protocol
//! server (v3-v5, TLS, password authentication), assembled from a loaded cassandra.yaml.
//!
//! ```no_run
//! let loaded = mica_config::NodeConfig::load("cassandra.yaml")?;
//! let node = mica_node::Node::start(loaded)?;
//! println!("CQL on {:?}", node.native_address());
//! node.wait()?; // until SIGTERM/SIGINT, then a graceful shutdown
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The CQL server runs one current-thread runtime per core, each with its own SO_REUSEPORT listener,
//! so a connection and all its requests stay on one core.

mod activity;
mod admin;
mod admin_dc;
mod admin_histograms;
mod admin_keyspaces;
mod admin_metrics;
mod admin_ops;
mod admin_repair;
mod admin_topology;
mod cluster;
mod cluster_watch;
mod connection;
pub mod errors;
mod identity;
mod maintenance;
mod movement;
mod node;
mod replace;
mod replication;
mod ring_probe;
mod server;
mod settings;
mod snapshot;

pub use identity::Identity;
pub use node::{ADMIN_TOKEN_FILE, Node, NodeError, NodeHandle, StopSignal};
pub use settings::{NodeSettings, TimeoutKind};
