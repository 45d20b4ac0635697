//! `Database`: opening (with recovery), DDL, snapshots, and the shared state behind them.

use std::collections::HashSet;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;

use arc_swap::ArcSwap;
use parking_lot::{Condvar, Mutex};

use crate::chunk::Chunk;
use crate::chunk_file;
use crate::commit::{CommitQueue, apply_delete, apply_put};
use crate::error::{Error, Result};
use crate::isolation::SerialState;
use crate::locks::LockTable;
use crate::options::Options;
use crate::reader::{Snapshot, TableReader};
use crate::shared::{CommitState, Inner};
use crate::stats::TableStats;
use crate::store::{META_NEXT_FILE, META_NEXT_LSN, META_NEXT_TABLE, Store, WalOp};
use crate::txn::{TxnOptions, WriteTxn};
use crate::types::{Key, TableDef, TableShape};
use crate::version::{DbVersion, TableVersion};
use crate::wal_log::WalLog;

/// An open database directory. Dropping it stops the background task and releases the directory.
pub struct Database {
    pub(crate) inner: Arc<Inner>,
    worker: Option<JoinHandle<()>>,
    committer: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("dir", &self.inner.dir)
            .finish_non_exhaustive()
    }
}

impl Database {
    /// `nextval`: the sequence's next value (not transactional; durable before it is returned).
    pub fn nextval(&self, def: &crate::SequenceDef) -> Result<i64> {
        let store = &self.inner.store;
        self.inner
            .sequence_values
            .next(def, || store.sequence_value(def.id), &|id, v, called| {
                store.log_sequence_value(id, v, called)
            })
    }

    /// `setval`: the sequence's value from now on (`called`: the next `nextval` returns the one after).
    pub fn setval(&self, def: &crate::SequenceDef, value: i64, called: bool) -> Result<()> {
        let store = &self.inner.store;
        self.inner
            .sequence_values
            .set(def, value, called, &|id, v, c| {
                store.log_sequence_value(id, v, c)
            })
    }

    /// The last value `nextval` returned (`None` before the first): pg_sequences.last_value.
    pub fn sequence_last(&self, def: &crate::SequenceDef) -> Result<Option<i64>> {
        let (last, called) = self.sequence_state(def)?;
        Ok(called.then_some(last))
    }

    /// (last_value, is_called): the row a SELECT from the sequence returns.
    pub fn sequence_state(&self, def: &crate::SequenceDef) -> Result<(i64, bool)> {
        let store = &self.inner.store;
        self.inner
            .sequence_values
            .current(def, || store.sequence_value(def.id))
    }

    /// Opens (or creates) the database in `dir`, replaying the WAL after the manifest.
    pub fn open(dir: impl AsRef<Path>, opts: Options) -> Result<Database> {
        Database::open_with_hook(dir, opts, Box::new(crate::check::NoHook))
    }

    /// `open` with the SQL layer's evaluator of CHECK constraints and partial indexes' predicates, which
    /// recovery needs to rebuild partial indexes.
    pub fn open_with_hook(
        dir: impl AsRef<Path>,
        opts: Options,
        hook: Box<dyn crate::CheckHook>,
    ) -> Result<Database> {
        let dir = dir.as_ref().to_path_buf();
        let chunk_dir = dir.join("chunks");
        std::fs::create_dir_all(&chunk_dir).map_err(|e| Error::io(&chunk_dir, e))?;
        let lock_path = dir.join("LOCK");
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| Error::io(&lock_path, e))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(Error::AlreadyOpen(dir)),
            Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(&lock_path, e)),
        }
        let meta_path = dir.join("meta.redb");
        let marker = dir.join("OMENDB_VERSION");
        let meta_len = std::fs::metadata(&meta_path).map(|m| m.len()).unwrap_or(0);
        if marker.exists() && meta_len == 0 {
            // redb would happily create a fresh, empty store here and every table would silently vanish.
            return Err(Error::corrupt(
                &meta_path,
                "metadata store is missing or empty in an initialised directory",
            ));
        }
        let store = match Store::open(&meta_path) {
            // A first start that died while redb was creating the file leaves it without a valid header,
            // and every later start would fail on it. With no marker (written before the first commit)
            // and no chunk file, nothing was ever stored in it: it is made again.
            Err(_) if !marker.exists() && never_written(&chunk_dir)? => {
                std::fs::remove_file(&meta_path).map_err(|e| Error::io(&meta_path, e))?;
                Store::open(&meta_path)?
            }
            r => r?,
        };
        if !marker.exists() {
            std::fs::write(&marker, "1\n").map_err(|e| Error::io(&marker, e))?;
            chunk_file::sync_dir(&dir)?;
        }
        let cache = crate::page_cache::PageCache::new(opts.chunk_cache_bytes);
        let (version, counters, log) =
            recover(&store, &dir, &chunk_dir, &opts, &cache, hook.as_ref())?;
        let version = Arc::new(version);
        let state = CommitState {
            next_lsn: counters.next_lsn,
            next_file_id: counters.next_file_id,
            next_table_id: counters.next_table_id,
            head: version.clone(),
        };
        let flush = crate::commit::Flush::new(log, state.next_lsn - 1);
        let table_ids = state.next_table_id;
        let inner = Arc::new(Inner {
            dir,
            chunk_dir,
            opts,
            cache,
            store,
            current: ArcSwap::new(version),
            commit: Mutex::new(state),
            flush,
            queue: Mutex::new(CommitQueue::default()),
            queue_cv: Condvar::new(),
            retrain_lock: Mutex::new(()),
            shutdown: AtomicBool::new(false),
            wake: (Mutex::new(false), Condvar::new()),
            _lock: lock,
            locks: Arc::new(LockTable::default()),
            serial: Mutex::new(SerialState::default()),
            next_id: AtomicU64::new(1),
            table_ids: AtomicU64::new(table_ids),
            sequence_values: Default::default(),
            check_hook: hook,
        });
        // Tails longer than the seal threshold after replay become chunks before anyone reads.
        {
            let mut state = inner.commit.lock();
            let mut v = (*state.head).clone();
            inner.seal_long_tails(&mut v);
            let v = Arc::new(v);
            state.head = v.clone();
            inner.current.store(v);
        }
        let worker = inner
            .opts
            .background
            .then(|| {
                let w = inner.clone();
                std::thread::Builder::new()
                    .name("omendb-retrain".into())
                    .spawn(move || crate::retrain::worker(w))
            })
            .transpose()
            .map_err(|e| Error::io("retrain thread", e))?;
        let c = inner.clone();
        let committer = std::thread::Builder::new()
            .name("omendb-commit".into())
            .spawn(move || crate::commit::committer(c))
            .map_err(|e| Error::io("commit thread", e))?;
        Ok(Database {
            inner,
            worker,
            committer: Some(committer),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    pub fn options(&self) -> &Options {
        &self.inner.opts
    }

    /// A consistent read-only view of every table.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot::new(self.inner.current.load_full())
    }

    /// Shorthand for `snapshot().table(name)`.
    pub fn table(&self, name: &str) -> Result<TableReader> {
        self.snapshot().table(name)
    }

    /// Starts a write transaction reading from the current snapshot.
    pub fn begin(&self) -> WriteTxn {
        WriteTxn::new(self.inner.clone(), TxnOptions::default())
    }

    /// Starts a transaction with an isolation level, access mode and session.
    pub fn begin_with(&self, opts: TxnOptions) -> WriteTxn {
        WriteTxn::new(self.inner.clone(), opts)
    }

    /// A fresh session id: the owner of session-level advisory locks, and the node of the wait-for graph.
    pub fn new_session(&self) -> u64 {
        self.inner.next_id()
    }

    /// The row and advisory lock table (session-level advisory locks are taken here directly).
    pub fn locks(&self) -> &Arc<LockTable> {
        &self.inner.locks
    }

    pub fn table_names(&self) -> Vec<String> {
        self.inner.current.load().names.keys().cloned().collect()
    }

    /// `CREATE TABLE` in a transaction of its own.
    pub fn create_table(&self, def: TableDef) -> Result<()> {
        let mut t = self.begin();
        t.create_table(def)?;
        t.commit().map(drop)
    }

    /// `DROP TABLE` in a transaction of its own (waits for the table's writers).
    pub fn drop_table(&self, name: &str) -> Result<()> {
        let mut t = self.begin();
        wait_through(|| t.drop_table(name))?;
        t.commit().map(drop)
    }

    /// `TRUNCATE` in a transaction of its own (waits for the table's writers).
    pub fn truncate_table(&self, name: &str) -> Result<()> {
        let mut t = self.begin();
        wait_through(|| t.truncate_table(name))?;
        t.commit().map(drop)
    }

    /// Merges the table's delta, tombstones and in-memory chunks into new chunk files with new models, now.
    pub fn retrain(&self, name: &str) -> Result<crate::retrain::RetrainReport> {
        let id = *self
            .inner
            .current
            .load()
            .names
            .get(name)
            .ok_or_else(|| Error::UnknownTable(name.into()))?;
        crate::retrain::retrain_table(&self.inner, id, crate::retrain::Mode::Full)
    }

    /// The chunk cache's budget, contents and counters.
    pub fn cache_report(&self) -> crate::CacheReport {
        self.inner.cache.report()
    }

    pub fn stats(&self, name: &str) -> Result<TableStats> {
        Ok(TableStats::of(self.inner.current.load().table(name)?))
    }

    pub fn all_stats(&self) -> Vec<TableStats> {
        self.inner
            .current
            .load()
            .tables
            .values()
            .map(|t| TableStats::of(t))
            .collect()
    }

    /// Stops the background task; the directory is released when the last transaction handle is gone.
    pub fn close(self) {}
}

impl Drop for Database {
    fn drop(&mut self) {
        self.inner.shutdown.store(true, Ordering::Release);
        self.inner.notify_worker();
        self.inner.stop_committer();
        for t in [self.worker.take(), self.committer.take()]
            .into_iter()
            .flatten()
        {
            let _ = t.join();
        }
    }
}

/// Runs `op` until it no longer meets a lock, blocking the thread while it waits (for callers without a
/// runtime of their own).
fn wait_through<T>(mut op: impl FnMut() -> Result<T>) -> Result<T> {
    loop {
        match op() {
            Err(Error::LockWait { wait, .. }) => {
                while !wait.block(std::time::Duration::from_secs(3600)) {}
            }
            r => return r,
        }
    }
}

/// Rebuilds the in-memory state: catalog and manifests from redb, then the WAL (redb's and the commit log's,
/// merged by LSN) replayed on top.
/// Whether the chunk directory holds no chunk file.
fn never_written(chunk_dir: &Path) -> Result<bool> {
    let mut entries = std::fs::read_dir(chunk_dir).map_err(|e| Error::io(chunk_dir, e))?;
    Ok(entries.next().is_none())
}

/// What recovery hands to the commit state besides the version.
struct Counters {
    next_lsn: u64,
    next_file_id: u64,
    next_table_id: u64,
}

fn recover(
    store: &Store,
    dir: &Path,
    chunk_dir: &Path,
    opts: &Options,
    cache: &Arc<crate::page_cache::PageCache>,
    hook: &dyn crate::CheckHook,
) -> Result<(DbVersion, Counters, WalLog)> {
    let mut loaded = store.load()?;
    let meta = |k: &str| loaded.meta.get(k).copied();
    let (stored_next, next_file_id, next_table_id) = (
        meta(META_NEXT_LSN).unwrap_or(1),
        meta(META_NEXT_FILE).unwrap_or(1),
        meta(META_NEXT_TABLE).unwrap_or(1),
    );
    // Records every table's checkpoint covers are only checked, not decoded: reopening after a long run
    // must not parse megabytes of commits that are already in chunk files.
    let covered = loaded
        .catalog
        .iter()
        .map(|c| loaded.manifests.get(&c.id).map_or(0, |m| m.checkpoint_lsn))
        .min()
        .unwrap_or(u64::MAX);
    let (log, logged) = WalLog::open(
        &dir.join("wal"),
        stored_next,
        opts.wal_segment_bytes,
        covered,
    )?;
    if !logged.is_empty() {
        loaded.wal.extend(logged);
        loaded.wal.sort_by_key(|(lsn, _)| *lsn);
    }
    let last_wal = loaded.wal.last().map_or(0, |(l, _)| *l).max(log.newest());
    let mut state = Counters {
        next_lsn: stored_next.max(last_wal + 1),
        next_file_id,
        next_table_id,
    };
    let mut version = DbVersion {
        lsn: state.next_lsn - 1,
        tables: imbl::OrdMap::new(),
        names: imbl::OrdMap::new(),
        schemas: imbl::OrdMap::new(),
        comments: imbl::OrdMap::new(),
        sequences: imbl::OrdMap::new(),
        views: imbl::OrdMap::new(),
        types: imbl::OrdMap::new(),
    };
    for def in &loaded.types {
        version.types.insert(def.id, Arc::new(def.clone()));
        state.next_table_id = state.next_table_id.max(def.id + 1);
    }
    for def in &loaded.views {
        version
            .views
            .insert(def.name.clone(), Arc::new(def.clone()));
        state.next_table_id = state.next_table_id.max(def.id + 1);
    }
    for def in &loaded.sequences {
        version
            .sequences
            .insert(def.name.clone(), Arc::new(def.clone()));
        state.next_table_id = state.next_table_id.max(def.id + 1);
    }
    for (key, text) in &loaded.comments {
        version.comments.insert(*key, text.clone());
    }
    for (name, id) in &loaded.schemas {
        version.schemas.insert(name.clone(), *id);
        state.next_table_id = state.next_table_id.max(id + 1);
    }
    let mut live_files = HashSet::new();
    for entry in &loaded.catalog {
        let shape = Arc::new(TableShape::new(entry.id, entry.def.clone())?);
        let manifest = loaded.manifests.get(&entry.id).cloned().unwrap_or_default();
        let mut tv = TableVersion::empty(shape.clone(), opts.epsilon, manifest.checkpoint_lsn);
        let mut chunks = Vec::with_capacity(manifest.chunks.len());
        for m in manifest.chunks {
            let id = m
                .file_id
                .ok_or_else(|| Error::corrupt(store.path(), "manifest names an unsaved chunk"))?;
            let path = chunk_file::path_for(chunk_dir, id);
            chunk_file::verify_footer(&path, entry.id, m.rows)?;
            live_files.insert(id);
            tv.live_rows += m.rows;
            tv.max_key = Some(m.max_key.clone());
            chunks.push(Chunk::file(m, shape.clone(), path, cache));
        }
        tv.chunks = Arc::new(chunks);
        state.next_table_id = state.next_table_id.max(entry.id + 1);
        // A checkpoint may name LSNs whose log segments are gone: never hand those out again.
        state.next_lsn = state.next_lsn.max(tv.checkpoint_lsn + 1);
        version.names.insert(entry.def.name.clone(), entry.id);
        version.tables.insert(entry.id, Arc::new(tv));
    }
    version.lsn = state.next_lsn - 1;
    remove_orphans(chunk_dir, &live_files, &mut state)?;

    for (lsn, record) in &loaded.wal {
        for t in &record.tables {
            let Some(tv) = version.tables.get(&t.table_id) else {
                continue;
            };
            if *lsn <= tv.checkpoint_lsn {
                continue;
            }
            let mut tv = (**tv).clone();
            for op in &t.ops {
                match op {
                    WalOp::Put(row) => {
                        // Logged before ALTER TABLE added columns: it reads as it did then.
                        let row = tv.shape.widen_row(row.clone());
                        let key = tv.shape.key_of(&row);
                        let exists = tv.contains(&key)?;
                        apply_put(&mut tv, key, Arc::new(row), exists, *lsn)?;
                    }
                    WalOp::Delete(key) => {
                        let exists = tv.contains(key)?;
                        apply_delete(&mut tv, key.clone(), exists, *lsn)?;
                    }
                }
            }
            version.tables.insert(t.table_id, Arc::new(tv));
        }
    }
    let next = &mut state.next_table_id;
    attach(
        &mut version,
        loaded.foreign_keys,
        next,
        |f| f.id,
        |tv, f| {
            tv.foreign_keys.push(Arc::new(f));
            Ok(())
        },
    )?;
    attach(
        &mut version,
        loaded.checks,
        next,
        |c| c.id,
        |tv, c| {
            tv.checks.push(Arc::new(c));
            Ok(())
        },
    )?;
    // Index entries are rebuilt from the recovered rows (only definitions are stored).
    attach(
        &mut version,
        loaded.indexes,
        next,
        |d| d.id,
        |tv, d| {
            let empty = crate::index::SecondaryIndex::empty(Arc::new(d), &tv.shape, hook)?;
            let index = crate::index::SecondaryIndex::build(empty, tv, |_| false)?;
            tv.indexes.push(index);
            Ok(())
        },
    )?;
    for tv in version.tables.values() {
        if let (true, Some(Key::Int(max))) = (tv.shape.has_rowid(), &tv.max_key) {
            tv.shape.next_rowid.store(max + 1, Ordering::Relaxed);
        }
    }
    Ok((version, state, log))
}

/// Gives each table its stored list (foreign keys, checks, indexes), keeping ids handed out past theirs.
fn attach<T>(
    version: &mut DbVersion,
    lists: Vec<(u64, Vec<T>)>,
    next_id: &mut u64,
    id_of: impl Fn(&T) -> u64,
    mut add: impl FnMut(&mut TableVersion, T) -> Result<()>,
) -> Result<()> {
    for (table, items) in lists {
        let Some(tv) = version.tables.get(&table) else {
            continue;
        };
        let mut tv = (**tv).clone();
        for item in items {
            *next_id = (*next_id).max(id_of(&item) + 1);
            add(&mut tv, item)?;
        }
        version.tables.insert(table, Arc::new(tv));
    }
    Ok(())
}

/// Deletes chunk files no manifest names (written before a crash, or replaced before one).
fn remove_orphans(chunk_dir: &Path, live: &HashSet<u64>, state: &mut Counters) -> Result<()> {
    let entries = std::fs::read_dir(chunk_dir).map_err(|e| Error::io(chunk_dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(chunk_dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let id = chunk_file::id_from_name(&name);
        if let Some(id) = id {
            state.next_file_id = state.next_file_id.max(id + 1);
        }
        if id.is_none_or(|id| !live.contains(&id))
            && (name.ends_with(".chunk") || name.ends_with(".tmp"))
        {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    Ok(())
}
