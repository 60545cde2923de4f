"""Exception hierarchy of vislang.

Every error that vislang raises on purpose derives from :class:`VislangError`. The concrete
classes also derive from the builtin that users (and scikit-learn) already catch.
"""

from __future__ import annotations

__all__ = [
    "CheckpointError",
    "InternalError",
    "InvalidInputError",
    "MissingDependencyError",
    "VislangError",
]


class VislangError(Exception):
    """Base class of vislang's errors."""


class InvalidInputError(VislangError, ValueError):
    """An argument has the wrong shape, dtype or value (NaN/inf, empty, k > n, ...)."""


class CheckpointError(VislangError, OSError):
    """A saved file (vocabulary, checkpoint) is missing, unreadable or corrupt."""


class InternalError(VislangError, RuntimeError):
    """A bug inside vislang's native code (a caught Rust panic). Please report it."""


class MissingDependencyError(VislangError, ImportError):
    """An optional dependency (PyTorch, OpenCV, matplotlib) is not installed; the message names
    the extra that installs it (``pip install "vislang[vision]"``)."""
