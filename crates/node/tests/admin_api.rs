//! The node admin HTTP API over a real socket: bearer-token authentication, node facts, table statistics,
//! flush/compact with name validation, and stopdaemon.

mod common;

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};

use common::TestNode;
use mica_node_admin_api as api;

/// One HTTP/1.1 request with `Connection: close`; returns the status code and the body.
fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect to the admin API");
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(t) = token {
        request.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    let body = body.unwrap_or("");
    if !body.is_empty() {
        request.push_str("Content-Type: application/json\r\n");
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(request.as_bytes()).expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

fn admin(node: &TestNode) -> (SocketAddr, String) {
    let handle = node.handle.as_ref().expect("running");
    let addr = handle.admin_address().expect("admin API enabled");
    // By default the token lives in the first data directory (<config dir>/data/data, as Cassandra lays it out).
    let token = std::fs::read_to_string(node.dir.path().join("data/data/admin.token"))
        .expect("admin token file in the data directory");
    (addr, token.trim().to_owned())
}

#[test]
fn admin_api_requires_the_token_and_reports_the_node() {
    let node = TestNode::start("mica:\n  admin_port: 9180\n");
    let (addr, token) = admin(&node);
    assert_eq!(
        addr.ip(),
        node.addr.ip(),
        "the admin API follows listen_address by default"
    );

    let (status, body) = http(addr, "GET", api::INFO, None, None);
    assert_eq!(status, 401, "{body}");
    let problem: api::Problem = serde_json::from_str(&body).expect("problem document");
    assert!(problem.detail.contains("admin token"), "{}", problem.detail);
    assert_eq!(http(addr, "GET", api::INFO, Some("wrong"), None).0, 401);

    let (status, body) = http(addr, "GET", api::INFO, Some(&token), None);
    assert_eq!(status, 200, "{body}");
    let info: api::NodeInfo = serde_json::from_str(&body).expect("node info");
    let local = node.handle.as_ref().expect("running").local_info();
    assert_eq!(info.host_id, local.host_id);
    assert_eq!(info.tokens.len(), 4);
    assert_eq!(info.cluster_name, "Mica Test");
    assert!(info.native_transport_active && info.memory_total_kb > 0);

    let (status, body) = http(addr, "GET", api::STATUS, Some(&token), None);
    assert_eq!(status, 200, "{body}");
    let status: api::ClusterStatus = serde_json::from_str(&body).expect("status");
    assert_eq!(status.nodes.len(), 1);
    assert_eq!(status.nodes[0].state, api::NodeState::Normal);
    assert_eq!(status.nodes[0].host_id, local.host_id);

    let (code, body) = http(addr, "GET", api::DESCRIBE_CLUSTER, Some(&token), None);
    assert_eq!(code, 200, "{body}");
    let cluster: api::DescribeCluster = serde_json::from_str(&body).expect("describecluster");
    assert_eq!(cluster.schema_versions.len(), 1);
    assert_eq!(cluster.partitioner, "org.apache.cassandra.dht.Murmur3Partitioner");

    let (code, body) = http(addr, "GET", api::RING, Some(&token), None);
    assert_eq!(code, 200, "{body}");
    let ring: Vec<api::RingToken> = serde_json::from_str(&body).expect("ring");
    let mut tokens: Vec<i64> = ring.iter().map(|t| t.token).collect();
    assert_eq!(ring.len(), 4, "{body}");
    assert!(
        tokens.windows(2).all(|w| w[0] < w[1]),
        "ring in token order: {tokens:?}"
    );
    tokens.sort_unstable();
    let mut own = local.tokens.clone();
    own.sort_unstable();
    assert_eq!(tokens, own);

    let (code, body) = http(
        addr,
        "GET",
        "/v1/tablestats?keyspace=system_auth",
        Some(&token),
        None,
    );
    assert_eq!(code, 200, "{body}");
    let stats: Vec<api::TableStats> = serde_json::from_str(&body).expect("tablestats");
    assert!(stats.iter().any(|t| t.table == "roles"), "{body}");
    assert!(stats.iter().all(|t| t.keyspace == "system_auth"));

    let (code, body) = http(addr, "GET", "/v1/tablestats?keyspace=nope", Some(&token), None);
    assert_eq!(code, 404, "{body}");
    assert!(body.contains("Keyspace nope does not exist"), "{body}");
    assert_eq!(http(addr, "GET", "/v1/nothing", Some(&token), None).0, 404);
}

#[test]
fn flush_compact_validate_names_and_stopdaemon_stops() {
    let node = TestNode::start("mica:\n  admin_port: 9180\n");
    let (addr, token) = admin(&node);
    assert_eq!(http(addr, "POST", api::FLUSH, Some(&token), None).0, 204);
    let body = r#"{"keyspace":"system_auth","tables":["roles"]}"#;
    assert_eq!(http(addr, "POST", api::COMPACT, Some(&token), Some(body)).0, 204);
    let (code, body) = http(
        addr,
        "POST",
        api::COMPACT,
        Some(&token),
        Some(r#"{"keyspace":"system_auth","tables":["x"]}"#),
    );
    assert_eq!(code, 404, "{body}");
    assert!(body.contains("Table system_auth.x does not exist"), "{body}");

    assert_eq!(http(addr, "POST", api::STOP_DAEMON, Some(&token), None).0, 202);
    // The stop signal is what `wait()` waits for; it returns once the node has shut down.
    let mut node = node;
    let handle = node.handle.take().expect("running");
    handle.wait().expect("node stops cleanly after stopdaemon");
}
