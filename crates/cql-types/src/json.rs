//! JSON text of values as `SELECT JSON` prints them, and values from the JSON that `INSERT JSON` and
//! `fromJson()` accept (Cassandra's `toJSONString` / `fromJSONObject`).

use std::net::IpAddr;

use bigdecimal::num_bigint::BigInt;
use serde_json::Value as Json;

use crate::compare::normalize;
use crate::datetime;
use crate::literal::{format_decimal, format_double, format_float, from_string, parse_decimal};
use crate::types::CqlType;
use crate::value::CqlValue;
use crate::wire::{MarshalError, hex_bytes};

fn json_string(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// The JSON object key Cassandra uses for a column or UDT field: names that are not all lower case are
/// wrapped in (escaped) double quotes, like `"\"MyCol\""`.
pub fn json_key_name(name: &str) -> String {
    if name == name.to_lowercase() {
        json_string(name)
    } else {
        json_string(&format!("\"{name}\""))
    }
}

/// Builds the `[json]` column text of a `SELECT JSON` row from `(column name, JSON value text)` pairs.
pub fn json_row<'a>(columns: impl IntoIterator<Item = (&'a str, String)>) -> String {
    let parts: Vec<String> = columns
        .into_iter()
        .map(|(name, value)| format!("{}: {value}", json_key_name(name)))
        .collect();
    format!("{{{}}}", parts.join(", "))
}

/// Java's `InetAddress.getHostAddress`: IPv6 without zero compression, IPv4-mapped shown as IPv4.
fn java_host_address(addr: &IpAddr) -> String {
    match addr {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => a
                .segments()
                .iter()
                .map(|s| format!("{s:x}"))
                .collect::<Vec<_>>()
                .join(":"),
        },
    }
}

/// JSON text for an optional value (`null` for `None`).
pub fn to_json_optional(value: Option<&CqlValue>, ty: &CqlType) -> String {
    value.map_or_else(|| "null".to_string(), |v| to_json(v, ty))
}

/// The JSON text of a value of type `ty`, exactly as Cassandra's `SELECT JSON` prints it.
pub fn to_json(value: &CqlValue, ty: &CqlType) -> String {
    use CqlValue as V;
    let ty = ty.unfrozen();
    let join = |items: Vec<String>, open: &str, close: &str| format!("{open}{}{close}", items.join(", "));
    match value {
        V::Empty => "null".into(),
        V::Ascii(s) | V::Text(s) => json_string(s),
        V::Bigint(v) | V::Counter(v) => v.to_string(),
        V::Int(v) => v.to_string(),
        V::Smallint(v) => v.to_string(),
        V::Tinyint(v) => v.to_string(),
        V::Varint(v) => v.to_string(),
        V::Decimal(d) => format_decimal(d),
        V::Double(v) => format_double(*v),
        V::Float(v) => format_float(*v),
        V::Boolean(b) => b.to_string(),
        V::Blob(b) => json_string(&hex_bytes(b)),
        V::Timestamp(ms) => json_string(&datetime::format_timestamp_json(*ms)),
        V::Date(d) => json_string(&datetime::format_date(*d)),
        V::Time(t) => json_string(&datetime::format_time(*t)),
        V::Uuid(u) | V::Timeuuid(u) => json_string(&u.hyphenated().to_string()),
        V::Inet(a) => json_string(&java_host_address(a)),
        V::Duration(d) => json_string(&datetime::format_duration(d)),
        V::List(items) | V::Set(items) | V::Vector(items) => {
            let elem = match ty {
                CqlType::List(e) | CqlType::Set(e) | CqlType::Vector(e, _) => e.as_ref(),
                other => other,
            };
            join(items.iter().map(|v| to_json(v, elem)).collect(), "[", "]")
        }
        V::Map(entries) => {
            let (kt, vt) = match ty {
                CqlType::Map(k, v) => (k.as_ref(), v.as_ref()),
                other => (other, other),
            };
            let parts = entries
                .iter()
                .map(|(k, v)| {
                    let key = to_json(k, kt);
                    // Non-string keys are JSON-encoded and then quoted, since JSON keys must be strings.
                    let key = if kt.is_string() { key } else { json_string(&key) };
                    format!("{key}: {}", to_json(v, vt))
                })
                .collect();
            join(parts, "{", "}")
        }
        V::Tuple(items) => {
            let types: &[CqlType] = if let CqlType::Tuple(ts) = ty { ts } else { &[] };
            let parts = items
                .iter()
                .enumerate()
                .map(|(i, v)| to_json_optional(v.as_ref(), types.get(i).unwrap_or(&CqlType::Blob)))
                .collect();
            join(parts, "[", "]")
        }
        V::Udt(fields) => {
            let def_fields: &[(String, CqlType)] = if let CqlType::Udt(d) = ty { &d.fields } else { &[] };
            let parts = fields
                .iter()
                .enumerate()
                .map(|(i, (name, v))| {
                    let t = def_fields.get(i).map_or(&CqlType::Blob, |(_, t)| t);
                    format!("{}: {}", json_key_name(name), to_json_optional(v.as_ref(), t))
                })
                .collect();
            join(parts, "{", "}")
        }
    }
}

/// The Java class name Cassandra reports for a parsed JSON value in error messages.
fn java_class(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "Boolean",
        Json::Number(n) if n.as_i64().is_some_and(|i| i32::try_from(i).is_ok()) => "Integer",
        Json::Number(n) if n.is_i64() || n.is_u64() => "Long",
        Json::Number(_) => "Double",
        Json::String(_) => "String",
        Json::Array(_) => "ArrayList",
        Json::Object(_) => "LinkedHashMap",
    }
}

fn expected(what: &str, v: &Json) -> MarshalError {
    MarshalError(format!("Expected {what}, but got a {}: {v}", java_class(v)))
}

/// The text of a JSON string or number, for types that parse either from their string form.
fn string_or_number(v: &Json) -> Option<String> {
    match v {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Converts a parsed JSON value into a value of `ty`, as `INSERT JSON` does; JSON `null` gives `None`.
pub fn from_json(json: &Json, ty: &CqlType) -> Result<Option<CqlValue>, MarshalError> {
    if json.is_null() {
        return Ok(None);
    }
    from_json_inner(json, ty).map(Some)
}

fn from_json_inner(json: &Json, ty: &CqlType) -> Result<CqlValue, MarshalError> {
    use CqlType as T;
    let ty = ty.unfrozen();
    let int_like = |what: &str, fits: &dyn Fn(i64) -> bool| -> Result<CqlValue, MarshalError> {
        match json {
            Json::String(s) => from_string(ty, s),
            Json::Number(n) if n.as_i64().is_some_and(fits) => from_string(ty, &n.to_string()),
            _ => Err(expected(what, json)),
        }
    };
    match ty {
        T::Ascii => match json {
            Json::String(s) => from_string(ty, s),
            _ => Err(expected("an ascii string", json)),
        },
        T::Varchar => match json {
            Json::String(s) => Ok(CqlValue::Text(s.clone())),
            _ => Err(expected("a UTF-8 string", json)),
        },
        T::Int => int_like("an int value", &|i| i32::try_from(i).is_ok()),
        T::Bigint | T::Counter => int_like("a bigint value", &|_| true),
        T::Smallint | T::Tinyint => match string_or_number(json) {
            Some(text) => from_string(ty, &text),
            None => Err(expected(
                if matches!(ty, T::Smallint) {
                    "a short value"
                } else {
                    "a byte value"
                },
                json,
            )),
        },
        T::Varint => match json {
            Json::String(s) => from_string(ty, s),
            Json::Number(n) if n.is_i64() || n.is_u64() => from_string(ty, &n.to_string()),
            Json::Number(n) => {
                match parse_decimal(&n.to_string()).and_then(|d| d.is_integer().then_some(d)) {
                    Some(d) => Ok(CqlValue::Varint(d.with_scale(0).as_bigint_and_exponent().0)),
                    None => Err(expected("a varint value", json)),
                }
            }
            _ => Err(expected("a varint value", json)),
        },
        T::Decimal => match string_or_number(json) {
            Some(text) => from_string(ty, &text),
            None => Err(expected("a decimal value", json)),
        },
        T::Float | T::Double => match string_or_number(json) {
            Some(text) => from_string(ty, &text),
            None => Err(expected(
                if matches!(ty, T::Float) {
                    "a float value"
                } else {
                    "a double value"
                },
                json,
            )),
        },
        T::Boolean => match json {
            Json::Bool(b) => Ok(CqlValue::Boolean(*b)),
            Json::String(s) => from_string(ty, s),
            _ => Err(expected("a boolean value", json)),
        },
        T::Timestamp => match json {
            Json::String(s) => from_string(ty, s),
            Json::Number(n) if n.is_i64() => Ok(CqlValue::Timestamp(n.as_i64().unwrap_or_default())),
            _ => Err(expected(
                "a long or a datestring representation of a timestamp value",
                json,
            )),
        },
        T::Date => match json {
            Json::String(s) => from_string(ty, s),
            _ => Err(expected("a string representation of a date value", json)),
        },
        T::Time => match json {
            Json::String(s) => from_string(ty, s),
            Json::Number(n) if n.is_i64() => from_string(ty, &n.to_string()),
            _ => Err(expected("a string representation of a time value", json)),
        },
        T::Uuid | T::Timeuuid => match json {
            Json::String(s) => from_string(ty, s),
            _ => Err(expected("a string representation of a uuid", json)),
        },
        T::Inet => match json {
            Json::String(s) => from_string(ty, s),
            _ => Err(expected("a string representation of an inet value", json)),
        },
        T::Duration => match json {
            Json::String(s) => from_string(ty, s),
            _ => Err(expected("a string representation of a duration", json)),
        },
        T::Blob | T::Custom(_) => match json {
            Json::String(s) => match s.strip_prefix("0x") {
                Some(_) => from_string(ty, s),
                None => Err(MarshalError(format!(
                    "String representation of blob is missing 0x prefix: {s}"
                ))),
            },
            _ => Err(expected("a string representation of a blob value", json)),
        },
        T::List(e) | T::Set(e) | T::Vector(e, _) => {
            let (what, kind) = match ty {
                T::List(_) => ("a list", "list"),
                T::Set(_) => ("a list (representing a set)", "set"),
                _ => ("a list (representing a vector)", "vector"),
            };
            let Json::Array(items) = json else {
                return Err(expected(what, json));
            };
            let values = items
                .iter()
                .map(|item| match item {
                    Json::Null => Err(MarshalError(format!("Invalid null element in {kind}"))),
                    item => from_json_inner(item, e),
                })
                .collect::<Result<Vec<_>, _>>()?;
            let mut value = match ty {
                T::List(_) => CqlValue::List(values),
                T::Set(_) => CqlValue::Set(values),
                T::Vector(_, n) if values.len() == *n as usize => CqlValue::Vector(values),
                _ => {
                    return Err(MarshalError(format!(
                        "Expected {} elements in vector but got {}",
                        vec_dim(ty),
                        values.len()
                    )));
                }
            };
            normalize(&mut value, ty);
            Ok(value)
        }
        T::Map(kt, vt) => {
            let Json::Object(entries) = json else {
                return Err(expected("a map", json));
            };
            let mut pairs = Vec::with_capacity(entries.len());
            for (key, val) in entries {
                let key_json = if kt.is_string() {
                    Json::String(key.clone())
                } else {
                    serde_json::from_str(key).unwrap_or_else(|_| Json::String(key.clone()))
                };
                if val.is_null() {
                    return Err(MarshalError("Invalid null value in map".into()));
                }
                pairs.push((from_json_inner(&key_json, kt)?, from_json_inner(val, vt)?));
            }
            let mut value = CqlValue::Map(pairs);
            normalize(&mut value, ty);
            Ok(value)
        }
        T::Tuple(types) => {
            let Json::Array(items) = json else {
                return Err(expected("a list representation of a tuple", json));
            };
            if items.len() > types.len() {
                return Err(MarshalError(format!(
                    "Tuple contains extra items (expected {}, got {})",
                    types.len(),
                    items.len()
                )));
            }
            let mut values = items
                .iter()
                .zip(types)
                .map(|(item, t)| from_json(item, t))
                .collect::<Result<Vec<_>, _>>()?;
            values.resize(types.len(), None);
            Ok(CqlValue::Tuple(values))
        }
        T::Udt(def) => {
            let Json::Object(entries) = json else {
                return Err(expected("a map", json));
            };
            let mut values: Vec<(String, Option<CqlValue>)> =
                def.fields.iter().map(|(n, _)| (n.clone(), None)).collect();
            for (key, val) in entries {
                // Quoted keys are case-sensitive; unquoted ones are folded to lower case.
                let name = match key.strip_prefix('"').and_then(|k| k.strip_suffix('"')) {
                    Some(quoted) => quoted.replace("\"\"", "\""),
                    None => key.to_lowercase(),
                };
                let index = def.fields.iter().position(|(n, _)| *n == name).ok_or_else(|| {
                    MarshalError(format!(
                        "Unknown field '{name}' in value of user defined type {}",
                        def.name
                    ))
                })?;
                values[index].1 = from_json(val, &def.fields[index].1)?;
            }
            Ok(CqlValue::Udt(values))
        }
        T::Frozen(inner) => from_json_inner(json, inner),
    }
}

fn vec_dim(ty: &CqlType) -> u32 {
    if let CqlType::Vector(_, n) = ty { *n } else { 0 }
}

/// Converts an integer-valued JSON number that does not fit `i64` (only possible with
/// arbitrary-precision JSON parsing) into a varint.
pub fn json_number_to_varint(n: &serde_json::Number) -> Option<BigInt> {
    n.to_string().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{Rng, random_type, random_value};
    use crate::types::UdtDef;
    use crate::value::CqlDuration;
    use crate::wire::to_bytes;
    use serde_json::json;
    use std::sync::Arc;

    fn udt() -> CqlType {
        CqlType::Udt(Arc::new(UdtDef {
            keyspace: "ks".into(),
            name: "addr".into(),
            fields: vec![("street".into(), CqlType::Varchar), ("Zip".into(), CqlType::Int)],
        }))
    }

    #[test]
    fn select_json_text() {
        let ts = CqlValue::Timestamp(1_704_164_645_678);
        assert_eq!(to_json(&ts, &CqlType::Timestamp), "\"2024-01-02 03:04:05.678Z\"");
        assert_eq!(
            to_json(&CqlValue::Blob(vec![1, 0xAB]), &CqlType::Blob),
            "\"0x01ab\""
        );
        assert_eq!(
            to_json(&CqlValue::Text("a\"b\n".into()), &CqlType::Varchar),
            "\"a\\\"b\\n\""
        );
        assert_eq!(to_json(&CqlValue::Double(1.0), &CqlType::Double), "1.0");
        assert_eq!(
            to_json(&CqlValue::Inet("::1".parse().unwrap()), &CqlType::Inet),
            "\"0:0:0:0:0:0:0:1\""
        );
        let map_ty = CqlType::Map(Box::new(CqlType::Int), Box::new(CqlType::Varchar));
        let map = CqlValue::Map(vec![(CqlValue::Int(1), CqlValue::Text("a".into()))]);
        assert_eq!(to_json(&map, &map_ty), "{\"1\": \"a\"}");
        let text_map = CqlType::Map(Box::new(CqlType::Varchar), Box::new(CqlType::Int));
        let m2 = CqlValue::Map(vec![(CqlValue::Text("k".into()), CqlValue::Int(2))]);
        assert_eq!(to_json(&m2, &text_map), "{\"k\": 2}");
        let list_ty = CqlType::List(Box::new(CqlType::Int));
        assert_eq!(
            to_json(
                &CqlValue::List(vec![CqlValue::Int(1), CqlValue::Int(2)]),
                &list_ty
            ),
            "[1, 2]"
        );
        let u = CqlValue::Udt(vec![
            ("street".into(), Some(CqlValue::Text("x".into()))),
            ("Zip".into(), None),
        ]);
        assert_eq!(to_json(&u, &udt()), "{\"street\": \"x\", \"\\\"Zip\\\"\": null}");
        let tuple_ty = CqlType::Tuple(vec![CqlType::Int, CqlType::Duration]);
        let d = CqlDuration {
            months: 0,
            days: 1,
            nanos: 0,
        };
        let t = CqlValue::Tuple(vec![Some(CqlValue::Int(3)), Some(CqlValue::Duration(d))]);
        assert_eq!(to_json(&t, &tuple_ty), "[3, \"1d\"]");
        assert_eq!(
            json_row([("k", "1".to_string()), ("Val", "null".to_string())]),
            "{\"k\": 1, \"\\\"Val\\\"\": null}"
        );
    }

    #[test]
    fn insert_json_values() {
        let ok = |j: Json, ty: &CqlType| from_json(&j, ty).unwrap().unwrap();
        assert_eq!(ok(json!(5), &CqlType::Int), CqlValue::Int(5));
        assert_eq!(ok(json!("5"), &CqlType::Int), CqlValue::Int(5));
        assert_eq!(ok(json!(5), &CqlType::Float), CqlValue::Float(5.0));
        assert_eq!(ok(json!("NaN"), &CqlType::Double).kind_name(), "double");
        assert_eq!(
            ok(json!(1.25), &CqlType::Decimal),
            CqlValue::Decimal(parse_decimal("1.25").unwrap())
        );
        assert_eq!(ok(json!(1000), &CqlType::Timestamp), CqlValue::Timestamp(1000));
        assert_eq!(
            ok(json!("1970-01-01 00:00:01Z"), &CqlType::Timestamp),
            CqlValue::Timestamp(1000)
        );
        assert_eq!(ok(json!("0x00ff"), &CqlType::Blob), CqlValue::Blob(vec![0, 255]));
        assert_eq!(ok(json!("true"), &CqlType::Boolean), CqlValue::Boolean(true));
        assert_eq!(from_json(&json!(null), &CqlType::Int).unwrap(), None);
        let set_ty = CqlType::Set(Box::new(CqlType::Int));
        assert_eq!(
            ok(json!([3, 1, 3]), &set_ty),
            CqlValue::Set(vec![CqlValue::Int(1), CqlValue::Int(3)])
        );
        let map_ty = CqlType::Map(Box::new(CqlType::Int), Box::new(CqlType::Varchar));
        assert_eq!(
            ok(json!({"2": "b", "1": "a"}), &map_ty),
            CqlValue::Map(vec![
                (CqlValue::Int(1), CqlValue::Text("a".into())),
                (CqlValue::Int(2), CqlValue::Text("b".into()))
            ])
        );
        assert_eq!(
            ok(json!({"STREET": "x", "\"Zip\"": 9}), &udt()),
            CqlValue::Udt(vec![
                ("street".into(), Some(CqlValue::Text("x".into()))),
                ("Zip".into(), Some(CqlValue::Int(9)))
            ])
        );
        let err = |j: Json, ty: &CqlType| from_json(&j, ty).unwrap_err().to_string();
        assert_eq!(
            err(json!(1.5), &CqlType::Int),
            "Expected an int value, but got a Double: 1.5"
        );
        assert_eq!(
            err(json!(3_000_000_000i64), &CqlType::Int),
            "Expected an int value, but got a Long: 3000000000"
        );
        assert_eq!(
            err(json!(1), &CqlType::Varchar),
            "Expected a UTF-8 string, but got a Integer: 1"
        );
        assert_eq!(
            err(json!("ff"), &CqlType::Blob),
            "String representation of blob is missing 0x prefix: ff"
        );
        assert_eq!(
            err(json!({"zip": 1}), &udt()),
            "Unknown field 'zip' in value of user defined type addr"
        );
        assert_eq!(err(json!([1, null]), &set_ty), "Invalid null element in set");
        assert_eq!(
            err(json!([1, 2, 3]), &CqlType::Tuple(vec![CqlType::Int])),
            "Tuple contains extra items (expected 1, got 3)"
        );
    }

    /// `fromJson(toJson(v)) == v` for every clusterable type (floats excepted where Java text is not
    /// valid JSON).
    #[test]
    fn json_round_trips() {
        let mut rng = Rng(5);
        for _ in 0..3000 {
            let ty = random_type(&mut rng, 0);
            let value = random_value(&mut rng, &ty);
            if format!("{value:?}").contains("Empty") {
                // Empty values print as null, which does not round-trip.
                continue;
            }
            let text = to_json(&value, &ty);
            let Ok(parsed) = serde_json::from_str::<Json>(&text) else {
                assert!(text.contains("NaN") || text.contains("Infinity"), "{ty}: {text}");
                continue;
            };
            let back = from_json(&parsed, &ty).unwrap_or_else(|e| panic!("{ty}: {text}: {e}"));
            let back = back.unwrap_or(CqlValue::Empty);
            if to_bytes(&back, &ty).unwrap() != to_bytes(&value, &ty).unwrap() {
                // serde_json parses non-integers and integers beyond 64 bits as doubles, so decimals lose
                // their scale and huge numbers their precision.
                // Empty values print as null.
                assert!(
                    ty.any_nested(&|t| matches!(t, CqlType::Decimal | CqlType::Varint)),
                    "{ty}: {text}"
                );
            }
        }
    }
}
