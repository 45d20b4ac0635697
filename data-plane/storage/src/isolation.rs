//! Isolation levels, and the serializable validator.
//!
//! SERIALIZABLE is backward validation at commit (the shape of FoundationDB's resolver): a serializable
//! transaction records the keys and key ranges it read; the commit leader, which sees every commit in order,
//! fails it with a serialization error if any transaction that committed after its snapshot wrote into them.
//! Every transaction that passes has read exactly what the database held just before its own commit, so the
//! committed serializable transactions are equivalent to running one at a time in commit order. A read-only
//! transaction serializes at its snapshot and is never failed. Reads are tracked per primary-key range, so a
//! filter on other columns covers the range the scan read (a full scan covers the table): that is the source
//! of false positives.
//!
//! The writes to validate against are kept only while a serializable transaction is in flight, and only
//! back to the oldest such transaction's snapshot.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::ops::Bound;

use parking_lot::Mutex;

use crate::types::Key;
use crate::version::KeyRange;

/// PostgreSQL's isolation levels (READ UNCOMMITTED behaves as READ COMMITTED, as in PostgreSQL).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Isolation {
    #[default]
    ReadCommitted,
    RepeatableRead,
    Serializable,
}

impl Isolation {
    /// The name `SHOW transaction_isolation` prints.
    pub fn name(self) -> &'static str {
        match self {
            Isolation::ReadCommitted => "read committed",
            Isolation::RepeatableRead => "repeatable read",
            Isolation::Serializable => "serializable",
        }
    }

    /// Parses PostgreSQL's spellings (`read uncommitted` is read committed).
    pub fn parse(s: &str) -> Option<Isolation> {
        let s = s.trim().to_ascii_lowercase();
        let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
        Some(match s.as_str() {
            "read committed" | "read uncommitted" => Isolation::ReadCommitted,
            "repeatable read" => Isolation::RepeatableRead,
            "serializable" => Isolation::Serializable,
            _ => return None,
        })
    }
}

/// What one table's reads covered.
#[derive(Debug, Default)]
pub(crate) struct TableReads {
    pub all: bool,
    pub keys: BTreeSet<Key>,
    pub ranges: Vec<(Bound<Key>, Bound<Key>)>,
}

impl TableReads {
    fn covers(&self, k: &Key) -> bool {
        self.all || self.keys.contains(k) || self.ranges.iter().any(|r| in_range(r, k))
    }

    fn overlaps(&self, lo: &Key, hi: &Key) -> bool {
        self.all
            || self.keys.range(lo.clone()..=hi.clone()).next().is_some()
            || self.ranges.iter().any(|(s, e)| {
                let starts_before_hi = match s {
                    Bound::Included(s) => s <= hi,
                    Bound::Excluded(s) => s < hi,
                    Bound::Unbounded => true,
                };
                let ends_after_lo = match e {
                    Bound::Included(e) => e >= lo,
                    Bound::Excluded(e) => e > lo,
                    Bound::Unbounded => true,
                };
                starts_before_hi && ends_after_lo
            })
    }
}

fn in_range((s, e): &(Bound<Key>, Bound<Key>), k: &Key) -> bool {
    (match s {
        Bound::Included(s) => k >= s,
        Bound::Excluded(s) => k > s,
        Bound::Unbounded => true,
    }) && (match e {
        Bound::Included(e) => k <= e,
        Bound::Excluded(e) => k < e,
        Bound::Unbounded => true,
    })
}

/// A serializable transaction's read set, shared with the readers it hands out.
#[derive(Debug, Default)]
pub struct ReadSet {
    tables: Mutex<BTreeMap<u64, TableReads>>,
}

impl ReadSet {
    pub(crate) fn key(&self, table: u64, k: &Key) {
        let mut t = self.tables.lock();
        let r = t.entry(table).or_default();
        if !r.all {
            r.keys.insert(k.clone());
        }
    }

    pub(crate) fn range(&self, table: u64, range: &KeyRange) {
        let mut t = self.tables.lock();
        let r = t.entry(table).or_default();
        if r.all {
            return;
        }
        if matches!(
            (&range.start, &range.end),
            (Bound::Unbounded, Bound::Unbounded)
        ) {
            r.all = true;
            r.keys.clear();
            r.ranges.clear();
        } else {
            r.ranges.push((range.start.clone(), range.end.clone()));
        }
    }

    pub(crate) fn conflicts(&self, w: &WriteSummary) -> bool {
        let t = self.tables.lock();
        match w {
            WriteSummary::Everything => !t.is_empty(),
            WriteSummary::Tables(tables) => tables.iter().any(|(id, tw)| {
                t.get(id).is_some_and(|r| {
                    tw.all
                        || tw.keys.iter().any(|k| r.covers(k))
                        || tw.ranges.iter().any(|(lo, hi)| r.overlaps(lo, hi))
                })
            }),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.tables.lock().is_empty()
    }
}

/// What one commit wrote, for validating serializable transactions.
#[derive(Debug)]
pub(crate) enum WriteSummary {
    /// Not recorded in detail (a serializable transaction began while the group was being applied):
    /// conflicts with any read.
    Everything,
    Tables(BTreeMap<u64, TableWritten>),
}

#[derive(Debug, Default)]
pub(crate) struct TableWritten {
    /// The whole table (CREATE, DROP, TRUNCATE).
    pub all: bool,
    pub keys: Vec<Key>,
    /// Inclusive key ranges (bulk appends).
    pub ranges: Vec<(Key, Key)>,
}

/// Serializable transactions in flight (by snapshot LSN) and the commits since the oldest one's snapshot.
#[derive(Debug, Default)]
pub(crate) struct SerialState {
    active: BTreeMap<u64, usize>,
    log: VecDeque<(u64, WriteSummary)>,
}

impl SerialState {
    pub fn any_active(&self) -> bool {
        !self.active.is_empty()
    }

    pub fn register(&mut self, lsn: u64) {
        *self.active.entry(lsn).or_default() += 1;
    }

    pub fn unregister(&mut self, lsn: u64) {
        if let Some(n) = self.active.get_mut(&lsn) {
            *n -= 1;
            if *n == 0 {
                self.active.remove(&lsn);
            }
        }
        self.prune();
    }

    /// Records a commit's writes (caller: the commit leader, before it publishes the commit).
    pub fn record(&mut self, lsn: u64, w: WriteSummary) {
        if self.any_active() {
            self.log.push_back((lsn, w));
        }
    }

    fn prune(&mut self) {
        match self.active.keys().next() {
            None => self.log.clear(),
            Some(&oldest) => {
                while self.log.front().is_some_and(|(l, _)| *l <= oldest) {
                    self.log.pop_front();
                }
            }
        }
    }

    /// Whether a transaction with snapshot `lsn` and these reads must fail: a later commit wrote into them.
    pub fn conflicts(&self, lsn: u64, reads: &ReadSet) -> bool {
        self.log
            .iter()
            .rev()
            .take_while(|(l, _)| *l > lsn)
            .any(|(_, w)| reads.conflicts(w))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(table: u64, keys: &[i64]) -> WriteSummary {
        let mut m = BTreeMap::new();
        m.insert(
            table,
            TableWritten {
                all: false,
                keys: keys.iter().map(|k| Key::Int(*k)).collect(),
                ranges: vec![],
            },
        );
        WriteSummary::Tables(m)
    }

    #[test]
    fn later_writes_into_reads_conflict() {
        let mut s = SerialState::default();
        s.register(10);
        s.record(11, written(1, &[5]));
        let reads = ReadSet::default();
        reads.key(1, &Key::Int(4));
        reads.range(
            1,
            &KeyRange {
                start: Bound::Included(Key::Int(100)),
                end: Bound::Excluded(Key::Int(200)),
            },
        );
        assert!(!s.conflicts(10, &reads));
        s.record(12, written(1, &[150]));
        assert!(s.conflicts(10, &reads));
        // A snapshot that already includes the write has read it.
        assert!(!s.conflicts(12, &reads));
        s.unregister(10);
        assert!(s.log.is_empty());
    }

    #[test]
    fn ranges_overlap_inclusively() {
        let r = TableReads {
            ranges: vec![(Bound::Excluded(Key::Int(10)), Bound::Unbounded)],
            ..TableReads::default()
        };
        assert!(!r.overlaps(&Key::Int(1), &Key::Int(10)));
        assert!(r.overlaps(&Key::Int(1), &Key::Int(11)));
        assert!(!r.covers(&Key::Int(10)));
    }
}
