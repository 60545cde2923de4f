//! Short-list helpers of the nearest-centre search: minima, counts, sorted inserts.

use super::Prepared;
use crate::Scalar;

/// Makes centre `j` the best `(bd, bi)` of row `x` if it is exactly nearer, or as near with a
/// lower index.
#[inline]
pub(super) fn keep_nearer<T: Scalar>(
    bd: &mut T,
    bi: &mut i64,
    x: &[T],
    prep: &Prepared<'_, T>,
    j: usize,
) {
    let e = T::sq_dist(x, prep.raw.row(j));
    if *bi < 0 || e < *bd || (e == *bd && (j as i64) < *bi) {
        *bd = e;
        *bi = j as i64;
    }
}

/// `!(v > t)`: true when `v <= t` or either is NaN.
#[inline]
pub(super) fn not_above<T: Scalar>(v: T, t: T) -> bool {
    v.partial_cmp(&t) != Some(std::cmp::Ordering::Greater)
}

/// Smallest non-NaN value of a row (+inf if none), in lanes the compiler vectorises.
#[inline]
pub(super) fn min_lanes<T: Scalar>(row: &[T]) -> T {
    const L: usize = 16;
    let mut b = [T::infinity(); L];
    let chunks = row.chunks_exact(L);
    let tail = chunks.remainder();
    for chunk in chunks {
        for l in 0..L {
            b[l] = b[l].min(chunk[l]);
        }
    }
    let m = tail.iter().fold(T::infinity(), |a, &v| a.min(v));
    b.iter().fold(m, |a, &v| a.min(v))
}

/// Squared norm summed in 16 lanes (vectorised; only used for rounding bounds).
#[inline]
pub(super) fn sq_norm_lanes<T: Scalar>(row: &[T]) -> T {
    const L: usize = 16;
    let mut b = [T::zero(); L];
    let chunks = row.chunks_exact(L);
    let tail = chunks.remainder();
    for chunk in chunks {
        for l in 0..L {
            b[l] = b[l] + chunk[l] * chunk[l];
        }
    }
    let t = tail.iter().fold(T::zero(), |a, &v| a + v * v);
    b.iter().fold(t, |a, &v| a + v)
}

/// How many entries are `<= t` or NaN (NaN must be re-checked exactly).
#[inline]
#[allow(clippy::neg_cmp_op_on_partial_ord)] // `!(v > t)` is meant: it admits NaN
pub(super) fn count_not_above<T: Scalar>(row: &[T], t: T) -> usize {
    row.iter().map(|&v| usize::from(!(v > t))).sum()
}

/// Inserts `(v, j)` into the ascending lists, after equal values, dropping the last entry.
#[inline]
pub(super) fn insert_sorted<T: Scalar>(bd: &mut [T], bi: &mut [i64], v: T, j: i64) {
    let k = bd.len();
    let mut p = k - 1;
    while p > 0 && bd[p - 1] > v {
        bd[p] = bd[p - 1];
        bi[p] = bi[p - 1];
        p -= 1;
    }
    bd[p] = v;
    bi[p] = j;
}

/// Sorts short `(distance, index)` lists by distance, then index.
pub(super) fn sort_pairs<T: Scalar>(d: &mut [T], i: &mut [i64]) {
    for a in 1..d.len() {
        let mut b = a;
        while b > 0 && (d[b - 1] > d[b] || (d[b - 1] == d[b] && i[b - 1] > i[b])) {
            d.swap(b - 1, b);
            i.swap(b - 1, b);
            b -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_and_count_helpers() {
        let mut row = vec![5.0f32; 40];
        row[33] = 1.0;
        row[7] = 1.0;
        assert_eq!(min_lanes(&row), 1.0);
        assert_eq!(count_not_above(&row, 1.0), 2);
        row[39] = f32::NAN;
        assert_eq!(count_not_above(&row, 1.0), 3);
        assert_eq!(min_lanes(&[3.0f32]), 3.0);
        assert_eq!(min_lanes(&[f32::NAN, f32::NAN]), f32::INFINITY);
    }

    #[test]
    fn insert_sorted_keeps_order_and_ties_stable() {
        let mut d = [f32::INFINITY; 3];
        let mut i = [-1i64; 3];
        for (v, j) in [(3.0, 0), (1.0, 1), (3.0, 2), (1.0, 3)] {
            if v < d[2] {
                insert_sorted(&mut d, &mut i, v, j);
            }
        }
        assert_eq!(d, [1.0, 1.0, 3.0]);
        assert_eq!(i, [1, 3, 0]);
    }
}
