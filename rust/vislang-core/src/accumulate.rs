//! Per-cluster sums of rows in `f64`, the update step of k-means.
//!
//! Each cluster is summed over its points in point order (a counting sort by label gives the
//! order), so the sums do not depend on the thread count. The row loop is compiled for AVX-512 or
//! AVX2 when the CPU has them; it does the same `acc += w * v` (no fused multiply-add) in every
//! variant, so the results are bit-identical across CPUs too.

use rayon::prelude::*;

use crate::scalar::{isa, Isa};
use crate::{MatRef, Scalar};

/// Weighted sums per cluster (`k x d`, row-major) and the total weight of each cluster.
pub(crate) fn cluster_sums<T: Scalar>(
    x: MatRef<'_, T>,
    weights: Option<&[T]>,
    labels: &[i64],
    k: usize,
) -> (Vec<f64>, Vec<f64>) {
    let d = x.cols();
    let mut start = vec![0usize; k + 1];
    for &l in labels {
        start[l as usize + 1] += 1;
    }
    for j in 0..k {
        start[j + 1] += start[j];
    }
    let mut fill = start.clone();
    let mut order = vec![0u32; labels.len()];
    for (i, &l) in labels.iter().enumerate() {
        order[fill[l as usize]] = i as u32;
        fill[l as usize] += 1;
    }
    let mut sums = vec![0.0f64; k * d];
    let mut wsum = vec![0.0f64; k];
    let add = pick::<T>();
    sums.par_chunks_mut(d.max(1))
        .zip(wsum.par_iter_mut())
        .enumerate()
        .for_each(|(j, (s, ws))| {
            let members = &order[start[j]..start[j + 1]];
            *ws = match weights {
                Some(w) => members.iter().map(|&i| w[i as usize].as_f64()).sum(),
                None => members.len() as f64,
            };
            add(s, x, weights, members);
        });
    (sums, wsum)
}

type AddRowsFn<T> = fn(&mut [f64], MatRef<'_, T>, Option<&[T]>, &[u32]);

fn pick<T: Scalar>() -> AddRowsFn<T> {
    match isa() {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => |acc, x, w, rows| {
            // SAFETY: `isa()` detected AVX-512F on this CPU.
            unsafe { add_rows_avx512(acc, x, w, rows) }
        },
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => |acc, x, w, rows| {
            // SAFETY: `isa()` detected AVX2 on this CPU.
            unsafe { add_rows_avx2(acc, x, w, rows) }
        },
        _ => add_rows::<T>,
    }
}

/// `acc += w_i * x_i` over `rows` in order (`w_i = 1` without weights, which is exact).
#[inline(always)]
fn add_rows<T: Scalar>(acc: &mut [f64], x: MatRef<'_, T>, weights: Option<&[T]>, rows: &[u32]) {
    for (t, &i) in rows.iter().enumerate() {
        if let Some(&next) = rows.get(t + PREFETCH_AHEAD) {
            prefetch_row(x.row(next as usize));
        }
        let row = x.row(i as usize);
        match weights {
            Some(w) => {
                let wi = w[i as usize].as_f64();
                for (a, v) in acc.iter_mut().zip(row) {
                    *a += wi * v.as_f64();
                }
            }
            None => {
                for (a, v) in acc.iter_mut().zip(row) {
                    *a += v.as_f64();
                }
            }
        }
    }
}

/// Rows are visited in cluster order, not memory order: fetch a later row ahead of use.
const PREFETCH_AHEAD: usize = 4;

#[inline(always)]
fn prefetch_row<T>(row: &[T]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let bytes = std::mem::size_of_val(row);
        let base = row.as_ptr().cast::<i8>();
        for offset in (0..bytes).step_by(64) {
            // SAFETY: the address lies inside `row`; a prefetch never faults.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(base.add(offset)) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = row;
}

/// [`add_rows`] compiled for AVX-512F.
///
/// # Safety
/// The CPU must support AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn add_rows_avx512<T: Scalar>(
    acc: &mut [f64],
    x: MatRef<'_, T>,
    weights: Option<&[T]>,
    rows: &[u32],
) {
    add_rows(acc, x, weights, rows);
}

/// [`add_rows`] compiled for AVX2.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn add_rows_avx2<T: Scalar>(
    acc: &mut [f64],
    x: MatRef<'_, T>,
    weights: Option<&[T]>,
    rows: &[u32],
) {
    add_rows(acc, x, weights, rows);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plain per-cluster loop in point order: the reference.
    fn reference(x: &[f32], d: usize, w: Option<&[f32]>, labels: &[i64], k: usize) -> Vec<f64> {
        let mut sums = vec![0.0f64; k * d];
        for (i, &l) in labels.iter().enumerate() {
            let wi = w.map_or(1.0, |w| f64::from(w[i]));
            for c in 0..d {
                sums[l as usize * d + c] += wi * f64::from(x[i * d + c]);
            }
        }
        sums
    }

    #[test]
    fn sums_match_the_point_order_reference_bit_for_bit() {
        let (n, d, k) = (1000, 37, 13);
        let mut s = 7u64;
        let mut next = || {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1);
            (s >> 33) as f32 / (1u64 << 31) as f32 * 2.0 - 1.0
        };
        let x: Vec<f32> = (0..n * d).map(|_| next() * 1e3).collect();
        let w: Vec<f32> = (0..n).map(|_| next().abs()).collect();
        let labels: Vec<i64> = (0..n).map(|i| ((i * 7919) % k) as i64).collect();
        let m = MatRef::new("x", &x, n, d).unwrap();
        for weights in [None, Some(w.as_slice())] {
            let (sums, wsum) = cluster_sums(m, weights, &labels, k);
            let want = reference(&x, d, weights, &labels, k);
            assert!(sums
                .iter()
                .zip(&want)
                .all(|(a, b)| a.to_bits() == b.to_bits()));
            let total: f64 = wsum.iter().sum();
            let expect: f64 = weights.map_or(n as f64, |w| w.iter().map(|&v| f64::from(v)).sum());
            assert!((total - expect).abs() <= 1e-9 * expect);
            let portable = {
                let mut acc = vec![0.0f64; d];
                let rows: Vec<u32> = (0..n as u32).filter(|&i| labels[i as usize] == 3).collect();
                add_rows(&mut acc, m, weights, &rows);
                acc
            };
            assert_eq!(portable, sums[3 * d..4 * d].to_vec());
        }
    }
}
