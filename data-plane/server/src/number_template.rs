//! `to_char(number, template)`: PostgreSQL's number templates (`9`, `0`, `.` / `D`, `,` / `G`, `S`, `MI`,
//! `PL`, `SG`, `PR`, `FM`, `L`, `V`, `TH`, quoted text), digit for digit as PostgreSQL prints them, down to
//! its quirks: a sign space before the first digit unless the template places the sign, `#` in every digit
//! position when the number needs more integer digits than the template has, `FM` trimming fraction zeros
//! only past the template's last `0`. Numerics round half away from zero, floats as printf rounds them (as
//! PostgreSQL's to_char does). `EEEE`, `RN` and `B` are not built: 0A000.

/// A number ready to print: its sign and the decimal digits of its magnitude.
pub enum Number {
    Int(i64),
    Float(f64),
    /// An unscaled decimal and its scale.
    Decimal(i128, i8),
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Token {
    /// `9` (blank when leading) or `0` (zero when leading).
    Digit {
        zero: bool,
    },
    Point,
    Group,
    /// `S`: a sign anchored to the number.
    Sign,
    /// `MI`, `PL`, `SG`: a sign at this position.
    Minus,
    Plus,
    SignHere,
    /// `PR`: angle brackets around a negative number.
    Brackets,
    Currency,
    Ordinal {
        upper: bool,
    },
    Literal(char),
}

struct Template {
    tokens: Vec<Token>,
    fill: bool,
    /// Digits after `V`: the number is multiplied by ten to this power and printed without a point.
    shift: u32,
}

fn parse(template: &str) -> Result<Template, String> {
    let chars: Vec<char> = template.chars().collect();
    let mut tokens = Vec::new();
    let (mut fill, mut shift, mut shifting) = (false, 0u32, false);
    let mut i = 0;
    let at = |i: usize, word: &str| -> bool {
        word.chars()
            .enumerate()
            .all(|(k, w)| chars.get(i + k).is_some_and(|c| c.eq_ignore_ascii_case(&w)))
    };
    while i < chars.len() {
        let c = chars[i];
        let (token, len) = if c == '9' || c == '0' {
            if shifting {
                shift += 1;
            }
            (Some(Token::Digit { zero: c == '0' }), 1)
        } else if c == '.' || c == 'D' || c == 'd' {
            (Some(Token::Point), 1)
        } else if c == ',' || c == 'G' || c == 'g' {
            (Some(Token::Group), 1)
        } else if at(i, "FM") {
            fill = true;
            (None, 2)
        } else if at(i, "MI") {
            (Some(Token::Minus), 2)
        } else if at(i, "PL") {
            (Some(Token::Plus), 2)
        } else if at(i, "SG") {
            (Some(Token::SignHere), 2)
        } else if at(i, "PR") {
            (Some(Token::Brackets), 2)
        } else if at(i, "TH") {
            (Some(Token::Ordinal { upper: c == 'T' }), 2)
        } else if at(i, "EEEE") || at(i, "RN") || c == 'B' || c == 'b' {
            return Err(format!(
                "to_char's number pattern \"{}\" is not supported yet",
                if at(i, "EEEE") {
                    "EEEE"
                } else if at(i, "RN") {
                    "RN"
                } else {
                    "B"
                }
            ));
        } else if c == 'S' || c == 's' {
            (Some(Token::Sign), 1)
        } else if c == 'L' || c == 'l' {
            (Some(Token::Currency), 1)
        } else if c == 'V' || c == 'v' {
            shifting = true;
            (None, 1)
        } else if c == '"' {
            let end = chars[i + 1..]
                .iter()
                .position(|&q| q == '"')
                .map_or(chars.len(), |p| i + 1 + p);
            tokens.extend(chars[i + 1..end].iter().map(|&q| Token::Literal(q)));
            i = end + 1;
            continue;
        } else if c == '\\' && i + 1 < chars.len() {
            (Some(Token::Literal(chars[i + 1])), 2)
        } else {
            (Some(Token::Literal(c)), 1)
        };
        tokens.extend(token);
        i += len;
    }
    Ok(Template {
        tokens,
        fill,
        shift,
    })
}

/// The magnitude's integer digits (no leading zeros: empty for zero) and `post` fraction digits, rounded;
/// `None` when it cannot be represented (NaN, infinities).
fn digits(n: &Number, post: usize, shift: u32) -> Option<(bool, String, String)> {
    let text = match *n {
        Number::Int(v) => {
            let mut t = i128::from(v).unsigned_abs().to_string();
            t.push_str(&"0".repeat(shift as usize));
            return Some(split(v < 0, t, post));
        }
        Number::Float(f) if !f.is_finite() => return None,
        Number::Float(f) => {
            let scaled = f * 10f64.powi(shift as i32);
            let t = format!("{:.*}", post, scaled.abs());
            return Some(split(f.is_sign_negative(), t, post));
        }
        Number::Decimal(v, scale) => {
            // Rounded half away from zero to `post` places after the shift.
            let from = i32::from(scale) - shift as i32;
            let to = post as i32;
            let magnitude = v.unsigned_abs();
            let rounded = if from > to {
                let d = 10u128.checked_pow((from - to) as u32)?;
                let (q, r) = (magnitude / d, magnitude % d);
                if r * 2 >= d { q + 1 } else { q }
            } else {
                magnitude.checked_mul(10u128.checked_pow((to - from) as u32)?)?
            };
            let mut t = rounded.to_string();
            if post > 0 {
                if t.len() <= post {
                    t = format!("{}{t}", "0".repeat(post + 1 - t.len()));
                }
                t.insert(t.len() - post, '.');
            }
            (v < 0, t)
        }
    };
    let (negative, t) = text;
    Some(split(negative, t, post))
}

fn split(negative: bool, text: String, post: usize) -> (bool, String, String) {
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let int = int.trim_start_matches('0').to_string();
    let mut frac = frac.to_string();
    frac.truncate(post);
    while frac.len() < post {
        frac.push('0');
    }
    // A number that rounds to zero prints without a sign.
    let zero = int.is_empty() && frac.bytes().all(|b| b == b'0');
    (negative && !zero, int, frac)
}

/// `n` printed by `template`.
pub fn format(n: &Number, template: &str) -> Result<String, String> {
    let t = parse(template)?;
    let fill = t.fill;
    let point = t.tokens.iter().position(|k| *k == Token::Point);
    let is_digit = |k: &Token| matches!(k, Token::Digit { .. });
    let before = |i: usize| point.is_none_or(|p| i < p);
    let int_slots: Vec<bool> = t
        .tokens
        .iter()
        .enumerate()
        .filter(|(i, k)| is_digit(k) && before(*i))
        .map(|(_, k)| matches!(k, Token::Digit { zero: true }))
        .collect();
    let frac_slots: Vec<bool> = t
        .tokens
        .iter()
        .enumerate()
        .filter(|(i, k)| is_digit(k) && !before(*i))
        .map(|(_, k)| matches!(k, Token::Digit { zero: true }))
        .collect();
    let (pre, post) = (int_slots.len(), frac_slots.len());
    let zero_start = int_slots.iter().position(|z| *z).unwrap_or(pre);
    let zero_end = frac_slots.iter().rposition(|z| *z).map_or(0, |p| p + 1);
    let got = digits(n, post, t.shift);
    // PostgreSQL counts the 0 before the point of a number under 1 as a digit too.
    let overflow = got
        .as_ref()
        .is_none_or(|(_, int, _)| int.len().max(1) > pre);
    let (negative, int, frac) = got.unwrap_or_default();
    let placed = t.tokens.iter().any(|k| {
        matches!(
            k,
            Token::Sign | Token::Minus | Token::SignHere | Token::Brackets
        )
    });
    let anchored_s = t.tokens.iter().position(|k| *k == Token::Sign);
    let first_digit = t.tokens.iter().position(is_digit);
    // The sign written before the first digit (or the point): PostgreSQL's default, `S` or `PR` before the
    // digits.
    let lead_sign: Option<&str> = if !placed {
        Some(if negative {
            "-"
        } else if fill {
            ""
        } else {
            " "
        })
    } else if anchored_s.zip(first_digit).is_some_and(|(s, d)| s < d) {
        Some(if negative { "-" } else { "+" })
    } else if t.tokens.contains(&Token::Brackets) {
        Some(if negative {
            "<"
        } else if fill {
            ""
        } else {
            " "
        })
    } else {
        None
    };
    let zero_value = int.is_empty() && frac.bytes().all(|b| b == b'0');
    let keep_frac = if fill {
        frac.bytes()
            .rposition(|b| b != b'0')
            .map_or(0, |p| p + 1)
            .max(zero_end)
    } else {
        post
    };
    let offset = pre.saturating_sub(int.len());
    let mut out = String::new();
    let mut sign_written = lead_sign.is_none();
    let mut printed_int = false;
    let (mut int_i, mut frac_i) = (0usize, 0usize);
    let write_sign = |out: &mut String, sign_written: &mut bool| {
        if !*sign_written {
            out.push_str(lead_sign.unwrap_or(""));
            *sign_written = true;
        }
    };
    for (i, token) in t.tokens.iter().enumerate() {
        match token {
            Token::Digit { .. } if before(i) => {
                let slot = int_i;
                int_i += 1;
                if overflow {
                    write_sign(&mut out, &mut sign_written);
                    out.push('#');
                    printed_int = true;
                    continue;
                }
                let c = if slot >= offset {
                    int.as_bytes()[slot - offset] as char
                } else if slot >= zero_start
                    || (slot + 1 == pre
                        && int.is_empty()
                        && (post == 0 || (fill && zero_value && keep_frac == 0)))
                {
                    '0'
                } else {
                    if !fill {
                        out.push(' ');
                    }
                    continue;
                };
                write_sign(&mut out, &mut sign_written);
                out.push(c);
                printed_int = true;
            }
            Token::Digit { .. } => {
                let slot = frac_i;
                frac_i += 1;
                if overflow {
                    out.push('#');
                } else if slot < keep_frac {
                    out.push(frac.as_bytes()[slot] as char);
                }
            }
            Token::Point => {
                write_sign(&mut out, &mut sign_written);
                if post > 0 || overflow {
                    out.push('.');
                }
            }
            Token::Group => {
                if printed_int {
                    out.push(',');
                } else if !fill {
                    out.push(' ');
                }
            }
            Token::Sign => {
                if anchored_s.zip(first_digit).is_some_and(|(s, d)| s > d) {
                    out.push(if negative { '-' } else { '+' });
                }
            }
            Token::Minus => {
                if negative {
                    out.push('-');
                } else if !fill {
                    out.push(' ');
                }
            }
            Token::Plus => {
                if !negative {
                    out.push('+');
                } else if !fill {
                    out.push(' ');
                }
            }
            Token::SignHere => out.push(if negative { '-' } else { '+' }),
            Token::Brackets => {
                if negative {
                    out.push('>');
                } else if !fill {
                    out.push(' ');
                }
            }
            Token::Currency => out.push(' '),
            // Not for negative numbers nor for templates with fraction digits, as in PostgreSQL.
            Token::Ordinal { .. } if overflow || negative || post > 0 => {}
            Token::Ordinal { upper } => {
                let suffix = crate::to_char::ordinal(int_value(&int));
                out.push_str(&if *upper {
                    suffix.to_uppercase()
                } else {
                    suffix.to_string()
                });
            }
            Token::Literal(c) => out.push(*c),
        }
    }
    write_sign(&mut out, &mut sign_written);
    Ok(out)
}

fn int_value(int: &str) -> i64 {
    let tail = &int[int.len().saturating_sub(2)..];
    tail.parse().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(text: &str) -> Number {
        let (int, frac) = text.split_once('.').unwrap_or((text, ""));
        Number::Decimal(format!("{int}{frac}").parse().unwrap(), frac.len() as i8)
    }

    /// Each expected string is PostgreSQL 15's (`SELECT '[' || to_char(...) || ']'`).
    #[test]
    fn templates_print_as_postgresql_prints_them() {
        let cases: &[(Number, &str, &str)] = &[
            (dec("0.5"), "9.99", "  .50"),
            (dec("0.5"), "0.99", " 0.50"),
            (Number::Int(0), "9", " 0"),
            (Number::Int(0), "99.99", "   .00"),
            (Number::Int(0), "FM999.99", "0."),
            (dec("0.5"), "FM999.99", ".5"),
            (Number::Int(0), "FM999", "0"),
            (Number::Decimal(0, 2), "FM9,999.00", ".00"),
            (Number::Int(0), "FM9.90", ".00"),
            (Number::Int(0), "FM9.09", ".0"),
            (Number::Int(-12), "9999", "  -12"),
            (Number::Int(-12), "0000", "-0012"),
            (Number::Int(-12), "S9999", "  -12"),
            (Number::Int(-12), "9999S", "  12-"),
            (Number::Int(-12), "MI9999", "-  12"),
            (Number::Int(12), "MI9999", "   12"),
            (Number::Int(12), "FMMI9999", "12"),
            (Number::Int(12), "9099", "  012"),
            (dec("1234567.891"), "9,999,999.99", " 1,234,567.89"),
            (Number::Int(12), "9,999", "    12"),
            (Number::Int(12), "FM9,999", "12"),
            (Number::Int(12345), "999", " ###"),
            (dec("12345.5"), "999.9", " ###.#"),
            (Number::Int(-12), "999PR", " <12>"),
            (Number::Int(12), "999PR", "  12 "),
            (Number::Int(12), "FM999PR", "12"),
            (Number::Int(12), "PL999", "+  12"),
            (Number::Int(-12), "SG999", "- 12"),
            (dec("12.5"), "FM999.", "13"),
            (dec("1.005"), "9.99", " 1.01"),
            (Number::Float(1.005), "9.99", " 1.00"),
            (Number::Float(2.5), "9", " 2"),
            (dec("-0.4"), "9", " 0"),
            (dec("-0.4"), "9.9", " -.4"),
            (Number::Int(12), "9D9", " #.#"),
            (Number::Int(1234), "9G999", " 1,234"),
            (dec("1234.5"), "L9999.99", "  1234.50"),
            (Number::Int(5), "9th", " 5th"),
            (dec("-0.5"), "999th", "  -1"),
            (dec("12.3"), "99.9th", " 12.3"),
            (Number::Int(12345678), "S9,999.99", "+#,###.##"),
            (Number::Int(1000000), "FM9.", "#."),
            (dec("-0.1"), ".99", "-.##"),
            (dec("-0.004"), "FM.99", ".##"),
            (Number::Float(1.5), "9.", " 2"),
            (Number::Float(123.456), "FM99TH", "##"),
            (dec("12.3"), "99V9", " 123"),
            (Number::Int(12), "\"Total:\" 999", "Total:   12"),
            (Number::Int(12), "x999y", "x  12y"),
            (dec("0.05"), "FM0.00", "0.05"),
            (Number::Int(100), "FM999.90", "100.00"),
            (dec("3.1"), "FM990.009", "3.10"),
            (dec("-3.1"), "FM990.009", "-3.10"),
            (dec("-0.1"), "FM9.99", "-.1"),
            (dec("0.1"), "999.99", "    .10"),
            (dec("-0.1"), "999.99", "   -.10"),
        ];
        for (n, template, want) in cases {
            assert_eq!(format(n, template).unwrap(), *want, "{template}");
        }
        assert!(format(&Number::Int(1), "9.99EEEE").is_err());
    }
}
