//! Immutable sorted chunks: a record batch sorted by key, the keys' learned-index images, and the chunk's own
//! learned model. File-backed chunks load lazily on first use, so reopening a large table is fast.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use arrow_array::{Array, RecordBatch};
use omendb_learned::PgmIndex;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::columnar::{bytes_at, key_at, learned_keys};
use crate::error::Result;
use crate::types::{Key, KeyKind, TableShape};

/// A chunk's rows, keys and model, all in memory.
pub(crate) struct ChunkData {
    pub batch: RecordBatch,
    /// The learned-index image of every row's key, in row order (sorted).
    pub lkeys: Vec<u64>,
    pub index: PgmIndex,
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
            index: index(&lkeys),
            batch,
            lkeys,
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

pub(crate) struct Chunk {
    pub meta: ChunkMeta,
    pub shape: Arc<TableShape>,
    path: Option<PathBuf>,
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
        let path = self
            .path
            .as_ref()
            .expect("a chunk without data is file-backed");
        let loaded = crate::chunk_file::read(path, &self.shape, self.meta.rows)?;
        Ok(self.data.get_or_init(|| Arc::new(loaded)))
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
        self.obsolete.store(true, Ordering::Release);
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
