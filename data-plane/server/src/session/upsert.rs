//! `INSERT ... ON CONFLICT [(pk) | ON CONSTRAINT t_pkey] DO NOTHING | DO UPDATE SET ... [WHERE ...]` on the
//! primary key (the one unique constraint tables have here). Atomic under concurrency as PostgreSQL's: a
//! DO UPDATE takes the key's row lock before it looks, and an insert that meets a key a concurrent
//! transaction committed meanwhile looks again, so two sessions upserting one key never see 23505.

use std::collections::HashSet;
use std::ops::ControlFlow;
use std::sync::Arc;

use arrow_array::{ArrayRef, Int64Array, RecordBatch};
use arrow_schema::{Field, Schema, SchemaRef};
use datafusion::datasource::{MemTable, provider_as_source};
use datafusion::logical_expr::{Expr, ExprSchemable, LogicalPlanBuilder, col};
use datafusion::sql::sqlparser::ast::{self, Statement, visit_expressions_mut};
use omendb_storage::{Key, LockMode, Row, TableDef, WaitPolicy};

use super::Session;
use crate::error::{Error, Result, code};

const EXCLUDED: &str = "__omendb_excluded_";
const PAIR: &str = "__omendb_pair";

#[derive(Debug)]
pub struct Upsert {
    conflict: ast::OnConflict,
    /// The name the statement gives the table (its alias, or its name).
    relation: String,
    /// DO UPDATE's assignments by column position (set when the statement is prepared).
    sets: Vec<(usize, ast::Expr)>,
    /// When every assignment is `c = EXCLUDED.d` of the same type and there is no WHERE (the common
    /// upsert): (c, d) pairs, applied to the row directly rather than through a plan.
    copies: Option<Vec<(usize, usize)>>,
}

impl Upsert {
    /// Takes ON CONFLICT off `stmt` (so the rest plans as a plain INSERT).
    pub fn take(stmt: &mut Statement) -> Option<Upsert> {
        let Statement::Insert(i) = stmt else {
            return None;
        };
        let relation = match (&i.table_alias, &i.table) {
            (Some(a), _) => a.alias.value.clone(),
            (None, ast::TableObject::TableName(n)) => match n.0.last() {
                Some(ast::ObjectNamePart::Identifier(id)) => crate::ddl::ident(id),
                _ => String::new(),
            },
            _ => return None,
        };
        match i.on.take() {
            Some(ast::OnInsert::OnConflict(conflict)) => Some(Upsert {
                conflict,
                relation,
                sets: vec![],
                copies: None,
            }),
            other => {
                i.on = other;
                None
            }
        }
    }

    /// Checks the conflict target against `def` (42P10 unless it is the primary key) and binds DO
    /// UPDATE's columns.
    pub fn bind(&mut self, def: &TableDef) -> Result<()> {
        let relname = crate::search_path::split(&def.name).1;
        let no_match = || {
            Error::sql(
                "42P10",
                "there is no unique or exclusion constraint matching the ON CONFLICT specification",
            )
        };
        let pk = def.primary_key.map(|k| def.columns[k].name.as_str());
        match &self.conflict.conflict_target {
            None => {
                if matches!(self.conflict.action, ast::OnConflictAction::DoUpdate(_)) {
                    return Err(Error::sql(
                        code::SYNTAX_ERROR,
                        "ON CONFLICT DO UPDATE requires inference specification or constraint name",
                    ));
                }
            }
            Some(ast::ConflictTarget::Columns(cols)) => {
                if cols.len() != 1 || Some(crate::ddl::ident(&cols[0]).as_str()) != pk {
                    return Err(no_match());
                }
            }
            Some(ast::ConflictTarget::OnConstraint(name)) => {
                let n = match name.0.last() {
                    Some(ast::ObjectNamePart::Identifier(i)) => crate::ddl::ident(i),
                    _ => String::new(),
                };
                if pk.is_none() || n != format!("{relname}_pkey") {
                    return Err(Error::sql(
                        "42704",
                        format!("constraint \"{n}\" for table \"{relname}\" does not exist"),
                    ));
                }
            }
        }
        if def.primary_key.is_none() {
            return Err(no_match());
        }
        if let ast::OnConflictAction::DoUpdate(u) = &self.conflict.action {
            // Both the table's row and EXCLUDED are in scope: a bare column name is ambiguous there.
            let mut exprs: Vec<ast::Expr> = u.assignments.iter().map(|a| a.value.clone()).collect();
            exprs.extend(u.selection.clone());
            for mut e in exprs {
                let mut bare = None;
                let _ = visit_expressions_mut(&mut e, |e| {
                    if let ast::Expr::Identifier(i) = e
                        && def.columns.iter().any(|c| c.name == crate::ddl::ident(i))
                    {
                        bare = Some(crate::ddl::ident(i));
                        return ControlFlow::Break(());
                    }
                    ControlFlow::Continue(())
                });
                if let Some(c) = bare {
                    return Err(Error::sql(
                        "42702",
                        format!("column reference \"{c}\" is ambiguous"),
                    ));
                }
            }
            for a in &u.assignments {
                let ast::AssignmentTarget::ColumnName(name) = &a.target else {
                    return Err(Error::unsupported("ON CONFLICT DO UPDATE SET (a, b) = ..."));
                };
                let column = match name.0.last() {
                    Some(ast::ObjectNamePart::Identifier(i)) => crate::ddl::ident(i),
                    _ => String::new(),
                };
                let at = crate::ddl::column_at(def, &column)?;
                self.sets.push((at, excluded_columns(a.value.clone())));
            }
            let copy = |(at, e): &(usize, ast::Expr)| -> Option<(usize, usize)> {
                let ast::Expr::Identifier(i) = e else {
                    return None;
                };
                let name = i.value.strip_prefix(EXCLUDED)?;
                let from = def.columns.iter().position(|c| c.name == name)?;
                (def.columns[from].data_type == def.columns[*at].data_type).then_some((*at, from))
            };
            if u.selection.is_none() {
                self.copies = self.sets.iter().map(copy).collect();
            }
        }
        Ok(())
    }

    fn do_update(&self) -> Option<&ast::DoUpdate> {
        match &self.conflict.action {
            ast::OnConflictAction::DoUpdate(u) => Some(u),
            ast::OnConflictAction::DoNothing => None,
        }
    }
}

/// `EXCLUDED.c` as the column the proposed rows are scanned under.
fn excluded_columns(mut e: ast::Expr) -> ast::Expr {
    let _ = visit_expressions_mut(&mut e, |e| {
        if let ast::Expr::CompoundIdentifier(parts) = e
            && parts.len() == 2
            && parts[0].value.eq_ignore_ascii_case("excluded")
        {
            *e = ast::Expr::Identifier(ast::Ident::with_quote(
                '"',
                format!("{EXCLUDED}{}", crate::ddl::ident(&parts[1])),
            ));
        }
        ControlFlow::<()>::Continue(())
    });
    e
}

impl Session {
    /// Writes an INSERT's rows under its ON CONFLICT clause: the number of rows inserted or updated, and
    /// (with `keep`) those rows as written, for RETURNING.
    pub(super) async fn upsert_rows(
        &mut self,
        table: &str,
        batches: &[RecordBatch],
        u: &Upsert,
        keep: bool,
    ) -> Result<(usize, Vec<RecordBatch>)> {
        let (pk, kind, schema) = {
            let mut v = self.view.lock();
            let r = v
                .txn
                .as_mut()
                .expect("writes run in a transaction")
                .table(table)?;
            let pk = r.def().primary_key.expect("bound to the primary key");
            let kind = r.def().columns[pk]
                .data_type
                .key_kind()
                .expect("a key column");
            (pk, kind, r.schema())
        };
        let mut seen = HashSet::new();
        let mut n = 0;
        // Rows written, by their place among the proposed rows (RETURNING keeps that order).
        let mut written: Vec<(usize, RecordBatch)> = Vec::new();
        let mut conflicts: Vec<(Key, Row, Row)> = Vec::new();
        let mut conflict_at: Vec<usize> = Vec::new();
        let mut at = 0;
        for b in batches {
            for i in 0..b.num_rows() {
                at += 1;
                let row = omendb_storage::row_at(b, i);
                let key = omendb_storage::column_key_at(b.column(pk).as_ref(), kind, i);
                if !seen.insert(key.clone()) && u.do_update().is_some() {
                    return Err(Error::sql(
                        "21000",
                        "ON CONFLICT DO UPDATE command cannot affect row a second time",
                    ));
                }
                loop {
                    if u.do_update().is_some() {
                        self.with_locks(|t| {
                            t.lock_row(table, &key, LockMode::NoKeyUpdate, WaitPolicy::Wait)
                        })
                        .await?;
                        let existing = {
                            let mut v = self.view.lock();
                            let txn = v.txn.as_mut().expect("writes run in a transaction");
                            txn.get_latest(table, &key)?
                        };
                        if let Some(old) = existing {
                            conflicts.push((key.clone(), old, row.clone()));
                            conflict_at.push(at);
                            break;
                        }
                    }
                    match self.with_locks(|t| t.insert(table, row.clone())).await {
                        Ok(()) => {
                            n += 1;
                            if keep {
                                written.push((at, b.slice(i, 1)));
                            }
                            break;
                        }
                        Err(Error::Storage(omendb_storage::Error::DuplicateKey { .. })) => {
                            if u.do_update().is_none() {
                                break; // DO NOTHING
                            }
                            // Committed by another transaction since we looked: look again.
                        }
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        if let (Some(update), false) = (u.do_update(), conflicts.is_empty()) {
            let updated = match &u.copies {
                Some(copies) => conflicts
                    .iter()
                    .enumerate()
                    .map(|(i, (_, old, proposed))| {
                        let mut row = old.clone();
                        for &(to, from) in copies {
                            row[to] = proposed[from].clone();
                        }
                        (i, row)
                    })
                    .collect(),
                None => self.conflict_rows(u, update, &schema, &conflicts).await?,
            };
            for (pair, row) in updated {
                let key = &conflicts[pair].0;
                if self
                    .with_locks(|t| t.update(table, key, row.clone()))
                    .await?
                {
                    n += 1;
                    if keep {
                        let arrays: Vec<ArrayRef> = schema
                            .fields()
                            .iter()
                            .zip(&row)
                            .map(|(f, v)| {
                                omendb_storage::values_array(f.data_type(), std::slice::from_ref(v))
                            })
                            .collect();
                        written.push((
                            conflict_at[pair],
                            RecordBatch::try_new(schema.clone(), arrays)
                                .map_err(|e| Error::sql(code::INTERNAL, e.to_string()))?,
                        ));
                    }
                }
            }
        }
        written.sort_by_key(|(at, _)| *at);
        Ok((n, written.into_iter().map(|(_, b)| b).collect()))
    }

    /// DO UPDATE's new rows for the conflicting ones that pass its WHERE: (index into `conflicts`, row).
    async fn conflict_rows(
        &mut self,
        u: &Upsert,
        update: &ast::DoUpdate,
        schema: &SchemaRef,
        conflicts: &[(Key, Row, Row)],
    ) -> Result<Vec<(usize, Row)>> {
        // One scan: the existing row's columns as the table's, the proposed row's as `EXCLUDED.c`.
        let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
        fields.extend(schema.fields().iter().map(|f| {
            Field::new(
                format!("{EXCLUDED}{}", f.name()),
                f.data_type().clone(),
                true,
            )
        }));
        fields.push(Field::new(PAIR, arrow_schema::DataType::Int64, false));
        let scan_schema = Arc::new(Schema::new(fields));
        let mut arrays: Vec<ArrayRef> = Vec::new();
        for side in [1, 2] {
            for (c, f) in schema.fields().iter().enumerate() {
                let vals: Vec<omendb_storage::Value> = conflicts
                    .iter()
                    .map(|p| if side == 1 { &p.1 } else { &p.2 }[c].clone())
                    .collect();
                arrays.push(omendb_storage::values_array(f.data_type(), &vals));
            }
        }
        arrays.push(Arc::new(Int64Array::from_iter_values(
            0..conflicts.len() as i64,
        )));
        let batch = RecordBatch::try_new(scan_schema.clone(), arrays)
            .map_err(|e| Error::sql(code::INTERNAL, e.to_string()))?;
        let table = MemTable::try_new(scan_schema, vec![vec![batch]])?;
        let mut plan = LogicalPlanBuilder::scan(
            u.relation.as_str(),
            provider_as_source(Arc::new(table)),
            None,
        )?;
        let state = self.ctx.state();
        if let Some(w) = &update.selection {
            let cond = excluded_columns(w.clone()).to_string();
            let filter = state.create_logical_expr(&cond, plan.schema())?;
            plan = plan.filter(filter)?;
        }
        let input = plan.schema().clone();
        let mut exprs: Vec<Expr> = Vec::with_capacity(schema.fields().len() + 1);
        for (c, f) in schema.fields().iter().enumerate() {
            let e = match u.sets.iter().rev().find(|(at, _)| *at == c) {
                Some((_, value)) => state
                    .create_logical_expr(&value.to_string(), &input)?
                    .cast_to(f.data_type(), &input)?,
                None => Expr::Column(datafusion::common::Column::new(
                    Some(u.relation.as_str()),
                    f.name(),
                )),
            };
            exprs.push(e.alias(f.name()));
        }
        exprs.push(col(PAIR));
        let plan = plan.project(exprs)?.build()?;
        let (_, batches) = self.collect(plan).await?;
        let mut out = Vec::new();
        for b in &batches {
            let pairs = b
                .column(b.num_columns() - 1)
                .as_any()
                .downcast_ref::<Int64Array>()
                .ok_or_else(|| Error::sql(code::INTERNAL, "ON CONFLICT: pair index"))?;
            for i in 0..b.num_rows() {
                let mut row = omendb_storage::row_at(b, i);
                row.pop();
                out.push((pairs.value(i) as usize, row));
            }
        }
        Ok(out)
    }
}
