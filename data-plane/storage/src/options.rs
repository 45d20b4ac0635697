//! Engine options and the retraining policy (the tier decides which policy a tenant gets).

/// When the background task merges delta and tombstones into new chunks and refits their models.
#[derive(Clone, Debug, PartialEq)]
pub struct RetrainPolicy {
    /// Automatic (paid tiers): retrain on the triggers below. Manual (free tier): only at `hard_cap` delta
    /// entries or on an explicit [`crate::Database::retrain`] call.
    pub automatic: bool,
    /// Automatic: retrain once the delta holds this many entries...
    pub min_delta_rows: usize,
    /// ...and at least this share of the table's rows.
    pub delta_fraction: f64,
    /// Automatic: retrain once tombstones are this share of the rows.
    pub tombstone_fraction: f64,
    /// Automatic: lookup-cost drift. Retrain once this share of the point lookups measured since the last
    /// retrain were answered by the delta (a tree walk) instead of a chunk's learned model, over at least
    /// 10,000 lookups and 1,000 delta entries: hot keys have drifted out of the learned chunks.
    pub cost_drift: f64,
    /// Any policy: retrain when the delta reaches this many entries (bounds memory and WAL).
    pub hard_cap: usize,
    /// Any policy: write in-memory chunks (sealed appends, durable only through the WAL) to chunk files once
    /// they hold this many rows. This fits no new models, so it is not retraining.
    pub flush_rows: usize,
}

impl RetrainPolicy {
    pub fn automatic() -> RetrainPolicy {
        RetrainPolicy {
            automatic: true,
            min_delta_rows: 100_000,
            delta_fraction: 0.05,
            tombstone_fraction: 0.10,
            cost_drift: 0.25,
            hard_cap: 4_000_000,
            flush_rows: 1 << 20,
        }
    }

    pub fn manual() -> RetrainPolicy {
        RetrainPolicy {
            automatic: false,
            ..RetrainPolicy::automatic()
        }
    }
}

#[derive(Clone, Debug)]
pub struct Options {
    /// Error bound of every chunk's learned model.
    pub epsilon: usize,
    /// Target rows per chunk written by retraining and bulk loads.
    pub chunk_rows: usize,
    /// The open tail is sealed into an immutable in-memory chunk at this many rows.
    pub tail_seal_rows: usize,
    /// A commit appending at least this many rows past a table's max key writes chunk files directly
    /// instead of logging every row in the WAL.
    pub bulk_rows: usize,
    pub retrain: RetrainPolicy,
    /// Run the background retraining task (tests turn it off to retrain explicitly).
    pub background: bool,
    /// redb page cache in bytes.
    pub cache_bytes: usize,
    /// The chunk cache's budget: bytes of chunk file pages held in memory (`page_cache`).
    pub chunk_cache_bytes: usize,
    /// Rows per column page in new chunk files: the unit of reads and of the chunk cache.
    pub page_rows: usize,
    /// Retraining and bulk loads build a chunk in memory before writing it: a chunk ends at `chunk_rows`
    /// rows or at this many bytes, whichever comes first, so that they run in bounded memory.
    pub chunk_build_bytes: usize,
    /// The commit log starts a new segment file past this many bytes.
    pub wal_segment_bytes: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            epsilon: omendb_learned::DEFAULT_EPSILON,
            chunk_rows: 1 << 20,
            tail_seal_rows: 1 << 16,
            bulk_rows: 1 << 14,
            retrain: RetrainPolicy::automatic(),
            background: true,
            cache_bytes: 64 << 20,
            chunk_cache_bytes: 256 << 20,
            page_rows: crate::chunk_file::PAGE_ROWS,
            chunk_build_bytes: 64 << 20,
            wal_segment_bytes: 64 << 20,
        }
    }
}
