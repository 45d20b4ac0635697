//! `array::text` in PostgreSQL's form (`array_out`): `{1,2,NULL}`, `{{1,2},{3,4}}`, elements quoted when
//! they would not read back (`{"a b","",x}`), booleans `t`/`f`, floats, timestamps and intervals as
//! PostgreSQL prints them; and `interval::text` (`interval_out`, IntervalStyle postgres: `1 year 2 mons 3
//! days 04:05:06`). Arrow's casts give `[1, 2]` and `3 hours`; `text.rs` puts these functions in their place.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, StringArray};
use arrow_schema::{DataType, TimeUnit};
use bytes::BytesMut;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature};

use crate::zone::Zone;

pub const ARRAY_TEXT: &str = "pg_array_text";

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ArrayText {
    pub signature: Signature,
}

impl ScalarUDFImpl for ArrayText {
    fn name(&self) -> &str {
        ARRAY_TEXT
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let zone = crate::text::session_zone(&args);
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let a = arrays[0].as_ref();
        let out: ArrayRef = Arc::new(
            (0..a.len())
                .map(|i| {
                    if a.is_null(i) {
                        return Ok(None);
                    }
                    let mut s = String::new();
                    put_list(&mut s, &list_value(a, i)?, &zone)?;
                    Ok(Some(s))
                })
                .collect::<Result<StringArray>>()?,
        );
        crate::text::shaped_like(&args.args[0], out)
    }
}

/// Row `i` of a list array: its elements.
fn list_value(a: &dyn Array, i: usize) -> Result<ArrayRef> {
    match a.data_type() {
        DataType::List(_) => Ok(a.as_list::<i32>().value(i)),
        DataType::LargeList(_) => Ok(a.as_list::<i64>().value(i)),
        DataType::FixedSizeList(..) => Ok(a.as_fixed_size_list().value(i)),
        t => Err(DataFusionError::Internal(format!("{ARRAY_TEXT} of {t}"))),
    }
}

/// Row `i` of a list array as array_out writes it.
pub fn list_text(a: &dyn Array, i: usize, zone: &Zone) -> Result<String> {
    let mut s = String::new();
    put_list(&mut s, &list_value(a, i)?, zone)?;
    Ok(s)
}

pub fn is_list(t: &DataType) -> bool {
    matches!(
        t,
        DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..)
    )
}

fn put_list(out: &mut String, items: &ArrayRef, zone: &Zone) -> Result<()> {
    out.push('{');
    let texts = element_texts(items, zone)?;
    for (i, t) in texts.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match t {
            None => out.push_str("NULL"),
            Some(Element::Nested(s)) => out.push_str(&s),
            Some(Element::Scalar(s)) => put_element(out, &s),
        }
    }
    out.push('}');
    Ok(())
}

enum Element {
    Scalar(String),
    Nested(String),
}

fn element_texts(items: &ArrayRef, zone: &Zone) -> Result<Vec<Option<Element>>> {
    let t = items.data_type();
    if is_list(t) {
        return (0..items.len())
            .map(|i| {
                if items.is_null(i) {
                    return Ok(None);
                }
                let mut s = String::new();
                put_list(&mut s, &list_value(items.as_ref(), i)?, zone)?;
                Ok(Some(Element::Nested(s)))
            })
            .collect();
    }
    let scalar = |i: usize| -> Result<String> {
        Ok(match t {
            DataType::Boolean => if items.as_boolean().value(i) {
                "t"
            } else {
                "f"
            }
            .to_string(),
            DataType::Float32 | DataType::Float64 => {
                let mut b = BytesMut::new();
                if let Some(f) = items.as_any().downcast_ref::<arrow_array::Float64Array>() {
                    crate::cells::put_float(&mut b, f.value(i), 15);
                } else {
                    let f = items.as_primitive::<arrow_array::types::Float32Type>();
                    crate::cells::put_float(&mut b, f.value(i), 6);
                }
                String::from_utf8_lossy(&b).into_owned()
            }
            DataType::Timestamp(_, tz) => {
                let micros = arrow_cast::cast(
                    items,
                    &DataType::Timestamp(TimeUnit::Microsecond, tz.clone()),
                )?;
                let v = micros
                    .as_primitive::<arrow_array::types::TimestampMicrosecondType>()
                    .value(i);
                crate::text::format_timestamp(v, tz.is_some().then_some(zone))
            }
            DataType::Interval(arrow_schema::IntervalUnit::MonthDayNano) => {
                let v = items
                    .as_primitive::<arrow_array::types::IntervalMonthDayNanoType>()
                    .value(i);
                interval_text(v.months, v.days, v.nanoseconds)
            }
            DataType::Time64(TimeUnit::Nanosecond) => crate::times::text(
                items
                    .as_primitive::<arrow_array::types::Time64NanosecondType>()
                    .value(i),
            ),
            _ => arrow_cast::display::array_value_to_string(items, i)?,
        })
    };
    (0..items.len())
        .map(|i| {
            if items.is_null(i) {
                Ok(None)
            } else {
                scalar(i).map(|s| Some(Element::Scalar(s)))
            }
        })
        .collect()
}

pub const INTERVAL_TEXT: &str = "pg_interval_text";

/// `interval::text` (see the module's comment).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct IntervalText {
    pub signature: Signature,
}

impl ScalarUDFImpl for IntervalText {
    fn name(&self) -> &str {
        INTERVAL_TEXT
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let a = arrow_cast::cast(
            &arrays[0],
            &DataType::Interval(arrow_schema::IntervalUnit::MonthDayNano),
        )?;
        let a = a.as_primitive::<arrow_array::types::IntervalMonthDayNanoType>();
        let out: ArrayRef = Arc::new(
            (0..a.len())
                .map(|i| {
                    (!a.is_null(i)).then(|| {
                        let v = a.value(i);
                        interval_text(v.months, v.days, v.nanoseconds)
                    })
                })
                .collect::<StringArray>(),
        );
        crate::text::shaped_like(&args.args[0], out)
    }
}

/// PostgreSQL's `interval_out` in the postgres style: years and months from the months, days, then the
/// time as `[-]HH:MM:SS[.ffffff]` when it is not zero (or when everything is: `00:00:00`).
pub fn interval_text(months: i32, days: i32, nanos: i64) -> String {
    let mut parts: Vec<String> = Vec::new();
    let (years, mons) = (months / 12, months % 12);
    let unit = |n: i64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    if years != 0 {
        parts.push(unit(years.into(), "year", "years"));
    }
    if mons != 0 {
        parts.push(unit(mons.into(), "mon", "mons"));
    }
    if days != 0 {
        parts.push(unit(days.into(), "day", "days"));
    }
    let micros = nanos / 1000;
    if micros != 0 || parts.is_empty() {
        let neg = micros < 0;
        let m = micros.unsigned_abs();
        let (h, rest) = (m / 3_600_000_000, m % 3_600_000_000);
        let (min, rest) = (rest / 60_000_000, rest % 60_000_000);
        let (s, frac) = (rest / 1_000_000, rest % 1_000_000);
        // A positive time after a negative part carries its sign, as PostgreSQL prints it.
        let sign = if neg {
            "-"
        } else if months < 0 || days < 0 {
            "+"
        } else {
            ""
        };
        let mut t = format!("{sign}{h:02}:{min:02}:{s:02}");
        if frac != 0 {
            let f = format!("{frac:06}");
            t.push('.');
            t.push_str(f.trim_end_matches('0'));
        }
        parts.push(t);
    }
    parts.join(" ")
}

/// One element, double-quoted when `array_in` would not read it back as itself.
pub(crate) fn put_element(out: &mut String, s: &str) {
    let quote = s.is_empty()
        || s.eq_ignore_ascii_case("null")
        || s.chars()
            .any(|c| matches!(c, '{' | '}' | ',' | '"' | '\\') || c.is_ascii_whitespace());
    if !quote {
        return out.push_str(s);
    }
    out.push('"');
    for c in s.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_are_quoted_as_array_out_quotes_them() {
        let mut s = String::new();
        for e in ["a", "a b", "", "NULL", "x\"y", "{", "1.5"] {
            put_element(&mut s, e);
            s.push(',');
        }
        assert_eq!(s, r#"a,"a b","","NULL","x\"y","{",1.5,"#);
    }

    #[test]
    fn intervals_print_as_interval_out() {
        let h = 3_600_000_000_000i64;
        assert_eq!(interval_text(0, 0, 3 * h), "03:00:00");
        assert_eq!(interval_text(0, 3, 0), "3 days");
        assert_eq!(interval_text(1, 15, 0), "1 mon 15 days");
        assert_eq!(
            interval_text(14, 1, 1_500_000_000),
            "1 year 2 mons 1 day 00:00:01.5"
        );
        assert_eq!(interval_text(0, 0, 0), "00:00:00");
        assert_eq!(interval_text(0, 0, -h), "-01:00:00");
        assert_eq!(interval_text(0, -1, h), "-1 days +01:00:00");
    }
}
