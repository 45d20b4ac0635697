//! The chunk cache under pressure: a cache far smaller than the table, pages of a few rows, readers on
//! several threads doing point lookups and range scans while retraining retires the chunks they read and
//! writers rewrite rows. Every answer is checked against the rows' formula: no reader ever sees a page of
//! another chunk, a freed page, or a stale one; and the cache stays within its budget.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use omendb_storage::{
    ColumnDef, DataType, Database, Key, KeyRange, Options, RetrainPolicy, TableDef, Value,
};
use rand::Rng;

const ROWS: i64 = 20_000;
const BUDGET: usize = 48 << 10;

fn opts() -> Options {
    Options {
        chunk_rows: 1500,
        tail_seal_rows: 256,
        bulk_rows: 1024,
        retrain: RetrainPolicy {
            min_delta_rows: 200,
            delta_fraction: 0.0,
            flush_rows: 512,
            ..RetrainPolicy::automatic()
        },
        background: true,
        chunk_cache_bytes: BUDGET,
        page_rows: 64,
        ..Options::default()
    }
}

fn row(k: i64) -> Vec<Value> {
    vec![
        Value::Int64(k),
        Value::Int64(k * 3),
        Value::Text(format!("row {k:08}")),
    ]
}

fn check(k: i64, r: &[Value]) {
    assert_eq!(r, row(k).as_slice(), "row {k}");
}

#[test]
fn readers_see_whole_rows_while_pages_are_evicted_and_chunks_retired() {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(Database::open(dir.path(), opts()).unwrap());
    db.create_table(TableDef {
        name: "t".into(),
        columns: vec![
            ColumnDef::new("k", DataType::BigInt),
            ColumnDef::new("v", DataType::BigInt),
            ColumnDef::new("s", DataType::Text),
        ],
        primary_key: Some(0),
    })
    .unwrap();
    // Even keys in bulk (chunk files), odd keys later one by one (delta, then retrained into chunks).
    let mut tx = db.begin();
    for k in (0..ROWS).step_by(2) {
        tx.insert("t", row(k)).unwrap();
    }
    tx.commit().unwrap();
    db.retrain("t").unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = vec![];
    for seed in 0..3u64 {
        let (db, stop) = (db.clone(), stop.clone());
        threads.push(std::thread::spawn(move || {
            let mut rng = rand::rng();
            let mut reads = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let t = db.table("t").unwrap();
                let k = rng.random_range(0..ROWS / 2) * 2;
                check(
                    k,
                    &t.get(&Key::Int(k))
                        .unwrap()
                        .expect("even keys always exist"),
                );
                if (reads + seed).is_multiple_of(16) {
                    let lo = rng.random_range(0..ROWS - 500);
                    let rows = t
                        .rows(KeyRange::new(
                            std::ops::Bound::Included(Key::Int(lo)),
                            std::ops::Bound::Excluded(Key::Int(lo + 500)),
                        ))
                        .unwrap();
                    let mut prev = None;
                    for (key, r) in &rows {
                        let Key::Int(k) = key else { panic!("int keys") };
                        assert!((lo..lo + 500).contains(k), "key {k} outside the range");
                        assert!(prev < Some(*k), "keys out of order at {k}");
                        prev = Some(*k);
                        check(*k, r);
                    }
                    let evens = rows
                        .iter()
                        .filter(|(k, _)| matches!(k, Key::Int(k) if k % 2 == 0));
                    assert_eq!(
                        evens.count(),
                        250,
                        "every even key of [{lo}, {}) is there",
                        lo + 500
                    );
                }
                reads += 1;
            }
            reads
        }));
    }
    // Odd keys arrive one commit at a time; rows are rewritten with their own values; retraining runs
    // in the background and on demand, retiring the chunks the readers hold.
    let mut rng = rand::rng();
    for k in (1..ROWS).step_by(2) {
        let mut tx = db.begin();
        tx.insert("t", row(k)).unwrap();
        let again = rng.random_range(0..ROWS / 2) * 2;
        assert!(tx.update("t", &Key::Int(again), row(again)).unwrap());
        tx.commit().unwrap();
        if k % 2001 == 0 {
            db.retrain("t").unwrap();
        }
    }
    db.retrain("t").unwrap();
    stop.store(true, Ordering::Relaxed);
    let reads: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert!(reads > 1000, "readers ran ({reads} reads)");

    let t = db.table("t").unwrap();
    let all = t.rows(KeyRange::all()).unwrap();
    assert_eq!(all.len() as i64, ROWS);
    for (k, r) in &all {
        let Key::Int(k) = k else { panic!() };
        check(*k, r);
    }
    let c = db.cache_report();
    assert!(c.evictions > 0 && c.hits > 0 && c.misses > 0, "{c:?}");
    // Nothing pins pages now: the cache is within its budget (a page may overshoot it by one page).
    assert!(c.bytes <= BUDGET + (32 << 10), "{c:?}");
}
