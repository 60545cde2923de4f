"""Show-Attend-Tell (soft) on Flickr8k with a wall-clock budget: cross-entropy epochs, then
self-critical sequence training while time is left (issue 13, section 4).

    python examples/caption_flickr8k_sat.py [FLICKR8K_DIR] --cache /tmp/grids \
        --ce-budget 1200 --budget 1500 --out /tmp/sat-flickr8k

The EfficientNet-Lite0 grids (7 x 7 x 1280) are computed once into ``--cache`` and then read
as memory maps. Prints test BLEU-1..4 / ROUGE-L / CIDEr-D (x100), greedy and beam 3, and
writes ``results.json`` under ``--out``. Results: benches/results/captioning.md.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from vislang.eval.caption import format_caption_table
from vislang.models import TrainConfig, Trainer, load_model
from vislang.models.captioning import CaptionConfig, SCSTImages, caption_vocabulary
from vislang.models.registry import create_model
from vislang.train.captioning import evaluate_captioner, flickr8k_caption_data


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("root", nargs="?", default="../shared/data/flickr8k-1k")
    ap.add_argument("--cache", default="/tmp/vislang-flickr8k-grids")
    ap.add_argument("--out", type=Path, default=Path("/tmp/sat-flickr8k"))
    ap.add_argument("--ce-budget", type=float, default=1200.0, help="seconds of CE training")
    ap.add_argument("--budget", type=float, default=1500.0, help="seconds in all")
    args = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(1)  # a shared 2-core machine: more threads only spin
    t0 = time.perf_counter()
    data = flickr8k_caption_data(args.root, progress=False, cache=args.cache)
    log: dict[str, object] = {"images": {k: len(v.references) for k, v in data.items()}}
    tr, va = data["train"], data["val"]
    vocab = caption_vocabulary(tr.pairs.captions, min_count=2, max_length=20)
    cfg = CaptionConfig(word_dim=128, hidden_dim=256, attention_dim=128, dropout=0.5)
    model = create_model("show-attend-tell", vocab=vocab, config=cfg)
    tcfg = TrainConfig(epochs=6, batch_size=64, lr=1e-3, patience=3, seed=0)
    t1 = time.perf_counter()
    trainer = Trainer(
        model, tr.pairs, va.pairs, tcfg, device="cpu", progress=False, out=args.out / "ce"
    )
    while trainer.epoch < tcfg.epochs and time.perf_counter() - t1 < args.ce_budget:
        trainer.fit(until_epoch=trainer.epoch + 1)
        h = trainer.history[-1]
        print(f"CE epoch {trainer.epoch}: val CIDEr-D {h['val_cider_d']:.3f}", flush=True)
        if trainer.bad_epochs >= tcfg.patience:
            break
    best = load_model(args.out / "ce" / "best", device="cpu")
    rows = {f"SAT soft {k}": m for k, m in evaluate_captioner(best, data["test"]).items()}
    log["ce_history"] = trainer.history
    print(format_caption_table(rows), flush=True)
    if args.budget - (time.perf_counter() - t0) > 240:
        sdata = SCSTImages(tr.pairs.images, tr.references, samples=5)
        scfg = TrainConfig(epochs=6, batch_size=50, lr=2e-5, patience=2, schedule="constant")
        st = Trainer(
            best, sdata, va.pairs, scfg, device="cpu", progress=False, out=args.out / "scst"
        )
        while st.epoch < scfg.epochs and time.perf_counter() - t0 < args.budget - 120:
            st.fit(until_epoch=st.epoch + 1)
            if st.bad_epochs >= scfg.patience:
                break
        log["scst_history"] = st.history
        if (args.out / "scst" / "best.json").exists():
            sbest = load_model(args.out / "scst" / "best", device="cpu")
            for k, m in evaluate_captioner(sbest, data["test"]).items():
                rows[f"SAT soft + SCST {k}"] = m
            print(format_caption_table(rows), flush=True)
    log["test"] = rows
    log["seconds"] = time.perf_counter() - t0
    (args.out / "results.json").write_text(json.dumps(log, indent=1, default=float))


if __name__ == "__main__":
    main()
