//! Names shared by the node's Prometheus endpoint (`GET /metrics`) and the control plane's collector: the path,
//! the metric families and the latency bucket bounds. See docs/metrics.md for what each family measures.

/// `GET`: the node's metrics in Prometheus text exposition format 0.0.4. Unlike every other admin endpoint it
/// needs no bearer token (Prometheus scrapers usually have none); it is read-only and reveals only counts,
/// sizes and keyspace/table names.
pub const METRICS: &str = "/metrics";
/// The content type of [`METRICS`].
pub const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Histogram of coordinator-level client request latencies, label `operation` (one of [`OPERATIONS`]).
pub const CLIENT_REQUEST_LATENCY: &str = "mica_client_request_latency_seconds";
/// Histogram of local per-table read latencies, labels `keyspace` and `table`.
pub const TABLE_READ_LATENCY: &str = "mica_table_read_latency_seconds";
/// Histogram of local per-table write latencies, labels `keyspace` and `table`.
pub const TABLE_WRITE_LATENCY: &str = "mica_table_write_latency_seconds";
/// Gauge of the bytes of a table's live data on disk, labels `keyspace` and `table`.
pub const TABLE_LIVE_DISK_SPACE_USED: &str = "mica_table_live_disk_space_used_bytes";

/// `operation` label of single-partition client reads.
pub const OPERATION_READ: &str = "read";
/// `operation` label of client writes (INSERT, UPDATE, DELETE, BATCH without conditions).
pub const OPERATION_WRITE: &str = "write";
/// Every `operation` label value of [`CLIENT_REQUEST_LATENCY`], after Cassandra's `ClientRequest` scopes
/// (Read, Write, RangeSlice, CASRead, CASWrite).
pub const OPERATIONS: &[&str] = &[
    OPERATION_READ,
    OPERATION_WRITE,
    "range_read",
    "cas_read",
    "cas_write",
];

/// Upper bounds of the latency histograms' buckets in nanoseconds with their `le` label (seconds); the
/// `+Inf` bucket follows. Fine enough below 10 ms for useful p99 estimates, coarse beyond.
pub const LATENCY_BUCKETS: &[(u64, &str)] = &[
    (100_000, "0.0001"),
    (250_000, "0.00025"),
    (500_000, "0.0005"),
    (750_000, "0.00075"),
    (1_000_000, "0.001"),
    (1_500_000, "0.0015"),
    (2_000_000, "0.002"),
    (3_000_000, "0.003"),
    (5_000_000, "0.005"),
    (7_500_000, "0.0075"),
    (10_000_000, "0.01"),
    (15_000_000, "0.015"),
    (25_000_000, "0.025"),
    (50_000_000, "0.05"),
    (75_000_000, "0.075"),
    (100_000_000, "0.1"),
    (250_000_000, "0.25"),
    (500_000_000, "0.5"),
    (1_000_000_000, "1"),
    (2_500_000_000, "2.5"),
    (5_000_000_000, "5"),
    (10_000_000_000, "10"),
];
