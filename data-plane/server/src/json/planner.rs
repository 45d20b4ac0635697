//! The json and jsonb operators, planned as PostgreSQL resolves them: an operand that is a json value
//! (marked field) picks the operator; an untyped literal or parameter on the other side takes the type the
//! operator wants (`data @> '{"a": 1}'` reads the literal as jsonb); anything else is 42883, as there is no
//! such operator.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_schema::{DataType, Field};
use datafusion::common::DFSchema;
use datafusion::error::Result;
use datafusion::logical_expr::GetFieldAccess;
use datafusion::logical_expr::expr::{Placeholder, ScalarFunction};
use datafusion::logical_expr::planner::{
    ExprPlanner, PlannerResult, RawBinaryExpr, RawFieldAccessExpr,
};
use datafusion::logical_expr::{Expr, ExprSchemable, Operator, ScalarUDF, binary_expr, lit};
use datafusion::sql::sqlparser::ast::BinaryOperator as B;

use super::{Kind, kind_of, sql_error};

/// The operators, over the json functions registered on the session (by name).
#[derive(Debug)]
pub struct JsonOperators {
    pub functions: HashMap<&'static str, Arc<ScalarUDF>>,
}

/// What an operand is, as far as the json operators care.
enum Operand {
    Json(Kind),
    /// A quoted literal or a parameter: its type comes from the operator.
    Untyped,
    Other(DataType),
}

fn operand(e: &Expr, schema: &DFSchema) -> Operand {
    let mut inner = e;
    while let Expr::Alias(a) = inner {
        inner = &a.expr;
    }
    match inner {
        Expr::Placeholder(p) if p.field.is_none() => return Operand::Untyped,
        Expr::Literal(v, _) if v.is_null() || super::convert::is_text(&v.data_type()) => {
            return Operand::Untyped;
        }
        _ => {}
    }
    match e.to_field(schema) {
        Ok((_, f)) => match kind_of(&f) {
            Some(k) => Operand::Json(k),
            None if matches!(inner, Expr::Placeholder(_))
                && super::convert::is_text(f.data_type()) =>
            {
                Operand::Untyped
            }
            None => Operand::Other(f.data_type().clone()),
        },
        Err(_) => Operand::Other(DataType::Null),
    }
}

/// `e` with a parameter of unknown type typed as text (the operator reads it).
fn as_text(e: Expr) -> Expr {
    match e {
        Expr::Placeholder(Placeholder { id, field: None }) => Expr::Placeholder(
            Placeholder::new_with_field(id, Some(Arc::new(Field::new("", DataType::Utf8, true)))),
        ),
        e => e,
    }
}

impl ExprPlanner for JsonOperators {
    /// `doc['key']`, `doc[0]`: jsonb's subscripts are `->`.
    fn plan_field_access(
        &self,
        expr: RawFieldAccessExpr,
        schema: &DFSchema,
    ) -> Result<PlannerResult<RawFieldAccessExpr>> {
        let key = match (&expr.field_access, operand(&expr.expr, schema)) {
            (_, Operand::Json(Kind::Json)) => {
                return Err(sql_error(
                    "42804",
                    "cannot subscript type json because it does not support subscripting",
                ));
            }
            (GetFieldAccess::NamedStructField { name }, Operand::Json(Kind::Jsonb)) => {
                Expr::Literal(name.clone(), None)
            }
            (GetFieldAccess::ListIndex { key }, Operand::Json(Kind::Jsonb)) => (**key).clone(),
            _ => return Ok(PlannerResult::Original(expr)),
        };
        Ok(PlannerResult::Planned(Expr::ScalarFunction(
            ScalarFunction::new_udf(
                self.functions["omendb_json_get"].clone(),
                vec![expr.expr, as_text(key)],
            ),
        )))
    }

    fn plan_binary_op(
        &self,
        expr: RawBinaryExpr,
        schema: &DFSchema,
    ) -> Result<PlannerResult<RawBinaryExpr>> {
        let udf_call = |name: &str, args: Vec<Expr>| {
            Expr::ScalarFunction(ScalarFunction::new_udf(self.functions[name].clone(), args))
        };
        let RawBinaryExpr { op, left, right } = expr;
        if matches!(op, B::Eq | B::NotEq | B::Lt | B::LtEq | B::Gt | B::GtEq) {
            uuid_against_text(&left, &op, &right, schema)?;
        }
        let (l, r) = (operand(&left, schema), operand(&right, schema));
        let json_side = matches!(l, Operand::Json(_)) || matches!(r, Operand::Json(_));
        let name = |op: &B| op.to_string();
        let planned = match &op {
            B::Arrow | B::LongArrow | B::HashArrow | B::HashLongArrow => {
                let (Operand::Json(_) | Operand::Untyped) = l else {
                    return Err(no_operator(&l, &name(&op), &r));
                };
                let f = match op {
                    B::Arrow => "omendb_json_get",
                    B::LongArrow => "omendb_json_get_text",
                    B::HashArrow => "omendb_json_path",
                    _ => "omendb_json_path_text",
                };
                let left = match l {
                    Operand::Untyped => udf_call("omendb_jsonb", vec![as_text(left)]),
                    _ => left,
                };
                udf_call(f, vec![left, as_text(right)])
            }
            B::AtArrow | B::ArrowAt if json_side || both_untyped(&l, &r) => {
                jsonb_pair(&l, &r, &op)?;
                let (a, b) = if op == B::AtArrow {
                    (left, right)
                } else {
                    (right, left)
                };
                udf_call("omendb_jsonb_contains", vec![as_text(a), as_text(b)])
            }
            B::Question | B::QuestionPipe | B::QuestionAnd => {
                let (Operand::Json(Kind::Jsonb) | Operand::Untyped) = l else {
                    return Err(no_operator(&l, &name(&op), &r));
                };
                let f = match op {
                    B::Question => "omendb_jsonb_exists",
                    B::QuestionPipe => "omendb_jsonb_exists_any",
                    _ => "omendb_jsonb_exists_all",
                };
                udf_call(f, vec![as_text(left), as_text(right)])
            }
            B::StringConcat
                if json_side
                    && !matches!(r, Operand::Other(_))
                    && !matches!(l, Operand::Other(_)) =>
            {
                jsonb_pair(&l, &r, &op)?;
                udf_call("omendb_jsonb_concat", vec![as_text(left), as_text(right)])
            }
            B::Minus if matches!(l, Operand::Json(_)) => {
                let Operand::Json(Kind::Jsonb) = l else {
                    return Err(no_operator(&l, "-", &r));
                };
                udf_call("omendb_jsonb_delete", vec![left, as_text(right)])
            }
            B::AtQuestion | B::AtAt if json_side || both_untyped(&l, &r) => {
                let (Operand::Json(Kind::Jsonb) | Operand::Untyped) = l else {
                    return Err(no_operator(&l, &name(&op), &r));
                };
                let f = if op == B::AtQuestion {
                    "omendb_jsonb_path_exists_op"
                } else {
                    "omendb_jsonb_path_match_op"
                };
                udf_call(f, vec![as_text(left), as_text(right)])
            }
            B::HashMinus => {
                let (Operand::Json(Kind::Jsonb) | Operand::Untyped) = l else {
                    return Err(no_operator(&l, "#-", &r));
                };
                udf_call(
                    "omendb_jsonb_delete_path",
                    vec![as_text(left), as_text(right)],
                )
            }
            B::Eq | B::NotEq | B::Lt | B::LtEq | B::Gt | B::GtEq if json_side => {
                jsonb_pair(&l, &r, &op)?;
                let cmp = udf_call("omendb_jsonb_cmp", vec![as_text(left), as_text(right)]);
                let op = match op {
                    B::Eq => Operator::Eq,
                    B::NotEq => Operator::NotEq,
                    B::Lt => Operator::Lt,
                    B::LtEq => Operator::LtEq,
                    B::Gt => Operator::Gt,
                    _ => Operator::GtEq,
                };
                binary_expr(cmp, op, lit(0i32))
            }
            _ => return Ok(PlannerResult::Original(RawBinaryExpr { op, left, right })),
        };
        Ok(PlannerResult::Planned(planned))
    }
}

fn both_untyped(l: &Operand, r: &Operand) -> bool {
    matches!((l, r), (Operand::Untyped, Operand::Untyped))
}

/// Both operands must be jsonb (or untyped, read as jsonb): json has no equality, containment or `||`.
fn jsonb_pair(l: &Operand, r: &Operand, op: &B) -> Result<()> {
    match (l, r) {
        (
            Operand::Json(Kind::Jsonb) | Operand::Untyped,
            Operand::Json(Kind::Jsonb) | Operand::Untyped,
        ) => Ok(()),
        _ => Err(no_operator(l, &op.to_string(), r)),
    }
}

fn type_name(o: &Operand) -> &'static str {
    match o {
        Operand::Json(k) => k.name(),
        Operand::Untyped => "unknown",
        Operand::Other(t) => super::sql_type_name(t),
    }
}

fn no_operator(l: &Operand, op: &str, r: &Operand) -> datafusion::error::DataFusionError {
    sql_error(
        "42883",
        format!(
            "operator does not exist: {} {op} {}",
            type_name(l),
            type_name(r)
        ),
    )
}

/// PostgreSQL has no operator comparing uuid with text: a uuid value against a typed text one (not a quoted
/// literal or a parameter, whose type comes from the other side) is 42883.
fn uuid_against_text(left: &Expr, op: &B, right: &Expr, schema: &DFSchema) -> Result<()> {
    let uuid = |e: &Expr| {
        e.to_field(schema).is_ok_and(|(_, f)| {
            f.metadata()
                .get(omendb_storage::EXTENSION_KEY)
                .map(String::as_str)
                == Some(omendb_storage::UUID_EXTENSION)
        })
    };
    let text = |e: &Expr| matches!(operand(e, schema), Operand::Other(ref t) if super::convert::is_text(t));
    let (l, r) = match (uuid(left), uuid(right)) {
        (true, false) if text(right) => ("uuid", "text"),
        (false, true) if text(left) => ("text", "uuid"),
        _ => return Ok(()),
    };
    Err(sql_error(
        "42883",
        format!("operator does not exist: {l} {op} {r}"),
    ))
}
