//! Process-wide activity counters behind `nodetool tpstats`: work Mica really does is counted here (CQL
//! statements on the native transport); kinds of work Mica does not have are not invented.

use std::sync::atomic::{AtomicU64, Ordering};

/// Active and completed tasks of one kind of work (Cassandra's thread pool statistics).
#[derive(Debug, Default)]
pub(crate) struct PoolCounter {
    active: AtomicU64,
    completed: AtomicU64,
}

/// Marks one task as active until dropped, then as completed.
pub(crate) struct TaskGuard<'a>(&'a PoolCounter);

impl PoolCounter {
    pub(crate) const fn new() -> PoolCounter {
        PoolCounter {
            active: AtomicU64::new(0),
            completed: AtomicU64::new(0),
        }
    }

    pub(crate) fn begin(&self) -> TaskGuard<'_> {
        self.active.fetch_add(1, Ordering::Relaxed);
        TaskGuard(self)
    }

    pub(crate) fn active(&self) -> u64 {
        self.active.load(Ordering::Relaxed)
    }

    pub(crate) fn completed(&self) -> u64 {
        self.completed.load(Ordering::Relaxed)
    }
}

impl Drop for TaskGuard<'_> {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::Relaxed);
        self.0.completed.fetch_add(1, Ordering::Relaxed);
    }
}

/// CQL QUERY, EXECUTE and BATCH requests (Cassandra's `Native-Transport-Requests` pool).
pub(crate) static NATIVE_REQUESTS: PoolCounter = PoolCounter::new();

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guards_count_active_then_completed() {
        let pool = PoolCounter::new();
        let guard = pool.begin();
        assert_eq!((pool.active(), pool.completed()), (1, 0));
        drop(guard);
        assert_eq!((pool.active(), pool.completed()), (0, 1));
    }
}
