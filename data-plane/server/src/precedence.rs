//! Operator precedence sqlparser gets wrong for PostgreSQL. It parses the right side of `IS [NOT] DISTINCT
//! FROM` as a whole expression, so `a IS DISTINCT FROM b OR c` became `a IS DISTINCT FROM (b OR c)` (a type
//! error, or a wrong answer). PostgreSQL binds IS tighter than AND and OR. A parenthesised right side
//! parses as `Nested`, so an AND or OR directly under it can only come from the missing precedence; the
//! tree is rotated back after parsing.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{BinaryOperator, Expr, Statement, VisitMut, VisitorMut};

struct Rotate;

impl VisitorMut for Rotate {
    type Break = ();

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        if let Expr::IsDistinctFrom(_, right) | Expr::IsNotDistinctFrom(_, right) = expr
            && is_and_or(right)
        {
            let taken = std::mem::replace(
                expr,
                Expr::Value(datafusion::sql::sqlparser::ast::Value::Null.into()),
            );
            *expr = rotate(taken);
        }
        ControlFlow::Continue(())
    }
}

fn is_and_or(e: &Expr) -> bool {
    matches!(
        e,
        Expr::BinaryOp {
            op: BinaryOperator::And | BinaryOperator::Or,
            ..
        }
    )
}

/// `a IS DISTINCT FROM (l op r)` → `(a IS DISTINCT FROM l) op r`, down the left spine of the AND/OR tree.
fn rotate(e: Expr) -> Expr {
    let (left, right, negated) = match e {
        Expr::IsDistinctFrom(l, r) => (l, r, false),
        Expr::IsNotDistinctFrom(l, r) => (l, r, true),
        other => return other,
    };
    match *right {
        Expr::BinaryOp {
            left: inner,
            op: op @ (BinaryOperator::And | BinaryOperator::Or),
            right: rest,
        } => Expr::BinaryOp {
            left: Box::new(rotate(if negated {
                Expr::IsNotDistinctFrom(left, inner)
            } else {
                Expr::IsDistinctFrom(left, inner)
            })),
            op,
            right: rest,
        },
        r if negated => Expr::IsNotDistinctFrom(left, Box::new(r)),
        r => Expr::IsDistinctFrom(left, Box::new(r)),
    }
}

pub fn fix_statements(stmts: &mut [Statement]) {
    for s in stmts {
        let _ = s.visit(&mut Rotate);
    }
}

pub fn fix_expr(e: &mut Expr) {
    let _ = e.visit(&mut Rotate);
}

#[cfg(test)]
mod tests {
    use datafusion::sql::sqlparser::ast::{
        BinaryOperator as Op, Expr, SelectItem, SetExpr, Statement,
    };
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    fn item(sql: &str) -> Expr {
        let mut s = Parser::parse_sql(&PostgreSqlDialect {}, sql).unwrap();
        super::fix_statements(&mut s);
        let Statement::Query(q) = &s[0] else { panic!() };
        let SetExpr::Select(sel) = q.body.as_ref() else {
            panic!()
        };
        let SelectItem::UnnamedExpr(e) = &sel.projection[0] else {
            panic!()
        };
        e.clone()
    }

    #[test]
    fn is_distinct_from_binds_tighter_than_and_or() {
        // (a IS DISTINCT FROM 1) OR b
        let Expr::BinaryOp {
            left, op: Op::Or, ..
        } = item("SELECT a IS DISTINCT FROM 1 OR b")
        else {
            panic!()
        };
        assert!(matches!(*left, Expr::IsDistinctFrom(..)));
        // ((a IS NOT DISTINCT FROM 1) AND b) OR c
        let Expr::BinaryOp {
            left, op: Op::Or, ..
        } = item("SELECT a IS NOT DISTINCT FROM 1 AND b OR c")
        else {
            panic!()
        };
        let Expr::BinaryOp {
            left, op: Op::And, ..
        } = *left
        else {
            panic!()
        };
        assert!(matches!(*left, Expr::IsNotDistinctFrom(..)));
        // Parenthesised, the right side stays whole.
        assert!(matches!(
            item("SELECT a IS DISTINCT FROM (1 OR b)"),
            Expr::IsDistinctFrom(..)
        ));
    }
}
