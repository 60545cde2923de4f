"""WSABIE (Weston, Bengio & Usunier 2011): linear maps of images and labels into one space,
trained with the WARP loss (sampled violators weighted by the estimated rank)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor, nn

from vislang.exceptions import InvalidInputError
from vislang.losses import functional as LF
from vislang.models._label_models import LabelEmbeddingModel
from vislang.models.image_encoders import ImageEncoder, ImageEncoderConfig

__all__ = ["WSABIE", "WSABIEConfig"]


@dataclass
class WSABIEConfig:
    """Options of :class:`WSABIE` (saved in checkpoints)."""

    backbone: str = "precomputed"
    feature_dim: int = 1280
    finetune: bool = False
    image_size: int = (
        0  # pixel input size (0: the backbone's default); raw images are resized to it
    )
    embed_dim: int = 100
    margin: float = 1.0
    max_trials: int = 0
    seed: int = 0


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
        self.image_encoder = ImageEncoder(
            ImageEncoderConfig(c.backbone, c.feature_dim, c.embed_dim, c.finetune),
            pretrained=pretrained,
        )
        c.feature_dim = self.image_encoder.cfg.feature_dim
        self.labels = list(labels)
        self.label_embedding = nn.Embedding(len(labels), c.embed_dim)
        nn.init.normal_(self.label_embedding.weight, std=1.0 / c.embed_dim**0.5)
        self.register_buffer("num_steps", torch.zeros((), dtype=torch.long))

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
        return {"model": asdict(self.config), "labels": self.labels}

    @classmethod
    def from_config_dict(cls, config: dict[str, Any]) -> WSABIE:
        return cls(list(config["labels"]), WSABIEConfig(**config["model"]))
