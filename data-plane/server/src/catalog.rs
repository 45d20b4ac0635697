//! The persistent catalog as DataFusion sees it: schema `public` and the schemas made by CREATE SCHEMA list
//! the engine's tables, each resolved through the connection's current view (a statement snapshot, or an
//! open transaction with its own writes); bare names resolve through the search path (`search_path.rs`).

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::{CatalogProvider, SchemaProvider, TableProvider};
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
    /// Tables the statement being planned reads with their hidden row ids (if they have no primary key):
    /// an UPDATE's or DELETE's target, which the write needs, and the tables whose rows a SELECT locks.
    pub physical: Vec<String>,
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
    /// The schema listed; `None`: the search path (DataFusion's default schema, for bare names).
    schema: Option<String>,
}

impl std::fmt::Debug for Tables {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tables")
    }
}

impl Tables {
    /// The tables of `schema`, or (`None`) those the search path finds.
    pub fn new(system: crate::pg_catalog::Source, schema: Option<String>) -> Tables {
        Tables {
            db: system.db.clone(),
            view: system.view.clone(),
            system,
            schema,
        }
    }

    /// The storage name of `name` in this schema.
    /// A sequence read as a relation (`SELECT last_value, is_called FROM s`, as pg_dump does): one row.
    fn sequence(&self, storage: &str) -> Option<Arc<dyn TableProvider>> {
        let relname = crate::search_path::split(storage).1;
        let candidates: Vec<String> = match &self.schema {
            Some(_) => vec![storage.to_string()],
            None => self
                .system
                .names()
                .path()
                .iter()
                .map(|s| crate::search_path::storage_name(s, relname))
                .collect(),
        };
        let all = crate::sequences::visible(&self.system);
        let def = candidates
            .iter()
            .find_map(|c| all.iter().find(|s| s.name == *c))?;
        let (last, called) = self.db.sequence_state(def).ok()?;
        let schema = Arc::new(arrow_schema::Schema::new(vec![
            arrow_schema::Field::new("last_value", arrow_schema::DataType::Int64, false),
            arrow_schema::Field::new("log_cnt", arrow_schema::DataType::Int64, false),
            arrow_schema::Field::new("is_called", arrow_schema::DataType::Boolean, false),
        ]));
        let columns: Vec<arrow_array::ArrayRef> = vec![
            Arc::new(arrow_array::Int64Array::from(vec![last])),
            Arc::new(arrow_array::Int64Array::from(vec![0])),
            Arc::new(arrow_array::BooleanArray::from(vec![called])),
        ];
        let batch = arrow_array::RecordBatch::try_new(schema.clone(), columns).ok()?;
        let table = datafusion::datasource::MemTable::try_new(schema, vec![vec![batch]]).ok()?;
        Some(Arc::new(table))
    }

    fn storage(&self, name: &str) -> String {
        match &self.schema {
            Some(s) => crate::search_path::storage_name(s, name),
            None => self.system.names().find(name),
        }
    }
}

/// Catalog `omendb`: pg_catalog, information_schema, public and the schemas the view sees.
pub struct Catalog {
    system: crate::pg_catalog::Source,
}

impl Catalog {
    pub fn new(system: crate::pg_catalog::Source) -> Catalog {
        Catalog { system }
    }
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Catalog")
    }
}

impl CatalogProvider for Catalog {
    fn schema_names(&self) -> Vec<String> {
        let mut names: Vec<String> = ["pg_catalog", "information_schema", "public"]
            .map(String::from)
            .to_vec();
        let user = crate::search_path::schemas(&self.system.db, &self.system.view.lock());
        names.extend(user.into_iter().map(|(n, _)| n));
        names
    }

    fn schema(&self, name: &str) -> Option<Arc<dyn SchemaProvider>> {
        match name {
            "pg_catalog" => Some(Arc::new(crate::pg_catalog::SystemSchema {
                source: self.system.clone(),
                schema: "pg_catalog",
            })),
            "information_schema" => Some(Arc::new(crate::pg_catalog::SystemSchema {
                source: self.system.clone(),
                schema: "information_schema",
            })),
            crate::search_path::PATH_SCHEMA => {
                Some(Arc::new(Tables::new(self.system.clone(), None)))
            }
            "public" => Some(Arc::new(Tables::new(
                self.system.clone(),
                Some("public".into()),
            ))),
            s => {
                let known = crate::search_path::schemas(&self.system.db, &self.system.view.lock())
                    .iter()
                    .any(|(n, _)| n == s);
                known.then(|| Arc::new(Tables::new(self.system.clone(), Some(s.into()))) as _)
            }
        }
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

/// The tables `view` sees, by storage name.
pub fn table_names(db: &Database, view: &View) -> Vec<String> {
    match (&view.txn, &view.snapshot) {
        (Some(t), _) => t.table_names(),
        (None, Some(s)) => s.table_names(),
        (None, None) => db.table_names(),
    }
}

/// The storage name of the user table a plan's table source reads (`None` for catalog relations and
/// table functions).
pub fn storage_name_of(source: &Arc<dyn datafusion::logical_expr::TableSource>) -> Option<String> {
    let provider = datafusion::datasource::source_as_provider(source).ok()?;
    let table = provider.downcast_ref::<LearnedTable>()?;
    Some(table.name().to_string())
}

/// A table provider for one reader, with its DEFAULT expressions.
pub fn provider(
    reader: TableReader,
    physical: bool,
    no_index: bool,
    functions: &[Arc<datafusion::logical_expr::ScalarUDF>],
) -> Result<Arc<LearnedTable>> {
    let defaults = defaults(reader.def(), functions)?;
    let t = LearnedTable::from_reader(reader, physical).with_defaults(defaults);
    Ok(Arc::new(if no_index { t.without_index() } else { t }))
}

/// Each column's DEFAULT, parsed; `functions` are the session's own a default may call (`nextval`).
fn defaults(
    def: &TableDef,
    functions: &[Arc<datafusion::logical_expr::ScalarUDF>],
) -> Result<HashMap<String, Expr>> {
    let mut out = HashMap::new();
    let mut ctx = None;
    for c in &def.columns {
        if let Some(sql) = &c.default {
            let ctx = ctx.get_or_insert_with(|| {
                let ctx = SessionContext::new();
                ctx.register_udf(crate::uuids::GenRandomUuid::udf());
                ctx.register_udf(crate::uuids::UuidCast::udf());
                // `'{}'::jsonb` needs the json functions only, not the operators' planner (whose
                // registration rebuilds the context's state).
                crate::json::register_functions(&ctx);
                // pg_dump writes a serial's default as `nextval('s.t_id_seq'::regclass)`: in a default the
                // name stays a name, which nextval resolves when it runs.
                ctx.register_udf(datafusion::logical_expr::create_udf(
                    "omendb_regclass",
                    vec![arrow_schema::DataType::Utf8],
                    arrow_schema::DataType::Utf8,
                    datafusion::logical_expr::Volatility::Immutable,
                    Arc::new(|args| Ok(args[0].clone())),
                ));
                for f in functions {
                    ctx.register_udf(f.as_ref().clone());
                }
                ctx
            });
            // PostgreSQL's forms DataFusion lacks (`'{}'::jsonb`), as in any query.
            let sql = crate::pg_catalog::syntax::expression_sql(sql);
            out.insert(
                c.name.clone(),
                ctx.parse_sql_expr(&sql, &DFSchema::empty())?,
            );
        }
    }
    Ok(out)
}

#[async_trait]
impl SchemaProvider for Tables {
    fn table_names(&self) -> Vec<String> {
        let all = table_names(&self.db, &self.view.lock());
        let schemas: Vec<String> = match &self.schema {
            Some(s) => vec![s.clone()],
            None => self.system.names().path().to_vec(),
        };
        all.iter()
            .map(|n| crate::search_path::split(n))
            .filter(|(s, _)| schemas.iter().any(|x| x == s))
            .map(|(_, t)| t.to_string())
            .collect()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        if name.contains('.') {
            return Ok(None);
        }
        let storage = self.storage(name);
        let mut v = self.view.lock();
        let physical = v.physical.contains(&storage);
        let no_index = v.no_index;
        let reader = resolve(&self.db, &mut v, &storage)
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        drop(v);
        match reader {
            Some(r) => Ok(Some(provider(
                r,
                physical,
                no_index,
                self.system
                    .default_functions
                    .get()
                    .map_or(&[][..], Vec::as_slice),
            )? as Arc<dyn TableProvider>)),
            None if let Some(seq) = self.sequence(&storage) => Ok(Some(seq)),
            // pg_catalog's relations are found by bare name (PostgreSQL searches pg_catalog implicitly).
            None if self.schema.is_none() => self.system.provider(None, name),
            None => Ok(None),
        }
    }

    fn table_exist(&self, name: &str) -> bool {
        self.table_names().iter().any(|n| n == name)
            || (self.schema.is_none() && crate::pg_catalog::is_system(name))
    }
}
