//! `GET /clusters/{c}/metrics`: read/write throughput and latency time series the control plane computes from
//! its nodes' Prometheus endpoints, per datacenter and for the whole cluster (the portal's Metrics pane).

use serde::{Deserialize, Serialize};

/// The whole answer: one series per datacenter plus one for the cluster.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterMetrics {
    /// Seconds between two points of a series (the collector's scrape interval).
    pub interval_seconds: u64,
    /// The whole cluster first (`dataCenter: null`), then each datacenter by name.
    pub series: Vec<MetricsSeries>,
}

/// The points of one datacenter (or of the whole cluster), oldest first, covering at most the last hour.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricsSeries {
    /// The datacenter, or `None` (JSON `null`) for the whole cluster.
    pub data_center: Option<String>,
    pub points: Vec<MetricsPoint>,
}

/// Rates and latencies over the interval ending at `time`, from coordinator-level client requests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricsPoint {
    /// End of the interval, in seconds since the Unix epoch.
    pub time: i64,
    pub reads_per_second: f64,
    pub writes_per_second: f64,
    #[serde(rename = "readLatencyP99Ms")]
    pub read_latency_p99_ms: f64,
    #[serde(rename = "writeLatencyP99Ms")]
    pub write_latency_p99_ms: f64,
    #[serde(rename = "readLatencyMeanMs")]
    pub read_latency_mean_ms: f64,
    #[serde(rename = "writeLatencyMeanMs")]
    pub write_latency_mean_ms: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_shape_is_the_portals() {
        let m = ClusterMetrics {
            interval_seconds: 10,
            series: vec![MetricsSeries {
                data_center: None,
                points: vec![MetricsPoint {
                    time: 5,
                    writes_per_second: 1.5,
                    ..Default::default()
                }],
            }],
        };
        let text = serde_json::to_string(&m).expect("serialize");
        assert_eq!(
            text,
            r#"{"intervalSeconds":10,"series":[{"dataCenter":null,"points":[{"time":5,"readsPerSecond":0.0,"writesPerSecond":1.5,"readLatencyP99Ms":0.0,"writeLatencyP99Ms":0.0,"readLatencyMeanMs":0.0,"writeLatencyMeanMs":0.0}]}]}"#
        );
    }
}
