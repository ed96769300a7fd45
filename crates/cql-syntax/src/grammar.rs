//! Which version-dependent parts of the CQL grammar the parser recognises, so that a node behaving as an
//! older Cassandra release rejects newer syntax exactly where that release's parser does.

/// Switches for grammar that only some Cassandra releases have. With a switch off, the words involved are
/// plain identifiers again, as they were in the older grammar, so the parse fails with the older
/// release's own syntax error (e.g. `vector` parses as a user type name and the `<` after it is the
/// mismatched input).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grammar {
    /// The `vector<type, dimension>` type (Cassandra 5.0).
    pub vector_type: bool,
    /// `ORDER BY column ANN OF term` (Cassandra 5.0).
    pub ann_ordering: bool,
    /// `ADD IDENTITY` and `DROP IDENTITY` (Cassandra 5.0).
    pub identities: bool,
    /// Dynamic data masking: `MASKED WITH ...` on columns and `ALTER ... DROP MASKED` (Cassandra 5.0).
    pub column_masks: bool,
    /// `DESCRIBE` / `DESC` as server-side statements (Cassandra 4.0).
    pub describe: bool,
}

impl Grammar {
    /// Everything Mica's parser knows (the newest release).
    pub const FULL: Grammar = Grammar {
        vector_type: true,
        ann_ordering: true,
        identities: true,
        column_masks: true,
        describe: true,
    };
}

impl Default for Grammar {
    fn default() -> Self {
        Grammar::FULL
    }
}
