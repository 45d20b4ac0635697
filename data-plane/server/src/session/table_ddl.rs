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
            let name = self.names().lookup(&target.name)?;
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
        if let Statement::Vacuum(v) = stmt
            && let Some(out) = self.maintenance(v).await?
        {
            return Ok(out);
        }
        let command = match stmt {
            Statement::CreateTable(_) => "CREATE TABLE",
            Statement::CreateSchema { .. } => "CREATE SCHEMA",
            Statement::CreateSequence { name, .. } if altered_sequence(name).is_some() => {
                "ALTER SEQUENCE"
            }
            Statement::CreateSequence { .. } => "CREATE SEQUENCE",
            Statement::AlterSchema(_) => "ALTER SCHEMA",
            Statement::Drop {
                object_type: ast::ObjectType::Sequence,
                ..
            } => "DROP SEQUENCE",
            Statement::Comment { .. } => "COMMENT",
            Statement::Drop {
                object_type: ast::ObjectType::Schema,
                ..
            } => "DROP SCHEMA",
            Statement::Drop {
                object_type: ast::ObjectType::Index,
                ..
            } => "DROP INDEX",
            Statement::Drop {
                object_type: ast::ObjectType::View,
                ..
            } => "DROP VIEW",
            Statement::Drop {
                object_type: ast::ObjectType::Type,
                ..
            } => "DROP TYPE",
            Statement::Drop { .. } => "DROP TABLE",
            Statement::CreateType { .. } => "CREATE TYPE",
            Statement::AlterType(_) => "ALTER TYPE",
            Statement::Truncate(_) => "TRUNCATE TABLE",
            Statement::AlterTable(at) => match at.name.0.first().and_then(|p| p.as_ident()) {
                Some(i) if i.value == crate::alter_forms::RELKIND_SEQUENCE => "ALTER SEQUENCE",
                Some(i) if i.value == crate::alter_forms::RELKIND_VIEW => "ALTER VIEW",
                _ => "ALTER TABLE",
            },
            Statement::CreateIndex(_) => "CREATE INDEX",
            Statement::AlterIndex { .. } => "ALTER INDEX",
            Statement::CreateView(_) => "CREATE VIEW",
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
            && !matches!(
                object_type,
                ast::ObjectType::Table
                    | ast::ObjectType::Schema
                    | ast::ObjectType::Sequence
                    | ast::ObjectType::Index
                    | ast::ObjectType::View
                    | ast::ObjectType::Type
            )
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
        let concurrently = match stmt {
            Statement::CreateIndex(ci) => ci.concurrently,
            Statement::Drop {
                object_type: ast::ObjectType::Index,
                names,
                cascade,
                ..
            } if names.first().is_some_and(concurrently_marker) => {
                if names.len() > 2 {
                    return Err(Error::sql(
                        code::FEATURE_NOT_SUPPORTED,
                        "DROP INDEX CONCURRENTLY does not support dropping multiple objects",
                    ));
                }
                if *cascade {
                    return Err(Error::sql(
                        code::FEATURE_NOT_SUPPORTED,
                        "DROP INDEX CONCURRENTLY does not support CASCADE",
                    ));
                }
                true
            }
            _ => false,
        };
        if concurrently && !autocommit {
            return Err(Error::sql(
                "25001",
                format!("{command} CONCURRENTLY cannot run inside a transaction block"),
            ));
        }
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
        self.finish_statement(r, autocommit).await
    }

    async fn ddl_in_txn(&mut self, stmt: &Statement) -> Result<()> {
        let resolved;
        let stmt = if matches!(stmt, Statement::CreateTable(_) | Statement::AlterTable(_)) {
            let mut s = stmt.clone();
            self.resolve_enum_types(&mut s)?;
            resolved = s;
            &resolved
        } else {
            stmt
        };
        match stmt {
            Statement::CreateTable(ct) => {
                let def = ddl::table_def(ct, self.names().create(&ct.name)?)?;
                let owned = ddl::owned_sequences(ct, &def.name)?;
                let primary = ddl::primary_key_index(ct, &def)?;
                let unique = ddl::unique_constraints(ct, &def)?;
                match self.with_locks(|t| t.create_table(def.clone())).await {
                    Ok(()) => {
                        {
                            let mut v = self.view.lock();
                            let txn = v.txn.as_mut().expect("DDL runs in a transaction");
                            let id = txn.table(&def.name)?.id();
                            for mut s in owned {
                                if let Some((_, c)) = s.owned_by.take() {
                                    s.owned_by = Some((id, c));
                                }
                                txn.create_sequence(s)?;
                            }
                        }
                        if let Some((name, columns)) = primary {
                            self.add_unique(&def.name, &def, columns, name, true)
                                .await?;
                        }
                        for (name, columns) in unique {
                            self.add_unique(&def.name, &def, columns, name, false)
                                .await?;
                        }
                        self.create_checks(ct, &def).await?;
                        for (column, fk) in ddl::foreign_keys(ct) {
                            self.add_foreign_key(&def.name, &def, &fk, column.as_deref())
                                .await?;
                        }
                        Ok(())
                    }
                    r => self.skip_existing(r, ct.if_not_exists),
                }
            }
            Statement::CreateSchema {
                schema_name,
                if_not_exists,
                ..
            } => self.create_schema(schema_name, *if_not_exists).await,
            Statement::AlterSchema(a) => self.alter_schema(a),
            Statement::CreateSequence {
                temporary,
                if_not_exists,
                name,
                data_type,
                sequence_options,
                owned_by,
            } => {
                if let Some((flags, name)) = altered_sequence(name) {
                    return self
                        .alter_sequence(
                            &flags,
                            &name,
                            data_type.as_ref(),
                            sequence_options,
                            owned_by.as_ref(),
                        )
                        .await;
                }
                if *temporary {
                    return Err(Error::unsupported("CREATE TEMPORARY SEQUENCE"));
                }
                let storage = self.names().create(name)?;
                let ty = crate::sequences::sequence_type(data_type.as_ref())?;
                let mut def = crate::sequences::definition(storage.clone(), ty, sequence_options)?;
                if let Some(o) = owned_by {
                    def.owned_by = self.owner_column(o)?;
                }
                let r = self
                    .with_locks(|t| t.create_sequence(def.clone()).map(drop))
                    .await;
                self.skip_existing(r, *if_not_exists)
            }
            Statement::Drop {
                object_type: ast::ObjectType::Sequence,
                if_exists,
                names,
                ..
            } => {
                for n in names {
                    let (relname, candidates) = self.candidates(n)?;
                    let found = {
                        let v = self.view.lock();
                        let txn = v.txn.as_ref().expect("DDL runs in a transaction");
                        candidates.into_iter().find(|c| txn.sequence(c).is_some())
                    };
                    match found {
                        Some(name) => self.with_locks(|t| t.drop_sequence(&name)).await?,
                        None if *if_exists => self.notice(
                            "00000",
                            format!("sequence \"{relname}\" does not exist, skipping"),
                        ),
                        None => {
                            return Err(Error::sql(
                                code::UNDEFINED_TABLE,
                                format!("sequence \"{relname}\" does not exist"),
                            ));
                        }
                    }
                }
                Ok(())
            }
            Statement::Comment {
                object_type,
                object_name,
                comment,
                ..
            } => {
                self.comment_on(object_type, object_name, comment.as_deref())
                    .await
            }
            Statement::Drop {
                object_type: ast::ObjectType::Schema,
                if_exists,
                names,
                cascade,
                ..
            } => {
                for n in names {
                    self.drop_schema(n, *if_exists, *cascade).await?;
                }
                Ok(())
            }
            Statement::Drop {
                object_type: ast::ObjectType::Index,
                if_exists,
                names,
                ..
            } => {
                let names: Vec<ast::ObjectName> = names
                    .iter()
                    .filter(|n| !concurrently_marker(n))
                    .cloned()
                    .collect();
                self.drop_indexes(&names, *if_exists).await
            }
            Statement::Drop {
                object_type: ast::ObjectType::View,
                if_exists,
                names,
                cascade,
                ..
            } => self.drop_views(names, *if_exists, *cascade).await,
            Statement::CreateView(cv) => self.create_view(cv).await,
            Statement::CreateType {
                name,
                representation,
            } => self.create_type(name, representation.as_ref()).await,
            Statement::AlterType(at) => self.alter_type(at).await,
            Statement::Drop {
                object_type: ast::ObjectType::Type,
                if_exists,
                names,
                cascade,
                ..
            } => self.drop_types(names, *if_exists, *cascade).await,
            Statement::Drop {
                if_exists,
                names,
                cascade,
                ..
            } => {
                let dropping: Vec<String> = names
                    .iter()
                    .filter_map(|n| self.names().lookup(n).ok())
                    .collect();
                for n in names {
                    if self.names().view(n).is_some() {
                        let relname = crate::search_path::parts(n)?.1;
                        return Err(Error::sql("42809", format!("\"{relname}\" is not a table"))
                            .with_hint("Use DROP VIEW to remove a view."));
                    }
                    let name = match self.names().lookup(n) {
                        Err(e) if *if_exists && e.sqlstate() == "3F000" => {
                            self.notice("00000", format!("{}, skipping", e.message()));
                            continue;
                        }
                        r => r?,
                    };
                    // The sequences of its SERIAL and identity columns go with it.
                    let owned: Vec<String> = {
                        let mut v = self.view.lock();
                        let txn = v.txn.as_mut().expect("DDL runs in a transaction");
                        match txn.table(&name) {
                            Ok(r) => txn
                                .sequences()
                                .iter()
                                .filter(|s| s.owned_by.as_ref().is_some_and(|(t, _)| *t == r.id()))
                                .map(|s| s.name.clone())
                                .collect(),
                            Err(_) => vec![],
                        }
                    };
                    for s in &owned {
                        self.with_locks(|t| t.drop_sequence(s)).await?;
                    }
                    self.drop_dependent_foreign_keys(&name, &dropping, *cascade)
                        .await?;
                    let id = {
                        let mut v = self.view.lock();
                        let txn = v.txn.as_mut().expect("DDL runs in a transaction");
                        txn.table(&name).ok().map(|r| r.id())
                    };
                    if let Some(id) = id {
                        let what = format!("table {}", crate::search_path::split(&name).1);
                        self.drop_dependent_views(id, &what, &[], *cascade).await?;
                    }
                    match self.with_locks(|t| t.drop_table(&name)).await {
                        Err(Error::Storage(omendb_storage::Error::UnknownTable(_)))
                            if *if_exists =>
                        {
                            let relname = crate::search_path::split(&name).1;
                            self.notice(
                                "00000",
                                format!("table \"{relname}\" does not exist, skipping"),
                            );
                        }
                        r => r?,
                    }
                }
                Ok(())
            }
            Statement::Truncate(t) => {
                let mut names = vec![];
                for target in &t.table_names {
                    names.push(self.names().lookup(&target.name)?);
                }
                let cascade = matches!(t.cascade, Some(ast::CascadeOption::Cascade));
                let mut i = 0;
                while i < names.len() {
                    let name = names[i].clone();
                    i += 1;
                    let id = {
                        let mut v = self.view.lock();
                        let txn = v.txn.as_mut().expect("DDL runs in a transaction");
                        txn.table(&name).map(|r| r.id()).ok()
                    };
                    for (child, _) in id.map(|id| self.referencing(id)).unwrap_or_default() {
                        if names.contains(&child) {
                            continue;
                        }
                        let (c, p) = (
                            crate::search_path::split(&child).1.to_string(),
                            crate::search_path::split(&name).1.to_string(),
                        );
                        if !cascade {
                            return Err(Error::sql(
                                code::FEATURE_NOT_SUPPORTED,
                                "cannot truncate a table referenced in a foreign key constraint",
                            )
                            .with_detail(format!("Table \"{c}\" references \"{p}\"."))
                            .with_hint(format!(
                                "Truncate table \"{c}\" at the same time, or use TRUNCATE ... CASCADE."
                            )));
                        }
                        self.notice("00000", format!("truncate cascades to table \"{c}\""));
                        names.push(child);
                    }
                }
                for name in &names {
                    self.with_locks(|t| t.truncate_table(name)).await?;
                }
                if matches!(t.identity, Some(ast::TruncateIdentityOption::Restart)) {
                    self.restart_owned_sequences(&names)?;
                }
                Ok(())
            }
            Statement::AlterTable(at) => self.alter_table(at).await,
            Statement::AlterIndex { name, operation } => self.alter_index(name, operation).await,
            Statement::CreateIndex(ci) => self.create_index(ci).await,
            _ => Err(Error::sql(code::INTERNAL, "not DDL")),
        }
    }

    /// Before dropping table `name`: the foreign keys of other tables (not among `dropping`) that reference
    /// it are an error (2BP01), or with CASCADE are dropped with a notice.
    async fn drop_dependent_foreign_keys(
        &mut self,
        name: &str,
        dropping: &[String],
        cascade: bool,
    ) -> Result<()> {
        let id = {
            let mut v = self.view.lock();
            let txn = v.txn.as_mut().expect("DDL runs in a transaction");
            match txn.table(name) {
                Ok(r) => r.id(),
                Err(_) => return Ok(()),
            }
        };
        let relname = crate::search_path::split(name).1.to_string();
        for (child, fk) in self.referencing(id) {
            if dropping.contains(&child) {
                continue;
            }
            let child_rel = crate::search_path::split(&child).1.to_string();
            if !cascade {
                return Err(Error::sql(
                    "2BP01",
                    format!("cannot drop table {relname} because other objects depend on it"),
                )
                .with_detail(format!(
                    "constraint {} on table {child_rel} depends on table {relname}",
                    fk.name
                ))
                .with_hint("Use DROP ... CASCADE to drop the dependent objects too."));
            }
            self.notice(
                "00000",
                format!(
                    "drop cascades to constraint {} on table {child_rel}",
                    fk.name
                ),
            );
            self.with_locks(|t| t.drop_foreign_key(&child, &fk.name))
                .await?;
        }
        Ok(())
    }

    /// TRUNCATE ... RESTART IDENTITY: the sequences the tables' columns own start over. At once, not at
    /// COMMIT (PostgreSQL undoes it with a ROLLBACK; here, as `setval`, it stays), so that rows the same
    /// transaction inserts next get the restarted values.
    fn restart_owned_sequences(&mut self, tables: &[String]) -> Result<()> {
        let owned: Vec<std::sync::Arc<omendb_storage::SequenceDef>> = {
            let mut v = self.view.lock();
            let txn = v.txn.as_mut().expect("DDL runs in a transaction");
            let ids: Vec<u64> = tables
                .iter()
                .filter_map(|n| txn.table(n).ok().map(|r| r.id()))
                .collect();
            txn.sequences()
                .into_iter()
                .filter(|s| s.owned_by.as_ref().is_some_and(|(t, _)| ids.contains(t)))
                .collect()
        };
        for s in owned {
            self.engine.db.setval(&s, s.start, false)?;
        }
        Ok(())
    }

    /// `IF NOT EXISTS`: a relation of that name already there is PostgreSQL's notice, not an error.
    fn skip_existing(&mut self, r: Result<()>, if_not_exists: bool) -> Result<()> {
        match r {
            Err(Error::Storage(omendb_storage::Error::TableExists(name))) if if_not_exists => {
                let relname = crate::search_path::split(&name).1;
                self.notice(
                    "42P07",
                    format!("relation \"{relname}\" already exists, skipping"),
                );
                Ok(())
            }
            r => r,
        }
    }

    /// COMMENT ON TABLE | COLUMN | SCHEMA name IS 'text' | NULL ('' removes it too, as in PostgreSQL).
    async fn comment_on(
        &mut self,
        kind: &ast::CommentObject,
        name: &ast::ObjectName,
        text: Option<&str>,
    ) -> Result<()> {
        let text = text.filter(|t| !t.is_empty()).map(str::to_string);
        let table = |s: &Self, name: &ast::ObjectName| -> Result<omendb_storage::TableReader> {
            let storage = s.names().lookup(name)?;
            crate::catalog::resolve(&s.engine.db, &mut s.view.lock(), &storage)?
                .ok_or_else(|| omendb_storage::Error::UnknownTable(storage).into())
        };
        let key = match kind {
            ast::CommentObject::Table => (table(self, name)?.id(), 0),
            ast::CommentObject::Column => {
                let mut parts = name.0.clone();
                let column = match parts.pop() {
                    Some(ast::ObjectNamePart::Identifier(i)) if !parts.is_empty() => ddl::ident(&i),
                    _ => {
                        return Err(Error::sql(
                            code::SYNTAX_ERROR,
                            "column name must be qualified",
                        ));
                    }
                };
                let reader = table(self, &ast::ObjectName(parts))?;
                let def = reader.def();
                let at = ddl::column_at(def, &column)?;
                (reader.id(), at as u32 + 1)
            }
            ast::CommentObject::Schema => {
                let schema = schema_ident(name)?;
                if schema == omendb_storage::PUBLIC {
                    return Err(Error::unsupported("COMMENT ON SCHEMA public"));
                }
                let id = crate::search_path::schemas(&self.engine.db, &self.view.lock())
                    .into_iter()
                    .find(|(n, _)| *n == schema)
                    .map(|(_, id)| id)
                    .ok_or(omendb_storage::Error::UnknownSchema(schema))?;
                (id, 0)
            }
            ast::CommentObject::View | ast::CommentObject::MaterializedView => {
                let view = self
                    .names()
                    .view(name)
                    .ok_or_else(|| undefined_relation(name))?;
                (view.id, 0)
            }
            ast::CommentObject::Sequence => {
                let (_, candidates) = self.candidates(name)?;
                let v = self.view.lock();
                let txn = v.txn.as_ref().expect("DDL runs in a transaction");
                let def = candidates.iter().find_map(|c| txn.sequence(c));
                (def.ok_or_else(|| undefined_relation(name))?.id, 0)
            }
            ast::CommentObject::Type => {
                let def = self.enum_type(name).ok_or_else(|| {
                    Error::sql(
                        code::UNDEFINED_OBJECT,
                        format!("type \"{name}\" does not exist"),
                    )
                })?;
                (def.id, 0)
            }
            ast::CommentObject::Index => {
                let (_, candidates) = self.candidates(name)?;
                let v = self.view.lock();
                let txn = v.txn.as_ref().expect("DDL runs in a transaction");
                let index = txn.indexes().into_iter().find_map(|(table, i)| {
                    let (schema, _) = crate::search_path::split(&table);
                    candidates
                        .contains(&crate::search_path::storage_name(schema, &i.name))
                        .then_some(i.id)
                });
                (index.ok_or_else(|| undefined_relation(name))?, 0)
            }
            other => return Err(Error::unsupported(format!("COMMENT ON {other}"))),
        };
        self.with_locks(|t| t.comment(key, text.clone())).await
    }

    /// CREATE SCHEMA [IF NOT EXISTS] name [AUTHORIZATION role] | AUTHORIZATION role.
    async fn create_schema(&mut self, name: &ast::SchemaName, if_not_exists: bool) -> Result<()> {
        let (name, owner) = match name {
            ast::SchemaName::Simple(n) => (schema_ident(n)?, None),
            ast::SchemaName::UnnamedAuthorization(role) => (ddl::ident(role), Some(role)),
            ast::SchemaName::NamedAuthorization(n, role) => (schema_ident(n)?, Some(role)),
        };
        if let Some(role) = owner {
            // The parser reads `AUTHORIZATION CURRENT_USER` as a name.
            let me = ["current_user", "session_user", "current_role"]
                .contains(&ddl::ident(role).to_lowercase().as_str());
            if !me {
                self.check_role(&ast::Owner::Ident(role.clone()))?;
            }
        }
        if name.starts_with("pg_") {
            return Err(Error::sql(
                "42939",
                format!("unacceptable schema name \"{name}\""),
            ));
        }
        if name.contains('.') {
            return Err(crate::search_path::dotted(&name));
        }
        match self.with_locks(|t| t.create_schema(&name)).await {
            Err(Error::Storage(omendb_storage::Error::SchemaExists(_))) if if_not_exists => {
                self.notice(
                    "42P06",
                    format!("schema \"{name}\" already exists, skipping"),
                );
                Ok(())
            }
            r => r,
        }
    }

    /// DROP SCHEMA [IF EXISTS] name [CASCADE | RESTRICT]: CASCADE drops everything in it first (views,
    /// tables with their sequences, sequences, types), in the same transaction.
    async fn drop_schema(
        &mut self,
        name: &ast::ObjectName,
        if_exists: bool,
        cascade: bool,
    ) -> Result<()> {
        let name = schema_ident(name)?;
        if name == omendb_storage::PUBLIC {
            return Err(Error::unsupported("DROP SCHEMA public"));
        }
        if !self.schema_exists(&name) {
            if if_exists {
                self.notice(
                    "00000",
                    format!("schema \"{name}\" does not exist, skipping"),
                );
                return Ok(());
            }
            return Err(omendb_storage::Error::UnknownSchema(name).into());
        }
        let tables: Vec<String> = crate::catalog::table_names(&self.engine.db, &self.view.lock())
            .into_iter()
            .filter(|t| omendb_storage::schema_of(t) == Some(name.as_str()))
            .collect();
        let inside = |n: &String| omendb_storage::schema_of(n) == Some(name.as_str());
        let (views, sequences, types) = {
            let mut v = self.view.lock();
            let txn = v.txn.as_mut().expect("DDL runs in a transaction");
            let views: Vec<String> = txn
                .views()
                .into_iter()
                .map(|d| d.name.clone())
                .filter(inside)
                .collect();
            // A SERIAL column's sequence goes with its table.
            let owned: Vec<u64> = tables
                .iter()
                .filter_map(|t| txn.table(t).ok().map(|r| r.id()))
                .collect();
            let sequences: Vec<String> = txn
                .sequences()
                .into_iter()
                .filter(|s| !s.owned_by.as_ref().is_some_and(|(t, _)| owned.contains(t)))
                .map(|s| s.name.clone())
                .filter(inside)
                .collect();
            let types: Vec<String> = txn
                .types()
                .into_iter()
                .map(|d| d.name.clone())
                .filter(inside)
                .collect();
            (views, sequences, types)
        };
        // What PostgreSQL names in its notice (or its refusal), in the order it drops them.
        let objects: Vec<String> = sequences
            .iter()
            .map(|n| format!("sequence {n}"))
            .chain(types.iter().map(|n| format!("type {n}")))
            .chain(tables.iter().map(|n| format!("table {n}")))
            .chain(views.iter().map(|n| format!("view {n}")))
            .collect();
        if !objects.is_empty() && !cascade {
            return Err(Error::sql(
                "2BP01",
                format!("cannot drop schema {name} because other objects depend on it"),
            )
            .with_detail(
                objects
                    .iter()
                    .map(|o| format!("{o} depends on schema {name}"))
                    .collect::<Vec<_>>()
                    .join("\n"),
            )
            .with_hint("Use DROP ... CASCADE to drop the dependent objects too."));
        }
        match objects.as_slice() {
            [] => {}
            [one] => self.notice("00000", format!("drop cascades to {one}")),
            many => self.notice(
                "00000",
                format!(
                    "drop cascades to {} other objects: {}",
                    many.len(),
                    many.join(", ")
                ),
            ),
        }
        // Each through its own DROP ... CASCADE, so that what depends on it elsewhere (a view, a foreign
        // key, a column of the schema's type) goes too, as PostgreSQL's cascade takes it.
        let object = |n: &String| {
            let (schema, relname) = crate::search_path::split(n);
            ast::ObjectName::from(vec![
                ast::Ident::with_quote('"', schema),
                ast::Ident::with_quote('"', relname),
            ])
        };
        let views: Vec<ast::ObjectName> = views.iter().map(object).collect();
        if !views.is_empty() {
            self.drop_views(&views, true, true).await?;
        }
        for (kind, names) in [
            (ast::ObjectType::Table, &tables),
            (ast::ObjectType::Sequence, &sequences),
        ] {
            if names.is_empty() {
                continue;
            }
            let drop = Statement::Drop {
                object_type: kind,
                if_exists: true,
                names: names.iter().map(object).collect(),
                cascade: true,
                restrict: false,
                purge: false,
                temporary: false,
                table: None,
            };
            Box::pin(self.ddl_in_txn(&drop)).await?;
        }
        let types: Vec<ast::ObjectName> = types.iter().map(object).collect();
        if !types.is_empty() {
            self.drop_types(&types, true, true).await?;
        }
        self.with_locks(|t| t.drop_schema(&name)).await
    }

    /// CREATE TABLE ... AS: the query runs on the transaction's view, the table and its rows are written in
    /// the transaction (the caller opened one if needed).
    async fn create_as(&mut self, ct: &ast::CreateTable) -> Result<Output> {
        let name = self.names().create(&ct.name)?;
        let query = ct.query.clone().expect("checked by the caller");
        let (schema, batches) = match self.plan(Statement::Query(query), vec![]).await {
            Ok(plan) => self.collect(plan).await?,
            Err(e) => return Err(e),
        };
        let columns = schema
            .fields()
            .iter()
            .map(|f| {
                Ok(omendb_storage::ColumnDef::new(
                    f.name().clone(),
                    ddl::from_field(f)?,
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

/// A schema's name: one identifier.
fn schema_ident(name: &ast::ObjectName) -> Result<String> {
    match name.0.as_slice() {
        [ast::ObjectNamePart::Identifier(i)] => Ok(ddl::ident(i)),
        _ => Err(Error::sql(
            code::SYNTAX_ERROR,
            format!("improper qualified name (too many dotted names): {name}"),
        )),
    }
}

/// Whether `name` is the mark `tokens.rs` gives `DROP INDEX CONCURRENTLY`.
fn concurrently_marker(name: &ast::ObjectName) -> bool {
    name.to_string() == crate::tokens::CONCURRENTLY
}

/// The flags and sequence name of an ALTER SEQUENCE that `alter_forms.rs` wrote as a marked CREATE
/// SEQUENCE.
fn altered_sequence(name: &ast::ObjectName) -> Option<(String, ast::ObjectName)> {
    let ident = |i: usize| name.0.get(i).and_then(|p| p.as_ident());
    if ident(0)?.value != crate::alter_forms::ALTER_SEQUENCE {
        return None;
    }
    Some((
        ident(1)?.value.clone(),
        ast::ObjectName(name.0[2..].to_vec()),
    ))
}

/// PostgreSQL's error for a relation (view, sequence, index) that does not exist.
fn undefined_relation(name: &ast::ObjectName) -> Error {
    let relname = name.0.last().map(|p| p.to_string()).unwrap_or_default();
    super::alter::undefined_relation(relname.trim_matches('"'))
}
