//! Works out what each bind marker of a parsed statement is bound to ([`MarkerRole`]).
//!
//! The parser numbers markers as it meets them; this pass walks the finished AST and records, for
//! each marker, the column (or clause) its value feeds, so the executor can build the prepared
//! statement's variable metadata without re-deriving the syntax.

use crate::ast::*;

/// Fills in `markers[i].role` for every marker occurring in `kind`.
pub(crate) fn assign_roles(kind: &StatementKind, markers: &mut [BindMarkerInfo]) {
    let mut walker = Walker { markers };
    match kind {
        StatementKind::Select(s) => walker.select(s),
        StatementKind::Insert(i) => walker.insert(i),
        StatementKind::Update(u) => walker.update(u),
        StatementKind::Delete(d) => walker.delete(d),
        StatementKind::Batch(b) => {
            walker.using(&b.using);
            for (_, child) in &b.statements {
                match child {
                    BatchChild::Insert(i) => walker.insert(i),
                    BatchChild::Update(u) => walker.update(u),
                    BatchChild::Delete(d) => walker.delete(d),
                }
            }
        }
        StatementKind::CreateView(v) => walker.relations(&v.where_clause),
        // Other statements take no bind markers in Cassandra; any that parsed stay `Other`.
        _ => {}
    }
}

struct Walker<'a> {
    markers: &'a mut [BindMarkerInfo],
}

/// The role of an element of a collection literal bound to a column.
fn element_role(role: &MarkerRole) -> MarkerRole {
    match role {
        MarkerRole::Column(c) => MarkerRole::CollectionValue(c.clone()),
        _ => MarkerRole::Other,
    }
}

impl Walker<'_> {
    fn set(&mut self, marker: &BindMarker, role: MarkerRole) {
        if let Some(info) = self.markers.get_mut(marker.index) {
            info.role = role;
        }
    }

    /// Assigns `role` to a marker that is the whole of `term`, and derived roles to nested ones.
    fn term(&mut self, term: &Term, role: &MarkerRole) {
        match term {
            Term::Marker(m) => self.set(m, role.clone()),
            Term::List(items) | Term::Set(items) => {
                let elem = element_role(role);
                items.iter().for_each(|t| self.term(t, &elem));
            }
            Term::Map(entries) => {
                let key = match role {
                    MarkerRole::Column(c) => MarkerRole::CollectionKey(c.clone()),
                    _ => MarkerRole::Other,
                };
                let value = element_role(role);
                for (k, v) in entries {
                    self.term(k, &key);
                    self.term(v, &value);
                }
            }
            Term::Tuple(items) => {
                for (position, t) in items.iter().enumerate() {
                    let elem = match role {
                        MarkerRole::Column(c) => MarkerRole::TupleElement {
                            column: c.clone(),
                            position,
                        },
                        _ => MarkerRole::Other,
                    };
                    self.term(t, &elem);
                }
            }
            Term::Udt(fields) => {
                for (field, t) in fields {
                    let elem = match role {
                        MarkerRole::Column(c) => MarkerRole::Field {
                            column: c.clone(),
                            field: field.clone(),
                        },
                        _ => MarkerRole::Other,
                    };
                    self.term(t, &elem);
                }
            }
            Term::FunctionCall { name, args } => self.function_args(name, args),
            Term::TypeHint { term, .. } | Term::Negate(term) => self.term(term, role),
            Term::Arithmetic { lhs, rhs, .. } => {
                self.term(lhs, role);
                self.term(rhs, role);
            }
            Term::Literal(_) | Term::Null => {}
        }
    }

    fn function_args(&mut self, name: &QualifiedName, args: &[Term]) {
        for (position, arg) in args.iter().enumerate() {
            self.term(
                arg,
                &MarkerRole::FunctionArgument {
                    function: name.clone(),
                    position,
                },
            );
        }
    }

    fn opt_term(&mut self, term: &Option<Term>, role: MarkerRole) {
        if let Some(t) = term {
            self.term(t, &role);
        }
    }

    fn using(&mut self, using: &Using) {
        self.opt_term(&using.ttl, MarkerRole::Ttl);
        self.opt_term(&using.timestamp, MarkerRole::Timestamp);
    }

    fn selectable(&mut self, sel: &Selectable) {
        match sel {
            Selectable::Term(t) => self.term(t, &MarkerRole::Other),
            Selectable::Function { name, args } => {
                for (position, arg) in args.iter().enumerate() {
                    if let Selectable::Term(t) = arg {
                        self.term(
                            t,
                            &MarkerRole::FunctionArgument {
                                function: name.clone(),
                                position,
                            },
                        );
                    } else {
                        self.selectable(arg);
                    }
                }
            }
            Selectable::Metadata { arg, .. }
            | Selectable::Cast { arg, .. }
            | Selectable::Field { arg, .. }
            | Selectable::Negate(arg)
            | Selectable::TypeHint { arg, .. } => self.selectable(arg),
            Selectable::Element { arg, key } => {
                self.selectable(arg);
                self.term(key, &MarkerRole::Other);
            }
            Selectable::Slice { arg, from, to } => {
                self.selectable(arg);
                self.opt_term(from, MarkerRole::Other);
                self.opt_term(to, MarkerRole::Other);
            }
            Selectable::Arithmetic { lhs, rhs, .. } => {
                self.selectable(lhs);
                self.selectable(rhs);
            }
            Selectable::Tuple(items) | Selectable::List(items) | Selectable::Set(items) => {
                items.iter().for_each(|s| self.selectable(s));
            }
            Selectable::Map(entries) => {
                for (k, v) in entries {
                    self.selectable(k);
                    self.selectable(v);
                }
            }
            Selectable::Column(_) | Selectable::CountRows => {}
        }
    }

    fn select(&mut self, s: &Select) {
        if let Selection::Selectors(sels) = &s.selection {
            sels.iter().for_each(|sel| self.selectable(&sel.selectable));
        }
        self.relations(&s.where_clause);
        s.group_by.iter().for_each(|sel| self.selectable(sel));
        for ordering in &s.order_by {
            self.opt_term(&ordering.ann_of, MarkerRole::Column(ordering.column.clone()));
        }
        self.opt_term(&s.per_partition_limit, MarkerRole::PerPartitionLimit);
        self.opt_term(&s.limit, MarkerRole::Limit);
    }

    fn insert(&mut self, i: &Insert) {
        match &i.values {
            InsertValues::Columns { columns, values } => {
                for (column, value) in columns.iter().zip(values) {
                    self.term(value, &MarkerRole::Column(column.clone()));
                }
            }
            InsertValues::Json { json, .. } => self.term(json, &MarkerRole::Json),
        }
        self.using(&i.using);
    }

    fn target(&mut self, target: &ColumnTarget, value: Option<&Term>) {
        let value_role = match target {
            ColumnTarget::Column(c) => MarkerRole::Column(c.clone()),
            ColumnTarget::Element { column, key } => {
                self.term(key, &MarkerRole::CollectionKey(column.clone()));
                MarkerRole::CollectionValue(column.clone())
            }
            ColumnTarget::Field { column, field } => MarkerRole::Field {
                column: column.clone(),
                field: field.clone(),
            },
        };
        if let Some(v) = value {
            self.term(v, &value_role);
        }
    }

    fn update(&mut self, u: &Update) {
        self.using(&u.using);
        for a in &u.assignments {
            match a {
                Assignment::Set { target, value } => self.target(target, Some(value)),
                Assignment::Add { column, value }
                | Assignment::Prepend { column, value }
                | Assignment::Subtract { column, value } => {
                    self.term(value, &MarkerRole::Column(column.clone()))
                }
            }
        }
        self.relations(&u.where_clause);
        self.conditions(&u.conditions);
    }

    fn delete(&mut self, d: &Delete) {
        d.columns.iter().for_each(|t| self.target(t, None));
        self.using(&d.using);
        self.relations(&d.where_clause);
        self.conditions(&d.conditions);
    }

    fn conditions(&mut self, conditions: &Option<Conditions>) {
        if let Some(Conditions::Columns(rels)) = conditions {
            self.relations(rels);
        }
    }

    fn relations(&mut self, rels: &[Relation]) {
        rels.iter().for_each(|r| self.relation(r));
    }

    fn relation(&mut self, r: &Relation) {
        let in_op = matches!(r.op, Operator::In | Operator::NotIn);
        match &r.lhs {
            RelationLhs::Tuple(cols) => match &r.rhs {
                RelationRhs::Term(Term::Marker(m)) if in_op => {
                    self.set(m, MarkerRole::TupleList(cols.clone()))
                }
                RelationRhs::Term(t) => self.tuple_value(t, cols),
                RelationRhs::List(items) => items.iter().for_each(|t| self.tuple_value(t, cols)),
            },
            RelationLhs::Token(cols) => match &r.rhs {
                RelationRhs::Term(Term::FunctionCall { name, args })
                    if name.keyspace.is_none() && name.name == "token" =>
                {
                    for (i, arg) in args.iter().enumerate() {
                        let role = match cols.get(i) {
                            Some(c) => MarkerRole::Column(c.clone()),
                            None => MarkerRole::FunctionArgument {
                                function: name.clone(),
                                position: i,
                            },
                        };
                        self.term(arg, &role);
                    }
                }
                RelationRhs::Term(t) => self.term(t, &MarkerRole::Token),
                RelationRhs::List(items) => items.iter().for_each(|t| self.term(t, &MarkerRole::Token)),
            },
            RelationLhs::IndexExpression(_) => self.rhs(&r.rhs, &MarkerRole::Other, &MarkerRole::Other),
            RelationLhs::Column(c) => {
                let role = match r.op {
                    Operator::Contains | Operator::NotContains => MarkerRole::CollectionValue(c.clone()),
                    Operator::ContainsKey | Operator::NotContainsKey => MarkerRole::CollectionKey(c.clone()),
                    _ => MarkerRole::Column(c.clone()),
                };
                let whole = if in_op {
                    MarkerRole::InList(c.clone())
                } else {
                    role.clone()
                };
                self.rhs(&r.rhs, &whole, &role);
            }
            RelationLhs::Element { column, key } => {
                self.term(key, &MarkerRole::CollectionKey(column.clone()));
                let role = MarkerRole::CollectionValue(column.clone());
                self.rhs(&r.rhs, &role, &role);
            }
            RelationLhs::Field { column, field } => {
                let role = MarkerRole::Field {
                    column: column.clone(),
                    field: field.clone(),
                };
                self.rhs(&r.rhs, &role, &role);
            }
        }
    }

    /// A relation's right side: `whole` for a single term, `item` for each element of an IN list.
    fn rhs(&mut self, rhs: &RelationRhs, whole: &MarkerRole, item: &MarkerRole) {
        match rhs {
            RelationRhs::Term(t) => self.term(t, whole),
            RelationRhs::List(items) => items.iter().for_each(|t| self.term(t, item)),
        }
    }

    /// A value for a multi-column tuple: a tuple literal feeds each column, a marker the whole tuple.
    fn tuple_value(&mut self, term: &Term, cols: &[String]) {
        match term {
            Term::Tuple(items) => {
                for (i, t) in items.iter().enumerate() {
                    let role = cols
                        .get(i)
                        .map_or(MarkerRole::Other, |c| MarkerRole::Column(c.clone()));
                    self.term(t, &role);
                }
            }
            Term::Marker(m) => self.set(m, MarkerRole::Tuple(cols.to_vec())),
            other => self.term(other, &MarkerRole::Other),
        }
    }
}
