//! `json_agg`, `jsonb_agg`, `json_object_agg`, `jsonb_object_agg`: DataFusion's `array_agg` over each
//! value's JSON form, finished into one document. `array_agg` already has everything an aggregate call can
//! say (DISTINCT, ORDER BY, FILTER, OVER), so the JSON aggregates have it too, and are NULL over no rows as
//! PostgreSQL's are.

use datafusion::sql::sqlparser::ast::{
    Expr, Function, FunctionArg, FunctionArgExpr, FunctionArguments, Ident, ObjectName,
    ObjectNamePart,
};

use crate::ddl::call;

/// Rewrites `e` if it is a call of one of the JSON aggregates.
pub fn rewrite(e: &mut Expr) {
    let Expr::Function(f) = e else { return };
    let Some(ObjectNamePart::Identifier(name)) = f.name.0.last() else {
        return;
    };
    let (finish, to, object) = match name.value.to_lowercase().as_str() {
        "json_agg" => ("omendb_json_list", "to_json", false),
        "jsonb_agg" => ("omendb_jsonb_list", "to_jsonb", false),
        "json_object_agg" => ("omendb_json_object_list", "to_json", true),
        "jsonb_object_agg" => ("omendb_jsonb_object_list", "to_jsonb", true),
        _ => return,
    };
    let Some(args) = super::positional_args(f) else {
        return;
    };
    if args.len() != if object { 2 } else { 1 } {
        return;
    }
    // One array_agg per argument, each with the call's own clauses, so keys and values stay paired.
    let agg = |arg: Expr| {
        let mut a: Function = f.clone();
        a.name = ObjectName(vec![ObjectNamePart::Identifier(Ident::new("array_agg"))]);
        if let FunctionArguments::List(l) = &mut a.args {
            l.args = vec![FunctionArg::Unnamed(FunctionArgExpr::Expr(arg))];
        }
        Expr::Function(a)
    };
    let finished = if object {
        let mut args = args.into_iter();
        let (k, v) = (args.next(), args.next());
        let (Some(k), Some(v)) = (k, v) else { return };
        call(finish, vec![agg(k), agg(call(to, vec![v]))])
    } else {
        let v = args.into_iter().next();
        let Some(v) = v else { return };
        call(finish, vec![agg(call(to, vec![v]))])
    };
    *e = finished;
}
