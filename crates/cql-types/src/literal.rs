//! CQL literal text: parsing constants of a statement into values of a target type (Cassandra's
//! `Constants.Literal` and `AbstractType.fromString`), and printing values as CQL literals.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use bigdecimal::BigDecimal;
use bigdecimal::num_bigint::{BigInt, Sign};
use uuid::Uuid;

use crate::datetime;
use crate::types::{CqlType, quote_identifier};
use crate::value::CqlValue;
use crate::wire::{MarshalError, allows_empty, hex_bytes};

/// The lexical kind of a CQL constant, named as in Cassandra's error messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LiteralKind {
    String,
    Integer,
    Float,
    Boolean,
    Uuid,
    Hex,
    Duration,
}

impl fmt::Display for LiteralKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LiteralKind::String => "STRING",
            LiteralKind::Integer => "INTEGER",
            LiteralKind::Float => "FLOAT",
            LiteralKind::Boolean => "BOOLEAN",
            LiteralKind::Uuid => "UUID",
            LiteralKind::Hex => "HEX",
            LiteralKind::Duration => "DURATION",
        })
    }
}

/// Why a constant could not be converted to the receiver's type.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum LiteralError {
    /// The constant's kind cannot be assigned to the type at all (e.g. a string for an int column).
    #[error("Invalid {kind} constant ({text}) for type {ty}")]
    NotAssignable {
        kind: LiteralKind,
        text: String,
        ty: CqlType,
    },
    /// The kind fits but the text is not a valid value (e.g. an out-of-range int).
    #[error(transparent)]
    Invalid(#[from] MarshalError),
}

impl LiteralError {
    /// The message Cassandra gives when the constant is bound to column (or bind marker) `receiver`,
    /// e.g. `Invalid STRING constant (foo) for "k" of type int`.
    pub fn message_for(&self, receiver: &str) -> String {
        match self {
            LiteralError::NotAssignable { kind, text, ty } => {
                format!("Invalid {kind} constant ({text}) for \"{receiver}\" of type {ty}")
            }
            LiteralError::Invalid(e) => e.0.clone(),
        }
    }
}

/// True when a constant of `kind` may be assigned to `ty` (Cassandra's `Constants.Type.testAssignment`).
pub fn is_assignable(kind: LiteralKind, ty: &CqlType) -> bool {
    use CqlType as T;
    let ty = ty.unfrozen();
    match kind {
        LiteralKind::String => {
            matches!(
                ty,
                T::Ascii | T::Varchar | T::Inet | T::Date | T::Time | T::Timestamp | T::Custom(_)
            )
        }
        LiteralKind::Integer => matches!(
            ty,
            T::Bigint
                | T::Counter
                | T::Date
                | T::Decimal
                | T::Double
                | T::Float
                | T::Int
                | T::Smallint
                | T::Time
                | T::Timestamp
                | T::Tinyint
                | T::Varint
                | T::Custom(_)
        ),
        LiteralKind::Float => matches!(ty, T::Decimal | T::Double | T::Float | T::Custom(_)),
        LiteralKind::Boolean => matches!(ty, T::Boolean | T::Custom(_)),
        LiteralKind::Uuid => matches!(ty, T::Uuid | T::Timeuuid | T::Custom(_)),
        LiteralKind::Hex => matches!(ty, T::Blob | T::Custom(_)),
        LiteralKind::Duration => matches!(ty, T::Duration | T::Custom(_)),
    }
}

/// Converts a constant of the given lexical kind (its text without quotes; `''` already unescaped) into a
/// value of `ty`, applying Cassandra's assignability rules first.
pub fn parse_literal(kind: LiteralKind, text: &str, ty: &CqlType) -> Result<CqlValue, LiteralError> {
    if !is_assignable(kind, ty) {
        return Err(LiteralError::NotAssignable {
            kind,
            text: text.to_string(),
            ty: ty.clone(),
        });
    }
    let value = match (kind, ty.unfrozen()) {
        (LiteralKind::Hex, _) => {
            let digits = text
                .strip_prefix("0x")
                .or_else(|| text.strip_prefix("0X"))
                .unwrap_or(text);
            CqlValue::Blob(
                parse_hex(digits)
                    .ok_or_else(|| MarshalError(format!("cannot parse '{text}' as hex bytes")))?,
            )
        }
        (_, CqlType::Custom(_)) => {
            return Err(MarshalError(format!("Cannot parse '{text}' for a custom type")).into());
        }
        (_, ty) => from_string(ty, text)?,
    };
    Ok(value)
}

/// Parses lower- or upper-case hex digits (no prefix) into bytes.
pub fn parse_hex(digits: &str) -> Option<Vec<u8>> {
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(digits.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Java's `Integer.parseInt`-style syntax: optional sign, then ASCII digits only.
fn is_java_integer(text: &str) -> bool {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

fn parse_java_int<T: FromStr>(text: &str) -> Option<T> {
    if is_java_integer(text) {
        text.strip_prefix('+').unwrap_or(text).parse().ok()
    } else {
        None
    }
}

/// Parses the string form of a value, as Cassandra's `AbstractType.fromString` does (used for string
/// constants, JSON strings and text conversions). An empty string gives an empty value for the types
/// that allow one.
pub fn from_string(ty: &CqlType, text: &str) -> Result<CqlValue, MarshalError> {
    use CqlType as T;
    let ty = ty.unfrozen();
    if text.is_empty() && allows_empty(ty) {
        return Ok(CqlValue::Empty);
    }
    let fail = |what: &str| MarshalError(format!("Unable to make {what} from '{text}'"));
    Ok(match ty {
        T::Ascii => {
            if !text.is_ascii() {
                return Err(MarshalError(format!(
                    "Invalid ASCII character in string literal: {text}"
                )));
            }
            CqlValue::Ascii(text.to_string())
        }
        T::Varchar => CqlValue::Text(text.to_string()),
        T::Int => CqlValue::Int(parse_java_int(text).ok_or_else(|| fail("int"))?),
        T::Bigint => CqlValue::Bigint(parse_java_int(text).ok_or_else(|| fail("long"))?),
        T::Counter => CqlValue::Counter(parse_java_int(text).ok_or_else(|| fail("long"))?),
        T::Smallint => CqlValue::Smallint(parse_java_int(text).ok_or_else(|| fail("short"))?),
        T::Tinyint => CqlValue::Tinyint(parse_java_int(text).ok_or_else(|| fail("byte"))?),
        T::Varint => CqlValue::Varint(
            parse_java_int(text).ok_or_else(|| MarshalError(format!("unable to make int from '{text}'")))?,
        ),
        T::Decimal => CqlValue::Decimal(
            parse_decimal(text)
                .ok_or_else(|| MarshalError(format!("unable to make BigDecimal from '{text}'")))?,
        ),
        T::Float => CqlValue::Float(parse_java_float(text).ok_or_else(|| fail("float"))?),
        T::Double => CqlValue::Double(parse_java_float(text).ok_or_else(|| fail("double"))?),
        T::Boolean => match text.to_ascii_lowercase().as_str() {
            "true" => CqlValue::Boolean(true),
            "false" => CqlValue::Boolean(false),
            _ => return Err(fail("boolean")),
        },
        T::Uuid => CqlValue::Uuid(parse_uuid(text).ok_or_else(|| fail("UUID"))?),
        T::Timeuuid => {
            let u = parse_uuid(text)
                .ok_or_else(|| MarshalError(format!("Unknown timeuuid representation: {text}")))?;
            if u.get_version_num() != 1 {
                return Err(MarshalError("TimeUUID supports only version 1 UUIDs".into()));
            }
            CqlValue::Timeuuid(u)
        }
        T::Blob | T::Custom(_) => {
            let digits = text.strip_prefix("0x").unwrap_or(text);
            CqlValue::Blob(
                parse_hex(digits)
                    .ok_or_else(|| MarshalError(format!("cannot parse '{text}' as hex bytes")))?,
            )
        }
        T::Inet => CqlValue::Inet(text.trim().parse::<IpAddr>().map_err(|_| fail("inet address"))?),
        T::Timestamp => CqlValue::Timestamp(datetime::parse_timestamp(text).map_err(MarshalError)?),
        T::Date => CqlValue::Date(datetime::parse_date(text).map_err(MarshalError)?),
        T::Time => CqlValue::Time(datetime::parse_time(text).map_err(MarshalError)?),
        T::Duration => CqlValue::Duration(datetime::parse_duration(text).map_err(MarshalError)?),
        T::List(_) | T::Set(_) | T::Map(..) | T::Tuple(_) | T::Udt(_) | T::Vector(..) | T::Frozen(_) => {
            return Err(MarshalError(format!(
                "Cannot parse '{text}' as a value of type {ty}"
            )));
        }
    })
}

/// Parses a decimal with Java `BigDecimal` syntax (`1.5`, `-3`, `1.5e10`, `.5`).
pub fn parse_decimal(text: &str) -> Option<BigDecimal> {
    let body = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits_ok = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int_part.len() + frac_part.len() == 0 || !digits_ok(int_part) || !digits_ok(frac_part) {
        return None;
    }
    let exponent: i64 = match exponent {
        Some(e) if is_java_integer(e) => e.strip_prefix('+').unwrap_or(e).parse().ok()?,
        Some(_) => return None,
        None => 0,
    };
    let unscaled = BigInt::from_str(&format!("{int_part}{frac_part}")).ok()?;
    let unscaled = if text.starts_with('-') {
        -unscaled
    } else {
        unscaled
    };
    let scale = i64::try_from(frac_part.len()).ok()?.checked_sub(exponent)?;
    Some(BigDecimal::new(unscaled, scale))
}

/// Parses a floating-point number the way Java's `Double.parseDouble` does for the forms CQL uses
/// (decimal and exponent notation, `NaN`, `Infinity`, `-Infinity`).
fn parse_java_float<T: FromStr>(text: &str) -> Option<T> {
    let t = text.trim();
    let body = t.strip_prefix(['-', '+']).unwrap_or(t);
    let valid = matches!(body, "NaN" | "Infinity")
        || (!body.is_empty()
            && body
                .bytes()
                .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+')));
    if valid { t.parse().ok() } else { None }
}

/// Parses the canonical 8-4-4-4-12 hex form of a UUID.
pub fn parse_uuid(text: &str) -> Option<Uuid> {
    const UUID_TEXT_LEN: usize = 36;
    (text.len() == UUID_TEXT_LEN)
        .then(|| Uuid::parse_str(text).ok())
        .flatten()
}

// ---------------------------------------------------------------------------------------------
// Number formatting shared by literals and JSON.
// ---------------------------------------------------------------------------------------------

/// Formats shortest round-trip digits the way Java's `Double.toString`/`Float.toString` lays them out:
/// plain notation for magnitudes in [1e-3, 1e7), otherwise `d.dddE[-]n`.
fn java_float_text(scientific: String, is_nan: bool, is_infinite: bool, negative: bool) -> String {
    if is_nan {
        return "NaN".into();
    }
    if is_infinite {
        return if negative { "-Infinity" } else { "Infinity" }.into();
    }
    // `scientific` is Rust's `{:e}` output, e.g. "-1.2345e-5" or "0e0".
    let (mantissa, exp) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let sign = if mantissa.starts_with('-') { "-" } else { "" };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if digits.bytes().all(|b| b == b'0') {
        return format!("{sign}0.0");
    }
    if (-3..7).contains(&exp) {
        if exp >= 0 {
            let int_len = exp as usize + 1;
            let padded = format!("{digits:0<int_len$}");
            let (int_part, frac) = padded.split_at(int_len);
            format!("{sign}{int_part}.{}", if frac.is_empty() { "0" } else { frac })
        } else {
            format!("{sign}0.{}{digits}", "0".repeat((-exp - 1) as usize))
        }
    } else {
        let (first, rest) = digits.split_at(1);
        format!("{sign}{first}.{}E{exp}", if rest.is_empty() { "0" } else { rest })
    }
}

/// Java `Double.toString` text of a double.
pub fn format_double(v: f64) -> String {
    java_float_text(format!("{v:e}"), v.is_nan(), v.is_infinite(), v < 0.0)
}

/// Java `Float.toString` text of a float.
pub fn format_float(v: f32) -> String {
    java_float_text(format!("{v:e}"), v.is_nan(), v.is_infinite(), v < 0.0)
}

/// Java `BigDecimal.toString` text: plain notation unless the scale is negative or the number is very
/// small, in which case `1.23E+5`-style scientific notation is used.
pub fn format_decimal(d: &BigDecimal) -> String {
    let (unscaled, scale) = d.as_bigint_and_exponent();
    let sign = if unscaled.sign() == Sign::Minus { "-" } else { "" };
    let digits = unscaled.magnitude().to_string();
    let adjusted = -scale + (digits.len() as i64 - 1);
    if scale >= 0 && adjusted >= -6 {
        let scale = scale as usize;
        if scale == 0 {
            return format!("{sign}{digits}");
        }
        if digits.len() > scale {
            let (int_part, frac) = digits.split_at(digits.len() - scale);
            return format!("{sign}{int_part}.{frac}");
        }
        return format!("{sign}0.{}{digits}", "0".repeat(scale - digits.len()));
    }
    let (first, rest) = digits.split_at(1);
    let dot = if rest.is_empty() {
        String::new()
    } else {
        format!(".{rest}")
    };
    let exp_sign = if adjusted >= 0 { "+" } else { "" };
    format!("{sign}{first}{dot}E{exp_sign}{adjusted}")
}

fn quote_string(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The CQL literal text of a value, as DESCRIBE and system tables print it: strings quoted with `''`
/// escaping, blobs as `0x..`, timestamps as `'2024-01-02 03:04:05.678000+0000'`, collections with
/// `[..]`, `{..}` and `{k: v}`, tuples as `(..)` and UDTs as `{field: value}`.
pub fn to_cql_literal(value: &CqlValue) -> String {
    let mut out = String::new();
    write_literal(value, &mut out);
    out
}

fn write_optional_literal(value: Option<&CqlValue>, out: &mut String) {
    match value {
        Some(v) => write_literal(v, out),
        None => out.push_str("null"),
    }
}

fn write_joined<T>(
    items: &[T],
    open: &str,
    close: &str,
    out: &mut String,
    mut each: impl FnMut(&T, &mut String),
) {
    out.push_str(open);
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        each(item, out);
    }
    out.push_str(close);
}

fn write_literal(value: &CqlValue, out: &mut String) {
    use CqlValue as V;
    let text = match value {
        V::Ascii(s) | V::Text(s) => quote_string(s),
        V::Bigint(v) | V::Counter(v) => v.to_string(),
        V::Blob(b) => hex_bytes(b),
        V::Boolean(b) => b.to_string(),
        V::Decimal(d) => format_decimal(d),
        V::Double(v) => format_double(*v),
        V::Float(v) => format_float(*v),
        V::Int(v) => v.to_string(),
        V::Timestamp(ms) => quote_string(&datetime::format_timestamp_cqlsh(*ms)),
        V::Uuid(u) | V::Timeuuid(u) => u.hyphenated().to_string(),
        V::Varint(v) => v.to_string(),
        V::Inet(a) => quote_string(&a.to_string()),
        V::Date(d) => quote_string(&datetime::format_date(*d)),
        V::Time(t) => quote_string(&datetime::format_time(*t)),
        V::Smallint(v) => v.to_string(),
        V::Tinyint(v) => v.to_string(),
        V::Duration(d) => {
            let s = datetime::format_duration(d);
            if s.is_empty() { "0s".into() } else { s }
        }
        V::List(items) | V::Vector(items) => return write_joined(items, "[", "]", out, write_literal),
        V::Set(items) => return write_joined(items, "{", "}", out, write_literal),
        V::Map(entries) => {
            return write_joined(entries, "{", "}", out, |(k, v), o| {
                write_literal(k, o);
                o.push_str(": ");
                write_literal(v, o);
            });
        }
        V::Tuple(items) => {
            return write_joined(items, "(", ")", out, |v, o| write_optional_literal(v.as_ref(), o));
        }
        V::Udt(fields) => {
            return write_joined(fields, "{", "}", out, |(name, v), o| {
                o.push_str(&quote_identifier(name));
                o.push_str(": ");
                write_optional_literal(v.as_ref(), o);
            });
        }
        V::Empty => "''".into(),
    };
    out.push_str(&text);
}

impl fmt::Display for CqlValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&to_cql_literal(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::CqlDuration;
    use crate::wire::{deserialize, to_bytes};

    fn lit(kind: LiteralKind, text: &str, ty: &CqlType) -> CqlValue {
        parse_literal(kind, text, ty).unwrap_or_else(|e| panic!("{text} as {ty}: {e}"))
    }

    #[test]
    fn integer_literals() {
        use LiteralKind::Integer;
        assert_eq!(lit(Integer, "42", &CqlType::Int), CqlValue::Int(42));
        assert_eq!(lit(Integer, "-42", &CqlType::Bigint), CqlValue::Bigint(-42));
        assert_eq!(lit(Integer, "7", &CqlType::Counter), CqlValue::Counter(7));
        assert_eq!(lit(Integer, "-128", &CqlType::Tinyint), CqlValue::Tinyint(-128));
        assert_eq!(lit(Integer, "300", &CqlType::Smallint), CqlValue::Smallint(300));
        assert_eq!(lit(Integer, "3", &CqlType::Double), CqlValue::Double(3.0));
        assert_eq!(lit(Integer, "3", &CqlType::Float), CqlValue::Float(3.0));
        assert_eq!(
            lit(Integer, "1000", &CqlType::Timestamp),
            CqlValue::Timestamp(1000)
        );
        assert_eq!(
            lit(Integer, "2147483648", &CqlType::Date),
            CqlValue::Date(1 << 31)
        );
        assert_eq!(lit(Integer, "5", &CqlType::Time), CqlValue::Time(5));
        assert_eq!(
            lit(Integer, "123456789012345678901234567890", &CqlType::Varint),
            CqlValue::Varint("123456789012345678901234567890".parse().unwrap())
        );
        assert_eq!(
            lit(Integer, "12", &CqlType::Decimal),
            CqlValue::Decimal(BigDecimal::from(12))
        );
        let err = parse_literal(Integer, "3000000000", &CqlType::Int).unwrap_err();
        assert_eq!(err.to_string(), "Unable to make int from '3000000000'");
        let err = parse_literal(Integer, "128", &CqlType::Tinyint).unwrap_err();
        assert_eq!(err.to_string(), "Unable to make byte from '128'");
        let err = parse_literal(Integer, "1", &CqlType::Varchar).unwrap_err();
        assert_eq!(
            err.message_for("v"),
            "Invalid INTEGER constant (1) for \"v\" of type text"
        );
        assert!(matches!(
            parse_literal(Integer, "1", &CqlType::Blob),
            Err(LiteralError::NotAssignable { .. })
        ));
    }

    #[test]
    fn string_literals() {
        use LiteralKind::String as S;
        assert_eq!(lit(S, "it's", &CqlType::Varchar), CqlValue::Text("it's".into()));
        assert_eq!(lit(S, "abc", &CqlType::Ascii), CqlValue::Ascii("abc".into()));
        assert!(parse_literal(S, "é", &CqlType::Ascii).is_err());
        assert_eq!(
            lit(S, "2011-02-03", &CqlType::Timestamp),
            CqlValue::Timestamp(1_296_691_200_000)
        );
        assert_eq!(
            lit(S, "2011-02-03T04:05:00.000Z", &CqlType::Timestamp),
            CqlValue::Timestamp(1_296_705_900_000)
        );
        assert_eq!(
            lit(S, "1970-01-02", &CqlType::Date),
            CqlValue::Date((1 << 31) + 1)
        );
        assert_eq!(
            lit(S, "00:00:01.5", &CqlType::Time),
            CqlValue::Time(1_500_000_000)
        );
        assert_eq!(
            lit(S, "::1", &CqlType::Inet),
            CqlValue::Inet("::1".parse().unwrap())
        );
        assert_eq!(
            lit(S, "10.0.0.1", &CqlType::Inet),
            CqlValue::Inet("10.0.0.1".parse().unwrap())
        );
        let err = parse_literal(S, "foo", &CqlType::Int).unwrap_err();
        assert_eq!(
            err.message_for("k"),
            "Invalid STRING constant (foo) for \"k\" of type int"
        );
        assert!(parse_literal(S, "abc", &CqlType::Uuid).is_err());
        assert_eq!(
            parse_literal(S, "nope", &CqlType::Inet).unwrap_err().to_string(),
            "Unable to make inet address from 'nope'"
        );
    }

    #[test]
    fn other_literals() {
        let u = "550e8400-e29b-41d4-a716-446655440000";
        assert_eq!(
            lit(LiteralKind::Uuid, u, &CqlType::Uuid),
            CqlValue::Uuid(Uuid::parse_str(u).unwrap())
        );
        assert_eq!(
            parse_literal(LiteralKind::Uuid, u, &CqlType::Timeuuid)
                .unwrap_err()
                .to_string(),
            "TimeUUID supports only version 1 UUIDs"
        );
        let t = "50554d6e-29bb-11e5-b345-feff819cdc9f";
        assert_eq!(
            lit(LiteralKind::Uuid, t, &CqlType::Timeuuid),
            CqlValue::Timeuuid(Uuid::parse_str(t).unwrap())
        );
        assert_eq!(
            lit(LiteralKind::Hex, "0xCAFE", &CqlType::Blob),
            CqlValue::Blob(vec![0xCA, 0xFE])
        );
        assert_eq!(
            lit(LiteralKind::Hex, "0x", &CqlType::Blob),
            CqlValue::Blob(vec![])
        );
        assert!(parse_literal(LiteralKind::Hex, "0xABC", &CqlType::Blob).is_err());
        assert_eq!(
            lit(LiteralKind::Boolean, "TRUE", &CqlType::Boolean),
            CqlValue::Boolean(true)
        );
        assert_eq!(
            lit(LiteralKind::Float, "1.5e3", &CqlType::Double),
            CqlValue::Double(1500.0)
        );
        assert_eq!(
            lit(LiteralKind::Float, "-Infinity", &CqlType::Float),
            CqlValue::Float(f32::NEG_INFINITY)
        );
        assert!(
            matches!(lit(LiteralKind::Float, "NaN", &CqlType::Double), CqlValue::Double(v) if v.is_nan())
        );
        assert!(parse_literal(LiteralKind::Float, "1.5", &CqlType::Int).is_err());
        assert_eq!(
            lit(LiteralKind::Float, "1.50", &CqlType::Decimal),
            CqlValue::Decimal(BigDecimal::new(150.into(), 2))
        );
        assert_eq!(
            lit(LiteralKind::Duration, "1h30m", &CqlType::Duration),
            CqlValue::Duration(CqlDuration {
                months: 0,
                days: 0,
                nanos: 5_400_000_000_000
            })
        );
        assert!(parse_literal(LiteralKind::Duration, "1h", &CqlType::Int).is_err());
    }

    #[test]
    fn from_string_covers_all_scalars() {
        assert_eq!(from_string(&CqlType::Int, "").unwrap(), CqlValue::Empty);
        assert_eq!(
            from_string(&CqlType::Varint, "+12").unwrap(),
            CqlValue::Varint(12.into())
        );
        assert_eq!(
            from_string(&CqlType::Blob, "0a0B").unwrap(),
            CqlValue::Blob(vec![10, 11])
        );
        assert_eq!(
            from_string(&CqlType::Boolean, "false").unwrap(),
            CqlValue::Boolean(false)
        );
        assert_eq!(
            from_string(&CqlType::Decimal, "-.5").unwrap(),
            CqlValue::Decimal(BigDecimal::new((-5).into(), 1))
        );
        assert_eq!(
            from_string(&CqlType::Decimal, "1E+3").unwrap(),
            CqlValue::Decimal(BigDecimal::new(1.into(), -3))
        );
        assert!(from_string(&CqlType::Decimal, "1.2.3").is_err());
        assert!(from_string(&CqlType::Double, "inf").is_err());
        assert!(from_string(&CqlType::List(Box::new(CqlType::Int)), "[1]").is_err());
    }

    #[test]
    fn number_formatting() {
        for (v, s) in [
            (1.0, "1.0"),
            (-1.5, "-1.5"),
            (0.001, "0.001"),
            (0.0001, "1.0E-4"),
            (1e7, "1.0E7"),
            (1234567.0, "1234567.0"),
            (1.2345e20, "1.2345E20"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-Infinity"),
        ] {
            assert_eq!(format_double(v), s);
        }
        assert_eq!(format_float(0.1), "0.1");
        assert_eq!(format_float(3.4e38), "3.4E38");
        for (u, scale, s) in [
            (15, 1, "1.5"),
            (-15, 3, "-0.015"),
            (1, -3, "1E+3"),
            (123, -2, "1.23E+4"),
            (5, 0, "5"),
            (1, 7, "1E-7"),
            (100, 2, "1.00"),
        ] {
            assert_eq!(format_decimal(&BigDecimal::new(u.into(), scale)), s);
        }
    }

    #[test]
    fn cql_literals() {
        let ts = CqlValue::Timestamp(1_704_164_645_678);
        assert_eq!(to_cql_literal(&ts), "'2024-01-02 03:04:05.678000+0000'");
        assert_eq!(to_cql_literal(&CqlValue::Text("it's".into())), "'it''s'");
        assert_eq!(to_cql_literal(&CqlValue::Blob(vec![0xCA, 0xFE])), "0xcafe");
        let map = CqlValue::Map(vec![(CqlValue::Text("a".into()), CqlValue::Int(1))]);
        assert_eq!(to_cql_literal(&map), "{'a': 1}");
        let tuple = CqlValue::Tuple(vec![Some(CqlValue::Int(1)), None]);
        assert_eq!(to_cql_literal(&tuple), "(1, null)");
        let udt = CqlValue::Udt(vec![
            ("Street".into(), Some(CqlValue::Ascii("x".into()))),
            ("zip".into(), None),
        ]);
        assert_eq!(to_cql_literal(&udt), "{\"Street\": 'x', zip: null}");
        let set = CqlValue::Set(vec![CqlValue::Double(1.0), CqlValue::Double(f64::INFINITY)]);
        assert_eq!(to_cql_literal(&set), "{1.0, Infinity}");
        assert_eq!(to_cql_literal(&CqlValue::Date(1 << 31)), "'1970-01-01'");
        assert_eq!(to_cql_literal(&CqlValue::Time(1)), "'00:00:00.000000001'");
        assert_eq!(to_cql_literal(&CqlValue::Inet("::1".parse().unwrap())), "'::1'");
        let dur = CqlValue::Duration(CqlDuration {
            months: 0,
            days: 0,
            nanos: 0,
        });
        assert_eq!(to_cql_literal(&dur), "0s");
    }

    /// Every scalar value survives literal printing and re-parsing through the matching literal kind.
    #[test]
    fn literal_round_trips() {
        let mut rng = crate::testutil::Rng(11);
        let kind_of = |ty: &CqlType| match ty {
            CqlType::Ascii
            | CqlType::Varchar
            | CqlType::Inet
            | CqlType::Timestamp
            | CqlType::Date
            | CqlType::Time => LiteralKind::String,
            CqlType::Blob => LiteralKind::Hex,
            CqlType::Boolean => LiteralKind::Boolean,
            CqlType::Uuid | CqlType::Timeuuid => LiteralKind::Uuid,
            CqlType::Duration => LiteralKind::Duration,
            CqlType::Double | CqlType::Float | CqlType::Decimal => LiteralKind::Float,
            _ => LiteralKind::Integer,
        };
        for _ in 0..3000 {
            let ty = crate::testutil::random_type(&mut rng, 2);
            let value = crate::testutil::random_value(&mut rng, &ty);
            if value == CqlValue::Empty
                || matches!(ty, CqlType::Timestamp if !(-(1i64 << 50)..(1 << 50)).contains(&value.as_i64().unwrap_or(0)))
            {
                continue;
            }
            let text = to_cql_literal(&value);
            let kind = kind_of(&ty);
            let body = match kind {
                LiteralKind::String => text[1..text.len() - 1].replace("''", "'"),
                _ => text.clone(),
            };
            let kind =
                if matches!(body.as_str(), "NaN" | "Infinity" | "-Infinity") || kind != LiteralKind::Float {
                    kind
                } else if body.contains(['.', 'E']) {
                    LiteralKind::Float
                } else {
                    LiteralKind::Integer
                };
            let back = parse_literal(kind, &body, &ty).unwrap_or_else(|e| panic!("{ty}: {text}: {e}"));
            assert_eq!(
                to_bytes(&back, &ty).unwrap(),
                to_bytes(&value, &ty).unwrap(),
                "{ty}: {text}"
            );
            assert!(deserialize(&ty, &to_bytes(&back, &ty).unwrap()).is_ok());
        }
    }
}
