"""Global negatives: the ranking losses see the whole batch of every rank.

Under data parallelism each process holds ``B / world_size`` pairs; VSE++'s hardest negative
and InfoNCE's denominator should be taken over the global batch. :func:`all_gather_with_grad`
concatenates every rank's embeddings (rank order), and its backward pass sums the gradient of
the gathered tensor over the ranks and keeps this rank's rows (SimCLR's ``GatherLayer``; torch's
``torch.distributed.nn.all_gather`` needs reduce-scatter, which gloo lacks). Every rank then
computes the same global loss ``L``, and the gradient reaching rank ``r``'s embeddings is
``world_size * dL/d(emb_r)``: averaging parameter gradients over the ranks (what DDP and the
trainer do) gives exactly the gradient of one process on the global batch.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from vislang import _dist

__all__ = ["active", "all_gather_with_grad", "gather_pairs"]


def active() -> bool:
    """Whether losses should gather (a process group of more than one process is running)."""
    return _dist.is_active()


def _sizes(n: int, device: torch.device) -> list[int]:
    import torch.distributed as dist

    local = torch.tensor([n], dtype=torch.long, device=device)
    parts = [torch.empty_like(local) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, local)
    return [int(p) for p in parts]


class _AllGather(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, sizes: list[int]) -> Tensor:
        import torch.distributed as dist

        rank = dist.get_rank()
        ctx.rows = (sum(sizes[:rank]), sizes[rank])
        top = max(sizes)
        padded = x.new_zeros((top, *x.shape[1:]))
        padded[: x.shape[0]] = x
        parts = [torch.empty_like(padded) for _ in sizes]
        dist.all_gather(parts, padded.contiguous())
        parts[rank] = x.detach()  # bit-identical to the local input
        return torch.cat([p[:n] for p, n in zip(parts, sizes, strict=True)])

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        import torch.distributed as dist

        total = grad.contiguous().clone()
        dist.all_reduce(total)  # sum over ranks: every rank computed the same global loss
        start, n = ctx.rows
        return total[start : start + n], None


def all_gather_with_grad(x: Tensor) -> Tensor:
    """Every rank's ``x`` concatenated along dim 0 (rank order; sizes may differ), with a
    backward pass that sums the gradient over ranks and keeps this rank's rows.

    Without a process group (or with one process) ``x`` is returned unchanged.
    """
    if not active():
        return x
    sizes = _sizes(int(x.shape[0]), x.device)
    out: Tensor = _AllGather.apply(x, sizes)
    return out


class _AllGatherPair(torch.autograd.Function):
    """Both embedding matrices in one all-gather (one flat buffer per rank); the backward pass
    needs no communication (see ``backward``): one collective a step instead of four."""

    @staticmethod
    def forward(
        ctx: Any, a: Tensor, b: Tensor, rows: list[int], cols: list[int]
    ) -> tuple[Tensor, Tensor]:
        import torch.distributed as dist

        rank = dist.get_rank()
        ea, eb = math.prod(a.shape[1:]), math.prod(b.shape[1:])
        na, nb = max(rows) * ea, max(cols) * eb
        buf = a.new_zeros(na + nb)
        buf[: a.numel()] = a.reshape(-1)
        buf[na : na + b.numel()] = b.reshape(-1)
        parts = [torch.empty_like(buf) for _ in rows]
        dist.all_gather(parts, buf)
        ga = [p[: r * ea].view(r, *a.shape[1:]) for p, r in zip(parts, rows, strict=True)]
        gb = [p[na : na + c * eb].view(c, *b.shape[1:]) for p, c in zip(parts, cols, strict=True)]
        ga[rank], gb[rank] = a.detach(), b.detach()  # bit-identical to the local inputs
        ctx.rows = (sum(rows[:rank]), rows[rank])
        ctx.cols = (sum(cols[:rank]), cols[rank])
        ctx.world = len(rows)
        return torch.cat(ga), torch.cat(gb)

    @staticmethod
    def backward(ctx: Any, grad_a: Tensor, grad_b: Tensor) -> tuple[Tensor, Tensor, None, None]:
        # Every rank computed the same global loss from the same gathered tensors (the same
        # deterministic ops on the same values), so the sum over ranks of the gradient of this
        # rank's rows is world_size times the local one: exact (a power-of-two multiple when
        # world_size is 2), and no all-reduce is needed.
        world = ctx.world
        (ra, n), (rb, m) = ctx.rows, ctx.cols
        return grad_a[ra : ra + n] * world, grad_b[rb : rb + m] * world, None, None


def gather_pairs(
    image_emb: Tensor,
    text_emb: Tensor,
    positives: Tensor | None = None,
    image_ids: Tensor | None = None,
    text_image_ids: Tensor | None = None,
) -> tuple[Tensor, Tensor, Tensor | None]:
    """The global batch: both embeddings gathered with gradient, and the global positives.

    The global mask is block diagonal (each rank's own ``positives``, or its diagonal when
    None); with ``image_ids`` (B,) and ``text_image_ids`` (C,) an image and a caption of the
    same image on different ranks are positives too (otherwise they would be false negatives).
    With one square block per rank and no ids the global mask is the diagonal, returned as None.

    At most three collectives a step and none in the backward pass: the batch sizes, both
    embeddings in one buffer, and the masks and ids in one buffer. The backward pass relies on
    every rank computing the same loss from the gathered tensors (true of the VSE / VSE++ and
    InfoNCE losses, which call this): the gradient of this rank's rows summed over the ranks is
    then ``world_size`` times its own.
    """
    import torch.distributed as dist

    if not active():
        return image_emb, text_emb, positives
    dev = image_emb.device
    local = torch.tensor([image_emb.shape[0], text_emb.shape[0]], dtype=torch.long, device=dev)
    sizes = [torch.empty_like(local) for _ in range(dist.get_world_size())]
    dist.all_gather(sizes, local)
    rows, cols = [int(s[0]) for s in sizes], [int(s[1]) for s in sizes]
    if image_emb.dtype == text_emb.dtype and image_emb.device == text_emb.device:
        img, txt = _AllGatherPair.apply(image_emb, text_emb, rows, cols)
    else:
        img = _AllGather.apply(image_emb, rows)
        txt = _AllGather.apply(text_emb, cols)
    if positives is None and image_ids is None and rows == cols:
        return img, txt, None
    own = positives
    if own is None:
        own = torch.eye(image_emb.shape[0], text_emb.shape[0], dtype=torch.bool, device=dev)
    blocks = [r * c for r, c in zip(rows, cols, strict=True)]
    nm, nr, nc = max(blocks), max(rows), max(cols)
    buf = torch.zeros(nm + (nr + nc if image_ids is not None else 0), dtype=torch.long, device=dev)
    buf[: own.numel()] = own.flatten().to(torch.long)
    if image_ids is not None:
        tids = image_ids if text_image_ids is None else text_image_ids
        buf[nm : nm + len(image_ids)] = image_ids.to(dev, torch.long)
        buf[nm + nr : nm + nr + len(tids)] = tids.to(dev, torch.long)
    parts = [torch.empty_like(buf) for _ in rows]
    dist.all_gather(parts, buf)
    mask = torch.zeros(sum(rows), sum(cols), dtype=torch.bool, device=dev)
    r0 = c0 = 0
    for p, r, c in zip(parts, rows, cols, strict=True):
        mask[r0 : r0 + r, c0 : c0 + c] = p[: r * c].view(r, c).bool()
        r0, c0 = r0 + r, c0 + c
    if image_ids is not None:
        gi = torch.cat([p[nm : nm + r] for p, r in zip(parts, rows, strict=True)])
        gt = torch.cat([p[nm + nr : nm + nr + c] for p, c in zip(parts, cols, strict=True)])
        mask |= gi[:, None] == gt[None, :]
    return img, txt, mask
