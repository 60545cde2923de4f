"""FID and GAN training throughput.

- Group ``fid n=10k d=1280``: the Fréchet distance of two feature sets' statistics (10,000
  samples, d = 1,280, as EfficientNet-Lite0 features), ``vislang`` (eigenvalues of a symmetric
  product, float64) vs ``scipy-sqrtm`` (pytorch-fid's ``calculate_frechet_distance`` formula,
  restated in ``tests/eval/generation_reference.py``). Statistics are computed once, outside
  the timing; the two values agree to 1e-6 relative (asserted).
- Group ``gan train 32x32``: images/s of GAN-INT-CLS training steps (D then G) at 32x32 on the
  CPU, ngf = ndf = 64 (the paper's widths), batch 64.

``smoke`` scale: d = 64, n = 500 and 2 training steps of a narrow GAN.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.eval.generation_reference import pytorch_fid_frechet_distance

from vislang.eval.generation import feature_statistics, frechet_distance

SCALE = os.environ.get("VISLANG_BENCH_SCALE", "default")
N, D = (500, 64) if SCALE == "smoke" else (10_000, 1280)


@pytest.fixture(scope="module")
def stats() -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(0)
    mix = rng.normal(size=(D, D)) / np.sqrt(D)
    x = np.maximum(rng.normal(size=(N, D)) @ mix, 0)  # ReLU-like, correlated features
    y = np.maximum(rng.normal(size=(N, D)) @ mix + 0.05, 0)
    return (*feature_statistics(x), *feature_statistics(y))


@pytest.mark.parametrize("impl", ["vislang", "scipy-sqrtm"])
def test_fid(benchmark: pytest.FixtureRequest, stats: tuple[np.ndarray, ...], impl: str) -> None:
    benchmark.group = f"fid n={N} d={D}"  # type: ignore[attr-defined]
    fn = frechet_distance if impl == "vislang" else pytorch_fid_frechet_distance
    value = benchmark.pedantic(fn, args=stats, rounds=1 if SCALE != "smoke" else 3)  # type: ignore[attr-defined]
    reference = pytorch_fid_frechet_distance(*stats)
    assert value == pytest.approx(reference, rel=1e-6)


def test_gan_training_throughput(benchmark: pytest.FixtureRequest) -> None:
    torch = pytest.importorskip("torch")
    from vislang.models import GANTrainConfig, GANTrainer
    from vislang.models.registry import create_model

    width, steps = (8, 2) if SCALE == "smoke" else (64, 10)
    benchmark.group = "gan train 32x32"  # type: ignore[attr-defined]
    rng = np.random.default_rng(0)
    n = 64 * steps
    images = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    text = torch.from_numpy(rng.normal(size=(n, 64)).astype(np.float32))
    torch.manual_seed(0)
    gan = create_model("gan-int-cls", image_size=32, text_dim=64, ngf=width, ndf=width)
    cfg = GANTrainConfig(epochs=1, batch_size=64, sample_every=0)
    trainer = GANTrainer(gan, images, text, np.arange(n), cfg, device="cpu", progress=False)

    def epoch() -> float:
        t0 = time.perf_counter()
        trainer.epoch = 0
        trainer.train_epoch()
        return n / (time.perf_counter() - t0)

    ips = benchmark.pedantic(epoch, rounds=1)  # type: ignore[attr-defined]
    benchmark.extra_info["images_per_s"] = ips  # type: ignore[attr-defined]
    assert ips > 0
