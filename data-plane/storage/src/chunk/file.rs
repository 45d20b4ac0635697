//! A chunk file as chunks read it: what stays resident (model, page directory, a cache slot per page) and
//! the reads of column pages through the chunk cache.

use std::ops::Range;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use arrow_array::{Array, RecordBatch};
use omendb_learned::PgmIndex;
use parking_lot::Mutex;

use crate::chunk_file::Layout;
use crate::columnar::learned_keys;
use crate::error::{Error, Result};
use crate::page_cache::{Page, PageCache, Slot};
use crate::types::{KeyKind, TableShape};

/// A chunk file, shared by the chunks that read it (the same rows under later definitions of the table).
/// Its file is deleted once it is obsolete and no chunk references it.
pub(crate) struct ChunkFile {
    path: PathBuf,
    table_id: u64,
    rows: usize,
    /// The key column as stored (`None`: the last, a hidden row id) and its kind: its pages carry the
    /// keys' learned images.
    key_col: Option<usize>,
    key_kind: KeyKind,
    cache: Arc<PageCache>,
    resident: OnceLock<Resident>,
    load: Mutex<()>,
    obsolete: AtomicBool,
}

/// What a chunk file keeps in memory once opened: its model, its page directory, and a slot per page.
pub(super) struct Resident {
    pub index: Arc<PgmIndex>,
    layout: Layout,
    pub page_rows: usize,
    pages: usize,
    /// Columns as stored (the table's columns when the file was written, then the row id).
    pub columns: usize,
    /// Column-major, as the directory.
    slots: Box<[Arc<Slot>]>,
}

impl ChunkFile {
    pub fn new(
        path: PathBuf,
        shape: &TableShape,
        rows: usize,
        cache: Arc<PageCache>,
    ) -> Arc<ChunkFile> {
        Arc::new(ChunkFile {
            path,
            table_id: shape.id,
            rows,
            key_col: (!shape.has_rowid()).then_some(shape.key_col),
            key_kind: shape.key_kind,
            cache,
            resident: OnceLock::new(),
            load: Mutex::new(()),
            obsolete: AtomicBool::new(false),
        })
    }

    /// A file just written: its model and directory are at hand, so nothing is read back.
    pub(super) fn written(self: &Arc<ChunkFile>, index: Arc<PgmIndex>, layout: Layout) {
        let columns = match &layout {
            Layout::Pages { columns, .. } => *columns,
            Layout::Whole { .. } => unreachable!("files are written in pages"),
        };
        let _ = self.resident.set(self.assemble(index, layout, columns));
    }

    /// The resident part, read from the file the first time.
    pub(super) fn resident(&self) -> Result<&Resident> {
        if let Some(r) = self.resident.get() {
            return Ok(r);
        }
        let _guard = self.load.lock();
        if let Some(r) = self.resident.get() {
            return Ok(r);
        }
        let (index, layout) =
            crate::chunk_file::read_layout(&self.path, self.table_id, self.rows as u64)?;
        let resident = match layout {
            Layout::Pages { columns, .. } => self.assemble(Arc::new(index), layout, columns),
            // A version 1 file tells its columns only by being read: read it now, as it always was.
            Layout::Whole { body_len } => {
                let batch = crate::chunk_file::read_whole(&self.path, body_len, self.rows as u64)?;
                let r = self.assemble(Arc::new(index), layout, batch.num_columns());
                self.install_whole(&r, &batch)?;
                r
            }
        };
        Ok(self.resident.get_or_init(|| resident))
    }

    fn assemble(&self, index: Arc<PgmIndex>, layout: Layout, columns: usize) -> Resident {
        let page_rows = layout.page_rows(self.rows);
        let pages = self.rows.div_ceil(page_rows);
        Resident {
            index,
            layout,
            page_rows,
            pages,
            columns,
            slots: (0..columns * pages)
                .map(|_| Arc::new(Slot::new(self.cache.clone())))
                .collect(),
        }
    }

    /// The learned keys of a page of stored column `column`, when that is the key column.
    fn lkeys(&self, r: &Resident, column: usize, array: &dyn Array) -> Option<Box<[u64]>> {
        let key = self.key_col.unwrap_or(r.columns.saturating_sub(1));
        (column == key).then(|| learned_keys(array, self.key_kind).into_boxed_slice())
    }

    /// Cuts a version 1 file's batch into pages and installs those missing (copies, so that each page can
    /// be evicted on its own).
    fn install_whole(&self, r: &Resident, batch: &RecordBatch) -> Result<()> {
        for c in 0..r.columns {
            for p in 0..r.pages {
                let slot = &r.slots[c * r.pages + p];
                if slot.is_cached() {
                    continue;
                }
                let at = p * r.page_rows;
                let part = batch.column(c).slice(at, r.page_rows.min(self.rows - at));
                let array = arrow_select::concat::concat(&[part.as_ref()])
                    .map_err(|e| Error::Store(e.to_string()))?;
                let lkeys = self.lkeys(r, c, array.as_ref());
                slot.install(Page::new(array, lkeys, None));
            }
        }
        Ok(())
    }

    /// Pages `pages` of stored column `column`, read (and cached) where missing.
    pub(super) fn pages(
        &self,
        column: usize,
        pages: Range<usize>,
        scan: bool,
    ) -> Result<Vec<Arc<Page>>> {
        let r = self.resident()?;
        let slot = |p: usize| &r.slots[column * r.pages + p];
        let mut out: Vec<Option<Arc<Page>>> = pages.clone().map(|p| slot(p).get(scan)).collect();
        let mut i = 0;
        while i < out.len() {
            if out[i].is_some() {
                i += 1;
                continue;
            }
            // A run of missing neighbours is one read.
            let mut j = i;
            while j < out.len() && out[j].is_none() {
                j += 1;
            }
            let first = pages.start + i;
            if let Layout::Whole { body_len } = r.layout {
                let batch = crate::chunk_file::read_whole(&self.path, body_len, self.rows as u64)?;
                self.install_whole(r, &batch)?;
                for (n, o) in out[i..j].iter_mut().enumerate() {
                    *o = slot(first + n).get(scan);
                }
                if out[i..j].iter().any(Option::is_none) {
                    // Evicted again before we could use it (a cache far too small): read it for us alone.
                    for (n, o) in out[i..j].iter_mut().enumerate() {
                        if o.is_none() {
                            let at = (first + n) * r.page_rows;
                            let len = r.page_rows.min(self.rows - at);
                            let array = batch.column(column).slice(at, len);
                            let lkeys = self.lkeys(r, column, array.as_ref());
                            *o = Some(Arc::new(Page::new(array, lkeys, None)));
                        }
                    }
                }
                i = j;
                continue;
            }
            let read = crate::chunk_file::read_pages(
                &self.path,
                &r.layout,
                column,
                first..pages.start + j,
                self.rows,
                &self.cache.stats.read_bytes,
            )?;
            for (n, (array, bytes)) in read.into_iter().enumerate() {
                let lkeys = self.lkeys(r, column, array.as_ref());
                out[i + n] = Some(slot(first + n).install(Page::new(array, lkeys, Some(bytes))));
            }
            i = j;
        }
        Ok(out
            .into_iter()
            .map(|p| p.expect("every missing page was read"))
            .collect())
    }
}

impl ChunkFile {
    /// The resident part if it was read already (statistics never read a file).
    pub(super) fn loaded(&self) -> Option<&Resident> {
        self.resident.get()
    }

    /// The file goes once no chunk references it.
    pub(super) fn mark_obsolete(&self) {
        self.obsolete.store(true, Ordering::Release);
    }
}

impl Drop for ChunkFile {
    fn drop(&mut self) {
        if self.obsolete.load(Ordering::Acquire) {
            // The manifest no longer names this file; a leftover would be removed at the next open.
            let _ = std::fs::remove_file(&self.path);
        }
    }
}
