//! Correlated subqueries DataFusion cannot decorrelate, run the way PostgreSQL's executor runs a SubPlan:
//! once per distinct set of outer values, with the answers cached for the statement.
//!
//! DataFusion turns most subqueries into joins, but not all: a correlated subquery under CASE or OR, in a
//! join condition, with a LIMIT, with an outer column in its output, or nested in a form its rules do not
//! know is refused (analysis) or left in the plan (which the physical planner then refuses). Two rules catch
//! those. An analyzer rule, after type coercion, replaces a correlated subquery that DataFusion's own
//! validity check would reject; an optimizer rule, after DataFusion's decorrelation rules, replaces any
//! subquery still left (a DataFusion rule that fails still fails the statement: `skip_failed_rules` would
//! make every rule copy the plan first). Each becomes a call of [`SubPlan`], a scalar function of the outer columns the
//! subquery reads: for each new combination of their values it substitutes them into the subquery's plan
//! as literals, plans and runs it (on the same session, so the same snapshot), and keeps the answer.

use std::sync::{Arc, Weak};

use chrono::{DateTime, Utc};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Column, DFSchema};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::SessionState;
use datafusion::logical_expr::expr::{Exists, InSubquery, SetComparison, SetQuantifier};
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::{
    Expr, LogicalPlan, Operator, Projection, Sort, Subquery, check_subquery_expr,
};
use datafusion::optimizer::analyzer::AnalyzerRule;
use datafusion::optimizer::{OptimizerConfig, OptimizerRule};
use datafusion::prelude::SessionContext;

mod lateral;
mod sub_plan;

use parking_lot::RwLock;
use sub_plan::{Form, SubPlan};

/// Adds the two rules to `ctx`: correlated subqueries of its statements run per outer row where DataFusion
/// cannot decorrelate them.
pub fn register(ctx: &SessionContext) {
    let state = ctx.state_weak_ref();
    ctx.add_analyzer_rule(Arc::new(Invalid(state.clone())));
    ctx.add_optimizer_rule(Arc::new(Leftover(state)));
}

/// The analyzer rule: correlated subqueries DataFusion's validity check rejects.
#[derive(Debug)]
struct Invalid(Weak<RwLock<SessionState>>);

impl AnalyzerRule for Invalid {
    fn analyze(&self, plan: LogicalPlan, _: &ConfigOptions) -> Result<LogicalPlan> {
        if !has_subquery(&plan) {
            return Ok(plan);
        }
        let state = &self.0;
        let out = plan.transform_up_with_subqueries(|node| {
            let node = lateral::rewrite(node, state)?;
            if node.transformed {
                return Ok(node);
            }
            let (node, selected) = widen_sort_input(node.data)?;
            let outer = node.clone();
            let out = replace(node, &|e| {
                let s = subquery_of(e)?;
                (!s.outer_ref_columns.is_empty()
                    && (check_subquery_expr(&outer, &s.subquery, e).is_err()
                        || !outer_refs_only_in_filters(&s.subquery)
                        || reaches_further_out(s)))
                .then(|| sub_plan(e, &outer, state, None))
            })?;
            match selected {
                None => Ok(out),
                Some(columns) => Ok(Transformed::yes(LogicalPlan::Projection(
                    Projection::try_new(columns, Arc::new(out.data))?,
                ))),
            }
        })?;
        recomputed(out).map(|t| t.data)
    }

    fn name(&self) -> &str {
        "omendb_correlated_subplans"
    }
}

/// Whether `plan` has a subquery expression or a Subquery node (LATERAL) anywhere. Most statements have
/// none, and both rules then return at once: they run for every statement.
fn has_subquery(plan: &LogicalPlan) -> bool {
    plan.exists(|node| {
        if matches!(node, LogicalPlan::Subquery(_)) {
            return Ok(true);
        }
        let mut found = false;
        node.apply_expressions(|e| {
            found = e.exists(|x| Ok(subquery_of(x).is_some()))?;
            Ok(if found {
                TreeNodeRecursion::Stop
            } else {
                TreeNodeRecursion::Continue
            })
        })?;
        Ok(found)
    })
    .unwrap_or(true)
}

/// ORDER BY a correlated subquery that reads columns the select list does not have: the select list
/// below the sort gains them, and a projection above it gives the original columns (returned), as
/// DataFusion does for ORDER BY of unselected columns.
fn widen_sort_input(node: LogicalPlan) -> Result<(LogicalPlan, Option<Vec<Expr>>)> {
    let LogicalPlan::Sort(sort) = &node else {
        return Ok((node, None));
    };
    let LogicalPlan::Projection(p) = sort.input.as_ref() else {
        return Ok((node, None));
    };
    let mut missing: Vec<Column> = vec![];
    for k in &sort.expr {
        k.expr.apply(|x| {
            if let Some(s) = subquery_of(x) {
                for r in &s.outer_ref_columns {
                    if let Expr::OuterReferenceColumn(_, c) = r
                        && !p.schema.has_column(c)
                        && p.input.schema().has_column(c)
                        && !missing.contains(c)
                    {
                        missing.push(c.clone());
                    }
                }
            }
            Ok(TreeNodeRecursion::Continue)
        })?;
    }
    if missing.is_empty() {
        return Ok((node, None));
    }
    let selected: Vec<Expr> = p.schema.columns().into_iter().map(Expr::Column).collect();
    let mut exprs = p.expr.clone();
    exprs.extend(missing.into_iter().map(Expr::Column));
    let widened = Projection::try_new(exprs, Arc::clone(&p.input))?;
    let sorted = Sort {
        expr: sort.expr.clone(),
        input: Arc::new(LogicalPlan::Projection(widened)),
        fetch: sort.fetch,
    };
    Ok((LogicalPlan::Sort(sorted), Some(selected)))
}

/// Whether every outer column `plan` reads is read in a filter: DataFusion decorrelates by pulling
/// correlated filters up into a join, and an outer column anywhere else (a projection, an unnest's
/// input, a join condition) would be left behind for the physical planner to refuse.
fn outer_refs_only_in_filters(plan: &LogicalPlan) -> bool {
    let mut only = true;
    let _ = plan.apply(|node| {
        if matches!(node, LogicalPlan::Filter(_)) {
            return Ok(TreeNodeRecursion::Continue);
        }
        node.apply_expressions(|e| {
            e.apply(|x| {
                if matches!(x, Expr::OuterReferenceColumn(..)) {
                    only = false;
                    return Ok(TreeNodeRecursion::Stop);
                }
                Ok(TreeNodeRecursion::Continue)
            })
        })?;
        Ok(if only {
            TreeNodeRecursion::Continue
        } else {
            TreeNodeRecursion::Stop
        })
    });
    only
}

/// The optimizer rule, after DataFusion's own: every subquery its decorrelation left in the plan.
#[derive(Debug)]
struct Leftover(Weak<RwLock<SessionState>>);

impl OptimizerRule for Leftover {
    fn name(&self) -> &str {
        "omendb_leftover_subplans"
    }

    fn rewrite(
        &self,
        plan: LogicalPlan,
        config: &dyn OptimizerConfig,
    ) -> Result<Transformed<LogicalPlan>> {
        if !has_subquery(&plan) {
            return Ok(Transformed::no(plan));
        }
        let start = config.query_execution_start_time();
        let state = &self.0;
        let plan = recomputed(plan.transform_up_with_subqueries(|node| {
            let outer = node.clone();
            replace(node, &|e| {
                subquery_of(e)?;
                Some(sub_plan(e, &outer, state, start))
            })
        })?)?;
        // SubPlans the analyzer made learn the statement's start time here (now() inside them).
        plan.data.apply_with_subqueries(|node| {
            node.apply_expressions(|e| {
                e.apply(|x| {
                    if let Expr::ScalarFunction(f) = x
                        && let Some(p) = f.func.inner().downcast_ref::<SubPlan>()
                        && let Some(t) = start
                    {
                        let _ = p.start.set(t);
                    }
                    Ok(TreeNodeRecursion::Continue)
                })
            })
        })?;
        Ok(plan)
    }
}

/// A rewritten plan with every node's schema derived again: a SubPlan's value may be NULL where the
/// subquery's column is NOT NULL (no row), and the nodes above must say so.
fn recomputed(plan: Transformed<LogicalPlan>) -> Result<Transformed<LogicalPlan>> {
    if !plan.transformed {
        return Ok(plan);
    }
    let data = plan
        .data
        .transform_up_with_subqueries(|n| n.recompute_schema().map(Transformed::yes))?
        .data;
    Ok(Transformed::yes(data))
}

/// Whether a subquery nested in `s` reads columns of the query `s` is nested in (two levels out):
/// DataFusion's decorrelation does not follow those.
fn reaches_further_out(s: &Subquery) -> bool {
    let outer: Vec<&Column> = s
        .outer_ref_columns
        .iter()
        .filter_map(|e| match e {
            Expr::OuterReferenceColumn(_, c) => Some(c),
            _ => None,
        })
        .collect();
    let mut found = false;
    let _ = s.subquery.apply_with_subqueries(|node| {
        node.apply_expressions(|e| {
            e.apply(|x| {
                if let Some(nested) = subquery_of(x)
                    && nested.outer_ref_columns.iter().any(
                        |r| matches!(r, Expr::OuterReferenceColumn(_, c) if outer.contains(&c)),
                    )
                {
                    found = true;
                    return Ok(TreeNodeRecursion::Stop);
                }
                Ok(TreeNodeRecursion::Continue)
            })
        })
    });
    found
}

/// `node` with each subquery expression `pick` chooses replaced by what it returns, output names kept.
fn replace(
    node: LogicalPlan,
    pick: &dyn Fn(&Expr) -> Option<Result<Expr>>,
) -> Result<Transformed<LogicalPlan>> {
    map_keeping_names(node, |e| {
        e.transform_down(|x| match pick(&x) {
            Some(r) => Ok(Transformed::new(r?, true, TreeNodeRecursion::Jump)),
            None => Ok(Transformed::no(x)),
        })
    })
}

/// `node` with `f` applied to each of its expressions, each rewritten one keeping the name it had (an
/// output column's name must not change under the nodes that refer to it).
fn map_keeping_names(
    node: LogicalPlan,
    mut f: impl FnMut(Expr) -> Result<Transformed<Expr>>,
) -> Result<Transformed<LogicalPlan>> {
    let names = NamePreserver::new(&node);
    node.map_expressions(|e| {
        let saved = names.save(&e);
        let out = f(e)?;
        Ok(if out.transformed {
            out.update_data(|x| saved.restore(x))
        } else {
            out
        })
    })
}

fn subquery_of(e: &Expr) -> Option<&Subquery> {
    match e {
        Expr::ScalarSubquery(s) => Some(s),
        Expr::Exists(Exists { subquery, .. })
        | Expr::InSubquery(InSubquery { subquery, .. })
        | Expr::SetComparison(SetComparison { subquery, .. }) => Some(subquery),
        _ => None,
    }
}

/// The call of a SubPlan replacing subquery expression `e` of plan node `outer`.
fn sub_plan(
    e: &Expr,
    outer: &LogicalPlan,
    state: &Weak<RwLock<SessionState>>,
    start: Option<DateTime<Utc>>,
) -> Result<Expr> {
    let (form, subquery, compared) = match e {
        Expr::ScalarSubquery(s) => (Form::Scalar, s, None),
        Expr::Exists(x) => (Form::Exists { negated: x.negated }, &x.subquery, None),
        Expr::InSubquery(x) => (
            Form::Quantified {
                op: if x.negated {
                    Operator::NotEq
                } else {
                    Operator::Eq
                },
                all: x.negated,
            },
            &x.subquery,
            Some(x.expr.as_ref().clone()),
        ),
        Expr::SetComparison(x) => (
            Form::Quantified {
                op: x.op,
                all: x.quantifier == SetQuantifier::All,
            },
            &x.subquery,
            Some(x.expr.as_ref().clone()),
        ),
        _ => return Err(DataFusionError::Internal("not a subquery".into())),
    };
    // The schemas the node's expressions read: its inputs', or a table scan's own.
    let mut inputs: Vec<&DFSchema> = outer.inputs().iter().map(|p| p.schema().as_ref()).collect();
    if inputs.is_empty() {
        inputs.push(outer.schema().as_ref());
    }
    sub_plan::call(form, subquery, compared, &inputs, state, start)
}
