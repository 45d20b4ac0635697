//! The chunk cache: column pages of chunk files held in memory under one byte budget for the database.
//!
//! A chunk file is read a column page at a time (`chunk_file`); each page, once read, sits in its chunk's
//! slot and is registered here. The cache owns no data: it only decides which slots to empty when the pages
//! held exceed the budget. A reader keeps the page it uses alive through its `Arc` (that is the pin), so
//! eviction never frees what someone reads; pinned pages are passed over and stay counted.
//!
//! Policy: CLOCK with a second chance for pages that were asked for again, where a page read by a scan
//! enters without a reference bit and a scan's hit does not set one. A full scan of a table larger than the
//! cache therefore streams through the pages nobody revisits instead of evicting the point lookups' working
//! set. (Not yet measured against LRU or S3-FIFO under a mixed load: a known gap.)

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

use arc_swap::ArcSwapOption;
use arrow_array::{Array, ArrayRef};
use parking_lot::Mutex;

/// One column's rows `[page * page_rows, ...)` of a chunk, decoded.
pub(crate) struct Page {
    pub array: ArrayRef,
    /// The learned-index images of the keys, for a page of the key column.
    pub lkeys: Option<Box<[u64]>>,
    bytes: usize,
}

impl Page {
    /// A page whose arrays hold `bytes` (when they share one allocation, their own sizes would count it
    /// once per buffer); `None` measures the arrays.
    pub fn new(array: ArrayRef, lkeys: Option<Box<[u64]>>, bytes: Option<usize>) -> Page {
        let bytes = bytes.unwrap_or_else(|| array.get_array_memory_size())
            + lkeys.as_ref().map_or(0, |k| k.len() * 8);
        Page {
            array,
            lkeys,
            bytes,
        }
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

/// Where one page of one chunk lives while it is cached.
pub(crate) struct Slot {
    page: ArcSwapOption<Page>,
    referenced: AtomicBool,
    cache: Arc<PageCache>,
}

impl Slot {
    pub fn new(cache: Arc<PageCache>) -> Slot {
        Slot {
            page: ArcSwapOption::empty(),
            referenced: AtomicBool::new(false),
            cache,
        }
    }

    /// The cached page, if any. A lookup (not a scan) marks it as asked for again.
    pub fn get(&self, scan: bool) -> Option<Arc<Page>> {
        let page = self.page.load_full();
        let stats = &self.cache.stats;
        match &page {
            Some(_) => {
                stats.hits.fetch_add(1, Ordering::Relaxed);
                if !scan && !self.referenced.load(Ordering::Relaxed) {
                    self.referenced.store(true, Ordering::Relaxed);
                }
            }
            None => {
                stats.misses.fetch_add(1, Ordering::Relaxed);
            }
        }
        page
    }

    /// Installs a page just read (unless a concurrent reader installed it first: then that one is kept and
    /// returned) and makes room for it.
    pub fn install(self: &Arc<Slot>, page: Page) -> Arc<Page> {
        let page = Arc::new(page);
        let prev = self
            .page
            .compare_and_swap(&None::<Arc<Page>>, Some(page.clone()));
        if let Some(existing) = &*prev {
            return existing.clone();
        }
        self.cache.added(self, page.bytes());
        page
    }

    /// Empties the slot unless its page is pinned by a reader; returns the bytes freed.
    fn evict(&self) -> Option<usize> {
        let page = self.page.load_full()?;
        // The slot's reference and this one are all there are when no reader holds the page.
        if Arc::strong_count(&page) > 2 {
            return None;
        }
        let bytes = page.bytes();
        self.page.store(None);
        Some(bytes)
    }

    pub fn is_cached(&self) -> bool {
        self.page.load().is_some()
    }
}

impl Drop for Slot {
    /// A chunk that goes (retired by retraining, dropped with its table) gives its pages' bytes back.
    fn drop(&mut self) {
        if let Some(p) = self.page.swap(None) {
            self.cache
                .stats
                .bytes
                .fetch_sub(p.bytes(), Ordering::Relaxed);
        }
    }
}

/// Counters for monitoring (`omendb_cache_*` metrics).
#[derive(Debug, Default)]
pub struct CacheStats {
    pub bytes: AtomicUsize,
    pub hits: AtomicU64,
    pub misses: AtomicU64,
    pub evictions: AtomicU64,
    /// Bytes read from chunk files.
    pub read_bytes: AtomicU64,
}

/// A snapshot of the cache's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheReport {
    pub budget_bytes: usize,
    pub bytes: usize,
    pub hits: u64,
    pub misses: u64,
    pub evictions: u64,
    pub read_bytes: u64,
}

pub(crate) struct PageCache {
    budget: usize,
    /// Slots holding a page, in CLOCK order (the hand is the front).
    clock: Mutex<VecDeque<Weak<Slot>>>,
    pub stats: CacheStats,
}

impl PageCache {
    pub fn new(budget: usize) -> Arc<PageCache> {
        Arc::new(PageCache {
            budget,
            clock: Mutex::new(VecDeque::new()),
            stats: CacheStats::default(),
        })
    }

    pub fn report(&self) -> CacheReport {
        let s = &self.stats;
        CacheReport {
            budget_bytes: self.budget,
            bytes: s.bytes.load(Ordering::Relaxed),
            hits: s.hits.load(Ordering::Relaxed),
            misses: s.misses.load(Ordering::Relaxed),
            evictions: s.evictions.load(Ordering::Relaxed),
            read_bytes: s.read_bytes.load(Ordering::Relaxed),
        }
    }

    fn added(&self, slot: &Arc<Slot>, bytes: usize) {
        let used = self.stats.bytes.fetch_add(bytes, Ordering::Relaxed) + bytes;
        let mut clock = self.clock.lock();
        clock.push_back(Arc::downgrade(slot));
        if used > self.budget {
            self.sweep(&mut clock);
        }
    }

    /// Moves the hand until the pages held fit the budget: a page asked for again since the hand last
    /// passed gets a second chance, a pinned one is passed over. Two turns at most: when everything left is
    /// pinned, the cache runs over its budget until readers let go.
    fn sweep(&self, clock: &mut VecDeque<Weak<Slot>>) {
        let mut budget_steps = 2 * clock.len();
        while self.stats.bytes.load(Ordering::Relaxed) > self.budget && budget_steps > 0 {
            budget_steps -= 1;
            let Some(weak) = clock.pop_front() else {
                break;
            };
            let Some(slot) = weak.upgrade() else {
                continue; // its chunk is gone and gave its bytes back
            };
            if !slot.is_cached() {
                continue;
            }
            if slot.referenced.swap(false, Ordering::Relaxed) {
                clock.push_back(weak);
                continue;
            }
            match slot.evict() {
                Some(bytes) => {
                    self.stats.bytes.fetch_sub(bytes, Ordering::Relaxed);
                    self.stats.evictions.fetch_add(1, Ordering::Relaxed);
                }
                None => clock.push_back(weak),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(bytes: usize) -> Page {
        Page::new(
            Arc::new(arrow_array::Int64Array::from(vec![1i64])),
            None,
            Some(bytes),
        )
    }

    #[test]
    fn evicts_to_the_budget_passing_over_pinned_pages_and_second_chances() {
        let cache = PageCache::new(100);
        let slots: Vec<Arc<Slot>> = (0..4).map(|_| Arc::new(Slot::new(cache.clone()))).collect();
        let cached = |i: usize| slots[i].is_cached();
        let pinned = slots[0].install(page(40));
        slots[1].install(page(40));
        assert!(
            slots[1].get(false).is_some(),
            "asked for again: a second chance"
        );
        // 120 > 100. Slot 0 is pinned by a reader and slot 2 by its installer; slot 1 spends its second
        // chance on the first turn of the hand and goes on the second.
        slots[2].install(page(40));
        let r = cache.report();
        assert_eq!((r.bytes, r.evictions), (80, 1), "{r:?}");
        assert!(cached(0) && !cached(1) && cached(2));
        // Unpinned pages without a second chance go in CLOCK order: slot 2 before slot 0.
        drop(pinned);
        slots[3].install(page(40));
        assert!(cached(0) && !cached(2) && cached(3));
        // A scan's hit gives no second chance: slot 0 is next.
        assert!(slots[0].get(true).is_some());
        slots[1].install(page(40));
        assert!(!cached(0) && cached(1) && cached(3));
        assert_eq!(cache.report().bytes, 80);
        // Dropped slots (a retired chunk) give their bytes back.
        drop(slots);
        assert_eq!(cache.report().bytes, 0);
    }
}
