//! Centre seeding: greedy k-means++ and uniform random rows.
//!
//! Greedy k-means++ (Arthur & Vassilvitskii 2007, with the `2 + ln k` local trials that
//! scikit-learn uses): each new centre is the best of several candidates drawn with probability
//! proportional to `w * D(x)^2`. Scoring candidates costs a pass over the data, and on
//! high-dimensional data nearly every point has to be scored; so one pass serves several rounds:
//! - at the start of a pass, proposals for the next rounds are drawn from the current `D`; a
//!   round later accepts proposal `x` with probability `D_now(x) / D_start(x)` (rejection
//!   sampling: `D` only shrinks, so accepted proposals are exact draws from `D_now`);
//! - the pass scores all proposals with one GEMM per block of rows and keeps, per proposal,
//!   only the points it brings closer than `D_start` (few: the rest cannot gain);
//! - the rounds are then resolved in order from those short lists: gains against the current
//!   `D`, the best candidate wins, and the points it improves get their distance recomputed
//!   exactly;
//! - the triangle inequality skips the points of every cluster `j` that no proposal can improve
//!   (`|p - c_j| >= 2 r_j`, `r_j` the cluster's radius).
//!
//! Work is split into fixed row chunks reduced in chunk order, so the seeds do not depend on the
//! thread count.

use rayon::prelude::*;

use std::any::Any;

use crate::lowp::{self, PackedCenters};
use crate::rng::Rng;
use crate::{Error, MatRef, Result, Scalar};

/// Rows per work item (fixed: results must not depend on the thread count).
const CHUNK: usize = 1024;
/// Rows per GEMM block inside a chunk (keeps the block of scores in L2).
const BLOCK: usize = 256;
const MAX_TRIALS: usize = 32;
/// Most rounds resolved from one pass over the data.
const MAX_ROUNDS_PER_PASS: usize = 32;
/// Most proposals scored in one pass.
const MAX_PROPOSALS: usize = 512;

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

/// A candidate drawn at the start of a pass: its row, acceptance draw and `D` at that time.
#[derive(Clone, Copy)]
struct Proposal {
    row: usize,
    u: f64,
    d2_start: f64,
}

/// A point that a proposal brings closer than its distance at the start of the pass.
#[derive(Clone, Copy)]
struct Hit<T> {
    row: u32,
    d2: T,
}

/// Options of [`seed_rows`]: what a caller of the public seeding function chooses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedParams {
    /// Number of seeds.
    pub n_clusters: usize,
    /// Candidates per centre; `None` is [`default_local_trials`] of `n_clusters`.
    pub n_local_trials: Option<usize>,
    /// Seed of the random generator.
    pub seed: u64,
}

/// Greedy k-means++ seed rows with every input check of the public API: `x` non-empty and
/// finite, `1 <= n_clusters <= rows`, `weights` valid with a positive sum, distances that fit
/// the dtype; then [`kmeans_plus_plus_with_progress`] with the default local trials where
/// none are given. `progress` as there.
pub fn seed_rows<T: Scalar>(
    x: MatRef<'_, T>,
    weights: Option<&[T]>,
    params: &SeedParams,
    progress: &mut dyn FnMut(usize) -> bool,
) -> Result<Vec<usize>> {
    let k = params.n_clusters;
    x.check_non_empty("X")?;
    x.check_finite("X")?;
    if k == 0 || k > x.rows() {
        return Err(Error::TooFewSamples { k, n: x.rows() });
    }
    crate::matrix::check_weights(weights, x.rows())?;
    let mass = match weights {
        Some(w) => {
            let s: f64 = w.iter().map(|v| v.as_f64()).sum();
            if s <= 0.0 {
                return Err(Error::invalid("sample_weight", "must have a positive sum"));
            }
            s
        }
        None => x.rows() as f64,
    };
    crate::kmeans::check_distance_scale("X", &[x], mass)?;
    let t = params
        .n_local_trials
        .unwrap_or_else(|| default_local_trials(k));
    kmeans_plus_plus_with_progress(x, weights, k, t, &mut Rng::new(params.seed), progress)
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
    // A callback that never stops: the only error is `Interrupted`.
    kmeans_plus_plus_with_progress(x, weights, k, n_trials, rng, &mut |_| true).unwrap_or_default()
}

/// [`kmeans_plus_plus`] that calls `progress(seeds so far)` after every pass over the data;
/// returning `false` stops with [`Error::Interrupted`]. Every pass adds at least one seed, so
/// there are at most `k` passes.
pub fn kmeans_plus_plus_with_progress<T: Scalar>(
    x: MatRef<'_, T>,
    weights: Option<&[T]>,
    k: usize,
    n_trials: usize,
    rng: &mut Rng,
    progress: &mut dyn FnMut(usize) -> bool,
) -> Result<Vec<usize>> {
    let n = x.rows();
    let n_trials = n_trials.clamp(1, MAX_TRIALS);
    let w: Vec<f64> = match weights {
        Some(w) => w.iter().map(|v| v.as_f64()).collect(),
        None => vec![1.0; n],
    };
    let first = sample_weighted(&w, rng);
    let mut seeds = vec![first];
    let mu = column_mean(x);
    let xnorm: Vec<T> = x
        .as_slice()
        .par_chunks(x.cols().max(1))
        .map(|r| centred(r, &mu).fold(T::zero(), |a, v| a + v * v))
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
    let mut reject_rate = 0.25;
    while seeds.len() < k && n > 0 {
        let m = seeds.len();
        // Early rounds change `D` a lot (many rejections); later ones barely do.
        let rounds = (m / 8)
            .clamp(1, MAX_ROUNDS_PER_PASS)
            .min(k - m)
            .min(MAX_PROPOSALS / n_trials);
        // Enough proposals for the rejections seen in the last pass, with some to spare.
        let n_prop = if rounds == 1 {
            n_trials
        } else {
            let need = (rounds * n_trials) as f64 * (1.0 + 1.5 * reject_rate) + 2.0;
            (need.ceil() as usize).min(MAX_PROPOSALS)
        };
        let proposals: Vec<Proposal> = (0..n_prop)
            .map(|_| {
                let row = sample_candidate(&st, &w, rng);
                Proposal {
                    row,
                    u: rng.uniform(),
                    d2_start: st.d2[row],
                }
            })
            .collect();
        let by_proposal = score_pass(x, &mu, &xnorm, &seeds, &st, &proposals);
        let (examined, rejected) = resolve_rounds(
            &w,
            &proposals,
            &by_proposal,
            rounds,
            n_trials,
            &mut seeds,
            &mut st,
        );
        if rounds > 1 && examined > 0 {
            reject_rate = rejected as f64 / examined as f64;
        }
        if seeds.len() == m {
            // Cannot happen with finite distances (the first round of a pass always accepts);
            // never loop: the remaining seeds are distinct rows drawn uniformly.
            add_random_seeds(n, k, &mut seeds, rng);
        }
        if !progress(seeds.len()) {
            return Err(Error::Interrupted);
        }
    }
    Ok(seeds)
}

/// Completes `seeds` to `k` distinct rows with rows drawn uniformly among the others.
fn add_random_seeds(n: usize, k: usize, seeds: &mut Vec<usize>, rng: &mut Rng) {
    let mut taken = vec![false; n];
    for &s in seeds.iter() {
        taken[s] = true;
    }
    let mut rest: Vec<usize> = (0..n).filter(|&i| !taken[i]).collect();
    while seeds.len() < k && !rest.is_empty() {
        let t = rng.below(rest.len());
        seeds.push(rest.swap_remove(t));
    }
}

fn centred<'a, T: Scalar>(row: &'a [T], mu: &'a [T]) -> impl Iterator<Item = T> + 'a {
    row.iter().zip(mu).map(|(v, m)| *v - *m)
}

/// One pass over the data: for every proposal, the points it brings closer than their current
/// `D` (by the GEMM value, with a margin for its rounding error), in row order.
fn score_pass<T: Scalar>(
    x: MatRef<'_, T>,
    mu: &[T],
    xnorm: &[T],
    seeds: &[usize],
    st: &Nearest,
    proposals: &[Proposal],
) -> ByProposal<T> {
    let (n, d) = (x.rows(), x.cols());
    let n_prop = proposals.len();
    let prop: Vec<T> = proposals
        .iter()
        .flat_map(|p| centred(x.row(p.row), mu))
        .collect();
    let half_norm: Vec<T> = prop
        .chunks(d.max(1))
        .map(|r| T::sq_norm(r) * T::from_f64(0.5))
        .take(n_prop)
        .collect();
    let max_norm = half_norm
        .iter()
        .fold(0.0f64, |a, v| a.max(2.0 * v.as_f64()));
    // Bound of the GEMM's rounding error on |x|^2 + |p|^2 - 2 x.p, relative to the norms.
    let rel_err = (d as f64 + 8.0) * T::epsilon().as_f64();
    // Clusters that some proposal may improve (`|p - c_j|^2 < 4 r_j^2`, with slack for the
    // rounding of the GEMM distances).
    let rad2 = cluster_radii(st, seeds.len());
    let live = live_clusters(x, mu, seeds, &rad2, &prop, &half_norm, rel_err);
    // bfloat16 candidates on CPUs that have them (f32 data): every proposal within the
    // kernel's rigorous error bound is confirmed exactly, so the hits are the same.
    let norms: Vec<T> = half_norm.iter().map(|&h| h + h).collect();
    let packed = match (
        (&prop as &dyn Any).downcast_ref::<Vec<f32>>(),
        (&norms as &dyn Any).downcast_ref::<Vec<f32>>(),
    ) {
        (Some(p32), Some(n32)) => PackedCenters::new(p32, n32, d),
        _ => None,
    };
    let max_p = max_norm.sqrt();
    let per_chunk: Vec<Vec<Vec<Hit<T>>>> = (0..n.div_ceil(CHUNK))
        .into_par_iter()
        .map_init(Buffers::<T>::default, |buf, c| {
            let (start, end) = (c * CHUNK, ((c + 1) * CHUNK).min(n));
            buf.rows.clear();
            buf.rows
                .extend((start..end).filter(|&i| live[st.label[i] as usize]));
            let mut hits = vec![Vec::new(); n_prop];
            // Exact distance of a short-listed (row, proposal); a hit if it beats `D`.
            let confirm = |i: usize, p: usize, hits: &mut [Vec<Hit<T>>]| {
                let d2 = T::sq_dist(x.row(i), x.row(proposals[p].row));
                if d2.as_f64() < st.d2[i] {
                    hits[p].push(Hit { row: i as u32, d2 });
                }
            };
            for blk in buf.rows.chunks(BLOCK) {
                buf.block.clear();
                for &i in blk {
                    buf.block.extend(centred(x.row(i), mu));
                }
                let m = blk.len();
                let block32 = (&buf.block as &dyn Any).downcast_ref::<Vec<f32>>();
                let rows_fit = blk.iter().all(|&i| xnorm[i].as_f64() < lowp::MAX_SQ_NORM);
                if let (Some(pc), Some(b32), true) = (packed.as_ref(), block32, rows_fit) {
                    buf.xpack.clear();
                    for row in b32.chunks_exact(d) {
                        lowp::push_pairs(row, &mut buf.xpack);
                    }
                    buf.values.resize(m * n_prop, 0.0);
                    buf.row_min.clear();
                    buf.row_min.resize(m, f32::INFINITY);
                    let (xp, vals, mins) = (&buf.xpack, &mut buf.values, &mut buf.row_min);
                    pc.values(xp, m, (0, n_prop), pc.norms(), vals, mins);
                    for (&i, row) in blk.iter().zip(buf.values.chunks(n_prop)) {
                        // |x - p|^2 = |x|^2 + (|p|^2 - 2 x.p), the latter within the bound.
                        let xn = xnorm[i].as_f64();
                        let slack = rel_err * (xn + max_norm)
                            + 4.0 * lowp::dot_error_bound(d, xn.sqrt(), max_p);
                        let lim = (st.d2[i] + slack - xn) as f32;
                        lowp::for_each_not_above(row, lim, |p| confirm(i, p, &mut hits));
                    }
                } else {
                    buf.dots.resize(m * n_prop, T::zero());
                    T::gemm_nt(m, n_prop, d, &buf.block, &prop, &mut buf.dots);
                    for (&i, row) in blk.iter().zip(buf.dots.chunks(n_prop)) {
                        // |x - p|^2 < D  <=>  |p|^2 / 2 - x.p < (D - |x|^2) / 2.
                        let xn = xnorm[i].as_f64();
                        let slack = rel_err * (xn + max_norm);
                        let lim = T::from_f64(0.5 * (st.d2[i] + slack - xn));
                        for_each_below(row, &half_norm, lim, |p| confirm(i, p, &mut hits));
                    }
                }
            }
            hits
        })
        .collect();
    ByProposal { per_chunk }
}

/// Per-thread scratch of a scoring pass.
#[derive(Default)]
struct Buffers<T> {
    rows: Vec<usize>,
    block: Vec<T>,
    dots: Vec<T>,
    xpack: Vec<u32>,
    values: Vec<f32>,
    row_min: Vec<f32>,
}

/// Whether some proposal may bring a point of cluster `j` closer than the cluster's radius.
fn live_clusters<T: Scalar>(
    x: MatRef<'_, T>,
    mu: &[T],
    seeds: &[usize],
    rad2: &[f64],
    prop: &[T],
    half_norm: &[T],
    rel_err: f64,
) -> Vec<bool> {
    let d = x.cols();
    let n_prop = half_norm.len();
    seeds
        .par_chunks(BLOCK)
        .zip(rad2.par_chunks(BLOCK))
        .flat_map_iter(|(block_seeds, block_rad2)| {
            let centres: Vec<T> = block_seeds
                .iter()
                .flat_map(|&s| centred(x.row(s), mu))
                .collect();
            let mut dots = vec![T::zero(); block_seeds.len() * n_prop];
            T::gemm_nt(block_seeds.len(), n_prop, d, &centres, prop, &mut dots);
            let live: Vec<bool> = centres
                .chunks(d.max(1))
                .zip(dots.chunks(n_prop.max(1)))
                .zip(block_rad2)
                .map(|((c, row), &r2)| {
                    let cn = T::sq_norm(c).as_f64();
                    row.iter().zip(half_norm).any(|(&dot, &h)| {
                        let hn = 2.0 * h.as_f64();
                        let d2 = cn + hn - 2.0 * dot.as_f64();
                        d2 < 4.0 * r2 + rel_err * (cn + hn)
                    })
                })
                .collect();
            live
        })
        .collect()
}

/// Calls `f(p)` for every proposal `p` with `|p|^2 / 2 - x.p < lim` (`dots` = x.p).
#[inline]
fn for_each_below<T: Scalar>(dots: &[T], halves: &[T], lim: T, mut f: impl FnMut(usize)) {
    const GROUP: usize = 8;
    for (g, (dots, halves)) in dots.chunks(GROUP).zip(halves.chunks(GROUP)).enumerate() {
        // Branch-free test of a group first: hits are rare.
        let any = dots
            .iter()
            .zip(halves)
            .fold(false, |a, (&dot, &h)| a | (h - dot < lim));
        if any {
            for (q, (&dot, &h)) in dots.iter().zip(halves).enumerate() {
                if h - dot < lim {
                    f(g * GROUP + q);
                }
            }
        }
    }
}

/// The hits of one pass: per row chunk (in row order), per proposal.
struct ByProposal<T> {
    per_chunk: Vec<Vec<Vec<Hit<T>>>>,
}

impl<T: Scalar> ByProposal<T> {
    fn of(&self, p: usize) -> impl Iterator<Item = &Hit<T>> {
        self.per_chunk.iter().flat_map(move |c| &c[p])
    }
}

/// Resolves up to `rounds` greedy rounds from one pass's short lists; stops early when the
/// proposals run out (the next pass continues). Returns the proposals examined and rejected.
#[allow(clippy::too_many_arguments)]
fn resolve_rounds<T: Scalar>(
    w: &[f64],
    proposals: &[Proposal],
    by_proposal: &ByProposal<T>,
    rounds: usize,
    n_trials: usize,
    seeds: &mut Vec<usize>,
    st: &mut Nearest,
) -> (usize, usize) {
    let mut rejected = 0;
    let mut dirty = vec![false; st.chunk_pot.len()];
    let mut next = 0;
    let mut cands = Vec::with_capacity(n_trials);
    for _ in 0..rounds {
        cands.clear();
        let mut scan = next;
        while cands.len() < n_trials && scan < proposals.len() {
            let p = proposals[scan];
            // Rejection needs finite distances: a non-finite one (overflow) is accepted, so
            // that a round always ends (callers reject data whose distances overflow).
            // An unchanged `D` accepts outright (`u * D` may round to `D` when subnormal).
            let now = st.d2[p.row];
            let reject = p.d2_start.is_finite() && now < p.d2_start && p.u * p.d2_start >= now;
            if reject {
                rejected += 1;
            } else {
                cands.push(scan);
            }
            scan += 1;
        }
        if cands.len() < n_trials {
            break;
        }
        next = scan;
        let gain = |p: usize| -> f64 {
            by_proposal
                .of(p)
                .map(|h| {
                    let (cur, d2) = (st.d2[h.row as usize], h.d2.as_f64());
                    if d2 < cur {
                        w[h.row as usize] * (cur - d2)
                    } else {
                        0.0
                    }
                })
                .sum()
        };
        let gains: Vec<f64> = cands.iter().map(|&p| gain(p)).collect();
        let best = (1..cands.len()).fold(0, |b, t| if gains[t] > gains[b] { t } else { b });
        let winner = cands[best];
        let c = proposals[winner].row;
        let label = seeds.len() as u32;
        seeds.push(c);
        // Hit distances are exact (confirmed in the pass).
        for h in by_proposal.of(winner) {
            let i = h.row as usize;
            let exact = h.d2.as_f64();
            if exact < st.d2[i] || i == c {
                st.d2[i] = exact;
                st.label[i] = label;
                dirty[i / CHUNK] = true;
            }
        }
        if st.label[c] != label {
            st.d2[c] = 0.0;
            st.label[c] = label;
            dirty[c / CHUNK] = true;
        }
    }
    let Nearest { d2, chunk_pot, .. } = st;
    chunk_pot
        .par_iter_mut()
        .zip(d2.par_chunks(CHUNK))
        .zip(w.par_chunks(CHUNK))
        .zip(dirty.par_iter())
        .filter(|(_, &dirty)| dirty)
        .for_each(|(((pot, d), w), _)| *pot = d.iter().zip(w).map(|(d, w)| d * w).sum());
    (next, rejected)
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

    fn seed_params(k: usize) -> SeedParams {
        SeedParams {
            n_clusters: k,
            n_local_trials: None,
            seed: 5,
        }
    }

    #[test]
    fn seed_rows_checks_inputs() {
        let data = [0.0f64, 1.0, 2.0, 3.0, 4.0, 5.0];
        let x = MatRef::new("X", &data, 3, 2).unwrap();
        let run = |k: usize, w: Option<&[f64]>| seed_rows(x, w, &seed_params(k), &mut |_| true);
        let msg = |r: Result<Vec<usize>>| r.unwrap_err().to_string();
        assert_eq!(msg(run(0, None)), "n_clusters=0 must be <= n_samples=3");
        assert_eq!(msg(run(4, None)), "n_clusters=4 must be <= n_samples=3");
        assert_eq!(
            msg(run(2, Some(&[0.0, 0.0, 0.0]))),
            "sample_weight: must have a positive sum"
        );
        assert!(msg(run(2, Some(&[1.0, 1.0]))).starts_with("sample_weight: has length 2"));
        let bad = [0.0f64, f64::NAN, 2.0, 3.0];
        let xb = MatRef::new("X", &bad, 2, 2).unwrap();
        let r = seed_rows(xb, None, &seed_params(1), &mut |_| true);
        assert_eq!(msg(r), "X contains NaN or inf at row 0");
        let empty = MatRef::new("X", &data[..0], 0, 2).unwrap();
        let r = seed_rows(empty, None, &seed_params(1), &mut |_| true);
        assert_eq!(msg(r), "X: must be non-empty, got shape (0, 2)");
        let huge = [1e300f64, 0.0, 0.0, 0.0];
        let xh = MatRef::new("X", &huge, 2, 2).unwrap();
        assert!(seed_rows(xh, None, &seed_params(1), &mut |_| true).is_err());
    }

    #[test]
    fn seed_rows_defaults_to_the_local_trials_of_k() {
        let data: Vec<f64> = (0..400).map(|i| ((i * 37) % 101) as f64).collect();
        let x = MatRef::new("X", &data, 200, 2).unwrap();
        let got = seed_rows(x, None, &seed_params(6), &mut |_| true).unwrap();
        let want = kmeans_plus_plus(x, None, 6, default_local_trials(6), &mut Rng::new(5));
        assert_eq!(got, want);
        let mut stopped = |_: usize| false;
        let r = seed_rows(x, None, &seed_params(6), &mut stopped);
        assert_eq!(r, Err(Error::Interrupted));
    }
}
