//! CHECK constraints: named as PostgreSQL names them, existing rows validated when one is added to a table
//! (unless NOT VALID), then kept by the engine, which has every write evaluate them (`crate::checks`).

use datafusion::sql::sqlparser::ast::{
    self, Expr, ObjectName, ObjectNamePart, Visit, VisitMut, Visitor, VisitorMut,
};
use omendb_storage::{CheckDef, TableDef};

use super::Session;
use crate::ddl;
use crate::error::{Error, Result};

/// The table's columns `expr` mentions, in order of first mention.
pub(super) fn mentioned(def: &TableDef, expr: &Expr) -> Vec<String> {
    struct Columns<'a>(&'a TableDef, Vec<String>);
    impl Visitor for Columns<'_> {
        type Break = ();
        fn pre_visit_expr(&mut self, e: &Expr) -> std::ops::ControlFlow<()> {
            let name = match e {
                Expr::Identifier(i) => Some(ddl::ident(i)),
                Expr::CompoundIdentifier(p) => p.last().map(ddl::ident),
                _ => None,
            };
            if let Some(n) = name
                && self.0.columns.iter().any(|c| c.name == n)
                && !self.1.contains(&n)
            {
                self.1.push(n);
            }
            std::ops::ControlFlow::Continue(())
        }
    }
    let mut v = Columns(def, vec![]);
    let _ = expr.visit(&mut v);
    v.1
}

/// What an ALTER TABLE that renames or drops columns does to an expression stored as SQL over the
/// table's columns (a CHECK constraint, a partial index's WHERE, an indexed expression), as PostgreSQL,
/// which keeps column numbers, not names: what names a dropped column goes with it; what names a renamed
/// column names it anew.
pub(super) enum Follow {
    Keep,
    Drop,
    Renamed(Box<Expr>),
}

pub(super) fn follow(
    old: &TableDef,
    sql: &str,
    renamed: &[(String, String)],
    dropped: &[String],
) -> Follow {
    let Ok(mut expr) = ddl::parse_expr(sql) else {
        return Follow::Keep;
    };
    let cols = mentioned(old, &expr);
    if cols.iter().any(|n| dropped.contains(n)) {
        Follow::Drop
    } else if cols
        .iter()
        .any(|n| renamed.iter().any(|(from, _)| from == n))
    {
        rename_columns(&mut expr, renamed);
        Follow::Renamed(Box::new(expr))
    } else {
        Follow::Keep
    }
}

/// `expr` as PostgreSQL would print its names back: unquoted function names in lower case, identifiers
/// quoted only where they must be (`LOWER("name")` is stored as `lower(name)`).
pub(super) fn normalized(expr: &Expr) -> String {
    struct Names;
    impl VisitorMut for Names {
        type Break = ();
        fn pre_visit_expr(&mut self, e: &mut Expr) -> std::ops::ControlFlow<()> {
            let plain = |i: &mut ast::Ident| {
                let name = ddl::ident(i);
                *i = match crate::pg_catalog::names::quote_ident(&name) {
                    q if q == name => ast::Ident::new(name),
                    _ => ast::Ident::with_quote('"', name),
                };
            };
            match e {
                Expr::Identifier(i) => plain(i),
                Expr::CompoundIdentifier(parts) => parts.iter_mut().for_each(plain),
                Expr::Function(f) => {
                    for part in &mut f.name.0 {
                        if let ObjectNamePart::Identifier(i) = part
                            && i.quote_style.is_none()
                        {
                            i.value = i.value.to_lowercase();
                        }
                    }
                }
                _ => {}
            }
            std::ops::ControlFlow::Continue(())
        }
    }
    let mut e = expr.clone();
    let _ = VisitMut::visit(&mut e, &mut Names);
    e.to_string()
}

/// `expr` with its column references renamed (`from` to `to`).
fn rename_columns(expr: &mut Expr, renamed: &[(String, String)]) {
    struct Rename<'a>(&'a [(String, String)]);
    impl VisitorMut for Rename<'_> {
        type Break = ();
        fn pre_visit_expr(&mut self, e: &mut Expr) -> std::ops::ControlFlow<()> {
            let ident = match e {
                Expr::Identifier(i) => Some(i),
                Expr::CompoundIdentifier(p) => p.last_mut(),
                _ => None,
            };
            if let Some(i) = ident
                && let Some((_, to)) = self.0.iter().find(|(from, _)| *from == ddl::ident(i))
            {
                // Quoted only where it must be, as PostgreSQL prints it.
                *i = match crate::pg_catalog::names::quote_ident(to) {
                    q if q == *to => ast::Ident::new(to.clone()),
                    _ => ast::Ident::with_quote('"', to.clone()),
                };
            }
            std::ops::ControlFlow::Continue(())
        }
    }
    let _ = expr.visit(&mut Rename(renamed));
}

impl Session {
    /// Adds CHECK (`expr`) to `table` (storage name, definition `def`); `validate`: existing rows must pass.
    pub(super) async fn add_check(
        &mut self,
        table: &str,
        def: &TableDef,
        name: Option<String>,
        expr: &Expr,
        validate: bool,
    ) -> Result<()> {
        let relname = crate::search_path::split(table).1.to_string();
        let name = match name {
            Some(n) => n,
            None => {
                let cols = mentioned(def, expr);
                let base = match cols.as_slice() {
                    [one] => format!("{relname}_{one}_check"),
                    _ => format!("{relname}_check"),
                };
                let taken: Vec<String> = {
                    let mut v = self.view.lock();
                    let txn = v.txn.as_mut().expect("DDL runs in a transaction");
                    txn.table(table)?
                        .checks()
                        .iter()
                        .map(|c| c.name.clone())
                        .collect()
                };
                if taken.contains(&base) {
                    (1..)
                        .map(|i| format!("{base}{i}"))
                        .find(|n| !taken.contains(n))
                        .expect("a free suffix")
                } else {
                    base
                }
            }
        };
        let check = CheckDef {
            id: 0,
            name: name.clone(),
            sql: expr.to_string(),
        };
        self.with_locks(|t| t.add_check(table, check.clone()))
            .await?;
        if validate && self.violated(table, expr).await? {
            return Err(Error::sql(
                "23514",
                format!(
                    "check constraint \"{name}\" of relation \"{relname}\" is violated by some row"
                ),
            ));
        }
        Ok(())
    }

    /// Whether some row of `table` makes `expr` false (planned as `SELECT 1 ... WHERE NOT (expr)`).
    async fn violated(&mut self, table: &str, expr: &Expr) -> Result<bool> {
        let (schema, relname) = crate::search_path::split(table);
        let name = ObjectName(vec![
            ObjectNamePart::Identifier(ast::Ident::with_quote('"', schema)),
            ObjectNamePart::Identifier(ast::Ident::with_quote('"', relname)),
        ]);
        let sql = format!("SELECT 1 FROM {name} WHERE NOT ({expr}) LIMIT 1");
        let stmt = super::parse(&sql)?.remove(0);
        let plan = self.plan(stmt, vec![]).await?;
        let (_, batches) = self.collect(plan).await?;
        Ok(batches.iter().any(|b| b.num_rows() > 0))
    }

    /// Drops CHECK constraint `name` of `table`, if it has one: whether it did.
    pub(super) async fn drop_check(&mut self, table: &str, name: &str) -> Result<bool> {
        let has = {
            let mut v = self.view.lock();
            let txn = v.txn.as_mut().expect("DDL runs in a transaction");
            txn.table(table)?.checks().iter().any(|c| c.name == name)
        };
        if has {
            self.with_locks(|t| t.drop_check(table, name)).await?;
        }
        Ok(has)
    }

    /// The CHECK constraints of a CREATE TABLE, added once the table exists.
    pub(super) async fn create_checks(
        &mut self,
        ct: &ast::CreateTable,
        def: &TableDef,
    ) -> Result<()> {
        for c in &ct.columns {
            for o in &c.options {
                if let ast::ColumnOption::Check(check) = &o.option {
                    let name = o.name.as_ref().or(check.name.as_ref()).map(ddl::ident);
                    self.add_check(&def.name, def, name, &check.expr, false)
                        .await?;
                }
            }
        }
        for c in &ct.constraints {
            if let ast::TableConstraint::Check(check) = c {
                let name = check.name.as_ref().map(ddl::ident);
                self.add_check(&def.name, def, name, &check.expr, false)
                    .await?;
            }
        }
        Ok(())
    }
}
