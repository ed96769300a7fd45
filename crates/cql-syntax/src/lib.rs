//! The CQL language front end: a hand-written lexer and recursive-descent parser producing an AST
//! with source spans. It knows nothing of storage, schema or execution.
//!
//! # Entry points
//! * [`parse_statement`] parses one statement, with an optional trailing `;`.
//! * [`parse_statements`] parses `;`-separated statements (e.g. a script); empty ones are skipped.
//! * [`parse_type`] parses a type string such as `map<text, frozen<list<int>>>`.
//! * [`parse_term`] parses a single term such as `{'a': 1}` or `(int) ?`.
//! * [`quote_identifier`] renders a name for CQL output (DESCRIBE), quoting it when needed.
//!
//! # Example
//! ```
//! use mica_cql_syntax::{MarkerRole, RelationLhs, StatementKind, parse_statement};
//!
//! let stmt = parse_statement("SELECT key, value FROM system.local WHERE key = ? LIMIT ?").unwrap();
//! let StatementKind::Select(select) = &stmt.kind else { unreachable!() };
//! assert_eq!(select.table.keyspace.as_deref(), Some("system"));
//! assert_eq!(select.where_clause[0].lhs, RelationLhs::Column("key".into()));
//! let roles: Vec<_> = stmt.bind_markers.iter().map(|m| m.role.clone()).collect();
//! assert_eq!(roles, [MarkerRole::Column("key".into()), MarkerRole::Limit]);
//!
//! let err = parse_statement("SELECT * FRM t").unwrap_err();
//! assert_eq!((err.line, err.column), (1, 9));
//! assert_eq!(err.message, "line 1:9 mismatched input 'FRM' expecting K_FROM (SELECT * [FRM]...)");
//! ```
//!
//! # Conventions (the contract with the executor)
//! * Identifiers are normalised: unquoted names are lowercased, `"quoted"` ones keep their case.
//!   Legacy `CREATE/ALTER/DROP USER` names keep their case, as Cassandra does.
//! * Constants keep their kind and text ([`Literal`]); the executor coerces them to the receiver type.
//!   `-` directly before a number is folded into the literal (`Literal::Integer("-1")`).
//! * `{}` parses as an empty [`Term::Set`]; the executor must accept it for maps and UDTs.
//! * Every bind marker occurrence (`?` or `:name`) gets the next ordinal from 0, across the whole
//!   statement including batch children. [`Statement::bind_markers`] lists them, each with a
//!   [`MarkerRole`] saying which column or clause the value feeds.
//! * Non-reserved keywords (`key`, `type`, `value`, `ttl`, `count`, `json`, `roles`, ...) are usable as
//!   identifiers; only Cassandra's reserved keywords need quoting.
//! * Errors ([`ParseError`]) carry a 1-based line, a 0-based column and a Cassandra-style message
//!   (`line 1:9 mismatched input 'FRM' expecting K_FROM (SELECT * [FRM]...)`), to be sent as a
//!   SyntaxException (0x2000).
//! * Statements the grammar accepts may still be semantically invalid (e.g. two PRIMARY KEYs,
//!   `USING TTL` on a counter); those checks belong to the executor and yield InvalidRequest.

mod ast;
mod error;
mod grammar;
mod lexer;
mod markers;
mod parser;

pub use ast::*;
pub use error::ParseError;
pub use grammar::Grammar;

use parser::Parser;

/// Parses exactly one statement; a trailing `;` is allowed.
pub fn parse_statement(src: &str) -> Result<Statement, ParseError> {
    Parser::new(src)?.single()
}

/// Parses exactly one statement with only the parts of the grammar `grammar` enables (the syntax of an
/// older Cassandra release).
pub fn parse_statement_with(src: &str, grammar: Grammar) -> Result<Statement, ParseError> {
    Parser::new(src)?.with_grammar(grammar).single()
}

/// Parses a sequence of statements separated by `;`. Blank input gives an empty vector.
/// Each statement numbers its bind markers independently.
pub fn parse_statements(src: &str) -> Result<Vec<Statement>, ParseError> {
    Parser::new(src)?.many()
}

/// Parses a CQL type, e.g. `frozen<map<text, tuple<int, uuid>>>` or `ks.my_udt`.
pub fn parse_type(src: &str) -> Result<TypeExpr, ParseError> {
    let mut p = Parser::new(src)?;
    let ty = p.type_expr()?;
    p.expect_eof()?;
    Ok(ty)
}

/// Parses a single term (constant, collection, tuple, function call, ...). Bind markers are
/// numbered from 0 within the term.
pub fn parse_term(src: &str) -> Result<Term, ParseError> {
    let mut p = Parser::new(src)?;
    let term = p.term()?;
    p.expect_eof()?;
    Ok(term)
}

pub use mica_types::ident::{is_reserved_keyword, quote_identifier};

#[cfg(test)]
mod tests {
    use super::*;

    /// Whatever the shared quoting rule prints must parse back as the same identifier.
    #[test]
    fn quoted_identifiers_parse_back() {
        let words = mica_types::ident::GRAMMAR_RESERVED.iter().copied();
        for name in words.chain(["default", "true", "nan", "MyTable", "a\"b", "1abc", "users"]) {
            let text = format!("SELECT {} FROM t", quote_identifier(name));
            let parsed = parse_statement(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
            let StatementKind::Select(select) = parsed.kind else {
                panic!("{text}: not a select")
            };
            let Selection::Selectors(selectors) = &select.selection else {
                panic!("{text}: wildcard")
            };
            assert_eq!(
                selectors[0].selectable,
                Selectable::Column(name.to_owned()),
                "{text}"
            );
        }
    }

    #[test]
    fn types_round_trip() {
        for src in [
            "int",
            "map<text, frozen<list<int>>>",
            "tuple<int, text, uuid>",
            "vector<float, 3>",
            "ks.addr",
        ] {
            assert_eq!(parse_type(src).unwrap().to_string(), src);
        }
        assert_eq!(parse_type("VARCHAR").unwrap(), TypeExpr::Native(NativeType::Text));
        assert_eq!(
            parse_type("\"MyType\"").unwrap(),
            TypeExpr::UserDefined(QualifiedName::unqualified("MyType"))
        );
        assert_eq!(
            parse_type("'org.Foo'").unwrap(),
            TypeExpr::Custom("org.Foo".into())
        );
        assert!(parse_type("map<int>").is_err());
        assert!(parse_type("list<int").is_err());
    }
}
