"""Nearest-centre assignment, the kernel that k-means and histogramming build on."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from vislang import _core
from vislang._deprecation import keyword_only_options
from vislang._validation import as_float_matrix, threads_from
from vislang.exceptions import InvalidInputError

PRECISIONS = ("auto", "fp32")


def check_precision(precision: Any) -> str:
    """Validate a ``precision`` option ("auto" or "fp32") and return it."""
    if not isinstance(precision, str) or precision not in PRECISIONS:
        raise InvalidInputError(f"precision must be 'auto' or 'fp32', got {precision!r}")
    return precision


@keyword_only_options("0.3")
def assign(
    X: Any, centers: Any, *, k: int = 1, n_jobs: int | None = None, precision: str = "auto"
) -> tuple[NDArray[np.int64], NDArray[np.floating[Any]]]:
    """Find the ``k`` nearest centres of every row of ``X``.

    Options are keyword-only (passing ``k`` or ``n_jobs`` by position still works, with a
    ``DeprecationWarning``, until vislang 0.3).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Points. float32 stays float32; other dtypes become float64. Non-contiguous input is
        copied once (O(n_samples * n_features) memory). Zero rows give empty outputs.
    centers : array-like of shape (n_centers, n_features)
        Centres, cast to the dtype of ``X``.
    k : int, default=1
        Neighbours per row, ``1 <= k <= n_centers``.
    n_jobs : int, default=None
        Threads; None uses all cores (or ``RAYON_NUM_THREADS``).
    precision : {"auto", "fp32"}, default="auto"
        How candidates are found; the result is the same. ``"auto"``: for float32 data on
        CPUs with AVX-512 BF16, approximate distances in bfloat16 with a rigorous error bound,
        re-checking every centre within it exactly (about twice as fast); otherwise, and with
        ``"fp32"``, a GEMM in the data's precision. The environment variable
        ``VISLANG_PRECISION=fp32`` forces ``"fp32"`` everywhere (k-means included).

    Returns
    -------
    indices : ndarray of shape (n_samples, k), int64
        Centre indices, nearest first; equal distances go to the lower index.
    sq_distances : ndarray of shape (n_samples, k)
        Squared Euclidean distances, computed exactly for the chosen centres.

    Raises
    ------
    InvalidInputError
        Wrong ndim or dtype, NaN/inf (naming the row), mismatched features, bad ``k`` or
        ``precision``.

    Examples
    --------
    >>> import numpy as np, vislang
    >>> idx, d2 = vislang.assign(np.array([[0.0], [2.9]]), np.array([[0.0], [3.0]]))
    >>> idx.ravel().tolist(), d2.ravel().round(2).tolist()
    ([0, 1], [0.0, 0.01])
    """
    X = as_float_matrix(X, "X", allow_empty=True)
    C = as_float_matrix(centers, "centers", dtype=X.dtype)
    if X.shape[1] != C.shape[1]:
        raise InvalidInputError(
            f"X has {X.shape[1]} features, but centers have {C.shape[1]} features"
        )
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or not 1 <= k <= C.shape[0]:
        raise InvalidInputError(f"k must be an int in [1, n_centers={C.shape[0]}], got {k!r}")
    check_precision(precision)
    idx, d2 = _core.nearest(X, C, int(k), precision=precision, n_threads=threads_from(n_jobs))
    return idx, d2
