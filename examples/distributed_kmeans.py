"""Distributed k-means over a memory-mapped descriptor file, one row block per rank.

    torchrun --nproc-per-node 2 examples/distributed_kmeans.py descriptors.npy --k 1024

(``descriptors.npy``: an (n, d) float32 ``.npy`` file, e.g. ``DescriptorSet.descriptors``
saved with ``np.save``; without a file argument a synthetic one is made.) Every rank reads
only its slice of the file, the centres are the same on every rank, and rank 0 saves them.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from vislang import distributed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("descriptors", nargs="?", help=".npy file of shape (n, d)")
    parser.add_argument("--k", type=int, default=256)
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--out", default="vocabulary.safetensors")
    args = parser.parse_args()

    distributed.init_process_group("gloo")  # torchrun's environment; no-op in one process
    rank, world = distributed.rank(), distributed.world_size()
    if args.descriptors is None:
        rng = np.random.default_rng(rank)
        shard = rng.normal(size=(50_000, 128)).astype(np.float32)
    else:
        X = np.load(args.descriptors, mmap_mode="r")  # nothing is read yet
        lo, hi = (len(X) * rank) // world, (len(X) * (rank + 1)) // world
        shard = X[lo:hi]  # read in 65,536-row chunks by the fit
    t0 = time.perf_counter()
    vocab = distributed.kmeans(shard, args.k, max_iter=args.iters, random_state=0)
    if rank == 0:
        vocab.save(args.out)
        print(
            f"{world} ranks: k={args.k}, inertia {vocab.inertia_:.4g}, {vocab.n_iter_} "
            f"iterations, {time.perf_counter() - t0:.1f} s -> {args.out}"
        )


if __name__ == "__main__":
    main()
