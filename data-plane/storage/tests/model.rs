//! Property test: random sequences of writes, reads, transactions, retrains and reopens, mirrored into a
//! `BTreeMap` model. Any divergence fails. Small thresholds push every path (tail seal, bulk chunk files,
//! delta, tombstones, flush, retrain with reuse) into short sequences.

use std::collections::BTreeMap;
use std::ops::Bound;

use std::sync::Arc;

use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType as ArrowType, Field, Schema};
use omendb_storage::{
    ColumnDef, DataType, Database, Error, Key, KeyRange, Options, RetrainPolicy, TableDef, Value,
};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Insert(u16, i64),
    Upsert(u16, i64),
    Update(u16, i64),
    Delete(u16),
    Get(u16),
    /// `get_batch`: the rows under these keys that exist, in the order asked.
    GetBatch(Vec<u16>),
    Range(u16, u16, bool),
    Bulk(u16),
    /// `insert_batch` of arbitrary keys: all inserted, or none when any key exists or repeats.
    Batch(Vec<(u16, i64)>),
    /// `insert_batch` of sorted keys above everything: the columnar bulk path.
    SortedBatch(u16),
    Commit,
    Rollback,
    Retrain,
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    let k = 0u16..400;
    prop_oneof![
        6 => (k.clone(), any::<i64>()).prop_map(|(k, v)| Op::Insert(k, v)),
        2 => (k.clone(), any::<i64>()).prop_map(|(k, v)| Op::Upsert(k, v)),
        2 => (k.clone(), any::<i64>()).prop_map(|(k, v)| Op::Update(k, v)),
        3 => k.clone().prop_map(Op::Delete),
        3 => k.clone().prop_map(Op::Get),
        2 => prop::collection::vec(k.clone(), 0..6).prop_map(Op::GetBatch),
        2 => (k.clone(), k.clone(), any::<bool>()).prop_map(|(a, b, inc)| Op::Range(a, b, inc)),
        1 => (1u16..80).prop_map(Op::Bulk),
        1 => prop::collection::vec((k.clone(), any::<i64>()), 0..12).prop_map(Op::Batch),
        1 => (1u16..60).prop_map(Op::SortedBatch),
        4 => Just(Op::Commit),
        1 => Just(Op::Rollback),
        1 => Just(Op::Retrain),
        1 => Just(Op::Reopen),
    ]
}

fn opts() -> Options {
    Options {
        epsilon: 4,
        chunk_rows: 24,
        tail_seal_rows: 8,
        bulk_rows: 16,
        retrain: RetrainPolicy {
            flush_rows: 20,
            ..RetrainPolicy::manual()
        },
        background: false,
        cache_bytes: 1 << 20,
        // A cache far smaller than the data, and pages of a few rows: lookups and scans cross pages and
        // evict all the time.
        chunk_cache_bytes: 4 << 10,
        page_rows: 5,
        // Retraining cuts chunks by bytes too.
        chunk_build_bytes: 4 << 10,
        // Small segments: rotation and truncation of the commit log happen within the test.
        wal_segment_bytes: 2 << 10,
    }
}

/// The two key kinds: integers, and text keys that share their first 8 bytes (the learned prefix is equal
/// for all of them, so the full-key check inside the window decides).
fn key(text: bool, k: u16) -> Key {
    if text {
        Key::Bytes(format!("shared__{k:05}").into_bytes())
    } else {
        Key::Int(i64::from(k) * 7 - 1000)
    }
}

fn key_value(text: bool, k: u16) -> Value {
    match key(text, k) {
        Key::Int(v) => Value::Int64(v),
        Key::Bytes(b) => Value::Text(String::from_utf8(b).unwrap()),
    }
}

fn row(text: bool, k: u16, v: i64) -> Vec<Value> {
    let note = if v % 3 == 0 {
        Value::Null
    } else {
        Value::Text(format!("v{v}"))
    };
    vec![key_value(text, k), Value::Int64(v), note]
}

fn batch(text: bool, rows: &[(u16, i64)]) -> RecordBatch {
    let key: ArrayRef = if text {
        Arc::new(StringArray::from_iter_values(rows.iter().map(
            |(k, _)| match key_value(true, *k) {
                Value::Text(s) => s,
                _ => unreachable!(),
            },
        )))
    } else {
        Arc::new(Int64Array::from_iter_values(
            rows.iter().map(|(k, _)| i64::from(*k) * 7 - 1000),
        ))
    };
    let v: ArrayRef = Arc::new(Int64Array::from_iter_values(rows.iter().map(|(_, v)| *v)));
    let note: ArrayRef = Arc::new(StringArray::from_iter(
        rows.iter()
            .map(|(_, v)| (v % 3 != 0).then(|| format!("v{v}"))),
    ));
    let schema = Arc::new(Schema::new(vec![
        Field::new(
            "k",
            if text {
                ArrowType::Utf8
            } else {
                ArrowType::Int64
            },
            false,
        ),
        Field::new("v", ArrowType::Int64, false),
        Field::new("note", ArrowType::Utf8, true),
    ]));
    RecordBatch::try_new(schema, vec![key, v, note]).unwrap()
}

fn def(text: bool) -> TableDef {
    TableDef {
        name: "t".into(),
        columns: vec![
            ColumnDef::new(
                "k",
                if text {
                    DataType::Text
                } else {
                    DataType::BigInt
                },
            ),
            ColumnDef::new("v", DataType::BigInt).not_null(),
            ColumnDef::new("note", DataType::Text),
        ],
        primary_key: Some(0),
    }
}

fn run(text: bool, ops: Vec<Op>) {
    let dir = tempfile::tempdir().unwrap();
    let mut db = Some(Database::open(dir.path(), opts()).unwrap());
    db.as_ref().unwrap().create_table(def(text)).unwrap();
    let mut committed: BTreeMap<u16, i64> = BTreeMap::new();
    let mut pending = committed.clone();
    let mut tx = Some(db.as_ref().unwrap().begin());
    let mut next_bulk: u16 = 400;
    for op in ops {
        let t = tx.as_mut().unwrap();
        match op {
            Op::Insert(k, v) => {
                let r = t.insert("t", row(text, k, v));
                if let std::collections::btree_map::Entry::Vacant(e) = pending.entry(k) {
                    r.unwrap();
                    e.insert(v);
                } else {
                    assert!(
                        matches!(r, Err(Error::DuplicateKey { .. })),
                        "insert of existing {k}: {r:?}"
                    );
                }
            }
            Op::Upsert(k, v) => {
                t.upsert("t", row(text, k, v)).unwrap();
                pending.insert(k, v);
            }
            Op::Update(k, v) => {
                let found = t.update("t", &key(text, k), row(text, k, v)).unwrap();
                assert_eq!(found, pending.contains_key(&k));
                if found {
                    pending.insert(k, v);
                }
            }
            Op::Delete(k) => {
                let found = t.delete("t", &key(text, k)).unwrap();
                assert_eq!(found, pending.remove(&k).is_some(), "delete {k}");
            }
            Op::Get(k) => {
                let got = t.get("t", &key(text, k)).unwrap();
                assert_eq!(got, pending.get(&k).map(|v| row(text, k, *v)), "get {k}");
                let snap = db
                    .as_ref()
                    .unwrap()
                    .table("t")
                    .unwrap()
                    .get(&key(text, k))
                    .unwrap();
                assert_eq!(
                    snap,
                    committed.get(&k).map(|v| row(text, k, *v)),
                    "snapshot get {k}"
                );
            }
            Op::GetBatch(keys) => {
                let ks: Vec<Key> = keys.iter().map(|&k| key(text, k)).collect();
                let rows_of = |b: RecordBatch| -> Vec<Vec<Value>> {
                    (0..b.num_rows())
                        .map(|i| omendb_storage::row_at(&b, i))
                        .collect()
                };
                let want = |m: &BTreeMap<u16, i64>| -> Vec<Vec<Value>> {
                    keys.iter()
                        .filter_map(|k| m.get(k).map(|v| row(text, *k, *v)))
                        .collect()
                };
                let got = rows_of(t.table("t").unwrap().get_batch(&ks).unwrap());
                assert_eq!(got, want(&pending), "get_batch {keys:?}");
                let reader = db.as_ref().unwrap().table("t").unwrap();
                let got = reader.get_batch(&ks).unwrap();
                assert_eq!(got.schema(), reader.schema(), "get_batch schema");
                assert_eq!(
                    rows_of(got),
                    want(&committed),
                    "snapshot get_batch {keys:?}"
                );
            }
            Op::Range(a, b, inclusive) => {
                let (lo, hi) = (a.min(b), a.max(b));
                let end = if inclusive {
                    Bound::Included(key(text, hi))
                } else {
                    Bound::Excluded(key(text, hi))
                };
                let range = KeyRange::new(Bound::Included(key(text, lo)), end);
                let got: Vec<Vec<Value>> = t
                    .table("t")
                    .unwrap()
                    .rows(range)
                    .unwrap()
                    .into_iter()
                    .map(|(_, r)| r)
                    .collect();
                let want: Vec<Vec<Value>> = pending
                    .range(lo..=hi)
                    .filter(|(k, _)| inclusive || **k < hi)
                    .map(|(k, v)| row(text, *k, *v))
                    .collect();
                assert_eq!(got, want, "range {lo}..{hi} inclusive={inclusive}");
            }
            Op::Bulk(n) => {
                // In-order inserts above every key: the tail / bulk chunk-file path.
                for i in 0..n {
                    let k = next_bulk + i;
                    t.insert("t", row(text, k, i64::from(i))).unwrap();
                    pending.insert(k, i64::from(i));
                }
                next_bulk += n;
            }
            Op::Batch(rows) => {
                let mut keys: Vec<u16> = rows.iter().map(|(k, _)| *k).collect();
                keys.sort_unstable();
                let clash = keys.windows(2).any(|w| w[0] == w[1])
                    || keys.iter().any(|k| pending.contains_key(k));
                let r = t.insert_batch("t", &batch(text, &rows));
                if clash {
                    assert!(
                        matches!(r, Err(Error::DuplicateKey { .. })),
                        "batch with clash: {r:?}"
                    );
                } else {
                    r.unwrap();
                    pending.extend(rows.iter().copied());
                }
            }
            Op::SortedBatch(n) => {
                let rows: Vec<(u16, i64)> =
                    (0..n).map(|i| (next_bulk + i, i64::from(i) * 3)).collect();
                t.insert_batch("t", &batch(text, &rows)).unwrap();
                pending.extend(rows.iter().copied());
                next_bulk += n;
            }
            Op::Commit => {
                tx.take().unwrap().commit().unwrap();
                committed = pending.clone();
                tx = Some(db.as_ref().unwrap().begin());
            }
            Op::Rollback => {
                tx.take().unwrap().rollback();
                pending = committed.clone();
                tx = Some(db.as_ref().unwrap().begin());
            }
            Op::Retrain => {
                db.as_ref().unwrap().retrain("t").unwrap();
            }
            Op::Reopen => {
                drop(tx.take());
                drop(db.take());
                db = Some(Database::open(dir.path(), opts()).unwrap());
                pending = committed.clone();
                tx = Some(db.as_ref().unwrap().begin());
            }
        }
    }
    drop(tx);
    // Final: full scan and row count equal the model, before and after a reopen.
    for round in 0..2 {
        let d = db.as_ref().unwrap();
        let reader = d.table("t").unwrap();
        let got: Vec<Vec<Value>> = reader
            .rows(KeyRange::all())
            .unwrap()
            .into_iter()
            .map(|(_, r)| r)
            .collect();
        let want: Vec<Vec<Value>> = committed.iter().map(|(k, v)| row(text, *k, *v)).collect();
        assert_eq!(got, want, "full scan, round {round}");
        assert_eq!(
            reader.len(),
            committed.len() as u64,
            "row count, round {round}"
        );
        assert_eq!(d.stats("t").unwrap().rows, committed.len() as u64);
        drop(db.take());
        db = Some(Database::open(dir.path(), opts()).unwrap());
    }
}

proptest! {
    // PROPTEST_CASES raises the count for a longer soak; the default keeps `scripts/test` quick.
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(40)
    ))]

    #[test]
    fn integer_keys_match_btreemap(ops in prop::collection::vec(op(), 1..160)) {
        run(false, ops);
    }

    #[test]
    fn text_keys_match_btreemap(ops in prop::collection::vec(op(), 1..160)) {
        run(true, ops);
    }
}
