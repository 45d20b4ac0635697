//! Transactions through the engine's API: DDL as part of a transaction (and across a reopen), savepoints,
//! table locks, and how each isolation level judges a row a later commit changed.

use std::time::Duration;

use omendb_storage::{
    ColumnDef, DataType, Database, Error, Isolation, Key, KeyRange, LockMode, Options, RowLock,
    TableDef, TxnOptions, Value, WaitPolicy,
};

fn opts() -> Options {
    Options {
        background: false,
        ..Options::default()
    }
}

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

fn row(k: i64, v: i64) -> Vec<Value> {
    vec![Value::Int64(k), Value::Int64(v)]
}

fn count(db: &Database, t: &str) -> usize {
    db.table(t).unwrap().rows(KeyRange::all()).unwrap().len()
}

#[test]
fn ddl_commits_or_rolls_back_with_the_transaction_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), opts()).unwrap();

    let mut t = db.begin();
    t.create_table(def("a")).unwrap();
    t.insert("a", row(1, 1)).unwrap();
    assert_eq!(t.get("a", &Key::Int(1)).unwrap(), Some(row(1, 1)));
    assert!(
        matches!(db.table("a"), Err(Error::UnknownTable(_))),
        "seen before commit"
    );
    t.rollback();
    assert!(
        matches!(db.table("a"), Err(Error::UnknownTable(_))),
        "left behind"
    );

    let mut t = db.begin();
    t.create_table(def("a")).unwrap();
    for k in 0..50 {
        t.insert("a", row(k, k)).unwrap();
    }
    t.commit().unwrap();
    assert_eq!(count(&db, "a"), 50);

    // TRUNCATE then new rows, DROP of another table, in one transaction; a concurrent reader keeps its view.
    db.create_table(def("b")).unwrap();
    let before = db.snapshot();
    let mut t = db.begin();
    t.truncate_table("a").unwrap();
    t.insert("a", row(7, 70)).unwrap();
    t.drop_table("b").unwrap();
    assert_eq!(t.table_names(), vec!["a".to_string()]);
    t.commit().unwrap();
    assert_eq!(before.table("a").unwrap().len(), 50);
    assert_eq!(count(&db, "a"), 1);
    assert!(matches!(db.table("b"), Err(Error::UnknownTable(_))));

    drop(before);
    drop(db);
    let db = Database::open(dir.path(), opts()).unwrap();
    assert_eq!(db.table_names(), vec!["a".to_string()]);
    assert_eq!(
        db.table("a").unwrap().rows(KeyRange::all()).unwrap(),
        vec![(Key::Int(7), row(7, 70))]
    );
    // A table id handed to a rolled-back CREATE is never reused for another table's records.
    let mut t = db.begin();
    t.create_table(def("c")).unwrap();
    t.insert("c", row(1, 1)).unwrap();
    t.commit().unwrap();
    drop(db);
    let db = Database::open(dir.path(), opts()).unwrap();
    assert_eq!(count(&db, "c"), 1);
    assert_eq!(count(&db, "a"), 1);
}

#[test]
fn drop_and_truncate_wait_for_the_tables_writers() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), opts()).unwrap();
    db.create_table(def("a")).unwrap();
    let mut writer = db.begin();
    writer.insert("a", row(1, 1)).unwrap();
    let mut ddl = db.begin();
    let wait = match ddl.truncate_table("a") {
        Err(Error::LockWait { wait, .. }) => wait,
        other => panic!("TRUNCATE did not wait for the writer: {other:?}"),
    };
    assert!(!wait.block(Duration::from_millis(20)));
    writer.commit().unwrap();
    assert!(wait.block(Duration::from_secs(5)));
    ddl.truncate_table("a").unwrap();
    // Now writers wait for the TRUNCATE.
    let mut late = db.begin();
    assert!(matches!(
        late.insert("a", row(2, 2)),
        Err(Error::LockWait { .. })
    ));
    ddl.commit().unwrap();
    drop(late);
    assert_eq!(count(&db, "a"), 0);
}

#[test]
fn savepoints_undo_writes_ddl_and_locks_taken_after_them() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), opts()).unwrap();
    db.create_table(def("a")).unwrap();
    let mut t = db.begin();
    t.insert("a", row(1, 1)).unwrap();
    let sp = t.savepoint();
    t.insert("a", row(2, 2)).unwrap();
    t.create_table(def("b")).unwrap();
    t.rollback_to(sp);
    assert_eq!(t.get("a", &Key::Int(2)).unwrap(), None);
    assert!(matches!(
        t.get("b", &Key::Int(1)),
        Err(Error::UnknownTable(_))
    ));
    // Row 2's lock went with the savepoint: another transaction takes it at once; row 1's stays.
    let mut other = db.begin();
    assert!(matches!(
        other.lock_row("a", &Key::Int(2), LockMode::Update, WaitPolicy::NoWait),
        Ok(RowLock::Held { .. })
    ));
    assert!(matches!(
        other.lock_row("a", &Key::Int(1), LockMode::KeyShare, WaitPolicy::NoWait),
        Err(Error::LockNotAvailable { .. })
    ));
    assert!(matches!(
        other.lock_row("a", &Key::Int(1), LockMode::KeyShare, WaitPolicy::Skip),
        Ok(RowLock::Skipped)
    ));
    drop(other);
    t.commit().unwrap();
    assert_eq!(count(&db, "a"), 1);
}

#[test]
fn a_row_changed_after_the_snapshot_is_judged_per_level() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), opts()).unwrap();
    db.create_table(def("a")).unwrap();
    let mut t = db.begin();
    t.insert("a", row(1, 0)).unwrap();
    t.commit().unwrap();
    for iso in [
        Isolation::ReadCommitted,
        Isolation::RepeatableRead,
        Isolation::Serializable,
    ] {
        let mut mine = db.begin_with(TxnOptions {
            isolation: iso,
            ..TxnOptions::default()
        });
        mine.new_statement();
        let seen = mine.get("a", &Key::Int(1)).unwrap().unwrap();
        let mut theirs = db.begin();
        let cur = theirs.get_latest("a", &Key::Int(1)).unwrap().unwrap();
        let Value::Int64(n) = cur[1] else { panic!() };
        theirs.update("a", &Key::Int(1), row(1, n + 1)).unwrap();
        theirs.commit().unwrap();
        // Writing the image read before their commit would lose their update.
        let Value::Int64(old) = seen[1] else { panic!() };
        let r = mine.update("a", &Key::Int(1), row(1, old + 1));
        match iso {
            Isolation::ReadCommitted => {
                assert!(matches!(r, Err(Error::RowChanged { .. })), "{r:?}");
                let newest = mine.get_latest("a", &Key::Int(1)).unwrap().unwrap();
                let Value::Int64(n) = newest[1] else { panic!() };
                mine.update("a", &Key::Int(1), row(1, n + 1)).unwrap();
                mine.commit().unwrap();
            }
            _ => assert!(
                matches!(r, Err(Error::SerializationFailure { .. })),
                "{iso:?}: {r:?}"
            ),
        }
    }
    // 1 (RC's other) + 1 (RC) + 1 (RR's other) + 1 (SER's other).
    assert_eq!(
        db.table("a").unwrap().get(&Key::Int(1)).unwrap(),
        Some(row(1, 4))
    );
}
