//! CQL identifiers: the reserved keywords and Cassandra's quoting rule, shared by the parser and by
//! everything that prints CQL (DESCRIBE, error messages, type names) so that printed CQL always parses again.

/// Keywords the CQL grammar refuses as unquoted identifiers (Cassandra's reserved keywords).
pub const GRAMMAR_RESERVED: &[&str] = &[
    "add",
    "allow",
    "alter",
    "and",
    "apply",
    "asc",
    "authorize",
    "batch",
    "begin",
    "by",
    "columnfamily",
    "create",
    "delete",
    "desc",
    "describe",
    "drop",
    "entries",
    "execute",
    "from",
    "full",
    "grant",
    "if",
    "in",
    "index",
    "insert",
    "into",
    "is",
    "keyspace",
    "limit",
    "materialized",
    "modify",
    "norecursive",
    "not",
    "null",
    "of",
    "on",
    "or",
    "order",
    "primary",
    "rename",
    "revoke",
    "schema",
    "select",
    "set",
    "table",
    "to",
    "token",
    "truncate",
    "unlogged",
    "update",
    "use",
    "using",
    "view",
    "where",
    "with",
];

/// Words the grammar accepts as identifiers but Cassandra still quotes when printing (its `ReservedKeywords`
/// list has them), plus the literals the lexer reads as constants.
const QUOTE_ALSO: &[&str] = &[
    "default", "false", "infinity", "mbean", "mbeans", "nan", "replace", "true", "unset",
];

/// Whether the parser refuses `word` (any case) as an unquoted identifier.
pub fn is_grammar_reserved(word: &str) -> bool {
    GRAMMAR_RESERVED.iter().any(|k| k.eq_ignore_ascii_case(word))
}

/// Whether `word` (any case) must be quoted to be used as an identifier in printed CQL.
pub fn is_reserved_keyword(word: &str) -> bool {
    is_grammar_reserved(word) || QUOTE_ALSO.iter().any(|k| k.eq_ignore_ascii_case(word))
}

/// Renders an identifier for CQL output: bare if it is lower-case `[a-z][a-z0-9_]*` and not a reserved
/// keyword, otherwise double-quoted with `"` doubled (Cassandra's `maybeQuote`).
pub fn quote_identifier(name: &str) -> String {
    let mut chars = name.chars();
    let plain = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain && !is_reserved_keyword(name) {
        name.to_owned()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_follows_cassandra() {
        assert_eq!(quote_identifier("users"), "users");
        assert_eq!(quote_identifier("key"), "key");
        assert_eq!(quote_identifier("select"), "\"select\"");
        assert_eq!(quote_identifier("SELECT"), "\"SELECT\"");
        assert_eq!(quote_identifier("default"), "\"default\"");
        assert_eq!(quote_identifier("MyTable"), "\"MyTable\"");
        assert_eq!(quote_identifier("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_identifier("1abc"), "\"1abc\"");
        assert_eq!(quote_identifier(""), "\"\"");
    }

    #[test]
    fn grammar_reserved_is_a_subset_of_quoted() {
        assert!(is_grammar_reserved("From"));
        assert!(!is_grammar_reserved("default"));
        assert!(is_reserved_keyword("default"));
        assert!(GRAMMAR_RESERVED.iter().all(|w| is_reserved_keyword(w)));
        assert!(!is_reserved_keyword("ttl"));
    }
}
