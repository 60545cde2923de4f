"""Past one machine: data-parallel training, distributed k-means and sharded encoding on
PyTorch's ``torch.distributed`` (launched by torchrun; gloo on CPU, NCCL on GPU).

Importing this package does not import torch; the functions do, when called.

- :func:`init_process_group`, :func:`is_active`, :func:`rank`, :func:`world_size`: the group;
  collectives time out (``VISLANG_DIST_TIMEOUT`` seconds) and fail with a
  :class:`~vislang.exceptions.DistributedError` naming the ranks that never reached them.
- :func:`kmeans`: k-means over one shard of rows per rank (k-means|| or gathered-sample
  seeding, Lloyd or mini-batch), the same as ``VisualVocabulary(..., distributed=True)``.
- :func:`launch`: run a function on ``n`` local processes (tests, notebooks, benchmarks).
- :mod:`vislang.distributed.shards`: ``vislang encode`` under torchrun writes one shard per
  rank plus an index; :func:`read_shards` reads them back in the original order.
- The ranking losses (:class:`vislang.losses.VSELoss`, :class:`vislang.losses.InfoNCELoss`)
  gather every rank's embeddings when a group is running: global negatives.
"""

from vislang._dist import (
    DEFAULT_TIMEOUT_S,
    agree,
    all_gather_object,
    barrier,
    broadcast_object,
    init_process_group,
    is_active,
    launched_by_torchrun,
    rank,
    sum_float64,
    timeout_seconds,
    world_size,
)
from vislang.distributed._launch import launch
from vislang.distributed.kmeans import kmeans
from vislang.distributed.shards import read_shards

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "agree",
    "all_gather_object",
    "barrier",
    "broadcast_object",
    "init_process_group",
    "is_active",
    "kmeans",
    "launch",
    "launched_by_torchrun",
    "rank",
    "read_shards",
    "sum_float64",
    "timeout_seconds",
    "world_size",
]
