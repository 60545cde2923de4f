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

mod max;
mod pairs;
mod sum;
mod warp;

use crate::isa::{self, Isa};
use crate::{Error, MatRef, Result, Scalar};
use pairs::Pairs;
pub use warp::{rank_weights, warp};

/// Rows per work item; fixed so that results do not depend on the thread count.
pub const CHUNK_ROWS: usize = 64;
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
    contrastive_ranking_at(scores, positives, params, schedule, isa::current())
}

/// [`contrastive_ranking_scheduled`] with the chunk kernels compiled for `isa` (lowered to what
/// the CPU runs): every level gives the same result bitwise; tests compare them.
///
/// # Errors
/// As [`contrastive_ranking`].
pub fn contrastive_ranking_at<T: Scalar>(
    scores: MatRef<'_, T>,
    positives: Positives<'_>,
    params: &RankingParams,
    schedule: Schedule,
    isa: Isa,
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
        (true, Mode::Sum) => sum::sum_single(scores, &pairs, params, isa),
        (true, Mode::Max) => max::max_single(scores, &pairs, params, isa),
        (false, Mode::Sum) => sum::sum_general(scores, &pairs, params),
        (false, Mode::Max) => max::max_general(scores, &pairs, params),
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

/// The inputs of one chunk of rows of the single-positive kernels.
pub(crate) struct SingleChunk<'s, 'p, T> {
    pub(crate) scores: MatRef<'s, T>,
    pub(crate) pairs: &'p Pairs<'p>,
    pub(crate) row_thr: &'s [T],
    pub(crate) col_thr: &'s [T],
    pub(crate) first_row: usize,
}
