//! A transaction's locks: row locks taken by its writes and by `lock_row`, the table lock every writer
//! holds (so DROP and TRUNCATE wait for writers, as in PostgreSQL), transaction-level advisory locks, and
//! how a row a later commit changed is judged at each isolation level.

use std::sync::Arc;

use super::{RowLock, WriteTxn};
use crate::error::{Error, Result};
use crate::isolation::Isolation;
use crate::locks::{Acquire, LockMode, Resource, WaitPolicy};
use crate::types::Key;
use crate::version::TableVersion;

/// What a locked write does to the row, which decides how a concurrent change is judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Write {
    /// A new key.
    Insert,
    /// A new image computed from the old one (UPDATE).
    Computed,
    /// Replaces or removes the row whatever it holds (DELETE, upsert).
    Blind,
}

impl WriteTxn {
    /// Locks the row under `key` in `mode` (`SELECT ... FOR UPDATE` and every write). With
    /// `WaitPolicy::Wait` a lock held by someone else comes back as `Error::LockWait`: await it, then call
    /// again. REPEATABLE READ and SERIALIZABLE fail with a serialization error when a commit after the
    /// snapshot changed the row.
    pub fn lock_row(
        &mut self,
        table: &str,
        key: &Key,
        mode: LockMode,
        policy: WaitPolicy,
    ) -> Result<RowLock> {
        let base = self.base(table)?;
        base.shape.check_key(key)?;
        let first = self.lock_key(&base, key, mode, policy)?;
        let Some(first) = first else {
            return Ok(RowLock::Skipped);
        };
        let changed = first && self.changed(&base, key)?;
        if changed && self.isolation != Isolation::ReadCommitted {
            return Err(Error::SerializationFailure {
                reason: "concurrent update",
            });
        }
        Ok(RowLock::Held { changed })
    }

    /// Takes the row lock: `Some(true)` the first time this transaction holds it, `Some(false)` if it
    /// already did, `None` if skipped.
    pub(super) fn lock_key(
        &mut self,
        base: &TableVersion,
        key: &Key,
        mode: LockMode,
        policy: WaitPolicy,
    ) -> Result<Option<bool>> {
        self.lock_table(base, LockMode::KeyShare)?;
        let res = Resource::Row {
            table: base.shape.id,
            key: key.clone(),
        };
        let known = self.held_set.contains(&res);
        if known && self.inner.locks.holds(self.owner, &res, mode) {
            // Held since an earlier call; if that call only queued (the lock came by hand-off), the row has
            // not been judged yet.
            return Ok(Some(self.awaited.remove(&res)));
        }
        match self
            .inner
            .locks
            .acquire(self.owner, res.clone(), mode, policy)
        {
            Acquire::Granted => {}
            Acquire::Busy if policy == WaitPolicy::Skip => return Ok(None),
            Acquire::Busy => {
                return Err(Error::LockNotAvailable {
                    table: base.shape.def.name.clone(),
                });
            }
            Acquire::Wait(wait) => {
                if !known {
                    // Released with the rest if the transaction ends while it waits.
                    self.held.push(res.clone());
                    self.held_set.insert(res.clone());
                }
                self.awaited.insert(res);
                return Err(Error::LockWait {
                    table: base.shape.def.name.clone(),
                    wait,
                });
            }
        }
        if known {
            // An upgrade: the row was judged when first locked, and nobody wrote it since.
            return Ok(Some(self.awaited.remove(&res)));
        }
        self.held.push(res.clone());
        self.held_set.insert(res);
        Ok(Some(true))
    }

    /// Whether a commit after the statement's snapshot changed (or created, or removed) the row under `key`.
    pub(super) fn changed(&self, base: &TableVersion, key: &Key) -> Result<bool> {
        let id = base.shape.id;
        if self.ddl_owned(id) {
            // Created or truncated by this transaction: nobody else can have written it.
            return Ok(false);
        }
        let cur = self.inner.current.load();
        let Some(now) = cur.tables.get(&id) else {
            return Ok(true);
        };
        let Some(snap) = self.snapshot.tables.get(&id) else {
            return now.contains(key);
        };
        if Arc::ptr_eq(snap, now) {
            return Ok(false);
        }
        if snap.epoch != now.epoch {
            return Ok(true);
        }
        let lsn = self.snapshot.lsn;
        if let Some(e) = now.delta.get(key) {
            if e.lsn > lsn {
                return Ok(true);
            }
            if snap.delta.get(key).is_some_and(|s| s.lsn == e.lsn) {
                return Ok(false);
            }
        }
        if now.checkpoint_lsn > lsn {
            // Retraining folded commits after the snapshot into chunks: their LSNs are gone, compare images.
            return Ok(snap.get(key)? != now.get(key)?);
        }
        Ok(snap.contains(key)? != now.contains(key)?)
    }

    /// Locks `key` for a write, waiting through `Error::LockWait`, and judges a concurrent change.
    pub(super) fn lock_for_write(
        &mut self,
        base: &TableVersion,
        key: &Key,
        mode: LockMode,
        write: Write,
    ) -> Result<()> {
        let first = self
            .lock_key(base, key, mode, WaitPolicy::Wait)?
            .expect("waiting never skips");
        // An insert is judged by the key's existence, never by a concurrent change (PostgreSQL: a unique
        // violation, not a serialization failure, at every level but SERIALIZABLE's invisible conflicts).
        if !first || write == Write::Insert || !self.changed(base, key)? {
            return Ok(());
        }
        match (self.isolation, write) {
            (Isolation::ReadCommitted, Write::Computed) => Err(Error::RowChanged {
                table: base.shape.def.name.clone(),
            }),
            (Isolation::ReadCommitted, _) => Ok(()),
            _ => Err(Error::SerializationFailure {
                reason: "concurrent update",
            }),
        }
    }

    /// Takes a transaction-level advisory lock (`pg_advisory_xact_lock`): held until the transaction ends.
    pub fn lock_advisory(
        &mut self,
        res: Resource,
        mode: LockMode,
        policy: WaitPolicy,
    ) -> Result<bool> {
        match self
            .inner
            .locks
            .acquire(self.owner, res.clone(), mode, policy)
        {
            Acquire::Granted => {}
            Acquire::Busy => return Ok(false),
            Acquire::Wait(wait) => {
                self.held.push(res);
                return Err(Error::LockWait {
                    table: "advisory".into(),
                    wait,
                });
            }
        }
        self.held.push(res);
        Ok(true)
    }

    /// Takes the table lock in `mode`: `KeyShare` for every writer, `Update` for DROP and TRUNCATE (which
    /// therefore wait for the table's writers, and make them wait).
    /// LOCK TABLE: the table's lock in `mode` until the transaction ends. `NoWait` fails at once with
    /// `LockNotAvailable` when another transaction holds a conflicting mode.
    pub fn lock_table_explicit(
        &mut self,
        table: &str,
        mode: LockMode,
        policy: WaitPolicy,
    ) -> Result<()> {
        let base = self.base(table)?;
        if policy != WaitPolicy::Wait {
            let res = Resource::Table(base.shape.id);
            match self
                .inner
                .locks
                .acquire(self.owner, res.clone(), mode, policy)
            {
                Acquire::Granted => {
                    if self.held_set.insert(res.clone()) {
                        self.held.push(res);
                    }
                    return Ok(());
                }
                _ => {
                    return Err(Error::LockNotAvailable {
                        table: base.shape.def.name.clone(),
                    });
                }
            }
        }
        self.lock_table(&base, mode)
    }

    pub(super) fn lock_table(&mut self, base: &TableVersion, mode: LockMode) -> Result<()> {
        let id = base.shape.id;
        if self.ddl_owned(id) && mode == LockMode::KeyShare {
            return Ok(());
        }
        let res = Resource::Table(id);
        let known = self.held_set.contains(&res);
        if known
            && !self.awaited.contains(&res)
            && (mode == LockMode::KeyShare || self.inner.locks.holds(self.owner, &res, mode))
        {
            return Ok(());
        }
        let acquired = self
            .inner
            .locks
            .acquire(self.owner, res.clone(), mode, WaitPolicy::Wait);
        if !known {
            self.held.push(res.clone());
            self.held_set.insert(res.clone());
        }
        match acquired {
            Acquire::Granted | Acquire::Busy => {
                self.awaited.remove(&res);
                Ok(())
            }
            Acquire::Wait(wait) => {
                self.awaited.insert(res);
                Err(Error::LockWait {
                    table: base.shape.def.name.clone(),
                    wait,
                })
            }
        }
    }
}
