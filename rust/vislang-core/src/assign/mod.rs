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
//!
//! Files by kernel family: `tile` (per-thread scratch, a row block, `k > 1` on fp32 tiles),
//! `nearest1` (`k = 1`), `bf16` (bfloat16 candidate tiles), `select` (top-`k` helpers). Row
//! blocks run through the crate's one chunk driver ([`crate::parallel`]).

use std::sync::atomic::AtomicBool;

mod bf16;
mod nearest1;
mod select;
mod tile;

use crate::lowp::PackedCenters;
use crate::parallel::map_chunks;
use crate::{Error, MatRef, Result, Scalar};
use tile::Tile;

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
    let blocks: Vec<_> = indices
        .chunks_mut(ROW_BLOCK * k)
        .zip(sq_distances.chunks_mut(ROW_BLOCK * k))
        .collect();
    map_chunks(
        blocks,
        false,
        || Tile::new(k),
        |tile, b, (idx, dist)| {
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
    let blocks: Vec<_> = indices
        .chunks_mut(ROW_BLOCK * k)
        .zip(sq_distances.chunks_mut(ROW_BLOCK * k))
        .zip(rows.chunks(ROW_BLOCK))
        .collect();
    map_chunks(
        blocks,
        false,
        || (Tile::new(k), Vec::<T>::with_capacity(ROW_BLOCK * d)),
        |(tile, buf), _, ((idx, dist), ids)| {
            buf.clear();
            for &i in ids {
                buf.extend_from_slice(x.row(i));
            }
            tile.block(buf, ids.len(), &prep, idx, dist);
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
