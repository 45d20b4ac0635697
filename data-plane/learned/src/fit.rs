//! Streaming optimal piecewise-linear approximation (O'Rourke 1981, as used by the PGM-index).
//!
//! Points `(x, y)` arrive with strictly increasing `x`. [`Pla::add`] keeps the convex hulls of the upper
//! (`y + eps`) and lower (`y - eps`) constraint points and the four corner points of the extreme feasible
//! lines. It answers exactly whether some line passes within `eps` of every point seen so far: all hull
//! arithmetic is on integers (`i128` cross products of `(dx, dy)` differences), so the fit itself has no
//! rounding. Only [`Pla::line`], which picks one line out of the feasible set, uses floating point; the
//! caller checks the rounded model afterwards.

/// A hull point relative to the segment's first point: `x` is `key - first_key` (below `2^63`, see
/// [`Pla::add`]) and `y` the position already shifted by `+eps` or `-eps`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Pt {
    x: i64,
    y: i64,
}

/// Direction `(dx, dy)` between two hull points. Both fit in `i64`, so every product is one widening
/// 64 x 64 -> 128-bit multiply and every comparison is exact.
#[derive(Clone, Copy, Debug)]
struct Slope {
    dx: i64,
    dy: i64,
}

#[inline(always)]
fn mul(a: i64, b: i64) -> i128 {
    i128::from(a) * i128::from(b)
}

impl Slope {
    #[inline(always)]
    fn between(from: Pt, to: Pt) -> Slope {
        Slope {
            dx: to.x - from.x,
            dy: to.y - from.y,
        }
    }

    /// `self < other` as slopes. Both must have `dx` of the same sign (the callers only compare slopes
    /// taken in the same direction), which makes the cross-multiplied comparison exact.
    #[inline(always)]
    fn lt(self, other: Slope) -> bool {
        mul(self.dy, other.dx) < mul(self.dx, other.dy)
    }

    #[inline(always)]
    fn gt(self, other: Slope) -> bool {
        mul(self.dy, other.dx) > mul(self.dx, other.dy)
    }

    fn as_f64(self) -> f64 {
        self.dy as f64 / self.dx as f64
    }
}

/// Cross product of `(a - o) x (b - o)`: positive when `o -> a -> b` turns left.
#[inline(always)]
fn cross(o: Pt, a: Pt, b: Pt) -> i128 {
    let oa = Slope::between(o, a);
    let ob = Slope::between(o, b);
    mul(oa.dx, ob.dy) - mul(oa.dy, ob.dx)
}

/// A line picked from the feasible set: `y(x) = first_y + icpt + slope * (x - first_x)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Line {
    pub slope: f64,
    pub icpt: f64,
}

/// Streaming fit of one segment. Positions `y` must stay below `2^62` (any real slice does).
#[derive(Clone, Debug)]
pub(crate) struct Pla {
    eps: i64,
    upper: Vec<Pt>,
    lower: Vec<Pt>,
    upper_start: usize,
    lower_start: usize,
    /// `rect[0] -> rect[2]` is the feasible line of least slope, `rect[1] -> rect[3]` the steepest.
    rect: [Pt; 4],
    points: usize,
    first_x: u64,
    first_y: u64,
}

impl Pla {
    pub fn new(eps: usize) -> Pla {
        Pla {
            eps: i64::try_from(eps).expect("epsilon fits in i64"),
            upper: Vec::new(),
            lower: Vec::new(),
            upper_start: 0,
            lower_start: 0,
            rect: [Pt::default(); 4],
            points: 0,
            first_x: 0,
            first_y: 0,
        }
    }

    /// Points in the open segment.
    #[inline]
    pub fn points(&self) -> usize {
        self.points
    }

    /// First point of the open segment (meaningful when `points() > 0`).
    #[inline]
    pub fn first(&self) -> (u64, u64) {
        (self.first_x, self.first_y)
    }

    /// Heap size of the hulls.
    pub fn size_in_bytes(&self) -> usize {
        (self.upper.capacity() + self.lower.capacity()) * size_of::<Pt>()
    }

    /// Drops the open segment; the next [`Pla::add`] starts a new one.
    #[inline]
    pub fn reset(&mut self) {
        self.points = 0;
    }

    /// Adds `(x, y)` to the open segment (`x` strictly above the previous point's `x`). Returns `false`,
    /// leaving the segment unchanged, if no line is within `eps` of all its points and `(x, y)`, or if
    /// the segment would span `2^63` keys or more (which keeps all hull arithmetic in `i64` products).
    #[inline]
    pub fn add(&mut self, x: u64, y: u64) -> bool {
        if self.points == 0 {
            self.first_x = x;
            self.first_y = y;
        }
        let Ok(x) = i64::try_from(x - self.first_x) else {
            return false;
        };
        debug_assert!(
            self.points == 0 || x > self.upper[self.upper.len() - 1].x,
            "x must increase"
        );
        let y = y as i64;
        let p1 = Pt { x, y: y + self.eps };
        let p2 = Pt { x, y: y - self.eps };

        if self.points == 0 {
            self.rect[0] = p1;
            self.rect[1] = p2;
            self.upper.clear();
            self.lower.clear();
            self.upper.push(p1);
            self.lower.push(p2);
            self.upper_start = 0;
            self.lower_start = 0;
            self.points = 1;
            return true;
        }
        if self.points == 1 {
            self.rect[2] = p2;
            self.rect[3] = p1;
            self.upper.push(p1);
            self.lower.push(p2);
            self.points = 2;
            return true;
        }

        let slope1 = Slope::between(self.rect[0], self.rect[2]);
        let slope2 = Slope::between(self.rect[1], self.rect[3]);
        let outside_line1 = Slope::between(self.rect[2], p1).lt(slope1);
        let outside_line2 = Slope::between(self.rect[3], p2).gt(slope2);
        if outside_line1 || outside_line2 {
            return false;
        }

        if Slope::between(self.rect[1], p1).lt(slope2) {
            // The steepest line now ends at p1: find where it touches the lower hull.
            let mut min = Slope::between(p1, self.lower[self.lower_start]);
            let mut min_i = self.lower_start;
            for i in self.lower_start + 1..self.lower.len() {
                let val = Slope::between(p1, self.lower[i]);
                if val.gt(min) {
                    break;
                }
                min = val;
                min_i = i;
            }
            self.rect[1] = self.lower[min_i];
            self.rect[3] = p1;
            self.lower_start = min_i;

            let mut end = self.upper.len();
            while end >= self.upper_start + 2
                && cross(self.upper[end - 2], self.upper[end - 1], p1) <= 0
            {
                end -= 1;
            }
            self.upper.truncate(end);
            self.upper.push(p1);
        }

        if Slope::between(self.rect[0], p2).gt(slope1) {
            // The least steep line now ends at p2: find where it touches the upper hull.
            let mut max = Slope::between(p2, self.upper[self.upper_start]);
            let mut max_i = self.upper_start;
            for i in self.upper_start + 1..self.upper.len() {
                let val = Slope::between(p2, self.upper[i]);
                if val.lt(max) {
                    break;
                }
                max = val;
                max_i = i;
            }
            self.rect[0] = self.upper[max_i];
            self.rect[2] = p2;
            self.upper_start = max_i;

            let mut end = self.lower.len();
            while end >= self.lower_start + 2
                && cross(self.lower[end - 2], self.lower[end - 1], p2) >= 0
            {
                end -= 1;
            }
            self.lower.truncate(end);
            self.lower.push(p2);
        }

        self.points += 1;
        true
    }

    /// A line inside the feasible set: the mean of the extreme slopes, through the point where the two
    /// extreme lines cross (every line through that point with a slope between them is feasible). The
    /// slope is never negative, so predictions are monotone in `x`.
    pub fn line(&self) -> Line {
        if self.points <= 1 {
            return Line {
                slope: 0.0,
                icpt: 0.0,
            };
        }
        let [p0, p1, p2, p3] = self.rect;
        let s1 = Slope::between(p0, p2);
        let s2 = Slope::between(p1, p3);
        let a = mul(s1.dx, s2.dy) - mul(s1.dy, s2.dx);
        let x0 = p0.x as f64;
        let y0 = p0.y as f64 - self.first_y as f64;
        let (ix, iy) = if a == 0 {
            (x0, y0)
        } else {
            let p01 = Slope::between(p0, p1);
            let b = mul(p01.dx, s2.dy) - mul(p01.dy, s2.dx);
            let t = b as f64 / a as f64;
            (x0 + t * s1.dx as f64, y0 + t * s1.dy as f64)
        };
        let slope = ((s1.as_f64() + s2.as_f64()) * 0.5).max(0.0);
        Line {
            slope,
            icpt: iy - ix * slope,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fits_within(points: &[(u64, u64)], eps: usize) -> bool {
        let mut pla = Pla::new(eps);
        points.iter().all(|&(x, y)| pla.add(x, y))
    }

    #[test]
    fn collinear_points_form_one_segment() {
        let pts: Vec<(u64, u64)> = (0..1000).map(|i| (i * 7 + 3, i)).collect();
        assert!(fits_within(&pts, 0));
        let mut pla = Pla::new(0);
        for &(x, y) in &pts {
            assert!(pla.add(x, y));
        }
        let l = pla.line();
        for &(x, y) in &pts {
            let p = l.icpt + l.slope * (x - 3) as f64;
            assert!((p - y as f64).abs() < 1e-6, "{p} vs {y}");
        }
    }

    #[test]
    fn a_jump_larger_than_two_eps_breaks() {
        // Flat, then a step of 2*eps+1 one key later: no line within eps of both sides.
        let eps = 4;
        let mut pts: Vec<(u64, u64)> = (0..50).map(|i| (i, 10)).collect();
        pts.push((50, 10 + 2 * eps as u64 + 1));
        assert!(!fits_within(&pts, eps));
        *pts.last_mut().expect("non-empty") = (50, 10 + 2 * eps as u64);
        assert!(fits_within(&pts, eps));
    }

    #[test]
    fn line_is_within_eps_of_random_walk_points() {
        let mut pla = Pla::new(8);
        let mut x = 1u64 << 60;
        let mut pts = Vec::new();
        let mut state = 12345u64;
        for y in 0..100_000u64 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            x += 1 + (state >> 50);
            if !pla.add(x, y) {
                break;
            }
            pts.push((x, y));
        }
        assert!(pts.len() > 10);
        let l = pla.line();
        let (fx, fy) = pla.first();
        for &(x, y) in &pts {
            let p = fy as f64 + l.icpt + l.slope * (x - fx) as f64;
            assert!((p - y as f64).abs() <= 8.0 + 1e-6, "{p} vs {y}");
        }
    }
}
