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
