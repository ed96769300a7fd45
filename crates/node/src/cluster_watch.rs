//! Watches the gossip view on a thread of its own: pulls and merges a peer's schema whenever a live
//! peer announces a schema version different from ours (so DDL on any node reaches every node and
//! versions converge), and turns membership and liveness changes into the TOPOLOGY_CHANGE and
//! STATUS_CHANGE events drivers register for. Also serves this node's schema to peers' pulls.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mica_cluster::{EndpointInfo, Gossiper, NodeStatus};
use mica_cql_protocol::Event;
use mica_cql_protocol::response::{StatusChangeType, TopologyChangeType};
use mica_query::QueryEngine;
use tokio::sync::{broadcast, watch};

/// The pull topic under which nodes serve their schema.
pub(crate) const SCHEMA_TOPIC: &str = "schema";
/// How often the gossip view is compared with the previous one.
const WATCH_INTERVAL: Duration = Duration::from_millis(250);
/// The least time between two schema pulls, so a peer that keeps disagreeing is not hammered.
const SCHEMA_PULL_INTERVAL: Duration = Duration::from_millis(500);
/// The native port assumed for a peer that has not published its native address.
const DEFAULT_NATIVE_PORT: u16 = 9042;

/// Installs the schema pull handler and starts the watch thread; it stops with the node.
pub(crate) fn spawn(
    gossiper: &Arc<Gossiper>,
    engine: &Arc<QueryEngine>,
    events: broadcast::Sender<Event>,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<JoinHandle<()>> {
    let served = Arc::downgrade(engine);
    gossiper.set_pull_handler(
        SCHEMA_TOPIC,
        Arc::new(move || {
            served
                .upgrade()
                .and_then(|e| match e.schema_payload() {
                    Ok(p) => Some(p),
                    Err(err) => {
                        tracing::warn!("cannot serve the schema to a peer: {err}");
                        None
                    }
                })
                .unwrap_or_default()
        }),
    );
    // Weak references: the node's shutdown must be able to take the gossiper back to announce it.
    let gossiper = Arc::downgrade(gossiper);
    let engine = Arc::downgrade(engine);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("mica-cluster-watch".into())
        .spawn(move || {
            runtime.block_on(async move {
                let mut watcher = Watcher::new(gossiper, engine, events);
                let mut ticker = tokio::time::interval(WATCH_INTERVAL);
                ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tokio::select! {
                        changed = stop.changed() => {
                            if changed.is_err() || *stop.borrow() {
                                return;
                            }
                        }
                        _ = ticker.tick() => {
                            if !watcher.tick().await {
                                return;
                            }
                        }
                    }
                }
            });
        })
}

/// What the last look at one peer showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seen {
    alive: bool,
    /// A ring member (NORMAL, LEAVING or shut down), as opposed to joining or gone.
    member: bool,
    native: SocketAddr,
}

struct Watcher {
    gossiper: Weak<Gossiper>,
    engine: Weak<QueryEngine>,
    events: broadcast::Sender<Event>,
    /// Peers as last seen; `None` until the first look, which only records the starting view.
    seen: Option<BTreeMap<SocketAddr, Seen>>,
    last_pull: Option<Instant>,
    /// Rotates through disagreeing peers so one unreachable peer does not block agreement.
    next_peer: usize,
}

impl Watcher {
    fn new(gossiper: Weak<Gossiper>, engine: Weak<QueryEngine>, events: broadcast::Sender<Event>) -> Self {
        Self {
            gossiper,
            engine,
            events,
            seen: None,
            last_pull: None,
            next_peer: 0,
        }
    }

    /// One look at the gossip view; false once the node is gone.
    async fn tick(&mut self) -> bool {
        let (Some(gossiper), Some(engine)) = (self.gossiper.upgrade(), self.engine.upgrade()) else {
            return false;
        };
        let endpoints = gossiper.endpoints();
        self.topology(&endpoints);
        self.schema(&gossiper, &engine, &endpoints).await;
        true
    }

    /// Sends the events for what changed since the last look.
    fn topology(&mut self, endpoints: &[EndpointInfo]) {
        let now: BTreeMap<SocketAddr, (Seen, NodeStatus)> = endpoints
            .iter()
            .filter(|e| !e.is_local)
            .map(|e| (e.address, (seen(e), e.status)))
            .collect();
        let Some(before) = self
            .seen
            .replace(now.iter().map(|(a, (s, _))| (*a, *s)).collect())
        else {
            return;
        };
        for event in diff(&before, &now) {
            tracing::debug!("cluster event: {event:?}");
            // No receiver simply means no connection registered for these events.
            let _ = self.events.send(event);
        }
    }

    /// Pulls and merges the schema of a live peer that disagrees with ours.
    async fn schema(&mut self, gossiper: &Gossiper, engine: &QueryEngine, endpoints: &[EndpointInfo]) {
        if self.last_pull.is_some_and(|t| t.elapsed() < SCHEMA_PULL_INTERVAL) {
            return;
        }
        let ours = engine.schema().version;
        let disagreeing: Vec<SocketAddr> = endpoints
            .iter()
            .filter(|e| !e.is_local && e.alive && e.schema_version.is_some_and(|v| v != ours))
            .map(|e| e.address)
            .collect();
        if disagreeing.is_empty() {
            return;
        }
        self.last_pull = Some(Instant::now());
        self.next_peer = self.next_peer.wrapping_add(1);
        let peer = disagreeing[self.next_peer % disagreeing.len()];
        match gossiper.pull(peer, SCHEMA_TOPIC).await {
            Ok(Some(payload)) if !payload.is_empty() => match engine.apply_remote_schema(&payload) {
                Ok(changes) if !changes.is_empty() => {
                    tracing::info!("merged the schema of {peer}: {} change(s)", changes.len());
                }
                Ok(_) => {}
                Err(e) => tracing::warn!("cannot merge the schema of {peer}: {e}"),
            },
            Ok(_) => tracing::debug!("{peer} serves no schema"),
            Err(e) => tracing::debug!("schema pull from {peer}: {e}"),
        }
    }
}

fn seen(e: &EndpointInfo) -> Seen {
    Seen {
        alive: e.alive,
        member: matches!(
            e.status,
            NodeStatus::Normal | NodeStatus::Leaving | NodeStatus::Shutdown
        ),
        native: e
            .native_address
            .unwrap_or_else(|| SocketAddr::new(e.rpc_address.unwrap_or(e.address.ip()), DEFAULT_NATIVE_PORT)),
    }
}

/// The driver events between two views: NEW_NODE when a peer becomes a ring member, REMOVED_NODE
/// when it leaves (or disappears), UP/DOWN when a member's liveness flips (a new member that is
/// alive is also announced UP).
fn diff(before: &BTreeMap<SocketAddr, Seen>, now: &BTreeMap<SocketAddr, (Seen, NodeStatus)>) -> Vec<Event> {
    let mut events = Vec::new();
    let topology = |change, address| Event::TopologyChange { change, address };
    let status = |change, address| Event::StatusChange { change, address };
    for (address, (current, node_status)) in now {
        let previous = before.get(address);
        let was_member = previous.is_some_and(|p| p.member);
        let was_alive = previous.is_some_and(|p| p.alive && p.member);
        if *node_status == NodeStatus::Left {
            if was_member {
                events.push(topology(TopologyChangeType::RemovedNode, current.native));
            }
            continue;
        }
        if current.member && !was_member {
            events.push(topology(TopologyChangeType::NewNode, current.native));
        }
        let alive = current.alive && current.member;
        if alive != was_alive && (current.member || was_member) {
            let change = if alive {
                StatusChangeType::Up
            } else {
                StatusChangeType::Down
            };
            events.push(status(change, current.native));
        }
    }
    for (address, previous) in before {
        if previous.member && !now.contains_key(address) {
            events.push(topology(TopologyChangeType::RemovedNode, previous.native));
        }
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(n: u8) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, n], 7000))
    }

    fn native(n: u8) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, n], 9042))
    }

    fn view(entries: &[(u8, bool, NodeStatus)]) -> BTreeMap<SocketAddr, (Seen, NodeStatus)> {
        entries
            .iter()
            .map(|&(n, alive, status)| {
                let member = matches!(
                    status,
                    NodeStatus::Normal | NodeStatus::Leaving | NodeStatus::Shutdown
                );
                (
                    at(n),
                    (
                        Seen {
                            alive,
                            member,
                            native: native(n),
                        },
                        status,
                    ),
                )
            })
            .collect()
    }

    fn plain(v: &BTreeMap<SocketAddr, (Seen, NodeStatus)>) -> BTreeMap<SocketAddr, Seen> {
        v.iter().map(|(a, (s, _))| (*a, *s)).collect()
    }

    #[test]
    fn joins_flips_and_leaves_become_driver_events() {
        let empty = BTreeMap::new();
        let joined = view(&[(2, true, NodeStatus::Normal)]);
        assert_eq!(
            diff(&empty, &joined),
            vec![
                Event::TopologyChange {
                    change: TopologyChangeType::NewNode,
                    address: native(2)
                },
                Event::StatusChange {
                    change: StatusChangeType::Up,
                    address: native(2)
                },
            ]
        );
        assert!(diff(&plain(&joined), &joined).is_empty());
        let down = view(&[(2, false, NodeStatus::Shutdown)]);
        assert_eq!(
            diff(&plain(&joined), &down),
            vec![Event::StatusChange {
                change: StatusChangeType::Down,
                address: native(2)
            }]
        );
        let back = view(&[(2, true, NodeStatus::Normal)]);
        assert_eq!(
            diff(&plain(&down), &back),
            vec![Event::StatusChange {
                change: StatusChangeType::Up,
                address: native(2)
            }]
        );
        let left = view(&[(2, false, NodeStatus::Left)]);
        assert_eq!(
            diff(&plain(&back), &left),
            vec![Event::TopologyChange {
                change: TopologyChangeType::RemovedNode,
                address: native(2)
            }]
        );
        // A joining node is announced only once it is NORMAL.
        let joining = view(&[(3, true, NodeStatus::Joining)]);
        assert!(diff(&empty, &joining).is_empty());
    }
}
