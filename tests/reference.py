"""Plain NumPy oracles for the vislang kernels (slow, obvious, float64 throughout).

Each function states the contract that the fast implementation must meet; the property tests
compare against these on small inputs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray


def sq_distances(X: NDArray[Any], C: NDArray[Any]) -> NDArray[np.float64]:
    """All squared Euclidean distances, ``(n, k)``, as ``sum((x - c) ** 2)`` in float64."""
    diff = X.astype(np.float64)[:, None, :] - C.astype(np.float64)[None, :, :]
    return np.einsum("nkd,nkd->nk", diff, diff)


def k_nearest(
    X: NDArray[Any], C: NDArray[Any], k: int = 1
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Brute-force ``k`` nearest centres: nearest first, equal distances to the lower index."""
    D = sq_distances(X, C)
    idx = np.argsort(D, axis=1, kind="stable")[:, :k].astype(np.int64)
    return idx, np.take_along_axis(D, idx, axis=1)


def inertia(X: NDArray[Any], C: NDArray[Any], sample_weight: NDArray[Any] | None = None) -> float:
    """Weighted sum of squared distances of each row to its nearest centre."""
    d = sq_distances(X, C).min(axis=1)
    w = np.ones(len(X)) if sample_weight is None else sample_weight.astype(np.float64)
    return float(d @ w)


def lloyd_step(
    X: NDArray[Any], C: NDArray[Any], sample_weight: NDArray[Any] | None = None
) -> NDArray[Any]:
    """One Lloyd update of centres ``C`` (same dtype as ``X``), as scikit-learn defines it.

    1. each row goes to its nearest centre (ties to the lower index);
    2. a cluster left without weight takes the row farthest from its own centre (farthest first,
       ties to the lower row index; one row per empty cluster, empty clusters in index order),
       and that row leaves its old cluster;
    3. each centre with positive weight becomes the weighted mean of its rows (computed in
       float64, then rounded to the dtype); a centre whose cluster ends up weightless stays put.
    """
    n, k = len(X), len(C)
    w = np.ones(n) if sample_weight is None else sample_weight.astype(np.float64)
    D = sq_distances(X, C)
    labels = np.argmin(D, axis=1)  # first minimum: ties to the lower index
    d2 = D[np.arange(n), labels]
    X64 = X.astype(np.float64)
    sums = np.zeros((k, X.shape[1]))
    wsum = np.zeros(k)
    for i in range(n):
        sums[labels[i]] += w[i] * X64[i]
        wsum[labels[i]] += w[i]
    empty = [j for j in range(k) if wsum[j] <= 0]
    if empty:
        order = sorted(range(n), key=lambda i: (-d2[i], i))[: len(empty)]
        for e, p in zip(empty, order, strict=False):
            old = labels[p]
            sums[old] -= w[p] * X64[p]
            wsum[old] = max(wsum[old] - w[p], 0.0)
            we = w[p] if w[p] > 0 else 1.0
            sums[e] = we * X64[p]
            wsum[e] = we
            labels[p] = e
    out = C.astype(np.float64).copy()
    nz = wsum > 0
    out[nz] = sums[nz] / wsum[nz, None]
    return out.astype(X.dtype)


def minibatch_step(
    batch: NDArray[Any],
    C: NDArray[Any],
    counts: NDArray[np.float64],
    sample_weight: NDArray[Any] | None = None,
) -> tuple[NDArray[Any], NDArray[np.float64]]:
    """One mini-batch k-means step (Sculley 2010, per batch as in scikit-learn).

    Each centre is the running weighted mean of every row ever assigned to it:
    ``c_j <- (v_j c_j + S_j) / (v_j + W_j)`` and ``v_j <- v_j + W_j``, with ``S_j``, ``W_j`` the
    batch's weighted sum and weight for centre ``j`` (rows go to their nearest centre before the
    update; centres without batch weight do not move).
    """
    w = np.ones(len(batch)) if sample_weight is None else sample_weight.astype(np.float64)
    labels = k_nearest(batch, C)[0][:, 0]
    out = C.astype(np.float64).copy()
    new_counts = counts.astype(np.float64).copy()
    for j in range(len(C)):
        m = labels == j
        W = w[m].sum()
        if W <= 0:
            continue
        S = (w[m, None] * batch[m].astype(np.float64)).sum(axis=0)
        out[j] = (out[j] * new_counts[j] + S) / (new_counts[j] + W)
        new_counts[j] += W
    return out.astype(C.dtype), new_counts
