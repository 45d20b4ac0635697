//! timestamptz in the session's time zone, as PostgreSQL defines it: a cast to `timestamp`, `date` or
//! `time` keeps the wall time in the session's zone, a wall time (text, `timestamp`, `date`) becomes an
//! instant in it, functions such as `date_trunc` and `extract` work in it, and `x AT TIME ZONE z` /
//! `timezone(z, x)` convert between the two.
//!
//! Arrow's casts read a zone from the value's type label, and our stored columns are labelled UTC, so an
//! analyzer rule (after type coercion, which adds most of these casts) relabels to the session's zone where
//! the zone matters, and reads wall times with [`LocalTime`], since Arrow's zone-dropping cast keeps UTC's.
//! Every rewrite keeps the expression's type (and, through `NamePreserver`, its name).

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::IntervalMonthDayNanoType;
use arrow_array::{Array, ArrayRef, TimestampMicrosecondArray};
use arrow_schema::{DataType, TimeUnit};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DFSchema, DataFusionError, Result};
use datafusion::logical_expr::expr::{Cast, ScalarFunction, TryCast};
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::{
    ColumnarValue, Expr, ExprSchemable, LogicalPlan, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl,
    Signature, Volatility,
};
use datafusion::optimizer::analyzer::AnalyzerRule;
use datafusion::prelude::SessionContext;

use crate::zone::Zone;

const LOCAL_TIME: &str = "pg_local_time";
const TIMESTAMPTZ_IN: &str = "pg_timestamptz_in";
const TIMESTAMP_IN: &str = "pg_timestamp_in";

/// Registers `timezone(zone, ts)` and the rule.
pub fn register(ctx: &SessionContext) {
    ctx.register_udf(ScalarUDF::from(AtTimeZone::default()));
    ctx.add_analyzer_rule(Arc::new(SessionZone));
}

fn session_zone(config: &ConfigOptions) -> Zone {
    config
        .execution
        .time_zone
        .as_deref()
        .and_then(Zone::of_arrow)
        .unwrap_or_default()
}

/// The analyzer rule (see the module comment). In a session in UTC only text input needs it: UTC is every
/// label's wall time already.
#[derive(Debug)]
struct SessionZone;

impl AnalyzerRule for SessionZone {
    fn name(&self) -> &str {
        "pg_session_zone"
    }

    fn analyze(&self, plan: LogicalPlan, config: &ConfigOptions) -> Result<LogicalPlan> {
        let Some(label) = config.execution.time_zone.as_deref() else {
            return Ok(plan);
        };
        if !mentions_timestamps(&plan)? {
            return Ok(plan);
        }
        let rules = Rules {
            session: label.into(),
            utc: session_zone(config).is_utc(),
            local: Arc::new(ScalarUDF::from(LocalTime::default())),
            text_in: Arc::new(ScalarUDF::from(TextIn::new(true))),
            text_in_naive: Arc::new(ScalarUDF::from(TextIn::new(false))),
        };
        let out = plan.transform_up_with_subqueries(|node| {
            let schema = crate::plan_exprs::input_schema(&node);
            let names = NamePreserver::new(&node);
            node.map_expressions(|e| {
                let saved = names.save(&e);
                let t = e.transform_up(|e| rules.rezone(e, &schema))?;
                Ok(t.update_data(|e| saved.restore(e)))
            })
        })?;
        Ok(out.data)
    }
}

fn is_timestamp(t: &DataType) -> bool {
    matches!(t, DataType::Timestamp(..))
}

/// Whether any node's output or any cast mentions a timestamp (the rule's cheap exit).
fn mentions_timestamps(plan: &LogicalPlan) -> Result<bool> {
    plan.exists(|n| {
        if n.schema()
            .fields()
            .iter()
            .any(|f| is_timestamp(f.data_type()))
        {
            return Ok(true);
        }
        let mut found = false;
        n.apply_expressions(|e| {
            found |= e.exists(|e| {
                // A cast to a wall-time type may read an instant (`now()::time`).
                Ok(matches!(e, Expr::Cast(Cast { field, .. }) | Expr::TryCast(TryCast { field, .. })
                    if is_timestamp(field.data_type())
                        || matches!(field.data_type(), DataType::Date32 | DataType::Time64(_))))
            })?;
            Ok(if found {
                datafusion::common::tree_node::TreeNodeRecursion::Stop
            } else {
                datafusion::common::tree_node::TreeNodeRecursion::Continue
            })
        })?;
        Ok(found)
    })
}

struct Rules {
    session: Arc<str>,
    utc: bool,
    local: Arc<ScalarUDF>,
    text_in: Arc<ScalarUDF>,
    text_in_naive: Arc<ScalarUDF>,
}

impl Rules {
    fn rezone(&self, e: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
        match e {
            Expr::Cast(Cast { expr, field }) => {
                let t = self.cast_input(*expr, field.data_type(), schema)?;
                Ok(t.update_data(|expr| {
                    Expr::Cast(Cast {
                        expr: Box::new(expr),
                        field,
                    })
                }))
            }
            Expr::TryCast(TryCast { expr, field }) => {
                let t = self.cast_input(*expr, field.data_type(), schema)?;
                Ok(t.update_data(|expr| {
                    Expr::TryCast(TryCast {
                        expr: Box::new(expr),
                        field,
                    })
                }))
            }
            Expr::ScalarFunction(f)
                if !self.utc
                    && !matches!(
                        f.func.name(),
                        LOCAL_TIME
                            | TIMESTAMPTZ_IN
                            | TIMESTAMP_IN
                            | "timezone"
                            | crate::text::TIMESTAMP_TEXT
                    ) =>
            {
                // date_trunc, date_part, to_char, ...: in the session's zone, result typed as before.
                let mut relabel = Vec::with_capacity(f.args.len());
                for a in &f.args {
                    relabel.push(match a.get_type(schema)? {
                        DataType::Timestamp(unit, Some(z)) if z != self.session => Some(unit),
                        _ => None,
                    });
                }
                let call = Expr::ScalarFunction(f);
                if relabel.iter().all(Option::is_none) {
                    return Ok(Transformed::no(call));
                }
                let before = call.get_type(schema)?;
                let Expr::ScalarFunction(f) = call else {
                    unreachable!("built above")
                };
                let args = f
                    .args
                    .into_iter()
                    .zip(relabel)
                    .map(|(a, unit)| match unit {
                        Some(unit) => self.relabel(a, unit),
                        None => a,
                    })
                    .collect();
                let call = Expr::ScalarFunction(ScalarFunction::new_udf(f.func, args));
                Ok(Transformed::yes(Expr::Cast(Cast::new(
                    Box::new(call),
                    before,
                ))))
            }
            e => Ok(Transformed::no(e)),
        }
    }

    fn relabel(&self, x: Expr, unit: TimeUnit) -> Expr {
        Expr::Cast(Cast::new(
            Box::new(x),
            DataType::Timestamp(unit, Some(self.session.clone())),
        ))
    }

    /// What a cast of `expr` to `to` must cast instead, if the zone matters to it.
    fn cast_input(
        &self,
        expr: Expr,
        to: &DataType,
        schema: &DFSchema,
    ) -> Result<Transformed<Expr>> {
        let from = expr.get_type(schema)?;
        Ok(match (&from, to) {
            // Text to an instant: PostgreSQL's input forms, a wall time in the session's zone.
            (
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View,
                DataType::Timestamp(_, Some(_)),
            ) => Transformed::yes(self.text_in.call(vec![expr])),
            (
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View,
                DataType::Timestamp(_, None),
            ) => Transformed::yes(self.text_in_naive.call(vec![expr])),
            // An instant to a wall-time type: its wall time in the session's zone.
            (
                DataType::Timestamp(_, Some(_)),
                DataType::Timestamp(_, None)
                | DataType::Date32
                | DataType::Date64
                | DataType::Time64(_),
            ) if !self.utc => Transformed::yes(self.local.call(vec![expr])),
            // A wall time to an instant labelled with another zone: read in the session's first.
            (
                DataType::Date32 | DataType::Timestamp(_, None),
                DataType::Timestamp(unit, Some(z)),
            ) if !self.utc && *z != self.session => Transformed::yes(self.relabel(expr, *unit)),
            _ => Transformed::no(expr),
        })
    }
}

/// Microseconds of row `i` of a timestamp array, any unit.
fn micros_of(a: &dyn Array, i: usize) -> Option<i64> {
    let DataType::Timestamp(unit, _) = a.data_type() else {
        return None;
    };
    (!a.is_null(i)).then(|| crate::text::micros(a, *unit, i))
}

fn one_or_array(args: &ScalarFunctionArgs, out: ArrayRef) -> Result<ColumnarValue> {
    Ok(
        if args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)))
        {
            ColumnarValue::Scalar(datafusion::scalar::ScalarValue::try_from_array(&out, 0)?)
        } else {
            ColumnarValue::Array(out)
        },
    )
}

/// `pg_local_time(tz)`: a timestamptz's wall time in the session's zone, as a `timestamp`.
#[derive(Debug, PartialEq, Eq, Hash)]
struct LocalTime {
    signature: Signature,
}

impl Default for LocalTime {
    fn default() -> Self {
        LocalTime {
            signature: Signature::any(1, Volatility::Stable),
        }
    }
}

impl ScalarUDFImpl for LocalTime {
    fn name(&self) -> &str {
        LOCAL_TIME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Timestamp(TimeUnit::Microsecond, None))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let zone = session_zone(&args.config_options);
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let a = &arrays[0];
        let out: TimestampMicrosecondArray = (0..a.len())
            .map(|i| micros_of(a, i).map(|m| m + i64::from(zone.offset_at(m)) * 1_000_000))
            .collect();
        one_or_array(&args, Arc::new(out))
    }
}

/// `pg_timestamptz_in(text)` and `pg_timestamp_in(text)`: PostgreSQL's input forms where Arrow's cast
/// refuses them (`2024-07-01 12:00`, a zone name after the time); a timestamptz without an offset is a wall
/// time in the session's zone. What neither reads is Arrow's to try, then 22007.
#[derive(Debug, PartialEq, Eq, Hash)]
struct TextIn {
    signature: Signature,
    zoned: bool,
}

impl TextIn {
    fn new(zoned: bool) -> TextIn {
        TextIn {
            signature: Signature::any(1, Volatility::Stable),
            zoned,
        }
    }

    fn target(&self, zone: &Zone) -> DataType {
        DataType::Timestamp(TimeUnit::Microsecond, self.zoned.then(|| zone.arrow()))
    }
}

impl ScalarUDFImpl for TextIn {
    fn name(&self) -> &str {
        if self.zoned {
            TIMESTAMPTZ_IN
        } else {
            TIMESTAMP_IN
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Timestamp(
            TimeUnit::Microsecond,
            self.zoned.then(|| "UTC".into()),
        ))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let zone = session_zone(&args.config_options);
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let text = arrow_cast::cast(&arrays[0], &DataType::Utf8)?;
        let text = text.as_string::<i32>();
        let mut out = Vec::with_capacity(text.len());
        for i in 0..text.len() {
            if text.is_null(i) {
                out.push(None);
                continue;
            }
            let s = text.value(i);
            let ours = if self.zoned {
                crate::copy::parse_timestamptz(s, &zone)
            } else {
                crate::copy::parse_timestamp(s)
            };
            let micros = match ours {
                Some(m) => m,
                None => self.arrow_reads(s, &zone).ok_or_else(|| {
                    let ty = if self.zoned { "with" } else { "without" };
                    DataFusionError::External(Box::new(crate::error::Error::sql(
                        "22007",
                        format!("invalid input syntax for type timestamp {ty} time zone: \"{s}\""),
                    )))
                })?,
            };
            out.push(Some(micros));
        }
        let out = TimestampMicrosecondArray::from(out);
        let out = if self.zoned {
            out.with_timezone("UTC")
        } else {
            out
        };
        one_or_array(&args, Arc::new(out))
    }
}

impl TextIn {
    /// Arrow's reading of `s` (RFC 3339 and its other forms), in microseconds.
    fn arrow_reads(&self, s: &str, zone: &Zone) -> Option<i64> {
        let one = arrow_array::StringArray::from(vec![s]);
        let t = arrow_cast::cast(&one, &self.target(zone)).ok()?;
        micros_of(t.as_ref(), 0)
    }
}

/// `timezone(zone, x)`, what `x AT TIME ZONE zone` is rewritten to: a timestamptz's wall time in `zone`, or
/// the instant at which `zone`'s clocks show the wall time `x`.
#[derive(Debug, PartialEq, Eq, Hash)]
struct AtTimeZone {
    signature: Signature,
}

impl Default for AtTimeZone {
    fn default() -> Self {
        AtTimeZone {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for AtTimeZone {
    fn name(&self) -> &str {
        "timezone"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, types: &[DataType]) -> Result<Vec<DataType>> {
        let [zone, value] = types else {
            return Err(DataFusionError::Plan(
                "function timezone takes a zone and a timestamp".into(),
            ));
        };
        let zone = match zone {
            DataType::Interval(_) => zone.clone(),
            _ => DataType::Utf8,
        };
        let value = match value {
            DataType::Timestamp(_, z) => DataType::Timestamp(TimeUnit::Microsecond, z.clone()),
            DataType::Date32 => DataType::Timestamp(TimeUnit::Microsecond, None),
            // An untyped literal is a timestamptz (PostgreSQL's preferred type); the zone rule reads it
            // in the session's zone.
            _ => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        };
        Ok(vec![zone, value])
    }

    fn return_type(&self, types: &[DataType]) -> Result<DataType> {
        Ok(match types.get(1) {
            Some(DataType::Timestamp(_, None)) => {
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
            }
            _ => DataType::Timestamp(TimeUnit::Microsecond, None),
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let (zones, values) = (&arrays[0], &arrays[1]);
        let to_wall = matches!(values.data_type(), DataType::Timestamp(_, Some(_)));
        let mut last: Option<(String, Zone)> = None;
        let mut out = Vec::with_capacity(values.len());
        for i in 0..values.len() {
            let (Some(m), false) = (micros_of(values, i), zones.is_null(i)) else {
                out.push(None);
                continue;
            };
            let zone = match zones.data_type() {
                DataType::Interval(_) => {
                    let v = zones
                        .as_primitive_opt::<IntervalMonthDayNanoType>()
                        .ok_or_else(|| bad_zone("interval"))?
                        .value(i);
                    if v.months != 0 {
                        return Err(bad_zone(&format!("{} months", v.months)));
                    }
                    let secs = i64::from(v.days) * 86_400 + v.nanoseconds / 1_000_000_000;
                    Zone::east(secs as i32).ok_or_else(|| bad_zone(&format!("{secs} seconds")))?
                }
                _ => {
                    let name = zones.as_string::<i32>().value(i);
                    match &last {
                        Some((n, z)) if n == name => z.clone(),
                        _ => {
                            let z = Zone::at(name).ok_or_else(|| bad_zone(name))?;
                            last = Some((name.to_string(), z.clone()));
                            z
                        }
                    }
                }
            };
            out.push(Some(if to_wall {
                m + i64::from(zone.offset_at(m)) * 1_000_000
            } else {
                zone.utc_of_local(m)
            }));
        }
        let out = TimestampMicrosecondArray::from(out);
        let out: ArrayRef = if to_wall {
            Arc::new(out)
        } else {
            Arc::new(out.with_timezone("UTC"))
        };
        one_or_array(&args, out)
    }
}

fn bad_zone(name: &str) -> DataFusionError {
    DataFusionError::External(Box::new(crate::error::Error::sql(
        crate::error::code::INVALID_PARAMETER_VALUE,
        format!("time zone \"{name}\" not recognized"),
    )))
}
