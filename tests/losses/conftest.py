"""Device of the torch-path tests: CPU unless ``VISLANG_TEST_DEVICE=cuda`` (timm TORCH_DEVICE)."""

from __future__ import annotations

import os

import pytest

torch = pytest.importorskip("torch")


@pytest.fixture
def device() -> torch.device:
    name = os.environ.get("VISLANG_TEST_DEVICE", "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        pytest.skip("VISLANG_TEST_DEVICE=cuda but no GPU")
    return torch.device(name)
