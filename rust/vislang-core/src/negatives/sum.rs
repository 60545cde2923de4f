//! Sum of hinges over every negative (VSE: Kiros et al. 2014, Eq. 1; DeViSE, Frome et al.
//! 2013, Eq. 1).

use super::pairs::Pairs;
use super::{
    alloc_grad, first_bad_row, is_finite_row, single_thresholds, LossGrad, RankingParams,
    SingleChunk, CHUNK_ROWS, NONE,
};
use crate::isa::Isa;
use crate::parallel::map_chunks_mut;
use crate::{Error, MatRef, Result, Scalar};

/// One stretch of a row without positives: hinges against the row threshold `thr` and the
/// column thresholds; the loss goes into the per-column sums `col_loss`, gradient counts into
/// `g`, column counts into `col_acc`. Returns the number of active row hinges.
///
/// Element-wise apart from an integer count, so the compiler turns it into SIMD selects (a
/// floating-point sum along the row would not vectorise without reassociation).
#[inline(always)]
fn hinge_segment<T: Scalar>(
    s: &[T],
    g: &mut [T],
    col_thr: &[T],
    col_acc: &mut [T],
    col_loss: &mut [T],
    thr: T,
) -> u32 {
    let (zero, one) = (T::zero(), T::one());
    let mut cnt = 0u32;
    for ((((v, g), t), acc), lc) in s
        .iter()
        .zip(g.iter_mut())
        .zip(col_thr)
        .zip(col_acc.iter_mut())
        .zip(col_loss.iter_mut())
    {
        let a = thr + *v;
        let b = *t + *v;
        let pa = a > zero;
        let pb = b > zero;
        *lc = *lc + ((if pa { a } else { zero }) + (if pb { b } else { zero }));
        let ia = if pa { one } else { zero };
        let ib = if pb { one } else { zero };
        cnt += u32::from(pa);
        *acc = *acc + ib;
        *g = ia + ib;
    }
    cnt
}

/// One chunk of [`sum_single`]: (loss, column counts, first non-finite row).
#[inline(always)]
fn sum_single_chunk<T: Scalar>(
    c: &SingleChunk<'_, '_, T>,
    g_chunk: &mut [T],
) -> (f64, Vec<T>, Option<usize>) {
    let cols = c.scores.cols();
    let col_thr = c.col_thr;
    let mut col_acc = vec![T::zero(); cols];
    let mut col_loss = vec![T::zero(); cols];
    let mut bad = None;
    for (r, g) in g_chunk.chunks_mut(cols).enumerate() {
        let i = c.first_row + r;
        let s = c.scores.row(i);
        if !is_finite_row(s) {
            bad = Some(i);
            break;
        }
        let p = c.pairs.row_single(i);
        let thr = c.row_thr[i];
        if p == NONE {
            hinge_segment(s, g, col_thr, &mut col_acc, &mut col_loss, thr);
        } else {
            let n1 = hinge_segment(
                &s[..p],
                &mut g[..p],
                &col_thr[..p],
                &mut col_acc[..p],
                &mut col_loss[..p],
                thr,
            );
            let n2 = hinge_segment(
                &s[p + 1..],
                &mut g[p + 1..],
                &col_thr[p + 1..],
                &mut col_acc[p + 1..],
                &mut col_loss[p + 1..],
                thr,
            );
            g[p] = T::zero() - T::from_f64(f64::from(n1 + n2));
        }
    }
    let loss = col_loss.iter().map(|v| v.as_f64()).sum();
    (loss, col_acc, bad)
}

crate::multiversion!(
    fn sum_single_chunk_isa[T: Scalar](
        c: &SingleChunk<'_, '_, T>,
        g_chunk: &mut [T],
    ) -> (f64, Vec<T>, Option<usize>) = sum_single_chunk
);

/// Sum of hinges, at most one positive per row and column (the B x B diagonal case).
pub(super) fn sum_single<T: Scalar>(
    scores: MatRef<'_, T>,
    pairs: &Pairs<'_>,
    params: &RankingParams,
    isa: Isa,
) -> Result<LossGrad<T>> {
    let (rows, cols) = (scores.rows(), scores.cols());
    let (row_thr, col_thr) = single_thresholds(scores, pairs, params);
    let mut grad = alloc_grad::<T>(rows * cols);
    let partials: Vec<(f64, Vec<T>, Option<usize>)> =
        map_chunks_mut(&mut grad, CHUNK_ROWS * cols, pairs.inline, |c, g_chunk| {
            let chunk = SingleChunk {
                scores,
                pairs,
                row_thr: &row_thr,
                col_thr: &col_thr,
                first_row: c * CHUNK_ROWS,
            };
            sum_single_chunk_isa(isa, &chunk, g_chunk)
        });
    first_bad_row(partials.iter().map(|p| p.2))?;
    let mut loss = 0.0;
    let mut col_cnt = vec![T::zero(); cols];
    for (l, acc, _) in &partials {
        loss += l;
        for (t, a) in col_cnt.iter_mut().zip(acc) {
            *t = *t + *a;
        }
    }
    for (j, cnt) in col_cnt.iter().enumerate() {
        let q = pairs.col_single(j);
        if q != NONE {
            let k = q * cols + j;
            grad[k] = grad[k] - *cnt;
        }
    }
    Ok(LossGrad { loss, grad })
}

/// Column thresholds `margin - S[q, j]` for every column positive, in column-CSR order.
fn col_thresholds<T: Scalar>(scores: MatRef<'_, T>, pairs: &Pairs<'_>, margin: T) -> Vec<T> {
    let cols = scores.cols();
    let s = scores.as_slice();
    let mut out = Vec::with_capacity(pairs.col_idx.len());
    for j in 0..cols {
        out.extend(pairs.col(j).iter().map(|&q| margin - s[q * cols + j]));
    }
    out
}

/// Sum of hinges with an arbitrary mask (several captions per image).
pub(super) fn sum_general<T: Scalar>(
    scores: MatRef<'_, T>,
    pairs: &Pairs<'_>,
    params: &RankingParams,
) -> Result<LossGrad<T>> {
    let (rows, cols) = (scores.rows(), scores.cols());
    let Some(mask) = pairs.mask else {
        return Err(Error::invalid("positives", "a general mask is required"));
    };
    let margin = T::from_f64(params.margin);
    let (by_row, by_col) = (params.direction.rows(), params.direction.cols());
    let col_thr = col_thresholds(scores, pairs, margin);
    let nnz = pairs.col_idx.len();
    let mut grad = vec![T::zero(); rows * cols];
    let partials: Vec<(f64, Vec<u64>, Option<usize>)> =
        map_chunks_mut(&mut grad, CHUNK_ROWS * cols, pairs.inline, |c, g_chunk| {
            let mut loss = 0.0;
            let mut col_cnt = vec![0u64; if by_col { nnz } else { 0 }];
            let mut row_thr: Vec<T> = Vec::new();
            let mut row_cnt: Vec<u64> = Vec::new();
            for (r, g) in g_chunk.chunks_mut(cols).enumerate() {
                let i = c * CHUNK_ROWS + r;
                let s = scores.row(i);
                if !is_finite_row(s) {
                    return (loss, col_cnt, Some(i));
                }
                let m = &mask[i * cols..(i + 1) * cols];
                let pos = pairs.row(i);
                row_thr.clear();
                if by_row {
                    row_thr.extend(pos.iter().map(|&p| margin - s[p]));
                }
                row_cnt.clear();
                row_cnt.resize(row_thr.len(), 0);
                for j in 0..cols {
                    if m[j] {
                        continue;
                    }
                    let v = s[j];
                    let mut gj = 0u64;
                    for (t, n) in row_thr.iter().zip(row_cnt.iter_mut()) {
                        let a = *t + v;
                        if a > T::zero() {
                            loss += a.as_f64();
                            gj += 1;
                            *n += 1;
                        }
                    }
                    if by_col {
                        let (lo, hi) = (pairs.col_ptr[j], pairs.col_ptr[j + 1]);
                        for (t, n) in col_thr[lo..hi].iter().zip(&mut col_cnt[lo..hi]) {
                            let b = *t + v;
                            if b > T::zero() {
                                loss += b.as_f64();
                                gj += 1;
                                *n += 1;
                            }
                        }
                    }
                    g[j] = T::from_f64(gj as f64);
                }
                for (&p, n) in pos.iter().zip(&row_cnt) {
                    g[p] = T::zero() - T::from_f64(*n as f64);
                }
            }
            (loss, col_cnt, None)
        });
    first_bad_row(partials.iter().map(|p| p.2))?;
    let mut loss = 0.0;
    let mut col_cnt = vec![0u64; if by_col { nnz } else { 0 }];
    for (l, cnt, _) in &partials {
        loss += l;
        for (t, n) in col_cnt.iter_mut().zip(cnt) {
            *t += n;
        }
    }
    if by_col {
        for j in 0..cols {
            let (lo, hi) = (pairs.col_ptr[j], pairs.col_ptr[j + 1]);
            for (&q, n) in pairs.col_idx[lo..hi].iter().zip(&col_cnt[lo..hi]) {
                let k = q * cols + j;
                grad[k] = grad[k] - T::from_f64(*n as f64);
            }
        }
    }
    Ok(LossGrad { loss, grad })
}
