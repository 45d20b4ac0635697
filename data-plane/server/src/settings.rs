//! SET / SHOW / RESET and `pg_settings`: PostgreSQL 15's run-time parameters, with its defaults, types, units,
//! ranges and contexts (from its own `pg_settings`, see `pg_catalog/data/README.md`), and the session's values.
//!
//! Values are kept as `pg_settings.setting` holds them (integers in the parameter's base unit); SHOW formats
//! them as PostgreSQL does (`4096` kB shows as `4MB`). SET inside a transaction block is undone by ROLLBACK,
//! and SET LOCAL lasts until the transaction ends, as in PostgreSQL.

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use parking_lot::Mutex;

use crate::error::{Error, Result, code};

mod values;

pub use values::show;
use values::{check_context, validate};

/// One parameter's definition: a row of PostgreSQL's `pg_settings`.
#[derive(Clone, Debug)]
pub struct Param {
    /// As PostgreSQL spells it (`DateStyle`, `work_mem`).
    pub name: String,
    pub boot: String,
    pub unit: Option<String>,
    pub category: String,
    pub short_desc: String,
    pub extra_desc: Option<String>,
    pub context: String,
    pub vartype: String,
    pub min: Option<String>,
    pub max: Option<String>,
    pub enumvals: Vec<String>,
}

const TSV: &str = include_str!("pg_catalog/data/pg_settings.tsv");

/// Every parameter by lower-case name.
pub static PARAMS: LazyLock<BTreeMap<String, Param>> = LazyLock::new(|| {
    let mut out = BTreeMap::new();
    for line in TSV.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        let opt = |i: usize| (f[i] != "\\N").then(|| f[i].to_string());
        let mut p = Param {
            name: f[0].to_string(),
            boot: f[1].to_string(),
            unit: opt(2),
            category: f[3].to_string(),
            short_desc: f[4].to_string(),
            extra_desc: opt(5),
            context: f[6].to_string(),
            vartype: f[7].to_string(),
            min: opt(8),
            max: opt(9),
            enumvals: opt(10)
                .map(|e| {
                    e.trim_matches(|c| c == '{' || c == '}')
                        .split(',')
                        .map(|v| v.trim_matches('"').to_string())
                        .collect()
                })
                .unwrap_or_default(),
        };
        // What this server is, not what the PostgreSQL the table came from was.
        match p.name.as_str() {
            "server_version" => p.boot = crate::SERVER_VERSION.to_string(),
            "server_version_num" => p.boot = "150000".to_string(),
            "is_superuser" => p.boot = "off".to_string(),
            _ => {}
        }
        out.insert(p.name.to_lowercase(), p);
    }
    // OmenDB's own: off answers primary-key filters with full scans and skips the fast path (to measure what
    // the learned index buys).
    out.insert(
        "omendb.learned_index".into(),
        Param {
            name: "omendb.learned_index".into(),
            boot: "on".into(),
            unit: None,
            category: "Customized Options".into(),
            short_desc: "Answers primary-key filters through the learned index.".into(),
            extra_desc: None,
            context: "user".into(),
            vartype: "bool".into(),
            min: None,
            max: None,
            enumvals: vec![],
        },
    );
    out
});

/// Parameters whose changes PostgreSQL reports to the client (ParameterStatus).
pub const REPORTED: &[&str] = &[
    "application_name",
    "client_encoding",
    "DateStyle",
    "default_transaction_read_only",
    "in_hot_standby",
    "integer_datetimes",
    "IntervalStyle",
    "is_superuser",
    "server_encoding",
    "server_version",
    "session_authorization",
    "standard_conforming_strings",
    "TimeZone",
];

#[derive(Clone, Debug, Default)]
struct State {
    values: BTreeMap<String, String>,
    defaults: BTreeMap<String, String>,
    /// Values before the open transaction's first SET (restored by ROLLBACK).
    before_txn: Option<BTreeMap<String, String>>,
    /// Values before SET LOCAL (restored when the transaction ends).
    before_local: BTreeMap<String, String>,
    in_txn: bool,
    /// Reported parameters changed since the last `take_reports`.
    reports: Vec<String>,
    /// The values every statement reads, parsed (`None` after any change, until next read).
    hot: Option<Hot>,
}

/// Settings read on every statement or transaction, parsed once per change rather than looked up by name
/// and parsed each time (that was 2% of a TPC-B transaction's CPU).
#[derive(Clone, Copy, Debug)]
struct Hot {
    statement_timeout: Option<Duration>,
    lock_timeout: Option<Duration>,
    deadlock_timeout: Duration,
    idle_in_transaction_timeout: Option<Duration>,
    learned_index: bool,
    default_isolation: omendb_storage::Isolation,
    default_read_only: bool,
    plan_key: u64,
}

/// The session's parameters. Cheap to clone: clones share the values, so functions such as
/// `current_setting()` and `set_config()` see and change the session's own.
#[derive(Clone, Debug)]
pub struct Settings {
    state: Arc<Mutex<State>>,
}

/// Whether `name` is a run-time parameter.
pub fn is_setting(name: &str) -> bool {
    PARAMS.contains_key(&canonical(name))
}

/// A parameter's name as PostgreSQL spells it (SHOW's column: `TimeZone`, `transaction_isolation`).
pub fn spelled(name: &str) -> String {
    let key = canonical(name);
    match PARAMS.get(&key) {
        Some(p) => p.name.clone(),
        None => key,
    }
}

fn canonical(name: &str) -> String {
    match name.trim().to_lowercase().as_str() {
        "time zone" | "time_zone" => "timezone".into(),
        "transaction isolation level" => "transaction_isolation".into(),
        "names" => "client_encoding".into(),
        "session authorization" => "session_authorization".into(),
        other => other.to_string(),
    }
}

fn unrecognized(name: &str) -> Error {
    Error::sql(
        code::UNDEFINED_OBJECT,
        format!("unrecognized configuration parameter \"{name}\""),
    )
}

impl Settings {
    pub fn new(statement_timeout_ms: u64) -> Settings {
        let mut defaults: BTreeMap<String, String> = PARAMS
            .iter()
            .map(|(k, p)| (k.clone(), p.boot.clone()))
            .collect();
        // This server's own defaults where they differ from PostgreSQL's boot values.
        for (k, v) in [
            ("statement_timeout", statement_timeout_ms.to_string()),
            ("search_path", "\"$user\", public".into()),
            ("timezone", "UTC".into()),
            ("log_timezone", "UTC".into()),
            ("datestyle", "ISO, MDY".into()),
            ("client_encoding", "UTF8".into()),
            ("server_encoding", "UTF8".into()),
            ("lc_messages", "C".into()),
            ("application_name", String::new()),
        ] {
            defaults.insert(k.to_string(), v);
        }
        Settings {
            state: Arc::new(Mutex::new(State {
                values: defaults.clone(),
                defaults,
                ..State::default()
            })),
        }
    }

    /// The value as SHOW prints it.
    pub fn get(&self, name: &str) -> Result<String> {
        let key = canonical(name);
        let s = self.state.lock();
        let raw = s.values.get(&key).ok_or_else(|| unrecognized(name))?;
        Ok(match PARAMS.get(&key) {
            Some(p) => show(p, raw),
            None => raw.clone(),
        })
    }

    /// The raw value (`pg_settings.setting`), if the parameter exists.
    pub fn raw(&self, name: &str) -> Option<String> {
        self.state.lock().values.get(&canonical(name)).cloned()
    }

    /// SET name = value (`local`: SET LOCAL, until the transaction ends).
    pub fn set(&self, name: &str, value: &str) -> Result<()> {
        self.set_scoped(name, value, false)
    }

    pub fn set_scoped(&self, name: &str, value: &str, local: bool) -> Result<()> {
        let key = canonical(name);
        let value = match PARAMS.get(&key) {
            Some(p) => {
                check_context(p)?;
                validate(p, value)?
            }
            // Custom "extension.name" parameters are allowed, as in PostgreSQL.
            None if key.contains('.') => value.to_string(),
            None => return Err(unrecognized(name)),
        };
        let mut s = self.state.lock();
        s.assign(key, value, local);
        Ok(())
    }

    pub fn reset_all(&self) {
        let mut s = self.state.lock();
        s.hot = None;
        let defaults = s.defaults.clone();
        for (k, v) in defaults {
            let p = PARAMS.get(&k);
            // RESET ALL leaves what cannot be set alone.
            if p.is_some_and(|p| p.context != "user" && p.context != "superuser") {
                continue;
            }
            if s.values.get(&k) != Some(&v) {
                s.assign(k, v, false);
            }
        }
        let custom: Vec<String> = s
            .values
            .keys()
            .filter(|k| !PARAMS.contains_key(*k))
            .cloned()
            .collect();
        for k in custom {
            s.values.remove(&k);
        }
    }

    pub fn reset(&self, name: &str) -> Result<()> {
        let key = canonical(name);
        if let Some(p) = PARAMS.get(&key) {
            check_context(p)?;
        }
        let mut s = self.state.lock();
        match s.defaults.get(&key).cloned() {
            Some(v) => s.assign(key, v, false),
            None if key.contains('.') => {
                s.values.remove(&key);
                s.hot = None;
            }
            None => return Err(unrecognized(name)),
        }
        Ok(())
    }

    /// A transaction block begins: SETs from here on are undone by ROLLBACK.
    pub fn txn_begin(&self) {
        let mut s = self.state.lock();
        s.in_txn = true;
        s.before_txn = None;
        s.before_local.clear();
    }

    /// The transaction block ended: ROLLBACK undoes its SETs, and SET LOCAL values go either way.
    pub fn txn_end(&self, committed: bool) {
        let mut s = self.state.lock();
        s.in_txn = false;
        let mut restore: Vec<(String, String)> =
            std::mem::take(&mut s.before_local).into_iter().collect();
        if let Some(before) = s.before_txn.take()
            && !committed
        {
            restore = before
                .into_iter()
                .filter(|(k, v)| s.values.get(k) != Some(v))
                .collect();
            let gone: Vec<String> = s
                .values
                .keys()
                .filter(|k| !restore.iter().any(|(r, _)| r == *k))
                .filter(|k| !s.defaults.contains_key(*k) && !PARAMS.contains_key(*k))
                .cloned()
                .collect();
            for k in gone {
                s.values.remove(&k);
                s.hot = None;
            }
        }
        for (k, v) in restore {
            s.hot = None;
            if s.values.get(&k) != Some(&v) {
                note_report(&mut s, &k);
                s.values.insert(k, v);
            }
        }
    }

    /// Reported parameters (PostgreSQL's spelling) whose value changed since the last call, with the value.
    pub fn take_reports(&self) -> Vec<(String, String)> {
        let keys = std::mem::take(&mut self.state.lock().reports);
        keys.into_iter()
            .filter_map(|k| {
                let name = REPORTED.iter().find(|r| r.eq_ignore_ascii_case(&k))?;
                Some((name.to_string(), self.get(&k).ok()?))
            })
            .collect()
    }

    /// Every parameter: definition and raw value, by lower-case name (SHOW ALL, pg_settings).
    pub fn all(&self) -> Vec<(&'static Param, String)> {
        let s = self.state.lock();
        PARAMS
            .iter()
            .filter_map(|(k, p)| Some((p, s.values.get(k)?.clone())))
            .collect()
    }

    fn hot(&self) -> Hot {
        let mut s = self.state.lock();
        if let Some(h) = s.hot {
            return h;
        }
        let raw = |k: &str| s.values.get(k).map(String::as_str);
        // A millisecond parameter (all the timeouts are): `None` when 0 (off).
        let duration = |k: &str| {
            let ms: u64 = raw(k)?.parse().ok()?;
            (ms > 0).then(|| Duration::from_millis(ms))
        };
        let h = Hot {
            statement_timeout: duration("statement_timeout"),
            lock_timeout: duration("lock_timeout"),
            deadlock_timeout: duration("deadlock_timeout").unwrap_or(Duration::from_secs(1)),
            idle_in_transaction_timeout: duration("idle_in_transaction_session_timeout"),
            learned_index: raw("omendb.learned_index") != Some("off"),
            default_isolation: raw("default_transaction_isolation")
                .and_then(omendb_storage::Isolation::parse)
                .unwrap_or_default(),
            default_read_only: raw("default_transaction_read_only") == Some("on"),
            plan_key: {
                use std::hash::{Hash, Hasher};
                let mut h = std::collections::hash_map::DefaultHasher::new();
                for k in PLANNED_UNDER {
                    raw(k).hash(&mut h);
                }
                h.finish()
            },
        };
        s.hot = Some(h);
        h
    }

    pub fn learned_index(&self) -> bool {
        self.hot().learned_index
    }

    pub fn statement_timeout(&self) -> Option<Duration> {
        self.hot().statement_timeout
    }

    /// How long a statement waits for one lock before 55P03 (`None`: forever).
    pub fn lock_timeout(&self) -> Option<Duration> {
        self.hot().lock_timeout
    }

    /// How long a lock wait lasts before the deadlock check.
    pub fn deadlock_timeout(&self) -> Duration {
        self.hot().deadlock_timeout
    }

    /// How long a session may sit idle inside a transaction block before it is ended (`None`: forever).
    pub fn idle_in_transaction_timeout(&self) -> Option<Duration> {
        self.hot().idle_in_transaction_timeout
    }

    pub fn default_isolation(&self) -> omendb_storage::Isolation {
        self.hot().default_isolation
    }

    pub fn default_read_only(&self) -> bool {
        self.hot().default_read_only
    }

    /// The values of the parameters a plan depends on ([`PLANNED_UNDER`]), as one number: a prepared
    /// statement planned under other values is planned again before it runs, as PostgreSQL does.
    pub fn plan_key(&self) -> u64 {
        self.hot().plan_key
    }
}

/// The parameters a plan depends on: which table a name means, the zone timestamptz values are cast in,
/// and whether the learned index is used.
const PLANNED_UNDER: [&str; 3] = ["search_path", "timezone", "omendb.learned_index"];

impl State {
    fn assign(&mut self, key: String, value: String, local: bool) {
        self.hot = None;
        if self.in_txn {
            if self.before_txn.is_none() {
                self.before_txn = Some(self.values.clone());
            }
            if local && !self.before_local.contains_key(&key) {
                let old = self.values.get(&key).cloned().unwrap_or_default();
                self.before_local.insert(key.clone(), old);
            }
        }
        // SET LOCAL outside a transaction block does nothing (PostgreSQL warns).
        if local && !self.in_txn {
            return;
        }
        if self.values.get(&key) != Some(&value) {
            note_report(self, &key);
        }
        self.values.insert(key, value);
    }
}

fn note_report(s: &mut State, key: &str) {
    if REPORTED.iter().any(|r| r.eq_ignore_ascii_case(key)) && !s.reports.iter().any(|r| r == key) {
        s.reports.push(key.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_show_reset() {
        let s = Settings::new(0);
        assert_eq!(s.get("TimeZone").unwrap(), "UTC");
        s.set("statement_timeout", "5s").unwrap();
        assert_eq!(s.statement_timeout(), Some(Duration::from_secs(5)));
        assert_eq!(s.get("statement_timeout").unwrap(), "5s");
        s.set("application_name", "psql").unwrap();
        s.reset("application_name").unwrap();
        s.reset("statement_timeout").unwrap();
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

    #[test]
    fn units_parse_and_show_like_postgres() {
        let s = Settings::new(0);
        assert_eq!(s.get("work_mem").unwrap(), "4MB");
        s.set("work_mem", "64MB").unwrap();
        assert_eq!(s.raw("work_mem").unwrap(), "65536");
        assert_eq!(s.get("work_mem").unwrap(), "64MB");
        s.set("work_mem", "100000").unwrap();
        assert_eq!(s.get("work_mem").unwrap(), "100000kB");
        s.set("work_mem", "1 GB").unwrap();
        assert_eq!(s.get("work_mem").unwrap(), "1GB");
        assert_eq!(s.set("work_mem", "lots").unwrap_err().sqlstate(), "22023");
        assert_eq!(s.set("work_mem", "1").unwrap_err().sqlstate(), "22023");
        assert_eq!(s.get("shared_buffers").unwrap(), "128MB");
        s.set("lock_timeout", "90s").unwrap();
        assert_eq!(s.get("lock_timeout").unwrap(), "90s");
        s.set("lock_timeout", "120000").unwrap();
        assert_eq!(s.get("lock_timeout").unwrap(), "2min");
        s.set("client_min_messages", "WARNING").unwrap();
        assert_eq!(s.get("client_min_messages").unwrap(), "warning");
        assert_eq!(
            s.set("client_min_messages", "loud").unwrap_err().sqlstate(),
            "22023"
        );
        s.set("enable_seqscan", "of").unwrap();
        assert_eq!(s.get("enable_seqscan").unwrap(), "off");
        assert_eq!(
            s.set("shared_buffers", "1GB").unwrap_err().sqlstate(),
            "55P02"
        );
        assert_eq!(
            s.set("log_statement", "all").unwrap_err().sqlstate(),
            "42501"
        );
    }

    #[test]
    fn rollback_undoes_set_and_local_ends_with_the_transaction() {
        let s = Settings::new(0);
        s.txn_begin();
        s.set("work_mem", "8MB").unwrap();
        s.set_scoped("lock_timeout", "1s", true).unwrap();
        assert_eq!(s.get("lock_timeout").unwrap(), "1s");
        s.txn_end(false);
        assert_eq!(s.get("work_mem").unwrap(), "4MB");
        assert_eq!(s.get("lock_timeout").unwrap(), "0");
        s.txn_begin();
        s.set("work_mem", "8MB").unwrap();
        s.set_scoped("lock_timeout", "1s", true).unwrap();
        s.txn_end(true);
        assert_eq!(s.get("work_mem").unwrap(), "8MB");
        assert_eq!(s.get("lock_timeout").unwrap(), "0");
        s.set("application_name", "app").unwrap();
        assert_eq!(
            s.take_reports(),
            vec![("application_name".to_string(), "app".to_string())]
        );
        assert!(s.take_reports().is_empty());
    }
}
