//! Scalar subqueries as PostgreSQL runs them. DataFusion plans a correlated scalar subquery only when it is
//! aggregated; PostgreSQL takes any one-column subquery and fails at run time (21000) when it returns more
//! than one row. So a plain subquery's one output expression is wrapped in `omendb_single(..)`, an aggregate
//! that is NULL over no rows, the value over one, and 21000 over more: exactly PostgreSQL's rule, now in a
//! form DataFusion decorrelates. A filter of the subquery on outer columns only becomes a CASE around it.

use std::ops::ControlFlow;
use std::sync::Arc;

use crate::ddl::call;
use arrow_array::{ArrayRef, Int64Array};
use arrow_schema::{DataType, Field, FieldRef};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;
use datafusion::scalar::ScalarValue;
use datafusion::sql::sqlparser::ast::helpers::attached_token::AttachedToken;
use datafusion::sql::sqlparser::ast::{
    BinaryOperator, CaseWhen, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, GroupByExpr,
    Query, Select, SelectItem, SetExpr, Statement, TableFactor, Value, VisitMut, VisitorMut,
    visit_expressions_mut,
};

const NAME: &str = "omendb_single";

/// Aggregates a statement's plain scalar subqueries could hide in their one output expression.
const AGGREGATES: &[&str] = &[
    "count",
    "sum",
    "min",
    "max",
    "avg",
    "array_agg",
    "string_agg",
    "bool_and",
    "bool_or",
    "every",
    "json_agg",
    "json_object_agg",
    "stddev",
    "variance",
    "bit_and",
    "bit_or",
    NAME,
];

pub fn rewrite(stmt: &mut Statement) {
    let _ = stmt.visit(&mut OutputExists);
    let _ = stmt.visit(&mut Scalars::default());
}

/// Every scalar subquery through [`scalar`]; the subquery of `x op ANY|ALL (subquery)` is a set, not a
/// scalar, and only what is inside it is rewritten.
#[derive(Default)]
struct Scalars {
    sets: Vec<Query>,
}

impl VisitorMut for Scalars {
    type Break = ();

    fn pre_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
        if let Expr::AnyOp { right, .. } | Expr::AllOp { right, .. } = e
            && let Expr::Subquery(q) = right.as_mut()
        {
            let mut q = std::mem::replace(q.as_mut(), PLACEHOLDER.clone());
            let _ = q.visit(self);
            self.sets.push(q);
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
        match e {
            Expr::AnyOp { right, .. } | Expr::AllOp { right, .. } if matches!(right.as_ref(), Expr::Subquery(q) if **q == *PLACEHOLDER) => {
                if let Some(q) = self.sets.pop() {
                    **right = Expr::Subquery(Box::new(q));
                }
            }
            Expr::Subquery(q) if **q != *PLACEHOLDER => *e = scalar(q.as_ref().clone()),
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

/// What stands in for a set subquery while the expression around it is visited.
static PLACEHOLDER: std::sync::LazyLock<Query> = std::sync::LazyLock::new(|| {
    match crate::session::parse("SELECT 'omendb set subquery'").map(|mut s| s.pop()) {
        Ok(Some(Statement::Query(q))) => *q,
        _ => unreachable!("a SELECT parses as a query"),
    }
});

/// EXISTS in a SELECT's output columns as a count: DataFusion decorrelates EXISTS only in a filter.
struct OutputExists;

impl VisitorMut for OutputExists {
    type Break = ();

    fn post_visit_select(&mut self, s: &mut Select) -> ControlFlow<()> {
        for item in &mut s.projection {
            if let SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } = item {
                let _ = visit_expressions_mut(e, |x| {
                    if let Expr::Exists { subquery, negated } = x {
                        *x = exists_as_count(subquery.as_ref().clone(), *negated);
                    }
                    ControlFlow::<()>::Continue(())
                });
            }
        }
        ControlFlow::Continue(())
    }
}

/// `EXISTS (q)` as `(SELECT count(1) FROM ...) > 0` (`= 0` for NOT EXISTS), outer-only filters of `q`
/// taken out as a guard.
fn exists_as_count(mut q: Query, negated: bool) -> Expr {
    if let SetExpr::Select(s) = q.body.as_mut() {
        s.projection = vec![SelectItem::UnnamedExpr(call(
            "count",
            vec![Expr::Value(Value::Number("1".into(), false).into())],
        ))];
    }
    let outer = take_outer_conjuncts(&mut q);
    let count = Expr::BinaryOp {
        left: Box::new(Expr::Subquery(Box::new(q))),
        op: if negated {
            BinaryOperator::Eq
        } else {
            BinaryOperator::Gt
        },
        right: Box::new(Expr::Value(Value::Number("0".into(), false).into())),
    };
    match (outer, negated) {
        (None, _) => count,
        (Some(o), false) => and(o, count),
        // NOT EXISTS holds when the outer filter fails, or no row matches the rest.
        (Some(o), true) => Expr::BinaryOp {
            left: Box::new(Expr::UnaryOp {
                op: datafusion::sql::sqlparser::ast::UnaryOperator::Not,
                expr: Box::new(Expr::Nested(Box::new(o))),
            }),
            op: BinaryOperator::Or,
            right: Box::new(count),
        },
    }
}

/// A scalar subquery in a form DataFusion plans.
fn scalar(mut q: Query) -> Expr {
    if let Some(e) = hoist_outer_arguments(&q) {
        return e;
    }
    wrap(&mut q);
    let outer = take_outer_conjuncts(&mut q);
    guarded(outer, Expr::Subquery(Box::new(q)))
}

/// `CASE WHEN condition THEN e END`, or `e` without a condition.
fn guarded(condition: Option<Expr>, e: Expr) -> Expr {
    match condition {
        None => e,
        Some(condition) => Expr::Case {
            case_token: AttachedToken::empty(),
            end_token: AttachedToken::empty(),
            operand: None,
            conditions: vec![CaseWhen {
                condition,
                result: e,
            }],
            else_result: None,
        },
    }
}

/// DataFusion cannot decorrelate outer columns in a subquery's output. When the output is a function call
/// whose arguments each name either only outer columns or only the subquery's own, the call moves out:
/// `(SELECT f(o, i) FROM d WHERE p)` is `CASE WHEN EXISTS (SELECT 1 FROM d WHERE p) THEN f(o, (SELECT i
/// FROM d WHERE p)) END` (the EXISTS written as a count), which is NULL when no row matches, as the
/// original is.
fn hoist_outer_arguments(q: &Query) -> Option<Expr> {
    let SetExpr::Select(s) = q.body.as_ref() else {
        return None;
    };
    let inner = relation_names(s)?;
    let (SelectItem::UnnamedExpr(Expr::Function(f))
    | SelectItem::ExprWithAlias {
        expr: Expr::Function(f),
        ..
    }) = s.projection.first()?
    else {
        return None;
    };
    if s.projection.len() != 1 || has_aggregate(&Expr::Function(f.clone())) {
        return None;
    }
    let FunctionArguments::List(list) = &f.args else {
        return None;
    };
    let args: Vec<&Expr> = list
        .args
        .iter()
        .map(|a| match a {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e),
            _ => None,
        })
        .collect::<Option<_>>()?;
    if !args.iter().any(|a| names_outer(a, &inner)) {
        return None;
    }
    let with_output = |e: Expr| {
        let mut sub = q.clone();
        if let SetExpr::Select(s) = sub.body.as_mut() {
            s.projection = vec![SelectItem::UnnamedExpr(e)];
        }
        sub
    };
    let mut outer_call = f.clone();
    let mut new_args = Vec::with_capacity(args.len());
    for a in args {
        let own = columns(a).iter().any(|q| inner.contains(q));
        new_args.push(match (own, names_outer(a, &inner)) {
            (false, _) => a.clone(),
            (true, false) => scalar(with_output(a.clone())),
            (true, true) => return None,
        });
    }
    if let FunctionArguments::List(l) = &mut outer_call.args {
        l.args = new_args
            .into_iter()
            .map(|a| FunctionArg::Unnamed(FunctionArgExpr::Expr(a)))
            .collect();
    }
    let condition = exists_as_count(q.clone(), false);
    Some(guarded(Some(condition), Expr::Function(outer_call)))
}

/// The names the subquery's FROM gives its relations (alias, else table name), or `None` when it has
/// something else (a derived table, a function) whose names only DataFusion can tell.
fn relation_names(s: &Select) -> Option<Vec<String>> {
    let mut inner: Vec<String> = vec![];
    for t in &s.from {
        for f in std::iter::once(&t.relation).chain(t.joins.iter().map(|j| &j.relation)) {
            match f {
                TableFactor::Table { name, alias, .. } => {
                    inner.push(match alias {
                        Some(a) => a.name.value.to_lowercase(),
                        None => name.0.last()?.to_string().to_lowercase(),
                    });
                }
                _ => return None,
            }
        }
    }
    Some(inner)
}

/// The qualifiers of the qualified columns `e` names (`a` of `a.x`, `pg_class` of `pg_catalog.pg_class.x`).
fn columns(e: &Expr) -> Vec<String> {
    let mut out = vec![];
    let _ = datafusion::sql::sqlparser::ast::visit_expressions(e, |x| {
        if let Expr::CompoundIdentifier(parts) = x
            && parts.len() >= 2
        {
            out.push(parts[parts.len() - 2].value.to_lowercase());
        }
        ControlFlow::<()>::Continue(())
    });
    out
}

fn names_outer(e: &Expr, inner: &[String]) -> bool {
    columns(e).iter().any(|q| !inner.contains(q))
}

/// The conjuncts of a scalar subquery's WHERE that name only the outer query's columns, taken out of it:
/// DataFusion cannot decorrelate a filter with no column of its own, and `(SELECT x FROM d WHERE o AND p)`
/// is `CASE WHEN o THEN (SELECT x FROM d WHERE p) END` (no row and a false `o` are both NULL).
fn take_outer_conjuncts(q: &mut Query) -> Option<Expr> {
    let SetExpr::Select(s) = q.body.as_mut() else {
        return None;
    };
    let inner = relation_names(s)?;
    let mut conjuncts = vec![];
    split_and(s.selection.take()?, &mut conjuncts);
    let (outer, own): (Vec<Expr>, Vec<Expr>) =
        conjuncts.into_iter().partition(|c| outer_only(c, &inner));
    s.selection = own.into_iter().reduce(and);
    outer.into_iter().reduce(and)
}

fn split_and(e: Expr, out: &mut Vec<Expr>) {
    match e {
        Expr::BinaryOp {
            left,
            op: BinaryOperator::And,
            right,
        } => {
            split_and(*left, out);
            split_and(*right, out);
        }
        Expr::Nested(inner)
            if matches!(
                inner.as_ref(),
                Expr::BinaryOp {
                    op: BinaryOperator::And,
                    ..
                }
            ) =>
        {
            split_and(*inner, out)
        }
        e => out.push(e),
    }
}

fn and(a: Expr, b: Expr) -> Expr {
    Expr::BinaryOp {
        left: Box::new(a),
        op: BinaryOperator::And,
        right: Box::new(b),
    }
}

/// Whether every column `c` names is qualified by a relation the subquery does not have (and it has at
/// least one column, and no subquery of its own).
fn outer_only(c: &Expr, inner: &[String]) -> bool {
    let mut columns = 0;
    let mut outer = true;
    let _ = datafusion::sql::sqlparser::ast::visit_expressions(c, |x| {
        match x {
            Expr::CompoundIdentifier(parts) if parts.len() >= 2 => {
                columns += 1;
                let q = parts[parts.len() - 2].value.to_lowercase();
                if inner.contains(&q) {
                    outer = false;
                }
            }
            Expr::Identifier(_)
            | Expr::Subquery(_)
            | Expr::Exists { .. }
            | Expr::InSubquery { .. } => outer = false,
            _ => {}
        }
        if outer {
            ControlFlow::Continue(())
        } else {
            ControlFlow::Break(())
        }
    });
    outer && columns > 0
}

fn wrap(q: &mut Query) {
    if q.with.is_some() || q.limit_clause.is_some() || q.fetch.is_some() || q.order_by.is_some() {
        return;
    }
    let SetExpr::Select(s) = q.body.as_mut() else {
        return;
    };
    let plain_group =
        matches!(&s.group_by, GroupByExpr::Expressions(e, m) if e.is_empty() && m.is_empty());
    if s.projection.len() != 1 || !plain_group || s.having.is_some() || s.distinct.is_some() {
        return;
    }
    let (SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. }) =
        &mut s.projection[0]
    else {
        return;
    };
    if has_aggregate(e) {
        return;
    }
    *e = call(NAME, vec![e.clone()]);
}

fn has_aggregate(e: &Expr) -> bool {
    let mut found = false;
    let _ = datafusion::sql::sqlparser::ast::visit_expressions(e, |x| {
        if let Expr::Function(f) = x
            && f.over.is_none()
            && AGGREGATES.contains(&f.name.to_string().to_lowercase().as_str())
        {
            found = true;
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    });
    found
}

pub fn register(ctx: &SessionContext) {
    ctx.register_udaf(AggregateUDF::from(Single {
        signature: Signature::any(1, Volatility::Immutable),
    }));
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Single {
    signature: Signature,
}

impl AggregateUDFImpl for Single {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        Ok(args[0].clone())
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(SingleAcc {
            value: ScalarValue::try_from(args.return_field.data_type())?,
            rows: 0,
        }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![
            Arc::new(Field::new(
                format!("{}_value", args.name),
                args.return_type().clone(),
                true,
            )),
            Arc::new(Field::new(
                format!("{}_rows", args.name),
                DataType::Int64,
                true,
            )),
        ])
    }
}

#[derive(Debug)]
struct SingleAcc {
    value: ScalarValue,
    rows: i64,
}

impl SingleAcc {
    fn add(&mut self, values: &ArrayRef, rows: Option<&Int64Array>) -> Result<()> {
        for i in 0..values.len() {
            let n = rows.map_or(1, |r| r.value(i));
            if n == 0 {
                continue;
            }
            self.rows += n;
            if self.rows > 1 {
                return Err(DataFusionError::External(Box::new(
                    crate::error::Error::sql(
                        "21000",
                        "more than one row returned by a subquery used as an expression",
                    ),
                )));
            }
            self.value = ScalarValue::try_from_array(values, i)?;
        }
        Ok(())
    }
}

impl Accumulator for SingleAcc {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.add(&values[0], None)
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let rows = states[1]
            .as_any()
            .downcast_ref::<Int64Array>()
            .ok_or_else(|| DataFusionError::Internal("omendb_single state".into()))?;
        self.add(&states[0], Some(rows))
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![
            self.value.clone(),
            ScalarValue::Int64(Some(self.rows)),
        ])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(self.value.clone())
    }

    fn size(&self) -> usize {
        size_of_val(self) + self.value.size()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    fn rw(sql: &str) -> String {
        let mut s = Parser::parse_sql(&PostgreSqlDialect {}, sql)
            .unwrap()
            .remove(0);
        rewrite(&mut s);
        s.to_string()
    }

    #[test]
    fn plain_subqueries_are_wrapped() {
        assert_eq!(
            rw("SELECT (SELECT b.x FROM b WHERE b.id = a.id) FROM a"),
            "SELECT (SELECT omendb_single(b.x) FROM b WHERE b.id = a.id) FROM a"
        );
        assert_eq!(
            rw("SELECT (SELECT d.x FROM d WHERE a.flag AND d.id = a.id) FROM a"),
            "SELECT CASE WHEN a.flag THEN (SELECT omendb_single(d.x) FROM d WHERE d.id = a.id) END FROM a"
        );
        assert_eq!(
            rw(
                "SELECT (SELECT f('k', a.x = 1, 's', d.y) FROM d WHERE a.flag AND d.id = a.id) FROM a"
            ),
            "SELECT CASE WHEN a.flag AND (SELECT count(1) FROM d WHERE d.id = a.id) > 0 THEN f('k', a.x = 1, 's', \
             CASE WHEN a.flag THEN (SELECT omendb_single(d.y) FROM d WHERE d.id = a.id) END) END FROM a"
        );
        // Aggregated, limited or multi-column subqueries are DataFusion's already.
        assert_eq!(
            rw(
                "SELECT a.x AND EXISTS (SELECT 1 FROM b WHERE b.id = a.id AND a.y) FROM a WHERE EXISTS (SELECT 1 FROM b)"
            ),
            "SELECT a.x AND a.y AND (SELECT count(1) FROM b WHERE b.id = a.id) > 0 FROM a WHERE EXISTS (SELECT 1 FROM b)"
        );
        for sql in [
            "SELECT (SELECT count(*) FROM b WHERE b.id = a.id) FROM a",
            "SELECT (SELECT b.x FROM b WHERE b.id = a.id LIMIT 1) FROM a",
            "SELECT * FROM a WHERE EXISTS (SELECT 1 FROM b)",
            "SELECT * FROM a WHERE a.id IN (SELECT id FROM b)",
        ] {
            assert_eq!(rw(sql), sql);
        }
    }
}
