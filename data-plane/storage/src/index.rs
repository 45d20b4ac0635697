//! Secondary indexes: for each row, its indexed column values and its primary key, in an ordered persistent
//! set carried by every table version (cloning a version shares it). Entries name rows by primary key, not
//! position, so retraining (which moves rows between chunks) leaves an index untouched; every write path
//! (commit, bulk load, recovery replay) maintains it in `commit::apply_put` / `apply_delete`, and a UNIQUE
//! index is checked at commit against the committed state. Definitions are catalog rows (redb `indexes`);
//! the entries are rebuilt from the table when the database opens.
//!
//! This is the first form of the learned secondary index: the entries are exact and ordered (what
//! lookups, ranges and uniqueness need); per-chunk sorted arrays under learned models come next.

use std::cmp::Ordering;
use std::ops::Bound;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::types::{Key, Row, TableShape, Value};
use crate::version::{KeyRange, TableVersion};

/// What CREATE INDEX defines.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexDef {
    /// Handed out at CREATE INDEX from the ids tables get (catalog OIDs come from it); never reused.
    pub id: u64,
    /// Storage name (`s.i` outside `public`, like tables): indexes share the relations' namespace.
    pub name: String,
    pub table_id: u64,
    /// Positions of the indexed columns in the table's columns, in index order.
    pub columns: Vec<usize>,
    pub unique: bool,
    /// The UNIQUE or PRIMARY KEY constraint this index implements (`None`: a plain CREATE INDEX).
    pub constraint: Option<String>,
    /// The table's PRIMARY KEY where it cannot be the learned key: over several columns, or a column of a
    /// type keys cannot have. The rows are then keyed by the hidden row id.
    pub primary: bool,
    /// PostgreSQL's `indoption` per column (1: DESC, 2: NULLS FIRST); empty when all are 0. The entries are
    /// kept in ascending order either way: a lookup's answer does not depend on it.
    pub options: Vec<i16>,
    /// A partial index's WHERE, as SQL over the table's columns: only rows for which it is true have
    /// entries (and only they conflict in a UNIQUE one). The SQL layer evaluates it (`CheckHook`).
    pub predicate: Option<String>,
    /// Per indexed position, the expression indexed there as SQL (`lower(email)`), where `columns` then
    /// holds the first column it names; empty when every position is a plain column. The SQL layer
    /// evaluates them (`CheckHook`).
    pub expressions: Vec<Option<String>>,
}

impl IndexDef {
    /// Whether lookups by column values may go through it: every row has an entry (not partial) and each
    /// position holds a column's own value (no expression).
    pub fn plain(&self) -> bool {
        self.predicate.is_none() && self.expressions.iter().all(Option::is_none)
    }

    /// The expression indexed at position `i`, if it is one.
    pub fn expression(&self, i: usize) -> Option<&str> {
        self.expressions.get(i).and_then(|e| e.as_deref())
    }
}

/// The layout index definitions are stored in (`store::encode_layout`): 2 added `primary` and `options`,
/// 3 `predicate`.
pub(crate) const INDEX_LAYOUT: u8 = 3;

/// An index definition as layout 2 stored it.
#[derive(Deserialize)]
#[cfg_attr(test, derive(Serialize))]
pub(crate) struct IndexDefV2 {
    pub id: u64,
    pub name: String,
    pub table_id: u64,
    pub columns: Vec<usize>,
    pub unique: bool,
    pub constraint: Option<String>,
    pub primary: bool,
    pub options: Vec<i16>,
}

impl From<IndexDefV2> for IndexDef {
    fn from(v: IndexDefV2) -> IndexDef {
        IndexDef {
            id: v.id,
            name: v.name,
            table_id: v.table_id,
            columns: v.columns,
            unique: v.unique,
            constraint: v.constraint,
            primary: v.primary,
            options: v.options,
            predicate: None,
            expressions: vec![],
        }
    }
}

/// An index definition as the first layout stored it.
#[derive(Deserialize)]
#[cfg_attr(test, derive(Serialize))]
pub(crate) struct IndexDefV1 {
    pub id: u64,
    pub name: String,
    pub table_id: u64,
    pub columns: Vec<usize>,
    pub unique: bool,
    pub constraint: Option<String>,
}

impl From<IndexDefV1> for IndexDef {
    fn from(v: IndexDefV1) -> IndexDef {
        IndexDefV2 {
            id: v.id,
            name: v.name,
            table_id: v.table_id,
            columns: v.columns,
            unique: v.unique,
            constraint: v.constraint,
            primary: false,
            options: vec![],
        }
        .into()
    }
}

/// A column value in index order: NULL after every value (PostgreSQL's ascending order), numbers by value,
/// text and bytea bytewise.
#[derive(Clone, Debug)]
pub struct SortValue(pub Value);

impl SortValue {
    fn rank(&self) -> (u8, i128) {
        match &self.0 {
            Value::Bool(b) => (1, *b as i128),
            Value::Int16(v) => (2, *v as i128),
            Value::Int32(v) => (2, *v as i128),
            Value::Int64(v) => (2, *v as i128),
            Value::Timestamp(v) => (2, *v as i128),
            Value::Date(v) => (2, *v as i128),
            Value::Time(v) => (2, *v as i128),
            Value::Decimal(v) => (3, *v),
            Value::Float32(_) | Value::Float64(_) => (4, 0),
            Value::Text(_) | Value::Bytes(_) => (5, 0),
            Value::Array(_) => (6, 0),
            // PostgreSQL's interval order: a month is 30 days, a day 24 hours.
            Value::Interval(m, d, us) => (
                7,
                (i128::from(*m) * 30 + i128::from(*d)) * 86_400_000_000 + i128::from(*us),
            ),
            Value::Null => (9, 0),
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.0, Value::Null)
    }
}

impl Ord for SortValue {
    fn cmp(&self, other: &Self) -> Ordering {
        let (ra, va) = self.rank();
        let (rb, vb) = other.rank();
        ra.cmp(&rb).then_with(|| match (&self.0, &other.0) {
            (Value::Float32(a), Value::Float32(b)) => a.total_cmp(b),
            (Value::Float64(a), Value::Float64(b)) => a.total_cmp(b),
            (Value::Float32(a), Value::Float64(b)) => (*a as f64).total_cmp(b),
            (Value::Float64(a), Value::Float32(b)) => a.total_cmp(&(*b as f64)),
            (Value::Text(a), Value::Text(b)) => a.as_bytes().cmp(b.as_bytes()),
            (Value::Bytes(a), Value::Bytes(b)) => a.cmp(b),
            (Value::Text(a), Value::Bytes(b)) => a.as_bytes().cmp(b.as_slice()),
            (Value::Bytes(a), Value::Text(b)) => a.as_slice().cmp(b.as_bytes()),
            // PostgreSQL's array order: element by element, then the shorter first.
            (Value::Array(a), Value::Array(b)) => a
                .iter()
                .zip(b)
                .map(|(x, y)| SortValue(x.clone()).cmp(&SortValue(y.clone())))
                .find(|o| o.is_ne())
                .unwrap_or_else(|| a.len().cmp(&b.len())),
            _ => va.cmp(&vb),
        })
    }
}

impl PartialOrd for SortValue {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for SortValue {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for SortValue {}

/// One entry: the row's indexed values, then its primary key (which makes entries unique).
pub(crate) type Entry = (Box<[SortValue]>, Key);

/// An index as one table version holds it.
#[derive(Clone)]
pub(crate) struct SecondaryIndex {
    pub def: Arc<IndexDef>,
    /// A partial index's predicate, compiled for the table's definition (`None`: every row).
    pub predicate: Option<crate::check::RowPredicate>,
    /// The indexed expressions, compiled likewise, by position (`None`: the column's value).
    pub expressions: Vec<Option<crate::check::RowValue>>,
    pub entries: imbl::OrdSet<Entry>,
    /// False where the entries do not describe the version (a transaction's own view of an index it
    /// creates, or of a table it wrote): reads must not use it then.
    pub complete: bool,
}

impl SecondaryIndex {
    /// An empty index of `def`, its predicate (if partial) compiled by `hook` for `shape`.
    pub fn empty(
        def: Arc<IndexDef>,
        shape: &TableShape,
        hook: &dyn crate::check::CheckHook,
    ) -> Result<SecondaryIndex> {
        let predicate = match &def.predicate {
            Some(sql) => Some(hook.index_predicate(shape, sql)?),
            None => None,
        };
        let expressions = def
            .expressions
            .iter()
            .map(|e| match e {
                Some(sql) => hook.index_expression(shape, sql).map(Some),
                None => Ok(None),
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(SecondaryIndex {
            def,
            predicate,
            expressions,
            entries: imbl::OrdSet::new(),
            complete: true,
        })
    }

    /// `empty` for a transaction's own view, which cannot fail: a predicate that does not compile leaves
    /// the index incomplete there (reads and own-write checks pass it by); the commit compiles it again and
    /// fails.
    pub fn in_view(
        def: Arc<IndexDef>,
        shape: &TableShape,
        hook: &dyn crate::check::CheckHook,
    ) -> SecondaryIndex {
        SecondaryIndex::empty(def.clone(), shape, hook).unwrap_or_else(|_| SecondaryIndex {
            def,
            predicate: Some(Arc::new(|_: &Row| false)),
            expressions: vec![],
            entries: imbl::OrdSet::new(),
            complete: false,
        })
    }

    /// The same index with no entries (TRUNCATE: the definition, hence the predicate, stays).
    pub fn emptied(&self) -> SecondaryIndex {
        SecondaryIndex {
            entries: imbl::OrdSet::new(),
            complete: true,
            ..self.clone()
        }
    }

    /// Whether `row` has an entry: every row, or in a partial index those its predicate holds for.
    pub fn holds(&self, row: &Row) -> bool {
        self.predicate.as_ref().is_none_or(|p| p(row))
    }

    pub fn values(&self, row: &Row) -> Box<[SortValue]> {
        self.def
            .columns
            .iter()
            .enumerate()
            .map(|(i, &c)| match self.expressions.get(i) {
                Some(Some(f)) => SortValue(f(row)),
                _ => SortValue(row[c].clone()),
            })
            .collect()
    }

    pub fn insert(&mut self, row: &Row, key: Key) {
        if self.holds(row) {
            self.entries.insert((self.values(row), key));
        }
    }

    pub fn remove(&mut self, row: &Row, key: &Key) {
        if self.holds(row) {
            self.entries.remove(&(self.values(row), key.clone()));
        }
    }

    /// The entries whose first `prefix.len()` values equal `prefix`, in index order.
    pub fn matching<'a>(&'a self, prefix: &'a [SortValue]) -> impl Iterator<Item = &'a Entry> + 'a {
        let start: Box<[SortValue]> = prefix.to_vec().into_boxed_slice();
        self.entries
            .range((start, Key::Int(i64::MIN))..)
            .take_while(move |(v, _)| v.len() >= prefix.len() && v[..prefix.len()] == *prefix)
    }

    /// The keys of the entries whose first value lies between `lo` and `hi` (NULLs never do).
    pub fn range_keys(&self, lo: Bound<&Value>, hi: Bound<&Value>) -> Vec<Key> {
        let start: Box<[SortValue]> = match lo {
            Bound::Included(v) | Bound::Excluded(v) => {
                vec![SortValue(v.clone())].into_boxed_slice()
            }
            Bound::Unbounded => Box::new([]),
        };
        let below = |first: &SortValue| match hi {
            Bound::Included(v) => *first <= SortValue(v.clone()),
            Bound::Excluded(v) => *first < SortValue(v.clone()),
            Bound::Unbounded => true,
        };
        self.entries
            .range((start, Key::Int(i64::MIN))..)
            .skip_while(
                |(vals, _)| matches!(lo, Bound::Excluded(v) if vals[0] == SortValue(v.clone())),
            )
            .take_while(|(vals, _)| !vals[0].is_null() && below(&vals[0]))
            .map(|(_, k)| k.clone())
            .collect()
    }

    /// Another row than `key` with the same values as `row`, if a UNIQUE index has one (rows with a NULL
    /// in the indexed columns never conflict, as in PostgreSQL).
    pub fn conflict(&self, row: &Row, key: &Key) -> Option<Key> {
        let values = self.values(row);
        if !self.def.unique || values.iter().any(SortValue::is_null) || !self.holds(row) {
            return None;
        }
        self.matching(&values)
            .find(|(_, k)| k != key)
            .map(|(_, k)| k.clone())
    }

    /// `index` (empty) filled with every row of `tv`; a UNIQUE index with two equal rows is an error naming
    /// them, unless one of them is `exempt` (a row the creating transaction rewrites, judged after its
    /// writes).
    pub fn build(
        mut index: SecondaryIndex,
        tv: &TableVersion,
        exempt: impl Fn(&Key) -> bool,
    ) -> Result<SecondaryIndex> {
        for batch in crate::version::ScanIter::new(Arc::new(tv.clone()), KeyRange::all()) {
            let batch = batch?;
            for i in 0..batch.num_rows() {
                let row = crate::columnar::row_at(&batch, i);
                let key = tv.shape.key_of(&row);
                if let Some(other) = index.conflict(&row, &key)
                    && !exempt(&key)
                    && !exempt(&other)
                {
                    return Err(index.violation(&tv.shape, &row, true));
                }
                index.insert(&row, key);
            }
        }
        Ok(index)
    }

    /// PostgreSQL's unique violation for `row`: while building (`could not create unique index`) or on a
    /// write (`duplicate key value violates unique constraint`).
    pub fn violation(&self, shape: &TableShape, row: &Row, building: bool) -> Error {
        let names: Vec<&str> = self
            .def
            .columns
            .iter()
            .enumerate()
            .map(|(i, &c)| {
                self.def
                    .expression(i)
                    .unwrap_or(shape.def.columns[c].name.as_str())
            })
            .collect();
        let values: Vec<String> = self.values(row).iter().map(|v| value_text(&v.0)).collect();
        Error::UniqueViolation {
            index: self.def.name.clone(),
            key: format!("({})=({})", names.join(", "), values.join(", ")),
            building,
        }
    }
}

/// A value as PostgreSQL prints it in a key's DETAIL.
pub(crate) fn value_text(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => if *b { "t" } else { "f" }.into(),
        Value::Int16(x) => x.to_string(),
        Value::Int32(x) => x.to_string(),
        Value::Int64(x) => x.to_string(),
        Value::Float32(x) => x.to_string(),
        Value::Float64(x) => x.to_string(),
        Value::Text(s) => s.clone(),
        Value::Bytes(b) => format!(
            "\\x{}",
            b.iter().map(|x| format!("{x:02x}")).collect::<String>()
        ),
        other => format!("{other:?}"),
    }
}
