"""Shared part of the image -> label models (DeViSE, WSABIE): label sets, batching,
prediction by the nearest label and flat hit@k."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor

from vislang.exceptions import InvalidInputError
from vislang.models.base import CrossModalModel, LabeledImages, _rows

__all__ = ["LabelEmbeddingModel"]


class LabelEmbeddingModel(CrossModalModel):
    """Images are ranked against a set of labels; subclasses define ``label_embeddings``."""

    labels: list[str]
    config: Any  # DeViSEConfig / WSABIEConfig

    def label_embeddings(self) -> Tensor:
        raise NotImplementedError

    def project_images(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def label_loss(self, img: Tensor, labels: Tensor, positives: Tensor) -> Tensor:
        raise NotImplementedError

    def embed_texts(self, texts: Sequence[str], *, batch_size: int = 256) -> Tensor:
        """Embeddings of label names (each must be one of ``self.labels``)."""
        if isinstance(texts, str):
            texts = [texts]
        index = {name: i for i, name in enumerate(self.labels)}
        missing = [t for t in texts if t not in index]
        if missing:
            raise InvalidInputError(
                f"unknown labels {missing[:5]}; known: {self.labels[:10]}"
                + (" ..." if len(self.labels) > 10 else "")
            )
        with torch.no_grad():
            return self.label_embeddings()[torch.tensor([index[t] for t in texts])].detach()

    @torch.no_grad()
    def embed_images(self, images: Any, *, batch_size: int = 256) -> Tensor:
        """Images (features, preprocessed or raw uint8 pixels) mapped into the label space,
        shape (n, embed_dim)."""
        return self._embed_image_batches(images, batch_size, self.project_images)

    def predict(self, images: Any, k: int = 1) -> NDArray[np.int64]:
        """Indices (n, k) of the ``k`` best labels of each image, best first."""
        if not 1 <= k <= len(self.labels):
            raise InvalidInputError(f"k={k} must be in [1, n_labels={len(self.labels)}]")
        scores = self.embed_images(images) @ self.label_embeddings().detach().T  # (n, L)
        return scores.topk(k, dim=1).indices.cpu().numpy()

    def hit_at_k(
        self, images: Any, targets: Any, ks: Sequence[int] = (1, 2, 5)
    ) -> dict[str, float]:
        """Flat hit@k (percent): an image counts when one of its labels is among its ``k``
        best labels (out of all ``self.labels``)."""
        mask = LabeledImages(images, np.asarray(targets)).mask(len(self.labels))
        ks = [k for k in ks if k <= len(self.labels)]
        top = self.predict(images, max(ks))
        hits = np.take_along_axis(mask, top, axis=1)  # (n, kmax)
        return {f"hit@{k}": float(100.0 * hits[:, :k].any(axis=1).mean()) for k in ks}

    def batches(
        self, data: LabeledImages, batch_size: int, generator: torch.Generator
    ) -> Iterator[dict[str, Any]]:
        if not isinstance(data, LabeledImages):
            raise InvalidInputError(
                f"{type(self).__name__} trains on LabeledImages, got {type(data).__name__}"
            )
        mask = data.mask(len(self.labels))
        empty = ~mask.any(axis=1)
        if empty.any():
            raise InvalidInputError(f"targets: image {int(np.argmax(empty))} has no label")
        order = torch.randperm(len(data.images), generator=generator).numpy()
        for start in range(0, len(order), batch_size):
            sel = order[start : start + batch_size]
            yield {"images": _rows(data.images, sel), "positives": torch.from_numpy(mask[sel])}

    def training_loss(self, batch: dict[str, Any], device: torch.device) -> Tensor:
        img = self.project_images(batch["images"].to(device))  # (B, D)
        labels = self.label_embeddings()  # (L, D)
        return self.label_loss(img.float(), labels.float(), batch["positives"].to(device))

    def evaluate(
        self, data: LabeledImages, *, device: torch.device | None = None
    ) -> dict[str, float]:
        """hit@1/2/5 over all labels; ``rsum`` is their sum (used for early stopping)."""
        m = self.hit_at_k(data.images, data.targets)
        m["rsum"] = float(sum(m.values()))
        return m

    @property
    def embed_dim(self) -> int:
        return int(self.label_embeddings().shape[1])


def _label_batch(model: LabelEmbeddingModel) -> dict[str, Any]:
    """One training batch of 4 random feature rows for a tiny ``example()`` label model."""
    rng = np.random.default_rng(0)
    feature_dim = int(model.config.feature_dim)
    feats = rng.normal(size=(4, feature_dim)).astype(np.float32)
    targets = np.arange(4) % len(model.labels)
    batches = model.batches(LabeledImages(feats, targets), 4, torch.Generator().manual_seed(0))
    return next(batches)
