//! Row locks as statements meet them: waiting for a lock (with the deadlock check after `deadlock_timeout`,
//! and `lock_timeout`), READ COMMITTED's re-check of a row that a concurrent commit changed (PostgreSQL's
//! EvalPlanQual: the statement's plan re-run for that one row over the newest version), and running
//! `SELECT ... FOR UPDATE | FOR SHARE [NOWAIT | SKIP LOCKED]` (prepared by `lock_clause.rs`).
//!
//! Waits are awaited on the connection's runtime, never blocking a thread: a cancel or `statement_timeout`
//! drops the wait, which withdraws the request.

use std::sync::Arc;
use std::time::Instant;

use arrow_array::RecordBatch;
use datafusion::common::Column;
use datafusion::logical_expr::{Expr, Filter, LogicalPlan, Projection, lit};
use datafusion::scalar::ScalarValue;
use omendb_storage::{LockMode, LockWait, RowLock, WaitPolicy, WriteTxn};

use super::lock_clause::{RowLocking, key_alias};
use super::{Output, Prepared, Session, Tx, rename};
use crate::error::{Error, Result, code};

impl Session {
    /// Runs `op` on the open transaction until it stops meeting locks: each lock it has to wait for is
    /// awaited, then `op` runs again (the engine made no change when it asked to wait).
    pub(super) async fn with_locks<T>(
        &mut self,
        mut op: impl FnMut(&mut WriteTxn) -> omendb_storage::Result<T>,
    ) -> Result<T> {
        loop {
            let r = {
                let mut v = self.view.lock();
                let txn = v.txn.as_mut().expect("locks are taken in a transaction");
                op(txn)
            };
            match r {
                Err(omendb_storage::Error::LockWait { wait, .. }) => self.wait_for(wait).await?,
                other => return Ok(other?),
            }
        }
    }

    /// Awaits a lock: checks for a deadlock once the wait reaches `deadlock_timeout` (the checker is the
    /// victim, as in PostgreSQL), and gives up at `lock_timeout`.
    pub(super) async fn wait_for(&self, mut wait: LockWait) -> Result<()> {
        let started = Instant::now();
        let deadline = self.settings.lock_timeout().map(|t| started + t);
        let mut check_at = Some(started + self.settings.deadlock_timeout());
        let _waiting = Waiting::new(&self.activity, wait.resource());
        loop {
            let next = [check_at, deadline].into_iter().flatten().min();
            let done = match next {
                Some(at) => tokio::time::timeout_at(at.into(), &mut wait).await.is_ok(),
                None => {
                    (&mut wait).await;
                    true
                }
            };
            if done {
                return Ok(());
            }
            let now = Instant::now();
            if check_at.is_some_and(|at| now >= at) {
                check_at = None;
                if wait.deadlocked() {
                    return Err(Error::sql(code::DEADLOCK_DETECTED, "deadlock detected"));
                }
            }
            if deadline.is_some_and(|d| now >= d) {
                return Err(Error::sql(
                    code::LOCK_NOT_AVAILABLE,
                    "canceling statement due to lock timeout",
                ));
            }
        }
    }

    /// READ COMMITTED's re-check of one row a concurrent commit changed: `plan` re-run with `filter` over the
    /// newest committed versions (plus this transaction's writes). Empty when the row no longer qualifies.
    pub(super) async fn recheck(
        &mut self,
        plan: LogicalPlan,
        target: Option<String>,
        no_index: bool,
    ) -> Result<Vec<RecordBatch>> {
        self.view.lock().latest = true;
        let r = self.rebind(plan, target, no_index);
        let r = match r {
            Ok(plan) => self.collect(plan).await,
            Err(e) => Err(e),
        };
        self.view.lock().latest = false;
        Ok(r?.1)
    }

    /// Runs a locking SELECT: rows in the query's order, each locked as it comes (skipped, waited for, or
    /// failing at once by the policy), a changed row re-checked under READ COMMITTED, until LIMIT rows.
    pub(super) async fn select_locked(
        &mut self,
        p: &Prepared,
        locking: &RowLocking,
        params: Vec<ScalarValue>,
    ) -> Result<Output> {
        self.check_writable(&format!("SELECT {}", locking.clause))?;
        let limit = locking.limit.value(&params)?;
        let offset = locking.offset.value(&params)?.unwrap_or(0);
        let autocommit = self.tx == Tx::Idle;
        if autocommit {
            self.begin();
        }
        let r = self.lock_rows(p, locking, params, limit, offset).await;
        if autocommit {
            // The locks end with the statement's own transaction. It wrote nothing, so committing costs no
            // log write, and a pg_notify() in the query is delivered, as PostgreSQL does.
            match &r {
                Ok(_) => self.commit().await?,
                Err(_) => self.rollback(),
            }
        }
        let (schema, batches) = r?;
        let user = schema.fields().len() - locking.keys();
        let projected = Arc::new(
            schema
                .project(&(0..user).collect::<Vec<_>>())
                .map_err(|e| Error::sql(code::INTERNAL, e.to_string()))?,
        );
        let out_schema = rename(projected.clone(), p.names.as_deref());
        let batches = batches
            .into_iter()
            .map(|b| {
                RecordBatch::try_new(out_schema.clone(), b.columns()[..user].to_vec())
                    .map_err(|e| Error::sql(code::INTERNAL, e.to_string()))
            })
            .collect::<Result<Vec<_>>>()?;
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        self.engine.metrics.rows_returned.inc_by(rows as u64);
        Ok(Output::Rows(out_schema, batches))
    }

    async fn lock_rows(
        &mut self,
        p: &Prepared,
        locking: &RowLocking,
        params: Vec<ScalarValue>,
        limit: Option<usize>,
        offset: usize,
    ) -> Result<(arrow_schema::SchemaRef, Vec<RecordBatch>)> {
        let plan = self.bound(p, params)?;
        let bound = self.rebind(plan.clone(), p.target.clone(), p.no_index)?;
        let (schema, batches) = self.collect(bound).await?;
        let n_keys = locking.keys();
        let first_key = schema.fields().len() - n_keys;
        let want = limit.map(|l| l + offset);
        let mut taken = Vec::new();
        let mut count = 0;
        'rows: for b in &batches {
            'row: for i in 0..b.num_rows() {
                if want.is_some_and(|w| count >= w) {
                    break 'rows;
                }
                // Each locked table's row, in FROM order; a row any of whose locks is skipped is skipped.
                let mut changed = false;
                for (k, (table, mode, policy)) in locking.tables.iter().enumerate() {
                    let column = b.column(first_key + k);
                    let key = omendb_storage::column_key_at(
                        column.as_ref(),
                        key_kind(column.data_type()),
                        i,
                    );
                    let got = self
                        .with_locks(|t| t.lock_row(table, &key, *mode, *policy))
                        .await?;
                    match got {
                        RowLock::Skipped => continue 'row,
                        RowLock::Held { changed: c } => changed |= c,
                    }
                }
                let row = if changed {
                    // Re-run the query for this row's keys over the newest versions (READ COMMITTED).
                    let mut filter: Option<Expr> = None;
                    for k in 0..n_keys {
                        let value = ScalarValue::try_from_array(b.column(first_key + k), i)?;
                        let eq = Expr::Column(Column::from_name(key_alias(k))).eq(lit(value));
                        filter = Some(match filter {
                            Some(f) => f.and(eq),
                            None => eq,
                        });
                    }
                    let filter = filter.expect("a locking query has a key");
                    let again =
                        LogicalPlan::Filter(Filter::try_new(filter, Arc::new(plan.clone()))?);
                    let found = self.recheck(again, p.target.clone(), p.no_index).await?;
                    match found.into_iter().find(|b| b.num_rows() > 0) {
                        Some(b) => b.slice(0, 1),
                        None => continue,
                    }
                } else {
                    b.slice(i, 1)
                };
                count += 1;
                if count > offset {
                    taken.push(row);
                }
            }
        }
        Ok((schema, taken))
    }

    /// UPDATE's rows through the locks: each row is locked before it is written; under READ COMMITTED a row
    /// a concurrent commit changed is recomputed from its newest version (or skipped if it no longer
    /// matches). `input` is the plan that produced `batches` (new rows, old key last).
    pub(super) async fn update_rows(
        &mut self,
        dml: &Dml<'_>,
        batches: &[RecordBatch],
        key_col: usize,
        user_cols: usize,
        mut out: Option<&mut Vec<RecordBatch>>,
    ) -> Result<usize> {
        let Dml {
            table,
            input,
            target,
            no_index,
        } = dml;
        let mut n = 0;
        for b in batches {
            let old = b.column(b.num_columns() - 1);
            let kind = key_kind(old.data_type());
            for i in 0..b.num_rows() {
                let key = omendb_storage::column_key_at(old.as_ref(), kind, i);
                let new_key = omendb_storage::column_key_at(b.column(key_col).as_ref(), kind, i);
                let mode = if key_col < user_cols && new_key != key {
                    LockMode::Update
                } else {
                    LockMode::NoKeyUpdate
                };
                let got = self
                    .with_locks(|t| t.lock_row(table, &key, mode, WaitPolicy::Wait))
                    .await?;
                let source = match got {
                    RowLock::Held { changed: true } => {
                        let value = ScalarValue::try_from_array(old, i)?;
                        let again = filter_below_projection(input, key_col, value)?;
                        match self
                            .recheck(again, target.clone(), *no_index)
                            .await?
                            .into_iter()
                            .find(|b| b.num_rows() > 0)
                        {
                            Some(b) => b,
                            None => continue,
                        }
                    }
                    _ => b.slice(i, 1),
                };
                // One row: this row's slice, or the re-checked row.
                let row: Vec<_> = (0..user_cols)
                    .map(|c| omendb_storage::value_at(source.column(c).as_ref(), 0))
                    .collect();
                if self
                    .with_locks(|t| t.update(table, &key, row.clone()))
                    .await?
                {
                    n += 1;
                    if let Some(out) = out.as_deref_mut() {
                        out.push(
                            source
                                .slice(0, 1)
                                .project(&(0..user_cols).collect::<Vec<_>>())
                                .map_err(|e| Error::sql(code::INTERNAL, e.to_string()))?,
                        );
                    }
                }
            }
        }
        Ok(n)
    }

    /// DELETE's rows through the locks; under READ COMMITTED a changed row is deleted only if it still
    /// matches. `input` produced `batches` (the physical rows; the key at `key_col`).
    pub(super) async fn delete_rows(
        &mut self,
        dml: &Dml<'_>,
        batches: &[RecordBatch],
        key_col: usize,
        mut out: Option<(&mut Vec<RecordBatch>, usize)>,
    ) -> Result<usize> {
        let Dml {
            table,
            input,
            target,
            no_index,
        } = dml;
        let mut n = 0;
        for b in batches {
            let col = b.column(key_col);
            let kind = key_kind(col.data_type());
            for i in 0..b.num_rows() {
                let key = omendb_storage::column_key_at(col.as_ref(), kind, i);
                let got = self
                    .with_locks(|t| t.lock_row(table, &key, LockMode::Update, WaitPolicy::Wait))
                    .await?;
                let mut old = b.slice(i, 1);
                if let RowLock::Held { changed: true } = got {
                    let value = ScalarValue::try_from_array(col, i)?;
                    let (q, f) = input.schema().qualified_field(key_col);
                    let filter = Expr::Column(Column::from((q, f))).eq(lit(value));
                    let again =
                        LogicalPlan::Filter(Filter::try_new(filter, Arc::new((*input).clone()))?);
                    let still = self.recheck(again, target.clone(), *no_index).await?;
                    match still.into_iter().find(|b| b.num_rows() > 0) {
                        Some(b) => old = b.slice(0, 1),
                        None => continue,
                    }
                }
                if self.with_locks(|t| t.delete(table, &key)).await? {
                    n += 1;
                    if let Some((out, user_cols)) = out.as_mut() {
                        out.push(
                            old.project(&(0..*user_cols).collect::<Vec<_>>())
                                .map_err(|e| Error::sql(code::INTERNAL, e.to_string()))?,
                        );
                    }
                }
            }
        }
        Ok(n)
    }
}

/// An UPDATE or DELETE being applied: its table, the plan that produced its rows, and how to bind it again.
pub(super) struct Dml<'a> {
    pub table: &'a str,
    pub input: &'a LogicalPlan,
    pub target: Option<String>,
    pub no_index: bool,
}

/// Shows a lock wait in `pg_stat_activity` for as long as it lasts.
struct Waiting<'a>(&'a crate::activity::Entry);

impl<'a> Waiting<'a> {
    fn new(entry: &'a crate::activity::Entry, r: &omendb_storage::Resource) -> Waiting<'a> {
        entry.lock().wait = Some(crate::system_views::wait_event(r));
        Waiting(entry)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.lock().wait = None;
    }
}

/// The key kind of a key column of this Arrow type.
pub(super) fn key_kind(t: &arrow_schema::DataType) -> omendb_storage::KeyKind {
    match t {
        arrow_schema::DataType::Utf8
        | arrow_schema::DataType::LargeUtf8
        | arrow_schema::DataType::Binary
        | arrow_schema::DataType::LargeBinary => omendb_storage::KeyKind::Bytes,
        _ => omendb_storage::KeyKind::Int,
    }
}

/// An UPDATE's row plan (a projection of the new row over the scan) restricted to one old key, the filter
/// placed under the projection so it reaches the scan as a key lookup.
fn filter_below_projection(
    input: &LogicalPlan,
    key_col: usize,
    key: ScalarValue,
) -> Result<LogicalPlan> {
    let LogicalPlan::Projection(p) = input else {
        return Err(Error::sql(code::INTERNAL, "unexpected UPDATE plan shape"));
    };
    let (q, f) = p.input.schema().qualified_field(key_col);
    let filter = Expr::Column(Column::from((q, f))).eq(lit(key));
    let filtered = LogicalPlan::Filter(Filter::try_new(filter, p.input.clone())?);
    Ok(LogicalPlan::Projection(Projection::try_new(
        p.expr.clone(),
        Arc::new(filtered),
    )?))
}
