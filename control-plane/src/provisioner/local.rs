//! The local provisioner: each tenant database is an `omendb server` child process with its own data
//! directory under `<data_dir>/tenants/<id>`, its own port, and a config file rendered from its plan. A
//! supervisor task per tenant restarts a server that dies (exponential back-off, reset after a minute of
//! health) and reports it to the fleet. Readiness is the server's own `/ready`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde::Serialize;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{Mutex, watch};
use tokio::task::JoinHandle;

use super::{Activity, Endpoint, Health, HealthEvents, Provisioner, TenantSpec};
use crate::error::{Error, Result};
use crate::tls::LocalTls;

/// How long a server may take from spawn to `/ready` before the start counts as failed.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a server gets to exit after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(10);
const BACKOFF_MIN: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// A server up this long has its back-off reset: the next crash is treated as a first one.
const HEALTHY_RESET: Duration = Duration::from_secs(60);

#[derive(Clone, Debug)]
enum Status {
    Starting,
    Ready { http: SocketAddr },
    Failed(String),
}

struct Proc {
    /// The rendered server config: the same text means the running server is already right.
    config: String,
    stop: watch::Sender<bool>,
    status: watch::Receiver<Status>,
    task: JoinHandle<()>,
}

impl Proc {
    async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

pub struct LocalProvisioner {
    root: PathBuf,
    binary: PathBuf,
    host: String,
    tls: LocalTls,
    events: HealthEvents,
    procs: Mutex<HashMap<String, Proc>>,
}

impl std::fmt::Debug for LocalProvisioner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalProvisioner")
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

impl LocalProvisioner {
    /// `data_dir` holds `tenants/` and the self-signed TLS certificate every local tenant serves.
    pub fn new(
        data_dir: &Path,
        binary: PathBuf,
        host: String,
        events: HealthEvents,
    ) -> Result<LocalProvisioner> {
        let root = data_dir.join("tenants");
        std::fs::create_dir_all(&root)?;
        let root = root.canonicalize()?;
        let tls = crate::tls::local_certificate(&data_dir.join("tls"), &host)?;
        Ok(LocalProvisioner {
            root,
            binary,
            host,
            tls,
            events,
            procs: Mutex::new(HashMap::new()),
        })
    }

    /// The HTTP address of a tenant that is up and ready; `None` otherwise.
    async fn ready_http(&self, id: &str) -> Option<SocketAddr> {
        let status = self
            .procs
            .lock()
            .await
            .get(id)
            .map(|p| p.status.borrow().clone());
        match status {
            Some(Status::Ready { http }) => Some(http),
            _ => None,
        }
    }

    fn render(&self, spec: &TenantSpec) -> Result<String> {
        let l = &spec.limits;
        let config = ServerToml {
            data_dir: self.root.join(&spec.id).join("data"),
            database: &spec.database,
            listen: ListenToml {
                pg: format!("127.0.0.1:{}", spec.port),
                http: "127.0.0.1:0".into(),
            },
            users: vec![UserToml {
                name: &spec.user,
                scram: spec.scram.expose(),
            }],
            tls: Some(TlsToml {
                cert: self.tls.cert.clone(),
                key: self.tls.key.clone(),
                require: true,
            }),
            tier: TierToml {
                auto_retrain: l.auto_retrain,
                monitoring: l.monitoring.as_str(),
            },
            limits: LimitsToml {
                max_connections: l.max_connections,
                statement_timeout_ms: l.statement_timeout_ms,
                // The plan's memory: a quarter each for the chunk cache and for query operators (past
                // it they spill), the rest for the engine and the OS.
                memory_mb: l.memory_mib,
                cache_size_mb: (l.memory_mib / 4).max(16),
                max_query_memory_mb: (l.memory_mib / 4).max(16),
            },
        };
        toml::to_string(&config).map_err(|e| Error::Internal(format!("tenant config: {e}")))
    }
}

#[derive(Serialize)]
struct ServerToml<'a> {
    data_dir: PathBuf,
    database: &'a str,
    listen: ListenToml,
    users: Vec<UserToml<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tls: Option<TlsToml>,
    tier: TierToml,
    limits: LimitsToml,
}

#[derive(Serialize)]
struct ListenToml {
    pg: String,
    http: String,
}

#[derive(Serialize)]
struct UserToml<'a> {
    name: &'a str,
    scram: &'a str,
}

#[derive(Serialize)]
struct TlsToml {
    cert: PathBuf,
    key: PathBuf,
    require: bool,
}

#[derive(Serialize)]
struct TierToml {
    auto_retrain: bool,
    monitoring: &'static str,
}

#[derive(Serialize)]
struct LimitsToml {
    max_connections: u32,
    statement_timeout_ms: u64,
    memory_mb: u64,
    cache_size_mb: u64,
    max_query_memory_mb: u64,
}

#[async_trait]
impl Provisioner for LocalProvisioner {
    async fn ensure_running(&self, spec: &TenantSpec) -> Result<Endpoint> {
        let config = self.render(spec)?;
        let old = {
            let mut procs = self.procs.lock().await;
            match procs.get(&spec.id) {
                Some(p) if p.config == config && !p.task.is_finished() => None,
                _ => procs.remove(&spec.id),
            }
        };
        if let Some(old) = old {
            old.shutdown().await;
        }
        let mut status = {
            let mut procs = self.procs.lock().await;
            if !procs.contains_key(&spec.id) {
                let dir = self.root.join(&spec.id);
                std::fs::create_dir_all(dir.join("data"))?;
                let config_path = dir.join("server.toml");
                crate::files::write_private(&config_path, config.as_bytes())?;
                let (stop_tx, stop_rx) = watch::channel(false);
                let (status_tx, status_rx) = watch::channel(Status::Starting);
                let task = tokio::spawn(supervise(
                    spec.id.clone(),
                    self.binary.clone(),
                    config_path,
                    dir.join("server.log"),
                    status_tx,
                    stop_rx,
                    self.events.clone(),
                ));
                procs.insert(
                    spec.id.clone(),
                    Proc {
                        config,
                        stop: stop_tx,
                        status: status_rx,
                        task,
                    },
                );
            }
            procs[&spec.id].status.clone()
        };
        let waited = tokio::time::timeout(START_TIMEOUT + Duration::from_secs(5), async {
            loop {
                match &*status.borrow_and_update() {
                    Status::Ready { .. } => return Ok(()),
                    Status::Failed(reason) => return Err(Error::Provisioner(reason.clone())),
                    Status::Starting => {}
                }
                if status.changed().await.is_err() {
                    return Err(Error::Provisioner("the supervisor stopped".into()));
                }
            }
        })
        .await;
        match waited {
            Ok(r) => r?,
            Err(_) => {
                return Err(Error::Provisioner(format!(
                    "not ready within {} s",
                    START_TIMEOUT.as_secs()
                )));
            }
        }
        Ok(Endpoint {
            host: self.host.clone(),
            port: spec.port,
        })
    }

    async fn stop(&self, id: &str) -> Result<()> {
        let proc = self.procs.lock().await.remove(id);
        if let Some(p) = proc {
            p.shutdown().await;
        }
        Ok(())
    }

    async fn destroy(&self, id: &str) -> Result<()> {
        self.stop(id).await?;
        let dir = self.root.join(id);
        // Ids are generated by us, but never let one escape the tenants directory.
        if dir.parent() != Some(self.root.as_path()) {
            return Err(Error::Internal(format!(
                "refusing to remove {}",
                dir.display()
            )));
        }
        match tokio::fs::remove_dir_all(&dir).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn activity(&self, id: &str) -> Result<Option<Activity>> {
        let Some(http) = self.ready_http(id).await else {
            return Ok(None);
        };
        let (code, body) = http_get(http, "/activity")
            .await
            .map_err(|e| Error::Provisioner(format!("activity of {id}: {e}")))?;
        if code != 200 {
            return Ok(None);
        }
        let v: serde_json::Value = serde_json::from_str(&body)
            .map_err(|e| Error::Provisioner(format!("activity of {id}: {e}")))?;
        Ok(Some(Activity {
            connections: v["connections"].as_u64().unwrap_or(0),
            idle: Duration::from_millis(v["idle_ms"].as_u64().unwrap_or(0)),
        }))
    }

    async fn metrics(&self, id: &str) -> Result<Option<String>> {
        let Some(http) = self.ready_http(id).await else {
            return Ok(None);
        };
        match http_get(http, "/metrics").await {
            Ok((200, body)) => Ok(Some(body)),
            Ok(_) | Err(_) => Ok(None),
        }
    }

    async fn storage_bytes(&self, id: &str) -> Result<Option<u64>> {
        let dir = self.root.join(id).join("data");
        let size = tokio::task::spawn_blocking(move || dir_size(&dir))
            .await
            .map_err(|e| Error::Internal(format!("sizing task: {e}")))?;
        Ok(size)
    }

    fn allocate_port(&self) -> Result<u16> {
        let l = std::net::TcpListener::bind("127.0.0.1:0")?;
        Ok(l.local_addr()?.port())
    }

    fn host(&self, _id: &str) -> String {
        self.host.clone()
    }

    fn ca_certificate(&self) -> Option<&str> {
        Some(&self.tls.ca_pem)
    }

    /// Verified against our CA, which lies on this machine (as the tenants do): `psql` works with the
    /// string as it is; elsewhere, download the CA from `/v1/ca-certificate` and point `sslrootcert` at it.
    fn connection_tls(&self) -> String {
        format!(
            "sslmode=verify-full&sslrootcert={}",
            percent_encode_path(&self.tls.ca.to_string_lossy())
        )
    }

    async fn shutdown(&self) {
        let procs: Vec<Proc> = self.procs.lock().await.drain().map(|(_, p)| p).collect();
        futures::future::join_all(procs.into_iter().map(Proc::shutdown)).await;
    }
}

enum Exit {
    Stopped,
    Failed(String),
}

async fn supervise(
    id: String,
    binary: PathBuf,
    config: PathBuf,
    log: PathBuf,
    status: watch::Sender<Status>,
    mut stop: watch::Receiver<bool>,
    events: HealthEvents,
) {
    let mut backoff = BACKOFF_MIN;
    let mut restarts = 0u64;
    loop {
        let _ = status.send(Status::Starting);
        let started = Instant::now();
        let ready_event = (restarts > 0).then(|| (events.clone(), id.clone()));
        match run_once(&binary, &config, &log, &status, &mut stop, ready_event).await {
            Exit::Stopped => return,
            Exit::Failed(reason) => {
                tracing::warn!(tenant = %id, "tenant server failed: {reason}");
                let _ = status.send(Status::Failed(reason.clone()));
                let _ = events.send((id.clone(), Health::Restarting(reason)));
            }
        }
        restarts += 1;
        if started.elapsed() > HEALTHY_RESET {
            backoff = BACKOFF_MIN;
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = stop.changed() => return,
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

async fn run_once(
    binary: &Path,
    config: &Path,
    log: &Path,
    status: &watch::Sender<Status>,
    stop: &mut watch::Receiver<bool>,
    ready_event: Option<(HealthEvents, String)>,
) -> Exit {
    let log_file = match std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
    {
        Ok(f) => f,
        Err(e) => return Exit::Failed(format!("cannot open {}: {e}", log.display())),
    };
    let spawned = Command::new(binary)
        .arg("server")
        .arg("--config")
        .arg(config)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log_file))
        .kill_on_drop(true)
        .spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => return Exit::Failed(format!("cannot start {}: {e}", binary.display())),
    };
    let Some(stdout) = child.stdout.take() else {
        return Exit::Failed("no stdout from the server".into());
    };
    let mut lines = BufReader::new(stdout).lines();
    let deadline = tokio::time::Instant::now() + START_TIMEOUT;
    let http = tokio::select! {
        found = async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(addr) = line.strip_prefix("http listening on ") {
                    return addr.trim().parse::<SocketAddr>().ok();
                }
            }
            None
        } => match found {
            Some(a) => a,
            None => {
                let code = child.wait().await.map(|s| s.to_string()).unwrap_or_default();
                return Exit::Failed(format!("exited ({code}) before listening: {}", log_tail(log)));
            }
        },
        _ = stop.changed() => {
            terminate(&mut child).await;
            return Exit::Stopped;
        }
        _ = tokio::time::sleep_until(deadline) => {
            terminate(&mut child).await;
            return Exit::Failed(format!("did not listen within {} s", START_TIMEOUT.as_secs()));
        }
    };
    // The server prints nothing else, but never let a full pipe block it.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    loop {
        if let Ok((200, _)) = http_get(http, "/ready").await {
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(10)) => {}
            s = child.wait() => {
                let code = s.map(|s| s.to_string()).unwrap_or_default();
                return Exit::Failed(format!("exited ({code}) before ready: {}", log_tail(log)));
            }
            _ = stop.changed() => {
                terminate(&mut child).await;
                return Exit::Stopped;
            }
            _ = tokio::time::sleep_until(deadline) => {
                terminate(&mut child).await;
                return Exit::Failed(format!("not ready within {} s", START_TIMEOUT.as_secs()));
            }
        }
    }
    let _ = status.send(Status::Ready { http });
    if let Some((events, id)) = ready_event {
        let _ = events.send((id, Health::Ready));
    }
    tokio::select! {
        s = child.wait() => {
            let code = s.map(|s| s.to_string()).unwrap_or_default();
            Exit::Failed(format!("exited unexpectedly ({code}): {}", log_tail(log)))
        }
        _ = stop.changed() => {
            terminate(&mut child).await;
            Exit::Stopped
        }
    }
}

/// SIGTERM, then SIGKILL after the grace period. The server flushes and closes its storage on SIGTERM.
async fn terminate(child: &mut Child) {
    if let Some(pid) = child.id() {
        // SAFETY: plain kill(2) on a pid we own and have not reaped yet (`child` still holds it).
        unsafe {
            libc::kill(pid as libc::pid_t, libc::SIGTERM);
        }
        if tokio::time::timeout(STOP_GRACE, child.wait()).await.is_ok() {
            return;
        }
    }
    let _ = child.kill().await;
}

/// The last line of the server's log, for the failure reason users see.
/// Why the server stopped, from its log: its `Error: ...` line (what `main` returned; a backtrace may follow
/// it when RUST_BACKTRACE is set), else its last line.
fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let mut lines = text.lines().rev().filter(|l| !l.trim().is_empty());
    let last = text
        .lines()
        .rev()
        .find(|l| l.starts_with("Error: ") || l.contains("panicked at"))
        .or_else(|| lines.next())
        .unwrap_or("");
    let last: String = last.chars().take(300).collect();
    if last.is_empty() {
        "no output".into()
    } else {
        last
    }
}

/// A minimal HTTP/1.1 GET for the tenant's loopback health endpoints; avoids an HTTP client dependency.
pub(crate) async fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    let io = async {
        let mut s = tokio::net::TcpStream::connect(addr).await?;
        s.write_all(
            format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await?;
        let text = String::from_utf8_lossy(&buf).into_owned();
        let code = text
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| std::io::Error::other("malformed HTTP response"))?;
        let body = text
            .split_once("\r\n\r\n")
            .map_or("", |(_, b)| b)
            .to_string();
        Ok((code, body))
    };
    tokio::time::timeout(Duration::from_secs(2), io)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "timed out"))?
}

/// Total size of the files under `dir`; `None` if it does not exist.
fn dir_size(dir: &Path) -> Option<u64> {
    let mut total = 0;
    let mut stack = vec![std::fs::read_dir(dir).ok()?];
    while let Some(entries) = stack.pop() {
        for entry in entries.flatten() {
            match entry.metadata() {
                Ok(m) if m.is_dir() => {
                    if let Ok(d) = std::fs::read_dir(entry.path()) {
                        stack.push(d);
                    }
                }
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    Some(total)
}

/// A file path as a URI query value: unreserved characters and `/` as they are, the rest %XX.
fn percent_encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_reason_is_the_error_line_even_with_a_backtrace_after_it() {
        // With RUST_BACKTRACE=1 (as scripts/test runs) the last line is a frame; the fleet looks for
        // "in use" in the reason to move a tenant whose port was taken, so the reason must be the error.
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("server.log");
        std::fs::write(
            &log,
            "starting\nError: io: Address already in use (os error 98)\n\nStack backtrace:\n   0: x\n  31: _start\n",
        )
        .unwrap();
        assert_eq!(
            super::log_tail(&log),
            "Error: io: Address already in use (os error 98)"
        );
        std::fs::write(&log, "just this\n\n").unwrap();
        assert_eq!(super::log_tail(&log), "just this");
    }

    #[test]
    fn paths_in_connection_strings_are_percent_encoded() {
        assert_eq!(
            super::percent_encode_path("/home/ada/omen data/tls/ca.crt"),
            "/home/ada/omen%20data/tls/ca.crt"
        );
        assert_eq!(super::percent_encode_path("/a&b=c#d"), "/a%26b%3Dc%23d");
    }
}
