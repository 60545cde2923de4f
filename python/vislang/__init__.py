"""vislang: fast, faithful early vision-and-language models with a Rust core.

``import vislang`` loads only NumPy and the native extension; PyTorch and OpenCV are imported by
the subpackages that need them.
"""

from __future__ import annotations

from vislang._core import __version__
from vislang.exceptions import CheckpointError, InternalError, InvalidInputError, VislangError
from vislang.vocab import VisualVocabulary, assign, kmeans, kmeans_plusplus

__all__ = [
    "CheckpointError",
    "InternalError",
    "InvalidInputError",
    "VislangError",
    "VisualVocabulary",
    "__version__",
    "assign",
    "kmeans",
    "kmeans_plusplus",
]
