//! The Mica control plane: desired state in SQLite ([`store`]), a reconciler that moves observed state towards
//! it one step at a time ([`reconcile`]), providers that run nodes ([`provider`], [`local`]), the REST server
//! ([`server`]) and a blocking client for the CLI ([`client`]). Nodes are reached only through their admin API
//! and CQL, never through node internals.

// The OpenAPI document is one large `json!` literal.
#![recursion_limit = "256"]

pub mod admin_password;
pub mod checks;
pub mod client;
pub mod command;
pub mod jobs;
pub mod local;
pub mod metrics;
pub mod node_status;
pub mod openapi;
pub mod probe;
pub mod provider;
pub mod reconcile;
pub mod repair;
pub mod rolling;
pub mod server;
pub mod store;
pub mod topology;
