//! The persistent catalog as DataFusion sees it: schema `public` lists the engine's tables, each resolved
//! through the connection's current view (a statement snapshot, or an open transaction with its own writes).

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::{SchemaProvider, TableProvider};
use datafusion::common::DFSchema;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::Expr;
use datafusion::prelude::SessionContext;
use omendb_sql::LearnedTable;
use omendb_storage::{Database, Snapshot, TableDef, TableReader, WriteTxn};
use parking_lot::Mutex;

/// What the connection's statements read.
#[derive(Default)]
pub struct View {
    /// The open transaction (explicit, or the one an autocommit write runs in).
    pub txn: Option<WriteTxn>,
    /// The snapshot of the running autocommit statement.
    pub snapshot: Option<Snapshot>,
    /// Target of the UPDATE or DELETE being planned: resolved with its hidden row id, which the write needs.
    pub physical: Option<String>,
    /// `SET omendb.learned_index = off`.
    pub no_index: bool,
    /// READ COMMITTED's re-check of a changed row reads the newest committed versions.
    pub latest: bool,
}

pub type SharedView = Arc<Mutex<View>>;

pub struct Tables {
    db: Arc<Database>,
    view: SharedView,
    /// The relations of `pg_catalog`, found unqualified too (PostgreSQL searches pg_catalog first).
    system: crate::pg_catalog::Source,
}

impl std::fmt::Debug for Tables {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tables")
    }
}

impl Tables {
    pub fn new(db: Arc<Database>, view: SharedView, system: crate::pg_catalog::Source) -> Tables {
        Tables { db, view, system }
    }
}

/// The reader of `name` in `view`, or `None` if no such table.
pub fn resolve(
    db: &Database,
    view: &mut View,
    name: &str,
) -> omendb_storage::Result<Option<TableReader>> {
    let r = if let Some(t) = view.txn.as_mut() {
        if view.latest {
            t.table_latest(name)
        } else {
            t.table(name)
        }
    } else if let Some(s) = &view.snapshot {
        s.table(name)
    } else {
        db.table(name)
    };
    match r {
        Ok(r) => Ok(Some(r)),
        Err(omendb_storage::Error::UnknownTable(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// A table provider for one reader, with its DEFAULT expressions.
pub fn provider(reader: TableReader, physical: bool, no_index: bool) -> Result<Arc<LearnedTable>> {
    let defaults = defaults(reader.def())?;
    let t = LearnedTable::from_reader(reader, physical).with_defaults(defaults);
    Ok(Arc::new(if no_index { t.without_index() } else { t }))
}

fn defaults(def: &TableDef) -> Result<HashMap<String, Expr>> {
    let mut out = HashMap::new();
    let mut ctx = None;
    for c in &def.columns {
        if let Some(sql) = &c.default {
            let ctx = ctx.get_or_insert_with(SessionContext::new);
            out.insert(c.name.clone(), ctx.parse_sql_expr(sql, &DFSchema::empty())?);
        }
    }
    Ok(out)
}

#[async_trait]
impl SchemaProvider for Tables {
    fn table_names(&self) -> Vec<String> {
        let v = self.view.lock();
        match (&v.txn, &v.snapshot) {
            (Some(t), _) => t.table_names(),
            (None, Some(s)) => s.table_names(),
            (None, None) => self.db.table_names(),
        }
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        let mut v = self.view.lock();
        let physical = v.physical.as_deref() == Some(name);
        let no_index = v.no_index;
        let reader =
            resolve(&self.db, &mut v, name).map_err(|e| DataFusionError::External(Box::new(e)))?;
        drop(v);
        match reader {
            Some(r) => Ok(Some(
                provider(r, physical, no_index)? as Arc<dyn TableProvider>
            )),
            None => self.system.provider(None, name),
        }
    }

    fn table_exist(&self, name: &str) -> bool {
        self.table_names().iter().any(|n| n == name) || crate::pg_catalog::is_system(name)
    }
}
