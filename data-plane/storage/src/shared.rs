//! The state every part of the engine shares: `Inner` (one per open database) and the commit leader's
//! counters. `db` (open, DDL), `commit`, `retrain` and `txn` all depend on this module and not on each other,
//! so the engine's dependency picture is a tree.

use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64};

use arc_swap::ArcSwap;
use parking_lot::{Condvar, Mutex};

use crate::chunk::Chunk;
use crate::chunk_file;
use crate::commit::{CommitQueue, Flush};
use crate::isolation::SerialState;
use crate::locks::LockTable;
use crate::options::Options;
use crate::store::Store;
use crate::version::{DbVersion, TableVersion};

/// Counters that only the commit leader (holder of `Inner::commit`) changes.
pub(crate) struct CommitState {
    pub next_lsn: u64,
    pub next_file_id: u64,
    pub next_table_id: u64,
    /// The newest version applied, which the next group builds on: `current` once everything staged is
    /// published.
    pub head: Arc<DbVersion>,
}

pub(crate) struct Inner {
    pub dir: PathBuf,
    pub chunk_dir: PathBuf,
    pub opts: Options,
    /// Chunk file pages in memory, under `opts.chunk_cache_bytes`.
    pub cache: Arc<crate::page_cache::PageCache>,
    pub store: Store,
    pub current: ArcSwap<DbVersion>,
    /// The commit leader's lock: whoever holds it writes the store and publishes versions.
    pub commit: Mutex<CommitState>,
    /// Staged groups on their way to the commit log.
    pub flush: Flush,
    pub queue: Mutex<CommitQueue>,
    pub queue_cv: Condvar,
    /// One retrain at a time (background or explicit).
    pub retrain_lock: Mutex<()>,
    pub shutdown: AtomicBool,
    pub wake: (Mutex<bool>, Condvar),
    pub _lock: File,
    /// Row and advisory locks.
    pub locks: Arc<LockTable>,
    /// Serializable transactions in flight and the writes they must be validated against.
    pub serial: Mutex<SerialState>,
    /// Session and transaction ids (one counter: an id never names both).
    pub next_id: AtomicU64,
    /// Table ids, handed out when a transaction creates a table (one that rolls back leaves a gap).
    pub table_ids: AtomicU64,
    /// Sequence values (not transactional).
    pub sequence_values: crate::sequence::Values,
    /// Evaluates CHECK constraints (installed by the SQL layer).
    pub check_hook: Box<dyn crate::check::CheckHook>,
}

impl Inner {
    pub fn next_id(&self) -> u64 {
        self.next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    pub fn notify_worker(&self) {
        let (m, c) = &self.wake;
        *m.lock() = true;
        c.notify_one();
    }

    pub fn chunk_path(&self, id: u64) -> PathBuf {
        chunk_file::path_for(&self.chunk_dir, id)
    }

    /// Publishes a new version of one table (caller holds the commit lock and has drained the staged
    /// groups, so `state.head` is `current`).
    pub fn publish_table(&self, state: &mut CommitState, tv: TableVersion) {
        let mut v = (*state.head).clone();
        v.tables.insert(tv.shape.id, Arc::new(tv));
        let v = Arc::new(v);
        state.head = v.clone();
        self.current.store(v);
    }

    /// Seals tails that reached the threshold into in-memory chunks.
    pub fn seal_long_tails(&self, v: &mut DbVersion) {
        let long: Vec<u64> = v
            .tables
            .values()
            .filter(|tv| tv.tail_len >= self.opts.tail_seal_rows)
            .map(|tv| tv.shape.id)
            .collect();
        for id in long {
            let sealed = seal_tail(&v.tables[&id], self.opts.epsilon);
            v.tables.insert(id, Arc::new(sealed));
        }
    }
}

/// Moves the first `tail_len` tail rows into an immutable in-memory chunk and starts an empty tail.
pub(crate) fn seal_tail(tv: &TableVersion, epsilon: usize) -> TableVersion {
    let mut next = tv.clone();
    if tv.tail_len == 0 {
        return next;
    }
    let chunk = Chunk::memory(tv.tail.seal(tv.tail_len), tv.shape.clone());
    let mut chunks = (*tv.chunks).clone();
    chunks.push(chunk);
    next.chunks = Arc::new(chunks);
    next.tail = crate::tail::Tail::new(tv.shape.clone(), epsilon);
    next.tail_len = 0;
    next
}
