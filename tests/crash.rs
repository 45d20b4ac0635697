//! Crash safety of the real `omendb server` process: SIGKILL it while 8 clients insert (autocommit rows and
//! 5-row transactions); after a restart on the same data directory every acknowledged commit is there, and
//! no transaction is half there.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use omendb_server::scram::Verifier;
use tokio_postgres::NoTls;

fn start(dir: &std::path::Path) -> (Child, u16) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_omendb"))
        .args(["server", "--data-dir"])
        .arg(dir)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--http-listen",
            "127.0.0.1:0",
            "--database",
            "app",
        ])
        .env(
            "OMENDB_USER",
            format!("owner:{}", Verifier::new("pw", 4096)),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn omendb server");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let port = loop {
        let line = lines
            .next()
            .expect("server exited before listening")
            .unwrap();
        if let Some(addr) = line.strip_prefix("postgres listening on ") {
            break addr.rsplit(':').next().unwrap().parse().unwrap();
        }
    };
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, port)
}

/// The ids in table `t` now; fails naming up to ten of `acked` (acknowledged `what`) that are not there.
async fn ids_keeping(
    c: &tokio_postgres::Client,
    acked: &BTreeSet<i64>,
    what: &str,
) -> BTreeSet<i64> {
    let present: BTreeSet<i64> = c
        .query("SELECT id FROM t", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let lost: Vec<_> = acked.difference(&present).take(10).collect();
    assert!(
        lost.is_empty(),
        "acknowledged {what} lost after kill -9: {lost:?}"
    );
    present
}

async fn connect(port: u16) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (c, conn) = tokio_postgres::connect(
        &format!("host=127.0.0.1 port={port} user=owner password=pw dbname=app"),
        NoTls,
    )
    .await?;
    tokio::spawn(conn);
    Ok(c)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_during_concurrent_inserts_keeps_every_acknowledged_commit() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, port) = start(dir.path());
    let c = connect(port).await.unwrap();
    c.batch_execute("CREATE TABLE t (id bigint PRIMARY KEY, client int NOT NULL, payload text)")
        .await
        .unwrap();

    let acked: Arc<Mutex<BTreeSet<i64>>> = Arc::default();
    // Transactions whose COMMIT was sent: (first id, acknowledged).
    let txns: Arc<Mutex<Vec<(i64, bool)>>> = Arc::default();
    let mut workers = vec![];
    for client in 0..8i64 {
        let (acked, txns) = (acked.clone(), txns.clone());
        workers.push(tokio::spawn(async move {
            let Ok(c) = connect(port).await else { return };
            let Ok(ins) = c.prepare("INSERT INTO t VALUES ($1, $2, $3)").await else {
                return;
            };
            for i in 0.. {
                let id = client * 1_000_000 + i * 10;
                if i % 4 == 3 {
                    let sql = (0..5)
                        .map(|j| format!("INSERT INTO t VALUES ({}, {client}, 'txn');", id + j))
                        .collect::<String>();
                    txns.lock().unwrap().push((id, false));
                    let r = c.batch_execute(&format!("BEGIN; {sql} COMMIT")).await;
                    if r.is_err() {
                        return;
                    }
                    txns.lock().unwrap().last_mut().unwrap().1 = true;
                    acked.lock().unwrap().extend(id..id + 5);
                } else {
                    let payload = format!("row {id}");
                    if c.execute(&ins, &[&id, &(client as i32), &payload])
                        .await
                        .is_err()
                    {
                        return;
                    }
                    acked.lock().unwrap().insert(id);
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.kill().unwrap(); // SIGKILL: no shutdown, no flush
    server.wait().unwrap();
    for w in workers {
        w.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 100,
        "only {} commits acknowledged before the kill",
        acked.len()
    );

    let (mut server, port) = start(dir.path());
    let c = connect(port).await.unwrap();
    let present = ids_keeping(&c, &acked, "commits").await;
    for (first, ack) in txns.lock().unwrap().iter() {
        let n = (*first..*first + 5)
            .filter(|id| present.contains(id))
            .count();
        assert!(
            n == 0 || n == 5,
            "transaction at {first} (acknowledged: {ack}) is half there: {n} of 5 rows"
        );
    }
    // The restarted server keeps taking writes.
    c.execute("INSERT INTO t VALUES (-1, 0, 'after')", &[])
        .await
        .unwrap();
    server.kill().unwrap();
    server.wait().unwrap();
}

/// SIGKILL while sessions hold row locks and others wait for them, and counters are incremented under those
/// locks: after a restart every acknowledged increment is there, the holder's uncommitted write is not, and
/// no lock survived (NOWAIT takes every row at once).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_while_locks_are_held_and_awaited() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, port) = start(dir.path());
    let c = connect(port).await.unwrap();
    c.batch_execute(
        "CREATE TABLE hot (id int PRIMARY KEY, n bigint NOT NULL);
         INSERT INTO hot VALUES (1, 0), (2, 0), (3, 0)",
    )
    .await
    .unwrap();
    // The holder: an uncommitted write to row 3, never committed.
    let holder = connect(port).await.unwrap();
    holder
        .batch_execute("BEGIN; UPDATE hot SET n = n + 1000 WHERE id = 3")
        .await
        .unwrap();
    // Waiters on row 3: blocked until the crash.
    let mut waiters = vec![];
    for _ in 0..2 {
        let w = connect(port).await.unwrap();
        waiters.push(tokio::spawn(async move {
            let _ = w
                .execute("UPDATE hot SET n = n + 1 WHERE id = 3", &[])
                .await;
        }));
    }
    // Incrementers on rows 1 and 2 (contending with each other), counting acknowledgements.
    let acked: Arc<Mutex<[i64; 2]>> = Arc::default();
    let mut workers = vec![];
    for client in 0..4usize {
        let acked = acked.clone();
        workers.push(tokio::spawn(async move {
            let Ok(c) = connect(port).await else { return };
            let Ok(up) = c.prepare("UPDATE hot SET n = n + 1 WHERE id = $1").await else {
                return;
            };
            for i in 0.. {
                let row = (client + i) % 2;
                match c.execute(&up, &[&(row as i32 + 1)]).await {
                    Ok(1) => acked.lock().unwrap()[row] += 1,
                    _ => return,
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    server.kill().unwrap();
    server.wait().unwrap();
    for w in workers.into_iter().chain(waiters) {
        let _ = w.await;
    }
    let acked = *acked.lock().unwrap();
    assert!(
        acked[0] + acked[1] > 10,
        "too few increments before the kill: {acked:?}"
    );

    let (mut server, port) = start(dir.path());
    let c = connect(port).await.unwrap();
    for (row, n) in acked.iter().enumerate() {
        let got: i64 = c
            .query_one("SELECT n FROM hot WHERE id = $1", &[&(row as i32 + 1)])
            .await
            .unwrap()
            .get(0);
        // Acknowledged increments are all there; at most one in flight per client at the kill is extra.
        assert!(
            got >= *n && got <= *n + 4,
            "row {}: {got} after restart, {n} acknowledged",
            row + 1
        );
    }
    let held: i64 = c
        .query_one("SELECT n FROM hot WHERE id = 3", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        held, 0,
        "the uncommitted holder's write (or a waiter's) survived"
    );
    c.batch_execute("BEGIN; SELECT * FROM hot FOR UPDATE NOWAIT; COMMIT")
        .await
        .expect("a lock survived the restart");
    server.kill().unwrap();
    server.wait().unwrap();
}

/// SIGKILL while clients insert into a table with a UNIQUE index, a plain index, a CHECK and a FOREIGN KEY, and
/// another session creates and drops an index over and over: after a restart every acknowledged row is there,
/// lookups through the indexes equal a scan, and every constraint is still enforced (the schema is as of
/// before or after each DDL statement).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_during_writes_and_index_ddl_keeps_indexes_and_constraints() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, port) = start(dir.path());
    let c = connect(port).await.unwrap();
    c.batch_execute(
        "CREATE TABLE p (id bigint PRIMARY KEY);
         INSERT INTO p SELECT i FROM generate_series(1, 100) i;
         CREATE TABLE t (id bigint PRIMARY KEY, u bigint UNIQUE, g int NOT NULL CHECK (g >= 0),
                         pid bigint REFERENCES p);
         CREATE INDEX t_g ON t (g);",
    )
    .await
    .unwrap();
    let acked: Arc<Mutex<BTreeSet<i64>>> = Arc::default();
    let mut workers = vec![];
    for client in 0..4i64 {
        let acked = acked.clone();
        workers.push(tokio::spawn(async move {
            let Ok(c) = connect(port).await else { return };
            let Ok(ins) = c.prepare("INSERT INTO t VALUES ($1, $1, $2, $3)").await else {
                return;
            };
            for i in 0.. {
                let id = client * 1_000_000 + i;
                let (g, pid) = ((id % 10) as i32, id % 100 + 1);
                if c.execute(&ins, &[&id, &g, &pid]).await.is_err() {
                    return;
                }
                acked.lock().unwrap().insert(id);
            }
        }));
    }
    workers.push(tokio::spawn(async move {
        let Ok(c) = connect(port).await else { return };
        loop {
            if c.batch_execute("CREATE INDEX t_pid ON t (pid)")
                .await
                .is_err()
                || c.batch_execute("DROP INDEX t_pid").await.is_err()
            {
                return;
            }
        }
    }));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.kill().unwrap();
    server.wait().unwrap();
    for w in workers {
        w.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() > 50, "only {} rows acknowledged", acked.len());

    let (mut server, port) = start(dir.path());
    let c = connect(port).await.unwrap();
    let present = ids_keeping(&c, &acked, "rows").await;
    // Every lookup through t_g (and t_pid, if its CREATE survived) equals the scan's count.
    for g in 0..10i32 {
        let through_index: i64 = c
            .query_one("SELECT count(*) FROM t WHERE g = $1", &[&g])
            .await
            .unwrap()
            .get(0);
        let scanned = present.iter().filter(|id| (*id % 10) as i32 == g).count() as i64;
        assert_eq!(through_index, scanned, "g = {g}");
    }
    let pid_count: i64 = c
        .query_one("SELECT count(*) FROM t WHERE pid = 7", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        pid_count,
        present.iter().filter(|id| *id % 100 + 1 == 7).count() as i64
    );
    let any = *present.iter().next().unwrap();
    for (sql, state) in [
        (format!("INSERT INTO t VALUES (-1, {any}, 0, 1)"), "23505"),
        ("INSERT INTO t VALUES (-2, -2, -1, 1)".to_string(), "23514"),
        ("INSERT INTO t VALUES (-3, -3, 0, 999)".to_string(), "23503"),
    ] {
        let e = c.batch_execute(&sql).await.unwrap_err();
        assert_eq!(e.code().unwrap().code(), state, "{sql}");
    }
    server.kill().unwrap();
    server.wait().unwrap();
}

/// SIGKILL while clients insert and another session adds columns over and over (ALTER TABLE without a
/// rewrite: rows stored before a column exist read its DEFAULT): after a restart every acknowledged row
/// and every acknowledged column is there, at most one more column (an ALTER whose answer was lost), and
/// every row reads each column's value, whether it was written before or after the column.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_during_writes_and_add_column_keeps_rows_and_columns() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, port) = start(dir.path());
    let c = connect(port).await.unwrap();
    c.batch_execute(
        "CREATE TABLE t (id bigint PRIMARY KEY, v bigint NOT NULL);
         INSERT INTO t SELECT i, i FROM generate_series(-5000, -1) i;",
    )
    .await
    .unwrap();
    let acked: Arc<Mutex<BTreeSet<i64>>> = Arc::default();
    let columns = Arc::new(Mutex::new(0i64));
    let mut workers = vec![];
    for client in 0..4i64 {
        let acked = acked.clone();
        workers.push(tokio::spawn(async move {
            let Ok(c) = connect(port).await else { return };
            for i in 0.. {
                let id = client * 1_000_000 + i;
                // A column list, so the INSERT means the same before and after each ADD COLUMN.
                let sql = format!("INSERT INTO t (id, v) VALUES ({id}, {id})");
                if c.execute(sql.as_str(), &[]).await.is_err() {
                    return;
                }
                acked.lock().unwrap().insert(id);
            }
        }));
    }
    let added = columns.clone();
    workers.push(tokio::spawn(async move {
        let Ok(c) = connect(port).await else { return };
        for n in 1.. {
            let sql = format!("ALTER TABLE t ADD COLUMN c{n} int NOT NULL DEFAULT {n}");
            if c.batch_execute(&sql).await.is_err() {
                return;
            }
            *added.lock().unwrap() = n;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.kill().unwrap();
    server.wait().unwrap();
    for w in workers {
        w.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    let columns = *columns.lock().unwrap();
    assert!(acked.len() > 50, "only {} rows acknowledged", acked.len());
    assert!(columns > 3, "only {columns} columns added");

    let (mut server, port) = start(dir.path());
    let c = connect(port).await.unwrap();
    let present = ids_keeping(&c, &acked, "rows").await;
    assert!(present.len() >= acked.len() + 5000);
    let names: Vec<String> = c
        .query(
            "SELECT attname::text FROM pg_attribute WHERE attrelid = 't'::regclass AND attnum > 2 ORDER BY attnum",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let n = names.len() as i64;
    assert!(
        n == columns || n == columns + 1,
        "{n} columns after the restart, {columns} acknowledged"
    );
    let expect: Vec<String> = (1..=n).map(|i| format!("c{i}")).collect();
    assert_eq!(names, expect);
    for i in 1..=n {
        let wrong: i64 = c
            .query_one(
                &format!("SELECT count(*) FROM t WHERE c{i} IS DISTINCT FROM {i} OR v <> id"),
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(wrong, 0, "rows whose c{i} is not {i}");
    }
    // Still a table that takes writes and another column.
    c.batch_execute(
        "INSERT INTO t (id, v) VALUES (-99999, -99999); ALTER TABLE t ADD COLUMN z text",
    )
    .await
    .unwrap();
    server.kill().unwrap();
    server.wait().unwrap();
}
