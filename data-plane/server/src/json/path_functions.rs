//! SQL/JSON path: `jsonb_path_exists`, `jsonb_path_match`, `jsonb_path_query` (set-returning, see
//! `set_returning.rs`), `jsonb_path_query_array`, `jsonb_path_query_first`, the `@?` and `@@` operators
//! (`planner.rs`) and `::jsonpath`. The paths are parsed and run by `omendb-json`; a jsonpath value is its
//! normalised text here.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::error::Result;
use datafusion::logical_expr::{ScalarUDF, Volatility};
use datafusion::prelude::SessionContext;
use omendb_json::{JsonPath, Jsonb};

use super::udf::{Args, Out, Ret, any_of};
use super::{Kind, function_error, parse_error};

#[derive(Clone, Copy, PartialEq, Eq)]
enum What {
    Exists,
    Match,
    Array,
    First,
    /// The items, as a list to unnest.
    Items,
}

/// Registers them into `registered` (by name).
pub fn register(ctx: &SessionContext, registered: &mut HashMap<&'static str, Arc<ScalarUDF>>) {
    let mut add = |name: &'static str, signature, ret, strict, body| {
        registered.insert(
            name,
            super::udf::register(ctx, name, signature, ret, strict, body),
        );
    };
    for (name, what, operator) in [
        ("jsonb_path_exists", What::Exists, false),
        ("jsonb_path_match", What::Match, false),
        ("jsonb_path_query_array", What::Array, false),
        ("jsonb_path_query_first", What::First, false),
        ("omendb_jsonb_path_query", What::Items, false),
        // `@?` and `@@`: silent, as PostgreSQL's operators are.
        ("omendb_jsonb_path_exists_op", What::Exists, true),
        ("omendb_jsonb_path_match_op", What::Match, true),
    ] {
        let ret = match what {
            What::Exists | What::Match => Ret::Bool,
            What::Array | What::First => Ret::Kind(Kind::Jsonb),
            What::Items => Ret::List,
        };
        add(
            name,
            any_of(
                if operator { &[2] } else { &[2, 3, 4] },
                Volatility::Immutable,
            ),
            ret,
            true,
            Arc::new(move |a, row| run(a, row, what, operator)),
        );
    }
    add(
        "omendb_jsonpath",
        any_of(&[1], Volatility::Immutable),
        Ret::Text,
        true,
        Arc::new(|a, row| {
            let Some(s) = a.str(0, row) else {
                return Ok(Out::Null);
            };
            Ok(Out::Text(
                JsonPath::parse(s).map_err(parse_error)?.to_string(),
            ))
        }),
    );
}

fn run(a: &Args, row: usize, what: What, operator: bool) -> Result<Out> {
    let (Some(doc), Some(path)) = (a.jsonb(0, row)?, a.str(1, row)) else {
        return Ok(Out::Null);
    };
    let path = JsonPath::parse(path).map_err(parse_error)?;
    let vars = if a.len() > 2 { a.jsonb(2, row)? } else { None };
    let silent = operator || (a.len() > 3 && a.bool(3, row).unwrap_or(false));
    let vars = vars.as_ref();
    Ok(match what {
        What::Exists => {
            match omendb_json::path_exists(&doc, &path, vars, silent).map_err(function_error)? {
                Some(b) => Out::Bool(b),
                None => Out::Null,
            }
        }
        What::Match => {
            match omendb_json::path_match(&doc, &path, vars, silent).map_err(function_error)? {
                Some(b) => Out::Bool(b),
                None => Out::Null,
            }
        }
        What::Array => Out::Text(
            Jsonb::Array(
                omendb_json::path_query(&doc, &path, vars, silent).map_err(function_error)?,
            )
            .to_string(),
        ),
        What::First => match omendb_json::path_query(&doc, &path, vars, silent)
            .map_err(function_error)?
            .into_iter()
            .next()
        {
            Some(j) => Out::Text(j.to_string()),
            None => Out::Null,
        },
        What::Items => Out::List(
            omendb_json::path_query(&doc, &path, vars, silent)
                .map_err(function_error)?
                .into_iter()
                .map(|j| Some(j.to_string()))
                .collect(),
        ),
    })
}
