//! Where user data is read and written: the local storage engine on a single node, or the node's
//! replication coordinator in a cluster. The query layer builds mutations and reads rows; *which*
//! replicas hold them, and at what consistency, is the data plane's business.

use std::future::Future;
use std::pin::Pin;

use mica_cql_protocol::{Consistency, WriteType};
use mica_storage::{
    Mutation, PartitionKey, PartitionStream, PartitionView, ReadSelection, ScanRange, TableId,
};

use crate::error::Result;

/// A boxed write future.
pub type WriteFuture<'a> = Pin<Box<dyn Future<Output = Result<()>> + Send + 'a>>;

/// A lightweight transaction's decision: given the partitions read at the serial level (one per
/// selection) and the transaction's write timestamp, the client's result and, when the conditions held,
/// the mutations to commit.
pub type CasDecide<'a> = Box<
    dyn FnMut(Vec<Option<PartitionView>>, i64) -> Result<(crate::QueryResult, Option<Vec<Mutation>>)>
        + Send
        + 'a,
>;

/// A boxed lightweight-transaction future.
pub type CasFuture<'a> = Pin<Box<dyn Future<Output = Result<crate::QueryResult>> + Send + 'a>>;

/// Replicated access to user tables. Installed on the engine with [`crate::QueryEngine::set_data_plane`];
/// without one every table is read and written locally.
pub trait DataPlane: Send + Sync {
    /// Whether tables of `keyspace` are replicated through this data plane (system keyspaces stay local).
    fn is_distributed(&self, keyspace: &str) -> bool;
    /// Writes mutations at `consistency`.
    fn write(
        &self,
        mutations: Vec<Mutation>,
        consistency: Consistency,
        write_type: WriteType,
    ) -> WriteFuture<'_>;
    /// Applies node-wide mutations (system_auth: roles and permissions) on every other node: the live ones
    /// before this returns, the down ones later through hints. The local node has already applied them.
    fn broadcast(&self, mutations: Vec<Mutation>) -> WriteFuture<'_>;
    /// Runs a lightweight transaction on one partition with Paxos across its replicas: reads `selections`
    /// at `serial`'s quorum, lets `decide` evaluate the conditions, and commits its mutations at `commit`.
    #[allow(clippy::too_many_arguments)]
    fn cas<'a>(
        &'a self,
        table: TableId,
        key: PartitionKey,
        serial: Consistency,
        commit: Consistency,
        selections: Vec<ReadSelection>,
        now_seconds: i64,
        decide: CasDecide<'a>,
    ) -> CasFuture<'a>;
    /// Reads one partition at `consistency`. Blocks: call only from a thread that may block.
    fn read_partition(
        &self,
        table: TableId,
        key: &PartitionKey,
        selection: &ReadSelection,
        now_seconds: i64,
        consistency: Consistency,
    ) -> Result<Option<PartitionView>>;
    /// Scans partitions in token order at `consistency`. `ScanStart::AfterRow` resumes after that
    /// partition (the reader continues a partition it stopped inside with `read_partition`). The stream
    /// blocks: consume it only from a thread that may block.
    fn scan(
        &self,
        table: TableId,
        range: &ScanRange,
        selection: &ReadSelection,
        now_seconds: i64,
        consistency: Consistency,
    ) -> Result<PartitionStream>;
}
