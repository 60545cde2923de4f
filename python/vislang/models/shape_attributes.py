"""A small CNN that reads a one-object shapes-world image's attributes (colour, shape, size and
the vertical / horizontal third it lies in): the judge of text-to-image attribute accuracy.

Trained on real rendered images (:func:`vislang.data.make_shapes` with ``max_objects=1``); it
then reads generated images, and :func:`caption_targets` says what each caption asked for
(``-1`` where the caption does not name the attribute, e.g. no size word).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from torch import Tensor, nn

from vislang.data.shapes import COLOURS, SHAPES, SIZES, Scene, parse_caption, region_of
from vislang.exceptions import InvalidInputError

__all__ = [
    "ATTRIBUTES",
    "ShapeAttributeClassifier",
    "caption_targets",
    "fit_attribute_classifier",
    "scene_targets",
]

VERTICAL = ("top", "middle", "bottom")
HORIZONTAL = ("left", "center", "right")
#: Attribute -> its values (class index = position).
ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "colour": tuple(COLOURS),
    "shape": SHAPES,
    "size": SIZES,
    "vertical": VERTICAL,
    "horizontal": HORIZONTAL,
}


def scene_targets(scenes: Sequence[Scene]) -> dict[str, NDArray[np.int64]]:
    """True attribute indices of one-object scenes (the classifier's training labels)."""
    out: dict[str, list[int]] = {k: [] for k in ATTRIBUTES}
    for i, sc in enumerate(scenes):
        if len(sc.objects) != 1:
            raise InvalidInputError(f"scene {i} has {len(sc.objects)} objects; need exactly 1")
        o = sc.objects[0]
        v, h = region_of(o, sc.image_size)
        for name, value in (
            ("colour", o.colour),
            ("shape", o.shape),
            ("size", o.size),
            ("vertical", v),
            ("horizontal", h),
        ):
            out[name].append(ATTRIBUTES[name].index(value))
    return {k: np.asarray(v, dtype=np.int64) for k, v in out.items()}


def caption_targets(captions: Sequence[str]) -> dict[str, NDArray[np.int64]]:
    """What each caption asks of its (first) object: attribute indices, ``-1`` when the
    caption does not say (size and region are optional in the grammar)."""
    out: dict[str, list[int]] = {k: [] for k in ATTRIBUTES}
    for cap in captions:
        clause = parse_caption(cap)[0]
        q = clause.subject
        region = clause.region or (None, None)
        values = {
            "colour": q.colour,
            "shape": q.shape,
            "size": q.size,
            "vertical": region[0],
            "horizontal": region[1],
        }
        for name, value in values.items():
            out[name].append(-1 if value is None else ATTRIBUTES[name].index(value))
    return {k: np.asarray(v, dtype=np.int64) for k, v in out.items()}


class ShapeAttributeClassifier(nn.Module):
    """Three conv blocks and one linear head per attribute, on (B, 3, S, S) in [-1, 1]."""

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 3
        for k in range(3):
            c_out = width * 2**k
            layers += [nn.Conv2d(c_in, c_out, 3, 2, 1), nn.BatchNorm2d(c_out), nn.ReLU(True)]
            c_in = c_out
        self.features = nn.Sequential(*layers)
        # Position matters (region heads), so keep a coarse 4x4 map instead of a global pool.
        self.pool = nn.AdaptiveAvgPool2d(4)
        self.heads = nn.ModuleDict({k: nn.Linear(c_in * 16, len(v)) for k, v in ATTRIBUTES.items()})

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        h = self.pool(self.features(x)).flatten(1)  # (B, C*16)
        return {k: head(h) for k, head in self.heads.items()}

    @torch.no_grad()
    def predict(self, images: NDArray[np.uint8], batch_size: int = 256) -> dict[str, NDArray[Any]]:
        """Predicted attribute indices of uint8 images (n, S, S, 3)."""
        from vislang.models.gan import from_uint8

        was = self.training
        self.eval()
        dev = next(self.parameters()).device
        outs: dict[str, list[NDArray[Any]]] = {k: [] for k in ATTRIBUTES}
        for s in range(0, len(images), batch_size):
            logits = self(from_uint8(images[s : s + batch_size]).to(dev))
            for k, v in logits.items():
                outs[k].append(v.argmax(1).cpu().numpy())
        self.train(was)
        return {k: np.concatenate(v) for k, v in outs.items()}


def fit_attribute_classifier(
    images: NDArray[np.uint8],
    scenes: Sequence[Scene],
    *,
    epochs: int = 3,
    batch_size: int = 64,
    lr: float = 2e-3,
    seed: int = 0,
    width: int = 32,
) -> ShapeAttributeClassifier:
    """Train a :class:`ShapeAttributeClassifier` on real one-object images and their scenes."""
    from vislang.models.gan import from_uint8

    if len(images) != len(scenes) or len(images) == 0:
        raise InvalidInputError(
            f"need as many scenes as images, got {len(scenes)} and {len(images)}"
        )
    torch.manual_seed(seed)
    model = ShapeAttributeClassifier(width)
    x = from_uint8(images)
    y = {k: torch.from_numpy(v) for k, v in scene_targets(scenes).items()}
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=gen)
        for s in range(0, len(x), batch_size):
            sel = order[s : s + batch_size]
            if len(sel) < 2:
                continue
            logits = model(x[sel])
            loss = sum(F.cross_entropy(logits[k], y[k][sel]) for k in ATTRIBUTES)
            opt.zero_grad()
            loss.backward()  # type: ignore[union-attr]
            opt.step()
    return model.eval()
