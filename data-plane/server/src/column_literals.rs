//! A string literal compared with a column takes the column's type, as PostgreSQL types it, where
//! DataFusion would not: with a uuid column it is a uuid (`id = 'A0EE...'` and `id IN ('{a0ee...}')` match
//! the canonical text the column holds, `id = 'nonsense'` is 22P02 at planning); with an array column it
//! is an array in PostgreSQL's text form (`tags @> '{a}'`, `a = '{1,2}'`). Columns are found by name in the
//! FROM of the SELECT (or the target of UPDATE / DELETE) that holds the comparison; a subquery sees its
//! own tables first, then the enclosing ones.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    BinaryOperator, Expr, FromTable, ObjectName, Query, SelectItem, SetExpr, Statement,
    TableFactor, TableWithJoins, Value, VisitMut, VisitorMut,
};
use omendb_storage::{DataType, TableDef};

use crate::ddl::ident;
use crate::error::{Error, Result, code};

/// One relation in scope: the name it is referred to by (its alias, else its own name) and its columns,
/// each with its type (a subquery's columns have none, as far as this knows).
pub(crate) struct Scoped {
    pub name: String,
    pub columns: Vec<(String, Option<DataType>)>,
}

impl Scoped {
    fn table(name: String, def: &TableDef) -> Scoped {
        let columns = def
            .columns
            .iter()
            .map(|c| (c.name.clone(), Some(c.data_type)))
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
            for a in &mut u.assignments {
                exprs(&mut a.value, &mut scope, def)?;
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
            for item in &mut s.projection {
                if let SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } = item
                {
                    r = r.and_then(|_| exprs(e, scope, def));
                }
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
                    let mut columns: Vec<(String, Option<DataType>)> = alias
                        .iter()
                        .flat_map(|a| &a.columns)
                        .map(|c| (ident(&c.name), None))
                        .collect();
                    if columns.is_empty() {
                        let stmt = Statement::Query(subquery.clone());
                        columns = crate::names::output_names(&stmt)
                            .unwrap_or_default()
                            .into_iter()
                            .map(|n| (n, None))
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

/// The type of the column `e` names, of a table in scope (the innermost table that has the name).
fn column_type(e: &Expr, scope: &[Scoped]) -> Option<DataType> {
    let (table, column) = match e {
        Expr::Identifier(c) => (None, ident(c)),
        Expr::CompoundIdentifier(p) if p.len() == 2 => (Some(ident(&p[0])), ident(&p[1])),
        Expr::Nested(inner) => return column_type(inner, scope),
        _ => return None,
    };
    scope
        .iter()
        .rev()
        .filter(|t| table.as_ref().is_none_or(|n| *n == t.name))
        .find_map(|t| t.columns.iter().find(|(c, _)| *c == column))
        .and_then(|(_, t)| *t)
}

/// `other`, compared with (or, for an array, combined with) a column of type `t`, in the column's type.
fn typed(t: Option<DataType>, other: &mut Expr) -> Result<()> {
    typed_by(t, other, true)
}

fn typed_by(t: Option<DataType>, other: &mut Expr, comparison: bool) -> Result<()> {
    match t {
        Some(DataType::Uuid) if comparison => respell(other),
        Some(DataType::Array(elem)) => crate::arrays::literal(other, elem),
        Some(DataType::Interval) if comparison => crate::intervals::literal(other),
        _ => Ok(()),
    }
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
                // `d * 2`, `2 * d`, `d / 2` of an interval column: Arrow has no interval-by-number
                // arithmetic (as for interval literals, `pg_catalog/syntax.rs`).
                Expr::BinaryOp { left, op, right }
                    if matches!(op, BinaryOperator::Multiply | BinaryOperator::Divide)
                        && (column_type(left, self.scope) == Some(DataType::Interval)
                            || (*op == BinaryOperator::Multiply
                                && column_type(right, self.scope) == Some(DataType::Interval))) =>
                {
                    let (interval, factor) =
                        if column_type(left, self.scope) == Some(DataType::Interval) {
                            (left.as_ref().clone(), right.as_ref().clone())
                        } else {
                            (right.as_ref().clone(), left.as_ref().clone())
                        };
                    let f = if *op == BinaryOperator::Multiply {
                        "omendb_interval_mul"
                    } else {
                        "omendb_interval_div"
                    };
                    *e = crate::ddl::call(f, vec![interval, factor]);
                    Ok(())
                }
                Expr::BinaryOp { left, op, right }
                    if matches!(
                        op,
                        BinaryOperator::AtArrow
                            | BinaryOperator::ArrowAt
                            | BinaryOperator::PGOverlap
                            | BinaryOperator::StringConcat
                    ) =>
                {
                    let t = match (
                        column_type(left, self.scope),
                        column_type(right, self.scope),
                    ) {
                        (Some(t), _) => typed_by(Some(t), right, false).map(|()| Some(t)),
                        (None, Some(t)) => typed_by(Some(t), left, false).map(|()| Some(t)),
                        _ => Ok(None),
                    };
                    // An array's containment as DataFusion's function: its `@>` is planned only
                    // between two known lists, not with a parameter.
                    match (t, &*op) {
                        (Ok(Some(DataType::Array(_))), BinaryOperator::AtArrow) => {
                            let (l, r) = (left.as_ref().clone(), right.as_ref().clone());
                            *e = crate::ddl::call("array_has_all", vec![l, r]);
                            Ok(())
                        }
                        (Ok(Some(DataType::Array(_))), BinaryOperator::ArrowAt) => {
                            let (l, r) = (left.as_ref().clone(), right.as_ref().clone());
                            *e = crate::ddl::call("array_has_all", vec![r, l]);
                            Ok(())
                        }
                        (t, _) => t.map(drop),
                    }
                }
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
                } => match (
                    column_type(left, self.scope),
                    column_type(right, self.scope),
                ) {
                    (Some(t), _) => typed(Some(t), right),
                    (None, Some(t)) => typed(Some(t), left),
                    _ => Ok(()),
                },
                Expr::Function(_) => {
                    crate::whole_rows::expand(e, self.scope);
                    Ok(())
                }
                Expr::InList { expr, list, .. } => {
                    let t = column_type(expr, self.scope);
                    list.iter_mut().try_for_each(|e| typed(t, e))
                }
                Expr::Between {
                    expr, low, high, ..
                } => {
                    let t = column_type(expr, self.scope);
                    typed(t, low).and_then(|_| typed(t, high))
                }
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
