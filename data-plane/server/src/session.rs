//! One client session: its DataFusion context, transaction state, settings and prepared statements.
//!
//! Isolation is PostgreSQL's (documented in docs/server.md): READ COMMITTED (the default) reads a snapshot
//! per statement, REPEATABLE READ and SERIALIZABLE one per transaction; every written or `FOR UPDATE` row is
//! locked until the transaction ends (`locking.rs`); readers never block writers. Transaction statements
//! live in `transaction.rs`.

mod advisory;
mod alter;
mod alter_sequence;
mod checks;
mod cursors;
mod listen;
pub use cursors::{Cursors, MOVE_MARKER, NEGATIVE_MARKER};
mod dml;
mod foreign_keys;
mod indexes;
mod joined;
mod lock_clause;
mod locked_subqueries;
mod locking;
mod maintenance;
mod owners;
mod prepare;
mod rename;
mod replan;
mod returning;
mod statement;
mod upsert;
pub use statement::{Kind, Output, Prepared, PreparedStatement, RowsRest, Tx};
mod sql_prepare;
mod table_ddl;
mod transaction;
mod types;
mod views;
mod with_dml;

use std::sync::Arc;
use std::time::Instant;

use arrow_array::RecordBatch;
use arrow_schema::{Schema, SchemaRef};

use datafusion::common::tree_node::Transformed;
use datafusion::datasource::provider_as_source;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion::scalar::ScalarValue;
use datafusion::sql::sqlparser::ast::{self, Statement};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;
use pgwire::api::results::Tag;

use crate::catalog::{SharedView, resolve};
use crate::copy::CopyIn;
use crate::engine::Engine;
use crate::error::{Error, Result, code};
use crate::settings::{self, Settings};

pub struct Session {
    pub engine: Arc<Engine>,
    /// Where DataFusion executes (the shared pool, not this connection's thread).
    pool: tokio::runtime::Handle,
    ctx: SessionContext,
    view: SharedView,
    /// The session's sequence values (`currval`, `lastval`), shared with the sequence functions.
    sequences: crate::sequences::Shared,
    pub tx: Tx,
    pub settings: Settings,
    /// What the catalog relations and functions are generated from.
    source: crate::pg_catalog::Source,
    /// COPY FROM STDIN in progress.
    pub copy: Option<CopyIn>,
    /// The authenticated user (psql's describe output names it as the owner).
    pub user: String,
    /// The engine's id of this session: the owner of its locks, a node of the wait-for graph.
    pub session_id: u64,
    /// Names of the open transaction's savepoints, oldest first (their index is the engine's).
    savepoints: Vec<String>,
    /// ROLLBACK TO just recovered a failed transaction: the listener must tell the protocol layer.
    pub recovered: bool,
    /// The session's advisory locks (`pg_advisory_lock` and friends).
    advisory: Arc<advisory::Advisory>,
    /// Warnings and notices for the client, sent before the statement's result.
    notices: Vec<Notice>,
    /// This session's row of `pg_stat_activity`.
    pub activity: crate::activity::Entry,
    /// Open SQL cursors, by name (shared with the catalog's `pg_cursors`).
    cursors: Arc<parking_lot::Mutex<cursors::Cursors>>,
    /// PREPARE's statements, by name.
    sql_prepared: sql_prepare::SqlPrepared,
    /// This transaction's LISTEN / UNLISTEN / NOTIFY (and `pg_notify()`'s), applied at COMMIT.
    notify: Arc<parking_lot::Mutex<crate::notify::Pending>>,
    /// Notifications for this session; the connection loop takes it and forwards them while idle.
    pub mailbox: Option<tokio::sync::mpsc::UnboundedReceiver<crate::notify::Notification>>,
}

/// A WARNING or NOTICE for the client.
#[derive(Clone, Debug)]
pub struct Notice {
    pub severity: &'static str,
    pub code: &'static str,
    pub message: String,
}

pub fn parse(sql: &str) -> Result<Vec<Statement>> {
    let rewritten = crate::tokens::rewrite(sql);
    let sql = rewritten.as_deref().unwrap_or(sql);
    let mut stmts = Parser::parse_sql(&PostgreSqlDialect {}, sql).map_err(|e| {
        let m = e.to_string();
        let m = match m.find(", found: ") {
            Some(at) => {
                let rest = &m[at + ", found: ".len()..];
                format!(
                    "syntax error at or near \"{}\"",
                    rest.split(" at Line").next().unwrap_or(rest)
                )
            }
            None => m,
        };
        Error::sql(code::SYNTAX_ERROR, m)
    })?;
    crate::precedence::fix_statements(&mut stmts);
    Ok(stmts)
}

impl Session {
    pub fn new(engine: Arc<Engine>, pool: tokio::runtime::Handle) -> Session {
        let config = SessionConfig::new()
            .with_default_catalog_and_schema("omendb", crate::search_path::PATH_SCHEMA)
            .with_create_default_catalog_and_schema(false)
            // information_schema is ours (PostgreSQL's content), not DataFusion's.
            .with_information_schema(false)
            .with_target_partitions(2)
            // `1.005` is numeric in PostgreSQL, not a float: it must round into numeric(10,2) as 1.01.
            .set_bool("datafusion.sql_parser.parse_float_as_decimal", true)
            // timestamptz (and now()) carry a zone, so they are described as timestamptz to clients.
            .set_str("datafusion.execution.time_zone", "UTC")
            // What a sort that spilled keeps for merging its runs back: a third of the query memory, so
            // that the two partitions' merges fit beside what the rest of the query holds (with
            // DataFusion's 10 MiB a 64 MiB limit fails its merges; figures in docs/benchmarks.md).
            .set_usize(
                "datafusion.execution.sort_spill_reservation_bytes",
                ((engine.config.limits.max_query_memory_mb() << 20) / 3).max(10 << 20),
            );
        let mut ctx = SessionContext::new_with_config_rt(config, engine.runtime.clone());
        crate::json::register(&mut ctx).expect("registering the json operators cannot fail");
        let view = SharedView::default();
        let session_id = engine.db.new_session();
        let activity = engine.activity.register(session_id);
        crate::system_views::register_functions(&ctx, &engine, &activity);
        let settings = Settings::new(engine.config.limits.statement_timeout_ms);
        let functions = Arc::new(std::sync::OnceLock::new());
        let cursors = Arc::new(parking_lot::Mutex::new(cursors::Cursors::default()));
        let source = crate::pg_catalog::Source {
            cursors: cursors.clone(),
            engine: engine.clone(),
            db: engine.db.clone(),
            view: view.clone(),
            settings: settings.clone(),
            me: activity.clone(),
            functions: functions.clone(),
            default_functions: Default::default(),
            stand_ins: Default::default(),
        };
        ctx.register_catalog(
            "omendb",
            Arc::new(crate::catalog::Catalog::new(source.clone())),
        );
        let advisory = advisory::Advisory::new(engine.db.clone(), session_id, view.clone());
        let mailbox = engine.notify.open(session_id);
        let notify = Arc::new(parking_lot::Mutex::new(crate::notify::Pending::default()));
        advisory::register(&ctx, &advisory);
        crate::pg_catalog::functions::register(&ctx, &source);
        crate::pg_catalog::scalar_functions::register(&ctx);
        ctx.register_udf(crate::uuids::GenRandomUuid::udf());
        ctx.register_udf(crate::enums::EnumIn::udf());
        crate::bytea::register(&ctx);
        ctx.register_udf(crate::to_char::udf());
        crate::pg_catalog::table_functions::register(&ctx);
        listen::register(&ctx, &notify, &activity);
        listen::register_channels(&ctx, &engine, session_id);
        crate::subquery::register(&ctx);
        crate::apply::register(&ctx);
        crate::timestamps::register(&ctx);
        crate::sleep::register(&ctx);
        crate::call_names::register(&ctx);
        crate::avg::register(&ctx);
        crate::sum::register(&ctx);
        crate::typing::register(&ctx);
        let sequences = crate::sequences::Shared::default();
        crate::sequences::register(&ctx, &source, &sequences);
        let state = ctx.state();
        let _ = functions.set(
            state
                .scalar_functions()
                .keys()
                .chain(state.aggregate_functions().keys())
                .chain(state.window_functions().keys())
                .cloned()
                .collect(),
        );
        Session {
            sequences,
            settings,
            source,
            engine,
            pool,
            ctx,
            view,
            tx: Tx::Idle,
            copy: None,
            user: String::new(),
            session_id,
            savepoints: Vec::new(),
            recovered: false,
            advisory,
            notices: Vec::new(),
            activity,
            cursors,
            sql_prepared: Default::default(),
            notify,
            mailbox: Some(mailbox),
        }
    }

    /// Runs a fast-path statement; `None` when it must take the DataFusion path after all.
    async fn run_fast(
        &mut self,
        f: &crate::fast::Fast,
        p: &Prepared,
        params: &[ScalarValue],
    ) -> Result<Option<Output>> {
        let engine = self.engine.clone();
        let metrics = &engine.metrics;
        if p.kind == Kind::Select {
            let schema = p.result.clone().expect("a SELECT has a result schema");
            let reader = resolve(&self.engine.db, &mut self.view.lock(), &f.table)?;
            let Some(reader) = reader else {
                return Ok(None);
            };
            let Some(batch) = f.read(&reader, params, &schema)? else {
                return Ok(None);
            };
            metrics.fast(f.label());
            metrics.rows_returned.inc_by(batch.num_rows() as u64);
            return Ok(Some(Output::Rows(schema, vec![batch])));
        }
        self.check_writable(p.kind.command())?;
        let autocommit = self.tx == Tx::Idle;
        if autocommit {
            self.begin();
        }
        let now = self
            .xact_start()
            .unwrap_or_else(crate::activity::now_micros);
        // Only timestamps read the zone: the common write need not look it up.
        let zone = if f.has_timestamps() {
            self.zone()
        } else {
            crate::zone::Zone::default()
        };
        let mut written = None;
        let db = self.engine.db.clone();
        let sequences = self.sequences.clone();
        // A SERIAL column's value: found by the name its DEFAULT gives (the fast path leaves any other
        // lookup to DataFusion).
        let mut nextval = |txn: &omendb_storage::WriteTxn, name: &str| -> Result<Option<i64>> {
            let Some(def) = txn.sequence(name) else {
                return Ok(None);
            };
            let v = db.nextval(&def)?;
            sequences.lock().record(def.id, v);
            Ok(Some(v))
        };
        let r = loop {
            let r = {
                let mut v = self.view.lock();
                let txn = v.txn.as_mut().expect("writes run in a transaction");
                f.write(txn, params, now, &zone, &mut written, &mut nextval)
            };
            // A locked row: wait for it, then run the write again (nothing was written yet).
            match r {
                Err(Error::Storage(omendb_storage::Error::LockWait { wait, .. })) => {
                    if let Err(e) = self.wait_for(wait).await {
                        break Err(e);
                    }
                }
                r => break r,
            }
        };
        let n = match r {
            Ok(Some(n)) => n,
            Ok(None) | Err(_) if autocommit => {
                self.rollback();
                return r.map(|_| None);
            }
            Ok(None) => return Ok(None),
            Err(e) => return Err(e),
        };
        if autocommit {
            self.commit().await?;
        }
        metrics.fast(f.label());
        metrics
            .rows_written
            .with_label_values(&[f.label()])
            .inc_by(n as u64);
        if let (Some(row), Some(schema)) = (&written, &p.result)
            && let Some(batch) = f.returned(row, schema)?
        {
            metrics.rows_returned.inc();
            return Ok(Some(Output::Rows(schema.clone(), vec![batch])));
        }
        let tag = match p.kind {
            Kind::Insert => Tag::new("INSERT").with_oid(0).with_rows(n),
            Kind::Update => Tag::new("UPDATE").with_rows(n),
            _ => Tag::new("DELETE").with_rows(n),
        };
        Ok(Some(Output::Command(tag)))
    }

    /// How the session finds tables now (its view and search path).
    pub(crate) fn names(&self) -> crate::search_path::Names {
        self.source.names()
    }

    /// The zone values of `schema` print in: the session's when it has a timestamptz column (the lookup is
    /// skipped for the others, which are most results).
    pub fn zone_for(&self, schema: &arrow_schema::Schema) -> crate::zone::Zone {
        let zoned = schema
            .fields()
            .iter()
            .any(|f| matches!(f.data_type(), arrow_schema::DataType::Timestamp(_, Some(_))));
        if zoned {
            self.zone()
        } else {
            crate::zone::Zone::default()
        }
    }

    /// The session's time zone, read from its settings (SET, SET LOCAL, set_config and rollbacks all end
    /// there).
    pub fn zone(&self) -> crate::zone::Zone {
        self.settings
            .get("TimeZone")
            .ok()
            .and_then(|v| crate::zone::Zone::setting(&v))
            .unwrap_or_default()
    }

    /// Hands the session zone to DataFusion, which reads it for `::timestamptz`, now(), the zone rules
    /// (timestamps.rs) and timestamptz text; at planning and again at execution (a prepared statement may
    /// run after a SET).
    fn sync_zone(&self) {
        let zone = self.zone().arrow();
        let state = self.ctx.state_ref();
        let mut state = state.write();
        let execution = &mut state.config_mut().options_mut().execution;
        if execution.time_zone.as_deref() != Some(&*zone) {
            execution.time_zone = Some(zone.to_string());
        }
    }

    /// Plans a query or DML statement against the connection's current view.
    async fn plan(&mut self, stmt: Statement, physical: Vec<String>) -> Result<LogicalPlan> {
        self.sync_zone();
        self.view.lock().physical = physical;
        self.view.lock().no_index = !self.settings.learned_index();
        let r = self
            .ctx
            .state()
            .statement_to_plan(datafusion::sql::parser::Statement::Statement(Box::new(
                stmt,
            )))
            .await;
        self.view.lock().physical = vec![];
        let plan = crate::typing::type_literals(r?)?;
        Ok(crate::typing::coerce(
            plan,
            self.ctx.state().config_options(),
        ))
    }

    /// Runs every statement of a simple-protocol query string. Like PostgreSQL, several statements outside
    /// an explicit transaction run as one implicit transaction, and the first error stops the rest.
    pub async fn simple_prepared(
        &mut self,
        sql: String,
    ) -> Vec<(Option<Prepared>, Result<Output>)> {
        let sql = sql.as_str();
        let stmts = match parse(sql) {
            Ok(s) => s,
            Err(e) => {
                self.fail();
                return vec![(None, Err(e))];
            }
        };
        if stmts.is_empty() {
            return vec![(None, Ok(Output::Empty))];
        }
        let implicit = stmts.len() > 1
            && self.tx == Tx::Idle
            && stmts.iter().all(|s| {
                matches!(
                    Kind::of(s),
                    Kind::Select
                        | Kind::Insert
                        | Kind::Update
                        | Kind::Delete
                        | Kind::Ddl
                        | Kind::Set
                        | Kind::Show
                )
            });
        if implicit {
            self.begin();
        }
        let mut out = Vec::new();
        let count = stmts.len();
        for (i, stmt) in stmts.into_iter().enumerate() {
            let (p, r) = match &stmt {
                Statement::Execute { .. } => match self.execute_prepared(&stmt).await {
                    Ok((p, r)) => (Some(p), r),
                    Err(e) => {
                        self.fail();
                        (None, Err(e))
                    }
                },
                _ => match self.prepare_stmt(stmt, &[]).await {
                    Ok(p) => {
                        let r = self.execute(&p, vec![]).await;
                        (Some(p), r)
                    }
                    Err(e) => {
                        self.fail();
                        (None, Err(e))
                    }
                },
            };
            // Only the last statement streams: an error late in a result must stop the statements after
            // it, as in PostgreSQL.
            let r = match r {
                Ok(o @ Output::Stream(..)) if i + 1 < count => {
                    let r = o.collected().await;
                    if r.is_err() {
                        self.fail();
                    }
                    r
                }
                r => r,
            };
            let failed = r.is_err();
            let copy = matches!(r, Ok(Output::CopyIn(_)));
            out.push((p, r));
            if failed || copy {
                break;
            }
        }
        if implicit {
            if self.tx == Tx::Active {
                if let Err(e) = self.commit().await {
                    out.push((None, Err(e)));
                }
            } else {
                self.rollback();
            }
        }
        out
    }

    /// A statement was interrupted (cancel, timeout) mid-way: drop what it left in the view.
    pub fn abort_statement(&mut self, was: Tx) {
        let mut v = self.view.lock();
        v.snapshot = None;
        v.physical = vec![];
        drop(v);
        if was == Tx::Idle {
            self.rollback();
        } else {
            self.fail();
        }
    }

    /// When the open transaction began (microseconds since the epoch): what now() returns in it.
    fn xact_start(&self) -> Option<i64> {
        self.activity.lock().xact_start
    }

    async fn run_prepared(&mut self, p: &Prepared, params: Vec<ScalarValue>) -> Result<Output> {
        if let Some(w) = &p.with_dml {
            return Box::pin(self.execute_with_dml(w.clone(), params)).await;
        }
        if let Some(l) = &p.locked_subqueries {
            return Box::pin(self.execute_locked_subqueries(l.clone(), params)).await;
        }
        if p.plan.is_some() {
            self.execute_advisory(p, params).await
        } else {
            self.execute_inner(p, params).await
        }
    }

    /// Executes a prepared statement with bound parameter values.
    pub async fn execute(&mut self, p: &Prepared, params: Vec<ScalarValue>) -> Result<Output> {
        let replanned = match self.current_plan(p).await {
            Ok(again) => again,
            Err(e) => {
                self.fail();
                return Err(e);
            }
        };
        let params = match &replanned {
            // The values were read as the statement first described its parameters.
            Some(again) => match replan::cast_params(params, again) {
                Ok(params) => params,
                Err(e) => {
                    self.fail();
                    return Err(e);
                }
            },
            None => params,
        };
        let p = replanned.as_ref().unwrap_or(p);
        let started = Instant::now();
        {
            let mut a = self.activity.lock();
            a.state = "active";
            a.query = Some(p.clone());
            a.query_start = Some(crate::activity::now_micros());
        }
        let overtakable =
            self.tx == Tx::Idle && matches!(p.kind, Kind::Insert | Kind::Update | Kind::Delete);
        let again = overtakable.then(|| params.clone());
        let mut r = self.run_prepared(p, params).await;
        if let Some(params) = again {
            r = self.replan_overtaken(p, params, r).await;
        }
        if r.is_err() {
            self.fail();
        }
        if self.tx == Tx::Idle {
            // Outside a transaction block a statement is its own transaction: its notifications go now.
            let mut pending = self.notify.lock();
            if r.is_ok() {
                pending.commit(&self.engine.notify, self.session_id);
            } else {
                pending.rollback();
            }
        }
        self.activity.lock().state = match self.tx {
            Tx::Idle => "idle",
            Tx::Active => "idle in transaction",
            Tx::Failed => "idle in transaction (aborted)",
        };
        self.engine
            .metrics
            .query(p.kind.label(), r.is_ok(), started.elapsed());
        r
    }

    /// A planned statement may call an advisory lock function that finds its lock taken: give back what
    /// the statement took, wait for the lock to be free, and run the statement again.
    async fn execute_advisory(&mut self, p: &Prepared, params: Vec<ScalarValue>) -> Result<Output> {
        loop {
            self.advisory.statement_begins();
            let r = self.execute_inner(p, params.clone()).await;
            let Some((res, mode)) = r.as_ref().err().and_then(advisory::must_wait) else {
                return r;
            };
            let res = res.clone();
            self.advisory.give_back();
            let owner = omendb_storage::Owner {
                session: self.session_id,
                txn: None,
            };
            let locks = self.engine.db.locks().clone();
            if let omendb_storage::Acquire::Wait(w) =
                locks.acquire(owner, res.clone(), mode, omendb_storage::WaitPolicy::Wait)
            {
                self.wait_for(w).await?;
            }
            // Only its being free mattered: the statement takes it again as it runs.
            locks.release(owner, &res, Some(mode));
        }
    }

    async fn execute_inner(&mut self, p: &Prepared, params: Vec<ScalarValue>) -> Result<Output> {
        if self.tx == Tx::Failed && !matches!(p.kind, Kind::Commit | Kind::Rollback | Kind::Empty) {
            return Err(Error::sql(
                code::IN_FAILED_TRANSACTION,
                "current transaction is aborted, commands ignored until end of transaction block",
            ));
        }
        if params.len() != p.params.len() && p.kind.planned() {
            return Err(Error::sql(
                code::PROTOCOL_VIOLATION,
                format!(
                    "bind message supplies {} parameters, but prepared statement requires {}",
                    params.len(),
                    p.params.len()
                ),
            ));
        }
        let Some(stmt) = &p.stmt else {
            return Ok(Output::Empty);
        };
        if self.tx == Tx::Active
            && matches!(
                p.kind,
                Kind::Select | Kind::Insert | Kind::Update | Kind::Delete | Kind::Copy
            )
        {
            self.statement_begins();
        }
        if let Some(f) = &p.fast {
            if let Some(out) = self.run_fast(f, p, &params).await? {
                return Ok(out);
            }
            // Not for the fast path after all (a changed table, a value that needs DataFusion's casts).
            let planned = self.prepare_planned(stmt.clone(), p.kind, &[]).await?;
            let params = replan::cast_params(params, &planned)?;
            return Box::pin(self.execute_inner(&planned, params)).await;
        }
        if p.kind.planned() {
            self.sync_zone();
        }
        match p.kind {
            Kind::Select if p.locking.is_some() => {
                let locking = p.locking.clone().expect("checked");
                self.select_locked(p, &locking, params).await
            }
            Kind::Select => {
                let plan = self.bound(p, params)?;
                let snapshot = self.tx == Tx::Idle;
                if snapshot {
                    self.view.lock().snapshot = Some(self.engine.db.snapshot());
                }
                let plan = self.rebind(plan, None, p.no_index);
                let r = match plan {
                    Ok(plan) => self.collect_or_stream(plan).await,
                    Err(e) => Err(e),
                };
                if snapshot {
                    self.view.lock().snapshot = None;
                }
                let (schema, batches, rest) = r?;
                let (schema, batches) = match p.names.as_deref() {
                    Some(names) => {
                        let renamed = rename(schema.clone(), Some(names));
                        let batches = batches
                            .into_iter()
                            .map(|b| RecordBatch::try_new(renamed.clone(), b.columns().to_vec()))
                            .collect::<std::result::Result<Vec<_>, _>>()
                            .map_err(|e| Error::sql(code::INTERNAL, e.to_string()))?;
                        (renamed, batches)
                    }
                    None => (schema, batches),
                };
                // The simple protocol describes rows from here: the origins found when the statement was
                // prepared name each column's table, column number and typmod, as in the extended one.
                let schema = match &p.result {
                    Some(described) if described.fields().len() == schema.fields().len() => {
                        with_origins(&schema, described)
                    }
                    _ => schema,
                };
                let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
                self.engine.metrics.rows_returned.inc_by(rows as u64);
                Ok(match rest {
                    Some(rest) => Output::Stream(schema, batches, rest),
                    None => Output::Rows(schema, batches),
                })
            }
            Kind::Insert | Kind::Update | Kind::Delete => {
                self.check_writable(p.kind.command())?;
                // DO UPDATE's expressions are planned per conflict, with the statement's parameters.
                let upsert_params = if p.upsert.is_some() {
                    params.clone()
                } else {
                    vec![]
                };
                let plan = self.bound(p, params)?;
                let autocommit = self.tx == Tx::Idle;
                if autocommit {
                    self.begin();
                }
                let keep = p.returning.is_some();
                let r = match self.rebind(plan, p.target.clone(), p.no_index) {
                    Ok(plan) => {
                        let upsert = p.upsert.clone();
                        let upsert = upsert.as_deref().map(|u| (u, upsert_params.as_slice()));
                        self.write(plan, p.target.clone(), p.no_index, keep, upsert)
                            .await
                    }
                    Err(e) => Err(e),
                };
                // RETURNING's rows, computed before COMMIT (an error there undoes the write).
                let r = match (r, &p.returning) {
                    (Ok((_, written)), Some(ret)) => {
                        let schema = ret.schema.clone().expect("set at prepare");
                        self.returning_rows(ret, schema, written)
                            .await
                            .map(|(s, b)| Output::Rows(s, b))
                    }
                    (Ok((tag, _)), None) => Ok(Output::Command(tag)),
                    (Err(e), _) => Err(e),
                };
                self.finish_statement(r, autocommit).await
            }
            Kind::Begin => {
                let Statement::StartTransaction { modes, begin, .. } = stmt else {
                    unreachable_kind()?
                };
                self.begin_statement(modes, *begin)
            }
            Kind::Commit => self.commit_statement().await,
            Kind::Rollback => {
                let Statement::Rollback { savepoint, .. } = stmt else {
                    unreachable_kind()?
                };
                self.rollback_statement(savepoint.as_ref())
            }
            Kind::Savepoint => {
                let Statement::Savepoint { name } = stmt else {
                    unreachable_kind()?
                };
                self.savepoint_statement(name)
            }
            Kind::Release => {
                let Statement::ReleaseSavepoint { name } = stmt else {
                    unreachable_kind()?
                };
                self.release_statement(name)
            }
            Kind::Set => self.set(stmt),
            Kind::Show => {
                let Statement::ShowVariable { variable } = stmt else {
                    unreachable_kind()?
                };
                let name = show_name(variable);
                let schema = p.result.clone().expect("SHOW has a result schema");
                if name == "all" {
                    let rows = self.settings.all();
                    let col = |f: &dyn Fn(&(&settings::Param, String)) -> String| {
                        Arc::new(arrow_array::StringArray::from(
                            rows.iter().map(f).collect::<Vec<_>>(),
                        )) as arrow_array::ArrayRef
                    };
                    let batch = RecordBatch::try_new(
                        schema.clone(),
                        vec![
                            col(&|(p, _)| p.name.clone()),
                            col(&|(p, v)| settings::show(p, v)),
                            col(&|(p, _)| p.short_desc.clone()),
                        ],
                    )
                    .map_err(|e| Error::sql(code::INTERNAL, e.to_string()))?;
                    return Ok(Output::Rows(schema, vec![batch]));
                }
                let value = self.source.setting(&name)?;
                let batch = RecordBatch::try_new(
                    schema.clone(),
                    vec![Arc::new(arrow_array::StringArray::from(vec![value]))],
                )
                .map_err(|e| Error::sql(code::INTERNAL, e.to_string()))?;
                Ok(Output::Rows(schema, vec![batch]))
            }
            Kind::Copy if matches!(stmt, Statement::Copy { to: true, .. }) => {
                self.copy_out(stmt).await
            }
            Kind::Copy => self.copy_in(stmt),
            Kind::Ddl => self.ddl(stmt).await,
            Kind::Deallocate => self.sql_prepare(stmt).await,
            Kind::Execute => self.execute_prepared(stmt).await?.1,
            Kind::Cursor => self.cursor_statement(p, stmt, params).await,
            Kind::Notify => self.notify_statement(stmt),
            Kind::Empty => Ok(Output::Empty),
        }
    }

    /// The cached plan with parameter values substituted.
    fn bound(&self, p: &Prepared, params: Vec<ScalarValue>) -> Result<LogicalPlan> {
        let plan = p.plan.clone().expect("planned kinds carry a plan");
        if params.is_empty() {
            return Ok(plan);
        }
        Ok(plan.with_param_values(params)?)
    }

    /// Points every table scan of a cached plan at the current view (snapshot or transaction): a plan made at
    /// Parse time must not read the data as it was then.
    fn rebind(
        &self,
        plan: LogicalPlan,
        target: Option<String>,
        no_index: bool,
    ) -> Result<LogicalPlan> {
        let db = self.engine.db.clone();
        let view = self.view.clone();
        let source = self.source.clone();
        let out = plan.transform_up_with_subqueries(|node| match node {
            LogicalPlan::TableScan(mut scan) => {
                let storage = crate::catalog::storage_name_of(&scan.source);
                let name = storage
                    .clone()
                    .unwrap_or_else(|| scan.table_name.table().to_string());
                let schema = scan.table_name.schema().map(str::to_string);
                let reader = match &storage {
                    Some(storage) => resolve(&db, &mut view.lock(), storage)
                        .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?,
                    None => None,
                };
                let Some(reader) = reader else {
                    if storage.is_some() {
                        // Dropped since planning: the scan reports it.
                        return Ok(Transformed::no(LogicalPlan::TableScan(scan)));
                    }
                    // A catalog relation: built again from the live state for this execution. Anything
                    // else was made while planning (a table function's output, `generate_series()`).
                    let Some(fresh) = source.provider(schema.as_deref(), &name)? else {
                        return Ok(Transformed::no(LogicalPlan::TableScan(scan)));
                    };
                    scan.source = provider_as_source(fresh);
                    return Ok(Transformed::yes(LogicalPlan::TableScan(scan)));
                };
                // A scan planned with the hidden row id (a write's target, a locked table) keeps it.
                let physical = target.as_deref() == Some(name.as_str())
                    || scan
                        .source
                        .schema()
                        .index_of(omendb_storage::ROWID_COLUMN)
                        .is_ok();
                let provider = crate::catalog::provider(
                    reader,
                    physical,
                    no_index,
                    source.default_functions.get().map_or(&[][..], Vec::as_slice),
                )?;
                use datafusion::catalog::TableProvider;
                if provider.schema() != scan.source.schema() {
                    return Err(datafusion::error::DataFusionError::External(Box::new(
                        Error::sql(
                            code::FEATURE_NOT_SUPPORTED,
                            format!("table \"{name}\" changed since the statement was prepared; prepare it again"),
                        ),
                    )));
                }
                scan.source = provider_as_source(provider);
                Ok(Transformed::yes(LogicalPlan::TableScan(scan)))
            }
            other => Ok(Transformed::no(other)),
        })?;
        Ok(out.data)
    }

    /// Runs a query whose rows go to the client: a small result is collected whole (its errors come
    /// before any row, as for every statement), a large one streams once `STREAM_AFTER` bytes are in hand.
    async fn collect_or_stream(
        &self,
        plan: LogicalPlan,
    ) -> Result<(SchemaRef, Vec<RecordBatch>, Option<statement::RowsRest>)> {
        /// Bytes of result held before the rest streams.
        const STREAM_AFTER: usize = 8 << 20;
        let ctx = self.ctx.clone();
        let xact_start = self.xact_start();
        let engine = self.engine.clone();
        crate::runtime::on_pool(&self.pool, async move {
            use futures::StreamExt;
            // `frugal`: the plan that needs least memory at once: sort-merge joins (a hash join cannot
            // spill; DataFusion plans them only over several partitions), and half the merge memory
            // each sort reserves (a sort-merge join sorts both sides in every partition).
            let state = |frugal: bool| {
                let mut state = ctx.state();
                if let Some(us) = xact_start {
                    state.execution_props_mut().query_execution_start_time =
                        chrono::DateTime::from_timestamp_micros(us);
                }
                if frugal {
                    let options = state.config_mut().options_mut();
                    options.optimizer.prefer_hash_join = false;
                    options.execution.sort_spill_reservation_bytes /= 2;
                }
                state
            };
            let df = datafusion::dataframe::DataFrame::new(state(false), plan.clone());
            let schema = Arc::new(df.schema().as_arrow().clone());
            let mut stream = df.execute_stream().await?;
            let mut first = vec![];
            let mut bytes = 0;
            let mut reruns = 0;
            while let Some(b) = stream.next().await {
                let b = match b {
                    // Past the query memory before any row is out: the query runs again in its frugal
                    // form (figures in docs/benchmarks.md), a second time if the first rerun started
                    // while memory was still held.
                    Err(e)
                        if reruns < 2
                            && first.is_empty()
                            && matches!(
                                e.find_root(),
                                datafusion::error::DataFusionError::ResourcesExhausted(_)
                            ) =>
                    {
                        reruns += 1;
                        // The failed run's tasks give their memory back as they are cancelled, not all
                        // at once: wait until the pool is empty or has not shrunk for 50 ms (two
                        // seconds at most; other queries may hold memory too) before the rerun. A
                        // rerun started on the first pause in the shrinking found 5 of 64 MiB free.
                        drop(std::mem::replace(
                            &mut stream,
                            Box::pin(datafusion::physical_plan::EmptyRecordBatchStream::new(
                                schema.clone(),
                            )),
                        ));
                        let pool = ctx.runtime_env().memory_pool.clone();
                        let mut last = usize::MAX;
                        let mut steady = 0;
                        for _ in 0..200 {
                            let now = pool.reserved();
                            if now == 0 {
                                break;
                            }
                            steady = if now >= last { steady + 1 } else { 0 };
                            if steady >= 5 {
                                break;
                            }
                            last = now;
                            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                        }
                        let df = datafusion::dataframe::DataFrame::new(state(true), plan.clone());
                        stream = df.execute_stream().await?;
                        continue;
                    }
                    b => b?,
                };
                bytes += b.get_array_memory_size();
                first.push(b);
                if bytes > STREAM_AFTER {
                    let (tx, rx) = tokio::sync::mpsc::channel(2);
                    tokio::spawn(async move {
                        while let Some(b) = stream.next().await {
                            if let Ok(b) = &b {
                                engine.metrics.rows_returned.inc_by(b.num_rows() as u64);
                            }
                            // A closed channel: the client went away or the statement was interrupted.
                            if tx.send(b.map_err(Into::into)).await.is_err() {
                                break;
                            }
                        }
                    });
                    return Ok((schema, first, Some(rx)));
                }
            }
            Ok((schema, first, None))
        })
        .await
    }

    async fn collect(&self, plan: LogicalPlan) -> Result<(SchemaRef, Vec<RecordBatch>)> {
        let ctx = self.ctx.clone();
        let xact_start = self.xact_start();
        crate::runtime::on_pool(&self.pool, async move {
            let df = match (&plan, xact_start) {
                (LogicalPlan::Ddl(_) | LogicalPlan::Statement(_), _) | (_, None) => {
                    ctx.execute_logical_plan(plan).await?
                }
                // now() and CURRENT_TIMESTAMP are the transaction's start, as in PostgreSQL: DataFusion
                // folds them from the start time in the execution properties.
                (_, Some(us)) => {
                    let mut state = ctx.state();
                    state.execution_props_mut().query_execution_start_time =
                        chrono::DateTime::from_timestamp_micros(us);
                    datafusion::dataframe::DataFrame::new(state, plan)
                }
            };
            let schema = Arc::new(df.schema().as_arrow().clone());
            let batches = df.collect().await?;
            Ok((schema, batches))
        })
        .await
    }

    fn set(&mut self, stmt: &Statement) -> Result<Output> {
        if let Statement::Reset(r) = stmt {
            match &r.reset {
                ast::Reset::ALL => self.settings.reset_all(),
                ast::Reset::ConfigurationParameter(name) => {
                    self.settings.reset(&name.to_string())?
                }
            }
            return Ok(Output::Command(Tag::new("RESET")));
        }
        let Statement::Set(set) = stmt else {
            unreachable_kind()?
        };
        match set {
            ast::Set::SingleAssignment {
                variable,
                values,
                scope,
                ..
            } => {
                let local = matches!(scope, Some(ast::ContextModifier::Local));
                if local && self.tx == Tx::Idle {
                    self.warn("25P01", "SET LOCAL can only be used in transaction blocks");
                }
                let name = variable.to_string();
                // search_path is a list of identifiers, kept as PostgreSQL shows it: folded, quoted
                // where written so.
                let path = crate::settings::spelled(&name) == "search_path";
                let value = values
                    .iter()
                    .map(|v| match v {
                        ast::Expr::Value(v) => match &v.value {
                            ast::Value::SingleQuotedString(s)
                            | ast::Value::DoubleQuotedString(s) => s.clone(),
                            other => other.to_string(),
                        },
                        ast::Expr::Identifier(i) if path && i.quote_style.is_some() => {
                            format!("\"{}\"", i.value.replace('"', "\"\""))
                        }
                        ast::Expr::Identifier(i) if path => i.value.to_lowercase(),
                        ast::Expr::Identifier(i) => i.value.clone(),
                        other => other.to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                if self.set_transaction_parameter(&name.to_lowercase(), &value)? {
                } else if value.eq_ignore_ascii_case("default") {
                    self.settings.reset(&name)?;
                } else {
                    self.settings.set_scoped(&name, &value, local)?;
                }
            }
            ast::Set::SetTimeZone { local, value } => match crate::zone::set_time_zone(value)? {
                Some(v) => self.settings.set_scoped("timezone", &v, *local)?,
                None => self.settings.reset("timezone")?,
            },
            ast::Set::SetNames { charset_name, .. } => {
                self.settings.set("client_encoding", &charset_name.value)?;
            }
            ast::Set::SetTransaction { modes, session, .. } => {
                self.set_transaction(modes, *session)?
            }
            other => return Err(Error::unsupported(format!("{other}"))),
        }
        Ok(Output::Command(Tag::new("SET")))
    }

    /// Warnings raised since the last call, in order (the session's own, then the advisory functions').
    pub fn take_notices(&mut self) -> Vec<Notice> {
        let mut out = std::mem::take(&mut self.notices);
        out.extend(self.advisory.take_notices());
        out
    }

    pub(super) fn notice(&mut self, code: &'static str, message: impl Into<String>) {
        self.notices.push(Notice {
            severity: "NOTICE",
            code,
            message: message.into(),
        });
    }

    pub(super) fn warn(&mut self, code: &'static str, message: impl Into<String>) {
        self.notices.push(Notice {
            severity: "WARNING",
            code,
            message: message.into(),
        });
    }

    /// Closes the session: an open transaction is rolled back, session-level advisory locks released.
    pub fn close(&mut self) {
        self.rollback();
        self.engine.notify.close(self.session_id);
        self.advisory.release_all();
        self.engine.activity.remove(self.session_id);
    }
}

/// `schema` with the given column names, when there is one per column. Every column may be NULL: the
/// planned schema can claim otherwise where the executed plan differs (a NOT NULL column read through a
/// subquery that found no row), and clients are not told nullability here anyway.
fn rename(schema: SchemaRef, names: Option<&[String]>) -> SchemaRef {
    match names {
        Some(names) if names.len() == schema.fields().len() => Arc::new(Schema::new_with_metadata(
            schema
                .fields()
                .iter()
                .zip(names)
                .map(|(f, n)| f.as_ref().clone().with_name(n).with_nullable(true))
                .collect::<Vec<_>>(),
            schema.metadata().clone(),
        )),
        _ => schema,
    }
}

/// `schema` with the field metadata (column origins) of `described`, the same columns as prepared.
fn with_origins(schema: &SchemaRef, described: &SchemaRef) -> SchemaRef {
    let fields: Vec<arrow_schema::Field> = schema
        .fields()
        .iter()
        .zip(described.fields())
        .map(|(f, d)| {
            let mut meta = f.metadata().clone();
            meta.extend(d.metadata().clone());
            f.as_ref().clone().with_metadata(meta)
        })
        .collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

fn unreachable_kind<T>() -> Result<T> {
    Err(Error::sql(code::INTERNAL, "statement kind mismatch"))
}

fn show_name(variable: &[ast::Ident]) -> String {
    variable
        .iter()
        .map(|i| i.value.to_lowercase())
        .collect::<Vec<_>>()
        .join(" ")
}

fn first_words(sql: &str) -> String {
    sql.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
}

/// Commits a transaction and waits for its group's fsync. A connection's own thread (a current-thread
/// runtime serving only it) commits in place and may lead the group, as a PostgreSQL backend flushes the
/// WAL itself; a task on the shared pool must not block a worker, so it queues and awaits the answer.
async fn durable(txn: omendb_storage::WriteTxn) -> Result<omendb_storage::CommitInfo> {
    use tokio::runtime::{Handle, RuntimeFlavor};
    if Handle::current().runtime_flavor() == RuntimeFlavor::CurrentThread {
        return Ok(txn.commit()?);
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    txn.commit_then(move |r| {
        let _ = tx.send(r);
    });
    let r = rx
        .await
        .map_err(|_| Error::sql(code::INTERNAL, "the committer stopped"))?;
    Ok(r?)
}
