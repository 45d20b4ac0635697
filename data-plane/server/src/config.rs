//! Server configuration: a TOML file, then `OMENDB_*` environment variables, then command-line flags (the
//! binary applies those last). Users carry SCRAM verifiers only; a plaintext password is refused.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::scram::Verifier;

/// How much `/metrics` exposes, by tier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Monitoring {
    /// `/metrics` answers 404.
    None,
    /// Server-wide counters and histograms.
    #[default]
    Metrics,
    /// Also per-table learned-index health.
    Full,
}

impl std::str::FromStr for Monitoring {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "none" => Ok(Monitoring::None),
            "metrics" => Ok(Monitoring::Metrics),
            "full" => Ok(Monitoring::Full),
            _ => Err(Error::Config(format!(
                "monitoring must be none, metrics or full, not {s:?}"
            ))),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Listen {
    pub pg: SocketAddr,
    pub http: SocketAddr,
}

impl Default for Listen {
    fn default() -> Self {
        Listen {
            pg: "127.0.0.1:5432".parse().expect("literal address"),
            http: "127.0.0.1:8080".parse().expect("literal address"),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    pub name: String,
    /// `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`, as `omendb passwd` prints it.
    pub scram: SecretString,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// Refuse sessions that did not start TLS (FATAL 28000), as `hostssl`-only pg_hba.conf does: with
    /// TLS configured, every query and row would otherwise cross the network in clear whenever a client
    /// asks for no encryption. On unless `require = false` (env `OMENDB_TLS_REQUIRE=false`, flag
    /// `--tls-allow-plaintext`). Cancel requests, which carry no data, are accepted either way.
    #[serde(default = "yes")]
    pub require: bool,
}

fn yes() -> bool {
    true
}

impl Tls {
    /// TLS with `cert` and `key`, required.
    pub fn new(cert: PathBuf, key: PathBuf) -> Tls {
        Tls {
            cert,
            key,
            require: true,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Tier {
    pub auto_retrain: bool,
    pub monitoring: Monitoring,
}

impl Default for Tier {
    fn default() -> Self {
        Tier {
            auto_retrain: true,
            monitoring: Monitoring::Metrics,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    pub max_connections: usize,
    /// 0 = no timeout (PostgreSQL's default); sessions may still `SET statement_timeout`.
    pub statement_timeout_ms: u64,
    /// Memory a query may use for sorts, joins and aggregates before they spill to disk, in MiB; 0 = a
    /// quarter of `memory_mb`.
    pub max_query_memory_mb: usize,
    /// The memory the server may use in all, in MiB (the plan's, or the pod's limit); 0 = the cgroup's
    /// limit, or the machine's memory.
    pub memory_mb: usize,
    /// The chunk cache: MiB of table pages kept in memory; 0 = a quarter of `memory_mb`.
    pub cache_size_mb: usize,
    /// Async worker threads; 0 = one per core. On a machine shared with busy clients one fewer can cut tail
    /// latency of tiny queries at the cost of throughput of bigger ones (figures in docs/benchmarks.md).
    pub worker_threads: usize,
    /// One OS thread per client connection (the default) instead of multiplexing connections on the
    /// workers; query execution stays on the workers either way (why: `runtime.rs`).
    pub connection_threads: bool,
}

impl Limits {
    /// `memory_mb`, or what the process may use: its cgroup's limit, else the machine's memory.
    pub fn memory_mb(&self) -> usize {
        if self.memory_mb > 0 {
            return self.memory_mb;
        }
        let cgroup = std::fs::read_to_string("/sys/fs/cgroup/memory.max")
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok());
        let total = std::fs::read_to_string("/proc/meminfo").ok().and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("MemTotal:"))?;
            line.split_whitespace()
                .nth(1)?
                .parse::<u64>()
                .ok()
                .map(|kb| kb * 1024)
        });
        let bytes = match (cgroup, total) {
            (Some(c), Some(t)) => c.min(t),
            (c, t) => c.or(t).unwrap_or(1 << 30),
        };
        (bytes >> 20).max(64) as usize
    }

    /// The chunk cache's budget in MiB.
    pub fn cache_size_mb(&self) -> usize {
        match self.cache_size_mb {
            0 => (self.memory_mb() / 4).max(16),
            n => n,
        }
    }

    /// The query memory limit in MiB (past it, operators spill; what cannot spill fails with 53200).
    pub fn max_query_memory_mb(&self) -> usize {
        match self.max_query_memory_mb {
            0 => (self.memory_mb() / 4).max(16),
            n => n,
        }
    }

    pub fn worker_threads(&self) -> usize {
        if self.worker_threads > 0 {
            return self.worker_threads;
        }
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 100,
            statement_timeout_ms: 0,
            max_query_memory_mb: 0,
            memory_mb: 0,
            cache_size_mb: 0,
            worker_threads: 0,
            connection_threads: true,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub data_dir: PathBuf,
    /// The one database this server serves; other names in a connection's startup are refused.
    pub database: String,
    pub listen: Listen,
    pub users: Vec<User>,
    pub tls: Option<Tls>,
    pub tier: Tier,
    pub limits: Limits,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("./omendb-data"),
            database: "omendb".into(),
            listen: Listen::default(),
            users: Vec::new(),
            tls: None,
            tier: Tier::default(),
            limits: Limits::default(),
        }
    }
}

impl Config {
    /// A server on 127.0.0.1 with ports picked by the OS, one password user: for tests and for a control
    /// plane that starts servers on one machine.
    pub fn local(data_dir: &std::path::Path, database: &str, user: &str, password: &str) -> Config {
        let mut c = Config {
            data_dir: data_dir.to_path_buf(),
            database: database.into(),
            ..Config::default()
        };
        c.listen.pg = (std::net::Ipv4Addr::LOCALHOST, 0).into();
        c.listen.http = (std::net::Ipv4Addr::LOCALHOST, 0).into();
        c.users = vec![User {
            name: user.into(),
            scram: Verifier::new(password, 4096).to_string().into(),
        }];
        c
    }

    pub fn from_toml(text: &str) -> Result<Config> {
        toml::from_str(text).map_err(|e| Error::Config(e.to_string()))
    }

    pub fn load(path: &std::path::Path) -> Result<Config> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Config(format!("cannot read {}: {e}", path.display())))?;
        Self::from_toml(&text)
    }

    /// Applies `OMENDB_*` variables from `vars` (the process environment in the binary).
    pub fn apply_env(&mut self, vars: impl IntoIterator<Item = (String, String)>) -> Result<()> {
        let vars: BTreeMap<String, String> = vars
            .into_iter()
            .filter(|(k, _)| k.starts_with("OMENDB_"))
            .collect();
        let parse = |k: &str, v: &str| Error::Config(format!("{k}={v:?} is not valid"));
        for (k, v) in &vars {
            match k.as_str() {
                "OMENDB_DATA_DIR" => self.data_dir = v.into(),
                "OMENDB_DATABASE" => self.database = v.clone(),
                "OMENDB_PG_LISTEN" => self.listen.pg = v.parse().map_err(|_| parse(k, v))?,
                "OMENDB_HTTP_LISTEN" => self.listen.http = v.parse().map_err(|_| parse(k, v))?,
                "OMENDB_MAX_CONNECTIONS" => {
                    self.limits.max_connections = v.parse().map_err(|_| parse(k, v))?
                }
                "OMENDB_STATEMENT_TIMEOUT_MS" => {
                    self.limits.statement_timeout_ms = v.parse().map_err(|_| parse(k, v))?
                }
                "OMENDB_WORKER_THREADS" => {
                    self.limits.worker_threads = v.parse().map_err(|_| parse(k, v))?
                }
                "OMENDB_CONNECTION_THREADS" => {
                    self.limits.connection_threads = v.parse().map_err(|_| parse(k, v))?
                }
                "OMENDB_MAX_QUERY_MEMORY_MB" => {
                    self.limits.max_query_memory_mb = v.parse().map_err(|_| parse(k, v))?
                }
                "OMENDB_MEMORY_MB" => self.limits.memory_mb = v.parse().map_err(|_| parse(k, v))?,
                "OMENDB_CACHE_SIZE_MB" => {
                    self.limits.cache_size_mb = v.parse().map_err(|_| parse(k, v))?
                }
                "OMENDB_AUTO_RETRAIN" => {
                    self.tier.auto_retrain = v.parse().map_err(|_| parse(k, v))?
                }
                "OMENDB_MONITORING" => self.tier.monitoring = v.parse()?,
                "OMENDB_TLS_CERT" | "OMENDB_TLS_KEY" | "OMENDB_TLS_REQUIRE" => {}
                // `name:verifier`: how the control plane hands a tenant's owner to the process.
                "OMENDB_USER" => {
                    let (name, scram) = v.split_once(':').ok_or_else(|| parse(k, "<redacted>"))?;
                    self.users.retain(|u| u.name != name);
                    self.users.push(User {
                        name: name.into(),
                        scram: scram.into(),
                    });
                }
                _ => {}
            }
        }
        if let (Some(cert), Some(key)) = (vars.get("OMENDB_TLS_CERT"), vars.get("OMENDB_TLS_KEY")) {
            self.tls = Some(Tls::new(cert.into(), key.into()));
        }
        if let Some(v) = vars.get("OMENDB_TLS_REQUIRE")
            && let Some(tls) = &mut self.tls
        {
            tls.require = v.parse().map_err(|_| parse("OMENDB_TLS_REQUIRE", v))?;
        }
        Ok(())
    }

    /// Checks everything that can be checked before binding sockets.
    pub fn validate(&self) -> Result<()> {
        if self.users.is_empty() {
            return Err(Error::Config(
                "no users: add [[users]] with a SCRAM verifier (omendb passwd prints one) or set OMENDB_USER".into(),
            ));
        }
        for u in &self.users {
            if u.name.is_empty() {
                return Err(Error::Config("a user has an empty name".into()));
            }
            Verifier::parse(u.scram.expose_secret())?;
        }
        if self.limits.max_connections == 0 {
            return Err(Error::Config(
                "limits.max_connections must be at least 1".into(),
            ));
        }
        if self.database.is_empty() {
            return Err(Error::Config("database name is empty".into()));
        }
        Ok(())
    }

    pub fn verifiers(&self) -> Result<BTreeMap<String, Verifier>> {
        self.users
            .iter()
            .map(|u| Ok((u.name.clone(), Verifier::parse(u.scram.expose_secret())?)))
            .collect()
    }

    pub fn statement_timeout(&self) -> Option<Duration> {
        (self.limits.statement_timeout_ms > 0)
            .then(|| Duration::from_millis(self.limits.statement_timeout_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_shows_no_verifier() {
        let v = Verifier::new("pw", 4096).to_string();
        let key = v.rsplit('$').next().unwrap().to_string();
        let mut c = Config::default();
        c.apply_env([("OMENDB_USER".to_string(), format!("owner:{v}"))])
            .unwrap();
        assert_eq!(c.verifiers().unwrap().len(), 1);
        let shown = format!("{c:?}");
        assert!(shown.contains("owner") && !shown.contains(&key), "{shown}");
    }

    #[test]
    fn toml_then_env_then_validation() {
        let v = Verifier::new("pw", 4096).to_string();
        let mut c = Config::from_toml(&format!(
            r#"
            data_dir = "/tmp/x"
            database = "app"
            [listen]
            pg = "127.0.0.1:6000"
            [[users]]
            name = "owner"
            scram = "{v}"
            [tier]
            auto_retrain = false
            monitoring = "full"
            [limits]
            max_connections = 7
            "#
        ))
        .unwrap();
        assert_eq!(c.limits.max_connections, 7);
        assert_eq!(c.tier.monitoring, Monitoring::Full);
        assert_eq!(c.listen.http.port(), 8080);
        c.apply_env([
            ("OMENDB_MAX_CONNECTIONS".to_string(), "9".to_string()),
            ("OMENDB_MONITORING".to_string(), "none".to_string()),
            ("PATH".to_string(), "/bin".to_string()),
        ])
        .unwrap();
        assert_eq!(c.limits.max_connections, 9);
        assert_eq!(c.tier.monitoring, Monitoring::None);
        c.validate().unwrap();
    }

    #[test]
    fn plaintext_passwords_and_unknown_keys_are_refused() {
        let c = Config::from_toml("[[users]]\nname = \"a\"\nscram = \"hunter2\"\n").unwrap();
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("SCRAM-SHA-256")
        );
        assert!(Config::from_toml("pasword = 1").is_err());
        let mut c = Config::default();
        assert!(
            c.apply_env([("OMENDB_MONITORING".into(), "loud".into())])
                .is_err()
        );
        assert!(c.validate().unwrap_err().to_string().contains("no users"));
    }
}
