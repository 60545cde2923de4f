"""Training batches of caption strings for the alignment models (DT-RNN, BRNN alignment):
each image once, its captions as text (the models tokenise or parse them), and the (U, B)
positives mask that keeps other captions of the same image out of the negatives."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from vislang.exceptions import InvalidInputError
from vislang.models.base import CaptionPairs, _rows
from vislang.models.vse import VSE

__all__ = ["caption_batches"]


def caption_batches(
    data: Any, batch_size: int, generator: torch.Generator, owner: str
) -> Iterator[dict[str, Any]]:
    """Shuffled batches ``{"images": (U, ...), "captions": [str] * B, "positives": (U, B)}``."""
    if not isinstance(data, CaptionPairs):
        raise InvalidInputError(f"{owner} trains on CaptionPairs, got {type(data).__name__}")
    order = torch.randperm(len(data.captions), generator=generator).numpy()
    for start in range(0, len(order), batch_size):
        sel = order[start : start + batch_size]
        img_idx = data.text_to_image[sel]
        uniq, inverse = np.unique(img_idx, return_inverse=True)
        mask = VSE._batch_positives(data, uniq, inverse, sel)
        yield {
            "images": _images(data.images, uniq),
            "captions": [data.captions[int(j)] for j in sel],
            "positives": torch.from_numpy(mask),
        }


def _images(images: Any, idx: Any) -> torch.Tensor:
    if isinstance(images, torch.Tensor):
        return images[torch.from_numpy(idx)].float()
    arr = np.asarray(images)
    if arr.ndim == 2 or arr.ndim == 4:
        return _rows(images, idx)
    return torch.from_numpy(np.ascontiguousarray(arr[idx], dtype=np.float32))
