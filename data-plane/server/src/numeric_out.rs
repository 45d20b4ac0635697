//! A numeric value (an Arrow Decimal128: an i128 scaled by 10^scale) in PostgreSQL's text and binary forms,
//! written directly: rust_decimal, which did this before, holds 28 digits and a scale up to 28, so a
//! `numeric(38, 0)` past 7.9e28 or a `1e-30` could not be sent at all, and a negative scale lost its zeros.

use bytes::{BufMut, BytesMut};

/// Decimal digits of `|v|`, with the scale made non-negative (a negative scale appends zeros).
fn digits(v: i128, scale: i8) -> (String, usize) {
    let mut d = v.unsigned_abs().to_string();
    if scale < 0 {
        d.push_str(&"0".repeat(usize::from(scale.unsigned_abs())));
        return (d, 0);
    }
    (d, usize::from(scale as u8))
}

/// `-12.340`: the digits with the point `scale` from the right, as PostgreSQL prints numeric.
pub fn text(v: i128, scale: i8, out: &mut BytesMut) {
    let (d, s) = digits(v, scale);
    if v < 0 {
        out.put_u8(b'-');
    }
    if s == 0 {
        out.put_slice(d.as_bytes());
        return;
    }
    let d = if d.len() <= s {
        format!("{}{d}", "0".repeat(s + 1 - d.len()))
    } else {
        d
    };
    let (int, frac) = d.split_at(d.len() - s);
    out.put_slice(int.as_bytes());
    out.put_u8(b'.');
    out.put_slice(frac.as_bytes());
}

/// PostgreSQL's binary numeric: ndigits, weight, sign, dscale, then base-10000 digits (the first group
/// holding the units is at `weight` 0), without leading or trailing zero groups.
pub fn binary(v: i128, scale: i8, out: &mut BytesMut) {
    let (d, s) = digits(v, scale);
    let (int, frac) = if d.len() > s {
        d.split_at(d.len() - s)
    } else {
        ("", d.as_str())
    };
    let frac = format!("{}{frac}", "0".repeat(s - frac.len()));
    let int = format!("{}{int}", "0".repeat((4 - int.len() % 4) % 4));
    let frac = format!("{frac}{}", "0".repeat((4 - frac.len() % 4) % 4));
    let group = |s: &str| -> Vec<u16> {
        s.as_bytes()
            .chunks(4)
            .map(|c| c.iter().fold(0u16, |acc, b| acc * 10 + u16::from(b - b'0')))
            .collect()
    };
    let int_groups = group(&int);
    let mut groups = int_groups.clone();
    groups.extend(group(&frac));
    let mut weight = int_groups.len() as i16 - 1;
    let lead = groups.iter().take_while(|g| **g == 0).count();
    weight -= lead as i16;
    let groups = &groups[lead..];
    let trail = groups.iter().rev().take_while(|g| **g == 0).count();
    let groups = &groups[..groups.len() - trail];
    let dscale = s as u16;
    if groups.is_empty() {
        out.put_u16(0);
        out.put_i16(0);
        out.put_u16(0);
        out.put_u16(dscale);
        return;
    }
    out.put_u16(groups.len() as u16);
    out.put_i16(weight);
    out.put_u16(if v < 0 { 0x4000 } else { 0 });
    out.put_u16(dscale);
    for g in groups {
        out.put_u16(*g);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use postgres_types::{ToSql, Type};
    use proptest::prelude::*;
    use rust_decimal::Decimal;

    fn t(v: i128, scale: i8) -> String {
        let mut b = BytesMut::new();
        text(v, scale, &mut b);
        String::from_utf8(b.to_vec()).unwrap()
    }

    fn bin(v: i128, scale: i8) -> Vec<u8> {
        let mut b = BytesMut::new();
        binary(v, scale, &mut b);
        b.to_vec()
    }

    #[test]
    fn text_as_postgresql_prints_it() {
        assert_eq!(t(12340, 3), "12.340");
        assert_eq!(t(-5, 2), "-0.05");
        assert_eq!(t(0, 2), "0.00");
        assert_eq!(t(0, 0), "0");
        assert_eq!(t(7, -3), "7000");
        assert_eq!(t(1, 30), "0.000000000000000000000000000001");
        assert_eq!(t(i128::MAX, 0), "170141183460469231731687303715884105727");
        assert_eq!(
            t(i128::MIN, 38),
            "-1.70141183460469231731687303715884105728"
        );
    }

    #[test]
    fn binary_beyond_rust_decimal() {
        // 10^30 = 1 followed by 30 zeros: one group 100 at weight 7 (10^28 .. 10^31), dscale 0.
        assert_eq!(bin(10i128.pow(30), 0), [0, 1, 0, 7, 0, 0, 0, 0, 0, 100]);
        // 1e-30: the group 100 at weight -8 (10^-32 .. 10^-29), dscale 30.
        assert_eq!(bin(1, 30), [0, 1, 0xff, 0xf8, 0, 0, 0, 30, 0, 100]);
        // Zero keeps its scale.
        assert_eq!(bin(0, 2), [0, 0, 0, 0, 0, 0, 0, 2]);
        // A negative scale: 7000.
        assert_eq!(bin(7, -3), [0, 1, 0, 0, 0, 0, 0, 0, 0x1b, 0x58]);
    }

    proptest! {
        /// Where rust_decimal reaches, both forms are what it (and PostgreSQL) send.
        #[test]
        fn same_as_rust_decimal_where_it_reaches(v in -(10i128.pow(28))..10i128.pow(28), scale in 0i8..=28) {
            let d = Decimal::from_i128_with_scale(v, scale as u32);
            prop_assert_eq!(t(v, scale), d.to_string());
            if !d.is_zero() {
                let mut expected = BytesMut::new();
                d.to_sql(&Type::NUMERIC, &mut expected).unwrap();
                prop_assert_eq!(bin(v, scale), expected.to_vec());
            }
        }
    }
}
