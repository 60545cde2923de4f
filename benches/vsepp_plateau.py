"""VSE++'s plateau at ``2 * B * margin``: before/after numbers on Flickr8k-1k and the shapes world.

Not a pytest test (no ``test_`` prefix): a script that writes ``benches/results/vsepp_plateau.md``
(or ``--out``) with the validation rsum per epoch, the training loss and the similarity
spread (``train_gap_mean``: mean over captions of positive minus hardest-negative
similarity; ``train_sim_std``: std of all batch similarities) of each run.

Flickr8k-1k: frozen EfficientNet-Lite0 features (computed once and cached as ``.npy``), a GRU
text encoder initialised with GloVe 6B 50-d, embed 512, batch 128, AdamW 2e-4 cosine, the
official splits (753 train / 113 val images). It runs only when the data exists
(``--data``, default ``../shared/data/flickr8k-1k``; ``$VISLANG_FLICKR8K``).

    python benches/vsepp_plateau.py [--runs vse,vsepp-before,vsepp-after] [--epochs 15]
    python benches/vsepp_plateau.py --shapes          # the demo's shapes-world VSE++
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
_CANDIDATES = [p / "shared" / "data" / "flickr8k-1k" for p in (ROOT.parent, ROOT.parent.parent)]
DATA = Path(
    os.environ.get("VISLANG_FLICKR8K")
    or next((p for p in _CANDIDATES if p.is_dir()), _CANDIDATES[0])
)
FEATURES = Path(os.environ.get("VISLANG_FLICKR8K_FEATURES", "/tmp/vislang-flickr8k-1k-lite0.npy"))

# name -> (VSEConfig overrides, TrainConfig overrides, use the dataset's positives)
# "before": the protocol of examples/retrieval_flickr8k.py as it was (one epoch of warm-up,
# then pure hardest negatives, same-image positives only). "after": the same protocol with
# VSE++'s defaults after this change (blend_to=0.5, the dataset's positives).
RUNS: dict[str, tuple[dict[str, Any], dict[str, Any], bool]] = {
    "vse": ({"loss": "vse"}, {}, False),
    "vsepp-before": ({"loss": "vse++", "warmup_steps": 29, "blend_to": 1.0}, {}, False),
    "vsepp-warmup3": ({"loss": "vse++", "warmup_steps": 90, "blend_to": 1.0}, {}, False),
    "vsepp-blend": (
        {"loss": "vse++", "warmup_steps": 29, "blend_steps": 120, "blend_to": 1.0},
        {},
        False,
    ),
    "vsepp-mix": (
        {"loss": "vse++", "warmup_steps": 29, "blend_steps": 120, "blend_to": 0.5},
        {},
        False,
    ),
    "vsepp-mix-nowarmup": ({"loss": "vse++", "blend_to": 0.5}, {}, True),
    "vsepp-after": ({"loss": "vse++", "warmup_steps": 29}, {}, True),
}


def flickr_pairs(data: Path, features: Path) -> tuple[dict[str, Any], Any]:
    from vislang.data import read_flickr8k
    from vislang.models import CaptionPairs, extract_features

    ds = read_flickr8k(data, on_error="skip")
    if features.is_file() and np.load(features, mmap_mode="r").shape[0] == len(ds):
        feats = np.load(features, mmap_mode="r")
    else:
        feats = extract_features(ds, batch_size=32, progress=False, out=features)
    split = {s: [i for i, x in enumerate(ds.splits) if x == s] for s in ("train", "val")}
    pairs = {
        s: CaptionPairs.from_dataset(
            ds.subset(idx), np.asarray(feats[idx], dtype=np.float32), positives=True
        )
        for s, idx in split.items()
    }
    return pairs, feats


def run_flickr(name: str, pairs: dict[str, Any], epochs: int, seed: int) -> dict[str, Any]:
    from dataclasses import replace

    from vislang.models import TrainConfig, Trainer, Vocabulary, VSEConfig
    from vislang.models.vse import VSE
    from vislang.semantics import load_glove_6b_50d

    model_kw, train_kw, positives = RUNS[name]
    train = pairs["train"] if positives else replace(pairs["train"], positives=None)
    vocab = Vocabulary.build(train.captions, min_count=1)
    torch.manual_seed(seed)
    cfg = VSEConfig(feature_dim=1280, text_encoder="gru", embed_dim=512, **model_kw)
    model = VSE(vocab, cfg, word_vectors=load_glove_6b_50d())
    tcfg = TrainConfig(
        **{"epochs": epochs, "batch_size": 128, "lr": 2e-4, "schedule": "cosine", "seed": seed}
        | train_kw
    )
    t0 = time.perf_counter()
    trainer = Trainer(model, train, pairs["val"], tcfg, device="cpu", progress=False)
    for epoch in range(1, epochs + 1):  # epoch by epoch, to watch a long run
        rec = trainer.fit(until_epoch=epoch)[-1]
        print(
            f"{name} epoch {epoch}: loss {rec['loss']:.2f} val rsum {rec['val_rsum']:.1f} "
            f"gap {rec['train_gap_mean']:.3f} sim std {rec['train_sim_std']:.3f} "
            f"({time.perf_counter() - t0:.0f} s)",
            flush=True,
        )
    return {"name": name, "seconds": time.perf_counter() - t0, "history": trainer.history}


SHAPES_RUNS = {
    "before": "shapes vse++ before: pure max (blend_to=1), same-image positives",
    "after": "shapes vse++ after: blend_to=0.5 (today's default), same-image positives",
    "positives": "shapes vse++ blend_to=0.5 + scene positives (from_dataset(positives=True))",
}


def run_shapes(which: str, seed: int, epochs: int) -> dict[str, Any]:
    """The demo's VSE++ (``vislang.demo._vsepp_config``): ``before`` (pure hardest
    negatives), ``after`` (this change's defaults) or ``positives`` (plus scene positives)."""
    import vislang.models.base as base
    import vislang.models.vse as vse
    from vislang.models.config import run_config

    cfg: dict[str, Any] = {
        "data": {"source": "shapes", "n_train": 2000, "n_val": 200, "n_test": 200},
        "model": {"embed_dim": 512, "warmup_steps": 100},
        "train": {"epochs": epochs},
    }
    from_dataset = base.CaptionPairs.from_dataset.__func__  # type: ignore[attr-defined]
    vse_init = vse.VSE.__init__

    def with_positives(cls: Any, dataset: Any, images: Any, **kw: Any) -> Any:
        return from_dataset(cls, dataset, images, positives=True)

    def pure_max(self: Any, vocab: Any, config: Any = None, **kw: Any) -> None:
        config.blend_to = 1.0
        vse_init(self, vocab, config, **kw)

    if which == "positives":
        base.CaptionPairs.from_dataset = classmethod(with_positives)  # type: ignore[assignment]
    if which == "before":
        vse.VSE.__init__ = pure_max  # type: ignore[method-assign]
    try:
        out = Path(f"/tmp/vsepp_plateau_shapes_{which}_{os.getpid()}")
        t0 = time.perf_counter()
        metrics = run_config(
            "vse++", cfg, device="cpu", seed=seed, out=out, progress=False, plots=False
        )
    finally:
        base.CaptionPairs.from_dataset = classmethod(from_dataset)  # type: ignore[assignment]
        vse.VSE.__init__ = vse_init  # type: ignore[method-assign]
    return {
        "name": SHAPES_RUNS[which],
        "seconds": time.perf_counter() - t0,
        "history": metrics["history"],
        "test_rsum": metrics["rsum"],
    }


def table(results: list[dict[str, Any]]) -> str:
    lines = []
    for r in results:
        h = r["history"]
        lines.append(f"\n### {r['name']} ({r['seconds']:.0f} s)\n")
        if "test_rsum" in r:
            lines.append(f"test rsum {r['test_rsum']:.1f}\n")
        lines.append("| epoch | loss | val rsum | train gap mean | train gap std | train sim std |")
        lines.append("|---|---|---|---|---|---|")
        for e in h:
            lines.append(
                f"| {e['epoch']:.0f} | {e['loss']:.2f} | {e.get('val_rsum', float('nan')):.1f} "
                f"| {e.get('train_gap_mean', float('nan')):.3f} "
                f"| {e.get('train_gap_std', float('nan')):.3f} "
                f"| {e.get('train_sim_std', float('nan')):.3f} |"
            )
    return "\n".join(lines) + "\n"


def summary(results: list[dict[str, Any]]) -> str:
    """One row per run: validation rsum per epoch, then the last epoch's loss and spread."""
    n = max(len(r["history"]) for r in results)
    head = " | ".join(f"ep {e}" for e in range(1, n + 1))
    lines = [
        f"| run | {head} | last loss | last gap mean | last sim std |",
        "|---|" + "---|" * (n + 3),
    ]
    for r in results:
        h = r["history"]
        cells = " | ".join(f"{e.get('val_rsum', float('nan')):.1f}" for e in h)
        cells += " | " * (n - len(h))
        last = h[-1]
        lines.append(
            f"| {r['name']} | {cells} | {last['loss']:.1f} | "
            f"{last.get('train_gap_mean', float('nan')):.3f} | "
            f"{last.get('train_sim_std', float('nan')):.3f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--features", type=Path, default=FEATURES)
    ap.add_argument("--runs", default="vse,vsepp-before,vsepp-after")
    ap.add_argument("--epochs", type=int, default=None, help="default 15 (shapes: 4)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--shapes", action="store_true", help="the shapes-world demo instead")
    ap.add_argument(
        "--shapes-runs", default="before,after,positives", help=f"shapes: of {list(SHAPES_RUNS)}"
    )
    ap.add_argument("--json", type=Path, default=None, help="also write the raw results")
    ap.add_argument("--merge", type=Path, nargs="*", default=None, help="JSON files to tabulate")
    args = ap.parse_args(argv)
    if args.merge:
        merged = [r for path in args.merge for r in json.loads(path.read_text())]
        print(summary(merged) + table(merged))
        return 0
    torch.set_num_threads(int(os.environ.get("VISLANG_BENCH_THREADS", "1")))
    if args.epochs is None:
        args.epochs = 4 if args.shapes else 15
    results = []
    if args.shapes:
        for which in args.shapes_runs.split(","):
            results.append(run_shapes(which, args.seed, args.epochs))
            print(table(results[-1:]), flush=True)
    else:
        if not (args.data / "Flickr8k.token.txt").is_file():
            print(f"Flickr8k data not found at {args.data}; pass --data DIR", file=sys.stderr)
            return 2
        pairs, _ = flickr_pairs(args.data, args.features)
        for name in args.runs.split(","):
            results.append(run_flickr(name, pairs, args.epochs, args.seed))
            print(table(results[-1:]), flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
