//! Per-cluster sums of rows in `f64`, the update step of k-means.
//!
//! Each cluster is summed over its points in point order (a counting sort by label gives the
//! order), so the sums do not depend on the thread count. The row loop is compiled for each
//! [`crate::isa`] level; it does the same `acc += w * v` (no fused multiply-add) in every
//! variant, so the results are bit-identical across CPUs too.

use rayon::prelude::*;

use crate::isa;
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
    let level = isa::current();
    sums.par_chunks_mut(d.max(1))
        .zip(wsum.par_iter_mut())
        .enumerate()
        .for_each(|(j, (s, ws))| {
            let members = &order[start[j]..start[j + 1]];
            *ws = match weights {
                Some(w) => members.iter().map(|&i| w[i as usize].as_f64()).sum(),
                None => members.len() as f64,
            };
            add_rows_isa(level, s, x, weights, members);
        });
    (sums, wsum)
}

crate::multiversion!(
    fn add_rows_isa[T: Scalar](
        acc: &mut [f64],
        x: MatRef<'_, T>,
        weights: Option<&[T]>,
        rows: &[u32],
    ) = add_rows
);

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::isa::Isa;

    #[test]
    fn every_level_sums_bitwise_alike() {
        let (n, d) = (37, 19);
        let x: Vec<f32> = (0..n * d)
            .map(|i| ((i * 7919) % 1000) as f32 * 0.37 - 150.0)
            .collect();
        let w: Vec<f32> = (0..n).map(|i| 0.5 + (i % 5) as f32 * 0.3).collect();
        let xm = MatRef::new("X", &x, n, d).expect("shape");
        let rows: Vec<u32> = (0..n as u32).rev().collect();
        for weights in [None, Some(&w[..])] {
            let mut want = vec![0.0f64; d];
            add_rows(&mut want, xm, weights, &rows);
            for level in Isa::ALL {
                let mut got = vec![0.0f64; d];
                add_rows_isa(level, &mut got, xm, weights, &rows);
                assert_eq!(got, want, "{level}");
            }
        }
    }
}
