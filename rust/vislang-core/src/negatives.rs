//! Batched margin violations over a similarity matrix: the loss and its gradient in one pass.
//!
//! `S` is a `B x C` score matrix (images x texts, or images x labels) and `P` a mask of the
//! positive pairs (default: the diagonal of a square `S`). The hinge of the triplet
//! (query `i`, positive `p`, negative `j`) is `max(0, margin - S[i,p] + S[i,j])`, where a
//! negative is any entry of the query's row (image -> text) or column (text -> image) that is not
//! positive, so other captions of the same image are never negatives.
//!
//! - [`Mode::Sum`]: the sum of hinges over all negatives (Kiros et al. 2014, Eq. 1; DeViSE's hinge
//!   rank loss, Frome et al. 2013, Eq. 1).
//! - [`Mode::Max`]: only the hardest negative of each query (VSE++, Faghri et al. 2018, Eq. 4).
//!   Ties go to the lowest index.
//! - [`warp`]: WARP (Weston, Bengio & Usunier 2011, Sec. 3): negatives are sampled until one
//!   violates the margin; its hinge is weighted by `L(floor(n_neg / trials))`, `L(k) = sum 1/j`.
//!
//! A hinge exactly at zero is inactive (subgradient 0), as for `torch.relu`. The loss is the sum
//! over every positive pair of both directions (VSE++'s reduction). The kernels read `S` once,
//! write `dL/dS` once, and use no `B x C` temporaries: rows are processed in fixed chunks of
//! [`CHUNK_ROWS`] in parallel and the per-chunk partials (loss, column counters, column maxima)
//! are reduced in chunk order, so results do not depend on the thread count. Problems smaller
//! than [`INLINE_MAX_ENTRIES`] run the same chunks one after another on the calling thread
//! ([`runs_inline`]), with bit-identical results.

use rayon::prelude::*;

use crate::rng::Rng;
use crate::{Error, MatRef, Result, Scalar};

/// Rows per work item; fixed so that results do not depend on the thread count.
pub const CHUNK_ROWS: usize = 64;
/// Lanes of the row maxima: two independent compare-and-select chains per AVX-512 register.
const LANES: usize = 16;
/// Lanes of the finiteness check: several independent add chains.
const FINITE_LANES: usize = 32;
/// Marks "no index".
const NONE: usize = usize::MAX;
/// Score matrices with fewer entries than this run on the calling thread: the kernel then takes
/// tens of microseconds, less than waking a pool, whose threads would also compete with the
/// caller's still-spinning OpenMP workers (e.g. right after torch's `S = I @ T.T`).
pub const INLINE_MAX_ENTRIES: usize = 1 << 17;

/// Whether a `rows x cols` problem runs on the calling thread (no thread pool is touched), as
/// [`contrastive_ranking`] and [`warp`] decide. Bindings use it to skip installing a pool.
pub fn runs_inline(rows: usize, cols: usize) -> bool {
    rows.saturating_mul(cols) < INLINE_MAX_ENTRIES
}

/// `f(chunk index, chunk)` over the `chunk`-sized pieces of `data`, in order; in parallel
/// unless `inline`. The same pieces either way, so reductions over the results agree bitwise.
fn map_chunks_mut<T, R, F>(data: &mut [T], chunk: usize, inline: bool, f: F) -> Vec<R>
where
    T: Send,
    R: Send,
    F: Fn(usize, &mut [T]) -> R + Sync + Send,
{
    if inline {
        data.chunks_mut(chunk)
            .enumerate()
            .map(|(c, d)| f(c, d))
            .collect()
    } else {
        data.par_chunks_mut(chunk)
            .enumerate()
            .map(|(c, d)| f(c, d))
            .collect()
    }
}

/// Which side plays the query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Rows are queries, columns the candidates (image -> text, caption retrieval).
    ImageToText,
    /// Columns are queries, rows the candidates (text -> image, image retrieval).
    TextToImage,
    /// The sum of both.
    Both,
}

impl Direction {
    /// Whether rows are queries.
    pub fn rows(self) -> bool {
        matches!(self, Self::ImageToText | Self::Both)
    }

    /// Whether columns are queries.
    pub fn cols(self) -> bool {
        matches!(self, Self::TextToImage | Self::Both)
    }
}

/// Which negatives enter the loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Every negative (VSE).
    Sum,
    /// The hardest negative of each query (VSE++ "max violation").
    Max,
}

/// The positive pairs of a score matrix.
#[derive(Debug, Clone, Copy)]
pub enum Positives<'a> {
    /// `S[i, i]` (requires a square `S`).
    Diagonal,
    /// A row-major `B x C` mask; `true` marks a positive pair.
    Mask(&'a [bool]),
}

/// Where a kernel runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    /// The calling thread below [`INLINE_MAX_ENTRIES`] entries ([`runs_inline`]), rayon's
    /// current pool above.
    Auto,
    /// The calling thread.
    Inline,
    /// Rayon's current pool.
    Parallel,
}

impl Schedule {
    fn inline(self, rows: usize, cols: usize) -> bool {
        match self {
            Self::Auto => runs_inline(rows, cols),
            Self::Inline => true,
            Self::Parallel => false,
        }
    }
}

/// Options of [`contrastive_ranking`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RankingParams {
    /// The margin of the hinge (finite).
    pub margin: f64,
    /// Sum of hinges or hardest negative.
    pub mode: Mode,
    /// Which side plays the query.
    pub direction: Direction,
}

/// Options of [`warp`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WarpParams {
    /// The margin of the hinge (finite).
    pub margin: f64,
    /// Which side plays the query.
    pub direction: Direction,
    /// Seed of the negative sampling.
    pub seed: u64,
    /// Draws per positive pair before giving up; `None`: the number of negatives (Weston 2011).
    pub max_trials: Option<usize>,
}

/// A scalar loss and its gradient with respect to the scores.
#[derive(Debug, Clone, PartialEq)]
pub struct LossGrad<T> {
    /// The loss, accumulated in `f64`.
    pub loss: f64,
    /// `dL/dS`, row-major like the scores.
    pub grad: Vec<T>,
}

/// Positive pairs in compressed form, by row and by column (indices ascending).
#[derive(Debug)]
struct Pairs<'a> {
    row_ptr: Vec<usize>,
    row_idx: Vec<usize>,
    col_ptr: Vec<usize>,
    col_idx: Vec<usize>,
    mask: Option<&'a [bool]>,
    /// At most one positive in every row and every column.
    single: bool,
    /// Run on the calling thread ([`runs_inline`]).
    inline: bool,
}

impl<'a> Pairs<'a> {
    fn new(
        rows: usize,
        cols: usize,
        positives: Positives<'a>,
        dir: Direction,
        inline: bool,
    ) -> Result<Self> {
        let pairs = match positives {
            Positives::Diagonal => {
                if rows != cols {
                    return Err(Error::invalid(
                        "positives",
                        format!(
                            "must be given when scores is not square, got shape ({rows}, {cols})"
                        ),
                    ));
                }
                let ptr: Vec<usize> = (0..=rows).collect();
                let idx: Vec<usize> = (0..rows).collect();
                Self {
                    row_ptr: ptr.clone(),
                    row_idx: idx.clone(),
                    col_ptr: ptr,
                    col_idx: idx,
                    mask: None,
                    single: true,
                    inline,
                }
            }
            Positives::Mask(mask) => Self::from_mask(rows, cols, mask, inline)?,
        };
        if dir.rows() {
            if let Some(i) = (0..rows).find(|&i| pairs.row_ptr[i] == pairs.row_ptr[i + 1]) {
                return Err(Error::invalid(
                    "positives",
                    format!(
                        "row {i} has no positive: every image needs a matching text \
                         (or use direction='t2i')"
                    ),
                ));
            }
        }
        if dir.cols() {
            if let Some(j) = (0..cols).find(|&j| pairs.col_ptr[j] == pairs.col_ptr[j + 1]) {
                return Err(Error::invalid(
                    "positives",
                    format!(
                        "column {j} has no positive: every text needs a matching image \
                         (or use direction='i2t')"
                    ),
                ));
            }
        }
        Ok(pairs)
    }

    fn from_mask(rows: usize, cols: usize, mask: &'a [bool], inline: bool) -> Result<Self> {
        if mask.len() != rows * cols {
            return Err(Error::invalid(
                "positives",
                format!(
                    "has {} entries, expected {rows} x {cols} = {}",
                    mask.len(),
                    rows * cols
                ),
            ));
        }
        let positives_of = |chunk: &[bool]| {
            let mut counts = Vec::with_capacity(CHUNK_ROWS);
            let mut idx = Vec::new();
            for row in chunk.chunks(cols) {
                let before = idx.len();
                idx.extend(row.iter().enumerate().filter(|(_, &b)| b).map(|(j, _)| j));
                counts.push(idx.len() - before);
            }
            (counts, idx)
        };
        let chunks: Vec<(Vec<usize>, Vec<usize>)> = if inline {
            mask.chunks(CHUNK_ROWS * cols).map(positives_of).collect()
        } else {
            mask.par_chunks(CHUNK_ROWS * cols)
                .map(positives_of)
                .collect()
        };
        let mut row_ptr = Vec::with_capacity(rows + 1);
        row_ptr.push(0);
        let mut row_idx = Vec::new();
        for (counts, idx) in chunks {
            for c in counts {
                row_ptr.push(row_ptr[row_ptr.len() - 1] + c);
            }
            row_idx.extend(idx);
        }
        // Counting sort by column; rows are visited in order, so each column's list ascends.
        let mut col_ptr = vec![0usize; cols + 1];
        for &j in &row_idx {
            col_ptr[j + 1] += 1;
        }
        for j in 0..cols {
            col_ptr[j + 1] += col_ptr[j];
        }
        let mut fill = col_ptr.clone();
        let mut col_idx = vec![0usize; row_idx.len()];
        for i in 0..rows {
            for &j in &row_idx[row_ptr[i]..row_ptr[i + 1]] {
                col_idx[fill[j]] = i;
                fill[j] += 1;
            }
        }
        let single = row_ptr.windows(2).all(|w| w[1] - w[0] <= 1)
            && col_ptr.windows(2).all(|w| w[1] - w[0] <= 1);
        Ok(Self {
            row_ptr,
            row_idx,
            col_ptr,
            col_idx,
            mask: Some(mask),
            single,
            inline,
        })
    }

    fn row(&self, i: usize) -> &[usize] {
        &self.row_idx[self.row_ptr[i]..self.row_ptr[i + 1]]
    }

    fn col(&self, j: usize) -> &[usize] {
        &self.col_idx[self.col_ptr[j]..self.col_ptr[j + 1]]
    }

    /// The only positive of row `i` (single mode), or [`NONE`].
    fn row_single(&self, i: usize) -> usize {
        self.row(i).first().copied().unwrap_or(NONE)
    }

    /// The only positive of column `j` (single mode), or [`NONE`].
    fn col_single(&self, j: usize) -> usize {
        self.col(j).first().copied().unwrap_or(NONE)
    }
}

fn check_margin(margin: f64) -> Result<()> {
    if margin.is_finite() {
        Ok(())
    } else {
        Err(Error::invalid(
            "margin",
            format!("must be finite, got {margin}"),
        ))
    }
}

fn first_bad_row(partials: impl IntoIterator<Item = Option<usize>>) -> Result<()> {
    match partials.into_iter().flatten().next() {
        Some(row) => Err(Error::NonFinite {
            name: "scores",
            row,
        }),
        None => Ok(()),
    }
}

/// Whether every value of `row` is finite: `v * 0` is 0 for finite values and NaN otherwise,
/// summed over lanes without an early exit so that the loop vectorises.
#[inline(always)]
fn is_finite_row<T: Scalar>(row: &[T]) -> bool {
    let mut acc = [T::zero(); FINITE_LANES];
    let chunks = row.chunks_exact(FINITE_LANES);
    let tail = chunks.remainder();
    for c in chunks {
        for l in 0..FINITE_LANES {
            acc[l] = acc[l] + c[l] * T::zero();
        }
    }
    let t = tail.iter().fold(T::zero(), |a, v| a + *v * T::zero());
    acc.iter().all(|v| *v == T::zero()) && t == T::zero()
}

/// A zeroed gradient buffer. Large ones ask Linux for transparent huge pages: the first write
/// then faults in 2 MiB at a time instead of 4 KiB, which otherwise costs as much as the kernel.
fn alloc_grad<T: Scalar>(n: usize) -> Vec<T> {
    let grad = vec![T::zero(); n];
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let bytes = n * std::mem::size_of::<T>();
        if bytes >= 2 * HUGE {
            let start = grad.as_ptr() as usize;
            let first = start.next_multiple_of(HUGE);
            let len = (start + bytes).saturating_sub(first) / HUGE * HUGE;
            if len > 0 {
                // SAFETY: `[first, first + len)` lies inside the live allocation of `grad`;
                // the advice changes only how its (still untouched) pages are backed, and a
                // failure is harmless, so the return value is ignored.
                unsafe {
                    libc::madvise(first as *mut libc::c_void, len, libc::MADV_HUGEPAGE);
                }
            }
        }
    }
    grad
}

/// Compiles `$inner` (`#[inline(always)]`, generic over [`Scalar`]) once per instruction set
/// and defines `$name` that calls the widest one this CPU runs (the arithmetic, hence the
/// result, is the same for all).
macro_rules! isa_dispatched {
    ($name:ident, $inner:ident, $v512:ident, $v2:ident, ($($arg:ident: $ty:ty),*) -> $ret:ty) => {
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
        unsafe fn $v512<T: Scalar>($($arg: $ty),*) -> $ret {
            $inner($($arg),*)
        }

        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn $v2<T: Scalar>($($arg: $ty),*) -> $ret {
            $inner($($arg),*)
        }

        fn $name<T: Scalar>($($arg: $ty),*) -> $ret {
            match crate::scalar::isa() {
                // SAFETY: `isa()` detected the instruction set at run time.
                #[cfg(target_arch = "x86_64")]
                crate::scalar::Isa::Avx512 => unsafe { $v512($($arg),*) },
                // SAFETY: as above.
                #[cfg(target_arch = "x86_64")]
                crate::scalar::Isa::Avx2 => unsafe { $v2($($arg),*) },
                _ => $inner($($arg),*),
            }
        }
    };
}

isa_dispatched!(
    sum_single_chunk_isa,
    sum_single_chunk,
    sum_single_chunk_avx512,
    sum_single_chunk_avx2,
    (c: &SingleChunk<'_, '_, T>, g_chunk: &mut [T]) -> (f64, Vec<T>, Option<usize>)
);
isa_dispatched!(
    max_single_chunk_isa,
    max_single_chunk,
    max_single_chunk_avx512,
    max_single_chunk_avx2,
    (c: &SingleChunk<'_, '_, T>, g_chunk: &mut [T], track_cols: bool) -> MaxPartial<T>
);

/// Loss and gradient of the triplet margin loss over `scores` (`B x C`).
///
/// Returns the sum over positive pairs of the hinges against all negatives ([`Mode::Sum`]) or
/// the hardest one ([`Mode::Max`]), in the chosen directions, and `dL/dS`.
///
/// # Errors
/// Empty scores, a non-finite margin or score ([`Error::NonFinite`] names the first bad row),
/// a mask of the wrong length, no positives given for a non-square `S`, or a query (row for
/// image -> text, column for text -> image) with no positive.
pub fn contrastive_ranking<T: Scalar>(
    scores: MatRef<'_, T>,
    positives: Positives<'_>,
    params: &RankingParams,
) -> Result<LossGrad<T>> {
    contrastive_ranking_scheduled(scores, positives, params, Schedule::Auto)
}

/// [`contrastive_ranking`] on the calling thread or rayon's current pool, as `schedule` says;
/// the result is bitwise the same for every schedule and thread count.
///
/// # Errors
/// As [`contrastive_ranking`].
pub fn contrastive_ranking_scheduled<T: Scalar>(
    scores: MatRef<'_, T>,
    positives: Positives<'_>,
    params: &RankingParams,
    schedule: Schedule,
) -> Result<LossGrad<T>> {
    scores.check_non_empty("scores")?;
    check_margin(params.margin)?;
    let inline = schedule.inline(scores.rows(), scores.cols());
    let pairs = Pairs::new(
        scores.rows(),
        scores.cols(),
        positives,
        params.direction,
        inline,
    )?;
    match (pairs.single, params.mode) {
        (true, Mode::Sum) => Ok(sum_single(scores, &pairs, params)?),
        (true, Mode::Max) => Ok(max_single(scores, &pairs, params)?),
        (false, Mode::Sum) => Ok(sum_general(scores, &pairs, params)?),
        (false, Mode::Max) => Ok(max_general(scores, &pairs, params)?),
    }
}

/// `margin - S[q, p]` for the single positive of each row (`-inf`: no hinge on this side).
fn single_thresholds<T: Scalar>(
    scores: MatRef<'_, T>,
    pairs: &Pairs<'_>,
    params: &RankingParams,
) -> (Vec<T>, Vec<T>) {
    let margin = T::from_f64(params.margin);
    let (rows, cols) = (scores.rows(), scores.cols());
    let s = scores.as_slice();
    let row_thr = (0..rows)
        .map(|i| match pairs.row_single(i) {
            p if p != NONE && params.direction.rows() => margin - s[i * cols + p],
            _ => T::neg_infinity(),
        })
        .collect();
    let col_thr = (0..cols)
        .map(|j| match pairs.col_single(j) {
            q if q != NONE && params.direction.cols() => margin - s[q * cols + j],
            _ => T::neg_infinity(),
        })
        .collect();
    (row_thr, col_thr)
}

/// One stretch of a row without positives: hinges against the row threshold `thr` and the
/// column thresholds; the loss goes into the per-column sums `col_loss`, gradient counts into
/// `g`, column counts into `col_acc`. Returns the number of active row hinges.
///
/// Element-wise apart from an integer count, so the compiler turns it into SIMD selects (a
/// floating-point sum along the row would not vectorise without reassociation).
#[inline(always)]
fn hinge_segment<T: Scalar>(
    s: &[T],
    g: &mut [T],
    col_thr: &[T],
    col_acc: &mut [T],
    col_loss: &mut [T],
    thr: T,
) -> u32 {
    let (zero, one) = (T::zero(), T::one());
    let mut cnt = 0u32;
    for ((((v, g), t), acc), lc) in s
        .iter()
        .zip(g.iter_mut())
        .zip(col_thr)
        .zip(col_acc.iter_mut())
        .zip(col_loss.iter_mut())
    {
        let a = thr + *v;
        let b = *t + *v;
        let pa = a > zero;
        let pb = b > zero;
        *lc = *lc + ((if pa { a } else { zero }) + (if pb { b } else { zero }));
        let ia = if pa { one } else { zero };
        let ib = if pb { one } else { zero };
        cnt += u32::from(pa);
        *acc = *acc + ib;
        *g = ia + ib;
    }
    cnt
}

/// The inputs of one chunk of rows of the single-positive kernels.
struct SingleChunk<'s, 'p, T> {
    scores: MatRef<'s, T>,
    pairs: &'p Pairs<'p>,
    row_thr: &'s [T],
    col_thr: &'s [T],
    first_row: usize,
}

/// One chunk of [`sum_single`]: (loss, column counts, first non-finite row).
#[inline(always)]
fn sum_single_chunk<T: Scalar>(
    c: &SingleChunk<'_, '_, T>,
    g_chunk: &mut [T],
) -> (f64, Vec<T>, Option<usize>) {
    let cols = c.scores.cols();
    let col_thr = c.col_thr;
    let mut col_acc = vec![T::zero(); cols];
    let mut col_loss = vec![T::zero(); cols];
    let mut bad = None;
    for (r, g) in g_chunk.chunks_mut(cols).enumerate() {
        let i = c.first_row + r;
        let s = c.scores.row(i);
        if !is_finite_row(s) {
            bad = Some(i);
            break;
        }
        let p = c.pairs.row_single(i);
        let thr = c.row_thr[i];
        if p == NONE {
            hinge_segment(s, g, col_thr, &mut col_acc, &mut col_loss, thr);
        } else {
            let n1 = hinge_segment(
                &s[..p],
                &mut g[..p],
                &col_thr[..p],
                &mut col_acc[..p],
                &mut col_loss[..p],
                thr,
            );
            let n2 = hinge_segment(
                &s[p + 1..],
                &mut g[p + 1..],
                &col_thr[p + 1..],
                &mut col_acc[p + 1..],
                &mut col_loss[p + 1..],
                thr,
            );
            g[p] = T::zero() - T::from_f64(f64::from(n1 + n2));
        }
    }
    let loss = col_loss.iter().map(|v| v.as_f64()).sum();
    (loss, col_acc, bad)
}

/// Sum of hinges, at most one positive per row and column (the B x B diagonal case).
fn sum_single<T: Scalar>(
    scores: MatRef<'_, T>,
    pairs: &Pairs<'_>,
    params: &RankingParams,
) -> Result<LossGrad<T>> {
    let (rows, cols) = (scores.rows(), scores.cols());
    let (row_thr, col_thr) = single_thresholds(scores, pairs, params);
    let mut grad = alloc_grad::<T>(rows * cols);
    let partials: Vec<(f64, Vec<T>, Option<usize>)> =
        map_chunks_mut(&mut grad, CHUNK_ROWS * cols, pairs.inline, |c, g_chunk| {
            let chunk = SingleChunk {
                scores,
                pairs,
                row_thr: &row_thr,
                col_thr: &col_thr,
                first_row: c * CHUNK_ROWS,
            };
            sum_single_chunk_isa(&chunk, g_chunk)
        });
    first_bad_row(partials.iter().map(|p| p.2))?;
    let mut loss = 0.0;
    let mut col_cnt = vec![T::zero(); cols];
    for (l, acc, _) in &partials {
        loss += l;
        for (t, a) in col_cnt.iter_mut().zip(acc) {
            *t = *t + *a;
        }
    }
    for (j, cnt) in col_cnt.iter().enumerate() {
        let q = pairs.col_single(j);
        if q != NONE {
            let k = q * cols + j;
            grad[k] = grad[k] - *cnt;
        }
    }
    Ok(LossGrad { loss, grad })
}

/// Hardest negative in `s` (offset `off` in the row): lane-wise strict maxima, then the
/// largest value with the lowest index. Also raises the column maxima `cm`/`ca` to row `i`.
#[inline(always)]
fn max_segment<T: Scalar>(
    s: &[T],
    off: usize,
    i: usize,
    cm: &mut [T],
    ca: &mut [usize],
    track_cols: bool,
) -> (T, usize) {
    let n = s.len();
    let mut best = [T::neg_infinity(); LANES];
    let mut arg = [NONE; LANES];
    let split = n - n % LANES;
    for (b, sc) in s[..split].chunks_exact(LANES).enumerate() {
        for l in 0..LANES {
            if sc[l] > best[l] {
                best[l] = sc[l];
                arg[l] = b * LANES + l;
            }
        }
    }
    for (j, v) in s[split..n].iter().enumerate() {
        let l = j % LANES;
        if *v > best[l] {
            best[l] = *v;
            arg[l] = split + j;
        }
    }
    if track_cols {
        for ((v, m), a) in s.iter().zip(cm.iter_mut()).zip(ca.iter_mut()) {
            // Branch-free select so the loop vectorises.
            let gt = *v > *m;
            *m = if gt { *v } else { *m };
            *a = if gt { i } else { *a };
        }
    }
    let mut out = (T::neg_infinity(), NONE);
    for l in 0..LANES {
        if arg[l] != NONE && (best[l] > out.0 || (best[l] == out.0 && arg[l] + off < out.1)) {
            out = (best[l], arg[l] + off);
        }
    }
    out
}

/// Merges per-chunk column maxima in chunk order (strict `>`: ties keep the lowest row).
fn merge_col_max<T: Scalar>(cols: usize, parts: &[(Vec<T>, Vec<usize>)]) -> (Vec<T>, Vec<usize>) {
    let mut cm = vec![T::neg_infinity(); cols];
    let mut ca = vec![NONE; cols];
    for (pm, pa) in parts {
        for j in 0..cols {
            if pa[j] != NONE && pm[j] > cm[j] {
                cm[j] = pm[j];
                ca[j] = pa[j];
            }
        }
    }
    (cm, ca)
}

type MaxPartial<T> = (f64, Vec<T>, Vec<usize>, Option<usize>);

/// One chunk of [`max_single`]: (loss, column maxima and their rows, first non-finite row).
#[inline(always)]
fn max_single_chunk<T: Scalar>(
    c: &SingleChunk<'_, '_, T>,
    g_chunk: &mut [T],
    track_cols: bool,
) -> MaxPartial<T> {
    let cols = c.scores.cols();
    let col_len = if track_cols { cols } else { 0 };
    let mut loss = 0.0;
    let mut cm = vec![T::neg_infinity(); col_len];
    let mut ca = vec![NONE; col_len];
    for (r, g) in g_chunk.chunks_mut(cols).enumerate() {
        let i = c.first_row + r;
        let s = c.scores.row(i);
        if !is_finite_row(s) {
            return (loss, cm, ca, Some(i));
        }
        let p = c.pairs.row_single(i);
        let (best, arg) = if p == NONE {
            max_segment(s, 0, i, &mut cm, &mut ca, track_cols)
        } else {
            let (cm1, cm2) = cm.split_at_mut(p.min(col_len));
            let (ca1, ca2) = ca.split_at_mut(p.min(col_len));
            let left = max_segment(&s[..p], 0, i, cm1, ca1, track_cols);
            let (cm2, ca2) = if track_cols {
                (&mut cm2[1..], &mut ca2[1..])
            } else {
                (cm2, ca2)
            };
            let right = max_segment(&s[p + 1..], p + 1, i, cm2, ca2, track_cols);
            // Left wins ties: its indices are lower.
            if right.1 != NONE && (left.1 == NONE || right.0 > left.0) {
                right
            } else {
                left
            }
        };
        if p != NONE && arg != NONE {
            let a = c.row_thr[i] + best;
            if a > T::zero() {
                loss += a.as_f64();
                g[arg] = g[arg] + T::one();
                g[p] = g[p] - T::one();
            }
        }
    }
    (loss, cm, ca, None)
}

/// Hardest negatives, at most one positive per row and column.
fn max_single<T: Scalar>(
    scores: MatRef<'_, T>,
    pairs: &Pairs<'_>,
    params: &RankingParams,
) -> Result<LossGrad<T>> {
    let (rows, cols) = (scores.rows(), scores.cols());
    let (row_thr, col_thr) = single_thresholds(scores, pairs, params);
    let track_cols = params.direction.cols();
    let mut grad = alloc_grad::<T>(rows * cols);
    let partials: Vec<MaxPartial<T>> =
        map_chunks_mut(&mut grad, CHUNK_ROWS * cols, pairs.inline, |c, g_chunk| {
            let chunk = SingleChunk {
                scores,
                pairs,
                row_thr: &row_thr,
                col_thr: &col_thr,
                first_row: c * CHUNK_ROWS,
            };
            max_single_chunk_isa(&chunk, g_chunk, track_cols)
        });
    first_bad_row(partials.iter().map(|p| p.3))?;
    let mut loss: f64 = partials.iter().map(|p| p.0).sum();
    if track_cols {
        let parts: Vec<(Vec<T>, Vec<usize>)> =
            partials.into_iter().map(|(_, m, a, _)| (m, a)).collect();
        let (cm, ca) = merge_col_max(cols, &parts);
        for j in 0..cols {
            let q = pairs.col_single(j);
            if q == NONE || ca[j] == NONE {
                continue;
            }
            let b = col_thr[j] + cm[j];
            if b > T::zero() {
                loss += b.as_f64();
                grad[ca[j] * cols + j] = grad[ca[j] * cols + j] + T::one();
                grad[q * cols + j] = grad[q * cols + j] - T::one();
            }
        }
    }
    Ok(LossGrad { loss, grad })
}

/// Column thresholds `margin - S[q, j]` for every column positive, in column-CSR order.
fn col_thresholds<T: Scalar>(scores: MatRef<'_, T>, pairs: &Pairs<'_>, margin: T) -> Vec<T> {
    let cols = scores.cols();
    let s = scores.as_slice();
    let mut out = Vec::with_capacity(pairs.col_idx.len());
    for j in 0..cols {
        out.extend(pairs.col(j).iter().map(|&q| margin - s[q * cols + j]));
    }
    out
}

/// Sum of hinges with an arbitrary mask (several captions per image).
fn sum_general<T: Scalar>(
    scores: MatRef<'_, T>,
    pairs: &Pairs<'_>,
    params: &RankingParams,
) -> Result<LossGrad<T>> {
    let (rows, cols) = (scores.rows(), scores.cols());
    let Some(mask) = pairs.mask else {
        return Err(Error::invalid("positives", "a general mask is required"));
    };
    let margin = T::from_f64(params.margin);
    let (by_row, by_col) = (params.direction.rows(), params.direction.cols());
    let col_thr = col_thresholds(scores, pairs, margin);
    let nnz = pairs.col_idx.len();
    let mut grad = vec![T::zero(); rows * cols];
    let partials: Vec<(f64, Vec<u64>, Option<usize>)> =
        map_chunks_mut(&mut grad, CHUNK_ROWS * cols, pairs.inline, |c, g_chunk| {
            let mut loss = 0.0;
            let mut col_cnt = vec![0u64; if by_col { nnz } else { 0 }];
            let mut row_thr: Vec<T> = Vec::new();
            let mut row_cnt: Vec<u64> = Vec::new();
            for (r, g) in g_chunk.chunks_mut(cols).enumerate() {
                let i = c * CHUNK_ROWS + r;
                let s = scores.row(i);
                if !is_finite_row(s) {
                    return (loss, col_cnt, Some(i));
                }
                let m = &mask[i * cols..(i + 1) * cols];
                let pos = pairs.row(i);
                row_thr.clear();
                if by_row {
                    row_thr.extend(pos.iter().map(|&p| margin - s[p]));
                }
                row_cnt.clear();
                row_cnt.resize(row_thr.len(), 0);
                for j in 0..cols {
                    if m[j] {
                        continue;
                    }
                    let v = s[j];
                    let mut gj = 0u64;
                    for (t, n) in row_thr.iter().zip(row_cnt.iter_mut()) {
                        let a = *t + v;
                        if a > T::zero() {
                            loss += a.as_f64();
                            gj += 1;
                            *n += 1;
                        }
                    }
                    if by_col {
                        let (lo, hi) = (pairs.col_ptr[j], pairs.col_ptr[j + 1]);
                        for (t, n) in col_thr[lo..hi].iter().zip(&mut col_cnt[lo..hi]) {
                            let b = *t + v;
                            if b > T::zero() {
                                loss += b.as_f64();
                                gj += 1;
                                *n += 1;
                            }
                        }
                    }
                    g[j] = T::from_f64(gj as f64);
                }
                for (&p, n) in pos.iter().zip(&row_cnt) {
                    g[p] = T::zero() - T::from_f64(*n as f64);
                }
            }
            (loss, col_cnt, None)
        });
    first_bad_row(partials.iter().map(|p| p.2))?;
    let mut loss = 0.0;
    let mut col_cnt = vec![0u64; if by_col { nnz } else { 0 }];
    for (l, cnt, _) in &partials {
        loss += l;
        for (t, n) in col_cnt.iter_mut().zip(cnt) {
            *t += n;
        }
    }
    if by_col {
        for j in 0..cols {
            let (lo, hi) = (pairs.col_ptr[j], pairs.col_ptr[j + 1]);
            for (&q, n) in pairs.col_idx[lo..hi].iter().zip(&col_cnt[lo..hi]) {
                let k = q * cols + j;
                grad[k] = grad[k] - T::from_f64(*n as f64);
            }
        }
    }
    Ok(LossGrad { loss, grad })
}

/// Hardest negatives with an arbitrary mask.
fn max_general<T: Scalar>(
    scores: MatRef<'_, T>,
    pairs: &Pairs<'_>,
    params: &RankingParams,
) -> Result<LossGrad<T>> {
    let (rows, cols) = (scores.rows(), scores.cols());
    let Some(mask) = pairs.mask else {
        return Err(Error::invalid("positives", "a general mask is required"));
    };
    let margin = T::from_f64(params.margin);
    let (by_row, by_col) = (params.direction.rows(), params.direction.cols());
    let col_len = if by_col { cols } else { 0 };
    let mut grad = vec![T::zero(); rows * cols];
    let partials: Vec<MaxPartial<T>> =
        map_chunks_mut(&mut grad, CHUNK_ROWS * cols, pairs.inline, |c, g_chunk| {
            let mut loss = 0.0;
            let mut cm = vec![T::neg_infinity(); col_len];
            let mut ca = vec![NONE; col_len];
            for (r, g) in g_chunk.chunks_mut(cols).enumerate() {
                let i = c * CHUNK_ROWS + r;
                let s = scores.row(i);
                if !is_finite_row(s) {
                    return (loss, cm, ca, Some(i));
                }
                let m = &mask[i * cols..(i + 1) * cols];
                let (mut best, mut arg) = (T::neg_infinity(), NONE);
                for j in 0..cols {
                    if m[j] {
                        continue;
                    }
                    let v = s[j];
                    if v > best {
                        best = v;
                        arg = j;
                    }
                    if by_col && v > cm[j] {
                        cm[j] = v;
                        ca[j] = i;
                    }
                }
                if by_row && arg != NONE {
                    for &p in pairs.row(i) {
                        let a = margin - s[p] + best;
                        if a > T::zero() {
                            loss += a.as_f64();
                            g[arg] = g[arg] + T::one();
                            g[p] = g[p] - T::one();
                        }
                    }
                }
            }
            (loss, cm, ca, None)
        });
    first_bad_row(partials.iter().map(|p| p.3))?;
    let mut loss: f64 = partials.iter().map(|p| p.0).sum();
    if by_col {
        let s = scores.as_slice();
        let parts: Vec<(Vec<T>, Vec<usize>)> =
            partials.into_iter().map(|(_, m, a, _)| (m, a)).collect();
        let (cm, ca) = merge_col_max(cols, &parts);
        for j in 0..cols {
            if ca[j] == NONE {
                continue;
            }
            for &q in pairs.col(j) {
                let b = margin - s[q * cols + j] + cm[j];
                if b > T::zero() {
                    loss += b.as_f64();
                    grad[ca[j] * cols + j] = grad[ca[j] * cols + j] + T::one();
                    grad[q * cols + j] = grad[q * cols + j] - T::one();
                }
            }
        }
    }
    Ok(LossGrad { loss, grad })
}

/// `L(k) = sum_{j=1..k} 1/j` for `k = 0..=n` (Weston 2011, `alpha_j = 1/j`).
pub fn rank_weights(n: usize) -> Vec<f64> {
    let mut h = Vec::with_capacity(n + 1);
    let mut acc = 0.0;
    h.push(acc);
    for j in 1..=n {
        acc += 1.0 / j as f64;
        h.push(acc);
    }
    h
}

/// SplitMix64 finaliser: decorrelates the per-query seeds.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The `r`-th index in `0..n` that is not in the ascending list `pos`.
#[inline]
fn nth_negative(r: usize, pos: &[usize]) -> usize {
    let mut j = r;
    for &p in pos {
        if p <= j {
            j += 1;
        } else {
            break;
        }
    }
    j
}

/// One direction of WARP: the loss and the sparse gradient updates `(flat index, weight)`.
fn warp_side<T: Scalar>(
    scores: MatRef<'_, T>,
    pairs: &Pairs<'_>,
    params: &WarpParams,
    by_row: bool,
    weights: &[f64],
) -> Vec<(f64, Vec<(usize, f64)>)> {
    let (rows, cols) = (scores.rows(), scores.cols());
    let s = scores.as_slice();
    let (n_queries, n_items) = if by_row { (rows, cols) } else { (cols, rows) };
    let flat = |q: usize, j: usize| if by_row { q * cols + j } else { j * cols + q };
    let margin = T::from_f64(params.margin);
    let side_seed = mix(params.seed ^ if by_row { 0 } else { 0x5851_F42D_4C95_7F2D });
    let chunk = |c: usize| {
        let mut loss = 0.0;
        let mut updates = Vec::new();
        for q in c * CHUNK_ROWS..((c + 1) * CHUNK_ROWS).min(n_queries) {
            let pos = if by_row { pairs.row(q) } else { pairs.col(q) };
            let n_neg = n_items - pos.len();
            if n_neg == 0 || pos.is_empty() {
                continue;
            }
            let mut rng = Rng::new(mix(side_seed ^ mix(q as u64)));
            let limit = params.max_trials.unwrap_or(n_neg);
            for &p in pos {
                let sp = s[flat(q, p)];
                for t in 1..=limit {
                    let j = nth_negative(rng.below(n_neg), pos);
                    let a = margin - sp + s[flat(q, j)];
                    if a > T::zero() {
                        let w = weights[n_neg / t];
                        loss += w * a.as_f64();
                        updates.push((flat(q, j), w));
                        updates.push((flat(q, p), -w));
                        break;
                    }
                }
            }
        }
        (loss, updates)
    };
    let n_chunks = n_queries.div_ceil(CHUNK_ROWS);
    if pairs.inline {
        (0..n_chunks).map(chunk).collect()
    } else {
        (0..n_chunks).into_par_iter().map(chunk).collect()
    }
}

/// WARP loss (Weston, Bengio & Usunier 2011) and its gradient.
///
/// For every positive pair `(q, p)`, negatives `j` of query `q` are drawn uniformly with
/// replacement until `margin - S[q,p] + S[q,j] > 0` or `max_trials` draws were made. After `t`
/// draws, the rank of `p` is estimated as `floor(n_neg / t)` (the paper's `floor((Y-1)/N)` with
/// one positive) and the hinge is weighted by `L(rank)`. Each query has its own random stream
/// derived from the seed, so the result does not depend on the thread count.
///
/// # Errors
/// As [`contrastive_ranking`], plus `max_trials == Some(0)`.
pub fn warp<T: Scalar>(
    scores: MatRef<'_, T>,
    positives: Positives<'_>,
    params: &WarpParams,
) -> Result<LossGrad<T>> {
    scores.check_non_empty("scores")?;
    check_margin(params.margin)?;
    if params.max_trials == Some(0) {
        return Err(Error::invalid("max_trials", "must be >= 1, got 0"));
    }
    let inline = runs_inline(scores.rows(), scores.cols());
    let pairs = Pairs::new(
        scores.rows(),
        scores.cols(),
        positives,
        params.direction,
        inline,
    )?;
    scores.check_finite("scores")?;
    let weights = rank_weights(scores.rows().max(scores.cols()));
    let mut grad = vec![T::zero(); scores.rows() * scores.cols()];
    let mut loss = 0.0;
    for by_row in [true, false] {
        let wanted = if by_row {
            params.direction.rows()
        } else {
            params.direction.cols()
        };
        if !wanted {
            continue;
        }
        for (l, updates) in warp_side(scores, &pairs, params, by_row, &weights) {
            loss += l;
            for (k, w) in updates {
                grad[k] = grad[k] + T::from_f64(w);
            }
        }
    }
    Ok(LossGrad { loss, grad })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nth_negative_skips_positives() {
        let pos = [1, 2, 5];
        let negs: Vec<usize> = (0..5).map(|r| nth_negative(r, &pos)).collect();
        assert_eq!(negs, vec![0, 3, 4, 6, 7]);
    }

    #[test]
    fn rank_weights_are_harmonic_numbers() {
        let h = rank_weights(3);
        assert_eq!(h[0], 0.0);
        assert!((h[3] - (1.0 + 0.5 + 1.0 / 3.0)).abs() < 1e-15);
    }

    #[test]
    fn max_segment_prefers_lowest_index_on_ties() {
        let s = [1.0f64, 3.0, 3.0, 0.0, 3.0, 2.0, 3.0, 1.0, 3.0, 3.0, 3.0];
        let mut cm = vec![0.0; s.len()];
        let mut ca = vec![NONE; s.len()];
        assert_eq!(max_segment(&s, 4, 0, &mut cm, &mut ca, false), (3.0, 5));
    }
}
