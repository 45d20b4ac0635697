//! The log of ordinary commits: append-only segment files in `wal/`, one `pwrite` and one `fdatasync` per
//! commit group. A group that only adds rows needs nothing else on disk, and redb's copy-on-write commit
//! (several page writes, allocator state, a header) cost the committer more than the fsync itself. Groups that
//! also change the catalog or a manifest still commit through redb, WAL records included, so they stay atomic
//! with those changes; recovery merges both logs by LSN.
//!
//! A segment is named by the first LSN it may hold. A group is a 20-byte header (`body len u32 | body CRC u32 |
//! first LSN u64 | header CRC u32`) and a body of `len u32 | lsn u64 | record` per commit; both CRCs are seeded
//! with the segment's first LSN, so bytes of a deleted segment that the file system hands back never read as
//! groups. Space is zero-filled ahead of the writes, so `fdatasync` rarely has file metadata to write, and a
//! zero header marks the end. A crash can tear only the last group written, which nobody was told is durable:
//! recovery drops it and truncates the segment there. A bad group that a good one follows (a later group is
//! only written once the earlier one is on disk), or a bad group in an older segment, is corruption. The
//! header CRC is what makes the check cheap: after a bad group, only offsets holding a valid header are
//! candidates for a later group, so recovery never hashes arbitrary byte ranges.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::chunk_file::sync_dir;
use crate::error::{Error, Result};
use crate::store::{WalRecord, decode};

/// A group's header: body length, CRC of the body, first LSN, CRC of those 16 bytes.
const HEADER: usize = 20;
const RECORD_HEADER: usize = 12;
/// Zeros written ahead of the log at a time.
const GROW: u64 = 1 << 20;

pub(crate) struct WalLog {
    dir: PathBuf,
    segment_bytes: u64,
    /// The segment being written: its first LSN, file, write offset and zero-filled length.
    first_lsn: u64,
    file: File,
    offset: u64,
    allocated: u64,
    /// The last LSN written to the segment being written (0: none yet), and to any segment.
    last_lsn: u64,
    newest: u64,
    /// Older segments by first LSN, oldest first.
    closed: Vec<u64>,
    /// Every LSN up to here is in chunk files: a segment holding only those can go.
    floor: u64,
    /// The segment being written holds only such LSNs: start a new one with the next group.
    rotate_next: bool,
    /// Set when a write or fsync failed part-way: what is on disk is unknown, so nothing more is written.
    broken: Option<String>,
    buf: Vec<u8>,
}

fn segment_name(first_lsn: u64) -> String {
    format!("{first_lsn:020}.log")
}

fn group_crc(first_lsn: u64, body: &[u8]) -> u32 {
    crc32c::crc32c_append(crc32c::crc32c(&first_lsn.to_le_bytes()), body)
}

fn le32(b: &[u8]) -> usize {
    u32::from_le_bytes(b[..4].try_into().expect("4 bytes")) as usize
}

fn le64(b: &[u8]) -> u64 {
    u64::from_le_bytes(b[..8].try_into().expect("8 bytes"))
}

/// The body length and first LSN of a valid group header at `at`.
fn header_at(seed: u64, bytes: &[u8], at: usize) -> Option<(usize, u64)> {
    let h = bytes.get(at..at + HEADER)?;
    (crc32c::crc32c_append(crc32c::crc32c(&seed.to_le_bytes()), &h[..16]) as usize
        == le32(&h[16..]))
    .then(|| (le32(h), le64(&h[8..])))
}

/// The whole group at `at`, if one is there: its body and where the next group starts.
fn group_at(seed: u64, bytes: &[u8], at: usize) -> Option<(&[u8], usize)> {
    let (len, _) = header_at(seed, bytes, at)?;
    let body = bytes.get(at + HEADER..(at + HEADER).checked_add(len)?)?;
    (!body.is_empty() && group_crc(seed, body) as usize == le32(&bytes[at + 4..]))
        .then(|| (body, at + HEADER + body.len()))
}

/// What a segment holds.
#[derive(Debug)]
enum Scan<'a> {
    /// Every group, up to zeros or the end of the file at this offset.
    Clean(Vec<(u64, &'a [u8])>, usize),
    /// Whole groups, then a cut-short one at this offset that nothing follows: a crash during its write.
    Torn(Vec<(u64, &'a [u8])>, usize),
    /// A bad group followed by good ones, or groups that disagree with their own headers.
    Corrupt(String),
}

fn scan(first_lsn: u64, bytes: &[u8]) -> Scan<'_> {
    let mut out = Vec::new();
    let mut at = 0;
    let mut last = first_lsn.saturating_sub(1);
    loop {
        match bytes.get(at..at + HEADER) {
            None if at == bytes.len() => return Scan::Clean(out, at),
            Some(h) if h.iter().all(|b| *b == 0) => return Scan::Clean(out, at),
            _ => {}
        }
        let Some((body, next)) = group_at(first_lsn, bytes, at) else {
            // A later group was only written once this one was on disk: then this one is damaged, not torn.
            let later = match header_at(first_lsn, bytes, at) {
                // The header is sound, so the next group starts right after this body.
                Some((len, _)) => group_at(first_lsn, bytes, at + HEADER + len).is_some(),
                // The damage may be in the length: look for a valid header anywhere after it.
                None => (at + 1..bytes.len().saturating_sub(HEADER))
                    .any(|o| header_at(first_lsn, bytes, o).is_some_and(|(_, lsn)| lsn > last)),
            };
            if later {
                return Scan::Corrupt(format!("bad log group at byte {at}"));
            }
            return Scan::Torn(out, at);
        };
        if body.get(4..12).map(le64) != Some(le64(&bytes[at + 8..])) {
            return Scan::Corrupt(format!(
                "log group at byte {at} names the wrong first record"
            ));
        }
        let mut r = 0;
        while r < body.len() {
            let Some(h) = body.get(r..r + RECORD_HEADER) else {
                return Scan::Corrupt(format!(
                    "log group at byte {at} ends inside a record header"
                ));
            };
            let (len, lsn) = (le32(h), le64(&h[4..]));
            let Some(record) = body.get(r + RECORD_HEADER..r + RECORD_HEADER + len) else {
                return Scan::Corrupt(format!("log group at byte {at} ends inside a record"));
            };
            if lsn <= last {
                return Scan::Corrupt(format!("log record {lsn} at byte {at} is out of order"));
            }
            out.push((lsn, record));
            last = lsn;
            r += RECORD_HEADER + len;
        }
        at = next;
    }
}

impl WalLog {
    /// Opens `dir` (created if missing) and returns the log with its records above `skip_upto` (those at or
    /// below are in chunk files: checked, not decoded), oldest first. New records go to the last segment, or
    /// to a first one named `next_lsn`.
    pub fn open(
        dir: &Path,
        next_lsn: u64,
        segment_bytes: u64,
        skip_upto: u64,
    ) -> Result<(WalLog, Vec<(u64, WalRecord)>)> {
        if !dir.exists() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
            if let Some(parent) = dir.parent() {
                sync_dir(parent)?;
            }
        }
        let mut segments = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
            let entry = entry.map_err(|e| Error::io(dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(lsn) = name
                .strip_suffix(".log")
                .and_then(|n| n.parse::<u64>().ok())
            {
                segments.push(lsn);
            }
        }
        segments.sort_unstable();
        let mut records = Vec::new();
        let mut end = 0;
        let (mut newest, mut last_lsn) = (0, 0);
        for (i, &first) in segments.iter().enumerate() {
            let path = dir.join(segment_name(first));
            let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
            let last = i + 1 == segments.len();
            let (found, at) = match scan(first, &bytes) {
                Scan::Clean(found, at) => (found, at),
                Scan::Torn(found, at) if last => {
                    tracing::warn!(
                        "{}: the last commit group was cut short by a crash at byte {at}; it was never \
                         acknowledged, dropping it",
                        path.display()
                    );
                    (found, at)
                }
                Scan::Torn(_, at) => {
                    return Err(Error::corrupt(&path, format!("bad log group at byte {at}")));
                }
                Scan::Corrupt(why) => return Err(Error::corrupt(&path, why)),
            };
            if let Some((next, _)) = found.first()
                && *next <= newest
            {
                return Err(Error::corrupt(&path, "log segments overlap"));
            }
            let segment_last = found.last().map_or(0, |(l, _)| *l);
            newest = newest.max(segment_last);
            for (lsn, record) in found {
                if lsn <= skip_upto {
                    continue;
                }
                let what = format!("log record {lsn}");
                records.push((lsn, decode::<WalRecord>(&path, &what, record)?));
            }
            if last {
                end = at as u64;
                last_lsn = segment_last;
            }
        }
        if let Some(&first) = segments.last() {
            // The name proves every LSN below it was handed out, even when the groups holding them are gone
            // (deleted with a checkpointed segment, or torn): the next record must sort after it.
            newest = newest.max(first - 1);
        }
        let (first_lsn, file, allocated) = match segments.last() {
            Some(&first) => {
                let path = dir.join(segment_name(first));
                let file = File::options()
                    .read(true)
                    .write(true)
                    .open(&path)
                    .map_err(|e| Error::io(&path, e))?;
                // Whatever follows the last whole group (a torn one, or zeros) goes, so that no stale
                // bytes ever sit beyond what is written next.
                file.set_len(end)
                    .and_then(|()| file.sync_all())
                    .map_err(|e| Error::io(&path, e))?;
                (first, file, end)
            }
            None => (next_lsn, Self::create(dir, next_lsn)?, 0),
        };
        let closed = segments
            .iter()
            .copied()
            .filter(|&s| s != first_lsn)
            .collect();
        let log = WalLog {
            dir: dir.to_path_buf(),
            segment_bytes,
            first_lsn,
            file,
            offset: end,
            allocated,
            last_lsn,
            newest,
            closed,
            floor: 0,
            rotate_next: false,
            broken: None,
            buf: Vec::new(),
        };
        Ok((log, records))
    }

    fn create(dir: &Path, first_lsn: u64) -> Result<File> {
        let path = dir.join(segment_name(first_lsn));
        let file = File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        sync_dir(dir)?;
        Ok(file)
    }

    fn path(&self) -> PathBuf {
        self.dir.join(segment_name(self.first_lsn))
    }

    /// Appends one group's records (LSNs increasing) and returns once they are on disk.
    pub fn append(&mut self, records: &[(u64, Vec<u8>)]) -> Result<()> {
        if let Some(why) = &self.broken {
            return Err(Error::Io {
                path: self.path(),
                source: std::io::Error::other(format!(
                    "the write-ahead log failed earlier ({why}); restart the server"
                )),
            });
        }
        let Some(&(first, _)) = records.first() else {
            return Ok(());
        };
        if self.offset >= self.segment_bytes || self.rotate_next {
            self.rotate(first)?;
        }
        self.buf.clear();
        self.buf.resize(HEADER, 0);
        for (lsn, record) in records {
            self.buf
                .extend_from_slice(&(record.len() as u32).to_le_bytes());
            self.buf.extend_from_slice(&lsn.to_le_bytes());
            self.buf.extend_from_slice(record);
        }
        let body = self.buf.len() - HEADER;
        let Ok(body_len) = u32::try_from(body) else {
            return Err(Error::Store(format!(
                "a commit group of {body} bytes is too large for one log write"
            )));
        };
        let seed = self.first_lsn.to_le_bytes();
        let crc = group_crc(self.first_lsn, &self.buf[HEADER..]);
        self.buf[0..4].copy_from_slice(&body_len.to_le_bytes());
        self.buf[4..8].copy_from_slice(&crc.to_le_bytes());
        self.buf[8..16].copy_from_slice(&first.to_le_bytes());
        let head = crc32c::crc32c_append(crc32c::crc32c(&seed), &self.buf[..16]);
        self.buf[16..20].copy_from_slice(&head.to_le_bytes());
        let end = self.offset + self.buf.len() as u64;
        if end > self.allocated {
            // Zeros first: a failure here (a full disk) leaves the log as it was, so the group just fails.
            let grown = end.div_ceil(GROW) * GROW;
            let zeros = vec![0u8; (grown - self.allocated) as usize];
            self.file
                .write_all_at(&zeros, self.allocated)
                .map_err(|e| Error::io(self.path(), e))?;
            self.allocated = grown;
        }
        let written = self
            .file
            .write_all_at(&self.buf, self.offset)
            .and_then(|()| self.file.sync_data());
        if let Err(e) = written {
            // Part of the group may be on disk and a failed fsync may have dropped dirty pages: refuse to
            // write again rather than guess (recovery reads what is really there).
            let err = Error::io(self.path(), e);
            self.broken = Some(err.to_string());
            return Err(err);
        }
        self.offset = end;
        self.last_lsn = records.last().map_or(self.last_lsn, |(l, _)| *l);
        self.newest = self.newest.max(self.last_lsn);
        Ok(())
    }

    /// Starts a new segment for records from `first_lsn` on.
    fn rotate(&mut self, first_lsn: u64) -> Result<()> {
        let file = Self::create(&self.dir, first_lsn)?;
        let old = std::mem::replace(&mut self.first_lsn, first_lsn);
        self.file = file;
        self.offset = 0;
        self.allocated = 0;
        self.rotate_next = false;
        let old_last = std::mem::replace(&mut self.last_lsn, 0);
        if old_last <= self.floor && self.remove(old) {
            return Ok(());
        }
        self.closed.push(old);
        Ok(())
    }

    fn remove(&self, first_lsn: u64) -> bool {
        let path = self.dir.join(segment_name(first_lsn));
        match std::fs::remove_file(&path) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!("could not remove {}: {e}", path.display());
                false
            }
        }
    }

    /// Deletes the segments that hold only LSNs up to `upto` (their commits are in chunk files now); the one
    /// being written goes when the next group starts a new one.
    pub fn truncate(&mut self, upto: u64) {
        self.floor = self.floor.max(upto);
        let mut keep_from = 0;
        for i in 0..self.closed.len() {
            let next_first = self.closed.get(i + 1).copied().unwrap_or(self.first_lsn);
            if next_first - 1 > upto || !self.remove(self.closed[i]) {
                break;
            }
            keep_from = i + 1;
        }
        self.closed.drain(..keep_from);
        if self.offset > 0 && self.last_lsn <= upto {
            self.rotate_next = true;
        }
    }

    /// The newest LSN in the log, skipped records included (0: empty).
    pub fn newest(&self) -> u64 {
        self.newest
    }

    /// Segment files on disk, the one being written included.
    #[cfg(test)]
    pub fn segments(&self) -> usize {
        self.closed.len() + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{WalOp, WalTable, encode};
    use crate::types::Value;

    fn record(i: i64) -> Vec<u8> {
        encode(&WalRecord {
            tables: vec![WalTable {
                table_id: 1,
                ops: vec![WalOp::Put(vec![
                    Value::Int64(i),
                    Value::Text("x".repeat(40)),
                ])],
            }],
        })
    }

    /// A fresh log in `dir/wal` with one group per LSN in `lsns`, closed again; returns the log directory.
    fn written(dir: &Path, segment_bytes: u64, lsns: std::ops::RangeInclusive<u64>) -> PathBuf {
        let wal = dir.join("wal");
        let (mut log, _) = WalLog::open(&wal, *lsns.start(), segment_bytes, 0).unwrap();
        for lsn in lsns {
            log.append(&[(lsn, record(lsn as i64))]).unwrap();
        }
        wal
    }

    fn ids(records: &[(u64, WalRecord)]) -> Vec<u64> {
        records.iter().map(|(l, _)| *l).collect()
    }

    #[test]
    fn records_come_back_in_order_across_segments_and_truncation_drops_old_ones() {
        let dir = tempfile::tempdir().unwrap();
        let wal = dir.path().join("wal");
        let (mut log, got) = WalLog::open(&wal, 1, 4096, 0).unwrap();
        assert!(got.is_empty());
        for lsn in (1..=200u64).step_by(2) {
            log.append(&[(lsn, record(lsn as i64)), (lsn + 1, record(-(lsn as i64)))])
                .unwrap();
        }
        assert!(log.segments() > 3, "small segments rotate");
        drop(log);
        let (mut log, got) = WalLog::open(&wal, 999, 4096, 0).unwrap();
        assert_eq!(ids(&got), (1..=200).collect::<Vec<_>>());
        log.truncate(120);
        drop(log);
        let (_, got) = WalLog::open(&wal, 999, 4096, 0).unwrap();
        let first = got[0].0;
        assert!(first <= 121 && first > 1, "kept from {first}");
        assert_eq!(got.last().unwrap().0, 200);
    }

    #[test]
    fn a_checkpointed_segment_goes_with_the_next_group_and_covered_records_are_not_decoded() {
        let dir = tempfile::tempdir().unwrap();
        let wal = dir.path().join("wal");
        let (mut log, _) = WalLog::open(&wal, 1, 1 << 20, 0).unwrap();
        for lsn in 1..=10 {
            log.append(&[(lsn, record(lsn as i64))]).unwrap();
        }
        log.truncate(9);
        assert_eq!(log.segments(), 1, "the segment still holds LSN 10");
        log.truncate(10);
        log.append(&[(11, record(11))]).unwrap();
        assert_eq!(
            std::fs::read_dir(&wal).unwrap().count(),
            1,
            "old segment removed"
        );
        log.append(&[(12, record(12))]).unwrap();
        drop(log);
        let (log, got) = WalLog::open(&wal, 13, 1 << 20, 11).unwrap();
        assert_eq!(ids(&got), vec![12]);
        assert_eq!(log.newest(), 12);
    }

    #[test]
    fn a_torn_last_group_is_dropped_and_the_log_goes_on_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let wal = dir.path().join("wal");
        let (mut log, _) = WalLog::open(&wal, 1, 1 << 20, 0).unwrap();
        log.append(&[(1, record(1)), (2, record(2))]).unwrap();
        let good = log.offset;
        log.append(&[(3, record(3))]).unwrap();
        drop(log);
        let path = wal.join(segment_name(1));
        // Tear the last group: its CRC no longer matches, and stale bytes follow it.
        let f = File::options().write(true).open(&path).unwrap();
        f.write_all_at(&[0xAB; 7], good + HEADER as u64 + 3)
            .unwrap();
        drop(f);
        let (mut log, got) = WalLog::open(&wal, 3, 1 << 20, 0).unwrap();
        assert_eq!(ids(&got), vec![1, 2]);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), good);
        log.append(&[(3, record(30))]).unwrap();
        drop(log);
        let (_, got) = WalLog::open(&wal, 4, 1 << 20, 0).unwrap();
        assert_eq!(ids(&got), vec![1, 2, 3]);
    }

    #[test]
    fn a_bad_group_before_the_last_segment_is_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let wal = written(dir.path(), 256, 1..=20);
        let path = wal.join(segment_name(1));
        let f = File::options().write(true).open(&path).unwrap();
        f.write_all_at(&[0xFF], HEADER as u64 + 1).unwrap();
        drop(f);
        let err = WalLog::open(&wal, 21, 256, 0).err().expect("corrupt");
        assert!(matches!(err, Error::Corrupt { .. }), "{err}");
    }

    #[test]
    fn a_damaged_group_with_groups_after_it_is_corruption_not_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let wal = written(dir.path(), 1 << 20, 1..=5);
        let path = wal.join(segment_name(1));
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[HEADER + RECORD_HEADER + 5] ^= 0x01;
        std::fs::write(&path, &bytes).unwrap();
        let err = WalLog::open(&wal, 6, 1 << 20, 0).err().expect("corrupt");
        assert!(matches!(err, Error::Corrupt { .. }), "{err}");
    }

    #[test]
    fn groups_of_another_segment_do_not_parse_here() {
        let dir = tempfile::tempdir().unwrap();
        let wal = dir.path().join("wal");
        let (mut log, _) = WalLog::open(&wal, 1, 1 << 20, 0).unwrap();
        log.append(&[(5, record(5)), (6, record(6))]).unwrap();
        drop(log);
        let bytes = std::fs::read(wal.join(segment_name(1))).unwrap();
        assert!(matches!(scan(1, &bytes), Scan::Clean(r, _) if r.len() == 2));
        assert!(matches!(scan(2, &bytes), Scan::Torn(r, 0) if r.is_empty()));
    }

    mod model {
        use super::*;
        use proptest::prelude::*;

        #[derive(Clone, Debug)]
        enum Op {
            /// A group of this many records.
            Append(usize),
            /// Everything up to this many LSNs back from the newest is in chunk files.
            Truncate(u64),
            Reopen,
            /// A crash during the last group's write: a byte of it never reached the disk.
            TearLastAndReopen(usize),
        }

        fn op() -> impl Strategy<Value = Op> {
            prop_oneof![
                6 => (1usize..6).prop_map(Op::Append),
                2 => (0u64..30).prop_map(Op::Truncate),
                1 => Just(Op::Reopen),
                1 => (0usize..200).prop_map(Op::TearLastAndReopen),
            ]
        }

        /// After a reopen the database hands out LSNs from the log's newest on (records below the floor may be
        /// gone with their segment, and a torn group's LSNs are free again): the model follows.
        fn reopened(
            log: WalLog,
            got: &[(u64, WalRecord)],
            kept: &mut Vec<u64>,
            next: &mut u64,
        ) -> Result<WalLog, TestCaseError> {
            prop_assert!(log.newest() >= got.last().map_or(0, |(l, _)| *l));
            *kept = got.iter().map(|(l, _)| *l).collect();
            *next = log.newest() + 1;
            Ok(log)
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(
                std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(64)
            ))]

            /// Against a list of what was appended: a reopen returns, in order, exactly the records above the
            /// truncation floor plus possibly some below it (segments are deleted whole), never one that was
            /// torn, and never anything else.
            #[test]
            fn log_matches_a_list_of_appended_records(ops in proptest::collection::vec(op(), 1..60)) {
                let dir = tempfile::tempdir().unwrap();
                let wal = dir.path().join("wal");
                let (mut log, _) = WalLog::open(&wal, 1, 700, 0).unwrap();
                let mut kept: Vec<u64> = vec![];
                let mut next = 1u64;
                let mut floor = 0u64;
                // The last group's segment, offset, length in bytes and record count, while it is the last.
                let mut last_group: Option<(u64, u64, u64, usize)> = None;
                let check = |got: &[(u64, WalRecord)], kept: &[u64], floor: u64| {
                    let got: Vec<u64> = got.iter().map(|(l, _)| *l).collect();
                    let must: Vec<u64> = kept.iter().copied().filter(|l| *l > floor).collect();
                    prop_assert!(got.ends_with(&must), "got {:?}, must end with {:?}", got, must);
                    let extra = &got[..got.len() - must.len()];
                    prop_assert!(extra.iter().all(|l| *l <= floor && kept.contains(l)), "extra {:?}", extra);
                    Ok(())
                };
                for op in ops {
                    match op {
                        Op::Append(n) => {
                            let records: Vec<(u64, Vec<u8>)> =
                                (next..next + n as u64).map(|l| (l, record(l as i64))).collect();
                            log.append(&records).unwrap();
                            let start = log.offset - (HEADER + records.iter().map(|(_, r)| RECORD_HEADER + r.len()).sum::<usize>()) as u64;
                            last_group = Some((log.first_lsn, start, log.offset - start, n));
                            kept.extend(next..next + n as u64);
                            next += n as u64;
                        }
                        Op::Truncate(back) => {
                            let upto = (next - 1).saturating_sub(back);
                            floor = floor.max(upto);
                            log.truncate(upto);
                        }
                        Op::Reopen => {
                            drop(log);
                            let (l, got) = WalLog::open(&wal, next, 700, 0).unwrap();
                            check(&got, &kept, floor)?;
                            log = reopened(l, &got, &mut kept, &mut next)?;
                            last_group = None;
                        }
                        Op::TearLastAndReopen(at) => {
                            drop(log);
                            if let Some((segment, start, len, n)) = last_group.take() {
                                let path = wal.join(segment_name(segment));
                                let f = File::options().read(true).write(true).open(&path).unwrap();
                                let mut b = [0u8; 1];
                                let pos = start + at as u64 % len;
                                f.read_exact_at(&mut b, pos).unwrap();
                                f.write_all_at(&[b[0] ^ 0x5A], pos).unwrap();
                                kept.truncate(kept.len() - n);
                            }
                            let (l, got) = WalLog::open(&wal, next, 700, 0).unwrap();
                            check(&got, &kept, floor)?;
                            log = reopened(l, &got, &mut kept, &mut next)?;
                        }
                    }
                }
            }
        }
    }
}
