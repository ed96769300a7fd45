//! Terms, types, selectors and WHERE/IF relations: the expression-level grammar.

use super::{PResult, Parser, is_ident_token, normalize_ident};
use crate::ast::*;
use crate::lexer::TokenKind;

/// Maximum nesting of parentheses, brackets and braces in one expression. Deeper input is
/// rejected instead of risking a stack overflow on hostile input.
const MAX_NESTING: usize = 100;

/// The additive operator at the cursor, if any.
fn sum_op(p: &Parser<'_>) -> Option<ArithOp> {
    match p.peek().text.as_str() {
        "+" if p.at_sym("+") => Some(ArithOp::Add),
        "-" if p.at_sym("-") => Some(ArithOp::Sub),
        _ => None,
    }
}

/// The multiplicative operator at the cursor, if any.
fn product_op(p: &Parser<'_>) -> Option<ArithOp> {
    match p.peek().text.as_str() {
        "*" if p.at_sym("*") => Some(ArithOp::Mul),
        "/" if p.at_sym("/") => Some(ArithOp::Div),
        "%" if p.at_sym("%") => Some(ArithOp::Rem),
        _ => None,
    }
}

impl Term {
    fn arithmetic(op: ArithOp, lhs: Term, rhs: Term) -> Term {
        Term::Arithmetic {
            op,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
        }
    }
}

impl Selectable {
    fn arithmetic(op: ArithOp, lhs: Selectable, rhs: Selectable) -> Selectable {
        Selectable::Arithmetic {
            op,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
        }
    }
}

impl Parser<'_> {
    // ----- terms -----

    /// A full term, with arithmetic.
    pub(crate) fn term(&mut self) -> PResult<Term> {
        self.chain(
            |p| p.chain(Self::term_unary, product_op, Term::arithmetic),
            |p| sum_op(p).filter(|_| !p.column_ref_at(1)),
            Term::arithmetic,
        )
    }

    /// Parses `operand (op operand)*` left-associatively. Each operator counts as a nesting level,
    /// so long chains cannot build trees too deep to walk or drop safely.
    fn chain<T>(
        &mut self,
        operand: impl Fn(&mut Self) -> PResult<T>,
        op_at: impl Fn(&Self) -> Option<ArithOp>,
        combine: fn(ArithOp, T, T) -> T,
    ) -> PResult<T> {
        let saved = self.depth;
        let result = (|| {
            let mut lhs = operand(self)?;
            while let Some(op) = op_at(self) {
                self.bump();
                self.deepen()?;
                let rhs = operand(self)?;
                lhs = combine(op, lhs, rhs);
            }
            Ok(lhs)
        })();
        self.depth = saved;
        result
    }

    /// Enters one more nesting level, failing cleanly past [`MAX_NESTING`].
    fn deepen(&mut self) -> PResult<()> {
        if self.depth >= MAX_NESTING {
            return Err(self.error_at_current("expression nested too deeply".to_string()));
        }
        self.depth += 1;
        Ok(())
    }

    fn term_unary(&mut self) -> PResult<Term> {
        if self.at_sym("-") {
            if let Some(lit) = self.negative_number() {
                return Ok(Term::Literal(lit));
            }
            self.bump();
            return Ok(Term::Negate(Box::new(self.simple_term()?)));
        }
        self.simple_term()
    }

    /// `-` directly followed by a numeric or duration constant, folded into one literal.
    fn negative_number(&mut self) -> Option<Literal> {
        if !self.at_sym("-") {
            return None;
        }
        let next = self.peek_n(1);
        let text = || format!("-{}", next.text);
        let lit = match next.kind {
            TokenKind::Integer => Literal::Integer(text()),
            TokenKind::Float => Literal::Float(text()),
            TokenKind::Duration => Literal::Duration(text()),
            _ => return None,
        };
        self.bump();
        self.bump();
        Some(lit)
    }

    /// The current token as a constant, if it is one (without consuming it).
    fn constant_at(&self) -> Option<Literal> {
        let tok = self.peek();
        let text = || tok.text.clone();
        Some(match tok.kind {
            TokenKind::String => Literal::String(text()),
            TokenKind::Integer => Literal::Integer(text()),
            TokenKind::Float => Literal::Float(text()),
            TokenKind::Boolean => Literal::Boolean(tok.text.eq_ignore_ascii_case("true")),
            TokenKind::Uuid => Literal::Uuid(text()),
            // The lexer guarantees the `0x` prefix.
            TokenKind::Hex => Literal::Blob(tok.text[2..].to_string()),
            TokenKind::Duration => Literal::Duration(text()),
            _ => return None,
        })
    }

    fn at_constant(&self) -> bool {
        use TokenKind::*;
        matches!(
            self.peek().kind,
            String | Integer | Float | Boolean | Uuid | Hex | Duration
        )
    }

    /// A constant, possibly negative (used by option values and role options).
    pub(crate) fn constant(&mut self) -> PResult<Literal> {
        if let Some(lit) = self.negative_number() {
            return Ok(lit);
        }
        match self.constant_at() {
            Some(lit) => {
                self.bump();
                Ok(lit)
            }
            None => Err(self.no_viable()),
        }
    }

    /// A bind marker (`?` or `:name`) at the cursor, if any.
    fn marker(&mut self) -> PResult<Option<BindMarker>> {
        let start = self.pos;
        if self.peek().kind == TokenKind::QMark {
            self.bump();
            let span = self.span_from(start);
            return Ok(Some(self.new_marker(None, span)));
        }
        if self.at_sym(":") {
            self.bump();
            let name = self.ident()?;
            let span = self.span_from(start);
            return Ok(Some(self.new_marker(Some(name), span)));
        }
        Ok(None)
    }

    /// A term without top-level arithmetic.
    pub(crate) fn simple_term(&mut self) -> PResult<Term> {
        if let Some(lit) = self.constant_at() {
            self.bump();
            return Ok(Term::Literal(lit));
        }
        if let Some(m) = self.marker()? {
            return Ok(Term::Marker(m));
        }
        if self.eat_word("null") {
            return Ok(Term::Null);
        }
        if self.at_sym("[") {
            return self.nested(|p| {
                p.bump();
                let items = p.delimited("]", Self::term)?;
                Ok(Term::List(items))
            });
        }
        if self.at_sym("{") {
            return self.nested(Self::brace_term);
        }
        if self.at_sym("(") {
            return self.nested(Self::paren_term);
        }
        if self.function_call_at() {
            let name = self.function_name()?;
            let args = self.nested(|p| p.paren_list(Self::term))?;
            return Ok(Term::FunctionCall { name, args });
        }
        Err(self.no_viable())
    }

    /// Runs `f` one nesting level deeper, failing cleanly past [`MAX_NESTING`].
    pub(crate) fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> PResult<T>) -> PResult<T> {
        let saved = self.depth;
        self.deepen()?;
        let result = f(self);
        self.depth = saved;
        result
    }

    /// Items up to the closing symbol `close` (already past the opening one); allows empty lists.
    fn delimited<T>(&mut self, close: &str, item: impl FnMut(&mut Self) -> PResult<T>) -> PResult<Vec<T>> {
        if self.eat_sym(close) {
            return Ok(Vec::new());
        }
        let items = self.comma_list(item)?;
        self.expect_sym(close)?;
        Ok(items)
    }

    /// `{}` (empty set), `{a, b}`, `{k: v, ...}` or a UDT literal `{field: v, ...}`.
    fn brace_term(&mut self) -> PResult<Term> {
        self.expect_sym("{")?;
        if self.eat_sym("}") {
            return Ok(Term::Set(Vec::new()));
        }
        if is_ident_token(self.peek()) && self.peek_n(1).is_sym(":") {
            let fields = self.comma_list(|p| {
                let field = p.ident()?;
                p.expect_sym(":")?;
                Ok((field, p.term()?))
            })?;
            self.expect_sym("}")?;
            return Ok(Term::Udt(fields));
        }
        let first = self.term()?;
        if self.eat_sym(":") {
            let value = self.term()?;
            let mut entries = vec![(first, value)];
            while self.eat_sym(",") {
                let k = self.term()?;
                self.expect_sym(":")?;
                entries.push((k, self.term()?));
            }
            self.expect_sym("}")?;
            return Ok(Term::Map(entries));
        }
        let mut items = vec![first];
        while self.eat_sym(",") {
            items.push(self.term()?);
        }
        self.expect_sym("}")?;
        Ok(Term::Set(items))
    }

    /// `(type) term` or a tuple literal `(a, b, ...)`.
    fn paren_term(&mut self) -> PResult<Term> {
        let cp = self.checkpoint();
        self.bump();
        if let Ok(ty) = self.type_expr()
            && self.eat_sym(")")
            && let Ok(term) = self.simple_term()
        {
            return Ok(Term::TypeHint {
                ty,
                term: Box::new(term),
            });
        }
        self.restore(cp);
        self.bump();
        let items = self.comma_list(Self::term)?;
        self.expect_sym(")")?;
        Ok(Term::Tuple(items))
    }

    /// Whether the token at offset `n` starts a bare column reference (an identifier that is not
    /// the start of a function call).
    pub(crate) fn column_ref_at(&self, n: usize) -> bool {
        is_ident_token(self.peek_n(n))
            && !self.peek_n(n + 1).is_sym("(")
            && !(self.peek_n(n + 1).is_sym(".") && self.peek_n(n + 3).is_sym("("))
    }

    /// Whether a function call `[ks.]name(` starts at the cursor.
    pub(crate) fn function_call_at(&self) -> bool {
        let name_like = |p: &Self, n: usize| is_ident_token(p.peek_n(n)) || p.peek_n(n).is_word("token");
        name_like(self, 0)
            && (self.peek_n(1).is_sym("(")
                || (self.peek_n(1).is_sym(".") && name_like(self, 2) && self.peek_n(3).is_sym("(")))
    }

    /// A function name `[ks.]name`; `token` is allowed although reserved.
    pub(crate) fn function_name(&mut self) -> PResult<QualifiedName> {
        let part = |p: &mut Self| {
            if p.at_word("token") {
                p.bump();
                Ok("token".to_string())
            } else {
                p.ident()
            }
        };
        let first = part(self)?;
        if self.eat_sym(".") {
            let name = part(self)?;
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

    // ----- types -----

    /// A CQL type.
    pub(crate) fn type_expr(&mut self) -> PResult<TypeExpr> {
        self.nested(Self::type_inner)
    }

    fn type_inner(&mut self) -> PResult<TypeExpr> {
        let tok = self.peek().clone();
        match tok.kind {
            TokenKind::String => {
                self.bump();
                return Ok(TypeExpr::Custom(tok.text));
            }
            TokenKind::QuotedIdent => return Ok(TypeExpr::UserDefined(self.qualified_name()?)),
            TokenKind::Ident => {}
            _ => return Err(self.no_viable()),
        }
        let word = tok.text.to_ascii_lowercase();
        if self.peek_n(1).is_sym("<") {
            let generic = matches!(word.as_str(), "frozen" | "list" | "set" | "map" | "tuple")
                || (word == "vector" && self.grammar.vector_type);
            if generic {
                self.bump();
                self.bump();
                let ty = match word.as_str() {
                    "frozen" => TypeExpr::Frozen(Box::new(self.type_expr()?)),
                    "list" => TypeExpr::List(Box::new(self.type_expr()?)),
                    "set" => TypeExpr::Set(Box::new(self.type_expr()?)),
                    "map" => {
                        let k = self.type_expr()?;
                        self.expect_sym(",")?;
                        TypeExpr::Map(Box::new(k), Box::new(self.type_expr()?))
                    }
                    "tuple" => TypeExpr::Tuple(self.comma_list(Self::type_expr)?),
                    _ => {
                        let elem = self.type_expr()?;
                        self.expect_sym(",")?;
                        let dim = self.integer()?;
                        let dim = u32::try_from(dim).map_err(|_| self.no_viable())?;
                        TypeExpr::Vector(Box::new(elem), dim)
                    }
                };
                self.expect_sym(">")?;
                return Ok(ty);
            }
        }
        if let Some(native) = NativeType::from_name(&word) {
            self.bump();
            return Ok(TypeExpr::Native(native));
        }
        Ok(TypeExpr::UserDefined(self.qualified_name()?))
    }

    // ----- selectors -----

    /// `*` or a comma-separated list of selectors.
    pub(crate) fn selection(&mut self) -> PResult<Selection> {
        if self.eat_sym("*") {
            return Ok(Selection::Wildcard);
        }
        Ok(Selection::Selectors(self.comma_list(|p| {
            let selectable = p.selectable()?;
            let alias = if p.eat_word("as") { Some(p.ident()?) } else { None };
            Ok(Selector { selectable, alias })
        })?))
    }

    /// A selection expression, with arithmetic.
    pub(crate) fn selectable(&mut self) -> PResult<Selectable> {
        self.nested(|p| {
            p.chain(
                |p| p.chain(Self::sel_unary, product_op, Selectable::arithmetic),
                sum_op,
                Selectable::arithmetic,
            )
        })
    }

    fn sel_unary(&mut self) -> PResult<Selectable> {
        if self.at_sym("-") {
            if let Some(lit) = self.negative_number() {
                return self.sel_postfix(Selectable::Term(Term::Literal(lit)));
            }
            self.bump();
            return Ok(Selectable::Negate(Box::new(self.nested(Self::sel_unary)?)));
        }
        let primary = self.sel_primary()?;
        self.sel_postfix(primary)
    }

    /// Field (`.f`), element (`[k]`) and slice (`[a..b]`) selection after a selector.
    fn sel_postfix(&mut self, mut sel: Selectable) -> PResult<Selectable> {
        loop {
            if self.eat_sym(".") {
                let field = self.ident()?;
                sel = Selectable::Field {
                    arg: Box::new(sel),
                    field,
                };
            } else if self.eat_sym("[") {
                let from = if self.at_sym("..") {
                    None
                } else {
                    Some(self.term()?)
                };
                if self.eat_sym("..") {
                    let to = if self.at_sym("]") {
                        None
                    } else {
                        Some(self.term()?)
                    };
                    sel = Selectable::Slice {
                        arg: Box::new(sel),
                        from,
                        to,
                    };
                } else {
                    let key = from.ok_or_else(|| self.no_viable())?;
                    sel = Selectable::Element {
                        arg: Box::new(sel),
                        key,
                    };
                }
                self.expect_sym("]")?;
            } else {
                return Ok(sel);
            }
        }
    }

    fn sel_primary(&mut self) -> PResult<Selectable> {
        let term_start = self.at_constant()
            || self.at_word("null")
            || self.at_sym(":")
            || self.peek().kind == TokenKind::QMark;
        if term_start {
            return Ok(Selectable::Term(self.simple_term()?));
        }
        if self.at_sym("(") {
            return self.nested(Self::sel_paren);
        }
        if self.eat_sym("[") {
            let items = self.nested(|p| p.delimited("]", Self::selectable))?;
            return Ok(Selectable::List(items));
        }
        if self.at_sym("{") {
            return self.nested(Self::sel_braces);
        }
        if self.function_call_at() {
            return self.sel_function();
        }
        if self.at_ident() {
            return Ok(Selectable::Column(normalize_ident(&self.bump())));
        }
        Err(self.no_viable())
    }

    /// `(type) selector`, `(selector)` or a tuple of selectors.
    fn sel_paren(&mut self) -> PResult<Selectable> {
        let cp = self.checkpoint();
        self.bump();
        if let Ok(ty) = self.type_expr()
            && self.eat_sym(")")
            && let Ok(arg) = self.sel_unary()
        {
            return Ok(Selectable::TypeHint {
                ty,
                arg: Box::new(arg),
            });
        }
        self.restore(cp);
        self.bump();
        let mut items = self.comma_list(Self::selectable)?;
        self.expect_sym(")")?;
        if items.len() == 1 {
            return Ok(items.remove(0));
        }
        Ok(Selectable::Tuple(items))
    }

    fn sel_braces(&mut self) -> PResult<Selectable> {
        self.expect_sym("{")?;
        if self.eat_sym("}") {
            return Ok(Selectable::Set(Vec::new()));
        }
        let first = self.selectable()?;
        if self.eat_sym(":") {
            let mut entries = vec![(first, self.selectable()?)];
            while self.eat_sym(",") {
                let k = self.selectable()?;
                self.expect_sym(":")?;
                entries.push((k, self.selectable()?));
            }
            self.expect_sym("}")?;
            return Ok(Selectable::Map(entries));
        }
        let mut items = vec![first];
        while self.eat_sym(",") {
            items.push(self.selectable()?);
        }
        self.expect_sym("}")?;
        Ok(Selectable::Set(items))
    }

    /// A function-call selector, including the special forms `count(*)`, `writetime(c)`,
    /// `maxwritetime(c)`, `ttl(c)` and `cast(x AS type)`.
    fn sel_function(&mut self) -> PResult<Selectable> {
        let name = self.function_name()?;
        if name.keyspace.is_none() {
            let metadata = match name.name.as_str() {
                "writetime" => Some(MetadataKind::WriteTime),
                "maxwritetime" => Some(MetadataKind::MaxWriteTime),
                "ttl" => Some(MetadataKind::Ttl),
                _ => None,
            };
            if let Some(kind) = metadata {
                self.expect_sym("(")?;
                let arg = self.selectable()?;
                self.expect_sym(")")?;
                return Ok(Selectable::Metadata {
                    kind,
                    arg: Box::new(arg),
                });
            }
            if name.name == "count" && self.peek_n(1).is_sym("*") {
                self.bump();
                self.bump();
                self.expect_sym(")")?;
                return Ok(Selectable::CountRows);
            }
            if name.name == "cast" {
                self.expect_sym("(")?;
                let arg = self.selectable()?;
                self.expect_word("as")?;
                let ty = self.type_expr()?;
                self.expect_sym(")")?;
                return Ok(Selectable::Cast {
                    arg: Box::new(arg),
                    ty,
                });
            }
        }
        let args = self.nested(|p| p.paren_list(Self::selectable))?;
        Ok(Selectable::Function { name, args })
    }

    // ----- relations -----

    /// `relation (AND relation)*`.
    pub(crate) fn relations(&mut self) -> PResult<Vec<Relation>> {
        let mut out = Vec::new();
        self.relation_into(&mut out)?;
        while self.eat_word("and") {
            self.relation_into(&mut out)?;
        }
        Ok(out)
    }

    /// Parses one relation, flattening a parenthesised group `(r1 AND r2)` into `out`.
    fn relation_into(&mut self, out: &mut Vec<Relation>) -> PResult<()> {
        let multi_column = self.at_sym("(")
            && is_ident_token(self.peek_n(1))
            && (self.peek_n(2).is_sym(",") || self.peek_n(2).is_sym(")"));
        if self.at_sym("(") && !multi_column {
            return self.nested(|p| {
                p.bump();
                p.relation_into(out)?;
                while p.eat_word("and") {
                    p.relation_into(out)?;
                }
                p.expect_sym(")")
            });
        }
        out.push(self.relation()?);
        Ok(())
    }

    /// One relation or condition.
    pub(crate) fn relation(&mut self) -> PResult<Relation> {
        let start = self.pos;
        let lhs = if self.at_sym("(") {
            RelationLhs::Tuple(self.paren_list1(Self::ident)?)
        } else if self.at_word("token") && self.peek_n(1).is_sym("(") {
            self.bump();
            RelationLhs::Token(self.paren_list1(Self::ident)?)
        } else if self.at_word("expr") && self.peek_n(1).is_sym("(") {
            self.bump();
            self.bump();
            let index = self.qualified_name()?;
            self.expect_sym(",")?;
            let value = self.term()?;
            self.expect_sym(")")?;
            let lhs = RelationLhs::IndexExpression(index);
            let span = self.span_from(start);
            return Ok(Relation {
                span,
                lhs,
                op: Operator::Eq,
                rhs: RelationRhs::Term(value),
            });
        } else {
            let column = self.ident()?;
            if self.eat_sym("[") {
                let key = self.term()?;
                self.expect_sym("]")?;
                RelationLhs::Element { column, key }
            } else if self.eat_sym(".") {
                let field = self.ident()?;
                RelationLhs::Field { column, field }
            } else {
                RelationLhs::Column(column)
            }
        };
        let op = self.operator()?;
        let rhs = match op {
            Operator::IsNotNull => RelationRhs::Term(Term::Null),
            Operator::In | Operator::NotIn if self.at_sym("(") => {
                RelationRhs::List(self.nested(|p| p.paren_list(Self::term))?)
            }
            _ => RelationRhs::Term(self.term()?),
        };
        Ok(Relation {
            span: self.span_from(start),
            lhs,
            op,
            rhs,
        })
    }

    /// A relation operator.
    fn operator(&mut self) -> PResult<Operator> {
        let sym_op = match self.peek().text.as_str() {
            "=" => Some(Operator::Eq),
            "!=" => Some(Operator::Neq),
            "<" => Some(Operator::Lt),
            "<=" => Some(Operator::Le),
            ">" => Some(Operator::Gt),
            ">=" => Some(Operator::Ge),
            _ => None,
        };
        if let Some(op) = sym_op.filter(|_| self.peek().kind == TokenKind::Symbol) {
            self.bump();
            return Ok(op);
        }
        if self.eat_word("in") {
            return Ok(Operator::In);
        }
        if self.eat_word("like") {
            return Ok(Operator::Like);
        }
        if self.eat_word("contains") {
            return Ok(if self.eat_word("key") {
                Operator::ContainsKey
            } else {
                Operator::Contains
            });
        }
        if self.eat_word("is") {
            self.expect_word("not")?;
            self.expect_word("null")?;
            return Ok(Operator::IsNotNull);
        }
        if self.at_word("not") && (self.peek_n(1).is_word("in") || self.peek_n(1).is_word("contains")) {
            self.bump();
            if self.eat_word("in") {
                return Ok(Operator::NotIn);
            }
            self.bump();
            return Ok(if self.eat_word("key") {
                Operator::NotContainsKey
            } else {
                Operator::NotContains
            });
        }
        Err(self.no_viable())
    }
}
