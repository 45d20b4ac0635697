//! OmenDB's learned-array storage engine.
//!
//! Every table is durable and learned: rows live in immutable sorted chunks of Arrow arrays, each with its
//! own PGM-style learned model over the primary key; appends beyond the largest key extend an open tail
//! indexed by a streaming model; other writes go to an ordered delta (deletes are tombstones); a background
//! task retrains. redb holds the catalog and the manifest of live chunk files; concurrent commits share one
//! append and one fsync of the commit log (group commit).
//!
//! ```
//! use omendb_storage::{ColumnDef, DataType, Database, Key, Options, TableDef, Value};
//! let dir = tempfile::tempdir().unwrap();
//! let db = Database::open(dir.path(), Options::default()).unwrap();
//! db.create_table(TableDef {
//!     name: "ticks".into(),
//!     columns: vec![ColumnDef::new("ts", DataType::BigInt), ColumnDef::new("price", DataType::Double)],
//!     primary_key: Some(0),
//! }).unwrap();
//! let mut tx = db.begin();
//! tx.insert("ticks", vec![Value::Int64(1), Value::Float64(9.5)]).unwrap();
//! tx.commit().unwrap();
//! let row = db.table("ticks").unwrap().get(&Key::Int(1)).unwrap();
//! assert_eq!(row, Some(vec![Value::Int64(1), Value::Float64(9.5)]));
//! ```
//!
//! Design notes: `docs/storage.md` at the repository root.

mod check;
mod chunk;
mod chunk_file;
mod columnar;
mod commit;
mod db;
mod enum_type;
mod error;
mod foreign_key;
mod index;
mod isolation;
mod locks;
mod options;
mod page_cache;
mod reader;
mod retrain;
mod sequence;
mod shared;
mod stats;
mod store;
mod tail;
mod txn;
mod types;
mod version;
mod view;
mod wal_log;

pub use check::{CheckDef, CheckHook, RowPredicate, RowValue};
/// Arrow rows back to engine values, for the SQL layer's writes.
pub use columnar::{column_key_at, row_at, value_at, values_array};
pub use commit::CommitInfo;
pub use db::Database;
pub use enum_type::{EnumDef, EnumLabel};
pub use error::{Error, Result};
pub use foreign_key::{FkAction, ForeignKey};
pub use index::{IndexDef, SortValue};
pub use isolation::Isolation;
pub use locks::{Acquire, LockInfo, LockMode, LockTable, LockWait, Owner, Resource, WaitPolicy};
pub use options::{Options, RetrainPolicy};
pub use page_cache::CacheReport;
pub use reader::{Snapshot, TableReader};
pub use retrain::{Mode as RetrainMode, RetrainReport};
pub use sequence::SequenceDef;
pub use stats::TableStats;
pub use txn::{RowLock, TxnOptions, WriteTxn};
pub use types::{
    ArrayElem, BPCHAR_EXTENSION, BPCHAR_LEN_KEY, ColumnDef, DataType, ENUM_EXTENSION,
    ENUM_TYPE_KEY, EXTENSION_KEY, JSON_EXTENSION, JSONB_EXTENSION, Key, KeyKind, PUBLIC,
    ROWID_COLUMN, Row, TableDef, TableShape, UUID_EXTENSION, Value, canonical_uuid, schema_of,
};
pub use version::{KeyRange, ScanIter};
pub use view::ViewDef;
