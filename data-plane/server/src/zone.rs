//! The session's time zone (`TimeZone`), as PostgreSQL reads and shows it: IANA names in any case, numeric
//! hours east (`SET TIME ZONE -7`, shown `<-07>+07`), intervals, and POSIX forms (`UTC+3`, three hours
//! west). A `timestamptz` is an instant; the zone decides how it prints, how a string without an offset
//! reads, and what a cast to `timestamp` or `date` keeps.

use std::str::FromStr;
use std::sync::Arc;

use chrono::{NaiveDateTime, Offset, TimeZone};
use datafusion::sql::sqlparser::ast;

use crate::error::{Error, Result, code};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Zone {
    Named(chrono_tz::Tz),
    /// A fixed offset, seconds east of UTC, with the name SHOW gives it.
    Fixed {
        east: i32,
        name: String,
    },
}

impl Default for Zone {
    fn default() -> Zone {
        Zone::Named(chrono_tz::Tz::UTC)
    }
}

impl Zone {
    /// A `TimeZone` setting: an IANA name, a number of hours east, or a POSIX zone (also the `<+05>-05` form
    /// SHOW prints for numeric zones, so a shown value reads back).
    pub fn setting(value: &str) -> Option<Zone> {
        let v = value.trim();
        if let Some(z) = named(v) {
            return Some(z);
        }
        if let Ok(hours) = v.parse::<f64>() {
            return fixed_hours(hours);
        }
        posix(v)
    }

    /// The zone of `x AT TIME ZONE 'v'`: as a setting, except that a bare number is a POSIX offset (hours
    /// west), as in PostgreSQL.
    pub fn at(value: &str) -> Option<Zone> {
        let v = value.trim();
        if let Some(z) = named(v) {
            return Some(z);
        }
        if v.parse::<f64>().is_ok() {
            return posix(&format!("UTC{v}"));
        }
        posix(v)
    }

    /// A fixed zone `east` seconds east of UTC (`SET TIME ZONE INTERVAL '+02:30' HOUR TO MINUTE`).
    pub fn east(east: i32) -> Option<Zone> {
        (east.abs() < 15 * 3600 + 59 * 60).then(|| Zone::Fixed {
            east,
            name: format!("<{}>{}", offset_text(east), offset_text(-east)),
        })
    }

    /// The value SHOW prints.
    pub fn name(&self) -> String {
        match self {
            Zone::Named(tz) => tz.name().to_string(),
            Zone::Fixed { name, .. } => name.clone(),
        }
    }

    pub fn is_utc(&self) -> bool {
        match self {
            Zone::Named(tz) => matches!(tz.name(), "UTC" | "Etc/UTC" | "Etc/UCT" | "UCT" | "Zulu"),
            Zone::Fixed { east, .. } => *east == 0,
        }
    }

    /// The zone as an Arrow timestamp's time zone label.
    pub fn arrow(&self) -> Arc<str> {
        match self {
            Zone::Named(tz) => tz.name().into(),
            Zone::Fixed { east, .. } => {
                let a = east.abs();
                format!(
                    "{}{:02}:{:02}",
                    if *east < 0 { '-' } else { '+' },
                    a / 3600,
                    a / 60 % 60
                )
                .into()
            }
        }
    }

    /// The zone an Arrow label names (our own labels, `+00:00`, IANA names).
    pub fn of_arrow(label: &str) -> Option<Zone> {
        if let Ok(tz) = chrono_tz::Tz::from_str(label) {
            return Some(Zone::Named(tz));
        }
        let (sign, rest) = match label.as_bytes().first()? {
            b'+' => (1, &label[1..]),
            b'-' => (-1, &label[1..]),
            _ => return None,
        };
        let mut parts = rest.split(':').map(|p| p.parse::<i32>().ok());
        let h = parts.next()??;
        let m = parts.next().flatten().unwrap_or(0);
        Zone::east(sign * (h * 3600 + m * 60))
    }

    /// Seconds east of UTC in force at the instant `utc_micros`.
    pub fn offset_at(&self, utc_micros: i64) -> i32 {
        match self {
            Zone::Fixed { east, .. } => *east,
            Zone::Named(chrono_tz::Tz::UTC) => 0,
            Zone::Named(tz) => match chrono::DateTime::from_timestamp_micros(utc_micros) {
                Some(t) => tz
                    .offset_from_utc_datetime(&t.naive_utc())
                    .fix()
                    .local_minus_utc(),
                None => 0,
            },
        }
    }

    /// The instant whose wall time here is `local_micros` (microseconds since the epoch, as if at UTC). In
    /// a gap the time reads with the offset before it; in an overlap, with the offset after it (PostgreSQL's
    /// rules: `2024-11-03 01:30` in New York is `-05`).
    pub fn utc_of_local(&self, local_micros: i64) -> i64 {
        let offset = match self {
            Zone::Fixed { east, .. } => *east,
            Zone::Named(tz) => {
                let Some(t) = chrono::DateTime::from_timestamp_micros(local_micros) else {
                    return local_micros;
                };
                let local: NaiveDateTime = t.naive_utc();
                match tz.offset_from_local_datetime(&local) {
                    chrono::LocalResult::Single(o) => o.fix().local_minus_utc(),
                    chrono::LocalResult::Ambiguous(a, b) => {
                        a.fix().local_minus_utc().min(b.fix().local_minus_utc())
                    }
                    chrono::LocalResult::None => {
                        let before = local - chrono::Duration::hours(3);
                        tz.offset_from_utc_datetime(&before).fix().local_minus_utc()
                    }
                }
            }
        };
        local_micros - i64::from(offset) * 1_000_000
    }
}

/// The setting `SET TIME ZONE value` makes: a string or identifier as given, a number of hours east, an
/// interval; `None` for LOCAL and DEFAULT (the server's zone).
pub fn set_time_zone(value: &ast::Expr) -> Result<Option<String>> {
    let bad = || {
        Error::sql(
            code::INVALID_PARAMETER_VALUE,
            format!("invalid value for parameter \"TimeZone\": \"{value}\""),
        )
    };
    Ok(Some(match value {
        ast::Expr::Value(v) => match &v.value {
            ast::Value::SingleQuotedString(s) | ast::Value::DoubleQuotedString(s) => s.clone(),
            ast::Value::Number(n, _) => n.to_string(),
            _ => return Err(bad()),
        },
        ast::Expr::Identifier(i)
            if i.value.eq_ignore_ascii_case("local") || i.value.eq_ignore_ascii_case("default") =>
        {
            return Ok(None);
        }
        ast::Expr::Identifier(i) => i.value.clone(),
        ast::Expr::UnaryOp {
            op: ast::UnaryOperator::Minus,
            expr,
        } => format!("-{expr}"),
        ast::Expr::Interval(i) => {
            let ast::Expr::Value(v) = i.value.as_ref() else {
                return Err(bad());
            };
            let ast::Value::SingleQuotedString(text) = &v.value else {
                return Err(bad());
            };
            let east = interval_seconds(text, i.leading_field.as_ref()).ok_or_else(bad)?;
            Zone::east(east).ok_or_else(bad)?.name()
        }
        _ => return Err(bad()),
    }))
}

/// `'+02:30'`, `'-8'` (hours, or the interval's leading field), `'5 hours'`: seconds.
fn interval_seconds(text: &str, field: Option<&ast::DateTimeField>) -> Option<i32> {
    let t = text.trim();
    let (sign, body) = match t.as_bytes().first()? {
        b'-' => (-1, &t[1..]),
        b'+' => (1, &t[1..]),
        _ => (1, t),
    };
    if body.contains(':') {
        let mut secs = 0;
        for (p, unit) in body.split(':').zip([3600, 60, 1]) {
            secs += p.trim().parse::<i32>().ok()? * unit;
        }
        return Some(sign * secs);
    }
    let mut words = body.split_whitespace();
    let n: f64 = words.next()?.parse().ok()?;
    let unit = match (words.next(), field) {
        (Some(w), _) if w.starts_with("hour") => 3600.0,
        (Some(w), _) if w.starts_with("min") => 60.0,
        (Some(w), _) if w.starts_with("sec") => 1.0,
        (Some(_), _) => return None,
        (None, Some(ast::DateTimeField::Minute)) => 60.0,
        (None, Some(ast::DateTimeField::Second)) => 1.0,
        (None, _) => 3600.0,
    };
    Some(sign * (n * unit).round() as i32)
}

impl Zone {
    /// An IANA zone name in any case, as PostgreSQL finds its zone files.
    pub fn named(v: &str) -> Option<Zone> {
        named(v)
    }
}

fn named(v: &str) -> Option<Zone> {
    if let Ok(tz) = chrono_tz::Tz::from_str(v) {
        return Some(Zone::Named(tz));
    }
    chrono_tz::TZ_VARIANTS
        .iter()
        .find(|tz| tz.name().eq_ignore_ascii_case(v))
        .map(|tz| Zone::Named(*tz))
}

fn fixed_hours(hours: f64) -> Option<Zone> {
    if !hours.is_finite() {
        return None;
    }
    Zone::east((hours * 3600.0).round() as i32)
}

/// `NAME[+-]h[:mm[:ss]]` or `<NAME>[+-]h[:mm]`: POSIX, where a positive offset is west of UTC.
fn posix(v: &str) -> Option<Zone> {
    let (abbrev, rest) = if let Some(r) = v.strip_prefix('<') {
        let end = r.find('>')?;
        (&r[..end], &r[end + 1..])
    } else {
        let end = v
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(v.len());
        (&v[..end], &v[end..])
    };
    if abbrev.is_empty() || rest.is_empty() {
        return None;
    }
    let (sign, digits) = match rest.as_bytes()[0] {
        b'+' => (1, &rest[1..]),
        b'-' => (-1, &rest[1..]),
        b'0'..=b'9' => (1, rest),
        _ => return None,
    };
    let mut secs = 0;
    let mut parts = 0;
    for (p, unit) in digits.split(':').zip([3600, 60, 1]) {
        if p.is_empty() || p.len() > 2 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        secs += p.parse::<i32>().ok()? * unit;
        parts += 1;
    }
    if parts == 0 || digits.split(':').count() > 3 {
        return None;
    }
    let east = -sign * secs;
    (east.abs() <= 24 * 3600).then(|| Zone::Fixed {
        east,
        name: v.to_string(),
    })
}

/// An offset as PostgreSQL prints one after a time: `+05`, `-03:30`, `+05:21:10`.
pub fn offset_text(east: i32) -> String {
    let a = east.abs();
    let mut s = format!("{}{:02}", if east < 0 { '-' } else { '+' }, a / 3600);
    if a % 3600 != 0 {
        s.push_str(&format!(":{:02}", a / 60 % 60));
        if a % 60 != 0 {
            s.push_str(&format!(":{:02}", a % 60));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_read_as_postgresql_reads_them() {
        assert_eq!(
            Zone::setting("america/new_york").unwrap().name(),
            "America/New_York"
        );
        assert_eq!(Zone::setting("-7").unwrap().name(), "<-07>+07");
        assert_eq!(Zone::setting("+5").unwrap().name(), "<+05>-05");
        assert_eq!(Zone::setting("<+05>-05"), Zone::setting("5"));
        assert_eq!(Zone::setting("5.5").unwrap().name(), "<+05:30>-05:30");
        assert_eq!(Zone::east(9000).unwrap().name(), "<+02:30>-02:30");
        assert!(Zone::setting("nowhere/x").is_none());
        assert!(Zone::setting("").is_none());
        let Zone::Fixed { east, .. } = Zone::setting("UTC+3").unwrap() else {
            panic!()
        };
        assert_eq!(east, -3 * 3600);
    }

    #[test]
    fn at_time_zone_numbers_are_west() {
        let Zone::Fixed { east, .. } = Zone::at("+3").unwrap() else {
            panic!()
        };
        assert_eq!(east, -3 * 3600);
        assert!(Zone::at("Asia/Tokyo").is_some());
    }

    #[test]
    fn offsets_follow_the_calendar() {
        let ny = Zone::setting("America/New_York").unwrap();
        // 2024-07-01 12:00 UTC is daylight time (-04), 2024-01-01 standard (-05).
        assert_eq!(ny.offset_at(1_719_835_200_000_000), -4 * 3600);
        assert_eq!(ny.offset_at(1_704_110_400_000_000), -5 * 3600);
        assert_eq!(
            ny.utc_of_local(1_719_835_200_000_000),
            1_719_849_600_000_000
        );
        // 2024-11-03 01:30 happens twice in New York: PostgreSQL takes the second (-05); 2024-03-10 02:30
        // never happens: read with the offset before the gap (-05), it is 03:30-04.
        assert_eq!(
            ny.utc_of_local(1_730_597_400_000_000),
            1_730_615_400_000_000
        );
        assert_eq!(
            ny.utc_of_local(1_710_037_800_000_000),
            1_710_055_800_000_000
        );
        assert_eq!(offset_text(19_800), "+05:30");
        assert_eq!(offset_text(-18_000), "-05");
        assert_eq!(offset_text(19_270), "+05:21:10");
        assert_eq!(Zone::of_arrow("+05:30").unwrap().offset_at(0), 19_800);
        assert!(Zone::default().is_utc());
    }
}
