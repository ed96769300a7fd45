//! Element-level writes on non-frozen collections and UDTs (list index set/delete, list discard and
//! prepend, UDT fields), Cassandra's validation of those operations, and the multi-cell encodings
//! shared by the write, condition and read paths.

use std::ops::Bound;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use mica_cql_syntax as ast;
use mica_cql_types::{CqlType, CqlValue, UdtDef, to_bytes};
use mica_schema::ColumnDef;
use mica_storage::{Cell, CellValue, Clustering, Engine, PartitionKey, ReadSelection, RowMutation, TableId};

use crate::error::{QueryError, Result, invalid};
use crate::modify::WriteParams;
use crate::values::{Binds, Evaluated, eval_bytes, eval_value};

/// The live cells of one multi-cell column of a row: `(cell path, stored cell value)` in path order.
pub(crate) type CellList = Vec<(Vec<u8>, Vec<u8>)>;

/// Reads the current cells of a column for the operations that need a read before the write
/// (list index set/delete and list discard, as in Cassandra).
pub(crate) trait Prefetch {
    fn cells(&self, key: &[u8], clustering: &Clustering, column: u32) -> Result<CellList>;
}

/// A [`Prefetch`] reading straight from the storage engine.
pub(crate) struct StoragePrefetch<'a> {
    pub storage: &'a dyn Engine,
    pub table: TableId,
    pub now_seconds: i64,
}

impl Prefetch for StoragePrefetch<'_> {
    fn cells(&self, key: &[u8], clustering: &Clustering, column: u32) -> Result<CellList> {
        let selection = row_selection(clustering, Some(vec![column]));
        let view = self.storage.read_partition(
            self.table,
            &PartitionKey::new(key.to_vec()),
            &selection,
            self.now_seconds,
        )?;
        let Some(view) = view else { return Ok(Vec::new()) };
        let row = match clustering {
            Clustering::Static => view.static_row,
            Clustering::Row(_) => view.rows.into_iter().next(),
        };
        Ok(row.map(|r| cells_of(&r.cells, column)).unwrap_or_default())
    }
}

/// A read selection covering exactly one row (or only the static row).
pub(crate) fn row_selection(clustering: &Clustering, columns: Option<Vec<u32>>) -> ReadSelection {
    match clustering {
        Clustering::Static => ReadSelection {
            include_static: true,
            limit_rows: Some(0),
            columns,
            ..ReadSelection::default()
        },
        Clustering::Row(ck) => ReadSelection {
            slices: vec![(Bound::Included(ck.clone()), Bound::Included(ck.clone()))],
            include_static: false,
            columns,
            ..ReadSelection::default()
        },
    }
}

/// The `(path, value)` pairs of column `column` among a row's cells.
pub(crate) fn cells_of(cells: &[mica_storage::CellView], column: u32) -> CellList {
    cells
        .iter()
        .filter(|c| c.column == column)
        .filter_map(|c| match (&c.path, &c.value) {
            (Some(p), mica_storage::Value::Bytes(v)) => Some((p.clone(), v.clone())),
            _ => None,
        })
        .collect()
}

/// The serialized (native protocol) value of a multi-cell column from its cells; `None` when empty.
pub(crate) fn multicell_value(typ: &CqlType, cells: &[(Vec<u8>, Vec<u8>)]) -> Result<Option<Vec<u8>>> {
    if cells.is_empty() {
        return Ok(None);
    }
    let mut body = Vec::new();
    match typ {
        CqlType::Udt(def) => {
            for i in 0..def.fields.len() {
                let path = udt_field_path(i)?;
                match cells.iter().find(|(p, _)| *p == path) {
                    Some((_, v)) => push_value(&mut body, v),
                    None => body.extend_from_slice(&(-1i32).to_be_bytes()),
                }
            }
        }
        CqlType::Map(..) => {
            body.extend_from_slice(&count(cells.len()).to_be_bytes());
            for (_, v) in cells {
                let (k, val) = split_map_cell(v)?;
                push_value(&mut body, k);
                push_value(&mut body, val);
            }
        }
        _ => {
            body.extend_from_slice(&count(cells.len()).to_be_bytes());
            for (_, v) in cells {
                push_value(&mut body, v);
            }
        }
    }
    Ok(Some(body))
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn push_value(body: &mut Vec<u8>, v: &[u8]) {
    body.extend_from_slice(&count(v.len()).to_be_bytes());
    body.extend_from_slice(v);
}

/// Splits a stored map cell (`u32 key length || key || value`) into key and value.
pub(crate) fn split_map_cell(v: &[u8]) -> Result<(&[u8], &[u8])> {
    let truncated = || QueryError::Server("stored map cell is truncated".into());
    let len = v.get(0..4).ok_or_else(truncated)?;
    let klen = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
    let key = v.get(4..4 + klen).ok_or_else(truncated)?;
    Ok((key, &v[4 + klen..]))
}

/// The cell path of field `index` of a non-frozen UDT: the field position as a big-endian short,
/// as Cassandra stores it.
pub(crate) fn udt_field_path(index: usize) -> Result<Vec<u8>> {
    let i = u16::try_from(index).map_err(|_| invalid(format!("Too many fields in user type ({index})")))?;
    Ok(i.to_be_bytes().to_vec())
}

/// The live cells of a whole non-frozen UDT value (null fields are not written: the overwrite
/// deletion written with them already removes any previous value).
pub(crate) fn udt_cells(
    c: &ColumnDef,
    def: &UdtDef,
    fields: &[(String, Option<CqlValue>)],
    wp: &WriteParams,
) -> Result<Vec<Cell>> {
    let mut cells = Vec::new();
    for (i, (name, ty)) in def.fields.iter().enumerate() {
        let Some(Some(v)) = fields.iter().find(|(n, _)| n == name).map(|(_, v)| v) else {
            continue;
        };
        cells.push(Cell {
            column: c.id,
            path: Some(udt_field_path(i)?),
            timestamp: wp.timestamp,
            value: CellValue::Live {
                value: to_bytes(v, ty).map_err(|e| invalid(e.to_string()))?,
                ttl: wp.ttl(),
            },
        });
    }
    Ok(cells)
}

fn tombstone(c: &ColumnDef, path: Vec<u8>, wp: &WriteParams) -> Cell {
    Cell {
        column: c.id,
        path: Some(path),
        timestamp: wp.timestamp,
        value: CellValue::Tombstone {
            local_deletion_time: wp.now_seconds,
        },
    }
}

fn live(c: &ColumnDef, path: Vec<u8>, value: Vec<u8>, wp: &WriteParams) -> Cell {
    Cell {
        column: c.id,
        path: Some(path),
        timestamp: wp.timestamp,
        value: CellValue::Live { value, ttl: wp.ttl() },
    }
}

/// `UPDATE ... SET udt.field = value`.
pub(crate) fn set_udt_field(
    row: &mut RowMutation,
    c: &ColumnDef,
    field: &str,
    value: &ast::Term,
    binds: Binds,
    wp: &WriteParams,
) -> Result<()> {
    let (index, ty) = udt_field(c, field)?;
    let receiver = format!("{}.{}", c.name, field);
    match eval_bytes(value, ty, &receiver, binds)? {
        Evaluated::Unset => {}
        Evaluated::Null => row.cells.push(tombstone(c, udt_field_path(index)?, wp)),
        Evaluated::Bytes(b) => row.cells.push(live(c, udt_field_path(index)?, b, wp)),
    }
    Ok(())
}

/// `DELETE udt.field FROM ...`.
pub(crate) fn delete_udt_field(
    row: &mut RowMutation,
    c: &ColumnDef,
    field: &str,
    wp: &WriteParams,
) -> Result<()> {
    let (index, _) = udt_field(c, field)?;
    row.cells.push(tombstone(c, udt_field_path(index)?, wp));
    Ok(())
}

/// The position and type of a field of a non-frozen UDT column.
fn udt_field<'c>(c: &'c ColumnDef, field: &str) -> Result<(usize, &'c CqlType)> {
    let CqlType::Udt(def) = &c.typ else {
        return Err(invalid(format!(
            "Invalid field deletion operation for non-UDT column {}",
            c.name
        )));
    };
    def.fields
        .iter()
        .position(|(n, _)| n == field)
        .map(|i| (i, &def.fields[i].1))
        .ok_or_else(|| {
            invalid(format!(
                "UDT column {} does not have a field named {field}",
                c.name
            ))
        })
}

/// Evaluates a list index (`l[i]`): `None` when the bound value is unset; null is an error.
fn list_index(key: &ast::Term, c: &ColumnDef, binds: Binds) -> Result<Option<i32>> {
    match eval_value(key, &CqlType::Int, &format!("idx({})", c.name), binds)? {
        Some(CqlValue::Int(i)) => Ok(Some(i)),
        Some(_) => Err(invalid("Invalid list index")),
        None => match key {
            ast::Term::Marker(m)
                if matches!(binds.values.get(m.index), Some(mica_cql_protocol::Value::Unset)) =>
            {
                Ok(None)
            }
            _ => Err(invalid("Invalid null value for list index")),
        },
    }
}

/// `UPDATE ... SET l[i] = v`: replaces the i-th element of the current list (read before write).
pub(crate) fn set_list_index(
    row: &mut RowMutation,
    c: &ColumnDef,
    key: &ast::Term,
    value: &ast::Term,
    binds: Binds,
    wp: &WriteParams,
    current: impl FnOnce() -> Result<CellList>,
) -> Result<()> {
    let CqlType::List(el) = &c.typ else {
        return Err(invalid(format!("Invalid list operation on {}", c.name)));
    };
    let idx = list_index(key, c, binds)?.ok_or_else(|| invalid("Invalid unset value for list index"))?;
    let value = eval_bytes(value, el, &format!("value({})", c.name), binds)?;
    let cells = current()?;
    if cells.is_empty() {
        return Err(invalid("Attempted to set an element on a list which is null"));
    }
    let path = element_at(&cells, idx)?;
    match value {
        Evaluated::Unset => {}
        Evaluated::Null => row.cells.push(tombstone(c, path, wp)),
        Evaluated::Bytes(b) => row.cells.push(live(c, path, b, wp)),
    }
    Ok(())
}

/// `DELETE l[i] FROM ...`: deletes the i-th element of the current list (read before write).
pub(crate) fn delete_list_index(
    row: &mut RowMutation,
    c: &ColumnDef,
    key: &ast::Term,
    binds: Binds,
    wp: &WriteParams,
    current: impl FnOnce() -> Result<CellList>,
) -> Result<()> {
    let Some(idx) = list_index(key, c, binds)? else {
        return Ok(());
    };
    let cells = current()?;
    if cells.is_empty() {
        return Err(invalid(
            "Attempted to delete an element from a list which is null",
        ));
    }
    row.cells.push(tombstone(c, element_at(&cells, idx)?, wp));
    Ok(())
}

fn element_at(cells: &CellList, idx: i32) -> Result<Vec<u8>> {
    usize::try_from(idx)
        .ok()
        .and_then(|i| cells.get(i))
        .map(|(p, _)| p.clone())
        .ok_or_else(|| {
            invalid(format!(
                "List index {idx} out of bound, list has size {}",
                cells.len()
            ))
        })
}

/// `UPDATE ... SET l = l - [..]`: deletes every element equal to one of the given values.
pub(crate) fn discard_from_list(
    row: &mut RowMutation,
    c: &ColumnDef,
    value: &ast::Term,
    binds: Binds,
    wp: &WriteParams,
    current: impl FnOnce() -> Result<CellList>,
) -> Result<()> {
    let CqlType::List(el) = &c.typ else {
        return Err(invalid(format!("Invalid list operation on {}", c.name)));
    };
    let Some(CqlValue::List(items)) = eval_value(value, &c.typ, &c.name, binds)? else {
        return Ok(());
    };
    let remove = items
        .iter()
        .map(|v| to_bytes(v, el).map_err(|e| invalid(e.to_string())))
        .collect::<Result<Vec<_>>>()?;
    if remove.is_empty() {
        return Ok(());
    }
    for (path, v) in current()? {
        if remove.contains(&v) {
            row.cells.push(tombstone(c, path, wp));
        }
    }
    Ok(())
}

/// Microseconds of 2010-01-01T00:00:00Z: prepended list elements get times mirrored around it, so
/// each prepend sorts before every earlier element, as Cassandra's `PrecisionTime` does.
const PREPEND_REFERENCE_MICROS: i64 = 1_262_304_000_000_000;

static LAST_PREPEND: AtomicI64 = AtomicI64::new(i64::MAX);
static PREPEND_SEQUENCE: AtomicU64 = AtomicU64::new(0);

/// `UPDATE ... SET l = [..] + l`: element cells whose paths sort before every existing element.
pub(crate) fn prepend_to_list(
    row: &mut RowMutation,
    c: &ColumnDef,
    value: &ast::Term,
    binds: Binds,
    wp: &WriteParams,
) -> Result<()> {
    let CqlType::List(el) = &c.typ else {
        return Err(invalid(format!("Invalid list operation on {}", c.name)));
    };
    let Some(CqlValue::List(items)) = eval_value(value, &c.typ, &c.name, binds)? else {
        return Ok(());
    };
    let mirrored = 2 * PREPEND_REFERENCE_MICROS - mica_types::Timestamp::now().0;
    // Strictly decreasing across calls, so a later prepend always lands in front.
    let time = match LAST_PREPEND.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |last| {
        Some(mirrored.min(last.saturating_sub(1)))
    }) {
        Ok(last) | Err(last) => mirrored.min(last.saturating_sub(1)),
    };
    for v in items {
        let mut path = Vec::with_capacity(16);
        path.extend_from_slice(&((time as u64) ^ (1 << 63)).to_be_bytes());
        path.extend_from_slice(&PREPEND_SEQUENCE.fetch_add(1, Ordering::Relaxed).to_be_bytes());
        row.cells.push(live(
            c,
            path,
            to_bytes(&v, el).map_err(|e| invalid(e.to_string()))?,
            wp,
        ));
    }
    Ok(())
}

/// Checks an UPDATE assignment against the column's type with Cassandra's messages.
pub(crate) fn check_assignment(c: &ColumnDef, a: &ast::Assignment) -> Result<()> {
    let name = &c.name;
    let typ = &c.typ;
    let frozen_collection = typ.is_collection() && !typ.is_multicell();
    match a {
        ast::Assignment::Set {
            target: ast::ColumnTarget::Element { key, .. },
            value,
        } => {
            let op = format!("{name}[{}] = {}", term_text(key), term_text(value));
            if !typ.is_collection() {
                return Err(invalid(format!(
                    "Invalid operation ({op}) for non collection column {name}"
                )));
            }
            if frozen_collection {
                return Err(invalid(format!(
                    "Invalid operation ({op}) for frozen collection column {name}"
                )));
            }
            if matches!(typ, CqlType::Set(_)) {
                return Err(invalid(format!("Invalid operation ({op}) for set column {name}")));
            }
        }
        ast::Assignment::Set {
            target: ast::ColumnTarget::Field { field, .. },
            value,
        } => {
            let op = format!("{name}.{field} = {}", term_text(value));
            match typ.unfrozen() {
                CqlType::Udt(def) => {
                    if !typ.is_multicell() {
                        return Err(invalid(format!(
                            "Invalid operation ({op}) for frozen UDT column {name}"
                        )));
                    }
                    if !def.fields.iter().any(|(f, _)| f == field) {
                        return Err(invalid(format!(
                            "UDT column {name} does not have a field named {field}"
                        )));
                    }
                }
                _ => {
                    return Err(invalid(format!(
                        "Invalid operation ({op}) for non-UDT column {name}"
                    )));
                }
            }
        }
        ast::Assignment::Add { value, .. } => {
            let op = format!("{name} = {name} + {}", term_text(value));
            if !typ.is_collection() {
                if matches!(typ, CqlType::Tuple(_)) {
                    return Err(invalid(format!(
                        "Invalid operation ({op}) for tuple column {name}"
                    )));
                }
                if !typ.is_counter() {
                    return Err(invalid(format!(
                        "Invalid operation ({op}) for non counter column {name}"
                    )));
                }
            } else if frozen_collection {
                return Err(invalid(format!(
                    "Invalid operation ({op}) for frozen collection column {name}"
                )));
            } else if matches!(typ, CqlType::Map(..))
                && (matches!(value, ast::Term::List(_))
                    || matches!(value, ast::Term::Set(items) if !items.is_empty()))
            {
                return Err(invalid(format!(
                    "Value for a map addition has to be a map, but was: '{}'",
                    term_text(value)
                )));
            }
        }
        ast::Assignment::Subtract { value, .. } => {
            let op = format!("{name} = {name} - {}", term_text(value));
            if !typ.is_collection() {
                if !typ.is_counter() {
                    return Err(invalid(format!(
                        "Invalid operation ({op}) for non counter column {name}"
                    )));
                }
            } else if frozen_collection {
                return Err(invalid(format!(
                    "Invalid operation ({op}) for frozen collection column {name}"
                )));
            } else if matches!(typ, CqlType::Map(..))
                && matches!(value, ast::Term::Map(_) | ast::Term::List(_))
            {
                return Err(invalid(format!(
                    "Value for a map substraction has to be a set, but was: '{}'",
                    term_text(value)
                )));
            }
        }
        ast::Assignment::Prepend { value, .. } => {
            // Cassandra prints prepends with a `-` (sic).
            let op = format!("{name} = {} - {name}", term_text(value));
            match typ.unfrozen() {
                CqlType::List(_) if typ.is_multicell() => {}
                CqlType::List(_) => {
                    return Err(invalid(format!(
                        "Invalid operation ({op}) for frozen list column {name}"
                    )));
                }
                _ => {
                    return Err(invalid(format!(
                        "Invalid operation ({op}) for non list column {name}"
                    )));
                }
            }
        }
        ast::Assignment::Set { .. } => {}
    }
    Ok(())
}

/// Checks a DELETE target against the column's type with Cassandra's messages.
pub(crate) fn check_deletion(c: &ColumnDef, target: &ast::ColumnTarget) -> Result<()> {
    let name = &c.name;
    match target {
        ast::ColumnTarget::Column(_) => {}
        ast::ColumnTarget::Element { .. } => {
            if !c.typ.is_collection() {
                return Err(invalid(format!(
                    "Invalid deletion operation for non collection column {name}"
                )));
            }
            if !c.typ.is_multicell() {
                return Err(invalid(format!(
                    "Invalid deletion operation for frozen collection column {name}"
                )));
            }
        }
        ast::ColumnTarget::Field { field, .. } => match c.typ.unfrozen() {
            CqlType::Udt(def) => {
                if !c.typ.is_multicell() {
                    return Err(invalid(format!(
                        "Frozen UDT column {name} does not support field deletions"
                    )));
                }
                if !def.fields.iter().any(|(f, _)| f == field) {
                    return Err(invalid(format!(
                        "UDT column {name} does not have a field named {field}"
                    )));
                }
            }
            _ => {
                return Err(invalid(format!(
                    "Invalid field deletion operation for non-UDT column {name}"
                )));
            }
        },
    }
    Ok(())
}

/// A term as Cassandra prints it in operation error messages (`l[1] = 'a'`).
pub(crate) fn term_text(t: &ast::Term) -> String {
    let join = |items: &[ast::Term]| items.iter().map(term_text).collect::<Vec<_>>().join(", ");
    match t {
        ast::Term::Literal(ast::Literal::String(s)) => format!("'{}'", s.replace('\'', "''")),
        ast::Term::Literal(l) => l.text(),
        ast::Term::Null => "NULL".into(),
        ast::Term::Marker(m) => m.name.as_ref().map_or_else(|| "?".into(), |n| format!(":{n}")),
        ast::Term::List(items) => format!("[{}]", join(items)),
        ast::Term::Set(items) => format!("{{{}}}", join(items)),
        ast::Term::Tuple(items) => format!("({})", join(items)),
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
        ast::Term::FunctionCall { name, args } => format!("{name}({})", join(args)),
        ast::Term::TypeHint { ty, term } => format!("({ty}){}", term_text(term)),
        ast::Term::Negate(inner) => format!("-{}", term_text(inner)),
        ast::Term::Arithmetic { op, lhs, rhs } => {
            let sym = match op {
                ast::ArithOp::Add => "+",
                ast::ArithOp::Sub => "-",
                ast::ArithOp::Mul => "*",
                ast::ArithOp::Div => "/",
                ast::ArithOp::Rem => "%",
            };
            format!("{} {sym} {}", term_text(lhs), term_text(rhs))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multicell_values_are_serialized_like_frozen_ones() {
        let list = CqlType::List(Box::new(CqlType::Int));
        let cells = vec![
            (vec![1], 7i32.to_be_bytes().to_vec()),
            (vec![2], 9i32.to_be_bytes().to_vec()),
        ];
        let expected =
            to_bytes(&CqlValue::List(vec![CqlValue::Int(7), CqlValue::Int(9)]), &list).expect("ok");
        assert_eq!(multicell_value(&list, &cells).expect("ok"), Some(expected));
        assert_eq!(multicell_value(&list, &[]).expect("ok"), None);

        let def = std::sync::Arc::new(UdtDef {
            keyspace: "ks".into(),
            name: "u".into(),
            fields: vec![("a".into(), CqlType::Int), ("b".into(), CqlType::Varchar)],
        });
        let udt = CqlType::Udt(def);
        let cells = vec![(udt_field_path(1).expect("ok"), b"x".to_vec())];
        let expected = to_bytes(
            &CqlValue::Udt(vec![
                ("a".into(), None),
                ("b".into(), Some(CqlValue::Text("x".into()))),
            ]),
            &udt,
        )
        .expect("ok");
        assert_eq!(multicell_value(&udt, &cells).expect("ok"), Some(expected));
    }

    #[test]
    fn terms_print_like_cassandra() {
        let t = mica_cql_syntax::parse_term("{'a': [1, 2], 'b''c': ?}").expect("parses");
        assert_eq!(term_text(&t), "{'a': [1, 2], 'b''c': ?}");
    }
}
