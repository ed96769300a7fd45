//! The engine-agnostic storage trait every engine implements and the conformance suite checks.

use crate::durable::Durable;
use crate::error::Result;
use crate::types::{
    Mutation, PartitionKey, PartitionView, ReadSelection, ScanLimits, ScanRange, TableId, TableOptions,
};

/// A lazily produced sequence of partitions from [`Engine::scan`], in token order.
pub type PartitionStream = Box<dyn Iterator<Item = Result<PartitionView>> + Send>;

/// A lazily produced sequence of raw partitions from [`Engine::scan_raw`], in token order.
pub type RawPartitionStream = Box<dyn Iterator<Item = Result<Mutation>> + Send>;

/// A storage engine with Cassandra semantics over caller-encoded keys and values.
///
/// All methods take `&self`; engines are shared between threads. `now_seconds` arguments are the
/// reader's clock (seconds since the epoch) used to decide TTL expiry.
pub trait Engine: Send + Sync {
    /// Creates a table (idempotent; an existing table keeps its data and gets `options`).
    fn create_table(&self, table: TableId, options: TableOptions) -> Result<()>;
    /// Drops a table and all its data (idempotent).
    fn drop_table(&self, table: TableId) -> Result<()>;
    /// Removes all data of a table, keeping the table.
    fn truncate_table(&self, table: TableId) -> Result<()>;
    /// Replaces a table's options.
    fn set_table_options(&self, table: TableId, options: TableOptions) -> Result<()>;
    /// A table's options, or `None` if it does not exist.
    fn table_options(&self, table: TableId) -> Result<Option<TableOptions>>;
    /// Every existing table.
    fn list_tables(&self) -> Result<Vec<TableId>>;

    /// Applies mutations atomically; the returned [`Durable`] resolves when the commit-log policy
    /// considers them durable. Fails at once for unknown tables or a poisoned engine. The mutations are
    /// visible to reads at the latest when the `Durable` resolves (an engine may hand the journal append to
    /// its commit-log thread so that callers on a request thread never wait behind an fsync).
    fn apply(&self, mutations: Vec<Mutation>) -> Result<Durable>;
    /// Like [`Engine::apply`], but the mutations are visible to reads when this returns: for callers that
    /// must read their own write under a lock they hold (lightweight transactions, index builds).
    fn apply_visible(&self, mutations: Vec<Mutation>) -> Result<Durable> {
        self.apply(mutations)
    }
    /// Applies mutations and blocks until durable. Not for async runtime threads.
    fn apply_sync(&self, mutations: Vec<Mutation>) -> Result<()> {
        self.apply(mutations)?.wait()
    }

    /// Reads the live, reconciled content of one partition; `None` if nothing selected is live.
    fn read_partition(
        &self,
        table: TableId,
        key: &PartitionKey,
        selection: &ReadSelection,
        now_seconds: i64,
    ) -> Result<Option<PartitionView>>;

    /// Scans partitions in token order, lazily, skipping partitions with nothing live.
    ///
    /// The stream reads one consistent snapshot; keeping it open keeps old versions alive, so
    /// drop it when a page is done and resume with [`crate::ScanStart::AfterRow`] /
    /// [`crate::ScanStart::Key`].
    fn scan(
        &self,
        table: TableId,
        range: &ScanRange,
        selection: &ReadSelection,
        limits: ScanLimits,
        now_seconds: i64,
    ) -> Result<PartitionStream>;

    /// The partition's reconciled content within `selection`, deletions included, as replicas
    /// exchange it (see `docs/storage-format.md`, "Raw reads"); `None` when the partition has
    /// nothing at all in the selection.
    ///
    /// The result holds the partition deletion, the range tombstones intersecting the selected
    /// slices, and every selected row holding anything (live or expired data, tombstones) with
    /// only the winning version of each marker, deletion and cell; data shadowed by a deletion is
    /// dropped. Cells of columns outside `selection.columns` come with empty values (only their
    /// liveness matters). `limit_rows` counts rows with live content at `now_seconds` only.
    /// Counter columns come as one `CounterDelta(sum)` cell with the newest timestamp.
    fn read_partition_raw(
        &self,
        table: TableId,
        key: &PartitionKey,
        selection: &ReadSelection,
        now_seconds: i64,
    ) -> Result<Option<Mutation>>;

    /// Like [`Engine::scan`], but yields raw partitions (see [`Engine::read_partition_raw`]),
    /// including partitions holding only deletions; limits count live content only.
    fn scan_raw(
        &self,
        table: TableId,
        range: &ScanRange,
        selection: &ReadSelection,
        limits: ScanLimits,
        now_seconds: i64,
    ) -> Result<RawPartitionStream>;

    /// Physically removes every trace of the given partitions (data and deletions) from the local
    /// table, durably before returning. Unlike a deletion this writes no tombstone that could
    /// replicate: it is for `nodetool cleanup`, which drops partitions this node no longer
    /// replicates. Keys that hold nothing are ignored.
    fn remove_partitions(&self, table: TableId, keys: &[PartitionKey]) -> Result<()>;

    /// Durably stores a node metadata entry (synced before returning).
    fn put_meta(&self, key: &[u8], value: &[u8]) -> Result<()>;
    /// Reads a node metadata entry.
    fn get_meta(&self, key: &[u8]) -> Result<Option<Vec<u8>>>;
    /// Durably deletes a node metadata entry.
    fn delete_meta(&self, key: &[u8]) -> Result<()>;
    /// Every metadata entry whose key starts with `prefix`, in key order.
    fn scan_meta(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>>;

    /// Writes memtables to disk and syncs the journal.
    fn flush(&self) -> Result<()>;
    /// Purges shadowed data and tombstones older than `gc_grace_seconds` (as of `now_seconds`),
    /// then compacts the table fully.
    fn major_compact(&self, table: TableId, now_seconds: i64) -> Result<()>;
    /// Approximate on-disk size of a table in bytes.
    fn table_size_bytes(&self, table: TableId) -> Result<u64>;
    /// Approximate on-disk size of the whole engine in bytes.
    fn disk_usage_bytes(&self) -> Result<u64>;
}
