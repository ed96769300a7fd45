//! The recursive-descent parser: token cursor, error reporting and statement dispatch.
//!
//! The grammar follows Cassandra 4.1/5.0's `Parser.g`. Each statement family lives in its own
//! submodule; this module holds the shared machinery.

mod auth;
mod ddl;
mod dml;
mod terms;

use crate::ast::*;
use crate::error::ParseError;
use crate::grammar::Grammar;
use crate::lexer::{Token, TokenKind, tokenize};

/// How many tokens before the offending one an error message's snippet shows (as Cassandra does).
const SNIPPET_TOKENS_BEFORE: usize = 10;

/// Longest piece of query text (in characters) quoted in an error message, so that huge literals
/// do not produce huge messages.
const MAX_SNIPPET_PART_CHARS: usize = 200;

/// The last `n` (at least one) characters of `s`.
fn tail_chars(s: &str, n: usize) -> &str {
    match s.char_indices().rev().nth(n.saturating_sub(1)) {
        Some((i, _)) => &s[i..],
        None => s,
    }
}

/// Whether `word` (any case) is a reserved keyword.
pub(crate) fn is_reserved(word: &str) -> bool {
    mica_types::ident::is_grammar_reserved(word)
}

pub(crate) type PResult<T> = Result<T, ParseError>;

/// A saved parser position for backtracking.
#[derive(Clone, Copy)]
pub(crate) struct Checkpoint {
    pos: usize,
    markers: usize,
    depth: usize,
}

pub(crate) struct Parser<'a> {
    src: &'a str,
    tokens: Vec<Token>,
    pos: usize,
    /// Bind markers seen so far in the current statement; roles are filled in afterwards.
    markers: Vec<BindMarkerInfo>,
    /// Current expression nesting depth (see `terms::MAX_NESTING`).
    depth: usize,
    /// The version-dependent syntax recognised.
    pub(crate) grammar: Grammar,
}

impl<'a> Parser<'a> {
    pub(crate) fn new(src: &'a str) -> PResult<Self> {
        Ok(Parser {
            src,
            tokens: tokenize(src)?,
            pos: 0,
            markers: Vec::new(),
            depth: 0,
            grammar: Grammar::FULL,
        })
    }

    /// Restricts the parser to `grammar`.
    pub(crate) fn with_grammar(mut self, grammar: Grammar) -> Self {
        self.grammar = grammar;
        self
    }

    // ----- cursor -----

    pub(crate) fn peek(&self) -> &Token {
        self.peek_n(0)
    }

    pub(crate) fn peek_n(&self, n: usize) -> &Token {
        let last = self.tokens.len() - 1;
        &self.tokens[(self.pos + n).min(last)]
    }

    pub(crate) fn bump(&mut self) -> Token {
        let tok = self.peek().clone();
        if self.pos < self.tokens.len() - 1 {
            self.pos += 1;
        }
        tok
    }

    pub(crate) fn at_eof(&self) -> bool {
        self.peek().kind == TokenKind::Eof
    }

    pub(crate) fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            pos: self.pos,
            markers: self.markers.len(),
            depth: self.depth,
        }
    }

    pub(crate) fn restore(&mut self, cp: Checkpoint) {
        self.pos = cp.pos;
        self.depth = cp.depth;
        self.markers.truncate(cp.markers);
    }

    pub(crate) fn at_word(&self, kw: &str) -> bool {
        self.peek().is_word(kw)
    }

    pub(crate) fn eat_word(&mut self, kw: &str) -> bool {
        let hit = self.at_word(kw);
        if hit {
            self.bump();
        }
        hit
    }

    pub(crate) fn expect_word(&mut self, kw: &str) -> PResult<()> {
        if self.eat_word(kw) {
            Ok(())
        } else {
            Err(self.mismatch(&format!("K_{}", kw.to_ascii_uppercase())))
        }
    }

    pub(crate) fn at_sym(&self, sym: &str) -> bool {
        self.peek().is_sym(sym)
    }

    pub(crate) fn eat_sym(&mut self, sym: &str) -> bool {
        let hit = self.at_sym(sym);
        if hit {
            self.bump();
        }
        hit
    }

    pub(crate) fn expect_sym(&mut self, sym: &str) -> PResult<()> {
        if self.eat_sym(sym) {
            Ok(())
        } else {
            Err(self.mismatch(&format!("'{sym}'")))
        }
    }

    /// Parses `item (sep item)*`.
    pub(crate) fn comma_list<T>(&mut self, mut item: impl FnMut(&mut Self) -> PResult<T>) -> PResult<Vec<T>> {
        let mut items = vec![item(self)?];
        while self.eat_sym(",") {
            items.push(item(self)?);
        }
        Ok(items)
    }

    /// Parses `( item, ... )`, allowing an empty list.
    pub(crate) fn paren_list<T>(&mut self, item: impl FnMut(&mut Self) -> PResult<T>) -> PResult<Vec<T>> {
        self.expect_sym("(")?;
        if self.eat_sym(")") {
            return Ok(Vec::new());
        }
        let items = self.comma_list(item)?;
        self.expect_sym(")")?;
        Ok(items)
    }

    /// Parses `( item, ... )` with at least one item.
    pub(crate) fn paren_list1<T>(&mut self, item: impl FnMut(&mut Self) -> PResult<T>) -> PResult<Vec<T>> {
        self.expect_sym("(")?;
        let items = self.comma_list(item)?;
        self.expect_sym(")")?;
        Ok(items)
    }

    /// `IF NOT EXISTS`, if present.
    pub(crate) fn if_not_exists(&mut self) -> PResult<bool> {
        if self.at_word("if") {
            self.bump();
            self.expect_word("not")?;
            self.expect_word("exists")?;
            return Ok(true);
        }
        Ok(false)
    }

    /// `IF EXISTS`, if present.
    pub(crate) fn if_exists(&mut self) -> PResult<bool> {
        if self.at_word("if") {
            self.bump();
            self.expect_word("exists")?;
            return Ok(true);
        }
        Ok(false)
    }

    // ----- identifiers -----

    /// Whether the current token can be an identifier (quoted, or unquoted and not reserved).
    pub(crate) fn at_ident(&self) -> bool {
        is_ident_token(self.peek())
    }

    /// An identifier, normalised: unquoted ones lowercased, quoted ones verbatim.
    pub(crate) fn ident(&mut self) -> PResult<String> {
        if self.at_ident() {
            Ok(normalize_ident(&self.bump()))
        } else {
            Err(self.no_viable())
        }
    }

    /// `[keyspace.]name`.
    pub(crate) fn qualified_name(&mut self) -> PResult<QualifiedName> {
        let first = self.ident()?;
        if self.eat_sym(".") {
            let name = self.ident()?;
            return Ok(QualifiedName {
                keyspace: Some(first),
                name,
            });
        }
        Ok(QualifiedName {
            keyspace: None,
            name: first,
        })
    }

    /// A string literal's content.
    pub(crate) fn string(&mut self) -> PResult<String> {
        if self.peek().kind == TokenKind::String {
            Ok(self.bump().text)
        } else {
            Err(self.mismatch("STRING_LITERAL"))
        }
    }

    /// An integer literal, possibly negative.
    pub(crate) fn integer(&mut self) -> PResult<i64> {
        let negative = self.at_sym("-") && self.peek_n(1).kind == TokenKind::Integer;
        if negative {
            self.bump();
        }
        if self.peek().kind != TokenKind::Integer {
            return Err(self.mismatch("INTEGER"));
        }
        let text = if negative {
            format!("-{}", self.peek().text)
        } else {
            self.peek().text.clone()
        };
        match text.parse() {
            Ok(v) => {
                self.bump();
                Ok(v)
            }
            Err(_) => Err(self.error_at_current(format!("integer out of range: {text}"))),
        }
    }

    /// A boolean literal.
    pub(crate) fn boolean(&mut self) -> PResult<bool> {
        if self.peek().kind == TokenKind::Boolean {
            Ok(self.bump().text.eq_ignore_ascii_case("true"))
        } else {
            Err(self.mismatch("BOOLEAN"))
        }
    }

    // ----- errors -----

    /// The source text of a token, as shown in error messages.
    fn token_display(&self, tok: &Token) -> String {
        if tok.kind == TokenKind::Eof {
            return "<EOF>".to_string();
        }
        let text = &self.src[tok.start..tok.end];
        match text.char_indices().nth(MAX_SNIPPET_PART_CHARS) {
            Some((cut, _)) => format!("{}...", &text[..cut]),
            None => text.to_string(),
        }
    }

    /// Cassandra's query snippet: up to ten tokens before the offending one, which is bracketed.
    fn snippet(&self, index: usize) -> String {
        let from = &self.tokens[index.saturating_sub(SNIPPET_TOKENS_BEFORE)];
        let tok = &self.tokens[index];
        let before = &self.src[from.start..tok.start];
        let mut out = String::from(" (");
        if index > SNIPPET_TOKENS_BEFORE || before.chars().count() > MAX_SNIPPET_PART_CHARS {
            out.push_str("...");
        }
        if tok.kind == TokenKind::Eof {
            out.push_str(tail_chars(before.trim_end(), MAX_SNIPPET_PART_CHARS));
        } else {
            out.push_str(tail_chars(before, MAX_SNIPPET_PART_CHARS));
            out.push('[');
            out.push_str(&self.token_display(tok));
            out.push(']');
            if !self.src[tok.end..].trim().is_empty() {
                out.push_str("...");
            }
        }
        out.push(')');
        out.replace(['\n', '\r'], " ")
    }

    /// An error located at the current token, with `detail` and the snippet.
    pub(crate) fn error_at_current(&self, detail: String) -> ParseError {
        let index = self.pos.min(self.tokens.len() - 1);
        let tok = &self.tokens[index];
        ParseError::new(
            tok.line,
            tok.column,
            tok.start,
            format!("{detail}{}", self.snippet(index)),
        )
    }

    /// `mismatched input 'x' expecting <what>`.
    pub(crate) fn mismatch(&self, expecting: &str) -> ParseError {
        let shown = self.token_display(self.peek());
        self.error_at_current(format!("mismatched input '{shown}' expecting {expecting}"))
    }

    /// `no viable alternative at input 'x'`.
    pub(crate) fn no_viable(&self) -> ParseError {
        let shown = self.token_display(self.peek());
        self.error_at_current(format!("no viable alternative at input '{shown}'"))
    }

    // ----- spans and markers -----

    /// The span from token index `start` up to the last consumed token.
    pub(crate) fn span_from(&self, start: usize) -> Span {
        let first = &self.tokens[start.min(self.tokens.len() - 1)];
        let end = if self.pos > start {
            self.tokens[self.pos - 1].end
        } else {
            first.start
        };
        Span {
            start: first.start,
            end,
            line: first.line,
            column: first.column,
        }
    }

    /// Registers a new bind marker and returns it.
    pub(crate) fn new_marker(&mut self, name: Option<String>, span: Span) -> BindMarker {
        let index = self.markers.len();
        self.markers.push(BindMarkerInfo {
            index,
            name: name.clone(),
            span,
            role: MarkerRole::Other,
        });
        BindMarker { index, name }
    }

    // ----- statements -----

    /// Parses one statement (without its terminating `;`).
    pub(crate) fn statement(&mut self) -> PResult<Statement> {
        self.markers.clear();
        let start = self.pos;
        let kind = self.statement_kind()?;
        let span = self.span_from(start);
        let mut bind_markers = std::mem::take(&mut self.markers);
        crate::markers::assign_roles(&kind, &mut bind_markers);
        Ok(Statement {
            kind,
            span,
            bind_markers,
        })
    }

    fn statement_kind(&mut self) -> PResult<StatementKind> {
        let word = if self.peek().kind == TokenKind::Ident {
            self.peek().text.to_ascii_lowercase()
        } else {
            String::new()
        };
        match word.as_str() {
            "select" => Ok(StatementKind::Select(Box::new(self.select()?))),
            "insert" => Ok(StatementKind::Insert(Box::new(self.insert()?))),
            "update" => Ok(StatementKind::Update(Box::new(self.update()?))),
            "delete" => Ok(StatementKind::Delete(Box::new(self.delete()?))),
            "begin" => Ok(StatementKind::Batch(Box::new(self.batch()?))),
            "use" => {
                self.bump();
                Ok(StatementKind::Use(self.ident()?))
            }
            "truncate" => {
                self.bump();
                let _ = self.eat_word("table") || self.eat_word("columnfamily");
                Ok(StatementKind::Truncate(self.qualified_name()?))
            }
            "create" => self.create(),
            "alter" => self.alter(),
            "drop" => self.drop(),
            "grant" => self.grant(),
            "revoke" => self.revoke(),
            "list" => self.list(),
            "add" if self.grammar.identities => self.add_identity(),
            "describe" | "desc" if self.grammar.describe => self.describe(),
            _ => Err(self.no_viable()),
        }
    }

    /// A whole single-statement input with an optional trailing `;`.
    pub(crate) fn single(&mut self) -> PResult<Statement> {
        let stmt = self.statement()?;
        self.eat_sym(";");
        self.expect_eof()?;
        Ok(stmt)
    }

    /// `;`-separated statements; empty statements are skipped.
    pub(crate) fn many(&mut self) -> PResult<Vec<Statement>> {
        let mut out = Vec::new();
        loop {
            while self.eat_sym(";") {}
            if self.at_eof() {
                return Ok(out);
            }
            out.push(self.statement()?);
            if !self.eat_sym(";") {
                self.expect_eof()?;
            }
        }
    }

    pub(crate) fn expect_eof(&self) -> PResult<()> {
        if self.at_eof() {
            Ok(())
        } else {
            Err(self.mismatch("EOF"))
        }
    }
}

/// Whether a token can serve as an identifier.
pub(crate) fn is_ident_token(tok: &Token) -> bool {
    match tok.kind {
        TokenKind::Ident => !is_reserved(&tok.text),
        TokenKind::QuotedIdent => !tok.text.is_empty(),
        _ => false,
    }
}

/// The normalised name of an identifier token.
pub(crate) fn normalize_ident(tok: &Token) -> String {
    if tok.kind == TokenKind::Ident {
        tok.text.to_ascii_lowercase()
    } else {
        tok.text.clone()
    }
}
