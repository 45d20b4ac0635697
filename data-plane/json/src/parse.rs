//! The json grammar, driving a [`Sink`] that builds whatever the caller wants: nothing (`json_in`'s
//! validation), a [`Node`](crate::Node) tree over the input, or a [`Jsonb`](crate::Jsonb) value.
//!
//! PostgreSQL's parser is recursive descent; this one keeps its own stack so that nesting is bounded by
//! [`crate::MAX_DEPTH`] rather than by the thread's stack, but it checks and lexes tokens in exactly
//! PostgreSQL's order, because that order decides which error a bad document reports: the token after
//! a scalar is lexed before the scalar is converted, so `[1e999999, @]` complains about `@` first.

use crate::MAX_DEPTH;
use crate::error::{ParseError, STATEMENT_TOO_COMPLEX};
use crate::lex::{Escapes, Expected, Lexer, Tok};

/// A scalar as the lexer saw it.
pub(crate) enum Scalar<'a> {
    Null,
    Bool(bool),
    /// The token text, already checked against the json number grammar.
    Number(&'a str),
    /// The decoded string (empty under [`Escapes::Check`]).
    String(String),
}

/// Receives the document bottom-up; `raw` is each value's exact source text.
pub(crate) trait Sink<'a> {
    type Value;
    type Array;
    type Object;
    fn scalar(&mut self, scalar: Scalar<'a>, raw: &'a str) -> Result<Self::Value, ParseError>;
    fn array(&mut self) -> Self::Array;
    fn push(&mut self, array: &mut Self::Array, value: Self::Value);
    fn end_array(&mut self, array: Self::Array, raw: &'a str) -> Self::Value;
    fn object(&mut self) -> Self::Object;
    fn insert(
        &mut self,
        object: &mut Self::Object,
        key: String,
        value: Self::Value,
    ) -> Result<(), ParseError>;
    fn end_object(&mut self, object: Self::Object, raw: &'a str) -> Self::Value;
}

enum Frame<A, O> {
    Array {
        start: usize,
        items: A,
    },
    Object {
        start: usize,
        fields: O,
        key: String,
    },
}

fn too_deep() -> ParseError {
    ParseError {
        sqlstate: STATEMENT_TOO_COMPLEX,
        message: "stack depth limit exceeded".to_owned(),
        detail: String::new(),
        context: None,
    }
}

/// Parses `text` as one json document.
pub(crate) fn parse_with<'a, S: Sink<'a>>(
    text: &'a str,
    escapes: Escapes,
    sink: &mut S,
) -> Result<S::Value, ParseError> {
    let mut lex = Lexer::new(text, escapes);
    let mut stack: Vec<Frame<S::Array, S::Object>> = Vec::new();
    lex.next()?;
    'value: loop {
        // The current token must start a value.
        let mut value = match lex.tok {
            Tok::ObjectStart | Tok::ArrayStart if stack.len() >= MAX_DEPTH => {
                return Err(too_deep());
            }
            Tok::ObjectStart => {
                let start = lex.start;
                lex.next()?;
                match lex.tok {
                    Tok::String => {
                        let key = lex.take_string();
                        lex.next()?;
                        lex.expect(Tok::Colon, Expected::Colon)?;
                        stack.push(Frame::Object {
                            start,
                            fields: sink.object(),
                            key,
                        });
                        continue 'value;
                    }
                    Tok::ObjectEnd => {
                        let raw = &text[start..lex.end];
                        lex.next()?;
                        let empty = sink.object();
                        sink.end_object(empty, raw)
                    }
                    _ => return Err(lex.unexpected(Expected::ObjectFirst)),
                }
            }
            Tok::ArrayStart => {
                let start = lex.start;
                lex.next()?;
                if lex.tok != Tok::ArrayEnd {
                    stack.push(Frame::Array {
                        start,
                        items: sink.array(),
                    });
                    continue 'value;
                }
                let raw = &text[start..lex.end];
                lex.next()?;
                let empty = sink.array();
                sink.end_array(empty, raw)
            }
            tok @ (Tok::String | Tok::Number | Tok::True | Tok::False | Tok::Null) => {
                let raw = lex.token();
                let scalar = match tok {
                    Tok::String => Scalar::String(lex.take_string()),
                    Tok::Number => Scalar::Number(raw),
                    Tok::Null => Scalar::Null,
                    _ => Scalar::Bool(tok == Tok::True),
                };
                lex.next()?;
                sink.scalar(scalar, raw)?
            }
            _ => return Err(lex.unexpected(Expected::Value)),
        };
        // A value is complete: hand it to its container, closing every container that ends here.
        loop {
            match stack.last_mut() {
                None => {
                    return if lex.tok == Tok::End {
                        Ok(value)
                    } else {
                        Err(lex.unexpected(Expected::End))
                    };
                }
                Some(Frame::Array { items, .. }) => {
                    sink.push(items, value);
                    match lex.tok {
                        Tok::Comma => {
                            lex.next()?;
                            continue 'value;
                        }
                        Tok::ArrayEnd => {}
                        _ => return Err(lex.unexpected(Expected::ArrayNext)),
                    }
                }
                Some(Frame::Object { fields, key, .. }) => {
                    sink.insert(fields, std::mem::take(key), value)?;
                    match lex.tok {
                        Tok::Comma => {
                            lex.next()?;
                            if lex.tok != Tok::String {
                                return Err(lex.unexpected(Expected::String));
                            }
                            *key = lex.take_string();
                            lex.next()?;
                            lex.expect(Tok::Colon, Expected::Colon)?;
                            continue 'value;
                        }
                        Tok::ObjectEnd => {}
                        _ => return Err(lex.unexpected(Expected::ObjectNext)),
                    }
                }
            }
            let end = lex.end;
            lex.next()?;
            value = match stack.pop() {
                Some(Frame::Array { start, items }) => sink.end_array(items, &text[start..end]),
                Some(Frame::Object { start, fields, .. }) => {
                    sink.end_object(fields, &text[start..end])
                }
                None => unreachable!("a container was just closed"),
            };
        }
    }
}

/// Builds nothing: `json_in`'s check.
struct Check;

impl<'a> Sink<'a> for Check {
    type Value = ();
    type Array = ();
    type Object = ();
    fn scalar(&mut self, _: Scalar<'a>, _: &'a str) -> Result<(), ParseError> {
        Ok(())
    }
    fn array(&mut self) {}
    fn push(&mut self, _: &mut (), _: ()) {}
    fn end_array(&mut self, _: (), _: &'a str) {}
    fn object(&mut self) {}
    fn insert(&mut self, _: &mut (), _: String, _: ()) -> Result<(), ParseError> {
        Ok(())
    }
    fn end_object(&mut self, _: (), _: &'a str) {}
}

/// Checks `text` the way `json_in` does, without building a tree or decoding strings.
///
/// Accepts exactly what [`crate::parse`] accepts; use it where the json text is only stored.
pub fn validate(text: &str) -> Result<(), ParseError> {
    parse_with(text, Escapes::Check, &mut Check)
}
