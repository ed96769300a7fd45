//! The write path: every mutation goes to all replicas of its partition; the coordinator answers once
//! the consistency level is met, hints replicas that are down or did not answer in time, and reports
//! Unavailable, WriteTimeout or WriteFailure exactly as Cassandra fields them.

use std::net::SocketAddr;
use std::sync::Arc;

use mica_storage::Mutation;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::consistency::{ConsistencyLevel, Requirement};
use crate::error::{CoordinatorError, FAILURE_UNKNOWN, WriteType};
use crate::topology::Replica;
use crate::{Coordinator, verbs};

/// Mutations that share one replica set.
struct Group {
    /// The natural replicas first, then the pending ones.
    replicas: Vec<Replica>,
    /// How many of `replicas` are natural.
    natural: usize,
    mutations: Vec<Mutation>,
}

/// A replica's answer: acknowledged, or failed (`true` when it failed by timing out or being unreachable,
/// which leaves a hint behind).
type Outcome = (usize, Result<(), bool>);

impl Coordinator {
    /// Writes `mutations` at `level`. Mutations of node-local tables are applied here only; a logged
    /// batch over several replicated partitions goes through the batchlog.
    pub async fn write(
        self: &Arc<Self>,
        mutations: Vec<Mutation>,
        level: ConsistencyLevel,
        write_type: WriteType,
    ) -> Result<(), CoordinatorError> {
        if write_type == WriteType::Batch && self.spans_replicated_partitions(&mutations) {
            return self.write_logged_batch(mutations, level).await;
        }
        self.write_now(mutations, level, write_type).await
    }

    /// Whether the mutations touch more than one partition of replicated tables.
    fn spans_replicated_partitions(&self, mutations: &[Mutation]) -> bool {
        let mut first: Option<(&mica_storage::TableId, &mica_storage::PartitionKey)> = None;
        for m in mutations {
            if self.topology.replicas(m.table, m.key.token).is_none() {
                continue;
            }
            match first {
                None => first = Some((&m.table, &m.key)),
                Some((_, key)) if *key != m.key => return true,
                Some(_) => {}
            }
        }
        false
    }

    /// Writes `mutations` at `level` without the batchlog.
    pub(crate) async fn write_now(
        self: &Arc<Self>,
        mutations: Vec<Mutation>,
        level: ConsistencyLevel,
        write_type: WriteType,
    ) -> Result<(), CoordinatorError> {
        let mut local_only = Vec::new();
        let mut groups: Vec<Group> = Vec::new();
        for m in mutations {
            let Some(mut replicas) = self.topology.replicas(m.table, m.key.token) else {
                local_only.push(m);
                continue;
            };
            let natural = replicas.len();
            for p in self.topology.pending_replicas(m.table, m.key.token) {
                if !replicas.iter().any(|r| r.addr == p.addr) {
                    replicas.push(p);
                }
            }
            match groups
                .iter_mut()
                .find(|g| g.natural == natural && same_nodes(&g.replicas, &replicas))
            {
                Some(g) => g.mutations.push(m),
                None => groups.push(Group {
                    replicas,
                    natural,
                    mutations: vec![m],
                }),
            }
        }
        let local_dc = self.topology.local_dc();
        let requirements: Vec<Requirement> = groups
            .iter()
            .map(|g| {
                Requirement::new(level, &g.replicas[..g.natural], &local_dc)
                    .with_pending(&g.replicas[g.natural..])
            })
            .collect();
        // Nothing is sent when any partition cannot reach its consistency level, as in Cassandra.
        for (g, req) in groups.iter().zip(&requirements) {
            req.check_available(&g.replicas)?;
        }
        if !local_only.is_empty() {
            self.storage.apply(local_only)?.await?;
        }
        let writes = groups
            .into_iter()
            .zip(requirements)
            .map(|(g, req)| self.write_group(g, req, write_type));
        for result in futures::future::join_all(writes).await {
            result?;
        }
        Ok(())
    }

    async fn write_group(
        self: &Arc<Self>,
        group: Group,
        req: Requirement,
        write_type: WriteType,
    ) -> Result<(), CoordinatorError> {
        let Group {
            replicas, mutations, ..
        } = group;
        let payload = Arc::new(verbs::encode(&mutations)?);
        let mutations = Arc::new(mutations);
        let timeout = self.settings.write_timeout();
        let deadline = Instant::now() + timeout;
        let local = self.topology.local_addr();
        let (tx, mut rx) = mpsc::unbounded_channel::<Outcome>();
        let mut pending = Vec::new();
        let mut acked: Vec<usize> = Vec::new();
        let mut hinted = 0;
        for (i, replica) in replicas.iter().enumerate() {
            if !replica.alive {
                if self.should_hint(replica.addr) {
                    self.hints.store(replica.addr, &payload).await;
                    hinted += 1;
                }
                continue;
            }
            pending.push(i);
            let tx = tx.clone();
            let this = Arc::clone(self);
            let addr = replica.addr;
            if addr == local {
                let mutations = Arc::clone(&mutations);
                tokio::spawn(async move {
                    let result = match this.storage.apply((*mutations).clone()) {
                        Ok(durable) => durable.await.map_err(|e| {
                            tracing::warn!("local replica write failed: {e}");
                            false
                        }),
                        Err(e) => {
                            tracing::warn!("local replica write failed: {e}");
                            Err(false)
                        }
                    };
                    let _ = tx.send((i, result));
                });
            } else {
                let payload = Arc::clone(&payload);
                tokio::spawn(async move {
                    let result = this.send_mutation(addr, &payload, timeout).await;
                    let _ = tx.send((i, result));
                });
            }
        }
        drop(tx);
        let mut failures = Vec::new();
        loop {
            let acked_refs: Vec<&Replica> = acked.iter().map(|&i| &replicas[i]).collect();
            if req.is_met(&acked_refs) || (req.level == ConsistencyLevel::Any && acked.len() + hinted > 0) {
                return Ok(());
            }
            let pending_refs: Vec<&Replica> = pending.iter().map(|&i| &replicas[i]).collect();
            if !req.is_reachable(&acked_refs, &pending_refs) {
                // Replicas that were unreachable or slow look like a timeout to the client, as in Cassandra
                // where their messages would still be queued; only errors replicas reported are failures.
                if failures.is_empty() {
                    return Err(CoordinatorError::WriteTimeout {
                        level: req.level,
                        received: req.received(&acked_refs),
                        block_for: req.block_for(),
                        write_type,
                    });
                }
                return Err(CoordinatorError::WriteFailure {
                    level: req.level,
                    received: req.received(&acked_refs),
                    block_for: req.block_for(),
                    failures,
                    write_type,
                });
            }
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some((i, result))) => {
                    pending.retain(|&p| p != i);
                    match result {
                        Ok(()) => acked.push(i),
                        // A replica that timed out or was unreachable is hinted; only errors it reported count as failures.
                        Err(true) => {}
                        Err(false) => failures.push((replicas[i].addr.ip(), FAILURE_UNKNOWN)),
                    }
                }
                Ok(None) | Err(_) => {
                    return Err(CoordinatorError::WriteTimeout {
                        level: req.level,
                        received: req.received(&acked_refs),
                        block_for: req.block_for(),
                        write_type,
                    });
                }
            }
        }
    }

    /// Sends mutations to a remote replica; on a timeout or a connection failure the write becomes a hint
    /// (`Err(true)`), on an error the replica reported it fails (`Err(false)`).
    async fn send_mutation(
        &self,
        addr: SocketAddr,
        payload: &Arc<Vec<u8>>,
        timeout: std::time::Duration,
    ) -> Result<(), bool> {
        match self
            .messaging
            .request(addr, verbs::MUTATION, payload.to_vec(), timeout)
            .await
        {
            Ok(_) => Ok(()),
            Err(mica_cluster::MessagingError::Remote(e)) => {
                tracing::warn!("replica {addr} refused a write: {e}");
                Err(false)
            }
            Err(e) => {
                tracing::debug!("replica {addr} missed a write ({e}); storing a hint");
                if self.should_hint(addr) {
                    self.hints.store(addr, payload).await;
                }
                Err(true)
            }
        }
    }
}

impl Coordinator {
    /// Applies node-wide mutations on every other ring member: the live ones are waited for (up to the
    /// write timeout), the down or failing ones get hints. The local node applied them already.
    pub async fn broadcast(self: &Arc<Self>, mutations: Vec<Mutation>) -> Result<(), CoordinatorError> {
        let payload = Arc::new(verbs::encode(&mutations)?);
        let timeout = self.settings.write_timeout();
        let local = self.topology.local_addr();
        let sends = self
            .topology
            .members()
            .into_iter()
            .filter(|r| r.addr != local)
            .map(|r| {
                let payload = Arc::clone(&payload);
                async move {
                    if r.alive {
                        // A failure leaves a hint behind (send_mutation), so there is nothing more to do here.
                        let _ = self.send_mutation(r.addr, &payload, timeout).await;
                    } else if self.should_hint(r.addr) {
                        self.hints.store(r.addr, &payload).await;
                    }
                }
            });
        futures::future::join_all(sends).await;
        Ok(())
    }
}

fn same_nodes(a: &[Replica], b: &[Replica]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.addr == y.addr)
}
