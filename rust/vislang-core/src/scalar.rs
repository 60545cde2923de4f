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
    /// `out (m x n) = a (m x k) * b (n x k)^T`, all row-major, single-threaded.
    fn gemm_nt(m: usize, n: usize, k: usize, a: &[Self], b: &[Self], out: &mut [Self]);
}

const LANES: usize = 16;

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
