//! Element-level collection and UDT writes, and INSERT JSON, with Cassandra's results and errors.

mod common;

use common::*;
use mica_cql_protocol::Value;

async fn tables(e: &mica_query::QueryEngine, s: &mut mica_query::ClientState) {
    ok(
        e,
        s,
        "CREATE TYPE addr (street text, zip int, tags frozen<set<text>>)",
    )
    .await;
    ok(
        e,
        s,
        "CREATE TABLE c (k int PRIMARY KEY, l list<int>, m map<text, int>, st set<text>, u addr, fu frozen<addr>, fl frozen<list<int>>, v int)",
    )
    .await;
}

#[tokio::test]
async fn list_element_operations() {
    let (e, _, mut s) = setup().await;
    tables(&e, &mut s).await;
    ok(&e, &mut s, "INSERT INTO c (k, l) VALUES (1, [1, 2, 3, 2, 1])").await;
    let steps: &[(&str, &str)] = &[
        ("UPDATE c SET l[1] = 20 WHERE k = 1", "[1, 20, 3, 2, 1]"),
        ("DELETE l[0] FROM c WHERE k = 1", "[20, 3, 2, 1]"),
        ("UPDATE c SET l = l - [1, 3] WHERE k = 1", "[20, 2]"),
        ("UPDATE c SET l = [7, 8] + l WHERE k = 1", "[7, 8, 20, 2]"),
        ("UPDATE c SET l = [5] + l WHERE k = 1", "[5, 7, 8, 20, 2]"),
        ("UPDATE c SET l = l + [9] WHERE k = 1", "[5, 7, 8, 20, 2, 9]"),
        ("UPDATE c SET l[5] = null WHERE k = 1", "[5, 7, 8, 20, 2]"),
        ("UPDATE c SET l = l - [5, 7, 8, 20, 2] WHERE k = 1", "null"),
    ];
    for (q, after) in steps {
        ok(&e, &mut s, q).await;
        assert_eq!(
            select(&e, &mut s, "SELECT l FROM c WHERE k = 1").await,
            expect(&[&[after]]),
            "{q}"
        );
    }
    ok(&e, &mut s, "UPDATE c SET l = [1, 2] WHERE k = 1").await;
    let errors = [
        (
            "UPDATE c SET l[5] = 3 WHERE k = 1",
            "List index 5 out of bound, list has size 2",
        ),
        (
            "UPDATE c SET l[-1] = 3 WHERE k = 1",
            "List index -1 out of bound, list has size 2",
        ),
        (
            "DELETE l[2] FROM c WHERE k = 1",
            "List index 2 out of bound, list has size 2",
        ),
        (
            "UPDATE c SET l[0] = 3 WHERE k = 2",
            "Attempted to set an element on a list which is null",
        ),
        (
            "DELETE l[0] FROM c WHERE k = 2",
            "Attempted to delete an element from a list which is null",
        ),
        (
            "UPDATE c SET l[null] = 3 WHERE k = 1",
            "Invalid null value for list index",
        ),
        (
            "UPDATE c SET v[0] = 3 WHERE k = 1",
            "Invalid operation (v[0] = 3) for non collection column v",
        ),
        (
            "UPDATE c SET fl[0] = 3 WHERE k = 1",
            "Invalid operation (fl[0] = 3) for frozen collection column fl",
        ),
        (
            "UPDATE c SET st['a'] = 'b' WHERE k = 1",
            "Invalid operation (st['a'] = 'b') for set column st",
        ),
        (
            "UPDATE c SET fl = fl + [1] WHERE k = 1",
            "Invalid operation (fl = fl + [1]) for frozen collection column fl",
        ),
        (
            "UPDATE c SET v = v + 1 WHERE k = 1",
            "Invalid operation (v = v + 1) for non counter column v",
        ),
        (
            "UPDATE c SET v = v - 1 WHERE k = 1",
            "Invalid operation (v = v - 1) for non counter column v",
        ),
        (
            "UPDATE c SET m = [1] + m WHERE k = 1",
            "Invalid operation (m = [1] - m) for non list column m",
        ),
        (
            "UPDATE c SET fl = [1] + fl WHERE k = 1",
            "Invalid operation (fl = [1] - fl) for frozen list column fl",
        ),
        (
            "DELETE v[0] FROM c WHERE k = 1",
            "Invalid deletion operation for non collection column v",
        ),
        (
            "DELETE fl[0] FROM c WHERE k = 1",
            "Invalid deletion operation for frozen collection column fl",
        ),
        (
            "UPDATE c SET m = m + {'a'} WHERE k = 1",
            "Value for a map addition has to be a map, but was: '{'a'}'",
        ),
    ];
    for (q, msg) in errors {
        assert_eq!(invalid(&e, &mut s, q).await, msg, "{q}");
    }
    // An unset index leaves the list alone.
    let r = run_with(&e, &mut s, "DELETE l[?] FROM c WHERE k = 1", vec![Value::Unset]).await;
    r.expect("unset index is a no-op");
    assert_eq!(
        select(&e, &mut s, "SELECT l FROM c WHERE k = 1").await,
        expect(&[&["[1, 2]"]])
    );
    let err = run_with(
        &e,
        &mut s,
        "UPDATE c SET l[?] = 1 WHERE k = 1",
        vec![Value::Unset],
    )
    .await
    .expect_err("unset index");
    assert_eq!(err.to_string(), "Invalid unset value for list index");
    // Bound index and value.
    run_with(
        &e,
        &mut s,
        "UPDATE c SET l[?] = ? WHERE k = 1",
        vec![int(1), int(42)],
    )
    .await
    .expect("runs");
    assert_eq!(
        select(&e, &mut s, "SELECT l FROM c WHERE k = 1").await,
        expect(&[&["[1, 42]"]])
    );
}

#[tokio::test]
async fn map_and_set_operations() {
    let (e, _, mut s) = setup().await;
    tables(&e, &mut s).await;
    let steps: &[(&str, &str, &str)] = &[
        (
            "INSERT INTO c (k, m, st) VALUES (1, {'a': 1}, {'x'})",
            "{'a': 1}",
            "{'x'}",
        ),
        (
            "UPDATE c SET m = m + {'b': 2, 'c': 3}, st = st + {'y', 'z'} WHERE k = 1",
            "{'a': 1, 'b': 2, 'c': 3}",
            "{'x', 'y', 'z'}",
        ),
        (
            "UPDATE c SET m = m - {'a'}, st = st - {'x'} WHERE k = 1",
            "{'b': 2, 'c': 3}",
            "{'y', 'z'}",
        ),
        (
            "UPDATE c SET m['b'] = 20 WHERE k = 1",
            "{'b': 20, 'c': 3}",
            "{'y', 'z'}",
        ),
        ("DELETE m['c'], st['y'] FROM c WHERE k = 1", "{'b': 20}", "{'z'}"),
        ("UPDATE c SET m['b'] = null WHERE k = 1", "null", "{'z'}"),
        (
            "UPDATE c SET m = {'q': 1}, st = {} WHERE k = 1",
            "{'q': 1}",
            "null",
        ),
    ];
    for (q, m, st) in steps {
        ok(&e, &mut s, q).await;
        assert_eq!(
            select(&e, &mut s, "SELECT m, st FROM c WHERE k = 1").await,
            expect(&[&[m, st]]),
            "{q}"
        );
    }
}

#[tokio::test]
async fn udt_field_operations() {
    let (e, _, mut s) = setup().await;
    tables(&e, &mut s).await;
    let steps: &[(&str, &str)] = &[
        (
            "INSERT INTO c (k, u) VALUES (1, {street: 'main', zip: 1})",
            "{street: 'main', zip: 1, tags: null}",
        ),
        (
            "UPDATE c SET u.zip = 2 WHERE k = 1",
            "{street: 'main', zip: 2, tags: null}",
        ),
        (
            "UPDATE c SET u.tags = {'a'}, u.street = 'side' WHERE k = 1",
            "{street: 'side', zip: 2, tags: {'a'}}",
        ),
        (
            "DELETE u.street FROM c WHERE k = 1",
            "{street: null, zip: 2, tags: {'a'}}",
        ),
        (
            "UPDATE c SET u.zip = null WHERE k = 1",
            "{street: null, zip: null, tags: {'a'}}",
        ),
        (
            "UPDATE c SET u = {zip: 9} WHERE k = 1",
            "{street: null, zip: 9, tags: null}",
        ),
        (
            "UPDATE c SET u.street = 'x' WHERE k = 2",
            "{street: 'x', zip: null, tags: null}",
        ),
    ];
    for (q, after) in steps {
        ok(&e, &mut s, q).await;
        let k = if q.ends_with("k = 2") { 2 } else { 1 };
        assert_eq!(
            select(&e, &mut s, &format!("SELECT u FROM c WHERE k = {k}")).await,
            expect(&[&[after]]),
            "{q}"
        );
    }
    let errors = [
        (
            "UPDATE c SET fu.zip = 1 WHERE k = 1",
            "Invalid operation (fu.zip = 1) for frozen UDT column fu",
        ),
        (
            "UPDATE c SET v.zip = 1 WHERE k = 1",
            "Invalid operation (v.zip = 1) for non-UDT column v",
        ),
        (
            "UPDATE c SET u.nope = 1 WHERE k = 1",
            "UDT column u does not have a field named nope",
        ),
        (
            "DELETE fu.zip FROM c WHERE k = 1",
            "Frozen UDT column fu does not support field deletions",
        ),
        (
            "DELETE v.zip FROM c WHERE k = 1",
            "Invalid field deletion operation for non-UDT column v",
        ),
        (
            "DELETE u.nope FROM c WHERE k = 1",
            "UDT column u does not have a field named nope",
        ),
    ];
    for (q, msg) in errors {
        assert_eq!(invalid(&e, &mut s, q).await, msg, "{q}");
    }
    // Prepared field assignments are typed as the field.
    let p = e
        .prepare(&s, "UPDATE c SET u.zip = ? WHERE k = ?", None)
        .expect("prepares");
    let specs: Vec<_> = p
        .metadata
        .columns
        .iter()
        .map(|c| (c.name.clone(), c.typ.cql_name()))
        .collect();
    assert_eq!(
        specs,
        [
            ("u.zip".to_string(), "int".to_string()),
            ("k".into(), "int".into())
        ]
    );
}

#[tokio::test]
async fn insert_json() {
    let (e, _, mut s) = setup().await;
    ok(
        &e,
        &mut s,
        "CREATE TABLE j (k int, c text, v int, \"Mixed\" text, m map<int, text>, l list<frozen<map<text, int>>>, ts timestamp, PRIMARY KEY (k, c))",
    )
    .await;
    ok(
        &e,
        &mut s,
        r#"INSERT INTO j JSON '{"k": 1, "c": "a", "v": 5, "\"Mixed\"": "M", "m": {"1": "one", "2": "two"}, "l": [{"x": 1}], "ts": "2024-01-02 03:04:05+0000"}'"#,
    )
    .await;
    assert_eq!(
        select(&e, &mut s, "SELECT k, c, v, \"Mixed\", m, l, ts FROM j").await,
        expect(&[&[
            "1",
            "'a'",
            "5",
            "'M'",
            "{1: 'one', 2: 'two'}",
            "[{'x': 1}]",
            "'2024-01-02 03:04:05.000000+0000'"
        ]])
    );
    // Keys are case-insensitive unless quoted; numbers may come as strings.
    ok(&e, &mut s, r#"INSERT INTO j JSON '{"K": "2", "C": "b", "V": 6}'"#).await;
    assert_eq!(
        select(&e, &mut s, "SELECT v FROM j WHERE k = 2").await,
        expect(&[&["6"]])
    );
    // DEFAULT UNSET leaves unmentioned columns alone; DEFAULT NULL (the default) clears them.
    ok(
        &e,
        &mut s,
        r#"INSERT INTO j JSON '{"k": 1, "c": "a", "v": 7}' DEFAULT UNSET"#,
    )
    .await;
    assert_eq!(
        select(&e, &mut s, "SELECT v, \"Mixed\" FROM j WHERE k = 1").await,
        expect(&[&["7", "'M'"]])
    );
    ok(
        &e,
        &mut s,
        r#"INSERT INTO j JSON '{"k": 1, "c": "a", "v": 8}' DEFAULT NULL"#,
    )
    .await;
    assert_eq!(
        select(&e, &mut s, "SELECT v, \"Mixed\", m FROM j WHERE k = 1").await,
        expect(&[&["8", "null", "null"]])
    );
    // An explicit JSON null is a null.
    ok(
        &e,
        &mut s,
        r#"INSERT INTO j JSON '{"k": 1, "c": "a", "v": null}' DEFAULT UNSET"#,
    )
    .await;
    assert_eq!(
        select(&e, &mut s, "SELECT v FROM j WHERE k = 1").await,
        expect(&[&["null"]])
    );
    // A bound document.
    run_with(
        &e,
        &mut s,
        "INSERT INTO j JSON ?",
        vec![text(r#"{"k": 3, "c": "z", "v": 1}"#)],
    )
    .await
    .expect("runs");
    assert_eq!(
        select(&e, &mut s, "SELECT v FROM j WHERE k = 3").await,
        expect(&[&["1"]])
    );
    let p = e.prepare(&s, "INSERT INTO j JSON ?", None).expect("prepares");
    assert_eq!(p.metadata.columns[0].name, "[json]");
    assert_eq!(p.metadata.columns[0].typ.cql_name(), "text");
    // A conditional JSON insert.
    let r = ok(
        &e,
        &mut s,
        r#"INSERT INTO j JSON '{"k": 3, "c": "z", "v": 2}' IF NOT EXISTS"#,
    )
    .await;
    assert_eq!(rows(&r)[0][..4].to_vec(), ["false", "3", "'z'", "null"]);

    let errors = [
        (
            r#"INSERT INTO j JSON '{"k": 1, "c": "a", "nope": 1}'"#,
            "JSON values map contains unrecognized column: nope",
        ),
        (
            r#"INSERT INTO j JSON '{"k": 1, "c": "a", "v": "x"}'"#,
            "Error decoding JSON value for v: Unable to make int from 'x'",
        ),
        (
            r#"INSERT INTO j JSON '{"k": 1, "c": "a", "v": [1]}'"#,
            "Error decoding JSON value for v: Expected an int value, but got a ArrayList: [1]",
        ),
        (
            r#"INSERT INTO j JSON '{"c": "a"}'"#,
            "Invalid null value in condition for column k",
        ),
        (
            r#"INSERT INTO j JSON '{"c": "a"}' DEFAULT UNSET"#,
            "Invalid unset value for column k",
        ),
        (r#"INSERT INTO j JSON 'null'"#, "Got null for INSERT JSON values"),
        (
            r#"INSERT INTO j JSON '{"Mixed": "x", "k": 1, "c": "a"}'"#,
            "JSON values map contains unrecognized column: mixed",
        ),
    ];
    for (q, msg) in errors {
        assert_eq!(invalid(&e, &mut s, q).await, msg, "{q}");
    }
    let msg = invalid(&e, &mut s, "INSERT INTO j JSON '{not json'").await;
    assert!(
        msg.starts_with("Could not decode JSON string as a map: "),
        "{msg}"
    );
    let err = run_with(&e, &mut s, "INSERT INTO j JSON ?", vec![Value::Null])
        .await
        .expect_err("null");
    assert_eq!(err.to_string(), "Got null for INSERT JSON values");
}
