//! Caption metrics of the COCO evaluation (`pycocoevalcap`), value for value: BLEU-1..4
//! (Papineni et al. 2002, with the "closest" reference length and the 1e-9 / 1e-15 smoothing
//! of `bleu_scorer.py`), ROUGE-L (Lin 2004, F-measure with beta = 1.2) and CIDEr-D
//! (Vedantam et al. 2015: tf-idf n-gram vectors, clipped, Gaussian length penalty sigma = 6,
//! x10, document frequencies over the references, `log(max(1, df))`).
//!
//! Tokens are interned to `u32` ids; an n-gram (n <= 4) is a `u128` of `id + 1` lanes, so
//! counting is integer hashing. Images are scored in parallel and reduced in image order:
//! results do not depend on the thread count.

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

type Map<V> = HashMap<u128, V, BuildHasherDefault<NgramHasher>>;

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
    ids: HashMap<String, u32>,
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
            let words: Vec<u32> = toks.iter().map(|t| self.id(t)).collect();
            let rouge = if words.is_empty() {
                vec![EMPTY_TOKEN]
            } else {
                words.clone()
            };
            Sentence { words, rouge }
        } else {
            let words = text
                .split(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c))
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
}

fn ngram_key(ids: &[u32]) -> u128 {
    ids.iter()
        .enumerate()
        .fold(0u128, |k, (j, &t)| k | (u128::from(t) + 1) << (32 * j))
}

fn ngram_order(key: u128) -> usize {
    // Lanes are filled from the lowest; the order is the number of non-zero lanes.
    (0..MAX_N)
        .take_while(|j| (key >> (32 * j)) & 0xffff_ffff != 0)
        .count()
}

/// n-gram counts (n = 1..=4) of a sentence.
fn counts(words: &[u32]) -> Map<u32> {
    let mut m = Map::default();
    for n in 1..=MAX_N {
        for w in words.windows(n) {
            *m.entry(ngram_key(w)).or_insert(0) += 1;
        }
    }
    m
}

/// BLEU sufficient statistics of one image.
#[derive(Debug, Clone, Copy, Default)]
struct BleuStats {
    testlen: usize,
    reflen: usize,
    guess: [usize; MAX_N],
    correct: [usize; MAX_N],
}

fn bleu_stats(cand: &Sentence, refs: &[Sentence], ref_counts: &[Map<u32>]) -> BleuStats {
    let mut maxcounts: Map<u32> = Map::default();
    for rc in ref_counts {
        for (&k, &c) in rc {
            let e = maxcounts.entry(k).or_insert(0);
            *e = (*e).max(c);
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
    for (key, c) in counts(&cand.words) {
        s.correct[ngram_order(key) - 1] +=
            c.min(maxcounts.get(&key).copied().unwrap_or(0)) as usize;
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

/// A tf-idf n-gram vector of one sentence (CIDEr's `counts2vec`).
#[derive(Debug, Clone, Default)]
struct TfIdf {
    vec: Map<f64>,
    norm: [f64; MAX_N],
    /// `cider_scorer.py` adds the counts of n == 1 in its 0-based order, i.e. of bigrams.
    length: f64,
}

/// Document frequencies of n-grams over the reference sets, and `log(number of sets)`.
#[derive(Debug, Clone, Default)]
pub struct DocFreq {
    df: Map<f64>,
    ref_len: f64,
}

impl DocFreq {
    fn new(ref_counts: &[Vec<Map<u32>>]) -> Self {
        let mut df: Map<f64> = Map::default();
        let mut seen: Map<()> = Map::default();
        for refs in ref_counts {
            seen.clear();
            for c in refs {
                for k in c.keys() {
                    seen.insert(*k, ());
                }
            }
            for k in seen.keys() {
                *df.entry(*k).or_insert(0.0) += 1.0;
            }
        }
        #[allow(clippy::cast_precision_loss)]
        let ref_len = (ref_counts.len() as f64).ln();
        Self { df, ref_len }
    }

    fn tfidf(&self, cnts: &Map<u32>) -> TfIdf {
        let mut t = TfIdf::default();
        t.vec.reserve(cnts.len());
        let mut norm = [0.0; MAX_N];
        for (&k, &tf) in cnts {
            let df = self.df.get(&k).copied().unwrap_or(0.0).max(1.0).ln();
            let n = ngram_order(k) - 1;
            let v = f64::from(tf) * (self.ref_len - df);
            norm[n] += v.powf(2.0);
            t.vec.insert(k, v);
            if n == 1 {
                t.length += f64::from(tf);
            }
        }
        t.norm = norm.map(f64::sqrt);
        t
    }
}

/// CIDEr-D similarity summed over references, then averaged as `cider_scorer.py` does.
fn cider_d(hyp: &TfIdf, refs: &[TfIdf], sigma: f64) -> f64 {
    let mut score = [0.0f64; MAX_N];
    for r in refs {
        let delta = hyp.length - r.length;
        let mut val = [0.0f64; MAX_N];
        for (k, &vh) in &hyp.vec {
            let vr = r.vec.get(k).copied().unwrap_or(0.0);
            val[ngram_order(*k) - 1] += vh.min(vr) * vr;
        }
        let penalty = std::f64::consts::E.powf(-(delta * delta) / (2.0 * sigma.powf(2.0)));
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

/// Interns a corpus: candidates and reference sets as [`Sentence`]s (tokenised in parallel).
fn intern(
    candidates: &[String],
    references: &[Vec<String>],
    tokenize: bool,
) -> (Vec<Sentence>, Vec<Vec<Sentence>>, Interner) {
    // Tokenise in parallel, intern sequentially (ids are then independent of thread timing).
    let tok = |s: &String| -> Vec<String> {
        if tokenize {
            vec![ptb_tokenize(s).join(" ")]
        } else {
            vec![s.clone()]
        }
    };
    let cand_t: Vec<Vec<String>> = candidates.par_iter().map(tok).collect();
    let refs_t: Vec<Vec<Vec<String>>> = references
        .par_iter()
        .map(|rs| rs.iter().map(tok).collect())
        .collect();
    let mut interner = Interner::default();
    // Tokenised captions are single-space joined: the raw split rules then give the same
    // tokens as the PTB list (and "" for an empty caption, as pycocoevalcap sees it).
    let cands = cand_t
        .iter()
        .map(|v| interner.sentence(&v[0], false))
        .collect();
    let refs = refs_t
        .iter()
        .map(|rs| rs.iter().map(|v| interner.sentence(&v[0], false)).collect())
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
    let ref_counts: Vec<Vec<Map<u32>>> = refs
        .par_iter()
        .map(|rs| rs.iter().map(|r| counts(&r.words)).collect())
        .collect();
    let df = DocFreq::new(&ref_counts);
    let per_image: Vec<(BleuStats, f64, f64)> = cands
        .par_iter()
        .zip(refs.par_iter())
        .zip(ref_counts.par_iter())
        .map(|((c, rs), rc)| {
            let hyp = df.tfidf(&counts(&c.words));
            let rvecs: Vec<TfIdf> = rc.iter().map(|m| df.tfidf(m)).collect();
            (
                bleu_stats(c, rs, rc),
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
        let ref_counts: Vec<Vec<Map<u32>>> = refs
            .par_iter()
            .map(|rs| rs.iter().map(|r| counts(&r.words)).collect())
            .collect();
        let df = DocFreq::new(&ref_counts);
        let refs = ref_counts
            .par_iter()
            .map(|rc| rc.iter().map(|m| df.tfidf(m)).collect())
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
                    .split(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c))
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
