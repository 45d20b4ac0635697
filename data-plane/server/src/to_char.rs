//! `to_char(timestamp | timestamptz | date, template)` with PostgreSQL's template patterns (`YYYY-MM-DD
//! HH24:MI:SS`, `FMMonth`, `Dy`, `DDth`, `"quoted text"`, ...). DataFusion's `to_char` reads a chrono
//! format (`%Y`) and printed PostgreSQL's `YYYY` as is: a wrong answer, not an error. A number as the first
//! argument (`to_char(1.5, '9D9')`) is printed by number_template.rs.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Decimal128Type, Float64Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{Array, ArrayRef, StringArray};
use arrow_schema::{DataType, TimeUnit};
use chrono::{DateTime, Datelike, NaiveDateTime, Timelike};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

#[derive(Debug, PartialEq, Eq, Hash)]
struct ToChar {
    signature: Signature,
}

pub fn udf() -> ScalarUDF {
    ScalarUDF::from(ToChar {
        signature: Signature::user_defined(Volatility::Stable),
    })
}

fn error(code: &'static str, message: String) -> DataFusionError {
    DataFusionError::External(Box::new(crate::error::Error::sql(code, message)))
}

impl ScalarUDFImpl for ToChar {
    fn name(&self) -> &str {
        "to_char"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        let [value, template] = args else {
            return Err(error(
                "42883",
                format!(
                    "function to_char with {} arguments does not exist",
                    args.len()
                ),
            ));
        };
        let value = match value {
            DataType::Timestamp(_, tz) => DataType::Timestamp(TimeUnit::Microsecond, tz.clone()),
            DataType::Date32 | DataType::Date64 | DataType::Null => {
                DataType::Timestamp(TimeUnit::Microsecond, None)
            }
            DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32 => DataType::Int64,
            DataType::Float16 | DataType::Float32 | DataType::Float64 => DataType::Float64,
            DataType::Decimal128(p, s) => DataType::Decimal128(*p, *s),
            t if t.is_numeric() => DataType::Float64,
            t => {
                return Err(error(
                    "42883",
                    format!("function to_char({t}, text) does not exist"),
                ));
            }
        };
        if !matches!(
            template,
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null
        ) {
            return Err(error(
                "42883",
                format!("function to_char(timestamp, {template}) does not exist"),
            ));
        }
        Ok(vec![value, DataType::Utf8])
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let zone = crate::text::session_zone(&args);
        let scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        if !matches!(arrays[0].data_type(), DataType::Timestamp(..)) {
            let out = numbers(&arrays[0], arrays[1].as_string::<i32>())?;
            return Ok(if scalar {
                ColumnarValue::Scalar(datafusion::scalar::ScalarValue::try_from_array(&out, 0)?)
            } else {
                ColumnarValue::Array(out)
            });
        }
        let with_zone = matches!(arrays[0].data_type(), DataType::Timestamp(_, Some(_)));
        let times = arrays[0].as_primitive::<TimestampMicrosecondType>();
        let templates = arrays[1].as_string::<i32>();
        let out: ArrayRef = Arc::new(
            (0..times.len())
                .map(|i| {
                    if times.is_null(i) || templates.is_null(i) {
                        return Ok(None);
                    }
                    let utc = times.value(i);
                    let east = if with_zone { zone.offset_at(utc) } else { 0 };
                    let wall = DateTime::from_timestamp_micros(
                        utc.saturating_add(i64::from(east) * 1_000_000),
                    )
                    .ok_or_else(|| error("22008", "timestamp out of range".into()))?
                    .naive_utc();
                    let offset = with_zone.then_some((east, zone.name()));
                    Ok(Some(format(&wall, offset, templates.value(i))))
                })
                .collect::<Result<StringArray>>()?,
        );
        Ok(if scalar {
            ColumnarValue::Scalar(datafusion::scalar::ScalarValue::try_from_array(&out, 0)?)
        } else {
            ColumnarValue::Array(out)
        })
    }
}

/// `to_char` of integers, floats and numerics.
fn numbers(values: &ArrayRef, templates: &StringArray) -> Result<ArrayRef> {
    use crate::number_template::Number;
    let number = |i: usize| -> Number {
        match values.data_type() {
            DataType::Int64 => Number::Int(values.as_primitive::<Int64Type>().value(i)),
            DataType::Decimal128(_, s) => {
                Number::Decimal(values.as_primitive::<Decimal128Type>().value(i), *s)
            }
            _ => Number::Float(values.as_primitive::<Float64Type>().value(i)),
        }
    };
    let out = (0..values.len())
        .map(|i| {
            if values.is_null(i) || templates.is_null(i) {
                return Ok(None);
            }
            crate::number_template::format(&number(i), templates.value(i))
                .map(Some)
                .map_err(|m| error("0A000", m))
        })
        .collect::<Result<StringArray>>()?;
    Ok(Arc::new(out))
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// The patterns, longest first where one is a prefix of another.
const PATTERNS: &[&str] = &[
    "Y,YYY", "YYYY", "YYY", "YY", "Y", "IYYY", "IW", "ID", "HH24", "HH12", "HH", "MI", "SS", "MS",
    "US", "A.M.", "P.M.", "a.m.", "p.m.", "AM", "PM", "am", "pm", "MONTH", "Month", "month", "MON",
    "Mon", "mon", "MM", "DAY", "Day", "day", "DY", "Dy", "dy", "DDD", "DD", "D", "WW", "W", "Q",
    "J", "CC", "TZ", "tz", "OF",
];

/// `t` (a wall time) printed by PostgreSQL's template; `offset` is the zone's (seconds east, name) for a
/// timestamptz.
pub fn format(t: &NaiveDateTime, offset: Option<(i32, String)>, template: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while !rest.is_empty() {
        if let Some(quoted) = rest.strip_prefix('"') {
            // Literal text up to the closing quote; `\"` is a quote.
            let mut chars = quoted.char_indices();
            let mut end = quoted.len();
            while let Some((i, c)) = chars.next() {
                if c == '\\' {
                    if let Some((_, n)) = chars.next() {
                        out.push(n);
                    }
                } else if c == '"' {
                    end = i + 1;
                    break;
                } else {
                    out.push(c);
                }
            }
            rest = &quoted[end.min(quoted.len())..];
            continue;
        }
        let fill_mode = rest.starts_with("FM");
        let body = if fill_mode { &rest[2..] } else { rest };
        let Some(p) = PATTERNS.iter().find(|p| body.starts_with(**p)) else {
            let c = rest.chars().next().expect("not empty");
            out.push(c);
            rest = &rest[c.len_utf8()..];
            continue;
        };
        rest = &body[p.len()..];
        let suffix = if rest.starts_with("TH") {
            rest = &rest[2..];
            Some(true)
        } else if rest.starts_with("th") {
            rest = &rest[2..];
            Some(false)
        } else {
            None
        };
        let (text, number) = field(t, offset.as_ref(), p, fill_mode);
        out.push_str(&text);
        if let (Some(upper), Some(n)) = (suffix, number) {
            let th = ordinal(n);
            out.push_str(&if upper {
                th.to_uppercase()
            } else {
                th.to_string()
            });
        }
    }
    out
}

pub(crate) fn ordinal(n: i64) -> &'static str {
    match (n % 100, n % 10) {
        (11..=13, _) => "th",
        (_, 1) => "st",
        (_, 2) => "nd",
        (_, 3) => "rd",
        _ => "th",
    }
}

/// One pattern's text, and its number (for the `TH` suffix).
fn field(
    t: &NaiveDateTime,
    offset: Option<&(i32, String)>,
    p: &str,
    fill: bool,
) -> (String, Option<i64>) {
    let num = |v: i64, width: usize| -> (String, Option<i64>) {
        let s = if fill {
            v.to_string()
        } else if v < 0 {
            format!("-{:0width$}", -v)
        } else {
            format!("{v:0width$}")
        };
        (s, Some(v))
    };
    // Names are blank-padded to the longest name (9) unless FM.
    let name = |s: String| -> (String, Option<i64>) {
        if fill {
            (s, None)
        } else {
            (format!("{s:<9}"), None)
        }
    };
    let year = i64::from(t.year());
    let hour12 = i64::from(if t.hour().is_multiple_of(12) {
        12
    } else {
        t.hour() % 12
    });
    let pm = t.hour() >= 12;
    let month = MONTHS[t.month0() as usize];
    let day = DAYS[t.weekday().num_days_from_sunday() as usize];
    match p {
        "Y,YYY" => {
            let s = format!("{},{:03}", year / 1000, year % 1000);
            (s, Some(year))
        }
        "YYYY" => num(year, 4),
        "YYY" => num(year % 1000, 3),
        "YY" => num(year % 100, 2),
        "Y" => num(year % 10, 1),
        "IYYY" => num(i64::from(t.iso_week().year()), 4),
        "IW" => num(i64::from(t.iso_week().week()), 2),
        "ID" => num(i64::from(t.weekday().number_from_monday()), 1),
        "HH24" => num(i64::from(t.hour()), 2),
        "HH12" | "HH" => num(hour12, 2),
        "MI" => num(i64::from(t.minute()), 2),
        "SS" => num(i64::from(t.second()), 2),
        "MS" => num(i64::from(t.nanosecond() / 1_000_000), 3),
        "US" => num(i64::from(t.nanosecond() / 1_000), 6),
        "AM" | "PM" => ((if pm { "PM" } else { "AM" }).into(), None),
        "am" | "pm" => ((if pm { "pm" } else { "am" }).into(), None),
        "A.M." | "P.M." => ((if pm { "P.M." } else { "A.M." }).into(), None),
        "a.m." | "p.m." => ((if pm { "p.m." } else { "a.m." }).into(), None),
        "MONTH" => name(month.to_uppercase()),
        "Month" => name(month.into()),
        "month" => name(month.to_lowercase()),
        "MON" => (month[..3].to_uppercase(), None),
        "Mon" => (month[..3].into(), None),
        "mon" => (month[..3].to_lowercase(), None),
        "MM" => num(i64::from(t.month()), 2),
        "DAY" => name(day.to_uppercase()),
        "Day" => name(day.into()),
        "day" => name(day.to_lowercase()),
        "DY" => (day[..3].to_uppercase(), None),
        "Dy" => (day[..3].into(), None),
        "dy" => (day[..3].to_lowercase(), None),
        "DDD" => num(i64::from(t.ordinal()), 3),
        "DD" => num(i64::from(t.day()), 2),
        "D" => num(i64::from(t.weekday().number_from_sunday()), 1),
        "WW" => num(i64::from((t.ordinal() - 1) / 7 + 1), 2),
        "W" => num(i64::from((t.day() - 1) / 7 + 1), 1),
        "Q" => num(i64::from(t.month0() / 3 + 1), 1),
        "J" => num(i64::from(t.date().num_days_from_ce()) + 1_721_425, 1),
        "CC" => num(
            if year > 0 {
                (year + 99) / 100
            } else {
                year / 100 - 1
            },
            2,
        ),
        "TZ" | "tz" => {
            let name = offset.map(|(_, n)| n.clone()).unwrap_or_default();
            let name = if name.eq_ignore_ascii_case("utc") || name.eq_ignore_ascii_case("etc/utc") {
                "UTC".to_string()
            } else {
                name
            };
            (if p == "tz" { name.to_lowercase() } else { name }, None)
        }
        "OF" => (
            offset
                .map(|(east, _)| {
                    let t = crate::zone::offset_text(*east);
                    if *east == 0 { "+00".to_string() } else { t }
                })
                .unwrap_or_default(),
            None,
        ),
        _ => (p.to_string(), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").unwrap()
    }

    #[test]
    fn templates_print_as_postgresql_prints_them() {
        let t = at("2024-03-05 14:07:09.123456");
        assert_eq!(
            format(&t, None, "YYYY-MM-DD HH24:MI:SS"),
            "2024-03-05 14:07:09"
        );
        assert_eq!(format(&t, None, "HH12:MI AM"), "02:07 PM");
        assert_eq!(
            format(&t, None, "Month|FMMonth|Mon|MON"),
            "March    |March|Mar|MAR"
        );
        assert_eq!(
            format(&t, None, "Day|FMDay|Dy|D|ID"),
            "Tuesday  |Tuesday|Tue|3|2"
        );
        assert_eq!(
            format(&t, None, "DDth FMDDth DDD Q WW IW"),
            "05th 5th 065 1 10 10"
        );
        assert_eq!(format(&t, None, "MS US"), "123 123456");
        assert_eq!(format(&t, None, "\"Year\" YYYY, \"q\"Q"), "Year 2024, q1");
        assert_eq!(format(&t, None, "FMMM/FMDD/YY"), "3/5/24");
        assert_eq!(format(&t, Some((0, "UTC".into())), "TZ OF"), "UTC +00");
        assert_eq!(
            format(&at("2024-01-01 00:00:00"), None, "J CC Y,YYY"),
            "2460311 21 2,024"
        );
    }
}
