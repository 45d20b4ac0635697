//! Which filters the learned index can answer, and the key lookups they become.

use std::ops::Bound;

use datafusion::common::ScalarValue;
use datafusion::logical_expr::{Between, BinaryExpr, Expr, Operator};
use omendb_storage::{Key, KeyKind, KeyRange, Value};

/// How a scan reads the table.
#[derive(Clone, Debug, PartialEq)]
pub enum KeyPlan {
    /// Exactly these keys (ascending, distinct): one learned-index probe each.
    Points(Vec<Key>),
    /// One key range: the learned index finds both ends in every chunk.
    Range(KeyRange),
    /// No usable primary-key predicate.
    Full,
}

/// The key a literal makes for a primary key of `kind`, if it is one (NULL never matches).
fn literal_key(v: &ScalarValue, kind: KeyKind) -> Option<Key> {
    let k = match v {
        ScalarValue::Int8(Some(x)) => Key::Int(i64::from(*x)),
        ScalarValue::Int16(Some(x)) => Key::Int(i64::from(*x)),
        ScalarValue::Int32(Some(x)) => Key::Int(i64::from(*x)),
        ScalarValue::Int64(Some(x)) => Key::Int(*x),
        ScalarValue::UInt8(Some(x)) => Key::Int(i64::from(*x)),
        ScalarValue::UInt16(Some(x)) => Key::Int(i64::from(*x)),
        ScalarValue::UInt32(Some(x)) => Key::Int(i64::from(*x)),
        ScalarValue::UInt64(Some(x)) => Key::Int(i64::try_from(*x).ok()?),
        ScalarValue::Date32(Some(x)) => Key::Int(i64::from(*x)),
        ScalarValue::TimestampMicrosecond(Some(x), _) => Key::Int(*x),
        ScalarValue::Time64Nanosecond(Some(x)) => Key::Int(*x),
        ScalarValue::Utf8(Some(s))
        | ScalarValue::LargeUtf8(Some(s))
        | ScalarValue::Utf8View(Some(s)) => Key::Bytes(s.as_bytes().to_vec()),
        ScalarValue::Binary(Some(b))
        | ScalarValue::LargeBinary(Some(b))
        | ScalarValue::BinaryView(Some(b)) => Key::Bytes(b.clone()),
        _ => return None,
    };
    (k.kind() == kind).then_some(k)
}

fn is_pk(e: &Expr, pk: &str) -> bool {
    matches!(e, Expr::Column(c) if c.name == pk)
}

fn literal(e: &Expr, kind: KeyKind) -> Option<Key> {
    match e {
        Expr::Literal(v, _) => literal_key(v, kind),
        _ => None,
    }
}

/// The plan for one filter, or `None` when the learned index cannot answer it exactly.
pub(crate) fn plan_filter(e: &Expr, pk: &str, kind: KeyKind) -> Option<KeyPlan> {
    match e {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
            if *op == Operator::Or {
                let (KeyPlan::Points(mut a), KeyPlan::Points(b)) =
                    (plan_filter(left, pk, kind)?, plan_filter(right, pk, kind)?)
                else {
                    return None;
                };
                a.extend(b);
                a.sort();
                a.dedup();
                return Some(KeyPlan::Points(a));
            }
            if *op == Operator::And {
                return Some(intersect(
                    plan_filter(left, pk, kind)?,
                    plan_filter(right, pk, kind)?,
                ));
            }
            // Normalise to `pk <op> literal`.
            let (op, k) = if is_pk(left, pk) {
                (*op, literal(right, kind)?)
            } else if is_pk(right, pk) {
                (op.swap()?, literal(left, kind)?)
            } else {
                return None;
            };
            Some(match op {
                Operator::Eq => KeyPlan::Points(vec![k]),
                Operator::Lt => KeyPlan::Range(KeyRange::new(Bound::Unbounded, Bound::Excluded(k))),
                Operator::LtEq => {
                    KeyPlan::Range(KeyRange::new(Bound::Unbounded, Bound::Included(k)))
                }
                Operator::Gt => KeyPlan::Range(KeyRange::new(Bound::Excluded(k), Bound::Unbounded)),
                Operator::GtEq => {
                    KeyPlan::Range(KeyRange::new(Bound::Included(k), Bound::Unbounded))
                }
                _ => return None,
            })
        }
        Expr::InList(list) if !list.negated && is_pk(&list.expr, pk) => {
            let mut keys = list
                .list
                .iter()
                .map(|e| literal(e, kind))
                .collect::<Option<Vec<_>>>()?;
            keys.sort();
            keys.dedup();
            Some(KeyPlan::Points(keys))
        }
        Expr::Between(Between {
            expr,
            negated: false,
            low,
            high,
        }) if is_pk(expr, pk) => {
            let (lo, hi) = (literal(low, kind)?, literal(high, kind)?);
            Some(KeyPlan::Range(KeyRange::new(
                Bound::Included(lo),
                Bound::Included(hi),
            )))
        }
        _ => None,
    }
}

/// Both plans at once (filters are ANDed).
pub(crate) fn intersect(a: KeyPlan, b: KeyPlan) -> KeyPlan {
    match (a, b) {
        (KeyPlan::Full, x) | (x, KeyPlan::Full) => x,
        (KeyPlan::Points(p), KeyPlan::Points(q)) => {
            KeyPlan::Points(p.into_iter().filter(|k| q.contains(k)).collect())
        }
        (KeyPlan::Points(p), KeyPlan::Range(r)) | (KeyPlan::Range(r), KeyPlan::Points(p)) => {
            KeyPlan::Points(p.into_iter().filter(|k| r.contains(k)).collect())
        }
        (KeyPlan::Range(r), KeyPlan::Range(s)) => KeyPlan::Range(r.intersect(&s)),
    }
}

/// A literal as the engine value a secondary index compares (NULL never matches; decimals and floats are
/// left to the scan, their scale and precision being the column's).
fn index_value(v: &ScalarValue) -> Option<Value> {
    Some(match v {
        ScalarValue::Int8(Some(x)) => Value::Int64(i64::from(*x)),
        ScalarValue::Int16(Some(x)) => Value::Int64(i64::from(*x)),
        ScalarValue::Int32(Some(x)) => Value::Int64(i64::from(*x)),
        ScalarValue::Int64(Some(x)) => Value::Int64(*x),
        ScalarValue::Boolean(Some(b)) => Value::Bool(*b),
        ScalarValue::Date32(Some(x)) => Value::Date(*x),
        ScalarValue::TimestampMicrosecond(Some(x), _) => Value::Timestamp(*x),
        ScalarValue::Time64Nanosecond(Some(x)) => Value::Time(*x),
        ScalarValue::Utf8(Some(s))
        | ScalarValue::LargeUtf8(Some(s))
        | ScalarValue::Utf8View(Some(s)) => Value::Text(s.clone()),
        ScalarValue::Binary(Some(b))
        | ScalarValue::LargeBinary(Some(b))
        | ScalarValue::BinaryView(Some(b)) => Value::Bytes(b.clone()),
        _ => return None,
    })
}

/// `column = literal` (either way round) or `column IN (literals)`: the column and the values it must
/// equal, which a secondary index over the column can look up.
pub(crate) fn equality(e: &Expr) -> Option<(&str, Vec<Value>)> {
    match e {
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::Eq,
            right,
        }) => match (left.as_ref(), right.as_ref()) {
            (Expr::Column(c), Expr::Literal(v, _)) | (Expr::Literal(v, _), Expr::Column(c)) => {
                Some((c.name.as_str(), vec![index_value(v)?]))
            }
            _ => None,
        },
        Expr::InList(l) if !l.negated => {
            let Expr::Column(c) = l.expr.as_ref() else {
                return None;
            };
            let values = l
                .list
                .iter()
                .map(|e| match e {
                    Expr::Literal(v, _) => index_value(v),
                    _ => None,
                })
                .collect::<Option<Vec<_>>>()?;
            Some((c.name.as_str(), values))
        }
        _ => None,
    }
}

/// `column < literal` (any comparison, either way round) or `column BETWEEN a AND b`: the column and the
/// bounds it must lie within, which a secondary index over the column can scan.
pub(crate) fn comparison(e: &Expr) -> Option<(&str, Bound<Value>, Bound<Value>)> {
    match e {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
            let (column, op, v) = match (left.as_ref(), right.as_ref()) {
                (Expr::Column(c), Expr::Literal(v, _)) => (c, *op, v),
                (Expr::Literal(v, _), Expr::Column(c)) => (c, op.swap()?, v),
                _ => return None,
            };
            let v = index_value(v)?;
            let (lo, hi) = match op {
                Operator::Lt => (Bound::Unbounded, Bound::Excluded(v)),
                Operator::LtEq => (Bound::Unbounded, Bound::Included(v)),
                Operator::Gt => (Bound::Excluded(v), Bound::Unbounded),
                Operator::GtEq => (Bound::Included(v), Bound::Unbounded),
                _ => return None,
            };
            Some((column.name.as_str(), lo, hi))
        }
        Expr::Between(Between {
            expr,
            negated: false,
            low,
            high,
        }) => {
            let Expr::Column(c) = expr.as_ref() else {
                return None;
            };
            let (Expr::Literal(lo, _), Expr::Literal(hi, _)) = (low.as_ref(), high.as_ref()) else {
                return None;
            };
            Some((
                c.name.as_str(),
                Bound::Included(index_value(lo)?),
                Bound::Included(index_value(hi)?),
            ))
        }
        _ => None,
    }
}
