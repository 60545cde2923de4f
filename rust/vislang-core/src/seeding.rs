//! Centre seeding: greedy k-means++ and uniform random rows.
//!
//! Greedy k-means++ (Arthur & Vassilvitskii 2007, with the `2 + ln k` local trials that
//! scikit-learn uses): each new centre is the best of several candidates drawn with probability
//! proportional to `w * D(x)^2`. A round streams over the data once in fixed row chunks:
//! - the triangle inequality skips the points of every cluster `j` that a candidate cannot
//!   improve (`|c - c_j| >= 2 r_j`, with `r_j` an upper bound of the cluster's radius);
//! - the remaining rows are mean-centred into a small buffer and scored against all candidates
//!   with one GEMM per chunk;
//! - the points that the winner improves get their distance recomputed exactly.
//!
//! Sampling walks per-chunk potentials, then one chunk. Partial sums are reduced in chunk
//! order, so the seeds do not depend on the thread count.

use rayon::prelude::*;

use crate::rng::Rng;
use crate::scalar::DOT_GROUP;
use crate::{MatRef, Scalar};

/// Rows per work item (fixed: results must not depend on the thread count).
const CHUNK: usize = 1024;
/// Rounds between exact recomputations of the cluster radii (in between they are upper bounds).
const RADIUS_REFRESH: usize = 4;
const MAX_TRIALS: usize = 32;

/// The default number of local trials of greedy k-means++: `2 + floor(ln k)`.
pub fn default_local_trials(k: usize) -> usize {
    2 + (k.max(1) as f64).ln().floor() as usize
}

/// Per-point seeding state: nearest seed, squared distance to it, and chunk potentials.
struct Nearest {
    label: Vec<u32>,
    d2: Vec<f64>,
    chunk_pot: Vec<f64>,
}

/// Row indices of `k` seeds chosen by greedy k-means++ with `n_trials` candidates per centre.
///
/// `weights` must be non-negative with a positive sum; `k <= x.rows()` (checked by callers).
pub fn kmeans_plus_plus<T: Scalar>(
    x: MatRef<'_, T>,
    weights: Option<&[T]>,
    k: usize,
    n_trials: usize,
    rng: &mut Rng,
) -> Vec<usize> {
    let (n, d) = (x.rows(), x.cols());
    let n_trials = n_trials.clamp(1, MAX_TRIALS);
    let w: Vec<f64> = match weights {
        Some(w) => w.iter().map(|v| v.as_f64()).collect(),
        None => vec![1.0; n],
    };
    let first = sample_weighted(&w, rng);
    let mut seeds = vec![first];
    let mu = column_mean(x);
    // Squared norms of the mean-centred rows.
    let xnorm: Vec<T> = x
        .as_slice()
        .par_chunks(d)
        .map(|r| {
            r.iter()
                .zip(&mu)
                .fold(T::zero(), |a, (v, m)| a + (*v - *m) * (*v - *m))
        })
        .collect();
    let c0 = x.row(first);
    let d2: Vec<f64> = (0..n)
        .into_par_iter()
        .map(|i| T::sq_dist(x.row(i), c0).as_f64())
        .collect();
    let mut st = Nearest {
        label: vec![0; n],
        chunk_pot: chunk_potentials(&d2, &w),
        d2,
    };
    let mut rad2 = vec![st.d2.iter().copied().fold(0.0, f64::max)];

    let mut cands: Vec<usize> = Vec::with_capacity(n_trials);
    let mut cand_dist: Vec<T> = vec![T::zero(); n * n_trials];
    while seeds.len() < k {
        let m = seeds.len();
        cands.clear();
        for _ in 0..n_trials {
            cands.push(sample_candidate(&st, &w, rng));
        }
        // Which candidates may improve the points of each cluster (bit t for candidate t).
        let masks: Vec<u32> = (0..m)
            .into_par_iter()
            .map(|j| {
                let cj = x.row(seeds[j]);
                let mut mask = 0u32;
                for (t, &c) in cands.iter().enumerate() {
                    if T::sq_dist(x.row(c), cj).as_f64() < 4.0 * rad2[j] {
                        mask |= 1 << t;
                    }
                }
                mask
            })
            .collect();
        // Mean-centred candidates, padded with zero rows to whole groups of the dot kernel.
        let mut cand: Vec<T> = cands
            .iter()
            .flat_map(|&c| x.row(c).iter().zip(&mu).map(|(v, m)| *v - *m))
            .collect();
        let cand_norm: Vec<T> = cand.chunks(d).map(T::sq_norm).collect();
        cand.resize(n_trials.div_ceil(DOT_GROUP) * DOT_GROUP * d, T::zero());
        let scorer = Scorer {
            x,
            mu: &mu,
            xnorm: &xnorm,
            cand: &cand,
            cand_norm: &cand_norm,
            n_trials,
        };
        let partials: Vec<[f64; MAX_TRIALS]> = cand_dist
            .par_chunks_mut(CHUNK * n_trials)
            .enumerate()
            .map_init(
                || (Vec::new(), Vec::new()),
                |(rows, dots), (c, out)| {
                    let start = c * CHUNK;
                    let end = (start + CHUNK).min(n);
                    rows.clear();
                    rows.extend((start..end).filter(|&i| masks[st.label[i] as usize] != 0));
                    scorer.score(rows, start, dots, out);
                    let mut gain = [0.0f64; MAX_TRIALS];
                    for &i in rows.iter() {
                        let mask = masks[st.label[i] as usize];
                        for (t, g) in gain.iter_mut().enumerate().take(n_trials) {
                            let v = out[(i - start) * n_trials + t].as_f64();
                            if mask & (1 << t) != 0 && v < st.d2[i] {
                                *g += w[i] * (st.d2[i] - v);
                            }
                        }
                    }
                    gain
                },
            )
            .collect();
        let mut gain = [0.0f64; MAX_TRIALS];
        for p in &partials {
            for t in 0..n_trials {
                gain[t] += p[t];
            }
        }
        let best = (1..n_trials).fold(0, |b, t| if gain[t] > gain[b] { t } else { b });
        let c = cands[best];
        seeds.push(c);
        let new_rad2 = absorb(
            x, c, m as u32, best, &masks, &cand_dist, n_trials, &w, &mut st,
        );
        rad2.push(new_rad2);
        if seeds.len() % RADIUS_REFRESH == 0 {
            rad2 = cluster_radii(&st, seeds.len());
        }
    }
    seeds
}

/// Scores rows of one chunk against all candidates.
struct Scorer<'a, T> {
    x: MatRef<'a, T>,
    mu: &'a [T],
    xnorm: &'a [T],
    cand: &'a [T],
    cand_norm: &'a [T],
    n_trials: usize,
}

impl<T: Scalar> Scorer<'_, T> {
    /// Writes approximate squared distances of `rows` (chunk starting at `start`) into `out`.
    fn score(&self, rows: &[usize], start: usize, dots: &mut Vec<T>, out: &mut [T]) {
        let t = self.n_trials;
        dots.resize(self.cand.len() / self.x.cols().max(1), T::zero());
        let two = T::one() + T::one();
        for &i in rows {
            T::shifted_dots(self.x.row(i), self.mu, self.cand, dots);
            for c in 0..t {
                let v = self.xnorm[i] + self.cand_norm[c] - two * dots[c];
                out[(i - start) * t + c] = if v > T::zero() { v } else { T::zero() };
            }
        }
    }
}

/// Moves the points that the new seed `c` (cluster `m`, candidate `bit`) improves; returns the
/// new cluster's squared radius.
#[allow(clippy::too_many_arguments)]
fn absorb<T: Scalar>(
    x: MatRef<'_, T>,
    c: usize,
    m: u32,
    bit: usize,
    masks: &[u32],
    cand_dist: &[T],
    n_trials: usize,
    w: &[f64],
    st: &mut Nearest,
) -> f64 {
    let xc = x.row(c);
    let Nearest {
        label,
        d2,
        chunk_pot,
    } = st;
    let radii: Vec<f64> = label
        .par_chunks_mut(CHUNK)
        .zip(d2.par_chunks_mut(CHUNK))
        .zip(chunk_pot.par_iter_mut())
        .enumerate()
        .map(|(ci, ((lab, dd), pot))| {
            let start = ci * CHUNK;
            let mut r2 = 0.0f64;
            let mut changed = false;
            for (o, (l, dv)) in lab.iter_mut().zip(dd.iter_mut()).enumerate() {
                let i = start + o;
                if masks.get(*l as usize).is_none_or(|mk| mk & (1 << bit) == 0) {
                    continue;
                }
                if cand_dist[i * n_trials + bit].as_f64() < *dv || i == c {
                    // Confirm with the exact distance: the GEMM value only short-lists.
                    let exact = T::sq_dist(x.row(i), xc).as_f64();
                    if exact < *dv || i == c {
                        *dv = exact;
                        *l = m;
                        r2 = r2.max(exact);
                        changed = true;
                    }
                }
            }
            if changed {
                *pot = dd
                    .iter()
                    .zip(&w[start..start + dd.len()])
                    .map(|(d, w)| d * w)
                    .sum();
            }
            r2
        })
        .collect();
    radii.iter().fold(0.0, |a, &r| a.max(r))
}

/// Exact squared radius of every cluster.
fn cluster_radii(st: &Nearest, m: usize) -> Vec<f64> {
    let mut r = vec![0.0f64; m];
    for (&l, &d) in st.label.iter().zip(&st.d2) {
        let slot = &mut r[l as usize];
        if d > *slot {
            *slot = d;
        }
    }
    r
}

fn chunk_potentials(d2: &[f64], w: &[f64]) -> Vec<f64> {
    d2.par_chunks(CHUNK)
        .zip(w.par_chunks(CHUNK))
        .map(|(d, w)| d.iter().zip(w).map(|(d, w)| d * w).sum())
        .collect()
}

/// Column means of `x`, accumulated in `f64` in row order.
fn column_mean<T: Scalar>(x: MatRef<'_, T>) -> Vec<T> {
    let mut acc = vec![0.0f64; x.cols()];
    for i in 0..x.rows() {
        for (a, v) in acc.iter_mut().zip(x.row(i)) {
            *a += v.as_f64();
        }
    }
    let n = x.rows().max(1) as f64;
    acc.into_iter().map(|a| T::from_f64(a / n)).collect()
}

/// One candidate drawn with probability `w * D^2`: a chunk by its potential, then a row.
fn sample_candidate(st: &Nearest, w: &[f64], rng: &mut Rng) -> usize {
    let n = st.d2.len();
    let total: f64 = st.chunk_pot.iter().sum();
    if total <= 0.0 || !total.is_finite() {
        // Every point sits on a seed already: any point will do.
        return rng.below(n);
    }
    let mut r = rng.uniform() * total;
    let mut chunk = st.chunk_pot.len() - 1;
    for (c, &p) in st.chunk_pot.iter().enumerate() {
        if r < p {
            chunk = c;
            break;
        }
        r -= p;
    }
    let (start, end) = (chunk * CHUNK, ((chunk + 1) * CHUNK).min(n));
    let mut last = None;
    for (i, (wi, di)) in w.iter().zip(&st.d2).enumerate().take(end).skip(start) {
        let p = wi * di;
        if p > 0.0 {
            last = Some(i);
            if r < p {
                return i;
            }
            r -= p;
        }
    }
    // Rounding left `r` past the end: take the last row with positive mass.
    last.unwrap_or_else(|| rng.below(n))
}

/// One index drawn with probability proportional to `w`.
fn sample_weighted(w: &[f64], rng: &mut Rng) -> usize {
    let total: f64 = w.iter().sum();
    let mut r = rng.uniform() * total;
    let mut last = 0;
    for (i, &p) in w.iter().enumerate() {
        if p > 0.0 {
            last = i;
            if r < p {
                return i;
            }
            r -= p;
        }
    }
    last
}

/// `k` distinct row indices drawn uniformly (Floyd's algorithm), in draw order.
pub fn random_rows(n: usize, k: usize, rng: &mut Rng) -> Vec<usize> {
    let mut chosen = std::collections::HashSet::with_capacity(k);
    let mut out = Vec::with_capacity(k);
    for j in (n - k)..n {
        let t = rng.below(j + 1);
        let pick = if chosen.contains(&t) { j } else { t };
        chosen.insert(pick);
        out.push(pick);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_rows_are_distinct() {
        let mut rng = Rng::new(3);
        let rows = random_rows(10, 10, &mut rng);
        let mut s = rows.clone();
        s.sort_unstable();
        s.dedup();
        assert_eq!(s.len(), 10);
    }

    #[test]
    fn kmeans_plus_plus_picks_one_point_per_blob() {
        // Four well separated blobs of 50 points: greedy k-means++ must seed each once.
        let mut data = Vec::new();
        for b in 0..4 {
            for i in 0..50 {
                data.push(b as f64 * 100.0 + (i % 7) as f64 * 0.1);
                data.push(-(b as f64) * 100.0 + (i % 5) as f64 * 0.1);
            }
        }
        let x = MatRef::new("x", &data, 200, 2).unwrap();
        let seeds = kmeans_plus_plus(x, None, 4, default_local_trials(4), &mut Rng::new(0));
        let mut blobs: Vec<usize> = seeds.iter().map(|&s| s / 50).collect();
        blobs.sort_unstable();
        assert_eq!(blobs, vec![0, 1, 2, 3]);
    }
}
