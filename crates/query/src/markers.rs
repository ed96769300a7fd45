//! Prepared-statement metadata for the bind markers of SELECT-side roles the generic describer does not
//! know: multi-column relations and native function arguments, named as Cassandra names them.

use mica_cql_syntax::MarkerRole;
use mica_cql_types::CqlType;
use mica_schema::TableDef;

use crate::error::{Result, invalid};
use crate::functions::{SYSTEM, param_type};

/// `(name, type)` of a marker with one of these roles.
pub(crate) fn marker_spec(table: Option<&TableDef>, role: &MarkerRole) -> Result<(String, CqlType)> {
    let column_type = |n: &str| {
        table
            .and_then(|t| t.column(n))
            .map(|c| c.typ.clone())
            .ok_or_else(|| invalid(format!("Undefined column name {n}")))
    };
    let tuple = |names: &[String]| -> Result<(String, CqlType)> {
        let types = names.iter().map(|n| column_type(n)).collect::<Result<Vec<_>>>()?;
        Ok((format!("({})", names.join(",")), CqlType::Tuple(types)))
    };
    match role {
        MarkerRole::Tuple(names) => tuple(names),
        MarkerRole::TupleList(names) => {
            let (name, ty) = tuple(names)?;
            Ok((format!("in({name})"), CqlType::List(Box::new(ty))))
        }
        MarkerRole::FunctionArgument { function, position } => {
            let name = function.name.as_str();
            let ty = table
                .and_then(|t| param_type(name, *position, t))
                .ok_or_else(|| {
                    invalid(format!(
                        "Ambiguous call to function {SYSTEM}.{name}: cannot infer the type of bind marker argument {position}; use type casts to disambiguate"
                    ))
                })?;
            Ok((format!("arg{position}({SYSTEM}.{name})"), ty))
        }
        other => Err(invalid(format!("Bind marker {other:?} is not supported yet"))),
    }
}
