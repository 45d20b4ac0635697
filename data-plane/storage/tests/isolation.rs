//! Property tests of the transaction layer against simple models.
//!
//! Random interleavings of a few transactions over a handful of keys are driven step by step on one thread
//! (a step that meets a lock leaves its transaction blocked until the lock is handed over; when every
//! unfinished transaction is blocked, one is rolled back, as a deadlock victim would be). Then:
//!
//! - SERIALIZABLE: replaying the committed writers one at a time in commit order on a `BTreeMap` must give
//!   every read they made, and the final table; every committed read-only transaction must have read one
//!   state of that serial history.
//! - READ COMMITTED / REPEATABLE READ increments (lock, read the newest version, write): the final counters
//!   equal the number of committed increments (no lost update), and REPEATABLE READ fails rather than
//!   increment a row changed after its snapshot.

use std::collections::BTreeMap;
use std::time::Duration;

use omendb_storage::{
    ColumnDef, DataType, Database, Error, Isolation, Key, KeyRange, LockMode, LockWait, Options,
    RowLock, TableDef, TxnOptions, Value, WaitPolicy, WriteTxn,
};
use proptest::prelude::*;

const KEYS: i64 = 4;

#[derive(Clone, Debug)]
enum Op {
    Read(i64),
    Scan,
    /// Lock, read the newest version, write it plus one.
    Incr(i64),
    Put(i64, i64),
    Delete(i64),
}

fn op() -> impl Strategy<Value = Op> {
    let k = 0..KEYS;
    prop_oneof![
        3 => k.clone().prop_map(Op::Read),
        1 => Just(Op::Scan),
        3 => k.clone().prop_map(Op::Incr),
        1 => (k.clone(), 0i64..5).prop_map(|(k, v)| Op::Put(k, v)),
        1 => k.prop_map(Op::Delete),
    ]
}

/// What a read saw: one key's value, or the whole table.
#[derive(Clone, Debug, PartialEq)]
enum Seen {
    Key(i64, Option<i64>),
    All(Vec<(i64, i64)>),
}

struct Txn {
    ops: Vec<Op>,
    next: usize,
    txn: Option<WriteTxn>,
    blocked: Option<LockWait>,
    seen: Vec<Seen>,
    wrote: bool,
}

enum Outcome {
    Committed {
        lsn: u64,
        ops: Vec<Op>,
        seen: Vec<Seen>,
    },
    ReadOnly {
        seen: Vec<Seen>,
    },
    Aborted,
}

fn db() -> (tempfile::TempDir, Database) {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(
        dir.path(),
        Options {
            background: false,
            ..Options::default()
        },
    )
    .unwrap();
    db.create_table(TableDef {
        name: "t".into(),
        columns: vec![
            ColumnDef::new("k", DataType::BigInt),
            ColumnDef::new("v", DataType::BigInt),
        ],
        primary_key: Some(0),
    })
    .unwrap();
    let mut t = db.begin();
    for k in 0..KEYS {
        t.insert("t", vec![Value::Int64(k), Value::Int64(0)])
            .unwrap();
    }
    t.commit().unwrap();
    (dir, db)
}

fn value(row: Option<Vec<Value>>) -> Option<i64> {
    row.map(|r| match r[1] {
        Value::Int64(v) => v,
        ref other => panic!("{other:?}"),
    })
}

/// Runs one step of `t`: `Ok(true)` when it made progress, `Ok(false)` when blocked, `Err` when the
/// transaction failed (and is dropped).
fn step(t: &mut Txn) -> Result<bool, Error> {
    if let Some(w) = &t.blocked {
        if !w.block(Duration::ZERO) {
            return Ok(false);
        }
        t.blocked = None;
    }
    let txn = t.txn.as_mut().expect("running");
    txn.new_statement();
    let r = match &t.ops[t.next] {
        Op::Read(k) => txn
            .get("t", &Key::Int(*k))
            .map(|r| t.seen.push(Seen::Key(*k, value(r)))),
        Op::Scan => txn
            .table("t")
            .and_then(|r| r.rows(KeyRange::all()))
            .map(|rows| {
                t.seen.push(Seen::All(
                    rows.into_iter()
                        .map(|(k, r)| (key(&k), value(Some(r)).unwrap()))
                        .collect(),
                ))
            }),
        Op::Incr(k) => txn
            .lock_row("t", &Key::Int(*k), LockMode::NoKeyUpdate, WaitPolicy::Wait)
            .and_then(|l| {
                assert!(matches!(l, RowLock::Held { .. }));
                // Every level computes the write from the newest version (REPEATABLE READ and SERIALIZABLE
                // failed above if it is newer than the snapshot).
                let cur = value(txn.get_latest("t", &Key::Int(*k))?);
                t.seen.push(Seen::Key(*k, cur));
                t.wrote = true;
                match cur {
                    Some(v) => txn
                        .update(
                            "t",
                            &Key::Int(*k),
                            vec![Value::Int64(*k), Value::Int64(v + 1)],
                        )
                        .map(drop),
                    None => txn.insert("t", vec![Value::Int64(*k), Value::Int64(1)]),
                }
            }),
        Op::Put(k, v) => {
            t.wrote = true;
            txn.upsert("t", vec![Value::Int64(*k), Value::Int64(*v)])
        }
        Op::Delete(k) => {
            t.wrote = true;
            txn.delete("t", &Key::Int(*k)).map(drop)
        }
    };
    match r {
        Ok(()) => {
            t.next += 1;
            Ok(true)
        }
        Err(Error::LockWait { wait, .. }) => {
            // Nothing was done; the same op runs again once the lock is handed over. A read recorded
            // before the lock was met (Incr records after) is not affected.
            t.blocked = Some(wait);
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

fn key(k: &Key) -> i64 {
    match k {
        Key::Int(i) => *i,
        other => panic!("{other:?}"),
    }
}

/// Drives the transactions to their ends, in the order `schedule` picks them.
fn run(db: &Database, iso: Isolation, txns: Vec<Vec<Op>>, schedule: &[usize]) -> Vec<Outcome> {
    let mut live: Vec<Txn> = txns
        .into_iter()
        .map(|ops| Txn {
            ops,
            next: 0,
            txn: Some(db.begin_with(TxnOptions {
                isolation: iso,
                ..TxnOptions::default()
            })),
            blocked: None,
            seen: Vec::new(),
            wrote: false,
        })
        .collect();
    let mut out: Vec<Option<Outcome>> = (0..live.len()).map(|_| None).collect();
    let mut pick = schedule.iter().cycle();
    loop {
        let running: Vec<usize> = (0..live.len()).filter(|i| out[*i].is_none()).collect();
        if running.is_empty() {
            break;
        }
        // Every running transaction blocked: the first becomes the deadlock victim.
        let movable: Vec<usize> = running
            .iter()
            .copied()
            .filter(|i| {
                live[*i]
                    .blocked
                    .as_ref()
                    .is_none_or(|w| w.block(Duration::ZERO))
            })
            .collect();
        if movable.is_empty() {
            let v = running[0];
            live[v].blocked = None;
            live[v].txn = None;
            out[v] = Some(Outcome::Aborted);
            continue;
        }
        let i = movable[*pick.next().unwrap() % movable.len()];
        let t = &mut live[i];
        if t.next == t.ops.len() {
            let txn = t.txn.take().unwrap();
            out[i] = Some(match txn.commit() {
                Ok(c) if t.wrote && c.lsn > 0 => Outcome::Committed {
                    lsn: c.lsn,
                    ops: t.ops.clone(),
                    seen: std::mem::take(&mut t.seen),
                },
                Ok(_) => Outcome::ReadOnly {
                    seen: std::mem::take(&mut t.seen),
                },
                Err(Error::SerializationFailure { .. }) => Outcome::Aborted,
                Err(e) => panic!("commit: {e}"),
            });
            continue;
        }
        match step(t) {
            Ok(_) => {}
            Err(Error::SerializationFailure { .. } | Error::DuplicateKey { .. }) => {
                t.blocked = None;
                t.txn = None;
                out[i] = Some(Outcome::Aborted);
            }
            Err(e) => panic!("step: {e}"),
        }
    }
    out.into_iter().map(Option::unwrap).collect()
}

/// Replays `ops` on `state`, returning what each read would see.
fn replay(state: &mut BTreeMap<i64, i64>, ops: &[Op]) -> Vec<Seen> {
    let mut seen = Vec::new();
    for op in ops {
        match op {
            Op::Read(k) => seen.push(Seen::Key(*k, state.get(k).copied())),
            Op::Scan => seen.push(Seen::All(state.iter().map(|(k, v)| (*k, *v)).collect())),
            Op::Incr(k) => {
                let cur = state.get(k).copied();
                seen.push(Seen::Key(*k, cur));
                state.insert(*k, cur.unwrap_or(0) + 1);
            }
            Op::Put(k, v) => {
                state.insert(*k, *v);
            }
            Op::Delete(k) => {
                state.remove(k);
            }
        }
    }
    seen
}

fn table(db: &Database) -> BTreeMap<i64, i64> {
    db.table("t")
        .unwrap()
        .rows(KeyRange::all())
        .unwrap()
        .into_iter()
        .map(|(k, r)| (key(&k), value(Some(r)).unwrap()))
        .collect()
}

fn txns() -> impl Strategy<Value = (Vec<Vec<Op>>, Vec<usize>)> {
    (
        prop::collection::vec(prop::collection::vec(op(), 1..6), 2..5),
        prop::collection::vec(0usize..8, 1..40),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(64)
    ))]

    #[test]
    fn serializable_equals_a_serial_history_in_commit_order((txns, schedule) in txns()) {
        let (_dir, db) = db();
        let initial = table(&db);
        let outcomes = run(&db, Isolation::Serializable, txns, &schedule);
        let mut committed: Vec<(u64, &Vec<Op>, &Vec<Seen>)> = outcomes
            .iter()
            .filter_map(|o| match o {
                Outcome::Committed { lsn, ops, seen } => Some((*lsn, ops, seen)),
                _ => None,
            })
            .collect();
        committed.sort_by_key(|(lsn, _, _)| *lsn);
        let mut state = initial.clone();
        let mut states = vec![state.clone()];
        for (_, ops, seen) in &committed {
            let expect = replay(&mut state, ops);
            prop_assert_eq!(&expect, *seen, "a committed serializable transaction read a non-serial state");
            states.push(state.clone());
        }
        prop_assert_eq!(table(&db), state);
        for o in &outcomes {
            if let Outcome::ReadOnly { seen } = o {
                let ops: Vec<Op> = seen
                    .iter()
                    .map(|s| match s {
                        Seen::Key(k, _) => Op::Read(*k),
                        Seen::All(_) => Op::Scan,
                    })
                    .collect();
                let consistent = states.iter().any(|s| replay(&mut s.clone(), &ops) == *seen);
                prop_assert!(consistent, "a read-only transaction saw no single state: {:?}", seen);
            }
        }
    }

    #[test]
    fn increments_are_never_lost((txns, schedule) in txns(), rr in any::<bool>()) {
        let (_dir, db) = db();
        let iso = if rr { Isolation::RepeatableRead } else { Isolation::ReadCommitted };
        // Increments only: the counters then count the committed increments exactly.
        let txns: Vec<Vec<Op>> = txns
            .into_iter()
            .map(|ops| {
                ops.into_iter()
                    .map(|o| match o {
                        Op::Incr(k) | Op::Read(k) | Op::Delete(k) | Op::Put(k, _) => Op::Incr(k),
                        Op::Scan => Op::Scan,
                    })
                    .collect()
            })
            .collect();
        let outcomes = run(&db, iso, txns, &schedule);
        let mut expect = table(&db).keys().map(|k| (*k, 0)).collect::<BTreeMap<_, _>>();
        for o in &outcomes {
            if let Outcome::Committed { ops, .. } = o {
                for op in ops {
                    if let Op::Incr(k) = op {
                        *expect.get_mut(k).unwrap() += 1;
                    }
                }
            }
        }
        prop_assert_eq!(table(&db), expect);
        if !rr {
            // READ COMMITTED never fails an increment: only deadlock victims abort.
            let aborted = outcomes.iter().filter(|o| matches!(o, Outcome::Aborted)).count();
            prop_assert!(aborted < outcomes.len());
        }
    }
}
