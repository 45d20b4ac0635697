//! The lists behind the set-returning json functions (`set_returning.rs` unnests them) and the last step
//! of the JSON aggregates (`aggregates.rs`: the values' JSON texts, gathered by array_agg, into one document).

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::error::Result;
use datafusion::logical_expr::{ScalarUDF, Volatility};
use datafusion::prelude::SessionContext;
use omendb_json::Jsonb;

use super::convert::{key_text, quoted};
use super::functions::{Doc, doc};
use super::udf::{Out, Ret, any_of};
use super::{Kind, parse_error, sql_error};

/// Registers them into `registered` (by name).
/// `json_agg` of whole rows (`whole_rows.rs`).
pub const RECORD_LIST: &str = "omendb_json_record_list";

pub fn register(ctx: &SessionContext, registered: &mut HashMap<&'static str, Arc<ScalarUDF>>) {
    let mut add = |name: &'static str, signature, ret, strict, body| {
        registered.insert(
            name,
            super::udf::register(ctx, name, signature, ret, strict, body),
        );
    };
    let imm = Volatility::Immutable;
    for (name, part) in [
        ("omendb_json_elements", Part::Elements),
        ("omendb_json_elements_text", Part::ElementsText),
        ("omendb_json_keys", Part::Keys),
        ("omendb_json_values", Part::Values),
        ("omendb_json_values_text", Part::ValuesText),
    ] {
        add(
            name,
            any_of(&[1], imm),
            Ret::List,
            true,
            Arc::new(move |a, row| {
                let Some(d) = doc(a, 0, row)? else {
                    return Ok(Out::Null);
                };
                parts(d, part).map(Out::List)
            }),
        );
    }
    // json_agg's separator: a record or an array after the first starts a new line (json_agg_transfn).
    for (name, kind, separator) in [
        ("omendb_json_list", Kind::Json, ", "),
        (RECORD_LIST, Kind::Json, ", \n "),
        ("omendb_jsonb_list", Kind::Jsonb, ", "),
    ] {
        add(
            name,
            any_of(&[1], imm),
            Ret::Kind(kind),
            true,
            Arc::new(move |a, row| {
                let Some(items) = a.list(0, row)? else {
                    return Ok(Out::Null);
                };
                let texts = super::udf::texts(&items);
                Ok(Out::Text(format!(
                    "[{}]",
                    texts
                        .iter()
                        .map(|t| t.as_deref().unwrap_or("null"))
                        .collect::<Vec<_>>()
                        .join(separator)
                )))
            }),
        );
    }
    for (name, kind) in [
        ("omendb_json_object_list", Kind::Json),
        ("omendb_jsonb_object_list", Kind::Jsonb),
    ] {
        add(
            name,
            any_of(&[2], imm),
            Ret::Kind(kind),
            true,
            Arc::new(move |a, row| {
                let (Some(keys), Some(values)) = (a.list(0, row)?, a.list(1, row)?) else {
                    return Ok(Out::Null);
                };
                let values = super::udf::texts(&values);
                let mut pairs = Vec::with_capacity(values.len());
                for (j, v) in values.into_iter().enumerate() {
                    if keys.is_null(j) {
                        return Err(sql_error("22004", "field name must not be null"));
                    }
                    pairs.push((key_text(&keys, j, 1)?, v.unwrap_or_else(|| "null".into())));
                }
                Ok(Out::Text(match kind {
                    Kind::Json => {
                        let body: Vec<String> = pairs
                            .iter()
                            .map(|(k, v)| format!("{} : {v}", quoted(k)))
                            .collect();
                        format!("{{ {} }}", body.join(", "))
                    }
                    Kind::Jsonb => Jsonb::object(
                        pairs
                            .into_iter()
                            .map(|(k, v)| Ok((k, Jsonb::parse(&v).map_err(parse_error)?)))
                            .collect::<Result<Vec<_>>>()?,
                    )
                    .to_string(),
                }))
            }),
        );
    }
}

/// Which part of a document a set-returning function returns.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Elements,
    ElementsText,
    Keys,
    Values,
    ValuesText,
}

/// A document's elements, keys or values as texts, or PostgreSQL's error for a document of the wrong shape.
fn parts(d: Doc, part: Part) -> Result<Vec<Option<String>>> {
    use omendb_json::NodeValue as N;
    let shape_error = |d: &Doc| {
        let (json, what) = match d {
            Doc::Json(n) => (true, n.type_name()),
            Doc::Jsonb(j) => (false, j.type_name()),
        };
        let a = match what {
            "array" => "an array",
            "object" => "an object",
            _ => "a scalar",
        };
        let prefix = if json { "json" } else { "jsonb" };
        sql_error(
            "22023",
            match part {
                Part::Elements | Part::ElementsText if json => {
                    format!("cannot call {prefix}_array_elements on a non-array")
                }
                Part::Elements | Part::ElementsText => {
                    format!("cannot extract elements from {a}")
                }
                Part::Keys => format!("cannot call {prefix}_object_keys on {a}"),
                Part::Values | Part::ValuesText if json => {
                    format!("cannot deconstruct {a} as an object")
                }
                Part::Values | Part::ValuesText => {
                    format!("cannot call {prefix}_each on a non-object")
                }
            },
        )
    };
    Ok(match &d {
        Doc::Json(n) => match (&n.value, part) {
            (N::Array(items), Part::Elements) => {
                items.iter().map(|i| Some(i.raw.to_string())).collect()
            }
            (N::Array(items), Part::ElementsText) => items.iter().map(|i| i.as_text()).collect(),
            (N::Object(pairs), Part::Keys) => pairs.iter().map(|(k, _)| Some(k.clone())).collect(),
            (N::Object(pairs), Part::Values) => {
                pairs.iter().map(|(_, v)| Some(v.raw.to_string())).collect()
            }
            (N::Object(pairs), Part::ValuesText) => {
                pairs.iter().map(|(_, v)| v.as_text()).collect()
            }
            _ => return Err(shape_error(&d)),
        },
        Doc::Jsonb(j) => match (j, part) {
            (Jsonb::Array(items), Part::Elements) => {
                items.iter().map(|i| Some(i.to_string())).collect()
            }
            (Jsonb::Array(items), Part::ElementsText) => {
                items.iter().map(|i| i.as_text()).collect()
            }
            (Jsonb::Object(pairs), Part::Keys) => {
                pairs.iter().map(|(k, _)| Some(k.clone())).collect()
            }
            (Jsonb::Object(pairs), Part::Values) => {
                pairs.iter().map(|(_, v)| Some(v.to_string())).collect()
            }
            (Jsonb::Object(pairs), Part::ValuesText) => {
                pairs.iter().map(|(_, v)| v.as_text()).collect()
            }
            _ => return Err(shape_error(&d)),
        },
    })
}
