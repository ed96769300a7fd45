//! CQL data types and values: the type model, wire (de)serialization, type strings, literals and ordering.
//!
//! This crate is pure data: no I/O, no knowledge of storage, networking or schema storage.

mod types;

pub use types::{CqlType, UdtDef};
