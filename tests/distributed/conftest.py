"""Multi-process tests: 2 gloo ranks on the CPU, forked (torch is imported once), each rank with
one torch thread, a file:// rendezvous in a fresh folder (no ports) and a short timeout."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

from torch_fixtures import _one_torch_thread

__all__ = ["_one_torch_thread"]
