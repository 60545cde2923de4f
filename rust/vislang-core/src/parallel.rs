//! The one chunk driver: fixed-size work items run in parallel (or inline), results in order.
//!
//! Kernels cut their work into fixed-size chunks (rows of a score matrix, row blocks of an
//! assignment) whose size never depends on the thread count, run [`map_chunks`] over them and
//! reduce the per-chunk partials in chunk order. The chunks and the reduction order are the same
//! for one thread, many threads, or the calling thread alone, so results agree bitwise
//! (scikit-learn's `CHUNK_SIZE` pattern).

use rayon::prelude::*;

/// `f(scratch, chunk index, chunk)` over `chunks`, in parallel on rayon's current pool unless
/// `inline` (then on the calling thread, in order). Returns the results in chunk order.
/// `init` makes per-worker scratch space (one per rayon job, reused across its chunks).
pub(crate) fn map_chunks<I, S, R, Init, F>(chunks: Vec<I>, inline: bool, init: Init, f: F) -> Vec<R>
where
    I: Send,
    R: Send,
    Init: Fn() -> S + Sync + Send,
    F: Fn(&mut S, usize, I) -> R + Sync + Send,
{
    if inline {
        let mut scratch = init();
        chunks
            .into_iter()
            .enumerate()
            .map(|(c, item)| f(&mut scratch, c, item))
            .collect()
    } else {
        chunks
            .into_par_iter()
            .enumerate()
            .map_init(init, |scratch, (c, item)| f(scratch, c, item))
            .collect()
    }
}

/// [`map_chunks`] over the `size`-sized pieces of `data` (the last may be shorter), without
/// scratch space.
pub(crate) fn map_chunks_mut<T, R, F>(data: &mut [T], size: usize, inline: bool, f: F) -> Vec<R>
where
    T: Send,
    R: Send,
    F: Fn(usize, &mut [T]) -> R + Sync + Send,
{
    map_chunks(
        data.chunks_mut(size.max(1)).collect(),
        inline,
        || (),
        |(), c, d| f(c, d),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_and_parallel_give_the_same_ordered_results() {
        let mut a: Vec<u64> = (0..1000).collect();
        let mut b = a.clone();
        let f = |c: usize, d: &mut [u64]| {
            d.iter_mut().for_each(|v| *v *= 3);
            (c, d.iter().sum::<u64>())
        };
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .expect("pool");
        let par = pool.install(|| map_chunks_mut(&mut a, 64, false, f));
        let seq = map_chunks_mut(&mut b, 64, true, f);
        assert_eq!(par, seq);
        assert_eq!(a, b);
        assert_eq!(par.len(), 1000usize.div_ceil(64));
        assert!(par.iter().enumerate().all(|(i, (c, _))| i == *c));
    }

    #[test]
    fn scratch_is_reused_within_a_job() {
        let out = map_chunks(
            (0..10).collect::<Vec<usize>>(),
            true,
            Vec::new,
            |s: &mut Vec<usize>, c, i| {
                s.push(i);
                (c, s.len())
            },
        );
        assert_eq!(out, (0..10).map(|i| (i, i + 1)).collect::<Vec<_>>());
    }
}
