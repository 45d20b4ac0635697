//! Making staged commit groups durable and visible, in LSN order.
//!
//! A group that only writes rows is applied under the commit lock and *staged*: its log records and the version
//! it leads to wait here. Whoever then needs a staged group durable becomes the flusher if nobody is: it takes
//! every group staged so far, writes them in one log append (one fsync), publishes the newest version and wakes
//! everyone waiting. The commit lock is not held meanwhile, so the next group is validated and applied while
//! the previous one's fsync runs, and groups staged during an fsync share the next one: PostgreSQL's WAL
//! insertion and flushing, where the fsync, not the whole commit, is what one transaction waits on another for.
//! (TPC-B at 8 clients spent about three quarters of its commit lock on the fsync; docs/benchmarks.md,
//! session 27.)
//!
//! A group is written only after the groups before it were taken for the same write or written and synced by
//! an earlier one, so the log still never holds a group after one that is not on disk.
//!
//! A failed write fails every group taken for it and every group staged on top of them (their versions hold
//! the failed rows); the next commit under the commit lock finds the flush poisoned and starts again from the
//! published version.

use std::sync::Arc;

use parking_lot::{Condvar, Mutex};

use super::TxnEnd;
use crate::error::{Error, Result};
use crate::isolation::WriteSummary;
use crate::shared::{CommitState, Inner};
use crate::tail::Tail;
use crate::version::DbVersion;
use crate::wal_log::WalLog;

/// A group applied and logged in memory, waiting for its fsync.
pub(crate) struct Staged {
    /// The group's last LSN.
    pub last: u64,
    /// Log records by LSN.
    pub wal: Vec<(u64, Vec<u8>)>,
    /// The version once this group is in.
    pub head: Arc<DbVersion>,
    pub written: Written,
    /// Tail lengths before the group appended: a failed write truncates back to them.
    pub tails: Vec<(Arc<Tail>, usize)>,
    /// The group's transactions' locks, released once it is published or has failed.
    pub ends: Vec<TxnEnd>,
}

/// What a published group tells the serializable validator.
pub(crate) enum Written {
    /// Summarised while serializable transactions were in flight: what each commit wrote.
    Summaries(Vec<(u64, WriteSummary)>),
    /// Not summarised (nobody was validating when the group was applied): if someone is by publication, each
    /// commit counts as having written everything.
    Unsummarised(Vec<u64>),
}

pub(crate) struct Flush {
    state: Mutex<FlushState>,
    cv: Condvar,
    staged: Mutex<Vec<Staged>>,
    /// The commit log; written by the flusher, or by whoever holds the commit lock with nothing staged.
    pub log: Mutex<WalLog>,
}

struct FlushState {
    /// Every LSN up to here is durable and published.
    durable: u64,
    /// Every LSN up to here that is not durable failed.
    failed_upto: u64,
    /// Why the last write failed.
    failure: Option<Error>,
    /// A write failed and versions staged on top of it may exist: nothing more is written until the commit
    /// lock's holder starts again from the published version.
    poisoned: bool,
    /// Someone is writing and syncing staged groups.
    flushing: bool,
}

impl Flush {
    pub fn new(log: WalLog, durable: u64) -> Flush {
        Flush {
            state: Mutex::new(FlushState {
                durable,
                failed_upto: 0,
                failure: None,
                poisoned: false,
                flushing: false,
            }),
            cv: Condvar::new(),
            staged: Mutex::new(Vec::new()),
            log: Mutex::new(log),
        }
    }

    /// Queues a group (the caller holds the commit lock, so groups are staged in LSN order).
    pub fn stage(&self, group: Staged) {
        self.staged.lock().push(group);
    }

    /// Records that a group committed without the log (through the metadata store) up to `lsn`.
    pub fn advance(&self, lsn: u64) {
        let mut s = self.state.lock();
        s.durable = s.durable.max(lsn);
    }
}

impl Written {
    fn record(self, serial: &mut crate::isolation::SerialState) {
        match self {
            Written::Summaries(s) => {
                for (lsn, w) in s {
                    serial.record(lsn, w);
                }
            }
            Written::Unsummarised(lsns) => {
                for lsn in lsns {
                    serial.record(lsn, WriteSummary::Everything);
                }
            }
        }
    }
}

impl Inner {
    /// Returns once every group up to `last` is durable and published, writing it (and whatever else is
    /// staged) if nobody else is.
    pub(crate) fn make_durable(&self, last: u64) -> Result<()> {
        let flush = &self.flush;
        let mut s = flush.state.lock();
        loop {
            if last <= s.durable {
                return Ok(());
            }
            if last <= s.failed_upto {
                return Err(s.failure.as_ref().map_or(Error::Closed, Error::duplicate));
            }
            if !s.flushing {
                break;
            }
            flush.cv.wait(&mut s);
        }
        s.flushing = true;
        let poisoned = s.poisoned;
        drop(s);
        let mut groups = std::mem::take(&mut *flush.staged.lock());
        let Some(newest) = groups.last().map(|g| g.last) else {
            // Nothing staged and nobody writing: what is not durable up to `last` failed or was never staged
            // (LSNs that the metadata store's commits used).
            let mut s = flush.state.lock();
            s.flushing = false;
            s.durable = s.durable.max(last);
            return Ok(());
        };
        let written = if poisoned {
            Err(Error::Store(
                "an earlier commit group failed to reach the log".into(),
            ))
        } else {
            let records: Vec<(u64, Vec<u8>)> = groups
                .iter_mut()
                .flat_map(|g| std::mem::take(&mut g.wal))
                .collect();
            flush.log.lock().append(&records)
        };
        let mut s = match written {
            Ok(()) => {
                let ends = self.publish(groups);
                let mut s = flush.state.lock();
                s.durable = newest;
                drop(s);
                for end in ends {
                    end.finish(self);
                }
                flush.state.lock()
            }
            Err(e) => {
                tracing::error!("commit failed: {e}");
                // Nothing was published: undo the tail appends nobody could see, newest first.
                for g in groups.iter().rev() {
                    for (tail, len) in &g.tails {
                        tail.truncate(*len);
                    }
                }
                for end in groups.into_iter().flat_map(|g| g.ends) {
                    end.finish(self);
                }
                let mut s = flush.state.lock();
                s.failed_upto = newest;
                s.failure = Some(e);
                s.poisoned = true;
                s
            }
        };
        s.flushing = false;
        let r = if last <= s.durable {
            Ok(())
        } else {
            Err(s.failure.as_ref().map_or(Error::Closed, Error::duplicate))
        };
        drop(s);
        flush.cv.notify_all();
        r
    }

    /// Makes everything staged durable and published (the caller holds the commit lock and has not applied
    /// anything since it took it, so nothing more is staged meanwhile): afterwards `current` is `state.head`.
    /// After a failed write, starts again from the published version.
    pub(crate) fn drain(&self, state: &mut CommitState) -> Result<()> {
        let r = self.make_durable(state.next_lsn - 1);
        let mut s = self.flush.state.lock();
        if s.poisoned {
            s.poisoned = false;
            drop(s);
            state.head = self.current.load_full();
        }
        r
    }

    /// Publishes groups in order: their writes are recorded for serializable validation and the newest
    /// version becomes `current`, under the validator's lock, so that a serializable transaction starting
    /// now either sees a group in its snapshot or finds it recorded.
    /// Returns the groups' transaction ends, to be finished once published.
    pub(crate) fn publish(&self, groups: Vec<Staged>) -> Vec<TxnEnd> {
        let Some(head) = groups.last().map(|g| g.head.clone()) else {
            return Vec::new();
        };
        let mut ends = Vec::new();
        let mut serial = self.serial.lock();
        let record = serial.any_active();
        for g in groups {
            if record {
                g.written.record(&mut serial);
            }
            ends.extend(g.ends);
        }
        self.current.store(head);
        ends
    }

    /// True when a failed write left versions that must not be built on.
    pub(crate) fn flush_poisoned(&self) -> bool {
        self.flush.state.lock().poisoned
    }
}
