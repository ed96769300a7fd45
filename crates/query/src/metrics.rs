//! Coordinator-level request latencies (Cassandra's `ClientRequest` metrics shown by `nodetool
//! proxyhistograms`): every CQL read, range read, write and lightweight transaction that goes through the
//! query engine is timed into a lock-free [`Histogram`] (cumulative since the node started; see
//! [`mica_storage::metrics`]).

use std::time::Instant;

use mica_cql_protocol::Consistency;
use mica_storage::metrics::Histogram;

/// The node's coordinator latencies, in nanoseconds.
#[derive(Debug, Default)]
pub struct ProxyLatencies {
    /// Single-partition reads (every partition key column restricted by `=` or `IN`).
    pub read: Histogram,
    /// INSERT, UPDATE, DELETE and BATCH without conditions.
    pub write: Histogram,
    /// Reads over token ranges (no or partial partition key restriction).
    pub range: Histogram,
    /// Reads at SERIAL or LOCAL_SERIAL.
    pub cas_read: Histogram,
    /// Conditional updates and batches (Paxos).
    pub cas_write: Histogram,
    /// Materialized view updates: Mica has no materialized views, so this stays empty.
    pub view_write: Histogram,
}

/// Records one client read when dropped, into the histogram matching its kind.
#[derive(Debug)]
pub(crate) struct ReadTimer<'a> {
    histogram: Option<&'a Histogram>,
    start: Instant,
}

impl ProxyLatencies {
    /// A timer for a SELECT begun at `start`; internal reads (no consistency level) are not client
    /// requests and are not recorded.
    pub(crate) fn read_timer(
        &self,
        start: Instant,
        consistency: Option<Consistency>,
        single_partition: bool,
    ) -> ReadTimer<'_> {
        let histogram = consistency.map(|c| match c {
            Consistency::Serial | Consistency::LocalSerial => &self.cas_read,
            _ if single_partition => &self.read,
            _ => &self.range,
        });
        ReadTimer { histogram, start }
    }
}

impl Drop for ReadTimer<'_> {
    fn drop(&mut self) {
        if let Some(h) = self.histogram {
            h.record_since(self.start);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_sorted_by_kind_and_internal_reads_skipped() {
        let p = ProxyLatencies::default();
        let start = Instant::now();
        drop(p.read_timer(start, Some(Consistency::One), true));
        drop(p.read_timer(start, Some(Consistency::Quorum), false));
        drop(p.read_timer(start, Some(Consistency::Serial), true));
        drop(p.read_timer(start, None, true));
        let counts = [&p.read, &p.range, &p.cas_read, &p.write].map(|h| h.snapshot().count());
        assert_eq!(counts, [1, 1, 1, 0]);
    }
}
