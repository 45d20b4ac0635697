//! Encode/decode round trips, and decoding damaged bytes: an error, never a panic.

use omendb_learned::datasets::{Distribution, edge_queries};
use omendb_learned::{DecodeError, PgmIndex};
use proptest::prelude::*;

fn encoded(index: &PgmIndex) -> Vec<u8> {
    let mut out = Vec::new();
    index.encode(&mut out);
    out
}

#[test]
fn round_trip_every_distribution() {
    for d in Distribution::ALL {
        for n in [0, 1, 2, 5000] {
            let keys = d.generate(n, 5);
            let index = PgmIndex::build(&keys, 16);
            let decoded = PgmIndex::decode(&encoded(&index)).expect("round trip");
            assert_eq!(decoded, index);
            for q in edge_queries(&keys, 50, 5) {
                assert_eq!(
                    decoded.lower_bound(&keys, q),
                    keys.partition_point(|&k| k < q)
                );
            }
        }
    }
}

#[test]
fn every_truncation_is_an_error() {
    let keys = Distribution::Clustered.generate(3000, 1);
    let bytes = encoded(&PgmIndex::build(&keys, 4));
    for len in 0..bytes.len() {
        assert!(
            PgmIndex::decode(&bytes[..len]).is_err(),
            "truncated to {len}"
        );
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert_eq!(PgmIndex::decode(&longer), Err(DecodeError::TrailingBytes));
}

#[test]
fn every_bit_flip_is_detected() {
    let keys = Distribution::TimestampsBursty.generate(2000, 2);
    let bytes = encoded(&PgmIndex::build(&keys, 8));
    for i in 0..bytes.len() {
        for bit in 0..8 {
            let mut b = bytes.clone();
            b[i] ^= 1 << bit;
            assert!(
                PgmIndex::decode(&b).is_err(),
                "flip of byte {i} bit {bit} accepted"
            );
        }
    }
}

#[test]
fn errors_display() {
    assert_eq!(
        PgmIndex::decode(b"nope").unwrap_err(),
        DecodeError::Truncated
    );
    assert_eq!(
        PgmIndex::decode(b"NOTANIDX-and-more-bytes-here-0123456789").unwrap_err(),
        DecodeError::BadMagic
    );
    let e: Box<dyn std::error::Error> = Box::new(DecodeError::Invalid("x"));
    assert_eq!(e.to_string(), "invalid learned index: x");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Random damage: decoding may fail in any way but never panics; if it succeeds (it should not, the
    /// checksum catches it), searching must not panic either.
    #[test]
    fn damaged_bytes_never_panic(
        n in 0usize..3000,
        d in prop::sample::select(Distribution::ALL.to_vec()),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let keys = d.generate(n, 3);
        let mut bytes = encoded(&PgmIndex::build(&keys, 16));
        for (at, v) in edits {
            let i = at.index(bytes.len());
            bytes[i] ^= v.max(1);
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len()));
        }
        if let Ok(index) = PgmIndex::decode(&bytes) {
            for q in edge_queries(&keys, 10, 3) {
                let _ = index.search(q);
                let _ = index.lower_bound(&keys, q);
            }
        }
    }

    #[test]
    fn random_garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let mut with_magic = b"OMPGMIDX\x01\x00\x00\x00\x04\x00\x00\x00".to_vec();
        with_magic.extend_from_slice(&bytes);
        prop_assert!(PgmIndex::decode(&bytes).is_err());
        let _ = PgmIndex::decode(&with_magic);
    }
}
