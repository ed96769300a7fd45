//! CQL data types and values: the type model, wire (de)serialization, type strings, literals and ordering.
//!
//! This crate is pure data: no I/O, no knowledge of storage, networking or schema storage.
//!
//! * [`CqlType`] — the type model, its CQL names ([`CqlType::cql_name`]), type-string parsing
//!   ([`parse_type_string`]) and Java marshal class names ([`CqlType::marshal_class`], [`parse_marshal_class`]).
//! * [`CqlValue`] — one variant per CQL type; nulls are `Option::None` at the caller.
//! * [`serialize`] / [`deserialize`] — native protocol value encoding with Cassandra's validation messages.
//! * [`compare`] / [`compare_serialized`] / [`normalize`] — Cassandra's value order.
//! * [`encode_clustering`] / [`decode_clustering`] / [`encode_element_key`] — byte-comparable keys (format
//!   documented in the `keyenc` module source).
//! * [`parse_literal`] / [`from_string`] / [`to_cql_literal`] — CQL constants in and out.
//! * [`to_json`] / [`from_json`] — `SELECT JSON` and `INSERT JSON` value forms.
//! * [`cast`], [`now_timeuuid`], [`min_timeuuid`], [`to_date`], ... — conversions behind CQL functions.

mod compare;
mod convert;
pub mod datetime;
mod json;
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
pub use convert::{
    CastError, TimeuuidGenerator, can_cast, cast, cast_text, date_to_millis, max_timeuuid, millis_to_date,
    min_timeuuid, now_millis, now_timeuuid, timeuuid_from_ticks, timeuuid_ticks, timeuuid_to_micros,
    timeuuid_to_millis, to_date, to_timestamp, to_unix_timestamp,
};
pub use json::{from_json, json_key_name, json_number_to_varint, json_row, to_json, to_json_optional};
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
