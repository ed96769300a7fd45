//! The CQL server against raw protocol traffic: handshakes in every framing mode, malformed input,
//! authentication, events, concurrency and restarts.
#![allow(clippy::unwrap_used)] // Test helpers outside #[test] fns; a panic is the failure report.

mod common;

use bytes::{BufMut, Bytes, BytesMut};
use common::{TestNode, single_text};
use mica_cql_protocol::response::SchemaChangeType;
use mica_cql_protocol::{
    ErrorKind, Event, EventType, QueryParameters, Request, Response, ResultBody, SchemaChangeTarget,
    StringMap, Version,
};

const UNSUPPORTED_66: &str =
    "Invalid or unsupported protocol version (66); supported versions are (3/v3, 4/v4, 5/v5)";

fn expect_error(response: &Response, kind: &ErrorKind, text: &str) {
    match response {
        Response::Error(e) => {
            assert_eq!(&e.kind, kind, "{}", e.message);
            assert!(
                e.message.contains(text),
                "'{}' does not contain '{text}'",
                e.message
            );
        }
        other => panic!("expected an error containing '{text}', got {other:?}"),
    }
}

/// A v4 header with arbitrary opcode and body.
fn raw_envelope(version: u8, stream: i16, opcode: u8, body: &[u8]) -> Vec<u8> {
    let mut buf = BytesMut::new();
    buf.put_u8(version);
    buf.put_u8(0);
    buf.put_i16(stream);
    buf.put_u8(opcode);
    buf.put_u32(u32::try_from(body.len()).unwrap());
    buf.put_slice(body);
    buf.to_vec()
}

#[tokio::test]
async fn options_startup_and_system_local_on_v4() {
    let node = TestNode::start("");
    let mut client = node.connect(Version::V4).await;
    let Response::Supported(supported) = client.request(0, &Request::Options).await else {
        panic!("expected SUPPORTED");
    };
    assert_eq!(supported["CQL_VERSION"], vec!["3.4.6"]);
    assert_eq!(supported["COMPRESSION"], vec!["lz4", "snappy"]);
    assert_eq!(supported["PROTOCOL_VERSIONS"], vec!["3/v3", "4/v4", "5/v5"]);

    let response = client
        .request(
            1,
            &Request::Query {
                query: "SELECT release_version FROM system.local".into(),
                params: QueryParameters::default(),
            },
        )
        .await;
    expect_error(
        &response,
        &ErrorKind::Protocol,
        "Unexpected message QUERY, expecting STARTUP or OPTIONS",
    );

    assert_eq!(
        client
            .startup(&[("DRIVER_NAME", "test"), ("CLIENT_ID", "x")])
            .await,
        Response::Ready
    );
    let rows = client.rows(5, "SELECT release_version FROM system.local").await;
    assert_eq!(single_text(&rows), "4.1.5");
    // OPTIONS works as a heartbeat after the handshake, and STARTUP cannot be repeated.
    assert!(matches!(
        client.request(6, &Request::Options).await,
        Response::Supported(_)
    ));
    let again = client.startup(&[]).await;
    expect_error(&again, &ErrorKind::Protocol, "already initialized");
}

#[tokio::test]
async fn v3_works() {
    let node = TestNode::start("");
    let mut client = node.connect(Version::V3).await;
    assert_eq!(client.startup(&[]).await, Response::Ready);
    let rows = client.rows(2, "SELECT cluster_name FROM system.local").await;
    assert_eq!(single_text(&rows), "Mica Test");
}

#[tokio::test]
async fn v5_switches_to_segments_after_ready() {
    let node = TestNode::start("");
    for compression in [None, Some("lz4")] {
        let mut client = node.connect(Version::V5).await;
        let extra: Vec<_> = compression.iter().map(|c| ("COMPRESSION", *c)).collect();
        assert_eq!(client.startup(&extra).await, Response::Ready);
        let rows = client.rows(3, "SELECT release_version FROM system.local").await;
        assert_eq!(single_text(&rows), "4.1.5");
        assert!(matches!(
            client.request(4, &Request::Options).await,
            Response::Supported(_)
        ));
    }
}

#[tokio::test]
async fn v4_compression_lz4_and_snappy() {
    let node = TestNode::start("");
    for compression in ["lz4", "snappy"] {
        let mut client = node.connect(Version::V4).await;
        assert_eq!(
            client.startup(&[("COMPRESSION", compression)]).await,
            Response::Ready
        );
        let rows = client
            .rows(3, "SELECT cluster_name, release_version FROM system.local")
            .await;
        assert_eq!(single_text(&rows), "Mica Test");
    }
    let mut client = node.connect(Version::V4).await;
    let response = client.startup(&[("COMPRESSION", "zstd")]).await;
    expect_error(
        &response,
        &ErrorKind::Protocol,
        "Unknown compression algorithm: zstd",
    );
}

#[tokio::test]
async fn unsupported_version_gets_exact_error_then_close() {
    let node = TestNode::start("");
    let mut client = node.connect(Version::V4).await;
    client.send_raw(&raw_envelope(0x42, 7, 0x05, &[])).await;
    let (header, response) = client.recv().await.expect("an error before closing");
    assert_eq!(header.stream, 7);
    assert_eq!(header.version, Version::V5);
    expect_error(&response, &ErrorKind::Protocol, UNSUPPORTED_66);
    let Response::Error(e) = response else {
        unreachable!()
    };
    assert_eq!(e.message, UNSUPPORTED_66);
    assert!(client.closed().await);
}

#[tokio::test]
async fn garbage_closes_only_its_own_connection() {
    let node = TestNode::start("");
    let mut healthy = node.connect(Version::V4).await;
    assert_eq!(healthy.startup(&[]).await, Response::Ready);

    let mut bad = node.connect(Version::V4).await;
    bad.send_raw(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let (_, response) = bad.recv().await.expect("an error before closing");
    expect_error(
        &response,
        &ErrorKind::Protocol,
        "Invalid or unsupported protocol version (71)",
    );
    assert!(bad.closed().await);

    // A header cut short followed by a half-close: the server drops that connection only.
    let mut truncated = node.connect(Version::V4).await;
    truncated.send_raw(&[0x04, 0x00, 0x00]).await;
    tokio::io::AsyncWriteExt::shutdown(&mut truncated.io)
        .await
        .unwrap();
    assert!(truncated.closed().await);

    let rows = healthy.rows(9, "SELECT release_version FROM system.local").await;
    assert_eq!(single_text(&rows), "4.1.5");
}

#[tokio::test]
async fn malformed_messages_get_errors_and_the_connection_goes_on() {
    let node = TestNode::start("native_transport_max_frame_size: 1KiB\n");
    let mut client = node.connect(Version::V4).await;
    let mut other = node.connect(Version::V4).await;
    assert_eq!(client.startup(&[]).await, Response::Ready);
    assert_eq!(other.startup(&[]).await, Response::Ready);

    // A QUERY body whose long string claims more bytes than the body holds.
    let mut body = BytesMut::new();
    body.put_i32(1000);
    body.put_slice(b"SELECT");
    client.send_raw(&raw_envelope(0x04, 11, 0x07, &body)).await;
    let (header, response) = client.recv().await.unwrap();
    assert_eq!(header.stream, 11);
    expect_error(&response, &ErrorKind::Protocol, "Not enough bytes");

    // An opcode the protocol does not define.
    client.send_raw(&raw_envelope(0x04, 12, 0x04, b"abc")).await;
    let (header, response) = client.recv().await.unwrap();
    assert_eq!(header.stream, 12);
    expect_error(&response, &ErrorKind::Protocol, "Unknown opcode 4");

    // A body above native_transport_max_frame_size.
    let query = format!(
        "SELECT release_version FROM system.local WHERE key = '{}'",
        "x".repeat(4096)
    );
    let response = client.query(13, &query).await;
    expect_error(&response, &ErrorKind::Protocol, "Request is too big");

    // A response opcode sent to the server.
    client
        .send_raw(&raw_envelope(0x04, 14, 0x08, &[0, 0, 0, 1]))
        .await;
    let (_, response) = client.recv().await.unwrap();
    expect_error(&response, &ErrorKind::Protocol, "Unexpected");

    // A different version on an established connection.
    client.send_raw(&raw_envelope(0x03, 15, 0x05, &[])).await;
    let (header, response) = client.recv().await.unwrap();
    assert_eq!(header.stream, 15);
    expect_error(&response, &ErrorKind::Protocol, "Invalid message version");

    for c in [&mut client, &mut other] {
        let rows = c.rows(16, "SELECT release_version FROM system.local").await;
        assert_eq!(single_text(&rows), "4.1.5");
    }
}

#[tokio::test]
async fn query_errors_map_to_cassandra_codes() {
    let node = TestNode::start("");
    let mut client = node.connect(Version::V4).await;
    client.startup(&[]).await;
    let response = client.query(2, "SELECT * FROM system.nope").await;
    expect_error(&response, &ErrorKind::Invalid, "unconfigured table");
    let response = client.query(3, "SELEKT * FROM system.local").await;
    assert!(
        matches!(response, Response::Error(ref e) if e.kind == ErrorKind::Syntax),
        "{response:?}"
    );
    let execute = Request::Execute {
        id: Bytes::from_static(b"\x01\x02"),
        result_metadata_id: None,
        params: QueryParameters::default(),
    };
    let response = client.request(4, &execute).await;
    assert!(matches!(response, Response::Error(ref e) if matches!(e.kind, ErrorKind::Unprepared { .. })));
}

#[tokio::test]
async fn password_authentication() {
    let node = TestNode::start("authenticator: PasswordAuthenticator\n");
    for version in [Version::V4, Version::V5] {
        let mut client = node.connect(version).await;
        assert_eq!(
            client.startup(&[]).await,
            Response::Authenticate("org.apache.cassandra.auth.PasswordAuthenticator".into())
        );
        let response = client.query(3, "SELECT release_version FROM system.local").await;
        expect_error(&response, &ErrorKind::Protocol, "expecting SASL_RESPONSE");

        let response = client.login("cassandra", "wrong").await;
        expect_error(
            &response,
            &ErrorKind::BadCredentials,
            "Provided username cassandra and/or password are incorrect",
        );
        let response = client.login("nobody", "cassandra").await;
        expect_error(&response, &ErrorKind::BadCredentials, "Provided username nobody");

        assert!(matches!(
            client.login("cassandra", "cassandra").await,
            Response::AuthSuccess(_)
        ));
        let rows = client.rows(4, "SELECT release_version FROM system.local").await;
        assert_eq!(single_text(&rows), "4.1.5");
    }
}

#[tokio::test]
async fn schema_change_events_reach_registered_connections() {
    let node = TestNode::start("");
    let mut listener = node.connect(Version::V4).await;
    listener.startup(&[]).await;
    let response = listener
        .request(
            2,
            &Request::Register(vec![EventType::SchemaChange, EventType::StatusChange]),
        )
        .await;
    assert_eq!(response, Response::Ready);

    let mut client = node.connect(Version::V5).await;
    client.startup(&[]).await;
    let response = client
        .query(
            3,
            "CREATE KEYSPACE ev WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
        )
        .await;
    let Response::Result(ResultBody::SchemaChange(change)) = response else {
        panic!("expected SCHEMA_CHANGE, got {response:?}");
    };
    assert_eq!(change.target, SchemaChangeTarget::Keyspace("ev".into()));

    let (header, event) = listener.recv().await.expect("an event");
    assert_eq!(header.stream, -1);
    let Response::Event(Event::SchemaChange(event)) = event else {
        panic!("expected a schema event, got {event:?}");
    };
    assert_eq!(event.change_type, SchemaChangeType::Created);
    assert_eq!(event.target, SchemaChangeTarget::Keyspace("ev".into()));
}

#[tokio::test]
async fn many_streams_in_flight_and_use_keyspace() {
    let node = TestNode::start("");
    let mut client = node.connect(Version::V4).await;
    client.startup(&[]).await;
    client
        .query(
            2,
            "CREATE KEYSPACE m WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
        )
        .await;
    assert_eq!(
        client.query(3, "USE m").await,
        Response::Result(ResultBody::SetKeyspace("m".into()))
    );
    client
        .query(4, "CREATE TABLE t (k int PRIMARY KEY, v text)")
        .await;

    // Pipeline many writes without waiting, then collect every response by stream id.
    const STREAMS: i16 = 200;
    for i in 0..STREAMS {
        let request = Request::Query {
            query: format!("INSERT INTO t (k, v) VALUES ({i}, 'v{i}')"),
            params: QueryParameters::default(),
        };
        client.send(100 + i, &request).await;
    }
    let mut seen = Vec::new();
    for _ in 0..STREAMS {
        let (header, response) = client.recv().await.expect("a response");
        assert_eq!(response, Response::Result(ResultBody::Void));
        seen.push(header.stream);
    }
    seen.sort_unstable();
    assert_eq!(seen, (100..100 + STREAMS).collect::<Vec<_>>());
    let rows = client.rows(5, "SELECT count(*) FROM t").await;
    assert_eq!(
        rows.rows[0][0].as_deref(),
        Some(&i64::from(STREAMS).to_be_bytes()[..])
    );
}

#[tokio::test]
async fn identity_and_data_survive_a_restart() {
    let mut node = TestNode::start("commitlog_sync: batch\n");
    let first = node.handle.as_ref().unwrap().local_info().clone();
    assert_eq!(first.tokens.len(), 4);
    {
        let mut client = node.connect(Version::V4).await;
        client.startup(&[]).await;
        client
            .query(
                2,
                "CREATE KEYSPACE r WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
            )
            .await;
        client
            .query(3, "CREATE TABLE r.t (k int PRIMARY KEY, v text)")
            .await;
        client.query(4, "INSERT INTO r.t (k, v) VALUES (1, 'kept')").await;
    }
    node.restart();
    let again = node.handle.as_ref().unwrap().local_info().clone();
    assert_eq!(again.host_id, first.host_id);
    assert_eq!(again.tokens, first.tokens);
    let mut client = node.connect(Version::V4).await;
    client.startup(&[]).await;
    let rows = client.rows(2, "SELECT v FROM r.t WHERE k = 1").await;
    assert_eq!(single_text(&rows), "kept");
    node.shutdown();
    assert!(tokio::net::TcpStream::connect(node.addr).await.is_err());
}

#[tokio::test]
async fn startup_requires_a_cql_version() {
    let node = TestNode::start("");
    let mut client = node.connect(Version::V4).await;
    let response = client.request(1, &Request::Startup(StringMap::new())).await;
    expect_error(&response, &ErrorKind::Protocol, "Missing value CQL_VERSION");
}

#[tokio::test]
async fn prepared_statements_honour_skip_metadata_and_tracing_is_tolerated() {
    let node = TestNode::start("");
    let mut client = node.connect(Version::V5).await;
    client.startup(&[]).await;
    let prepare = Request::Prepare {
        query: "SELECT release_version FROM system.local WHERE key = ?".into(),
        keyspace: None,
    };
    let Response::Result(ResultBody::Prepared(prepared)) = client.request(2, &prepare).await else {
        panic!("expected PREPARED");
    };
    assert_eq!(prepared.metadata.columns.len(), 1);
    for skip_metadata in [false, true] {
        let execute = Request::Execute {
            id: prepared.id.clone(),
            result_metadata_id: prepared.result_metadata_id.clone(),
            params: QueryParameters {
                values: mica_cql_protocol::QueryValues::Positional(vec![mica_cql_protocol::Value::Set(
                    Bytes::from_static(b"local"),
                )]),
                skip_metadata,
                ..QueryParameters::default()
            },
        };
        let Response::Result(ResultBody::Rows(rows)) = client.request(3, &execute).await else {
            panic!("expected rows");
        };
        assert_eq!(rows.metadata.columns.is_none(), skip_metadata);
        assert_eq!(single_text(&rows), "4.1.5");
    }

    // A traced request with a custom payload is answered normally (no tracing session yet).
    let query = Request::Query {
        query: "SELECT release_version FROM system.local".into(),
        params: QueryParameters::default(),
    };
    let mut envelope = BytesMut::new();
    let payload = [("k".to_owned(), Some(Bytes::from_static(b"v")))].into();
    query
        .encode_envelope(&mut envelope, Version::V4, 4, true, Some(&payload))
        .unwrap();
    let mut v4 = node.connect(Version::V4).await;
    v4.startup(&[]).await;
    v4.send_raw(&envelope).await;
    let (header, response) = v4.recv().await.unwrap();
    assert_eq!(header.stream, 4);
    assert!(
        matches!(response, Response::Result(ResultBody::Rows(_))),
        "{response:?}"
    );
}

#[tokio::test]
async fn shutdown_closes_idle_connections_promptly() {
    let mut node = TestNode::start("");
    let mut client = node.connect(Version::V4).await;
    client.startup(&[]).await;
    let started = std::time::Instant::now();
    node.shutdown();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(client.closed().await);
}
