//! Row locks as statements meet them: waiting for a lock (with the deadlock check after `deadlock_timeout`,
//! and `lock_timeout`), READ COMMITTED's re-check of a row that a concurrent commit changed (PostgreSQL's
//! EvalPlanQual: the statement's plan re-run for that one row over the newest version), and
//! `SELECT ... FOR UPDATE | FOR SHARE [NOWAIT | SKIP LOCKED]`.
//!
//! Waits are awaited on the connection's runtime, never blocking a thread: a cancel or `statement_timeout`
//! drops the wait, which withdraws the request.

use std::sync::Arc;
use std::time::Instant;

use arrow_array::RecordBatch;
use datafusion::common::Column;
use datafusion::logical_expr::{Expr, Filter, LogicalPlan, Projection, lit};
use datafusion::scalar::ScalarValue;
use datafusion::sql::sqlparser::ast;
use omendb_storage::{LockMode, LockWait, RowLock, WaitPolicy, WriteTxn};

use super::{Output, Prepared, Session, Tx, rename};
use crate::error::{Error, Result, code};

/// The name of the key column a locking SELECT carries as its last output column.
pub(super) const LOCK_KEY: &str = "__omendb_lock_key";

/// How a `SELECT ... FOR ...` locks the rows it returns.
#[derive(Debug)]
pub struct RowLocking {
    mode: LockMode,
    policy: WaitPolicy,
    /// The tables whose rows are locked, in the order of their key columns (last in the plan's output).
    tables: Vec<String>,
    /// `FOR UPDATE` etc., for error messages.
    clause: &'static str,
    /// LIMIT and OFFSET, applied after locking (PostgreSQL locks below the limit: a skipped row does not
    /// count).
    limit: Count,
    offset: Count,
}

#[derive(Debug)]
enum Count {
    All,
    Const(usize),
    Param(usize),
}

impl RowLocking {
    /// The (first) table whose rows are locked: the statement's target.
    pub fn table(&self) -> &str {
        &self.tables[0]
    }

    /// How many key columns the plan appends (one per locked table).
    pub fn keys(&self) -> usize {
        self.tables.len()
    }
}

/// The name of the key column of the `i`th locked table.
fn key_alias(i: usize) -> String {
    if i == 0 {
        LOCK_KEY.to_string()
    } else {
        format!("{LOCK_KEY}_{i}")
    }
}

impl Count {
    fn of(e: Option<&ast::Expr>) -> Result<Count> {
        let Some(e) = e else { return Ok(Count::All) };
        let bad = || {
            Error::sql(
                code::FEATURE_NOT_SUPPORTED,
                format!("LIMIT/OFFSET {e} with a locking clause is not supported"),
            )
        };
        match e {
            ast::Expr::Value(v) => match &v.value {
                ast::Value::Number(n, _) => n.parse().map(Count::Const).map_err(|_| bad()),
                ast::Value::Placeholder(p) => p
                    .strip_prefix('$')
                    .and_then(|i| i.parse::<usize>().ok())
                    .filter(|i| *i > 0)
                    .map(|i| Count::Param(i - 1))
                    .ok_or_else(bad),
                ast::Value::Null => Ok(Count::All),
                _ => Err(bad()),
            },
            _ => Err(bad()),
        }
    }

    fn value(&self, params: &[ScalarValue]) -> Result<Option<usize>> {
        match self {
            Count::All => Ok(None),
            Count::Const(n) => Ok(Some(*n)),
            Count::Param(i) => match params.get(*i) {
                Some(v) if v.is_null() => Ok(None),
                Some(v) => match v.cast_to(&arrow_schema::DataType::Int64)? {
                    ScalarValue::Int64(Some(n)) if n >= 0 => Ok(Some(n as usize)),
                    _ => Err(Error::sql("2201W", "LIMIT must not be negative")),
                },
                None => Err(Error::sql(
                    code::PROTOCOL_VIOLATION,
                    "missing LIMIT parameter",
                )),
            },
        }
    }
}

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

    /// Prepares the locking clause of a SELECT: the query is rewritten to carry the locked table's key as
    /// its last column, without its LIMIT and OFFSET (applied as rows are locked).
    pub(super) fn locking_query(&self, q: &mut ast::Query) -> Result<Option<RowLocking>> {
        let Some(first) = q.locks.first().cloned() else {
            return Ok(None);
        };
        let (mode, of) = crate::tokens::lock_strength(
            first.lock_type == ast::LockType::Update,
            first.of.as_ref(),
        );
        let clause = match mode {
            LockMode::Update => "FOR UPDATE",
            LockMode::NoKeyUpdate => "FOR NO KEY UPDATE",
            LockMode::Share => "FOR SHARE",
            LockMode::KeyShare => "FOR KEY SHARE",
        };
        let policy = match first.nonblock {
            None => WaitPolicy::Wait,
            Some(ast::NonBlock::Nowait) => WaitPolicy::NoWait,
            Some(ast::NonBlock::SkipLocked) => WaitPolicy::Skip,
        };
        let unsupported = |what: &str| {
            Error::sql(
                code::FEATURE_NOT_SUPPORTED,
                format!("{clause} is not allowed with {what}"),
            )
        };
        let ast::SetExpr::Select(select) = q.body.as_mut() else {
            return Err(unsupported("UNION/INTERSECT/EXCEPT"));
        };
        if select.distinct.is_some() {
            return Err(unsupported("DISTINCT clause"));
        }
        if !matches!(&select.group_by, ast::GroupByExpr::Expressions(e, _) if e.is_empty()) {
            return Err(unsupported("GROUP BY clause"));
        }
        if select.having.is_some() {
            return Err(unsupported("HAVING clause"));
        }
        // Every table of FROM (or those OF names), each with its key appended to the output.
        let mut relations: Vec<(&ast::TableFactor, bool)> = vec![];
        for from in &select.from {
            let first = relations.len();
            relations.push((&from.relation, false));
            for j in &from.joins {
                use ast::JoinOperator as J;
                // RIGHT and FULL joins make everything before them nullable; LEFT and FULL, their right side.
                if matches!(
                    j.join_operator,
                    J::Right(_) | J::RightOuter(_) | J::FullOuter(_)
                ) {
                    for r in &mut relations[first..] {
                        r.1 = true;
                    }
                }
                let nullable = matches!(
                    j.join_operator,
                    J::Left(_) | J::LeftOuter(_) | J::FullOuter(_)
                );
                relations.push((&j.relation, nullable));
            }
        }
        let of_name = of.as_ref().map(|o| o.to_string());
        let mut keys = vec![];
        for (relation, nullable) in relations {
            let ast::TableFactor::Table { name, alias, .. } = relation else {
                if of_name.is_none() {
                    return Err(Error::sql(
                        code::FEATURE_NOT_SUPPORTED,
                        format!(
                            "{clause} over a subquery or function in FROM is not supported yet"
                        ),
                    ));
                }
                continue;
            };
            let table = self.names().lookup(name)?;
            let visible = alias
                .as_ref()
                .map(|a| crate::ddl::ident(&a.name))
                .unwrap_or_else(|| crate::search_path::split(&table).1.to_string());
            if of_name.as_ref().is_some_and(|o| *o != visible) {
                continue;
            }
            if nullable {
                return Err(Error::sql(
                    code::FEATURE_NOT_SUPPORTED,
                    format!("{clause} cannot be applied to the nullable side of an outer join"),
                ));
            }
            keys.push((table, alias.clone(), name.clone()));
        }
        if let Some(o) = &of_name
            && keys.is_empty()
        {
            return Err(Error::sql(
                code::UNDEFINED_TABLE,
                format!("relation \"{o}\" in {clause} clause not found in FROM clause"),
            ));
        }
        let joined = keys.len() > 1 || select.from.len() > 1 || !select.from[0].joins.is_empty();
        let mut tables = vec![];
        for (i, (table, alias, _)) in keys.into_iter().enumerate() {
            let reader = crate::catalog::resolve(&self.engine.db, &mut self.view.lock(), &table)?
                .ok_or_else(|| {
                Error::sql(
                    code::UNDEFINED_TABLE,
                    format!("relation \"{table}\" does not exist"),
                )
            })?;
            let def = reader.def();
            let key = match def.primary_key {
                Some(k) => def.columns[k].name.clone(),
                // A table without a primary key is locked by its hidden row id, which only the
                // statement's one target table shows.
                None if !joined => omendb_storage::ROWID_COLUMN.to_string(),
                None => {
                    return Err(Error::sql(
                        code::FEATURE_NOT_SUPPORTED,
                        format!(
                            "{clause} over a join of \"{table}\", a table without a primary key, is not supported yet"
                        ),
                    ));
                }
            };
            // The relation as the query names it (DataFusion qualifies its columns so).
            let qualifier = alias.as_ref().map(|a| a.name.clone()).unwrap_or_else(|| {
                ast::Ident::new(crate::search_path::split(&table).1.to_string())
            });
            select.projection.push(ast::SelectItem::ExprWithAlias {
                expr: ast::Expr::CompoundIdentifier(vec![
                    qualifier,
                    ast::Ident::with_quote('"', key),
                ]),
                alias: ast::Ident::with_quote('"', key_alias(i)),
            });
            tables.push(table);
        }
        let (limit, offset) = match q.limit_clause.take() {
            None => (Count::All, Count::All),
            Some(ast::LimitClause::LimitOffset {
                limit,
                offset,
                limit_by,
            }) if limit_by.is_empty() => (
                Count::of(limit.as_ref())?,
                Count::of(offset.as_ref().map(|o| &o.value))?,
            ),
            Some(_) => return Err(unsupported("this LIMIT form")),
        };
        if q.fetch.is_some() {
            return Err(unsupported("FETCH"));
        }
        q.locks.clear();
        Ok(Some(RowLocking {
            mode,
            policy,
            tables,
            clause,
            limit,
            offset,
        }))
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
                for (k, table) in locking.tables.iter().enumerate() {
                    let column = b.column(first_key + k);
                    let key = omendb_storage::column_key_at(
                        column.as_ref(),
                        key_kind(column.data_type()),
                        i,
                    );
                    let got = self
                        .with_locks(|t| t.lock_row(table, &key, locking.mode, locking.policy))
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
