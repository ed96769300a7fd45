//! Shared helpers for the write-path integration tests: an engine over MemoryEngine, statement
//! runners and a textual rendering of results for exact comparisons.

#![allow(dead_code)]

use std::sync::Arc;

use bytes::Bytes;
use mica_cql_protocol::{QueryParameters, QueryValues, Value};
use mica_query::{ClientState, LocalInfo, QueryEngine, QueryError, QueryResult};
use mica_storage::MemoryEngine;

pub fn local() -> LocalInfo {
    LocalInfo {
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
        password_auth: false,
        authorization: false,
    }
}

/// An engine over a fresh in-memory storage, with keyspace `ks` created and in use.
pub async fn setup() -> (Arc<QueryEngine>, Arc<MemoryEngine>, ClientState) {
    let storage = Arc::new(MemoryEngine::new());
    let (e, s) = setup_on(storage.clone()).await;
    (e, storage, s)
}

/// An engine over the given storage, with keyspace `ks` created and in use.
pub async fn setup_on(storage: Arc<dyn mica_storage::Engine>) -> (Arc<QueryEngine>, ClientState) {
    let e = QueryEngine::open(storage, local()).expect("the engine opens");
    let mut s = ClientState::default();
    ok(
        &e,
        &mut s,
        "CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
    )
    .await;
    ok(&e, &mut s, "USE ks").await;
    (e, s)
}

pub async fn run(e: &QueryEngine, s: &mut ClientState, q: &str) -> Result<QueryResult, QueryError> {
    e.query(s, q, &QueryParameters::default()).await
}

/// Runs a statement that must succeed.
pub async fn ok(e: &QueryEngine, s: &mut ClientState, q: &str) -> QueryResult {
    match run(e, s, q).await {
        Ok(r) => r,
        Err(err) => panic!("{q}: {err}"),
    }
}

/// Runs a statement that must fail with InvalidRequest, returning the message.
pub async fn invalid(e: &QueryEngine, s: &mut ClientState, q: &str) -> String {
    match run(e, s, q).await {
        Err(QueryError::Invalid(m)) => m,
        other => panic!("{q}: expected InvalidRequest, got {other:?}"),
    }
}

pub async fn run_with(
    e: &QueryEngine,
    s: &mut ClientState,
    q: &str,
    values: Vec<Value>,
) -> Result<QueryResult, QueryError> {
    let params = QueryParameters {
        values: QueryValues::Positional(values),
        ..QueryParameters::default()
    };
    e.query(s, q, &params).await
}

pub fn set(bytes: Vec<u8>) -> Value {
    Value::Set(Bytes::from(bytes))
}

pub fn int(v: i32) -> Value {
    set(v.to_be_bytes().to_vec())
}

pub fn text(v: &str) -> Value {
    set(v.as_bytes().to_vec())
}

/// Column names and rows of a result, values rendered as CQL literals (`null` for null).
pub fn show(r: &QueryResult) -> (Vec<String>, Vec<Vec<String>>) {
    let QueryResult::Rows { metadata, rows } = r else {
        panic!("expected rows, got {r:?}");
    };
    let columns = metadata.columns.clone().expect("metadata");
    let names = columns.iter().map(|c| c.name.clone()).collect();
    let rows = rows
        .iter()
        .map(|row| {
            row.iter()
                .zip(&columns)
                .map(|(v, c)| match v {
                    None => "null".to_string(),
                    Some(b) => mica_cql_types::to_cql_literal(
                        &mica_cql_types::deserialize(&c.typ, b).expect("a well-formed value"),
                    ),
                })
                .collect()
        })
        .collect();
    (names, rows)
}

/// The rows of a result, rendered.
pub fn rows(r: &QueryResult) -> Vec<Vec<String>> {
    show(r).1
}

/// Renders a list of literal rows for comparisons.
pub fn expect(rows: &[&[&str]]) -> Vec<Vec<String>> {
    rows.iter()
        .map(|r| r.iter().map(|s| s.to_string()).collect())
        .collect()
}

pub async fn select(e: &QueryEngine, s: &mut ClientState, q: &str) -> Vec<Vec<String>> {
    rows(&ok(e, s, q).await)
}
