//! Property tests: `AppendIndex` answers equal `partition_point` on every prefix of an appended sequence.

use omendb_learned::AppendIndex;
use omendb_learned::datasets::{Distribution, edge_queries};
use proptest::prelude::*;

fn distribution() -> impl Strategy<Value = Distribution> {
    prop::sample::select(Distribution::ALL.to_vec())
}

/// Pushes `keys` one by one; after each push, checks a few prefixes (always the newest and the oldest).
fn check_while_appending(keys: &[u64], eps: usize, seed: u64) -> Result<(), TestCaseError> {
    let mut index = AppendIndex::new(eps);
    let queries = edge_queries(keys, 20, seed);
    for (i, &k) in keys.iter().enumerate() {
        index.push(k);
        prop_assert_eq!(index.len(), i + 1);
        let pushed = &keys[..=i];
        for n in [0, i / 2, i, i + 1] {
            for &q in queries.iter().step_by(1 + queries.len() / 64) {
                let want = pushed[..n].partition_point(|&x| x < q);
                prop_assert_eq!(index.lower_bound(pushed, n, q), want, "n={} q={}", n, q);
            }
        }
    }
    // Every prefix length against every query, on the final sequence.
    for n in 0..=keys.len() {
        for &q in &queries {
            let want = keys[..n].partition_point(|&x| x < q);
            prop_assert_eq!(index.lower_bound(keys, n, q), want, "n={} q={}", n, q);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_appends_every_prefix(d in distribution(), n in 0usize..250, eps in prop::sample::select(vec![1usize, 4, 16, 64]), seed in any::<u64>()) {
        check_while_appending(&d.generate(n, seed), eps, seed)?;
    }

    #[test]
    fn arbitrary_appends(
        mut keys in prop::collection::vec(prop_oneof![0u64..30, any::<u64>(), Just(u64::MAX)], 0..200),
        eps in 1usize..20,
        seed in any::<u64>(),
    ) {
        keys.sort_unstable();
        check_while_appending(&keys, eps, seed)?;
    }
}

#[test]
fn medium_sequences_match_at_many_prefixes() {
    for d in Distribution::ALL {
        let keys = d.generate(30_000, 9);
        let mut index = AppendIndex::new(16);
        for &k in &keys {
            index.push(k);
        }
        assert!(index.segments() >= 1);
        let queries = edge_queries(&keys, 500, 9);
        for n in [0, 1, 2, 17, 1000, 12_345, 29_999, 30_000] {
            for &q in queries.iter().step_by(7) {
                let want = keys[..n].partition_point(|&x| x < q);
                assert_eq!(index.lower_bound(&keys, n, q), want, "{d:?} n={n} q={q}");
            }
        }
    }
}

#[test]
fn dense_row_ids_stay_one_segment() {
    let keys: Vec<u64> = (0..100_000).collect();
    let mut index = AppendIndex::default();
    for &k in &keys {
        index.push(k);
    }
    assert_eq!(index.segments(), 1);
    assert_eq!(index.lower_bound(&keys, keys.len(), 77_777), 77_777);
}
