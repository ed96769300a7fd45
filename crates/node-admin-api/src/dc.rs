//! Wire types of the admin API's multi-datacenter maintenance endpoints: `nodetool rebuild` (stream this
//! node's ranges from another datacenter) and `nodetool cleanup` (drop partitions the node no longer
//! replicates). The control plane calls the same endpoints.

use serde::{Deserialize, Serialize};

/// `POST` [`RebuildRequest`]: streams the node's ranges from `source_dc`; answers [`RebuildSummary`]
/// (4xx with Cassandra's message for an unknown datacenter or keyspace, or a range without a live source).
pub const REBUILD: &str = "/v1/rebuild";
/// `POST` [`crate::TablesRequest`]: removes the partitions the node no longer replicates; answers
/// [`CleanupSummary`].
pub const CLEANUP: &str = "/v1/cleanup";

/// What to rebuild.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RebuildRequest {
    /// The datacenter to stream from.
    pub source_dc: String,
    /// Only this keyspace (nodetool's `-ks`); every replicated keyspace when absent.
    #[serde(default)]
    pub keyspace: Option<String>,
    /// Only these ranges `(start, end]` (nodetool's `-ts`, which needs `-ks`).
    #[serde(default)]
    pub tokens: Option<Vec<(i64, i64)>>,
}

/// What a rebuild streamed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RebuildSummary {
    pub keyspaces: Vec<String>,
    pub tables: u64,
    pub ranges: u64,
    pub partitions: u64,
    pub bytes: u64,
}

/// What a cleanup removed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CleanupSummary {
    pub tables: u64,
    pub partitions_scanned: u64,
    pub partitions_removed: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rebuild_request_defaults() {
        let r: RebuildRequest = serde_json::from_str(r#"{"sourceDc":"dc1"}"#).expect("parse");
        assert_eq!(r.source_dc, "dc1");
        assert!(r.keyspace.is_none() && r.tokens.is_none());
        let r = RebuildRequest {
            source_dc: "dc1".into(),
            keyspace: Some("ks".into()),
            tokens: Some(vec![(-5, 7)]),
        };
        let text = serde_json::to_string(&r).expect("json");
        assert_eq!(serde_json::from_str::<RebuildRequest>(&text).expect("parse"), r);
    }
}
