//! What each operation does: read or write, which key, and the row written for a key. Everything
//! is derived from the seed, so two runs with the same options issue the same requests.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The workloads `mica-loadgen` runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum WorkloadKind {
    /// INSERT rows with random keys (prepared).
    Write,
    /// SELECT rows by random key (prepared); use `--populate` or a previous write run first.
    Read,
    /// Reads and writes in the proportion `--read-ratio`.
    Mixed,
}

/// One request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Write,
    Read,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MixError {
    #[error("--read-ratio must be between 0 and 1, not {0}")]
    RatioOutOfRange(f64),
    #[error("--partitions must be at least 1")]
    NoPartitions,
}

/// Chooses operations and keys for a workload.
#[derive(Clone, Copy, Debug)]
pub struct Mix {
    read_ratio: f64,
    partitions: u64,
}

impl Mix {
    /// `read_ratio` only matters for the mixed workload (the share of reads among operations).
    pub fn new(kind: WorkloadKind, read_ratio: f64, partitions: u64) -> Result<Self, MixError> {
        if !(0.0..=1.0).contains(&read_ratio) {
            return Err(MixError::RatioOutOfRange(read_ratio));
        }
        if partitions == 0 {
            return Err(MixError::NoPartitions);
        }
        let read_ratio = match kind {
            WorkloadKind::Write => 0.0,
            WorkloadKind::Read => 1.0,
            WorkloadKind::Mixed => read_ratio,
        };
        Ok(Mix {
            read_ratio,
            partitions,
        })
    }

    pub fn next_op(&self, rng: &mut StdRng) -> Op {
        if rng.random_bool(self.read_ratio) {
            Op::Read
        } else {
            Op::Write
        }
    }

    /// A key drawn uniformly from `0..partitions`.
    pub fn next_key(&self, rng: &mut StdRng) -> i64 {
        key_of(rng.random_range(0..self.partitions))
    }
}

/// The partition key of the `index`-th partition (keys are the indexes themselves; the
/// partitioner spreads them over the token ring).
pub fn key_of(index: u64) -> i64 {
    index as i64
}

/// The random stream of one concurrent worker: independent of the others, fixed by the seed.
pub fn worker_rng(seed: u64, worker: u64) -> StdRng {
    // Multiplying by an odd constant keeps the seeds of different workers distinct.
    StdRng::seed_from_u64(seed ^ worker.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// The row the workload writes for `key`: `(key, name, number, payload)`. It depends only on the
/// key, so a read can check what it gets back.
pub fn row_for(key: i64, payload_size: usize) -> (i64, String, i64, Vec<u8>) {
    let payload = key
        .to_be_bytes()
        .iter()
        .copied()
        .cycle()
        .take(payload_size)
        .collect();
    (key, format!("row-{key}"), expected_number(key), payload)
}

/// The `number` column written for `key`.
pub fn expected_number(key: i64) -> i64 {
    key.wrapping_mul(31).wrapping_add(7)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workloads_fix_the_read_share() {
        let mut rng = worker_rng(1, 0);
        let write = Mix::new(WorkloadKind::Write, 0.9, 10).unwrap();
        let read = Mix::new(WorkloadKind::Read, 0.1, 10).unwrap();
        for _ in 0..1000 {
            assert_eq!(write.next_op(&mut rng), Op::Write);
            assert_eq!(read.next_op(&mut rng), Op::Read);
        }
        let mixed = Mix::new(WorkloadKind::Mixed, 0.25, 10).unwrap();
        let reads = (0..10_000)
            .filter(|_| mixed.next_op(&mut rng) == Op::Read)
            .count();
        assert!((2_200..2_800).contains(&reads), "{reads} reads of 10000");
    }

    #[test]
    fn options_are_validated() {
        assert_eq!(
            Mix::new(WorkloadKind::Mixed, 1.5, 10).unwrap_err(),
            MixError::RatioOutOfRange(1.5)
        );
        assert_eq!(
            Mix::new(WorkloadKind::Write, 0.5, 0).unwrap_err(),
            MixError::NoPartitions
        );
    }

    #[test]
    fn keys_stay_in_range_and_follow_the_seed() {
        let mix = Mix::new(WorkloadKind::Write, 0.0, 7).unwrap();
        let draw = |seed, worker| {
            let mut rng = worker_rng(seed, worker);
            (0..100).map(|_| mix.next_key(&mut rng)).collect::<Vec<_>>()
        };
        assert!(draw(1, 0).iter().all(|k| (0..7).contains(k)));
        assert_eq!(draw(1, 0), draw(1, 0));
        assert_ne!(draw(1, 0), draw(1, 1));
        assert_ne!(draw(1, 0), draw(2, 0));
    }

    #[test]
    fn rows_depend_only_on_the_key() {
        let (key, name, number, payload) = row_for(258, 5);
        assert_eq!((key, name.as_str(), number), (258, "row-258", 258 * 31 + 7));
        assert_eq!(payload, vec![0, 0, 0, 0, 0]);
        assert_eq!(row_for(258, 10).3[6..], [1, 2, 0, 0]);
        assert_eq!(row_for(3, 0).3, Vec::<u8>::new());
    }
}
