//! WARP (Weston, Bengio & Usunier 2011, Sec. 3): negatives are sampled until one violates the
//! margin; its hinge is weighted by `L(floor(n_neg / trials))`, `L(k) = sum 1/j`.

use super::pairs::Pairs;
use super::{check_margin, runs_inline, LossGrad, Positives, WarpParams, CHUNK_ROWS};
use crate::parallel::map_chunks;
use crate::rng::{mix64, Rng};
use crate::{Error, MatRef, Result, Scalar};

/// `L(k) = sum_{j=1..k} 1/j` for `k = 0..=n` (Weston 2011, `alpha_j = 1/j`).
pub fn rank_weights(n: usize) -> Vec<f64> {
    let mut h = Vec::with_capacity(n + 1);
    let mut acc = 0.0;
    h.push(acc);
    for j in 1..=n {
        acc += 1.0 / j as f64;
        h.push(acc);
    }
    h
}

/// The `r`-th index in `0..n` that is not in the ascending list `pos`.
#[inline]
fn nth_negative(r: usize, pos: &[usize]) -> usize {
    let mut j = r;
    for &p in pos {
        if p <= j {
            j += 1;
        } else {
            break;
        }
    }
    j
}

/// One direction of WARP: the loss and the sparse gradient updates `(flat index, weight)`.
fn warp_side<T: Scalar>(
    scores: MatRef<'_, T>,
    pairs: &Pairs<'_>,
    params: &WarpParams,
    by_row: bool,
    weights: &[f64],
) -> Vec<(f64, Vec<(usize, f64)>)> {
    let (rows, cols) = (scores.rows(), scores.cols());
    let s = scores.as_slice();
    let (n_queries, n_items) = if by_row { (rows, cols) } else { (cols, rows) };
    let flat = |q: usize, j: usize| if by_row { q * cols + j } else { j * cols + q };
    let margin = T::from_f64(params.margin);
    let side_seed = mix64(params.seed ^ if by_row { 0 } else { 0x5851_F42D_4C95_7F2D });
    let chunk = |c: usize| {
        let mut loss = 0.0;
        let mut updates = Vec::new();
        for q in c * CHUNK_ROWS..((c + 1) * CHUNK_ROWS).min(n_queries) {
            let pos = if by_row { pairs.row(q) } else { pairs.col(q) };
            let n_neg = n_items - pos.len();
            if n_neg == 0 || pos.is_empty() {
                continue;
            }
            let mut rng = Rng::new(mix64(side_seed ^ mix64(q as u64)));
            let limit = params.max_trials.unwrap_or(n_neg);
            for &p in pos {
                let sp = s[flat(q, p)];
                for t in 1..=limit {
                    let j = nth_negative(rng.below(n_neg), pos);
                    let a = margin - sp + s[flat(q, j)];
                    if a > T::zero() {
                        let w = weights[n_neg / t];
                        loss += w * a.as_f64();
                        updates.push((flat(q, j), w));
                        updates.push((flat(q, p), -w));
                        break;
                    }
                }
            }
        }
        (loss, updates)
    };
    let n_chunks = n_queries.div_ceil(CHUNK_ROWS);
    map_chunks(
        (0..n_chunks).collect(),
        pairs.inline,
        || (),
        |(), c, _| chunk(c),
    )
}

/// WARP loss (Weston, Bengio & Usunier 2011) and its gradient.
///
/// For every positive pair `(q, p)`, negatives `j` of query `q` are drawn uniformly with
/// replacement until `margin - S[q,p] + S[q,j] > 0` or `max_trials` draws were made. After `t`
/// draws, the rank of `p` is estimated as `floor(n_neg / t)` (the paper's `floor((Y-1)/N)` with
/// one positive) and the hinge is weighted by `L(rank)`. Each query has its own random stream
/// derived from the seed, so the result does not depend on the thread count.
///
/// # Errors
/// As [`contrastive_ranking`], plus `max_trials == Some(0)`.
pub fn warp<T: Scalar>(
    scores: MatRef<'_, T>,
    positives: Positives<'_>,
    params: &WarpParams,
) -> Result<LossGrad<T>> {
    scores.check_non_empty("scores")?;
    check_margin(params.margin)?;
    if params.max_trials == Some(0) {
        return Err(Error::invalid("max_trials", "must be >= 1, got 0"));
    }
    let inline = runs_inline(scores.rows(), scores.cols());
    let pairs = Pairs::new(
        scores.rows(),
        scores.cols(),
        positives,
        params.direction,
        inline,
    )?;
    scores.check_finite("scores")?;
    let weights = rank_weights(scores.rows().max(scores.cols()));
    let mut grad = vec![T::zero(); scores.rows() * scores.cols()];
    let mut loss = 0.0;
    for by_row in [true, false] {
        let wanted = if by_row {
            params.direction.rows()
        } else {
            params.direction.cols()
        };
        if !wanted {
            continue;
        }
        for (l, updates) in warp_side(scores, &pairs, params, by_row, &weights) {
            loss += l;
            for (k, w) in updates {
                grad[k] = grad[k] + T::from_f64(w);
            }
        }
    }
    Ok(LossGrad { loss, grad })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nth_negative_skips_positives() {
        let pos = [1, 2, 5];
        let negs: Vec<usize> = (0..5).map(|r| nth_negative(r, &pos)).collect();
        assert_eq!(negs, vec![0, 3, 4, 6, 7]);
    }

    #[test]
    fn rank_weights_are_harmonic_numbers() {
        let h = rank_weights(3);
        assert_eq!(h[0], 0.0);
        assert!((h[3] - (1.0 + 0.5 + 1.0 / 3.0)).abs() < 1e-15);
    }
}
