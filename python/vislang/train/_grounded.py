"""The training code of :mod:`vislang.train.grounded` (imports PyTorch)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vislang.models import (
    CaptionPairs,
    TrainConfig,
    Trainer,
    Vocabulary,
    create_model,
    extract_features,
    save_checkpoint,
)
from vislang.train.crossmodal import _dataset, _split_indices, _word_vectors

__all__ = ["run_grounded"]


def _features(ds: Any, d: Any, device: str, progress: bool) -> np.ndarray[Any, Any]:
    """One feature row per dataset image: ``data.features`` or EfficientNet-Lite0."""
    from vislang.exceptions import InvalidInputError

    if d["features"]:
        path = Path(d["features"])
        if not path.is_file():
            raise InvalidInputError(f"config: data.features file not found: {path}")
        feats = np.load(path, mmap_mode="r")
        if feats.ndim != 2 or feats.shape[0] != len(ds):
            raise InvalidInputError(
                f"config: data.features must have shape ({len(ds)}, F) for the dataset, got "
                f"{feats.shape}"
            )
        return np.asarray(feats, dtype=np.float32)
    return extract_features(ds, batch_size=32, device=device, progress=progress)


def run_grounded(
    config: Any, *, device: str = "auto", out: str | os.PathLike[str] | None = None,
    progress: bool = True,
) -> dict[str, Any]:  # fmt: skip
    """Train the grounded sentence model ``config.name`` and evaluate it on the test split.

    Returns the test metrics (``para_r1/5/10``, ``para_medr``; ``t2i_r1/5/10`` for the image
    objectives; ``rsum``) plus ``model``, ``seed``, ``epochs``, ``seconds``, ``checkpoint``,
    ``history``; also written to ``out/metrics.json`` (default ``runs/NAME``).
    """
    name = config.name
    t0 = time.perf_counter()
    seed = int(config["train"]["seed"])
    torch.manual_seed(seed)
    d, m = config["data"], config["model"]
    ds = _dataset(d, seed)
    split_idx = {s: _split_indices(ds, s) for s in ("train", "val", "test")}
    uses_images = name in ("cap2img", "cap2both")
    feats = _features(ds, d, device, progress) if uses_images else np.zeros((len(ds), 1), "f4")
    data = {
        s: CaptionPairs.from_dataset(ds.subset(idx), feats[np.asarray(idx)])
        for s, idx in split_idx.items()
    }
    vocab = Vocabulary.build(
        data["train"].captions, min_count=d["min_count"], max_length=d["max_length"]
    )
    model = create_model(
        name, vocab=vocab, word_vectors=_word_vectors(d["word_vectors"]), kind=m["encoder"],
        word_dim=m["word_dim"], hidden_dim=m["hidden_dim"], num_layers=m["num_layers"],
        feature_dim=int(feats.shape[1]), margin=m["margin"], direction=m["direction"],
        decoder_dim=m["decoder_dim"], decoder_word_dim=m["decoder_word_dim"],
        cap_weight=m["cap_weight"], target=m["target"],
    )  # fmt: skip
    tcfg = TrainConfig(**config["train"])
    out_dir = Path(out) if out is not None else Path("runs") / name
    out_dir.mkdir(parents=True, exist_ok=True)
    trainer = Trainer(model, data["train"], data["val"], tcfg, device=device, progress=progress,
                      out=out_dir)  # fmt: skip
    history = trainer.fit()
    ckpt = save_checkpoint(
        out_dir / "model", model, trainer_state={**trainer.state(), "seed": seed}
    )
    metrics: dict[str, Any] = dict(model.evaluate(data["test"], device=trainer.device))
    metrics.update(
        model=name, seed=seed, epochs=trainer.epoch, seconds=time.perf_counter() - t0,
        checkpoint=str(ckpt), device=str(trainer.device), history=history,
        n_train_captions=len(data["train"].captions),
    )  # fmt: skip
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=1, default=float))
    return metrics
