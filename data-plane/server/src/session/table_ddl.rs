//! CREATE TABLE [AS], DROP TABLE and TRUNCATE: writes of the open transaction (or of one of their own), so
//! they commit or roll back with it.

use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::Schema;
use datafusion::sql::sqlparser::ast::{self, Statement};
use pgwire::api::results::Tag;

use super::{Output, Session, Tx, first_words};
use crate::ddl;
use crate::error::{Error, Result, code};

impl Session {
    /// LOCK TABLE: only in a transaction block, as in PostgreSQL. Table locks here have the four row-lock
    /// modes: the modes that let writers in (ACCESS SHARE, ROW SHARE, ROW EXCLUSIVE) take the shared mode
    /// writers hold themselves; every stronger mode takes the exclusive one, which also keeps out other
    /// SHARE holders (stricter than PostgreSQL, never weaker).
    async fn lock_tables(&mut self, lock: &ast::Lock) -> Result<Output> {
        use ast::LockTableMode as M;
        if self.tx == Tx::Idle {
            return Err(Error::sql(
                "25P01",
                "LOCK TABLE can only be used in transaction blocks",
            ));
        }
        let mode = match lock.lock_mode {
            Some(M::AccessShare | M::RowShare | M::RowExclusive) => {
                omendb_storage::LockMode::KeyShare
            }
            _ => omendb_storage::LockMode::Update,
        };
        let policy = if lock.nowait {
            omendb_storage::WaitPolicy::NoWait
        } else {
            omendb_storage::WaitPolicy::Wait
        };
        for target in &lock.tables {
            let name = ddl::table_name(&target.name)?;
            loop {
                let r = {
                    let mut v = self.view.lock();
                    let txn = v
                        .txn
                        .as_mut()
                        .expect("a transaction block has a transaction");
                    txn.lock_table_explicit(&name, mode, policy)
                };
                match r {
                    Err(omendb_storage::Error::LockWait { wait, .. }) => {
                        self.wait_for(wait).await?
                    }
                    r => break r?,
                }
            }
        }
        Ok(Output::Command(Tag::new("LOCK TABLE")))
    }

    /// CREATE TABLE, DROP TABLE, TRUNCATE: writes of the open transaction (or of one of their own), so they
    /// commit or roll back with it.
    pub(super) async fn ddl(&mut self, stmt: &Statement) -> Result<Output> {
        if let Statement::Lock(lock) = stmt {
            return self.lock_tables(lock).await;
        }
        let command = match stmt {
            Statement::CreateTable(_) => "CREATE TABLE",
            Statement::Drop { .. } => "DROP TABLE",
            Statement::Truncate(_) => "TRUNCATE TABLE",
            other => {
                return Err(Error::sql(
                    code::FEATURE_NOT_SUPPORTED,
                    format!(
                        "statement not supported: {}",
                        first_words(&other.to_string())
                    ),
                ));
            }
        };
        if let Statement::Drop { object_type, .. } = stmt
            && *object_type != ast::ObjectType::Table
        {
            return Err(Error::sql(
                code::FEATURE_NOT_SUPPORTED,
                format!("statement not supported: DROP {object_type}"),
            ));
        }
        self.check_writable(if command == "TRUNCATE TABLE" {
            "TRUNCATE TABLE"
        } else {
            command
        })?;
        let autocommit = self.tx == Tx::Idle;
        if autocommit {
            self.begin();
        } else {
            self.statement_begins();
        }
        let r = match stmt {
            Statement::CreateTable(ct) if ct.query.is_some() => self.create_as(ct).await,
            _ => self
                .ddl_in_txn(stmt)
                .await
                .map(|()| Output::Command(Tag::new(command))),
        };
        match (r, autocommit) {
            (Ok(out), true) => {
                self.commit().await?;
                Ok(out)
            }
            (Err(e), true) => {
                self.rollback();
                Err(e)
            }
            (r, false) => r,
        }
    }

    async fn ddl_in_txn(&mut self, stmt: &Statement) -> Result<()> {
        match stmt {
            Statement::CreateTable(ct) => {
                let def = ddl::table_def(ct)?;
                match self.with_locks(|t| t.create_table(def.clone())).await {
                    Err(Error::Storage(omendb_storage::Error::TableExists(name)))
                        if ct.if_not_exists =>
                    {
                        self.notice(
                            "42P07",
                            format!("relation \"{name}\" already exists, skipping"),
                        );
                        Ok(())
                    }
                    r => r,
                }
            }
            Statement::Drop {
                if_exists, names, ..
            } => {
                for n in names {
                    let name = ddl::table_name(n)?;
                    match self.with_locks(|t| t.drop_table(&name)).await {
                        Err(Error::Storage(omendb_storage::Error::UnknownTable(_)))
                            if *if_exists =>
                        {
                            self.notice(
                                "00000",
                                format!("table \"{name}\" does not exist, skipping"),
                            );
                        }
                        r => r?,
                    }
                }
                Ok(())
            }
            Statement::Truncate(t) => {
                for target in &t.table_names {
                    let name = ddl::table_name(&target.name)?;
                    self.with_locks(|t| t.truncate_table(&name)).await?;
                }
                Ok(())
            }
            _ => Err(Error::sql(code::INTERNAL, "not DDL")),
        }
    }

    /// CREATE TABLE ... AS: the query runs on the transaction's view, the table and its rows are written in
    /// the transaction (the caller opened one if needed).
    async fn create_as(&mut self, ct: &ast::CreateTable) -> Result<Output> {
        let name = ddl::table_name(&ct.name)?;
        let query = ct.query.clone().expect("checked by the caller");
        let (schema, batches) = match self.plan(Statement::Query(query), None).await {
            Ok(plan) => self.collect(plan).await?,
            Err(e) => return Err(e),
        };
        let columns = schema
            .fields()
            .iter()
            .map(|f| {
                Ok(omendb_storage::ColumnDef::new(
                    f.name().clone(),
                    ddl::from_arrow(f.data_type())?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        let def = omendb_storage::TableDef {
            name: name.clone(),
            columns,
            primary_key: None,
        };
        match self.with_locks(|t| t.create_table(def.clone())).await {
            Err(Error::Storage(omendb_storage::Error::TableExists(_))) if ct.if_not_exists => {
                return Ok(Output::Command(Tag::new("CREATE TABLE AS").with_rows(0)));
            }
            r => r?,
        }
        let target = Arc::new(Schema::new(
            def.columns
                .iter()
                .map(|c| arrow_schema::Field::new(&c.name, c.data_type.arrow(), true))
                .collect::<Vec<_>>(),
        ));
        let mut n = 0;
        for b in batches {
            let cols = b
                .columns()
                .iter()
                .zip(target.fields())
                .map(|(c, f)| arrow_cast::cast(c, f.data_type()))
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| Error::sql(code::DATATYPE_MISMATCH, e.to_string()))?;
            let b = RecordBatch::try_new(target.clone(), cols)
                .map_err(|e| Error::sql(code::INTERNAL, e.to_string()))?;
            n += b.num_rows();
            self.with_locks(|t| t.insert_batch(&name, &b)).await?;
        }
        Ok(Output::Command(Tag::new("SELECT").with_rows(n)))
    }
}
