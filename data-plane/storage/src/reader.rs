//! The read API: snapshots of the database and readers of one table in a snapshot.

use std::ops::Bound;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

use crate::error::Result;
use crate::isolation::ReadSet;
use crate::types::{Key, Row, TableDef};
use crate::version::{DbVersion, Found, KeyRange, ScanIter, TableVersion};

/// A consistent view of every table at one commit. Holding it keeps the files it reads alive.
#[derive(Clone)]
pub struct Snapshot {
    version: Arc<DbVersion>,
}

impl Snapshot {
    pub(crate) fn new(version: Arc<DbVersion>) -> Snapshot {
        Snapshot { version }
    }

    /// The LSN of the last commit this snapshot includes.
    pub fn lsn(&self) -> u64 {
        self.version.lsn
    }

    pub fn table(&self, name: &str) -> Result<TableReader> {
        Ok(TableReader {
            version: self.version.table(name)?.clone(),
            reads: None,
        })
    }

    pub fn table_names(&self) -> Vec<String> {
        self.version.names.keys().cloned().collect()
    }

    /// COMMENT ON texts by (object id, sub-id).
    pub fn comments(&self) -> Vec<((u64, u32), String)> {
        self.version
            .comments
            .iter()
            .map(|(k, v)| (*k, v.clone()))
            .collect()
    }

    /// The sequences, by storage name.
    pub fn sequences(&self) -> Vec<Arc<crate::SequenceDef>> {
        self.version.sequences.values().cloned().collect()
    }

    /// The enum types.
    pub fn types(&self) -> Vec<Arc<crate::EnumDef>> {
        self.version.types.values().cloned().collect()
    }

    /// The views, by storage name.
    pub fn views(&self) -> Vec<Arc<crate::ViewDef>> {
        self.version.views.values().cloned().collect()
    }

    /// Every index, with its table's storage name.
    pub fn indexes(&self) -> Vec<(String, Arc<crate::IndexDef>)> {
        let mut out = vec![];
        for t in self.version.tables.values() {
            for i in &t.indexes {
                out.push((t.shape.def.name.clone(), i.def.clone()));
            }
        }
        out
    }

    /// Schemas besides `public`, with their ids.
    pub fn schemas(&self) -> Vec<(String, u64)> {
        self.version
            .schemas
            .iter()
            .map(|(n, id)| (n.clone(), *id))
            .collect()
    }
}

/// Reads one table as of a snapshot (or a transaction's view with its own writes).
#[derive(Clone)]
pub struct TableReader {
    pub(crate) version: Arc<TableVersion>,
    /// A serializable transaction's read set: every read through this reader is recorded there.
    pub(crate) reads: Option<Arc<ReadSet>>,
}

impl TableReader {
    pub fn def(&self) -> &TableDef {
        &self.version.shape.def
    }

    /// The table's id: assigned at CREATE, never reused, kept across restarts (catalog OIDs come from it).
    pub fn id(&self) -> u64 {
        self.version.shape.id
    }

    /// Arrow schema of the rows `get` and `scan` return (no hidden row id).
    pub fn schema(&self) -> SchemaRef {
        self.version.shape.user.clone()
    }

    /// Physical schema: user columns plus the hidden row id for tables without a primary key.
    pub fn physical_schema(&self) -> SchemaRef {
        self.version.shape.physical.clone()
    }

    /// The table's CHECK constraints.
    pub fn checks(&self) -> Vec<Arc<crate::CheckDef>> {
        self.version.checks.clone()
    }

    /// The table's FOREIGN KEY constraints (as the referencing table).
    pub fn foreign_keys(&self) -> Vec<Arc<crate::ForeignKey>> {
        self.version.foreign_keys.clone()
    }

    /// The table's secondary indexes.
    pub fn indexes(&self) -> Vec<Arc<crate::IndexDef>> {
        self.version.indexes.iter().map(|i| i.def.clone()).collect()
    }

    /// The rows whose first indexed columns of index `name` equal one of `prefixes`, found through the
    /// index, in primary-key order (user schema); `None` when the index cannot answer for this reader
    /// (unknown, or not describing a transaction's own writes: the caller scans instead).
    pub fn index_lookup(
        &self,
        name: &str,
        prefixes: &[Vec<crate::Value>],
    ) -> Result<Option<RecordBatch>> {
        self.through_index(name, |index| {
            let width = index.def.columns.len();
            if prefixes.iter().any(|p| p.is_empty() || p.len() > width) {
                return None;
            }
            let mut keys: Vec<Key> = vec![];
            for p in prefixes {
                let p: Vec<crate::index::SortValue> =
                    p.iter().cloned().map(crate::index::SortValue).collect();
                keys.extend(index.matching(&p).map(|(_, k)| k.clone()));
            }
            Some(keys)
        })
    }

    /// The rows whose first column of index `name` lies between `lo` and `hi`, through the index, in
    /// primary-key order; `None` when the index cannot answer for this reader (as `index_lookup`).
    pub fn index_range(
        &self,
        name: &str,
        lo: Bound<&crate::Value>,
        hi: Bound<&crate::Value>,
    ) -> Result<Option<RecordBatch>> {
        self.through_index(name, |index| Some(index.range_keys(lo, hi)))
    }

    /// The rows of the keys `find` collects through index `name`, in primary-key order, each once.
    fn through_index(
        &self,
        name: &str,
        find: impl FnOnce(&crate::index::SecondaryIndex) -> Option<Vec<Key>>,
    ) -> Result<Option<RecordBatch>> {
        let Some(index) = self
            .version
            .indexes
            .iter()
            .find(|i| i.def.name == name && i.complete && i.def.plain())
        else {
            return Ok(None);
        };
        let Some(mut keys) = find(index) else {
            return Ok(None);
        };
        if let Some(r) = &self.reads {
            // A predicate over non-key columns: the whole table counts as read.
            r.range(self.version.shape.id, &KeyRange::all());
        }
        keys.sort();
        keys.dedup();
        self.version
            .counters
            .index_lookups
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.get_batch(&keys).map(Some)
    }

    /// Live rows.
    pub fn len(&self) -> u64 {
        self.version.live_rows
    }

    pub fn is_empty(&self) -> bool {
        self.version.live_rows == 0
    }

    /// Point lookup through the learned index.
    pub fn get(&self, key: &Key) -> Result<Option<Row>> {
        self.version.shape.check_key(key)?;
        self.read_key(key);
        Ok(self.version.get(key)?.map(|r| self.user_row(r)))
    }

    /// Multi-key lookup (`pk IN (...)`), one learned-index probe per key, answers in the order asked.
    pub fn get_many(&self, keys: &[Key]) -> Result<Vec<Option<Row>>> {
        keys.iter().map(|k| self.get(k)).collect()
    }

    /// The rows under `keys` that exist, in the order asked, as one batch of the user schema: the answer to
    /// `pk IN (...)`, one learned-index probe per key.
    pub fn get_batch(&self, keys: &[Key]) -> Result<RecordBatch> {
        let shape = &self.version.shape;
        let mut found = Vec::with_capacity(keys.len());
        for k in keys {
            shape.check_key(k)?;
            self.read_key(k);
            if let Some(f) = self.version.find(k)? {
                found.push(f);
            }
        }
        if let Some(b) = self.slices_batch(&found) {
            return Ok(b);
        }
        let rows: Vec<Row> = found
            .into_iter()
            .map(|f| match f {
                Found::Slice(b) => self.user_row_owned(crate::columnar::row_at(&b, 0)),
                Found::Row(r) => self.user_row_owned(r),
            })
            .collect();
        Ok(crate::columnar::rows_to_batch(
            &shape.user,
            rows.iter().map(|r| r.as_slice()),
        ))
    }

    /// When every row found sits in a chunk: the answer from the chunks' own arrays (sliced, and concatenated
    /// for several keys) instead of rows rebuilt into new arrays.
    fn slices_batch(&self, found: &[Found]) -> Option<RecordBatch> {
        let shape = &self.version.shape;
        let slices: Vec<&RecordBatch> = found
            .iter()
            .map(|f| match f {
                Found::Slice(b) => Some(b),
                Found::Row(_) => None,
            })
            .collect::<Option<_>>()?;
        let joined = match slices.as_slice() {
            [] => return None,
            [one] => (*one).clone(),
            many => {
                arrow_select::concat::concat_batches(&shape.physical, many.iter().copied()).ok()?
            }
        };
        let user = shape.def.columns.len();
        RecordBatch::try_new(shape.user.clone(), joined.columns()[..user].to_vec()).ok()
    }

    /// Rows of a key range in key order, as record batches of the user schema.
    pub fn scan(
        &self,
        range: KeyRange,
    ) -> Result<impl Iterator<Item = Result<RecordBatch>> + use<>> {
        self.check_range(&range)?;
        let shape = self.version.shape.clone();
        Ok(ScanIter::new(self.version.clone(), range).map(move |b| {
            let b = b?;
            Ok(if shape.has_rowid() {
                b.project(&(0..shape.def.columns.len()).collect::<Vec<_>>())
                    .expect("in range")
            } else {
                b
            })
        }))
    }

    /// Physical columns `columns` (user columns by number, then the hidden row id of a table without a
    /// primary key) of a key range, in key order, read page by page as the iterator is driven.
    pub fn scan_columns(&self, range: KeyRange, columns: &[usize]) -> Result<ScanIter> {
        self.check_range(&range)?;
        Ok(ScanIter::projected(self.version.clone(), range, columns))
    }

    /// Like `scan`, but batches keep the hidden row id column (tables without a primary key).
    pub fn scan_physical(&self, range: KeyRange) -> Result<ScanIter> {
        self.check_range(&range)?;
        Ok(ScanIter::new(self.version.clone(), range))
    }

    /// Rows of a key range with their keys, for callers that want rows rather than batches.
    pub fn rows(&self, range: KeyRange) -> Result<Vec<(Key, Row)>> {
        let shape = &self.version.shape;
        let mut out = Vec::new();
        for b in self.scan_physical(range)? {
            let b = b?;
            for i in 0..b.num_rows() {
                let row = crate::columnar::row_at(&b, i);
                let key = shape.key_of(&row);
                out.push((key, self.user_row_owned(row)));
            }
        }
        Ok(out)
    }

    fn read_key(&self, key: &Key) {
        if let Some(r) = &self.reads {
            r.key(self.version.shape.id, key);
        }
    }

    /// Checks the range's key types and records it as read.
    fn check_range(&self, range: &KeyRange) -> Result<()> {
        use std::ops::Bound::*;
        if let Some(r) = &self.reads {
            r.range(self.version.shape.id, range);
        }
        for b in [&range.start, &range.end] {
            if let Included(k) | Excluded(k) = b {
                self.version.shape.check_key(k)?;
            }
        }
        Ok(())
    }

    fn user_row(&self, r: Row) -> Row {
        self.user_row_owned(r)
    }

    fn user_row_owned(&self, mut r: Row) -> Row {
        if self.version.shape.has_rowid() {
            r.pop();
        }
        r
    }
}
