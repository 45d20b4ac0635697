//! SQL-level prepared statements: `PREPARE name [(types)] AS statement`, `EXECUTE name [(values)]` and
//! `DEALLOCATE [PREPARE] name | ALL`. pg_dump prepares its per-object catalog queries this way. They are
//! the session's own and live until DEALLOCATE or the end of the session, as in PostgreSQL.

use std::collections::HashMap;

use datafusion::scalar::ScalarValue;
use datafusion::sql::sqlparser::ast::{self, Statement};
use pgwire::api::results::Tag;

use super::{Kind, Output, Prepared, PreparedStatement, Session};
use crate::error::{Error, Result, code};

/// The session's SQL-level prepared statements, by name.
#[derive(Default)]
pub struct SqlPrepared(HashMap<String, Prepared>);

impl Session {
    /// PREPARE and DEALLOCATE (EXECUTE runs through `execute_prepared`).
    pub(super) async fn sql_prepare(&mut self, stmt: &Statement) -> Result<Output> {
        match stmt {
            Statement::Prepare {
                name,
                data_types,
                statement,
            } => {
                let name = crate::ddl::ident(name);
                if self.sql_prepared.0.contains_key(&name) {
                    return Err(Error::sql(
                        "42P05",
                        format!("prepared statement \"{name}\" already exists"),
                    ));
                }
                let declared = data_types
                    .iter()
                    .map(|t| {
                        let oid = crate::pg_catalog::oids::type_by_name(&t.to_string())
                            .ok_or_else(|| {
                                Error::sql(
                                    code::UNDEFINED_OBJECT,
                                    format!("type \"{t}\" does not exist"),
                                )
                            })?;
                        Ok(pgwire::api::Type::from_oid(oid as u32))
                    })
                    .collect::<Result<Vec<_>>>()?;
                let prepared =
                    Box::pin(self.prepare_stmt(statement.as_ref().clone(), &declared)).await?;
                self.sql_prepared.0.insert(name, prepared);
                Ok(Output::Command(Tag::new("PREPARE")))
            }
            Statement::Deallocate { name, .. } => {
                if name.value.eq_ignore_ascii_case("all") && name.quote_style.is_none() {
                    self.sql_prepared.0.clear();
                    return Ok(Output::Command(Tag::new("DEALLOCATE ALL")));
                }
                // A protocol-level statement of that name is the wire layer's to forget.
                self.sql_prepared.0.remove(&crate::ddl::ident(name));
                Ok(Output::Command(Tag::new("DEALLOCATE")))
            }
            _ => Err(Error::sql(code::INTERNAL, "not PREPARE or DEALLOCATE")),
        }
    }

    /// An EXECUTE as the extended protocol prepares it: described by the statement it runs.
    pub(super) fn prepare_execute(&self, stmt: Statement) -> Result<Prepared> {
        let inner = self.sql_prepared_named(&stmt)?;
        Ok(PreparedStatement {
            kind: Kind::Execute,
            stmt: Some(stmt),
            plan: None,
            params: vec![],
            result: inner.result.clone(),
            target: None,
            names: inner.names.clone(),
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
        .into())
    }

    /// The statement an EXECUTE names.
    fn sql_prepared_named(&self, stmt: &Statement) -> Result<Prepared> {
        let Statement::Execute {
            name: Some(name),
            immediate: false,
            ..
        } = stmt
        else {
            return Err(Error::sql(
                code::SYNTAX_ERROR,
                "syntax error at or near \"EXECUTE\"",
            ));
        };
        let name = match name.0.as_slice() {
            [ast::ObjectNamePart::Identifier(i)] => crate::ddl::ident(i),
            _ => name.to_string(),
        };
        self.sql_prepared.0.get(&name).cloned().ok_or_else(|| {
            Error::sql(
                "26000",
                format!("prepared statement \"{name}\" does not exist"),
            )
        })
    }

    /// `EXECUTE name (values)`: the statement PREPARE made, with the values as its parameters. Returns it
    /// too: its result columns and command tag are the response's.
    pub(super) async fn execute_prepared(
        &mut self,
        stmt: &Statement,
    ) -> Result<(Prepared, Result<Output>)> {
        let p = self.sql_prepared_named(stmt)?;
        let Statement::Execute {
            name: Some(name),
            parameters,
            ..
        } = stmt
        else {
            return Err(Error::sql(
                code::SYNTAX_ERROR,
                "syntax error at or near \"EXECUTE\"",
            ));
        };
        if parameters.len() != p.params.len() {
            return Err(Error::sql(
                code::SYNTAX_ERROR,
                format!("wrong number of parameters for prepared statement \"{name}\""),
            )
            .with_detail(format!(
                "Expected {} parameters but got {}.",
                p.params.len(),
                parameters.len()
            )));
        }
        let mut values = Vec::with_capacity(parameters.len());
        for (e, ty) in parameters.iter().zip(&p.params) {
            let v = match crate::ddl::literal(e) {
                Some(crate::ddl::Literal::Text(s)) => ScalarValue::Utf8(Some(s)),
                Some(crate::ddl::Literal::Number(n)) => match n.parse::<i64>() {
                    Ok(i) => ScalarValue::Int64(Some(i)),
                    Err(_) => ScalarValue::Utf8(Some(n)),
                },
                Some(crate::ddl::Literal::Bool(b)) => ScalarValue::Boolean(Some(b)),
                Some(crate::ddl::Literal::Null) => ScalarValue::Null,
                None => {
                    return Err(Error::unsupported(
                        "EXECUTE with parameters other than constants",
                    ));
                }
            };
            let v = match ty {
                Some(t) if !v.is_null() => v.cast_to(t).map_err(|_| {
                    Error::sql(
                        code::INVALID_TEXT_REPRESENTATION,
                        format!("invalid input syntax for type {t}: \"{v}\""),
                    )
                })?,
                Some(t) => ScalarValue::try_from(t).unwrap_or(ScalarValue::Null),
                None => v,
            };
            values.push(v);
        }
        let out = Box::pin(self.execute(&p, values)).await;
        Ok((p, out))
    }
}
