"""Hypothesis strategies for the vocabulary kernels.

Values are small integers times a power of two, so that every squared distance (and the GEMM
expansion ``||x||^2 - 2 x.c + ||c||^2`` used by the Rust kernels) is exact in float32 and
float64: ties are real ties and results can be compared bit for bit. Shapes cover one sample,
duplicate rows, ``k == n`` and extreme (but exactly representable) magnitudes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import hypothesis.strategies as st
import numpy as np
from hypothesis.extra import numpy as hnp
from numpy.typing import NDArray

FLOATS = (np.float32, np.float64)
# Integer entries in [-VALUE, VALUE] with d <= MAX_FEATURES keep squared norms < 2**11.
VALUE = 4
MAX_FEATURES = 6
# Power-of-two scales that keep all squares normal numbers (float32: 2**-126 .. 2**127).
EXPONENTS = {np.float32: (-24, 24), np.float64: (-200, 200)}

dtypes = st.sampled_from(FLOATS)


def scales(dtype: Any) -> st.SearchStrategy[float]:
    """1.0 most of the time, otherwise an extreme power of two (exact scaling)."""
    lo, hi = EXPONENTS[dtype]
    return st.one_of(st.just(1.0), st.integers(lo, hi).map(lambda e: 2.0**e))


@st.composite
def int_matrix(
    draw: st.DrawFn,
    dtype: Any,
    n_rows: int,
    n_features: int,
    *,
    scale: float = 1.0,
    duplicates: bool = True,
) -> NDArray[Any]:
    """An ``(n_rows, n_features)`` integer-valued matrix, possibly with repeated rows."""
    a = draw(hnp.arrays(np.int8, (n_rows, n_features), elements=st.integers(-VALUE, VALUE))).astype(
        dtype
    )
    if duplicates and n_rows > 1 and draw(st.booleans()):
        # Copy some rows over others: duplicate points (and duplicate centres) make ties.
        src = draw(st.lists(st.integers(0, n_rows - 1), min_size=1, max_size=n_rows))
        for i, s in enumerate(src):
            a[(i * 7 + 1) % n_rows] = a[s]
    return (a * dtype(scale)).astype(dtype)


@dataclass
class AssignCase:
    X: NDArray[Any]
    centers: NDArray[Any]
    k: int


@st.composite
def assign_cases(draw: st.DrawFn, dtype: Any | None = None) -> AssignCase:
    """X (zero, one or many rows) and centres of one dtype, with ``1 <= k <= n_centers``."""
    dtype = draw(dtypes) if dtype is None else dtype
    d = draw(st.integers(1, MAX_FEATURES))
    n = draw(st.sampled_from([0, 1, 2]) | st.integers(1, 300))
    n_centers = draw(st.integers(1, 40))
    scale = draw(scales(dtype))
    X = draw(int_matrix(dtype, n, d, scale=scale))
    C = draw(int_matrix(dtype, n_centers, d, scale=scale))
    k = draw(st.integers(1, n_centers))
    return AssignCase(X, C, k)


@dataclass
class FitCase:
    X: NDArray[Any]
    init: NDArray[Any]
    n_clusters: int


@st.composite
def fit_cases(
    draw: st.DrawFn, dtype: Any | None = None, *, max_rows: int = 60, extreme: bool = True
) -> FitCase:
    """Data and explicit initial centres (``1 <= k <= n``, ``k == n`` included).

    Initial centres are rows of X or arbitrary points, possibly repeated, so that empty
    clusters and relocation happen.
    """
    dtype = draw(dtypes) if dtype is None else dtype
    d = draw(st.integers(1, MAX_FEATURES))
    n = draw(st.just(1) | st.integers(1, max_rows))
    k = draw(st.sampled_from([1, n]) | st.integers(1, min(n, 8)))
    scale = draw(scales(dtype)) if extreme else 1.0
    X = draw(int_matrix(dtype, n, d, scale=scale))
    if draw(st.booleans()):
        rows = draw(st.lists(st.integers(0, n - 1), min_size=k, max_size=k))
        init = X[rows].copy()
    else:
        init = draw(int_matrix(dtype, k, d, scale=scale))
    return FitCase(X, np.ascontiguousarray(init), k)


@st.composite
def blobs(
    draw: st.DrawFn, dtype: Any | None = None, *, max_rows: int = 200
) -> tuple[NDArray[Any], int, int]:
    """Real-valued Gaussian blobs ``(X, n_clusters, seed)`` for whole fits."""
    dtype = draw(dtypes) if dtype is None else dtype
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    n = draw(st.integers(10, max_rows))
    d = draw(st.integers(1, 8))
    n_blobs = draw(st.integers(1, 6))
    k = draw(st.integers(1, min(n, 10)))
    means = rng.normal(scale=5.0, size=(n_blobs, d))
    X = means[rng.integers(0, n_blobs, n)] + rng.normal(size=(n, d))
    return np.ascontiguousarray(X, dtype=dtype), k, seed


@st.composite
def non_finite(draw: st.DrawFn, dtype: Any | None = None) -> tuple[NDArray[Any], int]:
    """A finite matrix with NaN, +inf or -inf planted in some rows; returns (X, first bad row)."""
    dtype = draw(dtypes) if dtype is None else dtype
    n = draw(st.integers(1, 50))
    d = draw(st.integers(1, MAX_FEATURES))
    X = draw(int_matrix(dtype, n, d, duplicates=False))
    bad_rows = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=3, unique=True))
    for r in bad_rows:
        c = draw(st.integers(0, d - 1))
        X[r, c] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    return X, min(bad_rows)


# Power-of-two scales over the whole exponent range (entries up to 4 stay finite), overflowing
# squared distances included.
HUGE_EXPONENTS = {np.float32: (-60, 125), np.float64: (-500, 1021)}


def huge_scales(dtype: Any) -> st.SearchStrategy[float]:
    """Exact scales from tiny to near the dtype's largest value (squares may overflow)."""
    lo, hi = HUGE_EXPONENTS[dtype]
    edge = st.sampled_from([hi, hi - 1, hi // 2, hi // 2 - 2, hi // 2 + 1, lo])
    return st.one_of(st.integers(lo, hi), edge).map(lambda e: 2.0**e)
