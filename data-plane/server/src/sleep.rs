//! `pg_sleep(seconds)` and `pg_sleep_for(interval)`: asynchronous, so a sleeping statement holds no thread
//! and a cancel or `statement_timeout` ends it at once (the query's future is dropped), as in PostgreSQL.
//! Like PostgreSQL's, they return void (an empty value, not NULL) and sleep once per row.

use std::sync::Arc;
use std::time::Duration;

use arrow_array::{Array, Float64Array, IntervalMonthDayNanoArray, StringArray};
use arrow_schema::{DataType, IntervalUnit};
use async_trait::async_trait;
use datafusion::error::Result;
use datafusion::logical_expr::async_udf::{AsyncScalarUDF, AsyncScalarUDFImpl};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, TypeSignature, Volatility,
};
use datafusion::prelude::SessionContext;

/// The two functions; `interval` tells them apart.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Sleep {
    interval: bool,
    signature: Signature,
}

impl Sleep {
    fn new(interval: bool) -> Sleep {
        let signature = if interval {
            Signature::exact(
                vec![DataType::Interval(IntervalUnit::MonthDayNano)],
                Volatility::Volatile,
            )
        } else {
            // `pg_sleep('0.5')`: a quoted literal is read as double precision, as PostgreSQL reads it.
            Signature::one_of(
                vec![
                    TypeSignature::Exact(vec![DataType::Float64]),
                    TypeSignature::Exact(vec![DataType::Utf8]),
                ],
                Volatility::Volatile,
            )
        };
        Sleep {
            interval,
            signature,
        }
    }

    /// How long each row sleeps (`None`: a NULL argument; a negative one sleeps not at all). An interval's
    /// months count as 30 days and its days as 24 hours, as PostgreSQL's `pg_sleep_for` adds it to now().
    fn durations(&self, arg: &dyn Array) -> Result<Vec<Option<Duration>>> {
        let seconds: Vec<Option<f64>> = if self.interval {
            let a = arg
                .as_any()
                .downcast_ref::<IntervalMonthDayNanoArray>()
                .expect("the signature is an interval");
            a.iter()
                .map(|v| {
                    v.map(|v| {
                        (v.months as f64 * 30.0 + v.days as f64) * 86_400.0
                            + v.nanoseconds as f64 / 1e9
                    })
                })
                .collect()
        } else if let Some(a) = arg.as_any().downcast_ref::<StringArray>() {
            a.iter()
                .map(|v| {
                    v.map(|t| {
                        t.trim().parse::<f64>().map_err(|_| {
                            datafusion::error::DataFusionError::External(Box::new(
                                crate::error::Error::sql(
                                    "22P02",
                                    format!(
                                        "invalid input syntax for type double precision: \"{t}\""
                                    ),
                                ),
                            ))
                        })
                    })
                    .transpose()
                })
                .collect::<Result<_>>()?
        } else {
            let a = arg
                .as_any()
                .downcast_ref::<Float64Array>()
                .expect("the signature is double precision");
            a.iter().collect()
        };
        Ok(seconds
            .into_iter()
            .map(|s| {
                s.map(|s| match s {
                    s if s > 0.0 && s.is_finite() => Duration::from_secs_f64(s),
                    _ => Duration::ZERO,
                })
            })
            .collect())
    }
}

impl ScalarUDFImpl for Sleep {
    fn name(&self) -> &str {
        if self.interval {
            "pg_sleep_for"
        } else {
            "pg_sleep"
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, _: ScalarFunctionArgs) -> Result<ColumnarValue> {
        Err(datafusion::error::DataFusionError::Internal(format!(
            "{} runs asynchronously",
            self.name()
        )))
    }
}

#[async_trait]
impl AsyncScalarUDFImpl for Sleep {
    async fn invoke_async_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let arg = args.args[0].to_array(rows)?;
        let durations = self.durations(arg.as_ref())?;
        for d in durations.iter().flatten() {
            if !d.is_zero() {
                tokio::time::sleep(*d).await;
            }
        }
        // void: an empty value; NULL for a NULL argument (the functions are strict).
        Ok(ColumnarValue::Array(Arc::new(
            durations
                .iter()
                .map(|d| d.map(|_| ""))
                .collect::<StringArray>(),
        )))
    }
}

pub fn register(ctx: &SessionContext) {
    for interval in [false, true] {
        let udf = AsyncScalarUDF::new(Arc::new(Sleep::new(interval)));
        ctx.register_udf(udf.into_scalar_udf());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::types::IntervalMonthDayNano;

    #[test]
    fn each_row_sleeps_its_own_time() {
        let s = Sleep::new(false);
        let a = Float64Array::from(vec![Some(0.25), None, Some(-1.0), Some(f64::NAN)]);
        assert_eq!(
            s.durations(&a).unwrap(),
            [
                Some(Duration::from_millis(250)),
                None,
                Some(Duration::ZERO),
                Some(Duration::ZERO)
            ]
        );
        let a = StringArray::from(vec![" 0.5", "1e-3"]);
        assert_eq!(
            s.durations(&a).unwrap(),
            [
                Some(Duration::from_millis(500)),
                Some(Duration::from_millis(1))
            ]
        );
        assert!(s.durations(&StringArray::from(vec!["soon"])).is_err());
        let s = Sleep::new(true);
        let a = IntervalMonthDayNanoArray::from(vec![
            IntervalMonthDayNano::new(0, 0, 1_500_000_000),
            IntervalMonthDayNano::new(0, 1, 0),
        ]);
        assert_eq!(
            s.durations(&a).unwrap(),
            [
                Some(Duration::from_millis(1500)),
                Some(Duration::from_secs(86_400))
            ]
        );
    }
}
