//! Shared by the control-plane tests: a control plane in this process (SQLite or a fresh PostgreSQL
//! database), a JSON client, and helpers to sign up, create databases and wait for states.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use omendb_control_plane::{Config, Running};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Runs each scenario once per metadata backend.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::Backend::Sqlite).await })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::Backend::Postgres).await })*
        }
    };
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh PostgreSQL database on the cluster named by `OMENDB_TEST_PG`, as a sqlx URL. `None` means
/// skip (said loudly); `OMENDB_NO_SKIP` turns the skip into a failure.
pub async fn postgres_url(test: &str) -> Option<String> {
    let Ok(conninfo) = std::env::var("OMENDB_TEST_PG") else {
        assert!(
            std::env::var_os("OMENDB_NO_SKIP").is_none(),
            "OMENDB_TEST_PG is not set but OMENDB_NO_SKIP forbids skipping the PostgreSQL run of {test}"
        );
        eprintln!(
            "\n*** SKIPPED: {test} on PostgreSQL needs OMENDB_TEST_PG (scripts/test starts one) ***\n"
        );
        return None;
    };
    let config: tokio_postgres::Config = conninfo.parse().expect("OMENDB_TEST_PG");
    let (admin, conn) = config
        .connect(tokio_postgres::NoTls)
        .await
        .expect("connect to OMENDB_TEST_PG");
    tokio::spawn(conn);
    let name = format!(
        "cp_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    admin
        .batch_execute(&format!("create database {name}"))
        .await
        .expect("create database");
    let host = match &config.get_hosts()[0] {
        tokio_postgres::config::Host::Tcp(h) => h.clone(),
        other => panic!("OMENDB_TEST_PG must use TCP, not {other:?}"),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config.get_user().unwrap_or("postgres");
    Some(format!("postgres://{user}@{host}:{port}/{name}"))
}

pub struct Cp {
    pub running: Option<Running>,
    pub base: String,
    pub http: reqwest::Client,
    pub dir: tempfile::TempDir,
    pub config: Config,
}

/// Settings every test wants: ports chosen by the OS, the real `omendb` binary for tenants, cheap
/// Argon2 (the production cost is tested in the unit tests), generous rate limits.
pub fn test_config(dir: &std::path::Path) -> Config {
    let mut c = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.to_path_buf(),
        ..Config::default()
    };
    c.local.server_binary = env!("CARGO_BIN_EXE_omendb").into();
    c.auth.argon2_memory_kib = 1024;
    c.auth.argon2_passes = 1;
    c.limits.signups_per_minute = 1000;
    c.limits.logins_per_minute = 1000;
    c
}

impl Cp {
    /// `None` when the backend is PostgreSQL and there is none to use (the skip is printed).
    pub async fn start(
        backend: Backend,
        test: &str,
        tweak: impl FnOnce(&mut Config),
    ) -> Option<Cp> {
        let dir = tempfile::tempdir().unwrap();
        let mut config = test_config(dir.path());
        if backend == Backend::Postgres {
            config.database_url = postgres_url(test).await?.into();
        }
        tweak(&mut config);
        Some(Cp::start_with(dir, config).await)
    }

    pub async fn start_with(dir: tempfile::TempDir, config: Config) -> Cp {
        let running = omendb_control_plane::start(config.clone())
            .await
            .expect("control plane starts");
        Cp {
            base: format!("http://{}", running.addr),
            running: Some(running),
            http: reqwest::Client::new(),
            dir,
            config,
        }
    }

    /// Stops the control plane (and its tenants) and starts a new one on the same data and metadata.
    pub async fn restart(&mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await;
        }
        let mut config = self.config.clone();
        config.listen = "127.0.0.1:0".parse().unwrap();
        let running = omendb_control_plane::start(config).await.expect("restart");
        self.base = format!("http://{}", running.addr);
        self.running = Some(running);
    }

    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await;
        }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let text = resp.text().await.unwrap();
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    /// The control plane's Prometheus text.
    pub async fn metrics_text(&self) -> String {
        let r = self.http.get(format!("{}/metrics", self.base)).send().await;
        r.expect("GET /metrics").text().await.expect("metrics body")
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, token, Some(body)).await
    }

    /// Logs in as a browser would: the JSON body and the session cookies it set (when it succeeded).
    pub async fn login_session(
        &self,
        email: &str,
        password: &str,
    ) -> (StatusCode, Value, Option<Browser>) {
        let resp = self
            .http
            .post(format!("{}/v1/auth/login", self.base))
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .expect("login");
        answer(resp).await
    }

    /// Signs up and returns the body and the session cookies.
    pub async fn signup_session(&self, email: &str) -> (Value, Browser) {
        let resp = self
            .http
            .post(format!("{}/v1/auth/signup", self.base))
            .json(&json!({"email": email, "password": "correct horse battery"}))
            .send()
            .await
            .expect("signup");
        let (st, v, b) = answer(resp).await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
        (v, b.expect("signup sets the session cookies"))
    }

    /// POST `/v1/auth/<what>` (refresh, logout) with the session's cookie and `csrf` as X-CSRF-Token.
    pub async fn session_call(
        &self,
        what: &str,
        b: &Browser,
        csrf: Option<&str>,
    ) -> (StatusCode, Value, Option<Browser>) {
        let mut req = self
            .http
            .post(format!("{}/v1/auth/{what}", self.base))
            .header(
                "cookie",
                format!("omendb_refresh={}; omendb_csrf={}", b.refresh, b.csrf),
            );
        if let Some(c) = csrf {
            req = req.header("x-csrf-token", c);
        }
        answer(req.send().await.expect(what)).await
    }

    /// Signs up `email` and returns the session (account + tokens).
    pub async fn signup(&self, email: &str) -> Value {
        let (s, v) = self
            .post(
                "/v1/auth/signup",
                None,
                json!({"email": email, "password": "correct horse battery"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        v
    }

    pub async fn signup_token(&self, email: &str) -> String {
        self.signup(email).await["tokens"]["access_token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Creates a database and returns the create response (with the password).
    pub async fn create_db(&self, token: &str, name: &str, plan: &str) -> Value {
        let (s, v) = self
            .post(
                "/v1/databases",
                Some(token),
                json!({"name": name, "plan": plan}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        assert_eq!(v["database"]["state"], "provisioning");
        v
    }

    /// Polls the database until it reaches `state`, failing on `failed` or after 30 s.
    pub async fn wait_state(&self, token: &str, id: &str, state: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (s, v) = self.get(&format!("/v1/databases/{id}"), token).await;
            assert_eq!(s, StatusCode::OK, "{v}");
            if v["state"] == state {
                return v;
            }
            // `failed` while supervision restarts the server is a passing state, not the end.
            let restarting = v["state_reason"]
                .as_str()
                .is_some_and(|r| r.ends_with("restarting"));
            assert!(
                v["state"] != "failed" || state == "failed" || restarting,
                "database failed: {v}"
            );
            assert!(Instant::now() < deadline, "never reached {state}: {v}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Waits until the database is gone (404), after a delete.
    pub async fn wait_gone(&self, token: &str, id: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (s, _) = self.get(&format!("/v1/databases/{id}"), token).await;
            if s == StatusCode::NOT_FOUND {
                return;
            }
            assert!(Instant::now() < deadline, "database {id} never went away");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

/// Connects to a tenant with the parts of a create/reset response.
/// The tenant's connection parameters (without TLS settings) from its view.
pub fn tenant_config(db: &Value, password: &str) -> tokio_postgres::Config {
    let d = &db["database"];
    let d = if d.is_null() { db } else { d };
    let mut c = tokio_postgres::Config::new();
    c.host(d["host"].as_str().unwrap())
        .port(d["port"].as_u64().unwrap() as u16)
        .user(d["user"].as_str().unwrap())
        .password(password)
        .dbname(d["database"].as_str().unwrap());
    c
}

/// TLS that verifies the tenant against the CA named by `sslrootcert` in its connection string, as
/// `sslmode=verify-full` does, and binds SCRAM to the server's certificate when asked to.
pub fn verified_tls(db: &Value) -> tokio_postgres_rustls_improved::MakeRustlsConnect {
    let d = &db["database"];
    let d = if d.is_null() { db } else { d };
    let url = d["connection_string"].as_str().unwrap();
    assert!(url.contains("sslmode=verify-full"), "{url}");
    let path = url
        .split("sslrootcert=")
        .nth(1)
        .and_then(|rest| rest.split('&').next())
        .unwrap_or_else(|| panic!("no sslrootcert in {url}"));
    let pem = std::fs::read(percent_decode(path)).expect("the CA file of the connection string");
    verified_tls_with(&pem)
}

/// TLS verifying the server against the CA certificates in `pem`.
pub fn verified_tls_with(pem: &[u8]) -> tokio_postgres_rustls_improved::MakeRustlsConnect {
    use tokio_rustls::rustls;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut &pem[..]) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_postgres_rustls_improved::MakeRustlsConnect::new(config)
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// A session with the tenant, over TLS verified as its connection string says.
pub async fn connect(
    db: &Value,
    password: &str,
) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, conn) = tenant_config(db, password)
        .connect(verified_tls(db))
        .await?;
    tokio::spawn(conn);
    Ok(client)
}

/// Rows in `table` of the tenant, over a fresh connection.
pub async fn count(db: &Value, password: &str, table: &str) -> i64 {
    let c = connect(db, password).await.expect("connect to the tenant");
    c.query_one(&format!("select count(*) from {table}"), &[])
        .await
        .expect("count")
        .get(0)
}

/// What a browser keeps of a session: the two cookies the API set.
#[derive(Clone, Debug)]
pub struct Browser {
    pub refresh: String,
    pub csrf: String,
    /// The refresh cookie's whole `Set-Cookie` line, for its attributes.
    pub refresh_line: String,
}

/// Status, JSON body, and the session cookies if the response set them (a clearing sets empty ones).
async fn answer(resp: reqwest::Response) -> (StatusCode, Value, Option<Browser>) {
    let status = resp.status();
    let lines: Vec<String> = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    let value_of = |name: &str| {
        lines.iter().find_map(|l| {
            let first = l.split(';').next()?;
            let (k, v) = first.split_once('=')?;
            (k == name).then(|| (v.to_string(), l.clone()))
        })
    };
    let browser = match (value_of("omendb_refresh"), value_of("omendb_csrf")) {
        (Some((refresh, refresh_line)), Some((csrf, _))) => Some(Browser {
            refresh,
            csrf,
            refresh_line,
        }),
        _ => None,
    };
    let text = resp.text().await.unwrap();
    let value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, value, browser)
}
