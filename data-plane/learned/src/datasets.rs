//! Key distributions for tests and benchmarks (feature `datasets`), in the spirit of SOSD.
//!
//! Every generator is deterministic in `(n, seed)` and returns exactly `n` sorted keys (duplicates
//! allowed). Large sizes are sorted with a radix sort, so 100M keys take seconds, not minutes.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution as _, Exp, LogNormal, Normal, Zipf};

/// A key distribution.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Distribution {
    /// Uniform in `[0, 2n)`: dense, with some duplicates.
    UniformDense,
    /// Uniform over all of `u64`.
    UniformSparse,
    /// Normal around `2^63`, standard deviation `2^50`.
    Normal,
    /// Lognormal(0, 2) scaled by `1e9` (SOSD's lognormal shape).
    Lognormal,
    /// Nanosecond timestamps with exponential (Poisson process) gaps of mean 1 ms.
    TimestampsPoisson,
    /// Timestamps in bursts: tight gaps, 30% duplicates inside a burst, ~1 s between bursts.
    TimestampsBursty,
    /// OSM-like: many tight clusters of varying density, far apart.
    Clustered,
    /// FB-like: 99.9% small keys below `2^36`, 0.1% enormous outliers up to `2^64`.
    HeavyOutliers,
    /// Composite `tenant << 40 | timestamp`, with Zipf-sized tenants.
    MultiTenant,
    /// One key repeated `n` times.
    AllEqual,
}

impl Distribution {
    /// Every distribution.
    pub const ALL: [Distribution; 10] = [
        Distribution::UniformDense,
        Distribution::UniformSparse,
        Distribution::Normal,
        Distribution::Lognormal,
        Distribution::TimestampsPoisson,
        Distribution::TimestampsBursty,
        Distribution::Clustered,
        Distribution::HeavyOutliers,
        Distribution::MultiTenant,
        Distribution::AllEqual,
    ];

    /// Short name for tables and JSON keys.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Distribution::UniformDense => "uniform_dense",
            Distribution::UniformSparse => "uniform_sparse",
            Distribution::Normal => "normal",
            Distribution::Lognormal => "lognormal",
            Distribution::TimestampsPoisson => "timestamps_poisson",
            Distribution::TimestampsBursty => "timestamps_bursty",
            Distribution::Clustered => "clustered",
            Distribution::HeavyOutliers => "heavy_outliers",
            Distribution::MultiTenant => "multi_tenant",
            Distribution::AllEqual => "all_equal",
        }
    }

    /// Looks a distribution up by [`Distribution::name`].
    #[must_use]
    pub fn from_name(name: &str) -> Option<Distribution> {
        Distribution::ALL.into_iter().find(|d| d.name() == name)
    }

    /// `n` sorted keys.
    #[must_use]
    pub fn generate(self, n: usize, seed: u64) -> Vec<u64> {
        let mut rng =
            StdRng::seed_from_u64(seed ^ (self as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut keys = match self {
            Distribution::UniformDense => {
                let hi = (2 * n as u64).max(1);
                (0..n).map(|_| rng.random_range(0..hi)).collect()
            }
            Distribution::UniformSparse => (0..n).map(|_| rng.random::<u64>()).collect(),
            Distribution::Normal => {
                let d = Normal::new(0.0, 1.0).expect("valid normal");
                (0..n)
                    .map(|_| to_key(9.223_372_036_854_776e18 + d.sample(&mut rng) * 2f64.powi(50)))
                    .collect()
            }
            Distribution::Lognormal => {
                let d = LogNormal::new(0.0, 2.0).expect("valid lognormal");
                (0..n).map(|_| to_key(d.sample(&mut rng) * 1e9)).collect()
            }
            Distribution::TimestampsPoisson => {
                let gap = Exp::new(1e-6).expect("valid exp");
                let mut t = 1_700_000_000_000_000_000u64;
                return (0..n)
                    .map(|_| {
                        t = t.saturating_add(gap.sample(&mut rng) as u64);
                        t
                    })
                    .collect();
            }
            Distribution::TimestampsBursty => return bursty(n, &mut rng),
            Distribution::Clustered => return clustered(n, &mut rng),
            Distribution::HeavyOutliers => (0..n)
                .map(|_| {
                    if rng.random_range(0..1000) == 0 {
                        rng.random_range(1u64 << 36..=u64::MAX)
                    } else {
                        rng.random_range(0..1u64 << 36)
                    }
                })
                .collect(),
            Distribution::MultiTenant => return multi_tenant(n, &mut rng),
            Distribution::AllEqual => return vec![rng.random::<u64>(); n],
        };
        radix_sort(&mut keys);
        keys
    }
}

fn to_key(v: f64) -> u64 {
    // `as` saturates: negative values become 0, huge ones u64::MAX.
    v as u64
}

fn bursty(n: usize, rng: &mut StdRng) -> Vec<u64> {
    let between = Exp::new(1e-9).expect("valid exp");
    let inside = Exp::new(1.0 / 50.0).expect("valid exp");
    let mut t = 1_700_000_000_000_000_000u64;
    let mut keys = Vec::with_capacity(n);
    while keys.len() < n {
        t = t.saturating_add(between.sample(rng) as u64);
        let burst = 1 + (Exp::new(0.01).expect("valid exp").sample(rng) as usize);
        for _ in 0..burst.min(n - keys.len()) {
            if rng.random_range(0..10) >= 3 {
                t = t.saturating_add(1 + inside.sample(rng) as u64);
            }
            keys.push(t);
        }
    }
    keys
}

fn clustered(n: usize, rng: &mut StdRng) -> Vec<u64> {
    let mut k = 1u64 << 40;
    let mut keys = Vec::with_capacity(n);
    let far = Exp::new(1.0 / 2f64.powi(44)).expect("valid exp");
    while keys.len() < n {
        k = k.saturating_add(far.sample(rng) as u64);
        let size = 1 + Exp::new(1.0 / 500.0).expect("valid exp").sample(rng) as usize;
        let density = 2f64.powi(rng.random_range(0..20));
        let near = Exp::new(1.0 / density).expect("valid exp");
        for _ in 0..size.min(n - keys.len()) {
            k = k.saturating_add(1 + near.sample(rng) as u64);
            keys.push(k);
        }
    }
    keys
}

fn multi_tenant(n: usize, rng: &mut StdRng) -> Vec<u64> {
    let tenants = (n / 10_000).clamp(1, 1000) as u64;
    let zipf = Zipf::new(tenants as f64, 1.1).expect("valid zipf");
    let mut counts = vec![0usize; tenants as usize];
    for _ in 0..n {
        let t = (zipf.sample(rng) as u64).clamp(1, tenants) - 1;
        counts[t as usize] += 1;
    }
    let gap = Exp::new(1.0 / 1000.0).expect("valid exp");
    let mask = (1u64 << 40) - 1;
    let mut keys = Vec::with_capacity(n);
    for (t, &count) in counts.iter().enumerate() {
        let mut ts = rng.random_range(0..1u64 << 30);
        for _ in 0..count {
            ts = (ts + gap.sample(rng) as u64).min(mask);
            keys.push(((t as u64) << 40) | ts);
        }
    }
    keys
}

/// LSD radix sort, 16-bit digits; passes where every key has the same digit are skipped.
pub fn radix_sort(keys: &mut Vec<u64>) {
    if keys.len() < 1 << 16 {
        keys.sort_unstable();
        return;
    }
    let mut buf = vec![0u64; keys.len()];
    for shift in (0..64).step_by(16) {
        let mut counts = vec![0usize; 1 << 16];
        for &k in keys.iter() {
            counts[((k >> shift) & 0xFFFF) as usize] += 1;
        }
        if counts.contains(&keys.len()) {
            continue;
        }
        let mut sum = 0;
        for c in &mut counts {
            let this = *c;
            *c = sum;
            sum += this;
        }
        for &k in keys.iter() {
            let d = ((k >> shift) & 0xFFFF) as usize;
            buf[counts[d]] = k;
            counts[d] += 1;
        }
        std::mem::swap(keys, &mut buf);
    }
}

/// `count` query keys drawn uniformly from `keys` (so every query hits), in random order.
#[must_use]
pub fn sample_hits(keys: &[u64], count: usize, seed: u64) -> Vec<u64> {
    let mut rng = StdRng::seed_from_u64(seed);
    if keys.is_empty() {
        return Vec::new();
    }
    (0..count)
        .map(|_| keys[rng.random_range(0..keys.len())])
        .collect()
}

/// Query keys that stress the edges: every key, its neighbours, the extremes and random values.
#[must_use]
pub fn edge_queries(keys: &[u64], random: usize, seed: u64) -> Vec<u64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut q = vec![0, 1, u64::MAX - 1, u64::MAX];
    for &k in keys {
        q.extend([k.wrapping_sub(1), k, k.wrapping_add(1)]);
    }
    if let (Some(&lo), Some(&hi)) = (keys.first(), keys.last()) {
        q.extend((0..random).map(|_| {
            if hi > lo {
                rng.random_range(lo..=hi)
            } else {
                lo
            }
        }));
    }
    q.extend((0..random).map(|_| rng.random::<u64>()));
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_distribution_is_sorted_and_sized() {
        for d in Distribution::ALL {
            for n in [0, 1, 1000, 70_000] {
                let keys = d.generate(n, 7);
                assert_eq!(keys.len(), n, "{d:?}");
                assert!(keys.is_sorted(), "{d:?}");
                assert_eq!(Distribution::from_name(d.name()), Some(d));
            }
        }
    }
}
