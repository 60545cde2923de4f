"""Evaluating word-region alignment (Karpathy & Fei-Fei 2015) and score-matrix retrieval.

- :func:`score_retrieval_metrics`: R@K, median / mean rank both ways and rsum from a full
  (n_images, n_texts) score matrix (for models whose score is not one dot product per pair,
  such as the BRNN alignment model's ``sum_t max_i v_i^T s_t``), with the keys of
  :func:`vislang.eval.retrieval_metrics`.
- :func:`alignment_correctness`: on the shapes world, is each colour or shape word's
  top-scoring grid cell on the object it names? Against chance: the object's share of the
  cells.
- :func:`plot_alignment`: the paper's figure, word-coloured heat maps over the image.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vislang.data.shapes import COLOURS, SHAPES, Scene, ShapesWorld
from vislang.eval._figures import finish_figure
from vislang.eval.caption_attention import _object_mask
from vislang.eval.retrieval import recall_at_k
from vislang.exceptions import InvalidInputError

__all__ = [
    "AlignmentCorrectness",
    "alignment_correctness",
    "plot_alignment",
    "score_retrieval_metrics",
]


def score_retrieval_metrics(
    scores: Any, text_to_image: Any, *, ks: tuple[int, ...] = (1, 5, 10)
) -> dict[str, float]:
    """Retrieval metrics from ``scores[i, j]`` = score of image ``i`` with text ``j``.

    Image -> text: the rank of the image's best-scored own caption among all texts;
    text -> image: the rank of the text's image among all images (1-based, ties count
    against the query). Keys as :func:`vislang.eval.retrieval_metrics`: ``i2t_r1``, ...,
    ``i2t_medr``, ``i2t_meanr``, ``t2i_*`` and ``rsum``.
    """
    s = np.asarray(scores, dtype=np.float64)
    t2i = np.asarray(text_to_image, dtype=np.int64)
    if s.ndim != 2 or s.shape[1] != t2i.shape[0] or s.size == 0:
        raise InvalidInputError(f"scores must have shape (n_images, {t2i.shape[0]}), got {s.shape}")
    if not np.isfinite(s).all():
        raise InvalidInputError("scores contain NaN or inf")
    if ((t2i < 0) | (t2i >= s.shape[0])).any():
        raise InvalidInputError(f"text_to_image must index the {s.shape[0]} images")
    true_t = s[t2i, np.arange(s.shape[1])]  # (n_texts,)
    t_ranks = (s >= true_t[None, :]).sum(axis=0)
    own = t2i[None, :] == np.arange(s.shape[0])[:, None]
    best = np.where(own, s, -np.inf).max(axis=1)  # (n_images,)
    has = own.any(axis=1)
    i_ranks = (s[has] >= best[has, None]).sum(axis=1)
    out: dict[str, float] = {}
    for prefix, ranks in (("i2t", i_ranks), ("t2i", t_ranks)):
        for k in ks:
            out[f"{prefix}_r{k}"] = recall_at_k(ranks, k)
        out[f"{prefix}_medr"] = float(np.floor(np.median(ranks)))
        out[f"{prefix}_meanr"] = float(np.mean(ranks))
    out["rsum"] = float(sum(out[f"{p}_r{k}"] for p in ("i2t", "t2i") for k in ks))
    return out


@dataclass
class AlignmentCorrectness:
    """Share of evaluated colour/shape words whose top cell lies on the named object
    (``hit_rate``), the mean share of cells on the object (``chance``), the number of words
    evaluated, and the share of words whose overall top region was the whole image."""

    hit_rate: float
    chance: float
    n_words: int
    global_share: float = 0.0

    def as_dict(self) -> dict[str, float]:
        return {
            "hit_rate": self.hit_rate,
            "chance": self.chance,
            "n_words": float(self.n_words),
            "global_share": self.global_share,
        }

    def __str__(self) -> str:
        return (
            f"alignment: {100 * self.hit_rate:.1f}% of {self.n_words} colour/shape words put "
            f"their top cell on the named object (chance {100 * self.chance:.1f}%)"
        )


def _cells_on(mask: NDArray[np.bool_], grid: tuple[int, int]) -> NDArray[np.bool_]:
    """(rows * cols,) whether each grid cell holds a pixel of ``mask``."""
    h, w = mask.shape
    rows = (np.arange(h) * grid[0]) // h
    cols = (np.arange(w) * grid[1]) // w
    out = np.zeros(grid, dtype=bool)
    ys, xs = np.nonzero(mask)
    out[rows[ys], cols[xs]] = True
    return out.reshape(-1)


def alignment_correctness(
    words: Sequence[Sequence[str]],
    scores: Sequence[Any],
    scenes: Sequence[Scene],
    grid: tuple[int, int],
) -> AlignmentCorrectness:
    """Alignment correctness on the shapes world.

    For each colour or shape word naming a ``colour shape`` pair present exactly once in the
    scene (the colour word looks at the next word, the shape word at the previous one; the
    rule of :func:`~vislang.eval.attention_correctness`), its top-scoring grid cell (the whole
    image region, if any, is left out: it contains every object) is a hit when the cell holds a
    pixel of the object. ``chance`` is the mean share of cells holding a pixel of the object.

    Parameters
    ----------
    words : token lists, one per caption
    scores : per caption an array (n_words, n_regions) with ``n_regions >= rows * cols``
        (cells row-major first, as ``BRNNAlign.align`` returns)
    scenes : the :class:`~vislang.data.shapes.Scene` of each caption's image
    grid : (rows, cols) of the cells
    """
    if not (len(words) == len(scores) == len(scenes)):
        raise InvalidInputError("words, scores and scenes must have the same length")
    n_cells = grid[0] * grid[1]
    hits: list[float] = []
    chances: list[float] = []
    n_global = 0
    worlds: dict[int, ShapesWorld] = {}
    for toks, sc, scene in zip(words, scores, scenes, strict=True):
        s = np.asarray(sc, dtype=np.float64)
        if s.ndim != 2 or s.shape[1] < n_cells or s.shape[0] < len(toks):
            raise InvalidInputError(
                f"scores must have shape ({len(toks)}, >= {n_cells}), got {s.shape}"
            )
        world = worlds.setdefault(scene.image_size, ShapesWorld(image_size=scene.image_size))
        for t, w in enumerate(toks):
            if w in COLOURS and t + 1 < len(toks) and toks[t + 1] in SHAPES:
                pair = (w, toks[t + 1])
            elif w in SHAPES and t > 0 and toks[t - 1] in COLOURS:
                pair = (toks[t - 1], w)
            else:
                continue
            found = [k for k, o in enumerate(scene.objects) if (o.colour, o.shape) == pair]
            if len(found) != 1:
                continue
            on = _cells_on(_object_mask(world, scene, found[0]), grid)
            top = int(np.argmax(s[t, :n_cells]))
            hits.append(float(on[top]))
            chances.append(float(on.mean()))
            n_global += int(s.shape[1] > n_cells and int(np.argmax(s[t])) >= n_cells)
    if not hits:
        return AlignmentCorrectness(math.nan, math.nan, 0)
    return AlignmentCorrectness(
        float(np.mean(hits)), float(np.mean(chances)), len(hits), n_global / len(hits)
    )


def plot_alignment(
    image: Any,
    words: Sequence[str],
    scores: Any,
    grid: tuple[int, int],
    path: str | os.PathLike[str] | None = None,
    *,
    skip: Sequence[str] = ("a", "an", "the", "is", "of", "and", "there", "to"),
    cell_inches: float = 1.6,
) -> Any:
    """The paper's figure: the image with each content word's best cell outlined in the
    word's colour, then one panel per word with its positive scores as a heat map in that
    colour over the image. Words with no positive score are drawn grey ("no region").
    Saves a PNG when ``path`` is given (returns the path), else returns the figure."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    img = np.asarray(image)
    if img.ndim != 3 or img.shape[-1] != 3:
        raise InvalidInputError(f"image must have shape (H, W, 3), got {img.shape}")
    s = np.asarray(scores, dtype=np.float64)
    n_cells = grid[0] * grid[1]
    if s.ndim != 2 or s.shape[0] < len(words) or s.shape[1] < n_cells:
        raise InvalidInputError(f"scores must have shape ({len(words)}, >= {n_cells})")
    keep = [t for t, w in enumerate(words) if w not in skip] or list(range(len(words)))
    colours = plt.get_cmap("tab10")
    h, w = img.shape[:2]
    ch, cw = h / grid[0], w / grid[1]
    fig, axes = plt.subplots(
        1, len(keep) + 1, figsize=(cell_inches * (len(keep) + 1), cell_inches * 1.25)
    )
    axes = np.atleast_1d(axes)
    axes[0].imshow(img)
    axes[0].set_title(" ".join(words), fontsize=6)
    for n, t in enumerate(keep):
        rgb = np.asarray(colours(n % 10)[:3])
        cells = s[t, :n_cells].reshape(grid)
        pos = np.clip(cells, 0, None)
        ax = axes[n + 1]
        if pos.max() <= 0:
            ax.imshow((img * 0.35).astype(np.uint8))
            ax.set_title(f"{words[t]} (no region)", fontsize=7, color="grey")
            continue
        r, c = divmod(int(np.argmax(cells)), grid[1])
        axes[0].add_patch(
            Rectangle((c * cw, r * ch), cw, ch, fill=False, edgecolor=rgb, linewidth=2)
        )
        axes[0].text(c * cw + 1, r * ch + 6, words[t], color=rgb, fontsize=6)
        heat = np.kron((pos / pos.max()) ** 2, np.ones((math.ceil(ch), math.ceil(cw))))[:h, :w]
        blend = img.astype(np.float64) * (1 - 0.6 * heat[..., None]) + 255 * rgb * (
            0.6 * heat[..., None]
        )
        ax.imshow(blend.clip(0, 255).astype(np.uint8))
        ax.set_title(words[t], fontsize=7, color=rgb)
    for ax in axes:
        ax.axis("off")
    fig.tight_layout()
    return finish_figure(fig, path)
