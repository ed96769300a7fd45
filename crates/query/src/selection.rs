//! The SELECT clause: turns selectors into typed expression trees with the column names and types
//! Cassandra 4.1 reports (shared by prepared-statement metadata and execution), then evaluates them per
//! row, per group (aggregates), and as `SELECT JSON` documents.

use std::sync::Arc;

use bytes::Bytes;
use mica_cql_protocol::ColumnSpec;
use mica_cql_syntax as ast;
use mica_cql_types::{CqlType, CqlValue, LiteralKind, UdtDef, compare};
use mica_schema::{ColumnKind, TableDef};

use crate::aggregate::{AggKind, Aggregate, State};
use crate::arith;
use crate::error::{QueryError, Result, invalid};
use crate::functions::{self, ArgKind, Resolved, SYSTEM, decode, encode};
use crate::select::FullRow;
use crate::values::{Binds, Evaluated, eval_bytes};

/// The column name of a `SELECT JSON` result.
const JSON_COLUMN: &str = "[json]";

/// One typed selector expression.
#[derive(Clone, Debug)]
struct Node {
    expr: Expr,
    ty: CqlType,
    /// The column name Cassandra gives this expression.
    name: String,
    /// Whether the expression is (or contains) an aggregate.
    aggregate: bool,
    /// Whether the expression needs parentheses when it is an operand of `op` (set for operations).
    op: Option<ast::ArithOp>,
}

#[derive(Clone, Debug)]
enum Expr {
    Column(usize),
    WriteTime(usize),
    Ttl(usize),
    /// A constant (or bound value), already serialized; `None` is null.
    Const(Option<Vec<u8>>),
    Call(Resolved, Vec<Node>),
    /// The aggregate in slot `n` of [`Projection::aggregates`].
    Aggregate(usize),
    Cast(Box<Node>),
    Arith(ast::ArithOp, Box<Node>, Box<Node>),
    Negate(Box<Node>),
    /// Field `n` of a UDT value.
    Field(Box<Node>, usize),
    /// An element of a map (by key) or set (by value).
    Element(Box<Node>, Option<Vec<u8>>),
    /// The entries of a map or set between two inclusive bounds (`None` is unbounded).
    Slice(Box<Node>, Option<Vec<u8>>, Option<Vec<u8>>),
    /// A tuple, list, set or map built from selectors (map entries are consecutive key, value pairs).
    Collection(Vec<Node>),
}

/// One aggregate call: the function and its (non-aggregate) arguments, evaluated on every row.
#[derive(Clone, Debug)]
struct AggSlot {
    agg: Aggregate,
    args: Vec<Node>,
}

/// A prepared selection clause.
#[derive(Clone, Debug)]
pub(crate) struct Projection {
    nodes: Vec<Node>,
    aggregates: Vec<AggSlot>,
    /// The selected columns' specs (before `SELECT JSON` folds them into one).
    columns: Vec<ColumnSpec>,
    json: bool,
    spec: ColumnSpecTemplate,
}

/// Keyspace and table of the result columns.
#[derive(Clone, Debug)]
struct ColumnSpecTemplate {
    keyspace: String,
    table: String,
}

impl ColumnSpecTemplate {
    fn spec(&self, name: String, typ: CqlType) -> ColumnSpec {
        ColumnSpec {
            keyspace: self.keyspace.clone(),
            table: self.table.clone(),
            name,
            typ,
        }
    }
}

/// One group being aggregated: its first row (plain columns take its values) and the aggregate states.
pub(crate) struct Group {
    first: Option<FullRow>,
    states: Vec<State>,
}

impl Group {
    /// The first row fed to the group, if any.
    pub(crate) fn first_row(&self) -> Option<&FullRow> {
        self.first.as_ref()
    }
}

impl Projection {
    /// Prepares the selection of `sel` against `table`. `binds` are the bound values when executing
    /// (`None` when only the result metadata is wanted); `udt` looks user types up for casts and hints.
    pub(crate) fn prepare(
        table: &TableDef,
        sel: &ast::Select,
        binds: Option<Binds>,
        udt: &dyn Fn(&str) -> Option<Arc<UdtDef>>,
    ) -> Result<Projection> {
        let template = ColumnSpecTemplate {
            keyspace: table.keyspace.clone(),
            table: table.name.clone(),
        };
        let mut p = Preparer {
            table,
            binds,
            udt,
            aggregates: Vec::new(),
        };
        let mut nodes = Vec::new();
        let mut columns = Vec::new();
        match &sel.selection {
            ast::Selection::Wildcard => {
                for (i, c) in table.columns.iter().enumerate() {
                    columns.push(template.spec(c.name.clone(), c.typ.clone()));
                    nodes.push(Node {
                        expr: Expr::Column(i),
                        ty: c.typ.clone(),
                        name: c.name.clone(),
                        aggregate: false,
                        op: None,
                    });
                }
            }
            ast::Selection::Selectors(selectors) => {
                for s in selectors {
                    let node = p.node(&s.selectable, None)?;
                    columns.push(template.spec(
                        s.alias.clone().unwrap_or_else(|| node.name.clone()),
                        node.ty.clone(),
                    ));
                    nodes.push(node);
                }
            }
        }
        Ok(Projection {
            nodes,
            aggregates: p.aggregates,
            columns,
            json: sel.json,
            spec: template,
        })
    }

    /// The result metadata columns: the selected columns, or the single `[json]` column.
    pub(crate) fn specs(&self) -> Vec<ColumnSpec> {
        if self.json {
            vec![self.spec.spec(JSON_COLUMN.to_string(), CqlType::Varchar)]
        } else {
            self.columns.clone()
        }
    }

    /// Whether the selection aggregates rows (into one row per group).
    pub(crate) fn is_aggregate(&self) -> bool {
        !self.aggregates.is_empty()
    }

    /// The table columns the selection reads directly (for DISTINCT checks).
    pub(crate) fn referenced_columns(&self) -> Vec<usize> {
        fn walk(n: &Node, out: &mut Vec<usize>) {
            match &n.expr {
                Expr::Column(i) | Expr::WriteTime(i) | Expr::Ttl(i) => out.push(*i),
                Expr::Const(_) | Expr::Aggregate(_) => {}
                Expr::Call(_, args) | Expr::Collection(args) => args.iter().for_each(|a| walk(a, out)),
                Expr::Cast(a)
                | Expr::Negate(a)
                | Expr::Field(a, _)
                | Expr::Element(a, _)
                | Expr::Slice(a, _, _) => walk(a, out),
                Expr::Arith(_, a, b) => {
                    walk(a, out);
                    walk(b, out);
                }
            }
        }
        let mut out = Vec::new();
        self.nodes.iter().for_each(|n| walk(n, &mut out));
        for slot in &self.aggregates {
            slot.args.iter().for_each(|n| walk(n, &mut out));
        }
        out
    }

    /// The output row for one input row (non-aggregate selections).
    pub(crate) fn row(&self, row: &FullRow) -> Result<Vec<Option<Bytes>>> {
        let values = self
            .nodes
            .iter()
            .map(|n| eval(n, Some(row), &[]))
            .collect::<Result<Vec<_>>>()?;
        self.finish_row(values)
    }

    /// A fresh aggregation group.
    pub(crate) fn start_group(&self) -> Group {
        Group {
            first: None,
            states: self.aggregates.iter().map(|s| s.agg.start()).collect(),
        }
    }

    /// Feeds one row to a group.
    pub(crate) fn feed(&self, group: &mut Group, row: &FullRow) -> Result<()> {
        if group.first.is_none() {
            group.first = Some(row.clone());
        }
        for (slot, state) in self.aggregates.iter().zip(group.states.iter_mut()) {
            let value = match slot.args.first() {
                Some(arg) => eval(arg, Some(row), &[])?,
                None => None,
            };
            slot.agg.add(state, value.as_deref())?;
        }
        Ok(())
    }

    /// The output row of a finished group; plain columns take the values of the group's first row.
    pub(crate) fn group_row(&self, group: &Group) -> Result<Vec<Option<Bytes>>> {
        let results = self
            .aggregates
            .iter()
            .zip(&group.states)
            .map(|(slot, state)| slot.agg.finish(state))
            .collect::<Result<Vec<_>>>()?;
        let values = self
            .nodes
            .iter()
            .map(|n| eval(n, group.first.as_ref(), &results))
            .collect::<Result<Vec<_>>>()?;
        self.finish_row(values)
    }

    fn finish_row(&self, values: Vec<Option<Vec<u8>>>) -> Result<Vec<Option<Bytes>>> {
        if !self.json {
            return Ok(values.into_iter().map(|v| v.map(Bytes::from)).collect());
        }
        let mut parts = Vec::with_capacity(values.len());
        for (spec, v) in self.columns.iter().zip(&values) {
            let value = decode(&spec.typ, v.as_deref())?;
            parts.push((
                spec.name.as_str(),
                mica_cql_types::to_json_optional(value.as_ref(), &spec.typ),
            ));
        }
        let doc = mica_cql_types::json_row(parts);
        Ok(vec![Some(Bytes::from(doc.into_bytes()))])
    }
}

struct Preparer<'a> {
    table: &'a TableDef,
    binds: Option<Binds<'a>>,
    udt: &'a dyn Fn(&str) -> Option<Arc<UdtDef>>,
    aggregates: Vec<AggSlot>,
}

/// The text Cassandra shows for a constant or marker in column names and messages.
pub(crate) fn term_text(t: &ast::Term) -> String {
    match t {
        ast::Term::Literal(ast::Literal::String(s)) => format!("'{s}'"),
        ast::Term::Literal(l) => l.text(),
        ast::Term::Null => "NULL".into(),
        ast::Term::Marker(m) => m.name.as_ref().map_or_else(|| "?".into(), |n| format!(":{n}")),
        ast::Term::Negate(inner) => format!("-{}", term_text(inner)),
        ast::Term::TypeHint { ty, term } => format!("({ty}){}", term_text(term)),
        ast::Term::FunctionCall { name, args } => format!(
            "{name}({})",
            args.iter().map(term_text).collect::<Vec<_>>().join(", ")
        ),
        ast::Term::List(items) => format!("[{}]", items.iter().map(term_text).collect::<Vec<_>>().join(", ")),
        ast::Term::Set(items) => format!(
            "{{{}}}",
            items.iter().map(term_text).collect::<Vec<_>>().join(", ")
        ),
        ast::Term::Tuple(items) => {
            format!("({})", items.iter().map(term_text).collect::<Vec<_>>().join(", "))
        }
        ast::Term::Map(entries) => format!(
            "{{{}}}",
            entries
                .iter()
                .map(|(k, v)| format!("{}: {}", term_text(k), term_text(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        ast::Term::Udt(fields) => format!(
            "{{{}}}",
            fields
                .iter()
                .map(|(k, v)| format!("{k}: {}", term_text(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        ast::Term::Arithmetic { op, lhs, rhs } => {
            format!("{} {} {}", term_text(lhs), arith::symbol(*op), term_text(rhs))
        }
    }
}

fn literal_kind(l: &ast::Literal) -> LiteralKind {
    match l {
        ast::Literal::String(_) => LiteralKind::String,
        ast::Literal::Integer(_) => LiteralKind::Integer,
        ast::Literal::Float(_) => LiteralKind::Float,
        ast::Literal::Boolean(_) => LiteralKind::Boolean,
        ast::Literal::Uuid(_) => LiteralKind::Uuid,
        ast::Literal::Blob(_) => LiteralKind::Hex,
        ast::Literal::Duration(_) => LiteralKind::Duration,
    }
}

/// What a function argument contributes to overload resolution before it is typed.
fn untyped_kind(s: &ast::Selectable) -> Option<ArgKind> {
    match s {
        ast::Selectable::Term(ast::Term::Literal(l)) => Some(ArgKind::Literal(literal_kind(l))),
        ast::Selectable::Term(_) => Some(ArgKind::Untyped),
        _ => None,
    }
}

impl Preparer<'_> {
    fn column(&self, name: &str) -> Result<usize> {
        self.table
            .columns
            .iter()
            .position(|c| c.name == name)
            .ok_or_else(|| invalid(format!("Undefined column name {name} in selection clause")))
    }

    fn resolve_type(&self, ty: &ast::TypeExpr) -> Result<CqlType> {
        crate::ddl::resolve_type(ty, self.udt)
    }

    /// A constant or bound value of a known type.
    fn constant(&self, term: &ast::Term, ty: &CqlType, name: String) -> Result<Node> {
        let value = match (term, self.binds) {
            // Preparing only: the value of a marker is not known yet, only its type matters.
            (ast::Term::Marker(_), None) => None,
            (_, binds) => {
                let binds = binds.unwrap_or(Binds { values: &[] });
                match eval_bytes(term, ty, &name, binds)? {
                    Evaluated::Bytes(b) => Some(b),
                    Evaluated::Null | Evaluated::Unset => None,
                }
            }
        };
        Ok(Node {
            expr: Expr::Const(value),
            ty: ty.clone(),
            name,
            aggregate: false,
            op: None,
        })
    }

    fn node(&mut self, s: &ast::Selectable, expected: Option<&CqlType>) -> Result<Node> {
        let plain = |expr: Expr, ty: CqlType, name: String| Node {
            expr,
            ty,
            name,
            aggregate: false,
            op: None,
        };
        Ok(match s {
            ast::Selectable::Column(name) => {
                let i = self.column(name)?;
                plain(Expr::Column(i), self.table.columns[i].typ.clone(), name.clone())
            }
            ast::Selectable::Term(t) => {
                let text = term_text(t);
                let Some(ty) = expected else {
                    return Err(invalid(format!(
                        "Cannot infer type for term {text} in selection clause (try using a cast to force a type)"
                    )));
                };
                self.constant(t, ty, text)?
            }
            ast::Selectable::TypeHint { ty, arg } => {
                let ty = self.resolve_type(ty)?;
                let hint = format!("({})", ty.cql_name());
                match &**arg {
                    ast::Selectable::Term(t) => self.constant(t, &ty, format!("{hint}{}", term_text(t)))?,
                    other => {
                        let mut n = self.node(other, Some(&ty))?;
                        if n.ty.unfrozen() != ty.unfrozen() {
                            return Err(invalid(format!(
                                "Cannot assign value {} to {hint}{} of type {}",
                                n.name,
                                n.name,
                                ty.cql_name()
                            )));
                        }
                        n.name = format!("{hint}{}", n.name);
                        n
                    }
                }
            }
            ast::Selectable::CountRows => self.aggregate(
                Aggregate {
                    kind: AggKind::CountRows,
                    arg: CqlType::Bigint,
                    ret: CqlType::Bigint,
                },
                Vec::new(),
                "count".into(),
            ),
            ast::Selectable::Metadata { kind, arg } => self.metadata(*kind, arg)?,
            ast::Selectable::Function { name, args } => self.function(name, args)?,
            ast::Selectable::Cast { arg, ty } => {
                let target = self.resolve_type(ty)?;
                let n = self.node(arg, None)?;
                if n.ty.unfrozen() == target.unfrozen() {
                    // Cassandra ignores a cast to the value's own type, name included.
                    return Ok(n);
                }
                if !mica_cql_types::can_cast(&n.ty, &target) {
                    return Err(invalid(format!(
                        "{} cannot be cast to {}",
                        n.name,
                        target.cql_name()
                    )));
                }
                Node {
                    name: format!("cast({} as {})", n.name, target.cql_name().to_lowercase()),
                    aggregate: n.aggregate,
                    expr: Expr::Cast(Box::new(n)),
                    ty: target,
                    op: None,
                }
            }
            ast::Selectable::Field { arg, field } => {
                let n = self.node(arg, None)?;
                let CqlType::Udt(def) = n.ty.unfrozen() else {
                    return Err(invalid(format!(
                        "Invalid field selection: {} of type {} is not a user type",
                        n.name,
                        n.ty.cql_name()
                    )));
                };
                let Some(idx) = def.fields.iter().position(|(f, _)| f == field) else {
                    return Err(invalid(format!(
                        "{} of type {} has no field {field}",
                        n.name,
                        n.ty.cql_name()
                    )));
                };
                let ty = def.fields[idx].1.clone();
                Node {
                    name: format!("{}.{field}", n.name),
                    aggregate: n.aggregate,
                    expr: Expr::Field(Box::new(n), idx),
                    ty,
                    op: None,
                }
            }
            ast::Selectable::Element { arg, key } => {
                let n = self.node(arg, None)?;
                let (key_ty, value_ty) = element_types(&n)?;
                let k = self.constant(key, &key_ty, term_text(key))?;
                let Expr::Const(key_bytes) = k.expr else {
                    return Err(QueryError::Server("element key is not constant".into()));
                };
                Node {
                    name: format!("{}[{}]", n.name, k.name),
                    aggregate: n.aggregate,
                    expr: Expr::Element(Box::new(n), key_bytes),
                    ty: value_ty,
                    op: None,
                }
            }
            ast::Selectable::Slice { arg, from, to } => {
                let n = self.node(arg, None)?;
                let (key_ty, _) = element_types(&n)?;
                let bound = |t: &Option<ast::Term>| -> Result<(String, Option<Vec<u8>>)> {
                    match t {
                        None => Ok((String::new(), None)),
                        Some(t) => {
                            let k = self.constant(t, &key_ty, term_text(t))?;
                            match k.expr {
                                Expr::Const(b) => Ok((k.name, b)),
                                _ => Err(QueryError::Server("slice bound is not constant".into())),
                            }
                        }
                    }
                };
                let (from_text, from_bytes) = bound(from)?;
                let (to_text, to_bytes) = bound(to)?;
                let ty = n.ty.unfrozen().clone();
                Node {
                    name: format!("{}[{from_text}..{to_text}]", n.name),
                    aggregate: n.aggregate,
                    expr: Expr::Slice(Box::new(n), from_bytes, to_bytes),
                    ty,
                    op: None,
                }
            }
            ast::Selectable::Arithmetic { op, lhs, rhs } => self.arithmetic(*op, lhs, rhs)?,
            ast::Selectable::Negate(arg) => {
                let n = self.node(arg, None)?;
                let ty = arith::negation_type(&n.ty).ok_or_else(|| {
                    invalid(format!(
                        "the '-' operation is not supported on {} of type {}",
                        n.name,
                        n.ty.cql_name()
                    ))
                })?;
                let name = match n.op {
                    Some(_) => format!("-({})", n.name),
                    None => format!("-{}", n.name),
                };
                Node {
                    name,
                    aggregate: n.aggregate,
                    expr: Expr::Negate(Box::new(n)),
                    ty,
                    op: None,
                }
            }
            ast::Selectable::Tuple(items) => {
                let expected_items = match expected.map(CqlType::unfrozen) {
                    Some(CqlType::Tuple(ts)) if ts.len() == items.len() => Some(ts.clone()),
                    _ => None,
                };
                let nodes = items
                    .iter()
                    .enumerate()
                    .map(|(i, it)| self.node(it, expected_items.as_ref().map(|ts| &ts[i])))
                    .collect::<Result<Vec<_>>>()?;
                let ty = CqlType::Tuple(nodes.iter().map(|n| n.ty.clone()).collect());
                self.collection(nodes, ty, "(", ")")
            }
            ast::Selectable::List(items) | ast::Selectable::Set(items) => {
                let is_list = matches!(s, ast::Selectable::List(_));
                let element = match expected.map(CqlType::unfrozen) {
                    Some(CqlType::List(e) | CqlType::Set(e)) => Some(e.as_ref().clone()),
                    _ => None,
                };
                let nodes = items
                    .iter()
                    .map(|it| self.node(it, element.as_ref()))
                    .collect::<Result<Vec<_>>>()?;
                let element = match (element, nodes.first()) {
                    (Some(e), _) => e,
                    (None, Some(n)) => n.ty.clone(),
                    (None, None) => {
                        return Err(invalid(format!(
                            "Cannot infer type for term {} in selection clause (try using a cast to force a type)",
                            if is_list { "[]" } else { "{}" }
                        )));
                    }
                };
                let (ty, open, close) = if is_list {
                    (CqlType::List(Box::new(element)), "[", "]")
                } else {
                    (CqlType::Set(Box::new(element)), "{", "}")
                };
                self.collection(nodes, ty, open, close)
            }
            ast::Selectable::Map(entries) => {
                let (kt, vt) = match expected.map(CqlType::unfrozen) {
                    Some(CqlType::Map(k, v)) => (Some(k.as_ref().clone()), Some(v.as_ref().clone())),
                    _ => (None, None),
                };
                let mut nodes = Vec::new();
                for (k, v) in entries {
                    nodes.push(self.node(k, kt.as_ref())?);
                    nodes.push(self.node(v, vt.as_ref())?);
                }
                let ty = CqlType::Map(
                    Box::new(nodes.first().map(|n| n.ty.clone()).unwrap_or(CqlType::Blob)),
                    Box::new(nodes.get(1).map(|n| n.ty.clone()).unwrap_or(CqlType::Blob)),
                );
                let name = format!(
                    "{{{}}}",
                    nodes
                        .chunks(2)
                        .map(|kv| format!("{}: {}", kv[0].name, kv[1].name))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                Node {
                    aggregate: nodes.iter().any(|n| n.aggregate),
                    expr: Expr::Collection(nodes),
                    ty,
                    name,
                    op: None,
                }
            }
        })
    }

    fn collection(&self, nodes: Vec<Node>, ty: CqlType, open: &str, close: &str) -> Node {
        let name = format!(
            "{open}{}{close}",
            nodes
                .iter()
                .map(|n| n.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        Node {
            aggregate: nodes.iter().any(|n| n.aggregate),
            expr: Expr::Collection(nodes),
            ty,
            name,
            op: None,
        }
    }

    fn aggregate(&mut self, agg: Aggregate, args: Vec<Node>, name: String) -> Node {
        let ty = agg.ret.clone();
        self.aggregates.push(AggSlot { agg, args });
        Node {
            expr: Expr::Aggregate(self.aggregates.len() - 1),
            ty,
            name,
            aggregate: true,
            op: None,
        }
    }

    fn metadata(&mut self, kind: ast::MetadataKind, arg: &ast::Selectable) -> Result<Node> {
        let label = match kind {
            ast::MetadataKind::WriteTime => "writetime",
            ast::MetadataKind::MaxWriteTime => "maxwritetime",
            ast::MetadataKind::Ttl => "ttl",
        };
        let shown = match kind {
            ast::MetadataKind::WriteTime => "writeTime",
            ast::MetadataKind::MaxWriteTime => "maxwritetime",
            ast::MetadataKind::Ttl => "ttl",
        };
        let ast::Selectable::Column(name) = arg else {
            return Err(invalid(format!("{label}() is only supported on a column name")));
        };
        let i = self.column(name)?;
        let c = &self.table.columns[i];
        if c.is_primary_key() {
            return Err(invalid(format!(
                "Cannot use selection function {shown} on PRIMARY KEY part {name}"
            )));
        }
        if c.typ.is_multicell() {
            return Err(invalid(format!(
                "Cannot use selection function {shown} on non-frozen {} {name}",
                if c.typ.is_collection() {
                    "collection"
                } else {
                    "UDT"
                }
            )));
        }
        let (expr, ty) = match kind {
            ast::MetadataKind::Ttl => (Expr::Ttl(i), CqlType::Int),
            _ => (Expr::WriteTime(i), CqlType::Bigint),
        };
        Ok(Node {
            expr,
            ty,
            name: format!("{label}({name})"),
            aggregate: false,
            op: None,
        })
    }

    fn function(&mut self, name: &ast::QualifiedName, args: &[ast::Selectable]) -> Result<Node> {
        let native = name.keyspace.as_deref().is_none_or(|k| k == SYSTEM);
        // First pass: type every argument that has a type of its own.
        let mut typed: Vec<Option<Node>> = Vec::with_capacity(args.len());
        let mut kinds = Vec::with_capacity(args.len());
        for a in args {
            match untyped_kind(a) {
                Some(kind) => {
                    typed.push(None);
                    kinds.push(kind);
                }
                None => {
                    let n = self.node(a, None)?;
                    kinds.push(ArgKind::Typed(n.ty.clone()));
                    typed.push(Some(n));
                }
            }
        }
        if native && let Some(agg) = crate::aggregate::resolve(&name.name, &kinds) {
            let agg = agg?;
            if typed.iter().flatten().any(|n| n.aggregate) {
                return Err(invalid(
                    "aggregate functions cannot be used as arguments of aggregate functions",
                ));
            }
            if agg.kind == AggKind::CountRows {
                return Ok(self.aggregate(agg, Vec::new(), "count".into()));
            }
            let args: Vec<Node> = typed.into_iter().flatten().collect();
            let shown = format!(
                "{SYSTEM}.{}({})",
                name.name,
                args.iter()
                    .map(|n| n.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            return Ok(self.aggregate(agg, args, shown));
        }
        let texts: Vec<String> = args
            .iter()
            .zip(&typed)
            .map(|(a, t)| match (a, t) {
                (_, Some(n)) => n.name.clone(),
                (ast::Selectable::Term(t), None) => term_text(t),
                _ => String::new(),
            })
            .collect();
        let resolved = functions::resolve(
            name.keyspace.as_deref(),
            &name.name,
            &kinds,
            &texts,
            Some(self.table),
        )?;
        // Second pass: constants take the parameter types of the chosen overload.
        let mut nodes = Vec::with_capacity(args.len());
        for ((a, t), param) in args.iter().zip(typed).zip(&resolved.args) {
            nodes.push(match t {
                Some(n) => n,
                None => self.node(a, Some(param))?,
            });
        }
        let aggregates = nodes.iter().filter(|n| n.aggregate).count();
        if aggregates != 0 && aggregates != nodes.len() {
            return Err(invalid(format!(
                "the {} function arguments must be either all aggregates or all none aggregates",
                resolved.name
            )));
        }
        let shown = format!(
            "{}({})",
            resolved.name,
            nodes
                .iter()
                .map(|n| n.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        Ok(Node {
            ty: resolved.ret.clone(),
            aggregate: aggregates > 0,
            expr: Expr::Call(resolved, nodes),
            name: shown,
            op: None,
        })
    }

    /// An operand of an arithmetic operation: constants take their preferred numeric type.
    fn operand(&mut self, s: &ast::Selectable, op: ast::ArithOp) -> Result<Node> {
        match s {
            ast::Selectable::Term(t @ ast::Term::Literal(l)) => match arith::preferred_literal_type(l) {
                Some(ty) => self.constant(t, &ty, term_text(t)),
                None => Err(invalid(format!(
                    "the '{}' operation is not supported on {}",
                    arith::symbol(op),
                    term_text(t)
                ))),
            },
            ast::Selectable::Term(_) => Err(invalid(format!(
                "Ambiguous '{}' operation: use type casts to disambiguate",
                arith::symbol(op)
            ))),
            other => self.node(other, None),
        }
    }

    fn arithmetic(&mut self, op: ast::ArithOp, lhs: &ast::Selectable, rhs: &ast::Selectable) -> Result<Node> {
        let l = self.operand(lhs, op)?;
        let r = self.operand(rhs, op)?;
        let ty = arith::result_type(op, &l.ty, &r.ty).ok_or_else(|| {
            invalid(format!(
                "the '{}' operation is not supported between {} and {}",
                arith::symbol(op),
                l.name,
                r.name
            ))
        })?;
        if l.aggregate != r.aggregate {
            return Err(invalid(format!(
                "the {} function arguments must be either all aggregates or all none aggregates",
                operation_function(op)
            )));
        }
        // The parser drops parentheses; put back the ones the operator precedence requires.
        let wrap = |n: &Node, right: bool| match n.op {
            Some(inner)
                if arith::precedence(inner) < arith::precedence(op)
                    || (right && arith::precedence(inner) == arith::precedence(op)) =>
            {
                format!("({})", n.name)
            }
            _ => n.name.clone(),
        };
        Ok(Node {
            name: format!("{} {} {}", wrap(&l, false), arith::symbol(op), wrap(&r, true)),
            aggregate: l.aggregate,
            expr: Expr::Arith(op, Box::new(l), Box::new(r)),
            ty,
            op: Some(op),
        })
    }
}

fn operation_function(op: ast::ArithOp) -> &'static str {
    match op {
        ast::ArithOp::Add => "_add",
        ast::ArithOp::Sub => "_substract",
        ast::ArithOp::Mul => "_multiply",
        ast::ArithOp::Div => "_divide",
        ast::ArithOp::Rem => "_modulo",
    }
}

/// Key and result types of element selection on a map or set.
fn element_types(n: &Node) -> Result<(CqlType, CqlType)> {
    match n.ty.unfrozen() {
        CqlType::Map(k, v) => Ok((k.as_ref().clone(), v.as_ref().clone())),
        CqlType::Set(e) => Ok((e.as_ref().clone(), e.as_ref().clone())),
        CqlType::List(_) => Err(invalid(format!(
            "Element selection is only allowed on sets and maps, but {} is a list",
            n.name
        ))),
        _ => Err(invalid(format!(
            "Invalid element selection: {} is of type {} is not a collection",
            n.name,
            n.ty.cql_name()
        ))),
    }
}

/// Evaluates a node for a row (`None` for an empty group) with the group's aggregate results.
fn eval(n: &Node, row: Option<&FullRow>, aggs: &[Option<Vec<u8>>]) -> Result<Option<Vec<u8>>> {
    Ok(match &n.expr {
        Expr::Column(i) => row.and_then(|r| r.values[*i].clone()),
        Expr::WriteTime(i) => row
            .and_then(|r| r.writetime[*i])
            .map(|t| t.to_be_bytes().to_vec()),
        Expr::Ttl(i) => row.and_then(|r| r.ttl[*i]).map(|t| t.to_be_bytes().to_vec()),
        Expr::Const(v) => v.clone(),
        Expr::Aggregate(slot) => aggs.get(*slot).cloned().flatten(),
        Expr::Call(f, args) => {
            let values = args
                .iter()
                .map(|a| eval(a, row, aggs))
                .collect::<Result<Vec<_>>>()?;
            functions::execute(f, &values)?
        }
        Expr::Cast(arg) => {
            let Some(v) = decode(&arg.ty, eval(arg, row, aggs)?.as_deref())? else {
                return Ok(None);
            };
            let out = mica_cql_types::cast(&v, &arg.ty, &n.ty).map_err(|e| {
                functions::failure(
                    &format!("{SYSTEM}.castas{}", n.ty.cql_name()),
                    std::slice::from_ref(&arg.ty),
                    e.to_string(),
                )
            })?;
            encode(&n.ty, Some(out))?
        }
        Expr::Arith(op, l, r) => arith::apply(
            *op,
            &l.ty,
            eval(l, row, aggs)?.as_deref(),
            &r.ty,
            eval(r, row, aggs)?.as_deref(),
            &n.ty,
        )?,
        Expr::Negate(arg) => arith::negate(&arg.ty, eval(arg, row, aggs)?.as_deref(), &n.ty)?,
        Expr::Field(arg, idx) => {
            let v = decode(&arg.ty, eval(arg, row, aggs)?.as_deref())?;
            let field = match v {
                Some(CqlValue::Udt(fields)) => fields.into_iter().nth(*idx).and_then(|(_, f)| f),
                _ => None,
            };
            encode(&n.ty, field)?
        }
        Expr::Element(arg, key) => {
            let Some(key) = key else { return Ok(None) };
            let (key_ty, _) = element_types(arg)?;
            let key = decode(&key_ty, Some(key))?;
            let found = match (decode(&arg.ty, eval(arg, row, aggs)?.as_deref())?, key) {
                (Some(CqlValue::Map(entries)), Some(k)) => entries
                    .into_iter()
                    .find(|(ek, _)| compare(&key_ty, ek, &k).is_eq())
                    .map(|(_, v)| v),
                (Some(CqlValue::Set(items)), Some(k)) => {
                    items.into_iter().find(|e| compare(&key_ty, e, &k).is_eq())
                }
                _ => None,
            };
            encode(&n.ty, found)?
        }
        Expr::Slice(arg, from, to) => {
            let (key_ty, _) = element_types(arg)?;
            let from = decode(&key_ty, from.as_deref())?;
            let to = decode(&key_ty, to.as_deref())?;
            let inside = |k: &CqlValue| {
                from.as_ref().is_none_or(|f| compare(&key_ty, k, f).is_ge())
                    && to.as_ref().is_none_or(|t| compare(&key_ty, k, t).is_le())
            };
            let sliced = match decode(&arg.ty, eval(arg, row, aggs)?.as_deref())? {
                Some(CqlValue::Map(entries)) => Some(CqlValue::Map(
                    entries.into_iter().filter(|(k, _)| inside(k)).collect(),
                )),
                Some(CqlValue::Set(items)) => Some(CqlValue::Set(items.into_iter().filter(inside).collect())),
                _ => None,
            };
            encode(&n.ty, sliced)?
        }
        Expr::Collection(items) => {
            let mut values = Vec::with_capacity(items.len());
            for it in items {
                values.push(decode(&it.ty, eval(it, row, aggs)?.as_deref())?);
            }
            let value = match n.ty.unfrozen() {
                CqlType::Tuple(_) => CqlValue::Tuple(values),
                CqlType::List(_) => CqlValue::List(values.into_iter().flatten().collect()),
                CqlType::Set(_) => {
                    let mut v = CqlValue::Set(values.into_iter().flatten().collect());
                    mica_cql_types::normalize(&mut v, &n.ty);
                    v
                }
                _ => {
                    let mut it = values.into_iter();
                    let mut entries = Vec::new();
                    while let (Some(k), Some(v)) = (it.next(), it.next()) {
                        if let (Some(k), Some(v)) = (k, v) {
                            entries.push((k, v));
                        }
                    }
                    let mut v = CqlValue::Map(entries);
                    mica_cql_types::normalize(&mut v, &n.ty);
                    v
                }
            };
            encode(&n.ty, Some(value))?
        }
    })
}

/// `SELECT DISTINCT` may only select partition key and static columns, and a range query must select the
/// whole partition key.
pub(crate) fn check_distinct(
    table: &TableDef,
    projection: &Projection,
    wildcard: bool,
    key_range: bool,
) -> Result<()> {
    let referenced: Vec<usize> = if wildcard {
        (0..table.columns.len()).collect()
    } else {
        projection.referenced_columns()
    };
    for &i in &referenced {
        let c = &table.columns[i];
        if !matches!(c.kind, ColumnKind::PartitionKey | ColumnKind::Static) {
            return Err(invalid(format!(
                "SELECT DISTINCT queries must only request partition key columns and/or static columns (not {})",
                c.name
            )));
        }
    }
    if !key_range {
        return Ok(());
    }
    let missing: Vec<&str> = table
        .partition_key()
        .filter(|c| !referenced.iter().any(|&i| table.columns[i].name == c.name))
        .map(|c| c.name.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(invalid(format!(
            "SELECT DISTINCT queries must request all the partition key columns (missing {})",
            missing.join(", ")
        )));
    }
    Ok(())
}
