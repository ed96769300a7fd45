//! The coordinator across three in-process nodes (real gossip sockets and messaging on loopback, in-memory
//! engines, a fixed RF=3 topology whose liveness the test controls): consistency levels, Unavailable,
//! hints, read repair, range scans and batchlog replay.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mica_cluster::{GossipConfig, Gossiper};
use mica_coordinator::{
    ConsistencyLevel, Coordinator, CoordinatorError, DefaultSettings, Replica, TokenRange, Topology,
    WriteType,
};
use mica_storage::{
    Cell, CellValue, Clustering, Engine, MemoryEngine, Mutation, PartitionKey, ReadSelection, RowMutation,
    ScanRange, TableId, TableOptions,
};
use mica_types::Token;

const PORT: u16 = 27300;
const TABLE: TableId = TableId(uuid::Uuid::from_u128(0x5eed));

fn addr(test: u8, n: u8) -> SocketAddr {
    let pid = std::process::id();
    SocketAddr::new(
        IpAddr::V4(Ipv4Addr::new(127, 140 + test, (pid % 250) as u8 + 1, n)),
        PORT,
    )
}

/// Every node replicates every token; liveness is whatever the test says.
struct Fixed {
    local: SocketAddr,
    nodes: Vec<SocketAddr>,
    down: Arc<Mutex<Vec<SocketAddr>>>,
}

impl Fixed {
    fn replica_list(&self) -> Vec<Replica> {
        let down = self.down.lock().map(|d| d.clone()).unwrap_or_default();
        let mut out: Vec<Replica> = self
            .nodes
            .iter()
            .map(|a| Replica {
                addr: *a,
                dc: "dc1".into(),
                alive: !down.contains(a),
            })
            .collect();
        out.sort_by_key(|r| r.addr != self.local);
        out
    }
}

impl Topology for Fixed {
    fn local_addr(&self) -> SocketAddr {
        self.local
    }
    fn local_dc(&self) -> String {
        "dc1".into()
    }
    fn replicas(&self, table: TableId, _token: Token) -> Option<Vec<Replica>> {
        (table == TABLE).then(|| self.replica_list())
    }
    fn ranges(&self, table: TableId) -> Option<Vec<TokenRange>> {
        (table == TABLE).then(|| {
            vec![
                TokenRange {
                    start: i64::MIN,
                    end: 0,
                    replicas: self.replica_list(),
                },
                TokenRange {
                    start: 0,
                    end: i64::MAX,
                    replicas: self.replica_list(),
                },
            ]
        })
    }
    fn is_alive(&self, addr: SocketAddr) -> bool {
        !self.down.lock().map(|d| d.contains(&addr)).unwrap_or(false)
    }
    fn members(&self) -> Vec<Replica> {
        self.replica_list()
    }
    fn down_for(&self, addr: SocketAddr) -> Option<Duration> {
        // Down nodes in these tests have been down for an hour.
        (!self.is_alive(addr)).then_some(Duration::from_secs(3600))
    }
    fn live_nodes_in(&self, _dc: &str) -> Vec<SocketAddr> {
        self.nodes.iter().copied().filter(|a| self.is_alive(*a)).collect()
    }
}

struct Cluster {
    nodes: Vec<(Arc<Gossiper>, Arc<MemoryEngine>, Arc<Coordinator>)>,
    down: Arc<Mutex<Vec<SocketAddr>>>,
    addrs: Vec<SocketAddr>,
}

fn cluster(test: u8) -> Cluster {
    let addrs: Vec<SocketAddr> = (1..=3).map(|n| addr(test, n)).collect();
    let down = Arc::new(Mutex::new(Vec::new()));
    let nodes = addrs.iter().map(|&a| start_node(a, &addrs, &down)).collect();
    Cluster { nodes, down, addrs }
}

fn start_node(
    a: SocketAddr,
    addrs: &[SocketAddr],
    down: &Arc<Mutex<Vec<SocketAddr>>>,
) -> (Arc<Gossiper>, Arc<MemoryEngine>, Arc<Coordinator>) {
    let mut config = GossipConfig::new("coordinator test", a, addrs.to_vec());
    config.interval = Duration::from_millis(100);
    let gossiper = Arc::new(Gossiper::start(config).expect("gossip starts"));
    let storage = Arc::new(MemoryEngine::new());
    storage
        .create_table(TABLE, TableOptions::default())
        .expect("table");
    let topology = Arc::new(Fixed {
        local: a,
        nodes: addrs.to_vec(),
        down: Arc::clone(down),
    });
    let coordinator = Coordinator::new(
        storage.clone() as Arc<dyn Engine>,
        gossiper.messaging(),
        topology,
        Arc::new(DefaultSettings),
    );
    (gossiper, storage, coordinator)
}

fn row(k: u32, value: &str, ts: i64) -> Mutation {
    let mut m = Mutation::new(TABLE, PartitionKey::new(k.to_be_bytes().to_vec()));
    let mut r = RowMutation::new(Clustering::Row(Vec::new()));
    r.cells.push(Cell {
        column: 1,
        path: None,
        timestamp: ts,
        value: CellValue::Live {
            value: value.as_bytes().to_vec(),
            ttl: None,
        },
    });
    m.rows.push(r);
    m
}

fn local_value(storage: &MemoryEngine, k: u32) -> Option<String> {
    let view = storage
        .read_partition(
            TABLE,
            &PartitionKey::new(k.to_be_bytes().to_vec()),
            &ReadSelection::all(),
            0,
        )
        .expect("read")?;
    let cell = view.rows.first()?.cells.first()?;
    match &cell.value {
        mica_storage::Value::Bytes(v) => Some(String::from_utf8_lossy(v).into_owned()),
        other => panic!("unexpected value {other:?}"),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn quorum_writes_reach_every_replica_and_unavailable_is_reported_up_front() {
    let c = cluster(1);
    let rt = runtime();
    let coord = &c.nodes[0].2;
    rt.block_on(async {
        coord
            .write(vec![row(1, "a", 10)], ConsistencyLevel::Quorum, WriteType::Simple)
            .await
            .expect("quorum write");
    });
    // Replicas acknowledge on their own schedule after the quorum; give the third one a moment.
    std::thread::sleep(Duration::from_millis(200));
    for (_, storage, _) in &c.nodes {
        assert_eq!(local_value(storage, 1).as_deref(), Some("a"));
    }
    c.down.lock().expect("lock").extend([c.addrs[1], c.addrs[2]]);
    let err = rt
        .block_on(coord.write(vec![row(2, "b", 10)], ConsistencyLevel::Quorum, WriteType::Simple))
        .expect_err("two replicas down");
    match err {
        CoordinatorError::Unavailable {
            level: ConsistencyLevel::Quorum,
            required: 2,
            alive: 1,
        } => {}
        other => panic!("{other:?}"),
    }
    // Nothing was written anywhere: Unavailable is decided before sending.
    assert_eq!(local_value(&c.nodes[0].1, 2), None);
    // ONE still works and leaves hints for the two down replicas.
    rt.block_on(coord.write(vec![row(3, "c", 10)], ConsistencyLevel::One, WriteType::Simple))
        .expect("ONE with one replica up");
    assert_eq!(coord.hint_stats().stored, 2);
    c.down.lock().expect("lock").clear();
    let delivered = rt.block_on(coord.deliver_hints());
    assert_eq!(delivered, 2);
    for (_, storage, _) in &c.nodes {
        assert_eq!(local_value(storage, 3).as_deref(), Some("c"));
    }
    assert_eq!(coord.hint_stats().pending, 0);
}

#[test]
fn reads_merge_replicas_and_repair_the_stale_ones() {
    let c = cluster(2);
    let rt = runtime();
    // Replica 3 holds an old value, replicas 1-2 the new one, written behind the coordinator's back.
    c.nodes[2].1.apply_sync(vec![row(7, "old", 10)]).expect("apply");
    c.nodes[1].1.apply_sync(vec![row(7, "new", 20)]).expect("apply");
    let key = PartitionKey::new(7u32.to_be_bytes().to_vec());
    // Node 3 coordinates at ALL: it must answer the newest value and repair itself.
    let view = rt
        .block_on(
            c.nodes[2]
                .2
                .read_partition(TABLE, &key, &ReadSelection::all(), 0, ConsistencyLevel::All),
        )
        .expect("read")
        .expect("row");
    assert_eq!(view.rows.len(), 1);
    for (_, storage, _) in &c.nodes {
        assert_eq!(local_value(storage, 7).as_deref(), Some("new"));
    }
    assert!(c.nodes[2].2.read_repairs() >= 2);
}

#[test]
fn range_scans_see_every_replicas_partitions() {
    let c = cluster(3);
    let rt = runtime();
    // Each partition lives on a different single node; a scan at ALL must still see them all.
    for k in 0..30u32 {
        let (_, storage, _) = &c.nodes[k as usize % 3];
        storage.apply_sync(vec![row(k, "x", 1)]).expect("apply");
    }
    let mut scan = c.nodes[0]
        .2
        .range_scan(
            TABLE,
            &ScanRange::all(),
            &ReadSelection::all(),
            0,
            ConsistencyLevel::All,
        )
        .expect("replicated table");
    let mut seen = BTreeMap::new();
    rt.block_on(async {
        loop {
            let page = scan.next_page().await.expect("page");
            if page.is_empty() {
                break;
            }
            for v in page {
                seen.insert(v.key.token, v.key.key.clone());
            }
        }
    });
    assert_eq!(seen.len(), 30);
    let tokens: Vec<Token> = seen.keys().copied().collect();
    assert!(tokens.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn a_batch_left_in_the_batchlog_by_a_dead_coordinator_is_replayed() {
    let c = cluster(4);
    let rt = runtime();
    // A logged batch over two partitions goes through the batchlog and lands everywhere.
    rt.block_on(c.nodes[0].2.write(
        vec![row(1, "p1", 5), row(2, "p2", 5)],
        ConsistencyLevel::All,
        WriteType::Batch,
    ))
    .expect("logged batch");
    for (_, storage, _) in &c.nodes {
        assert_eq!(local_value(storage, 2).as_deref(), Some("p2"));
    }
    // A batch a coordinator stored but never wrote (it died): replayed once it is old enough.
    let entry = mica_coordinator::batchlog::BatchlogEntry {
        id: 42,
        written_at_micros: mica_types::Timestamp::now().0 - 60_000_000,
        mutations: vec![row(8, "late", 5), row(9, "late", 5)],
    };
    let payload = mica_coordinator::verbs::encode(&entry).expect("encode");
    rt.block_on(c.nodes[0].0.messaging().request(
        c.addrs[1],
        mica_coordinator::verbs::BATCH_STORE,
        payload,
        Duration::from_secs(5),
    ))
    .expect("stored");
    assert_eq!(rt.block_on(c.nodes[1].2.replay_batchlog()), 1);
    std::thread::sleep(Duration::from_millis(200));
    for (_, storage, _) in &c.nodes {
        assert_eq!(local_value(storage, 9).as_deref(), Some("late"));
    }
    assert_eq!(rt.block_on(c.nodes[1].2.replay_batchlog()), 0);
}

/// A compare-and-set on the single cell of partition `k`: writes `new` when the current value is `expected`.
async fn cas_set(
    coord: &Arc<Coordinator>,
    k: u32,
    expected: Option<&str>,
    new: &str,
) -> Result<bool, String> {
    let key = PartitionKey::new(k.to_be_bytes().to_vec());
    let expected = expected.map(str::to_owned);
    coord
        .cas(
            TABLE,
            &key,
            ConsistencyLevel::Serial,
            ConsistencyLevel::Quorum,
            &[ReadSelection::all()],
            0,
            |views, ts| {
                let current = views[0].as_ref().and_then(|v| {
                    let cell = v.rows.first()?.cells.first()?;
                    match &cell.value {
                        mica_storage::Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
                        mica_storage::Value::Counter(_) => None,
                    }
                });
                let applied = current == expected;
                Ok::<_, String>(mica_coordinator::paxos::CasDecision {
                    result: applied,
                    update: applied.then(|| vec![row(k, new, ts)]),
                })
            },
        )
        .await
        .map_err(|e| format!("{e:?}"))
}

#[test]
fn paxos_serializes_competing_transactions_across_coordinators() {
    let c = cluster(5);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    // Twelve competing "insert if not exists" from three coordinators: at most one is told it won, and if
    // none is, one of them was told "unknown" (its proposal was partially accepted, then completed).
    let outcomes: Vec<Result<bool, String>> = rt.block_on(async {
        let tries = (0..12).map(|i| {
            let coord = Arc::clone(&c.nodes[i % 3].2);
            tokio::spawn(async move { cas_set(&coord, 1, None, &format!("v{i}")).await })
        });
        futures::future::join_all(tries)
            .await
            .into_iter()
            .map(|r| r.expect("task"))
            .collect()
    });
    let winners: Vec<usize> = (0..12).filter(|i| outcomes[*i] == Ok(true)).collect();
    let unknown = outcomes.iter().filter(|o| o.is_err()).count();
    assert!(winners.len() <= 1, "{outcomes:?}");
    assert!(winners.len() + unknown >= 1, "{outcomes:?}");
    std::thread::sleep(Duration::from_millis(300));
    let values: Vec<Option<String>> = c.nodes.iter().map(|(_, s, _)| local_value(s, 1)).collect();
    assert!(values.iter().all(|v| *v == values[0]), "{values:?}");
    if let [w] = winners[..] {
        assert_eq!(values[0], Some(format!("v{w}")));
    }
    // Thirty increments by compare-and-set loops: no two applied transactions replaced the same value
    // (exclusivity), and the count is at least the number of acknowledged increments and at most that plus
    // the increments whose outcome was reported unknown (a partially accepted proposal may land later).
    let outcomes: Vec<(u32, u32)> = rt.block_on(async {
        cas_set(&c.nodes[0].2, 2, None, "0/seed").await.expect("seed");
        let incs = (0..30).map(|i| {
            let coord = Arc::clone(&c.nodes[i % 3].2);
            tokio::spawn(async move {
                let key = PartitionKey::new(2u32.to_be_bytes().to_vec());
                let mut unknown = 0;
                for attempt in 0.. {
                    let current = coord
                        .read_partition(TABLE, &key, &ReadSelection::all(), 0, ConsistencyLevel::Serial)
                        .await
                        .expect("read")
                        .and_then(|v| match &v.rows.first()?.cells.first()?.value {
                            mica_storage::Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
                            mica_storage::Value::Counter(_) => None,
                        })
                        .expect("value");
                    let count: u32 = current
                        .split('/')
                        .next()
                        .and_then(|n| n.parse().ok())
                        .expect("number");
                    let next = format!("{}/{i}.{attempt}", count + 1);
                    match cas_set(&coord, 2, Some(&current), &next).await {
                        Ok(true) => return (count, unknown),
                        Ok(false) => {}
                        Err(_) => unknown += 1,
                    }
                }
                unreachable!()
            })
        });
        futures::future::join_all(incs)
            .await
            .into_iter()
            .map(|r| r.expect("task"))
            .collect()
    });
    let mut replaced: Vec<u32> = outcomes.iter().map(|(c, _)| *c).collect();
    replaced.sort_unstable();
    let before = replaced.len();
    replaced.dedup();
    assert_eq!(
        replaced.len(),
        before,
        "two transactions replaced the same value: {outcomes:?}"
    );
    let unknown: u32 = outcomes.iter().map(|(_, u)| *u).sum();
    std::thread::sleep(Duration::from_millis(300));
    for (_, storage, _) in &c.nodes {
        let value = local_value(storage, 2).expect("value");
        let count: u32 = value
            .split('/')
            .next()
            .and_then(|n| n.parse().ok())
            .expect("number");
        assert!(
            (30..=30 + unknown).contains(&count),
            "{value} with {unknown} unknown outcomes"
        );
    }
}

/// Hints on, but a `max_hint_window` of ten minutes.
struct ShortWindow;

impl mica_coordinator::Settings for ShortWindow {
    fn write_timeout(&self) -> Duration {
        Duration::from_secs(2)
    }
    fn read_timeout(&self) -> Duration {
        Duration::from_secs(5)
    }
    fn range_timeout(&self) -> Duration {
        Duration::from_secs(10)
    }
    fn hints_enabled(&self) -> bool {
        true
    }
    fn stream_throughput_bytes_per_second(&self) -> u64 {
        0
    }
    fn max_hint_window(&self) -> Duration {
        Duration::from_secs(600)
    }
}

#[test]
fn no_hints_for_a_node_down_longer_than_max_hint_window() {
    let addrs: Vec<SocketAddr> = (1..=3).map(|n| addr(6, n)).collect();
    let down = Arc::new(Mutex::new(vec![addrs[2]]));
    let (gossiper, storage, default_coord) = start_node(addrs[0], &addrs, &down);
    drop(default_coord);
    let peers: Vec<_> = addrs[1..].iter().map(|&a| start_node(a, &addrs, &down)).collect();
    let coord = Coordinator::new(
        storage.clone() as Arc<dyn Engine>,
        gossiper.messaging(),
        Arc::new(Fixed {
            local: addrs[0],
            nodes: addrs.clone(),
            down: Arc::clone(&down),
        }),
        Arc::new(ShortWindow),
    );
    runtime()
        .block_on(coord.write(vec![row(4, "d", 1)], ConsistencyLevel::Quorum, WriteType::Simple))
        .expect("quorum of two live replicas");
    // The default window (3 h) would have hinted the node down for an hour; ten minutes does not.
    assert_eq!(coord.hint_stats().stored, 0);
    assert_eq!(local_value(&peers[0].1, 4).as_deref(), Some("d"));
}
