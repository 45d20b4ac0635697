//! Immutable sorted chunks: rows sorted by key, the chunk's learned model over the keys, and where the
//! rows are. A chunk sealed from the tail holds its rows in memory (`ChunkData`); a chunk file is read a
//! column page at a time through the chunk cache (`page_cache`), while its model and page directory stay
//! in memory: a lookup asks the model where the key is and reads the one page of each column it needs.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, RecordBatch};
use omendb_learned::PgmIndex;
use serde::{Deserialize, Serialize};

mod file;

use crate::columnar::{bytes_at, key_at, learned_keys, values_array};
use crate::error::{Error, Result};
use crate::page_cache::{Page, PageCache};
use crate::types::{Key, KeyKind, TableShape, Value};
use file::ChunkFile;

/// A chunk's rows, keys and model, all in memory: a sealed tail, or a chunk being written.
pub(crate) struct ChunkData {
    pub batch: RecordBatch,
    /// The learned-index image of every row's key, in row order (sorted).
    pub lkeys: Arc<[u64]>,
    pub index: Arc<PgmIndex>,
    kind: KeyKind,
    key_col: usize,
}

impl ChunkData {
    /// Fits a new model over a batch already sorted by key with unique keys.
    pub fn build(batch: RecordBatch, shape: &TableShape, epsilon: usize) -> ChunkData {
        Self::assemble(batch, shape, |lkeys| PgmIndex::build(lkeys, epsilon))
    }

    fn assemble(
        batch: RecordBatch,
        shape: &TableShape,
        index: impl FnOnce(&[u64]) -> PgmIndex,
    ) -> ChunkData {
        let lkeys = learned_keys(batch.column(shape.key_col).as_ref(), shape.key_kind);
        ChunkData {
            index: Arc::new(index(&lkeys)),
            batch,
            lkeys: lkeys.into(),
            kind: shape.key_kind,
            key_col: shape.key_col,
        }
    }

    pub fn len(&self) -> usize {
        self.lkeys.len()
    }

    fn key_column(&self) -> &dyn Array {
        self.batch.column(self.key_col).as_ref()
    }

    /// First position whose key is >= `key`, found through the learned index.
    pub fn lower_bound(&self, key: &Key) -> usize {
        let lk = key.learned();
        let pos = self.index.lower_bound(&self.lkeys, lk);
        match (self.kind, key) {
            (KeyKind::Bytes, Key::Bytes(full)) => {
                // Keys sharing the 8-byte prefix form a run; the full key decides inside it.
                let run_end = if lk == u64::MAX {
                    self.len()
                } else {
                    self.index.lower_bound(&self.lkeys, lk + 1)
                };
                let col = self.key_column();
                partition_range(pos, run_end, |i| bytes_at(col, i) < full.as_slice())
            }
            _ => pos,
        }
    }

    /// Position of `key`, if present.
    pub fn find(&self, key: &Key) -> Option<usize> {
        match (self.kind, key) {
            (KeyKind::Int, _) => self.index.find(&self.lkeys, key.learned()),
            (KeyKind::Bytes, Key::Bytes(full)) => {
                let pos = self.lower_bound(key);
                (pos < self.len() && bytes_at(self.key_column(), pos) == full.as_slice())
                    .then_some(pos)
            }
            _ => None,
        }
    }

    pub fn key_at(&self, i: usize) -> Key {
        key_at(self.key_column(), self.kind, &self.lkeys, i)
    }
}

/// First index in `lo..hi` where `pred` turns false (`pred` is true then false over the range).
pub(crate) fn partition_range(mut lo: usize, mut hi: usize, pred: impl Fn(usize) -> bool) -> usize {
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// What the manifest records about a chunk: enough to route lookups without loading it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub(crate) struct ChunkMeta {
    /// The chunk file's id; `None` for a chunk that lives only in memory (its rows are in the WAL).
    pub file_id: Option<u64>,
    pub rows: u64,
    pub min_key: Key,
    pub max_key: Key,
    pub file_bytes: u64,
}

/// Where a chunk's rows are.
enum Body {
    /// Sealed from the tail: durable through the WAL until flushed to a file.
    Memory(Arc<ChunkData>),
    File(Arc<ChunkFile>),
}

pub(crate) struct Chunk {
    pub meta: ChunkMeta,
    pub shape: Arc<TableShape>,
    body: Body,
}

impl Chunk {
    /// A chunk held only in memory (a sealed tail): durable through the WAL until it is written to a file.
    pub fn memory(data: ChunkData, shape: Arc<TableShape>) -> Arc<Chunk> {
        let meta = ChunkMeta {
            file_id: None,
            rows: data.len() as u64,
            min_key: data.key_at(0),
            max_key: data.key_at(data.len() - 1),
            file_bytes: 0,
        };
        Arc::new(Chunk {
            meta,
            shape,
            body: Body::Memory(Arc::new(data)),
        })
    }

    /// A chunk file named by the manifest; nothing is read until it is used.
    pub fn file(
        meta: ChunkMeta,
        shape: Arc<TableShape>,
        path: PathBuf,
        cache: &Arc<PageCache>,
    ) -> Arc<Chunk> {
        let file = ChunkFile::new(path, &shape, meta.rows as usize, cache.clone());
        Arc::new(Chunk {
            meta,
            shape,
            body: Body::File(file),
        })
    }

    pub fn is_persisted(&self) -> bool {
        self.meta.file_id.is_some()
    }

    /// The chunk's model, when it is in memory (statistics never read a file for it).
    pub fn model_if_loaded(&self) -> Option<Arc<PgmIndex>> {
        match &self.body {
            Body::Memory(d) => Some(d.index.clone()),
            Body::File(f) => f.loaded().map(|r| r.index.clone()),
        }
    }

    fn len(&self) -> usize {
        self.meta.rows as usize
    }

    /// Rows per page: how a scan cuts this chunk into batches.
    pub fn page_rows(&self) -> Result<usize> {
        Ok(match &self.body {
            Body::Memory(d) => d.len().max(1),
            Body::File(f) => f.resident()?.page_rows,
        })
    }

    /// The stored column holding physical column `c` of this chunk's table, or `None` for a column added
    /// after the file was written (it holds its missing value).
    fn stored_column(&self, c: usize, stored: usize) -> Result<Option<usize>> {
        let rowid = usize::from(self.shape.has_rowid());
        let user = self.shape.def.columns.len();
        let stored_user = stored.checked_sub(rowid).filter(|s| (1..=user).contains(s));
        let Some(stored_user) = stored_user else {
            return Err(Error::Store(format!(
                "a chunk of {} stores {stored} columns, the table has {}",
                self.shape.def.name,
                self.shape.physical.fields().len()
            )));
        };
        Ok(if rowid == 1 && c == user {
            Some(stored - 1)
        } else {
            (c < stored_user).then_some(c)
        })
    }

    /// Physical columns `cols` of rows `range`, as arrays (zero-copy slices of cached pages where the
    /// range sits in one page). `scan` reads do not mark pages as asked for again (see `page_cache`).
    pub fn columns(
        &self,
        range: Range<usize>,
        cols: &[usize],
        scan: bool,
    ) -> Result<Vec<ArrayRef>> {
        let stored_columns = match &self.body {
            Body::Memory(d) => d.batch.num_columns(),
            Body::File(f) => f.resident()?.columns,
        };
        let mut out = Vec::with_capacity(cols.len());
        for &c in cols {
            let field = self.shape.physical.field(c);
            let Some(stored) = self.stored_column(c, stored_columns)? else {
                let missing = self.shape.def.columns[c]
                    .missing
                    .clone()
                    .unwrap_or(Value::Null);
                out.push(repeat(field.data_type(), &missing, range.len())?);
                continue;
            };
            let f = match &self.body {
                Body::Memory(d) => {
                    out.push(d.batch.column(stored).slice(range.start, range.len()));
                    continue;
                }
                Body::File(f) => f,
            };
            let r = f.resident()?;
            let first = range.start / r.page_rows;
            let last = (range.end.max(range.start + 1) - 1) / r.page_rows;
            let pages = f.pages(stored, first..last + 1, scan)?;
            let parts: Vec<ArrayRef> = pages
                .iter()
                .enumerate()
                .map(|(n, p)| {
                    let at = (first + n) * r.page_rows;
                    let lo = range.start.max(at) - at;
                    let hi = range.end.min(at + p.array.len()) - at;
                    p.array.slice(lo, hi.saturating_sub(lo))
                })
                .collect();
            let array = match parts.as_slice() {
                [one] => one.clone(),
                many => {
                    let refs: Vec<&dyn Array> = many.iter().map(|a| a.as_ref()).collect();
                    arrow_select::concat::concat(&refs).map_err(|e| Error::Store(e.to_string()))?
                }
            };
            out.push(array);
        }
        Ok(out)
    }

    /// Physical columns `cols` of rows `range` as a batch.
    pub fn batch(&self, range: Range<usize>, cols: &[usize], scan: bool) -> Result<RecordBatch> {
        let schema = Arc::new(
            self.shape
                .physical
                .project(cols)
                .map_err(|e| Error::Store(e.to_string()))?,
        );
        let n = range.len();
        let arrays = self.columns(range, cols, scan)?;
        RecordBatch::try_new_with_options(
            schema,
            arrays,
            &arrow_array::RecordBatchOptions::new().with_row_count(Some(n)),
        )
        .map_err(|e| Error::Store(format!("reading {}: {e}", self.shape.def.name)))
    }

    /// Every row, every physical column (flushing a chunk held in memory to a file).
    pub fn all_rows(&self) -> Result<RecordBatch> {
        let all: Vec<usize> = (0..self.shape.physical.fields().len()).collect();
        self.batch(0..self.len(), &all, false)
    }

    /// Every physical column of the row at `pos`, as a one-row batch.
    pub fn row_batch(&self, pos: usize) -> Result<RecordBatch> {
        let all: Vec<usize> = (0..self.shape.physical.fields().len()).collect();
        self.batch(pos..pos + 1, &all, false)
    }

    /// The key page holding position `pos` and `pos`'s place in it.
    fn key_page(&self, f: &ChunkFile, pos: usize) -> Result<(Arc<Page>, usize)> {
        let r = f.resident()?;
        let stored = self
            .stored_column(self.shape.key_col, r.columns)?
            .ok_or_else(|| Error::Store("the key column is never added later".into()))?;
        let p = pos / r.page_rows;
        let page = f.pages(stored, p..p + 1, false)?.pop().expect("one page");
        Ok((page, pos - p * r.page_rows))
    }

    /// The number of positions in `window` whose learned key is below `lk`.
    fn count_below(&self, f: &ChunkFile, window: Range<usize>, lk: u64) -> Result<usize> {
        let mut at = window.start;
        let mut below = 0;
        while at < window.end {
            let (page, i) = self.key_page(f, at)?;
            let lkeys = page.lkeys.as_deref().expect("key pages carry learned keys");
            let end = (i + window.end - at).min(lkeys.len());
            let part = &lkeys[i..end];
            let n = part.partition_point(|&k| k < lk);
            below += n;
            if n < part.len() {
                break;
            }
            at += end - i;
        }
        Ok(below)
    }

    /// First position whose learned key is >= `lk`, through the model and the key pages it points at.
    fn learned_lower_bound(&self, f: &ChunkFile, lk: u64) -> Result<usize> {
        let index = &f.resident()?.index;
        let w = index.search(lk);
        let n = self.len();
        let (lo, hi) = (w.start.min(n), w.end.min(n));
        Ok(lo + self.count_below(f, lo..hi, lk)?)
    }

    /// First position whose key is >= `key`, found through the learned index.
    pub fn lower_bound(&self, key: &Key) -> Result<usize> {
        let f = match &self.body {
            Body::Memory(d) => return Ok(d.lower_bound(key)),
            Body::File(f) => f,
        };
        let lk = key.learned();
        let pos = self.learned_lower_bound(f, lk)?;
        let Key::Bytes(full) = key else {
            return Ok(pos);
        };
        // Keys sharing the 8-byte prefix form a run; the full key decides inside it.
        let run_end = if lk == u64::MAX {
            self.len()
        } else {
            self.learned_lower_bound(f, lk + 1)?
        };
        let (mut lo, mut hi) = (pos, run_end);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let (page, i) = self.key_page(f, mid)?;
            if bytes_at(page.array.as_ref(), i) < full.as_slice() {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Ok(lo)
    }

    /// Position of `key`, if present.
    pub fn find(&self, key: &Key) -> Result<Option<usize>> {
        if let Body::Memory(d) = &self.body {
            return Ok(d.find(key));
        }
        let pos = self.lower_bound(key)?;
        Ok((pos < self.len() && self.key_at(pos)? == *key).then_some(pos))
    }

    pub fn key_at(&self, i: usize) -> Result<Key> {
        let f = match &self.body {
            Body::Memory(d) => return Ok(d.key_at(i)),
            Body::File(f) => f,
        };
        let (page, at) = self.key_page(f, i)?;
        let lkeys = page.lkeys.as_deref().expect("key pages carry learned keys");
        Ok(key_at(page.array.as_ref(), self.shape.key_kind, lkeys, at))
    }

    /// The width of the model's search window for `key` (monitoring).
    pub fn window(&self, key: &Key) -> usize {
        self.model_if_loaded()
            .map_or(0, |m| m.search(key.learned()).len())
    }

    /// This chunk's rows under `shape`, a later definition of the table that ALTER TABLE made without a
    /// rewrite: columns renamed or relaxed, and columns added, which hold their missing values (see
    /// `stored_column`). The rows are shared, not read or copied.
    pub fn reshaped(self: &Arc<Chunk>, shape: Arc<TableShape>) -> Arc<Chunk> {
        let body = match &self.body {
            Body::Memory(d) => Body::Memory(d.clone()),
            Body::File(f) => Body::File(f.clone()),
        };
        Arc::new(Chunk {
            meta: self.meta.clone(),
            shape,
            body,
        })
    }

    /// Fits a model over `batch` (sorted, unique keys) and writes it as chunk file `file_id`. With
    /// `sync == false` the caller fsyncs the file before any manifest names it.
    pub fn write_new(
        chunk_dir: &Path,
        file_id: u64,
        shape: &Arc<TableShape>,
        batch: RecordBatch,
        opts: &crate::options::Options,
        sync: bool,
        cache: &Arc<PageCache>,
    ) -> Result<Arc<Chunk>> {
        let data = ChunkData::build(batch, shape, opts.epsilon);
        let (file_bytes, layout) =
            crate::chunk_file::write(chunk_dir, file_id, shape.id, &data, opts.page_rows, sync)?;
        let meta = ChunkMeta {
            file_id: Some(file_id),
            rows: data.len() as u64,
            min_key: data.key_at(0),
            max_key: data.key_at(data.len() - 1),
            file_bytes,
        };
        let path = crate::chunk_file::path_for(chunk_dir, file_id);
        let file = ChunkFile::new(path, shape, data.len(), cache.clone());
        file.written(data.index.clone(), layout);
        Ok(Arc::new(Chunk {
            meta,
            shape: shape.clone(),
            body: Body::File(file),
        }))
    }

    /// Once no version references this chunk's file any more, the file is deleted (see `ChunkFile`'s
    /// `Drop`).
    pub fn mark_obsolete(&self) {
        if let Body::File(f) = &self.body {
            f.mark_obsolete();
        }
    }
}

/// `n` copies of `value` as an array of `dt` (a column added after its rows were written).
fn repeat(dt: &arrow_schema::DataType, value: &Value, n: usize) -> Result<ArrayRef> {
    if matches!(value, Value::Null) {
        return Ok(arrow_array::new_null_array(dt, n));
    }
    let one = values_array(dt, std::slice::from_ref(value));
    let zeros = arrow_array::UInt32Array::from(vec![0u32; n]);
    arrow_select::take::take(one.as_ref(), &zeros, None).map_err(|e| Error::Store(e.to_string()))
}
