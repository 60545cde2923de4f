"""Fixtures of the model tests: a small shapes world with fast pixel features."""

from __future__ import annotations

from typing import Any

import pytest

from torch_fixtures import _one_torch_thread, _pixel_features, pixel_features
from vislang.data import make_shapes

__all__ = ["_one_torch_thread", "pixel_features"]


@pytest.fixture(scope="package")
def shapes() -> Any:
    return make_shapes(300, 60, 60, 0, image_size=32, seed=0)


@pytest.fixture(scope="package")
def shapes_pairs(shapes: Any) -> dict[str, Any]:
    from vislang.models import CaptionPairs

    out = {}
    for split in ("train", "val", "test"):
        ds = shapes.select(split)
        out[split] = CaptionPairs.from_dataset(ds, _pixel_features(ds.images))
    return out
