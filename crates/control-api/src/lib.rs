//! The Mica control plane's REST API: request and response types shaped like Azure's
//! `Microsoft.DocumentDB/cassandraClusters` resources ([`types`]), the resource tiers ([`sku`]), supported
//! Cassandra versions ([`version`]) and every validation rule ([`validate`]). Serde lives only here, at the edge;
//! the server, the CLI and tests share these types.

pub mod metrics;
pub mod sku;
pub mod types;
pub mod validate;
pub mod version;

pub use metrics::{ClusterMetrics, MetricsPoint, MetricsSeries};
pub use sku::{DEFAULT_SKU, SKUS, Sku, find_sku};
pub use types::*;
pub use validate::{ValidationError, validate_cluster_name, validate_data_center_name};
pub use version::{CassandraVersion, DEFAULT_CASSANDRA_VERSION, VERSIONS};

/// Path of the OpenAPI document.
pub const OPENAPI_PATH: &str = "/openapi.json";

/// The serialized form never carries the write-only admin password.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_is_write_only_and_names_are_azures() {
        let body = r#"{"properties":{"cassandraVersion":"4.0","initialCassandraAdminPassword":"pw-123456",
            "clusterType":"NonProduction","clientCertificates":[{"pem":"x"}],"autoReplicate":"AllKeyspaces"}}"#;
        let cluster: ClusterResource = serde_json::from_str(body).expect("parse");
        assert_eq!(
            cluster.properties.initial_cassandra_admin_password.as_deref(),
            Some("pw-123456")
        );
        assert_eq!(cluster.properties.cluster_type, Some(ClusterType::NonProduction));
        let text = serde_json::to_string(&cluster).expect("serialize");
        assert!(
            !text.contains("pw-123456") && !text.contains("initialCassandraAdminPassword"),
            "{text}"
        );
        assert!(
            text.contains("\"clientCertificates\":[{\"pem\":\"x\"}]"),
            "{text}"
        );

        let dc: DataCenterResource = serde_json::from_str(
            r#"{"properties":{"nodeCount":-1,"base64EncodedCassandraYamlFragment":"eA=="}}"#,
        )
        .expect("parse dc");
        assert_eq!(dc.properties.node_count, Some(-1));
        let status = NodeStatus {
            address: "127.0.0.1".into(),
            state: "Normal".into(),
            status: "Up".into(),
            load: None,
            tokens: vec![],
            owns: None,
            host_id: Some("h".into()),
            rack: None,
            timestamp: 0,
            disk_used_kb: Some(1),
            disk_free_kb: None,
            memory_used_kb: None,
            memory_total_kb: None,
            cpu_usage: None,
        };
        let text = serde_json::to_string(&status).expect("serialize status");
        assert!(
            text.contains("\"hostID\":\"h\"") && text.contains("\"diskUsedKB\":1"),
            "{text}"
        );
    }
}
