//! The set-returning json functions (`jsonb_array_elements`, `jsonb_each`, `jsonb_object_keys` and their
//! `_text` and json forms) as the unnest of the lists `omendb_json_elements` and friends return. Unnest does
//! not carry a json mark through, so each element is marked again (`omendb_json` / `omendb_jsonb`); in FROM
//! the function is a LATERAL subquery doing that, which PostgreSQL's reading of a function over an earlier
//! FROM item's columns is anyway.

use datafusion::sql::sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, ObjectNamePart, Query, TableAlias, TableFactor,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;

use crate::ddl::call;

/// What one of the functions returns.
struct Shape {
    /// The list function its elements come from.
    list: &'static str,
    /// The function marking an element as json or jsonb (`None`: text).
    mark: Option<&'static str>,
    /// `jsonb_each`: key and value lists, side by side.
    pairs: Option<&'static str>,
    /// The output column's name in FROM (PostgreSQL's OUT parameter), if it has one.
    column: Option<&'static str>,
}

fn shape(name: &str) -> Option<Shape> {
    let (json, rest) = if let Some(r) = name.strip_prefix("jsonb_") {
        (false, r)
    } else {
        (true, name.strip_prefix("json_")?)
    };
    let mark = Some(if json { "omendb_json" } else { "omendb_jsonb" });
    Some(match rest {
        "array_elements" => Shape {
            list: "omendb_json_elements",
            mark,
            pairs: None,
            column: Some("value"),
        },
        "array_elements_text" => Shape {
            list: "omendb_json_elements_text",
            mark: None,
            pairs: None,
            column: Some("value"),
        },
        "object_keys" => Shape {
            list: "omendb_json_keys",
            mark: None,
            pairs: None,
            column: None,
        },
        "each" => Shape {
            list: "omendb_json_keys",
            mark,
            pairs: Some("omendb_json_values"),
            column: None,
        },
        "each_text" => Shape {
            list: "omendb_json_keys",
            mark: None,
            pairs: Some("omendb_json_values_text"),
            column: None,
        },
        "path_query" if !json => Shape {
            list: "omendb_jsonb_path_query",
            mark,
            pairs: None,
            column: None,
        },
        _ => return None,
    })
}

fn function_name(f: &datafusion::sql::sqlparser::ast::ObjectName) -> Option<String> {
    match f.0.last()? {
        ObjectNamePart::Identifier(i) => Some(i.value.to_lowercase()),
        _ => None,
    }
}

/// `jsonb_array_elements(x)` in a select list: `omendb_jsonb(unnest(omendb_json_elements(x)))`.
pub fn select_list(e: &mut Expr) {
    let Expr::Function(f) = e else { return };
    let Some(name) = function_name(&f.name) else {
        return;
    };
    let Some(shape) = shape(&name) else { return };
    if shape.pairs.is_some() || f.over.is_some() {
        // A record per row: not in a select list here.
        return;
    }
    let Some(args) = super::positional_args(f) else {
        return;
    };
    let unnested = call("unnest", vec![call(shape.list, args)]);
    *e = match shape.mark {
        Some(m) => call(m, vec![unnested]),
        None => unnested,
    };
}

/// `FROM ..., jsonb_each(t.doc) AS e`: a LATERAL subquery over the unnest, with PostgreSQL's column names.
pub fn from_factor(t: &mut TableFactor) -> bool {
    // `CROSS JOIN LATERAL jsonb_each(t.doc)`: the same, as a plain function in FROM.
    if let TableFactor::Function {
        name,
        args,
        with_ordinality: false,
        alias,
        ..
    } = t
    {
        let mut plain = TableFactor::Table {
            name: name.clone(),
            alias: alias.clone(),
            args: Some(datafusion::sql::sqlparser::ast::TableFunctionArgs {
                args: args.clone(),
                settings: None,
            }),
            with_hints: vec![],
            version: None,
            with_ordinality: false,
            partitions: vec![],
            json_path: None,
            sample: None,
            index_hints: vec![],
        };
        if from_factor(&mut plain) {
            *t = plain;
            return true;
        }
        return false;
    }
    let TableFactor::Table {
        name,
        args: Some(args),
        alias,
        with_ordinality: false,
        ..
    } = t
    else {
        return false;
    };
    let Some(fname) = function_name(name) else {
        return false;
    };
    let Some(shape) = shape(&fname) else {
        return false;
    };
    let args: Vec<String> = args
        .args
        .iter()
        .filter_map(|a| match a {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e.to_string()),
            _ => None,
        })
        .collect();
    let args = args.join(", ");
    let mark = |col: &str| match shape.mark {
        Some(m) => format!("{m}(u.{col})"),
        None => format!("u.{col}"),
    };
    let sql = match shape.pairs {
        Some(values) => format!(
            "SELECT u.key AS key, {} AS value FROM unnest({}({args}), {values}({args})) AS u(key, value)",
            mark("value"),
            shape.list
        ),
        None => {
            let column = match (shape.column, &*alias) {
                (Some(c), _) => c.to_string(),
                (None, Some(a)) if a.columns.is_empty() => a.name.value.clone(),
                _ => fname.clone(),
            };
            format!(
                "SELECT {} AS \"{column}\" FROM unnest({}({args})) AS u(value)",
                mark("value"),
                shape.list
            )
        }
    };
    let Ok(query) = Parser::new(&PostgreSqlDialect {})
        .try_with_sql(&sql)
        .and_then(|mut p| p.parse_query())
    else {
        return false;
    };
    let alias = alias.take().unwrap_or_else(|| TableAlias {
        explicit: true,
        name: datafusion::sql::sqlparser::ast::Ident::new(fname),
        columns: vec![],
        at: None,
    });
    *t = TableFactor::Derived {
        lateral: true,
        subquery: Box::new(*query as Query),
        alias: Some(alias),
        sample: None,
    };
    true
}
