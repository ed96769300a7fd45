//! Order-preserving ("byte-comparable") encodings of clustering keys and collection element keys.
//!
//! The storage engine compares keys as raw bytes, so the encoding of a clustering key must sort, under
//! plain lexicographic byte comparison, exactly as Cassandra's clustering comparator orders the values.
//!
//! # Clustering key format
//!
//! A key is the concatenation of its components' encodings; every component is self-delimiting, so the
//! encoding of a prefix of the components is a byte prefix of the full key's encoding. Each component is
//!
//! ```text
//! header (1 byte, never inverted) [body]
//!   0x01  empty value (zero-length buffer) in an ascending column: sorts before every value
//!   0x02  a value, followed by its body
//!   0x03  empty value in a descending column: sorts after every value
//! ```
//!
//! Header bytes 0x00 and 0xFF are never used, so for any encoded prefix `P` the storage layer can use
//! `P + [0x00]` as "before every key starting with P" and `P + [0xFF]` as "after every key starting with P".
//!
//! For a descending column every body byte is inverted (`!b`). Bodies are prefix-free (no body is a
//! proper prefix of another), which is what makes inversion reverse their order.
//!
//! # Body formats
//!
//! * int, bigint, counter, smallint, tinyint, timestamp, time: big-endian with the sign bit flipped.
//! * date: big-endian unsigned (Cassandra compares dates unsigned). boolean: one byte 0/1.
//! * float, double: IEEE bits, all bits inverted when negative, otherwise the sign bit set; NaN is
//!   canonicalised and sorts last, -0.0 sorts before 0.0 (Java's `Double.compare`).
//! * text, ascii, blob, inet, custom: the bytes with 0x00 escaped as 0x00 0xFF, terminated by 0x00 0x00.
//! * uuid: a version byte, then the high 64 bits (timestamp-reordered for version 1), then the low 64
//!   bits. timeuuid: timestamp-reordered high bits, then the low bits with each byte's top bit flipped
//!   (Cassandra compares those bytes as signed).
//! * varint: a header giving sign and magnitude length (0x80 zero; 0x81..=0xFE positive with 1..=126
//!   bytes, 0xFF + u64 length beyond; 0x7E..=0x01 negative, 0x00 + inverted u64 length beyond), then the
//!   magnitude big-endian (inverted for negatives).
//! * decimal: a sign byte (0x01 negative, 0x80 zero, 0xFE positive); for non-zero values the decimal
//!   exponent `e` of `0.d1d2.. x 10^e` as a sign-flipped i64 and the significant digits as bytes 0x01..=0x0A
//!   ending with 0x00 (all inverted for negatives); finally the scale as a sign-flipped i64. Equal numbers
//!   with different scales (1.0 and 1.00) therefore get distinct keys, ordered by scale, so the written
//!   scale survives a round trip; Cassandra would treat them as one clustering.
//! * duration: its native-protocol serialization (three vints), which is what Cassandra compares.
//! * frozen list, set, vector: each element as an item, then 0x00. frozen map: key item, value item per
//!   entry, then 0x00. tuple and UDT: one item per component with trailing nulls dropped, then 0x00.
//!   An item is 0x01 for null, 0x02 for an empty value, or 0x03 followed by the element's body.
//!
//! # Element keys
//!
//! Set elements, map keys and list cell ids (timeuuids) are stored as cell paths encoded as a single
//! ascending component ([`encode_element_key`]), so cells of a collection sort in Cassandra's order.

use bigdecimal::BigDecimal;
use bigdecimal::num_bigint::{BigInt, BigUint, Sign};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use uuid::Uuid;

use crate::compare::{TIMEUUID_LSB_FLIP, reorder_timestamp_bits, unreorder_timestamp_bits};
use crate::types::CqlType;
use crate::value::{CqlDuration, CqlValue};
use crate::wire::{MarshalError, deserialize, read_vint, to_bytes};

/// Component header of an empty value in an ascending column.
pub const HEADER_EMPTY_ASC: u8 = 0x01;
/// Component header of a (non-empty) value.
pub const HEADER_VALUE: u8 = 0x02;
/// Component header of an empty value in a descending column.
pub const HEADER_EMPTY_DESC: u8 = 0x03;
/// Appended to a prefix, sorts before every key with that prefix.
pub const BEFORE_PREFIX: u8 = 0x00;
/// Appended to a prefix, sorts after every key with that prefix.
pub const AFTER_PREFIX: u8 = 0xFF;

const ITEM_END: u8 = 0x00;
const ITEM_NULL: u8 = 0x01;
const ITEM_EMPTY: u8 = 0x02;
const ITEM_VALUE: u8 = 0x03;

const SIGN_NEGATIVE: u8 = 0x01;
const SIGN_ZERO: u8 = 0x80;
const SIGN_POSITIVE: u8 = !SIGN_NEGATIVE;
/// Longest varint magnitude whose length fits in the header byte itself.
const MAX_SHORT_VARINT_LEN: usize = 126;
/// Maximum nesting depth accepted while decoding, bounding recursion on corrupt keys.
const MAX_KEY_DEPTH: usize = 64;

fn mismatch(value: &CqlValue, ty: &CqlType) -> MarshalError {
    MarshalError(format!(
        "Cannot encode a {} value as a key of type {}",
        value.kind_name(),
        ty.cql_name()
    ))
}

/// Encodes a full or partial clustering key: `(type, value, descending)` per component, in order.
pub fn encode_clustering(components: &[(&CqlType, &CqlValue, bool)]) -> Result<Vec<u8>, MarshalError> {
    let mut out = Vec::new();
    for (ty, value, descending) in components {
        encode_component(ty, value, *descending, &mut out)?;
    }
    Ok(out)
}

/// Like [`encode_clustering`] for components given in their native-protocol serialization.
pub fn encode_clustering_serialized(components: &[(&CqlType, &[u8], bool)]) -> Result<Vec<u8>, MarshalError> {
    let mut out = Vec::new();
    for (ty, bytes, descending) in components {
        encode_component(ty, &deserialize(ty, bytes)?, *descending, &mut out)?;
    }
    Ok(out)
}

/// Appends one clustering component (header and body).
pub fn encode_component(
    ty: &CqlType,
    value: &CqlValue,
    descending: bool,
    out: &mut Vec<u8>,
) -> Result<(), MarshalError> {
    if matches!(value, CqlValue::Empty) {
        out.push(if descending {
            HEADER_EMPTY_DESC
        } else {
            HEADER_EMPTY_ASC
        });
        return Ok(());
    }
    out.push(HEADER_VALUE);
    let start = out.len();
    encode_body(ty, value, out)?;
    if descending {
        out[start..].iter_mut().for_each(|b| *b = !*b);
    }
    Ok(())
}

/// Decodes the components present in `key` (a full key or a prefix). `columns` gives each clustering
/// column's type and whether it is descending; `key` may hold fewer components than there are columns.
pub fn decode_clustering(columns: &[(&CqlType, bool)], key: &[u8]) -> Result<Vec<CqlValue>, MarshalError> {
    let mut reader = KeyReader {
        bytes: key,
        pos: 0,
        mask: 0,
    };
    let mut values = Vec::with_capacity(columns.len());
    for (ty, descending) in columns {
        if reader.pos == key.len() {
            break;
        }
        values.push(decode_component(&mut reader, ty, *descending)?);
    }
    if reader.pos != key.len() {
        return Err(corrupt("trailing bytes after the last clustering component"));
    }
    Ok(values)
}

/// Like [`decode_clustering`] but returns each component in its native-protocol serialization.
pub fn decode_clustering_serialized(
    columns: &[(&CqlType, bool)],
    key: &[u8],
) -> Result<Vec<Vec<u8>>, MarshalError> {
    decode_clustering(columns, key)?
        .iter()
        .zip(columns)
        .map(|(value, (ty, _))| to_bytes(value, ty))
        .collect()
}

/// The order-preserving cell-path encoding of one collection element key (a set element, a map key or a
/// list cell's timeuuid).
pub fn encode_element_key(ty: &CqlType, value: &CqlValue) -> Result<Vec<u8>, MarshalError> {
    let mut out = Vec::new();
    encode_component(ty, value, false, &mut out)?;
    Ok(out)
}

/// Inverse of [`encode_element_key`].
pub fn decode_element_key(ty: &CqlType, key: &[u8]) -> Result<CqlValue, MarshalError> {
    let mut reader = KeyReader {
        bytes: key,
        pos: 0,
        mask: 0,
    };
    let value = decode_component(&mut reader, ty, false)?;
    if reader.pos != key.len() {
        return Err(corrupt("trailing bytes after element key"));
    }
    Ok(value)
}

fn decode_component(
    reader: &mut KeyReader,
    ty: &CqlType,
    descending: bool,
) -> Result<CqlValue, MarshalError> {
    reader.mask = 0;
    match reader.byte()? {
        HEADER_EMPTY_ASC | HEADER_EMPTY_DESC => Ok(CqlValue::Empty),
        HEADER_VALUE => {
            reader.mask = if descending { 0xFF } else { 0 };
            let value = decode_body(reader, ty, 0);
            reader.mask = 0;
            value
        }
        other => Err(corrupt(&format!("invalid component header 0x{other:02x}"))),
    }
}

// ---------------------------------------------------------------------------------------------
// Encoding.
// ---------------------------------------------------------------------------------------------

fn escape_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    for &b in bytes {
        out.push(b);
        if b == 0 {
            out.push(0xFF);
        }
    }
    out.extend_from_slice(&[0, 0]);
}

fn flip_i64(v: i64) -> [u8; 8] {
    ((v as u64) ^ (1 << 63)).to_be_bytes()
}

fn f32_key(v: f32) -> u32 {
    const CANONICAL_NAN: u32 = 0x7FC0_0000;
    let bits = if v.is_nan() { CANONICAL_NAN } else { v.to_bits() };
    if bits >> 31 == 1 { !bits } else { bits ^ (1 << 31) }
}

fn f64_key(v: f64) -> u64 {
    const CANONICAL_NAN: u64 = 0x7FF8_0000_0000_0000;
    let bits = if v.is_nan() { CANONICAL_NAN } else { v.to_bits() };
    if bits >> 63 == 1 { !bits } else { bits ^ (1 << 63) }
}

fn encode_varint(v: &BigInt, out: &mut Vec<u8>) {
    let (sign, magnitude) = v.to_bytes_be();
    let len = magnitude.len();
    match sign {
        Sign::NoSign => out.push(SIGN_ZERO),
        Sign::Plus => {
            if len <= MAX_SHORT_VARINT_LEN {
                out.push(0x80 + len as u8);
            } else {
                out.push(0xFF);
                out.extend_from_slice(&(len as u64).to_be_bytes());
            }
            out.extend_from_slice(&magnitude);
        }
        Sign::Minus => {
            if len <= MAX_SHORT_VARINT_LEN {
                out.push(0x7F - len as u8);
            } else {
                out.push(0x00);
                out.extend_from_slice(&(!(len as u64)).to_be_bytes());
            }
            out.extend(magnitude.iter().map(|b| !b));
        }
    }
}

fn encode_decimal(d: &BigDecimal, out: &mut Vec<u8>) -> Result<(), MarshalError> {
    let (unscaled, scale) = d.as_bigint_and_exponent();
    match unscaled.sign() {
        Sign::NoSign => out.push(SIGN_ZERO),
        sign => {
            let all_digits = unscaled.magnitude().to_string();
            let digits = all_digits.trim_end_matches('0');
            let trailing_zeros = (all_digits.len() - digits.len()) as i64;
            let exponent = (digits.len() as i64)
                .checked_add(trailing_zeros)
                .and_then(|e| e.checked_sub(scale))
                .ok_or_else(|| MarshalError("Decimal exponent out of range".into()))?;
            // Negative numbers are written as their magnitude's encoding inverted, which turns the
            // positive sign byte into SIGN_NEGATIVE.
            let start = out.len();
            out.push(SIGN_POSITIVE);
            out.extend_from_slice(&flip_i64(exponent));
            out.extend(digits.bytes().map(|b| b - b'0' + 1));
            out.push(0);
            if sign == Sign::Minus {
                out[start..].iter_mut().for_each(|b| *b = !*b);
            }
        }
    }
    out.extend_from_slice(&flip_i64(scale));
    Ok(())
}

fn encode_item(ty: &CqlType, value: Option<&CqlValue>, out: &mut Vec<u8>) -> Result<(), MarshalError> {
    match value {
        None => out.push(ITEM_NULL),
        Some(CqlValue::Empty) => out.push(ITEM_EMPTY),
        Some(v) => {
            out.push(ITEM_VALUE);
            encode_body(ty, v, out)?;
        }
    }
    Ok(())
}

fn encode_components<'v>(
    types: impl Iterator<Item = &'v CqlType>,
    values: &[Option<&'v CqlValue>],
    out: &mut Vec<u8>,
) -> Result<(), MarshalError> {
    // Trailing nulls compare equal to missing components, so they are not written.
    let used = values.iter().rposition(Option::is_some).map_or(0, |i| i + 1);
    for (ty, value) in types.zip(&values[..used]) {
        encode_item(ty, *value, out)?;
    }
    out.push(ITEM_END);
    Ok(())
}

fn encode_body(ty: &CqlType, value: &CqlValue, out: &mut Vec<u8>) -> Result<(), MarshalError> {
    use CqlType as T;
    use CqlValue as V;
    let ty = ty.unfrozen();
    match (ty, value) {
        (T::Ascii | T::Varchar, V::Ascii(s) | V::Text(s)) => escape_bytes(s.as_bytes(), out),
        (T::Blob | T::Custom(_), V::Blob(b)) => escape_bytes(b, out),
        (T::Inet, V::Inet(IpAddr::V4(a))) => escape_bytes(&a.octets(), out),
        (T::Inet, V::Inet(IpAddr::V6(a))) => escape_bytes(&a.octets(), out),
        (T::Int, V::Int(v)) => out.extend_from_slice(&((*v as u32) ^ (1 << 31)).to_be_bytes()),
        (T::Smallint, V::Smallint(v)) => out.extend_from_slice(&((*v as u16) ^ (1 << 15)).to_be_bytes()),
        (T::Tinyint, V::Tinyint(v)) => out.push((*v as u8) ^ 0x80),
        (T::Bigint | T::Counter, V::Bigint(v) | V::Counter(v))
        | (T::Timestamp, V::Timestamp(v))
        | (T::Time, V::Time(v)) => out.extend_from_slice(&flip_i64(*v)),
        (T::Date, V::Date(d)) => out.extend_from_slice(&d.to_be_bytes()),
        (T::Boolean, V::Boolean(b)) => out.push(u8::from(*b)),
        (T::Float, V::Float(v)) => out.extend_from_slice(&f32_key(*v).to_be_bytes()),
        (T::Double, V::Double(v)) => out.extend_from_slice(&f64_key(*v).to_be_bytes()),
        (T::Uuid, V::Uuid(u) | V::Timeuuid(u)) => {
            let bits = u.as_u128();
            let (msb, lsb) = ((bits >> 64) as u64, bits as u64);
            let version = ((msb >> 12) & 0xF) as u8;
            out.push(version);
            let high = if version == 1 {
                reorder_timestamp_bits(msb)
            } else {
                msb
            };
            out.extend_from_slice(&high.to_be_bytes());
            out.extend_from_slice(&lsb.to_be_bytes());
        }
        (T::Timeuuid, V::Timeuuid(u) | V::Uuid(u)) => {
            let bits = u.as_u128();
            out.extend_from_slice(&reorder_timestamp_bits((bits >> 64) as u64).to_be_bytes());
            out.extend_from_slice(&((bits as u64) ^ TIMEUUID_LSB_FLIP).to_be_bytes());
        }
        (T::Varint, V::Varint(v)) => encode_varint(v, out),
        (T::Decimal, V::Decimal(d)) => encode_decimal(d, out)?,
        (T::Duration, V::Duration(_)) => out.extend_from_slice(&to_bytes(value, ty)?),
        (T::List(e) | T::Set(e) | T::Vector(e, _), V::List(items) | V::Set(items) | V::Vector(items)) => {
            for item in items {
                encode_item(e, Some(item), out)?;
            }
            out.push(ITEM_END);
        }
        (T::Map(kt, vt), V::Map(entries)) => {
            for (k, v) in entries {
                encode_item(kt, Some(k), out)?;
                encode_item(vt, Some(v), out)?;
            }
            out.push(ITEM_END);
        }
        (T::Tuple(types), V::Tuple(items)) if items.len() <= types.len() => {
            let values: Vec<Option<&CqlValue>> = items.iter().map(Option::as_ref).collect();
            encode_components(types.iter(), &values, out)?;
        }
        (T::Udt(def), V::Udt(fields)) if fields.len() <= def.fields.len() => {
            let values: Vec<Option<&CqlValue>> = fields.iter().map(|(_, v)| v.as_ref()).collect();
            encode_components(def.fields.iter().map(|(_, t)| t), &values, out)?;
        }
        _ => return Err(mismatch(value, ty)),
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Decoding.
// ---------------------------------------------------------------------------------------------

fn corrupt(what: &str) -> MarshalError {
    MarshalError(format!("Corrupt clustering key: {what}"))
}

/// Reads key bytes, undoing the descending-column inversion through `mask`.
struct KeyReader<'a> {
    bytes: &'a [u8],
    pos: usize,
    mask: u8,
}

impl KeyReader<'_> {
    fn byte(&mut self) -> Result<u8, MarshalError> {
        let b = *self.bytes.get(self.pos).ok_or_else(|| corrupt("truncated"))?;
        self.pos += 1;
        Ok(b ^ self.mask)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], MarshalError> {
        let mut out = [0u8; N];
        for b in &mut out {
            *b = self.byte()?;
        }
        Ok(out)
    }

    fn take(&mut self, n: u64) -> Result<Vec<u8>, MarshalError> {
        let n = usize::try_from(n)
            .ok()
            .filter(|&n| n <= self.bytes.len() - self.pos);
        let n = n.ok_or_else(|| corrupt("length exceeds key"))?;
        (0..n).map(|_| self.byte()).collect()
    }

    fn i64(&mut self) -> Result<i64, MarshalError> {
        Ok((u64::from_be_bytes(self.array()?) ^ (1 << 63)) as i64)
    }

    fn escaped(&mut self) -> Result<Vec<u8>, MarshalError> {
        let mut out = Vec::new();
        loop {
            match self.byte()? {
                0 => match self.byte()? {
                    0 => return Ok(out),
                    0xFF => out.push(0),
                    _ => return Err(corrupt("bad escape in byte string")),
                },
                b => out.push(b),
            }
        }
    }
}

fn decode_varint(r: &mut KeyReader) -> Result<BigInt, MarshalError> {
    let header = r.byte()?;
    Ok(match header {
        SIGN_ZERO => BigInt::from(0),
        h if h > SIGN_ZERO => {
            let len = if h == 0xFF {
                u64::from_be_bytes(r.array()?)
            } else {
                u64::from(h - 0x80)
            };
            BigInt::from_bytes_be(Sign::Plus, &r.take(len)?)
        }
        h => {
            let len = if h == 0 {
                !u64::from_be_bytes(r.array()?)
            } else {
                u64::from(0x7F - h)
            };
            let magnitude: Vec<u8> = r.take(len)?.iter().map(|b| !b).collect();
            BigInt::from_bytes_be(Sign::Minus, &magnitude)
        }
    })
}

fn decode_decimal(r: &mut KeyReader) -> Result<BigDecimal, MarshalError> {
    let sign = r.byte()?;
    if sign == SIGN_ZERO {
        return Ok(BigDecimal::new(BigInt::from(0), r.i64()?));
    }
    let negative = match sign {
        SIGN_POSITIVE => false,
        SIGN_NEGATIVE => true,
        _ => return Err(corrupt("bad decimal sign")),
    };
    let saved_mask = r.mask;
    if negative {
        r.mask = !r.mask;
    }
    let exponent = r.i64()?;
    let mut digits = String::new();
    loop {
        match r.byte()? {
            0 => break,
            d @ 1..=10 => digits.push(char::from(b'0' + d - 1)),
            _ => return Err(corrupt("bad decimal digit")),
        }
    }
    r.mask = saved_mask;
    let scale = r.i64()?;
    let magnitude: BigUint = digits.parse().map_err(|_| corrupt("empty decimal digits"))?;
    let shift =
        u32::try_from(exponent - digits.len() as i64 + scale).map_err(|_| corrupt("bad decimal scale"))?;
    let unscaled = BigInt::from_biguint(
        if negative { Sign::Minus } else { Sign::Plus },
        magnitude * BigUint::from(10u8).pow(shift),
    );
    Ok(BigDecimal::new(unscaled, scale))
}

fn decode_item(
    r: &mut KeyReader,
    ty: &CqlType,
    depth: usize,
) -> Result<Option<Option<CqlValue>>, MarshalError> {
    Ok(match r.byte()? {
        ITEM_END => None,
        ITEM_NULL => Some(None),
        ITEM_EMPTY => Some(Some(CqlValue::Empty)),
        ITEM_VALUE => Some(Some(decode_body(r, ty, depth + 1)?)),
        _ => return Err(corrupt("bad item header")),
    })
}

/// Reads items until the end marker; collections reject nulls.
fn decode_items(r: &mut KeyReader, ty: &CqlType, depth: usize) -> Result<Vec<CqlValue>, MarshalError> {
    let mut items = Vec::new();
    while let Some(item) = decode_item(r, ty, depth)? {
        items.push(item.ok_or_else(|| corrupt("null collection element"))?);
    }
    Ok(items)
}

fn decode_components(
    r: &mut KeyReader,
    types: &[&CqlType],
    depth: usize,
) -> Result<Vec<Option<CqlValue>>, MarshalError> {
    let mut values = Vec::with_capacity(types.len());
    for ty in types {
        match decode_item(r, ty, depth)? {
            Some(v) => values.push(v),
            None => {
                values.resize(types.len(), None);
                return Ok(values);
            }
        }
    }
    if r.byte()? != ITEM_END {
        return Err(corrupt("too many tuple components"));
    }
    Ok(values)
}

fn decode_body(r: &mut KeyReader, ty: &CqlType, depth: usize) -> Result<CqlValue, MarshalError> {
    use CqlType as T;
    use CqlValue as V;
    if depth > MAX_KEY_DEPTH {
        return Err(corrupt("nested too deeply"));
    }
    let utf8 = |bytes: Vec<u8>| String::from_utf8(bytes).map_err(|_| corrupt("invalid UTF-8"));
    Ok(match ty.unfrozen() {
        T::Ascii => V::Ascii(utf8(r.escaped()?)?),
        T::Varchar => V::Text(utf8(r.escaped()?)?),
        T::Blob | T::Custom(_) => V::Blob(r.escaped()?),
        T::Inet => {
            let bytes = r.escaped()?;
            match <[u8; 4]>::try_from(bytes.as_slice()) {
                Ok(v4) => V::Inet(IpAddr::V4(Ipv4Addr::from(v4))),
                Err(_) => V::Inet(IpAddr::V6(Ipv6Addr::from(
                    <[u8; 16]>::try_from(bytes.as_slice()).map_err(|_| corrupt("bad inet length"))?,
                ))),
            }
        }
        T::Int => V::Int((u32::from_be_bytes(r.array()?) ^ (1 << 31)) as i32),
        T::Smallint => V::Smallint((u16::from_be_bytes(r.array()?) ^ (1 << 15)) as i16),
        T::Tinyint => V::Tinyint((r.byte()? ^ 0x80) as i8),
        T::Bigint => V::Bigint(r.i64()?),
        T::Counter => V::Counter(r.i64()?),
        T::Timestamp => V::Timestamp(r.i64()?),
        T::Time => V::Time(r.i64()?),
        T::Date => V::Date(u32::from_be_bytes(r.array()?)),
        T::Boolean => V::Boolean(r.byte()? != 0),
        T::Float => {
            let k = u32::from_be_bytes(r.array()?);
            V::Float(f32::from_bits(if k >> 31 == 1 { k ^ (1 << 31) } else { !k }))
        }
        T::Double => {
            let k = u64::from_be_bytes(r.array()?);
            V::Double(f64::from_bits(if k >> 63 == 1 { k ^ (1 << 63) } else { !k }))
        }
        T::Uuid => {
            let version = r.byte()?;
            let high = u64::from_be_bytes(r.array()?);
            let msb = if version == 1 {
                unreorder_timestamp_bits(high)
            } else {
                high
            };
            let lsb = u64::from_be_bytes(r.array()?);
            V::Uuid(Uuid::from_u64_pair(msb, lsb))
        }
        T::Timeuuid => {
            let msb = unreorder_timestamp_bits(u64::from_be_bytes(r.array()?));
            let lsb = u64::from_be_bytes(r.array()?) ^ TIMEUUID_LSB_FLIP;
            V::Timeuuid(Uuid::from_u64_pair(msb, lsb))
        }
        T::Varint => V::Varint(decode_varint(r)?),
        T::Decimal => V::Decimal(decode_decimal(r)?),
        T::Duration => {
            // Three self-delimiting vints; decode each from the (un-inverted) bytes.
            let mut fields = [0i64; 3];
            for field in &mut fields {
                let first = r.byte()?;
                let extra = first.leading_ones() as usize;
                let mut buf = vec![first];
                buf.extend(r.take(extra as u64)?);
                *field = read_vint(&buf).ok_or_else(|| corrupt("bad duration"))?.0;
            }
            let int = |v: i64| i32::try_from(v).map_err(|_| corrupt("bad duration"));
            V::Duration(CqlDuration {
                months: int(fields[0])?,
                days: int(fields[1])?,
                nanos: fields[2],
            })
        }
        T::List(e) => V::List(decode_items(r, e, depth)?),
        T::Set(e) => V::Set(decode_items(r, e, depth)?),
        T::Vector(e, _) => V::Vector(decode_items(r, e, depth)?),
        T::Map(kt, vt) => {
            let mut entries = Vec::new();
            while let Some(k) = decode_item(r, kt, depth)? {
                let k = k.ok_or_else(|| corrupt("null map key"))?;
                let v = decode_item(r, vt, depth)?
                    .flatten()
                    .ok_or_else(|| corrupt("missing map value"))?;
                entries.push((k, v));
            }
            V::Map(entries)
        }
        T::Tuple(types) => V::Tuple(decode_components(r, &types.iter().collect::<Vec<_>>(), depth)?),
        T::Udt(def) => {
            let types: Vec<&CqlType> = def.fields.iter().map(|(_, t)| t).collect();
            let values = decode_components(r, &types, depth)?;
            V::Udt(def.fields.iter().map(|(n, _)| n.clone()).zip(values).collect())
        }
        T::Frozen(inner) => decode_body(r, inner, depth)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::compare;
    use crate::testutil::{Rng, random_type, random_value};
    use std::cmp::Ordering;

    /// Cassandra's clustering comparison: component by component, reversed for descending columns.
    fn compare_keys(columns: &[(CqlType, bool)], a: &[CqlValue], b: &[CqlValue]) -> Ordering {
        for ((ty, desc), (x, y)) in columns.iter().zip(a.iter().zip(b)) {
            let c = compare(ty, x, y);
            let c = if *desc { c.reverse() } else { c };
            if c != Ordering::Equal {
                return c;
            }
        }
        a.len().cmp(&b.len())
    }

    fn encode(columns: &[(CqlType, bool)], values: &[CqlValue]) -> Vec<u8> {
        let parts: Vec<(&CqlType, &CqlValue, bool)> =
            columns.iter().zip(values).map(|((t, d), v)| (t, v, *d)).collect();
        encode_clustering(&parts).unwrap()
    }

    fn same(ty: &CqlType, a: &CqlValue, b: &CqlValue) -> bool {
        crate::wire::to_bytes(a, ty).unwrap() == crate::wire::to_bytes(b, ty).unwrap()
    }

    #[test]
    fn encoding_order_matches_comparator() {
        let mut rng = Rng(0x5EED);
        for round in 0..20_000 {
            let n = 1 + rng.below(3);
            let columns: Vec<(CqlType, bool)> = (0..n)
                .map(|_| {
                    (
                        random_type(&mut rng, if round % 2 == 0 { 2 } else { 0 }),
                        rng.chance(2),
                    )
                })
                .collect();
            let a: Vec<CqlValue> = columns.iter().map(|(t, _)| random_value(&mut rng, t)).collect();
            // Share a random prefix with `a` so that later components get compared too.
            let shared = rng.below(n + 1);
            let b: Vec<CqlValue> = columns
                .iter()
                .enumerate()
                .map(|(i, (t, _))| {
                    if i < shared {
                        a[i].clone()
                    } else {
                        random_value(&mut rng, t)
                    }
                })
                .collect();
            let (ea, eb) = (encode(&columns, &a), encode(&columns, &b));
            let expected = compare_keys(&columns, &a, &b);
            let has_decimal = columns
                .iter()
                .any(|(t, _)| t.any_nested(&|t| matches!(t, CqlType::Decimal)));
            match expected {
                Ordering::Equal if has_decimal => {}
                _ => assert_eq!(ea.cmp(&eb), expected, "{columns:?}\n{a:?}\n{b:?}"),
            }
            if ea == eb {
                assert_eq!(expected, Ordering::Equal);
            }
            // Round trip, and prefixes are byte prefixes bracketed by the reserved bytes.
            let types: Vec<(&CqlType, bool)> = columns.iter().map(|(t, d)| (t, *d)).collect();
            let decoded = decode_clustering(&types, &ea).unwrap();
            for ((t, _), (x, y)) in columns.iter().zip(a.iter().zip(&decoded)) {
                assert!(same(t, x, y), "{t}: {x:?} vs {y:?}");
            }
            let k = rng.below(n);
            let prefix = encode(&columns[..k], &a[..k]);
            assert!(ea.starts_with(&prefix));
            assert_eq!(decode_clustering(&types, &prefix).unwrap().len(), k);
            let mut before = prefix.clone();
            before.push(BEFORE_PREFIX);
            let mut after = prefix;
            after.push(AFTER_PREFIX);
            assert!(before < ea && ea < after);
        }
    }

    #[test]
    fn element_keys_round_trip_in_order() {
        let mut rng = Rng(99);
        for _ in 0..5000 {
            let ty = random_type(&mut rng, 1);
            let (a, b) = (random_value(&mut rng, &ty), random_value(&mut rng, &ty));
            let (ka, kb) = (
                encode_element_key(&ty, &a).unwrap(),
                encode_element_key(&ty, &b).unwrap(),
            );
            let c = compare(&ty, &a, &b);
            if c != Ordering::Equal {
                assert_eq!(ka.cmp(&kb), c, "{ty}: {a:?} {b:?}");
            }
            assert!(same(&ty, &decode_element_key(&ty, &ka).unwrap(), &a));
        }
    }

    #[test]
    fn known_key_bytes() {
        let key = encode_clustering(&[
            (&CqlType::Int, &CqlValue::Int(1), false),
            (&CqlType::Varchar, &CqlValue::Text("a\0".into()), true),
            (&CqlType::Bigint, &CqlValue::Empty, false),
        ])
        .unwrap();
        assert_eq!(
            key,
            [
                HEADER_VALUE,
                0x80,
                0,
                0,
                1,
                HEADER_VALUE,
                !b'a',
                0xFF,
                0x00,
                0xFF,
                0xFF,
                HEADER_EMPTY_ASC
            ]
        );
        let serialized = encode_clustering_serialized(&[(&CqlType::Int, &[0, 0, 0, 1][..], false)]).unwrap();
        assert_eq!(serialized, key[..5]);
        let cols = [
            (&CqlType::Int, false),
            (&CqlType::Varchar, true),
            (&CqlType::Bigint, false),
        ];
        assert_eq!(
            decode_clustering_serialized(&cols, &key).unwrap(),
            vec![vec![0, 0, 0, 1], b"a\0".to_vec(), vec![]]
        );
        // Decimals with the same value but different scales keep their scale.
        let d = |u: i64, s: i64| CqlValue::Decimal(BigDecimal::new(BigInt::from(u), s));
        for v in [d(10, 1), d(100, 2), d(1, -1), d(0, 3), d(-5, 0)] {
            let k = encode_element_key(&CqlType::Decimal, &v).unwrap();
            assert_eq!(decode_element_key(&CqlType::Decimal, &k).unwrap(), v);
            let CqlValue::Decimal(original) = &v else {
                unreachable!()
            };
            let CqlValue::Decimal(back) = decode_element_key(&CqlType::Decimal, &k).unwrap() else {
                unreachable!()
            };
            assert_eq!(back.as_bigint_and_exponent(), original.as_bigint_and_exponent());
        }
        assert!(decode_clustering(&cols, &[0x07]).is_err());
        assert!(decode_clustering(&cols, &[HEADER_VALUE, 0x80]).is_err());
        assert!(encode_element_key(&CqlType::Int, &CqlValue::Text("x".into())).is_err());
    }
}
