"""Run a function on ``n`` local processes joined in a gloo group (tests, notebooks, benches).

torchrun is the launcher for real jobs; this is the small one-machine case, with a
``file://`` rendezvous in a fresh temporary folder (no port to pick, so parallel runs never
clash) and a collective timeout on every rank.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vislang._deps import require
from vislang.exceptions import InvalidInputError

__all__ = ["launch"]


def _entry(
    index: int,
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    world: int,
    folder: str,
    timeout: float,
    threads: int | None,
) -> None:
    import torch

    from vislang import _dist

    if threads is not None:
        torch.set_num_threads(threads)
        os.environ["RAYON_NUM_THREADS"] = str(threads)
    os.environ["VISLANG_DIST_TIMEOUT"] = str(timeout)
    _dist.init_process_group(
        "gloo",
        init_method=f"file://{folder}/rendezvous",
        rank=index,
        world_size=world,
        timeout=timeout,
    )
    try:
        result = fn(index, *args)
        with open(Path(folder) / f"result-{index}.pkl", "wb") as f:
            pickle.dump(result, f)
    finally:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()


def launch(
    fn: Callable[..., Any],
    nprocs: int,
    *args: Any,
    timeout: float = 60.0,
    threads: int | None = 1,
    start_method: str = "spawn",
) -> list[Any]:
    """Call ``fn(rank, *args)`` on ``nprocs`` new processes in one gloo group; their results.

    Parameters
    ----------
    fn : callable
        A module-level function (it is pickled by name into each process).
    nprocs : int
        Processes (ranks 0..nprocs-1).
    timeout : float
        Collective timeout (seconds) of the group: a rank that dies or hangs makes the others
        raise :class:`~vislang.exceptions.DistributedError` within about this long.
    threads : int or None
        torch and rayon threads per process (None: their defaults).
    start_method : {"spawn", "forkserver", "fork"}

    Returns
    -------
    list
        ``fn``'s return value of each rank, in rank order (picklable values); None for a rank
        that exited with status 0 without returning (``os._exit(0)``, e.g. a test of a
        dead rank).

    Raises
    ------
    torch.multiprocessing.ProcessRaisedException
        A rank raised; the message holds its traceback.
    """
    require("torch", "vislang.distributed.launch")
    from torch.multiprocessing.spawn import start_processes

    if int(nprocs) < 1:
        raise InvalidInputError(f"nprocs: must be >= 1, got {nprocs}")
    with tempfile.TemporaryDirectory(prefix="vislang-dist-") as folder:
        start_processes(  # type: ignore[no-untyped-call]
            _entry,
            args=(fn, tuple(args), int(nprocs), folder, float(timeout), threads),
            nprocs=int(nprocs),
            join=True,
            start_method=start_method,
        )
        out: list[Any] = []
        for r in range(int(nprocs)):
            path = Path(folder) / f"result-{r}.pkl"
            if not path.is_file():
                out.append(None)
                continue
            with open(path, "rb") as f:
                out.append(pickle.load(f))
        return out
