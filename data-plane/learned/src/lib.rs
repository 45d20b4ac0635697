//! PGM-style learned index over sorted `u64` keys.
//!
//! A sorted key slice is approximated by the optimal piecewise-linear function with a guaranteed maximum
//! error `epsilon` (the streaming convex-hull algorithm of the PGM-index, with exact integer arithmetic).
//! A lookup predicts a position and searches a window of at most `2 * epsilon + 2` keys. The index does
//! not own the keys: every lookup takes the slice it was built on.
//!
//! Layout: `fit` (the streaming hull), `points` (which points a key slice is fitted on, duplicates
//! included), `build` (fit a level, check every rounded model), `segment` (flat per-level arrays, the
//! prediction, branch-free window searches), `radix` (optional table over the bottom level), `index`,
//! `append`, `codec`, `key`.
//!
//! - [`PgmIndex`]: immutable, recursive index over a sorted chunk, with a checksummed on-disk encoding.
//! - [`AppendIndex`]: index over a sequence that only grows at the end (a table's open tail chunk).
//! - [`key_from_i64`], [`key_from_bytes_prefix`]: order-preserving maps into the `u64` key space.
//! - `datasets` (feature `datasets`): key distributions shared by the tests and the bench harness.
//!
//! ```
//! use omendb_learned::{AppendIndex, PgmIndex, DEFAULT_EPSILON};
//!
//! let keys: Vec<u64> = (0..10_000u64).map(|i| i * i).collect();
//! let index = PgmIndex::build(&keys, DEFAULT_EPSILON);
//! assert_eq!(index.find(&keys, 49), Some(7));
//! assert_eq!(index.find(&keys, 50), None);
//! assert_eq!(index.lower_bound(&keys, 50), 8);
//! let window = index.search(50);
//! assert!(window.contains(&8) && window.len() <= 2 * DEFAULT_EPSILON + 2);
//!
//! let mut bytes = Vec::new();
//! index.encode(&mut bytes);
//! assert_eq!(PgmIndex::decode(&bytes).unwrap(), index);
//!
//! let mut tail = AppendIndex::new(DEFAULT_EPSILON);
//! for &k in &keys {
//!     tail.push(k);
//! }
//! assert_eq!(tail.lower_bound(&keys, keys.len(), 50), 8);
//! assert_eq!(tail.lower_bound(&keys, 5, 50), 5); // an older prefix of the same sequence
//! ```

mod append;
mod build;
mod codec;
mod fit;
mod index;
mod key;
mod points;
mod radix;
mod segment;

#[cfg(feature = "datasets")]
pub mod datasets;

pub use append::AppendIndex;
pub use codec::{DecodeError, FORMAT_VERSION};
pub use index::PgmIndex;
pub use key::{key_from_bytes_prefix, key_from_i64, key_to_i64};

/// Default maximum error of the bottom level: windows of at most 34 keys.
pub const DEFAULT_EPSILON: usize = 16;
