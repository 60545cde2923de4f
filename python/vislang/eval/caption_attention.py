"""Attention you can see and measure: the per-word heat-map strip of Show, Attend and Tell
(:func:`plot_attention`) and attention correctness on the shapes world
(:func:`attention_correctness`): the attention mass inside the mask of the object a word names,
against the object's area fraction (what uniform attention would put there)."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vislang.data.shapes import BACKGROUND, COLOURS, SHAPES, Scene, ShapesWorld
from vislang.eval._figures import finish_figure
from vislang.exceptions import InvalidInputError

__all__ = ["AttentionCorrectness", "attention_correctness", "pixel_attention", "plot_attention"]


def pixel_attention(alphas: Any, image_shape: tuple[int, int]) -> NDArray[np.float64]:
    """Maps (T, L) over a square grid as pixel maps (T, H, W) with the same sums: each
    location's weight is spread evenly over the pixels of its cell."""
    a = np.asarray(alphas, dtype=np.float64)
    if a.ndim != 2:
        raise InvalidInputError(f"alphas must have shape (n_words, n_locations), got {a.shape}")
    side = math.isqrt(a.shape[1])
    if side * side != a.shape[1]:
        raise InvalidInputError(f"alphas: {a.shape[1]} locations is not a square grid")
    h, w = image_shape
    rows = (np.arange(h) * side) // h
    cols = (np.arange(w) * side) // w
    grid = a.reshape(-1, side, side)[:, rows][:, :, cols]
    cells = np.bincount(rows, minlength=side)[:, None] * np.bincount(cols, minlength=side)[None, :]
    out: NDArray[np.float64] = grid / cells[rows][:, cols]
    return out


def plot_attention(
    image: Any,
    caption: str | Sequence[str],
    alphas: Any,
    path: str | os.PathLike[str] | None = None,
    *,
    cell_inches: float = 1.4,
) -> Any:
    """The paper's figure: the image, then one panel per word with its attention map over the
    image. ``alphas`` is (n_words [+ 1 for <end>], L) from ``model.caption(...,
    return_attention=True)``. Saves a PNG when ``path`` is given (returns the path), otherwise
    returns the matplotlib figure."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    img = np.asarray(image)
    if img.ndim != 3 or img.shape[-1] != 3:
        raise InvalidInputError(f"image must have shape (H, W, 3), got {img.shape}")
    words = caption.split() if isinstance(caption, str) else list(caption)
    a = np.asarray(alphas, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] < len(words):
        raise InvalidInputError(
            f"alphas must have one row per word ({len(words)}), got shape {a.shape}"
        )
    if a.shape[0] > len(words):
        words = [*words, "<end>"][: a.shape[0]]
    maps = pixel_attention(a[: len(words)], img.shape[:2])
    n = len(words) + 1
    fig, axes = plt.subplots(1, n, figsize=(cell_inches * n, cell_inches * 1.2))
    axes = np.atleast_1d(axes)
    axes[0].imshow(img)
    axes[0].set_title("image", fontsize=8)
    for ax, word, m in zip(axes[1:], words, maps, strict=True):
        # The paper's look: the image lit where the word attends, dimmed elsewhere.
        light = 0.2 + 0.8 * (m / max(float(m.max()), 1e-12))[..., None]
        ax.imshow((img.astype(np.float64) * light).clip(0, 255).astype(np.uint8))
        ax.set_title(word, fontsize=8)
    for ax in axes:
        ax.axis("off")
    fig.tight_layout()
    return finish_figure(fig, path)


@dataclass
class AttentionCorrectness:
    """Mean attention mass inside the named object's mask over the evaluated words, and the
    mean area fraction of those masks (uniform attention's mass)."""

    mass: float
    area: float
    n_words: int

    @property
    def ratio(self) -> float:
        """mass / area: 1 = no better than uniform attention."""
        return self.mass / self.area if self.area > 0 else math.nan

    def __str__(self) -> str:
        looks = "looks at" if self.mass > self.area else "does NOT look at"
        return (
            f"attention mass in the named object {self.mass:.3f} vs its area fraction "
            f"{self.area:.3f} ({self.ratio:.2f}x uniform, {self.n_words} words): the model "
            f"{looks} the object it names"
        )


def _object_mask(world: ShapesWorld, scene: Scene, k: int) -> NDArray[np.bool_]:
    single = Scene((scene.objects[k],), scene.image_size)
    img = world.render([single])[0]
    mask: NDArray[np.bool_] = np.any(img != np.asarray(BACKGROUND, dtype=np.uint8), axis=-1)
    return mask


def attention_correctness(
    captions: Sequence[str], alphas: Sequence[Any], scenes: Sequence[Scene]
) -> AttentionCorrectness:
    """Attention correctness of generated shapes-world captions.

    For each colour or shape word of a caption that names a ``colour shape`` pair present
    exactly once in the scene (the colour word looks at the next word, the shape word at the
    previous one), the attention mass of that word's step inside the object's pixel mask is
    compared with the mask's area fraction.
    """
    if not (len(captions) == len(alphas) == len(scenes)):
        raise InvalidInputError("captions, alphas and scenes must have the same length")
    masses: list[float] = []
    areas: list[float] = []
    worlds: dict[int, ShapesWorld] = {}
    for cap, a, scene in zip(captions, alphas, scenes, strict=True):
        if a is None:
            raise InvalidInputError("alphas: None (a model without attention)")
        words = cap.split()
        size = scene.image_size
        world = worlds.setdefault(size, ShapesWorld(image_size=size))
        maps = None
        for t, w in enumerate(words):
            if w in COLOURS and t + 1 < len(words) and words[t + 1] in SHAPES:
                pair = (w, words[t + 1])
            elif w in SHAPES and t > 0 and words[t - 1] in COLOURS:
                pair = (words[t - 1], w)
            else:
                continue
            hits = [k for k, o in enumerate(scene.objects) if (o.colour, o.shape) == pair]
            if len(hits) != 1 or t >= len(a):
                continue
            if maps is None:
                maps = pixel_attention(a, (size, size))
            mask = _object_mask(world, scene, hits[0])
            masses.append(float(maps[t][mask].sum()))
            areas.append(float(mask.mean()))
    if not masses:
        return AttentionCorrectness(math.nan, math.nan, 0)
    return AttentionCorrectness(float(np.mean(masses)), float(np.mean(areas)), len(masses))
