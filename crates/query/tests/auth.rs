//! Roles and permissions over the in-memory storage engine: role management, GRANT/REVOKE, inheritance
//! through granted roles, the per-statement authorization check and the LIST result sets.

use std::sync::Arc;

use bytes::Bytes;
use mica_cql_protocol::{Batch, BatchStatement, QueryParameters, QueryValues, Value};
use mica_query::{ClientState, LocalInfo, QueryEngine, QueryError, QueryResult};
use mica_storage::MemoryEngine;

fn engine(authorization: bool) -> Arc<QueryEngine> {
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
        authorization,
    };
    QueryEngine::open(Arc::new(MemoryEngine::new()), local).expect("the engine opens")
}

fn as_user(name: &str) -> ClientState {
    ClientState {
        keyspace: None,
        user: Some(name.to_string()),
    }
}

async fn run(e: &QueryEngine, s: &mut ClientState, q: &str) -> Result<QueryResult, QueryError> {
    e.query(s, q, &QueryParameters::default()).await
}

/// Runs a statement that must succeed.
async fn ok(e: &QueryEngine, s: &mut ClientState, q: &str) -> QueryResult {
    match run(e, s, q).await {
        Ok(r) => r,
        Err(err) => panic!("{q}: {err:?}"),
    }
}

/// Runs a statement that must fail as Unauthorized, returning the message.
async fn denied(e: &QueryEngine, s: &mut ClientState, q: &str) -> String {
    match run(e, s, q).await {
        Err(QueryError::Unauthorized(m)) => m,
        other => panic!("{q}: expected Unauthorized, got {other:?}"),
    }
}

/// Runs a statement that must fail as InvalidRequest, returning the message.
async fn invalid(e: &QueryEngine, s: &mut ClientState, q: &str) -> String {
    match run(e, s, q).await {
        Err(QueryError::Invalid(m)) => m,
        other => panic!("{q}: expected Invalid, got {other:?}"),
    }
}

/// Result rows rendered as text: strings as is, booleans as true/false, empty maps as {}.
fn table(r: QueryResult) -> (Vec<String>, Vec<Vec<String>>) {
    let QueryResult::Rows { metadata, rows } = r else {
        return (Vec::new(), Vec::new());
    };
    let columns = metadata.columns.expect("metadata");
    let names = columns.iter().map(|c| c.name.clone()).collect();
    let rows = rows
        .into_iter()
        .map(|row| {
            row.iter()
                .zip(&columns)
                .map(|(cell, spec)| {
                    let bytes = cell.as_deref().unwrap_or_default();
                    match mica_cql_types::deserialize(&spec.typ, bytes).expect("a valid value") {
                        mica_cql_types::CqlValue::Text(s) => s,
                        mica_cql_types::CqlValue::Boolean(b) => b.to_string(),
                        mica_cql_types::CqlValue::Map(m) if m.is_empty() => "{}".into(),
                        other => format!("{other:?}"),
                    }
                })
                .collect()
        })
        .collect();
    (names, rows)
}

/// Sets up keyspace `ks` with tables `t` and `u`, and the roles alice (a login) and reader.
async fn setup(e: &QueryEngine) -> ClientState {
    let mut admin = as_user("cassandra");
    ok(
        e,
        &mut admin,
        "CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
    )
    .await;
    ok(e, &mut admin, "CREATE TABLE ks.t (k int PRIMARY KEY, v int)").await;
    ok(e, &mut admin, "CREATE TABLE ks.u (k int PRIMARY KEY, v int)").await;
    ok(e, &mut admin, "CREATE ROLE alice WITH LOGIN = true").await;
    ok(e, &mut admin, "CREATE ROLE reader").await;
    admin
}

#[tokio::test]
async fn role_lifecycle_and_login() {
    let e = engine(true);
    let mut admin = as_user("cassandra");
    ok(
        &e,
        &mut admin,
        "CREATE ROLE alice WITH PASSWORD = 'pw' AND LOGIN = true",
    )
    .await;
    e.authenticate("alice", "pw").expect("alice logs in");
    assert!(matches!(
        e.authenticate("alice", "bad"),
        Err(QueryError::BadCredentials(_))
    ));

    assert_eq!(
        invalid(&e, &mut admin, "CREATE ROLE alice").await,
        "alice already exists"
    );
    ok(&e, &mut admin, "CREATE ROLE IF NOT EXISTS alice").await;
    assert_eq!(
        invalid(&e, &mut admin, "CREATE ROLE ''").await,
        "Role name can't be an empty string"
    );
    assert_eq!(
        invalid(&e, &mut admin, "CREATE ROLE carlos WITH OPTIONS = {'a': 'b'}").await,
        "org.apache.cassandra.auth.CassandraRoleManager doesn't support OPTIONS"
    );
    assert_eq!(
        invalid(&e, &mut admin, "ALTER USER alice").await,
        "ALTER [ROLE|USER] can't be empty"
    );

    // LOGIN is checked after the password, with Cassandra's message.
    ok(&e, &mut admin, "ALTER ROLE alice WITH LOGIN = false").await;
    match e.authenticate("alice", "pw") {
        Err(QueryError::BadCredentials(m)) => assert_eq!(m, "alice is not permitted to log in"),
        other => panic!("{other:?}"),
    }

    let (columns, rows) = table(ok(&e, &mut admin, "LIST ROLES").await);
    assert_eq!(columns, ["role", "super", "login", "options", "datacenters"]);
    assert_eq!(
        rows,
        [
            ["alice", "false", "false", "{}", "ALL"],
            ["cassandra", "true", "true", "{}", "ALL"],
        ]
    );
    let (columns, rows) = table(ok(&e, &mut admin, "LIST USERS").await);
    assert_eq!(columns, ["name", "super", "datacenters"]);
    assert_eq!(rows, [["cassandra", "true", "ALL"]]);

    assert_eq!(
        invalid(&e, &mut admin, "DROP ROLE cassandra").await,
        "Cannot DROP primary role for current login"
    );
    ok(&e, &mut admin, "DROP ROLE alice").await;
    assert!(e.authenticate("alice", "pw").is_err());
    assert_eq!(
        invalid(&e, &mut admin, "DROP ROLE alice").await,
        "alice doesn't exist"
    );
    ok(&e, &mut admin, "DROP ROLE IF EXISTS alice").await;
    assert_eq!(
        invalid(&e, &mut admin, "ALTER ROLE alice WITH LOGIN = true").await,
        "alice doesn't exist"
    );
    ok(&e, &mut admin, "ALTER ROLE IF EXISTS alice WITH LOGIN = true").await;

    // The legacy USER statements map onto roles with LOGIN; unquoted user names keep their case.
    ok(&e, &mut admin, "CREATE USER Bob NOSUPERUSER").await;
    let (_, rows) = table(ok(&e, &mut admin, "LIST USERS").await);
    assert_eq!(rows, [["Bob", "false", "ALL"], ["cassandra", "true", "ALL"]]);
    ok(&e, &mut admin, "DROP USER Bob").await;
}

#[tokio::test]
async fn permissions_are_checked_and_inherited() {
    let e = engine(true);
    let mut admin = setup(&e).await;
    let mut alice = as_user("alice");

    let msg = denied(&e, &mut alice, "SELECT * FROM ks.t").await;
    assert_eq!(
        msg,
        "User alice has no SELECT permission on <table ks.t> or any of its parents"
    );
    // Tables that do not exist are reported as such before permissions are checked.
    assert_eq!(
        invalid(&e, &mut alice, "SELECT * FROM ks.nope").await,
        "unconfigured table nope"
    );
    // The tables drivers read on connect are always readable; other system tables are not.
    ok(&e, &mut alice, "SELECT * FROM system.local").await;
    ok(&e, &mut alice, "SELECT * FROM system_schema.tables").await;
    assert_eq!(
        denied(&e, &mut alice, "SELECT * FROM system_auth.roles").await,
        "User alice has no SELECT permission on <table system_auth.roles> or any of its parents"
    );

    // A permission on the keyspace, granted to a role that alice holds, covers its tables.
    ok(&e, &mut admin, "GRANT SELECT ON KEYSPACE ks TO reader").await;
    ok(&e, &mut admin, "GRANT reader TO alice").await;
    ok(&e, &mut alice, "SELECT * FROM ks.t").await;
    ok(&e, &mut alice, "SELECT * FROM ks.u").await;
    assert_eq!(
        denied(&e, &mut alice, "INSERT INTO ks.t (k, v) VALUES (1, 1)").await,
        "User alice has no MODIFY permission on <table ks.t> or any of its parents"
    );
    assert_eq!(
        denied(&e, &mut alice, "TRUNCATE ks.t").await,
        "User alice has no MODIFY permission on <table ks.t> or any of its parents"
    );

    // Inheritance is transitive.
    ok(&e, &mut admin, "CREATE ROLE writer").await;
    ok(&e, &mut admin, "GRANT MODIFY ON ks.t TO writer").await;
    ok(&e, &mut admin, "GRANT writer TO reader").await;
    ok(&e, &mut alice, "INSERT INTO ks.t (k, v) VALUES (1, 1)").await;
    assert!(
        denied(&e, &mut alice, "INSERT INTO ks.u (k, v) VALUES (1, 1)")
            .await
            .contains("<table ks.u>")
    );
    // Conditional writes read as well.
    ok(&e, &mut admin, "GRANT MODIFY ON ks.u TO alice").await;
    ok(&e, &mut admin, "REVOKE SELECT ON KEYSPACE ks FROM reader").await;
    assert_eq!(
        denied(
            &e,
            &mut alice,
            "INSERT INTO ks.u (k, v) VALUES (1, 1) IF NOT EXISTS"
        )
        .await,
        "User alice has no SELECT permission on <table ks.u> or any of its parents"
    );

    // Revoking the role takes its permissions away at once.
    ok(&e, &mut admin, "GRANT SELECT ON ALL KEYSPACES TO reader").await;
    ok(&e, &mut alice, "SELECT * FROM ks.t").await;
    ok(&e, &mut admin, "REVOKE reader FROM alice").await;
    assert!(
        denied(&e, &mut alice, "SELECT * FROM ks.t")
            .await
            .starts_with("User alice has no SELECT")
    );

    // Schema changes.
    assert_eq!(
        denied(
            &e,
            &mut alice,
            "CREATE KEYSPACE k2 WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}"
        )
        .await,
        "User alice has no CREATE permission on <all keyspaces> or any of its parents"
    );
    assert_eq!(
        denied(&e, &mut alice, "DROP TABLE ks.t").await,
        "User alice has no DROP permission on <table ks.t> or any of its parents"
    );
    assert_eq!(
        denied(&e, &mut alice, "CREATE TABLE ks.v (k int PRIMARY KEY)").await,
        "User alice has no CREATE permission on <keyspace ks> or any of its parents"
    );
    // System keyspaces refuse schema changes even to superusers.
    assert_eq!(
        denied(&e, &mut admin, "DROP TABLE system_auth.roles").await,
        "Cannot DROP <table system_auth.roles>"
    );
    assert_eq!(
        denied(&e, &mut admin, "CREATE TABLE system.x (k int PRIMARY KEY)").await,
        "system keyspace is not user-modifiable."
    );
    // USE needs no permission.
    ok(&e, &mut alice, "USE ks").await;
}

#[tokio::test]
async fn creators_get_permissions_and_drops_remove_them() {
    let e = engine(true);
    let mut admin = setup(&e).await;
    let mut alice = as_user("alice");
    ok(&e, &mut admin, "GRANT CREATE ON ALL KEYSPACES TO alice").await;
    ok(
        &e,
        &mut alice,
        "CREATE KEYSPACE k2 WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
    )
    .await;
    ok(&e, &mut alice, "CREATE TABLE k2.t (k int PRIMARY KEY, v int)").await;
    ok(&e, &mut alice, "INSERT INTO k2.t (k, v) VALUES (1, 2)").await;
    ok(&e, &mut alice, "SELECT * FROM k2.t").await;

    let (columns, rows) = table(ok(&e, &mut alice, "LIST ALL PERMISSIONS OF alice").await);
    assert_eq!(columns, ["role", "username", "resource", "permission"]);
    let shown: Vec<String> = rows
        .iter()
        .map(|r| format!("{} {} {}", r[0], r[2], r[3]))
        .collect();
    assert_eq!(
        shown,
        [
            "alice <all keyspaces> CREATE",
            "alice <keyspace k2> CREATE",
            "alice <keyspace k2> ALTER",
            "alice <keyspace k2> DROP",
            "alice <keyspace k2> SELECT",
            "alice <keyspace k2> MODIFY",
            "alice <keyspace k2> AUTHORIZE",
            "alice <table k2.t> ALTER",
            "alice <table k2.t> DROP",
            "alice <table k2.t> SELECT",
            "alice <table k2.t> MODIFY",
            "alice <table k2.t> AUTHORIZE",
            "alice <all functions in k2> CREATE",
            "alice <all functions in k2> ALTER",
            "alice <all functions in k2> DROP",
            "alice <all functions in k2> AUTHORIZE",
            "alice <all functions in k2> EXECUTE",
        ]
    );
    assert!(rows.iter().all(|r| r[0] == r[1]));

    // The owner may grant on what it created, but not what it lacks.
    ok(&e, &mut alice, "GRANT SELECT ON k2.t TO reader").await;
    assert_eq!(
        denied(&e, &mut alice, "GRANT SELECT ON ks.t TO reader").await,
        "User alice has no AUTHORIZE permission on <table ks.t> or any of its parents"
    );

    ok(&e, &mut alice, "DROP KEYSPACE k2").await;
    let (_, rows) = table(ok(&e, &mut admin, "LIST ALL PERMISSIONS").await);
    assert!(rows.iter().all(|r| !r[2].contains("k2")), "{rows:?}");
    // The keyspace's creator grants were removed along with it, the unrelated CREATE stays.
    let (_, rows) = table(ok(&e, &mut admin, "LIST ALL PERMISSIONS OF alice").await);
    assert_eq!(rows, [["alice", "alice", "<all keyspaces>", "CREATE"]]);
}

#[tokio::test]
async fn list_permissions_filters_and_recursion() {
    let e = engine(true);
    let mut admin = setup(&e).await;
    ok(&e, &mut admin, "GRANT SELECT ON KEYSPACE ks TO reader").await;
    ok(&e, &mut admin, "GRANT ALL ON ks.t TO alice").await;
    ok(&e, &mut admin, "GRANT reader TO alice").await;

    let (_, rows) = table(ok(&e, &mut admin, "LIST ALL PERMISSIONS ON ks.t OF alice").await);
    let shown: Vec<String> = rows
        .iter()
        .map(|r| format!("{} {} {}", r[0], r[2], r[3]))
        .collect();
    assert_eq!(
        shown,
        [
            "alice <table ks.t> ALTER",
            "alice <table ks.t> DROP",
            "alice <table ks.t> SELECT",
            "alice <table ks.t> MODIFY",
            "alice <table ks.t> AUTHORIZE",
            "reader <keyspace ks> SELECT",
        ]
    );
    let (_, rows) = table(ok(&e, &mut admin, "LIST SELECT ON ks.t OF alice NORECURSIVE").await);
    assert_eq!(rows, [["alice", "alice", "<table ks.t>", "SELECT"]]);
    assert!(matches!(
        ok(&e, &mut admin, "LIST MODIFY ON KEYSPACE ks OF reader").await,
        QueryResult::Void
    ));
    // Without OF every role is listed: the keyspace's creator holds all of its permissions.
    let (_, rows) = table(ok(&e, &mut admin, "LIST MODIFY ON KEYSPACE ks").await);
    assert_eq!(rows, [["cassandra", "cassandra", "<keyspace ks>", "MODIFY"]]);

    // Non-superusers see only the permissions of roles they hold.
    let mut alice = as_user("alice");
    assert_eq!(
        denied(&e, &mut alice, "LIST ALL PERMISSIONS").await,
        "You are not authorized to view everyone's permissions"
    );
    assert_eq!(
        denied(&e, &mut alice, "LIST ALL PERMISSIONS OF cassandra").await,
        "You are not authorized to view cassandra's permissions"
    );
    let (_, rows) = table(ok(&e, &mut alice, "LIST ALL PERMISSIONS OF reader").await);
    assert_eq!(rows, [["reader", "reader", "<keyspace ks>", "SELECT"]]);

    assert_eq!(
        invalid(&e, &mut admin, "LIST ALL PERMISSIONS OF nobody").await,
        "<role nobody> doesn't exist"
    );
    assert_eq!(
        invalid(&e, &mut admin, "LIST ALL PERMISSIONS ON ks.nope").await,
        "<table ks.nope> doesn't exist"
    );
}

#[tokio::test]
async fn grant_and_role_errors() {
    let e = engine(true);
    let mut admin = setup(&e).await;
    match run(&e, &mut admin, "GRANT EXECUTE ON KEYSPACE ks TO reader").await {
        Err(QueryError::Syntax(m)) => {
            assert_eq!(
                m,
                "Resource type DataResource does not support any of the requested permissions"
            )
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        invalid(&e, &mut admin, "GRANT SELECT ON ks.nope TO reader").await,
        "Resource <table ks.nope> doesn't exist"
    );
    assert_eq!(
        invalid(&e, &mut admin, "GRANT SELECT ON ks.t TO nobody").await,
        "Role nobody doesn't exist"
    );
    assert_eq!(
        invalid(&e, &mut admin, "GRANT SELECT ON t TO reader").await,
        "No keyspace has been specified. USE a keyspace, or explicitly specify keyspace.tablename"
    );
    ok(&e, &mut admin, "USE ks").await;
    ok(&e, &mut admin, "GRANT SELECT ON t TO reader").await;

    // Roles form a DAG.
    ok(&e, &mut admin, "GRANT reader TO alice").await;
    assert_eq!(
        invalid(&e, &mut admin, "GRANT alice TO reader").await,
        "alice is a member of reader"
    );
    assert_eq!(
        invalid(&e, &mut admin, "GRANT reader TO alice").await,
        "alice is a member of reader"
    );
    assert_eq!(
        invalid(&e, &mut admin, "GRANT reader TO reader").await,
        "reader is a member of reader"
    );
    assert_eq!(
        invalid(&e, &mut admin, "GRANT nobody TO alice").await,
        "nobody doesn't exist"
    );
    ok(&e, &mut admin, "REVOKE reader FROM alice").await;
    assert_eq!(
        invalid(&e, &mut admin, "REVOKE reader FROM alice").await,
        "alice is not a member of reader"
    );

    // Role management by non-superusers.
    let mut alice = as_user("alice");
    assert_eq!(
        denied(&e, &mut alice, "CREATE ROLE x").await,
        "User alice does not have sufficient privileges to perform the requested operation"
    );
    ok(&e, &mut admin, "GRANT CREATE ON ALL ROLES TO alice").await;
    assert_eq!(
        denied(&e, &mut alice, "CREATE ROLE x WITH SUPERUSER = true").await,
        "Only superusers can create a role with superuser status"
    );
    ok(&e, &mut alice, "CREATE ROLE x").await;
    // The creator may alter, drop and grant what it created.
    ok(&e, &mut alice, "GRANT x TO reader").await;
    ok(&e, &mut alice, "ALTER ROLE x WITH LOGIN = true").await;
    assert_eq!(
        denied(&e, &mut alice, "GRANT reader TO x").await,
        "User alice does not have sufficient privileges to perform the requested operation"
    );
    assert_eq!(
        denied(&e, &mut alice, "ALTER ROLE reader WITH LOGIN = true").await,
        "User alice does not have sufficient privileges to perform the requested operation"
    );
    assert_eq!(
        denied(&e, &mut alice, "ALTER ROLE alice WITH LOGIN = false").await,
        "You aren't allowed to alter LOGIN"
    );
    assert_eq!(
        denied(&e, &mut alice, "ALTER ROLE x WITH SUPERUSER = true").await,
        "Only superusers are allowed to alter superuser status"
    );
    assert_eq!(
        denied(&e, &mut admin, "ALTER ROLE cassandra WITH SUPERUSER = false").await,
        "You aren't allowed to alter your own superuser status or that of a role granted to you"
    );
    assert_eq!(
        denied(&e, &mut alice, "DROP ROLE cassandra").await,
        "User alice does not have sufficient privileges to perform the requested operation"
    );
    ok(&e, &mut admin, "GRANT DROP ON ALL ROLES TO alice").await;
    assert_eq!(
        denied(&e, &mut alice, "DROP ROLE cassandra").await,
        "Only superusers can drop a role with superuser status"
    );
    ok(&e, &mut alice, "DROP ROLE x").await;
    assert_eq!(
        denied(&e, &mut alice, "CREATE TRIGGER tr ON ks.t USING 'X'").await,
        "Only superusers are allowed to perform CREATE TRIGGER queries"
    );
}

#[tokio::test]
async fn dropping_a_role_removes_its_grants_and_memberships() {
    let e = engine(true);
    let mut admin = setup(&e).await;
    ok(&e, &mut admin, "GRANT SELECT ON KEYSPACE ks TO reader").await;
    ok(&e, &mut admin, "GRANT ALTER ON ROLE alice TO reader").await;
    ok(&e, &mut admin, "GRANT reader TO alice").await;
    let mut alice = as_user("alice");
    ok(&e, &mut alice, "SELECT * FROM ks.t").await;

    ok(&e, &mut admin, "DROP ROLE reader").await;
    assert!(
        denied(&e, &mut alice, "SELECT * FROM ks.t")
            .await
            .starts_with("User alice has no SELECT")
    );
    let (_, rows) = table(ok(&e, &mut admin, "LIST ROLES OF alice").await);
    assert_eq!(rows, [["alice", "false", "true", "{}", "ALL"]]);
    let (_, rows) = table(
        ok(
            &e,
            &mut admin,
            "SELECT role, member FROM system_auth.role_members",
        )
        .await,
    );
    assert!(rows.is_empty(), "{rows:?}");
    // Permissions of the dropped role, and the creator's permissions on it, are gone.
    let (_, rows) = table(ok(&e, &mut admin, "LIST ALL PERMISSIONS").await);
    assert!(
        rows.iter().all(|r| r[0] != "reader" && r[2] != "<role reader>"),
        "{rows:?}"
    );
    // Dropping a role the user is logged in as takes its permissions away.
    ok(&e, &mut admin, "GRANT SELECT ON ks.t TO alice").await;
    ok(&e, &mut alice, "SELECT * FROM ks.t").await;
    ok(&e, &mut admin, "DROP ROLE alice").await;
    assert!(
        denied(&e, &mut alice, "SELECT * FROM ks.t")
            .await
            .starts_with("User alice has no SELECT")
    );
}

#[tokio::test]
async fn list_roles_visibility() {
    let e = engine(true);
    let mut admin = setup(&e).await;
    ok(&e, &mut admin, "CREATE ROLE other").await;
    ok(&e, &mut admin, "CREATE ROLE base").await;
    ok(&e, &mut admin, "GRANT base TO reader").await;
    ok(&e, &mut admin, "GRANT reader TO alice").await;

    let mut alice = as_user("alice");
    let (_, rows) = table(ok(&e, &mut alice, "LIST ROLES").await);
    let names: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(names, ["alice", "base", "reader"]);
    let (_, rows) = table(ok(&e, &mut alice, "LIST ROLES OF alice NORECURSIVE").await);
    let names: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(names, ["alice", "reader"]);
    assert_eq!(
        denied(&e, &mut alice, "LIST ROLES OF other").await,
        "You are not authorized to view roles granted to other "
    );
    assert_eq!(
        invalid(&e, &mut alice, "LIST ROLES OF nobody").await,
        "<role nobody> doesn't exist"
    );
    // LIST USERS is not recursive for non-superusers and only shows roles that can log in.
    let (_, rows) = table(ok(&e, &mut alice, "LIST USERS").await);
    assert_eq!(rows, [["alice", "false", "ALL"]]);

    // DESCRIBE on all roles shows everything.
    ok(&e, &mut admin, "GRANT DESCRIBE ON ALL ROLES TO base").await;
    let (_, rows) = table(ok(&e, &mut alice, "LIST ROLES").await);
    assert_eq!(rows.len(), 5);
    let (_, rows) = table(ok(&e, &mut admin, "LIST ROLES OF reader").await);
    let names: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(names, ["base", "reader"]);
}

#[tokio::test]
async fn prepared_statements_and_batches_are_checked() {
    let e = engine(true);
    let mut admin = setup(&e).await;
    let mut alice = as_user("alice");
    ok(&e, &mut admin, "GRANT SELECT ON ks.t TO alice").await;
    // Preparing needs no permission; executing does.
    let insert = e
        .prepare(&alice, "INSERT INTO ks.t (k, v) VALUES (?, ?)", None)
        .expect("prepares");
    let params = QueryParameters {
        values: QueryValues::Positional(vec![
            Value::Set(Bytes::from_static(&[0, 0, 0, 1])),
            Value::Set(Bytes::from_static(&[0, 0, 0, 2])),
        ]),
        ..QueryParameters::default()
    };
    match e.execute(&mut alice, &insert.id, &params).await {
        Err(QueryError::Unauthorized(m)) => {
            assert_eq!(
                m,
                "User alice has no MODIFY permission on <table ks.t> or any of its parents"
            )
        }
        other => panic!("{other:?}"),
    }
    let select = e.prepare(&alice, "SELECT * FROM ks.t", None).expect("prepares");
    e.execute(&mut alice, &select.id, &QueryParameters::default())
        .await
        .expect("SELECT is granted");

    let batch = |table: &str| Batch {
        batch_type: mica_cql_protocol::BatchType::Logged,
        statements: vec![BatchStatement::Query {
            query: format!("INSERT INTO ks.{table} (k, v) VALUES (1, 1)"),
            values: Vec::new(),
        }],
        consistency: mica_cql_protocol::Consistency::One,
        serial_consistency: None,
        timestamp: None,
        keyspace: None,
        now_in_seconds: None,
    };
    ok(&e, &mut admin, "GRANT MODIFY ON ks.t TO alice").await;
    e.batch(&mut alice, &batch("t"))
        .await
        .expect("MODIFY on t is granted");
    match e.batch(&mut alice, &batch("u")).await {
        Err(QueryError::Unauthorized(m)) => assert!(m.contains("<table ks.u>"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert!(
        denied(
            &e,
            &mut alice,
            "BEGIN BATCH INSERT INTO ks.t (k, v) VALUES (2, 2); INSERT INTO ks.u (k, v) VALUES (2, 2); APPLY BATCH"
        )
        .await
        .contains("<table ks.u>")
    );
    // The prepared insert now runs.
    e.execute(&mut alice, &insert.id, &params).await.expect("granted");
}

#[tokio::test]
async fn allow_all_authorizer_permits_everything() {
    let e = engine(false);
    let mut admin = setup(&e).await;
    let mut alice = as_user("alice");
    ok(&e, &mut alice, "INSERT INTO ks.t (k, v) VALUES (1, 1)").await;
    ok(&e, &mut alice, "SELECT * FROM system_auth.roles").await;
    assert_eq!(
        invalid(&e, &mut admin, "GRANT SELECT ON ks.t TO alice").await,
        "GRANT operation is not supported by AllowAllAuthorizer"
    );
    assert_eq!(
        invalid(&e, &mut admin, "LIST ALL PERMISSIONS").await,
        "LIST PERMISSIONS operation is not supported by AllowAllAuthorizer"
    );
    // Creators get no permissions when they cannot be granted.
    ok(&e, &mut alice, "CREATE ROLE x").await;
    let (_, rows) = table(ok(&e, &mut admin, "SELECT role FROM system_auth.role_permissions").await);
    assert!(rows.is_empty());
    // Role rules that do not depend on the authorizer still hold.
    assert_eq!(
        denied(&e, &mut alice, "CREATE ROLE y WITH SUPERUSER = true").await,
        "Only superusers can create a role with superuser status"
    );
    let (_, rows) = table(ok(&e, &mut alice, "LIST ROLES").await);
    assert_eq!(rows.len(), 4);
}

#[tokio::test]
async fn direct_writes_to_system_auth_are_seen() {
    let e = engine(true);
    let mut admin = setup(&e).await;
    let mut alice = as_user("alice");
    assert!(
        denied(&e, &mut alice, "SELECT * FROM ks.t")
            .await
            .contains("SELECT")
    );
    ok(
        &e,
        &mut admin,
        "INSERT INTO system_auth.role_permissions (role, resource, permissions) VALUES ('alice', 'data/ks', {'SELECT'})",
    )
    .await;
    ok(&e, &mut alice, "SELECT * FROM ks.t").await;
    ok(
        &e,
        &mut admin,
        "UPDATE system_auth.roles SET is_superuser = true WHERE role = 'alice'",
    )
    .await;
    ok(&e, &mut alice, "INSERT INTO ks.u (k, v) VALUES (1, 1)").await;
}

#[tokio::test]
async fn hashed_passwords_and_option_validation() {
    let e = engine(true);
    let mut admin = as_user("cassandra");
    let hash = bcrypt::hash("pw", 4).expect("hashes");
    ok(
        &e,
        &mut admin,
        &format!("CREATE ROLE h WITH HASHED PASSWORD = '{hash}' AND LOGIN = true"),
    )
    .await;
    e.authenticate("h", "pw").expect("the given hash is stored as is");
    assert_eq!(
        invalid(
            &e,
            &mut admin,
            "CREATE ROLE h2 WITH HASHED PASSWORD = 'not-a-hash'"
        )
        .await,
        "Invalid hashed password value. Please use jBcrypt."
    );
    assert_eq!(
        invalid(
            &e,
            &mut admin,
            "CREATE ROLE h3 WITH ACCESS TO DATACENTERS {'dc1'}"
        )
        .await,
        "ACCESS TO DATACENTERS operations not supported by AllowAllNetworkAuthorizer"
    );
    // Hashes written by the node use the $2a$ form Cassandra's jBCrypt reads.
    ok(&e, &mut admin, "ALTER ROLE h WITH PASSWORD = 'next'").await;
    let (_, rows) = table(
        ok(
            &e,
            &mut admin,
            "SELECT salted_hash FROM system_auth.roles WHERE role = 'h'",
        )
        .await,
    );
    assert!(rows[0][0].starts_with("$2a$10$"), "{rows:?}");
    e.authenticate("h", "next").expect("the new password works");
}

#[tokio::test]
async fn anonymous_users_cannot_manage_roles() {
    let local = LocalInfo {
        password_auth: false,
        ..engine(false).local().clone()
    };
    let e = QueryEngine::open(Arc::new(MemoryEngine::new()), local).expect("the engine opens");
    let mut anonymous = ClientState::default();
    assert_eq!(
        denied(&e, &mut anonymous, "CREATE ROLE x").await,
        "You have to be logged in and not anonymous to perform this request"
    );
    assert_eq!(
        invalid(&e, &mut anonymous, "CREATE ROLE x WITH PASSWORD = 'p'").await,
        "org.apache.cassandra.auth.CassandraRoleManager doesn't support PASSWORD"
    );
    assert_eq!(
        denied(&e, &mut anonymous, "LIST ROLES").await,
        "You have to be logged in and not anonymous to perform this request"
    );
}
