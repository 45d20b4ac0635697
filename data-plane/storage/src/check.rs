//! CHECK constraints. The engine stores each as SQL text and has every write evaluate it, through a
//! `CheckHook` the SQL layer gives at `Database::open_with_hook` (the engine does not evaluate SQL itself): INSERT, UPDATE, upsert and
//! batch inserts (COPY, INSERT ... SELECT, ALTER TABLE's rewrite) all pass through it, so no write path can
//! skip a constraint.

use std::sync::Arc;

use arrow_array::RecordBatch;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::types::{Row, TableShape};

/// A CHECK constraint of a table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckDef {
    /// Handed out like table ids (the constraint's catalog OID comes from it).
    pub id: u64,
    pub name: String,
    /// The boolean SQL expression over the table's columns, as written.
    pub sql: String,
}

/// Evaluates CHECK constraints over rows about to be written (in the table's user schema). A row for which
/// a constraint is false is an error (`Error::CheckViolation`); NULL passes, as in SQL.
pub trait CheckHook: Send + Sync {
    fn check(&self, table: &TableShape, checks: &[Arc<CheckDef>], rows: &RecordBatch)
    -> Result<()>;

    /// A partial index's WHERE (`sql`) compiled for `table`'s definition: whether a physical row of it
    /// has an entry (true, not false or NULL).
    fn index_predicate(&self, table: &TableShape, sql: &str) -> Result<RowPredicate>;

    /// An expression an index holds (`lower(email)`), compiled for `table`'s definition: its value for a
    /// physical row of it.
    fn index_expression(&self, table: &TableShape, sql: &str) -> Result<RowValue>;
}

/// An indexed expression's value for a row (see [`CheckHook::index_expression`]).
pub type RowValue = Arc<dyn Fn(&Row) -> crate::types::Value + Send + Sync>;

/// Whether a row satisfies a partial index's predicate (see [`CheckHook::index_predicate`]).
pub type RowPredicate = Arc<dyn Fn(&Row) -> bool + Send + Sync>;

/// Without a hook (the engine used on its own), a table with CHECK constraints cannot be written: nothing
/// could evaluate them.
pub(crate) struct NoHook;

impl CheckHook for NoHook {
    fn check(&self, table: &TableShape, checks: &[Arc<CheckDef>], _: &RecordBatch) -> Result<()> {
        Err(Error::CheckViolation {
            table: table.def.name.clone(),
            constraint: checks.first().map(|c| c.name.clone()).unwrap_or_default(),
            row: "no CHECK evaluator is installed".into(),
        })
    }

    fn index_predicate(&self, _: &TableShape, sql: &str) -> Result<RowPredicate> {
        Err(Error::InvalidDefinition(format!(
            "partial index predicate ({sql}): no evaluator is installed"
        )))
    }

    fn index_expression(&self, _: &TableShape, sql: &str) -> Result<RowValue> {
        Err(Error::InvalidDefinition(format!(
            "index expression ({sql}): no evaluator is installed"
        )))
    }
}
