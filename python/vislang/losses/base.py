"""The shared base of the margin ranking losses (VSE/VSE++, WARP, DeViSE).

:class:`MarginLoss` holds what every hinge loss takes (margin, direction, reduction, backend,
threads) and the one forward contract ``forward(image_emb, text_emb, positives=None)``, which
computes the similarity and calls ``forward_scores``. Losses that sample negatives (WARP) keep
their random state in two buffers, so ``state_dict`` carries it and a resumed run draws the
same negatives as an uninterrupted one (pytorch-metric-learning keeps miners stateless; a
loss with a counter must checkpoint it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from vislang.exceptions import InvalidInputError
from vislang.losses import functional as F
from vislang.losses._checks import DIRECTIONS, Backend, Direction, Reduction, check_choice

__all__ = ["MarginLoss"]

_NOT_DRAWN = -1
_SEED_MOD = 2**62


class MarginLoss(nn.Module):
    """Base class of the hinge (margin) ranking losses.

    Parameters
    ----------
    margin : float
    direction : {"both", "i2t", "t2i"}
        Which queries the hinges are taken over (rows, columns, or both).
    reduction : {"sum", "mean"}
    backend : {"auto", "rust", "torch"}
        Rust kernel on the CPU (float32/float64), torch ops elsewhere.
    n_jobs : int, optional
        Threads of the Rust kernel.
    seed : int, optional
        Only for losses that sample negatives (class attribute ``samples_negatives``):
        call ``k`` (counted in ``state_dict``) uses seed ``seed + k``. ``None`` draws the
        base seed once, at the first sampled call, from torch's global generator (so
        ``torch.manual_seed`` makes a run reproducible) and keeps it in ``state_dict`` too.

    Attributes
    ----------
    sample_seed : Tensor
        Buffer of sampling losses: the base seed of the draws (``-1`` until drawn, with
        ``seed=None``).
    sample_calls : Tensor
        Buffer of sampling losses: sampled calls made so far.
    """

    samples_negatives: ClassVar[bool] = False
    sample_seed: Tensor
    sample_calls: Tensor

    def __init__(
        self,
        margin: float,
        *,
        direction: Direction = "both",
        reduction: Reduction = "sum",
        backend: Backend = "auto",
        n_jobs: int | None = None,
        seed: int | None = None,
        directions: Sequence[str] = DIRECTIONS,
    ) -> None:
        super().__init__()
        check_choice(direction, "direction", tuple(directions))
        check_choice(reduction, "reduction", ("sum", "mean"))
        check_choice(backend, "backend", ("auto", "rust", "torch"))
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise InvalidInputError(f"seed: must be None or an int, got {seed!r}")
        self.margin = float(margin)
        self.direction: Direction = direction
        self.reduction: Reduction = reduction
        self.backend: Backend = backend
        self.n_jobs = n_jobs
        self.seed = seed
        if self.samples_negatives:
            start = _NOT_DRAWN if seed is None else int(seed) % _SEED_MOD
            self.register_buffer("sample_seed", torch.tensor(start, dtype=torch.long))
            self.register_buffer("sample_calls", torch.zeros((), dtype=torch.long))

    def forward(
        self, image_emb: Tensor, text_emb: Tensor, positives: Tensor | None = None
    ) -> Tensor:
        """Loss of image_emb (B, D) against text_emb (C, D); positives (B, C), default diagonal."""
        return self.forward_scores(F.similarity(image_emb, text_emb), positives)

    def forward_scores(self, scores: Tensor, positives: Tensor | None = None) -> Tensor:
        """Loss of a precomputed similarity matrix of shape (B, C)."""
        raise NotImplementedError

    def next_seed(self) -> int:
        """The seed of this call's draws, and count the call (state kept in buffers)."""
        if int(self.sample_seed) == _NOT_DRAWN:
            self.sample_seed.fill_(int(torch.randint(0, _SEED_MOD, (1,)).item()))
        seed = (int(self.sample_seed) + int(self.sample_calls)) % _SEED_MOD
        self.sample_calls += 1
        return seed

    def _load_from_state_dict(
        self,
        state_dict: dict[str, Any],
        prefix: str,
        local_metadata: dict[str, Any],
        strict: bool,
        missing_keys: list[str],
        unexpected_keys: list[str],
        error_msgs: list[str],
    ) -> None:
        # Checkpoints written before the sampling state was a buffer lack these keys: keep
        # the current (fresh) state rather than refuse the file.
        for name in ("sample_seed", "sample_calls") if self.samples_negatives else ():
            state_dict.setdefault(prefix + name, getattr(self, name).detach().clone())
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )

    def extra_repr(self) -> str:
        return f"margin={self.margin}, direction={self.direction!r}"
