//! Consistency levels and what each one requires of a replica set: how many acknowledgements, from
//! which datacenters, and whether enough replicas are alive to try at all.

use std::collections::BTreeMap;
use std::fmt;

use crate::error::CoordinatorError;
use crate::topology::Replica;

/// Cassandra's consistency levels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConsistencyLevel {
    Any,
    One,
    Two,
    Three,
    Quorum,
    All,
    LocalQuorum,
    EachQuorum,
    Serial,
    LocalSerial,
    LocalOne,
}

impl fmt::Display for ConsistencyLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Any => "ANY",
            Self::One => "ONE",
            Self::Two => "TWO",
            Self::Three => "THREE",
            Self::Quorum => "QUORUM",
            Self::All => "ALL",
            Self::LocalQuorum => "LOCAL_QUORUM",
            Self::EachQuorum => "EACH_QUORUM",
            Self::Serial => "SERIAL",
            Self::LocalSerial => "LOCAL_SERIAL",
            Self::LocalOne => "LOCAL_ONE",
        })
    }
}

/// One part of a requirement: `count` acknowledgements from replicas in `dc` (any datacenter when `None`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Need {
    pub dc: Option<String>,
    pub count: usize,
}

impl Need {
    fn admits(&self, replica: &Replica) -> bool {
        self.dc.as_ref().is_none_or(|dc| *dc == replica.dc)
    }
}

/// What a consistency level requires of one replica set: every [`Need`] must be met.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    pub level: ConsistencyLevel,
    pub needs: Vec<Need>,
}

fn quorum(n: usize) -> usize {
    n / 2 + 1
}

impl Requirement {
    /// The requirement of `level` on `replicas` (the natural replicas of one token), as Cassandra's
    /// `ConsistencyLevel.blockFor` computes it. SERIAL and LOCAL_SERIAL read like QUORUM and
    /// LOCAL_QUORUM.
    pub fn new(level: ConsistencyLevel, replicas: &[Replica], local_dc: &str) -> Requirement {
        let per_dc = || {
            let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
            for r in replicas {
                *counts.entry(r.dc.as_str()).or_default() += 1;
            }
            counts
        };
        let any = |count| vec![Need { dc: None, count }];
        let local = |count| {
            vec![Need {
                dc: Some(local_dc.to_owned()),
                count,
            }]
        };
        let local_rf = || per_dc().get(local_dc).copied().unwrap_or(0);
        let needs = match level {
            ConsistencyLevel::Any | ConsistencyLevel::One => any(1),
            ConsistencyLevel::Two => any(2),
            ConsistencyLevel::Three => any(3),
            ConsistencyLevel::Quorum | ConsistencyLevel::Serial => any(quorum(replicas.len())),
            ConsistencyLevel::All => any(replicas.len()),
            ConsistencyLevel::LocalOne => local(1),
            ConsistencyLevel::LocalQuorum | ConsistencyLevel::LocalSerial => local(quorum(local_rf())),
            ConsistencyLevel::EachQuorum => per_dc()
                .into_iter()
                .map(|(dc, n)| Need {
                    dc: Some(dc.to_owned()),
                    count: quorum(n),
                })
                .collect(),
        };
        Requirement { level, needs }
    }

    /// The requirement of a write that also goes to `pending` replicas: each need grows by the pending
    /// replicas it admits, as Cassandra adds the pending count (of the relevant datacenter) to block_for so
    /// that a range in motion keeps its guarantee on both the old and the new replica set.
    pub fn with_pending(mut self, pending: &[Replica]) -> Requirement {
        if self.level == ConsistencyLevel::Any {
            return self;
        }
        for need in &mut self.needs {
            need.count += pending.iter().filter(|r| need.admits(r)).count();
        }
        self
    }

    /// The total number of acknowledgements required (Cassandra's `block_for`).
    pub fn block_for(&self) -> usize {
        self.needs.iter().map(|n| n.count).sum()
    }

    /// Fails with Unavailable when the live replicas cannot meet the requirement.
    /// ANY is always available: a hint on the coordinator counts.
    pub fn check_available(&self, replicas: &[Replica]) -> Result<(), CoordinatorError> {
        if self.level == ConsistencyLevel::Any {
            return Ok(());
        }
        for need in &self.needs {
            let alive = replicas.iter().filter(|r| r.alive && need.admits(r)).count();
            if alive < need.count {
                return Err(CoordinatorError::Unavailable {
                    level: self.level,
                    required: need.count,
                    alive,
                });
            }
        }
        Ok(())
    }

    /// How many of `acked` count towards the requirement (for timeout and failure reports).
    pub fn received(&self, acked: &[&Replica]) -> usize {
        self.needs
            .iter()
            .map(|need| acked.iter().filter(|r| need.admits(r)).count().min(need.count))
            .sum()
    }

    /// Whether `acked` meets every need.
    pub fn is_met(&self, acked: &[&Replica]) -> bool {
        self.needs
            .iter()
            .all(|need| acked.iter().filter(|r| need.admits(r)).count() >= need.count)
    }

    /// Whether the requirement can still be met when `pending` replicas may still answer.
    pub fn is_reachable(&self, acked: &[&Replica], pending: &[&Replica]) -> bool {
        self.needs.iter().all(|need| {
            let have = acked.iter().chain(pending).filter(|r| need.admits(r)).count();
            have >= need.count
        })
    }

    /// The fewest live replicas (preferring the order given) whose answers meet the requirement: the
    /// replicas a read contacts. `None` when the live replicas cannot meet it.
    pub fn pick<'a>(&self, replicas: &'a [Replica]) -> Option<Vec<&'a Replica>> {
        let mut chosen: Vec<&Replica> = Vec::new();
        for need in &self.needs {
            let mut have = chosen.iter().filter(|r| need.admits(r)).count();
            for r in replicas.iter().filter(|r| r.alive && need.admits(r)) {
                if have >= need.count {
                    break;
                }
                if !chosen.iter().any(|c| c.addr == r.addr) {
                    chosen.push(r);
                    have += 1;
                }
            }
            if have < need.count {
                return None;
            }
        }
        Some(chosen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replica(last: u8, dc: &str, alive: bool) -> Replica {
        Replica {
            addr: std::net::SocketAddr::from(([127, 0, 0, last], 7000)),
            dc: dc.to_owned(),
            alive,
        }
    }

    fn two_dcs() -> Vec<Replica> {
        vec![
            replica(1, "dc1", true),
            replica(2, "dc1", true),
            replica(3, "dc1", false),
            replica(4, "dc2", true),
            replica(5, "dc2", false),
            replica(6, "dc2", false),
        ]
    }

    #[test]
    fn block_for_matches_cassandra() {
        let reps = two_dcs();
        let bf = |level| Requirement::new(level, &reps, "dc1").block_for();
        assert_eq!(bf(ConsistencyLevel::One), 1);
        assert_eq!(bf(ConsistencyLevel::Any), 1);
        assert_eq!(bf(ConsistencyLevel::Two), 2);
        assert_eq!(bf(ConsistencyLevel::Quorum), 4);
        assert_eq!(bf(ConsistencyLevel::All), 6);
        assert_eq!(bf(ConsistencyLevel::LocalQuorum), 2);
        assert_eq!(bf(ConsistencyLevel::LocalOne), 1);
        assert_eq!(bf(ConsistencyLevel::EachQuorum), 4);
        assert_eq!(bf(ConsistencyLevel::Serial), 4);
    }

    #[test]
    fn availability_counts_live_replicas_where_they_count() {
        let reps = two_dcs();
        let check = |level, dc| Requirement::new(level, &reps, dc).check_available(&reps);
        assert!(check(ConsistencyLevel::LocalQuorum, "dc1").is_ok());
        assert!(check(ConsistencyLevel::Quorum, "dc1").is_err());
        match check(ConsistencyLevel::EachQuorum, "dc1") {
            Err(CoordinatorError::Unavailable {
                required: 2,
                alive: 1,
                ..
            }) => {}
            other => panic!("dc2 has one live replica of three: {other:?}"),
        }
        match check(ConsistencyLevel::LocalQuorum, "dc2") {
            Err(CoordinatorError::Unavailable {
                required: 2,
                alive: 1,
                ..
            }) => {}
            other => panic!("{other:?}"),
        }
        assert!(check(ConsistencyLevel::Any, "dc2").is_ok());
        assert!(check(ConsistencyLevel::Three, "dc1").is_ok());
    }

    #[test]
    fn acknowledgements_meet_needs_per_datacenter() {
        let reps = two_dcs();
        let each = Requirement::new(ConsistencyLevel::EachQuorum, &reps, "dc1");
        assert!(!each.is_met(&[&reps[0], &reps[1], &reps[3]]));
        assert!(each.is_met(&[&reps[0], &reps[1], &reps[3], &reps[4]]));
        assert_eq!(each.received(&[&reps[0], &reps[1], &reps[2], &reps[3]]), 3);
        let local = Requirement::new(ConsistencyLevel::LocalQuorum, &reps, "dc1");
        assert!(!local.is_met(&[&reps[3], &reps[4], &reps[0]]));
        assert!(local.is_reachable(&[&reps[0]], &[&reps[1]]));
        assert!(!local.is_reachable(&[&reps[0]], &[&reps[3]]));
    }

    #[test]
    fn pending_replicas_raise_block_for_where_they_count() {
        let reps = vec![
            replica(1, "dc1", true),
            replica(2, "dc1", true),
            replica(3, "dc1", true),
        ];
        let pending = vec![replica(4, "dc1", true)];
        let quorum = Requirement::new(ConsistencyLevel::Quorum, &reps, "dc1").with_pending(&pending);
        assert_eq!(quorum.block_for(), 3);
        let one = Requirement::new(ConsistencyLevel::One, &reps, "dc1").with_pending(&pending);
        assert_eq!(one.block_for(), 2);
        let remote = vec![replica(5, "dc2", true)];
        let local = Requirement::new(ConsistencyLevel::LocalQuorum, &reps, "dc1").with_pending(&remote);
        assert_eq!(local.block_for(), 2);
        let any = Requirement::new(ConsistencyLevel::Any, &reps, "dc1").with_pending(&pending);
        assert_eq!(any.block_for(), 1);
        let mut all: Vec<Replica> = reps.clone();
        all.extend(pending.clone());
        assert!(quorum.check_available(&all).is_ok());
        all[3].alive = false;
        all[2].alive = false;
        assert!(quorum.check_available(&all).is_err());
    }

    #[test]
    fn reads_contact_the_fewest_live_replicas_in_preference_order() {
        let reps = two_dcs();
        let picked = |level, dc| {
            Requirement::new(level, &reps, dc)
                .pick(&reps)
                .map(|v| v.iter().map(|r| r.addr.ip().to_string()).collect::<Vec<_>>())
        };
        assert_eq!(
            picked(ConsistencyLevel::One, "dc1"),
            Some(vec!["127.0.0.1".into()])
        );
        assert_eq!(
            picked(ConsistencyLevel::LocalQuorum, "dc1"),
            Some(vec!["127.0.0.1".into(), "127.0.0.2".into()])
        );
        assert_eq!(
            picked(ConsistencyLevel::LocalOne, "dc2"),
            Some(vec!["127.0.0.4".into()])
        );
        assert_eq!(picked(ConsistencyLevel::Quorum, "dc1"), None);
    }
}
