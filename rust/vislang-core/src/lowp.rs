//! Reduced-precision (bfloat16) candidate dot products for the nearest-centre search.
//!
//! Shifted rows and centres are rounded to bfloat16 (8 significant bits) and multiplied with the
//! AVX-512 BF16 instruction `vdpbf16ps` (two products per fp32 lane, fp32 accumulation), twice
//! the multiply rate of fp32 FMA. The results only select candidates: [`dot_error_bound_measured`]
//! bounds their error rigorously from the measured bfloat16 rounding errors of the rows and
//! centres (zero for small-integer rows such as SIFT), and [`crate::assign`] re-checks every
//! centre within that bound in the input precision, so the returned neighbours are identical to
//! the fp32 path.
//!
//! Used only at the AVX-512 [`crate::isa`] level on a CPU with `avx512bf16`, and when
//! `VISLANG_PRECISION` is not `fp32`; otherwise [`PackedCenters::new`] returns `None` and the
//! fp32 GEMM runs. The `*_at(isa, ..)` forms let tests run the kernel and its portable twin.

use std::sync::OnceLock;

use crate::isa::{self, Isa};

/// Centres per SIMD vector (fp32 lanes of a zmm register).
pub(crate) const LANES: usize = 16;

/// Largest squared shifted norm for which the bfloat16 path is used: far from overflow.
pub(crate) const MAX_SQ_NORM: f64 = 1e30;

/// Whether the bfloat16 path runs at the level in use and the user did not force fp32
/// (`VISLANG_PRECISION=fp32`).
pub(crate) fn available() -> bool {
    static FORCED_FP32: OnceLock<bool> = OnceLock::new();
    let forced_fp32 = *FORCED_FP32.get_or_init(|| {
        std::env::var("VISLANG_PRECISION")
            .map(|v| v.eq_ignore_ascii_case("fp32"))
            .unwrap_or(false)
    });
    !forced_fp32 && isa::bf16()
}

/// Rounds a finite `f32` to bfloat16 bits, to nearest with ties to even (as `vcvtne2ps2bf16`).
#[inline]
pub(crate) fn to_bf16_bits(v: f32) -> u16 {
    let bits = v.to_bits();
    let round = 0x7fff + ((bits >> 16) & 1);
    (bits.wrapping_add(round) >> 16) as u16
}

/// The `f32` value of bfloat16 bits.
#[inline]
pub(crate) fn from_bf16_bits(b: u16) -> f32 {
    f32::from_bits(u32::from(b) << 16)
}

/// Pairs of bfloat16 values per row of `d` features (the last pair zero-padded when `d` is odd).
#[inline]
pub(crate) fn pairs(d: usize) -> usize {
    d.div_ceil(2)
}

/// Appends `row` as bfloat16 pairs: element `2p` in the low half of word `p`, `2p + 1` high.
pub(crate) fn push_pairs(row: &[f32], out: &mut Vec<u32>) {
    push_pairs_measured(row, out);
}

/// [`push_pairs`], returning an upper bound of the Euclidean norm of `row - bf16(row)` (see
/// [`rounding_error_norm`]), computed on the fly.
pub(crate) fn push_pairs_measured(row: &[f32], out: &mut Vec<u32>) -> f64 {
    push_pairs_measured_at(isa::current(), row, out)
}

/// [`push_pairs_measured`] at level `isa` (the kernel where [`isa::bf16_at`] holds).
pub(crate) fn push_pairs_measured_at(level: Isa, row: &[f32], out: &mut Vec<u32>) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if isa::bf16_at(level) {
        let start = out.len();
        out.resize(start + pairs(row.len()), 0);
        // SAFETY: `bf16_at` checked AVX-512F and BF16; `out[start..]` holds `pairs(row.len())`
        // words, as the kernel requires.
        let sq = unsafe { kernel::pack(row, &mut out[start..]) };
        return norm_from_f32_sq_norm(f64::from(sq), row.len());
    }
    let start = out.len();
    push_pairs_portable(row, out);
    rounding_error_norm(row, &out[start..])
}

/// Portable twin of [`push_pairs`] (identical for normal numbers; the instruction flushes
/// subnormals to zero).
fn push_pairs_portable(row: &[f32], out: &mut Vec<u32>) {
    for pair in row.chunks(2) {
        let lo = u32::from(to_bf16_bits(pair[0]));
        let hi = pair.get(1).map_or(0, |v| u32::from(to_bf16_bits(*v)));
        out.push(lo | (hi << 16));
    }
}

/// Rigorous bound on `|x.c - dot|` where `dot` is what the kernel returns for shifted vectors
/// of `d` features with Euclidean norms at most `x_norm` and `c_norm` (not squared), when
/// nothing is known about their rounding: [`dot_error_bound_measured`] with the worst case
/// `|x - bf16(x)| <= u |x|` (unit roundoff `u = 2^-8`).
pub(crate) fn dot_error_bound(d: usize, x_norm: f64, c_norm: f64) -> f64 {
    let u = 2f64.powi(-8);
    dot_error_bound_measured(d, (x_norm, u * x_norm), (c_norm, u * c_norm))
}

/// Rigorous bound on `|x.c - dot|` from the norms of the shifted vectors and of their bfloat16
/// rounding errors, each at most `(|x|, |x - bf16(x)|)` and `(|c|, |c - bf16(c)|)`.
///
/// With `x' = bf16(x)` and `c' = bf16(c)`: `x.c - x'.c' = -(x.e_c + e_x.c + e_x.e_c)`, at most
/// `|x| |e_c| + |e_x| |c| + |e_x| |e_c|` (Cauchy-Schwarz). The products `x'_i c'_i` are exact in
/// fp32 (8 x 8 significant bits); their fp32 accumulation adds `gamma_n sum |x'_i c'_i| <=
/// gamma_n |x'| |c'|`. The instruction flushes subnormal inputs and outputs to zero: at most
/// `2^-126` per factor and per operation, covered by the absolute term. Measured errors make
/// this several times tighter than the worst case (zero for small-integer rows such as SIFT).
pub(crate) fn dot_error_bound_measured(
    d: usize,
    (x_norm, x_err): (f64, f64),
    (c_norm, c_err): (f64, f64),
) -> f64 {
    let n = (2 * pairs(d)) as f64;
    let u32_ = 2f64.powi(-24);
    let gamma = n * u32_ / (1.0 - n * u32_);
    let rounding = x_norm * c_err + x_err * c_norm + x_err * c_err;
    let accumulation = gamma * (x_norm + x_err) * (c_norm + c_err);
    let abs = 4.0 * n * 2f64.powi(-126) * (1.0 + x_norm + c_norm);
    // A small margin for the rounding of this formula and of its use in f32 thresholds.
    (rounding + accumulation + abs) * (1.0 + 1e-3)
}

/// Upper bound of a Euclidean norm from its square `sq` summed in `f32` over `d` features:
/// enlarged by the summation's rounding and by the gradual underflow of tiny squares.
pub(crate) fn norm_from_f32_sq_norm(sq: f64, d: usize) -> f64 {
    let n = d as f64;
    (sq * (1.0 + 2.0 * (n + 16.0) * 2f64.powi(-24)) + n * 2f64.powi(-148)).sqrt()
}

/// Upper bound of the Euclidean norm of `row - bf16(row)` where `packed` holds the bfloat16
/// pairs of `row` (as [`push_pairs`] writes them); the portable twin of the measurement in
/// [`push_pairs_measured`]. The differences are exact in `f32`; their squares are summed in 16
/// `f32` lanes, so the sum is enlarged by its rounding error and by the gradual underflow of
/// tiny squares (`2^-149` each). Rows with `|x| > ~1e18` may overflow to `+inf` (a useless but
/// valid bound; such rows exceed [`MAX_SQ_NORM`] anyway).
pub(crate) fn rounding_error_norm(row: &[f32], packed: &[u32]) -> f64 {
    const L: usize = 16; // as in `norm_from_f32_sq_norm`
    let mut acc = [0.0f32; L];
    let mut tail = 0.0f32;
    let diff = |i: usize| {
        let w = packed[i / 2];
        row[i] - from_bf16_bits((w >> (16 * (i % 2))) as u16)
    };
    let full = row.len() / L * L;
    for base in (0..full).step_by(L) {
        for (l, a) in acc.iter_mut().enumerate() {
            let e = diff(base + l);
            *a += e * e;
        }
    }
    for i in full..row.len() {
        let e = diff(i);
        tail += e * e;
    }
    norm_from_f32_sq_norm(f64::from(acc.iter().fold(tail, |a, v| a + v)), row.len())
}

/// Shifted centres rounded to bfloat16, packed for the kernel: for each group of [`LANES`]
/// centres and each feature pair, one 64-byte vector holding that pair of every centre.
pub(crate) struct PackedCenters {
    data: Vec<u32>,
    pairs: usize,
    n_centers: usize,
    norms: Vec<f32>,
    /// The level the values are computed at: the kernel where [`isa::bf16_at`] holds.
    level: Isa,
    /// Largest Euclidean norm of a shifted centre, and of its bfloat16 rounding error.
    max_norm: f64,
    max_err: f64,
}

impl PackedCenters {
    /// Packs the `k x d` shifted centres (with their squared norms `norms`, kept for
    /// [`Self::values`]), or `None` when the bfloat16 path is not available or the centres are
    /// too large for it.
    pub(crate) fn new(shifted: &[f32], norms: &[f32], d: usize) -> Option<Self> {
        if !available() {
            return None;
        }
        Self::new_at(isa::current(), shifted, norms, d)
    }

    /// [`Self::new`] at level `isa`, whatever `VISLANG_PRECISION` says (below the bfloat16
    /// level, the portable twin computes the values).
    pub(crate) fn new_at(level: Isa, shifted: &[f32], norms: &[f32], d: usize) -> Option<Self> {
        let k = norms.len();
        let max_sq_norm = norms.iter().fold(0.0f64, |a, v| a.max(f64::from(*v)));
        let in_range = max_sq_norm < MAX_SQ_NORM; // false for NaN
        if k == 0 || d == 0 || !in_range {
            return None;
        }
        let mut packed = Self::pack(level, shifted, k, d);
        packed.norms = norms.to_vec();
        packed.max_norm = norm_from_f32_sq_norm(max_sq_norm, d);
        Some(packed)
    }

    /// Words (bfloat16 pairs) per packed row.
    pub(crate) fn pairs(&self) -> usize {
        self.pairs
    }

    /// The squared norms given to [`Self::new`].
    pub(crate) fn norms(&self) -> &[f32] {
        &self.norms
    }

    /// `(max |c|, max |c - bf16(c)|)` over the shifted centres, for
    /// [`dot_error_bound_measured`].
    pub(crate) fn norm_and_error(&self) -> (f64, f64) {
        (self.max_norm, self.max_err)
    }

    fn pack(level: Isa, shifted: &[f32], k: usize, d: usize) -> Self {
        let np = pairs(d);
        let groups = k.div_ceil(LANES);
        let mut data = vec![0u32; groups * np * LANES];
        let mut row = Vec::with_capacity(np);
        let mut max_err = 0.0f64;
        for c in 0..k {
            row.clear();
            let src = &shifted[c * d..(c + 1) * d];
            max_err = max_err.max(push_pairs_measured_at(level, src, &mut row));
            let (g, lane) = (c / LANES, c % LANES);
            for (p, &w) in row.iter().enumerate() {
                data[(g * np + p) * LANES + lane] = w;
            }
        }
        Self {
            data,
            pairs: np,
            n_centers: k,
            level,
            norms: Vec::new(),
            max_norm: 0.0,
            max_err,
        }
    }

    /// Approximate expanded distances `||c||^2 - 2 x.c` of `m` packed rows `xp` (`m x pairs`)
    /// and centres `c0..c1` (`c0` a multiple of [`LANES`]; `norms` their `||c||^2`) into `out`
    /// (`m x (c1 - c0)`, row-major); lowers `row_min[r]` to the smallest value of row `r`.
    pub(crate) fn values(
        &self,
        xp: &[u32],
        m: usize,
        cols: (usize, usize),
        norms: &[f32],
        out: &mut [f32],
        row_min: &mut [f32],
    ) {
        self.values_with::<false>(xp, m, cols, norms, out, row_min);
    }

    /// [`Self::values`], lowering instead the [`LANES`] minima of each row:
    /// `lane_min[r * LANES + l]` over the centres `c` with `c % LANES == l` (`lane_min` is
    /// `m x LANES`). Cheaper than a scalar minimum in the kernel, and the minima of disjoint
    /// subsets bound the `k`-th smallest value of a row ([`kth_lane_minimum`]).
    pub(crate) fn values_lane_minima(
        &self,
        xp: &[u32],
        m: usize,
        cols: (usize, usize),
        norms: &[f32],
        out: &mut [f32],
        lane_min: &mut [f32],
    ) {
        self.values_with::<true>(xp, m, cols, norms, out, lane_min);
    }

    fn values_with<const LANE_MINS: bool>(
        &self,
        xp: &[u32],
        m: usize,
        (c0, c1): (usize, usize),
        norms: &[f32],
        out: &mut [f32],
        mins: &mut [f32],
    ) {
        let per_row = if LANE_MINS { LANES } else { 1 };
        assert!(c0 % LANES == 0 && c0 <= c1 && c1 <= self.n_centers);
        assert!(xp.len() >= m * self.pairs && out.len() >= m * (c1 - c0));
        assert!(norms.len() >= c1 - c0 && mins.len() >= m * per_row);
        #[cfg(target_arch = "x86_64")]
        if isa::bf16_at(self.level) {
            // SAFETY: `bf16_at` checked AVX-512F and BF16 on this CPU; the asserts above
            // are the kernel's size requirements.
            unsafe { kernel::tile::<LANE_MINS>(self, xp, m, (c0, c1), norms, out, mins) };
            return;
        }
        self.values_portable::<LANE_MINS>(xp, m, (c0, c1), norms, out, mins);
    }

    /// Portable twin of the kernel (exact products of the bfloat16 values, f32 sums); used below
    /// the bfloat16 level (in tests: the assignment never packs centres there).
    fn values_portable<const LANE_MINS: bool>(
        &self,
        xp: &[u32],
        m: usize,
        (c0, c1): (usize, usize),
        norms: &[f32],
        out: &mut [f32],
        mins: &mut [f32],
    ) {
        let (np, cb) = (self.pairs, c1 - c0);
        for r in 0..m {
            for j in 0..cb {
                let (g, lane) = ((c0 + j) / LANES, (c0 + j) % LANES);
                let mut s = 0.0f32;
                for p in 0..np {
                    let (x, c) = (xp[r * np + p], self.data[(g * np + p) * LANES + lane]);
                    s += from_bf16_bits(x as u16) * from_bf16_bits(c as u16);
                    s += from_bf16_bits((x >> 16) as u16) * from_bf16_bits((c >> 16) as u16);
                }
                let v = norms[j] - 2.0 * s;
                out[r * cb + j] = v;
                let at = if LANE_MINS { r * LANES + lane } else { r };
                mins[at] = mins[at].min(v);
            }
        }
    }
}

/// An upper bound of the `k`-th smallest value of a row from its [`LANES`] lane minima
/// (`1 <= k <= LANES`): the `k`-th smallest distinct finite minimum (each is a value of the row
/// and at least `k` values are at most it), `+inf` if there are fewer.
#[inline]
pub(crate) fn kth_lane_minimum(lane_min: &[f32], k: usize) -> f32 {
    kth_lane_minimum_at(isa::current(), lane_min, k)
}

/// [`kth_lane_minimum`] at level `isa`.
fn kth_lane_minimum_at(level: Isa, lane_min: &[f32], k: usize) -> f32 {
    assert!(lane_min.len() >= LANES);
    #[cfg(target_arch = "x86_64")]
    if level.supported() == Isa::Avx512 {
        // SAFETY: the AVX-512 level has AVX-512F; `LANES` values asserted above.
        return unsafe { kernel::kth_lane_minimum(lane_min, k) };
    }
    kth_lane_minimum_portable(&lane_min[..LANES], k)
}

/// Portable twin of [`kth_lane_minimum`].
fn kth_lane_minimum_portable(lane_min: &[f32], k: usize) -> f32 {
    let mut found = f32::NEG_INFINITY;
    for _ in 0..k {
        // The smallest minimum above the previous one: the next distinct value.
        found = lane_min.iter().fold(
            f32::INFINITY,
            |a, &v| if v > found && v < a { v } else { a },
        );
        if found == f32::INFINITY {
            break;
        }
    }
    found
}

/// Calls `f(j)` for every `j` (ascending) with `!(row[j] > t)`: `row[j] <= t` or NaN.
#[inline]
pub(crate) fn for_each_not_above(row: &[f32], t: f32, f: impl FnMut(usize)) {
    for_each_not_above_at(isa::current(), row, t, f);
}

/// [`for_each_not_above`] at level `isa`.
fn for_each_not_above_at(level: Isa, row: &[f32], t: f32, mut f: impl FnMut(usize)) {
    #[cfg(target_arch = "x86_64")]
    if level.supported() == Isa::Avx512 {
        // SAFETY: the AVX-512 level has AVX-512F.
        unsafe { kernel::scan::<{ std::arch::x86_64::_CMP_NGT_UQ }>(row, t, f) };
        return;
    }
    #[allow(clippy::neg_cmp_op_on_partial_ord)] // `!(v > t)` is meant: it admits NaN
    row.iter()
        .enumerate()
        .filter(|(_, v)| !(**v > t))
        .for_each(|(j, _)| f(j));
}

#[cfg(target_arch = "x86_64")]
mod kernel {
    #![allow(unsafe_op_in_unsafe_fn)]

    use std::arch::x86_64::*;

    use super::{PackedCenters, LANES};

    /// Rows per micro-kernel call.
    const ROWS: usize = 6;
    /// Centre groups (of [`LANES`]) per micro-kernel call.
    const GROUPS: usize = 4;

    /// All of `m x (c1 - c0)`: panels of [`GROUPS`] centre groups, each swept by all rows so
    /// that the panel (`GROUPS * pairs * 64` bytes) stays in L1.
    ///
    /// # Safety
    /// The CPU must support AVX-512F and AVX-512 BF16; sizes as asserted by the caller.
    #[target_feature(enable = "avx512f,avx512bf16")]
    pub(super) unsafe fn tile<const LANE_MINS: bool>(
        pc: &PackedCenters,
        xp: &[u32],
        m: usize,
        (c0, c1): (usize, usize),
        norms: &[f32],
        out: &mut [f32],
        mins: &mut [f32],
    ) {
        let cb = c1 - c0;
        let per_row = if LANE_MINS { LANES } else { 1 };
        let (g0, g1) = (c0 / LANES, c1.div_ceil(LANES));
        let mut g = g0;
        while g < g1 {
            let ng = (g1 - g).min(GROUPS);
            let mut r = 0;
            while r < m {
                let nr = (m - r).min(ROWS);
                let o = out.as_mut_ptr().add(r * cb + (g - g0) * LANES);
                let valid = c1 - g * LANES;
                let x = xp.as_ptr().add(r * pc.pairs);
                let cn = norms.as_ptr().add((g - g0) * LANES);
                let mins = mins.as_mut_ptr().add(r * per_row);
                macro_rules! go {
                    ($($rr:literal),*) => {
                        match (nr, ng) {
                            $(($rr, GROUPS) => {
                                let at = Out { o, ld: cb, valid, cn, mins };
                                micro::<$rr, GROUPS, LANE_MINS>(pc, x, g, at);
                            }
                              ($rr, _) => {
                                  for gg in 0..ng {
                                      let at = Out {
                                          o: o.add(gg * LANES),
                                          ld: cb,
                                          valid: valid - gg * LANES,
                                          cn: cn.add(gg * LANES),
                                          mins,
                                      };
                                      micro::<$rr, 1, LANE_MINS>(pc, x, g + gg, at);
                                  }
                              })*
                            _ => unreachable!(),
                        }
                    };
                }
                go!(1, 2, 3, 4, 5, 6);
                r += nr;
            }
            g += ng;
        }
    }

    /// Where a micro-kernel writes: `o` (row stride `ld`) for the first centre of its first
    /// row, `valid` centres left from there (later lanes are neither read nor stored), their
    /// norms `cn`, and the running minima `mins` of its rows (one per row, or [`LANES`] per
    /// row with `LANE_MINS`).
    struct Out {
        o: *mut f32,
        ld: usize,
        valid: usize,
        cn: *const f32,
        mins: *mut f32,
    }

    /// `R` rows times `G` centre groups starting at group `g`; `x` points at the rows' pairs.
    ///
    /// # Safety
    /// As [`tile`]; `x` holds `R x pairs` words, `at.o` `R` rows of `min(valid, G * LANES)`
    /// values, `at.cn` that many norms, `at.mins` `R` minima.
    #[target_feature(enable = "avx512f,avx512bf16")]
    #[inline]
    unsafe fn micro<const R: usize, const G: usize, const LANE_MINS: bool>(
        pc: &PackedCenters,
        x: *const u32,
        g: usize,
        at: Out,
    ) {
        let np = pc.pairs;
        let c = pc.data.as_ptr().add(g * np * LANES);
        let mut acc = [[_mm512_setzero_ps(); G]; R];
        for p in 0..np {
            let mut cv = [_mm512_setzero_si512(); G];
            for (gg, v) in cv.iter_mut().enumerate() {
                *v = _mm512_loadu_si512(c.add((gg * np + p) * LANES).cast());
            }
            for (r, row) in acc.iter_mut().enumerate() {
                let xb = _mm512_set1_epi32(*x.add(r * np + p) as i32);
                for (a, v) in row.iter_mut().zip(&cv) {
                    *a = _mm512_dpbf16_ps(
                        *a,
                        std::mem::transmute::<__m512i, __m512bh>(xb),
                        std::mem::transmute::<__m512i, __m512bh>(*v),
                    );
                }
            }
        }
        let two = _mm512_set1_ps(2.0);
        let mut masks = [0u16; G];
        let mut norms = [_mm512_setzero_ps(); G];
        for (gg, (mask, cn)) in masks.iter_mut().zip(norms.iter_mut()).enumerate() {
            let left = at.valid.saturating_sub(gg * LANES).min(LANES);
            *mask = if left == LANES {
                u16::MAX
            } else {
                (1u16 << left) - 1
            };
            *cn = _mm512_maskz_loadu_ps(*mask, at.cn.add(gg * LANES));
        }
        for (r, row) in acc.iter().enumerate() {
            let mut low = _mm512_set1_ps(f32::INFINITY);
            for (gg, a) in row.iter().enumerate() {
                // ||c||^2 - 2 x.c, rounded once as in the fp32 path (2 x.c is exact).
                let v = _mm512_fnmadd_ps(two, *a, norms[gg]);
                _mm512_mask_storeu_ps(at.o.add(r * at.ld + gg * LANES), masks[gg], v);
                low = _mm512_mask_min_ps(low, masks[gg], v, low);
            }
            if LANE_MINS {
                let mr = at.mins.add(r * LANES);
                // `min(low, old)` keeps `old` where `low` is NaN, like `f32::min`.
                _mm512_storeu_ps(mr, _mm512_min_ps(low, _mm512_loadu_ps(mr)));
            } else {
                let mr = at.mins.add(r);
                *mr = (*mr).min(_mm512_reduce_min_ps(low));
            }
        }
    }

    /// `row` rounded to bfloat16 (to nearest even) into `out` (`pairs(row.len())` words, the
    /// odd tail padded with zero), 32 values per step; returns the sum of the squared rounding
    /// errors `(row_i - bf16(row_i))^2`, accumulated in 16 `f32` lanes (each lane sums every
    /// 16th error, a twin of [`super::rounding_error_norm`]'s summation bound).
    ///
    /// # Safety
    /// The CPU must support AVX-512F and AVX-512 BF16; `out.len() == pairs(row.len())`.
    #[target_feature(enable = "avx512f,avx512bf16")]
    pub(super) unsafe fn pack(row: &[f32], out: &mut [u32]) -> f32 {
        let n = row.len();
        let mut sq = _mm512_setzero_ps();
        let mut i = 0;
        while i < n {
            let left = n - i;
            let lo_n = left.min(LANES);
            let hi_n = left.saturating_sub(LANES).min(LANES);
            let mask = |c: usize| {
                if c == LANES {
                    u16::MAX
                } else {
                    (1u16 << c) - 1
                }
            };
            let lo = _mm512_maskz_loadu_ps(mask(lo_n), row.as_ptr().add(i));
            let hi = _mm512_maskz_loadu_ps(mask(hi_n), row.as_ptr().add(i + lo_n));
            // Lanes 0..16 of the result come from the second operand.
            let v: __m512i = std::mem::transmute(_mm512_cvtne2ps_pbh(hi, lo));
            let words = (lo_n + hi_n).div_ceil(2);
            _mm512_mask_storeu_epi32(out.as_mut_ptr().add(i / 2).cast(), mask(words), v);
            // The rounded values back in f32 (bfloat16 bits shifted up): exact differences.
            let back = |half: __m256i| {
                _mm512_castsi512_ps(_mm512_slli_epi32::<16>(_mm512_cvtepu16_epi32(half)))
            };
            let e_lo = _mm512_sub_ps(lo, back(_mm512_castsi512_si256(v)));
            let e_hi = _mm512_sub_ps(hi, back(_mm512_extracti64x4_epi64::<1>(v)));
            sq = _mm512_fmadd_ps(e_lo, e_lo, sq);
            sq = _mm512_fmadd_ps(e_hi, e_hi, sq);
            i += lo_n + hi_n;
        }
        _mm512_reduce_add_ps(sq)
    }

    /// See [`super::kth_lane_minimum`].
    ///
    /// # Safety
    /// The CPU must support AVX-512F; `lane_min` holds at least [`LANES`] values.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn kth_lane_minimum(lane_min: &[f32], k: usize) -> f32 {
        let inf = _mm512_set1_ps(f32::INFINITY);
        // NaN lanes become +inf (ignored), as `f32::min` would leave them out.
        let mut v = _mm512_min_ps(_mm512_loadu_ps(lane_min.as_ptr()), inf);
        let mut found = f32::INFINITY;
        for _ in 0..k {
            found = _mm512_reduce_min_ps(v);
            if found == f32::INFINITY {
                break;
            }
            // Drop every copy of that value: the next round finds the next distinct one.
            let hit = _mm512_cmp_ps_mask::<_CMP_EQ_OQ>(v, _mm512_set1_ps(found));
            v = _mm512_mask_mov_ps(v, hit, inf);
        }
        found
    }

    /// Calls `f(j)` for the entries of `row` where the comparison `CMP` with `t` holds.
    ///
    /// # Safety
    /// The CPU must support AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn scan<const CMP: i32>(row: &[f32], t: f32, mut f: impl FnMut(usize)) {
        let tv = _mm512_set1_ps(t);
        let p = row.as_ptr();
        let mut j = 0;
        // Four vectors per step: independent loads in flight, one branch for 64 values.
        while j + 4 * LANES <= row.len() {
            let h0 = _mm512_cmp_ps_mask::<CMP>(_mm512_loadu_ps(p.add(j)), tv);
            let h1 = _mm512_cmp_ps_mask::<CMP>(_mm512_loadu_ps(p.add(j + LANES)), tv);
            let h2 = _mm512_cmp_ps_mask::<CMP>(_mm512_loadu_ps(p.add(j + 2 * LANES)), tv);
            let h3 = _mm512_cmp_ps_mask::<CMP>(_mm512_loadu_ps(p.add(j + 3 * LANES)), tv);
            let mut hits = u64::from(h0)
                | (u64::from(h1) << 16)
                | (u64::from(h2) << 32)
                | (u64::from(h3) << 48);
            while hits != 0 {
                f(j + hits.trailing_zeros() as usize);
                hits &= hits - 1;
            }
            j += 4 * LANES;
        }
        while j < row.len() {
            let left = (row.len() - j).min(LANES);
            let valid: u16 = if left == LANES {
                u16::MAX
            } else {
                (1u16 << left) - 1
            };
            let v = _mm512_maskz_loadu_ps(valid, p.add(j));
            let mut hits = _mm512_mask_cmp_ps_mask::<CMP>(valid, v, tv);
            while hits != 0 {
                f(j + hits.trailing_zeros() as usize);
                hits &= hits - 1;
            }
            j += left;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bf16_rounding_is_to_nearest_even() {
        assert_eq!(from_bf16_bits(to_bf16_bits(1.0)), 1.0);
        assert_eq!(from_bf16_bits(to_bf16_bits(255.0)), 255.0);
        // 257 lies halfway between 256 and 258: ties to even mantissa (256).
        assert_eq!(from_bf16_bits(to_bf16_bits(257.0)), 256.0);
        assert_eq!(from_bf16_bits(to_bf16_bits(259.0)), 260.0);
        for v in [0.1f32, -3.7, 1e-3, 123.456, -1e20] {
            let r = from_bf16_bits(to_bf16_bits(v));
            assert!(((r - v) / v).abs() <= 2f32.powi(-8), "{v} -> {r}");
        }
    }

    fn lcg(seed: &mut u64) -> f32 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((*seed >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }

    /// Rows of `m x d` values: random reals (inexact in bfloat16) or small integers (exact).
    fn rows(m: usize, d: usize, scale: f32, integers: bool, s: &mut u64) -> Vec<f32> {
        (0..m * d)
            .map(|_| {
                let v = lcg(s) * scale;
                if integers {
                    v.round()
                } else {
                    v
                }
            })
            .collect()
    }

    #[test]
    fn every_level_stays_within_the_bound_of_the_exact_values() {
        for level in Isa::ALL {
            values_within_bound(level);
        }
    }

    fn values_within_bound(level: Isa) {
        let mut s = 7u64;
        for (m, k, d) in [
            (1, 1, 1),
            (7, 37, 5),
            (13, 100, 128),
            (6, 64, 33),
            (20, 70, 2),
        ] {
            for integers in [false, true] {
                let x = rows(m, d, 100.0, integers, &mut s);
                let c = rows(k, d, 30.0, false, &mut s);
                check_values(level, &x, &c, m, k, d);
            }
        }
    }

    /// The kernel of `level` and the portable twin, both against the exact (f64) values of
    /// `||c||^2 - 2 x.c` within the rigorous bound.
    fn check_values(level: Isa, x: &[f32], c: &[f32], m: usize, k: usize, d: usize) {
        let norms: Vec<f32> = c.chunks(d).map(|r| r.iter().map(|v| v * v).sum()).collect();
        let pc = PackedCenters::pack(level, c, k, d);
        let max_sq = norms.iter().fold(0.0f64, |a, v| a.max(f64::from(*v)));
        let centers = (norm_from_f32_sq_norm(max_sq, d), pc.max_err);
        let (mut xp, mut x_err) = (Vec::new(), Vec::new());
        for r in 0..m {
            x_err.push(push_pairs_measured_at(
                level,
                &x[r * d..(r + 1) * d],
                &mut xp,
            ));
        }
        for c0 in [0, 16, 32].into_iter().filter(|c0| *c0 < k) {
            let cb = k - c0;
            let cn = &norms[c0..];
            let mut got = Vec::new();
            for lane_mins in [false, true] {
                let per_row = if lane_mins { LANES } else { 1 };
                for portable in [false, true] {
                    let mut out = vec![f32::NAN; m * cb];
                    let mut mins = vec![f32::INFINITY; m * per_row];
                    match (lane_mins, portable) {
                        (false, false) => pc.values(&xp, m, (c0, k), cn, &mut out, &mut mins),
                        (true, false) => {
                            pc.values_lane_minima(&xp, m, (c0, k), cn, &mut out, &mut mins);
                        }
                        (false, true) => {
                            pc.values_portable::<false>(&xp, m, (c0, k), cn, &mut out, &mut mins);
                        }
                        (true, true) => {
                            pc.values_portable::<true>(&xp, m, (c0, k), cn, &mut out, &mut mins);
                        }
                    }
                    for r in 0..m {
                        let row = &out[r * cb..(r + 1) * cb];
                        for l in 0..per_row {
                            let want = row
                                .iter()
                                .enumerate()
                                .filter(|(j, _)| !lane_mins || (c0 + j) % LANES == l)
                                .fold(f32::INFINITY, |a, (_, v)| a.min(*v));
                            assert_eq!(mins[r * per_row + l], want, "r={r} lane={l}");
                        }
                    }
                    got.push(out);
                }
            }
            assert_eq!(got[0], got[2], "the minima do not change the values");
            for r in 0..m {
                let xr = &x[r * d..(r + 1) * d];
                let xn = xr.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>().sqrt();
                let worst = 2.0 * dot_error_bound(d, xn, centers.0);
                let measured = 2.0 * dot_error_bound_measured(d, (xn, x_err[r]), centers);
                assert!(measured <= worst * 1.001, "{measured} > {worst}");
                for j in 0..cb {
                    let cj = &c[(c0 + j) * d..(c0 + j + 1) * d];
                    let dot: f64 = xr
                        .iter()
                        .zip(cj)
                        .map(|(a, b)| f64::from(*a) * f64::from(*b))
                        .sum();
                    let exact = f64::from(cn[j]) - 2.0 * dot;
                    // The bound plus one f32 rounding of the result.
                    let tol = measured + 1e-7 * exact.abs();
                    for out in &got {
                        let v = out[r * cb + j];
                        assert!(
                            (f64::from(v) - exact).abs() <= tol,
                            "m={m} k={k} d={d} r={r} j={j}: {v} vs {exact} (bound {measured})"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn measured_rounding_errors_bound_the_true_ones() {
        for level in Isa::ALL {
            rounding_errors_bounded(level);
        }
    }

    fn rounding_errors_bounded(level: Isa) {
        let mut s = 9u64;
        for n in [0usize, 1, 2, 15, 16, 17, 31, 32, 33, 63, 128, 131] {
            for kind in 0..4 {
                let mut row: Vec<f32> = match kind {
                    0 => rows(1, n, 1e3, false, &mut s),
                    1 => rows(1, n, 255.0, true, &mut s)
                        .iter()
                        .map(|v| v.abs())
                        .collect(),
                    2 => rows(1, n, 1e-30, false, &mut s),
                    _ => rows(1, n, 1e12, false, &mut s),
                };
                if kind == 2 && n > 3 {
                    row[3] = 1e-40; // subnormal: flushed to zero by the instruction
                }
                let mut outs = Vec::new();
                for portable in [false, true] {
                    let mut out = vec![7u32];
                    let err = if portable {
                        push_pairs_portable(&row, &mut out);
                        rounding_error_norm(&row, &out[1..])
                    } else {
                        push_pairs_measured_at(level, &row, &mut out)
                    };
                    // The true error of this packing, in f64.
                    let truth = row
                        .iter()
                        .enumerate()
                        .map(|(i, &v)| {
                            let w = out[1 + i / 2];
                            let half = if i.is_multiple_of(2) {
                                w as u16
                            } else {
                                (w >> 16) as u16
                            };
                            (f64::from(v) - f64::from(from_bf16_bits(half))).powi(2)
                        })
                        .sum::<f64>()
                        .sqrt();
                    let tiny = (n as f64 * 2f64.powi(-148)).sqrt();
                    assert!(err >= truth, "n={n} kind={kind}: {err} < {truth}");
                    assert!(
                        err <= truth * (1.0 + 1e-4) + tiny,
                        "n={n} kind={kind}: {err} vs {truth}"
                    );
                    if kind == 1 {
                        assert!(err <= tiny, "small integers are exact in bfloat16");
                    }
                    outs.push(out);
                }
                if kind != 2 {
                    assert_eq!(outs[0], outs[1], "n={n} kind={kind}");
                }
            }
        }
    }

    #[test]
    fn kth_lane_minimum_bounds_the_kth_smallest() {
        let mut s = 13u64;
        for case in 0..200 {
            let mut lanes: Vec<f32> = (0..LANES).map(|_| (lcg(&mut s) * 6.0).round()).collect();
            if case % 3 == 0 {
                lanes[case % LANES] = f32::NAN;
            }
            if case % 4 == 0 {
                lanes[(case + 5) % LANES] = f32::INFINITY;
            }
            let mut finite: Vec<f32> = lanes.iter().copied().filter(|v| v.is_finite()).collect();
            finite.sort_by(f32::total_cmp);
            for (k, level) in (1..=LANES).flat_map(|k| Isa::ALL.map(|l| (k, l))) {
                let fast = kth_lane_minimum_at(level, &lanes, k);
                if k <= finite.len() {
                    assert!(fast >= finite[k - 1], "{lanes:?} k={k}: {fast}");
                }
                assert!(fast == f32::INFINITY || finite.contains(&fast));
                let mut distinct = finite.clone();
                distinct.dedup();
                let want = distinct.get(k - 1).copied().unwrap_or(f32::INFINITY);
                assert_eq!(fast, want, "the k-th distinct value");
            }
        }
    }

    /// Nearest bfloat16 of `v` (ties to the even mantissa), by comparing the two neighbours in
    /// f64: independent of the bit trick of [`to_bf16_bits`].
    fn nearest_bf16(v: f32) -> u16 {
        let lo = (v.to_bits() >> 16) as u16;
        let hi = lo + 1;
        let (dl, dh) = (
            (f64::from(v) - f64::from(from_bf16_bits(lo))).abs(),
            (f64::from(v) - f64::from(from_bf16_bits(hi))).abs(),
        );
        if dl < dh || (dl == dh && lo.is_multiple_of(2)) {
            lo
        } else {
            hi
        }
    }

    #[test]
    fn packing_rounds_to_nearest_at_every_level() {
        let mut s = 5u64;
        for n in [0usize, 1, 2, 15, 16, 17, 31, 32, 33, 63, 128, 131] {
            let mut row: Vec<f32> = (0..n).map(|_| lcg(&mut s) * 1e3).collect();
            if n > 2 {
                row[1] = 257.0; // a tie: to even (256)
            }
            let want: Vec<u32> = row
                .chunks(2)
                .map(|p| {
                    let hi = p.get(1).map_or(0, |v| u32::from(nearest_bf16(*v)));
                    u32::from(nearest_bf16(p[0])) | (hi << 16)
                })
                .collect();
            for level in Isa::ALL {
                let mut got = vec![7u32];
                push_pairs_measured_at(level, &row, &mut got);
                assert_eq!(got[0], 7);
                assert_eq!(&got[1..], &want[..], "{level} n={n}");
            }
        }
    }

    #[test]
    fn scans_find_exactly_the_matching_entries() {
        let mut s = 3u64;
        for n in [0usize, 1, 15, 16, 17, 40, 63, 64, 65, 128, 129, 1000] {
            let mut row: Vec<f32> = (0..n).map(|_| (lcg(&mut s) * 8.0).round()).collect();
            if n > 5 {
                row[5] = f32::NAN;
            }
            if n > 100 {
                row[100] = f32::NAN; // in the last vector of a 64-value step
            }
            for (t, level) in [-9.0f32, -1.0, 0.0, 3.0, 9.0]
                .into_iter()
                .flat_map(|t| Isa::ALL.map(|l| (t, l)))
            {
                let mut got = Vec::new();
                for_each_not_above_at(level, &row, t, |j| got.push(j));
                let want: Vec<usize> = (0..n)
                    .filter(|&j| row[j].partial_cmp(&t) != Some(std::cmp::Ordering::Greater))
                    .collect();
                assert_eq!(got, want, "n={n} t={t}");
            }
        }
    }
}

#[cfg(test)]
mod throughput {
    use super::*;
    use crate::Scalar;

    /// `cargo test --release -p vislang-core lowp::throughput -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn bf16_kernel_vs_fp32_gemm_tile() {
        let (m, k, d) = (256, 1024, 128);
        let x: Vec<f32> = (0..m * d).map(|i| ((i * 7) % 255) as f32 - 100.0).collect();
        let c: Vec<f32> = (0..k * d).map(|i| ((i * 13) % 251) as f32 - 90.0).collect();
        let pc = PackedCenters::pack(isa::current(), &c, k, d);
        let mut xp = Vec::new();
        for r in 0..m {
            push_pairs(&x[r * d..(r + 1) * d], &mut xp);
        }
        let mut out = vec![0.0f32; m * k];
        let norms = vec![1.0f32; k];
        let mut mins = vec![f32::INFINITY; m];
        let reps = 200;
        let flops = 2.0 * (m * k * d * reps) as f64;
        for _ in 0..3 {
            let t = std::time::Instant::now();
            for _ in 0..reps {
                pc.values(&xp, m, (0, k), &norms, &mut out, &mut mins);
            }
            let bf = flops / t.elapsed().as_secs_f64() / 1e9;
            let t = std::time::Instant::now();
            for _ in 0..reps {
                f32::gemm_nt(m, k, d, &x, &c, &mut out);
            }
            let fp = flops / t.elapsed().as_secs_f64() / 1e9;
            println!("1 thread, 256x1024x128 tiles: bf16 {bf:.0} GF/s, fp32 gemm {fp:.0} GF/s");
        }
    }
}
