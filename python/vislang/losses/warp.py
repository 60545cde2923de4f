"""WARP: Weighted Approximate-Rank Pairwise loss (Weston, Bengio & Usunier 2011, WSABIE)."""

from __future__ import annotations

from torch import Tensor

from vislang.exceptions import InvalidInputError
from vislang.losses import functional as F
from vislang.losses._checks import Backend, Direction, Reduction
from vislang.losses.base import MarginLoss

__all__ = ["WARPLoss"]


class WARPLoss(MarginLoss):
    """WARP loss: sampled violating negatives weighted by the estimated rank.

    For each positive pair, negatives are drawn until one violates the margin; after ``t``
    draws among ``n_neg`` negatives the rank is estimated as ``floor(n_neg / t)`` and the hinge
    is weighted by ``L(rank) = sum_{k<=rank} 1/k``, which optimises precision at the top of the
    ranking. See :func:`vislang.losses.functional.warp`.

    Parameters
    ----------
    margin : float, default 1.0
        WSABIE's margin.
    direction : {"i2t", "t2i", "both"}, default "i2t"
    max_trials : int, optional
        Draws per positive pair; default the number of negatives.
    seed : int, optional
        With an int, call ``k`` of this module uses seed ``seed + k`` (reproducible and
        different each step). ``None``: the base seed is drawn once from torch's global
        generator. The base seed and the call count are buffers (see
        :class:`~vislang.losses.base.MarginLoss`): a run resumed from ``state_dict`` draws
        the same negatives as one that never stopped.
    reduction, backend, n_jobs
        As :class:`vislang.losses.VSELoss`.
    """

    samples_negatives = True

    def __init__(
        self,
        margin: float = 1.0,
        *,
        direction: Direction = "i2t",
        max_trials: int | None = None,
        seed: int | None = None,
        reduction: Reduction = "sum",
        backend: Backend = "auto",
        n_jobs: int | None = None,
    ) -> None:
        super().__init__(
            margin,
            direction=direction,
            reduction=reduction,
            backend=backend,
            n_jobs=n_jobs,
            seed=seed,
        )
        if max_trials is not None and max_trials < 1:
            raise InvalidInputError(f"max_trials: must be >= 1, got {max_trials}")
        self.max_trials = max_trials

    def forward_scores(self, scores: Tensor, positives: Tensor | None = None) -> Tensor:
        """Loss of a precomputed similarity matrix of shape (B, C)."""
        seed = self.next_seed()
        return F.warp(
            scores,
            positives,
            self.margin,
            direction=self.direction,
            max_trials=self.max_trials,
            seed=seed,
            reduction=self.reduction,
            backend=self.backend,
            n_jobs=self.n_jobs,
        )

    def extra_repr(self) -> str:
        return f"margin={self.margin}, direction={self.direction!r}, max_trials={self.max_trials}"
