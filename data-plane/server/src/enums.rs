//! Enum types in queries. A value of an enum type is its label as text, marked on its field with the
//! type's id (storage's `ENUM_EXTENSION` / `ENUM_TYPE_KEY`), so results are described with the type's OID.
//! Before planning, type names that are enum types are resolved (`resolve_statement`): a column's type
//! becomes `omendb_enum_<id>`, a cast `x::mood` becomes `omendb_enum_in(x, id)`. After planning, `bind`
//! gives those calls the type's labels and makes the rest of PostgreSQL's rules hold: ORDER BY and
//! `< <= > >=` / BETWEEN follow the declaration order, not the text's; a literal compared with an enum
//! value must be one of its labels (22P02); `pg_typeof` names the type.

use std::ops::ControlFlow;
use std::sync::Arc;

use arrow_array::{Array, Int32Array, StringArray};
use arrow_schema::{DataType, Field, FieldRef};
use datafusion::common::DFSchema;
use datafusion::common::tree_node::Transformed;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::expr::{InList, ScalarFunction};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Between, BinaryExpr, ColumnarValue, Expr,
    ExprSchemable, LogicalPlan, Operator, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF,
    ScalarUDFImpl, Signature, Volatility,
};
use datafusion::scalar::ScalarValue;
use datafusion::sql::sqlparser::ast::{
    self, AlterTableOperation, ColumnOption, DataType as SqlType, ObjectName, Statement, VisitMut,
    VisitorMut,
};
use omendb_storage::EnumDef;

use crate::error::{Error, Result, code};

/// The function a cast to an enum type becomes.
pub const CAST: &str = "omendb_enum_in";
/// The name a column's enum type is resolved to before `ddl::column_type` reads it.
const TYPE_PREFIX: &str = "omendb_enum_";

/// The enum types `view` sees.
pub fn visible(db: &omendb_storage::Database, view: &crate::catalog::View) -> Vec<Arc<EnumDef>> {
    match (&view.txn, &view.snapshot) {
        (Some(t), _) => t.types(),
        (None, Some(s)) => s.types(),
        (None, None) => db.snapshot().types(),
    }
}

/// The enum type a resolved type name stands for (`omendb_enum_<id>`).
pub fn resolved_type(name: &str) -> Option<u64> {
    name.strip_prefix(TYPE_PREFIX)?.parse().ok()
}

/// The enum type a field's values have, if they are an enum's.
pub fn type_of(field: &Field) -> Option<u64> {
    let m = field.metadata();
    if m.get(omendb_storage::EXTENSION_KEY).map(String::as_str)
        != Some(omendb_storage::ENUM_EXTENSION)
    {
        return None;
    }
    m.get(omendb_storage::ENUM_TYPE_KEY)?.parse().ok()
}

/// A text field marked as a value of enum type `id`.
pub fn marked(name: &str, id: u64) -> Field {
    Field::new(name, DataType::Utf8, true).with_metadata(
        [
            (
                omendb_storage::EXTENSION_KEY.to_string(),
                omendb_storage::ENUM_EXTENSION.to_string(),
            ),
            (omendb_storage::ENUM_TYPE_KEY.to_string(), id.to_string()),
        ]
        .into(),
    )
}

/// The type's name as PostgreSQL's messages and `format_type` write it.
pub fn display_name(def: &EnumDef) -> String {
    let (schema, name) = crate::search_path::split(&def.name);
    let name = crate::pg_catalog::names::quote_ident(name);
    if schema == "public" {
        name
    } else {
        format!("{}.{name}", crate::pg_catalog::names::quote_ident(schema))
    }
}

/// PostgreSQL's error for text that is not one of the type's labels.
pub fn invalid_label(def: &EnumDef, label: &str) -> Error {
    Error::sql(
        code::INVALID_TEXT_REPRESENTATION,
        format!(
            "invalid input value for enum {}: \"{label}\"",
            display_name(def)
        ),
    )
}

fn external(e: Error) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

/// Replaces the enum type names of `stmt` (column types, casts) by their resolved forms; `lookup` finds a
/// type by name through the search path.
pub fn resolve_statement(
    stmt: &mut Statement,
    lookup: &dyn Fn(&ObjectName) -> Option<Arc<EnumDef>>,
) -> Result<()> {
    let resolve = |t: &mut SqlType| {
        if let SqlType::Custom(name, modifiers) = t
            && modifiers.is_empty()
            && let Some(def) = lookup(name)
        {
            *t = SqlType::Custom(
                ObjectName::from(vec![ast::Ident::new(format!("{TYPE_PREFIX}{}", def.id))]),
                vec![],
            );
        }
    };
    let columns: Vec<&mut ast::ColumnDef> = match stmt {
        Statement::CreateTable(ct) => ct.columns.iter_mut().collect(),
        Statement::AlterTable(at) => at
            .operations
            .iter_mut()
            .filter_map(|op| match op {
                AlterTableOperation::AddColumn { column_def, .. } => Some(column_def),
                _ => None,
            })
            .collect(),
        _ => vec![],
    };
    for c in columns {
        resolve(&mut c.data_type);
        // `DEFAULT 'x'::mood`: the value is checked as it is written, like any other.
        for o in &mut c.options {
            if let ColumnOption::Default(ast::Expr::Cast {
                expr, data_type, ..
            }) = &mut o.option
                && matches!(data_type, SqlType::Custom(n, _) if lookup(n).is_some())
            {
                o.option = ColumnOption::Default(expr.as_ref().clone());
            }
        }
    }
    if let Statement::AlterTable(at) = stmt {
        for op in &mut at.operations {
            if let AlterTableOperation::AlterColumn {
                op: ast::AlterColumnOperation::SetDataType { data_type, .. },
                ..
            } = op
            {
                resolve(data_type);
            }
        }
    }
    let _ = stmt.visit(&mut Casts { lookup });
    Ok(())
}

/// `x::mood`, `CAST(x AS mood)` and `mood 'x'` as `omendb_enum_in(x, id)`.
struct Casts<'a> {
    lookup: &'a dyn Fn(&ObjectName) -> Option<Arc<EnumDef>>,
}

impl VisitorMut for Casts<'_> {
    type Break = ();

    fn post_visit_expr(&mut self, e: &mut ast::Expr) -> ControlFlow<()> {
        let (inner, name) = match e {
            ast::Expr::Cast {
                expr,
                data_type: SqlType::Custom(name, m),
                ..
            } if m.is_empty() => (expr.as_ref().clone(), name.clone()),
            ast::Expr::TypedString(ts) => match &ts.data_type {
                SqlType::Custom(name, m) if m.is_empty() => {
                    (ast::Expr::Value(ts.value.clone()), name.clone())
                }
                _ => return ControlFlow::Continue(()),
            },
            _ => return ControlFlow::Continue(()),
        };
        if let Some(def) = (self.lookup)(&name) {
            *e = crate::ddl::call(
                CAST,
                vec![
                    inner,
                    ast::Expr::Value(ast::Value::Number(def.id.to_string(), false).into()),
                ],
            );
        }
        ControlFlow::Continue(())
    }
}

/// `omendb_enum_in(text, type id)`: before `bind`, it only types the expression; bound, it checks each
/// value is a label of the type (22P02).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct EnumIn {
    signature: Signature,
    def: Option<Labels>,
}

/// An enum type's definition, compared by id and labels (for DataFusion's UDF equality).
#[derive(Debug, Clone)]
struct Labels(Arc<EnumDef>);

impl PartialEq for Labels {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}
impl Eq for Labels {}
impl std::hash::Hash for Labels {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.id.hash(state);
        for l in &self.0.labels {
            l.name.hash(state);
        }
    }
}

impl EnumIn {
    /// The unbound cast the SQL planner sees.
    pub fn udf() -> ScalarUDF {
        ScalarUDF::from(EnumIn {
            signature: Signature::exact(
                vec![DataType::Utf8, DataType::Int64],
                Volatility::Immutable,
            ),
            def: None,
        })
    }
}

impl ScalarUDFImpl for EnumIn {
    fn name(&self) -> &str {
        CAST
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Utf8)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> DfResult<FieldRef> {
        let Some(id) = args
            .scalar_arguments
            .get(1)
            .copied()
            .flatten()
            .and_then(type_id)
        else {
            return Ok(Arc::new(Field::new(CAST, DataType::Utf8, true)));
        };
        Ok(Arc::new(marked(CAST, id)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let Some(Labels(def)) = &self.def else {
            return Err(DataFusionError::Internal(
                "an enum cast was not bound to its type".into(),
            ));
        };
        let check = |s: Option<&str>| -> DfResult<()> {
            match s {
                Some(s) if def.position(s).is_none() => Err(external(invalid_label(def, s))),
                _ => Ok(()),
            }
        };
        match &args.args[0] {
            ColumnarValue::Scalar(v) => {
                let s = scalar_text(v);
                check(s.as_deref())?;
                Ok(ColumnarValue::Scalar(ScalarValue::Utf8(s)))
            }
            ColumnarValue::Array(a) => {
                let a = arrow_cast::cast(a, &DataType::Utf8)?;
                let strings = a
                    .as_any()
                    .downcast_ref::<StringArray>()
                    .expect("cast to Utf8");
                for s in strings.iter() {
                    check(s)?;
                }
                Ok(ColumnarValue::Array(a))
            }
        }
    }
}

/// The type id argument of a cast (an integer literal, typed as PostgreSQL types it).
fn type_id(v: &ScalarValue) -> Option<u64> {
    match v {
        ScalarValue::Int32(Some(i)) => u64::try_from(*i).ok(),
        ScalarValue::Int64(Some(i)) => u64::try_from(*i).ok(),
        _ => None,
    }
}

fn scalar_text(v: &ScalarValue) -> Option<String> {
    match v {
        ScalarValue::Utf8(s) | ScalarValue::LargeUtf8(s) | ScalarValue::Utf8View(s) => s.clone(),
        _ => None,
    }
}

/// `omendb_enum_position(value)`: where a label sorts in its type (22P02 for text that is not one).
#[derive(Debug, PartialEq, Eq, Hash)]
struct Position {
    signature: Signature,
    def: Labels,
}

impl ScalarUDFImpl for Position {
    fn name(&self) -> &str {
        "omendb_enum_position"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Int32)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let def = &self.def.0;
        let position = |s: Option<&str>| -> DfResult<Option<i32>> {
            s.map(|s| {
                def.position(s)
                    .map(|p| p as i32)
                    .ok_or_else(|| external(invalid_label(def, s)))
            })
            .transpose()
        };
        match &args.args[0] {
            ColumnarValue::Scalar(v) => Ok(ColumnarValue::Scalar(ScalarValue::Int32(position(
                scalar_text(v).as_deref(),
            )?))),
            ColumnarValue::Array(a) => {
                let a = arrow_cast::cast(a, &DataType::Utf8)?;
                let strings = a
                    .as_any()
                    .downcast_ref::<StringArray>()
                    .expect("cast to Utf8");
                let out: Int32Array = strings.iter().map(position).collect::<DfResult<_>>()?;
                Ok(ColumnarValue::Array(Arc::new(out)))
            }
        }
    }
}

/// `min` / `max` of an enum value: by declaration order, as PostgreSQL's enum_smaller / enum_larger.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Extreme {
    signature: Signature,
    def: Labels,
    max: bool,
}

impl AggregateUDFImpl for Extreme {
    fn name(&self) -> &str {
        if self.max {
            "omendb_enum_max"
        } else {
            "omendb_enum_min"
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Utf8)
    }

    fn return_field(&self, _: &[FieldRef]) -> DfResult<FieldRef> {
        Ok(Arc::new(marked(self.name(), self.def.0.id)))
    }

    fn accumulator(&self, _: AccumulatorArgs) -> DfResult<Box<dyn Accumulator>> {
        Ok(Box::new(ExtremeAcc {
            def: self.def.0.clone(),
            max: self.max,
            best: None,
        }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> DfResult<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(
            format!("{}_position", args.name),
            DataType::Int32,
            true,
        ))])
    }
}

#[derive(Debug)]
struct ExtremeAcc {
    def: Arc<EnumDef>,
    max: bool,
    /// The position of the best label so far.
    best: Option<i32>,
}

impl ExtremeAcc {
    fn offer(&mut self, p: i32) {
        let better = match self.best {
            None => true,
            Some(b) => (self.max && p > b) || (!self.max && p < b),
        };
        if better {
            self.best = Some(p);
        }
    }
}

impl Accumulator for ExtremeAcc {
    fn update_batch(&mut self, values: &[arrow_array::ArrayRef]) -> DfResult<()> {
        let a = arrow_cast::cast(&values[0], &DataType::Utf8)?;
        let strings = a
            .as_any()
            .downcast_ref::<StringArray>()
            .expect("cast to Utf8");
        for s in strings.iter().flatten() {
            let p = self
                .def
                .position(s)
                .ok_or_else(|| external(invalid_label(&self.def, s)))?;
            self.offer(p as i32);
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[arrow_array::ArrayRef]) -> DfResult<()> {
        let positions = states[0]
            .as_any()
            .downcast_ref::<Int32Array>()
            .expect("an Int32 state");
        for p in positions.iter().flatten() {
            self.offer(p);
        }
        Ok(())
    }

    fn state(&mut self) -> DfResult<Vec<ScalarValue>> {
        Ok(vec![ScalarValue::Int32(self.best)])
    }

    fn evaluate(&mut self) -> DfResult<ScalarValue> {
        Ok(ScalarValue::Utf8(self.best.and_then(|p| {
            self.def.labels.get(p as usize).map(|l| l.name.clone())
        })))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
    }
}

/// Binds `plan`'s enum casts to `types` and applies PostgreSQL's enum rules (see the module's comment).
pub fn bind(plan: LogicalPlan, types: &[Arc<EnumDef>]) -> DfResult<LogicalPlan> {
    if types.is_empty() {
        return Ok(plan);
    }
    let binder = Binder { types };
    crate::plan_exprs::rewrite(
        plan,
        &|e, schema| binder.expr(e, schema),
        Some(&|e, schema| {
            Ok(match binder.enum_of(&e, schema) {
                Some(def) => Transformed::yes(binder.position(def, e)),
                None => Transformed::no(e),
            })
        }),
    )
}

struct Binder<'a> {
    types: &'a [Arc<EnumDef>],
}

impl Binder<'_> {
    fn def(&self, id: u64) -> Option<&Arc<EnumDef>> {
        self.types.iter().find(|t| t.id == id)
    }

    /// The enum type of `e`'s values, if it has one.
    fn enum_of(&self, e: &Expr, schema: &DFSchema) -> Option<Arc<EnumDef>> {
        let (_, field) = e.to_field(schema).ok()?;
        self.def(type_of(&field)?).cloned()
    }

    fn position(&self, def: Arc<EnumDef>, e: Expr) -> Expr {
        let udf = ScalarUDF::from(Position {
            signature: Signature::any(1, Volatility::Immutable),
            def: Labels(def),
        });
        Expr::ScalarFunction(ScalarFunction::new_udf(Arc::new(udf), vec![e]))
    }

    /// `e` as a position in `def`'s order: a text literal is checked and becomes its position.
    fn ordinal(&self, def: &Arc<EnumDef>, e: Expr) -> DfResult<Expr> {
        if let Expr::Literal(v, _) = &e
            && let Some(s) = scalar_text(v)
        {
            let p = def
                .position(&s)
                .ok_or_else(|| external(invalid_label(def, &s)))?;
            return Ok(Expr::Literal(ScalarValue::Int32(Some(p as i32)), None));
        }
        Ok(self.position(def.clone(), e))
    }

    /// A text literal compared with a value of `def` must be one of its labels.
    fn check_literal(&self, def: &EnumDef, e: &Expr) -> DfResult<()> {
        if let Expr::Literal(v, _) = e
            && let Some(s) = scalar_text(v)
            && def.position(&s).is_none()
        {
            return Err(external(invalid_label(def, &s)));
        }
        Ok(())
    }

    fn expr(&self, e: Expr, schema: &DFSchema) -> DfResult<Transformed<Expr>> {
        match e {
            Expr::ScalarFunction(f) if f.name() == CAST => {
                // The id literal, possibly under the cast coercion put on it.
                let mut arg = f.args.get(1);
                while let Some(Expr::Cast(c)) = arg {
                    arg = Some(c.expr.as_ref());
                }
                let id = match arg {
                    Some(Expr::Literal(v, _)) if let Some(id) = type_id(v) => id,
                    _ => return Ok(Transformed::no(Expr::ScalarFunction(f))),
                };
                let Some(def) = self.def(id).cloned() else {
                    return Err(external(Error::sql(
                        code::UNDEFINED_OBJECT,
                        format!("type with OID {id} does not exist"),
                    )));
                };
                self.check_literal(&def, &f.args[0])?;
                let udf = ScalarUDF::from(EnumIn {
                    signature: Signature::exact(
                        vec![DataType::Utf8, DataType::Int64],
                        Volatility::Immutable,
                    ),
                    def: Some(Labels(def)),
                });
                let mut args = f.args;
                // A plain literal, so the result's field is marked with the type.
                args[1] = Expr::Literal(ScalarValue::Int64(Some(id as i64)), None);
                Ok(Transformed::yes(Expr::ScalarFunction(
                    ScalarFunction::new_udf(Arc::new(udf), args),
                )))
            }
            Expr::ScalarFunction(f) if f.name() == "pg_typeof" && f.args.len() == 1 => {
                match self.enum_of(&f.args[0], schema) {
                    Some(def) => Ok(Transformed::yes(Expr::Literal(
                        ScalarValue::Utf8(Some(display_name(&def))),
                        None,
                    ))),
                    None => Ok(Transformed::no(Expr::ScalarFunction(f))),
                }
            }
            Expr::AggregateFunction(mut f)
                if matches!(f.func.name(), "min" | "max") && f.params.args.len() == 1 =>
            {
                let Some(def) = self.enum_of(&f.params.args[0], schema) else {
                    return Ok(Transformed::no(Expr::AggregateFunction(f)));
                };
                f.func = Arc::new(AggregateUDF::from(Extreme {
                    signature: Signature::any(1, Volatility::Immutable),
                    def: Labels(def),
                    max: f.func.name() == "max",
                }));
                Ok(Transformed::yes(Expr::AggregateFunction(f)))
            }
            Expr::BinaryExpr(b) => {
                let def = self
                    .enum_of(&b.left, schema)
                    .or_else(|| self.enum_of(&b.right, schema));
                let Some(def) = def else {
                    return Ok(Transformed::no(Expr::BinaryExpr(b)));
                };
                match b.op {
                    Operator::Lt | Operator::LtEq | Operator::Gt | Operator::GtEq => {
                        let left = self.ordinal(&def, *b.left)?;
                        let right = self.ordinal(&def, *b.right)?;
                        Ok(Transformed::yes(Expr::BinaryExpr(BinaryExpr::new(
                            Box::new(left),
                            b.op,
                            Box::new(right),
                        ))))
                    }
                    Operator::Eq
                    | Operator::NotEq
                    | Operator::IsDistinctFrom
                    | Operator::IsNotDistinctFrom => {
                        self.check_literal(&def, &b.left)?;
                        self.check_literal(&def, &b.right)?;
                        Ok(Transformed::no(Expr::BinaryExpr(b)))
                    }
                    _ => Ok(Transformed::no(Expr::BinaryExpr(b))),
                }
            }
            Expr::InList(InList {
                expr,
                list,
                negated,
            }) => {
                if let Some(def) = self.enum_of(&expr, schema) {
                    for item in &list {
                        self.check_literal(&def, item)?;
                    }
                }
                Ok(Transformed::no(Expr::InList(InList {
                    expr,
                    list,
                    negated,
                })))
            }
            Expr::Between(b) => {
                let Some(def) = self.enum_of(&b.expr, schema) else {
                    return Ok(Transformed::no(Expr::Between(b)));
                };
                Ok(Transformed::yes(Expr::Between(Between {
                    expr: Box::new(self.ordinal(&def, *b.expr)?),
                    negated: b.negated,
                    low: Box::new(self.ordinal(&def, *b.low)?),
                    high: Box::new(self.ordinal(&def, *b.high)?),
                })))
            }
            e => Ok(Transformed::no(e)),
        }
    }
}
