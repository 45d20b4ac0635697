//! PostgreSQL's json and jsonb in queries: which values are json (an Arrow extension name on the field, see
//! `omendb_storage::EXTENSION_KEY`), the casts, operators (`planner.rs`), functions (`functions.rs`),
//! SQL values as JSON (`convert.rs`) and the aggregates (`aggregates.rs`). The documents themselves are
//! parsed, compared and edited by `omendb-json`.

mod aggregates;
mod convert;
mod functions;
mod lists;
mod path_functions;
mod planner;
mod set_returning;
mod sort;
mod udf;

use std::sync::Arc;

use arrow_schema::Field;
use datafusion::error::DataFusionError;
use datafusion::execution::SessionStateBuilder;
use datafusion::logical_expr::planner::ExprPlanner;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast;
use omendb_storage::{EXTENSION_KEY, JSON_EXTENSION, JSONB_EXTENSION};

pub use aggregates::rewrite as rewrite_aggregate;
pub use functions::RECORD_JSON;
pub use lists::RECORD_LIST;
pub use set_returning::{
    from_factor as rewrite_from_function, select_list as rewrite_set_returning,
};
pub use sort::jsonb_sorts;

/// Which of PostgreSQL's two JSON types a value has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Json,
    Jsonb,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Json => "json",
            Kind::Jsonb => "jsonb",
        }
    }

    fn extension(self) -> &'static str {
        match self {
            Kind::Json => JSON_EXTENSION,
            Kind::Jsonb => JSONB_EXTENSION,
        }
    }
}

/// The JSON type a field holds, if it is json or jsonb.
pub fn kind_of(field: &Field) -> Option<Kind> {
    match field.metadata().get(EXTENSION_KEY)?.as_str() {
        JSON_EXTENSION => Some(Kind::Json),
        JSONB_EXTENSION => Some(Kind::Jsonb),
        _ => None,
    }
}

/// A text field marked as holding `kind`.
pub fn marked(field: Field, kind: Kind) -> Field {
    let mut meta = field.metadata().clone();
    meta.insert(EXTENSION_KEY.into(), kind.extension().into());
    field.with_metadata(meta)
}

/// Registers the functions alone (what a column DEFAULT's casts need).
pub fn register_functions(ctx: &SessionContext) {
    functions::register(ctx);
}

/// Registers the functions and operators on a session. The operators' planner goes first, before
/// DataFusion's own (whose field access would take `doc['key']` as a list index), so this replaces `ctx`
/// with a context over the same state: call it before anything holds on to the context's state.
pub fn register(ctx: &mut SessionContext) -> datafusion::error::Result<()> {
    let functions = functions::register(ctx);
    let state = ctx.state();
    let mut planners: Vec<Arc<dyn ExprPlanner>> =
        vec![Arc::new(planner::JsonOperators { functions })];
    planners.extend(state.expr_planners().iter().cloned());
    let mut builder = SessionStateBuilder::new_from_existing(state);
    *builder.expr_planners() = Some(planners);
    *ctx = SessionContext::new_with_state(builder.build());
    Ok(())
}

/// A document that does not parse, with PostgreSQL's SQLSTATE, DETAIL and CONTEXT.
fn parse_error(e: omendb_json::ParseError) -> DataFusionError {
    DataFusionError::External(Box::new(omendb_storage::Error::from(e)))
}

/// An error a jsonb function raises (`cannot delete from scalar`), with its SQLSTATE.
fn function_error(e: omendb_json::Error) -> DataFusionError {
    let mut err = crate::error::Error::sql(e.sqlstate, e.message);
    if let Some(d) = e.detail {
        err = err.with_detail(d);
    }
    if let Some(h) = e.hint {
        err = err.with_hint(h);
    }
    DataFusionError::External(Box::new(err))
}

fn sql_error_hint(code: &'static str, message: &str, hint: String) -> DataFusionError {
    DataFusionError::External(Box::new(
        crate::error::Error::sql(code, message.to_string()).with_hint(hint),
    ))
}

fn sql_error(code: &'static str, message: impl Into<String>) -> DataFusionError {
    DataFusionError::External(Box::new(crate::error::Error::sql(code, message.into())))
}

/// How PostgreSQL names the type of a value of Arrow type `t`, for errors.
fn sql_type_name(t: &arrow_schema::DataType) -> &'static str {
    use arrow_schema::DataType as A;
    crate::typing::numeric_name(t).unwrap_or(match t {
        A::Boolean => "boolean",
        A::Binary | A::LargeBinary => "bytea",
        A::Date32 => "date",
        A::Timestamp(_, Some(_)) => "timestamp with time zone",
        A::Timestamp(_, None) => "timestamp without time zone",
        A::Interval(_) => "interval",
        A::List(_) => "anyarray",
        _ => "text",
    })
}

/// A json or jsonb value's binary wire form: jsonb's is a version byte (1) before the text.
pub fn binary_cell(array: &arrow_array::ArrayRef, row: usize, jsonb: bool) -> Option<Vec<u8>> {
    use arrow_array::Array;
    let a = array.as_any().downcast_ref::<arrow_array::StringArray>()?;
    if a.is_null(row) {
        return None;
    }
    let mut out = Vec::with_capacity(a.value(row).len() + 1);
    if jsonb {
        out.push(1);
    }
    out.extend_from_slice(a.value(row).as_bytes());
    Some(out)
}

/// A call's positional arguments (`None` when it has no argument list).
pub(crate) fn positional_args(
    f: &datafusion::sql::sqlparser::ast::Function,
) -> Option<Vec<ast::Expr>> {
    let ast::FunctionArguments::List(list) = &f.args else {
        return None;
    };
    Some(
        list.args
            .iter()
            .filter_map(|a| match a {
                ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => Some(e.clone()),
                _ => None,
            })
            .collect(),
    )
}
