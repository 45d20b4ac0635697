//! `interval` input as PostgreSQL's `interval_in` reads it (postgres style): `1 year 2 mons 3 days
//! 04:05:06.5`, `@ 1 minute ago`, `1.5 weeks`, `3 4:05:06`, `1-2`, ISO 8601 `P1Y2M3DT4H5M6S`, abbreviated
//! units (`1d 2h`), fractions carried down as PostgreSQL carries them (a month is 30 days, a day 24 hours).
//! Arrow's parser takes few of these, so interval text is read here and handed to DataFusion in a form it
//! reads exactly (`canonical`).

use crate::error::{Error, Result};

/// An interval's three fields, as PostgreSQL keeps them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Interval {
    pub months: i32,
    pub days: i32,
    pub micros: i64,
}

impl Interval {
    /// The form DataFusion's interval literals read exactly.
    pub fn canonical(&self) -> String {
        format!(
            "{} months {} days {} microseconds",
            self.months, self.days, self.micros
        )
    }

    /// PostgreSQL's output form.
    pub fn text(&self) -> String {
        crate::array_out::interval_text(self.months, self.days, self.micros * 1000)
    }
}

/// A string literal read as an interval where PostgreSQL types it so (written to or compared with an
/// interval column): `INTERVAL '<canonical>'`, or 22007.
pub fn literal(e: &mut datafusion::sql::sqlparser::ast::Expr) -> Result<()> {
    use datafusion::sql::sqlparser::ast::{Expr, Value};
    let inner = match e {
        Expr::Nested(inner) => inner.as_mut(),
        other => other,
    };
    if let Expr::Value(v) = inner
        && let Value::SingleQuotedString(text) = &v.value
    {
        *inner = expr(&parse(text)?);
    }
    Ok(())
}

/// `INTERVAL '<canonical>'`.
pub fn expr(v: &Interval) -> datafusion::sql::sqlparser::ast::Expr {
    use datafusion::sql::sqlparser::ast::{Expr, Value};
    Expr::Interval(datafusion::sql::sqlparser::ast::Interval {
        value: Box::new(Expr::Value(Value::SingleQuotedString(v.canonical()).into())),
        leading_field: None,
        leading_precision: None,
        last_field: None,
        fractional_seconds_precision: None,
    })
}

/// `INTERVAL '...'` and `'...'::interval` with PostgreSQL's input read here (see the module's comment).
pub fn rewrite_literals(stmt: &mut datafusion::sql::sqlparser::ast::Statement) -> Result<()> {
    use datafusion::sql::sqlparser::ast::{
        DataType as SqlType, Expr, Value, visit_expressions_mut,
    };
    let r = visit_expressions_mut(stmt, |e| {
        let text = match e {
            Expr::Interval(iv)
                if iv.leading_field.is_none()
                    && iv.last_field.is_none()
                    && iv.fractional_seconds_precision.is_none() =>
            {
                match iv.value.as_ref() {
                    Expr::Value(v) => match &v.value {
                        Value::SingleQuotedString(s) => s.clone(),
                        _ => return std::ops::ControlFlow::Continue(()),
                    },
                    _ => return std::ops::ControlFlow::Continue(()),
                }
            }
            Expr::Cast {
                expr,
                data_type:
                    SqlType::Interval {
                        fields: None,
                        precision: None,
                    },
                ..
            } => match expr.as_ref() {
                Expr::Value(v) => match &v.value {
                    Value::SingleQuotedString(s) => s.clone(),
                    _ => return std::ops::ControlFlow::Continue(()),
                },
                _ => return std::ops::ControlFlow::Continue(()),
            },
            _ => return std::ops::ControlFlow::Continue(()),
        };
        match parse(&text) {
            Ok(v) => {
                *e = expr(&v);
                std::ops::ControlFlow::Continue(())
            }
            Err(err) => std::ops::ControlFlow::Break(err),
        }
    });
    match r {
        std::ops::ControlFlow::Break(e) => Err(e),
        std::ops::ControlFlow::Continue(()) => Ok(()),
    }
}

/// PostgreSQL's error for text that is no interval.
pub fn invalid(text: &str) -> Error {
    Error::sql(
        "22007",
        format!("invalid input syntax for type interval: \"{text}\""),
    )
}

/// Which field a unit sets: PostgreSQL refuses the same field twice (`1 day 1 day`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Unit {
    Micro,
    Milli,
    Second,
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
    Decade,
    Century,
    Millennium,
}

impl Unit {
    fn bit(self) -> u32 {
        1 << (self as u32)
    }

    fn named(s: &str) -> Option<Unit> {
        Some(match s {
            "microsecond" | "microseconds" | "us" | "usec" | "usecs" | "useconds"
            | "microsecon" => Unit::Micro,
            "millisecond" | "milliseconds" | "ms" | "msec" | "msecs" | "mseconds"
            | "millisecon" => Unit::Milli,
            "second" | "seconds" | "s" | "sec" | "secs" => Unit::Second,
            "minute" | "minutes" | "m" | "min" | "mins" => Unit::Minute,
            "hour" | "hours" | "h" | "hr" | "hrs" => Unit::Hour,
            "day" | "days" | "d" => Unit::Day,
            "week" | "weeks" | "w" => Unit::Week,
            "month" | "months" | "mon" | "mons" => Unit::Month,
            "year" | "years" | "y" | "yr" | "yrs" => Unit::Year,
            "decade" | "decades" | "dec" | "decs" => Unit::Decade,
            "century" | "centuries" | "c" | "cent" => Unit::Century,
            "millennium" | "millennia" | "mil" | "mils" => Unit::Millennium,
            _ => return None,
        })
    }
}

/// The sum being read: whole months and days, and microseconds with their fraction until the end.
#[derive(Default)]
struct Acc {
    months: i64,
    days: i64,
    micros: f64,
    seen: u32,
}

impl Acc {
    fn set(&mut self, unit: Unit) -> Option<()> {
        if self.seen & unit.bit() != 0 {
            return None;
        }
        self.seen |= unit.bit();
        Some(())
    }

    /// `days` days, a fraction of a day going to the time (PostgreSQL's AdjustFractDays).
    fn add_days(&mut self, days: f64) {
        let whole = days.trunc();
        self.days += whole as i64;
        self.micros += (days - whole) * 86_400e6;
    }

    fn add(&mut self, v: f64, unit: Unit) -> Option<()> {
        self.set(unit)?;
        let years = |acc: &mut Acc, y: f64| {
            let whole = y.trunc();
            acc.months += whole as i64 * 12 + ((y - whole) * 12.0).round() as i64;
        };
        match unit {
            Unit::Micro => self.micros += v,
            Unit::Milli => self.micros += v * 1e3,
            Unit::Second => self.micros += v * 1e6,
            Unit::Minute => self.micros += v * 60e6,
            Unit::Hour => self.micros += v * 3_600e6,
            Unit::Day => self.add_days(v),
            Unit::Week => self.add_days(v * 7.0),
            Unit::Month => {
                let whole = v.trunc();
                self.months += whole as i64;
                self.add_days((v - whole) * 30.0);
            }
            Unit::Year => years(self, v),
            Unit::Decade => years(self, v * 10.0),
            Unit::Century => years(self, v * 100.0),
            Unit::Millennium => years(self, v * 1000.0),
        }
        Some(())
    }

    /// `[+-]hh:mm[:ss[.frac]]`.
    fn add_time(&mut self, t: &str) -> Option<()> {
        let (neg, body) = match t.as_bytes().first()? {
            b'-' => (true, &t[1..]),
            b'+' => (false, &t[1..]),
            _ => (false, t),
        };
        let parts: Vec<&str> = body.split(':').collect();
        if parts.len() > 3 || parts.iter().any(|p| p.is_empty()) {
            return None;
        }
        for u in [Unit::Hour, Unit::Minute, Unit::Second] {
            self.set(u)?;
        }
        let h: u64 = digits(parts[0])?;
        let m: u64 = digits(parts[1])?;
        let s: f64 = match parts.get(2) {
            Some(s) if s.bytes().all(|b| b.is_ascii_digit() || b == b'.') => s.parse().ok()?,
            Some(_) => return None,
            None => 0.0,
        };
        if m > 59 || s >= 60.0 {
            return None;
        }
        let micros = (h * 3600 + m * 60) as f64 * 1e6 + s * 1e6;
        self.micros += if neg { -micros } else { micros };
        Some(())
    }

    fn finish(self, negate: bool) -> Option<Interval> {
        let sign = if negate { -1 } else { 1 };
        Some(Interval {
            months: i32::try_from(self.months * sign).ok()?,
            days: i32::try_from(self.days * sign).ok()?,
            micros: (self.micros.round() as i64).checked_mul(sign)?,
        })
    }
}

fn digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// A signed decimal number (`-1.5`, `+3`, `.5`).
fn number(s: &str) -> Option<f64> {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    if body.is_empty()
        || !body.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        || body.bytes().filter(|b| *b == b'.').count() > 1
        || body == "."
    {
        return None;
    }
    s.parse().ok()
}

/// Reads `text` as PostgreSQL's `interval_in` does (22007 otherwise).
pub fn parse(text: &str) -> Result<Interval> {
    read(text).ok_or_else(|| invalid(text))
}

fn read(text: &str) -> Option<Interval> {
    let lower = text.trim().to_lowercase();
    if lower.is_empty() {
        return None;
    }
    if let Some(iso) = lower.strip_prefix('p') {
        return iso8601(iso);
    }
    let mut tokens: Vec<String> = lower
        .strip_prefix('@')
        .unwrap_or(&lower)
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let negate = tokens.last().is_some_and(|t| t == "ago");
    if negate {
        tokens.pop();
    }
    // `1d`, `2hrs`: a number and its unit written together.
    let mut split = Vec::with_capacity(tokens.len());
    for t in tokens {
        let at = t
            .char_indices()
            .find(|(i, c)| c.is_ascii_alphabetic() && *i > 0)
            .map(|(i, _)| i);
        match at {
            Some(i) if number(&t[..i]).is_some() => {
                split.push(t[..i].to_string());
                split.push(t[i..].to_string());
            }
            _ => split.push(t),
        }
    }
    let mut acc = Acc::default();
    let mut i = 0;
    while i < split.len() {
        let t = &split[i];
        let next = split.get(i + 1);
        if t.contains(':') {
            acc.add_time(t)?;
            i += 1;
            continue;
        }
        // `1-2`: years and months (SQL's year-month form).
        if let Some((y, m)) = t.split_once('-')
            && !y.is_empty()
            && let (Some(y), Some(m)) = (digits(y.trim_start_matches('+')), digits(m))
        {
            acc.set(Unit::Year)?;
            acc.set(Unit::Month)?;
            acc.months += (y * 12 + m) as i64;
            i += 1;
            continue;
        }
        let v = number(t)?;
        match next.and_then(|n| Unit::named(n)) {
            Some(unit) => {
                acc.add(v, unit)?;
                i += 2;
            }
            // A number before a time is days (`3 4:05:06`); a number alone at the end is seconds.
            None if next.is_some_and(|n| n.contains(':')) => {
                acc.add(v, Unit::Day)?;
                i += 1;
            }
            None if next.is_none() => {
                acc.add(v, Unit::Second)?;
                i += 1;
            }
            None => return None,
        }
    }
    acc.finish(negate)
}

/// ISO 8601's designator form after its `P`: `1Y2M3W4DT5H6M7.5S`.
fn iso8601(s: &str) -> Option<Interval> {
    let mut acc = Acc::default();
    let mut time = false;
    let mut num = String::new();
    let mut any = false;
    for c in s.chars() {
        match c {
            't' if !time && num.is_empty() => time = true,
            '0'..='9' | '.' | '-' | '+' => num.push(c),
            _ => {
                let v = number(&num)?;
                num.clear();
                let unit = match (time, c) {
                    (false, 'y') => Unit::Year,
                    (false, 'm') => Unit::Month,
                    (false, 'w') => Unit::Week,
                    (false, 'd') => Unit::Day,
                    (true, 'h') => Unit::Hour,
                    (true, 'm') => Unit::Minute,
                    (true, 's') => Unit::Second,
                    _ => return None,
                };
                acc.add(v, unit)?;
                any = true;
            }
        }
    }
    if !num.is_empty() || !any {
        return None;
    }
    acc.finish(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Inputs and PostgreSQL 15's `'...'::interval::text` for them.
    const CASES: &[(&str, &str)] = &[
        ("1 day", "1 day"),
        ("1 day 2 hours", "1 day 02:00:00"),
        (
            "1 year 2 months 3 days 04:05:06.5",
            "1 year 2 mons 3 days 04:05:06.5",
        ),
        ("04:05:06", "04:05:06"),
        ("-04:05:06", "-04:05:06"),
        ("1:30", "01:30:00"),
        ("5", "00:00:05"),
        ("1.5", "00:00:01.5"),
        ("@ 1 minute ago", "-00:01:00"),
        ("1 day ago", "-1 days"),
        ("-1 day 2 hours", "-1 days +02:00:00"),
        ("1 year -2 months", "10 mons"),
        ("1.5 months", "1 mon 15 days"),
        ("1.5 years", "1 year 6 mons"),
        ("0.1 years", "1 mon"),
        ("2 weeks", "14 days"),
        ("1.5 weeks", "10 days 12:00:00"),
        ("1.5 days", "1 day 12:00:00"),
        ("3 4:05:06", "3 days 04:05:06"),
        ("1-2", "1 year 2 mons"),
        ("P1Y2M3DT4H5M6S", "1 year 2 mons 3 days 04:05:06"),
        ("P1D", "1 day"),
        ("PT1.5S", "00:00:01.5"),
        ("P2W", "14 days"),
        ("1 hour 30 minutes", "01:30:00"),
        ("90 minutes", "01:30:00"),
        ("10 seconds", "00:00:10"),
        ("1.000001 seconds", "00:00:01.000001"),
        ("0.0000004 seconds", "00:00:00"),
        ("1 millisecond", "00:00:00.001"),
        ("3 microseconds", "00:00:00.000003"),
        ("1 decade", "10 years"),
        ("1 century", "100 years"),
        ("1 millennium", "1000 years"),
        ("1d 2h 3m 4s", "1 day 02:03:04"),
        ("1 mon", "1 mon"),
        ("2 mons", "2 mons"),
        ("100000 hours", "100000:00:00"),
        ("-1.5 days", "-1 days -12:00:00"),
        ("1 day -00:00:01", "1 day -00:00:01"),
        (" 2 days ", "2 days"),
        ("+3 hours", "03:00:00"),
        ("0", "00:00:00"),
        ("00:00:00", "00:00:00"),
        ("1 yr 2 hrs", "1 year 02:00:00"),
        ("1 day 12:00", "1 day 12:00:00"),
    ];

    #[test]
    fn reads_what_postgresql_reads() {
        for (input, want) in CASES {
            let got = parse(input).map(|i| i.text());
            assert_eq!(got.as_deref().ok(), Some(*want), "{input:?}");
        }
    }

    #[test]
    fn refuses_what_postgresql_refuses() {
        for bad in [
            "1 fortnight",
            "abc",
            "1 day 1 day",
            "",
            "1:2:3:4",
            "P1X",
            "1 year 1 year",
        ] {
            assert_eq!(parse(bad).unwrap_err().sqlstate(), "22007", "{bad:?}");
        }
    }

    #[test]
    fn the_canonical_form_reads_back_the_same() {
        for (input, _) in CASES {
            let i = parse(input).unwrap();
            assert_eq!(parse(&i.canonical()).unwrap(), i, "{input:?}");
        }
    }
}

/// `omendb_interval_key(x)`: an interval as one number in PostgreSQL's order (a month is 30 days, a day
/// 24 hours), so `'30 days' = '1 mon'` and sorts agree with PostgreSQL's (Arrow compares field by field).
#[derive(Debug, PartialEq, Eq, Hash)]
struct Key {
    signature: datafusion::logical_expr::Signature,
}

impl datafusion::logical_expr::ScalarUDFImpl for Key {
    fn name(&self) -> &str {
        "omendb_interval_key"
    }

    fn signature(&self) -> &datafusion::logical_expr::Signature {
        &self.signature
    }

    fn return_type(
        &self,
        _: &[arrow_schema::DataType],
    ) -> datafusion::error::Result<arrow_schema::DataType> {
        Ok(arrow_schema::DataType::Decimal128(38, 0))
    }

    fn invoke_with_args(
        &self,
        args: datafusion::logical_expr::ScalarFunctionArgs,
    ) -> datafusion::error::Result<datafusion::logical_expr::ColumnarValue> {
        use arrow_array::Array;
        use arrow_array::cast::AsArray;
        let scalar = matches!(
            args.args[0],
            datafusion::logical_expr::ColumnarValue::Scalar(_)
        );
        let a = args.args[0].to_array(if scalar { 1 } else { args.number_rows })?;
        let a = arrow_cast::cast(
            &a,
            &arrow_schema::DataType::Interval(arrow_schema::IntervalUnit::MonthDayNano),
        )?;
        let a = a.as_primitive::<arrow_array::types::IntervalMonthDayNanoType>();
        let out: arrow_array::Decimal128Array = (0..a.len())
            .map(|i| {
                (!a.is_null(i)).then(|| {
                    let v = a.value(i);
                    (i128::from(v.months) * 30 + i128::from(v.days)) * 86_400_000_000_000
                        + i128::from(v.nanoseconds)
                })
            })
            .collect();
        let out: arrow_array::ArrayRef = std::sync::Arc::new(out.with_precision_and_scale(38, 0)?);
        Ok(if scalar {
            datafusion::logical_expr::ColumnarValue::Scalar(
                datafusion::scalar::ScalarValue::try_from_array(&out, 0)?,
            )
        } else {
            datafusion::logical_expr::ColumnarValue::Array(out)
        })
    }
}

/// `plan` with interval comparisons and sorts by `omendb_interval_key`.
pub fn compare_by_value(
    plan: datafusion::logical_expr::LogicalPlan,
) -> datafusion::error::Result<datafusion::logical_expr::LogicalPlan> {
    use datafusion::common::tree_node::Transformed;
    use datafusion::logical_expr::{
        BinaryExpr, Expr, ExprSchemable, ScalarUDF, Signature, Volatility, expr::ScalarFunction,
    };
    let udf = std::sync::Arc::new(ScalarUDF::from(Key {
        signature: Signature::any(1, Volatility::Immutable),
    }));
    let key = |e: Expr| Expr::ScalarFunction(ScalarFunction::new_udf(udf.clone(), vec![e]));
    let is_interval = |e: &Expr, schema: &datafusion::common::DFSchema| {
        matches!(e.get_type(schema), Ok(arrow_schema::DataType::Interval(_)))
    };
    crate::plan_exprs::rewrite(
        plan,
        &|e, schema| match e {
            Expr::BinaryExpr(b)
                if crate::plan_exprs::is_comparison(b.op)
                    && is_interval(&b.left, schema)
                    && is_interval(&b.right, schema) =>
            {
                Ok(Transformed::yes(Expr::BinaryExpr(BinaryExpr::new(
                    Box::new(key(*b.left)),
                    b.op,
                    Box::new(key(*b.right)),
                ))))
            }
            e => Ok(Transformed::no(e)),
        },
        Some(&|e, schema| {
            Ok(if is_interval(&e, schema) {
                Transformed::yes(key(e))
            } else {
                Transformed::no(e)
            })
        }),
    )
}
