//! Tables end to end: every column type through every storage path (tail, delta, WAL replay, chunk files),
//! hidden row ids, multi-table atomic commits, snapshots, retraining and stats.

use std::ops::Bound;

use omendb_storage::{
    ColumnDef, DataType, Database, Error, Key, KeyRange, Options, RetrainPolicy, TableDef, Value,
};

fn opts() -> Options {
    Options {
        chunk_rows: 64,
        tail_seal_rows: 16,
        bulk_rows: 100,
        retrain: RetrainPolicy::manual(),
        background: false,
        ..Options::default()
    }
}

fn all_types() -> TableDef {
    TableDef {
        name: "everything".into(),
        columns: vec![
            ColumnDef::new("ts", DataType::TimestampTz),
            ColumnDef::new("i16", DataType::SmallInt),
            ColumnDef::new("i32", DataType::Integer),
            ColumnDef::new("i64", DataType::BigInt),
            ColumnDef::new("f32", DataType::Real),
            ColumnDef::new("f64", DataType::Double),
            ColumnDef::new("b", DataType::Boolean),
            ColumnDef::new("s", DataType::Text),
            ColumnDef::new("bin", DataType::Bytea),
            ColumnDef::new("t", DataType::Timestamp),
            ColumnDef::new("d", DataType::Date),
            ColumnDef::new(
                "n",
                DataType::Numeric {
                    precision: 20,
                    scale: 4,
                },
            ),
        ],
        primary_key: Some(0),
    }
}

fn typed_row(i: i64) -> Vec<Value> {
    let null_every = |k: i64| i % k == 0;
    vec![
        Value::Timestamp(1_700_000_000_000_000 + i * 1_000_003),
        if null_every(5) {
            Value::Null
        } else {
            Value::Int16(i as i16)
        },
        Value::Int32(-(i as i32)),
        Value::Int64(i * 1_000_000_007),
        Value::Float32(i as f32 * 0.25),
        Value::Float64(-(i as f64) / 3.0),
        Value::Bool(i % 2 == 0),
        if null_every(7) {
            Value::Null
        } else {
            Value::Text(format!("héllo {i} ✓"))
        },
        Value::Bytes(vec![0, 255, i as u8]),
        Value::Timestamp(-i * 86_400_000_000),
        Value::Date(19_000 + i as i32),
        Value::Decimal(i as i128 * 12_345),
    ]
}

fn ts_key(i: i64) -> Key {
    Key::Int(1_700_000_000_000_000 + i * 1_000_003)
}

#[test]
fn every_type_round_trips_through_every_path() {
    let dir = tempfile::tempdir().unwrap();
    let expected: Vec<Vec<Value>> = (0..400).map(typed_row).collect();
    {
        let db = Database::open(dir.path(), opts()).unwrap();
        db.create_table(all_types()).unwrap();
        // Bulk (chunk files), then single-row appends (tail), then out-of-order rows (delta).
        let mut tx = db.begin();
        for i in (0..400).step_by(2).take(150) {
            tx.insert("everything", typed_row(i)).unwrap();
        }
        tx.commit().unwrap();
        for i in (300..400).step_by(2) {
            let mut tx = db.begin();
            tx.insert("everything", typed_row(i)).unwrap();
            tx.commit().unwrap();
        }
        let mut tx = db.begin();
        for i in (1..400).step_by(2) {
            tx.insert("everything", typed_row(i)).unwrap();
        }
        tx.commit().unwrap();
        let st = db.stats("everything").unwrap();
        assert!(st.delta_rows > 0 && st.chunks > 0, "{st:?}");
    }
    for round in 0..3 {
        let db = Database::open(dir.path(), opts()).unwrap();
        let t = db.table("everything").unwrap();
        let got: Vec<Vec<Value>> = t
            .rows(KeyRange::all())
            .unwrap()
            .into_iter()
            .map(|(_, r)| r)
            .collect();
        assert_eq!(got, expected, "round {round}");
        assert_eq!(t.get(&ts_key(123)).unwrap(), Some(typed_row(123)));
        let some: Vec<Option<Vec<Value>>> =
            t.get_many(&[ts_key(5), Key::Int(3), ts_key(399)]).unwrap();
        assert_eq!(some, vec![Some(typed_row(5)), None, Some(typed_row(399))]);
        // Arrow batches carry the declared types.
        let batch = t.scan(KeyRange::all()).unwrap().next().unwrap().unwrap();
        assert_eq!(batch.schema(), t.schema());
        if round == 1 {
            let r = db.retrain("everything").unwrap();
            assert!(r.rows_written >= 400, "{r:?}");
            let st = db.stats("everything").unwrap();
            assert_eq!(
                (st.delta_rows, st.tombstones, st.memory_chunks, st.rows),
                (0, 0, 0, 400),
                "{st:?}"
            );
            assert!(
                st.retrain_count == 1 && st.segments > 0 && st.index_bytes > 0,
                "{st:?}"
            );
        }
    }
}

#[test]
fn tables_without_primary_key_get_hidden_row_ids() {
    let dir = tempfile::tempdir().unwrap();
    let def = TableDef {
        name: "events".into(),
        columns: vec![
            ColumnDef::new("what", DataType::Text),
            ColumnDef::new("n", DataType::Integer),
        ],
        primary_key: None,
    };
    {
        let db = Database::open(dir.path(), opts()).unwrap();
        db.create_table(def).unwrap();
        let mut tx = db.begin();
        for i in 0..50 {
            // Duplicates are fine: there is no user key.
            tx.insert(
                "events",
                vec![Value::Text("same".into()), Value::Int32(i % 3)],
            )
            .unwrap();
        }
        tx.commit().unwrap();
        let t = db.table("events").unwrap();
        assert_eq!(t.len(), 50);
        assert_eq!(t.schema().fields().len(), 2, "the row id stays hidden");
        assert_eq!(t.physical_schema().fields().len(), 3);
        let rows = t.rows(KeyRange::all()).unwrap();
        let ids: Vec<Key> = rows.iter().map(|(k, _)| k.clone()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "row ids increase");
        // Update and delete by row id.
        let mut tx = db.begin();
        assert!(
            tx.update(
                "events",
                &ids[0],
                vec![Value::Text("changed".into()), Value::Int32(9)]
            )
            .unwrap()
        );
        assert!(tx.delete("events", &ids[1]).unwrap());
        tx.commit().unwrap();
    }
    let db = Database::open(dir.path(), opts()).unwrap();
    let t = db.table("events").unwrap();
    assert_eq!(t.len(), 49);
    let rows = t.rows(KeyRange::all()).unwrap();
    assert_eq!(
        rows[0].1,
        vec![Value::Text("changed".into()), Value::Int32(9)]
    );
    let last = rows.last().unwrap().0.clone();
    let mut tx = db.begin();
    tx.insert(
        "events",
        vec![Value::Text("after reopen".into()), Value::Null],
    )
    .unwrap();
    tx.commit().unwrap();
    let newest = db
        .table("events")
        .unwrap()
        .rows(KeyRange::all())
        .unwrap()
        .pop()
        .unwrap();
    assert!(newest.0 > last, "row ids keep increasing after reopen");
}

fn kv() -> TableDef {
    TableDef {
        name: "a".into(),
        columns: vec![
            ColumnDef::new("k", DataType::BigInt),
            ColumnDef::new("v", DataType::BigInt),
        ],
        primary_key: Some(0),
    }
}

#[test]
fn commits_span_tables_atomically_and_snapshots_are_stable() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), opts()).unwrap();
    db.create_table(kv()).unwrap();
    db.create_table(TableDef {
        name: "b".into(),
        ..kv()
    })
    .unwrap();
    let before = db.snapshot();
    let mut tx = db.begin();
    tx.insert("a", vec![Value::Int64(1), Value::Int64(10)])
        .unwrap();
    tx.insert("b", vec![Value::Int64(1), Value::Int64(20)])
        .unwrap();
    // Read-your-own-writes, invisible to others until commit.
    assert_eq!(
        tx.get("a", &Key::Int(1)).unwrap(),
        Some(vec![Value::Int64(1), Value::Int64(10)])
    );
    assert_eq!(db.table("a").unwrap().get(&Key::Int(1)).unwrap(), None);
    tx.commit().unwrap();
    assert_eq!(
        before.table("a").unwrap().get(&Key::Int(1)).unwrap(),
        None,
        "old snapshot changed"
    );
    let now = db.snapshot();
    assert!(now.lsn() > before.lsn());
    assert_eq!(
        now.table("b").unwrap().get(&Key::Int(1)).unwrap(),
        Some(vec![Value::Int64(1), Value::Int64(20)])
    );

    // A failing commit (duplicate in b) leaves a untouched too.
    let mut tx = db.begin();
    tx.insert("a", vec![Value::Int64(2), Value::Int64(0)])
        .unwrap();
    tx.upsert("b", vec![Value::Int64(7), Value::Int64(0)])
        .unwrap();
    // (A sorted batch takes no row locks, so the conflict surfaces at commit.)
    let mut other = db.begin();
    let schema = db.table("a").unwrap().schema();
    let two = arrow_array::RecordBatch::try_new(
        schema,
        vec![
            std::sync::Arc::new(arrow_array::Int64Array::from(vec![2])),
            std::sync::Arc::new(arrow_array::Int64Array::from(vec![99])),
        ],
    )
    .unwrap();
    other.insert_batch("a", &two).unwrap();
    other.commit().unwrap();
    assert!(matches!(tx.commit(), Err(Error::DuplicateKey { .. })));
    assert_eq!(db.table("b").unwrap().get(&Key::Int(7)).unwrap(), None);

    // A snapshot held across a retrain and a truncate keeps reading its own version.
    let mut tx = db.begin();
    for i in 10..200 {
        tx.insert("a", vec![Value::Int64(i), Value::Int64(i)])
            .unwrap();
    }
    tx.commit().unwrap();
    let held = db.table("a").unwrap();
    let mut tx = db.begin();
    for i in (10..200).step_by(3) {
        tx.delete("a", &Key::Int(i)).unwrap();
    }
    tx.commit().unwrap();
    db.retrain("a").unwrap();
    db.truncate_table("a").unwrap();
    assert_eq!(db.table("a").unwrap().len(), 0);
    let range = KeyRange::new(
        Bound::Included(Key::Int(10)),
        Bound::Excluded(Key::Int(200)),
    );
    assert_eq!(
        held.rows(range).unwrap().len(),
        190,
        "held snapshot lost rows"
    );
    db.drop_table("a").unwrap();
    assert!(matches!(db.table("a"), Err(Error::UnknownTable(_))));
    drop(held);
    drop(db);
    let db = Database::open(dir.path(), opts()).unwrap();
    assert_eq!(db.table_names(), vec!["b".to_string()]);
    // No chunk file of the dropped table is left behind.
    let files = std::fs::read_dir(dir.path().join("chunks"))
        .unwrap()
        .count();
    let st = db.stats("b").unwrap();
    assert_eq!(files, st.chunks - st.memory_chunks);
}

#[test]
fn lookup_cost_drift_triggers_a_retrain() {
    let dir = tempfile::tempdir().unwrap();
    // Size triggers out of reach: only the share of lookups served by the delta can fire.
    let o = Options {
        background: true,
        retrain: RetrainPolicy {
            min_delta_rows: usize::MAX,
            tombstone_fraction: 2.0,
            ..RetrainPolicy::automatic()
        },
        ..opts()
    };
    let db = Database::open(dir.path(), o).unwrap();
    db.create_table(kv()).unwrap();
    let mut tx = db.begin();
    for i in 0..20_000 {
        tx.insert("a", vec![Value::Int64(i * 2), Value::Int64(i)])
            .unwrap();
    }
    tx.commit().unwrap();
    let mut tx = db.begin();
    for i in 0..2_000 {
        tx.insert("a", vec![Value::Int64(i * 2 + 1), Value::Int64(i)])
            .unwrap();
    }
    tx.commit().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1200));
    assert_eq!(
        db.stats("a").unwrap().retrain_count,
        0,
        "retrained before any drift"
    );
    let t = db.table("a").unwrap();
    for i in 0..20_000 {
        t.get(&Key::Int((i % 2_000) * 2 + 1)).unwrap().unwrap(); // hot keys, all in the delta
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while db.stats("a").unwrap().retrain_count == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let st = db.stats("a").unwrap();
    assert_eq!(st.retrain_count, 1, "{st:?}");
    assert!(st.delta_lookups >= 20_000, "{st:?}");
    assert_eq!(st.delta_rows, 0, "{st:?}");
}

#[test]
fn background_retraining_follows_the_policy() {
    let dir = tempfile::tempdir().unwrap();
    let auto = Options {
        background: true,
        retrain: RetrainPolicy {
            min_delta_rows: 100,
            delta_fraction: 0.01,
            ..RetrainPolicy::automatic()
        },
        ..opts()
    };
    let manual = Options {
        background: true,
        retrain: RetrainPolicy {
            hard_cap: 1_000_000,
            ..RetrainPolicy::manual()
        },
        ..opts()
    };
    for (name, o, expect_retrain) in [("auto", auto, true), ("manual", manual, false)] {
        let sub = dir.path().join(name);
        let db = Database::open(&sub, o).unwrap();
        db.create_table(kv()).unwrap();
        let mut tx = db.begin();
        for i in 0..2000 {
            tx.insert("a", vec![Value::Int64(i * 2), Value::Int64(i)])
                .unwrap();
        }
        tx.commit().unwrap();
        let mut tx = db.begin();
        for i in 0..500 {
            tx.insert("a", vec![Value::Int64(i * 2 + 1), Value::Int64(i)])
                .unwrap();
        }
        tx.commit().unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while expect_retrain
            && db.stats("a").unwrap().retrain_count == 0
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        if !expect_retrain {
            std::thread::sleep(std::time::Duration::from_millis(1500));
        }
        let st = db.stats("a").unwrap();
        assert_eq!(st.retrain_count > 0, expect_retrain, "{name}: {st:?}");
        assert_eq!(st.rows, 2500);
        assert_eq!(
            db.table("a").unwrap().get(&Key::Int(999)).unwrap(),
            Some(vec![Value::Int64(999), Value::Int64(499)])
        );
    }
}
