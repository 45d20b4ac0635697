//! Transaction statements: BEGIN with its modes, COMMIT, ROLLBACK, savepoints, SET TRANSACTION, and the
//! transaction state the other statements read (isolation, read-only, the statement snapshot).

use datafusion::sql::sqlparser::ast::{
    self, TransactionAccessMode, TransactionIsolationLevel, TransactionMode,
};
use omendb_storage::{Isolation, TxnOptions};
use pgwire::api::results::Tag;

use super::{Output, Session, Tx, durable};
use crate::error::{Error, Result, code};

fn level(l: &TransactionIsolationLevel) -> Isolation {
    match l {
        TransactionIsolationLevel::ReadUncommitted | TransactionIsolationLevel::ReadCommitted => {
            Isolation::ReadCommitted
        }
        TransactionIsolationLevel::RepeatableRead => Isolation::RepeatableRead,
        TransactionIsolationLevel::Serializable => Isolation::Serializable,
        // Snapshot isolation is what REPEATABLE READ gives.
        TransactionIsolationLevel::Snapshot => Isolation::RepeatableRead,
    }
}

impl Session {
    /// Opens a transaction with the session's defaults (explicit BEGIN, or an autocommit statement's own).
    pub(super) fn begin(&mut self) {
        let txn = self.engine.db.begin_with(TxnOptions {
            isolation: self.settings.default_isolation(),
            read_only: self.settings.default_read_only(),
            session: Some(self.session_id),
        });
        self.view.lock().txn = Some(txn);
        self.savepoints.clear();
        self.tx = Tx::Active;
        self.activity.lock().xact_start = Some(crate::activity::now_micros());
        self.settings.txn_begin();
    }

    /// Ends the transaction without a trace; its locks go to whoever waits for them.
    pub(super) fn rollback(&mut self) {
        self.cursors.lock().transaction_end(false);
        self.notify.lock().rollback();
        self.view.lock().txn = None;
        self.savepoints.clear();
        self.tx = Tx::Idle;
        self.activity.lock().xact_start = None;
        self.settings.txn_end(false);
    }

    /// A statement failed: an open transaction is doomed until ROLLBACK (or ROLLBACK TO a savepoint). It
    /// keeps its locks meanwhile, as in PostgreSQL.
    pub fn fail(&mut self) {
        if self.tx != Tx::Active {
            return;
        }
        self.tx = Tx::Failed;
        // PostgreSQL aborts at the error, not at ROLLBACK: the locks (of the failed subtransaction, when a
        // savepoint can still recover it) go now, so that whoever waits for them need not wait for the client.
        let mut v = self.view.lock();
        match self.savepoints.len() {
            0 => v.txn = None,
            n => {
                if let Some(t) = v.txn.as_mut() {
                    t.rollback_to(n - 1);
                }
            }
        }
    }

    pub(super) async fn commit(&mut self) -> Result<()> {
        self.cursors.lock().transaction_end(true);
        let txn = self.view.lock().txn.take();
        self.savepoints.clear();
        self.tx = Tx::Idle;
        self.activity.lock().xact_start = None;
        self.settings.txn_end(true);
        let Some(txn) = txn else { return Ok(()) };
        if txn.is_empty() {
            // Read-only: nothing to log; the locks it took are released as it drops.
            return Ok(());
        }
        let started = std::time::Instant::now();
        durable(txn).await?;
        self.engine.metrics.commits.inc();
        self.engine
            .metrics
            .commit_seconds
            .observe(started.elapsed().as_secs_f64());
        Ok(())
    }

    /// Ends the transaction a statement opened for itself (`autocommit`): committed when the statement
    /// succeeded, rolled back when it failed. Inside a transaction block the result passes through.
    pub(super) async fn finish_statement<T>(
        &mut self,
        r: Result<T>,
        autocommit: bool,
    ) -> Result<T> {
        match (r, autocommit) {
            (Ok(v), true) => {
                self.commit().await?;
                Ok(v)
            }
            (Err(e), true) => {
                self.rollback();
                Err(e)
            }
            (r, false) => r,
        }
    }

    /// A statement that reads or writes data begins: READ COMMITTED takes a fresh snapshot.
    pub(super) fn statement_begins(&mut self) {
        if let Some(t) = self.view.lock().txn.as_mut() {
            t.new_statement();
        }
    }

    pub(super) fn current_read_only(&self) -> bool {
        match self.view.lock().txn.as_ref() {
            Some(t) if self.tx != Tx::Idle => t.read_only(),
            _ => self.settings.default_read_only(),
        }
    }

    /// PostgreSQL's 25006 for a write in a read-only transaction.
    pub(super) fn check_writable(&self, command: &str) -> Result<()> {
        if self.current_read_only() {
            return Err(Error::sql(
                code::READ_ONLY_TRANSACTION,
                format!("cannot execute {command} in a read-only transaction"),
            ));
        }
        Ok(())
    }

    pub(super) fn begin_statement(
        &mut self,
        modes: &[TransactionMode],
        begin: bool,
    ) -> Result<Output> {
        let tag = Tag::new(if begin { "BEGIN" } else { "START TRANSACTION" });
        if self.tx != Tx::Idle {
            self.warn("25001", "there is already a transaction in progress");
            return Ok(Output::TxStart(tag));
        }
        self.begin();
        if let Err(e) = self.apply_modes(modes) {
            self.rollback();
            return Err(e);
        }
        Ok(Output::TxStart(tag))
    }

    /// `SET transaction_isolation = ...` / `SET transaction_read_only = ...`: this transaction's modes.
    pub(super) fn set_transaction_parameter(&mut self, name: &str, value: &str) -> Result<bool> {
        let mode = match name {
            "transaction_isolation" => {
                let l = Isolation::parse(value).ok_or_else(|| {
                    Error::sql(
                        code::INVALID_PARAMETER_VALUE,
                        format!("invalid value for parameter \"{name}\": \"{value}\""),
                    )
                })?;
                TransactionMode::IsolationLevel(match l {
                    Isolation::ReadCommitted => TransactionIsolationLevel::ReadCommitted,
                    Isolation::RepeatableRead => TransactionIsolationLevel::RepeatableRead,
                    Isolation::Serializable => TransactionIsolationLevel::Serializable,
                })
            }
            "transaction_read_only" => {
                TransactionMode::AccessMode(match value.trim().to_lowercase().as_str() {
                    "on" | "true" | "yes" | "1" => TransactionAccessMode::ReadOnly,
                    _ => TransactionAccessMode::ReadWrite,
                })
            }
            _ => return Ok(false),
        };
        self.set_transaction(&[mode], false)?;
        Ok(true)
    }

    pub(super) async fn commit_statement(&mut self) -> Result<Output> {
        if self.tx == Tx::Idle {
            self.warn(
                code::NO_ACTIVE_TRANSACTION,
                "there is no transaction in progress",
            );
        }
        if self.tx == Tx::Failed {
            self.rollback();
            return Ok(Output::TxEnd(Tag::new("ROLLBACK")));
        }
        self.commit().await?;
        Ok(Output::TxEnd(Tag::new("COMMIT")))
    }

    pub(super) fn rollback_statement(&mut self, savepoint: Option<&ast::Ident>) -> Result<Output> {
        let Some(name) = savepoint else {
            if self.tx == Tx::Idle {
                self.warn(
                    code::NO_ACTIVE_TRANSACTION,
                    "there is no transaction in progress",
                );
            }
            self.rollback();
            return Ok(Output::TxEnd(Tag::new("ROLLBACK")));
        };
        let at = self.savepoint_index(name, "ROLLBACK TO SAVEPOINT")?;
        if let Some(t) = self.view.lock().txn.as_mut() {
            t.rollback_to(at);
        }
        self.savepoints.truncate(at + 1);
        self.notify.lock().rollback_to(at);
        self.cursors.lock().rollback_to(at);
        if self.tx == Tx::Failed {
            // pgwire keeps its own view of the state and only ROLLBACK ends an error state there: the
            // listener puts it back to "in a transaction" (see `Session::recovered`).
            self.recovered = true;
        }
        self.tx = Tx::Active;
        // TransactionStart puts the protocol's status back to "in a transaction" after a failure.
        Ok(Output::TxStart(Tag::new("ROLLBACK")))
    }

    pub(super) fn savepoint_statement(&mut self, name: &ast::Ident) -> Result<Output> {
        self.in_block("SAVEPOINT")?;
        let sp = self
            .view
            .lock()
            .txn
            .as_mut()
            .map(|t| t.savepoint())
            .unwrap_or_default();
        debug_assert_eq!(sp, self.savepoints.len());
        self.savepoints.push(name.value.clone());
        self.notify.lock().savepoint();
        Ok(Output::Command(Tag::new("SAVEPOINT")))
    }

    pub(super) fn release_statement(&mut self, name: &ast::Ident) -> Result<Output> {
        let at = self.savepoint_index(name, "RELEASE SAVEPOINT")?;
        if let Some(t) = self.view.lock().txn.as_mut() {
            t.release_savepoint(at);
        }
        self.savepoints.truncate(at);
        self.notify.lock().release(at);
        self.cursors.lock().release(at);
        Ok(Output::Command(Tag::new("RELEASE")))
    }

    fn in_block(&self, what: &str) -> Result<()> {
        if self.tx == Tx::Idle {
            return Err(Error::sql(
                code::NO_ACTIVE_TRANSACTION,
                format!("{what} can only be used in transaction blocks"),
            ));
        }
        Ok(())
    }

    /// The newest savepoint with this name (names may repeat; the latest wins, as in PostgreSQL).
    fn savepoint_index(&self, name: &ast::Ident, what: &str) -> Result<usize> {
        self.in_block(what)?;
        self.savepoints
            .iter()
            .rposition(|n| *n == name.value)
            .ok_or_else(|| {
                Error::sql(
                    code::INVALID_SAVEPOINT,
                    format!("savepoint \"{}\" does not exist", name.value),
                )
            })
    }

    /// `SET TRANSACTION ...` (this transaction) and `SET SESSION CHARACTERISTICS AS TRANSACTION ...`.
    pub(super) fn set_transaction(
        &mut self,
        modes: &[TransactionMode],
        session: bool,
    ) -> Result<()> {
        if session {
            for m in modes {
                match m {
                    TransactionMode::IsolationLevel(l) => self
                        .settings
                        .set("default_transaction_isolation", level(l).name())?,
                    TransactionMode::AccessMode(a) => self.settings.set(
                        "default_transaction_read_only",
                        if *a == TransactionAccessMode::ReadOnly {
                            "on"
                        } else {
                            "off"
                        },
                    )?,
                }
            }
            return Ok(());
        }
        if self.tx == Tx::Idle {
            // PostgreSQL: a warning, and no effect.
            self.warn(
                code::NO_ACTIVE_TRANSACTION,
                "SET TRANSACTION can only be used in transaction blocks",
            );
            return Ok(());
        }
        self.apply_modes(modes)
    }

    fn apply_modes(&mut self, modes: &[TransactionMode]) -> Result<()> {
        let mut v = self.view.lock();
        let Some(t) = v.txn.as_mut() else {
            return Ok(());
        };
        for m in modes {
            match m {
                TransactionMode::IsolationLevel(l) => {
                    let l = level(l);
                    if t.started() && l != t.isolation() {
                        return Err(Error::sql(
                            code::ACTIVE_TRANSACTION,
                            "SET TRANSACTION ISOLATION LEVEL must be called before any query",
                        ));
                    }
                    t.set_isolation(l);
                }
                TransactionMode::AccessMode(a) => {
                    let ro = *a == TransactionAccessMode::ReadOnly;
                    if t.started() && !ro && t.read_only() {
                        return Err(Error::sql(
                            code::ACTIVE_TRANSACTION,
                            "transaction read-write mode must be set before any query",
                        ));
                    }
                    t.set_read_only(ro);
                }
            }
        }
        Ok(())
    }
}
