//! A string literal compared with a uuid column is a uuid, as PostgreSQL types it: `id = 'A0EE...'` and
//! `id IN ('{a0ee...}')` match the canonical text the column holds, and `id = 'nonsense'` is 22P02 at
//! planning. DataFusion would compare the text as written. Columns are found by name in the FROM of the
//! SELECT (or the target of UPDATE / DELETE) that holds the comparison; a subquery sees its own tables
//! first, then the enclosing ones.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    BinaryOperator, Expr, FromTable, ObjectName, Query, SetExpr, Statement, TableFactor,
    TableWithJoins, Value, VisitMut, VisitorMut,
};
use omendb_storage::{DataType, TableDef};

use crate::ddl::ident;
use crate::error::{Error, Result, code};

/// One relation in scope: the name it is referred to by (its alias, else its own name) and its columns,
/// each with whether it is a uuid (a subquery's columns are not, as far as this knows).
struct Scoped {
    name: String,
    columns: Vec<(String, bool)>,
}

impl Scoped {
    fn table(name: String, def: &TableDef) -> Scoped {
        let columns = def
            .columns
            .iter()
            .map(|c| (c.name.clone(), c.data_type == DataType::Uuid))
            .collect();
        Scoped { name, columns }
    }
}

type Lookup<'a> = &'a dyn Fn(&ObjectName) -> Result<Option<TableDef>>;

pub fn rewrite(stmt: &mut Statement, def: Lookup<'_>) -> Result<()> {
    let mut scope = vec![];
    match stmt {
        Statement::Query(q) => query(q, &mut scope, def),
        Statement::Update(u) => {
            tables(std::slice::from_ref(&u.table), &mut scope, def)?;
            if let Some(from) = &u.from {
                let (datafusion::sql::sqlparser::ast::UpdateTableFromKind::BeforeSet(f)
                | datafusion::sql::sqlparser::ast::UpdateTableFromKind::AfterSet(f)) = from;
                tables(f, &mut scope, def)?;
            }
            if let Some(w) = &mut u.selection {
                exprs(w, &mut scope, def)?;
            }
            Ok(())
        }
        Statement::Delete(d) => {
            let (FromTable::WithFromKeyword(t) | FromTable::WithoutKeyword(t)) = &d.from;
            tables(t, &mut scope, def)?;
            if let Some(using) = &d.using {
                tables(using, &mut scope, def)?;
            }
            if let Some(w) = &mut d.selection {
                exprs(w, &mut scope, def)?;
            }
            Ok(())
        }
        Statement::Insert(ins) => match ins.source.as_mut() {
            Some(q) => query(q, &mut scope, def),
            None => Ok(()),
        },
        _ => Ok(()),
    }
}

fn query(q: &mut Query, scope: &mut Vec<Scoped>, def: Lookup<'_>) -> Result<()> {
    if let Some(with) = &mut q.with {
        for cte in &mut with.cte_tables {
            query(&mut cte.query, scope, def)?;
        }
    }
    body(q.body.as_mut(), scope, def)
}

fn body(b: &mut SetExpr, scope: &mut Vec<Scoped>, def: Lookup<'_>) -> Result<()> {
    match b {
        SetExpr::Select(s) => {
            for t in &mut s.from {
                for f in std::iter::once(&mut t.relation)
                    .chain(t.joins.iter_mut().map(|j| &mut j.relation))
                {
                    if let TableFactor::Derived { subquery, .. } = f {
                        query(subquery, scope, def)?;
                    }
                }
            }
            let outer = scope.len();
            tables(&s.from, scope, def)?;
            let mut r = Ok(());
            for t in &mut s.from {
                for j in &mut t.joins {
                    use datafusion::sql::sqlparser::ast::{JoinConstraint, JoinOperator as J};
                    let (J::Join(JoinConstraint::On(on))
                    | J::Inner(JoinConstraint::On(on))
                    | J::Left(JoinConstraint::On(on))
                    | J::LeftOuter(JoinConstraint::On(on))
                    | J::Right(JoinConstraint::On(on))
                    | J::RightOuter(JoinConstraint::On(on))
                    | J::FullOuter(JoinConstraint::On(on))) = &mut j.join_operator
                    else {
                        continue;
                    };
                    r = r.and_then(|_| exprs(on, scope, def));
                }
            }
            if let Some(w) = &mut s.selection {
                r = r.and_then(|_| exprs(w, scope, def));
            }
            if let Some(h) = &mut s.having {
                r = r.and_then(|_| exprs(h, scope, def));
            }
            scope.truncate(outer);
            r
        }
        SetExpr::SetOperation { left, right, .. } => {
            body(left, scope, def)?;
            body(right, scope, def)
        }
        SetExpr::Query(q) => query(q, scope, def),
        _ => Ok(()),
    }
}

/// Brings the tables of a FROM list (and their joins) into scope, innermost last.
fn tables(from: &[TableWithJoins], scope: &mut Vec<Scoped>, def: Lookup<'_>) -> Result<()> {
    // Never fails: a name we cannot resolve is left to the planner.
    for t in from {
        for f in std::iter::once(&t.relation).chain(t.joins.iter().map(|j| &j.relation)) {
            // A name that is no table of ours (a CTE, a catalog, a missing schema) is the planner's to judge.
            match f {
                TableFactor::Table { name, alias, .. } => {
                    if let Ok(Some(d)) = def(name) {
                        let name = match alias {
                            Some(a) => ident(&a.name),
                            None => name
                                .0
                                .last()
                                .and_then(|p| p.as_ident())
                                .map(ident)
                                .unwrap_or_default(),
                        };
                        scope.push(Scoped::table(name, &d));
                    }
                }
                // A subquery's columns hide the enclosing ones of the same name.
                TableFactor::Derived {
                    subquery, alias, ..
                } => {
                    let mut columns: Vec<(String, bool)> = alias
                        .iter()
                        .flat_map(|a| &a.columns)
                        .map(|c| (ident(&c.name), false))
                        .collect();
                    if columns.is_empty() {
                        let stmt = Statement::Query(subquery.clone());
                        columns = crate::names::output_names(&stmt)
                            .unwrap_or_default()
                            .into_iter()
                            .map(|n| (n, false))
                            .collect();
                    }
                    let name = alias.as_ref().map(|a| ident(&a.name)).unwrap_or_default();
                    scope.push(Scoped { name, columns });
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// Whether `e` names a uuid column of a table in scope (the innermost table that has the name).
fn is_uuid_column(e: &Expr, scope: &[Scoped]) -> bool {
    let (table, column) = match e {
        Expr::Identifier(c) => (None, ident(c)),
        Expr::CompoundIdentifier(p) if p.len() == 2 => (Some(ident(&p[0])), ident(&p[1])),
        Expr::Nested(inner) => return is_uuid_column(inner, scope),
        _ => return false,
    };
    scope
        .iter()
        .rev()
        .filter(|t| table.as_ref().is_none_or(|n| *n == t.name))
        .find_map(|t| t.columns.iter().find(|(c, _)| *c == column))
        .is_some_and(|(_, uuid)| *uuid)
}

/// Respells a string literal as the uuid it is, or fails as PostgreSQL's `uuid_in` does.
fn respell(e: &mut Expr) -> Result<()> {
    match e {
        Expr::Nested(inner) => respell(inner),
        Expr::Value(v) => {
            if let Value::SingleQuotedString(s) = &mut v.value {
                *s = omendb_storage::canonical_uuid(s).ok_or_else(|| {
                    Error::sql(
                        code::INVALID_TEXT_REPRESENTATION,
                        format!("invalid input syntax for type uuid: \"{s}\""),
                    )
                })?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// The comparisons in `e`; subqueries are visited with their own tables in scope.
fn exprs(e: &mut Expr, scope: &mut Vec<Scoped>, def: Lookup<'_>) -> Result<()> {
    struct V<'s, 'd> {
        scope: &'s mut Vec<Scoped>,
        def: Lookup<'d>,
        /// Inside a subquery, which `query` has done with its own scope: the walk only passes through.
        depth: usize,
    }
    impl VisitorMut for V<'_, '_> {
        type Break = Error;

        fn pre_visit_query(&mut self, q: &mut Query) -> ControlFlow<Error> {
            self.depth += 1;
            if self.depth > 1 {
                return ControlFlow::Continue(());
            }
            match query(q, self.scope, self.def) {
                Ok(()) => ControlFlow::Continue(()),
                Err(e) => ControlFlow::Break(e),
            }
        }

        fn post_visit_query(&mut self, _: &mut Query) -> ControlFlow<Error> {
            self.depth -= 1;
            ControlFlow::Continue(())
        }

        fn pre_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<Error> {
            if self.depth > 0 {
                return ControlFlow::Continue(());
            }
            let r = match e {
                Expr::BinaryOp {
                    left,
                    op:
                        BinaryOperator::Eq
                        | BinaryOperator::NotEq
                        | BinaryOperator::Lt
                        | BinaryOperator::LtEq
                        | BinaryOperator::Gt
                        | BinaryOperator::GtEq,
                    right,
                } => {
                    if is_uuid_column(left, self.scope) {
                        respell(right)
                    } else if is_uuid_column(right, self.scope) {
                        respell(left)
                    } else {
                        Ok(())
                    }
                }
                Expr::InList { expr, list, .. } if is_uuid_column(expr, self.scope) => {
                    list.iter_mut().try_for_each(respell)
                }
                Expr::Between {
                    expr, low, high, ..
                } if is_uuid_column(expr, self.scope) => respell(low).and_then(|_| respell(high)),
                _ => Ok(()),
            };
            match r {
                Ok(()) => ControlFlow::Continue(()),
                Err(e) => ControlFlow::Break(e),
            }
        }
    }
    match e.visit(&mut V {
        scope,
        def,
        depth: 0,
    }) {
        ControlFlow::Continue(()) => Ok(()),
        ControlFlow::Break(err) => Err(err),
    }
}
