//! The `json` type: a tree over the input text.
//!
//! json keeps its input verbatim, and its operators hand back slices of it (`'{"a": [1,  2]}'::json
//! -> 'a'` is `[1,  2]`), so every node borrows its source text. Objects keep their keys in input
//! order with duplicates; lookups take the last duplicate, as PostgreSQL's streaming lookups do.

use crate::error::{Error, INVALID_PARAMETER_VALUE, ParseError};
use crate::json_path;
use crate::jsonb::Jsonb;
use crate::lex::Escapes;
use crate::number::Number;
use crate::parse::{Scalar, Sink, parse_with};
use crate::path::{array_index, parse_int};

/// One json value and the exact input text it came from.
///
/// For the root of a document that is a scalar, `raw` starts at the beginning of the input, leading
/// whitespace included: PostgreSQL's `json #> '{}'` and `#>> '{}'` return that (`' 1'`), while for
/// a root object or array they return just the container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node<'a> {
    pub raw: &'a str,
    pub value: NodeValue<'a>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeValue<'a> {
    Null,
    Bool(bool),
    /// The number token as written.
    Number(&'a str),
    /// The decoded string.
    String(String),
    Array(Vec<Node<'a>>),
    /// Input order, duplicate keys kept.
    Object(Vec<(String, Node<'a>)>),
}

struct Tree;

impl<'a> Sink<'a> for Tree {
    type Value = Node<'a>;
    type Array = Vec<Node<'a>>;
    type Object = Vec<(String, Node<'a>)>;

    fn scalar(&mut self, scalar: Scalar<'a>, raw: &'a str) -> Result<Node<'a>, ParseError> {
        let value = match scalar {
            Scalar::Null => NodeValue::Null,
            Scalar::Bool(b) => NodeValue::Bool(b),
            Scalar::Number(token) => NodeValue::Number(token),
            Scalar::String(s) => NodeValue::String(s),
        };
        Ok(Node { raw, value })
    }
    fn array(&mut self) -> Vec<Node<'a>> {
        Vec::new()
    }
    fn push(&mut self, array: &mut Vec<Node<'a>>, value: Node<'a>) {
        array.push(value);
    }
    fn end_array(&mut self, items: Vec<Node<'a>>, raw: &'a str) -> Node<'a> {
        Node {
            raw,
            value: NodeValue::Array(items),
        }
    }
    fn object(&mut self) -> Vec<(String, Node<'a>)> {
        Vec::new()
    }
    fn insert(
        &mut self,
        object: &mut Vec<(String, Node<'a>)>,
        key: String,
        value: Node<'a>,
    ) -> Result<(), ParseError> {
        object.push((key, value));
        Ok(())
    }
    fn end_object(&mut self, fields: Vec<(String, Node<'a>)>, raw: &'a str) -> Node<'a> {
        Node {
            raw,
            value: NodeValue::Object(fields),
        }
    }
}

fn tree(text: &str, escapes: Escapes) -> Result<Node<'_>, ParseError> {
    let mut root = parse_with(text, escapes, &mut Tree)?;
    if !matches!(root.value, NodeValue::Array(_) | NodeValue::Object(_)) {
        let end = root.raw.as_ptr() as usize - text.as_ptr() as usize + root.raw.len();
        root.raw = &text[..end];
    }
    Ok(root)
}

/// Parses json the way `json_in` accepts it.
///
/// Like `json_in`, this does not check what `\u` escapes decode to: a lone surrogate decodes to
/// U+FFFD and `\u0000` to NUL, where PostgreSQL keeps the escape in the stored text. PostgreSQL's json
/// operators (`->`, `->>`, `#>`, `#>>`, `json_each`, ...) re-read the text strictly and fail on those
/// escapes; use [`parse_strict`] to get exactly their errors. `json_typeof` and `json_array_length`
/// do not de-escape, so they go with this function.
pub fn parse(text: &str) -> Result<Node<'_>, ParseError> {
    tree(text, Escapes::Lenient)
}

/// Parses json the way PostgreSQL's json operators read their input: as [`parse`], but a lone
/// surrogate is 22P02 ("Unicode low surrogate must follow a high surrogate.") and `\u0000` is 22P05
/// "unsupported Unicode escape sequence", even in a part of the document the operator never visits.
/// A document `json_in` rejects gets `json_in`'s error, as the cast to json comes first.
pub fn parse_strict(text: &str) -> Result<Node<'_>, ParseError> {
    // The operators' input went through json_in first, so json_in's complaint takes precedence.
    tree(text, Escapes::Strict).map_err(|strict| crate::validate(text).err().unwrap_or(strict))
}

impl<'a> Node<'a> {
    /// `json -> text`: the last field named `key`; `None` on arrays and scalars.
    pub fn get(&self, key: &str) -> Option<&Node<'a>> {
        match &self.value {
            NodeValue::Object(fields) => {
                fields.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v)
            }
            _ => None,
        }
    }

    /// `json -> int`: negative counts from the end; `None` on objects and scalars.
    pub fn index(&self, i: i64) -> Option<&Node<'a>> {
        match &self.value {
            NodeValue::Array(items) => {
                let i = if i < 0 {
                    i.checked_add(items.len() as i64)?
                } else {
                    i
                };
                usize::try_from(i).ok().and_then(|i| items.get(i))
            }
            _ => None,
        }
    }

    /// `json #> text[]`. A NULL element (`None`) makes the result NULL. An element is a key on an
    /// object and an integer on an array (`strtol` syntax: `' 1'`, `+1` and `01` work, `1x` does
    /// not, negative counts from the end). With duplicate keys the match last in the document
    /// wins, as in PostgreSQL's one-pass search: `{"a":[7],"a":{"0":1}} #> '{a,0}'` is `1`.
    ///
    /// A negative subscript is resolved PostgreSQL's way, against the first array at its depth
    /// anywhere in the document that is long enough (see `json_path`): usually the array on the
    /// path, but not always.
    pub fn path(&self, path: &[Option<&str>]) -> Option<&Node<'a>> {
        let mut names = Vec::with_capacity(path.len());
        for step in path {
            names.push((*step)?);
        }
        if names
            .iter()
            .any(|n| parse_int(n).is_some_and(|i| i < 0 && i != i32::MIN))
        {
            return json_path::search(self, &names);
        }
        self.find(&names)
    }

    /// The search without negative subscripts: the last match in document order.
    fn find(&self, path: &[&str]) -> Option<&Node<'a>> {
        let Some((step, rest)) = path.split_first() else {
            return Some(self);
        };
        match &self.value {
            NodeValue::Object(fields) => fields
                .iter()
                .rev()
                .filter(|(k, _)| k == step)
                .find_map(|(_, v)| v.find(rest)),
            NodeValue::Array(items) => items.get(array_index(step, items.len())?)?.find(rest),
            _ => None,
        }
    }

    /// What `->>` and `#>>` return: a string decoded, `null` as SQL NULL, anything else its text.
    pub fn as_text(&self) -> Option<String> {
        match &self.value {
            NodeValue::Null => None,
            NodeValue::String(s) => Some(s.clone()),
            _ => Some(self.raw.to_owned()),
        }
    }

    /// `json_typeof`.
    pub fn type_name(&self) -> &'static str {
        match &self.value {
            NodeValue::Null => "null",
            NodeValue::Bool(_) => "boolean",
            NodeValue::Number(_) => "number",
            NodeValue::String(_) => "string",
            NodeValue::Array(_) => "array",
            NodeValue::Object(_) => "object",
        }
    }

    /// `json_array_length`.
    pub fn array_len(&self) -> Result<usize, Error> {
        match &self.value {
            NodeValue::Array(items) => Ok(items.len()),
            NodeValue::Object(_) => Err(Error::new(
                INVALID_PARAMETER_VALUE,
                "cannot get array length of a non-array",
            )),
            _ => Err(Error::new(
                INVALID_PARAMETER_VALUE,
                "cannot get array length of a scalar",
            )),
        }
    }

    /// The jsonb value of this json (`json::jsonb`), built from the tree without re-reading the text.
    ///
    /// Where PostgreSQL's cast fails, this cannot: a number beyond numeric's range becomes a string of
    /// its text, and a string keeps the U+FFFD or NUL that [`parse`] decoded a bad escape to. Use
    /// [`Node::try_to_jsonb`] where PostgreSQL's error matters.
    pub fn to_jsonb(&self) -> Jsonb {
        self.convert()
            .unwrap_or_else(|Unconvertible| self.convert_lossy())
    }

    /// `json::jsonb` with PostgreSQL's errors. The cast reads the json's text, so for a node taken
    /// out of a document (`(j -> 'a')::jsonb`) the error reads as for that text alone; for a whole
    /// document, prefer `Jsonb::parse` on the full input, whose trailing whitespace can show in
    /// the error's context.
    pub fn try_to_jsonb(&self) -> Result<Jsonb, ParseError> {
        match self.convert() {
            Ok(value) => Ok(value),
            Err(_) => Jsonb::parse(self.raw),
        }
    }

    fn convert(&self) -> Result<Jsonb, Unconvertible> {
        // Plain loops rather than iterator chains: this recursion runs as deep as the document.
        Ok(match &self.value {
            NodeValue::Null => Jsonb::Null,
            NodeValue::Bool(b) => Jsonb::Bool(*b),
            NodeValue::Number(token) => {
                Jsonb::Number(Number::from_json(token).map_err(|_| Unconvertible)?)
            }
            NodeValue::String(s) => Jsonb::String(checked(s)?.clone()),
            NodeValue::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    out.push(item.convert()?);
                }
                Jsonb::Array(out)
            }
            NodeValue::Object(fields) => {
                let mut pairs = Vec::with_capacity(fields.len());
                for (key, value) in fields {
                    pairs.push((checked(key)?.clone(), value.convert()?));
                }
                Jsonb::object(pairs)
            }
        })
    }

    fn convert_lossy(&self) -> Jsonb {
        match &self.value {
            NodeValue::Number(token) => Number::from_json(token)
                .map_or_else(|_| Jsonb::String((*token).to_owned()), Jsonb::Number),
            NodeValue::String(s) => Jsonb::String(s.clone()),
            NodeValue::Array(items) => Jsonb::Array(items.iter().map(Node::to_jsonb).collect()),
            NodeValue::Object(fields) => Jsonb::object(
                fields
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_jsonb()))
                    .collect(),
            ),
            NodeValue::Null => Jsonb::Null,
            NodeValue::Bool(b) => Jsonb::Bool(*b),
        }
    }
}

/// A decoded string that cannot stand for an escape jsonb rejects: [`parse`] decodes a lone
/// surrogate to U+FFFD and `\u0000` to NUL, so a string holding either is re-read from the text.
fn checked(s: &String) -> Result<&String, Unconvertible> {
    if s.contains(['\u{FFFD}', '\0']) {
        Err(Unconvertible)
    } else {
        Ok(s)
    }
}

/// The direct conversion met a value PostgreSQL's cast may reject.
struct Unconvertible;
