"""DeViSE (Frome et al. 2013): a linear map from image features into a fixed word-embedding
space, trained with the hinge rank loss against label embeddings; zero-shot by nearest label."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from vislang.exceptions import InvalidInputError
from vislang.losses import DeViSELoss
from vislang.models._composed import ImageEncoderOptions, split_flat
from vislang.models._label_models import LabelEmbeddingModel, _label_batch
from vislang.models.image_encoders import ImageEncoder, ImageEncoderConfig
from vislang.models.registry import register_model

__all__ = ["DeViSE", "DeViSEConfig"]


@dataclass(init=False)
class DeViSEConfig(ImageEncoderOptions):
    """Options of :class:`DeViSE` (saved in checkpoints): the image encoder's config plus the
    loss options.

    The flat keywords ``backbone``, ``feature_dim``, ``finetune``, ``image_size`` and
    ``embed_dim`` are shorthand for ``image=ImageEncoderConfig(...)`` and stay readable as
    attributes; ``embed_dim`` is the label vectors' dimension (set from them).
    """

    image: ImageEncoderConfig
    margin: float = 0.1
    sampling: str = "all"

    def __init__(
        self,
        image: ImageEncoderConfig | None = None,
        *,
        margin: float = 0.1,
        sampling: str = "all",
        **flat: Any,
    ) -> None:
        self.image = replace(image) if image is not None else ImageEncoderConfig(finetune=False)
        split_flat("DeViSEConfig", flat, self.image)
        self.margin = margin
        self.sampling = sampling


@register_model(
    "devise",
    family="labels",
    description="DeViSE (Frome et al. 2013): image features mapped onto fixed word vectors",
    factory="create",
)
class DeViSE(LabelEmbeddingModel):
    """Image features -> word-embedding space (``M x``), ranked against fixed label vectors.

    Zero-shot: after training call :meth:`set_labels` with a larger label set (seen and unseen
    classes) and use :meth:`predict` / :meth:`hit_at_k`.

    Parameters
    ----------
    labels : sequence of str
        Training label names.
    label_vectors : array of shape (n_labels, dim)
        Their word vectors (e.g. GloVe); normalised to unit length and never trained.
    config : DeViSEConfig

    Examples
    --------
    >>> import numpy as np
    >>> from vislang.models import DeViSE, DeViSEConfig
    >>> m = DeViSE(["cat", "dog"], np.eye(2, 3), DeViSEConfig(feature_dim=4))
    >>> m.predict(np.ones((1, 4), dtype=np.float32), k=2).shape
    (1, 2)
    """

    model_type = "devise"
    label_vectors: Tensor

    def __init__(
        self,
        labels: Sequence[str],
        label_vectors: Any,
        config: DeViSEConfig | None = None,
        *,
        pretrained: Any = None,
    ) -> None:
        super().__init__()
        self.config = config or DeViSEConfig()
        if self.config.sampling not in ("all", "warp"):
            raise InvalidInputError(
                f"sampling: must be 'all' or 'warp', got {self.config.sampling!r}"
            )
        vec = self._check_vectors(labels, label_vectors)
        c = self.config
        c.image.embed_dim = int(vec.shape[1])  # the label space
        self.image_encoder = ImageEncoder(c.image, pretrained=pretrained)
        self.labels = list(labels)
        self.register_buffer("label_vectors", vec)
        self.criterion = DeViSELoss(c.margin, sampling=c.sampling)

    @classmethod
    def create(
        cls, labels: Sequence[str], label_vectors: Any, *, pretrained: Any = None, **config: Any
    ) -> DeViSE:
        """``create_model("devise", labels=..., label_vectors=..., margin=...)``."""
        return cls(labels, label_vectors, DeViSEConfig(**config), pretrained=pretrained)

    @classmethod
    def example(cls, **overrides: Any) -> DeViSE:
        """A tiny model (for the registry test sweep)."""
        vectors = np.random.default_rng(0).normal(size=(4, 5)).astype(np.float32)
        return cls.create(["red", "blue", "circle", "square"], vectors, feature_dim=6, **overrides)

    @classmethod
    def example_batch(cls, model: DeViSE) -> dict[str, Any]:
        """One training batch for :meth:`example` models."""
        return _label_batch(model)

    @staticmethod
    def _check_vectors(labels: Sequence[str], vectors: Any) -> Tensor:
        vec = torch.as_tensor(np.asarray(vectors, dtype=np.float32))
        if vec.ndim != 2 or vec.shape[0] != len(labels) or len(labels) == 0:
            raise InvalidInputError(
                f"label_vectors must have shape ({len(labels)}, dim), got {tuple(vec.shape)}"
            )
        if len(set(labels)) != len(labels):
            raise InvalidInputError("labels: duplicate label names")
        if not torch.isfinite(vec).all():
            raise InvalidInputError("label_vectors contain NaN or inf")
        return F.normalize(vec, dim=1)

    def set_labels(self, labels: Sequence[str], label_vectors: Any) -> None:
        """Replace the label set (same dimension), e.g. seen + unseen classes for zero-shot."""
        vec = self._check_vectors(labels, label_vectors)
        if vec.shape[1] != self.label_vectors.shape[1]:
            raise InvalidInputError(
                f"label_vectors must have dimension {self.label_vectors.shape[1]}, "
                f"got {vec.shape[1]}"
            )
        self.labels = list(labels)
        self.label_vectors = vec.to(self.label_vectors.device)

    def label_embeddings(self) -> Tensor:
        return self.label_vectors

    def project_images(self, x: Tensor) -> Tensor:
        return self.image_encoder(x)  # (B, dim)

    def label_loss(self, img: Tensor, labels: Tensor, positives: Tensor) -> Tensor:
        return self.criterion(img, labels, positives)

    def config_dict(self) -> dict[str, Any]:
        return {
            "model": self.config.to_dict(),
            "labels": self.labels,
            "label_dim": int(self.label_vectors.shape[1]),
        }

    @classmethod
    def from_config_dict(cls, config: dict[str, Any]) -> DeViSE:
        labels = list(config["labels"])
        placeholder = np.ones((len(labels), int(config["label_dim"])), dtype=np.float32)
        return cls(labels, placeholder, DeViSEConfig.from_dict(config["model"]))
