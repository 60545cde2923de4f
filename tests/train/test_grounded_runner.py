"""``vislang train cap2img|cap2cap|cap2both``: the runners train a few steps on the shapes world
(precomputed features for the image objectives), write a checkpoint that loads, and name the
config key in their errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vislang.exceptions import InvalidInputError
from vislang.models import GroundedSentenceModel, load_model
from vislang.train import list_runners, runner

TINY = {"n_train": 20, "n_val": 6, "n_test": 6, "image_size": 32, "word_vectors": ""}
SMALL_MODEL = {"word_dim": 8, "hidden_dim": 6, "decoder_dim": 8, "decoder_word_dim": 4}
TRAIN = {"epochs": 1, "batch_size": 16, "max_steps_per_epoch": 2}


def _run(name: str, tmp_path: Path, **data: Any) -> dict[str, Any]:
    config = {"data": {**TINY, **data}, "model": SMALL_MODEL, "train": TRAIN}
    r = runner(name)
    return r.run(r.resolve(config), device="cpu", out=tmp_path / name, progress=False)


def test_the_runners_are_listed() -> None:
    assert set(list_runners("sentence")) == {"cap2img", "cap2cap", "cap2both"}
    help_ = runner("cap2img").schema.help()
    assert "[model]" in help_ and "hidden_dim = 1024" in help_ and "target = " in help_


@pytest.mark.parametrize("name", ["cap2img", "cap2cap", "cap2both"])
def test_runner_trains_and_saves(name: str, tmp_path: Path) -> None:
    feats = tmp_path / "f.npy"
    np.save(feats, np.random.default_rng(0).normal(size=(32, 10)).astype(np.float32))
    metrics = _run(name, tmp_path, features=str(feats))
    assert metrics["model"] == name and metrics["epochs"] == 1
    assert 0 <= metrics["para_r10"] <= 100 and np.isfinite(metrics["rsum"])
    assert ("t2i_r1" in metrics) == (name != "cap2cap")
    model = load_model(tmp_path / name)
    assert isinstance(model, GroundedSentenceModel) and model.model_type == name
    assert model.encode(["a red circle"]).shape == (1, 12)
    assert (tmp_path / name / "metrics.json").is_file()


def test_runner_errors_name_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((5, 3), np.float32))
    with pytest.raises(InvalidInputError, match=r"data.features must have shape \(32, F\)"):
        _run("cap2img", tmp_path, features=str(bad))
    with pytest.raises(InvalidInputError, match=r"data\.features file not found"):
        _run("cap2both", tmp_path, features=str(tmp_path / "missing.npy"))
    with pytest.raises(InvalidInputError, match=r"model\.encoder"):
        runner("cap2img").resolve({"model": {"encoder": "transformer"}})
