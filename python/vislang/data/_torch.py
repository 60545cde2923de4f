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

from vislang.exceptions import ImageLoadError

if TYPE_CHECKING:
    from vislang.data.base import CaptionDataset, TaggedImages, _ImageCollection


def _to_tensor(img: NDArray[np.uint8]) -> torch.Tensor:
    """(h, w, 3) uint8 -> (3, h, w) float32 in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1))).float().div_(255.0)


def _load(
    data: _ImageCollection,
    index: int,
    transform: Callable[[Any], Any] | None,
    skipped: list[tuple[str, str]],
) -> tuple[int, Any]:
    """Load image ``index``; in ``"skip"`` mode fall forward to the next decodable image,
    appending ``(name, reason)`` of each image passed over to ``skipped``."""
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
            skipped.append((data.image_name(i), str(exc)))
    raise ImageLoadError(f"no image of {n} could be decoded")


class _SkipReporting:
    """Where the images skipped while loading an item go.

    ``report_skipped=False``: into ``data.skipped`` of the process that loads the item. That is
    the caller's dataset only with ``num_workers=0``; a DataLoader worker has its own copy,
    so a worker warns instead (the parent never sees its list).
    ``report_skipped=True``: as one more item field, a string of ``name<TAB>reason`` lines
    (empty when nothing was skipped), which the default collate turns into a list per batch;
    the parent passes that list to :meth:`record_skipped`.
    """

    data: Any  # the dataset of the view (CaptionDataset or TaggedImages)
    report_skipped: bool

    def _finish(self, skipped: list[tuple[str, str]]) -> str:
        if self.report_skipped:
            return "\n".join(f"{name}\t{reason}" for name, reason in skipped)
        if skipped:
            if torch.utils.data.get_worker_info() is not None:
                import warnings

                for name, reason in skipped:
                    warnings.warn(
                        f"skipping image {name} in a DataLoader worker ({reason}); pass "
                        "as_torch(report_skipped=True) to collect skips from the batches",
                        UserWarning,
                        stacklevel=2,
                    )
            self.data.skipped.extend(skipped)
        return ""

    def record_skipped(self, reports: Any) -> list[tuple[str, str]]:
        """Add the skips reported by a batch (its last field, with ``report_skipped=True``) to
        ``data.skipped`` of this process; returns the ``(name, reason)`` pairs added.

        Examples
        --------
        >>> loader = DataLoader(view, batch_size=32, num_workers=4)  # doctest: +SKIP
        >>> for images, captions, index, skipped in loader:  # doctest: +SKIP
        ...     view.record_skipped(skipped)
        """
        if isinstance(reports, str):
            reports = [reports]
        added: list[tuple[str, str]] = []
        for report in reports:
            for line in str(report).splitlines():
                name, _, reason = line.partition("\t")
                added.append((name, reason))
        self.data.skipped.extend(added)
        return added


class CaptionTorchDataset(_SkipReporting, Dataset[tuple[Any, ...]]):
    """Items ``(image, captions, index)`` per image, or ``(image, caption, index)`` per caption;
    with ``report_skipped=True`` one more field, the images skipped for this item (see
    :class:`_SkipReporting`)."""

    def __init__(
        self,
        data: CaptionDataset,
        transform: Callable[[Any], Any] | None,
        tokenizer: Callable[[str], Any] | None,
        pairs: bool,
        report_skipped: bool = False,
    ) -> None:
        self.data = data
        self.report_skipped = report_skipped
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

    def __getitem__(self, index: int) -> tuple[Any, ...]:
        skipped: list[tuple[str, str]] = []
        item: tuple[Any, ...]
        if self.pairs:
            assert self._pair_image is not None
            i = int(self._pair_image[index])
            j, image = _load(self.data, i, self.transform, skipped)
            # A skipped image's caption would describe the wrong picture: take one of its own.
            caption = self._pair_text[index] if j == i else self.data.captions[j][0]
            item = (image, self._tok(caption), j)
        else:
            j, image = _load(self.data, index, self.transform, skipped)
            item = (image, [self._tok(c) for c in self.data.captions[j]], j)
        report = self._finish(skipped)
        return (*item, report) if self.report_skipped else item


class TaggedTorchDataset(_SkipReporting, Dataset[tuple[Any, ...]]):
    """Items ``(image, target)`` with the target a label, a tag list or a multi-hot vector;
    with ``report_skipped=True`` one more field, the images skipped for this item."""

    def __init__(
        self,
        data: TaggedImages,
        transform: Callable[[Any], Any] | None,
        tokenizer: Callable[[list[str]], Any] | None,
        target: str,
        report_skipped: bool = False,
    ) -> None:
        self.data = data
        self.report_skipped = report_skipped
        self.transform = transform
        self.tokenizer = tokenizer
        self.target = target
        self._multi_hot = data.multi_hot() if target == "multi_hot" else None

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> tuple[Any, ...]:
        skipped: list[tuple[str, str]] = []
        j, image = _load(self.data, index, self.transform, skipped)
        target: Any
        if self.target == "label":
            assert self.data.labels is not None
            target = int(self.data.labels[j])
        elif self.target == "multi_hot":
            assert self._multi_hot is not None
            target = torch.from_numpy(self._multi_hot[j])
        else:
            tags = list(self.data.tags[j])
            target = tags if self.tokenizer is None else self.tokenizer(tags)
        report = self._finish(skipped)
        return (image, target, report) if self.report_skipped else (image, target)
