//! Property tests: `PgmIndex` answers equal `partition_point` on every distribution, size and epsilon.

use omendb_learned::PgmIndex;
use omendb_learned::datasets::{Distribution, edge_queries};
use proptest::prelude::*;

const EPSILONS: [usize; 4] = [1, 4, 16, 64];

/// Checks every answer and window for the edge queries of `keys`.
fn check(keys: &[u64], eps: usize, seed: u64) -> Result<(), TestCaseError> {
    let index = PgmIndex::build(keys, eps);
    prop_assert_eq!(index.len(), keys.len());
    prop_assert_eq!(index.epsilon(), eps);
    prop_assert!(
        index.max_error() <= eps,
        "max_error {} > eps {}",
        index.max_error(),
        eps
    );
    prop_assert!(keys.is_empty() || index.height() >= 1);
    for q in edge_queries(keys, 200, seed) {
        let want = keys.partition_point(|&k| k < q);
        let window = index.search(q);
        prop_assert!(
            window.contains(&want),
            "key {} lb {} window {:?}",
            q,
            want,
            window
        );
        prop_assert!(window.len() <= 2 * eps + 2, "window {:?} too wide", window);
        prop_assert_eq!(index.lower_bound(keys, q), want, "lower_bound({})", q);
        let found = (keys.get(want) == Some(&q)).then_some(want);
        prop_assert_eq!(index.find(keys, q), found, "find({})", q);
    }
    Ok(())
}

fn distribution() -> impl Strategy<Value = Distribution> {
    prop::sample::select(Distribution::ALL.to_vec())
}

fn epsilon() -> impl Strategy<Value = usize> {
    prop::sample::select(EPSILONS.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn small_sizes(d in distribution(), n in 0usize..600, eps in epsilon(), seed in any::<u64>()) {
        check(&d.generate(n, seed), eps, seed)?;
    }

    /// Arbitrary sorted keys, including heavy duplicates from a tiny range and the extremes.
    #[test]
    fn arbitrary_sorted_keys(
        mut keys in prop::collection::vec(prop_oneof![0u64..40, any::<u64>(), Just(u64::MAX), Just(0)], 0..400),
        eps in epsilon(),
        seed in any::<u64>(),
    ) {
        keys.sort_unstable();
        check(&keys, eps, seed)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn medium_sizes(d in distribution(), n in 2_000usize..40_000, eps in epsilon(), seed in any::<u64>()) {
        check(&d.generate(n, seed), eps, seed)?;
    }
}

#[test]
fn every_distribution_and_epsilon_once() {
    for d in Distribution::ALL {
        for eps in EPSILONS {
            check(&d.generate(20_000, 42), eps, 42)
                .unwrap_or_else(|e| panic!("{d:?} eps {eps}: {e}"));
        }
    }
}

#[test]
fn empty_and_single_key() {
    for eps in EPSILONS {
        check(&[], eps, 1).expect("empty");
        for k in [0, 1, 12345, u64::MAX] {
            check(&[k], eps, 1).expect("single");
            check(&[k, k, k], eps, 1).expect("single repeated");
        }
    }
    let empty = PgmIndex::build(&[], 16);
    assert_eq!(
        (empty.segments(), empty.height(), empty.lower_bound(&[], 5)),
        (0, 0, 0)
    );
}

#[test]
fn run_of_duplicates_gives_the_first_occurrence() {
    let mut keys = vec![5u64; 1000];
    keys.extend(vec![1 << 40; 1000]);
    keys.extend(vec![u64::MAX; 1000]);
    for eps in EPSILONS {
        let index = PgmIndex::build(&keys, eps);
        assert_eq!(index.find(&keys, 5), Some(0));
        assert_eq!(index.find(&keys, 1 << 40), Some(1000));
        assert_eq!(index.find(&keys, u64::MAX), Some(2000));
        assert_eq!(index.lower_bound(&keys, 6), 1000);
        assert_eq!(index.lower_bound(&keys, (1 << 40) + 1), 2000);
    }
}

#[test]
fn compact_on_smooth_keys() {
    // A smooth distribution needs few segments: well under 2 bits per key at epsilon 16.
    let keys = Distribution::UniformSparse.generate(200_000, 3);
    let index = PgmIndex::build(&keys, 16);
    let bits = index.size_in_bytes() as f64 * 8.0 / keys.len() as f64;
    assert!(
        bits < 2.0,
        "{bits} bits per key, {} segments",
        index.segments()
    );
}
