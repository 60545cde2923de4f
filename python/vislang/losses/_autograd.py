"""``torch.autograd.Function`` wrappers of the Rust kernels (CPU, float32/float64).

The forward pass calls the kernel, which returns the loss and ``dL/dS`` in one pass over ``S``;
the gradient is kept for the backward pass, which only scales it. ``scores`` is read through
NumPy without a copy when it is C-contiguous (otherwise one contiguous copy is made), and it must
not be modified by another thread during the call (the kernel runs without the GIL).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from vislang import _core


def _numpy_inputs(scores: Tensor, positives: Tensor | None) -> tuple[Any, Any]:
    s = scores.detach().contiguous().numpy()
    p = None if positives is None else np.ascontiguousarray(positives.detach().numpy())
    return s, p


def _keep(
    ctx: Any,
    inputs: tuple[Tensor, ...],
    positives: Tensor | None,
    grad: Any,
    kernel: Callable[[Any, Any], Any],
) -> None:
    # `inputs` are saved (no copy; autograd checks they are not modified in place) for a rerun
    # of `kernel`; the mask is not differentiable and is kept as is.
    ctx.positives = positives
    ctx.save_for_backward(*inputs)
    ctx.grad = [torch.from_numpy(grad)]
    ctx.recompute = kernel


def _take_grad(ctx: Any, scores: Callable[[], Tensor]) -> Tensor:
    """The kernel's ``dL/dS``: handed over (not copied) on the first backward, so that a leaf
    ``scores`` can take the buffer as its ``.grad``; recomputed from ``scores()`` if the graph
    is run backward again (``retain_graph=True``, gradcheck)."""
    if ctx.grad:
        grad: Tensor = ctx.grad.pop()
        return grad
    s, p = _numpy_inputs(scores(), ctx.positives)
    return torch.from_numpy(ctx.recompute(s, p)[1])


def _scaled(grad: Tensor, grad_output: Tensor) -> Tensor:
    # loss.backward() passes exactly 1: hand back the kernel's buffer without another B x C pass.
    if grad_output.numel() == 1 and float(grad_output) == 1.0:
        return grad
    return grad * grad_output.to(grad.dtype)


def _ranking_kernel(
    margin: float, max_violation: bool, direction: str, n_threads: int | None
) -> Callable[[Any, Any], Any]:
    """``(scores, positives) -> (loss, dL/dS)`` with these settings (kept for a rerun)."""

    def kernel(s: Any, p: Any) -> Any:
        return _core.contrastive_ranking(
            s,
            p,
            margin=margin,
            max_violation=max_violation,
            direction=direction,
            n_threads=n_threads,
        )

    return kernel


class RankingFunction(torch.autograd.Function):
    """Triplet margin loss of a score matrix (``_core.contrastive_ranking``)."""

    @staticmethod
    def forward(
        ctx: Any,
        scores: Tensor,
        positives: Tensor | None,
        margin: float,
        max_violation: bool,
        direction: str,
        n_threads: int | None,
    ) -> Tensor:
        kernel = _ranking_kernel(margin, max_violation, direction, n_threads)
        loss, grad = kernel(*_numpy_inputs(scores, positives))
        _keep(ctx, (scores,), positives, grad, kernel)
        return scores.new_tensor(loss)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_output: Tensor) -> tuple[Tensor | None, ...]:
        grad = _take_grad(ctx, lambda: ctx.saved_tensors[0])
        return _scaled(grad, grad_output), None, None, None, None, None


class EmbeddingRankingFunction(torch.autograd.Function):
    """Triplet margin loss of ``image_emb @ text_emb.T`` in one graph node.

    The forward computes the scores (one GEMM, not recorded) and calls the kernel; the backward
    is ``dS @ T`` and ``dS^T @ I``: two GEMMs, or, when ``dS`` is sparse (hardest negatives
    only), sums over its non-zeros. Same result as ``RankingFunction`` on the product (up to the
    order of floating-point sums), without the product's own autograd node.
    """

    @staticmethod
    def forward(
        ctx: Any,
        image_emb: Tensor,
        text_emb: Tensor,
        positives: Tensor | None,
        margin: float,
        max_violation: bool,
        direction: str,
        n_threads: int | None,
    ) -> Tensor:
        # Autograd is off inside forward; autocast is not: without this, AMP on the CPU would
        # turn the product of float32 embeddings into bfloat16, which the kernel cannot read.
        if _autocast_on(image_emb.device.type):
            with torch.autocast(image_emb.device.type, enabled=False):
                scores = image_emb @ text_emb.t()
        else:  # entering the context costs more than a small batch's product
            scores = image_emb @ text_emb.t()
        kernel = _ranking_kernel(margin, max_violation, direction, n_threads)
        loss, grad = kernel(*_numpy_inputs(scores, positives))
        _keep(ctx, (image_emb, text_emb), positives, grad, kernel)
        return scores.new_tensor(loss)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_output: Tensor) -> tuple[Tensor | None, ...]:
        image_emb, text_emb = ctx.saved_tensors
        grad = _scaled(_take_grad(ctx, lambda: image_emb @ text_emb.t()), grad_output)
        want_image, want_text = ctx.needs_input_grad[:2]
        grad_image, grad_text = _embedding_grads(grad, image_emb, text_emb, want_image, want_text)
        return grad_image, grad_text, None, None, None, None, None


def _autocast_on(device_type: str) -> bool:
    try:
        return bool(torch.is_autocast_enabled(device_type))
    except TypeError:  # torch < 2.4: no device argument
        if device_type == "cpu":
            return bool(torch.is_autocast_cpu_enabled())
        return bool(torch.is_autocast_enabled())


# dS with at most this fraction of non-zeros is multiplied as a sparse matrix. The hardest-
# negative loss (VSE++) has at most four non-zeros per positive pair, so its backward costs
# O(B d) instead of two B x C x D GEMMs.
SPARSE_FRACTION = 1 / 16


def _embedding_grads(
    grad: Tensor, image_emb: Tensor, text_emb: Tensor, want_image: bool, want_text: bool
) -> tuple[Tensor | None, Tensor | None]:
    """``dS @ T`` and ``dS^T @ I``: two GEMMs, or gathers and scatters of the non-zeros."""
    rows, cols = grad.shape
    if int(torch.count_nonzero(grad)) > SPARSE_FRACTION * rows * cols:
        return (
            grad @ text_emb if want_image else None,
            grad.t() @ image_emb if want_text else None,
        )
    i, j = grad.nonzero().unbind(1)
    weight = grad[i, j].unsqueeze(1)
    grad_image = grad_text = None
    if want_image:
        grad_image = torch.zeros_like(image_emb).index_add_(0, i, text_emb[j] * weight)
    if want_text:
        grad_text = torch.zeros_like(text_emb).index_add_(0, j, image_emb[i] * weight)
    return grad_image, grad_text


class WarpFunction(torch.autograd.Function):
    """WARP loss of a score matrix (``_core.warp``)."""

    @staticmethod
    def forward(
        ctx: Any,
        scores: Tensor,
        positives: Tensor | None,
        margin: float,
        direction: str,
        seed: int,
        max_trials: int | None,
        n_threads: int | None,
    ) -> Tensor:

        def kernel(s: Any, p: Any) -> Any:
            return _core.warp(
                s,
                p,
                margin=margin,
                direction=direction,
                seed=seed,
                max_trials=max_trials,
                n_threads=n_threads,
            )

        loss, grad = kernel(*_numpy_inputs(scores, positives))
        _keep(ctx, (scores,), positives, grad, kernel)
        return torch.tensor(loss, dtype=scores.dtype)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_output: Tensor) -> tuple[Tensor | None, ...]:
        grad = _take_grad(ctx, lambda: ctx.saved_tensors[0])
        return _scaled(grad, grad_output), None, None, None, None, None, None
