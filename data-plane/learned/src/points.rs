//! The points a sorted key slice is fitted on.
//!
//! The index approximates the step function `lower_bound(x)` (first position whose key is `>= x`). With
//! first-occurrence semantics, each distinct key `k` at first position `i` gives the point `(k, i)`. Between
//! two fitted points the prediction is monotone, so a query key that is absent is off by at most `eps + 1`,
//! *unless* the previous distinct key has duplicates: then `lower_bound` jumps by more than one between
//! them. For that case the stream adds the point `(prev + 1, i)` (the first key of the gap), which pins the
//! whole gap `(prev, k]` to `i`. After the last key the same rule adds `(last + 1, len)` if the last key has
//! duplicates.

/// Where the stream stands: before the optional gap point of the key at `i` (`gap_pending`), or before
/// the key point of the key at `i`. `i` is always the first occurrence of its key, or `keys.len()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cursor {
    pub i: usize,
    pub gap_pending: bool,
}

impl Cursor {
    pub const START: Cursor = Cursor {
        i: 0,
        gap_pending: true,
    };

    pub fn end(keys: &[u64]) -> Cursor {
        Cursor {
            i: keys.len(),
            gap_pending: false,
        }
    }
}

/// The gap point before position `i` (`i == keys.len()` for the tail), if the previous key has duplicates.
#[inline(always)]
fn gap_point(keys: &[u64], i: usize) -> Option<u64> {
    if i < 2 || keys[i - 2] != keys[i - 1] {
        return None;
    }
    let prev = keys[i - 1];
    if i == keys.len() {
        (prev != u64::MAX).then(|| prev + 1)
    } else {
        (prev + 1 < keys[i]).then(|| prev + 1)
    }
}

/// Iterator over `(x, y)` fit points from a cursor up to (not including) an end cursor.
#[derive(Clone, Debug)]
pub(crate) struct Points<'a> {
    keys: &'a [u64],
    at: Cursor,
    end: Cursor,
}

impl<'a> Points<'a> {
    pub fn new(keys: &'a [u64], at: Cursor, end: Cursor) -> Points<'a> {
        Points { keys, at, end }
    }

    /// The cursor before the point the next call to `next` returns.
    #[inline(always)]
    pub fn cursor(&self) -> Cursor {
        self.at
    }
}

impl Iterator for Points<'_> {
    type Item = (u64, u64);

    #[inline(always)]
    fn next(&mut self) -> Option<(u64, u64)> {
        loop {
            if self.at == self.end {
                return None;
            }
            let i = self.at.i;
            if self.at.gap_pending {
                self.at.gap_pending = false;
                if let Some(x) = gap_point(self.keys, i) {
                    return Some((x, i as u64));
                }
                continue;
            }
            let keys = self.keys;
            let n = keys.len();
            if i >= n {
                return None;
            }
            let k = keys[i];
            let mut j = i + 1;
            while j < n && keys[j] == k {
                j += 1;
            }
            self.at = Cursor {
                i: j,
                gap_pending: true,
            };
            return Some((k, i as u64));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(keys: &[u64]) -> Vec<(u64, u64)> {
        Points::new(keys, Cursor::START, Cursor::end(keys)).collect()
    }

    #[test]
    fn distinct_keys_give_one_point_each() {
        assert_eq!(all(&[3, 5, 9]), vec![(3, 0), (5, 1), (9, 2)]);
        assert_eq!(all(&[]), vec![]);
    }

    #[test]
    fn duplicates_add_gap_points() {
        // 5 has duplicates: the gap (5, 9] maps to 3, and the tail after the duplicated 9 maps to 6.
        assert_eq!(
            all(&[1, 5, 5, 9, 9, 9]),
            vec![(1, 0), (5, 1), (6, 3), (9, 3), (10, 6)]
        );
        // No gap point when the next key is adjacent, or at u64::MAX.
        assert_eq!(all(&[5, 5, 6]), vec![(5, 0), (6, 2)]);
        assert_eq!(all(&[u64::MAX, u64::MAX]), vec![(u64::MAX, 0)]);
    }

    #[test]
    fn restart_from_a_cursor_continues_the_stream() {
        let keys = [1, 5, 5, 9, 9, 9, 12];
        let full = all(&keys);
        let mut it = Points::new(&keys, Cursor::START, Cursor::end(&keys));
        let mut seen = Vec::new();
        while let Some(p) = it.next() {
            seen.push(p);
            let rest: Vec<_> = Points::new(&keys, it.cursor(), Cursor::end(&keys)).collect();
            let mut joined = seen.clone();
            joined.extend(rest);
            assert_eq!(joined, full);
        }
    }
}
