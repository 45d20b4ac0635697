//! PostgreSQL's typing rules where DataFusion's differ:
//!
//! - an integer literal that fits 32 bits is `integer` (DataFusion types every one `bigint`), so
//!   `SELECT 1` is int4 and `2147483647 + 1` is int4 arithmetic;
//! - `+ - *` on integers fail with 22003 (`integer out of range`) where DataFusion's wrap around;
//! - float arithmetic fails with 22012 on a division by zero and 22003 on overflow or underflow, where
//!   DataFusion's gives Infinity or 0;
//! - text compared with a number is 42883 (`operator does not exist: text = integer`) when the statement
//!   is planned; DataFusion casts the text and fails (or not) on each value.
//!
//! Literals are retyped and comparisons checked on the plan as the SQL planner made it (before type
//! coercion, which then widens literals where they meet wider types); the arithmetic rule runs after
//! coercion and puts the checked functions in place of `+ - * /` where the operands are integers or floats
//! of one type.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, Float32Array, Float64Array};
use arrow_schema::{ArrowError, DataType};
use datafusion::arrow::compute::kernels::{arity, numeric};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{DFSchema, DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::expr_rewriter::{NamePreserver, coerce_plan_expr_for_schema};
use datafusion::logical_expr::{
    BinaryExpr, ColumnarValue, Expr, ExprSchemable, LogicalPlan, Operator, RecursiveQuery,
    ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility, cast,
};
use datafusion::optimizer::analyzer::AnalyzerRule;
use datafusion::prelude::SessionContext;

use crate::error::{Error, code};

pub fn register(ctx: &SessionContext) {
    ctx.add_analyzer_rule(Arc::new(CheckedArithmetic));
}

/// Types the plan's integer literals as PostgreSQL does: `integer` when the value fits, else `bigint`.
/// VALUES lists keep theirs (their schema is fixed when they are built) and LIMIT / OFFSET take bigint.
pub fn type_literals(plan: LogicalPlan) -> Result<LogicalPlan> {
    let LogicalPlan::Dml(dml) = plan else {
        return narrow_literals(plan);
    };
    // The planner cast a write's values to the table's types only where they differed: a literal it
    // left uncast (a bigint column's `SET n = 2`) gets its cast back.
    let before = dml.input.schema().clone();
    let input = narrow_literals(Arc::unwrap_or_clone(dml.input))?;
    let input = match input {
        LogicalPlan::Projection(p) => {
            let exprs = p
                .expr
                .iter()
                .zip(before.fields())
                .map(|(e, f)| {
                    if e.get_type(p.input.schema())? == *f.data_type() {
                        return Ok(e.clone());
                    }
                    let inner = match e {
                        Expr::Alias(a) => a.expr.as_ref().clone(),
                        e => e.clone(),
                    };
                    Ok(inner
                        .cast_to(f.data_type(), p.input.schema())?
                        .alias(f.name()))
                })
                .collect::<Result<Vec<_>>>()?;
            LogicalPlan::Projection(datafusion::logical_expr::Projection::try_new(
                exprs, p.input,
            )?)
        }
        other => other,
    };
    Ok(LogicalPlan::Dml(
        datafusion::logical_expr::DmlStatement::new(
            dml.table_name,
            dml.target,
            dml.op,
            Arc::new(input),
        ),
    ))
}

fn narrow_literals(plan: LogicalPlan) -> Result<LogicalPlan> {
    // Catalog relations model some of PostgreSQL's types (oid, regclass, name) with Arrow's, so a tool's
    // catalog query, valid on PostgreSQL, can compare text with a number here: only user queries are
    // checked.
    let check = !reads_catalog(&plan);
    let out = plan.transform_up_with_subqueries(|node| {
        if let LogicalPlan::Values(_) = node {
            return node.map_expressions(|e| e.transform_up(float_literal));
        }
        if matches!(node, LogicalPlan::Limit(_) | LogicalPlan::Dml(_)) {
            return Ok(Transformed::no(node));
        }
        // Names stay as planned: a parent node refers to this one's outputs by them.
        let names = NamePreserver::new(&node);
        let schema = crate::plan_exprs::input_schema(&node);
        let changed = node.map_expressions(|e| {
            let saved = names.save(&e);
            let t = e.transform_up(|e| match e {
                Expr::Literal(ScalarValue::Int64(Some(v)), meta) => match i32::try_from(v) {
                    Ok(v) => Ok(Transformed::yes(Expr::Literal(
                        ScalarValue::Int32(Some(v)),
                        meta,
                    ))),
                    Err(_) => Ok(Transformed::no(Expr::Literal(
                        ScalarValue::Int64(Some(v)),
                        meta,
                    ))),
                },
                e @ Expr::Cast(_) => float_literal(e),
                Expr::BinaryExpr(b) if check => {
                    comparable(&b, &schema)?;
                    Ok(Transformed::no(Expr::BinaryExpr(b)))
                }
                e => Ok(Transformed::no(e)),
            })?;
            Ok(t.update_data(|e| saved.restore(e)))
        })?;
        // The node's output types follow its expressions' and its inputs'.
        changed.map_data(|n| match n {
            LogicalPlan::RecursiveQuery(q) => recursive_types(q),
            n => n.recompute_schema(),
        })
    })?;
    Ok(out.data)
}

/// A numeric literal cast to a float is the nearest float to its decimal text (Arrow's cast multiplies
/// by a power of ten, which makes `1e30` 1.0000000000000002e30).
fn float_literal(e: Expr) -> Result<Transformed<Expr>> {
    let Expr::Cast(c) = e else {
        return Ok(Transformed::no(e));
    };
    match (c.expr.as_ref(), c.field.data_type()) {
        (Expr::Literal(ScalarValue::Decimal128(Some(v), _, scale), _), to) => {
            match decimal_float(*v, *scale, to) {
                Some(f) => Ok(Transformed::yes(Expr::Literal(f, None))),
                None => Ok(Transformed::no(Expr::Cast(c))),
            }
        }
        _ => Ok(Transformed::no(Expr::Cast(c))),
    }
}

/// The decimal `v` scaled by 10^-scale as a float of type `to` (the nearest one, parsed from its text),
/// or `None` when `to` is no float type.
pub fn decimal_float(v: i128, scale: i8, to: &DataType) -> Option<ScalarValue> {
    let text = format!("{v}e{}", -i32::from(scale));
    match to {
        DataType::Float64 => Some(ScalarValue::Float64(text.parse().ok())),
        DataType::Float32 => Some(ScalarValue::Float32(text.parse().ok())),
        _ => None,
    }
}

/// A recursive CTE's two terms cast to its work table's types, which the planner fixed from the literals
/// as it typed them: a literal narrowed in one term (`SELECT 10 UNION ALL SELECT i + 1 FROM n`) must not
/// leave the terms' outputs apart (the CTE's columns stay `bigint` there, where PostgreSQL's are
/// `integer`).
fn recursive_types(q: RecursiveQuery) -> Result<LogicalPlan> {
    let mut work = None;
    q.recursive_term.apply_with_subqueries(|p| {
        if let LogicalPlan::TableScan(s) = p
            && s.table_name.table() == q.name
        {
            work = Some(s.source.schema());
            return Ok(TreeNodeRecursion::Stop);
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    let Some(work) = work else {
        return LogicalPlan::RecursiveQuery(q).recompute_schema();
    };
    let target = DFSchema::try_from(work.as_ref().clone())?;
    let cast = |term: Arc<LogicalPlan>| {
        coerce_plan_expr_for_schema(Arc::unwrap_or_clone(term), &target).map(Arc::new)
    };
    Ok(LogicalPlan::RecursiveQuery(RecursiveQuery::try_new(
        q.name,
        cast(q.static_term)?,
        cast(q.recursive_term)?,
        q.is_distinct,
    )?))
}

/// Whether the plan scans a pg_catalog or information_schema relation (anything but a user table).
fn reads_catalog(plan: &LogicalPlan) -> bool {
    let mut found = false;
    let _ = plan.apply_with_subqueries(|p| {
        if let LogicalPlan::TableScan(s) = p
            && crate::catalog::storage_name_of(&s.source).is_none()
        {
            found = true;
            return Ok(datafusion::common::tree_node::TreeNodeRecursion::Stop);
        }
        Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
    });
    found
}

/// PostgreSQL has no operator comparing text with a number: a typed text operand (not a quoted literal,
/// whose type PostgreSQL infers from the other side) against a numeric one fails when planned.
fn comparable(b: &BinaryExpr, schema: &DFSchema) -> Result<()> {
    use Operator as O;
    if !matches!(
        b.op,
        O::Eq
            | O::NotEq
            | O::Lt
            | O::LtEq
            | O::Gt
            | O::GtEq
            | O::IsDistinctFrom
            | O::IsNotDistinctFrom
    ) {
        return Ok(());
    }
    let text = |e: &Expr| {
        !matches!(e, Expr::Literal(..))
            && matches!(
                e.get_type(schema),
                Ok(DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
            )
    };
    let number = |e: &Expr| e.get_type(schema).ok().and_then(|t| numeric_name(&t));
    let (l, r) = (b.left.as_ref(), b.right.as_ref());
    let (left, right) = match (number(l), number(r)) {
        (None, Some(n)) if text(l) => ("text", n),
        (Some(n), None) if text(r) => (n, "text"),
        _ => return Ok(()),
    };
    Err(external(
        code::UNDEFINED_FUNCTION,
        &format!("operator does not exist: {left} {} {right}", b.op),
    ))
}

pub(crate) fn numeric_name(t: &DataType) -> Option<&'static str> {
    Some(match t {
        DataType::Int16 => "smallint",
        DataType::Int32 => "integer",
        DataType::Int64 => "bigint",
        DataType::Float32 => "real",
        DataType::Float64 => "double precision",
        DataType::Decimal128(..) | DataType::Decimal256(..) => "numeric",
        _ => return None,
    })
}

/// Applies DataFusion's type coercion now, as PostgreSQL types a statement when it is prepared: the
/// result's column types a client is told at Describe are then those execution produces (a CASE or UNION
/// mixing `integer` and `bigint` is `bigint`). A plan that cannot be typed yet (a parameter whose type only
/// binding tells) is left to be coerced at execution.
pub fn coerce(plan: LogicalPlan, config: &ConfigOptions) -> LogicalPlan {
    use datafusion::optimizer::analyzer::type_coercion::TypeCoercion;
    match TypeCoercion::new().analyze(plan.clone(), config) {
        Ok(typed) => typed,
        Err(_) => plan,
    }
}

#[derive(Debug)]
struct CheckedArithmetic;

impl AnalyzerRule for CheckedArithmetic {
    fn name(&self) -> &str {
        "pg_checked_arithmetic"
    }

    fn analyze(&self, plan: LogicalPlan, _: &ConfigOptions) -> Result<LogicalPlan> {
        let udfs = Udfs::default();
        let out = plan.transform_up_with_subqueries(|node| {
            let schema = crate::plan_exprs::input_schema(&node);
            let names = NamePreserver::new(&node);
            node.map_expressions(|e| {
                let saved = names.save(&e);
                let t = e.transform_up(|e| {
                    float_over_numeric(e, &schema)?
                        .transform_data(|e| udfs.text_casts(e, &schema))?
                        .transform_data(|e| udfs.checked(e, &schema))
                })?;
                Ok(t.update_data(|e| saved.restore(e)))
            })
        })?;
        Ok(out.data)
    }
}

/// A float beside a numeric is computed in double precision, as PostgreSQL casts numeric to float8 there;
/// DataFusion's coercion casts the float to numeric instead, which fails on a value numeric(38) cannot
/// hold (`d > 10.5` over a column holding 1e30) and costs a conversion per row.
fn float_over_numeric(e: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    let Expr::BinaryExpr(BinaryExpr { left, op, right }) = &e else {
        return Ok(Transformed::no(e));
    };
    let from_float = |x: &Expr| -> Option<Expr> {
        let Expr::Cast(c) = x else { return None };
        if !matches!(c.field.data_type(), DataType::Decimal128(..)) {
            return None;
        }
        match c.expr.get_type(schema).ok()? {
            DataType::Float64 => Some(c.expr.as_ref().clone()),
            DataType::Float32 => Some(cast(c.expr.as_ref().clone(), DataType::Float64)),
            _ => None,
        }
    };
    let numeric = |x: &Expr| matches!(x.get_type(schema), Ok(DataType::Decimal128(..)));
    let as_double = |x: &Expr| -> Expr {
        let inner = match x {
            Expr::Cast(c) => c.expr.as_ref().clone(),
            x => x.clone(),
        };
        float_literal(cast(inner, DataType::Float64))
            .map_or_else(|_| cast(x.clone(), DataType::Float64), |t| t.data)
    };
    let (l, r) = match (from_float(left), from_float(right)) {
        (Some(l), Some(r)) => (l, r),
        (Some(l), None) if numeric(right) => (l, as_double(right)),
        (None, Some(r)) if numeric(left) => (as_double(left), r),
        _ => return Ok(Transformed::no(e)),
    };
    Ok(Transformed::yes(Expr::BinaryExpr(BinaryExpr::new(
        Box::new(l),
        *op,
        Box::new(r),
    ))))
}

struct Udfs {
    /// `float8::text` and `float4::text`, spelled as the server sends floats.
    float8_text: Arc<ScalarUDF>,
    float4_text: Arc<ScalarUDF>,
    /// `text::time`, PostgreSQL's time input (`times.rs`).
    time_in: Arc<ScalarUDF>,
    add: Arc<ScalarUDF>,
    sub: Arc<ScalarUDF>,
    mul: Arc<ScalarUDF>,
    div: Arc<ScalarUDF>,
}

impl Default for Udfs {
    fn default() -> Self {
        let udf = |op| Arc::new(ScalarUDF::from(Checked::new(op)));
        Udfs {
            float8_text: float_text_udf::<arrow_array::types::Float64Type>(
                "omendb_float8_text",
                15,
            ),
            float4_text: float_text_udf::<arrow_array::types::Float32Type>("omendb_float4_text", 6),
            time_in: crate::times::input_udf(),
            add: udf(Op::Add),
            sub: udf(Op::Sub),
            mul: udf(Op::Mul),
            div: udf(Op::Div),
        }
    }
}

/// A float's text as PostgreSQL writes it (`1e+30`, `0.1`, `NaN`; Arrow's cast writes `1e30`), with the
/// server's float writer (`cells::put_float`, `digits` where scientific notation starts).
fn float_text_udf<T>(name: &str, digits: i32) -> Arc<ScalarUDF>
where
    T: arrow_array::ArrowPrimitiveType,
    T::Native: crate::cells::Shortest,
{
    let body = move |args: &[ColumnarValue]| -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(args)?;
        let a = arrays[0].as_primitive::<T>();
        let mut b = bytes::BytesMut::new();
        let out: arrow_array::StringArray = (0..a.len())
            .map(|i| {
                a.is_valid(i).then(|| {
                    b.clear();
                    crate::cells::put_float(&mut b, a.value(i), digits);
                    String::from_utf8_lossy(&b).into_owned()
                })
            })
            .collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
    };
    Arc::new(datafusion::logical_expr::create_udf(
        name,
        vec![T::DATA_TYPE],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(body),
    ))
}

impl Udfs {
    /// Casts between text and types whose text is PostgreSQL's, not Arrow's: `x::text` of a float through
    /// the float writer, text to time through time_in (other types' text: `text.rs`).
    fn text_casts(&self, e: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
        let Expr::Cast(c) = &e else {
            return Ok(Transformed::no(e));
        };
        let to = c.field.data_type().clone();
        let text =
            |t: &DataType| matches!(t, DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8);
        let from = c.expr.get_type(schema);
        if let (DataType::Time64(unit), Ok(from)) = (&to, &from)
            && text(from)
        {
            let call = self.time_in.call(vec![c.expr.as_ref().clone()]);
            return Ok(Transformed::yes(
                if *unit == arrow_schema::TimeUnit::Nanosecond {
                    call
                } else {
                    cast(call, to)
                },
            ));
        }
        if !text(&to) {
            return Ok(Transformed::no(e));
        }
        let udf = match from {
            Ok(DataType::Float64) => &self.float8_text,
            Ok(DataType::Float32) => &self.float4_text,
            _ => return Ok(Transformed::no(e)),
        };
        let call = Expr::ScalarFunction(ScalarFunction::new_udf(
            udf.clone(),
            vec![c.expr.as_ref().clone()],
        ));
        Ok(Transformed::yes(if to == DataType::Utf8 {
            call
        } else {
            cast(call, to)
        }))
    }

    fn checked(&self, e: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
        let Expr::BinaryExpr(BinaryExpr { left, op, right }) = &e else {
            return Ok(Transformed::no(e));
        };
        let (Ok(l), Ok(r)) = (left.get_type(schema), right.get_type(schema)) else {
            return Ok(Transformed::no(e));
        };
        if l != r {
            return Ok(Transformed::no(e));
        }
        let integer = matches!(l, DataType::Int16 | DataType::Int32 | DataType::Int64);
        let float = matches!(l, DataType::Float32 | DataType::Float64);
        let udf = match op {
            Operator::Plus if integer || float => &self.add,
            Operator::Minus if integer || float => &self.sub,
            Operator::Multiply if integer || float => &self.mul,
            // Integer division already fails on zero (and INT_MIN / -1 is checked by Arrow's kernel).
            Operator::Divide if float => &self.div,
            _ => return Ok(Transformed::no(e)),
        };
        Ok(Transformed::yes(Expr::ScalarFunction(
            ScalarFunction::new_udf(
                udf.clone(),
                vec![left.as_ref().clone(), right.as_ref().clone()],
            ),
        )))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Op {
    Add,
    Sub,
    Mul,
    Div,
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Checked {
    op: Op,
    signature: Signature,
}

impl Checked {
    fn new(op: Op) -> Self {
        Checked {
            op,
            signature: Signature::any(2, Volatility::Immutable),
        }
    }
}

fn out_of_range(t: &DataType) -> DataFusionError {
    let name = match t {
        DataType::Int16 => "smallint",
        DataType::Int32 => "integer",
        _ => "bigint",
    };
    external(
        code::NUMERIC_VALUE_OUT_OF_RANGE,
        &format!("{name} out of range"),
    )
}

fn external(state: &'static str, message: &str) -> DataFusionError {
    DataFusionError::External(Box::new(Error::sql(state, message)))
}

impl ScalarUDFImpl for Checked {
    fn name(&self) -> &str {
        match self.op {
            Op::Add => "pg_checked_add",
            Op::Sub => "pg_checked_sub",
            Op::Mul => "pg_checked_mul",
            Op::Div => "pg_checked_div",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        Ok(args[0].clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let (l, r) = (&arrays[0], &arrays[1]);
        let t = l.data_type().clone();
        let out: ArrayRef = match t {
            DataType::Int16 | DataType::Int32 | DataType::Int64 => {
                let r = match self.op {
                    Op::Add => numeric::add(l, r),
                    Op::Sub => numeric::sub(l, r),
                    Op::Mul => numeric::mul(l, r),
                    Op::Div => numeric::div(l, r),
                };
                match r {
                    Ok(a) => a,
                    Err(ArrowError::ArithmeticOverflow(_)) => return Err(out_of_range(&t)),
                    Err(ArrowError::DivideByZero) => {
                        return Err(external(code::DIVISION_BY_ZERO, "division by zero"));
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            DataType::Float64 => {
                let l = l.as_any().downcast_ref::<Float64Array>().expect("float8");
                let r = r.as_any().downcast_ref::<Float64Array>().expect("float8");
                Arc::new(float_op(self.op, l, r)?)
            }
            DataType::Float32 => {
                let l = l.as_any().downcast_ref::<Float32Array>().expect("float4");
                let r = r.as_any().downcast_ref::<Float32Array>().expect("float4");
                Arc::new(float_op(self.op, l, r)?)
            }
            other => {
                return Err(DataFusionError::Internal(format!(
                    "checked arithmetic on {other}"
                )));
            }
        };
        if scalar {
            Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?))
        } else {
            Ok(ColumnarValue::Array(out))
        }
    }
}

/// The float types' operations the checks need.
trait Float:
    Copy
    + PartialEq
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::Div<Output = Self>
{
    const ZERO: Self;
    fn infinite(self) -> bool;
}

impl Float for f32 {
    const ZERO: f32 = 0.0;
    fn infinite(self) -> bool {
        self.is_infinite()
    }
}

impl Float for f64 {
    const ZERO: f64 = 0.0;
    fn infinite(self) -> bool {
        self.is_infinite()
    }
}

/// A float operation with PostgreSQL's checks (float.c's float8_pl etc.): an infinite result from finite
/// inputs overflows, a zero result from non-zero inputs (of `*` and `/`) underflows, and `/ 0` fails.
fn float_op<T>(
    op: Op,
    l: &arrow_array::PrimitiveArray<T>,
    r: &arrow_array::PrimitiveArray<T>,
) -> Result<arrow_array::PrimitiveArray<T>>
where
    T: arrow_array::ArrowPrimitiveType,
    T::Native: Float,
{
    let zero = T::Native::ZERO;
    arity::try_binary(l, r, |a, b| {
        let v = match op {
            Op::Add => a + b,
            Op::Sub => a - b,
            Op::Mul => a * b,
            Op::Div => {
                if b == zero {
                    return Err(ArrowError::DivideByZero);
                }
                a / b
            }
        };
        if v.infinite() && !a.infinite() && !b.infinite() {
            return Err(ArrowError::ArithmeticOverflow("overflow".into()));
        }
        let underflow = match op {
            Op::Mul => a != zero && b != zero,
            Op::Div => a != zero && !b.infinite(),
            _ => false,
        };
        if v == zero && underflow {
            return Err(ArrowError::ArithmeticOverflow("underflow".into()));
        }
        Ok(v)
    })
    .map_err(|e| match e {
        ArrowError::DivideByZero => external(code::DIVISION_BY_ZERO, "division by zero"),
        ArrowError::ArithmeticOverflow(what) => external(
            code::NUMERIC_VALUE_OUT_OF_RANGE,
            &format!("value out of range: {what}"),
        ),
        e => e.into(),
    })
}
