"""The ranking kernel releases the GIL: a pure-Python heartbeat keeps beating during the call."""

from __future__ import annotations

import threading
import time

import numpy as np

from vislang import _core


def test_contrastive_ranking_releases_the_gil() -> None:
    S = np.random.default_rng(0).normal(size=(2500, 2500)).astype(np.float32)
    beats: list[float] = []
    done = threading.Event()
    started = threading.Barrier(2)

    def heartbeat() -> None:
        started.wait()
        while not done.is_set():
            beats.append(time.perf_counter())
            time.sleep(0)

    hb = threading.Thread(target=heartbeat)
    hb.start()
    started.wait()
    t0 = time.perf_counter()
    for _ in range(5):
        _core.contrastive_ranking(S, None, max_violation=False, n_threads=1)
    t1 = time.perf_counter()
    done.set()
    hb.join()
    inside = [b for b in beats if t0 < b < t1]
    # With the GIL held the heartbeat could only run at the 5 call boundaries.
    assert len(inside) > 50, (len(inside), t1 - t0)
