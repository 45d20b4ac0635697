//! Order-preserving maps from SQL key types into the `u64` key space the index works on.

/// Maps an `i64` to a `u64` so that `a < b` iff `key_from_i64(a) < key_from_i64(b)`
/// (flips the sign bit: `i64::MIN` becomes 0, `-1` becomes `2^63 - 1`, `0` becomes `2^63`).
#[inline]
#[must_use]
pub const fn key_from_i64(v: i64) -> u64 {
    (v as u64) ^ (1 << 63)
}

/// Inverse of [`key_from_i64`].
#[inline]
#[must_use]
pub const fn key_to_i64(k: u64) -> i64 {
    (k ^ (1 << 63)) as i64
}

/// The first 8 bytes of `b`, big-endian, zero padded.
///
/// Non-strictly order-preserving: `a <= b` (lexicographically) implies
/// `key_from_bytes_prefix(a) <= key_from_bytes_prefix(b)`. Distinct byte strings can share a key (same
/// 8-byte prefix, or a shorter string that is a prefix of a longer one padded with zeros), so callers
/// compare the full bytes inside the window the index returns.
#[inline]
#[must_use]
pub fn key_from_bytes_prefix(b: &[u8]) -> u64 {
    let mut buf = [0u8; 8];
    let n = b.len().min(8);
    buf[..n].copy_from_slice(&b[..n]);
    u64::from_be_bytes(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn i64_round_trip_and_order() {
        let vals = [
            i64::MIN,
            i64::MIN + 1,
            -2,
            -1,
            0,
            1,
            2,
            i64::MAX - 1,
            i64::MAX,
        ];
        for w in vals.windows(2) {
            assert!(key_from_i64(w[0]) < key_from_i64(w[1]));
        }
        for v in vals {
            assert_eq!(key_to_i64(key_from_i64(v)), v);
        }
        assert_eq!(key_from_i64(i64::MIN), 0);
        assert_eq!(key_from_i64(i64::MAX), u64::MAX);
    }

    #[test]
    fn bytes_prefix_is_order_preserving() {
        let mut vals: Vec<&[u8]> = vec![
            b"",
            b"\0",
            b"a",
            b"a\0",
            b"ab",
            b"abcdefgh",
            b"abcdefghz",
            b"abcdefgi",
            b"b",
            b"\xff\xff",
        ];
        vals.sort();
        for w in vals.windows(2) {
            assert!(
                key_from_bytes_prefix(w[0]) <= key_from_bytes_prefix(w[1]),
                "{w:?}"
            );
        }
        assert_eq!(key_from_bytes_prefix(b"\x01"), 1 << 56);
    }
}
