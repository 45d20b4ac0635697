//! Group commit. Transactions queue their write sets (`queue.rs` decides who commits a group); the leader
//! validates every queued transaction in order against the newest state and applies the accepted ones. A
//! group that only writes rows is staged for the commit log, where one append and one fsync make every staged
//! group durable (`flush.rs`); a group that also names new chunk files or changes the catalog commits through
//! redb. Only then is the new version published and everyone answered.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_select::concat::concat_batches;

use crate::chunk::Chunk;
use crate::chunk_file;
use crate::columnar::{row_at, rows_to_batch};
use crate::error::{Error, Result};
use crate::isolation::{ReadSet, TableWritten, WriteSummary};
use crate::locks::{Owner, Resource};
use crate::shared::{CommitState, Inner, seal_tail};
use crate::store::META_NEXT_TABLE;
use crate::store::{
    META_NEXT_FILE, META_NEXT_LSN, Manifest, StoreBatch, WalOp, WalRecord, WalTable, encode,
};
use crate::tail::Tail;
use crate::types::{Key, Row, TableShape};
use crate::version::{DbVersion, DeltaEntry, TableVersion};

mod catalog;
mod flush;
mod queue;

pub(crate) use flush::{Flush, Staged, Written};
pub(crate) use queue::{Answers, CommitQueue, Pending, Waiter, committer};

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
    /// The values this transaction wrote into the table's UNIQUE indexes, by (index id, values): which key
    /// last took them (`txn/unique.rs`; an entry may be stale, so it is re-judged against the row).
    pub unique: BTreeMap<(u64, Box<[crate::index::SortValue]>), Key>,
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

#[derive(Clone, Debug, Default)]
pub(crate) struct TxnWrites {
    pub tables: BTreeMap<u64, TableWrites>,
    /// CREATE, DROP and TRUNCATE, in order; applied before the rows.
    pub ddl: Vec<Ddl>,
}

impl TxnWrites {
    pub fn is_empty(&self) -> bool {
        self.ddl.is_empty() && self.tables.values().all(TableWrites::is_empty)
    }
}

/// A transaction's DDL.
#[derive(Clone, Debug)]
pub(crate) enum Ddl {
    Create(Arc<TableShape>),
    /// `epoch`: the version of the table the transaction saw (a concurrent TRUNCATE conflicts).
    Drop {
        id: u64,
        epoch: u64,
        name: String,
    },
    Truncate {
        id: u64,
        epoch: u64,
    },
    /// ALTER TABLE: the table emptied under the next epoch with a new definition (same id, possibly a new
    /// name); the rewrite's rows follow as the transaction's writes.
    Reshape {
        id: u64,
        epoch: u64,
        old_name: String,
        shape: Arc<TableShape>,
        /// The table's indexes under the new definition.
        indexes: Vec<Arc<crate::index::IndexDef>>,
        /// The old position of each new column that carries an old one (foreign keys follow it).
        origin: Vec<Option<usize>>,
        /// The rows stay, read through the new definition (`TableVersion::redefined`), instead of the
        /// table being emptied for a rewrite.
        keep_rows: bool,
    },
    /// ALTER INDEX ... RENAME TO, ALTER TABLE ... RENAME CONSTRAINT: the table's index named `from` (its
    /// constraint too) or its CHECK or foreign key named `from` takes the name `to`.
    Rename {
        table_id: u64,
        from: String,
        to: String,
    },
    /// ALTER TABLE ... ADD CHECK (the SQL layer validates existing rows first).
    AddCheck {
        table_id: u64,
        check: Arc<crate::check::CheckDef>,
    },
    DropCheck {
        table_id: u64,
        name: String,
    },
    /// ALTER TABLE ... ADD FOREIGN KEY: existing rows are checked at commit.
    AddForeignKey(Arc<crate::foreign_key::ForeignKey>),
    DropForeignKey {
        table_id: u64,
        name: String,
    },
    /// CREATE INDEX: built from the table when the commit applies it.
    CreateIndex(Arc<crate::index::IndexDef>),
    DropIndex {
        table_id: u64,
        name: String,
    },
    CreateSchema {
        name: String,
        id: u64,
    },
    DropSchema {
        name: String,
    },
    /// COMMENT ON (`None`: `IS NULL`, removing it).
    Comment {
        key: (u64, u32),
        text: Option<String>,
    },
    CreateSequence(crate::sequence::SequenceDef),
    /// ALTER SEQUENCE: `def` in place of `replaces`, which must still be the committed definition (under
    /// another name when it renames the sequence).
    AlterSequence {
        def: crate::sequence::SequenceDef,
        replaces: crate::sequence::SequenceDef,
    },
    DropSequence {
        name: String,
    },
    /// CREATE [OR REPLACE] VIEW (a replacement keeps the id).
    CreateView(crate::view::ViewDef),
    DropView {
        name: String,
    },
    /// CREATE TYPE, or ALTER TYPE (`replaces`: the definition it changed, which must still be the
    /// committed one: two concurrent ALTERs of one type would otherwise lose one's change).
    CreateType {
        def: crate::enum_type::EnumDef,
        replaces: Option<crate::enum_type::EnumDef>,
    },
    DropType {
        id: u64,
    },
}

impl Ddl {
    /// The table the DDL is about (`None` for schema DDL).
    pub fn table(&self) -> Option<u64> {
        match self {
            Ddl::Create(s) => Some(s.id),
            Ddl::Drop { id, .. } | Ddl::Truncate { id, .. } | Ddl::Reshape { id, .. } => Some(*id),
            Ddl::CreateIndex(d) => Some(d.table_id),
            Ddl::AddForeignKey(f) => Some(f.table_id),
            Ddl::AddCheck { table_id, .. } | Ddl::DropCheck { table_id, .. } => Some(*table_id),
            Ddl::DropForeignKey { table_id, .. } => Some(*table_id),
            Ddl::DropIndex { table_id, .. } | Ddl::Rename { table_id, .. } => Some(*table_id),
            Ddl::CreateSchema { .. }
            | Ddl::DropSchema { .. }
            | Ddl::Comment { .. }
            | Ddl::CreateSequence(_)
            | Ddl::AlterSequence { .. }
            | Ddl::DropSequence { .. }
            | Ddl::CreateView(_)
            | Ddl::DropView { .. }
            | Ddl::CreateType { .. }
            | Ddl::DropType { .. } => None,
        }
    }
}

/// What a commit reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommitInfo {
    /// The commit's log sequence number (0 for a transaction that wrote nothing).
    pub lsn: u64,
}

/// What ends with a transaction, whatever its outcome: its locks, and its place among the serializable
/// transactions being validated.
#[derive(Debug)]
pub(crate) struct TxnEnd {
    pub owner: Owner,
    pub held: Vec<Resource>,
    /// SERIALIZABLE: the snapshot LSN the transaction is registered under...
    pub serial_lsn: Option<u64>,
    /// ...and what it read (`None`: nothing to validate).
    pub reads: Option<Arc<ReadSet>>,
}

impl TxnEnd {
    /// Releases the locks (waiters get them in order) and unregisters from validation. Called only once the
    /// commit is published (or refused), so a waiter that gets the row sees the newest version.
    pub fn finish(self, inner: &Inner) {
        if !self.held.is_empty() {
            inner.locks.release_all(self.owner, &self.held);
        }
        if let Some(lsn) = self.serial_lsn {
            inner.serial.lock().unregister(lsn);
        }
    }
}

/// A group once the commit lock is released: who was refused, and who is answered by the outcome.
pub(crate) struct Applied {
    pub answers: Answers,
    /// Accepted transactions and their LSNs.
    pub accepted: Vec<(Waiter, u64)>,
    pub ends: Vec<TxnEnd>,
    pub outcome: Outcome,
}

pub(crate) enum Outcome {
    /// Staged: durable once the log holds this LSN.
    Staged(u64),
    /// Durable and published already (or nothing was accepted).
    Committed,
    Failed(Error),
}

impl Inner {
    /// Validates and applies a group under the commit lock. A group that only writes rows is staged for the
    /// log (`flush.rs`); one that also changes the catalog or names chunk files commits through the metadata
    /// store here, after everything staged before it.
    fn commit_group(&self, state: &mut CommitState, group: Vec<Pending>) -> Applied {
        let mut answers = Vec::with_capacity(group.len());
        let mut ends = Vec::with_capacity(group.len());
        if self.flush_poisoned() {
            let _ = self.drain(state);
        }
        // A serializable transaction is validated against the recorded writes of every commit after its
        // snapshot; staged groups are recorded when published.
        if group.iter().any(|p| p.end.reads.is_some())
            && let Err(e) = self.drain(state)
        {
            for p in group {
                answers.push((p.done, Err(e.duplicate())));
                ends.push(p.end);
            }
            return Applied {
                answers,
                accepted: Vec::new(),
                ends,
                outcome: Outcome::Committed,
            };
        }
        let staged_before = state.next_lsn - 1;
        let mut head = (*state.head).clone();
        let mut batch = StoreBatch::default();
        let mut accepted = Vec::with_capacity(group.len());
        let mut undo = Undo::default();
        // Writes are summarised only while serializable transactions are in flight; one that starts during
        // this group is told "everything" about the group's commits (see `publish`).
        let summarise = self.serial.lock().any_active();
        let mut summaries: Vec<(u64, WriteSummary)> = Vec::new();
        for p in group {
            let lsn = state.next_lsn;
            if let (Some(reads), Some(snap)) = (&p.end.reads, p.end.serial_lsn) {
                let in_group = summaries
                    .iter()
                    .any(|(l, w)| *l > snap && reads.conflicts(w));
                if in_group || self.serial.lock().conflicts(snap, reads) {
                    answers.push((
                        p.done,
                        Err(Error::SerializationFailure {
                            reason: "read/write dependencies among transactions",
                        }),
                    ));
                    ends.push(p.end);
                    continue;
                }
            }
            let mut summary = summarise.then(BTreeMap::new);
            match self.apply_txn(
                &mut head,
                p.writes,
                state,
                &mut batch,
                &mut undo,
                summary.as_mut(),
            ) {
                Ok(record) => {
                    if let Some(r) = record {
                        batch.wal.push((lsn, encode(&r)));
                    }
                    state.next_lsn += 1;
                    accepted.push((p.done, lsn));
                    if let Some(s) = summary {
                        summaries.push((lsn, WriteSummary::Tables(s)));
                    }
                }
                Err(e) => answers.push((p.done, Err(e))),
            }
            ends.push(p.end);
        }
        if accepted.is_empty() {
            return Applied {
                answers,
                accepted,
                ends,
                outcome: Outcome::Committed,
            };
        }
        let last = state.next_lsn - 1;
        head.lsn = last;
        self.seal_long_tails(&mut head);
        let written = if summarise {
            Written::Summaries(summaries)
        } else {
            Written::Unsummarised(accepted.iter().map(|(_, l)| *l).collect())
        };
        let only_rows = batch.manifests.is_empty()
            && batch.catalog.is_empty()
            && batch.schemas.is_empty()
            && batch.comments.is_empty()
            && batch.sequences.is_empty()
            && batch.views.is_empty()
            && batch.types.is_empty()
            && batch.indexes.is_empty()
            && batch.foreign_keys.is_empty()
            && batch.checks.is_empty();
        if only_rows {
            // Only rows: staged for one append to the commit log, made durable outside the commit lock.
            let head = Arc::new(head);
            state.head = head.clone();
            // Whoever publishes the group releases its transactions' locks, so that a transaction waiting
            // for one of its rows goes on without waiting for this thread to wake.
            self.flush.stage(Staged {
                last,
                wal: batch.wal,
                head,
                written,
                tails: undo.tails.into_values().collect(),
                ends,
            });
            return Applied {
                answers,
                accepted,
                ends: Vec::new(),
                outcome: Outcome::Staged(last),
            };
        }
        // A group that wrote chunk files names them in a manifest, and one with DDL changes the catalog: both
        // commit through the metadata store, after the groups staged before them.
        batch.meta.push((META_NEXT_LSN, state.next_lsn));
        batch.meta.push((META_NEXT_FILE, state.next_file_id));
        let stored = self
            .make_durable(staged_before)
            .and_then(|()| {
                if undo.files.is_empty() {
                    Ok(())
                } else {
                    chunk_file::sync_dir(&self.chunk_dir)
                }
            })
            .and_then(|()| self.store.commit(batch));
        let outcome = match stored {
            Ok(()) => {
                let head = Arc::new(head);
                state.head = head.clone();
                self.publish(vec![Staged {
                    last,
                    wal: Vec::new(),
                    head,
                    written,
                    tails: Vec::new(),
                    ends: Vec::new(),
                }]);
                self.flush.advance(last);
                for c in &undo.dropped {
                    c.mark_obsolete();
                }
                Outcome::Committed
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
                // The LSNs stay used: a failed write may still have reached the disk, and recovery must
                // never meet two records under one LSN.
                Outcome::Failed(e)
            }
        };
        Applied {
            answers,
            accepted,
            ends,
            outcome,
        }
    }

    /// Validates one transaction against `head` and applies it there under the next LSN. On error `head` is
    /// unchanged. `summary` collects the keys written, for serializable validation.
    fn apply_txn(
        &self,
        head: &mut DbVersion,
        writes: TxnWrites,
        state: &mut CommitState,
        batch: &mut StoreBatch,
        undo: &mut Undo,
        mut summary: Option<&mut BTreeMap<u64, TableWritten>>,
    ) -> Result<Option<WalRecord>> {
        if writes.ddl.is_empty() {
            return self.apply_rows(head, writes.tables, state, batch, undo, summary);
        }
        let saved = head.clone();
        let marks = (
            batch.catalog.len(),
            batch.manifests.len(),
            batch.schemas.len(),
            batch.comments.len(),
            batch.sequences.len(),
            batch.indexes.len(),
            batch.foreign_keys.len(),
            batch.checks.len(),
            batch.views.len(),
            batch.types.len(),
        );
        let mut dropped = Vec::new();
        // Catalog and manifest changes go in before the rows: a bulk load into a table created or truncated
        // here names its chunks in a manifest that must come after (the store applies them in order).
        let r = self
            .apply_ddl(
                head,
                &writes.ddl,
                &writes.tables,
                state.next_lsn,
                batch,
                &mut dropped,
            )
            .and_then(|()| {
                if let Some(s) = summary.as_deref_mut() {
                    for id in writes.ddl.iter().filter_map(Ddl::table) {
                        s.entry(id).or_default().all = true;
                    }
                }
                let record = self.apply_rows(head, writes.tables, state, batch, undo, summary)?;
                // A foreign key added here is judged on the rows the transaction leaves.
                for d in &writes.ddl {
                    if let Ddl::AddForeignKey(fk) = d {
                        crate::foreign_key::validate(head, fk)?;
                    }
                }
                Ok(record)
            });
        match r {
            Ok(record) => {
                for d in &writes.ddl {
                    let id = match d {
                        Ddl::Create(s) => s.id,
                        Ddl::CreateSchema { id, .. } => *id,
                        Ddl::CreateSequence(s) => s.id,
                        Ddl::CreateView(v) => v.id,
                        Ddl::CreateType { def, .. } => def.id,
                        Ddl::CreateIndex(i) => i.id,
                        Ddl::AddForeignKey(f) => f.id,
                        Ddl::AddCheck { check, .. } => check.id,
                        _ => continue,
                    };
                    state.next_table_id = state.next_table_id.max(id + 1);
                }
                batch.meta.retain(|(k, _)| *k != META_NEXT_TABLE);
                batch.meta.push((META_NEXT_TABLE, state.next_table_id));
                undo.dropped.append(&mut dropped);
                Ok(record)
            }
            Err(e) => {
                *head = saved;
                batch.catalog.truncate(marks.0);
                batch.manifests.truncate(marks.1);
                batch.schemas.truncate(marks.2);
                batch.comments.truncate(marks.3);
                batch.sequences.truncate(marks.4);
                batch.indexes.truncate(marks.5);
                batch.foreign_keys.truncate(marks.6);
                batch.checks.truncate(marks.7);
                batch.views.truncate(marks.8);
                batch.types.truncate(marks.9);
                Err(e)
            }
        }
    }

    /// Validates one transaction's rows against `head` and applies them there under the next LSN. On error
    /// `head` is unchanged.
    fn apply_rows(
        &self,
        head: &mut DbVersion,
        tables: BTreeMap<u64, TableWrites>,
        state: &mut CommitState,
        batch: &mut StoreBatch,
        undo: &mut Undo,
        mut summary: Option<&mut BTreeMap<u64, TableWritten>>,
    ) -> Result<Option<WalRecord>> {
        let lsn = state.next_lsn;
        // Validate everything first, so a failing transaction leaves no trace.
        let mut plans = Vec::with_capacity(tables.len());
        for (id, tw) in tables {
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
                            key: tv.shape.key_detail(k),
                        });
                    }
                }
            }
            for (k, op) in &map {
                // Also loads the chunks the map touches, so applying below cannot fail on I/O.
                if tv.contains(k)? && matches!(op, PendingOp::Insert(_)) {
                    return Err(Error::DuplicateKey {
                        table: name,
                        key: tv.shape.key_detail(k),
                    });
                }
            }
            plans.push((id, bulk, appends, map));
        }

        let before = head.clone();
        let mut record = WalRecord { tables: Vec::new() };
        // Foreign keys: the rows of referencing tables this transaction writes, and the old images of
        // referenced rows it changes, judged once every table is applied.
        let (referencing, referenced): (HashSet<u64>, HashSet<u64>) = head
            .tables
            .values()
            .flat_map(|t| t.foreign_keys.iter())
            .map(|f| (f.table_id, f.ref_table))
            .unzip();
        let mut changes: Vec<crate::foreign_key::Change> = vec![];
        let applied = (|| -> Result<()> {
            for (id, bulk, appends, map) in plans {
                let mut tv = (**head.tables.get(&id).expect("validated above")).clone();
                let (track_new, track_old) = (referencing.contains(&id), referenced.contains(&id));
                if track_new {
                    for b in &bulk {
                        for i in 0..b.num_rows() {
                            let row = row_at(b, i);
                            changes.push(crate::foreign_key::Change {
                                table: id,
                                old: None,
                                new: Some(Arc::new(row)),
                            });
                        }
                    }
                }
                undo.tails
                    .entry(id)
                    .or_insert_with(|| (tv.tail.clone(), tv.tail_len));
                let mut wal_ops = Vec::new();
                let written = summary.as_deref_mut().map(|s| s.entry(id).or_default());
                if !bulk.is_empty() {
                    let first = tv.max_key.clone();
                    self.bulk_append(&mut tv, bulk, state, batch, undo)?;
                    if let (Some(w), Some(last)) = (written, tv.max_key.clone()) {
                        // Everything above the old max key up to the new one is what the bulk wrote.
                        let lo = match first {
                            Some(Key::Int(i)) => Key::Int(i.saturating_add(1)),
                            Some(k) => k,
                            None => Key::Int(i64::MIN),
                        };
                        w.ranges.push((lo, last));
                    }
                }
                let unique = tv.indexes.iter().any(|i| i.def.unique);
                let mut puts: Vec<(Key, Arc<Row>)> = Vec::new();
                for (k, row) in appends {
                    // An append that others overtook since the transaction began is an ordinary delta write.
                    wal_ops.push(WalOp::Put(row.clone()));
                    let row = Arc::new(row);
                    if unique {
                        puts.push((k.clone(), row.clone()));
                    }
                    if track_new {
                        changes.push(crate::foreign_key::Change {
                            table: id,
                            old: None,
                            new: Some(row.clone()),
                        });
                    }
                    apply_put(&mut tv, k, row, false, lsn)?;
                }
                // Existence is judged after this transaction's own appends: a delete of a row it inserted
                // must remove it.
                for (k, op) in map {
                    let exists = tv.contains(&k)?;
                    if track_new || track_old {
                        let old = if track_old && exists {
                            tv.get(&k)?
                        } else {
                            None
                        };
                        let new = match &op {
                            PendingOp::Insert(r) | PendingOp::Upsert(r) => {
                                Some(Arc::new(r.clone()))
                            }
                            PendingOp::Update(r) if exists => Some(Arc::new(r.clone())),
                            _ => None,
                        };
                        if old.is_some() || new.is_some() {
                            changes.push(crate::foreign_key::Change {
                                table: id,
                                old,
                                new,
                            });
                        }
                    }
                    match op {
                        PendingOp::Insert(row) | PendingOp::Upsert(row) => {
                            wal_ops.push(WalOp::Put(row.clone()));
                            let row = Arc::new(row);
                            if unique {
                                puts.push((k.clone(), row.clone()));
                            }
                            apply_put(&mut tv, k, row, exists, lsn)?;
                        }
                        PendingOp::Update(row) if exists => {
                            wal_ops.push(WalOp::Put(row.clone()));
                            let row = Arc::new(row);
                            if unique {
                                puts.push((k.clone(), row.clone()));
                            }
                            apply_put(&mut tv, k, row, exists, lsn)?;
                        }
                        PendingOp::Delete if exists => {
                            wal_ops.push(WalOp::Delete(k.clone()));
                            apply_delete(&mut tv, k, exists, lsn)?;
                        }
                        PendingOp::Update(_) | PendingOp::Delete => {}
                    }
                }
                // Judged on the state after every write of the transaction: swapping two values is fine.
                check_unique(&tv, puts.iter().map(|(k, r)| (k, r.as_ref())))?;
                if let Some(s) = summary.as_deref_mut() {
                    let w = s.entry(id).or_default();
                    w.keys.extend(wal_ops.iter().map(|op| match op {
                        WalOp::Put(row) => tv.shape.key_of(row),
                        WalOp::Delete(k) => k.clone(),
                    }));
                }
                if !wal_ops.is_empty() {
                    record.tables.push(WalTable {
                        table_id: id,
                        ops: wal_ops,
                    });
                }
                head.tables.insert(id, Arc::new(tv));
            }
            if !referencing.is_empty() {
                crate::foreign_key::enforce(head, std::mem::take(&mut changes), lsn, &mut record)?;
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
                &self.opts,
                true,
                &self.cache,
            )?;
            undo.files.push(self.chunk_path(file_id));
            tv.max_key = Some(chunk.meta.max_key.clone());
            chunks.push(chunk);
            at += len;
        }
        tv.live_rows += n as u64;
        tv.chunks = Arc::new(chunks);
        if !tv.indexes.is_empty() {
            let rows: Vec<(Key, Row)> = (0..n)
                .map(|i| {
                    let row = row_at(&all, i);
                    (tv.shape.key_of(&row), row)
                })
                .collect();
            for index in &mut tv.indexes {
                for (k, row) in &rows {
                    index.insert(row, k.clone());
                }
            }
            check_unique(tv, rows.iter().map(|(k, r)| (k, r)))?;
        }
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
    /// Chunks of dropped and truncated tables: their files go once the commit is published and the last
    /// reader is done (not if the commit fails).
    dropped: Vec<Arc<Chunk>>,
}

/// Writes a full row image under `key`: appended to the tail past the max key, else into the delta.
pub(crate) fn apply_put(
    tv: &mut TableVersion,
    key: Key,
    row: Arc<Row>,
    exists: bool,
    lsn: u64,
) -> Result<()> {
    if !tv.indexes.is_empty() {
        let old = if exists { tv.get(&key)? } else { None };
        for index in &mut tv.indexes {
            if let Some(old) = &old {
                index.remove(old, &key);
            }
            index.insert(&row, key.clone());
        }
    }
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
    Ok(())
}

/// Records a deletion as a tombstone in the delta.
pub(crate) fn apply_delete(tv: &mut TableVersion, key: Key, exists: bool, lsn: u64) -> Result<()> {
    if exists
        && !tv.indexes.is_empty()
        && let Some(old) = tv.get(&key)?
    {
        for index in &mut tv.indexes {
            index.remove(&old, &key);
        }
    }
    let prev = tv.delta.insert(key, DeltaEntry { lsn, row: None });
    if prev.is_none_or(|p| p.row.is_some()) {
        tv.tombstones += 1;
    }
    if exists {
        tv.live_rows -= 1;
    }
    Ok(())
}

/// A unique violation among `written` rows (already applied to `tv`'s indexes), if any.
fn check_unique<'a>(
    tv: &TableVersion,
    written: impl Iterator<Item = (&'a Key, &'a Row)>,
) -> Result<()> {
    if !tv.indexes.iter().any(|i| i.def.unique) {
        return Ok(());
    }
    for (key, row) in written {
        for index in tv.indexes.iter().filter(|i| i.def.unique) {
            if index.conflict(row, key).is_some() {
                return Err(index.violation(&tv.shape, row, false));
            }
        }
    }
    Ok(())
}
