//! INSERT, UPDATE and DELETE planned by DataFusion, and COPY FROM STDIN: the rows DataFusion (or the COPY
//! parser) produces go to the open transaction, through the row locks (`locking.rs`).

use std::sync::Arc;

use arrow_array::RecordBatch;
use datafusion::logical_expr::{LogicalPlan, WriteOp};
use datafusion::sql::sqlparser::ast::Statement;
use pgwire::api::results::Tag;

use super::{Output, Session, Tx, locking};
use crate::catalog::resolve;
use crate::copy::CopyIn;
use crate::error::{Error, Result, code};

impl Session {
    /// INSERT, UPDATE, DELETE: DataFusion computes the rows (subqueries, joins and defaults included); the
    /// writes go to the transaction in the view. With `keep`, also the rows as written (the new images of
    /// INSERT and UPDATE, the old of DELETE, in the table's columns): what RETURNING reads.
    pub(super) async fn write(
        &mut self,
        plan: LogicalPlan,
        target: Option<String>,
        no_index: bool,
        keep: bool,
        upsert: Option<(&super::upsert::Upsert, &[datafusion::scalar::ScalarValue])>,
    ) -> Result<(Tag, Vec<RecordBatch>)> {
        let mut written = Vec::new();
        let LogicalPlan::Dml(dml) = plan else {
            return Err(Error::sql(code::INTERNAL, "expected a DML plan"));
        };
        let table = crate::catalog::storage_name_of(&dml.target)
            .unwrap_or_else(|| dml.table_name.table().to_string());
        let input = Arc::unwrap_or_clone(dml.input);
        let (tag, label, n) = match dml.op {
            WriteOp::Insert(datafusion::logical_expr::dml::InsertOp::Append) => {
                let sources = value_sources(&input);
                let (_, batches) = self
                    .collect(input)
                    .await
                    .map_err(|e| not_null_violation(e, &table, &sources))?;
                let mut n = 0;
                if let Some((u, params)) = upsert {
                    (n, written) = self.upsert_rows(&table, &batches, u, params, keep).await?;
                } else {
                    let batches = if keep {
                        batches
                    } else {
                        self.in_key_order(&table, batches)?
                    };
                    for b in &batches {
                        // A batch either goes in whole or not at all, so it is repeated whole after a
                        // wait.
                        self.with_locks(|t| t.insert_batch(&table, b)).await?;
                        n += b.num_rows();
                    }
                    if keep {
                        written = batches;
                    }
                }
                (Tag::new("INSERT").with_oid(0), "insert", n)
            }
            WriteOp::Delete => {
                let (key_col, _) = self.key_column(&table)?;
                let (_, mut batches) = self.collect(input.clone()).await?;
                if super::joined::joins(&input) {
                    batches = super::joined::first_per_key(batches, key_col)?;
                }
                let dml = locking::Dml {
                    table: &table,
                    input: &input,
                    target,
                    no_index,
                };
                let (_, user_cols) = self.key_column(&table)?;
                let out = keep.then_some((&mut written, user_cols));
                let n = self.delete_rows(&dml, &batches, key_col, out).await?;
                (Tag::new("DELETE"), "delete", n)
            }
            WriteOp::Update => {
                let (key_col, user_cols) = self.key_column(&table)?;
                let input = with_old_key(input, key_col)?;
                let (_, mut batches) = self.collect(input.clone()).await?;
                if super::joined::joins(&input) {
                    let old_key = input.schema().fields().len() - 1;
                    batches = super::joined::first_per_key(batches, old_key)?;
                }
                let dml = locking::Dml {
                    table: &table,
                    input: &input,
                    target,
                    no_index,
                };
                let out = keep.then_some(&mut written);
                let n = self
                    .update_rows(&dml, &batches, key_col, user_cols, out)
                    .await?;
                (Tag::new("UPDATE"), "update", n)
            }
            other => return Err(Error::unsupported(format!("{other}"))),
        };
        self.engine
            .metrics
            .rows_written
            .with_label_values(&[label])
            .inc_by(n as u64);
        Ok((tag.with_rows(n), written))
    }

    /// An INSERT's batches in primary-key order. DataFusion's parallel plans hand back the batches of an
    /// ordered source (`generate_series`, a sorted SELECT) interleaved across partitions, and storage takes
    /// a whole batch only above what the transaction holds: out of order, all but the first partition's
    /// rows went in one at a time (a 10M-row `INSERT ... SELECT` took minutes). Without RETURNING the
    /// order rows go in is not visible.
    fn in_key_order(&self, table: &str, batches: Vec<RecordBatch>) -> Result<Vec<RecordBatch>> {
        let (pk, kind) = {
            let mut v = self.view.lock();
            let txn = v.txn.as_mut().expect("writes run in a transaction");
            let r = txn.table(table)?;
            let def = r.def();
            match def.primary_key {
                Some(pk) => (pk, def.columns[pk].data_type.key_kind()),
                None => return Ok(batches),
            }
        };
        let Some(kind) = kind else {
            return Ok(batches);
        };
        if batches.iter().any(|b| pk >= b.num_columns()) {
            return Ok(batches);
        }
        let mut keyed: Vec<(omendb_storage::Key, RecordBatch)> = batches
            .into_iter()
            .filter(|b| b.num_rows() > 0)
            .map(|b| {
                (
                    omendb_storage::column_key_at(b.column(pk).as_ref(), kind, 0),
                    b,
                )
            })
            .collect();
        if !keyed.is_sorted_by(|a, b| a.0 <= b.0) {
            keyed.sort_by(|a, b| a.0.cmp(&b.0));
        }
        Ok(keyed.into_iter().map(|(_, b)| b).collect())
    }

    /// Position of the key column in the physical schema UPDATE/DELETE plans read, and the user columns.
    pub(super) fn key_column(&self, table: &str) -> Result<(usize, usize)> {
        let mut v = self.view.lock();
        let txn = v.txn.as_mut().expect("writes run in a transaction");
        let r = txn.table(table)?;
        let def = r.def();
        Ok((
            def.primary_key.unwrap_or(def.columns.len()),
            def.columns.len(),
        ))
    }

    /// COPY TO STDOUT: its query planned and run as any SELECT (same snapshot rules), then encoded.
    pub(super) async fn copy_out(&mut self, stmt: &Statement) -> Result<Output> {
        let copy = crate::copy_out::CopyOut::plan(stmt)?;
        let prepared = self
            .prepare_planned(copy.query.clone(), super::Kind::Select, &[])
            .await?;
        let Output::Rows(schema, batches) = Box::pin(self.execute_inner(&prepared, vec![]))
            .await?
            .collected()
            .await?
        else {
            return Err(crate::error::Error::sql(
                crate::error::code::INTERNAL,
                "COPY: its query returned no rows",
            ));
        };
        let data = copy.encode(&schema, batches, &self.zone())?;
        Ok(Output::CopyOut(
            copy.wire_format(),
            schema.fields().len(),
            data,
        ))
    }

    pub(super) fn copy_in(&mut self, stmt: &Statement) -> Result<Output> {
        self.check_writable("COPY FROM")?;
        let db = self.engine.db.clone();
        let view = self.view.clone();
        let names = self.names();
        let mut copy = CopyIn::plan(stmt, |name| {
            let name = names.lookup(name)?;
            Ok(resolve(&db, &mut view.lock(), &name)?
                .ok_or(omendb_storage::Error::UnknownTable(name))?)
        })?;
        if copy.freeze {
            // Frozen rows are visible to every snapshot at once, which only a table no one else can
            // see yet allows; PostgreSQL refuses the rest, and so do we.
            let here = view
                .lock()
                .txn
                .as_ref()
                .is_some_and(|t| t.created_or_truncated_here(&copy.table));
            if !here {
                return Err(Error::sql(
                    code::OBJECT_NOT_IN_PREREQUISITE_STATE,
                    "cannot perform COPY FREEZE because the table was not created or truncated in the current subtransaction",
                ));
            }
        }
        copy.zone = self.zone();
        Ok(Output::CopyIn(Box::new(copy)))
    }

    /// Inserts COPY rows: in the open transaction, or in one of their own.
    pub async fn copy_batches(&mut self, table: &str, batches: Vec<RecordBatch>) -> Result<usize> {
        let n: usize = batches.iter().map(|b| b.num_rows()).sum();
        if self.tx == Tx::Failed {
            return Err(Error::sql(
                code::IN_FAILED_TRANSACTION,
                "current transaction is aborted, commands ignored until end of transaction block",
            ));
        }
        let autocommit = self.tx == Tx::Idle;
        if autocommit {
            self.begin();
        }
        let mut r = Ok(());
        for b in &batches {
            r = self.with_locks(|t| t.insert_batch(table, b)).await;
            if r.is_err() {
                break;
            }
        }
        match (r, autocommit) {
            (Ok(()), true) => self.commit().await?,
            (Ok(()), false) => {}
            (Err(e), true) => {
                self.rollback();
                return Err(e);
            }
            (Err(e), false) => {
                self.fail();
                return Err(e);
            }
        }
        self.engine
            .metrics
            .rows_written
            .with_label_values(&["copy"])
            .inc_by(n as u64);
        Ok(n)
    }
}

/// DataFusion's UPDATE plan projects the new row; append the old key so a key change is an update of the
/// row, not an insert.
fn with_old_key(input: LogicalPlan, key_col: usize) -> Result<LogicalPlan> {
    use datafusion::logical_expr::{Expr, Projection};
    let LogicalPlan::Projection(p) = input else {
        return Err(Error::sql(code::INTERNAL, "unexpected UPDATE plan shape"));
    };
    let source = p.input.schema();
    let (q, f) = source.qualified_field(key_col);
    let old = Expr::Column(datafusion::common::Column::from((q, f))).alias("__omendb_old_key");
    let mut exprs = p.expr.clone();
    exprs.push(old);
    Ok(LogicalPlan::Projection(Projection::try_new(
        exprs,
        p.input.clone(),
    )?))
}

/// For `INSERT ... VALUES`, which table column each VALUES column (`column1`, ...) feeds.
fn value_sources(input: &LogicalPlan) -> Vec<(String, String)> {
    let LogicalPlan::Projection(p) = input else {
        return vec![];
    };
    p.expr
        .iter()
        .zip(p.schema.fields())
        .flat_map(|(e, f)| {
            e.column_refs()
                .into_iter()
                .map(|c| (c.name.clone(), f.name().clone()))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// DataFusion refuses a NULL for a NOT NULL column while it builds the VALUES batch, naming the VALUES
/// column; clients expect PostgreSQL's 23502 naming the table column.
fn not_null_violation(e: Error, table: &str, sources: &[(String, String)]) -> Error {
    let m = e.to_string();
    let Some(rest) = m.split("Column '").nth(1) else {
        return e;
    };
    if !m.contains("is declared as non-nullable but contains null values") {
        return e;
    }
    let values_col = rest.split('\'').next().unwrap_or_default();
    let column = sources
        .iter()
        .find(|(v, _)| v == values_col)
        .map_or(values_col, |(_, c)| c.as_str());
    Error::Storage(omendb_storage::Error::NotNull {
        table: table.to_string(),
        column: column.to_string(),
    })
}
