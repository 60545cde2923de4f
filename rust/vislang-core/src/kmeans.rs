//! k-means: Lloyd and Hamerly iterations over seeded centres, with `n_init` restarts.
//!
//! Both algorithms run the same steps and give the same result:
//! 1. assignment: the nearest centre of every point ([`crate::assign`]); Hamerly (2010) keeps an
//!    upper bound to the own centre and a lower bound to the second nearest and recomputes only
//!    the points whose bounds overlap, so late iterations touch few points;
//! 2. update: weighted means per cluster, summed in `f64` in point order (counting sort by label),
//!    so the result does not depend on the thread count; empty clusters take the points farthest
//!    from their centres (as scikit-learn does);
//! 3. stop when labels no longer change or the squared centre shift is `<= tol`.

use rayon::prelude::*;

use crate::accumulate::cluster_sums;
use crate::assign::{nearest_gathered_into, nearest_into};
use crate::rng::Rng;
use crate::seeding::{kmeans_plus_plus, random_rows};
use crate::{Error, MatRef, Result, Scalar};

/// How the first centres are chosen.
#[derive(Debug, Clone, Copy)]
pub enum Init<'a, T> {
    /// Greedy k-means++ with the given number of local trials (`None`: `2 + ln k`).
    KMeansPlusPlus(Option<usize>),
    /// `k` distinct rows drawn uniformly.
    Random,
    /// Explicit centres, `k x d`.
    Centers(MatRef<'a, T>),
}

/// The iteration scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// Full assignment every iteration.
    Lloyd,
    /// Bound-pruned assignment (Hamerly 2010); same result as Lloyd.
    Hamerly,
}

/// Options of [`fit`].
#[derive(Debug, Clone)]
pub struct KMeansParams {
    /// Number of clusters `k`.
    pub n_clusters: usize,
    /// Iterations per run.
    pub max_iter: usize,
    /// Stop when the sum of squared centre moves is `<=` this (absolute).
    pub tol: f64,
    /// Independent runs; the one with the lowest inertia is kept.
    pub n_init: usize,
    /// Seed of the run's random stream.
    pub seed: u64,
    /// Iteration scheme.
    pub algorithm: Algorithm,
}

/// Progress of one iteration, passed to the callback.
#[derive(Debug, Clone, Copy)]
pub struct IterInfo {
    /// Run index in `0..n_init`.
    pub run: usize,
    /// Iteration index within the run.
    pub iter: usize,
    /// Weighted inertia of the centres this iteration assigned to.
    pub inertia: f64,
    /// Sum of squared centre moves of this iteration's update.
    pub shift: f64,
    /// Points whose distances to all centres were computed in this iteration.
    pub n_full_rows: usize,
}

/// A fitted k-means model.
#[derive(Debug, Clone)]
pub struct KMeansFit<T> {
    /// Centres, row-major `k x d`.
    pub centers: Vec<T>,
    /// Cluster of each point.
    pub labels: Vec<i64>,
    /// Weighted sum of squared distances to the own centre.
    pub inertia: f64,
    /// Iterations run by the kept run.
    pub n_iter: usize,
    /// Inertia of the kept run's seeds.
    pub seed_inertia: f64,
}

/// Runs k-means on `x` (optionally weighted). `callback` sees every iteration; returning
/// `false` stops with [`Error::Interrupted`].
pub fn fit<T: Scalar>(
    x: MatRef<'_, T>,
    weights: Option<&[T]>,
    init: Init<'_, T>,
    params: &KMeansParams,
    callback: &mut dyn FnMut(&IterInfo) -> bool,
) -> Result<KMeansFit<T>> {
    let (n, d, k) = (x.rows(), x.cols(), params.n_clusters);
    x.check_non_empty("X")?;
    if k == 0 {
        return Err(Error::invalid("n_clusters", "must be >= 1, got 0"));
    }
    if k > n {
        return Err(Error::TooFewSamples { k, n });
    }
    if n > u32::MAX as usize {
        return Err(Error::invalid(
            "X",
            format!("at most {} rows are supported, got {n}", u32::MAX),
        ));
    }
    crate::matrix::check_weights(weights, n)?;
    if let Some(w) = weights {
        if w.iter().all(|v| *v == T::zero()) {
            return Err(Error::invalid("sample_weight", "must have a positive sum"));
        }
    }
    x.check_finite("X")?;
    if let Init::Centers(c) = init {
        if c.rows() != k || c.cols() != d {
            return Err(Error::invalid(
                "init",
                format!(
                    "must have shape ({k}, {d}), got ({}, {})",
                    c.rows(),
                    c.cols()
                ),
            ));
        }
        c.check_finite("init")?;
    }
    let mass = weights.map_or(n as f64, |w| w.iter().map(|v| v.as_f64()).sum());
    match init {
        Init::Centers(c) => check_distance_scale("X", &[x, c], mass)?,
        _ => check_distance_scale("X", &[x], mass)?,
    }
    let n_init = if matches!(init, Init::Centers(_)) {
        1
    } else {
        params.n_init.max(1)
    };
    let mut rng = Rng::new(params.seed);
    let mut best: Option<KMeansFit<T>> = None;
    for run in 0..n_init {
        let mut run_rng = Rng::new(rng.next_u64());
        let centers = match init {
            Init::Centers(c) => c.as_slice().to_vec(),
            Init::KMeansPlusPlus(trials) => {
                let t = trials.unwrap_or_else(|| crate::seeding::default_local_trials(k));
                gather_rows(x, &kmeans_plus_plus(x, weights, k, t, &mut run_rng))
            }
            Init::Random => gather_rows(x, &random_rows(n, k, &mut run_rng)),
        };
        let fit = run_one(x, weights, centers, params, run, callback)?;
        if best.as_ref().is_none_or(|b| fit.inertia < b.inertia) {
            best = Some(fit);
        }
    }
    best.ok_or_else(|| Error::invalid("n_init", "no run was made"))
}

/// Checks that no squared distance between rows of `mats` overflows `T`, and that their sum
/// over a data set of total weight `mass` stays finite in `f64`.
///
/// Every kernel computes `|x - c|^2`, directly or as `|x|^2 + |c|^2 - 2 x.c`, with all terms
/// bounded by `(|x| + |c|)^2 <= 4 R^2` (`R` the largest row norm). Overflowing distances turn
/// into inf/NaN comparisons (k-means++ then never accepts a candidate), so such data is
/// refused with a message that names the scale. Inputs must be finite (checked first).
pub fn check_distance_scale<T: Scalar>(
    name: &'static str,
    mats: &[MatRef<'_, T>],
    mass: f64,
) -> Result<()> {
    let (mut r2, mut amax) = (0.0f64, 0.0f64);
    for m in mats {
        let (a, b) = m
            .as_slice()
            .par_chunks(m.cols().max(1))
            .map(|row| {
                row.iter().fold((0.0f64, 0.0f64), |(s, a), v| {
                    let v = v.as_f64();
                    (s + v * v, a.max(v.abs()))
                })
            })
            .reduce(|| (0.0, 0.0), |p, q| (p.0.max(q.0), p.1.max(q.1)));
        r2 = r2.max(a);
        amax = amax.max(b);
    }
    // 4 R^2 within 80% of the largest value of `T`; the weighted sum within half of f64's.
    let limit_t = 0.2 * T::max_value().as_f64();
    let limit_sum = f64::MAX / (8.0 * mass.max(1.0));
    if r2 <= limit_t && r2 <= limit_sum {
        return Ok(());
    }
    let ty = if std::mem::size_of::<T>() == 4 {
        "float32"
    } else {
        "float64"
    };
    let what = if r2 > limit_t {
        format!("squared distances overflow {ty}")
    } else {
        "the sum of squared distances overflows float64".to_string()
    };
    Err(Error::invalid(
        name,
        format!("has values up to {amax:.1e}: {what}; rescale {name} (e.g. divide it by its largest absolute value)"),
    ))
}

fn gather_rows<T: Scalar>(x: MatRef<'_, T>, rows: &[usize]) -> Vec<T> {
    let mut out = Vec::with_capacity(rows.len() * x.cols());
    for &r in rows {
        out.extend_from_slice(x.row(r));
    }
    out
}

/// Assignment state carried between iterations.
struct State<T> {
    labels: Vec<i64>,
    /// Exact squared distance to the own centre.
    dist2: Vec<T>,
    /// Hamerly: lower bound of the distance to the second nearest centre.
    lower: Vec<T>,
}

fn run_one<T: Scalar>(
    x: MatRef<'_, T>,
    weights: Option<&[T]>,
    mut centers: Vec<T>,
    params: &KMeansParams,
    run: usize,
    callback: &mut dyn FnMut(&IterInfo) -> bool,
) -> Result<KMeansFit<T>> {
    let (n, d, k) = (x.rows(), x.cols(), params.n_clusters);
    let hamerly = params.algorithm == Algorithm::Hamerly && k > 1;
    let mut st = State {
        labels: vec![0; n],
        dist2: vec![T::zero(); n],
        lower: Vec::new(),
    };
    full_assign(x, &centers, k, hamerly, &mut st);
    let seed_inertia = inertia(weights, &st.dist2);
    let mut labels_old: Vec<i64> = Vec::new();
    let mut drift = vec![T::zero(); k];
    let mut strict = false;
    let mut n_iter = 0;
    for it in 0..params.max_iter {
        let n_full = if it == 0 {
            n
        } else if hamerly {
            pruned_assign(x, &centers, k, &drift, &mut st)
        } else {
            full_assign(x, &centers, k, false, &mut st);
            n
        };
        let inertia_it = inertia(weights, &st.dist2);
        let (new_centers, relocated) =
            update_centers(x, weights, &st.labels, &st.dist2, k, &centers);
        if hamerly {
            // A relocated point's old centre is now "another" centre: its lower bound is void.
            for &p in &relocated {
                st.lower[p] = T::zero();
            }
        }
        let mut shift = 0.0;
        for j in 0..k {
            let s = T::sq_dist(
                &new_centers[j * d..(j + 1) * d],
                &centers[j * d..(j + 1) * d],
            );
            drift[j] = s.sqrt();
            shift += s.as_f64();
        }
        centers = new_centers;
        n_iter = it + 1;
        let info = IterInfo {
            run,
            iter: it,
            inertia: inertia_it,
            shift,
            n_full_rows: n_full,
        };
        if !callback(&info) {
            return Err(Error::Interrupted);
        }
        // Unchanged labels mean converged, unless this update relocated a centre (then the
        // labels no longer match the centres and one more assignment is due).
        if relocated.is_empty() && st.labels == labels_old {
            strict = true;
            break;
        }
        if shift <= params.tol {
            break;
        }
        labels_old.clone_from(&st.labels);
    }
    if !strict {
        // Labels that match the final centres.
        if hamerly && n_iter > 0 {
            pruned_assign(x, &centers, k, &drift, &mut st);
        } else {
            full_assign(x, &centers, k, hamerly, &mut st);
        }
    }
    let inertia = inertia(weights, &st.dist2);
    Ok(KMeansFit {
        centers,
        labels: st.labels,
        inertia,
        n_iter,
        seed_inertia,
    })
}

fn inertia<T: Scalar>(weights: Option<&[T]>, dist2: &[T]) -> f64 {
    // Fixed-size chunks summed in order: independent of the thread count.
    let parts: Vec<f64> = match weights {
        Some(w) => dist2
            .par_chunks(4096)
            .zip(w.par_chunks(4096))
            .map(|(d, w)| d.iter().zip(w).map(|(d, w)| d.as_f64() * w.as_f64()).sum())
            .collect(),
        None => dist2
            .par_chunks(4096)
            .map(|d| d.iter().map(|d| d.as_f64()).sum())
            .collect(),
    };
    parts.iter().sum()
}

fn full_assign<T: Scalar>(x: MatRef<'_, T>, centers: &[T], k: usize, two: bool, st: &mut State<T>) {
    let c = MatRef::new("centers", centers, k, x.cols()).unwrap_or(x.slice_rows(0, 0));
    if !two {
        nearest_into(x, c, 1, &mut st.labels, &mut st.dist2);
        return;
    }
    let n = x.rows();
    let mut idx = vec![0i64; n * 2];
    let mut dd = vec![T::zero(); n * 2];
    nearest_into(x, c, 2, &mut idx, &mut dd);
    st.lower.resize(n, T::zero());
    for i in 0..n {
        st.labels[i] = idx[2 * i];
        st.dist2[i] = dd[2 * i];
        st.lower[i] = dd[2 * i + 1].sqrt();
    }
}

/// Hamerly's assignment given the centre drifts of the last update. Returns the number of points
/// whose distances to all centres were recomputed.
fn pruned_assign<T: Scalar>(
    x: MatRef<'_, T>,
    centers: &[T],
    k: usize,
    drift: &[T],
    st: &mut State<T>,
) -> usize {
    let d = x.cols();
    let c = MatRef::new("centers", centers, k, d).unwrap_or(x.slice_rows(0, 0));
    // Largest and second largest drift: the lower bound of a point moves by the largest drift
    // among the centres other than its own.
    let (mut m1, mut m2, mut a1) = (T::zero(), T::zero(), 0usize);
    for (j, &p) in drift.iter().enumerate() {
        if p > m1 {
            m2 = m1;
            m1 = p;
            a1 = j;
        } else if p > m2 {
            m2 = p;
        }
    }
    // Half the distance from each centre to its nearest other centre.
    let mut cidx = vec![0i64; k * 2];
    let mut cd = vec![T::zero(); k * 2];
    nearest_into(c, c, 2, &mut cidx, &mut cd);
    let half = T::from_f64(0.5);
    let s: Vec<T> = (0..k)
        .map(|j| {
            let other = if cidx[2 * j] as usize == j {
                cd[2 * j + 1]
            } else {
                cd[2 * j]
            };
            half * other.sqrt()
        })
        .collect();
    // Slack that keeps the test conservative under rounding, so that only points with a clear
    // margin are skipped and near-ties are decided by the same kernel as Lloyd's.
    let rel = T::from_f64(if std::mem::size_of::<T>() == 4 {
        1e-4
    } else {
        1e-10
    });
    let one = T::one();
    let labels = &st.labels;
    let marked: Vec<usize> = st
        .dist2
        .par_iter_mut()
        .zip(st.lower.par_iter_mut())
        .enumerate()
        .filter_map(|(i, (d2, l))| {
            let a = labels[i] as usize;
            *l = *l - if a == a1 { m2 } else { m1 };
            *d2 = T::sq_dist(x.row(i), c.row(a));
            let bound = if s[a] > *l { s[a] } else { *l };
            let u = d2.sqrt();
            if u * (one + rel) < bound {
                None
            } else {
                Some(i)
            }
        })
        .collect();
    if marked.is_empty() {
        return 0;
    }
    let mut idx = vec![0i64; marked.len() * 2];
    let mut dd = vec![T::zero(); marked.len() * 2];
    nearest_gathered_into(x, &marked, c, 2, &mut idx, &mut dd);
    for (t, &i) in marked.iter().enumerate() {
        st.labels[i] = idx[2 * t];
        st.dist2[i] = dd[2 * t];
        st.lower[i] = dd[2 * t + 1].sqrt();
    }
    marked.len()
}

/// New centres: cluster means; empty clusters are moved to the points farthest from their
/// centre (labels are left as assigned, as scikit-learn does). Returns the relocated points too.
fn update_centers<T: Scalar>(
    x: MatRef<'_, T>,
    weights: Option<&[T]>,
    labels: &[i64],
    dist2: &[T],
    k: usize,
    old: &[T],
) -> (Vec<T>, Vec<usize>) {
    let d = x.cols();
    let (mut sums, mut wsum) = cluster_sums(x, weights, labels, k);
    let empty: Vec<usize> = (0..k).filter(|&j| wsum[j] <= 0.0).collect();
    let relocated = if empty.is_empty() {
        Vec::new()
    } else {
        relocate_empty(x, weights, labels, dist2, &empty, &mut sums, &mut wsum)
    };
    let mut out = old.to_vec();
    for j in 0..k {
        if wsum[j] > 0.0 {
            for (o, s) in out[j * d..(j + 1) * d]
                .iter_mut()
                .zip(&sums[j * d..(j + 1) * d])
            {
                *o = T::from_f64(s / wsum[j]);
            }
        }
    }
    (out, relocated)
}

fn relocate_empty<T: Scalar>(
    x: MatRef<'_, T>,
    weights: Option<&[T]>,
    labels: &[i64],
    dist2: &[T],
    empty: &[usize],
    sums: &mut [f64],
    wsum: &mut [f64],
) -> Vec<usize> {
    let d = x.cols();
    let n = x.rows();
    let take = empty.len().min(n);
    // Farthest points first; equal distances by lower index (deterministic).
    let mut order: Vec<usize> = (0..n).collect();
    let cmp = |a: &usize, b: &usize| {
        dist2[*b]
            .partial_cmp(&dist2[*a])
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.cmp(b))
    };
    if take < n {
        order.select_nth_unstable_by(take, cmp);
        order.truncate(take);
    }
    order.sort_by(cmp);
    for (&e, &p) in empty.iter().zip(&order) {
        let wp = weights.map_or(1.0, |w| w[p].as_f64());
        let old = labels[p] as usize;
        let xp = x.row(p);
        for (a, v) in sums[old * d..(old + 1) * d].iter_mut().zip(xp) {
            *a -= wp * v.as_f64();
        }
        wsum[old] -= wp;
        if wsum[old] <= 0.0 {
            wsum[old] = 0.0;
        }
        // A zero-weight point still gives the empty cluster a position.
        let we = if wp > 0.0 { wp } else { 1.0 };
        for (a, v) in sums[e * d..(e + 1) * d].iter_mut().zip(xp) {
            *a = we * v.as_f64();
        }
        wsum[e] = we;
    }
    order.truncate(empty.len());
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blobs() -> Vec<f64> {
        let mut v = Vec::new();
        for b in 0..3 {
            for i in 0..40 {
                v.push(b as f64 * 10.0 + ((i * 7) % 11) as f64 * 0.05);
                v.push(((i * 3) % 13) as f64 * 0.05);
            }
        }
        v
    }

    fn params(algorithm: Algorithm) -> KMeansParams {
        KMeansParams {
            n_clusters: 3,
            max_iter: 50,
            tol: 0.0,
            n_init: 2,
            seed: 5,
            algorithm,
        }
    }

    #[test]
    fn finds_three_blobs_and_hamerly_matches_lloyd() {
        let data = blobs();
        let x = MatRef::new("X", &data, 120, 2).unwrap();
        let a = fit(
            x,
            None,
            Init::KMeansPlusPlus(None),
            &params(Algorithm::Lloyd),
            &mut |_| true,
        )
        .unwrap();
        let b = fit(
            x,
            None,
            Init::KMeansPlusPlus(None),
            &params(Algorithm::Hamerly),
            &mut |_| true,
        )
        .unwrap();
        assert_eq!(a.labels, b.labels);
        assert_eq!(a.centers, b.centers);
        for blob in 0..3 {
            let l = a.labels[blob * 40];
            assert!(a.labels[blob * 40..(blob + 1) * 40].iter().all(|&v| v == l));
        }
    }

    #[test]
    fn empty_cluster_is_relocated() {
        // Two identical starting centres: one of them gets no points and must move.
        let data = blobs();
        let x = MatRef::new("X", &data, 120, 2).unwrap();
        let init = vec![0.0, 0.0, 0.0, 0.0, 20.0, 0.0];
        let c = MatRef::new("init", &init, 3, 2).unwrap();
        let f = fit(
            x,
            None,
            Init::Centers(c),
            &params(Algorithm::Lloyd),
            &mut |_| true,
        )
        .unwrap();
        let mut used: Vec<i64> = f.labels.clone();
        used.sort_unstable();
        used.dedup();
        assert_eq!(used.len(), 3);
    }

    #[test]
    fn overflowing_distances_are_an_error_not_a_hang() {
        // Up to 1e20 in float32: squared distances overflow to inf.
        let data: Vec<f32> = (0..64).map(|i| ((i * 37) % 11) as f32 * 1e19).collect();
        let x = MatRef::new("X", &data, 16, 4).unwrap();
        let mut p = params(Algorithm::Lloyd);
        p.n_clusters = 4;
        for init in [Init::KMeansPlusPlus(None), Init::Random] {
            let e = fit(x, None, init, &p, &mut |_| true).unwrap_err();
            let msg = e.to_string();
            assert!(msg.contains("overflow float32"), "{msg}");
            assert!(msg.contains("values up to 1.0e20"), "{msg}");
        }
        // The seeding itself terminates on such data.
        let seeds = crate::seeding::kmeans_plus_plus(x, None, 4, 3, &mut Rng::new(0));
        let mut s = seeds.clone();
        s.sort_unstable();
        s.dedup();
        assert_eq!(s.len(), 4);
        // 1e17 still fits.
        let small: Vec<f32> = data.iter().map(|v| v / 100.0).collect();
        let x = MatRef::new("X", &small, 16, 4).unwrap();
        assert!(fit(x, None, Init::KMeansPlusPlus(None), &p, &mut |_| true).is_ok());
    }

    #[test]
    fn too_many_clusters_is_an_error() {
        let data = [0.0f32, 1.0];
        let x = MatRef::new("X", &data, 2, 1).unwrap();
        let mut p = params(Algorithm::Lloyd);
        p.n_clusters = 5;
        let e = fit(x, None, Init::Random, &p, &mut |_| true).unwrap_err();
        assert_eq!(e.to_string(), "n_clusters=5 must be <= n_samples=2");
    }
}
