//! Every instruction-set level against the scalar one, explicitly, whatever `VISLANG_ISA` says.
//! A level above this CPU runs the CPU's widest level (`Isa::supported`), so the test is safe
//! everywhere and exercises all three paths on an AVX-512 machine.

#![allow(clippy::expect_used)] // helpers of the tests below

use vislang_core::isa::{self, Isa};
use vislang_core::negatives::{
    contrastive_ranking_at, Direction, Mode, Positives, RankingParams, Schedule,
};
use vislang_core::skipgram::{self, Corpus, SkipGramParams};
use vislang_core::MatRef;

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[test]
fn the_level_in_use_never_exceeds_the_cpu() {
    let c = isa::choice();
    assert!(c.active <= c.detected);
    assert_eq!(c.detected, isa::cpu_features().max_isa());
    if let Some(req) = c.requested.as_deref().and_then(Isa::parse) {
        assert_eq!(c.active, req.min(c.detected));
    }
}

fn ranking_at_every_level<T>(b: usize, c: usize, to: impl Fn(f64) -> T)
where
    T: vislang_core::Scalar,
{
    let mut rng = XorShift(0x9E37_79B9 ^ (b * 131 + c) as u64);
    // Every row and column has a positive (`c >= b`). Scores on a coarse grid: many ties, so tie-breaking must agree too.
    let s: Vec<T> = (0..b * c)
        .map(|_| to((rng.unit() * 16.0).floor() / 8.0 - 1.0))
        .collect();
    let mask: Vec<bool> = (0..b * c)
        .map(|k| (k % c) % b == k / c || rng.unit() < 0.05)
        .collect();
    let scores = MatRef::new("scores", &s, b, c).expect("shape");
    for mode in [Mode::Sum, Mode::Max] {
        for direction in [
            Direction::Both,
            Direction::ImageToText,
            Direction::TextToImage,
        ] {
            let params = RankingParams {
                margin: 0.2,
                mode,
                direction,
            };
            let positives: Vec<Positives<'_>> = if b == c {
                vec![Positives::Diagonal, Positives::Mask(&mask)]
            } else {
                vec![Positives::Mask(&mask)]
            };
            for pos in positives {
                let want =
                    contrastive_ranking_at(scores, pos, &params, Schedule::Inline, Isa::Scalar)
                        .expect("valid");
                for level in Isa::ALL {
                    for schedule in [Schedule::Inline, Schedule::Parallel] {
                        let got = contrastive_ranking_at(scores, pos, &params, schedule, level)
                            .expect("valid");
                        assert_eq!(
                            got.loss.to_bits(),
                            want.loss.to_bits(),
                            "{level} {mode:?} {direction:?} b={b} c={c}"
                        );
                        assert!(
                            got.grad == want.grad,
                            "{level} {mode:?} {direction:?} b={b} c={c}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn ranking_kernels_agree_bitwise_at_every_level() {
    for (b, c) in [(1, 1), (7, 7), (65, 65), (130, 130), (40, 97)] {
        ranking_at_every_level::<f32>(b, c, |v| v as f32);
        ranking_at_every_level::<f64>(b, c, |v| v);
    }
}

#[test]
fn skipgram_training_agrees_at_every_level_on_one_thread() {
    let mut rng = XorShift(42);
    let vocab = 30usize;
    let ids: Vec<u32> = (0..2000)
        .map(|_| (rng.next() % vocab as u64) as u32)
        .collect();
    let offsets: Vec<usize> = (0..=20).map(|s| s * 100).collect();
    let mut counts = vec![0u64; vocab];
    for &i in &ids {
        counts[i as usize] += 1;
    }
    let params = SkipGramParams {
        vector_size: 24,
        window: 3,
        negative: 4,
        sample: 0.0,
        alpha: 0.025,
        min_alpha: 1e-4,
        epochs: 2,
        seed: 5,
        ns_exponent: 0.75,
    };
    let corpus = Corpus {
        ids: &ids,
        offsets: &offsets,
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("pool");
    let run = |level: Isa| {
        pool.install(|| {
            skipgram::train_at(level, corpus, &counts, &params, None, &|_, _| true).expect("trains")
        })
    };
    let want = run(Isa::Scalar);
    assert!(want.syn0.iter().all(|v| v.is_finite()));
    for level in Isa::ALL {
        let got = run(level);
        for (g, w) in got
            .syn0
            .iter()
            .zip(&want.syn0)
            .chain(got.syn1neg.iter().zip(&want.syn1neg))
        {
            assert!(
                (g - w).abs() <= 1e-5 * w.abs().max(1.0),
                "{level}: {g} vs {w}"
            );
        }
        assert_eq!(got.words_done, want.words_done);
    }
}
