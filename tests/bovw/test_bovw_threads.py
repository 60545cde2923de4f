"""Encoding releases the GIL and gives bit-identical results on 1 and 2 threads."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import pytest

import vislang
from vislang.features import DescriptorSet


def _data(n_images: int = 300, per_image: int = 200, d: int = 32, k: int = 256) -> Any:
    rng = np.random.default_rng(0)
    counts = rng.integers(0, 2 * per_image, n_images)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    n = int(offsets[-1])
    X = rng.normal(size=(n, d)).astype(np.float32)
    kps = np.column_stack([rng.uniform(0, 64, n), rng.uniform(0, 48, n), np.ones(n)])
    sizes = np.tile([48, 64], (n_images, 1))
    ds = DescriptorSet(X, offsets, kps, sizes)
    C = rng.normal(size=(k, d)).astype(np.float32)
    return ds, C


@pytest.mark.parametrize(
    "kwargs",
    [
        {"encoding": "hard", "pyramid": (1, 2)},
        {"encoding": "soft", "k": 5, "weighting": "tfidf", "norm": "power"},
        {"encoding": "vlad", "intra_norm": True, "norm": "power"},
    ],
)
def test_one_and_two_threads_are_bit_identical(kwargs: dict[str, Any]) -> None:
    ds, C = _data(n_images=120, per_image=100, k=64)
    one = vislang.encode(ds, C, n_jobs=1, **kwargs)
    two = vislang.encode(ds, C, n_jobs=2, **kwargs)
    default = vislang.encode(ds, C, **kwargs)
    assert one.tobytes() == two.tobytes() == default.tobytes()


def test_encode_releases_the_gil() -> None:
    """A pure-Python heartbeat keeps beating while two encodings run in threads."""
    ds, C = _data()
    barrier = threading.Barrier(3)
    windows: list[tuple[float, float]] = [(0.0, 0.0), (0.0, 0.0)]
    beats: list[float] = []
    done = threading.Event()
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            barrier.wait()
            t0 = time.perf_counter()
            vislang.encode(ds, C, encoding="soft", k=5)
            windows[i] = (t0, time.perf_counter())
        except BaseException as e:  # surfaced below
            errors.append(e)

    def heartbeat() -> None:
        barrier.wait()
        while not done.is_set():
            beats.append(time.perf_counter())

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    hb = threading.Thread(target=heartbeat)
    for t in [*threads, hb]:
        t.start()
    for t in threads:
        t.join()
    done.set()
    hb.join()
    assert not errors, errors
    (a0, a1), (b0, b1) = windows
    assert max(a0, b0) < min(a1, b1), windows
    start, end = min(a0, b0), max(a1, b1)
    inside = np.array([b for b in beats if start < b < end])
    assert len(inside) > 100
    gaps = np.diff(np.concatenate([[start], inside, [end]]))
    assert gaps.max() < 0.5 * (end - start), (gaps.max(), end - start)
