//! Latency histograms per operation kind, merged across workers, and the final report.

use std::fmt::Write as _;
use std::time::Duration;

use hdrhistogram::Histogram;

/// Highest latency recorded exactly, in microseconds; slower requests count as this value.
const MAX_TRACKED_MICROS: u64 = 60_000_000;
/// Significant decimal digits the histograms keep.
const SIGNIFICANT_DIGITS: u8 = 3;

/// Outcomes of one kind of operation.
#[derive(Clone, Debug)]
pub struct OpStats {
    /// Latencies of successful requests, in microseconds.
    latency: Histogram<u64>,
    pub errors: u64,
    /// Reads that found no row (the key was never written).
    pub misses: u64,
}

impl OpStats {
    pub fn new() -> Self {
        OpStats {
            latency: Histogram::new_with_bounds(1, MAX_TRACKED_MICROS, SIGNIFICANT_DIGITS)
                .expect("the histogram bounds are valid constants"),
            errors: 0,
            misses: 0,
        }
    }

    pub fn record(&mut self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.latency.saturating_record(micros.max(1));
    }

    pub fn count(&self) -> u64 {
        self.latency.len()
    }

    pub fn merge(&mut self, other: &OpStats) {
        // Both histograms have the same bounds, so adding cannot fail; saturate if it ever did.
        if self.latency.add(&other.latency).is_err() {
            self.latency.saturating_record(MAX_TRACKED_MICROS);
        }
        self.errors += other.errors;
        self.misses += other.misses;
    }
}

/// What one worker saw.
#[derive(Clone, Debug)]
pub struct WorkerStats {
    pub write: OpStats,
    pub read: OpStats,
    /// The first error message, to show why requests failed.
    pub first_error: Option<String>,
}

impl WorkerStats {
    pub fn new() -> Self {
        WorkerStats {
            write: OpStats::new(),
            read: OpStats::new(),
            first_error: None,
        }
    }

    pub fn merge(&mut self, other: &WorkerStats) {
        self.write.merge(&other.write);
        self.read.merge(&other.read);
        if self.first_error.is_none() {
            self.first_error.clone_from(&other.first_error);
        }
    }
}

fn millis(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

/// The results table: one line per operation kind that ran, then the total.
pub fn render(stats: &WorkerStats, elapsed: Duration) -> String {
    let seconds = elapsed.as_secs_f64().max(f64::EPSILON);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<6} {:>10} {:>10} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8}",
        "op", "count", "ops/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "errors", "misses"
    );
    let mut total = OpStats::new();
    for (name, op) in [("write", &stats.write), ("read", &stats.read)] {
        if op.count() == 0 && op.errors == 0 {
            continue;
        }
        total.merge(op);
        let _ = writeln!(out, "{}", line(name, op, seconds));
    }
    let _ = writeln!(out, "{}", line("total", &total, seconds));
    if let Some(error) = &stats.first_error {
        let _ = writeln!(out, "first error: {error}");
    }
    out
}

fn line(name: &str, op: &OpStats, seconds: f64) -> String {
    let h = &op.latency;
    format!(
        "{:<6} {:>10} {:>10.0} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>8} {:>8}",
        name,
        op.count(),
        op.count() as f64 / seconds,
        millis(h.value_at_quantile(0.50)),
        millis(h.value_at_quantile(0.95)),
        millis(h.value_at_quantile(0.99)),
        millis(h.max()),
        op.errors,
        op.misses,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_percentiles_cover_all_workers() {
        let mut a = WorkerStats::new();
        let mut b = WorkerStats::new();
        for i in 1..=99 {
            a.write.record(Duration::from_micros(i * 10));
        }
        b.write.record(Duration::from_millis(50));
        b.read.record(Duration::from_micros(0));
        b.read.misses = 1;
        b.first_error = Some("timeout".into());
        a.merge(&b);
        assert_eq!(a.write.count(), 100);
        assert_eq!(a.read.count(), 1);
        assert_eq!(a.read.misses, 1);
        assert_eq!(a.first_error.as_deref(), Some("timeout"));
        let p50 = a.write.latency.value_at_quantile(0.5);
        assert!((495..=505).contains(&p50), "{p50}");
        assert!(a.write.latency.max() >= 49_950);

        let report = render(&a, Duration::from_secs(2));
        let lines: Vec<&str> = report.lines().collect();
        assert!(lines[0].starts_with("op"));
        let write: Vec<&str> = lines[1].split_whitespace().collect();
        assert_eq!(&write[..3], ["write", "100", "50"]);
        assert!(lines[3].starts_with("total") && lines[3].contains(" 101 "));
        assert_eq!(lines[4], "first error: timeout");
    }

    #[test]
    fn kinds_that_did_not_run_are_left_out() {
        let mut s = WorkerStats::new();
        s.read.record(Duration::from_millis(1));
        let report = render(&s, Duration::from_secs(1));
        assert!(!report.contains("write"));
        assert!(report.contains("read"));
    }
}
