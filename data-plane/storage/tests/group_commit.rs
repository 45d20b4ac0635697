//! Group commit: threads that commit in place (and lead groups for each other) alongside callers that queue
//! a callback, a row-lock hot spot that makes leaders hand the queue on, and a transaction that outlives its
//! database handle.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use omendb_storage::{
    ColumnDef, DataType, Database, Error, Key, KeyRange, LockMode, Options, TableDef, Value,
    WaitPolicy,
};

fn def(name: &str) -> TableDef {
    TableDef {
        name: name.into(),
        columns: vec![
            ColumnDef::new("k", DataType::BigInt),
            ColumnDef::new("v", DataType::BigInt),
        ],
        primary_key: Some(0),
    }
}

fn opts() -> Options {
    Options {
        background: false,
        ..Options::default()
    }
}

#[test]
fn blocking_and_callback_commits_are_each_answered_once_with_their_own_lsn() {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(Database::open(dir.path(), opts()).unwrap());
    db.create_table(def("t")).unwrap();
    db.create_table(def("hot")).unwrap();
    let mut t = db.begin();
    t.insert("hot", vec![Value::Int64(1), Value::Int64(0)])
        .unwrap();
    t.commit().unwrap();

    const THREADS: i64 = 6;
    const EACH: i64 = 150;
    const CALLBACKS: i64 = 300;
    let (lsn_tx, lsn_rx) = mpsc::channel::<u64>();
    let mut handles = Vec::new();
    for th in 0..THREADS {
        let db = db.clone();
        let lsn_tx = lsn_tx.clone();
        handles.push(std::thread::spawn(move || {
            for i in 0..EACH {
                let mut t = db.begin();
                t.insert("t", vec![Value::Int64(th * 1_000_000 + i), Value::Int64(i)])
                    .unwrap();
                // Every third transaction also increments one hot row: its lock holders queue behind each
                // other's commits, so groups form and leading passes between threads.
                if i % 3 == 0 {
                    increment_hot(&mut t, 1);
                }
                lsn_tx.send(t.commit().unwrap().lsn).unwrap();
            }
        }));
    }
    let callbacks = {
        let db = db.clone();
        let lsn_tx = lsn_tx.clone();
        std::thread::spawn(move || {
            let (done_tx, done_rx) = mpsc::channel();
            for i in 0..CALLBACKS {
                let mut t = db.begin();
                t.insert("t", vec![Value::Int64(-1 - i), Value::Int64(i)])
                    .unwrap();
                let done_tx = done_tx.clone();
                t.commit_then(move |r| done_tx.send(r.map(|c| c.lsn)).unwrap());
            }
            drop(done_tx);
            for r in done_rx {
                lsn_tx.send(r.unwrap()).unwrap();
            }
        })
    };
    drop(lsn_tx);
    for h in handles {
        h.join().unwrap();
    }
    callbacks.join().unwrap();

    let lsns: Vec<u64> = lsn_rx.iter().collect();
    assert_eq!(lsns.len() as i64, THREADS * EACH + CALLBACKS);
    let distinct: HashSet<u64> = lsns.iter().copied().collect();
    assert_eq!(distinct.len(), lsns.len(), "an LSN was given twice");
    assert!(lsns.iter().all(|&l| l > 0));

    let hot_increments = THREADS * ((EACH + 2) / 3);
    let check = |db: &Database| {
        let rows = db.table("t").unwrap().rows(KeyRange::all()).unwrap().len() as i64;
        assert_eq!(rows, THREADS * EACH + CALLBACKS);
        let hot = db.table("hot").unwrap().get(&Key::Int(1)).unwrap().unwrap();
        assert_eq!(hot[1], Value::Int64(hot_increments));
    };
    check(&db);
    drop(Arc::into_inner(db).expect("every thread is done"));
    check(&Database::open(dir.path(), opts()).unwrap());
}

/// Adds one to `hot`'s row `key` under its row lock, waiting for the lock like an UPDATE.
fn increment_hot(t: &mut omendb_storage::WriteTxn, key: i64) {
    let key = Key::Int(key);
    let mut granted = None;
    loop {
        match t.lock_row("hot", &key, LockMode::NoKeyUpdate, WaitPolicy::Wait) {
            Ok(_) => break,
            Err(Error::LockWait { wait, .. }) => {
                assert!(wait.block(Duration::from_secs(60)), "lock never granted");
                granted = Some(wait);
            }
            Err(e) => panic!("{e}"),
        }
    }
    drop(granted);
    let row = t.get_latest("hot", &key).unwrap().unwrap();
    let Value::Int64(n) = row[1] else {
        panic!("{row:?}")
    };
    t.update("hot", &key, vec![key_value(&key), Value::Int64(n + 1)])
        .unwrap();
}

fn key_value(key: &Key) -> Value {
    match key {
        Key::Int(k) => Value::Int64(*k),
        other => panic!("{other:?}"),
    }
}

/// Row groups are applied under the commit lock and made durable outside it (the next group is applied
/// during the previous one's fsync); retrains, DDL and serializable validation must first wait for what is
/// staged. All of them at once: nothing acknowledged is lost or doubled, before and after a reopen.
#[test]
fn staged_groups_meet_retrains_ddl_and_serializable_commits() {
    let dir = tempfile::tempdir().unwrap();
    let o = Options {
        tail_seal_rows: 64,
        chunk_rows: 256,
        ..opts()
    };
    let db = Arc::new(Database::open(dir.path(), o.clone()).unwrap());
    db.create_table(def("t")).unwrap();
    db.create_table(def("hot")).unwrap();
    let mut t = db.begin();
    for k in 0..4 {
        t.insert("hot", vec![Value::Int64(k), Value::Int64(0)])
            .unwrap();
    }
    t.commit().unwrap();

    const THREADS: i64 = 4;
    const EACH: i64 = 250;
    let mut handles = Vec::new();
    for th in 0..THREADS {
        let db = db.clone();
        handles.push(std::thread::spawn(move || {
            for i in 0..EACH {
                let mut t = db.begin();
                t.insert("t", vec![Value::Int64(th * 1_000_000 + i), Value::Int64(i)])
                    .unwrap();
                increment_hot(&mut t, i % 4);
                t.commit().unwrap();
            }
        }));
    }
    // Meanwhile: retrains (they drain the staged groups under the commit lock), tables created (DDL commits
    // through the metadata store after what is staged), and serializable transactions that move one unit
    // between two hot rows: each either commits whole or fails with 40001.
    let moved = {
        let db = db.clone();
        std::thread::spawn(move || {
            let mut moved = 0i64;
            for round in 0..40 {
                db.retrain("t").unwrap();
                db.create_table(def(&format!("x{round}"))).unwrap();
                let mut t = db.begin_with(omendb_storage::TxnOptions {
                    isolation: omendb_storage::Isolation::Serializable,
                    ..Default::default()
                });
                let from = t.get("hot", &Key::Int(0)).unwrap().unwrap();
                let Value::Int64(n) = from[1] else {
                    panic!("{from:?}")
                };
                t.insert("t", vec![Value::Int64(-1 - round), Value::Int64(n)])
                    .unwrap();
                match t.commit() {
                    Ok(_) => moved += 1,
                    Err(Error::SerializationFailure { .. }) => {}
                    Err(e) => panic!("{e}"),
                }
            }
            moved
        })
    };
    for h in handles {
        h.join().unwrap();
    }
    let moved = moved.join().unwrap();

    let check = |db: &Database| {
        let rows = db.table("t").unwrap().rows(KeyRange::all()).unwrap().len() as i64;
        assert_eq!(rows, THREADS * EACH + moved);
        let mut sum = 0;
        for k in 0..4 {
            let hot = db.table("hot").unwrap().get(&Key::Int(k)).unwrap().unwrap();
            let Value::Int64(n) = hot[1] else {
                panic!("{hot:?}")
            };
            sum += n;
        }
        assert_eq!(sum, THREADS * EACH);
        assert_eq!(db.table_names().len(), 2 + 40);
    };
    check(&db);
    drop(Arc::into_inner(db).expect("every thread is done"));
    check(&Database::open(dir.path(), o).unwrap());
}

#[test]
fn a_transaction_that_outlives_its_database_handle_still_commits() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), opts()).unwrap();
    db.create_table(def("t")).unwrap();
    let mut blocking = db.begin();
    blocking
        .insert("t", vec![Value::Int64(1), Value::Int64(1)])
        .unwrap();
    let mut callback = db.begin();
    callback
        .insert("t", vec![Value::Int64(2), Value::Int64(2)])
        .unwrap();
    drop(db);
    assert!(blocking.commit().unwrap().lsn > 0);
    let (tx, rx) = mpsc::channel();
    callback.commit_then(move |r| tx.send(r).unwrap());
    assert!(rx.recv().unwrap().unwrap().lsn > 0);
    let db = Database::open(dir.path(), opts()).unwrap();
    assert_eq!(
        db.table("t").unwrap().rows(KeyRange::all()).unwrap().len(),
        2
    );
}
