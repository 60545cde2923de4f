"""Functional forms of the losses, taking a similarity matrix ``scores`` of shape (B, C).

Rows of ``scores`` are images (queries of image -> text retrieval), columns texts or labels.
``positives`` is a bool mask of shape (B, C) marking the matching pairs (default: the diagonal of
a square ``scores``); every other entry of a query's row or column is a negative, so other
captions of the same image are never negatives when the mask marks them.

On the CPU (float32/float64) the margin losses run in the Rust kernel, which computes the loss
and ``dL/dscores`` in one parallel pass without the GIL; elsewhere (CUDA, half precision) or
with ``backend="torch"`` they run as torch ops with the same semantics.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from vislang._validation import threads_from
from vislang.exceptions import InvalidInputError
from vislang.losses import _torch_ops
from vislang.losses._autograd import EmbeddingRankingFunction, RankingFunction, WarpFunction
from vislang.losses._checks import (
    DIRECTIONS,
    RUST_DTYPES,
    Backend,
    Direction,
    Reduction,
    check_choice,
    check_embeddings,
    check_finite_rows,
    check_positives,
    check_queries_have_positives,
    check_scores,
    n_positive_pairs,
    use_rust,
)

__all__ = [
    "contrastive_ranking",
    "contrastive_ranking_embeddings",
    "info_nce",
    "same_image_mask",
    "similarity",
    "warp",
]


def similarity(image_emb: Tensor, text_emb: Tensor) -> Tensor:
    """Validated ``image_emb @ text_emb.T``.

    Parameters
    ----------
    image_emb : Tensor of shape (B, D)
    text_emb : Tensor of shape (C, D)

    Returns
    -------
    Tensor of shape (B, C)

    Raises
    ------
    InvalidInputError
        Not 2-D, empty, different dimension, dtype or device, or NaN/inf (the message names
        the first bad row).
    """
    check_embeddings(image_emb, text_emb)
    return image_emb @ text_emb.t()  # (B, C)


def same_image_mask(image_ids: Tensor, text_image_ids: Tensor | None = None) -> Tensor:
    """Positives mask from image ids: ``mask[i, j] = image_ids[i] == text_image_ids[j]``.

    Use it when a batch holds several captions of one image (or one image twice), so that
    those captions are positives rather than negatives (vsepp treats them as negatives).

    Parameters
    ----------
    image_ids : integer Tensor of shape (B,)
        The image of each row of ``scores``.
    text_image_ids : integer Tensor of shape (C,), optional
        The image each text describes; default ``image_ids`` (a batch of (image, caption) pairs).

    Returns
    -------
    bool Tensor of shape (B, C)

    Examples
    --------
    >>> import torch
    >>> same_image_mask(torch.tensor([7, 7, 3]))
    tensor([[ True,  True, False],
            [ True,  True, False],
            [False, False,  True]])
    """
    cols = image_ids if text_image_ids is None else text_image_ids
    for name, t in (("image_ids", image_ids), ("text_image_ids", cols)):
        if not isinstance(t, Tensor) or t.ndim != 1 or t.is_floating_point():
            raise InvalidInputError(f"{name} must be a 1-D integer tensor")
    return image_ids[:, None] == cols.to(image_ids.device)[None, :]


def _check_margin(margin: float) -> float:
    m = float(margin)
    if m != m or m in (float("inf"), float("-inf")):
        raise InvalidInputError(f"margin: must be finite, got {margin}")
    return m


def _diagonal(scores: Tensor) -> Tensor:
    return torch.eye(scores.shape[0], dtype=torch.bool, device=scores.device)


def _square_cpu_scores(scores: object) -> bool:
    """A non-empty square float32/float64 CPU matrix: every check of the Rust path passes."""
    if not isinstance(scores, Tensor) or scores.dtype not in RUST_DTYPES or not scores.is_cpu:
        return False
    shape = scores.shape
    return len(shape) == 2 and shape[0] == shape[1] and shape[0] > 0


def _finite_loss(loss: Tensor, scores: Tensor) -> Tensor:
    """Raise instead of returning an inf/NaN loss from finite scores (overflowing margin
    violations). Checked on CPU only: on a GPU it would cost a device sync per step."""
    if not loss.is_cpu:
        return loss
    # A scalar's Python float is checked in about a microsecond; a tensor op costs tens.
    finite = math.isfinite(loss.item()) if loss.numel() == 1 else bool(torch.isfinite(loss).all())
    if not finite:
        top = float(scores.detach().abs().max())
        raise InvalidInputError(
            f"the loss is {float(loss.detach().sum())}: margin violations overflow {scores.dtype} "
            f"(scores up to {top:.1e}); rescale the scores (e.g. L2-normalise the embeddings)"
        )
    return loss


def _reduce(loss: Tensor, reduction: str, positives: Tensor | None, scores: Tensor) -> Tensor:
    check_choice(reduction, "reduction", ("sum", "mean"))
    _finite_loss(loss, scores)
    if reduction == "mean":
        return loss / n_positive_pairs(positives, scores)
    return loss


def contrastive_ranking(
    scores: Tensor,
    positives: Tensor | None = None,
    margin: float = 0.2,
    max_violation: bool = False,
    *,
    direction: Direction = "both",
    reduction: Reduction = "sum",
    backend: Backend = "auto",
    n_jobs: int | None = None,
) -> Tensor:
    """Triplet margin ranking loss of a score matrix (VSE, or VSE++ with ``max_violation``).

    For each positive pair ``(i, p)`` and each negative ``j`` of the query, the hinge
    ``max(0, margin - S[i, p] + S[i, j])`` (image -> text: ``j`` runs over row ``i``; text ->
    image: over column ``p``). ``max_violation=False`` sums the hinges of all negatives
    (Kiros et al. 2014); ``True`` keeps only the hardest negative of each query (Faghri et al.
    2018, ties go to the lowest index). A hinge exactly at zero has zero gradient.

    Parameters
    ----------
    scores : Tensor of shape (B, C)
        Similarities, e.g. ``image_emb @ text_emb.T``. On the CPU a non-contiguous tensor is
        copied once; it must not be modified by another thread during the call.
    positives : bool Tensor of shape (B, C), optional
        Matching pairs; default the diagonal (``scores`` must then be square).
    margin : float
    max_violation : bool
        Hardest negative only (VSE++) instead of the sum over negatives (VSE).
    direction : {"both", "i2t", "t2i"}
        Image -> text (rows are queries), text -> image (columns), or their sum.
    reduction : {"sum", "mean"}
        ``"sum"`` as VSE++; ``"mean"`` divides by the number of positive pairs.
    backend : {"auto", "rust", "torch"}
        ``"auto"``: the Rust kernel for float32/float64 CPU tensors, torch ops otherwise.
    n_jobs : int, optional
        Threads of the Rust kernel (default: all, or ``RAYON_NUM_THREADS``). Score matrices
        with fewer than 2**17 entries (e.g. 128 x 128) run on the calling thread, which is
        faster than waking a pool. The result does not depend on it.

    Returns
    -------
    Tensor
        A scalar of the dtype of ``scores``.

    Raises
    ------
    InvalidInputError
        Bad shapes, an empty or non-finite ``scores``, a non-square ``scores`` without
        ``positives``, or a query without a positive.

    Examples
    --------
    >>> import torch
    >>> from vislang.losses.functional import contrastive_ranking
    >>> s = torch.tensor([[0.9, 0.8], [0.1, 0.5]], requires_grad=True)
    >>> loss = contrastive_ranking(s, margin=0.2)
    >>> round(loss.item(), 4)  # row 0: 0.2 - 0.9 + 0.8; column 1: 0.2 - 0.5 + 0.8
    0.6
    >>> loss.backward()
    >>> s.grad
    tensor([[-1.,  2.],
            [ 0., -1.]])
    """
    if positives is None and _square_cpu_scores(scores) and reduction == "sum":
        # The common training call, with the checks below folded into a few attribute reads.
        check_choice(direction, "direction", DIRECTIONS)
        check_choice(backend, "backend", ("auto", "rust", "torch"))
        if backend != "torch":
            return _finite_loss(
                RankingFunction.apply(
                    scores,
                    None,
                    _check_margin(margin),
                    bool(max_violation),
                    direction,
                    threads_from(n_jobs),
                ),
                scores,
            )
    check_scores(scores)
    check_choice(direction, "direction", DIRECTIONS)
    m = _check_margin(margin)
    pos = check_positives(positives, scores)
    if use_rust(scores, backend):
        loss = RankingFunction.apply(
            scores, pos, m, bool(max_violation), direction, threads_from(n_jobs)
        )
    else:
        check_finite_rows(scores.detach(), "scores")
        mask = _diagonal(scores) if pos is None else pos
        check_queries_have_positives(mask, direction)
        loss = _torch_ops.ranking(scores, mask, m, bool(max_violation), direction)
    return _reduce(loss, reduction, pos, scores)


def contrastive_ranking_embeddings(
    image_emb: Tensor,
    text_emb: Tensor,
    positives: Tensor | None = None,
    margin: float = 0.2,
    max_violation: bool = False,
    *,
    direction: Direction = "both",
    reduction: Reduction = "sum",
    backend: Backend = "auto",
    n_jobs: int | None = None,
) -> Tensor:
    """:func:`contrastive_ranking` of ``image_emb @ text_emb.T``, from the embeddings.

    Same loss and gradients as ``contrastive_ranking(image_emb @ text_emb.T, ...)``. On the
    CPU (Rust kernel) the product, the loss and its backward GEMMs (``dS @ T``, ``dS^T @ I``)
    form one autograd node, which saves the product's own node: it matters for small batches,
    where autograd's bookkeeping is a good part of a training step. :class:`VSELoss` calls this.

    Parameters
    ----------
    image_emb : Tensor of shape (B, D)
    text_emb : Tensor of shape (C, D)
        Same dtype and device as ``image_emb``.
    positives, margin, max_violation, direction, reduction, backend, n_jobs
        As :func:`contrastive_ranking`.

    Returns
    -------
    Tensor
        A scalar of the dtype of the embeddings.

    Raises
    ------
    InvalidInputError
        As :func:`contrastive_ranking`, and for embeddings that are not 2-D, are empty, differ
        in dimension, dtype or device, or hold NaN/inf (the message names the first bad row).

    Examples
    --------
    >>> import torch
    >>> from vislang.losses.functional import contrastive_ranking_embeddings
    >>> img = torch.tensor([[1.0, 0.0], [0.0, 1.0]], requires_grad=True)
    >>> txt = torch.tensor([[0.5, 0.5], [1.0, 0.0]])
    >>> loss = contrastive_ranking_embeddings(img, txt, margin=0.2)
    >>> round(loss.item(), 4)  # scores [[0.5, 1.0], [0.5, 0.0]]: 0.7 + 0.7 (rows) + 0.2 + 1.2
    2.8
    >>> loss.backward()
    >>> img.grad  # dS = [[-2, 2], [2, -2]] times txt
    tensor([[ 1., -1.],
            [-1.,  1.]])
    """
    check_embeddings(image_emb, text_emb, finite=False)
    check_choice(direction, "direction", DIRECTIONS)
    check_choice(reduction, "reduction", ("sum", "mean"))
    m = _check_margin(margin)
    # Shape, dtype and device of the scores, without computing them.
    probe = image_emb.new_empty(1).expand(image_emb.shape[0], text_emb.shape[0])
    pos = check_positives(positives, probe)
    if not use_rust(probe, backend):
        check_embeddings(image_emb, text_emb)
        scores = image_emb @ text_emb.t()
        return contrastive_ranking(
            scores,
            pos,
            m,
            max_violation,
            direction=direction,
            reduction=reduction,
            backend=backend,
            n_jobs=n_jobs,
        )
    try:
        loss = EmbeddingRankingFunction.apply(
            image_emb, text_emb, pos, m, bool(max_violation), direction, threads_from(n_jobs)
        )
    except InvalidInputError:
        check_embeddings(image_emb, text_emb)  # names the embedding row behind a bad score
        raise
    return _reduce(loss, reduction, pos, probe)


def warp(
    scores: Tensor,
    positives: Tensor | None = None,
    margin: float = 1.0,
    *,
    direction: Direction = "i2t",
    max_trials: int | None = None,
    seed: int | None = None,
    reduction: Reduction = "sum",
    backend: Backend = "auto",
    n_jobs: int | None = None,
) -> Tensor:
    """WARP loss (Weston, Bengio & Usunier 2011) of a score matrix.

    For each positive pair ``(i, p)``, negatives ``j`` are drawn uniformly (with replacement)
    until ``margin - S[i, p] + S[i, j] > 0`` or ``max_trials`` draws; after ``t`` draws the rank
    of ``p`` is estimated as ``floor(n_neg / t)`` and the violating hinge is weighted by
    ``L(rank) = sum_{k=1..rank} 1/k``. Pairs with no violation found contribute nothing.

    Parameters
    ----------
    scores : Tensor of shape (B, C)
    positives : bool Tensor of shape (B, C), optional
        Default the diagonal.
    margin : float
    direction : {"i2t", "t2i", "both"}
        Default image -> label/text, as WSABIE.
    max_trials : int, optional
        Draws per positive pair; default ``n_neg`` (the paper's ``Y - 1``).
    seed : int, optional
        Seed of the draws. ``None`` draws one from torch's global generator, so
        ``torch.manual_seed`` makes a run reproducible. The Rust kernel (CPU) and torch ops
        (CUDA) use different random streams: same distribution, different draws.
    reduction, backend, n_jobs
        As :func:`contrastive_ranking`.

    Returns
    -------
    Tensor
        A scalar of the dtype of ``scores``.
    """
    check_scores(scores)
    check_choice(direction, "direction", DIRECTIONS)
    m = _check_margin(margin)
    if max_trials is not None and int(max_trials) < 1:
        raise InvalidInputError(f"max_trials: must be >= 1, got {max_trials}")
    pos = check_positives(positives, scores)
    rust = use_rust(scores, backend)
    if seed is None:
        seed = int(torch.randint(0, 2**62, (1,)).item()) if rust else None
    if rust:
        loss = WarpFunction.apply(
            scores, pos, m, direction, int(seed or 0) % 2**64, max_trials, threads_from(n_jobs)
        )
    else:
        check_finite_rows(scores.detach(), "scores")
        mask = _diagonal(scores) if pos is None else pos
        check_queries_have_positives(mask, direction)
        gen = None
        if seed is not None:
            gen = torch.Generator(device=scores.device).manual_seed(int(seed) % 2**63)
        loss = _torch_ops.warp(scores, mask, m, direction, max_trials, gen)
    return _reduce(loss, reduction, pos, scores)


def info_nce(
    scores: Tensor,
    positives: Tensor | None = None,
    temperature: Tensor | float = 0.07,
    *,
    direction: Direction = "both",
) -> Tensor:
    """InfoNCE / CLIP contrastive loss of a score matrix (torch ops on every device).

    For each positive pair ``(i, p)``: ``-log(exp(S[i,p]/t) / (exp(S[i,p]/t) + sum_j
    exp(S[i,j]/t)))`` over the negatives ``j`` of the query, averaged over positive pairs and
    then over the directions. With the diagonal as positives this is CLIP's symmetric
    cross-entropy.

    Parameters
    ----------
    scores : Tensor of shape (B, C)
    positives : bool Tensor of shape (B, C), optional
    temperature : float or scalar Tensor
        Must be > 0; a tensor may require grad (learnable temperature).
    direction : {"both", "i2t", "t2i"}

    Returns
    -------
    Tensor
        A scalar.
    """
    check_scores(scores)
    check_choice(direction, "direction", DIRECTIONS)
    t = float(temperature.detach()) if isinstance(temperature, Tensor) else float(temperature)
    if not (t > 0 and t < float("inf")):
        raise InvalidInputError(f"temperature: must be finite and > 0, got {t}")
    pos = check_positives(positives, scores)
    check_finite_rows(scores.detach(), "scores")
    mask = _diagonal(scores) if pos is None else pos
    check_queries_have_positives(mask, direction)
    return _torch_ops.info_nce(scores, mask, temperature, direction)
