//! Schema statements: keyspaces, tables, types, indexes, views, functions, aggregates, triggers,
//! plus the CREATE/ALTER/DROP dispatch (which also leads to the role statements).

use super::{PResult, Parser};
use crate::ast::*;

impl Parser<'_> {
    pub(crate) fn create(&mut self) -> PResult<StatementKind> {
        self.expect_word("create")?;
        let or_replace = self.at_word("or");
        if or_replace {
            self.bump();
            self.expect_word("replace")?;
        }
        if self.eat_word("function") {
            return Ok(StatementKind::CreateFunction(Box::new(
                self.create_function(or_replace)?,
            )));
        }
        if self.eat_word("aggregate") {
            return Ok(StatementKind::CreateAggregate(Box::new(
                self.create_aggregate(or_replace)?,
            )));
        }
        if or_replace {
            return Err(self.mismatch("K_FUNCTION"));
        }
        if self.eat_word("keyspace") || self.eat_word("schema") {
            let if_not_exists = self.if_not_exists()?;
            let name = self.ident()?;
            self.expect_word("with")?;
            let properties = self.properties()?;
            return Ok(StatementKind::CreateKeyspace(CreateKeyspace {
                if_not_exists,
                name,
                properties,
            }));
        }
        if self.eat_word("table") || self.eat_word("columnfamily") {
            return Ok(StatementKind::CreateTable(Box::new(self.create_table()?)));
        }
        if self.eat_word("type") {
            let if_not_exists = self.if_not_exists()?;
            let name = self.qualified_name()?;
            self.expect_sym("(")?;
            let fields = self.comma_terminated(")", |p| Ok((p.ident()?, p.type_expr()?)))?;
            return Ok(StatementKind::CreateType(CreateType {
                if_not_exists,
                name,
                fields,
            }));
        }
        let custom = self.eat_word("custom");
        if self.eat_word("index") {
            return Ok(StatementKind::CreateIndex(Box::new(self.create_index(custom)?)));
        }
        if custom {
            return Err(self.mismatch("K_INDEX"));
        }
        if self.eat_word("materialized") {
            self.expect_word("view")?;
            return Ok(StatementKind::CreateView(Box::new(self.create_view()?)));
        }
        if self.eat_word("trigger") {
            let if_not_exists = self.if_not_exists()?;
            let name = self.ident()?;
            self.expect_word("on")?;
            let table = self.qualified_name()?;
            self.expect_word("using")?;
            let class = self.string()?;
            return Ok(StatementKind::CreateTrigger {
                if_not_exists,
                name,
                table,
                class,
            });
        }
        if self.eat_word("role") {
            return self.create_role();
        }
        if self.eat_word("user") {
            return self.create_user();
        }
        Err(self.no_viable())
    }

    pub(crate) fn alter(&mut self) -> PResult<StatementKind> {
        self.expect_word("alter")?;
        if self.eat_word("keyspace") || self.eat_word("schema") {
            let if_exists = self.if_exists()?;
            let name = self.ident()?;
            self.expect_word("with")?;
            let properties = self.properties()?;
            return Ok(StatementKind::AlterKeyspace(AlterKeyspace {
                if_exists,
                name,
                properties,
            }));
        }
        if self.eat_word("table") || self.eat_word("columnfamily") {
            return Ok(StatementKind::AlterTable(Box::new(self.alter_table()?)));
        }
        if self.eat_word("type") {
            return Ok(StatementKind::AlterType(self.alter_type()?));
        }
        if self.eat_word("materialized") {
            self.expect_word("view")?;
            let if_exists = self.if_exists()?;
            let name = self.qualified_name()?;
            self.expect_word("with")?;
            let options = self.table_options()?;
            return Ok(StatementKind::AlterView {
                if_exists,
                name,
                options,
            });
        }
        if self.eat_word("role") {
            return self.alter_role();
        }
        if self.eat_word("user") {
            return self.alter_user();
        }
        Err(self.no_viable())
    }

    pub(crate) fn drop(&mut self) -> PResult<StatementKind> {
        self.expect_word("drop")?;
        if self.eat_word("keyspace") || self.eat_word("schema") {
            let if_exists = self.if_exists()?;
            return Ok(StatementKind::DropKeyspace {
                if_exists,
                name: self.ident()?,
            });
        }
        if self.eat_word("table") || self.eat_word("columnfamily") {
            let if_exists = self.if_exists()?;
            return Ok(StatementKind::DropTable {
                if_exists,
                name: self.qualified_name()?,
            });
        }
        if self.eat_word("type") {
            let if_exists = self.if_exists()?;
            return Ok(StatementKind::DropType {
                if_exists,
                name: self.qualified_name()?,
            });
        }
        if self.eat_word("index") {
            let if_exists = self.if_exists()?;
            return Ok(StatementKind::DropIndex {
                if_exists,
                name: self.qualified_name()?,
            });
        }
        if self.eat_word("materialized") {
            self.expect_word("view")?;
            let if_exists = self.if_exists()?;
            return Ok(StatementKind::DropView {
                if_exists,
                name: self.qualified_name()?,
            });
        }
        let function = self.at_word("function");
        if function || self.at_word("aggregate") {
            self.bump();
            let if_exists = self.if_exists()?;
            let name = self.function_name()?;
            let arg_types = if self.at_sym("(") {
                Some(self.paren_list(Self::type_expr)?)
            } else {
                None
            };
            return Ok(if function {
                StatementKind::DropFunction {
                    if_exists,
                    name,
                    arg_types,
                }
            } else {
                StatementKind::DropAggregate {
                    if_exists,
                    name,
                    arg_types,
                }
            });
        }
        if self.grammar.identities && self.eat_word("identity") {
            let if_exists = self.if_exists()?;
            return Ok(StatementKind::DropIdentity {
                if_exists,
                identity: self.role_name()?,
            });
        }
        if self.eat_word("trigger") {
            let if_exists = self.if_exists()?;
            let name = self.ident()?;
            self.expect_word("on")?;
            return Ok(StatementKind::DropTrigger {
                if_exists,
                name,
                table: self.qualified_name()?,
            });
        }
        let user = self.at_word("user");
        if user || self.at_word("role") {
            self.bump();
            let if_exists = self.if_exists()?;
            let name = if user {
                self.user_name()?
            } else {
                self.role_name()?
            };
            return Ok(StatementKind::DropRole {
                if_exists,
                name,
                user_syntax: user,
            });
        }
        Err(self.no_viable())
    }

    /// Items separated by commas up to `close`, allowing a trailing comma (as CREATE TABLE does).
    fn comma_terminated<T>(
        &mut self,
        close: &str,
        mut item: impl FnMut(&mut Self) -> PResult<T>,
    ) -> PResult<Vec<T>> {
        let mut items = vec![item(self)?];
        while self.eat_sym(",") {
            if self.at_sym(close) {
                break;
            }
            items.push(item(self)?);
        }
        self.expect_sym(close)?;
        Ok(items)
    }

    // ----- options -----

    /// `name = value (AND name = value)*`.
    pub(crate) fn properties(&mut self) -> PResult<Vec<Property>> {
        let mut props = vec![self.property()?];
        while self.eat_word("and") {
            props.push(self.property()?);
        }
        Ok(props)
    }

    fn property(&mut self) -> PResult<Property> {
        let name = self.ident()?;
        self.expect_sym("=")?;
        let value = if self.at_sym("{") {
            PropertyValue::Map(self.constant_map()?)
        } else if self.at_ident() {
            // Cassandra keeps such values as written (e.g. `speculative_retry = ALWAYS`).
            PropertyValue::Identifier(self.bump().text)
        } else {
            PropertyValue::Literal(self.constant()?)
        };
        Ok(Property { name, value })
    }

    /// `{ constant: constant, ... }`.
    pub(crate) fn constant_map(&mut self) -> PResult<Vec<(Literal, Literal)>> {
        self.expect_sym("{")?;
        if self.eat_sym("}") {
            return Ok(Vec::new());
        }
        let entries = self.comma_list(|p| {
            let k = p.constant()?;
            p.expect_sym(":")?;
            Ok((k, p.constant()?))
        })?;
        self.expect_sym("}")?;
        Ok(entries)
    }

    /// Table options: properties, `CLUSTERING ORDER BY (...)` and `COMPACT STORAGE`, joined by AND.
    pub(crate) fn table_options(&mut self) -> PResult<TableOptions> {
        let mut opts = TableOptions::default();
        loop {
            if self.at_word("compact") && self.peek_n(1).is_word("storage") {
                self.bump();
                self.bump();
                opts.compact_storage = true;
            } else if self.at_word("clustering") && self.peek_n(1).is_word("order") {
                self.bump();
                self.bump();
                self.expect_word("by")?;
                opts.clustering_order = self.paren_list1(|p| Ok((p.ident()?, p.direction())))?;
            } else {
                opts.properties.push(self.property()?);
            }
            if !self.eat_word("and") {
                return Ok(opts);
            }
        }
    }

    // ----- tables -----

    fn create_table(&mut self) -> PResult<CreateTable> {
        let if_not_exists = self.if_not_exists()?;
        let name = self.qualified_name()?;
        let mut columns = Vec::new();
        let mut primary_key = None;
        self.expect_sym("(")?;
        self.comma_terminated(")", |p| {
            if p.at_word("primary") {
                p.bump();
                p.expect_word("key")?;
                primary_key = Some(p.primary_key()?);
            } else {
                columns.push(p.column_def(true)?);
            }
            Ok(())
        })?;
        let options = if self.eat_word("with") {
            self.table_options()?
        } else {
            TableOptions::default()
        };
        Ok(CreateTable {
            if_not_exists,
            name,
            columns,
            primary_key,
            options,
        })
    }

    /// `col type [STATIC] [PRIMARY KEY]` (the key part only when `allow_key`).
    fn column_def(&mut self, allow_key: bool) -> PResult<ColumnDef> {
        let name = self.ident()?;
        let ty = self.type_expr()?;
        let is_static = self.eat_word("static");
        let mask = if self.grammar.column_masks && self.at_word("masked") {
            Some(self.column_mask()?)
        } else {
            None
        };
        let primary_key = allow_key && self.at_word("primary");
        if primary_key {
            self.bump();
            self.expect_word("key")?;
        }
        Ok(ColumnDef {
            name,
            ty,
            is_static,
            primary_key,
            mask,
        })
    }

    /// `MASKED WITH DEFAULT` or `MASKED WITH fn(args)`.
    fn column_mask(&mut self) -> PResult<ColumnMask> {
        self.expect_word("masked")?;
        self.expect_word("with")?;
        if self.eat_word("default") {
            return Ok(ColumnMask {
                function: QualifiedName::unqualified("mask_default"),
                args: Vec::new(),
            });
        }
        let function = self.function_name()?;
        let args = self.paren_list(Self::term)?;
        Ok(ColumnMask { function, args })
    }

    /// `( (a, b), c, d )` or `( a, c, d )` after `PRIMARY KEY`.
    pub(crate) fn primary_key(&mut self) -> PResult<PrimaryKey> {
        self.expect_sym("(")?;
        let partition_key = if self.at_sym("(") {
            self.paren_list1(Self::ident)?
        } else {
            vec![self.ident()?]
        };
        let mut clustering = Vec::new();
        while self.eat_sym(",") {
            clustering.push(self.ident()?);
        }
        self.expect_sym(")")?;
        Ok(PrimaryKey {
            partition_key,
            clustering,
        })
    }

    fn alter_table(&mut self) -> PResult<AlterTable> {
        let if_exists = self.if_exists()?;
        let name = self.qualified_name()?;
        let action = if self.eat_word("add") {
            let if_not_exists = self.if_not_exists()?;
            let columns = if self.at_sym("(") {
                self.paren_list1(|p| p.column_def(false))?
            } else {
                self.comma_list(|p| p.column_def(false))?
            };
            AlterTableAction::Add {
                if_not_exists,
                columns,
            }
        } else if self.eat_word("drop") {
            if self.at_word("compact") && self.peek_n(1).is_word("storage") {
                self.bump();
                self.bump();
                AlterTableAction::DropCompactStorage
            } else {
                let if_exists = self.if_exists()?;
                let columns = if self.at_sym("(") {
                    self.paren_list1(Self::ident)?
                } else {
                    self.comma_list(Self::ident)?
                };
                let timestamp = if self.eat_word("using") {
                    self.expect_word("timestamp")?;
                    Some(self.integer()?)
                } else {
                    None
                };
                AlterTableAction::Drop {
                    if_exists,
                    columns,
                    timestamp,
                }
            }
        } else if self.eat_word("alter") {
            let column = self.ident()?;
            if self.grammar.column_masks && self.at_word("masked") {
                AlterTableAction::Mask {
                    column,
                    mask: Some(self.column_mask()?),
                }
            } else if self.grammar.column_masks && self.eat_word("drop") {
                self.expect_word("masked")?;
                AlterTableAction::Mask { column, mask: None }
            } else {
                self.expect_word("type")?;
                AlterTableAction::AlterColumnType {
                    column,
                    ty: self.type_expr()?,
                }
            }
        } else if self.eat_word("rename") {
            let if_exists = self.if_exists()?;
            AlterTableAction::Rename {
                if_exists,
                renames: self.renames()?,
            }
        } else if self.eat_word("with") {
            AlterTableAction::Options(self.table_options()?)
        } else {
            return Err(self.no_viable());
        };
        Ok(AlterTable {
            if_exists,
            name,
            action,
        })
    }

    /// `a TO b (AND c TO d)*`.
    fn renames(&mut self) -> PResult<Vec<(String, String)>> {
        let mut out = Vec::new();
        loop {
            let from = self.ident()?;
            self.expect_word("to")?;
            out.push((from, self.ident()?));
            if !self.eat_word("and") {
                return Ok(out);
            }
        }
    }

    // ----- types -----

    fn alter_type(&mut self) -> PResult<AlterType> {
        let if_exists = self.if_exists()?;
        let name = self.qualified_name()?;
        let action = if self.eat_word("add") {
            let if_not_exists = self.if_not_exists()?;
            let field = self.ident()?;
            AlterTypeAction::Add {
                if_not_exists,
                field,
                ty: self.type_expr()?,
            }
        } else if self.eat_word("rename") {
            let if_exists = self.if_exists()?;
            AlterTypeAction::Rename {
                if_exists,
                renames: self.renames()?,
            }
        } else if self.eat_word("alter") {
            let field = self.ident()?;
            self.expect_word("type")?;
            AlterTypeAction::AlterFieldType {
                field,
                ty: self.type_expr()?,
            }
        } else {
            return Err(self.no_viable());
        };
        Ok(AlterType {
            if_exists,
            name,
            action,
        })
    }

    // ----- indexes and views -----

    fn create_index(&mut self, custom: bool) -> PResult<CreateIndex> {
        let if_not_exists = self.if_not_exists()?;
        let name = if self.at_word("on") {
            None
        } else {
            Some(self.ident()?)
        };
        self.expect_word("on")?;
        let table = self.qualified_name()?;
        let targets = self.paren_list1(|p| {
            let kinds = [
                ("keys", IndexTargetKind::Keys),
                ("values", IndexTargetKind::Values),
                ("entries", IndexTargetKind::Entries),
                ("full", IndexTargetKind::Full),
            ];
            for (word, kind) in kinds {
                if p.at_word(word) && p.peek_n(1).is_sym("(") {
                    p.bump();
                    p.bump();
                    let column = p.ident()?;
                    p.expect_sym(")")?;
                    return Ok(IndexTarget { column, kind });
                }
            }
            Ok(IndexTarget {
                column: p.ident()?,
                kind: IndexTargetKind::Simple,
            })
        })?;
        let using = if self.eat_word("using") {
            Some(self.string()?)
        } else {
            None
        };
        let properties = if self.eat_word("with") {
            self.properties()?
        } else {
            Vec::new()
        };
        Ok(CreateIndex {
            custom,
            if_not_exists,
            name,
            table,
            targets,
            using,
            properties,
        })
    }

    fn create_view(&mut self) -> PResult<CreateView> {
        let if_not_exists = self.if_not_exists()?;
        let name = self.qualified_name()?;
        self.expect_word("as")?;
        self.expect_word("select")?;
        let selection = self.selection()?;
        self.expect_word("from")?;
        let base_table = self.qualified_name()?;
        let where_clause = if self.eat_word("where") {
            self.relations()?
        } else {
            Vec::new()
        };
        self.expect_word("primary")?;
        self.expect_word("key")?;
        let primary_key = self.primary_key()?;
        let options = if self.eat_word("with") {
            self.table_options()?
        } else {
            TableOptions::default()
        };
        Ok(CreateView {
            if_not_exists,
            name,
            selection,
            base_table,
            where_clause,
            primary_key,
            options,
        })
    }

    // ----- functions -----

    fn create_function(&mut self, or_replace: bool) -> PResult<CreateFunction> {
        let if_not_exists = self.if_not_exists()?;
        let name = self.function_name()?;
        let args = self.paren_list(|p| Ok((p.ident()?, p.type_expr()?)))?;
        let called_on_null_input = if self.eat_word("called") {
            true
        } else {
            self.expect_word("returns")?;
            self.expect_word("null")?;
            false
        };
        self.expect_word("on")?;
        self.expect_word("null")?;
        self.expect_word("input")?;
        self.expect_word("returns")?;
        let return_type = self.type_expr()?;
        self.expect_word("language")?;
        let language = self.ident()?;
        self.expect_word("as")?;
        let body = self.string()?;
        Ok(CreateFunction {
            or_replace,
            if_not_exists,
            name,
            args,
            called_on_null_input,
            return_type,
            language,
            body,
        })
    }

    fn create_aggregate(&mut self, or_replace: bool) -> PResult<CreateAggregate> {
        let if_not_exists = self.if_not_exists()?;
        let name = self.function_name()?;
        let arg_types = self.paren_list(Self::type_expr)?;
        self.expect_word("sfunc")?;
        let state_function = self.ident()?;
        self.expect_word("stype")?;
        let state_type = self.type_expr()?;
        let final_function = if self.eat_word("finalfunc") {
            Some(self.ident()?)
        } else {
            None
        };
        let initial_condition = if self.eat_word("initcond") {
            Some(self.term()?)
        } else {
            None
        };
        Ok(CreateAggregate {
            or_replace,
            if_not_exists,
            name,
            arg_types,
            state_function,
            state_type,
            final_function,
            initial_condition,
        })
    }
}
