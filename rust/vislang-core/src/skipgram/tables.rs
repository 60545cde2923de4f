//! Sampling tables of word2vec: frequent-word subsampling and the unigram^0.75 noise distribution.

use crate::error::{Error, Result};
use crate::rng::Rng;

/// Probability of keeping one occurrence of each word (Mikolov et al. 2013, word2vec.c):
/// `min(1, (sqrt(c / (sample * N)) + 1) * sample * N / c)` with `c` the word's count and `N` the
/// total count. `sample <= 0` keeps every word.
pub fn keep_probabilities(counts: &[u64], sample: f64) -> Vec<f64> {
    let total: f64 = counts.iter().map(|&c| c as f64).sum();
    let threshold = sample * total;
    counts
        .iter()
        .map(|&c| {
            if sample <= 0.0 || c == 0 {
                return 1.0;
            }
            let c = c as f64;
            ((c / threshold).sqrt() + 1.0) * threshold / c
        })
        .map(|p: f64| p.min(1.0))
        .collect()
}

/// [`keep_probabilities`] as thresholds on a uniform `u32`: keep when `r < threshold`.
pub fn keep_thresholds(counts: &[u64], sample: f64) -> Vec<u64> {
    keep_probabilities(counts, sample)
        .into_iter()
        .map(|p| (p * 4_294_967_296.0).round() as u64)
        .collect()
}

/// The keep probabilities training really uses: [`keep_thresholds`] back on `[0, 1]` (each
/// within `2^-33` of [`keep_probabilities`]).
pub fn effective_keep_probabilities(counts: &[u64], sample: f64) -> Vec<f64> {
    keep_thresholds(counts, sample)
        .into_iter()
        .map(|t| t as f64 / 4_294_967_296.0)
        .collect()
}

/// Walker's alias table of a discrete distribution: one uniform draw, O(1) per sample.
#[derive(Debug, Clone)]
pub struct AliasTable {
    /// Acceptance threshold of each bucket on a uniform `u32`.
    accept: Vec<u64>,
    /// The other outcome of each bucket.
    alias: Vec<u32>,
}

impl AliasTable {
    /// The table of `weights` (non-negative, with a positive sum), built by Vose's method.
    pub fn new(weights: &[f64]) -> Result<Self> {
        let n = weights.len();
        let total: f64 = weights.iter().sum();
        if n == 0 || !(total.is_finite() && total > 0.0) {
            return Err(Error::invalid(
                "counts",
                "the noise distribution needs at least one word with a positive count",
            ));
        }
        let mut scaled: Vec<f64> = weights.iter().map(|w| w * n as f64 / total).collect();
        let mut accept = vec![0u64; n];
        let mut alias: Vec<u32> = (0..n as u32).collect();
        let (mut small, mut large): (Vec<usize>, Vec<usize>) =
            (0..n).partition(|&i| scaled[i] < 1.0);
        while let (Some(&s), Some(&l)) = (small.last(), large.last()) {
            small.pop();
            accept[s] = (scaled[s] * 4_294_967_296.0).round() as u64;
            alias[s] = l as u32;
            scaled[l] = (scaled[l] + scaled[s]) - 1.0;
            if scaled[l] < 1.0 {
                large.pop();
                small.push(l);
            }
        }
        // Leftovers are 1 up to rounding: always accept.
        for i in small.into_iter().chain(large) {
            accept[i] = 1u64 << 32;
        }
        Ok(Self { accept, alias })
    }

    /// The unigram^`power` noise table of word2vec (`power = 0.75`); unseen words get no mass.
    pub fn unigram(counts: &[u64], power: f64) -> Result<Self> {
        let w: Vec<f64> = counts
            .iter()
            .map(|&c| if c == 0 { 0.0 } else { (c as f64).powf(power) })
            .collect();
        Self::new(&w)
    }

    /// Number of outcomes.
    pub fn len(&self) -> usize {
        self.accept.len()
    }

    /// Whether the table is empty (never: [`AliasTable::new`] refuses that).
    pub fn is_empty(&self) -> bool {
        self.accept.is_empty()
    }

    /// The outcome of one 64-bit uniform draw: the high half picks the bucket (multiply-shift,
    /// bias below `len / 2^32`), the low half decides between the bucket and its alias.
    #[inline(always)]
    pub fn sample_from(&self, r: u64) -> u32 {
        let n = self.accept.len() as u64;
        let bucket = (((r >> 32) * n) >> 32) as usize;
        let coin = r & 0xFFFF_FFFF;
        // `bucket < n` because `(r >> 32) < 2^32`.
        match (self.accept.get(bucket), self.alias.get(bucket)) {
            (Some(&a), Some(&al)) => {
                if coin < a {
                    bucket as u32
                } else {
                    al
                }
            }
            _ => 0,
        }
    }

    /// One sample.
    #[inline(always)]
    pub fn sample(&self, rng: &mut Rng) -> u32 {
        self.sample_from(rng.next_u64())
    }

    /// The exact distribution the table samples from (up to the 2^-32 resolution).
    pub fn probabilities(&self) -> Vec<f64> {
        let n = self.accept.len();
        let mut p = vec![0.0f64; n];
        let scale = 1.0 / 4_294_967_296.0;
        for i in 0..n {
            let a = self.accept[i].min(1u64 << 32) as f64 * scale;
            p[i] += a;
            p[self.alias[i] as usize] += 1.0 - a;
        }
        p.iter_mut().for_each(|x| *x /= n as f64);
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_reproduces_unigram_power() {
        let counts = [1000u64, 1, 50, 7, 300, 0, 2];
        let t = AliasTable::unigram(&counts, 0.75).unwrap();
        let w: Vec<f64> = counts.iter().map(|&c| (c as f64).powf(0.75)).collect();
        let s: f64 = w.iter().sum();
        for (p, w) in t.probabilities().iter().zip(&w) {
            assert!((p - w / s).abs() < 1e-8, "{p} vs {}", w / s);
        }
        let mut rng = Rng::new(3);
        let mut hits = [0usize; 7];
        for _ in 0..200_000 {
            hits[t.sample(&mut rng) as usize] += 1;
        }
        assert_eq!(hits[5], 0);
        let p0 = hits[0] as f64 / 200_000.0;
        assert!((p0 - w[0] / s).abs() < 0.01, "{p0}");
    }

    #[test]
    fn alias_rejects_zero_mass() {
        assert!(AliasTable::unigram(&[0, 0], 0.75).is_err());
        assert!(AliasTable::new(&[]).is_err());
    }

    #[test]
    fn keep_probability_matches_word2vec() {
        let counts = [10_000u64, 100, 1];
        let p = keep_probabilities(&counts, 1e-3);
        let t = 1e-3 * 10_101.0;
        let expect = ((10_000.0f64 / t).sqrt() + 1.0) * t / 10_000.0;
        assert!((p[0] - expect).abs() < 1e-12);
        assert_eq!(p[2], 1.0);
        assert!(keep_probabilities(&counts, 0.0).iter().all(|&x| x == 1.0));
    }
}
