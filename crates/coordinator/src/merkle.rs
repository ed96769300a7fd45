//! Merkle trees of token ranges, the summaries replicas exchange in anti-entropy repair (`nodetool repair`).
//!
//! # Layout
//!
//! A tree covers one token range `(start, end]`. The range may wrap around the ring (`start >= end`; with
//! `start == end` it is the whole ring). Its width `w` is `(end - start) mod 2^64`, `2^64` for the whole
//! ring. The tree has `2^depth` leaves with `depth = min(MAX_DEPTH, floor(log2 w))`, so small ranges get
//! fewer leaves and no leaf is empty of tokens. Leaf `i` covers the tokens
//! `(start + floor(i * w / L), start + floor((i + 1) * w / L)]` (wrapping addition, `L` leaves), so the
//! leaves split the range into contiguous, nearly equal slices in token order.
//!
//! A leaf accumulates the XOR of `mica_storage::digest` of every partition whose token falls in it, and
//! how many partitions it saw; XOR makes the result independent of the order partitions are added. A leaf's
//! hash is SHA-256 of (accumulator, count); an inner node's hash is SHA-256 of its two children's hashes,
//! so two trees with the same root hold the same data, and comparing them descends only into the
//! subtrees whose hashes differ. Only the leaves travel between nodes (they are 24 bytes each, at most
//! 24 KiB a tree); inner nodes are recomputed where trees are compared.

use mica_storage::merge::DIGEST_LEN;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The deepest tree: at most 2^10 leaves per range (Cassandra's default repair trees are 2^20 leaves for a
/// whole table; a range of a vnode ring holds far less data).
pub const MAX_DEPTH: u32 = 10;

/// A node hash.
pub type Hash = [u8; 32];

/// What one leaf saw: the XOR of its partitions' digests and how many there were.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leaf {
    pub xor: [u8; DIGEST_LEN],
    pub partitions: u64,
}

/// Why two trees cannot be compared.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "Merkle trees of different ranges or depths cannot be compared: ({0},{1}] depth {2} vs ({3},{4}] depth {5}"
)]
pub struct LayoutMismatch(i64, i64, u32, i64, i64, u32);

/// A Merkle tree of the range `(start, end]` (see the module docs for the layout).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MerkleTree {
    pub start: i64,
    pub end: i64,
    depth: u32,
    leaves: Vec<Leaf>,
}

/// `(end - start) mod 2^64`, with the whole ring (`start == end`) as `2^64`.
pub fn width(start: i64, end: i64) -> u128 {
    match end.wrapping_sub(start) as u64 {
        0 => 1u128 << 64,
        w => u128::from(w),
    }
}

/// The depth of a tree of `(start, end]`.
fn depth_for(start: i64, end: i64) -> u32 {
    let w = width(start, end);
    // floor(log2 w), w >= 1.
    let log = 127 - w.leading_zeros();
    log.min(MAX_DEPTH)
}

fn leaf_hash(leaf: &Leaf) -> Hash {
    let mut h = Sha256::new();
    h.update(leaf.xor);
    h.update(leaf.partitions.to_be_bytes());
    h.finalize().into()
}

fn inner_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update(left);
    h.update(right);
    h.finalize().into()
}

impl MerkleTree {
    /// An empty tree of `(start, end]`.
    pub fn new(start: i64, end: i64) -> MerkleTree {
        let depth = depth_for(start, end);
        MerkleTree {
            start,
            end,
            depth,
            leaves: vec![Leaf::default(); 1usize << depth],
        }
    }

    /// How many leaves the tree has.
    pub fn leaf_count(&self) -> usize {
        self.leaves.len()
    }

    /// How many partitions were added.
    pub fn partitions(&self) -> u64 {
        self.leaves.iter().map(|l| l.partitions).sum()
    }

    /// The offset (from `start`) of the upper bound of leaf `i`, i.e. `floor((i + 1) * w / L)`.
    fn upper_offset(&self, i: usize) -> u128 {
        let w = width(self.start, self.end);
        // w <= 2^64 and i + 1 <= 2^10, so the product fits in a u128.
        (w * (i as u128 + 1)) >> self.depth
    }

    /// The leaf holding `token`, `None` when the token lies outside the tree's range.
    pub fn leaf_of(&self, token: i64) -> Option<usize> {
        let width = width(self.start, self.end);
        let offset = match token.wrapping_sub(self.start) as u64 {
            // The start itself is excluded, except for the whole ring, whose start is its end.
            0 if self.start == self.end => width,
            o => u128::from(o),
        };
        if offset == 0 || offset > width {
            return None;
        }
        // The first leaf whose upper bound reaches the offset; the bounds grow with the index.
        let (mut lo, mut hi) = (0usize, self.leaves.len() - 1);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if self.upper_offset(mid) >= offset {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        Some(lo)
    }

    /// The token range `(a, b]` leaf `i` covers.
    pub fn leaf_range(&self, i: usize) -> (i64, i64) {
        let lower = if i == 0 { 0 } else { self.upper_offset(i - 1) };
        let upper = self.upper_offset(i);
        // Offsets are taken modulo 2^64: the ring wraps.
        (
            self.start.wrapping_add(lower as u64 as i64),
            self.start.wrapping_add(upper as u64 as i64),
        )
    }

    /// Adds a partition with `token` and `digest`; partitions outside the range are ignored (returns false).
    pub fn add(&mut self, token: i64, digest: &[u8; DIGEST_LEN]) -> bool {
        let Some(i) = self.leaf_of(token) else {
            return false;
        };
        let leaf = &mut self.leaves[i];
        for (acc, b) in leaf.xor.iter_mut().zip(digest) {
            *acc ^= b;
        }
        leaf.partitions += 1;
        true
    }

    /// Every level of hashes, the root level first.
    fn levels(&self) -> Vec<Vec<Hash>> {
        let mut levels = vec![self.leaves.iter().map(leaf_hash).collect::<Vec<_>>()];
        while let Some(below) = levels.last().filter(|l| l.len() > 1) {
            let above = below
                .chunks(2)
                .map(|pair| inner_hash(&pair[0], &pair[1]))
                .collect();
            levels.push(above);
        }
        levels.reverse();
        levels
    }

    /// The root hash.
    pub fn root(&self) -> Hash {
        self.levels()
            .first()
            .and_then(|l| l.first())
            .copied()
            .unwrap_or_default()
    }

    /// The leaves whose content differs between `self` and `other`, found by descending from the root
    /// into differing subtrees only; in increasing order.
    pub fn differences(&self, other: &MerkleTree) -> Result<Vec<usize>, LayoutMismatch> {
        if (self.start, self.end, self.depth) != (other.start, other.end, other.depth)
            || self.leaves.len() != other.leaves.len()
        {
            return Err(LayoutMismatch(
                self.start,
                self.end,
                self.depth,
                other.start,
                other.end,
                other.depth,
            ));
        }
        let (a, b) = (self.levels(), other.levels());
        let mut frontier = vec![0usize];
        for level in 0..a.len() {
            let differing: Vec<usize> = frontier
                .into_iter()
                .filter(|&i| a[level][i] != b[level][i])
                .collect();
            if level + 1 == a.len() {
                return Ok(differing);
            }
            frontier = differing.iter().flat_map(|&i| [2 * i, 2 * i + 1]).collect();
        }
        Ok(Vec::new())
    }

    /// How many partitions leaf `i` saw (0 for a leaf that does not exist).
    pub fn leaf_partitions(&self, i: usize) -> u64 {
        self.leaves.get(i).map_or(0, |l| l.partitions)
    }

    /// The token ranges of `leaves` (increasing leaf indexes), adjacent leaves merged into one range.
    pub fn ranges_of(&self, leaves: &[usize]) -> Vec<(i64, i64)> {
        self.ranges_within(leaves, |_| 0, u64::MAX)
    }

    /// Like [`MerkleTree::ranges_of`], but a merged range stops growing once the `weight` of its leaves
    /// (e.g. the partitions they hold) would pass `max_weight`, so that each range can be handled in memory.
    pub fn ranges_within(
        &self,
        leaves: &[usize],
        weight: impl Fn(usize) -> u64,
        max_weight: u64,
    ) -> Vec<(i64, i64)> {
        let mut out: Vec<(usize, usize, u64)> = Vec::new();
        for &i in leaves {
            let w = weight(i);
            match out.last_mut() {
                Some((_, last, total)) if *last + 1 == i && total.saturating_add(w) <= max_weight => {
                    *last = i;
                    *total += w;
                }
                _ => out.push((i, i, w)),
            }
        }
        out.into_iter()
            .map(|(first, last, _)| (self.leaf_range(first).0, self.leaf_range(last).1))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest_of(n: u64) -> [u8; DIGEST_LEN] {
        let mut d = [0u8; DIGEST_LEN];
        d[..8].copy_from_slice(&n.to_be_bytes());
        d[8..].copy_from_slice(&n.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_be_bytes());
        d
    }

    fn tokens(start: i64, end: i64, n: u64) -> Vec<i64> {
        let w = width(start, end);
        (1..=n)
            .map(|i| start.wrapping_add(((w * u128::from(i)) / u128::from(n + 1)) as u64 as i64))
            .collect()
    }

    #[test]
    fn equal_data_gives_equal_trees_whatever_the_order() {
        let (start, end) = (-1000_i64, 5_000_000_i64);
        let ts = tokens(start, end, 500);
        let mut a = MerkleTree::new(start, end);
        let mut b = MerkleTree::new(start, end);
        for (i, t) in ts.iter().enumerate() {
            assert!(a.add(*t, &digest_of(i as u64)));
        }
        for (i, t) in ts.iter().enumerate().rev() {
            assert!(b.add(*t, &digest_of(i as u64)));
        }
        assert_eq!(a.leaf_count(), 1 << MAX_DEPTH);
        assert_eq!(a.root(), b.root());
        assert_eq!(a.differences(&b), Ok(vec![]));
        assert_eq!(a.partitions(), 500);
    }

    #[test]
    fn a_single_differing_partition_is_found_in_its_leaf() {
        let (start, end) = (i64::MIN, 0);
        let ts = tokens(start, end, 300);
        let mut a = MerkleTree::new(start, end);
        let mut b = MerkleTree::new(start, end);
        for (i, t) in ts.iter().enumerate() {
            a.add(*t, &digest_of(i as u64));
            if i != 123 {
                b.add(*t, &digest_of(i as u64));
            }
        }
        let leaf = a.leaf_of(ts[123]).expect("in range");
        assert_eq!(a.differences(&b), Ok(vec![leaf]));
        let ranges = a.ranges_of(&[leaf]);
        let (lo, hi) = ranges[0];
        assert!(lo < ts[123] && ts[123] <= hi, "{lo} {} {hi}", ts[123]);
        // A changed (not missing) partition is found too.
        let mut c = a.clone();
        c.add(ts[7], &digest_of(7));
        c.add(ts[7], &digest_of(70_000));
        assert_eq!(a.differences(&c), Ok(vec![a.leaf_of(ts[7]).expect("in range")]));
    }

    #[test]
    fn leaves_tile_the_range_in_order() {
        for (start, end) in [
            (0_i64, 1_i64),
            (0, 7),
            (-5, 3000),
            (i64::MAX - 10, i64::MIN + 10),
            (42, 42),
        ] {
            let tree = MerkleTree::new(start, end);
            assert!(tree.leaf_count() <= width(start, end) as usize || tree.leaf_count() == 1 << MAX_DEPTH);
            let mut previous = start;
            for i in 0..tree.leaf_count() {
                let (lo, hi) = tree.leaf_range(i);
                assert_eq!(lo, previous, "leaf {i} of ({start},{end}]");
                assert_ne!(lo, hi, "leaf {i} of ({start},{end}] is empty");
                assert_eq!(tree.leaf_of(hi), Some(i));
                assert_eq!(tree.leaf_of(lo.wrapping_add(1)), Some(i));
                previous = hi;
            }
            assert_eq!(previous, end);
        }
    }

    #[test]
    fn wrapping_ranges_place_tokens_on_both_sides_of_the_ring_end() {
        let (start, end) = (i64::MAX - 1_000_000, i64::MIN + 1_000_000);
        let mut tree = MerkleTree::new(start, end);
        assert_eq!(tree.leaf_of(start), None);
        assert_eq!(tree.leaf_of(0), None);
        assert_eq!(tree.leaf_of(start + 1), Some(0));
        assert_eq!(tree.leaf_of(end), Some(tree.leaf_count() - 1));
        let high = tree.leaf_of(i64::MAX).expect("in range");
        let low = tree.leaf_of(i64::MIN + 5).expect("in range");
        assert!(high < low);
        assert!(tree.add(i64::MIN + 5, &digest_of(1)));
        assert!(!tree.add(0, &digest_of(2)));
        let empty = MerkleTree::new(start, end);
        assert_eq!(tree.differences(&empty), Ok(vec![low]));
        let ranges = tree.ranges_of(&[low]);
        let (lo, hi) = ranges[0];
        // The leaf may itself wrap (here it starts at i64::MAX): compare offsets from its start.
        let offset = (i64::MIN + 5).wrapping_sub(lo) as u64;
        assert!(offset > 0 && offset <= hi.wrapping_sub(lo) as u64, "({lo},{hi}]");
        // Adjacent leaves across the wrap merge into one wrapping range.
        let merged = tree.ranges_of(&[high, high + 1]);
        assert_eq!(merged.len(), 1);
        assert_eq!(merged[0].0, tree.leaf_range(high).0);
        assert_eq!(merged[0].1, tree.leaf_range(high + 1).1);
    }

    #[test]
    fn merged_ranges_stay_under_a_weight() {
        let tree = MerkleTree::new(0, 1 << 20);
        let all = tree.ranges_of(&[3, 4, 5, 9]);
        assert_eq!(
            all,
            vec![(tree.leaf_range(3).0, tree.leaf_range(5).1), tree.leaf_range(9)]
        );
        let capped = tree.ranges_within(&[3, 4, 5, 9], |_| 10, 20);
        assert_eq!(
            capped,
            vec![
                (tree.leaf_range(3).0, tree.leaf_range(4).1),
                tree.leaf_range(5),
                tree.leaf_range(9)
            ]
        );
    }

    #[test]
    fn trees_of_different_ranges_are_not_compared() {
        let a = MerkleTree::new(0, 100_000);
        let b = MerkleTree::new(1, 100_000);
        assert!(a.differences(&b).is_err());
    }
}
