//! `negatives` through the public API: a per-triplet oracle, thread-count invariance, errors.

use vislang_core::negatives::{
    contrastive_ranking, contrastive_ranking_scheduled, runs_inline, warp, Direction, Mode,
    Positives, RankingParams, Schedule, WarpParams,
};
use vislang_core::{Error, MatRef};

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Plain loop over every (query, positive, negative) triplet; hardest negative = first maximum.
fn oracle(s: &[f64], p: &[bool], b: usize, c: usize, prm: &RankingParams) -> (f64, Vec<f64>) {
    let mut loss = 0.0;
    let mut g = vec![0.0; b * c];
    let sides: Vec<bool> = [(prm.direction.rows(), true), (prm.direction.cols(), false)]
        .iter()
        .filter(|x| x.0)
        .map(|x| x.1)
        .collect();
    for by_row in sides {
        let (nq, ni) = if by_row { (b, c) } else { (c, b) };
        let at = |q: usize, j: usize| if by_row { q * c + j } else { j * c + q };
        for q in 0..nq {
            let mut negs: Vec<usize> = (0..ni).filter(|&j| !p[at(q, j)]).collect();
            if prm.mode == Mode::Max && !negs.is_empty() {
                let mut best = negs[0];
                for &j in &negs {
                    if s[at(q, j)] > s[at(q, best)] {
                        best = j;
                    }
                }
                negs = vec![best];
            }
            for pos in (0..ni).filter(|&j| p[at(q, j)]) {
                for &j in &negs {
                    let h = prm.margin - s[at(q, pos)] + s[at(q, j)];
                    if h > 0.0 {
                        loss += h;
                        g[at(q, j)] += 1.0;
                        g[at(q, pos)] -= 1.0;
                    }
                }
            }
        }
    }
    (loss, g)
}

#[test]
fn matches_the_triplet_loop_with_ties_and_masks() {
    let mut rng = XorShift(0x1234_5678);
    for case in 0..400 {
        let b = 1 + (rng.next() % 9) as usize;
        let c = if case % 3 == 0 {
            b
        } else {
            1 + (rng.next() % 9) as usize
        };
        let s: Vec<f64> = (0..b * c).map(|_| (rng.next() % 5) as f64 - 2.0).collect();
        let mut p: Vec<bool> = (0..b * c).map(|_| rng.next().is_multiple_of(4)).collect();
        for i in 0..b {
            p[i * c + (rng.next() as usize % c)] = true;
        }
        for j in 0..c {
            p[(rng.next() as usize % b) * c + j] = true;
        }
        let diagonal = b == c && case % 2 == 0;
        if diagonal {
            p = (0..b * c).map(|k| k / c == k % c).collect();
        }
        for mode in [Mode::Sum, Mode::Max] {
            for direction in [
                Direction::Both,
                Direction::ImageToText,
                Direction::TextToImage,
            ] {
                let prm = RankingParams {
                    margin: [0.0, 0.5, 1.0, 2.0][case % 4],
                    mode,
                    direction,
                };
                let m = MatRef::new("scores", &s, b, c).unwrap();
                let pos = if diagonal {
                    Positives::Diagonal
                } else {
                    Positives::Mask(&p)
                };
                let got = contrastive_ranking(m, pos, &prm).unwrap();
                let (loss, grad) = oracle(&s, &p, b, c, &prm);
                assert_eq!(got.loss, loss, "case {case} {prm:?}");
                assert_eq!(got.grad, grad, "case {case} {prm:?}");
            }
        }
    }
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let mut rng = XorShift(99);
    let (b, c) = (400, 350); // above the inline threshold: the pool runs it
    assert!(!runs_inline(b, c));
    let s: Vec<f32> = (0..b * c)
        .map(|_| (rng.next() % 1000) as f32 / 500.0 - 1.0)
        .collect();
    let p: Vec<bool> = (0..b * c).map(|k| k / c == k % c || k % 97 == 0).collect();
    let m = MatRef::new("scores", &s, b, c).unwrap();
    let run = |threads: usize, mode: Mode| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let prm = RankingParams {
            margin: 0.2,
            mode,
            direction: Direction::Both,
        };
        let wp = WarpParams {
            margin: 0.2,
            direction: Direction::Both,
            seed: 5,
            max_trials: None,
        };
        pool.install(|| {
            (
                contrastive_ranking(m, Positives::Mask(&p), &prm).unwrap(),
                warp(m, Positives::Mask(&p), &wp).unwrap(),
            )
        })
    };
    for mode in [Mode::Sum, Mode::Max] {
        assert_eq!(run(1, mode), run(3, mode));
    }
}

#[test]
fn inline_and_parallel_schedules_agree_bitwise() {
    let mut rng = XorShift(7);
    // Small (one chunk), several chunks with a ragged last one, and square/non-square.
    for (case, (b, c)) in [(5, 5), (130, 130), (200, 77), (65, 300)]
        .into_iter()
        .enumerate()
    {
        let s: Vec<f32> = (0..b * c)
            .map(|_| (rng.next() % 64) as f32 / 32.0 - 1.0) // coarse values: many ties
            .collect();
        let mut p: Vec<bool> = (0..b * c).map(|k| k % 53 == 0).collect();
        for i in 0..b {
            p[i * c + i % c] = true;
        }
        for j in 0..c {
            p[(j % b) * c + j] = true;
        }
        let m = MatRef::new("scores", &s, b, c).unwrap();
        for mode in [Mode::Sum, Mode::Max] {
            for direction in [
                Direction::Both,
                Direction::ImageToText,
                Direction::TextToImage,
            ] {
                let prm = RankingParams {
                    margin: 0.2,
                    mode,
                    direction,
                };
                let mut masks = vec![Positives::Mask(&p)];
                if b == c {
                    masks.push(Positives::Diagonal);
                }
                for pos in masks {
                    let inline =
                        contrastive_ranking_scheduled(m, pos, &prm, Schedule::Inline).unwrap();
                    for threads in [1, 3] {
                        let pool = rayon::ThreadPoolBuilder::new()
                            .num_threads(threads)
                            .build()
                            .unwrap();
                        let par = pool.install(|| {
                            contrastive_ranking_scheduled(m, pos, &prm, Schedule::Parallel)
                        });
                        assert_eq!(inline, par.unwrap(), "case {case} {prm:?} {threads}");
                    }
                    let auto = contrastive_ranking(m, pos, &prm).unwrap();
                    assert_eq!(inline, auto, "case {case} {prm:?}");
                }
            }
        }
    }
}

#[test]
fn non_finite_rows_are_named_on_every_schedule() {
    let (b, c) = (150, 150);
    let mut s = vec![0.5f64; b * c];
    s[140 * c + 3] = f64::INFINITY;
    s[70 * c + 9] = f64::NAN;
    let m = MatRef::new("scores", &s, b, c).unwrap();
    for mode in [Mode::Sum, Mode::Max] {
        let prm = RankingParams {
            margin: 0.2,
            mode,
            direction: Direction::Both,
        };
        for schedule in [Schedule::Inline, Schedule::Parallel, Schedule::Auto] {
            let e = contrastive_ranking_scheduled(m, Positives::Diagonal, &prm, schedule);
            assert_eq!(
                e.unwrap_err(),
                Error::NonFinite {
                    name: "scores",
                    row: 70
                },
                "{schedule:?}"
            );
        }
    }
}

#[test]
fn errors_name_the_argument_and_position() {
    let mut s = vec![0.0f32; 12];
    let prm = RankingParams {
        margin: 0.2,
        mode: Mode::Sum,
        direction: Direction::Both,
    };
    let m = MatRef::new("scores", &s, 3, 4).unwrap();
    let e = contrastive_ranking(m, Positives::Diagonal, &prm).unwrap_err();
    assert_eq!(
        e.to_string(),
        "positives: must be given when scores is not square, got shape (3, 4)"
    );
    s[7] = f32::NAN;
    let m = MatRef::new("scores", &s[..9], 3, 3).unwrap();
    for mode in [Mode::Sum, Mode::Max] {
        let prm = RankingParams { mode, ..prm };
        assert_eq!(
            contrastive_ranking(m, Positives::Diagonal, &prm).unwrap_err(),
            Error::NonFinite {
                name: "scores",
                row: 2
            }
        );
    }
    let ok = vec![0.0f32; 9];
    let m = MatRef::new("scores", &ok, 3, 3).unwrap();
    let mut p = vec![false; 9];
    p[0] = true;
    p[4] = true;
    p[5] = true; // row 2 has no positive
    let e = contrastive_ranking(m, Positives::Mask(&p), &prm).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("positives: row 2 has no positive"),
        "{e}"
    );
    let prm = RankingParams {
        direction: Direction::TextToImage,
        ..prm
    };
    p[5] = false;
    p[7] = true; // column 2 has no positive
    let e = contrastive_ranking(m, Positives::Mask(&p), &prm).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("positives: column 2 has no positive"),
        "{e}"
    );
}
