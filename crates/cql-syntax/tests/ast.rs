//! The shape of the AST for representative statements: names, literals, relations, assignments,
//! schema statements, roles, permissions and DESCRIBE.

use mica_cql_syntax::*;

fn kind(src: &str) -> StatementKind {
    match parse_statement(src) {
        Ok(s) => s.kind,
        Err(e) => panic!("{src}: {e}"),
    }
}

fn select(src: &str) -> Select {
    match kind(src) {
        StatementKind::Select(s) => *s,
        other => panic!("not a select: {other:?}"),
    }
}

fn qn(ks: Option<&str>, name: &str) -> QualifiedName {
    QualifiedName {
        keyspace: ks.map(str::to_string),
        name: name.to_string(),
    }
}

fn col(name: &str) -> Selectable {
    Selectable::Column(name.to_string())
}

fn lit_str(s: &str) -> Term {
    Term::Literal(Literal::String(s.to_string()))
}

fn int(s: &str) -> Term {
    Term::Literal(Literal::Integer(s.to_string()))
}

#[test]
fn keywords_as_identifiers_in_system_local_query() {
    let s = select("SELECT key, type, value FROM system.local WHERE key='local'");
    let Selection::Selectors(sels) = &s.selection else {
        panic!("expected selectors")
    };
    let cols: Vec<_> = sels.iter().map(|s| s.selectable.clone()).collect();
    assert_eq!(cols, [col("key"), col("type"), col("value")]);
    assert_eq!(s.table, qn(Some("system"), "local"));
    assert_eq!(s.where_clause.len(), 1);
    let r = &s.where_clause[0];
    assert_eq!(r.lhs, RelationLhs::Column("key".into()));
    assert_eq!(r.op, Operator::Eq);
    assert_eq!(r.rhs, RelationRhs::Term(lit_str("local")));
    assert_eq!((r.span.start, r.span.end), (48, 59));
}

#[test]
fn identifier_case_rules() {
    let s = select("SELECT MyCol, \"MyCol\", \"foo \"\" bar\" FROM MyKs.\"MyTable\"");
    let Selection::Selectors(sels) = &s.selection else {
        panic!()
    };
    let names: Vec<_> = sels.iter().map(|s| s.selectable.clone()).collect();
    assert_eq!(names, [col("mycol"), col("MyCol"), col("foo \" bar")]);
    assert_eq!(s.table, qn(Some("myks"), "MyTable"));
    // Keywords are case-insensitive; reserved ones need quoting.
    assert!(parse_statement("sElEcT * FrOm t").is_ok());
    assert!(parse_statement("SELECT select FROM t").is_err());
    assert!(parse_statement("SELECT \"select\" FROM t").is_ok());
    assert!(parse_statement("SELECT \"\" FROM t").is_err());
    // Named markers follow the same rules.
    let stmt = parse_statement("SELECT * FROM t WHERE a = :Foo AND b = :\"Bar\"").unwrap();
    let names: Vec<_> = stmt
        .bind_markers
        .iter()
        .map(|m| m.name.clone().unwrap())
        .collect();
    assert_eq!(names, ["foo", "Bar"]);
}

#[test]
fn literal_kinds_and_string_escaping() {
    let s = select(
        "SELECT * FROM t WHERE a = 'It''s' AND b = $$a'b''c$$ AND c = '' AND d = -12 AND e = 1.5e3 \
         AND f = -Infinity AND g = NaN AND h = TRUE AND i = 0xCafe AND j = 62C36092-82A1-3A00-93D1-46196EE77204 \
         AND k = 1h30m AND l = -P2W AND m = 12345678901234567890123",
    );
    let values: Vec<_> = s
        .where_clause
        .iter()
        .map(|r| match &r.rhs {
            RelationRhs::Term(Term::Literal(l)) => l.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        values,
        [
            Literal::String("It's".into()),
            Literal::String("a'b''c".into()),
            Literal::String(String::new()),
            Literal::Integer("-12".into()),
            Literal::Float("1.5e3".into()),
            Literal::Float("-Infinity".into()),
            Literal::Float("NaN".into()),
            Literal::Boolean(true),
            Literal::Blob("Cafe".into()),
            Literal::Uuid("62C36092-82A1-3A00-93D1-46196EE77204".into()),
            Literal::Duration("1h30m".into()),
            Literal::Duration("-P2W".into()),
            Literal::Integer("12345678901234567890123".into()),
        ]
    );
    assert_eq!(Literal::Blob("ab".into()).text(), "0xab");
    assert_eq!(Literal::Integer("1".into()).kind_name(), "INTEGER");
}

#[test]
fn collection_tuple_udt_and_hint_terms() {
    assert_eq!(
        parse_term("[1, 2]").unwrap(),
        Term::List(vec![int("1"), int("2")])
    );
    assert_eq!(parse_term("{}").unwrap(), Term::Set(vec![]));
    assert_eq!(parse_term("{1}").unwrap(), Term::Set(vec![int("1")]));
    assert_eq!(
        parse_term("{'a': 1}").unwrap(),
        Term::Map(vec![(lit_str("a"), int("1"))])
    );
    assert_eq!(
        parse_term("{Street: 'x'}").unwrap(),
        Term::Udt(vec![("street".into(), lit_str("x"))])
    );
    assert_eq!(
        parse_term("(1, 'a')").unwrap(),
        Term::Tuple(vec![int("1"), lit_str("a")])
    );
    assert_eq!(parse_term("(1)").unwrap(), Term::Tuple(vec![int("1")]));
    assert_eq!(
        parse_term("(bigint) 3").unwrap(),
        Term::TypeHint {
            ty: TypeExpr::Native(NativeType::Bigint),
            term: Box::new(int("3"))
        }
    );
    assert!(matches!(
        parse_term("(frozen<list<int>>) ?").unwrap(),
        Term::TypeHint { .. }
    ));
    assert_eq!(
        parse_term("ks.f(1, now())").unwrap(),
        Term::FunctionCall {
            name: qn(Some("ks"), "f"),
            args: vec![
                int("1"),
                Term::FunctionCall {
                    name: qn(None, "now"),
                    args: vec![]
                }
            ],
        }
    );
    // Multiplication binds tighter than addition; `-` before a number folds into the literal.
    assert_eq!(
        parse_term("1 + 2 * -3").unwrap(),
        Term::Arithmetic {
            op: ArithOp::Add,
            lhs: Box::new(int("1")),
            rhs: Box::new(Term::Arithmetic {
                op: ArithOp::Mul,
                lhs: Box::new(int("2")),
                rhs: Box::new(int("-3"))
            }),
        }
    );
    assert_eq!(
        parse_term("- ?").unwrap(),
        Term::Negate(Box::new(Term::Marker(BindMarker { index: 0, name: None })))
    );
    assert_eq!(parse_term("NULL").unwrap(), Term::Null);
    assert!(parse_term("x").is_err());
    assert!(parse_term("[1, 2").is_err());
}

#[test]
fn selectors() {
    let s = select(
        "SELECT count(*), COUNT(1) AS c, writetime(v), ttl(m['k']), CAST(x AS text), token(a, b), \
         addr.city, m['k'], s[1..], a + 1, (int) ? FROM t",
    );
    let Selection::Selectors(sels) = s.selection else {
        panic!()
    };
    assert_eq!(sels[0].selectable, Selectable::CountRows);
    assert_eq!(sels[1].alias.as_deref(), Some("c"));
    assert_eq!(
        sels[1].selectable,
        Selectable::Function {
            name: qn(None, "count"),
            args: vec![Selectable::Term(int("1"))]
        }
    );
    assert_eq!(
        sels[2].selectable,
        Selectable::Metadata {
            kind: MetadataKind::WriteTime,
            arg: Box::new(col("v"))
        }
    );
    assert!(
        matches!(&sels[3].selectable, Selectable::Metadata { kind: MetadataKind::Ttl, arg } if matches!(**arg, Selectable::Element { .. }))
    );
    assert_eq!(
        sels[4].selectable,
        Selectable::Cast {
            arg: Box::new(col("x")),
            ty: TypeExpr::Native(NativeType::Text)
        }
    );
    assert_eq!(
        sels[5].selectable,
        Selectable::Function {
            name: qn(None, "token"),
            args: vec![col("a"), col("b")]
        }
    );
    assert_eq!(
        sels[6].selectable,
        Selectable::Field {
            arg: Box::new(col("addr")),
            field: "city".into()
        }
    );
    assert_eq!(
        sels[7].selectable,
        Selectable::Element {
            arg: Box::new(col("m")),
            key: lit_str("k")
        }
    );
    assert_eq!(
        sels[8].selectable,
        Selectable::Slice {
            arg: Box::new(col("s")),
            from: Some(int("1")),
            to: None
        }
    );
    assert!(matches!(
        sels[9].selectable,
        Selectable::Arithmetic { op: ArithOp::Add, .. }
    ));
    assert!(matches!(sels[10].selectable, Selectable::TypeHint { .. }));
    // `ttl`, `count` and `writetime` without parentheses are plain columns.
    let s = select("SELECT ttl, count, writetime FROM t");
    let Selection::Selectors(sels) = s.selection else {
        panic!()
    };
    assert_eq!(
        sels.iter().map(|s| s.selectable.clone()).collect::<Vec<_>>(),
        [col("ttl"), col("count"), col("writetime")]
    );
}

#[test]
fn json_and_distinct_modifiers() {
    let s = select("SELECT JSON * FROM t");
    assert!(s.json && !s.distinct && s.selection == Selection::Wildcard);
    let s = select("SELECT JSON DISTINCT k FROM t");
    assert!(s.json && s.distinct);
    // As column names when no selection follows.
    let s = select("SELECT json FROM t");
    assert!(!s.json);
    assert_eq!(
        s.selection,
        Selection::Selectors(vec![Selector {
            selectable: col("json"),
            alias: None
        }])
    );
    let s = select("SELECT distinct, json FROM t");
    assert!(!s.distinct && !s.json);
}

#[test]
fn select_clauses() {
    let s = select(
        "SELECT * FROM ks.t WHERE k = 1 AND c IN (1, 2) GROUP BY k ORDER BY c DESC, d \
         PER PARTITION LIMIT 2 LIMIT ? ALLOW FILTERING",
    );
    assert_eq!(s.where_clause[1].op, Operator::In);
    assert_eq!(s.where_clause[1].rhs, RelationRhs::List(vec![int("1"), int("2")]));
    assert_eq!(s.group_by, [col("k")]);
    assert_eq!(
        s.order_by,
        [
            Ordering {
                column: "c".into(),
                direction: Direction::Desc,
                ann_of: None
            },
            Ordering {
                column: "d".into(),
                direction: Direction::Asc,
                ann_of: None
            },
        ]
    );
    assert_eq!(s.per_partition_limit, Some(int("2")));
    assert!(matches!(s.limit, Some(Term::Marker(_))));
    assert!(s.allow_filtering);
}

#[test]
fn relation_forms() {
    let s = select(
        "SELECT * FROM t WHERE (a, b) > (1, 2) AND (a, b) IN ((1, 2), (3, 4)) AND token(a, b) > ? \
         AND m['k'] = 'v' AND c CONTAINS KEY 'x' AND d IS NOT NULL AND e LIKE 'a%' AND f IN ? \
         AND (g = 1 AND h = 2)",
    );
    let w = &s.where_clause;
    assert_eq!(w.len(), 10);
    assert_eq!(w[0].lhs, RelationLhs::Tuple(vec!["a".into(), "b".into()]));
    assert_eq!(w[0].rhs, RelationRhs::Term(Term::Tuple(vec![int("1"), int("2")])));
    assert_eq!(
        w[1].rhs,
        RelationRhs::List(vec![
            Term::Tuple(vec![int("1"), int("2")]),
            Term::Tuple(vec![int("3"), int("4")])
        ])
    );
    assert_eq!(w[2].lhs, RelationLhs::Token(vec!["a".into(), "b".into()]));
    assert_eq!(
        w[3].lhs,
        RelationLhs::Element {
            column: "m".into(),
            key: lit_str("k")
        }
    );
    assert_eq!(w[4].op, Operator::ContainsKey);
    assert_eq!(
        (w[5].op, &w[5].rhs),
        (Operator::IsNotNull, &RelationRhs::Term(Term::Null))
    );
    assert_eq!(w[6].op, Operator::Like);
    assert!(matches!(w[7].rhs, RelationRhs::Term(Term::Marker(_))));
    assert_eq!(w[9].lhs, RelationLhs::Column("h".into()));
    // Relation spans cover the relation text.
    let src = "SELECT * FROM t WHERE a = 1 AND   b >= 2";
    let s = select(src);
    let r = &s.where_clause[1];
    assert_eq!(&src[r.span.start..r.span.end], "b >= 2");
    assert_eq!((r.span.line, r.span.column), (1, 34));
}

#[test]
fn insert_forms() {
    let StatementKind::Insert(i) =
        kind("INSERT INTO ks.t (k, \"V\") VALUES (1, 'a') IF NOT EXISTS USING TTL 10 AND TIMESTAMP 20")
    else {
        panic!()
    };
    assert_eq!(i.table, qn(Some("ks"), "t"));
    assert_eq!(
        i.values,
        InsertValues::Columns {
            columns: vec!["k".into(), "V".into()],
            values: vec![int("1"), lit_str("a")]
        }
    );
    assert!(i.if_not_exists);
    assert_eq!(
        i.using,
        Using {
            ttl: Some(int("10")),
            timestamp: Some(int("20"))
        }
    );
    let StatementKind::Insert(i) = kind("INSERT INTO t JSON '{\"a\": 1}' DEFAULT UNSET") else {
        panic!()
    };
    assert_eq!(
        i.values,
        InsertValues::Json {
            json: lit_str("{\"a\": 1}"),
            default_unset: true
        }
    );
    assert!(parse_statement("INSERT INTO t (k) VALUES (1) USING TTL 1 AND TTL 2").is_err());
}

#[test]
fn update_assignments_and_conditions() {
    let StatementKind::Update(u) = kind(
        "UPDATE t USING TTL 5 SET a = 1, b = b + 2, c = c - {1}, l = [0] + l, m['k'] = 'v', l[2] = 7, \
         addr.city = 'x', n += 1, o -= 2 WHERE k = 1 IF a = 1 AND m['k'] != 'z' AND addr.zip > 3 AND a IN (1, 2)",
    ) else {
        panic!()
    };
    assert_eq!(u.using.ttl, Some(int("5")));
    let a = &u.assignments;
    assert_eq!(
        a[0],
        Assignment::Set {
            target: ColumnTarget::Column("a".into()),
            value: int("1")
        }
    );
    assert_eq!(
        a[1],
        Assignment::Add {
            column: "b".into(),
            value: int("2")
        }
    );
    assert_eq!(
        a[2],
        Assignment::Subtract {
            column: "c".into(),
            value: Term::Set(vec![int("1")])
        }
    );
    assert_eq!(
        a[3],
        Assignment::Prepend {
            column: "l".into(),
            value: Term::List(vec![int("0")])
        }
    );
    assert_eq!(
        a[4],
        Assignment::Set {
            target: ColumnTarget::Element {
                column: "m".into(),
                key: lit_str("k")
            },
            value: lit_str("v")
        }
    );
    assert_eq!(a[5].column(), "l");
    assert_eq!(
        a[6],
        Assignment::Set {
            target: ColumnTarget::Field {
                column: "addr".into(),
                field: "city".into()
            },
            value: lit_str("x")
        }
    );
    assert_eq!(
        a[7],
        Assignment::Add {
            column: "n".into(),
            value: int("1")
        }
    );
    assert_eq!(
        a[8],
        Assignment::Subtract {
            column: "o".into(),
            value: int("2")
        }
    );
    let Some(Conditions::Columns(conds)) = &u.conditions else {
        panic!()
    };
    assert_eq!(conds.len(), 4);
    assert_eq!(conds[1].op, Operator::Neq);
    assert_eq!(
        conds[2].lhs,
        RelationLhs::Field {
            column: "addr".into(),
            field: "zip".into()
        }
    );
    assert_eq!(conds[3].op, Operator::In);

    let StatementKind::Update(u) = kind("UPDATE t SET v = 1 WHERE k = 1 IF EXISTS") else {
        panic!()
    };
    assert_eq!(u.conditions, Some(Conditions::Exists));
    // Counter-style updates must name the same column on both sides.
    let e = parse_statement("UPDATE t SET a = b + 1 WHERE k = 1").unwrap_err();
    assert!(
        e.message
            .contains("Only expressions of the form X = X + <value> are supported."),
        "{e}"
    );
    let e = parse_statement("UPDATE t SET a = [1] + b WHERE k = 1").unwrap_err();
    assert!(
        e.message
            .contains("Only expressions of the form X = <value> + X are supported."),
        "{e}"
    );
}

#[test]
fn delete_and_batch() {
    let StatementKind::Delete(d) =
        kind("DELETE m['k'], v, addr.city FROM t USING TIMESTAMP 9 WHERE k = 1 IF EXISTS")
    else {
        panic!()
    };
    assert_eq!(d.columns.len(), 3);
    assert_eq!(d.columns[1], ColumnTarget::Column("v".into()));
    assert_eq!(d.using.timestamp, Some(int("9")));
    assert_eq!(d.conditions, Some(Conditions::Exists));
    assert!(parse_statement("DELETE FROM t USING TTL 5 WHERE k = 1").is_err());

    let src = "BEGIN UNLOGGED BATCH USING TIMESTAMP 1 INSERT INTO t (k) VALUES (1); UPDATE t SET v = 2 WHERE k = 1 DELETE FROM t WHERE k = 3; APPLY BATCH";
    let StatementKind::Batch(b) = kind(src) else {
        panic!()
    };
    assert_eq!(b.kind, BatchKind::Unlogged);
    assert_eq!(b.using.timestamp, Some(int("1")));
    assert_eq!(b.statements.len(), 3);
    let (span, child) = &b.statements[1];
    assert!(matches!(child, BatchChild::Update(_)));
    assert_eq!(&src[span.start..span.end], "UPDATE t SET v = 2 WHERE k = 1");
    let StatementKind::Batch(b) = kind("BEGIN BATCH APPLY BATCH") else {
        panic!()
    };
    assert!(b.statements.is_empty());
    assert!(parse_statement("BEGIN BATCH SELECT * FROM t APPLY BATCH").is_err());
}

#[test]
fn keyspace_and_table_schema() {
    let StatementKind::CreateKeyspace(ks) = kind(
        "CREATE KEYSPACE IF NOT EXISTS Excalibur WITH replication = {'class': 'NetworkTopologyStrategy', 'DC1' : 1} \
         AND durable_writes = false",
    ) else {
        panic!()
    };
    assert!(ks.if_not_exists);
    assert_eq!(ks.name, "excalibur");
    assert_eq!(ks.properties[0].name, "replication");
    assert_eq!(
        ks.properties[0].value.as_text_map().unwrap(),
        [
            ("class".to_string(), "NetworkTopologyStrategy".to_string()),
            ("DC1".to_string(), "1".to_string())
        ]
    );
    assert_eq!(
        ks.properties[1].value,
        PropertyValue::Literal(Literal::Boolean(false))
    );

    let StatementKind::CreateTable(t) = kind(
        "CREATE TABLE ks.t (a int, b int, c timeuuid, s set<text> static, \"V\" frozen<map<text, int>>, \
         PRIMARY KEY ((a, b), c)) WITH CLUSTERING ORDER BY (c DESC) AND COMPACT STORAGE AND comment = 'x' \
         AND compaction = {'class': 'LeveledCompactionStrategy'} AND speculative_retry = ALWAYS",
    ) else {
        panic!()
    };
    assert_eq!(t.name, qn(Some("ks"), "t"));
    assert_eq!(t.columns.len(), 5);
    assert!(t.columns[3].is_static);
    assert_eq!(
        t.columns[3].ty,
        TypeExpr::Set(Box::new(TypeExpr::Native(NativeType::Text)))
    );
    assert_eq!(t.columns[4].name, "V");
    let pk = t.resolved_primary_key().unwrap();
    assert_eq!(pk.partition_key, ["a", "b"]);
    assert_eq!(pk.clustering, ["c"]);
    assert_eq!(t.options.clustering_order, [("c".to_string(), Direction::Desc)]);
    assert!(t.options.compact_storage);
    assert_eq!(t.options.properties.len(), 3);
    assert_eq!(
        t.options.properties[2].value,
        PropertyValue::Identifier("ALWAYS".into())
    );

    let StatementKind::CreateTable(t) = kind("CREATE TABLE t (k int PRIMARY KEY, v text)") else {
        panic!()
    };
    assert_eq!(t.resolved_primary_key().unwrap().partition_key, ["k"]);
    let StatementKind::CreateTable(t) = kind("CREATE TABLE t (k int, v text)") else {
        panic!()
    };
    assert!(t.resolved_primary_key().unwrap_err().contains("No PRIMARY KEY"));
    let StatementKind::CreateTable(t) = kind("CREATE TABLE t (k int PRIMARY KEY, v text PRIMARY KEY)") else {
        panic!()
    };
    assert!(
        t.resolved_primary_key()
            .unwrap_err()
            .contains("Multiple PRIMARY KEYs")
    );
}

#[test]
fn alter_statements() {
    let StatementKind::AlterTable(a) = kind("ALTER TABLE t ADD IF NOT EXISTS x int, y text STATIC") else {
        panic!()
    };
    let AlterTableAction::Add {
        if_not_exists,
        columns,
    } = &a.action
    else {
        panic!()
    };
    assert!(*if_not_exists);
    assert_eq!(columns.len(), 2);
    assert!(columns[1].is_static);
    let StatementKind::AlterTable(a) = kind("ALTER TABLE t DROP (x, y) USING TIMESTAMP 42") else {
        panic!()
    };
    assert_eq!(
        a.action,
        AlterTableAction::Drop {
            if_exists: false,
            columns: vec!["x".into(), "y".into()],
            timestamp: Some(42)
        }
    );
    let StatementKind::AlterTable(a) = kind("ALTER TABLE t RENAME a TO b AND c TO d") else {
        panic!()
    };
    assert_eq!(
        a.action,
        AlterTableAction::Rename {
            if_exists: false,
            renames: vec![("a".into(), "b".into()), ("c".into(), "d".into())]
        }
    );
    let StatementKind::AlterTable(a) = kind("ALTER TABLE t WITH gc_grace_seconds = 10") else {
        panic!()
    };
    assert!(matches!(a.action, AlterTableAction::Options(_)));
    let StatementKind::AlterType(a) = kind("ALTER TYPE ks.addr ADD zip int") else {
        panic!()
    };
    assert_eq!(a.name, qn(Some("ks"), "addr"));
    assert!(matches!(a.action, AlterTypeAction::Add { .. }));
    let StatementKind::AlterKeyspace(a) = kind("ALTER KEYSPACE ks WITH durable_writes = true") else {
        panic!()
    };
    assert_eq!(a.name, "ks");
}

#[test]
fn masks_and_identities() {
    let StatementKind::CreateTable(t) = kind(
        "CREATE TABLE t (k int PRIMARY KEY, a text MASKED WITH DEFAULT, b int MASKED WITH mask_inner(1, null))",
    ) else {
        panic!()
    };
    assert_eq!(t.columns[0].mask, None);
    assert_eq!(
        t.columns[1].mask,
        Some(ColumnMask {
            function: qn(None, "mask_default"),
            args: vec![]
        })
    );
    assert_eq!(
        t.columns[2].mask,
        Some(ColumnMask {
            function: qn(None, "mask_inner"),
            args: vec![int("1"), Term::Null]
        })
    );
    let StatementKind::AlterTable(a) = kind("ALTER TABLE t ALTER a DROP MASKED") else {
        panic!()
    };
    assert_eq!(
        a.action,
        AlterTableAction::Mask {
            column: "a".into(),
            mask: None
        }
    );
    assert_eq!(
        kind("ADD IDENTITY IF NOT EXISTS 'spiffe://x' TO ROLE 'r1'"),
        StatementKind::AddIdentity {
            if_not_exists: true,
            identity: "spiffe://x".into(),
            role: "r1".into()
        }
    );
    assert_eq!(
        kind("DROP IDENTITY 'id'"),
        StatementKind::DropIdentity {
            if_exists: false,
            identity: "id".into()
        }
    );
}

#[test]
fn types_indexes_views_functions() {
    let StatementKind::CreateType(t) =
        kind("CREATE TYPE ks.addr (street text, zip int, tags frozen<set<text>>)")
    else {
        panic!()
    };
    assert_eq!(t.fields.len(), 3);
    assert_eq!(t.fields[2].1.to_string(), "frozen<set<text>>");

    let StatementKind::CreateIndex(i) = kind(
        "CREATE CUSTOM INDEX IF NOT EXISTS idx ON ks.t (keys(m)) USING 'org.Foo' WITH OPTIONS = {'a': 'b'}",
    ) else {
        panic!()
    };
    assert!(i.custom && i.if_not_exists);
    assert_eq!(i.name.as_deref(), Some("idx"));
    assert_eq!(
        i.targets,
        [IndexTarget {
            column: "m".into(),
            kind: IndexTargetKind::Keys
        }]
    );
    assert_eq!(i.using.as_deref(), Some("org.Foo"));
    assert_eq!(i.properties[0].name, "options");
    let StatementKind::CreateIndex(i) = kind("CREATE INDEX ON t (v)") else {
        panic!()
    };
    assert_eq!(i.name, None);
    assert_eq!(i.targets[0].kind, IndexTargetKind::Simple);

    let StatementKind::CreateView(v) = kind(
        "CREATE MATERIALIZED VIEW mv AS SELECT a, b FROM t WHERE a IS NOT NULL AND b IS NOT NULL \
         PRIMARY KEY (b, a) WITH CLUSTERING ORDER BY (a DESC)",
    ) else {
        panic!()
    };
    assert_eq!(v.base_table, qn(None, "t"));
    assert_eq!(
        v.primary_key,
        PrimaryKey {
            partition_key: vec!["b".into()],
            clustering: vec!["a".into()]
        }
    );
    assert_eq!(v.where_clause.len(), 2);

    let StatementKind::CreateFunction(f) = kind(
        "CREATE OR REPLACE FUNCTION ks.f (a int, b list<text>) RETURNS NULL ON NULL INPUT RETURNS text \
         LANGUAGE Java AS $$ return \"x\"; $$",
    ) else {
        panic!()
    };
    assert!(f.or_replace && !f.called_on_null_input);
    assert_eq!(f.args.len(), 2);
    assert_eq!(f.language, "java");
    assert_eq!(f.body, " return \"x\"; ");
    let StatementKind::CreateAggregate(a) =
        kind("CREATE AGGREGATE avg (int) SFUNC st STYPE tuple<int, bigint> FINALFUNC fin INITCOND (0, 0)")
    else {
        panic!()
    };
    assert_eq!(a.state_function, "st");
    assert_eq!(a.final_function.as_deref(), Some("fin"));
    assert_eq!(a.initial_condition, Some(Term::Tuple(vec![int("0"), int("0")])));
    assert_eq!(
        kind("DROP FUNCTION ks.f (int, text)"),
        StatementKind::DropFunction {
            if_exists: false,
            name: qn(Some("ks"), "f"),
            arg_types: Some(vec![
                TypeExpr::Native(NativeType::Int),
                TypeExpr::Native(NativeType::Text)
            ]),
        }
    );
    assert_eq!(
        kind("TRUNCATE TABLE ks.t"),
        StatementKind::Truncate(qn(Some("ks"), "t"))
    );
    assert_eq!(kind("USE \"MyKs\""), StatementKind::Use("MyKs".into()));
    assert_eq!(
        kind("DROP INDEX IF EXISTS ks.i"),
        StatementKind::DropIndex {
            if_exists: true,
            name: qn(Some("ks"), "i")
        }
    );
}

#[test]
fn roles_and_users() {
    let StatementKind::CreateRole(r) = kind(
        "CREATE ROLE IF NOT EXISTS Alice WITH PASSWORD = 'pw' AND LOGIN = true AND SUPERUSER = false \
         AND OPTIONS = {'a': 1} AND ACCESS TO DATACENTERS {'dc1', 'dc2'}",
    ) else {
        panic!()
    };
    assert!(r.if_not_exists && !r.user_syntax);
    assert_eq!(r.name, "alice");
    assert_eq!(r.options.password.as_deref(), Some("pw"));
    assert_eq!((r.options.login, r.options.superuser), (Some(true), Some(false)));
    assert_eq!(
        r.options.datacenters,
        Some(AccessRestriction::Only(vec!["dc1".into(), "dc2".into()]))
    );
    let e = parse_statement("CREATE ROLE r WITH LOGIN = true AND LOGIN = false").unwrap_err();
    assert!(
        e.message.contains("Multiple definition for property LOGIN"),
        "{e}"
    );

    let StatementKind::CreateRole(u) = kind("CREATE USER Bob WITH PASSWORD 'pw' SUPERUSER") else {
        panic!()
    };
    assert!(u.user_syntax);
    assert_eq!(u.name, "Bob");
    assert_eq!((u.options.login, u.options.superuser), (Some(true), Some(true)));
    let StatementKind::CreateRole(u) = kind("CREATE USER carol") else {
        panic!()
    };
    assert_eq!(u.options.superuser, Some(false));
    let StatementKind::AlterRole(u) = kind("ALTER USER bob NOSUPERUSER") else {
        panic!()
    };
    assert_eq!((u.options.superuser, u.options.password), (Some(false), None));

    assert_eq!(
        kind("CREATE ROLE 'Quoted Role'"),
        kind("CREATE ROLE \"Quoted Role\"")
    );
    assert_eq!(
        kind("GRANT a TO b"),
        StatementKind::GrantRole {
            role: "a".into(),
            grantee: "b".into()
        }
    );
    assert_eq!(
        kind("REVOKE a FROM b"),
        StatementKind::RevokeRole {
            role: "a".into(),
            revokee: "b".into()
        }
    );
    assert_eq!(
        kind("LIST ROLES"),
        StatementKind::ListRoles {
            of: None,
            recursive: true
        }
    );
    assert_eq!(
        kind("LIST ROLES OF bob NORECURSIVE"),
        StatementKind::ListRoles {
            of: Some("bob".into()),
            recursive: false
        }
    );
    assert_eq!(kind("LIST USERS"), StatementKind::ListUsers);
    assert_eq!(
        kind("DROP USER IF EXISTS Bob"),
        StatementKind::DropRole {
            if_exists: true,
            name: "Bob".into(),
            user_syntax: true
        }
    );
    // A role may be called `all`.
    assert_eq!(
        kind("GRANT all TO bob"),
        StatementKind::GrantRole {
            role: "all".into(),
            grantee: "bob".into()
        }
    );
}

#[test]
fn permissions_and_resources() {
    let cases = [
        ("GRANT SELECT ON ALL KEYSPACES TO r", Resource::AllKeyspaces),
        (
            "GRANT SELECT ON KEYSPACE ks TO r",
            Resource::Keyspace("ks".into()),
        ),
        ("GRANT SELECT ON ks.t TO r", Resource::Table(qn(Some("ks"), "t"))),
        ("GRANT SELECT ON TABLE t TO r", Resource::Table(qn(None, "t"))),
        ("GRANT ALTER ON ALL ROLES TO r", Resource::AllRoles),
        ("GRANT ALTER ON ROLE bob TO r", Resource::Role("bob".into())),
        (
            "GRANT EXECUTE ON ALL FUNCTIONS TO r",
            Resource::AllFunctions(None),
        ),
        (
            "GRANT EXECUTE ON ALL FUNCTIONS IN KEYSPACE ks TO r",
            Resource::AllFunctions(Some("ks".into())),
        ),
        (
            "GRANT EXECUTE ON FUNCTION ks.f(int) TO r",
            Resource::Function {
                name: qn(Some("ks"), "f"),
                arg_types: vec![TypeExpr::Native(NativeType::Int)],
            },
        ),
        ("GRANT SELECT ON ALL MBEANS TO r", Resource::AllMBeans),
        (
            "GRANT SELECT ON MBEAN 'a:b=c' TO r",
            Resource::MBean("a:b=c".into()),
        ),
        ("GRANT SELECT ON MBEANS 'a:*' TO r", Resource::MBean("a:*".into())),
    ];
    for (src, resource) in cases {
        let StatementKind::GrantPermissions(g) = kind(src) else {
            panic!("{src}")
        };
        assert_eq!(g.resource, resource, "{src}");
        assert_eq!(g.role, "r");
    }
    let StatementKind::RevokePermissions(r) = kind("REVOKE ALL PERMISSIONS ON KEYSPACE ks FROM bob") else {
        panic!()
    };
    assert_eq!(r.permissions, Permissions::All);
    let StatementKind::GrantPermissions(g) = kind("GRANT SELECT PERMISSION, MODIFY ON ks.t TO r") else {
        panic!()
    };
    assert_eq!(
        g.permissions,
        Permissions::Some(vec![Permission::Select, Permission::Modify])
    );
    let StatementKind::ListPermissions(l) = kind("LIST ALL PERMISSIONS ON ks.t OF bob NORECURSIVE") else {
        panic!()
    };
    assert_eq!(l.permissions, Permissions::All);
    assert_eq!(l.resource, Some(Resource::Table(qn(Some("ks"), "t"))));
    assert_eq!((l.of.as_deref(), l.recursive), (Some("bob"), false));
    let StatementKind::ListPermissions(l) = kind("LIST MODIFY") else {
        panic!()
    };
    assert_eq!((l.resource, l.of, l.recursive), (None, None, true));
}

#[test]
fn describe_forms() {
    let d = |src: &str| match kind(src) {
        StatementKind::Describe(d) => d,
        other => panic!("{other:?}"),
    };
    use DescribeTarget as T;
    assert_eq!(d("DESCRIBE CLUSTER").target, T::Cluster);
    assert_eq!(d("DESC SCHEMA").target, T::Schema { full: false });
    assert_eq!(d("DESCRIBE FULL SCHEMA").target, T::Schema { full: true });
    assert_eq!(d("DESCRIBE KEYSPACES").target, T::Keyspaces);
    assert_eq!(
        d("DESCRIBE KEYSPACE").target,
        T::Keyspace {
            only: false,
            name: None
        }
    );
    assert_eq!(
        d("DESCRIBE ONLY KEYSPACE ks").target,
        T::Keyspace {
            only: true,
            name: Some("ks".into())
        }
    );
    let with = d("DESCRIBE KEYSPACE \"MyKs\" WITH INTERNALS");
    assert_eq!(
        with.target,
        T::Keyspace {
            only: false,
            name: Some("MyKs".into())
        }
    );
    assert!(with.with_internals);
    assert_eq!(d("DESCRIBE TABLES").target, T::Tables);
    assert_eq!(d("DESCRIBE TABLE ks.t").target, T::Table(qn(Some("ks"), "t")));
    assert_eq!(d("DESCRIBE TYPES").target, T::Types);
    assert_eq!(d("DESCRIBE TYPE t").target, T::Type(qn(None, "t")));
    assert_eq!(d("DESCRIBE FUNCTIONS").target, T::Functions);
    assert_eq!(
        d("DESCRIBE FUNCTION ks.f").target,
        T::Function(qn(Some("ks"), "f"))
    );
    assert_eq!(d("DESCRIBE AGGREGATES").target, T::Aggregates);
    assert_eq!(d("DESCRIBE AGGREGATE a").target, T::Aggregate(qn(None, "a")));
    assert_eq!(d("DESCRIBE INDEX i").target, T::Index(qn(None, "i")));
    assert_eq!(
        d("DESCRIBE MATERIALIZED VIEW ks.v").target,
        T::MaterializedView(qn(Some("ks"), "v"))
    );
    assert_eq!(d("DESCRIBE ks").target, T::Name(qn(None, "ks")));
    let generic = d("DESC ks.t WITH INTERNALS");
    assert_eq!(generic.target, T::Name(qn(Some("ks"), "t")));
    assert!(generic.with_internals);
    assert!(!d("DESCRIBE TABLES").with_internals);
}

#[test]
fn statement_scripts_and_spans() {
    let src = "USE ks;\n\nSELECT * FROM t WHERE k = ?;;  INSERT INTO t (k) VALUES (?)";
    let stmts = parse_statements(src).unwrap();
    assert_eq!(stmts.len(), 3);
    assert_eq!(
        &src[stmts[1].span.start..stmts[1].span.end],
        "SELECT * FROM t WHERE k = ?"
    );
    assert_eq!((stmts[1].span.line, stmts[1].span.column), (3, 0));
    // Markers are numbered per statement.
    assert_eq!(stmts[2].bind_markers[0].index, 0);
    assert!(parse_statements("").unwrap().is_empty());
    assert!(parse_statements(" ; -- nothing\n;").unwrap().is_empty());
    assert!(parse_statements("USE a USE b").is_err());
    assert!(parse_statement("USE a; USE b").is_err());
}
