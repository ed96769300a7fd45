//! Small newtypes shared by every Mica crate: tokens, write timestamps, host ids, CQL identifier quoting.
//!
//! This crate has no dependencies on other Mica crates and no I/O; it exists so that the protocol,
//! syntax, storage and cluster crates can agree on a handful of primitive types.

pub mod ident;
mod murmur3;

pub use murmur3::murmur3_token;
pub use uuid::Uuid;

/// A position on the Murmur3Partitioner ring, `i64::MIN` excluded (Cassandra maps it to `i64::MAX`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub struct Token(pub i64);

impl Token {
    /// The token Murmur3Partitioner assigns to a serialized partition key.
    pub fn for_key(partition_key: &[u8]) -> Token {
        Token(murmur3_token(partition_key))
    }

    /// Big-endian bytes whose lexicographic order is the token order (sign bit flipped).
    pub fn to_ordered_bytes(self) -> [u8; 8] {
        ((self.0 as u64) ^ (1 << 63)).to_be_bytes()
    }

    /// Inverse of [`Token::to_ordered_bytes`].
    pub fn from_ordered_bytes(bytes: [u8; 8]) -> Token {
        Token((u64::from_be_bytes(bytes) ^ (1 << 63)) as i64)
    }
}

impl std::fmt::Display for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A write timestamp in microseconds since the Unix epoch, as CQL's `USING TIMESTAMP` and `writetime()` use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// The current wall-clock time in microseconds.
    pub fn now() -> Timestamp {
        let micros = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_micros() as i64)
            .unwrap_or(0);
        Timestamp(micros)
    }
}

/// Seconds since the Unix epoch, the unit Cassandra uses for TTL expiry and local deletion times.
pub fn now_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The identity of a node, stable across restarts (system.local host_id).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HostId(pub Uuid);

impl std::fmt::Display for HostId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}
