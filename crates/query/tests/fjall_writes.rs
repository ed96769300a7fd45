//! The write features over the on-disk fjall engine: static-row LWTs, read-before-write list
//! operations, UDT fields and an index that survives reopening the engine.

mod common;

use std::sync::Arc;

use common::*;
use mica_query::{ClientState, QueryEngine};
use mica_storage::{EngineConfig, FjallEngine};

fn open(dir: &std::path::Path) -> Arc<dyn mica_storage::Engine> {
    Arc::new(FjallEngine::open(EngineConfig::new(dir)).expect("fjall opens"))
}

#[tokio::test]
async fn writes_and_indexes_on_fjall() {
    let dir = tempfile::tempdir().expect("a temp dir");
    {
        let (e, mut s) = setup_on(open(dir.path())).await;
        ok(&e, &mut s, "CREATE TYPE addr (street text, zip int)").await;
        ok(
            &e,
            &mut s,
            "CREATE TABLE t (k int, c int, s int static, v text, l list<int>, u addr, PRIMARY KEY (k, c))",
        )
        .await;
        ok(&e, &mut s, "CREATE INDEX ON t (v)").await;
        // Static-row conditions.
        assert_eq!(
            rows(&ok(&e, &mut s, "UPDATE t SET s = 1 WHERE k = 1 IF s = null").await),
            expect(&[&["true"]])
        );
        assert_eq!(
            rows(&ok(&e, &mut s, "UPDATE t SET s = 2 WHERE k = 1 IF s = 5").await),
            expect(&[&["false", "1"]])
        );
        // Read-before-write list operations and UDT fields.
        ok(
            &e,
            &mut s,
            "INSERT INTO t (k, c, v, l, u) VALUES (1, 1, 'a', [1, 2, 3], {street: 'x', zip: 1})",
        )
        .await;
        ok(
            &e,
            &mut s,
            "UPDATE t SET l[2] = 30, l = [0] + l, u.zip = 2 WHERE k = 1 AND c = 1",
        )
        .await;
        ok(&e, &mut s, "DELETE l[1] FROM t WHERE k = 1 AND c = 1").await;
        assert_eq!(
            select(&e, &mut s, "SELECT s, l, u FROM t WHERE k = 1").await,
            expect(&[&["1", "[0, 2, 30]", "{street: 'x', zip: 2}"]])
        );
        let r = ok(
            &e,
            &mut s,
            "INSERT INTO t (k, c, v) VALUES (1, 1, 'b') IF NOT EXISTS",
        )
        .await;
        assert_eq!(rows(&r)[0][..4].to_vec(), ["false", "1", "1", "null"]);
        ok(&e, &mut s, "INSERT INTO t (k, c, v) VALUES (2, 1, 'a')").await;
        assert_eq!(count(&e, &mut s, "SELECT k FROM t WHERE v = 'a'").await, 2);
    }
    // The index and its entries survive reopening the storage.
    let e = QueryEngine::open(open(dir.path()), local()).expect("reopens");
    let mut s = ClientState {
        keyspace: Some("ks".into()),
        user: None,
    };
    assert_eq!(count(&e, &mut s, "SELECT k FROM t WHERE v = 'a'").await, 2);
    ok(&e, &mut s, "UPDATE t SET v = 'z' WHERE k = 2 AND c = 1").await;
    assert_eq!(
        select(&e, &mut s, "SELECT k FROM t WHERE v = 'a'").await,
        expect(&[&["1"]])
    );
}

async fn count(e: &QueryEngine, s: &mut ClientState, q: &str) -> usize {
    select(e, s, q).await.len()
}
