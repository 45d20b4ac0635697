//! Immutable versions of tables and of the whole database, and every read path over them.
//!
//! A table version is chunks (sorted, disjoint, each with a learned model) + the open tail + an ordered delta
//! of out-of-order writes and tombstones. Reads merge the three; every point, range and multi-key read finds
//! positions through the learned models, never by scanning.

use std::ops::Bound;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow_array::{ArrayRef, RecordBatch, make_array};
use arrow_data::transform::MutableArrayData;

use crate::chunk::Chunk;
use crate::columnar::{row_at, rows_to_batch};
use crate::error::{Error, Result};
use crate::tail::Tail;
use crate::types::{Key, Row, TableShape};

/// A delta entry: the newest image of a key written out of order, or a tombstone (`row == None`).
#[derive(Clone, Debug)]
pub(crate) struct DeltaEntry {
    pub lsn: u64,
    pub row: Option<Arc<Row>>,
}

/// Counters that outlive versions (monitoring).
#[derive(Debug, Default)]
pub(crate) struct TableCounters {
    pub lookups: AtomicU64,
    pub window_sum: AtomicU64,
    /// Point lookups answered by the delta rather than a learned model.
    pub delta_hits: AtomicU64,
    /// `lookups` and `delta_hits` when the table was last retrained (the drift baseline).
    pub lookups_at_retrain: AtomicU64,
    pub delta_hits_at_retrain: AtomicU64,
    pub retrains: AtomicU64,
    /// Lookups answered through a secondary index (pg_stat_user_tables.idx_scan).
    pub index_lookups: AtomicU64,
    pub last_retrain_micros: AtomicU64,
}

#[derive(Clone)]
pub(crate) struct TableVersion {
    pub shape: Arc<TableShape>,
    pub chunks: Arc<Vec<Arc<Chunk>>>,
    pub tail: Arc<Tail>,
    pub tail_len: usize,
    pub delta: imbl::OrdMap<Key, DeltaEntry>,
    pub tombstones: usize,
    /// The largest key ever placed in a chunk or the tail (monotone until retrain or truncate).
    pub max_key: Option<Key>,
    pub live_rows: u64,
    /// Bumped by TRUNCATE and DROP so that a retrain started before them is discarded.
    pub epoch: u64,
    /// Chunk files hold every commit up to this LSN for this table (the WAL replays what follows).
    pub checkpoint_lsn: u64,
    pub counters: Arc<TableCounters>,
    /// Secondary indexes (`index.rs`), maintained by every write.
    pub indexes: Vec<crate::index::SecondaryIndex>,
    /// This table's FOREIGN KEY constraints (it is the referencing table).
    pub foreign_keys: Vec<Arc<crate::foreign_key::ForeignKey>>,
    /// Its CHECK constraints.
    pub checks: Vec<Arc<crate::check::CheckDef>>,
}

impl TableVersion {
    /// Renames the table's index named `from` (by its storage name, or by the name of the constraint it
    /// implements: the two go together, as in PostgreSQL), or its CHECK or foreign key named `from`, to
    /// `to`. Whether one was.
    pub fn rename_object(&mut self, from: &str, to: &str) -> bool {
        let unqualified = |n: &str| n.rsplit_once('.').map_or(n, |(_, r)| r).to_string();
        let mut done = false;
        for ix in &mut self.indexes {
            let by_name = ix.def.name == from;
            if !by_name && ix.def.constraint.as_deref() != Some(from) {
                continue;
            }
            let mut d = (*ix.def).clone();
            if by_name {
                d.name = to.to_string();
                if d.constraint.is_some() {
                    d.constraint = Some(unqualified(to));
                }
            } else {
                d.constraint = Some(to.to_string());
                d.name = match crate::types::schema_of(&d.name) {
                    Some(schema) => format!("{schema}.{to}"),
                    None => to.to_string(),
                };
            }
            ix.def = Arc::new(d);
            done = true;
        }
        for c in &mut self.checks {
            if c.name == from {
                let mut d = (**c).clone();
                d.name = to.to_string();
                *c = Arc::new(d);
                done = true;
            }
        }
        for f in &mut self.foreign_keys {
            if f.name == from {
                let mut d = (**f).clone();
                d.name = to.to_string();
                *f = Arc::new(d);
                done = true;
            }
        }
        done
    }

    /// Whether one of the table's constraints (or an index's) is named `name`.
    pub fn has_object(&self, name: &str) -> bool {
        self.indexes
            .iter()
            .any(|i| i.def.constraint.as_deref() == Some(name))
            || self.checks.iter().any(|c| c.name == name)
            || self.foreign_keys.iter().any(|f| f.name == name)
    }

    pub fn empty(shape: Arc<TableShape>, epsilon: usize, checkpoint_lsn: u64) -> TableVersion {
        TableVersion {
            tail: Tail::new(shape.clone(), epsilon),
            shape,
            chunks: Arc::new(Vec::new()),
            tail_len: 0,
            delta: imbl::OrdMap::new(),
            tombstones: 0,
            max_key: None,
            live_rows: 0,
            epoch: 0,
            checkpoint_lsn,
            counters: Arc::new(TableCounters::default()),
            indexes: Vec::new(),
            foreign_keys: Vec::new(),
            checks: Vec::new(),
        }
    }

    /// The row stored under `key` in chunks or tail, ignoring the delta.
    fn base_get(&self, key: &Key) -> Result<Option<Row>> {
        match self.base_find(key)? {
            Some(Hit::Chunk(c, pos)) => Ok(Some(row_at(&c.row_batch(pos)?, 0))),
            Some(Hit::Row(r)) => Ok(Some(r)),
            None => Ok(None),
        }
    }

    /// Where the base (chunks, then tail) holds `key`, through the learned index.
    fn base_find(&self, key: &Key) -> Result<Option<Hit<'_>>> {
        let n = self.chunks.len();
        let i = self.chunks.partition_point(|c| c.meta.max_key < *key);
        if i < n {
            let c = &self.chunks[i];
            if c.meta.min_key > *key {
                return Ok(None);
            }
            let found = c.find(key)?;
            self.count_lookup(c.window(key));
            return Ok(found.map(|pos| Hit::Chunk(c, pos)));
        }
        if self.tail_len == 0 {
            return Ok(None);
        }
        self.count_lookup(2 * omendb_learned::DEFAULT_EPSILON + 2);
        Ok(self
            .tail
            .get(self.tail_len, key)
            .map(|r| Hit::Row((*r).clone())))
    }

    /// The physical row under `key` as a one-row slice of its chunk's arrays when it sits in a chunk (no
    /// copy: the point answer of a sealed table costs no array building), else as a row.
    pub(crate) fn find(&self, key: &Key) -> Result<Option<Found>> {
        if let Some(e) = self.delta.get(key) {
            self.counters.lookups.fetch_add(1, Ordering::Relaxed);
            self.counters.delta_hits.fetch_add(1, Ordering::Relaxed);
            return Ok(e.row.as_deref().cloned().map(Found::Row));
        }
        Ok(match self.base_find(key)? {
            Some(Hit::Chunk(c, pos)) => Some(Found::Slice(c.row_batch(pos)?)),
            Some(Hit::Row(r)) => Some(Found::Row(r)),
            None => None,
        })
    }

    fn count_lookup(&self, window: usize) {
        self.counters.lookups.fetch_add(1, Ordering::Relaxed);
        self.counters
            .window_sum
            .fetch_add(window as u64, Ordering::Relaxed);
    }

    /// The physical row under `key`: delta first (newest), then chunk or tail through the learned index.
    pub fn get(&self, key: &Key) -> Result<Option<Row>> {
        if let Some(e) = self.delta.get(key) {
            self.counters.lookups.fetch_add(1, Ordering::Relaxed);
            self.counters.delta_hits.fetch_add(1, Ordering::Relaxed);
            return Ok(e.row.as_deref().cloned());
        }
        self.base_get(key)
    }

    /// Whether a live row has `key`.
    pub fn contains(&self, key: &Key) -> Result<bool> {
        if let Some(e) = self.delta.get(key) {
            return Ok(e.row.is_some());
        }
        let i = self.chunks.partition_point(|c| c.meta.max_key < *key);
        if i < self.chunks.len() {
            let c = &self.chunks[i];
            return Ok(c.meta.min_key <= *key && c.find(key)?.is_some());
        }
        Ok(self.tail_len > 0 && self.tail.get(self.tail_len, key).is_some())
    }

    /// Whether `key` would extend the table (greater than every key placed so far).
    pub fn is_append(&self, key: &Key) -> bool {
        self.max_key.as_ref().is_none_or(|m| key > m)
    }
}

/// A base hit: a chunk and the row's position in it, or a tail row.
enum Hit<'a> {
    Chunk(&'a Chunk, usize),
    Row(Row),
}

/// A point lookup's answer: a one-row slice of a chunk (physical schema), or a row.
pub(crate) enum Found {
    Slice(RecordBatch),
    Row(Row),
}

/// A key range for scans.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRange {
    pub start: Bound<Key>,
    pub end: Bound<Key>,
}

impl KeyRange {
    pub fn all() -> KeyRange {
        KeyRange {
            start: Bound::Unbounded,
            end: Bound::Unbounded,
        }
    }

    pub fn new(start: Bound<Key>, end: Bound<Key>) -> KeyRange {
        KeyRange { start, end }
    }

    /// The keys in both ranges.
    pub fn intersect(&self, other: &KeyRange) -> KeyRange {
        KeyRange::new(
            max_lower(self.start.as_ref(), other.start.as_ref()).cloned(),
            min_upper(self.end.as_ref(), other.end.as_ref()).cloned(),
        )
    }

    pub fn contains(&self, k: &Key) -> bool {
        let point = KeyRange::new(Bound::Included(k.clone()), Bound::Included(k.clone()));
        !self.intersect(&point).is_empty()
    }

    pub fn is_empty(&self) -> bool {
        match (&self.start, &self.end) {
            (Bound::Included(a), Bound::Included(b)) => a > b,
            (Bound::Included(a) | Bound::Excluded(a), Bound::Excluded(b))
            | (Bound::Excluded(a), Bound::Included(b)) => a >= b,
            _ => false,
        }
    }
}

fn max_lower<'a>(a: Bound<&'a Key>, b: Bound<&'a Key>) -> Bound<&'a Key> {
    match (a, b) {
        (Bound::Unbounded, x) | (x, Bound::Unbounded) => x,
        (Bound::Included(x), Bound::Included(y)) => Bound::Included(x.max(y)),
        (Bound::Excluded(x), Bound::Excluded(y)) => Bound::Excluded(x.max(y)),
        (Bound::Included(i), Bound::Excluded(e)) | (Bound::Excluded(e), Bound::Included(i)) => {
            if i > e {
                Bound::Included(i)
            } else {
                Bound::Excluded(e)
            }
        }
    }
}

fn min_upper<'a>(a: Bound<&'a Key>, b: Bound<&'a Key>) -> Bound<&'a Key> {
    match (a, b) {
        (Bound::Unbounded, x) | (x, Bound::Unbounded) => x,
        (Bound::Included(x), Bound::Included(y)) => Bound::Included(x.min(y)),
        (Bound::Excluded(x), Bound::Excluded(y)) => Bound::Excluded(x.min(y)),
        (Bound::Included(i), Bound::Excluded(e)) | (Bound::Excluded(e), Bound::Included(i)) => {
            if i < e {
                Bound::Included(i)
            } else {
                Bound::Excluded(e)
            }
        }
    }
}

/// Where a scan is inside one chunk: rows `at..end` are left, cut into pieces at page boundaries, and
/// the chunk owns keys in `lo..hi` (its share of the scanned range).
struct Cursor {
    source: usize,
    at: usize,
    end: usize,
    lo: Bound<Key>,
    hi: Bound<Key>,
}

/// Streams the rows of a key range in key order, one record batch per page of each chunk touched (as it
/// is read: a scan holds one piece at a time), merging delta entries and dropping tombstoned rows. Batches
/// hold the physical columns asked for (all by default).
pub struct ScanIter {
    version: Arc<TableVersion>,
    range: KeyRange,
    columns: Arc<[usize]>,
    schema: arrow_schema::SchemaRef,
    next_source: usize,
    cursor: Option<Cursor>,
    done: bool,
}

impl ScanIter {
    pub(crate) fn new(version: Arc<TableVersion>, range: KeyRange) -> ScanIter {
        let all: Vec<usize> = (0..version.shape.physical.fields().len()).collect();
        Self::projected(version, range, &all)
    }

    /// A scan returning only physical columns `columns`, in that order.
    pub(crate) fn projected(
        version: Arc<TableVersion>,
        range: KeyRange,
        columns: &[usize],
    ) -> ScanIter {
        let done = range.is_empty();
        // Skip chunks entirely below the range through the fence keys.
        let first = match &range.start {
            Bound::Unbounded => 0,
            Bound::Included(k) | Bound::Excluded(k) => {
                version.chunks.partition_point(|c| c.meta.max_key < *k)
            }
        };
        let schema = Arc::new(
            version
                .shape
                .physical
                .project(columns)
                .expect("columns of the table"),
        );
        ScanIter {
            version,
            range,
            columns: columns.into(),
            schema,
            next_source: first,
            cursor: None,
            done,
        }
    }

    /// The schema of the batches returned.
    pub fn schema(&self) -> arrow_schema::SchemaRef {
        self.schema.clone()
    }

    fn source_count(&self) -> usize {
        self.version.chunks.len() + 1
    }

    /// The keys source `i` owns inside the scanned range: source i owns keys in (max of source i-1, max of
    /// source i]; the tail owns everything above.
    fn span(&self, i: usize) -> (Bound<Key>, Bound<Key>) {
        let chunks = &self.version.chunks;
        let span_lo = if i == 0 {
            Bound::Unbounded
        } else {
            Bound::Excluded(&chunks[i - 1].meta.max_key)
        };
        let span_hi = match chunks.get(i) {
            Some(c) => Bound::Included(&c.meta.max_key),
            None => Bound::Unbounded,
        };
        let lo = max_lower(span_lo, self.range.start.as_ref()).cloned();
        let hi = min_upper(span_hi, self.range.end.as_ref()).cloned();
        (lo, hi)
    }

    /// Positions `p0..p1` of chunk `c` holding the keys in `lo..hi`.
    fn chunk_positions(c: &Chunk, lo: &Bound<Key>, hi: &Bound<Key>) -> Result<(usize, usize)> {
        let len = c.meta.rows as usize;
        let p0 = match lo {
            Bound::Unbounded => 0,
            Bound::Included(k) => c.lower_bound(k)?,
            Bound::Excluded(k) => c.lower_bound(k)? + usize::from(c.find(k)?.is_some()),
        };
        let p1 = match hi {
            Bound::Unbounded => len,
            Bound::Excluded(k) => c.lower_bound(k)?,
            Bound::Included(k) => c.lower_bound(k)? + usize::from(c.find(k)?.is_some()),
        };
        Ok((p0, p1.max(p0)))
    }

    /// The next piece of the chunk under the cursor: its rows up to the next page boundary, with the delta
    /// entries of the keys they own merged in.
    fn next_piece(&mut self) -> Result<Option<RecordBatch>> {
        let cur = self.cursor.as_mut().expect("a cursor");
        let c = self.version.chunks[cur.source].clone();
        let page = c.page_rows()?;
        let a = cur.at;
        let b = ((a / page + 1) * page).min(cur.end);
        let lo = cur.lo.clone();
        let hi = if b >= cur.end {
            let hi = cur.hi.clone();
            self.cursor = None;
            hi
        } else {
            // This piece owns keys up to its last row's; the next one owns those above.
            let last = c.key_at(b - 1)?;
            cur.at = b;
            cur.lo = Bound::Excluded(last.clone());
            Bound::Included(last)
        };
        let base = c.batch(a..b, &self.columns, true)?;
        self.merge(
            base,
            (&lo, &hi),
            (a, b),
            |k| c.lower_bound(k),
            |p| c.key_at(p),
        )
    }

    /// The tail's rows in `lo..hi`, with the delta merged in.
    fn tail_rows(&self, lo: &Bound<Key>, hi: &Bound<Key>) -> Result<Option<RecordBatch>> {
        let v = &*self.version;
        let n = v.tail_len;
        let pos = |k: &Key, after_eq: bool| {
            let p = v.tail.lower_bound(n, k);
            p + usize::from(after_eq && p < n && v.tail.key_at(p) == *k)
        };
        let p0 = match lo {
            Bound::Unbounded => 0,
            Bound::Included(k) => pos(k, false),
            Bound::Excluded(k) => pos(k, true),
        };
        let p1 = match hi {
            Bound::Unbounded => n,
            Bound::Excluded(k) => pos(k, false),
            Bound::Included(k) => pos(k, true),
        }
        .max(p0);
        let rows = v.tail.rows(p0, p1);
        let base = rows_to_batch(&v.shape.physical, rows.iter().map(|r| r.as_slice()))
            .project(&self.columns)
            .map_err(|e| Error::Store(e.to_string()))?;
        self.merge(
            base,
            (lo, hi),
            (p0, p1),
            |k| Ok(v.tail.lower_bound(v.tail_len, k)),
            |p| Ok(v.tail.key_at(p)),
        )
    }

    /// Merges the delta entries of keys in `lo..hi` into `base`, the rows at positions `p0..p1` of their
    /// source (found with `lower_bound` and `key_at`): a delta key replaces or deletes the base row.
    fn merge(
        &self,
        base: RecordBatch,
        (lo, hi): (&Bound<Key>, &Bound<Key>),
        (p0, p1): (usize, usize),
        lower_bound: impl Fn(&Key) -> Result<usize>,
        key_at: impl Fn(usize) -> Result<Key>,
    ) -> Result<Option<RecordBatch>> {
        let v = &*self.version;
        let delta: Vec<(&Key, &DeltaEntry)> = v.delta.range((lo.as_ref(), hi.as_ref())).collect();
        if delta.is_empty() {
            return Ok((base.num_rows() > 0).then_some(base));
        }
        let puts: Vec<&[crate::types::Value]> = delta
            .iter()
            .filter_map(|(_, e)| e.row.as_deref().map(|r| r.as_slice()))
            .collect();
        let delta_batch = rows_to_batch(&v.shape.physical, puts.iter().copied())
            .project(&self.columns)
            .map_err(|e| Error::Store(e.to_string()))?;
        // Runs of base rows are copied as ranges, so the cost follows the number of delta keys, not rows.
        let mut runs: Vec<(usize, usize, usize)> = Vec::with_capacity(2 * delta.len() + 1);
        let mut push = |src: usize, start: usize, end: usize| {
            if start >= end {
                return;
            }
            match runs.last_mut() {
                Some((s, _, e)) if *s == src && *e == start => *e = end,
                _ => runs.push((src, start, end)),
            }
        };
        let mut at = p0;
        let mut next_put = 0;
        for (k, e) in &delta {
            let j = lower_bound(k)?.clamp(at, p1);
            push(0, at - p0, j - p0);
            at = j;
            if at < p1 && key_at(at)? == **k {
                at += 1;
            }
            if e.row.is_some() {
                push(1, next_put, next_put + 1);
                next_put += 1;
            }
        }
        push(0, at - p0, p1 - p0);
        if runs.is_empty() {
            return Ok(None);
        }
        let rows: usize = runs.iter().map(|(_, s, e)| e - s).sum();
        let columns: Vec<ArrayRef> = (0..base.num_columns())
            .map(|c| {
                let (a, b) = (base.column(c).to_data(), delta_batch.column(c).to_data());
                let mut out = MutableArrayData::new(vec![&a, &b], false, rows);
                for &(src, start, end) in &runs {
                    out.try_extend(src, start, end)
                        .map_err(|e| Error::Store(format!("merging delta into scan: {e}")))?;
                }
                Ok(make_array(out.freeze()))
            })
            .collect::<Result<_>>()?;
        Ok(Some(
            RecordBatch::try_new_with_options(
                base.schema(),
                columns,
                &arrow_array::RecordBatchOptions::new().with_row_count(Some(rows)),
            )
            .map_err(|e| Error::Store(e.to_string()))?,
        ))
    }

    fn advance(&mut self) -> Result<Option<RecordBatch>> {
        loop {
            if self.cursor.is_some() {
                match self.next_piece()? {
                    Some(b) => return Ok(Some(b)),
                    None => continue,
                }
            }
            if self.done || self.next_source >= self.source_count() {
                return Ok(None);
            }
            let i = self.next_source;
            self.next_source += 1;
            // Source i owns keys above the previous chunk's max: once that max reaches the end, we are done.
            let prev_max = (i > 0).then(|| &self.version.chunks[i - 1].meta.max_key);
            let beyond = match &self.range.end {
                Bound::Included(e) | Bound::Excluded(e) => prev_max.is_some_and(|m| m >= e),
                Bound::Unbounded => false,
            };
            if beyond {
                self.done = true;
                return Ok(None);
            }
            let (lo, hi) = self.span(i);
            if KeyRange::new(lo.clone(), hi.clone()).is_empty() {
                continue;
            }
            match self.version.chunks.get(i) {
                Some(c) => {
                    let (p0, p1) = Self::chunk_positions(c, &lo, &hi)?;
                    self.cursor = Some(Cursor {
                        source: i,
                        at: p0,
                        end: p1,
                        lo,
                        hi,
                    });
                }
                None => {
                    if let Some(b) = self.tail_rows(&lo, &hi)? {
                        return Ok(Some(b));
                    }
                }
            }
        }
    }
}

impl Iterator for ScanIter {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.advance() {
            Ok(b) => b.map(Ok),
            Err(e) => {
                self.done = true;
                self.cursor = None;
                Some(Err(e))
            }
        }
    }
}

/// The whole database at one commit: every table's version.
#[derive(Clone)]
pub(crate) struct DbVersion {
    pub lsn: u64,
    pub tables: imbl::OrdMap<u64, Arc<TableVersion>>,
    pub names: imbl::OrdMap<String, u64>,
    /// Schemas other than `public` (which always exists), by name: their ids. A table of schema `s` is
    /// named `s.t` (see `types::schema_of`).
    pub schemas: imbl::OrdMap<String, u64>,
    /// COMMENT ON: by object id (a table's or a schema's) and sub-id (a column's number from 1; 0 for
    /// the object itself).
    pub comments: imbl::OrdMap<(u64, u32), String>,
    /// Sequences, by storage name (the same namespace as tables').
    pub sequences: imbl::OrdMap<String, Arc<crate::sequence::SequenceDef>>,
    /// Views, by storage name (the same namespace).
    pub views: imbl::OrdMap<String, Arc<crate::view::ViewDef>>,
    /// Enum types, by id (their names are their own namespace, pg_type's).
    pub types: imbl::OrdMap<u64, Arc<crate::enum_type::EnumDef>>,
}

impl DbVersion {
    /// The view `def` is, under another name than `def`'s (it is being renamed): removed, its old name
    /// returned.
    pub fn take_renamed_view(&mut self, def: &crate::view::ViewDef) -> Option<String> {
        let old = self
            .views
            .iter()
            .find(|(name, v)| v.id == def.id && **name != def.name)
            .map(|(name, _)| name.clone())?;
        self.views.remove(&old);
        Some(old)
    }

    /// Forgets the comments of object `id` (it was dropped), noting each removal in `out`.
    pub fn drop_comments(&mut self, id: u64, out: &mut Vec<((u64, u32), Option<String>)>) {
        let keys: Vec<(u64, u32)> = self
            .comments
            .range((id, 0)..=(id, u32::MAX))
            .map(|(k, _)| *k)
            .collect();
        for k in keys {
            self.comments.remove(&k);
            out.push((k, None));
        }
    }
}

impl DbVersion {
    pub fn table(&self, name: &str) -> Result<&Arc<TableVersion>> {
        self.names
            .get(name)
            .and_then(|id| self.tables.get(id))
            .ok_or_else(|| Error::UnknownTable(name.to_string()))
    }
}
