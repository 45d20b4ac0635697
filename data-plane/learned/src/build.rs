//! Fitting one level: stream the points through [`Pla`], then check each finished segment's rounded model.

use crate::fit::Pla;
use crate::points::{Cursor, Points};
use crate::segment::{Level, Model};

/// Fits `keys` (sorted, non-decreasing) with maximum error `eps` and returns the level, with its sentinel.
///
/// Every segment is checked after rounding: the stored model's prediction is recomputed on each of the
/// segment's points exactly as a lookup computes it. A segment whose rounded model misses a point by more
/// than `eps` (possible only through floating-point rounding of very long or very sparse segments) is
/// refitted with half the epsilon, down to one point per segment, which is always exact.
pub(crate) fn build_level(keys: &[u64], eps: usize) -> Level {
    build_level_with_threads(keys, eps, 1)
}

/// [`build_level`] on up to `threads` threads: the keys are cut into chunks at distinct-key boundaries
/// and each chunk is fitted on its own. Every chunk boundary can cost one segment more than the optimal
/// fit of the whole slice; the error bound and all checks are the same.
pub(crate) fn build_level_with_threads(keys: &[u64], eps: usize, threads: usize) -> Level {
    let chunks = threads.clamp(1, keys.len().div_ceil(MIN_KEYS_PER_THREAD).max(1));
    // Chunk c covers the points from bounds[c] to bounds[c + 1].
    let mut bounds = vec![Cursor::START];
    for c in 1..chunks {
        let mut i = keys.len() * c / chunks;
        while i < keys.len() && keys[i] == keys[i - 1] {
            i += 1;
        }
        if i < keys.len() && i > bounds[bounds.len() - 1].i {
            bounds.push(Cursor {
                i,
                gap_pending: true,
            });
        }
    }
    bounds.push(Cursor::end(keys));
    let fit = |from: Cursor, to: Cursor| {
        let mut builder = Builder {
            keys,
            eps,
            first_keys: Vec::new(),
            models: Vec::new(),
            err: 0,
        };
        builder.fit_range(from, to, eps);
        builder
    };
    let parts: Vec<Builder<'_>> = if bounds.len() == 2 {
        vec![fit(bounds[0], bounds[1])]
    } else {
        std::thread::scope(|scope| {
            let handles: Vec<_> = bounds
                .windows(2)
                .map(|w| scope.spawn(move || fit(w[0], w[1])))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("fit thread panicked"))
                .collect()
        })
    };
    let segments = parts.iter().map(|p| p.first_keys.len()).sum::<usize>();
    let mut first_keys = Vec::with_capacity(segments);
    let mut models = Vec::with_capacity(segments + 1);
    let mut err = 0;
    for part in parts {
        first_keys.extend_from_slice(&part.first_keys);
        models.extend_from_slice(&part.models);
        err = err.max(part.err);
    }
    models.push(Model::sentinel(keys.len()));
    Level::new(first_keys, models, err)
}

/// Below this many keys per thread, a parallel fit is not worth the thread start.
const MIN_KEYS_PER_THREAD: usize = 1 << 20;

struct Builder<'a> {
    keys: &'a [u64],
    eps: usize,
    first_keys: Vec<u64>,
    models: Vec<Model>,
    err: usize,
}

impl Builder<'_> {
    fn fit_range(&mut self, from: Cursor, to: Cursor, fit_eps: usize) {
        let mut pla = Pla::new(fit_eps);
        let mut points = Points::new(self.keys, from, to);
        let mut seg_start = from;
        loop {
            let at = points.cursor();
            let Some((x, y)) = points.next() else { break };
            if !pla.add(x, y) {
                self.close(&pla, seg_start, at, fit_eps);
                pla.reset();
                let added = pla.add(x, y);
                debug_assert!(added, "a new segment always takes its first point");
                seg_start = at;
            }
        }
        if pla.points() > 0 {
            self.close(&pla, seg_start, to, fit_eps);
        }
    }

    /// Turns the open segment into a stored model, after checking its real error.
    fn close(&mut self, pla: &Pla, from: Cursor, to: Cursor, fit_eps: usize) {
        let (first_x, first_y) = pla.first();
        let line = pla.line();
        let model = Model {
            base: first_y as f64 + line.icpt,
            slope: line.slope,
        };
        let err = Points::new(self.keys, from, to)
            .map(|(x, y)| model.raw(x - first_x).abs_diff(y as i64))
            .max()
            .unwrap_or(0) as usize;
        if err <= self.eps {
            self.push(first_x, model, err);
        } else if fit_eps > 0 {
            self.fit_range(from, to, fit_eps / 2);
        } else {
            for (x, y) in Points::new(self.keys, from, to) {
                self.push(
                    x,
                    Model {
                        base: y as f64,
                        slope: 0.0,
                    },
                    0,
                );
            }
        }
    }

    fn push(&mut self, first_key: u64, model: Model, err: usize) {
        debug_assert!(self.first_keys.last().is_none_or(|&k| k < first_key));
        self.first_keys.push(first_key);
        self.models.push(model);
        self.err = self.err.max(err);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_keys_fit_one_segment() {
        let keys: Vec<u64> = (100..10_100).collect();
        let level = build_level(&keys, 1);
        assert_eq!(level.segments(), 1);
        assert_eq!(level.err, 0);
        assert_eq!(level.models.len(), 2);
    }

    #[test]
    fn chunked_fit_matches_the_bound() {
        let mut state = 7u64;
        let mut keys: Vec<u64> = (0..3 * MIN_KEYS_PER_THREAD as u64 + 5)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                state >> 44
            })
            .collect();
        keys.sort_unstable();
        let one = build_level(&keys, 8);
        let four = build_level_with_threads(&keys, 8, 4);
        assert!(four.err <= 8);
        assert!(four.segments() <= one.segments() + 3);
        assert!(four.first_keys().windows(2).all(|w| w[0] < w[1]));
        assert_eq!(four.models.last(), Some(&Model::sentinel(keys.len())));
    }

    #[test]
    fn empty_keys_have_no_segments() {
        let level = build_level(&[], 4);
        assert_eq!(level.segments(), 0);
        assert_eq!(level.models, vec![Model::sentinel(0)]);
    }

    #[test]
    fn huge_gaps_are_checked_after_rounding() {
        // Keys spread over the whole u64 range with tiny local steps: a stress for f64 rounding.
        let mut keys = Vec::new();
        for hi in 0..64u64 {
            for lo in 0..50u64 {
                keys.push((hi << 58) | (lo * 3));
            }
        }
        keys.push(u64::MAX);
        for eps in [0, 1, 4, 16] {
            let level = build_level(&keys, eps);
            assert!(level.err <= eps);
        }
    }
}
