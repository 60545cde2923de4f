"""Captioning models (issue 13, section 6): batched beam search and Show-Attend-Tell training
throughput on precomputed grids.

Group ``beam search``: Show-Attend-Tell (soft; random weights, 49 locations x 256 features,
vocabulary of 1,000 words, hidden 256) decodes ``n`` images at beam 3 (``smoke``: 4 images
and a smaller model, otherwise 64) batched over images (``model.caption``: n x 3 hypotheses
advance as one batch) against a loop over the images (one image's 3 beams per call, the usual
implementation). Both must return the same captions; target: batched >= 5x the loop in images/s.

Group ``sat training``: one epoch of the shared trainer on precomputed grids (``smoke``: 16
images x 5 captions, otherwise 128 x 5), reported as caption tokens/s (``extra_info``); with
``VISLANG_BENCH_PROFILE=1`` a ``torch.profiler`` summary (top operators by CPU time) goes to
``benches/results/captioning_profile.txt``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from benchkit import SCALE, THREADS

torch = pytest.importorskip("torch")

from vislang.models import CaptionPairs, TrainConfig, Trainer  # noqa: E402
from vislang.models.captioning import (  # noqa: E402
    CaptionConfig,
    ShowAttendTell,
    caption_vocabulary,
)

SMOKE = SCALE == "smoke"
N_BEAM = 4 if SMOKE else 64
N_TRAIN = 16 if SMOKE else 128
L, D, V = (16, 64, 200) if SMOKE else (49, 256, 1000)
HIDDEN = 64 if SMOKE else 256
RESULTS = Path(__file__).parent / "results"


def _captions(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, V + 1)
    p /= p.sum()
    return [" ".join(f"w{i}" for i in rng.choice(V, rng.integers(8, 15), p=p)) for _ in range(n)]


def _model(hidden: int = HIDDEN) -> Any:
    torch.manual_seed(0)
    vocab = caption_vocabulary([" ".join(f"w{i}" for i in range(V))], max_length=V + 1)
    cfg = CaptionConfig(
        feature_dim=D, word_dim=128, hidden_dim=hidden, attention_dim=128, dropout=0.0
    )
    return ShowAttendTell(vocab, cfg).eval()


@pytest.fixture(scope="module", autouse=True)
def torch_threads() -> Any:
    before = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    yield
    torch.set_num_threads(before)


@pytest.mark.benchmark(group=f"beam search {N_BEAM} images, beam 3")
@pytest.mark.parametrize("impl", ["batched", "per-image"])
def test_beam_search(benchmark: Any, impl: str) -> None:
    model = _model()
    grids = torch.randn(N_BEAM, L, D, generator=torch.Generator().manual_seed(1))

    def batched() -> list[str]:
        return list(model.caption(grids, beam=3, max_length=16))

    def per_image() -> list[str]:
        return [model.caption(grids[i : i + 1], beam=3, max_length=16)[0] for i in range(N_BEAM)]

    run = batched if impl == "batched" else per_image
    t0 = time.perf_counter()
    out = benchmark(run)
    stats = getattr(benchmark, "stats", None)  # None under --benchmark-disable
    best = stats.stats.min if stats is not None else time.perf_counter() - t0
    benchmark.extra_info["images_per_s"] = N_BEAM / best  # of the best round, not all rounds
    assert out == (per_image() if impl == "batched" else batched())


def _profile(model: Any, data: Any, cfg: Any) -> str:
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        Trainer(model, data, None, cfg, device="cpu", progress=False).fit()
    return str(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=20))


@pytest.mark.benchmark(group=f"sat training {N_TRAIN} x 5 captions")
def test_sat_training_throughput(benchmark: Any) -> None:
    model = _model().train()
    grids = np.random.default_rng(2).normal(size=(N_TRAIN, L, D)).astype(np.float16)
    caps = _captions(N_TRAIN * 5, 3)
    data = CaptionPairs(grids, caps, np.repeat(np.arange(N_TRAIN), 5))
    cfg = TrainConfig(epochs=1, batch_size=64, lr=1e-3, seed=0)
    tokens = sum(len(c.split()) + 1 for c in caps)  # targets: words + <end>
    t0 = time.perf_counter()
    history = benchmark.pedantic(
        lambda: Trainer(model, data, None, cfg, device="cpu", progress=False).fit(),
        rounds=1,
        iterations=1,
    )
    seconds = time.perf_counter() - t0
    benchmark.extra_info["caption_tokens_per_s"] = tokens / seconds
    assert np.isfinite(history[-1]["loss"])
    if os.environ.get("VISLANG_BENCH_PROFILE") == "1":
        RESULTS.mkdir(exist_ok=True)
        table = _profile(model, data, cfg)
        (RESULTS / "captioning_profile.txt").write_text(
            f"Show-Attend-Tell, one epoch, {N_TRAIN} images x 5 captions, {tokens} caption "
            f"tokens, batch 64, grids {L} x {D}, hidden {HIDDEN}, {THREADS} threads: "
            f"{tokens / seconds:.0f} tokens/s without the profiler\n\n{table}\n"
        )
