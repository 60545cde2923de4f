"""Input checks shared by the public API: dtypes, shapes, seeds and thread counts."""

from __future__ import annotations

import numbers
import os
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vislang.exceptions import InvalidInputError

FLOAT_DTYPES = (np.float32, np.float64)


def as_float_matrix(
    a: Any, name: str, *, dtype: Any = None, allow_empty: bool = False
) -> NDArray[np.floating[Any]]:
    """Return ``a`` as a C-contiguous 2-D float32/float64 array.

    float32 and float64 keep their dtype (unless ``dtype`` is given); other numeric dtypes become
    float64. A copy is made only when the input is not already C-contiguous in that dtype.
    """
    if hasattr(a, "toarray") or hasattr(a, "tocsr"):
        raise InvalidInputError(f"{name} must be a dense array, got a sparse matrix")
    arr = np.asarray(a)
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise InvalidInputError(f"{name} must hold numbers, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise InvalidInputError(f"{name} must be real, got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise InvalidInputError(
            f"{name} must be 2-D (n_samples, n_features), got shape {arr.shape}"
        )
    if dtype is not None:
        target = dtype
    else:
        target = arr.dtype if arr.dtype in FLOAT_DTYPES else np.float64
    arr = np.ascontiguousarray(arr, dtype=target)
    if not allow_empty and (arr.shape[0] == 0 or arr.shape[1] == 0):
        raise InvalidInputError(f"{name} must be non-empty, got shape {arr.shape}")
    return arr


def finite_sum(a: NDArray[Any]) -> bool:
    """Quick test that ``a`` is all finite (False may also mean an overflowing sum)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return bool(np.isfinite(a.sum()))


def check_finite_rows(a: NDArray[Any], name: str, row_offset: int = 0) -> None:
    """Raise naming the first row of ``a`` (plus ``row_offset``) that holds NaN or inf."""
    if a.size and not finite_sum(a):
        bad = ~np.isfinite(a).all(axis=1)
        if bad.any():
            row = row_offset + int(np.argmax(bad))
            raise InvalidInputError(f"{name} contains NaN or inf at row {row}")


def seed_from(random_state: Any) -> int:
    """A 64-bit seed from ``random_state``: None, an int, a RandomState or a Generator.

    None draws from NumPy's global RandomState, as scikit-learn does.
    """
    if random_state is None:
        return int(np.random.mtrand._rand.randint(0, 2**63 - 1, dtype=np.int64))
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        return int(random_state) % 2**64
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, 2**63 - 1, dtype=np.int64))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**63 - 1))
    raise InvalidInputError(
        f"random_state must be None, an int, a RandomState or a Generator, got {random_state!r}"
    )


def threads_from(n_jobs: int | None) -> int | None:
    """Thread count for the native pool from scikit-learn style ``n_jobs``."""
    if n_jobs is None:
        return None
    if not isinstance(n_jobs, numbers.Integral) or isinstance(n_jobs, bool) or n_jobs == 0:
        raise InvalidInputError(f"n_jobs must be None, -1 or a positive int, got {n_jobs!r}")
    if n_jobs < 0:
        return max(1, (os.cpu_count() or 1) + 1 + int(n_jobs))
    return int(n_jobs)
