"""Checkpoint integrity and model inputs: checksums, run folders, reproducible bytes, the
umask, the epoch of the saved weights, and the input checks of embed_images / embed_texts."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from vislang.exceptions import CheckpointError, InvalidInputError
from vislang.models import (
    VSE,
    Vocabulary,
    VSEConfig,
    load_checkpoint,
    load_model,
    save_checkpoint,
)
from vislang.models.checkpoint import weights_metadata
from vislang.train import runner


def run_config(name: str, config: dict[str, Any], *, seed: int | None = None, **kw: Any) -> Any:
    """The ``vislang train NAME`` runner (``seed`` as a ``train.seed`` override)."""
    r = runner(name)
    if seed is not None:
        config = {**config, "train": {**config.get("train", {}), "seed": seed}}
    return r.run(r.resolve(config), **kw)


TINY = {"n_train": 24, "n_val": 8, "n_test": 8, "image_size": 32}
TINY_RUN = {
    "data": TINY,
    "model": {"embed_dim": 8, "word_dim": 4},
    "train": {"epochs": 2, "batch_size": 8},
}


def _vse(pairs: dict[str, Any]) -> VSE:
    torch.manual_seed(0)
    vocab = Vocabulary.build(pairs["train"].captions)
    dim = pairs["train"].images.shape[1]
    return VSE(vocab, VSEConfig(feature_dim=dim, word_dim=16, embed_dim=32))


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


# ---------------------------------------------------------------------- checksums
def test_overwritten_bytes_are_detected(shapes_pairs: dict[str, Any], tmp_path: Path) -> None:
    model = _vse(shapes_pairs)
    weights = save_checkpoint(tmp_path / "vse", model)
    meta = json.loads((tmp_path / "vse.json").read_text())
    assert set(meta["sha256"]) == {"vse.safetensors", "vse.state.safetensors"}
    load_model(tmp_path / "vse")  # intact: loads
    data = bytearray(weights.read_bytes())
    mid = len(data) // 2  # inside the tensor data, past the header
    data[mid : mid + 100] = b"\x7f" * 100
    weights.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"vse\.safetensors: corrupt checkpoint: its sha256"):
        load_model(tmp_path / "vse")
    with pytest.raises(CheckpointError, match=r"vse\.safetensors"):
        load_checkpoint(tmp_path / "vse", _vse(shapes_pairs))


def test_state_file_checksum_is_checked(shapes_pairs: dict[str, Any], tmp_path: Path) -> None:
    model = _vse(shapes_pairs)
    save_checkpoint(tmp_path / "vse", model)
    state = tmp_path / "vse.state.safetensors"
    data = bytearray(state.read_bytes())
    data[-4:] = b"\x00\x01\x02\x03"
    state.write_bytes(bytes(data))
    load_model(tmp_path / "vse")  # inference needs only the weights
    with pytest.raises(CheckpointError, match=r"vse\.state\.safetensors: corrupt"):
        load_checkpoint(tmp_path / "vse", _vse(shapes_pairs))


def test_sidecar_without_checksums_still_loads(
    shapes_pairs: dict[str, Any], tmp_path: Path
) -> None:
    model = _vse(shapes_pairs)
    save_checkpoint(tmp_path / "vse", model)
    meta_path = tmp_path / "vse.json"
    meta = json.loads(meta_path.read_text())
    del meta["sha256"]  # as written by earlier versions
    meta_path.write_text(json.dumps(meta))
    torch.testing.assert_close(
        load_model(tmp_path / "vse").embed_texts(["a red circle"]),
        model.embed_texts(["a red circle"]),
    )


def test_weights_metadata_one_sorted_key_and_old_keys(
    shapes_pairs: dict[str, Any], tmp_path: Path
) -> None:
    from safetensors import safe_open
    from safetensors.torch import save_file

    weights = save_checkpoint(tmp_path / "vse", _vse(shapes_pairs))
    with safe_open(str(weights), framework="pt") as f:
        raw = f.metadata()
    assert list(raw) == ["vislang"]
    assert raw["vislang"] == json.dumps(json.loads(raw["vislang"]), sort_keys=True)
    # VSEConfig defaults to the VSE++ loss: the registered name is what the file records.
    assert weights_metadata(weights) == {"format_version": 1, "model_type": "vse++"}
    old = tmp_path / "old.safetensors"
    save_file(
        {"w": torch.zeros(2)},
        str(old),
        metadata={"vislang_model_type": "wsabie", "vislang_format": "1"},
    )
    assert weights_metadata(old) == {"model_type": "wsabie", "format_version": 1}


# ---------------------------------------------------------------------- files
def test_files_honour_the_umask(
    shapes_pairs: dict[str, Any], tmp_path: Path, umask_022: None
) -> None:
    save_checkpoint(tmp_path / "vse", _vse(shapes_pairs))
    for name in ("vse.safetensors", "vse.state.safetensors", "vse.json"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o644, name
    assert not list(tmp_path.glob("*.tmp"))


def test_run_folder_loads_and_identical_runs_give_identical_bytes(tmp_path: Path) -> None:
    a = run_config("vse", TINY_RUN, device="cpu", seed=3, out=tmp_path / "a", progress=False,
                   plots=False)  # fmt: skip
    run_config("vse", TINY_RUN, device="cpu", seed=3, out=tmp_path / "b", progress=False,
               plots=False)  # fmt: skip
    for name in ("model.safetensors", "best.safetensors", "last.safetensors",
                 "last.state.safetensors"):  # fmt: skip
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    model = load_model(tmp_path / "a")  # the run folder: its final model
    assert model.model_type == "vse"
    assert Path(a["checkpoint"]) == tmp_path / "a" / "model.safetensors"
    with pytest.raises(CheckpointError, match=r"no checkpoint in folder .*empty"):
        (tmp_path / "empty").mkdir()
        load_model(tmp_path / "empty")


def test_model_json_says_which_epoch_the_weights_are(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scores = iter([10.0, 5.0])  # epoch 1 is the best; epoch 2 is worse

    def evaluate(self: VSE, data: Any, *, device: Any = None) -> dict[str, float]:
        return {"rsum": next(scores, 0.0)}

    monkeypatch.setattr(VSE, "evaluate", evaluate)
    metrics = run_config("vse", TINY_RUN, device="cpu", seed=0, out=tmp_path, progress=False,
                         plots=False)  # fmt: skip
    trainer = json.loads((tmp_path / "model.json").read_text())["trainer"]
    assert trainer["epoch"] == 2 and trainer["best_epoch"] == 1
    assert trainer["weights_epoch"] == 1 and metrics["weights_epoch"] == 1
    last = json.loads((tmp_path / "last.json").read_text())["trainer"]
    assert last["weights_epoch"] == 2


# ---------------------------------------------------------------------- inputs
def test_embed_images_rejects_nan(shapes_pairs: dict[str, Any]) -> None:
    model = _vse(shapes_pairs)
    x = np.array(shapes_pairs["test"].images[:4], dtype=np.float32)
    x[2, 3] = np.nan
    with pytest.raises(InvalidInputError, match="NaN or inf at row 2"):
        model.embed_images(x)
    with pytest.raises(InvalidInputError, match="NaN or inf at row 2"):
        model.embed_images(torch.from_numpy(x))


def test_uint8_images_grey_rgba_and_rgb() -> None:
    torch.manual_seed(0)
    vocab = Vocabulary.build(["a red circle", "a blue square"])
    model = VSE(vocab, VSEConfig(backbone="tiny_cnn", word_dim=8, embed_dim=16, image_size=32))
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, size=(3, 32, 32, 3), dtype=np.uint8)
    rgba = np.concatenate([rgb, np.full((3, 32, 32, 1), 7, np.uint8)], axis=3)
    grey = rgb[..., 0]
    ref = model.embed_images(rgb)
    torch.testing.assert_close(model.embed_images(rgba), ref)
    torch.testing.assert_close(model.embed_images(list(rgba)), ref)
    as_rgb = model.embed_images(np.repeat(grey[..., None], 3, axis=3))
    torch.testing.assert_close(model.embed_images(grey), as_rgb)
    torch.testing.assert_close(model.embed_images(list(grey)), as_rgb)
    assert model.embed_images(grey).shape == (3, 16)


def test_embed_texts_rejects_non_strings(shapes_pairs: dict[str, Any]) -> None:
    model = _vse(shapes_pairs)
    with pytest.raises(InvalidInputError, match=r"captions\[0\] must be a string, got int"):
        model.embed_texts([1, 2])  # type: ignore[list-item]
