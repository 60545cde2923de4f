//! Dense SIFT the way VLFeat's `vl_dsift` computes it (Vedaldi & Fulkerson 2010), as used by
//! `vl_phow` (the PHOW features of Bosch et al. 2007).
//!
//! Instead of describing each grid point on its own (OpenCV's per-keypoint SIFT), one pass per
//! image and bin size `s` builds everything that all descriptors of that size share:
//! 1. the image, scaled to `[0, 1]`, is smoothed with a Gaussian of standard deviation
//!    `sqrt(max((s / magnif)^2 - 1/4, 0))` (`vl_phow`: the image is assumed to carry a blur of
//!    1/2 pixel already), truncated at `ceil(4 sigma)` taps and normalised, borders replicated;
//! 2. gradients by central differences (one-sided on the first and last row / column, zero
//!    along an axis of length 1);
//! 3. the gradient magnitude is soft-binned into 8 orientation planes: the orientation
//!    `theta = atan2(-gy, gx)` in `[0, 2 pi)` (y up, OpenCV's convention) falls at
//!    `t = 8 theta / (2 pi)` and plane `o` gets `m * max(0, 1 - circular |t - o|)`;
//! 4. bilinear spatial binning is a separable triangular filter: the 4 x 4 bins of a descriptor
//!    at grid point `(kx, ky)` are centred at `k + (b - 1.5) s` (`b = 0..3`, bins of `s`
//!    pixels, a `4 s` wide patch as OpenCV's `KeyPoint.size = 2 s / 3`) and a pixel at offset
//!    `u` from a bin centre weighs `max(0, 1 - |u| / s) / s` along each axis. Pixels outside
//!    the image contribute nothing. The filter is evaluated only at the rows and columns the
//!    grid needs (a vertical pass per grid row and bin row, then a horizontal gather);
//! 5. spatial weighting: [`Window::Flat`] (VLFeat's "fast" mode) multiplies bin `(bx, by)` by
//!    the Gaussian window at its centre, `g(bx) g(by)` with
//!    `g(b) = exp(-((b - 1.5) / window_size)^2 / 2)`; [`Window::Gaussian`] multiplies every
//!    pixel by `exp(-(u / (window_size s))^2 / 2)`, `u` its offset from the grid point;
//! 6. the 128 values (`(by * 4 + bx) * 8 + o`, OpenCV's layout) are L2-normalised, clamped at
//!    0.2 and renormalised (Lowe 2004, Sect. 6.1). A descriptor whose raw norm is at most
//!    `contrast_threshold` (or below 1e-6) is all zeros (`vl_phow`'s contrast threshold);
//! 7. optionally quantised as OpenCV's SIFT (`min(255, round_half_even(512 v))`), then
//!    optionally mapped to RootSIFT (L1-normalise, square root; Arandjelović & Zisserman 2012).
//!
//! Grid: `x = step / 2 + i step < width`, `y = step / 2 + j step < height` (integer pixel
//! centres), the same for all sizes. Output rows are grouped by size, row-major within a size;
//! a multi-channel image gives the descriptors of each channel side by side (`128 c` columns).
//!
//! Images run in parallel (rayon), each on one thread with `O(height x width x 8)` scratch; the
//! result does not depend on the thread count. The inner loops are written over contiguous
//! slices and fixed 8-lane arrays so that the compiler vectorises them (portable code, no
//! explicit SIMD).

use rayon::prelude::*;

use crate::{Error, Result};

/// Values per descriptor and channel: 4 x 4 spatial bins x 8 orientations.
pub const DESCRIPTOR_DIMS: usize = 128;
const ORI: usize = 8;
const MAX_SIZE: f64 = 4096.0;
const MAX_SIGMA: f64 = 1024.0;
/// Raw norms below this are treated as flat (float noise of the smoothing), whatever the
/// contrast threshold.
const MIN_NORM: f32 = 1e-6;

/// Spatial weighting of the descriptor window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// One Gaussian factor per bin (VLFeat's "fast" flat-window approximation).
    Flat,
    /// A Gaussian weight per pixel.
    Gaussian,
}

/// Parameters of [`describe_batch`].
#[derive(Debug, Clone, PartialEq)]
pub struct DsiftParams {
    /// Grid spacing in pixels, `>= 1`.
    pub step: usize,
    /// Spatial bin sizes in pixels, each in `(0, 4096]`; one descriptor per grid point each.
    pub sizes: Vec<f64>,
    /// PHOW's smoothing ratio: the Gaussian has standard deviation `size / magnif`.
    pub magnif: f64,
    /// Spatial weighting.
    pub window: Window,
    /// Standard deviation of the spatial window in bins (PHOW: 1.5).
    pub window_size: f64,
    /// Descriptors whose raw L2 norm is at most this are zero (PHOW: 0.005).
    pub contrast_threshold: f64,
    /// Quantise as OpenCV's SIFT: `min(255, round(512 v))`.
    pub quantize: bool,
    /// Map to RootSIFT after (optional) quantisation.
    pub root: bool,
}

impl Default for DsiftParams {
    fn default() -> Self {
        Self {
            step: 8,
            sizes: vec![4.0, 6.0, 8.0, 10.0],
            magnif: 6.0,
            window: Window::Flat,
            window_size: 1.5,
            contrast_threshold: 0.005,
            quantize: true,
            root: false,
        }
    }
}

/// A borrowed uint8 image, row-major `(height, width, channels)` with channels interleaved.
#[derive(Debug, Clone, Copy)]
pub struct Image<'a> {
    /// `height * width * channels` pixels.
    pub data: &'a [u8],
    /// Rows, `>= 1`.
    pub height: usize,
    /// Columns, `>= 1`.
    pub width: usize,
    /// Channels, `>= 1`; each is described separately.
    pub channels: usize,
}

/// Grid coordinates along an axis of `len` pixels: `step / 2 + i step < len`.
#[must_use]
pub fn grid(len: usize, step: usize) -> Vec<usize> {
    if step == 0 {
        return Vec::new();
    }
    (step / 2..len).step_by(step).collect()
}

/// Descriptors (rows) of an image of `height x width` pixels.
#[must_use]
pub fn n_descriptors(height: usize, width: usize, params: &DsiftParams) -> usize {
    grid(height, params.step).len() * grid(width, params.step).len() * params.sizes.len()
}

/// Checks the parameters; the messages name the offending one.
///
/// # Errors
/// [`Error::InvalidInput`] for `step == 0`, no sizes, a size outside `(0, 4096]`, a
/// non-positive `magnif` or `window_size`, a smoothing sigma `size / magnif > 1024`, or a
/// negative or non-finite `contrast_threshold`.
pub fn check_params(params: &DsiftParams) -> Result<()> {
    if params.step == 0 {
        return Err(Error::invalid("step", "must be >= 1, got 0"));
    }
    if params.sizes.is_empty() {
        return Err(Error::invalid("sizes", "must not be empty"));
    }
    if !(params.magnif.is_finite() && params.magnif > 0.0) {
        return Err(Error::invalid(
            "magnif",
            format!("must be a positive number, got {}", params.magnif),
        ));
    }
    for (i, &s) in params.sizes.iter().enumerate() {
        if !(s.is_finite() && s > 0.0 && s <= MAX_SIZE) {
            return Err(Error::invalid(
                "sizes",
                format!("sizes[{i}]={s} must lie in (0, {MAX_SIZE}]"),
            ));
        }
        if s / params.magnif > MAX_SIGMA {
            return Err(Error::invalid(
                "magnif",
                format!(
                    "sizes[{i}] / magnif = {} is a smoothing sigma above {MAX_SIGMA}",
                    s / params.magnif
                ),
            ));
        }
    }
    if !(params.window_size.is_finite() && params.window_size > 0.0) {
        return Err(Error::invalid(
            "window_size",
            format!("must be a positive number, got {}", params.window_size),
        ));
    }
    if !(params.contrast_threshold.is_finite() && params.contrast_threshold >= 0.0) {
        return Err(Error::invalid(
            "contrast_threshold",
            format!("must be a number >= 0, got {}", params.contrast_threshold),
        ));
    }
    Ok(())
}

fn check_image(index: usize, img: &Image<'_>) -> Result<()> {
    if img.height == 0 || img.width == 0 {
        return Err(Error::invalid(
            "images",
            format!("image {index} is empty: {} x {}", img.height, img.width),
        ));
    }
    if img.channels == 0 {
        return Err(Error::invalid(
            "images",
            format!("image {index} has 0 channels"),
        ));
    }
    let expected = img
        .height
        .checked_mul(img.width)
        .and_then(|a| a.checked_mul(img.channels));
    if expected != Some(img.data.len()) {
        return Err(Error::invalid(
            "images",
            format!(
                "image {index} has {} values, expected {} x {} x {}",
                img.data.len(),
                img.height,
                img.width,
                img.channels
            ),
        ));
    }
    Ok(())
}

/// Dense SIFT descriptors of every image.
///
/// Returns the descriptors, row-major of shape `(n, 128 * channels)` (all images of a batch
/// must then have the same channel count), and the number of rows of each image.
///
/// # Errors
/// [`Error::InvalidInput`] for bad parameters ([`check_params`]), an empty image, zero
/// channels, a buffer that does not match its shape, or images with different channel counts;
/// the message names the image by its index.
pub fn describe_batch(
    images: &[Image<'_>],
    params: &DsiftParams,
) -> Result<(Vec<f32>, Vec<usize>)> {
    check_params(params)?;
    let channels = images.first().map_or(1, |im| im.channels);
    for (i, im) in images.iter().enumerate() {
        check_image(i, im)?;
        if im.channels != channels {
            return Err(Error::invalid(
                "images",
                format!(
                    "image {i} has {} channels, image 0 has {channels}",
                    im.channels
                ),
            ));
        }
    }
    let dims = DESCRIPTOR_DIMS * channels;
    let counts: Vec<usize> = images
        .iter()
        .map(|im| n_descriptors(im.height, im.width, params))
        .collect();
    let total: usize = counts.iter().sum();
    let mut out = vec![0.0f32; total * dims];
    // One disjoint output slice per image: no per-image buffers to concatenate afterwards.
    let mut parts: Vec<(&Image<'_>, &mut [f32])> = Vec::with_capacity(images.len());
    let mut rest: &mut [f32] = &mut out;
    for (im, &c) in images.iter().zip(&counts) {
        let (head, tail) = rest.split_at_mut(c * dims);
        parts.push((im, head));
        rest = tail;
    }
    let level = crate::isa::current();
    // The tables depend on the extent only through clipping taps that no image can reach, so
    // one set for the largest image serves the whole batch.
    let extent = images
        .iter()
        .map(|im| im.height.max(im.width))
        .max()
        .unwrap_or(1);
    let tables = batch_tables(params, extent);
    let tables = &tables;
    parts.into_par_iter().with_min_len(1).for_each(|(im, dst)| {
        SCRATCH.with(|cell| match cell.try_borrow_mut() {
            Ok(mut scratch) => describe_into_isa(level, im, params, tables, &mut scratch, dst),
            // Re-entered on this thread (rayon work stealing inside a call): fresh buffers.
            Err(_) => describe_into_isa(level, im, params, tables, &mut Scratch::default(), dst),
        });
    });
    Ok((out, counts))
}

/// Dense SIFT descriptors of one image, of shape `(n, 128 * channels)`.
///
/// # Errors
/// As [`describe_batch`].
pub fn describe(image: &Image<'_>, params: &DsiftParams) -> Result<Vec<f32>> {
    describe_batch(std::slice::from_ref(image), params).map(|(d, _)| d)
}

thread_local! {
    // Per-thread buffers, kept between calls: a fresh 2 MB plane buffer per image costs page
    // faults comparable to the filtering itself. They hold O(height x width x 8) floats of
    // the largest image this thread has described.
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// Per-thread buffers, reused across images.
#[derive(Default)]
struct Scratch {
    gray: Vec<f64>,
    smooth: Vec<f64>,
    tmp: Vec<f64>,
    pad: Vec<f64>,
    gx: Vec<f32>,
    gy: Vec<f32>,
    rowbuf: Vec<f32>,
    colvals: Vec<f32>,
    rows: AxisPlan,
    cols: AxisPlan,
    users: Vec<(usize, usize, usize)>,
    user_start: Vec<usize>,
    order: Vec<usize>,
    /// Open vertical accumulators (bin row, `w x 8` sums) and spare ones.
    active: Vec<(usize, Vec<f32>)>,
    pool: Vec<Vec<f32>>,
}

/// One evaluation of a bin's triangular filter along an axis, shared by every (grid point,
/// bin) pair whose bin centre falls on the same pixel (flat window, integer bin offsets: e.g.
/// bin size = step, where neighbouring descriptors share three of their four bin rows).
#[derive(Clone, Copy)]
struct Centre {
    /// First pixel, first tap and number of taps after clipping to the image.
    first: usize,
    k0: usize,
    n: usize,
    /// The bin whose taps are used.
    bin: usize,
}

/// The distinct filter evaluations along one axis and, per grid index and bin, which one.
#[derive(Default)]
struct AxisPlan {
    centres: Vec<Centre>,
    of: Vec<[usize; 4]>,
    keys: std::collections::HashMap<isize, usize>,
}

impl AxisPlan {
    fn build(&mut self, ks: &[usize], t: &SizeTables, n: usize) {
        self.centres.clear();
        self.of.clear();
        self.keys.clear();
        for &k in ks {
            let mut idx = [0usize; 4];
            for (b, slot) in idx.iter_mut().enumerate() {
                let (first, k0, cnt) = clip(k, &t.bins[b], n);
                let c = Centre {
                    first,
                    k0,
                    n: cnt,
                    bin: b,
                };
                *slot = match t.shift[b] {
                    #[allow(clippy::cast_possible_wrap)]
                    Some(d) => *self.keys.entry(k as isize + d).or_insert_with(|| {
                        self.centres.push(c);
                        self.centres.len() - 1
                    }),
                    None => {
                        self.centres.push(c);
                        self.centres.len() - 1
                    }
                };
            }
            self.of.push(idx);
        }
    }
}

/// Weights of one spatial bin along one axis: offsets `start..start + w.len()` from the grid
/// point.
struct Taps {
    start: isize,
    w: Vec<f32>,
}

/// Everything that depends only on the bin size (and the image extent, which bounds the taps).
struct SizeTables {
    gauss: Vec<f64>,
    bins: [Taps; 4],
    flat: [f32; 4],
    /// Offset of each bin's centre from the grid point where the taps depend only on the
    /// pixel's offset from that centre (flat window, integer offset): bins of different grid
    /// points with the same absolute centre then share one filter evaluation.
    shift: [Option<isize>; 4],
}

fn batch_tables(params: &DsiftParams, extent: usize) -> Vec<SizeTables> {
    params
        .sizes
        .iter()
        .map(|&size| size_tables(size, params, extent))
        .collect()
}

fn smoothing_sigma(size: f64, magnif: f64) -> f64 {
    let s = size / magnif;
    (s * s - 0.25).max(0.0).sqrt()
}

fn gaussian_kernel(sigma: f64) -> Vec<f64> {
    if sigma < 0.01 {
        return vec![1.0];
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let r = (4.0 * sigma).ceil() as usize;
    #[allow(clippy::cast_precision_loss)]
    let g: Vec<f64> = (0..=2 * r)
        .map(|k| {
            let d = k as f64 - r as f64;
            (-0.5 * (d / sigma) * (d / sigma)).exp()
        })
        .collect();
    let sum: f64 = g.iter().sum();
    g.iter().map(|v| v / sum).collect()
}

#[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
fn size_tables(size: f64, params: &DsiftParams, extent: usize) -> SizeTables {
    let sigma_w = params.window_size * size;
    let lim = extent as isize;
    let make = |b: usize| {
        let delta = (b as f64 - 1.5) * size;
        // Pixels strictly inside the triangle's support, clipped to offsets an image can hold.
        let lo = ((delta - size).floor() as isize + 1).max(-lim);
        let hi = ((delta + size).ceil() as isize - 1).min(lim);
        let w = (lo..=hi)
            .map(|u| {
                let uf = u as f64;
                let tri = (1.0 - (uf - delta).abs() / size).max(0.0) / size;
                let win = match params.window {
                    Window::Flat => 1.0,
                    Window::Gaussian => (-0.5 * (uf / sigma_w) * (uf / sigma_w)).exp(),
                };
                (tri * win) as f32
            })
            .collect();
        Taps { start: lo, w }
    };
    let flat = std::array::from_fn(|b| match params.window {
        Window::Flat => {
            let z = (b as f64 - 1.5) / params.window_size;
            (-0.5 * z * z).exp() as f32
        }
        Window::Gaussian => 1.0,
    });
    let shift = std::array::from_fn(|b| {
        let delta = (b as f64 - 1.5) * size;
        (params.window == Window::Flat && delta.fract() == 0.0).then_some(delta as isize)
    });
    SizeTables {
        gauss: gaussian_kernel(smoothing_sigma(size, params.magnif)),
        bins: std::array::from_fn(make),
        flat,
        shift,
    }
}

// The whole per-image pipeline compiled once per ISA level (the loops auto-vectorise; Rust
// never contracts a * b + c into an FMA, so every level gives the same bits).
crate::multiversion!(
    fn describe_into_isa[](
        img: &Image<'_>,
        params: &DsiftParams,
        tables: &[SizeTables],
        s: &mut Scratch,
        dst: &mut [f32],
    ) = describe_into
);

// The stages are `inline(always)` so that each is compiled for the caller's ISA level.
#[inline(always)]
fn describe_into(
    img: &Image<'_>,
    params: &DsiftParams,
    tables: &[SizeTables],
    s: &mut Scratch,
    dst: &mut [f32],
) {
    let (h, w, c) = (img.height, img.width, img.channels);
    let xs = grid(w, params.step);
    let ys = grid(h, params.step);
    let per_size = xs.len() * ys.len();
    if per_size == 0 {
        return;
    }
    let dims = DESCRIPTOR_DIMS * c;
    s.gray.resize(h * w, 0.0);
    for ch in 0..c {
        for (g, px) in s.gray.iter_mut().zip(img.data.iter().skip(ch).step_by(c)) {
            *g = f64::from(*px) / 255.0;
        }
        for (si, t) in tables.iter().enumerate() {
            smooth(s, h, w, &t.gauss);
            let block = &mut dst[si * per_size * dims..(si + 1) * per_size * dims];
            planes_and_gather(s, h, w, &xs, &ys, t, block, dims, ch * DESCRIPTOR_DIMS);
        }
    }
    for row in dst.chunks_exact_mut(DESCRIPTOR_DIMS) {
        finish(row, params);
    }
}

/// Separable Gaussian smoothing of `s.gray` into `s.smooth`, replicated borders.
///
/// In `f64`, as the gradients: their rounding error is then relative to the gradient, not to
/// the grey level, so near-flat patches keep their (small) orientation histograms exactly
/// enough for the contrast threshold and the normalisation.
#[inline(always)]
fn smooth(s: &mut Scratch, h: usize, w: usize, g: &[f64]) {
    s.smooth.resize(h * w, 0.0);
    if g.len() == 1 {
        s.smooth.copy_from_slice(&s.gray);
        return;
    }
    let r = g.len() / 2;
    s.tmp.resize(h * w, 0.0);
    s.pad.resize(w + 2 * r, 0.0);
    // Horizontal: pad the row, then accumulate tap by tap over contiguous x (vectorises).
    for y in 0..h {
        let src = &s.gray[y * w..(y + 1) * w];
        let first = src[0];
        let last = src[w - 1];
        s.pad[..r].fill(first);
        s.pad[r..r + w].copy_from_slice(src);
        s.pad[r + w..].fill(last);
        let out = &mut s.tmp[y * w..(y + 1) * w];
        // Symmetric kernel: one multiply per pair of taps.
        for (o, &p) in out.iter_mut().zip(&s.pad[r..r + w]) {
            *o = g[r] * p;
        }
        for (k, &gk) in g.iter().enumerate().take(r) {
            let (a, b) = (&s.pad[k..k + w], &s.pad[2 * r - k..2 * r - k + w]);
            for ((o, &p), &q) in out.iter_mut().zip(a).zip(b) {
                *o += gk * (p + q);
            }
        }
    }
    // Vertical: each output row is a weighted sum of (clamped) input rows.
    for y in 0..h {
        let out = &mut s.smooth[y * w..(y + 1) * w];
        for (o, &p) in out.iter_mut().zip(&s.tmp[y * w..(y + 1) * w]) {
            *o = g[r] * p;
        }
        for (k, &gk) in g.iter().enumerate().take(r) {
            let ya = (y + k).saturating_sub(r);
            let yb = (y + 2 * r - k).saturating_sub(r).min(h - 1);
            let (a, b) = (&s.tmp[ya * w..(ya + 1) * w], &s.tmp[yb * w..(yb + 1) * w]);
            for ((o, &p), &q) in out.iter_mut().zip(a).zip(b) {
                *o += gk * (p + q);
            }
        }
    }
}

/// `atan(a)` for `a` in `[0, 1]`: a least-squares odd polynomial, error below 7e-7 rad.
#[inline]
fn atan01(a: f32) -> f32 {
    let z = a * a;
    let p = 0.008_096_993_f32;
    let p = p * z - 0.037_750_93;
    let p = p * z + 0.084_758_975;
    let p = p * z - 0.135_376_47;
    let p = p * z + 0.198_950_22;
    let p = p * z - 0.333_279_76;
    let p = p * z + 0.999_999_7;
    a * p
}

/// `atan2(y, x)` mapped to `[0, 2 pi)`, branch-free so that a row of pixels vectorises.
#[inline]
fn angle_2pi(y: f32, x: f32) -> f32 {
    use std::f32::consts::{FRAC_PI_2, PI, TAU};
    let (ax, ay) = (x.abs(), y.abs());
    let (mx, mn) = if ax > ay { (ax, ay) } else { (ay, ax) };
    let a = if mx > 0.0 { mn / mx } else { 0.0 };
    let mut t = atan01(a);
    t = if ay > ax { FRAC_PI_2 - t } else { t };
    t = if x < 0.0 { PI - t } else { t };
    t = if y < 0.0 { TAU - t } else { t };
    if t >= TAU {
        0.0
    } else {
        t
    }
}

/// Row `y` of the gradients of `img` (`h x w`) soft-binned into 8 interleaved orientation
/// planes (`w x 8` values into `out`); `gx`, `gy` are `w`-long scratch rows.
#[allow(clippy::cast_possible_truncation, clippy::many_single_char_names)]
#[inline(always)]
fn plane_row(
    img: &[f64],
    h: usize,
    w: usize,
    y: usize,
    gx: &mut [f32],
    gy: &mut [f32],
    out: &mut [f32],
) {
    const BINS_PER_RAD: f32 = 8.0 / std::f32::consts::TAU;
    const LANES: [f32; ORI] = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0];
    let row = &img[y * w..(y + 1) * w];
    // x gradient: central differences, one-sided at the ends, zero for a single column.
    if w == 1 {
        gx[0] = 0.0;
    } else {
        gx[0] = (row[1] - row[0]) as f32;
        gx[w - 1] = (row[w - 1] - row[w - 2]) as f32;
        for ((g, &a), &b) in gx[1..w - 1].iter_mut().zip(&row[..w - 2]).zip(&row[2..]) {
            *g = (0.5 * (b - a)) as f32;
        }
    }
    if h == 1 {
        gy.fill(0.0);
    } else {
        let (up, down, half) = if y == 0 {
            (0, 1, 1.0)
        } else if y == h - 1 {
            (h - 2, h - 1, 1.0)
        } else {
            (y - 1, y + 1, 0.5)
        };
        let (ru, rd) = (&img[up * w..(up + 1) * w], &img[down * w..(down + 1) * w]);
        for ((g, &a), &b) in gy.iter_mut().zip(ru).zip(rd) {
            *g = (half * (b - a)) as f32;
        }
    }
    // Magnitude and orientation (in bins) over the row: branch-free, vectorises.
    for (gx, gy) in gx.iter_mut().zip(gy.iter_mut()) {
        let m = (*gx * *gx + *gy * *gy).sqrt();
        // y grows downwards in the image: -gy makes the angle counter-clockwise (OpenCV).
        let t = angle_2pi(-*gy, *gx) * BINS_PER_RAD;
        *gx = m;
        *gy = t;
    }
    // Soft binning: plane o gets `m * max(0, 1 - circular |t - o|)`, 8 lanes per pixel
    // without branches or scattered stores (vectorises).
    for ((px, &m), &t) in out.chunks_exact_mut(ORI).zip(&*gx).zip(&*gy) {
        for (p, &o) in px.iter_mut().zip(&LANES) {
            let d = t - o;
            let d = if d < 0.0 { -d } else { d };
            let e = 8.0 - d;
            let d = if e < d { e } else { d };
            let v = 1.0 - d;
            *p = m * if v > 0.0 { v } else { 0.0 };
        }
    }
}

/// Offsets `start..start + len` from `k`, clipped to `0..n`: (first pixel, first tap, count).
#[inline]
fn clip(k: usize, taps: &Taps, n: usize) -> (usize, usize, usize) {
    #[allow(clippy::cast_possible_wrap)]
    let lo = k as isize + taps.start;
    #[allow(clippy::cast_possible_wrap)]
    let hi = (lo + taps.w.len() as isize).min(n as isize);
    let first = lo.max(0);
    if hi <= first {
        return (0, 0, 0);
    }
    #[allow(clippy::cast_sign_loss)]
    (first as usize, (first - lo) as usize, (hi - first) as usize)
}

/// Orientation planes of `s.smooth` and the separable triangular filtering evaluated at the
/// bin centres, written into the raw descriptors of one size and channel (`block` rows of
/// `dims` values, channel offset `col`).
///
/// One pass down the image: each row of orientation planes is computed once, into a row
/// buffer, and added into the vertical accumulators of the bin rows whose taps cover it (few
/// at a time, cache-resident: no full-image plane buffer). When a bin row is complete, its
/// distinct bin columns (8 orientations at once) are evaluated and copied to every descriptor
/// that uses them. Distinct means [`AxisPlan`]'s sharing: e.g. with bin size = step,
/// neighbouring descriptors share three of their four bin rows and columns.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn planes_and_gather(
    s: &mut Scratch,
    h: usize,
    w: usize,
    xs: &[usize],
    ys: &[usize],
    t: &SizeTables,
    block: &mut [f32],
    dims: usize,
    col: usize,
) {
    let Scratch {
        smooth,
        gx,
        gy,
        rowbuf,
        colvals,
        rows,
        cols,
        users,
        user_start,
        order,
        active,
        pool,
        ..
    } = s;
    gx.resize(w, 0.0);
    gy.resize(w, 0.0);
    rowbuf.resize(w * ORI, 0.0);
    rows.build(ys, t, h);
    cols.build(xs, t, w);
    colvals.resize(cols.centres.len() * ORI, 0.0);
    // The users (grid row, bin row) of each distinct bin row, grouped by centre.
    users.clear();
    for (j, idx) in rows.of.iter().enumerate() {
        for (by, &r) in idx.iter().enumerate() {
            users.push((r, j, by));
        }
    }
    users.sort_unstable();
    user_start.clear();
    user_start.resize(rows.centres.len() + 1, 0);
    for &(r, _, _) in users.iter() {
        user_start[r + 1] += 1;
    }
    for r in 0..rows.centres.len() {
        user_start[r + 1] += user_start[r];
    }
    // Bin rows in the order their taps start.
    order.clear();
    order.extend(0..rows.centres.len());
    order.sort_by_key(|&r| (rows.centres[r].first, r));
    active.clear();
    let nx = xs.len();
    let mut next = 0;
    let mut finish_row = |r: usize, acc: &[f32], colvals: &mut [f32]| {
        // Horizontal pass at each distinct bin column, 8 orientations at a time.
        for (cc, out) in cols.centres.iter().zip(colvals.chunks_exact_mut(ORI)) {
            let mut sum = [0.0f32; ORI];
            for (dx, &wx) in t.bins[cc.bin].w[cc.k0..cc.k0 + cc.n].iter().enumerate() {
                let p = &acc[(cc.first + dx) * ORI..(cc.first + dx + 1) * ORI];
                for (a, &v) in sum.iter_mut().zip(p) {
                    *a += wx * v;
                }
            }
            out.copy_from_slice(&sum);
        }
        // Every (grid row, bin row) on this centre, every grid column and bin column.
        for &(_, j, by) in &users[user_start[r]..user_start[r + 1]] {
            for (i, cidx) in cols.of.iter().enumerate() {
                let row = &mut block[(j * nx + i) * dims + col..][..DESCRIPTOR_DIMS];
                for (bx, &c) in cidx.iter().enumerate() {
                    let f = t.flat[bx] * t.flat[by];
                    let src = &colvals[c * ORI..(c + 1) * ORI];
                    let out = &mut row[(by * 4 + bx) * ORI..(by * 4 + bx + 1) * ORI];
                    for (o, &a) in out.iter_mut().zip(src) {
                        *o = a * f;
                    }
                }
            }
        }
    };
    for y in 0..h {
        // Open the bin rows whose taps start here (empty ones are finished at once).
        while next < order.len() && rows.centres[order[next]].first <= y {
            let r = order[next];
            next += 1;
            let mut buf = pool.pop().unwrap_or_default();
            buf.clear();
            buf.resize(w * ORI, 0.0);
            if rows.centres[r].n == 0 {
                finish_row(r, &buf, colvals);
                pool.push(buf);
            } else {
                active.push((r, buf));
            }
        }
        if active.is_empty() {
            continue;
        }
        plane_row(smooth, h, w, y, gx, gy, rowbuf);
        let mut a = 0;
        while a < active.len() {
            let r = active[a].0;
            let rc = rows.centres[r];
            let wy = t.bins[rc.bin].w[rc.k0 + (y - rc.first)];
            for (d, &p) in active[a].1.iter_mut().zip(rowbuf.iter()) {
                *d += wy * p;
            }
            if y + 1 == rc.first + rc.n {
                let (r, buf) = active.swap_remove(a);
                finish_row(r, &buf, colvals);
                pool.push(buf);
            } else {
                a += 1;
            }
        }
    }
    // Bin rows that start below the image (none: `clip` empties them) or never closed.
    while next < order.len() {
        let r = order[next];
        next += 1;
        let buf = vec![0.0f32; w * ORI];
        finish_row(r, &buf, colvals);
    }
    debug_assert!(active.is_empty());
}

/// Sum of squares (`square`) or sum in 8 interleaved partial sums, added in a fixed order:
/// vectorises (a single running `f32` sum cannot be reordered by the compiler).
#[inline]
fn sum8(d: &[f32], square: bool) -> f32 {
    let mut acc = [0.0f32; ORI];
    for c in d.chunks_exact(ORI) {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a += if square { v * v } else { v };
        }
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]))
}

/// Normalise, clamp at 0.2, renormalise, then optionally quantise and root one descriptor.
#[inline(always)]
fn finish(d: &mut [f32], params: &DsiftParams) {
    let norm = sum8(d, true).sqrt();
    #[allow(clippy::cast_possible_truncation)]
    let thr = params.contrast_threshold as f32;
    if norm <= thr || norm < MIN_NORM {
        d.fill(0.0);
        return;
    }
    let inv = 1.0 / norm;
    for v in d.iter_mut() {
        let x = *v * inv;
        *v = if x > 0.2 { 0.2 } else { x };
    }
    let norm2 = sum8(d, true).sqrt().max(f32::EPSILON);
    let inv2 = 1.0 / norm2;
    for v in d.iter_mut() {
        *v *= inv2;
    }
    if params.quantize {
        // Round half to even as OpenCV's cvRound: adding and removing 2^23 leaves an f32 in
        // [0, 2^23) rounded by the FPU's default mode (a libm call per value otherwise).
        const MAGIC: f32 = 8_388_608.0;
        for v in d.iter_mut() {
            let r = (512.0 * *v + MAGIC) - MAGIC;
            *v = if r > 255.0 { 255.0 } else { r };
        }
    }
    if params.root {
        let l1 = sum8(d, false);
        if l1 > 0.0 {
            let inv = 1.0 / l1;
            for v in d.iter_mut() {
                *v = (*v * inv).sqrt();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atan_matches_std() {
        for i in -200..=200 {
            for j in -200..=200 {
                let (y, x) = (i as f32 * 0.37, j as f32 * 0.53);
                if x == 0.0 && y == 0.0 {
                    continue;
                }
                let mut want = y.atan2(x);
                if want < 0.0 {
                    want += std::f32::consts::TAU;
                }
                let got = angle_2pi(y, x);
                let diff = (got - want).abs();
                let diff = diff.min(std::f32::consts::TAU - diff);
                assert!(diff < 2e-6, "{y} {x}: {got} vs {want}");
            }
        }
    }

    #[test]
    fn every_isa_level_gives_the_same_bits() {
        let (h, w, c) = (37, 53, 3);
        let data: Vec<u8> = (0..h * w * c)
            .map(|i| ((i * 7919 + i / 13) % 256) as u8)
            .collect();
        let img = Image {
            data: &data,
            height: h,
            width: w,
            channels: c,
        };
        for window in [Window::Flat, Window::Gaussian] {
            let params = DsiftParams {
                step: 4,
                window,
                ..DsiftParams::default()
            };
            let n = n_descriptors(h, w, &params) * c * 128;
            let mut want = vec![0.0f32; n];
            let tables = batch_tables(&params, h.max(w));
            describe_into(&img, &params, &tables, &mut Scratch::default(), &mut want);
            for isa in crate::isa::Isa::ALL {
                let mut got = vec![0.0f32; n];
                let mut s = Scratch::default();
                describe_into_isa(isa, &img, &params, &tables, &mut s, &mut got);
                assert!(
                    got.iter()
                        .zip(&want)
                        .all(|(a, b)| a.to_bits() == b.to_bits()),
                    "{} differs from the scalar path ({window:?})",
                    isa.name()
                );
            }
        }
    }

    #[test]
    fn grid_matches_python() {
        assert_eq!(grid(32, 8), vec![4, 12, 20, 28]);
        assert_eq!(grid(4, 8), Vec::<usize>::new());
        assert_eq!(grid(5, 8), vec![4]);
        assert_eq!(grid(1, 1), vec![0]);
    }

    #[test]
    fn flat_image_gives_zeros_and_shapes() {
        let data = vec![200u8; 40 * 30];
        let img = Image {
            data: &data,
            height: 40,
            width: 30,
            channels: 1,
        };
        let d = describe(&img, &DsiftParams::default()).unwrap();
        assert_eq!(d.len(), 5 * 4 * 4 * 128);
        assert!(d.iter().all(|&v| v == 0.0));
    }

    #[test]
    fn vertical_edge_votes_horizontal_orientation() {
        // Dark left half, bright right half: the gradient points along +x, orientation bin 0.
        let (h, w) = (32, 32);
        let data: Vec<u8> = (0..h * w)
            .map(|i| if i % w < 16 { 0 } else { 255 })
            .collect();
        let img = Image {
            data: &data,
            height: h,
            width: w,
            channels: 1,
        };
        let p = DsiftParams {
            step: 16,
            sizes: vec![4.0],
            quantize: false,
            ..Default::default()
        };
        let d = describe(&img, &p).unwrap();
        // grid point (8, 8): bins at x = 2, 6, 10, 14 ... the edge at 15.5 is within bin 3's reach.
        let row = &d[..128];
        let sum_o: Vec<f32> = (0..8)
            .map(|o| row.iter().skip(o).step_by(8).sum())
            .collect();
        assert!(sum_o[0] > 0.9 * sum_o.iter().sum::<f32>(), "{sum_o:?}");
    }

    #[test]
    fn thread_count_does_not_matter() {
        let data: Vec<u8> = (0..64 * 48)
            .map(|i| ((i * 37 + i / 7) % 251) as u8)
            .collect();
        let imgs: Vec<Image<'_>> = (0..6)
            .map(|_| Image {
                data: &data,
                height: 64,
                width: 48,
                channels: 1,
            })
            .collect();
        let p = DsiftParams::default();
        let run = |t| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(t)
                .build()
                .unwrap()
                .install(|| describe_batch(&imgs, &p).unwrap())
        };
        assert_eq!(run(1), run(2));
    }

    #[test]
    fn bad_parameters_are_named() {
        let data = vec![0u8; 4];
        let img = Image {
            data: &data,
            height: 2,
            width: 2,
            channels: 1,
        };
        let p = DsiftParams {
            step: 0,
            ..Default::default()
        };
        assert!(describe(&img, &p).unwrap_err().to_string().contains("step"));
        let p = DsiftParams {
            sizes: vec![4.0, -1.0],
            ..Default::default()
        };
        assert!(describe(&img, &p)
            .unwrap_err()
            .to_string()
            .contains("sizes[1]"));
        let p = DsiftParams {
            magnif: 0.0,
            ..Default::default()
        };
        assert!(describe(&img, &p)
            .unwrap_err()
            .to_string()
            .contains("magnif"));
        let bad = Image {
            data: &data,
            height: 3,
            width: 2,
            channels: 1,
        };
        let e = describe_batch(&[img, bad], &DsiftParams::default()).unwrap_err();
        assert!(e.to_string().contains("image 1"), "{e}");
    }

    crate::multiversion!(fn smooth_isa[](s: &mut Scratch, h: usize, w: usize, g: &[f64]) = smooth);
    fn all_plane_rows(s: &mut Scratch, h: usize, w: usize) {
        s.gx.resize(w, 0.0);
        s.gy.resize(w, 0.0);
        s.rowbuf.resize(w * ORI, 0.0);
        for y in 0..h {
            plane_row(&s.smooth, h, w, y, &mut s.gx, &mut s.gy, &mut s.rowbuf);
        }
    }
    crate::multiversion!(fn plane_rows_isa[](s: &mut Scratch, h: usize, w: usize) = all_plane_rows);
    crate::multiversion!(fn finish_isa[](d: &mut [f32], p: &DsiftParams) = finish);
    fn gather_plain(
        s: &mut Scratch,
        (h, w): (usize, usize),
        xs: &[usize],
        ys: &[usize],
        t: &SizeTables,
        block: &mut [f32],
    ) {
        planes_and_gather(s, h, w, xs, ys, t, block, DESCRIPTOR_DIMS, 0);
    }
    crate::multiversion!(fn gather_isa[](
        s: &mut Scratch,
        hw: (usize, usize),
        xs: &[usize],
        ys: &[usize],
        t: &SizeTables,
        block: &mut [f32],
    ) = gather_plain);

    /// Phase timings (at the ISA level in use) on a 256 x 256 image (`VISLANG_PHASE_SIDE`): `cargo test --release -p vislang-core
    /// dsift::tests::phase_timings -- --ignored --nocapture`.
    #[test]
    #[ignore = "timing, run by hand"]
    fn phase_timings() {
        // Thread CPU time: the machine may be shared, wall time is then mostly waiting.
        #[derive(Clone, Copy)]
        struct Instant(f64);
        impl Instant {
            fn now() -> Self {
                let mut ts = libc::timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                };
                // SAFETY: a valid pointer to a timespec.
                unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
                #[allow(clippy::cast_precision_loss)]
                Self(ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9)
            }
        }
        impl std::ops::Sub for Instant {
            type Output = f64;
            fn sub(self, o: Self) -> f64 {
                self.0 - o.0
            }
        }
        // VISLANG_PHASE_SIDE=32 for CIFAR-sized images.
        let side = std::env::var("VISLANG_PHASE_SIDE")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(256usize);
        let (h, w) = (side, side);
        let data: Vec<u8> = (0..h * w)
            .map(|i| ((i * 37 + i / 7 + (i / w) * 11) % 251) as u8)
            .collect();
        let img = Image {
            data: &data,
            height: h,
            width: w,
            channels: 1,
        };
        let p = DsiftParams::default();
        let isa = crate::isa::current();
        let reps = 50 * u32::try_from((256 * 256 / (h * w)).max(1)).unwrap_or(1);
        let mut s = Scratch::default();
        let xs = grid(w, p.step);
        let ys = grid(h, p.step);
        let mut block = vec![0.0f32; xs.len() * ys.len() * 128];
        s.gray = data.iter().map(|&v| f64::from(v) / 255.0).collect();
        for &size in &p.sizes {
            let t = size_tables(size, &p, side);
            let t0 = Instant::now();
            for _ in 0..reps {
                smooth_isa(isa, &mut s, h, w, &t.gauss);
            }
            let tp = Instant::now();
            for _ in 0..reps {
                plane_rows_isa(isa, &mut s, h, w);
            }
            let t1 = Instant::now();
            for _ in 0..reps {
                gather_isa(isa, &mut s, (h, w), &xs, &ys, &t, &mut block);
            }
            let t3 = Instant::now();
            for _ in 0..reps {
                for r in block.chunks_exact_mut(128) {
                    finish_isa(isa, r, &p);
                }
            }
            let t4 = Instant::now();
            let ms = |a: Instant, b: Instant| (b - a) * 1e3 / f64::from(reps);
            println!(
                "size {size}: smooth {:.3} ms, planes {:.3} ms, planes + gather {:.3} ms, finish {:.3} ms",
                ms(t0, tp),
                ms(tp, t1),
                ms(t1, t3),
                ms(t3, t4)
            );
        }
        let tables = batch_tables(&p, h.max(w));
        let mut out = vec![0.0f32; n_descriptors(h, w, &p) * 128];
        let t0 = Instant::now();
        for _ in 0..reps {
            describe_into_isa(isa, &img, &p, &tables, &mut s, &mut out);
        }
        println!(
            "total {:.3} ms CPU ({})",
            (Instant::now() - t0) * 1e3 / f64::from(reps),
            isa.name()
        );
    }
}
