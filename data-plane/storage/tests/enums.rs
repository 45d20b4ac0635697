//! Enum types: created, altered and dropped in transactions, kept across a reopen, and every write of an
//! enum column checked against the labels the writer sees.

use omendb_storage::{
    ColumnDef, DataType, Database, EnumDef, Error, Key, Options, TableDef, Value,
};

fn mood() -> EnumDef {
    EnumDef::new("mood".into(), ["sad", "ok", "happy"].map(String::from))
}

fn table(type_id: u64) -> TableDef {
    TableDef {
        name: "t".into(),
        columns: vec![
            ColumnDef::new("id", DataType::BigInt).not_null(),
            ColumnDef::new("m", DataType::Enum { type_id }),
        ],
        primary_key: Some(0),
    }
}

fn row(id: i64, m: &str) -> Vec<Value> {
    vec![Value::Int64(id), Value::Text(m.into())]
}

#[test]
fn labels_are_checked_on_every_write_and_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let id = {
        let db = Database::open(dir.path(), Options::default()).unwrap();
        let mut tx = db.begin();
        let id = tx.create_type(mood()).unwrap();
        tx.create_table(table(id)).unwrap();
        tx.insert("t", row(1, "ok")).unwrap();
        assert!(matches!(
            tx.insert("t", row(2, "meh")),
            Err(Error::InvalidEnum { ref type_name, ref value }) if type_name == "mood" && value == "meh"
        ));
        assert!(matches!(
            tx.update("t", &Key::Int(1), row(1, "meh")),
            Err(Error::InvalidEnum { .. })
        ));
        assert!(matches!(
            tx.upsert("t", row(3, "x")),
            Err(Error::InvalidEnum { .. })
        ));
        let batch = arrow_array::RecordBatch::try_new(
            db_schema(&mut tx),
            vec![
                std::sync::Arc::new(arrow_array::Int64Array::from(vec![5, 6])),
                std::sync::Arc::new(arrow_array::StringArray::from(vec!["sad", "nope"])),
            ],
        )
        .unwrap();
        assert!(matches!(
            tx.insert_batch("t", &batch),
            Err(Error::InvalidEnum { .. })
        ));
        tx.commit().unwrap();
        id
    };
    let db = Database::open(dir.path(), Options::default()).unwrap();
    let types = db.snapshot().types();
    assert_eq!(types.len(), 1);
    assert_eq!(types[0].id, id);
    assert_eq!(*types[0], EnumDef { id, ..mood() });
    let mut tx = db.begin();
    // A label added in the transaction can be written by it.
    let mut def = (*types[0]).clone();
    def.insert_label(1, "meh".into());
    assert_eq!(def.labels[1].sort_order, 1.5);
    assert_eq!(def.labels[1].number, 3);
    tx.alter_type(def.clone()).unwrap();
    tx.insert("t", row(2, "meh")).unwrap();
    tx.commit().unwrap();
    assert_eq!(*db.snapshot().types()[0], def);
    assert_eq!(
        db.table("t").unwrap().get(&Key::Int(2)).unwrap(),
        Some(row(2, "meh"))
    );
}

fn db_schema(tx: &mut omendb_storage::WriteTxn) -> arrow_schema::SchemaRef {
    tx.table("t").unwrap().schema()
}

#[test]
fn a_type_in_use_is_not_dropped_and_names_do_not_collide() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), Options::default()).unwrap();
    let mut tx = db.begin();
    let id = tx.create_type(mood()).unwrap();
    assert!(matches!(tx.create_type(mood()), Err(Error::TypeExists(_))));
    tx.create_table(table(id)).unwrap();
    assert!(matches!(tx.drop_type(id), Err(Error::TypeInUse { .. })));
    let mut clash = table(id);
    clash.name = "mood".into();
    assert!(matches!(tx.create_table(clash), Err(Error::TypeExists(_))));
    assert!(matches!(
        tx.create_type(EnumDef::new("t".into(), ["a".to_string()])),
        Err(Error::TypeExists(_))
    ));
    tx.commit().unwrap();
    let mut tx = db.begin();
    tx.drop_table("t").unwrap();
    tx.drop_type(id).unwrap();
    tx.commit().unwrap();
    assert!(db.snapshot().types().is_empty());
    // Created and dropped in one transaction: nothing reaches the catalog.
    let mut tx = db.begin();
    let id = tx.create_type(mood()).unwrap();
    tx.drop_type(id).unwrap();
    tx.commit().unwrap();
    assert!(db.snapshot().types().is_empty());
}

#[test]
fn concurrent_alters_of_one_type_do_not_lose_a_label() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), Options::default()).unwrap();
    let mut tx = db.begin();
    tx.create_type(mood()).unwrap();
    tx.commit().unwrap();
    let base = (*db.snapshot().types()[0]).clone();
    let with = |label: &str| {
        let mut d = base.clone();
        d.insert_label(d.labels.len(), label.into());
        d
    };
    let mut a = db.begin();
    let mut b = db.begin();
    a.alter_type(with("ecstatic")).unwrap();
    b.alter_type(with("content")).unwrap();
    a.commit().unwrap();
    assert!(matches!(b.commit(), Err(Error::Conflict(_))));
    assert_eq!(*db.snapshot().types()[0], with("ecstatic"));
}

#[test]
fn added_labels_take_postgres_sort_orders() {
    let mut def = EnumDef::new("e".into(), ["a", "z"].map(String::from));
    def.insert_label(0, "first".into());
    def.insert_label(3, "last".into());
    let orders: Vec<f32> = def.labels.iter().map(|l| l.sort_order).collect();
    assert_eq!(orders, [0.0, 1.0, 2.0, 3.0]);
    // Halving the gap between two labels runs out of float precision: then all are renumbered.
    for i in 0..40 {
        def.insert_label(2, format!("m{i}"));
    }
    let orders: Vec<f32> = def.labels.iter().map(|l| l.sort_order).collect();
    assert!(orders.windows(2).all(|w| w[0] < w[1]), "{orders:?}");
    let names: Vec<&str> = def.labels.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names[..2], ["first", "a"]);
    assert_eq!(names[2], "m39");
    assert_eq!(names[names.len() - 2..], ["z", "last"]);
}
