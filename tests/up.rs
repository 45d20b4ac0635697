//! The README's first command, end to end: the real `omendb up` binary, driven over its REST API, with a
//! real `psql` connecting through the exact connection string the API returns (TLS, SCRAM). Sign up, log
//! in, create a database, run SQL, pause, resume, restart the whole service, delete.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

fn require_psql() -> bool {
    let found = Command::new("psql").arg("--version").output().is_ok();
    if !found {
        assert!(
            std::env::var_os("OMENDB_NO_SKIP").is_none(),
            "psql is required (OMENDB_NO_SKIP is set)"
        );
        eprintln!(
            "\n*** SKIPPED: omendb up end-to-end needs psql (scripts/test installs it) ***\n"
        );
    }
    found
}

struct Up {
    child: Child,
    base: String,
}

impl Up {
    fn start(dir: &std::path::Path) -> Up {
        let mut child = Command::new(env!("CARGO_BIN_EXE_omendb"))
            .args(["up", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn omendb up");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let base = loop {
            let line = lines
                .next()
                .expect("omendb up exited before listening")
                .unwrap();
            if let Some(url) = line.strip_prefix("control plane listening on ") {
                break url.to_string();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Up { child, base }
    }

    /// Ctrl-C, as a user would: the service stops every tenant it started, then exits 0.
    fn stop(mut self) {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-INT", &pid]).status().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "omendb up exited with {status}");
                return;
            }
            assert!(
                Instant::now() < deadline,
                "omendb up did not stop on SIGINT"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

async fn call(
    base: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let client = reqwest::Client::new();
    let mut req = client.request(method.parse().unwrap(), format!("{base}{path}"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn wait_state(base: &str, token: &str, id: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, v) = call(
            base,
            "GET",
            &format!("/v1/databases/{id}"),
            Some(token),
            None,
        )
        .await;
        assert_eq!(status, 200, "{v}");
        if v["state"] == want {
            return;
        }
        assert_ne!(v["state"], "failed", "{v}");
        assert!(Instant::now() < deadline, "never {want}: {v}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Runs SQL through psql with the connection string as given; returns stdout, or stderr on failure.
fn psql(url: &str, sql: &str) -> Result<String, String> {
    let out = Command::new("psql")
        .arg(url)
        .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .env("PGCONNECT_TIMEOUT", "5")
        .output()
        .unwrap();
    if out.status.success() {
        Ok(String::from_utf8(out.stdout).unwrap().trim().to_string())
    } else {
        Err(String::from_utf8(out.stderr).unwrap())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn omendb_up_whole_journey_with_psql() {
    if !require_psql() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let up = Up::start(dir.path());
    let base = up.base.clone();

    let (s, v) = call(
        &base,
        "POST",
        "/v1/auth/signup",
        None,
        Some(json!({"email": "e2e@example.com", "password": "a long enough secret"})),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = call(
        &base,
        "POST",
        "/v1/auth/login",
        None,
        Some(json!({"email": "e2e@example.com", "password": "a long enough secret"})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let token = v["tokens"]["access_token"].as_str().unwrap().to_string();

    let (s, created) = call(
        &base,
        "POST",
        "/v1/databases",
        Some(&token),
        Some(json!({"name": "journey", "plan": "free"})),
    )
    .await;
    assert_eq!(s, 201, "{created}");
    let id = created["database"]["id"].as_str().unwrap().to_string();
    let url = created["connection_string"].as_str().unwrap().to_string();
    wait_state(&base, &token, &id, "ready").await;

    // psql with the string exactly as handed out: sslmode=verify-full against this installation's CA,
    // so this is TLS with the server's certificate checked, and SCRAM.
    assert!(url.contains("sslmode=verify-full&sslrootcert=/"), "{url}");
    psql(
        &url,
        "create table readings (id bigint primary key, sensor text, v double precision)",
    )
    .unwrap();
    psql(
        &url,
        "insert into readings values (1, 'a', 1.5), (2, 'b', 2.5), (3, 'a', 3.5)",
    )
    .unwrap();
    assert_eq!(
        psql(&url, "select sum(v) from readings where sensor = 'a'").unwrap(),
        "5"
    );
    let info = psql(&url, "\\conninfo").unwrap();
    assert!(info.contains("SSL connection"), "{info}");

    let (s, _) = call(
        &base,
        "POST",
        &format!("/v1/databases/{id}/pause"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(s, 202);
    wait_state(&base, &token, &id, "paused").await;
    assert!(
        psql(&url, "select 1").is_err(),
        "a paused database refuses connections"
    );
    let (s, _) = call(
        &base,
        "POST",
        &format!("/v1/databases/{id}/resume"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(s, 202);
    wait_state(&base, &token, &id, "ready").await;
    assert_eq!(psql(&url, "select count(*) from readings").unwrap(), "3");

    // Restart the whole service: the database comes back by itself, with its data and its port.
    up.stop();
    assert!(
        psql(&url, "select 1").is_err(),
        "stopping `omendb up` stops its tenants"
    );
    let up = Up::start(dir.path());
    let base = up.base.clone();
    // The signing key survived too: the same access token still works.
    wait_state(&base, &token, &id, "ready").await;
    assert_eq!(
        psql(&url, "select sensor from readings where id = 2").unwrap(),
        "b"
    );

    let (s, _) = call(
        &base,
        "DELETE",
        &format!("/v1/databases/{id}"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(s, 202);
    let deadline = Instant::now() + Duration::from_secs(30);
    while call(
        &base,
        "GET",
        &format!("/v1/databases/{id}"),
        Some(&token),
        None,
    )
    .await
    .0 != 404
    {
        assert!(Instant::now() < deadline, "delete never finished");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(
        psql(&url, "select 1").is_err(),
        "a deleted database is gone"
    );
    up.stop();
}
