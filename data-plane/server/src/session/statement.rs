//! What a session's statements are: their kind (for dispatch and metrics), a prepared statement as the
//! extended protocol caches it, the result a statement gives, and the transaction state.

use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{DataType as Arrow, SchemaRef};
use datafusion::logical_expr::LogicalPlan;
use datafusion::sql::sqlparser::ast::Statement;
use pgwire::api::results::Tag;

use crate::copy::CopyIn;

/// Transaction state, mirrored to the client in every ReadyForQuery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tx {
    Idle,
    /// `BEGIN` ran; the transaction is in the view.
    Active,
    /// A statement failed inside the transaction: only COMMIT/ROLLBACK are accepted (25P02).
    Failed,
}

/// What kind of statement, for dispatch and metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Select,
    Insert,
    Update,
    Delete,
    Ddl,
    Begin,
    Commit,
    Rollback,
    Savepoint,
    Release,
    Set,
    Show,
    Copy,
    /// `DEALLOCATE name | ALL`: drivers (psycopg) send it after ROLLBACK; the wire layer forgets the statement.
    /// Also SQL's `PREPARE name AS ...` (`session/sql_prepare.rs`).
    Deallocate,
    /// SQL's `EXECUTE name (...)`.
    Execute,
    /// DECLARE, FETCH / MOVE, CLOSE (`session/cursors.rs`).
    Cursor,
    /// LISTEN, UNLISTEN, NOTIFY (`notify.rs`).
    Notify,
    Empty,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::Select => "select",
            Kind::Insert => "insert",
            Kind::Update => "update",
            Kind::Delete => "delete",
            Kind::Ddl => "ddl",
            Kind::Begin | Kind::Commit | Kind::Rollback | Kind::Savepoint | Kind::Release => {
                "transaction"
            }
            Kind::Set | Kind::Show => "setting",
            Kind::Copy => "copy",
            Kind::Deallocate | Kind::Execute => "setting",
            Kind::Cursor => "cursor",
            Kind::Notify => "notify",
            Kind::Empty => "empty",
        }
    }

    pub(super) fn of(stmt: &Statement) -> Kind {
        match stmt {
            Statement::Query(_) | Statement::Explain { .. } => Kind::Select,
            Statement::Insert(_) => Kind::Insert,
            Statement::Update(_) => Kind::Update,
            Statement::Delete(_) => Kind::Delete,
            Statement::StartTransaction { .. } => Kind::Begin,
            Statement::Commit { .. } => Kind::Commit,
            Statement::Rollback { .. } => Kind::Rollback,
            Statement::Savepoint { .. } => Kind::Savepoint,
            Statement::ReleaseSavepoint { .. } => Kind::Release,
            Statement::Set(_) | Statement::Reset(_) => Kind::Set,
            Statement::ShowVariable { .. } => Kind::Show,
            Statement::Copy { .. } => Kind::Copy,
            Statement::Deallocate { .. } | Statement::Prepare { .. } => Kind::Deallocate,
            Statement::Execute { .. } => Kind::Execute,
            Statement::Declare { .. } | Statement::Fetch { .. } | Statement::Close { .. } => {
                Kind::Cursor
            }
            Statement::LISTEN { .. } | Statement::UNLISTEN { .. } | Statement::NOTIFY { .. } => {
                Kind::Notify
            }
            _ => Kind::Ddl,
        }
    }

    /// The command's name in PostgreSQL's messages ("cannot execute UPDATE in a read-only transaction").
    pub(super) fn command(self) -> &'static str {
        match self {
            Kind::Insert => "INSERT",
            Kind::Update => "UPDATE",
            Kind::Delete => "DELETE",
            Kind::Copy => "COPY FROM",
            _ => "SELECT",
        }
    }

    pub(super) fn planned(self) -> bool {
        matches!(
            self,
            Kind::Select | Kind::Insert | Kind::Update | Kind::Delete
        )
    }
}

/// A parsed (and, for queries and DML, planned) statement: what the extended protocol caches.
/// A parsed (and, off the fast path, planned) statement. Cheap to clone: every Execute takes one.
#[derive(Clone, Debug)]
pub struct Prepared(Arc<PreparedStatement>);

impl std::ops::Deref for Prepared {
    type Target = PreparedStatement;
    fn deref(&self) -> &PreparedStatement {
        &self.0
    }
}

impl From<PreparedStatement> for Prepared {
    fn from(p: PreparedStatement) -> Prepared {
        Prepared(Arc::new(p))
    }
}

impl Prepared {
    /// This statement, run after its data-modifying CTEs (`with_dml.rs`).
    pub(super) fn with_dml(
        &self,
        w: Arc<super::with_dml::WithDml>,
        params: Vec<Option<Arrow>>,
    ) -> Prepared {
        let mut s = (*self.0).clone();
        s.with_dml = Some(w);
        s.params = params;
        s.into()
    }

    /// This statement, run after its locking subqueries (`locked_subqueries.rs`); `stmt` is the whole
    /// statement as written, prepared again if a concurrent DDL overtakes it.
    pub(super) fn with_locked_subqueries(
        &self,
        l: Arc<super::locked_subqueries::LockedSubqueries>,
        params: Vec<Option<Arrow>>,
        stmt: Statement,
    ) -> Prepared {
        let mut s = (*self.0).clone();
        s.locked_subqueries = Some(l);
        s.params = params;
        s.stmt = Some(stmt);
        s.into()
    }
}

#[derive(Debug, Clone)]
pub struct PreparedStatement {
    pub kind: Kind,
    pub stmt: Option<Statement>,
    pub plan: Option<LogicalPlan>,
    /// Parameter types the plan expects, `$1` first (`None`: unknown, sent as text).
    pub params: Vec<Option<Arrow>>,
    /// Result columns of a query (`None` for commands).
    pub result: Option<SchemaRef>,
    /// Table whose hidden row id an UPDATE/DELETE needs.
    pub target: Option<String>,
    /// PostgreSQL's names for the result columns, when they differ from DataFusion's.
    pub names: Option<Vec<String>>,
    /// Planned with `omendb.learned_index = off`.
    pub no_index: bool,
    /// A fast-path shape: answered from the learned index with no plan (`plan` is `None`).
    pub fast: Option<Arc<crate::fast::Fast>>,
    /// `SELECT ... FOR UPDATE | FOR SHARE`: how its rows are locked (the plan carries the key last).
    pub locking: Option<Arc<super::lock_clause::RowLocking>>,
    /// DECLARE CURSOR: its query, prepared (the DECLARE's parameters are its parameters).
    pub cursor_query: Option<Prepared>,
    /// INSERT / UPDATE / DELETE ... RETURNING: the list (the plan is the write without it).
    pub returning: Option<Arc<super::returning::Returning>>,
    /// INSERT ... ON CONFLICT: the clause (the plan is the INSERT without it).
    pub upsert: Option<Arc<super::upsert::Upsert>>,
    /// Data-modifying CTEs that run first (`with_dml.rs`); the plan is the main statement's.
    pub with_dml: Option<Arc<super::with_dml::WithDml>>,
    /// Locking subqueries that run first (`locked_subqueries.rs`); the plan is the statement's over their
    /// stand-ins.
    pub locked_subqueries: Option<Arc<super::locked_subqueries::LockedSubqueries>>,
    /// `Settings::plan_key` when it was planned.
    pub planned_under: u64,
    /// The statement planned again under other settings (`Session::execute`), kept for the next run.
    pub replanned: Arc<parking_lot::Mutex<Option<Prepared>>>,
}

/// The rest of a large result, computed on the pool while the first rows go to the client: two batches
/// ahead at most, so a result of any size is sent in bounded memory.
pub type RowsRest = tokio::sync::mpsc::Receiver<crate::error::Result<RecordBatch>>;

/// A statement's result.
pub enum Output {
    Rows(SchemaRef, Vec<RecordBatch>),
    /// Rows of a large result: the first batches, then the rest as they are computed.
    Stream(SchemaRef, Vec<RecordBatch>, RowsRest),
    Command(Tag),
    TxStart(Tag),
    TxEnd(Tag),
    CopyIn(Box<CopyIn>),
    /// COPY TO STDOUT: the wire format code, the number of columns and one payload per row.
    CopyOut(i8, usize, Vec<bytes::Bytes>),
    Empty,
}

impl Output {
    /// The result with every row in hand (for callers that use the rows themselves).
    pub async fn collected(self) -> crate::error::Result<Output> {
        match self {
            Output::Stream(schema, mut batches, mut rest) => {
                while let Some(b) = rest.recv().await {
                    batches.push(b?);
                }
                Ok(Output::Rows(schema, batches))
            }
            other => Ok(other),
        }
    }
}
