//! PostgreSQL's names for unaliased result columns: `count(*)` is `count`, `t.x` is `x`, an expression is
//! `?column?`. DataFusion names them after the whole expression; clients and tools show these names.

use datafusion::sql::sqlparser::ast::{Expr, Ident, SelectItem, SetExpr, Statement};

use crate::ddl::ident;

pub fn expr_name(e: &Expr) -> String {
    figure(e).0
}

/// PostgreSQL's FigureColname: a name and how strongly it names the expression (2: a column or function,
/// 1: a type or `case`, 0: nothing, `?column?`). A cast keeps a stronger name of what it casts, else is
/// named after its type, so `oid::regclass::text` is `oid`, `'t'::regclass::oid` is `oid` and
/// `(a + b)::int` is `int4`.
fn figure(e: &Expr) -> (String, u8) {
    let nothing = || ("?column?".to_string(), 0);
    match e {
        Expr::Identifier(i) => (ident(i), 2),
        Expr::CompoundIdentifier(parts) => (parts.last().map(ident).unwrap_or_default(), 2),
        Expr::Function(f) => match f.name.0.last().and_then(|p| p.as_ident()) {
            Some(i) => (i.value.to_lowercase(), 2),
            None => nothing(),
        },
        Expr::Nested(inner) => figure(inner),
        // A scalar subquery is named after its one column.
        Expr::Subquery(q) => match q.body.as_ref() {
            SetExpr::Select(s) => match s.projection.first() {
                Some(SelectItem::UnnamedExpr(e)) => figure(e),
                Some(SelectItem::ExprWithAlias { alias, .. }) => (ident(alias), 2),
                _ => nothing(),
            },
            _ => nothing(),
        },
        Expr::Cast {
            expr, data_type, ..
        } => match figure(expr) {
            (name, 2) => (name, 2),
            inner => match cast_name(data_type) {
                Some(name) => (name, 1),
                None => inner,
            },
        },
        Expr::Case { .. } => ("case".into(), 1),
        Expr::Array(_) => ("array".into(), 2),
        Expr::Exists { .. } => ("exists".into(), 2),
        Expr::Extract { .. } => ("extract".into(), 2),
        Expr::Substring { .. } => ("substring".into(), 2),
        Expr::Position { .. } => ("position".into(), 2),
        Expr::Ceil { .. } => ("ceil".into(), 2),
        Expr::Floor { .. } => ("floor".into(), 2),
        _ => nothing(),
    }
}

/// A cast constant is named after the type as written (its last name part), a built-in type by its
/// internal name (`'1'::integer` is `int4`): PostgreSQL's FigureColname.
fn cast_name(t: &datafusion::sql::sqlparser::ast::DataType) -> Option<String> {
    use datafusion::sql::sqlparser::ast::DataType as T;
    let t = match t {
        T::Array(datafusion::sql::sqlparser::ast::ArrayElemTypeDef::SquareBracket(e, _))
        | T::Array(datafusion::sql::sqlparser::ast::ArrayElemTypeDef::AngleBracket(e)) => e,
        t => t,
    };
    if let T::Custom(name, _) = t {
        return name.0.last().and_then(|p| p.as_ident()).map(ident);
    }
    let written = t.to_string().to_lowercase();
    let base = written.split('(').next().unwrap_or_default().trim();
    crate::pg_catalog::oids::type_by_name(base).and_then(|o| {
        crate::pg_catalog::oids::TYPES
            .get(&o)
            .map(|(n, _)| n.clone())
    })
}

/// Names for the result columns of a SELECT, when they can be matched to its select list one to one.
pub fn output_names(stmt: &Statement) -> Option<Vec<String>> {
    let Statement::Query(q) = stmt else {
        return None;
    };
    let SetExpr::Select(select) = q.body.as_ref() else {
        return None;
    };
    select
        .projection
        .iter()
        .map(|item| match item {
            SelectItem::UnnamedExpr(e) => Some(expr_name(e)),
            SelectItem::ExprWithAlias { alias, .. } => Some(ident(alias)),
            _ => None,
        })
        .collect()
}

/// Gives the second and later select-list items of a PostgreSQL output name (`SELECT a, a`, `SELECT 1, 1`,
/// `SELECT t, t::date`) aliases of their own: PostgreSQL allows duplicate result columns, DataFusion's
/// projections do not. Clients still see the PostgreSQL names (`output_names` of the statement as written).
pub fn distinct_output_names(stmt: &mut Statement) {
    // INSERT ... SELECT NULL, NULL: DataFusion wants distinct names there too (only positions matter).
    if let Statement::Insert(ins) = stmt
        && let Some(source) = ins.source.take()
    {
        let mut query = Statement::Query(source);
        distinct_output_names(&mut query);
        if let Statement::Query(source) = query {
            ins.source = Some(source);
        }
        return;
    }
    let Some(names) = output_names(stmt) else {
        return;
    };
    let Statement::Query(q) = stmt else {
        return;
    };
    let SetExpr::Select(select) = q.body.as_mut() else {
        return;
    };
    let mut seen = std::collections::HashSet::new();
    for (i, (item, name)) in select.projection.iter_mut().zip(names).enumerate() {
        if seen.insert(name.clone()) {
            // `SELECT v::text ... ORDER BY v`: DataFusion names the cast `v` too and then refuses the sort
            // column it adds beside it. PostgreSQL's output column is `v`, which ORDER BY v then means.
            if let SelectItem::UnnamedExpr(e @ Expr::Cast { .. }) = item
                && let Expr::Cast { expr, .. } = &*e
                && matches!(
                    expr.as_ref(),
                    Expr::Identifier(_) | Expr::CompoundIdentifier(_)
                )
            {
                let expr = std::mem::replace(
                    e,
                    Expr::Value(datafusion::sql::sqlparser::ast::Value::Null.into()),
                );
                *item = SelectItem::ExprWithAlias {
                    expr,
                    alias: Ident::with_quote('"', name),
                };
            }
            continue;
        }
        let alias = Ident::with_quote('"', format!("?{i}?{name}"));
        *item = match std::mem::replace(item, SelectItem::Wildcard(Default::default())) {
            SelectItem::UnnamedExpr(expr) | SelectItem::ExprWithAlias { expr, .. } => {
                SelectItem::ExprWithAlias { expr, alias }
            }
            other => other,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::parse;

    #[test]
    fn postgres_column_names() {
        let stmt = parse(
            "SELECT count(*), sum(t.x), t.y, z AS \"Zed\", 1 + 1, CAST(a AS int), now(), \
             (SELECT u.id FROM u LIMIT 1), (SELECT 1 AS one), ARRAY[1] FROM t",
        )
        .unwrap()
        .remove(0);
        assert_eq!(
            output_names(&stmt).unwrap(),
            vec![
                "count", "sum", "y", "Zed", "?column?", "a", "now", "id", "one", "array"
            ]
        );
        assert!(output_names(&parse("SELECT *, 1 FROM t").unwrap()[0]).is_none());
    }
}
