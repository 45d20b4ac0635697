//! Bound parameters of the extended protocol into DataFusion scalars, in the type the plan expects.

use arrow_schema::DataType as Arrow;
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime};
use datafusion::scalar::ScalarValue;
use pgwire::api::Type;
use pgwire::api::portal::Portal;
use rust_decimal::Decimal;

use crate::error::{Error, Result, code};
use crate::zone::Zone;

/// The PostgreSQL type a parameter of Arrow type `t` is described as.
pub fn pg_type(t: Option<&Arrow>) -> Type {
    match t {
        None | Some(Arrow::Null) => Type::TEXT,
        Some(t) => arrow_pg::datatypes::into_pg_type(t).unwrap_or(Type::TEXT),
    }
}

fn bad(i: usize, ty: &Type, e: impl std::fmt::Display) -> Error {
    let m = e.to_string();
    if m.contains("too large") || m.contains("too small") {
        return Error::sql(
            "22003",
            format!(
                "parameter ${} is out of range for type {}",
                i + 1,
                ty.name()
            ),
        );
    }
    Error::sql(
        code::INVALID_TEXT_REPRESENTATION,
        format!(
            "invalid value for parameter ${} of type {}: {e}",
            i + 1,
            ty.name()
        ),
    )
}

const EPOCH: NaiveDate = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");

/// Decodes parameter `i` as `ty` (what the client declared, or what we described), then casts it to the
/// plan's `want` type when they differ. A timestamptz in text without an offset is a wall time in `zone`.
pub fn decode<S: Clone>(
    portal: &Portal<S>,
    i: usize,
    ty: &Type,
    want: Option<&Arrow>,
    zone: &Zone,
) -> Result<ScalarValue> {
    if let Some(elem) = array_element(ty, want)
        && !portal.parameter_format.is_binary(i)
    {
        return array(text(portal, i, ty)?, &elem, i, ty);
    }
    let v = match *ty {
        Type::BOOL => {
            ScalarValue::Boolean(portal.parameter::<bool>(i, ty).map_err(|e| bad(i, ty, e))?)
        }
        Type::INT2 => {
            ScalarValue::Int16(portal.parameter::<i16>(i, ty).map_err(|e| bad(i, ty, e))?)
        }
        Type::INT4 => {
            ScalarValue::Int32(portal.parameter::<i32>(i, ty).map_err(|e| bad(i, ty, e))?)
        }
        Type::INT8 => {
            ScalarValue::Int64(portal.parameter::<i64>(i, ty).map_err(|e| bad(i, ty, e))?)
        }
        Type::FLOAT4 => {
            ScalarValue::Float32(portal.parameter::<f32>(i, ty).map_err(|e| bad(i, ty, e))?)
        }
        Type::FLOAT8 => {
            ScalarValue::Float64(portal.parameter::<f64>(i, ty).map_err(|e| bad(i, ty, e))?)
        }
        Type::BYTEA => ScalarValue::Binary(
            portal
                .parameter::<Vec<u8>>(i, ty)
                .map_err(|e| bad(i, ty, e))?,
        ),
        Type::DATE => ScalarValue::Date32(
            portal
                .parameter::<NaiveDate>(i, ty)
                .map_err(|e| bad(i, ty, e))?
                .map(|d| (d - EPOCH).num_days() as i32),
        ),
        Type::TIMESTAMP => ScalarValue::TimestampMicrosecond(
            portal
                .parameter::<NaiveDateTime>(i, ty)
                .map_err(|e| bad(i, ty, e))?
                .map(|t| t.and_utc().timestamp_micros()),
            None,
        ),
        // A time travels as microseconds since midnight in binary.
        Type::TIME if portal.parameter_format.is_binary(i) => ScalarValue::Time64Nanosecond(
            raw(portal, i)?
                .map(|b| {
                    let micros = i64::from_be_bytes(
                        b.try_into()
                            .map_err(|_| bad(i, ty, "incorrect binary data format"))?,
                    );
                    Ok::<_, Error>(micros * 1000)
                })
                .transpose()?,
        ),
        Type::TIMESTAMPTZ if !portal.parameter_format.is_binary(i) => {
            let s = text(portal, i, ty)?;
            ScalarValue::TimestampMicrosecond(
                s.map(|s| crate::copy::parse_timestamptz(&s, zone).ok_or(s))
                    .transpose()
                    .map_err(|s| bad(i, ty, format!("\"{s}\"")))?,
                Some("UTC".into()),
            )
        }
        Type::TIMESTAMPTZ => ScalarValue::TimestampMicrosecond(
            portal
                .parameter::<DateTime<FixedOffset>>(i, ty)
                .map_err(|e| bad(i, ty, e))?
                .map(|t| t.timestamp_micros()),
            Some("UTC".into()),
        ),
        // An interval travels as microseconds, days and months in binary.
        Type::INTERVAL if portal.parameter_format.is_binary(i) => {
            ScalarValue::IntervalMonthDayNano(
                raw(portal, i)?
                    .map(|b| {
                        if b.len() != 16 {
                            return Err(bad(i, ty, "incorrect binary data format"));
                        }
                        let micros = i64::from_be_bytes(b[0..8].try_into().expect("8 bytes"));
                        let days = i32::from_be_bytes(b[8..12].try_into().expect("4 bytes"));
                        let months = i32::from_be_bytes(b[12..16].try_into().expect("4 bytes"));
                        Ok(arrow_array::types::IntervalMonthDayNano::new(
                            months,
                            days,
                            micros * 1000,
                        ))
                    })
                    .transpose()?,
            )
        }
        // A uuid travels as 16 bytes in binary and is held as its canonical text.
        Type::UUID if portal.parameter_format.is_binary(i) => ScalarValue::Utf8(
            raw(portal, i)?
                .map(|b| {
                    <[u8; 16]>::try_from(b)
                        .map(|b| crate::uuids::text(&b))
                        .map_err(|_| bad(i, ty, "incorrect binary data format"))
                })
                .transpose()?,
        ),
        Type::UUID => ScalarValue::Utf8(
            text(portal, i, ty)?
                .map(|s| omendb_storage::canonical_uuid(&s).ok_or(s))
                .transpose()
                .map_err(|s| {
                    Error::sql(
                        code::INVALID_TEXT_REPRESENTATION,
                        format!("invalid input syntax for type uuid: \"{s}\""),
                    )
                })?,
        ),
        // jsonb's binary form is a version byte (1) and the text; json's is the text.
        Type::JSONB if portal.parameter_format.is_binary(i) => ScalarValue::Utf8(
            raw(portal, i)?
                .map(|b| match b.split_first() {
                    Some((1, text)) => {
                        String::from_utf8(text.to_vec()).map_err(|_| bad(i, ty, "invalid UTF-8"))
                    }
                    _ => Err(Error::sql("22P03", "unsupported jsonb version number")),
                })
                .transpose()?,
        ),
        Type::NUMERIC => match portal
            .parameter::<Decimal>(i, ty)
            .map_err(|e| bad(i, ty, e))?
        {
            Some(d) => ScalarValue::Decimal128(Some(d.mantissa()), 38, d.scale() as i8),
            None => ScalarValue::Decimal128(None, 38, 0),
        },
        _ => {
            // Text, varchar, unknown and anything else we were sent as text: DataFusion casts it.
            let s = if portal.parameter_format.is_binary(i)
                && !matches!(
                    *ty,
                    Type::TEXT
                        | Type::VARCHAR
                        | Type::BPCHAR
                        | Type::NAME
                        | Type::UNKNOWN
                        | Type::JSON
                ) {
                return Err(Error::sql(
                    code::FEATURE_NOT_SUPPORTED,
                    format!("binary parameters of type {} are not supported", ty.name()),
                ));
            } else {
                text(portal, i, ty)?
            };
            ScalarValue::Utf8(s)
        }
    };
    match (want, v) {
        // Text into a timestamptz: a wall time in the session's zone unless it names an offset.
        (Some(Arrow::Timestamp(unit, Some(_))), ScalarValue::Utf8(Some(s))) => {
            let micros = crate::copy::parse_timestamptz(&s, zone)
                .ok_or_else(|| bad(i, ty, format!("\"{s}\"")))?;
            cast(
                ScalarValue::TimestampMicrosecond(Some(micros), Some("UTC".into())),
                &Arrow::Timestamp(*unit, want_zone(want)),
                i,
            )
        }
        // Text into a time: PostgreSQL's time input (Arrow's refuses `24:00`, `1:05 PM`).
        (Some(Arrow::Time64(_)), ScalarValue::Utf8(Some(s))) => cast(
            ScalarValue::Time64Nanosecond(Some(crate::times::parse(&s)?)),
            want.expect("matched"),
            i,
        ),
        // Text into an interval: PostgreSQL's interval input, which Arrow's parser reads little of.
        (Some(Arrow::Interval(_)), ScalarValue::Utf8(Some(s))) => {
            let v = crate::intervals::parse(&s)?;
            Ok(ScalarValue::IntervalMonthDayNano(Some(
                arrow_array::types::IntervalMonthDayNano::new(v.months, v.days, v.micros * 1000),
            )))
        }
        (Some(w), v) if *w != v.data_type() && *w != Arrow::Null => cast(v, w, i),
        (_, v) => Ok(v),
    }
}

/// The element type of an array parameter: the plan's, or the one the client declared.
fn array_element(ty: &Type, want: Option<&Arrow>) -> Option<Arrow> {
    if let Some(Arrow::List(f) | Arrow::LargeList(f)) = want {
        return Some(f.data_type().clone());
    }
    let postgres_types::Kind::Array(elem) = ty.kind() else {
        return None;
    };
    Some(match *elem {
        Type::BOOL => Arrow::Boolean,
        Type::INT2 => Arrow::Int16,
        Type::INT4 => Arrow::Int32,
        Type::INT8 => Arrow::Int64,
        Type::FLOAT4 => Arrow::Float32,
        Type::FLOAT8 => Arrow::Float64,
        _ => Arrow::Utf8,
    })
}

/// A one-dimensional array in PostgreSQL's text form (`{a,"b c",NULL}`) as a list of `elem`.
fn array(s: Option<String>, elem: &Arrow, i: usize, ty: &Type) -> Result<ScalarValue> {
    let Some(s) = s else {
        // NULL, not an empty array.
        let list = Arrow::List(std::sync::Arc::new(arrow_schema::Field::new_list_field(
            elem.clone(),
            true,
        )));
        return ScalarValue::try_from(&list).map_err(|e| bad(i, ty, e));
    };
    let items = crate::pg_catalog::array_text::parse(&s).ok_or_else(|| {
        Error::sql(
            code::INVALID_TEXT_REPRESENTATION,
            format!("malformed array literal: \"{s}\""),
        )
    })?;
    let values = items
        .into_iter()
        .map(|item| match item {
            None => ScalarValue::try_from(elem).map_err(|e| bad(i, ty, e)),
            Some(t) => cast(ScalarValue::Utf8(Some(t)), elem, i),
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(ScalarValue::List(ScalarValue::new_list_nullable(
        &values, elem,
    )))
}

fn want_zone(want: Option<&Arrow>) -> Option<std::sync::Arc<str>> {
    match want {
        Some(Arrow::Timestamp(_, z)) => z.clone(),
        _ => None,
    }
}

/// Parameter `i`'s text.
/// Parameter `i`'s bytes as sent (`None`: NULL).
fn raw<S: Clone>(portal: &Portal<S>, i: usize) -> Result<Option<&[u8]>> {
    Ok(portal
        .parameters
        .get(i)
        .ok_or_else(|| {
            Error::sql(
                code::PROTOCOL_VIOLATION,
                format!("no value for parameter ${}", i + 1),
            )
        })?
        .as_deref())
}

fn text<S: Clone>(portal: &Portal<S>, i: usize, ty: &Type) -> Result<Option<String>> {
    raw(portal, i)?
        .map(|b| String::from_utf8(b.to_vec()).map_err(|e| bad(i, ty, e)))
        .transpose()
}

fn cast(v: ScalarValue, want: &Arrow, i: usize) -> Result<ScalarValue> {
    let from = v.data_type();
    v.cast_to(want).map_err(|e| {
        Error::sql(
            code::INVALID_TEXT_REPRESENTATION,
            format!(
                "parameter ${} ({from}) cannot be used as {want}: {e}",
                i + 1
            ),
        )
    })
}
