//! Immutable sorted chunks: a record batch sorted by key, the keys' learned-index images, and the chunk's own
//! learned model. File-backed chunks load lazily on first use, so reopening a large table is fast.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use arrow_array::{Array, ArrayRef, RecordBatch};
use omendb_learned::PgmIndex;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::columnar::{bytes_at, key_at, learned_keys, values_array};
use crate::error::{Error, Result};
use crate::types::{Key, KeyKind, TableShape, Value};

/// A chunk's rows, keys and model, all in memory.
pub(crate) struct ChunkData {
    pub batch: RecordBatch,
    /// The learned-index image of every row's key, in row order (sorted). Shared with the same rows
    /// under a later table definition (`widened`).
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

    /// Reassembles a chunk from a persisted model: no refit.
    pub fn with_index(batch: RecordBatch, index: PgmIndex, shape: &TableShape) -> ChunkData {
        Self::assemble(batch, shape, |_| index)
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

    /// The same rows under `shape`, a later definition of their table that ALTER TABLE made without a
    /// rewrite: columns renamed or relaxed, and columns added, which hold their missing values. The arrays,
    /// keys and model are shared.
    pub fn widened(&self, shape: &TableShape) -> Result<ChunkData> {
        Ok(ChunkData {
            batch: widen_batch(&self.batch, shape)?,
            lkeys: self.lkeys.clone(),
            index: self.index.clone(),
            kind: shape.key_kind,
            key_col: shape.key_col,
        })
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

/// A batch stored under an earlier definition of `shape`'s table, in `shape`'s physical schema. Its columns
/// are a prefix of the table's user columns (every change but an addition rewrites the table), then the
/// row id; the added columns get their missing values. `Err` when the arrays do not fit (corruption).
pub(crate) fn widen_batch(batch: &RecordBatch, shape: &TableShape) -> Result<RecordBatch> {
    let rowid = usize::from(shape.has_rowid());
    let stored = batch.num_columns().saturating_sub(rowid);
    let columns = &shape.def.columns;
    if stored == 0 || stored > columns.len() {
        return Err(Error::Store(format!(
            "stored rows have {} columns, the table {}",
            batch.num_columns(),
            shape.physical.fields().len()
        )));
    }
    let n = batch.num_rows();
    let mut arrays: Vec<ArrayRef> = batch.columns()[..stored].to_vec();
    for c in &columns[stored..] {
        let dt = c.data_type.arrow();
        arrays.push(match &c.missing {
            None | Some(Value::Null) => arrow_array::new_null_array(&dt, n),
            Some(v) => {
                let one = values_array(&dt, std::slice::from_ref(v));
                let zeros = arrow_array::UInt32Array::from(vec![0u32; n]);
                arrow_select::take::take(one.as_ref(), &zeros, None)
                    .map_err(|e| Error::Store(e.to_string()))?
            }
        });
    }
    arrays.extend(batch.columns()[stored..].iter().cloned());
    RecordBatch::try_new(shape.physical.clone(), arrays).map_err(|e| Error::Store(e.to_string()))
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

pub(crate) struct Chunk {
    pub meta: ChunkMeta,
    pub shape: Arc<TableShape>,
    path: Option<PathBuf>,
    /// The same rows under the table's earlier definition (`reshaped`): loaded from it when it is loaded,
    /// and the owner of the file, which goes once neither is referenced.
    base: Option<Arc<Chunk>>,
    data: OnceLock<Arc<ChunkData>>,
    load: Mutex<()>,
    obsolete: AtomicBool,
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
        let chunk = Chunk::new(meta, shape, None);
        let _ = chunk.data.set(Arc::new(data));
        Arc::new(chunk)
    }

    /// A file-backed chunk; `data` is given when it was just built, otherwise it loads on first use.
    pub fn file(
        meta: ChunkMeta,
        shape: Arc<TableShape>,
        path: PathBuf,
        data: Option<Arc<ChunkData>>,
    ) -> Arc<Chunk> {
        let chunk = Chunk::new(meta, shape, Some(path));
        if let Some(d) = data {
            let _ = chunk.data.set(d);
        }
        Arc::new(chunk)
    }

    fn new(meta: ChunkMeta, shape: Arc<TableShape>, path: Option<PathBuf>) -> Chunk {
        Chunk {
            meta,
            shape,
            path,
            base: None,
            data: OnceLock::new(),
            load: Mutex::new(()),
            obsolete: AtomicBool::new(false),
        }
    }

    pub fn is_persisted(&self) -> bool {
        self.meta.file_id.is_some()
    }

    pub fn is_loaded(&self) -> bool {
        self.data.get().is_some()
    }

    /// The chunk's data, reading and verifying its file the first time.
    pub fn data(&self) -> Result<&Arc<ChunkData>> {
        if let Some(d) = self.data.get() {
            return Ok(d);
        }
        let _guard = self.load.lock();
        if let Some(d) = self.data.get() {
            return Ok(d);
        }
        let loaded = match &self.base {
            Some(b) if b.is_loaded() || b.path.is_none() => b.data()?.widened(&self.shape)?,
            _ => {
                let path = self
                    .path
                    .as_ref()
                    .expect("a chunk without data is file-backed");
                crate::chunk_file::read(path, &self.shape, self.meta.rows)?
            }
        };
        Ok(self.data.get_or_init(|| Arc::new(loaded)))
    }

    /// This chunk's rows under `shape`, a later definition of the table made without a rewrite (see
    /// `ChunkData::widened`). Nothing is read or copied now.
    pub fn reshaped(self: &Arc<Chunk>, shape: Arc<TableShape>) -> Arc<Chunk> {
        let mut chunk = Chunk::new(self.meta.clone(), shape, self.path.clone());
        chunk.base = Some(self.clone());
        Arc::new(chunk)
    }

    /// Fits a model over `batch` (sorted, unique keys) and writes it as chunk file `file_id`. With
    /// `sync == false` the caller fsyncs the file before any manifest names it.
    pub fn write_new(
        chunk_dir: &Path,
        file_id: u64,
        shape: &Arc<TableShape>,
        batch: RecordBatch,
        epsilon: usize,
        sync: bool,
    ) -> Result<Arc<Chunk>> {
        let data = ChunkData::build(batch, shape, epsilon);
        let file_bytes = crate::chunk_file::write(chunk_dir, file_id, shape.id, &data, sync)?;
        let meta = ChunkMeta {
            file_id: Some(file_id),
            rows: data.len() as u64,
            min_key: data.key_at(0),
            max_key: data.key_at(data.len() - 1),
            file_bytes,
        };
        let path = crate::chunk_file::path_for(chunk_dir, file_id);
        Ok(Chunk::file(meta, shape.clone(), path, Some(Arc::new(data))))
    }

    /// Once no version references this chunk any more, its file is deleted (see `Drop`).
    pub fn mark_obsolete(&self) {
        match &self.base {
            // The file is the base's: it goes when the base does, which this chunk holds.
            Some(b) => b.mark_obsolete(),
            None => self.obsolete.store(true, Ordering::Release),
        }
    }
}

impl Drop for Chunk {
    fn drop(&mut self) {
        if self.obsolete.load(Ordering::Acquire)
            && let Some(p) = &self.path
        {
            // The manifest no longer names this file; a leftover would be removed at the next open.
            let _ = std::fs::remove_file(p);
        }
    }
}
