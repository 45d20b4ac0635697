//! The server over the real wire with tokio-postgres: SCRAM, simple and extended protocol, command tags,
//! SQLSTATEs, transactions, DML (including the subquery cases DataFusion's delete hook gets wrong), restart.

use omendb_server::Config;
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

mod common;
use common::http_get;

const PASSWORD: &str = "s3cret-pw";

fn config(dir: &std::path::Path) -> Config {
    Config::local(dir, "app", "owner", PASSWORD)
}

async fn connect(port: u16, password: &str) -> Result<Client, tokio_postgres::Error> {
    let (client, conn) = tokio_postgres::connect(
        &format!("host=127.0.0.1 port={port} user=owner password={password} dbname=app"),
        NoTls,
    )
    .await?;
    tokio::spawn(conn);
    Ok(client)
}

fn state(e: &tokio_postgres::Error) -> String {
    e.as_db_error()
        .map(|d| d.code().code().to_string())
        .unwrap_or_else(|| format!("no db error: {e}"))
}

/// The one integer a query returns (`SELECT 1` is int4, `count(*)` int8, as in PostgreSQL).
async fn int(c: &Client, sql: &str) -> i64 {
    let row = c.query_one(sql, &[]).await.unwrap();
    match row.try_get::<_, i64>(0) {
        Ok(v) => v,
        Err(_) => i64::from(row.get::<_, i32>(0)),
    }
}

/// Command tags of a simple query, in order.
async fn tags(c: &Client, sql: &str) -> Vec<u64> {
    c.simple_query(sql)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::CommandComplete(n) => Some(n),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scram_login_and_wrong_password() {
    let dir = tempfile::tempdir().unwrap();
    let s = omendb_server::start(config(dir.path())).await.unwrap();
    let port = s.pg_addr.port();
    let c = connect(port, PASSWORD).await.unwrap();
    assert_eq!(int(&c, "SELECT 1 + 1").await, 2);
    let e = connect(port, "wrong")
        .await
        .expect_err("wrong password must fail");
    assert_eq!(state(&e), "28P01");
    // Unknown users fail exactly like a wrong password.
    let (r, _) = (
        tokio_postgres::connect(
            &format!("host=127.0.0.1 port={port} user=nobody password=x dbname=app"),
            NoTls,
        )
        .await,
        (),
    );
    assert_eq!(state(&r.err().unwrap()), "28P01");
    let r = tokio_postgres::connect(
        &format!("host=127.0.0.1 port={port} user=owner password={PASSWORD} dbname=other"),
        NoTls,
    )
    .await;
    assert_eq!(state(&r.err().unwrap()), "3D000");
    // The server still serves the good connection.
    assert_eq!(int(&c, "SELECT 2").await, 2);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ddl_dml_tags_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let s = omendb_server::start(config(dir.path())).await.unwrap();
    let c = connect(s.pg_addr.port(), PASSWORD).await.unwrap();
    c.batch_execute(
        "CREATE TABLE items (id BIGINT PRIMARY KEY, name TEXT NOT NULL, price DOUBLE PRECISION DEFAULT 9.5, qty INTEGER)",
    )
    .await
    .unwrap();
    assert_eq!(
        tags(
            &c,
            "INSERT INTO items (id, name, qty) VALUES (1, 'a', 10), (2, 'b', 20), (3, 'c', 30)"
        )
        .await,
        vec![3]
    );
    let msgs = c
        .simple_query("INSERT INTO items VALUES (4, 'd', 1.0, 40)")
        .await
        .unwrap();
    assert!(matches!(
        msgs.last(),
        Some(SimpleQueryMessage::CommandComplete(1))
    ));
    let r = c
        .query_one("SELECT price FROM items WHERE id = 1", &[])
        .await
        .unwrap();
    assert_eq!(r.get::<_, f64>(0), 9.5, "DEFAULT fills omitted columns");
    assert_eq!(
        tags(&c, "UPDATE items SET qty = qty + 1 WHERE id >= 3").await,
        vec![2]
    );
    assert_eq!(tags(&c, "DELETE FROM items WHERE id = 99").await, vec![0]);

    // Errors carry the PostgreSQL SQLSTATE, and the connection stays usable.
    for (sql, code) in [
        ("INSERT INTO items VALUES (1, 'dup', 1.0, 1)", "23505"),
        ("INSERT INTO items (id) VALUES (5)", "23502"),
        ("SELECT * FROM nope", "42P01"),
        ("SELECT nope FROM items", "42703"),
        ("SELEC 1", "42601"),
        ("CREATE TABLE items (id INT)", "42P07"),
        ("SELECT 1/0", "22012"),
    ] {
        let e = c.simple_query(sql).await.unwrap_err();
        assert_eq!(state(&e), code, "{sql}: {e}");
    }
    let n: i64 = c
        .query_one("SELECT count(*) FROM items", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 4, "failed statements changed nothing");

    // Subqueries in UPDATE/DELETE WHERE touch exactly the rows they select (apache/datafusion#24654).
    c.batch_execute("CREATE TABLE doomed (id BIGINT PRIMARY KEY)")
        .await
        .unwrap();
    c.batch_execute("INSERT INTO doomed VALUES (2), (4)")
        .await
        .unwrap();
    assert_eq!(
        tags(&c, "DELETE FROM items WHERE id IN (SELECT id FROM doomed)").await,
        vec![2]
    );
    assert_eq!(
        tags(&c, "UPDATE items SET qty = 0 WHERE EXISTS (SELECT 1 FROM doomed WHERE doomed.id = items.id + 3)").await,
        vec![1]
    );
    let ids: Vec<i64> = c
        .query("SELECT id FROM items ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(ids, vec![1, 3]);
    let q: i32 = c
        .query_one("SELECT qty FROM items WHERE id = 1", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(q, 0);
    let q: i32 = c
        .query_one("SELECT qty FROM items WHERE id = 3", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(q, 31);

    // Key changes through UPDATE move the row.
    assert_eq!(
        tags(&c, "UPDATE items SET id = 100 WHERE id = 3").await,
        vec![1]
    );
    let ids: Vec<i64> = c
        .query("SELECT id FROM items ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(ids, vec![1, 100]);

    // Tables without a primary key get hidden row ids; UPDATE and DELETE still find their rows.
    c.batch_execute("CREATE TABLE log (msg TEXT, n INT)")
        .await
        .unwrap();
    c.batch_execute("INSERT INTO log VALUES ('a', 1), ('b', 2), ('a', 3)")
        .await
        .unwrap();
    assert_eq!(
        tags(&c, "UPDATE log SET n = n * 10 WHERE msg = 'a'").await,
        vec![2]
    );
    assert_eq!(tags(&c, "DELETE FROM log WHERE n = 2").await, vec![1]);
    let total: i64 = c
        .query_one("SELECT sum(n) FROM log", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(total, 40);
    let cols = c.query("SELECT * FROM log", &[]).await.unwrap()[0]
        .columns()
        .len();
    assert_eq!(cols, 2, "the hidden row id never shows");

    // CREATE TABLE AS, TRUNCATE, DROP.
    assert_eq!(
        tags(&c, "CREATE TABLE copy AS SELECT id, name FROM items").await,
        vec![2]
    );
    assert_eq!(tags(&c, "TRUNCATE copy").await, vec![0]);
    c.batch_execute("DROP TABLE copy").await.unwrap();
    assert_eq!(
        state(&c.simple_query("DROP TABLE copy").await.unwrap_err()),
        "42P01"
    );
    c.batch_execute("DROP TABLE IF EXISTS copy").await.unwrap();
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepared_statements_with_typed_parameters() {
    let dir = tempfile::tempdir().unwrap();
    let s = omendb_server::start(config(dir.path())).await.unwrap();
    let c = connect(s.pg_addr.port(), PASSWORD).await.unwrap();
    c.batch_execute(
        "CREATE TABLE t (id BIGINT PRIMARY KEY, i2 SMALLINT, i4 INT, f4 REAL, f8 DOUBLE PRECISION, b BOOLEAN, \
         s TEXT, bin BYTEA, d DATE, ts TIMESTAMP)",
    )
    .await
    .unwrap();
    let ins = c
        .prepare("INSERT INTO t VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
        .await
        .unwrap();
    let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
    let ts = day.and_hms_micro_opt(12, 30, 15, 250_000).unwrap();
    for i in 0..50i64 {
        let n = c
            .execute(
                &ins,
                &[
                    &i,
                    &(i as i16),
                    &(i as i32),
                    &(i as f32 / 2.0),
                    &(i as f64 / 4.0),
                    &(i % 2 == 0),
                    &format!("row {i}"),
                    &vec![i as u8, 0xff],
                    &day,
                    &ts,
                ],
            )
            .await
            .unwrap();
        assert_eq!(n, 1);
    }
    let get = c.prepare("SELECT * FROM t WHERE id = $1").await.unwrap();
    let r = c.query_one(&get, &[&7i64]).await.unwrap();
    assert_eq!(r.get::<_, i16>("i2"), 7);
    assert_eq!(r.get::<_, i32>("i4"), 7);
    assert_eq!(r.get::<_, f32>("f4"), 3.5);
    assert_eq!(r.get::<_, f64>("f8"), 1.75);
    assert!(!r.get::<_, bool>("b"));
    assert_eq!(r.get::<_, String>("s"), "row 7");
    assert_eq!(r.get::<_, Vec<u8>>("bin"), vec![7, 0xff]);
    assert_eq!(r.get::<_, chrono::NaiveDate>("d"), day);
    assert_eq!(r.get::<_, chrono::NaiveDateTime>("ts"), ts);
    // The same statement re-executed sees new data (cached plans are rebound to the current snapshot).
    c.execute("UPDATE t SET s = $1 WHERE id = $2", &[&"changed", &7i64])
        .await
        .unwrap();
    let r = c.query_one(&get, &[&7i64]).await.unwrap();
    assert_eq!(r.get::<_, String>("s"), "changed");
    let range = c
        .prepare("SELECT id FROM t WHERE id BETWEEN $1 AND $2 ORDER BY id")
        .await
        .unwrap();
    let ids: Vec<i64> = c
        .query(&range, &[&10i64, &14i64])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(ids, vec![10, 11, 12, 13, 14]);
    let n = c
        .execute("DELETE FROM t WHERE id < $1", &[&5i64])
        .await
        .unwrap();
    assert_eq!(n, 5);
    // Wrong parameter count is a protocol error, not a crash.
    let e = c
        .query("SELECT * FROM t WHERE id = $1", &[])
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("parameter") || e.as_db_error().is_some(),
        "{e}"
    );
    assert_eq!(int(&c, "SELECT count(*) FROM t").await, 45);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_commit_rollback_and_aborted_state() {
    let dir = tempfile::tempdir().unwrap();
    let s = omendb_server::start(config(dir.path())).await.unwrap();
    let mut a = connect(s.pg_addr.port(), PASSWORD).await.unwrap();
    let b = connect(s.pg_addr.port(), PASSWORD).await.unwrap();
    a.batch_execute("CREATE TABLE acct (id INT PRIMARY KEY, bal BIGINT); CREATE TABLE audit (id INT PRIMARY KEY, note TEXT)")
        .await
        .unwrap();
    a.batch_execute("INSERT INTO acct VALUES (1, 100), (2, 0)")
        .await
        .unwrap();

    let tx = a.transaction().await.unwrap();
    tx.execute("UPDATE acct SET bal = bal - 30 WHERE id = 1", &[])
        .await
        .unwrap();
    tx.execute("UPDATE acct SET bal = bal + 30 WHERE id = 2", &[])
        .await
        .unwrap();
    tx.execute("INSERT INTO audit VALUES (1, 'moved 30')", &[])
        .await
        .unwrap();
    // Read-your-own-writes inside, invisible outside until COMMIT.
    let mine: i64 = tx
        .query_one("SELECT bal FROM acct WHERE id = 2", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(mine, 30);
    let theirs: i64 = b
        .query_one("SELECT bal FROM acct WHERE id = 2", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(theirs, 0);
    tx.commit().await.unwrap();
    let sum: i64 = b
        .query_one("SELECT sum(bal)::bigint FROM acct", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(sum, 100);
    assert_eq!(int(&b, "SELECT count(*) FROM audit").await, 1);

    let tx = a.transaction().await.unwrap();
    tx.execute("DELETE FROM acct", &[]).await.unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(int(&b, "SELECT count(*) FROM acct").await, 2);

    // An error inside a transaction aborts it: 25P02 until ROLLBACK, and COMMIT reports ROLLBACK.
    a.batch_execute("BEGIN").await.unwrap();
    a.batch_execute("INSERT INTO acct VALUES (3, 5)")
        .await
        .unwrap();
    assert_eq!(
        state(
            &a.batch_execute("INSERT INTO acct VALUES (1, 1)")
                .await
                .unwrap_err()
        ),
        "23505"
    );
    assert_eq!(
        state(&a.batch_execute("SELECT 1").await.unwrap_err()),
        "25P02"
    );
    let msgs = a.simple_query("COMMIT").await.unwrap();
    assert!(matches!(
        msgs.last(),
        Some(SimpleQueryMessage::CommandComplete(0))
    ));
    assert_eq!(int(&b, "SELECT count(*) FROM acct").await, 2);
    // DDL inside a transaction block is part of it: rolled back, nothing is left; committed, all of it.
    a.batch_execute("BEGIN; CREATE TABLE x (a INT); INSERT INTO x VALUES (1)")
        .await
        .unwrap();
    assert_eq!(int(&a, "SELECT count(*) FROM x").await, 1);
    assert_eq!(
        state(&b.batch_execute("SELECT * FROM x").await.unwrap_err()),
        "42P01"
    );
    a.batch_execute("ROLLBACK").await.unwrap();
    assert_eq!(
        state(&a.batch_execute("SELECT * FROM x").await.unwrap_err()),
        "42P01"
    );
    a.batch_execute("BEGIN; CREATE TABLE x (a INT); INSERT INTO x VALUES (1); COMMIT")
        .await
        .unwrap();
    assert_eq!(int(&b, "SELECT count(*) FROM x").await, 1);
    // Several statements in one simple query are one implicit transaction.
    assert!(
        a.batch_execute("INSERT INTO acct VALUES (10, 1); INSERT INTO acct VALUES (1, 1)")
            .await
            .is_err()
    );
    assert_eq!(int(&b, "SELECT count(*) FROM acct WHERE id = 10").await, 0);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_survives_restart_and_http_endpoints_answer() {
    let dir = tempfile::tempdir().unwrap();
    let s = omendb_server::start(config(dir.path())).await.unwrap();
    let c = connect(s.pg_addr.port(), PASSWORD).await.unwrap();
    c.batch_execute("CREATE TABLE kv (k TEXT PRIMARY KEY, v BIGINT)")
        .await
        .unwrap();
    let ins = c.prepare("INSERT INTO kv VALUES ($1, $2)").await.unwrap();
    for i in 0..200i64 {
        c.execute(&ins, &[&format!("key{i:04}"), &i]).await.unwrap();
    }
    let get = |path: &'static str| http_get(s.http_addr, path);
    assert!(get("/health").await.starts_with("HTTP/1.1 200"));
    assert!(get("/ready").await.starts_with("HTTP/1.1 200"));
    let m = get("/metrics").await;
    assert!(
        m.contains("omendb_queries_total{kind=\"insert\",outcome=\"ok\"} 200"),
        "{m}"
    );
    assert!(m.contains("omendb_commits_total"), "{m}");
    drop(c);
    s.stop().await;

    let s = omendb_server::start(config(dir.path())).await.unwrap();
    let c = connect(s.pg_addr.port(), PASSWORD).await.unwrap();
    let n: i64 = c
        .query_one("SELECT count(*) FROM kv", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 200);
    let v: i64 = c
        .query_one("SELECT v FROM kv WHERE k = 'key0123'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(v, 123);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_limit_and_bad_protocol_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.limits.max_connections = 2;
    let s = omendb_server::start(cfg).await.unwrap();
    let port = s.pg_addr.port();
    let a = connect(port, PASSWORD).await.unwrap();
    let _b = connect(port, PASSWORD).await.unwrap();
    let e = connect(port, PASSWORD)
        .await
        .expect_err("third connection refused");
    assert_eq!(state(&e), "53300");

    // Garbage and truncated messages end only their own connection.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    for junk in [
        &b"\x00\x00\x00\x08\x04\xd2\x16\x2f"[..],
        b"GET / HTTP/1.1\r\n\r\n",
        b"\x00\x00\x00",
    ] {
        let mut sock = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        sock.write_all(junk).await.unwrap();
        let mut buf = Vec::new();
        let _ = tokio::time::timeout(
            std::time::Duration::from_secs(2),
            sock.read_to_end(&mut buf),
        )
        .await;
    }
    // An oversized message gets FATAL 54000 (program_limit_exceeded) before the body is even sent.
    let mut sock = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    sock.write_all(b"\x7f\xff\xff\xff\x00\x03\x00\x00")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        sock.read_to_end(&mut buf),
    )
    .await;
    let reply = String::from_utf8_lossy(&buf);
    assert!(
        buf.first() == Some(&b'E') && reply.contains("54000"),
        "oversized startup message: {reply:?}"
    );
    assert_eq!(int(&a, "SELECT 3").await, 3);
    drop(a);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statement_timeout_and_cancel_stop_a_running_query() {
    let dir = tempfile::tempdir().unwrap();
    let s = omendb_server::start(config(dir.path())).await.unwrap();
    let port = s.pg_addr.port();
    let c = connect(port, PASSWORD).await.unwrap();
    // Minutes of work for DataFusion: a filtered three-way cross product of 2,000 rows.
    c.batch_execute("CREATE TABLE n (id bigint PRIMARY KEY)")
        .await
        .unwrap();
    c.batch_execute(&format!(
        "INSERT INTO n VALUES {}",
        (0..2000)
            .map(|i| format!("({i})"))
            .collect::<Vec<_>>()
            .join(",")
    ))
    .await
    .unwrap();
    stopped_by_timeout_and_cancel(
        &c,
        "SELECT count(*) FROM n a, n b, n c WHERE a.id + b.id + c.id = -1",
    )
    .await;
    s.stop().await;
}

/// `slow` (which would run for many seconds) ends with 57014 within seconds under a 200 ms
/// statement_timeout and again when cancelled 300 ms in; the connection is still good afterwards.
async fn stopped_by_timeout_and_cancel(c: &tokio_postgres::Client, slow: &str) {
    c.batch_execute("SET statement_timeout = 200")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let e = c.simple_query(slow).await.expect_err("timed out");
    assert_eq!(state(&e), "57014", "{e:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    c.batch_execute("RESET statement_timeout").await.unwrap();

    let token = c.cancel_token();
    let cancel = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        token.cancel_query(NoTls).await.unwrap();
    });
    let started = std::time::Instant::now();
    let e = c.simple_query(slow).await.expect_err("cancelled");
    assert_eq!(state(&e), "57014", "{e:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    cancel.await.unwrap();
    assert_eq!(int(c, "SELECT 5").await, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_sleep_sleeps_until_its_time_a_timeout_or_a_cancel() {
    let dir = tempfile::tempdir().unwrap();
    let s = omendb_server::start(config(dir.path())).await.unwrap();
    let c = connect(s.pg_addr.port(), PASSWORD).await.unwrap();
    let started = std::time::Instant::now();
    let rows = c
        .query(
            "SELECT pg_sleep(0.2), pg_sleep_for('100 milliseconds'::interval) IS NULL",
            &[],
        )
        .await
        .unwrap();
    assert!(started.elapsed() >= std::time::Duration::from_millis(300));
    // void: an empty value, not NULL.
    assert_eq!(rows[0].get::<_, String>(0), "");
    assert!(!rows[0].get::<_, bool>(1));
    stopped_by_timeout_and_cancel(&c, "SELECT pg_sleep(30)").await;
    s.stop().await;
}

/// The whole HTTP response to `GET path`.
/// The text of `/metrics`.
async fn metrics(http: std::net::SocketAddr) -> String {
    http_get(http, "/metrics").await
}

fn placed(metrics: &str, on: &str) -> u64 {
    let key = format!("omendb_connections_placed_total{{on=\"{on}\"}} ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&key))
        .map_or(0, |v| v.trim().parse().unwrap())
}

/// A flood of silent sockets spends the connection-thread budget (max_connections + 16); sockets past it run
/// as tasks on the pool, and a real client behind the flood is still served (within its start-up timeout the
/// flood is still open).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_open_flood_runs_on_the_pool_and_clients_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.limits.max_connections = 2;
    let s = omendb_server::start(cfg).await.unwrap();
    let port = s.pg_addr.port();
    let mut flood = Vec::new();
    for _ in 0..30 {
        flood.push(
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .unwrap(),
        );
    }
    let c = connect(port, PASSWORD).await.unwrap();
    c.batch_execute("CREATE TABLE f (id BIGINT PRIMARY KEY, v TEXT)")
        .await
        .unwrap();
    assert_eq!(
        tags(&c, "INSERT INTO f VALUES (1, 'a'), (2, 'b')").await,
        [2]
    );
    assert_eq!(int(&c, "SELECT count(*) FROM f").await, 2);
    let m = metrics(s.http_addr).await;
    assert_eq!(placed(&m, "thread"), 18, "{m}");
    assert_eq!(placed(&m, "pool"), 31 - 18, "{m}");
    drop(flood);
    // Threads freed by the flood's end are used again.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        // The previous attempt's connection may not have been counted out yet (max_connections = 2):
        // a 53300 refusal is a retry, not a failure.
        match connect(port, PASSWORD).await {
            Ok(d) => drop(d),
            Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::TOO_MANY_CONNECTIONS) => {}
            Err(e) => panic!("{e}"),
        }
        if placed(&metrics(s.http_addr).await, "thread") > 18 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no thread reused");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(int(&c, "SELECT count(*) FROM f").await, 2);
    s.stop().await;
}

/// With connection threads off every connection is a task on the pool, with the same answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multiplexed_connections_serve_the_same_sql() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.limits.connection_threads = false;
    let s = omendb_server::start(cfg).await.unwrap();
    let c = connect(s.pg_addr.port(), PASSWORD).await.unwrap();
    c.batch_execute("CREATE TABLE m (id BIGINT PRIMARY KEY, v DOUBLE PRECISION, t TIMESTAMP)")
        .await
        .unwrap();
    let ins = c
        .prepare("INSERT INTO m VALUES ($1, $2, '2024-01-02 03:04:05.5')")
        .await
        .unwrap();
    for i in 0..50i64 {
        c.execute(&ins, &[&i, &(i as f64 / 4.0)]).await.unwrap();
    }
    let rows = c
        .simple_query("SELECT v, t FROM m WHERE id BETWEEN 9 AND 10")
        .await
        .unwrap();
    let text: Vec<(String, String)> = rows
        .into_iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some((r.get(0)?.to_string(), r.get(1)?.to_string())),
            _ => None,
        })
        .collect();
    assert_eq!(
        text,
        [
            ("2.25".to_string(), "2024-01-02 03:04:05.5".to_string()),
            ("2.5".to_string(), "2024-01-02 03:04:05.5".to_string())
        ]
    );
    let m = metrics(s.http_addr).await;
    assert_eq!(placed(&m, "thread"), 0, "{m}");
    assert!(placed(&m, "pool") >= 1, "{m}");
    s.stop().await;
}
