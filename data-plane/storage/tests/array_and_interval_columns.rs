//! Array and interval columns: values kept through the delta, the WAL after a reopen, chunk files after a
//! retrain, and a bulk (columnar) load; a value of the wrong element type is refused.

use omendb_storage::{
    ArrayElem, ColumnDef, DataType, Database, Error, Key, KeyRange, Options, RetrainPolicy,
    TableDef, Value,
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

fn def() -> TableDef {
    TableDef {
        name: "t".into(),
        columns: vec![
            ColumnDef::new("id", DataType::BigInt).not_null(),
            ColumnDef::new("ints", DataType::Array(ArrayElem::Integer)),
            ColumnDef::new("tags", DataType::Array(ArrayElem::Text)),
            ColumnDef::new("d", DataType::Interval),
        ],
        primary_key: Some(0),
    }
}

fn row(i: i64) -> Vec<Value> {
    let ints = match i % 4 {
        0 => Value::Null,
        1 => Value::Array(vec![]),
        _ => Value::Array(
            (0..i % 7)
                .map(|x| {
                    if x == 2 {
                        Value::Null
                    } else {
                        Value::Int32(x as i32)
                    }
                })
                .collect(),
        ),
    };
    let tags = Value::Array(vec![Value::Text(format!("t{i}")), Value::Null]);
    let d = match i % 5 {
        0 => Value::Null,
        _ => Value::Interval((i % 13) as i32 - 6, i as i32, -(i * 1_000_001)),
    };
    vec![Value::Int64(i), ints, tags, d]
}

fn all(db: &Database) -> Vec<Vec<Value>> {
    db.table("t")
        .unwrap()
        .scan(KeyRange::all())
        .unwrap()
        .flat_map(|b| {
            let b = b.unwrap();
            (0..b.num_rows())
                .map(move |i| omendb_storage::row_at(&b, i))
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn arrays_survive_the_delta_the_wal_and_chunk_files() {
    let dir = tempfile::tempdir().unwrap();
    let expect: Vec<Vec<Value>> = (1..=300).map(row).collect();
    {
        let db = Database::open(dir.path(), opts()).unwrap();
        db.create_table(def()).unwrap();
        let mut tx = db.begin();
        // Out of key order: row inserts into the delta.
        for i in (1..=300).rev() {
            tx.insert("t", row(i)).unwrap();
        }
        tx.commit().unwrap();
        assert_eq!(all(&db), expect);
        let mut tx = db.begin();
        assert!(matches!(
            tx.insert(
                "t",
                vec![
                    Value::Int64(999),
                    Value::Array(vec![Value::Text("x".into())]),
                    Value::Null,
                    Value::Null,
                ]
            ),
            Err(Error::WrongType { .. })
        ));
    }
    let db = Database::open(dir.path(), opts()).unwrap();
    assert_eq!(all(&db), expect, "after WAL replay");
    db.retrain("t").unwrap();
    assert_eq!(all(&db), expect, "after retrain");
    drop(db);
    let db = Database::open(dir.path(), opts()).unwrap();
    assert_eq!(all(&db), expect, "from chunk files");
    assert_eq!(
        db.table("t").unwrap().get(&Key::Int(6)).unwrap(),
        Some(row(6))
    );
}

#[test]
fn a_sorted_batch_of_arrays_loads_columnar() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), opts()).unwrap();
    db.create_table(def()).unwrap();
    let rows: Vec<Vec<Value>> = (1..=500).map(row).collect();
    let schema = db.table("t").unwrap().schema();
    let columns = (0..4)
        .map(|c| {
            let vals: Vec<Value> = rows.iter().map(|r| r[c].clone()).collect();
            omendb_storage::values_array(schema.field(c).data_type(), &vals)
        })
        .collect();
    let batch = arrow_array::RecordBatch::try_new(schema, columns).unwrap();
    let mut tx = db.begin();
    tx.insert_batch("t", &batch).unwrap();
    tx.commit().unwrap();
    assert_eq!(all(&db), rows);
    drop(db);
    let db = Database::open(dir.path(), opts()).unwrap();
    assert_eq!(all(&db), rows);
}
