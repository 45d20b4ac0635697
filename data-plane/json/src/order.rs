//! jsonb's btree order (`compareJsonbContainers`), the order of `<`, `ORDER BY` and `=`.
//!
//! Values of different types order by type: null < string < number < boolean < array < object.
//! Arrays order by length first, then element by element; objects by number of pairs first, then pair
//! by pair in storage order (key, then value), keys and strings bytewise (the C collation
//! PostgreSQL uses here under a C or C.UTF-8 database).
//!
//! The one irregularity is the top level: PostgreSQL stores a top-level scalar as a one-element
//! array flagged "raw scalar" and compares it as such, so it sorts among the arrays by length: after
//! `[]` (hence `'[]' < 'null'`), before any two-element array, and before a one-element array whose
//! first element it would otherwise equal or exceed. Nested values never get this treatment.

use std::cmp::Ordering;

use crate::jsonb::Jsonb;

/// The type rank `compareJsonbContainers` falls back on (`enum jbvType`).
fn rank(value: &Jsonb) -> u8 {
    match value {
        Jsonb::Null => 0,
        Jsonb::String(_) => 1,
        Jsonb::Number(_) => 2,
        Jsonb::Bool(_) => 3,
        Jsonb::Array(_) => 4,
        Jsonb::Object(_) => 5,
    }
}

fn nested(a: &Jsonb, b: &Jsonb) -> Ordering {
    // Plain loops rather than iterator chains: this recursion runs as deep as the values.
    match (a, b) {
        (Jsonb::Null, Jsonb::Null) => Ordering::Equal,
        (Jsonb::String(x), Jsonb::String(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Jsonb::Number(x), Jsonb::Number(y)) => x.cmp(y),
        (Jsonb::Bool(x), Jsonb::Bool(y)) => x.cmp(y),
        (Jsonb::Array(x), Jsonb::Array(y)) => {
            if x.len() != y.len() {
                return x.len().cmp(&y.len());
            }
            for (p, q) in x.iter().zip(y) {
                let order = nested(p, q);
                if order.is_ne() {
                    return order;
                }
            }
            Ordering::Equal
        }
        (Jsonb::Object(x), Jsonb::Object(y)) => {
            if x.len() != y.len() {
                return x.len().cmp(&y.len());
            }
            for ((xk, xv), (yk, yv)) in x.iter().zip(y) {
                let order = xk
                    .as_bytes()
                    .cmp(yk.as_bytes())
                    .then_with(|| nested(xv, yv));
                if order.is_ne() {
                    return order;
                }
            }
            Ordering::Equal
        }
        _ => rank(a).cmp(&rank(b)),
    }
}

impl Jsonb {
    /// PostgreSQL's jsonb comparison (see the module notes for the top-level scalar rule).
    pub fn compare(&self, other: &Jsonb) -> Ordering {
        match (self, other) {
            (Jsonb::Array(items), scalar) if !scalar.is_container() => {
                raw_scalar_vs_array(items).reverse()
            }
            (scalar, Jsonb::Array(items)) if !scalar.is_container() => raw_scalar_vs_array(items),
            _ => nested(self, other),
        }
    }
}

/// A top-level scalar (a one-element "raw scalar" array) against a real array: the element counts
/// decide, and at equal counts the raw scalar is smaller whatever its value.
fn raw_scalar_vs_array(items: &[Jsonb]) -> Ordering {
    1.cmp(&items.len()).then(Ordering::Less)
}

impl Ord for Jsonb {
    fn cmp(&self, other: &Jsonb) -> Ordering {
        self.compare(other)
    }
}

impl PartialOrd for Jsonb {
    fn partial_cmp(&self, other: &Jsonb) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
