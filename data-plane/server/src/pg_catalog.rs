//! PostgreSQL's system catalogs (`pg_catalog`) and `information_schema` as relations, generated from our own
//! catalog whenever a statement names them, so they are planned, joined and filtered like any table, over
//! both protocols. What they describe is what the statement sees: an open transaction's own CREATE and DROP
//! included. Built-in objects (types, access methods, collations, functions) are PostgreSQL 15's own rows
//! (`data/`); ours get stable OIDs from the engine's table ids (`oids`).

pub mod array_text;
pub mod build;
mod empty;
mod formats;
mod from_functions;
pub mod functions;
mod information_schema;
pub mod names;
pub mod oids;
mod pg_typeof;
mod relations;
pub mod scalar_functions;
mod server;
pub mod syntax;
pub mod table_functions;
mod tables;
mod udf;

use std::collections::BTreeSet;
use std::sync::Arc;

use arrow_array::RecordBatch;
use async_trait::async_trait;
use datafusion::catalog::{SchemaProvider, TableProvider};
use datafusion::datasource::MemTable;
use datafusion::error::Result;
use omendb_storage::{Database, TableDef};

use crate::catalog::{SharedView, resolve};
use crate::engine::Engine;
use crate::settings::Settings;

/// A user table as the catalogs show it.
#[derive(Clone, Debug)]
/// An enum type as the catalogs show it.
pub struct EnumType {
    pub def: Arc<omendb_storage::EnumDef>,
    /// The type's OID; its array type's is the next one.
    pub oid: i64,
    pub schema: String,
    pub nsp: i64,
    pub typname: String,
    /// Its name as `format_type` prints it here: schema-qualified when its schema is not on the search
    /// path (pg_dump empties the path, so every name it reads back is qualified).
    pub shown: String,
}

pub struct Table {
    pub id: u64,
    pub oid: i64,
    pub def: TableDef,
    pub rows: u64,
    /// Its schema, the schema's OID, and its name there (`def.name` is the storage name, `s.t`).
    pub schema: String,
    pub nsp: i64,
    pub relname: String,
    /// CREATE INDEX's and UNIQUE constraints' indexes.
    pub secondary: Vec<Arc<omendb_storage::IndexDef>>,
    /// Its FOREIGN KEY constraints (it is the referencing table).
    pub foreign_keys: Vec<Arc<omendb_storage::ForeignKey>>,
    /// Its CHECK constraints.
    pub checks: Vec<Arc<omendb_storage::CheckDef>>,
    /// A view (relkind 'v'): its definition; `def` holds its columns.
    pub view: Option<Arc<omendb_storage::ViewDef>>,
}

/// A FOREIGN KEY as the catalogs show it: the constraint, and the referenced table with the index its
/// columns are unique by.
pub struct ForeignKeyInfo<'a> {
    pub fk: &'a omendb_storage::ForeignKey,
    pub oid: i64,
    pub parent: &'a Table,
    pub index: Option<Index>,
}

impl Table {
    /// Its foreign keys, with their referenced tables found in `tables` (one whose table is not visible
    /// is left out).
    pub fn foreign_keys<'a>(&'a self, tables: &'a [Table]) -> Vec<ForeignKeyInfo<'a>> {
        self.foreign_keys
            .iter()
            .filter_map(|fk| {
                let parent = tables.iter().find(|t| t.id == fk.ref_table)?;
                let mut wanted = fk.ref_columns.clone();
                wanted.sort();
                let index = parent.indexes().into_iter().find(|i| {
                    let mut cols = i.columns.clone();
                    cols.sort();
                    i.unique && cols == wanted
                });
                Some(ForeignKeyInfo {
                    fk,
                    oid: oids::table(fk.id),
                    parent,
                    index,
                })
            })
            .collect()
    }
}

/// `pg_get_constraintdef` of a CHECK: PostgreSQL prints an operator expression in parentheses of its
/// own, inside CHECK's (a call or a column without). Parentheses the stored text has around the whole
/// (a restored dump's `CHECK ((a > 0))` is stored as `(a > 0)`) are not doubled.
pub fn check_definition(c: &omendb_storage::CheckDef) -> String {
    format!("CHECK ({})", expression_text(&c.sql))
}

/// A stored boolean expression as PostgreSQL deparses it (a CHECK's, a partial index's WHERE): an
/// operator expression in parentheses of its own, a call or a column without.
pub fn expression_text(sql: &str) -> String {
    use datafusion::sql::sqlparser::ast::Expr;
    let Ok(mut e) = crate::ddl::parse_expr(sql) else {
        return format!("({sql})");
    };
    while let Expr::Nested(inner) = e {
        e = *inner;
    }
    match e {
        Expr::Function(_) | Expr::Identifier(_) | Expr::CompoundIdentifier(_) | Expr::Value(_) => {
            e.to_string()
        }
        e => format!("({e})"),
    }
}

impl ForeignKeyInfo<'_> {
    /// `pg_get_constraintdef`'s text; `qualified`: the referenced table is named with its schema (it is not
    /// visible by its bare name, as under pg_dump's empty search_path).
    pub fn definition(&self, child: &Table, qualified: bool) -> String {
        let cols = |t: &Table, c: &[usize]| {
            c.iter()
                .map(|&i| names::quote_ident(&t.def.columns[i].name))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let rule = |a: omendb_storage::FkAction| match a {
            omendb_storage::FkAction::NoAction => None,
            omendb_storage::FkAction::Restrict => Some("RESTRICT"),
            omendb_storage::FkAction::Cascade => Some("CASCADE"),
            omendb_storage::FkAction::SetNull => Some("SET NULL"),
        };
        let mut s = format!(
            "FOREIGN KEY ({}) REFERENCES {}({})",
            cols(child, &self.fk.columns),
            if qualified {
                format!(
                    "{}.{}",
                    names::quote_ident(&self.parent.schema),
                    names::quote_ident(&self.parent.relname)
                )
            } else {
                names::quote_ident(&self.parent.relname)
            },
            cols(self.parent, &self.fk.ref_columns)
        );
        if let Some(r) = rule(self.fk.on_update) {
            s.push_str(&format!(" ON UPDATE {r}"));
        }
        if let Some(r) = rule(self.fk.on_delete) {
            s.push_str(&format!(" ON DELETE {r}"));
        }
        if self.fk.deferrable {
            s.push_str(" DEFERRABLE");
        }
        if self.fk.initially_deferred {
            s.push_str(" INITIALLY DEFERRED");
        }
        s
    }

    /// PostgreSQL's one-letter code of an action (`confupdtype`, `confdeltype`).
    pub fn code(a: omendb_storage::FkAction) -> &'static str {
        match a {
            omendb_storage::FkAction::NoAction => "a",
            omendb_storage::FkAction::Restrict => "r",
            omendb_storage::FkAction::Cascade => "c",
            omendb_storage::FkAction::SetNull => "n",
        }
    }

    /// information_schema's name of an action.
    pub fn rule(a: omendb_storage::FkAction) -> &'static str {
        match a {
            omendb_storage::FkAction::NoAction => "NO ACTION",
            omendb_storage::FkAction::Restrict => "RESTRICT",
            omendb_storage::FkAction::Cascade => "CASCADE",
            omendb_storage::FkAction::SetNull => "SET NULL",
        }
    }
}

/// An index as the catalogs show it: the primary key's, or a secondary one.
#[derive(Clone, Debug)]
pub struct Index {
    pub oid: i64,
    pub name: String,
    /// Positions of its columns in the table.
    pub columns: Vec<usize>,
    pub unique: bool,
    pub primary: bool,
    /// The PRIMARY KEY or UNIQUE constraint it implements: the constraint's OID and name.
    pub constraint: Option<(i64, String)>,
    /// `indoption` per column (1: DESC, 2: NULLS FIRST).
    pub options: Vec<i16>,
    /// A partial index's WHERE, as stored.
    pub predicate: Option<String>,
    /// Per position, the expression indexed there, as stored (empty: columns only).
    pub expressions: Vec<Option<String>>,
}

/// A sequence as the catalogs show it.
pub struct Sequence {
    pub def: Arc<omendb_storage::SequenceDef>,
    pub oid: i64,
    pub schema: String,
    pub nsp: i64,
    pub relname: String,
    /// The last value handed out (`None` before the first `nextval`).
    pub last: Option<i64>,
}

/// A view's query as `pg_get_viewdef` gives it.
/// A view's query as `pg_get_viewdef` prints it: its relations in the public schema qualified when public
/// is not on the search `path` (pg_dump's restore runs with an empty one); the others are stored
/// qualified.
pub fn view_definition(view: &omendb_storage::ViewDef, path: &[String]) -> String {
    use datafusion::sql::sqlparser::ast::{self, Statement};
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;
    if path.iter().any(|p| p == omendb_storage::PUBLIC) {
        return format!(" {};", view.query);
    }
    let Ok(mut stmts) = Parser::parse_sql(&PostgreSqlDialect {}, &view.query) else {
        return format!(" {};", view.query);
    };
    let Some(Statement::Query(q)) = stmts.first_mut() else {
        return format!(" {};", view.query);
    };
    // Relations only: a table function in FROM (`generate_series(1, 3)`) is no relation to qualify.
    struct Qualify(std::collections::HashSet<String>);
    impl ast::VisitorMut for Qualify {
        type Break = ();
        fn pre_visit_table_factor(
            &mut self,
            t: &mut ast::TableFactor,
        ) -> std::ops::ControlFlow<()> {
            if let ast::TableFactor::Table {
                name, args: None, ..
            } = t
                && let [ast::ObjectNamePart::Identifier(i)] = name.0.as_slice()
                && !self.0.contains(&crate::ddl::ident(i))
            {
                name.0.insert(
                    0,
                    ast::ObjectNamePart::Identifier(ast::Ident::new(omendb_storage::PUBLIC)),
                );
            }
            std::ops::ControlFlow::Continue(())
        }
    }
    let ctes = names::statement_ctes(&Statement::Query(q.clone()));
    let _ = ast::VisitMut::visit(q.as_mut(), &mut Qualify(ctes));
    format!(" {q};")
}

impl Table {
    pub fn pk_name(&self) -> String {
        format!("{}_pkey", self.relname)
    }

    /// Its indexes, the primary key's first.
    pub fn indexes(&self) -> Vec<Index> {
        let mut out = vec![];
        if let Some(pk) = self.def.primary_key {
            out.push(Index {
                oid: oids::pk_index(self.id),
                name: self.pk_name(),
                columns: vec![pk],
                unique: true,
                primary: true,
                constraint: Some((oids::pk_constraint(self.id), self.pk_name())),
                options: vec![0],
                predicate: None,
                expressions: vec![],
            });
        }
        for i in &self.secondary {
            out.push(Index {
                oid: oids::table(i.id),
                name: crate::search_path::split(&i.name).1.to_string(),
                columns: i.columns.clone(),
                unique: i.unique,
                primary: i.primary,
                options: (0..i.columns.len())
                    .map(|k| i.options.get(k).copied().unwrap_or(0))
                    .collect(),
                constraint: i
                    .constraint
                    .as_ref()
                    .map(|c| (oids::pk_constraint(i.id), c.clone())),
                predicate: i.predicate.clone(),
                expressions: i.expressions.clone(),
            });
        }
        out
    }
}

/// What the catalogs are generated from: the session's view of the tables, its settings, and the server.
#[derive(Clone)]
pub struct Source {
    pub engine: Arc<Engine>,
    pub db: Arc<Database>,
    pub view: SharedView,
    pub settings: Settings,
    /// The session's `pg_stat_activity` row: who is logged in.
    pub me: crate::activity::Entry,
    /// Names of the functions this session can call (what `pg_proc` lists).
    pub functions: Arc<std::sync::OnceLock<BTreeSet<String>>>,
    /// The session's open cursors (`pg_cursors`).
    pub cursors: Arc<parking_lot::Mutex<crate::session::Cursors>>,
    /// The session's functions a column DEFAULT may call besides DataFusion's (`nextval`).
    pub default_functions: Arc<std::sync::OnceLock<Vec<Arc<datafusion::logical_expr::ScalarUDF>>>>,
    /// Tables that stand in for parts of the statement being planned or run, by name: the rows of its
    /// locking subqueries (`session/locked_subqueries.rs`).
    pub stand_ins:
        Arc<parking_lot::Mutex<std::collections::HashMap<String, Arc<dyn TableProvider>>>>,
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("pg_catalog::Source")
    }
}

impl Source {
    /// How the session finds tables now: its view and search path.
    pub fn names(&self) -> crate::search_path::Names {
        let user = self.me.lock().user.clone();
        crate::search_path::Names::new(
            self.db.clone(),
            self.view.clone(),
            &self.settings.raw("search_path").unwrap_or_default(),
            &user,
        )
    }

    /// The schemas made by CREATE SCHEMA the current statement sees, with their OIDs.
    pub fn schemas(&self) -> Vec<(String, i64)> {
        crate::search_path::schemas(&self.db, &self.view.lock())
            .into_iter()
            .map(|(n, id)| (n, oids::table(id)))
            .collect()
    }

    /// COMMENT ON texts as pg_description holds them: (objoid, classoid, objsubid, description).
    pub fn descriptions(&self) -> Vec<(i64, i64, i32, String)> {
        let (comments, schemas) = {
            let v = self.view.lock();
            let comments = match (&v.txn, &v.snapshot) {
                (Some(t), _) => t.comments(),
                (None, Some(s)) => s.comments(),
                (None, None) => self.db.snapshot().comments(),
            };
            (comments, crate::search_path::schemas(&self.db, &v))
        };
        let types: Vec<u64> = self.enum_types().iter().map(|t| t.def.id).collect();
        // PostgreSQL's own comment on the public schema (pg_dump leaves it out of a dump).
        let public = (
            oids::PUBLIC,
            oids::PG_NAMESPACE_CLASS,
            0,
            "standard public schema".to_string(),
        );
        std::iter::once(public)
            .chain(comments.into_iter().map(|((id, sub), text)| {
                let class = if schemas.iter().any(|(_, s)| *s == id) {
                    oids::PG_NAMESPACE_CLASS
                } else if types.contains(&id) {
                    oids::PG_TYPE_CLASS
                } else {
                    oids::PG_CLASS_CLASS
                };
                (oids::table(id), class, sub as i32, text)
            }))
            .collect()
    }

    /// The enum types the current statement sees.
    pub fn enum_types(&self) -> Vec<EnumType> {
        let defs = crate::enums::visible(&self.db, &self.view.lock());
        let schemas = self.schemas();
        let names = self.names();
        defs.into_iter()
            .map(|def| {
                let (schema, typname) = crate::search_path::split(&def.name);
                let shown = names::qualified_name(schema, typname, names.path());
                let nsp = match schemas.iter().find(|(n, _)| n == schema) {
                    Some((_, o)) => *o,
                    None => oids::PUBLIC,
                };
                EnumType {
                    shown,
                    oid: oids::table(def.id),
                    schema: schema.to_string(),
                    typname: typname.to_string(),
                    nsp,
                    def,
                }
            })
            .collect()
    }

    /// The OID of schema `name`, built-in or made here.
    pub fn namespace(&self, name: &str) -> Option<i64> {
        oids::namespace(name).or_else(|| {
            self.schemas()
                .into_iter()
                .find(|(n, _)| n == name)
                .map(|(_, o)| o)
        })
    }

    /// The user tables the current statement sees, by OID.
    /// The sequences this session sees, by OID.
    pub fn sequences(&self) -> Result<Vec<Sequence>> {
        let schemas = self.schemas();
        let mut out: Vec<Sequence> = crate::sequences::visible(self)
            .into_iter()
            .map(|def| {
                let (schema, relname) = crate::search_path::split(&def.name);
                let nsp = match schemas.iter().find(|(n, _)| n == schema) {
                    Some((_, o)) => *o,
                    None => oids::PUBLIC,
                };
                Ok(Sequence {
                    oid: oids::table(def.id),
                    schema: schema.to_string(),
                    relname: relname.to_string(),
                    nsp,
                    last: self
                        .db
                        .sequence_last(&def)
                        .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?,
                    def,
                })
            })
            .collect::<Result<_>>()?;
        out.sort_by_key(|s| s.oid);
        Ok(out)
    }

    pub fn tables(&self) -> Result<Vec<Table>> {
        let names = crate::catalog::table_names(&self.db, &self.view.lock());
        let schemas = self.schemas();
        let mut v = self.view.lock();
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            let reader = resolve(&self.db, &mut v, &name)
                .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?;
            if let Some(r) = reader {
                let (schema, relname) = crate::search_path::split(&r.def().name);
                let nsp = match schemas.iter().find(|(n, _)| n == schema) {
                    Some((_, o)) => *o,
                    None => oids::PUBLIC,
                };
                out.push(Table {
                    id: r.id(),
                    oid: oids::table(r.id()),
                    schema: schema.to_string(),
                    relname: relname.to_string(),
                    nsp,
                    def: r.def().clone(),
                    rows: r.len(),
                    secondary: r.indexes(),
                    foreign_keys: r.foreign_keys(),
                    checks: r.checks(),
                    view: None,
                });
            }
        }
        for view in crate::search_path::views(&self.db, &v) {
            let (schema, relname) = crate::search_path::split(&view.name);
            let nsp = match schemas.iter().find(|(n, _)| n == schema) {
                Some((_, o)) => *o,
                None => oids::PUBLIC,
            };
            out.push(Table {
                id: view.id,
                oid: oids::table(view.id),
                schema: schema.to_string(),
                relname: relname.to_string(),
                nsp,
                def: TableDef {
                    name: view.name.clone(),
                    columns: view.columns.clone(),
                    primary_key: None,
                },
                rows: 0,
                secondary: vec![],
                foreign_keys: vec![],
                checks: vec![],
                view: Some(view),
            });
        }
        out.sort_by_key(|t| t.oid);
        Ok(out)
    }

    /// A parameter's value as SHOW and `current_setting()` give it: the transaction's own isolation level
    /// and access mode while one is open, the session's value of anything else.
    pub fn setting(&self, name: &str) -> crate::error::Result<String> {
        let txn =
            |f: &dyn Fn(&omendb_storage::WriteTxn) -> String| self.view.lock().txn.as_ref().map(f);
        match name.trim().to_lowercase().as_str() {
            "transaction_isolation" | "transaction isolation level" => {
                Ok(txn(&|t| t.isolation().name().to_string())
                    .unwrap_or_else(|| self.settings.default_isolation().name().to_string()))
            }
            "transaction_read_only" => {
                Ok(
                    txn(&|t| if t.read_only() { "on" } else { "off" }.to_string()).unwrap_or_else(
                        || {
                            if self.settings.default_read_only() {
                                "on"
                            } else {
                                "off"
                            }
                            .to_string()
                        },
                    ),
                )
            }
            _ => self.settings.get(name),
        }
    }

    pub fn user(&self) -> String {
        self.me.lock().user.clone()
    }

    /// A relation of `pg_catalog` (`schema` None or `pg_catalog`) or `information_schema`, built now.
    pub fn relation(&self, schema: Option<&str>, name: &str) -> Result<Option<RecordBatch>> {
        match schema {
            Some("information_schema") => information_schema::relation(self, name),
            None | Some("pg_catalog") => relations::relation(self, name),
            Some(_) => Ok(None),
        }
    }

    pub fn provider(
        &self,
        schema: Option<&str>,
        name: &str,
    ) -> Result<Option<Arc<dyn TableProvider>>> {
        if schema.is_none()
            && let Some(t) = self.stand_ins.lock().get(name)
        {
            return Ok(Some(t.clone()));
        }
        let Some(batch) = self.relation(schema, name)? else {
            return Ok(None);
        };
        Ok(Some(Arc::new(MemTable::try_new(
            batch.schema(),
            vec![vec![batch]],
        )?)))
    }
}

/// `pg_catalog` or `information_schema` as a DataFusion schema.
#[derive(Debug)]
pub struct SystemSchema {
    pub source: Source,
    pub schema: &'static str,
}

impl SystemSchema {
    fn names(&self) -> Vec<&'static str> {
        match self.schema {
            "information_schema" => information_schema::NAMES.to_vec(),
            _ => relations::NAMES
                .iter()
                .copied()
                .chain(empty::others().map(|(n, ..)| n))
                .collect(),
        }
    }
}

#[async_trait]
impl SchemaProvider for SystemSchema {
    fn table_names(&self) -> Vec<String> {
        self.names().iter().map(|s| s.to_string()).collect()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        self.source.provider(Some(self.schema), name)
    }

    fn table_exist(&self, name: &str) -> bool {
        self.names().contains(&name)
    }
}

/// PostgreSQL's system relations served here (every relation of `pg_catalog`), with their OIDs and kinds.
pub fn system_relations() -> impl Iterator<Item = (&'static str, i64, char)> {
    oids::SYSTEM_RELATIONS.iter().copied().chain(
        empty::others().filter(|(n, ..)| !oids::SYSTEM_RELATIONS.iter().any(|(s, ..)| s == n)),
    )
}

/// Whether `name` is a relation of `pg_catalog` (found unqualified too, as PostgreSQL searches it first).
pub fn is_system(name: &str) -> bool {
    relations::NAMES.contains(&name) || empty::others().any(|(n, ..)| n == name)
}
