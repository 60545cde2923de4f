"""The skip-gram runners (``vislang train skipgram|mmskipgram``): the example configs on a tiny
generated corpus, bad configs, the flat configs of older releases, and seeds."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vislang.exceptions import InvalidInputError
from vislang.semantics import WordVectors
from vislang.train import runner

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CONFIGS = Path(__file__).parents[2] / "configs"
WORDS = ["cat", "dog", "tiger", "car", "bus", "train", "the", "a"]


def run_config(name: str, config: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    return runner(name).run(runner(name).resolve(config), **kwargs)


def config_help(name: str) -> str:
    return runner(name).schema.help()


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
    cfg["data"]["corpus"] = str(tiny_corpus(tmp_path / "c.txt"))
    cfg["train"].update(epochs=2, n_jobs=1, seed=3)
    m = run_config("skipgram", cfg, out=tmp_path / "run", progress=False)
    assert m["model"] == "skipgram" and m["device"] == "cpu"
    assert m["vocab_size"] == len(WORDS)  # lowercase = true folds the upper-case lines
    assert m["tokens"] == 400 * 8
    assert m["config"]["train"]["seed"] == 3 and m["seed"] == 3
    for f in m["files"]:
        assert Path(f).is_file()
    wv = WordVectors.load(tmp_path / "run" / "vectors.txt")
    assert wv.dim == cfg["model"]["vector_size"] and set(wv.words) == set(WORDS)
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert saved["vocab_size"] == m["vocab_size"]
    # The benchmarks are scored (or skipped with a reason) when gensim's files exist.
    for key in ("simlex999", "wordsim353"):
        assert "rho" in m[key] or "skipped" in m[key]


def test_seed_decides_the_vectors(tmp_path: Path) -> None:
    corpus = str(tiny_corpus(tmp_path / "c.txt", n=100))
    vectors = {}
    for tag, seed in (("a", 1), ("b", 1), ("c", 2)):
        cfg = {
            "data": {"corpus": corpus},
            "model": {"vector_size": 8, "min_count": 1},
            "train": {"epochs": 1, "n_jobs": 1, "seed": seed},
            "eval": {"evaluate": False},
            "output": {"save_format": "npz"},
        }
        m = run_config("skipgram", cfg, out=tmp_path / tag, progress=False)
        assert m["seed"] == seed
        vectors[tag] = WordVectors.load(tmp_path / tag / "vectors.npz").vectors
    np.testing.assert_array_equal(vectors["a"], vectors["b"])
    assert not np.array_equal(vectors["a"], vectors["c"])


def test_flat_configs_of_older_releases_still_load(tmp_path: Path) -> None:
    flat = {
        "corpus": str(tiny_corpus(tmp_path / "c.txt", n=50)),
        "epochs": 1,
        "n_jobs": 1,
        "vector_size": 8,
        "min_count": 1,
        "evaluate": False,
        "seed": 4,
    }
    with pytest.warns(DeprecationWarning, match="flat config for 'skipgram'"):
        resolved = runner("skipgram").resolve(flat)
    assert resolved["train"]["seed"] == 4 and resolved["model"]["vector_size"] == 8
    assert resolved.is_set("train.seed") and not resolved.is_set("train.alpha")
    with pytest.warns(DeprecationWarning), pytest.raises(InvalidInputError, match="windw"):
        runner("skipgram").resolve({**flat, "windw": 5})


def test_deprecated_semantics_aliases(tmp_path: Path) -> None:
    import vislang.semantics

    with pytest.warns(DeprecationWarning, match="vislang.semantics.config_help is deprecated"):
        assert vislang.semantics.config_help("skipgram") == config_help("skipgram")
    with pytest.warns(DeprecationWarning, match="run_config is deprecated"):
        old = vislang.semantics.run_config
    flat = {
        "corpus": str(tiny_corpus(tmp_path / "c.txt", n=50)),
        "epochs": 1,
        "n_jobs": 1,
        "vector_size": 8,
        "min_count": 1,
        "evaluate": False,
    }
    with pytest.warns(DeprecationWarning, match="flat config"):
        m = old("skipgram", flat, out=tmp_path / "run", progress=False, seed=7)
    assert m["seed"] == 7


def test_mmskipgram_config_runs_with_a_vector_file(tmp_path: Path) -> None:
    cfg = load("mmskipgram")
    rng = np.random.default_rng(1)
    vis = WordVectors(rng.normal(size=(4, 12)), ["cat", "dog", "car", "bus"])
    vis.save(tmp_path / "vis.txt", format="word2vec")
    cfg["data"].pop("flickr8k")
    cfg["data"].update(
        corpus=str(tiny_corpus(tmp_path / "c.txt")), visual=str(tmp_path / "vis.txt")
    )
    cfg["train"].update(epochs=1, n_jobs=1)
    cfg["model"].update(vector_size=16)
    cfg["output"].update(save_format="npz")
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
        "data": {
            "corpus": str(tiny_corpus(tmp_path / "c.txt")),
            "lowercase": True,
            "images": str(tmp_path / "img"),
            "visual_words": 8,
        },
        "model": {"variant": "B", "vector_size": 8},
        "train": {"epochs": 1, "n_jobs": 1},
        "eval": {"evaluate": False},
    }
    m = run_config("mmskipgram", cfg, out=tmp_path / "run", progress=False)
    assert m["visual_words"] == 3
    assert "simlex999" not in m


def test_config_help_lists_every_option_with_its_default() -> None:
    text = config_help("mmskipgram")
    for section, values in load("mmskipgram").items():
        assert f"\n[{section}]\n" in text
        for key, default in values.items():
            assert f"\n{key} = " in text
            if key in ("margin", "n_visual_negatives", "window", "negative"):
                assert f"\n{key} = {default!r}" in text
    assert 'corpus = ""  # REQUIRED' in config_help("skipgram")
    assert "variant" not in config_help("skipgram")
    with pytest.raises(InvalidInputError, match="unknown model"):
        config_help("glove")


@pytest.mark.parametrize(
    ("name", "config", "match"),
    [
        ("skipgram", {"data": {"corpus": "x.txt"}, "model": {"windw": 5}}, r"model\.windw"),
        ("skipgram", {"data": {"corpus": "x.txt"}, "model": {"variant": "A"}}, r"model\.variant"),
        ("skipgram", {}, r"data\.corpus is required"),
        (
            "skipgram",
            {"data": {"corpus": "x.txt"}, "model": {"window": "5"}},
            r"model\.window must be an integer",
        ),
        (
            "skipgram",
            {"data": {"corpus": "x.txt", "lowercase": 1}},
            r"data\.lowercase must be true or false",
        ),
        ("skipgram", {"data": {"corpus": "missing.txt"}}, "does not exist"),
        (
            "skipgram",
            {"data": {"corpus": "x.txt"}, "output": {"save_format": "csv"}},
            r"output\.save_format must be one of",
        ),
        ("mmskipgram", {"data": {"corpus": "x.txt"}}, "exactly one of"),
    ],
)
def test_bad_configs(name: str, config: dict[str, Any], match: str, tmp_path: Path) -> None:
    if config.get("data", {}).get("corpus") == "x.txt":
        config = {
            **config,
            "data": {**config["data"], "corpus": str(tiny_corpus(tmp_path / "x.txt", n=10))},
        }
    with pytest.raises(InvalidInputError, match=match):
        run_config(name, config, out=tmp_path / "run", progress=False)


def test_unknown_runner() -> None:
    with pytest.raises(InvalidInputError, match="unknown model 'word2vec'"):
        runner("word2vec")


def test_cuda_is_refused(tmp_path: Path) -> None:
    config = runner("skipgram").resolve({"data": {"corpus": "x"}})
    with pytest.raises(InvalidInputError, match="CPU only"):
        runner("skipgram").run(config, device="cuda", out=tmp_path)
