//! Where stored SQL text names a relation, and its rewriting when the relation is renamed: a view's query
//! names the tables and views it reads (`session/views.rs` qualifies all but public's), a column default
//! names the sequence it draws from (`nextval('s')`). PostgreSQL's references are OIDs, so a rename carries
//! them along; ours follow it through these rewrites (`session/rename.rs`).

use std::collections::HashSet;
use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    self, Expr, ObjectName, Statement, TableAlias, TableFactor, Value, VisitMut, VisitorMut,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;
use omendb_storage::PUBLIC;

use crate::search_path::{split, storage_name};

/// How a view's query names the relation stored as `storage` (`views.rs` qualifies all but public's).
pub(crate) fn written_name(storage: &str) -> ObjectName {
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
    ctes: HashSet<String>,
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
pub(crate) fn renamed_query(query: &str, from: &str, to: &str) -> Option<String> {
    replaced_query(query, from, Replacement::Renamed(to))
}

/// `query` reading, in place of the table `table`, a derived table that gives its column `new` the old
/// name `old` (and every other column its own), if it read the table.
pub(crate) fn column_renamed_query(
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
pub(crate) struct NextvalRenamer<'a> {
    /// The storage name a text argument resolves to.
    pub resolve: &'a dyn Fn(&str) -> String,
    pub from: &'a str,
    pub to: &'a str,
    pub changed: bool,
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
