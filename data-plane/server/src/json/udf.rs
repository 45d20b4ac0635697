//! How a json function is built: a closure over one row of its arguments ([`Args`]), whose result type
//! may be json or jsonb (a marked text field) and may follow its first argument's (`->` on json is json).

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use arrow_array::builder::{BooleanBuilder, Int32Builder, ListBuilder, StringBuilder};
use arrow_array::{Array, ArrayRef, LargeStringArray, StringArray, StringViewArray};
use arrow_schema::{DataType, Field, FieldRef};
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    TypeSignature, Volatility,
};
use datafusion::scalar::ScalarValue;
use omendb_json::Jsonb;

use super::{Kind, kind_of, marked};
use crate::zone::Zone;

/// What a function returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum Ret {
    /// Always this JSON type.
    Kind(Kind),
    /// The JSON type of the first argument (jsonb when it is neither).
    Same,
    Text,
    Bool,
    Int,
    /// A list of text (the elements, keys or values a set-returning function unnests).
    List,
}

/// One row's result.
pub(super) enum Out {
    Null,
    Text(String),
    Bool(bool),
    Int(i32),
    List(Vec<Option<String>>),
}

/// The arguments of one call, read row by row.
pub(super) struct Args {
    arrays: Vec<ArrayRef>,
    kinds: Vec<Option<Kind>>,
    pub zone: Zone,
}

impl Args {
    pub fn len(&self) -> usize {
        self.arrays.len()
    }

    pub fn kind(&self, i: usize) -> Option<Kind> {
        self.kinds[i]
    }

    pub fn array(&self, i: usize) -> &ArrayRef {
        &self.arrays[i]
    }

    pub fn is_null(&self, i: usize, row: usize) -> bool {
        null_at(&self.arrays[i], row)
    }

    pub fn str(&self, i: usize, row: usize) -> Option<&str> {
        str_at(&self.arrays[i], row)
    }

    pub fn int(&self, i: usize, row: usize) -> Option<i64> {
        let a = &self.arrays[i];
        if a.is_null(row) {
            return None;
        }
        match ScalarValue::try_from_array(a, row).ok()? {
            ScalarValue::Int64(v) => v,
            ScalarValue::Int32(v) => v.map(i64::from),
            ScalarValue::Int16(v) => v.map(i64::from),
            ScalarValue::Int8(v) => v.map(i64::from),
            ScalarValue::UInt32(v) => v.map(i64::from),
            ScalarValue::UInt64(v) => v.and_then(|v| i64::try_from(v).ok()),
            _ => None,
        }
    }

    pub fn bool(&self, i: usize, row: usize) -> Option<bool> {
        let a = &self.arrays[i];
        if a.is_null(row) {
            return None;
        }
        match ScalarValue::try_from_array(a, row).ok()? {
            ScalarValue::Boolean(b) => b,
            _ => None,
        }
    }

    /// A list argument's elements at `row`.
    pub fn list(&self, i: usize, row: usize) -> Result<Option<ArrayRef>> {
        if null_at(&self.arrays[i], row) {
            return Ok(None);
        }
        match ScalarValue::try_from_array(&self.arrays[i], row)? {
            ScalarValue::List(l) => Ok(Some(l.value(0))),
            _ => Ok(None),
        }
    }

    /// A `text[]` argument: a list, or an array's text form (`'{a,b}'`).
    pub fn path(&self, i: usize, row: usize) -> Result<Option<Vec<Option<String>>>> {
        let a = &self.arrays[i];
        if null_at(a, row) {
            return Ok(None);
        }
        if let Some(s) = str_at(a, row) {
            return crate::pg_catalog::array_text::parse(s)
                .map(Some)
                .ok_or_else(|| {
                    super::sql_error("22P02", format!("malformed array literal: \"{s}\""))
                });
        }
        let ScalarValue::List(list) = ScalarValue::try_from_array(a, row)? else {
            return Err(super::sql_error(
                "42883",
                "function argument is not a text array",
            ));
        };
        let values = list.value(0);
        Ok(Some(
            (0..values.len())
                .map(|j| {
                    Ok(match ScalarValue::try_from_array(&values, j)? {
                        v if v.is_null() => None,
                        ScalarValue::Utf8(s)
                        | ScalarValue::LargeUtf8(s)
                        | ScalarValue::Utf8View(s) => s,
                        v => Some(v.to_string()),
                    })
                })
                .collect::<Result<_>>()?,
        ))
    }

    /// Argument `i` read as jsonb: json and jsonb values, and text (an untyped literal or parameter).
    pub fn jsonb(&self, i: usize, row: usize) -> Result<Option<Jsonb>> {
        match self.str(i, row) {
            Some(s) => Jsonb::parse(s).map(Some).map_err(super::parse_error),
            None => Ok(None),
        }
    }

    /// Argument `i` as a JSON value, whatever its SQL type (`to_jsonb`).
    pub fn value(&self, i: usize, row: usize) -> Result<Jsonb> {
        super::convert::to_jsonb(&self.arrays[i], self.kinds[i], row, &self.zone)
    }
}

fn str_at(a: &ArrayRef, row: usize) -> Option<&str> {
    if a.is_null(row) {
        return None;
    }
    if let Some(s) = a.as_any().downcast_ref::<StringArray>() {
        return Some(s.value(row));
    }
    if let Some(s) = a.as_any().downcast_ref::<StringViewArray>() {
        return Some(s.value(row));
    }
    a.as_any()
        .downcast_ref::<LargeStringArray>()
        .map(|s| s.value(row))
}

pub(super) type Body = dyn Fn(&Args, usize) -> Result<Out> + Send + Sync;

pub(super) struct JsonFn {
    pub name: &'static str,
    pub signature: Signature,
    pub ret: Ret,
    /// Whether a NULL argument makes the result NULL without calling `body` (PostgreSQL's STRICT).
    pub strict: bool,
    pub body: Arc<Body>,
}

impl std::fmt::Debug for JsonFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl PartialEq for JsonFn {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && Arc::ptr_eq(&self.body, &other.body)
    }
}

impl Eq for JsonFn {}

impl Hash for JsonFn {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl JsonFn {
    fn kind_for(&self, first: Option<&FieldRef>) -> Option<Kind> {
        match self.ret {
            Ret::Kind(k) => Some(k),
            Ret::Same => Some(first.and_then(|f| kind_of(f)).unwrap_or(Kind::Jsonb)),
            _ => None,
        }
    }
}

impl ScalarUDFImpl for JsonFn {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(match self.ret {
            Ret::List => DataType::new_list(DataType::Utf8, true),
            Ret::Bool => DataType::Boolean,
            Ret::Int => DataType::Int32,
            _ => DataType::Utf8,
        })
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let field = Field::new(self.name, self.return_type(&[])?, true);
        Ok(Arc::new(match self.kind_for(args.arg_fields.first()) {
            Some(k) => marked(field, k),
            None => field,
        }))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let n = if scalar { 1 } else { args.number_rows };
        let zone = crate::text::session_zone(&args);
        let values = Args {
            arrays: ColumnarValue::values_to_arrays(&args.args)?,
            kinds: args.arg_fields.iter().map(|f| kind_of(f)).collect(),
            zone,
        };
        let out = self.eval(&values, n)?;
        Ok(if scalar {
            ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?)
        } else {
            ColumnarValue::Array(out)
        })
    }
}

impl JsonFn {
    fn eval(&self, args: &Args, n: usize) -> Result<ArrayRef> {
        let null_in = |row| self.strict && (0..args.len()).any(|i| args.is_null(i, row));
        Ok(match self.ret {
            Ret::Bool => {
                let mut b = BooleanBuilder::with_capacity(n);
                for row in 0..n {
                    match if null_in(row) {
                        Out::Null
                    } else {
                        (self.body)(args, row)?
                    } {
                        Out::Bool(v) => b.append_value(v),
                        _ => b.append_null(),
                    }
                }
                Arc::new(b.finish())
            }
            Ret::List => {
                let mut b = ListBuilder::new(StringBuilder::new());
                for row in 0..n {
                    match if null_in(row) {
                        Out::Null
                    } else {
                        (self.body)(args, row)?
                    } {
                        Out::List(items) => {
                            for item in items {
                                b.values().append_option(item);
                            }
                            b.append(true);
                        }
                        _ => b.append(false),
                    }
                }
                Arc::new(b.finish())
            }
            Ret::Int => {
                let mut b = Int32Builder::with_capacity(n);
                for row in 0..n {
                    match if null_in(row) {
                        Out::Null
                    } else {
                        (self.body)(args, row)?
                    } {
                        Out::Int(v) => b.append_value(v),
                        _ => b.append_null(),
                    }
                }
                Arc::new(b.finish())
            }
            _ => {
                let mut b = StringBuilder::with_capacity(n, n * 16);
                for row in 0..n {
                    match if null_in(row) {
                        Out::Null
                    } else {
                        (self.body)(args, row)?
                    } {
                        Out::Text(v) => b.append_value(v),
                        _ => b.append_null(),
                    }
                }
                Arc::new(b.finish())
            }
        })
    }
}

/// Registers a [`JsonFn`].
pub(super) fn register(
    ctx: &datafusion::prelude::SessionContext,
    name: &'static str,
    signature: Signature,
    ret: Ret,
    strict: bool,
    body: Arc<Body>,
) -> Arc<ScalarUDF> {
    let udf = Arc::new(ScalarUDF::from(JsonFn {
        name,
        signature,
        ret,
        strict,
        body,
    }));
    ctx.register_udf(udf.as_ref().clone());
    udf
}

/// A function of `counts` arguments of any type, checked at run time.
pub(super) fn any_of(counts: &[usize], volatility: Volatility) -> Signature {
    Signature::one_of(
        counts
            .iter()
            .map(|&n| {
                if n == 0 {
                    TypeSignature::Nullary
                } else {
                    TypeSignature::Any(n)
                }
            })
            .collect(),
        volatility,
    )
}

/// Row `row` of a text array, if not NULL.
pub(super) fn texts_at(a: &ArrayRef, row: usize) -> Option<&str> {
    str_at(a, row)
}

/// The strings of a text array (NULL elements as `None`).
pub(super) fn texts(a: &ArrayRef) -> Vec<Option<String>> {
    (0..a.len())
        .map(|i| str_at(a, i).map(str::to_string))
        .collect()
}

/// Whether row `row` of `a` is NULL (a NULL literal is a NullArray, which has no validity buffer).
pub(super) fn null_at(a: &ArrayRef, row: usize) -> bool {
    a.data_type() == &DataType::Null || a.is_null(row)
}
