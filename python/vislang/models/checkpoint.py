"""Checkpoints: ``NAME.safetensors`` (model weights), ``NAME.state.safetensors`` (optimizer
tensors, RNG states) and ``NAME.json`` (model type and config, vocabulary, scheduler, trainer
progress and the non-tensor optimizer state). Tensors go to safetensors, the rest to JSON; no
pickle is ever loaded.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from vislang.exceptions import CheckpointError, InvalidInputError
from vislang.models.base import CrossModalModel

__all__ = ["FORMAT_VERSION", "load_checkpoint", "load_model", "save_checkpoint"]

#: Version of the file layout; a file of another version raises CheckpointError.
FORMAT_VERSION = 1


def _paths(path: str | os.PathLike[str]) -> tuple[Path, Path, Path]:
    p = Path(path)
    stem = p.with_suffix("") if p.suffix in (".safetensors", ".json") else p
    return (
        stem.with_name(stem.name + ".safetensors"),
        stem.with_name(stem.name + ".state.safetensors"),
        stem.with_name(stem.name + ".json"),
    )


def _model_types() -> dict[str, type[CrossModalModel]]:
    from vislang.models.captioning import ShowAndTell, ShowAttendTell
    from vislang.models.devise import DeViSE
    from vislang.models.vse import VSE
    from vislang.models.wsabie import WSABIE

    return {cls.model_type: cls for cls in (VSE, DeViSE, WSABIE, ShowAndTell, ShowAttendTell)}


def save_checkpoint(
    path: str | os.PathLike[str],
    model: CrossModalModel,
    *,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any = None,
    scaler: Any = None,
    trainer_state: dict[str, Any] | None = None,
) -> Path:
    """Write the checkpoint files next to ``path`` (``run/model`` -> ``run/model.safetensors``,
    ``run/model.state.safetensors``, ``run/model.json``). Returns the weights path."""
    from safetensors.torch import save_file

    weights, state_path, meta_path = _paths(path)
    weights.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    save_file(
        tensors,
        str(weights),
        metadata={"vislang_model_type": model.model_type, "vislang_format": str(FORMAT_VERSION)},
    )
    state: dict[str, Tensor] = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            state[f"rng.cuda.{i}"] = s
    meta: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "model_type": model.model_type,
        "model_version": model.format_version,
        "config": model.config_dict(),
        "trainer": trainer_state or {},
        "rng_python": _jsonable(random.getstate()),
    }
    if optimizer is not None:
        opt = optimizer.state_dict()
        plain: dict[str, dict[str, Any]] = {}
        for pid, pstate in opt["state"].items():
            plain[str(pid)] = {}
            for key, value in pstate.items():
                if isinstance(value, Tensor):
                    state[f"optim.{pid}.{key}"] = value.detach().cpu().contiguous().clone()
                else:
                    plain[str(pid)][key] = value
        meta["optimizer"] = {"param_groups": opt["param_groups"], "state": plain}
    if scheduler is not None:
        meta["scheduler"] = scheduler.state_dict()
    if scaler is not None:
        meta["scaler"] = scaler.state_dict()
    save_file(state, str(state_path))
    tmp = meta_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(meta, indent=1))
    tmp.replace(meta_path)
    return weights


def _jsonable(x: Any) -> Any:
    if isinstance(x, tuple | list):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, np.integer | np.floating):
        return x.item()
    return x


def _tuples(x: Any) -> Any:
    return tuple(_tuples(v) for v in x) if isinstance(x, list) else x


def _read_meta(meta_path: Path) -> dict[str, Any]:
    if not meta_path.is_file():
        raise CheckpointError(f"checkpoint sidecar not found: {meta_path}")
    try:
        meta = json.loads(meta_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{meta_path}: corrupt checkpoint sidecar ({exc})") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"{meta_path}: corrupt checkpoint sidecar (not an object)")
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"{meta_path}: checkpoint format version {version!r}, this vislang reads "
            f"version {FORMAT_VERSION}"
        )
    return meta


def _read_tensors(path: Path) -> dict[str, Tensor]:
    from safetensors.torch import load_file

    if not path.is_file():
        raise CheckpointError(f"checkpoint file not found: {path}")
    try:
        return load_file(str(path))
    except Exception as exc:
        raise CheckpointError(f"{path}: corrupt or unreadable safetensors file ({exc})") from None


def load_model(
    path: str | os.PathLike[str],
    *,
    expected_type: str | None = None,
    device: str | torch.device = "cpu",
) -> CrossModalModel:
    """Rebuild a model from its checkpoint (weights + sidecar).

    Raises
    ------
    CheckpointError
        Missing or corrupt files, another format/model version, or a model type other than
        ``expected_type``; the message names the file and the mismatch.
    """
    weights, _, meta_path = _paths(path)
    meta = _read_meta(meta_path)
    mtype = meta.get("model_type")
    types = _model_types()
    if expected_type is not None and mtype != expected_type:
        raise CheckpointError(
            f"{meta_path}: checkpoint holds a {mtype!r} model, expected {expected_type!r}"
        )
    if mtype not in types:
        raise CheckpointError(f"{meta_path}: unknown model type {mtype!r}")
    cls = types[mtype]
    if meta.get("model_version") != cls.format_version:
        raise CheckpointError(
            f"{meta_path}: {mtype} model version {meta.get('model_version')!r}, this vislang "
            f"has version {cls.format_version}"
        )
    try:
        model = cls.from_config_dict(meta["config"])
    except (KeyError, TypeError, InvalidInputError) as exc:
        raise CheckpointError(f"{meta_path}: bad model config ({exc})") from None
    _load_weights(model, weights)
    return model.to(device)


def _load_weights(model: CrossModalModel, weights: Path) -> None:
    tensors = _read_tensors(weights)
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "shape mismatch"
        raise CheckpointError(
            f"{weights}: weights do not fit the {model.model_type} model: {first}"
        ) from None


def load_checkpoint(
    path: str | os.PathLike[str],
    model: CrossModalModel,
    *,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any = None,
    scaler: Any = None,
    restore_rng: bool = True,
) -> dict[str, Any]:
    """Load weights into ``model`` (and optimizer, scheduler, scaler and RNG states when
    given) so that training resumes exactly. Returns the saved trainer state.

    Raises
    ------
    CheckpointError
        As :func:`load_model`; also when the checkpoint is of another model type.
    """
    weights, state_path, meta_path = _paths(path)
    meta = _read_meta(meta_path)
    if meta.get("model_type") != model.model_type:
        raise CheckpointError(
            f"{meta_path}: checkpoint holds a {meta.get('model_type')!r} model, expected "
            f"{model.model_type!r}"
        )
    if meta.get("model_version") != model.format_version:
        raise CheckpointError(
            f"{meta_path}: {model.model_type} model version {meta.get('model_version')!r}, "
            f"this vislang has version {model.format_version}"
        )
    _load_weights(model, weights)
    state = _read_tensors(state_path)
    try:
        if optimizer is not None:
            saved = meta["optimizer"]
            opt_state: dict[int, dict[str, Any]] = {}
            for pid, plain in saved["state"].items():
                opt_state[int(pid)] = dict(plain)
            for key, value in state.items():
                if key.startswith("optim."):
                    _, pid, name = key.split(".", 2)
                    opt_state.setdefault(int(pid), {})[name] = value
            optimizer.load_state_dict({"state": opt_state, "param_groups": saved["param_groups"]})
        if scheduler is not None:
            scheduler.load_state_dict(meta["scheduler"])
        if scaler is not None and "scaler" in meta:
            scaler.load_state_dict(meta["scaler"])
    except (KeyError, ValueError, RuntimeError) as exc:
        raise CheckpointError(
            f"{meta_path}: optimizer/scheduler state does not fit ({exc})"
        ) from None
    if restore_rng:
        torch.set_rng_state(state["rng.torch"])
        cuda = [state[k] for k in sorted(state) if k.startswith("rng.cuda.")]
        if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)
        random.setstate(_tuples(meta["rng_python"]))
    trainer: dict[str, Any] = meta.get("trainer", {})
    return trainer
