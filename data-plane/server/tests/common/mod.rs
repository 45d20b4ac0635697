//! Helpers shared by the server's integration tests (each test file is its own crate and includes this).

// Each test file uses some of these.
#![allow(dead_code)]

/// The whole HTTP/1.1 response (status line, headers, body) to a GET of `path`.
pub async fn http_get(http: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut sock = tokio::net::TcpStream::connect(http).await.unwrap();
    sock.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut out = String::new();
    sock.read_to_string(&mut out).await.unwrap();
    out
}

/// Whether `tool` is installed. Missing tools skip loudly, except under `scripts/test`
/// (OMENDB_NO_SKIP=1), where they fail.
pub fn require(tool: &str) -> bool {
    let found = std::process::Command::new(tool)
        .arg("--version")
        .output()
        .is_ok();
    if !found {
        assert!(
            std::env::var_os("OMENDB_NO_SKIP").is_none(),
            "{tool} is required (OMENDB_NO_SKIP is set)"
        );
        eprintln!("\n*** SKIPPED: {tool} not installed (scripts/test installs it) ***\n");
    }
    found
}

/// Runs `openssl args` in `dir`, failing the test with openssl's message.
pub fn openssl(dir: &std::path::Path, args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
