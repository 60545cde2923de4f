"""Retrieval grid: each query caption with its top-k images, the correct ones outlined."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vislang._deps import require
from vislang.eval._figures import finish_figure
from vislang.exceptions import InvalidInputError

__all__ = ["plot_retrieval_grid"]


def _centre_square(img: NDArray[np.uint8]) -> NDArray[np.uint8]:
    h, w = img.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    return img[top : top + side, left : left + side]


def plot_retrieval_grid(
    queries: Sequence[str],
    ranked: Any,
    load_image: Callable[[int], NDArray[np.uint8]],
    correct: Any,
    path: str | os.PathLike[str],
    *,
    scores: Any = None,
    thumb_inches: float = 1.6,
) -> Path:
    """Save a PNG grid: one row per query caption, its top-k images left to right.

    Parameters
    ----------
    queries : sequence of str
        The query captions (row titles).
    ranked : int array of shape (n_queries, k)
        Gallery indices, best first (e.g. from :func:`vislang.eval.topk_search`).
    load_image : callable
        ``index -> uint8 (H, W, 3)`` (``dataset.load_image``).
    correct : array of shape (n_queries,) or (n_queries, k)
        The correct gallery index of each query, or a bool mask of correct results; correct
        images get a thick green frame, others a thin grey one.
    path : path
        The PNG to write.
    scores : array of shape (n_queries, k), optional
        Shown under each image.

    Returns
    -------
    Path
    """
    require("matplotlib", "plot_retrieval_grid")
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    ranked = np.asarray(ranked)
    if ranked.ndim != 2 or ranked.shape[0] != len(queries) or ranked.size == 0:
        raise InvalidInputError(
            f"ranked must have shape ({len(queries)}, k) with k >= 1, got {ranked.shape}"
        )
    correct = np.asarray(correct)
    if correct.shape == (len(queries),):
        hit = ranked == correct[:, None]
    elif correct.shape == ranked.shape:
        hit = correct.astype(bool)
    else:
        raise InvalidInputError(
            f"correct must have shape ({len(queries)},) or {ranked.shape}, got {correct.shape}"
        )
    n, k = ranked.shape
    fig, axes = plt.subplots(
        n, k, figsize=(thumb_inches * k, thumb_inches * n + 0.5 * n), squeeze=False
    )
    for r in range(n):
        for c in range(k):
            ax = axes[r, c]
            ax.imshow(_centre_square(load_image(int(ranked[r, c]))))
            ax.set_xticks([])
            ax.set_yticks([])
            good = bool(hit[r, c])
            for spine in ax.spines.values():
                spine.set_edgecolor("#1a9850" if good else "#bbbbbb")
                spine.set_linewidth(5 if good else 1)
            if scores is not None:
                ax.set_xlabel(f"{float(np.asarray(scores)[r, c]):.3f}", fontsize=7)
        title = "\n".join(textwrap.wrap(queries[r], width=18 * k))
        axes[r, 0].set_title(title, loc="left", fontsize=8)
    fig.tight_layout()
    out: Path = finish_figure(fig, path, dpi=80)
    return out
