//! Parse (and, off the fast path, plan) a statement: what the extended protocol caches as a prepared
//! statement and the simple protocol runs at once.

use std::sync::Arc;

use arrow_schema::{DataType as Arrow, Schema};
use datafusion::logical_expr::LogicalPlan;
use datafusion::sql::sqlparser::ast::{self, Statement};

use super::{Kind, Prepared, PreparedStatement, Session, parse, rename, show_name};
use crate::catalog::resolve;
use crate::error::{Error, Result, code};

impl Session {
    /// Parses and plans one statement (extended protocol Parse).
    /// Parse with the parameter types the client declared (`None` or unknown: inferred).
    pub async fn prepare_typed(
        &mut self,
        sql: &str,
        declared: &[Option<pgwire::api::Type>],
    ) -> Result<Prepared> {
        let mut stmts = parse(sql)?;
        if stmts.len() > 1 {
            return Err(Error::sql(
                code::SYNTAX_ERROR,
                "cannot insert multiple commands into a prepared statement",
            ));
        }
        match stmts.pop() {
            None => Ok(PreparedStatement {
                kind: Kind::Empty,
                stmt: None,
                plan: None,
                params: vec![],
                result: None,
                target: None,
                names: None,
                no_index: false,
                fast: None,
                locking: None,
                cursor_query: None,
                returning: None,
                upsert: None,
                with_dml: None,
                locked_subqueries: None,
                planned_under: self.settings.plan_key(),
                replanned: Default::default(),
            }
            .into()),
            Some(stmt) => self.prepare_stmt(stmt, declared).await,
        }
    }

    pub(super) async fn prepare_stmt(
        &mut self,
        stmt: Statement,
        declared: &[Option<pgwire::api::Type>],
    ) -> Result<Prepared> {
        if let Some(write) = crate::dml_ctes::hoist(&stmt) {
            return Box::pin(self.prepare_stmt(write, declared)).await;
        }
        let kind = Kind::of(&stmt);
        if kind == Kind::Execute {
            return self.prepare_execute(stmt);
        }
        if let Some(w) = super::with_dml::split(&stmt, declared) {
            return self.prepare_with_dml(w).await;
        }
        if matches!(
            kind,
            Kind::Select | Kind::Insert | Kind::Update | Kind::Delete
        ) && let Some(p) = self.prepare_locked_subqueries(&stmt, declared).await?
        {
            return Ok(p);
        }
        if let Some(p) = self.prepare_fast(&stmt, kind, declared) {
            return Ok(p);
        }
        self.prepare_planned(stmt, kind, declared).await
    }

    /// A statement of a fast shape over an existing table: described without planning.
    fn prepare_fast(
        &self,
        stmt: &Statement,
        kind: Kind,
        declared: &[Option<pgwire::api::Type>],
    ) -> Option<Prepared> {
        if !self.settings.learned_index()
            || !matches!(
                kind,
                Kind::Select | Kind::Insert | Kind::Update | Kind::Delete
            )
        {
            return None;
        }
        let table = crate::fast::target(stmt, &self.names())?;
        let reader = resolve(&self.engine.db, &mut self.view.lock(), &table)
            .ok()
            .flatten()?;
        let fast = crate::fast::detect(stmt, reader.def(), &reader.indexes())?;
        let (params, result) = fast.describe(declared)?;
        // A fast read returns the table's own columns, by name.
        let oid = crate::pg_catalog::oids::table(reader.id());
        let result = result.map(|r| {
            let fields: Vec<_> = r
                .fields()
                .iter()
                .map(|f| {
                    match reader
                        .def()
                        .columns
                        .iter()
                        .position(|c| c.name == *f.name())
                    {
                        Some(i) => crate::origins::with_type(
                            &crate::origins::with_origin(f, oid, i + 1),
                            reader.def().columns[i].data_type,
                        ),
                        None => f.as_ref().clone(),
                    }
                })
                .collect();
            Arc::new(Schema::new(fields))
        });
        let names = crate::names::output_names(stmt);
        Some(
            PreparedStatement {
                kind,
                stmt: Some(stmt.clone()),
                plan: None,
                params,
                result: result.map(|r| rename(r, names.as_deref())),
                target: None,
                names,
                no_index: false,
                fast: Some(Arc::new(fast)),
                locking: None,
                cursor_query: None,
                returning: None,
                upsert: None,
                with_dml: None,
                locked_subqueries: None,
                planned_under: self.settings.plan_key(),
                replanned: Default::default(),
            }
            .into(),
        )
    }

    pub(super) async fn prepare_planned(
        &mut self,
        stmt: Statement,
        kind: Kind,
        declared: &[Option<pgwire::api::Type>],
    ) -> Result<Prepared> {
        let target = match &stmt {
            Statement::Update(u) => match &u.table.relation {
                ast::TableFactor::Table { name, .. } => Some(self.names().lookup(name)?),
                _ => None,
            },
            Statement::Delete(d) => match &d.from {
                ast::FromTable::WithFromKeyword(t) | ast::FromTable::WithoutKeyword(t) => {
                    match t.first().map(|t| &t.relation) {
                        Some(ast::TableFactor::Table { name, .. }) => {
                            Some(self.names().lookup(name)?)
                        }
                        _ => None,
                    }
                }
            },
            _ => None,
        };
        let mut locking = None;
        let cursor_query = match kind {
            Kind::Cursor => self.prepare_cursor_query(&stmt, declared).await?,
            _ => None,
        };
        let mut returning = None;
        let mut upsert = None;
        let (plan, params, result) = if kind.planned() {
            let mut planned = stmt.clone();
            self.expand_views(&mut planned)?;
            self.resolve_enum_types(&mut planned)?;
            upsert = super::upsert::Upsert::take(&mut planned);
            returning = super::returning::Returning::take(&mut planned);
            if let Statement::Query(q) = &mut planned {
                locking = self.locking_query(q)?.map(Arc::new);
            }
            let physical: Vec<String> = match &locking {
                Some(l) => l.tables.iter().map(|(t, ..)| t.clone()).collect(),
                None => target.iter().cloned().collect(),
            };
            {
                let db = self.engine.db.clone();
                let view = self.view.clone();
                let names = self.names();
                let login = crate::rewrite::Login {
                    user: &self.user,
                    database: &self.engine.config.database,
                    schema: names.current(),
                };
                crate::rewrite::rewrite(&mut planned, &login, |name| {
                    let storage = names.lookup(name)?;
                    Ok(resolve(&db, &mut view.lock(), &storage)
                        .ok()
                        .flatten()
                        .map(|r| r.def().clone()))
                })?;
            }
            let joined = super::joined::Joined::take(&mut planned, |name| {
                let storage = self.names().lookup(name)?;
                Ok(resolve(&self.engine.db, &mut self.view.lock(), &storage)
                    .ok()
                    .flatten()
                    .map(|r| r.def().clone()))
            })?;
            let types = crate::rewrite::parameter_types(&planned, declared);
            let arrays = crate::rewrite::array_parameters(&planned);
            let typed = !types.is_empty() && types.iter().all(Option::is_some);
            if typed {
                // DataFusion takes parameter types only through PREPARE: plan it as one, keep the body.
                planned = Statement::Prepare {
                    name: ast::Ident::new("omendb"),
                    data_types: types.into_iter().flatten().collect(),
                    statement: Box::new(planned),
                };
            }
            let plan = match self.plan(planned, physical).await? {
                LogicalPlan::Statement(datafusion::logical_expr::Statement::Prepare(p)) => {
                    Arc::unwrap_or_clone(p.input)
                }
                plan => plan,
            };
            let plan = match joined {
                Some(j) => j.into_dml(plan)?,
                None => plan,
            };
            let plan = crate::text::postgres_text_casts(plan)?;
            let plan = crate::json::jsonb_sorts(plan)?;
            let plan = crate::enums::bind(plan, &self.enum_types())?;
            let plan = crate::intervals::compare_by_value(plan)?;
            let plan = crate::bpchar::semantics(plan)?;
            let mut types = plan.get_parameter_types()?;
            let n = types
                .keys()
                .filter_map(|k| k.strip_prefix('$')?.parse::<usize>().ok())
                .max()
                .unwrap_or(0);
            let params = (1..=n)
                .map(|i| {
                    let t = types.remove(&format!("${i}")).flatten();
                    // `$1::int[]` sent as text (`{1,2}`, as PostgreSQL's array input reads it): an array.
                    match (t, arrays.get(i - 1).cloned().flatten()) {
                        (None | Some(arrow_schema::DataType::Utf8), Some(list)) => Some(list),
                        (t, _) => t,
                    }
                })
                .collect();
            let mut result = (kind == Kind::Select).then(|| {
                let db = self.engine.db.clone();
                let view = self.view.clone();
                crate::origins::annotate(
                    Arc::new(plan.schema().as_arrow().clone()),
                    &plan,
                    |name| {
                        let r = resolve(&db, &mut view.lock(), name).ok().flatten()?;
                        let columns = r
                            .def()
                            .columns
                            .iter()
                            .map(|c| (c.name.clone(), c.data_type))
                            .collect();
                        Some((crate::pg_catalog::oids::table(r.id()), columns))
                    },
                )
            });
            if let (Some(r), Some(l)) = (&result, &locking) {
                // The keys the rows are locked by are not shown.
                let user: Vec<usize> = (0..r.fields().len() - l.keys()).collect();
                result = Some(Arc::new(
                    r.project(&user)
                        .map_err(|e| Error::sql(code::INTERNAL, e.to_string()))?,
                ));
            }
            (Some(plan), params, result)
        } else if kind == Kind::Cursor {
            // DECLARE takes its query's parameters; FETCH returns its cursor's columns.
            let params = match &cursor_query {
                Some(q) => q.params.clone(),
                None => vec![],
            };
            (None, params, self.fetch_schema(&stmt))
        } else {
            (None, vec![], None)
        };
        let names = crate::names::output_names(&stmt);
        let result = result.map(|r| rename(r, names.as_deref()));
        let result = match (&stmt, result) {
            (Statement::ShowVariable { variable }, _) if show_name(variable) == "all" => {
                Some(Arc::new(Schema::new(
                    ["name", "setting", "description"]
                        .map(|n| arrow_schema::Field::new(n, Arrow::Utf8, true))
                        .to_vec(),
                )))
            }
            (Statement::ShowVariable { variable }, _) => {
                Some(Arc::new(Schema::new(vec![arrow_schema::Field::new(
                    crate::settings::spelled(&show_name(variable)),
                    Arrow::Utf8,
                    false,
                )])))
            }
            (_, r) => r,
        };
        let target = match &locking {
            Some(l) => Some(l.table().to_string()),
            None => target,
        };
        let mut params = params;
        if let Some(u) = &upsert
            && u.max_param() > params.len()
        {
            params.resize(u.max_param(), None);
        }
        if let Some(u) = &mut upsert
            && let Statement::Insert(ast::Insert {
                table: ast::TableObject::TableName(name),
                ..
            }) = &stmt
        {
            let storage = self.names().lookup(name)?;
            let reader = resolve(&self.engine.db, &mut self.view.lock(), &storage)?
                .ok_or(omendb_storage::Error::UnknownTable(storage))?;
            u.bind(reader.def(), &reader.indexes())?;
        }
        let (result, names) = match &mut returning {
            Some(r) => {
                let storage = self.names().lookup(&r.table)?;
                let reader = resolve(&self.engine.db, &mut self.view.lock(), &storage)?
                    .ok_or(omendb_storage::Error::UnknownTable(storage))?;
                r.schema = Some(reader.schema());
                r.types = reader.def().columns.iter().map(|c| c.data_type).collect();
                let (schema, _) = self.returning_rows(r, reader.schema(), vec![]).await?;
                (Some(schema), None)
            }
            None => (result, names),
        };
        Ok(PreparedStatement {
            kind,
            stmt: Some(stmt),
            plan,
            params,
            result,
            target,
            names,
            no_index: !self.settings.learned_index(),
            fast: None,
            locking,
            cursor_query,
            returning: returning.map(Arc::new),
            upsert: upsert.map(Arc::new),
            with_dml: None,
            locked_subqueries: None,
            planned_under: self.settings.plan_key(),
            replanned: Default::default(),
        }
        .into())
    }
}
