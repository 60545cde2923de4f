//! Caption metrics of the COCO evaluation (`pycocoevalcap`), value for value: BLEU-1..4
//! (Papineni et al. 2002, with the "closest" reference length and the 1e-9 / 1e-15 smoothing
//! of `bleu_scorer.py`), ROUGE-L (Lin 2004, F-measure with beta = 1.2) and CIDEr-D
//! (Vedantam et al. 2015: tf-idf n-gram vectors, clipped, Gaussian length penalty sigma = 6,
//! x10, document frequencies over the references, `log(max(1, df))`).
//!
//! Tokens are interned to `u32` ids; an n-gram (n <= 4) is a `u128` of `id + 1` lanes. A
//! sentence's n-gram counts are a sorted `(key, count)` list, so clipping (BLEU), document
//! frequencies (CIDEr-D: all reference sets' distinct keys sorted together, runs = df) and
//! vector similarities are sorts and merge joins, no hashing; candidates look their df up by
//! binary search in the sorted key table. Images are scored in parallel and reduced in image
//! order: results do not depend on the thread count.

pub mod tokenize;

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use rayon::prelude::*;

pub use tokenize::ptb_tokenize;

use crate::error::{Error, Result};

/// Largest n-gram order (BLEU-4, CIDEr's n = 4).
pub const MAX_N: usize = 4;

/// A fast hasher for `u128` n-gram keys (multiply-xorshift, like rustc's FxHash).
#[derive(Default, Clone, Copy)]
pub struct NgramHasher(u64);

impl Hasher for NgramHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_u128(&mut self, v: u128) {
        #[allow(clippy::cast_possible_truncation)]
        {
            self.write_u64(v as u64);
            self.write_u64((v >> 64) as u64);
        }
    }
}

/// A fast hasher for token strings (FxHash over 8-byte words).
#[derive(Default, Clone, Copy)]
pub struct TokenHasher(u64);

impl Hasher for TokenHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.write_u64(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.write_u64(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 56));
        }
    }
    fn write_u8(&mut self, v: u8) {
        self.write_u64(u64::from(v));
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

/// The id given to the empty token of `"".split(" ")` (ROUGE-L's quirk on empty captions).
const EMPTY_TOKEN: u32 = u32::MAX - 1;

/// One caption as token ids: `words` as `str.split()` gives them (BLEU, CIDEr) and `rouge` as
/// `str.split(" ")` gives them (ROUGE-L; empty strings included).
#[derive(Debug, Clone, Default)]
pub struct Sentence {
    /// Token ids of `split()`.
    pub words: Vec<u32>,
    /// Token ids of `split(" ")`.
    pub rouge: Vec<u32>,
}

/// Interns token strings to ids.
#[derive(Debug, Default)]
pub struct Interner {
    ids: HashMap<String, u32, BuildHasherDefault<TokenHasher>>,
}

/// Python's `str.split()` separators (Unicode whitespace and the ASCII separators 0x1c-0x1f).
fn is_split_char(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

impl Interner {
    fn id(&mut self, tok: &str) -> u32 {
        if let Some(&i) = self.ids.get(tok) {
            return i;
        }
        #[allow(clippy::cast_possible_truncation)]
        let i = self.ids.len() as u32;
        self.ids.insert(tok.to_string(), i);
        i
    }

    /// Converts a caption to ids; with `tokenize` it is PTB-tokenised first (then both splits
    /// agree), otherwise the raw string is split as `pycocoevalcap` splits it.
    pub fn sentence(&mut self, text: &str, tokenize: bool) -> Sentence {
        if tokenize {
            let toks = ptb_tokenize(text);
            self.tokens(&toks)
        } else {
            self.raw(text)
        }
    }

    /// A PTB-tokenised caption (its tokens joined by single spaces).
    fn tokens<S: AsRef<str>>(&mut self, toks: &[S]) -> Sentence {
        let words: Vec<u32> = toks.iter().map(|t| self.id(t.as_ref())).collect();
        let rouge = if words.is_empty() {
            vec![EMPTY_TOKEN]
        } else {
            words.clone()
        };
        Sentence { words, rouge }
    }

    /// A raw caption split as `split()` (BLEU, CIDEr) and `split(" ")` (ROUGE-L).
    fn raw(&mut self, text: &str) -> Sentence {
        // Common case: single spaces between non-empty tokens free of other separators;
        // then both splits give the same tokens.
        let simple = !text.is_empty()
            && text
                .split(' ')
                .all(|t| !t.is_empty() && !t.chars().any(is_split_char));
        if simple {
            let words: Vec<u32> = text.split(' ').map(|t| self.id(t)).collect();
            let rouge = words.clone();
            return Sentence { words, rouge };
        }
        let words = text
            .split(is_split_char)
            .filter(|s| !s.is_empty())
            .map(|t| self.id(t))
            .collect();
        let rouge = text
            .split(' ')
            .map(|t| {
                if t.is_empty() {
                    EMPTY_TOKEN
                } else {
                    self.id(t)
                }
            })
            .collect();
        Sentence { words, rouge }
    }
}

fn ngram_key(ids: &[u32]) -> u128 {
    ids.iter()
        .enumerate()
        .fold(0u128, |k, (j, &t)| k | (u128::from(t) + 1) << (32 * j))
}

/// The order n of an n-gram key: lanes are filled from the lowest (each holds `id + 1 > 0`),
/// so it is the number of non-zero 32-bit lanes.
#[inline]
fn ngram_order(key: u128) -> usize {
    MAX_N - (key.leading_zeros() as usize) / 32
}

/// n-gram counts (n = 1..=4) of a sentence, sorted by key (merge joins replace hashing).
type Counts = Vec<(u128, u32)>;

fn counts(words: &[u32]) -> Counts {
    let mut keys: Vec<u128> = Vec::with_capacity(words.len() * MAX_N);
    for n in 1..=MAX_N {
        keys.extend(words.windows(n).map(ngram_key));
    }
    keys.sort_unstable();
    let mut out: Counts = Vec::with_capacity(keys.len());
    for k in keys {
        match out.last_mut() {
            Some((last, c)) if *last == k => *c += 1,
            _ => out.push((k, 1)),
        }
    }
    out
}

/// BLEU sufficient statistics of one image.
#[derive(Debug, Clone, Copy, Default)]
struct BleuStats {
    testlen: usize,
    reflen: usize,
    guess: [usize; MAX_N],
    correct: [usize; MAX_N],
}

fn bleu_stats(
    cand: &Sentence,
    cand_counts: &Counts,
    refs: &[Sentence],
    ref_counts: &[Counts],
) -> BleuStats {
    // Clipping counts: the largest count of each candidate n-gram in one reference (merge
    // joins of sorted count lists).
    let mut maxcounts = vec![0u32; cand_counts.len()];
    for rc in ref_counts {
        let (mut i, mut j) = (0, 0);
        while i < cand_counts.len() && j < rc.len() {
            match cand_counts[i].0.cmp(&rc[j].0) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    maxcounts[i] = maxcounts[i].max(rc[j].1);
                    i += 1;
                    j += 1;
                }
            }
        }
    }
    let testlen = cand.words.len();
    // 'closest': min over (|l - testlen|, l), so ties go to the shorter reference.
    let reflen = refs
        .iter()
        .map(|r| (r.words.len().abs_diff(testlen), r.words.len()))
        .min()
        .map_or(0, |(_, l)| l);
    let mut s = BleuStats {
        testlen,
        reflen,
        ..BleuStats::default()
    };
    for k in 0..MAX_N {
        s.guess[k] = testlen.saturating_sub(k);
    }
    for (&(key, c), &m) in cand_counts.iter().zip(&maxcounts) {
        s.correct[ngram_order(key) - 1] += c.min(m) as usize;
    }
    s
}

#[allow(clippy::cast_precision_loss)]
fn corpus_bleu(stats: &[BleuStats]) -> [f64; MAX_N] {
    // bleu_scorer.py compute_score(option="closest")
    const SMALL: f64 = 1e-9;
    const TINY: f64 = 1e-15;
    let (mut testlen, mut reflen) = (0usize, 0usize);
    let (mut guess, mut correct) = ([0usize; MAX_N], [0usize; MAX_N]);
    for s in stats {
        testlen += s.testlen;
        reflen += s.reflen;
        for k in 0..MAX_N {
            guess[k] += s.guess[k];
            correct[k] += s.correct[k];
        }
    }
    let mut out = [0.0; MAX_N];
    let mut bleu = 1.0f64;
    for k in 0..MAX_N {
        bleu *= (correct[k] as f64 + TINY) / (guess[k] as f64 + SMALL);
        out[k] = bleu.powf(1.0 / (k as f64 + 1.0));
    }
    let ratio = (testlen as f64 + TINY) / (reflen as f64 + SMALL);
    if ratio < 1.0 {
        for v in &mut out {
            *v *= (1.0 - 1.0 / ratio).exp();
        }
    }
    out
}

fn lcs(a: &[u32], b: &[u32]) -> usize {
    let (long, short) = if a.len() < b.len() { (b, a) } else { (a, b) };
    let mut prev = vec![0usize; short.len() + 1];
    let mut cur = vec![0usize; short.len() + 1];
    for &x in long {
        for (j, &y) in short.iter().enumerate() {
            cur[j + 1] = if x == y {
                prev[j] + 1
            } else {
                prev[j + 1].max(cur[j])
            };
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[short.len()]
}

/// ROUGE-L of one candidate against its references (`rouge.py` `calc_score`, beta = 1.2).
#[allow(clippy::cast_precision_loss)]
fn rouge_l(cand: &Sentence, refs: &[Sentence]) -> f64 {
    let beta2 = 1.2f64.powf(2.0);
    let (mut pmax, mut rmax) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
    for r in refs {
        let l = lcs(&r.rouge, &cand.rouge) as f64;
        pmax = pmax.max(l / cand.rouge.len() as f64);
        rmax = rmax.max(l / r.rouge.len() as f64);
    }
    if pmax != 0.0 && rmax != 0.0 {
        ((1.0 + beta2) * pmax * rmax) / (rmax + beta2 * pmax)
    } else {
        0.0
    }
}

/// A tf-idf n-gram vector of one sentence (CIDEr's `counts2vec`), sorted by n-gram key.
#[derive(Debug, Clone, Default)]
struct TfIdf {
    vec: Vec<(u128, f64)>,
    norm: [f64; MAX_N],
    /// `cider_scorer.py` adds the counts of n == 1 in its 0-based order, i.e. of bigrams.
    length: f64,
}

/// Document frequencies of n-grams over the reference sets (stored as `log(max(1, df))`),
/// and `log(number of sets)`: a sorted key table (binary search; no hashing).
#[derive(Debug, Clone, Default)]
pub struct DocFreq {
    keys: Vec<u128>,
    log_df: Vec<f64>,
    ref_len: f64,
}

/// The distinct n-grams of each reference set with their `log(max(1, df))`: the reference
/// vectors' look-ups become merge joins.
struct SetDf {
    keys: Vec<u128>,
    log_df: Vec<f64>,
}

impl DocFreq {
    /// Document frequencies by sorting: the distinct keys of each set (in parallel), then all
    /// of them sorted together; a run of equal keys is one n-gram, its length the df. Returns
    /// also each set's keys with their log-df.
    fn build(ref_counts: &[Vec<Counts>]) -> (Self, Vec<SetDf>) {
        let sets: Vec<Vec<u128>> = ref_counts
            .par_iter()
            .map(|refs| {
                let mut keys: Vec<u128> = refs
                    .iter()
                    .flat_map(|c| c.iter().map(|&(k, _)| k))
                    .collect();
                keys.sort_unstable();
                keys.dedup();
                keys
            })
            .collect();
        let mut offsets = Vec::with_capacity(sets.len() + 1);
        offsets.push(0usize);
        for s in &sets {
            offsets.push(offsets.last().copied().unwrap_or(0) + s.len());
        }
        let total = offsets.last().copied().unwrap_or(0);
        // (key, position in the flat per-set arrays)
        let mut all: Vec<(u128, u32)> = Vec::with_capacity(total);
        for (i, s) in sets.iter().enumerate() {
            #[allow(clippy::cast_possible_truncation)]
            all.extend(
                s.iter()
                    .enumerate()
                    .map(|(j, &k)| (k, (offsets[i] + j) as u32)),
            );
        }
        all.par_sort_unstable_by_key(|&(k, _)| k);
        let mut flat_df = vec![0.0f64; total];
        let (mut keys, mut log_df) = (Vec::new(), Vec::new());
        let mut start = 0;
        while start < all.len() {
            let k = all[start].0;
            let mut end = start + 1;
            while end < all.len() && all[end].0 == k {
                end += 1;
            }
            #[allow(clippy::cast_precision_loss)]
            let v = ((end - start) as f64).max(1.0).ln();
            for &(_, pos) in &all[start..end] {
                flat_df[pos as usize] = v;
            }
            keys.push(k);
            log_df.push(v);
            start = end;
        }
        let per_set = sets
            .into_iter()
            .enumerate()
            .map(|(i, keys)| SetDf {
                keys,
                log_df: flat_df[offsets[i]..offsets[i + 1]].to_vec(),
            })
            .collect();
        #[allow(clippy::cast_precision_loss)]
        let ref_len = (ref_counts.len() as f64).ln();
        (
            Self {
                keys,
                log_df,
                ref_len,
            },
            per_set,
        )
    }

    /// `log(max(1, df))` of an n-gram (0 for one no reference set contains).
    fn lookup(&self, k: u128) -> f64 {
        self.keys.binary_search(&k).map_or(0.0, |i| self.log_df[i])
    }

    /// The tf-idf vector of a candidate (any n-grams).
    fn tfidf(&self, cnts: &Counts) -> TfIdf {
        self.vector(cnts, |k| self.lookup(k))
    }

    /// The tf-idf vector of a reference of set `set` (its n-grams are all in `set.keys`,
    /// both sorted: a merge).
    fn tfidf_ref(&self, cnts: &Counts, set: &SetDf) -> TfIdf {
        let mut j = 0;
        self.vector(cnts, |k| {
            while set.keys[j] < k {
                j += 1;
            }
            debug_assert_eq!(set.keys[j], k);
            set.log_df[j]
        })
    }

    fn vector(&self, cnts: &Counts, mut log_df: impl FnMut(u128) -> f64) -> TfIdf {
        let mut vec = Vec::with_capacity(cnts.len());
        let mut norm = [0.0; MAX_N];
        let mut length = 0.0;
        for &(k, tf) in cnts {
            let df = log_df(k);
            let n = ngram_order(k) - 1;
            let v = f64::from(tf) * (self.ref_len - df);
            norm[n] += v * v;
            vec.push((k, v));
            if n == 1 {
                length += f64::from(tf);
            }
        }
        TfIdf {
            vec,
            norm: norm.map(f64::sqrt),
            length,
        }
    }
}

/// CIDEr-D similarity summed over references, then averaged as `cider_scorer.py` does.
fn cider_d(hyp: &TfIdf, refs: &[TfIdf], sigma: f64) -> f64 {
    let mut score = [0.0f64; MAX_N];
    let two_sigma2 = 2.0 * sigma * sigma;
    for r in refs {
        let delta = hyp.length - r.length;
        let mut val = [0.0f64; MAX_N];
        // Only n-grams in both vectors contribute (min(h, 0) * 0 = 0): a merge join.
        let (h, rv) = (&hyp.vec, &r.vec);
        let (mut i, mut j) = (0, 0);
        while i < h.len() && j < rv.len() {
            match h[i].0.cmp(&rv[j].0) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    let (vh, vr) = (h[i].1, rv[j].1);
                    val[ngram_order(h[i].0) - 1] += vh.min(vr) * vr;
                    i += 1;
                    j += 1;
                }
            }
        }
        let penalty = std::f64::consts::E.powf(-(delta * delta) / two_sigma2);
        for n in 0..MAX_N {
            if hyp.norm[n] != 0.0 && r.norm[n] != 0.0 {
                val[n] /= hyp.norm[n] * r.norm[n];
            }
            score[n] += val[n] * penalty;
        }
    }
    #[allow(clippy::cast_precision_loss)]
    let nrefs = refs.len() as f64;
    (((score[0] + score[1]) + score[2]) + score[3]) / 4.0 / nrefs * 10.0
}

/// Corpus scores plus the per-image values that enter them.
#[derive(Debug, Clone)]
pub struct CaptionScores {
    /// Corpus BLEU-1..4.
    pub bleu: [f64; MAX_N],
    /// Mean ROUGE-L.
    pub rouge_l: f64,
    /// Mean CIDEr-D.
    pub cider_d: f64,
    /// ROUGE-L of each image.
    pub rouge_l_per_image: Vec<f64>,
    /// CIDEr-D of each image.
    pub cider_d_per_image: Vec<f64>,
}

/// CIDEr-D's Gaussian length penalty (`sigma` of `cider_scorer.py`).
pub const CIDER_SIGMA: f64 = 6.0;

fn check(candidates: usize, references: &[Vec<String>]) -> Result<()> {
    if candidates == 0 {
        return Err(Error::invalid("candidates", "is empty"));
    }
    if candidates != references.len() {
        return Err(Error::invalid(
            "references",
            format!(
                "has {} entries for {candidates} candidates",
                references.len()
            ),
        ));
    }
    if let Some(i) = references.iter().position(Vec::is_empty) {
        return Err(Error::invalid(
            "references",
            format!("entry {i} has no reference caption"),
        ));
    }
    Ok(())
}

/// Interns a corpus: candidates and reference sets as [`Sentence`]s.
fn intern(
    candidates: &[String],
    references: &[Vec<String>],
    tokenize: bool,
) -> (Vec<Sentence>, Vec<Vec<Sentence>>, Interner) {
    let mut interner = Interner::default();
    if !tokenize {
        let cands = candidates.iter().map(|c| interner.raw(c)).collect();
        let refs = references
            .iter()
            .map(|rs| rs.iter().map(|r| interner.raw(r)).collect())
            .collect();
        return (cands, refs, interner);
    }
    // Tokenise in parallel, intern sequentially (ids are then independent of thread timing).
    // Tokenised captions are single-space joined: the raw split rules then give the same
    // tokens as the PTB list (and "" for an empty caption, as pycocoevalcap sees it).
    let tok = |s: &String| -> String { ptb_tokenize(s).join(" ") };
    let cand_t: Vec<String> = candidates.par_iter().map(tok).collect();
    let refs_t: Vec<Vec<String>> = references
        .par_iter()
        .map(|rs| rs.iter().map(tok).collect())
        .collect();
    let cands = cand_t.iter().map(|c| interner.raw(c)).collect();
    let refs = refs_t
        .iter()
        .map(|rs| rs.iter().map(|r| interner.raw(r)).collect())
        .collect();
    (cands, refs, interner)
}

/// BLEU-1..4, ROUGE-L and CIDEr-D of `candidates[i]` against `references[i]`, equal to
/// `pycocoevalcap`'s `Bleu(4)`, `Rouge()` and `Cider()` (after its PTB tokenizer when
/// `tokenize`).
///
/// # Errors
/// [`Error::InvalidInput`] for an empty corpus, a length mismatch or an empty reference set.
pub fn caption_scores(
    candidates: &[String],
    references: &[Vec<String>],
    tokenize: bool,
) -> Result<CaptionScores> {
    check(candidates.len(), references)?;
    let (cands, refs, _) = intern(candidates, references, tokenize);
    let ref_counts: Vec<Vec<Counts>> = refs
        .par_iter()
        .map(|rs| rs.iter().map(|r| counts(&r.words)).collect())
        .collect();
    let (df, sets) = DocFreq::build(&ref_counts);
    let per_image: Vec<(BleuStats, f64, f64)> = cands
        .par_iter()
        .zip(refs.par_iter())
        .zip(ref_counts.par_iter().zip(sets.par_iter()))
        .map(|((c, rs), (rc, set))| {
            let cc = counts(&c.words);
            let hyp = df.tfidf(&cc);
            let rvecs: Vec<TfIdf> = rc.iter().map(|m| df.tfidf_ref(m, set)).collect();
            (
                bleu_stats(c, &cc, rs, rc),
                rouge_l(c, rs),
                cider_d(&hyp, &rvecs, CIDER_SIGMA),
            )
        })
        .collect();
    let stats: Vec<BleuStats> = per_image.iter().map(|p| p.0).collect();
    let rouge_l_per_image: Vec<f64> = per_image.iter().map(|p| p.1).collect();
    let cider_d_per_image: Vec<f64> = per_image.iter().map(|p| p.2).collect();
    Ok(CaptionScores {
        bleu: corpus_bleu(&stats),
        rouge_l: mean(&rouge_l_per_image),
        cider_d: mean(&cider_d_per_image),
        rouge_l_per_image,
        cider_d_per_image,
    })
}

/// NumPy's pairwise summation (blocks of 8 unrolled, 128-element leaves), then / n: the same
/// rounding as `np.mean` on a float64 array.
#[allow(clippy::cast_precision_loss)]
fn mean(x: &[f64]) -> f64 {
    fn pairwise(x: &[f64]) -> f64 {
        let n = x.len();
        if n < 8 {
            return x.iter().fold(0.0, |a, b| a + b);
        }
        if n <= 128 {
            let mut r = [0.0f64; 8];
            r.copy_from_slice(&x[..8]);
            let mut i = 8;
            while i + 8 <= n {
                for j in 0..8 {
                    r[j] += x[i + j];
                }
                i += 8;
            }
            let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
            for v in &x[i..] {
                res += v;
            }
            return res;
        }
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        pairwise(&x[..n2]) + pairwise(&x[n2..])
    }
    pairwise(x) / x.len() as f64
}

/// CIDEr-D with the document frequencies of a fixed reference corpus computed once, for
/// per-batch rewards in self-critical training (Rennie et al. 2017).
#[derive(Debug)]
pub struct CiderScorer {
    interner: Interner,
    df: DocFreq,
    refs: Vec<Vec<TfIdf>>,
    tokenize: bool,
}

impl CiderScorer {
    /// Builds the scorer from the reference sets of the training images.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an empty corpus or an empty reference set.
    pub fn new(references: &[Vec<String>], tokenize: bool) -> Result<Self> {
        check(references.len(), references)?;
        let (_, refs, interner) = intern(&[], references, tokenize);
        let ref_counts: Vec<Vec<Counts>> = refs
            .par_iter()
            .map(|rs| rs.iter().map(|r| counts(&r.words)).collect())
            .collect();
        let (df, sets) = DocFreq::build(&ref_counts);
        let refs = ref_counts
            .par_iter()
            .zip(sets.par_iter())
            .map(|(rc, set)| rc.iter().map(|m| df.tfidf_ref(m, set)).collect())
            .collect();
        Ok(Self {
            interner,
            df,
            refs,
            tokenize,
        })
    }

    /// Number of reference sets.
    pub fn len(&self) -> usize {
        self.refs.len()
    }

    /// Whether the scorer holds no reference set (never true for a built scorer).
    pub fn is_empty(&self) -> bool {
        self.refs.is_empty()
    }

    /// CIDEr-D of each `candidates[i]` against the cached reference set `index[i]`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when the lengths differ or an index is out of range.
    pub fn score(&self, candidates: &[String], index: &[usize]) -> Result<Vec<f64>> {
        if candidates.len() != index.len() {
            return Err(Error::invalid(
                "index",
                format!(
                    "has {} entries for {} candidates",
                    index.len(),
                    candidates.len()
                ),
            ));
        }
        if let Some(i) = index.iter().position(|&j| j >= self.refs.len()) {
            return Err(Error::invalid(
                "index",
                format!(
                    "entry {i} is {} but there are {} reference sets",
                    index[i],
                    self.refs.len()
                ),
            ));
        }
        // Candidate tokens unknown to the references cannot match: they get fresh ids that
        // only need to be consistent within one candidate.
        let base = self.interner.ids.len();
        Ok(candidates
            .par_iter()
            .zip(index.par_iter())
            .map(|(c, &j)| {
                let s = if self.tokenize {
                    ptb_tokenize(c).join(" ")
                } else {
                    c.clone()
                };
                let mut local: HashMap<&str, u32> = HashMap::new();
                let words: Vec<u32> = s
                    .split(is_split_char)
                    .filter(|t| !t.is_empty())
                    .map(|t| {
                        self.interner.ids.get(t).copied().unwrap_or_else(|| {
                            let next = base + local.len();
                            #[allow(clippy::cast_possible_truncation)]
                            *local.entry(t).or_insert(next as u32)
                        })
                    })
                    .collect();
                let hyp = self.df.tfidf(&counts(&words));
                cider_d(&hyp, &self.refs[j], CIDER_SIGMA)
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| (*x).to_string()).collect()
    }

    #[test]
    fn nlg_eval_fixture() {
        let hyp = s(&[
            "this is the model generated sentence1 which seems good enough",
            "this is sentence2 which has been generated by your model",
        ]);
        let refs = vec![
            s(&[
                "this is one reference sentence for sentence1",
                "this is one more reference sentence for sentence1",
            ]),
            s(&[
                "this is a reference sentence for sentence2 which was generated by your model",
                "this is the second reference sentence for sentence2",
            ]),
        ];
        let sc = caption_scores(&hyp, &refs, false).unwrap();
        assert!((sc.bleu[0] - 0.55).abs() < 1e-6);
        assert!((sc.bleu[3] - 0.201_143).abs() < 1e-6);
        assert!((sc.rouge_l - 0.522_104).abs() < 1e-6);
        assert!((sc.cider_d - 1.242_192).abs() < 1e-6);
        let scorer = CiderScorer::new(&refs, false).unwrap();
        let per = scorer.score(&hyp, &[0, 1]).unwrap();
        assert!((per[0] - sc.cider_d_per_image[0]).abs() < 1e-12);
        assert!((per[1] - sc.cider_d_per_image[1]).abs() < 1e-12);
    }

    #[test]
    fn bad_input_names_the_entry() {
        let err = caption_scores(&s(&["a"]), &[vec![]], true).unwrap_err();
        assert!(err.to_string().contains("entry 0"));
        assert!(caption_scores(&[], &[], true).is_err());
    }
}
