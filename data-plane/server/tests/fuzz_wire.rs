//! Fuzzing the wire protocol against a live server (budget: `OMENDB_FUZZ_CASES`, larger under
//! `scripts/test`). Each case opens a connection and sends arbitrary bytes: before authentication (startup
//! packets, SSL and cancel requests, garbage), or after a real SCRAM login (frontend messages of every type
//! with arbitrary bodies and lengths). Then the client closes its side, and the server must close too within
//! a deadline (no hang), and a fresh connection must still work (no crash, no stuck lock). A failure proptest
//! finds is saved under `proptest-regressions/` and kept.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use omendb_server::Config;
use omendb_server::config::User;
use omendb_server::scram::Verifier;
use proptest::prelude::*;
use proptest::test_runner::{TestCaseError, TestRunner};
use sha2::{Digest, Sha256};

const PASSWORD: &str = "fuzz-password";
/// After the client's EOF, the server must have closed the connection within this.
const CLOSE_DEADLINE: Duration = Duration::from_secs(10);

fn cases() -> u32 {
    std::env::var("OMENDB_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

fn message(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![tag];
    m.extend_from_slice(&(body.len() as i32 + 4).to_be_bytes());
    m.extend_from_slice(body);
    m
}

fn startup_packet(params: &[(&str, &str)]) -> Vec<u8> {
    let mut body = 196_608i32.to_be_bytes().to_vec();
    for (k, v) in params {
        body.extend_from_slice(k.as_bytes());
        body.push(0);
        body.extend_from_slice(v.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut m = (body.len() as i32 + 4).to_be_bytes().to_vec();
    m.extend(body);
    m
}

/// Reads one backend message: (tag, body).
fn read_message(s: &mut TcpStream) -> std::io::Result<(u8, Vec<u8>)> {
    let mut head = [0u8; 5];
    s.read_exact(&mut head)?;
    let len = i32::from_be_bytes(head[1..5].try_into().unwrap()) as usize;
    let mut body = vec![0u8; len.saturating_sub(4)];
    s.read_exact(&mut body)?;
    Ok((head[0], body))
}

fn hmac(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
    m.update(msg);
    m.finalize().into_bytes().into()
}

/// A connection logged in as `owner` with SCRAM-SHA-256 (the client half written here from RFC 5802),
/// at ReadyForQuery.
fn login(addr: SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(&startup_packet(&[
        ("user", "owner"),
        ("database", "omendb"),
    ]))
    .unwrap();
    let (tag, _) = read_message(&mut s).unwrap();
    assert_eq!(tag, b'R', "AuthenticationSASL");
    let bare = "n=,r=fuzzclientnonce0123456789";
    let first = format!("n,,{bare}");
    let mut body = b"SCRAM-SHA-256\0".to_vec();
    body.extend_from_slice(&(first.len() as i32).to_be_bytes());
    body.extend_from_slice(first.as_bytes());
    s.write_all(&message(b'p', &body)).unwrap();
    let (tag, cont) = read_message(&mut s).unwrap();
    assert_eq!(tag, b'R');
    let server_first = String::from_utf8(cont[4..].to_vec()).unwrap();
    let attrs: Vec<&str> = server_first.split(',').collect();
    let nonce = attrs[0].strip_prefix("r=").unwrap();
    let salt = B64.decode(attrs[1].strip_prefix("s=").unwrap()).unwrap();
    let iterations: u32 = attrs[2].strip_prefix("i=").unwrap().parse().unwrap();
    let mut salted = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(PASSWORD.as_bytes(), &salt, iterations, &mut salted);
    let client_key = hmac(&salted, b"Client Key");
    let stored: [u8; 32] = Sha256::digest(client_key).into();
    let without_proof = format!("c=biws,r={nonce}");
    let auth = format!("{bare},{server_first},{without_proof}");
    let sig = hmac(&stored, auth.as_bytes());
    let proof: Vec<u8> = client_key.iter().zip(sig).map(|(a, b)| a ^ b).collect();
    let fin = format!("{without_proof},p={}", B64.encode(proof));
    s.write_all(&message(b'p', fin.as_bytes())).unwrap();
    loop {
        let (tag, body) = read_message(&mut s).unwrap();
        assert_ne!(
            tag,
            b'E',
            "login failed: {}",
            String::from_utf8_lossy(&body)
        );
        if tag == b'Z' {
            return s;
        }
    }
}

/// The server still serves: a fresh login runs a query.
fn still_serves(addr: SocketAddr) {
    let mut s = login(addr);
    s.write_all(&message(b'Q', b"select 1\0")).unwrap();
    loop {
        let (tag, body) = read_message(&mut s).unwrap();
        assert_ne!(tag, b'E', "{}", String::from_utf8_lossy(&body));
        if tag == b'Z' {
            break;
        }
    }
}

/// Sends `bytes`, closes the client's side and waits for the server to close its own.
fn send_and_close(mut s: TcpStream, bytes: &[u8]) -> Result<(), TestCaseError> {
    // The server may close first (a FATAL); what could not be written does not matter.
    let _ = s.write_all(bytes);
    let _ = s.shutdown(Shutdown::Write);
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 8192];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return Ok(()), // reset: closed
        }
        if started.elapsed() > CLOSE_DEADLINE {
            return Err(TestCaseError::fail(format!(
                "the server kept the connection open {CLOSE_DEADLINE:?} after the client's EOF; sent {bytes:?}"
            )));
        }
    }
}

/// Frontend messages with arbitrary bodies; a few with lengths that lie.
fn frontend_messages() -> impl Strategy<Value = Vec<u8>> {
    let tag = prop::sample::select(b"QPBEDSHCFdcfXp".to_vec());
    let body = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64),
        // SQL-ish text, NUL-terminated, as Query and Parse carry.
        "(select|insert|begin|commit|copy|set|show|values|with|prepare|execute|\\$1|;|\\(|\\)|'|t| |[0-9])*"
            .prop_map(|s| format!("{s}\0").into_bytes()),
    ];
    let msg = (tag, body, prop::option::weighted(0.1, any::<i32>())).prop_map(|(t, b, lie)| {
        let mut m = message(t, &b);
        if let Some(len) = lie {
            m[1..5].copy_from_slice(&len.to_be_bytes());
        }
        m
    });
    prop::collection::vec(msg, 1..8).prop_map(|ms| ms.concat())
}

fn before_login() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..200),
        // Startup packets with arbitrary parameters and versions.
        (
            prop::collection::vec(("[a-z_]{0,12}", "\\PC{0,20}"), 0..5),
            prop::option::of(any::<i32>()),
        )
            .prop_map(|(params, version)| {
                let p: Vec<(&str, &str)> = params
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                let mut m = startup_packet(&p);
                if let Some(v) = version {
                    m[4..8].copy_from_slice(&v.to_be_bytes());
                }
                m
            }),
        // SSLRequest, GSSENCRequest and CancelRequest codes, followed by anything.
        (
            prop::sample::select(vec![80_877_103i32, 80_877_104, 80_877_102]),
            prop::collection::vec(any::<u8>(), 0..40),
        )
            .prop_map(|(code, rest)| {
                let mut m = 8i32.to_be_bytes().to_vec();
                m.extend_from_slice(&code.to_be_bytes());
                m.extend(rest);
                m
            }),
    ]
}

fn runner() -> TestRunner {
    TestRunner::new(ProptestConfig {
        cases: cases(),
        // Where the default persistence (proptest-regressions/, beside the sources) keeps failures.
        source_file: Some(file!()),
        ..ProptestConfig::default()
    })
}

async fn server(dir: &std::path::Path) -> omendb_server::Running {
    let mut c = Config::local(dir, "omendb", "owner", PASSWORD);
    // Few iterations: the cases log in thousands of times; the exchange is the same.
    c.users = vec![User {
        name: "owner".into(),
        scram: Verifier::new(PASSWORD, 16).to_string().into(),
    }];
    omendb_server::start(c).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fuzz_wire_before_login() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path()).await;
    let addr = s.pg_addr;
    tokio::task::spawn_blocking(move || {
        runner()
            .run(&before_login(), |bytes| {
                send_and_close(TcpStream::connect(addr).unwrap(), &bytes)
            })
            .unwrap();
        still_serves(addr);
    })
    .await
    .unwrap();
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fuzz_wire_after_login() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path()).await;
    let addr = s.pg_addr;
    tokio::task::spawn_blocking(move || {
        let n = std::cell::Cell::new(0u32);
        runner()
            .run(&frontend_messages(), |bytes| {
                send_and_close(login(addr), &bytes)?;
                n.set(n.get() + 1);
                if n.get().is_multiple_of(16) {
                    still_serves(addr);
                }
                Ok(())
            })
            .unwrap();
        still_serves(addr);
    })
    .await
    .unwrap();
    s.stop().await;
}
