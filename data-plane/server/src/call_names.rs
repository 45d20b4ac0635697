//! DataFusion names a function call after its arguments with their casts left out, so `max(id)` and
//! `max(id::bigint)`, or `count(id)` and `count(id::text)`, are two aggregates under one name, and the plan
//! node that computes both is refused ("duplicate unqualified field name"). PostgreSQL computes both. Calls
//! that differ but would share a name get their casts wrapped in `omendb_same`, an identity function that
//! names itself: `max(omendb_same(CAST(t.id AS Int64)))`. Every occurrence of a call is rewritten alike, so a
//! HAVING or ORDER BY still finds the aggregate the select list computes. (The client's column names were
//! taken before this: see names.rs.)

use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;

use arrow_schema::DataType;
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{
    Expr, Function, FunctionArg, FunctionArgExpr, FunctionArguments, Statement, Value,
    visit_expressions, visit_expressions_mut,
};

const SAME: &str = "omendb_same";

/// Gives calls that would share DataFusion's name distinct ones.
pub fn distinguish(stmt: &mut Statement) {
    // Calls by their name without casts, each with the distinct texts it is written in.
    let mut by_name: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let _ = visit_expressions(stmt, |e| {
        if matches!(e, Expr::Function(_)) && simple(e) {
            by_name.entry(uncast(e)).or_default().insert(e.to_string());
        }
        ControlFlow::<()>::Continue(())
    });
    // The first spelling keeps its name; the n-th after it gets its casts wrapped n times.
    let depth: BTreeMap<String, usize> = by_name
        .into_values()
        .filter(|texts| texts.len() > 1)
        .flat_map(|texts| texts.into_iter().enumerate().skip(1))
        .map(|(n, text)| (text, n))
        .collect();
    if depth.is_empty() {
        return;
    }
    let _ = visit_expressions_mut(stmt, |e| {
        if matches!(e, Expr::Function(_))
            && let Some(&n) = depth.get(&e.to_string())
            && let Expr::Function(f) = e
        {
            wrap_casts(f, n);
        }
        ControlFlow::<()>::Continue(())
    });
}

/// A call that calls nothing else (in its arguments, FILTER or OVER): rewriting it cannot change the text of
/// another call the map names.
fn simple(call: &Expr) -> bool {
    let mut calls = 0;
    let _ = visit_expressions(call, |inner| {
        calls += usize::from(matches!(inner, Expr::Function(_) | Expr::Subquery(_)));
        ControlFlow::<()>::Continue(())
    });
    calls == 1
}

/// The call's text with every cast replaced by what it casts, and without parentheses.
fn uncast(e: &Expr) -> String {
    let mut bare = e.clone();
    let _ = visit_expressions_mut(&mut bare, |e| {
        while let Expr::Cast { expr, .. } = e {
            *e = std::mem::replace(expr.as_mut(), Expr::Value(Value::Null.into()));
        }
        ControlFlow::<()>::Continue(())
    });
    bare.to_string().replace(['(', ')'], "")
}

fn wrap_casts(f: &mut Function, n: usize) {
    let FunctionArguments::List(list) = &mut f.args else {
        return;
    };
    for a in &mut list.args {
        let (FunctionArg::Unnamed(FunctionArgExpr::Expr(e))
        | FunctionArg::Named {
            arg: FunctionArgExpr::Expr(e),
            ..
        }) = a
        else {
            continue;
        };
        let _ = visit_expressions_mut(e, |inner| {
            if matches!(inner, Expr::Cast { .. }) {
                for _ in 0..n {
                    let cast = std::mem::replace(inner, Expr::Value(Value::Null.into()));
                    *inner = crate::ddl::call(SAME, vec![cast]);
                }
            }
            ControlFlow::<()>::Continue(())
        });
    }
}

/// The identity function the rewrite names casts with.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Same {
    signature: Signature,
}

impl ScalarUDFImpl for Same {
    fn name(&self) -> &str {
        SAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        Ok(args[0].clone())
    }

    fn invoke_with_args(&self, mut args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        Ok(args.args.swap_remove(0))
    }
}

pub fn register(ctx: &SessionContext) {
    ctx.register_udf(ScalarUDF::new_from_impl(Same {
        signature: Signature::any(1, Volatility::Immutable),
    }));
}
