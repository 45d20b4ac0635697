//! A scripted session with the real `psql` (PostgreSQL 15 client) over TLS with SCRAM, compared with the
//! expected transcript `tests/psql/session.out` at the repository root (port numbers masked).

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;

use common::{openssl, require};
use omendb_server::Config;
use omendb_server::config::Tls;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn mask(transcript: &str, port: u16) -> String {
    transcript
        .lines()
        .map(|l| {
            if l.starts_with("SSL connection (") {
                "SSL connection (...)".to_string()
            } else {
                l.replace(&format!("\"{port}\""), "\"PORT\"")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripted_psql_session_matches_transcript() {
    if !require("psql") || !require("openssl") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    openssl(
        dir.path(),
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "key.pem",
            "-out",
            "cert.pem",
        ],
    );
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let mut c = Config::local(&dir.path().join("data"), "omendb", "owner", "pw");
    c.tls = Some(Tls::new(cert, key));
    let s = omendb_server::start(c).await.unwrap();
    let port = s.pg_addr.port();
    let script = root().join("tests/psql/session.sql");
    let out = tokio::task::spawn_blocking(move || {
        Command::new("psql")
            .current_dir(root())
            .args(["-X", "-a", "-f", "tests/psql/session.sql"])
            .arg(format!(
                "host=127.0.0.1 port={port} user=owner dbname=omendb sslmode=require"
            ))
            .env("PGPASSWORD", "pw")
            .env("PGCONNECT_TIMEOUT", "10")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let _ = script;
    let got = mask(
        &(String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr)),
        port,
    );
    let expected_path = root().join("tests/psql/session.out");
    if std::env::var_os("OMENDB_BLESS").is_some() {
        std::fs::write(&expected_path, &got).unwrap();
    }
    let expected = std::fs::read_to_string(&expected_path).unwrap();
    if got != expected {
        let diff: Vec<String> = expected
            .lines()
            .zip(got.lines())
            .enumerate()
            .filter(|(_, (a, b))| a != b)
            .take(10)
            .map(|(i, (a, b))| format!("line {}:\n  expected: {a}\n  got:      {b}", i + 1))
            .collect();
        panic!(
            "psql transcript differs ({} vs {} lines; OMENDB_BLESS=1 rewrites it):\n{}\n--- full output ---\n{got}",
            expected.lines().count(),
            got.lines().count(),
            diff.join("\n")
        );
    }
    s.stop().await;
}
