//! The float types the kernels run on (`f32`, `f64`) and their SIMD-dispatched primitives.

use std::fmt::Debug;
use std::sync::OnceLock;

use num_traits::Float;

/// A float type the kernels are generic over.
pub trait Scalar: Float + Send + Sync + Debug + Default + 'static {
    /// Converts to `f64` (exact for both implementors).
    fn as_f64(self) -> f64;
    /// Converts from `f64`, rounding to nearest.
    fn from_f64(v: f64) -> Self;
    /// Squared Euclidean distance `sum((a - b)^2)`, vectorised for the running CPU.
    fn sq_dist(a: &[Self], b: &[Self]) -> Self;
    /// Squared norm `sum(a^2)`.
    fn sq_norm(a: &[Self]) -> Self;
    /// `out[t] = (x - mu) . c_t` for the rows `c_t` of `c` (`out.len() x x.len()`, row-major,
    /// `out.len()` a multiple of [`DOT_GROUP`]), vectorised for the running CPU.
    fn shifted_dots(x: &[Self], mu: &[Self], c: &[Self], out: &mut [Self]);
    /// `out (m x n) = a (m x k) * b (n x k)^T`, all row-major, single-threaded.
    fn gemm_nt(m: usize, n: usize, k: usize, a: &[Self], b: &[Self], out: &mut [Self]);
}

const LANES: usize = 16;
/// Candidates scored together by [`Scalar::shifted_dots`]: independent FMA chains per group.
pub const DOT_GROUP: usize = 8;

#[inline(always)]
fn shifted_dots_lanes<T: Float>(x: &[T], mu: &[T], c: &[T], out: &mut [T], fma: bool) {
    let d = x.len();
    let full = d - d % LANES;
    for (g, outg) in out.chunks_exact_mut(DOT_GROUP).enumerate() {
        let rows = &c[g * DOT_GROUP * d..(g + 1) * DOT_GROUP * d];
        let mut acc = [[T::zero(); LANES]; DOT_GROUP];
        let mut p = 0;
        while p < full {
            let mut xv = [T::zero(); LANES];
            for l in 0..LANES {
                xv[l] = x[p + l] - mu[p + l];
            }
            for (a, row) in acc.iter_mut().zip(rows.chunks_exact(d)) {
                let cr = &row[p..p + LANES];
                for l in 0..LANES {
                    a[l] = if fma {
                        xv[l].mul_add(cr[l], a[l])
                    } else {
                        a[l] + xv[l] * cr[l]
                    };
                }
            }
            p += LANES;
        }
        for (o, (a, row)) in outg
            .iter_mut()
            .zip(acc.iter_mut().zip(rows.chunks_exact(d)))
        {
            let mut tail = T::zero();
            for q in full..d {
                tail = tail + (x[q] - mu[q]) * row[q];
            }
            let mut width = LANES / 2;
            while width > 0 {
                for l in 0..width {
                    a[l] = a[l] + a[l + width];
                }
                width /= 2;
            }
            *o = a[0] + tail;
        }
    }
}

#[inline(always)]
fn sq_dist_lanes<T: Float>(a: &[T], b: &[T], fma: bool) -> T {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [T::zero(); LANES];
    let ca = a.chunks_exact(LANES);
    let cb = b.chunks_exact(LANES);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..LANES {
            let t = x[l] - y[l];
            acc[l] = if fma {
                t.mul_add(t, acc[l])
            } else {
                acc[l] + t * t
            };
        }
    }
    let mut tail = T::zero();
    for (x, y) in ra.iter().zip(rb) {
        let t = *x - *y;
        tail = tail + t * t;
    }
    // Fixed pairwise order of the lane reduction keeps results identical across calls.
    let mut width = LANES / 2;
    while width > 0 {
        for l in 0..width {
            acc[l] = acc[l] + acc[l + width];
        }
        width /= 2;
    }
    acc[0] + tail
}

type DotsFn<T> = fn(&[T], &[T], &[T], &mut [T]);

macro_rules! dots_variants {
    ($t:ty, $generic:ident, $avx2:ident, $avx512:ident, $pick:ident) => {
        fn $generic(x: &[$t], mu: &[$t], c: &[$t], out: &mut [$t]) {
            shifted_dots_lanes(x, mu, c, out, false)
        }

        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn $avx2(x: &[$t], mu: &[$t], c: &[$t], out: &mut [$t]) {
            shifted_dots_lanes(x, mu, c, out, true)
        }

        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx512f,fma")]
        unsafe fn $avx512(x: &[$t], mu: &[$t], c: &[$t], out: &mut [$t]) {
            shifted_dots_lanes(x, mu, c, out, true)
        }

        fn $pick() -> DotsFn<$t> {
            static CHOICE: OnceLock<DotsFn<$t>> = OnceLock::new();
            *CHOICE.get_or_init(|| {
                #[cfg(target_arch = "x86_64")]
                {
                    if std::is_x86_feature_detected!("avx512f")
                        && std::is_x86_feature_detected!("fma")
                    {
                        // SAFETY: the features were detected at run time.
                        return |x, mu, c, out| unsafe { $avx512(x, mu, c, out) };
                    }
                    if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
                    {
                        // SAFETY: the features were detected at run time.
                        return |x, mu, c, out| unsafe { $avx2(x, mu, c, out) };
                    }
                }
                $generic
            })
        }
    };
}

dots_variants!(
    f32,
    dots_f32_generic,
    dots_f32_avx2,
    dots_f32_avx512,
    pick_dots_f32
);
dots_variants!(
    f64,
    dots_f64_generic,
    dots_f64_avx2,
    dots_f64_avx512,
    pick_dots_f64
);

macro_rules! simd_variants {
    ($t:ty, $generic:ident, $avx2:ident, $avx512:ident, $pick:ident) => {
        fn $generic(a: &[$t], b: &[$t]) -> $t {
            sq_dist_lanes(a, b, false)
        }

        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn $avx2(a: &[$t], b: &[$t]) -> $t {
            sq_dist_lanes(a, b, true)
        }

        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx512f,fma")]
        unsafe fn $avx512(a: &[$t], b: &[$t]) -> $t {
            sq_dist_lanes(a, b, true)
        }

        fn $pick() -> fn(&[$t], &[$t]) -> $t {
            static CHOICE: OnceLock<fn(&[$t], &[$t]) -> $t> = OnceLock::new();
            *CHOICE.get_or_init(|| {
                #[cfg(target_arch = "x86_64")]
                {
                    if std::is_x86_feature_detected!("avx512f")
                        && std::is_x86_feature_detected!("fma")
                    {
                        // SAFETY: the features were detected at run time.
                        return |a, b| unsafe { $avx512(a, b) };
                    }
                    if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
                    {
                        // SAFETY: the features were detected at run time.
                        return |a, b| unsafe { $avx2(a, b) };
                    }
                }
                $generic
            })
        }
    };
}

simd_variants!(
    f32,
    sq_dist_f32_generic,
    sq_dist_f32_avx2,
    sq_dist_f32_avx512,
    pick_f32
);
simd_variants!(
    f64,
    sq_dist_f64_generic,
    sq_dist_f64_avx2,
    sq_dist_f64_avx512,
    pick_f64
);

fn gemm_nt_impl<T: Float + 'static>(m: usize, n: usize, k: usize, a: &[T], b: &[T], out: &mut [T]) {
    assert_eq!(a.len(), m * k);
    assert_eq!(b.len(), n * k);
    assert_eq!(out.len(), m * n);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        out.fill(T::zero());
        return;
    }
    // SAFETY: the asserts above guarantee every strided access stays inside the slices:
    // dst is m x n row-major (col stride 1, row stride n), lhs m x k row-major, and rhs
    // (k x n) is b^T, i.e. element (p, j) lives at b[j * k + p].
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            1,
            n as isize,
            false,
            a.as_ptr(),
            1,
            k as isize,
            b.as_ptr(),
            k as isize,
            1,
            T::zero(),
            T::one(),
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

impl Scalar for f32 {
    fn as_f64(self) -> f64 {
        f64::from(self)
    }
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    #[inline]
    fn sq_dist(a: &[Self], b: &[Self]) -> Self {
        pick_f32()(a, b)
    }
    fn sq_norm(a: &[Self]) -> Self {
        a.iter().map(|v| v * v).sum()
    }
    #[inline]
    fn shifted_dots(x: &[Self], mu: &[Self], c: &[Self], out: &mut [Self]) {
        pick_dots_f32()(x, mu, c, out);
    }
    fn gemm_nt(m: usize, n: usize, k: usize, a: &[Self], b: &[Self], out: &mut [Self]) {
        gemm_nt_impl(m, n, k, a, b, out);
    }
}

impl Scalar for f64 {
    fn as_f64(self) -> f64 {
        self
    }
    fn from_f64(v: f64) -> Self {
        v
    }
    #[inline]
    fn sq_dist(a: &[Self], b: &[Self]) -> Self {
        pick_f64()(a, b)
    }
    fn sq_norm(a: &[Self]) -> Self {
        a.iter().map(|v| v * v).sum()
    }
    #[inline]
    fn shifted_dots(x: &[Self], mu: &[Self], c: &[Self], out: &mut [Self]) {
        pick_dots_f64()(x, mu, c, out);
    }
    fn gemm_nt(m: usize, n: usize, k: usize, a: &[Self], b: &[Self], out: &mut [Self]) {
        gemm_nt_impl(m, n, k, a, b, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sq_dist_matches_naive_for_all_lengths() {
        for n in 0..70 {
            let a: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..n).map(|i| (i as f32 * 0.11).cos()).collect();
            let naive: f64 = a
                .iter()
                .zip(&b)
                .map(|(x, y)| f64::from(x - y).powi(2))
                .sum();
            assert!(
                (f64::from(f32::sq_dist(&a, &b)) - naive).abs() < 1e-4,
                "n={n}"
            );
        }
    }

    #[test]
    fn shifted_dots_matches_naive() {
        for d in [1usize, 15, 16, 37, 128] {
            let x: Vec<f64> = (0..d).map(|i| (i as f64 * 0.3).sin() * 5.0).collect();
            let mu: Vec<f64> = (0..d).map(|i| i as f64 * 0.01).collect();
            let c: Vec<f64> = (0..2 * DOT_GROUP * d)
                .map(|i| (i % 11) as f64 - 5.0)
                .collect();
            let mut out = vec![0.0; 2 * DOT_GROUP];
            f64::shifted_dots(&x, &mu, &c, &mut out);
            for (t, o) in out.iter().enumerate() {
                let want: f64 = (0..d).map(|p| (x[p] - mu[p]) * c[t * d + p]).sum();
                assert!((o - want).abs() < 1e-9, "d={d} t={t}");
            }
        }
    }

    #[test]
    fn gemm_nt_matches_naive() {
        let (m, n, k) = (7, 5, 13);
        let a: Vec<f64> = (0..m * k).map(|i| i as f64 * 0.5 - 3.0).collect();
        let b: Vec<f64> = (0..n * k).map(|i| (i % 7) as f64 - 2.0).collect();
        let mut out = vec![0.0; m * n];
        f64::gemm_nt(m, n, k, &a, &b, &mut out);
        for i in 0..m {
            for j in 0..n {
                let want: f64 = (0..k).map(|p| a[i * k + p] * b[j * k + p]).sum();
                assert!((out[i * n + j] - want).abs() < 1e-9);
            }
        }
    }
}
