//! Supported Cassandra versions (`cassandraVersion`), their order for one-step updates, and the release version a
//! node of each reports to clients.

/// A supported Cassandra major.minor version, ordered oldest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum CassandraVersion {
    V3_11,
    V4_0,
    V4_1,
    V5_0,
}

/// Every supported version, oldest first: updates move one position at a time.
pub const VERSIONS: &[CassandraVersion] = &[
    CassandraVersion::V3_11,
    CassandraVersion::V4_0,
    CassandraVersion::V4_1,
    CassandraVersion::V5_0,
];

/// The version of a cluster created without one.
pub const DEFAULT_CASSANDRA_VERSION: &str = "4.1";

impl CassandraVersion {
    pub fn as_str(self) -> &'static str {
        match self {
            CassandraVersion::V3_11 => "3.11",
            CassandraVersion::V4_0 => "4.0",
            CassandraVersion::V4_1 => "4.1",
            CassandraVersion::V5_0 => "5.0",
        }
    }

    /// Parses `3.11`, `4.0`, `4.1` or `5.0`.
    pub fn parse(text: &str) -> Option<CassandraVersion> {
        VERSIONS.iter().copied().find(|v| v.as_str() == text.trim())
    }

    /// The only version this one may be updated to.
    pub fn next(self) -> Option<CassandraVersion> {
        let i = VERSIONS.iter().position(|v| *v == self)?;
        VERSIONS.get(i + 1).copied()
    }

    /// The `mica.release_version` nodes of this version report (the newest patch release Mica models).
    pub fn release_version(self) -> &'static str {
        match self {
            CassandraVersion::V3_11 => "3.11.17",
            CassandraVersion::V4_0 => "4.0.13",
            CassandraVersion::V4_1 => "4.1.5",
            CassandraVersion::V5_0 => "5.0.2",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_and_next() {
        assert_eq!(
            CassandraVersion::parse("3.11").and_then(CassandraVersion::next),
            Some(CassandraVersion::V4_0)
        );
        assert_eq!(CassandraVersion::V5_0.next(), None);
        assert!(CassandraVersion::V4_0 < CassandraVersion::V4_1);
        assert!(CassandraVersion::parse(DEFAULT_CASSANDRA_VERSION).is_some());
        assert_eq!(CassandraVersion::parse("4"), None);
    }
}
