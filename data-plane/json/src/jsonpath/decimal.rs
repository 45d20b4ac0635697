//! Exact decimal arithmetic with numeric's result scales, for jsonpath's `+ - * / %` and the
//! numeric item methods. Values are small in practice, so digits are kept one per byte.

use std::cmp::Ordering;

use crate::number::Number;

#[derive(Clone, Debug)]
pub(crate) struct Dec {
    neg: bool,
    /// The magnitude's digits, most significant first, no leading zeros (zero is empty).
    digits: Vec<u8>,
    /// numeric's display scale: digits after the point.
    scale: usize,
}

pub(crate) enum ArithError {
    DivisionByZero,
    Overflow,
}

fn trim(mut d: Vec<u8>) -> Vec<u8> {
    let z = d.iter().take_while(|&&x| x == 0).count();
    d.drain(..z);
    d
}

fn cmp_mag(a: &[u8], b: &[u8]) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn add_mag(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(a.len().max(b.len()) + 1);
    let (mut i, mut j, mut carry) = (a.len(), b.len(), 0);
    while i > 0 || j > 0 || carry > 0 {
        let mut s = carry;
        if i > 0 {
            i -= 1;
            s += a[i];
        }
        if j > 0 {
            j -= 1;
            s += b[j];
        }
        out.push(s % 10);
        carry = s / 10;
    }
    out.reverse();
    trim(out)
}

/// `a - b` for `a >= b`.
fn sub_mag(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = a.to_vec();
    let mut borrow = 0i8;
    for k in 0..out.len() {
        let i = out.len() - 1 - k;
        let bd = if k < b.len() {
            b[b.len() - 1 - k] as i8
        } else {
            0
        };
        let mut d = out[i] as i8 - bd - borrow;
        borrow = i8::from(d < 0);
        if d < 0 {
            d += 10;
        }
        out[i] = d as u8;
    }
    trim(out)
}

fn mul_mag(a: &[u8], b: &[u8]) -> Vec<u8> {
    if a.is_empty() || b.is_empty() {
        return Vec::new();
    }
    let mut acc = vec![0u32; a.len() + b.len()];
    for (i, &x) in a.iter().enumerate() {
        for (j, &y) in b.iter().enumerate() {
            acc[i + j + 1] += u32::from(x) * u32::from(y);
        }
    }
    for k in (1..acc.len()).rev() {
        acc[k - 1] += acc[k] / 10;
        acc[k] %= 10;
    }
    trim(acc.into_iter().map(|d| d as u8).collect())
}

/// Long division: quotient and remainder of magnitudes.
fn divmod_mag(a: &[u8], b: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut q = Vec::with_capacity(a.len());
    let mut r: Vec<u8> = Vec::new();
    for &d in a {
        r.push(d);
        r = trim(r);
        let mut n = 0;
        while cmp_mag(&r, b) != Ordering::Less {
            r = sub_mag(&r, b);
            n += 1;
        }
        q.push(n);
    }
    (trim(q), r)
}

fn shift(d: &[u8], zeros: usize) -> Vec<u8> {
    if d.is_empty() {
        return Vec::new();
    }
    let mut v = d.to_vec();
    v.extend(std::iter::repeat_n(0, zeros));
    v
}

impl Dec {
    pub(crate) fn of(n: &Number) -> Dec {
        let s = n.as_str();
        let (neg, mag) = s.strip_prefix('-').map_or((false, s), |m| (true, m));
        let (int, frac) = mag.split_once('.').unwrap_or((mag, ""));
        let digits = trim(int.bytes().chain(frac.bytes()).map(|b| b - b'0').collect());
        Dec {
            neg: neg && !digits.is_empty(),
            digits,
            scale: frac.len(),
        }
    }

    pub(crate) fn to_number(&self) -> Result<Number, ArithError> {
        let mut s = String::new();
        if self.neg && !self.digits.is_empty() {
            s.push('-');
        }
        let mut d: Vec<char> = self.digits.iter().map(|&x| char::from(b'0' + x)).collect();
        while d.len() <= self.scale {
            d.insert(0, '0');
        }
        let point = d.len() - self.scale;
        s.extend(&d[..point]);
        if self.scale > 0 {
            s.push('.');
            s.extend(&d[point..]);
        }
        Number::parse(&s).ok_or(ArithError::Overflow)
    }

    fn rescaled(&self, scale: usize) -> Vec<u8> {
        shift(&self.digits, scale - self.scale)
    }

    pub(crate) fn add(&self, other: &Dec) -> Dec {
        let scale = self.scale.max(other.scale);
        let (a, b) = (self.rescaled(scale), other.rescaled(scale));
        let (neg, digits) = if self.neg == other.neg {
            (self.neg, add_mag(&a, &b))
        } else if cmp_mag(&a, &b) != Ordering::Less {
            (self.neg, sub_mag(&a, &b))
        } else {
            (other.neg, sub_mag(&b, &a))
        };
        Dec { neg, digits, scale }
    }

    pub(crate) fn neg(&self) -> Dec {
        Dec {
            neg: !self.neg && !self.digits.is_empty(),
            ..self.clone()
        }
    }

    pub(crate) fn sub(&self, other: &Dec) -> Dec {
        self.add(&other.neg())
    }

    pub(crate) fn mul(&self, other: &Dec) -> Dec {
        let digits = mul_mag(&self.digits, &other.digits);
        Dec {
            neg: self.neg != other.neg && !digits.is_empty(),
            digits,
            scale: self.scale + other.scale,
        }
    }

    /// numeric's base-10000 weight and leading base-10000 digit (both 0 for zero).
    fn weight_and_first(&self) -> (i64, u32) {
        if self.digits.is_empty() {
            return (0, 0);
        }
        // Exponent of the leading decimal digit, then the group of four it falls in.
        let e = self.digits.len() as i64 - 1 - self.scale as i64;
        let w = e.div_euclid(4);
        // Digits of the group: positions with exponent in [4w, 4w+3].
        let mut first = 0u32;
        for p in (4 * w..4 * w + 4).rev() {
            let idx = self.digits.len() as i64 - 1 - self.scale as i64 - p;
            let d = if idx >= 0 && (idx as usize) < self.digits.len() {
                u32::from(self.digits[idx as usize])
            } else {
                0
            };
            first = first * 10 + d;
        }
        (w, first)
    }

    /// `select_div_scale` then `div_var` rounding to that scale, as numeric's `/` does.
    pub(crate) fn div(&self, other: &Dec) -> Result<Dec, ArithError> {
        if other.digits.is_empty() {
            return Err(ArithError::DivisionByZero);
        }
        let (w1, f1) = self.weight_and_first();
        let (w2, f2) = other.weight_and_first();
        let mut qweight = w1 - w2;
        if f1 <= f2 {
            qweight -= 1;
        }
        let rscale = (16 - qweight * 4)
            .max(self.scale as i64)
            .max(other.scale as i64)
            .clamp(0, 1000) as usize;
        // self / other × 10^rscale, computed on integers, with one extra digit to round on.
        let num_shift = rscale + 1 + other.scale;
        let (num, den) = if num_shift >= self.scale {
            (
                shift(&self.digits, num_shift - self.scale),
                other.digits.clone(),
            )
        } else {
            (
                self.digits.clone(),
                shift(&other.digits, self.scale - num_shift),
            )
        };
        let (q, _) = divmod_mag(&num, &den);
        let (q, last) = divmod_mag(&q, &[1, 0]);
        let q = if last.first().is_some_and(|&d| d >= 5) {
            add_mag(&q, &[1])
        } else {
            q
        };
        Ok(Dec {
            neg: self.neg != other.neg && !q.is_empty(),
            digits: q,
            scale: rscale,
        })
    }

    /// numeric's `%`: `self - trunc(self / other) * other`, the sign of `self`.
    pub(crate) fn rem(&self, other: &Dec) -> Result<Dec, ArithError> {
        if other.digits.is_empty() {
            return Err(ArithError::DivisionByZero);
        }
        let scale = self.scale.max(other.scale);
        let (_, r) = divmod_mag(&self.rescaled(scale), &other.rescaled(scale));
        Ok(Dec {
            neg: self.neg && !r.is_empty(),
            digits: r,
            scale,
        })
    }

    pub(crate) fn abs(&self) -> Dec {
        Dec {
            neg: false,
            ..self.clone()
        }
    }

    /// `floor` (or `ceiling` with `up`): scale 0.
    pub(crate) fn round_to_int(&self, up: bool) -> Dec {
        let (int, frac) = divmod_mag(&self.digits, &shift(&[1], self.scale));
        let away = !frac.is_empty() && (self.neg != up);
        let digits = if away { add_mag(&int, &[1]) } else { int };
        Dec {
            neg: self.neg && !digits.is_empty(),
            digits,
            scale: 0,
        }
    }
}
