"""``draw_visual_words``: show what a visual word looks like (the patches nearest to its centre)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from vislang.bovw.encoding import _centers
from vislang.exceptions import InvalidInputError
from vislang.features.descriptor_set import DescriptorSet
from vislang.vocab.assignment import assign

__all__ = ["draw_visual_words", "word_patches"]

# The SIFT descriptor window is 4 bins of 3 sigma = 6 x KeyPoint.size pixels wide (OpenCV
# KeyPoint.size = 2 sigma); DenseSIFT uses size = 2 s / 3 for bins of s pixels: 4 s wide.
_WINDOW_PER_SIZE = 6.0


def _crop(image: NDArray[Any], x: float, y: float, side: float, out: int) -> NDArray[Any]:
    """A ``side`` x ``side`` window centred at ``(x, y)``, resampled (nearest) to ``out`` pixels;
    pixels outside the image are black."""
    h, w = image.shape[:2]
    t = (np.arange(out) + 0.5) / out - 0.5
    ys = np.floor(y + t * side).astype(np.int64)
    xs = np.floor(x + t * side).astype(np.int64)
    valid = ((ys >= 0) & (ys < h))[:, None] & ((xs >= 0) & (xs < w))[None, :]
    patch: NDArray[Any] = image[np.clip(ys, 0, h - 1)][:, np.clip(xs, 0, w - 1)]
    mask = valid if patch.ndim == 2 else valid[..., None]
    return np.where(mask, patch, np.zeros_like(patch))


def word_patches(
    images: Any,
    vocabulary: Any,
    words: Any = None,
    n_patches: int = 9,
    *,
    extractor: Any = None,
    descriptor_set: DescriptorSet | None = None,
    patch_size: int = 32,
) -> tuple[NDArray[np.int64], NDArray[Any]]:
    """The image patches of the descriptors nearest to the given word centres.

    Parameters are those of :func:`draw_visual_words`.

    Returns
    -------
    words : ndarray of shape (n_shown,), int64
    patches : ndarray of shape (n_shown, n_patches, patch_size, patch_size[, 3])
        Nearest first. Patch pixels take the images' dtype (RGB images give RGB patches).
    """
    from vislang.features import DenseSIFT, load_image
    from vislang.features.images import as_image_list

    items = as_image_list(images)
    if descriptor_set is None:
        extractor = DenseSIFT() if extractor is None else extractor
        descriptor_set = extractor.transform(items)
    ds = descriptor_set
    if ds.n_images != len(items):
        raise InvalidInputError(
            f"descriptor_set has {ds.n_images} images, but {len(items)} images were given"
        )
    if ds.keypoints is None:
        raise InvalidInputError("draw_visual_words needs keypoints in the descriptor set")
    if not isinstance(n_patches, (int, np.integer)) or not 1 <= n_patches <= ds.n_descriptors:
        raise InvalidInputError(
            f"n_patches must be an int in [1, n_descriptors={ds.n_descriptors}], got {n_patches!r}"
        )
    C = _centers(vocabulary)
    X = np.ascontiguousarray(ds.descriptors, dtype=np.float32)
    if words is None:
        # The most frequent words of these images, most frequent first.
        nearest, _ = assign(X, C, k=1)
        counts = np.bincount(nearest[:, 0], minlength=C.shape[0])
        words = np.argsort(-counts, kind="stable")[: min(8, C.shape[0])]
    words = np.atleast_1d(np.asarray(words, dtype=np.int64))
    if words.ndim != 1 or words.size == 0 or words.min() < 0 or words.max() >= C.shape[0]:
        raise InvalidInputError(
            f"words must be indices in [0, n_words={C.shape[0]}), got {words.tolist()}"
        )
    # Descriptors nearest to each centre: the centres are the queries, descriptors the "centres".
    rows, _ = assign(np.ascontiguousarray(C[words]), X, k=int(n_patches))
    image_of = ds.image_ids
    max_side = getattr(extractor, "max_side", None)
    loaded: dict[int, NDArray[Any]] = {}
    out = []
    for r in rows.ravel():
        i = int(image_of[r])
        if i not in loaded:
            loaded[i] = load_image(items[i], "rgb", max_side, name=f"image {i}")
        img = loaded[i]
        x, y, size = (float(v) for v in ds.keypoints[r])
        p = _crop(img, x, y, max(size * _WINDOW_PER_SIZE, 1.0), patch_size)
        out.append(p)
    patches = np.stack(out).reshape(len(words), int(n_patches), *out[0].shape)
    return words, patches


def draw_visual_words(
    images: Any,
    vocabulary: Any,
    words: Any = None,
    n_patches: int = 9,
    *,
    extractor: Any = None,
    descriptor_set: DescriptorSet | None = None,
    patch_size: int = 32,
) -> Any:
    """Draw visual words as image grids: for each word, the patches nearest to its centre.

    Parameters
    ----------
    images : sequence of images
        The images the descriptors come from (paths, arrays, PIL images).
    vocabulary : VisualVocabulary or array-like of shape (n_words, n_dims)
    words : sequence of int, default=None
        Words to draw; None: the 8 most frequent words in ``images``.
    n_patches : int, default=9
        Patches per word (one row of the figure each).
    extractor : transformer, default=None
        Extractor for ``images`` when ``descriptor_set`` is not given (default ``DenseSIFT()``);
        its ``max_side`` is applied when loading the images again.
    descriptor_set : DescriptorSet, default=None
        Descriptors (with keypoints) already extracted from ``images`` with ``extractor``.
    patch_size : int, default=32
        Side of each drawn patch in pixels; the window is ``6 x`` the keypoint size (the
        SIFT descriptor support).

    Returns
    -------
    matplotlib.figure.Figure
        One row per word, ``n_patches`` columns, nearest first.

    Examples
    --------
    >>> import numpy as np
    >>> from vislang.bovw import draw_visual_words
    >>> from vislang.features import DenseSIFT
    >>> imgs = list(np.random.default_rng(0).integers(0, 255, (2, 32, 32), dtype=np.uint8))
    >>> ext = DenseSIFT(step=8, sizes=(4,))
    >>> centers = ext.transform(imgs).descriptors[:3]
    >>> fig = draw_visual_words(imgs, centers, n_patches=4, extractor=ext)
    >>> len(fig.axes)
    12
    """
    from matplotlib.figure import Figure

    shown, patches = word_patches(
        images,
        vocabulary,
        words,
        n_patches,
        extractor=extractor,
        descriptor_set=descriptor_set,
        patch_size=patch_size,
    )
    n_rows, n_cols = patches.shape[:2]
    fig = Figure(figsize=(1.1 * n_cols + 0.8, 1.1 * n_rows))
    axes = fig.subplots(n_rows, n_cols, squeeze=False)
    for r in range(n_rows):
        for c in range(n_cols):
            ax = axes[r, c]
            p = patches[r, c]
            ax.imshow(p, cmap="gray" if p.ndim == 2 else None, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(f"word {int(shown[r])}", fontsize=8)
    fig.tight_layout()
    return fig
