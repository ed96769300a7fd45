//! Conditional writes (INSERT ... IF NOT EXISTS, UPDATE/DELETE ... IF, conditional BATCH) on one
//! node: validate the request as Cassandra does, lock the partition, read the rows the conditions
//! look at, evaluate them (`lwt.rs`), write with a fresh LWT timestamp if they hold, and answer with
//! Cassandra's `[applied]` result set.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use bytes::Bytes;
use mica_cql_protocol::{ColumnSpec, Consistency, RowsMetadata};
use mica_cql_syntax as ast;
use mica_cql_types::{CqlType, CqlValue, decode_clustering_serialized, to_bytes};
use mica_schema::{ColumnKind, TableDef};
use mica_storage::{Clustering, Durable, PartitionKey, ReadSelection, TableId};

use crate::collections::StoragePrefetch;
use crate::engine::{ClientState, QueryEngine, QueryResult};
use crate::error::{QueryError, Result, invalid};
use crate::lwt::{Access, ColumnCondition, CurrentRow, Outcome, RowConditions, evaluate_conditions};
use crate::values::{Binds, Evaluated, eval_bytes, eval_value, split_partition_key};

/// The timestamp of the probe mutation a conditional INSERT is built with to learn its key; the
/// real mutation is built from the same evaluated values with the LWT timestamp under the lock.
const PROBE_TIMESTAMP: i64 = 0;

/// Whether a statement has an IF clause and must run as a lightweight transaction.
pub(crate) fn is_conditional(kind: &ast::StatementKind) -> bool {
    match kind {
        ast::StatementKind::Insert(i) => i.if_not_exists,
        ast::StatementKind::Update(u) => u.conditions.is_some(),
        ast::StatementKind::Delete(d) => d.conditions.is_some(),
        ast::StatementKind::Batch(b) => b.statements.iter().any(|(_, c)| child_is_conditional(c)),
        _ => false,
    }
}

fn child_is_conditional(child: &ast::BatchChild) -> bool {
    match child {
        ast::BatchChild::Insert(i) => i.if_not_exists,
        ast::BatchChild::Update(u) => u.conditions.is_some(),
        ast::BatchChild::Delete(d) => d.conditions.is_some(),
    }
}

/// One modification statement of a CAS request, with the client state and values it runs with.
pub(crate) struct CasStatement<'a> {
    pub statement: CasKind,
    pub state: ClientState,
    pub binds: Binds<'a>,
}

/// The modification statements allowed in a CAS request.
pub(crate) enum CasKind {
    Insert(ast::Insert),
    Update(ast::Update),
    Delete(ast::Delete),
}

impl CasKind {
    /// The statement of a top-level kind or batch child, if it is a modification.
    pub(crate) fn from_kind(kind: &ast::StatementKind) -> Option<CasKind> {
        Some(match kind {
            ast::StatementKind::Insert(i) => CasKind::Insert((**i).clone()),
            ast::StatementKind::Update(u) => CasKind::Update((**u).clone()),
            ast::StatementKind::Delete(d) => CasKind::Delete((**d).clone()),
            _ => return None,
        })
    }

    pub(crate) fn from_child(child: &ast::BatchChild) -> CasKind {
        match child {
            ast::BatchChild::Insert(i) => CasKind::Insert(i.clone()),
            ast::BatchChild::Update(u) => CasKind::Update(u.clone()),
            ast::BatchChild::Delete(d) => CasKind::Delete(d.clone()),
        }
    }

    fn table(&self) -> &ast::QualifiedName {
        match self {
            CasKind::Insert(i) => &i.table,
            CasKind::Update(u) => &u.table,
            CasKind::Delete(d) => &d.table,
        }
    }

    fn using(&self) -> &ast::Using {
        match self {
            CasKind::Insert(i) => &i.using,
            CasKind::Update(u) => &u.using,
            CasKind::Delete(d) => &d.using,
        }
    }

    fn where_clause(&self) -> &[ast::Relation] {
        match self {
            CasKind::Insert(_) => &[],
            CasKind::Update(u) => &u.where_clause,
            CasKind::Delete(d) => &d.where_clause,
        }
    }

    /// `updates` or `deletions`, as Cassandra words its errors.
    fn noun(&self) -> &'static str {
        match self {
            CasKind::Delete(_) => "deletions",
            _ => "updates",
        }
    }
}

/// The consistency levels of a conditional request.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CasOptions {
    pub consistency: Consistency,
    pub serial_consistency: Option<Consistency>,
}

/// Which row of the partition a condition is checked against.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Target {
    Static,
    Row(Vec<u8>),
    /// The partition as a whole (a partition or range deletion with IF EXISTS).
    Partition,
}

/// How a statement's mutations are built under the lock: an INSERT from its already evaluated
/// values, an UPDATE/DELETE from the statement (it may read the row first).
enum Write<'a> {
    Insert {
        table: Arc<TableDef>,
        values: Vec<(String, Evaluated)>,
        using: ast::Using,
        binds: Binds<'a>,
    },
    Deferred(Box<CasStatement<'a>>, Arc<TableDef>),
}

/// A validated CAS request, ready to run under the partition lock.
struct Plan<'a> {
    table: Arc<TableDef>,
    key: Vec<u8>,
    conditions: BTreeMap<Target, RowConditions>,
    /// IF [NOT] EXISTS somewhere: a failed check returns every column.
    wildcard: bool,
    /// Ids of the columns with conditions, in the order Cassandra reports them.
    condition_columns: Vec<u32>,
    read_static: bool,
    writes: Vec<Write<'a>>,
    is_batch: bool,
}

impl QueryEngine {
    /// Runs conditional statements (one, or the children of a batch) as one lightweight transaction.
    pub(crate) async fn execute_cas(
        &self,
        statements: Vec<CasStatement<'_>>,
        is_batch: bool,
        batch_using: Option<&ast::Using>,
        options: CasOptions,
    ) -> Result<QueryResult> {
        check_consistency(options)?;
        if batch_using.is_some_and(|u| u.timestamp.is_some()) {
            return Err(invalid("Cannot provide custom timestamp for conditional BATCH"));
        }
        let plan = self.plan_cas(statements, is_batch)?;
        if let Some(data) = self.data_plane(&plan.table.keyspace) {
            // In a cluster the transaction runs Paxos across the partition's replicas.
            let now = mica_types::now_seconds();
            let selections = cas_selections(&plan);
            let key = PartitionKey::new(plan.key.clone());
            let table = TableId(plan.table.id);
            let serial = options.serial_consistency.unwrap_or(Consistency::Serial);
            let plan_ref = &plan;
            let decide: crate::data_plane::CasDecide<'_> = Box::new(move |views, timestamp| {
                let current = current_from(plan_ref, views);
                self.decide_cas(plan_ref, &current, timestamp, now)
            });
            return data
                .cas(table, key, serial, options.consistency, selections, now, decide)
                .await;
        }
        let (result, durable) = self.run_cas(plan)?;
        if let Some(durable) = durable {
            durable.await?;
        }
        Ok(result)
    }

    fn plan_cas<'a>(&self, statements: Vec<CasStatement<'a>>, is_batch: bool) -> Result<Plan<'a>> {
        let now = mica_types::now_seconds();
        let mut table: Option<Arc<TableDef>> = None;
        let mut key: Option<Vec<u8>> = None;
        let mut conditions = BTreeMap::new();
        let mut wildcard = false;
        let mut condition_columns = Vec::new();
        let mut read_static = false;
        let mut writes = Vec::with_capacity(statements.len());
        for st in statements {
            let t = self.resolve_table(&st.state, st.statement.table())?;
            if t.is_virtual {
                return Err(invalid("Conditional updates are not supported by virtual tables"));
            }
            if t.is_counter {
                return Err(invalid("Conditional updates are not supported on counter tables"));
            }
            if st.statement.using().timestamp.is_some() {
                return Err(invalid(if is_batch {
                    "Cannot provide custom timestamp for conditional BATCH"
                } else {
                    "Cannot provide custom timestamp for conditional updates"
                }));
            }
            if table.as_ref().is_some_and(|prev| prev.id != t.id) {
                return Err(invalid("Batch with conditions cannot span multiple tables"));
            }
            check_no_in(&t, &st.statement, is_batch)?;
            let binds = st.binds;
            let (exists, relations) = match &st.statement {
                CasKind::Insert(i) => (i.if_not_exists.then_some(RowConditions::NotExists), Vec::new()),
                CasKind::Update(u) => split_conditions(u.conditions.as_ref()),
                CasKind::Delete(d) => split_conditions(d.conditions.as_ref()),
            };
            let (pk, target, updates_static, write) = match &st.statement {
                CasKind::Insert(ins) => {
                    let values: Vec<(String, Evaluated)> = crate::modify::insert_values(&t, ins, binds)?
                        .into_iter()
                        .map(|(n, v)| (n.to_string(), v))
                        .collect();
                    let wp = crate::modify::write_params(&ins.using, &t, binds, PROBE_TIMESTAMP, now)?;
                    let mutations = crate::modify::insert_assigned(&t, borrowed(&values), &wp)?;
                    let base = mutations
                        .iter()
                        .find(|m| m.table == TableId(t.id))
                        .ok_or_else(|| QueryError::Server("INSERT produced no mutation".into()))?;
                    let ck = base
                        .rows
                        .iter()
                        .find_map(|r| match &r.clustering {
                            Clustering::Row(ck) => Some(ck.clone()),
                            Clustering::Static => None,
                        })
                        .ok_or_else(|| QueryError::Server("INSERT produced no row".into()))?;
                    let updates_static = base.rows.iter().any(|r| r.clustering == Clustering::Static);
                    (
                        base.key.key.clone(),
                        Target::Row(ck),
                        updates_static,
                        Write::Insert {
                            table: t.clone(),
                            values,
                            using: ins.using.clone(),
                            binds,
                        },
                    )
                }
                CasKind::Update(upd) => {
                    let keys = crate::modify::keys_from_where(&t, &upd.where_clause, binds)?;
                    let statics = upd.assignments.iter().any(|a| is_static(&t, a.column()));
                    let target = if keys.clustering_columns == t.clustering_len() {
                        Target::Row(keys.clustering[0].clone())
                    } else if upd.assignments.iter().all(|a| is_static(&t, a.column())) {
                        Target::Static
                    } else {
                        return Err(invalid(format!(
                            "Some clustering keys are missing: {}",
                            t.clustering()
                                .skip(keys.clustering_columns)
                                .map(|c| c.name.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        )));
                    };
                    let pk = single_key(keys.partitions)?;
                    (pk, target, statics, Write::Deferred(Box::new(st), t.clone()))
                }
                CasKind::Delete(del) => {
                    let keys = crate::modify::keys_from_where(&t, &del.where_clause, binds)?;
                    let statics = del.columns.iter().any(|c| is_static(&t, c.column()));
                    let only_static =
                        !del.columns.is_empty() && del.columns.iter().all(|c| is_static(&t, c.column()));
                    let target = if keys.clustering_columns == t.clustering_len() {
                        Target::Row(keys.clustering[0].clone())
                    } else if only_static {
                        Target::Static
                    } else if del.columns.is_empty() {
                        Target::Partition
                    } else {
                        return Err(invalid(
                            "DELETE statements must restrict all PRIMARY KEY columns with equality relations in order to delete non static columns",
                        ));
                    };
                    let pk = single_key(keys.partitions)?;
                    (
                        pk,
                        target,
                        statics || del.columns.is_empty(),
                        Write::Deferred(Box::new(st), t.clone()),
                    )
                }
            };
            if key.as_ref().is_some_and(|k| *k != pk) {
                return Err(invalid("Batch with conditions cannot span multiple partitions"));
            }
            read_static |= updates_static && t.has_static();
            if let Some(cond) = exists {
                wildcard = true;
                add_row_conditions(&mut conditions, target.clone(), cond)?;
            }
            if !relations.is_empty() {
                let mut regular = Vec::new();
                let mut statics = Vec::new();
                for r in &relations {
                    let cond = bind_condition(&t, r, binds)?;
                    if cond.column.kind == ColumnKind::Static {
                        statics.push(cond);
                    } else {
                        regular.push(cond);
                    }
                }
                for c in regular.iter().chain(&statics) {
                    if !condition_columns.contains(&c.column.id) {
                        condition_columns.push(c.column.id);
                    }
                }
                if !regular.is_empty() {
                    if !matches!(target, Target::Row(_)) {
                        return Err(invalid(
                            "DELETE statements must restrict all PRIMARY KEY columns with equality relations in order to use IF condition on non static columns",
                        ));
                    }
                    add_row_conditions(&mut conditions, target.clone(), RowConditions::Columns(regular))?;
                }
                if !statics.is_empty() {
                    read_static = true;
                    add_row_conditions(&mut conditions, Target::Static, RowConditions::Columns(statics))?;
                }
            }
            key = Some(pk);
            table = Some(t);
            writes.push(write);
        }
        let table = table.ok_or_else(|| invalid("A conditional BATCH needs at least one statement"))?;
        let key = key.ok_or_else(|| invalid("A conditional BATCH needs at least one statement"))?;
        Ok(Plan {
            table,
            key,
            conditions,
            wildcard,
            condition_columns,
            read_static,
            writes,
            is_batch,
        })
    }

    /// Reads, checks and (if the conditions hold) writes, all under the partition lock. Returns the
    /// result and, for an applied write, its durability handle (awaited by the caller, unlocked).
    fn run_cas(&self, plan: Plan<'_>) -> Result<(QueryResult, Option<Durable>)> {
        let now = mica_types::now_seconds();
        let guard = self.lwt.lock(plan.table.id, &plan.key);
        let table = TableId(plan.table.id);
        let pk = PartitionKey::new(plan.key.clone());
        let views = cas_selections(&plan)
            .iter()
            .map(|selection| self.storage.read_partition(table, &pk, selection, now))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let current = current_from(&plan, views);
        let (result, mutations) = self.decide_cas(&plan, &current, self.lwt.next_timestamp(), now)?;
        let Some(mutations) = mutations else {
            drop(guard);
            return Ok((result, None));
        };
        // Visible before the lock is released, so the next LWT on this partition reads this write.
        let durable = self.storage.apply_visible(mutations)?;
        drop(guard);
        Ok((result, Some(durable)))
    }

    /// Evaluates the conditions of `plan` against `current`: the not-applied result, or the applied
    /// result with the mutations written at `timestamp`.
    fn decide_cas(
        &self,
        plan: &Plan<'_>,
        current: &Current,
        timestamp: i64,
        now: i64,
    ) -> Result<(QueryResult, Option<Vec<mica_storage::Mutation>>)> {
        for (target, conds) in &plan.conditions {
            let existing = match target {
                Target::Static => current.static_row.as_ref(),
                Target::Row(ck) => current.rows.get(ck),
                Target::Partition => current.partition_exists.then_some(&current.empty),
            };
            if let Outcome::NotApplied(row) = evaluate_conditions(existing, conds)? {
                tracing::debug!(table = %plan.table.name, ?target, exists = row.is_some(), "LWT conditions not met");
                return Ok((cas_result(plan, Some(current))?, None));
            }
        }
        let applied_result = cas_result(plan, None)?;
        let mut mutations = Vec::new();
        for write in &plan.writes {
            match write {
                Write::Insert {
                    table: t,
                    values,
                    using,
                    binds,
                } => {
                    let wp = crate::modify::write_params(using, t, *binds, timestamp, now)?;
                    mutations.extend(crate::modify::insert_assigned(t, borrowed(values), &wp)?);
                }
                Write::Deferred(st, t) => {
                    let prefetch = StoragePrefetch {
                        storage: &*self.storage,
                        table: TableId(t.id),
                        now_seconds: now,
                    };
                    let built = match &st.statement {
                        CasKind::Update(u) => {
                            let wp = crate::modify::write_params(&u.using, t, st.binds, timestamp, now)?;
                            crate::modify::update(t, u, st.binds, &wp, &prefetch)?
                        }
                        CasKind::Delete(d) => {
                            let wp = crate::modify::write_params(&d.using, t, st.binds, timestamp, now)?;
                            crate::modify::delete(t, d, st.binds, &wp, &prefetch)?
                        }
                        CasKind::Insert(_) => Vec::new(),
                    };
                    mutations.extend(built);
                }
            }
        }
        Ok((applied_result, Some(mutations)))
    }
}

/// What a CAS request reads: the rows (and static row) its conditions look at, then, for partition-level
/// existence checks, one row of the partition.
fn cas_selections(plan: &Plan<'_>) -> Vec<ReadSelection> {
    let mut out = Vec::new();
    let slices: Vec<_> = plan
        .conditions
        .keys()
        .filter_map(|t| match t {
            Target::Row(ck) => Some((Bound::Included(ck.clone()), Bound::Included(ck.clone()))),
            _ => None,
        })
        .collect();
    let read_static = plan.read_static || plan.conditions.contains_key(&Target::Static);
    if !slices.is_empty() || read_static {
        out.push(ReadSelection {
            limit_rows: slices.is_empty().then_some(0),
            slices,
            include_static: read_static,
            ..ReadSelection::default()
        });
    }
    if plan.conditions.contains_key(&Target::Partition) {
        out.push(ReadSelection {
            include_static: true,
            limit_rows: Some(1),
            ..ReadSelection::default()
        });
    }
    out
}

/// What the conditions of `plan` see, from the partitions read with [`cas_selections`] (in that order).
fn current_from(plan: &Plan<'_>, views: Vec<Option<mica_storage::PartitionView>>) -> Current {
    let mut current = Current::default();
    let mut views = views.into_iter();
    let read_static = plan.read_static || plan.conditions.contains_key(&Target::Static);
    let has_rows = plan.conditions.keys().any(|t| matches!(t, Target::Row(_)));
    if (has_rows || read_static)
        && let Some(Some(view)) = views.next()
    {
        current.static_row = view
            .static_row
            .as_ref()
            .filter(|r| !r.cells.is_empty())
            .map(CurrentRow::from_view);
        for row in &view.rows {
            if let Clustering::Row(ck) = &row.clustering {
                current.rows.insert(ck.clone(), CurrentRow::from_view(row));
            }
        }
    }
    if plan.conditions.contains_key(&Target::Partition) {
        current.partition_exists = matches!(views.next(), Some(Some(_)));
    }
    current
}

/// What a CAS request read from its partition.
#[derive(Default)]
struct Current {
    static_row: Option<CurrentRow>,
    rows: BTreeMap<Vec<u8>, CurrentRow>,
    partition_exists: bool,
    /// Stands for "the partition exists" in partition-level existence checks.
    empty: CurrentRow,
}

fn check_consistency(options: CasOptions) -> Result<()> {
    if let Some(serial) = options.serial_consistency
        && !matches!(serial, Consistency::Serial | Consistency::LocalSerial)
    {
        return Err(invalid(
            "Invalid consistency for conditional update. Must be one of SERIAL or LOCAL_SERIAL",
        ));
    }
    if matches!(
        options.consistency,
        Consistency::Serial | Consistency::LocalSerial
    ) {
        return Err(invalid(format!(
            "{} is not supported as conditional update commit consistency. Use ANY if you mean \"make sure it is accepted but I don't care how many replicas commit it for non-SERIAL reads\"",
            options.consistency.name()
        )));
    }
    Ok(())
}

/// Rejects `IN` on key columns, which Cassandra does not support with conditions.
fn check_no_in(table: &TableDef, statement: &CasKind, is_batch: bool) -> Result<()> {
    for r in statement.where_clause() {
        let ast::RelationLhs::Column(name) = &r.lhs else {
            continue;
        };
        if r.op != ast::Operator::In {
            continue;
        }
        match table.column(name).map(|c| c.kind) {
            Some(ColumnKind::PartitionKey) if is_batch => {
                return Err(invalid(
                    "Batch with conditions cannot span multiple partitions (you cannot use IN on the partition key)",
                ));
            }
            Some(ColumnKind::PartitionKey) => {
                return Err(invalid(format!(
                    "IN on the partition key is not supported with conditional {}",
                    statement.noun()
                )));
            }
            Some(ColumnKind::Clustering) => {
                return Err(invalid(format!(
                    "IN on the clustering key columns is not supported with conditional {}",
                    statement.noun()
                )));
            }
            _ => {}
        }
    }
    Ok(())
}

fn single_key(partitions: Vec<Vec<u8>>) -> Result<Vec<u8>> {
    partitions
        .into_iter()
        .next()
        .ok_or_else(|| invalid("Some partition key parts are missing"))
}

fn is_static(table: &TableDef, column: &str) -> bool {
    table.column(column).is_some_and(|c| c.kind == ColumnKind::Static)
}

/// `IF EXISTS` becomes a row condition; column conditions are returned for binding.
fn split_conditions(conditions: Option<&ast::Conditions>) -> (Option<RowConditions>, Vec<ast::Relation>) {
    match conditions {
        Some(ast::Conditions::Exists) => (Some(RowConditions::Exists), Vec::new()),
        Some(ast::Conditions::Columns(rels)) => (None, rels.clone()),
        None => (None, Vec::new()),
    }
}

/// Adds conditions for a row, rejecting the combinations Cassandra rejects.
fn add_row_conditions(
    map: &mut BTreeMap<Target, RowConditions>,
    target: Target,
    cond: RowConditions,
) -> Result<()> {
    let Some(previous) = map.get_mut(&target) else {
        map.insert(target, cond);
        return Ok(());
    };
    match (previous, cond) {
        (RowConditions::NotExists, RowConditions::NotExists)
        | (RowConditions::Exists, RowConditions::Exists) => Ok(()),
        (RowConditions::NotExists, RowConditions::Exists)
        | (RowConditions::Exists, RowConditions::NotExists) => Err(invalid(
            "Cannot mix IF EXISTS and IF NOT EXISTS conditions for the same row",
        )),
        (RowConditions::NotExists, RowConditions::Columns(_))
        | (RowConditions::Columns(_), RowConditions::NotExists) => Err(invalid(
            "Cannot mix IF conditions and IF NOT EXISTS for the same row",
        )),
        (RowConditions::Exists, RowConditions::Columns(_))
        | (RowConditions::Columns(_), RowConditions::Exists) => {
            Err(invalid("Cannot mix IF conditions and IF EXISTS for the same row"))
        }
        (RowConditions::Columns(existing), RowConditions::Columns(more)) => {
            existing.extend(more);
            Ok(())
        }
    }
}

/// Binds one `IF` relation of a statement against the table's columns.
pub(crate) fn bind_condition(table: &TableDef, r: &ast::Relation, binds: Binds) -> Result<ColumnCondition> {
    enum Raw<'r> {
        Whole,
        Element(&'r ast::Term),
        Field(&'r str),
    }
    let (name, raw) = match &r.lhs {
        ast::RelationLhs::Column(n) => (n, Raw::Whole),
        ast::RelationLhs::Element { column, key } => (column, Raw::Element(key)),
        ast::RelationLhs::Field { column, field } => (column, Raw::Field(field)),
        _ => {
            return Err(invalid(
                "Invalid condition: only column, element and field conditions are supported",
            ));
        }
    };
    let c = table
        .column(name)
        .ok_or_else(|| invalid(format!("Undefined column name {name}")))?;
    if c.is_primary_key() {
        return Err(invalid(format!(
            "PRIMARY KEY column '{name}' cannot have IF conditions"
        )));
    }
    if !matches!(
        r.op,
        ast::Operator::Eq
            | ast::Operator::Neq
            | ast::Operator::Lt
            | ast::Operator::Le
            | ast::Operator::Gt
            | ast::Operator::Ge
            | ast::Operator::In
    ) {
        return Err(invalid(format!(
            "Unsupported operator {} in IF condition on {name}",
            r.op.as_str()
        )));
    }
    let (access, value_type) = match raw {
        Raw::Whole => (Access::Whole, c.typ.clone()),
        Raw::Element(key) => match c.typ.unfrozen() {
            CqlType::List(et) => match eval_bytes(key, &CqlType::Int, &format!("idx({name})"), binds)? {
                Evaluated::Bytes(b) => (Access::Element(b), (**et).clone()),
                _ => return Err(invalid("Invalid null value for list element access")),
            },
            CqlType::Map(kt, vt) => match eval_bytes(key, kt, &format!("key({name})"), binds)? {
                Evaluated::Bytes(b) => (Access::Element(b), (**vt).clone()),
                _ => return Err(invalid("Invalid null value for map element access")),
            },
            CqlType::Set(_) => {
                return Err(invalid(format!(
                    "Invalid element access syntax for set column {name}"
                )));
            }
            _ => {
                return Err(invalid(format!(
                    "Invalid element access syntax for non-collection column {name}"
                )));
            }
        },
        Raw::Field(field) => match c.typ.unfrozen() {
            CqlType::Udt(def) => match def.fields.iter().position(|(f, _)| f == field) {
                Some(i) => (Access::Field(i), def.fields[i].1.clone()),
                None => return Err(invalid(format!("Unknown field {field} for column {name}"))),
            },
            _ => {
                return Err(invalid(format!(
                    "Invalid field access syntax for non-UDT column {name}"
                )));
            }
        },
    };
    let is_slice = matches!(
        r.op,
        ast::Operator::Lt | ast::Operator::Le | ast::Operator::Gt | ast::Operator::Ge
    );
    if is_slice && value_type.any_nested(&|t| matches!(t, CqlType::Duration)) {
        return Err(invalid(format!(
            "Slice conditions ( {} ) are not supported on durations",
            r.op.as_str()
        )));
    }
    let receiver = c.name.as_str();
    let values = match (&r.op, &r.rhs) {
        (ast::Operator::In, ast::RelationRhs::List(items)) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                match eval_bytes(item, &value_type, receiver, binds)? {
                    Evaluated::Bytes(b) => out.push(Some(b)),
                    Evaluated::Null => out.push(None),
                    // Unset values are ignored inside an IN list, as in Cassandra.
                    Evaluated::Unset => {}
                }
            }
            out
        }
        (ast::Operator::In, ast::RelationRhs::Term(t)) => {
            if let ast::Term::Marker(m) = t
                && matches!(binds.values.get(m.index), Some(mica_cql_protocol::Value::Unset))
            {
                return Err(invalid("Invalid 'unset' value in condition"));
            }
            let list = CqlType::List(Box::new(value_type.clone()));
            match eval_value(t, &list, &format!("in({receiver})"), binds)? {
                Some(CqlValue::List(items)) => items
                    .iter()
                    .map(|v| {
                        to_bytes(v, &value_type)
                            .map(Some)
                            .map_err(|e| invalid(e.to_string()))
                    })
                    .collect::<Result<_>>()?,
                _ => return Err(invalid("Invalid null list in IN condition")),
            }
        }
        (_, ast::RelationRhs::Term(t)) => match eval_bytes(t, &value_type, receiver, binds)? {
            Evaluated::Bytes(b) => vec![Some(b)],
            Evaluated::Null => vec![None],
            Evaluated::Unset => return Err(invalid("Invalid 'unset' value in condition")),
        },
        (_, ast::RelationRhs::List(_)) => return Err(invalid("Invalid condition value list")),
    };
    Ok(ColumnCondition {
        column: c.clone(),
        access,
        op: r.op,
        values,
    })
}

/// Evaluated INSERT values with borrowed column names, as the INSERT builder takes them.
fn borrowed(values: &[(String, Evaluated)]) -> Vec<(&str, Evaluated)> {
    values.iter().map(|(n, v)| (n.as_str(), v.clone())).collect()
}

/// The `[applied]` result: `true` alone, or `false` followed by the current values of the rows the
/// conditions read (all columns after IF [NOT] EXISTS, else the conditioned columns; batches also
/// show the primary key), exactly as Cassandra builds it.
fn cas_result(plan: &Plan<'_>, failed: Option<&Current>) -> Result<QueryResult> {
    let t = &plan.table;
    let spec = |name: &str, typ: CqlType| ColumnSpec {
        keyspace: t.keyspace.clone(),
        table: t.name.clone(),
        name: name.to_string(),
        typ,
    };
    let applied_spec = spec("[applied]", CqlType::Boolean);
    let flag = |b: bool| Some(Bytes::from_static(if b { &[1] } else { &[0] }));
    let Some(current) = failed else {
        return Ok(QueryResult::Rows {
            metadata: RowsMetadata::new(vec![applied_spec]),
            rows: vec![vec![flag(true)]],
        });
    };
    let mut columns: Vec<usize> = Vec::new();
    if plan.wildcard {
        // Cassandra's select order: key columns, then static, then regular columns by name.
        let rank = |k: ColumnKind| match k {
            ColumnKind::PartitionKey => 0,
            ColumnKind::Clustering => 1,
            ColumnKind::Static => 2,
            ColumnKind::Regular => 3,
        };
        columns.extend(0..t.columns.len());
        columns.sort_by_key(|&i| rank(t.columns[i].kind));
    } else {
        if plan.is_batch {
            columns.extend(
                t.columns
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| c.is_primary_key())
                    .map(|(i, _)| i),
            );
        }
        for id in &plan.condition_columns {
            if let Some(i) = t.columns.iter().position(|c| c.id == *id)
                && !columns.contains(&i)
            {
                columns.push(i);
            }
        }
    }
    let pk = split_partition_key(&plan.key, t.partition_key_len())?;
    let clustering_types: Vec<(&CqlType, bool)> = t.clustering().map(|c| (&c.typ, c.descending)).collect();
    let row_values = |ck: Option<&[u8]>, row: Option<&CurrentRow>| -> Result<Vec<Option<Bytes>>> {
        let ck_parts = match ck {
            Some(ck) if !clustering_types.is_empty() => {
                decode_clustering_serialized(&clustering_types, ck)
                    .map_err(|e| QueryError::Server(format!("stored clustering key is unreadable: {e}")))?
            }
            _ => Vec::new(),
        };
        let mut out = vec![flag(false)];
        for &i in &columns {
            let c = &t.columns[i];
            let v = match c.kind {
                ColumnKind::PartitionKey => pk.get(c.position as usize).cloned(),
                ColumnKind::Clustering => ck_parts.get(c.position as usize).cloned(),
                ColumnKind::Static => current
                    .static_row
                    .as_ref()
                    .map(|r| r.value(c))
                    .transpose()?
                    .flatten(),
                ColumnKind::Regular => row.map(|r| r.value(c)).transpose()?.flatten(),
            };
            out.push(v.map(Bytes::from));
        }
        Ok(out)
    };
    let mut rows = Vec::new();
    for (ck, row) in &current.rows {
        rows.push(row_values(Some(ck), Some(row))?);
    }
    if rows.is_empty() && current.static_row.is_some() {
        rows.push(row_values(None, None)?);
    }
    if rows.is_empty() {
        return Ok(QueryResult::Rows {
            metadata: RowsMetadata::new(vec![applied_spec]),
            rows: vec![vec![flag(false)]],
        });
    }
    let mut specs = vec![applied_spec];
    specs.extend(
        columns
            .iter()
            .map(|&i| spec(&t.columns[i].name, t.columns[i].typ.clone())),
    );
    Ok(QueryResult::Rows {
        metadata: RowsMetadata::new(specs),
        rows,
    })
}

impl QueryEngine {
    /// Runs a conditional INSERT/UPDATE/DELETE or a BATCH containing one (CQL text batches share
    /// one set of bound values).
    pub(crate) async fn execute_conditional(
        &self,
        state: &ClientState,
        kind: &ast::StatementKind,
        binds: Binds<'_>,
        params: &mica_cql_protocol::QueryParameters,
    ) -> Result<QueryResult> {
        let options = CasOptions {
            consistency: params.consistency,
            serial_consistency: params.serial_consistency,
        };
        let one = |statement| CasStatement {
            statement,
            state: state.clone(),
            binds,
        };
        match kind {
            ast::StatementKind::Batch(b) => {
                let statements = b
                    .statements
                    .iter()
                    .map(|(_, child)| one(CasKind::from_child(child)))
                    .collect();
                self.execute_cas(statements, true, Some(&b.using), options).await
            }
            other => {
                let statement = CasKind::from_kind(other)
                    .ok_or_else(|| invalid("Only INSERT, UPDATE and DELETE statements can be conditional"))?;
                self.execute_cas(vec![one(statement)], false, None, options).await
            }
        }
    }

    /// Runs a protocol BATCH message containing conditional statements.
    pub(crate) async fn execute_cas_batch(
        &self,
        children: &[(Arc<crate::engine::PreparedStatement>, ClientState, Binds<'_>)],
        batch: &mica_cql_protocol::Batch,
    ) -> Result<QueryResult> {
        let statements = children
            .iter()
            .map(|(s, state, binds)| {
                let statement = CasKind::from_kind(&s.statement.kind).ok_or_else(|| {
                    invalid("Only INSERT, UPDATE and DELETE statements are allowed in a batch")
                })?;
                Ok(CasStatement {
                    statement,
                    state: state.clone(),
                    binds: *binds,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let options = CasOptions {
            consistency: batch.consistency,
            serial_consistency: batch.serial_consistency,
        };
        self.execute_cas(statements, true, None, options).await
    }
}
