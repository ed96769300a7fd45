//! ALTER TABLE (ADD, DROP, RENAME, WITH) and ALTER TYPE (ADD, RENAME), with Cassandra's checks and messages.
//!
//! Dropped columns keep their storage id forever: a column re-added under the same name gets a fresh id,
//! so cells written before the drop can never be read back, whatever their timestamps.

use std::sync::Arc;

use mica_cql_protocol::{SchemaChange, SchemaChangeTarget, SchemaChangeType};
use mica_cql_syntax as ast;
use mica_cql_syntax::quote_identifier;
use mica_cql_types::{CqlType, UdtDef};
use mica_schema::{ColumnDef, ColumnKind, DroppedColumn, KeyspaceDef, Schema, TableDef};

use crate::ddl::{apply_table_options, deny_system, resolve_inner, resolve_type};
use crate::engine::{ClientState, QueryEngine, QueryResult};
use crate::error::{QueryError, Result, invalid};

fn updated(target: SchemaChangeTarget) -> QueryResult {
    QueryResult::SchemaChange(SchemaChange {
        change_type: SchemaChangeType::Updated,
        target,
    })
}

/// `ks.name` as Cassandra prints a table or type in messages.
fn display_name(keyspace: &str, name: &str) -> String {
    format!("{}.{}", quote_identifier(keyspace), quote_identifier(name))
}

/// Names of the indexes whose target is `column` (`c`, `keys(c)`, `values(c)`, `entries(c)`, `full(c)`).
fn dependent_indexes(table: &TableDef, column: &str) -> Vec<String> {
    table
        .indexes
        .iter()
        .filter(|i| {
            i.options.get("target").is_some_and(|target| {
                let inner = target
                    .split_once('(')
                    .and_then(|(_, rest)| rest.strip_suffix(')'))
                    .unwrap_or(target);
                inner.trim_matches('"') == column
            })
        })
        .map(|i| i.name.clone())
        .collect()
}

/// Whether values written under `old` can be read as `new` (Cassandra refuses re-adding a dropped column
/// with an incompatible type).
fn serialization_compatible(new: &CqlType, old: &CqlType) -> bool {
    new == old || (matches!(new, CqlType::Varchar) && matches!(old, CqlType::Ascii))
}

/// Rebuilds `ty` with every use of user type `new` (by keyspace and name) pointing at the new definition,
/// including uses nested inside other user types.
fn replace_udt(ty: &CqlType, new: &Arc<UdtDef>) -> CqlType {
    let uses = |t: &CqlType| {
        t.any_nested(&|x| matches!(x, CqlType::Udt(u) if u.keyspace == new.keyspace && u.name == new.name))
    };
    if !uses(ty) {
        return ty.clone();
    }
    match ty {
        CqlType::Udt(u) if u.keyspace == new.keyspace && u.name == new.name => CqlType::Udt(new.clone()),
        CqlType::Udt(u) => CqlType::Udt(Arc::new(UdtDef {
            keyspace: u.keyspace.clone(),
            name: u.name.clone(),
            fields: u
                .fields
                .iter()
                .map(|(n, f)| (n.clone(), replace_udt(f, new)))
                .collect(),
        })),
        CqlType::List(t) => CqlType::List(Box::new(replace_udt(t, new))),
        CqlType::Set(t) => CqlType::Set(Box::new(replace_udt(t, new))),
        CqlType::Frozen(t) => CqlType::Frozen(Box::new(replace_udt(t, new))),
        CqlType::Vector(t, n) => CqlType::Vector(Box::new(replace_udt(t, new)), *n),
        CqlType::Map(k, v) => CqlType::Map(Box::new(replace_udt(k, new)), Box::new(replace_udt(v, new))),
        CqlType::Tuple(ts) => CqlType::Tuple(ts.iter().map(|t| replace_udt(t, new)).collect()),
        other => other.clone(),
    }
}

/// Installs a changed user type in its keyspace and in every type and table of that keyspace using it.
fn swap_user_type(ks: &mut KeyspaceDef, new: Arc<UdtDef>) {
    for ty in ks.types.values_mut() {
        if ty.name != new.name {
            *ty = Arc::new(UdtDef {
                keyspace: ty.keyspace.clone(),
                name: ty.name.clone(),
                fields: ty
                    .fields
                    .iter()
                    .map(|(n, f)| (n.clone(), replace_udt(f, &new)))
                    .collect(),
            });
        }
    }
    ks.types.insert(new.name.clone(), new.clone());
    for table in ks.tables.values_mut() {
        let touched = table.columns.iter().any(|c| c.typ != replace_udt(&c.typ, &new));
        if touched {
            let mut t = (**table).clone();
            for c in &mut t.columns {
                c.typ = replace_udt(&c.typ, &new);
            }
            *table = Arc::new(t);
        }
    }
}

impl QueryEngine {
    /// ALTER TABLE: changes one table of a user keyspace and publishes the new schema.
    pub(crate) fn alter_table(&self, state: &ClientState, alter: &ast::AlterTable) -> Result<QueryResult> {
        let ks_name = self.keyspace_name(state, &alter.name.keyspace)?;
        let table_name = alter.name.name.clone();
        deny_system(&ks_name)?;
        let changed = self.change_schema(
            |schema| {
                let Some(table) = schema.table(&ks_name, &table_name).cloned() else {
                    if alter.if_exists {
                        return Ok(false);
                    }
                    return Err(invalid(format!("Table '{ks_name}.{table_name}' doesn't exist")));
                };
                let mut t = (*table).clone();
                if !alter_table_def(schema, &mut t, &alter.action)? {
                    return Ok(false);
                }
                if !schema.put_table(Arc::new(t)) {
                    return Err(QueryError::Server(format!("keyspace {ks_name} vanished")));
                }
                Ok(true)
            },
            Some(&ks_name),
        )?;
        if !changed {
            return Ok(QueryResult::Void);
        }
        Ok(updated(SchemaChangeTarget::Table {
            keyspace: ks_name,
            name: table_name,
        }))
    }

    /// ALTER TYPE: adds or renames fields of a user type and updates every table using it.
    pub(crate) fn alter_type(&self, state: &ClientState, alter: &ast::AlterType) -> Result<QueryResult> {
        let ks_name = self.keyspace_name(state, &alter.name.keyspace)?;
        let type_name = alter.name.name.clone();
        deny_system(&ks_name)?;
        let changed = self.change_schema(
            |schema| {
                let Some(ks) = schema.keyspace(&ks_name).cloned() else {
                    return if alter.if_exists {
                        Ok(false)
                    } else {
                        Err(invalid(format!("Type {ks_name}.{type_name} doesn't exist")))
                    };
                };
                let Some(current) = ks.types.get(&type_name).cloned() else {
                    return if alter.if_exists {
                        Ok(false)
                    } else {
                        Err(invalid(format!("Type {ks_name}.{type_name} doesn't exist")))
                    };
                };
                let Some(new) = altered_type(&ks, &current, &alter.action)? else {
                    return Ok(false);
                };
                let mut ks = (*ks).clone();
                swap_user_type(&mut ks, Arc::new(new));
                schema.keyspaces.insert(ks_name.clone(), Arc::new(ks));
                Ok(true)
            },
            Some(&ks_name),
        )?;
        if !changed {
            return Ok(QueryResult::Void);
        }
        Ok(updated(SchemaChangeTarget::Type {
            keyspace: ks_name,
            name: type_name,
        }))
    }
}

/// Applies one ALTER TABLE action to `t`; `false` when nothing changed (IF [NOT] EXISTS).
fn alter_table_def(schema: &Schema, t: &mut TableDef, action: &ast::AlterTableAction) -> Result<bool> {
    use ast::AlterTableAction as A;
    let table_display = display_name(&t.keyspace, &t.name);
    match action {
        A::Add {
            if_not_exists,
            columns,
        } => {
            let types = schema
                .keyspace(&t.keyspace)
                .map(|k| k.types.clone())
                .unwrap_or_default();
            let mut changed = false;
            for c in columns {
                if t.column(&c.name).is_some() {
                    if *if_not_exists {
                        continue;
                    }
                    return Err(invalid(format!("Column with name '{}' already exists", c.name)));
                }
                let typ = resolve_type(&c.ty, &|n| types.get(n).cloned())?;
                add_column(t, &c.name, typ, c.is_static)?;
                changed = true;
            }
            Ok(changed)
        }
        A::Drop {
            if_exists,
            columns,
            timestamp,
        } => {
            let dropped_at = timestamp.unwrap_or_else(|| mica_types::Timestamp::now().0);
            let mut changed = false;
            for name in columns {
                let Some(c) = t.column(name).cloned() else {
                    if *if_exists {
                        continue;
                    }
                    return Err(invalid(format!(
                        "Column {name} was not found in table '{table_display}'"
                    )));
                };
                if c.is_primary_key() {
                    return Err(invalid(format!("Cannot drop PRIMARY KEY column {name}")));
                }
                if matches!(c.typ, CqlType::Udt(_)) {
                    return Err(invalid(format!(
                        "Cannot drop non-frozen column {name} of user type {}",
                        c.typ.cql_name()
                    )));
                }
                let indexes = dependent_indexes(t, name);
                if !indexes.is_empty() {
                    return Err(invalid(format!(
                        "Cannot drop column {name} because it has dependent secondary indexes ({})",
                        indexes.join(", ")
                    )));
                }
                t.columns.retain(|x| x.name != *name);
                // One dropped entry per name, as system_schema.dropped_columns keys them by name; an older
                // entry's storage id stays unreadable anyway because no live column owns it.
                t.dropped_columns.retain(|d| d.name != *name);
                t.dropped_columns.push(DroppedColumn {
                    name: c.name.clone(),
                    typ: c.typ.clone(),
                    id: c.id,
                    dropped_at_micros: dropped_at,
                });
                changed = true;
            }
            Ok(changed)
        }
        A::Rename { if_exists, renames } => {
            let mut changed = false;
            for (old, new) in renames {
                let Some(c) = t.column(old).cloned() else {
                    if *if_exists {
                        continue;
                    }
                    return Err(invalid(format!(
                        "Column {old} was not found in table {table_display}"
                    )));
                };
                if !c.is_primary_key() {
                    return Err(invalid(format!("Cannot rename non PRIMARY KEY column {old}")));
                }
                if t.column(new).is_some() {
                    return Err(invalid(format!(
                        "Cannot rename column {old} to {new} in table '{table_display}'; another column with that name already exists"
                    )));
                }
                let indexes = dependent_indexes(t, old);
                if !indexes.is_empty() {
                    return Err(invalid(format!(
                        "Cannot rename column {old} because it has dependent secondary indexes ({})",
                        indexes.join(", ")
                    )));
                }
                if let Some(col) = t.columns.iter_mut().find(|x| x.name == *old) {
                    col.name = new.clone();
                }
                changed = true;
            }
            Ok(changed)
        }
        A::Options(options) => {
            if !options.clustering_order.is_empty() || options.compact_storage {
                return Err(QueryError::Syntax(
                    "Only table properties can be altered with ALTER TABLE ... WITH".into(),
                ));
            }
            if options.properties.iter().any(|p| p.name == "id") {
                return Err(QueryError::Config("Cannot alter table id.".into()));
            }
            apply_table_options(&mut t.options, &options.properties)?;
            if t.is_counter && t.options.default_time_to_live > 0 {
                return Err(invalid(
                    "Cannot set default_time_to_live on a table with counters",
                ));
            }
            Ok(true)
        }
        A::AlterColumnType { .. } => Err(invalid("Altering column types is no longer supported")),
        A::DropCompactStorage => Err(invalid(
            "DROP COMPACT STORAGE is disabled. Enable in cassandra.yaml to use.",
        )),
        A::Mask { .. } => Err(QueryError::Syntax(
            "Dynamic data masking is not supported by this version".into(),
        )),
    }
}

/// Adds a regular or static column after Cassandra's validations.
fn add_column(t: &mut TableDef, name: &str, typ: CqlType, is_static: bool) -> Result<()> {
    if is_static && t.clustering_len() == 0 {
        return Err(invalid(
            "Static columns are only useful (and thus allowed) if the table has at least one clustering column",
        ));
    }
    if let CqlType::Udt(u) = &typ
        && u.fields.iter().any(|(_, f)| f.is_multicell())
    {
        return Err(invalid(format!(
            "Non-frozen UDTs with nested non-frozen collections are not supported for column {name}"
        )));
    }
    if let Some(dropped) = t.dropped_columns.iter().rev().find(|d| d.name == name) {
        if !serialization_compatible(&typ, &dropped.typ) {
            return Err(invalid(format!(
                "Cannot re-add previously dropped column '{name}' of type {}, incompatible with previous type {}",
                typ.cql_name(),
                dropped.typ.cql_name()
            )));
        }
        if t.is_counter {
            return Err(invalid(format!(
                "Cannot re-add previously dropped counter column {name}"
            )));
        }
    }
    let is_counter_column = matches!(typ, CqlType::Counter);
    if t.is_counter && !is_counter_column {
        return Err(QueryError::Config(format!(
            "Cannot have a non counter column (\"{name}\") in a counter table"
        )));
    }
    // A table with only primary key columns is not a counter table, so a counter cannot join it either.
    if !t.is_counter && is_counter_column {
        return Err(QueryError::Config(format!(
            "Cannot have a counter column (\"{name}\") in a non counter table"
        )));
    }
    t.columns.push(ColumnDef {
        name: name.to_string(),
        typ,
        kind: if is_static {
            ColumnKind::Static
        } else {
            ColumnKind::Regular
        },
        position: -1,
        descending: false,
        id: t.next_column_id,
    });
    t.next_column_id += 1;
    t.sort_columns();
    Ok(())
}

/// The user type after one ALTER TYPE action; `None` when nothing changed (IF [NOT] EXISTS).
fn altered_type(ks: &KeyspaceDef, current: &UdtDef, action: &ast::AlterTypeAction) -> Result<Option<UdtDef>> {
    use ast::AlterTypeAction as A;
    let display = display_name(&current.keyspace, &current.name);
    let mut new = current.clone();
    match action {
        A::Add {
            if_not_exists,
            field,
            ty,
        } => {
            if current.fields.iter().any(|(n, _)| n == field) {
                if *if_not_exists {
                    return Ok(None);
                }
                return Err(invalid(format!(
                    "Cannot add field {field} to type {display}: a field with name {field} already exists"
                )));
            }
            let typ = resolve_inner(ty, &|n| ks.types.get(n).cloned())?;
            let circular = typ.any_nested(&|x| matches!(x, CqlType::Udt(u) if u.name == current.name));
            if circular {
                return Err(invalid(format!(
                    "Cannot add new field {field} of type {ty} to user type {display} as it would create a circular reference"
                )));
            }
            if typ.references_counter() {
                return Err(invalid("A user type cannot contain counters"));
            }
            new.fields.push((field.clone(), typ));
        }
        A::Rename { if_exists, renames } => {
            let mut changed = false;
            for (old, renamed) in renames {
                let Some(idx) = current.fields.iter().position(|(n, _)| n == old) else {
                    if *if_exists {
                        continue;
                    }
                    return Err(invalid(format!("Unkown field {old} in user type {display}")));
                };
                new.fields[idx].0 = renamed.clone();
                changed = true;
            }
            for (name, _) in &new.fields {
                if new.fields.iter().filter(|(n, _)| n == name).count() > 1 {
                    return Err(invalid(format!("Duplicate field name {name} in type {display}")));
                }
            }
            if !changed {
                return Ok(None);
            }
        }
        A::AlterFieldType { .. } => {
            return Err(invalid("Alterting field types is no longer supported"));
        }
    }
    Ok(Some(new))
}
