//! `Durable`: a future (and blocking waiter) resolving once a write is as durable as the
//! commit-log policy promises. It needs no async runtime, so the syncer thread can complete it.

use crate::error::{Result, StorageError};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll, Waker};

#[derive(Default)]
struct Slot {
    result: Option<Result<()>>,
    waker: Option<Waker>,
}

#[derive(Default)]
struct Shared {
    slot: Mutex<Slot>,
    ready: Condvar,
}

/// Resolves once the associated write is durable (or failed to become durable).
#[must_use = "a write is only guaranteed durable once its Durable resolves"]
pub struct Durable {
    state: DurableState,
}

enum DurableState {
    Done(Option<Result<()>>),
    Pending(Arc<Shared>),
}

impl std::fmt::Debug for Durable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pending = matches!(self.state, DurableState::Pending(_));
        f.debug_struct("Durable").field("pending", &pending).finish()
    }
}

impl Durable {
    /// An already-resolved handle.
    pub fn ready(result: Result<()>) -> Durable {
        Durable {
            state: DurableState::Done(Some(result)),
        }
    }

    /// A pending handle and the completer that resolves it.
    pub fn pending() -> (Durable, DurableCompleter) {
        let shared = Arc::new(Shared::default());
        (
            Durable {
                state: DurableState::Pending(shared.clone()),
            },
            DurableCompleter { shared: Some(shared) },
        )
    }

    /// Blocks the current thread until the write is durable. Do not call on an async runtime thread.
    pub fn wait(self) -> Result<()> {
        match self.state {
            DurableState::Done(result) => result.unwrap_or(Ok(())),
            DurableState::Pending(shared) => {
                let mut slot = lock(&shared.slot);
                loop {
                    if let Some(result) = slot.result.take() {
                        return result;
                    }
                    slot = shared
                        .ready
                        .wait(slot)
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                }
            }
        }
    }
}

impl Future for Durable {
    type Output = Result<()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.get_mut().state {
            DurableState::Done(result) => Poll::Ready(result.take().unwrap_or(Ok(()))),
            DurableState::Pending(shared) => {
                let mut slot = lock(&shared.slot);
                match slot.result.take() {
                    Some(result) => Poll::Ready(result),
                    None => {
                        slot.waker = Some(cx.waker().clone());
                        Poll::Pending
                    }
                }
            }
        }
    }
}

/// The producer side of a pending [`Durable`]. Dropping it without completing reports an error,
/// so a waiter can never hang on a lost syncer.
pub struct DurableCompleter {
    shared: Option<Arc<Shared>>,
}

impl DurableCompleter {
    /// Resolves the paired [`Durable`].
    pub fn complete(mut self, result: Result<()>) {
        if let Some(shared) = self.shared.take() {
            resolve(&shared, result);
        }
    }
}

impl Drop for DurableCompleter {
    fn drop(&mut self) {
        if let Some(shared) = self.shared.take() {
            resolve(
                &shared,
                Err(StorageError::Poisoned(
                    "the commit-log syncer stopped before this write was synced".into(),
                )),
            );
        }
    }
}

fn resolve(shared: &Shared, result: Result<()>) {
    let waker = {
        let mut slot = lock(&shared.slot);
        slot.result = Some(result);
        slot.waker.take()
    };
    shared.ready.notify_all();
    if let Some(waker) = waker {
        waker.wake();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding this tiny lock cannot leave the slot inconsistent.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_resolves_immediately() {
        assert!(Durable::ready(Ok(())).wait().is_ok());
    }

    #[test]
    fn completer_wakes_blocking_waiter() {
        let (durable, completer) = Durable::pending();
        let t = std::thread::spawn(move || durable.wait());
        std::thread::sleep(std::time::Duration::from_millis(20));
        completer.complete(Ok(()));
        assert!(t.join().expect("join").is_ok());
    }

    #[test]
    fn dropped_completer_reports_error() {
        let (durable, completer) = Durable::pending();
        drop(completer);
        assert!(matches!(durable.wait(), Err(StorageError::Poisoned(_))));
    }

    #[test]
    fn future_polls_pending_then_ready() {
        struct Noop;
        impl std::task::Wake for Noop {
            fn wake(self: Arc<Self>) {}
        }
        let waker = Waker::from(Arc::new(Noop));
        let mut cx = Context::from_waker(&waker);
        let (mut durable, completer) = Durable::pending();
        assert!(Pin::new(&mut durable).poll(&mut cx).is_pending());
        completer.complete(Ok(()));
        assert!(matches!(
            Pin::new(&mut durable).poll(&mut cx),
            Poll::Ready(Ok(()))
        ));
    }
}
