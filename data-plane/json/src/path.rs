//! Path elements used as array subscripts.
//!
//! PostgreSQL reads them with `strtol`/`strtoint`: C-locale leading whitespace and a sign are
//! allowed, trailing characters are not, and the value must fit an `int4`.

/// The subscript `text` names, if it is an integer in `int4` range.
pub(crate) fn parse_int(text: &str) -> Option<i32> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while bytes
        .get(i)
        .is_some_and(|&b| matches!(b, b' ' | b'\t' | b'\n' | 0x0B | 0x0C | b'\r'))
    {
        i += 1;
    }
    let negative = bytes.get(i) == Some(&b'-');
    if matches!(bytes.get(i), Some(b'+' | b'-')) {
        i += 1;
    }
    let digits = &bytes[i..];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut value: i64 = 0;
    for &d in digits {
        value = value * 10 + i64::from(d - b'0');
        if value > 1 << 31 {
            return None;
        }
    }
    i32::try_from(if negative { -value } else { value }).ok()
}

/// The element of an array of `len` that `text` names, negative counting from the end.
pub(crate) fn array_index(text: &str, len: usize) -> Option<usize> {
    let i = i64::from(parse_int(text)?);
    let i = if i < 0 { i + len as i64 } else { i };
    usize::try_from(i).ok().filter(|&i| i < len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtol_rules() {
        assert_eq!(parse_int("1"), Some(1));
        assert_eq!(parse_int(" 1"), Some(1));
        assert_eq!(parse_int("+1"), Some(1));
        assert_eq!(parse_int("01"), Some(1));
        assert_eq!(parse_int("-2"), Some(-2));
        assert_eq!(parse_int("-2147483648"), Some(i32::MIN));
        assert_eq!(parse_int("2147483647"), Some(i32::MAX));
        for bad in [
            "",
            " ",
            "1 ",
            "1x",
            "x",
            "+",
            "- 1",
            "1.0",
            "2147483648",
            "99999999999",
            "-2147483649",
        ] {
            assert_eq!(parse_int(bad), None, "{bad:?}");
        }
        assert_eq!(array_index("-1", 3), Some(2));
        assert_eq!(array_index("-4", 3), None);
        assert_eq!(array_index("3", 3), None);
    }
}
