//! `INSERT INTO t JSON '...' [DEFAULT NULL | DEFAULT UNSET]`: turning a JSON object into column values
//! with Cassandra's rules (quoted keys are case-sensitive, JSON `null` is an explicit null, missing
//! columns become null or stay untouched) and Cassandra's error messages.

use mica_cql_protocol::Value;
use mica_cql_syntax as ast;
use mica_cql_types::{CqlType, from_json, to_bytes};
use mica_schema::TableDef;

use crate::error::{Result, invalid};
use crate::values::{Binds, Evaluated, eval_value};

/// The value of every column of `table` for an INSERT JSON, in table column order.
///
/// Columns absent from the document are `Null` (`DEFAULT NULL`, the default) or `Unset`
/// (`DEFAULT UNSET`); the caller rejects missing primary key values as for any INSERT.
pub(crate) fn assignments<'t>(
    table: &'t TableDef,
    json: &ast::Term,
    default_unset: bool,
    binds: Binds,
) -> Result<Vec<(&'t str, Evaluated)>> {
    let text = json_text(json, binds)?;
    let doc: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| invalid(format!("Could not decode JSON string as a map: {e}")))?;
    let object = match doc {
        serde_json::Value::Object(map) => map,
        serde_json::Value::Null => return Err(invalid("Got null for INSERT JSON values")),
        other => {
            return Err(invalid(format!(
                "Could not decode JSON string as a map: expected a JSON object but got {other}"
            )));
        }
    };
    // Unquoted keys are case-insensitive (folded to lower case); `"Quoted"` keys keep their case.
    let mut entries: Vec<(String, serde_json::Value)> = object
        .into_iter()
        .map(|(k, v)| {
            let name = match k.strip_prefix('"').and_then(|k| k.strip_suffix('"')) {
                Some(quoted) => quoted.to_string(),
                None => k.to_lowercase(),
            };
            (name, v)
        })
        .collect();
    let mut out = Vec::with_capacity(table.columns.len());
    for c in &table.columns {
        let value = match entries.iter().position(|(n, _)| *n == c.name) {
            Some(i) => {
                let (_, v) = entries.remove(i);
                match from_json(&v, &c.typ)
                    .map_err(|e| invalid(format!("Error decoding JSON value for {}: {e}", c.name)))?
                {
                    None => Evaluated::Null,
                    Some(value) => {
                        if c.typ.is_counter() {
                            return Err(invalid(format!(
                                "Cannot set the value of counter column {} (counters can only be incremented/decremented, not set)",
                                c.name
                            )));
                        }
                        Evaluated::Bytes(
                            to_bytes(&value, &c.typ).map_err(|e| {
                                invalid(format!("Error decoding JSON value for {}: {e}", c.name))
                            })?,
                        )
                    }
                }
            }
            None if default_unset => Evaluated::Unset,
            None => Evaluated::Null,
        };
        out.push((c.name.as_str(), value));
    }
    if let Some((name, _)) = entries.first() {
        return Err(invalid(format!(
            "JSON values map contains unrecognized column: {name}"
        )));
    }
    Ok(out)
}

/// The JSON document: a string literal or a bound text value.
fn json_text(json: &ast::Term, binds: Binds) -> Result<String> {
    if let ast::Term::Marker(m) = json {
        match binds.values.get(m.index) {
            Some(Value::Null) => return Err(invalid("Got null for INSERT JSON values")),
            Some(Value::Unset) => return Err(invalid("Got unset value for INSERT JSON values")),
            _ => {}
        }
    }
    match eval_value(json, &CqlType::Varchar, "[json]", binds)? {
        Some(mica_cql_types::CqlValue::Text(s)) => Ok(s),
        Some(_) => Err(invalid("Invalid JSON value: expected a string")),
        None => Err(invalid("Got null for INSERT JSON values")),
    }
}
