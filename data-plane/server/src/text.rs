//! PostgreSQL's text form where pgwire's differs: timestamps print only the fractional digits they need
//! (`10:00:00`, `10:00:00.5`), and `timestamptz` ends in the session zone's offset (`+00`).

use std::sync::Arc;

use crate::zone::Zone;
use arrow_array::cast::AsArray;
use arrow_array::types::{
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType,
};
use arrow_array::{Array, ArrayRef, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use bytes::{BufMut, BytesMut};
use datafusion::common::tree_node::Transformed;
use datafusion::logical_expr::expr::Cast;
use datafusion::logical_expr::{
    ColumnarValue, Expr, ExprSchemable, LogicalPlan, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl,
    Signature, Volatility,
};

/// `micros` since the epoch as PostgreSQL prints a timestamp; a `timestamptz` (`zone` given) as its wall
/// time in that zone followed by the offset (`+00`, `-04`, `+05:30`).
pub fn format_timestamp(micros: i64, zone: Option<&Zone>) -> String {
    let mut out = BytesMut::with_capacity(32);
    put_timestamp(&mut out, micros, zone);
    String::from_utf8_lossy(&out).into_owned()
}

/// Writes `micros` since the epoch as PostgreSQL prints a timestamp (see `format_timestamp`).
pub fn put_timestamp(out: &mut BytesMut, micros: i64, zone: Option<&Zone>) {
    let Some(zone) = zone else {
        return put_wall_time(out, micros);
    };
    let east = zone.offset_at(micros);
    put_wall_time(out, micros.saturating_add(i64::from(east) * 1_000_000));
    if east == 0 {
        out.put_slice(b"+00");
    } else {
        out.put_slice(crate::zone::offset_text(east).as_bytes());
    }
}

/// Years 1 to 9999 are formatted by hand (a value per result cell is hot); others take chrono's calendar.
fn put_wall_time(out: &mut BytesMut, micros: i64) {
    let secs = micros.div_euclid(1_000_000);
    let frac = micros.rem_euclid(1_000_000) as u32;
    let (y, m, d) = civil(secs.div_euclid(86_400));
    if !(1..=9999).contains(&y) {
        return out.put_slice(format_timestamp_chrono(micros, false).as_bytes());
    }
    let sod = secs.rem_euclid(86_400) as u32;
    let two =
        |out: &mut BytesMut, v: u32| out.put_slice(&[b'0' + (v / 10) as u8, b'0' + (v % 10) as u8]);
    let y = y as u32;
    two(out, y / 100);
    two(out, y % 100);
    out.put_u8(b'-');
    two(out, m);
    out.put_u8(b'-');
    two(out, d);
    out.put_u8(b' ');
    two(out, sod / 3600);
    out.put_u8(b':');
    two(out, sod / 60 % 60);
    out.put_u8(b':');
    two(out, sod % 60);
    if frac != 0 {
        let mut digits = [0u8; 6];
        let mut f = frac;
        for d in digits.iter_mut().rev() {
            *d = b'0' + (f % 10) as u8;
            f /= 10;
        }
        let keep = 6 - decimal_zeros(frac);
        out.put_u8(b'.');
        out.put_slice(&digits[..keep]);
    }
}

/// Trailing decimal zeros of a non-zero fraction.
fn decimal_zeros(mut v: u32) -> usize {
    let mut n = 0;
    while v != 0 && v.is_multiple_of(10) {
        v /= 10;
        n += 1;
    }
    n
}

/// Proleptic Gregorian (year, month, day) of a day count since 1970-01-01 (H. Hinnant's `civil_from_days`).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// The chrono-calendar form, for years outside 1 to 9999 (and the reference the tests check against).
fn format_timestamp_chrono(micros: i64, tz: bool) -> String {
    let secs = micros.div_euclid(1_000_000);
    let frac = micros.rem_euclid(1_000_000);
    let t = chrono::DateTime::from_timestamp(secs, 0).map(|d| d.naive_utc());
    let Some(t) = t else {
        return format!("{micros}{}", if tz { "+00" } else { "" });
    };
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

pub fn micros(a: &dyn Array, unit: TimeUnit, i: usize) -> i64 {
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

fn timestamp_strings(a: &dyn Array, unit: TimeUnit, zone: Option<&Zone>) -> StringArray {
    (0..a.len())
        .map(|i| (!a.is_null(i)).then(|| format_timestamp(micros(a, unit, i), zone)))
        .collect()
}

pub const TIMESTAMP_TEXT: &str = "pg_timestamp_text";

/// The session's time zone, as DataFusion's configuration hands it to a function.
pub fn session_zone(args: &ScalarFunctionArgs) -> Zone {
    args.config_options
        .execution
        .time_zone
        .as_deref()
        .and_then(Zone::of_arrow)
        .unwrap_or_default()
}

/// A function's result `out` in the shape of its argument `like`: one scalar for a scalar.
pub fn shaped_like(
    like: &ColumnarValue,
    out: ArrayRef,
) -> datafusion::error::Result<ColumnarValue> {
    Ok(match like {
        ColumnarValue::Scalar(_) => {
            ColumnarValue::Scalar(datafusion::scalar::ScalarValue::try_from_array(&out, 0)?)
        }
        ColumnarValue::Array(_) => ColumnarValue::Array(out),
    })
}

/// `CAST(ts AS text)` in PostgreSQL's form (`2024-01-02 01:04:05+00`), not Arrow's ISO 8601 form.
#[derive(Debug, PartialEq, Eq, Hash)]
struct TimestampText {
    signature: Signature,
}

impl ScalarUDFImpl for TimestampText {
    fn name(&self) -> &str {
        TIMESTAMP_TEXT
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
        // A timestamptz prints in the session's zone, whatever zone its value was computed in.
        let session = session_zone(&args);
        let zone = tz.is_some().then_some(&session);
        let out: ArrayRef = Arc::new(timestamp_strings(a.as_ref(), *unit, zone));
        shaped_like(&args.args[0], out)
    }
}

/// Replaces every cast of a timestamp or an array to text in `plan` with PostgreSQL's text form.
pub fn postgres_text_casts(plan: LogicalPlan) -> datafusion::error::Result<LogicalPlan> {
    let udf = Arc::new(ScalarUDF::from(TimestampText {
        signature: Signature::any(1, Volatility::Immutable),
    }));
    let arrays = Arc::new(ScalarUDF::from(crate::array_out::ArrayText {
        signature: Signature::any(1, Volatility::Stable),
    }));
    let intervals = Arc::new(ScalarUDF::from(crate::array_out::IntervalText {
        signature: Signature::any(1, Volatility::Immutable),
    }));
    let times = crate::times::text_udf();
    crate::plan_exprs::rewrite(
        plan,
        &|e, schema| match e {
            Expr::Cast(Cast { expr, field })
                if matches!(
                    field.data_type(),
                    DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
                ) && matches!(
                    expr.get_type(schema),
                    Ok(DataType::Timestamp(..)
                        | DataType::Interval(_)
                        | DataType::Time64(_)
                        | DataType::List(_)
                        | DataType::LargeList(_)
                        | DataType::FixedSizeList(..))
                ) =>
            {
                let target = field.data_type().clone();
                let f = match expr.get_type(schema) {
                    Ok(DataType::Timestamp(..)) => &udf,
                    Ok(DataType::Interval(_)) => &intervals,
                    Ok(DataType::Time64(_)) => &times,
                    _ => &arrays,
                };
                Ok(Transformed::yes(datafusion::logical_expr::cast(
                    f.call(vec![*expr]),
                    target,
                )))
            }
            e => Ok(Transformed::no(e)),
        },
        None,
    )
}

/// The batch with the given timestamp columns replaced by their PostgreSQL text (timestamptz in `zone`).
/// The row description keeps the timestamp type: only the text encoding of the values changes.
pub fn timestamps_as_text(b: RecordBatch, cols: &[usize], zone: &Zone) -> RecordBatch {
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
        columns[c] = Arc::new(timestamp_strings(
            a.as_ref(),
            *unit,
            tz.is_some().then_some(zone),
        ));
        fields[c] = Field::new(fields[c].name(), DataType::Utf8, true);
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap_or(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_timestamp_text() {
        let utc = Zone::default();
        assert_eq!(format_timestamp(0, None), "1970-01-01 00:00:00");
        assert_eq!(
            format_timestamp(1_500_000, Some(&utc)),
            "1970-01-01 00:00:01.5+00"
        );
        assert_eq!(format_timestamp(-1, None), "1969-12-31 23:59:59.999999");
        let kolkata = Zone::setting("Asia/Kolkata").unwrap();
        // 2024-07-01 12:00 UTC; 1900 is before India's standard time (local mean time, +05:21:10).
        assert_eq!(
            format_timestamp(1_719_835_200_000_000, Some(&kolkata)),
            "2024-07-01 17:30:00+05:30"
        );
        assert_eq!(
            format_timestamp(-2_208_988_800_000_000, Some(&kolkata)),
            "1900-01-01 05:21:10+05:21:10"
        );
        let ny = Zone::setting("America/New_York").unwrap();
        assert_eq!(
            format_timestamp(1_704_110_400_000_000, Some(&ny)),
            "2024-01-01 07:00:00-05"
        );
    }

    /// The hand-made calendar and digits against chrono's, over every era a timestamp can hold.
    #[test]
    fn hand_formatted_timestamps_match_chrono() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let spans = [
            1_000_000i64,
            86_400_000_000,
            400 * 366 * 86_400_000_000,
            10_000 * 366 * 86_400_000_000,
            i64::MAX,
        ];
        let mut edges = vec![
            0,
            -1,
            1,
            i64::MIN,
            i64::MAX,
            253_402_300_799_999_999,
            253_402_300_800_000_000,
        ];
        edges.push(-62_135_596_800_000_000); // 0001-01-01
        edges.push(-62_135_596_800_000_001);
        for micros in edges {
            for tz in [false, true] {
                assert_eq!(
                    format_timestamp(micros, tz.then_some(&Zone::default())),
                    format_timestamp_chrono(micros, tz),
                    "{micros}"
                );
            }
        }
        for _ in 0..200_000 {
            let span = spans[rng.random_range(0..spans.len())];
            let mut micros = rng.random_range(-span..=span);
            match rng.random_range(0..4) {
                0 => micros -= micros.rem_euclid(1_000_000),
                1 => micros -= micros.rem_euclid(1000),
                _ => {}
            }
            let tz = rng.random_bool(0.5);
            assert_eq!(
                format_timestamp(micros, tz.then_some(&Zone::default())),
                format_timestamp_chrono(micros, tz),
                "{micros}"
            );
        }
    }
}
