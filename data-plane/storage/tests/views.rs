//! Views through the engine's API: definitions are transactional DDL in the relations' namespace, OR REPLACE
//! keeps the id, and they survive a reopen; a table a view reads cannot be dropped under a view committed
//! meanwhile.

use omendb_storage::{ColumnDef, DataType, Database, Error, Options, TableDef, ViewDef};

fn opts() -> Options {
    Options {
        background: false,
        ..Options::default()
    }
}

fn view(name: &str, query: &str, depends: Vec<u64>) -> ViewDef {
    ViewDef {
        id: 0,
        name: name.into(),
        query: query.into(),
        columns: vec![ColumnDef::new("id", DataType::BigInt)],
        depends,
    }
}

fn names(db: &Database) -> Vec<(String, String)> {
    db.snapshot()
        .views()
        .iter()
        .map(|v| (v.name.clone(), v.query.clone()))
        .collect()
}

#[test]
fn views_are_transactional_durable_and_guard_their_tables() {
    let dir = tempfile::tempdir().unwrap();
    let table_id;
    {
        let db = Database::open(dir.path(), opts()).unwrap();
        let mut t = db.begin();
        t.create_table(TableDef {
            name: "t".into(),
            columns: vec![ColumnDef::new("id", DataType::BigInt)],
            primary_key: Some(0),
        })
        .unwrap();
        t.commit().unwrap();
        table_id = db.table("t").unwrap().id();

        // Rolled back: gone; committed: there, visible to others only then.
        let mut t = db.begin();
        t.create_view(view("v", "SELECT id FROM t", vec![table_id]), false)
            .unwrap();
        assert_eq!(t.views().len(), 1);
        t.rollback();
        assert!(names(&db).is_empty());
        let mut t = db.begin();
        let id = t
            .create_view(view("v", "SELECT id FROM t", vec![table_id]), false)
            .unwrap();
        assert!(names(&db).is_empty());
        t.commit().unwrap();
        assert_eq!(names(&db), vec![("v".into(), "SELECT id FROM t".into())]);

        // The relations' namespace: no table, sequence or second view of that name.
        let mut t = db.begin();
        assert!(matches!(
            t.create_view(view("v", "SELECT 1", vec![]), false),
            Err(Error::TableExists(_))
        ));
        assert!(matches!(
            t.create_view(view("t", "SELECT 1", vec![]), true),
            Err(Error::TableExists(_))
        ));
        assert!(matches!(
            t.create_table(TableDef {
                name: "v".into(),
                columns: vec![ColumnDef::new("id", DataType::BigInt)],
                primary_key: None,
            }),
            Err(Error::TableExists(_))
        ));
        // OR REPLACE keeps the id.
        let again = t
            .create_view(
                view("v", "SELECT id FROM t WHERE id > 0", vec![table_id]),
                true,
            )
            .unwrap();
        assert_eq!(again, id);
        t.commit().unwrap();

        // A view committed after a transaction looked: its DROP TABLE of the view's table fails.
        let mut dropper = db.begin();
        dropper.drop_table("t").unwrap_or_else(|e| panic!("{e}"));
        let mut t = db.begin();
        t.create_view(view("w", "SELECT id FROM t", vec![table_id]), false)
            .unwrap();
        t.commit().unwrap();
        assert!(matches!(dropper.commit(), Err(Error::Conflict(_))));
    }
    let db = Database::open(dir.path(), opts()).unwrap();
    assert_eq!(
        names(&db),
        vec![
            ("v".into(), "SELECT id FROM t WHERE id > 0".into()),
            ("w".into(), "SELECT id FROM t".into())
        ]
    );
    let mut t = db.begin();
    t.drop_view("v").unwrap();
    t.drop_view("w").unwrap();
    t.drop_table("t").unwrap();
    t.commit().unwrap();
    drop(db);
    let db = Database::open(dir.path(), opts()).unwrap();
    assert!(names(&db).is_empty());
    // New ids never reuse a view's.
    let mut t = db.begin();
    let id = t.create_view(view("x", "SELECT 1", vec![]), false).unwrap();
    assert!(id > table_id + 1);
    t.commit().unwrap();
}

#[test]
fn renamed_views_and_sequences_keep_their_ids_and_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let (view_id, seq_id);
    {
        let db = Database::open(dir.path(), opts()).unwrap();
        let mut t = db.begin();
        view_id = t.create_view(view("v", "SELECT 1", vec![]), false).unwrap();
        seq_id = t
            .create_sequence(omendb_storage::SequenceDef::new("s", DataType::BigInt, 1))
            .unwrap();
        t.commit().unwrap();

        // Renamed and rolled back: as before.
        let mut t = db.begin();
        let renamed = ViewDef {
            name: "w".into(),
            ..(*t.views()[0]).clone()
        };
        t.replace_view("v", renamed.clone()).unwrap();
        t.rename_sequence("s", "s2").unwrap();
        assert_eq!(t.views()[0].name, "w");
        assert!(t.sequence("s").is_none() && t.sequence("s2").is_some());
        t.rollback();
        assert_eq!(names(&db), vec![("v".into(), "SELECT 1".into())]);

        // Renamed onto a taken name: refused.
        let mut t = db.begin();
        assert!(matches!(
            t.rename_sequence("s", "v"),
            Err(Error::TableExists(_))
        ));
        assert!(matches!(
            t.replace_view(
                "v",
                ViewDef {
                    name: "s".into(),
                    ..renamed.clone()
                }
            ),
            Err(Error::TableExists(_))
        ));
        t.rollback();

        // Renamed twice in one transaction, then altered under the new name: one rename at commit.
        let mut t = db.begin();
        t.replace_view("v", renamed.clone()).unwrap();
        t.rename_sequence("s", "s1").unwrap();
        t.rename_sequence("s1", "s2").unwrap();
        let mut altered = (*t.sequence("s2").unwrap()).clone();
        altered.increment = 5;
        t.alter_sequence(altered).unwrap();
        t.commit().unwrap();
        let snap = db.snapshot();
        assert_eq!(names(&db), vec![("w".into(), "SELECT 1".into())]);
        assert_eq!(snap.views()[0].id, view_id);
    }
    let db = Database::open(dir.path(), opts()).unwrap();
    assert_eq!(names(&db), vec![("w".into(), "SELECT 1".into())]);
    assert_eq!(db.snapshot().views()[0].id, view_id);
    let t = db.begin();
    assert!(t.sequence("s").is_none() && t.sequence("s1").is_none());
    let s = t.sequence("s2").unwrap();
    assert_eq!((s.id, s.increment), (seq_id, 5));
}
