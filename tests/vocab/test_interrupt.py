"""Ctrl-C and progress during k-means++ seeding (issue 11).

A behaviour test, not a benchmark: SIGINT is sent from a timer thread while the seeding runs
(seconds even on two idle cores) and the call must stop within a generous bound.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any

import numpy as np
import pytest

import vislang
from vislang import _core

N, D, K = 200_000, 64, 4_000  # about 5 s of seeding on two idle cores
DELAY, BOUND = 1.0, 5.0


@pytest.fixture(scope="module")
def X() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(N, D)).astype(np.float32)


def _interrupt_after(delay: float) -> tuple[threading.Timer, list[float]]:
    sent: list[float] = []

    def fire() -> None:
        sent.append(time.perf_counter())
        os.kill(os.getpid(), signal.SIGINT)

    timer = threading.Timer(delay, fire)
    timer.start()
    return timer, sent


@pytest.mark.slow
@pytest.mark.parametrize("n_threads", [None, 1])
def test_ctrl_c_stops_native_seeding_between_passes(X: np.ndarray, n_threads: int | None) -> None:
    # An explicit thread count runs the seeding in its own pool: Ctrl-C must work there too.
    progress: list[int] = []
    timer, sent = _interrupt_after(DELAY)
    try:
        with pytest.raises(KeyboardInterrupt):
            _core.kmeans_plus_plus(X, K, seed=0, n_threads=n_threads, callback=progress.append)
    finally:
        timer.cancel()
    stopped = time.perf_counter()
    assert sent, "the seeding ended before the signal: make the case larger"
    assert stopped - sent[0] < BOUND
    # Interrupted inside the seeding, which had reported its progress until then.
    assert progress and progress[-1] < K
    assert progress == sorted(progress)


@pytest.mark.slow
@pytest.mark.parametrize("n_jobs", [None, 2])
def test_ctrl_c_stops_fit_during_full_data_seeding(X: np.ndarray, n_jobs: int | None) -> None:
    vocab = vislang.VisualVocabulary(K, init_size="all", max_iter=2, random_state=0, n_jobs=n_jobs)
    timer, sent = _interrupt_after(DELAY)
    try:
        with pytest.raises(KeyboardInterrupt):
            vocab.fit(X)
    finally:
        timer.cancel()
    assert sent and time.perf_counter() - sent[0] < BOUND
    assert not hasattr(vocab, "cluster_centers_")


def test_seeding_reports_progress_up_to_k() -> None:
    X = np.random.default_rng(1).normal(size=(3000, 8))
    calls: list[int] = []
    rows = _core.kmeans_plus_plus(X, 64, seed=3, callback=calls.append)
    assert calls[-1] == 64 and calls == sorted(calls) and len(calls) > 1
    # The callback does not change the seeds.
    np.testing.assert_array_equal(rows, _core.kmeans_plus_plus(X, 64, seed=3))


def test_an_exception_in_the_progress_callback_stops_seeding() -> None:
    X = np.random.default_rng(1).normal(size=(3000, 8))

    def stop(m: int) -> None:
        if m >= 10:
            raise ValueError(f"stop at {m}")

    with pytest.raises(ValueError, match="stop at"):
        _core.kmeans_plus_plus(X, 64, callback=stop)


def test_verbose_fit_shows_a_seeding_stage(capsys: Any) -> None:
    X = np.random.default_rng(2).normal(size=(2000, 4)).astype(np.float32)
    vislang.VisualVocabulary(16, verbose=True, random_state=0).fit(X)
    assert "k-means++ seeding" in capsys.readouterr().err


@pytest.mark.parametrize("n_threads", [None, 2])
def test_ctrl_c_stops_iterations_whatever_the_thread_count(n_threads: int | None) -> None:
    # The signal arrives at iteration 2; with an explicit thread count the native callback runs
    # on a pool thread, which cannot handle signals: the calling thread must check them.
    X = np.random.default_rng(4).normal(size=(4000, 16)).astype(np.float32)
    seen: list[int] = []

    def callback(run: int, it: int, inertia: float, shift: float, n_full: int) -> None:
        seen.append(it)
        if it == 2:
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(KeyboardInterrupt):
        _core.kmeans_fit(
            X, 64, init="random", max_iter=300, tol=0.0, n_threads=n_threads, callback=callback
        )
    assert max(seen) <= 3
