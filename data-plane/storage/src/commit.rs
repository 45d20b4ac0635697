//! Group commit. Committers queue their write sets; whoever takes the commit lock becomes the leader, validates
//! every queued transaction in order against the newest state, writes all accepted ones to the WAL in ONE redb
//! transaction (one fsync for the group), and only then publishes the new version and answers everyone.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_select::concat::concat_batches;
use parking_lot::Mutex;

use crate::chunk::Chunk;
use crate::chunk_file;
use crate::columnar::{row_at, rows_to_batch};
use crate::db::{CommitState, Inner, seal_tail};
use crate::error::{Error, Result};
use crate::store::{
    META_NEXT_FILE, META_NEXT_LSN, Manifest, StoreBatch, WalOp, WalRecord, WalTable, encode,
};
use crate::tail::Tail;
use crate::types::{Key, Row};
use crate::version::{DbVersion, DeltaEntry, TableVersion};

/// A buffered write on one key.
#[derive(Clone, Debug)]
pub(crate) enum PendingOp {
    /// Fails the commit if the key exists by then.
    Insert(Row),
    /// Writes whether or not the key exists.
    Upsert(Row),
    /// Writes only if the key still exists at commit (a concurrent delete wins).
    Update(Row),
    Delete,
}

/// One transaction's writes to one table.
#[derive(Clone, Debug, Default)]
pub(crate) struct TableWrites {
    pub name: String,
    pub epoch: u64,
    /// Inserts in increasing key order, each above every other key this transaction wrote: the bulk and
    /// tail-append fast path.
    pub appends: Vec<(Key, Row)>,
    /// Whole record batches (physical schema, keys strictly increasing) inserted by `insert_batch`, all
    /// below every key in `appends`: the bulk-load path, kept columnar end to end.
    pub batches: Vec<KeyedBatch>,
    /// Everything else, by key (overrides `appends` and `batches` for the same key).
    pub map: BTreeMap<Key, PendingOp>,
}

/// A batch with its first and last keys.
#[derive(Clone, Debug)]
pub(crate) struct KeyedBatch {
    pub first: Key,
    pub last: Key,
    pub batch: RecordBatch,
}

impl TableWrites {
    pub fn is_empty(&self) -> bool {
        self.appends.is_empty() && self.batches.is_empty() && self.map.is_empty()
    }
}

#[derive(Debug, Default)]
pub(crate) struct TxnWrites {
    pub tables: BTreeMap<u64, TableWrites>,
}

/// What a commit reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommitInfo {
    /// The commit's log sequence number (0 for a transaction that wrote nothing).
    pub lsn: u64,
}

/// Transactions waiting to be committed, and whether a leader is committing a group right now.
#[derive(Default)]
pub(crate) struct CommitQueue {
    pub waiting: Vec<Arc<Pending>>,
    pub leader_active: bool,
}

pub(crate) struct Pending {
    writes: Mutex<Option<TxnWrites>>,
    result: Mutex<Option<Result<CommitInfo>>>,
}

impl Inner {
    pub fn commit_writes(&self, writes: TxnWrites) -> Result<CommitInfo> {
        if writes.tables.values().all(TableWrites::is_empty) {
            return Ok(CommitInfo { lsn: 0 });
        }
        let me = Arc::new(Pending {
            writes: Mutex::new(Some(writes)),
            result: Mutex::new(None),
        });
        let mut q = self.queue.lock();
        q.waiting.push(me.clone());
        loop {
            if let Some(r) = me.result.lock().take() {
                return r;
            }
            if q.leader_active {
                // Followers wait here, not on the commit lock: a finished group wakes them all at once.
                self.queue_cv.wait(&mut q);
                continue;
            }
            q.leader_active = true;
            let group = std::mem::take(&mut q.waiting);
            drop(q);
            {
                let mut state = self.commit.lock();
                self.commit_group(&mut state, group);
                self.seal_long_tails(&mut state);
            }
            self.maybe_wake_retrain();
            q = self.queue.lock();
            q.leader_active = false;
            self.queue_cv.notify_all();
        }
    }

    fn commit_group(&self, state: &mut CommitState, group: Vec<Arc<Pending>>) {
        let mut head = (**self.current.load()).clone();
        let mut batch = StoreBatch::default();
        let mut accepted = Vec::with_capacity(group.len());
        let mut undo = Undo::default();
        let first_lsn = state.next_lsn;
        for p in group {
            let writes = p
                .writes
                .lock()
                .take()
                .expect("each pending transaction is committed once");
            let lsn = state.next_lsn;
            match self.apply_txn(&mut head, writes, lsn, state, &mut batch, &mut undo) {
                Ok(record) => {
                    if let Some(r) = record {
                        batch.wal.push((lsn, encode(&r)));
                    }
                    state.next_lsn += 1;
                    accepted.push((p, lsn));
                }
                Err(e) => *p.result.lock() = Some(Err(e)),
            }
        }
        if accepted.is_empty() {
            return;
        }
        batch.meta.push((META_NEXT_LSN, state.next_lsn));
        batch.meta.push((META_NEXT_FILE, state.next_file_id));
        let written = if undo.files.is_empty() {
            Ok(())
        } else {
            chunk_file::sync_dir(&self.chunk_dir)
        };
        match written.and_then(|()| self.store.commit(batch)) {
            Ok(()) => {
                head.lsn = state.next_lsn - 1;
                self.current.store(Arc::new(head));
                for (p, lsn) in accepted {
                    *p.result.lock() = Some(Ok(CommitInfo { lsn }));
                }
            }
            Err(e) => {
                // Nothing was published: undo tail appends nobody could see, drop files nobody names.
                tracing::error!("commit failed: {e}");
                for (tail, len) in undo.tails.values() {
                    tail.truncate(*len);
                }
                for f in undo.files {
                    let _ = std::fs::remove_file(f);
                }
                state.next_lsn = first_lsn;
                for (p, _) in accepted {
                    *p.result.lock() = Some(Err(e.duplicate()));
                }
            }
        }
    }

    /// Validates one transaction against `head` and applies it there. On error `head` is unchanged.
    fn apply_txn(
        &self,
        head: &mut DbVersion,
        writes: TxnWrites,
        lsn: u64,
        state: &mut CommitState,
        batch: &mut StoreBatch,
        undo: &mut Undo,
    ) -> Result<Option<WalRecord>> {
        // Validate everything first, so a failing transaction leaves no trace.
        let mut plans = Vec::with_capacity(writes.tables.len());
        for (id, tw) in writes.tables {
            let tv = head
                .tables
                .get(&id)
                .filter(|t| t.epoch == tw.epoch)
                .ok_or_else(|| Error::Conflict(tw.name.clone()))?;
            let TableWrites {
                name,
                appends,
                batches,
                map,
                ..
            } = tw;
            // The map overrides an append of the same key (written later in the transaction).
            let mut appends: Vec<(Key, Row)> = appends
                .into_iter()
                .filter(|(k, _)| !map.contains_key(k))
                .collect();
            let batch_rows: usize = batches.iter().map(|b| b.batch.num_rows()).sum();
            let fresh = batches
                .first()
                .map_or_else(|| appends.first().map(|(k, _)| k), |b| Some(&b.first));
            let fresh = fresh.is_some_and(|k| tv.is_append(k));
            let mut bulk = Vec::new();
            if fresh && batch_rows + appends.len() >= self.opts.bulk_rows {
                // Everything this transaction appends goes straight to chunk files.
                bulk = batches.into_iter().map(|b| b.batch).collect();
                if !appends.is_empty() {
                    let rows = std::mem::take(&mut appends);
                    bulk.push(rows_to_batch(
                        &tv.shape.physical,
                        rows.iter().map(|(_, r)| r.as_slice()),
                    ));
                }
            } else if !batches.is_empty() {
                let mut rows = Vec::with_capacity(batch_rows + appends.len());
                for b in &batches {
                    for i in 0..b.batch.num_rows() {
                        let r = row_at(&b.batch, i);
                        rows.push((tv.shape.key_of(&r), r));
                    }
                }
                rows.retain(|(k, _)| !map.contains_key(k));
                rows.append(&mut appends);
                appends = rows;
            }
            if bulk.is_empty() {
                for (k, _) in &appends {
                    if !tv.is_append(k) && tv.contains(k)? {
                        return Err(Error::DuplicateKey {
                            table: name,
                            key: k.to_string(),
                        });
                    }
                }
            }
            for (k, op) in &map {
                // Also loads the chunks the map touches, so applying below cannot fail on I/O.
                if tv.contains(k)? && matches!(op, PendingOp::Insert(_)) {
                    return Err(Error::DuplicateKey {
                        table: name,
                        key: k.to_string(),
                    });
                }
            }
            plans.push((id, bulk, appends, map));
        }

        let before = head.clone();
        let mut record = WalRecord { tables: Vec::new() };
        let applied = (|| -> Result<()> {
            for (id, bulk, appends, map) in plans {
                let mut tv = (**head.tables.get(&id).expect("validated above")).clone();
                undo.tails
                    .entry(id)
                    .or_insert_with(|| (tv.tail.clone(), tv.tail_len));
                let mut wal_ops = Vec::new();
                if !bulk.is_empty() {
                    self.bulk_append(&mut tv, bulk, state, batch, undo)?;
                }
                for (k, row) in appends {
                    // An append that others overtook since the transaction began is an ordinary delta write.
                    wal_ops.push(WalOp::Put(row.clone()));
                    apply_put(&mut tv, k, Arc::new(row), false, lsn);
                }
                // Existence is judged after this transaction's own appends: a delete of a row it inserted
                // must remove it.
                for (k, op) in map {
                    let exists = tv.contains(&k)?;
                    match op {
                        PendingOp::Insert(row) | PendingOp::Upsert(row) => {
                            wal_ops.push(WalOp::Put(row.clone()));
                            apply_put(&mut tv, k, Arc::new(row), exists, lsn);
                        }
                        PendingOp::Update(row) if exists => {
                            wal_ops.push(WalOp::Put(row.clone()));
                            apply_put(&mut tv, k, Arc::new(row), exists, lsn);
                        }
                        PendingOp::Delete if exists => {
                            wal_ops.push(WalOp::Delete(k.clone()));
                            apply_delete(&mut tv, k, exists, lsn);
                        }
                        PendingOp::Update(_) | PendingOp::Delete => {}
                    }
                }
                if !wal_ops.is_empty() {
                    record.tables.push(WalTable {
                        table_id: id,
                        ops: wal_ops,
                    });
                }
                head.tables.insert(id, Arc::new(tv));
            }
            Ok(())
        })();
        if let Err(e) = applied {
            // Only reachable through I/O on a bulk chunk file: put head and every tail back as they were.
            for (id, t) in before.tables.iter() {
                if let Some((tail, _)) = undo.tails.get(id)
                    && Arc::ptr_eq(tail, &t.tail)
                {
                    tail.truncate(t.tail_len);
                }
            }
            *head = before;
            return Err(e);
        }
        Ok((!record.tables.is_empty()).then_some(record))
    }

    /// Writes a large in-order append straight into chunk files (fitted now, fsynced before the manifest names
    /// them) instead of logging every row.
    fn bulk_append(
        &self,
        tv: &mut TableVersion,
        batches: Vec<RecordBatch>,
        state: &mut CommitState,
        batch: &mut StoreBatch,
        undo: &mut Undo,
    ) -> Result<()> {
        if tv.tail_len > 0 {
            *tv = seal_tail(tv, self.opts.epsilon);
        }
        let all = concat_batches(&tv.shape.physical, &batches)
            .map_err(|e| Error::Store(e.to_string()))?;
        drop(batches);
        let mut chunks = (*tv.chunks).clone();
        let n = all.num_rows();
        let mut at = 0;
        while at < n {
            let len = self.opts.chunk_rows.min(n - at);
            let file_id = state.next_file_id;
            state.next_file_id += 1;
            let chunk = Chunk::write_new(
                &self.chunk_dir,
                file_id,
                &tv.shape,
                all.slice(at, len),
                self.opts.epsilon,
                true,
            )?;
            undo.files.push(self.chunk_path(file_id));
            tv.max_key = Some(chunk.meta.max_key.clone());
            chunks.push(chunk);
            at += len;
        }
        tv.live_rows += n as u64;
        tv.chunks = Arc::new(chunks);
        let manifest = Manifest::of(tv);
        batch.manifests.retain(|(id, _)| *id != tv.shape.id);
        batch.manifests.push((tv.shape.id, Some(manifest)));
        Ok(())
    }

    fn maybe_wake_retrain(&self) {
        if !self.opts.background {
            return;
        }
        let v = self.current.load();
        if v.tables
            .values()
            .any(|t| crate::retrain::wanted(t, &self.opts.retrain).is_some())
        {
            self.notify_worker();
        }
    }
}

/// What to roll back if the store commit fails.
#[derive(Default)]
struct Undo {
    tails: BTreeMap<u64, (Arc<Tail>, usize)>,
    files: Vec<std::path::PathBuf>,
}

/// Writes a full row image under `key`: appended to the tail past the max key, else into the delta.
pub(crate) fn apply_put(tv: &mut TableVersion, key: Key, row: Arc<Row>, exists: bool, lsn: u64) {
    if tv.is_append(&key) {
        tv.tail.push(key.clone(), row);
        tv.tail_len += 1;
        tv.max_key = Some(key);
    } else if let Some(prev) = tv.delta.insert(
        key,
        DeltaEntry {
            lsn,
            row: Some(row),
        },
    ) && prev.row.is_none()
    {
        tv.tombstones -= 1;
    }
    if !exists {
        tv.live_rows += 1;
    }
}

/// Records a deletion as a tombstone in the delta.
pub(crate) fn apply_delete(tv: &mut TableVersion, key: Key, exists: bool, lsn: u64) {
    let prev = tv.delta.insert(key, DeltaEntry { lsn, row: None });
    if prev.is_none_or(|p| p.row.is_some()) {
        tv.tombstones += 1;
    }
    if exists {
        tv.live_rows -= 1;
    }
}
