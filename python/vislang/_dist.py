"""torch.distributed as NumPy code sees it: the few collectives vislang uses, with errors that
name a rank instead of hanging.

Base layer: imports only NumPy and the standard library at import time. ``torch`` is looked up
in ``sys.modules`` (no process group can exist before torch is imported), so asking "is a
group running?" costs nothing in a process that never imported torch.

Every collective goes through :func:`collective`, which

- records in the group's key-value store how many collectives this rank has entered, so that
  when one fails (a peer died: gloo fails at once; a peer hangs: the group's timeout fires),
  the :class:`~vislang.exceptions.DistributedError` names the ranks that never reached it;
- runs on a gloo group, so NumPy buffers stay on the CPU even when the default group is NCCL.

Sums are reduced in a fixed order (rank 0 + rank 1 + ...) after an all-gather rather than by
the backend's all-reduce, whose order depends on the algorithm and the timing: every rank ends
with bit-identical float64 totals, and one run is repeatable.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from vislang.exceptions import DistributedError, InvalidInputError

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "agree",
    "all_gather_object",
    "barrier",
    "broadcast_object",
    "collective",
    "init_process_group",
    "is_active",
    "launched_by_torchrun",
    "local",
    "rank",
    "sum_float64",
    "timeout_seconds",
    "world_size",
]

#: Collective timeout when ``VISLANG_DIST_TIMEOUT`` is not set (seconds).
DEFAULT_TIMEOUT_S = 600.0

_T = TypeVar("_T")
_state: dict[str, Any] = {"count": 0, "cpu_group": None, "group_id": None, "local": 0}


def _dist() -> Any | None:
    """``torch.distributed`` when a process group is initialised, else None."""
    mod = sys.modules.get("torch.distributed")
    if mod is None or not mod.is_available() or not mod.is_initialized():
        return None
    return mod


def is_active() -> bool:
    """Whether a process group of more than one process is running (and not set aside by
    :func:`local`)."""
    if _state["local"]:
        return False
    d = _dist()
    return d is not None and int(d.get_world_size()) > 1


@contextlib.contextmanager
def local() -> Iterator[None]:
    """Within this block, vislang's collectives act as if this process were alone (a fit that
    was not asked to be distributed, run while a process group exists)."""
    _state["local"] += 1
    try:
        yield
    finally:
        _state["local"] -= 1


def rank() -> int:
    """This process's rank (0 without a process group, or inside :func:`local`)."""
    d = _dist()
    return 0 if d is None or _state["local"] else int(d.get_rank())


def world_size() -> int:
    """Number of processes in the group (1 without a process group, or inside :func:`local`)."""
    d = _dist()
    return 1 if d is None or _state["local"] else int(d.get_world_size())


def launched_by_torchrun() -> bool:
    """Whether the environment of torchrun (``WORLD_SIZE`` > 1, ``RANK``) is set."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1")) > 1 and "RANK" in os.environ
    except ValueError:
        return False


def timeout_seconds() -> float:
    """The collective timeout: ``VISLANG_DIST_TIMEOUT`` (seconds) or :data:`DEFAULT_TIMEOUT_S`."""
    raw = os.environ.get("VISLANG_DIST_TIMEOUT")
    if raw is None:
        return DEFAULT_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise InvalidInputError(f"VISLANG_DIST_TIMEOUT: must be a number > 0, got {raw!r}")
    return value


def init_process_group(
    backend: str | None = None,
    *,
    init_method: str | None = None,
    rank: int | None = None,
    world_size: int | None = None,
    timeout: float | None = None,
) -> bool:
    """Join (or create) the default process group; False if one is already initialised.

    Without arguments it reads torchrun's environment (``init_method="env://"``). ``backend``
    defaults to NCCL when CUDA is available, else gloo. ``timeout`` (seconds, default
    :func:`timeout_seconds`) bounds every collective: a rank that dies or hangs makes the
    others fail with :class:`~vislang.exceptions.DistributedError` after at most this long.
    """
    from vislang._deps import require

    require("torch", "vislang.distributed")
    import torch
    import torch.distributed as dist

    if dist.is_initialized():
        return False
    if backend is None:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    seconds = timeout_seconds() if timeout is None else float(timeout)
    kwargs: dict[str, Any] = {"timeout": datetime.timedelta(seconds=seconds)}
    if rank is not None:
        kwargs["rank"] = int(rank)
    if world_size is not None:
        kwargs["world_size"] = int(world_size)
    dist.init_process_group(backend, init_method=init_method or "env://", **kwargs)
    # A process that exits with the group still up aborts in gloo's threads ("terminate
    # called without an active exception"): take down the group we made at exit.
    atexit.register(_destroy)
    return True


def _destroy() -> None:
    d = _dist()
    if d is not None:
        d.destroy_process_group()


def _cpu_group(d: Any) -> Any:
    """A gloo group for NumPy buffers (None: the default group, when it is gloo already)."""
    gid = id(d.group.WORLD)
    if _state["group_id"] != gid:
        _state["group_id"], _state["count"] = gid, 0
        _state["cpu_group"] = None if d.get_backend() == "gloo" else d.new_group(backend="gloo")
    return _state["cpu_group"]


def _store(d: Any) -> Any | None:
    try:
        return d.distributed_c10d._get_default_store()
    except (AttributeError, RuntimeError, ValueError):
        return None


def _behind(d: Any, store: Any, count: int) -> str:
    """The ranks that have not entered collective number ``count`` (best effort)."""
    if store is None:
        return "unknown ranks"
    me, late = int(d.get_rank()), []
    try:
        store.set_timeout(datetime.timedelta(seconds=2))
        for r in range(int(d.get_world_size())):
            key = f"vislang/collectives/{r}"
            if r != me and (not store.check([key]) or int(store.get(key)) < count):
                late.append(r)
    except Exception:  # the store itself may live on the dead rank
        return "unknown ranks (the rendezvous store is unreachable: rank 0 may have died)"
    if not late:
        return "no rank recorded as missing (a peer may have failed inside it)"
    return "rank " + ", ".join(map(str, late))


def collective(what: str, fn: Callable[[Any, Any], _T]) -> _T:
    """Run ``fn(dist, group)``; turn a failure into a DistributedError naming the late ranks."""
    d = _dist()
    if d is None:
        raise DistributedError(f"{what}: no process group is initialised")
    group = _cpu_group(d)
    _state["count"] += 1
    count = _state["count"]
    store = _store(d)
    if store is not None:
        store.set(f"vislang/collectives/{d.get_rank()}", str(count))
    try:
        return fn(d, group)
    except Exception as e:
        late = _behind(d, store, count)
        raise DistributedError(
            f"{what} (collective #{count}) failed on rank {d.get_rank()} of "
            f"{d.get_world_size()}; not reached by {late} (died, hung past the "
            f"{timeout_seconds():g} s timeout, or out of step): {type(e).__name__}: {e}"
        ) from e


def all_gather_object(obj: Any, what: str = "all_gather_object") -> list[Any]:
    """Every rank's ``obj`` (picklable), in rank order."""
    if not is_active():
        return [obj]

    def run(d: Any, group: Any) -> list[Any]:
        out: list[Any] = [None] * int(d.get_world_size())
        d.all_gather_object(out, obj, group=group)
        return out

    return collective(what, run)


def broadcast_object(obj: Any, src: int = 0, what: str = "broadcast") -> Any:
    """Rank ``src``'s ``obj`` on every rank."""
    if not is_active():
        return obj

    def run(d: Any, group: Any) -> Any:
        box = [obj]
        d.broadcast_object_list(box, src=src, group=group)
        return box[0]

    return collective(what, run)


def barrier(what: str = "barrier") -> None:
    """Wait for every rank (bounded by the group's timeout)."""
    if is_active():
        collective(what, lambda d, group: d.barrier(group=group))


def sum_float64(arrays: Sequence[NDArray[Any]], what: str = "sum") -> list[NDArray[np.float64]]:
    """Sum each array over the ranks in float64, in rank order (bit-identical everywhere).

    One all-gather of the flattened arrays (``world_size`` times their size arrives at each
    rank; for the k-means statistics, ``k * (d + 2)`` floats per rank and iteration).
    """
    flat = np.concatenate([np.asarray(a, dtype=np.float64).ravel() for a in arrays])
    if is_active():
        import torch

        def run(d: Any, group: Any) -> NDArray[np.float64]:
            local = torch.from_numpy(flat)
            parts = [torch.empty_like(local) for _ in range(int(d.get_world_size()))]
            d.all_gather(parts, local, group=group)
            total = parts[0].numpy().copy()
            for p in parts[1:]:
                total += p.numpy()
            return total

        flat = collective(what, run)
    out, start = [], 0
    for a in arrays:
        size = int(np.asarray(a).size)
        out.append(flat[start : start + size].reshape(np.shape(a)))
        start += size
    return out


def agree(facts: dict[str, Any], problem: str | None = None, *, what: str) -> list[dict[str, Any]]:
    """Check that every rank holds the same ``facts`` and that no rank has a ``problem``.

    Every rank raises the same :class:`~vislang.exceptions.InvalidInputError` (so none is left
    waiting in the next collective): the first fact the ranks disagree on, with each rank's
    value, or each rank's problem. Returns every rank's facts.
    """
    gathered = all_gather_object((facts, problem), f"{what}: checking the ranks agree")
    problems = [f"rank {r}: {p}" for r, (_, p) in enumerate(gathered) if p]
    if problems:
        raise InvalidInputError(f"{what}: " + "; ".join(problems))
    for key in facts:
        values = [f[key] for f, _ in gathered]
        if any(v != values[0] for v in values[1:]):
            each = ", ".join(f"rank {r} has {v!r}" for r, v in enumerate(values))
            raise InvalidInputError(f"{what}: the ranks disagree on {key}: {each}")
    return [f for f, _ in gathered]
