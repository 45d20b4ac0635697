//! [`PgmIndex`]: the immutable, recursive learned index over a sorted key slice.

use std::ops::Range;

use crate::DEFAULT_EPSILON;
use crate::build::{build_level, build_level_with_threads};
use crate::radix::RadixTop;
use crate::segment::{Level, count_less, count_less_eq_fixed, count_less_fixed, prefetch_window};

/// Epsilon of the upper levels, which index the first keys of the level below.
pub(crate) const RECURSIVE_EPSILON: usize = 7;
/// Window of the upper levels: `2 * RECURSIVE_EPSILON + 2` keys, a power of two, searched branch-free.
pub(crate) const UPPER_WINDOW: usize = 2 * RECURSIVE_EPSILON + 2;
/// The top level has at most this many segments; a lookup starts with a branch-free binary search of
/// their first keys (six steps in one L1-resident array) instead of more levels.
pub(crate) const ROOT_KEYS: usize = 64;

/// Immutable index over a sorted (non-decreasing, duplicates allowed) slice of `u64` keys.
///
/// The index does not own the keys: every search takes the same slice it was built on. Level 0 fits the
/// keys with maximum error `epsilon`; each level above fits the first keys of the level below with
/// epsilon 7, until a level has at most 64 segments. A lookup searches that top
/// level's keys whole, then walks down: each level's model predicts a position in the level below and a
/// branch-free binary search of a fixed window of 16 keys finds the exact segment. When
/// the bottom segments are spread evenly over the key range, a radix table on the key's high bits
/// (`radix.rs`) replaces that walk with one table read and one window search. At the bottom, the model
/// predicts a position in the keys; its window (prefetched whole, then searched branch-free) holds
/// `2 * err + 1` keys, `err <= epsilon` being the error measured after rounding.
#[derive(Clone, Debug, PartialEq)]
pub struct PgmIndex {
    pub(crate) len: usize,
    pub(crate) epsilon: usize,
    /// Bottom level first; empty iff `len == 0`.
    pub(crate) levels: Vec<Level>,
    /// Shortcut to the bottom level's segments when its first keys are spread evenly (derived from
    /// `levels[0]`, never stored).
    pub(crate) radix: Option<RadixTop>,
    /// First keys of the top level, padded with `u64::MAX` (derived, never stored).
    pub(crate) root: Box<[u64; ROOT_KEYS]>,
}

impl PgmIndex {
    /// Builds the index over `keys`, which must be sorted (checked in debug builds). `epsilon` is the
    /// maximum error of the bottom level; 0 is treated as 1.
    ///
    /// Above a million keys the bottom level is fitted on all available cores (see
    /// [`PgmIndex::build_with_threads`]).
    #[must_use]
    pub fn build(keys: &[u64], epsilon: usize) -> PgmIndex {
        let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        PgmIndex::build_with_threads(keys, epsilon, threads)
    }

    /// [`PgmIndex::build`] on at most `threads` threads (1: on the calling thread only). The bottom level
    /// is cut into chunks of at least a million keys, fitted in parallel; each cut can add one segment to
    /// the optimal fit. The error bound is the same.
    #[must_use]
    pub fn build_with_threads(keys: &[u64], epsilon: usize, threads: usize) -> PgmIndex {
        debug_assert!(keys.is_sorted(), "PgmIndex::build needs sorted keys");
        assert!(keys.len() < 1 << 50, "positions must stay exact in f64");
        let epsilon = epsilon.max(1);
        let mut levels: Vec<Level> = Vec::new();
        if !keys.is_empty() {
            levels.push(build_level_with_threads(keys, epsilon, threads));
            while let Some(top) = levels.last().filter(|l| l.segments() > ROOT_KEYS) {
                let level = build_level(top.first_keys(), RECURSIVE_EPSILON);
                levels.push(level);
            }
        }
        PgmIndex::from_levels(keys.len(), epsilon, levels)
    }

    /// Assembles an index from its levels and derives the radix table.
    pub(crate) fn from_levels(len: usize, epsilon: usize, levels: Vec<Level>) -> PgmIndex {
        let radix = levels.first().and_then(RadixTop::build);
        debug_assert!(levels.last().is_none_or(|top| top.segments() <= ROOT_KEYS));
        let mut root = Box::new([u64::MAX; ROOT_KEYS]);
        if let Some(top) = levels.last() {
            let first = top.first_keys();
            root[..first.len()].copy_from_slice(first);
        }
        PgmIndex {
            len,
            epsilon,
            levels,
            radix,
            root,
        }
    }

    /// Segment of the bottom level that covers `key`: the last one whose first key is `<= key` (or 0).
    #[inline(always)]
    fn bottom_segment(&self, key: u64) -> usize {
        if let Some(radix) = &self.radix {
            return radix.segment(&self.levels[0], key);
        }
        let levels = &self.levels[..];
        let top = levels.len() - 1;
        // The top level has at most ROOT_KEYS segments: search its (padded) keys whole.
        let mut j = count_less_eq_fixed(&self.root, key)
            .min(levels[top].segments())
            .saturating_sub(1);
        for l in (1..=top).rev() {
            let level = &levels[l];
            let below = &levels[l - 1];
            // pred <= segments below + err (the build checks the error), so lo <= segments below.
            let lo = level.predict(j, key).saturating_sub(level.err);
            let upper_bound =
                (lo + count_less_eq_fixed(below.window(lo), key)).min(below.segments());
            j = upper_bound.saturating_sub(1);
        }
        j
    }

    /// Window `[lo, hi)` that contains `lower_bound(key)`: the first position `i` with `keys[i] >= key`,
    /// or `len` if there is none (so `hi` can be `len + 1`). `hi - lo <= 2 * epsilon + 2`.
    #[inline]
    #[must_use]
    pub fn search(&self, key: u64) -> Range<usize> {
        let Some(bottom) = self.levels.first() else {
            return 0..1;
        };
        let pred = bottom.predict(self.bottom_segment(key), key);
        let lo = pred.saturating_sub(bottom.err);
        let hi = (pred + bottom.err + 2).min(self.len + 1);
        lo..hi
    }

    /// Exact lower bound: equals `keys.partition_point(|&k| k < key)`.
    #[inline]
    #[must_use]
    pub fn lower_bound(&self, keys: &[u64], key: u64) -> usize {
        debug_assert_eq!(
            keys.len(),
            self.len,
            "search with the slice the index was built on"
        );
        let Some(bottom) = self.levels.first() else {
            return 0;
        };
        let pred = bottom.predict(self.bottom_segment(key), key);
        // lower_bound(key) is in [pred - err, pred + err + 1]. Counting the keys < key in the 2 * err + 1
        // keys from pred - err can answer anything from pred - err to pred + err + 1, so that window is
        // enough. It is moved left if it would pass the end, so its length is the same for every key
        // and the search below runs the same steps every time.
        let n = keys.len().min(self.len);
        let width = (2 * bottom.err + 1).min(n);
        let lo = pred.saturating_sub(bottom.err).min(n - width);
        let window = &keys[lo..lo + width];
        prefetch_window(window);
        // The default epsilon gets a fully unrolled search (a predictable branch picks it).
        let below = match <&[u64; 2 * DEFAULT_EPSILON + 1]>::try_from(window) {
            Ok(fixed) => count_less_fixed(fixed, key),
            Err(_) => count_less(window, key),
        };
        lo + below
    }

    /// Number of keys indexed.
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    /// True if no keys are indexed.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Maximum error the bottom level was built with.
    #[must_use]
    pub fn epsilon(&self) -> usize {
        self.epsilon
    }

    /// The first position holding `key`, if any.
    #[inline]
    #[must_use]
    pub fn find(&self, keys: &[u64], key: u64) -> Option<usize> {
        let pos = self.lower_bound(keys, key);
        (keys.get(pos) == Some(&key)).then_some(pos)
    }

    /// Segments in the bottom level.
    #[must_use]
    pub fn segments(&self) -> usize {
        self.levels.first().map_or(0, Level::segments)
    }

    /// Number of levels.
    #[must_use]
    pub fn height(&self) -> usize {
        self.levels.len()
    }

    /// Segments per level, bottom first.
    #[must_use]
    pub fn level_segments(&self) -> Vec<usize> {
        self.levels.iter().map(Level::segments).collect()
    }

    /// Heap and inline size of the index (not of the keys).
    #[must_use]
    pub fn size_in_bytes(&self) -> usize {
        size_of::<Self>()
            + size_of::<[u64; ROOT_KEYS]>()
            + self
                .levels
                .iter()
                .map(|l| size_of::<Level>() + l.size_in_bytes())
                .sum::<usize>()
            + self.radix.as_ref().map_or(0, RadixTop::size_in_bytes)
    }

    /// The largest |predicted - true position| over the bottom level's fitted points, measured on the
    /// rounded models. At most `epsilon`.
    #[must_use]
    pub fn max_error(&self) -> usize {
        self.levels.first().map_or(0, |l| l.err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both ways down to the bottom level (radix table and levels) give the same, exact answers.
    #[test]
    fn radix_and_levels_agree() {
        let mut state = 3u64;
        let mut keys: Vec<u64> = (0..200_000)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                state >> 20
            })
            .collect();
        keys.sort_unstable();
        let with_radix = PgmIndex::build(&keys, 2);
        assert!(with_radix.radix.is_some(), "uniform keys get a radix table");
        assert!(with_radix.height() >= 2, "and upper levels");
        let mut levels_only = with_radix.clone();
        levels_only.radix = None;
        for i in (0..keys.len()).step_by(7) {
            for q in [keys[i], keys[i] + 1, keys[i].saturating_sub(1)] {
                let want = keys.partition_point(|&k| k < q);
                assert_eq!(with_radix.lower_bound(&keys, q), want);
                assert_eq!(levels_only.lower_bound(&keys, q), want);
            }
        }
    }
}
