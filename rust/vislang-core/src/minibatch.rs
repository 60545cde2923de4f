//! One step of mini-batch k-means (Sculley 2010, in scikit-learn's per-batch form).
//!
//! Each centre is the running weighted mean of all points ever assigned to it: with `v_j` the
//! weight seen so far and `S_j`, `W_j` the batch's weighted sum and weight for centre `j`,
//! `c_j <- (v_j c_j + S_j) / (v_j + W_j)` and `v_j <- v_j + W_j`. This equals Sculley's per-point
//! update with learning rate `1 / v_j` applied to the batch at once.

use crate::accumulate::cluster_sums;
use crate::assign::nearest_into;
use crate::{Error, MatRef, Result, Scalar};

/// What one step saw and produced: the batch's labels and squared distances before the
/// update, and the updated centres and counts.
#[derive(Debug, Clone)]
pub struct BatchStep<T> {
    /// Centre of each batch row before the update.
    pub labels: Vec<i64>,
    /// Exact squared distance of each batch row to that centre.
    pub sq_distances: Vec<T>,
    /// Weighted batch inertia before the update.
    pub inertia: f64,
    /// The updated centres (`k x d`, row-major).
    pub centers: Vec<T>,
    /// The updated weight seen per centre (`k`).
    pub counts: Vec<f64>,
}

/// One step on `batch` from `centers` (`k x d`) and `counts` (`k`), with every input check of
/// the public API (matching features and lengths, finite values, valid weights, distances that
/// fit the dtype).
pub fn step<T: Scalar>(
    batch: MatRef<'_, T>,
    weights: Option<&[T]>,
    centers: MatRef<'_, T>,
    counts: &[f64],
) -> Result<BatchStep<T>> {
    let (n, d, k) = (batch.rows(), batch.cols(), centers.rows());
    if centers.cols() != d {
        return Err(Error::DimensionMismatch {
            name: "X",
            got: d,
            expected: centers.cols(),
        });
    }
    if counts.len() != k {
        return Err(Error::LengthMismatch {
            name: "counts",
            got: counts.len(),
            expected_name: "n_clusters",
            expected: k,
        });
    }
    centers.check_non_empty("centers")?;
    batch.check_finite("X")?;
    crate::matrix::check_weights(weights, n)?;
    centers.check_finite("centers")?;
    let mass = weights.map_or(n as f64, |w| w.iter().map(|v| v.as_f64()).sum());
    crate::kmeans::check_distance_scale("X", &[batch, centers], mass)?;
    if let Some(j) = counts.iter().position(|v| !v.is_finite() || *v < 0.0) {
        return Err(Error::invalid(
            "counts",
            format!("must be finite and >= 0, got {} at {j}", counts[j]),
        ));
    }
    let mut out = BatchStep {
        labels: vec![0; n],
        sq_distances: vec![T::zero(); n],
        inertia: 0.0,
        centers: centers.as_slice().to_vec(),
        counts: counts.to_vec(),
    };
    nearest_into(batch, centers, 1, &mut out.labels, &mut out.sq_distances);
    out.inertia = out
        .sq_distances
        .iter()
        .enumerate()
        .map(|(i, v)| v.as_f64() * weights.map_or(1.0, |w| w[i].as_f64()))
        .sum();
    let (sums, wsum) = cluster_sums(batch, weights, &out.labels, k);
    for j in 0..k {
        if wsum[j] <= 0.0 {
            continue;
        }
        let total = out.counts[j] + wsum[j];
        for (cv, s) in out.centers[j * d..(j + 1) * d]
            .iter_mut()
            .zip(&sums[j * d..(j + 1) * d])
        {
            *cv = T::from_f64((cv.as_f64() * out.counts[j] + s) / total);
        }
        out.counts[j] = total;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_mean_of_all_batches() {
        let mut centers = vec![0.0f64, 10.0];
        let mut counts = vec![0.0, 0.0];
        let b1 = [1.0, 2.0, 9.0];
        let b2 = [3.0, 11.0, 13.0];
        for b in [&b1[..], &b2[..]] {
            let x = MatRef::new("X", b, 3, 1).unwrap();
            let c = MatRef::new("centers", &centers, 2, 1).unwrap();
            let s = step(x, None, c, &counts).unwrap();
            (centers, counts) = (s.centers, s.counts);
        }
        assert_eq!(centers, vec![2.0, 11.0]);
        assert_eq!(counts, vec![3.0, 3.0]);
    }

    #[test]
    fn checks_shapes_and_counts() {
        let x = [0.0f64, 1.0, 2.0, 3.0, 4.0, 5.0];
        let x = MatRef::new("X", &x, 2, 3).unwrap();
        let c = [0.0f64; 6];
        let c3 = MatRef::new("centers", &c, 2, 3).unwrap();
        let c2 = MatRef::new("centers", &c[..4], 2, 2).unwrap();
        let msg = |r: Result<BatchStep<f64>>| r.unwrap_err().to_string();
        assert_eq!(
            msg(step(x, None, c2, &[0.0; 2])),
            "X has 3 features, expected 2"
        );
        assert_eq!(
            msg(step(x, None, c3, &[0.0; 3])),
            "counts has length 3, expected n_clusters=2"
        );
        assert_eq!(
            msg(step(x, None, c3, &[0.0, -1.0])),
            "counts: must be finite and >= 0, got -1 at 1"
        );
        let empty = MatRef::new("centers", &c[..0], 0, 3).unwrap();
        assert_eq!(
            msg(step(x, None, empty, &[])),
            "centers: must be non-empty, got shape (0, 3)"
        );
    }
}
