//! Long node-side work the reconciler starts but must not wait for (decommission, removenode, rebuild): each
//! runs on a thread of its own under a key, and later reconcile passes poll it. Jobs live only in memory:
//! after a control-plane restart the reconciler looks at the nodes again and starts what is still needed
//! (every job is idempotent on the node side, or refused in a way the reconciler recognises).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// What [`Jobs::poll`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum JobPoll {
    /// The job is still running.
    Running,
    /// The job ended (its outcome is handed out once, then the key is free again).
    Finished(Result<(), String>),
}

/// Each job's outcome by key: `None` while it runs.
type Outcomes = HashMap<String, Option<Result<(), String>>>;

/// Background jobs by key. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Jobs {
    inner: Arc<Mutex<Outcomes>>,
}

impl Jobs {
    fn lock(&self) -> MutexGuard<'_, Outcomes> {
        // A job thread that panicked leaves the map consistent (entries are replaced whole).
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The job under `key`: `None` when there is none; a finished job's outcome is handed out once.
    pub fn poll(&self, key: &str) -> Option<JobPoll> {
        let mut jobs = self.lock();
        match jobs.get(key)? {
            None => Some(JobPoll::Running),
            Some(_) => Some(JobPoll::Finished(jobs.remove(key).flatten().unwrap_or(Ok(())))),
        }
    }

    /// Starts `work` on a thread of its own under `key` (replacing nothing: callers [`Jobs::poll`] first).
    pub fn start<F>(&self, key: &str, work: F)
    where
        F: FnOnce() -> Result<(), String> + Send + 'static,
    {
        self.lock().insert(key.to_owned(), None);
        let inner = Arc::clone(&self.inner);
        let name = key.to_owned();
        let spawned = std::thread::Builder::new()
            .name("mica-job".into())
            .spawn(move || {
                let outcome = work();
                if let Err(e) = &outcome {
                    tracing::warn!("job {name} failed: {e}");
                }
                inner
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert(name, Some(outcome));
            });
        if let Err(e) = spawned {
            self.lock()
                .insert(key.to_owned(), Some(Err(format!("cannot start a thread: {e}"))));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn finish(jobs: &Jobs, key: &str) -> Result<(), String> {
        for _ in 0..500 {
            match jobs.poll(key) {
                Some(JobPoll::Finished(outcome)) => return outcome,
                Some(JobPoll::Running) => std::thread::sleep(Duration::from_millis(10)),
                None => panic!("job {key} vanished"),
            }
        }
        panic!("job {key} did not finish");
    }

    #[test]
    fn a_job_runs_in_the_background_and_its_outcome_is_collected_once() {
        let jobs = Jobs::default();
        assert_eq!(jobs.poll("a"), None);
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        jobs.start("a", move || {
            rx.recv().map_err(|e| e.to_string())?;
            Err("boom".into())
        });
        assert_eq!(jobs.poll("a"), Some(JobPoll::Running));
        tx.send(()).unwrap();
        assert_eq!(finish(&jobs, "a"), Err("boom".into()));
        assert_eq!(jobs.poll("a"), None, "collected once");
        jobs.start("a", || Ok(()));
        assert_eq!(finish(&jobs, "a"), Ok(()));
    }
}
