//! Arithmetic (`executeBinaryArithmExpr`, `executeUnaryArithmExpr`) and the item methods.
//!
//! Arithmetic is exact decimal with numeric's result scales ([`Dec`]).

use super::decimal::{ArithError, Dec};
use super::eval::{Cx, Fail, Found, Res, items, next, unwrap_array};
use super::{Chain, Item, Method, Op};
use crate::error::Error;
use crate::jsonb::Jsonb;
use crate::number::Number;

fn arith_error(cx: &Cx, e: ArithError) -> Fail {
    let (sqlstate, message) = match e {
        ArithError::DivisionByZero => ("22012", "division by zero"),
        ArithError::Overflow => ("22003", "value overflows numeric format"),
    };
    Fail {
        error: Error::new(sqlstate, message),
        hard: cx.throw,
    }
}

pub(super) fn binary_arith(cx: &mut Cx, chain: &Chain, at: usize, jb: &Jsonb, found: Found) -> Res {
    let Item::Binary(op, l, r) = &chain[at] else {
        return Ok(false);
    };
    let lseq = items(cx, l, jb, true)?;
    let rseq = items(cx, r, jb, true)?;
    let single = |seq: &[Jsonb]| match seq {
        [Jsonb::Number(n)] => Some(Dec::of(n)),
        _ => None,
    };
    let Some(a) = single(&lseq) else {
        return cx.fail(
            "22038",
            format!(
                "left operand of jsonpath operator {} is not a single numeric value",
                op.name()
            ),
        );
    };
    let Some(b) = single(&rseq) else {
        return cx.fail(
            "22038",
            format!(
                "right operand of jsonpath operator {} is not a single numeric value",
                op.name()
            ),
        );
    };
    let value = match op {
        Op::Add => Ok(a.add(&b)),
        Op::Sub => Ok(a.sub(&b)),
        Op::Mul => Ok(a.mul(&b)),
        Op::Div => a.div(&b),
        _ => a.rem(&b),
    };
    let n = value
        .and_then(|v| v.to_number())
        .map_err(|e| arith_error(cx, e))?;
    if at + 1 == chain.len() && found.is_none() {
        return Ok(true);
    }
    next(cx, chain, at, Jsonb::Number(n), found)
}

#[allow(clippy::too_many_arguments)]
pub(super) fn unary_arith(
    cx: &mut Cx,
    chain: &Chain,
    at: usize,
    minus: bool,
    arg: &Chain,
    jb: &Jsonb,
    mut found: Found,
) -> Res {
    let seq = items(cx, arg, jb, true)?;
    let has_next = at + 1 < chain.len();
    let mut res = false;
    for v in seq {
        let Jsonb::Number(n) = v else {
            if found.is_none() && !has_next {
                continue;
            }
            return cx.fail(
                "2203B",
                format!(
                    "operand of unary jsonpath operator {} is not a numeric value",
                    if minus { "-" } else { "+" }
                ),
            );
        };
        if found.is_none() && !has_next {
            return Ok(true);
        }
        let n = if minus {
            Dec::of(&n).neg().to_number().unwrap_or(n)
        } else {
            n
        };
        if next(cx, chain, at, Jsonb::Number(n), found.as_deref_mut())? {
            if found.is_none() {
                return Ok(true);
            }
            res = true;
        }
    }
    Ok(res)
}

/// float8in's acceptance, for `.double()`: finite values only.
fn float8(text: &str) -> Option<f64> {
    let t = text.trim();
    let lower = t.to_ascii_lowercase();
    if lower.contains("inf") || lower.contains("nan") {
        return None;
    }
    t.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// `float8_numeric`: the double printed with 15 significant digits (`%.15g`), read as numeric.
fn float8_numeric(v: f64) -> Option<Number> {
    let s = format!("{v:.14e}");
    let (mantissa, exp) = s.split_once('e')?;
    let mantissa = if mantissa.contains('.') {
        mantissa.trim_end_matches('0').trim_end_matches('.')
    } else {
        mantissa
    };
    Number::parse(&format!("{mantissa}e{exp}"))
}

pub(super) fn method(
    cx: &mut Cx,
    chain: &Chain,
    at: usize,
    m: Method,
    jb: &Jsonb,
    found: Found,
    unwrap: bool,
) -> Res {
    let name = m.name();
    match m {
        Method::Type => next(cx, chain, at, Jsonb::String(jb.type_name().into()), found),
        Method::Size => {
            let size = match jb {
                Jsonb::Array(items) => items.len() as i64,
                _ if cx.lax => 1,
                _ if !cx.ignore_structural => {
                    return cx.fail(
                        "22039",
                        format!("jsonpath item method .{name}() can only be applied to an array"),
                    );
                }
                _ => return Ok(false),
            };
            next(cx, chain, at, Jsonb::Number(Number::from_i64(size)), found)
        }
        _ if unwrap && matches!(jb, Jsonb::Array(_)) => {
            unwrap_array(cx, chain, at, jb, found, false)
        }
        Method::Double => {
            let v = match jb {
                Jsonb::Number(n) => match float8(n.as_str()) {
                    Some(_) => jb.clone(),
                    None => return cx.fail(
                        "22036",
                        format!("numeric argument of jsonpath item method .{name}() is out of range for type double precision"),
                    ),
                },
                Jsonb::String(s) => match float8(s).and_then(float8_numeric) {
                    Some(n) => Jsonb::Number(n),
                    None => return cx.fail(
                        "22036",
                        format!("string argument of jsonpath item method .{name}() is not a valid representation of a double precision number"),
                    ),
                },
                _ => return cx.fail(
                    "22036",
                    format!("jsonpath item method .{name}() can only be applied to a string or numeric value"),
                ),
            };
            next(cx, chain, at, v, found)
        }
        Method::Abs | Method::Floor | Method::Ceiling => {
            let Jsonb::Number(n) = jb else {
                return cx.fail(
                    "22036",
                    format!(
                        "jsonpath item method .{name}() can only be applied to a numeric value"
                    ),
                );
            };
            let d = Dec::of(n);
            let d = match m {
                Method::Abs => d.abs(),
                Method::Floor => d.round_to_int(false),
                _ => d.round_to_int(true),
            };
            let n = d.to_number().map_err(|e| arith_error(cx, e))?;
            next(cx, chain, at, Jsonb::Number(n), found)
        }
        Method::KeyValue => keyvalue(cx, chain, at, jb, found),
    }
}

fn keyvalue(cx: &mut Cx, chain: &Chain, at: usize, jb: &Jsonb, mut found: Found) -> Res {
    let Jsonb::Object(pairs) = jb else {
        return cx.fail(
            "2203C",
            "jsonpath item method .keyvalue() can only be applied to an object".into(),
        );
    };
    // PostgreSQL's id is the object's byte offset in its jsonb binary; only the root's (0) is known.
    let id = 0;
    let mut res = false;
    for (k, v) in pairs {
        let obj = Jsonb::object(vec![
            ("id".into(), Jsonb::Number(Number::from_i64(id))),
            ("key".into(), Jsonb::String(k.clone())),
            ("value".into(), v.clone()),
        ]);
        res = next(cx, chain, at, obj, found.as_deref_mut())?;
        if res && found.is_none() {
            break;
        }
    }
    Ok(res)
}
