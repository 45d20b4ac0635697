//! Row and advisory locks, held in memory only (nothing here survives a restart, by design: a crash ends
//! every transaction that held one).
//!
//! Row locks have PostgreSQL's four modes and its conflict table. A request that conflicts with a holder of
//! another session, or with an earlier waiter, queues; releases hand the lock to waiters in FIFO order, so a
//! hot row is served in arrival order instead of by whoever polls first. Waits are futures (the server awaits
//! them on its own runtime, so a cancel or a timeout just drops the wait) and can also be waited on by a
//! blocking caller. Deadlocks are found by walking the wait-for graph from a waiter; the server asks once the
//! wait has lasted `deadlock_timeout`, and the asker is the victim, as in PostgreSQL.

use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use crate::types::Key;

/// PostgreSQL's row-level lock modes, weakest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LockMode {
    /// `FOR KEY SHARE`: only blocks `FOR UPDATE` (key changes and deletes).
    KeyShare,
    /// `FOR SHARE`.
    Share,
    /// `FOR NO KEY UPDATE`, and what an UPDATE that leaves the key alone takes.
    NoKeyUpdate,
    /// `FOR UPDATE`, and what DELETE, INSERT and key-changing UPDATE take.
    Update,
}

impl LockMode {
    /// PostgreSQL's row-lock conflict table.
    pub fn conflicts(self, other: LockMode) -> bool {
        use LockMode::*;
        matches!(
            (self, other),
            (Update, _) | (_, Update) | (NoKeyUpdate, NoKeyUpdate | Share) | (Share, NoKeyUpdate)
        )
    }
}

/// What a lock protects.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Resource {
    Row {
        table: u64,
        key: Key,
    },
    /// A table: writers hold it in `KeyShare` (compatible with each other), DROP and TRUNCATE in `Update`.
    Table(u64),
    /// `pg_advisory_lock(bigint)`.
    Advisory(i64),
    /// `pg_advisory_lock(int, int)`: a key space of its own, as in PostgreSQL.
    AdvisoryPair(i32, i32),
}

impl Resource {
    /// Advisory locks count re-acquisitions and are released one count at a time; row locks are held once.
    fn reentrant(&self) -> bool {
        matches!(self, Resource::Advisory(_) | Resource::AdvisoryPair(..))
    }
}

/// Who holds a lock: a session, for the length of one transaction or of the session (advisory locks).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Owner {
    pub session: u64,
    /// The transaction, or `None` for a session-level advisory lock.
    pub txn: Option<u64>,
}

/// What to do when a lock is taken by someone else.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitPolicy {
    Wait,
    /// `NOWAIT`: fail at once.
    NoWait,
    /// `SKIP LOCKED`: pass over the row.
    Skip,
}

/// The outcome of asking for a lock.
#[derive(Debug)]
pub enum Acquire {
    Granted,
    /// Taken by another session and the policy says not to wait.
    Busy,
    /// Queued: await (or `block`) the wait; once it finishes the lock is held.
    Wait(LockWait),
}

#[derive(Debug)]
struct Holder {
    owner: Owner,
    mode: LockMode,
    count: u32,
}

#[derive(Debug, Default)]
struct Entry {
    holders: Vec<Holder>,
    waiters: VecDeque<Arc<Waiter>>,
}

impl Entry {
    fn blocked_by_holders(&self, session: u64, mode: LockMode) -> bool {
        self.holders
            .iter()
            .any(|h| h.owner.session != session && h.mode.conflicts(mode))
    }

    fn add_holder(&mut self, owner: Owner, mode: LockMode, reentrant: bool) {
        if reentrant {
            match self
                .holders
                .iter_mut()
                .find(|h| h.owner == owner && h.mode == mode)
            {
                Some(h) => h.count += 1,
                None => self.holders.push(Holder {
                    owner,
                    mode,
                    count: 1,
                }),
            }
        } else {
            match self.holders.iter_mut().find(|h| h.owner == owner) {
                Some(h) => h.mode = h.mode.max(mode),
                None => self.holders.push(Holder {
                    owner,
                    mode,
                    count: 1,
                }),
            }
        }
    }

    /// Grants queued requests from the front while they fit (FIFO: one that does not fit stops the rest).
    fn grant_waiters(&mut self, reentrant: bool) {
        while let Some(w) = self.waiters.front() {
            if self.blocked_by_holders(w.owner.session, w.mode) {
                break;
            }
            let w = self.waiters.pop_front().expect("front exists");
            self.add_holder(w.owner, w.mode, reentrant);
            w.finish(true);
        }
    }
}

#[derive(Debug, Default)]
struct WaitState {
    /// `Some(true)`: granted; `Some(false)`: withdrawn (the waiter gave up).
    done: Option<bool>,
    waker: Option<Waker>,
}

#[derive(Debug)]
struct Waiter {
    owner: Owner,
    mode: LockMode,
    resource: Resource,
    state: Mutex<WaitState>,
    cv: Condvar,
}

impl Waiter {
    fn finish(&self, granted: bool) {
        let mut s = self.state.lock();
        s.done = Some(granted);
        if let Some(w) = s.waker.take() {
            w.wake();
        }
        self.cv.notify_all();
    }
}

const SHARDS: usize = 64;

/// One row of `pg_locks`.
#[derive(Clone, Debug)]
pub struct LockInfo {
    pub resource: Resource,
    pub owner: Owner,
    pub mode: LockMode,
    pub granted: bool,
}

/// The lock table of one database.
#[derive(Debug)]
pub struct LockTable {
    shards: Vec<Mutex<HashMap<Resource, Entry>>>,
    /// Who waits for what: the wait-for graph's edges start here.
    waiting: Mutex<HashMap<u64, Arc<Waiter>>>,
}

impl Default for LockTable {
    fn default() -> Self {
        LockTable {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            waiting: Mutex::new(HashMap::new()),
        }
    }
}

impl LockTable {
    fn shard(&self, r: &Resource) -> &Mutex<HashMap<Resource, Entry>> {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        r.hash(&mut h);
        &self.shards[(h.finish() as usize) % SHARDS]
    }

    /// Asks for `resource` in `mode`.
    pub fn acquire(
        self: &Arc<Self>,
        owner: Owner,
        resource: Resource,
        mode: LockMode,
        policy: WaitPolicy,
    ) -> Acquire {
        let reentrant = resource.reentrant();
        let mut shard = self.shard(&resource).lock();
        let e = shard.entry(resource.clone()).or_default();
        let holds = e.holders.iter().any(|h| h.owner.session == owner.session);
        // Queue jumping is allowed only to a session that already holds the resource (an upgrade): making it
        // queue behind someone who waits for it would deadlock by construction.
        let queued = !holds
            && e.waiters
                .iter()
                .any(|w| w.owner.session != owner.session && w.mode.conflicts(mode));
        if !queued && !e.blocked_by_holders(owner.session, mode) {
            e.add_holder(owner, mode, reentrant);
            return Acquire::Granted;
        }
        if policy != WaitPolicy::Wait {
            if e.holders.is_empty() && e.waiters.is_empty() {
                shard.remove(&resource);
            }
            return Acquire::Busy;
        }
        let waiter = Arc::new(Waiter {
            owner,
            mode,
            resource,
            state: Mutex::new(WaitState::default()),
            cv: Condvar::new(),
        });
        if holds {
            // An upgrade waits only for the other holders: queued behind requests that wait for its own
            // hold, it would deadlock by construction (PostgreSQL queues it first too).
            e.waiters.push_front(waiter.clone());
        } else {
            e.waiters.push_back(waiter.clone());
        }
        drop(shard);
        self.waiting.lock().insert(owner.session, waiter.clone());
        Acquire::Wait(LockWait {
            waiter,
            locks: self.clone(),
        })
    }

    /// Releases `owner`'s hold on `resource` (one count of `mode` for advisory locks; the whole hold for a
    /// row). Returns whether it held it.
    pub fn release(&self, owner: Owner, resource: &Resource, mode: Option<LockMode>) -> bool {
        let reentrant = resource.reentrant();
        let mut shard = self.shard(resource).lock();
        let Some(e) = shard.get_mut(resource) else {
            return false;
        };
        let Some(i) = e
            .holders
            .iter()
            .position(|h| h.owner == owner && mode.is_none_or(|m| h.mode == m))
        else {
            return false;
        };
        if reentrant && e.holders[i].count > 1 {
            e.holders[i].count -= 1;
            return true;
        }
        e.holders.swap_remove(i);
        e.grant_waiters(reentrant);
        if e.holders.is_empty() && e.waiters.is_empty() {
            shard.remove(resource);
        }
        true
    }

    /// Releases every hold `owner` has on each of `resources` (the end of a transaction).
    pub fn release_all(&self, owner: Owner, resources: &[Resource]) {
        for r in resources {
            while self.release(owner, r, None) {
                if !r.reentrant() {
                    break;
                }
            }
        }
    }

    /// Whether `owner` holds `resource` in `mode` or stronger (row locks) / in exactly `mode` (advisory).
    pub fn holds(&self, owner: Owner, resource: &Resource, mode: LockMode) -> bool {
        let shard = self.shard(resource).lock();
        shard.get(resource).is_some_and(|e| {
            e.holders.iter().any(|h| {
                h.owner == owner
                    && if resource.reentrant() {
                        h.mode == mode
                    } else {
                        h.mode >= mode
                    }
            })
        })
    }

    /// Sessions `session`'s current wait is blocked by: conflicting holders, and conflicting waiters queued
    /// ahead of it (they will be served first).
    pub fn blockers(&self, session: u64) -> Vec<u64> {
        let Some(w) = self.waiting.lock().get(&session).cloned() else {
            return Vec::new();
        };
        let shard = self.shard(&w.resource).lock();
        let Some(e) = shard.get(&w.resource) else {
            return Vec::new();
        };
        let mut out: Vec<u64> = e
            .holders
            .iter()
            .filter(|h| h.owner.session != session && h.mode.conflicts(w.mode))
            .map(|h| h.owner.session)
            .collect();
        for q in &e.waiters {
            if Arc::ptr_eq(q, &w) {
                break;
            }
            if q.owner.session != session && q.mode.conflicts(w.mode) {
                out.push(q.owner.session);
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Whether `session`'s wait closes a cycle in the wait-for graph.
    pub fn deadlocked(&self, session: u64) -> bool {
        let mut seen = HashSet::new();
        let mut stack = self.blockers(session);
        while let Some(s) = stack.pop() {
            if s == session {
                return true;
            }
            if seen.insert(s) {
                stack.extend(self.blockers(s));
            }
        }
        false
    }

    /// Every held and awaited lock (for `pg_locks`).
    pub fn snapshot(&self) -> Vec<LockInfo> {
        let mut out = Vec::new();
        for shard in &self.shards {
            for (r, e) in shard.lock().iter() {
                for h in &e.holders {
                    out.push(LockInfo {
                        resource: r.clone(),
                        owner: h.owner,
                        mode: h.mode,
                        granted: true,
                    });
                }
                for w in &e.waiters {
                    out.push(LockInfo {
                        resource: r.clone(),
                        owner: w.owner,
                        mode: w.mode,
                        granted: false,
                    });
                }
            }
        }
        out
    }

    /// Withdraws a queued request that has not been granted; returns whether it had been granted meanwhile.
    fn withdraw(&self, w: &Arc<Waiter>) -> bool {
        {
            let mut shard = self.shard(&w.resource).lock();
            if w.state.lock().done == Some(true) {
                drop(shard);
                self.forget_wait(w);
                return true;
            }
            if let Some(e) = shard.get_mut(&w.resource) {
                e.waiters.retain(|q| !Arc::ptr_eq(q, w));
                // A withdrawn conflicting request may have been all that kept later ones waiting.
                e.grant_waiters(w.resource.reentrant());
                if e.holders.is_empty() && e.waiters.is_empty() {
                    shard.remove(&w.resource);
                }
            }
            w.finish(false);
        }
        self.forget_wait(w);
        false
    }

    fn forget_wait(&self, w: &Arc<Waiter>) {
        let mut waiting = self.waiting.lock();
        if waiting
            .get(&w.owner.session)
            .is_some_and(|q| Arc::ptr_eq(q, w))
        {
            waiting.remove(&w.owner.session);
        }
    }
}

/// A queued lock request. Await it (or `block`) until the lock is granted; dropping it before then withdraws
/// the request (a cancelled or timed-out statement).
#[derive(Debug)]
pub struct LockWait {
    waiter: Arc<Waiter>,
    locks: Arc<LockTable>,
}

impl LockWait {
    /// What is awaited.
    pub fn resource(&self) -> &Resource {
        &self.waiter.resource
    }

    /// Whether this wait closes a cycle of waits (the caller should then give up with a deadlock error).
    pub fn deadlocked(&self) -> bool {
        self.locks.deadlocked(self.waiter.owner.session)
    }

    /// Sessions this wait is blocked by.
    pub fn blockers(&self) -> Vec<u64> {
        self.locks.blockers(self.waiter.owner.session)
    }

    /// Blocks the calling thread until the lock is granted or `timeout` passes (then `false`; the request
    /// stays queued until the wait is dropped).
    pub fn block(&self, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        let mut s = self.waiter.state.lock();
        while s.done.is_none() {
            if self.waiter.cv.wait_until(&mut s, deadline).timed_out() {
                return s.done == Some(true);
            }
        }
        s.done == Some(true)
    }

    fn granted(&self) -> bool {
        self.waiter.state.lock().done == Some(true)
    }
}

impl Future for LockWait {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut s = self.waiter.state.lock();
        if s.done.is_some() {
            return Poll::Ready(());
        }
        s.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl Drop for LockWait {
    fn drop(&mut self) {
        if self.granted() {
            self.locks.forget_wait(&self.waiter);
        } else {
            self.locks.withdraw(&self.waiter);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(session: u64) -> Owner {
        Owner {
            session,
            txn: Some(session),
        }
    }

    fn row(k: i64) -> Resource {
        Resource::Row {
            table: 1,
            key: Key::Int(k),
        }
    }

    #[test]
    fn conflict_table_is_postgres() {
        use LockMode::*;
        let modes = [KeyShare, Share, NoKeyUpdate, Update];
        // PostgreSQL docs, "Conflicting Row-Level Locks" (rows: requested, columns: held).
        let expected = [
            [false, false, false, true],
            [false, false, true, true],
            [false, true, true, true],
            [true, true, true, true],
        ];
        for (i, a) in modes.iter().enumerate() {
            for (j, b) in modes.iter().enumerate() {
                assert_eq!(a.conflicts(*b), expected[i][j], "{a:?} vs {b:?}");
            }
        }
    }

    #[test]
    fn fifo_handoff_and_withdraw() {
        let t = Arc::new(LockTable::default());
        assert!(matches!(
            t.acquire(owner(1), row(1), LockMode::Update, WaitPolicy::Wait),
            Acquire::Granted
        ));
        let Acquire::Wait(w2) = t.acquire(owner(2), row(1), LockMode::Update, WaitPolicy::Wait)
        else {
            panic!("must wait")
        };
        let Acquire::Wait(w3) = t.acquire(owner(3), row(1), LockMode::Share, WaitPolicy::Wait)
        else {
            panic!("must wait")
        };
        assert!(matches!(
            t.acquire(owner(4), row(1), LockMode::Share, WaitPolicy::NoWait),
            Acquire::Busy
        ));
        assert_eq!(w3.blockers(), vec![1, 2]);
        assert!(t.release(owner(1), &row(1), None));
        assert!(w2.block(Duration::from_secs(1)));
        assert!(!w3.block(Duration::from_millis(10)));
        drop(w3); // withdrawn: 2 still holds, nobody else queued
        assert!(t.release(owner(2), &row(1), None));
        assert!(t.snapshot().is_empty());
    }

    #[test]
    fn an_upgrade_waits_only_for_the_other_holders() {
        let t = Arc::new(LockTable::default());
        for s in [1, 2] {
            assert!(matches!(
                t.acquire(owner(s), row(1), LockMode::Share, WaitPolicy::Wait),
                Acquire::Granted
            ));
        }
        let Acquire::Wait(w3) = t.acquire(owner(3), row(1), LockMode::Update, WaitPolicy::Wait)
        else {
            panic!("must wait")
        };
        let Acquire::Wait(up) = t.acquire(owner(1), row(1), LockMode::Update, WaitPolicy::Wait)
        else {
            panic!("must wait for session 2")
        };
        assert_eq!(up.blockers(), vec![2]);
        assert!(t.release(owner(2), &row(1), None));
        assert!(up.block(Duration::from_secs(1)), "the upgrade goes first");
        assert!(!w3.block(Duration::from_millis(10)));
        drop(up);
        assert!(t.release(owner(1), &row(1), None));
        assert!(w3.block(Duration::from_secs(1)));
    }

    #[test]
    fn deadlock_cycle_is_found_from_either_side() {
        let t = Arc::new(LockTable::default());
        let g = |s, k| t.acquire(owner(s), row(k), LockMode::Update, WaitPolicy::Wait);
        assert!(matches!(g(1, 1), Acquire::Granted));
        assert!(matches!(g(2, 2), Acquire::Granted));
        let Acquire::Wait(a) = g(1, 2) else { panic!() };
        assert!(!a.deadlocked());
        let Acquire::Wait(b) = g(2, 1) else { panic!() };
        assert!(a.deadlocked() && b.deadlocked());
        drop(b);
        t.release_all(owner(2), &[row(2)]);
        assert!(a.block(Duration::from_secs(1)));
    }

    #[test]
    fn advisory_locks_count_and_share() {
        let t = Arc::new(LockTable::default());
        let s1 = Owner {
            session: 1,
            txn: None,
        };
        let s2 = Owner {
            session: 2,
            txn: None,
        };
        let r = Resource::Advisory(42);
        for _ in 0..2 {
            assert!(matches!(
                t.acquire(s1, r.clone(), LockMode::Update, WaitPolicy::NoWait),
                Acquire::Granted
            ));
        }
        assert!(matches!(
            t.acquire(s2, r.clone(), LockMode::Share, WaitPolicy::NoWait),
            Acquire::Busy
        ));
        assert!(t.release(s1, &r, Some(LockMode::Update)));
        assert!(t.holds(s1, &r, LockMode::Update));
        assert!(t.release(s1, &r, Some(LockMode::Update)));
        assert!(!t.release(s1, &r, Some(LockMode::Update)));
        for s in [s1, s2] {
            assert!(matches!(
                t.acquire(s, r.clone(), LockMode::Share, WaitPolicy::NoWait),
                Acquire::Granted
            ));
        }
    }
}
