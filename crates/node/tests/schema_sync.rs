//! Schema across the cluster and driver-visible topology events, with in-process nodes on loopback
//! addresses: DDL on one node reaches the others and schema_version converges; a client registered
//! for TOPOLOGY_CHANGE / STATUS_CHANGE hears a second node join, and go down when it stops.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mica_config::NodeConfig;
use mica_cql_protocol::response::{StatusChangeType, TopologyChangeType};
use mica_cql_protocol::{Event, EventType, Request, Response, Version};
use mica_node::{Node, NodeHandle};
use tokio::net::TcpStream;

const CONVERGE_TIMEOUT: Duration = Duration::from_secs(30);

/// Node `n`'s address: outside the ranges other test files use, unique per process.
fn address(n: u8) -> String {
    let pid = std::process::id();
    format!("127.{}.{}.{n}", 160 + (pid / 256) % 40, pid % 256)
}

fn start(n: u8, seed: u8, dir: &std::path::Path) -> NodeHandle {
    let yaml = format!(
        "cluster_name: 'Schema Sync Test {seed}'\nlisten_address: {a}\nrpc_address: {a}\nnative_transport_port: 9042\n\
         num_tokens: 4\nstorage_port: 7000\n\
         seed_provider:\n  - class_name: org.apache.cassandra.locator.SimpleSeedProvider\n    parameters:\n      - seeds: \"{seed}\"\n",
        a = address(n),
        seed = address(seed),
    );
    Node::start(NodeConfig::from_yaml_str(&yaml, dir).expect("yaml")).expect("node starts")
}

async fn client(node: &NodeHandle) -> common::Client<TcpStream> {
    let mut c = common::Client::new(
        TcpStream::connect(node.native_address().expect("cql"))
            .await
            .expect("connect"),
        Version::V4,
    );
    c.startup(&[]).await;
    c
}

async fn schema_version(c: &mut common::Client<TcpStream>) -> Vec<u8> {
    let rows = c.rows(3, "SELECT schema_version FROM system.local").await;
    rows.rows[0][0].as_ref().expect("schema_version").to_vec()
}

/// Polls `check` until it holds, failing the test after [`CONVERGE_TIMEOUT`].
macro_rules! wait_for {
    ($what:expr, $check:expr) => {{
        let start = Instant::now();
        while !$check {
            assert!(
                start.elapsed() < CONVERGE_TIMEOUT,
                "timed out waiting for {}",
                $what
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }};
}

/// Whether `cql` returns `count` rows on every node and all nodes agree on the schema version.
async fn converged(clients: &mut [common::Client<TcpStream>], cql: &str, count: usize) -> bool {
    for c in clients.iter_mut() {
        if c.rows(4, cql).await.rows.len() != count {
            return false;
        }
    }
    agree(clients).await
}

/// Whether every client reports the same schema_version.
async fn agree(clients: &mut [common::Client<TcpStream>]) -> bool {
    let mut versions = Vec::new();
    for c in clients.iter_mut() {
        versions.push(schema_version(c).await);
    }
    versions.windows(2).all(|w| w[0] == w[1])
}

#[tokio::test(flavor = "current_thread")]
async fn ddl_on_one_node_reaches_every_node_and_versions_agree() {
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().expect("dir")).collect();
    let nodes: Vec<NodeHandle> = (1..=3).zip(&dirs).map(|(n, d)| start(n, 1, d.path())).collect();
    let mut clients = Vec::new();
    for n in &nodes {
        clients.push(client(n).await);
    }
    wait_for!(
        "all nodes to see each other",
        nodes
            .iter()
            .all(|n| n.cluster_endpoints().iter().filter(|e| e.alive).count() == 3)
    );

    let created = clients[0]
        .query(
            5,
            "CREATE KEYSPACE sync_ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 3}",
        )
        .await;
    assert!(matches!(created, Response::Result(_)), "{created:?}");
    let created = clients[0]
        .query(5, "CREATE TABLE sync_ks.t (k int PRIMARY KEY, v text)")
        .await;
    assert!(matches!(created, Response::Result(_)), "{created:?}");

    let tables = "SELECT table_name FROM system_schema.tables WHERE keyspace_name = 'sync_ks'";
    wait_for!(
        "the table on every node and schema agreement",
        converged(&mut clients, tables, 1).await
    );
    // The table is usable on a node that did not run the DDL.
    let insert = clients[2]
        .query(6, "INSERT INTO sync_ks.t (k, v) VALUES (1, 'one')")
        .await;
    assert!(matches!(insert, Response::Result(_)), "{insert:?}");

    // DDL on another node, then a drop, propagate the same way.
    let altered = clients[1].query(7, "ALTER TABLE sync_ks.t ADD w int").await;
    assert!(matches!(altered, Response::Result(_)), "{altered:?}");
    let columns =
        "SELECT column_name FROM system_schema.columns WHERE keyspace_name = 'sync_ks' AND table_name = 't'";
    wait_for!(
        "the new column everywhere",
        converged(&mut clients, columns, 3).await
    );
    let dropped = clients[2].query(9, "DROP KEYSPACE sync_ks").await;
    assert!(matches!(dropped, Response::Result(_)), "{dropped:?}");
    let keyspaces = "SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = 'sync_ks'";
    wait_for!("the drop everywhere", converged(&mut clients, keyspaces, 0).await);
}

/// Reads events until one matches `wanted`.
async fn expect_event(c: &mut common::Client<TcpStream>, wanted: &Event) {
    let start = Instant::now();
    loop {
        assert!(start.elapsed() < CONVERGE_TIMEOUT, "no {wanted:?}");
        let (header, response) = c.recv().await.expect("connection open");
        if let Response::Event(event) = response {
            assert_eq!(header.stream, -1, "events arrive on stream -1");
            if event == *wanted {
                return;
            }
        }
    }
}

#[tokio::test(flavor = "current_thread")]
async fn registered_clients_hear_nodes_join_and_go_down() {
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().expect("dir")).collect();
    let first = start(4, 4, dirs[0].path());
    let mut c = client(&first).await;
    let ready = c
        .request(
            2,
            &Request::Register(vec![EventType::TopologyChange, EventType::StatusChange]),
        )
        .await;
    assert_eq!(ready, Response::Ready);

    let second = start(5, 4, dirs[1].path());
    let native: SocketAddr = format!("{}:9042", address(5)).parse().expect("address");
    expect_event(
        &mut c,
        &Event::TopologyChange {
            change: TopologyChangeType::NewNode,
            address: native,
        },
    )
    .await;
    expect_event(
        &mut c,
        &Event::StatusChange {
            change: StatusChangeType::Up,
            address: native,
        },
    )
    .await;
    second.shutdown().expect("clean shutdown");
    expect_event(
        &mut c,
        &Event::StatusChange {
            change: StatusChangeType::Down,
            address: native,
        },
    )
    .await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_new_node_takes_balanced_tokens_from_the_ring_it_learned() {
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().expect("dir")).collect();
    let nodes: Vec<NodeHandle> = [7u8, 8, 9]
        .into_iter()
        .zip(&dirs)
        .map(|(n, d)| start(n, 7, d.path()))
        .collect();
    let tokens: Vec<&[i64]> = nodes.iter().map(|n| n.local_info().tokens.as_slice()).collect();
    let ring = mica_cluster::ring::TokenRing::from_nodes((0u8..3).zip(tokens.iter().copied()))
        .expect("distinct tokens");
    // With 4 random vnodes per node ownership is often far from even; allocated tokens keep every
    // node within 20% of the mean, as ring::allocate_tokens promises.
    for (node, share) in ring.ownership() {
        assert!(
            (share - 1.0 / 3.0).abs() <= 0.2 / 3.0 + 1e-9,
            "node {node} owns {share}"
        );
    }
}
