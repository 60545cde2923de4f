"""Data parallelism for vislang's trainers: joining the group, equal weights on every rank, and
gradient averaging overlapped with the backward pass (what DDP's reducer does).

:func:`join` picks the device (``cuda:LOCAL_RANK`` under torchrun) and starts the group
(NCCL on CUDA, gloo on the CPU); :func:`broadcast_state` copies rank 0's parameters and
buffers to every rank (at the start, and the batch-norm statistics after each epoch, which
each rank otherwise updates from its own batches).

The parameters are split into buckets of about ``bucket_mb`` megabytes: at first in reverse
order of registration, then, after the first backward pass, in the order that pass finished
their gradients (rank 0's order, adopted by every rank: DDP's bucket rebuild). A
post-accumulate-grad hook on every parameter notes when its gradient is final; as soon as every
gradient of a bucket is, the bucket is copied into one flat buffer and its all-reduce starts
asynchronously, while autograd goes on with the earlier layers. :meth:`GradientSync.finish`
launches what is left (a parameter that got no gradient contributes zeros), waits, and writes
the averages back into ``.grad``.

Buckets start in index order on every rank, whatever order the hooks fire in, so the ranks'
collectives always match (gloo pairs them by order).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from typing import Any

import torch

from vislang import _dist
from vislang.models.image_encoders import resolve_device

__all__ = ["GradientSync", "broadcast_state", "embedding_tables", "join"]


def join(distributed: bool | None, device: str) -> tuple[torch.device, int, int]:
    """``(device, rank, world_size)`` for a trainer; starts the process group when asked.

    ``distributed=None``: data-parallel when torchrun set ``WORLD_SIZE`` or a group is
    running. Under torchrun with ``device`` "auto" or "cuda", each rank takes
    ``cuda:LOCAL_RANK``.
    """
    if distributed is None:
        distributed = _dist.launched_by_torchrun() or _dist.is_active()
    if distributed and "LOCAL_RANK" in os.environ and device in ("auto", "cuda"):
        if torch.cuda.is_available():
            device = f"cuda:{int(os.environ['LOCAL_RANK'])}"
    dev = resolve_device(device)
    if not distributed:
        return dev, 0, 1
    _dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    return dev, _dist.rank(), _dist.world_size()


def broadcast_state(module: torch.nn.Module, what: str, *, buffers_only: bool = False) -> None:
    """Rank 0's parameters and buffers (or only its buffers) on every rank."""
    if buffers_only:
        tensors = [b for b in module.buffers() if b.is_floating_point()]
    else:
        tensors = [t for t in module.state_dict().values() if isinstance(t, torch.Tensor)]

    def run(d: Any, _group: Any) -> None:
        for t in tensors:
            d.broadcast(t, src=0)

    _dist.collective(what, run)


def embedding_tables(module: torch.nn.Module) -> list[torch.nn.Parameter]:
    """The weights of ``module``'s embedding layers (row-sparse gradients)."""
    kinds = (torch.nn.Embedding, torch.nn.EmbeddingBag)
    return [
        p
        for m in module.modules()
        if isinstance(m, kinds)
        for p in m.parameters(recurse=False)
        if p.requires_grad and p.ndim == 2
    ]


class GradientSync:
    """Average the gradients of ``params`` over the ranks, bucket by bucket during backward.

    Parameters
    ----------
    params : sequence of Parameter
        Trainable parameters (every rank passes the same list, in the same order).
    world_size : int
    bucket_mb : float
        Bucket size in megabytes (float32: 1 MB = 262,144 values); 0 puts every parameter
        in one bucket, reduced after the backward pass (no overlap).
    row_sparse : sequence of Parameter
        Embedding tables among ``params``: a step's gradient touches only the rows of the
        words in the batch, so only those rows travel (see :class:`_RowExchange`).
    row_sparse_min_mb : float
        Smaller tables travel densely in the buckets: a collective fewer a step, and on one
        machine a collective's latency costs about as much as moving 2 MB.
    """

    def __init__(
        self,
        params: Sequence[torch.nn.Parameter],
        world_size: int,
        bucket_mb: float,
        row_sparse: Sequence[torch.nn.Parameter] = (),
        row_sparse_min_mb: float = 4.0,
    ):
        self.world_size = world_size
        least = row_sparse_min_mb * 2**20
        sparse = {
            id(p)
            for p in row_sparse
            if p.requires_grad and p.ndim == 2 and p.numel() * p.element_size() >= least
        }
        self._rows = [_RowExchange(p) for p in params if id(p) in sparse]
        self._params = [
            p for p in reversed(list(params)) if p.requires_grad and id(p) not in sparse
        ]
        self._cap = bucket_mb * 2**20
        self._bucket(range(len(self._params)))
        # The order in which the first backward pass finished the gradients (rank 0's is
        # adopted by every rank): the buckets are rebuilt in it once, as DDP's reducer does.
        self._seen: list[int] | None = []
        self._index = {id(p): i for i, p in enumerate(self._params)}
        self._armed = False
        self._pending = [0] * len(self.buckets)
        self._next = 0
        self._flat: list[torch.Tensor | None] = [None] * len(self.buckets)
        self._works: list[Any] = []
        self._handles = [
            p.register_post_accumulate_grad_hook(self._ready)  # type: ignore[no-untyped-call]
            for p in self._params
        ]

    def _bucket(self, order: Iterable[int]) -> None:
        """Split the parameters, taken in ``order``, into buckets of about ``_cap`` bytes."""
        self.buckets: list[list[torch.nn.Parameter]] = []
        size = 0.0
        for p in (self._params[i] for i in order):
            nbytes = p.numel() * p.element_size()
            last = self.buckets[-1] if self.buckets else None
            fits = (
                last is not None
                and (self._cap <= 0 or size + nbytes <= self._cap)
                and last[0].dtype == p.dtype
                and last[0].device == p.device
            )
            if fits:
                assert last is not None
                last.append(p)
                size += nbytes
            else:
                self.buckets.append([p])
                size = nbytes
        self._bucket_of = {id(p): i for i, b in enumerate(self.buckets) for p in b}
        # one flat buffer per bucket, kept across steps (a fresh 26 MB tensor a step costs
        # its page faults again every step)
        self._buffers: list[torch.Tensor | None] = [None] * len(self.buckets)

    def _rebuild(self, what: str) -> None:
        """Buckets in the order rank 0's first backward pass finished the gradients (those
        it never saw last, in reverse registration order)."""
        seen = _dist.broadcast_object(self._seen or [], what=f"{what}: gradient order")
        self._seen = None
        order = list(dict.fromkeys(int(i) for i in seen))
        known = set(order)
        order += [i for i in range(len(self._params)) if i not in known]
        self._bucket(order)

    def remove(self) -> None:
        """Detach the hooks from the parameters."""
        for h in self._handles:
            h.remove()
        self._handles = []

    def arm(self) -> None:
        """Before a backward pass whose gradients should be averaged."""
        self._armed = True
        self._pending = [len(b) for b in self.buckets]
        self._next = 0
        self._flat = [None] * len(self.buckets)
        self._works = []

    def _ready(self, p: torch.Tensor) -> None:
        if not self._armed:
            return
        if self._seen is not None:
            self._seen.append(self._index[id(p)])
        i = self._bucket_of[id(p)]
        self._pending[i] -= 1
        while self._next < len(self.buckets) and self._pending[self._next] <= 0:
            self._launch(self._next)
            self._next += 1

    def _launch(self, i: int) -> None:
        grads = []
        for p in self.buckets[i]:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
            grads.append(p.grad.reshape(-1))
        buf = self._buffers[i]
        if buf is None:
            buf = self._buffers[i] = torch.empty(
                sum(g.numel() for g in grads), dtype=grads[0].dtype, device=grads[0].device
            )
        flat = torch.cat(grads, out=buf)
        self._flat[i] = flat
        d = _dist._dist()
        self._works.append(None if d is None else d.all_reduce(flat, async_op=True))

    def finish(self, what: str) -> None:
        """Launch the buckets not started yet, wait for every all-reduce and write the
        averaged gradients back (a :class:`~vislang.exceptions.DistributedError` naming the
        late ranks when a peer died or hung)."""
        self._armed = False

        def run(d: Any, _group: Any) -> None:
            while self._next < len(self.buckets):
                self._launch(self._next)
                self._next += 1
            for table in self._rows:  # while the buckets' all-reduces run
                table.average(d, self.world_size)
            for w in self._works:
                if w is not None:
                    w.wait()

        _dist.collective(what, run)
        for bucket, flat in zip(self.buckets, self._flat, strict=True):
            assert flat is not None
            flat /= self.world_size
            start = 0
            for p in bucket:
                assert p.grad is not None
                n = p.numel()
                p.grad.copy_(flat[start : start + n].view_as(p.grad))
                start += n
        if self._seen is not None:
            self._rebuild(what)
        self._flat = [None] * len(self.buckets)
        self._works = []


class _RowExchange:
    """Average an embedding table's gradient over the ranks by sending only its non-zero rows.

    A step's gradient of a (V, d) embedding is zero outside the rows of the words in the
    batch (a few hundred of ~10k for VSE++ on COCO), so a dense all-reduce moves almost only
    zeros. Every rank packs its row count, row ids and rows into one byte buffer, padded to a
    capacity every rank agrees on (learnt from the same gathered counts, with 25% slack), and
    one all-gather a step exchanges them; each rank adds the rows up in rank order (for two
    ranks exactly the dense sum), in place and touching only those rows. A step that needs
    more rows than the capacity gathers once more at the new capacity; once half the table
    travels, the table is all-reduced densely.
    """

    def __init__(self, param: torch.nn.Parameter) -> None:
        self.param = param
        self.capacity = 0
        self.dense = False

    def _layout(self) -> tuple[int, int]:
        """(bytes per row, offset of the rows) of the packed buffer: count, ids, rows."""
        return self.param.shape[1] * self.param.element_size(), 8 * (1 + self.capacity)

    def _pack(self, ids: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        (row_bytes, start), n = self._layout(), int(ids.numel())
        buf = torch.zeros(start + self.capacity * row_bytes, dtype=torch.uint8, device=ids.device)
        buf[:8] = torch.tensor([n], dtype=torch.long, device=ids.device).view(torch.uint8)
        if n <= self.capacity:
            buf[8 : 8 * (1 + n)] = ids.view(torch.uint8)
            buf[start : start + n * row_bytes] = rows.reshape(-1).view(torch.uint8)
        return buf

    def average(self, d: Any, world_size: int) -> None:
        p = self.param
        if p.grad is None:
            p.grad = torch.zeros_like(p)
        grad = p.grad
        if not self.dense:
            self._exchange_rows(d, world_size, grad)
        if self.dense:  # already, or since this step: most of the table travels
            d.all_reduce(grad)
            grad /= world_size

    def _exchange_rows(self, d: Any, world_size: int, grad: torch.Tensor) -> None:
        ids = grad.abs().amax(1).nonzero().reshape(-1)  # rows with a non-zero (or NaN)
        rows = grad.index_select(0, ids)
        while True:
            buf = self._pack(ids, rows)
            parts = [torch.empty_like(buf) for _ in range(world_size)]
            d.all_gather(parts, buf)
            counts = [int(part[:8].view(torch.long)) for part in parts]
            if max(counts) <= self.capacity:
                break
            self.capacity = math.ceil(1.25 * max(counts))
            if 2 * self.capacity >= grad.shape[0]:  # most of the table: dense from now on
                self.dense = True
                return
        # Rows no rank touched are zero everywhere; this rank's own rows are cleared and every
        # rank's rows added in rank order, so all ranks get the same sums (the dense sum for
        # two ranks), touching only those rows.
        grad.index_fill_(0, ids, 0)
        row_bytes, start = self._layout()
        got = []
        for part, n in zip(parts, counts, strict=True):
            got.append(part[8 : 8 * (1 + n)].view(torch.long))
            vals = part[start : start + n * row_bytes].view(grad.dtype).view(n, grad.shape[1])
            grad.index_add_(0, got[-1], vals)
        union = torch.unique(torch.cat(got))
        grad.index_copy_(0, union, grad.index_select(0, union) / world_size)
