//! One walk for the passes that give planned expressions PostgreSQL's meaning (text casts, enum order,
//! interval order, char(n)): every expression of every node, subqueries included, bottom-up, against the
//! node's input schema; a sort key can be replaced as a whole; output column names are kept.

use std::sync::Arc;

use datafusion::common::DFSchema;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::error::Result;
use datafusion::logical_expr::{Expr, LogicalPlan, Operator};

/// The schema a node's expressions are typed against (a join's conditions see both sides).
pub(crate) fn input_schema(node: &LogicalPlan) -> Arc<DFSchema> {
    let inputs = node.inputs();
    match inputs.as_slice() {
        [] => node.schema().clone(),
        [one] => one.schema().clone(),
        many => {
            let mut merged = DFSchema::empty();
            for i in many {
                merged.merge(i.schema());
            }
            Arc::new(merged)
        }
    }
}

/// Whether `op` compares its operands (what the passes give a type's own order or equality).
pub fn is_comparison(op: Operator) -> bool {
    matches!(
        op,
        Operator::Eq
            | Operator::NotEq
            | Operator::Lt
            | Operator::LtEq
            | Operator::Gt
            | Operator::GtEq
            | Operator::IsDistinctFrom
            | Operator::IsNotDistinctFrom
    )
}

/// What a pass does to one expression (given the schema it is evaluated against).
pub type ExprRule<'a> = &'a dyn Fn(Expr, &DFSchema) -> Result<Transformed<Expr>>;

/// `plan` with `each` applied to every sub-expression, and `sort_key` (if any) to each whole sort key.
pub fn rewrite(
    plan: LogicalPlan,
    each: ExprRule<'_>,
    sort_key: Option<ExprRule<'_>>,
) -> Result<LogicalPlan> {
    let out = plan.transform_up_with_subqueries(|node| {
        let schema = input_schema(&node);
        let keep_names = matches!(node, LogicalPlan::Projection(_) | LogicalPlan::Aggregate(_));
        let sorting = matches!(node, LogicalPlan::Sort(_));
        let node = node.map_expressions(|e| {
            let name = e.schema_name().to_string();
            let mut t = e.transform_up(|e| each(e, &schema))?;
            if sorting && let Some(key) = sort_key {
                let transformed = t.transformed;
                t = key(t.data, &schema)?;
                t.transformed |= transformed;
            }
            if t.transformed && keep_names {
                t.map_data(|e| e.alias_if_changed(name))
            } else {
                Ok(t)
            }
        })?;
        if node.transformed {
            // Expression names feed the node's schema: recompute it.
            node.map_data(|n| n.recompute_schema())
        } else {
            Ok(node)
        }
    })?;
    Ok(out.data)
}
