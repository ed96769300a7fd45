//! Native CQL scalar functions as Cassandra 4.1 defines them (time and uuid functions, blob conversions,
//! `token`, `toJson`), plus `CAST` and the arithmetic operators: overload resolution against the argument
//! types, the result type and function name Cassandra reports, and evaluation over serialized values.

use mica_cql_types::{
    CqlType, CqlValue, LiteralKind, deserialize, is_assignable, max_timeuuid, min_timeuuid, to_bytes,
    to_date, to_json_optional, to_timestamp, to_unix_timestamp,
};
use mica_schema::TableDef;

use crate::error::{QueryError, Result, invalid};

/// The keyspace native functions live in; Cassandra prefixes their names with it in column names.
pub(crate) const SYSTEM: &str = "system";

/// What is known about one argument of a call when its overload is chosen.
#[derive(Clone, Debug)]
pub(crate) enum ArgKind {
    /// An expression of a known type (a column, another function, a cast or type hint).
    Typed(CqlType),
    /// An untyped constant: it fits any parameter its literal kind is assignable to.
    Literal(LiteralKind),
    /// A bind marker or `NULL`: fits any parameter type.
    Untyped,
}

/// The native scalar functions.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Scalar {
    Now,
    Uuid,
    CurrentTimestamp,
    CurrentDate,
    CurrentTime,
    MinTimeuuid,
    MaxTimeuuid,
    ToDate,
    ToTimestamp,
    ToUnixTimestamp,
    Token,
    ToJson,
    /// `<type>AsBlob`: the value's bytes, unchanged, as a blob.
    AsBlob,
    /// `blobAs<type>`: the blob's bytes, validated as a value of the type.
    BlobAs(CqlType),
}

/// A resolved function call: which function, its full name (`system.now`) and its signature.
#[derive(Clone, Debug)]
pub(crate) struct Resolved {
    pub scalar: Scalar,
    pub name: String,
    pub args: Vec<CqlType>,
    pub ret: CqlType,
}

/// The native types that have `<type>AsBlob` / `blobAs<type>` conversion functions.
fn conversion_type(name: &str) -> Option<CqlType> {
    use CqlType as T;
    Some(match name {
        "ascii" => T::Ascii,
        "bigint" => T::Bigint,
        "boolean" => T::Boolean,
        "counter" => T::Counter,
        "date" => T::Date,
        "decimal" => T::Decimal,
        "double" => T::Double,
        "duration" => T::Duration,
        "float" => T::Float,
        "inet" => T::Inet,
        "int" => T::Int,
        "smallint" => T::Smallint,
        "text" | "varchar" => T::Varchar,
        "time" => T::Time,
        "timestamp" => T::Timestamp,
        "timeuuid" => T::Timeuuid,
        "tinyint" => T::Tinyint,
        "uuid" => T::Uuid,
        "varint" => T::Varint,
        _ => return None,
    })
}

/// Every overload of a native function name: `(function, argument types, return type)`.
/// `None` when no native function has that name. Both the 4.1 spellings (`toTimestamp`) and the
/// snake-case aliases Cassandra 5.0 added (`to_timestamp`) are known.
fn overloads(name: &str, table: Option<&TableDef>) -> Option<Vec<(Scalar, Vec<CqlType>, CqlType)>> {
    use CqlType as T;
    let one = |s: Scalar, args: Vec<CqlType>, ret: CqlType| Some(vec![(s, args, ret)]);
    match name {
        "now" | "currenttimeuuid" | "current_timeuuid" => one(Scalar::Now, vec![], T::Timeuuid),
        "uuid" => one(Scalar::Uuid, vec![], T::Uuid),
        "currenttimestamp" | "current_timestamp" => one(Scalar::CurrentTimestamp, vec![], T::Timestamp),
        "currentdate" | "current_date" => one(Scalar::CurrentDate, vec![], T::Date),
        "currenttime" | "current_time" => one(Scalar::CurrentTime, vec![], T::Time),
        "mintimeuuid" | "min_timeuuid" => one(Scalar::MinTimeuuid, vec![T::Timestamp], T::Timeuuid),
        "maxtimeuuid" | "max_timeuuid" => one(Scalar::MaxTimeuuid, vec![T::Timestamp], T::Timeuuid),
        "dateof" => one(Scalar::ToTimestamp, vec![T::Timeuuid], T::Timestamp),
        "unixtimestampof" => one(Scalar::ToUnixTimestamp, vec![T::Timeuuid], T::Bigint),
        "todate" | "to_date" => Some(vec![
            (Scalar::ToDate, vec![T::Timeuuid], T::Date),
            (Scalar::ToDate, vec![T::Timestamp], T::Date),
        ]),
        "totimestamp" | "to_timestamp" => Some(vec![
            (Scalar::ToTimestamp, vec![T::Timeuuid], T::Timestamp),
            (Scalar::ToTimestamp, vec![T::Date], T::Timestamp),
        ]),
        "tounixtimestamp" | "to_unix_timestamp" => Some(vec![
            (Scalar::ToUnixTimestamp, vec![T::Timeuuid], T::Bigint),
            (Scalar::ToUnixTimestamp, vec![T::Timestamp], T::Bigint),
            (Scalar::ToUnixTimestamp, vec![T::Date], T::Bigint),
        ]),
        "token" => one(
            Scalar::Token,
            table?.partition_key().map(|c| c.typ.clone()).collect(),
            T::Bigint,
        ),
        _ => {
            if let Some(ty) = name
                .strip_suffix("_as_blob")
                .or_else(|| name.strip_suffix("asblob"))
                .and_then(conversion_type)
            {
                return one(Scalar::AsBlob, vec![ty], T::Blob);
            }
            let ty = name
                .strip_prefix("blob_as_")
                .or_else(|| name.strip_prefix("blobas"))
                .and_then(conversion_type)?;
            one(Scalar::BlobAs(ty.clone()), vec![T::Blob], ty)
        }
    }
}

/// How well an argument fits a parameter type (Cassandra's `AssignmentTestable.TestResult`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Fit {
    No,
    Weak,
    Exact,
}

fn fit(arg: &ArgKind, param: &CqlType) -> Fit {
    match arg {
        ArgKind::Typed(t) if t.unfrozen() == param.unfrozen() => Fit::Exact,
        // A blob parameter accepts the bytes of any value, text accepts ascii, bigint accepts counter.
        ArgKind::Typed(t)
            if matches!(param, CqlType::Blob)
                || (matches!(param, CqlType::Varchar) && matches!(t, CqlType::Ascii))
                || (matches!(param, CqlType::Bigint) && matches!(t, CqlType::Counter)) =>
        {
            Fit::Weak
        }
        ArgKind::Typed(_) => Fit::No,
        ArgKind::Literal(kind) if is_assignable(*kind, param) => Fit::Weak,
        ArgKind::Literal(_) => Fit::No,
        ArgKind::Untyped => Fit::Weak,
    }
}

fn signature_text(name: &str, args: &[CqlType], ret: &CqlType) -> String {
    let args: Vec<String> = args.iter().map(CqlType::cql_name).collect();
    format!("{name} : ({}) -> {}", args.join(", "), ret.cql_name())
}

/// Resolves a call of the native function `name` (already lower-cased by the parser unless quoted) with
/// the given arguments; `arg_texts` are the arguments as written, for error messages.
pub(crate) fn resolve(
    keyspace: Option<&str>,
    name: &str,
    args: &[ArgKind],
    arg_texts: &[String],
    table: Option<&TableDef>,
) -> Result<Resolved> {
    let shown = match keyspace {
        Some(ks) => format!("{ks}.{name}"),
        None => name.to_string(),
    };
    if matches!(name, "fromjson" | "from_json") && keyspace.is_none_or(|k| k == SYSTEM) {
        return Err(invalid(format!(
            "{name}() cannot be used in the selection clause of a SELECT statement"
        )));
    }
    let candidates = keyspace
        .is_none_or(|k| k == SYSTEM)
        .then(|| overloads(name, table))
        .flatten();
    let full = format!("{SYSTEM}.{name}");
    if matches!(name, "tojson" | "to_json") && keyspace.is_none_or(|k| k == SYSTEM) {
        if args.len() != 1 {
            return Err(invalid(format!(
                "{full}() only accepts one argument ({} given)",
                args.len()
            )));
        }
        let ty = match &args[0] {
            ArgKind::Typed(t) => t.clone(),
            _ => {
                return Err(invalid(format!(
                    "Cannot infer type for term {} in selection clause (try using a cast to force a type)",
                    arg_texts[0]
                )));
            }
        };
        return Ok(Resolved {
            scalar: Scalar::ToJson,
            name: full,
            args: vec![ty],
            ret: CqlType::Varchar,
        });
    }
    let Some(candidates) = candidates else {
        return Err(invalid(format!("Unknown function '{shown}'")));
    };
    let build = |(scalar, sig_args, ret): &(Scalar, Vec<CqlType>, CqlType)| Resolved {
        scalar: scalar.clone(),
        name: full.clone(),
        args: sig_args.clone(),
        ret: ret.clone(),
    };
    if let [only] = candidates.as_slice() {
        if only.1.len() != args.len() {
            return Err(invalid(format!(
                "Invalid number of arguments in call to function {full}: {} required but {} provided",
                only.1.len(),
                args.len()
            )));
        }
        for (i, (arg, param)) in args.iter().zip(&only.1).enumerate() {
            if fit(arg, param) == Fit::No {
                return Err(invalid(format!(
                    "Type error: {} cannot be passed as argument {i} of function {full} of type {}",
                    arg_texts[i],
                    param.cql_name()
                )));
            }
        }
        return Ok(build(only));
    }
    let mut compatible = Vec::new();
    for c in &candidates {
        if c.1.len() != args.len() {
            continue;
        }
        let worst = args
            .iter()
            .zip(&c.1)
            .map(|(a, p)| fit(a, p))
            .min()
            .unwrap_or(Fit::Exact);
        match worst {
            Fit::Exact => return Ok(build(c)),
            Fit::Weak => compatible.push(c),
            Fit::No => {}
        }
    }
    let list = |cs: &mut dyn Iterator<Item = &(Scalar, Vec<CqlType>, CqlType)>| {
        cs.map(|(_, a, r)| signature_text(&full, a, r))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match compatible.as_slice() {
        [one] => Ok(build(one)),
        [] => Err(invalid(format!(
            "Invalid call to function {full}, none of its type signatures match (known type signatures: {})",
            list(&mut candidates.iter())
        ))),
        many => Err(invalid(format!(
            "Ambiguous call to function {full} (can be matched by following signatures: {}): use type casts to disambiguate",
            list(&mut many.iter().copied())
        ))),
    }
}

/// Decodes a serialized argument; `None` (null) stays `None`.
pub(crate) fn decode(ty: &CqlType, bytes: Option<&[u8]>) -> Result<Option<CqlValue>> {
    bytes
        .map(|b| deserialize(ty, b).map_err(|e| QueryError::Server(format!("unreadable value: {e}"))))
        .transpose()
}

/// Serializes a computed value of type `ty`.
pub(crate) fn encode(ty: &CqlType, value: Option<CqlValue>) -> Result<Option<Vec<u8>>> {
    value
        .map(|v| to_bytes(&v, ty).map_err(|e| QueryError::Server(format!("cannot serialize {ty}: {e}"))))
        .transpose()
}

/// The error Cassandra reports when a native function fails while executing (code 0x1400).
pub(crate) fn failure(function: &str, arg_types: &[CqlType], message: String) -> QueryError {
    let (keyspace, name) = function.split_once('.').unwrap_or((SYSTEM, function));
    QueryError::FunctionFailure {
        keyspace: keyspace.to_string(),
        function: name.to_string(),
        arg_types: arg_types.iter().map(CqlType::cql_name).collect(),
        message,
    }
}

/// Executes a resolved function over serialized arguments.
pub(crate) fn execute(f: &Resolved, args: &[Option<Vec<u8>>]) -> Result<Option<Vec<u8>>> {
    let arg = |i: usize| args.get(i).and_then(|a| a.as_deref());
    let now_ms = mica_cql_types::now_millis();
    let value = match &f.scalar {
        Scalar::Now => Some(CqlValue::Timeuuid(mica_cql_types::now_timeuuid())),
        Scalar::Uuid => Some(CqlValue::Uuid(uuid::Uuid::new_v4())),
        Scalar::CurrentTimestamp => Some(CqlValue::Timestamp(now_ms)),
        Scalar::CurrentDate => to_date(&CqlValue::Timestamp(now_ms)),
        Scalar::CurrentTime => {
            const NANOS_PER_MILLI: i64 = 1_000_000;
            const MILLIS_PER_DAY: i64 = 86_400_000;
            Some(CqlValue::Time(
                now_ms.rem_euclid(MILLIS_PER_DAY) * NANOS_PER_MILLI,
            ))
        }
        Scalar::MinTimeuuid | Scalar::MaxTimeuuid => match decode(&f.args[0], arg(0))? {
            Some(CqlValue::Timestamp(ms)) => Some(CqlValue::Timeuuid(if f.scalar == Scalar::MinTimeuuid {
                min_timeuuid(ms)
            } else {
                max_timeuuid(ms)
            })),
            _ => None,
        },
        Scalar::ToDate => decode(&f.args[0], arg(0))?.as_ref().and_then(to_date),
        Scalar::ToTimestamp => decode(&f.args[0], arg(0))?.as_ref().and_then(to_timestamp),
        Scalar::ToUnixTimestamp => decode(&f.args[0], arg(0))?.as_ref().and_then(to_unix_timestamp),
        Scalar::Token => {
            let mut parts = Vec::with_capacity(args.len());
            for a in args {
                match a {
                    Some(b) => parts.push(b.as_slice()),
                    None => return Ok(None),
                }
            }
            let key = crate::values::partition_key_bytes(&parts)?;
            Some(CqlValue::Bigint(mica_types::Token::for_key(&key).0))
        }
        Scalar::ToJson => {
            let v = decode(&f.args[0], arg(0))?;
            Some(CqlValue::Text(to_json_optional(v.as_ref(), &f.args[0])))
        }
        Scalar::AsBlob => return Ok(arg(0).map(<[u8]>::to_vec)),
        Scalar::BlobAs(ty) => {
            let Some(bytes) = arg(0) else { return Ok(None) };
            if mica_cql_types::validate(ty, bytes).is_err() {
                return Err(invalid(format!(
                    "In call to function {}, value {} is not a valid binary representation for type {}",
                    f.name,
                    mica_cql_types::hex_bytes(bytes),
                    ty.cql_name()
                )));
            }
            return Ok(Some(bytes.to_vec()));
        }
    };
    encode(&f.ret, value)
}

/// The type of parameter `position` of native function `name` when every overload agrees on it (used to
/// describe a bind marker passed as a function argument); `None` when it is unknown or ambiguous.
pub(crate) fn param_type(name: &str, position: usize, table: &TableDef) -> Option<CqlType> {
    let overloads = overloads(name, Some(table))?;
    let mut types = overloads.iter().filter_map(|(_, args, _)| args.get(position));
    let first = types.next()?.clone();
    types.all(|t| *t == first).then_some(first)
}

/// The type of a term used as a function argument, as far as it has one of its own.
fn term_kind(term: &mica_cql_syntax::Term) -> ArgKind {
    use mica_cql_syntax::{Literal, Term};
    match term {
        Term::Literal(l) => ArgKind::Literal(match l {
            Literal::String(_) => LiteralKind::String,
            Literal::Integer(_) => LiteralKind::Integer,
            Literal::Float(_) => LiteralKind::Float,
            Literal::Boolean(_) => LiteralKind::Boolean,
            Literal::Uuid(_) => LiteralKind::Uuid,
            Literal::Blob(_) => LiteralKind::Hex,
            Literal::Duration(_) => LiteralKind::Duration,
        }),
        Term::TypeHint { ty, .. } => {
            crate::ddl::resolve_type(ty, &|_| None).map_or(ArgKind::Untyped, ArgKind::Typed)
        }
        _ => ArgKind::Untyped,
    }
}

/// Evaluates a native function call used as a term (in VALUES, SET or WHERE), e.g.
/// `maxTimeuuid('2013-01-01 00:05+0000')` or `blobAsInt(0x00000001)`, for a receiver of type `ty`.
pub(crate) fn call_term(
    name: &str,
    args: &[mica_cql_syntax::Term],
    ty: &CqlType,
    receiver: &str,
    binds: crate::values::Binds,
) -> Result<CqlValue> {
    let lname = name.to_ascii_lowercase();
    let kinds: Vec<ArgKind> = args.iter().map(term_kind).collect();
    let texts: Vec<String> = args.iter().map(crate::selection::term_text).collect();
    // `token()` needs the table; as a term it only appears in token relations, handled there.
    let f = resolve(None, &lname, &kinds, &texts, None)?;
    if f.ret.unfrozen() != ty.unfrozen() && !matches!(ty, CqlType::Blob | CqlType::Custom(_)) {
        return Err(invalid(format!(
            "Type error: cannot assign result of function {} (type {}) to {receiver} (type {})",
            f.name,
            f.ret.cql_name(),
            ty.cql_name()
        )));
    }
    let mut values = Vec::with_capacity(args.len());
    for (arg, param) in args.iter().zip(&f.args) {
        values.push(match crate::values::eval_bytes(arg, param, receiver, binds)? {
            crate::values::Evaluated::Bytes(b) => Some(b),
            _ => None,
        });
    }
    let out = execute(&f, &values)?.ok_or_else(|| invalid(format!("Invalid null value for {receiver}")))?;
    deserialize(ty, &out).map_err(|e| invalid(e.to_string()))
}
