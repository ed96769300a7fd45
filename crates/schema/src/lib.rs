//! Schema metadata: keyspaces, tables, columns and user types, their persistent form, and schema versions.
//!
//! The schema is an immutable snapshot (`Schema`) swapped atomically on every DDL. The node persists it through
//! the storage engine's metadata KV as JSON documents (see `persist`); the `system_schema` tables clients read are
//! generated from it by the query layer, so there is one source of truth.

mod model;
mod persist;

pub use model::{
    ColumnDef, ColumnKind, DroppedColumn, IndexDef, KeyspaceDef, Replication, Schema, SchemaError, TableDef,
    TableOptions, is_system_keyspace,
};
pub use persist::{PersistedSchema, SCHEMA_FORMAT_VERSION};
