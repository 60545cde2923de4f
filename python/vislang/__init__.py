"""vislang: fast, faithful early vision-and-language models with a Rust core.

``import vislang`` loads only NumPy, scikit-learn and the native extension. The subpackages
that need PyTorch or OpenCV (``vislang.features``, ``vislang.data``'s torch views, ...) import
them on first use; their main names are reachable here lazily (``vislang.DescriptorSet``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from vislang._config import show_config
from vislang._core import __version__
from vislang.exceptions import CheckpointError, InternalError, InvalidInputError, VislangError
from vislang.vocab import VisualVocabulary, assign, kmeans, kmeans_plusplus

if TYPE_CHECKING:  # what the lazy names below resolve to, for IDEs and mypy
    from vislang import bovw, data, eval, features, models, semantics  # noqa: F401
    from vislang.bovw import BagOfVisualWords, draw_visual_words, encode
    from vislang.features import DescriptorSet
    from vislang.models import VSE, WSABIE, DeViSE, extract_features
    from vislang.semantics import MultimodalSkipGram, SkipGram, WordVectors

# Lazily imported names: attribute -> (module, attribute or None for the module itself).
_LAZY: dict[str, tuple[str, str | None]] = {
    "bovw": ("vislang.bovw", None),
    "data": ("vislang.data", None),
    "eval": ("vislang.eval", None),
    "features": ("vislang.features", None),
    "models": ("vislang.models", None),
    "semantics": ("vislang.semantics", None),
    "BagOfVisualWords": ("vislang.bovw", "BagOfVisualWords"),
    "DescriptorSet": ("vislang.features", "DescriptorSet"),
    "draw_visual_words": ("vislang.bovw", "draw_visual_words"),
    "encode": ("vislang.bovw", "encode"),
    "WordVectors": ("vislang.semantics", "WordVectors"),
    "SkipGram": ("vislang.semantics", "SkipGram"),
    "MultimodalSkipGram": ("vislang.semantics", "MultimodalSkipGram"),
    "VSE": ("vislang.models", "VSE"),
    "DeViSE": ("vislang.models", "DeViSE"),
    "WSABIE": ("vislang.models", "WSABIE"),
    "extract_features": ("vislang.models", "extract_features"),
}

__all__ = [
    "VSE",
    "WSABIE",
    "BagOfVisualWords",
    "CheckpointError",
    "DeViSE",
    "DescriptorSet",
    "InternalError",
    "InvalidInputError",
    "MultimodalSkipGram",
    "SkipGram",
    "VislangError",
    "VisualVocabulary",
    "WordVectors",
    "__version__",
    "assign",
    "draw_visual_words",
    "encode",
    "extract_features",
    "kmeans",
    "kmeans_plusplus",
    "show_config",
]


def __getattr__(name: str) -> Any:
    try:
        module, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'vislang' has no attribute {name!r}") from None
    mod = importlib.import_module(module)
    value = mod if attr is None else getattr(mod, attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
