//! Parsing CQL type strings (as stored in `system_schema`) and Java marshal class names (as sent for
//! custom types on the wire), and printing the marshal class names.

use std::sync::Arc;

use crate::types::{CqlType, UdtDef};

/// Why a type string could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TypeParseError(pub String);

/// The Java package every built-in marshal class lives in.
const MARSHAL_PACKAGE: &str = "org.apache.cassandra.db.marshal.";

/// Maximum nesting depth accepted, so a hostile string cannot exhaust the stack.
const MAX_TYPE_DEPTH: usize = 64;

fn native_type(name: &str) -> Option<CqlType> {
    Some(match name {
        "ascii" => CqlType::Ascii,
        "bigint" => CqlType::Bigint,
        "blob" => CqlType::Blob,
        "boolean" => CqlType::Boolean,
        "counter" => CqlType::Counter,
        "decimal" => CqlType::Decimal,
        "double" => CqlType::Double,
        "duration" => CqlType::Duration,
        "float" => CqlType::Float,
        "inet" => CqlType::Inet,
        "int" => CqlType::Int,
        "smallint" => CqlType::Smallint,
        "text" | "varchar" => CqlType::Varchar,
        "time" => CqlType::Time,
        "timestamp" => CqlType::Timestamp,
        "timeuuid" => CqlType::Timeuuid,
        "tinyint" => CqlType::Tinyint,
        "uuid" => CqlType::Uuid,
        "varint" => CqlType::Varint,
        "date" => CqlType::Date,
        _ => return None,
    })
}

/// Parses a CQL type string such as `frozen<map<text, int>>`, `list<frozen<"MyType">>`, `vector<float, 3>`
/// or `'org.example.CustomType'`. User types are looked up with `resolve_udt` (given the unquoted,
/// case-preserved name as stored in the schema).
pub fn parse_type_string(
    text: &str,
    resolve_udt: &dyn Fn(&str) -> Option<Arc<UdtDef>>,
) -> Result<CqlType, TypeParseError> {
    let mut parser = TypeParser {
        src: text,
        pos: 0,
        resolve_udt,
    };
    let ty = parser.parse_type(0)?;
    parser.skip_ws();
    if parser.pos != text.len() {
        return Err(parser.error("unexpected trailing characters"));
    }
    Ok(ty)
}

struct TypeParser<'a> {
    src: &'a str,
    pos: usize,
    resolve_udt: &'a dyn Fn(&str) -> Option<Arc<UdtDef>>,
}

impl<'a> TypeParser<'a> {
    fn error(&self, what: &str) -> TypeParseError {
        TypeParseError(format!(
            "Invalid type '{}': {what} at position {}",
            self.src, self.pos
        ))
    }

    fn rest(&self) -> &str {
        &self.src[self.pos..]
    }

    fn skip_ws(&mut self) {
        let trimmed = self.rest().trim_start();
        self.pos = self.src.len() - trimmed.len();
    }

    fn eat(&mut self, c: char) -> bool {
        self.skip_ws();
        if self.rest().starts_with(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: char) -> Result<(), TypeParseError> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(self.error(&format!("expected '{c}'")))
        }
    }

    /// Reads a quoted string delimited by `quote`, where a doubled quote stands for one.
    fn quoted(&mut self, quote: char) -> Result<String, TypeParseError> {
        let mut out = String::new();
        let mut chars = self.rest().char_indices().skip(1).peekable();
        while let Some((i, c)) = chars.next() {
            if c == quote {
                if chars.peek().is_some_and(|&(_, n)| n == quote) {
                    chars.next();
                    out.push(quote);
                } else {
                    self.pos += i + 1;
                    return Ok(out);
                }
            } else {
                out.push(c);
            }
        }
        Err(self.error("unterminated quoted name"))
    }

    /// Reads an unquoted name (letters, digits, `_` and `.` for class names).
    fn word(&mut self) -> &'a str {
        let src: &'a str = self.src;
        let rest = &src[self.pos..];
        let len = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.'))
            .unwrap_or(rest.len());
        self.pos += len;
        &rest[..len]
    }

    fn parse_type(&mut self, depth: usize) -> Result<CqlType, TypeParseError> {
        if depth > MAX_TYPE_DEPTH {
            return Err(self.error("type nested too deeply"));
        }
        self.skip_ws();
        if self.rest().starts_with('\'') {
            let class = self.quoted('\'')?;
            return Ok(parse_marshal_class(&class).unwrap_or(CqlType::Custom(class)));
        }
        if self.rest().starts_with('"') {
            let name = self.quoted('"')?;
            return self.udt(&name);
        }
        let word = self.word().to_ascii_lowercase();
        if word.is_empty() {
            return Err(self.error("expected a type name"));
        }
        let generic = |p: &mut Self, n: usize| -> Result<Vec<CqlType>, TypeParseError> {
            p.expect('<')?;
            let mut params = Vec::with_capacity(n);
            for i in 0..n {
                if i > 0 {
                    p.expect(',')?;
                }
                params.push(p.parse_type(depth + 1)?);
            }
            p.expect('>')?;
            Ok(params)
        };
        let boxed = |t: Option<CqlType>| Box::new(t.unwrap_or(CqlType::Blob));
        match word.as_str() {
            "list" => Ok(CqlType::List(boxed(generic(self, 1)?.pop()))),
            "set" => Ok(CqlType::Set(boxed(generic(self, 1)?.pop()))),
            "frozen" => {
                let inner = boxed(generic(self, 1)?.pop());
                // A frozen tuple is just a tuple; keep the model canonical.
                Ok(if matches!(*inner, CqlType::Tuple(_) | CqlType::Frozen(_)) {
                    *inner
                } else {
                    CqlType::Frozen(inner)
                })
            }
            "map" => {
                let mut p = generic(self, 2)?.into_iter();
                Ok(CqlType::Map(boxed(p.next()), boxed(p.next())))
            }
            "tuple" => {
                self.expect('<')?;
                let mut elems = vec![self.parse_type(depth + 1)?];
                while self.eat(',') {
                    elems.push(self.parse_type(depth + 1)?);
                }
                self.expect('>')?;
                Ok(CqlType::Tuple(elems))
            }
            "vector" => {
                self.expect('<')?;
                let elem = self.parse_type(depth + 1)?;
                self.expect(',')?;
                self.skip_ws();
                let dim = self.word().parse::<u32>().ok().filter(|&d| d > 0);
                let dim = dim.ok_or_else(|| self.error("expected a positive vector dimension"))?;
                self.expect('>')?;
                Ok(CqlType::Vector(Box::new(elem), dim))
            }
            other => match native_type(other) {
                Some(t) => Ok(t),
                None => self.udt(&word),
            },
        }
    }

    fn udt(&self, name: &str) -> Result<CqlType, TypeParseError> {
        (self.resolve_udt)(name)
            .map(CqlType::Udt)
            .ok_or_else(|| TypeParseError(format!("Unknown type {}", crate::types::quote_identifier(name))))
    }
}

impl CqlType {
    /// The fully qualified Java marshal class name, as used for custom types in the protocol's type options
    /// (e.g. `org.apache.cassandra.db.marshal.VectorType(org.apache.cassandra.db.marshal.FloatType,3)`).
    pub fn marshal_class(&self) -> String {
        let simple = match self {
            CqlType::Custom(class) => return class.clone(),
            CqlType::Ascii => "AsciiType",
            CqlType::Bigint => "LongType",
            CqlType::Blob => "BytesType",
            CqlType::Boolean => "BooleanType",
            CqlType::Counter => "CounterColumnType",
            CqlType::Decimal => "DecimalType",
            CqlType::Double => "DoubleType",
            CqlType::Float => "FloatType",
            CqlType::Int => "Int32Type",
            CqlType::Timestamp => "TimestampType",
            CqlType::Uuid => "UUIDType",
            CqlType::Varchar => "UTF8Type",
            CqlType::Varint => "IntegerType",
            CqlType::Timeuuid => "TimeUUIDType",
            CqlType::Inet => "InetAddressType",
            CqlType::Date => "SimpleDateType",
            CqlType::Time => "TimeType",
            CqlType::Smallint => "ShortType",
            CqlType::Tinyint => "ByteType",
            CqlType::Duration => "DurationType",
            CqlType::List(e) => return format!("{MARSHAL_PACKAGE}ListType({})", e.marshal_class()),
            CqlType::Set(e) => return format!("{MARSHAL_PACKAGE}SetType({})", e.marshal_class()),
            CqlType::Map(k, v) => {
                return format!(
                    "{MARSHAL_PACKAGE}MapType({},{})",
                    k.marshal_class(),
                    v.marshal_class()
                );
            }
            CqlType::Tuple(es) => {
                let inner: Vec<String> = es.iter().map(CqlType::marshal_class).collect();
                return format!("{MARSHAL_PACKAGE}TupleType({})", inner.join(","));
            }
            CqlType::Frozen(inner) => {
                return format!("{MARSHAL_PACKAGE}FrozenType({})", inner.marshal_class());
            }
            CqlType::Vector(e, n) => {
                return format!("{MARSHAL_PACKAGE}VectorType({},{n})", e.marshal_class());
            }
            CqlType::Udt(def) => {
                let mut s = format!(
                    "{MARSHAL_PACKAGE}UserType({},{}",
                    def.keyspace,
                    hex(def.name.as_bytes())
                );
                for (name, ty) in &def.fields {
                    s.push_str(&format!(",{}:{}", hex(name.as_bytes()), ty.marshal_class()));
                }
                s.push(')');
                return s;
            }
        };
        format!("{MARSHAL_PACKAGE}{simple}")
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Parses a Java marshal class name (with or without the package prefix) into a type. Returns `None`
/// for classes that are not built-in CQL types; callers then keep them as [`CqlType::Custom`].
pub fn parse_marshal_class(class: &str) -> Option<CqlType> {
    let (ty, rest) = parse_marshal(class.trim(), 0)?;
    rest.trim().is_empty().then_some(ty)
}

/// Splits `text` into a class name and, if present, its parenthesised argument list; returns the type and
/// the unparsed remainder.
fn parse_marshal(text: &str, depth: usize) -> Option<(CqlType, &str)> {
    if depth > MAX_TYPE_DEPTH {
        return None;
    }
    let end = text.find(['(', ',', ')', ':']).unwrap_or(text.len());
    let name = text[..end].trim();
    let name = name.strip_prefix(MARSHAL_PACKAGE).unwrap_or(name);
    let mut rest = &text[end..];
    let mut args: Vec<&str> = Vec::new();
    if let Some(inner) = rest.strip_prefix('(') {
        // Find the matching parenthesis and split top-level arguments on commas.
        let mut level = 0usize;
        let mut start = 0;
        let mut close = None;
        for (i, c) in inner.char_indices() {
            match c {
                '(' => level += 1,
                ')' if level == 0 => {
                    close = Some(i);
                    break;
                }
                ')' => level -= 1,
                ',' if level == 0 => {
                    args.push(&inner[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        let close = close?;
        args.push(&inner[start..close]);
        rest = &inner[close + 1..];
    }
    let one = |a: &str| parse_marshal_class(a).map(Box::new);
    let ty = match (name, args.as_slice()) {
        ("ListType", [e]) => CqlType::List(one(e)?),
        ("SetType", [e]) => CqlType::Set(one(e)?),
        ("MapType", [k, v]) => CqlType::Map(one(k)?, one(v)?),
        ("FrozenType", [e]) => match parse_marshal_class(e)? {
            t @ CqlType::Tuple(_) => t,
            t => CqlType::Frozen(Box::new(t)),
        },
        // Clustering order is tracked separately from the value type.
        ("ReversedType", [e]) => parse_marshal_class(e)?,
        ("TupleType", es) => {
            CqlType::Tuple(es.iter().map(|e| parse_marshal_class(e)).collect::<Option<_>>()?)
        }
        ("VectorType", [e, n]) => CqlType::Vector(one(e)?, n.trim().parse().ok()?),
        ("UserType", [ks, name, fields @ ..]) => {
            let name = String::from_utf8(unhex(name.trim())?).ok()?;
            let fields = fields
                .iter()
                .map(|f| {
                    let (n, t) = f.split_once(':')?;
                    Some((String::from_utf8(unhex(n.trim())?).ok()?, parse_marshal_class(t)?))
                })
                .collect::<Option<Vec<_>>>()?;
            CqlType::Udt(Arc::new(UdtDef {
                keyspace: ks.trim().to_string(),
                name,
                fields,
            }))
        }
        (simple, []) => match simple {
            "AsciiType" => CqlType::Ascii,
            "LongType" => CqlType::Bigint,
            "BytesType" => CqlType::Blob,
            "BooleanType" => CqlType::Boolean,
            "CounterColumnType" => CqlType::Counter,
            "DecimalType" => CqlType::Decimal,
            "DoubleType" => CqlType::Double,
            "FloatType" => CqlType::Float,
            "Int32Type" => CqlType::Int,
            "TimestampType" | "DateType" => CqlType::Timestamp,
            "UUIDType" | "LexicalUUIDType" => CqlType::Uuid,
            "UTF8Type" => CqlType::Varchar,
            "IntegerType" => CqlType::Varint,
            "TimeUUIDType" => CqlType::Timeuuid,
            "InetAddressType" => CqlType::Inet,
            "SimpleDateType" => CqlType::Date,
            "TimeType" => CqlType::Time,
            "ShortType" => CqlType::Smallint,
            "ByteType" => CqlType::Tinyint,
            "DurationType" => CqlType::Duration,
            _ => return None,
        },
        _ => return None,
    };
    Some((ty, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_udts(_: &str) -> Option<Arc<UdtDef>> {
        None
    }

    fn address() -> Arc<UdtDef> {
        Arc::new(UdtDef {
            keyspace: "ks".into(),
            name: "Address".into(),
            fields: vec![("street".into(), CqlType::Varchar), ("zip".into(), CqlType::Int)],
        })
    }

    #[test]
    fn parses_and_prints_type_strings() {
        for (input, printed) in [
            ("int", "int"),
            ("varchar", "text"),
            ("TEXT", "text"),
            ("frozen<map<text, int>>", "frozen<map<text, int>>"),
            ("list<frozen<set<bigint>>>", "list<frozen<set<bigint>>>"),
            ("tuple<int,text>", "frozen<tuple<int, text>>"),
            (
                "frozen<tuple<int, tuple<int, blob>>>",
                "frozen<tuple<int, frozen<tuple<int, blob>>>>",
            ),
            ("vector<float, 3>", "vector<float, 3>"),
            (
                "map<timeuuid, frozen<list<int>>>",
                "map<timeuuid, frozen<list<int>>>",
            ),
            ("'com.example.Foo'", "'com.example.Foo'"),
            ("'org.apache.cassandra.db.marshal.Int32Type'", "int"),
        ] {
            let ty = parse_type_string(input, &no_udts).unwrap();
            assert_eq!(ty.cql_name(), printed, "{input}");
            assert_eq!(parse_type_string(&ty.cql_name(), &no_udts).unwrap(), ty);
        }
    }

    #[test]
    fn resolves_user_types() {
        let resolve = |n: &str| (n == "Address").then(address);
        let ty = parse_type_string("list<frozen<\"Address\">>", &resolve).unwrap();
        assert_eq!(
            ty,
            CqlType::List(Box::new(CqlType::Frozen(Box::new(CqlType::Udt(address())))))
        );
        assert_eq!(ty.cql_name(), "list<frozen<\"Address\">>");
        let err = parse_type_string("frozen<address>", &resolve).unwrap_err();
        assert_eq!(err.to_string(), "Unknown type address");
    }

    #[test]
    fn nested_collections_and_udts_print_frozen() {
        let udt = CqlType::Udt(address());
        let ty = CqlType::Frozen(Box::new(CqlType::List(Box::new(udt.clone()))));
        assert_eq!(ty.cql_name(), "frozen<list<frozen<\"Address\">>>");
        let ty = CqlType::Map(
            Box::new(CqlType::Int),
            Box::new(CqlType::Set(Box::new(CqlType::Int))),
        );
        assert_eq!(ty.cql_name(), "map<int, frozen<set<int>>>");
        assert_eq!(
            CqlType::Tuple(vec![udt]).cql_name(),
            "frozen<tuple<frozen<\"Address\">>>"
        );
    }

    #[test]
    fn rejects_malformed_strings() {
        for bad in [
            "",
            "list<int",
            "map<int>",
            "int>",
            "vector<float, 0>",
            "list<>",
            "frozen<int,int>",
        ] {
            assert!(parse_type_string(bad, &no_udts).is_err(), "{bad}");
        }
    }

    #[test]
    fn marshal_class_round_trip() {
        let udt = CqlType::Udt(address());
        assert_eq!(
            udt.marshal_class(),
            "org.apache.cassandra.db.marshal.UserType(ks,41646472657373,\
             737472656574:org.apache.cassandra.db.marshal.UTF8Type,\
             7a6970:org.apache.cassandra.db.marshal.Int32Type)"
        );
        let vector = CqlType::Vector(Box::new(CqlType::Float), 3);
        assert_eq!(
            vector.marshal_class(),
            "org.apache.cassandra.db.marshal.VectorType(org.apache.cassandra.db.marshal.FloatType,3)"
        );
        for ty in [
            udt,
            vector,
            CqlType::Frozen(Box::new(CqlType::Map(
                Box::new(CqlType::Varchar),
                Box::new(CqlType::Int),
            ))),
            CqlType::Tuple(vec![CqlType::Int, CqlType::List(Box::new(CqlType::Duration))]),
            CqlType::Set(Box::new(CqlType::Timeuuid)),
        ] {
            assert_eq!(parse_marshal_class(&ty.marshal_class()), Some(ty.clone()));
        }
        assert_eq!(parse_marshal_class("ReversedType(Int32Type)"), Some(CqlType::Int));
        assert_eq!(parse_marshal_class("com.example.Foo"), None);
    }

    #[test]
    fn type_predicates() {
        let list = CqlType::List(Box::new(CqlType::Int));
        assert!(list.is_collection() && list.is_multicell());
        let frozen = CqlType::Frozen(Box::new(list.clone()));
        assert!(frozen.is_collection() && !frozen.is_multicell() && frozen.is_frozen());
        assert!(CqlType::Udt(address()).is_multicell());
        assert!(!CqlType::Tuple(vec![CqlType::Int]).is_multicell());
        assert!(CqlType::Counter.is_counter());
        assert_eq!(crate::types::quote_identifier("select"), "\"select\"");
        assert_eq!(crate::types::quote_identifier("a\"b"), "\"a\"\"b\"");
        assert_eq!(crate::types::quote_identifier("key"), "key");
    }
}
