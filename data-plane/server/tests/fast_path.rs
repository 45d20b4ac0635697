//! The fast path against the DataFusion path, on the same statements: one connection runs with the fast
//! path (the default) on table `a`, another with `SET omendb.learned_index = off` (DataFusion over full
//! scans, no fast path) on table `b`. Seeded random point/IN/range reads and single-row writes must give the
//! same rows, command tags and SQLSTATEs, and leave the two tables equal. The metrics prove which path ran.

use omendb_server::Config;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls, Row, SimpleQueryMessage};

mod common;

async fn connect(port: u16) -> Client {
    let (c, conn) = tokio_postgres::connect(
        &format!("host=127.0.0.1 port={port} user=owner password=pw dbname=app"),
        NoTls,
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    c
}

fn render(rows: &[Row]) -> Vec<String> {
    rows.iter()
        .map(|r| {
            (0..r.len())
                .map(|i| match r.columns()[i].type_().name() {
                    "int4" => format!("{:?}", r.get::<_, Option<i32>>(i)),
                    "int8" => format!("{:?}", r.get::<_, Option<i64>>(i)),
                    "text" => format!("{:?}", r.get::<_, Option<String>>(i)),
                    other => panic!("unexpected column type {other}"),
                })
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect()
}

/// Rows (with column names and types) or the SQLSTATE.
async fn query(c: &Client, sql: &str, params: &[&(dyn ToSql + Sync)]) -> String {
    match c.query(sql, params).await {
        Ok(rows) => {
            let head = rows.first().map(|r| {
                r.columns()
                    .iter()
                    .map(|c| format!("{}:{}", c.name(), c.type_().name()))
                    .collect::<Vec<_>>()
                    .join(",")
            });
            format!("{head:?} {:?}", render(&rows))
        }
        Err(e) => format!("error {:?}", e.code().map(|c| c.code().to_string())),
    }
}

/// `sql` (with `{t}` for the table) on table `a` through `fast` and on `b` through `slow`: what each answered.
async fn on_both(
    fast: &Client,
    slow: &Client,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
    is_query: bool,
) -> (String, String) {
    let (a, b) = (sql.replace("{t}", "a"), sql.replace("{t}", "b"));
    if is_query {
        (query(fast, &a, params).await, query(slow, &b, params).await)
    } else {
        (
            execute(fast, &a, params).await,
            execute(slow, &b, params).await,
        )
    }
}

async fn execute(c: &Client, sql: &str, params: &[&(dyn ToSql + Sync)]) -> String {
    match c.execute(sql, params).await {
        Ok(n) => format!("ok {n}"),
        Err(e) => format!("error {:?}", e.code().map(|c| c.code().to_string())),
    }
}

async fn metric(http: std::net::SocketAddr, name: &str) -> u64 {
    common::http_get(http, "/metrics")
        .await
        .lines()
        .filter(|l| l.starts_with(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// A server with tables `a` and `b` of these columns, a connection on the fast path (for `a`) and one with
/// the learned index off, so on the DataFusion path (for `b`).
async fn fast_and_slow(
    columns: &str,
) -> (tempfile::TempDir, omendb_server::Running, Client, Client) {
    let dir = tempfile::tempdir().unwrap();
    let c = Config::local(dir.path(), "app", "owner", "pw");
    let s = omendb_server::start(c).await.unwrap();
    let port = s.pg_addr.port();
    let fast = connect(port).await;
    let slow = connect(port).await;
    slow.batch_execute("SET omendb.learned_index = off")
        .await
        .unwrap();
    for t in ["a", "b"] {
        fast.batch_execute(&format!("CREATE TABLE {t} ({columns})"))
            .await
            .unwrap();
    }
    (dir, s, fast, slow)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fast_path_answers_like_datafusion() {
    let (_dir, s, fast, slow) =
        fast_and_slow("id integer PRIMARY KEY, v text NOT NULL, n bigint").await;
    let before = metric(s.http_addr, "omendb_fast_path_total").await;

    let mut rng = StdRng::seed_from_u64(7);
    let mut statements = 0u64;
    for step in 0..1500 {
        let k1: i32 = rng.random_range(-5..60);
        let k2: i32 = rng.random_range(-5..60);
        let k3: i32 = rng.random_range(-5..60);
        let n: Option<i64> = (rng.random_range(0..4) != 0).then(|| rng.random_range(-1000..1000));
        let v = format!("v{}", rng.random_range(0..1000));
        let null_v: Option<String> = None;
        let (sql, params): (&str, Vec<&(dyn ToSql + Sync)>) = match rng.random_range(0..19) {
            0..=2 => ("INSERT INTO {t} VALUES ($1, $2, $3)", vec![&k1, &v, &n]),
            3 => (
                "INSERT INTO {t} (n, id, v) VALUES ($1, $2, $3)",
                vec![&n, &k1, &v],
            ),
            4 => (
                "INSERT INTO {t} (id, v) VALUES ($1, $2)",
                vec![&k1, &null_v],
            ),
            5 => (
                "UPDATE {t} SET v = $2, n = $3 WHERE id = $1",
                vec![&k1, &v, &n],
            ),
            6 => ("DELETE FROM {t} WHERE id = $1", vec![&k1]),
            7 => ("SELECT * FROM {t} WHERE id = $1", vec![&k1]),
            8 => (
                "SELECT n, id FROM {t} WHERE id IN ($1, $2, $3) ORDER BY id",
                vec![&k1, &k2, &k3],
            ),
            9 => (
                "SELECT * FROM {t} WHERE id BETWEEN $1 AND $2 ORDER BY id",
                vec![&k1, &k2],
            ),
            10 => (
                "SELECT v FROM {t} WHERE id >= $1 AND id < $2 ORDER BY id",
                vec![&k1, &k2],
            ),
            11 => (
                "SELECT id AS key, v FROM {t} WHERE $1 < id ORDER BY id",
                vec![&k1],
            ),
            12 => (
                "INSERT INTO {t} (v, id, n) VALUES ($2, $1, $3) RETURNING id, n",
                vec![&k1, &v, &n],
            ),
            13 => (
                "INSERT INTO {t} VALUES ($1, $2, $3) RETURNING *",
                vec![&k1, &v, &n],
            ),
            // Upserts on the key (fast/conflict.rs).
            15 => (
                "INSERT INTO {t} VALUES ($1, $2, $3) ON CONFLICT (id) DO UPDATE SET v = EXCLUDED.v, n = EXCLUDED.n",
                vec![&k1, &v, &n],
            ),
            16 => (
                "INSERT INTO {t} (id, v) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
                vec![&k1, &v],
            ),
            17 => (
                "INSERT INTO {t} VALUES ($1, $2, $3) ON CONFLICT (id) DO UPDATE SET n = $3, v = 'set' RETURNING id, v, n",
                vec![&k1, &v, &n],
            ),
            18 => (
                "INSERT INTO {t} (n, id, v) VALUES ($3, $1, $2) ON CONFLICT DO NOTHING",
                vec![&k1, &v, &n],
            ),
            _ => ("SELECT * FROM {t} WHERE id = 7", vec![]),
        };
        let is_query = sql.starts_with("SELECT") || sql.contains("RETURNING");
        let (ra, rb) = on_both(&fast, &slow, sql, &params, is_query).await;
        assert_eq!(ra, rb, "step {step}: {sql} with {params:?}");
        if !ra.starts_with("error") {
            statements += 1;
        }
    }
    // Literal keys and a transaction: read-your-own-writes through the fast path.
    fast.batch_execute(
        "BEGIN; INSERT INTO a VALUES (1000, 'x', 1); UPDATE a SET n = 2 WHERE id = 1000",
    )
    .await
    .unwrap();
    slow.batch_execute(
        "BEGIN; INSERT INTO b VALUES (1000, 'x', 1); UPDATE b SET n = 2 WHERE id = 1000",
    )
    .await
    .unwrap();
    assert_eq!(
        query(&fast, "SELECT * FROM a WHERE id = 1000", &[]).await,
        query(&slow, "SELECT * FROM b WHERE id = 1000", &[]).await
    );
    fast.batch_execute("ROLLBACK").await.unwrap();
    slow.batch_execute("ROLLBACK").await.unwrap();

    let all_a = query(&fast, "SELECT * FROM a ORDER BY id", &[]).await;
    let all_b = query(&slow, "SELECT * FROM b ORDER BY id", &[]).await;
    assert_eq!(all_a, all_b);
    assert!(all_a.contains("v"), "the random run left rows: {all_a}");
    let used = metric(s.http_addr, "omendb_fast_path_total").await - before;
    // Every successful random statement on `a` ran fast, and the three in the transaction; none on `b`.
    assert_eq!(
        used,
        statements + 3,
        "fast path runs vs successful statements"
    );
    s.stop().await;
}

/// Simple-protocol text: the command tags' row counts and every row's text cells, or the SQLSTATE.
async fn simple(c: &Client, sql: &str) -> String {
    match c.simple_query(sql).await {
        Ok(msgs) => msgs
            .iter()
            .map(|m| match m {
                SimpleQueryMessage::CommandComplete(n) => format!("ok {n}"),
                SimpleQueryMessage::Row(r) => (0..r.len())
                    .map(|i| format!("{:?}", r.get(i)))
                    .collect::<Vec<_>>()
                    .join("|"),
                _ => String::new(),
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Err(e) => format!("error {:?}", e.code().map(|c| c.code().to_string())),
    }
}

/// Literal values as clients without prepared statements send them (psql scripts, ORMs in simple mode):
/// decimal literals into every numeric type take the fast path and store exactly what DataFusion stores.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn literal_inserts_answer_like_datafusion() {
    let (_dir, s, fast, slow) = fast_and_slow(
        "id bigint PRIMARY KEY, d double precision, r real, m numeric(10,2), i integer, \
         s smallint, ts timestamp, v text, ok boolean",
    )
    .await;
    let decimals = [
        "1.5",
        "-0.001",
        "0.1",
        "123.456",
        "1.005",
        "2.5",
        "-2.5",
        "0.0",
        "-0.0",
        "007.250",
        "99999999.99",
        "99999999.999",
        "123456789012.5",
        "1234567890123456789.25",
        "0.000000000000000000000000000001",
        "12345678901234567890123456789012345.678",
        "340282346638528859811704183484516925440.0",
        "3.4028236e38",
        "1e3",
        "9223372036854775808",
    ];
    let before = metric(s.http_addr, "omendb_fast_path_total").await;
    let mut id = 0;
    let mut rows = 0;
    for lit in decimals {
        for col in ["d", "r", "m", "i", "s"] {
            id += 1;
            let sql = |t: &str| {
                format!(
                    "INSERT INTO {t} (id, {col}, ts, v, ok) VALUES ({id}, {lit}, '2021-06-01 12:00:00', 'x', true)"
                )
            };
            let (ra, rb) = (
                simple(&fast, &sql("a")).await,
                simple(&slow, &sql("b")).await,
            );
            assert_eq!(ra, rb, "{}", sql("a"));
            rows += usize::from(ra == "ok 1");
        }
    }
    assert!(rows > 50, "only {rows} literal inserts succeeded");
    let used = metric(s.http_addr, "omendb_fast_path_total").await - before;
    assert!(
        used >= 50,
        "decimal literals should take the fast path: {used} of {rows} did"
    );
    assert_eq!(
        simple(&fast, "SELECT * FROM a ORDER BY id").await,
        simple(&slow, "SELECT * FROM b ORDER BY id").await
    );
    s.stop().await;
}

/// `now()` and `CURRENT_TIMESTAMP` are the transaction's start on both paths, as in PostgreSQL, and a
/// single-row INSERT into a table without a primary key (pgbench_history's shape) takes the fast path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn now_is_the_transaction_start_on_both_paths() {
    let dir = tempfile::tempdir().unwrap();
    let c = Config::local(dir.path(), "app", "owner", "pw");
    let s = omendb_server::start(c).await.unwrap();
    let fast = connect(s.pg_addr.port()).await;
    let slow = connect(s.pg_addr.port()).await;
    slow.batch_execute("SET omendb.learned_index = off")
        .await
        .unwrap();
    for t in ["a", "b"] {
        fast.batch_execute(&format!(
            "CREATE TABLE {t} (n int, ts timestamp, tz timestamptz)"
        ))
        .await
        .unwrap();
    }
    for (c, t) in [(&fast, "a"), (&slow, "b")] {
        let before = metric(s.http_addr, "omendb_fast_path_total{kind=\"insert\"}").await;
        c.batch_execute("BEGIN").await.unwrap();
        let insert = format!("INSERT INTO {t} VALUES ($1, now(), CURRENT_TIMESTAMP)");
        for n in 1..=2i32 {
            assert_eq!(execute(c, &insert, &[&n]).await, "ok 1");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(
            simple(
                c,
                &format!("INSERT INTO {t} VALUES (3, CURRENT_TIMESTAMP, now())")
            )
            .await,
            "ok 1"
        );
        assert_eq!(
            simple(
                c,
                &format!("SELECT count(DISTINCT ts), count(DISTINCT tz), count(*) FILTER (WHERE tz = now()) FROM {t}")
            )
            .await,
            "\nSome(\"1\")|Some(\"1\")|Some(\"3\")\nok 1",
            "{t}: every now() in the transaction is its start"
        );
        c.batch_execute("COMMIT").await.unwrap();
        // Autocommit statements are transactions of their own.
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert_eq!(execute(c, &insert, &[&4i32]).await, "ok 1");
        assert_eq!(
            simple(
                c,
                &format!(
                    "SELECT count(DISTINCT ts), count(DISTINCT tz), bool_and(tz < now()) FROM {t}"
                )
            )
            .await,
            "\nSome(\"2\")|Some(\"2\")|Some(\"t\")\nok 1"
        );
        let used = metric(s.http_addr, "omendb_fast_path_total{kind=\"insert\"}").await - before;
        assert_eq!(used, if t == "a" { 4 } else { 0 }, "{t}: fast inserts");
    }
    s.stop().await;
}

/// Lookups by a secondary index's column on the fast path (`a`) against DataFusion's full scan (`b`, index
/// unused) while rows are written, updated in the indexed column and deleted; also inside a transaction
/// that wrote the table (the index does not cover its own writes there: the answer must not change).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secondary_index_reads_answer_like_datafusion() {
    let (_dir, s, fast, slow) = fast_and_slow("id integer PRIMARY KEY, v text, n bigint").await;
    fast.batch_execute("CREATE INDEX a_n ON a (n); CREATE INDEX b_n ON b (n)")
        .await
        .unwrap();
    let before = metric(s.http_addr, "omendb_fast_path_total{kind=\"select\"}").await;
    let mut rng = StdRng::seed_from_u64(11);
    let mut reads = 0u64;
    for step in 0..800 {
        let k: i32 = rng.random_range(0..80);
        let n1: i64 = rng.random_range(0..12);
        let n2: i64 = rng.random_range(0..12);
        let v = format!("v{}", rng.random_range(0..100));
        let (sql, params): (&str, Vec<&(dyn ToSql + Sync)>) = match rng.random_range(0..8) {
            0 | 1 => ("INSERT INTO {t} VALUES ($1, $2, $3)", vec![&k, &v, &n1]),
            2 => ("UPDATE {t} SET n = $2 WHERE id = $1", vec![&k, &n1]),
            3 => ("DELETE FROM {t} WHERE id = $1", vec![&k]),
            4 | 5 => ("SELECT * FROM {t} WHERE n = $1 ORDER BY id", vec![&n1]),
            6 => (
                "SELECT id, v FROM {t} WHERE n IN ($1, $2) ORDER BY id",
                vec![&n1, &n2],
            ),
            _ => ("SELECT id FROM {t} WHERE $1 = n ORDER BY id", vec![&n1]),
        };
        let is_query = sql.starts_with("SELECT");
        reads += u64::from(is_query);
        let (ra, rb) = on_both(&fast, &slow, sql, &params, is_query).await;
        assert_eq!(ra, rb, "step {step}: {sql} with {params:?}");
    }
    let used = metric(s.http_addr, "omendb_fast_path_total{kind=\"select\"}").await - before;
    assert_eq!(
        used, reads,
        "every read through the index ran on the fast path"
    );
    for (c, t) in [(&fast, "a"), (&slow, "b")] {
        c.batch_execute(&format!(
            "BEGIN; INSERT INTO {t} VALUES (500, 'new', 3); UPDATE {t} SET n = 99 WHERE id IN \
             (SELECT id FROM {t} WHERE n = 4)"
        ))
        .await
        .unwrap();
    }
    for sql in [
        "SELECT * FROM {t} WHERE n = 3 ORDER BY id",
        "SELECT * FROM {t} WHERE n = 99 ORDER BY id",
        "SELECT * FROM {t} WHERE n = 4 ORDER BY id",
    ] {
        assert_eq!(
            query(&fast, &sql.replace("{t}", "a"), &[]).await,
            query(&slow, &sql.replace("{t}", "b"), &[]).await,
            "in a transaction: {sql}"
        );
    }
    fast.batch_execute("ROLLBACK").await.unwrap();
    slow.batch_execute("ROLLBACK").await.unwrap();
    assert_eq!(
        query(&fast, "SELECT * FROM a ORDER BY id", &[]).await,
        query(&slow, "SELECT * FROM b ORDER BY id", &[]).await
    );
    s.stop().await;
}

/// `SET c = c + x` on numeric and double precision columns runs on the fast path (the row locked, then
/// read at its newest version) and answers as DataFusion does, numeric overflow included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn number_increments_answer_like_datafusion() {
    let (_dir, s, fast, slow) =
        fast_and_slow("id bigint PRIMARY KEY, bal numeric(10,2) NOT NULL, f double precision")
            .await;
    for t in ["a", "b"] {
        let c = if t == "a" { &fast } else { &slow };
        c.batch_execute(&format!(
            "INSERT INTO {t} VALUES (1, 100.00, 1.5), (2, 99999999.00, NULL), (3, -5.25, -0.5)"
        ))
        .await
        .unwrap();
    }
    let before = metric(s.http_addr, "omendb_fast_path_total").await;
    let statements = [
        "UPDATE {t} SET bal = bal + 12.34 WHERE id = 1",
        "UPDATE {t} SET bal = bal - 0.01, f = f + 2.25 WHERE id = 1",
        "UPDATE {t} SET bal = bal + 1.5 WHERE id = 3",
        "UPDATE {t} SET f = f - 1 WHERE id = 2",
        "UPDATE {t} SET bal = bal + 1 WHERE id = 2",
        "UPDATE {t} SET bal = bal + 0.999 WHERE id = 3",
        "UPDATE {t} SET f = f - 0.125, bal = bal - 2 WHERE id = 3",
        "UPDATE {t} SET bal = bal + 1 WHERE id = 42",
    ];
    for sql in statements {
        let a = simple(&fast, &sql.replace("{t}", "a")).await;
        let b = simple(&slow, &sql.replace("{t}", "b")).await;
        assert_eq!(a, b, "{sql}");
    }
    assert_eq!(
        simple(&fast, "SELECT * FROM a ORDER BY id").await,
        simple(&slow, "SELECT * FROM b ORDER BY id").await
    );
    let used = metric(s.http_addr, "omendb_fast_path_total").await - before;
    assert!(used >= 6, "the increments ran on the fast path ({used})");
    s.stop().await;
}
