"""Which captions of a batch are true of which images, beyond the caption's own image.

Hinge losses treat every other entry of a batch as a negative. When a caption is also true of
another image in the batch, VSE++'s "hardest negative" is then a true match, and pushing it
away fights the positive (on the shapes world 29% of captions in a batch of 128 are true of
another image). A dataset that knows more supplies a :class:`CaptionPositives`: a callable
``positives(images, captions) -> bool array of shape (len(images), len(captions))`` over
indices of its images and of its flattened captions (the order of
:meth:`~vislang.data.CaptionDataset.pairs`). Models OR it into the same-image mask of each
batch.

- :func:`identical_captions`: real data, where all we know is that two images with the same
  caption (after lower-casing and tokenising) both match it;
- :func:`vislang.data.shapes.scene_positives`: the shapes world, where every caption can be
  checked against every scene (:func:`~vislang.data.shapes.caption_is_true`);
- :func:`caption_positives`: what a :class:`~vislang.data.CaptionDataset` knows (scenes when
  its annotations are shapes scenes, identical captions otherwise).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from vislang.data.base import simple_tokenize
from vislang.exceptions import InvalidInputError

__all__ = ["CaptionPositives", "IdenticalCaptions", "caption_positives", "identical_captions"]


class CaptionPositives(Protocol):
    """``positives(images, captions)[i, j]``: caption ``captions[j]`` is true of image
    ``images[i]`` (both int arrays of indices into the dataset)."""

    def __call__(
        self, images: NDArray[np.int64], captions: NDArray[np.int64]
    ) -> NDArray[np.bool_]: ...


def _check_indices(a: Any, n: int, name: str) -> NDArray[np.int64]:
    arr = np.asarray(a, dtype=np.int64).reshape(-1)
    if arr.size and (arr.min() < 0 or arr.max() >= n):
        raise InvalidInputError(f"{name} must be indices in [0, {n})")
    return arr


class IdenticalCaptions:
    """Caption ``j`` is true of image ``i`` when ``i`` has a caption equal to ``j`` (lower-cased
    tokens), its own image included. See :func:`identical_captions`."""

    def __init__(self, captions: Sequence[str], text_to_image: Any, n_images: int) -> None:
        t2i = np.asarray(text_to_image, dtype=np.int64)
        if t2i.shape != (len(captions),):
            raise InvalidInputError(
                f"text_to_image must have shape ({len(captions)},), got {t2i.shape}"
            )
        keys: dict[str, int] = {}
        self.key = np.array(
            [keys.setdefault(" ".join(simple_tokenize(c)), len(keys)) for c in captions],
            dtype=np.int64,
        )
        self.text_to_image = t2i
        self.n_images = int(n_images)
        # The images of each caption key that is shared by more than one image.
        images_of: dict[int, set[int]] = {}
        for k, i in zip(self.key.tolist(), t2i.tolist(), strict=True):
            images_of.setdefault(k, set()).add(i)
        self.shared = {k: sorted(v) for k, v in images_of.items() if len(v) > 1}

    def __call__(self, images: NDArray[np.int64], captions: NDArray[np.int64]) -> NDArray[np.bool_]:
        imgs = _check_indices(images, self.n_images, "images")
        caps = _check_indices(captions, len(self.key), "captions")
        out = imgs[:, None] == self.text_to_image[caps][None, :]
        if self.shared:
            row = {int(i): r for r, i in enumerate(imgs.tolist())}
            for j, k in enumerate(self.key[caps].tolist()):
                for i in self.shared.get(k, ()):
                    r = row.get(i)
                    if r is not None:
                        out[r, j] = True
        return out

    @property
    def n_shared(self) -> int:
        """Captions whose text some other image has too."""
        return int(sum(np.isin(self.key, list(self.shared)).tolist()))


def identical_captions(
    captions: Sequence[str], text_to_image: Any, n_images: int | None = None
) -> IdenticalCaptions:
    """Positives of real data: identical captions (lower-cased tokens) match each other's images.

    Parameters
    ----------
    captions : sequence of str
        Flattened captions.
    text_to_image : array-like of int of shape (n_captions,)
        The image each caption belongs to.
    n_images : int, optional
        Default ``max(text_to_image) + 1``.

    Examples
    --------
    >>> pos = identical_captions(["A dog runs .", "a cat", "a dog runs"], [0, 1, 2])
    >>> pos(np.array([0, 1, 2]), np.array([0, 1, 2])).astype(int)
    array([[1, 0, 1],
           [0, 1, 0],
           [1, 0, 1]])
    """
    t2i = np.asarray(text_to_image, dtype=np.int64)
    n = int(t2i.max()) + 1 if n_images is None and t2i.size else int(n_images or 0)
    return IdenticalCaptions(captions, t2i, n)


def caption_positives(dataset: Any) -> CaptionPositives:
    """What ``dataset`` (a :class:`~vislang.data.CaptionDataset`) knows about true pairs.

    Shapes-world scenes in ``dataset.annotations`` give exact truth
    (:func:`vislang.data.shapes.scene_positives`); otherwise identical captions.
    """
    from vislang.data.shapes import Scene, scene_positives

    t2i, captions = dataset.pairs()
    ann = getattr(dataset, "annotations", None)
    if ann is not None and len(ann) == len(dataset) and all(isinstance(a, Scene) for a in ann):
        return scene_positives(ann, captions, t2i)
    return identical_captions(captions, t2i, len(dataset))
