"""Fixtures of the runner tests: one torch thread and fast pixel features."""

from torch_fixtures import _one_torch_thread, pixel_features

__all__ = ["_one_torch_thread", "pixel_features"]
