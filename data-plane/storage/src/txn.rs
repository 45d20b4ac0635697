//! Write transactions: buffered writes over a snapshot, read-your-own-writes, atomic commit or rollback.
//!
//! Isolation: reads see the snapshot taken at `begin` plus the transaction's own writes. At commit, inserts
//! are re-checked for uniqueness against everything committed since; updates apply only to rows that still
//! exist; the last committer wins on a key written by two transactions (like PostgreSQL's READ COMMITTED
//! for single-row writes, without row locks).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use arrow_array::{Array, Int64Array, RecordBatch};

use crate::columnar::{column_key_at, row_at, rows_to_batch, strictly_increasing};

/// In-order inserts buffered as rows are turned into one columnar batch at this many rows.
const APPENDS_PER_BATCH: usize = 1 << 15;
use crate::commit::{CommitInfo, KeyedBatch, PendingOp, TableWrites, TxnWrites};
use crate::db::Inner;
use crate::error::{Error, Result};
use crate::reader::TableReader;
use crate::types::{Key, Row, TableShape, Value};
use crate::version::{DbVersion, DeltaEntry, TableVersion};

pub struct WriteTxn {
    inner: Arc<Inner>,
    snapshot: Arc<DbVersion>,
    writes: TxnWrites,
    /// The snapshot's table plus this transaction's writes, rebuilt after a write when a read needs it.
    overlays: HashMap<u64, Arc<TableVersion>>,
}

impl WriteTxn {
    pub(crate) fn new(inner: Arc<Inner>) -> WriteTxn {
        let snapshot = inner.current.load_full();
        WriteTxn {
            inner,
            snapshot,
            writes: TxnWrites::default(),
            overlays: HashMap::new(),
        }
    }

    /// The table as this transaction sees it. Tables created after `begin` are visible too.
    fn base(&self, name: &str) -> Result<Arc<TableVersion>> {
        match self.snapshot.table(name) {
            Ok(t) => Ok(t.clone()),
            Err(_) => Ok(self.inner.current.load().table(name)?.clone()),
        }
    }

    fn writes_for(&mut self, base: &TableVersion) -> &mut TableWrites {
        self.overlays.remove(&base.shape.id);
        self.writes
            .tables
            .entry(base.shape.id)
            .or_insert_with(|| TableWrites {
                name: base.shape.def.name.clone(),
                epoch: base.epoch,
                ..TableWrites::default()
            })
    }

    /// The physical row under `key` as this transaction sees it.
    fn lookup(&self, base: &TableVersion, key: &Key) -> Result<Option<Row>> {
        if let Some(tw) = self.writes.tables.get(&base.shape.id) {
            if let Some(op) = tw.map.get(key) {
                return Ok(match op {
                    PendingOp::Delete => None,
                    PendingOp::Insert(r) | PendingOp::Upsert(r) | PendingOp::Update(r) => {
                        Some(r.clone())
                    }
                });
            }
            if let Ok(i) = tw.appends.binary_search_by(|(k, _)| k.cmp(key)) {
                return Ok(Some(tw.appends[i].1.clone()));
            }
            if let Some((b, i)) = find_in_batches(&tw.batches, &base.shape, key) {
                return Ok(Some(row_at(&b.batch, i)));
            }
        }
        base.get(key)
    }

    fn physical(shape: &TableShape, mut row: Row, rowid: Option<i64>) -> Result<Row> {
        shape.check_row(&row)?;
        if shape.has_rowid() {
            let id = rowid.unwrap_or_else(|| shape.next_rowid.fetch_add(1, Ordering::Relaxed));
            row.push(Value::Int64(id));
        }
        Ok(row)
    }

    /// Inserts a row; fails with `DuplicateKey` if its key exists (here, or at commit).
    pub fn insert(&mut self, table: &str, row: Row) -> Result<()> {
        let base = self.base(table)?;
        let row = Self::physical(&base.shape, row, None)?;
        let key = base.shape.key_of(&row);
        let above_all = |tw: &TableWrites| {
            tw.appends.last().is_none_or(|(k, _)| key > *k)
                && tw.map.last_key_value().is_none_or(|(k, _)| key > *k)
                && tw.batches.last().is_none_or(|b| key > b.last)
        };
        // Above everything the table and this transaction hold, the key cannot exist: skip the lookup
        // (the in-order bulk-load path).
        let fresh =
            base.is_append(&key) && self.writes.tables.get(&base.shape.id).is_none_or(above_all);
        if !fresh && self.lookup(&base, &key)?.is_some() {
            return Err(Error::DuplicateKey {
                table: table.into(),
                key: key.to_string(),
            });
        }
        let tw = self.writes_for(&base);
        let above_all = above_all(tw);
        if let Some(PendingOp::Delete) = tw.map.get(&key) {
            // Deleted earlier in this transaction: the base row may still exist at commit, so overwrite.
            tw.map.insert(key, PendingOp::Upsert(row));
        } else if above_all {
            tw.appends.push((key, row));
            if tw.appends.len() >= APPENDS_PER_BATCH {
                // Long in-order runs go columnar: a fraction of the memory of boxed rows, and at commit they
                // take the bulk path without another conversion.
                let rows = std::mem::take(&mut tw.appends);
                let batch =
                    rows_to_batch(&base.shape.physical, rows.iter().map(|(_, r)| r.as_slice()));
                let (first, last) = (rows[0].0.clone(), rows[rows.len() - 1].0.clone());
                drop(rows);
                tw.batches.push(KeyedBatch { first, last, batch });
            }
        } else {
            tw.map.insert(key, PendingOp::Insert(row));
        }
        Ok(())
    }

    /// Inserts a whole batch (the user schema's columns and types). Sorted batches above every existing key
    /// stay columnar and, when large, are written straight to chunk files at commit (COPY, INSERT ... SELECT).
    /// Anything else falls back to row inserts. Either all rows are inserted or none (the error says why).
    pub fn insert_batch(&mut self, table: &str, batch: &RecordBatch) -> Result<()> {
        let base = self.base(table)?;
        let shape = base.shape.clone();
        check_batch(&shape, batch)?;
        let n = batch.num_rows();
        if n == 0 {
            return Ok(());
        }
        let mut columns = batch.columns().to_vec();
        if shape.has_rowid() {
            let start = shape.next_rowid.fetch_add(n as i64, Ordering::Relaxed);
            columns.push(Arc::new(Int64Array::from_iter_values(
                start..start + n as i64,
            )));
        }
        let physical = RecordBatch::try_new(shape.physical.clone(), columns)
            .map_err(|e| Error::InvalidDefinition(format!("batch for table \"{table}\": {e}")))?;
        let key_col = physical.column(shape.key_col).as_ref();
        let first = column_key_at(key_col, shape.key_kind, 0);
        let last = column_key_at(key_col, shape.key_kind, n - 1);
        let tw = self.writes.tables.get(&shape.id);
        let above = base.is_append(&first)
            && tw.is_none_or(|tw| {
                tw.appends.is_empty()
                    && tw.map.last_key_value().is_none_or(|(k, _)| first > *k)
                    && tw.batches.last().is_none_or(|b| first > b.last)
            });
        if above && strictly_increasing(key_col, shape.key_kind) {
            self.writes_for(&base).batches.push(KeyedBatch {
                first,
                last,
                batch: physical,
            });
            return Ok(());
        }
        let saved = self.writes.tables.get(&shape.id).cloned();
        for i in 0..n {
            let mut row = row_at(&physical, i);
            if shape.has_rowid() {
                row.pop();
            }
            if let Err(e) = self.insert(table, row) {
                self.overlays.remove(&shape.id);
                match saved {
                    Some(tw) => self.writes.tables.insert(shape.id, tw),
                    None => self.writes.tables.remove(&shape.id),
                };
                return Err(e);
            }
        }
        Ok(())
    }

    /// Inserts or replaces the row with the same key.
    pub fn upsert(&mut self, table: &str, row: Row) -> Result<()> {
        let base = self.base(table)?;
        if base.shape.has_rowid() {
            return self.insert(table, row);
        }
        let row = Self::physical(&base.shape, row, None)?;
        let key = base.shape.key_of(&row);
        self.writes_for(&base)
            .map
            .insert(key, PendingOp::Upsert(row));
        Ok(())
    }

    /// Replaces the row under `key` with `row` (whose key may differ). Returns whether a row was there.
    pub fn update(&mut self, table: &str, key: &Key, row: Row) -> Result<bool> {
        let base = self.base(table)?;
        base.shape.check_key(key)?;
        if self.lookup(&base, key)?.is_none() {
            return Ok(false);
        }
        let rowid = if let (true, Key::Int(id)) = (base.shape.has_rowid(), key) {
            Some(*id)
        } else {
            None
        };
        let row = Self::physical(&base.shape, row, rowid)?;
        let new_key = base.shape.key_of(&row);
        if new_key != *key {
            if self.lookup(&base, &new_key)?.is_some() {
                return Err(Error::DuplicateKey {
                    table: table.into(),
                    key: new_key.to_string(),
                });
            }
            let tw = self.writes_for(&base);
            tw.map.insert(key.clone(), PendingOp::Delete);
            tw.map.insert(new_key, PendingOp::Upsert(row));
            return Ok(true);
        }
        let tw = self.writes_for(&base);
        let op = match tw.map.get(key) {
            Some(PendingOp::Insert(_) | PendingOp::Upsert(_)) => PendingOp::Upsert(row),
            _ if tw.appends.binary_search_by(|(k, _)| k.cmp(key)).is_ok() => PendingOp::Upsert(row),
            _ if find_in_batches(&tw.batches, &base.shape, key).is_some() => PendingOp::Upsert(row),
            _ => PendingOp::Update(row),
        };
        tw.map.insert(key.clone(), op);
        Ok(true)
    }

    /// Deletes the row under `key`. Returns whether a row was there.
    pub fn delete(&mut self, table: &str, key: &Key) -> Result<bool> {
        let base = self.base(table)?;
        base.shape.check_key(key)?;
        if self.lookup(&base, key)?.is_none() {
            return Ok(false);
        }
        self.writes_for(&base)
            .map
            .insert(key.clone(), PendingOp::Delete);
        Ok(true)
    }

    /// Point read that sees this transaction's writes.
    pub fn get(&self, table: &str, key: &Key) -> Result<Option<Row>> {
        let base = self.base(table)?;
        base.shape.check_key(key)?;
        let mut row = self.lookup(&base, key)?;
        if base.shape.has_rowid()
            && let Some(r) = row.as_mut()
        {
            r.pop();
        }
        Ok(row)
    }

    /// A reader of the table that sees this transaction's writes (scans, multi-key reads).
    pub fn table(&mut self, name: &str) -> Result<TableReader> {
        let base = self.base(name)?;
        let id = base.shape.id;
        let Some(tw) = self.writes.tables.get(&id) else {
            return Ok(TableReader { version: base });
        };
        if let Some(o) = self.overlays.get(&id) {
            return Ok(TableReader { version: o.clone() });
        }
        let mut o = (*base).clone();
        let put = |o: &mut TableVersion, k: &Key, row: Option<&Row>| {
            let exists = o.contains(k).unwrap_or(false);
            match row {
                Some(r) => {
                    if !exists {
                        o.live_rows += 1;
                    }
                    o.delta.insert(
                        k.clone(),
                        DeltaEntry {
                            lsn: u64::MAX,
                            row: Some(Arc::new(r.clone())),
                        },
                    );
                }
                None => {
                    if exists {
                        o.live_rows -= 1;
                    }
                    o.delta.insert(
                        k.clone(),
                        DeltaEntry {
                            lsn: u64::MAX,
                            row: None,
                        },
                    );
                }
            }
        };
        for b in &tw.batches {
            for i in 0..b.batch.num_rows() {
                let r = row_at(&b.batch, i);
                let k = o.shape.key_of(&r);
                if !tw.map.contains_key(&k) {
                    put(&mut o, &k, Some(&r));
                }
            }
        }
        for (k, r) in &tw.appends {
            if !tw.map.contains_key(k) {
                put(&mut o, k, Some(r));
            }
        }
        for (k, op) in &tw.map {
            let exists = o.contains(k).unwrap_or(false);
            match op {
                PendingOp::Delete => put(&mut o, k, None),
                PendingOp::Update(_) if !exists => {}
                PendingOp::Insert(r) | PendingOp::Upsert(r) | PendingOp::Update(r) => {
                    put(&mut o, k, Some(r))
                }
            }
        }
        let o = Arc::new(o);
        self.overlays.insert(id, o.clone());
        Ok(TableReader { version: o })
    }

    /// Whether the transaction has written anything.
    pub fn is_empty(&self) -> bool {
        self.writes.tables.values().all(TableWrites::is_empty)
    }

    /// Makes every write durable and visible atomically, or none of them.
    pub fn commit(self) -> Result<CommitInfo> {
        self.inner.commit_writes(self.writes)
    }

    /// Hands the transaction to the committer without blocking; `done` hears the outcome once it is durable
    /// (or refused). For async callers: send the result through a channel from `done`.
    pub fn commit_then(self, done: impl FnOnce(Result<CommitInfo>) + Send + 'static) {
        self.inner.submit(self.writes, Box::new(done))
    }

    /// Discards every write.
    pub fn rollback(self) {}
}

/// The batch and row holding `key` among a transaction's inserted batches.
fn find_in_batches<'a>(
    batches: &'a [KeyedBatch],
    shape: &TableShape,
    key: &Key,
) -> Option<(&'a KeyedBatch, usize)> {
    let i = batches.partition_point(|b| b.last < *key);
    let b = batches.get(i).filter(|b| b.first <= *key)?;
    let col = b.batch.column(shape.key_col).as_ref();
    let pos = crate::chunk::partition_range(0, b.batch.num_rows(), |j| {
        column_key_at(col, shape.key_kind, j) < *key
    });
    (pos < b.batch.num_rows() && column_key_at(col, shape.key_kind, pos) == *key)
        .then_some((b, pos))
}

/// A batch must have the table's columns with their types, and no NULL where the table forbids one.
fn check_batch(shape: &TableShape, batch: &RecordBatch) -> Result<()> {
    let table = || shape.def.name.clone();
    if batch.num_columns() != shape.def.columns.len() {
        return Err(Error::WrongArity {
            table: table(),
            expected: shape.def.columns.len(),
            got: batch.num_columns(),
        });
    }
    for (i, (col, array)) in shape.def.columns.iter().zip(batch.columns()).enumerate() {
        if array.data_type() != &col.data_type.arrow() {
            return Err(Error::WrongType {
                table: table(),
                column: col.name.clone(),
                expected: col.data_type.name(),
                got: array.data_type().to_string(),
            });
        }
        if (!col.nullable || shape.def.primary_key == Some(i)) && array.null_count() > 0 {
            return Err(Error::NotNull {
                table: table(),
                column: col.name.clone(),
            });
        }
    }
    Ok(())
}
