//! Commit-log durability: the periodic fsync thread and the group-commit syncer that shares one
//! journal fsync between every writer waiting at that moment.

use crate::durable::DurableCompleter;
use crate::error::{Result, StorageError};
use crate::types::CommitLogSync;
use fjall::{Database, PersistMode};
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

#[derive(Default)]
struct State {
    waiters: Vec<DurableCompleter>,
    shutdown: bool,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    wake: Condvar,
}

/// Background thread implementing the [`CommitLogSync`] policy.
pub(crate) struct Syncer {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Syncer {
    /// Starts the syncer thread for `policy`.
    pub fn start(db: Database, poison: Arc<Poison>, policy: CommitLogSync) -> Result<Syncer> {
        let shared = Arc::new(Shared::default());
        let thread_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name("mica-commitlog-sync".into())
            .spawn(move || match policy {
                CommitLogSync::Periodic { period } => periodic_loop(&thread_shared, &db, &poison, period),
                CommitLogSync::Batch => group_loop(&thread_shared, &db, &poison, Duration::ZERO),
                CommitLogSync::Group { window } => group_loop(&thread_shared, &db, &poison, window),
            })?;
        Ok(Syncer {
            shared,
            thread: Some(thread),
        })
    }

    /// Registers a writer whose batch is already in the journal; it is completed after the next
    /// fsync that starts after this call.
    pub fn enqueue(&self, completer: DurableCompleter) {
        let mut state = lock(&self.shared.state);
        if state.shutdown {
            drop(state);
            completer.complete(Err(StorageError::Poisoned(
                "storage engine is shutting down".into(),
            )));
            return;
        }
        state.waiters.push(completer);
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

fn periodic_loop(shared: &Shared, db: &Database, poison: &Poison, period: Duration) {
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
        let _ = sync_journal(db, poison, PersistMode::SyncData);
        state = lock(&shared.state);
    }
}

fn group_loop(shared: &Shared, db: &Database, poison: &Poison, window: Duration) {
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
        // Every waiter taken here committed its batch before enqueueing, so one fsync covers all.
        let waiters = std::mem::take(&mut state.waiters);
        drop(state);
        let result = sync_journal(db, poison, PersistMode::SyncData);
        for waiter in waiters {
            waiter.complete(result.clone());
        }
        state = lock(&shared.state);
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded state stays consistent even if a holder panicked.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
