"""Past one machine, measured on one: 2 processes x 1 thread against 1 process x 2 threads.

Group ``distributed``:

* ``kmeans``: Lloyd iterations of distributed k-means (``VisualVocabulary(distributed=True)``,
  explicit initial centres, ``tol=0``) on a Gaussian mixture split in 2 shards, against the
  same code in one process on 2 threads. ``extra_info``: both times and the parallel
  efficiency ``t(1 x 2) / t(2 x 1)`` (1.0: splitting over processes costs nothing), and the
  speed-up of 2 processes over 1 process x 1 thread (2.0 ideal).
* ``vse++ epoch``: one epoch of the shared ``Trainer`` (VSE++ with global negatives on
  synthetic caption pairs shaped like COCO's: 8-14 words from a Zipf distribution over a
  10,000-word vocabulary), data-parallel on 2 ranks against one process on 2 threads: a
  small model, VSE++'s own size, and VSE++'s size with its batch of 128 on each rank; plus a
  control without any communication. Steady-state epochs (the fastest of 5 after a warm-up);
  3 back-to-back pairs of fresh runs of both sides, the median pair reported with the
  spread.
* ``allreduce``: the communication of one k-means iteration at k = 1,024, d = 128 (the
  fixed-order float64 sum of ``k * (d + 1) + 1`` values over 2 gloo ranks), in ms.

Times inside the ranks exclude process start-up (timed around the work, slowest rank). The
processes are forked (torch is imported once) with one torch and rayon thread each.
``smoke`` scale runs in seconds.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
import pytest

pytest.importorskip("torch")

from vislang.distributed import launch

SCALE = os.environ.get("VISLANG_BENCH_SCALE", "default")
SMOKE = SCALE == "smoke"
#: (n, d, k, iterations) of the k-means comparison
KMEANS = (4_000, 32, 16, 3) if SMOKE else (400_000, 128, 256, 10)
#: (caption pairs, feature dim, batch size) of the VSE++ epoch
VSE_SIZES = (64, 32, 16) if SMOKE else (4_096, 512, 128)
#: the model of the small case: 64-d words, 256-d GRU / embedding (~0.38M parameters)
VSE_SMALL = {"word_dim": 64, "embed_dim": 256}
#: VSE++'s own size (Faghri et al. 2018: 300-d words, GRU 1024, embedding 1024) on 2048-d
#: ResNet-152 features (~6.5M parameters, a 26 MB gradient all-reduce a step): pairs, batch
VSE_PAPER_SIZES = (64, 2_048, 16) if SMOKE else (1_024, 2_048, 128)
VSE_PAPER = {"word_dim": 300, "embed_dim": 1_024}
#: the same model with the paper's batch of 128 on *each* of 2 ranks (global batch 256): how
#: the efficiency grows with the per-rank batch (fixed per-step costs are amortised)
VSE_PAPER_WIDE_SIZES = (64, 2_048, 16) if SMOKE else (2_048, 2_048, 256)
COMM_REPS = 3 if SMOKE else 50
#: vocabulary size and caption lengths (words) of the synthetic VSE++ captions
VSE_VOCAB = 100 if SMOKE else 10_000
VSE_CAPTION_WORDS = (3, 6) if SMOKE else (8, 14)
#: timed VSE++ epochs after a warm-up epoch (the fastest is reported)
VSE_EPOCHS = 1 if SMOKE else 5
#: back-to-back pairs of fresh 1 x 2 and 2 x 1 runs (the median pair is reported)
VSE_REPEATS = 1 if SMOKE else 3


def _gmm(n: int, d: int, k: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=4.0, size=(k, d))
    return (centres[rng.integers(k, size=n)] + rng.normal(size=(n, d))).astype(np.float32)


def _kmeans_fit(X: np.ndarray, n_jobs: int) -> float:
    from vislang import VisualVocabulary

    k, iters = KMEANS[2], KMEANS[3]
    vocab = VisualVocabulary(
        k, init=X[:k], max_iter=iters, tol=0.0, n_jobs=n_jobs, distributed=True
    )
    t0 = time.perf_counter()
    vocab.fit(X)
    return time.perf_counter() - t0


def _kmeans_rank(rank: int) -> float:
    from vislang import _dist

    n, d, k, _ = KMEANS
    X = _gmm(n, d, k)
    lo, hi = (0, n // 2) if rank == 0 else (n // 2, n)
    _dist.barrier()
    # Explicit initial centres: rank 0's (its first k rows, as X[:k] in one process).
    return _kmeans_fit(np.ascontiguousarray(X[lo:hi]), 1)


def test_kmeans_two_processes(benchmark: Any) -> None:
    n, d, k, iters = KMEANS
    X = _gmm(n, d, k)
    one = benchmark.pedantic(lambda: _kmeans_fit(X, 2), rounds=1, iterations=1)
    serial = _kmeans_fit(X, 1)
    two = max(launch(_kmeans_rank, 2, timeout=600.0, start_method="fork"))
    benchmark.group = "distributed"
    benchmark.extra_info.update(
        n=n,
        d=d,
        k=k,
        iterations=iters,
        seconds_1x1=serial,
        seconds_1x2=one,
        seconds_2x1=two,
        efficiency=one / two,
        speedup_2x1=serial / two,
    )
    assert one > 0 and two > 0


def _pairs(n: int, dim: int) -> Any:
    """``n`` synthetic captions shaped like COCO's: 8-14 words (COCO's mean is 10.5) drawn
    from a Zipf distribution over ``VSE_VOCAB`` words, two per image."""
    from vislang.models import CaptionPairs

    rng = np.random.default_rng(0)
    size, (shortest, longest) = VSE_VOCAB, VSE_CAPTION_WORDS
    freq = 1.0 / np.arange(1, size + 1)
    draws = rng.choice(size, size=(n, longest), p=freq / freq.sum())
    lengths = rng.integers(shortest, longest + 1, size=n)
    captions = [" ".join(f"w{i}" for i in row[:k]) for row, k in zip(draws, lengths, strict=True)]
    feats = rng.normal(size=(n // 2, dim)).astype(np.float32)
    return CaptionPairs(feats, captions, np.repeat(np.arange(n // 2), 2))


def _vocabulary() -> Any:
    """The whole ``VSE_VOCAB``-word vocabulary (as VSE++'s ~11k COCO words): its embedding
    is a dense 12 MB table of which a step touches a few hundred rows."""
    from vislang.models import Vocabulary

    return Vocabulary([f"w{i}" for i in range(VSE_VOCAB)])


def _vse_epoch(threads: int, paper: bool | str = False, alone: int = 1) -> float:
    """The fastest timed epoch; ``alone=2``: half the pairs and half the batch without any
    process group (what each of 2 ranks computes, minus all communication)."""
    import torch

    from vislang.models import VSE, TrainConfig, Trainer

    n, dim, batch = _sizes(paper)
    n, batch = n // alone, batch // alone
    torch.set_num_threads(threads)
    data = _pairs(n, dim)
    sizes = VSE_PAPER if paper else VSE_SMALL
    model = VSE.create(_vocabulary(), feature_dim=dim, **sizes)
    cfg = TrainConfig(epochs=1 + VSE_EPOCHS, batch_size=batch, amp=False, seed=0)
    trainer = Trainer(
        model,
        data,
        None,
        cfg,
        device="cpu",
        progress=False,
        distributed=None if alone == 1 else False,
    )
    trainer.train_epoch()  # warm-up: first-call allocations, the gather's capacity
    times = []
    for _ in range(VSE_EPOCHS):
        t0 = time.perf_counter()
        trainer.train_epoch()
        times.append(time.perf_counter() - t0)
    return min(times)


def _sizes(paper: bool | str) -> tuple[int, int, int]:
    """(pairs, feature dim, global batch) of a case: False (small), True or "wide" (paper)."""
    if paper == "wide":
        return VSE_PAPER_WIDE_SIZES
    return VSE_PAPER_SIZES if paper else VSE_SIZES


def _vse_rank(rank: int, paper: bool | str = False, alone: int = 1) -> float:
    return _vse_epoch(1, paper, alone)


def _vse_pair(paper: bool | str) -> tuple[float, float]:
    """(1 x 2, 2 x 1) epoch times measured back to back."""
    one = _vse_epoch(2, paper)
    two = max(launch(_vse_rank, 2, paper, timeout=600.0, start_method="fork"))
    return one, two


def _vse_case(benchmark: Any, paper: bool | str) -> None:
    # VSE_REPEATS back-to-back pairs of fresh runs; the pair with the median efficiency is
    # reported. On the 2-core development VM the speed of 1 x 2 alone drifted by up to 25%
    # over minutes (the second core's share of the host), so the two sides are measured next
    # to each other, and the spread is kept (efficiency_min / _max).
    pairs = benchmark.pedantic(
        lambda: sorted((_vse_pair(paper) for _ in range(VSE_REPEATS)), key=lambda p: p[0] / p[1]),
        rounds=1,
        iterations=1,
    )
    one, two = pairs[len(pairs) // 2]
    serial = _vse_epoch(1, paper)
    # The same 2 processes each on half the batch with no communication at all: how much of
    # the gap is the split itself (a half batch is less efficient, the ranks share memory
    # bandwidth) rather than communication.
    apart = max(launch(_vse_rank, 2, paper, 2, timeout=600.0, start_method="fork"))
    n, dim, batch = _sizes(paper)
    benchmark.group = "distributed"
    benchmark.extra_info.update(
        pairs=n,
        feature_dim=dim,
        batch_size=batch,
        vocabulary=VSE_VOCAB,
        caption_words=list(VSE_CAPTION_WORDS),
        **(VSE_PAPER if paper else VSE_SMALL),
        seconds_1x1=serial,
        seconds_1x2=one,
        seconds_2x1=two,
        seconds_2x1_no_communication=apart,
        efficiency=one / two,
        efficiency_min=pairs[0][0] / pairs[0][1],
        efficiency_max=pairs[-1][0] / pairs[-1][1],
        efficiency_without_communication=one / apart,
        communication_efficiency=apart / two,
        speedup_2x1=serial / two,
    )
    assert one > 0 and two > 0


def test_vse_epoch_two_processes(benchmark: Any) -> None:
    _vse_case(benchmark, paper=False)


def test_vse_epoch_two_processes_paper_size(benchmark: Any) -> None:
    """The same at VSE++'s own model size: compute per step grows far more than the gathers."""
    _vse_case(benchmark, paper=True)


def test_vse_epoch_two_processes_paper_size_batch_per_rank_128(benchmark: Any) -> None:
    """VSE++'s size with its batch of 128 on each rank (global 256)."""
    _vse_case(benchmark, paper="wide")


def _comm_rank(rank: int, k: int, d: int, reps: int) -> float:
    from vislang import _dist

    sums, counts = np.ones((k, d)), np.ones(k)
    _dist.sum_float64([sums, counts, np.ones(1)])  # warm-up
    t0 = time.perf_counter()
    for _ in range(reps):
        _dist.sum_float64([sums, counts, np.ones(1)])
    return (time.perf_counter() - t0) / reps


def test_kmeans_iteration_communication(benchmark: Any) -> None:
    k, d = 1024, 128
    per_iter = benchmark.pedantic(
        lambda: max(launch(_comm_rank, 2, k, d, COMM_REPS, timeout=300.0, start_method="fork")),
        rounds=1,
        iterations=1,
    )
    benchmark.group = "distributed"
    benchmark.extra_info.update(k=k, d=d, ms_per_iteration=per_iter * 1e3, reps=COMM_REPS)
    assert per_iter > 0
