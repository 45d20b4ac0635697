//! LATERAL subqueries (and a function over an earlier FROM item's columns, `FROM t, unnest(t.a)`, which
//! PostgreSQL reads as LATERAL) as a SubPlan per row of the left side: the subquery's rows for one left
//! row come back as one list of structs, which is unnested beside that row and taken apart into the
//! subquery's columns. Rows of the left side for which the subquery has none drop out (a cross join) or
//! keep NULLs (LEFT JOIN LATERAL ... ON true), as in PostgreSQL.

use std::sync::Weak;

use datafusion::common::tree_node::Transformed;
use datafusion::common::{Column, NullHandling, UnnestOptions};
use datafusion::error::Result;
use datafusion::execution::SessionState;
use datafusion::logical_expr::{Expr, JoinType, LogicalPlan, LogicalPlanBuilder};
use datafusion::scalar::ScalarValue;
use parking_lot::RwLock;

use super::sub_plan::{self, Form};

/// The column the subquery's rows travel in between the SubPlan and the unnest.
const ROWS: &str = "__omendb_lateral";

/// `node` with a lateral join rewritten, if it is one this handles.
pub(super) fn rewrite(
    node: LogicalPlan,
    state: &Weak<RwLock<SessionState>>,
) -> Result<Transformed<LogicalPlan>> {
    let LogicalPlan::Join(j) = &node else {
        return Ok(Transformed::no(node));
    };
    let keep_empty = match j.join_type {
        JoinType::Inner => false,
        JoinType::Left => true,
        _ => return Ok(Transformed::no(node)),
    };
    let always = match &j.filter {
        None => true,
        Some(Expr::Literal(ScalarValue::Boolean(Some(true)), _)) => true,
        Some(_) => false,
    };
    if !j.on.is_empty() || !always {
        return Ok(Transformed::no(node));
    }
    let (qualifier, subquery) = match j.right.as_ref() {
        LogicalPlan::SubqueryAlias(a) => match a.input.as_ref() {
            LogicalPlan::Subquery(s) => (Some(a.alias.clone()), s),
            _ => return Ok(Transformed::no(node)),
        },
        LogicalPlan::Subquery(s) => (None, s),
        _ => return Ok(Transformed::no(node)),
    };
    if subquery.outer_ref_columns.is_empty() {
        return Ok(Transformed::no(node));
    }
    let left = j.left.as_ref().clone();
    let right_fields: Vec<(Option<datafusion::common::TableReference>, String)> = j
        .right
        .schema()
        .iter()
        .map(|(q, f)| (q.cloned().or_else(|| qualifier.clone()), f.name().clone()))
        .collect();
    let call = sub_plan::call(
        Form::Rows { keep_empty },
        subquery,
        None,
        &[left.schema().as_ref()],
        state,
        None,
    )?;
    let kept: Vec<Expr> = left
        .schema()
        .columns()
        .into_iter()
        .map(Expr::Column)
        .collect();
    let mut first = kept.clone();
    first.push(call.alias(ROWS));
    let null_handling = if keep_empty {
        NullHandling::Preserve
    } else {
        NullHandling::Drop
    };
    let unnested = LogicalPlanBuilder::from(left)
        .project(first)?
        .unnest_column_with_options(
            Column::from_name(ROWS),
            UnnestOptions::new().with_null_handling(null_handling),
        )?
        .build()?;
    let mut last = kept;
    for (i, (q, name)) in right_fields.into_iter().enumerate() {
        let field = datafusion::functions::core::expr_fn::get_field(
            Expr::Column(Column::from_name(ROWS)),
            sub_plan::row_field(i),
        );
        last.push(match q {
            Some(q) => field.alias_qualified(Some(q), name),
            None => field.alias(name),
        });
    }
    Ok(Transformed::yes(
        LogicalPlanBuilder::from(unnested).project(last)?.build()?,
    ))
}
