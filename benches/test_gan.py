"""Text-to-image GAN throughput on the CPU: training images/s at 32x32 and 64x64 with a
per-phase profile, and generation images/s.

- Group ``gan train``: GAN-INT-CLS training steps (D then G, batch 64) through
  :class:`~vislang.models.GANTrainer` at 32x32 and 64x64 (ngf = ndf = 32, the shapes config;
  64 is the paper's). ``extra_info`` holds images/s and a profile of one step: milliseconds in
  the generator forward, the discriminator forwards, the two backward passes and the two Adam
  steps (``torch.profiler`` at op level is too noisy on 2 cores; phases are timed directly).
- Group ``gan generate``: images/s of ``TextToImageGAN.generate_from_embeddings`` (eval mode,
  no gradients), 64 images per call.

Threads: ``VISLANG_BENCH_THREADS`` (default 1: on a shared 2-core machine two torch threads
per process made a training step ~10x slower in this session's measurements).
``smoke`` scale: a narrow GAN (width 8), 1 step, 8 generated images.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

SCALE = os.environ.get("VISLANG_BENCH_SCALE", "default")
THREADS = int(os.environ.get("VISLANG_BENCH_THREADS", "1"))
SMOKE = SCALE == "smoke"
WIDTH = 8 if SMOKE else 32
STEPS = 1 if SMOKE else 6


def _gan(size: int) -> Any:
    from vislang.models.registry import create_model

    torch.manual_seed(0)
    return create_model("gan-int-cls", image_size=size, text_dim=64, ngf=WIDTH, ndf=WIDTH)


def profile_step(gan: Any, batch: int = 64) -> dict[str, float]:
    """Milliseconds of each phase of one D-then-G step (batch ``batch``)."""
    size = gan.config.image_size
    g = torch.Generator().manual_seed(0)
    real = torch.rand(batch, 3, size, size, generator=g) * 2 - 1
    text = torch.nn.functional.normalize(torch.randn(batch, 64, generator=g), dim=1)
    z = torch.randn(batch, gan.config.z_dim, generator=g)
    opt_d = torch.optim.Adam(gan.discriminator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_g = torch.optim.Adam(gan.generator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    d_params = list(gan.discriminator.parameters())
    g_params = list(gan.generator.parameters())
    out: dict[str, float] = {}

    def tick(name: str, t0: float) -> float:
        t = time.perf_counter()
        out[name] = out.get(name, 0.0) + (t - t0) * 1000
        return t

    for _ in range(2):  # the first step warms up; the second is reported
        out.clear()
        t = time.perf_counter()
        with torch.no_grad():
            gan.generator(z, text)
        t = tick("generator_forward", t)
        d_loss, g_loss, _ = gan.losses(real, text, text.roll(1, 0), z)
        t = tick("losses_forward_total", t)
        d_loss.backward(inputs=d_params)
        t = tick("backward_d", t)
        g_loss.backward(inputs=g_params)
        t = tick("backward_g", t)
        opt_d.step()
        opt_g.step()
        tick("adam_steps", t)
    out["discriminator_forwards"] = out["losses_forward_total"] - 2 * out["generator_forward"]
    return {k: round(v, 2) for k, v in out.items()}


@pytest.mark.benchmark(group="gan train")
@pytest.mark.parametrize("size", [32, 64])
def test_gan_train_throughput(benchmark: Any, size: int) -> None:
    from vislang.models import GANTrainConfig, GANTrainer

    before = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    try:
        rng = np.random.default_rng(0)
        n = 64 * STEPS
        images = rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)
        text = torch.nn.functional.normalize(
            torch.from_numpy(rng.normal(size=(n, 64)).astype(np.float32)), dim=1
        )
        gan = _gan(size)
        cfg = GANTrainConfig(epochs=1, batch_size=64, sample_every=0)
        trainer = GANTrainer(gan, images, text, np.arange(n), cfg, device="cpu", progress=False)

        def epoch() -> float:
            t0 = time.perf_counter()
            trainer.epoch = 0
            trainer.train_epoch()
            return n / (time.perf_counter() - t0)

        ips = benchmark.pedantic(epoch, rounds=1)
        benchmark.extra_info["images_per_s"] = ips
        benchmark.extra_info["threads"] = THREADS
        benchmark.extra_info["profile_ms"] = prof = profile_step(gan)
        assert ips > 0
        assert prof["discriminator_forwards"] > 0
    finally:
        torch.set_num_threads(before)


@pytest.mark.benchmark(group="gan generate")
@pytest.mark.parametrize("size", [32, 64])
def test_gan_generate_throughput(benchmark: Any, size: int) -> None:
    before = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    try:
        gan = _gan(size).eval()
        n = 8 if SMOKE else 64
        text = torch.nn.functional.normalize(torch.randn(1, 64), dim=1)

        def generate() -> float:
            t0 = time.perf_counter()
            imgs = gan.generate_from_embeddings(text, n, seed=0)
            assert imgs.shape == (1, n, size, size, 3)
            return n / (time.perf_counter() - t0)

        ips = benchmark.pedantic(generate, rounds=3, warmup_rounds=1)
        benchmark.extra_info["images_per_s"] = ips
        assert ips > 0
    finally:
        torch.set_num_threads(before)
