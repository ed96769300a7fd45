//! Statement preparation and execution over a local storage engine: CQL semantics live here.
//!
//! The node hands this crate parsed protocol requests (query text, bound values, paging state) and gets
//! back typed results; it never sees storage. Errors are [`QueryError`], mapped to CQL codes by the node.

mod aggregate;
mod alter;
mod arith;
mod auth;
mod cas;
mod collections;
pub mod compat;
mod data_plane;
mod ddl;
mod describe;
mod engine;
mod error;
mod functions;
mod index;
mod json_insert;
mod lwt;
mod markers;
pub mod metrics;
mod modify;
mod peers;
mod read;
mod restrictions;
mod roles;
mod schema_sync;
mod select;
mod selection;
mod system;
mod trace_session;
mod values;

pub use data_plane::{CasDecide, CasFuture, DataPlane, WriteFuture};
pub use engine::{ClientState, LocalInfo, QueryEngine, QueryResult, SchemaListener};
pub use error::{QueryError, Result};
pub use peers::{PeerInfo, PeerSource};
pub use trace_session::{TRACE_TTL_SECONDS, TraceSession};
