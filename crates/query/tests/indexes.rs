//! Secondary indexes: DDL, system_schema.indexes, index-backed queries, maintenance on writes,
//! building over existing data and cleanup of index storage.

mod common;

use common::*;
use mica_cql_protocol::{QueryParameters, SchemaChangeTarget, SchemaChangeType};
use mica_query::QueryResult;
use mica_storage::Engine;

const NEEDS_FILTERING: &str = "Cannot execute this query as it might involve data filtering and thus may have unpredictable performance. If you want to execute this query despite the performance unpredictability, use ALLOW FILTERING";

#[tokio::test]
async fn create_and_drop_index() {
    let (e, storage, mut s) = setup().await;
    ok(&e, &mut s, "CREATE TABLE t (k int, c int, v text, m map<text, int>, l list<int>, fl frozen<list<int>>, PRIMARY KEY (k, c))").await;
    let tables_before = storage.list_tables().expect("lists").len();
    let r = ok(&e, &mut s, "CREATE INDEX ON t (v)").await;
    let QueryResult::SchemaChange(change) = r else {
        panic!("expected a schema change, got {r:?}")
    };
    assert_eq!(change.change_type, SchemaChangeType::Updated);
    assert_eq!(
        change.target,
        SchemaChangeTarget::Table {
            keyspace: "ks".into(),
            name: "t".into()
        }
    );
    ok(&e, &mut s, "CREATE INDEX IF NOT EXISTS t_v_idx ON t (v)").await;
    ok(&e, &mut s, "CREATE INDEX mk ON t (keys(m))").await;
    ok(&e, &mut s, "CREATE INDEX ON t (m)").await;
    ok(&e, &mut s, "CREATE INDEX ON t (entries(m))").await;
    ok(&e, &mut s, "CREATE INDEX ON t (l)").await;
    ok(&e, &mut s, "CREATE INDEX ON t (full(fl))").await;
    ok(&e, &mut s, "CREATE INDEX ON t (c)").await;
    assert_eq!(storage.list_tables().expect("lists").len(), tables_before + 7);
    assert_eq!(
        select(
            &e,
            &mut s,
            "SELECT table_name, index_name, kind, options FROM system_schema.indexes WHERE keyspace_name = 'ks'"
        )
        .await,
        expect(&[
            &["'t'", "'mk'", "'COMPOSITES'", "{'target': 'keys(m)'}"],
            &["'t'", "'t_c_idx'", "'COMPOSITES'", "{'target': 'c'}"],
            &["'t'", "'t_fl_idx'", "'COMPOSITES'", "{'target': 'full(fl)'}"],
            &["'t'", "'t_l_idx'", "'COMPOSITES'", "{'target': 'values(l)'}"],
            &["'t'", "'t_m_idx'", "'COMPOSITES'", "{'target': 'values(m)'}"],
            &["'t'", "'t_m_idx_1'", "'COMPOSITES'", "{'target': 'entries(m)'}"],
            &["'t'", "'t_v_idx'", "'COMPOSITES'", "{'target': 'v'}"],
        ])
    );
    let errors = [
        ("CREATE INDEX t_v_idx ON t (c)", "Index 't_v_idx' already exists"),
        (
            "CREATE INDEX other ON t (v)",
            "Index other is a duplicate of existing index t_v_idx",
        ),
        ("CREATE INDEX ON t (nope)", "Column 'nope' doesn't exist"),
        ("CREATE INDEX ON nope (v)", "Table 'nope' doesn't exist"),
        (
            "CREATE INDEX ON t (k)",
            "Cannot create secondary index on the only partition key column k",
        ),
        (
            "CREATE INDEX ON t (fl)",
            "Cannot create values() index on frozen column fl. Frozen collections are immutable and must be fully indexed by using the 'full(fl)' modifier",
        ),
        (
            "CREATE INDEX ON t (full(l))",
            "full() indexes can only be created on frozen collections",
        ),
        (
            "CREATE INDEX ON t (keys(v))",
            "Cannot create keys() index on v. Non-collection columns only support simple indexes",
        ),
        (
            "CREATE INDEX ON t (keys(l))",
            "Cannot create index on keys of column l with non-map type",
        ),
        ("DROP INDEX nope", "Index 'ks.nope' doesn't exist'"),
    ];
    for (q, msg) in errors {
        assert_eq!(invalid(&e, &mut s, q).await, msg, "{q}");
    }
    ok(&e, &mut s, "CREATE TABLE cnt (k int PRIMARY KEY, n counter)").await;
    assert_eq!(
        invalid(&e, &mut s, "CREATE INDEX ON cnt (n)").await,
        "Secondary indexes on counter tables aren't supported"
    );
    ok(&e, &mut s, "DROP INDEX mk").await;
    ok(&e, &mut s, "DROP INDEX IF EXISTS mk").await;
    ok(&e, &mut s, "DROP INDEX ks.t_c_idx").await;
    // Five index tables left, plus the counter table.
    assert_eq!(storage.list_tables().expect("lists").len(), tables_before + 6);
    // Dropping the table drops its index storage too.
    ok(&e, &mut s, "DROP TABLE t").await;
    assert_eq!(storage.list_tables().expect("lists").len(), tables_before);
    assert!(
        select(
            &e,
            &mut s,
            "SELECT index_name FROM system_schema.indexes WHERE keyspace_name = 'ks'"
        )
        .await
        .is_empty()
    );
    // And dropping a keyspace drops the index storage of its tables.
    ok(&e, &mut s, "CREATE TABLE t2 (k int PRIMARY KEY, v int)").await;
    ok(&e, &mut s, "CREATE INDEX ON t2 (v)").await;
    assert_eq!(storage.list_tables().expect("lists").len(), tables_before + 2);
    ok(&e, &mut s, "DROP KEYSPACE ks").await;
    assert_eq!(storage.list_tables().expect("lists").len(), tables_before - 1);
}

#[tokio::test]
async fn partition_key_component_index() {
    let (e, _, mut s) = setup().await;
    ok(
        &e,
        &mut s,
        "CREATE TABLE p (a int, b int, v int, PRIMARY KEY ((a, b)))",
    )
    .await;
    ok(&e, &mut s, "INSERT INTO p (a, b, v) VALUES (1, 2, 3)").await;
    ok(&e, &mut s, "CREATE INDEX ON p (b)").await;
    ok(&e, &mut s, "INSERT INTO p (a, b, v) VALUES (5, 2, 6)").await;
    ok(&e, &mut s, "UPDATE p SET v = 9 WHERE a = 7 AND b = 8").await;
    let mut got = select(&e, &mut s, "SELECT a, v FROM p WHERE b = 2").await;
    got.sort();
    assert_eq!(got, expect(&[&["1", "3"], &["5", "6"]]));
    assert_eq!(
        select(&e, &mut s, "SELECT a, v FROM p WHERE b = 8").await,
        expect(&[&["7", "9"]])
    );
}

#[tokio::test]
async fn queries_use_the_index_and_skip_stale_entries() {
    let (e, _, mut s) = setup().await;
    ok(
        &e,
        &mut s,
        "CREATE TABLE t (k int, c int, v text, w int, s int static, PRIMARY KEY (k, c))",
    )
    .await;
    assert_eq!(
        invalid(&e, &mut s, "SELECT * FROM t WHERE v = 'a'").await,
        NEEDS_FILTERING
    );
    for k in 0..6 {
        for c in 0..2 {
            let v = if (k + c) % 2 == 0 { "a" } else { "b" };
            ok(
                &e,
                &mut s,
                &format!(
                    "INSERT INTO t (k, c, v, w) VALUES ({k}, {c}, '{v}', {})",
                    k * 10 + c
                ),
            )
            .await;
        }
    }
    // Built from the existing rows.
    ok(&e, &mut s, "CREATE INDEX ON t (v)").await;
    let scan = |rows: Vec<Vec<String>>| {
        let mut rows = rows;
        rows.sort();
        rows
    };
    let a = scan(select(&e, &mut s, "SELECT k, c, w FROM t WHERE v = 'a'").await);
    assert_eq!(
        a,
        expect(&[
            &["0", "0", "0"],
            &["1", "1", "11"],
            &["2", "0", "20"],
            &["3", "1", "31"],
            &["4", "0", "40"],
            &["5", "1", "51"],
        ])
    );
    // Index results come in token order, like a table scan.
    let unfiltered: Vec<Vec<String>> = select(&e, &mut s, "SELECT k, c FROM t").await;
    let by_index = select(&e, &mut s, "SELECT k, c FROM t WHERE v = 'a'").await;
    let expected_order: Vec<Vec<String>> = unfiltered.into_iter().filter(|r| by_index.contains(r)).collect();
    assert_eq!(by_index, expected_order);

    // Writes after CREATE INDEX maintain it; overwritten and deleted values are skipped.
    ok(&e, &mut s, "UPDATE t SET v = 'b' WHERE k = 0 AND c = 0").await;
    ok(&e, &mut s, "DELETE FROM t WHERE k = 1 AND c = 1").await;
    ok(&e, &mut s, "DELETE v FROM t WHERE k = 2 AND c = 0").await;
    ok(&e, &mut s, "INSERT INTO t (k, c, v, w) VALUES (9, 9, 'a', 99)").await;
    ok(
        &e,
        &mut s,
        "INSERT INTO t (k, c, v, w) VALUES (8, 8, 'a', 88) USING TTL 1000",
    )
    .await;
    let a = scan(select(&e, &mut s, "SELECT k, c FROM t WHERE v = 'a'").await);
    assert_eq!(
        a,
        expect(&[&["3", "1"], &["4", "0"], &["5", "1"], &["8", "8"], &["9", "9"]])
    );
    // Combined with a partition key restriction, and with other filters.
    assert_eq!(
        select(&e, &mut s, "SELECT c FROM t WHERE k = 4 AND v = 'a'").await,
        expect(&[&["0"]])
    );
    assert_eq!(
        select(&e, &mut s, "SELECT c FROM t WHERE k = 4 AND v = 'b'").await,
        expect(&[&["1"]])
    );
    assert_eq!(
        invalid(&e, &mut s, "SELECT k FROM t WHERE v = 'a' AND w = 31").await,
        NEEDS_FILTERING
    );
    assert_eq!(
        select(
            &e,
            &mut s,
            "SELECT k FROM t WHERE v = 'a' AND w = 31 ALLOW FILTERING"
        )
        .await,
        expect(&[&["3"]])
    );
    assert_eq!(
        select(&e, &mut s, "SELECT count(*) FROM t WHERE v = 'b'").await,
        expect(&[&["7"]])
    );
    // Bound values.
    let r = run_with(&e, &mut s, "SELECT k FROM t WHERE v = ?", vec![text("zz")])
        .await
        .expect("runs");
    assert!(rows(&r).is_empty());

    // Paging through index results returns every row once.
    let mut seen = Vec::new();
    let mut paging_state = None;
    loop {
        let params = QueryParameters {
            page_size: Some(2),
            paging_state: paging_state.clone(),
            ..QueryParameters::default()
        };
        let r = e
            .query(&mut s, "SELECT k, c FROM t WHERE v = 'b'", &params)
            .await
            .expect("runs");
        let QueryResult::Rows { metadata, .. } = &r else {
            panic!()
        };
        paging_state = metadata.paging_state.clone();
        seen.extend(rows(&r));
        if paging_state.is_none() {
            break;
        }
    }
    assert_eq!(seen, select(&e, &mut s, "SELECT k, c FROM t WHERE v = 'b'").await);
    assert_eq!(seen.len(), 7);

    // After DROP INDEX the query needs filtering again.
    ok(&e, &mut s, "DROP INDEX t_v_idx").await;
    assert_eq!(
        invalid(&e, &mut s, "SELECT * FROM t WHERE v = 'a'").await,
        NEEDS_FILTERING
    );
    // Recreating the index rebuilds it from the current data only.
    ok(&e, &mut s, "CREATE INDEX t_v_idx ON t (v)").await;
    let a = scan(select(&e, &mut s, "SELECT k, c FROM t WHERE v = 'a'").await);
    assert_eq!(
        a,
        expect(&[&["3", "1"], &["4", "0"], &["5", "1"], &["8", "8"], &["9", "9"]])
    );
    // TRUNCATE empties the index too.
    ok(&e, &mut s, "TRUNCATE t").await;
    assert!(
        select(&e, &mut s, "SELECT k FROM t WHERE v = 'a'")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn collection_and_key_indexes() {
    let (e, _, mut s) = setup().await;
    ok(
        &e,
        &mut s,
        "CREATE TABLE t (k int, c int, s int static, l list<text>, st set<int>, m map<text, int>, fl frozen<list<int>>, PRIMARY KEY (k, c))",
    )
    .await;
    for idx in [
        "l",
        "st",
        "keys(m)",
        "values(m)",
        "entries(m)",
        "full(fl)",
        "c",
        "s",
    ] {
        ok(&e, &mut s, &format!("CREATE INDEX ON t ({idx})")).await;
    }
    ok(&e, &mut s, "INSERT INTO t (k, c, s, l, st, m, fl) VALUES (1, 1, 7, ['x', 'y'], {1, 2}, {'a': 1, 'b': 2}, [1, 2])").await;
    ok(
        &e,
        &mut s,
        "INSERT INTO t (k, c, l, st, m, fl) VALUES (1, 2, ['y'], {2}, {'b': 3}, [3])",
    )
    .await;
    ok(
        &e,
        &mut s,
        "INSERT INTO t (k, c, s, l, m) VALUES (2, 1, 8, ['z'], {'a': 2})",
    )
    .await;
    let cases: &[(&str, &[&[&str]])] = &[
        (
            "SELECT k, c FROM t WHERE l CONTAINS 'y'",
            &[&["1", "1"], &["1", "2"]],
        ),
        ("SELECT k, c FROM t WHERE l CONTAINS 'x'", &[&["1", "1"]]),
        ("SELECT k, c FROM t WHERE st CONTAINS 1", &[&["1", "1"]]),
        (
            "SELECT k, c FROM t WHERE m CONTAINS KEY 'a'",
            &[&["1", "1"], &["2", "1"]],
        ),
        (
            "SELECT k, c FROM t WHERE m CONTAINS 2",
            &[&["1", "1"], &["2", "1"]],
        ),
        ("SELECT k, c FROM t WHERE m['b'] = 3", &[&["1", "2"]]),
        ("SELECT k, c FROM t WHERE fl = [1, 2]", &[&["1", "1"]]),
        ("SELECT k, c FROM t WHERE c = 2", &[&["1", "2"]]),
        ("SELECT k, c FROM t WHERE s = 7", &[&["1", "1"], &["1", "2"]]),
    ];
    for (q, expected) in cases {
        let mut got = select(&e, &mut s, q).await;
        got.sort();
        assert_eq!(got, expect(expected), "{q}");
    }
    // Removing an element makes its entry stale.
    ok(&e, &mut s, "UPDATE t SET l = l - ['y'] WHERE k = 1 AND c = 1").await;
    ok(&e, &mut s, "UPDATE t SET m['b'] = 4 WHERE k = 1 AND c = 2").await;
    ok(&e, &mut s, "UPDATE t SET s = 9 WHERE k = 1").await;
    assert_eq!(
        select(&e, &mut s, "SELECT k, c FROM t WHERE l CONTAINS 'y'").await,
        expect(&[&["1", "2"]])
    );
    assert!(
        select(&e, &mut s, "SELECT k, c FROM t WHERE m['b'] = 3")
            .await
            .is_empty()
    );
    assert_eq!(
        select(&e, &mut s, "SELECT k, c FROM t WHERE m['b'] = 4").await,
        expect(&[&["1", "2"]])
    );
    assert!(
        select(&e, &mut s, "SELECT k, c FROM t WHERE s = 7")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn oversized_values_cannot_be_indexed() {
    let (e, _, mut s) = setup().await;
    ok(&e, &mut s, "CREATE TABLE t (k int PRIMARY KEY, v blob)").await;
    ok(&e, &mut s, "CREATE INDEX vi ON t (v)").await;
    let big = vec![0u8; 70_000];
    let err = run_with(&e, &mut s, "INSERT INTO t (k, v) VALUES (1, ?)", vec![set(big)])
        .await
        .expect_err("too large");
    assert_eq!(
        err.to_string(),
        "Cannot index value of size 70000 for index vi on ks.t(v) (maximum allowed size=65535)"
    );
}
