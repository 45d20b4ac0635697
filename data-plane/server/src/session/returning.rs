//! `INSERT | UPDATE | DELETE ... RETURNING`: the statement runs without its RETURNING list; the rows it
//! wrote (new images for INSERT and UPDATE, old for DELETE, as PostgreSQL) are then projected through the
//! list, planned as expressions over a scan of those rows named as the statement names its table.

use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use datafusion::common::DFSchema;
use datafusion::datasource::{MemTable, provider_as_source};
use datafusion::logical_expr::{Expr, LogicalPlanBuilder};
use datafusion::sql::sqlparser::ast::{self, SelectItem, Statement};

use super::Session;
use crate::error::{Error, Result, code};

/// A RETURNING list and the name its expressions know the table by.
#[derive(Debug)]
pub struct Returning {
    items: Vec<SelectItem>,
    /// The alias, or the table's name as written (its last part).
    relation: String,
    /// The table as written, and its columns (set when the statement is prepared).
    pub table: ast::ObjectName,
    pub schema: Option<SchemaRef>,
    /// The columns' SQL types, in order (a plain column returned is described as its type: uuid,
    /// varchar(n)).
    pub types: Vec<omendb_storage::DataType>,
}

impl Returning {
    /// Takes the RETURNING list off `stmt` (so the rest plans as a plain write).
    pub fn take(stmt: &mut Statement) -> Option<Returning> {
        let (returning, relation, table) = match stmt {
            Statement::Insert(i) => {
                let ast::TableObject::TableName(n) = &i.table else {
                    return None;
                };
                let relation = match i.table_alias.take() {
                    // Only RETURNING (and ON CONFLICT) can name the alias; DataFusion plans no alias.
                    Some(a) => a.alias.value,
                    None => last(n),
                };
                (&mut i.returning, relation, n.clone())
            }
            Statement::Update(u) => {
                let (relation, table) = match &u.table.relation {
                    ast::TableFactor::Table {
                        alias: Some(a),
                        name,
                        ..
                    } => (a.name.value.clone(), name.clone()),
                    ast::TableFactor::Table { name, .. } => (last(name), name.clone()),
                    _ => return None,
                };
                (&mut u.returning, relation, table)
            }
            Statement::Delete(d) => {
                let tables = match &d.from {
                    ast::FromTable::WithFromKeyword(t) | ast::FromTable::WithoutKeyword(t) => t,
                };
                let (relation, table) = match tables.first().map(|t| &t.relation) {
                    Some(ast::TableFactor::Table {
                        alias: Some(a),
                        name,
                        ..
                    }) => (a.name.value.clone(), name.clone()),
                    Some(ast::TableFactor::Table { name, .. }) => (last(name), name.clone()),
                    _ => return None,
                };
                (&mut d.returning, relation, table)
            }
            _ => return None,
        };
        let items = returning.take()?;
        Some(Returning {
            items,
            relation,
            table,
            schema: None,
            types: vec![],
        })
    }
}

fn last(name: &ast::ObjectName) -> String {
    match name.0.last() {
        Some(ast::ObjectNamePart::Identifier(i)) => crate::ddl::ident(i),
        _ => String::new(),
    }
}

impl Session {
    /// The RETURNING rows of `written` (rows of a table with columns `schema`); with no rows, just the
    /// result's schema (what Describe reports).
    pub(super) async fn returning_rows(
        &mut self,
        r: &Returning,
        schema: SchemaRef,
        written: Vec<RecordBatch>,
    ) -> Result<(SchemaRef, Vec<RecordBatch>)> {
        // The rows as the table's schema has them (DataFusion's nullability may differ).
        let written = written
            .into_iter()
            .map(|b| RecordBatch::try_new(schema.clone(), b.columns().to_vec()))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| Error::sql(code::INTERNAL, e.to_string()))?;
        let table = MemTable::try_new(schema.clone(), vec![written])?;
        let scan = LogicalPlanBuilder::scan(
            r.relation.as_str(),
            provider_as_source(Arc::new(table)),
            None,
        )?
        .build()?;
        let df_schema: &DFSchema = scan.schema();
        let state = self.ctx.state();
        // Each expression with PostgreSQL's name for its column.
        let mut columns: Vec<(Expr, String)> = Vec::new();
        for item in &r.items {
            match item {
                SelectItem::UnnamedExpr(e) => columns.push((
                    state.create_logical_expr(&e.to_string(), df_schema)?,
                    crate::names::expr_name(e),
                )),
                SelectItem::ExprWithAlias { expr, alias } => columns.push((
                    state.create_logical_expr(&expr.to_string(), df_schema)?,
                    crate::ddl::ident(alias),
                )),
                SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..) => columns.extend(
                    df_schema
                        .columns()
                        .into_iter()
                        .map(|c| (c.name.clone(), c))
                        .map(|(n, c)| (Expr::Column(c), n)),
                ),
                SelectItem::ExprWithAliases { .. } => {
                    return Err(Error::unsupported("RETURNING expr AS (a, b)"));
                }
            }
        }
        // Duplicate names are PostgreSQL's right (`RETURNING id, id`); DataFusion plans them under
        // distinct aliases and the client is told PostgreSQL's.
        let (exprs, names): (Vec<Expr>, Vec<String>) = columns
            .into_iter()
            .enumerate()
            .map(|(i, (e, name))| (e.alias(format!("?{i}?{name}")), name))
            .unzip();
        let plan = LogicalPlanBuilder::from(scan).project(exprs)?.build()?;
        let (out_schema, batches) = self.collect(plan.clone()).await?;
        if names.len() != out_schema.fields().len() {
            return Err(Error::sql(
                code::INTERNAL,
                "RETURNING: column count mismatch",
            ));
        }
        // A column returned as is has its SQL type (uuid, varchar(n)), as a SELECT's does.
        let typed: Vec<arrow_schema::Field> = out_schema
            .fields()
            .iter()
            .zip(plan_columns(&plan))
            .map(|(f, c)| match c.and_then(|c| schema.index_of(&c).ok()) {
                Some(at) if at < r.types.len() => crate::origins::with_type(f, r.types[at]),
                _ => f.as_ref().clone(),
            })
            .collect();
        let out_schema = Arc::new(arrow_schema::Schema::new(typed));
        let renamed = super::rename(out_schema, Some(&names));
        let batches = batches
            .into_iter()
            .map(|b| RecordBatch::try_new(renamed.clone(), b.columns().to_vec()))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| Error::sql(code::INTERNAL, e.to_string()))?;
        Ok((renamed, batches))
    }
}

/// For each output column of a projection, the input column it is as is (through its alias).
fn plan_columns(plan: &datafusion::logical_expr::LogicalPlan) -> Vec<Option<String>> {
    let datafusion::logical_expr::LogicalPlan::Projection(p) = plan else {
        return vec![];
    };
    p.expr
        .iter()
        .map(|e| {
            let mut e = e;
            while let Expr::Alias(a) = e {
                e = &a.expr;
            }
            match e {
                Expr::Column(c) => Some(c.name.clone()),
                _ => None,
            }
        })
        .collect()
}
