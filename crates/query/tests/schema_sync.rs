//! Schema merge between engines (as two nodes do through their schema pulls): the newer keyspace
//! definition wins, drops travel as tombstones, data written through a merged table is readable,
//! schema change events fire, and equal schemas get equal versions.

mod common;

use std::sync::{Arc, Mutex};

use common::{ok, setup};
use mica_cql_protocol::{SchemaChange, SchemaChangeTarget, SchemaChangeType};
use mica_query::{ClientState, QueryEngine, QueryResult};
use mica_storage::MemoryEngine;

fn fresh() -> Arc<QueryEngine> {
    QueryEngine::open(Arc::new(MemoryEngine::new()), common::local()).expect("the engine opens")
}

/// Pulls `from`'s schema into `into`, as a node does when versions differ.
fn pull(into: &QueryEngine, from: &QueryEngine) -> Vec<SchemaChange> {
    into.apply_remote_schema(&from.schema_payload().expect("payload"))
        .expect("merge")
}

fn has_table(e: &QueryEngine, ks: &str, t: &str) -> bool {
    e.schema().keyspace(ks).is_some_and(|k| k.tables.contains_key(t))
}

#[tokio::test]
async fn keyspaces_merge_by_timestamp_and_versions_converge() {
    let (a, _, mut sa) = setup().await;
    ok(&a, &mut sa, "CREATE TABLE t (k int PRIMARY KEY, v text)").await;
    let b = fresh();
    assert_ne!(a.schema().version, b.schema().version);

    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    b.on_schema_change(Box::new(move |c| seen.lock().expect("lock").push(c.clone())));
    let changes = pull(&b, &a);
    assert!(has_table(&b, "ks", "t"));
    assert_eq!(a.schema().version, b.schema().version);
    assert_eq!(events.lock().expect("lock").len(), changes.len());
    assert!(changes.contains(&SchemaChange {
        change_type: SchemaChangeType::Created,
        target: SchemaChangeTarget::Table {
            keyspace: "ks".into(),
            name: "t".into()
        }
    }));
    // The merged table has storage: writes and reads work on the other node.
    let mut sb = ClientState::default();
    ok(&b, &mut sb, "INSERT INTO ks.t (k, v) VALUES (1, 'x')").await;
    let QueryResult::Rows { rows, .. } = ok(&b, &mut sb, "SELECT v FROM ks.t WHERE k = 1").await else {
        panic!("rows expected");
    };
    assert_eq!(rows.len(), 1);
    // Pulling an identical schema changes nothing.
    assert!(pull(&a, &b).is_empty());

    // A later change on b wins over a's older definition.
    ok(&b, &mut sb, "ALTER TABLE ks.t ADD w int").await;
    assert_ne!(a.schema().version, b.schema().version);
    assert!(pull(&b, &a).is_empty(), "the older definition loses");
    let changes = pull(&a, &b);
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert!(
        a.schema()
            .require_table("ks", "t")
            .expect("t")
            .column("w")
            .is_some()
    );
    assert_eq!(a.schema().version, b.schema().version);

    // A drop travels as a tombstone and wins over the older definition.
    ok(&a, &mut sa, "DROP KEYSPACE ks").await;
    assert!(pull(&a, &b).is_empty(), "the tombstone is newer");
    let changes = pull(&b, &a);
    assert_eq!(
        changes,
        vec![SchemaChange {
            change_type: SchemaChangeType::Dropped,
            target: SchemaChangeTarget::Keyspace("ks".into())
        }]
    );
    assert!(b.schema().keyspace("ks").is_none());
    assert_eq!(a.schema().version, b.schema().version);
    // A third node that never saw the keyspace learns only the tombstone.
    let c = fresh();
    assert!(pull(&c, &a).is_empty());
    assert_eq!(c.schema().version, a.schema().version);
}

#[tokio::test]
async fn concurrent_definitions_pick_the_same_winner_everywhere() {
    let a = fresh();
    let b = fresh();
    let (mut sa, mut sb) = (ClientState::default(), ClientState::default());
    ok(
        &a,
        &mut sa,
        "CREATE KEYSPACE x WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
    )
    .await;
    ok(
        &b,
        &mut sb,
        "CREATE KEYSPACE x WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 2}",
    )
    .await;
    pull(&a, &b);
    pull(&b, &a);
    assert_eq!(a.schema().version, b.schema().version);
    assert_eq!(
        a.schema().keyspace("x").expect("x").replication,
        b.schema().keyspace("x").expect("x").replication
    );
}

#[test]
fn a_payload_in_an_unknown_format_is_refused() {
    let e = fresh();
    assert!(e.apply_remote_schema(b"not json").is_err());
    assert!(
        e.apply_remote_schema(br#"{"format": 99, "keyspaces": []}"#)
            .is_err()
    );
}
