//! The [option] type representation used in result and prepared metadata, mapped to and from
//! [`CqlType`]. Vectors travel as a custom `VectorType(...)` class name and are recognised again on decode.

use std::fmt::Write as _;
use std::sync::Arc;

use bytes::{BufMut, BytesMut};
use mica_cql_types::{CqlType, UdtDef};

use crate::codec::{Reader, put_string};
use crate::error::{ProtocolError, Result};

/// How deeply type options may nest before decoding gives up (protects the stack from hostile input).
pub const MAX_TYPE_DEPTH: usize = 64;

const MARSHAL_PREFIX: &str = "org.apache.cassandra.db.marshal.";

const OPT_CUSTOM: u16 = 0x0000;
const OPT_LIST: u16 = 0x0020;
const OPT_MAP: u16 = 0x0021;
const OPT_SET: u16 = 0x0022;
const OPT_UDT: u16 = 0x0030;
const OPT_TUPLE: u16 = 0x0031;

/// Native types with their option id and Java marshal class name (without the package prefix).
const NATIVE: [(u16, CqlType, &str); 21] = [
    (0x0001, CqlType::Ascii, "AsciiType"),
    (0x0002, CqlType::Bigint, "LongType"),
    (0x0003, CqlType::Blob, "BytesType"),
    (0x0004, CqlType::Boolean, "BooleanType"),
    (0x0005, CqlType::Counter, "CounterColumnType"),
    (0x0006, CqlType::Decimal, "DecimalType"),
    (0x0007, CqlType::Double, "DoubleType"),
    (0x0008, CqlType::Float, "FloatType"),
    (0x0009, CqlType::Int, "Int32Type"),
    (0x000B, CqlType::Timestamp, "TimestampType"),
    (0x000C, CqlType::Uuid, "UUIDType"),
    (0x000D, CqlType::Varchar, "UTF8Type"),
    (0x000E, CqlType::Varint, "IntegerType"),
    (0x000F, CqlType::Timeuuid, "TimeUUIDType"),
    (0x0010, CqlType::Inet, "InetAddressType"),
    (0x0011, CqlType::Date, "SimpleDateType"),
    (0x0012, CqlType::Time, "TimeType"),
    (0x0013, CqlType::Smallint, "ShortType"),
    (0x0014, CqlType::Tinyint, "ByteType"),
    (0x0015, CqlType::Duration, "DurationType"),
    // Varchar is listed first so encoding picks 0x000D; 0x000A (legacy "text") decodes to Varchar too.
    (0x000A, CqlType::Varchar, "UTF8Type"),
];

/// Writes `ty` as an [option].
pub fn put_type(buf: &mut BytesMut, ty: &CqlType) {
    match ty {
        CqlType::Custom(class) => {
            buf.put_u16(OPT_CUSTOM);
            put_string(buf, class);
        }
        CqlType::Vector(..) => {
            buf.put_u16(OPT_CUSTOM);
            put_string(buf, &marshal_name(ty));
        }
        CqlType::List(e) => {
            buf.put_u16(OPT_LIST);
            put_type(buf, e);
        }
        CqlType::Set(e) => {
            buf.put_u16(OPT_SET);
            put_type(buf, e);
        }
        CqlType::Map(k, v) => {
            buf.put_u16(OPT_MAP);
            put_type(buf, k);
            put_type(buf, v);
        }
        CqlType::Tuple(items) => {
            buf.put_u16(OPT_TUPLE);
            buf.put_u16(u16::try_from(items.len()).unwrap_or(u16::MAX));
            items
                .iter()
                .take(usize::from(u16::MAX))
                .for_each(|t| put_type(buf, t));
        }
        CqlType::Udt(def) => {
            buf.put_u16(OPT_UDT);
            put_string(buf, &def.keyspace);
            put_string(buf, &def.name);
            buf.put_u16(u16::try_from(def.fields.len()).unwrap_or(u16::MAX));
            for (name, t) in def.fields.iter().take(usize::from(u16::MAX)) {
                put_string(buf, name);
                put_type(buf, t);
            }
        }
        CqlType::Frozen(inner) => put_type(buf, inner),
        native => {
            let id = NATIVE
                .iter()
                .find(|(_, t, _)| t == native)
                .map_or(OPT_CUSTOM, |(id, _, _)| *id);
            buf.put_u16(id);
        }
    }
}

/// Reads an [option] into a [`CqlType`]. A custom `VectorType(...)` class whose element type is
/// recognised becomes [`CqlType::Vector`]; other custom classes stay [`CqlType::Custom`].
pub fn read_type(r: &mut Reader) -> Result<CqlType> {
    read_type_at(r, 0)
}

fn read_type_at(r: &mut Reader, depth: usize) -> Result<CqlType> {
    if depth >= MAX_TYPE_DEPTH {
        return Err(ProtocolError::TypeTooDeep(MAX_TYPE_DEPTH));
    }
    let id = r.read_u16("type option id")?;
    let next = depth + 1;
    Ok(match id {
        OPT_CUSTOM => {
            let class = r.read_string("custom type class")?;
            match parse_marshal(&class, 0) {
                Some(v @ CqlType::Vector(..)) => v,
                _ => CqlType::Custom(class),
            }
        }
        OPT_LIST => CqlType::List(Box::new(read_type_at(r, next)?)),
        OPT_SET => CqlType::Set(Box::new(read_type_at(r, next)?)),
        OPT_MAP => CqlType::Map(Box::new(read_type_at(r, next)?), Box::new(read_type_at(r, next)?)),
        OPT_TUPLE => {
            let n = r.read_u16("tuple arity")?;
            CqlType::Tuple((0..n).map(|_| read_type_at(r, next)).collect::<Result<_>>()?)
        }
        OPT_UDT => {
            let keyspace = r.read_string("udt keyspace")?;
            let name = r.read_string("udt name")?;
            let n = r.read_u16("udt field count")?;
            let fields = (0..n)
                .map(|_| Ok((r.read_string("udt field name")?, read_type_at(r, next)?)))
                .collect::<Result<_>>()?;
            CqlType::Udt(Arc::new(UdtDef {
                keyspace,
                name,
                fields,
            }))
        }
        other => NATIVE
            .iter()
            .find(|(i, _, _)| *i == other)
            .map(|(_, t, _)| t.clone())
            .ok_or_else(|| ProtocolError::InvalidField {
                what: "type option id",
                value: format!("{other:#06x}"),
            })?,
    })
}

/// The fully qualified Java marshal class name of a type, as Cassandra spells it in custom type strings.
pub fn marshal_name(ty: &CqlType) -> String {
    let mut out = String::new();
    write_marshal(&mut out, ty);
    out
}

fn write_marshal(out: &mut String, ty: &CqlType) {
    let list = |out: &mut String, name: &str, items: &[&CqlType]| {
        out.push_str(MARSHAL_PREFIX);
        out.push_str(name);
        out.push('(');
        for (i, t) in items.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            write_marshal(out, t);
        }
        out.push(')');
    };
    match ty {
        CqlType::Custom(class) => out.push_str(class),
        CqlType::List(e) => list(out, "ListType", &[e]),
        CqlType::Set(e) => list(out, "SetType", &[e]),
        CqlType::Map(k, v) => list(out, "MapType", &[k, v]),
        CqlType::Tuple(items) => list(out, "TupleType", &items.iter().collect::<Vec<_>>()),
        CqlType::Frozen(inner) => list(out, "FrozenType", &[inner]),
        CqlType::Vector(e, dim) => {
            out.push_str(MARSHAL_PREFIX);
            out.push_str("VectorType(");
            write_marshal(out, e);
            let _ = write!(out, ",{dim})");
        }
        CqlType::Udt(def) => {
            // UserType(keyspace,hex(name),hex(field):type,...) as Cassandra's UserType.toString prints it.
            let _ = write!(
                out,
                "{MARSHAL_PREFIX}UserType({},{}",
                def.keyspace,
                hex(&def.name)
            );
            for (name, t) in &def.fields {
                let _ = write!(out, ",{}:", hex(name));
                write_marshal(out, t);
            }
            out.push(')');
        }
        native => {
            let name = NATIVE
                .iter()
                .find(|(_, t, _)| t == native)
                .map_or("BytesType", |(_, _, n)| n);
            out.push_str(MARSHAL_PREFIX);
            out.push_str(name);
        }
    }
}

fn hex(s: &str) -> String {
    s.bytes().fold(String::with_capacity(s.len() * 2), |mut acc, b| {
        let _ = write!(acc, "{b:02x}");
        acc
    })
}

/// Splits `s` at top-level commas (commas not nested inside parentheses).
fn split_top_level(s: &str) -> Vec<&str> {
    let (mut parts, mut depth, mut start) = (Vec::new(), 0usize, 0);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

/// Parses a marshal class name (native, collection, tuple, frozen or vector). Returns `None` for anything
/// else, including user types, which callers keep as custom strings.
fn parse_marshal(class: &str, depth: usize) -> Option<CqlType> {
    if depth >= MAX_TYPE_DEPTH {
        return None;
    }
    let s = class.trim();
    let s = s.strip_prefix(MARSHAL_PREFIX).unwrap_or(s);
    let Some(open) = s.find('(') else {
        return NATIVE.iter().find(|(_, _, n)| *n == s).map(|(_, t, _)| t.clone());
    };
    let (name, args) = (&s[..open], s[open + 1..].strip_suffix(')')?);
    let parts = split_top_level(args);
    let sub = |i: usize| {
        parts
            .get(i)
            .and_then(|p| parse_marshal(p, depth + 1))
            .map(Box::new)
    };
    match (name, parts.len()) {
        ("ListType", 1) => Some(CqlType::List(sub(0)?)),
        ("SetType", 1) => Some(CqlType::Set(sub(0)?)),
        ("MapType", 2) => Some(CqlType::Map(sub(0)?, sub(1)?)),
        ("FrozenType", 1) => Some(CqlType::Frozen(sub(0)?)),
        ("TupleType", _) => Some(CqlType::Tuple(
            parts
                .iter()
                .map(|p| parse_marshal(p, depth + 1))
                .collect::<Option<Vec<_>>>()?,
        )),
        ("VectorType", 2) => Some(CqlType::Vector(sub(0)?, parts[1].trim().parse().ok()?)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(ty: &CqlType) -> CqlType {
        let mut buf = BytesMut::new();
        put_type(&mut buf, ty);
        let mut r = Reader::new(buf.freeze());
        let out = read_type(&mut r).unwrap();
        assert_eq!(r.remaining(), 0);
        out
    }

    #[test]
    fn natives_and_collections_round_trip() {
        for (_, t, _) in NATIVE.iter() {
            assert_eq!(&round_trip(t), t);
        }
        let udt = CqlType::Udt(Arc::new(UdtDef {
            keyspace: "ks".into(),
            name: "addr".into(),
            fields: vec![
                ("street".into(), CqlType::Varchar),
                ("nums".into(), CqlType::List(Box::new(CqlType::Int))),
            ],
        }));
        let nested = CqlType::Map(
            Box::new(CqlType::Varchar),
            Box::new(CqlType::Tuple(vec![
                CqlType::Int,
                udt.clone(),
                CqlType::Custom("com.example.X".into()),
            ])),
        );
        assert_eq!(round_trip(&nested), nested);
        assert_eq!(round_trip(&CqlType::Frozen(Box::new(udt.clone()))), udt);
    }

    #[test]
    fn vector_is_sent_as_custom_and_recognised() {
        let v = CqlType::Vector(Box::new(CqlType::Float), 3);
        let mut buf = BytesMut::new();
        put_type(&mut buf, &v);
        let class = "org.apache.cassandra.db.marshal.VectorType(org.apache.cassandra.db.marshal.FloatType,3)";
        let mut expected = vec![0, 0, 0, class.len() as u8];
        expected.extend_from_slice(class.as_bytes());
        assert_eq!(buf.as_ref(), expected.as_slice());
        assert_eq!(round_trip(&v), v);
        let nested = CqlType::Vector(Box::new(CqlType::List(Box::new(CqlType::Int))), 2);
        assert_eq!(round_trip(&nested), nested);
    }

    #[test]
    fn bad_options_are_errors() {
        let mut r = Reader::new(bytes::Bytes::from_static(&[0x00, 0x40]));
        assert!(matches!(
            read_type(&mut r),
            Err(ProtocolError::InvalidField { .. })
        ));
        // 100 nested lists exceed the depth limit instead of recursing without bound.
        let deep: Vec<u8> = std::iter::repeat_n([0x00, 0x20], 100).flatten().collect();
        assert_eq!(
            read_type(&mut Reader::new(deep.into())),
            Err(ProtocolError::TypeTooDeep(MAX_TYPE_DEPTH))
        );
    }
}
