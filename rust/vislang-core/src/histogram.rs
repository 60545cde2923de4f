//! Bag-of-visual-words encodings of many images at once.
//!
//! All descriptors of all images come in one `n x d` matrix with CSR-style `offsets` (image `i`
//! owns rows `offsets[i]..offsets[i + 1]`). One call
//! 1. finds the `k` nearest words of every descriptor with the blocked GEMM of
//!    [`crate::assign`] (fixed row blocks, so the result does not depend on the thread count);
//! 2. accumulates every image's row in parallel over images, each row in descriptor order in
//!    `f64`;
//! 3. applies tf-idf weights and the normalisation.
//!
//! Encodings:
//! - hard: counts of the nearest word (Sivic & Zisserman 2003; Csurka et al. 2004);
//! - soft: the kernel codebook of van Gemert et al. 2010 (Eq. 6, "KCB"), restricted to the `k`
//!   nearest words: a descriptor at squared distances `d_j^2` gives word `j` the weight
//!   `exp(-d_j^2 / (2 sigma^2))`, normalised to sum 1 per descriptor (computed as
//!   `exp(-(d_j^2 - d_0^2) / (2 sigma^2))` so that far descriptors do not underflow to 0/0);
//! - VLAD (Jégou et al. 2010, Eq. 1): per word, the sum of the residuals `x - c` of the
//!   descriptors assigned to it.
//!
//! Spatial pyramid (Lazebnik et al. 2006): level `l` (position in the `pyramid` list, `L` the
//! last) splits the image into a `g x g` grid; the descriptor at `(x, y)` of an image of size
//! `(h, w)` falls into cell `(floor(y g / h), floor(x g / w))`, clamped to the grid. The levels
//! are weighted as Eq. 3 of the paper: `1 / 2^L` for level 0 and `1 / 2^(L - l + 1)` for the
//! others. Columns are laid out level by level, cell by cell (row-major), then word by word
//! (VLAD: word by word, then dimension).

use rayon::prelude::*;

use crate::assign::{nearest_into_with, Precision};
use crate::{Error, MatRef, Result, Scalar};

/// How descriptors vote for words.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Encoding {
    /// One vote for the nearest word.
    Hard,
    /// Kernel codebook over the `k` nearest words.
    Soft {
        /// Words per descriptor, `1 <= k <= n_words`.
        k: usize,
        /// Gaussian bandwidth; `None`: the median of the positive distances of the descriptors
        /// to their nearest word (over all descriptors of the call; 1 if there is none).
        sigma: Option<f64>,
    },
    /// Residual sums per word (VLAD).
    Vlad,
}

/// Row normalisation, applied after the tf-idf weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Norm {
    /// Leave rows as they are.
    None,
    /// Divide by the sum of absolute values.
    L1,
    /// Divide by the Euclidean norm.
    L2,
    /// Signed square root, then L2: the Hellinger map for histograms, the power normalisation
    /// (alpha = 1/2) of Jégou et al. 2012 for VLAD.
    Power,
}

/// Options of [`encode`].
#[derive(Debug, Clone, PartialEq)]
pub struct EncodeParams {
    /// Encoding scheme.
    pub encoding: Encoding,
    /// Grid sizes of the spatial pyramid, e.g. `[1, 2, 4]`; `[1]` is the plain histogram.
    pub pyramid: Vec<usize>,
    /// Per-column weights (idf), one per output column, applied before `norm`.
    pub idf: Option<Vec<f64>>,
    /// VLAD only: L2-normalise each word's residual block first (Arandjelović & Zisserman
    /// 2013, "intra-normalisation").
    pub intra_norm: bool,
    /// Row normalisation.
    pub norm: Norm,
    /// Candidate precision of the nearest-word search; the encoding is the same for both.
    pub precision: Precision,
}

/// Keypoint positions for spatial pyramids.
#[derive(Debug, Clone, Copy)]
pub struct Layout<'a, T> {
    /// `n x 3` rows of `x` (column), `y` (row), scale; only `x` and `y` are used.
    pub keypoints: MatRef<'a, T>,
    /// `n_images x 2` rows of `(height, width)`.
    pub image_sizes: &'a [i64],
}

/// Encodings of all images.
#[derive(Debug, Clone, PartialEq)]
pub struct Encoded<T> {
    /// Row-major `n_images x n_cols`.
    pub data: Vec<T>,
    /// Number of rows.
    pub n_images: usize,
    /// Columns: `n_words x cells` (VLAD: `n_words x d x cells`).
    pub n_cols: usize,
    /// The soft-assignment bandwidth used (`None` for hard and VLAD).
    pub sigma: Option<f64>,
}

/// Number of spatial cells of a pyramid: the sum of `g^2`.
pub fn n_cells(pyramid: &[usize]) -> usize {
    pyramid.iter().map(|g| g * g).sum()
}

/// Lazebnik et al. 2006, Eq. 3: the weight of each level of the pyramid.
pub fn level_weights(n_levels: usize) -> Vec<f64> {
    let big_l = n_levels.saturating_sub(1);
    (0..n_levels)
        .map(|l| {
            let e = if l == 0 { big_l } else { big_l - l + 1 };
            0.5f64.powi(i32::try_from(e).unwrap_or(i32::MAX))
        })
        .collect()
}

/// Checks CSR offsets against `n` rows; returns the number of images.
pub fn check_offsets(offsets: &[i64], n: usize) -> Result<usize> {
    let Some((&first, _)) = offsets.split_first() else {
        return Err(Error::invalid(
            "offsets",
            "must have length n_images + 1 >= 1, got an empty array",
        ));
    };
    if first != 0 {
        return Err(Error::invalid(
            "offsets",
            format!("must start at 0, got offsets[0]={first}"),
        ));
    }
    for (i, w) in offsets.windows(2).enumerate() {
        if w[1] < w[0] {
            return Err(Error::invalid(
                "offsets",
                format!(
                    "must be non-decreasing, got offsets[{i}]={} > offsets[{}]={}",
                    w[0],
                    i + 1,
                    w[1]
                ),
            ));
        }
    }
    let last = offsets[offsets.len() - 1];
    if usize::try_from(last).ok() != Some(n) {
        return Err(Error::invalid(
            "offsets",
            format!("must end at n_descriptors={n}, got offsets[-1]={last}"),
        ));
    }
    Ok(offsets.len() - 1)
}

fn check_params<T: Scalar>(
    x: MatRef<'_, T>,
    n_images: usize,
    layout: Option<&Layout<'_, T>>,
    centers: MatRef<'_, T>,
    params: &EncodeParams,
) -> Result<usize> {
    centers.check_non_empty("centers")?;
    if x.cols() != centers.cols() {
        return Err(Error::DimensionMismatch {
            name: "descriptors",
            got: x.cols(),
            expected: centers.cols(),
        });
    }
    if params.pyramid.is_empty() {
        return Err(Error::invalid(
            "pyramid",
            "must list at least one grid size",
        ));
    }
    if let Some(p) = params.pyramid.iter().position(|&g| g == 0 || g > 64) {
        return Err(Error::invalid(
            "pyramid",
            format!(
                "grid sizes must be in [1, 64], got {} at position {p}",
                params.pyramid[p]
            ),
        ));
    }
    let n_words = centers.rows();
    match params.encoding {
        Encoding::Soft { k, sigma } => {
            if k == 0 || k > n_words {
                return Err(Error::invalid(
                    "k",
                    format!("must be in [1, n_words={n_words}], got {k}"),
                ));
            }
            if let Some(s) = sigma {
                if !(s.is_finite() && s > 0.0) {
                    return Err(Error::invalid(
                        "sigma",
                        format!("must be finite and > 0, got {s}"),
                    ));
                }
            }
        }
        Encoding::Hard | Encoding::Vlad => {}
    }
    if params.intra_norm && params.encoding != Encoding::Vlad {
        return Err(Error::invalid(
            "intra_norm",
            "applies to the VLAD encoding only",
        ));
    }
    let per_cell = match params.encoding {
        Encoding::Vlad => n_words.checked_mul(centers.cols()),
        _ => Some(n_words),
    };
    let n_cols = per_cell
        .and_then(|p| p.checked_mul(n_cells(&params.pyramid)))
        .ok_or_else(|| Error::invalid("pyramid", "output too large"))?;
    if let Some(idf) = &params.idf {
        if idf.len() != n_cols {
            return Err(Error::invalid(
                "idf",
                format!("has length {}, expected n_columns={n_cols}", idf.len()),
            ));
        }
        if let Some(i) = idf.iter().position(|v| !v.is_finite() || *v < 0.0) {
            return Err(Error::invalid(
                "idf",
                format!("must be finite and >= 0, got {} at index {i}", idf[i]),
            ));
        }
    }
    let needs_layout = params.pyramid.iter().any(|&g| g > 1);
    match layout {
        Some(l) => {
            if l.keypoints.rows() != x.rows() || l.keypoints.cols() < 2 {
                return Err(Error::invalid(
                    "keypoints",
                    format!(
                        "must have shape (n_descriptors, 3) = ({}, 3), got ({}, {})",
                        x.rows(),
                        l.keypoints.rows(),
                        l.keypoints.cols()
                    ),
                ));
            }
            if l.image_sizes.len() != 2 * n_images {
                return Err(Error::invalid(
                    "image_sizes",
                    format!(
                        "must have shape (n_images, 2) = ({n_images}, 2), got {} values",
                        l.image_sizes.len()
                    ),
                ));
            }
            if let Some(i) = l.image_sizes.iter().position(|&s| s < 0) {
                return Err(Error::invalid(
                    "image_sizes",
                    format!("must be >= 0, got {} at image {}", l.image_sizes[i], i / 2),
                ));
            }
            l.keypoints.check_finite("keypoints")?;
        }
        None if needs_layout => {
            return Err(Error::invalid(
                "keypoints",
                "a spatial pyramid with grids > 1 needs keypoints and image_sizes",
            ));
        }
        None => {}
    }
    x.check_finite("descriptors")?;
    centers.check_finite("centers")?;
    Ok(n_cols)
}

/// The grid cell `0..g` of coordinate `v` in an extent of `size` pixels.
#[inline]
fn cell_of(v: f64, g: usize, size: i64) -> usize {
    if size <= 0 || g == 1 {
        return 0;
    }
    // Same float64 operations as the documented formula floor(v * g / size).
    let c = (v * g as f64 / size as f64).floor();
    if c <= 0.0 {
        0
    } else if c >= (g - 1) as f64 {
        g - 1
    } else {
        c as usize
    }
}

/// Column offset of each (level, cell) pair of descriptor `row`, relative to a block size of 1.
fn cell_slots<T: Scalar>(
    pyramid: &[usize],
    layout: Option<&Layout<'_, T>>,
    image: usize,
    row: usize,
    slots: &mut Vec<usize>,
) {
    slots.clear();
    let mut base = 0;
    for &g in pyramid {
        let cell = match layout {
            Some(l) if g > 1 => {
                let kp = l.keypoints.row(row);
                let (h, w) = (l.image_sizes[2 * image], l.image_sizes[2 * image + 1]);
                let cx = cell_of(kp[0].as_f64(), g, w);
                let cy = cell_of(kp[1].as_f64(), g, h);
                cy * g + cx
            }
            _ => 0,
        };
        slots.push(base + cell);
        base += g * g;
    }
}

/// Soft-assignment weights of one descriptor from its ascending squared distances.
#[inline]
fn soft_weights<T: Scalar>(d2: &[T], inv_two_sigma2: f64, out: &mut [f64]) {
    let d0 = d2.first().map_or(0.0, |v| v.as_f64());
    let mut sum = 0.0;
    for (o, d) in out.iter_mut().zip(d2) {
        let delta = d.as_f64() - d0;
        // delta == 0 gives exactly 1 even when sigma underflows (inv = inf): no 0 * inf.
        *o = if delta <= 0.0 {
            1.0
        } else {
            (-delta * inv_two_sigma2).exp()
        };
        sum += *o;
    }
    for o in out.iter_mut() {
        *o /= sum;
    }
}

/// Median of the positive nearest distances (not squared), the default soft-assignment
/// bandwidth; 1 when there is none. Zero distances are left out so that descriptors equal to a
/// word (e.g. the all-zero SIFT of flat patches) cannot collapse the kernel to hard assignment.
fn median_nearest_distance<T: Scalar>(d2: &[T], k: usize) -> f64 {
    let mut v: Vec<f64> = d2
        .chunks(k)
        .filter_map(|r| r.first().map(|d| d.as_f64().max(0.0).sqrt()))
        .filter(|d| *d > 0.0)
        .collect();
    if v.is_empty() {
        return 1.0;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        0.5 * (v[m - 1] + v[m])
    }
}

/// Encodes every image; see the module documentation.
///
/// `x` is `n x d`, `offsets` has `n_images + 1` entries, `centers` is `n_words x d`. A
/// `layout` is required when a grid size is above 1. Images without descriptors give zero rows.
pub fn encode<T: Scalar>(
    x: MatRef<'_, T>,
    offsets: &[i64],
    layout: Option<Layout<'_, T>>,
    centers: MatRef<'_, T>,
    params: &EncodeParams,
) -> Result<Encoded<T>> {
    let n_images = check_offsets(offsets, x.rows())?;
    let n_cols = check_params(x, n_images, layout.as_ref(), centers, params)?;
    let k = match params.encoding {
        Encoding::Soft { k, .. } => k,
        Encoding::Hard | Encoding::Vlad => 1,
    };
    let mut idx = vec![0i64; x.rows() * k];
    let mut d2 = vec![T::zero(); x.rows() * k];
    if x.rows() > 0 {
        nearest_into_with(x, centers, k, params.precision, &mut idx, &mut d2);
    }
    let sigma = match params.encoding {
        Encoding::Soft { sigma, .. } => {
            Some(sigma.unwrap_or_else(|| median_nearest_distance(&d2, k)))
        }
        Encoding::Hard | Encoding::Vlad => None,
    };
    let inv_two_sigma2 = sigma.map_or(0.0, |s| 1.0 / (2.0 * s * s));
    let (d, n_words) = (x.cols(), centers.rows());
    let block = if params.encoding == Encoding::Vlad {
        n_words * d
    } else {
        n_words
    };
    let weights = level_weights(params.pyramid.len());
    let mut data = vec![T::zero(); n_images * n_cols];
    data.par_chunks_mut(n_cols.max(1))
        .enumerate()
        .for_each_init(
            || (vec![0.0f64; n_cols], Vec::new(), vec![0.0f64; k]),
            |(acc, slots, w), (img, out)| {
                acc.fill(0.0);
                let (lo, hi) = (offsets[img] as usize, offsets[img + 1] as usize);
                for row in lo..hi {
                    cell_slots(&params.pyramid, layout.as_ref(), img, row, slots);
                    let ri = &idx[row * k..(row + 1) * k];
                    match params.encoding {
                        Encoding::Hard => {
                            let word = ri[0] as usize;
                            for (&s, &lw) in slots.iter().zip(&weights) {
                                acc[s * block + word] += lw;
                            }
                        }
                        Encoding::Soft { .. } => {
                            soft_weights(&d2[row * k..(row + 1) * k], inv_two_sigma2, w);
                            for (&s, &lw) in slots.iter().zip(&weights) {
                                let dst = &mut acc[s * block..(s + 1) * block];
                                for (&j, &wj) in ri.iter().zip(w.iter()) {
                                    dst[j as usize] += lw * wj;
                                }
                            }
                        }
                        Encoding::Vlad => {
                            let word = ri[0] as usize;
                            let (xr, cr) = (x.row(row), centers.row(word));
                            for (&s, &lw) in slots.iter().zip(&weights) {
                                let start = s * block + word * d;
                                for ((a, &xv), &cv) in
                                    acc[start..start + d].iter_mut().zip(xr).zip(cr)
                                {
                                    *a += lw * (xv.as_f64() - cv.as_f64());
                                }
                            }
                        }
                    }
                }
                finish_row(acc, params, d);
                for (o, a) in out.iter_mut().zip(acc.iter()) {
                    *o = T::from_f64(*a);
                }
            },
        );
    Ok(Encoded {
        data,
        n_images,
        n_cols,
        sigma,
    })
}

/// Intra-normalisation (VLAD), idf weights and the row norm, in `f64`.
fn finish_row(acc: &mut [f64], params: &EncodeParams, d: usize) {
    if params.intra_norm && d > 0 {
        for blk in acc.chunks_mut(d) {
            scale_l2(blk);
        }
    }
    if let Some(idf) = &params.idf {
        for (a, w) in acc.iter_mut().zip(idf) {
            *a *= w;
        }
    }
    apply_norm(acc, params.norm);
}

fn scale_l2(v: &mut [f64]) {
    let n = v.iter().map(|a| a * a).sum::<f64>().sqrt();
    if n > 0.0 {
        for a in v.iter_mut() {
            *a /= n;
        }
    }
}

fn apply_norm(v: &mut [f64], norm: Norm) {
    match norm {
        Norm::None => {}
        Norm::L1 => {
            let s: f64 = v.iter().map(|a| a.abs()).sum();
            if s > 0.0 {
                for a in v.iter_mut() {
                    *a /= s;
                }
            }
        }
        Norm::L2 => scale_l2(v),
        Norm::Power => {
            for a in v.iter_mut() {
                *a = a.signum() * a.abs().sqrt();
            }
            scale_l2(v);
        }
    }
}

/// Applies idf weights (optional) and a norm to every row of a row-major `rows x n_cols`
/// matrix in place, in `f64`; rows are independent, so the result does not depend on threads.
pub fn weight_and_normalize<T: Scalar>(
    data: &mut [T],
    n_cols: usize,
    idf: Option<&[f64]>,
    norm: Norm,
) -> Result<()> {
    if n_cols == 0 {
        return Ok(());
    }
    if !data.len().is_multiple_of(n_cols) {
        return Err(Error::invalid(
            "X",
            format!(
                "buffer of {} values is not a multiple of {n_cols} columns",
                data.len()
            ),
        ));
    }
    if let Some(w) = idf {
        if w.len() != n_cols {
            return Err(Error::invalid(
                "idf",
                format!("has length {}, expected n_columns={n_cols}", w.len()),
            ));
        }
    }
    data.par_chunks_mut(n_cols).for_each_init(
        || vec![0.0f64; n_cols],
        |acc, row| {
            for (a, v) in acc.iter_mut().zip(row.iter()) {
                *a = v.as_f64();
            }
            if let Some(w) = idf {
                for (a, wi) in acc.iter_mut().zip(w) {
                    *a *= wi;
                }
            }
            apply_norm(acc, norm);
            for (v, a) in row.iter_mut().zip(acc.iter()) {
                *v = T::from_f64(*a);
            }
        },
    );
    Ok(())
}

/// Inverse document frequency of each column: `log(N / max(df, 1))` with `df` the number of
/// rows where the column is positive and `N` the number of rows (Sivic & Zisserman 2003).
pub fn idf<T: Scalar>(data: &[T], n_cols: usize) -> Result<Vec<f64>> {
    if n_cols == 0 || !data.len().is_multiple_of(n_cols) {
        return Err(Error::invalid(
            "X",
            format!(
                "buffer of {} values cannot have {n_cols} columns",
                data.len()
            ),
        ));
    }
    let n = data.len() / n_cols;
    if n == 0 {
        return Err(Error::invalid("X", "needs at least one row to learn idf"));
    }
    let mut df = vec![0usize; n_cols];
    for row in data.chunks(n_cols) {
        for (c, v) in df.iter_mut().zip(row) {
            if *v > T::zero() {
                *c += 1;
            }
        }
    }
    Ok(df
        .into_iter()
        .map(|c| (n as f64 / c.max(1) as f64).ln())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mat<'a>(v: &'a [f32], r: usize, c: usize) -> MatRef<'a, f32> {
        MatRef::new("x", v, r, c).unwrap()
    }

    fn params(encoding: Encoding, norm: Norm) -> EncodeParams {
        EncodeParams {
            encoding,
            pyramid: vec![1],
            idf: None,
            intra_norm: false,
            norm,
            precision: Precision::Auto,
        }
    }

    #[test]
    fn hard_counts_per_image() {
        let x = [0.0f32, 0.1, 5.0, 0.2, 4.9, 5.0];
        let c = [0.0f32, 5.0];
        let e = encode(
            mat(&x, 6, 1),
            &[0, 2, 2, 6],
            None,
            mat(&c, 2, 1),
            &params(Encoding::Hard, Norm::None),
        )
        .unwrap();
        assert_eq!((e.n_images, e.n_cols), (3, 2));
        assert_eq!(e.data, vec![2.0, 0.0, 0.0, 0.0, 1.0, 3.0]);
        assert_eq!(e.sigma, None);
    }

    #[test]
    fn soft_weights_sum_to_one_and_favor_the_nearest() {
        let x = [1.0f32];
        let c = [0.0f32, 3.0, 10.0];
        let p = params(
            Encoding::Soft {
                k: 2,
                sigma: Some(1.0),
            },
            Norm::None,
        );
        let e = encode(mat(&x, 1, 1), &[0, 1], None, mat(&c, 3, 1), &p).unwrap();
        let want0 = 1.0 / (1.0 + (-(4.0 - 1.0) / 2.0f64).exp());
        assert!((f64::from(e.data[0]) - want0).abs() < 1e-6);
        assert!((f64::from(e.data[0] + e.data[1]) - 1.0).abs() < 1e-6);
        assert_eq!(e.data[2], 0.0);
        assert_eq!(e.sigma, Some(1.0));
    }

    #[test]
    fn tiny_sigma_does_not_give_nan() {
        let x = [1.0f32, 2.0];
        let c = [0.0f32, 3.0];
        let p = params(
            Encoding::Soft {
                k: 2,
                sigma: Some(1e-300),
            },
            Norm::L1,
        );
        let e = encode(mat(&x, 2, 1), &[0, 2], None, mat(&c, 2, 1), &p).unwrap();
        assert_eq!(e.data, vec![0.5, 0.5]);
    }

    #[test]
    fn pyramid_cells_and_level_weights() {
        // Two descriptors in the top-left and bottom-right quadrants of a 10 x 10 image.
        let x = [0.0f32, 0.0];
        let kp = [1.0f32, 1.0, 1.0, 9.0, 9.0, 1.0];
        let c = [0.0f32];
        let p = EncodeParams {
            pyramid: vec![1, 2],
            ..params(Encoding::Hard, Norm::None)
        };
        let layout = Layout {
            keypoints: mat(&kp, 2, 3),
            image_sizes: &[10, 10],
        };
        let e = encode(mat(&x, 2, 1), &[0, 2], Some(layout), mat(&c, 1, 1), &p).unwrap();
        assert_eq!(e.n_cols, 5);
        assert_eq!(e.data, vec![1.0, 0.5, 0.0, 0.0, 0.5]);
        assert_eq!(level_weights(3), vec![0.25, 0.25, 0.5]);
        assert_eq!(level_weights(1), vec![1.0]);
    }

    #[test]
    fn vlad_residuals_with_intra_and_power_norm() {
        let x = [1.0f32, 0.0, 3.0, 0.0, 10.0, 4.0];
        let c = [0.0f32, 0.0, 10.0, 0.0];
        let mut p = params(Encoding::Vlad, Norm::None);
        let e = encode(mat(&x, 3, 2), &[0, 3], None, mat(&c, 2, 2), &p).unwrap();
        assert_eq!(e.data, vec![4.0, 0.0, 0.0, 4.0]);
        p.intra_norm = true;
        p.norm = Norm::Power;
        let e = encode(mat(&x, 3, 2), &[0, 3], None, mat(&c, 2, 2), &p).unwrap();
        let h = std::f32::consts::FRAC_1_SQRT_2;
        assert!(e
            .data
            .iter()
            .zip([h, 0.0, 0.0, h])
            .all(|(a, b)| (a - b).abs() < 1e-6));
    }

    #[test]
    fn norms_and_idf() {
        let mut v = [3.0f64, 4.0];
        apply_norm(&mut v, Norm::L2);
        assert_eq!(v, [0.6, 0.8]);
        let mut v = [1.0f64, 3.0];
        apply_norm(&mut v, Norm::L1);
        assert_eq!(v, [0.25, 0.75]);
        let mut v = [0.0f64, 0.0];
        apply_norm(&mut v, Norm::Power);
        assert_eq!(v, [0.0, 0.0]);
        let w = idf(&[1.0f32, 0.0, 2.0, 0.0], 2).unwrap();
        assert_eq!(w, vec![0.0, 2.0f64.ln()]);
        let mut data = [1.0f32, 1.0];
        weight_and_normalize(&mut data, 2, Some(&[0.0, 2.0]), Norm::L1).unwrap();
        assert_eq!(data, [0.0, 1.0]);
    }

    #[test]
    fn errors_name_the_argument() {
        let x = [0.0f32, 1.0];
        let c = [0.0f32];
        let hard = params(Encoding::Hard, Norm::L2);
        let err = encode(mat(&x, 2, 1), &[0, 3], None, mat(&c, 1, 1), &hard).unwrap_err();
        assert_eq!(
            err.to_string(),
            "offsets: must end at n_descriptors=2, got offsets[-1]=3"
        );
        let err = encode(mat(&x, 2, 1), &[0, 2, 1, 2], None, mat(&c, 1, 1), &hard).unwrap_err();
        assert!(err.to_string().contains("non-decreasing"));
        let soft = params(Encoding::Soft { k: 2, sigma: None }, Norm::L2);
        let err = encode(mat(&x, 2, 1), &[0, 2], None, mat(&c, 1, 1), &soft).unwrap_err();
        assert_eq!(err.to_string(), "k: must be in [1, n_words=1], got 2");
        let pyr = EncodeParams {
            pyramid: vec![1, 2],
            ..hard.clone()
        };
        let err = encode(mat(&x, 2, 1), &[0, 2], None, mat(&c, 1, 1), &pyr).unwrap_err();
        assert!(err.to_string().contains("needs keypoints"));
        let bad = [0.0f32, f32::NAN];
        let err = encode(mat(&bad, 2, 1), &[0, 2], None, mat(&c, 1, 1), &hard).unwrap_err();
        assert_eq!(err.to_string(), "descriptors contains NaN or inf at row 1");
    }

    #[test]
    fn one_and_two_threads_give_identical_bits() {
        // A small LCG: deterministic data without extra dependencies.
        let mut state = 12345u64;
        let mut next = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
            ((state >> 33) as f32) / (1u64 << 31) as f32
        };
        let (n, d, k, n_images) = (3000, 16, 40, 37);
        let x: Vec<f32> = (0..n * d).map(|_| next()).collect();
        let c: Vec<f32> = (0..k * d).map(|_| next()).collect();
        let kp: Vec<f32> = (0..n * 3).map(|_| next() * 32.0).collect();
        let offsets: Vec<i64> = (0..=n_images).map(|i| (i * n / n_images) as i64).collect();
        let sizes = vec![32i64; 2 * n_images];
        for encoding in [
            Encoding::Hard,
            Encoding::Soft { k: 5, sigma: None },
            Encoding::Vlad,
        ] {
            let p = EncodeParams {
                pyramid: vec![1, 2],
                ..params(encoding, Norm::Power)
            };
            let run = |threads: usize| {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                pool.install(|| {
                    let layout = Layout {
                        keypoints: mat(&kp, n, 3),
                        image_sizes: &sizes,
                    };
                    encode(mat(&x, n, d), &offsets, Some(layout), mat(&c, k, d), &p).unwrap()
                })
            };
            let (a, b) = (run(1), run(2));
            let bits = |e: &Encoded<f32>| e.data.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&a), bits(&b), "{encoding:?}");
        }
    }

    #[test]
    fn empty_input_gives_zero_rows() {
        let x: [f32; 0] = [];
        let c = [0.0f32, 1.0];
        let p = params(Encoding::Soft { k: 2, sigma: None }, Norm::L2);
        let e = encode(mat(&x, 0, 1), &[0, 0, 0], None, mat(&c, 2, 1), &p).unwrap();
        assert_eq!(e.data, vec![0.0; 4]);
        assert_eq!(e.sigma, Some(1.0));
    }
}
