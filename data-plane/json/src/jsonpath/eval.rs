//! Evaluation, following `jsonpath_exec.c` (PostgreSQL 15) function by function.
//!
//! `found` is PostgreSQL's result list: `None` asks only whether anything is found, which lets a
//! step stop at the first hit, exactly where PostgreSQL stops (it decides which later errors are
//! seen). An error is hard when PostgreSQL raises it (`ereport`) and soft when it returns
//! `jperError` (`RETURN_ERROR` with errors suppressed): predicates turn soft errors into unknown.

use super::decimal::Dec;
use super::methods::{binary_arith, method, unary_arith};
use super::pred::{Bool, execute_bool};
use super::{ANY_LAST, Chain, Item, JsonPath, Op};
use crate::error::Error;
use crate::jsonb::Jsonb;
use crate::number::Number;

pub(crate) struct Fail {
    pub(crate) error: Error,
    pub(crate) hard: bool,
}

pub(crate) type Res = Result<bool, Fail>;

pub(crate) struct Cx<'a> {
    pub(crate) root: &'a Jsonb,
    vars: Option<&'a Jsonb>,
    pub(crate) lax: bool,
    pub(crate) ignore_structural: bool,
    pub(crate) throw: bool,
    pub(crate) current: Jsonb,
    last: i64,
}

pub(crate) type Found<'f> = Option<&'f mut Vec<Jsonb>>;

impl Cx<'_> {
    /// `RETURN_ERROR`: raised when errors are thrown, else a soft error.
    pub(crate) fn fail<T>(&self, sqlstate: &'static str, message: String) -> Result<T, Fail> {
        Err(Fail {
            error: Error::new(sqlstate, message),
            hard: self.throw,
        })
    }
}

fn push(found: &mut Found<'_>, v: Jsonb) {
    if let Some(f) = found {
        f.push(v);
    }
}

fn children(v: &Jsonb) -> Vec<&Jsonb> {
    match v {
        Jsonb::Array(items) => items.iter().collect(),
        Jsonb::Object(pairs) => pairs.iter().map(|(_, v)| v).collect(),
        _ => Vec::new(),
    }
}

/// `executeNextItem`: run the rest of the chain after `at` on `v`, or collect `v`.
pub(crate) fn next(cx: &mut Cx, chain: &Chain, at: usize, v: Jsonb, mut found: Found) -> Res {
    if at + 1 < chain.len() {
        execute(cx, chain, at + 1, &v, found.as_deref_mut(), cx.lax)
    } else {
        push(&mut found, v);
        Ok(true)
    }
}

/// `executeAnyItem`: `next` (the chain from an index, or nothing) on the values of a container
/// between nesting levels `first` and `last`.
#[allow(clippy::too_many_arguments)]
fn any_item(
    cx: &mut Cx,
    step: Option<(&Chain, usize)>,
    container: &Jsonb,
    mut found: Found,
    level: u32,
    first: u32,
    last: u32,
    ignore_structural: bool,
    unwrap_next: bool,
) -> Res {
    let mut res = false;
    if level > last {
        return Ok(res);
    }
    for v in children(container) {
        if level >= first || (first == ANY_LAST && last == ANY_LAST && !v.is_container()) {
            match step {
                Some((chain, at)) => {
                    let saved = cx.ignore_structural;
                    if ignore_structural {
                        cx.ignore_structural = true;
                    }
                    let r = execute(cx, chain, at, v, found.as_deref_mut(), unwrap_next);
                    cx.ignore_structural = saved;
                    res = r?;
                    if res && found.is_none() {
                        return Ok(res);
                    }
                }
                None if found.is_some() => push(&mut found, v.clone()),
                None => return Ok(true),
            }
        }
        if level < last && v.is_container() {
            res = any_item(
                cx,
                step,
                v,
                found.as_deref_mut(),
                level + 1,
                first,
                last,
                ignore_structural,
                unwrap_next,
            )?;
            if res && found.is_none() {
                return Ok(res);
            }
        }
    }
    Ok(res)
}

/// `executeItemUnwrapTargetArray`: the current item on each element of an array.
pub(crate) fn unwrap_array(
    cx: &mut Cx,
    chain: &Chain,
    at: usize,
    jb: &Jsonb,
    found: Found,
    unwrap: bool,
) -> Res {
    any_item(cx, Some((chain, at)), jb, found, 1, 1, 1, false, unwrap)
}

/// `executeItemOptUnwrapResult`: the chain's items, arrays among them unwrapped one level in lax
/// mode when `unwrap`.
pub(crate) fn items(
    cx: &mut Cx,
    chain: &Chain,
    jb: &Jsonb,
    unwrap: bool,
) -> Result<Vec<Jsonb>, Fail> {
    let mut seq = Vec::new();
    execute(cx, chain, 0, jb, Some(&mut seq), cx.lax)?;
    if !(unwrap && cx.lax) {
        return Ok(seq);
    }
    let mut out = Vec::with_capacity(seq.len());
    for v in seq {
        match v {
            Jsonb::Array(elems) => out.extend(elems),
            v => out.push(v),
        }
    }
    Ok(out)
}

/// `executeItemOptUnwrapTarget`: item `at` of `chain` on `jb`.
pub(crate) fn execute(
    cx: &mut Cx,
    chain: &Chain,
    at: usize,
    jb: &Jsonb,
    mut found: Found,
    unwrap: bool,
) -> Res {
    let has_next = at + 1 < chain.len();
    match &chain[at] {
        Item::Binary(Op::Add | Op::Sub | Op::Mul | Op::Div | Op::Mod, ..) => {
            binary_arith(cx, chain, at, jb, found)
        }
        Item::Binary(..)
        | Item::Not(_)
        | Item::IsUnknown(_)
        | Item::Exists(_)
        | Item::LikeRegex(..) => {
            let st = execute_bool(cx, &chain[at], jb)?;
            if !has_next && found.is_none() {
                return Ok(true);
            }
            let v = match st {
                Bool::True => Jsonb::Bool(true),
                Bool::False => Jsonb::Bool(false),
                Bool::Unknown => Jsonb::Null,
            };
            next(cx, chain, at, v, found)
        }
        Item::Unary(minus, arg) => unary_arith(cx, chain, at, *minus, arg, jb, found),
        Item::Key(key) => match jb {
            Jsonb::Object(_) => match jb.get(key) {
                Some(v) => next(cx, chain, at, v.clone(), found),
                None if !cx.ignore_structural => Err(Fail {
                    error: Error::new(
                        "2203A",
                        format!("JSON object does not contain key \"{key}\""),
                    ),
                    hard: cx.throw,
                }),
                None => Ok(false),
            },
            Jsonb::Array(_) if unwrap => unwrap_array(cx, chain, at, jb, found, false),
            _ if !cx.ignore_structural => cx.fail(
                "2203A",
                "jsonpath member accessor can only be applied to an object".into(),
            ),
            _ => Ok(false),
        },
        Item::Root => {
            let root = cx.root;
            next(cx, chain, at, root.clone(), found)
        }
        Item::Current => {
            let current = cx.current.clone();
            next(cx, chain, at, current, found)
        }
        Item::AnyArray => match jb {
            Jsonb::Array(_) => {
                let step = has_next.then_some((chain, at + 1));
                any_item(cx, step, jb, found, 1, 1, 1, false, cx.lax)
            }
            _ if cx.lax => next(cx, chain, at, jb.clone(), found),
            _ if !cx.ignore_structural => cx.fail(
                "22039",
                "jsonpath wildcard array accessor can only be applied to an array".into(),
            ),
            _ => Ok(false),
        },
        Item::AnyKey => match jb {
            Jsonb::Object(_) => {
                let step = has_next.then_some((chain, at + 1));
                any_item(cx, step, jb, found, 1, 1, 1, false, cx.lax)
            }
            Jsonb::Array(_) if unwrap => unwrap_array(cx, chain, at, jb, found, false),
            _ if !cx.ignore_structural => cx.fail(
                "2203C",
                "jsonpath wildcard member accessor can only be applied to an object".into(),
            ),
            _ => Ok(false),
        },
        Item::Index(list) => index_array(cx, chain, at, list, jb, found),
        Item::Last => {
            let last = cx.last;
            next(cx, chain, at, Jsonb::Number(Number::from_i64(last)), found)
        }
        Item::Any(first, last) => {
            let mut res = false;
            if *first == 0 {
                let saved = cx.ignore_structural;
                cx.ignore_structural = true;
                let r = next(cx, chain, at, jb.clone(), found.as_deref_mut());
                cx.ignore_structural = saved;
                res = r?;
                if res && found.is_none() {
                    return Ok(res);
                }
            }
            if jb.is_container() {
                let step = has_next.then_some((chain, at + 1));
                res = any_item(cx, step, jb, found, 1, *first, *last, true, cx.lax)?;
            }
            Ok(res)
        }
        Item::Filter(pred) => {
            if unwrap && matches!(jb, Jsonb::Array(_)) {
                return unwrap_array(cx, chain, at, jb, found, false);
            }
            let saved = std::mem::replace(&mut cx.current, jb.clone());
            let st = execute_bool(cx, &pred[0], jb);
            cx.current = saved;
            if st? != Bool::True {
                return Ok(false);
            }
            next(cx, chain, at, jb.clone(), found)
        }
        Item::Null | Item::Bool(_) | Item::Number(_) | Item::String(_) | Item::Variable(_) => {
            if !has_next && found.is_none() && !matches!(chain[at], Item::Variable(_)) {
                return Ok(true);
            }
            let v = literal(cx, &chain[at])?;
            next(cx, chain, at, v, found)
        }
        Item::Method(m) => method(cx, chain, at, *m, jb, found, unwrap),
        Item::Datetime(_) => Err(Fail {
            error: Error::new("0A000", "jsonpath item method .datetime() is not supported"),
            hard: true,
        }),
    }
}

fn literal(cx: &Cx, item: &Item) -> Result<Jsonb, Fail> {
    Ok(match item {
        Item::Null => Jsonb::Null,
        Item::Bool(b) => Jsonb::Bool(*b),
        Item::Number(n) => Jsonb::Number(n.clone()),
        Item::String(s) => Jsonb::String(s.clone()),
        Item::Variable(name) => match cx.vars {
            // PostgreSQL's operators pass no vars at all: every variable is then null.
            None => Jsonb::Null,
            Some(vars) => vars.get(name).cloned().ok_or_else(|| Fail {
                error: Error::new(
                    "42704",
                    format!("could not find jsonpath variable \"{name}\""),
                ),
                hard: true,
            })?,
        },
        _ => Jsonb::Null,
    })
}

/// `getArrayIndex`: a subscript evaluates to one number, truncated to int4.
fn array_index(cx: &mut Cx, chain: &Chain, jb: &Jsonb) -> Result<i64, Fail> {
    let mut found = Vec::new();
    execute(cx, chain, 0, jb, Some(&mut found), cx.lax)?;
    let n = match found.as_slice() {
        [Jsonb::Number(n)] => n.clone(),
        _ => {
            return cx.fail(
                "22033",
                "jsonpath array subscript is not a single numeric value".into(),
            );
        }
    };
    let int = Dec::of(&n).round_to_int(n.as_str().starts_with('-'));
    match int
        .to_number()
        .ok()
        .and_then(|n| n.as_str().parse::<i32>().ok())
    {
        Some(i) => Ok(i64::from(i)),
        None => cx.fail(
            "22033",
            "jsonpath array subscript is out of integer range".into(),
        ),
    }
}

fn index_array(
    cx: &mut Cx,
    chain: &Chain,
    at: usize,
    list: &[(Chain, Option<Chain>)],
    jb: &Jsonb,
    mut found: Found,
) -> Res {
    let elems = match jb {
        Jsonb::Array(items) => Some(items),
        _ if cx.lax => None,
        _ if !cx.ignore_structural => {
            return cx.fail(
                "22039",
                "jsonpath array accessor can only be applied to an array".into(),
            );
        }
        _ => return Ok(false),
    };
    let size = elems.map_or(1, |e| e.len() as i64);
    let saved = std::mem::replace(&mut cx.last, size - 1);
    let mut res = Ok(false);
    for (from, to) in list {
        let r = (|| {
            let from = array_index(cx, from, jb)?;
            let to = match to {
                Some(to) => array_index(cx, to, jb)?,
                None => from,
            };
            if !cx.ignore_structural && (from < 0 || from > to || to >= size) {
                return cx.fail("22033", "jsonpath array subscript is out of bounds".into());
            }
            let mut res = false;
            for i in from.max(0)..=to.min(size - 1) {
                let v = match elems {
                    None => jb,
                    Some(e) => &e[i as usize],
                };
                if at + 1 == chain.len() && found.is_none() {
                    return Ok(true);
                }
                res = next(cx, chain, at, v.clone(), found.as_deref_mut())?;
                if res && found.is_none() {
                    break;
                }
            }
            Ok(res)
        })();
        // PostgreSQL stops at an error, or at the first hit when only asked whether there is one.
        let stop = match r {
            Err(_) => true,
            Ok(hit) => hit && found.is_none(),
        };
        res = r;
        if stop {
            break;
        }
    }
    cx.last = saved;
    res
}

fn check_vars(vars: Option<&Jsonb>) -> Result<(), Error> {
    match vars {
        Some(v) if !matches!(v, Jsonb::Object(_)) => Err(Error {
            sqlstate: "22023",
            message: "\"vars\" argument is not an object".into(),
            detail: Some(
                "Jsonpath parameters should be encoded as key-value pairs of \"vars\" object."
                    .into(),
            ),
            hint: None,
        }),
        _ => Ok(()),
    }
}

/// `executeJsonPath`: `Some(found anything)`, `None` for a suppressed error, `Err` for a raised one.
fn run(
    doc: &Jsonb,
    path: &JsonPath,
    vars: Option<&Jsonb>,
    silent: bool,
    found: Found,
) -> Result<Option<bool>, Error> {
    check_vars(vars)?;
    let mut cx = Cx {
        root: doc,
        vars,
        lax: path.lax,
        ignore_structural: path.lax,
        throw: !silent,
        current: doc.clone(),
        last: -1,
    };
    let r = if !path.lax && found.is_none() {
        let mut vals = Vec::new();
        execute(&mut cx, &path.expr, 0, doc, Some(&mut vals), path.lax).map(|_| !vals.is_empty())
    } else {
        execute(&mut cx, &path.expr, 0, doc, found, path.lax)
    };
    match r {
        Ok(b) => Ok(Some(b)),
        Err(f) if f.hard => Err(f.error),
        Err(_) => Ok(None),
    }
}

/// `jsonb_path_query`: every item the path yields. With `silent`, a suppressed error ends the
/// evaluation and what was found before it is returned, as PostgreSQL does.
pub fn path_query(
    doc: &Jsonb,
    path: &JsonPath,
    vars: Option<&Jsonb>,
    silent: bool,
) -> Result<Vec<Jsonb>, Error> {
    let mut found = Vec::new();
    // A suppressed error keeps what was found before it.
    let _ = run(doc, path, vars, silent, Some(&mut found))?;
    Ok(found)
}

/// `jsonb_path_exists` (and `@?` with `silent` and no vars): `None` when a suppressed error ended it.
pub fn path_exists(
    doc: &Jsonb,
    path: &JsonPath,
    vars: Option<&Jsonb>,
    silent: bool,
) -> Result<Option<bool>, Error> {
    run(doc, path, vars, silent, None)
}

/// `jsonb_path_match` (and `@@` with `silent` and no vars): the single boolean the path yields,
/// `None` for a JSON null (unknown) or, when silent, for anything that is not one boolean.
pub fn path_match(
    doc: &Jsonb,
    path: &JsonPath,
    vars: Option<&Jsonb>,
    silent: bool,
) -> Result<Option<bool>, Error> {
    let mut found = Vec::new();
    // A suppressed error keeps what was found before it.
    let _ = run(doc, path, vars, silent, Some(&mut found))?;
    match found.as_slice() {
        [Jsonb::Bool(b)] => Ok(Some(*b)),
        [Jsonb::Null] => Ok(None),
        _ if silent => Ok(None),
        _ => Err(Error::new("22038", "single boolean result is expected")),
    }
}
