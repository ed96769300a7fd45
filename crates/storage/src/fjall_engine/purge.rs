//! Tombstone purge pass run by major compaction (placeholder).

use crate::error::Result;
use crate::types::TableOptions;
use fjall::{Database, Keyspace};

pub(crate) fn run(
    _db: &Database,
    _ks: &Keyspace,
    _options: TableOptions,
    _now: i64,
    _batch_entries: usize,
    _alloc_uids: &mut dyn FnMut(u64) -> Result<u64>,
) -> Result<()> {
    Ok(())
}
