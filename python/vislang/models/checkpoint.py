"""Checkpoints: ``NAME.safetensors`` (model weights), ``NAME.state.safetensors`` (optimizer
tensors, RNG states) and ``NAME.json`` (model type and config, vocabulary, scheduler, trainer
progress and the non-tensor optimizer state). Tensors go to safetensors, the rest to JSON; no
pickle is ever loaded.
"""

from __future__ import annotations

import hashlib
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

__all__ = [
    "FORMAT_VERSION",
    "load_checkpoint",
    "load_model",
    "save_checkpoint",
    "weights_metadata",
]

#: Version of the file layout; a file of another version raises CheckpointError.
FORMAT_VERSION = 1

#: The safetensors metadata key of the weights file: one key holding sorted JSON, so that
#: identical models give byte-identical files (several keys come out in hash-map order).
_META_KEY = "vislang"


def _paths(path: str | os.PathLike[str], *, reading: bool = False) -> tuple[Path, Path, Path]:
    p = Path(path)
    if reading and p.is_dir():  # a run folder (``vislang train --out``): its final model
        p = p / "model"
        if not p.with_name("model.json").is_file():
            raise CheckpointError(
                f"no checkpoint in folder {p.parent}: expected model.json and "
                "model.safetensors (or pass the path of a checkpoint, e.g. RUN/best)"
            )
    stem = p.with_suffix("") if p.suffix in (".safetensors", ".json") else p
    return (
        stem.with_name(stem.name + ".safetensors"),
        stem.with_name(stem.name + ".state.safetensors"),
        stem.with_name(stem.name + ".json"),
    )


def _model_types() -> dict[str, type[CrossModalModel]]:
    """Registered name -> class (the model registry; checkpoints store the registered name, and
    older ones the class's first name, e.g. ``vse`` for a VSE++ model: both are registered)."""
    from vislang.models.registry import list_models, model_entry

    return {name: model_entry(name).cls for name in list_models()}


def _same_model(saved: Any, model: CrossModalModel) -> bool:
    return saved == model.model_type or _model_types().get(saved) is type(model)


def _write_bytes(path: Path, data: bytes) -> None:
    """Write atomically (temporary file + rename) with the umask's permissions, as ``open``
    gives (safetensors' own writer creates files with mode 0600)."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
    tmp.replace(path)


def _save_tensors(path: Path, tensors: dict[str, Tensor], meta: dict[str, Any] | None) -> str:
    """Write a safetensors file deterministically; return its sha256."""
    from safetensors.torch import save

    metadata = None if meta is None else {_META_KEY: json.dumps(meta, sort_keys=True)}
    data = save(tensors, metadata=metadata)
    _write_bytes(path, data)
    return hashlib.sha256(data).hexdigest()


def weights_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The metadata of a weights file: ``{"model_type": ..., "format_version": ...}``.

    Reads the single ``vislang`` key (sorted JSON) and the separate ``vislang_model_type`` /
    ``vislang_format`` keys of older files.

    Raises
    ------
    CheckpointError
        The file is missing or is not a safetensors file.
    """
    from safetensors import safe_open

    p = _paths(path, reading=True)[0]
    if not p.is_file():
        raise CheckpointError(f"checkpoint file not found: {p}")
    try:
        with safe_open(str(p), framework="pt") as f:
            raw = dict(f.metadata() or {})
    except Exception as exc:
        raise CheckpointError(f"{p}: corrupt or unreadable safetensors file ({exc})") from None
    if _META_KEY in raw:
        try:
            meta = json.loads(raw[_META_KEY])
        except json.JSONDecodeError as exc:
            raise CheckpointError(f"{p}: corrupt metadata ({exc})") from None
        return dict(meta) if isinstance(meta, dict) else {}
    out: dict[str, Any] = {}
    if "vislang_model_type" in raw:
        out["model_type"] = raw["vislang_model_type"]
    if "vislang_format" in raw:
        out["format_version"] = int(raw["vislang_format"])
    return out


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
    ``run/model.state.safetensors``, ``run/model.json``). Returns the weights path.

    Identical models give byte-identical weights files; the sidecar records the sha256 of both
    tensor files, checked when they are loaded. Files get the permissions of the umask.
    """
    weights, state_path, meta_path = _paths(path)
    weights.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    weights_sha = _save_tensors(
        weights, tensors, {"format_version": FORMAT_VERSION, "model_type": model.model_type}
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
        tensors_opt, meta["optimizer"] = optimizer_state(optimizer, "optim")
        state.update(tensors_opt)
    if scheduler is not None:
        meta["scheduler"] = scheduler.state_dict()
    if scaler is not None:
        meta["scaler"] = scaler.state_dict()
    meta["sha256"] = {
        weights.name: weights_sha,
        state_path.name: _save_tensors(state_path, state, None),
    }
    _write_bytes(meta_path, json.dumps(meta, indent=1).encode())
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


def _read_tensors(path: Path, meta: dict[str, Any] | None = None) -> dict[str, Tensor]:
    """The tensors of ``path``, checked against the sha256 that the sidecar ``meta`` records
    (sidecars written before checksums were recorded have none: not checked)."""
    from safetensors.torch import load

    if not path.is_file():
        raise CheckpointError(f"checkpoint file not found: {path}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CheckpointError(f"{path}: unreadable checkpoint file ({exc})") from None
    expected = ((meta or {}).get("sha256") or {}).get(path.name)
    if expected is not None and hashlib.sha256(data).hexdigest() != expected:
        raise CheckpointError(
            f"{path}: corrupt checkpoint: its sha256 differs from the one recorded in the "
            "sidecar (the file was damaged or changed after it was saved)"
        )
    try:
        return load(data)
    except Exception as exc:
        raise CheckpointError(f"{path}: corrupt or unreadable safetensors file ({exc})") from None


def load_model(
    path: str | os.PathLike[str],
    *,
    expected_type: str | None = None,
    device: str | torch.device = "cpu",
) -> CrossModalModel:
    """Rebuild a model from its checkpoint (weights + sidecar).

    ``path`` names the checkpoint (``run/best``, ``run/model.safetensors``, ``run/model.json``)
    or a run folder (``run``: its ``model`` checkpoint, the weights chosen on validation).

    Raises
    ------
    CheckpointError
        Missing or corrupt files, another format/model version, or a model type other than
        ``expected_type``; the message names the file and the mismatch.
    """
    weights, _, meta_path = _paths(path, reading=True)
    meta = _read_meta(meta_path)
    mtype = meta.get("model_type")
    types = _model_types()
    if expected_type is not None and mtype != expected_type:
        raise CheckpointError(
            f"{meta_path}: checkpoint holds a {mtype!r} model, expected {expected_type!r}"
        )
    if mtype not in types:
        raise CheckpointError(f"{meta_path}: unknown model type {mtype!r}")
    return build_from_meta(types[mtype], weights, meta_path, meta, device)


def build_from_meta(
    cls: Any, weights: Path, meta_path: Path, meta: dict[str, Any], device: str | torch.device
) -> Any:
    """``cls`` rebuilt from a read sidecar: model version checked, config, weights (checked
    against their sha256), moved to ``device``."""
    mtype = meta.get("model_type")
    if meta.get("model_version") != cls.format_version:
        raise CheckpointError(
            f"{meta_path}: {mtype} model version {meta.get('model_version')!r}, this vislang "
            f"has version {cls.format_version}"
        )
    try:
        model = cls.from_config_dict(meta["config"])
    except (KeyError, TypeError, InvalidInputError) as exc:
        raise CheckpointError(f"{meta_path}: bad model config ({exc})") from None
    _load_weights(model, weights, meta)
    return model.to(device)


def optimizer_state(opt: torch.optim.Optimizer, prefix: str) -> tuple[dict[str, Tensor], Any]:
    """An optimizer's state split for a checkpoint: its tensors (``prefix.<param>.<key>``, for
    the safetensors file) and the rest (JSON, for the sidecar)."""
    sd = opt.state_dict()
    tensors: dict[str, Tensor] = {}
    plain: dict[str, dict[str, Any]] = {}
    for pid, pstate in sd["state"].items():
        plain[str(pid)] = {}
        for key, value in pstate.items():
            if isinstance(value, Tensor):
                tensors[f"{prefix}.{pid}.{key}"] = value.detach().cpu().contiguous().clone()
            else:
                plain[str(pid)][key] = value
    return tensors, {"param_groups": sd["param_groups"], "state": plain}


def load_optimizer_state(
    opt: torch.optim.Optimizer, saved: Any, tensors: dict[str, Tensor], prefix: str
) -> None:
    """The inverse of :func:`optimizer_state`."""
    state: dict[int, dict[str, Any]] = {int(p): dict(v) for p, v in saved["state"].items()}
    for key, value in tensors.items():
        if key.startswith(prefix + "."):
            _, pid, name = key.split(".", 2)
            state.setdefault(int(pid), {})[name] = value
    opt.load_state_dict({"state": state, "param_groups": saved["param_groups"]})


def _load_weights(model: CrossModalModel, weights: Path, meta: dict[str, Any]) -> None:
    tensors = _read_tensors(weights, meta)
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
    weights, state_path, meta_path = _paths(path, reading=True)
    meta = _read_meta(meta_path)
    if not _same_model(meta.get("model_type"), model):
        raise CheckpointError(
            f"{meta_path}: checkpoint holds a {meta.get('model_type')!r} model, expected "
            f"{model.model_type!r}"
        )
    if meta.get("model_version") != model.format_version:
        raise CheckpointError(
            f"{meta_path}: {model.model_type} model version {meta.get('model_version')!r}, "
            f"this vislang has version {model.format_version}"
        )
    _load_weights(model, weights, meta)
    state = _read_tensors(state_path, meta)
    try:
        if optimizer is not None:
            load_optimizer_state(optimizer, meta["optimizer"], state, "optim")
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
