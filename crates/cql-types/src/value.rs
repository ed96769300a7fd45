//! The CQL value model: one variant per CQL type, as produced by deserialization and literal parsing.

use std::net::IpAddr;

use bigdecimal::BigDecimal;
use bigdecimal::num_bigint::BigInt;
use uuid::Uuid;

use crate::types::UdtDef;
use crate::wire::MarshalError;

/// A CQL `duration`: months, days and nanoseconds, all of the same sign.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct CqlDuration {
    pub months: i32,
    pub days: i32,
    pub nanos: i64,
}

/// A non-null CQL value. Nulls are represented by the caller (usually `Option<CqlValue>`).
#[derive(Clone, Debug, PartialEq)]
pub enum CqlValue {
    Ascii(String),
    Text(String),
    Bigint(i64),
    Counter(i64),
    /// Also used for values of custom types.
    Blob(Vec<u8>),
    Boolean(bool),
    Decimal(BigDecimal),
    Double(f64),
    Float(f32),
    Int(i32),
    /// Milliseconds since the Unix epoch.
    Timestamp(i64),
    Uuid(Uuid),
    Timeuuid(Uuid),
    Varint(BigInt),
    Inet(IpAddr),
    /// Days with the Unix epoch at 2^31, exactly as on the wire.
    Date(u32),
    /// Nanoseconds since midnight.
    Time(i64),
    Smallint(i16),
    Tinyint(i8),
    Duration(CqlDuration),
    List(Vec<CqlValue>),
    /// Elements in comparator order without duplicates (see [`crate::normalize`]).
    Set(Vec<CqlValue>),
    /// Entries in key comparator order without duplicate keys (see [`crate::normalize`]).
    Map(Vec<(CqlValue, CqlValue)>),
    Tuple(Vec<Option<CqlValue>>),
    /// Field name and value, in the type's field order.
    Udt(Vec<(String, Option<CqlValue>)>),
    Vector(Vec<CqlValue>),
    /// A zero-length value, which Cassandra allows for most non-string types for legacy reasons.
    Empty,
}

/// The day number Cassandra's `date` type uses for 1970-01-01.
pub const DATE_EPOCH: u32 = 1 << 31;

impl CqlValue {
    /// A `date` value from days since the Unix epoch (negative before 1970).
    pub fn date_from_epoch_days(days: i64) -> Option<CqlValue> {
        u32::try_from(days + i64::from(DATE_EPOCH))
            .ok()
            .map(CqlValue::Date)
    }

    /// Builds a UDT value in the type's field order from `(field name, value)` pairs given in any order
    /// (names already case-folded by the caller); fields not mentioned are null.
    pub fn udt_from_named(
        def: &UdtDef,
        named: impl IntoIterator<Item = (String, Option<CqlValue>)>,
    ) -> Result<CqlValue, MarshalError> {
        let mut fields: Vec<(String, Option<CqlValue>)> =
            def.fields.iter().map(|(n, _)| (n.clone(), None)).collect();
        for (name, value) in named {
            let slot = fields.iter_mut().find(|(n, _)| *n == name).ok_or_else(|| {
                MarshalError(format!(
                    "Unknown field '{name}' in value of user defined type {}",
                    def.name
                ))
            })?;
            slot.1 = value;
        }
        Ok(CqlValue::Udt(fields))
    }

    /// True for list, set and map values.
    pub fn is_collection(&self) -> bool {
        matches!(self, CqlValue::List(_) | CqlValue::Set(_) | CqlValue::Map(_))
    }

    /// The value as an `i64` when it is any integer type, counter, or timestamp.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            CqlValue::Bigint(v) | CqlValue::Counter(v) | CqlValue::Timestamp(v) | CqlValue::Time(v) => {
                Some(v)
            }
            CqlValue::Int(v) => Some(v.into()),
            CqlValue::Smallint(v) => Some(v.into()),
            CqlValue::Tinyint(v) => Some(v.into()),
            CqlValue::Varint(ref v) => i64::try_from(v).ok(),
            _ => None,
        }
    }

    /// The string content of ascii/text values.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            CqlValue::Ascii(s) | CqlValue::Text(s) => Some(s),
            _ => None,
        }
    }

    /// The UUID of uuid/timeuuid values.
    pub fn as_uuid(&self) -> Option<Uuid> {
        match self {
            CqlValue::Uuid(u) | CqlValue::Timeuuid(u) => Some(*u),
            _ => None,
        }
    }

    /// A short name of the variant for error messages.
    pub fn kind_name(&self) -> &'static str {
        match self {
            CqlValue::Ascii(_) => "ascii",
            CqlValue::Text(_) => "text",
            CqlValue::Bigint(_) => "bigint",
            CqlValue::Counter(_) => "counter",
            CqlValue::Blob(_) => "blob",
            CqlValue::Boolean(_) => "boolean",
            CqlValue::Decimal(_) => "decimal",
            CqlValue::Double(_) => "double",
            CqlValue::Float(_) => "float",
            CqlValue::Int(_) => "int",
            CqlValue::Timestamp(_) => "timestamp",
            CqlValue::Uuid(_) => "uuid",
            CqlValue::Timeuuid(_) => "timeuuid",
            CqlValue::Varint(_) => "varint",
            CqlValue::Inet(_) => "inet",
            CqlValue::Date(_) => "date",
            CqlValue::Time(_) => "time",
            CqlValue::Smallint(_) => "smallint",
            CqlValue::Tinyint(_) => "tinyint",
            CqlValue::Duration(_) => "duration",
            CqlValue::List(_) => "list",
            CqlValue::Set(_) => "set",
            CqlValue::Map(_) => "map",
            CqlValue::Tuple(_) => "tuple",
            CqlValue::Udt(_) => "udt",
            CqlValue::Vector(_) => "vector",
            CqlValue::Empty => "empty",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::CqlType;

    #[test]
    fn udt_from_named_orders_fields() {
        let def = UdtDef {
            keyspace: "ks".into(),
            name: "u".into(),
            fields: vec![
                ("a".into(), CqlType::Int),
                ("b".into(), CqlType::Int),
                ("c".into(), CqlType::Int),
            ],
        };
        let v = CqlValue::udt_from_named(&def, [("c".into(), Some(CqlValue::Int(3))), ("a".into(), None)])
            .unwrap();
        assert_eq!(
            v,
            CqlValue::Udt(vec![
                ("a".into(), None),
                ("b".into(), None),
                ("c".into(), Some(CqlValue::Int(3)))
            ])
        );
        let err = CqlValue::udt_from_named(&def, [("x".into(), None)]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Unknown field 'x' in value of user defined type u"
        );
        assert_eq!(
            CqlValue::date_from_epoch_days(-1),
            Some(CqlValue::Date(DATE_EPOCH - 1))
        );
        assert_eq!(CqlValue::Varint(5.into()).as_i64(), Some(5));
    }
}
