//! An optional radix table over the bottom level's first keys, used instead of the upper levels when the
//! segments are spread evenly enough over the key range (timestamps, uniform keys).
//!
//! Bin `b` covers keys `[min + (b << shift), min + ((b + 1) << shift))` and stores `lo`, the segment that
//! covers the bin's first key. Every segment whose first key falls in the bin lies in the fixed window of
//! [`PAD`] segments from `lo`: the table is only built if that holds for every bin. A lookup is then one
//! table read and one branch-free window search, instead of a walk down the levels. The table is derived
//! from the bottom level alone, so it is rebuilt on decode and never stored.

use crate::segment::{Level, PAD, count_less_eq_fixed};

/// Radix table over the first keys of a level.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RadixTop {
    min: u64,
    shift: u32,
    lo: Vec<u32>,
}

impl RadixTop {
    /// The table for `level`, or `None` if some bin would hold too many segments (skewed keys) or the
    /// level is too small to need one.
    pub fn build(level: &Level) -> Option<RadixTop> {
        let first = level.first_keys();
        if first.len() <= PAD || u32::try_from(first.len()).is_err() {
            return None;
        }
        // About two segments per bin on average.
        let bins = (first.len() / 2).next_power_of_two();
        let min = first[0];
        let span = first[first.len() - 1] - min;
        let mut shift = 0;
        while (span >> shift) >= bins as u64 {
            shift += 1;
        }
        let bins = usize::try_from(span >> shift).expect("below bins") + 1;
        let mut lo = Vec::with_capacity(bins);
        let mut j = 0;
        for b in 0..bins {
            let start = min + ((b as u64) << shift);
            let end = start.saturating_add((1u64 << shift) - 1);
            // j: the last segment whose first key is <= start.
            while j + 1 < first.len() && first[j + 1] <= start {
                j += 1;
            }
            // Segments the window from j must reach: up to the last one starting at or before `end`.
            let mut last = j;
            while last + 1 < first.len() && first[last + 1] <= end {
                last += 1;
            }
            if last - j >= PAD {
                return None;
            }
            lo.push(j as u32);
        }
        Some(RadixTop { min, shift, lo })
    }

    pub fn size_in_bytes(&self) -> usize {
        self.lo.len() * size_of::<u32>()
    }

    /// The segment of `level` (the one this table was built on) that covers `key`.
    #[inline(always)]
    pub fn segment(&self, level: &Level, key: u64) -> usize {
        let bin =
            ((key.saturating_sub(self.min)) >> self.shift).min(self.lo.len() as u64 - 1) as usize;
        let lo = self.lo[bin] as usize;
        (lo + count_less_eq_fixed(level.window(lo), key))
            .min(level.segments())
            .saturating_sub(1)
    }
}
