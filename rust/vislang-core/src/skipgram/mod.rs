//! Skip-gram with negative sampling (Mikolov et al. 2013) and the multimodal skip-gram of
//! Lazaridou, Pham & Baroni (2015), trained by Hogwild threads (Niu et al. 2011).
//!
//! The corpus is a CSR array of word ids (`ids`, sentence `offsets`); words are `0..counts.len()`.
//! Each thread owns a contiguous shard of sentences and runs every epoch over it, updating the
//! shared weights without locks, exactly as word2vec.c and gensim do. With one thread the output
//! is a function of the seed.

mod kernels;
pub mod tables;
mod train;

pub use kernels::NORM_FLOOR;
pub use train::{train, train_at, Progress};

use crate::error::{Error, Result};

/// Settings of the text (skip-gram) objective.
#[derive(Debug, Clone)]
pub struct SkipGramParams {
    /// Dimension of the word vectors.
    pub vector_size: usize,
    /// Maximum window radius; each position draws its radius uniformly in `1..=window`.
    pub window: usize,
    /// Noise words per (word, context) pair.
    pub negative: usize,
    /// Subsampling threshold of frequent words (`0` disables it).
    pub sample: f64,
    /// Initial learning rate.
    pub alpha: f32,
    /// Final learning rate, reached linearly after `epochs` passes.
    pub min_alpha: f32,
    /// Passes over the corpus.
    pub epochs: usize,
    /// Seed of the initial weights and of every thread's stream.
    pub seed: u64,
    /// Exponent of the unigram noise distribution (0.75).
    pub ns_exponent: f64,
}

/// Which word representation the visual term acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// MMSkip-gram-A: the word vector itself (`vector_size == visual dim`).
    A,
    /// MMSkip-gram-B: a learned linear map `M w` (`M`: visual dim x vector_size).
    B,
}

/// The visual side of the multimodal skip-gram.
///
/// For a centre word with a visual vector `v`, the loss adds
/// `weight * sum_j max(0, margin - cos(u, v) + cos(u, v_j))` over `n_negatives` visual vectors
/// `v_j` drawn uniformly from the other words'. The step uses the exact gradient with `1/|u|`
/// taken as `1/max(|u|, NORM_FLOOR)`: word2vec's initial vectors have norm ~0.003, where the
/// exact cosine gradient would throw them far away.
#[derive(Debug, Clone)]
pub struct MultimodalParams<'a> {
    /// Visual vectors, `n_visual x vdim` row-major (normalised to unit length internally).
    pub vectors: &'a [f32],
    /// Visual dimension.
    pub vdim: usize,
    /// Row of `vectors` of each word, or `-1`.
    pub visual_of: &'a [i64],
    /// A or B.
    pub variant: Variant,
    /// The margin gamma (0.5 in the paper).
    pub margin: f32,
    /// Visual negatives per update.
    pub n_negatives: usize,
    /// Weight of the term relative to the text objective.
    pub weight: f32,
}

/// Trained weights.
#[derive(Debug, Clone)]
pub struct Trained {
    /// Input (word) vectors, `vocab x vector_size`.
    pub syn0: Vec<f32>,
    /// Output (context) vectors, `vocab x vector_size`.
    pub syn1neg: Vec<f32>,
    /// MMSkip-gram-B's map, `vdim x vector_size`.
    pub mapping: Option<Vec<f32>>,
    /// Corpus words processed (before subsampling), over all epochs.
    pub words_done: u64,
}

/// A tokenised corpus as CSR: sentence `s` is `ids[offsets[s]..offsets[s + 1]]`.
#[derive(Debug, Clone, Copy)]
pub struct Corpus<'a> {
    /// Word ids.
    pub ids: &'a [u32],
    /// Sentence boundaries, `offsets[0] == 0`, last `== ids.len()`.
    pub offsets: &'a [usize],
}

impl SkipGramParams {
    /// Checks every setting.
    pub fn validate(&self) -> Result<()> {
        let positive = |name: &'static str, v: usize| {
            if v == 0 {
                Err(Error::invalid(name, "must be >= 1, got 0"))
            } else {
                Ok(())
            }
        };
        positive("vector_size", self.vector_size)?;
        positive("window", self.window)?;
        positive("epochs", self.epochs)?;
        if !(self.alpha.is_finite() && self.alpha > 0.0) {
            return Err(Error::invalid(
                "alpha",
                format!("must be > 0, got {}", self.alpha),
            ));
        }
        if !(self.min_alpha.is_finite() && self.min_alpha >= 0.0 && self.min_alpha <= self.alpha) {
            return Err(Error::invalid(
                "min_alpha",
                format!(
                    "must be in [0, alpha={}], got {}",
                    self.alpha, self.min_alpha
                ),
            ));
        }
        if !(self.sample.is_finite() && self.sample >= 0.0) {
            return Err(Error::invalid(
                "sample",
                format!("must be >= 0, got {}", self.sample),
            ));
        }
        if !self.ns_exponent.is_finite() {
            return Err(Error::invalid("ns_exponent", "must be finite"));
        }
        Ok(())
    }
}

impl Corpus<'_> {
    /// Checks the offsets and that every id is below `vocab`.
    pub fn validate(&self, vocab: usize) -> Result<()> {
        let (Some(&first), Some(&last)) = (self.offsets.first(), self.offsets.last()) else {
            return Err(Error::invalid(
                "offsets",
                "must hold at least one element (0)",
            ));
        };
        if first != 0 || last != self.ids.len() {
            return Err(Error::invalid(
                "offsets",
                format!(
                    "must start at 0 and end at len(ids)={}, got {first}..{last}",
                    self.ids.len()
                ),
            ));
        }
        if let Some(s) = self.offsets.windows(2).position(|w| w[1] < w[0]) {
            return Err(Error::invalid(
                "offsets",
                format!("must be non-decreasing, sentence {s} ends before it starts"),
            ));
        }
        if let Some(i) = self.ids.iter().position(|&w| w as usize >= vocab) {
            return Err(Error::invalid(
                "ids",
                format!(
                    "id {} at position {i} is >= vocabulary size {vocab}",
                    self.ids[i]
                ),
            ));
        }
        if self.ids.is_empty() {
            return Err(Error::invalid("ids", "the corpus is empty"));
        }
        Ok(())
    }
}

impl MultimodalParams<'_> {
    /// Checks shapes and values against the vocabulary and the text dimension.
    pub fn validate(&self, vocab: usize, vector_size: usize) -> Result<usize> {
        if self.vdim == 0 || !self.vectors.len().is_multiple_of(self.vdim) {
            return Err(Error::invalid(
                "visual",
                format!(
                    "{} values do not form rows of dimension {}",
                    self.vectors.len(),
                    self.vdim
                ),
            ));
        }
        let rows = self.vectors.len() / self.vdim;
        if rows < 2 {
            return Err(Error::invalid(
                "visual",
                format!("needs visual vectors of at least 2 words for negatives, got {rows}"),
            ));
        }
        if self.variant == Variant::A && self.vdim != vector_size {
            return Err(Error::DimensionMismatch {
                name: "visual (variant A needs vector_size == visual dimension)",
                got: self.vdim,
                expected: vector_size,
            });
        }
        if let Some(r) = self
            .vectors
            .chunks_exact(self.vdim)
            .position(|row| row.iter().any(|v| !v.is_finite()))
        {
            return Err(Error::NonFinite {
                name: "visual",
                row: r,
            });
        }
        if let Some(r) = self
            .vectors
            .chunks_exact(self.vdim)
            .position(|row| row.iter().all(|&v| v == 0.0))
        {
            return Err(Error::invalid(
                "visual",
                format!("row {r} is all zeros (its cosine is undefined)"),
            ));
        }
        if self.visual_of.len() != vocab {
            return Err(Error::invalid(
                "visual_of",
                format!(
                    "has {} entries, expected one per word ({vocab})",
                    self.visual_of.len()
                ),
            ));
        }
        if let Some(i) = self
            .visual_of
            .iter()
            .position(|&r| r < -1 || r >= rows as i64)
        {
            return Err(Error::invalid(
                "visual_of",
                format!(
                    "entry {i} = {} is not -1 or a row below {rows}",
                    self.visual_of[i]
                ),
            ));
        }
        if !(self.margin.is_finite() && self.weight.is_finite() && self.weight >= 0.0) {
            return Err(Error::invalid(
                "margin/weight",
                "must be finite, weight >= 0",
            ));
        }
        if self.n_negatives == 0 {
            return Err(Error::invalid("n_visual_negatives", "must be >= 1, got 0"));
        }
        Ok(rows)
    }
}

/// Unit-length copies of the rows of `v` (`dim` columns).
pub(crate) fn unit_rows(v: &[f32], dim: usize) -> Vec<f32> {
    let mut out = v.to_vec();
    for row in out.chunks_exact_mut(dim.max(1)) {
        let n = row.iter().map(|x| x * x).sum::<f32>().sqrt();
        if n > 0.0 {
            row.iter_mut().for_each(|x| *x /= n);
        }
    }
    out
}

fn check_row(name: &'static str, row: usize, rows: usize) -> Result<()> {
    if row >= rows {
        return Err(Error::invalid(
            name,
            format!("row {row} is out of range (< {rows})"),
        ));
    }
    Ok(())
}

/// One skip-gram negative-sampling SGD step, in place: `syn0[center]` predicts `context`
/// (label 1) and `negatives` (label 0; entries equal to `context` are skipped, as in word2vec)
/// through `syn1neg`. Both matrices are `rows x dim`. Returns the loss before the step.
///
/// The training loop calls this update with `center` = the word inside the window and
/// `context` = the position's word, like word2vec.c.
pub fn sgns_step(
    syn0: &mut [f32],
    syn1neg: &mut [f32],
    dim: usize,
    center: usize,
    context: usize,
    negatives: &[u32],
    lr: f32,
) -> Result<f32> {
    if dim == 0 || !syn0.len().is_multiple_of(dim) || syn1neg.len() != syn0.len() {
        return Err(Error::invalid(
            "syn0/syn1neg",
            "must both be rows x dim, dim >= 1",
        ));
    }
    let rows = syn0.len() / dim;
    check_row("center", center, rows)?;
    check_row("context", context, rows)?;
    let mut targets = Vec::with_capacity(negatives.len() + 1);
    targets.push(context as u32);
    for &n in negatives {
        check_row("negatives", n as usize, rows)?;
        targets.push(n);
    }
    let mut work = vec![0.0f32; dim];
    // SAFETY: rows were checked; syn0 and syn1neg are distinct slices.
    let loss = unsafe {
        kernels::sgns_update(
            syn0.as_mut_ptr().add(center * dim),
            syn1neg.as_mut_ptr(),
            dim,
            &targets,
            lr,
            &mut work,
            true,
        )
    };
    Ok(loss)
}

/// One max-margin visual step, in place (see [`MultimodalParams`]): the word `syn0[word]`
/// (variant A) or `mapping @ syn0[word]` (variant B, `mapping`: `vdim x dim`) against the unit
/// visual row `visual[target]` and the rows `negatives` (entries equal to `target` skipped),
/// with step `lr * weight`. `visual` rows are normalised here. Returns the loss before the step.
#[allow(clippy::too_many_arguments)]
pub fn margin_step(
    syn0: &mut [f32],
    dim: usize,
    word: usize,
    visual: &[f32],
    vdim: usize,
    target: usize,
    negatives: &[u32],
    mapping: Option<&mut [f32]>,
    margin: f32,
    lr: f32,
    weight: f32,
) -> Result<f32> {
    if dim == 0 || !syn0.len().is_multiple_of(dim) {
        return Err(Error::invalid("syn0", "must be rows x dim, dim >= 1"));
    }
    if vdim == 0 || !visual.len().is_multiple_of(vdim) {
        return Err(Error::invalid("visual", "must be rows x vdim, vdim >= 1"));
    }
    let (rows, vrows) = (syn0.len() / dim, visual.len() / vdim);
    check_row("word", word, rows)?;
    check_row("target", target, vrows)?;
    for &n in negatives {
        check_row("negatives", n as usize, vrows)?;
    }
    let vis = unit_rows(visual, vdim);
    let term = kernels::MarginTerm {
        margin,
        step: lr * weight,
    };
    let mut grad = vec![0.0f32; vdim];
    // SAFETY: every row index was checked; buffers are separate allocations.
    let loss = unsafe {
        let w = syn0.as_mut_ptr().add(word * dim);
        match mapping {
            None => {
                if vdim != dim {
                    return Err(Error::DimensionMismatch {
                        name: "visual (variant A needs vector_size == visual dimension)",
                        got: vdim,
                        expected: dim,
                    });
                }
                kernels::margin_update_a(
                    w,
                    vis.as_ptr(),
                    dim,
                    target as u32,
                    negatives,
                    term,
                    &mut grad,
                )
            }
            Some(m) => {
                if m.len() != vdim * dim {
                    return Err(Error::invalid(
                        "mapping",
                        format!("must be {vdim} x {dim}, got {} values", m.len()),
                    ));
                }
                let (mut z, mut gw) = (vec![0.0f32; vdim], vec![0.0f32; dim]);
                kernels::margin_update_b(
                    w,
                    m.as_mut_ptr(),
                    vis.as_ptr(),
                    dim,
                    vdim,
                    target as u32,
                    negatives,
                    term,
                    &mut z,
                    &mut grad,
                    &mut gw,
                )
            }
        }
    };
    Ok(loss)
}
