//! Centre seeding: greedy k-means++ and uniform random rows.
//!
//! Greedy k-means++ (Arthur & Vassilvitskii 2007, with the `2 + ln k` local trials that
//! scikit-learn uses): each new centre is the best of several candidates drawn with probability
//! proportional to `w * D(x)^2`. Candidates are scored exactly, but the triangle inequality skips
//! whole clusters that a candidate cannot improve: if `|c - c_j| >= 2 r_j`, where `r_j` bounds the
//! distance of cluster `j`'s points to `c_j`, no point of `j` moves. Sampling is two-level
//! (cluster by its potential, then point), so a round costs `O(k + scanned points)`, not `O(n)`.

use rayon::prelude::*;

use crate::rng::Rng;
use crate::{MatRef, Scalar};

const SCAN_CHUNK: usize = 2048;

/// The default number of local trials of greedy k-means++: `2 + floor(ln k)`.
pub fn default_local_trials(k: usize) -> usize {
    2 + (k.max(1) as f64).ln().floor() as usize
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
    let n = x.rows();
    let n_trials = n_trials.clamp(1, 32);
    let w: Vec<f64> = match weights {
        Some(w) => w.iter().map(|v| v.as_f64()).collect(),
        None => vec![1.0; n],
    };
    let first = sample_weighted(&w, rng);
    let mut seeds = vec![first];

    // State: nearest seed and its squared distance per point; per-cluster members, potential
    // and an upper bound of the squared radius.
    let c0 = x.row(first);
    let mut closest: Vec<f64> = (0..n)
        .into_par_iter()
        .map(|i| T::sq_dist(x.row(i), c0).as_f64())
        .collect();
    let mut members: Vec<Vec<u32>> = vec![(0..n as u32).collect()];
    let mut pot = vec![0.0f64];
    let mut rad2 = vec![0.0f64];
    refresh_cluster(&members[0], &closest, &w, &mut pot[0], &mut rad2[0]);

    let mut cands = Vec::with_capacity(n_trials);
    let mut cc2 = Vec::new();
    while seeds.len() < k {
        let m = seeds.len();
        cands.clear();
        for _ in 0..n_trials {
            cands.push(sample_candidate(&members, &pot, &closest, &w, rng));
        }
        // Squared distances from each candidate to each seed, (n_trials, m).
        cc2.clear();
        for &c in &cands {
            let xc = x.row(c);
            cc2.extend(seeds.iter().map(|&s| T::sq_dist(xc, x.row(s)).as_f64()));
        }
        // Points to scan, with the bit mask of candidates that may improve them.
        let mut scan: Vec<(u32, u32)> = Vec::new();
        let mut segments: Vec<(usize, usize)> = Vec::new();
        for j in 0..m {
            let mut mask = 0u32;
            for t in 0..n_trials {
                if cc2[t * m + j] < 4.0 * rad2[j] {
                    mask |= 1 << t;
                }
            }
            if mask != 0 {
                segments.push((j, scan.len()));
                scan.extend(members[j].iter().map(|&i| (i, mask)));
            }
        }
        let partials: Vec<[f64; 32]> = scan
            .par_chunks(SCAN_CHUNK)
            .map(|chunk| {
                let mut gain = [0.0f64; 32];
                for &(i, mask) in chunk {
                    let (i, xi) = (i as usize, x.row(i as usize));
                    let mut bits = mask;
                    while bits != 0 {
                        let t = bits.trailing_zeros() as usize;
                        bits &= bits - 1;
                        let d2 = T::sq_dist(xi, x.row(cands[t])).as_f64();
                        if d2 < closest[i] {
                            gain[t] += w[i] * (closest[i] - d2);
                        }
                    }
                }
                gain
            })
            .collect();
        let mut gain = [0.0f64; 32];
        for p in &partials {
            for t in 0..n_trials {
                gain[t] += p[t];
            }
        }
        let mut best = 0;
        for t in 1..n_trials {
            if gain[t] > gain[best] {
                best = t;
            }
        }
        let c = cands[best];
        seeds.push(c);
        let scanned = Scanned {
            scan: &scan,
            segments: &segments,
        };
        absorb(
            x,
            c,
            best,
            m,
            &w,
            &scanned,
            &mut closest,
            &mut members,
            &mut pot,
            &mut rad2,
        );
    }
    seeds
}

/// Points scanned in one round: `(point, candidate mask)`, and `(cluster, start)` segments.
struct Scanned<'a> {
    scan: &'a [(u32, u32)],
    segments: &'a [(usize, usize)],
}

/// Moves every scanned point that the new seed `c` (cluster `m`, candidate bit `bit`) improves.
#[allow(clippy::too_many_arguments)]
fn absorb<T: Scalar>(
    x: MatRef<'_, T>,
    c: usize,
    bit: usize,
    m: usize,
    w: &[f64],
    scanned: &Scanned<'_>,
    closest: &mut [f64],
    members: &mut Vec<Vec<u32>>,
    pot: &mut Vec<f64>,
    rad2: &mut Vec<f64>,
) {
    let xc = x.row(c);
    let improved: Vec<f64> = scanned
        .scan
        .par_iter()
        .map(|&(i, mask)| {
            if mask & (1 << bit) == 0 {
                return f64::INFINITY;
            }
            T::sq_dist(x.row(i as usize), xc).as_f64()
        })
        .collect();
    let mut moved: Vec<u32> = Vec::new();
    let mut touched: Vec<usize> = Vec::new();
    for &(j, start) in scanned.segments {
        let list = &mut members[j];
        let slice = &improved[start..start + list.len()];
        let before = list.len();
        let mut keep = Vec::with_capacity(before);
        for (&i, &d2) in list.iter().zip(slice) {
            if d2 < closest[i as usize] {
                closest[i as usize] = d2;
                moved.push(i);
            } else {
                keep.push(i);
            }
        }
        if keep.len() != before {
            *list = keep;
            touched.push(j);
        }
    }
    for j in touched {
        refresh_cluster(&members[j], closest, w, &mut pot[j], &mut rad2[j]);
    }
    let (mut p, mut r) = (0.0, 0.0);
    refresh_cluster(&moved, closest, w, &mut p, &mut r);
    debug_assert_eq!(members.len(), m);
    members.push(moved);
    pot.push(p);
    rad2.push(r);
}

fn refresh_cluster(list: &[u32], closest: &[f64], w: &[f64], pot: &mut f64, rad2: &mut f64) {
    let (mut p, mut r) = (0.0, 0.0f64);
    for &i in list {
        let d = closest[i as usize];
        p += w[i as usize] * d;
        r = r.max(d);
    }
    *pot = p;
    *rad2 = r;
}

/// One candidate drawn with probability `w * D^2`: a cluster by its potential, then a member.
fn sample_candidate(
    members: &[Vec<u32>],
    pot: &[f64],
    closest: &[f64],
    w: &[f64],
    rng: &mut Rng,
) -> usize {
    let total: f64 = pot.iter().sum();
    if total <= 0.0 || !total.is_finite() {
        // Every point sits on a seed already: any point will do.
        return rng.below(closest.len());
    }
    let mut r = rng.uniform() * total;
    let mut j = pot.len() - 1;
    for (c, &p) in pot.iter().enumerate() {
        if r < p {
            j = c;
            break;
        }
        r -= p;
    }
    let list = &members[j];
    let mut last = None;
    for &i in list {
        let p = w[i as usize] * closest[i as usize];
        if p > 0.0 {
            last = Some(i as usize);
            if r < p {
                return i as usize;
            }
            r -= p;
        }
    }
    // Rounding left `r` past the end: take the last member with positive mass.
    last.unwrap_or_else(|| rng.below(closest.len()))
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
