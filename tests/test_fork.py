"""Fork guard: a forked child (a torch DataLoader worker) runs parallel kernels without deadlock."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from vislang import _core


def _work(n_threads: int | None) -> np.ndarray:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20_000, 16))  # several row blocks: runs on the pool
    C = np.ascontiguousarray(X[:64])
    idx, _ = _core.nearest(X, C, 1, n_threads=n_threads)
    return idx


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_parallel_call_in_a_forked_child_does_not_deadlock() -> None:
    # The parent starts rayon's global pool and a 2-thread pool of this thread first.
    want = _work(None)
    np.testing.assert_array_equal(_work(2), want)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit status
        code = 1
        try:
            ok = all(np.array_equal(_work(t), want) for t in (None, 2, 1, 2))
            code = 0 if ok and _core.cpu_features()["forked"] else 2
        finally:
            os._exit(code)
    deadline = time.monotonic() + 120
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            pytest.fail("the forked child hung in a parallel native call")
        time.sleep(0.05)
    assert os.waitstatus_to_exitcode(status) == 0
    assert _core.cpu_features()["forked"] is False
