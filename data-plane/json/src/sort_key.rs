//! A byte string per jsonb value whose bytewise order is [`Jsonb::compare`]'s, so a sort (or any other
//! byte-ordered structure) can order documents without comparing them pairwise.
//!
//! Every encoding is self-delimiting (strings end in `00 00` with `00` escaped as `00 01`; numbers end in
//! a terminator; containers give their length first), so a value's encoding never is a proper prefix of
//! another's and concatenations compare element by element.

use crate::jsonb::Jsonb;

impl Jsonb {
    /// The value's sort key (see the module notes).
    pub fn sort_key(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16);
        match self {
            // A top-level scalar sorts as a one-element array ahead of every real one-element array.
            Jsonb::Array(items) => {
                out.push(4);
                out.extend_from_slice(&(items.len() as u32).to_be_bytes());
                out.push(1);
                for item in items {
                    nested(item, &mut out);
                }
            }
            Jsonb::Object(_) => nested(self, &mut out),
            scalar => {
                out.push(4);
                out.extend_from_slice(&1u32.to_be_bytes());
                out.push(0);
                nested(scalar, &mut out);
            }
        }
        out
    }
}

fn nested(v: &Jsonb, out: &mut Vec<u8>) {
    match v {
        Jsonb::Null => out.push(0),
        Jsonb::String(s) => {
            out.push(1);
            string(s, out);
        }
        Jsonb::Number(n) => {
            out.push(2);
            number(n.as_str(), out);
        }
        Jsonb::Bool(b) => {
            out.push(3);
            out.push(u8::from(*b));
        }
        Jsonb::Array(items) => {
            out.push(4);
            out.extend_from_slice(&(items.len() as u32).to_be_bytes());
            for item in items {
                nested(item, out);
            }
        }
        Jsonb::Object(pairs) => {
            out.push(5);
            out.extend_from_slice(&(pairs.len() as u32).to_be_bytes());
            for (k, v) in pairs {
                string(k, out);
                nested(v, out);
            }
        }
    }
}

fn string(s: &str, out: &mut Vec<u8>) {
    for &b in s.as_bytes() {
        out.push(b);
        if b == 0 {
            out.push(1);
        }
    }
    out.extend_from_slice(&[0, 0]);
}

/// A decimal (as `numeric_out` prints it) in order: a sign class, then for nonzero values the decimal
/// exponent and the significant digits, both inverted for negative values so larger magnitudes sort first.
fn number(text: &str, out: &mut Vec<u8>) {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let all: Vec<u8> = int.bytes().chain(frac.bytes()).collect();
    let Some(first) = all.iter().position(|&d| d != b'0') else {
        out.push(1);
        return;
    };
    let last = all.iter().rposition(|&d| d != b'0').unwrap_or(first);
    // The value is 0.d1d2... x 10^exponent.
    let exponent = int.len() as i64 - first as i64;
    let biased = (exponent + (1 << 31)) as u32;
    let significant = &all[first..=last];
    if negative {
        out.push(0);
        out.extend_from_slice(&(!biased).to_be_bytes());
        out.extend(significant.iter().map(|d| !d));
        out.push(0xff);
    } else {
        out.push(2);
        out.extend_from_slice(&biased.to_be_bytes());
        out.extend_from_slice(significant);
        out.push(0);
    }
}

#[cfg(test)]
mod tests {
    use crate::Jsonb;

    #[test]
    fn sort_keys_order_as_compare_does() {
        let docs = [
            "null",
            "[]",
            "\"\"",
            "\"a\"",
            "\"a\\u0001\"",
            "\"b\"",
            "-1e5",
            "-12.5",
            "-12.25",
            "-1",
            "0",
            "0.0",
            "0.001",
            "0.01",
            "1",
            "1.0",
            "1.5",
            "10",
            "99.99",
            "1e20",
            "false",
            "true",
            "[1]",
            "[null]",
            "[\"x\"]",
            "[1, 2]",
            "[[1], 2]",
            "[2, 1]",
            "{}",
            "{\"a\": 1}",
            "{\"b\": 0}",
            "{\"a\": [1]}",
            "{\"a\": 1, \"b\": 2}",
            "{\"aa\": 1, \"b\": 2}",
            "{\"a\": {\"b\": null}}",
        ];
        let values: Vec<Jsonb> = docs.iter().map(|d| Jsonb::parse(d).unwrap()).collect();
        for a in &values {
            for b in &values {
                assert_eq!(a.sort_key().cmp(&b.sort_key()), a.compare(b), "{a} vs {b}");
            }
        }
    }
}
