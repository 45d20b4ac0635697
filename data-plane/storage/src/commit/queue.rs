//! Who commits a group, and how everyone in it hears the outcome.
//!
//! A transaction committing from a thread that may block (`WriteTxn::commit`: a connection thread, a test)
//! queues its writes and, when nobody is committing, commits everything queued itself, as PostgreSQL's
//! backends flush the WAL for each other: the group's fsync happens on the thread that would have waited for
//! it anyway. Others queued meanwhile sleep until a leader answers them, or until one of them is told to
//! lead the next group (the leader hands the queue on when it is done). Transactions committing through a
//! callback (`WriteTxn::commit_then`: async callers that must not block their thread) are answered by
//! whichever leader takes them, or, when none is committing, by the committer thread.
//!
//! Why not one committer thread for everyone: on a machine with few cores, each hand-off to another
//! thread and back is a wake-up that preempts someone (TPC-B spent about a tenth of its CPU on waking a
//! committer and a notifier thread per group; docs/benchmarks.md, session 21).

use std::sync::Arc;

use parking_lot::{Condvar, Mutex};

use super::{Applied, CommitInfo, Outcome, TxnEnd, TxnWrites};
use crate::error::{Error, Result};
use crate::shared::Inner;

/// Called once with a transaction's outcome, on the thread that committed its group: keep it short (wake
/// someone, send).
pub type CommitCallback = Box<dyn FnOnce(Result<CommitInfo>) + Send>;

/// Transactions waiting to be committed.
#[derive(Default)]
pub(crate) struct CommitQueue {
    pub waiting: Vec<Pending>,
    /// The committer thread has been told to stop: what comes later commits on its caller's thread.
    pub stopped: bool,
    /// A group is being committed (by a waiting thread or the committer thread); whoever commits it hands
    /// the queue on.
    pub leading: bool,
    /// A leader has handed the queue to the committer thread (`leading` stays set).
    pub committer_turn: bool,
}

/// Transactions queued behind a leader from which the committer thread takes over: under that load a new
/// group is always waiting, and the committer goes from one to the next without a thread to wake for each.
const BUSY: usize = 4;

pub(crate) struct Pending {
    pub writes: TxnWrites,
    pub end: TxnEnd,
    pub done: Waiter,
}

/// How a queued transaction hears its outcome.
pub(crate) enum Waiter {
    Callback(CommitCallback),
    Thread(Wake),
}

/// Wakes a parked thread with its outcome; dropped unanswered (a leader panicked), it wakes it with an error
/// rather than leave it asleep.
pub(crate) struct Wake(Option<Arc<Parked>>);

impl Wake {
    fn parked(&self) -> Option<&Arc<Parked>> {
        self.0.as_ref()
    }
}

impl Drop for Wake {
    fn drop(&mut self) {
        if let Some(t) = self.0.take() {
            t.set(Parking::Done(Err(Error::Closed)));
        }
    }
}

/// A thread blocked in `commit_writes`.
#[derive(Default)]
pub(crate) struct Parked {
    state: Mutex<Parking>,
    cv: Condvar,
}

#[derive(Default)]
enum Parking {
    #[default]
    Waiting,
    /// Commit what is queued (this thread's own transaction among it).
    Lead,
    Done(Result<CommitInfo>),
}

impl Parked {
    fn set(&self, to: Parking) {
        *self.state.lock() = to;
        self.cv.notify_one();
    }

    fn wait(&self) -> Parking {
        let mut s = self.state.lock();
        loop {
            match std::mem::take(&mut *s) {
                Parking::Waiting => self.cv.wait(&mut s),
                other => return other,
            }
        }
    }
}

impl Waiter {
    fn answer(self, r: Result<CommitInfo>) {
        match self {
            Waiter::Callback(done) => done(r),
            Waiter::Thread(mut w) => {
                if let Some(t) = w.0.take() {
                    t.set(Parking::Done(r));
                }
            }
        }
    }
}

pub(crate) type Answers = Vec<(Waiter, Result<CommitInfo>)>;

/// The committer thread: commits what callbacks wait for when nobody leads, and takes over from a leader
/// under load, committing group after group until the queue is empty.
pub(crate) fn committer(inner: Arc<Inner>) {
    loop {
        {
            let mut q = inner.queue.lock();
            loop {
                if q.committer_turn {
                    q.committer_turn = false;
                    break;
                }
                if !q.leading && !q.waiting.is_empty() {
                    q.leading = true;
                    break;
                }
                if q.stopped && !q.leading && q.waiting.is_empty() {
                    return;
                }
                inner.queue_cv.wait(&mut q);
            }
        }
        let _unwind = Leading(&inner);
        loop {
            let group = {
                let mut q = inner.queue.lock();
                if q.waiting.is_empty() {
                    q.leading = false;
                    break;
                }
                std::mem::take(&mut q.waiting)
            };
            inner.run_group(group);
        }
    }
}

impl Inner {
    /// Commits and waits for the outcome, committing the queued group itself when nobody else is.
    pub fn commit_writes(&self, writes: TxnWrites, end: TxnEnd) -> Result<CommitInfo> {
        if writes.is_empty() {
            end.finish(self);
            return Ok(CommitInfo { lsn: 0 });
        }
        let me = Arc::new(Parked::default());
        let p = Pending {
            writes,
            end,
            done: Waiter::Thread(Wake(Some(me.clone()))),
        };
        let mut q = self.queue.lock();
        if q.stopped {
            drop(q);
            self.run_group(vec![p]);
        } else {
            q.waiting.push(p);
            let lead = !std::mem::replace(&mut q.leading, true);
            drop(q);
            if lead {
                self.lead();
            }
        }
        loop {
            match me.wait() {
                Parking::Done(r) => return r,
                Parking::Lead => self.lead(),
                Parking::Waiting => unreachable!("wait returns only a decision"),
            }
        }
    }

    /// Queues a transaction without blocking; `done` hears the outcome once it is durable (or refused).
    pub fn submit(&self, writes: TxnWrites, end: TxnEnd, done: CommitCallback) {
        if writes.is_empty() {
            // Read-only (perhaps with row locks): serializes at its snapshot, nothing to validate or log.
            end.finish(self);
            return done(Ok(CommitInfo { lsn: 0 }));
        }
        let p = Pending {
            writes,
            end,
            done: Waiter::Callback(done),
        };
        let mut q = self.queue.lock();
        if q.stopped {
            // The database handle is gone but a transaction outlived it: commit on the caller's thread.
            drop(q);
            return self.run_group(vec![p]);
        }
        q.waiting.push(p);
        let idle = !q.leading;
        drop(q);
        if idle {
            self.queue_cv.notify_one();
        }
    }

    /// Tells the committer thread to finish what is queued and exit.
    pub fn stop_committer(&self) {
        self.queue.lock().stopped = true;
        self.queue_cv.notify_all();
    }

    /// Applies everything queued (the caller has set `leading`), hands the queue on, then waits for the
    /// group to be durable and answers it: the next leader applies its group during this one's fsync.
    fn lead(&self) {
        let _unwind = Leading(self);
        let group = std::mem::take(&mut self.queue.lock().waiting);
        let applied = self.apply_group(group);
        self.hand_over();
        answer(self.settle(applied));
        self.maybe_wake_retrain();
    }

    /// Passes leading to a thread queued meanwhile (its own transaction is in the next group), or, when only
    /// callbacks wait or many are queued, to the committer thread.
    fn hand_over(&self) {
        let mut q = self.queue.lock();
        if q.waiting.is_empty() {
            q.leading = false;
            if q.stopped {
                drop(q);
                self.queue_cv.notify_all();
            }
            return;
        }
        let next = (q.waiting.len() < BUSY)
            .then(|| {
                q.waiting.iter().find_map(|p| match &p.done {
                    Waiter::Thread(w) => w.parked().cloned(),
                    Waiter::Callback(_) => None,
                })
            })
            .flatten();
        match next {
            Some(t) => t.set(Parking::Lead),
            None => {
                q.committer_turn = true;
                drop(q);
                self.queue_cv.notify_all();
            }
        }
    }

    /// Commits `group` and answers everyone in it.
    fn run_group(&self, group: Vec<Pending>) {
        let applied = self.apply_group(group);
        answer(self.settle(applied));
        self.maybe_wake_retrain();
    }

    fn apply_group(&self, group: Vec<Pending>) -> Applied {
        self.commit_group(&mut self.commit.lock(), group)
    }

    /// Waits until an applied group is durable and published, releases its transactions' locks and returns
    /// everyone's answer.
    fn settle(&self, applied: Applied) -> Answers {
        let outcome = match applied.outcome {
            Outcome::Staged(last) => self.make_durable(last),
            Outcome::Committed => Ok(()),
            Outcome::Failed(e) => Err(e),
        };
        for end in applied.ends {
            end.finish(self);
        }
        let mut answers = applied.answers;
        answers.extend(applied.accepted.into_iter().map(|(done, lsn)| {
            let r = match &outcome {
                Ok(()) => Ok(CommitInfo { lsn }),
                Err(e) => Err(e.duplicate()),
            };
            (done, r)
        }));
        answers
    }
}

fn answer(answers: Answers) {
    for (waiter, r) in answers {
        waiter.answer(r);
    }
}

/// Gives up leading if the leader panics, so that the committer thread takes what is queued after it.
struct Leading<'a>(&'a Inner);

impl Drop for Leading<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.queue.lock().leading = false;
            self.0.queue_cv.notify_all();
        }
    }
}
