"""Exception hierarchy of vislang.

Every error that vislang raises on purpose derives from :class:`VislangError`. The concrete
classes also derive from the builtin that users (and scikit-learn) already catch.
"""

from __future__ import annotations

__all__ = [
    "CheckpointError",
    "DatasetFormatError",
    "DatasetNotFoundError",
    "DistributedError",
    "ImageLoadError",
    "InternalError",
    "InvalidInputError",
    "MissingDependencyError",
    "NotFittedError",
    "OutOfVocabularyError",
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


class ImageLoadError(VislangError, OSError):
    """An image file is missing or cannot be decoded; the message names the file."""


class DatasetFormatError(InvalidInputError):
    """An annotation file does not have the expected layout; the message names file and line."""


class DatasetNotFoundError(VislangError, FileNotFoundError):
    """A dataset folder or annotation file does not exist (also a :class:`FileNotFoundError`)."""


class OutOfVocabularyError(VislangError, KeyError):
    """A word has no vector. Also a :class:`KeyError`, so ``except KeyError`` catches it."""

    def __str__(self) -> str:
        # KeyError.__str__ quotes its argument; keep the message readable.
        return str(self.args[0]) if self.args else ""


class NotFittedError(InvalidInputError, AttributeError):
    """A model used before ``fit``; also an ``AttributeError``, as scikit-learn's
    ``NotFittedError``, so ``hasattr``-style probes and ``except ValueError`` both work."""


class DistributedError(VislangError, RuntimeError):
    """A collective operation across processes failed: a rank died, hung past the timeout or
    left the group; the message names the ranks that did not reach the operation."""


class MissingDependencyError(VislangError, ImportError):
    """An optional dependency (PyTorch, OpenCV, matplotlib) is not installed; the message names
    the extra that installs it (``pip install "vislang[vision]"``)."""
