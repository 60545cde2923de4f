"""Grounded sentence encoders and the transfer harness (Kiela et al. 2018; SentEval protocol).

All on ``VISLANG_BENCH_THREADS`` threads (default 2; torch included).

- ``encode``: sentences/s of :meth:`vislang.models.SentenceEncoder.encode` (BiLSTM-max, batch
  256, CPU) on Flickr8k-like captions, for the CPU size (50-d words, 256 units per direction)
  and the paper's (300-d words, 1024 units per direction; not at smoke scale).
- ``harness``: the time of a binary task of ``N`` sentences through the SentEval protocol
  (nested 10-fold CV of logistic regression, 6 values of C) on frozen 256-d features.

``VISLANG_BENCH_SCALE``: ``smoke`` (tiny, CI), ``default`` (2,048 sentences to encode, a
10k-sentence task with 3 inner folds), ``full`` (the 10k task with SentEval's 10 inner folds).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

SCALE = os.environ.get("VISLANG_BENCH_SCALE", "default")
THREADS = int(os.environ.get("VISLANG_BENCH_THREADS", "2"))
# (sentences to encode, encoder sizes, harness sentences, outer folds, inner folds)
SIZES = {
    "smoke": (256, ((50, 32),), 400, 3, 2),
    "default": (2048, ((50, 256), (300, 1024)), 10_000, 10, 3),
    "full": (4096, ((50, 256), (300, 1024)), 10_000, 10, 10),
}[SCALE]
N_ENCODE, ENCODER_SIZES, N_TASK, OUTER, INNER = SIZES
WORDS = "a man dog woman child runs sits on the in grass red blue ball water beach street".split()


@pytest.fixture(scope="module", autouse=True)
def _torch_threads() -> Iterator[None]:
    """PyTorch on ``VISLANG_BENCH_THREADS`` threads (its pool is not a BLAS threadpool)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    yield
    torch.set_num_threads(before)


def _sentences(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=int(rng.integers(6, 16)))) for _ in range(n)]


@pytest.mark.parametrize("sizes", ENCODER_SIZES, ids=lambda s: f"w{s[0]}-h{s[1]}")
def test_encode_throughput(benchmark: Any, sizes: tuple[int, int]) -> None:
    import torch

    from vislang.models import SentenceEncoder, SentenceEncoderConfig, Vocabulary

    torch.manual_seed(0)
    sentences = _sentences(N_ENCODE)
    vocab = Vocabulary.build(sentences)
    enc = SentenceEncoder(vocab, SentenceEncoderConfig("lstm", sizes[0], sizes[1]))
    out = benchmark.pedantic(
        enc.encode, args=(sentences,), kwargs={"batch_size": 256}, rounds=1, iterations=1
    )
    assert out.shape == (N_ENCODE, 2 * sizes[1]) and np.isfinite(out).all()
    stats = getattr(benchmark, "stats", None)
    if stats is not None and stats.stats.mean > 0:
        benchmark.extra_info["sentences_per_s"] = N_ENCODE / stats.stats.mean


def test_harness_time(benchmark: Any) -> None:
    from vislang.eval.transfer import cross_validate_classifier

    rng = np.random.default_rng(0)
    y = np.arange(N_TASK) % 2
    x = rng.normal(size=(N_TASK, 256)).astype(np.float32)
    x[:, :8] += 0.3 * (2 * y[:, None] - 1)
    res = benchmark.pedantic(
        cross_validate_classifier, args=(x, y),
        kwargs={"n_folds": OUTER, "inner_folds": INNER}, rounds=1, iterations=1,
    )  # fmt: skip
    assert 60.0 < res["acc"] <= 100.0
    benchmark.extra_info.update(n_sentences=N_TASK, outer_folds=OUTER, inner_folds=INNER)
