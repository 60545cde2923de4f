"""Shared test configuration: hypothesis profiles and small data fixtures.

Hypothesis profiles (``HYPOTHESIS_PROFILE``): ``ci`` (default, ~30 examples per property),
``dev`` (10, for quick local runs) and ``thorough`` (1000). No deadline: timing on a shared
2-core machine is noisy.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from numpy.typing import NDArray

settings.register_profile(
    "ci",
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("dev", max_examples=10, deadline=None)
settings.register_profile(
    "thorough",
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def make_blobs(
    n: int = 300, d: int = 8, n_blobs: int = 4, *, dtype: Any = np.float64, seed: int = 0
) -> NDArray[Any]:
    """Well separated Gaussian blobs, C-contiguous, of the given dtype."""
    rng = np.random.default_rng(seed)
    means = rng.normal(scale=10.0, size=(n_blobs, d))
    X = means[rng.integers(0, n_blobs, n)] + rng.normal(size=(n, d))
    return np.ascontiguousarray(X, dtype=dtype)


@pytest.fixture
def blobs64() -> NDArray[np.float64]:
    return make_blobs()


@pytest.fixture
def blobs32() -> NDArray[np.float32]:
    return make_blobs(dtype=np.float32)


@pytest.fixture
def blobs_factory() -> Any:
    """``make_blobs(n, d, n_blobs, dtype=..., seed=...)`` for tests that need other sizes."""
    return make_blobs
