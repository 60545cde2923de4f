//! Hand-vectorised x86-64 kernels (AVX-512F and AVX2+FMA), chosen at run time by
//! [`crate::scalar`]. Each has a portable twin there; tests compare them.
#![allow(unsafe_op_in_unsafe_fn)]

use std::arch::x86_64::*;

/// Candidates per group in the `dots_*` kernels (independent FMA chains).
pub const GROUP: usize = 8;

macro_rules! avx512_kernels {
    ($t:ty, $lanes:expr, $mask:ty, $vec:ty, $zero:ident, $load:ident, $mload:ident, $sub:ident,
     $fmadd:ident, $add:ident, $reduce:ident, $sq:ident, $dots:ident) => {
        /// Squared Euclidean distance.
        ///
        /// # Safety
        /// The CPU must support AVX-512F.
        #[target_feature(enable = "avx512f")]
        pub unsafe fn $sq(a: &[$t], b: &[$t]) -> $t {
            let n = a.len().min(b.len());
            let (pa, pb) = (a.as_ptr(), b.as_ptr());
            let (mut acc0, mut acc1) = ($zero(), $zero());
            let mut i = 0;
            while i + 2 * $lanes <= n {
                let d0 = $sub($load(pa.add(i)), $load(pb.add(i)));
                let d1 = $sub($load(pa.add(i + $lanes)), $load(pb.add(i + $lanes)));
                acc0 = $fmadd(d0, d0, acc0);
                acc1 = $fmadd(d1, d1, acc1);
                i += 2 * $lanes;
            }
            while i < n {
                let rem = (n - i).min($lanes);
                let m = ((1u32 << rem) - 1) as $mask;
                let d0 = $sub($mload(m, pa.add(i)), $mload(m, pb.add(i)));
                acc0 = $fmadd(d0, d0, acc0);
                i += rem;
            }
            $reduce($add(acc0, acc1))
        }

        /// `out[t] = (x - mu) . c_t` for `out.len()` (a multiple of [`GROUP`]) rows of `c`.
        ///
        /// # Safety
        /// The CPU must support AVX-512F; `mu.len() >= x.len()`, `c.len() >= out.len() * x.len()`.
        #[target_feature(enable = "avx512f")]
        pub unsafe fn $dots(x: &[$t], mu: &[$t], c: &[$t], out: &mut [$t]) {
            let d = x.len();
            let (px, pm) = (x.as_ptr(), mu.as_ptr());
            for g in 0..out.len() / GROUP {
                let base = c.as_ptr().add(g * GROUP * d);
                let mut acc: [$vec; GROUP] = [$zero(); GROUP];
                let mut p = 0;
                while p < d {
                    let rem = (d - p).min($lanes);
                    let m = if rem == $lanes {
                        <$mask>::MAX
                    } else {
                        ((1u32 << rem) - 1) as $mask
                    };
                    let xv = $sub($mload(m, px.add(p)), $mload(m, pm.add(p)));
                    for (t, a) in acc.iter_mut().enumerate() {
                        *a = $fmadd(xv, $mload(m, base.add(t * d + p)), *a);
                    }
                    p += rem;
                }
                for (t, a) in acc.iter().enumerate() {
                    out[g * GROUP + t] = $reduce(*a);
                }
            }
        }
    };
}

avx512_kernels!(
    f32,
    16,
    u16,
    __m512,
    _mm512_setzero_ps,
    _mm512_loadu_ps,
    _mm512_maskz_loadu_ps,
    _mm512_sub_ps,
    _mm512_fmadd_ps,
    _mm512_add_ps,
    _mm512_reduce_add_ps,
    sq_dist_f32_avx512,
    dots_f32_avx512
);
avx512_kernels!(
    f64,
    8,
    u8,
    __m512d,
    _mm512_setzero_pd,
    _mm512_loadu_pd,
    _mm512_maskz_loadu_pd,
    _mm512_sub_pd,
    _mm512_fmadd_pd,
    _mm512_add_pd,
    _mm512_reduce_add_pd,
    sq_dist_f64_avx512,
    dots_f64_avx512
);

#[inline(always)]
unsafe fn hsum256_ps(v: __m256) -> f32 {
    let mut a = [0.0f32; 8];
    _mm256_storeu_ps(a.as_mut_ptr(), v);
    ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]))
}

#[inline(always)]
unsafe fn hsum256_pd(v: __m256d) -> f64 {
    let mut a = [0.0f64; 4];
    _mm256_storeu_pd(a.as_mut_ptr(), v);
    (a[0] + a[2]) + (a[1] + a[3])
}

macro_rules! avx2_kernels {
    ($t:ty, $lanes:expr, $vec:ty, $zero:ident, $load:ident, $sub:ident, $fmadd:ident,
     $add:ident, $hsum:ident, $sq:ident, $dots:ident) => {
        /// Squared Euclidean distance.
        ///
        /// # Safety
        /// The CPU must support AVX2 and FMA.
        #[target_feature(enable = "avx2,fma")]
        pub unsafe fn $sq(a: &[$t], b: &[$t]) -> $t {
            let n = a.len().min(b.len());
            let (pa, pb) = (a.as_ptr(), b.as_ptr());
            let (mut acc0, mut acc1) = ($zero(), $zero());
            let mut i = 0;
            while i + 2 * $lanes <= n {
                let d0 = $sub($load(pa.add(i)), $load(pb.add(i)));
                let d1 = $sub($load(pa.add(i + $lanes)), $load(pb.add(i + $lanes)));
                acc0 = $fmadd(d0, d0, acc0);
                acc1 = $fmadd(d1, d1, acc1);
                i += 2 * $lanes;
            }
            let mut s = $hsum($add(acc0, acc1));
            while i < n {
                let t = a[i] - b[i];
                s += t * t;
                i += 1;
            }
            s
        }

        /// `out[t] = (x - mu) . c_t` for `out.len()` (a multiple of [`GROUP`]) rows of `c`.
        ///
        /// # Safety
        /// The CPU must support AVX2 and FMA; `mu.len() >= x.len()`,
        /// `c.len() >= out.len() * x.len()`.
        #[target_feature(enable = "avx2,fma")]
        pub unsafe fn $dots(x: &[$t], mu: &[$t], c: &[$t], out: &mut [$t]) {
            let d = x.len();
            let full = d - d % $lanes;
            let (px, pm) = (x.as_ptr(), mu.as_ptr());
            for g in 0..out.len() / GROUP {
                let off = g * GROUP * d;
                let base = c.as_ptr().add(off);
                let mut acc: [$vec; GROUP] = [$zero(); GROUP];
                let mut p = 0;
                while p < full {
                    let xv = $sub($load(px.add(p)), $load(pm.add(p)));
                    for (t, a) in acc.iter_mut().enumerate() {
                        *a = $fmadd(xv, $load(base.add(t * d + p)), *a);
                    }
                    p += $lanes;
                }
                for (t, a) in acc.iter().enumerate() {
                    let mut s = $hsum(*a);
                    for q in full..d {
                        s += (x[q] - mu[q]) * c[off + t * d + q];
                    }
                    out[g * GROUP + t] = s;
                }
            }
        }
    };
}

avx2_kernels!(
    f32,
    8,
    __m256,
    _mm256_setzero_ps,
    _mm256_loadu_ps,
    _mm256_sub_ps,
    _mm256_fmadd_ps,
    _mm256_add_ps,
    hsum256_ps,
    sq_dist_f32_avx2,
    dots_f32_avx2
);
avx2_kernels!(
    f64,
    4,
    __m256d,
    _mm256_setzero_pd,
    _mm256_loadu_pd,
    _mm256_sub_pd,
    _mm256_fmadd_pd,
    _mm256_add_pd,
    hsum256_pd,
    sq_dist_f64_avx2,
    dots_f64_avx2
);
