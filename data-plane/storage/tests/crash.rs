//! Crash test: a child process commits transactions from several threads while retraining runs, printing
//! each acknowledged commit; the parent kills it with SIGKILL at random moments and, after every kill,
//! reopens the directory and checks that every acknowledged commit is there and no partial one is.
//!
//! Each worker owns a key range and commits transaction i as: insert key i in tables `a` and `b`, update
//! key i-1 in both, and on even i delete key i-2 in both. So the content of a worker's range identifies
//! exactly how many of its transactions committed, and any torn commit shows up as a mismatch.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use omendb_storage::{
    ColumnDef, DataType, Database, Key, KeyRange, Options, RetrainPolicy, TableDef, Value,
};
use rand::Rng;

const CHILD_DIR: &str = "OMENDB_CRASH_CHILD_DIR";
const WORKERS: i64 = 4;

fn opts(background: bool) -> Options {
    Options {
        epsilon: 8,
        chunk_rows: 500,
        tail_seal_rows: 64,
        bulk_rows: 1 << 20,
        retrain: RetrainPolicy {
            min_delta_rows: 50,
            delta_fraction: 0.0,
            flush_rows: 128,
            ..RetrainPolicy::automatic()
        },
        background,
        cache_bytes: 4 << 20,
        // A cache smaller than the tables, and pages of few rows: reads evict and reload pages.
        chunk_cache_bytes: 128 << 10,
        page_rows: 32,
        // Retraining cuts chunks by bytes too.
        chunk_build_bytes: 4 << 10,
        // Small segments: rotation and truncation of the commit log happen within the test.
        wal_segment_bytes: 16 << 10,
    }
}

fn key(w: i64, i: i64) -> i64 {
    (w << 32) | i
}

/// What worker `w`'s range holds after its transactions 1..=last.
fn model(last: i64) -> BTreeMap<i64, i64> {
    let mut m = BTreeMap::new();
    for i in 1..=last {
        m.insert(i, i);
        if i >= 2 {
            m.insert(i - 1, 1000 + i - 1);
        }
        if i >= 3 && i % 2 == 0 {
            m.remove(&(i - 2));
        }
    }
    m
}

fn worker_rows(db: &Database, table: &str, w: i64) -> BTreeMap<i64, i64> {
    let range = KeyRange::new(
        std::ops::Bound::Included(Key::Int(key(w, 0))),
        std::ops::Bound::Excluded(Key::Int(key(w + 1, 0))),
    );
    db.table(table)
        .unwrap()
        .rows(range)
        .unwrap()
        .into_iter()
        .map(|(k, r)| {
            let Key::Int(k) = k else {
                panic!("integer keys")
            };
            let Value::Int64(v) = r[1] else {
                panic!("bigint value")
            };
            (k & 0xffff_ffff, v)
        })
        .collect()
}

fn child(dir: &str) {
    let db = Arc::new(Database::open(dir, opts(true)).expect("child open"));
    for t in ["a", "b"] {
        if db.table(t).is_err() {
            let def = TableDef {
                name: t.into(),
                columns: vec![
                    ColumnDef::new("k", DataType::BigInt),
                    ColumnDef::new("v", DataType::BigInt),
                ],
                primary_key: Some(0),
            };
            // Creating `a` and `b` is two commits: a kill in between leaves `a` only, which is fine.
            db.create_table(def).expect("create");
        }
    }
    println!("ready");
    let mut threads = Vec::new();
    for w in 0..WORKERS {
        let db = db.clone();
        threads.push(std::thread::spawn(move || {
            let mut i = worker_rows(&db, "a", w).keys().max().copied().unwrap_or(0) + 1;
            loop {
                let mut tx = db.begin();
                for t in ["a", "b"] {
                    tx.insert(t, vec![Value::Int64(key(w, i)), Value::Int64(i)])
                        .unwrap();
                    if i >= 2 {
                        let k = Key::Int(key(w, i - 1));
                        assert!(
                            tx.update(
                                t,
                                &k,
                                vec![Value::Int64(key(w, i - 1)), Value::Int64(1000 + i - 1)]
                            )
                            .unwrap()
                        );
                    }
                    if i >= 3 && i % 2 == 0 {
                        assert!(tx.delete(t, &Key::Int(key(w, i - 2))).unwrap());
                    }
                }
                tx.commit().expect("commit");
                println!("ack {w} {i}");
                i += 1;
            }
        }));
    }
    // Explicit retrains on top of the background ones, so kills land inside retraining often.
    loop {
        std::thread::sleep(Duration::from_millis(3));
        for t in ["a", "b"] {
            println!("retrain start");
            let _ = db.retrain(t);
            println!("retrain end");
        }
    }
}

#[test]
fn crash_child_entry() {
    if let Ok(dir) = std::env::var(CHILD_DIR) {
        child(&dir);
    }
}

#[test]
fn acknowledged_commits_survive_sigkill() {
    let rounds: usize = std::env::var("OMENDB_CRASH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut acked = [0i64; WORKERS as usize];
    let mut rng = rand::rng();
    let mut total_acks = 0usize;
    let mut kills_in_retrain = 0usize;
    for round in 0..rounds {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "crash_child_entry",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env(CHILD_DIR, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let acks = Arc::new(Mutex::new(Vec::<(usize, i64)>::new()));
        let in_retrain = Arc::new(Mutex::new(false));
        let reader = {
            let (acks, in_retrain) = (acks.clone(), in_retrain.clone());
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    match line.as_str() {
                        "retrain start" => *in_retrain.lock().unwrap() = true,
                        "retrain end" => *in_retrain.lock().unwrap() = false,
                        _ => {}
                    }
                    if let Some(rest) = line.strip_prefix("ack ") {
                        let mut it = rest.split(' ');
                        let w: usize = it.next().unwrap().parse().unwrap();
                        let i: i64 = it.next().unwrap().parse().unwrap();
                        acks.lock().unwrap().push((w, i));
                    }
                }
            })
        };
        std::thread::sleep(Duration::from_millis(rng.random_range(30..400)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        reader.join().unwrap();
        if *in_retrain.lock().unwrap() {
            kills_in_retrain += 1;
        }
        for (w, i) in acks.lock().unwrap().iter() {
            acked[*w] = acked[*w].max(*i);
            total_acks += 1;
        }

        let db = Database::open(dir.path(), opts(false))
            .unwrap_or_else(|e| panic!("round {round}: reopen: {e}"));
        if db.table("b").is_err() {
            assert_eq!(
                acked, [0; WORKERS as usize],
                "round {round}: tables missing after commits were acknowledged"
            );
            continue;
        }
        for w in 0..WORKERS {
            let a = worker_rows(&db, "a", w);
            let b = worker_rows(&db, "b", w);
            let last = a.keys().max().copied().unwrap_or(0);
            let acked_w = acked[w as usize];
            assert!(
                last >= acked_w,
                "round {round}: worker {w} acknowledged {acked_w} but only {last} survived"
            );
            assert!(
                last <= acked_w + 1,
                "round {round}: worker {w} has {last}, acknowledged only {acked_w}"
            );
            assert_eq!(
                a,
                model(last),
                "round {round}: worker {w} table a is not the state after commit {last}"
            );
            assert_eq!(
                b,
                model(last),
                "round {round}: worker {w} table b differs from a: torn commit"
            );
            // A commit that was durable but killed before its acknowledgement is the next round's
            // starting point: without this, two such rounds in a row would look like a phantom commit.
            acked[w as usize] = last;
        }
    }
    assert!(
        total_acks > rounds,
        "the child acknowledged too few commits ({total_acks}) to test anything"
    );
    eprintln!(
        "crash test: {rounds} kills ({kills_in_retrain} inside a retrain), {total_acks} acknowledged commits, all present"
    );
    assert!(
        rounds < 20 || kills_in_retrain > 0,
        "no kill landed inside a retrain"
    );
}
