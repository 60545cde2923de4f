//! `k = 1`: the arg-min of each row, on bfloat16 or fp32 tiles.

use std::sync::atomic::Ordering;

use super::bf16::{lowp_tiles, LOWP_MAX_RECHECKS, LOWP_ROWS};
use super::select::{count_not_above, keep_nearer, min_lanes, not_above};
use super::tile::Tile;
use super::{Prepared, COL_BLOCK};
use crate::lowp;
use crate::Scalar;

impl<T: Scalar> Tile<T> {
    /// `k = 1`: vectorised arg-min per tile, then exact distances for every centre within the
    /// rounding slack of the tile's minimum, so near-ties are decided exactly (lower index wins).
    pub(super) fn block_nearest(
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
