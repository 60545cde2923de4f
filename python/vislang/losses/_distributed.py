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


class _WithLocalRows(torch.autograd.Function):
    """Every rank's rows concatenated (rank order), this rank's own rows being the local
    tensors, so that they carry the gradient. No communication in the backward pass (see
    ``backward``)."""

    @staticmethod
    def forward(
        ctx: Any,
        a: Tensor,
        b: Tensor,
        parts_a: list[Tensor],
        parts_b: list[Tensor],
        rank: int,
    ) -> tuple[Tensor, Tensor]:
        parts_a, parts_b = list(parts_a), list(parts_b)
        parts_a[rank], parts_b[rank] = a.detach(), b.detach()  # bit-identical to the inputs
        ctx.rows = (sum(len(p) for p in parts_a[:rank]), len(a))
        ctx.cols = (sum(len(p) for p in parts_b[:rank]), len(b))
        ctx.world = len(parts_a)
        return torch.cat(parts_a), torch.cat(parts_b)

    @staticmethod
    def backward(
        ctx: Any, grad_a: Tensor, grad_b: Tensor
    ) -> tuple[Tensor, Tensor, None, None, None]:
        # Every rank computed the same global loss from the same gathered tensors (the same
        # deterministic ops on the same values), so the sum over ranks of the gradient of this
        # rank's rows is world_size times the local one: exact (a power-of-two multiple when
        # world_size is 2), and no all-reduce is needed.
        world = ctx.world
        (ra, n), (rb, m) = ctx.rows, ctx.cols
        return grad_a[ra : ra + n] * world, grad_b[rb : rb + m] * world, None, None, None


#: Per-rank capacity (rows, cols) of the packed all-gather, by group and tensor layout. Every
#: rank of a group updates it from the same gathered headers, so the ranks always agree.
_capacity: dict[Any, tuple[int, int]] = {}
_ALIGN = 8  # bytes: every part of the packed buffer starts aligned for any dtype's view


def _nbytes(count: int, dtype: torch.dtype) -> int:
    size = count * torch.empty((), dtype=dtype).element_size()
    return -(-size // _ALIGN) * _ALIGN


class _Layout:
    """Byte offsets of the packed buffer for capacity ``(cr, cc)``: a header (both sizes),
    both embeddings, and optionally the positives block and both id vectors."""

    def __init__(
        self, cap: tuple[int, int], a: Tensor, b: Tensor, with_mask: bool, with_ids: bool
    ) -> None:
        cr, cc = cap
        self.ea, self.eb = math.prod(a.shape[1:]), math.prod(b.shape[1:])
        self.tail_a, self.tail_b = tuple(a.shape[1:]), tuple(b.shape[1:])
        self.dtype_a, self.dtype_b = a.dtype, b.dtype
        sizes = [
            ("header", _nbytes(2, torch.long)),
            ("a", _nbytes(cr * self.ea, a.dtype)),
            ("b", _nbytes(cc * self.eb, b.dtype)),
        ]
        if with_mask:
            sizes.append(("mask", _nbytes(cr * cc, torch.uint8)))
        if with_ids:
            sizes += [("ids_a", _nbytes(cr, torch.long)), ("ids_b", _nbytes(cc, torch.long))]
        self.offset: dict[str, int] = {}
        total = 0
        for name, n in sizes:
            self.offset[name] = total
            total += n
        self.total = total

    def put(self, buf: Tensor, name: str, t: Tensor) -> None:
        raw = t.contiguous().reshape(-1).view(torch.uint8)
        o = self.offset[name]
        buf[o : o + raw.numel()] = raw

    def get(self, buf: Tensor, name: str, dtype: torch.dtype, count: int) -> Tensor:
        o = self.offset[name]
        n = count * torch.empty((), dtype=dtype).element_size()
        return buf[o : o + n].view(dtype)


def _exchange(
    cap: tuple[int, int],
    a: Tensor,
    b: Tensor,
    mask: Tensor | None,
    ids_a: Tensor | None,
    ids_b: Tensor | None,
) -> tuple[_Layout, list[Tensor], list[int], list[int]]:
    """One all-gather of this rank's packed buffer; every rank's buffer and sizes."""
    import torch.distributed as dist

    lay = _Layout(cap, a, b, mask is not None, ids_a is not None)
    buf = torch.zeros(lay.total, dtype=torch.uint8, device=a.device)
    lay.put(buf, "header", torch.tensor([len(a), len(b)], dtype=torch.long))
    if len(a) <= cap[0] and len(b) <= cap[1]:  # otherwise only the header is read
        lay.put(buf, "a", a.detach())
        lay.put(buf, "b", b.detach())
        if mask is not None:
            lay.put(buf, "mask", mask.to(torch.uint8))
        if ids_a is not None and ids_b is not None:
            lay.put(buf, "ids_a", ids_a.to(a.device, torch.long))
            lay.put(buf, "ids_b", ids_b.to(a.device, torch.long))
    parts = [torch.empty_like(buf) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, buf)
    heads = [lay.get(p, "header", torch.long, 2).tolist() for p in parts]
    return lay, parts, [int(h[0]) for h in heads], [int(h[1]) for h in heads]


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

    One collective a step, none in the backward pass: every rank's sizes, embeddings, and
    (when given) positives and ids travel in one byte buffer padded to a capacity that every
    rank knows, the largest batch seen so far. A batch larger than that costs one more
    all-gather once (the first step, or a larger batch later). The backward pass relies on
    every rank computing the same loss from the gathered tensors (true of the VSE / VSE++ and
    InfoNCE losses, which call this): the gradient of this rank's rows summed over the ranks is
    then ``world_size`` times its own.
    """
    import torch.distributed as dist

    if not active():
        return image_emb, text_emb, positives
    dev = image_emb.device
    text_emb = text_emb.to(dev)  # the loss compares them on one device anyway
    rank = dist.get_rank()
    n, m = int(image_emb.shape[0]), int(text_emb.shape[0])
    with_mask = positives is not None or image_ids is not None
    mask = ids_a = ids_b = None
    if with_mask:
        mask = positives if positives is not None else torch.eye(n, m, dtype=torch.bool)
        mask = mask.to(dev)
    if image_ids is not None:
        ids_a = image_ids
        ids_b = image_ids if text_image_ids is None else text_image_ids
    key = (
        id(dist.group.WORLD),
        image_emb.dtype,
        tuple(image_emb.shape[1:]),
        text_emb.dtype,
        tuple(text_emb.shape[1:]),
        with_mask,
        ids_a is not None,
    )
    cap = _capacity.get(key, (0, 0))
    lay, parts, rows, cols = _exchange(cap, image_emb, text_emb, mask, ids_a, ids_b)
    if max(rows) > cap[0] or max(cols) > cap[1]:
        cap = (max(cap[0], *rows), max(cap[1], *cols))
        lay, parts, rows, cols = _exchange(cap, image_emb, text_emb, mask, ids_a, ids_b)
    _capacity[key] = cap
    parts_a = [
        lay.get(p, "a", lay.dtype_a, r * lay.ea).view(r, *lay.tail_a)
        for p, r in zip(parts, rows, strict=True)
    ]
    parts_b = [
        lay.get(p, "b", lay.dtype_b, c * lay.eb).view(c, *lay.tail_b)
        for p, c in zip(parts, cols, strict=True)
    ]
    img, txt = _WithLocalRows.apply(image_emb, text_emb, parts_a, parts_b, rank)
    if not with_mask:
        if rows == cols:
            return img, txt, None
        out = torch.zeros(sum(rows), sum(cols), dtype=torch.bool, device=dev)
        r0 = c0 = 0
        for r, c in zip(rows, cols, strict=True):
            out[r0 : r0 + r, c0 : c0 + c] = torch.eye(r, c, dtype=torch.bool, device=dev)
            r0, c0 = r0 + r, c0 + c
        return img, txt, out
    out = torch.zeros(sum(rows), sum(cols), dtype=torch.bool, device=dev)
    r0 = c0 = 0
    for p, r, c in zip(parts, rows, cols, strict=True):
        out[r0 : r0 + r, c0 : c0 + c] = lay.get(p, "mask", torch.uint8, r * c).view(r, c).bool()
        r0, c0 = r0 + r, c0 + c
    if ids_a is not None:
        gi = torch.cat(
            [lay.get(p, "ids_a", torch.long, r) for p, r in zip(parts, rows, strict=True)]
        )
        gt = torch.cat(
            [lay.get(p, "ids_b", torch.long, c) for p, c in zip(parts, cols, strict=True)]
        )
        out |= gi[:, None] == gt[None, :]
    return img, txt, out
