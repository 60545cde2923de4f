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
    """Three conv blocks (3x3 stride 1, then 2x2 max pooling) on (B, 3, S, S) in [-1, 1] and
    one linear head per attribute.

    Colour, shape and size are read from a global *max* pool of the last feature map and the
    vertical / horizontal third from a coarse 4x4 average-pooled map. The objects are small
    (radius 2.4-5.8 px at 32x32) on a large background: a head over an average-pooled map must
    learn every attribute at every place and dilutes the object in the background (this older
    design, with stride-2 convolutions from the first layer, read only 0.38 of real shapes).
    """

    #: Attributes read from the global max pool; the rest from the 4x4 map.
    GLOBAL: tuple[str, ...] = ("colour", "shape", "size")

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 3
        for k in range(3):
            c_out = width * 2**k
            layers += [
                nn.Conv2d(c_in, c_out, 3, 1, 1),
                nn.BatchNorm2d(c_out),
                nn.ReLU(True),
                nn.MaxPool2d(2),
            ]
            c_in = c_out
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(4)
        self.heads = nn.ModuleDict(
            {
                k: nn.Linear(c_in if k in self.GLOBAL else c_in * 16, len(v))
                for k, v in ATTRIBUTES.items()
            }
        )

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        h = self.features(x)  # (B, C, S/8, S/8)
        glob = h.amax((2, 3))  # (B, C)
        grid = self.pool(h).flatten(1)  # (B, C*16)
        return {k: head(glob if k in self.GLOBAL else grid) for k, head in self.heads.items()}

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
    epochs: int = 10,
    batch_size: int = 64,
    lr: float = 2e-3,
    seed: int = 0,
    width: int = 16,
) -> ShapeAttributeClassifier:
    """Train a :class:`ShapeAttributeClassifier` on real one-object images and their scenes.

    Adam with a one-cycle learning-rate schedule peaking at ``lr`` (at a constant ``lr`` the
    last steps are noisy: shape accuracy 0.72 instead of 0.99 on held-out renders). On 1,500
    images at 32x32 the defaults take ~6 s on one CPU thread and read held-out real renders'
    colour, shape and size at >= 0.98 and their vertical / horizontal third at ~0.97 (centres
    within half a pixel of a third's border cannot be told apart).
    """
    from vislang.models.gan import from_uint8

    if len(images) != len(scenes) or len(images) == 0:
        raise InvalidInputError(
            f"need as many scenes as images, got {len(scenes)} and {len(images)}"
        )
    if epochs < 1:
        raise InvalidInputError(f"epochs must be >= 1, got {epochs}")
    torch.manual_seed(seed)
    model = ShapeAttributeClassifier(width)
    x = from_uint8(images)
    y = {k: torch.from_numpy(v) for k, v in scene_targets(scenes).items()}
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    batch_size = max(2, min(batch_size, len(x)))
    per_epoch = len(x) // batch_size  # full batches only (batch norm)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=max(1, epochs * per_epoch))
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=gen)
        for b in range(per_epoch):
            sel = order[b * batch_size : (b + 1) * batch_size]
            logits = model(x[sel])
            loss = sum(F.cross_entropy(logits[k], y[k][sel]) for k in ATTRIBUTES)
            opt.zero_grad()
            loss.backward()  # type: ignore[union-attr]
            opt.step()
            sched.step()
    return model.eval()
