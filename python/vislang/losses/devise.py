"""DeViSE (Frome et al. 2013): hinge rank loss of projected images against label embeddings."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from vislang.exceptions import InvalidInputError
from vislang.losses import functional as F
from vislang.losses._checks import Backend, Reduction, check_choice
from vislang.losses.base import MarginLoss

__all__ = ["DeViSELoss"]


class DeViSELoss(MarginLoss):
    """DeViSE's hinge rank loss: ``sum_{j != label} max(0, margin - t_label.v + t_j.v)``.

    ``v`` is the image mapped into the word-embedding space (``M x`` in the paper) and ``t_j``
    the embedding of label ``j``. Only the image -> label direction is used. With
    ``sampling="warp"`` the sum over wrong labels is replaced by WARP's rank-weighted sampled
    violator (Weston 2011).

    Parameters
    ----------
    margin : float, default 0.1
        The paper's margin.
    sampling : {"all", "warp"}
    max_trials, seed
        WARP options (``sampling="warp"``), see :class:`vislang.losses.WARPLoss`.
    reduction : {"sum", "mean"}, default "mean"
        ``"mean"`` averages over images.
    backend, n_jobs
        As :class:`vislang.losses.VSELoss`.
    """

    samples_negatives = True

    def __init__(
        self,
        margin: float = 0.1,
        *,
        sampling: Literal["all", "warp"] = "all",
        max_trials: int | None = None,
        seed: int | None = None,
        reduction: Reduction = "mean",
        backend: Backend = "auto",
        n_jobs: int | None = None,
    ) -> None:
        super().__init__(
            margin,
            direction="i2t",
            reduction=reduction,
            backend=backend,
            n_jobs=n_jobs,
            seed=seed,
        )
        check_choice(sampling, "sampling", ("all", "warp"))
        self.sampling = sampling
        self.max_trials = max_trials

    def forward(  # type: ignore[override]
        self, image_emb: Tensor, label_emb: Tensor, target: Tensor
    ) -> Tensor:
        """Loss of image_emb (B, D) against label_emb (L, D).

        ``target`` is a (B,) integer tensor of label indices, or a (B, L) bool mask (several
        correct labels per image).
        """
        scores = F.similarity(image_emb, label_emb)  # (B, L)
        positives = self._positives(target, scores)
        if self.sampling == "all":
            return F.contrastive_ranking(
                scores,
                positives,
                self.margin,
                False,
                direction="i2t",
                reduction=self.reduction,
                backend=self.backend,
                n_jobs=self.n_jobs,
            )
        return F.warp(
            scores,
            positives,
            self.margin,
            direction="i2t",
            max_trials=self.max_trials,
            seed=self.next_seed(),
            reduction=self.reduction,
            backend=self.backend,
            n_jobs=self.n_jobs,
        )

    @staticmethod
    def _positives(target: Tensor, scores: Tensor) -> Tensor:
        n, n_labels = scores.shape
        if not isinstance(target, Tensor):
            raise InvalidInputError(f"target must be a torch.Tensor, got {type(target).__name__}")
        if target.ndim == 2:
            return target
        if target.ndim != 1 or target.shape[0] != n:
            raise InvalidInputError(
                f"target must have shape ({n},) or ({n}, {n_labels}), got {tuple(target.shape)}"
            )
        if target.is_floating_point() or target.dtype == torch.bool:
            raise InvalidInputError(f"target must hold integer labels, got {target.dtype}")
        bad = (target < 0) | (target >= n_labels)
        if bool(bad.any()):
            i = int(bad.nonzero()[0, 0])
            raise InvalidInputError(
                f"target[{i}]={int(target[i])} is not a label index in [0, {n_labels})"
            )
        return torch.nn.functional.one_hot(target.long(), n_labels).bool()

    def extra_repr(self) -> str:
        return f"margin={self.margin}, sampling={self.sampling!r}"
