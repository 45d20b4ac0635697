//! The engine's one error type. Every failure a caller can cause or meet (bad input, corrupt files, full
//! disks, a second process on the same directory) is a variant here, never a panic.

use std::path::PathBuf;

/// Result alias used across the engine.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("table \"{0}\" does not exist")]
    UnknownTable(String),
    #[error("table \"{0}\" already exists")]
    TableExists(String),
    #[error("schema \"{0}\" does not exist")]
    UnknownSchema(String),
    #[error("type \"{0}\" does not exist")]
    UnknownType(String),
    #[error("type \"{0}\" already exists")]
    TypeExists(String),
    /// DROP TYPE of a type a column still has.
    #[error("cannot drop type {name} because other objects depend on it")]
    TypeInUse { name: String, detail: String },
    #[error("schema \"{0}\" already exists")]
    SchemaExists(String),
    #[error("cannot drop schema {0} because other objects depend on it")]
    SchemaNotEmpty(String),
    #[error("invalid table definition: {0}")]
    InvalidDefinition(String),
    #[error("{0}")]
    InvalidSequence(String),
    #[error("nextval: reached {} value of sequence \"{name}\" ({limit})", if *max { "maximum" } else { "minimum" })]
    SequenceLimit { name: String, limit: i64, max: bool },
    #[error("setval: value {value} is out of bounds for sequence \"{name}\" ({min}..{max})")]
    SequenceBounds {
        name: String,
        value: i64,
        min: i64,
        max: i64,
    },
    #[error(
        "duplicate key value violates primary key of table \"{table}\": key {key} already exists"
    )]
    DuplicateKey { table: String, key: String },
    /// A UNIQUE index met two rows with the same values: on a write, or (`building`) while being created.
    #[error("duplicate key value violates unique index \"{index}\": key {key}")]
    UniqueViolation {
        index: String,
        key: String,
        building: bool,
    },
    #[error("relation \"{0}\" does not exist")]
    UnknownIndex(String),
    /// A row for which a CHECK constraint is false (`row`: the failing row as PostgreSQL prints it).
    #[error("new row for relation \"{table}\" violates check constraint \"{constraint}\"")]
    CheckViolation {
        table: String,
        constraint: String,
        row: String,
    },
    /// A FOREIGN KEY violation, worded as PostgreSQL words it (`message`, `detail`).
    #[error("{message}")]
    ForeignKeyViolation { message: String, detail: String },
    #[error("null value in column \"{column}\" of table \"{table}\" violates not-null constraint")]
    NotNull { table: String, column: String },
    #[error("value too long for type {type_name}")]
    StringTooLong { type_name: String },
    #[error("invalid input syntax for type {type_name}: \"{value}\"")]
    InvalidText { type_name: String, value: String },
    #[error("invalid input value for enum {type_name}: \"{value}\"")]
    InvalidEnum { type_name: String, value: String },
    /// Text that is not JSON, or JSON jsonb cannot hold, with PostgreSQL's SQLSTATE, DETAIL and CONTEXT.
    #[error("{message}")]
    InvalidJson {
        sqlstate: &'static str,
        message: String,
        detail: String,
        context: Option<String>,
    },
    #[error("column \"{column}\" of table \"{table}\" is {expected}, got {got}")]
    WrongType {
        table: String,
        column: String,
        expected: String,
        got: String,
    },
    #[error("table \"{table}\" has {expected} columns, row has {got}")]
    WrongArity {
        table: String,
        expected: usize,
        got: usize,
    },
    #[error("key of table \"{table}\" must be {expected}, got {got}")]
    WrongKeyType {
        table: String,
        expected: String,
        got: String,
    },
    #[error("table \"{0}\" was dropped or truncated by a concurrent transaction")]
    Conflict(String),
    #[error("corrupt file {path}: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error("data directory {0} is already opened by another process")]
    AlreadyOpen(PathBuf),
    #[error("no space left on device while writing {path}: {source}")]
    DiskFull {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("i/o error on {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("metadata store error: {0}")]
    Store(String),
    #[error("the database is closed")]
    Closed,
    /// SQLSTATE 40001. `reason` is PostgreSQL's wording of why.
    #[error("could not serialize access due to {reason}")]
    SerializationFailure { reason: &'static str },
    /// SQLSTATE 55P03: NOWAIT met a lock held by someone else.
    #[error("could not obtain lock on row in relation \"{table}\"")]
    LockNotAvailable { table: String },
    /// The row's lock is held by another transaction: await the wait (it finishes once the lock is
    /// this transaction's) and repeat the call.
    #[error("row of table \"{table}\" is locked by another transaction")]
    LockWait {
        table: String,
        wait: crate::locks::LockWait,
    },
    /// A READ COMMITTED write computed from an image that a concurrent commit replaced: lock the row first
    /// (`WriteTxn::lock_row`), read it again, and recompute.
    #[error("row of table \"{table}\" changed since the statement's snapshot")]
    RowChanged { table: String },
    /// SQLSTATE 25006.
    #[error("cannot write in a read-only transaction")]
    ReadOnly,
}

impl Error {
    /// Classifies an I/O error so that a full disk is reported as such (it is recoverable by freeing space).
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        let path = path.into();
        if source.raw_os_error() == Some(28) || source.kind() == std::io::ErrorKind::StorageFull {
            Error::DiskFull { path, source }
        } else {
            Error::Io { path, source }
        }
    }

    pub(crate) fn corrupt(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::Corrupt {
            path: path.into(),
            reason: reason.into(),
        }
    }

    /// A short static name per variant, for metric labels and SQLSTATE mapping in the server.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::UnknownTable(_) => "unknown_table",
            Error::TableExists(_) => "table_exists",
            Error::InvalidSequence(_) => "invalid_sequence",
            Error::SequenceLimit { .. } | Error::SequenceBounds { .. } => "sequence_limit",
            Error::UnknownSchema(_) => "unknown_schema",
            Error::UnknownType(_) => "unknown_type",
            Error::TypeExists(_) => "type_exists",
            Error::TypeInUse { .. } => "type_in_use",
            Error::SchemaExists(_) => "schema_exists",
            Error::SchemaNotEmpty(_) => "schema_not_empty",
            Error::InvalidDefinition(_) => "invalid_definition",
            Error::DuplicateKey { .. } | Error::UniqueViolation { .. } => "duplicate_key",
            Error::UnknownIndex(_) => "unknown_table",
            Error::ForeignKeyViolation { .. } => "foreign_key",
            Error::CheckViolation { .. } => "check",
            Error::NotNull { .. } => "not_null",
            Error::StringTooLong { .. } => "string_too_long",
            Error::InvalidText { .. } | Error::InvalidEnum { .. } | Error::InvalidJson { .. } => {
                "invalid_text"
            }
            Error::WrongType { .. } | Error::WrongArity { .. } | Error::WrongKeyType { .. } => {
                "wrong_type"
            }
            Error::Conflict(_) => "conflict",
            Error::Corrupt { .. } => "corrupt",
            Error::AlreadyOpen(_) => "already_open",
            Error::DiskFull { .. } => "disk_full",
            Error::Io { .. } => "io",
            Error::Store(_) => "store",
            Error::Closed => "closed",
            Error::SerializationFailure { .. } => "serialization_failure",
            Error::LockNotAvailable { .. } => "lock_not_available",
            Error::LockWait { .. } => "lock_wait",
            Error::RowChanged { .. } => "row_changed",
            Error::ReadOnly => "read_only",
        }
    }
}

/// redb errors mostly carry I/O failures; keep their text, and keep "disk full" recognisable.
pub(crate) fn store_err(path: &std::path::Path, e: impl Into<redb::Error>) -> Error {
    let e: redb::Error = e.into();
    match e {
        redb::Error::Io(io) => Error::io(path, io),
        redb::Error::DatabaseAlreadyOpen => Error::AlreadyOpen(path.to_path_buf()),
        redb::Error::Corrupted(msg) => Error::corrupt(path, msg),
        other => Error::Store(format!("{}: {other}", path.display())),
    }
}

impl Error {
    /// A copy of this error for every transaction of a failed commit group (errors are not `Clone`).
    pub(crate) fn duplicate(&self) -> Error {
        match self {
            Error::Io { path, source } => Error::Io {
                path: path.clone(),
                source: std::io::Error::new(source.kind(), source.to_string()),
            },
            Error::DiskFull { path, source } => Error::DiskFull {
                path: path.clone(),
                source: std::io::Error::new(source.kind(), source.to_string()),
            },
            Error::Corrupt { path, reason } => Error::Corrupt {
                path: path.clone(),
                reason: reason.clone(),
            },
            Error::AlreadyOpen(p) => Error::AlreadyOpen(p.clone()),
            Error::SerializationFailure { reason } => Error::SerializationFailure { reason },
            other => Error::Store(other.to_string()),
        }
    }
}

impl From<omendb_json::ParseError> for Error {
    fn from(e: omendb_json::ParseError) -> Error {
        Error::InvalidJson {
            sqlstate: e.sqlstate,
            message: e.message,
            detail: e.detail,
            context: e.context,
        }
    }
}
