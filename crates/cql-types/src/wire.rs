//! Native protocol value serialization (protocol v4 §6 and v5 §5), with Cassandra's validation rules
//! and error messages.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use bigdecimal::BigDecimal;
use bigdecimal::num_bigint::BigInt;
use uuid::Uuid;

use crate::types::CqlType;
use crate::value::{CqlDuration, CqlValue};

/// A value failed validation against its type. The message mirrors Cassandra's `MarshalException`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MarshalError(pub String);

fn err<T>(message: impl Into<String>) -> Result<T, MarshalError> {
    Err(MarshalError(message.into()))
}

/// Largest valid `time` value (nanoseconds in a day, exclusive).
const NANOS_PER_DAY: i64 = crate::datetime::NANOS_PER_DAY;

/// Maximum nesting depth accepted while decoding, bounding recursion on hostile input.
const MAX_VALUE_DEPTH: usize = 64;

// ---------------------------------------------------------------------------------------------
// Variable-length integers (Cassandra's VIntCoding).
// ---------------------------------------------------------------------------------------------

/// Appends Cassandra's unsigned vint: the number of leading one bits of the first byte gives the number
/// of extra bytes; nine bytes (0xFF then 8 bytes) hold a full 64-bit value.
pub fn write_unsigned_vint(value: u64, out: &mut Vec<u8>) {
    let size = (1..=8usize).find(|&n| value < 1u64 << (7 * n)).unwrap_or(9);
    if size == 9 {
        out.push(0xFF);
        out.extend_from_slice(&value.to_be_bytes());
        return;
    }
    let bytes = value.to_be_bytes();
    let start = out.len();
    out.extend_from_slice(&bytes[8 - size..]);
    out[start] |= !(0xFFu8 >> (size - 1));
}

/// Reads an unsigned vint from the front of `input`, returning the value and the bytes consumed.
pub fn read_unsigned_vint(input: &[u8]) -> Option<(u64, usize)> {
    let first = *input.first()?;
    let extra = first.leading_ones() as usize;
    let bytes = input.get(1..1 + extra)?;
    let mut value = if extra == 8 {
        0
    } else {
        u64::from(first & (0xFF >> extra))
    };
    for &b in bytes {
        value = (value << 8) | u64::from(b);
    }
    Some((value, 1 + extra))
}

/// Appends a signed vint (zig-zag encoded, then as an unsigned vint).
pub fn write_vint(value: i64, out: &mut Vec<u8>) {
    write_unsigned_vint(((value << 1) ^ (value >> 63)) as u64, out);
}

/// Reads a signed vint from the front of `input`.
pub fn read_vint(input: &[u8]) -> Option<(i64, usize)> {
    read_unsigned_vint(input).map(|(v, n)| (((v >> 1) as i64) ^ -((v & 1) as i64), n))
}

// ---------------------------------------------------------------------------------------------
// Serialization.
// ---------------------------------------------------------------------------------------------

fn mismatch<T>(value: &CqlValue, ty: &CqlType) -> Result<T, MarshalError> {
    err(format!(
        "Cannot serialize a {} value as {}",
        value.kind_name(),
        ty.cql_name()
    ))
}

/// Serializes a value of CQL type `ty`; collection elements are written with [int] lengths (protocol v3+).
/// Fails when the value does not match the type or breaks its constraints.
pub fn serialize(value: &CqlValue, ty: &CqlType, out: &mut Vec<u8>) -> Result<(), MarshalError> {
    use CqlValue as V;
    let ty = ty.unfrozen();
    if matches!(value, V::Empty) {
        return if allows_empty(ty) {
            Ok(())
        } else {
            mismatch(value, ty)
        };
    }
    match (ty, value) {
        (CqlType::Ascii, V::Ascii(s) | V::Text(s)) => {
            validate_ascii(s.as_bytes())?;
            out.extend_from_slice(s.as_bytes());
        }
        (CqlType::Varchar, V::Text(s) | V::Ascii(s)) => out.extend_from_slice(s.as_bytes()),
        (CqlType::Bigint | CqlType::Counter, V::Bigint(v) | V::Counter(v)) => {
            out.extend_from_slice(&v.to_be_bytes())
        }
        (CqlType::Timestamp, V::Timestamp(v)) => out.extend_from_slice(&v.to_be_bytes()),
        (CqlType::Blob | CqlType::Custom(_), V::Blob(b)) => out.extend_from_slice(b),
        (CqlType::Boolean, V::Boolean(b)) => out.push(u8::from(*b)),
        (CqlType::Decimal, V::Decimal(d)) => {
            let (unscaled, scale) = d.as_bigint_and_exponent();
            let scale =
                i32::try_from(scale).map_err(|_| MarshalError("Decimal scale out of range".into()))?;
            out.extend_from_slice(&scale.to_be_bytes());
            out.extend_from_slice(&unscaled.to_signed_bytes_be());
        }
        (CqlType::Double, V::Double(v)) => out.extend_from_slice(&v.to_be_bytes()),
        (CqlType::Float, V::Float(v)) => out.extend_from_slice(&v.to_be_bytes()),
        (CqlType::Int, V::Int(v)) => out.extend_from_slice(&v.to_be_bytes()),
        (CqlType::Uuid, V::Uuid(u) | V::Timeuuid(u)) => out.extend_from_slice(u.as_bytes()),
        (CqlType::Timeuuid, V::Timeuuid(u) | V::Uuid(u)) => {
            if u.get_version_num() != 1 {
                return err("Unsupported UUID version for timeuuid");
            }
            out.extend_from_slice(u.as_bytes());
        }
        (CqlType::Varint, V::Varint(v)) => out.extend_from_slice(&v.to_signed_bytes_be()),
        (CqlType::Inet, V::Inet(IpAddr::V4(a))) => out.extend_from_slice(&a.octets()),
        (CqlType::Inet, V::Inet(IpAddr::V6(a))) => out.extend_from_slice(&a.octets()),
        (CqlType::Date, V::Date(d)) => out.extend_from_slice(&d.to_be_bytes()),
        (CqlType::Time, V::Time(t)) => {
            validate_time(*t)?;
            out.extend_from_slice(&t.to_be_bytes());
        }
        (CqlType::Smallint, V::Smallint(v)) => out.extend_from_slice(&v.to_be_bytes()),
        (CqlType::Tinyint, V::Tinyint(v)) => out.extend_from_slice(&v.to_be_bytes()),
        (CqlType::Duration, V::Duration(d)) => {
            validate_duration(d)?;
            write_vint(d.months.into(), out);
            write_vint(d.days.into(), out);
            write_vint(d.nanos, out);
        }
        (CqlType::List(e), V::List(items) | V::Set(items))
        | (CqlType::Set(e), V::Set(items) | V::List(items)) => {
            write_count(items.len(), out)?;
            for item in items {
                write_element(item, e, out)?;
            }
        }
        (CqlType::Map(k, v), V::Map(entries)) => {
            write_count(entries.len(), out)?;
            for (key, val) in entries {
                write_element(key, k, out)?;
                write_element(val, v, out)?;
            }
        }
        (CqlType::Tuple(types), V::Tuple(items)) => {
            if items.len() > types.len() {
                return err(format!(
                    "Tuple value has {} components but type has {}",
                    items.len(),
                    types.len()
                ));
            }
            for (item, t) in items.iter().zip(types) {
                write_optional(item.as_ref(), t, out)?;
            }
        }
        (CqlType::Udt(def), V::Udt(fields)) => {
            if fields.len() > def.fields.len() {
                return err(format!(
                    "UDT value has {} fields but type {} has {}",
                    fields.len(),
                    def.name,
                    def.fields.len()
                ));
            }
            for ((_, item), (_, t)) in fields.iter().zip(&def.fields) {
                write_optional(item.as_ref(), t, out)?;
            }
        }
        (CqlType::Vector(e, dim), V::Vector(items) | V::List(items)) => {
            if items.len() != *dim as usize {
                return err(format!(
                    "Expected {dim} elements in vector but got {}",
                    items.len()
                ));
            }
            let fixed = e.fixed_vector_element_size();
            for item in items {
                let mut buf = Vec::new();
                serialize(item, e, &mut buf)?;
                match fixed {
                    Some(size) if buf.len() != size => {
                        return err(format!("Vector elements of type {e} must not be empty"));
                    }
                    Some(_) => {}
                    None => write_unsigned_vint(buf.len() as u64, out),
                }
                out.extend_from_slice(&buf);
            }
        }
        _ => return mismatch(value, ty),
    }
    Ok(())
}

/// Serializes into a fresh buffer.
pub fn to_bytes(value: &CqlValue, ty: &CqlType) -> Result<Vec<u8>, MarshalError> {
    let mut out = Vec::new();
    serialize(value, ty, &mut out)?;
    Ok(out)
}

fn write_count(n: usize, out: &mut Vec<u8>) -> Result<(), MarshalError> {
    let n = i32::try_from(n).map_err(|_| MarshalError("Collection too large".into()))?;
    out.extend_from_slice(&n.to_be_bytes());
    Ok(())
}

/// Writes a `[bytes]` element: an [int] length followed by the serialized value.
fn write_element(value: &CqlValue, ty: &CqlType, out: &mut Vec<u8>) -> Result<(), MarshalError> {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    serialize(value, ty, out)?;
    let len = i32::try_from(out.len() - start - 4).map_err(|_| MarshalError("Value too large".into()))?;
    out[start..start + 4].copy_from_slice(&len.to_be_bytes());
    Ok(())
}

fn write_optional(value: Option<&CqlValue>, ty: &CqlType, out: &mut Vec<u8>) -> Result<(), MarshalError> {
    match value {
        Some(v) => write_element(v, ty, out),
        None => {
            out.extend_from_slice(&(-1i32).to_be_bytes());
            Ok(())
        }
    }
}

/// True when a zero-length buffer is a valid (legacy "empty") value of `ty`. String and blob types
/// accept it too, but as an ordinary empty string/blob.
pub fn allows_empty(ty: &CqlType) -> bool {
    matches!(
        ty.unfrozen(),
        CqlType::Bigint
            | CqlType::Counter
            | CqlType::Boolean
            | CqlType::Decimal
            | CqlType::Double
            | CqlType::Float
            | CqlType::Int
            | CqlType::Timestamp
            | CqlType::Uuid
            | CqlType::Timeuuid
            | CqlType::Varint
            | CqlType::Inet
    )
}

fn validate_ascii(bytes: &[u8]) -> Result<(), MarshalError> {
    match bytes.iter().find(|b| !b.is_ascii()) {
        Some(b) => err(format!("Invalid byte for ascii: {}", *b as i8)),
        None => Ok(()),
    }
}

fn validate_time(nanos: i64) -> Result<(), MarshalError> {
    if (0..NANOS_PER_DAY).contains(&nanos) {
        Ok(())
    } else {
        err(format!(
            "Time value must be between 0 and {} ({nanos})",
            NANOS_PER_DAY - 1
        ))
    }
}

fn validate_duration(d: &CqlDuration) -> Result<(), MarshalError> {
    let all_non_negative = d.months >= 0 && d.days >= 0 && d.nanos >= 0;
    let all_non_positive = d.months <= 0 && d.days <= 0 && d.nanos <= 0;
    if all_non_negative || all_non_positive {
        Ok(())
    } else {
        err(format!(
            "The duration months, days and nanoseconds must be all of the same sign ({}, {}, {})",
            d.months, d.days, d.nanos
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// Deserialization.
// ---------------------------------------------------------------------------------------------

/// Hex text of bytes with a `0x` prefix, as Cassandra prints blobs and puts them in messages.
pub fn hex_bytes(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(2 + bytes.len() * 2);
    s.push_str("0x");
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// Decodes and validates a serialized value of type `ty`.
pub fn deserialize(ty: &CqlType, bytes: &[u8]) -> Result<CqlValue, MarshalError> {
    decode(ty, bytes, 0)
}

/// Validates a serialized value without keeping the result.
pub fn validate(ty: &CqlType, bytes: &[u8]) -> Result<(), MarshalError> {
    decode(ty, bytes, 0).map(|_| ())
}

fn fixed<const N: usize>(
    bytes: &[u8],
    message: impl FnOnce(usize) -> String,
) -> Result<[u8; N], MarshalError> {
    bytes.try_into().map_err(|_| MarshalError(message(bytes.len())))
}

fn decode(ty: &CqlType, bytes: &[u8], depth: usize) -> Result<CqlValue, MarshalError> {
    use CqlValue as V;
    if depth > MAX_VALUE_DEPTH {
        return err("Value nested too deeply");
    }
    let ty = ty.unfrozen();
    if bytes.is_empty() && allows_empty(ty) {
        return Ok(V::Empty);
    }
    Ok(match ty {
        CqlType::Ascii => {
            validate_ascii(bytes)?;
            V::Ascii(String::from_utf8_lossy(bytes).into_owned())
        }
        CqlType::Varchar => match std::str::from_utf8(bytes) {
            Ok(s) => V::Text(s.to_string()),
            Err(_) => return err(format!("Invalid UTF-8 bytes {}", hex_bytes(bytes))),
        },
        CqlType::Bigint => V::Bigint(i64::from_be_bytes(fixed(bytes, |n| {
            format!("Expected 8 or 0 byte long ({n})")
        })?)),
        CqlType::Counter => V::Counter(i64::from_be_bytes(fixed(bytes, |n| {
            format!("Expected 8 or 0 byte long ({n})")
        })?)),
        CqlType::Timestamp => V::Timestamp(i64::from_be_bytes(fixed(bytes, |n| {
            format!("Expected 8 or 0 byte long for date ({n})")
        })?)),
        CqlType::Blob | CqlType::Custom(_) => V::Blob(bytes.to_vec()),
        CqlType::Boolean => {
            V::Boolean(fixed::<1>(bytes, |n| format!("Expected 1 or 0 byte value ({n})"))?[0] != 0)
        }
        CqlType::Decimal => {
            if bytes.len() < 4 {
                return err(format!("Expected 0 or at least 4 bytes ({})", bytes.len()));
            }
            let scale = i32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
            V::Decimal(BigDecimal::new(
                BigInt::from_signed_bytes_be(&bytes[4..]),
                scale.into(),
            ))
        }
        CqlType::Double => V::Double(f64::from_be_bytes(fixed(bytes, |n| {
            format!("Expected 8 or 0 byte value for a double ({n})")
        })?)),
        CqlType::Float => V::Float(f32::from_be_bytes(fixed(bytes, |n| {
            format!("Expected 4 or 0 byte value for a float ({n})")
        })?)),
        CqlType::Int => V::Int(i32::from_be_bytes(fixed(bytes, |n| {
            format!("Expected 4 or 0 byte int ({n})")
        })?)),
        CqlType::Uuid => V::Uuid(Uuid::from_bytes(fixed(bytes, |n| {
            format!("UUID should be 16 or 0 bytes ({n})")
        })?)),
        CqlType::Timeuuid => {
            let u = Uuid::from_bytes(fixed(bytes, |n| {
                format!("TimeUUID should be 16 or 0 bytes ({n})")
            })?);
            if u.get_version_num() != 1 {
                return err("Unsupported UUID version for timeuuid");
            }
            V::Timeuuid(u)
        }
        CqlType::Varint => V::Varint(BigInt::from_signed_bytes_be(bytes)),
        CqlType::Inet => match bytes.len() {
            4 => V::Inet(IpAddr::V4(Ipv4Addr::from(fixed::<4>(bytes, |_| String::new())?))),
            16 => V::Inet(IpAddr::V6(Ipv6Addr::from(fixed::<16>(bytes, |_| String::new())?))),
            _ => {
                return err(format!(
                    "Expected 4 or 16 byte inetaddress; got {}",
                    hex_bytes(bytes)
                ));
            }
        },
        CqlType::Date => V::Date(u32::from_be_bytes(fixed(bytes, |n| {
            format!("Expected 4 byte long for date ({n})")
        })?)),
        CqlType::Time => {
            let t = i64::from_be_bytes(fixed(bytes, |n| format!("Expected 8 byte long for time ({n})"))?);
            validate_time(t)?;
            V::Time(t)
        }
        CqlType::Smallint => V::Smallint(i16::from_be_bytes(fixed(bytes, |n| {
            format!("Expected 2 bytes for a smallint ({n})")
        })?)),
        CqlType::Tinyint => V::Tinyint(i8::from_be_bytes(fixed(bytes, |n| {
            format!("Expected 1 byte for a tinyint ({n})")
        })?)),
        CqlType::Duration => decode_duration(bytes)?,
        CqlType::List(e) => V::List(decode_sequence(e, bytes, "list", depth)?),
        CqlType::Set(e) => V::Set(decode_sequence(e, bytes, "set", depth)?),
        CqlType::Map(k, v) => {
            let mut r = Reader { bytes, pos: 0 };
            let n = r.count("map")?;
            let mut entries = Vec::with_capacity(n.min(bytes.len() / 8));
            for _ in 0..n {
                let key = r.element("map")?.ok_or_else(null_in_collection)?;
                let val = r.element("map")?.ok_or_else(null_in_collection)?;
                entries.push((decode(k, key, depth + 1)?, decode(v, val, depth + 1)?));
            }
            r.finish("Unexpected extraneous bytes after map value")?;
            V::Map(entries)
        }
        CqlType::Tuple(types) => V::Tuple(decode_fields(types.iter(), bytes, "tuple", depth)?),
        CqlType::Udt(def) => {
            let values = decode_fields(def.fields.iter().map(|(_, t)| t), bytes, "UDT", depth)?;
            V::Udt(def.fields.iter().map(|(n, _)| n.clone()).zip(values).collect())
        }
        CqlType::Vector(e, dim) => V::Vector(decode_vector(e, *dim as usize, bytes, depth)?),
        CqlType::Frozen(inner) => decode(inner, bytes, depth)?,
    })
}

fn null_in_collection() -> MarshalError {
    MarshalError("null is not supported inside collections".into())
}

/// Reads [int]-prefixed elements from a buffer.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn int(&mut self) -> Option<i32> {
        let b = self.bytes.get(self.pos..self.pos + 4)?;
        self.pos += 4;
        Some(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn count(&mut self, what: &str) -> Result<usize, MarshalError> {
        match self.int() {
            Some(n) if n >= 0 => Ok(n as usize),
            Some(n) => err(format!("Invalid negative size {n} for {what}")),
            None => err(format!("Not enough bytes to read a {what}")),
        }
    }

    /// One `[bytes]` element; `None` for a null (negative length).
    fn element(&mut self, what: &str) -> Result<Option<&'a [u8]>, MarshalError> {
        let len = self
            .int()
            .ok_or_else(|| MarshalError(format!("Not enough bytes to read a {what}")))?;
        if len < 0 {
            return Ok(None);
        }
        let end = self.pos + len as usize;
        let slice = self
            .bytes
            .get(self.pos..end)
            .ok_or_else(|| MarshalError(format!("Not enough bytes to read a {what}")))?;
        self.pos = end;
        Ok(Some(slice))
    }

    fn finish(&self, message: &str) -> Result<(), MarshalError> {
        if self.pos == self.bytes.len() {
            Ok(())
        } else {
            err(message)
        }
    }
}

fn decode_sequence(
    e: &CqlType,
    bytes: &[u8],
    what: &str,
    depth: usize,
) -> Result<Vec<CqlValue>, MarshalError> {
    let mut r = Reader { bytes, pos: 0 };
    let n = r.count(what)?;
    // Each element takes at least 4 bytes, which bounds a bogus count's allocation.
    let mut items = Vec::with_capacity(n.min(bytes.len() / 4));
    for _ in 0..n {
        let item = r.element(what)?.ok_or_else(null_in_collection)?;
        items.push(decode(e, item, depth + 1)?);
    }
    r.finish(&format!("Unexpected extraneous bytes after {what} value"))?;
    Ok(items)
}

/// Decodes tuple/UDT components; missing trailing components are null.
fn decode_fields<'t>(
    types: impl ExactSizeIterator<Item = &'t CqlType>,
    bytes: &[u8],
    what: &str,
    depth: usize,
) -> Result<Vec<Option<CqlValue>>, MarshalError> {
    let mut r = Reader { bytes, pos: 0 };
    let mut values = Vec::with_capacity(types.len());
    for (i, t) in types.enumerate() {
        if r.pos == bytes.len() {
            values.push(None);
            continue;
        }
        let item = r
            .element(what)
            .map_err(|_| MarshalError(format!("Not enough bytes to read {i}th component of {what}")))?;
        values.push(item.map(|b| decode(t, b, depth + 1)).transpose()?);
    }
    r.finish(&format!("Invalid remaining data after end of {what} value"))?;
    Ok(values)
}

fn decode_vector(e: &CqlType, dim: usize, bytes: &[u8], depth: usize) -> Result<Vec<CqlValue>, MarshalError> {
    let mut items = Vec::with_capacity(dim.min(bytes.len()));
    if let Some(size) = e.fixed_vector_element_size() {
        if bytes.len() != size * dim {
            return err(format!(
                "Expected {} bytes for a vector of {dim} elements of type {e} ({})",
                size * dim,
                bytes.len()
            ));
        }
        for chunk in bytes.chunks_exact(size) {
            items.push(decode(e, chunk, depth + 1)?);
        }
        return Ok(items);
    }
    let mut pos = 0;
    for _ in 0..dim {
        let (len, n) = read_unsigned_vint(&bytes[pos..])
            .ok_or_else(|| MarshalError("Not enough bytes to read a vector element size".into()))?;
        pos += n;
        let end = usize::try_from(len)
            .ok()
            .and_then(|l| l.checked_add(pos))
            .filter(|&e| e <= bytes.len());
        let end = end.ok_or_else(|| MarshalError("Not enough bytes to read a vector element".into()))?;
        items.push(decode(e, &bytes[pos..end], depth + 1)?);
        pos = end;
    }
    if pos != bytes.len() {
        return err("Unexpected extraneous bytes after vector value");
    }
    Ok(items)
}

fn decode_duration(bytes: &[u8]) -> Result<CqlValue, MarshalError> {
    const MIN_DURATION_BYTES: usize = 3;
    if bytes.len() < MIN_DURATION_BYTES {
        return err(format!(
            "Expected at least 3 bytes for a duration ({})",
            bytes.len()
        ));
    }
    let mut pos = 0;
    let mut next = || -> Result<i64, MarshalError> {
        let (v, n) =
            read_vint(&bytes[pos..]).ok_or_else(|| MarshalError("Invalid duration encoding".into()))?;
        pos += n;
        Ok(v)
    };
    let months = next()?;
    let days = next()?;
    let nanos = next()?;
    if pos != bytes.len() {
        return err("Unexpected extraneous bytes after duration value");
    }
    let months = i32::try_from(months)
        .map_err(|_| MarshalError(format!("Duration months out of range ({months})")))?;
    let days =
        i32::try_from(days).map_err(|_| MarshalError(format!("Duration days out of range ({days})")))?;
    let d = CqlDuration { months, days, nanos };
    validate_duration(&d)?;
    Ok(CqlValue::Duration(d))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{Rng, random_type, random_value};
    use std::sync::Arc;

    fn bytes_of(value: &CqlValue, ty: &CqlType) -> Vec<u8> {
        to_bytes(value, ty).unwrap()
    }

    fn err_of(ty: &CqlType, bytes: &[u8]) -> String {
        deserialize(ty, bytes).unwrap_err().to_string()
    }

    #[test]
    fn varint_spec_vectors() {
        for (n, enc) in [
            (0i64, &[0x00][..]),
            (1, &[0x01]),
            (127, &[0x7F]),
            (128, &[0x00, 0x80]),
            (129, &[0x00, 0x81]),
            (-1, &[0xFF]),
            (-128, &[0x80]),
            (-129, &[0xFF, 0x7F]),
        ] {
            let v = CqlValue::Varint(BigInt::from(n));
            assert_eq!(bytes_of(&v, &CqlType::Varint), enc, "{n}");
            assert_eq!(deserialize(&CqlType::Varint, enc).unwrap(), v);
        }
    }

    #[test]
    fn vint_encoding() {
        let cases: [(u64, &[u8]); 6] = [
            (0, &[0x00]),
            (127, &[0x7F]),
            (128, &[0x80, 0x80]),
            (16_383, &[0xBF, 0xFF]),
            (16_384, &[0xC0, 0x40, 0x00]),
            (u64::MAX, &[0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]),
        ];
        for (v, enc) in cases {
            let mut out = Vec::new();
            write_unsigned_vint(v, &mut out);
            assert_eq!(out, enc, "{v}");
            assert_eq!(read_unsigned_vint(enc), Some((v, enc.len())));
        }
        let mut rng = Rng(7);
        for _ in 0..2000 {
            let v = rng.int();
            let mut out = Vec::new();
            write_vint(v, &mut out);
            assert_eq!(read_vint(&out), Some((v, out.len())));
        }
        let mut out = Vec::new();
        write_vint(-1, &mut out);
        assert_eq!(out, [0x01]);
        assert_eq!(read_unsigned_vint(&[0x80]), None);
    }

    #[test]
    fn known_encodings() {
        let d = CqlValue::Decimal(BigDecimal::new(BigInt::from(-15), 1));
        assert_eq!(bytes_of(&d, &CqlType::Decimal), [0, 0, 0, 1, 0xF1]);
        let dur = CqlValue::Duration(CqlDuration {
            months: 1,
            days: 2,
            nanos: 3,
        });
        assert_eq!(bytes_of(&dur, &CqlType::Duration), [2, 4, 6]);
        let list = CqlValue::List(vec![CqlValue::Int(1), CqlValue::Int(2)]);
        assert_eq!(
            bytes_of(&list, &CqlType::List(Box::new(CqlType::Int))),
            [0, 0, 0, 2, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 2]
        );
        let tuple = CqlValue::Tuple(vec![Some(CqlValue::Tinyint(-1)), None]);
        let tuple_ty = CqlType::Tuple(vec![CqlType::Tinyint, CqlType::Varchar]);
        assert_eq!(
            bytes_of(&tuple, &tuple_ty),
            [0, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]
        );
        let vec_ty = CqlType::Vector(Box::new(CqlType::Float), 2);
        let vector = CqlValue::Vector(vec![CqlValue::Float(1.0), CqlValue::Float(-2.0)]);
        assert_eq!(bytes_of(&vector, &vec_ty), [0x3F, 0x80, 0, 0, 0xC0, 0, 0, 0]);
        let text_vec = CqlType::Vector(Box::new(CqlType::Varchar), 2);
        let texts = CqlValue::Vector(vec![CqlValue::Text("ab".into()), CqlValue::Text(String::new())]);
        assert_eq!(bytes_of(&texts, &text_vec), [2, b'a', b'b', 0]);
        assert_eq!(deserialize(&text_vec, &[2, b'a', b'b', 0]).unwrap(), texts);
        assert_eq!(
            deserialize(&CqlType::Date, &[0x80, 0, 0, 0]).unwrap(),
            CqlValue::Date(1 << 31)
        );
        assert_eq!(
            deserialize(&CqlType::Boolean, &[7]).unwrap(),
            CqlValue::Boolean(true)
        );
    }

    #[test]
    fn udt_with_missing_trailing_fields() {
        let def = Arc::new(crate::types::UdtDef {
            keyspace: "ks".into(),
            name: "u".into(),
            fields: vec![("a".into(), CqlType::Int), ("b".into(), CqlType::Varchar)],
        });
        let ty = CqlType::Udt(def);
        assert_eq!(
            deserialize(&ty, &[0, 0, 0, 4, 0, 0, 0, 9]).unwrap(),
            CqlValue::Udt(vec![("a".into(), Some(CqlValue::Int(9))), ("b".into(), None)])
        );
        assert_eq!(
            err_of(&ty, &[0, 0, 0, 4, 0, 0, 0, 9, 0]),
            "Not enough bytes to read 1th component of UDT"
        );
    }

    #[test]
    fn empty_values() {
        for ty in [
            CqlType::Int,
            CqlType::Bigint,
            CqlType::Uuid,
            CqlType::Decimal,
            CqlType::Varint,
            CqlType::Inet,
        ] {
            assert_eq!(deserialize(&ty, &[]).unwrap(), CqlValue::Empty, "{ty}");
            assert_eq!(bytes_of(&CqlValue::Empty, &ty), Vec::<u8>::new());
        }
        assert_eq!(
            deserialize(&CqlType::Varchar, &[]).unwrap(),
            CqlValue::Text(String::new())
        );
        assert_eq!(
            deserialize(&CqlType::Blob, &[]).unwrap(),
            CqlValue::Blob(Vec::new())
        );
        assert_eq!(
            err_of(&CqlType::Smallint, &[]),
            "Expected 2 bytes for a smallint (0)"
        );
        assert!(to_bytes(&CqlValue::Empty, &CqlType::Date).is_err());
    }

    #[test]
    fn validation_errors() {
        assert_eq!(err_of(&CqlType::Int, &[0, 0, 1]), "Expected 4 or 0 byte int (3)");
        assert_eq!(err_of(&CqlType::Bigint, &[0; 4]), "Expected 8 or 0 byte long (4)");
        assert_eq!(
            err_of(&CqlType::Timestamp, &[0; 4]),
            "Expected 8 or 0 byte long for date (4)"
        );
        assert_eq!(
            err_of(&CqlType::Double, &[0; 4]),
            "Expected 8 or 0 byte value for a double (4)"
        );
        assert_eq!(
            err_of(&CqlType::Float, &[0; 8]),
            "Expected 4 or 0 byte value for a float (8)"
        );
        assert_eq!(
            err_of(&CqlType::Boolean, &[0; 2]),
            "Expected 1 or 0 byte value (2)"
        );
        assert_eq!(
            err_of(&CqlType::Uuid, &[0; 3]),
            "UUID should be 16 or 0 bytes (3)"
        );
        assert_eq!(
            err_of(&CqlType::Date, &[0; 3]),
            "Expected 4 byte long for date (3)"
        );
        assert_eq!(
            err_of(&CqlType::Time, &[0; 3]),
            "Expected 8 byte long for time (3)"
        );
        assert_eq!(
            err_of(&CqlType::Tinyint, &[0; 2]),
            "Expected 1 byte for a tinyint (2)"
        );
        assert_eq!(
            err_of(&CqlType::Decimal, &[0; 2]),
            "Expected 0 or at least 4 bytes (2)"
        );
        assert_eq!(
            err_of(&CqlType::Inet, &[1, 2, 3]),
            "Expected 4 or 16 byte inetaddress; got 0x010203"
        );
        assert_eq!(
            err_of(&CqlType::Varchar, &[0x61, 0xFF]),
            "Invalid UTF-8 bytes 0x61ff"
        );
        assert_eq!(
            err_of(&CqlType::Ascii, &[0x61, 0xC3, 0xA9]),
            "Invalid byte for ascii: -61"
        );
        let uuid4 = [
            0x12, 0x34, 0x56, 0x78, 0x12, 0x34, 0x42, 0x34, 0x82, 0x34, 0, 0, 0, 0, 0, 0,
        ];
        assert_eq!(
            err_of(&CqlType::Timeuuid, &uuid4),
            "Unsupported UUID version for timeuuid"
        );
        assert!(err_of(&CqlType::Time, &(-1i64).to_be_bytes()).starts_with("Time value must be between"));
        let list = CqlType::List(Box::new(CqlType::Int));
        assert_eq!(err_of(&list, &[0, 0]), "Not enough bytes to read a list");
        assert_eq!(
            err_of(&list, &[0, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xFF]),
            "null is not supported inside collections"
        );
        assert_eq!(
            err_of(&list, &[0, 0, 0, 0, 1]),
            "Unexpected extraneous bytes after list value"
        );
        assert_eq!(
            err_of(&list, &[0, 0, 0, 1, 0, 0, 0, 1, 0]),
            "Expected 4 or 0 byte int (1)"
        );
        let map = CqlType::Map(Box::new(CqlType::Int), Box::new(CqlType::Int));
        assert_eq!(err_of(&map, &[0, 0, 0, 9]), "Not enough bytes to read a map");
        assert_eq!(
            err_of(&CqlType::Duration, &[2, 3, 6]),
            "The duration months, days and nanoseconds must be all of the same sign (1, -2, 3)"
        );
        assert_eq!(
            err_of(&CqlType::Duration, &[2]),
            "Expected at least 3 bytes for a duration (1)"
        );
        let vec_ty = CqlType::Vector(Box::new(CqlType::Float), 2);
        assert!(deserialize(&vec_ty, &[0; 7]).is_err());
        assert!(to_bytes(&CqlValue::Vector(vec![CqlValue::Float(1.0)]), &vec_ty).is_err());
        assert!(to_bytes(&CqlValue::Int(1), &CqlType::Varchar).is_err());
        assert!(to_bytes(&CqlValue::Ascii("é".into()), &CqlType::Ascii).is_err());
    }

    #[test]
    fn random_round_trips() {
        let mut rng = Rng(42);
        for _ in 0..3000 {
            let ty = random_type(&mut rng, 0);
            let value = random_value(&mut rng, &ty);
            let bytes = bytes_of(&value, &ty);
            let back = deserialize(&ty, &bytes).unwrap_or_else(|e| panic!("{ty}: {value:?}: {e}"));
            assert_eq!(bytes_of(&back, &ty), bytes, "{ty}: {value:?}");
        }
    }
}
