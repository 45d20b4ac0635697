//! Text forms of a few functions' results: LIKE patterns with another escape character, `json`, and
//! `pg_size_pretty`.

/// A LIKE pattern with escape character `esc` (none when `None`) rewritten to escape with a backslash.
pub(super) fn like_escape(p: &str, esc: Option<char>) -> String {
    let mut out = String::with_capacity(p.len());
    let mut chars = p.chars();
    while let Some(c) = chars.next() {
        if Some(c) == esc {
            if let Some(next) = chars.next() {
                out.push('\\');
                out.push(next);
            }
        } else if c == '\\' {
            out.push_str("\\\\");
        } else {
            out.push(c);
        }
    }
    out
}

/// PostgreSQL's `similar_to_escape`: a SIMILAR TO pattern as the regular expression it means (`%` is `.*`,
/// `_` is `.`, `.` `^` `$` are literal, the whole must match), with escape character `esc`. `None` for an
/// escape `\"` outside a bracket beyond the two SUBSTRING separators PostgreSQL allows.
pub(super) fn similar_to_regex(p: &str, esc: Option<char>) -> Option<String> {
    let mut out = String::from("^(?:");
    let (mut after_escape, mut in_class, mut quotes) = (false, false, 0);
    for c in p.chars() {
        if after_escape {
            if c == '"' && !in_class {
                out.push_str(match quotes {
                    0 => "){1,1}?(",
                    1 => "){1,1}(?:",
                    _ => return None,
                });
                quotes += 1;
            } else {
                out.push('\\');
                out.push(c);
            }
            after_escape = false;
        } else if Some(c) == esc {
            after_escape = true;
        } else if in_class {
            if c == '\\' {
                out.push('\\');
            }
            out.push(c);
            if c == ']' {
                in_class = false;
            }
        } else {
            match c {
                '[' => {
                    out.push('[');
                    in_class = true;
                }
                '%' => out.push_str(".*"),
                '_' => out.push('.'),
                '(' => out.push_str("(?:"),
                '\\' | '.' | '^' | '$' => {
                    out.push('\\');
                    out.push(c);
                }
                c => out.push(c),
            }
        }
    }
    out.push_str(")$");
    Some(out)
}

/// PostgreSQL's `format(template, args...)`: `%s` (NULL is empty), `%I` (quoted as an identifier by
/// `ident`), `%L` (a literal; NULL is `NULL`), `%%`, with an argument position (`%2$s`), the `-` flag and a
/// width. Errors are (SQLSTATE, message) as PostgreSQL's.
pub(super) fn format_text(
    template: &str,
    args: &[Option<String>],
    ident: impl Fn(&str) -> String,
) -> Result<String, (&'static str, String)> {
    let bad = |m: &str| ("22023", m.to_string());
    let mut out = String::new();
    let mut chars = template.chars().peekable();
    let mut next = 0usize;
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'%') {
            chars.next();
            out.push('%');
            continue;
        }
        // %[n$][-][width]type
        let mut digits = String::new();
        while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            digits.push(*d);
            chars.next();
        }
        let mut position = None;
        if !digits.is_empty() && chars.peek() == Some(&'$') {
            chars.next();
            let n: usize = digits
                .parse()
                .map_err(|_| bad("argument number is out of range"))?;
            if n == 0 {
                return Err(bad(
                    "format specifies argument 0, but arguments are numbered from 1",
                ));
            }
            position = Some(n - 1);
            digits.clear();
        }
        let mut left = false;
        if digits.is_empty() {
            if chars.peek() == Some(&'-') {
                chars.next();
                left = true;
            }
            while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                digits.push(*d);
                chars.next();
            }
        }
        if chars.peek() == Some(&'*') {
            return Err((
                "0A000",
                "format() widths from arguments are not supported".into(),
            ));
        }
        let width: usize = if digits.is_empty() {
            0
        } else {
            digits.parse().unwrap_or(0)
        };
        let Some(kind) = chars.next() else {
            return Err(bad("unterminated format() type specifier"));
        };
        let at = position.unwrap_or(next);
        next = at + 1;
        let text = match kind {
            's' | 'I' | 'L' => {
                let Some(arg) = args.get(at) else {
                    return Err(bad("too few arguments for format()"));
                };
                match (kind, arg) {
                    ('s', v) => v.clone().unwrap_or_default(),
                    ('I', Some(v)) => ident(v),
                    ('I', None) => {
                        return Err((
                            "22004",
                            "null values cannot be formatted as an SQL identifier".into(),
                        ));
                    }
                    (_, Some(v)) => quote_literal(v),
                    (_, None) => "NULL".into(),
                }
            }
            other => {
                return Err(bad(&format!(
                    "unrecognized format() type specifier \"{other}\""
                )));
            }
        };
        let pad = width.saturating_sub(text.chars().count());
        if left {
            out.push_str(&text);
            out.extend(std::iter::repeat_n(' ', pad));
        } else {
            out.extend(std::iter::repeat_n(' ', pad));
            out.push_str(&text);
        }
    }
    Ok(out)
}

/// `pg_size_pretty(bigint)`, PostgreSQL's algorithm: the size is kept in half-units past bytes, so that
/// the last step rounds half away from zero.
pub(super) fn size_pretty(bytes: i64) -> String {
    // (name, limit, rounds, unit bits)
    const UNITS: [(&str, i64, bool, u32); 6] = [
        ("bytes", 10 * 1024, false, 0),
        ("kB", 20 * 1024 - 1, true, 10),
        ("MB", 20 * 1024 - 1, true, 20),
        ("GB", 20 * 1024 - 1, true, 30),
        ("TB", 20 * 1024 - 1, true, 40),
        ("PB", 20 * 1024 - 1, true, 50),
    ];
    let mut size = bytes;
    for (i, (name, limit, round, bits)) in UNITS.iter().enumerate() {
        if i + 1 == UNITS.len() || size.abs() < *limit {
            if *round {
                size = (size + if size < 0 { -1 } else { 1 }) / 2;
            }
            return format!("{size} {name}");
        }
        let next = UNITS[i + 1];
        let shift = next.3 - bits - u32::from(next.2) + u32::from(*round);
        size /= 1i64 << shift;
    }
    unreachable!("the last unit always answers")
}

/// `quote_literal(s)`: `'s'` with quotes doubled; a string with a backslash is written `E'...'` with the
/// backslashes doubled, as PostgreSQL does.
pub fn quote_literal(s: &str) -> String {
    let body = s.replace('\'', "''");
    if s.contains('\\') {
        format!("E'{}'", body.replace('\\', "\\\\"))
    } else {
        format!("'{body}'")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn format_reads_templates_as_postgresql_does() {
        let f = |t: &str, a: &[Option<&str>]| {
            let a: Vec<Option<String>> = a.iter().map(|v| v.map(str::to_string)).collect();
            super::format_text(t, &a, |s| format!("\"{s}\""))
        };
        assert_eq!(f("%s-%s", &[Some("a"), Some("1")]), Ok("a-1".into()));
        assert_eq!(
            f("%2$s %1$s %%", &[Some("a"), Some("b")]),
            Ok("b a %".into())
        );
        assert_eq!(
            f("[%5s][%-5s]", &[Some("ab"), Some("cd")]),
            Ok("[   ab][cd   ]".into())
        );
        assert_eq!(
            f("%L %L %s|", &[Some("it's"), None, None]),
            Ok("'it''s' NULL |".into())
        );
        assert_eq!(f("%I", &[Some("T")]), Ok("\"T\"".into()));
        assert_eq!(f("%s %s", &[Some("a")]).unwrap_err().0, "22023");
        assert_eq!(f("%x", &[Some("a")]).unwrap_err().0, "22023");
        assert_eq!(f("%I", &[None]).unwrap_err().0, "22004");
    }

    #[test]
    fn similar_to_patterns_read_as_postgresql_reads_them() {
        let re = |p: &str, e: Option<char>| super::similar_to_regex(p, e).unwrap();
        assert_eq!(re("a%", Some('\\')), "^(?:a.*)$");
        assert_eq!(re("a_b.c", Some('\\')), "^(?:a.b\\.c)$");
        assert_eq!(re("(a|b)%", Some('\\')), "^(?:(?:a|b).*)$");
        assert_eq!(re("[a-c]\\%x", Some('\\')), "^(?:[a-c]\\%x)$");
        assert_eq!(re("#%#_", Some('#')), "^(?:\\%\\_)$");
        assert_eq!(re("^$", None), "^(?:\\^\\$)$");
    }

    use super::*;

    #[test]
    fn like_and_sizes() {
        assert_eq!(like_escape("a/_b%\\", Some('/')), "a\\_b%\\\\");
        assert_eq!(size_pretty(100), "100 bytes");
        assert_eq!(size_pretty(10 * 1024), "10 kB");
        assert_eq!(size_pretty(8 * 1024 * 1024), "8192 kB");
        assert_eq!(size_pretty(20 * 1024 * 1024), "20 MB");
    }

    #[test]
    fn quote_literal_as_postgres() {
        assert_eq!(super::quote_literal("it's"), "'it''s'");
        assert_eq!(super::quote_literal("a\\b"), "E'a\\\\b'");
    }
}
