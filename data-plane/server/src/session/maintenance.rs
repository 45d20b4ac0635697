//! VACUUM and ANALYZE. VACUUM is retraining: it merges a table's delta and tombstones into new chunks with
//! freshly fitted models (what PostgreSQL's VACUUM is for, reclaiming dead rows, is what a retrain does).
//! ANALYZE has nothing to compute: row counts and key bounds are kept exact on every commit. Both check
//! their options, tables and columns as PostgreSQL does.

use datafusion::sql::sqlparser::ast::{ObjectName, VacuumStatement};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion::sql::sqlparser::tokenizer::Token;
use pgwire::api::results::Tag;

use super::{Output, Session, Tx};
use crate::error::{Error, Result, code};
use crate::tokens::MAINTENANCE;

/// What a VACUUM / ANALYZE statement asks, read back from the parts `tokens::maintenance` wrote.
struct Request {
    vacuum: bool,
    options: Vec<String>,
    items: Vec<String>,
}

impl Request {
    fn of(stmt: &VacuumStatement) -> Option<Request> {
        let parts: Vec<String> = stmt
            .table_name
            .as_ref()?
            .0
            .iter()
            .map(|p| p.as_ident().map(|i| i.value.clone()).unwrap_or_default())
            .collect();
        if parts.len() < 3 || parts[0] != MAINTENANCE {
            return None;
        }
        Some(Request {
            vacuum: parts[1] == "vacuum",
            options: parts[2]
                .split(',')
                .filter(|o| !o.is_empty())
                .map(str::to_string)
                .collect(),
            items: parts[3..].to_vec(),
        })
    }

    fn verb(&self) -> &'static str {
        if self.vacuum { "VACUUM" } else { "ANALYZE" }
    }

    /// The options by name (values are accepted as PostgreSQL's grammar takes them); FULL, ANALYZE.
    fn check_options(&self) -> Result<(bool, bool)> {
        let known: &[&str] = if self.vacuum {
            &[
                "full",
                "freeze",
                "verbose",
                "analyze",
                "analyse",
                "disable_page_skipping",
                "skip_locked",
                "index_cleanup",
                "process_main",
                "process_toast",
                "truncate",
                "parallel",
                "skip_database_stats",
                "only_database_stats",
                "buffer_usage_limit",
            ]
        } else {
            &["verbose", "skip_locked", "buffer_usage_limit"]
        };
        let (mut full, mut analyze) = (false, !self.vacuum);
        for o in &self.options {
            let mut words = o.split(' ');
            let name = words.next().unwrap_or_default();
            let off = matches!(words.next(), Some("false" | "off" | "0"));
            if !known.contains(&name) {
                return Err(Error::sql(
                    code::SYNTAX_ERROR,
                    format!("unrecognized {} option \"{name}\"", self.verb()),
                ));
            }
            match name {
                "full" => full = !off,
                "analyze" | "analyse" => analyze |= !off,
                _ => {}
            }
        }
        Ok((full, analyze))
    }
}

/// A table item's name and column list.
fn item(text: &str) -> Result<(ObjectName, Vec<String>)> {
    let syntax = |e: datafusion::sql::sqlparser::parser::ParserError| {
        Error::sql(code::SYNTAX_ERROR, format!("syntax error: {e}"))
    };
    let mut p = Parser::new(&PostgreSqlDialect {})
        .try_with_sql(text)
        .map_err(syntax)?;
    let name = p.parse_object_name(false).map_err(syntax)?;
    let mut columns = vec![];
    if p.consume_token(&Token::LParen) {
        columns = p
            .parse_comma_separated(|p| p.parse_identifier())
            .map_err(syntax)?
            .into_iter()
            .map(|i| crate::ddl::ident(&i))
            .collect();
        p.expect_token(&Token::RParen).map_err(syntax)?;
    }
    Ok((name, columns))
}

impl Session {
    /// `stmt` when it is a VACUUM / ANALYZE of PostgreSQL's grammar (see `tokens.rs`).
    pub(super) async fn maintenance(&mut self, stmt: &VacuumStatement) -> Result<Option<Output>> {
        let Some(req) = Request::of(stmt) else {
            return Ok(None);
        };
        let (full, analyze) = req.check_options()?;
        if req.vacuum && self.tx != Tx::Idle {
            return Err(Error::sql(
                "25001",
                "VACUUM cannot run inside a transaction block",
            ));
        }
        let mut tables = vec![];
        for text in &req.items {
            let (name, columns) = item(text)?;
            let storage = self.names().lookup(&name)?;
            let reader = crate::catalog::resolve(&self.engine.db, &mut self.view.lock(), &storage)?
                .ok_or_else(|| {
                    Error::sql(
                        code::UNDEFINED_TABLE,
                        format!(
                            "relation \"{}\" does not exist",
                            crate::search_path::split(&storage).1
                        ),
                    )
                })?;
            for c in &columns {
                crate::ddl::column_at(reader.def(), c)?;
            }
            if !columns.is_empty() && !analyze {
                return Err(Error::sql(
                    code::INVALID_PARAMETER_VALUE,
                    "ANALYZE option must be specified when a column list is provided",
                ));
            }
            tables.push(storage);
        }
        if req.items.is_empty() {
            tables = crate::catalog::table_names(&self.engine.db, &self.view.lock());
        }
        if req.vacuum {
            for name in tables {
                let db = self.engine.db.clone();
                let stats = db.stats(&name)?;
                if full || stats.delta_rows > 0 || stats.tombstones > 0 || stats.memory_chunks > 0 {
                    tokio::task::spawn_blocking(move || db.retrain(&name))
                        .await
                        .map_err(|e| Error::sql(code::INTERNAL, e.to_string()))??;
                }
            }
        }
        Ok(Some(Output::Command(Tag::new(req.verb()))))
    }
}
