//! Locking clauses below the top of a statement, the shapes job queues are built on:
//! `UPDATE jobs SET ... WHERE id = (SELECT id FROM jobs ... LIMIT 1 FOR UPDATE SKIP LOCKED)`,
//! `WITH next AS (SELECT ... FOR UPDATE SKIP LOCKED) UPDATE jobs ... FROM next`, `INSERT ... SELECT ... FOR
//! SHARE`. Each such query runs first, as a locking SELECT of its own in the statement's transaction, and a
//! table of the rows it locked stands in for it (`__omendb_locked_N`, found through the session's catalog)
//! while the rest of the statement runs. The rest is planned once, at prepare, over an empty stand-in of the
//! same columns. The query runs once per execution, as PostgreSQL runs an uncorrelated subquery once.

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow_array::RecordBatch;
use arrow_schema::{DataType, Schema, SchemaRef};
use datafusion::catalog::TableProvider;
use datafusion::datasource::MemTable;
use datafusion::scalar::ScalarValue;
use datafusion::sql::sqlparser::ast::{Query, Statement, Visit, VisitMut, Visitor, VisitorMut};

use super::{Output, Prepared, Session, Tx};
use crate::error::{Error, Result, code};

/// A statement's locking subqueries, prepared, and the statement prepared over their stand-ins.
#[derive(Debug)]
pub struct LockedSubqueries {
    /// Each stand-in's name and columns, and the locking query whose rows it holds, in the order they run
    /// (an inner one before the one that reads it).
    subs: Vec<(String, SchemaRef, Prepared)>,
    main: Prepared,
}

/// Stand-in names are never reused, so a prepared statement's plan always names its own.
static NEXT: AtomicU64 = AtomicU64::new(1);

/// Takes the locking queries out of `stmt` (all but a SELECT's own top level, which `locking.rs` runs),
/// each replaced by a read of its stand-in: (stand-in name, query), innermost first.
fn take(stmt: &mut Statement) -> Vec<(String, Query)> {
    struct Take {
        depth: usize,
        /// The statement is a query: its top level is not taken.
        keep_top: bool,
        taken: Vec<(String, Query)>,
    }
    impl VisitorMut for Take {
        type Break = ();

        fn pre_visit_query(&mut self, _: &mut Query) -> ControlFlow<()> {
            self.depth += 1;
            ControlFlow::Continue(())
        }

        fn post_visit_query(&mut self, q: &mut Query) -> ControlFlow<()> {
            let top = self.depth == 1 && self.keep_top;
            self.depth -= 1;
            if top || q.locks.is_empty() {
                return ControlFlow::Continue(());
            }
            let name = format!("__omendb_locked_{}", NEXT.fetch_add(1, Ordering::Relaxed));
            let Some(Statement::Query(stand_in)) =
                super::parse(&format!("SELECT * FROM \"{name}\""))
                    .ok()
                    .and_then(|mut s| s.pop())
            else {
                unreachable!("a stand-in's query parses")
            };
            let query = std::mem::replace(q, *stand_in);
            self.taken.push((name, query));
            ControlFlow::Continue(())
        }
    }
    let mut v = Take {
        depth: 0,
        keep_top: matches!(stmt, Statement::Query(_)),
        taken: vec![],
    };
    let _ = stmt.visit(&mut v);
    v.taken
}

/// Whether `stmt` has a locking clause that `take` would take out; a read of the tree, so that the
/// statements without one (nearly all) are not copied.
fn has_nested_locks(stmt: &Statement) -> bool {
    struct Find {
        depth: usize,
        keep_top: bool,
    }
    impl Visitor for Find {
        type Break = ();

        fn pre_visit_query(&mut self, q: &Query) -> ControlFlow<()> {
            self.depth += 1;
            let top = self.depth == 1 && self.keep_top;
            if !top && !q.locks.is_empty() {
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        }

        fn post_visit_query(&mut self, _: &Query) -> ControlFlow<()> {
            self.depth -= 1;
            ControlFlow::Continue(())
        }
    }
    stmt.visit(&mut Find {
        depth: 0,
        keep_top: matches!(stmt, Statement::Query(_)),
    })
    .is_break()
}

/// `more`'s parameter types into `params` where `params` knows none (each part of a statement that runs
/// on its own knows the types of the parameters it uses).
pub(super) fn merge_params(params: &mut Vec<Option<DataType>>, more: &[Option<DataType>]) {
    if params.len() < more.len() {
        params.resize(more.len(), None);
    }
    for (p, m) in params.iter_mut().zip(more) {
        if p.is_none() {
            *p = m.clone();
        }
    }
}

/// The columns of a stand-in: the locking query's result, without what describes its origin.
fn stand_in_schema(result: Option<&SchemaRef>) -> Result<SchemaRef> {
    let Some(result) = result else {
        return Err(Error::sql(
            code::INTERNAL,
            "a locking subquery returns no columns",
        ));
    };
    Ok(Arc::new(Schema::new(
        result
            .fields()
            .iter()
            .map(|f| f.as_ref().clone().with_metadata(HashMap::new()))
            .collect::<Vec<_>>(),
    )))
}

impl Session {
    /// Prepares a statement with locking subqueries, if it has any: each subquery as a locking SELECT,
    /// then the statement over empty stand-ins of their columns.
    pub(super) async fn prepare_locked_subqueries(
        &mut self,
        stmt: &Statement,
        declared: &[Option<pgwire::api::Type>],
    ) -> Result<Option<Prepared>> {
        if !has_nested_locks(stmt) {
            return Ok(None);
        }
        let mut main = stmt.clone();
        let taken = take(&mut main);
        if taken.is_empty() {
            return Ok(None);
        }
        let names: Vec<String> = taken.iter().map(|(n, _)| n.clone()).collect();
        let r = self.prepare_parts(taken, main, declared).await;
        self.drop_stand_ins(&names);
        let (subs, main) = match r {
            Err(e) if matches!(e.sqlstate(), code::UNDEFINED_COLUMN | code::UNDEFINED_TABLE) => {
                return Err(self.correlated(stmt, declared, e).await);
            }
            r => r?,
        };
        let mut params = vec![];
        for (_, _, p) in &subs {
            merge_params(&mut params, &p.params);
        }
        merge_params(&mut params, &main.params);
        Ok(Some(main.with_locked_subqueries(
            Arc::new(LockedSubqueries {
                subs,
                main: main.clone(),
            }),
            params,
            stmt.clone(),
        )))
    }

    /// The error of a statement whose locking subquery could not be prepared on its own for a name it
    /// does not know: if the statement prepares without its locking clauses, the name is the outer
    /// query's (a correlated subquery, which cannot run first), and that is what is not supported.
    async fn correlated(
        &mut self,
        stmt: &Statement,
        declared: &[Option<pgwire::api::Type>],
        e: Error,
    ) -> Error {
        struct Unlock;
        impl VisitorMut for Unlock {
            type Break = ();
            fn pre_visit_query(&mut self, q: &mut Query) -> ControlFlow<()> {
                q.locks.clear();
                ControlFlow::Continue(())
            }
        }
        let mut plain = stmt.clone();
        let _ = VisitMut::visit(&mut plain, &mut Unlock);
        match Box::pin(self.prepare_stmt(plain, declared)).await {
            Ok(_) => Error::sql(
                code::FEATURE_NOT_SUPPORTED,
                "a locking clause in a subquery that reads the outer query's columns (a correlated \
                 subquery) is not supported yet",
            ),
            Err(_) => e,
        }
    }

    fn drop_stand_ins<'a>(&self, names: impl IntoIterator<Item = &'a String>) {
        let mut stand_ins = self.source.stand_ins.lock();
        for n in names {
            stand_ins.remove(n);
        }
    }

    async fn prepare_parts(
        &mut self,
        taken: Vec<(String, Query)>,
        main: Statement,
        declared: &[Option<pgwire::api::Type>],
    ) -> Result<(Vec<(String, SchemaRef, Prepared)>, Prepared)> {
        let mut subs = vec![];
        for (name, query) in taken {
            let p =
                Box::pin(self.prepare_stmt(Statement::Query(Box::new(query)), declared)).await?;
            let schema = stand_in_schema(p.result.as_ref())?;
            let empty: Arc<dyn TableProvider> =
                Arc::new(MemTable::try_new(schema.clone(), vec![vec![]])?);
            self.source.stand_ins.lock().insert(name.clone(), empty);
            subs.push((name, schema, p));
        }
        let main = Box::pin(self.prepare_stmt(main, declared)).await?;
        Ok((subs, main))
    }

    /// Runs the locking subqueries, then the statement over their rows, all in one transaction (an
    /// autocommit statement's own): the rows stay locked until it ends.
    pub(super) async fn execute_locked_subqueries(
        &mut self,
        l: Arc<LockedSubqueries>,
        params: Vec<ScalarValue>,
    ) -> Result<Output> {
        let autocommit = self.tx == Tx::Idle;
        if autocommit {
            self.begin();
        }
        let r = self.run_locked_subqueries(&l, params).await;
        self.drop_stand_ins(l.subs.iter().map(|(n, ..)| n));
        self.finish_statement(r, autocommit).await
    }

    async fn run_locked_subqueries(
        &mut self,
        l: &LockedSubqueries,
        params: Vec<ScalarValue>,
    ) -> Result<Output> {
        let part = |p: &Prepared| params[..p.params.len().min(params.len())].to_vec();
        for (name, schema, sub) in &l.subs {
            let out = Box::pin(self.run_prepared(sub, part(sub)))
                .await?
                .collected()
                .await?;
            let Output::Rows(_, batches) = out else {
                return Err(Error::sql(
                    code::INTERNAL,
                    "a locking subquery returned no rows",
                ));
            };
            let batches = batches
                .into_iter()
                .map(|b| RecordBatch::try_new(schema.clone(), b.columns().to_vec()))
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| Error::sql(code::INTERNAL, e.to_string()))?;
            let rows: Arc<dyn TableProvider> =
                Arc::new(MemTable::try_new(schema.clone(), vec![batches])?);
            self.source.stand_ins.lock().insert(name.clone(), rows);
        }
        Box::pin(self.run_prepared(&l.main, part(&l.main))).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taken(sql: &str) -> (String, Vec<String>) {
        let mut stmt = super::super::parse(sql).unwrap().pop().unwrap();
        let found = has_nested_locks(&stmt);
        let t = take(&mut stmt);
        assert_eq!(found, !t.is_empty(), "{sql}");
        let names: Vec<String> = t.iter().map(|(n, _)| n.clone()).collect();
        let renamed = |mut s: String| {
            for (i, n) in names.iter().enumerate() {
                s = s.replace(n, &format!("s{i}"));
            }
            s
        };
        let subs = t.iter().map(|(_, q)| renamed(q.to_string())).collect();
        (renamed(stmt.to_string()), subs)
    }

    #[test]
    fn locking_subqueries_are_taken_innermost_first() {
        let (main, subs) = taken(
            "UPDATE jobs SET done = true WHERE id = (SELECT id FROM jobs ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)",
        );
        assert_eq!(
            main,
            "UPDATE jobs SET done = true WHERE id = (SELECT * FROM \"s0\")"
        );
        assert_eq!(
            subs,
            ["SELECT id FROM jobs ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED"]
        );
        let (main, subs) = taken(
            "WITH n AS (SELECT * FROM (SELECT id FROM a FOR SHARE) x FOR UPDATE) SELECT * FROM n FOR UPDATE",
        );
        assert_eq!(
            main,
            "WITH n AS (SELECT * FROM \"s1\") SELECT * FROM n FOR UPDATE"
        );
        assert_eq!(
            subs,
            [
                "SELECT id FROM a FOR SHARE",
                "SELECT * FROM (SELECT * FROM \"s0\") x FOR UPDATE"
            ]
        );
        // A SELECT's own locking clause stays; a statement without nested ones has nothing taken.
        assert_eq!(taken("SELECT * FROM t FOR UPDATE").1.len(), 0);
        assert_eq!(taken("SELECT 1").1.len(), 0);
    }
}
