//! Statements that must fail, with Cassandra-style `line L:C` messages, and a seeded
//! random-input test checking that no input makes the parser panic.

use mica_cql_syntax::{parse_statement, parse_statements, parse_term, parse_type};

fn err(src: &str) -> (u32, u32, String) {
    match parse_statement(src) {
        Ok(s) => panic!("{src:?} parsed: {s:?}"),
        Err(e) => (e.line, e.column, e.message),
    }
}

#[test]
fn cassandra_style_messages() {
    assert_eq!(
        err("SELECT * FRM t").2,
        "line 1:9 mismatched input 'FRM' expecting K_FROM (SELECT * [FRM]...)"
    );
    assert_eq!(
        err("SELECT * FROM t x").2,
        "line 1:16 mismatched input 'x' expecting EOF (SELECT * FROM t [x])"
    );
    assert_eq!(
        err("SELEC * FROM t").2,
        "line 1:0 no viable alternative at input 'SELEC' ([SELEC]...)"
    );
    assert_eq!(
        err("SELECT * FROM t WHERE a =").2,
        "line 1:25 no viable alternative at input '<EOF>' (SELECT * FROM t WHERE a =)"
    );
    assert_eq!(
        err("INSERT INTO t (a) VALUES (1").2,
        "line 1:27 mismatched input '<EOF>' expecting ')' (INSERT INTO t (a) VALUES (1)"
    );
    // Long prefixes are elided to the ten tokens before the error.
    assert!(
        err("SELECT a, b, c, d, e, f FRM t")
            .2
            .ends_with("(..., b, c, d, e, f [FRM]...)")
    );
}

#[test]
fn positions_are_line_and_zero_based_column() {
    let at = |src: &str| {
        let (line, column, _) = err(src);
        (line, column)
    };
    assert_eq!(at("SELECT *\nFROM t\nWHERE k = = 1"), (3, 10));
    assert_eq!(at("SELECT * FROM t WHERE select = 1"), (1, 22));
    assert_eq!(at("  \n  BOGUS"), (2, 2));
    // Lexical errors.
    let (line, col, msg) = err("SELECT * FROM t WHERE a = 'abc");
    assert_eq!((line, col), (1, 30));
    assert!(msg.contains("expecting '''"), "{msg}");
    let (_, col, msg) = err("SELECT * FROM t WHERE a = #");
    assert_eq!(col, 26);
    assert!(msg.contains("no viable alternative at character '#'"), "{msg}");
    let e = parse_statements("SELECT * FROM t;\nSELECT * FROM").unwrap_err();
    assert_eq!((e.line, e.column, e.offset), (2, 13, 30));
}

#[test]
fn rejected_statements() {
    let bad = [
        "",
        ";",
        "SELECT",
        "SELECT FROM t",
        "SELECT * FROM",
        "SELECT * FROM t WHERE",
        "SELECT * FROM t WHERE a",
        "SELECT * FROM t WHERE a = 1 AND",
        "SELECT * FROM t LIMIT",
        "SELECT * FROM t ORDER c",
        "SELECT * FROM t ALLOW",
        "SELECT * FROM ks.",
        "SELECT a AS FROM t",
        "SELECT count(*, a) FROM t",
        "SELECT CAST(a) FROM t",
        "SELECT * FROM t WHERE a IN (1, 2",
        "SELECT * FROM t WHERE a IS NULL",
        "SELECT * FROM t WHERE token(a) = ",
        "INSERT INTO t VALUES (1)",
        "INSERT INTO t (a) VALUES",
        "INSERT INTO t (a) VALUES (1) IF EXISTS",
        "INSERT INTO t JSON",
        "INSERT INTO t JSON '{}' DEFAULT",
        "UPDATE t WHERE k = 1",
        "UPDATE t SET a = 1",
        "UPDATE t SET a WHERE k = 1",
        "UPDATE t SET a = a * 2 WHERE k = 1",
        "DELETE FROM t",
        "DELETE a b FROM t WHERE k = 1",
        "BEGIN BATCH INSERT INTO t (k) VALUES (1)",
        "BEGIN BATCH UPDATE t SET a = 1 WHERE k = 1 APPLY",
        "CREATE KEYSPACE ks",
        "CREATE KEYSPACE ks WITH replication =",
        "CREATE KEYSPACE ks WITH replication = {'a': }",
        "CREATE TABLE t (k int PRIMARY KEY",
        "CREATE TABLE t (k PRIMARY KEY)",
        "CREATE TABLE t (k int, PRIMARY KEY ())",
        "CREATE TABLE t (k int PRIMARY KEY) WITH",
        "CREATE TABLE t (k int PRIMARY KEY) WITH CLUSTERING ORDER (k ASC)",
        "CREATE TABLE t (k map<int>)",
        "CREATE TABLE t (k list<int)",
        "CREATE TABLE t (k vector<float>)",
        "CREATE TYPE t ()",
        "CREATE INDEX ON t",
        "CREATE INDEX ON t (keys m)",
        "CREATE OR REPLACE TABLE t (k int PRIMARY KEY)",
        "CREATE FUNCTION f (a int) RETURNS int LANGUAGE java AS 'x'",
        "CREATE AGGREGATE a (int) STYPE int",
        "CREATE ROLE r WITH LOGIN = 'yes'",
        "CREATE ROLE r WITH PASSWORD 'x'",
        "CREATE USER u WITH PASSWORD = 'x'",
        "ALTER TABLE t",
        "ALTER TABLE t ADD",
        "ALTER TABLE t RENAME a",
        "ALTER ROLE r",
        "DROP",
        "DROP TABLE",
        "DROP KEYSPACE IF ks",
        "GRANT SELECT ON TO r",
        "GRANT SELECT ON ALL THINGS TO r",
        "REVOKE SELECT ON ks.t TO r",
        "LIST",
        "LIST ROLES OF",
        "DESCRIBE",
        "DESCRIBE TABLE",
        "DESCRIBE KEYSPACE ks WITH",
        "DESCRIBE TYPE",
        "USE",
        "INSERT INTO t () VALUES ()",
        "SELECT * FROM t WHERE () = ()",
        "CREATE TABLE t (k int, PRIMARY KEY (()))",
        "ALTER TABLE t ALTER a MASKED",
        "ADD IDENTITY 'x' TO 'r'",
        "USE select",
        "TRUNCATE",
        "SELECT * FROM t; garbage",
        "SELECT * FROM t WHERE a = \"quoted id is not a value\"",
        "SELECT * FROM t WHERE a = 1 /* unterminated",
        "SELECT * FROM t WHERE a = $$unterminated",
    ];
    for src in bad {
        let e = parse_statement(src).expect_err(src);
        assert!(
            e.message.starts_with(&format!("line {}:{} ", e.line, e.column)),
            "{src}: {e}"
        );
    }
    assert!(parse_type("").is_err());
    assert!(parse_type("int int").is_err());
    assert!(parse_term("").is_err());
    assert!(parse_term("1 2").is_err());
}

#[test]
fn deep_nesting_is_rejected_cleanly() {
    for (open, close) in [("[", "]"), ("(", ")"), ("{", "}")] {
        let src = format!(
            "SELECT * FROM t WHERE a = {}1{}",
            open.repeat(50_000),
            close.repeat(50_000)
        );
        assert!(parse_statement(&src).is_err());
    }
    let src = format!("SELECT {} FROM t", "(".repeat(50_000));
    assert!(parse_statement(&src).is_err());
    assert!(parse_type(&format!("{}int{}", "list<".repeat(50_000), ">".repeat(50_000))).is_err());
    let long_sum = format!("SELECT * FROM t WHERE a = 1{}", " + 1".repeat(100_000));
    assert!(parse_statement(&long_sum).is_err());
    let wide = format!("SELECT * FROM t WHERE a IN ({})", vec!["1"; 100_000].join(", "));
    assert!(parse_statement(&wide).is_ok());
    // Moderate nesting is fine.
    assert!(parse_term(&format!("{}1{}", "[".repeat(30), "]".repeat(30))).is_ok());
}

/// A small deterministic xorshift generator, so the random test needs no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const FRAGMENTS: &[&str] = &[
    "SELECT",
    "FROM",
    "WHERE",
    "AND",
    "INSERT",
    "INTO",
    "VALUES",
    "UPDATE",
    "SET",
    "DELETE",
    "BEGIN",
    "BATCH",
    "APPLY",
    "CREATE",
    "TABLE",
    "KEYSPACE",
    "WITH",
    "PRIMARY",
    "KEY",
    "IF",
    "NOT",
    "EXISTS",
    "IN",
    "CONTAINS",
    "token",
    "count",
    "ttl",
    "writetime",
    "CAST",
    "AS",
    "JSON",
    "DISTINCT",
    "ORDER",
    "BY",
    "LIMIT",
    "GRANT",
    "ON",
    "TO",
    "ROLE",
    "DESCRIBE",
    "USING",
    "TIMESTAMP",
    "ALL",
    "frozen",
    "map",
    "list",
    "<",
    ">",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    ";",
    ".",
    "..",
    ":",
    "?",
    "=",
    "!=",
    "<=",
    "+",
    "-",
    "*",
    "/",
    "%",
    "+=",
    "'str'",
    "'it''s'",
    "$$x$$",
    "\"Q\"",
    "1",
    "-2",
    "1.5e3",
    "NaN",
    "0xff",
    "1h30m",
    "P1D",
    "true",
    "null",
    "62c36092-82a1-3a00-93d1-46196ee77204",
    "a",
    "b",
    "ks",
    "t",
    "--c\n",
    "/*c*/",
    "\n",
    "é",
    "'",
    "\"",
    "$$",
];

#[test]
fn random_input_never_panics() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut parsed = 0;
    for _ in 0..20_000 {
        let mut src = String::new();
        for _ in 0..rng.below(30) {
            if rng.below(8) == 0 {
                // Arbitrary characters, including multi-byte ones.
                let c = char::from_u32(rng.below(0x3000) as u32).unwrap_or('x');
                src.push(c);
            } else {
                src.push_str(FRAGMENTS[rng.below(FRAGMENTS.len())]);
            }
            if rng.below(3) > 0 {
                src.push(' ');
            }
        }
        if parse_statements(&src).is_ok() {
            parsed += 1;
        }
        let _ = parse_statement(&src);
        let _ = parse_type(&src);
        let _ = parse_term(&src);
    }
    assert!(parsed > 0, "the generator should produce some valid input");
}

#[test]
fn mutated_valid_statements_never_panic() {
    let seeds = [
        "SELECT a, count(*), m['k'] FROM ks.t WHERE (a, b) > (1, 2) AND token(k) > ? LIMIT 10",
        "UPDATE t USING TTL 5 SET l = [1] + l, m['a'] = 'b' WHERE k = :k IF v = 1",
        "CREATE TABLE t (a int, b frozen<map<text, list<int>>>, PRIMARY KEY ((a), b)) WITH CLUSTERING ORDER BY (b DESC)",
        "BEGIN BATCH INSERT INTO t (k) VALUES (?); DELETE FROM t WHERE k = 1; APPLY BATCH",
        "GRANT EXECUTE ON FUNCTION ks.f(int) TO r",
        "CREATE ROLE r WITH PASSWORD = 'x' AND ACCESS TO DATACENTERS {'dc1'}",
    ];
    let mut rng = Rng(42);
    for _ in 0..20_000 {
        let seed = seeds[rng.below(seeds.len())];
        let mut chars: Vec<char> = seed.chars().collect();
        for _ in 0..1 + rng.below(4) {
            let i = rng.below(chars.len());
            match rng.below(3) {
                0 => {
                    chars.remove(i);
                }
                1 => chars.insert(
                    i,
                    ['(', ')', '\'', '"', '$', '-', '/', '*', '?', ':', 'µ', ' '][rng.below(12)],
                ),
                _ => chars.truncate(i),
            }
            if chars.is_empty() {
                break;
            }
        }
        let src: String = chars.into_iter().collect();
        let _ = parse_statement(&src);
    }
}
