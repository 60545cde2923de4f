//! Per-thread scratch of the nearest-centre search and one row block; `k > 1` on fp32 tiles.

use std::sync::atomic::Ordering;

use super::select::{insert_sorted, not_above, sort_pairs, sq_norm_lanes};
use super::{Prepared, COL_BLOCK};
use crate::lowp::{self, PackedCenters};
use crate::Scalar;

/// Extra short-listed centres per row when `k > 1`, re-ranked on exact distances.
const EXTRA: usize = 4;

/// Per-thread scratch: shifted rows, one GEMM tile and the running short-lists of a row block.
pub(super) struct Tile<T> {
    pub(super) k: usize,
    pub(super) shifted: Vec<T>,
    pub(super) xnorm: Vec<T>,
    pub(super) dots: Vec<T>,
    pub(super) best_d: Vec<T>,
    pub(super) best_i: Vec<i64>,
    /// Per-row rounding slack of the current block.
    pub(super) slack: Vec<T>,
    /// bfloat16 pairs of the shifted rows when the current block uses that path.
    pub(super) xpack: Vec<u32>,
    pub(super) lowp: bool,
    /// bfloat16 tile of `||c||^2 - 2 x.c` and the lane minima of its rows.
    pub(super) vals: Vec<f32>,
    pub(super) lane_min: Vec<f32>,
    /// `k > 1` on bfloat16 tiles: per row, every centre so far within the slack of the `k`-th
    /// smallest value, as `(value, index)`.
    pub(super) pool: Vec<Vec<(f32, i64)>>,
    /// `k > 1` on bfloat16 tiles: per row, the `k`-th smallest value so far.
    pub(super) kth: Vec<f32>,
}

impl<T: Scalar> Tile<T> {
    pub(super) fn new(k: usize) -> Self {
        Self {
            k,
            shifted: Vec::new(),
            xnorm: Vec::new(),
            dots: Vec::new(),
            best_d: Vec::new(),
            best_i: Vec::new(),
            slack: Vec::new(),
            xpack: Vec::new(),
            lowp: false,
            vals: Vec::new(),
            lane_min: Vec::new(),
            pool: Vec::new(),
            kth: Vec::new(),
        }
    }

    /// Dot products of the `m` shifted rows with the shifted centres `c0..c1`, into `dots`
    /// (`m x (c1 - c0)`). Callers turn them into `||c||^2 - 2 x.c` row by row, while the row is
    /// still in cache.
    pub(super) fn tile_dots(&mut self, m: usize, prep: &Prepared<'_, T>, c0: usize, c1: usize) {
        let (d, cb) = (prep.raw.cols(), c1 - c0);
        self.dots.resize(m * cb, T::zero());
        let dots = &mut self.dots[..m * cb];
        T::gemm_nt(m, cb, d, &self.shifted, &prep.shifted[c0 * d..c1 * d], dots);
    }

    /// The bfloat16 centres when the current block uses them.
    pub(super) fn lowp_centers<'p>(&self, prep: &'p Prepared<'_, T>) -> Option<&'p PackedCenters> {
        prep.lowp.as_ref().filter(|_| self.lowp)
    }

    /// Bound on the rounding error of one expanded distance of a row with shifted norm `xn`.
    pub(super) fn slack(d: usize, xn: T, max_norm: T) -> T {
        T::from_f64(4.0 * (d as f64 + 2.0)) * T::epsilon() * (xn + max_norm)
    }

    /// Per-row slack of the `m` rows in `shifted`, and their bfloat16 copy when `prep` has
    /// bfloat16 centres and the rows are in range: then two bfloat16 dot errors (each doubled
    /// in `||c||^2 - 2 x.c`) are added, as both the winner and the minimum may be off. The dot
    /// error bound uses the measured rounding errors of the row and of the centres.
    pub(super) fn prepare_rows(&mut self, m: usize, prep: &Prepared<'_, T>) {
        let d = prep.raw.cols();
        self.lowp = !prep.lowp_off.load(Ordering::Relaxed)
            && prep.lowp.is_some()
            && self.xnorm[..m]
                .iter()
                .all(|v| v.as_f64() < lowp::MAX_SQ_NORM);
        self.slack.clear();
        for &xn in &self.xnorm[..m] {
            self.slack.push(Self::slack(d, xn, prep.max_norm));
        }
        if !self.lowp {
            return;
        }
        let (Some(pc), Some(s32)) = (prep.lowp.as_ref(), T::as_f32_slice(&self.shifted)) else {
            self.lowp = false;
            return;
        };
        let centers = pc.norm_and_error();
        self.xpack.clear();
        for (r, row) in s32.chunks_exact(d).take(m).enumerate() {
            let x_err = lowp::push_pairs_measured(row, &mut self.xpack);
            let x_norm = lowp::norm_from_f32_sq_norm(self.xnorm[r].as_f64(), d);
            let bound = lowp::dot_error_bound_measured(d, (x_norm, x_err), centers);
            self.slack[r] = self.slack[r] + T::from_f64(4.0 * bound);
        }
    }

    /// The `k` nearest centres of `m` contiguous raw rows `xs`.
    pub(super) fn block(
        &mut self,
        xs: &[T],
        m: usize,
        prep: &Prepared<'_, T>,
        idx: &mut [i64],
        dist: &mut [T],
    ) {
        let (d, nc) = (prep.raw.cols(), prep.raw.rows());
        self.shifted.clear();
        self.shifted.extend_from_slice(&xs[..m * d]);
        self.xnorm.clear();
        for row in self.shifted.chunks_exact_mut(d.max(1)).take(m) {
            for (v, mu) in row.iter_mut().zip(&prep.mu) {
                *v = *v - *mu;
            }
            self.xnorm.push(sq_norm_lanes(row));
        }
        self.prepare_rows(m, prep);
        if self.k == 1 {
            self.block_nearest(xs, m, prep, idx, dist);
            return;
        }
        if let Some(pc) = self.lowp_centers(prep) {
            self.block_lowp(xs, m, prep, pc, idx, dist);
            return;
        }
        let kk = (self.k + EXTRA).min(nc);
        self.best_d.clear();
        self.best_d.resize(m * kk, T::infinity());
        self.best_i.clear();
        self.best_i.resize(m * kk, -1);
        let two = T::one() + T::one();
        let mut c0 = 0;
        while c0 < nc {
            let c1 = (c0 + COL_BLOCK).min(nc);
            let cb = c1 - c0;
            self.tile_dots(m, prep, c0, c1);
            for r in 0..m {
                let row = &self.dots[r * cb..(r + 1) * cb];
                let bd = &mut self.best_d[r * kk..(r + 1) * kk];
                let bi = &mut self.best_i[r * kk..(r + 1) * kk];
                for (j, (&dot, &cn)) in row.iter().zip(&prep.norms[c0..c1]).enumerate() {
                    let v = cn - two * dot;
                    if v < bd[kk - 1] {
                        insert_sorted(bd, bi, v, (c0 + j) as i64);
                    }
                }
            }
            c0 = c1;
        }
        let k = self.k;
        let mut cand_d: Vec<T> = Vec::with_capacity(nc);
        let mut cand_i: Vec<i64> = Vec::with_capacity(nc);
        for r in 0..m {
            let x = &xs[r * d..(r + 1) * d];
            let bd = &self.best_d[r * kk..(r + 1) * kk];
            let bi = &self.best_i[r * kk..(r + 1) * kk];
            cand_d.clear();
            cand_i.clear();
            // If the short-list may have cut a near-tie (its last entry is within rounding of the
            // k-th), or rounding produced non-finite values, rank every centre exactly.
            let thresh = bd[k - 1] + self.slack[r];
            let exhaustive = bi.contains(&-1) || (kk < nc && not_above(bd[kk - 1], thresh));
            if exhaustive {
                for j in 0..nc {
                    cand_i.push(j as i64);
                    cand_d.push(T::sq_dist(x, prep.raw.row(j)));
                }
            } else {
                for &j in bi {
                    cand_i.push(j);
                    cand_d.push(T::sq_dist(x, prep.raw.row(j as usize)));
                }
            }
            sort_pairs(&mut cand_d, &mut cand_i);
            idx[r * k..(r + 1) * k].copy_from_slice(&cand_i[..k]);
            dist[r * k..(r + 1) * k].copy_from_slice(&cand_d[..k]);
        }
    }
}
