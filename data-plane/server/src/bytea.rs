//! PostgreSQL's string functions that also take `bytea`: `substring` / `substr` and `octet_length`.
//! DataFusion's take text only. Each is registered under DataFusion's own name as a wrapper that hands text
//! to DataFusion's function and does bytes itself, so text keeps DataFusion's behaviour exactly.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, BinaryArray, Int32Array};
use arrow_schema::DataType;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Kind {
    Substr,
    OctetLength,
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct ByteaAware {
    kind: Kind,
    inner: Arc<ScalarUDF>,
    signature: Signature,
}

pub fn register(ctx: &SessionContext) {
    for (kind, inner) in [
        (Kind::Substr, datafusion::functions::unicode::substr()),
        (
            Kind::OctetLength,
            datafusion::functions::string::octet_length(),
        ),
    ] {
        ctx.register_udf(ScalarUDF::from(ByteaAware {
            kind,
            inner,
            signature: Signature::user_defined(Volatility::Immutable),
        }));
    }
}

fn is_binary(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView
    )
}

fn no_function(name: &str, args: &[DataType]) -> DataFusionError {
    let shown: Vec<String> = args.iter().map(ToString::to_string).collect();
    DataFusionError::External(Box::new(crate::error::Error::sql(
        "42883",
        format!("function {name}({}) does not exist", shown.join(", ")),
    )))
}

impl ScalarUDFImpl for ByteaAware {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        let arity = match self.kind {
            Kind::Substr => 2..=3,
            Kind::OctetLength => 1..=1,
        };
        if !arity.contains(&args.len()) {
            return Err(no_function(self.name(), args));
        }
        let first = match &args[0] {
            t if is_binary(t) => DataType::Binary,
            t @ (DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View) => t.clone(),
            DataType::Null => DataType::Utf8,
            _ => return Err(no_function(self.name(), args)),
        };
        let mut out = vec![first];
        for t in &args[1..] {
            if !(t.is_integer() || *t == DataType::Null) {
                return Err(no_function(self.name(), args));
            }
            out.push(DataType::Int64);
        }
        Ok(out)
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        match self.kind {
            Kind::Substr => Ok(args[0].clone()),
            Kind::OctetLength if is_binary(&args[0]) => Ok(DataType::Int32),
            Kind::OctetLength => self.inner.return_type(args),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        if !is_binary(&args.args[0].data_type()) {
            return self.inner.invoke_with_args(args);
        }
        let scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let bytes = arrays[0].as_binary::<i32>();
        let out: ArrayRef = match self.kind {
            Kind::OctetLength => Arc::new(
                (0..bytes.len())
                    .map(|i| (!bytes.is_null(i)).then(|| bytes.value(i).len() as i32))
                    .collect::<Int32Array>(),
            ),
            Kind::Substr => {
                let start = arrays[1].as_primitive::<arrow_array::types::Int64Type>();
                let count = arrays
                    .get(2)
                    .map(|a| a.as_primitive::<arrow_array::types::Int64Type>());
                let mut values: Vec<Option<Vec<u8>>> = Vec::with_capacity(bytes.len());
                for i in 0..bytes.len() {
                    if bytes.is_null(i) || start.is_null(i) || count.is_some_and(|c| c.is_null(i)) {
                        values.push(None);
                        continue;
                    }
                    values.push(Some(
                        substring(bytes.value(i), start.value(i), count.map(|c| c.value(i)))?
                            .to_vec(),
                    ));
                }
                Arc::new(values.into_iter().collect::<BinaryArray>())
            }
        };
        Ok(if scalar {
            ColumnarValue::Scalar(datafusion::scalar::ScalarValue::try_from_array(&out, 0)?)
        } else {
            ColumnarValue::Array(out)
        })
    }
}

/// PostgreSQL's `substring(bytes FROM start [FOR count])`: positions from 1; a start before 1 still counts
/// toward `count`; a negative count is 22011.
fn substring(b: &[u8], start: i64, count: Option<i64>) -> Result<&[u8]> {
    let end = match count {
        Some(n) if n < 0 => {
            return Err(DataFusionError::External(Box::new(
                crate::error::Error::sql("22011", "negative substring length not allowed"),
            )));
        }
        Some(n) => start.saturating_add(n),
        None => i64::MAX,
    };
    let from = (start.max(1) - 1).min(b.len() as i64) as usize;
    let to = (end.max(1) - 1).min(b.len() as i64) as usize;
    Ok(if to > from { &b[from..to] } else { &[] })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substring_counts_positions_as_postgresql() {
        let b = [1u8, 2, 3, 4];
        assert_eq!(substring(&b, 2, Some(2)).unwrap(), &[2, 3]);
        assert_eq!(substring(&b, 0, Some(2)).unwrap(), &[1]);
        assert_eq!(substring(&b, -5, Some(2)).unwrap(), &[] as &[u8]);
        assert_eq!(substring(&b, 3, None).unwrap(), &[3, 4]);
        assert_eq!(substring(&b, 9, Some(1)).unwrap(), &[] as &[u8]);
        assert_eq!(substring(&b, 1, Some(0)).unwrap(), &[] as &[u8]);
        assert!(substring(&b, 1, Some(-1)).is_err());
    }
}
