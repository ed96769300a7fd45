//! What `nodetool rebuild` and `nodetool cleanup` print: nothing on success, as Cassandra 4.1's nodetool
//! (its `Rebuild` and `Cleanup` commands only report failures). The summaries the node answers stay
//! available to API callers such as the control plane.

use mica_node_admin_api as api;

/// `nodetool rebuild` on success.
pub fn rebuild(_summary: &api::RebuildSummary) -> String {
    String::new()
}

/// `nodetool cleanup` on success.
pub fn cleanup(_summary: &api::CleanupSummary) -> String {
    String::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_prints_nothing() {
        assert_eq!(rebuild(&api::RebuildSummary::default()), "");
        assert_eq!(cleanup(&api::CleanupSummary::default()), "");
    }
}
