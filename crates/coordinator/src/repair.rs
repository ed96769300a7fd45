//! Anti-entropy repair (`nodetool repair`), always full (Mica keeps no repaired/unrepaired split, so
//! incremental repair is not supported).
//!
//! The repairing node coordinates, one token range at a time ([`Coordinator::repair_range`]):
//!
//! 1. Every replica of the range must be alive, or the range fails with Cassandra's
//!    "Endpoint not alive: /addr" before anything is compared.
//! 2. Each replica (this node included) builds a [`MerkleTree`] of the range for the table (verb
//!    [`REPAIR_TREE`]): it scans its raw partitions of the range (deletions included) and adds each
//!    partition's `mica_storage::digest` to the leaf of its token.
//! 3. The trees are compared; the leaves that differ between any two replicas (adjacent ones merged)
//!    are the out-of-sync sub-ranges.
//! 4. For each out-of-sync sub-range the raw partitions of every replica are fetched with the STREAM verb,
//!    merged per partition key (`mica_storage::merge`), and each replica is sent what it lacks
//!    (`mica_storage::diff`) as a MUTATION, write timestamps kept, so repaired data is exactly what the
//!    replicas held between them (last write wins, deletions win over older data).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mica_cluster::{Messaging, Verb};
use mica_storage::{
    Engine, Mutation, PartitionKey, ReadSelection, ScanLimits, ScanRange, ScanStart, TableId, TokenBound,
};
use mica_types::Token;
use serde::{Deserialize, Serialize};

use crate::merkle::MerkleTree;
use crate::stream::STREAM_PAGE;
use crate::topology::TokenRange;
use crate::{Coordinator, verbs};

/// Build the Merkle tree of a range on a replica (payload [`TreeRequest`], reply [`MerkleTree`]).
pub const REPAIR_TREE: Verb = 0x0201;

/// How long a replica may take to build one tree (it scans the whole range).
const TREE_TIMEOUT: Duration = Duration::from_secs(300);
/// How long one page of raw partitions or one batch of repairing mutations may take.
const PAGE_TIMEOUT: Duration = Duration::from_secs(60);
/// The most partitions (per replica, by its tree) synchronised in one go when differing leaves are merged.
const SYNC_PARTITIONS: u64 = 4096;
/// Repairing mutations sent to a replica per message.
const MUTATION_BATCH: usize = 64;

/// A request for the Merkle tree of `table` over `(start, end]` (wrapping when `start >= end`).
#[derive(Debug, Serialize, Deserialize)]
pub struct TreeRequest {
    pub table: TableId,
    pub start: i64,
    pub end: i64,
    pub now_seconds: i64,
}

/// Why a range could not be repaired.
#[derive(Debug, thiserror::Error)]
pub enum RepairError {
    /// A replica was down when the range's repair began (Cassandra's wording).
    #[error("Endpoint not alive: /{0}")]
    EndpointNotAlive(SocketAddr),
    /// A replica did not answer or failed.
    #[error("Repair with /{peer} failed: {reason}")]
    Peer { peer: SocketAddr, reason: String },
    #[error(transparent)]
    Local(#[from] crate::CoordinatorError),
}

/// What repairing one range of one table did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RangeRepairStats {
    /// Merkle tree leaves that differed between replicas.
    pub mismatched_leaves: u64,
    /// Out-of-sync sub-ranges (adjacent differing leaves merged).
    pub out_of_sync_ranges: u64,
    /// Partitions some replica lacked part of.
    pub partitions_repaired: u64,
    /// Repairing mutations sent (one per partition and replica lacking something).
    pub mutations_sent: u64,
}

impl std::ops::AddAssign for RangeRepairStats {
    fn add_assign(&mut self, o: RangeRepairStats) {
        self.mismatched_leaves += o.mismatched_leaves;
        self.out_of_sync_ranges += o.out_of_sync_ranges;
        self.partitions_repaired += o.partitions_repaired;
        self.mutations_sent += o.mutations_sent;
    }
}

/// Registers the replica side of [`REPAIR_TREE`].
pub(crate) fn register(messaging: &Messaging, storage: &Arc<dyn Engine>) {
    crate::handlers::serve_blocking(messaging, storage, REPAIR_TREE, |storage, payload| {
        verbs::encode(&build_tree(storage, &verbs::decode::<TreeRequest>(payload)?)?)
    });
}

/// The scans covering `(start, end]`: one, or two when the range wraps past the end of the ring.
/// `start == i64::MIN` includes the ring's first token, as everywhere in the coordinator.
pub fn scan_pieces(start: i64, end: i64) -> Vec<ScanRange> {
    let piece = |start: i64, end: i64| ScanRange {
        start: if start == i64::MIN {
            ScanStart::Unbounded
        } else {
            ScanStart::Token(TokenBound::Exclusive(Token(start)))
        },
        end: TokenBound::Inclusive(Token(end)),
    };
    if start < end {
        return vec![piece(start, end)];
    }
    let mut pieces = Vec::new();
    if start < i64::MAX {
        pieces.push(piece(start, i64::MAX));
    }
    pieces.push(piece(i64::MIN, end));
    pieces
}

/// The replica side: the Merkle tree of this node's raw partitions of the requested range.
pub fn build_tree(
    storage: &dyn Engine,
    request: &TreeRequest,
) -> Result<MerkleTree, crate::CoordinatorError> {
    let mut tree = MerkleTree::new(request.start, request.end);
    for range in scan_pieces(request.start, request.end) {
        let stream = storage.scan_raw(
            request.table,
            &range,
            &ReadSelection::all(),
            ScanLimits::default(),
            request.now_seconds,
        )?;
        for partition in stream {
            let partition = partition?;
            tree.add(partition.key.token.0, &mica_storage::digest(&partition));
        }
    }
    Ok(tree)
}

/// Joins the ring's last range `(t_n, MAX]` and first range `(MIN, t_0]` into the wrapping range
/// `(t_n, t_0]` Cassandra reports, when both have the same replicas.
pub fn join_wrapping(mut ranges: Vec<TokenRange>) -> Vec<TokenRange> {
    if ranges.len() >= 2 {
        let last = ranges.len() - 1;
        let same = {
            let (first, tail) = (&ranges[0], &ranges[last]);
            first.start == i64::MIN
                && tail.end == i64::MAX
                && first
                    .replicas
                    .iter()
                    .map(|r| r.addr)
                    .eq(tail.replicas.iter().map(|r| r.addr))
        };
        if same {
            let tail = ranges.remove(last);
            ranges[0].start = tail.start;
        }
    }
    ranges
}

impl Coordinator {
    /// The ranges of `table` this node replicates, as repair walks them (the ring's wrapping range joined);
    /// only the primary ranges (those ending at one of `primary_tokens`, this node's tokens) when given.
    /// `None` when the table is node-local.
    pub fn repair_ranges(&self, table: TableId, primary_tokens: Option<&[i64]>) -> Option<Vec<TokenRange>> {
        let local = self.topology.local_addr();
        let ranges = join_wrapping(self.topology.ranges(table)?);
        Some(
            ranges
                .into_iter()
                .filter(|r| r.replicas.iter().any(|x| x.addr == local))
                .filter(|r| primary_tokens.is_none_or(|tokens| tokens.contains(&r.end)))
                .collect(),
        )
    }

    /// Whether `addr` is up now.
    pub fn endpoint_alive(&self, addr: SocketAddr) -> bool {
        addr == self.topology.local_addr() || self.topology.is_alive(addr)
    }

    /// Repairs `table` over `range` between all its replicas (see the module docs).
    pub async fn repair_range(
        self: &Arc<Self>,
        table: TableId,
        range: &TokenRange,
    ) -> Result<RangeRepairStats, RepairError> {
        let peers: Vec<SocketAddr> = range.replicas.iter().map(|r| r.addr).collect();
        if let Some(dead) = peers.iter().find(|&&p| !self.endpoint_alive(p)) {
            return Err(RepairError::EndpointNotAlive(*dead));
        }
        let mut stats = RangeRepairStats::default();
        if peers.len() < 2 {
            return Ok(stats);
        }
        let now_seconds = mica_types::now_seconds();
        let request = TreeRequest {
            table,
            start: range.start,
            end: range.end,
            now_seconds,
        };
        let trees = futures::future::join_all(peers.iter().map(|&p| self.tree_of(p, &request))).await;
        let trees = trees.into_iter().collect::<Result<Vec<_>, _>>()?;
        let mut leaves = std::collections::BTreeSet::new();
        for tree in &trees[1..] {
            let differing = trees[0]
                .differences(tree)
                .map_err(|e| RepairError::Local(crate::CoordinatorError::Invalid(e.to_string())))?;
            leaves.extend(differing);
        }
        if leaves.is_empty() {
            tracing::debug!(
                "repair of ({}, {}]: replicas {peers:?} are consistent",
                range.start,
                range.end
            );
            return Ok(stats);
        }
        let leaves: Vec<usize> = leaves.into_iter().collect();
        // Adjacent differing leaves are synchronised together, as long as no replica holds more than
        // SYNC_PARTITIONS partitions in them (every replica's partitions of a sub-range are held in memory).
        let weight = |i: usize| trees.iter().map(|t| t.leaf_partitions(i)).max().unwrap_or(0);
        let sub_ranges = trees[0].ranges_within(&leaves, weight, SYNC_PARTITIONS);
        stats.mismatched_leaves = leaves.len() as u64;
        stats.out_of_sync_ranges = sub_ranges.len() as u64;
        tracing::info!(
            "repair of ({}, {}]: replicas {peers:?} have {} range(s) out of sync",
            range.start,
            range.end,
            sub_ranges.len()
        );
        for (start, end) in sub_ranges {
            stats += self.sync_range(table, &peers, start, end, now_seconds).await?;
        }
        Ok(stats)
    }

    /// The Merkle tree of `peer` (this node's own is built here).
    async fn tree_of(
        self: &Arc<Self>,
        peer: SocketAddr,
        request: &TreeRequest,
    ) -> Result<MerkleTree, RepairError> {
        if peer == self.topology.local_addr() {
            let storage = Arc::clone(&self.storage);
            let request = TreeRequest { ..*request };
            return match tokio::task::spawn_blocking(move || build_tree(&*storage, &request)).await {
                Ok(tree) => Ok(tree?),
                Err(e) => Err(RepairError::Local(crate::CoordinatorError::Invalid(format!(
                    "Merkle tree task failed: {e}"
                )))),
            };
        }
        let bytes = self
            .messaging
            .request(peer, REPAIR_TREE, verbs::encode(request)?, TREE_TIMEOUT)
            .await
            .map_err(|e| RepairError::Peer {
                peer,
                reason: format!("cannot get its Merkle tree: {e}"),
            })?;
        verbs::decode(&bytes).map_err(|e| RepairError::Peer {
            peer,
            reason: e.to_string(),
        })
    }

    /// Makes every peer hold the merge of all peers' partitions of `(start, end]`.
    async fn sync_range(
        self: &Arc<Self>,
        table: TableId,
        peers: &[SocketAddr],
        start: i64,
        end: i64,
        now_seconds: i64,
    ) -> Result<RangeRepairStats, RepairError> {
        let fetched = futures::future::join_all(
            peers
                .iter()
                .map(|&p| self.fetch_range(p, table, start, end, now_seconds)),
        )
        .await;
        // Partition key -> each peer's version (by peer index).
        let mut versions: BTreeMap<PartitionKey, Vec<Option<Mutation>>> = BTreeMap::new();
        for (i, partitions) in fetched.into_iter().enumerate() {
            for m in partitions? {
                let slots = versions
                    .entry(m.key.clone())
                    .or_insert_with(|| vec![None; peers.len()]);
                slots[i] = Some(m);
            }
        }
        let mut stats = RangeRepairStats::default();
        let mut outgoing: Vec<Vec<Mutation>> = vec![Vec::new(); peers.len()];
        for (key, held) in versions {
            let Some(merged) = mica_storage::merge(held.iter().flatten().cloned()) else {
                continue;
            };
            let mut repaired = false;
            for (i, version) in held.iter().enumerate() {
                let empty;
                let version = match version {
                    Some(v) => v,
                    None => {
                        empty = Mutation::new(table, key.clone());
                        &empty
                    }
                };
                if let Some(missing) = mica_storage::diff(&merged, version) {
                    outgoing[i].push(missing);
                    repaired = true;
                }
            }
            if repaired {
                stats.partitions_repaired += 1;
            }
        }
        for (peer, mutations) in peers.iter().zip(outgoing) {
            stats.mutations_sent += mutations.len() as u64;
            for batch in mutations.chunks(MUTATION_BATCH) {
                self.send_repair(*peer, batch.to_vec()).await?;
            }
        }
        Ok(stats)
    }

    /// All raw partitions of `(start, end]` that `peer` holds, paged with the STREAM verb.
    async fn fetch_range(
        self: &Arc<Self>,
        peer: SocketAddr,
        table: TableId,
        start: i64,
        end: i64,
        now_seconds: i64,
    ) -> Result<Vec<Mutation>, RepairError> {
        let mut out = Vec::new();
        for piece in scan_pieces(start, end) {
            let mut range = piece;
            loop {
                let request = verbs::StreamRequest {
                    table,
                    range: range.clone(),
                    limit: STREAM_PAGE,
                    now_seconds,
                };
                let reply = self.stream_page_of(peer, request).await?;
                let Some(last) = reply.partitions.last().map(|m| m.key.clone()) else {
                    break;
                };
                out.extend(reply.partitions);
                if !reply.truncated {
                    break;
                }
                range.start = ScanStart::Key {
                    key: last,
                    inclusive: false,
                };
            }
        }
        Ok(out)
    }

    async fn stream_page_of(
        self: &Arc<Self>,
        peer: SocketAddr,
        request: verbs::StreamRequest,
    ) -> Result<verbs::StreamReply, RepairError> {
        if peer == self.topology.local_addr() {
            let storage = Arc::clone(&self.storage);
            return match tokio::task::spawn_blocking(move || crate::stream::stream_page(&*storage, &request))
                .await
            {
                Ok(reply) => Ok(reply?),
                Err(e) => Err(RepairError::Local(crate::CoordinatorError::Invalid(format!(
                    "read task failed: {e}"
                )))),
            };
        }
        let bytes = self
            .messaging
            .request(peer, verbs::STREAM, verbs::encode(&request)?, PAGE_TIMEOUT)
            .await
            .map_err(|e| RepairError::Peer {
                peer,
                reason: format!("cannot read its partitions: {e}"),
            })?;
        verbs::decode(&bytes).map_err(|e| RepairError::Peer {
            peer,
            reason: e.to_string(),
        })
    }

    /// Applies repairing mutations on `peer`.
    async fn send_repair(
        self: &Arc<Self>,
        peer: SocketAddr,
        mutations: Vec<Mutation>,
    ) -> Result<(), RepairError> {
        if peer == self.topology.local_addr() {
            self.storage
                .apply(mutations)
                .map_err(crate::CoordinatorError::from)?
                .await
                .map_err(crate::CoordinatorError::from)?;
            return Ok(());
        }
        self.messaging
            .request(peer, verbs::MUTATION, verbs::encode(&mutations)?, PAGE_TIMEOUT)
            .await
            .map(drop)
            .map_err(|e| RepairError::Peer {
                peer,
                reason: format!("cannot apply repaired data: {e}"),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::Replica;

    fn replica(port: u16) -> Replica {
        Replica {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            dc: "dc1".into(),
            alive: true,
        }
    }

    fn row(table: TableId, k: u32, ts: i64, value: &str) -> Mutation {
        let mut m = Mutation::new(table, PartitionKey::new(k.to_be_bytes().to_vec()));
        let mut r = mica_storage::RowMutation::new(mica_storage::Clustering::Row(Vec::new()));
        r.marker = Some(mica_storage::Marker {
            timestamp: ts,
            ttl: None,
        });
        r.cells.push(mica_storage::Cell {
            column: 1,
            path: None,
            timestamp: ts,
            value: mica_storage::CellValue::Live {
                value: value.as_bytes().to_vec(),
                ttl: None,
            },
        });
        m.rows.push(r);
        m
    }

    fn engine_with(table: TableId, rows: &[Mutation]) -> mica_storage::MemoryEngine {
        let engine = mica_storage::MemoryEngine::new();
        engine
            .create_table(table, mica_storage::TableOptions::default())
            .expect("create table");
        engine.apply_sync(rows.to_vec()).expect("apply");
        engine
    }

    #[test]
    fn replica_trees_find_the_one_partition_that_differs() {
        let table = TableId(Default::default());
        let rows: Vec<Mutation> = (0..200).map(|k| row(table, k, 10, "a")).collect();
        let a = engine_with(table, &rows);
        let b = engine_with(table, &rows);
        // The whole ring, wrapping at an arbitrary token.
        let request = TreeRequest {
            table,
            start: 12345,
            end: 12345,
            now_seconds: 1_000,
        };
        let ta = build_tree(&a, &request).expect("tree");
        assert_eq!(ta.partitions(), 200);
        assert_eq!(
            ta.differences(&build_tree(&b, &request).expect("tree")),
            Ok(vec![])
        );
        // An update of one partition on one replica changes exactly its leaf.
        let changed = row(table, 77, 20, "b");
        b.apply_sync(vec![changed.clone()]).expect("apply");
        let tb = build_tree(&b, &request).expect("tree");
        let leaf = ta.leaf_of(changed.key.token.0).expect("in range");
        assert_eq!(ta.differences(&tb), Ok(vec![leaf]));
        // The differing leaf's range holds the partition: fetching it finds the update.
        let (start, end) = ta.ranges_of(&[leaf])[0];
        let mut found = Vec::new();
        for range in scan_pieces(start, end) {
            let stream = b
                .scan_raw(table, &range, &ReadSelection::all(), ScanLimits::default(), 1_000)
                .expect("scan");
            found.extend(stream.map(|p| p.expect("partition").key));
        }
        assert!(found.contains(&changed.key), "{found:?}");
        // A partial range only sees its own partitions.
        let half = TreeRequest {
            table,
            start: 0,
            end: i64::MAX,
            now_seconds: 1_000,
        };
        let expected = rows.iter().filter(|m| m.key.token.0 > 0).count() as u64;
        assert_eq!(build_tree(&a, &half).expect("tree").partitions(), expected);
    }

    #[test]
    fn wrapping_pieces_cover_both_ends_of_the_ring() {
        assert_eq!(scan_pieces(-5, 10).len(), 1);
        let pieces = scan_pieces(100, -100);
        assert_eq!(pieces.len(), 2);
        assert_eq!(pieces[0].end, TokenBound::Inclusive(Token(i64::MAX)));
        assert!(matches!(pieces[1].start, ScanStart::Unbounded));
        assert_eq!(pieces[1].end, TokenBound::Inclusive(Token(-100)));
        assert!(matches!(scan_pieces(i64::MIN, 3)[0].start, ScanStart::Unbounded));
    }

    #[test]
    fn the_ring_ends_join_into_one_wrapping_range() {
        let ranges = vec![
            TokenRange {
                start: i64::MIN,
                end: -10,
                replicas: vec![replica(1), replica(2)],
            },
            TokenRange {
                start: -10,
                end: 20,
                replicas: vec![replica(2), replica(1)],
            },
            TokenRange {
                start: 20,
                end: i64::MAX,
                replicas: vec![replica(1), replica(2)],
            },
        ];
        let joined = join_wrapping(ranges.clone());
        assert_eq!(joined.len(), 2);
        assert_eq!((joined[0].start, joined[0].end), (20, -10));
        assert_eq!((joined[1].start, joined[1].end), (-10, 20));
        let mut different = ranges;
        different[2].replicas = vec![replica(3)];
        assert_eq!(join_wrapping(different).len(), 3);
    }
}
