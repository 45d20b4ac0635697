//! Text output: `jsonb_out`, `jsonb_pretty` and PostgreSQL's `escape_json`.

use std::fmt::{self, Write};

use crate::jsonb::Jsonb;

/// Quotes `s` as a JSON string literal the way PostgreSQL's `escape_json` does: `"` and `\` escaped,
/// `\b \f \n \r \t` by name, other control characters as `\u00XX` (lowercase hex), everything else
/// (`/`, DEL, non-ASCII) as is. PostgreSQL text cannot hold NUL; here it comes out as `\u0000`.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    write_quoted(&mut out, s).expect("writing to a String cannot fail");
    out
}

pub(crate) fn write_quoted<W: Write>(out: &mut W, s: &str) -> fmt::Result {
    out.write_char('"')?;
    let mut run = 0;
    for (i, b) in s.bytes().enumerate() {
        let named = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\t' => "\\t",
            b'\r' => "\\r",
            0x08 => "\\b",
            0x0C => "\\f",
            0..=0x1F => "",
            _ => continue,
        };
        out.write_str(&s[run..i])?;
        if named.is_empty() {
            write!(out, "\\u{b:04x}")?;
        } else {
            out.write_str(named)?;
        }
        run = i + 1;
    }
    out.write_str(&s[run..])?;
    out.write_char('"')
}

/// `jsonb_out`: `{"a": 1, "b": [1, 2]}`.
fn write_compact<W: Write>(out: &mut W, value: &Jsonb) -> fmt::Result {
    match value {
        Jsonb::Array(items) => {
            out.write_char('[')?;
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.write_str(", ")?;
                }
                write_compact(out, item)?;
            }
            out.write_char(']')
        }
        Jsonb::Object(pairs) => {
            out.write_char('{')?;
            for (i, (key, item)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.write_str(", ")?;
                }
                write_quoted(out, key)?;
                out.write_str(": ")?;
                write_compact(out, item)?;
            }
            out.write_char('}')
        }
        Jsonb::Null => out.write_str("null"),
        Jsonb::Bool(true) => out.write_str("true"),
        Jsonb::Bool(false) => out.write_str("false"),
        Jsonb::Number(n) => out.write_str(n.as_str()),
        Jsonb::String(s) => write_quoted(out, s),
    }
}

fn newline(out: &mut String, level: usize) {
    out.push('\n');
    out.extend(std::iter::repeat_n(' ', 4 * level));
}

/// `jsonb_pretty`: one element or pair per line, four spaces a level, `,` ending a line, and an empty
/// container still broken over two lines (`[` newline `]`), as PostgreSQL prints it.
fn write_pretty(out: &mut String, value: &Jsonb, level: usize) {
    match value {
        Jsonb::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, level + 1);
                write_pretty(out, item, level + 1);
            }
            newline(out, level);
            out.push(']');
        }
        Jsonb::Object(pairs) => {
            out.push('{');
            for (i, (key, item)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, level + 1);
                let _ = write_quoted(out, key);
                out.push_str(": ");
                write_pretty(out, item, level + 1);
            }
            newline(out, level);
            out.push('}');
        }
        scalar => {
            let _ = write_compact(out, scalar);
        }
    }
}

impl fmt::Display for Jsonb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_compact(f, self)
    }
}

impl Jsonb {
    /// `jsonb_pretty`.
    pub fn pretty(&self) -> String {
        let mut out = String::new();
        write_pretty(&mut out, self, 0);
        out
    }
}
