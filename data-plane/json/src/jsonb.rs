//! The `jsonb` value: canonical form, reading, and the read-only operators.

use std::cmp::Ordering;

use crate::error::{Error, INVALID_PARAMETER_VALUE, PROGRAM_LIMIT_EXCEEDED, ParseError};
use crate::lex::Escapes;
use crate::number::Number;
use crate::parse::{Scalar, Sink, parse_with};
use crate::path::array_index;

/// A jsonb value in PostgreSQL's canonical form.
///
/// Object keys are sorted as jsonb stores them ([`key_order`]: shorter keys first, then bytewise) and
/// unique, the last duplicate winning; [`Jsonb::object`] builds that from any list of pairs. Code
/// that builds `Object` directly must keep that order: lookups binary-search it, and output,
/// comparison and containment follow it. A top-level scalar is what PostgreSQL calls a raw scalar,
/// which behaves like a one-element array in a few operators (documented on each).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Jsonb {
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    Array(Vec<Jsonb>),
    Object(Vec<(String, Jsonb)>),
}

/// The order of keys in a jsonb object: by length, then bytewise.
pub fn key_order(a: &str, b: &str) -> Ordering {
    a.len()
        .cmp(&b.len())
        .then_with(|| a.as_bytes().cmp(b.as_bytes()))
}

/// jsonb's limit on a string's (and a key's) length in bytes.
const MAX_STRING_LEN: usize = 0x0FFF_FFFF;

fn check_string_len(s: &str) -> Result<(), ParseError> {
    if s.len() <= MAX_STRING_LEN {
        return Ok(());
    }
    Err(ParseError {
        sqlstate: PROGRAM_LIMIT_EXCEEDED,
        message: "string too long to represent as jsonb string".to_owned(),
        detail: format!(
            "Due to an implementation restriction, jsonb strings cannot exceed {MAX_STRING_LEN} bytes."
        ),
        context: None,
    })
}

struct Build;

impl<'a> Sink<'a> for Build {
    type Value = Jsonb;
    type Array = Vec<Jsonb>;
    type Object = Vec<(String, Jsonb)>;

    fn scalar(&mut self, scalar: Scalar<'a>, _: &'a str) -> Result<Jsonb, ParseError> {
        Ok(match scalar {
            Scalar::Null => Jsonb::Null,
            Scalar::Bool(b) => Jsonb::Bool(b),
            Scalar::Number(token) => Jsonb::Number(Number::from_json(token)?),
            Scalar::String(s) => {
                check_string_len(&s)?;
                Jsonb::String(s)
            }
        })
    }
    fn array(&mut self) -> Vec<Jsonb> {
        Vec::new()
    }
    fn push(&mut self, array: &mut Vec<Jsonb>, value: Jsonb) {
        array.push(value);
    }
    fn end_array(&mut self, items: Vec<Jsonb>, _: &'a str) -> Jsonb {
        Jsonb::Array(items)
    }
    fn object(&mut self) -> Vec<(String, Jsonb)> {
        Vec::new()
    }
    fn insert(
        &mut self,
        object: &mut Vec<(String, Jsonb)>,
        key: String,
        value: Jsonb,
    ) -> Result<(), ParseError> {
        check_string_len(&key)?;
        object.push((key, value));
        Ok(())
    }
    fn end_object(&mut self, pairs: Vec<(String, Jsonb)>, _: &'a str) -> Jsonb {
        Jsonb::object(pairs)
    }
}

impl Jsonb {
    /// `jsonb_in`: json's grammar, strict escapes (`\u0000` is 22P05, a lone surrogate 22P02), numbers
    /// read as numeric (22003 past its range), objects canonicalised.
    pub fn parse(text: &str) -> Result<Jsonb, ParseError> {
        parse_with(text, Escapes::Strict, &mut Build)
    }

    /// An object from pairs in any order: sorted into jsonb's key order, the last duplicate winning
    /// (`jsonb_build_object('a', 1, 'a', 2)` is `{"a": 2}`).
    pub fn object(mut pairs: Vec<(String, Jsonb)>) -> Jsonb {
        if pairs
            .windows(2)
            .all(|w| key_order(&w[0].0, &w[1].0) == Ordering::Less)
        {
            return Jsonb::Object(pairs);
        }
        // Stable, so equal keys stay in input order and the last of each run is the one kept.
        pairs.sort_by(|a, b| key_order(&a.0, &b.0));
        let mut unique: Vec<(String, Jsonb)> = Vec::with_capacity(pairs.len());
        for pair in pairs {
            match unique.last_mut() {
                Some(last) if last.0 == pair.0 => *last = pair,
                _ => unique.push(pair),
            }
        }
        Jsonb::Object(unique)
    }

    /// `to_jsonb(float8)`: a number, or for NaN and the infinities the strings PostgreSQL uses.
    pub fn from_f64(value: f64) -> Jsonb {
        match Number::from_f64(value) {
            Some(n) => Jsonb::Number(n),
            None if value.is_nan() => Jsonb::String("NaN".to_owned()),
            None if value > 0.0 => Jsonb::String("Infinity".to_owned()),
            None => Jsonb::String("-Infinity".to_owned()),
        }
    }

    pub(crate) fn is_container(&self) -> bool {
        matches!(self, Jsonb::Array(_) | Jsonb::Object(_))
    }

    /// `jsonb -> text`: `None` on arrays and scalars.
    pub fn get(&self, key: &str) -> Option<&Jsonb> {
        match self {
            Jsonb::Object(pairs) => pairs
                .binary_search_by(|(k, _)| key_order(k, key))
                .ok()
                .map(|i| &pairs[i].1),
            _ => None,
        }
    }

    /// `jsonb -> int`, negative counting from the end. A top-level scalar answers to `0` and `-1`
    /// with itself (`'"a"'::jsonb -> 0` is `"a"`): PostgreSQL stores it as a one-element array.
    pub fn index(&self, i: i64) -> Option<&Jsonb> {
        match self {
            Jsonb::Array(items) => {
                let i = if i < 0 {
                    i.checked_add(items.len() as i64)?
                } else {
                    i
                };
                usize::try_from(i).ok().and_then(|i| items.get(i))
            }
            Jsonb::Object(_) => None,
            _ => matches!(i, 0 | -1).then_some(self),
        }
    }

    /// `jsonb #> text[]`: `None` at a NULL element, a missing key, a non-integer or out-of-range
    /// subscript (`strtol` syntax, negative from the end), or a step into a scalar. The empty path is
    /// the value itself.
    pub fn path(&self, path: &[Option<&str>]) -> Option<&Jsonb> {
        let mut at = self;
        for step in path {
            let step = (*step)?;
            at = match at {
                Jsonb::Object(_) => at.get(step)?,
                Jsonb::Array(items) => &items[array_index(step, items.len())?],
                _ => return None,
            };
        }
        Some(at)
    }

    /// What `->>` and `#>>` return: a string decoded, `null` as SQL NULL, anything else as output.
    pub fn as_text(&self) -> Option<String> {
        match self {
            Jsonb::Null => None,
            Jsonb::String(s) => Some(s.clone()),
            Jsonb::Number(n) => Some(n.as_str().to_owned()),
            Jsonb::Bool(b) => Some(b.to_string()),
            _ => Some(self.to_string()),
        }
    }

    /// `jsonb_typeof`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Jsonb::Null => "null",
            Jsonb::Bool(_) => "boolean",
            Jsonb::Number(_) => "number",
            Jsonb::String(_) => "string",
            Jsonb::Array(_) => "array",
            Jsonb::Object(_) => "object",
        }
    }

    /// `jsonb_array_length`.
    pub fn array_len(&self) -> Result<usize, Error> {
        match self {
            Jsonb::Array(items) => Ok(items.len()),
            Jsonb::Object(_) => Err(Error::new(
                INVALID_PARAMETER_VALUE,
                "cannot get array length of a non-array",
            )),
            _ => Err(Error::new(
                INVALID_PARAMETER_VALUE,
                "cannot get array length of a scalar",
            )),
        }
    }

    /// `jsonb ? text`: a key of an object, or a string element of an array, at the top level only.
    /// A top-level string counts as an array of itself: `'"foo"'::jsonb ? 'foo'` is true.
    pub fn exists(&self, key: &str) -> bool {
        match self {
            Jsonb::Object(_) => self.get(key).is_some(),
            Jsonb::Array(items) => items
                .iter()
                .any(|item| matches!(item, Jsonb::String(s) if s == key)),
            Jsonb::String(s) => s == key,
            _ => false,
        }
    }

    /// `jsonb ?| text[]` (false for an empty list).
    pub fn exists_any(&self, keys: &[&str]) -> bool {
        keys.iter().any(|key| self.exists(key))
    }

    /// `jsonb ?& text[]` (true for an empty list).
    pub fn exists_all(&self, keys: &[&str]) -> bool {
        keys.iter().all(|key| self.exists(key))
    }
}
