//! How a catalog function is built: a closure over one row's scalars ([`RowFn`]), its signature, and the
//! argument readers the functions share.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use arrow_schema::DataType;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, TypeSignature, Volatility,
};
use datafusion::scalar::ScalarValue;

pub(super) type Body = dyn Fn(&[ScalarValue]) -> Result<ScalarValue> + Send + Sync;

/// A function evaluated row by row over scalars: catalog functions see few rows, and this keeps each one a
/// plain closure.
pub(super) struct RowFn {
    pub name: &'static str,
    pub signature: Signature,
    pub ret: DataType,
    pub body: Arc<Body>,
}

impl std::fmt::Debug for RowFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl PartialEq for RowFn {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && Arc::ptr_eq(&self.body, &other.body)
    }
}

impl Eq for RowFn {}

impl Hash for RowFn {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl ScalarUDFImpl for RowFn {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(self.ret.clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let n = if scalar { 1 } else { args.number_rows };
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let typed_null = ScalarValue::try_from(&self.ret)?;
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let row: Vec<ScalarValue> = arrays
                .iter()
                .map(|a| ScalarValue::try_from_array(a, if scalar { 0 } else { i }))
                .collect::<Result<_>>()?;
            let v = (self.body)(&row)?;
            out.push(if v.is_null() { typed_null.clone() } else { v });
        }
        if scalar {
            return Ok(ColumnarValue::Scalar(out.pop().unwrap_or(typed_null)));
        }
        if out.is_empty() {
            return Ok(ColumnarValue::Array(arrow_array::new_empty_array(
                &self.ret,
            )));
        }
        Ok(ColumnarValue::Array(ScalarValue::iter_to_array(out)?))
    }
}

/// Registers a [`RowFn`] on a session.
pub(super) fn register_row_fn(
    ctx: &datafusion::prelude::SessionContext,
    name: &'static str,
    signature: Signature,
    ret: DataType,
    body: Arc<Body>,
) {
    ctx.register_udf(datafusion::logical_expr::ScalarUDF::from(RowFn {
        name,
        signature,
        ret,
        body,
    }));
}

pub(super) fn exact(sigs: &[&[DataType]], volatility: Volatility) -> Signature {
    Signature::one_of(
        sigs.iter()
            .map(|s| {
                if s.is_empty() {
                    TypeSignature::Nullary
                } else {
                    TypeSignature::Exact(s.to_vec())
                }
            })
            .collect(),
        volatility,
    )
}

pub(super) fn sql_error(code: &'static str, message: String) -> DataFusionError {
    DataFusionError::External(Box::new(crate::error::Error::sql(code, message)))
}

pub(super) fn str_arg(v: &ScalarValue) -> Option<String> {
    match v {
        ScalarValue::Utf8(s) | ScalarValue::LargeUtf8(s) | ScalarValue::Utf8View(s) => s.clone(),
        _ => None,
    }
}

pub(super) fn int_arg(v: &ScalarValue) -> Option<i64> {
    match v {
        ScalarValue::Int64(x) => *x,
        ScalarValue::Int32(x) => x.map(i64::from),
        ScalarValue::Int16(x) => x.map(i64::from),
        ScalarValue::UInt32(x) => x.map(i64::from),
        _ => None,
    }
}

pub(super) fn bool_arg(v: &ScalarValue) -> Option<bool> {
    match v {
        ScalarValue::Boolean(b) => *b,
        _ => None,
    }
}

pub(super) const TEXT: DataType = DataType::Utf8;
pub(super) const OID: DataType = DataType::Int64;
pub(super) const BOOL: DataType = DataType::Boolean;
