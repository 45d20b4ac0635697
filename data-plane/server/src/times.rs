//! `time` (without time zone): PostgreSQL's input (`time_in`) and output (`time_out`). A value is
//! nanoseconds since midnight in whole microseconds (storage's `DataType::Time`, DataFusion's `Time64`),
//! from 00:00:00 to 24:00:00 inclusive, as PostgreSQL allows.

use std::fmt::Write;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Time64NanosecondType;
use arrow_array::{Array, Time64NanosecondArray};
use arrow_schema::{DataType, TimeUnit};
use datafusion::common::DataFusionError;
use datafusion::logical_expr::{ColumnarValue, ScalarUDF, Volatility, create_udf};

use crate::error::{Error, Result};

const NANOS_PER_SEC: i64 = 1_000_000_000;
/// 24:00:00, the largest time.
pub const DAY: i64 = 86_400 * NANOS_PER_SEC;

/// PostgreSQL's text of a time: `HH:MM:SS`, then the fraction's significant digits (at most six).
pub fn text(nanos: i64) -> String {
    let mut out = String::with_capacity(15);
    let micros = nanos.div_euclid(1000);
    let secs = micros.div_euclid(1_000_000);
    let frac = micros.rem_euclid(1_000_000);
    let _ = write!(
        out,
        "{:02}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    );
    if frac != 0 {
        let digits = format!("{frac:06}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
    out
}

/// PostgreSQL's reading of `s` as a time: 22007 when it is not one, 22008 when a field is out of range.
pub fn parse(s: &str) -> Result<i64> {
    read(s).map_err(|bad| match bad {
        Bad::Syntax => Error::sql(
            "22007",
            format!("invalid input syntax for type time: \"{s}\""),
        ),
        Bad::Range => Error::sql(
            "22008",
            format!("date/time field value out of range: \"{s}\""),
        ),
    })
}

enum Bad {
    Syntax,
    Range,
}

/// `[date] HH:MM[:SS[.frac]] [AM|PM] [zone]`, `HHMM[SS[.frac]]` or `allballs`. A date before the time and a
/// zone after it are read past: PostgreSQL ignores both for `time`.
fn read(s: &str) -> std::result::Result<i64, Bad> {
    let t = s.trim();
    if t.eq_ignore_ascii_case("allballs") {
        return Ok(0);
    }
    let mut words: Vec<&str> = t.split_whitespace().collect();
    // A leading date (`2024-07-01 10:00`), or an ISO `T` between date and time.
    if words.len() > 1 && words[0].contains('-') && !words[0].contains(':') {
        words.remove(0);
    }
    let Some(first) = words.first().copied() else {
        return Err(Bad::Syntax);
    };
    let first = match first.split_once('T') {
        Some((date, time)) if date.contains('-') || date.is_empty() => time,
        _ => first,
    };
    // An offset glued to the time (`10:00+02`, `10:00:00-08:30`): ignored.
    let clock = first.find(['+', '-']).map_or(first, |at| &first[..at]);
    let mut meridiem = None;
    for w in &words[1..] {
        match w.to_ascii_lowercase().as_str() {
            "am" | "a.m." => meridiem = Some(false),
            "pm" | "p.m." => meridiem = Some(true),
            // A zone name or offset.
            z if z.starts_with(['+', '-'])
                || z.chars()
                    .all(|c| c.is_ascii_alphabetic() || c == '/' || c == '_') => {}
            _ => return Err(Bad::Syntax),
        }
    }
    let (whole, frac) = match clock.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (clock, None),
    };
    let fields: Vec<&str> = if whole.contains(':') {
        whole.split(':').collect()
    } else if whole.len() == 4 || whole.len() == 6 {
        // ISO's concatenated HHMM / HHMMSS.
        (0..whole.len())
            .step_by(2)
            .map(|i| &whole[i..i + 2])
            .collect()
    } else {
        return Err(Bad::Syntax);
    };
    if !(2..=3).contains(&fields.len())
        || fields
            .iter()
            .any(|f| f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(Bad::Syntax);
    }
    let num = |f: &str| f.parse::<i64>().map_err(|_| Bad::Range);
    // With a fraction, two fields are minutes and seconds (`10:00.5` is ten minutes).
    let [mut hour, minute, second] = match (fields.len(), frac) {
        (2, Some(_)) => [0, num(fields[0])?, num(fields[1])?],
        _ => [
            num(fields[0])?,
            num(fields[1])?,
            fields.get(2).map_or(Ok(0), |f| num(f))?,
        ],
    };
    let nanos = match frac {
        None => 0,
        Some(f) if f.bytes().all(|b| b.is_ascii_digit()) => fraction_nanos(f),
        Some(_) => return Err(Bad::Syntax),
    };
    if let Some(pm) = meridiem {
        if !(1..=12).contains(&hour) {
            return Err(Bad::Range);
        }
        hour = match (hour, pm) {
            (12, false) => 0,
            (12, true) => 12,
            (h, true) => h + 12,
            (h, false) => h,
        };
    }
    if minute > 59 || second > 60 || hour > 24 {
        return Err(Bad::Range);
    }
    let total = (hour * 3600 + minute * 60 + second) * NANOS_PER_SEC + nanos;
    if total > DAY {
        return Err(Bad::Range);
    }
    Ok(total)
}

/// A fraction of a second's digits, rounded to the microsecond as PostgreSQL stores it.
fn fraction_nanos(digits: &str) -> i64 {
    let mut micros = 0i64;
    for (i, d) in digits.bytes().take(6).enumerate() {
        micros += i64::from(d - b'0') * 10i64.pow(5 - i as u32);
    }
    if digits.as_bytes().get(6).is_some_and(|d| *d >= b'5') {
        micros += 1;
    }
    micros * 1000
}

/// `time::text` as time_out writes it (Arrow's cast prints milliseconds as `.500` and has no 24:00:00).
pub fn text_udf() -> Arc<ScalarUDF> {
    let body = |args: &[ColumnarValue]| -> datafusion::common::Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(args)?;
        let a = arrays[0].as_primitive::<Time64NanosecondType>();
        let out: arrow_array::StringArray = (0..a.len())
            .map(|i| a.is_valid(i).then(|| text(a.value(i))))
            .collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
    };
    Arc::new(create_udf(
        "omendb_time_text",
        vec![DataType::Time64(TimeUnit::Nanosecond)],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(body),
    ))
}

/// `text::time` as time_in reads it, with its SQLSTATEs (Arrow's cast refuses `24:00` and `1:05 PM`).
pub fn input_udf() -> Arc<ScalarUDF> {
    let body = |args: &[ColumnarValue]| -> datafusion::common::Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(args)?;
        let text = arrow_cast::cast(&arrays[0], &DataType::Utf8)?;
        let text = text.as_string::<i32>();
        let out = (0..text.len())
            .map(|i| {
                text.is_valid(i)
                    .then(|| parse(text.value(i)))
                    .transpose()
                    .map_err(|e| DataFusionError::External(Box::new(e)))
            })
            .collect::<datafusion::common::Result<Time64NanosecondArray>>()?;
        Ok(ColumnarValue::Array(Arc::new(out)))
    };
    Arc::new(create_udf(
        "omendb_time_in",
        vec![DataType::Utf8],
        DataType::Time64(TimeUnit::Nanosecond),
        Volatility::Immutable,
        Arc::new(body),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> String {
        text(parse(s).unwrap_or_else(|e| panic!("{s}: {e:?}")))
    }

    #[test]
    fn reads_postgresql_forms() {
        assert_eq!(t("10:00"), "10:00:00");
        assert_eq!(t(" 04:05:06.789 "), "04:05:06.789");
        assert_eq!(t("04:05:06.7890004"), "04:05:06.789");
        assert_eq!(t("23:59:59.9999996"), "24:00:00");
        assert_eq!(t("040506"), "04:05:06");
        assert_eq!(t("0405"), "04:05:00");
        assert_eq!(t("1:05 PM"), "13:05:00");
        assert_eq!(t("12:00 am"), "00:00:00");
        assert_eq!(t("12:30 PM"), "12:30:00");
        assert_eq!(t("10:00+02"), "10:00:00");
        assert_eq!(t("04:05:06 PST"), "04:05:06");
        assert_eq!(t("2024-07-01 10:11:12"), "10:11:12");
        assert_eq!(t("2024-07-01T10:11:12"), "10:11:12");
        assert_eq!(t("24:00"), "24:00:00");
        assert_eq!(t("allballs"), "00:00:00");
        assert_eq!(t("10:00.5"), "00:10:00.5");
        assert_eq!(t("10:00:60"), "10:01:00");
    }

    #[test]
    fn refuses_as_postgresql_does() {
        for s in ["abc", "10", "", "10:00:00:00", "1:2:x", "10:00 xx1"] {
            assert!(matches!(read(s), Err(Bad::Syntax)), "{s}");
        }
        for s in ["24:00:01", "25:00", "10:60", "13:00 PM", "0:00 AM"] {
            assert!(matches!(read(s), Err(Bad::Range)), "{s}");
        }
    }
}
