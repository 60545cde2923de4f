"""The native kernels release the GIL: Python threads run while they compute.

Timestamps taken around a call cannot show this on their own (a thread may stamp its start and
then wait for the GIL), so the evidence is taken from inside: a pure-Python heartbeat thread
must keep beating while ``assign`` runs, and the per-iteration callbacks of two concurrent
fits (which take the GIL back for each call) must interleave.

The calls use the default pool (``n_jobs=None``): calls with the same explicit ``n_jobs`` share
one cached pool of that size and may queue behind each other there.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np

import vislang
from vislang import _core


def _run_with_heartbeat(jobs: list[Any]) -> tuple[list[tuple[float, float]], np.ndarray]:
    """Run ``jobs`` in threads released together by a barrier, with a heartbeat thread."""
    barrier = threading.Barrier(len(jobs) + 1)
    windows: list[tuple[float, float]] = [(0.0, 0.0)] * len(jobs)
    beats: list[float] = []
    done = threading.Event()
    errors: list[BaseException] = []

    def worker(i: int, job: Any) -> None:
        try:
            barrier.wait()
            t0 = time.perf_counter()
            job()
            windows[i] = (t0, time.perf_counter())
        except BaseException as e:  # surfaced below
            errors.append(e)

    def heartbeat() -> None:
        barrier.wait()
        while not done.is_set():
            beats.append(time.perf_counter())

    threads = [threading.Thread(target=worker, args=(i, j)) for i, j in enumerate(jobs)]
    hb = threading.Thread(target=heartbeat)
    for t in [*threads, hb]:
        t.start()
    for t in threads:
        t.join()
    done.set()
    hb.join()
    assert not errors, errors
    return windows, np.array(beats)


def test_assign_releases_the_gil() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40_000, 64)).astype(np.float32)
    C = rng.normal(size=(512, 64)).astype(np.float32)

    def job() -> None:
        vislang.assign(X, C, k=1)

    windows, beats = _run_with_heartbeat([job, job])
    (a0, a1), (b0, b1) = windows
    # The two calls overlap in time ...
    assert max(a0, b0) < min(a1, b1), windows
    # ... and the pure-Python heartbeat kept running while they computed: had a call held
    # the GIL, the heartbeat would show a gap as long as the call.
    start, end = min(a0, b0), max(a1, b1)
    inside = beats[(beats > start) & (beats < end)]
    assert len(inside) > 100
    gaps = np.diff(np.concatenate([[start], inside, [end]]))
    assert gaps.max() < 0.5 * (end - start), (gaps.max(), end - start)


def test_two_fits_run_concurrently() -> None:
    rng = np.random.default_rng(1)
    data = [rng.normal(size=(8_000, 32)) for _ in range(2)]
    stamps: list[list[float]] = [[], []]

    def fit(i: int) -> Any:
        def job() -> None:
            _core.kmeans_fit(
                data[i],
                64,
                init="random",
                max_iter=25,
                tol=0.0,
                seed=i,
                algorithm="lloyd",
                callback=lambda *info: stamps[i].append(time.perf_counter()),
            )

        return job

    _run_with_heartbeat([fit(0), fit(1)])
    assert all(len(s) >= 5 for s in stamps), [len(s) for s in stamps]
    # Each callback runs between two native iterations. With the GIL held during the
    # iterations, one fit's callbacks would all come before the other's first one.
    first = [s[0] for s in stamps]
    last = [s[-1] for s in stamps]
    assert max(first) < min(last), (first, last)


def test_estimator_fit_in_threads_matches_serial(blobs_factory) -> None:
    X = blobs_factory(3000, 8, 5, seed=9)
    serial = [vislang.VisualVocabulary(5, random_state=s).fit(X).cluster_centers_ for s in (0, 1)]
    results: list[Any] = [None, None]

    def job(s: int) -> None:
        results[s] = vislang.VisualVocabulary(5, random_state=s).fit(X).cluster_centers_

    threads = [threading.Thread(target=job, args=(s,)) for s in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got, want in zip(results, serial, strict=True):
        np.testing.assert_array_equal(got, want)
