"""Refuse inputs whose squared distances overflow their dtype (issue 11).

Every distance kernel computes ``|x - c|^2`` (directly or as ``|x|^2 + |c|^2 - 2 x.c``) with all
terms bounded by ``4 R^2``, ``R`` the largest row norm. The Rust core checks the same bound for
k-means (``kmeans::check_distance_scale``); this is the NumPy twin for the other kernels.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from vislang.exceptions import InvalidInputError

_CHUNK = 65536


def _max_sq_norm(a: NDArray[Any]) -> float:
    out = 0.0
    with np.errstate(over="ignore"):
        for s in range(0, a.shape[0], _CHUNK):
            block = a[s : s + _CHUNK].astype(np.float64)
            out = max(out, float(np.einsum("ij,ij->i", block, block).max(initial=0.0)))
    return out


def check_distance_scale(name: str, *arrays: NDArray[Any]) -> None:
    """Raise ``InvalidInputError`` when squared distances between rows of the 2-D ``arrays``
    (one dtype) could overflow it. NaN/inf are left to the callers' own checks."""
    arrays = tuple(a for a in arrays if a.size)
    if not arrays:
        return
    dtype = arrays[0].dtype
    limit = 0.2 * float(np.finfo(dtype).max)
    amax = 0.0
    for a in arrays:
        m = max(float(a.max()), -float(a.min()))
        if not np.isfinite(m):
            return
        amax = max(amax, m)
    width = max(a.shape[1] for a in arrays)
    # Fast path: no row norm can come near the limit.
    if amax * amax * width <= limit or max(_max_sq_norm(a) for a in arrays) <= limit:
        return
    raise InvalidInputError(
        f"{name} has values up to {amax:.1e}: squared distances overflow {dtype}; rescale "
        f"{name} and the centers (e.g. divide them by the largest absolute value)"
    )
