//! The only source of randomness: a ChaCha8 stream seeded from a `u64`, plus two cheap helpers
//! derived from it.
//!
//! - [`Rng`]: ChaCha8, for everything that is not a hot loop (seeding, sampling tables).
//! - [`mix64`]: the SplitMix64 finaliser (Steele et al. 2014), to derive independent seeds of
//!   sub-streams (per query, per thread) from one seed, so results do not depend on scheduling.
//! - [`FastRng`]: a SplitMix64 stream seeded from an [`Rng`], for hot loops that draw tens of
//!   numbers per item (skip-gram), where ChaCha8's cost shows. Statistically ample for sampling.

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A seeded random stream.
#[derive(Debug, Clone)]
pub struct Rng(ChaCha8Rng);

impl Rng {
    /// A stream determined by `seed`.
    pub fn new(seed: u64) -> Self {
        Self(ChaCha8Rng::seed_from_u64(seed))
    }

    /// The next raw 64 bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in `[0, 1)` with 53 random bits.
    pub fn uniform(&mut self) -> f64 {
        (self.0.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform integer in `0..n` (`n > 0`), by Lemire's multiply-shift with rejection.
    pub fn below(&mut self, n: usize) -> usize {
        let n = n as u64;
        loop {
            let m = u128::from(self.0.next_u64()) * u128::from(n);
            let low = m as u64;
            if low >= n.wrapping_neg() % n {
                return (m >> 64) as usize;
            }
        }
    }
}

/// SplitMix64's output function: a bijective 64-bit mixer that decorrelates nearby seeds.
#[inline]
pub fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A SplitMix64 stream (Steele et al. 2014) whose state comes from an [`Rng`].
#[derive(Debug, Clone)]
pub struct FastRng(u64);

impl FastRng {
    /// A stream seeded by the next 64 bits of `seed`.
    pub fn new(seed: &mut Rng) -> Self {
        Self(seed.next_u64())
    }

    /// The next raw 64 bits.
    #[inline(always)]
    pub fn next_u64(&mut self) -> u64 {
        let z = mix64(self.0);
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z
    }

    /// Uniform in `0..n` by multiply-shift on 32 bits (bias below `n / 2^32`).
    #[inline(always)]
    pub fn below(&mut self, n: usize) -> usize {
        (((self.next_u64() >> 32) * n as u64) >> 32) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
    }

    #[test]
    fn fast_stream_is_splitmix64() {
        // Reference values of SplitMix64 seeded with 1234567 (Vigna's splitmix64.c).
        let mut f = FastRng(1_234_567);
        let want: [u64; 3] = [
            6_457_827_717_110_365_317,
            3_203_168_211_198_807_973,
            9_817_491_932_198_370_423,
        ];
        for w in want {
            assert_eq!(f.next_u64(), w);
        }
        let mut r = FastRng::new(&mut Rng::new(3));
        assert!((0..1000).all(|_| r.below(7) < 7));
        assert_ne!(mix64(1), mix64(2));
    }

    #[test]
    fn below_stays_in_range_and_uniform_in_unit_interval() {
        let mut r = Rng::new(1);
        let mut seen = [0usize; 5];
        for _ in 0..5000 {
            let v = r.below(5);
            seen[v] += 1;
            let u = r.uniform();
            assert!((0.0..1.0).contains(&u));
        }
        assert!(seen.iter().all(|&c| c > 800), "{seen:?}");
    }
}
