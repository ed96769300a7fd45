//! Lightweight transactions, the pure part: IF conditions evaluated against the current content of a
//! row, plus the per-partition locks and the timestamp clock that make read-check-write atomic on
//! one node. Reading the row and applying the write live in `cas.rs`, so the locking can later be
//! replaced by Paxos without touching the condition semantics here.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering as AtomicOrdering};
use std::sync::{Mutex, MutexGuard};

use mica_cql_syntax::Operator;
use mica_cql_types::{CqlType, CqlValue, compare_serialized, deserialize, encode_element_key, to_bytes};
use mica_schema::ColumnDef;
use mica_storage::{RowView, Value};

use crate::collections::{CellList, multicell_value, split_map_cell, udt_field_path};
use crate::error::{QueryError, Result, invalid};

/// The live content of one row (or the static row) as read for a condition.
#[derive(Clone, Debug, Default)]
pub(crate) struct CurrentRow {
    /// Column id to value: the cell bytes of simple columns, the cells of multi-cell ones.
    pub columns: HashMap<u32, ColumnValue>,
}

/// The current value of one column.
#[derive(Clone, Debug)]
pub(crate) enum ColumnValue {
    Simple(Vec<u8>),
    Cells(CellList),
}

impl CurrentRow {
    /// Groups a storage row's live cells by column.
    pub(crate) fn from_view(row: &RowView) -> CurrentRow {
        let mut columns: HashMap<u32, ColumnValue> = HashMap::new();
        for cell in &row.cells {
            let bytes = match &cell.value {
                Value::Bytes(b) => b.clone(),
                Value::Counter(n) => n.to_be_bytes().to_vec(),
            };
            match &cell.path {
                None => {
                    columns.insert(cell.column, ColumnValue::Simple(bytes));
                }
                Some(path) => match columns
                    .entry(cell.column)
                    .or_insert(ColumnValue::Cells(Vec::new()))
                {
                    ColumnValue::Cells(cells) => cells.push((path.clone(), bytes)),
                    simple @ ColumnValue::Simple(_) => {
                        *simple = ColumnValue::Cells(vec![(path.clone(), bytes)])
                    }
                },
            }
        }
        CurrentRow { columns }
    }

    /// The serialized whole value of a column, if it has one.
    pub(crate) fn value(&self, c: &ColumnDef) -> Result<Option<Vec<u8>>> {
        match self.columns.get(&c.id) {
            None => Ok(None),
            Some(ColumnValue::Simple(b)) => Ok(Some(b.clone())),
            Some(ColumnValue::Cells(cells)) => multicell_value(&c.typ, cells),
        }
    }

    fn cells(&self, c: &ColumnDef) -> &[(Vec<u8>, Vec<u8>)] {
        match self.columns.get(&c.id) {
            Some(ColumnValue::Cells(cells)) => cells,
            _ => &[],
        }
    }
}

/// Which part of a column a condition reads.
#[derive(Clone, Debug)]
pub(crate) enum Access {
    /// The whole value: `IF c = v`.
    Whole,
    /// A map entry (serialized key) or list element (serialized int index): `IF m[k] = v`.
    Element(Vec<u8>),
    /// A UDT field by position: `IF u.f = v`.
    Field(usize),
}

/// One bound `IF` condition on a column.
#[derive(Clone, Debug)]
pub(crate) struct ColumnCondition {
    pub column: ColumnDef,
    pub access: Access,
    /// `=`, `!=`, `<`, `<=`, `>`, `>=` or `IN`.
    pub op: Operator,
    /// The serialized condition values (one, or any number for `IN`); `None` is null.
    pub values: Vec<Option<Vec<u8>>>,
}

/// The conditions on one row of a CAS request.
#[derive(Clone, Debug)]
pub(crate) enum RowConditions {
    Exists,
    NotExists,
    Columns(Vec<ColumnCondition>),
}

/// Whether a row's conditions hold; a failed check carries the row it was checked against.
#[derive(Debug)]
pub(crate) enum Outcome<'a> {
    Applied,
    NotApplied(Option<&'a CurrentRow>),
}

/// Evaluates `conditions` against the current row (`None` when the row does not exist), with
/// Cassandra's semantics: a missing row has only null columns, comparisons with a null column
/// are false except `!=`, and a null condition value only supports `=` and `!=`.
pub(crate) fn evaluate_conditions<'a>(
    existing: Option<&'a CurrentRow>,
    conditions: &RowConditions,
) -> Result<Outcome<'a>> {
    let holds = match conditions {
        RowConditions::Exists => existing.is_some(),
        RowConditions::NotExists => existing.is_none(),
        RowConditions::Columns(conds) => {
            let mut all = true;
            for cond in conds {
                if !condition_holds(existing, cond)? {
                    all = false;
                    break;
                }
            }
            all
        }
    };
    Ok(if holds {
        Outcome::Applied
    } else {
        Outcome::NotApplied(existing)
    })
}

fn condition_holds(row: Option<&CurrentRow>, cond: &ColumnCondition) -> Result<bool> {
    let c = &cond.column;
    let (value_type, row_value) = match &cond.access {
        Access::Whole => (c.typ.clone(), row.map(|r| r.value(c)).transpose()?.flatten()),
        Access::Element(key) => element_value(row, c, key)?,
        Access::Field(index) => field_value(row, c, *index)?,
    };
    // A non-frozen collection without cells is both null and the empty collection.
    let empty_collection = (matches!(cond.access, Access::Whole)
        && row_value.is_none()
        && c.typ.is_multicell()
        && c.typ.is_collection())
    .then(|| 0i32.to_be_bytes().to_vec());
    let op = if cond.op == Operator::In {
        Operator::Eq
    } else {
        cond.op
    };
    for value in &cond.values {
        let current = match value {
            Some(_) => row_value.as_deref().or(empty_collection.as_deref()),
            None => row_value.as_deref(),
        };
        if compare_with_operator(op, &value_type, value.as_deref(), current)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// `row_value op condition_value`, with Cassandra's null rules.
fn compare_with_operator(
    op: Operator,
    ty: &CqlType,
    value: Option<&[u8]>,
    row_value: Option<&[u8]>,
) -> Result<bool> {
    let Some(value) = value else {
        return match op {
            Operator::Eq => Ok(row_value.is_none()),
            Operator::Neq => Ok(row_value.is_some()),
            _ => Err(invalid(format!(
                "Invalid comparison with null for operator \"{}\"",
                op.as_str()
            ))),
        };
    };
    let Some(row_value) = row_value else {
        return Ok(op == Operator::Neq);
    };
    let ordering = compare_serialized(ty, row_value, value).map_err(|e| invalid(e.to_string()))?;
    Ok(match op {
        Operator::Eq => ordering == Ordering::Equal,
        Operator::Neq => ordering != Ordering::Equal,
        Operator::Lt => ordering == Ordering::Less,
        Operator::Le => ordering != Ordering::Greater,
        Operator::Gt => ordering == Ordering::Greater,
        Operator::Ge => ordering != Ordering::Less,
        _ => false,
    })
}

/// The current value of `m[key]` or `l[index]`, with the element type.
fn element_value(row: Option<&CurrentRow>, c: &ColumnDef, key: &[u8]) -> Result<(CqlType, Option<Vec<u8>>)> {
    let corrupt =
        |e: mica_cql_types::MarshalError| QueryError::Server(format!("stored value is unreadable: {e}"));
    match c.typ.unfrozen() {
        CqlType::Map(kt, vt) => {
            let Some(row) = row else {
                return Ok(((**vt).clone(), None));
            };
            let value = if c.typ.is_multicell() {
                let k = deserialize(kt, key).map_err(|e| invalid(e.to_string()))?;
                let path = encode_element_key(kt, &k).map_err(|e| invalid(e.to_string()))?;
                match row.cells(c).iter().find(|(p, _)| *p == path) {
                    Some((_, v)) => Some(split_map_cell(v)?.1.to_vec()),
                    None => None,
                }
            } else {
                match row.value(c)? {
                    Some(bytes) => {
                        let k = deserialize(kt, key).map_err(|e| invalid(e.to_string()))?;
                        match deserialize(&c.typ, &bytes).map_err(corrupt)? {
                            CqlValue::Map(entries) => entries
                                .iter()
                                .find(|(ek, _)| mica_cql_types::compare(kt, ek, &k) == Ordering::Equal)
                                .map(|(_, v)| to_bytes(v, vt).map_err(corrupt))
                                .transpose()?,
                            _ => None,
                        }
                    }
                    None => None,
                }
            };
            Ok(((**vt).clone(), value))
        }
        CqlType::List(et) => {
            let index = match deserialize(&CqlType::Int, key).map_err(|e| invalid(e.to_string()))? {
                CqlValue::Int(i) => i,
                _ => return Err(invalid("Invalid list index")),
            };
            if index < 0 {
                return Err(invalid(format!("Invalid negative list index {index}")));
            }
            let Some(row) = row else {
                return Ok(((**et).clone(), None));
            };
            let i = index as usize;
            let value = if c.typ.is_multicell() {
                row.cells(c).get(i).map(|(_, v)| v.clone())
            } else {
                match row.value(c)? {
                    Some(bytes) => match deserialize(&c.typ, &bytes).map_err(corrupt)? {
                        CqlValue::List(items) => items
                            .get(i)
                            .map(|v| to_bytes(v, et).map_err(corrupt))
                            .transpose()?,
                        _ => None,
                    },
                    None => None,
                }
            };
            Ok(((**et).clone(), value))
        }
        _ => Err(invalid(format!(
            "Invalid element access syntax for non-collection column {}",
            c.name
        ))),
    }
}

/// The current value of field `index` of a UDT column, with the field type.
fn field_value(row: Option<&CurrentRow>, c: &ColumnDef, index: usize) -> Result<(CqlType, Option<Vec<u8>>)> {
    let CqlType::Udt(def) = c.typ.unfrozen() else {
        return Err(invalid(format!(
            "Invalid field access for non-UDT column {}",
            c.name
        )));
    };
    let ty = def
        .fields
        .get(index)
        .map(|(_, t)| t.clone())
        .ok_or_else(|| QueryError::Server("UDT field index out of range".into()))?;
    let Some(row) = row else { return Ok((ty, None)) };
    let value = if c.typ.is_multicell() {
        let path = udt_field_path(index)?;
        row.cells(c)
            .iter()
            .find(|(p, _)| *p == path)
            .map(|(_, v)| v.clone())
    } else {
        match row.value(c)? {
            Some(bytes) => match deserialize(&c.typ, &bytes)
                .map_err(|e| QueryError::Server(format!("stored value is unreadable: {e}")))?
            {
                CqlValue::Udt(fields) => match fields.get(index) {
                    Some((_, Some(v))) => Some(to_bytes(v, &ty).map_err(|e| invalid(e.to_string()))?),
                    _ => None,
                },
                _ => None,
            },
            None => None,
        }
    };
    Ok((ty, value))
}

/// Number of lock stripes serializing read-check-write per partition.
const LOCK_STRIPES: usize = 1024;

/// Per-node LWT state: striped partition locks and the monotonic timestamp clock.
pub(crate) struct LwtState {
    stripes: Vec<Mutex<()>>,
    last_timestamp: AtomicI64,
}

impl Default for LwtState {
    fn default() -> Self {
        LwtState {
            stripes: (0..LOCK_STRIPES).map(|_| Mutex::new(())).collect(),
            last_timestamp: AtomicI64::new(i64::MIN),
        }
    }
}

impl std::fmt::Debug for LwtState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LwtState")
            .field("stripes", &self.stripes.len())
            .finish()
    }
}

impl LwtState {
    /// Locks the partition `key` of table `table` (a stripe shared by the partitions hashing to it).
    /// The guard must not be held across an `.await`.
    pub(crate) fn lock(&self, table: uuid::Uuid, key: &[u8]) -> MutexGuard<'_, ()> {
        let token = mica_types::Token::for_key(key).0 as u64;
        let (hi, lo) = table.as_u64_pair();
        let stripe = ((token ^ hi ^ lo.rotate_left(17)) % LOCK_STRIPES as u64) as usize;
        match self.stripes[stripe].lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// The write timestamp of the next successful LWT: the current time in microseconds, but always
    /// greater than any timestamp handed out before, like Cassandra's Paxos ballot timestamps (client
    /// supplied timestamps are never used for conditional writes).
    pub(crate) fn next_timestamp(&self) -> i64 {
        let now = mica_types::Timestamp::now().0;
        let next = |last: i64| now.max(last.saturating_add(1));
        match self
            .last_timestamp
            .fetch_update(AtomicOrdering::SeqCst, AtomicOrdering::SeqCst, |last| {
                Some(next(last))
            }) {
            Ok(last) | Err(last) => next(last),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mica_schema::ColumnKind;

    fn col(name: &str, id: u32, typ: CqlType) -> ColumnDef {
        ColumnDef {
            name: name.into(),
            typ,
            kind: ColumnKind::Regular,
            position: -1,
            descending: false,
            id,
        }
    }

    fn cond(c: &ColumnDef, op: Operator, values: Vec<Option<i32>>) -> ColumnCondition {
        ColumnCondition {
            column: c.clone(),
            access: Access::Whole,
            op,
            values: values
                .into_iter()
                .map(|v| v.map(|v| v.to_be_bytes().to_vec()))
                .collect(),
        }
    }

    fn applied(row: Option<&CurrentRow>, conds: Vec<ColumnCondition>) -> bool {
        matches!(
            evaluate_conditions(row, &RowConditions::Columns(conds)).expect("evaluates"),
            Outcome::Applied
        )
    }

    #[test]
    fn simple_conditions_follow_cassandra_null_rules() {
        let v = col("v", 2, CqlType::Int);
        let mut row = CurrentRow::default();
        row.columns
            .insert(2, ColumnValue::Simple(5i32.to_be_bytes().to_vec()));
        assert!(applied(Some(&row), vec![cond(&v, Operator::Eq, vec![Some(5)])]));
        assert!(!applied(Some(&row), vec![cond(&v, Operator::Eq, vec![Some(6)])]));
        assert!(applied(Some(&row), vec![cond(&v, Operator::Lt, vec![Some(6)])]));
        assert!(applied(Some(&row), vec![cond(&v, Operator::Ge, vec![Some(5)])]));
        assert!(applied(Some(&row), vec![cond(&v, Operator::Neq, vec![None])]));
        assert!(applied(
            Some(&row),
            vec![cond(&v, Operator::In, vec![Some(1), None, Some(5)])]
        ));
        assert!(!applied(Some(&row), vec![cond(&v, Operator::In, vec![])]));
        // A missing row only has nulls.
        assert!(applied(None, vec![cond(&v, Operator::Eq, vec![None])]));
        assert!(!applied(None, vec![cond(&v, Operator::Gt, vec![Some(1)])]));
        assert!(applied(None, vec![cond(&v, Operator::Neq, vec![Some(1)])]));
        let err = evaluate_conditions(
            Some(&row),
            &RowConditions::Columns(vec![cond(&v, Operator::Gt, vec![None])]),
        )
        .expect_err("null comparison");
        assert_eq!(err.to_string(), "Invalid comparison with null for operator \">\"");
    }

    #[test]
    fn existence_conditions() {
        let row = CurrentRow::default();
        assert!(matches!(
            evaluate_conditions(Some(&row), &RowConditions::NotExists).expect("ok"),
            Outcome::NotApplied(Some(_))
        ));
        assert!(matches!(
            evaluate_conditions(None, &RowConditions::NotExists).expect("ok"),
            Outcome::Applied
        ));
        assert!(matches!(
            evaluate_conditions(None, &RowConditions::Exists).expect("ok"),
            Outcome::NotApplied(None)
        ));
    }

    #[test]
    fn collection_element_and_empty_collection_conditions() {
        let l = col("l", 3, CqlType::List(Box::new(CqlType::Int)));
        let mut row = CurrentRow::default();
        row.columns.insert(
            3,
            ColumnValue::Cells(vec![
                (vec![1], 10i32.to_be_bytes().to_vec()),
                (vec![2], 20i32.to_be_bytes().to_vec()),
            ]),
        );
        let elem = |i: i32, v: i32| ColumnCondition {
            column: l.clone(),
            access: Access::Element(i.to_be_bytes().to_vec()),
            op: Operator::Eq,
            values: vec![Some(v.to_be_bytes().to_vec())],
        };
        assert!(applied(Some(&row), vec![elem(1, 20)]));
        assert!(!applied(Some(&row), vec![elem(2, 20)]));
        let empty = to_bytes(&CqlValue::List(vec![]), &l.typ).expect("ok");
        let whole = |values| ColumnCondition {
            column: l.clone(),
            access: Access::Whole,
            op: Operator::Eq,
            values,
        };
        assert!(applied(None, vec![whole(vec![Some(empty.clone())])]));
        assert!(applied(None, vec![whole(vec![None])]));
        assert!(!applied(Some(&row), vec![whole(vec![Some(empty)])]));
    }

    #[test]
    fn timestamps_are_strictly_increasing() {
        let state = LwtState::default();
        let mut last = state.next_timestamp();
        for _ in 0..1000 {
            let next = state.next_timestamp();
            assert!(next > last);
            last = next;
        }
    }
}
