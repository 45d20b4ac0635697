//! ALTER TABLE without a rewrite (`WriteTxn::redefine_table`): added columns read as their missing value
//! wherever the old rows live (chunk files, memory chunks, the tail, the delta, the WAL after a reopen),
//! renames and relaxed NOT NULLs keep every row, and changes that need a rewrite are refused.

use omendb_storage::{
    ColumnDef, DataType, Database, Key, KeyRange, Options, RetrainPolicy, Row, TableDef, Value,
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

fn def(keyed: bool) -> TableDef {
    TableDef {
        name: "t".into(),
        columns: vec![
            ColumnDef::new("id", DataType::BigInt).not_null(),
            ColumnDef::new("v", DataType::Text),
        ],
        primary_key: keyed.then_some(0),
    }
}

/// `def` with `v` renamed and two columns added: `n` NOT NULL with missing value 7, `note` without one.
fn widened(keyed: bool) -> TableDef {
    let mut d = def(keyed);
    d.columns[1].name = "renamed".into();
    let mut n = ColumnDef::new("n", DataType::Integer).not_null();
    n.missing = Some(Value::Int32(7));
    d.columns.push(n);
    d.columns.push(ColumnDef::new("note", DataType::Text));
    d
}

fn old_row(i: i64) -> Row {
    vec![Value::Int64(i), Value::Text(format!("r{i}"))]
}

/// The user rows of `t`, by id (a keyless table's rows come in row-id order, which is insertion order).
fn rows(db: &Database) -> Vec<Row> {
    let t = db.table("t").unwrap();
    let width = t.schema().fields().len();
    let mut rows: Vec<Row> = t
        .rows(KeyRange::all())
        .unwrap()
        .into_iter()
        .map(|(_, mut r)| {
            r.truncate(width);
            r
        })
        .collect();
    rows.sort_by_key(|r| match r[0] {
        Value::Int64(i) => i,
        _ => unreachable!(),
    });
    rows
}

/// 300 rows in chunk files (one bulk commit), 20 more one by one (memory chunks and the tail), then
/// out-of-order updates (the delta) and a delete.
fn load(db: &Database) -> Vec<Row> {
    let mut tx = db.begin();
    for i in 0..300 {
        tx.insert("t", old_row(i * 2)).unwrap();
    }
    tx.commit().unwrap();
    for i in 300..320 {
        let mut tx = db.begin();
        tx.insert("t", old_row(i * 2)).unwrap();
        tx.commit().unwrap();
    }
    let keys: Vec<Key> = db
        .table("t")
        .unwrap()
        .rows(KeyRange::all())
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    let mut tx = db.begin();
    tx.update(
        "t",
        &keys[10],
        vec![Value::Int64(20), Value::Text("updated".into())],
    )
    .unwrap();
    tx.delete("t", &keys[11]).unwrap();
    tx.commit().unwrap();
    let mut expect: Vec<Row> = (0..320).map(|i| old_row(i * 2)).collect();
    expect[10][1] = Value::Text("updated".into());
    expect.remove(11);
    expect
}

fn with_added(rows: &[Row]) -> Vec<Row> {
    rows.iter()
        .map(|r| {
            let mut r = r.clone();
            r.extend([Value::Int32(7), Value::Null]);
            r
        })
        .collect()
}

#[test]
fn added_columns_read_their_missing_value_wherever_old_rows_live() {
    for keyed in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let expect = {
            let db = Database::open(dir.path(), opts()).unwrap();
            db.create_table(def(keyed)).unwrap();
            let old = load(&db);
            assert_eq!(rows(&db), old, "keyed={keyed}");
            let before = db.table("t").unwrap();

            let mut tx = db.begin();
            assert!(tx.redefine_table("t", widened(keyed)).unwrap());
            let seen = tx.table("t").unwrap();
            assert_eq!(seen.schema().fields().len(), 4);
            assert_eq!(seen.schema().field(1).name(), "renamed");
            assert_eq!(seen.len(), old.len() as u64);
            tx.insert(
                "t",
                vec![
                    Value::Int64(1),
                    Value::Null,
                    Value::Int32(1),
                    Value::Text("new".into()),
                ],
            )
            .unwrap();
            tx.commit().unwrap();

            let mut expect = with_added(&old);
            expect.insert(
                1,
                vec![
                    Value::Int64(1),
                    Value::Null,
                    Value::Int32(1),
                    Value::Text("new".into()),
                ],
            );
            assert_eq!(rows(&db), expect, "keyed={keyed}");
            // A snapshot from before keeps its definition and rows.
            assert_eq!(before.schema().fields().len(), 2);
            assert_eq!(before.len(), old.len() as u64);

            // Old rows written again hold every column.
            let key = db.table("t").unwrap().rows(KeyRange::all()).unwrap()[0]
                .0
                .clone();
            let mut tx = db.begin();
            tx.update(
                "t",
                &key,
                vec![
                    Value::Int64(0),
                    Value::Text("again".into()),
                    Value::Int32(0),
                    Value::Null,
                ],
            )
            .unwrap();
            tx.commit().unwrap();
            expect[0] = vec![
                Value::Int64(0),
                Value::Text("again".into()),
                Value::Int32(0),
                Value::Null,
            ];
            assert_eq!(rows(&db), expect, "keyed={keyed}");
            expect
        };
        // Reopened: chunk files from before the change, and old-width rows replayed from the WAL.
        let db = Database::open(dir.path(), opts()).unwrap();
        assert_eq!(rows(&db), expect, "keyed={keyed}: after reopen");
        assert_eq!(db.table("t").unwrap().def(), &widened(keyed));
        // A retrain rewrites the chunks in the new definition; reopened once more, nothing changed.
        db.retrain("t").unwrap();
        assert_eq!(rows(&db), expect, "keyed={keyed}: after retrain");
        drop(db);
        let db = Database::open(dir.path(), opts()).unwrap();
        assert_eq!(rows(&db), expect, "keyed={keyed}: after retrain and reopen");
    }
}

#[test]
fn changes_that_need_a_rewrite_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), opts()).unwrap();
    db.create_table(def(true)).unwrap();
    load(&db);
    let refused = |d: TableDef| {
        let mut tx = db.begin();
        let ok = tx.redefine_table("t", d).unwrap();
        tx.rollback();
        ok
    };
    let mut retyped = def(true);
    retyped.columns[1].data_type = DataType::Integer;
    assert!(!refused(retyped), "a stored type changes");
    let mut not_null = def(true);
    not_null.columns[1].nullable = false;
    assert!(
        !refused(not_null),
        "NOT NULL must be checked against the rows"
    );
    let mut rekeyed = def(true);
    rekeyed.primary_key = None;
    assert!(!refused(rekeyed), "the key changes");
    let mut fewer = def(true);
    fewer.columns.pop();
    assert!(!refused(fewer), "a column is dropped");
    let mut null_not_null = def(true);
    null_not_null
        .columns
        .push(ColumnDef::new("x", DataType::Integer).not_null());
    assert!(
        !refused(null_not_null),
        "NOT NULL without a value for the old rows"
    );
    let mut longer = def(true);
    longer.columns[1].data_type = DataType::Varchar { max: None };
    assert!(refused(longer), "text to varchar is the same storage");

    // This transaction's own writes to the table would have the old width: rewrite instead.
    let mut tx = db.begin();
    tx.insert("t", old_row(10_001)).unwrap();
    assert!(!tx.redefine_table("t", widened(true)).unwrap());
    tx.rollback();
    assert_eq!(db.table("t").unwrap().def(), &def(true), "nothing changed");
}
