//! [`AppendIndex`]: a learned index over a key sequence that only grows at the end.

use crate::DEFAULT_EPSILON;
use crate::fit::Pla;
use crate::segment::{Model, count_less, round_position};

/// Index over a growing sorted key sequence (a table's open tail chunk).
///
/// Keys are only ever appended in non-decreasing order. The streaming fit keeps its last segment open, so an
/// append never refits old keys: it adds at most two points to the open hull (amortised O(1)) and refreshes
/// the open segment's model. The index does not hold the keys; lookups take the slice of all pushed keys.
///
/// Segments are fitted with `epsilon - 1`, which leaves one position of slack for floating-point rounding
/// (the keys are not kept, so a finished segment cannot be re-checked like [`crate::PgmIndex`] does), and
/// every answer is checked against its neighbours, falling back to a binary search if the check fails. The
/// answer is exact in every case.
#[derive(Clone, Debug)]
pub struct AppendIndex {
    epsilon: usize,
    len: usize,
    /// The last key pushed, and whether it was pushed more than once.
    last: Option<(u64, bool)>,
    pla: Pla,
    /// First key of each segment; the last one is the open segment.
    keys: Vec<u64>,
    /// One model per segment; the open segment's is refreshed on every push.
    models: Vec<Model>,
}

impl Default for AppendIndex {
    fn default() -> AppendIndex {
        AppendIndex::new(DEFAULT_EPSILON)
    }
}

impl AppendIndex {
    /// An empty index whose windows hold at most `2 * epsilon + 2` keys (0 is treated as 1).
    #[must_use]
    pub fn new(epsilon: usize) -> AppendIndex {
        let epsilon = epsilon.max(1);
        AppendIndex {
            epsilon,
            len: 0,
            last: None,
            pla: Pla::new(epsilon - 1),
            keys: Vec::new(),
            models: Vec::new(),
        }
    }

    /// Appends `key`, which must be `>=` the previous key (checked in debug builds).
    #[inline]
    pub fn push(&mut self, key: u64) {
        let y = self.len as u64;
        match self.last {
            Some((last, _)) if key == last => {
                self.last = Some((last, true));
                self.len += 1;
                return;
            }
            Some((last, dup)) => {
                debug_assert!(key > last, "AppendIndex::push needs non-decreasing keys");
                // After a duplicated key, pin the gap (last, key) to this position (see `points`).
                if dup && last + 1 < key {
                    self.add_point(last + 1, y);
                }
            }
            None => {}
        }
        self.add_point(key, y);
        self.last = Some((key, false));
        self.len += 1;
    }

    fn add_point(&mut self, x: u64, y: u64) {
        if self.pla.points() > 0 && self.pla.add(x, y) {
            let (_, first_y) = self.pla.first();
            let line = self.pla.line();
            let open = self.models.last_mut().expect("an open segment exists");
            *open = Model {
                base: first_y as f64 + line.icpt,
                slope: line.slope,
            };
            return;
        }
        self.pla.reset();
        let added = self.pla.add(x, y);
        debug_assert!(added, "a new segment always takes its first point");
        self.keys.push(x);
        self.models.push(Model {
            base: y as f64,
            slope: 0.0,
        });
    }

    /// Number of keys pushed.
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    /// True if nothing was pushed.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Maximum error the windows allow for.
    #[must_use]
    pub fn epsilon(&self) -> usize {
        self.epsilon
    }

    /// Exact lower bound over `keys[..n]`: equals `keys[..n].partition_point(|&k| k < key)`, where `keys`
    /// is the slice of all pushed keys and `n <= len()` (a reader may look at an older prefix).
    #[inline]
    #[must_use]
    pub fn lower_bound(&self, keys: &[u64], n: usize, key: u64) -> usize {
        let n = n.min(keys.len()).min(self.len);
        if n == 0 {
            return 0;
        }
        let keys = &keys[..n];
        if key > keys[n - 1] {
            return n;
        }
        // Now lower_bound(key) < n: the key lies within the fitted points.
        let j = self.keys.partition_point(|&s| s <= key).saturating_sub(1);
        let cap = self.models.get(j + 1).map_or(n as f64, |m| m.base);
        let v = self.models[j]
            .at(key.saturating_sub(self.keys[j]))
            .min(cap)
            .max(0.0);
        let pred = round_position(v);
        let lo = pred.saturating_sub(self.epsilon).min(n);
        let hi = (pred + self.epsilon + 2).min(n);
        let pos = lo + count_less(&keys[lo..hi], key);
        let exact = (pos == 0 || keys[pos - 1] < key) && (pos == n || keys[pos] >= key);
        if exact {
            pos
        } else {
            keys.partition_point(|&k| k < key)
        }
    }

    /// Segments so far, the open one included.
    #[must_use]
    pub fn segments(&self) -> usize {
        self.keys.len()
    }

    /// Heap and inline size (segments and the open hull, not the keys).
    #[must_use]
    pub fn size_in_bytes(&self) -> usize {
        size_of::<Self>()
            + self.keys.capacity() * size_of::<u64>()
            + self.models.capacity() * size_of::<Model>()
            + self.pla.size_in_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_prefix_of_a_small_sequence() {
        let keys = [0u64, 0, 3, 3, 3, 4, 10, 10, 11, 1 << 40, u64::MAX, u64::MAX];
        let mut idx = AppendIndex::new(1);
        for (i, &k) in keys.iter().enumerate() {
            idx.push(k);
            for n in 0..=i + 1 {
                for q in [
                    0,
                    1,
                    3,
                    4,
                    5,
                    9,
                    10,
                    11,
                    12,
                    1 << 40,
                    (1 << 40) + 1,
                    u64::MAX - 1,
                    u64::MAX,
                ] {
                    let want = keys[..n].partition_point(|&k| k < q);
                    assert_eq!(idx.lower_bound(&keys[..=i], n, q), want, "n={n} q={q}");
                }
            }
        }
    }
}
