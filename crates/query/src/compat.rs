//! The node's compatibility level: the Cassandra release it behaves as (`mica.release_version`) and what
//! that release offers — native protocol versions, CQL language version and version-gated CQL features.
//!
//! Every version-dependent decision asks [`Compatibility`]; a node without a configured release keeps
//! Mica's newest behaviour ([`Compatibility::NEWEST`]).

use mica_cql_protocol::OfferedVersions;
use mica_cql_syntax as ast;
use mica_cql_syntax::Grammar;

use crate::engine::QueryEngine;
use crate::error::{QueryError, Result};

/// A Cassandra release, `major.minor.patch`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CassandraVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl CassandraVersion {
    pub const fn new(major: u32, minor: u32, patch: u32) -> Self {
        CassandraVersion { major, minor, patch }
    }

    /// Parses `4.1.5` or `4.1` (patch 0); `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.trim().split('.').map(|p| p.parse::<u32>().ok());
        let major = parts.next()??;
        let minor = parts.next()??;
        let patch = parts.next().unwrap_or(Some(0))?;
        parts
            .next()
            .is_none()
            .then_some(CassandraVersion::new(major, minor, patch))
    }
}

impl std::fmt::Display for CassandraVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// Something only some Cassandra releases have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Feature {
    /// Native protocol v5 as a released (non-beta) version (4.0; 3.10 and 3.11 offer it as a beta).
    ProtocolV5,
    /// Server-side `DESCRIBE` (4.0).
    ServerSideDescribe,
    /// The `vector<type, n>` type (5.0).
    VectorType,
    /// `ORDER BY ... ANN OF` (5.0).
    AnnOrdering,
    /// `ADD IDENTITY` / `DROP IDENTITY` (5.0).
    Identities,
    /// Dynamic data masking, `MASKED WITH` (5.0).
    ColumnMasks,
    /// Storage-attached indexes: `USING 'sai'` without CUSTOM and the short index class names (5.0).
    SaiIndexes,
}

impl Feature {
    /// The first release that has the feature.
    pub fn since(self) -> CassandraVersion {
        match self {
            Feature::ProtocolV5 | Feature::ServerSideDescribe => CassandraVersion::new(4, 0, 0),
            Feature::VectorType
            | Feature::AnnOrdering
            | Feature::Identities
            | Feature::ColumnMasks
            | Feature::SaiIndexes => CassandraVersion::new(5, 0, 0),
        }
    }
}

/// The compatibility level: a Cassandra release, or the newest behaviour when none is configured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Compatibility(Option<CassandraVersion>);

impl Compatibility {
    /// Everything Mica supports; the level of a node without a configured release.
    pub const NEWEST: Compatibility = Compatibility(None);

    /// Behaves as `version`.
    pub fn release(version: CassandraVersion) -> Self {
        Compatibility(Some(version))
    }

    /// The level for a configured release version text (`None` if it does not parse).
    pub fn from_release_version(text: &str) -> Option<Self> {
        CassandraVersion::parse(text).map(Compatibility::release)
    }

    /// The release behaved as, if one is configured.
    pub fn version(self) -> Option<CassandraVersion> {
        self.0
    }

    /// Whether the release has `feature`.
    pub fn supports(self, feature: Feature) -> bool {
        self.0.is_none_or(|v| v >= feature.since())
    }

    /// The version-dependent grammar the parser recognises.
    pub fn grammar(self) -> Grammar {
        Grammar {
            vector_type: self.supports(Feature::VectorType),
            ann_ordering: self.supports(Feature::AnnOrdering),
            identities: self.supports(Feature::Identities),
            column_masks: self.supports(Feature::ColumnMasks),
            describe: self.supports(Feature::ServerSideDescribe),
        }
    }

    /// The native protocol versions offered: v3 to v5 from 4.0, v5 only as a beta before.
    pub fn protocol_versions(self) -> OfferedVersions {
        if self.supports(Feature::ProtocolV5) {
            OfferedVersions::V3_TO_V5
        } else {
            OfferedVersions::V3_TO_V5_BETA
        }
    }

    /// The CQL language version (SUPPORTED's CQL_VERSION, system.local.cql_version).
    pub fn cql_version(self) -> &'static str {
        match self.0 {
            // Today's default: Cassandra 4.1's.
            None => "3.4.6",
            Some(v) if v < CassandraVersion::new(4, 0, 0) => "3.4.4",
            Some(v) if v < CassandraVersion::new(4, 1, 0) => "3.4.5",
            Some(v) if v < CassandraVersion::new(5, 0, 0) => "3.4.6",
            Some(_) => "3.4.7",
        }
    }

    /// system.local.native_protocol_version: the release's default (newest non-beta) protocol version.
    pub fn native_protocol_version(self) -> &'static str {
        if self.supports(Feature::ProtocolV5) {
            "5"
        } else {
            "4"
        }
    }

    /// Refuses, with the release's own error, statements that parse on every grammar but that the release
    /// rejects later (prepare-time validation).
    pub fn check_statement(self, statement: &mica_cql_syntax::Statement) -> Result<()> {
        if let ast::StatementKind::CreateIndex(index) = &statement.kind {
            self.check_create_index(index)?;
        }
        Ok(())
    }

    /// Before 5.0 an index class needs CUSTOM, and the short SAI names are no classes at all.
    fn check_create_index(self, index: &ast::CreateIndex) -> Result<()> {
        if self.supports(Feature::SaiIndexes) {
            return Ok(());
        }
        match (&index.using, index.custom) {
            (Some(_), false) => Err(QueryError::Invalid(
                "Cannot specify index class for a non-CUSTOM index".into(),
            )),
            // Only 5.0 expands aliases such as 'sai' and 'StorageAttachedIndex' to a class name; older
            // releases look the name up as given.
            (Some(class), true) if !class.contains('.') => Err(QueryError::Config(format!(
                "Unable to find custom indexer class '{class}'"
            ))),
            _ => Ok(()),
        }
    }
}

impl QueryEngine {
    /// The compatibility level this engine behaves at.
    pub fn compatibility(&self) -> Compatibility {
        self.compat.get().copied().unwrap_or_default()
    }

    /// Sets the compatibility level (once, at node start; later calls are ignored).
    pub fn set_compatibility(&self, compat: Compatibility) {
        if self.compat.set(compat).is_err() {
            tracing::warn!("the compatibility level is already set");
        }
    }

    /// Parses a client's statement with the release's grammar and applies its prepare-time gates.
    pub(crate) fn parse_client_statement(&self, query: &str) -> Result<mica_cql_syntax::Statement> {
        let compat = self.compatibility();
        let statement = mica_cql_syntax::parse_statement_with(query, compat.grammar())?;
        compat.check_statement(&statement)?;
        Ok(statement)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(text: &str) -> Compatibility {
        Compatibility::from_release_version(text).expect("valid version")
    }

    #[test]
    fn parses_release_versions() {
        assert_eq!(
            CassandraVersion::parse("3.11.17"),
            Some(CassandraVersion::new(3, 11, 17))
        );
        assert_eq!(
            CassandraVersion::parse(" 5.0 "),
            Some(CassandraVersion::new(5, 0, 0))
        );
        assert_eq!(
            CassandraVersion::parse("4.1.5").map(|v| v.to_string()),
            Some("4.1.5".into())
        );
        for bad in ["", "5", "4.x", "4.1.5.1", "five", "4.1.-1"] {
            assert_eq!(CassandraVersion::parse(bad), None, "{bad}");
        }
        assert!(CassandraVersion::new(3, 11, 17) < CassandraVersion::new(4, 0, 0));
        assert!(CassandraVersion::new(4, 0, 13) < CassandraVersion::new(4, 1, 0));
    }

    #[test]
    fn features_follow_the_release() {
        let v311 = level("3.11.17");
        let v40 = level("4.0.13");
        let v41 = level("4.1.5");
        let v50 = level("5.0.2");
        for f in [
            Feature::VectorType,
            Feature::AnnOrdering,
            Feature::SaiIndexes,
            Feature::Identities,
        ] {
            assert!(!v311.supports(f) && !v40.supports(f) && !v41.supports(f), "{f:?}");
            assert!(v50.supports(f) && Compatibility::NEWEST.supports(f), "{f:?}");
        }
        assert!(!v311.supports(Feature::ServerSideDescribe));
        assert!(v40.supports(Feature::ServerSideDescribe));
        assert_eq!(Compatibility::NEWEST.grammar(), Grammar::FULL);
        assert_eq!(v50.grammar(), Grammar::FULL);
        assert!(!v41.grammar().vector_type && v41.grammar().describe);
    }

    #[test]
    fn protocol_and_cql_versions() {
        assert_eq!(
            level("3.11.17").protocol_versions(),
            OfferedVersions::V3_TO_V5_BETA
        );
        assert_eq!(level("4.0.13").protocol_versions(), OfferedVersions::V3_TO_V5);
        assert_eq!(
            Compatibility::NEWEST.protocol_versions(),
            OfferedVersions::V3_TO_V5
        );
        let cql: Vec<_> = ["3.11.17", "4.0.13", "4.1.5", "5.0.2"]
            .into_iter()
            .map(|v| level(v).cql_version())
            .collect();
        assert_eq!(cql, ["3.4.4", "3.4.5", "3.4.6", "3.4.7"]);
        assert_eq!(Compatibility::NEWEST.cql_version(), "3.4.6");
        assert_eq!(level("3.11.17").native_protocol_version(), "4");
        assert_eq!(level("4.0.13").native_protocol_version(), "5");
    }

    #[test]
    fn index_classes_before_5_0() {
        let check = |compat: Compatibility, cql: &str| {
            let stmt = mica_cql_syntax::parse_statement(cql).expect("parses");
            compat.check_statement(&stmt)
        };
        let v41 = level("4.1.5");
        let err = check(v41, "CREATE INDEX ON ks.t (v) USING 'sai'").expect_err("refused");
        assert!(
            matches!(&err, QueryError::Invalid(m) if m == "Cannot specify index class for a non-CUSTOM index")
        );
        let err = check(
            v41,
            "CREATE CUSTOM INDEX ON ks.t (v) USING 'StorageAttachedIndex'",
        )
        .expect_err("refused");
        assert!(
            matches!(&err, QueryError::Config(m) if m == "Unable to find custom indexer class 'StorageAttachedIndex'")
        );
        assert!(check(v41, "CREATE INDEX ON ks.t (v)").is_ok());
        assert!(check(level("5.0.2"), "CREATE INDEX ON ks.t (v) USING 'sai'").is_ok());
    }
}
