//! The open tail chunk: rows whose keys are beyond every key the table has seen are appended here, in order,
//! and indexed by a streaming learned model whose last segment stays open, so appends never retrain.
//!
//! The tail is shared by table versions: a version sees its first `len` rows only. Only the commit leader
//! appends, and only past every published version's `len`, so readers of older versions are unaffected.

use std::sync::Arc;

use omendb_learned::AppendIndex;
use parking_lot::RwLock;

use crate::chunk::{ChunkData, partition_range};
use crate::columnar::rows_to_batch;
use crate::types::{Key, KeyKind, Row, TableShape};

pub(crate) struct Tail {
    shape: Arc<TableShape>,
    epsilon: usize,
    inner: RwLock<TailInner>,
}

struct TailInner {
    lkeys: Vec<u64>,
    /// Full keys, kept only for byte keys (integer keys are exact in `lkeys`).
    keys: Vec<Key>,
    rows: Vec<Arc<Row>>,
    index: AppendIndex,
}

impl Tail {
    pub fn new(shape: Arc<TableShape>, epsilon: usize) -> Arc<Tail> {
        Arc::new(Tail {
            shape,
            epsilon,
            inner: RwLock::new(TailInner {
                lkeys: Vec::new(),
                keys: Vec::new(),
                rows: Vec::new(),
                index: AppendIndex::new(epsilon),
            }),
        })
    }

    /// Appends a row whose key is greater than every key in the table.
    pub fn push(&self, key: Key, row: Arc<Row>) {
        let mut t = self.inner.write();
        let lk = key.learned();
        t.lkeys.push(lk);
        t.index.push(lk);
        if self.shape.key_kind == KeyKind::Bytes {
            t.keys.push(key);
        }
        t.rows.push(row);
    }

    /// Drops unpublished appends after a failed commit. Rare, so the model is simply refitted from the kept keys.
    pub fn truncate(&self, n: usize) {
        let mut t = self.inner.write();
        if t.rows.len() <= n {
            return;
        }
        t.rows.truncate(n);
        t.lkeys.truncate(n);
        let keep = n.min(t.keys.len());
        t.keys.truncate(keep);
        let mut index = AppendIndex::new(self.epsilon);
        for &k in &t.lkeys {
            index.push(k);
        }
        t.index = index;
    }

    fn lower_bound_in(&self, t: &TailInner, n: usize, key: &Key) -> usize {
        let lk = key.learned();
        let pos = t.index.lower_bound(&t.lkeys, n, lk);
        if self.shape.key_kind == KeyKind::Bytes {
            partition_range(pos, n, |i| t.keys[i] < *key)
        } else {
            pos
        }
    }

    /// First position in the first `n` rows whose key is >= `key`.
    pub fn lower_bound(&self, n: usize, key: &Key) -> usize {
        let t = self.inner.read();
        self.lower_bound_in(&t, n, key)
    }

    pub fn get(&self, n: usize, key: &Key) -> Option<Arc<Row>> {
        let t = self.inner.read();
        let pos = self.lower_bound_in(&t, n, key);
        (pos < n && self.key_at_in(&t, pos) == *key).then(|| t.rows[pos].clone())
    }

    fn key_at_in(&self, t: &TailInner, i: usize) -> Key {
        match self.shape.key_kind {
            KeyKind::Int => Key::Int(omendb_learned::key_to_i64(t.lkeys[i])),
            KeyKind::Bytes => t.keys[i].clone(),
        }
    }

    pub fn key_at(&self, i: usize) -> Key {
        let t = self.inner.read();
        self.key_at_in(&t, i)
    }

    /// Rows `from..to` as owned handles (cheap Arc clones), for scans and sealing.
    pub fn rows(&self, from: usize, to: usize) -> Vec<Arc<Row>> {
        self.inner.read().rows[from..to].to_vec()
    }

    /// The first `len` rows under `shape`, a later definition of the table made without a rewrite (their
    /// added columns hold their missing values), as a new tail.
    pub fn widened(&self, len: usize, shape: Arc<TableShape>) -> Arc<Tail> {
        let t = self.inner.read();
        let rows = t.rows[..len]
            .iter()
            .map(|r| Arc::new(shape.widen_row((**r).clone())))
            .collect();
        let mut index = AppendIndex::new(self.epsilon);
        for &lk in &t.lkeys[..len] {
            index.push(lk);
        }
        let keys = t.keys.get(..len).map_or_else(Vec::new, <[Key]>::to_vec);
        Arc::new(Tail {
            shape,
            epsilon: self.epsilon,
            inner: RwLock::new(TailInner {
                lkeys: t.lkeys[..len].to_vec(),
                keys,
                rows,
                index,
            }),
        })
    }

    /// Builds an immutable chunk from the first `n` rows; the chunk gets its own freshly fitted model.
    pub fn seal(&self, n: usize) -> ChunkData {
        let rows = self.rows(0, n);
        let batch = rows_to_batch(&self.shape.physical, rows.iter().map(|r| r.as_slice()));
        ChunkData::build(batch, &self.shape, self.epsilon)
    }

    pub fn index_bytes(&self) -> usize {
        self.inner.read().index.size_in_bytes()
    }
}
