//! SELECT as Cassandra 4.1 implements it, over the in-memory engine: selectors and their column names and
//! types, aggregates, GROUP BY, DISTINCT, SELECT JSON, WHERE restrictions and their errors, paging.

use std::sync::Arc;

use bytes::Bytes;
use mica_cql_protocol::{QueryParameters, QueryValues, RowsMetadata, Value};
use mica_cql_types::{CqlType, deserialize, to_cql_literal};
use mica_query::{ClientState, LocalInfo, QueryEngine, QueryError, QueryResult};
use mica_storage::MemoryEngine;

fn engine() -> Arc<QueryEngine> {
    engine_on(Arc::new(MemoryEngine::new()))
}

fn engine_on(storage: Arc<dyn mica_storage::Engine>) -> Arc<QueryEngine> {
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
        password_auth: false,
        authorization: false,
    };
    QueryEngine::open(storage, local).expect("the engine opens")
}

/// A test session in keyspace `ks`.
struct Session {
    engine: Arc<QueryEngine>,
    state: ClientState,
}

/// A result decoded for comparison: column names, type names and rows as CQL literals.
#[derive(Debug)]
struct Rows {
    names: Vec<String>,
    types: Vec<String>,
    rows: Vec<Vec<String>>,
    paging_state: Option<Bytes>,
}

fn decode(metadata: &RowsMetadata, rows: &[Vec<Option<Bytes>>]) -> Rows {
    let columns = metadata.columns.clone().expect("metadata columns");
    Rows {
        names: columns.iter().map(|c| c.name.clone()).collect(),
        types: columns.iter().map(|c| c.typ.cql_name()).collect(),
        rows: rows
            .iter()
            .map(|r| {
                r.iter()
                    .zip(&columns)
                    .map(|(v, c)| match v {
                        None => "null".to_string(),
                        Some(b) => to_cql_literal(&deserialize(&c.typ, b).expect("a valid value")),
                    })
                    .collect()
            })
            .collect(),
        paging_state: metadata.paging_state.clone(),
    }
}

impl Session {
    async fn new() -> Session {
        Session::on(engine()).await
    }

    async fn on(engine: Arc<QueryEngine>) -> Session {
        let mut s = Session {
            engine,
            state: ClientState::default(),
        };
        s.ok("CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
            .await;
        s.ok("USE ks").await;
        s
    }

    async fn run(&mut self, q: &str) -> Result<QueryResult, QueryError> {
        self.engine
            .query(&mut self.state, q, &QueryParameters::default())
            .await
    }

    async fn ok(&mut self, q: &str) {
        if let Err(e) = self.run(q).await {
            panic!("{q}: {e}");
        }
    }

    async fn paged(&mut self, q: &str, page_size: i32, paging_state: Option<Bytes>) -> Rows {
        let params = QueryParameters {
            page_size: Some(page_size),
            paging_state,
            ..QueryParameters::default()
        };
        match self.engine.query(&mut self.state, q, &params).await {
            Ok(QueryResult::Rows { metadata, rows }) => decode(&metadata, &rows),
            other => panic!("{q}: expected rows, got {other:?}"),
        }
    }

    async fn select(&mut self, q: &str) -> Rows {
        match self.run(q).await {
            Ok(QueryResult::Rows { metadata, rows }) => decode(&metadata, &rows),
            other => panic!("{q}: expected rows, got {other:?}"),
        }
    }

    /// The rows of a query, as CQL literals.
    async fn rows(&mut self, q: &str) -> Vec<Vec<String>> {
        self.select(q).await.rows
    }

    async fn err(&mut self, q: &str) -> String {
        match self.run(q).await {
            Err(e) => e.to_string(),
            Ok(r) => panic!("{q}: expected an error, got {r:?}"),
        }
    }
}

fn table(rows: &[&[&str]]) -> Vec<Vec<String>> {
    rows.iter()
        .map(|r| r.iter().map(|s| s.to_string()).collect())
        .collect()
}

#[tokio::test]
async fn aggregates_have_cassandra_names_types_and_values() {
    let mut s = Session::new().await;
    s.ok("CREATE TABLE t (a int, b int, c double, d decimal, e smallint, f tinyint, primary key (a, b))")
        .await;
    let r = s.select("SELECT COUNT(*) FROM t").await;
    assert_eq!((r.names, r.rows), (vec!["count".to_string()], table(&[&["0"]])));
    let q = "SELECT max(b), min(b), sum(b), avg(b), max(c), sum(c), avg(c), sum(d), avg(d), \
             max(e), min(e), sum(e), avg(e), max(f), min(f), sum(f), avg(f) FROM t";
    let r = s.select(q).await;
    assert_eq!(
        r.names,
        [
            "system.max(b)",
            "system.min(b)",
            "system.sum(b)",
            "system.avg(b)",
            "system.max(c)",
            "system.sum(c)",
            "system.avg(c)",
            "system.sum(d)",
            "system.avg(d)",
            "system.max(e)",
            "system.min(e)",
            "system.sum(e)",
            "system.avg(e)",
            "system.max(f)",
            "system.min(f)",
            "system.sum(f)",
            "system.avg(f)"
        ]
    );
    assert_eq!(
        r.types,
        [
            "int", "int", "int", "int", "double", "double", "double", "decimal", "decimal", "smallint",
            "smallint", "smallint", "smallint", "tinyint", "tinyint", "tinyint", "tinyint"
        ]
    );
    assert_eq!(
        r.rows,
        table(&[&[
            "null", "null", "0", "0", "null", "0.0", "0.0", "0", "0", "null", "null", "0", "0", "null",
            "null", "0", "0"
        ]])
    );
    s.ok("INSERT INTO t (a, b, c, d, e, f) VALUES (1, 1, 11.5, 11.5, 1, 1)")
        .await;
    s.ok("INSERT INTO t (a, b, c, d, e, f) VALUES (1, 2, 9.5, 1.5, 2, 2)")
        .await;
    s.ok("INSERT INTO t (a, b, c, d, e, f) VALUES (1, 3, 9.0, 2.0, 3, 3)")
        .await;
    assert_eq!(
        s.rows(q).await,
        table(&[&[
            "3", "1", "6", "2", "11.5", "30.0", "10.0", "15.0", "5.0", "3", "1", "6", "2", "3", "1", "6", "2"
        ]])
    );
    s.ok("INSERT INTO t (a, b, d) VALUES (1, 5, 1.0)").await;
    assert_eq!(s.rows("SELECT COUNT(*) FROM t").await, table(&[&["4"]]));
    let r = s.select("SELECT COUNT(1) FROM t").await;
    assert_eq!((r.names, r.rows), (vec!["count".to_string()], table(&[&["4"]])));
    let r = s
        .select("SELECT COUNT(b), count(c), count(e), count(f) FROM t")
        .await;
    assert_eq!(
        r.names,
        [
            "system.count(b)",
            "system.count(c)",
            "system.count(e)",
            "system.count(f)"
        ]
    );
    assert_eq!(r.rows, table(&[&["4", "3", "3", "3"]]));
    // LIMIT applies to the aggregated rows, not to the rows counted.
    assert_eq!(s.rows("SELECT count(*) FROM t LIMIT 1").await, table(&[&["4"]]));
    // Plain columns next to aggregates take the first row's values.
    assert_eq!(
        s.rows("SELECT b, count(*), max(c) AS m FROM t WHERE a = 1 AND b > 1")
            .await,
        table(&[&["2", "3", "9.5"]])
    );
    let r = s.select("SELECT count(*) AS n, max(b) AS top FROM t").await;
    assert_eq!(r.names, ["n", "top"]);
    // An aggregate query ignores the page size and returns a single page.
    let r = s.paged("SELECT count(*) FROM t", 1, None).await;
    assert_eq!((r.rows, r.paging_state), (table(&[&["4"]]), None));
    assert_eq!(
        s.err("SELECT max(sum(c)) FROM t").await,
        "aggregate functions cannot be used as arguments of aggregate functions"
    );
    assert!(
        s.err("SELECT sum(a) FROM t WHERE a = 1 GROUP BY q")
            .await
            .contains("Undefined column name q")
    );
    assert!(
        s.err("SELECT toUnixTimestamp(max(b), b) FROM t")
            .await
            .starts_with(
                "Invalid call to function system.tounixtimestamp, none of its type signatures match"
            )
    );
    assert_eq!(
        s.err("SELECT intAsBlob(b, b) FROM t").await,
        "Invalid number of arguments in call to function system.intasblob: 1 required but 2 provided"
    );
    assert!(
        s.err("SELECT sum(1) FROM t")
            .await
            .starts_with("Ambiguous call to function system.sum")
    );
    let e = s.err("SELECT avg(d), sum(ascii_col) FROM t").await;
    assert!(e.contains("Undefined column name ascii_col"), "{e}");
}

#[tokio::test]
async fn nested_and_scalar_functions() {
    let mut s = Session::new().await;
    s.ok("CREATE TABLE f (a int primary key, b timeuuid, c double, d double, t timestamp, dt date, bl blob, m map<text, int>, st set<int>)")
        .await;
    let r = s.select("SELECT max(a), max(toUnixTimestamp(b)) FROM f").await;
    assert_eq!(
        r.names,
        ["system.max(a)", "system.max(system.tounixtimestamp(b))"]
    );
    assert_eq!(r.rows, table(&[&["null", "null"]]));
    let r = s.select("SELECT max(a), toUnixTimestamp(max(b)) FROM f").await;
    assert_eq!(
        r.names,
        ["system.max(a)", "system.tounixtimestamp(system.max(b))"]
    );
    s.ok("INSERT INTO f (a, b, c, d, t, dt, bl, m, st) VALUES (1, maxTimeuuid('2011-02-03 04:05:00+0000'), -1.2, 2.1, '2011-02-03 04:05:00+0000', '2011-02-03', 0x0000002a, {'x': 1, 'y': 2, 'z': 3}, {1, 5, 9})")
        .await;
    s.ok("INSERT INTO f (a, b, c, d) VALUES (3, maxTimeuuid('2011-02-03 04:10:00+0000'), 1.4, 1.2)")
        .await;
    let ms = "1296706200000";
    assert_eq!(
        s.rows("SELECT max(a), max(toUnixTimestamp(b)) FROM f").await,
        table(&[&["3", ms]])
    );
    assert_eq!(
        s.rows("SELECT max(a), toUnixTimestamp(max(b)) FROM f").await,
        table(&[&["3", ms]])
    );
    let r = s
        .select("SELECT toTimestamp(b), toDate(b), dateOf(b), unixTimestampOf(b), toDate(t), toTimestamp(dt), toUnixTimestamp(dt) FROM f WHERE a = 1")
        .await;
    assert_eq!(
        r.names,
        [
            "system.totimestamp(b)",
            "system.todate(b)",
            "system.dateof(b)",
            "system.unixtimestampof(b)",
            "system.todate(t)",
            "system.totimestamp(dt)",
            "system.tounixtimestamp(dt)"
        ]
    );
    assert_eq!(
        r.types,
        [
            "timestamp",
            "date",
            "timestamp",
            "bigint",
            "date",
            "timestamp",
            "bigint"
        ]
    );
    assert_eq!(
        r.rows,
        table(&[&[
            "'2011-02-03 04:05:00.000000+0000'",
            "'2011-02-03'",
            "'2011-02-03 04:05:00.000000+0000'",
            "1296705900000",
            "'2011-02-03'",
            "'2011-02-03 00:00:00.000000+0000'",
            "1296691200000"
        ]])
    );
    // 5.0 snake-case spellings resolve to the same functions.
    let r = s
        .select("SELECT to_timestamp(b), to_unix_timestamp(t) FROM f WHERE a = 1")
        .await;
    assert_eq!(r.names, ["system.to_timestamp(b)", "system.to_unix_timestamp(t)"]);
    assert_eq!(
        r.rows,
        table(&[&["'2011-02-03 04:05:00.000000+0000'", "1296705900000"]])
    );

    let r = s
        .select("SELECT now(), uuid(), currentTimestamp(), currentDate(), currentTime(), currentTimeUUID() FROM f WHERE a = 1")
        .await;
    assert_eq!(
        r.names,
        [
            "system.now()",
            "system.uuid()",
            "system.currenttimestamp()",
            "system.currentdate()",
            "system.currenttime()",
            "system.currenttimeuuid()"
        ]
    );
    assert_eq!(
        r.types,
        ["timeuuid", "uuid", "timestamp", "date", "time", "timeuuid"]
    );
    let r = s
        .select("SELECT minTimeuuid('2011-02-03 04:05:00+0000') AS lo, maxTimeuuid(t) FROM f WHERE a = 1")
        .await;
    assert_eq!(r.names, ["lo", "system.maxtimeuuid(t)"]);
    assert_eq!(r.types, ["timeuuid", "timeuuid"]);

    let r = s
        .select("SELECT blobAsInt(bl), intAsBlob(a), textAsBlob('hi'), blobAsText(textAsBlob('hi')) FROM f WHERE a = 1")
        .await;
    assert_eq!(
        r.names,
        [
            "system.blobasint(bl)",
            "system.intasblob(a)",
            "system.textasblob('hi')",
            "system.blobastext(system.textasblob('hi'))"
        ]
    );
    assert_eq!(r.types, ["int", "blob", "blob", "text"]);
    assert_eq!(r.rows, table(&[&["42", "0x00000001", "0x6869", "'hi'"]]));
    assert_eq!(
        s.err("SELECT blobAsBigint(bl) FROM f WHERE a = 1").await,
        "In call to function system.blobasbigint, value 0x0000002a is not a valid binary representation for type bigint"
    );

    let r = s
        .select("SELECT token(a), toJson(m), toJson(st), toJson(c) FROM f WHERE a = 1")
        .await;
    assert_eq!(
        r.names,
        [
            "system.token(a)",
            "system.tojson(m)",
            "system.tojson(st)",
            "system.tojson(c)"
        ]
    );
    assert_eq!(r.types, ["bigint", "text", "text", "text"]);
    let token = mica_types::Token::for_key(&1i32.to_be_bytes()).0;
    assert_eq!(
        r.rows,
        table(&[&[
            &token.to_string(),
            "'{\"x\": 1, \"y\": 2, \"z\": 3}'",
            "'[1, 5, 9]'",
            "'-1.2'"
        ]])
    );

    // Collection element and slice selection, and writetime/ttl.
    let r = s
        .select("SELECT m['y'], m['q'], m['x'..'y'], st[5], st[2..], st[..5] FROM f WHERE a = 1")
        .await;
    assert_eq!(
        r.names,
        ["m['y']", "m['q']", "m['x'..'y']", "st[5]", "st[2..]", "st[..5]"]
    );
    assert_eq!(
        r.types,
        ["int", "int", "map<text, int>", "int", "set<int>", "set<int>"]
    );
    assert_eq!(
        r.rows,
        table(&[&["2", "null", "{'x': 1, 'y': 2}", "5", "{5, 9}", "{1, 5}"]])
    );
    s.ok("UPDATE f USING TTL 1000 AND TIMESTAMP 1234 SET c = 2.5 WHERE a = 4")
        .await;
    let r = s
        .select("SELECT writetime(c), ttl(c), ttl(d) FROM f WHERE a = 4")
        .await;
    assert_eq!(r.names, ["writetime(c)", "ttl(c)", "ttl(d)"]);
    assert_eq!(r.types, ["bigint", "int", "int"]);
    assert_eq!(r.rows[0][0], "1234");
    assert!(r.rows[0][1] == "1000" || r.rows[0][1] == "999", "{:?}", r.rows);
    assert_eq!(r.rows[0][2], "null");
    assert_eq!(
        s.err("SELECT writetime(m) FROM f").await,
        "Cannot use selection function writeTime on non-frozen collection m"
    );
    assert_eq!(
        s.err("SELECT ttl(a) FROM f").await,
        "Cannot use selection function ttl on PRIMARY KEY part a"
    );

    // Errors of function resolution.
    assert_eq!(
        s.err("SELECT nosuch(a) FROM f").await,
        "Unknown function 'nosuch'"
    );
    assert_eq!(
        s.err("SELECT fromJson('1') FROM f").await,
        "fromjson() cannot be used in the selection clause of a SELECT statement"
    );
    assert_eq!(
        s.err("SELECT intAsBlob(c) FROM f").await,
        "Type error: c cannot be passed as argument 0 of function system.intasblob of type int"
    );
    assert!(
        s.err("SELECT toDate(a) FROM f").await.starts_with(
            "Invalid call to function system.todate, none of its type signatures match (known type signatures: system.todate : (timeuuid) -> date, system.todate : (timestamp) -> date)"
        )
    );
    assert!(
        s.err("SELECT toUnixTimestamp('2011-02-03') FROM f")
            .await
            .starts_with("Ambiguous call to function system.tounixtimestamp")
    );
    assert_eq!(
        s.err("SELECT 'const' FROM f").await,
        "Cannot infer type for term 'const' in selection clause (try using a cast to force a type)"
    );
    assert_eq!(
        s.err("SELECT a, 42 FROM f").await,
        "Cannot infer type for term 42 in selection clause (try using a cast to force a type)"
    );
    let r = s
        .select("SELECT (text)'const', (smallint)42, (int)-1 FROM f WHERE a = 1")
        .await;
    assert_eq!(r.names, ["(text)'const'", "(smallint)42", "(int)-1"]);
    assert_eq!(r.types, ["text", "smallint", "int"]);
    assert_eq!(r.rows, table(&[&["'const'", "42", "-1"]]));
}

#[tokio::test]
async fn casts_and_arithmetic() {
    let mut s = Session::new().await;
    s.ok("CREATE TABLE n (a tinyint, b smallint, c int, d bigint, e float, f double, g varint, h decimal, t text, PRIMARY KEY (a, b))")
        .await;
    s.ok("INSERT INTO n (a, b, c, d, e, f, g, h, t) VALUES (1, 2, 3, 4, 5.5, 6.5, 7, 8.5, 'x')")
        .await;
    let r = s.select("SELECT CAST(b AS int), CAST(c AS int), CAST(d AS double), CAST(e AS text), CAST(f AS varint) FROM n").await;
    assert_eq!(
        r.names,
        [
            "cast(b as int)",
            "c",
            "cast(d as double)",
            "cast(e as text)",
            "cast(f as varint)"
        ]
    );
    assert_eq!(r.types, ["int", "int", "double", "text", "varint"]);
    assert_eq!(r.rows, table(&[&["2", "3", "4.0", "'5.5'", "6"]]));
    assert_eq!(
        s.err("SELECT CAST(t AS int) FROM n").await,
        "t cannot be cast to int"
    );
    let r = s
        .select("SELECT avg(cast(c as double)), cast(count(*) as int) FROM n")
        .await;
    assert_eq!(r.names, ["system.avg(cast(c as double))", "cast(count as int)"]);
    assert_eq!(r.rows, table(&[&["3.0", "1"]]));

    let r = s
        .select("SELECT a + a, b + a, c + a, d + a, e + a, f + a, g + a, h + a FROM n WHERE a = 1 AND b = 2")
        .await;
    assert_eq!(
        r.names,
        [
            "a + a", "b + a", "c + a", "d + a", "e + a", "f + a", "g + a", "h + a"
        ]
    );
    assert_eq!(
        r.types,
        [
            "tinyint", "smallint", "int", "bigint", "float", "double", "varint", "decimal"
        ]
    );
    assert_eq!(r.rows, table(&[&["2", "3", "4", "5", "6.5", "7.5", "8", "9.5"]]));
    let r = s.select("SELECT a + 1, d * 2, e + 5.5, h / c, c % 2, -c, (c + 1) * 2, c + 1 * 2, 1 + 1 FROM n WHERE a = 1 AND b = 2").await;
    assert_eq!(
        r.names,
        [
            "a + 1",
            "d * 2",
            "e + 5.5",
            "h / c",
            "c % 2",
            "-c",
            "(c + 1) * 2",
            "c + 1 * 2",
            "1 + 1"
        ]
    );
    assert_eq!(
        r.types,
        [
            "int", "bigint", "double", "decimal", "int", "int", "int", "int", "int"
        ]
    );
    assert_eq!(
        r.rows,
        table(&[&[
            "2",
            "8",
            "11.0",
            "2.833333333333333333333333333333333",
            "1",
            "-3",
            "8",
            "5",
            "2"
        ]])
    );
    assert_eq!(
        s.err("SELECT c / 0 FROM n").await,
        "the operation 'int / int' failed: / by zero"
    );
    let err = s
        .engine
        .prepare(&s.state, "SELECT c + ? FROM n", None)
        .expect_err("an untyped marker operand is ambiguous");
    assert_eq!(
        err.to_string(),
        "Ambiguous '+' operation: use type casts to disambiguate"
    );
    assert_eq!(
        s.err("SELECT t + c FROM n").await,
        "the '+' operation is not supported between t and c"
    );
}

#[tokio::test]
async fn udt_fields_and_select_json() {
    let mut s = Session::new().await;
    s.ok("CREATE TYPE addr (street text, \"Zip\" int)").await;
    s.ok("CREATE TABLE u (k int PRIMARY KEY, \"Name\" text, a frozen<addr>, l list<int>, ts timestamp)")
        .await;
    s.ok("INSERT INTO u (k, \"Name\", a, l, ts) VALUES (1, 'bob', {street: 'Main', \"Zip\": 42}, [3, 1], '2020-01-02 03:04:05.006+0000')")
        .await;
    let r = s.select("SELECT a.street, a.\"Zip\" AS z FROM u").await;
    assert_eq!(r.names, ["a.street", "z"]);
    assert_eq!(r.types, ["text", "int"]);
    assert_eq!(r.rows, table(&[&["'Main'", "42"]]));
    assert_eq!(
        s.err("SELECT k.street FROM u").await,
        "Invalid field selection: k of type int is not a user type"
    );
    assert_eq!(
        s.err("SELECT a.nope FROM u").await,
        "a of type frozen<addr> has no field nope"
    );

    let r = s.select("SELECT JSON * FROM u").await;
    assert_eq!(
        (r.names.clone(), r.types.clone()),
        (vec!["[json]".to_string()], vec!["text".to_string()])
    );
    assert_eq!(
        r.rows,
        table(&[&[
            "'{\"k\": 1, \"\\\"Name\\\"\": \"bob\", \"a\": {\"street\": \"Main\", \"\\\"Zip\\\"\": 42}, \"l\": [3, 1], \"ts\": \"2020-01-02 03:04:05.006Z\"}'"
        ]])
    );
    let r = s
        .select("SELECT JSON k, \"Name\" AS n, ttl(\"Name\"), count(*) FROM u")
        .await;
    assert_eq!(
        r.rows,
        // Names that are not all lower case are quoted, as for case-sensitive columns.
        table(&[&["'{\"k\": 1, \"n\": \"bob\", \"\\\"ttl(Name)\\\"\": null, \"count\": 1}'"]])
    );
}

async fn group_by_fixture(s: &mut Session) {
    s.ok("CREATE TABLE g (a int, b int, c int, d int, e int, primary key (a, b, c, d))")
        .await;
    for (a, b, c, d, e) in [
        (1, 2, 1, 3, 6),
        (1, 2, 2, 6, 12),
        (1, 3, 2, 12, 24),
        (1, 4, 2, 12, 24),
        (1, 4, 2, 6, 12),
        (2, 2, 3, 3, 6),
        (2, 4, 3, 6, 12),
        (3, 3, 2, 12, 24),
        (4, 8, 2, 12, 24),
    ] {
        s.ok(&format!(
            "INSERT INTO g (a, b, c, d, e) VALUES ({a}, {b}, {c}, {d}, {e})"
        ))
        .await;
    }
    s.ok("DELETE FROM g WHERE a = 1 AND b = 3 AND c = 2 AND d = 12")
        .await;
    s.ok("DELETE FROM g WHERE a = 3").await;
}

/// Rows of a range query sorted by partition key, since token order depends on the partitioner.
fn by_key(mut rows: Vec<Vec<String>>) -> Vec<Vec<String>> {
    rows.sort_by_key(|r| r[0].parse::<i64>().unwrap_or_default());
    rows
}

#[tokio::test]
async fn group_by_matches_cassandra() {
    let mut s = Session::new().await;
    group_by_fixture(&mut s).await;
    assert_eq!(
        by_key(s.rows("SELECT a, b, e, count(b), max(e) FROM g GROUP BY a").await),
        table(&[
            &["1", "2", "6", "4", "24"],
            &["2", "2", "6", "2", "12"],
            &["4", "8", "24", "1", "24"]
        ])
    );
    assert_eq!(
        by_key(
            s.rows("SELECT a, b, e, count(b), max(e) FROM g GROUP BY a, b")
                .await
        ),
        table(&[
            &["1", "2", "6", "2", "12"],
            &["1", "4", "12", "2", "24"],
            &["2", "2", "6", "1", "6"],
            &["2", "4", "12", "1", "12"],
            &["4", "8", "24", "1", "24"]
        ])
    );
    assert_eq!(
        by_key(
            s.rows("SELECT a, b, e, count(b), max(e) FROM g WHERE b = 2 GROUP BY a, b ALLOW FILTERING")
                .await
        ),
        table(&[&["1", "2", "6", "2", "12"], &["2", "2", "6", "1", "6"]])
    );
    assert!(
        s.rows("SELECT a, b, e, count(b), max(e) FROM g WHERE b IN () GROUP BY a, b ALLOW FILTERING")
            .await
            .is_empty()
    );
    assert_eq!(
        by_key(s.rows("SELECT a, b, c, d FROM g GROUP BY a, b").await),
        table(&[
            &["1", "2", "1", "3"],
            &["1", "4", "2", "6"],
            &["2", "2", "3", "3"],
            &["2", "4", "3", "6"],
            &["4", "8", "2", "12"]
        ])
    );
    assert_eq!(
        by_key(
            s.rows("SELECT a, b, e, count(b), max(e) FROM g GROUP BY a, b PER PARTITION LIMIT 1")
                .await
        ),
        table(&[
            &["1", "2", "6", "2", "12"],
            &["2", "2", "6", "1", "6"],
            &["4", "8", "24", "1", "24"]
        ])
    );
    assert_eq!(
        by_key(s.rows("SELECT DISTINCT a, count(a) FROM g GROUP BY a").await),
        table(&[&["1", "1"], &["2", "1"], &["4", "1"]])
    );
    // Single partition queries.
    assert_eq!(
        s.rows("SELECT a, b, e, count(b), max(e) FROM g WHERE a = 1 GROUP BY a, b, c")
            .await,
        table(&[
            &["1", "2", "6", "1", "6"],
            &["1", "2", "12", "1", "12"],
            &["1", "4", "12", "2", "24"]
        ])
    );
    assert_eq!(
        s.rows("SELECT a, b, e, count(b), max(e) FROM g WHERE a = 1 AND b = 2 GROUP BY c")
            .await,
        table(&[&["1", "2", "6", "1", "6"], &["1", "2", "12", "1", "12"]])
    );
    assert_eq!(
        s.rows("SELECT count(b), max(e) FROM g WHERE a = 1 GROUP BY a, b, c LIMIT 1")
            .await,
        table(&[&["1", "6"]])
    );
    assert_eq!(
        s.rows("SELECT a, b, c, d FROM g WHERE a = 1 and token(a) = token(1) GROUP BY b, c")
            .await,
        table(&[
            &["1", "2", "1", "3"],
            &["1", "2", "2", "6"],
            &["1", "4", "2", "6"]
        ])
    );
    assert_eq!(
        s.rows(
            "SELECT a, b, e, count(b), max(e) FROM g WHERE a = 1 GROUP BY a, b, c ORDER BY b DESC, c DESC"
        )
        .await,
        table(&[
            &["1", "4", "24", "2", "24"],
            &["1", "2", "12", "1", "12"],
            &["1", "2", "6", "1", "6"]
        ])
    );
    // Multi-partition queries, sorted across partitions by ORDER BY.
    assert_eq!(
        s.rows("SELECT a, b, e, count(b), max(e) FROM g WHERE a IN (4, 2, 1) GROUP BY a, b, c")
            .await,
        table(&[
            &["1", "2", "6", "1", "6"],
            &["1", "2", "12", "1", "12"],
            &["1", "4", "12", "2", "24"],
            &["2", "2", "6", "1", "6"],
            &["2", "4", "12", "1", "12"],
            &["4", "8", "24", "1", "24"]
        ])
    );
    assert_eq!(
        s.rows("SELECT a, b, c, count(b), max(e) FROM g WHERE a IN (1, 2, 4) GROUP BY a, b ORDER BY b DESC, c DESC").await,
        table(&[
            &["4", "8", "2", "1", "24"],
            &["2", "4", "3", "1", "12"],
            &["1", "4", "2", "2", "24"],
            &["2", "2", "3", "1", "6"],
            &["1", "2", "2", "2", "12"]
        ])
    );
    assert_eq!(
        s.rows(
            "SELECT a, b, c, d FROM g WHERE a IN (1, 2, 4) GROUP BY a, b, c ORDER BY b DESC, c DESC LIMIT 3"
        )
        .await,
        table(&[
            &["4", "8", "2", "12"],
            &["2", "4", "3", "6"],
            &["1", "4", "2", "12"]
        ])
    );

    // Invalid queries.
    for (q, msg) in [
        (
            "SELECT a, b, d, count(b), max(c) FROM g WHERE a = 1 GROUP BY a, e",
            "Group by is currently only supported on the columns of the PRIMARY KEY, got e",
        ),
        (
            "SELECT a, b, d, count(b), max(c) FROM g WHERE a = 1 GROUP BY c",
            "Group by currently only support groups of columns following their declared order in the PRIMARY KEY",
        ),
        (
            "SELECT a, b, d, count(b), max(c) FROM g WHERE a = 1 GROUP BY a, c, b",
            "Group by currently only support groups of columns following their declared order in the PRIMARY KEY",
        ),
        (
            "SELECT a, b, d, count(b), max(c) FROM g WHERE a = 1 GROUP BY a, a",
            "Group by currently only support groups of columns following their declared order in the PRIMARY KEY",
        ),
        (
            "SELECT a, b, c, d FROM g WHERE token(a) = token(1) GROUP BY b, c",
            "Group by currently only support groups of columns following their declared order in the PRIMARY KEY",
        ),
        (
            "SELECT a, b as clustering1, max(c) FROM g WHERE a = 1 GROUP BY a, clustering1",
            "Undefined column name clustering1",
        ),
        (
            "SELECT DISTINCT a, count(a) FROM g GROUP BY a, b",
            "Grouping on clustering columns is not allowed for SELECT DISTINCT queries",
        ),
        (
            "SELECT a, b, c, count(b), max(e) FROM g GROUP BY a, b ORDER BY b DESC, c DESC",
            "ORDER BY is only supported when the partition key is restricted by an EQ or an IN.",
        ),
    ] {
        assert_eq!(s.err(q).await, msg, "{q}");
    }
    s.ok("CREATE TABLE g2 (a int, b int, c int, d int, e int, primary key ((a, b), c, d))")
        .await;
    assert_eq!(
        s.err("SELECT a, b, max(d) FROM g2 GROUP BY a").await,
        "Group by is not supported on only a part of the partition key"
    );
}

#[tokio::test]
async fn group_by_pages_by_groups() {
    let mut s = Session::new().await;
    group_by_fixture(&mut s).await;
    let q = "SELECT a, b, count(*) FROM g WHERE a = 1 GROUP BY a, b, c";
    let first = s.paged(q, 2, None).await;
    assert_eq!(first.rows, table(&[&["1", "2", "1"], &["1", "2", "1"]]));
    assert!(first.paging_state.is_some());
    let second = s.paged(q, 2, first.paging_state).await;
    assert_eq!(second.rows, table(&[&["1", "4", "2"]]));
    assert_eq!(second.paging_state, None);
    // Across partitions and with a LIMIT counting groups.
    let q = "SELECT a, b, max(e) FROM g GROUP BY a, b LIMIT 4";
    let mut all = Vec::new();
    let mut state = None;
    loop {
        let page = s.paged(q, 1, state).await;
        assert!(page.rows.len() <= 1);
        all.extend(page.rows);
        state = page.paging_state;
        if state.is_none() {
            break;
        }
    }
    assert_eq!(all.len(), 4);
    let full = s.rows("SELECT a, b, max(e) FROM g GROUP BY a, b LIMIT 4").await;
    assert_eq!(all, full);
}

#[tokio::test]
async fn static_columns_distinct_and_group_by() {
    let mut s = Session::new().await;
    s.ok("CREATE TABLE st (a int, b int, c int, s int static, d int, primary key (a, b, c))")
        .await;
    s.ok("UPDATE st SET s = 1 WHERE a = 1").await;
    s.ok("UPDATE st SET s = 2 WHERE a = 2").await;
    s.ok("UPDATE st SET s = 3 WHERE a = 4").await;
    assert_eq!(
        by_key(
            s.rows("SELECT a, b, s, count(b), count(s) FROM st GROUP BY a")
                .await
        ),
        table(&[
            &["1", "null", "1", "0", "1"],
            &["2", "null", "2", "0", "1"],
            &["4", "null", "3", "0", "1"]
        ])
    );
    assert_eq!(
        by_key(s.rows("SELECT DISTINCT a, s, count(s) FROM st GROUP BY a").await),
        table(&[&["1", "1", "1"], &["2", "2", "1"], &["4", "3", "1"]])
    );
    s.ok("INSERT INTO st (a, b, c, d) VALUES (1, 2, 1, 3)").await;
    s.ok("INSERT INTO st (a, b, c, d) VALUES (1, 2, 2, 6)").await;
    s.ok("INSERT INTO st (a, b, c, d) VALUES (5, 8, 2, 12)").await;
    assert_eq!(
        s.rows("SELECT a, b, s, count(b), count(s) FROM st WHERE a = 1 GROUP BY a, b")
            .await,
        table(&[&["1", "2", "1", "2", "2"]])
    );
    // A clustering restriction hides partitions that only have static content.
    assert!(s.rows("SELECT * FROM st WHERE a = 2 AND b = 1").await.is_empty());
    assert_eq!(
        s.rows("SELECT a, b, s FROM st WHERE a = 2").await,
        table(&[&["2", "null", "2"]])
    );
    assert_eq!(
        by_key(s.rows("SELECT DISTINCT a, s FROM st").await),
        table(&[&["1", "1"], &["2", "2"], &["4", "3"], &["5", "null"]])
    );
    assert_eq!(
        s.rows("SELECT DISTINCT a FROM st WHERE a IN (1, 5)").await,
        table(&[&["1"], &["5"]])
    );
    for (q, msg) in [
        (
            "SELECT DISTINCT a, b FROM st",
            "SELECT DISTINCT queries must only request partition key columns and/or static columns (not b)",
        ),
        (
            "SELECT DISTINCT * FROM st",
            "SELECT DISTINCT queries must only request partition key columns and/or static columns (not b)",
        ),
        (
            "SELECT DISTINCT s FROM st",
            "SELECT DISTINCT queries must request all the partition key columns (missing a)",
        ),
        (
            "SELECT DISTINCT a FROM st WHERE a = 1 AND b = 2",
            "SELECT DISTINCT with WHERE clause only supports restriction by partition key and/or static columns.",
        ),
    ] {
        assert_eq!(s.err(q).await, msg, "{q}");
    }
    // DISTINCT pages by partition.
    let first = s.paged("SELECT DISTINCT a FROM st", 2, None).await;
    assert_eq!(first.rows.len(), 2);
    let second = s.paged("SELECT DISTINCT a FROM st", 2, first.paging_state).await;
    assert_eq!((second.rows.len(), second.paging_state), (2, None));
}

#[tokio::test]
async fn clustering_slices_and_multi_column_relations() {
    let mut s = Session::new().await;
    s.ok("CREATE TABLE c (k int, c1 int, c2 int, v int, PRIMARY KEY (k, c1, c2))")
        .await;
    s.ok("CREATE TABLE cd (k int, c1 int, c2 int, v int, PRIMARY KEY (k, c1, c2)) WITH CLUSTERING ORDER BY (c1 DESC, c2 ASC)")
        .await;
    for t in ["c", "cd"] {
        for c1 in 0..4 {
            for c2 in 0..3 {
                s.ok(&format!(
                    "INSERT INTO {t} (k, c1, c2, v) VALUES (1, {c1}, {c2}, {})",
                    c1 * 10 + c2
                ))
                .await;
            }
        }
    }
    let pairs = |rows: Vec<Vec<String>>| -> Vec<(i32, i32)> {
        rows.iter()
            .map(|r| (r[0].parse().expect("int"), r[1].parse().expect("int")))
            .collect()
    };
    // Ascending table.
    assert_eq!(
        pairs(
            s.rows("SELECT c1, c2 FROM c WHERE k = 1 AND c1 > 1 AND c1 <= 2")
                .await
        ),
        [(2, 0), (2, 1), (2, 2)]
    );
    assert_eq!(
        pairs(
            s.rows("SELECT c1, c2 FROM c WHERE k = 1 AND c1 = 1 AND c2 >= 1")
                .await
        ),
        [(1, 1), (1, 2)]
    );
    assert_eq!(
        pairs(
            s.rows("SELECT c1, c2 FROM c WHERE k = 1 AND c1 IN (3, 0) AND c2 < 1")
                .await
        ),
        [(0, 0), (3, 0)]
    );
    assert_eq!(
        pairs(
            s.rows("SELECT c1, c2 FROM c WHERE k = 1 AND (c1, c2) > (2, 1)")
                .await
        ),
        [(2, 2), (3, 0), (3, 1), (3, 2)]
    );
    assert_eq!(
        pairs(
            s.rows("SELECT c1, c2 FROM c WHERE k = 1 AND (c1, c2) >= (1, 2) AND (c1, c2) < (2, 1)")
                .await
        ),
        [(1, 2), (2, 0)]
    );
    assert_eq!(
        pairs(
            s.rows("SELECT c1, c2 FROM c WHERE k = 1 AND (c1, c2) IN ((3, 1), (0, 2), (9, 9))")
                .await
        ),
        [(0, 2), (3, 1)]
    );
    assert_eq!(
        pairs(
            s.rows("SELECT c1, c2 FROM c WHERE k = 1 AND c1 > 2 ORDER BY c1 DESC")
                .await
        ),
        [(3, 2), (3, 1), (3, 0)]
    );
    // Descending first clustering column.
    assert_eq!(
        pairs(
            s.rows("SELECT c1, c2 FROM cd WHERE k = 1 AND c1 > 1 AND c1 <= 3")
                .await
        ),
        [(3, 0), (3, 1), (3, 2), (2, 0), (2, 1), (2, 2)]
    );
    assert_eq!(
        pairs(
            s.rows("SELECT c1, c2 FROM cd WHERE k = 1 AND (c1, c2) > (2, 1)")
                .await
        ),
        [(3, 0), (3, 1), (3, 2), (2, 2)]
    );
    assert_eq!(
        pairs(
            s.rows("SELECT c1, c2 FROM cd WHERE k = 1 AND c1 = 2 AND c2 > 0 ORDER BY c1 ASC")
                .await
        ),
        [(2, 2), (2, 1)]
    );
    // Paging through a slice.
    let q = "SELECT c1, c2 FROM c WHERE k = 1 AND c1 >= 1";
    let mut got = Vec::new();
    let mut state = None;
    loop {
        let page = s.paged(q, 4, state).await;
        got.extend(pairs(page.rows));
        state = page.paging_state;
        if state.is_none() {
            break;
        }
    }
    assert_eq!(got.len(), 9);
    assert_eq!(got.first(), Some(&(1, 0)));
    assert_eq!(got.last(), Some(&(3, 2)));
    // A bound marker list for a multi-column IN, prepared.
    let prepared = s
        .engine
        .prepare(
            &s.state,
            "SELECT c1, c2 FROM c WHERE k = ? AND (c1, c2) IN ?",
            None,
        )
        .expect("prepares");
    let names: Vec<String> = prepared.metadata.columns.iter().map(|c| c.name.clone()).collect();
    assert_eq!(names, ["k", "in((c1,c2))"]);
    assert_eq!(
        prepared.metadata.columns[1].typ.cql_name(),
        "list<frozen<tuple<int, int>>>"
    );
}

#[tokio::test]
async fn restriction_errors_match_cassandra() {
    let mut s = Session::new().await;
    s.ok("CREATE TABLE r (a int, b int, c int, d int, m map<int, int>, l list<int>, PRIMARY KEY (a, b, c))")
        .await;
    s.ok("INSERT INTO r (a, b, c, d, m, l) VALUES (1, 2, 3, 4, {1: 10, 2: 20}, [5, 6])")
        .await;
    s.ok("INSERT INTO r (a, b, c, d, m, l) VALUES (1, 3, 4, 5, {3: 30}, [7])")
        .await;
    let af = "Cannot execute this query as it might involve data filtering and thus may have unpredictable performance. If you want to execute this query despite the performance unpredictability, use ALLOW FILTERING";
    for (q, msg) in [
        (
            "SELECT * FROM r WHERE a = 1 AND c = 3",
            "PRIMARY KEY column \"c\" cannot be restricted as preceding column \"b\" is not restricted",
        ),
        (
            "SELECT * FROM r WHERE a = 1 AND b > 1 AND c = 3",
            "Clustering column \"c\" cannot be restricted (preceding column \"b\" is restricted by a non-EQ relation)",
        ),
        (
            "SELECT * FROM r WHERE a = 1 AND c = 3 AND b > 1",
            "PRIMARY KEY column \"c\" cannot be restricted (preceding column \"b\" is restricted by a non-EQ relation)",
        ),
        ("SELECT * FROM r WHERE d = 4", af),
        ("SELECT * FROM r WHERE a = 1 AND d = 4", af),
        ("SELECT * FROM r WHERE b = 2", af),
        ("SELECT * FROM r WHERE a > 0", af),
        ("SELECT * FROM r WHERE m CONTAINS 10", af),
        (
            "SELECT * FROM r WHERE a = 1 AND b = 1 AND b = 2",
            "b cannot be restricted by more than one relation if it includes an Equal",
        ),
        (
            "SELECT * FROM r WHERE a = 1 AND b > 1 AND b > 2",
            "More than one restriction was found for the start bound on b",
        ),
        (
            "SELECT * FROM r WHERE a = 1 AND b IN (1, 2) AND b > 0",
            "b cannot be restricted by more than one relation if it includes a IN",
        ),
        (
            "SELECT * FROM r WHERE a = 1 AND b != 2",
            "Unsupported \"!=\" relation: b != 2",
        ),
        (
            "SELECT * FROM r WHERE a = 1 AND d CONTAINS 1 ALLOW FILTERING",
            "Cannot use CONTAINS on non-collection column d",
        ),
        (
            "SELECT * FROM r WHERE l CONTAINS KEY 1 ALLOW FILTERING",
            "Cannot use CONTAINS KEY on non-map column l",
        ),
        (
            "SELECT * FROM r WHERE a = 1 AND (b, d) > (1, 2)",
            "Multi-column relations can only be applied to clustering columns but was applied to: d",
        ),
        (
            "SELECT * FROM r WHERE a = 1 AND (c, b) > (1, 2)",
            "Clustering columns must appear in the PRIMARY KEY order in multi-column relations: (c, b) > (1, 2)",
        ),
        (
            "SELECT * FROM r WHERE a = 1 AND (b, c) > (1, 2, 3)",
            "Expected 2 elements in value tuple, but got 3: (1, 2, 3)",
        ),
        ("SELECT * FROM r WHERE zz = 1", "Undefined column name zz"),
        (
            "SELECT * FROM r WHERE a = null",
            "Invalid null value in condition for column a",
        ),
        (
            "SELECT * FROM r WHERE token(b) > 0",
            "The token() function must be applied to all partition key components or none of them",
        ),
        (
            "SELECT * FROM r ORDER BY b DESC",
            "ORDER BY is only supported when the partition key is restricted by an EQ or an IN.",
        ),
        (
            "SELECT * FROM r WHERE a = 1 ORDER BY c DESC",
            "Order by currently only supports the ordering of columns following their declared order in the PRIMARY KEY",
        ),
        (
            "SELECT * FROM r WHERE a = 1 ORDER BY d DESC",
            "Order by is currently only supported on the clustered columns of the PRIMARY KEY, got d",
        ),
        (
            "SELECT * FROM r WHERE a = 1 ORDER BY b ASC, c DESC",
            "Unsupported order by relation",
        ),
        (
            "SELECT * FROM r WHERE a = 1 LIMIT 0",
            "LIMIT must be strictly positive",
        ),
    ] {
        assert_eq!(s.err(q).await, msg, "{q}");
    }
    // A null LIMIT is refused; an unset one means no limit.
    for (value, expected) in [
        (Value::Null, Err("Invalid null value of limit".to_string())),
        (Value::Unset, Ok(2)),
    ] {
        let params = QueryParameters {
            values: QueryValues::Positional(vec![value]),
            ..QueryParameters::default()
        };
        let got = match s
            .engine
            .query(&mut s.state, "SELECT * FROM r WHERE a = 1 LIMIT ?", &params)
            .await
        {
            Ok(QueryResult::Rows { rows, .. }) => Ok(rows.len()),
            Ok(other) => panic!("rows expected, got {other:?}"),
            Err(e) => Err(e.to_string()),
        };
        assert_eq!(got, expected);
    }
    // The same queries with ALLOW FILTERING.
    assert_eq!(
        s.rows("SELECT b FROM r WHERE a = 1 AND c = 3 ALLOW FILTERING")
            .await,
        table(&[&["2"]])
    );
    assert_eq!(
        s.rows("SELECT b FROM r WHERE a = 1 AND b > 1 AND c = 4 ALLOW FILTERING")
            .await,
        table(&[&["3"]])
    );
    assert_eq!(
        s.rows("SELECT b FROM r WHERE d = 4 ALLOW FILTERING").await,
        table(&[&["2"]])
    );
    assert_eq!(
        s.rows("SELECT b FROM r WHERE m CONTAINS 30 ALLOW FILTERING")
            .await,
        table(&[&["3"]])
    );
    assert_eq!(
        s.rows("SELECT b FROM r WHERE m CONTAINS KEY 2 ALLOW FILTERING")
            .await,
        table(&[&["2"]])
    );
    assert_eq!(
        s.rows("SELECT b FROM r WHERE l CONTAINS 7 ALLOW FILTERING").await,
        table(&[&["3"]])
    );
    assert_eq!(
        s.rows("SELECT b FROM r WHERE m[1] = 10 ALLOW FILTERING").await,
        table(&[&["2"]])
    );
    assert_eq!(
        s.rows("SELECT b FROM r WHERE a > 0 AND b < 3 ALLOW FILTERING")
            .await,
        table(&[&["2"]])
    );
    assert_eq!(
        s.rows("SELECT b FROM r WHERE a = 1 AND b = 2 AND c IN (3, 4)")
            .await,
        table(&[&["2"]])
    );
    assert!(s.rows("SELECT b FROM r WHERE a = 1 AND b IN ()").await.is_empty());
    assert_eq!(
        s.rows("SELECT b FROM r WHERE a = 1 AND b = 3 AND token(a) > -9223372036854775808")
            .await,
        table(&[&["3"]])
    );
}

#[tokio::test]
async fn in_with_order_by_sorts_across_partitions() {
    let mut s = Session::new().await;
    s.ok("CREATE TABLE o (k int, c int, v int, PRIMARY KEY (k, c))")
        .await;
    for (k, c) in [(1, 1), (1, 4), (2, 2), (2, 3), (3, 5)] {
        s.ok(&format!("INSERT INTO o (k, c, v) VALUES ({k}, {c}, 0)"))
            .await;
    }
    assert_eq!(
        s.rows("SELECT k, c FROM o WHERE k IN (3, 1, 2) ORDER BY c DESC")
            .await,
        table(&[&["3", "5"], &["1", "4"], &["2", "3"], &["2", "2"], &["1", "1"]])
    );
    // Without ORDER BY, partitions come in key order.
    assert_eq!(
        s.rows("SELECT k, c FROM o WHERE k IN (3, 1)").await,
        table(&[&["1", "1"], &["1", "4"], &["3", "5"]])
    );
    let params = QueryParameters {
        page_size: Some(2),
        ..QueryParameters::default()
    };
    let err = s
        .engine
        .query(
            &mut s.state,
            "SELECT k, c FROM o WHERE k IN (1, 2) ORDER BY c DESC",
            &params,
        )
        .await
        .expect_err("paging with post-query ordering is refused");
    assert!(
        err.to_string()
            .starts_with("Cannot page queries with both ORDER BY and a IN restriction")
    );
}

#[tokio::test]
async fn prepared_metadata_matches_execution() {
    let mut s = Session::new().await;
    s.ok("CREATE TABLE p (k int, c int, v double, t timeuuid, m map<text, int>, PRIMARY KEY (k, c))")
        .await;
    s.ok("INSERT INTO p (k, c, v, t, m) VALUES (1, 1, 2.5, now(), {'a': 1})")
        .await;
    let queries = [
        "SELECT k, count(*), max(v), sum(c), avg(v), toJson(m) FROM p WHERE k = ?",
        "SELECT cast(v AS text), c + 1, token(k), toTimestamp(t), m['a'] AS a FROM p WHERE k = ?",
        "SELECT JSON k, v FROM p WHERE k = ?",
        "SELECT k, c, writetime(v) FROM p WHERE k = ? AND c >= ? GROUP BY k, c",
        "SELECT DISTINCT k FROM p WHERE k = ?",
        "SELECT intAsBlob(?), k FROM p WHERE k = ?",
    ];
    for q in queries {
        let prepared = s.engine.prepare(&s.state, q, None).expect("prepares");
        let prepared_cols = prepared.result_metadata.columns.clone().expect("columns");
        let variables = prepared.metadata.columns.len();
        let mut values: Vec<Value> = Vec::new();
        for spec in &prepared.metadata.columns {
            values.push(Value::Set(Bytes::from(match spec.typ {
                CqlType::Int => 1i32.to_be_bytes().to_vec(),
                _ => panic!("unexpected variable type {}", spec.typ),
            })));
        }
        assert_eq!(values.len(), variables);
        let params = QueryParameters {
            values: QueryValues::Positional(values),
            ..QueryParameters::default()
        };
        let QueryResult::Rows { metadata, rows } = s
            .engine
            .execute(&mut s.state, &prepared.id, &params)
            .await
            .expect("executes")
        else {
            panic!("rows expected")
        };
        assert_eq!(metadata.columns.expect("columns"), prepared_cols, "{q}");
        assert_eq!(rows.len(), 1, "{q}");
    }
    let prepared = s
        .engine
        .prepare(&s.state, "SELECT intAsBlob(?), k FROM p WHERE k = ?", None)
        .expect("prepares");
    assert_eq!(prepared.metadata.columns[0].name, "arg0(system.intasblob)");
    let names: Vec<String> = prepared
        .result_metadata
        .columns
        .expect("columns")
        .iter()
        .map(|c| c.name.clone())
        .collect();
    assert_eq!(names, ["system.intasblob(?)", "k"]);
}

#[tokio::test]
async fn paging_matches_unpaged_results() {
    paging_differential(Session::new().await).await;
    // The fjall engine implements slices, reversed reads and resumed scans on its own.
    let dir = tempfile::tempdir().expect("a temporary directory");
    let fjall =
        mica_storage::FjallEngine::open(mica_storage::EngineConfig::new(dir.path())).expect("fjall opens");
    paging_differential(Session::on(engine_on(Arc::new(fjall))).await).await;
}

async fn paging_differential(mut s: Session) {
    s.ok("CREATE TABLE pg (k int, c1 int, c2 text, v int, st int static, PRIMARY KEY (k, c1, c2)) WITH CLUSTERING ORDER BY (c1 DESC, c2 ASC)")
        .await;
    for k in 0..4 {
        s.ok(&format!("UPDATE pg SET st = {k} WHERE k = {k}")).await;
        for c1 in 0..5 {
            for c2 in ["a", "b", "c"] {
                if (k + c1) % 4 != 3 {
                    s.ok(&format!(
                        "INSERT INTO pg (k, c1, c2, v) VALUES ({k}, {c1}, '{c2}', {})",
                        k * 100 + c1
                    ))
                    .await;
                }
            }
        }
    }
    s.ok("UPDATE pg SET st = 9 WHERE k = 7").await;
    let queries = [
        "SELECT * FROM pg",
        "SELECT k, c1, c2 FROM pg WHERE k = 1",
        "SELECT k, c1, c2 FROM pg WHERE k = 1 ORDER BY c1 ASC",
        "SELECT k, c1, c2 FROM pg WHERE k IN (0, 2, 7) AND c1 >= 1 AND c1 < 4",
        "SELECT k, c1, c2 FROM pg WHERE k IN (0, 1) AND c1 = 2 AND c2 > 'a'",
        "SELECT k, c1, c2 FROM pg WHERE k = 2 AND (c1, c2) > (1, 'b')",
        "SELECT k, c1, c2 FROM pg WHERE k = 2 AND (c1, c2) <= (3, 'a') ORDER BY c1 ASC",
        "SELECT k, c1, c2 FROM pg WHERE k = 3 AND c1 IN (0, 4, 2) AND c2 IN ('c', 'a')",
        "SELECT k, c1, c2 FROM pg PER PARTITION LIMIT 4",
        "SELECT k, c1, c2 FROM pg LIMIT 13",
        "SELECT k, c1, c2 FROM pg WHERE v > 100 ALLOW FILTERING",
        "SELECT k, c1, c2 FROM pg WHERE c1 > 2 ALLOW FILTERING",
        "SELECT k, c1, max(v) FROM pg GROUP BY k, c1",
        "SELECT k, count(*) FROM pg GROUP BY k PER PARTITION LIMIT 1",
        "SELECT DISTINCT k, st FROM pg",
        "SELECT k, c1, c2 FROM pg WHERE k = 1 PER PARTITION LIMIT 5 LIMIT 4",
    ];
    for q in queries {
        let expected = s.rows(q).await;
        assert!(!expected.is_empty(), "{q}");
        for page_size in [1, 2, 5, 7] {
            let mut got = Vec::new();
            let mut state = None;
            for _ in 0..1000 {
                let page = s.paged(q, page_size, state).await;
                assert!(page.rows.len() <= page_size as usize, "{q}");
                got.extend(page.rows);
                state = page.paging_state;
                if state.is_none() {
                    break;
                }
            }
            assert_eq!(got, expected, "{q} with pages of {page_size}");
        }
    }
}

#[tokio::test]
async fn pages_skip_rows_hidden_by_dropped_columns() {
    let mut s = Session::new().await;
    s.ok("CREATE TABLE h (k int, c int, v int, w int, PRIMARY KEY (k, c))")
        .await;
    for c in 0..12 {
        // Rows written by UPDATE have no row marker: they live only through their cells.
        if c % 3 == 0 {
            s.ok(&format!("UPDATE h SET w = {c} WHERE k = 1 AND c = {c}"))
                .await;
        } else {
            s.ok(&format!("UPDATE h SET v = {c} WHERE k = 1 AND c = {c}"))
                .await;
        }
    }
    s.ok("ALTER TABLE h DROP v").await;
    let expected = table(&[&["0"], &["3"], &["6"], &["9"]]);
    assert_eq!(s.rows("SELECT c FROM h WHERE k = 1").await, expected);
    for q in ["SELECT c FROM h WHERE k = 1", "SELECT c FROM h"] {
        let mut got = Vec::new();
        let mut state = None;
        loop {
            let page = s.paged(q, 1, state).await;
            got.extend(page.rows);
            state = page.paging_state;
            if state.is_none() {
                break;
            }
        }
        assert_eq!(got, expected, "{q}");
    }
}

#[tokio::test]
async fn indexed_reads_page_and_combine_with_restrictions() {
    let mut s = Session::new().await;
    s.ok("CREATE TABLE ix (k int, c int, v int, w int, PRIMARY KEY (k, c))")
        .await;
    s.ok("CREATE INDEX ON ix (v)").await;
    for k in 0..5 {
        for c in 0..4 {
            s.ok(&format!(
                "INSERT INTO ix (k, c, v, w) VALUES ({k}, {c}, {}, {c})",
                (k + c) % 2
            ))
            .await;
        }
    }
    let all = s.rows("SELECT k, c FROM ix WHERE v = 1").await;
    assert_eq!(all.len(), 10);
    let mut paged = Vec::new();
    let mut state = None;
    loop {
        let page = s.paged("SELECT k, c FROM ix WHERE v = 1", 3, state).await;
        paged.extend(page.rows);
        state = page.paging_state;
        if state.is_none() {
            break;
        }
    }
    assert_eq!(paged, all);
    assert_eq!(
        s.rows("SELECT count(*) FROM ix WHERE v = 0 AND c > 1").await,
        table(&[&["5"]])
    );
    assert_eq!(
        s.rows("SELECT c FROM ix WHERE k = 2 AND v = 1").await,
        table(&[&["1"], &["3"]])
    );
    assert!(
        s.err("SELECT * FROM ix WHERE v = 1 AND w = 1")
            .await
            .ends_with("use ALLOW FILTERING")
    );
    assert_eq!(
        s.rows("SELECT k, c FROM ix WHERE v = 1 AND w = 3 ALLOW FILTERING")
            .await
            .len(),
        3
    );
}
