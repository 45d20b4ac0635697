//! Predicates (`executeBoolItem`): three-valued logic, comparisons, `exists`, `like_regex`,
//! `starts with`.

use std::cmp::Ordering;

use super::eval::{Cx, Fail, execute, items};
use super::{Item, Op};
use crate::jsonb::Jsonb;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Bool {
    True,
    False,
    Unknown,
}

/// Runs `f` with errors suppressed (PostgreSQL's `...NoThrow`): they come back soft.
fn no_throw<T>(cx: &mut Cx, f: impl FnOnce(&mut Cx) -> Result<T, Fail>) -> Result<T, Fail> {
    let saved = std::mem::replace(&mut cx.throw, false);
    let r = f(cx);
    cx.throw = saved;
    r
}

pub(crate) fn execute_bool(cx: &mut Cx, item: &Item, jb: &Jsonb) -> Result<Bool, Fail> {
    Ok(match item {
        Item::Binary(Op::And, l, r) => {
            let left = execute_bool(cx, &l[0], jb)?;
            if left == Bool::False {
                return Ok(Bool::False);
            }
            let right = execute_bool(cx, &r[0], jb)?;
            if right == Bool::True { left } else { right }
        }
        Item::Binary(Op::Or, l, r) => {
            let left = execute_bool(cx, &l[0], jb)?;
            if left == Bool::True {
                return Ok(Bool::True);
            }
            let right = execute_bool(cx, &r[0], jb)?;
            if right == Bool::False { left } else { right }
        }
        Item::Not(arg) => match execute_bool(cx, &arg[0], jb)? {
            Bool::True => Bool::False,
            Bool::False => Bool::True,
            Bool::Unknown => Bool::Unknown,
        },
        Item::IsUnknown(arg) => {
            if execute_bool(cx, &arg[0], jb)? == Bool::Unknown {
                Bool::True
            } else {
                Bool::False
            }
        }
        Item::Exists(arg) => {
            if cx.lax {
                match no_throw(cx, |cx| execute(cx, arg, 0, jb, None, false)) {
                    Err(f) if f.hard => return Err(f),
                    Err(_) => Bool::Unknown,
                    Ok(true) => Bool::True,
                    Ok(false) => Bool::False,
                }
            } else {
                let mut vals = Vec::new();
                match no_throw(cx, |cx| execute(cx, arg, 0, jb, Some(&mut vals), false)) {
                    Err(f) if f.hard => return Err(f),
                    Err(_) => Bool::Unknown,
                    Ok(_) if vals.is_empty() => Bool::False,
                    Ok(_) => Bool::True,
                }
            }
        }
        Item::Binary(op, l, r) => {
            let unwrap_right = *op != Op::StartsWith;
            predicate(cx, l, Some((r, unwrap_right)), jb, |a, b| match op {
                Op::StartsWith => starts_with(a, b),
                _ => compare(*op, a, b),
            })?
        }
        Item::LikeRegex(l, regex) => predicate(cx, l, None, jb, |a, _| match a {
            Jsonb::String(s) => {
                if regex.is_match(s) {
                    Bool::True
                } else {
                    Bool::False
                }
            }
            _ => Bool::Unknown,
        })?,
        _ => Bool::Unknown,
    })
}

/// `executePredicate`: lax mode is true on the first true pair and unknown if any pair is; strict
/// mode is unknown on the first unknown pair.
fn predicate(
    cx: &mut Cx,
    left: &super::Chain,
    right: Option<(&super::Chain, bool)>,
    jb: &Jsonb,
    f: impl Fn(&Jsonb, Option<&Jsonb>) -> Bool,
) -> Result<Bool, Fail> {
    let seq = |cx: &mut Cx, chain, unwrap| match no_throw(cx, |cx| items(cx, chain, jb, unwrap)) {
        Ok(v) => Ok(Some(v)),
        Err(f) if f.hard => Err(f),
        Err(_) => Ok(None),
    };
    let Some(lseq) = seq(cx, left, true)? else {
        return Ok(Bool::Unknown);
    };
    let rseq = match right {
        Some((chain, unwrap)) => match seq(cx, chain, unwrap)? {
            Some(v) => Some(v),
            None => return Ok(Bool::Unknown),
        },
        None => None,
    };
    let (mut error, mut found) = (false, false);
    for l in &lseq {
        let rights: Vec<Option<&Jsonb>> = match &rseq {
            Some(r) => r.iter().map(Some).collect(),
            None => vec![None],
        };
        for r in rights {
            match f(l, r) {
                Bool::Unknown if !cx.lax => return Ok(Bool::Unknown),
                Bool::Unknown => error = true,
                Bool::True if cx.lax => return Ok(Bool::True),
                Bool::True => found = true,
                Bool::False => {}
            }
        }
    }
    Ok(if found {
        Bool::True
    } else if error {
        Bool::Unknown
    } else {
        Bool::False
    })
}

fn starts_with(whole: &Jsonb, initial: Option<&Jsonb>) -> Bool {
    match (whole, initial) {
        (Jsonb::String(w), Some(Jsonb::String(i))) => {
            if w.starts_with(i.as_str()) {
                Bool::True
            } else {
                Bool::False
            }
        }
        _ => Bool::Unknown,
    }
}

/// `compareItems`: null against non-null is false (true for `!=`), other mixed types and
/// containers unknown, strings bytewise.
fn compare(op: Op, a: &Jsonb, b: Option<&Jsonb>) -> Bool {
    let Some(b) = b else { return Bool::Unknown };
    let ord = match (a, b) {
        (Jsonb::Null, Jsonb::Null) => Ordering::Equal,
        (Jsonb::Null, _) | (_, Jsonb::Null) => {
            return if op == Op::Ne {
                Bool::True
            } else {
                Bool::False
            };
        }
        (Jsonb::Bool(x), Jsonb::Bool(y)) => x.cmp(y),
        (Jsonb::Number(x), Jsonb::Number(y)) => x.cmp(y),
        (Jsonb::String(x), Jsonb::String(y)) => x.as_bytes().cmp(y.as_bytes()),
        _ => return Bool::Unknown,
    };
    let r = match op {
        Op::Eq => ord == Ordering::Equal,
        Op::Ne => ord != Ordering::Equal,
        Op::Lt => ord == Ordering::Less,
        Op::Le => ord != Ordering::Greater,
        Op::Gt => ord == Ordering::Greater,
        Op::Ge => ord != Ordering::Less,
        _ => return Bool::Unknown,
    };
    if r { Bool::True } else { Bool::False }
}
