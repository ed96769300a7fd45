//! The storage error type shared by every engine.

use crate::types::TableId;

/// Errors returned by storage engines.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StorageError {
    /// The table was never created or has been dropped.
    #[error("unknown table {0:?}")]
    UnknownTable(TableId),
    /// An fsync or journal write failed earlier; the engine refuses writes until restarted.
    #[error("storage engine is poisoned and refuses writes: {0}")]
    Poisoned(String),
    /// The on-disk format version is not one this build understands.
    #[error("unsupported storage format version {found} in {path} (this build reads version {expected})")]
    UnsupportedFormat {
        /// Version found on disk.
        found: u32,
        /// Version this build writes and reads.
        expected: u32,
        /// The data directory.
        path: String,
    },
    /// Data on disk could not be decoded.
    #[error("corrupt storage entry: {0}")]
    Corrupt(String),
    /// A request the engine cannot honour (e.g. a key too long for the format).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The underlying key-value store failed.
    #[error("fjall: {0}")]
    Backend(String),
    /// An I/O error outside the key-value store.
    #[error("i/o: {0}")]
    Io(String),
}

impl From<fjall::Error> for StorageError {
    fn from(e: fjall::Error) -> Self {
        match e {
            fjall::Error::Poisoned => StorageError::Poisoned("fjall reported a poisoned database".into()),
            other => StorageError::Backend(other.to_string()),
        }
    }
}

impl From<std::io::Error> for StorageError {
    fn from(e: std::io::Error) -> Self {
        StorageError::Io(e.to_string())
    }
}

/// Result alias for storage operations.
pub type Result<T, E = StorageError> = std::result::Result<T, E>;
