//! Fuzz target: arbitrary text through the CQL lexer and parser (statements, types and terms). The parser must
//! return a statement or a `ParseError` for every input, never panic. Run with `cargo fuzz run cql_parser`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // CQL arrives as UTF-8 text in QUERY/PREPARE bodies; the protocol layer rejects anything else before parsing.
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(statements) = mica_cql_syntax::parse_statements(text) {
        // Every accepted statement must record its bind markers consistently with what it parsed.
        for s in statements {
            assert!(s.bind_markers.len() <= text.matches(['?', ':']).count());
        }
    }
    let _ = mica_cql_syntax::parse_type(text);
    let _ = mica_cql_syntax::parse_term(text);
});
