"""The VSE++ epoch efficiency of ``test_distributed.py`` on real captions (run by hand).

    python benches/distributed_real_captions.py [FLICKR8K_FOLDER] [--pairs 3]

Trains the bench's small and paper-size VSE++ (global negatives, global batch 128) on the
first 4,096 / 1,024 captions of a Flickr8k folder (``Flickr8k.token.txt``; the vocabulary is
built from all its captions) with random 2048-d / 512-d image features (features do not change
the timing), and prints back-to-back (1 x 2, 2 x 1) epoch times and their efficiency
``t(1 x 2) / t(2 x 1)``, sorted. Results: ``benches/results/distributed.md``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import test_distributed as bench
from vislang.data import read_flickr8k
from vislang.models import CaptionPairs, Vocabulary

DEFAULT = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "flickr8k-1k"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", nargs="?", default=str(DEFAULT), help="a Flickr8k folder")
    ap.add_argument("--pairs", type=int, default=3, help="back-to-back measurement pairs")
    args = ap.parse_args()
    if not (Path(args.folder) / "Flickr8k.token.txt").is_file():
        sys.exit(f"no Flickr8k.token.txt in {args.folder}: pass a Flickr8k folder")
    ds = read_flickr8k(args.folder, on_error="skip")
    captions = [c for per_image in ds.captions for c in per_image]
    words = np.mean([len(c.split()) for c in captions])
    vocab = Vocabulary.build(captions)
    print(f"{len(captions)} captions, mean {words:.1f} words, vocabulary {len(vocab)} words")

    def pairs(n: int, dim: int) -> CaptionPairs:
        if n > len(captions):
            sys.exit(f"the bench needs {n} captions, {args.folder} has {len(captions)}")
        feats = np.random.default_rng(0).normal(size=(n // 2, dim)).astype(np.float32)
        return CaptionPairs(feats, captions[:n], np.repeat(np.arange(n // 2), 2))

    bench._pairs = pairs  # type: ignore[assignment]
    bench._vocabulary = lambda: vocab  # type: ignore[assignment]
    for name, paper in (("small", False), ("paper size", True)):
        runs = sorted(
            (bench._vse_pair(paper) for _ in range(args.pairs)), key=lambda p: p[0] / p[1]
        )
        cells = ", ".join(f"{a:.3f} s / {b:.3f} s = {a / b:.3f}" for a, b in runs)
        print(f"{name}: 1x2 / 2x1 = efficiency: {cells}", flush=True)


if __name__ == "__main__":
    main()
