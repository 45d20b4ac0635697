//! SQL values as JSON, as `to_jsonb` / `to_json` and the build functions make them: numbers stay numbers,
//! timestamps are ISO 8601 strings, arrays are arrays, json and jsonb values are embedded as documents.

use arrow_array::{Array, ArrayRef};
use arrow_schema::DataType;
use datafusion::error::Result;
use datafusion::scalar::ScalarValue;
use omendb_json::{Jsonb, Number, quote};

use super::Kind;
use crate::zone::Zone;

/// Row `row` of `array` (of JSON type `kind`, if any) as a jsonb value.
pub fn to_jsonb(array: &ArrayRef, kind: Option<Kind>, row: usize, zone: &Zone) -> Result<Jsonb> {
    if super::udf::null_at(array, row) {
        return Ok(Jsonb::Null);
    }
    if kind.is_some() {
        let s = ScalarValue::try_from_array(array, row)?;
        let text = text_of(&s).unwrap_or_default();
        return Jsonb::parse(&text).map_err(super::parse_error);
    }
    scalar_to_jsonb(&ScalarValue::try_from_array(array, row)?, zone)
}

/// Row `row` of `array` as `to_json` writes it: json values verbatim, lists without spaces (`[1,2]`).
pub fn to_json_text(
    array: &ArrayRef,
    kind: Option<Kind>,
    row: usize,
    zone: &Zone,
) -> Result<String> {
    if super::udf::null_at(array, row) {
        return Ok("null".into());
    }
    let s = ScalarValue::try_from_array(array, row)?;
    match (kind, &s) {
        (Some(Kind::Json), _) => Ok(text_of(&s).unwrap_or_default()),
        (None, ScalarValue::List(list)) => {
            let values = list.value(0);
            let items = (0..values.len())
                .map(|i| to_json_text(&values, None, i, zone))
                .collect::<Result<Vec<_>>>()?;
            Ok(format!("[{}]", items.join(",")))
        }
        _ => Ok(to_jsonb(array, kind, row, zone)?.to_string()),
    }
}

fn text_of(s: &ScalarValue) -> Option<String> {
    match s {
        ScalarValue::Utf8(v) | ScalarValue::LargeUtf8(v) | ScalarValue::Utf8View(v) => v.clone(),
        _ => None,
    }
}

pub fn scalar_to_jsonb(s: &ScalarValue, zone: &Zone) -> Result<Jsonb> {
    if s.is_null() {
        return Ok(Jsonb::Null);
    }
    Ok(match s {
        ScalarValue::Boolean(Some(b)) => Jsonb::Bool(*b),
        ScalarValue::Int8(Some(v)) => Jsonb::Number(Number::from_i64(i64::from(*v))),
        ScalarValue::Int16(Some(v)) => Jsonb::Number(Number::from_i64(i64::from(*v))),
        ScalarValue::Int32(Some(v)) => Jsonb::Number(Number::from_i64(i64::from(*v))),
        ScalarValue::Int64(Some(v)) => Jsonb::Number(Number::from_i64(*v)),
        ScalarValue::UInt8(Some(v)) => Jsonb::Number(Number::from_i64(i64::from(*v))),
        ScalarValue::UInt16(Some(v)) => Jsonb::Number(Number::from_i64(i64::from(*v))),
        ScalarValue::UInt32(Some(v)) => Jsonb::Number(Number::from_i64(i64::from(*v))),
        ScalarValue::Float32(Some(v)) => float(f64::from(*v)),
        ScalarValue::Float64(Some(v)) => float(*v),
        ScalarValue::Decimal128(Some(_), _, _) => {
            let text = cast_text(s);
            match Number::parse(&text) {
                Some(n) => Jsonb::Number(n),
                None => Jsonb::String(text),
            }
        }
        ScalarValue::Utf8(Some(v))
        | ScalarValue::LargeUtf8(Some(v))
        | ScalarValue::Utf8View(Some(v)) => Jsonb::String(v.clone()),
        ScalarValue::Date32(Some(_)) => Jsonb::String(cast_text(s)),
        ScalarValue::Time64Nanosecond(Some(v)) => Jsonb::String(crate::times::text(*v)),
        ScalarValue::TimestampMicrosecond(Some(v), tz) => {
            Jsonb::String(iso_timestamp(*v, tz.as_ref().map(|_| zone)))
        }
        ScalarValue::TimestampNanosecond(Some(v), tz) => {
            Jsonb::String(iso_timestamp(v.div_euclid(1000), tz.as_ref().map(|_| zone)))
        }
        ScalarValue::TimestampMillisecond(Some(v), tz) => {
            Jsonb::String(iso_timestamp(v * 1000, tz.as_ref().map(|_| zone)))
        }
        ScalarValue::TimestampSecond(Some(v), tz) => {
            Jsonb::String(iso_timestamp(v * 1_000_000, tz.as_ref().map(|_| zone)))
        }
        ScalarValue::List(list) => {
            let values = list.value(0);
            Jsonb::Array(
                (0..values.len())
                    .map(|i| to_jsonb(&values, None, i, zone))
                    .collect::<Result<_>>()?,
            )
        }
        other => Jsonb::String(cast_text(other)),
    })
}

/// A float as jsonb holds it: a number, or PostgreSQL's spelling of NaN and the infinities as a string.
fn float(v: f64) -> Jsonb {
    match Number::from_f64(v) {
        Some(n) => Jsonb::Number(n),
        None if v.is_nan() => Jsonb::String("NaN".into()),
        None if v > 0.0 => Jsonb::String("Infinity".into()),
        None => Jsonb::String("-Infinity".into()),
    }
}

/// A timestamp as JSON spells it: ISO 8601 with a `T`, and a `timestamptz` with its offset in the session's
/// zone (`2024-01-02T03:04:05.5+00:00`).
fn iso_timestamp(micros: i64, zone: Option<&Zone>) -> String {
    let Some(zone) = zone else {
        return crate::text::format_timestamp(micros, None).replacen(' ', "T", 1);
    };
    let east = zone.offset_at(micros);
    let wall = crate::text::format_timestamp(micros + i64::from(east) * 1_000_000, None)
        .replacen(' ', "T", 1);
    let sign = if east < 0 { '-' } else { '+' };
    let e = east.unsigned_abs();
    let mut out = format!("{wall}{sign}{:02}:{:02}", e / 3600, (e % 3600) / 60);
    if e % 60 != 0 {
        out.push_str(&format!(":{:02}", e % 60));
    }
    out
}

/// A key of `json_build_object` / `jsonb_build_object` as text (PostgreSQL requires one, not NULL).
pub fn key_text(array: &ArrayRef, row: usize, position: usize) -> Result<String> {
    if super::udf::null_at(array, row) {
        return Err(super::sql_error(
            "22023",
            format!("argument {position}: key must not be null"),
        ));
    }
    let s = ScalarValue::try_from_array(array, row)?;
    Ok(text_of(&s).unwrap_or_else(|| cast_text(&s)))
}

/// `quote` re-exported for the json (not jsonb) writers.
pub fn quoted(s: &str) -> String {
    quote(s)
}

/// Whether `t` is a text type (what an untyped literal or parameter arrives as).
pub fn is_text(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

/// A value as PostgreSQL's text output spells it, where JSON has no type of its own for it.
fn cast_text(s: &ScalarValue) -> String {
    match s {
        ScalarValue::Binary(Some(b)) | ScalarValue::LargeBinary(Some(b)) => {
            let mut out = String::from("\\x");
            for byte in b {
                out.push_str(&format!("{byte:02x}"));
            }
            out
        }
        ScalarValue::IntervalMonthDayNano(Some(v)) => {
            crate::array_out::interval_text(v.months, v.days, v.nanoseconds)
        }
        _ => match s.cast_to(&DataType::Utf8) {
            Ok(ScalarValue::Utf8(Some(t))) => t,
            _ => s.to_string(),
        },
    }
}
