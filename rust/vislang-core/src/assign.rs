//! Nearest-centre search: the `k` nearest centres of every row.
//!
//! Distances use the expansion `||x||^2 - 2 x.c + ||c||^2`. Rows are processed in fixed blocks of
//! [`ROW_BLOCK`]; for each block the dot products with [`COL_BLOCK`] centres at a time come from a
//! GEMM into a small per-thread tile, which is reduced to the running top-`k` at once, so no
//! `n x n_centers` matrix ever exists. The distances returned for the chosen centres are then
//! recomputed exactly as `sum((x - c)^2)`. Ties go to the lower centre index.

use rayon::prelude::*;

use crate::{Error, MatRef, Result, Scalar};

/// Rows per work item; fixed so that results do not depend on the thread count.
pub const ROW_BLOCK: usize = 256;
/// Centres per GEMM tile.
pub const COL_BLOCK: usize = 512;

/// The `k` nearest centres of each row, nearest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Neighbors<T> {
    /// Centre indices, row-major `n x k`.
    pub indices: Vec<i64>,
    /// Exact squared distances, row-major `n x k`.
    pub sq_distances: Vec<T>,
    /// Neighbours per row.
    pub k: usize,
}

/// Squared norm of every row.
pub fn row_sq_norms<T: Scalar>(m: MatRef<'_, T>) -> Vec<T> {
    let mut out = vec![T::zero(); m.rows()];
    if m.cols() == 0 {
        return out;
    }
    out.par_iter_mut()
        .zip(m.as_slice().par_chunks(m.cols()))
        .for_each(|(o, r)| *o = T::sq_norm(r));
    out
}

/// The `k` nearest rows of `centers` for every row of `x`.
///
/// Checks shapes, `1 <= k <= n_centers` and finiteness of both inputs. An `x` with zero rows
/// gives empty outputs.
pub fn nearest<T: Scalar>(
    x: MatRef<'_, T>,
    centers: MatRef<'_, T>,
    k: usize,
) -> Result<Neighbors<T>> {
    centers.check_non_empty("centers")?;
    if x.cols() != centers.cols() {
        return Err(Error::DimensionMismatch {
            name: "X",
            got: x.cols(),
            expected: centers.cols(),
        });
    }
    if k == 0 || k > centers.rows() {
        return Err(Error::invalid(
            "k",
            format!("must be in [1, n_centers={}], got {k}", centers.rows()),
        ));
    }
    x.check_finite("X")?;
    centers.check_finite("centers")?;
    let cnorm = row_sq_norms(centers);
    let mut out = Neighbors {
        indices: vec![0; x.rows() * k],
        sq_distances: vec![T::zero(); x.rows() * k],
        k,
    };
    nearest_into(
        x,
        centers,
        &cnorm,
        k,
        &mut out.indices,
        &mut out.sq_distances,
    );
    Ok(out)
}

/// Unchecked kernel behind [`nearest`]: writes `n x k` indices and exact squared distances.
pub(crate) fn nearest_into<T: Scalar>(
    x: MatRef<'_, T>,
    centers: MatRef<'_, T>,
    cnorm: &[T],
    k: usize,
    indices: &mut [i64],
    sq_distances: &mut [T],
) {
    indices
        .par_chunks_mut(ROW_BLOCK * k)
        .zip(sq_distances.par_chunks_mut(ROW_BLOCK * k))
        .enumerate()
        .for_each_init(
            || Tile::new(k),
            |tile, (b, (idx, dist))| {
                let start = b * ROW_BLOCK;
                let rows = x.slice_rows(start, start + idx.len() / k);
                tile.block(rows.as_slice(), rows.rows(), centers, cnorm, idx, dist);
            },
        );
}

/// Like [`nearest_into`] for the rows `x[rows[i]]`; outputs are indexed like `rows`.
pub(crate) fn nearest_gathered_into<T: Scalar>(
    x: MatRef<'_, T>,
    rows: &[usize],
    centers: MatRef<'_, T>,
    cnorm: &[T],
    k: usize,
    indices: &mut [i64],
    sq_distances: &mut [T],
) {
    let d = x.cols();
    indices
        .par_chunks_mut(ROW_BLOCK * k)
        .zip(sq_distances.par_chunks_mut(ROW_BLOCK * k))
        .zip(rows.par_chunks(ROW_BLOCK))
        .for_each_init(
            || (Tile::new(k), Vec::<T>::with_capacity(ROW_BLOCK * d)),
            |(tile, buf), ((idx, dist), ids)| {
                buf.clear();
                for &i in ids {
                    buf.extend_from_slice(x.row(i));
                }
                tile.block(buf, ids.len(), centers, cnorm, idx, dist);
            },
        );
}

/// Per-thread scratch: one GEMM tile and the running top-k of a row block.
struct Tile<T> {
    k: usize,
    dots: Vec<T>,
    best_d: Vec<T>,
    best_i: Vec<i64>,
}

impl<T: Scalar> Tile<T> {
    fn new(k: usize) -> Self {
        Self {
            k,
            dots: Vec::new(),
            best_d: Vec::new(),
            best_i: Vec::new(),
        }
    }

    /// Top-k of `m` contiguous rows `xs` against all centres.
    fn block(
        &mut self,
        xs: &[T],
        m: usize,
        centers: MatRef<'_, T>,
        cnorm: &[T],
        idx: &mut [i64],
        dist: &mut [T],
    ) {
        let (k, d, nc) = (self.k, centers.cols(), centers.rows());
        self.best_d.clear();
        self.best_d.resize(m * k, T::infinity());
        self.best_i.clear();
        self.best_i.resize(m * k, -1);
        let two = T::one() + T::one();
        let mut c0 = 0;
        while c0 < nc {
            let c1 = (c0 + COL_BLOCK).min(nc);
            let cb = c1 - c0;
            self.dots.resize(m * cb, T::zero());
            let cblock = &centers.as_slice()[c0 * d..c1 * d];
            T::gemm_nt(m, cb, d, xs, cblock, &mut self.dots[..m * cb]);
            for r in 0..m {
                let row = &mut self.dots[r * cb..(r + 1) * cb];
                // ||c||^2 - 2 x.c: the row's ||x||^2 does not change the ranking.
                for (v, cn) in row.iter_mut().zip(&cnorm[c0..c1]) {
                    *v = *cn - two * *v;
                }
                let bd = &mut self.best_d[r * k..(r + 1) * k];
                let bi = &mut self.best_i[r * k..(r + 1) * k];
                if k == 1 {
                    let (v, j) = argmin_lanes(row);
                    if v < bd[0] {
                        bd[0] = v;
                        bi[0] = (c0 + j) as i64;
                    }
                } else {
                    for (j, &v) in row.iter().enumerate() {
                        if v < bd[k - 1] {
                            insert_sorted(bd, bi, v, (c0 + j) as i64);
                        }
                    }
                }
            }
            c0 = c1;
        }
        // Exact distances for the chosen centres, then re-rank on them (ties: lower index).
        for r in 0..m {
            let x = &xs[r * d..(r + 1) * d];
            let oi = &mut idx[r * k..(r + 1) * k];
            let od = &mut dist[r * k..(r + 1) * k];
            for t in 0..k {
                let j = self.best_i[r * k + t];
                oi[t] = j;
                od[t] = T::sq_dist(x, centers.row(j as usize));
            }
            if k > 1 {
                sort_pairs(od, oi);
            }
        }
    }
}

/// Minimum of a row and its first index, in lanes that the compiler can vectorise.
#[inline]
fn argmin_lanes<T: Scalar>(row: &[T]) -> (T, usize) {
    const L: usize = 16;
    let mut bv = [T::infinity(); L];
    let mut bi = [usize::MAX; L];
    let chunks = row.chunks_exact(L);
    let tail = chunks.remainder();
    for (c, chunk) in chunks.enumerate() {
        for l in 0..L {
            if chunk[l] < bv[l] {
                bv[l] = chunk[l];
                bi[l] = c * L + l;
            }
        }
    }
    let mut best = (T::infinity(), usize::MAX);
    for l in 0..L {
        if bv[l] < best.0 || (bv[l] == best.0 && bi[l] < best.1) {
            best = (bv[l], bi[l]);
        }
    }
    let base = row.len() - tail.len();
    for (t, &v) in tail.iter().enumerate() {
        if v < best.0 {
            best = (v, base + t);
        }
    }
    if best.1 == usize::MAX {
        // Every value is +inf (cannot happen for finite inputs): fall back to the first.
        best = (row.first().copied().unwrap_or(T::infinity()), 0);
    }
    best
}

/// Inserts `(v, j)` into the ascending lists, after equal values, dropping the last entry.
#[inline]
fn insert_sorted<T: Scalar>(bd: &mut [T], bi: &mut [i64], v: T, j: i64) {
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
fn sort_pairs<T: Scalar>(d: &mut [T], i: &mut [i64]) {
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
    fn argmin_lanes_takes_first_minimum() {
        let mut row = vec![5.0f32; 40];
        row[33] = 1.0;
        row[7] = 1.0;
        assert_eq!(argmin_lanes(&row), (1.0, 7));
        let row = vec![2.0f32; 3];
        assert_eq!(argmin_lanes(&row), (2.0, 0));
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
