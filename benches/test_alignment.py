"""Throughput of the alignment models (issue 19).

- ``dt-rnn encode``: sentences/s of the batched level-by-level DT-RNN
  (:meth:`~vislang.models.DTRNN.encode_trees`) against the per-sentence recursion of the same
  model (:meth:`~vislang.models.DTRNN.encode_tree_loop`) on shapes-world trees, forward only;
  the speed-up is recorded as ``extra_info["speedup"]`` (target >= 10x).
- ``brnn-align training``: training pairs/s of the BRNN alignment model on shapes-world 8 x 8
  pixel-cell grids (65 regions with the whole image), batch 64, through the shared Trainer.

``smoke`` scale: 64 sentences and 2 training steps.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

SCALE = os.environ.get("VISLANG_BENCH_SCALE", "default")
THREADS = int(os.environ.get("VISLANG_BENCH_THREADS", "2"))
N_SENTENCES = 64 if SCALE == "smoke" else 1000


@pytest.fixture(scope="module")
def shapes_captions() -> list[str]:
    from vislang.data import make_shapes

    ds = make_shapes(max(N_SENTENCES // 5, 20), 0, 0, 0, seed=0)
    return [c for cs in ds.captions for c in cs][:N_SENTENCES]


def _dtrnn(captions: list[str]) -> Any:
    from vislang.models import Vocabulary, create_model

    torch.manual_seed(0)
    vocab = Vocabulary.build(captions)
    return create_model("dt-rnn", vocab=vocab, feature_dim=16, embed_dim=128, word_dim=64)


@pytest.mark.benchmark(group="dt-rnn encode")
def test_dtrnn_batched_vs_loop(benchmark: Any, shapes_captions: list[str]) -> None:
    before = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    try:
        model = _dtrnn(shapes_captions)
        trees = model.trees_of(shapes_captions)
        with torch.no_grad():
            batched = model.encode_trees(trees)
            t0 = time.perf_counter()
            loop = torch.stack([model.encode_tree_loop(t) for t in trees])
            loop_s = time.perf_counter() - t0
            torch.testing.assert_close(batched, loop, rtol=1e-4, atol=1e-5)
            benchmark(model.encode_trees, trees)
        mean = benchmark.stats.stats.mean if benchmark.stats else loop_s
        benchmark.extra_info.update(
            sentences=len(trees),
            batched_sentences_per_s=len(trees) / mean,
            loop_sentences_per_s=len(trees) / loop_s,
            speedup=loop_s / mean,
        )
    finally:
        torch.set_num_threads(before)


@pytest.mark.benchmark(group="brnn-align training")
def test_brnn_align_training_pairs_per_s(benchmark: Any) -> None:
    from vislang.data import make_shapes
    from vislang.models import CaptionPairs, TrainConfig, Trainer, create_model
    from vislang.models.brnn_align import pixel_grid

    before = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    try:
        n = 40 if SCALE == "smoke" else 400
        ds = make_shapes(n, 0, 0, 0, max_objects=2, seed=0).select("train")
        pairs = CaptionPairs.from_dataset(ds, pixel_grid(ds.images))
        steps = 2 if SCALE == "smoke" else 0
        torch.manual_seed(0)
        model = create_model(
            "brnn-align", captions=pairs.captions, feature_dim=12, embed_dim=128, word_dim=64,
            hidden_dim=128,
        )  # fmt: skip
        cfg = TrainConfig(epochs=1, batch_size=64, lr=1e-3, max_steps_per_epoch=steps)
        trainer = Trainer(model, pairs, None, cfg, device="cpu", progress=False)
        benchmark.pedantic(trainer.train_epoch, rounds=1, iterations=1)
        n_pairs = min(len(pairs.captions), steps * 64) if steps else len(pairs.captions)
        seconds = benchmark.stats.stats.mean if benchmark.stats else float("nan")
        benchmark.extra_info.update(pairs=n_pairs, pairs_per_s=n_pairs / seconds)
        assert np.isfinite(seconds) or benchmark.disabled
    finally:
        torch.set_num_threads(before)
