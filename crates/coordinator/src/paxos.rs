//! Lightweight transactions across replicas with Paxos, as Cassandra's `StorageProxy.cas` runs them:
//! prepare/promise with a ballot, completing an accepted but uncommitted proposal left by another
//! coordinator, a read at (LOCAL_)QUORUM, the caller's decision, propose/accept, commit.
//!
//! Each replica keeps per-partition Paxos state durably in the engine's metadata store under
//! `paxos/<table uuid>/<partition key hex>`: the promised ballot, the accepted proposal and the most
//! recent commit. Ballots order by (microseconds, node); the committed update is written with the
//! ballot's microseconds as its timestamp, so later transactions always win over earlier ones.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::stream::{FuturesUnordered, StreamExt};
use mica_storage::{Engine, Mutation, PartitionKey, PartitionView, ReadSelection, TableId};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::consistency::{ConsistencyLevel, Requirement};
use crate::error::{CoordinatorError, WriteType};
use crate::topology::Replica;
use crate::{Coordinator, verbs};

/// How long a transaction keeps retrying under contention (Cassandra's `cas_contention_timeout`).
pub const CAS_CONTENTION_TIMEOUT: Duration = Duration::from_secs(1);
/// Lock stripes for replica-side Paxos state.
const STRIPES: usize = 64;

/// A Paxos ballot: microseconds, then the proposing node, so that two coordinators never tie.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Ballot {
    pub micros: i64,
    pub node: u64,
}

/// An accepted or committed proposal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Proposal {
    pub ballot: Ballot,
    pub update: Vec<Mutation>,
}

/// One replica's Paxos state for one partition.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct PaxosState {
    pub promised: Ballot,
    pub accepted: Option<Proposal>,
    pub committed: Option<Proposal>,
}

/// PREPARE / PROPOSE / COMMIT request.
#[derive(Debug, Serialize, Deserialize)]
pub struct PaxosRequest {
    pub table: TableId,
    pub key: PartitionKey,
    pub ballot: Ballot,
    pub update: Vec<Mutation>,
}

/// A replica's answer to PREPARE.
#[derive(Debug, Serialize, Deserialize)]
pub struct Promise {
    pub promised: bool,
    /// The ballot the replica has promised (ours when `promised`).
    pub highest: Ballot,
    pub accepted: Option<Proposal>,
    pub committed: Option<Proposal>,
}

/// Replica-side Paxos state, serialized per partition by lock stripes.
pub(crate) struct PaxosStore {
    stripes: Vec<Mutex<()>>,
}

impl PaxosStore {
    pub(crate) fn new() -> PaxosStore {
        PaxosStore {
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
        }
    }

    fn key(table: TableId, key: &PartitionKey) -> Vec<u8> {
        let mut out = format!("paxos/{}/", table.0.simple()).into_bytes();
        for b in &key.key {
            out.extend_from_slice(format!("{b:02x}").as_bytes());
        }
        out
    }

    /// Runs `f` on the partition's state under its stripe lock, persisting the state when `f` says so.
    fn with_state<T>(
        &self,
        storage: &dyn Engine,
        table: TableId,
        key: &PartitionKey,
        f: impl FnOnce(&mut PaxosState) -> (T, bool),
    ) -> Result<T, CoordinatorError> {
        let stripe = (key.token.0.unsigned_abs() as usize) % STRIPES;
        let _guard = self.stripes[stripe]
            .lock()
            .map_err(|_| CoordinatorError::Codec("paxos lock poisoned".into()))?;
        let meta_key = Self::key(table, key);
        let mut state: PaxosState = match storage.get_meta(&meta_key)? {
            Some(bytes) => verbs::decode(&bytes)?,
            None => PaxosState::default(),
        };
        let (out, dirty) = f(&mut state);
        if dirty {
            storage.put_meta(&meta_key, &verbs::encode(&state)?)?;
        }
        Ok(out)
    }

    pub(crate) fn prepare(
        &self,
        storage: &dyn Engine,
        req: &PaxosRequest,
    ) -> Result<Promise, CoordinatorError> {
        self.with_state(storage, req.table, &req.key, |s| {
            // Strictly newer microseconds: the committed update is written with them as its timestamp, so
            // successive transactions must never share one.
            let promised = req.ballot.micros > s.promised.micros;
            if promised {
                s.promised = req.ballot;
            }
            let answer = Promise {
                promised,
                highest: s.promised,
                accepted: s.accepted.clone(),
                committed: s.committed.clone(),
            };
            (answer, promised)
        })
    }

    pub(crate) fn propose(&self, storage: &dyn Engine, req: &PaxosRequest) -> Result<bool, CoordinatorError> {
        self.with_state(storage, req.table, &req.key, |s| {
            // Accept unless a higher ballot was promised since.
            let accept = req.ballot >= s.promised;
            if accept {
                s.promised = req.ballot;
                s.accepted = Some(Proposal {
                    ballot: req.ballot,
                    update: req.update.clone(),
                });
            }
            (accept, accept)
        })
    }

    /// Records a commit (the caller applies the update to storage first).
    pub(crate) fn commit(&self, storage: &dyn Engine, req: &PaxosRequest) -> Result<(), CoordinatorError> {
        self.with_state(storage, req.table, &req.key, |s| {
            if s.committed.as_ref().is_none_or(|c| c.ballot < req.ballot) {
                s.committed = Some(Proposal {
                    ballot: req.ballot,
                    update: req.update.clone(),
                });
            }
            if s.accepted.as_ref().is_some_and(|a| a.ballot <= req.ballot) {
                s.accepted = None;
            }
            ((), true)
        })
    }
}

/// How a proposal fared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proposed {
    Accepted,
    Refused,
    Partial { accepted: usize },
}

/// What a transaction decided after reading.
pub struct CasDecision<T> {
    /// The answer for the client.
    pub result: T,
    /// The update to commit when the conditions held (its timestamps are the ballot's microseconds).
    pub update: Option<Vec<Mutation>>,
}

/// A transaction's failure: the coordinator's, or the caller's decision function's.
#[derive(Debug)]
pub enum CasError<E> {
    Coordinator(CoordinatorError),
    Decision(E),
}

impl<E> From<CoordinatorError> for CasError<E> {
    fn from(e: CoordinatorError) -> Self {
        CasError::Coordinator(e)
    }
}

impl Coordinator {
    fn next_ballot(&self, at_least: i64) -> Ballot {
        let now = mica_types::Timestamp::now().0.max(at_least);
        let mut last = self.paxos_clock.load(Ordering::SeqCst);
        loop {
            let next = now.max(last + 1);
            match self
                .paxos_clock
                .compare_exchange(last, next, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => {
                    return Ballot {
                        micros: next,
                        node: self.node_id,
                    };
                }
                Err(current) => last = current,
            }
        }
    }

    /// Runs a lightweight transaction on one partition: `selections` are read at the serial level's quorum
    /// and handed to `decide` with the write timestamp; an update it returns is committed at `commit`.
    #[allow(clippy::too_many_arguments)]
    pub async fn cas<T, E>(
        self: &Arc<Self>,
        table: TableId,
        key: &PartitionKey,
        serial: ConsistencyLevel,
        commit: ConsistencyLevel,
        selections: &[ReadSelection],
        now_seconds: i64,
        mut decide: impl FnMut(Vec<Option<PartitionView>>, i64) -> Result<CasDecision<T>, E>,
    ) -> Result<T, CasError<E>> {
        let Some(replicas) = self.topology.replicas(table, key.token) else {
            return Err(
                CoordinatorError::Invalid("lightweight transactions need a replicated table".into()).into(),
            );
        };
        let quorum = match serial {
            ConsistencyLevel::LocalSerial => ConsistencyLevel::LocalQuorum,
            _ => ConsistencyLevel::Quorum,
        };
        let req = Requirement::new(quorum, &replicas, &self.topology.local_dc());
        req.check_available(&replicas).map_err(|e| relabel(e, serial))?;
        let deadline = Instant::now() + CAS_CONTENTION_TIMEOUT.max(self.settings.write_timeout());
        let mut floor = 0i64;
        let mut attempt = 0u32;
        while Instant::now() < deadline {
            attempt += 1;
            if attempt > 1 {
                // Back off a random moment so that competing coordinators stop colliding.
                let pause = rand_millis(attempt);
                tokio::time::sleep(Duration::from_millis(pause)).await;
            }
            let ballot = self.next_ballot(floor);
            let promises = self
                .prepare_round(table, key, ballot, &replicas, &req, deadline)
                .await?;
            let promises = match promises {
                Ok(p) => p,
                Err(highest) => {
                    floor = floor.max(highest.micros + 1).max(ballot.micros + 1);
                    continue;
                }
            };
            floor = promises
                .iter()
                .map(|(_, p)| p.highest.micros)
                .max()
                .unwrap_or(floor);
            let latest_commit = promises
                .iter()
                .filter_map(|(_, p)| p.committed.clone())
                .max_by_key(|c| c.ballot);
            // An accepted proposal newer than every commit must be finished before ours (it may have been
            // acknowledged to its client).
            let in_progress = promises
                .iter()
                .filter_map(|(_, p)| p.accepted.clone())
                .filter(|a| latest_commit.as_ref().is_none_or(|c| a.ballot > c.ballot))
                .max_by_key(|a| a.ballot);
            if let Some(previous) = in_progress {
                if self
                    .propose_round(table, key, ballot, &previous.update, &replicas, &req, deadline)
                    .await?
                    == Proposed::Accepted
                {
                    self.commit_round(table, key, ballot, previous.update, &replicas, commit)
                        .await?;
                }
                continue;
            }
            // Replicas that missed the latest commit get it first, so the quorum read below sees it.
            if let Some(latest) = &latest_commit {
                let behind: Vec<SocketAddr> = promises
                    .iter()
                    .filter(|(_, p)| p.committed.as_ref().is_none_or(|c| c.ballot < latest.ballot))
                    .map(|(a, _)| *a)
                    .collect();
                for addr in behind {
                    let _ = self
                        .send_paxos(
                            addr,
                            verbs::PAXOS_COMMIT,
                            table,
                            key,
                            latest.ballot,
                            &latest.update,
                        )
                        .await;
                }
            }
            let mut views = Vec::with_capacity(selections.len());
            for selection in selections {
                views.push(
                    self.read_partition(table, key, selection, now_seconds, quorum)
                        .await?,
                );
            }
            let decision = decide(views, ballot.micros).map_err(CasError::Decision)?;
            let Some(update) = decision.update else {
                return Ok(decision.result);
            };
            match self
                .propose_round(table, key, ballot, &update, &replicas, &req, deadline)
                .await?
            {
                Proposed::Accepted => {}
                // Nobody accepted it: it can never be completed, so trying again is safe.
                Proposed::Refused => continue,
                // Some replicas accepted it: another coordinator may still complete it, so the outcome is
                // unknown to the client, as Cassandra reports it.
                Proposed::Partial { accepted } => {
                    return Err(CoordinatorError::WriteTimeout {
                        level: serial,
                        received: accepted,
                        block_for: req.block_for(),
                        write_type: WriteType::Cas,
                    }
                    .into());
                }
            }
            self.commit_round(table, key, ballot, update, &replicas, commit)
                .await?;
            return Ok(decision.result);
        }
        Err(CoordinatorError::WriteTimeout {
            level: serial,
            received: 0,
            block_for: req.block_for(),
            write_type: WriteType::Cas,
        }
        .into())
    }

    /// PREPARE to every live replica; `Err(highest)` when a replica has promised a ballot at least as new
    /// (contention).
    async fn prepare_round(
        &self,
        table: TableId,
        key: &PartitionKey,
        ballot: Ballot,
        replicas: &[Replica],
        req: &Requirement,
        deadline: Instant,
    ) -> Result<Result<Vec<(SocketAddr, Promise)>, Ballot>, CoordinatorError> {
        let mut pending: FuturesUnordered<_> = replicas
            .iter()
            .filter(|r| r.alive)
            .map(|r| async move {
                let reply = self
                    .send_paxos(r.addr, verbs::PAXOS_PREPARE, table, key, ballot, &[])
                    .await;
                (r.addr, reply.and_then(|b| verbs::decode::<Promise>(&b)))
            })
            .collect();
        let mut promises = Vec::new();
        while let Ok(Some((addr, reply))) = tokio::time::timeout_at(deadline, pending.next()).await {
            match reply {
                Ok(p) if p.promised => promises.push((addr, p)),
                Ok(p) => return Ok(Err(p.highest)),
                Err(e) => tracing::debug!("paxos prepare on {addr} failed: {e}"),
            }
            let acked: Vec<&Replica> = promises
                .iter()
                .filter_map(|(a, _)| replicas.iter().find(|r| r.addr == *a))
                .collect();
            if req.is_met(&acked) {
                return Ok(Ok(promises));
            }
        }
        let acked: Vec<&Replica> = promises
            .iter()
            .filter_map(|(a, _)| replicas.iter().find(|r| r.addr == *a))
            .collect();
        Err(CoordinatorError::WriteTimeout {
            level: req.level,
            received: req.received(&acked),
            block_for: req.block_for(),
            write_type: WriteType::Cas,
        })
    }

    /// PROPOSE to every live replica: accepted by a quorum, refused by everyone who answered, or in between.
    #[allow(clippy::too_many_arguments)]
    async fn propose_round(
        &self,
        table: TableId,
        key: &PartitionKey,
        ballot: Ballot,
        update: &[Mutation],
        replicas: &[Replica],
        req: &Requirement,
        deadline: Instant,
    ) -> Result<Proposed, CoordinatorError> {
        let mut pending: FuturesUnordered<_> = replicas
            .iter()
            .filter(|r| r.alive)
            .map(|r| async move {
                let reply = self
                    .send_paxos(r.addr, verbs::PAXOS_PROPOSE, table, key, ballot, update)
                    .await;
                (r, reply.and_then(|b| verbs::decode::<bool>(&b)))
            })
            .collect();
        let mut accepted: Vec<&Replica> = Vec::new();
        let mut refused = false;
        while let Ok(Some((r, reply))) = tokio::time::timeout_at(deadline, pending.next()).await {
            match reply {
                Ok(true) => accepted.push(r),
                Ok(false) => refused = true,
                Err(e) => tracing::debug!("paxos propose on {} failed: {e}", r.addr),
            }
            if req.is_met(&accepted) {
                return Ok(Proposed::Accepted);
            }
        }
        if refused {
            return Ok(match accepted.len() {
                0 => Proposed::Refused,
                n => Proposed::Partial { accepted: n },
            });
        }
        Err(CoordinatorError::WriteTimeout {
            level: req.level,
            received: req.received(&accepted),
            block_for: req.block_for(),
            write_type: WriteType::Cas,
        })
    }

    /// COMMIT to every replica, waiting as the commit consistency level asks (down replicas get hints of the update).
    async fn commit_round(
        self: &Arc<Self>,
        table: TableId,
        key: &PartitionKey,
        ballot: Ballot,
        update: Vec<Mutation>,
        replicas: &[Replica],
        commit: ConsistencyLevel,
    ) -> Result<(), CoordinatorError> {
        let req = Requirement::new(commit, replicas, &self.topology.local_dc());
        let update = Arc::new(update);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        for (i, r) in replicas.iter().enumerate() {
            if !r.alive {
                if self.should_hint(r.addr)
                    && let Ok(payload) = verbs::encode(&*update)
                {
                    self.hints.store(r.addr, &payload).await;
                }
                continue;
            }
            let (this, tx, update, key, addr) = (
                Arc::clone(self),
                tx.clone(),
                Arc::clone(&update),
                key.clone(),
                r.addr,
            );
            // Each commit runs to its end even after the consistency level is met.
            tokio::spawn(async move {
                let result = this
                    .send_paxos(addr, verbs::PAXOS_COMMIT, table, &key, ballot, &update)
                    .await;
                let _ = tx.send((i, result));
            });
        }
        drop(tx);
        let deadline = Instant::now() + self.settings.write_timeout();
        let mut acked: Vec<&Replica> = Vec::new();
        while !(req.is_met(&acked) || commit == ConsistencyLevel::Any) {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some((i, Ok(_)))) => acked.push(&replicas[i]),
                Ok(Some((i, Err(e)))) => tracing::debug!("paxos commit on {} failed: {e}", replicas[i].addr),
                Ok(None) | Err(_) => {
                    return Err(CoordinatorError::WriteTimeout {
                        level: commit,
                        received: req.received(&acked),
                        block_for: req.block_for(),
                        write_type: WriteType::Simple,
                    });
                }
            }
        }
        Ok(())
    }

    async fn send_paxos(
        &self,
        addr: SocketAddr,
        verb: mica_cluster::Verb,
        table: TableId,
        key: &PartitionKey,
        ballot: Ballot,
        update: &[Mutation],
    ) -> Result<Vec<u8>, CoordinatorError> {
        let request = PaxosRequest {
            table,
            key: key.clone(),
            ballot,
            update: update.to_vec(),
        };
        if addr == self.topology.local_addr() {
            return handle(&self.storage, &self.paxos, verb, request).await;
        }
        self.messaging
            .request(
                addr,
                verb,
                verbs::encode(&request)?,
                self.settings.write_timeout(),
            )
            .await
            .map_err(|e| CoordinatorError::Codec(e.to_string()))
    }
}

/// Runs a Paxos verb on this replica.
pub(crate) async fn handle(
    storage: &Arc<dyn Engine>,
    store: &Arc<PaxosStore>,
    verb: mica_cluster::Verb,
    request: PaxosRequest,
) -> Result<Vec<u8>, CoordinatorError> {
    if verb == verbs::PAXOS_COMMIT {
        storage.apply(request.update.clone())?.await?;
    }
    // The state is synced to disk at every step: off the async workers.
    let (storage, store) = (Arc::clone(storage), Arc::clone(store));
    let run = move || match verb {
        verbs::PAXOS_PREPARE => verbs::encode(&store.prepare(&*storage, &request)?),
        verbs::PAXOS_PROPOSE => verbs::encode(&store.propose(&*storage, &request)?),
        verbs::PAXOS_COMMIT => store.commit(&*storage, &request).map(|()| Vec::new()),
        other => Err(CoordinatorError::Codec(format!("not a paxos verb: {other}"))),
    };
    tokio::task::spawn_blocking(run)
        .await
        .map_err(|e| CoordinatorError::Codec(format!("paxos task failed: {e}")))?
}

/// Unavailable for a transaction names the serial level, as Cassandra reports it.
fn relabel(e: CoordinatorError, serial: ConsistencyLevel) -> CoordinatorError {
    match e {
        CoordinatorError::Unavailable { required, alive, .. } => CoordinatorError::Unavailable {
            level: serial,
            required,
            alive,
        },
        other => other,
    }
}

/// A pseudo-random backoff growing with the attempt (no shared RNG needed).
fn rand_millis(attempt: u32) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::from(d.subsec_nanos()));
    1 + nanos % (u64::from(attempt.min(10)) * 10)
}
