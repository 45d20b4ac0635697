//! The jsonb operations that build a new value: `||`, `-`, `#-`, `jsonb_set`, `jsonb_insert`,
//! `jsonb_strip_nulls`.
//!
//! The path operations follow PostgreSQL's `setPath`: one walk down the path, where a step into an
//! object matches a key, a step into an array reads an integer (an error if it is not one), a step
//! into a scalar stops the walk silently, and only the last step may add or remove anything.

use std::cmp::Ordering;

use crate::error::{Error, INVALID_TEXT_REPRESENTATION, NULL_VALUE_NOT_ALLOWED};
use crate::jsonb::{Jsonb, key_order};
use crate::path::parse_int;

/// What the last step of a path does.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    /// `jsonb_set(..., create_missing => false)`.
    Replace,
    /// `jsonb_set(..., create_missing => true)`.
    Create,
    Delete,
    InsertBefore,
    InsertAfter,
}

impl Op {
    fn adds(self) -> bool {
        matches!(self, Op::Create | Op::InsertBefore | Op::InsertAfter)
    }
}

struct Walk<'p, 'k> {
    path: &'p [Option<&'k str>],
    op: Op,
    new: Option<Jsonb>,
}

impl Jsonb {
    /// `jsonb || jsonb`: two objects merge (the right side's keys win); otherwise both sides become
    /// arrays (a scalar or an object as a one-element array) and are appended: `'1' || '2'` is `[1, 2]`,
    /// `'{"a":1}' || '[1]'` is `[{"a": 1}, 1]`.
    pub fn concat(self, other: Jsonb) -> Jsonb {
        match (self, other) {
            (Jsonb::Object(left), Jsonb::Object(right)) => Jsonb::Object(merge(left, right)),
            (left, right) => {
                let mut items = into_elements(left);
                items.extend(into_elements(right));
                Jsonb::Array(items)
            }
        }
    }

    /// `jsonb - text`: removes the key from an object, or every string element equal to it from an
    /// array. 22023 "cannot delete from scalar" on a scalar.
    pub fn delete_key(self, key: &str) -> Result<Jsonb, Error> {
        self.delete_keys(&[key])
    }

    /// `jsonb - text[]`; the scalar error comes first, even for an empty list.
    pub fn delete_keys(self, keys: &[&str]) -> Result<Jsonb, Error> {
        match self {
            Jsonb::Object(mut pairs) => {
                pairs.retain(|(k, _)| !keys.contains(&k.as_str()));
                Ok(Jsonb::Object(pairs))
            }
            Jsonb::Array(mut items) => {
                items
                    .retain(|item| !matches!(item, Jsonb::String(s) if keys.contains(&s.as_str())));
                Ok(Jsonb::Array(items))
            }
            _ => Err(Error::invalid_parameter("cannot delete from scalar")),
        }
    }

    /// `jsonb - int`: negative counts from the end, out of range changes nothing. 22023 "cannot delete
    /// from scalar", or "cannot delete from object using integer index".
    pub fn delete_index(self, i: i64) -> Result<Jsonb, Error> {
        match self {
            Jsonb::Array(mut items) => {
                let len = items.len() as i64;
                let i = if i < 0 { i + len } else { i };
                if (0..len).contains(&i) {
                    items.remove(i as usize);
                }
                Ok(Jsonb::Array(items))
            }
            Jsonb::Object(_) => Err(Error::invalid_parameter(
                "cannot delete from object using integer index",
            )),
            _ => Err(Error::invalid_parameter("cannot delete from scalar")),
        }
    }

    /// `jsonb #- text[]`. 22023 "cannot delete path in scalar"; on the walk, 22004 "path element at
    /// position N is null" and 22P02 "path element at position N is not an integer: \"x\"".
    pub fn delete_path(self, path: &[Option<&str>]) -> Result<Jsonb, Error> {
        if !self.is_container() {
            return Err(Error::invalid_parameter("cannot delete path in scalar"));
        }
        if is_empty_container(&self) || path.is_empty() {
            return Ok(self);
        }
        Walk {
            path,
            op: Op::Delete,
            new: None,
        }
        .step(self, 0)
    }

    /// `jsonb_set(self, path, new, create_missing)`: replaces the value at `path`; with
    /// `create_missing`, adds it when only the last step is missing (a new key, or an element
    /// prepended or appended for an out-of-range subscript). 22023 "cannot set path in scalar".
    pub fn set(
        self,
        path: &[Option<&str>],
        new: Jsonb,
        create_missing: bool,
    ) -> Result<Jsonb, Error> {
        if !self.is_container() {
            return Err(Error::invalid_parameter("cannot set path in scalar"));
        }
        if (is_empty_container(&self) && !create_missing) || path.is_empty() {
            return Ok(self);
        }
        let op = if create_missing {
            Op::Create
        } else {
            Op::Replace
        };
        Walk {
            path,
            op,
            new: Some(new),
        }
        .step(self, 0)
    }

    /// `jsonb_insert(self, path, new, insert_after)`: inserts into an array before (or after) the
    /// addressed element, or adds a missing key to an object; an existing key is 22023 "cannot replace
    /// existing key" with a hint to use `jsonb_set`.
    pub fn insert(self, path: &[Option<&str>], new: Jsonb, after: bool) -> Result<Jsonb, Error> {
        if !self.is_container() {
            return Err(Error::invalid_parameter("cannot set path in scalar"));
        }
        if path.is_empty() {
            return Ok(self);
        }
        let op = if after {
            Op::InsertAfter
        } else {
            Op::InsertBefore
        };
        Walk {
            path,
            op,
            new: Some(new),
        }
        .step(self, 0)
    }

    /// `jsonb_strip_nulls`: drops every object field whose value is null, at any depth; null array
    /// elements and a top-level null stay.
    pub fn strip_nulls(mut self) -> Jsonb {
        self.strip_nulls_in_place();
        self
    }

    fn strip_nulls_in_place(&mut self) {
        match self {
            Jsonb::Object(pairs) => {
                pairs.retain(|(_, v)| *v != Jsonb::Null);
                for (_, value) in pairs {
                    value.strip_nulls_in_place();
                }
            }
            Jsonb::Array(items) => {
                for item in items {
                    item.strip_nulls_in_place();
                }
            }
            _ => {}
        }
    }
}

fn into_elements(value: Jsonb) -> Vec<Jsonb> {
    match value {
        Jsonb::Array(items) => items,
        other => vec![other],
    }
}

fn is_empty_container(value: &Jsonb) -> bool {
    match value {
        Jsonb::Array(items) => items.is_empty(),
        Jsonb::Object(pairs) => pairs.is_empty(),
        _ => false,
    }
}

/// Merges two canonical objects, the right side winning on equal keys.
fn merge(left: Vec<(String, Jsonb)>, right: Vec<(String, Jsonb)>) -> Vec<(String, Jsonb)> {
    let mut out = Vec::with_capacity(left.len() + right.len());
    let mut left = left.into_iter().peekable();
    let mut right = right.into_iter().peekable();
    loop {
        let order = match (left.peek(), right.peek()) {
            (Some(l), Some(r)) => key_order(&l.0, &r.0),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => return out,
        };
        match order {
            Ordering::Less => out.extend(left.next()),
            Ordering::Greater => out.extend(right.next()),
            Ordering::Equal => {
                left.next();
                out.extend(right.next());
            }
        }
    }
}

impl Walk<'_, '_> {
    fn last(&self, level: usize) -> bool {
        level + 1 == self.path.len()
    }

    fn new_value(&mut self) -> Jsonb {
        self.new.take().unwrap_or(Jsonb::Null)
    }

    /// `setPath`: the value at `level` of the path.
    fn step(&mut self, value: Jsonb, level: usize) -> Result<Jsonb, Error> {
        let Some(step) = self.path[level] else {
            return Err(Error::new(
                NULL_VALUE_NOT_ALLOWED,
                format!("path element at position {} is null", level + 1),
            ));
        };
        match value {
            Jsonb::Object(pairs) => self.object(pairs, step, level).map(Jsonb::Object),
            Jsonb::Array(items) => self.array(items, step, level).map(Jsonb::Array),
            scalar => Ok(scalar),
        }
    }

    /// `setPathObject`.
    fn object(
        &mut self,
        mut pairs: Vec<(String, Jsonb)>,
        key: &str,
        level: usize,
    ) -> Result<Vec<(String, Jsonb)>, Error> {
        match pairs.binary_search_by(|(k, _)| key_order(k, key)) {
            Ok(i) if self.last(level) => match self.op {
                Op::InsertBefore | Op::InsertAfter => {
                    let mut e = Error::invalid_parameter("cannot replace existing key");
                    e.hint =
                        Some("Try using the function jsonb_set to replace key value.".to_owned());
                    return Err(e);
                }
                Op::Delete => {
                    pairs.remove(i);
                }
                Op::Replace | Op::Create => pairs[i].1 = self.new_value(),
            },
            Ok(i) => {
                let child = std::mem::replace(&mut pairs[i].1, Jsonb::Null);
                pairs[i].1 = self.step(child, level + 1)?;
            }
            Err(i) if self.last(level) && self.op.adds() => {
                let new = self.new_value();
                pairs.insert(i, (key.to_owned(), new));
            }
            Err(_) => {}
        }
        Ok(pairs)
    }

    /// `setPathArray`.
    fn array(
        &mut self,
        mut items: Vec<Jsonb>,
        step: &str,
        level: usize,
    ) -> Result<Vec<Jsonb>, Error> {
        let Some(index) = parse_int(step) else {
            return Err(Error::new(
                INVALID_TEXT_REPRESENTATION,
                format!(
                    "path element at position {} is not an integer: \"{step}\"",
                    level + 1
                ),
            ));
        };
        let len = items.len() as i64;
        let mut index = i64::from(index);
        // Before the start: prepend (when adding). Past the end: append.
        let mut before_start = false;
        if index < 0 {
            if -index > len {
                before_start = true;
            } else {
                index += len;
            }
        }
        let last = self.last(level);
        if (before_start || len == 0) && last && self.op.adds() {
            let new = self.new_value();
            items.insert(0, new);
            return Ok(items);
        }
        if before_start || index >= len {
            if last && self.op.adds() {
                let new = self.new_value();
                items.push(new);
            }
            return Ok(items);
        }
        let i = index as usize;
        if !last {
            let child = std::mem::replace(&mut items[i], Jsonb::Null);
            items[i] = self.step(child, level + 1)?;
            return Ok(items);
        }
        match self.op {
            Op::Replace | Op::Create => items[i] = self.new_value(),
            Op::Delete => {
                items.remove(i);
            }
            Op::InsertBefore => {
                let new = self.new_value();
                items.insert(i, new);
            }
            Op::InsertAfter => {
                let new = self.new_value();
                items.insert(i + 1, new);
            }
        }
        Ok(items)
    }
}
