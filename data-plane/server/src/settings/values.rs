//! A parameter's values: whether a session may set it, how a value is checked and normalised for its type
//! (Booleans, integers with units, reals, enums, and the strings OmenDB checks itself), and how SHOW prints
//! it, all as PostgreSQL 15 does.

use crate::error::{Error, Result, code};

use super::Param;

fn invalid(name: &str, value: &str) -> Error {
    Error::sql(
        code::INVALID_PARAMETER_VALUE,
        format!("invalid value for parameter \"{name}\": \"{value}\""),
    )
}

/// Whether a client session may change `p` now, with PostgreSQL's errors when not.
pub(super) fn check_context(p: &Param) -> Result<()> {
    let cannot = |why: &str| {
        Err(Error::sql(
            "55P02",
            format!("parameter \"{}\" cannot be changed{why}", p.name),
        ))
    };
    match p.context.as_str() {
        "user" => Ok(()),
        "internal" => cannot(""),
        "postmaster" => cannot(" without restarting the server"),
        "sighup" => cannot(" now"),
        "backend" | "superuser-backend" => Err(Error::sql(
            "55P02",
            format!(
                "parameter \"{}\" cannot be set after connection start",
                p.name
            ),
        )),
        // Tenants are not superusers.
        _ => Err(Error::sql(
            "42501",
            format!("permission denied to set parameter \"{}\"", p.name),
        )),
    }
}

/// `value` checked and normalised as `p`'s type takes it: the raw value to store.
pub(super) fn validate(p: &Param, value: &str) -> Result<String> {
    let v = value.trim();
    match p.vartype.as_str() {
        "bool" => Ok(parse_bool(v)
            .ok_or_else(|| {
                Error::sql(
                    code::INVALID_PARAMETER_VALUE,
                    format!("parameter \"{}\" requires a Boolean value", p.name),
                )
            })?
            .to_string()),
        "integer" => {
            let n = parse_int(v, p.unit.as_deref()).ok_or_else(|| invalid(&p.name, value))?;
            in_range(p, n as f64, &n.to_string())?;
            Ok(n.to_string())
        }
        "real" => {
            let n: f64 = v.parse().map_err(|_| invalid(&p.name, value))?;
            in_range(p, n, v)?;
            Ok(v.to_string())
        }
        "enum" => {
            let lower = v.to_lowercase();
            let found = p.enumvals.iter().find(|e| e.eq_ignore_ascii_case(&lower));
            // PostgreSQL takes a few unlisted spellings of the Boolean-like enums.
            let alias = match (found, parse_bool(&lower)) {
                (Some(f), _) => Some(f.clone()),
                (None, Some(b)) if p.enumvals.iter().any(|e| e == b) => Some(b.to_string()),
                _ => None,
            };
            let mut out = alias.ok_or_else(|| invalid(&p.name, value))?;
            if p.name == "default_transaction_isolation" || p.name == "transaction_isolation" {
                out = omendb_storage::Isolation::parse(&out)
                    .map_or(out.clone(), |i| i.name().to_string());
            }
            Ok(out)
        }
        _ => string_value(p, v, value),
    }
}

fn string_value(p: &Param, v: &str, value: &str) -> Result<String> {
    match p.name.as_str() {
        "client_encoding" => {
            let e = v.to_uppercase().replace(['-', '_'], "");
            if e != "UTF8" && e != "UNICODE" {
                return Err(Error::sql(
                    "22023",
                    format!("encoding \"{value}\" is not supported: OmenDB speaks UTF8 only"),
                ));
            }
            Ok("UTF8".into())
        }
        "TimeZone" => crate::zone::Zone::setting(v)
            .map(|z| z.name())
            .ok_or_else(|| invalid(&p.name, value)),
        "DateStyle" => {
            let parts: Vec<String> = v.split(',').map(|s| s.trim().to_uppercase()).collect();
            if parts.iter().any(|s| {
                !matches!(
                    s.as_str(),
                    "ISO"
                        | "MDY"
                        | "DMY"
                        | "YMD"
                        | "US"
                        | "NONEURO"
                        | "NONEUROPEAN"
                        | "EURO"
                        | "EUROPEAN"
                )
            }) {
                return Err(invalid(&p.name, value));
            }
            let order = parts
                .iter()
                .find_map(|s| match s.as_str() {
                    "MDY" | "US" | "NONEURO" | "NONEUROPEAN" => Some("MDY"),
                    "DMY" | "EURO" | "EUROPEAN" => Some("DMY"),
                    "YMD" => Some("YMD"),
                    _ => None,
                })
                .unwrap_or("MDY");
            Ok(format!("ISO, {order}"))
        }
        _ => Ok(v.to_string()),
    }
}

fn in_range(p: &Param, n: f64, shown: &str) -> Result<()> {
    let min: Option<f64> = p.min.as_deref().and_then(|m| m.parse().ok());
    let max: Option<f64> = p.max.as_deref().and_then(|m| m.parse().ok());
    if min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m) {
        return Err(Error::sql(
            code::INVALID_PARAMETER_VALUE,
            format!(
                "{shown} is outside the valid range for parameter \"{}\" ({} .. {})",
                p.name,
                p.min.as_deref().unwrap_or(""),
                p.max.as_deref().unwrap_or("")
            ),
        ));
    }
    Ok(())
}

fn parse_bool(v: &str) -> Option<&'static str> {
    let v = v.to_lowercase();
    let prefix = |full: &str| !v.is_empty() && full.starts_with(v.as_str());
    if v == "on" || v == "1" || prefix("true") || prefix("yes") {
        Some("on")
    } else if v == "of" || v == "off" || v == "0" || prefix("false") || prefix("no") {
        (v != "o").then_some("off")
    } else {
        None
    }
}

/// Memory units in bytes, time units in microseconds, largest first (the order SHOW picks them in).
const MEMORY: &[(&str, f64)] = &[
    ("TB", 1024.0 * 1024.0 * 1024.0 * 1024.0),
    ("GB", 1024.0 * 1024.0 * 1024.0),
    ("MB", 1024.0 * 1024.0),
    ("kB", 1024.0),
    ("B", 1.0),
];
const TIME: &[(&str, f64)] = &[
    ("d", 86_400e6),
    ("h", 3_600e6),
    ("min", 60e6),
    ("s", 1e6),
    ("ms", 1e3),
    ("us", 1.0),
];

/// The size of a parameter's base unit (`8kB` is 8192 bytes), and the table of units it converts with.
fn base(unit: &str) -> Option<(f64, &'static [(&'static str, f64)])> {
    Some(match unit {
        "8kB" => (8192.0, MEMORY),
        "kB" => (1024.0, MEMORY),
        "MB" => (1024.0 * 1024.0, MEMORY),
        "B" => (1.0, MEMORY),
        "ms" => (1e3, TIME),
        "s" => (1e6, TIME),
        "min" => (60e6, TIME),
        _ => return None,
    })
}

/// An integer setting, with an optional unit suffix, in the parameter's base unit (rounded, as PostgreSQL).
fn parse_int(v: &str, unit: Option<&str>) -> Option<i64> {
    let split = v
        .find(|c: char| !(c.is_ascii_digit() || c == '-' || c == '+' || c == '.'))
        .unwrap_or(v.len());
    let (num, suffix) = v.split_at(split);
    let suffix = suffix.trim();
    if suffix.is_empty() {
        if let Ok(n) = num.parse::<i64>() {
            return i32::try_from(n).ok().map(i64::from);
        }
        let f: f64 = num.parse().ok()?;
        return Some(f.round() as i64);
    }
    let (size, table) = base(unit?)?;
    let (_, mult) = table.iter().find(|(u, _)| *u == suffix)?;
    let f: f64 = num.parse().ok()?;
    let n = (f * mult / size).round();
    (n.abs() <= i32::MAX as f64).then_some(n as i64)
}

/// How SHOW prints a raw value of `p`: integers with a unit in the largest unit that divides them exactly.
pub fn show(p: &Param, raw: &str) -> String {
    let (Some(unit), "integer") = (p.unit.as_deref(), p.vartype.as_str()) else {
        return raw.to_string();
    };
    let (Ok(n), Some((size, table))) = (raw.parse::<i64>(), base(unit)) else {
        return raw.to_string();
    };
    if n <= 0 {
        return raw.to_string();
    }
    let total = n as f64 * size;
    for (name, mult) in table {
        // Never show in a unit smaller than the base (PostgreSQL shows `8kB` blocks in kB at the least).
        if *mult < size && !(size == 8192.0 && *mult == 1024.0) {
            continue;
        }
        if total % mult == 0.0 {
            return format!("{}{}", (total / mult) as i64, name);
        }
    }
    raw.to_string()
}
