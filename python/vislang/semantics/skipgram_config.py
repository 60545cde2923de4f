"""Deprecated module: the skip-gram ``vislang train`` runners moved to
:mod:`vislang.train.skipgram` (this alias re-exports it with a :class:`DeprecationWarning`)."""

from __future__ import annotations

import warnings

from vislang.train.skipgram import *  # noqa: F403
from vislang.train.skipgram import __all__  # noqa: F401

warnings.warn(
    "vislang.semantics.skipgram_config is deprecated; use vislang.train.skipgram "
    "(or vislang.train.runner)",
    DeprecationWarning,
    stacklevel=2,
)
