//! Sequences through the engine's API: definitions are transactional DDL and survive a reopen; values are
//! not transactional and never repeat across a reopen (they are logged ahead, so a reopen leaves a gap).

use omendb_storage::{DataType, Database, Error, Options, SequenceDef};

fn opts() -> Options {
    Options {
        background: false,
        ..Options::default()
    }
}

fn seq(db: &Database, name: &str) -> SequenceDef {
    db.snapshot()
        .sequences()
        .into_iter()
        .find(|s| s.name == name)
        .map(|s| (*s).clone())
        .unwrap_or_else(|| panic!("sequence {name} not found"))
}

#[test]
fn sequence_values_never_repeat_across_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let mut handed_out = vec![];
    {
        let db = Database::open(dir.path(), opts()).unwrap();
        let mut t = db.begin();
        t.create_sequence(SequenceDef::new("s", DataType::BigInt, 1))
            .unwrap();
        t.commit().unwrap();
        let s = seq(&db, "s");
        // Past one log-ahead batch.
        for _ in 0..40 {
            handed_out.push(db.nextval(&s).unwrap());
        }
        assert_eq!(handed_out, (1..=40).collect::<Vec<_>>());
        assert_eq!(db.sequence_last(&s).unwrap(), Some(40));
    }
    {
        let db = Database::open(dir.path(), opts()).unwrap();
        let s = seq(&db, "s");
        let next = db.nextval(&s).unwrap();
        assert!(next > 40, "{next} was handed out before the reopen");
        handed_out.push(next);
        // setval(v, false): the next nextval is v itself, also after a reopen.
        db.setval(&s, 500, false).unwrap();
    }
    {
        let db = Database::open(dir.path(), opts()).unwrap();
        let s = seq(&db, "s");
        assert_eq!(db.nextval(&s).unwrap(), 500);
    }
    {
        let db = Database::open(dir.path(), opts()).unwrap();
        let s = seq(&db, "s");
        assert!(db.nextval(&s).unwrap() > 500);
    }
}

#[test]
fn sequence_ddl_is_transactional_and_durable() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Database::open(dir.path(), opts()).unwrap();
        let mut t = db.begin();
        t.create_sequence(SequenceDef::new("gone", DataType::Integer, 1))
            .unwrap();
        assert!(t.sequence("gone").is_some());
        t.rollback();
        assert!(db.snapshot().sequences().is_empty());
        let mut t = db.begin();
        t.create_sequence(SequenceDef::new("kept", DataType::Integer, -1))
            .unwrap();
        t.create_sequence(SequenceDef::new("dropped", DataType::Integer, 1))
            .unwrap();
        // A name is taken by a sequence or a table alike.
        assert!(matches!(
            t.create_sequence(SequenceDef::new("kept", DataType::Integer, 1)),
            Err(Error::TableExists(_))
        ));
        t.commit().unwrap();
        let mut t = db.begin();
        t.drop_sequence("dropped").unwrap();
        t.commit().unwrap();
        let s = seq(&db, "kept");
        assert_eq!((s.min, s.max, s.start), (i64::from(i32::MIN), -1, -1));
        assert_eq!(db.nextval(&s).unwrap(), -1);
        assert_eq!(db.nextval(&s).unwrap(), -2);
    }
    let db = Database::open(dir.path(), opts()).unwrap();
    let names: Vec<String> = db
        .snapshot()
        .sequences()
        .iter()
        .map(|s| s.name.clone())
        .collect();
    assert_eq!(names, vec!["kept".to_string()]);
    let s = seq(&db, "kept");
    assert!(db.nextval(&s).unwrap() < -2);
    // An invalid definition is refused.
    let mut t = db.begin();
    assert!(matches!(
        t.create_sequence(SequenceDef::new("zero", DataType::Integer, 0)),
        Err(Error::InvalidSequence(_))
    ));
}

#[test]
fn concurrent_nextval_hands_out_distinct_values_and_a_reopen_continues_past_them() {
    let dir = tempfile::tempdir().unwrap();
    let max = {
        let db = std::sync::Arc::new(Database::open(dir.path(), opts()).unwrap());
        let mut t = db.begin();
        t.create_sequence(SequenceDef::new("busy", DataType::BigInt, 1))
            .unwrap();
        t.commit().unwrap();
        let s = seq(&db, "busy");
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (db, s) = (db.clone(), s.clone());
                std::thread::spawn(move || {
                    (0..5000)
                        .map(|_| db.nextval(&s).unwrap())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<i64> = threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 20_000, "a value was handed out twice");
        *all.last().unwrap()
    };
    let db = Database::open(dir.path(), opts()).unwrap();
    let s = seq(&db, "busy");
    let next = db.nextval(&s).unwrap();
    assert!(
        next > max,
        "{next} repeats a value handed out before the reopen (max {max})"
    );
    // The gap a reopen leaves is bounded by the largest log-ahead batch.
    assert!(next - max <= 65_536 + 1, "gap {}", next - max);
}
