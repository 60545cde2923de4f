"""Section 8: grounded sentence representations (Kiela et al. 2018) on the shapes world.

A BiLSTM-max sentence encoder is trained on shapes captions to predict the image (Cap2Img: the
``cap2img`` model, ranked against small colour-grid image features), and the same encoder as a
text-only caption autoencoder (the control). Their frozen vectors, mean GloVe and GroundSent
(Cap2Img + mean GloVe) are compared on two transfer tasks of :mod:`vislang.eval.transfer`:
paraphrase retrieval (the other captions of the same test scene) and caption -> image retrieval
through a linear map fitted on the training captions; plus the nearest test caption of a few
queries. When the build has no PyTorch the report says so.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from vislang.demo._common import Context
from vislang.report import Report

KEY = "grounded"
TITLE = "grounded sentence representations"
HEADING = "Grounded sentence representations (Cap2Img)"

QUERIES = ("a red circle to the left of a blue square", "the small green triangle")


def _grid_features(ds: Any, idx: list[int], cells: int = 4) -> np.ndarray:
    """Mean colour of each cell of a cells x cells grid, centred: (n, cells * cells * 3)."""
    images = np.stack([ds.load_image(i) for i in idx]).astype(np.float32) / 255.0
    n, h, w, _ = images.shape
    x = images.reshape(n, cells, h // cells, cells, w // cells, 3).mean(axis=(2, 4))
    x = x.reshape(n, -1)
    return x - x.mean(axis=1, keepdims=True)


def run(ctx: Context) -> dict[str, Any]:
    try:
        import torch

        from vislang import models
    except ImportError as e:
        return {"available": False, "note": f"not available in this build ({e})"}
    from vislang.data import make_shapes
    from vislang.eval import transfer
    from vislang.semantics import load_glove_6b_50d

    t0 = time.perf_counter()
    n_train, epochs = (60, 1) if ctx.quick else (400, 4)
    ds = make_shapes(n_train, 1, 60, 0, image_size=32, seed=ctx.seed)
    split = {s: [i for i, x in enumerate(ds.splits) if x == s] for s in ("train", "test")}
    pairs = {
        s: models.CaptionPairs.from_dataset(ds.subset(i), _grid_features(ds, i))
        for s, i in split.items()
    }
    train, test = pairs["train"], pairs["test"]
    vocab = models.Vocabulary.build(train.captions)
    try:
        glove: Any = load_glove_6b_50d()
    except ImportError:
        glove = None
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    encoders: dict[str, Any] = {}
    try:
        for label, name, extra in (
            ("Cap2Img", "cap2img", {"feature_dim": train.images.shape[1]}),
            ("text-only autoencoder", "cap2cap", {"target": "self", "decoder_dim": 64}),
        ):
            torch.manual_seed(ctx.seed)
            model = models.create_model(
                name, vocab=vocab, word_vectors=glove, word_dim=50, hidden_dim=48, **extra
            )
            cfg = models.TrainConfig(epochs=epochs, batch_size=64, lr=2e-3, seed=ctx.seed)
            models.Trainer(model, train, None, cfg, device="cpu", progress=False).fit()
            encoders[label] = model.eval()
        if glove is not None:
            mean = models.MeanWordVectors(glove, vocab=vocab, missing="zero")
            encoders["mean GloVe"] = mean
            encoders["GroundSent (Cap2Img + mean GloVe)"] = models.GroundSent(
                encoders["Cap2Img"], mean
            )
        rows = {}
        vectors = {}
        for label, enc in encoders.items():
            xt = enc.encode(test.captions)
            vectors[label] = xt
            para = transfer.paraphrase_retrieval(xt, test.text_to_image)
            icr = transfer.image_caption_retrieval(
                enc.encode(train.captions), train.images, train.text_to_image,
                xt, test.images, test.text_to_image, ridge=1.0,
            )  # fmt: skip
            rows[label] = {
                "para_r1": para["r1"],
                "para_r5": para["r5"],
                "t2i_r1": icr["t2i_r1"],
                "t2i_r5": icr["t2i_r5"],
            }
        neighbours = {}
        for label in [k for k in ("Cap2Img", "mean GloVe") if k in encoders]:
            q = encoders[label].encode(list(QUERIES))
            g = vectors[label]
            sim = (q / np.linalg.norm(q, axis=1, keepdims=True)) @ (
                g / np.maximum(np.linalg.norm(g, axis=1, keepdims=True), 1e-12)
            ).T
            neighbours[label] = [test.captions[int(j)] for j in sim.argmax(axis=1)]
    finally:
        torch.set_num_threads(threads)
    return {
        "available": True,
        "n_train_captions": len(train.captions),
        "n_test_captions": len(test.captions),
        "epochs": epochs,
        "rows": rows,
        "queries": list(QUERIES),
        "neighbours": neighbours,
        "seconds": round(time.perf_counter() - t0, 3),
    }


def report(r: Report, metrics: dict[str, Any], ctx: Context) -> None:
    g = metrics[KEY]
    if not g["available"]:
        r.note(f"Grounded sentence representations are {g['note']}.")
        return
    r.text(
        f"A BiLSTM-max sentence encoder (GloVe 6B 50-d words) trained for {g['epochs']} "
        f"epoch{'s' if g['epochs'] != 1 else ''} "
        f"on {g['n_train_captions']} shapes captions to predict the image (Cap2Img), against "
        "the same encoder trained as a text-only caption autoencoder, mean GloVe and "
        "GroundSent, on "
        f"{g['n_test_captions']} test captions (recall in percent; {g['seconds']:.0f} s). "
        "Paraphrase retrieval: the other captions of the same scene. Caption -> image: a "
        "ridge map from the frozen sentence vectors to colour-grid image features."
    )
    r.table(
        [
            (
                k,
                f"{v['para_r1']:.1f}",
                f"{v['para_r5']:.1f}",
                f"{v['t2i_r1']:.1f}",
                f"{v['t2i_r5']:.1f}",
            )
            for k, v in g["rows"].items()
        ],
        header=[
            "encoder",
            "paraphrase R@1",
            "paraphrase R@5",
            "caption->image R@1",
            "caption->image R@5",
        ],
    )
    rows = []
    for i, q in enumerate(g["queries"]):
        rows.append((q, *[g["neighbours"][k][i] for k in g["neighbours"]]))
    r.table(rows, header=["query", *[f"nearest test caption ({k})" for k in g["neighbours"]]])
