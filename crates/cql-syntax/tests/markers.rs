//! Bind marker numbering and the role recorded for each marker.

use mica_cql_syntax::{MarkerRole, QualifiedName, parse_statement};

fn roles(src: &str) -> Vec<MarkerRole> {
    let stmt = parse_statement(src).unwrap_or_else(|e| panic!("{src}: {e}"));
    for (i, m) in stmt.bind_markers.iter().enumerate() {
        assert_eq!(m.index, i, "markers are listed in ordinal order");
    }
    stmt.bind_markers.into_iter().map(|m| m.role).collect()
}

fn column(c: &str) -> MarkerRole {
    MarkerRole::Column(c.to_string())
}

#[test]
fn numbering_follows_text_order_and_spans_point_at_markers() {
    let src = "SELECT * FROM t WHERE a = ? AND b IN (:x, ?) AND c = :x LIMIT ?";
    let stmt = parse_statement(src).unwrap();
    let got: Vec<_> = stmt
        .bind_markers
        .iter()
        .map(|m| (m.index, m.name.as_deref(), &src[m.span.start..m.span.end]))
        .collect();
    assert_eq!(
        got,
        [
            (0, None, "?"),
            (1, Some("x"), ":x"),
            (2, None, "?"),
            (3, Some("x"), ":x"),
            (4, None, "?")
        ]
    );
}

#[test]
fn select_roles() {
    assert_eq!(
        roles(
            "SELECT * FROM t WHERE k = ? AND c > ? AND d IN ? AND e IN (?, ?) PER PARTITION LIMIT ? LIMIT ?"
        ),
        [
            column("k"),
            column("c"),
            MarkerRole::InList("d".into()),
            column("e"),
            column("e"),
            MarkerRole::PerPartitionLimit,
            MarkerRole::Limit,
        ]
    );
    assert_eq!(
        roles("SELECT keyspace_name, table_name FROM system_schema.columns WHERE keyspace_name IN ?"),
        [MarkerRole::InList("keyspace_name".into())]
    );
    assert_eq!(
        roles("SELECT * FROM ks.t WHERE token(a) > ? AND token(a) <= ?"),
        [MarkerRole::Token, MarkerRole::Token]
    );
    assert_eq!(
        roles("SELECT * FROM t WHERE token(a, b) > token(?, ?)"),
        [column("a"), column("b")]
    );
    assert_eq!(
        roles("SELECT * FROM t WHERE m[?] = ? AND s CONTAINS ? AND m CONTAINS KEY ?"),
        [
            MarkerRole::CollectionKey("m".into()),
            MarkerRole::CollectionValue("m".into()),
            MarkerRole::CollectionValue("s".into()),
            MarkerRole::CollectionKey("m".into()),
        ]
    );
    let ab = vec!["a".to_string(), "b".to_string()];
    assert_eq!(
        roles(
            "SELECT * FROM t WHERE (a, b) > (?, ?) AND (a, b) = ? AND (a, b) IN ? AND (a, b) IN ((?, ?), ?)"
        ),
        [
            column("a"),
            column("b"),
            MarkerRole::Tuple(ab.clone()),
            MarkerRole::TupleList(ab.clone()),
            column("a"),
            column("b"),
            MarkerRole::Tuple(ab),
        ]
    );
    assert_eq!(
        roles("SELECT f(?) FROM t WHERE k = g(?)"),
        [
            MarkerRole::FunctionArgument {
                function: QualifiedName::unqualified("f"),
                position: 0
            },
            MarkerRole::FunctionArgument {
                function: QualifiedName::unqualified("g"),
                position: 0
            },
        ]
    );
}

#[test]
fn modification_roles() {
    assert_eq!(
        roles("INSERT INTO t (k, v, l) VALUES (?, (int) ?, [?]) USING TTL ? AND TIMESTAMP ?"),
        [
            column("k"),
            column("v"),
            MarkerRole::CollectionValue("l".into()),
            MarkerRole::Ttl,
            MarkerRole::Timestamp
        ]
    );
    assert_eq!(roles("INSERT INTO t JSON ?"), [MarkerRole::Json]);
    assert_eq!(
        roles(
            "UPDATE t USING TIMESTAMP ? SET a = ?, b = b + ?, m[?] = ?, u.f = ?, tu = (?, ?), ud = {x: ?} WHERE k = ? IF c = ?"
        ),
        [
            MarkerRole::Timestamp,
            column("a"),
            column("b"),
            MarkerRole::CollectionKey("m".into()),
            MarkerRole::CollectionValue("m".into()),
            MarkerRole::Field {
                column: "u".into(),
                field: "f".into()
            },
            MarkerRole::TupleElement {
                column: "tu".into(),
                position: 0
            },
            MarkerRole::TupleElement {
                column: "tu".into(),
                position: 1
            },
            MarkerRole::Field {
                column: "ud".into(),
                field: "x".into()
            },
            column("k"),
            column("c"),
        ]
    );
    assert_eq!(
        roles("DELETE m[?] FROM t USING TIMESTAMP ? WHERE k = ? IF v IN ?"),
        [
            MarkerRole::CollectionKey("m".into()),
            MarkerRole::Timestamp,
            column("k"),
            MarkerRole::InList("v".into())
        ]
    );
}

#[test]
fn batch_numbers_markers_across_children() {
    let src = "BEGIN BATCH USING TIMESTAMP ? INSERT INTO t (k, v) VALUES (?, ?); UPDATE t SET v = ? WHERE k = ?; \
               DELETE FROM t WHERE k = :k; APPLY BATCH";
    let stmt = parse_statement(src).unwrap();
    let got: Vec<_> = stmt
        .bind_markers
        .iter()
        .map(|m| (m.index, m.role.clone()))
        .collect();
    assert_eq!(
        got,
        [
            (0, MarkerRole::Timestamp),
            (1, column("k")),
            (2, column("v")),
            (3, column("v")),
            (4, column("k")),
            (5, column("k")),
        ]
    );
    assert_eq!(stmt.bind_markers[5].name.as_deref(), Some("k"));
}

#[test]
fn markers_in_failed_alternatives_are_not_counted() {
    // `(int) ?` is first tried as a type hint; `(?, ?)` backtracks to a tuple. Neither may leak markers.
    assert_eq!(roles("SELECT * FROM t WHERE a = (?, ?) AND b = ?").len(), 3);
    assert_eq!(roles("SELECT JSON ? FROM t").len(), 1);
}
