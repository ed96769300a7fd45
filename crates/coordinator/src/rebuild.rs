//! `nodetool rebuild`: streams every token range this node replicates from a live replica of that range in
//! another datacenter, as Cassandra's `StorageService.rebuild` / `RangeStreamer` do after a datacenter is
//! added. The plan ([`plan_rebuild`]) is computed up front so that a range without a live source fails the
//! rebuild before anything is streamed.

use std::net::SocketAddr;
use std::sync::Arc;

use mica_storage::TableId;

use crate::Coordinator;
use crate::error::CoordinatorError;
use crate::stream::StreamStats;
use crate::topology::{Replica, TokenRange};

/// One range to stream and the replica it comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RangeSource {
    /// `(start, end]`; `start == i64::MIN` includes the ring's first token, as in [`TokenRange`].
    pub start: i64,
    pub end: i64,
    pub source: SocketAddr,
}

/// Why a rebuild failed.
#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    #[error(
        "Unable to find sufficient sources for streaming range ({start},{end}]: no live replica in datacenter {dc}"
    )]
    NoSource { start: i64, end: i64, dc: String },
    #[error("the table is local to each node and has nothing to rebuild")]
    NotReplicated,
    #[error("streaming failed: {0}")]
    Stream(#[from] CoordinatorError),
}

/// What a rebuild of one table moved.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RebuildStats {
    pub ranges: u64,
    pub partitions: u64,
    pub bytes: u64,
}

/// The ranges (`(start, end]`, ring order) `local` is a replica of.
pub fn local_ranges(ranges: &[TokenRange], local: SocketAddr) -> Vec<(i64, i64)> {
    ranges
        .iter()
        .filter(|r| r.replicas.iter().any(|rep| rep.addr == local))
        .map(|r| (r.start, r.end))
        .collect()
}

/// Whether `token` lies in one of `ranges` (`(start, end]`, `start == i64::MIN` including `i64::MIN`).
pub fn owns(ranges: &[(i64, i64)], token: i64) -> bool {
    ranges
        .iter()
        .any(|&(start, end)| token <= end && (token > start || start == i64::MIN))
}

/// Splits user-given ranges `(start, end]` that wrap around the ring (`start >= end`) into two.
pub fn unwrap_ranges(requested: &[(i64, i64)]) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    for &(start, end) in requested {
        if start < end {
            out.push((start, end));
        } else {
            if start < i64::MAX {
                out.push((start, i64::MAX));
            }
            out.push((i64::MIN, end));
        }
    }
    out
}

/// The intersection of two ranges `(a, b]` and `(c, d]`, if not empty.
fn intersect((a, b): (i64, i64), (c, d): (i64, i64)) -> Option<(i64, i64)> {
    let start = a.max(c);
    let end = b.min(d);
    (start < end || (start == i64::MIN && end == i64::MIN)).then_some((start, end))
}

/// Which ranges `local` must stream and from where: every range it replicates (restricted to `only`, when
/// given), each from a live replica in `source_dc` other than itself. Sources rotate over the qualifying
/// replicas so that one node does not serve the whole rebuild. Ranges the node is the only replica of (RF=1)
/// are skipped, as Cassandra does, and so are ranges of which `source_dc` holds no replica at all; a range
/// whose replicas in `source_dc` are all down fails the plan.
pub fn plan_rebuild(
    ranges: &[TokenRange],
    local: SocketAddr,
    source_dc: &str,
    only: Option<&[(i64, i64)]>,
) -> Result<Vec<RangeSource>, RebuildError> {
    let wanted = only.map(unwrap_ranges);
    let mut plan = Vec::new();
    for (index, range) in ranges.iter().enumerate() {
        if !range.replicas.iter().any(|r| r.addr == local) {
            continue;
        }
        let pieces: Vec<(i64, i64)> = match &wanted {
            None => vec![(range.start, range.end)],
            Some(w) => w
                .iter()
                .filter_map(|&piece| intersect((range.start, range.end), piece))
                .collect(),
        };
        if pieces.is_empty() {
            continue;
        }
        if range.replicas.len() == 1 {
            // The node is the range's only replica (RF=1): there is nothing to stream from anywhere, and
            // Cassandra's RangeStreamer only warns for RF=1 keyspaces ("Keyspace might be missing data").
            tracing::warn!(
                "rebuild: no other replica of ({}, {}] (RF=1); it might be missing data",
                range.start,
                range.end
            );
            continue;
        }
        let in_source_dc: Vec<&Replica> = range
            .replicas
            .iter()
            .filter(|r| r.addr != local && r.dc == source_dc)
            .collect();
        if in_source_dc.is_empty() {
            // The source datacenter holds no replica of the range (a SimpleStrategy keyspace such as
            // system_traces placed it elsewhere): it has nothing to give. Cassandra fails the whole rebuild
            // here and makes operators rebuild keyspace by keyspace; Mica skips the range instead.
            tracing::warn!(
                "rebuild: datacenter {source_dc} holds no replica of ({}, {}]; skipped",
                range.start,
                range.end
            );
            continue;
        }
        let sources: Vec<SocketAddr> = in_source_dc.iter().filter(|r| r.alive).map(|r| r.addr).collect();
        if sources.is_empty() {
            return Err(RebuildError::NoSource {
                start: range.start,
                end: range.end,
                dc: source_dc.to_owned(),
            });
        }
        let source = sources[index % sources.len()];
        plan.extend(
            pieces
                .into_iter()
                .map(|(start, end)| RangeSource { start, end, source }),
        );
    }
    Ok(plan)
}

impl Coordinator {
    /// Streams every range of `table` this node replicates (within `only`, when given) from live replicas
    /// in `source_dc`.
    pub async fn rebuild_table(
        self: &Arc<Self>,
        table: TableId,
        source_dc: &str,
        only: Option<&[(i64, i64)]>,
    ) -> Result<RebuildStats, RebuildError> {
        let ranges = self.topology.ranges(table).ok_or(RebuildError::NotReplicated)?;
        let plan = plan_rebuild(&ranges, self.topology.local_addr(), source_dc, only)?;
        let mut stats = RebuildStats::default();
        let mut moved = StreamStats::default();
        for piece in plan {
            tracing::debug!(
                "rebuild: streaming ({}, {}] of {table:?} from {}",
                piece.start,
                piece.end,
                piece.source
            );
            moved += self
                .stream_range_from(piece.source, table, piece.start, piece.end)
                .await?;
            stats.ranges += 1;
        }
        stats.partitions = moved.partitions;
        stats.bytes = moved.bytes;
        Ok(stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(n: u8) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, n], 7000))
    }

    fn rep(n: u8, dc: &str, alive: bool) -> Replica {
        Replica {
            addr: addr(n),
            dc: dc.into(),
            alive,
        }
    }

    fn ring() -> Vec<TokenRange> {
        // Node 1 and 4 are in dc2; 2, 3, 5 in dc1.
        vec![
            TokenRange {
                start: i64::MIN,
                end: -100,
                replicas: vec![rep(1, "dc2", true), rep(2, "dc1", true), rep(3, "dc1", true)],
            },
            TokenRange {
                start: -100,
                end: 100,
                replicas: vec![rep(4, "dc2", true), rep(2, "dc1", false), rep(5, "dc1", true)],
            },
            TokenRange {
                start: 100,
                end: i64::MAX,
                replicas: vec![rep(1, "dc2", true), rep(3, "dc1", false), rep(5, "dc1", true)],
            },
        ]
    }

    #[test]
    fn local_ranges_are_the_ranges_the_node_replicates() {
        assert_eq!(
            local_ranges(&ring(), addr(1)),
            vec![(i64::MIN, -100), (100, i64::MAX)]
        );
        assert_eq!(local_ranges(&ring(), addr(4)), vec![(-100, 100)]);
        assert!(local_ranges(&ring(), addr(9)).is_empty());
    }

    #[test]
    fn ownership_follows_half_open_ranges() {
        let mine = vec![(i64::MIN, -100), (100, i64::MAX)];
        assert!(owns(&mine, i64::MIN));
        assert!(owns(&mine, -100));
        assert!(!owns(&mine, -99));
        assert!(!owns(&mine, 100));
        assert!(owns(&mine, 101));
        assert!(owns(&mine, i64::MAX));
        assert!(!owns(&[(5, 10)], 5));
        assert!(owns(&[(5, 10)], 10));
    }

    #[test]
    fn sources_are_live_replicas_of_the_source_dc() {
        let plan = plan_rebuild(&ring(), addr(1), "dc1", None).expect("plan");
        assert_eq!(plan.len(), 2);
        assert_eq!((plan[0].start, plan[0].end), (i64::MIN, -100));
        assert!([addr(2), addr(3)].contains(&plan[0].source));
        // Node 3 is down: only node 5 qualifies.
        assert_eq!(
            (plan[1].start, plan[1].end, plan[1].source),
            (100, i64::MAX, addr(5))
        );
        let plan = plan_rebuild(&ring(), addr(4), "dc1", None).expect("plan");
        assert_eq!(
            plan,
            vec![RangeSource {
                start: -100,
                end: 100,
                source: addr(5)
            }]
        );
    }

    #[test]
    fn a_range_without_a_live_source_fails_the_plan() {
        let mut ranges = ring();
        ranges[1].replicas[2].alive = false;
        let err = plan_rebuild(&ranges, addr(4), "dc1", None).expect_err("no source");
        assert!(
            matches!(
                err,
                RebuildError::NoSource {
                    start: -100,
                    end: 100,
                    ..
                }
            ),
            "{err}"
        );
        // A datacenter holding no replica of a range has nothing to give: the range is skipped, and the node
        // never streams from itself.
        assert_eq!(plan_rebuild(&ring(), addr(1), "dc2", None).expect("plan"), vec![]);
        assert_eq!(plan_rebuild(&ring(), addr(1), "dc3", None).expect("plan"), vec![]);
        let plan = plan_rebuild(&ring(), addr(2), "dc2", None).expect("plan");
        assert_eq!(
            plan.iter().map(|p| p.source).collect::<Vec<_>>(),
            vec![addr(1), addr(4)]
        );
    }

    #[test]
    fn ranges_with_a_single_replica_are_skipped() {
        let mut ranges = ring();
        ranges[0].replicas.truncate(1);
        let plan = plan_rebuild(&ranges, addr(1), "dc1", None).expect("plan");
        assert_eq!(plan.len(), 1);
        assert_eq!(plan[0].start, 100);
    }

    #[test]
    fn requested_tokens_restrict_and_split_the_plan() {
        let only = [(-200, 200)];
        let plan = plan_rebuild(&ring(), addr(1), "dc1", Some(&only)).expect("plan");
        let pieces: Vec<(i64, i64)> = plan.iter().map(|p| (p.start, p.end)).collect();
        assert_eq!(pieces, vec![(-200, -100), (100, 200)]);
        // A wrapping request covers both ends of the ring.
        let only = [(1000, -1000)];
        let plan = plan_rebuild(&ring(), addr(1), "dc1", Some(&only)).expect("plan");
        let pieces: Vec<(i64, i64)> = plan.iter().map(|p| (p.start, p.end)).collect();
        assert_eq!(pieces, vec![(i64::MIN, -1000), (1000, i64::MAX)]);
        // Ranges outside the request need no source at all.
        let mut ranges = ring();
        ranges[2].replicas[2].alive = false;
        let only = [(-500, -200)];
        assert_eq!(
            plan_rebuild(&ranges, addr(1), "dc1", Some(&only))
                .expect("plan")
                .len(),
            1
        );
    }
}
