//! Retraining: merge a table's delta and tombstones into new chunks with freshly fitted models, off the
//! query path, then swap the table version in atomically. Readers never wait: they keep the version they
//! hold, and replaced chunk files are deleted only when the last version naming them is gone.
//!
//! A *flush* is the cheap relative: it writes in-memory chunks (sealed appends, durable only in the WAL) to
//! chunk files with the models they already have, leaving the delta alone.

use std::ops::Bound;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use arrow_array::RecordBatch;
use arrow_select::concat::concat_batches;

use crate::chunk::Chunk;
use crate::chunk_file;
use crate::error::{Error, Result};
use crate::options::RetrainPolicy;
use crate::shared::{Inner, seal_tail};
use crate::store::{Manifest, StoreBatch};
use crate::version::{KeyRange, ScanIter, TableVersion};

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Mode {
    /// Merge delta and tombstones, refit models.
    Full,
    /// Persist in-memory chunks only.
    Flush,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct RetrainReport {
    pub table: String,
    pub mode: Mode,
    pub rows_written: u64,
    pub chunks_written: usize,
    pub chunks_reused: usize,
    pub micros: u64,
}

/// What the policy asks for this table now, if anything.
pub(crate) fn wanted(tv: &TableVersion, p: &RetrainPolicy) -> Option<Mode> {
    let delta = tv.delta.len();
    let rows = tv.live_rows.max(1) as f64;
    if delta >= p.hard_cap {
        return Some(Mode::Full);
    }
    if p.automatic {
        if delta >= p.min_delta_rows && delta as f64 >= p.delta_fraction * rows {
            return Some(Mode::Full);
        }
        if tv.tombstones >= p.min_delta_rows.min(10_000)
            && tv.tombstones as f64 >= p.tombstone_fraction * rows
        {
            return Some(Mode::Full);
        }
        let c = &tv.counters;
        let lookups =
            c.lookups.load(Ordering::Relaxed) - c.lookups_at_retrain.load(Ordering::Relaxed);
        let hits =
            c.delta_hits.load(Ordering::Relaxed) - c.delta_hits_at_retrain.load(Ordering::Relaxed);
        // A retrain rewrites every row, and lookups of rows just written (read-after-update, as in
        // TPC-B) go to the delta again right after it: the tree walks since the last retrain must also
        // number an eighth of the rows, so that the rewrite is paid for by the walks it saves.
        if delta >= 1_000
            && lookups >= 10_000
            && hits as f64 >= p.cost_drift * lookups as f64
            && hits as f64 >= rows / 8.0
        {
            return Some(Mode::Full);
        }
    }
    let memory_rows: u64 = tv
        .chunks
        .iter()
        .filter(|c| !c.is_persisted())
        .map(|c| c.meta.rows)
        .sum();
    (memory_rows >= p.flush_rows as u64).then_some(Mode::Flush)
}

/// The background task: wakes on commits that cross a trigger, and once a second.
pub(crate) fn worker(inner: Arc<Inner>) {
    loop {
        {
            let (m, c) = &inner.wake;
            let mut woken = m.lock();
            if !*woken {
                c.wait_for(&mut woken, Duration::from_secs(1));
            }
            *woken = false;
        }
        if inner.shutdown.load(Ordering::Acquire) {
            return;
        }
        let v = inner.current.load_full();
        for tv in v.tables.values() {
            if let Some(mode) = wanted(tv, &inner.opts.retrain)
                && let Err(e) = retrain_table(&inner, tv.shape.id, mode)
            {
                tracing::warn!(table = %tv.shape.def.name, "background retrain failed: {e}");
            }
            if inner.shutdown.load(Ordering::Acquire) {
                return;
            }
        }
    }
}

/// A maximal run of neighbouring chunks that are rewritten together, as a key range of the snapshot.
struct Run {
    range: KeyRange,
    chunks: Vec<usize>,
}

pub(crate) fn retrain_table(inner: &Arc<Inner>, id: u64, mode: Mode) -> Result<RetrainReport> {
    let _one_at_a_time = inner.retrain_lock.lock();
    let started = Instant::now();
    // 1. Seal the tail so the snapshot's rows all sit in chunks + delta, and remember the LSN it includes.
    let (snap, snap_lsn) = {
        let mut state = inner.commit.lock();
        inner.drain(&mut state)?;
        let cur = state.head.clone();
        let tv = cur
            .tables
            .get(&id)
            .ok_or_else(|| Error::UnknownTable(format!("#{id}")))?;
        let sealed = seal_tail(tv, inner.opts.epsilon);
        if tv.tail_len > 0 {
            inner.publish_table(&mut state, sealed.clone());
        }
        (Arc::new(sealed), state.next_lsn - 1)
    };
    let name = snap.shape.def.name.clone();

    // 2. Plan which chunks to keep as they are and which runs to rewrite.
    let chunks = &snap.chunks;
    let keep = |i: usize| -> bool {
        let c = &chunks[i];
        if !c.is_persisted() {
            return false;
        }
        match mode {
            Mode::Flush => true,
            Mode::Full => {
                let lo = if i == 0 {
                    Bound::Unbounded
                } else {
                    Bound::Excluded(&chunks[i - 1].meta.max_key)
                };
                let hi = if i + 1 == chunks.len() {
                    Bound::Unbounded
                } else {
                    Bound::Included(&c.meta.max_key)
                };
                c.meta.rows as usize >= inner.opts.chunk_rows / 2
                    && snap.delta.range((lo, hi)).next().is_none()
            }
        }
    };
    let mut plan: Vec<Result<usize, Run>> = Vec::new();
    for i in 0..chunks.len() {
        if keep(i) {
            plan.push(Ok(i));
            continue;
        }
        let lo = if i == 0 {
            Bound::Unbounded
        } else {
            Bound::Excluded(chunks[i - 1].meta.max_key.clone())
        };
        let hi = if i + 1 == chunks.len() {
            Bound::Unbounded
        } else {
            Bound::Included(chunks[i].meta.max_key.clone())
        };
        match plan.last_mut() {
            Some(Err(run)) => {
                run.range.end = hi;
                run.chunks.push(i);
            }
            _ => plan.push(Err(Run {
                range: KeyRange::new(lo, hi),
                chunks: vec![i],
            })),
        }
    }
    if mode == Mode::Full
        && (chunks.is_empty() || matches!(plan.last(), Some(Ok(_))))
        && !snap.delta.is_empty()
    {
        // Delta rows above the last kept chunk (or in an empty table) need a run of their own.
        let lo = chunks.last().map_or(Bound::Unbounded, |c| {
            Bound::Excluded(c.meta.max_key.clone())
        });
        if snap
            .delta
            .range((lo.as_ref(), Bound::Unbounded))
            .next()
            .is_some()
        {
            plan.push(Err(Run {
                range: KeyRange::new(lo, Bound::Unbounded),
                chunks: vec![],
            }));
        }
    }
    if plan.iter().all(|p| p.is_ok()) && (mode == Mode::Flush || snap.delta.is_empty()) {
        return Ok(RetrainReport {
            table: name,
            mode,
            rows_written: 0,
            chunks_written: 0,
            chunks_reused: chunks.len(),
            micros: 0,
        });
    }

    // 3. Build and write the new chunks, off every lock but ours.
    let mut written: Vec<std::path::PathBuf> = Vec::new();
    let result = build_runs(inner, &snap, mode, plan, &mut written);
    let (new_chunks, rows_written, reused) = match result {
        Ok(x) => x,
        Err(e) => {
            for f in &written {
                let _ = std::fs::remove_file(f);
            }
            return Err(e);
        }
    };
    chunk_file::sync_dir(&inner.chunk_dir)?;

    // 4. Swap: under the commit lock, graft what committed meanwhile onto the new chunks.
    let mut state = inner.commit.lock();
    if let Err(e) = inner.drain(&mut state) {
        for f in &written {
            let _ = std::fs::remove_file(f);
        }
        return Err(e);
    }
    let cur_db = state.head.clone();
    let Some(cur) = cur_db.tables.get(&id).filter(|t| t.epoch == snap.epoch) else {
        for f in &written {
            let _ = std::fs::remove_file(f);
        }
        return Err(Error::Conflict(name));
    };
    let mut next = (**cur).clone();
    let mut list = new_chunks;
    list.extend(
        cur.chunks
            .iter()
            .filter(|c| !snap.chunks.iter().any(|s| Arc::ptr_eq(s, c)))
            .cloned(),
    );
    next.chunks = Arc::new(list);
    if mode == Mode::Full {
        // Usually nothing was written meanwhile: then the merged delta is simply gone.
        next.delta = if cur.delta.ptr_eq(&snap.delta) {
            imbl::OrdMap::new()
        } else {
            cur.delta
                .iter()
                .filter(|(_, e)| e.lsn > snap_lsn)
                .map(|(k, e)| (k.clone(), e.clone()))
                .collect()
        };
        next.tombstones = next.delta.values().filter(|e| e.row.is_none()).count();
        next.checkpoint_lsn = snap_lsn;
    } else if snap.delta.is_empty() {
        next.checkpoint_lsn = snap_lsn;
    }
    let manifest = Manifest::of(&next);
    let last_lsn = state.next_lsn - 1;
    let floor = cur_db
        .tables
        .values()
        .map(|t| if t.shape.id == id { &next } else { &**t })
        .map(|t| {
            let clean =
                t.delta.is_empty() && t.tail_len == 0 && t.chunks.iter().all(|c| c.is_persisted());
            if clean { last_lsn } else { t.checkpoint_lsn }
        })
        .min()
        .unwrap_or(last_lsn);
    let batch = StoreBatch {
        manifests: vec![(id, Some(manifest))],
        truncate_wal_upto: Some(floor),
        ..StoreBatch::default()
    };
    if let Err(e) = inner.store.commit(batch) {
        for f in &written {
            let _ = std::fs::remove_file(f);
        }
        return Err(e);
    }
    inner.flush.log.lock().truncate(floor);
    let micros = started.elapsed().as_micros() as u64;
    if mode == Mode::Full {
        next.counters.retrains.fetch_add(1, Ordering::Relaxed);
        let c = &next.counters;
        c.lookups_at_retrain
            .store(c.lookups.load(Ordering::Relaxed), Ordering::Relaxed);
        c.delta_hits_at_retrain
            .store(c.delta_hits.load(Ordering::Relaxed), Ordering::Relaxed);
        next.counters
            .last_retrain_micros
            .store(micros, Ordering::Relaxed);
    }
    let replaced: Vec<Arc<Chunk>> = snap
        .chunks
        .iter()
        .filter(|c| !next.chunks.iter().any(|n| Arc::ptr_eq(n, c)))
        .cloned()
        .collect();
    inner.publish_table(&mut state, next);
    drop(state);
    for c in &replaced {
        c.mark_obsolete();
    }
    // Freeing the old version (hundreds of MB, file unlinks) is nobody's wait: do it off the caller's path.
    let _ = std::thread::Builder::new()
        .name("omendb-free".into())
        .spawn(move || drop((snap, replaced)));
    Ok(RetrainReport {
        table: name,
        mode,
        rows_written,
        chunks_written: written.len(),
        chunks_reused: reused,
        micros,
    })
}

/// Writes every run of the plan as new chunk files; returns the table's new chunk list in key order.
///
/// Two stages run side by side: one thread merges (scans the snapshot), the caller's thread fits models
/// and writes files. Files are fsynced together at the end, so the kernel writes back while we merge.
fn build_runs(
    inner: &Arc<Inner>,
    snap: &Arc<TableVersion>,
    mode: Mode,
    plan: Vec<Result<usize, Run>>,
    written: &mut Vec<std::path::PathBuf>,
) -> Result<(Vec<Arc<Chunk>>, u64, usize)> {
    let mut out = Vec::new();
    let mut rows_written = 0u64;
    let mut reused = 0;
    for step in plan {
        let run = match step {
            Ok(i) => {
                out.push(snap.chunks[i].clone());
                reused += 1;
                continue;
            }
            Err(run) => run,
        };
        std::thread::scope(|scope| -> Result<()> {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Result<RecordBatch>>(2);
            let snap2 = snap.clone();
            scope.spawn(move || {
                let source: Box<dyn Iterator<Item = Result<RecordBatch>>> = match mode {
                    Mode::Full => Box::new(ScanIter::new(snap2, run.range)),
                    Mode::Flush => Box::new(
                        run.chunks
                            .into_iter()
                            .map(move |i| snap2.chunks[i].all_rows()),
                    ),
                };
                for b in source {
                    if tx.send(b).is_err() {
                        break;
                    }
                }
            });
            let target = inner.opts.chunk_rows;
            let target_bytes = inner.opts.chunk_build_bytes;
            let mut pending: Vec<RecordBatch> = Vec::new();
            let mut pending_rows = 0;
            let mut pending_bytes = 0;
            let mut emit =
                |pending: &mut Vec<RecordBatch>, out: &mut Vec<Arc<Chunk>>| -> Result<()> {
                    let all = if pending.len() == 1 {
                        pending.pop().expect("one batch")
                    } else {
                        let all = concat_batches(&snap.shape.physical, pending.iter())
                            .map_err(|e| Error::Store(e.to_string()))?;
                        pending.clear();
                        all
                    };
                    let n = all.num_rows();
                    let pieces = n.div_ceil(2 * target).max(1);
                    let per = n.div_ceil(pieces).max(1);
                    let mut at = 0;
                    while at < n {
                        let len = per.min(n - at);
                        let chunk = write_chunk(inner, snap, all.slice(at, len), written)?;
                        out.push(chunk);
                        rows_written += len as u64;
                        at += len;
                    }
                    Ok(())
                };
            for b in rx {
                let b = b?;
                if b.num_rows() == 0 {
                    continue;
                }
                pending_rows += b.num_rows();
                pending_bytes += b.get_array_memory_size();
                pending.push(b);
                if pending_rows >= target || pending_bytes >= target_bytes {
                    emit(&mut pending, &mut out)?;
                    pending_rows = 0;
                    pending_bytes = 0;
                }
            }
            if !pending.is_empty() {
                emit(&mut pending, &mut out)?;
            }
            Ok(())
        })?;
    }
    for path in written.iter() {
        std::fs::File::open(path)
            .and_then(|f| f.sync_all())
            .map_err(|e| Error::io(path, e))?;
    }
    Ok((out, rows_written, reused))
}

/// Fits a model over `batch` and writes it as a new chunk file (not yet fsynced).
fn write_chunk(
    inner: &Arc<Inner>,
    snap: &Arc<TableVersion>,
    batch: RecordBatch,
    written: &mut Vec<std::path::PathBuf>,
) -> Result<Arc<Chunk>> {
    let file_id = {
        let mut st = inner.commit.lock();
        st.next_file_id += 1;
        st.next_file_id - 1
    };
    written.push(inner.chunk_path(file_id));
    Chunk::write_new(
        &inner.chunk_dir,
        file_id,
        &snap.shape,
        batch,
        &inner.opts,
        false,
        &inner.cache,
    )
}
