//! jsonb containment (`@>`, `<@`), PostgreSQL's `JsonbDeepContains`.
//!
//! An object contains an object whose every pair it has, values contained recursively; an array
//! contains an array whose every element matches one of its own (order and duplicates ignored),
//! scalars by equality and containers by containment of some container element. Structure must match
//! level for level: `{"a":[1,2,[3]]}` does not contain `{"a":[3]}`. At the top level a scalar is a
//! one-element array, so `[1] @> 1` holds while `1 @> [1]` does not.

use crate::jsonb::Jsonb;

impl Jsonb {
    /// `self @> other`.
    pub fn contains(&self, other: &Jsonb) -> bool {
        match (self, other) {
            (Jsonb::Object(_), Jsonb::Object(_)) => contains(self, other),
            (Jsonb::Object(_), _) | (_, Jsonb::Object(_)) => false,
            // A raw scalar holds raw scalars only, never an array.
            (scalar, Jsonb::Array(_)) if !scalar.is_container() => false,
            _ => array_contains(elements(self), elements(other)),
        }
    }
}

/// The elements of a top-level array, or the raw scalar as its own single element.
fn elements(value: &Jsonb) -> &[Jsonb] {
    match value {
        Jsonb::Array(items) => items,
        scalar => std::slice::from_ref(scalar),
    }
}

/// Two nested containers: containment; anything else: equality of scalars of the same type.
fn contains(a: &Jsonb, b: &Jsonb) -> bool {
    match (a, b) {
        (Jsonb::Object(have), Jsonb::Object(want)) => {
            have.len() >= want.len()
                && want
                    .iter()
                    .all(|(key, wanted)| a.get(key).is_some_and(|found| contains(found, wanted)))
        }
        (Jsonb::Array(have), Jsonb::Array(want)) => array_contains(have, want),
        _ if a.is_container() || b.is_container() => false,
        _ => a == b,
    }
}

fn array_contains(have: &[Jsonb], want: &[Jsonb]) -> bool {
    want.iter().all(|wanted| {
        if wanted.is_container() {
            have.iter()
                .any(|candidate| candidate.is_container() && contains(candidate, wanted))
        } else {
            have.iter().any(|candidate| candidate == wanted)
        }
    })
}
