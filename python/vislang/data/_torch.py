"""``torch.utils.data.Dataset`` views of the vislang dataset types (imports PyTorch).

Kept in their own module so that ``import vislang.data`` stays torch-free and the view classes
are picklable (DataLoader workers started with ``spawn``).
"""

# ruff: noqa: E402 (the optional-dependency check runs before the imports it guards)
from __future__ import annotations

from vislang._deps import require

require("torch", "vislang.data.as_torch")

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch.utils.data import Dataset

from vislang.data.base import ImageLoadError

if TYPE_CHECKING:
    from vislang.data.base import CaptionDataset, TaggedImages, _ImageCollection


def _to_tensor(img: NDArray[np.uint8]) -> torch.Tensor:
    """(h, w, 3) uint8 -> (3, h, w) float32 in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1))).float().div_(255.0)


def _load(
    data: _ImageCollection, index: int, transform: Callable[[Any], Any] | None
) -> tuple[int, Any]:
    """Load image ``index``; in ``"skip"`` mode fall forward to the next decodable image."""
    n = len(data)
    for step in range(n):
        i = (index + step) % n
        try:
            if transform is None:
                return i, _to_tensor(data.load_image(i))
            return i, transform(data.load_pil(i))
        except ImageLoadError as exc:
            if data.on_error == "raise":
                raise
            data.skipped.append((data.image_name(i), str(exc)))
    raise ImageLoadError(f"no image of {n} could be decoded")


class CaptionTorchDataset(Dataset[tuple[Any, Any, int]]):
    """Items ``(image, captions, index)`` per image, or ``(image, caption, index)`` per caption."""

    def __init__(
        self,
        data: CaptionDataset,
        transform: Callable[[Any], Any] | None,
        tokenizer: Callable[[str], Any] | None,
        pairs: bool,
    ) -> None:
        self.data = data
        self.transform = transform
        self.tokenizer = tokenizer
        self.pairs = pairs
        self._pair_image: NDArray[np.int64] | None = None
        self._pair_text: list[str] = []
        if pairs:
            self._pair_image, self._pair_text = data.pairs()

    def __len__(self) -> int:
        return len(self._pair_text) if self.pairs else len(self.data)

    def _tok(self, caption: str) -> Any:
        return caption if self.tokenizer is None else self.tokenizer(caption)

    def __getitem__(self, index: int) -> tuple[Any, Any, int]:
        if self.pairs:
            assert self._pair_image is not None
            i = int(self._pair_image[index])
            j, image = _load(self.data, i, self.transform)
            # A skipped image's caption would describe the wrong picture: take one of its own.
            caption = self._pair_text[index] if j == i else self.data.captions[j][0]
            return image, self._tok(caption), j
        j, image = _load(self.data, index, self.transform)
        return image, [self._tok(c) for c in self.data.captions[j]], j


class TaggedTorchDataset(Dataset[tuple[Any, Any]]):
    """Items ``(image, target)`` with the target a label, a tag list or a multi-hot vector."""

    def __init__(
        self,
        data: TaggedImages,
        transform: Callable[[Any], Any] | None,
        tokenizer: Callable[[list[str]], Any] | None,
        target: str,
    ) -> None:
        self.data = data
        self.transform = transform
        self.tokenizer = tokenizer
        self.target = target
        self._multi_hot = data.multi_hot() if target == "multi_hot" else None

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        j, image = _load(self.data, index, self.transform)
        if self.target == "label":
            assert self.data.labels is not None
            return image, int(self.data.labels[j])
        if self.target == "multi_hot":
            assert self._multi_hot is not None
            return image, torch.from_numpy(self._multi_hot[j])
        tags = list(self.data.tags[j])
        return image, tags if self.tokenizer is None else self.tokenizer(tags)
