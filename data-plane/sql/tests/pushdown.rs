//! The learned table provider against DataFusion's own `MemTable` holding the same rows: every query must
//! give identical answers, and primary-key queries must be served by the learned index (point or range),
//! never by a full scan.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use arrow_array::RecordBatch;
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use omendb_sql::LearnedTable;
use omendb_storage::{
    ColumnDef, DataType, Database, Key, KeyRange, Options, RetrainPolicy, TableDef, Value,
};

fn opts() -> Options {
    Options {
        chunk_rows: 700,
        tail_seal_rows: 128,
        bulk_rows: 1000,
        retrain: RetrainPolicy::manual(),
        background: false,
        ..Options::default()
    }
}

/// A table whose rows sit in every storage structure: chunk files, delta, tombstones and the open tail.
fn populated(dir: &std::path::Path, text: bool) -> Arc<Database> {
    let db = Database::open(dir, opts()).unwrap();
    let key = |i: i64| {
        if text {
            Value::Text(format!("k{i:05}"))
        } else {
            Value::Int64(i)
        }
    };
    db.create_table(TableDef {
        name: "t".into(),
        columns: vec![
            ColumnDef::new(
                "id",
                if text {
                    DataType::Text
                } else {
                    DataType::BigInt
                },
            ),
            ColumnDef::new("v", DataType::Text),
            ColumnDef::new("x", DataType::Double),
        ],
        primary_key: Some(0),
    })
    .unwrap();
    let row = |i: i64, tag: &str| {
        vec![
            key(i),
            Value::Text(format!("{tag}{i}")),
            Value::Float64(i as f64 / 4.0),
        ]
    };
    let mut tx = db.begin();
    for i in (0..3000).step_by(2) {
        tx.insert("t", row(i, "a")).unwrap();
    }
    tx.commit().unwrap();
    db.retrain("t").unwrap();
    let mut tx = db.begin();
    for i in (1..3000).step_by(6) {
        tx.insert("t", row(i, "delta")).unwrap();
    }
    for i in (0..3000).step_by(10) {
        tx.delete("t", &Key::from_value(&key(i)).unwrap()).unwrap();
    }
    for i in (4..3000).step_by(14) {
        tx.upsert("t", row(i, "upd")).unwrap();
    }
    tx.commit().unwrap();
    for i in 3000..3100 {
        let mut tx = db.begin();
        tx.insert("t", row(i, "tail")).unwrap();
        tx.commit().unwrap();
    }
    Arc::new(db)
}

async fn run(ctx: &SessionContext, sql: &str) -> String {
    let batches: Vec<RecordBatch> = ctx.sql(sql).await.unwrap().collect().await.unwrap();
    // Compare rows, not batch boundaries: an empty answer may come as no batch or an empty one.
    let batches: Vec<RecordBatch> = batches.into_iter().filter(|b| b.num_rows() > 0).collect();
    pretty_format_batches(&batches).unwrap().to_string()
}

async fn compare(text: bool) {
    let dir = tempfile::tempdir().unwrap();
    let db = populated(dir.path(), text);
    let learned = Arc::new(LearnedTable::new(db.clone(), "t").unwrap());
    let reader = db.table("t").unwrap();
    let all: Vec<RecordBatch> = reader
        .scan(KeyRange::all())
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let reference = MemTable::try_new(reader.schema(), vec![all]).unwrap();
    let ours = SessionContext::new();
    ours.register_table("t", learned.clone()).unwrap();
    let plain = SessionContext::new();
    plain.register_table("t", Arc::new(reference)).unwrap();

    let k = |i: i64| {
        if text {
            format!("'k{i:05}'")
        } else {
            i.to_string()
        }
    };
    // (query, how the learned index must serve it)
    let queries = [
        (format!("SELECT * FROM t WHERE id = {}", k(4)), "point"),
        (format!("SELECT * FROM t WHERE id = {}", k(10)), "point"),
        (format!("SELECT * FROM t WHERE {} = id", k(7)), "point"),
        (format!("SELECT v FROM t WHERE id = {}", k(99_999)), "point"),
        (
            format!(
                "SELECT * FROM t WHERE id IN ({}, {}, {}, {}) ORDER BY id",
                k(3050),
                k(1),
                k(2),
                k(99_999)
            ),
            "point",
        ),
        (
            format!(
                "SELECT * FROM t WHERE id = {} OR id = {} OR id = {} ORDER BY id",
                k(13),
                k(12),
                k(13)
            ),
            "point",
        ),
        (
            format!("SELECT * FROM t WHERE id < {} ORDER BY id", k(25)),
            "range",
        ),
        (
            format!("SELECT * FROM t WHERE id >= {} ORDER BY id", k(3090)),
            "range",
        ),
        (
            format!(
                "SELECT * FROM t WHERE id BETWEEN {} AND {} ORDER BY id",
                k(100),
                k(130)
            ),
            "range",
        ),
        (
            format!(
                "SELECT * FROM t WHERE id > {} AND id <= {} ORDER BY id",
                k(1395),
                k(1411)
            ),
            "range",
        ),
        (
            format!(
                "SELECT * FROM t WHERE id > {} AND id IN ({}, {}, {}) ORDER BY id",
                k(50),
                k(40),
                k(55),
                k(70)
            ),
            "point",
        ),
        (
            format!(
                "SELECT count(*), sum(x) FROM t WHERE id BETWEEN {} AND {}",
                k(500),
                k(2500)
            ),
            "range",
        ),
        (
            format!(
                "SELECT * FROM t WHERE id >= {} ORDER BY id LIMIT 3",
                k(2990)
            ),
            "range",
        ),
        (
            format!("SELECT * FROM t WHERE id = {} AND v LIKE 'upd%'", k(18)),
            "point",
        ),
        (
            "SELECT count(*) FROM t WHERE v LIKE 'delta%'".to_string(),
            "full",
        ),
        (
            "SELECT v, count(*) FROM t GROUP BY v ORDER BY v LIMIT 5".to_string(),
            "full",
        ),
        (
            "SELECT count(*), min(id), max(id) FROM t".to_string(),
            "full",
        ),
    ];
    for (sql, path) in queries {
        let c = learned.counters();
        let before = [
            c.point.load(Ordering::Relaxed),
            c.range.load(Ordering::Relaxed),
            c.full.load(Ordering::Relaxed),
        ];
        let got = run(&ours, &sql).await;
        let want = run(&plain, &sql).await;
        assert_eq!(got, want, "{sql}");
        let after = [
            c.point.load(Ordering::Relaxed),
            c.range.load(Ordering::Relaxed),
            c.full.load(Ordering::Relaxed),
        ];
        let used =
            ["point", "range", "full"][(0..3).find(|&i| after[i] > before[i]).expect("one scan")];
        assert_eq!(used, path, "{sql} was served by a {used} scan");
    }
}

#[tokio::test]
async fn primary_key_order_needs_no_sort() {
    let dir = tempfile::tempdir().unwrap();
    let db = populated(dir.path(), false);
    let ctx = SessionContext::new();
    ctx.register_table("t", Arc::new(LearnedTable::new(db, "t").unwrap()))
        .unwrap();
    let plan = run(
        &ctx,
        "EXPLAIN SELECT * FROM t WHERE id > 100 ORDER BY id LIMIT 5",
    )
    .await;
    assert!(
        !plan.contains("SortExec"),
        "ORDER BY pk should use the scan's order:\n{plan}"
    );
    let plan = run(&ctx, "EXPLAIN SELECT * FROM t ORDER BY x DESC LIMIT 5").await;
    assert!(
        plan.contains("SortExec"),
        "other orders still sort:\n{plan}"
    );
    assert_eq!(
        run(&ctx, "SELECT id FROM t WHERE id > 100 ORDER BY id LIMIT 3").await,
        run(
            &ctx,
            "SELECT id FROM (SELECT id FROM t WHERE id > 100 AND id < 200) ORDER BY id LIMIT 3"
        )
        .await
    );
}

#[tokio::test]
async fn integer_keys_give_datafusions_answers_through_the_learned_index() {
    compare(false).await;
}

#[tokio::test]
async fn text_keys_give_datafusions_answers_through_the_learned_index() {
    compare(true).await;
}
