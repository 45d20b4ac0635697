//! `INSERT ... ON CONFLICT [(cols) | ON CONSTRAINT name] DO NOTHING | DO UPDATE SET ... [WHERE ...]` with
//! the primary key or a UNIQUE index as the arbiter (chosen by its column set, or its constraint's name), or
//! none (DO NOTHING skips a row that violates any of them). Atomic under concurrency as PostgreSQL's: a DO
//! UPDATE locks the existing row before it judges it, and an insert that meets a key a concurrent
//! transaction committed meanwhile looks again, so two sessions upserting one key never see 23505.

use std::collections::{BTreeSet, HashSet};
use std::ops::ControlFlow;
use std::sync::Arc;

use arrow_array::{ArrayRef, Int64Array, RecordBatch};
use arrow_schema::{Field, Schema, SchemaRef};
use datafusion::datasource::{MemTable, provider_as_source};
use datafusion::logical_expr::{Expr, ExprSchemable, LogicalPlanBuilder, col};
use datafusion::scalar::ScalarValue;
use datafusion::sql::sqlparser::ast::{self, Statement, visit_expressions_mut};
use omendb_storage::{IndexDef, Key, LockMode, Row, SortValue, TableDef, WaitPolicy};

use super::Session;
use crate::error::{Error, Result, code};

const EXCLUDED: &str = "__omendb_excluded_";
const PAIR: &str = "__omendb_pair";

/// Which unique constraint's conflicts ON CONFLICT handles.
#[derive(Debug)]
enum Arbiter {
    /// No conflict target (DO NOTHING only): a violation of any unique constraint skips the row.
    Any,
    PrimaryKey,
    /// A UNIQUE index: its storage name and columns.
    Index {
        name: String,
        columns: Vec<usize>,
    },
}

#[derive(Debug)]
pub struct Upsert {
    conflict: ast::OnConflict,
    arbiter: Arbiter,
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
                arbiter: Arbiter::Any,
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

    /// Finds the arbiter the conflict target names among `def`'s primary key and unique `indexes` (42P10
    /// when none matches, as PostgreSQL) and binds DO UPDATE's columns.
    pub fn bind(&mut self, def: &TableDef, indexes: &[Arc<IndexDef>]) -> Result<()> {
        let relname = crate::search_path::split(&def.name).1;
        let no_match = || {
            Error::sql(
                "42P10",
                "there is no unique or exclusion constraint matching the ON CONFLICT specification",
            )
        };
        let index = |ix: &IndexDef| Arbiter::Index {
            name: ix.name.clone(),
            columns: ix.columns.clone(),
        };
        self.arbiter = match &self.conflict.conflict_target {
            None => {
                if matches!(self.conflict.action, ast::OnConflictAction::DoUpdate(_)) {
                    return Err(Error::sql(
                        code::SYNTAX_ERROR,
                        "ON CONFLICT DO UPDATE requires inference specification or constraint name",
                    ));
                }
                Arbiter::Any
            }
            Some(ast::ConflictTarget::Columns(cols)) => {
                // PostgreSQL infers the arbiter from the set of columns, in any order.
                let mut at = cols
                    .iter()
                    .map(|c| crate::ddl::column_at(def, &crate::ddl::ident(c)))
                    .collect::<Result<Vec<usize>>>()?;
                at.sort_unstable();
                at.dedup();
                let sorted = |c: &[usize]| {
                    let mut c = c.to_vec();
                    c.sort_unstable();
                    c
                };
                if def.primary_key.is_some_and(|k| at == [k]) {
                    Arbiter::PrimaryKey
                } else if let Some(ix) = indexes
                    .iter()
                    // PostgreSQL infers a partial index only from a conflict target with its WHERE.
                    .find(|ix| ix.unique && ix.plain() && sorted(&ix.columns) == at)
                {
                    index(ix)
                } else {
                    return Err(no_match());
                }
            }
            Some(ast::ConflictTarget::OnConstraint(name)) => {
                let n = match name.0.last() {
                    Some(ast::ObjectNamePart::Identifier(i)) => crate::ddl::ident(i),
                    _ => String::new(),
                };
                if def.primary_key.is_some() && n == format!("{relname}_pkey") {
                    Arbiter::PrimaryKey
                } else if let Some(ix) = indexes
                    .iter()
                    .find(|ix| ix.unique && ix.constraint.as_deref() == Some(n.as_str()))
                {
                    index(ix)
                } else {
                    return Err(Error::sql(
                        "42704",
                        format!("constraint \"{n}\" for table \"{relname}\" does not exist"),
                    ));
                }
            }
        };
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

    /// Whether a failed insert is a conflict this clause handles (else the error stands).
    /// The highest parameter number in the ON CONFLICT clause (`DO UPDATE SET v = $3`): the INSERT that
    /// is planned without the clause may take fewer.
    pub fn max_param(&self) -> usize {
        let mut n = 0;
        let _ = ast::visit_expressions(&self.conflict, |e| {
            if let ast::Expr::Value(v) = e
                && let ast::Value::Placeholder(p) = &v.value
                && let Some(i) = p.strip_prefix('$').and_then(|i| i.parse::<usize>().ok())
            {
                n = n.max(i);
            }
            ControlFlow::<()>::Continue(())
        });
        n
    }

    fn arbitrates(&self, e: &Error) -> bool {
        use omendb_storage::Error as S;
        match (e, &self.arbiter) {
            (Error::Storage(S::DuplicateKey { .. } | S::UniqueViolation { .. }), Arbiter::Any) => {
                true
            }
            (Error::Storage(S::DuplicateKey { .. }), Arbiter::PrimaryKey) => true,
            (Error::Storage(S::UniqueViolation { index, .. }), Arbiter::Index { name, .. }) => {
                index == name
            }
            _ => false,
        }
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
        params: &[ScalarValue],
        keep: bool,
    ) -> Result<(usize, Vec<RecordBatch>)> {
        let (pk, schema) = {
            let mut v = self.view.lock();
            let r = v
                .txn
                .as_mut()
                .expect("writes run in a transaction")
                .table(table)?;
            let pk = r.def().primary_key.map(|pk| {
                let kind = r.def().columns[pk]
                    .data_type
                    .key_kind()
                    .expect("a key column");
                (pk, kind)
            });
            (pk, r.schema())
        };
        let update = u.do_update().is_some();
        let mut seen_keys = HashSet::new();
        let mut seen_values = BTreeSet::new();
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
                // PostgreSQL refuses to touch one row twice in a statement: two proposed rows with the
                // same arbiter values would.
                let twice = match (&u.arbiter, pk) {
                    (Arbiter::PrimaryKey, Some((pk, kind))) => {
                        let key = omendb_storage::column_key_at(b.column(pk).as_ref(), kind, i);
                        !seen_keys.insert(key)
                    }
                    (Arbiter::Index { columns, .. }, _) => {
                        let values: Vec<SortValue> =
                            columns.iter().map(|&c| SortValue(row[c].clone())).collect();
                        !values.iter().any(SortValue::is_null) && !seen_values.insert(values)
                    }
                    _ => false,
                };
                if twice && update {
                    return Err(Error::sql(
                        "21000",
                        "ON CONFLICT DO UPDATE command cannot affect row a second time",
                    ));
                }
                loop {
                    if let Some((key, old)) = self.existing_row(table, u, pk, b, i, &row).await? {
                        if update {
                            conflicts.push((key, old, row.clone()));
                            conflict_at.push(at);
                        }
                        break;
                    }
                    match self.with_locks(|t| t.insert(table, row.clone())).await {
                        Ok(()) => {
                            n += 1;
                            if keep {
                                written.push((at, b.slice(i, 1)));
                            }
                            break;
                        }
                        Err(e) if u.arbitrates(&e) => {
                            if !update {
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
                None => {
                    self.conflict_rows(u, update, &schema, &conflicts, params)
                        .await?
                }
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

    /// The existing row the proposed `row` (row `i` of `b`) conflicts with in the arbiter, locked for DO
    /// UPDATE (and judged after the lock, against the newest version of the row). `None` means insert.
    async fn existing_row(
        &mut self,
        table: &str,
        u: &Upsert,
        pk: Option<(usize, omendb_storage::KeyKind)>,
        b: &RecordBatch,
        i: usize,
        row: &Row,
    ) -> Result<Option<(Key, Row)>> {
        let update = u.do_update().is_some();
        loop {
            let key = match (&u.arbiter, pk) {
                // DO NOTHING on the primary key inserts and catches the duplicate (no lock, no lookup).
                (Arbiter::PrimaryKey, Some((pk, kind))) if update => {
                    omendb_storage::column_key_at(b.column(pk).as_ref(), kind, i)
                }
                (Arbiter::Index { name, .. }, _) => {
                    let mut v = self.view.lock();
                    let txn = v.txn.as_mut().expect("writes run in a transaction");
                    match txn.unique_conflict(table, name, row)? {
                        Some(k) => k,
                        None => return Ok(None),
                    }
                }
                _ => return Ok(None),
            };
            if !update {
                return Ok(Some((key, Row::new())));
            }
            self.with_locks(|t| t.lock_row(table, &key, LockMode::NoKeyUpdate, WaitPolicy::Wait))
                .await?;
            let old = {
                let mut v = self.view.lock();
                let txn = v.txn.as_mut().expect("writes run in a transaction");
                txn.get_latest(table, &key)?
            };
            match (&u.arbiter, old) {
                (Arbiter::PrimaryKey, old) => return Ok(old.map(|old| (key, old))),
                (Arbiter::Index { columns, .. }, Some(old))
                    if columns
                        .iter()
                        .all(|&c| SortValue(old[c].clone()) == SortValue(row[c].clone())) =>
                {
                    return Ok(Some((key, old)));
                }
                // The row changed or went while we waited for it: look again.
                _ => {}
            }
        }
    }

    /// DO UPDATE's new rows for the conflicting ones that pass its WHERE: (index into `conflicts`, row).
    async fn conflict_rows(
        &mut self,
        u: &Upsert,
        update: &ast::DoUpdate,
        schema: &SchemaRef,
        conflicts: &[(Key, Row, Row)],
        params: &[ScalarValue],
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
        let mut plan = plan.project(exprs)?.build()?;
        if !params.is_empty() {
            plan = plan.with_param_values(params.to_vec())?;
        }
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
