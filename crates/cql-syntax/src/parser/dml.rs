//! SELECT, INSERT, UPDATE, DELETE and BATCH.

use super::{PResult, Parser};
use crate::ast::*;
use crate::lexer::TokenKind;

impl Parser<'_> {
    pub(crate) fn select(&mut self) -> PResult<Select> {
        self.expect_word("select")?;
        let json = self.select_modifier("json");
        let distinct = self.select_modifier("distinct");
        let selection = self.selection()?;
        self.expect_word("from")?;
        let table = self.qualified_name()?;
        let where_clause = if self.eat_word("where") {
            self.relations()?
        } else {
            Vec::new()
        };
        let mut group_by = Vec::new();
        if self.eat_word("group") {
            self.expect_word("by")?;
            group_by = self.comma_list(Self::selectable)?;
        }
        let mut order_by = Vec::new();
        if self.eat_word("order") {
            self.expect_word("by")?;
            order_by = self.comma_list(Self::ordering)?;
        }
        let mut per_partition_limit = None;
        if self.at_word("per") {
            self.bump();
            self.expect_word("partition")?;
            self.expect_word("limit")?;
            per_partition_limit = Some(self.term()?);
        }
        let limit = if self.eat_word("limit") {
            Some(self.term()?)
        } else {
            None
        };
        let allow_filtering = self.eat_word("allow");
        if allow_filtering {
            self.expect_word("filtering")?;
        }
        Ok(Select {
            json,
            distinct,
            selection,
            table,
            where_clause,
            group_by,
            order_by,
            per_partition_limit,
            limit,
            allow_filtering,
        })
    }

    /// Consumes `JSON`/`DISTINCT` if it is used as a modifier: like Cassandra's syntactic predicate,
    /// it is one only when a selection and `FROM` follow (`SELECT json FROM t` selects column `json`).
    fn select_modifier(&mut self, kw: &str) -> bool {
        if !self.at_word(kw) {
            return false;
        }
        let cp = self.checkpoint();
        self.bump();
        if kw == "json" {
            self.select_modifier("distinct");
        }
        let is_modifier = self.selection().is_ok() && self.at_word("from");
        self.restore(cp);
        if is_modifier {
            self.bump();
        }
        is_modifier
    }

    fn ordering(&mut self) -> PResult<Ordering> {
        let column = self.ident()?;
        if self.grammar.ann_ordering && self.eat_word("ann") {
            self.expect_word("of")?;
            let term = self.term()?;
            return Ok(Ordering {
                column,
                direction: Direction::Asc,
                ann_of: Some(term),
            });
        }
        Ok(Ordering {
            column,
            direction: self.direction(),
            ann_of: None,
        })
    }

    /// An optional `ASC`/`DESC`.
    pub(crate) fn direction(&mut self) -> Direction {
        if self.eat_word("desc") {
            Direction::Desc
        } else {
            self.eat_word("asc");
            Direction::Asc
        }
    }

    pub(crate) fn insert(&mut self) -> PResult<Insert> {
        self.expect_word("insert")?;
        self.expect_word("into")?;
        let table = self.qualified_name()?;
        let values = if self.eat_word("json") {
            let json = self.term()?;
            let mut default_unset = false;
            if self.eat_word("default") {
                if self.eat_word("unset") {
                    default_unset = true;
                } else {
                    self.expect_word("null")?;
                }
            }
            InsertValues::Json { json, default_unset }
        } else {
            let columns = self.paren_list1(Self::ident)?;
            self.expect_word("values")?;
            let values = self.paren_list1(Self::term)?;
            InsertValues::Columns { columns, values }
        };
        // Cassandra wants IF NOT EXISTS before USING; the other order is accepted too.
        let mut if_not_exists = self.if_not_exists()?;
        let using = self.using(true)?;
        if !if_not_exists {
            if_not_exists = self.if_not_exists()?;
        }
        Ok(Insert {
            table,
            values,
            if_not_exists,
            using,
        })
    }

    /// An optional `USING TTL t AND TIMESTAMP t` clause (TIMESTAMP only when `allow_ttl` is false).
    pub(crate) fn using(&mut self, allow_ttl: bool) -> PResult<Using> {
        let mut using = Using::default();
        if !self.eat_word("using") {
            return Ok(using);
        }
        loop {
            let is_ttl = if allow_ttl && self.at_word("ttl") {
                true
            } else if self.at_word("timestamp") {
                false
            } else {
                return Err(self.mismatch("K_TIMESTAMP"));
            };
            let taken = if is_ttl {
                using.ttl.is_some()
            } else {
                using.timestamp.is_some()
            };
            if taken {
                let what = self.peek().text.to_ascii_uppercase();
                return Err(self.error_at_current(format!("Multiple definition for {what}")));
            }
            self.bump();
            let value = Some(self.term()?);
            if is_ttl {
                using.ttl = value;
            } else {
                using.timestamp = value;
            }
            if !self.eat_word("and") {
                return Ok(using);
            }
        }
    }

    pub(crate) fn update(&mut self) -> PResult<Update> {
        self.expect_word("update")?;
        let table = self.qualified_name()?;
        let using = self.using(true)?;
        self.expect_word("set")?;
        let assignments = self.comma_list(Self::assignment)?;
        self.expect_word("where")?;
        let where_clause = self.relations()?;
        let conditions = self.conditions()?;
        Ok(Update {
            table,
            using,
            assignments,
            where_clause,
            conditions,
        })
    }

    /// A column, collection element or UDT field target.
    fn column_target(&mut self) -> PResult<ColumnTarget> {
        let column = self.ident()?;
        if self.eat_sym("[") {
            let key = self.term()?;
            self.expect_sym("]")?;
            return Ok(ColumnTarget::Element { column, key });
        }
        if self.eat_sym(".") {
            let field = self.ident()?;
            return Ok(ColumnTarget::Field { column, field });
        }
        Ok(ColumnTarget::Column(column))
    }

    fn assignment(&mut self) -> PResult<Assignment> {
        let target = self.column_target()?;
        let ColumnTarget::Column(column) = target else {
            self.expect_sym("=")?;
            return Ok(Assignment::Set {
                target,
                value: self.term()?,
            });
        };
        if self.eat_sym("+=") {
            return Ok(Assignment::Add {
                column,
                value: self.term()?,
            });
        }
        if self.eat_sym("-=") {
            return Ok(Assignment::Subtract {
                column,
                value: self.term()?,
            });
        }
        self.expect_sym("=")?;
        if self.column_ref_at(0) {
            // `c = c + t` / `c = c - t`.
            let other = self.ident()?;
            let add = if self.eat_sym("+") {
                true
            } else if self.eat_sym("-") {
                false
            } else {
                return Err(self.no_viable());
            };
            if other != column {
                let sign = if add { '+' } else { '-' };
                let detail = format!("Only expressions of the form X = X {sign} <value> are supported.");
                return Err(self.error_at_current(detail));
            }
            let value = self.term()?;
            return Ok(if add {
                Assignment::Add { column, value }
            } else {
                Assignment::Subtract { column, value }
            });
        }
        let value = self.term()?;
        if self.at_sym("+") && self.column_ref_at(1) {
            self.bump();
            let other = self.ident()?;
            if other != column {
                let detail = "Only expressions of the form X = <value> + X are supported.".to_string();
                return Err(self.error_at_current(detail));
            }
            return Ok(Assignment::Prepend { column, value });
        }
        Ok(Assignment::Set {
            target: ColumnTarget::Column(column),
            value,
        })
    }

    /// An optional `IF EXISTS` / `IF cond AND ...` clause of UPDATE and DELETE.
    fn conditions(&mut self) -> PResult<Option<Conditions>> {
        if !self.eat_word("if") {
            return Ok(None);
        }
        // `exists` is not reserved: it is the keyword unless a condition operator follows it.
        let next = self.peek_n(1);
        let operator_follows = (next.kind == TokenKind::Symbol && !next.is_sym(";"))
            || ["in", "contains", "like", "is", "not"]
                .iter()
                .any(|w| next.is_word(w));
        if self.at_word("exists") && !operator_follows {
            self.bump();
            return Ok(Some(Conditions::Exists));
        }
        let mut conds = vec![self.relation()?];
        while self.eat_word("and") {
            conds.push(self.relation()?);
        }
        Ok(Some(Conditions::Columns(conds)))
    }

    pub(crate) fn delete(&mut self) -> PResult<Delete> {
        self.expect_word("delete")?;
        let columns = if self.at_word("from") {
            Vec::new()
        } else {
            self.comma_list(Self::column_target)?
        };
        self.expect_word("from")?;
        let table = self.qualified_name()?;
        let using = self.using(false)?;
        self.expect_word("where")?;
        let where_clause = self.relations()?;
        let conditions = self.conditions()?;
        Ok(Delete {
            columns,
            table,
            using,
            where_clause,
            conditions,
        })
    }

    pub(crate) fn batch(&mut self) -> PResult<Batch> {
        self.expect_word("begin")?;
        let kind = if self.eat_word("unlogged") {
            BatchKind::Unlogged
        } else if self.eat_word("counter") {
            BatchKind::Counter
        } else {
            BatchKind::Logged
        };
        self.expect_word("batch")?;
        let using = self.using(true)?;
        let mut statements = Vec::new();
        while !self.at_word("apply") {
            let start = self.pos;
            let child = if self.at_word("insert") {
                BatchChild::Insert(self.insert()?)
            } else if self.at_word("update") {
                BatchChild::Update(self.update()?)
            } else if self.at_word("delete") {
                BatchChild::Delete(self.delete()?)
            } else {
                return Err(self.mismatch("K_APPLY"));
            };
            statements.push((self.span_from(start), child));
            self.eat_sym(";");
        }
        self.expect_word("apply")?;
        self.expect_word("batch")?;
        Ok(Batch {
            kind,
            using,
            statements,
        })
    }
}
