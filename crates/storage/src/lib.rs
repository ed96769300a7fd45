//! Mica's storage layer: an engine-agnostic [`Engine`] trait with Cassandra storage semantics
//! (last-write-wins cells, tombstones at every level, TTLs, counters), a fjall-backed engine, an
//! in-memory reference engine, and a public conformance suite every engine must pass.
//!
//! The caller hands over already-encoded partition keys, clustering bytes, column ids and values;
//! this crate knows nothing about CQL or schemas.

pub mod conformance;
mod durable;
mod engine;
mod error;
mod fjall_engine;
mod memory;
pub mod reconcile;
mod types;

pub use durable::{Durable, DurableCompleter};
pub use engine::{Engine, PartitionStream};
pub use error::{Result, StorageError};
pub use fjall_engine::{FORMAT_VERSION, FjallEngine};
pub use memory::MemoryEngine;
pub use types::*;
