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


def _gather_plain(x: Tensor, sizes: list[int]) -> Tensor:
    import torch.distributed as dist

    top = max(sizes)
    padded = x.new_zeros((top, *x.shape[1:]))
    padded[: x.shape[0]] = x
    parts = [torch.empty_like(padded) for _ in sizes]
    dist.all_gather(parts, padded.contiguous())
    return torch.cat([p[:n] for p, n in zip(parts, sizes, strict=True)])


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
    """
    if not active():
        return image_emb, text_emb, positives
    dev = image_emb.device
    rows = _sizes(int(image_emb.shape[0]), dev)
    cols = _sizes(int(text_emb.shape[0]), dev)
    img: Tensor = _AllGather.apply(image_emb, rows)
    txt: Tensor = _AllGather.apply(text_emb, cols)
    if positives is None and image_ids is None and rows == cols:
        return img, txt, None
    local = positives
    if local is None:
        local = torch.eye(image_emb.shape[0], text_emb.shape[0], dtype=torch.bool, device=dev)
    blocks = _gather_plain(
        local.to(torch.uint8).flatten(), [r * c for r, c in zip(rows, cols, strict=True)]
    )
    mask = torch.zeros(sum(rows), sum(cols), dtype=torch.bool, device=dev)
    r0 = c0 = k = 0
    for r, c in zip(rows, cols, strict=True):
        mask[r0 : r0 + r, c0 : c0 + c] = blocks[k : k + r * c].view(r, c).bool()
        r0, c0, k = r0 + r, c0 + c, k + r * c
    if image_ids is not None:
        tids = image_ids if text_image_ids is None else text_image_ids
        gi = _gather_plain(image_ids.to(dev, torch.long), rows)
        gt = _gather_plain(tids.to(dev, torch.long), cols)
        mask |= gi[:, None] == gt[None, :]
    return img, txt, mask
