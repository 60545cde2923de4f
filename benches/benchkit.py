"""Benchmark sizes, data generators and measuring helpers (fixtures: ``conftest.py``).

Data is generated (Gaussian mixtures) or computed from images bundled with scikit-image
(SIFT / dense SIFT with OpenCV); nothing is downloaded. Arrays are cached as ``.npy`` under
``$VISLANG_BENCH_CACHE`` (default ``~/.cache/vislang/bench-data``) so reruns skip the set-up.

``VISLANG_BENCH_SCALE`` picks the sizes:

* ``smoke``   - tiny, for CI (``pytest benches --benchmark-disable``), well under a minute;
* ``default`` - fits a 2-core / 24 GiB machine in about 15-20 minutes;
* ``full``    - the sizes of issue 2 section 6 (n = 1M, memory-mapped 10M x 128 file).

Every tool runs on ``VISLANG_BENCH_THREADS`` threads (default 2): threadpoolctl for
NumPy/scikit-learn, ``faiss.omp_set_num_threads``, ``cv2.setNumThreads``,
``torch.set_num_threads`` and ``n_jobs`` for vislang.
"""

from __future__ import annotations

import gc
import os
import platform
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

SCALE = os.environ.get("VISLANG_BENCH_SCALE", "default")
THREADS = int(os.environ.get("VISLANG_BENCH_THREADS", "2"))
CACHE = Path(
    os.environ.get("VISLANG_BENCH_CACHE", Path.home() / ".cache" / "vislang" / "bench-data")
)
D = 128  # descriptor dimension (SIFT)


@dataclass(frozen=True)
class Sizes:
    """Problem sizes of one scale."""

    # (dataset, n, k): dataset is "gmm", "sift" (OpenCV SIFT) or "dsift" (dense SIFT).
    kmeans: tuple[tuple[str, int, int], ...]
    iters: int  # iterations of every full-batch fit (tol = 0), faiss's default is 20
    cv2_iters: dict[int, int]  # OpenCV's iteration cap per k (it has no fast distance kernel)
    batch_size: int  # mini-batch k-means (vislang and scikit-learn)
    seeding: tuple[int, int]  # (n, k) of the k-means++ benchmark
    assign: tuple[tuple[int, int], ...]  # (n, k) of the assignment / SGEMM benchmark
    ttt: tuple[int, int]  # (n, k) of the time-to-target benchmark
    ttt_faiss_iters: int
    ttt_max_iter: int  # cap for the tools chasing faiss's inertia
    memmap: tuple[int, int, int]  # (n, k, batch_size) of the memory-mapped mini-batch fit
    memmap_passes: int
    rounds_fit: int
    rounds_fast: int
    sift_scales: tuple[float, ...]
    sift_rotations: tuple[int, ...]  # multiples of 90 degrees
    dsift_scales: tuple[float, ...]  # dense SIFT has many more points per image: fewer variants
    dsift_step: int
    dsift_sizes: tuple[int, ...]
    images: int  # number of bundled photos used (in the order of IMAGES)


SCALES: dict[str, Sizes] = {
    "smoke": Sizes(
        kmeans=(("gmm", 3_000, 16), ("gmm", 3_000, 64), ("sift", 3_000, 32), ("dsift", 3_000, 32)),
        iters=4,
        cv2_iters={},
        batch_size=512,
        seeding=(3_000, 64),
        assign=((3_000, 64),),
        ttt=(4_000, 32),
        ttt_faiss_iters=5,
        ttt_max_iter=30,
        memmap=(40_000, 32, 1_024),
        memmap_passes=1,
        rounds_fit=1,
        rounds_fast=1,
        sift_scales=(0.5,),
        sift_rotations=(0,),
        dsift_scales=(0.5,),
        dsift_step=16,
        dsift_sizes=(16,),
        images=3,
    ),
    "default": Sizes(
        kmeans=(
            ("gmm", 100_000, 256),
            ("gmm", 100_000, 1024),
            ("sift", 100_000, 256),
            ("dsift", 100_000, 256),
        ),
        iters=20,
        cv2_iters={1024: 5},
        batch_size=4096,
        seeding=(100_000, 1024),
        assign=((100_000, 256), (100_000, 1024)),
        ttt=(200_000, 1024),
        ttt_faiss_iters=20,
        ttt_max_iter=100,
        memmap=(2_000_000, 256, 4096),
        memmap_passes=1,
        rounds_fit=1,
        rounds_fast=5,
        sift_scales=(0.5, 0.75, 1.0, 1.5),
        sift_rotations=(0, 1),
        dsift_scales=(0.5, 1.0),
        dsift_step=8,
        dsift_sizes=(12, 24),
        images=23,
    ),
    "full": Sizes(
        kmeans=(
            ("gmm", 100_000, 256),
            ("gmm", 100_000, 1024),
            ("gmm", 1_000_000, 256),
            ("gmm", 1_000_000, 1024),
            ("sift", 200_000, 1024),
            ("dsift", 200_000, 1024),
        ),
        iters=20,
        cv2_iters={1024: 5},
        batch_size=4096,
        seeding=(100_000, 1024),
        assign=((100_000, 256), (100_000, 1024), (1_000_000, 1024)),
        ttt=(1_000_000, 1024),
        ttt_faiss_iters=20,
        ttt_max_iter=100,
        memmap=(10_000_000, 1024, 4096),
        memmap_passes=1,
        rounds_fit=1,
        rounds_fast=5,
        sift_scales=(0.5, 0.75, 1.0, 1.5, 2.0),
        sift_rotations=(0, 1, 2, 3),
        dsift_scales=(0.5, 1.0, 1.5),
        dsift_step=6,
        dsift_sizes=(8, 16, 24),
        images=23,
    ),
}
if SCALE not in SCALES:
    raise pytest.UsageError(f"VISLANG_BENCH_SCALE must be one of {sorted(SCALES)}, got {SCALE!r}")
SIZES = SCALES[SCALE]

# Photos bundled inside the scikit-image wheel (skimage/data/*), never downloaded.
IMAGES = (
    "astronaut.png",
    "camera.png",
    "coffee.png",
    "chelsea.png",
    "rocket.jpg",
    "ihc.png",
    "brick.png",
    "cell.png",
    "clock_motion.png",
    "coins.png",
    "color.png",
    "grass.png",
    "gravel.png",
    "horse.png",
    "hubble_deep_field.jpg",
    "logo.png",
    "microaneurysms.png",
    "moon.png",
    "motorcycle_left.png",
    "motorcycle_right.png",
    "page.png",
    "retina.jpg",
    "text.png",
)


def human(n: int) -> str:
    """100000 -> '100k', 1000000 -> '1M' (group names)."""
    for div, suffix in ((1_000_000, "M"), (1_000, "k")):
        if n >= div and n % div == 0:
            return f"{n // div}{suffix}"
    return str(n)


def torch_threads() -> Any:
    torch = pytest.importorskip("torch")
    torch.set_num_threads(THREADS)
    return torch


# ---------------------------------------------------------------- memory
def _status() -> dict[str, int]:
    """VmRSS, VmHWM, RssAnon, RssFile of this process in KiB (Linux)."""
    out: dict[str, int] = {}
    try:
        with open("/proc/self/status") as f:
            for line in f:
                key, _, rest = line.partition(":")
                if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                    out[key] = int(rest.split()[0])
    except OSError:
        import psutil

        out["VmRSS"] = psutil.Process().memory_info().rss // 1024
    return out


def _malloc_trim() -> None:
    """Hand freed heap memory back to the OS (glibc), so that memory freed by an earlier
    benchmark and kept by the allocator does not hide this call's allocations from RSS."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


class PeakMemory:
    """Peak memory of the process above the level at entry, in MiB.

    At entry: ``gc.collect()`` and glibc ``malloc_trim(0)``. ``anon_mib``: peak ``RssAnon``
    (anonymous pages: heap, NumPy/Rust buffers; not the page cache of memory-mapped files)
    sampled every ``interval`` s by a thread reading /proc/self/status. ``rss_mib``: peak
    total RSS from the kernel's exact high-water mark ``VmHWM`` after resetting it
    (``echo 5 > /proc/self/clear_refs``), or sampled VmRSS where that reset is not allowed.
    """

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.anon_mib = 0.0
        self.rss_mib = 0.0
        self.method = ""

    def __enter__(self) -> PeakMemory:
        gc.collect()
        _malloc_trim()
        self._hwm_reset = False
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            self._hwm_reset = True
        except OSError:
            pass
        base = _status()
        self._base_anon = base.get("RssAnon", base["VmRSS"])
        self._base_rss = base["VmRSS"]
        self._peak_anon = self._base_anon
        self._peak_rss = self._base_rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _once(self) -> None:
        s = _status()
        self._peak_anon = max(self._peak_anon, s.get("RssAnon", s["VmRSS"]))
        self._peak_rss = max(self._peak_rss, s["VmRSS"])

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self._once()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._once()
        hwm = _status().get("VmHWM") if self._hwm_reset else None
        peak_rss = max(self._peak_rss, hwm) if hwm is not None else self._peak_rss
        self.anon_mib = (self._peak_anon - self._base_anon) / 1024
        self.rss_mib = (peak_rss - self._base_rss) / 1024
        self.method = f"after malloc_trim; RssAnon sampled every {self.interval * 1e3:g} ms; " + (
            "total RSS: VmHWM after clear_refs" if hwm is not None else "total RSS: sampled VmRSS"
        )


# ---------------------------------------------------------------- timing helpers
@dataclass
class Run:
    """What one tool's fit produced; filled by the runners in test_kmeans.py."""

    centers: Any = None
    n_iter: int = 0
    total_s: float = 0.0
    seeding_s: float | None = None
    per_iter_s: float | None = None
    # (seconds since the call, inertia of the centres reached by then) per iteration
    trace: list[tuple[float, float]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    mem: PeakMemory | None = None


def measured(fn: Callable[[], Run]) -> Callable[[], Run]:
    """Wrap a runner: wall time and peak memory of the whole call."""

    def call() -> Run:
        with PeakMemory() as mem:
            t0 = time.perf_counter()
            run = fn()
            run.total_s = time.perf_counter() - t0
        run.mem = mem
        return run

    return call


class LineClock:
    """A stdout stand-in that timestamps each line written (scikit-learn's ``verbose``).

    ``stop_when(line)`` may raise to end the fit early (time-to-target).
    """

    def __init__(self, stop_when: Callable[[str, float], None] | None = None) -> None:
        self.t0 = time.perf_counter()
        self.lines: list[tuple[float, str]] = []
        self._buf = ""
        self._stop_when = stop_when

    def write(self, s: str) -> int:
        self._buf += s
        while "\n" in self._buf:
            line, self._buf = self._buf.split("\n", 1)
            t = time.perf_counter() - self.t0
            self.lines.append((t, line))
            if self._stop_when is not None:
                self._stop_when(line, t)
        return len(s)

    def flush(self) -> None:
        pass

    def sklearn_trace(self) -> tuple[float | None, list[tuple[float, float]]]:
        """(seeding seconds, [(time, inertia of iteration i's centres)]) from KMeans(verbose=1)."""
        seeded = None
        trace = []
        for t, line in self.lines:
            if line.startswith("Initialization complete") and seeded is None:
                seeded = t
            m = re.match(r"Iteration (\d+), inertia ([-+0-9.eE]+)", line)
            if m:
                trace.append((t, float(m.group(2).rstrip("."))))
        return seeded, trace


# ---------------------------------------------------------------- inertia
def inertia(X: np.ndarray, centers: np.ndarray) -> float:
    """Sum of squared distances of X to the nearest of ``centers`` (the same for every tool):
    float32 distances from ``vislang.assign``, summed in float64, in chunks."""
    import vislang

    C = np.ascontiguousarray(centers, dtype=np.float32)
    total = 0.0
    for s in range(0, X.shape[0], 262_144):
        chunk = np.ascontiguousarray(X[s : s + 262_144], dtype=np.float32)
        _, d2 = vislang.assign(chunk, C, k=1, n_jobs=THREADS)
        total += float(d2.sum(dtype=np.float64))
    return total


# ---------------------------------------------------------------- datasets
def _cached(name: str, make: Callable[[], np.ndarray]) -> np.ndarray:
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"{name}.npy"
    if path.exists():
        try:
            return np.load(path)
        except (OSError, ValueError):
            path.unlink()
    arr = make()
    tmp = path.with_suffix(f".tmp{os.getpid()}.npy")
    np.save(tmp, arr)
    tmp.replace(path)
    return arr


def gmm_chunks(n: int, seed: int, chunk: int = 500_000) -> Iterator[np.ndarray]:
    """Rows of a Gaussian mixture (1000 components, d = 128, overlapping clusters), float32.

    Means ~ N(0, I), per-component isotropic scale in [0.5, 1.5], uniform weights.
    """
    rng = np.random.default_rng(seed)
    m = 1000
    means = rng.standard_normal((m, D), dtype=np.float32)
    scales = rng.uniform(0.5, 1.5, m).astype(np.float32)
    for start in range(0, n, chunk):
        rows = min(chunk, n - start)
        z = rng.integers(0, m, rows)
        noise = rng.standard_normal((rows, D), dtype=np.float32)
        yield means[z] + noise * scales[z, None]


def gmm(n: int, seed: int = 0) -> np.ndarray:
    return _cached(f"gmm_n{n}_d{D}_s{seed}", lambda: np.concatenate(list(gmm_chunks(n, seed))))


def _photos() -> list[np.ndarray]:
    cv2 = pytest.importorskip("cv2")
    skdata = pytest.importorskip("skimage.data")
    out = []
    for name in IMAGES[: SIZES.images]:
        path = Path(skdata.data_dir) / name
        if not path.exists():
            continue
        img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if img is not None:
            out.append(img)
    if not out:
        pytest.skip("no scikit-image photos found")
    return out


def _variants(img: np.ndarray, dense: bool) -> Iterator[np.ndarray]:
    """Sparse SIFT: every scale x rotation; dense SIFT (a grid, so many more points per image):
    its own scales, no rotations."""
    import cv2

    scales = SIZES.dsift_scales if dense else SIZES.sift_scales
    rotations = (0,) if dense else SIZES.sift_rotations
    for s in scales:
        im = img if s == 1.0 else cv2.resize(img, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        for r in rotations:
            yield im if r == 0 else np.ascontiguousarray(np.rot90(im, r))


def _sift_all(dense: bool) -> np.ndarray:
    import cv2

    sift = cv2.SIFT_create()
    descs = []
    for img in _photos():
        for im in _variants(img, dense):
            if dense:
                h, w = im.shape
                st = SIZES.dsift_step
                kps = [
                    cv2.KeyPoint(float(x), float(y), float(size))
                    for size in SIZES.dsift_sizes
                    for y in range(size // 2, h - size // 2, st)
                    for x in range(size // 2, w - size // 2, st)
                ]
                if not kps:
                    continue
                _, d = sift.compute(im, kps)
            else:
                _, d = sift.detectAndCompute(im, None)
            if d is not None:
                descs.append(d.astype(np.float32))
    return np.concatenate(descs)


def _sift_key(dense: bool) -> str:
    s = SIZES
    if dense:
        sc, sz = "-".join(map(str, s.dsift_scales)), "-".join(map(str, s.dsift_sizes))
        return f"dsift_n{s.images}_sc{sc}_st{s.dsift_step}_sz{sz}"
    sc, rot = "-".join(map(str, s.sift_scales)), "".join(map(str, s.sift_rotations))
    return f"sift_n{s.images}_sc{sc}_r{rot}"


def sift(dense: bool, n_max: int) -> np.ndarray:
    """OpenCV SIFT (or dense SIFT on a grid) of the bundled photos at several scales and
    rotations; a seeded random subset of ``n_max`` rows (all if fewer)."""
    X = _cached(_sift_key(dense), lambda: _sift_all(dense))
    if X.shape[0] > n_max:
        idx = np.sort(np.random.default_rng(0).choice(X.shape[0], n_max, replace=False))
        X = X[idx]
    return np.ascontiguousarray(X)


# ---------------------------------------------------------------- report metadata
def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in ("vislang", "numpy", "sklearn", "faiss", "cv2", "torch", "threadpoolctl"):
        try:
            mod = __import__(name)
            out[name] = str(getattr(mod, "__version__", "?"))
        except ImportError:
            pass
    return out


def write_memmap(path: Path, n: int) -> None:
    """Write an (n, 128) float32 .npy of Gaussian-mixture rows in chunks (never all in RAM)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}.npy")
    out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(n, D))
    start = 0
    for chunk in gmm_chunks(n, seed=1):
        out[start : start + len(chunk)] = chunk
        start += len(chunk)
    out.flush()
    del out
    tmp.replace(path)
