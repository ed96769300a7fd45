//! Lightweight transactions on one node: IF NOT EXISTS / IF EXISTS / IF conditions, conditional
//! batches, their `[applied]` results and errors, and linearizability under concurrency.

mod common;

use std::sync::Arc;

use common::*;
use mica_cql_protocol::{Consistency, QueryParameters, QueryValues};
use mica_query::{ClientState, QueryResult};

async fn table(e: &mica_query::QueryEngine, s: &mut ClientState) {
    ok(
        e,
        s,
        "CREATE TABLE t (k int, c int, v text, n int, s int static, PRIMARY KEY (k, c))",
    )
    .await;
}

#[tokio::test]
async fn insert_if_not_exists_reports_the_existing_row() {
    let (e, _, mut s) = setup().await;
    table(&e, &mut s).await;
    let r = ok(
        &e,
        &mut s,
        "INSERT INTO t (k, c, v, n) VALUES (1, 1, 'a', 10) IF NOT EXISTS",
    )
    .await;
    assert_eq!(show(&r), (vec!["[applied]".to_string()], expect(&[&["true"]])));
    let QueryResult::Rows { metadata, .. } = &r else {
        unreachable!()
    };
    let spec = &metadata.columns.as_ref().expect("metadata")[0];
    assert_eq!((spec.keyspace.as_str(), spec.table.as_str()), ("ks", "t"));

    let r = ok(
        &e,
        &mut s,
        "INSERT INTO t (k, c, v, n) VALUES (1, 1, 'b', 20) IF NOT EXISTS",
    )
    .await;
    assert_eq!(
        show(&r),
        (
            ["[applied]", "k", "c", "s", "n", "v"].map(String::from).to_vec(),
            expect(&[&["false", "1", "1", "null", "10", "'a'"]])
        )
    );
    // The losing insert wrote nothing.
    assert_eq!(
        select(&e, &mut s, "SELECT v, n FROM t WHERE k = 1").await,
        expect(&[&["'a'", "10"]])
    );
    // A static value written with the row is reported with it.
    let r = ok(
        &e,
        &mut s,
        "INSERT INTO t (k, c, v, s) VALUES (2, 1, 'x', 7) IF NOT EXISTS",
    )
    .await;
    assert_eq!(rows(&r), expect(&[&["true"]]));
    let r = ok(
        &e,
        &mut s,
        "INSERT INTO t (k, c, s) VALUES (2, 1, 8) IF NOT EXISTS",
    )
    .await;
    assert_eq!(rows(&r), expect(&[&["false", "2", "1", "7", "null", "'x'"]]));
}

#[tokio::test]
async fn update_and_delete_conditions() {
    let (e, _, mut s) = setup().await;
    table(&e, &mut s).await;
    ok(&e, &mut s, "INSERT INTO t (k, c, v, n) VALUES (1, 1, 'a', 10)").await;

    let cases: &[(&str, &[&str], &[&str])] = &[
        (
            "UPDATE t SET n = 11 WHERE k = 1 AND c = 1 IF v = 'a'",
            &["[applied]"],
            &["true"],
        ),
        (
            "UPDATE t SET n = 12 WHERE k = 1 AND c = 1 IF v = 'z'",
            &["[applied]", "v"],
            &["false", "'a'"],
        ),
        (
            "UPDATE t SET n = 13 WHERE k = 1 AND c = 1 IF n > 20 AND v = 'a'",
            &["[applied]", "n", "v"],
            &["false", "11", "'a'"],
        ),
        (
            "UPDATE t SET n = 14 WHERE k = 1 AND c = 1 IF n < 20 AND v != 'b'",
            &["[applied]"],
            &["true"],
        ),
        (
            "UPDATE t SET n = 15 WHERE k = 1 AND c = 1 IF v IN ('x', 'a')",
            &["[applied]"],
            &["true"],
        ),
        (
            "UPDATE t SET n = 16 WHERE k = 1 AND c = 1 IF v IN ('x', null)",
            &["[applied]", "v"],
            &["false", "'a'"],
        ),
        (
            "UPDATE t SET n = 17 WHERE k = 1 AND c = 1 IF s = null",
            &["[applied]"],
            &["true"],
        ),
        (
            "UPDATE t SET n = 18 WHERE k = 1 AND c = 1 IF EXISTS",
            &["[applied]"],
            &["true"],
        ),
        // A missing row: only `[applied]`, no other columns.
        (
            "UPDATE t SET n = 1 WHERE k = 1 AND c = 9 IF EXISTS",
            &["[applied]"],
            &["false"],
        ),
        (
            "UPDATE t SET n = 1 WHERE k = 1 AND c = 9 IF v = 'a'",
            &["[applied]"],
            &["false"],
        ),
        // `IF v = null` holds on a missing row and creates it.
        (
            "UPDATE t SET n = 5 WHERE k = 1 AND c = 8 IF v = null",
            &["[applied]"],
            &["true"],
        ),
        (
            "DELETE FROM t WHERE k = 1 AND c = 8 IF n = 6",
            &["[applied]", "n"],
            &["false", "5"],
        ),
        (
            "DELETE FROM t WHERE k = 1 AND c = 8 IF n = 5",
            &["[applied]"],
            &["true"],
        ),
        (
            "DELETE FROM t WHERE k = 1 AND c = 8 IF EXISTS",
            &["[applied]"],
            &["false"],
        ),
        (
            "DELETE v FROM t WHERE k = 1 AND c = 1 IF EXISTS",
            &["[applied]"],
            &["true"],
        ),
    ];
    for (q, names, row) in cases {
        let r = ok(&e, &mut s, q).await;
        assert_eq!(
            show(&r),
            (names.iter().map(|n| n.to_string()).collect(), expect(&[row])),
            "{q}"
        );
    }
    assert_eq!(
        select(&e, &mut s, "SELECT c, v, n FROM t WHERE k = 1").await,
        expect(&[&["1", "null", "18"]])
    );
    // Partition-level deletion with IF EXISTS checks that the partition has data.
    assert_eq!(
        rows(&ok(&e, &mut s, "DELETE FROM t WHERE k = 1 IF EXISTS").await),
        expect(&[&["true"]])
    );
    assert_eq!(
        rows(&ok(&e, &mut s, "DELETE FROM t WHERE k = 1 IF EXISTS").await),
        expect(&[&["false"]])
    );
    // Static conditions read the static row.
    ok(&e, &mut s, "INSERT INTO t (k, c, s) VALUES (3, 1, 1)").await;
    let r = ok(&e, &mut s, "UPDATE t SET s = 2 WHERE k = 3 IF s = 5").await;
    assert_eq!(show(&r).0, ["[applied]", "s"]);
    assert_eq!(rows(&r), expect(&[&["false", "1"]]));
    assert_eq!(
        rows(&ok(&e, &mut s, "UPDATE t SET s = 2 WHERE k = 3 IF s = 1").await),
        expect(&[&["true"]])
    );
}

#[tokio::test]
async fn collection_and_udt_conditions() {
    let (e, _, mut s) = setup().await;
    ok(&e, &mut s, "CREATE TYPE addr (street text, zip int)").await;
    ok(
        &e,
        &mut s,
        "CREATE TABLE c (k int PRIMARY KEY, l list<int>, m map<text, int>, st set<text>, u addr, fu frozen<addr>, fl frozen<list<int>>)",
    )
    .await;
    ok(
        &e,
        &mut s,
        "INSERT INTO c (k, l, m, st, u, fu, fl) VALUES (1, [1, 2], {'a': 1}, {'x'}, {street: 'main', zip: 7}, {street: 'f', zip: 1}, [5, 6])",
    )
    .await;
    let applied = |q: &'static str| q;
    let cases: &[(&str, &[&str])] = &[
        (
            applied("UPDATE c SET l = [9] WHERE k = 1 IF l = [1, 2]"),
            &["true"],
        ),
        (
            "UPDATE c SET l = [8] WHERE k = 1 IF l = [1, 2]",
            &["false", "[9]"],
        ),
        ("UPDATE c SET l = [1, 2] WHERE k = 1 IF l[0] = 9", &["true"]),
        ("UPDATE c SET l = [3] WHERE k = 1 IF l[5] = null", &["true"]),
        (
            "UPDATE c SET m = m + {'b': 2} WHERE k = 1 IF m['a'] = 1",
            &["true"],
        ),
        (
            "UPDATE c SET m = {} WHERE k = 1 IF m['zz'] = 1",
            &["false", "{'a': 1, 'b': 2}"],
        ),
        (
            "UPDATE c SET st = st + {'y'} WHERE k = 1 IF st = {'x'}",
            &["true"],
        ),
        (
            "UPDATE c SET st = {} WHERE k = 1 IF st > {'z'}",
            &["false", "{'x', 'y'}"],
        ),
        (
            "UPDATE c SET u.zip = 8 WHERE k = 1 IF u.street = 'main'",
            &["true"],
        ),
        (
            "UPDATE c SET u.zip = 9 WHERE k = 1 IF u.zip > 8",
            &["false", "{street: 'main', zip: 8}"],
        ),
        (
            "UPDATE c SET fu = {street: 'g'} WHERE k = 1 IF fu.zip = 1",
            &["true"],
        ),
        ("UPDATE c SET fl = [7] WHERE k = 1 IF fl[1] = 6", &["true"]),
        (
            "UPDATE c SET fl = [1] WHERE k = 1 IF fl = [5, 6]",
            &["false", "[7]"],
        ),
    ];
    for (q, row) in cases {
        assert_eq!(rows(&ok(&e, &mut s, q).await), expect(&[row]), "{q}");
    }
    // An empty non-frozen collection is null.
    ok(&e, &mut s, "UPDATE c SET l = [] WHERE k = 1").await;
    assert_eq!(
        rows(&ok(&e, &mut s, "UPDATE c SET l = [4] WHERE k = 1 IF l = []").await),
        expect(&[&["true"]])
    );
    ok(&e, &mut s, "UPDATE c SET l = null WHERE k = 1").await;
    assert_eq!(
        rows(&ok(&e, &mut s, "UPDATE c SET l = [4] WHERE k = 1 IF l = null").await),
        expect(&[&["true"]])
    );
}

#[tokio::test]
async fn conditional_batches() {
    let (e, _, mut s) = setup().await;
    table(&e, &mut s).await;
    ok(&e, &mut s, "CREATE TABLE other (k int PRIMARY KEY, v int)").await;
    let r = ok(
        &e,
        &mut s,
        "BEGIN BATCH INSERT INTO t (k, c, v) VALUES (1, 1, 'a') IF NOT EXISTS; INSERT INTO t (k, c, v) VALUES (1, 2, 'b') IF NOT EXISTS; APPLY BATCH",
    )
    .await;
    assert_eq!(rows(&r), expect(&[&["true"]]));
    // Not applied: every read row with its primary key and the conditioned columns.
    let r = ok(
        &e,
        &mut s,
        "BEGIN BATCH UPDATE t SET n = 1 WHERE k = 1 AND c = 1 IF v = 'a'; UPDATE t SET n = 2 WHERE k = 1 AND c = 2 IF v = 'zz'; APPLY BATCH",
    )
    .await;
    assert_eq!(
        show(&r),
        (
            ["[applied]", "k", "c", "v"].map(String::from).to_vec(),
            expect(&[&["false", "1", "1", "'a'"], &["false", "1", "2", "'b'"]])
        )
    );
    assert_eq!(
        select(&e, &mut s, "SELECT n FROM t WHERE k = 1").await,
        expect(&[&["null"], &["null"]])
    );
    // Applied: conditional and unconditional children of the same partition write together.
    let r = ok(
        &e,
        &mut s,
        "BEGIN BATCH UPDATE t SET n = 1 WHERE k = 1 AND c = 1 IF v = 'a'; UPDATE t SET n = 2 WHERE k = 1 AND c = 2; APPLY BATCH",
    )
    .await;
    assert_eq!(rows(&r), expect(&[&["true"]]));
    assert_eq!(
        select(&e, &mut s, "SELECT n FROM t WHERE k = 1").await,
        expect(&[&["1"], &["2"]])
    );
    // IF NOT EXISTS in a batch reports whole rows.
    let r = ok(
        &e,
        &mut s,
        "BEGIN BATCH INSERT INTO t (k, c, v) VALUES (1, 1, 'q') IF NOT EXISTS; UPDATE t SET v = 'r' WHERE k = 1 AND c = 3; APPLY BATCH",
    )
    .await;
    assert_eq!(rows(&r), expect(&[&["false", "1", "1", "null", "1", "'a'"]]));

    let errors = [
        (
            "BEGIN BATCH INSERT INTO t (k, c) VALUES (1, 1) IF NOT EXISTS; INSERT INTO t (k, c) VALUES (2, 1); APPLY BATCH",
            "Batch with conditions cannot span multiple partitions",
        ),
        (
            "BEGIN BATCH INSERT INTO t (k, c) VALUES (1, 1) IF NOT EXISTS; INSERT INTO other (k, v) VALUES (1, 1); APPLY BATCH",
            "Batch with conditions cannot span multiple tables",
        ),
        (
            "BEGIN BATCH USING TIMESTAMP 5 INSERT INTO t (k, c) VALUES (1, 1) IF NOT EXISTS; APPLY BATCH",
            "Cannot provide custom timestamp for conditional BATCH",
        ),
        (
            "BEGIN BATCH UPDATE t SET n = 1 WHERE k IN (1, 2) AND c = 1 IF n = 1; APPLY BATCH",
            "Batch with conditions cannot span multiple partitions (you cannot use IN on the partition key)",
        ),
        (
            "BEGIN BATCH INSERT INTO t (k, c) VALUES (1, 1) IF NOT EXISTS; UPDATE t SET n = 1 WHERE k = 1 AND c = 1 IF EXISTS; APPLY BATCH",
            "Cannot mix IF EXISTS and IF NOT EXISTS conditions for the same row",
        ),
        (
            "BEGIN BATCH INSERT INTO t (k, c) VALUES (1, 1) IF NOT EXISTS; UPDATE t SET n = 1 WHERE k = 1 AND c = 1 IF n = 1; APPLY BATCH",
            "Cannot mix IF conditions and IF NOT EXISTS for the same row",
        ),
    ];
    for (q, msg) in errors {
        assert_eq!(invalid(&e, &mut s, q).await, msg, "{q}");
    }
}

#[tokio::test]
async fn protocol_batches_with_conditions() {
    use mica_cql_protocol::{Batch, BatchStatement, BatchType};
    let (e, _, mut s) = setup().await;
    table(&e, &mut s).await;
    let prepared = e
        .prepare(&s, "INSERT INTO t (k, c, v) VALUES (?, ?, ?) IF NOT EXISTS", None)
        .expect("prepares");
    // Cassandra returns no result metadata when preparing a modification, conditional or not.
    assert!(
        prepared
            .result_metadata
            .columns
            .as_ref()
            .is_none_or(|c| c.is_empty())
    );
    let batch = |v: &str| Batch {
        batch_type: BatchType::Logged,
        statements: vec![
            BatchStatement::Prepared {
                id: prepared.id.clone(),
                values: vec![int(1), int(1), text(v)],
            },
            BatchStatement::Query {
                query: "UPDATE t SET n = 3 WHERE k = 1 AND c = 2".into(),
                values: vec![],
            },
        ],
        consistency: Consistency::Quorum,
        serial_consistency: Some(Consistency::Serial),
        timestamp: None,
        keyspace: None,
        now_in_seconds: None,
    };
    let r = e.batch(&mut s, &batch("a")).await.expect("batch runs");
    assert_eq!(rows(&r), expect(&[&["true"]]));
    let r = e.batch(&mut s, &batch("b")).await.expect("batch runs");
    assert_eq!(rows(&r), expect(&[&["false", "1", "1", "null", "null", "'a'"]]));
}

#[tokio::test]
async fn conditional_statement_errors() {
    let (e, _, mut s) = setup().await;
    table(&e, &mut s).await;
    ok(&e, &mut s, "CREATE TABLE cnt (k int PRIMARY KEY, c counter)").await;
    let cases = [
        (
            "INSERT INTO t (k, c) VALUES (1, 1) IF NOT EXISTS USING TIMESTAMP 3",
            "Cannot provide custom timestamp for conditional updates",
        ),
        (
            "UPDATE t SET v = 'a' WHERE k = 1 AND c = 1 IF c = 1",
            "PRIMARY KEY column 'c' cannot have IF conditions",
        ),
        (
            "UPDATE t SET v = 'a' WHERE k = 1 AND c = 1 IF nope = 1",
            "Undefined column name nope",
        ),
        (
            "UPDATE cnt SET c = c + 1 WHERE k = 1 IF EXISTS",
            "Conditional updates are not supported on counter tables",
        ),
        (
            "UPDATE t SET v = 'a' WHERE k IN (1, 2) AND c = 1 IF v = 'a'",
            "IN on the partition key is not supported with conditional updates",
        ),
        (
            "DELETE FROM t WHERE k = 1 AND c IN (1, 2) IF EXISTS",
            "IN on the clustering key columns is not supported with conditional deletions",
        ),
        (
            "UPDATE t SET v = 'a' WHERE k = 1 AND c = 1 IF n > null",
            "Invalid comparison with null for operator \">\"",
        ),
        (
            "DELETE FROM t WHERE k = 1 IF v = 'a'",
            "DELETE statements must restrict all PRIMARY KEY columns with equality relations in order to use IF condition on non static columns",
        ),
        (
            "DELETE v FROM t WHERE k = 1 IF EXISTS",
            "DELETE statements must restrict all PRIMARY KEY columns with equality relations in order to delete non static columns",
        ),
        (
            "UPDATE t SET v = 'a' WHERE k = 1 IF v = 'b'",
            "Some clustering keys are missing: c",
        ),
        (
            "UPDATE t SET v = 'a' WHERE k = 1 AND c = 1 IF v[0] = 'a'",
            "Invalid element access syntax for non-collection column v",
        ),
    ];
    for (q, msg) in cases {
        assert_eq!(invalid(&e, &mut s, q).await, msg, "{q}");
    }
    // Serial consistency must be serial; the commit consistency must not be.
    let params = |consistency, serial| QueryParameters {
        consistency,
        serial_consistency: serial,
        ..QueryParameters::default()
    };
    let q = "INSERT INTO t (k, c) VALUES (5, 5) IF NOT EXISTS";
    let err = e
        .query(&mut s, q, &params(Consistency::One, Some(Consistency::Quorum)))
        .await
        .expect_err("not serial");
    assert_eq!(
        err.to_string(),
        "Invalid consistency for conditional update. Must be one of SERIAL or LOCAL_SERIAL"
    );
    let err = e
        .query(&mut s, q, &params(Consistency::Serial, None))
        .await
        .expect_err("serial commit");
    assert!(
        err.to_string()
            .starts_with("SERIAL is not supported as conditional update commit consistency")
    );
    let r = e
        .query(
            &mut s,
            q,
            &params(Consistency::LocalQuorum, Some(Consistency::LocalSerial)),
        )
        .await
        .expect("runs");
    assert_eq!(rows(&r), expect(&[&["true"]]));
}

#[tokio::test]
async fn lwt_writes_use_a_server_timestamp() {
    let (e, _, mut s) = setup().await;
    table(&e, &mut s).await;
    let params = QueryParameters {
        timestamp: Some(5),
        ..QueryParameters::default()
    };
    e.query(
        &mut s,
        "INSERT INTO t (k, c, v) VALUES (1, 1, 'a') IF NOT EXISTS",
        &params,
    )
    .await
    .expect("runs");
    let got = select(&e, &mut s, "SELECT writetime(v) FROM t WHERE k = 1").await;
    let written: i64 = got[0][0].parse().expect("a number");
    let now = mica_types::Timestamp::now().0;
    assert!(written > now - 60_000_000 && written <= now, "{written} vs {now}");
    // A later LWT always gets a larger timestamp.
    ok(
        &e,
        &mut s,
        "UPDATE t SET v = 'b' WHERE k = 1 AND c = 1 IF v = 'a'",
    )
    .await;
    let got = select(&e, &mut s, "SELECT writetime(v) FROM t WHERE k = 1").await;
    assert!(got[0][0].parse::<i64>().expect("a number") > written);
}

#[tokio::test]
async fn prepared_conditional_updates_bind_condition_values() {
    let (e, _, mut s) = setup().await;
    table(&e, &mut s).await;
    ok(&e, &mut s, "INSERT INTO t (k, c, v, n) VALUES (1, 1, 'a', 1)").await;
    let p = e
        .prepare(
            &s,
            "UPDATE t SET n = ? WHERE k = ? AND c = ? IF v = ? AND n IN ?",
            None,
        )
        .expect("prepares");
    let names: Vec<_> = p.metadata.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["n", "k", "c", "v", "in(n)"]);
    let list = |items: &[i32]| {
        let mut b = (items.len() as i32).to_be_bytes().to_vec();
        for i in items {
            b.extend_from_slice(&4i32.to_be_bytes());
            b.extend_from_slice(&i.to_be_bytes());
        }
        set(b)
    };
    let exec = |values| QueryParameters {
        values: QueryValues::Positional(values),
        ..QueryParameters::default()
    };
    let r = e
        .execute(
            &mut s,
            &p.id,
            &exec(vec![int(2), int(1), int(1), text("a"), list(&[5, 1])]),
        )
        .await
        .expect("runs");
    assert_eq!(rows(&r), expect(&[&["true"]]));
    let r = e
        .execute(
            &mut s,
            &p.id,
            &exec(vec![int(3), int(1), int(1), text("a"), list(&[1])]),
        )
        .await
        .expect("runs");
    assert_eq!(rows(&r), expect(&[&["false", "'a'", "2"]]));
}

/// Many concurrent `INSERT ... IF NOT EXISTS` on one key: exactly one applies.
#[test]
fn concurrent_inserts_if_not_exists_apply_once() {
    const WRITERS: usize = 16;
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let (e, _, mut s) = rt.block_on(setup());
    rt.block_on(table(&e, &mut s));
    for round in 0..40 {
        let barrier = Arc::new(std::sync::Barrier::new(WRITERS));
        let handles: Vec<_> = (0..WRITERS)
            .map(|i| {
                let (e, barrier) = (e.clone(), barrier.clone());
                std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .build()
                        .expect("runtime");
                    let mut s = ClientState {
                        keyspace: Some("ks".into()),
                        user: None,
                    };
                    barrier.wait();
                    let q =
                        format!("INSERT INTO t (k, c, v) VALUES ({round}, 0, 'writer {i}') IF NOT EXISTS");
                    let r = rt.block_on(run(&e, &mut s, &q)).expect("runs");
                    (i, rows(&r)[0][0] == "true")
                })
            })
            .collect();
        let results: Vec<(usize, bool)> = handles.into_iter().map(|h| h.join().expect("joins")).collect();
        let winners: Vec<usize> = results.iter().filter(|(_, w)| *w).map(|(i, _)| *i).collect();
        assert_eq!(winners.len(), 1, "round {round}: {results:?}");
        let stored = rt.block_on(select(&e, &mut s, &format!("SELECT v FROM t WHERE k = {round}")));
        assert_eq!(stored, expect(&[&[&format!("'writer {}'", winners[0])]]));
    }
}

/// Concurrent compare-and-set increments never lose an update.
#[test]
fn concurrent_compare_and_set_loses_no_update() {
    const WRITERS: usize = 8;
    const INCREMENTS: i32 = 25;
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let (e, _, mut s) = rt.block_on(setup());
    rt.block_on(table(&e, &mut s));
    rt.block_on(ok(&e, &mut s, "INSERT INTO t (k, c, n) VALUES (1, 1, 0)"));
    let handles: Vec<_> = (0..WRITERS)
        .map(|_| {
            let e = e.clone();
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .build()
                    .expect("runtime");
                let mut s = ClientState {
                    keyspace: Some("ks".into()),
                    user: None,
                };
                let mut done = 0;
                while done < INCREMENTS {
                    let current = rt.block_on(select(&e, &mut s, "SELECT n FROM t WHERE k = 1 AND c = 1"));
                    let n: i32 = current[0][0].parse().expect("a number");
                    let q = format!("UPDATE t SET n = {} WHERE k = 1 AND c = 1 IF n = {n}", n + 1);
                    if rows(&rt.block_on(ok(&e, &mut s, &q)))[0][0] == "true" {
                        done += 1;
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("joins");
    }
    let total = rt.block_on(select(&e, &mut s, "SELECT n FROM t WHERE k = 1 AND c = 1"));
    assert_eq!(total, expect(&[&[&(WRITERS as i32 * INCREMENTS).to_string()]]));
}

/// A conditional INSERT evaluates its values once and builds list cells with the LWT timestamp, so
/// later appends and prepends order correctly around them.
#[tokio::test]
async fn conditional_insert_lists_order_like_plain_inserts() {
    let (e, _, mut s) = setup().await;
    ok(
        &e,
        &mut s,
        "CREATE TABLE l (k int PRIMARY KEY, l list<int>, t timeuuid)",
    )
    .await;
    ok(
        &e,
        &mut s,
        "INSERT INTO l (k, l, t) VALUES (1, [1, 2], now()) IF NOT EXISTS",
    )
    .await;
    ok(&e, &mut s, "UPDATE l SET l = [0] + l WHERE k = 1").await;
    ok(&e, &mut s, "UPDATE l SET l = l + [3] WHERE k = 1").await;
    assert_eq!(
        select(&e, &mut s, "SELECT l FROM l WHERE k = 1").await,
        expect(&[&["[0, 1, 2, 3]"]])
    );
    let stored = select(&e, &mut s, "SELECT t FROM l WHERE k = 1").await;
    let r = ok(&e, &mut s, "INSERT INTO l (k, t) VALUES (1, now()) IF NOT EXISTS").await;
    assert_eq!(rows(&r)[0][3], stored[0][0]);
}
