"""Does ``init_size="auto"`` (seeding on ``256 k`` sampled rows) reach the inertia of
``init_size="all"`` after a fixed number of iterations? (issue 11 §5)

Data: dense SIFT (step 4, bin sizes 4/6/8) of CIFAR-10 photos from
``$VISLANG_DATA/cifar10-train-5k`` (default ``../shared/data``), the first ``N`` descriptors.
Prints one line per (init_size, seed): inertia, iterations, seconds; then the mean and
seed-to-seed spread of each setting. Usage::

    python benches/kmeans_init_size.py [N] [K] [MAX_ITER] [SEEDS]
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

import vislang
from vislang.features import DenseSIFT, load_image


def descriptors(n: int) -> np.ndarray:
    root = Path(
        os.environ.get("VISLANG_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
    )
    files = sorted((root / "cifar10-train-5k").glob("*/*.jpg"))
    rng = np.random.default_rng(0)
    files = [files[i] for i in rng.permutation(len(files))]
    per_image = 3 * 8 * 8  # step 4 on 32 x 32: 8 x 8 grid points, 3 sizes
    images = [load_image(str(f), "gray") for f in files[: -(-n // per_image)]]
    X = DenseSIFT(step=4, sizes=(4, 6, 8), n_jobs=2).transform(images).descriptors
    return np.ascontiguousarray(X[:n], dtype=np.float32)


def main() -> None:
    n, k, iters, seeds = (
        int(a) for a in (sys.argv[1:] + ["200000", "256", "20", "3"][len(sys.argv) - 1 :])
    )
    X = descriptors(n)
    print(f"X {X.shape}, k={k}, max_iter={iters}, n_jobs=2", flush=True)
    results: dict[str, list[float]] = {"auto": [], "all": []}
    for seed in range(seeds):
        for size in ("auto", "all"):
            t0 = time.perf_counter()
            v = vislang.kmeans(
                X, k, init_size=size, max_iter=iters, tol=0.0, random_state=seed, n_jobs=2
            )
            dt = time.perf_counter() - t0
            results[size].append(float(v.inertia_))
            print(
                f"init_size={size:4s} seed={seed} inertia={v.inertia_:.6e} "
                f"n_iter={v.n_iter_} {dt:.1f} s",
                flush=True,
            )
    for size, vals in results.items():
        a = np.array(vals)
        print(
            f"{size}: mean {a.mean():.6e}, spread (max-min)/mean {100 * np.ptp(a) / a.mean():.3f}%"
        )
    gap = np.mean(results["auto"]) / np.mean(results["all"]) - 1
    print(f"auto / all - 1 = {100 * gap:+.3f}%")


if __name__ == "__main__":
    main()
