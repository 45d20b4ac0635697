//! One level of the index: segments stored as flat arrays, the prediction every lookup makes, and the
//! branch-free searches inside a window.

use std::hint::select_unpredictable;

/// The linear model of one segment: `predict(x) = base + slope * (x - first_key)`, rounded to the
/// nearest integer (ties to even).
///
/// `base` is the absolute position predicted at the segment's first key. Positions are below `2^52`, so
/// `base` keeps a fine fraction.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Model {
    pub base: f64,
    pub slope: f64,
}

impl Model {
    /// The model after the last segment of a level: predicts `len` everywhere, which caps the last segment.
    pub fn sentinel(len: usize) -> Model {
        Model {
            base: len as f64,
            slope: 0.0,
        }
    }

    /// Unclamped prediction, before rounding, for a key at distance `dx` from the segment's first
    /// key. Monotone in `dx` because `slope >= 0`. Distances of `2^63` or more count as `2^63 - 1`: the
    /// build checks every fitted point with this same function, and the signed conversion is one
    /// instruction where the unsigned one is several.
    #[inline(always)]
    pub fn at(self, dx: u64) -> f64 {
        self.base + self.slope * dx.min(i64::MAX as u64) as i64 as f64
    }

    /// Rounded unclamped prediction (what the build checks against each point's position): equals
    /// [`round_position`] wherever that is defined, and is clamped to `±2^50` (beyond any position, so
    /// an error there is still seen as one).
    #[inline(always)]
    pub fn raw(self, dx: u64) -> i64 {
        // 1.5 * 2^52: for |v| < 2^51 the sum lies in [2^52, 2^53), where doubles are exactly the integers.
        const MAGIC: f64 = 6_755_399_441_055_744.0;
        const LIMIT: f64 = (1u64 << 50) as f64;
        let v = self.at(dx);
        let v = if v < LIMIT { v } else { LIMIT };
        let v = if v > -LIMIT { v } else { -LIMIT };
        (v + MAGIC).to_bits() as i64 - MAGIC.to_bits() as i64
    }
}

/// Segments of one level: `keys[j]` is the first key covered by segment `j` (strictly increasing),
/// `models[j]` its model, and `models[segments]` a sentinel whose prediction caps the last segment.
///
/// `keys` carries [`PAD`] copies of `u64::MAX` after the real keys, so the level above can search a
/// fixed-size window starting anywhere in `0..=segments` without a bounds clip.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Level {
    pub keys: Vec<u64>,
    pub models: Vec<Model>,
    /// Largest |prediction - position| over the fitted points of this level (<= the level's epsilon).
    pub err: usize,
}

/// Padding after each level's keys: the fixed window of the levels above.
pub(crate) const PAD: usize = crate::index::UPPER_WINDOW;

impl Level {
    /// Wraps fitted segments (`models` already ends with the sentinel) and pads the keys.
    pub fn new(mut keys: Vec<u64>, models: Vec<Model>, err: usize) -> Level {
        debug_assert_eq!(models.len(), keys.len() + 1);
        keys.extend([u64::MAX; PAD]);
        Level { keys, models, err }
    }

    #[inline(always)]
    pub fn segments(&self) -> usize {
        self.models.len() - 1
    }

    /// First keys of the segments, without the padding.
    pub fn first_keys(&self) -> &[u64] {
        &self.keys[..self.segments()]
    }

    pub fn size_in_bytes(&self) -> usize {
        self.keys.len() * size_of::<u64>() + self.models.len() * size_of::<Model>()
    }

    /// Predicted position of `key` with segment `j < segments()`, clamped to `[0, prediction of segment
    /// j + 1 at its first key]`. The cap keeps keys past the last point of a segment (a gap before the
    /// next segment) within the error bound. Rounding is monotone, so clamping before it equals clamping
    /// after it. The result is at most `round(models[j + 1].base)`, so at most `positions + err` (the build
    /// checks it, decode validates it).
    #[inline(always)]
    pub fn predict(&self, j: usize, key: u64) -> usize {
        assert!(j < self.segments());
        // SAFETY: j < segments() was just checked; `keys` has segments() + PAD entries and `models`
        // segments() + 1. Unchecked reads drop the three remaining bounds checks from the hot path.
        let (first, model, cap) = unsafe {
            (
                *self.keys.get_unchecked(j),
                *self.models.get_unchecked(j),
                self.models.get_unchecked(j + 1).base,
            )
        };
        let v = model.at(key.saturating_sub(first));
        let v = if v < cap { v } else { cap };
        round_position(if v > 0.0 { v } else { 0.0 })
    }
}

/// Rounds `v` in `[0, 2^52)` to the nearest integer, ties to even, in three instructions: adding `2^52`
/// leaves exactly the integer in the low mantissa bits. (`as usize` costs a dozen, for NaN and range.)
#[inline(always)]
pub(crate) fn round_position(v: f64) -> usize {
    const MAGIC: f64 = 4_503_599_627_370_496.0; // 2^52
    debug_assert!((0.0..MAGIC).contains(&v));
    ((v + MAGIC).to_bits() - MAGIC.to_bits()) as usize
}

impl Level {
    /// The [`PAD`] keys starting at `lo <= segments()` (the padding makes the window always fit).
    #[inline(always)]
    pub fn window(&self, lo: usize) -> &[u64; PAD] {
        assert!(lo <= self.segments());
        // SAFETY: `keys` has segments() + PAD entries and lo <= segments(), so the PAD keys from lo are
        // in bounds; [u64; PAD] has the alignment of u64.
        unsafe { &*self.keys.as_ptr().add(lo).cast::<[u64; PAD]>() }
    }
}

/// Asks the CPU to start loading every cache line of `window` at once. The binary search that follows
/// then waits for one memory round trip instead of one per line it probes.
#[inline(always)]
pub(crate) fn prefetch_window(window: &[u64]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        const PER_LINE: usize = 64 / size_of::<u64>();
        let p = window.as_ptr();
        let mut i = 0;
        while i < window.len() {
            // SAFETY: a prefetch is only a hint and never faults; the address is inside `window`. SSE is
            // part of the x86_64 baseline.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(p.add(i).cast::<i8>()) };
            i += PER_LINE;
        }
        if let Some(last) = window.last() {
            // SAFETY: as above; the last key's line, which the stride may have stepped over.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(last).cast::<i8>()) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = window;
}

/// Number of keys `<= key` in a sorted fixed-size window: branch-free binary search.
#[inline(always)]
pub(crate) fn count_less_eq_fixed<const W: usize>(window: &[u64; W], key: u64) -> usize {
    let mut base = 0;
    let mut size = W;
    while size > 1 {
        let half = size / 2;
        // select_unpredictable: a conditional move, never a branch that mispredicts half the time.
        base = select_unpredictable(window[base + half] <= key, base + half, base);
        size -= half;
    }
    base + usize::from(window[base] <= key)
}

/// Number of keys `< key` in a sorted fixed-size window: branch-free binary search, fully unrolled.
#[inline(always)]
pub(crate) fn count_less_fixed<const W: usize>(window: &[u64; W], key: u64) -> usize {
    let mut base = 0;
    let mut size = W;
    while size > 1 {
        let half = size / 2;
        base = select_unpredictable(window[base + half] < key, base + half, base);
        size -= half;
    }
    base + usize::from(window[base] < key)
}

/// Number of keys `< key` in a sorted window: branch-free binary search.
#[inline(always)]
pub(crate) fn count_less(window: &[u64], key: u64) -> usize {
    let mut size = window.len();
    if size == 0 {
        return 0;
    }
    let mut base = 0;
    while size > 1 {
        let half = size / 2;
        // SAFETY: base + size <= window.len() throughout, and half < size.
        let probe = unsafe { *window.get_unchecked(base + half) };
        base = select_unpredictable(probe < key, base + half, base);
        size -= half;
    }
    // SAFETY: base < base + size = base + 1 <= window.len().
    base + usize::from(unsafe { *window.get_unchecked(base) } < key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_searches_count_exactly() {
        let w: [u64; 8] = [1, 3, 3, 5, 7, 9, u64::MAX, u64::MAX];
        for key in [0, 1, 2, 3, 4, 5, 8, 9, 10, u64::MAX - 1, u64::MAX] {
            assert_eq!(
                count_less_eq_fixed(&w, key),
                w.iter().filter(|&&k| k <= key).count(),
                "{key}"
            );
            assert_eq!(
                count_less_fixed(&w, key),
                w.iter().filter(|&&k| k < key).count(),
                "{key}"
            );
            for len in 0..=w.len() {
                let s = &w[..len];
                assert_eq!(
                    count_less(s, key),
                    s.iter().filter(|&&k| k < key).count(),
                    "{key} {len}"
                );
            }
        }
    }
}
