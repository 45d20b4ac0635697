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

#[test]
fn schemas_are_transactional_durable_and_guard_their_tables() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), opts()).unwrap();

    // A table of a schema that does not exist is refused; a schema rolled back leaves nothing.
    let mut t = db.begin();
    assert!(matches!(
        t.create_table(def("s.a")),
        Err(Error::UnknownSchema(s)) if s == "s"
    ));
    t.create_schema("s").unwrap();
    t.create_table(def("s.a")).unwrap();
    assert_eq!(t.schemas().len(), 1);
    assert!(db.snapshot().schemas().is_empty(), "seen before commit");
    t.rollback();
    assert!(db.snapshot().schemas().is_empty());

    let mut t = db.begin();
    t.create_schema("s").unwrap();
    t.create_table(def("s.a")).unwrap();
    t.insert("s.a", row(1, 1)).unwrap();
    t.commit().unwrap();
    let mut t = db.begin();
    assert!(matches!(t.create_schema("s"), Err(Error::SchemaExists(_))));
    assert!(matches!(
        t.create_schema("public"),
        Err(Error::SchemaExists(_))
    ));
    assert!(matches!(t.drop_schema("s"), Err(Error::SchemaNotEmpty(_))));
    t.rollback();

    // DROP SCHEMA racing a CREATE TABLE in it: whichever commits second fails, nothing half-done.
    let mut dropper = db.begin();
    dropper.drop_table("s.a").unwrap();
    dropper.drop_schema("s").unwrap();
    let mut creator = db.begin();
    creator.create_table(def("s.b")).unwrap();
    creator.commit().unwrap();
    assert!(matches!(dropper.commit(), Err(Error::SchemaNotEmpty(_))));
    assert_eq!(count(&db, "s.a"), 1);
    drop(db);

    let db = Database::open(dir.path(), opts()).unwrap();
    let schemas = db.snapshot().schemas();
    assert_eq!(
        schemas.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        ["s"]
    );
    let mut names = db.table_names();
    names.sort();
    assert_eq!(names, ["s.a", "s.b"]);
    // Ids are never reused: a schema's id is not a table's.
    let sid = schemas[0].1;
    assert!(db.table("s.a").unwrap().id() != sid && db.table("s.b").unwrap().id() != sid);
    let mut t = db.begin();
    t.drop_table("s.a").unwrap();
    t.drop_table("s.b").unwrap();
    t.drop_schema("s").unwrap();
    t.commit().unwrap();
    drop(db);
    let db = Database::open(dir.path(), opts()).unwrap();
    assert!(db.snapshot().schemas().is_empty());
    assert!(db.table_names().is_empty());
    // A commit that only makes a schema is durable too.
    let mut t = db.begin();
    t.create_schema("alone").unwrap();
    t.commit().unwrap();
    drop(db);
    let db = Database::open(dir.path(), opts()).unwrap();
    assert_eq!(db.snapshot().schemas().len(), 1);
}

#[test]
fn comments_commit_with_the_transaction_survive_reopen_and_go_with_their_object() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), opts()).unwrap();
    db.create_table(def("a")).unwrap();
    let id = db.table("a").unwrap().id();
    let mut t = db.begin();
    t.comment((id, 0), Some("table a".into())).unwrap();
    t.comment((id, 2), Some("column v".into())).unwrap();
    assert_eq!(t.comments().len(), 2);
    assert!(db.snapshot().comments().is_empty(), "seen before commit");
    t.commit().unwrap();
    let mut t = db.begin();
    t.comment((id, 2), None).unwrap();
    t.rollback();
    drop(db);

    let db = Database::open(dir.path(), opts()).unwrap();
    assert_eq!(
        db.snapshot().comments(),
        vec![
            ((id, 0), "table a".to_string()),
            ((id, 2), "column v".to_string())
        ]
    );
    // A comment on a table another transaction dropped first is refused at commit.
    let mut commenter = db.begin();
    commenter.comment((id, 1), Some("k".into())).unwrap();
    db.drop_table("a").unwrap();
    assert!(commenter.commit().is_err());
    assert!(
        db.snapshot().comments().is_empty(),
        "dropped with the table"
    );
    drop(db);
    let db = Database::open(dir.path(), opts()).unwrap();
    assert!(db.snapshot().comments().is_empty());
}
