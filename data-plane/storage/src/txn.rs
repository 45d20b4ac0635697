//! Write transactions: buffered writes over a snapshot, read-your-own-writes, row locks, PostgreSQL's
//! isolation levels, savepoints, and atomic commit or rollback.
//!
//! - Every row a transaction writes (or locks with `lock_row`) is locked until it ends: a second writer of the
//!   row waits (`Error::LockWait` hands the caller the wait to await), first updater wins.
//! - READ COMMITTED reads a fresh snapshot per statement (`new_statement`). A write to a row that a commit
//!   changed after the statement's snapshot must be recomputed from the newest version (`lock_row` says
//!   `changed`; `get_latest` and `table_latest` read it): PostgreSQL's EvalPlanQual.
//! - REPEATABLE READ and SERIALIZABLE take one snapshot at the first statement; writing or locking a row a
//!   later commit changed fails with a serialization error. SERIALIZABLE also records what it reads and is
//!   validated at commit (see `isolation.rs`).
//!
//! Multi-row sorted appends above every key (COPY, INSERT ... SELECT) take no row locks: keys nobody else can
//! see yet have no readers or writers to wait for, and a concurrent insert of the same key fails at commit.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use arrow_array::{Array, Int64Array, RecordBatch};

use crate::columnar::{column_key_at, row_at, rows_to_batch, strictly_increasing};

/// In-order inserts buffered as rows are turned into one columnar batch at this many rows.
const APPENDS_PER_BATCH: usize = 1 << 15;
use crate::commit::{CommitInfo, KeyedBatch, PendingOp, TableWrites, TxnEnd, TxnWrites};
use crate::error::{Error, Result};
use crate::isolation::{Isolation, ReadSet};
use crate::locks::{LockMode, Owner, Resource};
use crate::reader::TableReader;
use crate::shared::Inner;
use crate::types::{Key, Row, TableShape, Value};
use crate::version::{DbVersion, DeltaEntry, TableVersion};

mod ddl;
mod locking;
mod types;
mod unique;
mod views;

use locking::Write;

/// How a transaction starts.
#[derive(Clone, Copy, Debug, Default)]
pub struct TxnOptions {
    pub isolation: Isolation,
    pub read_only: bool,
    /// The session the transaction belongs to (its advisory locks and its waits are the session's); a fresh
    /// one when `None`.
    pub session: Option<u64>,
}

/// The outcome of `lock_row`.
#[derive(Debug)]
pub enum RowLock {
    /// The lock is held. `changed`: a commit after the statement's snapshot changed the row (READ COMMITTED
    /// only; the other levels fail instead), so re-check it against `get_latest`.
    Held { changed: bool },
    /// `SKIP LOCKED` passed over the row.
    Skipped,
}

/// A savepoint: the writes as they were, and how many locks were held.
struct Savepoint {
    writes: TxnWrites,
    held: usize,
}

pub struct WriteTxn {
    inner: Arc<Inner>,
    /// The committed state the transaction reads (per statement under READ COMMITTED)...
    raw: Arc<DbVersion>,
    /// ...with the transaction's own DDL laid over it: what its statements see.
    snapshot: Arc<DbVersion>,
    writes: TxnWrites,
    /// The snapshot's table plus this transaction's writes, rebuilt after a write when a read needs it.
    overlays: HashMap<u64, Arc<TableVersion>>,
    owner: Owner,
    isolation: Isolation,
    read_only: bool,
    /// A statement has run: REPEATABLE READ and SERIALIZABLE keep the snapshot from now on.
    started: bool,
    /// Resources locked by this transaction, in the order first locked (savepoints cut this list).
    held: Vec<Resource>,
    held_set: HashSet<Resource>,
    /// Rows whose lock came by hand-off after a wait, not yet judged for a concurrent change.
    awaited: HashSet<Resource>,
    /// SERIALIZABLE: what this transaction read, and the snapshot LSN it is registered under.
    reads: Option<Arc<ReadSet>>,
    serial_lsn: Option<u64>,
    savepoints: Vec<Savepoint>,
}

impl WriteTxn {
    pub(crate) fn new(inner: Arc<Inner>, opts: TxnOptions) -> WriteTxn {
        let session = opts.session.unwrap_or_else(|| inner.next_id());
        let txn = inner.next_id();
        let snapshot = inner.current.load_full();
        let mut t = WriteTxn {
            raw: snapshot.clone(),
            snapshot,
            writes: TxnWrites::default(),
            overlays: HashMap::new(),
            owner: Owner {
                session,
                txn: Some(txn),
            },
            isolation: opts.isolation,
            read_only: opts.read_only,
            started: false,
            held: Vec::new(),
            held_set: HashSet::new(),
            awaited: HashSet::new(),
            reads: None,
            serial_lsn: None,
            savepoints: Vec::new(),
            inner,
        };
        t.take_snapshot();
        t
    }

    /// The transaction's id (as `pg_locks` shows it) and its session.
    pub fn owner(&self) -> Owner {
        self.owner
    }

    pub fn isolation(&self) -> Isolation {
        self.isolation
    }

    pub fn read_only(&self) -> bool {
        self.read_only
    }

    /// Changes the isolation level before the first statement (`SET TRANSACTION`).
    pub fn set_isolation(&mut self, level: Isolation) {
        self.isolation = level;
        self.take_snapshot();
    }

    pub fn set_read_only(&mut self, read_only: bool) {
        self.read_only = read_only;
    }

    /// A statement begins: READ COMMITTED reads a fresh snapshot; the other levels take theirs at the first
    /// statement and keep it.
    pub fn new_statement(&mut self) {
        if self.started && self.isolation != Isolation::ReadCommitted {
            return;
        }
        self.take_snapshot();
        self.started = true;
    }

    /// Whether a statement has run in the transaction.
    pub fn started(&self) -> bool {
        self.started
    }

    fn take_snapshot(&mut self) {
        if self.isolation == Isolation::Serializable {
            let mut serial = self.inner.serial.lock();
            if let Some(old) = self.serial_lsn.take() {
                serial.unregister(old);
            }
            // Loaded under the validator's lock: every commit after this snapshot is then recorded for it.
            self.raw = self.inner.current.load_full();
            serial.register(self.raw.lsn);
            self.serial_lsn = Some(self.raw.lsn);
            self.reads.get_or_insert_with(Default::default);
        } else {
            if let Some(old) = self.serial_lsn.take() {
                self.inner.serial.lock().unregister(old);
            }
            self.reads = None;
            self.raw = self.inner.current.load_full();
        }
        self.refresh_view();
    }

    /// The table as this transaction sees it. Tables created after the snapshot are visible too.
    fn base(&self, name: &str) -> Result<Arc<TableVersion>> {
        match self.snapshot.table(name) {
            Ok(t) => Ok(t.clone()),
            Err(e) if self.dropped_here(name) => Err(e),
            Err(_) => Ok(self.inner.current.load().table(name)?.clone()),
        }
    }

    /// The newest committed version of the table (what a locked row is judged against).
    fn latest(&self, base: &TableVersion) -> Result<Arc<TableVersion>> {
        if self.ddl_owned(base.shape.id) {
            return self.snapshot.table(&base.shape.def.name).cloned();
        }
        let cur = self.inner.current.load();
        cur.tables
            .get(&base.shape.id)
            .filter(|t| t.epoch == base.epoch)
            .cloned()
            .ok_or_else(|| Error::Conflict(base.shape.def.name.clone()))
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

    /// The physical row under `key` as this transaction sees it over `base`.
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
        shape.fit_row(&mut row)?;
        if shape.has_rowid() {
            let id = rowid.unwrap_or_else(|| shape.next_rowid.fetch_add(1, Ordering::Relaxed));
            row.push(Value::Int64(id));
        }
        Ok(row)
    }

    /// A row's enum values against the types this transaction sees.
    fn check_enums(&self, shape: &TableShape, row: &Row) -> Result<()> {
        crate::enum_type::check_row(shape, row, &self.snapshot.types)
    }

    /// The table's CHECK constraints over rows about to be written (user schema).
    fn check_batch_constraints(&self, base: &TableVersion, batch: &RecordBatch) -> Result<()> {
        if base.checks.is_empty() || batch.num_rows() == 0 {
            return Ok(());
        }
        self.inner
            .check_hook
            .check(&base.shape, &base.checks, batch)
    }

    /// The table's CHECK constraints over one physical row about to be written.
    fn check_row_constraints(&self, base: &TableVersion, row: &Row) -> Result<()> {
        if base.checks.is_empty() {
            return Ok(());
        }
        let user = base.shape.def.columns.len();
        let batch = crate::columnar::rows_to_batch(&base.shape.user, [&row[..user]].into_iter());
        self.check_batch_constraints(base, &batch)
    }

    fn writable(&self) -> Result<()> {
        if self.read_only {
            return Err(Error::ReadOnly);
        }
        Ok(())
    }

    /// Inserts a row; fails with `DuplicateKey` if its key exists (here, or at commit).
    pub fn insert(&mut self, table: &str, row: Row) -> Result<()> {
        self.writable()?;
        let base = self.base(table)?;
        let row = Self::physical(&base.shape, row, None)?;
        self.check_enums(&base.shape, &row)?;
        self.check_row_constraints(&base, &row)?;
        let key = base.shape.key_of(&row);
        self.lock_for_write(&base, &key, LockMode::Update, Write::Insert)?;
        self.insert_locked(&base, table, key, row)
    }

    fn insert_locked(
        &mut self,
        base: &TableVersion,
        table: &str,
        key: Key,
        row: Row,
    ) -> Result<()> {
        let latest = self.latest(base)?;
        let above_all = |tw: &TableWrites| {
            tw.appends.last().is_none_or(|(k, _)| key > *k)
                && tw.map.last_key_value().is_none_or(|(k, _)| key > *k)
                && tw.batches.last().is_none_or(|b| key > b.last)
        };
        // Above everything the table and this transaction hold, the key cannot exist: skip the lookup
        // (the in-order bulk-load path).
        let fresh =
            latest.is_append(&key) && self.writes.tables.get(&base.shape.id).is_none_or(above_all);
        if !fresh && self.lookup(&latest, &key)?.is_some() {
            if self.isolation == Isolation::Serializable && self.lookup(base, &key)?.is_none() {
                // PostgreSQL: a conflicting key this transaction's snapshot cannot see is a serialization
                // failure, not a unique violation.
                return Err(Error::SerializationFailure {
                    reason: "read/write dependencies among transactions",
                });
            }
            return Err(Error::DuplicateKey {
                table: table.into(),
                key: base.shape.key_detail(&key),
            });
        }
        if let Some(r) = &self.reads {
            r.key(base.shape.id, &key);
        }
        self.check_unique(base, &latest, &key, &key, &row)?;
        let tw = self.writes_for(base);
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
        self.writable()?;
        let base = self.base(table)?;
        let shape = base.shape.clone();
        check_batch(&shape, batch)?;
        let fitted = shape.fit_batch(batch)?;
        let batch = fitted.as_ref().unwrap_or(batch);
        crate::enum_type::check_batch(&shape, batch, &self.snapshot.types)?;
        self.check_batch_constraints(&base, batch)?;
        self.lock_table(&base, crate::locks::LockMode::KeyShare)?;
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
        let saved = self.writes.tables.get(&shape.id).cloned();
        if above && strictly_increasing(key_col, shape.key_kind) {
            let unique = base.indexes.iter().any(|i| i.def.unique);
            self.writes_for(&base).batches.push(KeyedBatch {
                first,
                last,
                batch: physical.clone(),
            });
            if unique && let Err(e) = self.check_batch_unique(&base, &physical) {
                self.overlays.remove(&shape.id);
                match saved {
                    Some(tw) => self.writes.tables.insert(shape.id, tw),
                    None => self.writes.tables.remove(&shape.id),
                };
                return Err(e);
            }
            return Ok(());
        }
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
        self.writable()?;
        let base = self.base(table)?;
        if base.shape.has_rowid() {
            return self.insert(table, row);
        }
        let row = Self::physical(&base.shape, row, None)?;
        self.check_enums(&base.shape, &row)?;
        self.check_row_constraints(&base, &row)?;
        let key = base.shape.key_of(&row);
        self.lock_for_write(&base, &key, LockMode::Update, Write::Blind)?;
        let latest = self.latest(&base)?;
        self.check_unique(&base, &latest, &key, &key, &row)?;
        self.writes_for(&base)
            .map
            .insert(key, PendingOp::Upsert(row));
        Ok(())
    }

    /// Replaces the row under `key` with `row` (whose key may differ). Returns whether a row was there.
    /// The row must be computed from the newest version of the row: lock it first with `lock_row` when a
    /// concurrent commit may have changed it (else READ COMMITTED answers `RowChanged`).
    pub fn update(&mut self, table: &str, key: &Key, row: Row) -> Result<bool> {
        self.writable()?;
        let base = self.base(table)?;
        base.shape.check_key(key)?;
        let rowid = if let (true, Key::Int(id)) = (base.shape.has_rowid(), key) {
            Some(*id)
        } else {
            None
        };
        let row = Self::physical(&base.shape, row, rowid)?;
        self.check_enums(&base.shape, &row)?;
        self.check_row_constraints(&base, &row)?;
        let new_key = base.shape.key_of(&row);
        let mode = if new_key == *key {
            LockMode::NoKeyUpdate
        } else {
            LockMode::Update
        };
        self.lock_for_write(&base, key, mode, Write::Computed)?;
        let latest = self.latest(&base)?;
        if self.lookup(&latest, key)?.is_none() {
            return Ok(false);
        }
        if new_key != *key {
            self.lock_for_write(&base, &new_key, LockMode::Update, Write::Insert)?;
            if self.lookup(&latest, &new_key)?.is_some() {
                return Err(Error::DuplicateKey {
                    table: table.into(),
                    key: base.shape.key_detail(&new_key),
                });
            }
            self.check_unique(&base, &latest, key, &new_key, &row)?;
            let tw = self.writes_for(&base);
            tw.map.insert(key.clone(), PendingOp::Delete);
            tw.map.insert(new_key, PendingOp::Upsert(row));
            return Ok(true);
        }
        self.check_unique(&base, &latest, key, key, &row)?;
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

    /// Deletes the row under `key` (its newest version). Returns whether a row was there.
    pub fn delete(&mut self, table: &str, key: &Key) -> Result<bool> {
        self.writable()?;
        let base = self.base(table)?;
        base.shape.check_key(key)?;
        self.lock_for_write(&base, key, LockMode::Update, Write::Blind)?;
        let latest = self.latest(&base)?;
        if self.lookup(&latest, key)?.is_none() {
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
        if let Some(r) = &self.reads {
            r.key(base.shape.id, key);
        }
        let row = self.lookup(&base, key)?;
        Ok(user_row(&base.shape, row))
    }

    /// The newest committed version of the row plus this transaction's writes: what a write to a locked row
    /// is computed from.
    pub fn get_latest(&self, table: &str, key: &Key) -> Result<Option<Row>> {
        let base = self.base(table)?;
        base.shape.check_key(key)?;
        if let Some(r) = &self.reads {
            r.key(base.shape.id, key);
        }
        let latest = self.latest(&base)?;
        let row = self.lookup(&latest, key)?;
        Ok(user_row(&base.shape, row))
    }

    /// A reader of the table that sees this transaction's writes (scans, multi-key reads).
    pub fn table(&mut self, name: &str) -> Result<TableReader> {
        let base = self.base(name)?;
        let id = base.shape.id;
        if let Some(o) = self.overlays.get(&id) {
            return Ok(self.reader(o.clone()));
        }
        let o = self.overlay(base);
        if self.writes.tables.contains_key(&id) {
            self.overlays.insert(id, o.clone());
        }
        Ok(self.reader(o))
    }

    /// Like `table`, over the newest committed version instead of the snapshot: READ COMMITTED re-checks a
    /// changed row against it.
    pub fn table_latest(&mut self, name: &str) -> Result<TableReader> {
        let base = self.base(name)?;
        let latest = self.latest(&base)?;
        let o = self.overlay(latest);
        Ok(self.reader(o))
    }

    fn reader(&self, version: Arc<TableVersion>) -> TableReader {
        TableReader {
            version,
            reads: self.reads.clone(),
        }
    }

    /// `base` with this transaction's writes laid over it.
    fn overlay(&self, base: Arc<TableVersion>) -> Arc<TableVersion> {
        let Some(tw) = self.writes.tables.get(&base.shape.id) else {
            return base;
        };
        let mut o = (*base).clone();
        // The index entries do not include this transaction's writes: its reads scan instead.
        for i in &mut o.indexes {
            i.complete = false;
        }
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
        Arc::new(o)
    }

    /// Whether the transaction has written anything.
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }

    /// Marks a savepoint; `rollback_to` returns the transaction to it.
    pub fn savepoint(&mut self) -> usize {
        self.savepoints.push(Savepoint {
            writes: self.writes.clone(),
            held: self.held.len(),
        });
        self.savepoints.len() - 1
    }

    /// Undoes every write made after savepoint `sp` and releases the locks taken after it; the savepoint
    /// stays (as PostgreSQL's does) and later ones go.
    pub fn rollback_to(&mut self, sp: usize) {
        let Some(s) = self.savepoints.get(sp) else {
            return;
        };
        self.writes = s.writes.clone();
        let from = s.held;
        self.savepoints.truncate(sp + 1);
        let released: Vec<Resource> = self.held.drain(from..).collect();
        for r in &released {
            self.held_set.remove(r);
            self.awaited.remove(r);
        }
        self.inner.locks.release_all(self.owner, &released);
        self.refresh_view();
    }

    /// Forgets savepoint `sp` and every later one, keeping their writes.
    pub fn release_savepoint(&mut self, sp: usize) {
        self.savepoints.truncate(sp);
    }

    /// What the committer must do once the outcome is known: release the locks, stop being validated.
    fn end(&mut self) -> TxnEnd {
        self.held_set.clear();
        self.awaited.clear();
        TxnEnd {
            owner: self.owner,
            held: std::mem::take(&mut self.held),
            serial_lsn: self.serial_lsn.take(),
            reads: self.reads.take().filter(|r| !r.is_empty()),
        }
    }

    /// Makes every write durable and visible atomically, or none of them.
    pub fn commit(mut self) -> Result<CommitInfo> {
        let writes = std::mem::take(&mut self.writes);
        let end = self.end();
        self.inner.commit_writes(writes, end)
    }

    /// Hands the transaction to the committer without blocking; `done` hears the outcome once it is durable
    /// (or refused). For async callers: send the result through a channel from `done`.
    pub fn commit_then(mut self, done: impl FnOnce(Result<CommitInfo>) + Send + 'static) {
        let writes = std::mem::take(&mut self.writes);
        let end = self.end();
        self.inner.submit(writes, end, Box::new(done))
    }

    /// Discards every write and releases every lock.
    pub fn rollback(self) {}
}

impl Drop for WriteTxn {
    fn drop(&mut self) {
        let end = self.end();
        end.finish(&self.inner);
    }
}

fn user_row(shape: &TableShape, mut row: Option<Row>) -> Option<Row> {
    if shape.has_rowid()
        && let Some(r) = row.as_mut()
    {
        r.pop();
    }
    row
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
