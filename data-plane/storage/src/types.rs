//! Column types, values, rows and keys, and their mapping to Arrow.

use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType as ArrowType, Field, Schema, SchemaRef, TimeUnit};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// SQL column types the engine stores.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DataType {
    SmallInt,
    Integer,
    BigInt,
    Real,
    Double,
    Boolean,
    Text,
    Bytea,
    /// Microseconds since the Unix epoch, no zone.
    Timestamp,
    /// Microseconds since the Unix epoch, UTC.
    TimestampTz,
    /// Days since the Unix epoch.
    Date,
    /// `time` (without time zone): nanoseconds since midnight, whole microseconds (PostgreSQL's
    /// precision); nanoseconds because DataFusion's `time` is, so columns and expressions share one type.
    Time,
    /// Fixed-point decimal stored as an i128 scaled by `10^scale`.
    Numeric {
        precision: u8,
        scale: i8,
    },
    /// `varchar(n)`: text of at most `max` characters (`varchar` alone: any length).
    Varchar {
        max: Option<u32>,
    },
    /// `char(n)`: text of exactly `len` characters, blank-padded.
    Char {
        len: u32,
    },
    /// `uuid`: held as its canonical text (lower-case hex, hyphenated), whose byte order is PostgreSQL's
    /// uuid order, so keys, indexes and comparisons need nothing of their own.
    Uuid,
    /// `json`: the text as given, checked to be JSON (PostgreSQL keeps json verbatim).
    Json,
    /// `jsonb`: held as its canonical text (keys sorted and deduplicated, numbers as numeric prints them),
    /// so equal documents are equal strings.
    Jsonb,
    /// A value of an enum type (`CREATE TYPE ... AS ENUM`): its label, as text. Writes are checked against
    /// the type's labels (`enum_type`); the type's id names it in the catalog.
    Enum {
        type_id: u64,
    },
    /// A one-dimensional array of `elem` (`integer[]`): an Arrow list, each value a `Value::Array`.
    Array(ArrayElem),
    /// `interval`: months, days and microseconds, kept apart as PostgreSQL keeps them (Arrow's
    /// month-day-nano interval).
    Interval,
}

/// The element types an array column may have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ArrayElem {
    SmallInt,
    Integer,
    BigInt,
    Real,
    Double,
    Boolean,
    Text,
    Varchar { max: Option<u32> },
    Numeric { precision: u8, scale: i8 },
    Date,
    Time,
    Timestamp,
    TimestampTz,
    Uuid,
}

impl ArrayElem {
    /// The column type of one element.
    pub fn scalar(self) -> DataType {
        match self {
            ArrayElem::SmallInt => DataType::SmallInt,
            ArrayElem::Integer => DataType::Integer,
            ArrayElem::BigInt => DataType::BigInt,
            ArrayElem::Real => DataType::Real,
            ArrayElem::Double => DataType::Double,
            ArrayElem::Boolean => DataType::Boolean,
            ArrayElem::Text => DataType::Text,
            ArrayElem::Varchar { max } => DataType::Varchar { max },
            ArrayElem::Numeric { precision, scale } => DataType::Numeric { precision, scale },
            ArrayElem::Date => DataType::Date,
            ArrayElem::Time => DataType::Time,
            ArrayElem::Timestamp => DataType::Timestamp,
            ArrayElem::TimestampTz => DataType::TimestampTz,
            ArrayElem::Uuid => DataType::Uuid,
        }
    }

    /// The element type of an array of `t`, if arrays of it can be columns.
    pub fn of(t: DataType) -> Option<ArrayElem> {
        Some(match t {
            DataType::SmallInt => ArrayElem::SmallInt,
            DataType::Integer => ArrayElem::Integer,
            DataType::BigInt => ArrayElem::BigInt,
            DataType::Real => ArrayElem::Real,
            DataType::Double => ArrayElem::Double,
            DataType::Boolean => ArrayElem::Boolean,
            DataType::Text => ArrayElem::Text,
            DataType::Varchar { max } => ArrayElem::Varchar { max },
            DataType::Numeric { precision, scale } => ArrayElem::Numeric { precision, scale },
            DataType::Date => ArrayElem::Date,
            DataType::Time => ArrayElem::Time,
            DataType::Timestamp => ArrayElem::Timestamp,
            DataType::TimestampTz => ArrayElem::TimestampTz,
            DataType::Uuid => ArrayElem::Uuid,
            _ => return None,
        })
    }
}

/// The Arrow field metadata key that marks a text column as json, jsonb or uuid. A type-only cast
/// (`data::text`) drops extension keys, so the mark follows exactly the expressions of that PostgreSQL type.
pub const EXTENSION_KEY: &str = "ARROW:extension:name";
pub const JSON_EXTENSION: &str = "omendb.json";
pub const JSONB_EXTENSION: &str = "omendb.jsonb";
pub const UUID_EXTENSION: &str = "omendb.uuid";
pub const ENUM_EXTENSION: &str = "omendb.enum";
/// With [`ENUM_EXTENSION`]: the enum type's id (`EnumDef::id`).
pub const ENUM_TYPE_KEY: &str = "omendb.enum_type";
/// `char(n)`: blank-padded text whose trailing spaces PostgreSQL ignores where it reads the value as text.
pub const BPCHAR_EXTENSION: &str = "omendb.bpchar";
/// With [`BPCHAR_EXTENSION`]: the column's length `n`.
pub const BPCHAR_LEN_KEY: &str = "omendb.bpchar_len";

impl DataType {
    pub fn arrow(&self) -> ArrowType {
        match self {
            DataType::SmallInt => ArrowType::Int16,
            DataType::Integer => ArrowType::Int32,
            DataType::BigInt => ArrowType::Int64,
            DataType::Real => ArrowType::Float32,
            DataType::Double => ArrowType::Float64,
            DataType::Boolean => ArrowType::Boolean,
            DataType::Text
            | DataType::Varchar { .. }
            | DataType::Char { .. }
            | DataType::Uuid
            | DataType::Json
            | DataType::Jsonb
            | DataType::Enum { .. } => ArrowType::Utf8,
            DataType::Bytea => ArrowType::Binary,
            DataType::Timestamp => ArrowType::Timestamp(TimeUnit::Microsecond, None),
            DataType::TimestampTz => {
                ArrowType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
            }
            DataType::Date => ArrowType::Date32,
            DataType::Time => ArrowType::Time64(TimeUnit::Nanosecond),
            DataType::Numeric { precision, scale } => ArrowType::Decimal128(*precision, *scale),
            DataType::Array(elem) => {
                ArrowType::List(Arc::new(Field::new_list_field(elem.scalar().arrow(), true)))
            }
            DataType::Interval => ArrowType::Interval(arrow_schema::IntervalUnit::MonthDayNano),
        }
    }

    /// Which key representation a primary key of this type uses, if it can be a key at all.
    pub fn key_kind(&self) -> Option<KeyKind> {
        match self {
            DataType::SmallInt
            | DataType::Integer
            | DataType::BigInt
            | DataType::Timestamp
            | DataType::TimestampTz
            | DataType::Date
            | DataType::Time => Some(KeyKind::Int),
            DataType::Text
            | DataType::Varchar { .. }
            | DataType::Char { .. }
            | DataType::Bytea
            | DataType::Uuid
            | DataType::Enum { .. } => Some(KeyKind::Bytes),
            _ => None,
        }
    }

    pub fn name(&self) -> String {
        match self {
            DataType::SmallInt => "smallint".into(),
            DataType::Integer => "integer".into(),
            DataType::BigInt => "bigint".into(),
            DataType::Real => "real".into(),
            DataType::Double => "double precision".into(),
            DataType::Boolean => "boolean".into(),
            DataType::Text => "text".into(),
            DataType::Bytea => "bytea".into(),
            DataType::Timestamp => "timestamp".into(),
            DataType::TimestampTz => "timestamptz".into(),
            DataType::Date => "date".into(),
            DataType::Time => "time without time zone".into(),
            DataType::Numeric { precision, scale } => format!("numeric({precision},{scale})"),
            DataType::Varchar { max: Some(n) } => format!("character varying({n})"),
            DataType::Varchar { max: None } => "character varying".into(),
            DataType::Char { len } => format!("character({len})"),
            DataType::Uuid => "uuid".into(),
            DataType::Json => "json".into(),
            DataType::Jsonb => "jsonb".into(),
            // The SQL layer names it from the catalog.
            DataType::Enum { .. } => "enum".into(),
            DataType::Array(elem) => format!("{}[]", elem.scalar().name()),
            DataType::Interval => "interval".into(),
        }
    }

    /// The Arrow extension name a column of this type is marked with (see [`EXTENSION_KEY`]).
    pub fn extension(&self) -> Option<&'static str> {
        match self {
            DataType::Json => Some(JSON_EXTENSION),
            DataType::Jsonb => Some(JSONB_EXTENSION),
            DataType::Uuid => Some(UUID_EXTENSION),
            DataType::Enum { .. } => Some(ENUM_EXTENSION),
            DataType::Char { .. } => Some(BPCHAR_EXTENSION),
            _ => None,
        }
    }

    /// Whether text stored in this type is checked or reshaped on the way in (`fit_text`).
    pub fn fits_text(&self) -> bool {
        self.max_chars().is_some()
            || matches!(self, DataType::Uuid | DataType::Json | DataType::Jsonb)
    }

    /// The most characters a value may have, for the types that bound it.
    pub fn max_chars(&self) -> Option<u32> {
        match self {
            DataType::Varchar { max } => *max,
            DataType::Char { len } => Some(*len),
            _ => None,
        }
    }

    /// A text value as this column stores it, PostgreSQL's way: too long fails (22001) unless only spaces
    /// are over the limit, which are cut; `char(n)` pads with spaces. `None` when it is stored as given.
    pub fn fit_text(&self, s: &str) -> Result<Option<String>> {
        if *self == DataType::Uuid {
            let canonical = canonical_uuid(s).ok_or_else(|| Error::InvalidText {
                type_name: "uuid".into(),
                value: s.to_string(),
            })?;
            return Ok((canonical != s).then_some(canonical));
        }
        if *self == DataType::Json {
            omendb_json::validate(s).map_err(Error::from)?;
            return Ok(None);
        }
        if *self == DataType::Jsonb {
            let canonical = omendb_json::Jsonb::parse(s)
                .map_err(Error::from)?
                .to_string();
            return Ok((canonical != s).then_some(canonical));
        }
        let Some(max) = self.max_chars() else {
            return Ok(None);
        };
        let max = max as usize;
        // Byte length bounds character count from above: most values need no counting.
        let chars = if s.len() <= max {
            None
        } else {
            Some(s.chars().count())
        };
        match chars {
            Some(n) if n > max => {
                let (cut, _) = s.char_indices().nth(max).expect("longer than max");
                if s[cut..].bytes().any(|b| b != b' ') {
                    return Err(Error::StringTooLong {
                        type_name: self.name(),
                    });
                }
                Ok(Some(s[..cut].to_string()))
            }
            _ if matches!(self, DataType::Char { .. }) => {
                let n = chars.unwrap_or_else(|| s.chars().count());
                Ok((n < max).then(|| format!("{s:<max$}")))
            }
            _ => Ok(None),
        }
    }

    fn accepts(&self, v: &Value) -> bool {
        if let (DataType::Array(elem), Value::Array(items)) = (self, v) {
            let t = elem.scalar();
            return items.iter().all(|i| t.accepts(i));
        }
        matches!(
            (self, v),
            (_, Value::Null)
                | (DataType::SmallInt, Value::Int16(_))
                | (DataType::Integer, Value::Int32(_))
                | (DataType::BigInt, Value::Int64(_))
                | (DataType::Real, Value::Float32(_))
                | (DataType::Double, Value::Float64(_))
                | (DataType::Boolean, Value::Bool(_))
                | (
                    DataType::Text
                        | DataType::Varchar { .. }
                        | DataType::Char { .. }
                        | DataType::Uuid
                        | DataType::Json
                        | DataType::Jsonb
                        | DataType::Enum { .. },
                    Value::Text(_)
                )
                | (DataType::Bytea, Value::Bytes(_))
                | (
                    DataType::Timestamp | DataType::TimestampTz,
                    Value::Timestamp(_)
                )
                | (DataType::Date, Value::Date(_))
                | (DataType::Time, Value::Time(_))
                | (DataType::Numeric { .. }, Value::Decimal(_))
                | (DataType::Interval, Value::Interval(..))
        )
    }
}

/// One stored value. Timestamps are microseconds, dates days, decimals scaled integers (the column has the scale).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Value {
    Null,
    Bool(bool),
    Int16(i16),
    Int32(i32),
    Int64(i64),
    Float32(f32),
    Float64(f64),
    Text(String),
    Bytes(Vec<u8>),
    Timestamp(i64),
    Date(i32),
    /// Nanoseconds since midnight (see [`DataType::Time`]).
    Time(i64),
    Decimal(i128),
    /// A one-dimensional array's elements (of the column's element type, or Null).
    Array(Vec<Value>),
    /// An interval: months, days, microseconds.
    Interval(i32, i32, i64),
}

impl Value {
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Int16(_) => "smallint",
            Value::Int32(_) => "integer",
            Value::Int64(_) => "bigint",
            Value::Float32(_) => "real",
            Value::Float64(_) => "double precision",
            Value::Text(_) => "text",
            Value::Bytes(_) => "bytea",
            Value::Timestamp(_) => "timestamp",
            Value::Date(_) => "date",
            Value::Time(_) => "time without time zone",
            Value::Decimal(_) => "numeric",
            Value::Array(_) => "array",
            Value::Interval(..) => "interval",
        }
    }
}

/// A row: one value per column, in table order.
pub type Row = Vec<Value>;

/// How a table's keys are represented and ordered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyKind {
    /// Any integer-like key (integers, timestamps, dates, the hidden row id), ordered as i64.
    Int,
    /// Text or bytea keys, ordered bytewise (text therefore in the C collation).
    Bytes,
}

/// A primary-key value. All keys of one table share a kind.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Key {
    Int(i64),
    Bytes(Vec<u8>),
}

impl Ord for Key {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Key::Int(a), Key::Int(b)) => a.cmp(b),
            (Key::Bytes(a), Key::Bytes(b)) => a.cmp(b),
            (Key::Int(_), Key::Bytes(_)) => Ordering::Less,
            (Key::Bytes(_), Key::Int(_)) => Ordering::Greater,
        }
    }
}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Int(v) => write!(f, "({v})"),
            Key::Bytes(b) => match std::str::from_utf8(b) {
                Ok(s) => write!(f, "({s})"),
                Err(_) => write!(
                    f,
                    "(\\x{})",
                    b.iter().map(|x| format!("{x:02x}")).collect::<String>()
                ),
            },
        }
    }
}

impl Key {
    /// The learned index's u64 image of the key: exact for integers, an order-preserving prefix for bytes.
    #[inline]
    pub fn learned(&self) -> u64 {
        match self {
            Key::Int(v) => omendb_learned::key_from_i64(*v),
            Key::Bytes(b) => omendb_learned::key_from_bytes_prefix(b),
        }
    }

    pub fn kind(&self) -> KeyKind {
        match self {
            Key::Int(_) => KeyKind::Int,
            Key::Bytes(_) => KeyKind::Bytes,
        }
    }

    /// The key a value makes when used as a primary key.
    pub fn from_value(v: &Value) -> Option<Key> {
        Some(match v {
            Value::Int16(x) => Key::Int(i64::from(*x)),
            Value::Int32(x) => Key::Int(i64::from(*x)),
            Value::Int64(x) | Value::Timestamp(x) | Value::Time(x) => Key::Int(*x),
            Value::Date(x) => Key::Int(i64::from(*x)),
            Value::Text(s) => Key::Bytes(s.as_bytes().to_vec()),
            Value::Bytes(b) => Key::Bytes(b.clone()),
            _ => return None,
        })
    }
}

/// One column of a table definition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ColumnDef {
    pub name: String,
    pub data_type: DataType,
    pub nullable: bool,
    /// SQL text of the column's DEFAULT expression; the engine stores it, the SQL layer evaluates it.
    pub default: Option<String>,
    /// What rows stored before the column existed hold (PostgreSQL's `attmissingval`): ADD COLUMN with
    /// a constant DEFAULT records it instead of rewriting the table. `None` is NULL.
    pub missing: Option<Value>,
}

impl ColumnDef {
    pub fn new(name: impl Into<String>, data_type: DataType) -> Self {
        ColumnDef {
            name: name.into(),
            data_type,
            nullable: true,
            default: None,
            missing: None,
        }
    }

    pub fn not_null(mut self) -> Self {
        self.nullable = false;
        self
    }

    pub fn with_default(mut self, sql: impl Into<String>) -> Self {
        self.default = Some(sql.into());
        self
    }
}

/// What `create_table` takes: a name, columns, and at most one primary-key column.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TableDef {
    pub name: String,
    pub columns: Vec<ColumnDef>,
    /// Index into `columns` of the primary key; `None` gives the table a hidden row id as its key.
    pub primary_key: Option<usize>,
}

/// The schema every database has, whose tables have bare names.
pub const PUBLIC: &str = "public";

/// The schema of a table named `name`: `s` for `s.t`, `None` for a table of `public`.
pub fn schema_of(name: &str) -> Option<&str> {
    name.split_once('.').map(|(s, _)| s)
}

/// Name of the hidden key column of tables without a primary key.
pub const ROWID_COLUMN: &str = "__omendb_rowid";

/// A table as the engine holds it: the definition plus derived physical layout. Immutable once created.
#[derive(Debug)]
pub struct TableShape {
    pub id: u64,
    pub def: TableDef,
    /// Physical schema: user columns, then the hidden row id when there is no primary key.
    pub physical: SchemaRef,
    /// User-visible schema (no hidden row id).
    pub user: SchemaRef,
    pub key_col: usize,
    pub key_kind: KeyKind,
    /// Next hidden row id (tables without a primary key).
    pub next_rowid: std::sync::atomic::AtomicI64,
}

impl TableShape {
    pub fn new(id: u64, def: TableDef) -> Result<Self> {
        validate_def(&def)?;
        let mut fields: Vec<Field> = def
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let field = Field::new(
                    &c.name,
                    c.data_type.arrow(),
                    c.nullable && def.primary_key != Some(i),
                );
                let mut meta = std::collections::HashMap::new();
                if let Some(name) = c.data_type.extension() {
                    meta.insert(EXTENSION_KEY.to_string(), name.to_string());
                }
                if let DataType::Enum { type_id } = c.data_type {
                    meta.insert(ENUM_TYPE_KEY.to_string(), type_id.to_string());
                }
                if let DataType::Char { len } = c.data_type {
                    meta.insert(BPCHAR_LEN_KEY.to_string(), len.to_string());
                }
                field.with_metadata(meta)
            })
            .collect();
        let user = Arc::new(Schema::new(fields.clone()));
        let (key_col, key_kind) = match def.primary_key {
            Some(pk) => (
                pk,
                def.columns[pk].data_type.key_kind().unwrap_or(KeyKind::Int),
            ),
            None => {
                fields.push(Field::new(ROWID_COLUMN, ArrowType::Int64, false));
                (def.columns.len(), KeyKind::Int)
            }
        };
        Ok(TableShape {
            id,
            physical: Arc::new(Schema::new(fields)),
            user,
            key_col,
            key_kind,
            def,
            next_rowid: std::sync::atomic::AtomicI64::new(1),
        })
    }

    pub fn has_rowid(&self) -> bool {
        self.def.primary_key.is_none()
    }

    /// The key of a physical row.
    /// A key as PostgreSQL's unique-violation detail shows it: `(id)=(7)`.
    pub fn key_detail(&self, key: &Key) -> String {
        let column = self
            .def
            .columns
            .get(self.key_col)
            .map_or(ROWID_COLUMN, |c| c.name.as_str());
        format!("({column})={key}")
    }

    /// A physical row stored before columns were added (ALTER TABLE without a rewrite) in this shape:
    /// the added columns' missing values go between its user values and its row id. A stored row always
    /// holds a prefix of the columns, since every change but an addition rewrites the table.
    pub fn widen_row(&self, mut row: Row) -> Row {
        let width = self.physical.fields().len();
        if row.len() >= width {
            return row;
        }
        let stored = row.len() - usize::from(self.has_rowid());
        let added = self.def.columns[stored..]
            .iter()
            .map(|c| c.missing.clone().unwrap_or(Value::Null));
        row.splice(stored..stored, added);
        row
    }

    pub fn key_of(&self, row: &[Value]) -> Key {
        match &row[self.key_col] {
            Value::Int64(v) if self.has_rowid() => Key::Int(*v),
            v => Key::from_value(v).unwrap_or(Key::Int(0)),
        }
    }

    /// Fits a user row's text to its columns' lengths (see `DataType::fit_text`).
    pub fn fit_row(&self, row: &mut [Value]) -> Result<()> {
        for (col, v) in self.def.columns.iter().zip(row.iter_mut()) {
            if let Value::Text(s) = v
                && let Some(fitted) = col.data_type.fit_text(s)?
            {
                *s = fitted;
            }
        }
        Ok(())
    }

    /// Fits a batch's text columns to their lengths; `None` when every value fits as it is.
    pub fn fit_batch(&self, batch: &RecordBatch) -> Result<Option<RecordBatch>> {
        let mut columns: Option<Vec<arrow_array::ArrayRef>> = None;
        for (i, col) in self.def.columns.iter().enumerate() {
            if !col.data_type.fits_text() || i >= batch.num_columns() {
                continue;
            }
            let Some(strings) = batch
                .column(i)
                .as_any()
                .downcast_ref::<arrow_array::StringArray>()
            else {
                continue;
            };
            let mut fitted: Vec<Option<String>> = Vec::new();
            let mut changed = false;
            for j in 0..strings.len() {
                let v = (!strings.is_null(j)).then(|| strings.value(j));
                let f = match v {
                    Some(s) => col.data_type.fit_text(s)?,
                    None => None,
                };
                changed |= f.is_some();
                fitted.push(f.or_else(|| v.map(str::to_string)));
            }
            if changed {
                let cols = columns.get_or_insert_with(|| batch.columns().to_vec());
                cols[i] = Arc::new(arrow_array::StringArray::from(fitted));
            }
        }
        columns
            .map(|c| {
                RecordBatch::try_new(batch.schema(), c)
                    .map_err(|e| Error::InvalidDefinition(e.to_string()))
            })
            .transpose()
    }

    /// Checks a user row (arity, types, NOT NULL) before it enters a transaction.
    pub fn check_row(&self, row: &[Value]) -> Result<()> {
        let table = || self.def.name.clone();
        if row.len() != self.def.columns.len() {
            return Err(Error::WrongArity {
                table: table(),
                expected: self.def.columns.len(),
                got: row.len(),
            });
        }
        for (i, (col, v)) in self.def.columns.iter().zip(row).enumerate() {
            if !col.data_type.accepts(v) {
                return Err(Error::WrongType {
                    table: table(),
                    column: col.name.clone(),
                    expected: col.data_type.name(),
                    got: v.type_name().into(),
                });
            }
            if matches!(v, Value::Null) && (!col.nullable || self.def.primary_key == Some(i)) {
                return Err(Error::NotNull {
                    table: table(),
                    column: col.name.clone(),
                });
            }
        }
        Ok(())
    }

    /// Checks that a key given to a lookup has this table's kind.
    pub fn check_key(&self, key: &Key) -> Result<()> {
        if key.kind() == self.key_kind {
            Ok(())
        } else {
            let name = |k: KeyKind| {
                if k == KeyKind::Int {
                    "an integer"
                } else {
                    "text or bytea"
                }
            };
            Err(Error::WrongKeyType {
                table: self.def.name.clone(),
                expected: name(self.key_kind).into(),
                got: name(key.kind()).into(),
            })
        }
    }
}

fn validate_def(def: &TableDef) -> Result<()> {
    let bad = |m: String| Err(Error::InvalidDefinition(m));
    if def.name.is_empty() || def.name.len() > 63 {
        return bad(format!("table name \"{}\" must be 1 to 63 bytes", def.name));
    }
    if def.columns.is_empty() {
        return bad(format!("table \"{}\" has no columns", def.name));
    }
    let mut seen = std::collections::HashSet::new();
    for c in &def.columns {
        if c.name.is_empty() || c.name == ROWID_COLUMN {
            return bad(format!("invalid column name \"{}\"", c.name));
        }
        if !seen.insert(c.name.as_str()) {
            return bad(format!("column \"{}\" specified more than once", c.name));
        }
        if let DataType::Numeric { precision, scale } = c.data_type
            && (precision == 0 || precision > 38 || scale < 0 || scale as u8 > precision)
        {
            return bad(format!(
                "invalid numeric({precision},{scale}) for column \"{}\"",
                c.name
            ));
        }
    }
    if let Some(pk) = def.primary_key {
        let Some(col) = def.columns.get(pk) else {
            return bad(format!("primary key column index {pk} out of range"));
        };
        if col.data_type.key_kind().is_none() {
            return bad(format!(
                "column \"{}\" of type {} cannot be a primary key (use an integer, timestamp, date, text or bytea)",
                col.name,
                col.data_type.name()
            ));
        }
    }
    Ok(())
}

/// PostgreSQL's uuid input (`uuid_in`): 32 hex digits, optionally in braces, with a hyphen allowed after
/// any group of four; the canonical form is lower-case 8-4-4-4-12. `None` when `s` is not a uuid.
pub fn canonical_uuid(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let (mut i, braces) = if b.first() == Some(&b'{') {
        (1, true)
    } else {
        (0, false)
    };
    let mut out = String::with_capacity(36);
    for byte in 0..16 {
        let pair = b.get(i..i + 2)?;
        if !pair.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        if matches!(byte, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push(pair[0].to_ascii_lowercase() as char);
        out.push(pair[1].to_ascii_lowercase() as char);
        i += 2;
        if byte % 2 == 1 && byte < 15 && b.get(i) == Some(&b'-') {
            i += 1;
        }
    }
    if braces {
        if b.get(i) != Some(&b'}') {
            return None;
        }
        i += 1;
    }
    (i == b.len()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_read_as_postgresql_reads_them() {
        let c = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11";
        for ok in [
            c,
            "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11",
            "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}",
            "a0eebc999c0b4ef8bb6d6bb9bd380a11",
            "a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11",
            "{a0eebc99-9c0b4ef8-bb6d6bb9-bd380a11}",
        ] {
            assert_eq!(canonical_uuid(ok).as_deref(), Some(c), "{ok}");
        }
        for bad in [
            "",
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1",
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a111",
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1g",
            " a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11-",
            "a0e-ebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
            "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
            "a0eebc99--9c0b-4ef8-bb6d-6bb9bd380a11",
        ] {
            assert_eq!(canonical_uuid(bad), None, "{bad}");
        }
        assert_eq!(fit(DataType::Uuid, c), Ok(c.into()));
        assert_eq!(
            fit(DataType::Uuid, "x"),
            Err("invalid input syntax for type uuid: \"x\"".into())
        );
    }

    fn fit(t: DataType, s: &str) -> std::result::Result<String, String> {
        t.fit_text(s)
            .map(|f| f.unwrap_or_else(|| s.to_string()))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn varchar_and_char_fit_as_postgresql_stores_them() {
        let v5 = DataType::Varchar { max: Some(5) };
        let c3 = DataType::Char { len: 3 };
        assert_eq!(fit(v5, "abc"), Ok("abc".into()));
        assert_eq!(fit(v5, "abcde"), Ok("abcde".into()));
        // Only spaces over the limit: cut, not an error.
        assert_eq!(fit(v5, "abcde   "), Ok("abcde".into()));
        assert_eq!(
            fit(v5, "abcdef"),
            Err("value too long for type character varying(5)".into())
        );
        // Characters, not bytes.
        assert_eq!(fit(v5, "ééééé"), Ok("ééééé".into()));
        assert!(fit(v5, "éééééé").is_err());
        assert_eq!(fit(c3, "a"), Ok("a  ".into()));
        assert_eq!(fit(c3, "é"), Ok("é  ".into()));
        assert_eq!(fit(c3, "abc  "), Ok("abc".into()));
        assert_eq!(
            fit(c3, "abcd"),
            Err("value too long for type character(3)".into())
        );
        assert_eq!(
            fit(DataType::Varchar { max: None }, &"x".repeat(100)).map(|s| s.len()),
            Ok(100)
        );
        assert_eq!(fit(DataType::Text, "anything"), Ok("anything".into()));
    }
}
