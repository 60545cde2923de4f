"""``vislang train`` end to end with the real trainers and the example configs."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def test_train_vsepp_from_the_example_config(
    vislang_cli: Callable[..., Any], tmp_path: Path
) -> None:
    out = tmp_path / "vsepp"
    r = vislang_cli(
        "train", "vse++", "--config", CONFIGS / "vse++.toml",
        "--set", "data.n_train=48", "--set", "data.n_val=16", "--set", "data.n_test=16",
        "--set", "train.epochs=2", "--set", "train.batch_size=16",
        "--set", "model.embed_dim=32", "--set", "model.word_dim=16",
        "--device", "cpu", "--seed", 3, "--out", out, "--quiet", "--json",
    )  # fmt: skip
    assert r.code == 0, r.err
    metrics = r.json()
    assert metrics["model"] == "vse++" and metrics["epochs"] == 2
    assert 0.0 <= metrics["rsum"] <= 600.0
    for name in ("model.safetensors", "model.json", "metrics.json"):
        assert (out / name).is_file(), name
    for png in ("training_curve.png", "retrieval_grid.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png
    assert json.loads((out / "metrics.json").read_text())["rsum"] == metrics["rsum"]


def test_train_skipgram_from_the_example_config(
    vislang_cli: Callable[..., Any], tmp_path: Path
) -> None:
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(30)]
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(" ".join(rng.choice(words, 12)) for _ in range(300)) + "\n")
    out = tmp_path / "sg"
    r = vislang_cli(
        "train", "skipgram", "--config", CONFIGS / "skipgram.toml",
        "--set", f"data.corpus={json.dumps(str(corpus))}", "--set", "model.min_count=1",
        "--set", "train.epochs=1", "--set", "model.vector_size=16", "--set", "eval.evaluate=false",
        "--out", out, "--quiet", "--json",
    )  # fmt: skip
    assert r.code == 0, r.err
    from vislang.semantics import load_word_vectors

    vectors = load_word_vectors(next(out.glob("vectors.*")))
    assert set(vectors.words) == set(words) and vectors.dim == 16


def test_unknown_config_key_is_one_line_naming_it(
    vislang_cli: Callable[..., Any], tmp_path: Path
) -> None:
    r = vislang_cli(
        "train", "vse++", "--config", CONFIGS / "vse++.toml", "--set", "train.lrr=1",
        "--out", tmp_path / "x", "--quiet",
    )  # fmt: skip
    assert r.code == 1
    assert "train.lrr" in r.err and r.err.count("\n") == 1 and "Traceback" not in r.err


def test_flat_skipgram_overrides_still_work(
    vislang_cli: Callable[..., Any], tmp_path: Path
) -> None:
    """``--set corpus=...`` (the flat keys of older releases): deprecated, still honoured."""
    import pytest

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("a b c a b c d\n" * 50)
    with pytest.warns(DeprecationWarning, match="flat config for 'skipgram'"):
        r = vislang_cli(
            "train", "skipgram", "--set", f"corpus={json.dumps(str(corpus))}",
            "--set", "min_count=1", "--set", "epochs=1", "--set", "vector_size=8",
            "--set", "evaluate=false", "--out", tmp_path / "sg", "--quiet", "--json",
        )  # fmt: skip
    assert r.code == 0, r.err
    assert r.json()["config"]["model"]["vector_size"] == 8


def test_train_cap2cap_from_the_example_config(
    vislang_cli: Callable[..., Any], tmp_path: Path
) -> None:
    """The grounded-sentence runner through the CLI (the shapes world instead of Flickr8k)."""
    out = tmp_path / "cap2cap"
    r = vislang_cli(
        "train", "cap2cap", "--config", CONFIGS / "cap2both-flickr8k.toml",
        "--set", "data.source=shapes", "--set", "data.path=", "--set", "data.word_vectors=",
        "--set", "data.n_train=16", "--set", "data.n_val=4", "--set", "data.n_test=4",
        "--set", "model.hidden_dim=8", "--set", "model.word_dim=8",
        "--set", "model.decoder_dim=8", "--set", "train.epochs=1",
        "--device", "cpu", "--out", out, "--quiet", "--json",
    )  # fmt: skip
    assert r.code == 0, r.err
    metrics = r.json()
    assert metrics["model"] == "cap2cap" and 0.0 <= metrics["para_r10"] <= 100.0
    assert (out / "model.safetensors").is_file() and (out / "metrics.json").is_file()
