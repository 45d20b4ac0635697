//! jsonb numbers, kept as the text PostgreSQL's `numeric_out` prints.
//!
//! jsonb stores numbers as `numeric`, so `jsonb_in` normalises them the way `numeric_in` followed by
//! `numeric_out` does: no exponent, no leading zeros, no negative zero, and a display scale of
//! `max(0, fraction digits - exponent)`: `1e2` is `100`, `1.50` stays `1.50`, `1.5e-3` is `0.0015`,
//! `-0.0` is `0.0`. Keeping that text is enough for every jsonb operation: output is the text itself,
//! and comparison only needs the digits.

use std::cmp::Ordering;
use std::fmt::{self, LowerExp};
use std::hash::{Hash, Hasher};
use std::ops::Neg;
use std::str::FromStr;

use crate::error::{Error, INVALID_TEXT_REPRESENTATION};

/// numeric's limits: 32767 base-10000 digits before the point (a leading digit of decimal weight
/// 131071 at most), a display scale of 16383, and `numeric_in`'s own exponent bound of `INT_MAX / 2`.
const MAX_WEIGHT: i64 = 4 * 32767 + 3;
const MAX_SCALE: i64 = 0x3FFF;
const MAX_EXPONENT: i64 = (i32::MAX / 2) as i64;

/// A finite numeric value as `numeric_out` prints it. Equality, ordering and hashing are numeric:
/// `1.0 == 1`, as jsonb's `=` has it.
#[derive(Clone, Debug)]
pub struct Number(Box<str>);

#[derive(Debug, PartialEq, Eq)]
enum Invalid {
    Syntax,
    Overflow,
}

fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0B | 0x0C | b'\r')
}

fn digits_at(bytes: &[u8], mut i: usize) -> usize {
    while bytes.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    i
}

impl Number {
    /// Parses `numeric_in`'s syntax (surrounding spaces, a sign, `.5`, `5.`, an exponent; no NaN or
    /// Infinity, which jsonb has no number for). `None` for bad syntax or a value numeric cannot hold.
    pub fn parse(text: &str) -> Option<Number> {
        parse_numeric(text).ok()
    }

    /// [`Number::parse`] with PostgreSQL's errors: 22P02 `invalid input syntax for type numeric: "…"`,
    /// 22003 `value overflows numeric format`. NaN and Infinity get the syntax error: the caller decides
    /// what a non-finite numeric becomes (`to_jsonb` makes it a string).
    pub fn try_parse(text: &str) -> Result<Number, Error> {
        parse_numeric(text).map_err(|invalid| match invalid {
            Invalid::Overflow => Error::numeric_overflow(),
            Invalid::Syntax => Error::new(
                INVALID_TEXT_REPRESENTATION,
                format!("invalid input syntax for type numeric: \"{text}\""),
            ),
        })
    }

    /// A json number token (grammar already checked by the lexer); `Err` is the numeric overflow.
    pub(crate) fn from_json(token: &str) -> Result<Number, Error> {
        parse_numeric(token).map_err(|_| Error::numeric_overflow())
    }

    pub fn from_i64(value: i64) -> Number {
        Number(value.to_string().into_boxed_str())
    }

    /// What `to_jsonb(float8)` stores: float8out's text read as numeric, so `1e20` is
    /// `100000000000000000000` and `-0.0` is `0`. `None` for NaN and the infinities, which
    /// `to_jsonb` turns into the strings "NaN", "Infinity", "-Infinity" (see
    /// [`crate::Jsonb::from_f64`]).
    pub fn from_f64(value: f64) -> Option<Number> {
        value.is_finite().then(|| float_out(value, 17))
    }

    /// `to_jsonb(float4)`: as [`Number::from_f64`] with float4out's text.
    pub fn from_f32(value: f32) -> Option<Number> {
        value.is_finite().then(|| float_out(value, 9))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The nearest float8, as `jsonb::float8` gives it.
    pub fn to_f64(&self) -> f64 {
        self.0.parse().unwrap_or(f64::NAN)
    }

    /// Sign, integer digits, fraction digits without trailing zeros.
    fn parts(&self) -> (bool, &str, &str) {
        let (negative, magnitude) = match self.0.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, &*self.0),
        };
        let (int, frac) = magnitude.split_once('.').unwrap_or((magnitude, ""));
        (negative, int, frac.trim_end_matches('0'))
    }
}

/// The value float8out/float4out prints, as a number. PostgreSQL's Ryu never accepts a decimal on
/// the boundary of the value's rounding interval, so where the shortest decimal sits exactly on that
/// boundary it prints a longer one (`3.1212020143015272e+16`, where Rust's shortest is
/// `3.121202014301527e16`), and it breaks exact ties to even (float4 `1230720.25` is `1230720.2`).
fn float_out<T>(value: T, max_digits: usize) -> Number
where
    T: LowerExp + FromStr + PartialOrd + Neg<Output = T> + Copy + Default,
{
    let zero = T::default();
    if value == zero {
        return Number("0".into());
    }
    let negative = value < zero;
    let magnitude = if negative { -value } else { value };
    let shortest = Decimal::of(&format!("{magnitude:e}"));
    let mut chosen = None;
    for len in shortest.digits.len()..=max_digits {
        let rounded = Decimal::of(&format!("{magnitude:.*e}", len - 1));
        chosen = match rounded.side(magnitude) {
            Ordering::Equal => Some(rounded),
            // On the lower end: Ryu takes the next decimal up at this length.
            Ordering::Less => {
                Some(rounded.next_up()).filter(|up| up.side(magnitude) == Ordering::Equal)
            }
            Ordering::Greater => None,
        };
        if chosen.is_some() {
            break;
        }
    }
    let d = chosen.unwrap_or(shortest);
    let text = format!(
        "{}{}e{}",
        if negative { "-" } else { "" },
        d.digits,
        d.exponent
    );
    parse_numeric(&text).unwrap_or_else(|_| Number("0".into()))
}

/// `digits × 10^exponent`: a float's magnitude as `{:e}` prints it.
struct Decimal {
    digits: String,
    exponent: i64,
}

impl Decimal {
    fn of(scientific: &str) -> Decimal {
        let (mantissa, exponent) = scientific.split_once('e').unwrap_or((scientific, "0"));
        let digits: String = mantissa
            .bytes()
            .filter(u8::is_ascii_digit)
            .map(char::from)
            .collect();
        let exponent = exponent.parse::<i64>().unwrap_or(0) - (digits.len() as i64 - 1);
        Decimal { digits, exponent }
    }

    /// The next decimal up with as many digits (one more when all are 9).
    fn next_up(&self) -> Decimal {
        let mut digits = self.digits.clone().into_bytes();
        match digits.iter().rposition(|&d| d != b'9') {
            Some(i) => {
                digits[i] += 1;
                digits[i + 1..].fill(b'0');
            }
            None => {
                digits.fill(b'0');
                digits.insert(0, b'1');
            }
        }
        Decimal {
            digits: String::from_utf8(digits).unwrap_or_default(),
            exponent: self.exponent,
        }
    }

    /// Where this decimal lies against the open interval of decimals that read back as `value`:
    /// `Equal` inside, `Less` on or below its lower end, `Greater` on or above its upper end. The
    /// ends are told apart by reading the decimal nudged by 10^-25 of its last digit either way
    /// (float parsing is correctly rounded however long the input).
    fn side<T: FromStr + PartialOrd>(&self, value: T) -> Ordering {
        const NUDGE: usize = 25;
        let reads_as = |digits: &str| {
            format!("{digits}e{}", self.exponent - NUDGE as i64)
                .parse::<T>()
                .ok()
        };
        let exact: Option<T> = format!("{}e{}", self.digits, self.exponent).parse().ok();
        match exact.and_then(|e| e.partial_cmp(&value)) {
            Some(Ordering::Equal) => {}
            Some(other) => return other,
            None => return Ordering::Greater,
        }
        // digits × 10^25 - 1 and digits × 10^25 + 1, in units of 10^(exponent - 25).
        let mut below = self.digits.clone().into_bytes();
        if let Some(i) = below.iter().rposition(|&d| d != b'0') {
            below[i] -= 1;
            below[i + 1..].fill(b'9');
        }
        let mut below = String::from_utf8(below).unwrap_or_default();
        below.extend(std::iter::repeat_n('9', NUDGE));
        let mut above = self.digits.clone();
        above.extend(std::iter::repeat_n('0', NUDGE - 1));
        above.push('1');
        if reads_as(&below).is_none_or(|v| v != value) {
            Ordering::Less
        } else if reads_as(&above).is_none_or(|v| v != value) {
            Ordering::Greater
        } else {
            Ordering::Equal
        }
    }
}

fn parse_numeric(text: &str) -> Result<Number, Invalid> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while bytes.get(i).is_some_and(|&b| is_c_space(b)) {
        i += 1;
    }
    let mut negative = false;
    match bytes.get(i) {
        Some(b'+') => i += 1,
        Some(b'-') => {
            negative = true;
            i += 1;
        }
        _ => {}
    }
    let int_end = digits_at(bytes, i);
    let int = &bytes[i..int_end];
    i = int_end;
    let mut frac: &[u8] = &[];
    if bytes.get(i) == Some(&b'.') {
        let frac_end = digits_at(bytes, i + 1);
        frac = &bytes[i + 1..frac_end];
        i = frac_end;
    }
    if int.is_empty() && frac.is_empty() {
        return Err(Invalid::Syntax);
    }
    let mut exponent: i64 = 0;
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        // strtol: its own leading spaces and sign, saturating on overflow.
        i += 1;
        while bytes.get(i).is_some_and(|&b| is_c_space(b)) {
            i += 1;
        }
        let exponent_negative = bytes.get(i) == Some(&b'-');
        if matches!(bytes.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let end = digits_at(bytes, i);
        if end == i {
            return Err(Invalid::Syntax);
        }
        for &d in &bytes[i..end] {
            exponent = exponent
                .saturating_mul(10)
                .saturating_add(i64::from(d - b'0'));
        }
        if exponent_negative {
            exponent = -exponent;
        }
        i = end;
    }
    if !bytes[i..].iter().all(|&b| is_c_space(b)) {
        return Err(Invalid::Syntax);
    }
    if exponent >= MAX_EXPONENT || exponent <= -MAX_EXPONENT {
        return Err(Invalid::Overflow);
    }
    canonical(negative, int, frac, exponent)
}

/// `numeric_out(numeric_in(…))` for the decimal `int.frac × 10^exponent`.
fn canonical(negative: bool, int: &[u8], frac: &[u8], exponent: i64) -> Result<Number, Invalid> {
    let n = int.len() + frac.len();
    let digit = |i: usize| {
        if i < int.len() {
            int[i]
        } else {
            frac[i - int.len()]
        }
    };
    // The value is digits × 10^shift; numeric keeps every digit, so the scale is what the shift needs.
    let shift = exponent - frac.len() as i64;
    let scale = (-shift).max(0);
    if scale > MAX_SCALE {
        return Err(Invalid::Overflow);
    }
    let first = (0..n).find(|&i| digit(i) != b'0');
    let mut out = String::new();
    let Some(first) = first else {
        out.push('0');
        if scale > 0 {
            out.push('.');
            out.extend(std::iter::repeat_n('0', scale as usize));
        }
        return Ok(Number(out.into_boxed_str()));
    };
    if (n - 1 - first) as i64 + shift > MAX_WEIGHT {
        return Err(Invalid::Overflow);
    }
    if negative {
        out.push('-');
    }
    if shift >= 0 {
        out.extend((first..n).map(|i| digit(i) as char));
        out.extend(std::iter::repeat_n('0', shift as usize));
    } else {
        let k = scale as usize;
        if n > k && n - k > first {
            out.extend((first..n - k).map(|i| digit(i) as char));
        } else {
            out.push('0');
        }
        out.push('.');
        if n >= k {
            out.extend((n - k..n).map(|i| digit(i) as char));
        } else {
            out.extend(std::iter::repeat_n('0', k - n));
            out.extend((0..n).map(|i| digit(i) as char));
        }
    }
    Ok(Number(out.into_boxed_str()))
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Ord for Number {
    fn cmp(&self, other: &Number) -> Ordering {
        let (a_negative, a_int, a_frac) = self.parts();
        let (b_negative, b_int, b_frac) = other.parts();
        let magnitude = || {
            // Canonical integer parts have no leading zeros, so the longer one is larger.
            a_int
                .len()
                .cmp(&b_int.len())
                .then_with(|| a_int.cmp(b_int))
                .then_with(|| a_frac.cmp(b_frac))
        };
        match (a_negative, b_negative) {
            (false, false) => magnitude(),
            (true, true) => magnitude().reverse(),
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
        }
    }
}

impl PartialOrd for Number {
    fn partial_cmp(&self, other: &Number) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Number {
    fn eq(&self, other: &Number) -> bool {
        self.parts() == other.parts()
    }
}

impl Eq for Number {}

impl Hash for Number {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.parts().hash(state);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(text: &str) -> String {
        Number::parse(text).map_or_else(|| "<none>".to_owned(), |n| n.as_str().to_owned())
    }

    #[test]
    fn numeric_in_syntax() {
        // Observed with `select '…'::numeric`.
        for (input, expected) in [
            ("  +00012.500  ", "12.500"),
            (".5", "0.5"),
            ("5.", "5"),
            ("-.5e1", "-5"),
            ("1e 5", "100000"),
            ("1e +5", "100000"),
            ("12.34e+1", "123.4"),
            ("1e-0", "1"),
            ("-0.000", "0.000"),
        ] {
            assert_eq!(canon(input), expected, "{input}");
        }
        for bad in [
            "1e", "1e+ 5", "1.2.3", "-", "+.e1", "1e5x", "NaN", "Infinity", ".", "",
        ] {
            assert_eq!(canon(bad), "<none>", "{bad}");
        }
        let e = Number::try_parse("1e5x").unwrap_err();
        assert_eq!(
            (e.sqlstate, e.message.as_str()),
            ("22P02", "invalid input syntax for type numeric: \"1e5x\"")
        );
    }

    #[test]
    fn limits() {
        let length = |text: &str| Number::parse(text).map(|n| n.as_str().len());
        assert_eq!(length("1e131071"), Some(131072));
        assert_eq!(length("9.9e131071"), Some(131072));
        assert_eq!(length("0.1e131072"), Some(131072));
        assert_eq!(length("1e-16383"), Some(16385));
        assert_eq!(length("0e-16383"), Some(16385));
        assert_eq!(length("0e131072"), Some(1));
        assert_eq!(length("0e1073741822"), Some(1));
        for overflow in [
            "1e131072",
            "10e131071",
            "1e-16384",
            "1.5e-16383",
            "0e-16384",
            "0.0e-16383",
            "0e1073741823",
            "1e-1073741823",
            "1e9999999999999999999999",
        ] {
            let e = Number::try_parse(overflow).unwrap_err();
            assert_eq!(
                (e.sqlstate, e.message.as_str()),
                ("22003", "value overflows numeric format"),
                "{overflow}"
            );
        }
    }

    #[test]
    fn floats() {
        // Observed with `select to_jsonb(…::float8)`.
        let f = |v: f64| Number::from_f64(v).unwrap().as_str().to_owned();
        assert_eq!(f(1.5), "1.5");
        assert_eq!(f(1e20), "100000000000000000000");
        assert_eq!(f(1e-5), "0.00001");
        assert_eq!(f(0.1), "0.1");
        assert_eq!(f(-0.0), "0");
        assert_eq!(f(123456789012345680000.0), "123456789012345680000");
        assert_eq!(f(100.0), "100");
        assert_eq!(f(1.25e-7), "0.000000125");
        assert_eq!(f(1.0 / 3.0), "0.3333333333333333");
        assert_eq!(f(5e-324).len(), 326);
        assert!(Number::from_f64(f64::NAN).is_none());
        assert!(Number::from_f64(f64::INFINITY).is_none());
        assert_eq!(Number::from_f32(0.1).unwrap().as_str(), "0.1");
        assert_eq!(Number::from_i64(i64::MIN).as_str(), "-9223372036854775808");
    }

    #[test]
    fn numeric_order() {
        let n = |t: &str| Number::parse(t).unwrap();
        assert_eq!(n("1"), n("1.000"));
        assert_eq!(n("0"), n("0.00"));
        let sorted = [
            "-100", "-2.5", "-2.25", "-0.001", "0", "0.001", "0.01", "0.5", "0.51", "1", "1.5",
            "9", "10", "100.1",
        ];
        for pair in sorted.windows(2) {
            assert!(n(pair[0]) < n(pair[1]), "{} < {}", pair[0], pair[1]);
        }
    }
}
