//! The WHERE clause of a SELECT: validates relations the way Cassandra 4.1's `StatementRestrictions` does
//! (same checks, same order, same messages), and turns them into the partition keys to read, token
//! bounds, clustering slices pushed down to storage, and the filters applied to each row in memory.

use std::cmp::Ordering;
use std::ops::Bound;

use mica_cql_syntax as ast;
use mica_cql_types::{CqlType, compare_serialized, encode_clustering_serialized};
use mica_schema::{ColumnKind, TableDef};
use mica_storage::ClusteringBound;

use crate::error::{Result, invalid};
use crate::select::FullRow;
use crate::values::{Binds, Evaluated, eval_bytes, partition_key_bytes};

/// Cassandra's message for queries that would need ALLOW FILTERING.
pub(crate) const REQUIRES_ALLOW_FILTERING: &str = "Cannot execute this query as it might involve data filtering and thus may have unpredictable performance. If you want to execute this query despite the performance unpredictability, use ALLOW FILTERING";

/// Most partition keys (or clustering prefixes) an IN cartesian product may expand to, as Cassandra's
/// `max_clustering_key_combinations`-style guard: beyond this the query is refused.
const MAX_KEY_COMBINATIONS: usize = 100_000;

/// A comparison applied to a row in memory.
#[derive(Clone, Debug)]
pub(crate) enum RowFilter {
    /// `column op value(s)` with `op` one of `= IN < <= > >=`.
    Compare {
        column: usize,
        op: ast::Operator,
        values: Vec<Vec<u8>>,
        typ: CqlType,
    },
    /// `column CONTAINS value` (`key` false) or `column CONTAINS KEY value`.
    Contains {
        column: usize,
        key: bool,
        value: Vec<u8>,
        typ: CqlType,
    },
    /// `map[key] = value`.
    Entry {
        column: usize,
        key: Vec<u8>,
        value: Vec<u8>,
        typ: CqlType,
    },
    /// `(c1, c2, ...) op (v1, v2, ...)`, or IN over such tuples, compared lexicographically by value.
    Tuple {
        columns: Vec<usize>,
        types: Vec<CqlType>,
        op: ast::Operator,
        tuples: Vec<Vec<Vec<u8>>>,
    },
}

impl RowFilter {
    pub(crate) fn matches(&self, row: &FullRow) -> bool {
        match self {
            RowFilter::Compare {
                column,
                op,
                values,
                typ,
            } => {
                let Some(v) = &row.values[*column] else {
                    return false;
                };
                let cmp = |x: &Vec<u8>| compare_serialized(typ, v, x).unwrap_or(Ordering::Less);
                match op {
                    ast::Operator::In => values.iter().any(|x| cmp(x) == Ordering::Equal),
                    op => values.first().is_some_and(|x| op_holds(*op, cmp(x))),
                }
            }
            RowFilter::Contains {
                column,
                key,
                value,
                typ,
            } => {
                let Some(v) = &row.values[*column] else {
                    return false;
                };
                let Ok(collection) = mica_cql_types::deserialize(typ, v) else {
                    return false;
                };
                let (elem_ty, items): (&CqlType, Vec<mica_cql_types::CqlValue>) =
                    match (typ.unfrozen(), collection, key) {
                        (CqlType::Map(k, _), mica_cql_types::CqlValue::Map(e), true) => {
                            (k.as_ref(), e.into_iter().map(|(k, _)| k).collect())
                        }
                        (CqlType::Map(_, val), mica_cql_types::CqlValue::Map(e), false) => {
                            (val.as_ref(), e.into_iter().map(|(_, v)| v).collect())
                        }
                        (
                            CqlType::List(el) | CqlType::Set(el),
                            mica_cql_types::CqlValue::List(items) | mica_cql_types::CqlValue::Set(items),
                            false,
                        ) => (el.as_ref(), items),
                        _ => return false,
                    };
                let Ok(wanted) = mica_cql_types::deserialize(elem_ty, value) else {
                    return false;
                };
                items
                    .iter()
                    .any(|i| mica_cql_types::compare(elem_ty, i, &wanted) == Ordering::Equal)
            }
            RowFilter::Entry {
                column,
                key,
                value,
                typ,
            } => {
                let (Some(v), CqlType::Map(kt, vt)) = (&row.values[*column], typ.unfrozen()) else {
                    return false;
                };
                let (Ok(mica_cql_types::CqlValue::Map(entries)), Ok(k), Ok(want)) = (
                    mica_cql_types::deserialize(typ, v),
                    mica_cql_types::deserialize(kt, key),
                    mica_cql_types::deserialize(vt, value),
                ) else {
                    return false;
                };
                entries.iter().any(|(ek, ev)| {
                    mica_cql_types::compare(kt, ek, &k) == Ordering::Equal
                        && mica_cql_types::compare(vt, ev, &want) == Ordering::Equal
                })
            }
            RowFilter::Tuple {
                columns,
                types,
                op,
                tuples,
            } => {
                let mut values = Vec::with_capacity(columns.len());
                for c in columns {
                    match &row.values[*c] {
                        Some(v) => values.push(v),
                        None => return false,
                    }
                }
                let cmp = |t: &Vec<Vec<u8>>| {
                    for ((v, x), ty) in values.iter().zip(t).zip(types) {
                        match compare_serialized(ty, v, x).unwrap_or(Ordering::Less) {
                            Ordering::Equal => continue,
                            other => return other,
                        }
                    }
                    Ordering::Equal
                };
                match op {
                    ast::Operator::In => tuples.iter().any(|t| cmp(t) == Ordering::Equal),
                    op => tuples.first().is_some_and(|t| op_holds(*op, cmp(t))),
                }
            }
        }
    }
}

fn op_holds(op: ast::Operator, ord: Ordering) -> bool {
    match op {
        ast::Operator::Eq => ord == Ordering::Equal,
        ast::Operator::Lt => ord == Ordering::Less,
        ast::Operator::Le => ord != Ordering::Greater,
        ast::Operator::Gt => ord == Ordering::Greater,
        ast::Operator::Ge => ord != Ordering::Less,
        _ => false,
    }
}

/// Which part of the primary key a filter restricts, to drop filters storage already enforces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Origin {
    PartitionKey,
    /// A clustering restriction starting at this clustering position.
    Clustering(usize),
    Other,
}

/// A restriction on one or more clustering columns, kept in the order Cassandra's `RestrictionSet` keeps
/// them (by first column position).
#[derive(Clone, Debug)]
struct ClusteringRestriction {
    /// Clustering positions covered (one for single-column relations).
    first: usize,
    last: usize,
    kind: CKind,
}

#[derive(Clone, Debug)]
enum CKind {
    /// EQ (one tuple) or IN (several); each tuple has one value per covered column.
    Values(Vec<Vec<Vec<u8>>>, bool),
    /// A slice with optional lower and upper bounds (tuples of values, inclusive flag).
    Slice {
        lower: Option<(Vec<Vec<u8>>, bool)>,
        upper: Option<(Vec<Vec<u8>>, bool)>,
        multi: bool,
    },
    /// CONTAINS / CONTAINS KEY (only with filtering).
    Contains,
}

impl ClusteringRestriction {
    fn is_slice(&self) -> bool {
        matches!(self.kind, CKind::Slice { .. })
    }
}

/// The analysed WHERE clause.
#[derive(Debug, Default)]
pub(crate) struct Restrictions {
    /// A relation a secondary index answers (the first one, as Cassandra picks one index); rows are
    /// re-checked with it since index entries may be stale.
    pub index: Option<crate::index::IndexRestriction>,
    /// The partition keys to read, in Cassandra's order, when every partition key column is restricted
    /// by `=` or `IN`; `None` for a range query.
    pub keys: Option<Vec<Vec<u8>>>,
    /// Token restrictions `(op, token)`.
    pub tokens: Vec<(ast::Operator, i64)>,
    /// Clustering slices for storage, in storage order; empty reads whole partitions.
    pub slices: Vec<(ClusteringBound, ClusteringBound)>,
    /// Filters every row read from storage must still pass (those the partition keys and clustering
    /// slices do not already guarantee).
    pub filters: Vec<RowFilter>,
    /// Every relation as a filter, for virtual tables whose rows are computed in memory.
    pub all_filters: Vec<RowFilter>,
    /// Some relation can never match (e.g. `IN ()`).
    pub empty: bool,
    /// Whether clustering, or non-primary-key, columns are restricted (static-only rows are then not
    /// returned, as Cassandra only returns them for full-partition queries).
    pub has_clustering: bool,
    pub has_regular: bool,
    /// Column indexes restricted by `=` (single value), for ORDER BY and GROUP BY validation.
    pub eq_columns: Vec<usize>,
    /// Whether a partition key column is restricted by IN (post-query ordering needs all rows).
    pub partition_in: bool,
}

impl Restrictions {
    /// Whether the query reads whole partitions (static-only rows are then returned).
    pub(crate) fn full_partitions(&self) -> bool {
        !self.has_clustering && !self.has_regular
    }

    /// Whether a token passes every token restriction.
    pub(crate) fn token_ok(&self, key: &[u8]) -> bool {
        let t = mica_types::Token::for_key(key).0;
        self.tokens.iter().all(|(op, x)| op_holds(*op, t.cmp(x)))
    }

    /// The tightest `(start, end)` token bounds for a scan.
    pub(crate) fn token_bounds(&self) -> (mica_storage::TokenBound, mica_storage::TokenBound) {
        use mica_storage::TokenBound as B;
        let mut start = B::Unbounded;
        let mut end = B::Unbounded;
        let key = |b: &B| match b {
            B::Unbounded => None,
            B::Inclusive(t) | B::Exclusive(t) => Some(t.0),
        };
        for (op, t) in &self.tokens {
            let token = mica_types::Token(*t);
            let (lower, upper) = match op {
                ast::Operator::Gt => (Some(B::Exclusive(token)), None),
                ast::Operator::Ge => (Some(B::Inclusive(token)), None),
                ast::Operator::Lt => (None, Some(B::Exclusive(token))),
                ast::Operator::Le => (None, Some(B::Inclusive(token))),
                ast::Operator::Eq => (Some(B::Inclusive(token)), Some(B::Inclusive(token))),
                _ => (None, None),
            };
            if let Some(l) = lower
                && key(&start).is_none_or(|s| key(&l).is_some_and(|n| n > s))
            {
                start = l;
            }
            if let Some(u) = upper
                && key(&end).is_none_or(|e| key(&u).is_some_and(|n| n < e))
            {
                end = u;
            }
        }
        (start, end)
    }
}

/// Evaluates one value of a relation; null and unset are refused as Cassandra does.
fn value(term: &ast::Term, ty: &CqlType, column: &str, binds: Binds) -> Result<Vec<u8>> {
    match eval_bytes(term, ty, column, binds)? {
        Evaluated::Bytes(b) => Ok(b),
        Evaluated::Null => Err(invalid(format!(
            "Invalid null value in condition for column {column}"
        ))),
        Evaluated::Unset => Err(invalid(format!("Invalid unset value for column {column}"))),
    }
}

/// The values of an IN relation (a literal list, or one bound list).
fn in_values(rhs: &ast::RelationRhs, ty: &CqlType, column: &str, binds: Binds) -> Result<Vec<Vec<u8>>> {
    match rhs {
        ast::RelationRhs::List(items) => items.iter().map(|t| value(t, ty, column, binds)).collect(),
        ast::RelationRhs::Term(t) => {
            let list = CqlType::List(Box::new(ty.clone()));
            match eval_bytes(t, &list, &format!("in({column})"), binds)? {
                Evaluated::Bytes(b) => split_collection(&b),
                Evaluated::Null => Err(invalid(format!(
                    "Invalid null value for IN restriction on {column}"
                ))),
                Evaluated::Unset => Err(invalid(format!("Invalid unset value for column {column}"))),
            }
        }
    }
}

/// Splits a serialized list (or set) into its element values.
fn split_collection(b: &[u8]) -> Result<Vec<Vec<u8>>> {
    let bad = || invalid("Invalid list value for IN");
    let read_i32 = |pos: usize| -> Result<i32> {
        let s = b.get(pos..pos + 4).ok_or_else(bad)?;
        Ok(i32::from_be_bytes([s[0], s[1], s[2], s[3]]))
    };
    let n = read_i32(0)?;
    let mut pos = 4;
    let mut out = Vec::new();
    for _ in 0..n.max(0) {
        let len = usize::try_from(read_i32(pos)?).map_err(|_| bad())?;
        pos += 4;
        out.push(b.get(pos..pos + len).ok_or_else(bad)?.to_vec());
        pos += len;
    }
    Ok(out)
}

/// The component values of a tuple term for the columns of a multi-column relation.
fn tuple_values(term: &ast::Term, types: &[CqlType], names: &[String], binds: Binds) -> Result<Vec<Vec<u8>>> {
    match term {
        ast::Term::Tuple(items) => {
            if items.len() != types.len() {
                return Err(invalid(format!(
                    "Expected {} elements in value tuple, but got {}: {}",
                    types.len(),
                    items.len(),
                    crate::selection::term_text(term)
                )));
            }
            items
                .iter()
                .zip(types)
                .zip(names)
                .map(|((t, ty), n)| value(t, ty, n, binds))
                .collect()
        }
        other => {
            let tuple = CqlType::Tuple(types.to_vec());
            let label = format!("({})", names.join(","));
            let bytes = value(other, &tuple, &label, binds)?;
            match mica_cql_types::deserialize(&tuple, &bytes) {
                Ok(mica_cql_types::CqlValue::Tuple(items)) => items
                    .into_iter()
                    .zip(types)
                    .map(|(v, ty)| match v {
                        Some(v) => mica_cql_types::to_bytes(&v, ty).map_err(|e| invalid(e.to_string())),
                        None => Err(invalid(format!(
                            "Invalid null value in condition for column {label}"
                        ))),
                    })
                    .collect(),
                _ => Err(invalid(format!("Invalid tuple value for {label}"))),
            }
        }
    }
}

/// The token an expression denotes: a bigint, or `token(values...)` over the partition key types.
fn token_value(term: &ast::Term, table: &TableDef, binds: Binds) -> Result<i64> {
    if let ast::Term::FunctionCall { name, args } = term
        && name.name == "token"
        && name.keyspace.as_deref().is_none_or(|k| k == "system")
    {
        let pk: Vec<_> = table.partition_key().collect();
        if args.len() != pk.len() {
            return Err(invalid(format!(
                "Invalid number of arguments in call to function system.token: {} required but {} provided",
                pk.len(),
                args.len()
            )));
        }
        let parts = args
            .iter()
            .zip(&pk)
            .map(|(a, c)| value(a, &c.typ, &c.name, binds))
            .collect::<Result<Vec<_>>>()?;
        let key = partition_key_bytes(&parts.iter().map(Vec::as_slice).collect::<Vec<_>>())?;
        return Ok(mica_types::Token::for_key(&key).0);
    }
    let bytes = value(term, &CqlType::Bigint, "partition key token", binds)?;
    let arr: [u8; 8] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| invalid("Invalid token value: expected 8 bytes"))?;
    Ok(i64::from_be_bytes(arr))
}

fn relation_text(r: &ast::Relation) -> String {
    let lhs = match &r.lhs {
        ast::RelationLhs::Column(c) => c.clone(),
        ast::RelationLhs::Element { column, key } => {
            format!("{column}[{}]", crate::selection::term_text(key))
        }
        ast::RelationLhs::Field { column, field } => format!("{column}.{field}"),
        ast::RelationLhs::Tuple(cols) => format!("({})", cols.join(", ")),
        ast::RelationLhs::Token(cols) => format!("token({})", cols.join(", ")),
        ast::RelationLhs::IndexExpression(name) => format!("expr({name})"),
    };
    let rhs = match &r.rhs {
        ast::RelationRhs::Term(t) => crate::selection::term_text(t),
        ast::RelationRhs::List(items) => format!(
            "({})",
            items
                .iter()
                .map(crate::selection::term_text)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    format!("{lhs} {} {rhs}", r.op.as_str())
}

/// Per partition key column: its `=`/`IN` values, or that it is restricted otherwise.
#[derive(Clone, Debug, Default)]
struct PkRestriction {
    values: Option<Vec<Vec<u8>>>,
    is_in: bool,
    other: bool,
}

/// Analyses the WHERE clause of a SELECT on `table`.
pub(crate) fn analyze(
    table: &TableDef,
    relations: &[ast::Relation],
    binds: Binds,
    allow_filtering: bool,
) -> Result<Restrictions> {
    let mut out = Restrictions::default();
    let pk_len = table.partition_key_len();
    let clustering: Vec<&mica_schema::ColumnDef> = table.clustering().collect();
    let mut pk: Vec<PkRestriction> = vec![PkRestriction::default(); pk_len];
    let mut ck: Vec<ClusteringRestriction> = Vec::new();
    let mut regular_count = 0usize;
    let mut filters: Vec<(RowFilter, Origin)> = Vec::new();
    let column_index = |name: &str| {
        table
            .columns
            .iter()
            .position(|c| c.name == name)
            .ok_or_else(|| invalid(format!("Undefined column name {name}")))
    };

    for r in relations {
        if out.index.is_none()
            && !table.is_virtual
            && let Some(ix) = crate::index::restriction_for(table, r, binds)?
        {
            let on_key = table.columns[ix.column].is_primary_key();
            out.index = Some(ix);
            // A regular column answered by the index needs no filter (and no ALLOW FILTERING).
            if !on_key {
                continue;
            }
        }
        match &r.lhs {
            ast::RelationLhs::Column(name) => {
                let i = column_index(name)?;
                let c = &table.columns[i];
                match r.op {
                    ast::Operator::Neq => {
                        return Err(invalid(format!(
                            "Unsupported \"!=\" relation: {}",
                            relation_text(r)
                        )));
                    }
                    ast::Operator::IsNotNull => {
                        return Err(invalid(format!("Unsupported restriction: {}", relation_text(r))));
                    }
                    ast::Operator::Like => {
                        return Err(invalid(format!(
                            "LIKE restriction is only supported on properly indexed columns. {} is not valid.",
                            relation_text(r)
                        )));
                    }
                    ast::Operator::NotIn | ast::Operator::NotContains | ast::Operator::NotContainsKey => {
                        return Err(invalid(format!(
                            "{} restrictions are not supported",
                            r.op.as_str()
                        )));
                    }
                    _ => {}
                }
                let contains = matches!(r.op, ast::Operator::Contains | ast::Operator::ContainsKey);
                if contains {
                    let key = r.op == ast::Operator::ContainsKey;
                    let elem = match (c.typ.unfrozen(), key) {
                        (CqlType::Map(k, _), true) => k.as_ref().clone(),
                        (CqlType::Map(_, v), false) => v.as_ref().clone(),
                        (CqlType::List(e) | CqlType::Set(e), false) => e.as_ref().clone(),
                        (_, true) => {
                            return Err(invalid(format!(
                                "Cannot use CONTAINS KEY on non-map column {name}"
                            )));
                        }
                        _ => {
                            return Err(invalid(format!(
                                "Cannot use CONTAINS on non-collection column {name}"
                            )));
                        }
                    };
                    let ast::RelationRhs::Term(t) = &r.rhs else {
                        return Err(invalid(format!("Invalid restriction on {name}")));
                    };
                    let v = match eval_bytes(t, &elem, name, binds)? {
                        Evaluated::Bytes(b) => b,
                        Evaluated::Null => {
                            return Err(invalid(format!("Unsupported null value for column {name}")));
                        }
                        Evaluated::Unset => {
                            return Err(invalid(format!("Unsupported unset value for column {name}")));
                        }
                    };
                    filters.push((
                        RowFilter::Contains {
                            column: i,
                            key,
                            value: v,
                            typ: c.typ.clone(),
                        },
                        Origin::Other,
                    ));
                    match c.kind {
                        ColumnKind::PartitionKey => pk[c.position.max(0) as usize].other = true,
                        ColumnKind::Clustering => {
                            let p = c.position.max(0) as usize;
                            add_clustering(
                                &mut ck,
                                ClusteringRestriction {
                                    first: p,
                                    last: p,
                                    kind: CKind::Contains,
                                },
                                &clustering,
                                allow_filtering,
                            )?;
                        }
                        _ => regular_count += 1,
                    }
                    continue;
                }
                if c.typ.is_multicell() {
                    return Err(invalid(format!(
                        "Collection column '{name}' ({}) cannot be restricted by a '{}' relation",
                        c.typ.cql_name(),
                        r.op.as_str()
                    )));
                }
                let slice = matches!(
                    r.op,
                    ast::Operator::Lt | ast::Operator::Le | ast::Operator::Gt | ast::Operator::Ge
                );
                if slice && c.typ.any_nested(&|t| matches!(t, CqlType::Duration)) {
                    return Err(invalid(
                        "Slice restrictions are not supported on duration columns",
                    ));
                }
                let values = if r.op == ast::Operator::In {
                    in_values(&r.rhs, &c.typ, name, binds)?
                } else {
                    match &r.rhs {
                        ast::RelationRhs::Term(t) => vec![value(t, &c.typ, name, binds)?],
                        ast::RelationRhs::List(_) => {
                            return Err(invalid(format!("Invalid restriction on {name}")));
                        }
                    }
                };
                if r.op == ast::Operator::In && values.is_empty() {
                    out.empty = true;
                }
                match c.kind {
                    ColumnKind::PartitionKey => {
                        let p = &mut pk[c.position.max(0) as usize];
                        if p.values.is_some() && !p.is_in {
                            return Err(invalid(format!(
                                "{name} cannot be restricted by more than one relation if it includes an Equal"
                            )));
                        }
                        if p.is_in {
                            return Err(invalid(format!(
                                "{name} cannot be restricted by more than one relation if it includes a IN"
                            )));
                        }
                        match r.op {
                            ast::Operator::Eq | ast::Operator::In => {
                                if p.other {
                                    return Err(invalid(format!(
                                        "{name} cannot be restricted by more than one relation if it includes {}",
                                        if r.op == ast::Operator::In {
                                            "a IN"
                                        } else {
                                            "an Equal"
                                        }
                                    )));
                                }
                                p.is_in = r.op == ast::Operator::In;
                                if p.is_in {
                                    out.partition_in = true;
                                }
                                p.values = Some(values.clone());
                            }
                            _ => p.other = true,
                        }
                    }
                    ColumnKind::Clustering => {
                        let p = c.position.max(0) as usize;
                        let kind = match r.op {
                            ast::Operator::Eq => CKind::Values(vec![values.clone()], false),
                            ast::Operator::In => {
                                CKind::Values(values.iter().map(|v| vec![v.clone()]).collect(), true)
                            }
                            op => slice_kind(op, vec![values[0].clone()], false),
                        };
                        merge_clustering(
                            &mut ck,
                            ClusteringRestriction {
                                first: p,
                                last: p,
                                kind,
                            },
                            &clustering,
                            allow_filtering,
                            r,
                        )?;
                    }
                    _ => regular_count += 1,
                }
                if r.op == ast::Operator::Eq {
                    out.eq_columns.push(i);
                }
                let origin = match c.kind {
                    ColumnKind::PartitionKey => Origin::PartitionKey,
                    ColumnKind::Clustering => Origin::Clustering(c.position.max(0) as usize),
                    _ => Origin::Other,
                };
                filters.push((
                    RowFilter::Compare {
                        column: i,
                        op: r.op,
                        values,
                        typ: c.typ.clone(),
                    },
                    origin,
                ));
            }
            ast::RelationLhs::Element { column, key } => {
                let i = column_index(column)?;
                let c = &table.columns[i];
                let CqlType::Map(kt, vt) = c.typ.unfrozen() else {
                    return Err(invalid(format!("Column \"{column}\" cannot be used as a map")));
                };
                if r.op != ast::Operator::Eq {
                    return Err(invalid("Only EQ relations are supported on map entries"));
                }
                let k = match eval_bytes(key, kt, column, binds)? {
                    Evaluated::Bytes(b) => b,
                    _ => return Err(invalid(format!("Unsupported null map key for column {column}"))),
                };
                let ast::RelationRhs::Term(t) = &r.rhs else {
                    return Err(invalid(format!("Invalid restriction on {column}")));
                };
                let v = match eval_bytes(t, vt, column, binds)? {
                    Evaluated::Bytes(b) => b,
                    _ => return Err(invalid(format!("Unsupported null map value for column {column}"))),
                };
                filters.push((
                    RowFilter::Entry {
                        column: i,
                        key: k,
                        value: v,
                        typ: c.typ.clone(),
                    },
                    Origin::Other,
                ));
                regular_count += 1;
            }
            ast::RelationLhs::Tuple(names) => {
                let mut idx = Vec::with_capacity(names.len());
                for n in names {
                    let i = column_index(n)?;
                    if table.columns[i].kind != ColumnKind::Clustering {
                        return Err(invalid(format!(
                            "Multi-column relations can only be applied to clustering columns but was applied to: {n}"
                        )));
                    }
                    idx.push(i);
                }
                let positions: Vec<usize> = idx
                    .iter()
                    .map(|&i| table.columns[i].position.max(0) as usize)
                    .collect();
                if positions.windows(2).any(|w| w[1] != w[0] + 1) {
                    return Err(invalid(format!(
                        "Clustering columns must appear in the PRIMARY KEY order in multi-column relations: {}",
                        relation_text(r)
                    )));
                }
                let types: Vec<CqlType> = idx.iter().map(|&i| table.columns[i].typ.clone()).collect();
                let tuples: Vec<Vec<Vec<u8>>> = match (r.op, &r.rhs) {
                    (ast::Operator::In, ast::RelationRhs::List(items)) => items
                        .iter()
                        .map(|t| tuple_values(t, &types, names, binds))
                        .collect::<Result<_>>()?,
                    (ast::Operator::In, ast::RelationRhs::Term(t)) => {
                        let tuple = CqlType::Tuple(types.clone());
                        let list = CqlType::List(Box::new(tuple.clone()));
                        let label = format!("in(({}))", names.join(","));
                        let bytes = value(t, &list, &label, binds)?;
                        let mut tuples = Vec::new();
                        for item in split_collection(&bytes)? {
                            let Ok(mica_cql_types::CqlValue::Tuple(items)) =
                                mica_cql_types::deserialize(&tuple, &item)
                            else {
                                return Err(invalid(format!("Invalid tuple value for {label}")));
                            };
                            tuples.push(
                                items
                                    .into_iter()
                                    .zip(&types)
                                    .map(|(v, ty)| {
                                        v.ok_or_else(|| {
                                            invalid(format!(
                                                "Invalid null value in condition for column {label}"
                                            ))
                                        })
                                        .and_then(|v| {
                                            mica_cql_types::to_bytes(&v, ty)
                                                .map_err(|e| invalid(e.to_string()))
                                        })
                                    })
                                    .collect::<Result<_>>()?,
                            );
                        }
                        tuples
                    }
                    (
                        ast::Operator::Eq
                        | ast::Operator::Lt
                        | ast::Operator::Le
                        | ast::Operator::Gt
                        | ast::Operator::Ge,
                        ast::RelationRhs::Term(t),
                    ) => vec![tuple_values(t, &types, names, binds)?],
                    _ => {
                        return Err(invalid(format!(
                            "Unsupported multi-column relation: {}",
                            relation_text(r)
                        )));
                    }
                };
                if tuples.is_empty() {
                    out.empty = true;
                }
                let kind = match r.op {
                    ast::Operator::Eq => CKind::Values(tuples.clone(), false),
                    ast::Operator::In => CKind::Values(tuples.clone(), true),
                    op => slice_kind(op, tuples[0].clone(), true),
                };
                merge_clustering(
                    &mut ck,
                    ClusteringRestriction {
                        first: positions[0],
                        last: positions[positions.len() - 1],
                        kind,
                    },
                    &clustering,
                    allow_filtering,
                    r,
                )?;
                if r.op == ast::Operator::Eq {
                    out.eq_columns.extend(&idx);
                }
                filters.push((
                    RowFilter::Tuple {
                        columns: idx,
                        types,
                        op: r.op,
                        tuples,
                    },
                    Origin::Clustering(positions[0]),
                ));
            }
            ast::RelationLhs::Token(cols) => {
                let pk_names: Vec<&str> = table.partition_key().map(|c| c.name.as_str()).collect();
                for c in cols {
                    column_index(c)?;
                }
                if cols.len() != pk_names.len() || cols.iter().any(|c| !pk_names.contains(&c.as_str())) {
                    return Err(invalid(
                        "The token() function must be applied to all partition key components or none of them",
                    ));
                }
                if cols.iter().map(String::as_str).ne(pk_names.iter().copied()) {
                    return Err(invalid(format!(
                        "The token function arguments must be in the partition key order: {}",
                        pk_names.join(", ")
                    )));
                }
                let ast::RelationRhs::Term(t) = &r.rhs else {
                    return Err(invalid(format!(
                        "{} cannot be used with the token function",
                        r.op.as_str()
                    )));
                };
                if !matches!(
                    r.op,
                    ast::Operator::Eq
                        | ast::Operator::Lt
                        | ast::Operator::Le
                        | ast::Operator::Gt
                        | ast::Operator::Ge
                ) {
                    return Err(invalid(format!(
                        "{} cannot be used with the token function",
                        r.op.as_str()
                    )));
                }
                out.tokens.push((r.op, token_value(t, table, binds)?));
            }
            ast::RelationLhs::Field { column, .. } => {
                return Err(invalid(format!(
                    "Field selections are not supported in the WHERE clause of a SELECT: {column}"
                )));
            }
            ast::RelationLhs::IndexExpression(name) => {
                return Err(invalid(format!("Unknown index {name}")));
            }
        }
    }

    // A secondary index stands in for ALLOW FILTERING on the primary key (but not on other columns).
    let relaxed = allow_filtering || out.index.is_some();
    // Partition key: every column by `=`/`IN` reads those partitions; anything else filters a range.
    let pk_restricted = pk.iter().any(|p| p.values.is_some() || p.other);
    let keyed = pk.iter().all(|p| p.values.is_some() && !p.other);
    if pk_restricted && !keyed && !relaxed {
        return Err(invalid(REQUIRES_ALLOW_FILTERING));
    }
    if keyed {
        out.keys = Some(partition_keys(table, &pk)?);
    }

    // Clustering columns: CONTAINS needs filtering, and so does any gap in the restricted prefix.
    if ck.iter().any(|r| matches!(r.kind, CKind::Contains)) && !relaxed {
        return Err(invalid(
            "Clustering columns can only be restricted with CONTAINS with a secondary index or filtering",
        ));
    }
    let mut next = 0;
    let mut needs_filtering = false;
    for r in &ck {
        if matches!(r.kind, CKind::Contains) || r.first > next {
            needs_filtering = true;
            break;
        }
        if !r.is_slice() {
            next = r.last + 1;
        }
    }
    if needs_filtering && !relaxed {
        let mut restricted: Vec<usize> = ck.iter().flat_map(|r| r.first..=r.last).collect();
        restricted.sort_unstable();
        restricted.dedup();
        for (i, &p) in restricted.iter().enumerate() {
            if p != i {
                return Err(invalid(format!(
                    "PRIMARY KEY column \"{}\" cannot be restricted as preceding column \"{}\" is not restricted",
                    clustering[p].name, clustering[i].name
                )));
            }
        }
    }
    if regular_count > 0 && !allow_filtering {
        return Err(invalid(REQUIRES_ALLOW_FILTERING));
    }
    // A range (or token range) query with clustering restrictions filters every partition.
    if !keyed && !ck.is_empty() && regular_count == 0 && !relaxed {
        return Err(invalid(REQUIRES_ALLOW_FILTERING));
    }
    out.has_clustering = !ck.is_empty();
    out.has_regular = regular_count > 0;
    let (slices, exact) = slices(&ck, &clustering)?;
    out.slices = slices;
    out.all_filters = filters.iter().map(|(f, _)| f.clone()).collect();
    out.filters = filters
        .into_iter()
        .filter(|(_, origin)| match origin {
            Origin::PartitionKey => !keyed,
            Origin::Clustering(first) => !exact.contains(first),
            Origin::Other => true,
        })
        .map(|(f, _)| f)
        .collect();
    Ok(out)
}

fn slice_kind(op: ast::Operator, values: Vec<Vec<u8>>, multi: bool) -> CKind {
    let inclusive = matches!(op, ast::Operator::Le | ast::Operator::Ge);
    match op {
        ast::Operator::Gt | ast::Operator::Ge => CKind::Slice {
            lower: Some((values, inclusive)),
            upper: None,
            multi,
        },
        _ => CKind::Slice {
            lower: None,
            upper: Some((values, inclusive)),
            multi,
        },
    }
}

/// Adds a clustering restriction, merging bounds of the same slice and applying Cassandra's checks in
/// the order it applies them (`ClusteringColumnRestrictions.mergeWith`).
fn merge_clustering(
    ck: &mut Vec<ClusteringRestriction>,
    new: ClusteringRestriction,
    clustering: &[&mica_schema::ColumnDef],
    allow_filtering: bool,
    relation: &ast::Relation,
) -> Result<()> {
    let name = |p: usize| clustering[p].name.as_str();
    if let Some(existing) = ck.iter_mut().find(|r| r.first <= new.last && new.first <= r.last) {
        let col = name(new.first.max(existing.first));
        match (&mut existing.kind, &new.kind) {
            (CKind::Values(_, false), _) | (_, CKind::Values(_, false)) => {
                return Err(invalid(format!(
                    "{col} cannot be restricted by more than one relation if it includes an Equal"
                )));
            }
            (CKind::Values(_, true), _) | (_, CKind::Values(_, true)) => {
                return Err(invalid(format!(
                    "{col} cannot be restricted by more than one relation if it includes a IN"
                )));
            }
            (
                CKind::Slice { lower, upper, multi },
                CKind::Slice {
                    lower: nl,
                    upper: nu,
                    multi: nm,
                },
            ) => {
                if *multi != *nm || existing.first != new.first || existing.last != new.last {
                    return Err(invalid(format!(
                        "Column \"{col}\" cannot be restricted by both a tuple notation inequality and a single column inequality ({})",
                        relation_text(relation)
                    )));
                }
                if nl.is_some() {
                    if lower.is_some() {
                        return Err(invalid(format!(
                            "More than one restriction was found for the start bound on {col}"
                        )));
                    }
                    *lower = nl.clone();
                }
                if nu.is_some() {
                    if upper.is_some() {
                        return Err(invalid(format!(
                            "More than one restriction was found for the end bound on {col}"
                        )));
                    }
                    *upper = nu.clone();
                }
                return Ok(());
            }
            (CKind::Contains, _) | (_, CKind::Contains) => {
                // CONTAINS combines with anything (it is always a filter).
            }
        }
    }
    add_clustering(ck, new, clustering, allow_filtering)
}

fn add_clustering(
    ck: &mut Vec<ClusteringRestriction>,
    new: ClusteringRestriction,
    clustering: &[&mica_schema::ColumnDef],
    allow_filtering: bool,
) -> Result<()> {
    if !allow_filtering && let Some(last) = ck.iter().max_by_key(|r| r.first) {
        if last.is_slice() && new.first > last.first {
            return Err(invalid(format!(
                "Clustering column \"{}\" cannot be restricted (preceding column \"{}\" is restricted by a non-EQ relation)",
                clustering[new.first].name, clustering[last.first].name
            )));
        }
        if new.first < last.first && new.is_slice() {
            let next = ck
                .iter()
                .map(|r| r.first)
                .filter(|&f| f > new.first)
                .min()
                .unwrap_or(last.first);
            return Err(invalid(format!(
                "PRIMARY KEY column \"{}\" cannot be restricted (preceding column \"{}\" is restricted by a non-EQ relation)",
                clustering[next].name, clustering[new.first].name
            )));
        }
    }
    let at = ck.iter().position(|r| r.first > new.first).unwrap_or(ck.len());
    ck.insert(at, new);
    Ok(())
}

/// The partition keys of a query restricting every partition key column by `=` or `IN`: the cartesian
/// product of each column's values, each column's values sorted by its type and deduplicated.
fn partition_keys(table: &TableDef, pk: &[PkRestriction]) -> Result<Vec<Vec<u8>>> {
    let mut combos: Vec<Vec<Vec<u8>>> = vec![Vec::new()];
    for (c, r) in table.partition_key().zip(pk) {
        let mut values = r.values.clone().unwrap_or_default();
        values.sort_by(|a, b| compare_serialized(&c.typ, a, b).unwrap_or(Ordering::Equal));
        values.dedup();
        if combos.len().saturating_mul(values.len()) > MAX_KEY_COMBINATIONS {
            return Err(invalid(format!(
                "IN restrictions on the partition key produce more than {MAX_KEY_COMBINATIONS} keys"
            )));
        }
        combos = combos
            .iter()
            .flat_map(|prefix| {
                values.iter().map(move |v| {
                    let mut p = prefix.clone();
                    p.push(v.clone());
                    p
                })
            })
            .collect();
    }
    combos
        .iter()
        .map(|parts| partition_key_bytes(&parts.iter().map(Vec::as_slice).collect::<Vec<_>>()))
        .collect()
}

/// Clustering slices for storage from the restricted prefix: `=`/`IN` prefixes, then at most one slice.
/// Restrictions after a gap or after the slice are left to the row filters. The slices may admit more
/// rows than the relations, never fewer; the second result lists the clustering restrictions (by first
/// position) the slices enforce exactly, whose filters are then unnecessary.
type Slices = Vec<(ClusteringBound, ClusteringBound)>;

fn slices(
    ck: &[ClusteringRestriction],
    clustering: &[&mica_schema::ColumnDef],
) -> Result<(Slices, Vec<usize>)> {
    let enc = |values: &[Vec<u8>]| -> Result<Vec<u8>> {
        let comps: Vec<(&CqlType, &[u8], bool)> = values
            .iter()
            .zip(clustering)
            .map(|(v, c)| (&c.typ, v.as_slice(), c.descending))
            .collect();
        encode_clustering_serialized(&comps).map_err(|e| invalid(e.to_string()))
    };
    let mut prefixes: Vec<Vec<Vec<u8>>> = vec![Vec::new()];
    let mut slice: Option<&ClusteringRestriction> = None;
    let mut exact = Vec::new();
    let mut next = 0;
    for r in ck {
        if r.first != next {
            break;
        }
        match &r.kind {
            CKind::Values(tuples, _) => {
                if prefixes.len().saturating_mul(tuples.len()) > MAX_KEY_COMBINATIONS {
                    return Err(invalid(format!(
                        "IN restrictions on clustering columns produce more than {MAX_KEY_COMBINATIONS} combinations"
                    )));
                }
                prefixes = prefixes
                    .iter()
                    .flat_map(|p| {
                        tuples.iter().map(move |t| {
                            let mut p = p.clone();
                            p.extend(t.iter().cloned());
                            p
                        })
                    })
                    .collect();
                exact.push(r.first);
                next = r.last + 1;
            }
            CKind::Slice { multi, .. } => {
                let cols = &clustering[r.first..=r.last];
                if !multi || cols.iter().all(|c| c.descending == cols[0].descending) {
                    exact.push(r.first);
                }
                slice = Some(r);
                break;
            }
            CKind::Contains => break,
        }
    }
    if prefixes.len() == 1 && prefixes[0].is_empty() && slice.is_none() {
        return Ok((Vec::new(), exact));
    }
    let mut out = Vec::with_capacity(prefixes.len());
    for p in &prefixes {
        let pfx = enc(p)?;
        // The whole prefix: a prefix bound includes every row starting with it, at either end.
        let whole = || -> ClusteringBound {
            if p.is_empty() {
                Bound::Unbounded
            } else {
                Bound::Included(pfx.clone())
            }
        };
        let Some(s) = slice else {
            out.push((Bound::Included(pfx.clone()), Bound::Included(pfx)));
            continue;
        };
        let CKind::Slice { lower, upper, multi } = &s.kind else {
            continue;
        };
        let cols = &clustering[s.first..=s.last];
        // A tuple bound is exact only when its columns share one direction; otherwise bound on the
        // first column alone (inclusively) and let the filter decide.
        let uniform = cols.iter().all(|c| c.descending == cols[0].descending);
        let bound = |b: &Option<(Vec<Vec<u8>>, bool)>| -> Result<Option<(Vec<u8>, bool)>> {
            let Some((values, inclusive)) = b else {
                return Ok(None);
            };
            let mut full = p.clone();
            if *multi && !uniform {
                full.push(values[0].clone());
                Ok(Some((enc(&full)?, true)))
            } else {
                full.extend(values.iter().cloned());
                Ok(Some((enc(&full)?, *inclusive)))
            }
        };
        let (lo, hi) = (bound(lower)?, bound(upper)?);
        let descending = cols[0].descending;
        let (first, second) = if descending { (hi, lo) } else { (lo, hi) };
        let to_bound = |b: Option<(Vec<u8>, bool)>| match b {
            Some((k, true)) => Bound::Included(k),
            Some((k, false)) => Bound::Excluded(k),
            None => whole(),
        };
        out.push((to_bound(first), to_bound(second)));
    }
    out.sort_by(|a, b| bound_key(&a.0).cmp(&bound_key(&b.0)));
    out.dedup();
    Ok((out, exact))
}

fn bound_key(b: &ClusteringBound) -> Option<&[u8]> {
    match b {
        Bound::Included(k) | Bound::Excluded(k) => Some(k.as_slice()),
        Bound::Unbounded => None,
    }
}
