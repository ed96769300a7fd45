//! Commit-log durability: the periodic fsync thread and the group-commit syncer that shares one
//! journal fsync between every writer waiting at that moment.

use crate::durable::DurableCompleter;
use crate::error::{Result, StorageError};
use crate::types::CommitLogSync;
use fjall::{Database, PersistMode};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The engine-wide poison flag: once an fsync fails, every later write is refused.
#[derive(Default)]
pub(crate) struct Poison(Mutex<Option<String>>);

impl Poison {
    /// Fails if the engine is poisoned.
    pub fn check(&self) -> Result<()> {
        match &*lock(&self.0) {
            Some(reason) => Err(StorageError::Poisoned(reason.clone())),
            None => Ok(()),
        }
    }

    /// Poisons the engine (the first reason is kept) and returns the resulting error.
    pub fn set(&self, reason: String) -> StorageError {
        let mut slot = lock(&self.0);
        tracing::error!(%reason, "storage engine poisoned; refusing further writes");
        let reason = slot.get_or_insert(reason).clone();
        StorageError::Poisoned(reason)
    }
}

/// Syncs the journal to disk, poisoning the engine on failure.
pub(crate) fn sync_journal(db: &Database, poison: &Poison, mode: PersistMode) -> Result<()> {
    poison.check()?;
    db.persist(mode)
        .map_err(|e| poison.set(format!("journal fsync failed: {e}")))
}

/// Appends one writer's batch to the journal (run by the syncer thread just before an fsync).
pub(crate) type CommitFn = Box<dyn FnOnce() -> Result<()> + Send>;

/// A writer waiting for the next fsync, with its batch when the syncer is to append it first.
struct Waiter {
    commit: Option<CommitFn>,
    completer: DurableCompleter,
}

#[derive(Default)]
struct State {
    waiters: Vec<Waiter>,
    shutdown: bool,
}

/// Makes everything written so far durable.
pub(crate) type SyncFn = Box<dyn Fn() -> Result<()> + Send>;

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    syncs: AtomicU64,
}

/// Background thread implementing the [`CommitLogSync`] policy.
pub(crate) struct Syncer {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Syncer {
    /// Starts the syncer thread for `policy`, syncing the journal of `db`.
    pub fn for_database(db: Database, poison: Arc<Poison>, policy: CommitLogSync) -> Result<Syncer> {
        Syncer::start(
            Box::new(move || sync_journal(&db, &poison, PersistMode::SyncData)),
            policy,
        )
    }

    /// Starts the syncer thread for `policy` with an arbitrary sync action.
    pub fn start(sync: SyncFn, policy: CommitLogSync) -> Result<Syncer> {
        let shared = Arc::new(Shared::default());
        let thread_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name("mica-commitlog-sync".into())
            .spawn(move || match policy {
                CommitLogSync::Periodic { period } => periodic_loop(&thread_shared, &sync, period),
                CommitLogSync::Batch => group_loop(&thread_shared, &sync, Duration::ZERO),
                CommitLogSync::Group { window } => group_loop(&thread_shared, &sync, window),
            })?;
        Ok(Syncer {
            shared,
            thread: Some(thread),
        })
    }

    /// How many journal syncs the syncer has performed.
    pub fn syncs(&self) -> u64 {
        self.shared.syncs.load(Ordering::Relaxed)
    }

    /// Registers a writer whose batch is already in the journal; it is completed after the next
    /// fsync that starts after this call.
    pub fn enqueue(&self, completer: DurableCompleter) {
        self.push(Waiter {
            commit: None,
            completer,
        });
    }

    /// Registers a writer whose batch the syncer thread appends to the journal before its next fsync
    /// (in arrival order); the writer is completed after that fsync, or with the append's error.
    pub fn enqueue_commit(&self, commit: CommitFn, completer: DurableCompleter) {
        self.push(Waiter {
            commit: Some(commit),
            completer,
        });
    }

    fn push(&self, waiter: Waiter) {
        let mut state = lock(&self.shared.state);
        if state.shutdown {
            drop(state);
            waiter.completer.complete(Err(StorageError::Poisoned(
                "storage engine is shutting down".into(),
            )));
            return;
        }
        state.waiters.push(waiter);
        drop(state);
        self.shared.wake.notify_one();
    }
}

impl Drop for Syncer {
    fn drop(&mut self) {
        lock(&self.shared.state).shutdown = true;
        self.shared.wake.notify_all();
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("commit-log syncer thread panicked");
        }
    }
}

fn run_sync(shared: &Shared, sync: &SyncFn) -> Result<()> {
    shared.syncs.fetch_add(1, Ordering::Relaxed);
    sync()
}

fn periodic_loop(shared: &Shared, sync: &SyncFn, period: Duration) {
    let mut state = lock(&shared.state);
    loop {
        let deadline = Instant::now() + period;
        while !state.shutdown {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            state = shared
                .wake
                .wait_timeout(state, left)
                .map_or_else(|e| e.into_inner().0, |r| r.0);
        }
        if state.shutdown {
            return;
        }
        drop(state);
        // Errors poison the engine; writers learn about it on their next apply.
        let _ = run_sync(shared, sync);
        state = lock(&shared.state);
    }
}

fn group_loop(shared: &Shared, sync: &SyncFn, window: Duration) {
    let mut state = lock(&shared.state);
    loop {
        while state.waiters.is_empty() && !state.shutdown {
            state = shared
                .wake
                .wait(state)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        if state.waiters.is_empty() {
            return;
        }
        if !window.is_zero() && !state.shutdown {
            // Gather more writers for this fsync.
            let deadline = Instant::now() + window;
            while !state.shutdown {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                state = shared
                    .wake
                    .wait_timeout(state, left)
                    .map_or_else(|e| e.into_inner().0, |r| r.0);
            }
        }
        // Append the batches handed to this thread, then one fsync covers every waiter taken here (the
        // others committed their batch before enqueueing).
        let waiters = std::mem::take(&mut state.waiters);
        drop(state);
        let appended: Vec<_> = waiters
            .into_iter()
            .map(|w| (w.commit.map_or(Ok(()), |commit| commit()), w.completer))
            .collect();
        let result = run_sync(shared, sync);
        for (append, completer) in appended {
            completer.complete(append.and_then(|()| result.clone()));
        }
        state = lock(&shared.state);
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded state stays consistent even if a holder panicked.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::durable::Durable;

    fn counting(fail: bool) -> (SyncFn, Arc<AtomicU64>) {
        let calls = Arc::new(AtomicU64::new(0));
        let c = calls.clone();
        let poison = Arc::new(Poison::default());
        let sync: SyncFn = Box::new(move || {
            c.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(5));
            if fail {
                Err(poison.set("injected fsync failure".into()))
            } else {
                Ok(())
            }
        });
        (sync, calls)
    }

    #[test]
    fn group_commit_shares_fsyncs_between_waiters() {
        let (sync, calls) = counting(false);
        let syncer = Syncer::start(
            sync,
            CommitLogSync::Group {
                window: Duration::from_millis(20),
            },
        )
        .expect("start");
        let handles: Vec<Durable> = (0..16)
            .map(|_| {
                let (durable, completer) = Durable::pending();
                syncer.enqueue(completer);
                durable
            })
            .collect();
        for h in handles {
            h.wait().expect("durable");
        }
        let n = calls.load(Ordering::SeqCst);
        assert!(
            (1..=2).contains(&n),
            "16 waiters should share one or two fsyncs, got {n}"
        );
        assert_eq!(syncer.syncs(), n);
    }

    #[test]
    fn batch_mode_concurrent_writers_all_complete() {
        let (sync, calls) = counting(false);
        let syncer = Arc::new(Syncer::start(sync, CommitLogSync::Batch).expect("start"));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let syncer = syncer.clone();
                std::thread::spawn(move || {
                    for _ in 0..10 {
                        let (durable, completer) = Durable::pending();
                        syncer.enqueue(completer);
                        durable.wait().expect("durable");
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("join");
        }
        let n = calls.load(Ordering::SeqCst);
        assert!(n <= 80, "never more fsyncs than writes");
        assert!(
            n < 80,
            "concurrent writers waiting on a 5ms fsync must share some: {n}"
        );
    }

    #[test]
    fn failed_fsync_fails_every_waiter() {
        let (sync, _) = counting(true);
        let syncer = Syncer::start(sync, CommitLogSync::Batch).expect("start");
        let (durable, completer) = Durable::pending();
        syncer.enqueue(completer);
        assert!(matches!(durable.wait(), Err(StorageError::Poisoned(msg)) if msg.contains("injected")));
    }

    #[test]
    fn periodic_mode_syncs_in_background() {
        let (sync, calls) = counting(false);
        let syncer = Syncer::start(
            sync,
            CommitLogSync::Periodic {
                period: Duration::from_millis(10),
            },
        )
        .expect("start");
        std::thread::sleep(Duration::from_millis(100));
        drop(syncer);
        assert!(calls.load(Ordering::SeqCst) >= 2);
    }

    #[test]
    fn poison_keeps_first_reason() {
        let p = Poison::default();
        assert!(p.check().is_ok());
        p.set("first".into());
        p.set("second".into());
        assert!(matches!(p.check(), Err(StorageError::Poisoned(m)) if m == "first"));
    }
}
