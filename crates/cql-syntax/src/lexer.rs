//! The CQL lexer: turns query text into tokens carrying their kind, text and source position.
//!
//! Keywords are not distinguished here: every unquoted word is an [`TokenKind::Ident`] and the parser
//! decides, by context, whether it is a keyword. This is what makes Cassandra's non-reserved keywords
//! (`key`, `type`, `ttl`, ...) usable as column names without special cases in the lexer.

use crate::error::ParseError;

/// The kind of a lexical token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TokenKind {
    /// An unquoted word (identifier or keyword); `text` is as written.
    Ident,
    /// A `"quoted"` identifier; `text` is the unescaped content.
    QuotedIdent,
    /// A `'string'` or `$$string$$`; `text` is the unescaped content.
    String,
    Integer,
    /// A floating-point literal, including `NaN` and `Infinity`.
    Float,
    Boolean,
    Uuid,
    /// A `0x...` blob literal; `text` includes the `0x` prefix.
    Hex,
    Duration,
    /// `?`
    QMark,
    /// Punctuation and operators; `text` is the symbol.
    Symbol,
    Eof,
}

/// One token with its position: byte offsets into the source, 1-based line and 0-based column
/// (counted in characters, like ANTLR which Cassandra's error messages come from).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Token {
    pub kind: TokenKind,
    pub text: String,
    pub start: usize,
    pub end: usize,
    pub line: u32,
    pub column: u32,
}

impl Token {
    /// Whether this token is the unquoted keyword `kw` (given in upper or lower case).
    pub fn is_word(&self, kw: &str) -> bool {
        self.kind == TokenKind::Ident && self.text.eq_ignore_ascii_case(kw)
    }

    /// Whether this token is the symbol `sym`.
    pub fn is_sym(&self, sym: &str) -> bool {
        self.kind == TokenKind::Symbol && self.text == sym
    }
}

/// Multi-character symbols, longest first so that the scanner prefers them.
const SYMBOLS: &[&str] = &[
    "!=", "<=", ">=", "+=", "-=", "..", "(", ")", "[", "]", "{", "}", ",", ";", ".", ":", "=", "<", ">", "+",
    "-", "*", "/", "%",
];

/// Units of the `1h30m` duration form, longest first so that `mo`/`ms` win over `m`.
const DURATION_UNITS: &[&str] = &["mo", "ms", "us", "µs", "ns", "y", "w", "d", "h", "m", "s"];

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    line: u32,
    column: u32,
    tokens: Vec<Token>,
}

/// Splits `src` into tokens, always ending with an [`TokenKind::Eof`] token.
pub(crate) fn tokenize(src: &str) -> Result<Vec<Token>, ParseError> {
    let mut lx = Lexer {
        src,
        pos: 0,
        line: 1,
        column: 0,
        tokens: Vec::new(),
    };
    lx.run()?;
    Ok(lx.tokens)
}

fn is_ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

impl<'a> Lexer<'a> {
    fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    fn peek_byte(&self, n: usize) -> Option<u8> {
        self.src.as_bytes().get(self.pos + n).copied()
    }

    /// Advances over `n` bytes, keeping line and column up to date. `n` must end on a char boundary.
    fn advance(&mut self, n: usize) {
        let end = self.pos + n;
        for c in self.src[self.pos..end].chars() {
            if c == '\n' {
                self.line += 1;
                self.column = 0;
            } else {
                self.column += 1;
            }
        }
        self.pos = end;
    }

    fn error_here(&self, message: String) -> ParseError {
        ParseError::new(self.line, self.column, self.pos, message)
    }

    fn run(&mut self) -> Result<(), ParseError> {
        loop {
            self.skip_trivia()?;
            let (start, line, column) = (self.pos, self.line, self.column);
            let Some(c) = self.peek_byte(0) else {
                self.tokens.push(Token {
                    kind: TokenKind::Eof,
                    text: String::new(),
                    start,
                    end: start,
                    line,
                    column,
                });
                return Ok(());
            };
            let (kind, text, len) = self.scan(c)?;
            self.advance(len);
            self.tokens.push(Token {
                kind,
                text,
                start,
                end: self.pos,
                line,
                column,
            });
        }
    }

    /// Skips whitespace and the three comment forms.
    fn skip_trivia(&mut self) -> Result<(), ParseError> {
        loop {
            let rest = self.rest();
            if let Some(c) = rest.chars().next().filter(|c| c.is_whitespace()) {
                self.advance(c.len_utf8());
            } else if rest.starts_with("--") || rest.starts_with("//") {
                let len = rest.find('\n').unwrap_or(rest.len());
                self.advance(len);
            } else if let Some(body) = rest.strip_prefix("/*") {
                match body.find("*/") {
                    Some(i) => self.advance(i + 4),
                    None => {
                        self.advance(rest.len());
                        return Err(self.error_here("mismatched input '<EOF>' expecting '*/'".into()));
                    }
                }
            } else {
                return Ok(());
            }
        }
    }

    /// Recognises the token starting with byte `c`; returns its kind, text and byte length.
    fn scan(&self, c: u8) -> Result<(TokenKind, String, usize), ParseError> {
        let rest = self.rest();
        if c.is_ascii_hexdigit()
            && let Some(len) = uuid_len(rest)
        {
            return Ok((TokenKind::Uuid, rest[..len].to_string(), len));
        }
        match c {
            b'\'' => self.scan_quoted(b'\'', TokenKind::String),
            b'"' => self.scan_quoted(b'"', TokenKind::QuotedIdent),
            b'$' if rest.starts_with("$$") => match rest[2..].find("$$") {
                Some(i) => Ok((TokenKind::String, rest[2..2 + i].to_string(), i + 4)),
                None => Err(self.error_at_end("mismatched input '<EOF>' expecting '$$'")),
            },
            b'0' if matches!(self.peek_byte(1), Some(b'x' | b'X')) => {
                let digits = rest[2..].bytes().take_while(u8::is_ascii_hexdigit).count();
                Ok((TokenKind::Hex, rest[..2 + digits].to_string(), 2 + digits))
            }
            b'0'..=b'9' => Ok(scan_number(rest)),
            b'?' => Ok((TokenKind::QMark, "?".into(), 1)),
            c if c.is_ascii_alphabetic() => {
                if matches!(c, b'p' | b'P')
                    && let Some(len) = iso_duration_len(rest)
                {
                    return Ok((TokenKind::Duration, rest[..len].to_string(), len));
                }
                let len = rest.bytes().take_while(|&b| is_ident_char(b)).count();
                let word = &rest[..len];
                let kind = if word.eq_ignore_ascii_case("true") || word.eq_ignore_ascii_case("false") {
                    TokenKind::Boolean
                } else if word.eq_ignore_ascii_case("nan") || word.eq_ignore_ascii_case("infinity") {
                    TokenKind::Float
                } else {
                    TokenKind::Ident
                };
                Ok((kind, word.to_string(), len))
            }
            _ => match SYMBOLS.iter().find(|s| rest.starts_with(**s)) {
                Some(sym) => Ok((TokenKind::Symbol, (*sym).to_string(), sym.len())),
                None => {
                    let ch = rest.chars().next().unwrap_or('?');
                    Err(self.error_here(format!("no viable alternative at character '{ch}'")))
                }
            },
        }
    }

    fn error_at_end(&self, message: &str) -> ParseError {
        // Report at the end of input, as ANTLR does for an unterminated literal.
        let mut end = Lexer {
            src: self.src,
            pos: self.pos,
            line: self.line,
            column: self.column,
            tokens: vec![],
        };
        end.advance(self.src.len() - self.pos);
        end.error_here(message.to_string())
    }

    /// Scans a literal delimited by `quote` where a doubled quote stands for one quote character.
    fn scan_quoted(&self, quote: u8, kind: TokenKind) -> Result<(TokenKind, String, usize), ParseError> {
        let bytes = self.rest().as_bytes();
        let mut text = String::new();
        let mut i = 1;
        let mut seg_start = 1;
        loop {
            match bytes.get(i) {
                None => {
                    let q = quote as char;
                    return Err(self.error_at_end(&format!("mismatched character '<EOF>' expecting '{q}'")));
                }
                Some(&b) if b == quote => {
                    // Quote bytes are ASCII, so these slices always fall on char boundaries.
                    text.push_str(&self.rest()[seg_start..i]);
                    if bytes.get(i + 1) == Some(&quote) {
                        text.push(quote as char);
                        i += 2;
                        seg_start = i;
                    } else {
                        return Ok((kind, text, i + 1));
                    }
                }
                Some(_) => i += 1,
            }
        }
    }
}

/// Length of a `8-4-4-4-12` hex UUID at the start of `s`, if one is there and is not glued to a word.
fn uuid_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 0;
    for (n, group) in [8usize, 4, 4, 4, 12].iter().enumerate() {
        if n > 0 {
            if b.get(i) != Some(&b'-') {
                return None;
            }
            i += 1;
        }
        for _ in 0..*group {
            if !b.get(i)?.is_ascii_hexdigit() {
                return None;
            }
            i += 1;
        }
    }
    match b.get(i) {
        Some(&c) if is_ident_char(c) => None,
        _ => Some(i),
    }
}

fn count_digits(s: &[u8]) -> usize {
    s.iter().take_while(|b| b.is_ascii_digit()).count()
}

/// Scans an integer, float or `1h30m`-style duration starting with a digit.
fn scan_number(s: &str) -> (TokenKind, String, usize) {
    let b = s.as_bytes();
    let int_len = count_digits(b);
    if let Some(len) = duration_len(s) {
        return (TokenKind::Duration, s[..len].to_string(), len);
    }
    let mut i = int_len;
    let mut float = false;
    // A '.' belongs to the number unless it starts a `..` range.
    if b.get(i) == Some(&b'.') && b.get(i + 1) != Some(&b'.') {
        float = true;
        i += 1;
        i += count_digits(&b[i..]);
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        let mut j = i + 1;
        if matches!(b.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        let exp = count_digits(&b[j.min(b.len())..]);
        if exp > 0 {
            float = true;
            i = j + exp;
        }
    }
    let kind = if float {
        TokenKind::Float
    } else {
        TokenKind::Integer
    };
    (kind, s[..i].to_string(), i)
}

/// Length of a `(digits unit)+` duration such as `1h30m` or `2mo3d`, if `s` starts with one.
fn duration_len(s: &str) -> Option<usize> {
    let mut i = 0;
    loop {
        let digits = count_digits(&s.as_bytes()[i..]);
        if digits == 0 {
            break;
        }
        let after = &s[i + digits..];
        let unit = DURATION_UNITS.iter().find(|u| {
            after.len() >= u.len()
                && after.is_char_boundary(u.len())
                && after[..u.len()].eq_ignore_ascii_case(u)
        })?;
        i += digits + unit.len();
    }
    match s.as_bytes().get(i) {
        _ if i == 0 => None,
        Some(&c) if is_ident_char(c) => None,
        _ => Some(i),
    }
}

/// Length of an ISO 8601 duration (`P1DT2H`, `P3W`, `P0001-02-03T04:05:06`) at the start of `s`.
fn iso_duration_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let end = |i: usize| match b.get(i) {
        Some(&c) if is_ident_char(c) => None,
        _ => Some(i),
    };
    // Alternative format: P yyyy-mm-dd T hh:mm:ss.
    let shape = b"P0000-00-00T00:00:00";
    if b.len() >= shape.len()
        && shape.iter().zip(b).all(|(p, c)| {
            if *p == b'0' {
                c.is_ascii_digit()
            } else {
                p.eq_ignore_ascii_case(c)
            }
        })
    {
        return end(shape.len());
    }
    let mut i = 1;
    let mut components = 0;
    let mut in_time = false;
    let mut units: &[u8] = b"YMWD";
    loop {
        match b.get(i) {
            Some(b'T' | b't') if !in_time => {
                in_time = true;
                units = b"HMS";
                i += 1;
            }
            Some(c) if c.is_ascii_digit() => {
                let digits = count_digits(&b[i..]);
                let unit = b.get(i + digits)?.to_ascii_uppercase();
                let pos = units.iter().position(|&u| u == unit)?;
                units = &units[pos + 1..];
                i += digits + 1;
                components += 1;
            }
            _ => break,
        }
    }
    if components == 0 || (in_time && b[i - 1].eq_ignore_ascii_case(&b'T')) {
        return None;
    }
    end(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<(TokenKind, String)> {
        tokenize(src)
            .unwrap()
            .into_iter()
            .map(|t| (t.kind, t.text))
            .collect()
    }

    #[test]
    fn literals() {
        use TokenKind::*;
        let toks = kinds("'it''s' $$a'b$$ 12 -3 1.5 2e10 1.5E-3 NaN -Infinity true 0xCAFE 0x");
        let expect = [
            (String, "it's"),
            (String, "a'b"),
            (Integer, "12"),
            (Symbol, "-"),
            (Integer, "3"),
            (Float, "1.5"),
            (Float, "2e10"),
            (Float, "1.5E-3"),
            (Float, "NaN"),
            (Symbol, "-"),
            (Float, "Infinity"),
            (Boolean, "true"),
            (Hex, "0xCAFE"),
            (Hex, "0x"),
            (Eof, ""),
        ];
        assert_eq!(
            toks,
            expect
                .iter()
                .map(|(k, t)| (*k, t.to_string()))
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn uuids_durations_and_words() {
        use TokenKind::*;
        let toks = kinds("62c36092-82a1-3a00-93d1-46196ee77204 1h30m 2mo 3µs P1DT2H PT5M P2W p1 abc12 1d");
        let k: Vec<_> = toks.iter().map(|t| t.0).collect();
        assert_eq!(
            k,
            [
                Uuid, Duration, Duration, Duration, Duration, Duration, Duration, Ident, Ident, Duration, Eof
            ]
        );
        assert_eq!(kinds("P0001-02-03T04:05:06")[0].0, Duration);
        // Not a duration: a unit must follow every number, and identifiers cannot be glued on.
        assert_eq!(kinds("1hx")[0].0, Integer);
    }

    #[test]
    fn symbols_comments_and_positions() {
        let toks = tokenize("a>=1 -- c\n/* x\ny */ b != :n // t").unwrap();
        let texts: Vec<_> = toks.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(texts, ["a", ">=", "1", "b", "!=", ":", "n", ""]);
        assert_eq!((toks[3].line, toks[3].column), (3, 5));
    }

    #[test]
    fn quoted_identifier_and_errors() {
        assert_eq!(
            kinds("\"My \"\"Id\"\"\"")[0],
            (TokenKind::QuotedIdent, "My \"Id\"".to_string())
        );
        let e = tokenize("SELECT 'abc").unwrap_err();
        assert!(e.message.contains("expecting '''"), "{e}");
        let e = tokenize("a @ b").unwrap_err();
        assert_eq!((e.line, e.column), (1, 2));
        assert!(tokenize("/* open").is_err());
    }
}
