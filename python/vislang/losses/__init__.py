"""Cross-modal ranking losses (torch modules): VSE / VSE++, WARP, DeViSE, InfoNCE.

Importing this package imports torch. On the CPU the margin losses run in a Rust kernel that
returns the loss and its gradient in one pass (:mod:`vislang.losses.functional`); on CUDA the
same semantics run as torch ops.
"""

# ruff: noqa: E402 (the optional-dependency check runs before the imports it guards)
from __future__ import annotations

from vislang._deps import require

require("torch", "vislang.losses")

from vislang.losses import functional
from vislang.losses.base import MarginLoss
from vislang.losses.devise import DeViSELoss
from vislang.losses.infonce import InfoNCELoss
from vislang.losses.vse import VSELoss
from vislang.losses.warp import WARPLoss

__all__ = ["DeViSELoss", "InfoNCELoss", "MarginLoss", "VSELoss", "WARPLoss", "functional"]
