//! The json and jsonb functions, and the functions the operators are planned into (`omendb_json_get` is
//! `->`, see `planner.rs`). A json value's operators answer from its text as given; jsonb's from the
//! canonical document.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::error::Result;
use datafusion::logical_expr::{ScalarUDF, Signature, Volatility};
use datafusion::prelude::SessionContext;
use omendb_json::{Jsonb, Node};

use super::convert::{key_text, quoted, to_json_text};
use super::udf::{Args, Out, Ret, any_of, register as udf_register};
use super::{Kind, function_error, parse_error, sql_error};

/// A document argument: json keeps its text, anything else is read as jsonb.
pub(super) enum Doc<'a> {
    Json(Node<'a>),
    Jsonb(Jsonb),
}

/// Argument `i` as a document. PostgreSQL's json operators re-read the text and fail on escapes `json_in`
/// lets through (a lone surrogate, `\u0000`); its `json_typeof` and the like do not (`strict`).
fn doc_read(args: &Args, i: usize, row: usize, strict: bool) -> Result<Option<Doc<'_>>> {
    let Some(s) = args.str(i, row) else {
        return Ok(None);
    };
    Ok(Some(match args.kind(i) {
        Some(Kind::Json) if strict => Doc::Json(omendb_json::parse_strict(s).map_err(parse_error)?),
        Some(Kind::Json) => Doc::Json(omendb_json::parse(s).map_err(parse_error)?),
        _ => Doc::Jsonb(Jsonb::parse(s).map_err(parse_error)?),
    }))
}

pub(super) fn doc(args: &Args, i: usize, row: usize) -> Result<Option<Doc<'_>>> {
    doc_read(args, i, row, true)
}

fn text(s: Option<String>) -> Out {
    s.map_or(Out::Null, Out::Text)
}

fn jsonb_out(j: Option<&Jsonb>) -> Out {
    j.map_or(Out::Null, |j| Out::Text(j.to_string()))
}

fn node_out(n: Option<&Node>) -> Out {
    n.map_or(Out::Null, |n| Out::Text(n.raw.to_string()))
}

/// A key argument of `->` / `->>` / `-`: text, or an integer array position.
enum Step {
    Key(String),
    Index(i64),
}

fn step(args: &Args, i: usize, row: usize) -> Option<Step> {
    if let Some(s) = args.str(i, row) {
        return Some(Step::Key(s.to_string()));
    }
    args.int(i, row).map(Step::Index)
}

fn path_refs(path: &[Option<String>]) -> Vec<Option<&str>> {
    path.iter().map(|p| p.as_deref()).collect()
}

/// Registers them; returns them by name for the operators (`planner.rs`).
pub fn register(ctx: &SessionContext) -> HashMap<&'static str, Arc<ScalarUDF>> {
    let mut registered = HashMap::new();
    let mut add = |ctx: &SessionContext,
                   name: &'static str,
                   signature: Signature,
                   ret: Ret,
                   strict: bool,
                   body: Arc<super::udf::Body>| {
        registered.insert(name, udf_register(ctx, name, signature, ret, strict, body));
    };
    let imm = Volatility::Immutable;
    // json -> key, json ->> key (and the jsonb ones).
    for (name, as_text) in [("omendb_json_get", false), ("omendb_json_get_text", true)] {
        add(
            ctx,
            name,
            any_of(&[2], imm),
            if as_text { Ret::Text } else { Ret::Same },
            true,
            Arc::new(move |a, row| {
                let (Some(d), Some(s)) = (doc(a, 0, row)?, step(a, 1, row)) else {
                    return Ok(Out::Null);
                };
                Ok(match (d, s, as_text) {
                    (Doc::Json(n), Step::Key(k), false) => node_out(n.get(&k)),
                    (Doc::Json(n), Step::Index(i), false) => node_out(n.index(i)),
                    (Doc::Json(n), Step::Key(k), true) => text(n.get(&k).and_then(|v| v.as_text())),
                    (Doc::Json(n), Step::Index(i), true) => {
                        text(n.index(i).and_then(|v| v.as_text()))
                    }
                    (Doc::Jsonb(j), Step::Key(k), false) => jsonb_out(j.get(&k)),
                    (Doc::Jsonb(j), Step::Index(i), false) => jsonb_out(j.index(i)),
                    (Doc::Jsonb(j), Step::Key(k), true) => {
                        text(j.get(&k).and_then(|v| v.as_text()))
                    }
                    (Doc::Jsonb(j), Step::Index(i), true) => {
                        text(j.index(i).and_then(|v| v.as_text()))
                    }
                })
            }),
        );
    }
    // json #> path, json #>> path, and json_extract_path(doc, VARIADIC path).
    for (name, as_text, variadic, ret) in [
        ("omendb_json_path", false, false, Ret::Same),
        ("omendb_json_path_text", true, false, Ret::Text),
        ("json_extract_path", false, true, Ret::Kind(Kind::Json)),
        ("json_extract_path_text", true, true, Ret::Text),
        ("jsonb_extract_path", false, true, Ret::Kind(Kind::Jsonb)),
        ("jsonb_extract_path_text", true, true, Ret::Text),
    ] {
        add(
            ctx,
            name,
            if variadic {
                Signature::variadic_any(imm)
            } else {
                any_of(&[2], imm)
            },
            ret,
            !variadic,
            Arc::new(move |a, row| {
                let path = if variadic {
                    (1..a.len())
                        .map(|i| a.str(i, row).map(str::to_string))
                        .collect()
                } else {
                    match a.path(1, row)? {
                        Some(p) => p,
                        None => return Ok(Out::Null),
                    }
                };
                let path = path_refs(&path);
                let Some(d) = doc(a, 0, row)? else {
                    return Ok(Out::Null);
                };
                Ok(match (d, as_text) {
                    (Doc::Json(n), false) => node_out(n.path(&path)),
                    (Doc::Json(n), true) => text(n.path(&path).and_then(|v| v.as_text())),
                    (Doc::Jsonb(j), false) => jsonb_out(j.path(&path)),
                    (Doc::Jsonb(j), true) => text(j.path(&path).and_then(|v| v.as_text())),
                })
            }),
        );
    }
    add(
        ctx,
        "omendb_jsonb_contains",
        any_of(&[2], imm),
        Ret::Bool,
        true,
        Arc::new(|a, row| {
            let (Some(x), Some(y)) = (a.jsonb(0, row)?, a.jsonb(1, row)?) else {
                return Ok(Out::Null);
            };
            Ok(Out::Bool(x.contains(&y)))
        }),
    );
    add(
        ctx,
        "omendb_jsonb_exists",
        any_of(&[2], imm),
        Ret::Bool,
        true,
        Arc::new(|a, row| {
            let (Some(x), Some(k)) = (a.jsonb(0, row)?, a.str(1, row)) else {
                return Ok(Out::Null);
            };
            Ok(Out::Bool(x.exists(k)))
        }),
    );
    for (name, all) in [
        ("omendb_jsonb_exists_any", false),
        ("omendb_jsonb_exists_all", true),
    ] {
        add(
            ctx,
            name,
            any_of(&[2], imm),
            Ret::Bool,
            true,
            Arc::new(move |a, row| {
                let (Some(x), Some(keys)) = (a.jsonb(0, row)?, a.path(1, row)?) else {
                    return Ok(Out::Null);
                };
                // NULL elements are ignored, as in PostgreSQL.
                let mut keys = keys.iter().flatten();
                Ok(Out::Bool(if all {
                    keys.all(|k| x.exists(k))
                } else {
                    keys.any(|k| x.exists(k))
                }))
            }),
        );
    }
    add(
        ctx,
        "omendb_jsonb_concat",
        any_of(&[2], imm),
        Ret::Kind(Kind::Jsonb),
        true,
        Arc::new(|a, row| {
            let (Some(x), Some(y)) = (a.jsonb(0, row)?, a.jsonb(1, row)?) else {
                return Ok(Out::Null);
            };
            Ok(Out::Text(x.concat(y).to_string()))
        }),
    );
    add(
        ctx,
        "omendb_jsonb_delete",
        any_of(&[2], imm),
        Ret::Kind(Kind::Jsonb),
        true,
        Arc::new(|a, row| {
            let Some(x) = a.jsonb(0, row)? else {
                return Ok(Out::Null);
            };
            let out = if let Some(k) = a.str(1, row) {
                x.delete_key(k)
            } else if let Some(i) = a.int(1, row) {
                x.delete_index(i)
            } else {
                let Some(keys) = a.path(1, row)? else {
                    return Ok(Out::Null);
                };
                let keys: Vec<&str> = keys.iter().flatten().map(String::as_str).collect();
                x.delete_keys(&keys)
            };
            Ok(Out::Text(out.map_err(function_error)?.to_string()))
        }),
    );
    add(
        ctx,
        "omendb_jsonb_delete_path",
        any_of(&[2], imm),
        Ret::Kind(Kind::Jsonb),
        true,
        Arc::new(|a, row| {
            let (Some(x), Some(path)) = (a.jsonb(0, row)?, a.path(1, row)?) else {
                return Ok(Out::Null);
            };
            Ok(Out::Text(
                x.delete_path(&path_refs(&path))
                    .map_err(function_error)?
                    .to_string(),
            ))
        }),
    );
    add(
        ctx,
        "omendb_jsonb_cmp",
        any_of(&[2], imm),
        Ret::Int,
        true,
        Arc::new(|a, row| {
            let (Some(x), Some(y)) = (a.jsonb(0, row)?, a.jsonb(1, row)?) else {
                return Ok(Out::Null);
            };
            Ok(Out::Int(x.compare(&y) as i32))
        }),
    );
    // The casts: `x::json` checks text and keeps it; `x::jsonb` makes the canonical document.
    add(
        ctx,
        "omendb_json",
        any_of(&[1], imm),
        Ret::Kind(Kind::Json),
        true,
        Arc::new(|a, row| {
            let Some(s) = a.str(0, row) else {
                return Err(cannot_cast(a, "json"));
            };
            if a.kind(0).is_none() {
                omendb_json::parse(s).map_err(parse_error)?;
            }
            Ok(Out::Text(s.to_string()))
        }),
    );
    add(
        ctx,
        "omendb_jsonb",
        any_of(&[1], imm),
        Ret::Kind(Kind::Jsonb),
        true,
        Arc::new(|a, row| match a.jsonb(0, row)? {
            Some(j) => Ok(Out::Text(j.to_string())),
            None => Err(cannot_cast(a, "jsonb")),
        }),
    );
    for (name, kind) in [("to_jsonb", Kind::Jsonb), ("to_json", Kind::Json)] {
        add(
            ctx,
            name,
            any_of(&[1], Volatility::Stable),
            Ret::Kind(kind),
            true,
            Arc::new(move |a, row| {
                Ok(Out::Text(match kind {
                    Kind::Jsonb => a.value(0, row)?.to_string(),
                    Kind::Json => to_json_text(a.array(0), a.kind(0), row, &a.zone)?,
                }))
            }),
        );
    }
    for (name, kind) in [
        ("jsonb_build_object", Kind::Jsonb),
        ("json_build_object", Kind::Json),
    ] {
        add(
            ctx,
            name,
            Signature::variadic_any(Volatility::Stable),
            Ret::Kind(kind),
            false,
            Arc::new(move |a, row| build_object(a, row, kind).map(Out::Text)),
        );
    }
    // A whole row's JSON (`row_to_json(t)`, `to_json(t)`: `whole_rows.rs` spells the row out as names
    // and values), written as PostgreSQL writes a record: `{"a":1,"b":"x"}`.
    add(
        ctx,
        RECORD_JSON,
        Signature::variadic_any(Volatility::Stable),
        Ret::Kind(Kind::Json),
        false,
        Arc::new(|a, row| record(a, row).map(Out::Text)),
    );
    for (name, kind) in [
        ("jsonb_build_array", Kind::Jsonb),
        ("json_build_array", Kind::Json),
    ] {
        add(
            ctx,
            name,
            Signature::variadic_any(Volatility::Stable),
            Ret::Kind(kind),
            false,
            Arc::new(move |a, row| {
                Ok(Out::Text(match kind {
                    Kind::Jsonb => Jsonb::Array(
                        (0..a.len())
                            .map(|i| a.value(i, row))
                            .collect::<Result<_>>()?,
                    )
                    .to_string(),
                    Kind::Json => format!(
                        "[{}]",
                        (0..a.len())
                            .map(|i| to_json_text(a.array(i), a.kind(i), row, &a.zone))
                            .collect::<Result<Vec<_>>>()?
                            .join(", ")
                    ),
                }))
            }),
        );
    }
    for name in ["jsonb_typeof", "json_typeof"] {
        add(
            ctx,
            name,
            any_of(&[1], imm),
            Ret::Text,
            true,
            Arc::new(|a, row| {
                Ok(match doc_read(a, 0, row, false)? {
                    Some(Doc::Json(n)) => Out::Text(n.type_name().into()),
                    Some(Doc::Jsonb(j)) => Out::Text(j.type_name().into()),
                    None => Out::Null,
                })
            }),
        );
    }
    for name in ["jsonb_array_length", "json_array_length"] {
        add(
            ctx,
            name,
            any_of(&[1], imm),
            Ret::Int,
            true,
            Arc::new(|a, row| {
                let Some(j) = a.jsonb(0, row)? else {
                    return Ok(Out::Null);
                };
                let n = j.array_len().map_err(function_error)?;
                Ok(Out::Int(i32::try_from(n).unwrap_or(i32::MAX)))
            }),
        );
    }
    add(
        ctx,
        "jsonb_set",
        any_of(&[3, 4], imm),
        Ret::Kind(Kind::Jsonb),
        true,
        Arc::new(|a, row| {
            let (Some(x), Some(path), Some(new)) =
                (a.jsonb(0, row)?, a.path(1, row)?, a.jsonb(2, row)?)
            else {
                return Ok(Out::Null);
            };
            let create = a.len() < 4 || a.bool(3, row).unwrap_or(false);
            Ok(Out::Text(
                x.set(&path_refs(&path), new, create)
                    .map_err(function_error)?
                    .to_string(),
            ))
        }),
    );
    add(
        ctx,
        "jsonb_insert",
        any_of(&[3, 4], imm),
        Ret::Kind(Kind::Jsonb),
        true,
        Arc::new(|a, row| {
            let (Some(x), Some(path), Some(new)) =
                (a.jsonb(0, row)?, a.path(1, row)?, a.jsonb(2, row)?)
            else {
                return Ok(Out::Null);
            };
            let after = a.len() == 4 && a.bool(3, row).unwrap_or(false);
            Ok(Out::Text(
                x.insert(&path_refs(&path), new, after)
                    .map_err(function_error)?
                    .to_string(),
            ))
        }),
    );
    add(
        ctx,
        "jsonb_strip_nulls",
        any_of(&[1], imm),
        Ret::Kind(Kind::Jsonb),
        true,
        Arc::new(|a, row| Ok(jsonb_out(a.jsonb(0, row)?.map(Jsonb::strip_nulls).as_ref()))),
    );
    add(
        ctx,
        "jsonb_pretty",
        any_of(&[1], imm),
        Ret::Text,
        true,
        Arc::new(|a, row| Ok(text(a.jsonb(0, row)?.map(|j| j.pretty())))),
    );
    super::lists::register(ctx, &mut registered);
    super::path_functions::register(ctx, &mut registered);
    registered
}

/// `json_build_object` / `jsonb_build_object`: keys are text, values their JSON form. json's is written as
/// PostgreSQL writes it (`{"a" : 1, "b" : 2}`, keys in call order, duplicates kept).
fn build_object(a: &Args, row: usize, kind: Kind) -> Result<String> {
    if !a.len().is_multiple_of(2) {
        let name = match kind {
            Kind::Json => "json_build_object",
            Kind::Jsonb => "jsonb_build_object",
        };
        return Err(super::sql_error_hint(
            "22023",
            "argument list must have even number of elements",
            format!("The arguments of {name}() must consist of alternating keys and values."),
        ));
    }
    match kind {
        Kind::Jsonb => {
            let mut pairs = Vec::with_capacity(a.len() / 2);
            for i in (0..a.len()).step_by(2) {
                pairs.push((key_text(a.array(i), row, i + 1)?, a.value(i + 1, row)?));
            }
            Ok(Jsonb::object(pairs).to_string())
        }
        Kind::Json => object_text(a, row, ", ", " : "),
    }
}

/// A json object of alternating keys and values, its pairs and each key and value separated as given.
fn object_text(a: &Args, row: usize, between: &str, colon: &str) -> Result<String> {
    let mut out = String::from("{");
    for i in (0..a.len()).step_by(2) {
        if i > 0 {
            out.push_str(between);
        }
        out.push_str(&quoted(&key_text(a.array(i), row, i + 1)?));
        out.push_str(colon);
        out.push_str(&to_json_text(a.array(i + 1), a.kind(i + 1), row, &a.zone)?);
    }
    out.push('}');
    Ok(out)
}

/// The function `whole_rows.rs` spells a row's JSON with: alternating column names and values.
pub const RECORD_JSON: &str = "omendb_record_json";

/// A record's json text: composite_to_json's, with no spaces.
fn record(a: &Args, row: usize) -> Result<String> {
    object_text(a, row, ",", ":")
}

/// `x::json` of a value that is not text: PostgreSQL has no such cast.
fn cannot_cast(a: &Args, to: &str) -> datafusion::error::DataFusionError {
    let from = super::sql_type_name(a.array(0).data_type());
    sql_error("42846", format!("cannot cast type {from} to {to}"))
}
