//! The on-disk format of a [`PgmIndex`]: compact, versioned, little-endian, with a checksum.
//!
//! ```text
//! magic "OMPGMIDX" | version u16 | reserved u16 (0) | recursive epsilon u32
//! len u64 | epsilon u64 | levels u64
//! per level, bottom first: segments u64 | err u64 | first keys (segments x u64)
//!                          | models ((segments + 1) x (base f64, slope f64))
//! checksum u64 (of every byte before it)
//! ```
//!
//! [`PgmIndex::decode`] never panics: it checks lengths before allocating, the checksum, and every
//! invariant a lookup relies on, so even a crafted input that passes the checksum cannot make a search
//! index out of bounds.

use std::fmt;

use crate::index::{PgmIndex, RECURSIVE_EPSILON, ROOT_KEYS};
use crate::segment::{Level, Model};

const MAGIC: &[u8; 8] = b"OMPGMIDX";
/// Current format version.
pub const FORMAT_VERSION: u16 = 1;
const HEADER_LEN: usize = 8 + 2 + 2 + 4 + 8 + 8 + 8;
const MAX_LEVELS: u64 = 64;

/// Why [`PgmIndex::decode`] rejected its input.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ends before the structure it describes.
    Truncated,
    /// The input does not start with the index magic.
    BadMagic,
    /// Written by a format version this build does not read.
    UnsupportedVersion(u16),
    /// Bytes follow the checksum.
    TrailingBytes,
    /// The checksum does not match the content.
    ChecksumMismatch { stored: u64, computed: u64 },
    /// Well-formed and checksummed, but breaks an invariant of the index.
    Invalid(&'static str),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Truncated => f.write_str("learned index bytes are truncated"),
            DecodeError::BadMagic => f.write_str("not a learned index (bad magic)"),
            DecodeError::UnsupportedVersion(v) => {
                write!(f, "unsupported learned index format version {v}")
            }
            DecodeError::TrailingBytes => {
                f.write_str("trailing bytes after the learned index checksum")
            }
            DecodeError::ChecksumMismatch { stored, computed } => {
                write!(
                    f,
                    "learned index checksum mismatch (stored {stored:#018x}, computed {computed:#018x})"
                )
            }
            DecodeError::Invalid(what) => write!(f, "invalid learned index: {what}"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// 64-bit word-at-a-time checksum. Each step is a bijection of the state, so any change confined to one
/// 8-byte word (any single bit flip, any single byte) is always detected; other changes with probability
/// `1 - 2^-64`.
fn checksum(bytes: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut h = K ^ (bytes.len() as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    let mut words = bytes.chunks_exact(8);
    for w in &mut words {
        let w = u64::from_le_bytes(w.try_into().expect("chunks_exact gives 8 bytes"));
        h = (h ^ w).wrapping_mul(K).rotate_left(31);
    }
    let mut tail = [0u8; 8];
    tail[..words.remainder().len()].copy_from_slice(words.remainder());
    h = (h ^ u64::from_le_bytes(tail))
        .wrapping_mul(K)
        .rotate_left(31);
    h ^ (h >> 29)
}

impl PgmIndex {
    /// Appends the encoded index to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.reserve(
            HEADER_LEN
                + 8
                + self
                    .levels
                    .iter()
                    .map(|l| 16 + l.size_in_bytes())
                    .sum::<usize>(),
        );
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&(RECURSIVE_EPSILON as u32).to_le_bytes());
        for v in [self.len, self.epsilon, self.levels.len()] {
            out.extend_from_slice(&(v as u64).to_le_bytes());
        }
        for level in &self.levels {
            out.extend_from_slice(&(level.segments() as u64).to_le_bytes());
            out.extend_from_slice(&(level.err as u64).to_le_bytes());
            for k in level.first_keys() {
                out.extend_from_slice(&k.to_le_bytes());
            }
            for m in &level.models {
                out.extend_from_slice(&m.base.to_bits().to_le_bytes());
                out.extend_from_slice(&m.slope.to_bits().to_le_bytes());
            }
        }
        let sum = checksum(&out[start..]);
        out.extend_from_slice(&sum.to_le_bytes());
    }

    /// Decodes an index written by [`PgmIndex::encode`]. Never panics; garbage gives a [`DecodeError`].
    pub fn decode(bytes: &[u8]) -> Result<PgmIndex, DecodeError> {
        let mut r = Reader { bytes, pos: 0 };
        if r.take(8)? != MAGIC {
            return Err(DecodeError::BadMagic);
        }
        let version = u16::from_le_bytes(r.array()?);
        if version != FORMAT_VERSION {
            return Err(DecodeError::UnsupportedVersion(version));
        }
        let _reserved = r.array::<2>()?;
        let rec_eps = u32::from_le_bytes(r.array()?) as usize;
        let len = r.u64()?;
        let epsilon = r.u64()?;
        let height = r.u64()?;
        if height > MAX_LEVELS {
            return Err(DecodeError::Invalid("too many levels"));
        }
        let mut levels = Vec::with_capacity(height as usize);
        for _ in 0..height {
            let segments = r.u64()?;
            let err = r.u64()?;
            // Check the bytes are there before allocating anything sized by the input.
            let need = segments.checked_mul(24).and_then(|m| m.checked_add(16));
            match need {
                Some(need) if need <= r.remaining() as u64 => {}
                _ => return Err(DecodeError::Truncated),
            }
            let segments = segments as usize;
            let keys = (0..segments)
                .map(|_| r.u64())
                .collect::<Result<Vec<u64>, _>>()?;
            let models = (0..=segments)
                .map(|_| {
                    Ok(Model {
                        base: f64::from_bits(r.u64()?),
                        slope: f64::from_bits(r.u64()?),
                    })
                })
                .collect::<Result<Vec<Model>, DecodeError>>()?;
            levels.push(Level::new(
                keys,
                models,
                usize::try_from(err).unwrap_or(usize::MAX),
            ));
        }
        let body_end = r.pos;
        let stored = r.u64()?;
        if r.remaining() != 0 {
            return Err(DecodeError::TrailingBytes);
        }
        let computed = checksum(&bytes[..body_end]);
        if stored != computed {
            return Err(DecodeError::ChecksumMismatch { stored, computed });
        }
        let len =
            usize::try_from(len).map_err(|_| DecodeError::Invalid("length does not fit usize"))?;
        let epsilon = usize::try_from(epsilon)
            .map_err(|_| DecodeError::Invalid("epsilon does not fit usize"))?;
        validate(len, epsilon, &levels, rec_eps)?;
        Ok(PgmIndex::from_levels(len, epsilon, levels))
    }
}

/// Checks every invariant a lookup relies on to stay in bounds.
fn validate(
    len: usize,
    epsilon: usize,
    levels: &[Level],
    rec_eps: usize,
) -> Result<(), DecodeError> {
    const MAX_EPS: usize = 1 << 32;
    const MAX_LEN: usize = 1 << 50;
    if epsilon == 0 || epsilon > MAX_EPS {
        return Err(DecodeError::Invalid("epsilon out of range"));
    }
    // The upper levels are searched with a fixed window sized for this build's recursive epsilon.
    if rec_eps != RECURSIVE_EPSILON {
        return Err(DecodeError::Invalid(
            "recursive epsilon differs from this build's",
        ));
    }
    if len > MAX_LEN {
        return Err(DecodeError::Invalid("length out of range"));
    }
    if (len == 0) != levels.is_empty() {
        return Err(DecodeError::Invalid("levels do not match the length"));
    }
    let mut below_len = len;
    for (l, level) in levels.iter().enumerate() {
        let max_err = if l == 0 { epsilon } else { rec_eps };
        if level.err > max_err {
            return Err(DecodeError::Invalid("level error above its epsilon"));
        }
        // Level 0 can have up to two points per key (see `points`); upper levels one.
        let segments = level.segments();
        if segments == 0 || segments > 2 * below_len + 1 {
            return Err(DecodeError::Invalid("level has a bad number of segments"));
        }
        if !level.first_keys().windows(2).all(|w| w[0] < w[1]) {
            return Err(DecodeError::Invalid(
                "segment keys are not strictly increasing",
            ));
        }
        // Predictions are capped by the next model's base, rounded: bounding that by below_len + err
        // keeps each window's start inside the level below (the padded window reads rely on it).
        let limit = (below_len + level.err) as f64;
        let models_ok = level.models.iter().all(|m| {
            m.base.is_finite()
                && m.base.round_ties_even() <= limit
                && m.slope.is_finite()
                && m.slope >= 0.0
        });
        if !models_ok {
            return Err(DecodeError::Invalid("model out of range"));
        }
        if level.models[segments] != Model::sentinel(below_len) {
            return Err(DecodeError::Invalid("bad sentinel model"));
        }
        below_len = segments;
    }
    if levels.last().is_some_and(|top| top.segments() > ROOT_KEYS) {
        return Err(DecodeError::Invalid("top level has too many segments"));
    }
    Ok(())
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or(DecodeError::Truncated)?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array()?))
    }
}

#[cfg(test)]
mod fuzz;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_sees_every_single_bit_flip() {
        let bytes: Vec<u8> = (0..100u8).collect();
        let base = checksum(&bytes);
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut b = bytes.clone();
                b[i] ^= 1 << bit;
                assert_ne!(checksum(&b), base);
            }
        }
        assert_ne!(checksum(&bytes[..99]), base);
    }
}
