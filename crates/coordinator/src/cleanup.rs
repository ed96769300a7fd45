//! `nodetool cleanup`: physically removes from the local engine the partitions whose token this node no
//! longer replicates (after nodes joined its ranges). It is local only: the partitions go through
//! [`mica_storage::Engine::remove_partitions`], which writes no tombstone that could reach another replica.

use mica_storage::{PartitionKey, ReadSelection, ScanLimits, ScanRange, ScanStart, TableId, TokenBound};

use crate::Coordinator;
use crate::error::CoordinatorError;
use crate::rebuild::{local_ranges, owns};

/// Partitions examined per page: the scan is dropped before removing, so engines never see a removal
/// while one of their snapshots is open for long.
const CLEANUP_PAGE: usize = 1024;

/// Why a cleanup refused to run or failed.
#[derive(Debug, thiserror::Error)]
pub enum CleanupError {
    #[error("the table is local to each node and has nothing to clean up")]
    NotReplicated,
    /// A node that replicates no range would delete everything it holds: it is joining, leaving or not in
    /// the ring yet, which is exactly when Cassandra refuses a cleanup.
    #[error("Node is involved in cluster membership changes. Not safe to run cleanup.")]
    NotInRing,
    #[error("{0}")]
    Storage(#[from] mica_storage::StorageError),
}

impl From<CoordinatorError> for CleanupError {
    fn from(e: CoordinatorError) -> Self {
        CleanupError::Storage(mica_storage::StorageError::Backend(e.to_string()))
    }
}

/// What a cleanup of one table did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CleanupStats {
    /// Partitions examined.
    pub scanned: u64,
    /// Partitions removed.
    pub removed: u64,
}

impl Coordinator {
    /// Removes the partitions of `table` this node does not replicate. Blocking (engine scans): run it on a
    /// blocking thread.
    pub fn cleanup_table(&self, table: TableId) -> Result<CleanupStats, CleanupError> {
        let ranges = self.topology.ranges(table).ok_or(CleanupError::NotReplicated)?;
        let mine = local_ranges(&ranges, self.topology.local_addr());
        if mine.is_empty() {
            return Err(CleanupError::NotInRing);
        }
        let mut stats = CleanupStats::default();
        let mut resume: Option<PartitionKey> = None;
        loop {
            let range = ScanRange {
                start: match resume.take() {
                    Some(key) => ScanStart::Key {
                        key,
                        inclusive: false,
                    },
                    None => ScanStart::Unbounded,
                },
                end: TokenBound::Unbounded,
            };
            let mut foreign = Vec::new();
            let mut seen = 0usize;
            {
                let stream = self.storage.scan_raw(
                    table,
                    &range,
                    &ReadSelection::all(),
                    ScanLimits::default(),
                    mica_types::now_seconds(),
                )?;
                for partition in stream {
                    let key = partition?.key;
                    seen += 1;
                    if !owns(&mine, key.token.0) {
                        foreign.push(key.clone());
                    }
                    if seen == CLEANUP_PAGE {
                        resume = Some(key);
                        break;
                    }
                }
            }
            stats.scanned += seen as u64;
            if !foreign.is_empty() {
                stats.removed += foreign.len() as u64;
                self.storage.remove_partitions(table, &foreign)?;
            }
            if resume.is_none() {
                return Ok(stats);
            }
        }
    }
}
