//! The CQL type model shared by the protocol (result metadata), schema and query crates.

use std::sync::Arc;

/// A fully resolved CQL type. User-defined types carry their field list so values can be (de)serialized
/// without a schema lookup.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CqlType {
    /// A custom type given by its Java class name (protocol option 0x0000).
    Custom(String),
    Ascii,
    Bigint,
    Blob,
    Boolean,
    Counter,
    Decimal,
    Double,
    Float,
    Int,
    Timestamp,
    Uuid,
    Varchar,
    Varint,
    Timeuuid,
    Inet,
    Date,
    Time,
    Smallint,
    Tinyint,
    Duration,
    List(Box<CqlType>),
    Set(Box<CqlType>),
    Map(Box<CqlType>, Box<CqlType>),
    Tuple(Vec<CqlType>),
    Udt(Arc<UdtDef>),
    /// `frozen<...>` around a collection or UDT. Frozen values are stored and compared as a single blob.
    Frozen(Box<CqlType>),
    /// `vector<element, dimension>` (Cassandra 5.0; sent as a custom type on the wire).
    Vector(Box<CqlType>, u32),
}

/// A user-defined type's definition: keyspace, name and ordered fields.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct UdtDef {
    pub keyspace: String,
    pub name: String,
    pub fields: Vec<(String, CqlType)>,
}

impl CqlType {
    /// The type as Cassandra prints it in `system_schema.columns.type` and `DESCRIBE` output.
    pub fn cql_name(&self) -> String {
        let mut out = String::new();
        self.write_cql_name(&mut out, false);
        out
    }

    /// Writes the name; `nested` is true inside a collection, tuple or vector, where Cassandra always
    /// freezes (and prints as frozen) collections and user types.
    fn write_cql_name(&self, out: &mut String, nested: bool) {
        if nested
            && matches!(
                self,
                CqlType::List(_) | CqlType::Set(_) | CqlType::Map(..) | CqlType::Udt(_)
            )
        {
            out.push_str("frozen<");
            self.write_cql_name(out, false);
            out.push('>');
            return;
        }
        let simple = match self {
            CqlType::Custom(class) => {
                out.push('\'');
                out.push_str(&class.replace('\'', "''"));
                out.push('\'');
                return;
            }
            CqlType::Ascii => "ascii",
            CqlType::Bigint => "bigint",
            CqlType::Blob => "blob",
            CqlType::Boolean => "boolean",
            CqlType::Counter => "counter",
            CqlType::Decimal => "decimal",
            CqlType::Double => "double",
            CqlType::Float => "float",
            CqlType::Int => "int",
            CqlType::Timestamp => "timestamp",
            CqlType::Uuid => "uuid",
            CqlType::Varchar => "text",
            CqlType::Varint => "varint",
            CqlType::Timeuuid => "timeuuid",
            CqlType::Inet => "inet",
            CqlType::Date => "date",
            CqlType::Time => "time",
            CqlType::Smallint => "smallint",
            CqlType::Tinyint => "tinyint",
            CqlType::Duration => "duration",
            CqlType::List(e) => return Self::write_generic(out, "list", &[e], None),
            CqlType::Set(e) => return Self::write_generic(out, "set", &[e], None),
            CqlType::Map(k, v) => return Self::write_generic(out, "map", &[k, v], None),
            // Cassandra always treats tuples as frozen and prints them that way.
            CqlType::Tuple(elems) => {
                out.push_str("frozen<");
                Self::write_generic(out, "tuple", &elems.iter().collect::<Vec<_>>(), None);
                out.push('>');
                return;
            }
            CqlType::Frozen(inner) if matches!(**inner, CqlType::Tuple(_) | CqlType::Frozen(_)) => {
                return inner.write_cql_name(out, nested);
            }
            CqlType::Frozen(inner) => {
                out.push_str("frozen<");
                inner.write_cql_name(out, false);
                out.push('>');
                return;
            }
            CqlType::Udt(def) => {
                out.push_str(&quote_identifier(&def.name));
                return;
            }
            CqlType::Vector(e, n) => return Self::write_generic(out, "vector", &[e], Some(*n)),
        };
        out.push_str(simple);
    }

    fn write_generic(out: &mut String, name: &str, params: &[&CqlType], dimension: Option<u32>) {
        out.push_str(name);
        out.push('<');
        for (i, p) in params.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            p.write_cql_name(out, true);
        }
        if let Some(n) = dimension {
            out.push_str(", ");
            out.push_str(&n.to_string());
        }
        out.push('>');
    }

    /// The type with any `frozen<...>` wrapper removed (values of both are encoded identically).
    pub fn unfrozen(&self) -> &CqlType {
        match self {
            CqlType::Frozen(inner) => inner.unfrozen(),
            other => other,
        }
    }

    /// True for list, set and map types, frozen or not.
    pub fn is_collection(&self) -> bool {
        matches!(
            self.unfrozen(),
            CqlType::List(_) | CqlType::Set(_) | CqlType::Map(..)
        )
    }

    /// True for non-frozen collections and UDTs, which are stored as one cell per element/field.
    pub fn is_multicell(&self) -> bool {
        matches!(
            self,
            CqlType::List(_) | CqlType::Set(_) | CqlType::Map(..) | CqlType::Udt(_)
        )
    }

    /// True for a `frozen<...>` type (tuples count as frozen too).
    pub fn is_frozen(&self) -> bool {
        matches!(self, CqlType::Frozen(_) | CqlType::Tuple(_))
    }

    pub fn is_counter(&self) -> bool {
        matches!(self, CqlType::Counter)
    }

    /// True for ascii and text, whose JSON map keys and literals are plain strings.
    pub fn is_string(&self) -> bool {
        matches!(self, CqlType::Ascii | CqlType::Varchar)
    }

    /// True when the type, or any type nested in it, is a counter.
    pub fn references_counter(&self) -> bool {
        self.any_nested(&|t| t.is_counter())
    }

    /// True when `pred` holds for this type or any type nested inside it.
    pub fn any_nested(&self, pred: &dyn Fn(&CqlType) -> bool) -> bool {
        if pred(self) {
            return true;
        }
        match self {
            CqlType::List(t) | CqlType::Set(t) | CqlType::Frozen(t) | CqlType::Vector(t, _) => {
                t.any_nested(pred)
            }
            CqlType::Map(k, v) => k.any_nested(pred) || v.any_nested(pred),
            CqlType::Tuple(ts) => ts.iter().any(|t| t.any_nested(pred)),
            CqlType::Udt(def) => def.fields.iter().any(|(_, t)| t.any_nested(pred)),
            _ => false,
        }
    }

    /// The fixed serialized size of this type's values inside a vector, or `None` when elements are
    /// length-prefixed (Cassandra's `valueLengthIfFixed`).
    pub fn fixed_vector_element_size(&self) -> Option<usize> {
        match self {
            CqlType::Boolean => Some(1),
            CqlType::Int | CqlType::Float => Some(4),
            CqlType::Bigint | CqlType::Double | CqlType::Timestamp | CqlType::Counter => Some(8),
            CqlType::Uuid | CqlType::Timeuuid => Some(16),
            CqlType::Vector(e, n) => e.fixed_vector_element_size().map(|s| s * *n as usize),
            _ => None,
        }
    }
}

impl std::fmt::Display for CqlType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.cql_name())
    }
}

pub use mica_types::ident::{is_reserved_keyword, quote_identifier};
