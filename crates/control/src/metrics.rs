//! The metrics collector behind `GET /clusters/{c}/metrics`: every interval (10 s, or
//! `MICA_METRICS_INTERVAL_SECONDS`) it scrapes the Prometheus endpoint (`GET /metrics`) of every node of every
//! allocated cluster through the node admin API, turns the coordinator request histograms' deltas into reads
//! and writes per second, mean and p99 latencies per datacenter and for the whole cluster, and keeps the last
//! hour of points in memory (a ring buffer per series; a control-plane restart starts empty).
//!
//! Counters are cumulative since each node started: a counter that goes down, or a node whose uptime went
//! down, was restarted, and its current values are the increase since the restart.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mica_control_api::{ClusterMetrics, MetricsPoint, MetricsSeries};
use mica_node_admin_api::metrics::{CLIENT_REQUEST_LATENCY, METRICS, OPERATION_READ, OPERATION_WRITE};

use crate::provider::{AdminEndpoint, Provider};
use crate::store::{NodeRecord, Store, now_seconds};

/// The environment variable that overrides the scrape interval (tests use 1 s).
pub const INTERVAL_ENV: &str = "MICA_METRICS_INTERVAL_SECONDS";
/// The scrape interval when the environment does not say otherwise.
pub const DEFAULT_INTERVAL_SECONDS: u64 = 10;
/// How far back the series reach.
const HISTORY_SECONDS: u64 = 3600;
/// The longest one scrape may take: a stuck node must not delay the others' next points much.
const MAX_SCRAPE_TIMEOUT: Duration = Duration::from_secs(3);
/// How often the collector thread checks whether the server is stopping while it waits.
const STOP_POLL: Duration = Duration::from_millis(200);
/// The gauge whose decrease shows a node restart even when its counters have already grown past the old values.
const UPTIME: &str = "mica_node_uptime_seconds";
/// The quantile the p99 fields show.
const P99: f64 = 0.99;
/// Milliseconds per second: the node exports seconds, the API shows milliseconds.
const MILLIS_PER_SECOND: f64 = 1000.0;

/// The scrape interval: `MICA_METRICS_INTERVAL_SECONDS` when it is a positive integer, else 10 s.
pub fn interval_from_env() -> Duration {
    let seconds = std::env::var(INTERVAL_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|&s| s > 0)
        .unwrap_or(DEFAULT_INTERVAL_SECONDS);
    Duration::from_secs(seconds)
}

/// A Prometheus histogram at one moment: cumulative `(le, count)` buckets in `le` order (`+Inf` last), sum, count.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HistogramSample {
    pub buckets: Vec<(f64, f64)>,
    pub sum: f64,
    pub count: f64,
}

impl HistogramSample {
    /// What happened between `prev` and `self`; when any value went down the node restarted in between, and
    /// everything it counted since is the increase.
    pub fn delta(&self, prev: &HistogramSample) -> HistogramSample {
        let same_buckets = self.buckets.len() == prev.buckets.len()
            && self.buckets.iter().zip(&prev.buckets).all(|(a, b)| a.0 == b.0);
        let reset = !same_buckets
            || self.count < prev.count
            || self.sum < prev.sum
            || self.buckets.iter().zip(&prev.buckets).any(|(a, b)| a.1 < b.1);
        if reset {
            return self.clone();
        }
        HistogramSample {
            buckets: self
                .buckets
                .iter()
                .zip(&prev.buckets)
                .map(|(a, b)| (a.0, a.1 - b.1))
                .collect(),
            sum: self.sum - prev.sum,
            count: self.count - prev.count,
        }
    }

    /// Adds another histogram's counts (buckets matched by `le`).
    pub fn add(&mut self, other: &HistogramSample) {
        for &(le, count) in &other.buckets {
            match self.buckets.iter_mut().find(|b| b.0 == le) {
                Some(b) => b.1 += count,
                None => self.buckets.push((le, count)),
            }
        }
        self.buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        self.sum += other.sum;
        self.count += other.count;
    }

    /// The `q` quantile as Prometheus' `histogram_quantile` estimates it: linear within the bucket holding the
    /// rank; the highest finite bound when the rank falls into `+Inf`; 0 without observations.
    pub fn quantile(&self, q: f64) -> f64 {
        let total = self.buckets.last().map_or(0.0, |b| b.1);
        if total <= 0.0 {
            return 0.0;
        }
        let rank = q * total;
        let (mut lower, mut below) = (0.0, 0.0);
        for &(le, cumulative) in &self.buckets {
            if cumulative >= rank {
                if le.is_infinite() {
                    return lower;
                }
                let inside = cumulative - below;
                if inside <= 0.0 {
                    return le;
                }
                return lower + (le - lower) * (rank - below) / inside;
            }
            (lower, below) = (le, cumulative);
        }
        lower
    }

    /// Mean of the observations; 0 without any.
    pub fn mean(&self) -> f64 {
        if self.count > 0.0 {
            self.sum / self.count
        } else {
            0.0
        }
    }
}

/// What the collector reads from one scrape.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NodeSample {
    pub read: HistogramSample,
    pub write: HistogramSample,
    pub uptime_seconds: f64,
}

/// Reads the client read/write histograms and the uptime from exposition-format text; other lines are ignored.
pub fn parse_exposition(text: &str) -> NodeSample {
    let mut sample = NodeSample::default();
    let bucket = format!("{CLIENT_REQUEST_LATENCY}_bucket");
    let sum = format!("{CLIENT_REQUEST_LATENCY}_sum");
    let count = format!("{CLIENT_REQUEST_LATENCY}_count");
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((name, labels, value)) = split_sample(line) else {
            continue;
        };
        if name == UPTIME {
            sample.uptime_seconds = value;
            continue;
        }
        let histogram = match labels
            .iter()
            .find(|(k, _)| k == "operation")
            .map(|(_, v)| v.as_str())
        {
            Some(OPERATION_READ) => &mut sample.read,
            Some(OPERATION_WRITE) => &mut sample.write,
            _ => continue,
        };
        if name == bucket {
            let le = labels
                .iter()
                .find(|(k, _)| k == "le")
                .and_then(|(_, v)| parse_value(v));
            if let Some(le) = le {
                histogram.buckets.push((le, value));
            }
        } else if name == sum {
            histogram.sum = value;
        } else if name == count {
            histogram.count = value;
        }
    }
    for h in [&mut sample.read, &mut sample.write] {
        h.buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    sample
}

/// A sample's labels as (name, unescaped value) pairs.
type Labels = Vec<(String, String)>;

/// `name{k="v",...} value [timestamp]` → (name, labels, value).
fn split_sample(line: &str) -> Option<(&str, Labels, f64)> {
    let name_end = line.find(['{', ' ', '\t']).unwrap_or(line.len());
    let name = &line[..name_end];
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(inner) = rest.strip_prefix('{') {
        let (parsed, after) = parse_labels(inner)?;
        labels = parsed;
        rest = after;
    }
    let value = parse_value(rest.split_whitespace().next()?)?;
    Some((name, labels, value))
}

/// Parses `k="v",...}` up to the closing brace; returns the labels and what follows the brace.
fn parse_labels(mut text: &str) -> Option<(Labels, &str)> {
    let mut labels = Vec::new();
    loop {
        text = text.trim_start_matches([' ', ',']);
        if let Some(after) = text.strip_prefix('}') {
            return Some((labels, after));
        }
        let (key, after) = text.split_once('=')?;
        let mut chars = after.strip_prefix('"')?.char_indices();
        let mut value = String::new();
        let end = loop {
            match chars.next()? {
                (i, '"') => break i,
                (_, '\\') => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    c => value.push(c),
                },
                (_, c) => value.push(c),
            }
        };
        labels.push((key.trim().to_owned(), value));
        text = &after[end + 2..];
    }
}

fn parse_value(text: &str) -> Option<f64> {
    match text {
        "+Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        _ => text.parse().ok(),
    }
}

/// One node's increase over one interval.
#[derive(Clone, Debug)]
pub struct NodeDelta {
    pub data_center: String,
    pub read: HistogramSample,
    pub write: HistogramSample,
    pub seconds: f64,
}

/// The point of a group of nodes (a datacenter or the whole cluster) at `time`.
pub fn point(time: i64, deltas: &[&NodeDelta]) -> MetricsPoint {
    let mut read = HistogramSample::default();
    let mut write = HistogramSample::default();
    let (mut reads_per_second, mut writes_per_second) = (0.0, 0.0);
    for d in deltas {
        if d.seconds > 0.0 {
            reads_per_second += d.read.count / d.seconds;
            writes_per_second += d.write.count / d.seconds;
        }
        read.add(&d.read);
        write.add(&d.write);
    }
    MetricsPoint {
        time,
        reads_per_second,
        writes_per_second,
        read_latency_p99_ms: read.quantile(P99) * MILLIS_PER_SECOND,
        write_latency_p99_ms: write.quantile(P99) * MILLIS_PER_SECOND,
        read_latency_mean_ms: read.mean() * MILLIS_PER_SECOND,
        write_latency_mean_ms: write.mean() * MILLIS_PER_SECOND,
    }
}

/// A cluster's previous samples and its series (`None`: the whole cluster).
#[derive(Debug, Default)]
struct ClusterState {
    previous: HashMap<IpAddr, (Instant, NodeSample)>,
    series: BTreeMap<Option<String>, VecDeque<MetricsPoint>>,
    /// A node whose `/metrics` answered in the last pass (the cluster's `prometheusEndpoint`).
    reachable: Option<IpAddr>,
}

/// The collected series of every cluster, shared by the collector thread and the API.
#[derive(Debug)]
pub struct Metrics {
    interval: Duration,
    clusters: Mutex<HashMap<String, ClusterState>>,
}

impl Metrics {
    pub fn new(interval: Duration) -> Metrics {
        Metrics {
            interval,
            clusters: Mutex::new(HashMap::new()),
        }
    }

    fn points_kept(&self) -> usize {
        usize::try_from(HISTORY_SECONDS / self.interval.as_secs().max(1))
            .unwrap_or(usize::MAX)
            .max(1)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, ClusterState>> {
        self.clusters.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes one pass's scrapes of a cluster's nodes (`None`: the node did not answer) and appends a point to
    /// each series that has at least one node with two samples.
    pub fn record(
        &self,
        cluster: &str,
        time: i64,
        now: Instant,
        scrapes: Vec<(NodeRecord, Option<NodeSample>)>,
    ) {
        let keep = self.points_kept();
        let mut clusters = self.lock();
        let state = clusters.entry(cluster.to_owned()).or_default();
        let present: Vec<IpAddr> = scrapes.iter().map(|(n, _)| n.address).collect();
        state.previous.retain(|address, _| present.contains(address));
        state.reachable = None;
        let mut deltas = Vec::new();
        for (node, sample) in scrapes {
            let Some(sample) = sample else { continue };
            state.reachable.get_or_insert(node.address);
            if let Some((then, prev)) = state.previous.get(&node.address) {
                let restarted = sample.uptime_seconds < prev.uptime_seconds;
                let base = if restarted { &NodeSample::default() } else { prev };
                deltas.push(NodeDelta {
                    data_center: node.data_center.clone(),
                    read: sample.read.delta(&base.read),
                    write: sample.write.delta(&base.write),
                    seconds: now.duration_since(*then).as_secs_f64(),
                });
            }
            state.previous.insert(node.address, (now, sample));
        }
        if deltas.is_empty() {
            return;
        }
        let mut groups: BTreeMap<Option<String>, Vec<&NodeDelta>> = BTreeMap::new();
        for d in &deltas {
            groups.entry(None).or_default().push(d);
            groups.entry(Some(d.data_center.clone())).or_default().push(d);
        }
        for (key, members) in groups {
            let series = state.series.entry(key).or_default();
            series.push_back(point(time, &members));
            while series.len() > keep {
                series.pop_front();
            }
        }
    }

    /// Forgets clusters that no longer exist.
    pub fn retain_clusters(&self, names: &[String]) {
        self.lock().retain(|name, _| names.contains(name));
    }

    /// The API answer: the whole cluster, then each of `data_centers` (empty series until points exist).
    pub fn series(&self, cluster: &str, data_centers: &[String]) -> ClusterMetrics {
        let clusters = self.lock();
        let state = clusters.get(cluster);
        let points = |key: &Option<String>| {
            state
                .and_then(|s| s.series.get(key))
                .map(|p| p.iter().copied().collect())
                .unwrap_or_default()
        };
        let mut keys = vec![None];
        keys.extend(data_centers.iter().cloned().map(Some));
        ClusterMetrics {
            interval_seconds: self.interval.as_secs(),
            series: keys
                .into_iter()
                .map(|key| MetricsSeries {
                    points: points(&key),
                    data_center: key,
                })
                .collect(),
        }
    }

    /// A node of the cluster whose `/metrics` answered in the last pass.
    pub fn prometheus_endpoint(&self, cluster: &str) -> Option<IpAddr> {
        self.lock().get(cluster).and_then(|s| s.reachable)
    }
}

/// Fetches one node's `/metrics` (no token needed); `None` when it does not answer.
fn scrape(endpoint: &AdminEndpoint, timeout: Duration) -> Option<NodeSample> {
    let host = if endpoint.host.contains(':') && !endpoint.host.starts_with('[') {
        format!("[{}]", endpoint.host)
    } else {
        endpoint.host.clone()
    };
    let agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .build()
        .new_agent();
    let url = format!("http://{host}:{}{METRICS}", endpoint.port);
    let mut response = agent.get(&url).call().ok()?;
    let text = response.body_mut().read_to_string().ok()?;
    Some(parse_exposition(&text))
}

/// One pass over every allocated cluster; nodes of a cluster are scraped in parallel.
pub fn collect_once(
    metrics: &Metrics,
    store: &Store,
    provider: &dyn Provider,
) -> Result<(), crate::store::StoreError> {
    let clusters = store.clusters()?;
    metrics.retain_clusters(&clusters.iter().map(|c| c.name.clone()).collect::<Vec<_>>());
    let timeout = metrics.interval.min(MAX_SCRAPE_TIMEOUT);
    for cluster in clusters {
        if cluster.deleting || cluster.properties.deallocated == Some(true) {
            continue;
        }
        let nodes = store.nodes(&cluster.name)?;
        let scrapes: Vec<(NodeRecord, Option<NodeSample>)> = std::thread::scope(|scope| {
            let handles: Vec<_> = nodes
                .into_iter()
                .map(|node| {
                    scope.spawn(move || {
                        let sample = provider.admin_endpoint(&node).and_then(|e| scrape(&e, timeout));
                        (node, sample)
                    })
                })
                .collect();
            handles.into_iter().filter_map(|h| h.join().ok()).collect()
        });
        let time = i64::try_from(now_seconds()).unwrap_or(i64::MAX);
        metrics.record(&cluster.name, time, Instant::now(), scrapes);
    }
    Ok(())
}

/// Starts the collector thread; it stops within [`STOP_POLL`] of `stop` being set.
pub fn spawn(
    store: Store,
    provider: Arc<dyn Provider>,
    stop: Arc<AtomicBool>,
) -> std::io::Result<(Arc<Metrics>, JoinHandle<()>)> {
    let metrics = Arc::new(Metrics::new(interval_from_env()));
    let shared = metrics.clone();
    let thread = std::thread::Builder::new()
        .name("metrics".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                if let Err(e) = collect_once(&shared, &store, provider.as_ref()) {
                    tracing::warn!("metrics pass failed: {e}");
                }
                while !stop.load(Ordering::Relaxed) && started.elapsed() < shared.interval {
                    std::thread::sleep(STOP_POLL.min(shared.interval.saturating_sub(started.elapsed())));
                }
            }
        })?;
    Ok((metrics, thread))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn hist(buckets: &[(f64, f64)], sum: f64) -> HistogramSample {
        HistogramSample {
            buckets: buckets.to_vec(),
            sum,
            count: buckets.last().map_or(0.0, |b| b.1),
        }
    }

    fn node(address: &str, dc: &str) -> NodeRecord {
        NodeRecord {
            cluster: "c".into(),
            data_center: dc.into(),
            ordinal: 0,
            address: address.parse().unwrap(),
            rack: "rack1".into(),
        }
    }

    #[test]
    fn parses_what_nodes_render() {
        let text = "# HELP mica_client_request_latency_seconds x\n\
            # TYPE mica_client_request_latency_seconds histogram\n\
            mica_client_request_latency_seconds_bucket{operation=\"write\",le=\"0.001\"} 3\n\
            mica_client_request_latency_seconds_bucket{operation=\"write\",le=\"+Inf\"} 4\n\
            mica_client_request_latency_seconds_bucket{operation=\"read\",le=\"0.001\"} 1\n\
            mica_client_request_latency_seconds_bucket{operation=\"read\",le=\"+Inf\"} 1\n\
            mica_client_request_latency_seconds_sum{operation=\"write\"} 0.5\n\
            mica_client_request_latency_seconds_count{operation=\"write\"} 4\n\
            mica_client_request_latency_seconds_count{operation=\"range_read\"} 9\n\
            mica_node_info{data_center=\"a\\\"b,c}\",rack=\"r\"} 1\n\
            mica_node_uptime_seconds 12.5\n";
        let s = parse_exposition(text);
        assert_eq!(s.write, hist(&[(0.001, 3.0), (f64::INFINITY, 4.0)], 0.5));
        assert_eq!(s.read.buckets, [(0.001, 1.0), (f64::INFINITY, 1.0)]);
        assert_eq!(s.uptime_seconds, 12.5);
        assert_eq!(
            split_sample("m{a=\"x\\\"}\",b=\"\\n\"} 2").unwrap(),
            (
                "m",
                vec![("a".into(), "x\"}".into()), ("b".into(), "\n".into())],
                2.0
            )
        );
    }

    #[test]
    fn deltas_treat_a_decrease_as_a_restart() {
        let before = hist(&[(0.001, 10.0), (0.01, 15.0), (f64::INFINITY, 16.0)], 2.0);
        let after = hist(&[(0.001, 30.0), (0.01, 35.0), (f64::INFINITY, 36.0)], 3.0);
        let d = after.delta(&before);
        assert_eq!(d.buckets, [(0.001, 20.0), (0.01, 20.0), (f64::INFINITY, 20.0)]);
        assert_eq!((d.count, d.sum), (20.0, 1.0));
        // The node restarted and counted 5 since: the increase is 5, never negative.
        let restarted = hist(&[(0.001, 5.0), (0.01, 5.0), (f64::INFINITY, 5.0)], 0.1);
        assert_eq!(restarted.delta(&after), restarted);
    }

    #[test]
    fn quantiles_interpolate_like_prometheus() {
        let h = hist(&[(0.001, 50.0), (0.002, 100.0), (f64::INFINITY, 100.0)], 0.1);
        assert!((h.quantile(0.5) - 0.001).abs() < 1e-12);
        assert!((h.quantile(0.99) - 0.00198).abs() < 1e-12, "{}", h.quantile(0.99));
        assert!((h.quantile(0.25) - 0.0005).abs() < 1e-12);
        assert_eq!(h.mean(), 0.001);
        let slow = hist(&[(0.001, 0.0), (0.002, 0.0), (f64::INFINITY, 10.0)], 100.0);
        assert_eq!(
            slow.quantile(0.99),
            0.002,
            "+Inf answers the highest finite bound"
        );
        assert_eq!(HistogramSample::default().quantile(0.99), 0.0);
        assert_eq!(HistogramSample::default().mean(), 0.0);
    }

    fn sample(writes: f64, write_sum: f64, reads: f64, uptime: f64) -> NodeSample {
        NodeSample {
            write: hist(
                &[(0.001, writes), (0.01, writes), (f64::INFINITY, writes)],
                write_sum,
            ),
            read: hist(
                &[(0.001, 0.0), (0.01, reads), (f64::INFINITY, reads)],
                reads * 0.005,
            ),
            uptime_seconds: uptime,
        }
    }

    #[test]
    fn series_per_data_center_and_cluster_with_rates_and_resets() {
        let m = Metrics::new(Duration::from_secs(10));
        let t0 = Instant::now();
        let (a, b) = (node("127.0.9.1", "dc1"), node("127.0.9.2", "dc2"));
        m.record(
            "c",
            100,
            t0,
            vec![
                (a.clone(), Some(sample(100.0, 0.05, 10.0, 50.0))),
                (b.clone(), None),
            ],
        );
        assert!(
            m.series("c", &["dc1".into()])
                .series
                .iter()
                .all(|s| s.points.is_empty())
        );
        assert_eq!(m.prometheus_endpoint("c"), Some(a.address));

        let t1 = t0 + Duration::from_secs(10);
        m.record(
            "c",
            110,
            t1,
            vec![
                (a.clone(), Some(sample(300.0, 0.15, 20.0, 60.0))),
                (b.clone(), Some(sample(7.0, 0.007, 0.0, 5.0))),
            ],
        );
        let t2 = t1 + Duration::from_secs(10);
        // Node b restarted (uptime fell) and counted 50 writes since; node a idles.
        m.record(
            "c",
            120,
            t2,
            vec![
                (a.clone(), Some(sample(300.0, 0.15, 20.0, 70.0))),
                (b.clone(), Some(sample(50.0, 0.05, 0.0, 3.0))),
            ],
        );
        let out = m.series("c", &["dc1".into(), "dc2".into(), "dc3".into()]);
        assert_eq!(out.interval_seconds, 10);
        let keys: Vec<_> = out.series.iter().map(|s| s.data_center.clone()).collect();
        assert_eq!(
            keys,
            [None, Some("dc1".into()), Some("dc2".into()), Some("dc3".into())]
        );
        let (cluster, dc1, dc2) = (
            &out.series[0].points,
            &out.series[1].points,
            &out.series[2].points,
        );
        assert_eq!(cluster.len(), 2);
        assert_eq!(dc1.len(), 2);
        assert_eq!(dc2.len(), 1, "dc2's first sample only set a baseline");
        assert!(out.series[3].points.is_empty());
        assert_eq!(
            (dc1[0].time, dc1[0].writes_per_second, dc1[0].reads_per_second),
            (110, 20.0, 1.0)
        );
        assert!((dc1[0].write_latency_mean_ms - 0.5).abs() < 1e-9, "{:?}", dc1[0]);
        assert!((dc1[0].read_latency_mean_ms - 5.0).abs() < 1e-9);
        assert!((dc1[0].read_latency_p99_ms - 9.91).abs() < 1e-9, "{:?}", dc1[0]);
        assert!(dc1[0].write_latency_p99_ms > 0.0 && dc1[0].write_latency_p99_ms <= 1.0);
        assert_eq!(
            cluster[0].writes_per_second, 20.0,
            "b had no previous sample at 110"
        );
        assert_eq!(
            (dc1[1].writes_per_second, dc1[1].write_latency_mean_ms),
            (0.0, 0.0)
        );
        assert_eq!((dc2[0].time, dc2[0].writes_per_second), (120, 5.0));
        assert_eq!(cluster[1].writes_per_second, 5.0);
        assert!((cluster[1].write_latency_mean_ms - 1.0).abs() < 1e-9);

        // A removed node is forgotten; a deleted cluster disappears.
        m.retain_clusters(&[]);
        assert!(m.series("c", &[]).series[0].points.is_empty());
    }

    #[test]
    fn history_is_bounded_to_an_hour() {
        let m = Metrics::new(Duration::from_secs(1200));
        let n = node("127.0.9.1", "dc1");
        let t0 = Instant::now();
        for i in 0..10u32 {
            let at = t0 + Duration::from_secs(u64::from(i) * 1200);
            m.record(
                "c",
                i64::from(i),
                at,
                vec![(n.clone(), Some(sample(f64::from(i), 0.0, 0.0, f64::from(i))))],
            );
        }
        let points = &m.series("c", &[]).series[0].points;
        assert_eq!(points.iter().map(|p| p.time).collect::<Vec<_>>(), [7, 8, 9]);
    }
}
