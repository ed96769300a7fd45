//! Turning CQL terms and bound values into serialized values of a receiver's type, and key encodings.

use mica_cql_protocol::Value;
use mica_cql_syntax::{Literal, Term};
use mica_cql_types::{
    CqlType, CqlValue, LiteralKind, deserialize, normalize, parse_literal, to_bytes, validate,
};

use crate::error::{QueryError, Result, invalid};

/// Positional values bound to a statement's markers.
#[derive(Clone, Copy)]
pub(crate) struct Binds<'a> {
    pub values: &'a [Value],
}

impl<'a> Binds<'a> {
    fn get(&self, index: usize) -> Result<&'a Value> {
        self.values.get(index).ok_or_else(|| {
            invalid(format!(
                "There were {} markers(?) in CQL but {} bound variables",
                index + 1,
                self.values.len()
            ))
        })
    }
}

/// A term evaluated for a receiver: a serialized value, null, or unset (leave the column untouched).
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Evaluated {
    Bytes(Vec<u8>),
    Null,
    Unset,
}

fn literal_kind(lit: &Literal) -> (LiteralKind, String) {
    match lit {
        Literal::String(s) => (LiteralKind::String, s.clone()),
        Literal::Integer(s) => (LiteralKind::Integer, s.clone()),
        Literal::Float(s) => (LiteralKind::Float, s.clone()),
        Literal::Boolean(b) => (LiteralKind::Boolean, b.to_string()),
        Literal::Uuid(s) => (LiteralKind::Uuid, s.clone()),
        Literal::Blob(s) => (LiteralKind::Hex, format!("0x{s}")),
        Literal::Duration(s) => (LiteralKind::Duration, s.clone()),
    }
}

/// Evaluates `term` as a value for `receiver` of type `ty`, serialized.
pub(crate) fn eval_bytes(term: &Term, ty: &CqlType, receiver: &str, binds: Binds) -> Result<Evaluated> {
    match term {
        Term::Marker(m) => match binds.get(m.index)? {
            Value::Null => Ok(Evaluated::Null),
            Value::Unset => Ok(Evaluated::Unset),
            Value::Set(bytes) => {
                validate(ty, bytes)
                    .map_err(|e| invalid(format!("Exception while binding column {receiver}: {e}")))?;
                Ok(Evaluated::Bytes(bytes.to_vec()))
            }
        },
        Term::Null => Ok(Evaluated::Null),
        _ => match eval_value(term, ty, receiver, binds)? {
            Some(v) => Ok(Evaluated::Bytes(
                to_bytes(&v, ty).map_err(|e| invalid(e.to_string()))?,
            )),
            None => Ok(Evaluated::Null),
        },
    }
}

/// Evaluates `term` as a typed value (used inside collection literals and for conditions).
pub(crate) fn eval_value(
    term: &Term,
    ty: &CqlType,
    receiver: &str,
    binds: Binds,
) -> Result<Option<CqlValue>> {
    let ty_unfrozen = ty.unfrozen();
    let value = match term {
        Term::Null => return Ok(None),
        Term::Marker(m) => match binds.get(m.index)? {
            Value::Null | Value::Unset => return Ok(None),
            Value::Set(bytes) => deserialize(ty, bytes)
                .map_err(|e| invalid(format!("Exception while binding column {receiver}: {e}")))?,
        },
        Term::Literal(lit) => {
            let (kind, text) = literal_kind(lit);
            parse_literal(kind, &text, ty).map_err(|e| invalid(e.message_for(receiver)))?
        }
        Term::Negate(inner) => match &**inner {
            Term::Literal(Literal::Integer(s)) => parse_literal(LiteralKind::Integer, &format!("-{s}"), ty)
                .map_err(|e| invalid(e.message_for(receiver)))?,
            Term::Literal(Literal::Float(s)) => parse_literal(LiteralKind::Float, &format!("-{s}"), ty)
                .map_err(|e| invalid(e.message_for(receiver)))?,
            _ => return Err(invalid(format!("Invalid negation for {receiver}"))),
        },
        Term::List(items) => match ty_unfrozen {
            CqlType::List(el) => CqlValue::List(eval_items(items, el, receiver, binds)?),
            CqlType::Set(el) => CqlValue::Set(eval_items(items, el, receiver, binds)?),
            CqlType::Vector(el, n) => {
                let items = eval_items(items, el, receiver, binds)?;
                if items.len() != *n as usize {
                    return Err(invalid(format!(
                        "Invalid vector literal for {receiver} of type {}; expected {n} elements, but given {}",
                        ty.cql_name(),
                        items.len()
                    )));
                }
                CqlValue::Vector(items)
            }
            _ => return Err(type_mismatch("list literal", receiver, ty)),
        },
        Term::Set(items) => match ty_unfrozen {
            CqlType::Set(el) => CqlValue::Set(eval_items(items, el, receiver, binds)?),
            // `{}` parses as a set but is also the empty map.
            CqlType::Map(..) if items.is_empty() => CqlValue::Map(Vec::new()),
            _ => return Err(type_mismatch("set literal", receiver, ty)),
        },
        Term::Map(entries) => match ty_unfrozen {
            CqlType::Map(k, v) => {
                let mut out = Vec::with_capacity(entries.len());
                for (kt, vt) in entries {
                    let key = eval_value(kt, k, receiver, binds)?
                        .ok_or_else(|| invalid("null is not supported inside collections"))?;
                    let val = eval_value(vt, v, receiver, binds)?
                        .ok_or_else(|| invalid("null is not supported inside collections"))?;
                    out.push((key, val));
                }
                CqlValue::Map(out)
            }
            CqlType::Udt(def) => {
                // `{f: v}` with identifier-like keys may parse as a map; accept string keys naming fields.
                let mut fields = Vec::new();
                for (name, fty) in &def.fields {
                    let found = entries
                        .iter()
                        .find(|(k, _)| matches!(k, Term::Literal(Literal::String(s)) if s == name));
                    fields.push((
                        name.clone(),
                        match found {
                            Some((_, vt)) => eval_value(vt, fty, receiver, binds)?,
                            None => None,
                        },
                    ));
                }
                CqlValue::Udt(fields)
            }
            _ => return Err(type_mismatch("map literal", receiver, ty)),
        },
        Term::Tuple(items) => match ty_unfrozen {
            CqlType::Tuple(types) => {
                if items.len() > types.len() {
                    return Err(invalid(format!(
                        "Invalid tuple literal for {receiver}: too many elements. Type {} expects {} but got {}",
                        ty.cql_name(),
                        types.len(),
                        items.len()
                    )));
                }
                let mut out = Vec::with_capacity(types.len());
                for (i, t) in types.iter().enumerate() {
                    out.push(match items.get(i) {
                        Some(term) => eval_value(term, t, receiver, binds)?,
                        None => None,
                    });
                }
                CqlValue::Tuple(out)
            }
            _ => return Err(type_mismatch("tuple literal", receiver, ty)),
        },
        Term::Udt(entries) => match ty_unfrozen {
            CqlType::Udt(def) => {
                for (name, _) in entries {
                    if !def.fields.iter().any(|(f, _)| f == name) {
                        return Err(invalid(format!(
                            "Unknown field '{name}' in value of user defined type {}",
                            def.name
                        )));
                    }
                }
                let mut fields = Vec::with_capacity(def.fields.len());
                for (name, fty) in &def.fields {
                    fields.push((
                        name.clone(),
                        match entries.iter().find(|(n, _)| n == name) {
                            Some((_, t)) => eval_value(t, fty, receiver, binds)?,
                            None => None,
                        },
                    ));
                }
                CqlValue::Udt(fields)
            }
            _ => return Err(type_mismatch("user type literal", receiver, ty)),
        },
        Term::TypeHint { term, .. } => return eval_value(term, ty, receiver, binds),
        Term::FunctionCall { name, args } => {
            return crate::values::call_scalar(&name.name, args, ty, receiver, binds).map(Some);
        }
        Term::Arithmetic { op, lhs, rhs } => {
            return crate::arith::eval_term(*op, lhs, rhs, ty, receiver, binds);
        }
    };
    let mut value = value;
    normalize(&mut value, ty);
    Ok(Some(value))
}

fn eval_items(items: &[Term], el: &CqlType, receiver: &str, binds: Binds) -> Result<Vec<CqlValue>> {
    items
        .iter()
        .map(|t| {
            eval_value(t, el, receiver, binds)?
                .ok_or_else(|| invalid("null is not supported inside collections"))
        })
        .collect()
}

fn type_mismatch(what: &str, receiver: &str, ty: &CqlType) -> QueryError {
    invalid(format!("Invalid {what} for {receiver} of type {}", ty.cql_name()))
}

/// Native scalar functions usable as terms (`now()`, `uuid()`, `toTimestamp(now())`, ...).
pub(crate) fn call_scalar(
    name: &str,
    args: &[Term],
    ty: &CqlType,
    receiver: &str,
    binds: Binds,
) -> Result<CqlValue> {
    let lname = name.to_ascii_lowercase();
    let now_ms = mica_types::Timestamp::now().0 / 1000;
    let value = match (lname.as_str(), args.len()) {
        ("now", 0) | ("currenttimeuuid", 0) => CqlValue::Timeuuid(now_timeuuid()),
        ("uuid", 0) => CqlValue::Uuid(uuid::Uuid::new_v4()),
        ("currenttimestamp", 0) => CqlValue::Timestamp(now_ms),
        ("currentdate", 0) => timestamp_to_date(now_ms),
        ("totimestamp", 1) | ("todate", 1) | ("tounixtimestamp", 1) => {
            let arg = eval_value(&args[0], &CqlType::Timeuuid, receiver, binds)
                .or_else(|_| eval_value(&args[0], &CqlType::Timestamp, receiver, binds))?
                .ok_or_else(|| invalid(format!("{name} argument is null")))?;
            let ms = match arg {
                CqlValue::Timeuuid(u) => {
                    timeuuid_millis(&u).ok_or_else(|| invalid(format!("Invalid timeuuid given to {name}")))?
                }
                CqlValue::Timestamp(ms) => ms,
                _ => return Err(invalid(format!("Invalid argument to {name}"))),
            };
            match lname.as_str() {
                "totimestamp" => CqlValue::Timestamp(ms),
                "todate" => timestamp_to_date(ms),
                _ => CqlValue::Bigint(ms),
            }
        }
        _ => return crate::functions::call_term(name, args, ty, receiver, binds),
    };
    Ok(value)
}

/// Serializes a partition key from its component values as Cassandra does: one component as is,
/// several as `(u16 length, bytes, 0x00)` each.
pub(crate) fn partition_key_bytes(components: &[&[u8]]) -> Result<Vec<u8>> {
    if let [single] = components {
        return Ok(single.to_vec());
    }
    let mut out = Vec::new();
    for c in components {
        let len = u16::try_from(c.len()).map_err(|_| {
            invalid(format!(
                "Key length of {} is longer than maximum of 65535",
                c.len()
            ))
        })?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(c);
        out.push(0);
    }
    Ok(out)
}

/// Splits a serialized partition key back into its components.
pub(crate) fn split_partition_key(key: &[u8], count: usize) -> Result<Vec<Vec<u8>>> {
    if count == 1 {
        return Ok(vec![key.to_vec()]);
    }
    let mut out = Vec::with_capacity(count);
    let mut rest = key;
    while out.len() < count {
        if rest.len() < 2 {
            return Err(QueryError::Server(
                "stored composite partition key is truncated".into(),
            ));
        }
        let len = u16::from_be_bytes([rest[0], rest[1]]) as usize;
        if rest.len() < 2 + len + 1 {
            return Err(QueryError::Server(
                "stored composite partition key is truncated".into(),
            ));
        }
        out.push(rest[2..2 + len].to_vec());
        rest = &rest[2 + len + 1..];
    }
    Ok(out)
}

/// Reads a bound/literal integer such as a LIMIT or TTL.
pub(crate) fn eval_i64(term: &Term, ty: &CqlType, receiver: &str, binds: Binds) -> Result<Option<i64>> {
    match eval_value(term, ty, receiver, binds)? {
        Some(CqlValue::Int(v)) => Ok(Some(v as i64)),
        Some(CqlValue::Bigint(v)) => Ok(Some(v)),
        Some(other) => Err(invalid(format!("Invalid value {other:?} for {receiver}"))),
        None => Ok(None),
    }
}

/// A version 1 (time-based) UUID for the current time, unique within this process.
pub(crate) fn now_timeuuid() -> uuid::Uuid {
    mica_cql_types::now_timeuuid()
}

/// Milliseconds since the Unix epoch of a version 1 UUID.
pub(crate) fn timeuuid_millis(u: &uuid::Uuid) -> Option<i64> {
    (u.get_version_num() == 1).then(|| mica_cql_types::timeuuid_to_millis(u))
}

/// The `date` containing a timestamp.
pub(crate) fn timestamp_to_date(ms: i64) -> CqlValue {
    let days = ms.div_euclid(86_400_000);
    CqlValue::Date((days + (1i64 << 31)) as u32)
}
