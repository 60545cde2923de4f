//! The float types the kernels run on (`f32`, `f64`) and their SIMD-dispatched primitives.

use std::fmt::Debug;
use std::sync::OnceLock;

use num_traits::Float;

use crate::isa::{self, Isa};

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
    /// `v` as `f32` values when `Self` is `f32` (no copy), `None` otherwise: the bfloat16
    /// candidate kernels take `f32` only.
    fn as_f32_slice(v: &[Self]) -> Option<&[f32]>;
}

/// Candidates scored together by [`Scalar::shifted_dots`]: independent FMA chains per group.
pub const DOT_GROUP: usize = 8;

/// Portable squared distance, the fallback of the SIMD kernels.
fn sq_dist_portable<T: Float>(a: &[T], b: &[T]) -> T {
    a.iter().zip(b).fold(T::zero(), |s, (x, y)| {
        let t = *x - *y;
        s + t * t
    })
}

/// Portable `out[t] = (x - mu) . c_t`, the fallback of the SIMD kernels.
fn shifted_dots_portable<T: Float>(x: &[T], mu: &[T], c: &[T], out: &mut [T]) {
    let d = x.len();
    for (t, o) in out.iter_mut().enumerate() {
        let row = &c[t * d..(t + 1) * d];
        *o = x
            .iter()
            .zip(mu)
            .zip(row)
            .fold(T::zero(), |s, ((x, m), r)| s + (*x - *m) * *r);
    }
}

type SqDistFn<T> = fn(&[T], &[T]) -> T;
type DotsFn<T> = fn(&[T], &[T], &[T], &mut [T]);

macro_rules! dispatch {
    ($t:ty, $sq_at:ident, $sq_pick:ident, $dots_at:ident, $dots_pick:ident, $sq512:ident, $sq2:ident, $dots512:ident, $dots2:ident) => {
        /// The squared-distance kernel of level `isa` (lowered to what the CPU runs).
        fn $sq_at(isa: Isa) -> SqDistFn<$t> {
            match isa.supported() {
                // SAFETY: `supported()` never exceeds the detected level.
                #[cfg(target_arch = "x86_64")]
                Isa::Avx512 => |a, b| unsafe { crate::simd::$sq512(a, b) },
                // SAFETY: as above.
                #[cfg(target_arch = "x86_64")]
                Isa::Avx2 => |a, b| unsafe { crate::simd::$sq2(a, b) },
                _ => sq_dist_portable::<$t>,
            }
        }

        fn $sq_pick() -> SqDistFn<$t> {
            static F: OnceLock<SqDistFn<$t>> = OnceLock::new();
            *F.get_or_init(|| $sq_at(isa::current()))
        }

        /// The shifted-dots kernel of level `isa` (lowered to what the CPU runs).
        fn $dots_at(isa: Isa) -> DotsFn<$t> {
            match isa.supported() {
                // SAFETY: `supported()` never exceeds the detected level; callers pass the
                // documented sizes.
                #[cfg(target_arch = "x86_64")]
                Isa::Avx512 => |x, m, c, o| unsafe { crate::simd::$dots512(x, m, c, o) },
                // SAFETY: as above.
                #[cfg(target_arch = "x86_64")]
                Isa::Avx2 => |x, m, c, o| unsafe { crate::simd::$dots2(x, m, c, o) },
                _ => shifted_dots_portable::<$t>,
            }
        }

        fn $dots_pick() -> DotsFn<$t> {
            static F: OnceLock<DotsFn<$t>> = OnceLock::new();
            *F.get_or_init(|| $dots_at(isa::current()))
        }
    };
}

dispatch!(
    f32,
    sq_f32_at,
    pick_f32,
    dots_f32_at,
    pick_dots_f32,
    sq_dist_f32_avx512,
    sq_dist_f32_avx2,
    dots_f32_avx512,
    dots_f32_avx2
);
dispatch!(
    f64,
    sq_f64_at,
    pick_f64,
    dots_f64_at,
    pick_dots_f64,
    sq_dist_f64_avx512,
    sq_dist_f64_avx2,
    dots_f64_avx512,
    dots_f64_avx2
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
        assert!(
            mu.len() >= x.len()
                && c.len() >= out.len() * x.len()
                && out.len().is_multiple_of(DOT_GROUP)
        );
        pick_dots_f32()(x, mu, c, out);
    }
    fn gemm_nt(m: usize, n: usize, k: usize, a: &[Self], b: &[Self], out: &mut [Self]) {
        gemm_nt_impl(m, n, k, a, b, out);
    }
    fn as_f32_slice(v: &[Self]) -> Option<&[f32]> {
        Some(v)
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
        assert!(
            mu.len() >= x.len()
                && c.len() >= out.len() * x.len()
                && out.len().is_multiple_of(DOT_GROUP)
        );
        pick_dots_f64()(x, mu, c, out);
    }
    fn gemm_nt(m: usize, n: usize, k: usize, a: &[Self], b: &[Self], out: &mut [Self]) {
        gemm_nt_impl(m, n, k, a, b, out);
    }
    fn as_f32_slice(_: &[Self]) -> Option<&[f32]> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_isa_level_matches_the_portable_kernels() {
        for isa in Isa::ALL {
            for d in [1usize, 7, 8, 15, 16, 17, 31, 33, 64, 128, 131] {
                let x: Vec<f32> = (0..d).map(|i| (i as f32 * 0.37).sin() * 3.0).collect();
                let y: Vec<f32> = (0..d).map(|i| (i as f32 * 0.11).cos()).collect();
                let want = sq_dist_portable(&x, &y);
                let got = sq_f32_at(isa)(&x, &y);
                assert!((got - want).abs() <= 1e-4 * want.max(1.0), "{isa} d={d}");
                let xd: Vec<f64> = x.iter().map(|v| f64::from(*v)).collect();
                let yd: Vec<f64> = y.iter().map(|v| f64::from(*v)).collect();
                let want = sq_dist_portable(&xd, &yd);
                let got = sq_f64_at(isa)(&xd, &yd);
                assert!((got - want).abs() <= 1e-12 * want.max(1.0), "{isa} d={d}");
                let c: Vec<f32> = (0..DOT_GROUP * 2 * d)
                    .map(|i| ((i % 13) as f32) - 6.0)
                    .collect();
                let mut got = vec![0.0f32; 2 * DOT_GROUP];
                let mut exp = vec![0.0f32; 2 * DOT_GROUP];
                dots_f32_at(isa)(&x, &y, &c, &mut got);
                shifted_dots_portable(&x, &y, &c, &mut exp);
                for (g, e) in got.iter().zip(&exp) {
                    assert!(
                        (g - e).abs() <= 1e-3 * e.abs().max(1.0),
                        "{isa} d={d}: {g} vs {e}"
                    );
                }
                let cd: Vec<f64> = c.iter().map(|v| f64::from(*v)).collect();
                let mut got = vec![0.0f64; 2 * DOT_GROUP];
                let mut exp = vec![0.0f64; 2 * DOT_GROUP];
                dots_f64_at(isa)(&xd, &yd, &cd, &mut got);
                shifted_dots_portable(&xd, &yd, &cd, &mut exp);
                for (g, e) in got.iter().zip(&exp) {
                    assert!((g - e).abs() <= 1e-9 * e.abs().max(1.0), "{isa} d={d}");
                }
            }
        }
    }

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
