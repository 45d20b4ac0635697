//! UPDATE ... FROM and DELETE ... USING, which DataFusion 55 refuses to plan: the statement is planned as
//! the SELECT of the rows it writes (the target table first in FROM, so its columns, key included, lead the
//! join's schema), and that plan becomes the DML's input. The writes then take the same path as any UPDATE
//! or DELETE: row locks, READ COMMITTED's re-check of a row a concurrent commit changed (the join re-run for
//! that key), RETURNING.

use std::collections::HashSet;
use std::sync::Arc;

use arrow_array::{BooleanArray, RecordBatch};
use datafusion::common::tree_node::TreeNode;
use datafusion::logical_expr::{
    DmlStatement, Expr, ExprSchemable, LogicalPlan, Projection, WriteOp,
};
use datafusion::sql::sqlparser::ast::{self, Statement};
use omendb_storage::{TableDef, column_key_at};

use crate::error::{Error, Result, code};

/// A joined UPDATE or DELETE, rewritten as its SELECT; `into_dml` makes the plan a write again.
#[derive(Debug)]
pub(super) struct Joined {
    op: WriteOp,
    /// The target's column types, in table order (UPDATE only: its SELECT computes each new value).
    types: Vec<arrow_schema::DataType>,
}

impl Joined {
    /// Rewrites `stmt` into the SELECT of its rows when it is an UPDATE with FROM or a DELETE with USING;
    /// `def` is the target table's definition.
    pub fn take(
        stmt: &mut Statement,
        def: impl FnOnce(&ast::ObjectName) -> Result<Option<TableDef>>,
    ) -> Result<Option<Joined>> {
        let (sql, op, types) = match stmt {
            Statement::Update(u) if u.from.is_some() => {
                let ast::TableFactor::Table { name, alias, .. } = &u.table.relation else {
                    return Ok(None);
                };
                let Some(def) = def(name)? else {
                    return Ok(None);
                };
                let from = match u.from.take() {
                    Some(ast::UpdateTableFromKind::BeforeSet(f))
                    | Some(ast::UpdateTableFromKind::AfterSet(f)) => f,
                    None => vec![],
                };
                let qualifier = qualifier(name, alias.as_ref());
                let mut values: Vec<Option<&ast::Expr>> = vec![None; def.columns.len()];
                for a in &u.assignments {
                    let ast::AssignmentTarget::ColumnName(c) = &a.target else {
                        return Err(Error::unsupported("a column list in UPDATE ... FROM's SET"));
                    };
                    let column = c.0.last().and_then(|p| p.as_ident()).map(crate::ddl::ident);
                    let column = column.unwrap_or_default();
                    let Some(i) = def.columns.iter().position(|d| d.name == column) else {
                        return Err(Error::sql(
                            code::UNDEFINED_COLUMN,
                            format!(
                                "column \"{column}\" of relation \"{}\" does not exist",
                                crate::search_path::split(&def.name).1
                            ),
                        ));
                    };
                    if values[i].is_some() {
                        return Err(Error::sql(
                            code::SYNTAX_ERROR,
                            format!("multiple assignments to same column \"{column}\""),
                        ));
                    }
                    values[i] = Some(&a.value);
                }
                let items: Vec<String> = def
                    .columns
                    .iter()
                    .zip(&values)
                    .map(|(c, v)| {
                        let name = ast::Ident::with_quote('"', &c.name);
                        match v {
                            Some(v) => format!("({v}) AS {name}"),
                            None => format!("{qualifier}.{name}"),
                        }
                    })
                    .collect();
                let types = def.columns.iter().map(|c| c.data_type.arrow()).collect();
                let sql = select(&items, &u.table, &from, u.selection.as_ref());
                (sql, WriteOp::Update, types)
            }
            Statement::Delete(d) if d.using.is_some() => {
                let (ast::FromTable::WithFromKeyword(targets)
                | ast::FromTable::WithoutKeyword(targets)) = &d.from;
                let [target] = targets.as_slice() else {
                    return Ok(None);
                };
                let ast::TableFactor::Table { name, alias, .. } = &target.relation else {
                    return Ok(None);
                };
                // All the target's columns as the scan has them (the hidden row id included).
                let items = [format!("{}.*", qualifier(name, alias.as_ref()))];
                let using = d.using.take().unwrap_or_default();
                let sql = select(&items, target, &using, d.selection.as_ref());
                (sql, WriteOp::Delete, vec![])
            }
            _ => return Ok(None),
        };
        let mut parsed = super::parse(&sql)?;
        if parsed.len() != 1 {
            return Err(Error::sql(code::INTERNAL, "joined DML did not parse"));
        }
        *stmt = parsed.remove(0);
        Ok(Some(Joined { op, types }))
    }

    /// The planned SELECT as the DML's input: for UPDATE, each new value cast to its column's type.
    pub fn into_dml(self, plan: LogicalPlan) -> Result<LogicalPlan> {
        let LogicalPlan::Projection(p) = plan else {
            return Err(Error::sql(code::INTERNAL, "unexpected joined DML plan"));
        };
        let (table_name, source) = target_scan(&p.input)?;
        let input = match self.op {
            WriteOp::Update => {
                let schema = p.input.schema();
                let exprs = p
                    .expr
                    .iter()
                    .zip(&self.types)
                    .zip(p.schema.fields())
                    .map(|((e, t), f)| {
                        let (e, alias) = match e {
                            Expr::Alias(a) => (a.expr.as_ref().clone(), a.name.clone()),
                            e => (e.clone(), f.name().clone()),
                        };
                        // A parameter assigned to a column takes the column's type, as DataFusion's
                        // own UPDATE does.
                        let e = match e {
                            Expr::Placeholder(mut ph) if ph.field.is_none() => {
                                ph.field = Some(Arc::new(arrow_schema::Field::new(
                                    f.name(),
                                    t.clone(),
                                    true,
                                )));
                                Expr::Placeholder(ph)
                            }
                            e => e,
                        };
                        Ok(e.cast_to(t, schema)?.alias(alias))
                    })
                    .collect::<Result<Vec<_>>>()?;
                LogicalPlan::Projection(Projection::try_new(exprs, p.input.clone())?)
            }
            _ => LogicalPlan::Projection(p),
        };
        Ok(LogicalPlan::Dml(DmlStatement::new(
            table_name,
            source,
            self.op,
            Arc::new(input),
        )))
    }
}

/// Whether a DML input joins other relations, so that one target row can come more than once.
pub(super) fn joins(input: &LogicalPlan) -> bool {
    input
        .exists(|p| Ok(matches!(p, LogicalPlan::Join(_))))
        .unwrap_or(false)
}

/// PostgreSQL writes a target row once however many rows of FROM / USING it joins (with the first of
/// them): the rows after the first for each key in column `col` are dropped.
pub(super) fn first_per_key(batches: Vec<RecordBatch>, col: usize) -> Result<Vec<RecordBatch>> {
    let mut seen = HashSet::new();
    batches
        .into_iter()
        .map(|b| {
            let keys = b.column(col);
            let kind = super::locking::key_kind(keys.data_type());
            let keep: BooleanArray = (0..b.num_rows())
                .map(|i| Some(seen.insert(column_key_at(keys.as_ref(), kind, i))))
                .collect();
            arrow_select::filter::filter_record_batch(&b, &keep)
                .map_err(|e| Error::sql(code::INTERNAL, e.to_string()))
        })
        .collect()
}

/// How the statement's columns name the target: its alias, else its name as written.
fn qualifier(name: &ast::ObjectName, alias: Option<&ast::TableAlias>) -> String {
    match alias {
        Some(a) => a.name.to_string(),
        None => name.to_string(),
    }
}

fn select(
    items: &[String],
    target: &ast::TableWithJoins,
    from: &[ast::TableWithJoins],
    selection: Option<&ast::Expr>,
) -> String {
    let mut sql = format!("SELECT {} FROM {target}", items.join(", "));
    for f in from {
        sql.push_str(&format!(", {f}"));
    }
    if let Some(w) = selection {
        sql.push_str(&format!(" WHERE {w}"));
    }
    sql
}

/// The target's scan: the leftmost relation of the SELECT's FROM.
fn target_scan(
    plan: &LogicalPlan,
) -> Result<(
    datafusion::common::TableReference,
    Arc<dyn datafusion::logical_expr::TableSource>,
)> {
    match plan {
        LogicalPlan::TableScan(s) => Ok((s.table_name.clone(), s.source.clone())),
        LogicalPlan::Join(j) => target_scan(&j.left),
        other => match other.inputs().first() {
            Some(input) => target_scan(input),
            None => Err(Error::sql(code::INTERNAL, "joined DML without its table")),
        },
    }
}
