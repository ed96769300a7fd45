//! CQL data types and values: the type model, wire (de)serialization, type strings, literals and ordering.
//!
//! This crate is pure data: no I/O, no knowledge of storage, networking or schema storage.

mod compare;
pub mod datetime;
mod keyenc;
mod literal;
#[cfg(test)]
mod testutil;
mod types;
mod typestr;
mod value;
mod wire;

pub use bigdecimal::BigDecimal;
pub use bigdecimal::num_bigint::BigInt;
pub use compare::{compare, compare_f64, compare_serialized, compare_timeuuid, compare_uuid, normalize};
pub use keyenc::{
    AFTER_PREFIX, BEFORE_PREFIX, HEADER_EMPTY_ASC, HEADER_EMPTY_DESC, HEADER_VALUE, decode_clustering,
    decode_clustering_serialized, decode_element_key, encode_clustering, encode_clustering_serialized,
    encode_component, encode_element_key,
};
pub use literal::{
    LiteralError, LiteralKind, format_decimal, format_double, format_float, from_string, is_assignable,
    parse_decimal, parse_hex, parse_literal, parse_uuid, to_cql_literal,
};
pub use types::{CqlType, UdtDef, is_reserved_keyword, quote_identifier};
pub use typestr::{TypeParseError, parse_marshal_class, parse_type_string};
pub use uuid::Uuid;
pub use value::{CqlDuration, CqlValue, DATE_EPOCH};
pub use wire::{
    MarshalError, allows_empty, deserialize, hex_bytes, read_unsigned_vint, read_vint, serialize, to_bytes,
    validate, write_unsigned_vint, write_vint,
};
