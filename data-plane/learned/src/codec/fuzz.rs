//! Fuzzing the index codec (run with a larger budget by `scripts/test`: `OMENDB_FUZZ_CASES`). Chunk files
//! carry encoded indexes, so a torn or tampered file must give a `DecodeError`, never a panic, and an index
//! that decodes must answer every search inside its bounds. Mutations keep the checksum right, or they would
//! all stop at the checksum. A failure proptest finds is saved under `proptest-regressions/` and kept.

use proptest::prelude::*;

use super::checksum;
use crate::PgmIndex;

fn cases() -> u32 {
    std::env::var("OMENDB_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

fn encoded(keys: &mut Vec<u64>, epsilon: usize) -> Vec<u8> {
    keys.sort_unstable();
    keys.dedup();
    let mut out = Vec::new();
    PgmIndex::build(keys, epsilon).encode(&mut out);
    out
}

/// Rewrites the trailing checksum so a mutated body is judged on its content.
fn reseal(bytes: &mut [u8]) {
    if bytes.len() >= 8 {
        let body = bytes.len() - 8;
        let sum = checksum(&bytes[..body]);
        bytes[body..].copy_from_slice(&sum.to_le_bytes());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn fuzz_decode_of_mutated_indexes_never_panics(
        mut keys in prop::collection::vec(any::<u64>(), 0..400),
        epsilon in 1usize..64,
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in prop::option::of(any::<prop::sample::Index>()),
        probes in prop::collection::vec(any::<u64>(), 1..16),
    ) {
        let mut bytes = encoded(&mut keys, epsilon);
        for (at, value) in &edits {
            let i = at.index(bytes.len());
            bytes[i] = *value;
        }
        if let Some(cut) = cut {
            bytes.truncate(cut.index(bytes.len() + 1));
        }
        reseal(&mut bytes);
        if let Ok(index) = PgmIndex::decode(&bytes) {
            // Whatever keys it now claims to cover (a decoded length is bounded, but may be large).
            let n = index.len();
            let sorted: Vec<u64> = if n <= 1 << 16 {
                let mut v = probes.clone();
                v.resize(n, u64::MAX);
                v.sort_unstable();
                v
            } else {
                Vec::new()
            };
            for k in probes {
                // The window may end one past the last key (lower bound "none": `len`).
                let r = index.search(k);
                prop_assert!(r.start <= r.end && r.end <= n + 1, "{r:?} of {n}");
                if sorted.len() == n {
                    prop_assert!(index.lower_bound(&sorted, k) <= n);
                }
            }
        }
    }

    #[test]
    fn fuzz_decode_of_arbitrary_bytes_never_panics(mut bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        // With the magic and version in front, so decoding gets past the first checks.
        if bytes.len() >= 12 {
            bytes[..8].copy_from_slice(super::MAGIC);
            bytes[8..10].copy_from_slice(&super::FORMAT_VERSION.to_le_bytes());
        }
        reseal(&mut bytes);
        let _ = PgmIndex::decode(&bytes);
    }

    #[test]
    fn fuzz_encode_then_decode_is_identity(mut keys in prop::collection::vec(any::<u64>(), 0..2000), epsilon in 1usize..128) {
        let bytes = encoded(&mut keys, epsilon);
        let index = PgmIndex::decode(&bytes).unwrap();
        let mut again = Vec::new();
        index.encode(&mut again);
        prop_assert_eq!(bytes, again);
        for (pos, k) in keys.iter().enumerate() {
            let r = index.search(*k);
            prop_assert!(r.contains(&pos), "key {} at {} outside {:?}", k, pos, r);
        }
    }
}
