//! Three in-process nodes on loopback addresses gossip: each lists the other two in system.peers and
//! peers_v2, and the admin API's status shows all three Up/Normal; a stopped node turns Down.

mod common;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use mica_config::NodeConfig;
use mica_cql_protocol::Version;
use mica_node::{Node, NodeHandle};
use mica_node_admin_api as api;

const CONVERGE_TIMEOUT: Duration = Duration::from_secs(30);

/// Node `n`'s address: outside the range `common::unique_address` hands out, unique per process.
fn address(n: u8) -> String {
    let pid = std::process::id();
    format!("127.{}.{}.{n}", 210 + (pid / 256) % 40, pid % 256)
}

fn start(n: u8, dir: &std::path::Path) -> NodeHandle {
    let yaml = format!(
        "cluster_name: 'Gossip Test'\nlisten_address: {a}\nrpc_address: {a}\nnative_transport_port: 9042\n\
         num_tokens: 4\nstorage_port: 7000\nmica:\n  admin_port: 9180\n\
         seed_provider:\n  - class_name: org.apache.cassandra.locator.SimpleSeedProvider\n    parameters:\n      - seeds: \"{seed}\"\n",
        a = address(n),
        seed = address(1),
    );
    Node::start(NodeConfig::from_yaml_str(&yaml, dir).expect("yaml")).expect("node starts")
}

fn status(handle: &NodeHandle, dir: &std::path::Path) -> api::ClusterStatus {
    let addr = handle.admin_address().expect("admin");
    let token = std::fs::read_to_string(dir.join("data/data/admin.token")).expect("token");
    let mut stream = TcpStream::connect(addr).expect("connect");
    write!(
        stream,
        "GET {} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAuthorization: Bearer {}\r\n\r\n",
        api::STATUS,
        token.trim()
    )
    .expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or_default();
    serde_json::from_str(body).expect("status json")
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < CONVERGE_TIMEOUT, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[tokio::test(flavor = "current_thread")]
async fn three_nodes_see_each_other() {
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().expect("dir")).collect();
    let mut nodes: Vec<NodeHandle> = (1..=3).zip(&dirs).map(|(n, d)| start(n, d.path())).collect();
    wait_until("status convergence", || {
        nodes.iter().zip(&dirs).all(|(h, d)| {
            let s = status(h, d.path());
            s.nodes.len() == 3
                && s.nodes
                    .iter()
                    .all(|p| p.status == api::NodeLiveness::Up && p.state == api::NodeState::Normal)
        })
    });
    let s = status(&nodes[0], dirs[0].path());
    let owns: f64 = s.nodes.iter().filter_map(|p| p.owns).sum();
    assert!((owns - 100.0).abs() < 1e-6, "ownership adds up to 100%: {owns}");
    assert!(
        s.nodes
            .iter()
            .all(|p| p.tokens == 4 && p.data_center == "datacenter1")
    );

    for (i, node) in nodes.iter().enumerate() {
        let mut client = common::Client::new(
            tokio::net::TcpStream::connect(node.native_address().expect("cql"))
                .await
                .expect("connect"),
            Version::V4,
        );
        client.startup(&[]).await;
        for table in ["system.peers", "system.peers_v2"] {
            let rows = client
                .rows(1, &format!("SELECT peer, host_id, tokens FROM {table}"))
                .await;
            assert_eq!(rows.rows.len(), 2, "{table} on node {}", i + 1);
        }
    }

    // With one user keyspace at RF 3 every node holds every range: effective ownership is 100% each.
    let mut client = common::Client::new(
        tokio::net::TcpStream::connect(nodes[0].native_address().expect("cql"))
            .await
            .expect("connect"),
        Version::V4,
    );
    client.startup(&[]).await;
    client
        .query(
            1,
            "CREATE KEYSPACE rf3 WITH replication = {'class': 'NetworkTopologyStrategy', 'datacenter1': 3}",
        )
        .await;
    let s = status(&nodes[0], dirs[0].path());
    assert!(s.effective_ownership);
    for p in &s.nodes {
        let owns = p.owns.expect("ownership known");
        assert!((owns - 100.0).abs() < 1e-6, "{} owns {owns}% at RF 3", p.address);
    }

    // A stopped node announces its shutdown and shows as Down on the others.
    nodes.pop().expect("node 3").shutdown().expect("clean shutdown");
    wait_until("node 3 down", || {
        status(&nodes[0], dirs[0].path())
            .nodes
            .iter()
            .any(|p| p.address == address(3) && p.status == api::NodeLiveness::Down)
    });
}
