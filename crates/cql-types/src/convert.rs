//! Scalar conversions behind CQL's time functions (`now()`, `minTimeuuid`, `toDate`, `toTimestamp`,
//! `toUnixTimestamp`, ...) and `CAST`, with Cassandra's (Java's) numeric semantics.

use std::sync::{Mutex, OnceLock};

use bigdecimal::num_bigint::BigInt;
use bigdecimal::num_traits::ToPrimitive;
use bigdecimal::{BigDecimal, RoundingMode};
use uuid::Uuid;

use crate::datetime::{self, MILLIS_PER_DAY};
use crate::literal::{format_decimal, format_double, format_float, parse_decimal};
use crate::types::CqlType;
use crate::value::{CqlValue, DATE_EPOCH};
use crate::wire::hex_bytes;

/// Milliseconds from the UUID epoch (1582-10-15) to the Unix epoch.
const UUID_EPOCH_OFFSET_MILLIS: i64 = 12_219_292_800_000;
/// UUID timestamps count 100-nanosecond intervals.
const UUID_TICKS_PER_MILLI: i64 = 10_000;
/// Largest 60-bit UUID timestamp.
const MAX_UUID_TICKS: i64 = (1 << 60) - 1;
/// Low bits of `minTimeuuid`: the smallest clock sequence and node under Cassandra's signed-byte order.
const MIN_CLOCK_SEQ_AND_NODE: u64 = 0x8080_8080_8080_8080;
/// Low bits of `maxTimeuuid`: the largest clock sequence and node under Cassandra's signed-byte order.
const MAX_CLOCK_SEQ_AND_NODE: u64 = 0x7F7F_7F7F_7F7F_7F7F;

/// The raw 60-bit timestamp of a version 1 UUID (100 ns ticks since 1582-10-15).
pub fn timeuuid_ticks(u: &Uuid) -> i64 {
    let msb = (u.as_u128() >> 64) as u64;
    (((msb & 0x0FFF) << 48) | (((msb >> 16) & 0xFFFF) << 32) | (msb >> 32)) as i64
}

/// Milliseconds since the Unix epoch of a version 1 UUID.
pub fn timeuuid_to_millis(u: &Uuid) -> i64 {
    timeuuid_ticks(u).div_euclid(UUID_TICKS_PER_MILLI) - UUID_EPOCH_OFFSET_MILLIS
}

/// Microseconds since the Unix epoch of a version 1 UUID.
pub fn timeuuid_to_micros(u: &Uuid) -> i64 {
    timeuuid_ticks(u).div_euclid(10) - UUID_EPOCH_OFFSET_MILLIS * 1000
}

/// Builds a version 1 UUID from a 60-bit timestamp and the low 64 bits (variant, clock sequence, node).
pub fn timeuuid_from_ticks(ticks: i64, clock_seq_and_node: u64) -> Uuid {
    let t = (ticks as u64) & (MAX_UUID_TICKS as u64);
    let msb = ((t & 0xFFFF_FFFF) << 32) | (((t >> 32) & 0xFFFF) << 16) | 0x1000 | (t >> 48);
    Uuid::from_u64_pair(msb, clock_seq_and_node)
}

fn ticks_for_millis(ms: i64) -> i64 {
    ms.saturating_add(UUID_EPOCH_OFFSET_MILLIS)
        .saturating_mul(UUID_TICKS_PER_MILLI)
        .clamp(0, MAX_UUID_TICKS)
}

/// `minTimeuuid(ms)`: the smallest timeuuid with that millisecond timestamp.
pub fn min_timeuuid(ms: i64) -> Uuid {
    timeuuid_from_ticks(ticks_for_millis(ms), MIN_CLOCK_SEQ_AND_NODE)
}

/// `maxTimeuuid(ms)`: the largest timeuuid with that millisecond timestamp.
pub fn max_timeuuid(ms: i64) -> Uuid {
    timeuuid_from_ticks(
        (ticks_for_millis(ms) + UUID_TICKS_PER_MILLI - 1).min(MAX_UUID_TICKS),
        MAX_CLOCK_SEQ_AND_NODE,
    )
}

/// Generates strictly increasing version 1 UUIDs for `now()`, with a fixed random clock sequence and
/// node (multicast bit set, as RFC 4122 asks for random nodes).
#[derive(Debug)]
pub struct TimeuuidGenerator {
    clock_seq_and_node: u64,
    last_ticks: Mutex<i64>,
}

impl TimeuuidGenerator {
    /// A generator with the given clock sequence (14 bits used) and node (48 bits used).
    pub fn new(clock_seq: u16, node: u64) -> TimeuuidGenerator {
        const VARIANT_RFC4122: u64 = 0x8000_0000_0000_0000;
        const MULTICAST_BIT: u64 = 0x0100_0000_0000;
        let lsb = VARIANT_RFC4122
            | (u64::from(clock_seq & 0x3FFF) << 48)
            | (node & 0xFFFF_FFFF_FFFF)
            | MULTICAST_BIT;
        TimeuuidGenerator {
            clock_seq_and_node: lsb,
            last_ticks: Mutex::new(0),
        }
    }

    /// A generator with a random clock sequence and node.
    pub fn random() -> TimeuuidGenerator {
        let (a, b) = Uuid::new_v4().as_u64_pair();
        TimeuuidGenerator::new(a as u16, b)
    }

    /// A timeuuid for the given wall-clock time, later than every one this generator returned before.
    pub fn generate_at(&self, now_ms: i64) -> Uuid {
        let mut last = self
            .last_ticks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let ticks = ticks_for_millis(now_ms).max(*last + 1).min(MAX_UUID_TICKS);
        *last = ticks;
        timeuuid_from_ticks(ticks, self.clock_seq_and_node)
    }

    /// A timeuuid for the current time.
    pub fn generate(&self) -> Uuid {
        self.generate_at(now_millis())
    }
}

/// Current wall-clock time in milliseconds since the Unix epoch.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A fresh timeuuid from the process-wide generator (CQL's `now()`).
pub fn now_timeuuid() -> Uuid {
    static GENERATOR: OnceLock<TimeuuidGenerator> = OnceLock::new();
    GENERATOR.get_or_init(TimeuuidGenerator::random).generate()
}

/// The `date` containing the instant `ms` (milliseconds since the epoch).
pub fn millis_to_date(ms: i64) -> u32 {
    (ms.div_euclid(MILLIS_PER_DAY) + i64::from(DATE_EPOCH)).clamp(0, i64::from(u32::MAX)) as u32
}

/// Milliseconds since the epoch at the start of `date`.
pub fn date_to_millis(date: u32) -> i64 {
    (i64::from(date) - i64::from(DATE_EPOCH)) * MILLIS_PER_DAY
}

/// The instant a timestamp, date or timeuuid value denotes, in milliseconds.
fn instant_millis(value: &CqlValue) -> Option<i64> {
    match value {
        CqlValue::Timestamp(ms) => Some(*ms),
        CqlValue::Date(d) => Some(date_to_millis(*d)),
        CqlValue::Timeuuid(u) | CqlValue::Uuid(u) if u.get_version_num() == 1 => Some(timeuuid_to_millis(u)),
        _ => None,
    }
}

/// `toDate(x)` for a timestamp, date or timeuuid.
pub fn to_date(value: &CqlValue) -> Option<CqlValue> {
    instant_millis(value).map(|ms| CqlValue::Date(millis_to_date(ms)))
}

/// `toTimestamp(x)` (and the legacy `dateOf(timeuuid)`) for a timestamp, date or timeuuid.
pub fn to_timestamp(value: &CqlValue) -> Option<CqlValue> {
    instant_millis(value).map(CqlValue::Timestamp)
}

/// `toUnixTimestamp(x)` (and the legacy `unixTimestampOf(timeuuid)`): milliseconds as a bigint.
pub fn to_unix_timestamp(value: &CqlValue) -> Option<CqlValue> {
    instant_millis(value).map(CqlValue::Bigint)
}

/// Why a `CAST` is not possible.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CastError(pub String);

fn is_numeric(ty: &CqlType) -> bool {
    matches!(
        ty,
        CqlType::Tinyint
            | CqlType::Smallint
            | CqlType::Int
            | CqlType::Bigint
            | CqlType::Counter
            | CqlType::Float
            | CqlType::Double
            | CqlType::Decimal
            | CqlType::Varint
    )
}

/// True when Cassandra defines `CAST(<from> AS <to>)`.
pub fn can_cast(from: &CqlType, to: &CqlType) -> bool {
    use CqlType as T;
    let native = |t: &CqlType| {
        !matches!(
            t,
            T::List(_)
                | T::Set(_)
                | T::Map(..)
                | T::Tuple(_)
                | T::Udt(_)
                | T::Frozen(_)
                | T::Vector(..)
                | T::Custom(_)
        )
    };
    if !native(from) || !native(to) {
        return false;
    }
    from == to
        || matches!(to, T::Ascii | T::Varchar)
        || (is_numeric(from) && is_numeric(to) && !matches!(to, T::Counter))
        || matches!(
            (from, to),
            (T::Timestamp, T::Date) | (T::Date, T::Timestamp) | (T::Timeuuid, T::Date | T::Timestamp)
        )
}

/// The text Cassandra's `CAST(x AS text)` produces (the type serializer's `toString`).
pub fn cast_text(value: &CqlValue) -> String {
    use CqlValue as V;
    match value {
        V::Ascii(s) | V::Text(s) => s.clone(),
        V::Bigint(v) | V::Counter(v) => v.to_string(),
        V::Int(v) => v.to_string(),
        V::Smallint(v) => v.to_string(),
        V::Tinyint(v) => v.to_string(),
        V::Varint(v) => v.to_string(),
        V::Decimal(d) => format_decimal(d),
        V::Double(v) => format_double(*v),
        V::Float(v) => format_float(*v),
        V::Boolean(b) => b.to_string(),
        V::Blob(b) => hex_bytes(b)[2..].to_string(),
        V::Timestamp(ms) => datetime::format_timestamp_iso(*ms),
        V::Date(d) => datetime::format_date(*d),
        V::Time(t) => datetime::format_time(*t),
        V::Uuid(u) | V::Timeuuid(u) => u.hyphenated().to_string(),
        V::Inet(a) => a.to_string(),
        V::Duration(d) => datetime::format_duration(d),
        V::Empty => String::new(),
        other => crate::literal::to_cql_literal(other),
    }
}

/// A numeric value in the widest forms needed to apply Java's narrowing conversions.
enum Number {
    Integer(BigInt),
    Float(f64),
    Decimal(BigDecimal),
}

fn as_number(value: &CqlValue) -> Option<Number> {
    Some(match value {
        CqlValue::Tinyint(v) => Number::Integer((*v).into()),
        CqlValue::Smallint(v) => Number::Integer((*v).into()),
        CqlValue::Int(v) => Number::Integer((*v).into()),
        CqlValue::Bigint(v) | CqlValue::Counter(v) => Number::Integer((*v).into()),
        CqlValue::Varint(v) => Number::Integer(v.clone()),
        CqlValue::Float(v) => Number::Float(f64::from(*v)),
        CqlValue::Double(v) => Number::Float(*v),
        CqlValue::Decimal(d) => Number::Decimal(d.clone()),
        _ => return None,
    })
}

/// Java's `longValue()`: integers keep their low 64 bits, floats saturate (NaN is 0), decimals truncate.
fn java_long(n: &Number) -> i64 {
    match n {
        Number::Integer(i) => low_bits(i),
        Number::Float(f) => *f as i64,
        Number::Decimal(d) => low_bits(
            &d.with_scale_round(0, RoundingMode::Down)
                .as_bigint_and_exponent()
                .0,
        ),
    }
}

/// Java's `intValue()`: like `longValue()` but floats saturate at 32 bits.
fn java_int(n: &Number) -> i32 {
    match n {
        Number::Float(f) => *f as i32,
        other => java_long(other) as i32,
    }
}

fn low_bits(i: &BigInt) -> i64 {
    let bytes = i.to_signed_bytes_le();
    let mut buf = [if i.sign() == bigdecimal::num_bigint::Sign::Minus {
        0xFF
    } else {
        0
    }; 8];
    for (b, src) in buf.iter_mut().zip(bytes) {
        *b = src;
    }
    i64::from_le_bytes(buf)
}

fn java_double(n: &Number) -> f64 {
    match n {
        Number::Integer(i) => i.to_f64().unwrap_or(f64::NAN),
        Number::Float(f) => *f,
        Number::Decimal(d) => d.to_f64().unwrap_or(f64::NAN),
    }
}

/// Applies `CAST(value AS to)` where `value` has type `from`, with Cassandra's conversions: Java's
/// wrapping/saturating numeric narrowing, `BigDecimal.valueOf(double)` for floats to decimal, the type's
/// string form for text, and date/timestamp/timeuuid conversions.
pub fn cast(value: &CqlValue, from: &CqlType, to: &CqlType) -> Result<CqlValue, CastError> {
    use CqlType as T;
    if !can_cast(from, to) {
        return Err(CastError(format!("Cannot cast a value of type {from} to {to}")));
    }
    if from == to || matches!(value, CqlValue::Empty) {
        return Ok(value.clone());
    }
    match to {
        T::Varchar => return Ok(CqlValue::Text(cast_text(value))),
        T::Ascii => {
            let text = cast_text(value);
            return if text.is_ascii() {
                Ok(CqlValue::Ascii(text))
            } else {
                Err(CastError(format!(
                    "Invalid ASCII character in string literal: {text}"
                )))
            };
        }
        T::Date => return to_date(value).ok_or_else(|| CastError("Cannot cast to date".into())),
        T::Timestamp => {
            return to_timestamp(value).ok_or_else(|| CastError("Cannot cast to timestamp".into()));
        }
        _ => {}
    }
    let n = as_number(value)
        .ok_or_else(|| CastError(format!("Cannot cast a {} value to {to}", value.kind_name())))?;
    Ok(match to {
        T::Tinyint => CqlValue::Tinyint(java_int(&n) as i8),
        T::Smallint => CqlValue::Smallint(java_int(&n) as i16),
        T::Int => CqlValue::Int(java_int(&n)),
        T::Bigint => CqlValue::Bigint(java_long(&n)),
        T::Float => CqlValue::Float(java_double(&n) as f32),
        T::Double => CqlValue::Double(java_double(&n)),
        T::Decimal => CqlValue::Decimal(match n {
            Number::Integer(i) => BigDecimal::new(i, 0),
            Number::Decimal(d) => d,
            Number::Float(f) => parse_decimal(&format_double(f))
                .ok_or_else(|| CastError(format!("Cannot convert {} to a decimal", format_double(f))))?,
        }),
        T::Varint => CqlValue::Varint(match n {
            Number::Integer(i) => i,
            Number::Decimal(d) => {
                d.with_scale_round(0, RoundingMode::Down)
                    .as_bigint_and_exponent()
                    .0
            }
            Number::Float(f) => parse_decimal(&format_double(f))
                .map(|d| {
                    d.with_scale_round(0, RoundingMode::Down)
                        .as_bigint_and_exponent()
                        .0
                })
                .ok_or_else(|| CastError(format!("Cannot convert {} to a varint", format_double(f))))?,
        }),
        _ => return Err(CastError(format!("Cannot cast to {to}"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::compare_timeuuid;
    use std::cmp::Ordering;

    #[test]
    fn timeuuid_timestamps() {
        // The Unix epoch is 0x01B21DD213814000 ticks after the UUID epoch.
        let epoch = Uuid::parse_str("13814000-1dd2-11b2-8000-000000000000").unwrap();
        assert_eq!(timeuuid_to_millis(&epoch), 0);
        assert_eq!(timeuuid_from_ticks(timeuuid_ticks(&epoch), 1 << 63), epoch);
        let u = Uuid::parse_str("50554d6e-29bb-11e5-b345-feff819cdc9f").unwrap();
        let ms = timeuuid_to_millis(&u);
        assert_eq!(datetime::format_timestamp_iso(ms), "2015-07-14T00:00:18.805Z");
        assert_eq!(
            to_timestamp(&CqlValue::Timeuuid(u)),
            Some(CqlValue::Timestamp(ms))
        );
        assert_eq!(
            to_unix_timestamp(&CqlValue::Timeuuid(u)),
            Some(CqlValue::Bigint(ms))
        );
        assert_eq!(
            to_date(&CqlValue::Timeuuid(u)),
            Some(CqlValue::Date(DATE_EPOCH + 16_630))
        );
        let (lo, hi) = (min_timeuuid(ms), max_timeuuid(ms));
        assert_eq!(
            (
                lo.get_version_num(),
                timeuuid_to_millis(&lo),
                timeuuid_to_millis(&hi)
            ),
            (1, ms, ms)
        );
        assert_eq!(compare_timeuuid(&lo, &u), Ordering::Less);
        assert_eq!(compare_timeuuid(&u, &hi), Ordering::Less);
        assert_eq!(compare_timeuuid(&hi, &min_timeuuid(ms + 1)), Ordering::Less);
        assert_eq!(timeuuid_to_micros(&lo), ms * 1000);
    }

    #[test]
    fn generator_is_strictly_increasing() {
        let g = TimeuuidGenerator::new(0x1234, 0xABCDEF);
        let a = g.generate_at(1000);
        let b = g.generate_at(1000);
        let c = g.generate_at(999);
        assert_eq!(compare_timeuuid(&a, &b), Ordering::Less);
        assert_eq!(compare_timeuuid(&b, &c), Ordering::Less);
        assert_eq!(timeuuid_to_millis(&a), 1000);
        assert_eq!(a.get_version_num(), 1);
        assert_eq!(a.get_variant(), uuid::Variant::RFC4122);
        let (x, y) = (now_timeuuid(), now_timeuuid());
        assert_eq!(compare_timeuuid(&x, &y), Ordering::Less);
        assert!((timeuuid_to_millis(&x) - now_millis()).abs() < 60_000);
    }

    #[test]
    fn dates_and_timestamps() {
        let day = 86_400_000;
        assert_eq!(
            to_date(&CqlValue::Timestamp(day + 5)),
            Some(CqlValue::Date(DATE_EPOCH + 1))
        );
        assert_eq!(
            to_date(&CqlValue::Timestamp(-1)),
            Some(CqlValue::Date(DATE_EPOCH - 1))
        );
        assert_eq!(
            to_timestamp(&CqlValue::Date(DATE_EPOCH + 2)),
            Some(CqlValue::Timestamp(2 * day))
        );
        assert_eq!(
            to_unix_timestamp(&CqlValue::Date(DATE_EPOCH)),
            Some(CqlValue::Bigint(0))
        );
        assert_eq!(to_date(&CqlValue::Int(1)), None);
    }

    #[test]
    fn casts() {
        let c = |v: CqlValue, from: CqlType, to: CqlType| cast(&v, &from, &to).unwrap();
        assert_eq!(
            c(CqlValue::Int(300), CqlType::Int, CqlType::Tinyint),
            CqlValue::Tinyint(44)
        );
        assert_eq!(
            c(CqlValue::Double(3.9), CqlType::Double, CqlType::Int),
            CqlValue::Int(3)
        );
        assert_eq!(
            c(CqlValue::Double(-3.9), CqlType::Double, CqlType::Bigint),
            CqlValue::Bigint(-3)
        );
        assert_eq!(
            c(CqlValue::Double(1e20), CqlType::Double, CqlType::Int),
            CqlValue::Int(i32::MAX)
        );
        assert_eq!(
            c(CqlValue::Double(f64::NAN), CqlType::Double, CqlType::Int),
            CqlValue::Int(0)
        );
        assert_eq!(
            c(CqlValue::Bigint(1 << 32 | 5), CqlType::Bigint, CqlType::Int),
            CqlValue::Int(5)
        );
        assert_eq!(
            c(CqlValue::Float(1.1), CqlType::Float, CqlType::Decimal),
            CqlValue::Decimal(parse_decimal("1.100000023841858").unwrap())
        );
        assert_eq!(
            c(
                CqlValue::Decimal(parse_decimal("-7.9").unwrap()),
                CqlType::Decimal,
                CqlType::Varint
            ),
            CqlValue::Varint((-7).into())
        );
        assert_eq!(
            c(
                CqlValue::Varint(BigInt::from(1u64 << 40) + 7),
                CqlType::Varint,
                CqlType::Int
            ),
            CqlValue::Int(7)
        );
        assert_eq!(
            c(CqlValue::Int(5), CqlType::Int, CqlType::Double),
            CqlValue::Double(5.0)
        );
        assert_eq!(
            c(CqlValue::Int(5), CqlType::Int, CqlType::Varchar),
            CqlValue::Text("5".into())
        );
        assert_eq!(
            c(CqlValue::Double(2.0), CqlType::Double, CqlType::Ascii),
            CqlValue::Ascii("2.0".into())
        );
        assert_eq!(
            c(CqlValue::Timestamp(0), CqlType::Timestamp, CqlType::Varchar),
            CqlValue::Text("1970-01-01T00:00:00.000Z".into())
        );
        assert_eq!(
            c(CqlValue::Blob(vec![0xAB]), CqlType::Blob, CqlType::Varchar),
            CqlValue::Text("ab".into())
        );
        assert_eq!(
            c(CqlValue::Timestamp(86_400_000), CqlType::Timestamp, CqlType::Date),
            CqlValue::Date(DATE_EPOCH + 1)
        );
        assert_eq!(
            c(CqlValue::Boolean(true), CqlType::Boolean, CqlType::Varchar),
            CqlValue::Text("true".into())
        );
        assert!(cast(&CqlValue::Text("1".into()), &CqlType::Varchar, &CqlType::Int).is_err());
        assert!(cast(&CqlValue::Double(f64::NAN), &CqlType::Double, &CqlType::Decimal).is_err());
        assert!(!can_cast(&CqlType::Boolean, &CqlType::Int));
        assert!(!can_cast(
            &CqlType::List(Box::new(CqlType::Int)),
            &CqlType::Varchar
        ));
    }
}
