//! Table-level figures for the storage engine, each side by side with a peer in the same run:
//! durable bulk load (vs one redb transaction), group commit from 32 writers (vs redb, one fsync per commit),
//! retraining 10% delta into a table with point lookups running (p99 during vs before), point lookups
//! through the engine (vs `BTreeMap`), and reopen to first answered lookup (in a fresh process, with RSS).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use arrow_array::{ArrayRef, Float64Array, Int32Array, Int64Array, RecordBatch};
use omendb_storage::{ColumnDef, DataType, Database, Key, Options, TableDef, Value};
use rand::{Rng, SeedableRng};

use crate::report::{Report, Table};

/// Env var that turns this binary into the reopen probe (a fresh process, so RSS is the engine's alone).
pub const PROBE_ENV: &str = "OMENDB_BENCH_REOPEN_PROBE";

fn def() -> TableDef {
    TableDef {
        name: "bench".into(),
        columns: vec![
            ColumnDef::new("id", DataType::BigInt),
            ColumnDef::new("a", DataType::BigInt),
            ColumnDef::new("b", DataType::Double),
            ColumnDef::new("c", DataType::Integer),
        ],
        primary_key: Some(0),
    }
}

fn row(k: i64) -> Vec<Value> {
    vec![
        Value::Int64(k),
        Value::Int64(k ^ 0x5555),
        Value::Float64(k as f64 * 0.5),
        Value::Int32(k as i32),
    ]
}

fn opts() -> Options {
    // Retraining is what this suite measures, so it runs when the suite says, not in the background.
    Options {
        background: false,
        ..Options::default()
    }
}

fn fmt(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize] as f64
}

/// How big a run is.
#[derive(Clone, Copy, Debug)]
pub struct Scale {
    pub rows: i64,
    pub label: &'static str,
    pub commit_secs: u64,
}

impl Scale {
    pub const FULL: Scale = Scale {
        rows: 10_000_000,
        label: "10M",
        commit_secs: 6,
    };
    pub const QUICK: Scale = Scale {
        rows: 1_000_000,
        label: "1M",
        commit_secs: 2,
    };
    /// Exercises every measurement in seconds, for `scripts/test`; its figures mean nothing.
    pub const SMOKE: Scale = Scale {
        rows: 20_000,
        label: "20K",
        commit_secs: 1,
    };
}

pub fn run(report: &mut Report, scale: Scale) -> anyhow::Result<()> {
    let Scale {
        rows,
        label,
        commit_secs: secs,
    } = scale;
    let dir = tempfile::tempdir_in(bench_dir())?;

    // 1. Durable bulk load: one transaction, keys in order (even keys, so the delta later lands between).
    //    Columnar batches (the COPY / INSERT ... SELECT path) into `bench`, row by row into `rows`.
    let db = Database::open(dir.path(), opts())?;
    db.create_table(def())?;
    db.create_table(TableDef {
        name: "rows".into(),
        ..def()
    })?;
    let schema = db.table("bench")?.schema();
    let t0 = Instant::now();
    let mut tx = db.begin();
    let mut start = 0;
    while start < rows {
        let ids: Vec<i64> = (start..rows.min(start + 65_536)).map(|i| i * 2).collect();
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from_iter_values(ids.iter().copied())),
            Arc::new(Int64Array::from_iter_values(ids.iter().map(|k| k ^ 0x5555))),
            Arc::new(Float64Array::from_iter_values(
                ids.iter().map(|k| *k as f64 * 0.5),
            )),
            Arc::new(Int32Array::from_iter_values(ids.iter().map(|k| *k as i32))),
        ];
        tx.insert_batch("bench", &RecordBatch::try_new(schema.clone(), columns)?)?;
        start += ids.len() as i64;
    }
    tx.commit()?;
    let ours_batch = rows as f64 / t0.elapsed().as_secs_f64();
    let t0 = Instant::now();
    let mut tx = db.begin();
    for i in 0..rows {
        tx.insert("rows", row(i * 2))?;
    }
    tx.commit()?;
    let ours_rows = rows as f64 / t0.elapsed().as_secs_f64();
    db.drop_table("rows")?;
    let redb_load = redb_bulk_load(rows)?;
    report.figure(
        format!("engine/bulk_load/{label}/ours_batches"),
        ours_batch,
        "rows/s",
    );
    report.figure(
        format!("engine/bulk_load/{label}/ours_rows"),
        ours_rows,
        "rows/s",
    );
    report.figure(
        format!("engine/bulk_load/{label}/redb"),
        redb_load,
        "rows/s",
    );
    report.ratio(
        format!("engine/bulk_load/{label}/ours_batches_over_redb"),
        ours_batch / redb_load,
    );
    report.ratio(
        format!("engine/bulk_load/{label}/ours_rows_over_redb"),
        ours_rows / redb_load,
    );
    let mut t = Table::new(
        format!("Durable bulk load, {label} rows (i64 key + 3 columns), one transaction, fsynced"),
        &["", "rows/s", "x ours (batches)"],
    );
    t.row(vec![
        "ours, insert_batch (columnar, COPY path)".into(),
        fmt(ours_batch),
        "1.00".into(),
    ]);
    t.row(vec![
        "ours, insert row by row".into(),
        fmt(ours_rows),
        fmt(ours_rows / ours_batch),
    ]);
    t.row(vec![
        "redb 4.6, one Immediate transaction".into(),
        fmt(redb_load),
        fmt(redb_load / ours_batch),
    ]);
    report.print_table(&t);

    // 2. Point lookups through the engine vs BTreeMap<i64, row> on the same keys.
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let queries: Vec<i64> = (0..1_000_000.min(rows * 10))
        .map(|_| rng.random_range(0..rows) * 2)
        .collect();
    let reader = db.table("bench")?;
    let _ = reader.get(&Key::Int(0))?; // load chunks
    for q in queries.iter().take(200_000) {
        std::hint::black_box(reader.get(&Key::Int(*q))?);
    }
    let t0 = Instant::now();
    for q in &queries {
        std::hint::black_box(reader.get(&Key::Int(*q))?);
    }
    let ours_get = t0.elapsed().as_nanos() as f64 / queries.len() as f64;
    let map: BTreeMap<i64, Vec<Value>> = (0..rows).map(|i| (i * 2, row(i * 2))).collect();
    let t0 = Instant::now();
    for q in &queries {
        std::hint::black_box(map.get(q).cloned());
    }
    let btree_get = t0.elapsed().as_nanos() as f64 / queries.len() as f64;
    drop(map);
    report.figure(format!("engine/get/{label}/ours"), ours_get, "ns/lookup");
    report.figure(
        format!("engine/get/{label}/btreemap"),
        btree_get,
        "ns/lookup",
    );
    report.ratio(
        format!("engine/get/{label}/btreemap_over_ours"),
        btree_get / ours_get,
    );
    let mut t = Table::new(
        format!("Point lookup of a whole row through the table API, {label} rows, random keys"),
        &["", "ns/lookup", "x slower than ours"],
    );
    t.row(vec![
        "ours (TableReader::get)".into(),
        fmt(ours_get),
        "1.00".into(),
    ]);
    t.row(vec![
        "BTreeMap<i64, Row>::get + clone".into(),
        fmt(btree_get),
        fmt(btree_get / ours_get),
    ]);
    report.print_table(&t);

    // 3. Retrain 10% delta (odd keys between the loaded even keys) with lookups running throughout.
    let delta = rows / 10;
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let mut k = 0;
    while k < delta {
        let mut tx = db.begin();
        for _ in 0..50_000.min(delta - k) {
            tx.upsert("bench", row(rng.random_range(0..rows) * 2 + 1))?;
            k += 1;
        }
        tx.commit()?;
    }
    let delta_rows = db.stats("bench")?.delta_rows;
    let db = Arc::new(db);
    let before = lookup_latencies(&db, rows, Duration::from_millis(500), None);
    let stop = Arc::new(AtomicBool::new(false));
    let prober = {
        let db = db.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            lookup_latencies(&db, rows, Duration::from_secs(3600), Some(stop))
        })
    };
    std::thread::sleep(Duration::from_millis(100));
    let t0 = Instant::now();
    let rep = db.retrain("bench")?;
    let retrain_s = t0.elapsed().as_secs_f64();
    stop.store(true, Ordering::Release);
    let during = prober.join().expect("prober");
    let (p50b, p99b) = (percentile(&before, 0.5), percentile(&before, 0.99));
    let (p50d, p99d) = (percentile(&during, 0.5), percentile(&during, 0.99));
    report.figure(format!("engine/retrain/{label}/seconds"), retrain_s, "s");
    report.figure(
        format!("engine/retrain/{label}/delta_rows"),
        delta_rows as f64,
        "rows",
    );
    report.figure(
        format!("engine/retrain/{label}/lookup_p50_before"),
        p50b,
        "ns",
    );
    report.figure(
        format!("engine/retrain/{label}/lookup_p99_before"),
        p99b,
        "ns",
    );
    report.figure(
        format!("engine/retrain/{label}/lookup_p50_during"),
        p50d,
        "ns",
    );
    report.figure(
        format!("engine/retrain/{label}/lookup_p99_during"),
        p99d,
        "ns",
    );
    report.figure(
        format!("engine/retrain/{label}/lookups_during"),
        during.len() as f64,
        "lookups",
    );
    report.ratio(
        format!("engine/retrain/{label}/p99_during_over_before"),
        p99d / p99b,
    );
    let mut t = Table::new(
        format!(
            "Retrain {delta_rows} delta rows into {label} rows ({} chunks written, {} kept), lookups running",
            rep.chunks_written, rep.chunks_reused
        ),
        &["", "value"],
    );
    t.row(vec![
        "retrain wall time (s)".into(),
        format!("{retrain_s:.3}"),
    ]);
    t.row(vec![
        "lookup p50 / p99 before (ns)".into(),
        format!("{} / {}", fmt(p50b), fmt(p99b)),
    ]);
    t.row(vec![
        "lookup p50 / p99 during (ns)".into(),
        format!("{} / {}", fmt(p50d), fmt(p99d)),
    ]);
    t.row(vec![
        "lookups answered during retrain".into(),
        during.len().to_string(),
    ]);
    report.print_table(&t);

    // 4. Reopen to first answered lookup, in a fresh process.
    let db = Arc::try_unwrap(db).map_err(|_| anyhow::anyhow!("database still shared"))?;
    drop(db);
    let probe = std::process::Command::new(std::env::current_exe()?)
        .env(PROBE_ENV, dir.path())
        .output()
        .context("running the reopen probe")?;
    let out = String::from_utf8_lossy(&probe.stdout);
    let mut it = out.split_whitespace();
    let (open_ms, rss_mib): (f64, f64) = (
        it.next()
            .and_then(|v| v.parse().ok())
            .context("probe output")?,
        it.next()
            .and_then(|v| v.parse().ok())
            .context("probe output")?,
    );
    report.figure(
        format!("engine/reopen/{label}/first_lookup_ms"),
        open_ms,
        "ms",
    );
    report.figure(format!("engine/reopen/{label}/rss_mib"), rss_mib, "MiB");
    let mut t = Table::new(
        format!("Reopen a {label}-row table (fresh process)"),
        &["", "value"],
    );
    t.row(vec![
        "open + first answered lookup (ms)".into(),
        format!("{open_ms:.1}"),
    ]);
    t.row(vec![
        "RSS after the lookup (MiB)".into(),
        format!("{rss_mib:.1}"),
    ]);
    report.print_table(&t);

    // 5. Group commit: single-row commits from 32 writers, vs 1 writer, vs redb with 32 writers.
    let ours32 = group_commit(dir.path(), 32, secs)?;
    let ours1 = group_commit(dir.path(), 1, secs)?;
    let redb32 = redb_commits(32, secs)?;
    report.figure("engine/commits/ours_32_writers", ours32, "commits/s");
    report.figure("engine/commits/ours_1_writer", ours1, "commits/s");
    report.figure("engine/commits/redb_32_writers", redb32, "commits/s");
    report.ratio("engine/commits/ours32_over_redb32", ours32 / redb32);
    let mut t = Table::new(
        "Durable single-row commits per second",
        &["", "commits/s", "ratio to ours (32)"],
    );
    t.row(vec![
        "ours, 32 writers (group commit)".into(),
        fmt(ours32),
        "1.00".into(),
    ]);
    t.row(vec![
        "ours, 1 writer".into(),
        fmt(ours1),
        fmt(ours1 / ours32),
    ]);
    t.row(vec![
        "redb 4.6, 32 writers, Immediate each".into(),
        fmt(redb32),
        fmt(redb32 / ours32),
    ]);
    report.print_table(&t);
    Ok(())
}

/// Where temporary databases go: the repository's disk, not a RAM-backed /tmp, so fsync is real.
fn bench_dir() -> std::path::PathBuf {
    let d = std::env::var_os("OMENDB_BENCH_DIR")
        .map(Into::into)
        .unwrap_or_else(|| {
            std::env::current_dir()
                .unwrap()
                .join("target")
                .join("bench-tmp")
        });
    let _ = std::fs::create_dir_all(&d);
    d
}

fn lookup_latencies(
    db: &Database,
    rows: i64,
    max: Duration,
    stop: Option<Arc<AtomicBool>>,
) -> Vec<u64> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let mut out = Vec::with_capacity(1 << 20);
    let t0 = Instant::now();
    while t0.elapsed() < max && !stop.as_ref().is_some_and(|s| s.load(Ordering::Acquire)) {
        let k = Key::Int(rng.random_range(0..rows * 2));
        let s = Instant::now();
        let reader = db.table("bench").expect("table");
        std::hint::black_box(reader.get(&k).expect("get"));
        out.push(s.elapsed().as_nanos() as u64);
    }
    out.sort_unstable();
    out
}

fn group_commit(dir: &std::path::Path, writers: usize, secs: u64) -> anyhow::Result<f64> {
    let db = Arc::new(Database::open(dir, opts())?);
    let name = format!("commits_{writers}");
    db.create_table(TableDef {
        name: name.clone(),
        ..def()
    })?;
    let count = Arc::new(AtomicU64::new(0));
    let barrier = Arc::new(Barrier::new(writers + 1));
    let deadline = Arc::new(AtomicBool::new(false));
    let handles: Vec<_> = (0..writers as i64)
        .map(|w| {
            let (db, count, barrier, deadline, name) = (
                db.clone(),
                count.clone(),
                barrier.clone(),
                deadline.clone(),
                name.clone(),
            );
            std::thread::spawn(move || {
                barrier.wait();
                let mut i = 0i64;
                while !deadline.load(Ordering::Relaxed) {
                    let mut tx = db.begin();
                    tx.insert(&name, row(i * 64 + w)).expect("insert");
                    tx.commit().expect("commit");
                    count.fetch_add(1, Ordering::Relaxed);
                    i += 1;
                }
            })
        })
        .collect();
    barrier.wait();
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(secs));
    deadline.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().expect("writer");
    }
    Ok(count.load(Ordering::Relaxed) as f64 / t0.elapsed().as_secs_f64())
}

const REDB_TABLE: redb::TableDefinition<u64, &[u8]> = redb::TableDefinition::new("t");

fn redb_value(k: u64) -> [u8; 20] {
    let mut v = [0u8; 20];
    v[..8].copy_from_slice(&(k ^ 0x5555).to_le_bytes());
    v[8..16].copy_from_slice(&(k as f64 * 0.5).to_le_bytes());
    v[16..].copy_from_slice(&(k as i32).to_le_bytes());
    v
}

fn redb_bulk_load(rows: i64) -> anyhow::Result<f64> {
    let dir = tempfile::tempdir_in(bench_dir())?;
    let db = redb::Database::create(dir.path().join("bulk.redb"))?;
    let t0 = Instant::now();
    let tx = db.begin_write()?;
    {
        let mut t = tx.open_table(REDB_TABLE)?;
        for i in 0..rows as u64 {
            t.insert(i * 2, redb_value(i * 2).as_slice())?;
        }
    }
    tx.commit()?;
    Ok(rows as f64 / t0.elapsed().as_secs_f64())
}

fn redb_commits(writers: usize, secs: u64) -> anyhow::Result<f64> {
    let dir = tempfile::tempdir_in(bench_dir())?;
    let db = Arc::new(redb::Database::create(dir.path().join("commits.redb"))?);
    let count = Arc::new(AtomicU64::new(0));
    let deadline = Arc::new(AtomicBool::new(false));
    let t0 = Instant::now();
    let handles: Vec<_> = (0..writers as u64)
        .map(|w| {
            let (db, count, deadline) = (db.clone(), count.clone(), deadline.clone());
            std::thread::spawn(move || {
                let mut i = 0u64;
                while !deadline.load(Ordering::Relaxed) {
                    let tx = db.begin_write().expect("begin");
                    {
                        let mut t = tx.open_table(REDB_TABLE).expect("table");
                        t.insert(i * 64 + w, redb_value(i).as_slice())
                            .expect("insert");
                    }
                    tx.commit().expect("commit");
                    count.fetch_add(1, Ordering::Relaxed);
                    i += 1;
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(secs));
    deadline.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().expect("writer");
    }
    Ok(count.load(Ordering::Relaxed) as f64 / t0.elapsed().as_secs_f64())
}

/// The reopen probe: prints "<ms to first answered lookup> <RSS MiB>".
pub fn probe(dir: &str) -> anyhow::Result<()> {
    let t0 = Instant::now();
    let db = Database::open(dir, opts())?;
    let got = db.table("bench")?.get(&Key::Int(2 * 12_344))?;
    let ms = t0.elapsed().as_secs_f64() * 1000.0;
    anyhow::ensure!(got.is_some(), "the probe's key is missing after reopen");
    let status = std::fs::read_to_string("/proc/self/status")?;
    let rss_kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN);
    println!("{ms:.3} {:.1}", rss_kib / 1024.0);
    Ok(())
}
