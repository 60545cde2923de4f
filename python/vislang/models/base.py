"""What every cross-modal model shares: data containers, batching and the inference API.

A model implements ``batches`` (one epoch of training batches), ``training_loss`` and
``evaluate`` (validation metrics, always with an ``"rsum"`` used for early stopping), which is
all :class:`vislang.models.Trainer` needs; plus ``config_dict``/``from_config_dict`` for
checkpoints.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor, nn

from vislang.exceptions import InvalidInputError

__all__ = ["CaptionPairs", "CrossModalModel", "LabeledImages", "as_image_tensor"]


def as_image_tensor(images: Any, name: str = "images") -> Tensor:
    """Features (n, F) or preprocessed images (n, 3, H, W) as a float tensor (memory-mapped
    ``.npy`` arrays are read lazily, batch by batch, by the caller)."""
    if isinstance(images, Tensor):
        t = images
    else:
        arr = np.asarray(images)
        if not np.issubdtype(arr.dtype, np.floating):
            raise InvalidInputError(f"{name} must be floating point, got {arr.dtype}")
        t = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))
    if t.ndim not in (2, 4) or t.shape[0] == 0:
        raise InvalidInputError(
            f"{name} must be features (n, F) or images (n, 3, H, W), got {tuple(t.shape)}"
        )
    _check_finite(t, name)
    return t


def _rgb_uint8(image: NDArray[np.uint8], name: str) -> NDArray[np.uint8]:
    """A uint8 image (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) as RGB (H, W, 3): grey is
    repeated into the three channels, alpha is dropped."""
    if image.ndim == 2:
        return np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim == 3 and image.shape[-1] == 1:
        return np.repeat(image, 3, axis=2)
    if image.ndim == 3 and image.shape[-1] == 4:
        return np.ascontiguousarray(image[:, :, :3])
    if image.ndim == 3 and image.shape[-1] == 3:
        return image
    raise InvalidInputError(
        f"{name} must be a uint8 image (height, width[, 1|3|4]), got shape {image.shape}"
    )


def _rgb_uint8_batch(images: Any) -> Any:
    """uint8 image batches (n, H, W), (n, H, W, 1|3|4) or lists of such images -> RGB."""
    if isinstance(images, np.ndarray) and images.dtype == np.uint8:
        if images.ndim == 3:
            return np.repeat(images[..., None], 3, axis=3)
        if images.ndim == 4 and images.shape[-1] in (1, 4):
            return images[..., :3] if images.shape[-1] == 4 else np.repeat(images, 3, axis=3)
        return images
    if isinstance(images, list | tuple) and images and isinstance(images[0], np.ndarray):
        return [
            _rgb_uint8(im, f"images[{i}]")
            if isinstance(im, np.ndarray) and im.dtype == np.uint8
            else im
            for i, im in enumerate(images)
        ]
    return images


@dataclass
class CaptionPairs:
    """Images (features or preprocessed pixels) with their captions, for VSE models.

    ``images`` is (n_images, F) or (n_images, 3, H, W) (an array, a tensor, or a memory-mapped
    ``.npy``); ``captions[j]`` describes image ``text_to_image[j]``. ``positives``, optional,
    says which captions are also true of other images
    (:class:`vislang.data.positives.CaptionPositives`): training batches then never use them
    as negatives.
    """

    images: Any
    captions: list[str]
    text_to_image: NDArray[np.int64]
    positives: Callable[[NDArray[np.int64], NDArray[np.int64]], NDArray[np.bool_]] | None = None

    def __post_init__(self) -> None:
        self.text_to_image = np.asarray(self.text_to_image, dtype=np.int64)
        n = len(self.images)
        if n == 0 or len(self.captions) == 0:
            raise InvalidInputError("CaptionPairs: no images or no captions")
        if self.text_to_image.shape != (len(self.captions),):
            raise InvalidInputError(
                f"text_to_image must have shape ({len(self.captions)},), got "
                f"{self.text_to_image.shape}"
            )
        bad = (self.text_to_image < 0) | (self.text_to_image >= n)
        if bad.any():
            j = int(np.argmax(bad))
            raise InvalidInputError(f"text_to_image[{j}] is not an image index in [0, {n})")
        _check_finite(self.images, "images")

    @classmethod
    def from_dataset(cls, dataset: Any, images: Any, *, positives: bool = False) -> CaptionPairs:
        """From a :class:`~vislang.data.CaptionDataset` and its images as features/pixels.

        With ``positives=True`` the pairs carry what the dataset knows about true pairs beyond
        each caption's own image (:func:`vislang.data.positives.caption_positives`: the shapes
        world checks captions against scenes; real data marks identical captions), and
        training uses them as positives. Off by default: on the shapes world it keeps the
        similarity spread but lowers own-image recall (a generic caption learns to match every
        image it is true of, which recall@K counts as misses), and on Flickr8k only 4 of
        3,765 training captions are shared; see ``benches/results/vsepp_plateau.md``.
        """
        from vislang.data.positives import caption_positives

        t2i, captions = dataset.pairs()
        return cls(images, captions, t2i, caption_positives(dataset) if positives else None)


@dataclass
class LabeledImages:
    """Images (features or pixels) with target labels, for DeViSE and WSABIE.

    ``targets`` is (n,) label indices or an (n, n_labels) bool mask (several labels each).
    """

    images: Any
    targets: NDArray[Any]

    def __post_init__(self) -> None:
        self.targets = np.asarray(self.targets)
        if len(self.images) == 0:
            raise InvalidInputError("LabeledImages: no images")
        if self.targets.shape[0] != len(self.images):
            raise InvalidInputError(
                f"targets has {self.targets.shape[0]} rows for {len(self.images)} images"
            )
        _check_finite(self.images, "images")

    def mask(self, n_labels: int) -> NDArray[np.bool_]:
        if self.targets.ndim == 2:
            if self.targets.shape[1] != n_labels:
                raise InvalidInputError(
                    f"targets must have {n_labels} columns, got {self.targets.shape[1]}"
                )
            return self.targets.astype(bool)
        t = self.targets.astype(np.int64)
        if ((t < 0) | (t >= n_labels)).any():
            raise InvalidInputError(f"targets must be label indices in [0, {n_labels})")
        out = np.zeros((t.shape[0], n_labels), dtype=bool)
        out[np.arange(t.shape[0]), t] = True
        return out


def _check_finite(images: Any, name: str) -> None:
    """Raise naming the first image (row) with NaN or inf (chunked: memory maps stay lazy)."""
    if isinstance(images, Tensor):
        if images.is_floating_point():
            bad = ~torch.isfinite(images.reshape(images.shape[0], -1)).all(dim=1)
            if bool(bad.any()):
                raise InvalidInputError(
                    f"{name} contains NaN or inf at row {int(bad.nonzero()[0, 0])}"
                )
        return
    arr = np.asarray(images)
    if not np.issubdtype(arr.dtype, np.floating):
        return
    for start in range(0, arr.shape[0], 65536):
        chunk = arr[start : start + 65536].reshape(min(65536, arr.shape[0] - start), -1)
        bad = ~np.isfinite(chunk).all(axis=1)
        if bad.any():
            raise InvalidInputError(
                f"{name} contains NaN or inf at row {start + int(np.argmax(bad))}"
            )


def _rows(images: Any, idx: NDArray[np.int64]) -> Tensor:
    """Rows ``idx`` of images (tensor, array or memory map) as a float32 tensor."""
    if isinstance(images, Tensor):
        return images[torch.from_numpy(idx)].float()
    return torch.from_numpy(np.ascontiguousarray(np.asarray(images)[idx], dtype=np.float32))


class CrossModalModel(nn.Module):
    """Base class: a joint embedding space for images and texts (or labels)."""

    #: The registered name (``vislang.models.list_models()``) written to checkpoints; a class
    #: registered under several names sets it per instance.
    model_type: str = ""
    #: Bumped when the saved layout changes; older checkpoints then fail clearly.
    format_version: ClassVar[int] = 1

    # ---------------------------------------------------------------- subclasses implement
    def config_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def from_config_dict(cls, config: dict[str, Any]) -> CrossModalModel:
        raise NotImplementedError

    def batches(
        self, data: Any, batch_size: int, generator: torch.Generator
    ) -> Iterator[dict[str, Any]]:
        raise NotImplementedError

    def training_loss(self, batch: dict[str, Any], device: torch.device) -> Tensor:
        raise NotImplementedError

    def evaluate(self, data: Any, *, device: torch.device | None = None) -> dict[str, float]:
        raise NotImplementedError

    def embed_images(self, images: Any, *, batch_size: int = 256) -> Tensor:
        raise NotImplementedError

    def embed_texts(self, texts: Sequence[str], *, batch_size: int = 256) -> Tensor:
        raise NotImplementedError

    def batch_size_of(self, data: Any) -> int:
        return len(data.images)

    # ---------------------------------------------------------------- shared
    def image_input(self, images: Any) -> Tensor:
        """Model input from features (n, F), preprocessed images (n, 3, H, W), or raw uint8
        images (n, H, W, 3), (n, H, W, 4) (alpha dropped) or grey (n, H, W), a list of them,
        image paths or a dataset: raw images are resized and normalised as in training (the
        backbone's statistics, ``config.image_size``).

        Raises
        ------
        InvalidInputError
            Another dtype or shape, or NaN / inf in float input (the message names the row).
        """
        from vislang.data.base import _ImageCollection
        from vislang.models.image_encoders import BACKBONES, _as_uint8_images, preprocess_images

        config = getattr(self, "config", None)
        backbone = getattr(config, "backbone", "precomputed")
        images = _rgb_uint8_batch(images)
        if isinstance(images, np.ndarray):
            raw = images.dtype == np.uint8 and images.ndim == 4 and images.shape[-1] == 3
        elif isinstance(images, list | tuple) and images:
            first = images[0]
            raw = isinstance(first, str | os.PathLike) or (
                isinstance(first, np.ndarray) and first.dtype == np.uint8
            )
        else:
            raw = isinstance(images, _ImageCollection)
        if not raw:
            return as_image_tensor(images)
        if backbone not in BACKBONES:
            raise InvalidInputError(
                f"this {type(self).__name__} takes precomputed features (n, F), not raw images"
            )
        mean, std, default = BACKBONES[backbone]
        size = int(getattr(config, "image_size", 0) or default)
        n, load = _as_uint8_images(images)
        if n == 0:
            raise InvalidInputError("images: empty")
        return torch.cat(
            [
                preprocess_images(
                    [load(i) for i in range(s, min(n, s + 256))],
                    size=size,
                    mean=mean,
                    std=std,
                    resize=size,
                )
                for s in range(0, n, 256)
            ]
        )

    def _embed_image_batches(
        self, images: Any, batch_size: int, encode: Callable[[Tensor], Tensor]
    ) -> Tensor:
        x = self.image_input(images)
        was = self.training
        self.eval()
        dev = self.device
        out = [
            encode(x[i : i + batch_size].float().to(dev)) for i in range(0, x.shape[0], batch_size)
        ]
        self.train(was)
        return torch.cat(out)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def param_groups(self, lr: float, backbone_lr: float) -> list[dict[str, Any]]:
        """AdamW groups: the image backbone (fine-tuning) gets its own learning rate."""
        backbone: list[nn.Parameter] = []
        rest: list[nn.Parameter] = []
        for name, p in self.named_parameters():
            if not p.requires_grad:
                continue
            (backbone if ".backbone." in f".{name}" else rest).append(p)
        groups = [{"params": rest, "lr": lr}]
        if backbone:
            groups.append({"params": backbone, "lr": backbone_lr})
        return groups

    def search(
        self, query: Any, gallery: Any, k: int = 5, *, batch_size: int = 256
    ) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        """Top-``k`` gallery items for each query (exact, chunked; see
        :func:`vislang.eval.topk_search`).

        ``query`` and ``gallery`` are each a caption or list of captions, images/features
        (embedded with :meth:`embed_images`), or an already embedded (n, embed_dim) tensor.
        Returns ``(scores, indices)`` of shape (n_queries, k).
        """
        from vislang.eval.retrieval import topk_search

        q = self._embed_any(query, batch_size)
        g = self._embed_any(gallery, batch_size)
        return topk_search(q, g, k, device=str(q.device))

    def _embed_any(self, x: Any, batch_size: int) -> Tensor:
        if isinstance(x, str):
            return self.embed_texts([x], batch_size=batch_size)
        if isinstance(x, list | tuple) and x and all(isinstance(s, str) for s in x):
            return self.embed_texts(list(x), batch_size=batch_size)
        if isinstance(x, Tensor) and x.ndim == 2 and x.shape[1] == self.embed_dim:
            return x.detach()
        return self.embed_images(x, batch_size=batch_size)

    @property
    def embed_dim(self) -> int:
        raise NotImplementedError
