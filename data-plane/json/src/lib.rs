//! PostgreSQL 15's `json` and `jsonb`, checked against a running PostgreSQL 15: the same accepted
//! input, the same error texts (DETAIL and CONTEXT included), the same output, operators, containment
//! and ordering.
//!
//! - `json` is text that passed the grammar; [`parse`] gives a [`Node`] tree over it whose nodes keep
//!   their source slices, because json's operators return input text verbatim. [`validate`] is the
//!   allocation-free check for storing json; [`parse_strict`] reads as json's operators do.
//! - `jsonb` is the canonical value [`Jsonb`]: keys sorted and unique, numbers as numeric prints them
//!   ([`Number`]). Reading in `jsonb`, output and the read-only operators are in `jsonb`/`output`;
//!   the operations that build values (`||`, `-`, `#-`, `jsonb_set`, ...) in `ops`; `@>` in
//!   `contains`; the btree order in `order`.
//! - Errors: [`ParseError`] for reading text, [`Error`] for the jsonb functions, both with
//!   PostgreSQL's SQLSTATE.
//!
//! ```
//! use omendb_json::{Jsonb, parse};
//!
//! let json = parse(r#"{"a": [1,  2], "a": "last"}"#).unwrap();
//! assert_eq!(json.get("a").unwrap().raw, r#""last""#);
//!
//! let jsonb = Jsonb::parse(r#"{"b": 1e2, "a": [1.50, "x"], "b": -0}"#).unwrap();
//! assert_eq!(jsonb.to_string(), r#"{"a": [1.50, "x"], "b": 0}"#);
//! assert!(jsonb.contains(&Jsonb::parse(r#"{"a": ["x"]}"#).unwrap()));
//! ```

mod contains;
mod error;
mod json_path;
mod jsonb;
mod jsonpath;
mod lex;
mod node;
mod number;
mod ops;
mod order;
mod output;
mod parse;
mod path;
mod sort_key;

pub use error::{
    Error, INVALID_PARAMETER_VALUE, INVALID_TEXT_REPRESENTATION, NULL_VALUE_NOT_ALLOWED,
    NUMERIC_VALUE_OUT_OF_RANGE, PROGRAM_LIMIT_EXCEEDED, ParseError, STATEMENT_TOO_COMPLEX,
    UNTRANSLATABLE_CHARACTER,
};
pub use jsonb::{Jsonb, key_order};
pub use jsonpath::{JsonPath, path_exists, path_match, path_query};
pub use node::{Node, NodeValue, parse, parse_strict};
pub use number::Number;
pub use output::quote;
pub use parse::validate;

/// The deepest nesting of arrays and objects accepted; deeper input is 54001 "stack depth limit
/// exceeded", PostgreSQL's error when its recursive parser runs out of `max_stack_depth`.
///
/// PostgreSQL's limit depends on its stack (with the default 2MB it gives up between 12,000 and
/// 15,000 levels); this one is lower so that the recursive operations here (output, comparison,
/// containment, conversion, clone, drop) stay well inside a 2MB thread stack even in a debug build,
/// where the deepest of them manage about twice this.
pub const MAX_DEPTH: usize = 1000;
