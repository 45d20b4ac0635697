//! Renaming and moving relations, and what follows them: `ALTER TABLE | SEQUENCE | VIEW name RENAME TO new`
//! and `... SET SCHEMA s` (`alter_forms.rs` turns the forms the parser lacks into ALTER TABLE ... RENAME
//! TO). PostgreSQL's references are OIDs, so a rename carries everything along; ours are names in text,
//! so what names the relation follows it here: column defaults naming a sequence (`nextval('s')`), the
//! queries of views reading a renamed table or view, a table's own sequences when it changes schema.
//! Any other ALTER TABLE is checked against the views that read the table: one that no longer plans, or
//! plans to other column types, fails the statement (PostgreSQL: 2BP01 for a dropped column, 0A000 for a
//! changed type), instead of leaving a view that cannot be read.

use std::ops::ControlFlow;
use std::sync::Arc;

use datafusion::sql::sqlparser::ast::{
    self, AlterTableOperation as Op, Expr, ObjectName, RenameTableNameKind, Statement, TableAlias,
    TableFactor, Value, VisitMut, VisitorMut,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;
use omendb_storage::{PUBLIC, ViewDef};

use super::Session;
use super::statement::Kind;
use crate::alter_forms::{RELKIND_SEQUENCE, RELKIND_VIEW, SET_SCHEMA};
use crate::ddl;
use crate::error::{Error, Result, code};
use crate::search_path::{split, storage_name};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum RelKind {
    Table,
    Sequence,
    View,
}

/// What a RENAME TO names: a new name in the same schema, or (SET SCHEMA) the same name in another.
pub(super) enum Target {
    Name(String),
    Schema(String),
}

/// The target of `RENAME TO`: one name (a qualified one is PostgreSQL's syntax error), or the marked
/// schema `alter_forms.rs` writes for SET SCHEMA.
pub(super) fn target(kind: &RenameTableNameKind) -> Result<Target> {
    let (RenameTableNameKind::To(name) | RenameTableNameKind::As(name)) = kind;
    target_name(name)
}

fn target_name(name: &ObjectName) -> Result<Target> {
    let parts: Vec<String> = name
        .0
        .iter()
        .map(|p| match p {
            ast::ObjectNamePart::Identifier(i) => Ok(i.value.clone()),
            _ => Err(Error::sql(code::SYNTAX_ERROR, "invalid relation name")),
        })
        .collect::<Result<_>>()?;
    match (parts.as_slice(), name.0.last()) {
        ([marker, _], Some(ast::ObjectNamePart::Identifier(last))) if marker == SET_SCHEMA => {
            Ok(Target::Schema(ddl::ident(last)))
        }
        ([_], Some(ast::ObjectNamePart::Identifier(last))) => Ok(Target::Name(ddl::ident(last))),
        _ => Err(Error::sql(
            code::SYNTAX_ERROR,
            "syntax error at or near \".\"",
        )),
    }
}

/// The relation an ALTER names, without the kind marker of a rewritten ALTER SEQUENCE / VIEW.
fn unmarked(name: &ObjectName) -> (Option<RelKind>, ObjectName) {
    let kind = match name.0.first() {
        Some(ast::ObjectNamePart::Identifier(i)) if i.value == RELKIND_SEQUENCE => {
            RelKind::Sequence
        }
        Some(ast::ObjectNamePart::Identifier(i)) if i.value == RELKIND_VIEW => RelKind::View,
        _ => return (None, name.clone()),
    };
    (Some(kind), ObjectName(name.0[1..].to_vec()))
}

/// How a view's query names the relation stored as `storage` (`views.rs` qualifies all but public's).
fn written_name(storage: &str) -> ObjectName {
    let (schema, relname) = split(storage);
    let rel = ast::Ident::with_quote('"', relname);
    if schema == PUBLIC {
        ObjectName::from(vec![rel])
    } else {
        ObjectName::from(vec![ast::Ident::with_quote('"', schema), rel])
    }
}

/// The storage name a relation of a view's query refers to (bare names are public's, as stored).
fn stored_name(name: &ObjectName) -> Option<String> {
    match crate::search_path::parts(name).ok()? {
        (None, rel) => Some(rel),
        (Some(schema), rel) => Some(storage_name(&schema, &rel)),
    }
}

/// What a view's query reads in place of a relation.
enum Replacement<'a> {
    /// The relation under its new storage name.
    Renamed(&'a str),
    /// A derived table over the relation (its columns under the names the query knows).
    Derived(&'a ast::Query),
}

/// Replaces the relations of a view's query that name `from` (CTE names left alone). One without an
/// alias is given its old name as one, so that the columns it qualifies (`t.a`) still find it.
struct RelationRenamer<'a> {
    ctes: std::collections::HashSet<String>,
    from: &'a str,
    to: Replacement<'a>,
    changed: bool,
}

impl VisitorMut for RelationRenamer<'_> {
    type Break = ();

    // After the factor's own children: a derived table put in its place is not visited again.
    fn post_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<()> {
        let TableFactor::Table {
            name, alias, args, ..
        } = factor
        else {
            return ControlFlow::Continue(());
        };
        let Ok((_, relname)) = crate::search_path::parts(name) else {
            return ControlFlow::Continue(());
        };
        let cte = name.0.len() == 1 && self.ctes.contains(&relname);
        if args.is_some() || cte || stored_name(name).as_deref() != Some(self.from) {
            return ControlFlow::Continue(());
        }
        let alias = alias.take().unwrap_or_else(|| TableAlias {
            explicit: true,
            name: ast::Ident::with_quote('"', relname),
            columns: vec![],
            at: None,
        });
        match self.to {
            Replacement::Renamed(to) => {
                *name = written_name(to);
                let TableFactor::Table { alias: a, .. } = factor else {
                    unreachable!("matched above")
                };
                *a = Some(alias);
            }
            Replacement::Derived(query) => {
                *factor = TableFactor::Derived {
                    lateral: false,
                    subquery: Box::new(query.clone()),
                    alias: Some(alias),
                    sample: None,
                };
            }
        }
        self.changed = true;
        ControlFlow::Continue(())
    }
}

/// `query` with every relation that names `from` naming `to` instead, if any did.
fn renamed_query(query: &str, from: &str, to: &str) -> Option<String> {
    replaced_query(query, from, Replacement::Renamed(to))
}

/// `query` reading, in place of the table `table`, a derived table that gives its column `new` the old
/// name `old` (and every other column its own), if it read the table.
fn column_renamed_query(
    query: &str,
    table: &str,
    columns: &[String],
    old: &str,
    new: &str,
) -> Option<String> {
    let quote = crate::pg_catalog::names::quote_ident;
    let list: Vec<String> = columns
        .iter()
        .map(|c| match c == new {
            true => format!("{} AS {}", quote(c), quote(old)),
            false => quote(c),
        })
        .collect();
    let sql = format!("SELECT {} FROM {}", list.join(", "), written_name(table));
    let derived = Parser::new(&PostgreSqlDialect {})
        .try_with_sql(&sql)
        .and_then(|mut p| p.parse_query())
        .ok()?;
    replaced_query(query, table, Replacement::Derived(&derived))
}

fn replaced_query(query: &str, from: &str, to: Replacement<'_>) -> Option<String> {
    let mut stmt = Statement::Query(
        Parser::new(&PostgreSqlDialect {})
            .try_with_sql(query)
            .and_then(|mut p| p.parse_query())
            .ok()?,
    );
    let mut renamer = RelationRenamer {
        ctes: crate::pg_catalog::names::statement_ctes(&stmt),
        from,
        to,
        changed: false,
    };
    let _ = stmt.visit(&mut renamer);
    let Statement::Query(q) = stmt else {
        return None;
    };
    renamer.changed.then(|| q.to_string())
}

/// Rewrites `nextval('<from>')` (with or without `::regclass`) to name `to`.
struct NextvalRenamer<'a> {
    /// The storage name a text argument resolves to.
    resolve: &'a dyn Fn(&str) -> String,
    from: &'a str,
    to: &'a str,
    changed: bool,
}

impl VisitorMut for NextvalRenamer<'_> {
    type Break = ();

    fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        let Expr::Function(f) = expr else {
            return ControlFlow::Continue(());
        };
        if !f.name.to_string().eq_ignore_ascii_case("nextval") {
            return ControlFlow::Continue(());
        }
        let ast::FunctionArguments::List(list) = &mut f.args else {
            return ControlFlow::Continue(());
        };
        let [ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(arg))] = list.args.as_mut_slice()
        else {
            return ControlFlow::Continue(());
        };
        let arg = match arg {
            Expr::Cast { expr, .. } => expr.as_mut(),
            other => other,
        };
        if let Expr::Value(v) = arg
            && let Value::SingleQuotedString(s) = &mut v.value
            && (self.resolve)(s) == self.from
        {
            let (schema, rel) = split(self.to);
            let written = if schema == PUBLIC {
                crate::pg_catalog::names::quote_ident(rel)
            } else {
                format!(
                    "{}.{}",
                    crate::pg_catalog::names::quote_ident(schema),
                    crate::pg_catalog::names::quote_ident(rel)
                )
            };
            *s = written;
            self.changed = true;
        }
        ControlFlow::Continue(())
    }
}

impl Session {
    /// ALTER TABLE: a rename or move of any relation here, every other action in `alter.rs`, followed by
    /// the check of the views that read the table.
    pub(super) async fn alter_table(&mut self, at: &ast::AlterTable) -> Result<()> {
        match at.operations.as_slice() {
            [Op::RenameTable { table_name }] => return self.rename_relation(at, table_name).await,
            [Op::RenameConstraint { old_name, new_name }] => {
                return self.rename_constraint(at, old_name, new_name).await;
            }
            // Also ALTER TYPE's (`alter_forms.rs`): no relation's definition changes.
            [Op::OwnerTo { .. }] => return self.alter_table_definition(at).await,
            _ => {}
        }
        let (kind, name) = unmarked(&at.name);
        let (storage, dependents) = match self.find_relation(&name)? {
            // PostgreSQL renames a table's column through ALTER VIEW too.
            Some((RelKind::Table, _)) if kind == Some(RelKind::View) => {
                let unmarked = ast::AlterTable {
                    name: name.clone(),
                    ..at.clone()
                };
                return Box::pin(self.alter_table(&unmarked)).await;
            }
            Some((RelKind::Table, storage)) => {
                let views = self.views_reading(&storage);
                (storage, views)
            }
            Some((RelKind::View, storage)) => {
                let [
                    Op::RenameColumn {
                        old_column_name,
                        new_column_name,
                    },
                ] = at.operations.as_slice()
                else {
                    let relname = crate::search_path::parts(&name)?.1;
                    let action = match at.operations.first() {
                        Some(Op::AddColumn { .. }) => "ADD COLUMN",
                        Some(Op::DropColumn { .. }) => "DROP COLUMN",
                        Some(Op::AddConstraint { .. }) => "ADD CONSTRAINT",
                        Some(Op::DropConstraint { .. }) => "DROP CONSTRAINT",
                        _ => {
                            return Err(Error::unsupported(format!(
                                "ALTER VIEW form {}",
                                super::first_words(&at.to_string())
                            )));
                        }
                    };
                    return Err(Error::sql(
                        "42809",
                        format!(
                            "ALTER action {action} cannot be performed on relation \"{relname}\""
                        ),
                    )
                    .with_detail("This operation is not supported for views."));
                };
                return self
                    .rename_view_column(&storage, old_column_name, new_column_name)
                    .await;
            }
            _ => return self.alter_table_definition(at).await,
        };
        self.alter_table_definition(at).await?;
        if dependents.is_empty() {
            return Ok(());
        }
        if let [
            Op::RenameColumn {
                old_column_name,
                new_column_name,
            },
        ] = at.operations.as_slice()
        {
            let columns: Vec<String> =
                crate::catalog::resolve(&self.engine.db, &mut self.view.lock(), &storage)?
                    .map(|r| r.def().columns.iter().map(|c| c.name.clone()).collect())
                    .unwrap_or_default();
            let (old, new) = (ddl::ident(old_column_name), ddl::ident(new_column_name));
            for view in &dependents {
                if let Some(query) =
                    column_renamed_query(&view.query, &storage, &columns, &old, &new)
                {
                    self.rewrite_view(view, query).await?;
                }
            }
        }
        let cascade = at.operations.iter().any(|op| {
            matches!(
                op,
                Op::DropColumn {
                    drop_behavior: Some(ast::DropBehavior::Cascade),
                    ..
                }
            )
        });
        for view in self.views_reading(&storage) {
            let Err(e) = self.check_view(&view, &storage, &at.operations).await else {
                continue;
            };
            if !cascade {
                return Err(e);
            }
            let name = split(&view.name).1;
            self.notice("00000", format!("drop cascades to view {name}"));
            self.drop_views(&[written_name(&view.name)], true, true)
                .await?;
        }
        Ok(())
    }

    /// ALTER TABLE ... RENAME CONSTRAINT: a UNIQUE constraint (and its index), a CHECK or a foreign key.
    async fn rename_constraint(
        &mut self,
        at: &ast::AlterTable,
        old: &ast::Ident,
        new: &ast::Ident,
    ) -> Result<()> {
        let relname = crate::search_path::parts(&at.name)?.1;
        let Some((RelKind::Table, storage)) = self.find_relation(&at.name)? else {
            return self.missing_relation(&relname, at.if_exists);
        };
        let (from, to) = (ddl::ident(old), ddl::ident(new));
        let reader = crate::catalog::resolve(&self.engine.db, &mut self.view.lock(), &storage)?
            .ok_or_else(|| super::alter::undefined_relation(&relname))?;
        let names: Vec<String> = reader
            .indexes()
            .iter()
            .filter_map(|i| i.constraint.clone())
            .chain(reader.checks().iter().map(|c| c.name.clone()))
            .chain(reader.foreign_keys().iter().map(|f| f.name.clone()))
            .collect();
        let learned_key = reader.def().primary_key.is_some() && from == format!("{relname}_pkey");
        if learned_key && !names.contains(&from) {
            return Err(Error::unsupported(
                "renaming the constraint of a primary key that is the table's learned key",
            ));
        }
        if !names.contains(&from) {
            return Err(Error::sql(
                code::UNDEFINED_OBJECT,
                format!("constraint \"{from}\" for table \"{relname}\" does not exist"),
            ));
        }
        if names.contains(&to) {
            return Err(Error::sql(
                "42710",
                format!("constraint \"{to}\" for relation \"{relname}\" already exists"),
            ));
        }
        self.with_locks(|t| t.rename_constraint(&storage, &from, &to))
            .await?;
        Ok(())
    }

    /// ALTER INDEX name RENAME TO new (SET SCHEMA is not taken: an index lives in its table's schema).
    pub(super) async fn alter_index(
        &mut self,
        name: &ObjectName,
        op: &ast::AlterIndexOperation,
    ) -> Result<()> {
        let ast::AlterIndexOperation::RenameIndex { index_name } = op;
        let Target::Name(new) = target_name(index_name)? else {
            return Err(Error::unsupported("ALTER INDEX ... SET SCHEMA"));
        };
        let (relname, candidates) = self.candidates(name)?;
        if let (Some(_), _) = crate::search_path::parts(name)? {
            self.names().lookup(name)?;
        }
        let found = {
            let v = self.view.lock();
            let txn = v.txn.as_ref().expect("DDL runs in a transaction");
            candidates.into_iter().find(|c| txn.index(c).is_some())
        };
        let Some(storage) = found else {
            let table = relname.strip_suffix("_pkey").unwrap_or_default();
            let keyed = self
                .find_relation(&ObjectName::from(vec![ast::Ident::new(table)]))?
                .is_some_and(|(k, _)| k == RelKind::Table);
            if keyed {
                return Err(Error::unsupported(
                    "renaming the index of a primary key that is the table's learned key",
                ));
            }
            return Err(super::alter::undefined_relation(&relname));
        };
        let to = storage_name(split(&storage).0, &new);
        if self
            .find_relation(&ObjectName::from(vec![
                ast::Ident::new(split(&storage).0),
                ast::Ident::new(&new),
            ]))?
            .is_some()
        {
            return Err(Error::sql(
                code::DUPLICATE_TABLE,
                format!("relation \"{new}\" already exists"),
            ));
        }
        self.with_locks(|t| t.rename_index(&storage, &to)).await
    }

    /// ALTER VIEW (or TABLE) v RENAME COLUMN a TO b: the view's output column; the views reading it read
    /// it under its old name, as a renamed table column.
    async fn rename_view_column(
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
    async fn rewrite_view(&mut self, view: &ViewDef, query: String) -> Result<()> {
        let def = ViewDef {
            query,
            ..view.clone()
        };
        self.with_locks(|t| t.replace_view(&view.name, def.clone()))
            .await
    }

    /// The relation `name` resolves to (through the search path: the first schema holding any relation of
    /// that name), with its kind and storage name.
    fn find_relation(&self, name: &ObjectName) -> Result<Option<(RelKind, String)>> {
        if let (Some(_), _) = crate::search_path::parts(name)? {
            self.names().lookup(name)?;
        }
        let (_, candidates) = self.candidates(name)?;
        let views = crate::search_path::views(&self.engine.db, &self.view.lock());
        for c in candidates {
            if crate::catalog::resolve(&self.engine.db, &mut self.view.lock(), &c)?.is_some() {
                return Ok(Some((RelKind::Table, c)));
            }
            let sequence = {
                let v = self.view.lock();
                v.txn.as_ref().and_then(|t| t.sequence(&c)).is_some()
            };
            if sequence {
                return Ok(Some((RelKind::Sequence, c)));
            }
            if views.iter().any(|v| v.name == c) {
                return Ok(Some((RelKind::View, c)));
            }
        }
        Ok(None)
    }

    /// The views whose queries read the relation stored as `storage`.
    fn views_reading(&self, storage: &str) -> Vec<Arc<ViewDef>> {
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

    async fn rename_relation(
        &mut self,
        at: &ast::AlterTable,
        to: &RenameTableNameKind,
    ) -> Result<()> {
        let (kind, name) = unmarked(&at.name);
        let target = target(to)?;
        let relname = crate::search_path::parts(&name)?.1;
        let Some((found, storage)) = self.find_relation(&name)? else {
            return self.missing_relation(&relname, at.if_exists);
        };
        match kind {
            Some(RelKind::Sequence) if found != RelKind::Sequence => {
                return Err(Error::sql(
                    "42809",
                    format!("\"{relname}\" is not a sequence"),
                ));
            }
            Some(RelKind::View) if found != RelKind::View => {
                return Err(Error::sql("42809", format!("\"{relname}\" is not a view")));
            }
            _ => {}
        }
        let (schema, rel) = split(&storage);
        let new = match &target {
            Target::Name(n) => storage_name(schema, n),
            Target::Schema(s) => {
                self.names().lookup(&ObjectName::from(vec![
                    ast::Ident::new(s),
                    ast::Ident::new(rel),
                ]))?;
                storage_name(s, rel)
            }
        };
        if new == storage {
            return match target {
                // PostgreSQL: moving into the schema a relation is in changes nothing.
                Target::Schema(_) => Ok(()),
                Target::Name(n) => Err(Error::sql(
                    code::DUPLICATE_TABLE,
                    format!("relation \"{n}\" already exists"),
                )),
            };
        }
        let readers = self.views_reading(&storage);
        match found {
            RelKind::Sequence => self.rename_sequence(&storage, &new).await?,
            RelKind::View => {
                let def = crate::search_path::views(&self.engine.db, &self.view.lock())
                    .into_iter()
                    .find(|v| v.name == storage)
                    .ok_or_else(|| super::alter::undefined_relation(&relname))?;
                let moved = ViewDef {
                    name: new.clone(),
                    ..(*def).clone()
                };
                self.with_locks(|t| t.replace_view(&storage, moved.clone()))
                    .await?;
            }
            RelKind::Table => {
                let owned = self.owned_sequences(&storage);
                let indexes: Vec<String> =
                    crate::catalog::resolve(&self.engine.db, &mut self.view.lock(), &storage)?
                        .map(|r| r.indexes().iter().map(|i| i.name.clone()).collect())
                        .unwrap_or_default();
                self.alter_table_definition(at).await?;
                // Its indexes and its own sequences go with it, as in PostgreSQL.
                if let Target::Schema(s) = &target {
                    for seq in owned {
                        let moved = storage_name(s, split(&seq).1);
                        self.rename_sequence(&seq, &moved).await?;
                    }
                    for index in indexes {
                        let moved = storage_name(s, split(&index).1);
                        self.with_locks(|t| t.rename_index(&index, &moved)).await?;
                    }
                }
            }
        }
        for view in readers {
            if let Some(query) = renamed_query(&view.query, &storage, &new) {
                self.rewrite_view(&view, query).await?;
            }
        }
        Ok(())
    }

    /// The storage names of the sequences a table owns (SERIAL and identity columns, OWNED BY).
    fn owned_sequences(&self, table: &str) -> Vec<String> {
        let Ok(Some(reader)) =
            crate::catalog::resolve(&self.engine.db, &mut self.view.lock(), table)
        else {
            return vec![];
        };
        let v = self.view.lock();
        let txn = v.txn.as_ref().expect("DDL runs in a transaction");
        txn.sequences()
            .iter()
            .filter(|s| matches!(&s.owned_by, Some((t, _)) if *t == reader.id()))
            .map(|s| s.name.clone())
            .collect()
    }

    /// Renames the sequence `from` to `to` and every column default that draws from it.
    async fn rename_sequence(&mut self, from: &str, to: &str) -> Result<()> {
        self.with_locks(|t| t.rename_sequence(from, to)).await?;
        let tables: Vec<(String, omendb_storage::TableDef)> = {
            let mut v = self.view.lock();
            let names: Vec<String> = v.txn.as_ref().map(|t| t.table_names()).unwrap_or_default();
            names
                .into_iter()
                .filter_map(|n| {
                    let r = crate::catalog::resolve(&self.engine.db, &mut v, &n).ok()??;
                    Some((n, r.def().clone()))
                })
                .collect()
        };
        let changes = self.defaults_drawing_from(tables, from, to);
        for (table, column, expr) in changes {
            let sql = format!(
                "ALTER TABLE {} ALTER COLUMN {} SET DEFAULT {expr}",
                written_name(&table),
                crate::pg_catalog::names::quote_ident(&column)
            );
            let Some(Statement::AlterTable(at)) = Parser::parse_sql(&PostgreSqlDialect {}, &sql)
                .ok()
                .and_then(|mut s| s.pop())
            else {
                return Err(Error::sql(
                    code::INTERNAL,
                    format!("could not rewrite the default of {table}.{column}"),
                ));
            };
            Box::pin(self.alter_table_definition(&at)).await?;
        }
        Ok(())
    }

    /// The column defaults of `tables` that draw from the sequence `from`, as they read when they name
    /// `to` instead: (table, column, new default).
    fn defaults_drawing_from(
        &self,
        tables: Vec<(String, omendb_storage::TableDef)>,
        from: &str,
        to: &str,
    ) -> Vec<(String, String, Expr)> {
        let names = self.names();
        let resolve = |text: &str| -> String {
            let Ok(mut p) = Parser::new(&PostgreSqlDialect {}).try_with_sql(text) else {
                return text.to_string();
            };
            let Ok(name) = p.parse_object_name(false) else {
                return text.to_string();
            };
            match crate::search_path::parts(&name) {
                Ok((Some(s), rel)) => storage_name(&s, &rel),
                Ok((None, rel)) => names
                    .path()
                    .iter()
                    .map(|s| storage_name(s, &rel))
                    .find(|c| c == from || c == to)
                    .unwrap_or(rel),
                Err(_) => text.to_string(),
            }
        };
        let mut out = vec![];
        for (table, def) in tables {
            for c in &def.columns {
                let Some(default) = &c.default else {
                    continue;
                };
                let Ok(mut expr) = ddl::parse_expr(default) else {
                    continue;
                };
                let mut renamer = NextvalRenamer {
                    resolve: &resolve,
                    from,
                    to,
                    changed: false,
                };
                let _ = expr.visit(&mut renamer);
                if renamer.changed {
                    out.push((table.clone(), c.name.clone(), expr));
                }
            }
        }
        out
    }

    /// After an ALTER TABLE: `view` still plans, to the columns it had. PostgreSQL refuses a dropped
    /// column a view reads (2BP01) and a changed type (0A000) up front. A view whose `*` now reaches an
    /// added column keeps the columns it had, as PostgreSQL's (which expands `*` at CREATE VIEW).
    async fn check_view(&mut self, view: &ViewDef, table: &str, ops: &[Op]) -> Result<()> {
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

#[cfg(test)]
mod tests {
    use super::renamed_query;

    #[test]
    fn a_view_query_follows_a_renamed_relation_but_not_a_cte_of_its_name() {
        assert_eq!(
            renamed_query("SELECT t.a FROM t JOIN u ON t.a = u.a", "t", "s.t2").as_deref(),
            Some("SELECT t.a FROM \"s\".\"t2\" AS \"t\" JOIN u ON t.a = u.a")
        );
        assert_eq!(
            renamed_query("SELECT * FROM \"s\".\"v\" AS x", "s.v", "w").as_deref(),
            Some("SELECT * FROM \"w\" AS x")
        );
        assert_eq!(
            renamed_query("WITH t AS (SELECT 1) SELECT * FROM t", "t", "t2"),
            None
        );
        assert_eq!(renamed_query("SELECT * FROM other", "t", "t2"), None);
    }
}
