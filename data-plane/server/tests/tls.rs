//! TLS as libpq (the real `psql`) sees it: a server with TLS configured refuses plaintext sessions,
//! `sslmode=verify-full` checks the certificate against the CA, and SCRAM-SHA-256-PLUS binds the
//! authentication to the certificate (here one signed with SHA-384, whose end-point hash is SHA-384).

use std::path::Path;
use std::process::{Command, Output};

mod common;

use common::{openssl, require};
use omendb_server::Config;
use omendb_server::config::Tls;

/// A CA named `name` (`<name>.crt`, `<name>.key`) in `dir`.
fn ca(dir: &Path, name: &str) {
    let (crt, key) = (format!("{name}.crt"), format!("{name}.key"));
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN={name}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign",
            "-keyout",
            &key,
            "-out",
            &crt,
        ],
    );
}

/// A P-256 server certificate for 127.0.0.1 signed by CA `ca` with SHA-384: `server.crt`, `server.key`.
fn server_cert(dir: &Path, ca: &str) {
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            &format!("{ca}.crt"),
            "-CAkey",
            &format!("{ca}.key"),
            "-CAcreateserial",
            "-days",
            "2",
            "-sha384",
            "-extfile",
            "ext.cnf",
            "-out",
            "server.crt",
        ],
    );
}

async fn psql(port: u16, params: &str) -> Output {
    let conninfo =
        format!("host=127.0.0.1 port={port} user=owner dbname=omendb connect_timeout=10 {params}");
    tokio::task::spawn_blocking(move || {
        Command::new("psql")
            .args(["-X", "-At", "-c", "select 'in'"])
            .arg(conninfo)
            .env("PGPASSWORD", "pw")
            .env_remove("PGSSLMODE")
            .env_remove("PGSSLROOTCERT")
            .env_remove("PGCHANNELBINDING")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn ok(out: &Output) -> bool {
    out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "in"
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plaintext_is_refused_and_verified_bound_sessions_are_accepted() {
    if !require("psql") || !require("openssl") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    ca(dir.path(), "ca");
    ca(dir.path(), "other-ca");
    server_cert(dir.path(), "ca");
    let mut c = Config::local(&dir.path().join("data"), "omendb", "owner", "pw");
    c.tls = Some(Tls::new(
        dir.path().join("server.crt"),
        dir.path().join("server.key"),
    ));
    let s = omendb_server::start(c).await.unwrap();
    let port = s.pg_addr.port();
    let ca = dir.path().join("ca.crt");
    let other = dir.path().join("other-ca.crt");

    // No encryption: refused, and said why (before any password crossed the wire).
    let out = psql(port, "sslmode=disable").await;
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("requires encryption"),
        "{}",
        stderr(&out)
    );
    // sslmode=prefer and require encrypt, so they get in.
    assert!(ok(&psql(port, "sslmode=prefer").await));
    let out = psql(port, "sslmode=require channel_binding=disable").await;
    assert!(ok(&out), "{}", stderr(&out));
    // Verified against the CA, with SCRAM-SHA-256-PLUS bound to the (SHA-384-signed) certificate.
    let out = psql(
        port,
        &format!(
            "sslmode=verify-full sslrootcert={} channel_binding=require",
            ca.display()
        ),
    )
    .await;
    assert!(ok(&out), "{}", stderr(&out));
    // A certificate from another CA than the one the client trusts: refused by the client.
    let out = psql(
        port,
        &format!("sslmode=verify-full sslrootcert={}", other.display()),
    )
    .await;
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("certificate verify failed"),
        "{}",
        stderr(&out)
    );
    // verify-full also checks the name: the certificate is for 127.0.0.1 and localhost only.
    let out = tokio::task::spawn_blocking({
        let ca = ca.clone();
        move || {
            Command::new("psql")
                .args(["-X", "-At", "-c", "select 'in'"])
                .arg(format!(
                    "hostaddr=127.0.0.1 host=db.example.com port={port} user=owner dbname=omendb \
                     sslmode=verify-full sslrootcert={}",
                    ca.display()
                ))
                .env("PGPASSWORD", "pw")
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("does not match host name"),
        "{}",
        stderr(&out)
    );
    s.stop().await;

    // Plaintext allowed on purpose (`require = false`): then sslmode=disable gets in.
    let mut c = Config::local(&dir.path().join("data2"), "omendb", "owner", "pw");
    let mut tls = Tls::new(dir.path().join("server.crt"), dir.path().join("server.key"));
    tls.require = false;
    c.tls = Some(tls);
    let s = omendb_server::start(c).await.unwrap();
    let out = psql(s.pg_addr.port(), "sslmode=disable").await;
    assert!(ok(&out), "{}", stderr(&out));
    // Without TLS there is nothing to bind to: a client that insists on binding is refused by libpq.
    let out = psql(s.pg_addr.port(), "sslmode=disable channel_binding=require").await;
    assert!(!out.status.success());
    s.stop().await;
}
