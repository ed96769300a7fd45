//! Mica's storage layer: an engine-agnostic [`Engine`] trait with Cassandra storage semantics
//! (last-write-wins cells, tombstones at every level, TTLs, counters), a fjall-backed engine, an
//! in-memory reference engine, and a public conformance suite every engine must pass.
//!
//! The caller hands over already-encoded partition keys, clustering bytes, column ids and values;
//! this crate knows nothing about CQL or schemas. The on-disk layout of [`FjallEngine`] is
//! documented in `docs/storage-format.md`.
//!
//! For replica reconciliation, [`Engine::read_partition_raw`] / [`Engine::scan_raw`] return a
//! partition's reconciled content *with its deletions*, and [`merge()`], [`live_view`], [`digest`] and
//! [`diff`] (module [`mod@merge`]) merge replicas' responses, turn them into the live view, compare
//! them and compute read repairs. Counters are returned as one summed delta per cell; merging
//! counters across replicas keeps the newest replica's value (a known limitation).
//!
//! ```
//! use mica_storage::*;
//!
//! let dir = tempfile::tempdir()?;
//! let engine = FjallEngine::open(EngineConfig::new(dir.path()))?;
//! let table = TableId(uuid::Uuid::from_u128(1));
//! engine.create_table(table, TableOptions::default())?;
//!
//! // INSERT INTO t (pk, ck, v) VALUES (...) USING TIMESTAMP 10
//! let key = PartitionKey::new(b"pk".to_vec());
//! let mut row = RowMutation::new(Clustering::Row(b"ck".to_vec()));
//! row.marker = Some(Marker { timestamp: 10, ttl: None });
//! row.cells.push(Cell {
//!     column: 2,
//!     path: None,
//!     timestamp: 10,
//!     value: CellValue::Live { value: b"hello".to_vec(), ttl: None },
//! });
//! let mut mutation = Mutation::new(table, key.clone());
//! mutation.rows.push(row);
//! engine.apply(vec![mutation])?.wait()?; // or `.await` the Durable on an async task
//!
//! let view = engine.read_partition(table, &key, &ReadSelection::all(), mica_types::now_seconds())?;
//! assert_eq!(view.map(|v| v.rows.len()), Some(1));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod conformance;
mod durable;
mod engine;
mod error;
mod fjall_engine;
mod memory;
pub mod merge;
pub mod metrics;
mod raw;
pub mod reconcile;
mod types;

pub use durable::{Durable, DurableCompleter};
pub use engine::{Engine, PartitionStream, RawPartitionStream};
pub use error::{Result, StorageError};
pub use fjall_engine::{FORMAT_VERSION, FjallEngine};
pub use memory::MemoryEngine;
pub use merge::{diff, digest, live_view, merge};
pub use types::*;
