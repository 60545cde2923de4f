"""WSABIE (Weston, Bengio & Usunier 2011): linear maps of images and labels into one space,
trained with the WARP loss (sampled violators weighted by the estimated rank)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import Tensor, nn

from vislang.exceptions import InvalidInputError
from vislang.losses import functional as LF
from vislang.models._composed import ImageEncoderOptions, split_flat
from vislang.models._label_models import LabelEmbeddingModel, _label_batch
from vislang.models.image_encoders import ImageEncoder, ImageEncoderConfig
from vislang.models.registry import register_model

__all__ = ["WSABIE", "WSABIEConfig"]


@dataclass(init=False)
class WSABIEConfig(ImageEncoderOptions):
    """Options of :class:`WSABIE` (saved in checkpoints): the image encoder's config plus the
    loss options.

    The flat keywords ``backbone``, ``feature_dim``, ``finetune``, ``image_size`` and
    ``embed_dim`` are shorthand for ``image=ImageEncoderConfig(...)`` and stay readable as
    attributes; ``embed_dim`` (default 100) is the joint space.
    """

    image: ImageEncoderConfig
    margin: float = 1.0
    max_trials: int = 0
    seed: int = 0

    def __init__(
        self,
        image: ImageEncoderConfig | None = None,
        *,
        margin: float = 1.0,
        max_trials: int = 0,
        seed: int = 0,
        **flat: Any,
    ) -> None:
        default = ImageEncoderConfig(embed_dim=100, finetune=False)
        self.image = replace(image) if image is not None else default
        split_flat("WSABIEConfig", flat, self.image)
        self.margin = margin
        self.max_trials = max_trials
        self.seed = seed


@register_model(
    "wsabie",
    family="labels",
    description="WSABIE (Weston et al. 2011): images and labels in one space, WARP loss",
    factory="create",
)
class WSABIE(LabelEmbeddingModel):
    """``s(x, y) = (V x) . W_y``: both maps learned with WARP.

    WARP draws are seeded with ``seed + training step`` (the step count is saved in the
    weights), so a resumed run draws the same negatives.

    Examples
    --------
    >>> from vislang.models import WSABIE, WSABIEConfig
    >>> m = WSABIE(["cat", "dog", "car"], WSABIEConfig(feature_dim=8, embed_dim=4))
    >>> m.embed_texts(["dog"]).shape
    torch.Size([1, 4])
    """

    model_type = "wsabie"
    num_steps: Tensor

    def __init__(
        self, labels: Sequence[str], config: WSABIEConfig | None = None, *, pretrained: Any = None
    ) -> None:
        super().__init__()
        self.config = config or WSABIEConfig()
        c = self.config
        if len(labels) < 2 or len(set(labels)) != len(labels):
            raise InvalidInputError("labels: need at least 2 distinct label names")
        if c.max_trials < 0:
            raise InvalidInputError(f"max_trials: must be >= 0, got {c.max_trials}")
        self.image_encoder = ImageEncoder(c.image, pretrained=pretrained)
        self.labels = list(labels)
        self.label_embedding = nn.Embedding(len(labels), c.embed_dim)
        nn.init.normal_(self.label_embedding.weight, std=1.0 / c.embed_dim**0.5)
        self.register_buffer("num_steps", torch.zeros((), dtype=torch.long))

    @classmethod
    def create(cls, labels: Sequence[str], *, pretrained: Any = None, **config: Any) -> WSABIE:
        """``create_model("wsabie", labels=..., embed_dim=...)``."""
        return cls(labels, WSABIEConfig(**config), pretrained=pretrained)

    @classmethod
    def example(cls, **overrides: Any) -> WSABIE:
        """A tiny model (for the registry test sweep)."""
        config = {"feature_dim": 6, "embed_dim": 5, **overrides}
        return cls.create(["red", "blue", "circle", "square"], **config)

    @classmethod
    def example_batch(cls, model: WSABIE) -> dict[str, Any]:
        """One training batch for :meth:`example` models."""
        return _label_batch(model)

    def label_embeddings(self) -> Tensor:
        return self.label_embedding.weight  # (L, D)

    def project_images(self, x: Tensor) -> Tensor:
        return self.image_encoder(x)  # (B, D)

    def label_loss(self, img: Tensor, labels: Tensor, positives: Tensor) -> Tensor:
        seed = self.config.seed + int(self.num_steps)
        self.num_steps += 1
        return LF.warp(
            img @ labels.T,
            positives,
            self.config.margin,
            direction="i2t",
            max_trials=self.config.max_trials or None,
            seed=seed,
            reduction="mean",
        )

    def config_dict(self) -> dict[str, Any]:
        return {"model": self.config.to_dict(), "labels": self.labels}

    @classmethod
    def from_config_dict(cls, config: dict[str, Any]) -> WSABIE:
        return cls(list(config["labels"]), WSABIEConfig.from_dict(config["model"]))
