"""Fixtures shared by the torch test packages (``tests/models``, ``tests/train``): their
conftests import them, so each package gets one torch thread and the fast pixel features."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest


@pytest.fixture(autouse=True, scope="package")
def _one_torch_thread() -> Iterator[None]:
    # Tiny models: thread start-up and oversubscription cost more than they give on 2 cores.
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _pixel_features(images: np.ndarray, cells: int = 8) -> np.ndarray:
    """Mean colour of each cell of a cells x cells grid: (n, cells * cells * 3), centred."""
    n, h, w, _ = images.shape
    x = images.reshape(n, cells, h // cells, cells, w // cells, 3).mean(axis=(2, 4)) / 255.0
    x = x.reshape(n, -1).astype(np.float32)
    return x - x.mean(axis=1, keepdims=True)


@pytest.fixture(scope="package")
def pixel_features() -> Any:
    return _pixel_features
