"""Fixtures of the benchmarks: thread limits, cached data sets, the memory-mapped file, and
the metadata BENCHMARKS.md needs (added to pytest-benchmark's JSON). Sizes and helpers live in
``benchkit.py`` (a plain module, so ``pytest tests benches`` can share one session).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from benchkit import CACHE, SCALE, SIZES, THREADS, D, cpu_model, gmm, sift, versions, write_memmap


# ---------------------------------------------------------------- thread limits
@pytest.fixture(scope="session", autouse=True)
def limit_threads() -> Iterator[None]:
    """Every library on THREADS threads for the whole session."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=THREADS):
        for name, setter in (
            ("faiss", "omp_set_num_threads"),
            ("cv2", "setNumThreads"),
        ):
            try:
                mod = __import__(name)
            except ImportError:
                continue
            getattr(mod, setter)(THREADS)
        yield


_DATA: dict[tuple[str, int], np.ndarray] = {}


@pytest.fixture(scope="session")
def dataset() -> Callable[[str, int], np.ndarray]:
    """``dataset(kind, n)``: "gmm", "sift" or "dsift" with n rows (SIFT: at most n)."""

    def get(kind: str, n: int) -> np.ndarray:
        key = (kind, n)
        if key not in _DATA:
            if kind == "gmm":
                _DATA[key] = gmm(n)
            elif kind in ("sift", "dsift"):
                _DATA[key] = sift(kind == "dsift", n)
            else:
                raise ValueError(kind)
        return _DATA[key]

    return get


@pytest.fixture(scope="session")
def memmap_file() -> Path:
    """A memory-mapped (n, 128) float32 .npy of Gaussian-mixture rows, written in chunks."""
    n = SIZES.memmap[0]
    path = CACHE / f"memmap_gmm_n{n}_d{D}.npy"
    if not path.exists():
        write_memmap(path, n)
    return path


def pytest_benchmark_update_json(config: Any, benchmarks: Any, output_json: dict[str, Any]) -> None:
    """Add what BENCHMARKS.md needs: the command, scale, threads, CPU and library versions."""
    args = " ".join(config.invocation_params.args)
    mem_gib = None
    try:
        import psutil

        mem_gib = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:
        pass
    output_json["vislang"] = {
        "command": f"VISLANG_BENCH_SCALE={SCALE} {Path(sys.executable).name} -m pytest {args}",
        "scale": SCALE,
        "sizes": asdict(SIZES),
        "threads": THREADS,
        "cpu_model": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "memory_gib": mem_gib,
        "load_avg_at_end": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "versions": versions(),
    }
