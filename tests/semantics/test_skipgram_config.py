"""run_config / config_help: the example configs on a tiny generated corpus, and bad configs."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vislang.exceptions import InvalidInputError
from vislang.semantics import WordVectors, config_help, run_config

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CONFIGS = Path(__file__).parents[2] / "configs"
WORDS = ["cat", "dog", "tiger", "car", "bus", "train", "the", "a"]


def tiny_corpus(path: Path, n: int = 400, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    animals, vehicles = WORDS[:3], WORDS[3:6]
    lines = []
    for s in range(n):
        fam = animals if s % 2 else vehicles
        toks = [fam[i] for i in rng.integers(0, 3, 6)] + ["the", "a"]
        rng.shuffle(toks)
        lines.append(" ".join(toks).upper() if s % 7 == 0 else " ".join(toks))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def load(name: str) -> dict[str, Any]:
    with (CONFIGS / f"{name}.toml").open("rb") as f:
        return tomllib.load(f)


def test_skipgram_config_runs(tmp_path: Path) -> None:
    cfg = load("skipgram")
    cfg.update(corpus=str(tiny_corpus(tmp_path / "c.txt")), epochs=2, n_jobs=1)
    m = run_config("skipgram", cfg, out=tmp_path / "run", progress=False, seed=3)
    assert m["model"] == "skipgram" and m["device"] == "cpu"
    assert m["vocab_size"] == len(WORDS)  # lowercase = true folds the upper-case lines
    assert m["tokens"] == 400 * 8
    assert m["config"]["seed"] == 3
    for f in m["files"]:
        assert Path(f).is_file()
    wv = WordVectors.load(tmp_path / "run" / "vectors.txt")
    assert wv.dim == cfg["vector_size"] and set(wv.words) == set(WORDS)
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert saved["vocab_size"] == m["vocab_size"]
    # The benchmarks are scored (or skipped with a reason) when gensim's files exist.
    for key in ("simlex999", "wordsim353"):
        assert "rho" in m[key] or "skipped" in m[key]


def test_mmskipgram_config_runs_with_a_vector_file(tmp_path: Path) -> None:
    cfg = load("mmskipgram")
    rng = np.random.default_rng(1)
    vis = WordVectors(rng.normal(size=(4, 12)), ["cat", "dog", "car", "bus"])
    vis.save(tmp_path / "vis.txt", format="word2vec")
    cfg.pop("flickr8k")
    cfg.update(
        corpus=str(tiny_corpus(tmp_path / "c.txt")),
        visual=str(tmp_path / "vis.txt"),
        epochs=1,
        vector_size=16,
        n_jobs=1,
        save_format="npz",
    )
    m = run_config("mmskipgram", cfg, out=tmp_path / "run", progress=False)
    assert m["visual_words"] == 4
    assert (tmp_path / "run" / "vectors.npz").is_file()
    from vislang.semantics import SkipGram

    model = SkipGram.load(tmp_path / "run" / "model.npz")
    assert getattr(model, "mapping_", None) is not None
    assert model.mapping_.shape == (12, 16)  # type: ignore[attr-defined]


def test_mmskipgram_from_tagged_image_folder(tmp_path: Path) -> None:
    cv2 = pytest.importorskip("cv2")
    rng = np.random.default_rng(0)
    for w in ("cat", "dog", "car"):
        (tmp_path / "img" / w).mkdir(parents=True)
        for i in range(3):
            img = (rng.random((48, 48)) * 255).astype(np.uint8)
            cv2.imwrite(str(tmp_path / "img" / w / f"{i}.png"), img)
    cfg = {
        "corpus": str(tiny_corpus(tmp_path / "c.txt")),
        "lowercase": True,
        "images": str(tmp_path / "img"),
        "visual_words": 8,
        "variant": "B",
        "vector_size": 8,
        "epochs": 1,
        "n_jobs": 1,
        "evaluate": False,
    }
    m = run_config("mmskipgram", cfg, out=tmp_path / "run", progress=False)
    assert m["visual_words"] == 3
    assert "simlex999" not in m


def test_config_help_lists_every_option_with_its_default() -> None:
    text = config_help("mmskipgram")
    for key, default in load("mmskipgram").items():
        assert f"  {key} = " in text
        if key in ("margin", "n_visual_negatives", "window", "negative"):
            assert f"  {key} = {default!r}" in text
    assert "corpus = required" in config_help("skipgram")
    assert "variant" not in config_help("skipgram")
    with pytest.raises(InvalidInputError, match="unknown model"):
        config_help("glove")


@pytest.mark.parametrize(
    ("name", "config", "match"),
    [
        ("skipgram", {"corpus": "x.txt", "windw": 5}, "'windw'"),
        ("skipgram", {"corpus": "x.txt", "variant": "A"}, "'variant'"),
        ("skipgram", {}, "'corpus' is required"),
        ("skipgram", {"corpus": "x.txt", "window": "5"}, "'window' must be int"),
        ("skipgram", {"corpus": "x.txt", "lowercase": 1}, "'lowercase' must be bool"),
        ("skipgram", {"corpus": "missing.txt"}, "does not exist"),
        ("skipgram", {"corpus": "x.txt", "save_format": "csv"}, "save_format"),
        ("mmskipgram", {"corpus": "x.txt"}, "exactly one of"),
        ("word2vec", {"corpus": "x.txt"}, "unknown model"),
    ],
)
def test_bad_configs(name: str, config: dict[str, Any], match: str, tmp_path: Path) -> None:
    if config.get("corpus") == "x.txt":
        config = {**config, "corpus": str(tiny_corpus(tmp_path / "x.txt", n=10))}
    with pytest.raises(InvalidInputError, match=match):
        run_config(name, config, out=tmp_path / "run", progress=False)


def test_cuda_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="CPU only"):
        run_config("skipgram", {"corpus": "x"}, device="cuda", out=tmp_path)
