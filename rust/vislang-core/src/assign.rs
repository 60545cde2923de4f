//! Nearest-centre search: the `k` nearest centres of every row.
//!
//! Distances use the expansion `||x||^2 - 2 x.c + ||c||^2`. Rows are processed in fixed blocks of
//! [`ROW_BLOCK`]; for each block the dot products with [`COL_BLOCK`] centres at a time come from a
//! GEMM into a small per-thread tile, which is reduced to the running top-`k` at once, so no
//! `n x n_centers` matrix ever exists. The distances returned for the chosen centres are then
//! recomputed exactly as `sum((x - c)^2)`. Ties go to the lower centre index.
//!
//! With [`Precision::Auto`] on a CPU with AVX-512 BF16, `f32` tiles come from the bfloat16
//! kernel of [`crate::lowp`] instead of the GEMM; its rigorous error bound widens the re-check
//! slack, so the result is identical to [`Precision::Fp32`].

use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;

use crate::lowp::{self, PackedCenters};
use crate::{Error, MatRef, Result, Scalar};

/// Which dot products select the candidates; the result is the same for both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// bfloat16 candidates re-checked exactly when the CPU has AVX-512 BF16 and the data are
    /// `f32` (unless `VISLANG_PRECISION=fp32`); the input precision otherwise.
    #[default]
    Auto,
    /// Always the GEMM in the input precision (fp32 for `f32`).
    Fp32,
}

/// Rows per work item; fixed so that results do not depend on the thread count.
pub const ROW_BLOCK: usize = 256;
/// Centres per GEMM tile.
pub const COL_BLOCK: usize = 1024;

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

/// The `k` nearest rows of `centers` for every row of `x`.
///
/// Checks shapes, `1 <= k <= n_centers` and finiteness of both inputs. An `x` with zero rows
/// gives empty outputs.
pub fn nearest<T: Scalar>(
    x: MatRef<'_, T>,
    centers: MatRef<'_, T>,
    k: usize,
) -> Result<Neighbors<T>> {
    nearest_with(x, centers, k, Precision::Auto)
}

/// [`nearest`] with a choice of candidate [`Precision`] (for A/B comparisons).
pub fn nearest_with<T: Scalar>(
    x: MatRef<'_, T>,
    centers: MatRef<'_, T>,
    k: usize,
    precision: Precision,
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
    let mut out = Neighbors {
        indices: vec![0; x.rows() * k],
        sq_distances: vec![T::zero(); x.rows() * k],
        k,
    };
    nearest_into_with(
        x,
        centers,
        k,
        precision,
        &mut out.indices,
        &mut out.sq_distances,
    );
    Ok(out)
}

/// Centres prepared for the expansion: shifted by `mu`, with squared norms.
///
/// Shifting both sides by a common `mu` (the centres' mean, rounded to a power-of-two grid of
/// the centres' spread) keeps `||x||^2 - 2 x.c + ||c||^2` accurate for data far from the
/// origin, and keeps small-integer data exact.
pub(crate) struct Prepared<'a, T> {
    raw: MatRef<'a, T>,
    mu: Vec<T>,
    shifted: Vec<T>,
    norms: Vec<T>,
    max_norm: T,
    /// bfloat16 copy of `shifted` when that path is used.
    lowp: Option<PackedCenters>,
    /// Set once a block had too many re-checks ([`LOWP_MAX_RECHECKS`]): the bfloat16 bound is
    /// too loose for these data, so blocks starting later use fp32. Either way the result is
    /// the same, so the order in which threads see it does not matter.
    lowp_off: AtomicBool,
}

impl<'a, T: Scalar> Prepared<'a, T> {
    pub(crate) fn new(centers: MatRef<'a, T>, precision: Precision) -> Self {
        let (k, d) = (centers.rows(), centers.cols());
        let mut mu = vec![T::zero(); d];
        for (j, m) in mu.iter_mut().enumerate() {
            let col = (0..k).map(|i| centers.row(i)[j].as_f64());
            let mean = col.clone().sum::<f64>() / k.max(1) as f64;
            let spread = col.fold(0.0f64, |a, v| a.max((v - mean).abs()));
            *m = if spread > 0.0 && spread.is_finite() && mean.is_finite() {
                let q = 2f64.powi(spread.log2().floor() as i32);
                T::from_f64((mean / q).round() * q)
            } else if k > 0 {
                centers.row(0)[j]
            } else {
                T::zero()
            };
        }
        let mut shifted = Vec::with_capacity(k * d);
        for i in 0..k {
            shifted.extend(centers.row(i).iter().zip(&mu).map(|(c, m)| *c - *m));
        }
        let norms: Vec<T> = shifted.chunks(d.max(1)).map(T::sq_norm).take(k).collect();
        let max_norm = norms
            .iter()
            .copied()
            .fold(T::zero(), |a, v| if v > a { v } else { a });
        let lowp = match (
            precision,
            T::as_f32_slice(&shifted),
            T::as_f32_slice(&norms),
        ) {
            (Precision::Auto, Some(s32), Some(n32)) => PackedCenters::new(s32, n32, d),
            _ => None,
        };
        Self {
            raw: centers,
            mu,
            shifted,
            norms,
            max_norm,
            lowp,
            lowp_off: AtomicBool::new(false),
        }
    }
}

/// Unchecked kernel behind [`nearest`]: writes `n x k` indices and exact squared distances.
pub(crate) fn nearest_into<T: Scalar>(
    x: MatRef<'_, T>,
    centers: MatRef<'_, T>,
    k: usize,
    indices: &mut [i64],
    sq_distances: &mut [T],
) {
    nearest_into_with(x, centers, k, Precision::Auto, indices, sq_distances);
}

/// [`nearest_into`] with a choice of candidate [`Precision`].
pub(crate) fn nearest_into_with<T: Scalar>(
    x: MatRef<'_, T>,
    centers: MatRef<'_, T>,
    k: usize,
    precision: Precision,
    indices: &mut [i64],
    sq_distances: &mut [T],
) {
    if x.rows() == 0 {
        return;
    }
    let prep = Prepared::new(centers, precision);
    indices
        .par_chunks_mut(ROW_BLOCK * k)
        .zip(sq_distances.par_chunks_mut(ROW_BLOCK * k))
        .enumerate()
        .for_each_init(
            || Tile::new(k),
            |tile, (b, (idx, dist))| {
                let start = b * ROW_BLOCK;
                let rows = x.slice_rows(start, start + idx.len() / k);
                tile.block(rows.as_slice(), rows.rows(), &prep, idx, dist);
            },
        );
}

/// Like [`nearest_into`] for the rows `x[rows[i]]`; outputs are indexed like `rows`.
pub(crate) fn nearest_gathered_into<T: Scalar>(
    x: MatRef<'_, T>,
    rows: &[usize],
    centers: MatRef<'_, T>,
    k: usize,
    indices: &mut [i64],
    sq_distances: &mut [T],
) {
    let d = x.cols();
    let prep = Prepared::new(centers, Precision::Auto);
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
                tile.block(buf, ids.len(), &prep, idx, dist);
            },
        );
}

/// Extra short-listed centres per row when `k > 1`, re-ranked on exact distances.
const EXTRA: usize = 4;

/// Per-thread scratch: shifted rows, one GEMM tile and the running short-lists of a row block.
struct Tile<T> {
    k: usize,
    shifted: Vec<T>,
    xnorm: Vec<T>,
    dots: Vec<T>,
    best_d: Vec<T>,
    best_i: Vec<i64>,
    /// Per-row rounding slack of the current block.
    slack: Vec<T>,
    /// bfloat16 pairs of the shifted rows when the current block uses that path.
    xpack: Vec<u32>,
    lowp: bool,
    /// bfloat16 tile of `||c||^2 - 2 x.c` and the lane minima of its rows.
    vals: Vec<f32>,
    lane_min: Vec<f32>,
    /// `k > 1` on bfloat16 tiles: per row, every centre so far within the slack of the `k`-th
    /// smallest value, as `(value, index)`.
    pool: Vec<Vec<(f32, i64)>>,
    /// `k > 1` on bfloat16 tiles: per row, the `k`-th smallest value so far.
    kth: Vec<f32>,
}

impl<T: Scalar> Tile<T> {
    fn new(k: usize) -> Self {
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
    fn tile_dots(&mut self, m: usize, prep: &Prepared<'_, T>, c0: usize, c1: usize) {
        let (d, cb) = (prep.raw.cols(), c1 - c0);
        self.dots.resize(m * cb, T::zero());
        let dots = &mut self.dots[..m * cb];
        T::gemm_nt(m, cb, d, &self.shifted, &prep.shifted[c0 * d..c1 * d], dots);
    }

    /// bfloat16 `||c||^2 - 2 x.c` of the block's rows `r0..r0 + m` with centres `c0..c1` into
    /// `vals` (`m x (c1 - c0)`), the [`lowp::LANES`] lane minima of each row into `lane_min`
    /// (`m x LANES`).
    fn tile_values(&mut self, (r0, m): (usize, usize), pc: &PackedCenters, c0: usize, c1: usize) {
        let cb = c1 - c0;
        self.vals.resize(m * cb, 0.0);
        self.lane_min.clear();
        self.lane_min.resize(m * lowp::LANES, f32::INFINITY);
        let vals = &mut self.vals[..m * cb];
        let xp = &self.xpack[r0 * pc.pairs()..];
        pc.values_lane_minima(
            xp,
            m,
            (c0, c1),
            &pc.norms()[c0..c1],
            vals,
            &mut self.lane_min,
        );
    }

    /// The bfloat16 centres when the current block uses them.
    fn lowp_centers<'p>(&self, prep: &'p Prepared<'_, T>) -> Option<&'p PackedCenters> {
        prep.lowp.as_ref().filter(|_| self.lowp)
    }

    /// Bound on the rounding error of one expanded distance of a row with shifted norm `xn`.
    fn slack(d: usize, xn: T, max_norm: T) -> T {
        T::from_f64(4.0 * (d as f64 + 2.0)) * T::epsilon() * (xn + max_norm)
    }

    /// Per-row slack of the `m` rows in `shifted`, and their bfloat16 copy when `prep` has
    /// bfloat16 centres and the rows are in range: then two bfloat16 dot errors (each doubled
    /// in `||c||^2 - 2 x.c`) are added, as both the winner and the minimum may be off. The dot
    /// error bound uses the measured rounding errors of the row and of the centres.
    fn prepare_rows(&mut self, m: usize, prep: &Prepared<'_, T>) {
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
    fn block(
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

    /// `k > 1` on bfloat16 tiles. Per tile, every centre within the row's slack of an upper
    /// bound of the `k`-th smallest value so far joins the row's pool; before the next tile the
    /// pool gives the `k`-th smallest value and drops the entries above it plus the slack. Each
    /// of the exactly `k` nearest centres is within the slack of the `k`-th smallest
    /// approximation (both sides err by at most half the slack), so re-ranking the final pool
    /// exactly gives the same result as the fp32 path.
    fn block_lowp(
        &mut self,
        xs: &[T],
        m: usize,
        prep: &Prepared<'_, T>,
        pc: &PackedCenters,
        idx: &mut [i64],
        dist: &mut [T],
    ) {
        let (d, nc, k) = (prep.raw.cols(), prep.raw.rows(), self.k);
        // The k-th smallest value seen so far per row (+inf until k values were seen).
        self.kth.clear();
        self.kth.resize(m, f32::INFINITY);
        self.pool.resize_with(m.max(self.pool.len()), Vec::new);
        for p in &mut self.pool[..m] {
            p.clear();
        }
        let mut smallest = Vec::with_capacity(k);
        for (r0, c0) in lowp_tiles(m, nc) {
            let (mr, c1) = ((m - r0).min(LOWP_ROWS), (c0 + COL_BLOCK).min(nc));
            let cb = c1 - c0;
            self.tile_values((r0, mr), pc, c0, c1);
            for (r, kth_r) in (r0..r0 + mr).zip(&mut self.kth[r0..r0 + mr]) {
                let row = &self.vals[(r - r0) * cb..(r - r0 + 1) * cb];
                let slack = self.slack[r].as_f64() as f32;
                // An upper bound of the k-th smallest value including this tile: the previous
                // one, or an upper bound from this tile alone.
                let lanes = &self.lane_min[(r - r0) * lowp::LANES..(r - r0 + 1) * lowp::LANES];
                let bound = kth_r.min(kth_upper_bound(row, lanes, k));
                let pool = &mut self.pool[r];
                lowp::for_each_not_above(row, bound + slack, |j| {
                    pool.push((row[j], (c0 + j) as i64));
                });
                // The k smallest values so far are all in the pool: the new k-th smallest,
                // needed only by later tiles (the last pool is re-ranked as it is).
                if c1 < nc && pool.len() >= k {
                    *kth_r = kth_smallest(pool.iter().map(|e| e.0), k, &mut smallest);
                    let thresh = *kth_r + slack;
                    pool.retain(|e| not_above(e.0, thresh));
                }
            }
        }
        let pooled: usize = self.pool[..m].iter().map(Vec::len).sum();
        if pooled > m * (k + nc.div_ceil(COL_BLOCK) * LOWP_MAX_RECHECKS) {
            prep.lowp_off.store(true, Ordering::Relaxed);
        }
        for (r, pool) in self.pool[..m].iter().enumerate() {
            let x = &xs[r * d..(r + 1) * d];
            let (bd, bi) = (&mut dist[r * k..(r + 1) * k], &mut idx[r * k..(r + 1) * k]);
            bd.fill(T::infinity());
            bi.fill(-1);
            // Pool entries are in ascending index order (tiles left to right, scans in
            // order), so inserting after equal distances keeps the lower index first.
            for &(_, j) in pool {
                let e = T::sq_dist(x, prep.raw.row(j as usize));
                if bi[k - 1] < 0 || e < bd[k - 1] {
                    insert_sorted(bd, bi, e, j);
                }
            }
        }
    }

    /// `k = 1`: vectorised arg-min per tile, then exact distances for every centre within the
    /// rounding slack of the tile's minimum, so near-ties are decided exactly (lower index wins).
    fn block_nearest(
        &mut self,
        xs: &[T],
        m: usize,
        prep: &Prepared<'_, T>,
        idx: &mut [i64],
        dist: &mut [T],
    ) {
        let (d, nc) = (prep.raw.cols(), prep.raw.rows());
        self.best_d.clear();
        self.best_d.resize(m, T::infinity());
        self.best_i.clear();
        self.best_i.resize(m, -1);
        if let Some(pc) = self.lowp_centers(prep) {
            let mut rechecks = 0usize;
            for (r0, c0) in lowp_tiles(m, nc) {
                let (mr, c1) = ((m - r0).min(LOWP_ROWS), (c0 + COL_BLOCK).min(nc));
                let cb = c1 - c0;
                self.tile_values((r0, mr), pc, c0, c1);
                for r in r0..r0 + mr {
                    let lanes = &self.lane_min[(r - r0) * lowp::LANES..(r - r0 + 1) * lowp::LANES];
                    // The smallest lane minimum: the row's minimum.
                    let thresh = lowp::kth_lane_minimum(lanes, 1) + self.slack[r].as_f64() as f32;
                    let x = &xs[r * d..(r + 1) * d];
                    let (bd, bi) = (&mut self.best_d[r], &mut self.best_i[r]);
                    let row = &self.vals[(r - r0) * cb..(r - r0 + 1) * cb];
                    lowp::for_each_not_above(row, thresh, |j| {
                        rechecks += 1;
                        keep_nearer(bd, bi, x, prep, c0 + j);
                    });
                }
            }
            if rechecks > m * nc.div_ceil(COL_BLOCK) * LOWP_MAX_RECHECKS {
                prep.lowp_off.store(true, Ordering::Relaxed);
            }
        } else {
            self.block_nearest_fp32(xs, m, prep);
        }
        for r in 0..m {
            // Every row saw at least its tile minimum, so the index is set; guard anyway.
            idx[r] = self.best_i[r].max(0);
            dist[r] = self.best_d[r];
        }
    }

    /// The fp32 tiles of [`Self::block_nearest`].
    fn block_nearest_fp32(&mut self, xs: &[T], m: usize, prep: &Prepared<'_, T>) {
        let (d, nc) = (prep.raw.cols(), prep.raw.rows());
        let two = T::one() + T::one();
        let mut c0 = 0;
        while c0 < nc {
            let c1 = (c0 + COL_BLOCK).min(nc);
            let cb = c1 - c0;
            self.tile_dots(m, prep, c0, c1);
            for r in 0..m {
                let row = &mut self.dots[r * cb..(r + 1) * cb];
                // ||c||^2 - 2 x.c: the row's ||x||^2 does not change the ranking.
                for (v, cn) in row.iter_mut().zip(&prep.norms[c0..c1]) {
                    *v = *cn - two * *v;
                }
                let row = &*row;
                let vmin = min_lanes(row);
                let thresh = vmin + self.slack[r];
                let close = count_not_above(row, thresh);
                let x = &xs[r * d..(r + 1) * d];
                let (bd, bi) = (&mut self.best_d[r], &mut self.best_i[r]);
                let mut consider = |jj: usize| keep_nearer(bd, bi, x, prep, jj);
                if close == 1 {
                    // The usual case: a clear winner in this tile.
                    let jmin = row.iter().position(|&v| v == vmin).unwrap_or(0);
                    consider(c0 + jmin);
                } else {
                    // A near-tie (or NaN from overflow): decide every close centre exactly.
                    for (j, &v) in row.iter().enumerate() {
                        if not_above(v, thresh) {
                            consider(c0 + j);
                        }
                    }
                }
            }
            c0 = c1;
        }
    }
}

/// Mean exact re-checks per row and centre tile above which bfloat16 candidates cost more than
/// they save (a re-check costs about as much as 1/64 of a tile's bfloat16 dot products).
const LOWP_MAX_RECHECKS: usize = 32;

/// Rows per bfloat16 tile: its values (`LOWP_ROWS x COL_BLOCK` floats) stay in L1 until scanned.
const LOWP_ROWS: usize = 12;

/// `(first row, first centre)` of the bfloat16 tiles of a block: row groups of [`LOWP_ROWS`],
/// each over all centres in [`COL_BLOCK`] steps.
fn lowp_tiles(m: usize, nc: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..m)
        .step_by(LOWP_ROWS)
        .flat_map(move |r0| (0..nc).step_by(COL_BLOCK).map(move |c0| (r0, c0)))
}

/// Makes centre `j` the best `(bd, bi)` of row `x` if it is exactly nearer, or as near with a
/// lower index.
#[inline]
fn keep_nearer<T: Scalar>(bd: &mut T, bi: &mut i64, x: &[T], prep: &Prepared<'_, T>, j: usize) {
    let e = T::sq_dist(x, prep.raw.row(j));
    if *bi < 0 || e < *bd || (e == *bd && (j as i64) < *bi) {
        *bd = e;
        *bi = j as i64;
    }
}

/// `!(v > t)`: true when `v <= t` or either is NaN.
#[inline]
fn not_above<T: Scalar>(v: T, t: T) -> bool {
    v.partial_cmp(&t) != Some(std::cmp::Ordering::Greater)
}

/// Smallest non-NaN value of a row (+inf if none), in lanes the compiler vectorises.
#[inline]
fn min_lanes<T: Scalar>(row: &[T]) -> T {
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

/// An upper bound of the `k`-th smallest value of `row` (`+inf` if `row` has fewer than `k`
/// values), from its lane minima `lanes` ([`lowp::kth_lane_minimum`]) when `k` is at most
/// [`lowp::LANES`], otherwise the largest minimum of `k` disjoint chunks.
#[inline]
fn kth_upper_bound(row: &[f32], lanes: &[f32], k: usize) -> f32 {
    if k <= lowp::LANES {
        lowp::kth_lane_minimum(lanes, k)
    } else if row.len() >= k {
        let chunk = row.len() / k;
        (0..k)
            .map(|t| min_lanes(&row[t * chunk..(t + 1) * chunk]))
            .fold(f32::NEG_INFINITY, f32::max)
    } else {
        f32::INFINITY
    }
}

/// The `k`-th smallest non-NaN value of `values` (`+inf` if there are fewer), by insertion
/// into a sorted buffer of `k` (fast for the short lists here).
#[inline]
fn kth_smallest(values: impl Iterator<Item = f32>, k: usize, smallest: &mut Vec<f32>) -> f32 {
    smallest.clear();
    smallest.resize(k, f32::INFINITY);
    for v in values {
        if v < smallest[k - 1] {
            let mut p = k - 1;
            while p > 0 && smallest[p - 1] > v {
                smallest[p] = smallest[p - 1];
                p -= 1;
            }
            smallest[p] = v;
        }
    }
    smallest[k - 1]
}

/// Squared norm summed in 16 lanes (vectorised; only used for rounding bounds).
#[inline]
fn sq_norm_lanes<T: Scalar>(row: &[T]) -> T {
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
fn count_not_above<T: Scalar>(row: &[T], t: T) -> usize {
    row.iter().map(|&v| usize::from(!(v > t))).sum()
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

    fn lcg(s: &mut u64) -> f64 {
        *s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (*s >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Both precisions agree exactly, and with a brute-force scan over exact `sq_dist`.
    fn check_precisions_agree(x: &[f32], c: &[f32], d: usize, k: usize) {
        let (n, nc) = (x.len() / d, c.len() / d);
        let xm = MatRef::new("X", x, n, d).expect("shape");
        let cm = MatRef::new("centers", c, nc, d).expect("shape");
        let auto = nearest_with(xm, cm, k, Precision::Auto).expect("valid");
        let fp32 = nearest_with(xm, cm, k, Precision::Fp32).expect("valid");
        assert_eq!(auto, fp32, "n={n} nc={nc} d={d} k={k}");
        for r in 0..n {
            let mut all: Vec<(f32, i64)> = (0..nc)
                .map(|j| (f32::sq_dist(xm.row(r), cm.row(j)), j as i64))
                .collect();
            all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let want: Vec<i64> = all[..k].iter().map(|e| e.1).collect();
            assert_eq!(&auto.indices[r * k..(r + 1) * k], &want[..], "row {r}");
        }
    }

    #[test]
    fn bf16_candidates_give_the_fp32_result() {
        let mut s = 11u64;
        for (n, nc, d, k) in [
            (300, 70, 128, 1),
            (300, 70, 128, 5),
            (50, 1100, 33, 3),
            (9, 17, 1, 2),
        ] {
            // SIFT-like integers with many exact ties (duplicated rows and centres).
            let mut c: Vec<f32> = (0..nc * d)
                .map(|_| (lcg(&mut s) * 6.0).floor() as f32)
                .collect();
            c.copy_within(0..d, d);
            let mut x: Vec<f32> = (0..n * d)
                .map(|_| (lcg(&mut s) * 6.0).floor() as f32)
                .collect();
            x[..d].copy_from_slice(&c[..d]);
            check_precisions_agree(&x, &c, d, k);
            // Gaussian-ish data far from the origin.
            let far = |s: &mut u64| (1e4 + (lcg(s) - 0.5)) as f32;
            let c: Vec<f32> = (0..nc * d).map(|_| far(&mut s)).collect();
            let x: Vec<f32> = (0..n * d).map(|_| far(&mut s)).collect();
            check_precisions_agree(&x, &c, d, k);
        }
    }

    #[test]
    fn short_lists_give_the_fp32_result_for_every_k() {
        // Clustered rows (SIFT-like integers, and their square roots as in RootSIFT: inexact
        // in bfloat16) and centres that are noisy means (inexact too); 1100 centres make two
        // tiles, the last ending inside a 16-centre group. k = 17 and 20 exceed the 16 lane
        // minima (chunk bound); 7 centres fewer than the lanes.
        let mut s = 5u64;
        for (n, nc, d) in [(300, 1100, 40), (270, 300, 128), (40, 7, 33)] {
            let n_modes = 20;
            let modes: Vec<f64> = (0..n_modes * d)
                .map(|_| lcg(&mut s).powi(3) * 200.0)
                .collect();
            let draw = |count: usize, noise: f64, s: &mut u64| -> Vec<f32> {
                let mut out = Vec::with_capacity(count * d);
                for _ in 0..count {
                    let mo = (lcg(s) * n_modes as f64) as usize % n_modes;
                    for j in 0..d {
                        let v = modes[mo * d + j] + (lcg(s) - 0.5) * noise;
                        out.push(v.round().clamp(0.0, 255.0) as f32);
                    }
                }
                out
            };
            let mut x = draw(n, 40.0, &mut s);
            let mut c: Vec<f32> = draw(nc, 40.0, &mut s)
                .iter()
                .map(|v| v + (lcg(&mut s) - 0.5) as f32 * 0.37)
                .collect();
            c.copy_within(0..d, (nc - 1) * d); // a duplicated centre
            x[..d].copy_from_slice(&c[..d]); // a row on a centre
            for k in [1, 2, 3, 5, 8, 16, 17, 20].into_iter().filter(|&k| k <= nc) {
                check_precisions_agree(&x, &c, d, k);
            }
            let root: Vec<f32> = x.iter().map(|v| v.abs().sqrt()).collect();
            let croot: Vec<f32> = c.iter().map(|v| v.abs().sqrt()).collect();
            for k in [1, 5, 8].into_iter().filter(|&k| k <= nc) {
                check_precisions_agree(&root, &croot, d, k);
            }
        }
    }

    #[test]
    fn loose_bounds_fall_back_and_agree() {
        // Centres spread in the first 8 features only, rows large in the others: the bfloat16
        // bound (relative to |x| |c|) covers most centres, so blocks fall back to fp32.
        let mut s = 3u64;
        let (n, nc, d) = (700, 300, 16);
        let mut c = vec![0.0f32; nc * d];
        let mut x = vec![0.0f32; n * d];
        for (i, v) in c.iter_mut().enumerate() {
            *v = if i % d < 8 {
                (lcg(&mut s) - 0.5) as f32
            } else {
                0.0
            };
        }
        for (i, v) in x.iter_mut().enumerate() {
            let u = (lcg(&mut s) - 0.5) as f32;
            *v = if i % d < 8 { u } else { 500.0 * u };
        }
        for k in [1, 3] {
            check_precisions_agree(&x, &c, d, k);
        }
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
