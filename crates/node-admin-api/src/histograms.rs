//! Wire types of `nodetool proxyhistograms` and `nodetool tablehistograms`: Cassandra's seven rows
//! (50%, 75%, 95%, 98%, 99%, Min, Max) of each histogram, latencies already in microseconds.

use serde::{Deserialize, Serialize};

/// GET: coordinator latencies ([`ProxyHistograms`]).
pub const PROXY_HISTOGRAMS: &str = "/v1/proxyhistograms";
/// GET `?keyspace=&table=`: local per-table histograms ([`TableHistograms`], one per table).
pub const TABLE_HISTOGRAMS: &str = "/v1/tablehistograms";

/// The row labels Cassandra's nodetool prints, in order.
pub const PERCENTILE_ROWS: [&str; 7] = ["50%", "75%", "95%", "98%", "99%", "Min", "Max"];

/// One histogram as nodetool shows it: the seven rows of [`PERCENTILE_ROWS`] plus how many values it holds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Percentiles {
    pub rows: [f64; 7],
    pub count: u64,
}

/// Client request latencies of the node as coordinator, in microseconds, cumulative since it started.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProxyHistograms {
    pub read: Percentiles,
    pub write: Percentiles,
    pub range: Percentiles,
    pub cas_read: Percentiles,
    pub cas_write: Percentiles,
    pub view_write: Percentiles,
}

/// One table's local histograms.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TableHistograms {
    pub keyspace: String,
    pub table: String,
    /// Local single-partition read latencies in microseconds.
    pub read_latency: Percentiles,
    /// Local write latencies in microseconds.
    pub write_latency: Percentiles,
    /// Storage runs touched per read: the engine does not report it, so always zeros.
    pub sstables: Percentiles,
    /// Partition sizes in bytes over a sample of the table's partitions; `None` when it holds none.
    pub partition_size: Option<Percentiles>,
    /// Cells per partition over the same sample.
    pub cell_count: Option<Percentiles>,
}
