//! Renaming and moving relations, and what follows them: `ALTER TABLE | SEQUENCE | VIEW name RENAME TO new`
//! and `... SET SCHEMA s` (`alter_forms.rs` turns the forms the parser lacks into ALTER TABLE ... RENAME
//! TO). PostgreSQL's references are OIDs, so a rename carries everything along; ours are names in text,
//! so what names the relation follows it here: column defaults naming a sequence (`nextval('s')`), the
//! queries of views reading a renamed table or view, a table's own sequences when it changes schema.
//! Any other ALTER TABLE is checked against the views that read the table (`views.rs`): one that no longer plans, or
//! plans to other column types, fails the statement (PostgreSQL: 2BP01 for a dropped column, 0A000 for a
//! changed type), instead of leaving a view that cannot be read.

use datafusion::sql::sqlparser::ast::{
    self, AlterTableOperation as Op, Expr, ObjectName, RenameTableNameKind, Statement, VisitMut,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;
use omendb_storage::ViewDef;

use super::Session;
use crate::alter_forms::{RELKIND_SEQUENCE, RELKIND_VIEW, SET_SCHEMA};
use crate::ddl;
use crate::error::{Error, Result, code};
use crate::relation_refs::{NextvalRenamer, column_renamed_query, renamed_query, written_name};
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
}
