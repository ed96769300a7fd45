//! `GET /metrics` on the node admin API: what the node already measures (coordinator request latencies, local
//! per-table latencies, disk space, memory, CPU, uptime) in Prometheus text exposition format 0.0.4.
//!
//! The endpoint needs no bearer token, because Prometheus scrapers usually have none; it is GET-only and
//! exposes counts, sizes and keyspace/table names, never data. Rendering copies the lock-free histograms'
//! counters (relaxed atomic loads) and reads storage sizes off the async workers; request paths never wait for
//! it. Metric names are documented in docs/metrics.md and defined in `mica_node_admin_api::metrics`.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use mica_node_admin_api::metrics::{
    CLIENT_REQUEST_LATENCY, LATENCY_BUCKETS, METRICS, METRICS_CONTENT_TYPE, OPERATIONS,
    TABLE_LIVE_DISK_SPACE_USED, TABLE_READ_LATENCY, TABLE_WRITE_LATENCY,
};
use mica_storage::TableId;
use mica_storage::metrics::{BUCKET_COUNT, Histogram, HistogramSnapshot, bucket_offsets};

use crate::admin::{AdminError, AdminState, server_error};

/// Nanoseconds per second: histograms record nanoseconds, Prometheus wants seconds.
const NANOS_PER_SECOND: f64 = 1e9;
/// Bytes per kibibyte (/proc reports memory in kB).
const BYTES_PER_KB: u64 = 1024;

/// The route, merged into the admin router outside its token check.
pub(crate) fn routes() -> Router<Arc<AdminState>> {
    Router::new().route(METRICS, get(metrics))
}

async fn metrics(State(state): State<Arc<AdminState>>) -> Result<Response, AdminError> {
    // Table sizes come from the storage engine, which may touch the disk: keep that off the async workers.
    let reading = tokio::task::spawn_blocking(move || read_node(&state))
        .await
        .map_err(server_error)??;
    Ok(([(header::CONTENT_TYPE, METRICS_CONTENT_TYPE)], render(&reading)).into_response())
}

/// A latency histogram's counts and sum at one moment.
#[derive(Debug, Default)]
pub(crate) struct LatencyReading {
    pub snapshot: HistogramSnapshot,
    pub sum_nanos: u64,
}

impl LatencyReading {
    fn of(histogram: &Histogram) -> LatencyReading {
        LatencyReading {
            snapshot: histogram.snapshot(),
            sum_nanos: histogram.sum(),
        }
    }
}

/// One table's readings.
#[derive(Debug, Default)]
pub(crate) struct TableReading {
    pub keyspace: String,
    pub table: String,
    pub live_bytes: u64,
    /// Local latencies, once the table was read or written since the node started.
    pub latencies: Option<(LatencyReading, LatencyReading)>,
}

/// Everything one scrape shows.
#[derive(Debug, Default)]
pub(crate) struct NodeReading {
    /// (label name, value) pairs of `mica_node_info`.
    pub info: Vec<(&'static str, String)>,
    pub native_transport_active: bool,
    pub uptime_seconds: f64,
    pub start_time_seconds: f64,
    pub load_bytes: u64,
    pub disk_used_bytes: u64,
    pub disk_free_bytes: u64,
    pub memory_used_bytes: u64,
    pub memory_total_bytes: u64,
    pub cpu_seconds: f64,
    /// One reading per entry of [`OPERATIONS`], in that order.
    pub client: Vec<LatencyReading>,
    pub tables: Vec<TableReading>,
}

fn read_node(state: &AdminState) -> Result<NodeReading, AdminError> {
    let local = &state.local;
    let schema = state.engine.schema();
    let mut tables = Vec::new();
    for ks in schema.keyspaces.values() {
        for t in ks.tables.values().filter(|t| !t.is_virtual) {
            let id = TableId(t.id);
            tables.push(TableReading {
                keyspace: ks.name.clone(),
                table: t.name.clone(),
                // A table dropped since the schema snapshot has no size any more.
                live_bytes: state.storage.table_size_bytes(id).unwrap_or(0),
                latencies: state
                    .table_metrics
                    .get(id)
                    .map(|l| (LatencyReading::of(&l.read), LatencyReading::of(&l.write))),
            });
        }
    }
    tables.sort_by(|a, b| (&a.keyspace, &a.table).cmp(&(&b.keyspace, &b.table)));
    let l = state.engine.latencies();
    // The same order as OPERATIONS.
    let client = [&l.read, &l.write, &l.range, &l.cas_read, &l.cas_write]
        .map(LatencyReading::of)
        .into();
    let (memory_used_kb, memory_total_kb) = crate::admin::memory_kb();
    let uptime = state.started.elapsed().as_secs_f64();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    Ok(NodeReading {
        info: vec![
            ("cluster", local.cluster_name.clone()),
            ("data_center", local.data_center.clone()),
            ("rack", local.rack.clone()),
            ("host_id", local.host_id.to_string()),
            ("release_version", local.release_version.clone()),
        ],
        native_transport_active: state.native_address.is_some()
            && !*state.stop.borrow()
            && !*state.native_stop.borrow(),
        uptime_seconds: uptime,
        start_time_seconds: (now - uptime).max(0.0),
        load_bytes: crate::admin::load_bytes(state.storage.as_ref())?,
        disk_used_bytes: state.storage.disk_usage_bytes().map_err(server_error)?,
        disk_free_bytes: fs4::available_space(&state.data_dir).unwrap_or(0),
        memory_used_bytes: memory_used_kb * BYTES_PER_KB,
        memory_total_bytes: memory_total_kb * BYTES_PER_KB,
        cpu_seconds: crate::admin::cpu_ticks()
            .map_or(0.0, |t| t as f64 / crate::admin::CLOCK_TICKS_PER_SECOND),
        client,
        tables,
    })
}

/// The exposition text of one reading.
pub(crate) fn render(r: &NodeReading) -> String {
    let mut out = String::new();
    let labels: Vec<(&str, &str)> = r.info.iter().map(|(k, v)| (*k, v.as_str())).collect();
    gauge(
        &mut out,
        "mica_node_info",
        "Facts about the node, as labels; the value is always 1.",
    );
    sample(&mut out, "mica_node_info", &labels, 1);
    gauge(
        &mut out,
        "mica_node_up",
        "1 while the node process runs and answers its admin API.",
    );
    sample(&mut out, "mica_node_up", &[], 1);
    gauge(
        &mut out,
        "mica_node_native_transport_active",
        "1 while the node accepts CQL clients (0 after drain).",
    );
    sample(
        &mut out,
        "mica_node_native_transport_active",
        &[],
        u8::from(r.native_transport_active),
    );
    gauge(
        &mut out,
        "mica_node_uptime_seconds",
        "Seconds since the node started.",
    );
    sample(&mut out, "mica_node_uptime_seconds", &[], r.uptime_seconds);
    gauge(
        &mut out,
        "process_start_time_seconds",
        "Start time of the process since the Unix epoch in seconds.",
    );
    sample(&mut out, "process_start_time_seconds", &[], r.start_time_seconds);
    gauge(
        &mut out,
        "mica_node_load_bytes",
        "Bytes of table data on disk (Cassandra's Storage Load).",
    );
    sample(&mut out, "mica_node_load_bytes", &[], r.load_bytes);
    gauge(
        &mut out,
        "mica_node_disk_used_bytes",
        "Bytes the storage engine uses on disk, journal included.",
    );
    sample(&mut out, "mica_node_disk_used_bytes", &[], r.disk_used_bytes);
    gauge(
        &mut out,
        "mica_node_disk_free_bytes",
        "Bytes free on the data directory's file system.",
    );
    sample(&mut out, "mica_node_disk_free_bytes", &[], r.disk_free_bytes);
    gauge(
        &mut out,
        "process_resident_memory_bytes",
        "Resident memory size in bytes.",
    );
    sample(
        &mut out,
        "process_resident_memory_bytes",
        &[],
        r.memory_used_bytes,
    );
    gauge(
        &mut out,
        "mica_node_memory_total_bytes",
        "Total memory of the machine in bytes.",
    );
    sample(
        &mut out,
        "mica_node_memory_total_bytes",
        &[],
        r.memory_total_bytes,
    );
    family(
        &mut out,
        "process_cpu_seconds_total",
        "Total user and system CPU time spent in seconds.",
        "counter",
    );
    sample(&mut out, "process_cpu_seconds_total", &[], r.cpu_seconds);

    family(
        &mut out,
        CLIENT_REQUEST_LATENCY,
        "Latency of client requests this node coordinated, by operation (Cassandra's ClientRequest metrics).",
        "histogram",
    );
    for (operation, reading) in OPERATIONS.iter().zip(&r.client) {
        histogram(
            &mut out,
            CLIENT_REQUEST_LATENCY,
            &[("operation", operation)],
            reading,
        );
    }
    family(
        &mut out,
        TABLE_READ_LATENCY,
        "Latency of local single-partition reads of a table (Cassandra's Table ReadLatency).",
        "histogram",
    );
    for t in &r.tables {
        if let Some((read, _)) = &t.latencies {
            histogram(&mut out, TABLE_READ_LATENCY, &table_labels(t), read);
        }
    }
    family(
        &mut out,
        TABLE_WRITE_LATENCY,
        "Latency of local writes to a table (Cassandra's Table WriteLatency).",
        "histogram",
    );
    for t in &r.tables {
        if let Some((_, write)) = &t.latencies {
            histogram(&mut out, TABLE_WRITE_LATENCY, &table_labels(t), write);
        }
    }
    gauge(
        &mut out,
        TABLE_LIVE_DISK_SPACE_USED,
        "Bytes of a table's data on disk (Cassandra's Table LiveDiskSpaceUsed).",
    );
    for t in &r.tables {
        sample(
            &mut out,
            TABLE_LIVE_DISK_SPACE_USED,
            &table_labels(t),
            t.live_bytes,
        );
    }
    out
}

fn table_labels(t: &TableReading) -> [(&str, &str); 2] {
    [("keyspace", t.keyspace.as_str()), ("table", t.table.as_str())]
}

fn family(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn gauge(out: &mut String, name: &str, help: &str) {
    family(out, name, help, "gauge");
}

/// One sample line: `name{label="value",...} value`.
fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (key, value)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{key}=\"{}\"", escape_label(value));
        }
        out.push('}');
    }
    let _ = writeln!(out, " {value}");
}

/// Label values escape backslash, double quote and line feed (exposition format 0.0.4).
fn escape_label(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => escaped.push_str("\\\\"),
            '"' => escaped.push_str("\\\""),
            '\n' => escaped.push_str("\\n"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// `_bucket`, `_sum` and `_count` lines of one histogram. The node's histograms use Cassandra's ~1.2x buckets;
/// each `le` bucket counts the fine buckets whose upper bound is at most `le`, so it never counts a value larger
/// than its bound.
fn histogram(out: &mut String, name: &str, labels: &[(&str, &str)], reading: &LatencyReading) {
    let offsets = bucket_offsets();
    let counts = &reading.snapshot.counts;
    let bucket = format!("{name}_bucket");
    let mut with_le: Vec<(&str, &str)> = labels.to_vec();
    with_le.push(("le", ""));
    let last = with_le.len() - 1;
    let (mut cumulative, mut fine) = (0u64, 0usize);
    for (bound, le) in LATENCY_BUCKETS {
        while fine < BUCKET_COUNT && offsets[fine] <= *bound {
            cumulative += counts.get(fine).copied().unwrap_or(0);
            fine += 1;
        }
        with_le[last].1 = le;
        sample(out, &bucket, &with_le, cumulative);
    }
    let total = reading.snapshot.count();
    with_le[last].1 = "+Inf";
    sample(out, &bucket, &with_le, total);
    sample(
        out,
        &format!("{name}_sum"),
        labels,
        reading.sum_nanos as f64 / NANOS_PER_SECOND,
    );
    sample(out, &format!("{name}_count"), labels, total);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading_of(values_nanos: &[u64]) -> LatencyReading {
        let h = Histogram::default();
        values_nanos.iter().for_each(|&v| h.record(v));
        LatencyReading::of(&h)
    }

    fn line_value(text: &str, prefix: &str) -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(prefix)?.strip_prefix(' '))
            .unwrap_or_else(|| panic!("no line {prefix} in\n{text}"))
            .parse()
            .expect("a number")
    }

    #[test]
    fn histograms_are_cumulative_with_sum_and_count() {
        let mut r = NodeReading {
            client: OPERATIONS.iter().map(|_| LatencyReading::default()).collect(),
            ..Default::default()
        };
        // 0.2 ms, 0.9 ms, 4 ms and 20 s (past the last finite bound).
        r.client[1] = reading_of(&[200_000, 900_000, 4_000_000, 20_000_000_000]);
        let text = render(&r);
        let w = |le: &str| {
            line_value(
                &text,
                &format!("mica_client_request_latency_seconds_bucket{{operation=\"write\",le=\"{le}\"}}"),
            )
        };
        assert_eq!(w("0.0001"), 0.0);
        // 200 µs falls into the fine bucket ending at ~205 µs, so it is first counted at 250 µs.
        assert_eq!(w("0.00025"), 1.0);
        assert_eq!(w("0.001"), 2.0);
        assert_eq!(w("0.005"), 3.0);
        assert_eq!(w("10"), 3.0);
        assert_eq!(w("+Inf"), 4.0);
        assert_eq!(
            line_value(
                &text,
                "mica_client_request_latency_seconds_count{operation=\"write\"}"
            ),
            4.0
        );
        let sum = line_value(
            &text,
            "mica_client_request_latency_seconds_sum{operation=\"write\"}",
        );
        assert!((sum - 20.0051).abs() < 1e-9, "{sum}");
        // Every operation has its series, empty ones included; le values stay monotone.
        for op in OPERATIONS {
            assert!(text.contains(&format!("_count{{operation=\"{op}\"}} ")), "{op}");
        }
        let buckets: Vec<f64> = text
            .lines()
            .filter(|l| l.starts_with("mica_client_request_latency_seconds_bucket{operation=\"write\""))
            .map(|l| l.rsplit(' ').next().and_then(|v| v.parse().ok()).expect("value"))
            .collect();
        assert_eq!(buckets.len(), LATENCY_BUCKETS.len() + 1);
        assert!(buckets.windows(2).all(|w| w[0] <= w[1]), "{buckets:?}");
    }

    #[test]
    fn tables_and_node_gauges_render_with_escaped_labels() {
        let r = NodeReading {
            info: vec![("data_center", "dc\"1\\\n".into())],
            native_transport_active: true,
            uptime_seconds: 12.5,
            disk_used_bytes: 4096,
            client: OPERATIONS.iter().map(|_| LatencyReading::default()).collect(),
            tables: vec![
                TableReading {
                    keyspace: "ks".into(),
                    table: "t".into(),
                    live_bytes: 77,
                    latencies: Some((reading_of(&[1_000]), reading_of(&[1_000, 2_000]))),
                },
                TableReading {
                    keyspace: "ks".into(),
                    table: "idle".into(),
                    live_bytes: 0,
                    latencies: None,
                },
            ],
            ..Default::default()
        };
        let text = render(&r);
        assert!(
            text.contains("mica_node_info{data_center=\"dc\\\"1\\\\\\n\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("\nmica_node_up 1\n"));
        assert!(text.contains("\nmica_node_native_transport_active 1\n"));
        assert!(text.contains("\nmica_node_uptime_seconds 12.5\n"));
        assert!(text.contains("\nmica_node_disk_used_bytes 4096\n"));
        assert!(text.contains("\nmica_table_read_latency_seconds_count{keyspace=\"ks\",table=\"t\"} 1\n"));
        assert!(text.contains("\nmica_table_write_latency_seconds_count{keyspace=\"ks\",table=\"t\"} 2\n"));
        assert!(
            !text.contains("table=\"idle\"} 0\nmica_table_read"),
            "idle tables have no histograms"
        );
        assert!(!text.contains("_count{keyspace=\"ks\",table=\"idle\"}"));
        assert!(text.contains("\nmica_table_live_disk_space_used_bytes{keyspace=\"ks\",table=\"idle\"} 0\n"));
        assert!(text.contains("\nmica_table_live_disk_space_used_bytes{keyspace=\"ks\",table=\"t\"} 77\n"));
        // Each family is declared once, before its samples.
        for name in [TABLE_READ_LATENCY, TABLE_WRITE_LATENCY, CLIENT_REQUEST_LATENCY] {
            assert_eq!(text.matches(&format!("# TYPE {name} histogram\n")).count(), 1);
        }
        assert!(
            text.lines()
                .all(|l| l.starts_with('#') || l.split(' ').count() == 2 || l.contains('"'))
        );
    }
}
