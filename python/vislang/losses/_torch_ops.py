"""The losses in plain torch ops: the CUDA path, with the semantics of the Rust kernels.

Semantics shared with ``rust/vislang-core/src/negatives.rs``: a negative of a query is any
entry of its row (image -> text) or column (text -> image) that is not positive; a hinge exactly
at zero is inactive (``relu``, not ``clamp``, whose gradient at 0 is 1); the hardest negative is
the first maximum (``argmax``); the loss is the sum over positive pairs of both directions.
"""

from __future__ import annotations

import torch
from torch import Tensor


def _positive_columns(pos: Tensor) -> tuple[Tensor, Tensor]:
    """Column indices of each row's positives, ascending, padded: (B, k) and a validity mask."""
    counts = pos.sum(dim=1)
    k = max(int(counts.max()), 1)
    if k == 1:
        idx = pos.to(torch.uint8).argmax(dim=1, keepdim=True)  # first True
    else:
        idx = torch.sort(pos.to(torch.uint8), dim=1, descending=True, stable=True).indices[:, :k]
    valid = torch.arange(k, device=pos.device) < counts[:, None]  # (B, k)
    return idx, valid


def _ranking_rows(scores: Tensor, pos: Tensor, margin: float, max_violation: bool) -> Tensor:
    """Image -> text half: rows are queries. scores, pos: (B, C)."""
    idx, valid = _positive_columns(pos)
    pos_thr = margin - scores.gather(1, idx)  # (B, k)
    if max_violation:
        neg = scores.masked_fill(pos, float("-inf"))
        hard = neg.gather(1, neg.argmax(dim=1, keepdim=True))  # (B, 1), first maximum
        hinge = torch.relu(pos_thr + hard)  # (B, k)
        return torch.where(valid, hinge, 0.0).sum()
    hinge = torch.relu(pos_thr[:, :, None] + scores[:, None, :])  # (B, k, C)
    keep = valid[:, :, None] & ~pos[:, None, :]
    return torch.where(keep, hinge, 0.0).sum()


def ranking(
    scores: Tensor, pos: Tensor, margin: float, max_violation: bool, direction: str
) -> Tensor:
    """Sum of hinges (or hardest-negative hinges) of both directions; pos is a bool (B, C)."""
    loss = scores.new_zeros(())
    if direction in ("both", "i2t"):
        loss = loss + _ranking_rows(scores, pos, margin, max_violation)
    if direction in ("both", "t2i"):
        loss = loss + _ranking_rows(scores.t(), pos.t(), margin, max_violation)
    return loss


def _warp_rows(
    scores: Tensor,
    pos: Tensor,
    margin: float,
    max_trials: int | None,
    generator: torch.Generator | None,
) -> Tensor:
    """WARP with rows as queries: all trials are drawn at once, the first violation wins."""
    n_items = scores.shape[1]
    qi, pj = pos.nonzero(as_tuple=True)  # positive pairs, row-major order
    n_neg = n_items - pos.sum(dim=1)[qi]  # (P,)
    limit = n_neg if max_trials is None else n_neg.clamp(max=max_trials)
    n_trials = max(int(limit.max()), 1) if len(qi) else 1
    u = torch.rand(
        len(qi), n_trials, generator=generator, device=scores.device, dtype=torch.float64
    )
    # Uniform in [0, n_neg); the minimum guards against rounding up to n_neg.
    r = torch.minimum((u * n_neg[:, None]).long(), (n_neg - 1).clamp(min=0)[:, None])
    # Ascending negatives of each row first: the r-th negative, as nth_negative() in Rust.
    negatives = torch.sort(pos.to(torch.uint8), dim=1, stable=True).indices  # (B, C)
    j = negatives[qi].gather(1, r)  # (P, T)
    thr = margin - scores[qi, pj]  # (P,)
    trial = torch.arange(n_trials, device=scores.device)
    viol = ((thr[:, None] + scores[qi[:, None], j]) > 0) & (trial < limit[:, None])
    hit = viol.any(dim=1)
    first = viol.to(torch.uint8).argmax(dim=1)  # first violating draw
    weights = torch.cumsum(
        1.0 / torch.arange(1, n_items + 1, dtype=torch.float64, device=scores.device), 0
    )
    weights = torch.cat([weights.new_zeros(1), weights]).to(scores.dtype)  # L(0..n_items)
    w = weights[n_neg // (first + 1)]
    jstar = j.gather(1, first[:, None])[:, 0]
    hinge = thr + scores[qi, jstar]
    return torch.where(hit, w * hinge, 0.0).sum()


def warp(
    scores: Tensor,
    pos: Tensor,
    margin: float,
    direction: str,
    max_trials: int | None,
    generator: torch.Generator | None,
) -> Tensor:
    """WARP (Weston 2011) with torch's random numbers; pos is a bool (B, C)."""
    loss = scores.new_zeros(())
    if direction in ("both", "i2t"):
        loss = loss + _warp_rows(scores, pos, margin, max_trials, generator)
    if direction in ("both", "t2i"):
        loss = loss + _warp_rows(scores.t(), pos.t(), margin, max_trials, generator)
    return loss


def info_nce(scores: Tensor, pos: Tensor, temperature: Tensor | float, direction: str) -> Tensor:
    """Mean over positive pairs of ``-log(e^{s_p/t} / (e^{s_p/t} + sum_neg e^{s_j/t}))``.

    Each positive competes only with the negatives of its query (other positives of the same
    query are left out); both directions are averaged as in CLIP.
    """
    logits = scores / temperature
    parts = []
    if direction in ("both", "i2t"):
        parts.append(_info_nce_rows(logits, pos))
    if direction in ("both", "t2i"):
        parts.append(_info_nce_rows(logits.t(), pos.t()))
    return torch.stack(parts).mean()


def _info_nce_rows(logits: Tensor, pos: Tensor) -> Tensor:
    # A finite fill keeps rows without negatives free of NaN: softplus(min - s) = 0.
    fill = torch.finfo(logits.dtype).min
    lse_neg = torch.logsumexp(logits.masked_fill(pos, fill), dim=1, keepdim=True)  # (B, 1)
    terms = torch.nn.functional.softplus(lse_neg - logits)  # (B, C)
    return torch.where(pos, terms, 0.0).sum() / pos.sum()
