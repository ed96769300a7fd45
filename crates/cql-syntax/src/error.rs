//! The parse error type, shaped after Cassandra's ANTLR-generated `SyntaxException` messages.

/// A syntax error. The executor reports it as CQL error code `0x2000` (SyntaxException) with
/// [`ParseError::message`] as the error text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    /// 1-based line of the offending input.
    pub line: u32,
    /// 0-based column (in characters) of the offending input, as in Cassandra's `line L:C` prefix.
    pub column: u32,
    /// Byte offset of the offending input in the source text.
    pub offset: usize,
    /// The full message, e.g. `line 1:9 mismatched input 'FRM' expecting K_FROM (SELECT * [FRM]...)`.
    pub message: String,
}

impl ParseError {
    /// Builds an error at a position; `detail` is the text after the `line L:C ` prefix.
    pub(crate) fn new(line: u32, column: u32, offset: usize, detail: String) -> ParseError {
        ParseError {
            line,
            column,
            offset,
            message: format!("line {line}:{column} {detail}"),
        }
    }
}
