//! bfloat16 candidate tiles ([`crate::lowp`]) re-checked exactly: `k > 1` here, `k = 1` in
//! `nearest1`.

use std::sync::atomic::Ordering;

use super::select::{insert_sorted, min_lanes, not_above};
use super::tile::Tile;
use super::{Prepared, COL_BLOCK};
use crate::lowp::{self, PackedCenters};
use crate::Scalar;

impl<T: Scalar> Tile<T> {
    /// bfloat16 `||c||^2 - 2 x.c` of the block's rows `r0..r0 + m` with centres `c0..c1` into
    /// `vals` (`m x (c1 - c0)`), the [`lowp::LANES`] lane minima of each row into `lane_min`
    /// (`m x LANES`).
    pub(super) fn tile_values(
        &mut self,
        (r0, m): (usize, usize),
        pc: &PackedCenters,
        c0: usize,
        c1: usize,
    ) {
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

    /// `k > 1` on bfloat16 tiles. Per tile, every centre within the row's slack of an upper
    /// bound of the `k`-th smallest value so far joins the row's pool; before the next tile the
    /// pool gives the `k`-th smallest value and drops the entries above it plus the slack. Each
    /// of the exactly `k` nearest centres is within the slack of the `k`-th smallest
    /// approximation (both sides err by at most half the slack), so re-ranking the final pool
    /// exactly gives the same result as the fp32 path.
    pub(super) fn block_lowp(
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
}

/// Mean exact re-checks per row and centre tile above which bfloat16 candidates cost more than
/// they save (a re-check costs about as much as 1/64 of a tile's bfloat16 dot products).
pub(super) const LOWP_MAX_RECHECKS: usize = 32;

/// Rows per bfloat16 tile: its values (`LOWP_ROWS x COL_BLOCK` floats) stay in L1 until scanned.
pub(super) const LOWP_ROWS: usize = 12;

/// `(first row, first centre)` of the bfloat16 tiles of a block: row groups of [`LOWP_ROWS`],
/// each over all centres in [`COL_BLOCK`] steps.
pub(super) fn lowp_tiles(m: usize, nc: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..m)
        .step_by(LOWP_ROWS)
        .flat_map(move |r0| (0..nc).step_by(COL_BLOCK).map(move |c0| (r0, c0)))
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
