//! Why a coordinated request failed, with the fields Cassandra's Unavailable / timeout / failure errors carry.

use std::net::IpAddr;

use crate::consistency::ConsistencyLevel;

/// The kind of write a timeout or failure happened in (Cassandra's `WriteType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteType {
    Simple,
    Batch,
    UnloggedBatch,
    Counter,
    BatchLog,
    Cas,
}

/// Cassandra's reason code for a replica that failed with an unexpected error (`RequestFailureReason.UNKNOWN`).
pub const FAILURE_UNKNOWN: u16 = 0;

/// A coordinated request's failure.
#[derive(Debug, thiserror::Error)]
pub enum CoordinatorError {
    #[error("Cannot achieve consistency level {level}")]
    Unavailable {
        level: ConsistencyLevel,
        required: usize,
        alive: usize,
    },
    #[error("Operation timed out - received only {received} responses.")]
    WriteTimeout {
        level: ConsistencyLevel,
        received: usize,
        block_for: usize,
        write_type: WriteType,
    },
    #[error("Operation timed out - received only {received} responses.")]
    ReadTimeout {
        level: ConsistencyLevel,
        received: usize,
        block_for: usize,
        data_present: bool,
    },
    #[error("Operation failed - received {received} responses and {} failures", failures.len())]
    WriteFailure {
        level: ConsistencyLevel,
        received: usize,
        block_for: usize,
        failures: Vec<(IpAddr, u16)>,
        write_type: WriteType,
    },
    #[error("Operation failed - received {received} responses and {} failures", failures.len())]
    ReadFailure {
        level: ConsistencyLevel,
        received: usize,
        block_for: usize,
        failures: Vec<(IpAddr, u16)>,
        data_present: bool,
    },
    #[error("storage: {0}")]
    Storage(#[from] mica_storage::StorageError),
    #[error("internode message: {0}")]
    Codec(String),
    #[error("{0}")]
    Invalid(String),
}
