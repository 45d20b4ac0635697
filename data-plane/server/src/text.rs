//! PostgreSQL's text form where pgwire's differs: timestamps print only the fractional digits they need
//! (`10:00:00`, `10:00:00.5`), and `timestamptz` ends in the session zone's offset (`+00`).

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType,
};
use arrow_array::{Array, ArrayRef, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::logical_expr::expr::Cast;
use datafusion::logical_expr::{
    ColumnarValue, Expr, ExprSchemable, LogicalPlan, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl,
    Signature, Volatility,
};

/// `micros` since the epoch as PostgreSQL prints a timestamp (with `+00` when `tz`).
pub fn format_timestamp(micros: i64, tz: bool) -> String {
    let secs = micros.div_euclid(1_000_000);
    let frac = micros.rem_euclid(1_000_000);
    let t = chrono::DateTime::from_timestamp(secs, 0).map(|d| d.naive_utc());
    let Some(t) = t else {
        return micros.to_string();
    };
    // Hand-formatted: chrono's strftime parses its format string on every call (hot for result rows).
    use chrono::{Datelike, Timelike};
    use std::fmt::Write;
    let mut s = String::with_capacity(32);
    let _ = write!(
        s,
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    if frac != 0 {
        let f = format!("{frac:06}");
        s.push('.');
        s.push_str(f.trim_end_matches('0'));
    }
    if tz {
        s.push_str("+00");
    }
    s
}

fn micros(a: &dyn Array, unit: TimeUnit, i: usize) -> i64 {
    match unit {
        TimeUnit::Second => a.as_primitive::<TimestampSecondType>().value(i) * 1_000_000,
        TimeUnit::Millisecond => a.as_primitive::<TimestampMillisecondType>().value(i) * 1000,
        TimeUnit::Microsecond => a.as_primitive::<TimestampMicrosecondType>().value(i),
        TimeUnit::Nanosecond => a
            .as_primitive::<TimestampNanosecondType>()
            .value(i)
            .div_euclid(1000),
    }
}

fn timestamp_strings(a: &dyn Array, unit: TimeUnit, tz: bool) -> StringArray {
    (0..a.len())
        .map(|i| (!a.is_null(i)).then(|| format_timestamp(micros(a, unit, i), tz)))
        .collect()
}

/// `CAST(ts AS text)` in PostgreSQL's form (`2024-01-02 01:04:05+00`), not Arrow's ISO 8601 form.
#[derive(Debug, PartialEq, Eq, Hash)]
struct TimestampText {
    signature: Signature,
}

impl ScalarUDFImpl for TimestampText {
    fn name(&self) -> &str {
        "pg_timestamp_text"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> datafusion::error::Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(
        &self,
        args: ScalarFunctionArgs,
    ) -> datafusion::error::Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let a = &arrays[0];
        let DataType::Timestamp(unit, tz) = a.data_type() else {
            return Err(datafusion::error::DataFusionError::Internal(format!(
                "pg_timestamp_text of {}",
                a.data_type()
            )));
        };
        let out: ArrayRef = Arc::new(timestamp_strings(a.as_ref(), *unit, tz.is_some()));
        Ok(match &args.args[0] {
            ColumnarValue::Scalar(_) => {
                ColumnarValue::Scalar(datafusion::scalar::ScalarValue::try_from_array(&out, 0)?)
            }
            ColumnarValue::Array(_) => ColumnarValue::Array(out),
        })
    }
}

/// Replaces every cast of a timestamp to text in `plan` with PostgreSQL's text form.
pub fn postgres_text_casts(plan: LogicalPlan) -> datafusion::error::Result<LogicalPlan> {
    let udf = Arc::new(ScalarUDF::from(TimestampText {
        signature: Signature::any(1, Volatility::Immutable),
    }));
    let out = plan.transform_up_with_subqueries(|node| {
        let inputs = node.inputs();
        if inputs.len() != 1 {
            return Ok(Transformed::no(node));
        }
        let schema = inputs[0].schema().clone();
        let keep_names = matches!(node, LogicalPlan::Projection(_) | LogicalPlan::Aggregate(_));
        let node = node.map_expressions(|e| {
            let name = e.schema_name().to_string();
            let t = e.transform_up(|e| match e {
                Expr::Cast(Cast { expr, field })
                    if matches!(
                        field.data_type(),
                        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
                    ) && matches!(
                        expr.get_type(schema.as_ref()),
                        Ok(DataType::Timestamp(..))
                    ) =>
                {
                    let target = field.data_type().clone();
                    Ok(Transformed::yes(datafusion::logical_expr::cast(
                        udf.call(vec![*expr]),
                        target,
                    )))
                }
                e => Ok(Transformed::no(e)),
            })?;
            if t.transformed && keep_names {
                t.map_data(|e| e.alias_if_changed(name))
            } else {
                Ok(t)
            }
        })?;
        if node.transformed {
            // Expression names feed the node's schema: recompute it.
            node.map_data(|n| n.recompute_schema())
        } else {
            Ok(node)
        }
    })?;
    Ok(out.data)
}

/// The batch with the given timestamp columns replaced by their PostgreSQL text. The row description keeps
/// the timestamp type: only the text encoding of the values changes.
pub fn timestamps_as_text(b: RecordBatch, cols: &[usize]) -> RecordBatch {
    let mut columns: Vec<ArrayRef> = b.columns().to_vec();
    let mut fields: Vec<Field> = b
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    for &c in cols {
        let a = b.column(c);
        let DataType::Timestamp(unit, tz) = a.data_type() else {
            continue;
        };
        columns[c] = Arc::new(timestamp_strings(a.as_ref(), *unit, tz.is_some()));
        fields[c] = Field::new(fields[c].name(), DataType::Utf8, true);
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap_or(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_timestamp_text() {
        assert_eq!(format_timestamp(0, false), "1970-01-01 00:00:00");
        assert_eq!(
            format_timestamp(1_500_000, true),
            "1970-01-01 00:00:01.5+00"
        );
        assert_eq!(format_timestamp(-1, false), "1969-12-31 23:59:59.999999");
    }
}
