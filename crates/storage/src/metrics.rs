//! Latency and size histograms for `nodetool tablehistograms` / `proxyhistograms`: a fixed-size, lock-free
//! histogram with Cassandra's `EstimatedHistogram` buckets ([`Histogram`]), per-table local read/write
//! latencies ([`TableMetrics`]) and an [`Engine`] wrapper that records them ([`MeteredEngine`]).
//!
//! Unlike Cassandra's decaying reservoirs (which favour the last ~15 minutes), these histograms are
//! cumulative since the node started: recording is one binary search over a static table and one relaxed
//! atomic increment, so hot paths never allocate nor take a lock shared by every request.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, RwLock};
use std::time::Instant;

use crate::durable::Durable;
use crate::engine::{Engine, PartitionStream, RawPartitionStream};
use crate::error::Result;
use crate::types::{
    CellValue, Clustering, Mutation, PartitionKey, PartitionView, ReadSelection, ScanLimits, ScanRange,
    TableId, TableOptions,
};

/// Buckets of Cassandra's latency histograms (`DecayingEstimatedHistogramReservoir.DEFAULT_BUCKET_COUNT`);
/// with the 1.2 growth factor the last one ends past two hours in nanoseconds.
pub const BUCKET_COUNT: usize = 164;
/// Growth factor between bucket bounds, as in Cassandra's `EstimatedHistogram.newOffsets`.
const BUCKET_GROWTH: f64 = 1.2;
/// How many tables' metrics shards are spread over, so that table lookups of different tables rarely
/// touch the same lock (and the locks are only read-locked once a table has its metrics).
const TABLE_SHARDS: usize = 16;
/// Nanoseconds per microsecond: latencies are recorded in nanoseconds and shown in microseconds.
pub const NANOS_PER_MICRO: f64 = 1000.0;

/// Bucket upper bounds 1, 2, 3, ..., each the previous one times 1.2 rounded (at least +1), exactly as
/// Cassandra's `EstimatedHistogram.newOffsets(size, false)` computes them.
static OFFSETS: LazyLock<[u64; BUCKET_COUNT]> = LazyLock::new(|| {
    let mut offsets = [0u64; BUCKET_COUNT];
    let mut last = 1u64;
    offsets[0] = last;
    for slot in offsets.iter_mut().skip(1) {
        let next = ((last as f64) * BUCKET_GROWTH).round() as u64;
        last = if next == last { last + 1 } else { next };
        *slot = last;
    }
    offsets
});

/// The bucket upper bounds every [`Histogram`] uses.
pub fn bucket_offsets() -> &'static [u64; BUCKET_COUNT] {
    &OFFSETS
}

/// A histogram of non-negative values over Cassandra's exponential buckets plus one overflow bucket.
/// Recording is O(log buckets), allocation-free and lock-free.
pub struct Histogram {
    buckets: [AtomicU64; BUCKET_COUNT + 1],
    /// Sum of every recorded value (each capped at the last bucket bound, so the sum cannot wrap), for the
    /// Prometheus `_sum` series and mean latencies.
    sum: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum: AtomicU64::new(0),
        }
    }
}

impl std::fmt::Debug for Histogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Histogram({} values)", self.snapshot().count())
    }
}

impl Histogram {
    /// Counts one value (the first bucket whose bound is >= `value`; beyond the last, the overflow bucket).
    pub fn record(&self, value: u64) {
        let index = OFFSETS.partition_point(|&bound| bound < value);
        self.buckets[index].fetch_add(1, Ordering::Relaxed);
        self.sum
            .fetch_add(value.min(OFFSETS[BUCKET_COUNT - 1]), Ordering::Relaxed);
    }

    /// Sum of the recorded values (values past the last bucket bound count as that bound).
    pub fn sum(&self) -> u64 {
        self.sum.load(Ordering::Relaxed)
    }

    /// Counts the time elapsed since `start`, in nanoseconds.
    pub fn record_since(&self, start: Instant) {
        let nanos = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.record(nanos);
    }

    /// A guard that records the time until it is dropped (so early returns and `?` are counted too).
    pub fn timer(&self) -> Timer<'_> {
        Timer {
            histogram: self,
            start: Instant::now(),
        }
    }

    /// A copy of the counts (the last one is the overflow bucket).
    pub fn snapshot(&self) -> HistogramSnapshot {
        HistogramSnapshot {
            counts: self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).collect(),
        }
    }
}

/// Records the time from [`Histogram::timer`] until drop.
#[derive(Debug)]
pub struct Timer<'a> {
    histogram: &'a Histogram,
    start: Instant,
}

impl Drop for Timer<'_> {
    fn drop(&mut self) {
        self.histogram.record_since(self.start);
    }
}

/// Counts of a [`Histogram`] at one moment, with Cassandra's percentile arithmetic.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HistogramSnapshot {
    /// One count per bucket of [`bucket_offsets`], then the overflow bucket.
    pub counts: Vec<u64>,
}

impl HistogramSnapshot {
    /// How many values were recorded.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The bound of the bucket holding the `fraction` quantile (Cassandra's `EstimatedHistogram.percentile`);
    /// 0 when empty, `u64::MAX` when it falls into the overflow bucket.
    pub fn percentile(&self, fraction: f64) -> u64 {
        let wanted = (self.count() as f64 * fraction).ceil() as u64;
        if wanted == 0 {
            return 0;
        }
        let mut seen = 0u64;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= wanted {
                return OFFSETS.get(i).copied().unwrap_or(u64::MAX);
            }
        }
        0
    }

    /// The lower bound of the first non-empty bucket (Cassandra's `EstimatedHistogram.min`); 0 when empty.
    pub fn min(&self) -> u64 {
        match self.counts.iter().position(|&c| c > 0) {
            Some(0) | None => 0,
            Some(i) => OFFSETS.get(i - 1).map_or(u64::MAX, |b| b + 1),
        }
    }

    /// The bound of the last non-empty bucket (Cassandra's `EstimatedHistogram.max`); 0 when empty.
    pub fn max(&self) -> u64 {
        match self.counts.iter().rposition(|&c| c > 0) {
            Some(i) => OFFSETS.get(i).copied().unwrap_or(u64::MAX),
            None => 0,
        }
    }

    /// Cassandra's seven nodetool rows: 50%, 75%, 95%, 98%, 99%, Min, Max.
    pub fn nodetool_rows(&self) -> [u64; 7] {
        [
            self.percentile(0.5),
            self.percentile(0.75),
            self.percentile(0.95),
            self.percentile(0.98),
            self.percentile(0.99),
            self.min(),
            self.max(),
        ]
    }
}

/// Local latencies of one table: single-partition reads and writes applied to this node's storage.
#[derive(Debug, Default)]
pub struct TableLatencies {
    pub read: Histogram,
    pub write: Histogram,
}

/// Per-table latencies of a node, created on a table's first read or write.
#[derive(Debug)]
pub struct TableMetrics {
    shards: [RwLock<HashMap<TableId, Arc<TableLatencies>>>; TABLE_SHARDS],
}

impl Default for TableMetrics {
    fn default() -> Self {
        TableMetrics {
            shards: std::array::from_fn(|_| RwLock::new(HashMap::new())),
        }
    }
}

impl TableMetrics {
    fn shard(&self, table: TableId) -> &RwLock<HashMap<TableId, Arc<TableLatencies>>> {
        let index = (table.0.as_u128() % TABLE_SHARDS as u128) as usize;
        &self.shards[index]
    }

    /// The table's latencies, if it was ever read or written since the node started.
    pub fn get(&self, table: TableId) -> Option<Arc<TableLatencies>> {
        match self.shard(table).read() {
            Ok(map) => map.get(&table).cloned(),
            Err(poisoned) => poisoned.into_inner().get(&table).cloned(),
        }
    }

    /// Runs `f` on the table's latencies, creating them on first use (the only time a write lock is taken).
    fn with(&self, table: TableId, f: impl FnOnce(&TableLatencies)) {
        let shard = self.shard(table);
        if let Ok(map) = shard.read()
            && let Some(l) = map.get(&table)
        {
            f(l);
            return;
        }
        if let Ok(mut map) = shard.write() {
            f(map.entry(table).or_default());
        }
    }

    fn forget(&self, table: TableId) {
        if let Ok(mut map) = self.shard(table).write() {
            map.remove(&table);
        }
    }
}

/// An [`Engine`] that records per-table local read and write latencies into [`TableMetrics`] and forwards
/// everything to the engine it wraps.
pub struct MeteredEngine {
    inner: Arc<dyn Engine>,
    metrics: Arc<TableMetrics>,
}

impl MeteredEngine {
    pub fn new(inner: Arc<dyn Engine>, metrics: Arc<TableMetrics>) -> MeteredEngine {
        MeteredEngine { inner, metrics }
    }

    /// Applies mutations through `apply` and records one write latency for each distinct table they touch
    /// (up to [`MAX_TABLES_PER_WRITE`] tables, noted on the stack so that recording never allocates).
    fn timed_apply(
        &self,
        mutations: Vec<Mutation>,
        apply: impl FnOnce(Vec<Mutation>) -> Result<Durable>,
    ) -> Result<Durable> {
        let mut tables = [TableId(uuid::Uuid::nil()); MAX_TABLES_PER_WRITE];
        let mut distinct = 0;
        for m in &mutations {
            if distinct < MAX_TABLES_PER_WRITE && !tables[..distinct].contains(&m.table) {
                tables[distinct] = m.table;
                distinct += 1;
            }
        }
        let start = Instant::now();
        let result = apply(mutations);
        let nanos = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        for table in &tables[..distinct] {
            self.metrics.with(*table, |l| l.write.record(nanos));
        }
        result
    }
}

/// Distinct tables of one write whose latency is recorded (larger multi-table batches are rare; their
/// further tables go unrecorded rather than costing an allocation).
const MAX_TABLES_PER_WRITE: usize = 8;

impl Engine for MeteredEngine {
    fn create_table(&self, table: TableId, options: TableOptions) -> Result<()> {
        self.inner.create_table(table, options)
    }
    fn drop_table(&self, table: TableId) -> Result<()> {
        self.metrics.forget(table);
        self.inner.drop_table(table)
    }
    fn truncate_table(&self, table: TableId) -> Result<()> {
        self.inner.truncate_table(table)
    }
    fn set_table_options(&self, table: TableId, options: TableOptions) -> Result<()> {
        self.inner.set_table_options(table, options)
    }
    fn table_options(&self, table: TableId) -> Result<Option<TableOptions>> {
        self.inner.table_options(table)
    }
    fn list_tables(&self) -> Result<Vec<TableId>> {
        self.inner.list_tables()
    }
    fn apply(&self, mutations: Vec<Mutation>) -> Result<Durable> {
        self.timed_apply(mutations, |m| self.inner.apply(m))
    }
    fn apply_visible(&self, mutations: Vec<Mutation>) -> Result<Durable> {
        self.timed_apply(mutations, |m| self.inner.apply_visible(m))
    }
    fn apply_sync(&self, mutations: Vec<Mutation>) -> Result<()> {
        self.apply(mutations)?.wait()
    }
    fn read_partition(
        &self,
        table: TableId,
        key: &PartitionKey,
        selection: &ReadSelection,
        now_seconds: i64,
    ) -> Result<Option<PartitionView>> {
        let start = Instant::now();
        let result = self.inner.read_partition(table, key, selection, now_seconds);
        self.metrics.with(table, |l| l.read.record_since(start));
        result
    }
    fn scan(
        &self,
        table: TableId,
        range: &ScanRange,
        selection: &ReadSelection,
        limits: ScanLimits,
        now_seconds: i64,
    ) -> Result<PartitionStream> {
        self.inner.scan(table, range, selection, limits, now_seconds)
    }
    fn read_partition_raw(
        &self,
        table: TableId,
        key: &PartitionKey,
        selection: &ReadSelection,
        now_seconds: i64,
    ) -> Result<Option<Mutation>> {
        let start = Instant::now();
        let result = self.inner.read_partition_raw(table, key, selection, now_seconds);
        self.metrics.with(table, |l| l.read.record_since(start));
        result
    }
    fn scan_raw(
        &self,
        table: TableId,
        range: &ScanRange,
        selection: &ReadSelection,
        limits: ScanLimits,
        now_seconds: i64,
    ) -> Result<RawPartitionStream> {
        self.inner.scan_raw(table, range, selection, limits, now_seconds)
    }
    fn remove_partitions(&self, table: TableId, keys: &[PartitionKey]) -> Result<()> {
        self.inner.remove_partitions(table, keys)
    }
    fn put_meta(&self, key: &[u8], value: &[u8]) -> Result<()> {
        self.inner.put_meta(key, value)
    }
    fn get_meta(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.inner.get_meta(key)
    }
    fn delete_meta(&self, key: &[u8]) -> Result<()> {
        self.inner.delete_meta(key)
    }
    fn scan_meta(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        self.inner.scan_meta(prefix)
    }
    fn flush(&self) -> Result<()> {
        self.inner.flush()
    }
    fn major_compact(&self, table: TableId, now_seconds: i64) -> Result<()> {
        self.inner.major_compact(table, now_seconds)
    }
    fn table_size_bytes(&self, table: TableId) -> Result<u64> {
        self.inner.table_size_bytes(table)
    }
    fn disk_usage_bytes(&self) -> Result<u64> {
        self.inner.disk_usage_bytes()
    }
}

/// Approximate serialized size of a raw partition in bytes (key, clustering, cell values, paths and
/// per-cell timestamps), for the "Partition Size" column.
pub fn partition_size_bytes(m: &Mutation) -> u64 {
    /// Bytes a timestamp takes (microseconds, i64).
    const TIMESTAMP_BYTES: u64 = 8;
    let mut size = m.key.key.len() as u64;
    for row in &m.rows {
        if let Clustering::Row(c) = &row.clustering {
            size += c.len() as u64;
        }
        if row.marker.is_some() {
            size += TIMESTAMP_BYTES;
        }
        for cell in &row.cells {
            size += TIMESTAMP_BYTES + cell.path.as_ref().map_or(0, |p| p.len() as u64);
            size += match &cell.value {
                CellValue::Live { value, .. } => value.len() as u64,
                _ => TIMESTAMP_BYTES,
            };
        }
    }
    size
}

/// Cells of a raw partition, for the "Cell Count" column.
pub fn partition_cell_count(m: &Mutation) -> u64 {
    m.rows.iter().map(|r| r.cells.len() as u64).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_match_cassandra() {
        let o = bucket_offsets();
        assert_eq!(&o[..12], &[1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 17]);
        // 20501 ns = 20.50 µs, 24601 ns = 24.60 µs: values Cassandra's nodetool shows.
        assert!(o.contains(&20501) && o.contains(&24601) && o.contains(&35425));
        assert!(o.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn percentiles_follow_estimated_histogram() {
        let h = Histogram::default();
        assert_eq!(h.snapshot().nodetool_rows(), [0; 7]);
        for v in 1..=100u64 {
            h.record(v);
        }
        let s = h.snapshot();
        assert_eq!(s.count(), 100);
        assert_eq!(s.percentile(0.5), 50);
        assert_eq!(s.min(), 0, "the first bucket starts at 0");
        assert_eq!(s.max(), 103);
        assert_eq!(h.sum(), 5050);
        let rows = s.nodetool_rows();
        assert!(rows[0] <= rows[4] && rows[4] <= rows[6], "{rows:?}");
        h.record(u64::MAX);
        assert_eq!(h.snapshot().max(), u64::MAX);
    }

    /// Not a timed benchmark (the machine is shared): recording touches a fixed-size array only, so this
    /// checks many threads can record concurrently and every value is counted.
    #[test]
    fn concurrent_recording_counts_everything() {
        let h = Arc::new(Histogram::default());
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let h = h.clone();
                std::thread::spawn(move || (0..10_000u64).for_each(|i| h.record(i * (t + 1))))
            })
            .collect();
        threads
            .into_iter()
            .for_each(|t| t.join().expect("recorder thread"));
        assert_eq!(h.snapshot().count(), 40_000);
    }

    #[test]
    fn metered_engine_records_reads_and_writes_per_table() {
        let metrics = Arc::new(TableMetrics::default());
        let engine = MeteredEngine::new(Arc::new(crate::MemoryEngine::new()), metrics.clone());
        let (a, b) = (
            TableId(uuid::Uuid::from_u128(1)),
            TableId(uuid::Uuid::from_u128(2)),
        );
        for t in [a, b] {
            engine.create_table(t, TableOptions::default()).expect("create");
        }
        let key = PartitionKey::new(b"k".to_vec());
        engine
            .apply_sync(vec![Mutation::new(a, key.clone()), Mutation::new(b, key.clone())])
            .expect("apply");
        engine
            .read_partition(a, &key, &ReadSelection::all(), 0)
            .expect("read");
        let la = metrics.get(a).expect("table a");
        assert_eq!((la.read.snapshot().count(), la.write.snapshot().count()), (1, 1));
        let lb = metrics.get(b).expect("table b");
        assert_eq!((lb.read.snapshot().count(), lb.write.snapshot().count()), (0, 1));
        engine.drop_table(b).expect("drop");
        assert!(metrics.get(b).is_none());
    }
}
