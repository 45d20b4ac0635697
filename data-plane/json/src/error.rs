//! The two error types: one for reading json/jsonb text, one for the jsonb functions.

use std::fmt;

/// `invalid_text_representation`: every json syntax error.
pub const INVALID_TEXT_REPRESENTATION: &str = "22P02";
/// `untranslatable_character`: `\u0000` where the text must be de-escaped.
pub const UNTRANSLATABLE_CHARACTER: &str = "22P05";
/// `numeric_value_out_of_range`: a jsonb number numeric cannot hold.
pub const NUMERIC_VALUE_OUT_OF_RANGE: &str = "22003";
/// `invalid_parameter_value`: the jsonb functions' misuse errors.
pub const INVALID_PARAMETER_VALUE: &str = "22023";
/// `null_value_not_allowed`: a NULL element in a path that must be walked.
pub const NULL_VALUE_NOT_ALLOWED: &str = "22004";
/// `statement_too_complex`: nesting deeper than [`crate::MAX_DEPTH`].
pub const STATEMENT_TOO_COMPLEX: &str = "54001";
/// `program_limit_exceeded`: a jsonb string longer than PostgreSQL can store.
pub const PROGRAM_LIMIT_EXCEEDED: &str = "54000";

/// An error reading json or jsonb text, as PostgreSQL reports it.
///
/// `message` is "invalid input syntax for type json" (22P02) for every syntax error, and
/// "unsupported Unicode escape sequence" (22P05) for `\u0000` where strings are de-escaped (jsonb, and
/// the json operators). `context` is PostgreSQL's CONTEXT line ("JSON data, line 1: [1 2...").
/// Two errors come from outside the json grammar and carry no context: a jsonb number out of numeric's
/// range (22003 "value overflows numeric format") and nesting deeper than [`crate::MAX_DEPTH`]
/// (54001 "stack depth limit exceeded"); their `detail` is empty because PostgreSQL sends none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub sqlstate: &'static str,
    pub message: String,
    pub detail: String,
    pub context: Option<String>,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ParseError {}

/// An error from a jsonb function, with PostgreSQL's SQLSTATE, message, DETAIL and HINT.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub sqlstate: &'static str,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
}

impl Error {
    pub(crate) fn new(sqlstate: &'static str, message: impl Into<String>) -> Error {
        Error {
            sqlstate,
            message: message.into(),
            detail: None,
            hint: None,
        }
    }

    pub(crate) fn invalid_parameter(message: &str) -> Error {
        Error::new(INVALID_PARAMETER_VALUE, message)
    }

    pub(crate) fn numeric_overflow() -> Error {
        Error::new(NUMERIC_VALUE_OUT_OF_RANGE, "value overflows numeric format")
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// A parse error surfacing from a jsonb function (a cast, `jsonb_in` inside an expression): same
/// SQLSTATE and texts, the context line folded into nothing because [`Error`] has no CONTEXT.
impl From<ParseError> for Error {
    fn from(e: ParseError) -> Error {
        Error {
            sqlstate: e.sqlstate,
            message: e.message,
            detail: (!e.detail.is_empty()).then_some(e.detail),
            hint: None,
        }
    }
}

impl From<Error> for ParseError {
    fn from(e: Error) -> ParseError {
        ParseError {
            sqlstate: e.sqlstate,
            message: e.message,
            detail: e.detail.unwrap_or_default(),
            context: None,
        }
    }
}
