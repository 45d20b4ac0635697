//! SET / SHOW / RESET: the run-time parameters clients and drivers touch.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::error::{Error, Result, code};

/// Parameters a session starts with (name in lower case, value as SHOW prints it).
const DEFAULTS: &[(&str, &str)] = &[
    ("application_name", ""),
    ("client_encoding", "UTF8"),
    ("client_min_messages", "notice"),
    ("datestyle", "ISO, MDY"),
    ("default_transaction_isolation", "read committed"),
    ("default_transaction_read_only", "off"),
    ("extra_float_digits", "1"),
    ("integer_datetimes", "on"),
    ("intervalstyle", "postgres"),
    ("is_superuser", "off"),
    ("lc_messages", "C"),
    // Off: primary-key filters are not answered through the learned index (full scans), and the fast path
    // is skipped. For measuring what the index buys.
    ("omendb.learned_index", "on"),
    ("search_path", "public"),
    ("server_encoding", "UTF8"),
    ("server_version", crate::SERVER_VERSION),
    ("server_version_num", "150000"),
    ("standard_conforming_strings", "on"),
    ("statement_timeout", "0"),
    ("timezone", "UTC"),
    ("transaction_isolation", "read committed"),
    ("transaction_read_only", "off"),
    ("idle_in_transaction_session_timeout", "0"),
    ("lock_timeout", "0"),
    ("deadlock_timeout", "1s"),
    ("row_security", "on"),
    ("synchronous_commit", "on"),
];

/// Parameters a client may not change.
const READ_ONLY: &[&str] = &[
    "server_version",
    "server_version_num",
    "server_encoding",
    "integer_datetimes",
    "is_superuser",
    "lc_messages",
];

#[derive(Clone, Debug)]
pub struct Settings {
    values: BTreeMap<String, String>,
    defaults: BTreeMap<String, String>,
}

impl Settings {
    pub fn new(statement_timeout_ms: u64) -> Settings {
        let mut defaults: BTreeMap<String, String> = DEFAULTS
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        defaults.insert("statement_timeout".into(), show_ms(statement_timeout_ms));
        Settings {
            values: defaults.clone(),
            defaults,
        }
    }

    fn canonical(name: &str) -> String {
        match name.to_lowercase().as_str() {
            "time zone" | "time_zone" => "timezone".into(),
            "transaction isolation level" => "transaction_isolation".into(),
            "names" => "client_encoding".into(),
            other => other.to_string(),
        }
    }

    pub fn get(&self, name: &str) -> Result<&str> {
        let key = Self::canonical(name);
        self.values.get(&key).map(String::as_str).ok_or_else(|| {
            Error::sql(
                code::UNDEFINED_OBJECT,
                format!("unrecognized configuration parameter \"{name}\""),
            )
        })
    }

    pub fn set(&mut self, name: &str, value: &str) -> Result<()> {
        let key = Self::canonical(name);
        if READ_ONLY.contains(&key.as_str()) {
            return Err(Error::sql(
                "55P02",
                format!("parameter \"{key}\" cannot be changed"),
            ));
        }
        // Custom "extension.name" parameters are allowed, as in PostgreSQL.
        if !self.defaults.contains_key(&key) && !key.contains('.') {
            return Err(Error::sql(
                code::UNDEFINED_OBJECT,
                format!("unrecognized configuration parameter \"{name}\""),
            ));
        }
        let value = match key.as_str() {
            "statement_timeout"
            | "lock_timeout"
            | "idle_in_transaction_session_timeout"
            | "deadlock_timeout" => show_ms(parse_duration_ms(&key, value)?),
            "default_transaction_isolation" | "transaction_isolation" => {
                omendb_storage::Isolation::parse(value)
                    .ok_or_else(|| {
                        Error::sql(
                            code::INVALID_PARAMETER_VALUE,
                            format!("invalid value for parameter \"{key}\": \"{value}\""),
                        )
                    })?
                    .name()
                    .to_string()
            }
            "default_transaction_read_only" | "transaction_read_only" => {
                show_bool(&key, value)?.to_string()
            }
            "client_encoding" => {
                let v = value.to_uppercase().replace('-', "");
                if v != "UTF8" && v != "UNICODE" {
                    return Err(Error::sql(
                        "22023",
                        format!("encoding \"{value}\" is not supported: OmenDB speaks UTF8 only"),
                    ));
                }
                "UTF8".to_string()
            }
            "timezone" => {
                let v = value.to_uppercase();
                if !matches!(
                    v.as_str(),
                    "UTC" | "ETC/UTC" | "GMT" | "Z" | "0" | "+00" | "+00:00"
                ) {
                    return Err(Error::sql(
                        code::INVALID_PARAMETER_VALUE,
                        format!("time zone \"{value}\" is not supported: sessions run in UTC"),
                    ));
                }
                "UTC".to_string()
            }
            "omendb.learned_index" => show_bool(&key, value)?.to_string(),
            _ => value.to_string(),
        };
        self.values.insert(key, value);
        Ok(())
    }

    pub fn reset_all(&mut self) {
        self.values = self.defaults.clone();
    }

    pub fn reset(&mut self, name: &str) {
        let key = Self::canonical(name);
        match self.defaults.get(&key) {
            Some(v) => {
                self.values.insert(key, v.clone());
            }
            None => {
                self.values.remove(&key);
            }
        }
    }

    pub fn learned_index(&self) -> bool {
        self.values.get("omendb.learned_index").map(String::as_str) != Some("off")
    }

    pub fn statement_timeout(&self) -> Option<Duration> {
        self.duration("statement_timeout")
    }

    /// How long a statement waits for one lock before 55P03 (`None`: forever).
    pub fn lock_timeout(&self) -> Option<Duration> {
        self.duration("lock_timeout")
    }

    /// How long a lock wait lasts before the deadlock check.
    pub fn deadlock_timeout(&self) -> Duration {
        self.duration("deadlock_timeout")
            .unwrap_or(Duration::from_secs(1))
    }

    /// How long a session may sit idle inside a transaction block before it is ended (`None`: forever).
    pub fn idle_in_transaction_timeout(&self) -> Option<Duration> {
        self.duration("idle_in_transaction_session_timeout")
    }

    pub fn default_isolation(&self) -> omendb_storage::Isolation {
        self.values
            .get("default_transaction_isolation")
            .and_then(|v| omendb_storage::Isolation::parse(v))
            .unwrap_or_default()
    }

    pub fn default_read_only(&self) -> bool {
        self.values
            .get("default_transaction_read_only")
            .map(String::as_str)
            == Some("on")
    }

    fn duration(&self, key: &str) -> Option<Duration> {
        let ms = parse_duration_ms(key, self.values.get(key)?).ok()?;
        (ms > 0).then(|| Duration::from_millis(ms))
    }
}

/// A Boolean setting as SHOW prints it.
fn show_bool(key: &str, value: &str) -> Result<&'static str> {
    match value.trim().to_lowercase().as_str() {
        "on" | "true" | "yes" | "1" | "t" | "y" => Ok("on"),
        "off" | "false" | "no" | "0" | "f" | "n" => Ok("off"),
        _ => Err(Error::sql(
            code::INVALID_PARAMETER_VALUE,
            format!("parameter \"{key}\" requires a Boolean value"),
        )),
    }
}

/// How PostgreSQL shows a duration setting: `0`, `250ms`, `5s`, `2min`.
fn show_ms(ms: u64) -> String {
    match ms {
        0 => "0".into(),
        m if m % 60_000 == 0 => format!("{}min", m / 60_000),
        m if m % 1000 == 0 => format!("{}s", m / 1000),
        m => format!("{m}ms"),
    }
}

/// `100`, `'100ms'`, `'5s'`, `'2min'`, `'1h'` in milliseconds.
fn parse_duration_ms(key: &str, v: &str) -> Result<u64> {
    let v = v.trim();
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (num, unit) = v.split_at(split);
    let bad = || {
        Error::sql(
            code::INVALID_PARAMETER_VALUE,
            format!("invalid value for parameter \"{key}\": \"{v}\""),
        )
    };
    let n: u64 = num.parse().map_err(|_| bad())?;
    let scale = match unit.trim() {
        "" | "ms" => 1,
        "s" => 1000,
        "min" => 60_000,
        "h" => 3_600_000,
        _ => return Err(bad()),
    };
    Ok(n * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_show_reset() {
        let mut s = Settings::new(0);
        assert_eq!(s.get("TimeZone").unwrap(), "UTC");
        s.set("statement_timeout", "5s").unwrap();
        assert_eq!(s.statement_timeout(), Some(Duration::from_secs(5)));
        s.set("application_name", "psql").unwrap();
        s.reset("application_name");
        s.reset("statement_timeout");
        assert_eq!(s.get("application_name").unwrap(), "");
        assert_eq!(s.statement_timeout(), None);
        assert_eq!(s.set("no_such_thing", "1").unwrap_err().sqlstate(), "42704");
        assert_eq!(
            s.set("server_version", "1").unwrap_err().sqlstate(),
            "55P02"
        );
        assert_eq!(
            s.set("statement_timeout", "soon").unwrap_err().sqlstate(),
            "22023"
        );
        s.set("myapp.tenant", "7").unwrap();
        assert_eq!(s.get("myapp.tenant").unwrap(), "7");
    }
}
