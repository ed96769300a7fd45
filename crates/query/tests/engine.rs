//! Drives the query engine over the in-memory storage engine: DDL, writes, reads, paging and auth.

use std::sync::Arc;

use bytes::Bytes;
use mica_cql_protocol::{QueryParameters, QueryValues, Value};
use mica_query::{ClientState, LocalInfo, QueryEngine, QueryError, QueryResult};
use mica_storage::MemoryEngine;

fn engine() -> Arc<QueryEngine> {
    let local = LocalInfo {
        cluster_name: "Test Cluster".into(),
        data_center: "dc1".into(),
        rack: "rack1".into(),
        host_id: uuid::Uuid::new_v4(),
        listen_address: "127.0.0.1".parse().expect("an address"),
        broadcast_address: "127.0.0.1".parse().expect("an address"),
        rpc_address: "127.0.0.1".parse().expect("an address"),
        native_port: 9042,
        storage_port: 7000,
        release_version: "4.1.5".into(),
        tokens: vec![1, 2, 3],
        password_auth: true,
        authorization: false,
    };
    QueryEngine::open(Arc::new(MemoryEngine::new()), local).expect("the engine opens")
}

async fn run(e: &QueryEngine, s: &mut ClientState, q: &str) -> Result<QueryResult, QueryError> {
    e.query(s, q, &QueryParameters::default()).await
}

fn rows(r: QueryResult) -> Vec<Vec<Option<Bytes>>> {
    match r {
        QueryResult::Rows { rows, .. } => rows,
        other => panic!("expected rows, got {other:?}"),
    }
}

fn int(v: i32) -> Option<Bytes> {
    Some(Bytes::from(v.to_be_bytes().to_vec()))
}

#[tokio::test]
async fn ddl_writes_and_reads() {
    let e = engine();
    let mut s = ClientState::default();
    run(
        &e,
        &mut s,
        "CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
    )
    .await
    .unwrap();
    run(&e, &mut s, "USE ks").await.unwrap();
    run(
        &e,
        &mut s,
        "CREATE TABLE t (k int, c int, v int, PRIMARY KEY (k, c)) WITH CLUSTERING ORDER BY (c DESC)",
    )
    .await
    .unwrap();
    for c in 0..5 {
        run(
            &e,
            &mut s,
            &format!("INSERT INTO t (k, c, v) VALUES (1, {c}, {})", c * 10),
        )
        .await
        .unwrap();
    }
    let got = rows(run(&e, &mut s, "SELECT c, v FROM t WHERE k = 1").await.unwrap());
    assert_eq!(
        got.iter().map(|r| r[0].clone()).collect::<Vec<_>>(),
        (0..5).rev().map(int).collect::<Vec<_>>()
    );
    let got = rows(
        run(&e, &mut s, "SELECT c FROM t WHERE k = 1 ORDER BY c ASC LIMIT 2")
            .await
            .unwrap(),
    );
    assert_eq!(got, vec![vec![int(0)], vec![int(1)]]);
    run(&e, &mut s, "DELETE FROM t WHERE k = 1 AND c = 3")
        .await
        .unwrap();
    run(
        &e,
        &mut s,
        "UPDATE t USING TTL 100 SET v = 7 WHERE k = 1 AND c = 0",
    )
    .await
    .unwrap();
    let got = rows(
        run(&e, &mut s, "SELECT v, ttl(v) FROM t WHERE k = 1 AND c = 0")
            .await
            .unwrap(),
    );
    assert_eq!(got[0][0], int(7));
    assert!(got[0][1].is_some());
    let got = rows(run(&e, &mut s, "SELECT count(*) FROM t").await.unwrap());
    assert_eq!(got[0][0], Some(Bytes::from(4i64.to_be_bytes().to_vec())));
    let err = run(&e, &mut s, "CREATE TABLE t (k int PRIMARY KEY)")
        .await
        .unwrap_err();
    assert!(matches!(err, QueryError::AlreadyExists { .. }), "{err:?}");
    let err = run(&e, &mut s, "SELECT * FROM nope").await.unwrap_err();
    assert_eq!(err.to_string(), "unconfigured table nope");
    let err = run(&e, &mut s, "SELEKT 1").await.unwrap_err();
    assert!(matches!(err, QueryError::Syntax(_)));
}

#[tokio::test]
async fn paging_walks_every_row_once() {
    let e = engine();
    let mut s = ClientState::default();
    run(
        &e,
        &mut s,
        "CREATE KEYSPACE p WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
    )
    .await
    .unwrap();
    run(&e, &mut s, "CREATE TABLE p.t (k int, c int, PRIMARY KEY (k, c))")
        .await
        .unwrap();
    for k in 0..7 {
        for c in 0..13 {
            run(&e, &mut s, &format!("INSERT INTO p.t (k, c) VALUES ({k}, {c})"))
                .await
                .unwrap();
        }
    }
    let mut seen = Vec::new();
    let mut paging = None;
    loop {
        let params = QueryParameters {
            page_size: Some(10),
            paging_state: paging.clone(),
            ..QueryParameters::default()
        };
        let QueryResult::Rows { metadata, rows } =
            e.query(&mut s, "SELECT k, c FROM p.t", &params).await.unwrap()
        else {
            panic!("rows expected")
        };
        assert!(rows.len() <= 10);
        seen.extend(rows);
        match metadata.paging_state {
            Some(p) => paging = Some(p),
            None => break,
        }
    }
    assert_eq!(seen.len(), 91);
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 91);
}

#[tokio::test]
async fn prepared_statements_and_password_auth() {
    let e = engine();
    e.authenticate("cassandra", "cassandra").unwrap();
    assert!(matches!(
        e.authenticate("cassandra", "wrong"),
        Err(QueryError::BadCredentials(_))
    ));
    let mut s = ClientState::default();
    run(&e, &mut s, "ALTER ROLE cassandra WITH PASSWORD = 'n3w'")
        .await
        .unwrap();
    e.authenticate("cassandra", "n3w").unwrap();

    run(
        &e,
        &mut s,
        "CREATE KEYSPACE q WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
    )
    .await
    .unwrap();
    run(&e, &mut s, "CREATE TABLE q.t (k text PRIMARY KEY, v list<int>)")
        .await
        .unwrap();
    let p = e
        .prepare(&s, "INSERT INTO q.t (k, v) VALUES (?, ?)", None)
        .unwrap();
    assert_eq!(p.metadata.pk_indexes, vec![0]);
    let list = [0, 0, 0, 2, 0, 0, 0, 4, 0, 0, 0, 5, 0, 0, 0, 4, 0, 0, 0, 6];
    let params = QueryParameters {
        values: QueryValues::Positional(vec![
            Value::Set(Bytes::from_static(b"a")),
            Value::Set(Bytes::copy_from_slice(&list)),
        ]),
        ..QueryParameters::default()
    };
    e.execute(&mut s, &p.id, &params).await.unwrap();
    let got = rows(run(&e, &mut s, "SELECT v FROM q.t WHERE k = 'a'").await.unwrap());
    assert_eq!(got[0][0].as_deref(), Some(&list[..]));
    let err = e.execute(&mut s, b"nope", &params).await.unwrap_err();
    assert!(matches!(err, QueryError::Unprepared(_)));
}
