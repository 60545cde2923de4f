"""The training code behind :mod:`vislang.train.alignment` (imports PyTorch): shapes-world and
Flickr8k splits for the alignment models, :func:`run_alignment` (the runners) and
:func:`shapes_alignment_demo` (what the demo report section shows)."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vislang.data import make_shapes
from vislang.data.trees import read_conllu
from vislang.eval.alignment import AlignmentCorrectness, alignment_correctness, plot_alignment
from vislang.exceptions import InvalidInputError
from vislang.models import (
    CaptionPairs,
    TrainConfig,
    Trainer,
    Vocabulary,
    create_model,
    load_checkpoint,
    save_checkpoint,
)
from vislang.models.brnn_align import BRNNAlign, pixel_grid
from vislang.models.image_encoders import BACKBONES, preprocess_images

__all__ = [
    "AlignmentSplit",
    "flickr8k_alignment_data",
    "model_images",
    "run_alignment",
    "shapes_alignment_correctness",
    "shapes_alignment_data",
    "shapes_alignment_demo",
]


@dataclass
class AlignmentSplit:
    """One split: the images as the model input (grids (n, L, F), pixels (n, 3, H, W)),
    captions, the raw uint8 images (for plots; shapes) and the scenes (shapes)."""

    pairs: CaptionPairs
    raw: Any = None
    scenes: list[Any] = field(default_factory=list)


def _flat(images: Any, captions: list[list[str]]) -> CaptionPairs:
    flat = [c for cs in captions for c in cs]
    t2i = np.repeat(np.arange(len(captions)), [len(cs) for cs in captions])
    return CaptionPairs(images, flat, t2i)


def shapes_alignment_data(
    n_train: int = 1000,
    n_val: int = 100,
    n_test: int = 100,
    *,
    backbone: str = "pixels",
    max_objects: int = 2,
    seed: int = 0,
) -> dict[str, AlignmentSplit]:
    """Shapes-world splits (64 x 64 images): 8 x 8 pixel-cell grids (``"pixels"``) or pixels
    normalised for a CNN backbone."""
    ds = make_shapes(n_train, n_val, n_test, 0, max_objects=max_objects, seed=seed)
    out = {}
    for split in ("train", "val", "test"):
        sub = ds.select(split)
        raw = np.asarray(sub.images)
        if backbone == "pixels":
            x: Any = pixel_grid(raw)
        else:
            mean, std, _ = BACKBONES[backbone]
            x = preprocess_images(list(raw), size=64, mean=mean, std=std, resize=64)
        caps = [list(c) for c in sub.captions]
        out[split] = AlignmentSplit(_flat(x, caps), raw, list(sub.annotations or []))
    return out


def flickr8k_alignment_data(
    root: str | os.PathLike[str], *, progress: bool = True
) -> dict[str, AlignmentSplit]:
    """Flickr8k's official splits as frozen EfficientNet-Lite0 ImageNet grids (n, 49, 1280)
    (the features of :func:`vislang.train.captioning.flickr8k_caption_data`)."""
    from vislang.train._captioning import flickr8k_caption_data

    data = flickr8k_caption_data(root, progress=progress)
    return {s: AlignmentSplit(d.pairs, d.raw) for s, d in data.items()}


def model_images(name: str, backbone: str, images: Any) -> Any:
    """What the model takes: DT-RNN one vector per image (a grid's mean; pixel cells
    flattened), BRNN alignment the grid (or pixels for a CNN backbone)."""
    if name == "dt-rnn" and isinstance(images, np.ndarray | torch.Tensor) and images.ndim == 3:
        if backbone == "pixels":
            return images.reshape(images.shape[0], -1)
        return images.mean(1)
    return images


def shapes_alignment_correctness(
    model: BRNNAlign, split: AlignmentSplit
) -> tuple[AlignmentCorrectness, list[Any]]:
    """Alignment correctness of ``model`` over every test caption (and the alignments)."""
    p = split.pairs
    images = p.images
    al = [model.align(images[int(i)], c) for c, i in zip(p.captions, p.text_to_image, strict=True)]
    scenes = [split.scenes[int(i)] for i in p.text_to_image]
    result = alignment_correctness(
        [a.words for a in al], [a.scores for a in al], scenes, al[0].grid
    )
    return result, al


def run_alignment(
    name: str, config: Any, *, device: str = "auto", out: Any = None, progress: bool = True
) -> dict[str, Any]:
    """Train ``name`` (``"dt-rnn"`` / ``"brnn-align"``) as ``config`` says, evaluate on the
    test split, save the checkpoint and ``metrics.json`` into ``out`` (default
    ``runs/NAME``)."""
    t0 = time.perf_counter()
    d, m, t = config["data"], config["model"], config["train"]
    torch.manual_seed(int(t["seed"]))
    backbone = m["backbone"]
    if d["dataset"] == "shapes":
        data = shapes_alignment_data(
            d["n_train"], d["n_val"], d["n_test"], backbone=backbone,
            max_objects=d["max_objects"], seed=d["seed"],
        )  # fmt: skip
    else:
        if not d["path"]:
            raise InvalidInputError("config: data.path must name the Flickr8k folder")
        if backbone != "efficientnet_lite0":
            raise InvalidInputError(
                "config: on flickr8k, model.backbone must be efficientnet_lite0 (frozen grids)"
            )
        data = flickr8k_alignment_data(d["path"], progress=progress)
    pairs = {}
    for s, split in data.items():
        p = split.pairs
        pairs[s] = CaptionPairs(model_images(name, backbone, p.images), p.captions, p.text_to_image)
    train = pairs["train"]
    vocab = Vocabulary.build(train.captions, min_count=d["min_count"])
    pixels = backbone == "tiny_cnn"
    image: dict[str, Any] = {
        "backbone": "tiny_cnn" if pixels else "precomputed",
        "feature_dim": 1 if pixels else int(np.asarray(train.images[:1]).shape[-1]),
        "image_size": 64 if pixels else 0,
        "embed_dim": m["embed_dim"],
    }
    common = {"word_dim": m["word_dim"], "margin": m["margin"]}
    model: Any
    if name == "dt-rnn":
        model = create_model(
            name, vocab=vocab, composition=m["composition"], weighting=m["weighting"],
            parser=m["parser"], **image, **common,
        )  # fmt: skip
        if m["parser"] == "given":
            if not m["conllu"]:
                raise InvalidInputError("config: model.parser = 'given' needs model.conllu")
            model.add_trees(read_conllu(m["conllu"]))
    else:
        model = create_model(
            name, vocab=vocab, hidden_dim=m["hidden_dim"], score=m["score"],
            objective=m["objective"], **image, **common,
        )  # fmt: skip
    out_dir = Path(out) if out is not None else Path("runs") / name
    out_dir.mkdir(parents=True, exist_ok=True)
    tcfg = TrainConfig(
        epochs=t["epochs"], batch_size=t["batch_size"], lr=t["lr"], backbone_lr=t["lr"],
        patience=t["patience"], max_steps_per_epoch=t["max_steps_per_epoch"], seed=t["seed"],
    )  # fmt: skip
    trainer = Trainer(
        model, train, pairs["val"], tcfg, device=device, progress=progress, out=out_dir
    )
    history = trainer.fit()
    state = {**trainer.state(), "seed": int(t["seed"])}
    best = out_dir / "best"
    if best.with_suffix(".json").is_file():
        best_state = load_checkpoint(best, model, restore_rng=False)
        state["weights_epoch"] = int(best_state.get("epoch", trainer.best_epoch))
    ckpt = save_checkpoint(out_dir / "model", model, trainer_state=state)
    metrics: dict[str, Any] = dict(model.evaluate(pairs["test"], device=trainer.device))
    if name == "brnn-align" and d["dataset"] == "shapes":
        test = data["test"]
        result, al = shapes_alignment_correctness(
            model, AlignmentSplit(pairs["test"], test.raw, test.scenes)
        )
        metrics["alignment_correctness"] = {"hit_rate": result.hit_rate, "chance": result.chance}
        metrics["alignment_words"] = result.n_words
        first = {int(i): j for j, i in reversed(list(enumerate(pairs["test"].text_to_image)))}
        plots = []
        for k in range(min(2, len(test.raw))):
            a = al[first[k]]
            plots.append(
                str(
                    plot_alignment(
                        test.raw[k], a.words, a.scores, a.grid, out_dir / f"alignment_{k}.png"
                    )
                )
            )
        metrics["plots"] = plots
    metrics.update(
        model=name,
        seed=int(t["seed"]),
        epochs=trainer.epoch,
        seconds=time.perf_counter() - t0,
        checkpoint=str(ckpt),
        device=str(trainer.device),
        history=history,
    )
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=1))
    return metrics


def shapes_alignment_demo(
    out: str | os.PathLike[str] | None = None,
    *,
    n_train: int = 400,
    epochs: int = 4,
    n_test: int = 60,
    seed: int = 0,
) -> dict[str, Any]:
    """Train brnn-align on the shapes world (8 x 8 pixel-cell regions) and draw one test
    image's word-region alignment; returns the model, alignment correctness, the figure path
    and the seconds taken."""
    t0 = time.perf_counter()
    torch.manual_seed(seed)
    data = shapes_alignment_data(n_train, 20, n_test, seed=seed)
    train = data["train"].pairs
    model = create_model(
        "brnn-align", captions=train.captions, feature_dim=12, embed_dim=32, word_dim=16,
        hidden_dim=32,
    )  # fmt: skip
    cfg = TrainConfig(epochs=epochs, batch_size=50, lr=3e-3, seed=seed)
    Trainer(model, train, data["val"].pairs, cfg, device="cpu", progress=False).fit()
    result, al = shapes_alignment_correctness(model, data["test"])
    path = None
    if out is not None:
        test = data["test"]
        j = int(np.flatnonzero(test.pairs.text_to_image == 0)[0])
        a = al[j]
        path = plot_alignment(test.raw[0], a.words, a.scores, a.grid, Path(out) / "alignment.png")
    return {
        "model": model,
        "correctness": result,
        "figure": path,
        "caption": data["test"].pairs.captions[0],
        "seconds": time.perf_counter() - t0,
    }
