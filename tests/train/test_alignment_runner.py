"""``vislang train dt-rnn`` / ``brnn-align`` through the shared trainer: metrics.json (with
alignment correctness on the shapes world), checkpoints that load, config errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from vislang.exceptions import InvalidInputError
from vislang.models import load_model
from vislang.train import list_runners, runner

SMALL = {"n_train": 60, "n_val": 10, "n_test": 20}


def test_runners_are_listed() -> None:
    assert {"dt-rnn", "brnn-align"} <= set(list_runners())
    assert runner("brnn-align").resolve().get("model", {})["margin"] == 1.0
    assert runner("dt-rnn").resolve()["model"]["margin"] == 0.2


def test_brnn_align_runner_writes_alignment_correctness(tmp_path: Path) -> None:
    cfg = runner("brnn-align").resolve(
        {"data": SMALL, "model": {"embed_dim": 16, "word_dim": 8, "hidden_dim": 16},
         "train": {"epochs": 1, "batch_size": 30}}
    )  # fmt: skip
    metrics = runner("brnn-align").run(cfg, device="cpu", out=tmp_path, progress=False)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    ac = saved["alignment_correctness"]
    assert set(ac) == {"hit_rate", "chance"}
    assert 0 <= ac["hit_rate"] <= 1 and 0 < ac["chance"] < 0.5
    assert saved["alignment_words"] > 20
    assert {"i2t_r1", "t2i_r10", "t2i_medr", "rsum"} <= set(saved)
    assert all(Path(p).is_file() for p in saved["plots"])
    model = load_model(tmp_path / "model")
    assert model.model_type == "brnn-align"
    assert metrics["rsum"] == pytest.approx(saved["rsum"])


def test_dt_rnn_runner_and_given_trees(tmp_path: Path) -> None:
    cfg = runner("dt-rnn").resolve(
        {"data": SMALL, "model": {"embed_dim": 16, "word_dim": 8}, "train": {"epochs": 1}}
    )
    metrics = runner("dt-rnn").run(cfg, device="cpu", out=tmp_path, progress=False)
    assert 0 <= metrics["t2i_r1"] <= 100 and "alignment_correctness" not in metrics
    model = load_model(tmp_path / "model")
    emb = model.embed_texts(["a red circle left of a blue square"])
    assert emb.shape == (1, 16) and torch.isfinite(emb).all()
    bad = runner("dt-rnn").resolve({"data": SMALL, "model": {"parser": "given"}})
    with pytest.raises(InvalidInputError, match=r"needs model\.conllu"):
        runner("dt-rnn").run(bad, device="cpu", out=tmp_path / "b", progress=False)
    with pytest.raises(InvalidInputError, match=r"model\.composition must be one of"):
        runner("dt-rnn").resolve({"model": {"composition": "tree"}})
