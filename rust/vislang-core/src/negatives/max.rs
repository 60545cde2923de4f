//! Hardest negative of each query (VSE++ "max violation", Faghri et al. 2018, Eq. 4). Ties go to
//! the lowest index.

use super::pairs::Pairs;
use super::{
    alloc_grad, first_bad_row, is_finite_row, single_thresholds, LossGrad, RankingParams,
    SingleChunk, CHUNK_ROWS, NONE,
};
use crate::isa::Isa;
use crate::parallel::map_chunks_mut;
use crate::{Error, MatRef, Result, Scalar};

/// Lanes of the row maxima: two independent compare-and-select chains per AVX-512 register.
const LANES: usize = 16;

/// Hardest negative in `s` (offset `off` in the row): lane-wise strict maxima, then the
/// largest value with the lowest index. Also raises the column maxima `cm`/`ca` to row `i`.
#[inline(always)]
fn max_segment<T: Scalar>(
    s: &[T],
    off: usize,
    i: usize,
    cm: &mut [T],
    ca: &mut [usize],
    track_cols: bool,
) -> (T, usize) {
    let n = s.len();
    let mut best = [T::neg_infinity(); LANES];
    let mut arg = [NONE; LANES];
    let split = n - n % LANES;
    for (b, sc) in s[..split].chunks_exact(LANES).enumerate() {
        for l in 0..LANES {
            if sc[l] > best[l] {
                best[l] = sc[l];
                arg[l] = b * LANES + l;
            }
        }
    }
    for (j, v) in s[split..n].iter().enumerate() {
        let l = j % LANES;
        if *v > best[l] {
            best[l] = *v;
            arg[l] = split + j;
        }
    }
    if track_cols {
        for ((v, m), a) in s.iter().zip(cm.iter_mut()).zip(ca.iter_mut()) {
            // Branch-free select so the loop vectorises.
            let gt = *v > *m;
            *m = if gt { *v } else { *m };
            *a = if gt { i } else { *a };
        }
    }
    let mut out = (T::neg_infinity(), NONE);
    for l in 0..LANES {
        if arg[l] != NONE && (best[l] > out.0 || (best[l] == out.0 && arg[l] + off < out.1)) {
            out = (best[l], arg[l] + off);
        }
    }
    out
}

/// Merges per-chunk column maxima in chunk order (strict `>`: ties keep the lowest row).
fn merge_col_max<T: Scalar>(cols: usize, parts: &[(Vec<T>, Vec<usize>)]) -> (Vec<T>, Vec<usize>) {
    let mut cm = vec![T::neg_infinity(); cols];
    let mut ca = vec![NONE; cols];
    for (pm, pa) in parts {
        for j in 0..cols {
            if pa[j] != NONE && pm[j] > cm[j] {
                cm[j] = pm[j];
                ca[j] = pa[j];
            }
        }
    }
    (cm, ca)
}

type MaxPartial<T> = (f64, Vec<T>, Vec<usize>, Option<usize>);

/// One chunk of [`max_single`]: (loss, column maxima and their rows, first non-finite row).
#[inline(always)]
fn max_single_chunk<T: Scalar>(
    c: &SingleChunk<'_, '_, T>,
    g_chunk: &mut [T],
    track_cols: bool,
) -> MaxPartial<T> {
    let cols = c.scores.cols();
    let col_len = if track_cols { cols } else { 0 };
    let mut loss = 0.0;
    let mut cm = vec![T::neg_infinity(); col_len];
    let mut ca = vec![NONE; col_len];
    for (r, g) in g_chunk.chunks_mut(cols).enumerate() {
        let i = c.first_row + r;
        let s = c.scores.row(i);
        if !is_finite_row(s) {
            return (loss, cm, ca, Some(i));
        }
        let p = c.pairs.row_single(i);
        let (best, arg) = if p == NONE {
            max_segment(s, 0, i, &mut cm, &mut ca, track_cols)
        } else {
            let (cm1, cm2) = cm.split_at_mut(p.min(col_len));
            let (ca1, ca2) = ca.split_at_mut(p.min(col_len));
            let left = max_segment(&s[..p], 0, i, cm1, ca1, track_cols);
            let (cm2, ca2) = if track_cols {
                (&mut cm2[1..], &mut ca2[1..])
            } else {
                (cm2, ca2)
            };
            let right = max_segment(&s[p + 1..], p + 1, i, cm2, ca2, track_cols);
            // Left wins ties: its indices are lower.
            if right.1 != NONE && (left.1 == NONE || right.0 > left.0) {
                right
            } else {
                left
            }
        };
        if p != NONE && arg != NONE {
            let a = c.row_thr[i] + best;
            if a > T::zero() {
                loss += a.as_f64();
                g[arg] = g[arg] + T::one();
                g[p] = g[p] - T::one();
            }
        }
    }
    (loss, cm, ca, None)
}

crate::multiversion!(
    fn max_single_chunk_isa[T: Scalar](
        c: &SingleChunk<'_, '_, T>,
        g_chunk: &mut [T],
        track_cols: bool,
    ) -> MaxPartial<T> = max_single_chunk
);

/// Hardest negatives, at most one positive per row and column.
pub(super) fn max_single<T: Scalar>(
    scores: MatRef<'_, T>,
    pairs: &Pairs<'_>,
    params: &RankingParams,
    isa: Isa,
) -> Result<LossGrad<T>> {
    let (rows, cols) = (scores.rows(), scores.cols());
    let (row_thr, col_thr) = single_thresholds(scores, pairs, params);
    let track_cols = params.direction.cols();
    let mut grad = alloc_grad::<T>(rows * cols);
    let partials: Vec<MaxPartial<T>> =
        map_chunks_mut(&mut grad, CHUNK_ROWS * cols, pairs.inline, |c, g_chunk| {
            let chunk = SingleChunk {
                scores,
                pairs,
                row_thr: &row_thr,
                col_thr: &col_thr,
                first_row: c * CHUNK_ROWS,
            };
            max_single_chunk_isa(isa, &chunk, g_chunk, track_cols)
        });
    first_bad_row(partials.iter().map(|p| p.3))?;
    let mut loss: f64 = partials.iter().map(|p| p.0).sum();
    if track_cols {
        let parts: Vec<(Vec<T>, Vec<usize>)> =
            partials.into_iter().map(|(_, m, a, _)| (m, a)).collect();
        let (cm, ca) = merge_col_max(cols, &parts);
        for j in 0..cols {
            let q = pairs.col_single(j);
            if q == NONE || ca[j] == NONE {
                continue;
            }
            let b = col_thr[j] + cm[j];
            if b > T::zero() {
                loss += b.as_f64();
                grad[ca[j] * cols + j] = grad[ca[j] * cols + j] + T::one();
                grad[q * cols + j] = grad[q * cols + j] - T::one();
            }
        }
    }
    Ok(LossGrad { loss, grad })
}

/// Hardest negatives with an arbitrary mask.
pub(super) fn max_general<T: Scalar>(
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
    let col_len = if by_col { cols } else { 0 };
    let mut grad = vec![T::zero(); rows * cols];
    let partials: Vec<MaxPartial<T>> =
        map_chunks_mut(&mut grad, CHUNK_ROWS * cols, pairs.inline, |c, g_chunk| {
            let mut loss = 0.0;
            let mut cm = vec![T::neg_infinity(); col_len];
            let mut ca = vec![NONE; col_len];
            for (r, g) in g_chunk.chunks_mut(cols).enumerate() {
                let i = c * CHUNK_ROWS + r;
                let s = scores.row(i);
                if !is_finite_row(s) {
                    return (loss, cm, ca, Some(i));
                }
                let m = &mask[i * cols..(i + 1) * cols];
                let (mut best, mut arg) = (T::neg_infinity(), NONE);
                for j in 0..cols {
                    if m[j] {
                        continue;
                    }
                    let v = s[j];
                    if v > best {
                        best = v;
                        arg = j;
                    }
                    if by_col && v > cm[j] {
                        cm[j] = v;
                        ca[j] = i;
                    }
                }
                if by_row && arg != NONE {
                    for &p in pairs.row(i) {
                        let a = margin - s[p] + best;
                        if a > T::zero() {
                            loss += a.as_f64();
                            g[arg] = g[arg] + T::one();
                            g[p] = g[p] - T::one();
                        }
                    }
                }
            }
            (loss, cm, ca, None)
        });
    first_bad_row(partials.iter().map(|p| p.3))?;
    let mut loss: f64 = partials.iter().map(|p| p.0).sum();
    if by_col {
        let s = scores.as_slice();
        let parts: Vec<(Vec<T>, Vec<usize>)> =
            partials.into_iter().map(|(_, m, a, _)| (m, a)).collect();
        let (cm, ca) = merge_col_max(cols, &parts);
        for j in 0..cols {
            if ca[j] == NONE {
                continue;
            }
            for &q in pairs.col(j) {
                let b = margin - s[q * cols + j] + cm[j];
                if b > T::zero() {
                    loss += b.as_f64();
                    grad[ca[j] * cols + j] = grad[ca[j] * cols + j] + T::one();
                    grad[q * cols + j] = grad[q * cols + j] - T::one();
                }
            }
        }
    }
    Ok(LossGrad { loss, grad })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_segment_prefers_lowest_index_on_ties() {
        let s = [1.0f64, 3.0, 3.0, 0.0, 3.0, 2.0, 3.0, 1.0, 3.0, 3.0, 3.0];
        let mut cm = vec![0.0; s.len()];
        let mut ca = vec![NONE; s.len()];
        assert_eq!(max_segment(&s, 4, 0, &mut cm, &mut ca, false), (3.0, 5));
    }
}
