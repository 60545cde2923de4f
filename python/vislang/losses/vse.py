"""VSE and VSE++ (Kiros et al. 2014; Faghri et al. 2018): triplet margin ranking loss."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from vislang.exceptions import InvalidInputError
from vislang.losses import _distributed
from vislang.losses import functional as F
from vislang.losses._checks import Backend, Direction, Reduction
from vislang.losses.base import MarginLoss

__all__ = ["VSELoss"]


def _negatives_per_positive(*inputs: Any) -> float:
    """Mean number of negatives per positive pair of the (B, C) score matrix of ``inputs``:
    ``(scores)`` or ``(image_emb, text_emb)``, then ``positives`` (None: the diagonal)."""
    if isinstance(inputs[1], Tensor) and inputs[1].ndim == 2 and inputs[1].dtype != torch.bool:
        rows, cols, positives = inputs[0].shape[0], inputs[1].shape[0], inputs[2]
    else:
        (rows, cols), positives = inputs[0].shape, inputs[1]
    n_pos = rows if positives is None else int(positives.sum())
    return max(1.0, (rows * cols - n_pos) / max(1, n_pos))


class VSELoss(MarginLoss):
    """Hinge-based triplet ranking loss of VSE (sum of hinges) and VSE++ (hardest negative).

    ``loss = sum_{(i,p) positive} [sum_j or max_j] max(0, margin - s(i,p) + s(i,j))`` in the
    image -> text direction, plus the same with columns as queries (text -> image). Negatives
    are the entries that ``positives`` does not mark, so other captions of the same image are
    never negatives. Embeddings are used as given: normalise them for cosine similarity.

    Parameters
    ----------
    margin : float, default 0.2
    max_violation : bool, default False
        VSE++: only the hardest negative of each query.
    direction : {"both", "i2t", "t2i"}
    warmup_steps : int, default 0
        With ``max_violation=True``, use the sum of hinges for the first ``warmup_steps``
        training steps (forward calls in ``train()`` mode), then the hardest negative. Hard
        negatives from the start can collapse all embeddings to one point (vsepp issue #27).
        The step count is a buffer, saved in ``state_dict`` so a resumed run continues it.
    blend_steps : int, default 0
        With ``max_violation=True``, after the warm-up, move from the sum to the hardest
        negative over ``blend_steps`` steps: ``(1 - a) * sum / n_neg + a * max`` with ``a``
        rising linearly from 0 to ``blend_to`` (``n_neg``: negatives per positive pair, so
        both terms have the scale of one hinge per query). 0: switch at once.
    blend_to : float, default 1.0
        The final weight ``a`` of the hardest-negative term, in (0, 1]. Below 1 a share of
        the sum of hinges stays: where the model cannot yet rank most positives above the
        hardest negative of the batch (small data), the collapsed space where every hinge
        equals the margin (loss ``2 * B * margin``) has a lower pure-max loss than any real
        ranking, and VSE++ falls into it; with ``a < 1`` collapse costs the full margin on
        every negative of the sum term too, so it no longer pays.
    reduction : {"sum", "mean"}
        ``"sum"`` as VSE++; ``"mean"`` divides by the number of positive pairs.
    backend : {"auto", "rust", "torch"}
        Rust kernel on the CPU (float32/float64), torch ops on CUDA; ``"torch"`` forces torch.
    n_jobs : int, optional
        Threads of the Rust kernel.
    global_negatives : bool, default True
        Under a process group (data-parallel training), gather the embeddings of every rank
        so that the hardest negative is taken over the global batch (see
        :mod:`vislang.losses._distributed`); no effect in a single process.

    Examples
    --------
    >>> import torch
    >>> from vislang.losses import VSELoss
    >>> img = torch.nn.functional.normalize(torch.randn(4, 8), dim=1)
    >>> txt = torch.nn.functional.normalize(torch.randn(4, 8), dim=1)
    >>> loss = VSELoss(max_violation=True)(img, txt)
    >>> loss.shape
    torch.Size([])
    """

    num_steps: Tensor

    def __init__(
        self,
        margin: float = 0.2,
        max_violation: bool = False,
        *,
        direction: Direction = "both",
        warmup_steps: int = 0,
        blend_steps: int = 0,
        blend_to: float = 1.0,
        reduction: Reduction = "sum",
        backend: Backend = "auto",
        n_jobs: int | None = None,
        global_negatives: bool = True,
    ) -> None:
        super().__init__(
            margin, direction=direction, reduction=reduction, backend=backend, n_jobs=n_jobs
        )
        if warmup_steps < 0:
            raise InvalidInputError(f"warmup_steps: must be >= 0, got {warmup_steps}")
        if blend_steps < 0:
            raise InvalidInputError(f"blend_steps: must be >= 0, got {blend_steps}")
        if not 0.0 < float(blend_to) <= 1.0:
            raise InvalidInputError(f"blend_to: must be in (0, 1], got {blend_to}")
        if warmup_steps and not max_violation:
            raise InvalidInputError("warmup_steps: needs max_violation=True (sum -> max)")
        if blend_steps and not max_violation:
            raise InvalidInputError("blend_steps: needs max_violation=True (sum -> max)")
        self.max_violation = bool(max_violation)
        self.global_negatives = bool(global_negatives)
        self.warmup_steps = int(warmup_steps)
        self.blend_steps = int(blend_steps)
        self.blend_to = float(blend_to)
        self.register_buffer("num_steps", torch.zeros((), dtype=torch.long))

    @property
    def hard_negatives(self) -> bool:
        """Whether the next forward uses the hardest negative (after the warm-up)."""
        if not self.max_violation or self.warmup_steps == 0:
            return self.max_violation  # no read of the (possibly CUDA) step buffer
        return int(self.num_steps) >= self.warmup_steps

    @property
    def hard_weight(self) -> float:
        """Weight ``a`` of the hardest-negative term in the next forward (0: sum, 1: max)."""
        if not self.max_violation:
            return 0.0
        if self.warmup_steps == 0 and self.blend_steps == 0:
            return self.blend_to  # no read of the (possibly CUDA) step buffer
        step = int(self.num_steps) - self.warmup_steps
        if step < 0:
            return 0.0
        if self.blend_steps == 0:
            return self.blend_to
        return self.blend_to * min(1.0, (step + 1) / (self.blend_steps + 1))

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
        the same on every rank; ``image_ids`` (B,) / ``text_image_ids`` (C,) then mark an image
        and a caption of the same image held by different ranks as a positive pair.
        """
        if self.global_negatives and _distributed.active():
            image_emb, text_emb, positives = _distributed.gather_pairs(
                image_emb, text_emb, positives, image_ids, text_image_ids
            )
        return self._blend(F.contrastive_ranking_embeddings, image_emb, text_emb, positives)

    def forward_scores(self, scores: Tensor, positives: Tensor | None = None) -> Tensor:
        """Loss of a precomputed similarity matrix of shape (B, C)."""
        return self._blend(F.contrastive_ranking, scores, positives)

    def _blend(self, loss_fn: Any, *inputs: Any) -> Tensor:
        """``loss_fn`` with the sum, the max, or (during the blend) both; counts the step."""
        a = self.hard_weight
        if self.training:
            self.num_steps += 1

        def term(hard: bool) -> Tensor:
            out: Tensor = loss_fn(
                *inputs,
                self.margin,
                hard,
                direction=self.direction,
                reduction=self.reduction,
                backend=self.backend,
                n_jobs=self.n_jobs,
            )
            return out

        if a in (0.0, 1.0):
            return term(a == 1.0)
        return (1.0 - a) * term(False) / _negatives_per_positive(*inputs) + a * term(True)

    def extra_repr(self) -> str:
        return (
            f"margin={self.margin}, max_violation={self.max_violation}, "
            f"direction={self.direction!r}, warmup_steps={self.warmup_steps}, "
            f"blend_steps={self.blend_steps}, blend_to={self.blend_to}"
        )
