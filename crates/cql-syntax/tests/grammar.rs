//! Version-dependent grammar: with a [`Grammar`] switch off, newer syntax fails the way the older
//! Cassandra release's parser fails, and everything else still parses.

use mica_cql_syntax::{Grammar, parse_statement, parse_statement_with};

/// Cassandra 4.x's grammar: no vectors, ANN, identities or masks.
const CASSANDRA_4: Grammar = Grammar {
    vector_type: false,
    ann_ordering: false,
    identities: false,
    column_masks: false,
    describe: true,
};

/// Cassandra 3.11's grammar: additionally no server-side DESCRIBE.
const CASSANDRA_3: Grammar = Grammar {
    describe: false,
    ..CASSANDRA_4
};

fn err(src: &str, grammar: Grammar) -> String {
    match parse_statement_with(src, grammar) {
        Ok(s) => panic!("{src:?} parsed: {s:?}"),
        Err(e) => e.message,
    }
}

#[test]
fn newer_syntax_fails_like_the_older_parser() {
    assert_eq!(
        err(
            "CREATE TABLE ks.t (k int PRIMARY KEY, v vector<float, 3>)",
            CASSANDRA_4
        ),
        "line 1:46 mismatched input '<' expecting ')' (....t (k int PRIMARY KEY, v vector[<]...)"
    );
    assert_eq!(
        err("ALTER TABLE ks.t ADD v vector<float, 3>", CASSANDRA_4),
        "line 1:29 mismatched input '<' expecting EOF (ALTER TABLE ks.t ADD v vector[<]...)"
    );
    assert_eq!(
        err(
            "SELECT * FROM ks.t ORDER BY v ANN OF [1.0, 2.0] LIMIT 3",
            CASSANDRA_4
        ),
        "line 1:30 mismatched input 'ANN' expecting EOF (SELECT * FROM ks.t ORDER BY v [ANN]...)"
    );
    assert_eq!(
        err("ADD IDENTITY 'spiffe://x' TO ROLE 'r'", CASSANDRA_4),
        "line 1:0 no viable alternative at input 'ADD' ([ADD]...)"
    );
    assert!(
        err("DROP IDENTITY 'spiffe://x'", CASSANDRA_4).contains("no viable alternative at input 'IDENTITY'")
    );
    assert!(
        err(
            "CREATE TABLE ks.t (k int PRIMARY KEY, v text MASKED WITH DEFAULT)",
            CASSANDRA_4
        )
        .contains("mismatched input 'MASKED' expecting ')'")
    );
    assert!(err("ALTER TABLE ks.t ALTER v DROP MASKED", CASSANDRA_4).contains("expecting K_TYPE"));
    // Server-side DESCRIBE is 4.0's; 3.11's parser does not know the statement.
    assert!(parse_statement_with("DESCRIBE KEYSPACES", CASSANDRA_4).is_ok());
    assert_eq!(
        err("DESCRIBE KEYSPACES", CASSANDRA_3),
        "line 1:0 no viable alternative at input 'DESCRIBE' ([DESCRIBE]...)"
    );
}

#[test]
fn the_full_grammar_is_the_default_and_older_grammars_keep_the_rest() {
    for q in [
        "CREATE TABLE ks.t (k int PRIMARY KEY, v vector<float, 3>)",
        "SELECT * FROM ks.t ORDER BY v ANN OF [1.0, 2.0] LIMIT 3",
        "ADD IDENTITY 'spiffe://x' TO ROLE 'r'",
        "CREATE TABLE ks.t (k int PRIMARY KEY, v text MASKED WITH DEFAULT)",
    ] {
        assert_eq!(parse_statement_with(q, Grammar::FULL), parse_statement(q), "{q}");
        assert!(parse_statement(q).is_ok(), "{q}");
    }
    // A user type that happens to be called vector is still a user type on the older grammar.
    for q in [
        "CREATE TABLE ks.t (k int PRIMARY KEY, v frozen<list<int>>, d duration, u ks.vector)",
        "SELECT * FROM ks.t WHERE k = 1 ORDER BY c DESC LIMIT 3",
        "DROP ROLE r",
    ] {
        assert!(parse_statement_with(q, CASSANDRA_3).is_ok(), "{q}");
    }
}
