//! Secondary indexes against a model: random inserts, updates of indexed columns, deletes, retrains, bulk
//! loads and reopens; after each step every index lookup equals a filter over a full scan. UNIQUE indexes
//! refuse duplicates at the write and at creation, and come back after a reopen.

use std::collections::BTreeMap;

use arrow_array::{Int64Array, RecordBatch, StringArray};
use omendb_storage::{
    ColumnDef, DataType, Database, Error, IndexDef, Key, KeyRange, Options, TableDef, Value,
};
use proptest::prelude::*;

fn opts() -> Options {
    Options {
        background: false,
        bulk_rows: 64,
        ..Options::default()
    }
}

fn table() -> TableDef {
    TableDef {
        name: "t".into(),
        columns: vec![
            ColumnDef::new("id", DataType::BigInt),
            ColumnDef::new("grp", DataType::BigInt),
            ColumnDef::new("tag", DataType::Text),
        ],
        primary_key: Some(0),
    }
}

fn index(name: &str, columns: Vec<usize>, unique: bool) -> IndexDef {
    IndexDef {
        id: 0,
        name: name.into(),
        table_id: 0,
        columns,
        unique,
        constraint: None,
        primary: false,
        options: vec![],
        predicate: None,
        expressions: vec![],
    }
}

#[derive(Clone, Debug)]
enum Op {
    Put(i64, i64, Option<u8>),
    Delete(i64),
    Bulk(i64, u8),
    Retrain,
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0i64..60, 0i64..6, proptest::option::of(0u8..4)).prop_map(|(k, g, t)| Op::Put(k, g, t)),
        2 => (0i64..60).prop_map(Op::Delete),
        1 => (0i64..4, 0u8..4).prop_map(|(g, t)| Op::Bulk(g, t)),
        1 => Just(Op::Retrain),
        1 => Just(Op::Reopen),
    ]
}

fn tag(t: Option<u8>) -> Value {
    t.map_or(Value::Null, |t| Value::Text(format!("tag{t}")))
}

/// Rows `keys` of group `g`, all tagged `tg`, as one batch (the bulk path).
fn bulk(db: &Database, keys: &[i64], g: i64, tg: u8) -> RecordBatch {
    RecordBatch::try_new(
        db.table("t").unwrap().schema(),
        vec![
            std::sync::Arc::new(Int64Array::from(keys.to_vec())),
            std::sync::Arc::new(Int64Array::from(vec![g; keys.len()])),
            std::sync::Arc::new(StringArray::from(vec![format!("tag{tg}"); keys.len()])),
        ],
    )
    .unwrap()
}

/// The primary keys of an index lookup's rows (which come in key order).
fn ids(found: omendb_storage::Result<Option<RecordBatch>>) -> Vec<i64> {
    let batch = found.unwrap().expect("complete index");
    let col = batch
        .column(0)
        .as_any()
        .downcast_ref::<Int64Array>()
        .unwrap();
    let out: Vec<i64> = col.values().to_vec();
    assert!(out.windows(2).all(|w| w[0] < w[1]), "key order");
    out
}

/// Every lookup through `by_grp` and `by_tag_grp` equals the model filtered the same way.
fn check(db: &Database, model: &BTreeMap<i64, (i64, Value)>) {
    let r = db.table("t").unwrap();
    assert_eq!(r.len(), model.len() as u64);
    for g in 0..6 {
        let got: Vec<i64> = ids(r.index_lookup("by_grp", &[vec![Value::Int64(g)]]));
        let want: Vec<i64> = model
            .iter()
            .filter(|(_, (gg, _))| *gg == g)
            .map(|(k, _)| *k)
            .collect();
        assert_eq!(got, want, "grp = {g}");
        for t in 0..4 {
            let tv = tag(Some(t));
            let got = ids(r.index_lookup("by_tag_grp", &[vec![tv.clone(), Value::Int64(g)]])).len();
            let want = model
                .values()
                .filter(|(gg, tt)| *gg == g && *tt == tv)
                .count();
            assert_eq!(got, want, "tag{t}, grp {g}");
        }
    }
    // Ranges over the leading column, every kind of bound.
    use std::ops::Bound::{Excluded, Included, Unbounded};
    for (lo, hi) in [
        (Included(1), Excluded(4)),
        (Excluded(1), Included(4)),
        (Unbounded, Excluded(3)),
        (Included(2), Unbounded),
        (Excluded(5), Excluded(5)),
    ] {
        let (l, h) = (lo.map(Value::Int64), hi.map(Value::Int64));
        let got = ids(r.index_range("by_grp", l.as_ref(), h.as_ref()));
        let want: Vec<i64> = model
            .iter()
            .filter(|(_, (g, _))| std::ops::RangeBounds::contains(&(lo, hi), g))
            .map(|(k, _)| *k)
            .collect();
        assert_eq!(got, want, "grp in {lo:?}..{hi:?}");
    }
    // A prefix of the two-column index: every row with the tag.
    let got = ids(r.index_lookup("by_tag_grp", &[vec![tag(Some(1))]])).len();
    assert_eq!(
        got,
        model.values().filter(|(_, t)| *t == tag(Some(1))).count()
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    #[test]
    fn index_lookups_equal_a_filtered_scan(ops in proptest::collection::vec(op(), 1..60)) {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Database::open(dir.path(), opts()).unwrap();
        let mut t = db.begin();
        t.create_table(table()).unwrap();
        t.commit().unwrap();
        let mut t = db.begin();
        t.create_index("t", index("by_grp", vec![1], false)).unwrap();
        t.create_index("t", index("by_tag_grp", vec![2, 1], false)).unwrap();
        t.commit().unwrap();
        let mut model: BTreeMap<i64, (i64, Value)> = BTreeMap::new();
        let mut next_bulk = 1000i64;
        for op in ops {
            match op {
                Op::Put(k, g, tg) => {
                    let mut t = db.begin();
                    let row = vec![Value::Int64(k), Value::Int64(g), tag(tg)];
                    if model.contains_key(&k) {
                        t.update("t", &Key::Int(k), row).unwrap();
                    } else {
                        t.insert("t", row).unwrap();
                    }
                    t.commit().unwrap();
                    model.insert(k, (g, tag(tg)));
                }
                Op::Delete(k) => {
                    let mut t = db.begin();
                    t.delete("t", &Key::Int(k)).unwrap();
                    t.commit().unwrap();
                    model.remove(&k);
                }
                Op::Bulk(g, tg) => {
                    // Above every key: the bulk path straight to chunk files.
                    let keys: Vec<i64> = (next_bulk..next_bulk + 100).collect();
                    next_bulk += 100;
                    let batch = bulk(&db, &keys, g, tg);
                    let mut t = db.begin();
                    t.insert_batch("t", &batch).unwrap();
                    t.commit().unwrap();
                    for k in keys {
                        model.insert(k, (g, tag(Some(tg))));
                    }
                }
                Op::Retrain => {
                    db.retrain("t").unwrap();
                }
                Op::Reopen => {
                    drop(db);
                    db = Database::open(dir.path(), opts()).unwrap();
                }
            }
            check(&db, &model);
        }
        // The scan agrees with the model too (the index did not hide or invent rows).
        let scanned: usize = db
            .table("t")
            .unwrap()
            .scan(KeyRange::all())
            .unwrap()
            .map(|b| b.unwrap().num_rows())
            .sum();
        prop_assert_eq!(scanned, model.len());
    }
}

#[test]
fn unique_index_refuses_duplicates_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Database::open(dir.path(), opts()).unwrap();
        let mut t = db.begin();
        t.create_table(table()).unwrap();
        for (k, tag) in [(1, "a"), (2, "b"), (3, "a")] {
            t.insert(
                "t",
                vec![Value::Int64(k), Value::Int64(0), Value::Text(tag.into())],
            )
            .unwrap();
        }
        t.commit().unwrap();
        // Two rows share "a": the index cannot be created.
        let mut t = db.begin();
        t.create_index("t", index("t_tag_key", vec![2], true))
            .unwrap();
        match t.commit() {
            Err(Error::UniqueViolation {
                index,
                key,
                building,
            }) => {
                assert_eq!(index, "t_tag_key");
                assert_eq!(key, "(tag)=(a)");
                assert!(building);
            }
            other => panic!("{other:?}"),
        }
        let mut t = db.begin();
        t.delete("t", &Key::Int(3)).unwrap();
        t.create_index("t", index("t_tag_key", vec![2], true))
            .unwrap();
        t.commit().unwrap();
    }
    let db = Database::open(dir.path(), opts()).unwrap();
    let row = |k: i64, tag: Option<&str>| {
        vec![
            Value::Int64(k),
            Value::Int64(0),
            tag.map_or(Value::Null, |s| Value::Text(s.into())),
        ]
    };
    // The write itself fails (PostgreSQL checks a NOT DEFERRABLE unique constraint at the row), so a
    // savepoint can catch it.
    let insert = |k: i64, tag: Option<&str>| {
        let mut t = db.begin();
        t.insert("t", row(k, tag))?;
        t.commit().map(|_| ())
    };
    assert!(matches!(
        insert(10, Some("b")),
        Err(Error::UniqueViolation {
            building: false,
            ..
        })
    ));
    // NULLs never conflict.
    insert(11, None).unwrap();
    insert(12, None).unwrap();
    insert(13, Some("c")).unwrap();
    // Moving a value from one row to another in one transaction is judged on the final state.
    let mut t = db.begin();
    t.update(
        "t",
        &Key::Int(13),
        vec![Value::Int64(13), Value::Int64(0), Value::Text("d".into())],
    )
    .unwrap();
    t.update(
        "t",
        &Key::Int(2),
        vec![Value::Int64(2), Value::Int64(0), Value::Text("c".into())],
    )
    .unwrap();
    t.commit().unwrap();
    // Within a transaction: its own rows count, and values it frees can be taken again.
    let mut t = db.begin();
    t.insert("t", row(20, Some("e"))).unwrap();
    let sp = t.savepoint();
    assert!(matches!(
        t.insert("t", row(21, Some("e"))),
        Err(Error::UniqueViolation { .. })
    ));
    t.rollback_to(sp);
    t.delete("t", &Key::Int(20)).unwrap();
    t.insert("t", row(21, Some("e"))).unwrap();
    t.update("t", &Key::Int(1), row(1, Some("f"))).unwrap();
    t.insert("t", row(22, Some("a"))).unwrap();
    assert!(matches!(
        t.update("t", &Key::Int(22), row(22, Some("e"))),
        Err(Error::UniqueViolation { .. })
    ));
    t.rollback();
    let r = db.table("t").unwrap();
    assert_eq!(
        ids(r.index_lookup("t_tag_key", &[vec![Value::Text("c".into())]])),
        vec![2]
    );
    // Several values at once (IN): one batch in key order.
    assert_eq!(
        ids(r.index_lookup(
            "t_tag_key",
            &[vec![Value::Text("d".into())], vec![Value::Text("a".into())]]
        )),
        vec![1, 13]
    );
}

/// Evaluates the one predicate the partial-index test uses, `grp = 0`, as the SQL layer's hook would.
struct GroupZero;

impl omendb_storage::CheckHook for GroupZero {
    fn check(
        &self,
        _: &omendb_storage::TableShape,
        _: &[std::sync::Arc<omendb_storage::CheckDef>],
        _: &RecordBatch,
    ) -> omendb_storage::Result<()> {
        Ok(())
    }

    fn index_predicate(
        &self,
        _: &omendb_storage::TableShape,
        sql: &str,
    ) -> omendb_storage::Result<omendb_storage::RowPredicate> {
        assert_eq!(sql, "grp = 0");
        Ok(std::sync::Arc::new(|row: &omendb_storage::Row| {
            matches!(row[1], Value::Int64(0))
        }))
    }

    fn index_expression(
        &self,
        _: &omendb_storage::TableShape,
        sql: &str,
    ) -> omendb_storage::Result<omendb_storage::RowValue> {
        panic!("no expression indexes here: {sql}")
    }
}

fn open_partial(dir: &std::path::Path) -> Database {
    Database::open_with_hook(dir, opts(), Box::new(GroupZero)).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    /// A partial UNIQUE index (`tag` WHERE `grp = 0`) refuses exactly the writes a model says would give
    /// two rows of group 0 the same tag, through updates that move rows in and out of the predicate,
    /// deletes, bulk loads, retrains and reopens (which rebuild it through the hook).
    #[test]
    fn a_partial_unique_index_refuses_what_the_model_does(ops in proptest::collection::vec(op(), 1..60)) {
        let dir = tempfile::tempdir().unwrap();
        let mut db = open_partial(dir.path());
        let mut t = db.begin();
        t.create_table(table()).unwrap();
        t.commit().unwrap();
        let mut t = db.begin();
        t.create_index("t", IndexDef {
            predicate: Some("grp = 0".into()),
            ..index("t_tag_live", vec![2], true)
        }).unwrap();
        t.commit().unwrap();
        let mut model: BTreeMap<i64, (i64, Value)> = BTreeMap::new();
        let mut next_bulk = 1000i64;
        let taken = |model: &BTreeMap<i64, (i64, Value)>, k: i64, v: &Value| {
            !matches!(v, Value::Null) && model.iter().any(|(kk, (g, t))| *kk != k && *g == 0 && t == v)
        };
        for op in ops {
            match op {
                Op::Put(k, g, tg) => {
                    let refused = g == 0 && taken(&model, k, &tag(tg));
                    let mut t = db.begin();
                    let row = vec![Value::Int64(k), Value::Int64(g), tag(tg)];
                    let r = if model.contains_key(&k) {
                        t.update("t", &Key::Int(k), row).map(drop)
                    } else {
                        t.insert("t", row)
                    }
                    .and_then(|()| t.commit().map(drop));
                    match r {
                        Ok(()) => {
                            prop_assert!(!refused, "put {k} {g} {tg:?} was let through");
                            model.insert(k, (g, tag(tg)));
                        }
                        Err(Error::UniqueViolation { .. }) => prop_assert!(refused, "put {k} {g} {tg:?} refused"),
                        Err(e) => panic!("{e:?}"),
                    }
                }
                Op::Delete(k) => {
                    let mut t = db.begin();
                    t.delete("t", &Key::Int(k)).unwrap();
                    t.commit().unwrap();
                    model.remove(&k);
                }
                Op::Bulk(g, tg) => {
                    // A hundred rows with one tag: refused in group 0 only.
                    let keys: Vec<i64> = (next_bulk..next_bulk + 100).collect();
                    next_bulk += 100;
                    let batch = bulk(&db, &keys, g, tg);
                    let mut t = db.begin();
                    let r = t.insert_batch("t", &batch).and_then(|_| t.commit().map(drop));
                    if g == 0 {
                        prop_assert!(matches!(r, Err(Error::UniqueViolation { .. })), "{r:?}");
                    } else {
                        r.unwrap();
                        for k in keys {
                            model.insert(k, (g, tag(Some(tg))));
                        }
                    }
                }
                Op::Retrain => {
                    db.retrain("t").unwrap();
                }
                Op::Reopen => {
                    drop(db);
                    db = open_partial(dir.path());
                }
            }
            let scanned: usize = db
                .table("t")
                .unwrap()
                .scan(KeyRange::all())
                .unwrap()
                .map(|b| b.unwrap().num_rows())
                .sum();
            prop_assert_eq!(scanned, model.len());
        }
    }
}

#[test]
fn a_renamed_index_and_its_constraint_keep_their_entries_and_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Database::open(dir.path(), opts()).unwrap();
        let mut t = db.begin();
        t.create_table(table()).unwrap();
        t.commit().unwrap();
        let mut t = db.begin();
        let mut unique = index("t_tag_key", vec![2], true);
        unique.constraint = Some("t_tag_key".into());
        t.create_index("t", unique).unwrap();
        t.create_index("t", index("by_grp", vec![1], false))
            .unwrap();
        t.insert(
            "t",
            vec![Value::Int64(1), Value::Int64(7), Value::Text("a".into())],
        )
        .unwrap();
        t.commit().unwrap();

        let mut t = db.begin();
        t.rename_index("by_grp", "by_group").unwrap();
        assert!(
            t.rename_constraint("t", "t_tag_key", "t_tag_unique")
                .unwrap()
        );
        assert!(!t.rename_constraint("t", "nosuch", "x").unwrap());
        assert!(matches!(
            t.rename_index("by_group", "t"),
            Err(Error::TableExists(_))
        ));
        t.commit().unwrap();
        // The unique index still refuses a duplicate under its new name.
        let mut t = db.begin();
        let dup = t.insert(
            "t",
            vec![Value::Int64(2), Value::Int64(8), Value::Text("a".into())],
        );
        assert!(matches!(dup, Err(Error::UniqueViolation { .. })), "{dup:?}");
    }
    let db = Database::open(dir.path(), opts()).unwrap();
    let t = db.begin();
    let by_group = t.index("by_group").unwrap();
    assert_eq!(by_group.columns, vec![1]);
    assert!(t.index("by_grp").is_none());
    let unique = t.index("t_tag_unique").unwrap();
    assert_eq!(unique.constraint.as_deref(), Some("t_tag_unique"));
}
