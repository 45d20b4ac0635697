//! Set-returning functions in FROM, in the forms DataFusion plans: `unnest(...)` as its own UNNEST (with
//! PostgreSQL's column naming and `WITH ORDINALITY`), and `generate_series` over a column as the unnest of
//! the array it returns.

use std::ops::ControlFlow;

use crate::ddl::call;
use datafusion::sql::sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, TableAliasColumnDef, TableFactor, Value, VisitorMut,
};

use super::syntax::strip_catalog;

/// Set-returning functions in FROM: `pg_catalog.unnest(a) x` is `unnest(a) AS x(x)`, PostgreSQL's naming
/// of a one-column function's output after its alias.
pub(super) struct TableFunctions;

impl VisitorMut for TableFunctions {
    type Break = ();

    fn post_visit_table_factor(&mut self, t: &mut TableFactor) -> ControlFlow<()> {
        if let TableFactor::UNNEST {
            alias,
            array_exprs,
            with_ordinality: true,
            with_offset: false,
            ..
        } = t
        {
            *t = unnest_factor(alias.take(), std::mem::take(array_exprs), true);
            return ControlFlow::Continue(());
        }
        if crate::json::rewrite_from_function(t) {
            return ControlFlow::Continue(());
        }
        if let TableFactor::Table {
            name,
            args: Some(args),
            alias,
            with_ordinality,
            ..
        } = t
        {
            strip_catalog(name);
            // generate_series over a column (a correlated one, pg_dump's `generate_series(0,
            // array_upper(pr.prattrs, 1))`) cannot be a table function, which DataFusion evaluates while
            // planning: it is the unnest of the array generate_series returns.
            if name.to_string().eq_ignore_ascii_case("generate_series")
                && args.args.iter().any(|a| {
                    matches!(a, FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) if names_column(e))
                })
            {
                let series = call("generate_series", unnamed_args(args));
                *t = unnest_factor(alias.clone(), vec![series], *with_ordinality);
                return ControlFlow::Continue(());
            }
            if *with_ordinality
                && name
                    .to_string()
                    .eq_ignore_ascii_case("pg_partition_ancestors")
            {
                // Its one row (the relation itself) is at depth 1.
                *name = datafusion::sql::sqlparser::ast::ObjectName::from(vec![
                    datafusion::sql::sqlparser::ast::Ident::new(
                        super::table_functions::ANCESTORS_DEPTH,
                    ),
                ]);
                *with_ordinality = false;
                return ControlFlow::Continue(());
            }
            if name.to_string().eq_ignore_ascii_case("unnest") {
                // DataFusion takes unnest in FROM in its own form only.
                *t = unnest_factor(alias.clone(), unnamed_args(args), *with_ordinality);
                return ControlFlow::Continue(());
            }
            let one_column = matches!(
                name.to_string().to_lowercase().as_str(),
                "unnest" | "generate_series"
            );
            if let Some(a) = alias
                && a.columns.is_empty()
                && one_column
            {
                a.columns = vec![TableAliasColumnDef::from_name(a.name.value.clone())];
            }
        }
        ControlFlow::Continue(())
    }
}

/// `unnest(a, ...) [WITH ORDINALITY] [AS alias(columns)]` in DataFusion's own form. One array's column is
/// named after the alias, as in PostgreSQL. DataFusion has no ordinality: it is one more array unnested
/// alongside, `generate_series(1, n)` for the longest array's `n` (unnest pads the shorter ones with
/// NULLs, as PostgreSQL's does), and its column is `ordinality` unless the alias names it.
fn unnest_factor(
    mut alias: Option<datafusion::sql::sqlparser::ast::TableAlias>,
    mut array_exprs: Vec<Expr>,
    with_ordinality: bool,
) -> TableFactor {
    if let Some(a) = &mut alias
        && a.columns.is_empty()
    {
        if array_exprs.len() == 1 {
            a.columns = vec![TableAliasColumnDef::from_name(a.name.value.clone())];
        }
        if with_ordinality && !a.columns.is_empty() {
            a.columns.push(TableAliasColumnDef::from_name("ordinality"));
        }
    }
    if with_ordinality {
        let lengths: Vec<Expr> = array_exprs
            .iter()
            .map(|a| call("cardinality", vec![a.clone()]))
            .collect();
        let n = match lengths.len() {
            1 => lengths.into_iter().next().unwrap_or_else(|| unreachable!()),
            _ => call("greatest", lengths),
        };
        let one = Expr::Value(Value::Number("1".into(), false).into());
        array_exprs.push(call("generate_series", vec![one, n]));
    }
    TableFactor::UNNEST {
        alias,
        array_exprs,
        with_offset: false,
        with_offset_alias: None,
        with_ordinality: false,
    }
}

/// A table function's positional arguments.
fn unnamed_args(args: &datafusion::sql::sqlparser::ast::TableFunctionArgs) -> Vec<Expr> {
    args.args
        .iter()
        .filter_map(|a| match a {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e.clone()),
            _ => None,
        })
        .collect()
}

/// Whether `e` reads a column.
fn names_column(e: &Expr) -> bool {
    let mut found = false;
    let _ = datafusion::sql::sqlparser::ast::visit_expressions(e, |x| {
        found |= matches!(x, Expr::Identifier(_) | Expr::CompoundIdentifier(_));
        ControlFlow::<()>::Continue(())
    });
    found
}
