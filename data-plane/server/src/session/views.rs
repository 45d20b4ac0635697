//! Views: CREATE [OR REPLACE] VIEW, DROP VIEW [CASCADE], and their expansion. The engine keeps a view's
//! query as SQL text (its relations outside `public` schema-qualified as they resolved at CREATE, so a later
//! search_path does not change what it reads); wherever a statement names the view, the name is replaced
//! by the query as a derived table before anything else rewrites or plans the statement, so a view
//! behaves exactly as its query written in place (and nested views expand in turn).

use std::collections::HashSet;
use std::ops::ControlFlow;
use std::sync::Arc;

use datafusion::sql::sqlparser::ast::{
    self, AlterTableOperation as Op, ObjectName, Statement, TableAlias, TableAliasColumnDef,
    TableFactor, VisitMut, VisitorMut,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;
use omendb_storage::{ColumnDef, ViewDef};

use super::Session;
use super::statement::Kind;
use crate::ddl;
use crate::error::{Error, Result, code};
use crate::relation_refs::column_renamed_query;
use crate::search_path::split;

/// More view expansions than this in one statement are taken for a cycle (a view replaced to read itself).
const MAX_EXPANSIONS: usize = 1000;

impl Session {
    /// CREATE [OR REPLACE] VIEW name [(columns)] AS query.
    pub(super) async fn create_view(&mut self, cv: &ast::CreateView) -> Result<()> {
        if cv.materialized {
            return Err(Error::unsupported("CREATE MATERIALIZED VIEW"));
        }
        if cv.temporary {
            return Err(Error::unsupported("CREATE TEMPORARY VIEW"));
        }
        let storage = self.names().create(&cv.name)?;
        let relname = crate::search_path::split(&storage).1.to_string();
        let mut query = (*cv.query).clone();
        let depends = self.qualify_relations(&mut query)?;
        // Planned once here: an error in the query is the statement's, and the output columns are known.
        let prepared = self
            .prepare_planned(Statement::Query(Box::new(query.clone())), Kind::Select, &[])
            .await?;
        let schema = prepared
            .result
            .clone()
            .ok_or_else(|| Error::sql(code::INTERNAL, "a view's query has no result"))?;
        if cv.columns.len() > schema.fields().len() {
            return Err(Error::sql(
                code::SYNTAX_ERROR,
                "CREATE VIEW specifies more column names than columns",
            ));
        }
        let mut columns: Vec<ColumnDef> = Vec::with_capacity(schema.fields().len());
        for (i, f) in schema.fields().iter().enumerate() {
            let name = match cv.columns.get(i) {
                Some(c) => ddl::ident(&c.name),
                None => f.name().clone(),
            };
            if columns.iter().any(|c| c.name == name) {
                return Err(Error::sql(
                    "42701",
                    format!("column \"{name}\" specified more than once"),
                ));
            }
            let data_type = ddl::from_field(f)?;
            columns.push(ColumnDef::new(name, data_type));
        }
        let existing = crate::search_path::views(&self.engine.db, &self.view.lock())
            .into_iter()
            .find(|v| v.name == storage);
        match &existing {
            Some(old) if cv.or_replace => replaceable(old, &columns)?,
            Some(_) if cv.if_not_exists => {
                self.notice(
                    "42P07",
                    format!("relation \"{relname}\" already exists, skipping"),
                );
                return Ok(());
            }
            _ => {}
        }
        if cv.or_replace && existing.is_none() && self.names().exists(&storage) {
            return Err(Error::sql("42809", format!("\"{relname}\" is not a view")));
        }
        let def = ViewDef {
            id: 0,
            name: storage,
            query: query.to_string(),
            columns,
            depends,
        };
        self.with_locks(|t| t.create_view(def.clone(), cv.or_replace).map(drop))
            .await
    }

    /// DROP VIEW [IF EXISTS] name [, ...] [CASCADE].
    pub(super) async fn drop_views(
        &mut self,
        names: &[ObjectName],
        if_exists: bool,
        cascade: bool,
    ) -> Result<()> {
        let mut dropping = vec![];
        for n in names {
            match self.names().view(n) {
                Some(v) => dropping.push(v),
                None => {
                    let relname = crate::search_path::parts(n)?.1;
                    let storage = self.names().lookup(n)?;
                    if self.names().exists(&storage) {
                        return Err(Error::sql("42809", format!("\"{relname}\" is not a view"))
                            .with_hint("Use DROP TABLE to remove a table."));
                    }
                    if !if_exists {
                        return Err(Error::sql(
                            code::UNDEFINED_TABLE,
                            format!("view \"{relname}\" does not exist"),
                        ));
                    }
                    self.notice(
                        "00000",
                        format!("view \"{relname}\" does not exist, skipping"),
                    );
                }
            }
        }
        let ids: Vec<u64> = dropping.iter().map(|v| v.id).collect();
        for v in &dropping {
            let what = format!("view {}", crate::search_path::split(&v.name).1);
            self.drop_dependent_views(v.id, &what, &ids, cascade)
                .await?;
            self.with_locks(|t| t.drop_view(&v.name)).await?;
        }
        Ok(())
    }

    /// Before dropping the relation `id` (`what`: "table t", "view v"): the views that read it (not among
    /// `dropping`) are an error (2BP01), or with CASCADE are dropped first (and theirs in turn).
    pub(super) async fn drop_dependent_views(
        &mut self,
        id: u64,
        what: &str,
        dropping: &[u64],
        cascade: bool,
    ) -> Result<()> {
        let mut order = vec![];
        let mut stack = vec![id];
        let all = crate::search_path::views(&self.engine.db, &self.view.lock());
        while let Some(at) = stack.pop() {
            for v in all.iter().filter(|v| v.depends.contains(&at)) {
                if dropping.contains(&v.id) || order.iter().any(|o: &Arc<ViewDef>| o.id == v.id) {
                    continue;
                }
                if !cascade {
                    let relname = crate::search_path::split(&v.name).1;
                    let (kind, name) = what.split_once(' ').unwrap_or(("", what));
                    return Err(Error::sql(
                        "2BP01",
                        format!("cannot drop {kind} {name} because other objects depend on it"),
                    )
                    .with_detail(format!("view {relname} depends on {what}"))
                    .with_hint("Use DROP ... CASCADE to drop the dependent objects too."));
                }
                order.push(v.clone());
                stack.push(v.id);
            }
        }
        // Dependents of dependents first.
        for v in order.iter().rev() {
            let relname = crate::search_path::split(&v.name).1;
            self.notice("00000", format!("drop cascades to view {relname}"));
            self.with_locks(|t| t.drop_view(&v.name)).await?;
        }
        Ok(())
    }

    /// Qualifies the relations `query` reads outside `public` with their schema, and returns the ids of the
    /// tables and views among them.
    fn qualify_relations(&self, query: &mut ast::Query) -> Result<Vec<u64>> {
        let ctes =
            crate::pg_catalog::names::statement_ctes(&Statement::Query(Box::new(query.clone())));
        let names = self.names();
        let mut depends = vec![];
        let mut failed = None;
        let _ = ast::visit_relations_mut(query, |name: &mut ObjectName| {
            if name.0.len() == 1 && ctes.contains(&last(name)) {
                return ControlFlow::<()>::Continue(());
            }
            let storage = match names.view(name) {
                Some(v) => {
                    depends.push(v.id);
                    Some(v.name.clone())
                }
                None => match names.lookup(name) {
                    Ok(s) => {
                        let r = crate::catalog::resolve(&self.engine.db, &mut self.view.lock(), &s);
                        match r {
                            Ok(Some(r)) => {
                                depends.push(r.id());
                                Some(s)
                            }
                            _ => None,
                        }
                    }
                    Err(e) => {
                        failed = Some(e);
                        return ControlFlow::Break(());
                    }
                },
            };
            if let Some(s) = storage {
                let (schema, relname) = crate::search_path::split(&s);
                if schema != omendb_storage::PUBLIC {
                    *name = ObjectName::from(vec![
                        ast::Ident::with_quote('"', schema),
                        ast::Ident::with_quote('"', relname),
                    ]);
                }
            }
            ControlFlow::Continue(())
        });
        if let Some(e) = failed {
            return Err(e);
        }
        depends.sort_unstable();
        depends.dedup();
        Ok(depends)
    }

    /// Replaces every relation of `stmt` that names a view by the view's query (a derived table under the
    /// view's name, or the alias the statement gives it).
    pub(super) fn expand_views(&self, stmt: &mut Statement) -> Result<()> {
        let views = crate::search_path::views(&self.engine.db, &self.view.lock());
        if views.is_empty() {
            return Ok(());
        }
        let mut expander = Expander {
            names: self.names(),
            ctes: crate::pg_catalog::names::statement_ctes(stmt),
            expanded: 0,
            error: None,
        };
        let _ = stmt.visit(&mut expander);
        match expander.error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// OR REPLACE keeps the view's columns: the same names and types, in order, and maybe new ones after them.
fn replaceable(old: &ViewDef, new: &[ColumnDef]) -> Result<()> {
    if new.len() < old.columns.len() {
        return Err(Error::sql(
            code::INVALID_TABLE_DEFINITION,
            "cannot drop columns from view",
        ));
    }
    for (o, n) in old.columns.iter().zip(new) {
        if o.name != n.name {
            return Err(Error::sql(
                code::INVALID_TABLE_DEFINITION,
                format!(
                    "cannot change name of view column \"{}\" to \"{}\"",
                    o.name, n.name
                ),
            )
            .with_hint(
                "Use ALTER VIEW ... RENAME COLUMN ... to change name of view column instead.",
            ));
        }
        if o.data_type != n.data_type {
            return Err(Error::sql(
                code::INVALID_TABLE_DEFINITION,
                format!(
                    "cannot change data type of view column \"{}\" from {} to {}",
                    o.name,
                    o.data_type.name(),
                    n.data_type.name()
                ),
            ));
        }
    }
    Ok(())
}

struct Expander {
    names: crate::search_path::Names,
    ctes: HashSet<String>,
    expanded: usize,
    error: Option<Error>,
}

impl VisitorMut for Expander {
    type Break = ();

    fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<()> {
        let TableFactor::Table {
            name, alias, args, ..
        } = factor
        else {
            return ControlFlow::Continue(());
        };
        if args.is_some() || (name.0.len() == 1 && self.ctes.contains(&last(name))) {
            return ControlFlow::Continue(());
        }
        let Some(view) = self.names.view(name) else {
            return ControlFlow::Continue(());
        };
        self.expanded += 1;
        if self.expanded > MAX_EXPANSIONS {
            self.error = Some(Error::sql(
                "42P17",
                format!(
                    "infinite recursion detected in rules for relation \"{}\"",
                    last(name)
                ),
            ));
            return ControlFlow::Break(());
        }
        let parsed = Parser::parse_sql(&PostgreSqlDialect {}, &view.query).map(|mut s| {
            crate::precedence::fix_statements(&mut s);
            s.pop()
        });
        let query = match parsed {
            Ok(Some(Statement::Query(q))) => q,
            _ => {
                self.error = Some(Error::sql(
                    code::INTERNAL,
                    format!("the stored query of view \"{}\" does not parse", view.name),
                ));
                return ControlFlow::Break(());
            }
        };
        let relname = crate::search_path::split(&view.name).1;
        let alias = match alias.take() {
            Some(mut a) => {
                // Column aliases of the reference rename the view's columns from the first on.
                let mut columns = a.columns;
                for c in view.columns.iter().skip(columns.len()) {
                    columns.push(TableAliasColumnDef {
                        name: ast::Ident::with_quote('"', &c.name),
                        data_type: None,
                    });
                }
                a.columns = columns;
                a
            }
            None => TableAlias {
                explicit: true,
                name: ast::Ident::with_quote('"', relname),
                columns: view
                    .columns
                    .iter()
                    .map(|c| TableAliasColumnDef {
                        name: ast::Ident::with_quote('"', &c.name),
                        data_type: None,
                    })
                    .collect(),
                at: None,
            },
        };
        *factor = TableFactor::Derived {
            lateral: false,
            subquery: query,
            alias: Some(alias),
            sample: None,
        };
        ControlFlow::Continue(())
    }
}

fn last(name: &ObjectName) -> String {
    match name.0.last() {
        Some(ast::ObjectNamePart::Identifier(i)) => ddl::ident(i),
        _ => String::new(),
    }
}

/// Views following the relations they read (`rename.rs` calls these after a rename or an ALTER TABLE).
impl Session {
    /// ALTER VIEW (or TABLE) v RENAME COLUMN a TO b: the view's output column; the views reading it read
    /// it under its old name, as a renamed table column.
    pub(super) async fn rename_view_column(
        &mut self,
        storage: &str,
        old: &ast::Ident,
        new: &ast::Ident,
    ) -> Result<()> {
        let (from, to) = (ddl::ident(old), ddl::ident(new));
        let relname = split(storage).1.to_string();
        let view = crate::search_path::views(&self.engine.db, &self.view.lock())
            .into_iter()
            .find(|v| v.name == storage)
            .ok_or_else(|| super::alter::undefined_relation(&relname))?;
        let Some(i) = view.columns.iter().position(|c| c.name == from) else {
            return Err(Error::sql(
                "42703",
                format!("column \"{from}\" does not exist"),
            ));
        };
        if view.columns.iter().any(|c| c.name == to) {
            return Err(Error::sql(
                "42701",
                format!("column \"{to}\" of relation \"{relname}\" already exists"),
            ));
        }
        let mut def = (*view).clone();
        def.columns[i].name = to.clone();
        let columns: Vec<String> = def.columns.iter().map(|c| c.name.clone()).collect();
        self.with_locks(|t| t.replace_view(storage, def.clone()))
            .await?;
        for reader in self.views_reading(storage) {
            if let Some(query) = column_renamed_query(&reader.query, storage, &columns, &from, &to)
            {
                self.rewrite_view(&reader, query).await?;
            }
        }
        Ok(())
    }

    /// `view` reading `query` from now on (same name, id and columns).
    pub(super) async fn rewrite_view(&mut self, view: &ViewDef, query: String) -> Result<()> {
        let def = ViewDef {
            query,
            ..view.clone()
        };
        self.with_locks(|t| t.replace_view(&view.name, def.clone()))
            .await
    }

    /// The views whose queries read the relation stored as `storage`.
    pub(super) fn views_reading(&self, storage: &str) -> Vec<Arc<ViewDef>> {
        let views = crate::search_path::views(&self.engine.db, &self.view.lock());
        let id = match views.iter().find(|v| v.name == storage) {
            Some(v) => Some(v.id),
            None => crate::catalog::resolve(&self.engine.db, &mut self.view.lock(), storage)
                .ok()
                .flatten()
                .map(|r| r.id()),
        };
        let Some(id) = id else {
            return vec![];
        };
        views
            .into_iter()
            .filter(|v| v.depends.contains(&id))
            .collect()
    }

    /// After an ALTER TABLE: `view` still plans, to the columns it had. PostgreSQL refuses a dropped
    /// column a view reads (2BP01) and a changed type (0A000) up front. A view whose `*` now reaches an
    /// added column keeps the columns it had, as PostgreSQL's (which expands `*` at CREATE VIEW).
    pub(super) async fn check_view(
        &mut self,
        view: &ViewDef,
        table: &str,
        ops: &[Op],
    ) -> Result<()> {
        let name = split(&view.name).1.to_string();
        let table = split(table).1.to_string();
        let refuse = |why: String| match ops.first() {
            Some(Op::DropColumn { column_names, .. }) => {
                let column = column_names.first().map(ddl::ident).unwrap_or_default();
                Error::sql(
                    "2BP01",
                    format!(
                        "cannot drop column {column} of table {table} because other objects depend on it"
                    ),
                )
                .with_detail(format!("view {name} depends on column {column} of table {table}"))
                .with_hint("Use DROP ... CASCADE to drop the dependent objects too.")
            }
            Some(Op::AlterColumn { column_name, .. }) => Error::sql(
                code::FEATURE_NOT_SUPPORTED,
                "cannot alter type of a column used by a view or rule",
            )
            .with_detail(format!(
                "rule _RETURN on view {name} depends on column \"{}\"",
                ddl::ident(column_name)
            )),
            _ => Error::sql(
                code::FEATURE_NOT_SUPPORTED,
                format!("cannot change table {table}: view {name} {why}"),
            ),
        };
        let Ok(query) = Parser::new(&PostgreSqlDialect {})
            .try_with_sql(&view.query)
            .and_then(|mut p| p.parse_query())
        else {
            return Ok(());
        };
        let planned =
            Box::pin(self.prepare_planned(Statement::Query(query), Kind::Select, &[])).await;
        let schema = match planned {
            Ok(p) => p.result.clone(),
            Err(e) => return Err(refuse(format!("would fail: {e}"))),
        };
        let Some(schema) = schema else {
            return Ok(());
        };
        let kept = schema.fields().len() >= view.columns.len()
            && schema
                .fields()
                .iter()
                .zip(&view.columns)
                .all(|(f, c)| ddl::from_field(f).is_ok_and(|t| t == c.data_type));
        if !kept {
            return Err(refuse("would change its columns".into()));
        }
        if schema.fields().len() > view.columns.len() {
            let quote = crate::pg_catalog::names::quote_ident;
            let list: Vec<String> = schema
                .fields()
                .iter()
                .take(view.columns.len())
                .map(|f| quote(f.name()))
                .collect();
            let query = format!(
                "SELECT {} FROM ({}) AS {}",
                list.join(", "),
                view.query,
                quote(&name)
            );
            self.rewrite_view(view, query).await?;
        }
        Ok(())
    }
}
