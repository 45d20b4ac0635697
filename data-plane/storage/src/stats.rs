//! Per-table figures for monitoring: what the learned index looks like and how it is doing.

use std::sync::atomic::Ordering;

use crate::version::TableVersion;

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct TableStats {
    pub table: String,
    pub rows: u64,
    pub chunks: usize,
    /// Chunks held only in memory (durable through the WAL until flushed).
    pub memory_chunks: usize,
    pub tail_rows: usize,
    /// Learned-model segments over loaded chunks.
    pub segments: usize,
    pub file_bytes: u64,
    pub index_bytes: usize,
    pub epsilon: usize,
    pub max_observed_error: usize,
    pub delta_rows: usize,
    pub tombstones: usize,
    pub retrain_count: u64,
    pub last_retrain_micros: u64,
    pub lookups: u64,
    /// Point lookups answered by the delta instead of a learned model.
    pub delta_lookups: u64,
    pub mean_window: f64,
}

impl TableStats {
    pub(crate) fn of(tv: &TableVersion) -> TableStats {
        let mut segments = 0;
        let mut index_bytes = tv.tail.index_bytes();
        let mut epsilon = omendb_learned::DEFAULT_EPSILON;
        let mut max_err = 0;
        for m in tv.chunks.iter().filter_map(|c| c.model_if_loaded()) {
            segments += m.segments();
            index_bytes += m.size_in_bytes();
            epsilon = m.epsilon();
            max_err = max_err.max(m.max_error());
        }
        let lookups = tv.counters.lookups.load(Ordering::Relaxed);
        let window = tv.counters.window_sum.load(Ordering::Relaxed);
        TableStats {
            table: tv.shape.def.name.clone(),
            rows: tv.live_rows,
            chunks: tv.chunks.len(),
            memory_chunks: tv.chunks.iter().filter(|c| !c.is_persisted()).count(),
            tail_rows: tv.tail_len,
            segments,
            file_bytes: tv.chunks.iter().map(|c| c.meta.file_bytes).sum(),
            index_bytes,
            epsilon,
            max_observed_error: max_err,
            delta_rows: tv.delta.len() - tv.tombstones,
            tombstones: tv.tombstones,
            retrain_count: tv.counters.retrains.load(Ordering::Relaxed),
            last_retrain_micros: tv.counters.last_retrain_micros.load(Ordering::Relaxed),
            lookups,
            delta_lookups: tv.counters.delta_hits.load(Ordering::Relaxed),
            mean_window: if lookups == 0 {
                0.0
            } else {
                window as f64 / lookups as f64
            },
        }
    }
}
