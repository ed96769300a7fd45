//! Engine-agnostic data model: mutations going in, reconciled live views coming out.
//!
//! Keys and values are opaque bytes already encoded by the query layer; the engine only knows the
//! Cassandra storage semantics (timestamps, tombstones, TTLs, counters) described in the crate docs.

use mica_types::Token;
use serde::{Deserialize, Serialize};
use std::ops::Bound;
use std::path::PathBuf;
use std::time::Duration;

/// Cassandra's default `gc_grace_seconds` (ten days).
pub const DEFAULT_GC_GRACE_SECONDS: u32 = 864_000;

/// Identity of a table; stable across renames and restarts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TableId(pub uuid::Uuid);

/// A partition key: its ring token plus the serialized partition key bytes.
///
/// Partitions are ordered by `(token, key)` with the key compared as unsigned bytes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PartitionKey {
    /// Murmur3 token of `key`.
    pub token: Token,
    /// Serialized partition key bytes.
    pub key: Vec<u8>,
}

impl PartitionKey {
    /// Builds a key, computing the Murmur3 token of `key`.
    pub fn new(key: Vec<u8>) -> PartitionKey {
        PartitionKey {
            token: Token::for_key(&key),
            key,
        }
    }
}

/// Address of a row inside a partition.
///
/// `Static` sorts before every regular row; regular rows compare by their order-preserving
/// encoded clustering bytes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Clustering {
    /// The partition's static row.
    Static,
    /// A regular row (empty bytes for tables without clustering columns).
    Row(Vec<u8>),
}

/// A bound over encoded clustering bytes, interpreted as a *prefix* bound:
///
/// * start `Included(p)`: rows `>= p` (so every row having prefix `p` is included);
/// * start `Excluded(p)`: rows after every row having prefix `p`;
/// * end `Included(p)`: rows `<= p` or having prefix `p`;
/// * end `Excluded(p)`: rows before every row having prefix `p`.
pub type ClusteringBound = Bound<Vec<u8>>;

/// A time-to-live attached to a live cell or row marker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Ttl {
    /// The TTL in seconds, as the user gave it.
    pub ttl_seconds: u32,
    /// Local expiration time in seconds since the epoch; the data is dead once `now >= expires_at`.
    pub expires_at: i64,
}

/// A deletion marker at any level (partition, range, row, complex column).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Deletion {
    /// Data with a timestamp `<=` this is shadowed.
    pub timestamp: i64,
    /// Seconds since the epoch at which the deletion happened (drives tombstone GC).
    pub local_deletion_time: i64,
}

/// A range tombstone over clustering bounds (never covers the static row).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RangeTombstone {
    /// Start bound (see [`ClusteringBound`] for the prefix semantics).
    pub start: ClusteringBound,
    /// End bound.
    pub end: ClusteringBound,
    /// The deletion applied to every covered row.
    pub deletion: Deletion,
}

/// Primary key liveness written by `INSERT`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Marker {
    /// Write timestamp in microseconds.
    pub timestamp: i64,
    /// Optional TTL.
    pub ttl: Option<Ttl>,
}

/// What a cell write carries.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CellValue {
    /// A live value, optionally expiring.
    Live {
        /// The encoded value bytes.
        value: Vec<u8>,
        /// Optional TTL.
        ttl: Option<Ttl>,
    },
    /// A cell tombstone.
    Tombstone {
        /// Seconds since the epoch at which the deletion happened.
        local_deletion_time: i64,
    },
    /// A counter increment (negative for decrements).
    CounterDelta(i64),
}

/// One cell write.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Cell {
    /// Column id assigned by the caller.
    pub column: u32,
    /// Element key for non-frozen collections / UDT fields (order-preserving bytes).
    pub path: Option<Vec<u8>>,
    /// Write timestamp in microseconds.
    pub timestamp: i64,
    /// The payload.
    pub value: CellValue,
}

/// Changes to one row (or the static row).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RowMutation {
    /// Which row.
    pub clustering: Clustering,
    /// Row marker (INSERT).
    pub marker: Option<Marker>,
    /// Row deletion.
    pub deletion: Option<Deletion>,
    /// Whole-column deletions of complex (non-frozen collection) columns.
    pub column_deletions: Vec<(u32, Deletion)>,
    /// Cell writes.
    pub cells: Vec<Cell>,
}

impl RowMutation {
    /// An empty mutation of the given row.
    pub fn new(clustering: Clustering) -> RowMutation {
        RowMutation {
            clustering,
            marker: None,
            deletion: None,
            column_deletions: Vec::new(),
            cells: Vec::new(),
        }
    }
}

/// All changes to one partition of one table.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Mutation {
    /// Target table.
    pub table: TableId,
    /// Target partition.
    pub key: PartitionKey,
    /// Partition-level deletion.
    pub partition_deletion: Option<Deletion>,
    /// Range tombstones.
    pub range_tombstones: Vec<RangeTombstone>,
    /// Row changes.
    pub rows: Vec<RowMutation>,
}

impl Mutation {
    /// An empty mutation of the given partition.
    pub fn new(table: TableId, key: PartitionKey) -> Mutation {
        Mutation {
            table,
            key,
            partition_deletion: None,
            range_tombstones: Vec::new(),
            rows: Vec::new(),
        }
    }
}

/// What a read returns from a partition.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ReadSelection {
    /// Clustering ranges, sorted and non-overlapping; empty means the whole partition.
    pub slices: Vec<(ClusteringBound, ClusteringBound)>,
    /// Whether to return the static row.
    pub include_static: bool,
    /// Return rows in descending clustering order (slices are then visited last to first).
    pub reversed: bool,
    /// Maximum number of regular rows (the static row is not counted).
    pub limit_rows: Option<usize>,
    /// Only return cells of these columns (row liveness still considers every column).
    pub columns: Option<Vec<u32>>,
}

impl ReadSelection {
    /// Every row plus the static row, all columns.
    pub fn all() -> ReadSelection {
        ReadSelection {
            include_static: true,
            ..ReadSelection::default()
        }
    }
}

/// A live row marker as seen by a read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveMarker {
    /// Write timestamp.
    pub timestamp: i64,
    /// TTL in seconds if the marker expires.
    pub ttl: Option<u32>,
    /// Local expiration time if the marker expires.
    pub expires_at: Option<i64>,
}

/// The value of a live cell.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Value {
    /// Regular cell bytes.
    Bytes(Vec<u8>),
    /// Sum of the live counter deltas.
    Counter(i64),
}

/// A live, reconciled cell.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CellView {
    /// Column id.
    pub column: u32,
    /// Collection element key, if any.
    pub path: Option<Vec<u8>>,
    /// The value.
    pub value: Value,
    /// Write timestamp (for counters, the newest contributing delta).
    pub timestamp: i64,
    /// TTL in seconds if the cell expires.
    pub ttl: Option<u32>,
    /// Local expiration time if the cell expires.
    pub expires_at: Option<i64>,
}

/// A live row. Cells are sorted by `(column, path)`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowView {
    /// Which row.
    pub clustering: Clustering,
    /// The live row marker, if any.
    pub marker: Option<LiveMarker>,
    /// Live cells (restricted to the selected columns).
    pub cells: Vec<CellView>,
}

/// The live content of a partition restricted to a selection. Engines return `None` instead of a
/// view with neither a static row nor rows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionView {
    /// The partition.
    pub key: PartitionKey,
    /// The live static row, if requested and live.
    pub static_row: Option<RowView>,
    /// Live regular rows in selection order.
    pub rows: Vec<RowView>,
}

/// An end (or start) position on the token ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TokenBound {
    /// No bound.
    Unbounded,
    /// The bound token itself is in range.
    Inclusive(Token),
    /// The bound token itself is out of range.
    Exclusive(Token),
}

/// Where a scan starts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScanStart {
    /// The beginning of the ring.
    Unbounded,
    /// A token bound.
    Token(TokenBound),
    /// At (inclusive) or strictly after (exclusive) a partition position.
    Key {
        /// The position.
        key: PartitionKey,
        /// Whether the partition at `key` itself is included.
        inclusive: bool,
    },
    /// Inside partition `key`, strictly after `clustering` in selection order (paging); the static
    /// row is still returned if selected, then the scan continues with later partitions.
    AfterRow {
        /// The partition to resume in.
        key: PartitionKey,
        /// The last clustering returned (`Static` resumes before all regular rows).
        clustering: Clustering,
    },
}

/// A token-ordered range of partitions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanRange {
    /// Start position.
    pub start: ScanStart,
    /// End token bound.
    pub end: TokenBound,
}

impl ScanRange {
    /// The whole ring.
    pub fn all() -> ScanRange {
        ScanRange {
            start: ScanStart::Unbounded,
            end: TokenBound::Unbounded,
        }
    }
}

/// Limits applied across a scan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ScanLimits {
    /// Stop after this many (non-empty) partitions.
    pub partitions: Option<usize>,
    /// Stop after this many rows in total, truncating the last partition; a partition with only a
    /// static row counts as one row, as in CQL paging.
    pub rows: Option<usize>,
}

/// Per-table options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableOptions {
    /// Tombstones older than this may be purged by compaction.
    pub gc_grace_seconds: u32,
    /// Default TTL, stored for the query layer; the engine does not apply it (it cannot tell
    /// `USING TTL 0` from no TTL).
    pub default_ttl: Option<u32>,
}

impl Default for TableOptions {
    fn default() -> Self {
        TableOptions {
            gc_grace_seconds: DEFAULT_GC_GRACE_SECONDS,
            default_ttl: None,
        }
    }
}

/// How writes are made durable, mirroring Cassandra's `commitlog_sync`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommitLogSync {
    /// Acknowledge at once; a background thread fsyncs the journal every `period`.
    Periodic {
        /// Interval between fsyncs.
        period: Duration,
    },
    /// Acknowledge after an fsync shared by every writer waiting at that moment (group commit).
    Batch,
    /// Like `Batch`, but the syncer waits `window` after the first waiter to gather more writers.
    Group {
        /// How long to gather writers before one fsync.
        window: Duration,
    },
}

/// Engine configuration derived from the node's config.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineConfig {
    /// Directory holding all data (created if missing).
    pub data_dir: PathBuf,
    /// Durability policy.
    pub commitlog_sync: CommitLogSync,
    /// Block cache size in bytes.
    pub cache_bytes: u64,
    /// Memtable size per table in bytes, before it is flushed.
    pub memtable_bytes: u64,
    /// Background worker threads for flushes and compactions (`None`: fjall's default).
    pub worker_threads: Option<usize>,
}

impl EngineConfig {
    /// Defaults suitable for tests and small nodes.
    pub fn new(data_dir: impl Into<PathBuf>) -> EngineConfig {
        EngineConfig {
            data_dir: data_dir.into(),
            commitlog_sync: CommitLogSync::Periodic {
                period: Duration::from_secs(10),
            },
            cache_bytes: 64 * 1024 * 1024,
            memtable_bytes: 16 * 1024 * 1024,
            worker_threads: None,
        }
    }
}
