//! `char(n)` as PostgreSQL reads it. Values are stored blank-padded to `n` and shown so, but wherever
//! PostgreSQL reads a `char(n)` value as text its trailing spaces do not count: comparisons (`c = 'ab'` is
//! true for `'ab  '`), `length`, `||`, casts to text, other text functions. `octet_length` and `LIKE` see
//! the padding, as PostgreSQL's do. A column's field carries the mark (storage `BPCHAR_EXTENSION`), which a
//! cast to text drops; this pass rewrites the planned expressions over marked values.

use arrow_schema::Field;
use datafusion::common::DFSchema;
use datafusion::common::tree_node::Transformed;
use datafusion::error::Result;
use datafusion::logical_expr::expr::{InList, ScalarFunction};
use datafusion::logical_expr::{BinaryExpr, Cast, Expr, ExprSchemable, LogicalPlan, Operator};
use datafusion::scalar::ScalarValue;

/// The length `n` of a `char(n)` value's field.
fn char_len(field: &Field) -> Option<usize> {
    let m = field.metadata();
    if m.get(omendb_storage::EXTENSION_KEY).map(String::as_str)
        != Some(omendb_storage::BPCHAR_EXTENSION)
    {
        return None;
    }
    m.get(omendb_storage::BPCHAR_LEN_KEY)?.parse().ok()
}

fn len_of(e: &Expr, schema: &DFSchema) -> Option<usize> {
    let (_, f) = e.to_field(schema).ok()?;
    char_len(&f)
}

/// `e` without its trailing spaces (what PostgreSQL's bpchar-to-text cast gives).
fn trimmed(e: Expr) -> Expr {
    datafusion::functions::string::expr_fn::rtrim(vec![
        e,
        Expr::Literal(ScalarValue::Utf8(Some(" ".into())), None),
    ])
}

/// A text literal as the `char(n)` value it compares as, when it is one (its text without trailing
/// spaces fits in `n`): padded to `n`, so the stored values and indexes compare with it as they are.
fn padded(e: &Expr, n: usize) -> Option<Expr> {
    let Expr::Literal(ScalarValue::Utf8(Some(s)), meta) = e else {
        return None;
    };
    let t = s.trim_end_matches(' ');
    let chars = t.chars().count();
    (chars <= n).then(|| {
        Expr::Literal(
            ScalarValue::Utf8(Some(format!("{t}{}", " ".repeat(n - chars)))),
            meta.clone(),
        )
    })
}

fn rewrite(e: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    match e {
        Expr::BinaryExpr(b) if crate::plan_exprs::is_comparison(b.op) => {
            let (l, r) = (len_of(&b.left, schema), len_of(&b.right, schema));
            let Some(n) = l.or(r) else {
                return Ok(Transformed::no(Expr::BinaryExpr(b)));
            };
            // A column against a literal that fits: the literal padded (keeps index and key lookups).
            let literal = if l.is_some() { &b.right } else { &b.left };
            if (l.is_none() || r.is_none())
                && let Some(p) = padded(literal, n)
            {
                let (left, right) = if l.is_some() {
                    (b.left, Box::new(p))
                } else {
                    (Box::new(p), b.right)
                };
                return Ok(Transformed::yes(Expr::BinaryExpr(BinaryExpr::new(
                    left, b.op, right,
                ))));
            }
            Ok(Transformed::yes(Expr::BinaryExpr(BinaryExpr::new(
                Box::new(trimmed(*b.left)),
                b.op,
                Box::new(trimmed(*b.right)),
            ))))
        }
        Expr::BinaryExpr(b) if b.op == Operator::StringConcat => {
            let (l, r) = (len_of(&b.left, schema), len_of(&b.right, schema));
            if l.is_none() && r.is_none() {
                return Ok(Transformed::no(Expr::BinaryExpr(b)));
            }
            let side = |e: Box<Expr>, marked: bool| {
                if marked { Box::new(trimmed(*e)) } else { e }
            };
            Ok(Transformed::yes(Expr::BinaryExpr(BinaryExpr::new(
                side(b.left, l.is_some()),
                b.op,
                side(b.right, r.is_some()),
            ))))
        }
        Expr::InList(InList {
            expr,
            list,
            negated,
        }) => {
            let Some(n) = len_of(&expr, schema) else {
                return Ok(Transformed::no(Expr::InList(InList {
                    expr,
                    list,
                    negated,
                })));
            };
            if list.iter().all(|i| padded(i, n).is_some()) {
                let list = list.iter().filter_map(|i| padded(i, n)).collect();
                return Ok(Transformed::yes(Expr::InList(InList {
                    expr,
                    list,
                    negated,
                })));
            }
            Ok(Transformed::yes(Expr::InList(InList {
                expr: Box::new(trimmed(*expr)),
                list: list.into_iter().map(trimmed).collect(),
                negated,
            })))
        }
        // `c::text`, `c::varchar`: PostgreSQL's cast drops the padding.
        Expr::Cast(Cast { expr, field })
            if len_of(&expr, schema).is_some()
                && matches!(
                    field.data_type(),
                    arrow_schema::DataType::Utf8
                        | arrow_schema::DataType::LargeUtf8
                        | arrow_schema::DataType::Utf8View
                ) =>
        {
            Ok(Transformed::yes(Expr::Cast(Cast {
                expr: Box::new(trimmed(*expr)),
                field,
            })))
        }
        // Text functions read a char(n) argument as text; `octet_length` counts the padding.
        Expr::ScalarFunction(f)
            if f.name() != "octet_length"
                && f.name() != "rtrim"
                && f.args.iter().any(|a| len_of(a, schema).is_some()) =>
        {
            let args = f
                .args
                .into_iter()
                .map(|a| {
                    if len_of(&a, schema).is_some() {
                        trimmed(a)
                    } else {
                        a
                    }
                })
                .collect();
            Ok(Transformed::yes(Expr::ScalarFunction(
                ScalarFunction::new_udf(f.func, args),
            )))
        }
        e => Ok(Transformed::no(e)),
    }
}

/// `plan` with PostgreSQL's `char(n)` rules (see the module's comment).
pub fn semantics(plan: LogicalPlan) -> Result<LogicalPlan> {
    crate::plan_exprs::rewrite(plan, &rewrite, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_that_fit_are_padded() {
        let lit = |s: &str| Expr::Literal(ScalarValue::Utf8(Some(s.into())), None);
        assert_eq!(padded(&lit("ab"), 4), Some(lit("ab  ")));
        assert_eq!(padded(&lit("ab      "), 4), Some(lit("ab  ")));
        assert_eq!(padded(&lit("abcde"), 4), None);
        assert_eq!(padded(&lit(""), 2), Some(lit("  ")));
    }
}
