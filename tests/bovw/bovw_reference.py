"""Plain NumPy oracle of ``vislang.encode``: a per-image, per-descriptor loop in float64.

It states the contract of the Rust kernel (``vislang-core/src/histogram.rs``):

- neighbours: the ``k`` nearest words by squared Euclidean distance, ties to the lower index;
- hard: one vote for the nearest word; soft: ``exp(-(d_j^2 - d_0^2) / (2 sigma^2))`` over the
  ``k`` nearest words, normalised to sum 1 (sigma default: the median positive nearest distance over
  all descriptors, 1 if none); VLAD: residual ``x - c`` added to the nearest word's block;
- pyramid: cell ``(floor(y g / h), floor(x g / w))`` clamped to the grid, level weights of
  Lazebnik et al. 2006 (Eq. 3);
- VLAD intra-normalisation per (cell, word) block, then idf weights, then the norm.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray


def level_weights(n_levels: int) -> list[float]:
    big_l = n_levels - 1
    return [0.5**big_l if lev == 0 else 0.5 ** (big_l - lev + 1) for lev in range(n_levels)]


def cell_of(v: float, g: int, size: int) -> int:
    if size <= 0 or g == 1:
        return 0
    return int(min(max(np.floor(np.float64(v) * g / size), 0), g - 1))


def neighbours(x: NDArray[Any], C: NDArray[Any], k: int) -> tuple[NDArray[Any], NDArray[Any]]:
    D = ((C.astype(np.float64) - x.astype(np.float64)) ** 2).sum(axis=1)
    order = np.argsort(D, kind="stable")[:k]
    return order, D[order]


def default_sigma(descs: list[NDArray[Any]], C: NDArray[Any]) -> float:
    d0 = [np.sqrt(neighbours(x, C, 1)[1][0]) for ds in descs for x in ds]
    positive = [v for v in d0 if v > 0]
    return float(np.median(positive)) if positive else 1.0


def apply_norm(R: NDArray[np.float64], norm: str | None) -> NDArray[np.float64]:
    R = R.copy()
    if norm == "power":
        R = np.sign(R) * np.sqrt(np.abs(R))
    for row in R:
        if norm == "l1":
            s = np.abs(row).sum()
        elif norm in ("l2", "power"):
            s = np.sqrt((row**2).sum())
        else:
            s = 0.0
        if s > 0:
            row /= s
    return R


def encode(
    descs: list[NDArray[Any]],
    C: NDArray[Any],
    *,
    encoding: str = "hard",
    k: int = 5,
    sigma: float | None = None,
    pyramid: tuple[int, ...] = (1,),
    keypoints: list[NDArray[Any]] | None = None,
    image_sizes: NDArray[Any] | None = None,
    weighting: str | None = None,
    norm: str | None = "l2",
    intra_norm: bool = False,
) -> tuple[NDArray[np.float64], NDArray[np.float64] | None]:
    """Encodings (n_images, n_columns) and the learned idf (or None)."""
    n_words, d = C.shape
    per_cell = n_words * d if encoding == "vlad" else n_words
    n_cells = sum(g * g for g in pyramid)
    lw = level_weights(len(pyramid))
    if encoding == "soft" and sigma is None:
        sigma = default_sigma(descs, C)
    rows = []
    for i, ds in enumerate(descs):
        row = np.zeros(per_cell * n_cells)
        for j, x in enumerate(ds):
            nn, d2 = neighbours(x, C, k if encoding == "soft" else 1)
            base = 0
            for lev, g in enumerate(pyramid):
                cell = 0
                if g > 1:
                    assert keypoints is not None and image_sizes is not None
                    h, w = image_sizes[i]
                    kx, ky = keypoints[i][j, 0], keypoints[i][j, 1]
                    cell = cell_of(ky, g, h) * g + cell_of(kx, g, w)
                off = (base + cell) * per_cell
                if encoding == "hard":
                    row[off + nn[0]] += lw[lev]
                elif encoding == "soft":
                    assert sigma is not None
                    wts = np.exp(-(d2 - d2[0]) / (2.0 * sigma * sigma))
                    wts /= wts.sum()
                    row[off + nn] += lw[lev] * wts
                else:
                    start = off + nn[0] * d
                    row[start : start + d] += lw[lev] * (x - C[nn[0]])
                base += g * g
        rows.append(row)
    R = np.array(rows, dtype=np.float64).reshape(len(descs), per_cell * n_cells)
    if intra_norm:
        blocks = R.reshape(len(descs), R.shape[1] // d, d)
        nrm = np.sqrt((blocks**2).sum(axis=2, keepdims=True))
        R = np.where(nrm > 0, blocks / np.where(nrm > 0, nrm, 1), blocks).reshape(R.shape)
    idf = None
    if weighting == "tfidf" and len(descs):
        # df counts positive entries of the float32 output (weights below float32's range
        # round to 0 there).
        df = (R.astype(np.float32) > 0).sum(axis=0)
        idf = np.log(len(descs) / np.maximum(df, 1))
        R = R.astype(np.float32).astype(np.float64) * idf
    return apply_norm(R, norm), idf
