//! A relation's name as a value (a whole-row reference) where applications use one: `row_to_json(t)`,
//! `to_json(t)`, `to_jsonb(t)`, `json_agg(t)` and `jsonb_agg(t)` with `t` a table or subquery of the FROM
//! list. DataFusion has no row values, so the row is spelled out as its columns' names and values, for
//! functions that write PostgreSQL's text of a record (`{"id":1,"name":"a"}`; jsonb's canonical form).
//! A name that is also a column is the column, as in PostgreSQL; a relation whose columns are not known
//! here (`SELECT *` in a subquery) is left to the planner, which refuses it.

use datafusion::sql::sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Ident, ObjectNamePart, Value,
};

use crate::column_literals::Scoped;
use crate::ddl::call;

/// Rewrites `e` if it is one of those calls with a whole-row argument.
pub fn expand(e: &mut Expr, scope: &[Scoped]) {
    let Expr::Function(f) = e else { return };
    let Some(ObjectNamePart::Identifier(name)) = f.name.0.last() else {
        return;
    };
    let name = name.value.to_lowercase();
    let Some(args) = crate::json::positional_args(f) else {
        return;
    };
    let [arg] = args.as_slice() else { return };
    match name.as_str() {
        "row_to_json" | "to_json" => {
            if let Some(pairs) = row(arg, scope) {
                *e = call(crate::json::RECORD_JSON, pairs);
            }
        }
        "to_jsonb" => {
            if let Some(pairs) = row(arg, scope) {
                *e = call("jsonb_build_object", pairs);
            }
        }
        // json_agg(t) as the JSON aggregates' rewrite left it: omendb_json_list(array_agg(to_json(t))).
        "omendb_json_list" | "omendb_jsonb_list" => {
            let Expr::Function(agg) = arg else { return };
            let Some(inner) = crate::json::positional_args(agg) else {
                return;
            };
            let [Expr::Function(to)] = inner.as_slice() else {
                return;
            };
            let Some(values) = crate::json::positional_args(to) else {
                return;
            };
            let [value] = values.as_slice() else { return };
            let Some(pairs) = row(value, scope) else {
                return;
            };
            let json = name == "omendb_json_list";
            let record = if json {
                call(crate::json::RECORD_JSON, pairs)
            } else {
                call("jsonb_build_object", pairs)
            };
            let mut agg = agg.clone();
            if let FunctionArguments::List(l) = &mut agg.args {
                l.args = vec![FunctionArg::Unnamed(FunctionArgExpr::Expr(record))];
            }
            let finish = if json {
                crate::json::RECORD_LIST
            } else {
                "omendb_jsonb_list"
            };
            *e = call(finish, vec![Expr::Function(agg)]);
        }
        _ => {}
    }
}

/// The names and values of the row `arg` names, if it names a relation in scope and no column.
fn row(arg: &Expr, scope: &[Scoped]) -> Option<Vec<Expr>> {
    let Expr::Identifier(i) = arg else {
        return None;
    };
    let name = crate::ddl::ident(i);
    if scope
        .iter()
        .any(|s| s.columns.iter().any(|(c, _)| *c == name))
    {
        return None;
    }
    let relation = scope.iter().rev().find(|s| s.name == name)?;
    if relation.columns.is_empty() {
        return None;
    }
    Some(
        relation
            .columns
            .iter()
            .flat_map(|(c, _)| {
                [
                    Expr::Value(Value::SingleQuotedString(c.clone()).into()),
                    Expr::CompoundIdentifier(vec![
                        Ident::with_quote('"', name.clone()),
                        Ident::with_quote('"', c.clone()),
                    ]),
                ]
            })
            .collect(),
    )
}
