//! The Hogwild training loop.
#![allow(unsafe_op_in_unsafe_fn)]

use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::kernels::{self, MarginTerm};
use super::tables::{keep_thresholds, AliasTable};
use super::{unit_rows, Corpus, MultimodalParams, SkipGramParams, Trained, Variant};
use crate::error::{Error, Result};
use crate::isa::{self, Isa};
use crate::rng::{FastRng, Rng};

/// Progress callback: `(words processed, words to process)`; returning `false` stops training
/// with [`Error::Interrupted`]. Called from one training thread about every 10,000 words.
pub type Progress<'a> = &'a (dyn Fn(u64, u64) -> bool + Sync);

/// Words a thread processes between learning-rate updates and progress reports (word2vec.c).
const REPORT_EVERY: u64 = 10_000;

/// A weight matrix that threads update without locks.
#[derive(Clone, Copy)]
struct Shared(*mut f32);

// SAFETY: Hogwild (Niu et al. 2011), exactly as word2vec.c and gensim: training threads read
// and write rows of the weight matrices without synchronisation. A race can only lose or mix
// updates of single f32 values, which SGD tolerates; no pointer or length is ever raced on.
// Every access stays inside the allocation (ids are validated before the threads start), and the
// allocation outlives the threads (`std::thread::scope`). With one thread there is no race.
unsafe impl Send for Shared {}
unsafe impl Sync for Shared {}

struct Visual<'a> {
    vis: Vec<f32>,
    vdim: usize,
    rows: usize,
    visual_of: &'a [i64],
    margin: f32,
    weight: f32,
    k: usize,
    mapping: Option<Shared>,
}

struct Ctx<'a> {
    corpus: Corpus<'a>,
    params: &'a SkipGramParams,
    keep: Vec<u64>,
    noise: AliasTable,
    syn0: Shared,
    syn1: Shared,
    visual: Option<Visual<'a>>,
    total: u64,
    done: AtomicU64,
    stop: AtomicBool,
    progress: Progress<'a>,
    isa: Isa,
}

/// Trains skip-gram (and the visual term when `visual` is given) on `corpus` with
/// `rayon::current_num_threads()` Hogwild threads. `counts[w]` is word `w`'s corpus count (for
/// subsampling and the noise table).
pub fn train(
    corpus: Corpus<'_>,
    counts: &[u64],
    params: &SkipGramParams,
    visual: Option<&MultimodalParams<'_>>,
    progress: Progress<'_>,
) -> Result<Trained> {
    train_at(isa::current(), corpus, counts, params, visual, progress)
}

/// [`train`] with the training loop compiled for `isa` (lowered to what the CPU runs); with one
/// thread every level gives the same vectors. Tests compare them.
///
/// # Errors
/// As [`train`].
pub fn train_at(
    isa: Isa,
    corpus: Corpus<'_>,
    counts: &[u64],
    params: &SkipGramParams,
    visual: Option<&MultimodalParams<'_>>,
    progress: Progress<'_>,
) -> Result<Trained> {
    params.validate()?;
    let vocab = counts.len();
    if vocab == 0 {
        return Err(Error::invalid("counts", "the vocabulary is empty"));
    }
    corpus.validate(vocab)?;
    let dim = params.vector_size;
    let mut rng = Rng::new(params.seed);
    let mut syn0: Vec<f32> = (0..vocab * dim)
        .map(|_| ((rng.uniform() - 0.5) / dim as f64) as f32)
        .collect();
    let mut syn1neg = vec![0.0f32; vocab * dim];
    let mut mapping: Option<Vec<f32>> = None;
    let visual = match visual {
        None => None,
        Some(mm) => {
            let rows = mm.validate(vocab, dim)?;
            if mm.variant == Variant::B {
                let scale = (3.0 / dim as f64).sqrt();
                mapping = Some(
                    (0..mm.vdim * dim)
                        .map(|_| ((2.0 * rng.uniform() - 1.0) * scale) as f32)
                        .collect(),
                );
            }
            Some(Visual {
                vis: unit_rows(mm.vectors, mm.vdim),
                vdim: mm.vdim,
                rows,
                visual_of: mm.visual_of,
                margin: mm.margin,
                weight: mm.weight,
                k: mm.n_negatives,
                mapping: None,
            })
        }
    };
    let noise = AliasTable::unigram(counts, params.ns_exponent)?;
    let words: u64 = corpus.ids.len() as u64;
    let mut ctx = Ctx {
        corpus,
        params,
        keep: keep_thresholds(counts, params.sample),
        noise,
        syn0: Shared(syn0.as_mut_ptr()),
        syn1: Shared(syn1neg.as_mut_ptr()),
        visual,
        total: words * params.epochs as u64,
        done: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        progress,
        isa,
    };
    if let (Some(v), Some(m)) = (ctx.visual.as_mut(), mapping.as_mut()) {
        v.mapping = Some(Shared(m.as_mut_ptr()));
    }
    let shards = shard_sentences(corpus, rayon::current_num_threads().max(1));
    let ctx = &ctx;
    let results: Vec<Result<()>> = std::thread::scope(|scope| {
        let handles: Vec<_> = shards
            .iter()
            .enumerate()
            .skip(1)
            .map(|(t, r)| {
                let r = r.clone();
                scope.spawn(move || run_shard(ctx, r, t))
            })
            .collect();
        let mut out = vec![match shards.first() {
            Some(r) => run_shard(ctx, r.clone(), 0),
            None => Ok(()),
        }];
        for h in handles {
            out.push(
                h.join()
                    .unwrap_or_else(|_| Err(Error::invalid("training", "a thread panicked"))),
            );
        }
        out
    });
    for r in results {
        r?;
    }
    let done = ctx.done.load(Ordering::Relaxed);
    if !(ctx.progress)(done, ctx.total) {
        return Err(Error::Interrupted);
    }
    Ok(Trained {
        syn0,
        syn1neg,
        mapping,
        words_done: done,
    })
}

/// Contiguous sentence ranges with about the same number of words each.
fn shard_sentences(corpus: Corpus<'_>, n: usize) -> Vec<Range<usize>> {
    let sentences = corpus.offsets.len().saturating_sub(1);
    let words = corpus.ids.len();
    let mut out = Vec::with_capacity(n);
    let mut start = 0;
    for t in 1..=n {
        let goal = words * t / n;
        let mut end = corpus.offsets.partition_point(|&o| o < goal).min(sentences);
        if t == n {
            end = sentences;
        }
        if end > start {
            out.push(start..end);
            start = end;
        }
    }
    out
}

fn run_shard(ctx: &Ctx<'_>, sentences: Range<usize>, thread: usize) -> Result<()> {
    shard_isa(ctx.isa, ctx, sentences, thread)
}

crate::multiversion!(
    fn shard_isa[](ctx: &Ctx<'_>, sentences: Range<usize>, thread: usize) -> Result<()> = shard
);

/// [`shard_body`] behind a safe signature, for [`crate::multiversion`].
#[inline(always)]
fn shard(ctx: &Ctx<'_>, sentences: Range<usize>, thread: usize) -> Result<()> {
    // SAFETY: `train` builds `ctx` with weight pointers of the documented sizes that outlive
    // the scoped training threads, after validating the ids (see `shard_body`).
    unsafe { shard_body(ctx, sentences, thread) }
}

/// Every epoch over `sentences` (one thread).
///
/// # Safety
/// `ctx`'s weight pointers cover `vocab x dim` (and `vdim x dim`) floats and outlive the call;
/// the corpus ids were validated against the vocabulary and `visual_of` against the rows.
#[inline(always)]
unsafe fn shard_body(ctx: &Ctx<'_>, sentences: Range<usize>, thread: usize) -> Result<()> {
    let p = ctx.params;
    let dim = p.vector_size;
    let mut rng = FastRng::new(&mut Rng::new(
        p.seed ^ (thread as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
    ));
    let mut kept: Vec<u32> = Vec::new();
    let mut targets = vec![0u32; p.negative + 1];
    let mut work = vec![0.0f32; dim];
    let vdim = ctx.visual.as_ref().map_or(0, |v| v.vdim);
    let (mut z, mut grad, mut gw) = (
        vec![0.0f32; vdim],
        vec![0.0f32; vdim.max(dim)],
        vec![0.0f32; dim],
    );
    let mut vis_negs: Vec<u32> = vec![0; ctx.visual.as_ref().map_or(0, |v| v.k)];
    let (alpha, min_alpha) = (p.alpha, p.min_alpha);
    let mut lr = alpha;
    let mut pending: u64 = 0;
    let ids = ctx.corpus.ids;
    let offsets = ctx.corpus.offsets;
    for _ in 0..p.epochs {
        for s in sentences.clone() {
            let sent = &ids[offsets[s]..offsets[s + 1]];
            pending += sent.len() as u64;
            if pending >= REPORT_EVERY {
                let done = ctx.done.fetch_add(pending, Ordering::Relaxed) + pending;
                pending = 0;
                let frac = done as f64 / (ctx.total + 1) as f64;
                lr =
                    (alpha as f64 - (alpha - min_alpha) as f64 * frac).max(min_alpha as f64) as f32;
                if thread == 0 && !(ctx.progress)(done, ctx.total) {
                    ctx.stop.store(true, Ordering::Relaxed);
                }
                if ctx.stop.load(Ordering::Relaxed) {
                    return Err(Error::Interrupted);
                }
            }
            kept.clear();
            for &w in sent {
                let thr = ctx.keep[w as usize];
                if thr >= 1 << 32 || (rng.next_u64() & 0xFFFF_FFFF) < thr {
                    kept.push(w);
                }
            }
            let n = kept.len();
            for pos in 0..n {
                let word = kept[pos];
                let reach = p.window - rng.below(p.window);
                let lo = pos.saturating_sub(reach);
                let hi = (pos + reach).min(n - 1);
                for (c, &last) in kept.iter().enumerate().take(hi + 1).skip(lo) {
                    if c == pos {
                        continue;
                    }
                    targets[0] = word;
                    for t in targets[1..].iter_mut() {
                        *t = ctx.noise.sample_from(rng.next_u64());
                    }
                    kernels::sgns_update(
                        ctx.syn0.0.add(last as usize * dim),
                        ctx.syn1.0,
                        dim,
                        &targets,
                        lr,
                        &mut work,
                        false,
                    );
                }
                if let Some(v) = &ctx.visual {
                    let row = v.visual_of[word as usize];
                    if row >= 0 {
                        for j in vis_negs.iter_mut() {
                            *j = rng.below(v.rows) as u32;
                        }
                        let term = MarginTerm {
                            margin: v.margin,
                            step: lr * v.weight,
                        };
                        let w = ctx.syn0.0.add(word as usize * dim);
                        match v.mapping {
                            None => {
                                kernels::margin_update_a(
                                    w,
                                    v.vis.as_ptr(),
                                    dim,
                                    row as u32,
                                    &vis_negs,
                                    term,
                                    &mut grad,
                                );
                            }
                            Some(m) => {
                                kernels::margin_update_b(
                                    w,
                                    m.0,
                                    v.vis.as_ptr(),
                                    dim,
                                    v.vdim,
                                    row as u32,
                                    &vis_negs,
                                    term,
                                    &mut z,
                                    &mut grad,
                                    &mut gw,
                                );
                            }
                        }
                    }
                }
            }
        }
    }
    ctx.done.fetch_add(pending, Ordering::Relaxed);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{margin_step, sgns_step};
    use super::*;

    fn planted() -> (Vec<u32>, Vec<usize>, Vec<u64>) {
        // Words 0..4 co-occur, 4..8 co-occur; sentences never mix the families.
        let mut rng = Rng::new(5);
        let (mut ids, mut offsets) = (Vec::new(), vec![0usize]);
        for s in 0..2000 {
            let base = if s % 2 == 0 { 0 } else { 4 };
            for _ in 0..8 {
                ids.push(base + rng.below(4) as u32);
            }
            offsets.push(ids.len());
        }
        let mut counts = vec![0u64; 8];
        ids.iter().for_each(|&w| counts[w as usize] += 1);
        (ids, offsets, counts)
    }

    fn params(seed: u64) -> SkipGramParams {
        SkipGramParams {
            vector_size: 16,
            window: 3,
            negative: 3,
            sample: 0.0,
            alpha: 0.025,
            min_alpha: 1e-4,
            epochs: 3,
            seed,
            ns_exponent: 0.75,
        }
    }

    fn cos(a: &[f32], b: &[f32]) -> f32 {
        let d: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
        let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
        let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
        d / (na * nb)
    }

    #[test]
    fn planted_families_are_recovered_and_runs_repeat() {
        let (ids, offsets, counts) = planted();
        let corpus = Corpus {
            ids: &ids,
            offsets: &offsets,
        };
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let run = || {
            pool.install(|| train(corpus, &counts, &params(1), None, &|_, _| true))
                .unwrap()
        };
        let a = run();
        assert_eq!(a.syn0, run().syn0);
        let row = |w: usize| &a.syn0[w * 16..(w + 1) * 16];
        let within = cos(row(0), row(1));
        let across = cos(row(0), row(5));
        assert!(within > across + 0.3, "within {within}, across {across}");
    }

    #[test]
    fn bad_corpus_is_rejected() {
        let counts = [1u64, 1];
        let bad = Corpus {
            ids: &[0, 2],
            offsets: &[0, 2],
        };
        assert!(train(bad, &counts, &params(0), None, &|_, _| true).is_err());
        let empty = Corpus {
            ids: &[],
            offsets: &[0],
        };
        assert!(train(empty, &counts, &params(0), None, &|_, _| true).is_err());
        let mut p = params(0);
        p.window = 0;
        let ok = Corpus {
            ids: &[0, 1],
            offsets: &[0, 2],
        };
        assert!(train(ok, &counts, &p, None, &|_, _| true).is_err());
    }

    #[test]
    fn callback_can_stop() {
        let (ids, offsets, counts) = planted();
        let corpus = Corpus {
            ids: &ids,
            offsets: &offsets,
        };
        let r = train(corpus, &counts, &params(1), None, &|_, _| false);
        assert_eq!(r.unwrap_err(), Error::Interrupted);
    }

    #[test]
    fn sgns_step_lowers_the_loss() {
        let dim = 4;
        let mut rng = Rng::new(2);
        let mut syn0: Vec<f32> = (0..5 * dim).map(|_| rng.uniform() as f32 - 0.5).collect();
        let mut syn1: Vec<f32> = (0..5 * dim).map(|_| rng.uniform() as f32 - 0.5).collect();
        let before = sgns_step(&mut syn0, &mut syn1, dim, 0, 1, &[2, 3], 0.1).unwrap();
        let after = sgns_step(&mut syn0, &mut syn1, dim, 0, 1, &[2, 3], 0.0).unwrap();
        assert!(after < before);
    }

    #[test]
    fn margin_step_pulls_towards_the_visual_vector() {
        let dim = 3;
        let mut syn0 = vec![1.0f32, 0.2, 0.0, 0.0, 1.0, 0.0];
        let visual = [0.0f32, 1.0, 0.0, 1.0, 0.0, 0.0];
        let before = margin_step(
            &mut syn0,
            dim,
            0,
            &visual,
            dim,
            0,
            &[1],
            None,
            0.5,
            0.1,
            1.0,
        )
        .unwrap();
        let after = margin_step(
            &mut syn0,
            dim,
            0,
            &visual,
            dim,
            0,
            &[1],
            None,
            0.5,
            0.0,
            1.0,
        )
        .unwrap();
        assert!(after < before, "{before} -> {after}");
        let mut m = vec![0.5f32; 5];
        assert!(margin_step(
            &mut syn0,
            dim,
            0,
            &visual,
            2,
            0,
            &[1],
            Some(&mut m),
            0.5,
            0.1,
            1.0
        )
        .is_err());
    }
}
