//! SQL functions PostgreSQL has and DataFusion lacks or reads differently, for any query (not the catalog's):
//! `md5`, `sha256`, `format`, `similar_to_escape` (SIMILAR TO goes through it, `syntax.rs`), the uuid cast
//! (`omendb_uuid`, in `uuids.rs`) and `interval * / number` (`omendb_interval_mul` / `_div`).

use std::sync::Arc;

use arrow_schema::DataType;
use datafusion::logical_expr::{Signature, Volatility};
use datafusion::prelude::SessionContext;
use datafusion::scalar::ScalarValue;

use super::formats::{format_text, similar_to_regex};
use super::names::quote_ident;
use super::udf::*;

/// Registers them on a session.
pub fn register(ctx: &SessionContext) {
    let add = |name, signature, ret, body| register_row_fn(ctx, name, signature, ret, body);

    ctx.register_udf(crate::uuids::UuidCast::udf());
    for (name, divide) in [
        ("omendb_interval_mul", false),
        ("omendb_interval_div", true),
    ] {
        let interval = DataType::Interval(datafusion::arrow::datatypes::IntervalUnit::MonthDayNano);
        add(
            name,
            exact(
                &[&[interval.clone(), DataType::Float64]],
                Volatility::Immutable,
            ),
            interval,
            Arc::new(move |a| {
                let (ScalarValue::IntervalMonthDayNano(Some(v)), Some(f)) =
                    (&a[0], float_arg(&a[1]))
                else {
                    return Ok(ScalarValue::IntervalMonthDayNano(None));
                };
                if divide && f == 0.0 {
                    return Err(sql_error("22012", "division by zero".to_string()));
                }
                let f = if divide { 1.0 / f } else { f };
                Ok(ScalarValue::IntervalMonthDayNano(Some(interval_mul(
                    *v, f,
                )?)))
            }),
        );
    }
    add(
        "format",
        Signature::variadic_any(Volatility::Stable),
        TEXT,
        Arc::new(|a| {
            let Some(template) = a.first().and_then(str_arg) else {
                return Ok(ScalarValue::Null);
            };
            let args = a[1..]
                .iter()
                .map(|v| {
                    if v.is_null() {
                        return Ok(None);
                    }
                    Ok(Some(match str_arg(v) {
                        Some(s) => s,
                        None => v.cast_to(&TEXT)?.to_string(),
                    }))
                })
                .collect::<datafusion::error::Result<Vec<_>>>()?;
            format_text(&template, &args, quote_ident)
                .map(|s| ScalarValue::Utf8(Some(s)))
                .map_err(|(code, m)| sql_error(code, m))
        }),
    );
    // md5(text | bytea) is hex text; sha256(bytea) is bytea, as in PostgreSQL.
    add(
        "md5",
        exact(&[&[TEXT], &[DataType::Binary]], Volatility::Immutable),
        TEXT,
        Arc::new(|a| {
            use md5::Digest;
            let bytes = match &a[0] {
                ScalarValue::Binary(Some(b)) => b.clone(),
                v => match str_arg(v) {
                    Some(s) => s.into_bytes(),
                    None => return Ok(ScalarValue::Null),
                },
            };
            let digest = md5::Md5::digest(&bytes);
            Ok(ScalarValue::Utf8(Some(
                digest.iter().map(|b| format!("{b:02x}")).collect(),
            )))
        }),
    );
    add(
        "sha256",
        exact(&[&[DataType::Binary]], Volatility::Immutable),
        DataType::Binary,
        Arc::new(|a| {
            use sha2::Digest;
            match &a[0] {
                ScalarValue::Binary(Some(b)) => {
                    Ok(ScalarValue::Binary(Some(sha2::Sha256::digest(b).to_vec())))
                }
                _ => Ok(ScalarValue::Binary(None)),
            }
        }),
    );
    add(
        "similar_to_escape",
        exact(&[&[TEXT], &[TEXT, TEXT]], Volatility::Immutable),
        TEXT,
        Arc::new(|a| {
            let Some(p) = str_arg(&a[0]) else {
                return Ok(ScalarValue::Null);
            };
            let esc = match a.get(1) {
                None => Some('\\'),
                Some(v) => match str_arg(v) {
                    None => return Ok(ScalarValue::Null),
                    Some(e) if e.is_empty() => None,
                    Some(e) if e.chars().count() == 1 => e.chars().next(),
                    Some(_) => {
                        return Err(sql_error("22025", "invalid escape string".to_string()));
                    }
                },
            };
            match similar_to_regex(&p, esc) {
                Some(re) => Ok(ScalarValue::Utf8(Some(re))),
                None => Err(sql_error(
                    "2201B",
                    "SQL regular expression may not contain more than two escape-double-quote separators"
                        .to_string(),
                )),
            }
        }),
    );
}

fn float_arg(v: &ScalarValue) -> Option<f64> {
    match v {
        ScalarValue::Float64(x) => *x,
        ScalarValue::Float32(x) => x.map(f64::from),
        v => int_arg(v).map(|i| i as f64),
    }
}

/// PostgreSQL's `interval * float8` (interval_mul): fractions of months carry into days at 30 days a
/// month, fractions of days into time, time rounded to microseconds; 22008 when out of range.
fn interval_mul(
    v: datafusion::arrow::datatypes::IntervalMonthDayNano,
    f: f64,
) -> datafusion::error::Result<datafusion::arrow::datatypes::IntervalMonthDayNano> {
    const DAY_SECS: f64 = 86_400.0;
    let out_of_range = || sql_error("22008", "interval out of range".to_string());
    let months = f64::from(v.months) * f;
    let days = f64::from(v.days) * f;
    if !months.is_finite()
        || !days.is_finite()
        || months.abs() > f64::from(i32::MAX)
        || days.abs() > f64::from(i32::MAX)
    {
        return Err(out_of_range());
    }
    let (m, mut d) = (months.trunc(), days.trunc());
    let month_days = (months - m) * 30.0;
    let mut secs = (days - d + month_days - month_days.trunc()) * DAY_SECS;
    if secs.abs() >= DAY_SECS {
        d += (secs / DAY_SECS).trunc();
        secs -= (secs / DAY_SECS).trunc() * DAY_SECS;
    }
    d += month_days.trunc();
    let micros = (v.nanoseconds as f64 / 1000.0 * f + secs * 1e6).round();
    if !micros.is_finite() || micros.abs() > 9.2e15 || d.abs() > f64::from(i32::MAX) {
        return Err(out_of_range());
    }
    Ok(datafusion::arrow::datatypes::IntervalMonthDayNano::new(
        m as i32,
        d as i32,
        micros as i64 * 1000,
    ))
}
