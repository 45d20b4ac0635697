//! WITH on an INSERT, UPDATE or DELETE (`WITH c AS (SELECT ...) UPDATE t SET ... FROM c WHERE ...`), which
//! DataFusion plans only on a SELECT. An INSERT's WITH moves to its source query, where the same names are
//! in scope. An UPDATE's or DELETE's CTEs are put in place of each reference to them as a subquery in FROM,
//! which is what PostgreSQL itself does with a CTE that has no side effects; under WITH RECURSIVE that
//! subquery is the whole WITH over the one CTE (`(WITH RECURSIVE ... SELECT * FROM c) AS c`), since a
//! recursive CTE cannot be written out. Data-modifying CTEs are `session/with_dml.rs`'s.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    self, Cte, ObjectNamePart, Query, SetExpr, Statement, TableFactor, VisitMut, VisitorMut,
};

/// `stmt` with its WITH carried into the statement, if it is a WITH on a write.
pub fn hoist(stmt: &Statement) -> Option<Statement> {
    let Statement::Query(q) = stmt else {
        return None;
    };
    let with = q.with.as_ref()?;
    let writes = |c: &Cte| {
        matches!(
            c.query.body.as_ref(),
            SetExpr::Insert(_) | SetExpr::Update(_) | SetExpr::Delete(_)
        )
    };
    if q.order_by.is_some() || q.limit_clause.is_some() || with.cte_tables.iter().any(writes) {
        return None;
    }
    let ctes = if with.recursive {
        whole(with)
    } else {
        inlined(&with.cte_tables)
    };
    match q.body.as_ref() {
        SetExpr::Insert(Statement::Insert(ins)) => {
            let mut ins = ins.clone();
            let source = ins.source.as_deref_mut()?;
            match &mut source.with {
                Some(w) => {
                    let mut all = with.cte_tables.clone();
                    all.append(&mut w.cte_tables);
                    w.cte_tables = all;
                    w.recursive |= with.recursive;
                }
                None => source.with = Some(with.clone()),
            }
            Some(Statement::Insert(ins))
        }
        SetExpr::Update(Statement::Update(u)) => {
            let mut u = u.clone();
            // The target is a table, never a CTE of the same name.
            let target = std::mem::replace(&mut u.table.relation, placeholder());
            let mut stmt = Statement::Update(u);
            inline(&mut stmt, &ctes);
            let Statement::Update(u) = &mut stmt else {
                unreachable!()
            };
            u.table.relation = target;
            Some(stmt)
        }
        SetExpr::Delete(Statement::Delete(d)) => {
            let mut d = d.clone();
            let from = std::mem::replace(&mut d.from, ast::FromTable::WithFromKeyword(vec![]));
            let mut stmt = Statement::Delete(d);
            inline(&mut stmt, &ctes);
            let Statement::Delete(d) = &mut stmt else {
                unreachable!()
            };
            d.from = from;
            Some(stmt)
        }
        _ => None,
    }
}

/// A relation no CTE is named like, held in the target's place while the rest is rewritten.
fn placeholder() -> TableFactor {
    TableFactor::Table {
        name: ast::ObjectName(vec![]),
        alias: None,
        args: None,
        with_hints: vec![],
        version: None,
        with_ordinality: false,
        partitions: vec![],
        json_path: None,
        sample: None,
        index_hints: vec![],
    }
}

/// The CTEs, each with the earlier ones it reads put in place.
fn inlined(ctes: &[Cte]) -> Vec<Cte> {
    let mut done: Vec<Cte> = vec![];
    for c in ctes {
        let mut c = c.clone();
        inline(c.query.as_mut(), &done);
        done.push(c);
    }
    done
}

/// Each CTE of a WITH RECURSIVE as a query of its own: the whole WITH over it.
fn whole(with: &ast::With) -> Vec<Cte> {
    with.cte_tables
        .iter()
        .map(|c| {
            let Some(Statement::Query(mut q)) =
                crate::session::parse(&format!("SELECT * FROM {}", c.alias.name))
                    .ok()
                    .and_then(|mut s| s.pop())
            else {
                unreachable!("a read of a CTE parses")
            };
            q.with = Some(with.clone());
            let mut c = c.clone();
            // The WITH names the columns already.
            c.alias.columns.clear();
            c.query = q;
            c
        })
        .collect()
}

/// Every reference to one of `ctes` in `node` as the CTE's query in FROM, under the reference's alias or the
/// CTE's name (with the CTE's column names).
fn inline<T: VisitMut>(node: &mut T, ctes: &[Cte]) {
    struct Inline<'a> {
        ctes: &'a [Cte],
    }
    impl VisitorMut for Inline<'_> {
        type Break = ();

        fn post_visit_table_factor(&mut self, t: &mut TableFactor) -> ControlFlow<()> {
            let TableFactor::Table {
                name,
                alias,
                args: None,
                ..
            } = t
            else {
                return ControlFlow::Continue(());
            };
            let [ObjectNamePart::Identifier(id)] = name.0.as_slice() else {
                return ControlFlow::Continue(());
            };
            let Some(cte) = self
                .ctes
                .iter()
                .rev()
                .find(|c| crate::ddl::ident(&c.alias.name) == crate::ddl::ident(id))
            else {
                return ControlFlow::Continue(());
            };
            let alias = match alias.take() {
                Some(mut a) => {
                    if a.columns.is_empty() {
                        a.columns = cte.alias.columns.clone();
                    }
                    a
                }
                None => ast::TableAlias {
                    name: cte.alias.name.clone(),
                    columns: cte.alias.columns.clone(),
                    explicit: true,
                    at: None,
                },
            };
            *t = TableFactor::Derived {
                lateral: false,
                subquery: Box::new(Query::clone(&cte.query)),
                alias: Some(alias),
                sample: None,
            };
            ControlFlow::Continue(())
        }
    }
    let _ = node.visit(&mut Inline { ctes });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hoisted(sql: &str) -> Option<String> {
        let stmt = crate::session::parse(sql).unwrap().pop().unwrap();
        hoist(&stmt).map(|s| s.to_string())
    }

    #[test]
    fn ctes_of_writes_are_carried_in() {
        assert_eq!(
            hoisted(
                "WITH c AS (SELECT id FROM q LIMIT 1) UPDATE q SET n = 1 FROM c WHERE q.id = c.id"
            )
            .as_deref(),
            Some("UPDATE q SET n = 1 FROM (SELECT id FROM q LIMIT 1) AS c WHERE q.id = c.id")
        );
        assert_eq!(
            hoisted("WITH c(k) AS (SELECT 1), d AS (SELECT k FROM c) DELETE FROM c WHERE k IN (SELECT k FROM d x)")
                .as_deref(),
            Some(
                "DELETE FROM c WHERE k IN (SELECT k FROM (SELECT k FROM (SELECT 1) AS c (k)) x)"
            )
        );
        assert_eq!(
            hoisted("WITH c AS (SELECT 1 AS a) INSERT INTO t SELECT a FROM c").as_deref(),
            Some("INSERT INTO t WITH c AS (SELECT 1 AS a) SELECT a FROM c")
        );
        assert_eq!(hoisted("WITH c AS (SELECT 1) SELECT * FROM c"), None);
        assert_eq!(
            hoisted("WITH RECURSIVE c(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM c WHERE k < 3) DELETE FROM t USING c WHERE t.id = c.k").as_deref(),
            Some("DELETE FROM t USING (WITH RECURSIVE c (k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM c WHERE k < 3) SELECT * FROM c) AS c WHERE t.id = c.k")
        );
        assert_eq!(
            hoisted("WITH RECURSIVE n AS (SELECT 1 AS i) INSERT INTO t SELECT i FROM n").as_deref(),
            Some("INSERT INTO t WITH RECURSIVE n AS (SELECT 1 AS i) SELECT i FROM n")
        );
    }
}
