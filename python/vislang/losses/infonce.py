"""InfoNCE (van den Oord et al. 2018; CLIP, Radford et al. 2021): the modern reference point."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from vislang.exceptions import InvalidInputError
from vislang.losses import _distributed
from vislang.losses import functional as F
from vislang.losses._checks import DIRECTIONS, Direction, check_choice

__all__ = ["InfoNCELoss"]


class InfoNCELoss(nn.Module):
    """Symmetric InfoNCE / CLIP loss with a positives mask.

    Each positive pair competes with the negatives of its query only (other captions of the
    same image are left out of the denominator). Torch ops on every device.

    Parameters
    ----------
    temperature : float, default 0.07
    learnable : bool, default False
        Learn ``log(1 / temperature)`` as a parameter (CLIP), clamped to at most ``log(100)``.
    direction : {"both", "i2t", "t2i"}
    global_negatives : bool, default True
        Under a process group (data-parallel training), gather the embeddings of every rank
        so that the denominator runs over the global batch; no effect in a single process.
    """

    def __init__(
        self,
        temperature: float = 0.07,
        *,
        learnable: bool = False,
        direction: Direction = "both",
        global_negatives: bool = True,
    ) -> None:
        super().__init__()
        if not (math.isfinite(temperature) and temperature > 0):
            raise InvalidInputError(f"temperature: must be finite and > 0, got {temperature}")
        check_choice(direction, "direction", DIRECTIONS)
        self.direction: Direction = direction
        self.global_negatives = bool(global_negatives)
        scale = torch.tensor(math.log(1.0 / temperature))
        self.logit_scale: Tensor | nn.Parameter
        if learnable:
            self.logit_scale = nn.Parameter(scale)
        else:
            self.register_buffer("logit_scale", scale)

    @property
    def temperature(self) -> Tensor:
        """The current temperature (a scalar tensor)."""
        return 1.0 / self.logit_scale.clamp(max=math.log(100.0)).exp()

    def forward(
        self,
        image_emb: Tensor,
        text_emb: Tensor,
        positives: Tensor | None = None,
        *,
        image_ids: Tensor | None = None,
        text_image_ids: Tensor | None = None,
    ) -> Tensor:
        """Loss of image_emb (B, D) against text_emb (C, D); positives (B, C), default diagonal.

        Under a process group (and ``global_negatives``) the loss is that of the global batch,
        the same on every rank (``image_ids`` / ``text_image_ids``: as :class:`VSELoss`).
        """
        if self.global_negatives and _distributed.active():
            image_emb, text_emb, positives = _distributed.gather_pairs(
                image_emb, text_emb, positives, image_ids, text_image_ids
            )
        return self.forward_scores(F.similarity(image_emb, text_emb), positives)

    def forward_scores(self, scores: Tensor, positives: Tensor | None = None) -> Tensor:
        """Loss of a precomputed similarity matrix of shape (B, C)."""
        return F.info_nce(scores, positives, self.temperature, direction=self.direction)
