//! DESCRIBE statements, ALTER TABLE / ALTER TYPE and request tracing, driven through the query engine over
//! the in-memory and fjall storage engines.

use std::sync::Arc;

use bytes::Bytes;
use mica_cql_protocol::{QueryParameters, QueryValues, Request, SchemaChangeTarget, SchemaChangeType, Value};
use mica_query::{ClientState, LocalInfo, QueryEngine, QueryError, QueryResult, TraceSession};
use mica_storage::{Engine, MemoryEngine};

fn local() -> LocalInfo {
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
        tokens: vec![-5, 7],
        password_auth: false,
        authorization: false,
    }
}

fn engine() -> Arc<QueryEngine> {
    QueryEngine::open(Arc::new(MemoryEngine::new()), local()).expect("the engine opens")
}

async fn run(e: &QueryEngine, s: &mut ClientState, q: &str) -> Result<QueryResult, QueryError> {
    e.query(s, q, &QueryParameters::default()).await
}

async fn ok(e: &QueryEngine, s: &mut ClientState, q: &str) -> QueryResult {
    match run(e, s, q).await {
        Ok(r) => r,
        Err(err) => panic!("{q}: {err}"),
    }
}

fn invalid(r: Result<QueryResult, QueryError>) -> String {
    match r {
        Err(QueryError::Invalid(m)) => m,
        other => panic!("expected InvalidRequest, got {other:?}"),
    }
}

/// Rows as text cells (every DESCRIBE column but range_ownership is text).
fn text_rows(r: QueryResult) -> Vec<Vec<String>> {
    let QueryResult::Rows { rows, .. } = r else {
        panic!("expected rows, got {r:?}")
    };
    rows.into_iter()
        .map(|row| {
            row.into_iter()
                .map(|c| String::from_utf8(c.map(|b| b.to_vec()).unwrap_or_default()).expect("utf-8"))
                .collect()
        })
        .collect()
}

fn column_names(r: &QueryResult) -> Vec<String> {
    let QueryResult::Rows { metadata, .. } = r else {
        panic!("expected rows")
    };
    metadata
        .columns
        .as_ref()
        .map(|c| c.iter().map(|s| s.name.clone()).collect())
        .unwrap_or_default()
}

fn int(v: i32) -> Option<Bytes> {
    Some(Bytes::from(v.to_be_bytes().to_vec()))
}

fn rows(r: QueryResult) -> Vec<Vec<Option<Bytes>>> {
    match r {
        QueryResult::Rows { rows, .. } => rows,
        other => panic!("expected rows, got {other:?}"),
    }
}

async fn setup(e: &QueryEngine) -> ClientState {
    let mut s = ClientState::default();
    ok(
        e,
        &mut s,
        "CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
    )
    .await;
    ok(e, &mut s, "CREATE TYPE ks.addr (street text, zip int)").await;
    ok(
        e,
        &mut s,
        "CREATE TABLE ks.t (k int, c int, v text, a frozen<addr>, PRIMARY KEY (k, c)) WITH CLUSTERING ORDER BY (c DESC)",
    )
    .await;
    ok(e, &mut s, "CREATE TABLE ks.other (id int PRIMARY KEY)").await;
    s
}

#[tokio::test]
async fn describe_listings_and_elements() {
    let e = engine();
    let mut s = setup(&e).await;

    let r = ok(&e, &mut s, "DESCRIBE KEYSPACES").await;
    assert_eq!(column_names(&r), ["keyspace_name", "type", "name"]);
    let names: Vec<String> = text_rows(r).into_iter().map(|r| r[2].clone()).collect();
    assert!(names.contains(&"ks".to_string()) && names.contains(&"system".to_string()));
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);

    let r = ok(&e, &mut s, "DESCRIBE KEYSPACE ks").await;
    assert_eq!(
        column_names(&r),
        ["keyspace_name", "type", "name", "create_statement"]
    );
    let rows = text_rows(r);
    let kinds: Vec<(&str, &str)> = rows.iter().map(|r| (r[1].as_str(), r[2].as_str())).collect();
    assert_eq!(
        kinds,
        [
            ("keyspace", "ks"),
            ("type", "addr"),
            ("table", "other"),
            ("table", "t")
        ]
    );
    assert_eq!(
        rows[0][3],
        "CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': '1'}  AND durable_writes = true;"
    );
    assert_eq!(
        rows[1][3],
        "CREATE TYPE ks.addr (\n    street text,\n    zip int\n);"
    );
    assert!(
        rows[3][3].starts_with(
            "CREATE TABLE ks.t (\n    k int,\n    c int,\n    a frozen<addr>,\n    v text,\n    PRIMARY KEY (k, c)\n) WITH CLUSTERING ORDER BY (c DESC)\n    AND additional_write_policy = '99p'\n"
        ),
        "{}",
        rows[3][3]
    );
    assert!(rows[3][3].ends_with("    AND speculative_retry = '99p';"));

    let only = text_rows(ok(&e, &mut s, "DESCRIBE ONLY KEYSPACE ks").await);
    assert_eq!(only.len(), 1);

    // TABLE, bare names and the current keyspace.
    let t = text_rows(ok(&e, &mut s, "DESCRIBE TABLE ks.t").await);
    assert_eq!(t.len(), 1);
    assert_eq!(t[0][..3], ["ks", "table", "t"]);
    ok(&e, &mut s, "USE ks").await;
    assert_eq!(text_rows(ok(&e, &mut s, "DESC t").await), t);
    assert_eq!(text_rows(ok(&e, &mut s, "DESCRIBE ks").await).len(), 4);
    assert_eq!(
        text_rows(ok(&e, &mut s, "DESCRIBE TABLES").await),
        [["ks", "table", "other"], ["ks", "table", "t"]]
    );
    assert_eq!(
        text_rows(ok(&e, &mut s, "DESCRIBE TYPES").await),
        [["ks", "type", "addr"]]
    );
    assert_eq!(
        text_rows(ok(&e, &mut s, "DESCRIBE TYPE addr").await)[0][1],
        "type"
    );
    assert!(text_rows(ok(&e, &mut s, "DESCRIBE FUNCTIONS").await).is_empty());

    // SCHEMA leaves system keyspaces out unless FULL.
    let schema = text_rows(ok(&e, &mut s, "DESCRIBE SCHEMA").await);
    assert!(schema.iter().all(|r| r[0] == "ks"));
    let full = text_rows(ok(&e, &mut s, "DESCRIBE FULL SCHEMA").await);
    assert!(full.iter().any(|r| r[0] == "system_traces" && r[2] == "sessions"));

    // With internals the table id appears.
    let internals = text_rows(ok(&e, &mut s, "DESCRIBE TABLE ks.t WITH INTERNALS").await);
    assert!(internals[0][3].contains(") WITH ID = "));
}

#[tokio::test]
async fn describe_errors_match_cassandra() {
    let e = engine();
    let mut s = setup(&e).await;
    assert_eq!(
        invalid(run(&e, &mut s, "DESCRIBE KEYSPACE nope").await),
        "'nope' not found in keyspaces"
    );
    assert_eq!(
        invalid(run(&e, &mut s, "DESCRIBE TABLE ks.nope").await),
        "Table 'nope' not found in keyspace 'ks'"
    );
    assert_eq!(
        invalid(run(&e, &mut s, "DESCRIBE TABLE nope").await),
        "No keyspace specified and no current keyspace"
    );
    assert_eq!(
        invalid(run(&e, &mut s, "DESCRIBE TYPE ks.nope").await),
        "User defined type 'nope' not found in 'ks'"
    );
    assert_eq!(
        invalid(run(&e, &mut s, "DESCRIBE ks.nope").await),
        "'nope' not found in keyspace 'ks'"
    );
    assert_eq!(
        invalid(run(&e, &mut s, "DESCRIBE MATERIALIZED VIEW ks.v").await),
        "Materialized view 'v' not found in 'ks'"
    );
    assert_eq!(
        invalid(run(&e, &mut s, "DESCRIBE INDEX ks.i").await),
        "Table for existing index 'i' not found in 'ks'"
    );
}

#[tokio::test]
async fn describe_cluster_adds_ranges_for_a_user_keyspace() {
    let e = engine();
    let mut s = setup(&e).await;
    let r = ok(&e, &mut s, "DESCRIBE CLUSTER").await;
    assert_eq!(column_names(&r), ["cluster", "partitioner", "snitch"]);
    assert_eq!(
        text_rows(r),
        [["Test Cluster", "Murmur3Partitioner", "DynamicEndpointSnitch"]]
    );
    ok(&e, &mut s, "USE ks").await;
    let r = ok(&e, &mut s, "DESCRIBE CLUSTER").await;
    assert_eq!(
        column_names(&r),
        ["cluster", "partitioner", "snitch", "range_ownership"]
    );
    let cell = rows(r)[0][3].clone().expect("ranges");
    let text = String::from_utf8_lossy(&cell);
    assert!(text.contains("-5") && text.contains("127.0.0.1:7000"), "{text}");
}

#[tokio::test]
async fn alter_table_add_drop_and_readd() {
    let e = engine();
    let mut s = setup(&e).await;
    ok(&e, &mut s, "USE ks").await;
    ok(&e, &mut s, "INSERT INTO t (k, c, v) VALUES (1, 1, 'old')").await;
    ok(&e, &mut s, "UPDATE t SET v = 'only-v' WHERE k = 1 AND c = 2").await;

    let r = ok(&e, &mut s, "ALTER TABLE t ADD (n int, m map<text, int>)").await;
    let QueryResult::SchemaChange(change) = r else {
        panic!("expected a schema change")
    };
    assert_eq!(change.change_type, SchemaChangeType::Updated);
    assert_eq!(
        change.target,
        SchemaChangeTarget::Table {
            keyspace: "ks".into(),
            name: "t".into()
        }
    );
    ok(
        &e,
        &mut s,
        "INSERT INTO t (k, c, n, m) VALUES (1, 3, 7, {'a': 1})",
    )
    .await;
    let got = rows(ok(&e, &mut s, "SELECT c, n FROM t WHERE k = 1").await);
    assert_eq!(
        got,
        vec![vec![int(3), int(7)], vec![int(2), None], vec![int(1), None]]
    );
    let cols = rows(
        ok(
            &e,
            &mut s,
            "SELECT column_name FROM system_schema.columns WHERE keyspace_name = 'ks' AND table_name = 't'",
        )
        .await,
    );
    assert_eq!(cols.len(), 6);

    // Dropping v hides its data, including the row that only lived through v.
    ok(&e, &mut s, "ALTER TABLE t DROP v").await;
    assert_eq!(rows(ok(&e, &mut s, "SELECT c FROM t WHERE k = 1").await).len(), 2);
    let dropped = rows(
        ok(
            &e,
            &mut s,
            "SELECT column_name, type FROM system_schema.dropped_columns WHERE keyspace_name = 'ks'",
        )
        .await,
    );
    assert_eq!(
        dropped,
        vec![vec![
            Some(Bytes::from_static(b"v")),
            Some(Bytes::from_static(b"text"))
        ]]
    );
    // Re-adding it does not bring the old cells back, even for writes with any earlier timestamp.
    ok(&e, &mut s, "ALTER TABLE t ADD v text").await;
    let got = rows(ok(&e, &mut s, "SELECT c, v FROM t WHERE k = 1").await);
    assert_eq!(got, vec![vec![int(3), None], vec![int(1), None]]);
    ok(&e, &mut s, "INSERT INTO t (k, c, v) VALUES (1, 1, 'new')").await;
    let got = rows(ok(&e, &mut s, "SELECT v FROM t WHERE k = 1 AND c = 1").await);
    assert_eq!(got, vec![vec![Some(Bytes::from_static(b"new"))]]);

    // WITH options show in system_schema and DESCRIBE.
    ok(
        &e,
        &mut s,
        "ALTER TABLE t WITH comment = 'hello' AND gc_grace_seconds = 10",
    )
    .await;
    let d = text_rows(ok(&e, &mut s, "DESCRIBE TABLE t").await);
    assert!(d[0][3].contains("AND comment = 'hello'") && d[0][3].contains("AND gc_grace_seconds = 10"));

    // IF [NOT] EXISTS make no change and answer VOID.
    assert!(matches!(
        ok(&e, &mut s, "ALTER TABLE t ADD IF NOT EXISTS n int").await,
        QueryResult::Void
    ));
    assert!(matches!(
        ok(&e, &mut s, "ALTER TABLE t DROP IF EXISTS nope").await,
        QueryResult::Void
    ));
    assert!(matches!(
        ok(&e, &mut s, "ALTER TABLE IF EXISTS nope ADD x int").await,
        QueryResult::Void
    ));
}

#[tokio::test]
async fn alter_table_errors_match_cassandra() {
    let e = engine();
    let mut s = setup(&e).await;
    ok(&e, &mut s, "USE ks").await;
    assert_eq!(
        invalid(run(&e, &mut s, "ALTER TABLE t ADD v int").await),
        "Column with name 'v' already exists"
    );
    assert_eq!(
        invalid(run(&e, &mut s, "ALTER TABLE t DROP k").await),
        "Cannot drop PRIMARY KEY column k"
    );
    assert_eq!(
        invalid(run(&e, &mut s, "ALTER TABLE t DROP nope").await),
        "Column nope was not found in table 'ks.t'"
    );
    assert_eq!(
        invalid(run(&e, &mut s, "ALTER TABLE t RENAME v TO w").await),
        "Cannot rename non PRIMARY KEY column v"
    );
    assert_eq!(
        invalid(run(&e, &mut s, "ALTER TABLE t RENAME c TO v").await),
        "Cannot rename column c to v in table 'ks.t'; another column with that name already exists"
    );
    assert_eq!(
        invalid(run(&e, &mut s, "ALTER TABLE nope ADD x int").await),
        "Table 'ks.nope' doesn't exist"
    );
    assert_eq!(
        invalid(run(&e, &mut s, "ALTER TABLE t ALTER v TYPE blob").await),
        "Altering column types is no longer supported"
    );
    assert_eq!(
        invalid(run(&e, &mut s, "ALTER TABLE other ADD s int static").await),
        "Static columns are only useful (and thus allowed) if the table has at least one clustering column"
    );
    assert!(matches!(
        run(&e, &mut s, "ALTER TABLE t ADD cnt counter").await,
        Err(QueryError::Config(m)) if m == "Cannot have a counter column (\"cnt\") in a non counter table"
    ));
    ok(&e, &mut s, "ALTER TABLE t DROP v").await;
    assert_eq!(
        invalid(run(&e, &mut s, "ALTER TABLE t ADD v int").await),
        "Cannot re-add previously dropped column 'v' of type int, incompatible with previous type text"
    );
    assert!(matches!(
        run(&e, &mut s, "ALTER TABLE system_auth.roles ADD x int").await,
        Err(QueryError::Unauthorized(_))
    ));
}

#[tokio::test]
async fn alter_table_rename_primary_key_columns() {
    let e = engine();
    let mut s = setup(&e).await;
    ok(&e, &mut s, "USE ks").await;
    ok(&e, &mut s, "INSERT INTO t (k, c, v) VALUES (1, 2, 'x')").await;
    ok(&e, &mut s, "ALTER TABLE t RENAME k TO key AND c TO ck").await;
    let got = rows(ok(&e, &mut s, "SELECT key, ck, v FROM t WHERE key = 1").await);
    assert_eq!(got, vec![vec![int(1), int(2), Some(Bytes::from_static(b"x"))]]);
    let d = text_rows(ok(&e, &mut s, "DESCRIBE TABLE t").await);
    assert!(d[0][3].contains("PRIMARY KEY (key, ck)\n) WITH CLUSTERING ORDER BY (ck DESC)"));
}

#[tokio::test]
async fn alter_type_add_and_rename_fields() {
    let e = engine();
    let mut s = setup(&e).await;
    ok(&e, &mut s, "USE ks").await;
    ok(
        &e,
        &mut s,
        "INSERT INTO t (k, c, a) VALUES (1, 1, {street: 'main', zip: 12345})",
    )
    .await;
    let r = ok(&e, &mut s, "ALTER TYPE addr ADD country text").await;
    assert!(matches!(
        r,
        QueryResult::SchemaChange(c) if c.change_type == SchemaChangeType::Updated
            && c.target == SchemaChangeTarget::Type { keyspace: "ks".into(), name: "addr".into() }
    ));
    ok(&e, &mut s, "ALTER TYPE addr RENAME zip TO postcode").await;
    let types = rows(
        ok(
            &e,
            &mut s,
            "SELECT field_names FROM system_schema.types WHERE keyspace_name = 'ks'",
        )
        .await,
    );
    let names = types[0][0].clone().expect("field names");
    for field in ["street", "postcode", "country"] {
        assert!(
            names.windows(field.len()).any(|w| w == field.as_bytes()),
            "{field}"
        );
    }
    // The table sees the new definition: new fields can be written and old rows still read.
    ok(
        &e,
        &mut s,
        "INSERT INTO t (k, c, a) VALUES (1, 2, {street: 's', postcode: 1, country: 'fr'})",
    )
    .await;
    assert_eq!(rows(ok(&e, &mut s, "SELECT a FROM t WHERE k = 1").await).len(), 2);
    let d = text_rows(ok(&e, &mut s, "DESCRIBE TYPE addr").await);
    assert_eq!(
        d[0][3],
        "CREATE TYPE ks.addr (\n    street text,\n    postcode int,\n    country text\n);"
    );

    assert_eq!(
        invalid(run(&e, &mut s, "ALTER TYPE addr ADD street text").await),
        "Cannot add field street to type ks.addr: a field with name street already exists"
    );
    assert_eq!(
        invalid(run(&e, &mut s, "ALTER TYPE addr RENAME nope TO x").await),
        "Unkown field nope in user type ks.addr"
    );
    assert_eq!(
        invalid(run(&e, &mut s, "ALTER TYPE nope ADD x int").await),
        "Type ks.nope doesn't exist"
    );
    assert!(
        invalid(run(&e, &mut s, "ALTER TYPE addr ADD self frozen<addr>").await)
            .contains("would create a circular reference")
    );
    assert!(matches!(
        ok(&e, &mut s, "ALTER TYPE IF EXISTS nope ADD x int").await,
        QueryResult::Void
    ));
}

#[tokio::test]
async fn alter_table_survives_a_restart() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let open = || {
        let storage = mica_storage::FjallEngine::open(mica_storage::EngineConfig::new(dir.path()))
            .expect("storage opens");
        let storage: Arc<dyn Engine> = Arc::new(storage);
        QueryEngine::open(storage, local()).expect("the engine opens")
    };
    {
        let e = open();
        let mut s = setup(&e).await;
        ok(&e, &mut s, "INSERT INTO ks.t (k, c, v) VALUES (1, 1, 'gone')").await;
        ok(&e, &mut s, "ALTER TABLE ks.t DROP v").await;
        ok(&e, &mut s, "ALTER TABLE ks.t ADD v text").await;
        ok(&e, &mut s, "ALTER TABLE ks.t ADD n int").await;
        ok(&e, &mut s, "ALTER TYPE ks.addr ADD country text").await;
        ok(&e, &mut s, "INSERT INTO ks.t (k, c, n) VALUES (1, 1, 5)").await;
    }
    let e = open();
    let mut s = ClientState::default();
    let got = rows(ok(&e, &mut s, "SELECT v, n FROM ks.t WHERE k = 1").await);
    assert_eq!(got, vec![vec![None, int(5)]]);
    let d = text_rows(ok(&e, &mut s, "DESCRIBE TYPE ks.addr").await);
    assert!(d[0][3].contains("country text"));
    let dropped = rows(
        ok(
            &e,
            &mut s,
            "SELECT column_name FROM system_schema.dropped_columns WHERE keyspace_name = 'ks'",
        )
        .await,
    );
    assert_eq!(dropped.len(), 1);
}

#[tokio::test]
async fn traced_requests_write_sessions_and_events() {
    let e = engine();
    let mut s = setup(&e).await;
    let query = "SELECT * FROM ks.t WHERE k = 1";
    let request = Request::Query {
        query: query.into(),
        params: QueryParameters::default(),
    };
    let client = "10.1.2.3".parse().expect("an address");
    let session = TraceSession::new(client, &request);
    let result = session
        .scope(e.query(&mut s, query, &QueryParameters::default()))
        .await;
    assert!(result.is_ok());
    e.finish_trace(&session).await.expect("the trace is written");

    let id = Value::Set(Bytes::from(session.id().as_bytes().to_vec()));
    let params = QueryParameters {
        values: QueryValues::Positional(vec![id.clone()]),
        ..QueryParameters::default()
    };
    let sessions = rows(
        e.query(
            &mut s,
            "SELECT client, command, request, duration, parameters, started_at FROM system_traces.sessions WHERE session_id = ?",
            &params,
        )
        .await
        .expect("sessions are readable"),
    );
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0][0], Some(Bytes::from_static(&[10, 1, 2, 3])));
    assert_eq!(sessions[0][1], Some(Bytes::from_static(b"QUERY")));
    assert_eq!(sessions[0][2], Some(Bytes::from_static(b"Execute CQL3 query")));
    assert!(sessions[0][3].is_some() && sessions[0][5].is_some());
    let parameters = sessions[0][4].clone().expect("parameters");
    assert!(parameters.windows(query.len()).any(|w| w == query.as_bytes()));

    let events = rows(
        e.query(
            &mut s,
            "SELECT activity, thread, source_elapsed, ttl(activity) FROM system_traces.events WHERE session_id = ?",
            &params,
        )
        .await
        .expect("events are readable"),
    );
    let activities: Vec<String> = events
        .iter()
        .map(|r| String::from_utf8_lossy(r[0].as_deref().unwrap_or_default()).into_owned())
        .collect();
    assert_eq!(
        activities.first().map(String::as_str),
        Some(&*format!("Parsing {query}"))
    );
    assert!(
        activities
            .iter()
            .any(|a| a == "Executing single-partition query on t")
    );
    assert!(
        activities
            .iter()
            .any(|a| a == "Read 0 live rows and 0 tombstone cells")
    );
    let ttl = i32::from_be_bytes(
        events[0][3]
            .as_deref()
            .expect("a ttl")
            .try_into()
            .expect("4 bytes"),
    );
    assert!(ttl > 86_000 && ttl <= 86_400, "{ttl}");

    // Untraced requests record nothing and writes are traced too.
    let write = "INSERT INTO ks.t (k, c, v) VALUES (1, 1, 'x')";
    let session = TraceSession::new(
        client,
        &Request::Query {
            query: write.into(),
            params: QueryParameters::default(),
        },
    );
    session
        .scope(e.query(&mut s, write, &QueryParameters::default()))
        .await
        .expect("the write succeeds");
    e.finish_trace(&session).await.expect("the trace is written");
    let params = QueryParameters {
        values: QueryValues::Positional(vec![Value::Set(Bytes::from(session.id().as_bytes().to_vec()))]),
        ..QueryParameters::default()
    };
    let events = rows(
        e.query(
            &mut s,
            "SELECT activity FROM system_traces.events WHERE session_id = ?",
            &params,
        )
        .await
        .expect("events are readable"),
    );
    assert!(
        events
            .iter()
            .any(|r| r[0].as_deref() == Some(b"Adding to t memtable".as_slice()))
    );
}
