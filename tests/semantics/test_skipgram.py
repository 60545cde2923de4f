"""SkipGram / MultimodalSkipGram end to end: vocabulary, planted structure, determinism, errors."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vislang.eval import word_similarity
from vislang.exceptions import CheckpointError, InvalidInputError
from vislang.semantics import (
    MultimodalSkipGram,
    SkipGram,
    WordVectors,
    encode_corpus,
)

FAMILIES = {"a": [f"a{i}" for i in range(6)], "b": [f"b{i}" for i in range(6)]}


def planted_corpus(n_sentences: int = 3000, seed: int = 0) -> list[list[str]]:
    """Two word families that never share a sentence, plus a frequent filler word."""
    rng = np.random.default_rng(seed)
    out = []
    for s in range(n_sentences):
        fam = FAMILIES["ab"[s % 2]]
        words = [fam[i] for i in rng.integers(0, len(fam), 8)]
        words.insert(int(rng.integers(0, 8)), "the")
        out.append(words)
    return out


SMALL = {
    "vector_size": 16,
    "window": 3,
    "negative": 4,
    "min_count": 1,
    "epochs": 3,
    "random_state": 3,
}


def family_accuracy(wv: WordVectors) -> float:
    hits = total = 0
    for fam in FAMILIES.values():
        for w in fam:
            top = [n for n, _ in wv.most_similar(w, topn=3)]
            hits += sum(n in fam for n in top)
            total += 3
    return hits / total


def test_planted_families_are_recovered() -> None:
    model = SkipGram(**SMALL, n_jobs=1).fit(planted_corpus())
    assert family_accuracy(model.wv) == 1.0
    within = model.wv.similarity("a0", "a1")
    across = model.wv.similarity("a0", "b1")
    assert within > across + 0.3


def test_two_threads_also_recover_the_families() -> None:
    model = SkipGram(**SMALL, n_jobs=2).fit(planted_corpus())
    assert family_accuracy(model.wv) == 1.0
    assert model.words_trained_ == SMALL["epochs"] * sum(map(len, planted_corpus()))


def test_one_thread_is_bit_identical_and_seed_matters() -> None:
    corpus = planted_corpus(600)
    a = SkipGram(**SMALL, n_jobs=1).fit(corpus).wv.vectors
    b = SkipGram(**SMALL, n_jobs=1).fit(corpus).wv.vectors
    np.testing.assert_array_equal(a, b)
    c = SkipGram(**{**SMALL, "random_state": 4}, n_jobs=1).fit(corpus).wv.vectors
    assert not np.array_equal(a, c)


def test_encode_corpus_counts_and_min_count() -> None:
    corpus = [["x", "y", "x", "rare"], [], ["y", "x", "z"], ["z"]]
    enc = encode_corpus(corpus, min_count=2)
    counts = Counter(t for s in corpus for t in s)
    assert enc.words == ("x", "y", "z")  # by count, ties by first occurrence
    assert enc.counts.tolist() == [counts[w] for w in enc.words]
    assert enc.n_raw_tokens == 8
    # "rare" is dropped from its sentence; the empty sentence is dropped.
    sentences = [
        enc.ids[a:b].tolist() for a, b in zip(enc.offsets[:-1], enc.offsets[1:], strict=True)
    ]
    assert sentences == [[0, 1, 0], [1, 0, 2], [2]]


def test_encode_corpus_splits_long_sentences_and_reads_files(tmp_path: Path) -> None:
    corpus = [["w"] * 25, ["v", "w"]]
    enc = encode_corpus(corpus, min_count=1, max_sentence_length=10)
    assert enc.offsets.tolist() == [0, 10, 20, 25, 27]
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(" ".join(s) for s in corpus) + "\n", encoding="utf-8")
    from_file = encode_corpus(path, min_count=1, max_sentence_length=10)
    np.testing.assert_array_equal(from_file.ids, enc.ids)
    assert from_file.words == enc.words


def test_file_and_iterable_train_the_same(tmp_path: Path) -> None:
    corpus = planted_corpus(400)
    path = tmp_path / "c.txt"
    path.write_text("\n".join(" ".join(s) for s in corpus), encoding="utf-8")
    a = SkipGram(**SMALL, n_jobs=1).fit(corpus).wv
    b = SkipGram(**SMALL, n_jobs=1).fit(str(path)).wv
    assert a.words == b.words
    np.testing.assert_array_equal(a.vectors, b.vectors)


def test_subsampling_keeps_training_and_counts_words() -> None:
    corpus = planted_corpus(600)
    model = SkipGram(**{**SMALL, "sample": 1e-2}, n_jobs=1).fit(corpus)
    assert model.words_trained_ == SMALL["epochs"] * sum(map(len, corpus))
    assert model.counts_[0] == sum(s.count("the") for s in corpus)


def test_save_load_and_evaluation(tmp_path: Path) -> None:
    model = SkipGram(**SMALL, n_jobs=1).fit(planted_corpus(600))
    path = tmp_path / "m.npz"
    model.save(path)
    back = SkipGram.load(path)
    np.testing.assert_array_equal(back.wv.vectors, model.wv.vectors)
    np.testing.assert_array_equal(back.syn1neg_, model.syn1neg_)
    assert back.get_params() == model.get_params()
    pairs = [("a0", "a1", 9.0), ("a0", "b0", 1.0), ("b0", "b1", 8.0), ("a2", "b3", 0.5)]
    assert word_similarity(back.wv, pairs, n_bootstrap=0).rho > 0.5
    with pytest.raises(CheckpointError):
        MultimodalSkipGram.load(path)
    (tmp_path / "bad.npz").write_bytes(b"nope")
    with pytest.raises(CheckpointError):
        SkipGram.load(tmp_path / "bad.npz")


def test_progress_bar_runs(capsys: pytest.CaptureFixture[str]) -> None:
    model = SkipGram(**SMALL, n_jobs=1, verbose=True).fit(planted_corpus(2000))
    assert model.wv.dim == SMALL["vector_size"]


# ---------------------------------------------------------------------- multimodal
def visual_for(words: list[str], dim: int, seed: int = 0) -> tuple[np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(len(words), dim)).astype(np.float32), words


def _shared_image_gain(wv: WordVectors) -> float:
    """How much closer a0 is to b0 than to b0's text siblings (about 0 for text alone)."""
    return wv.similarity("a0", "b0") - max(wv.similarity("a0", f"b{j}") for j in range(1, 6))


# Margins: over seeds 0-4 the gain was 0.16-0.56 for A and 0.04-0.28 for B (whose map M can
# absorb part of the pull), cos(M w_a0, v_a0) 0.45-0.70 and the mapped gap 0.68-0.88.
@pytest.mark.parametrize(("variant", "gain"), [("A", 0.1), ("B", 0.0)])
def test_visual_term_pulls_words_with_the_same_image_together(variant: str, gain: float) -> None:
    corpus = planted_corpus(1500)
    # a0 and b0 are in different text families but share one visual vector.
    vis, words = visual_for(["a0", "b0", "a3", "b3", "a4"], 16)
    vis[1] = vis[0]
    params: dict[str, Any] = {**SMALL, "n_jobs": 1}
    text = SkipGram(**params).fit(corpus).wv
    mm = MultimodalSkipGram(variant=variant, visual=(vis, words), **params).fit(corpus)
    assert _shared_image_gain(mm.wv) > _shared_image_gain(text) + gain
    assert set(mm.visual_words_) == set(words)
    if variant == "B":
        assert mm.mapping_ is not None and mm.mapping_.shape == (16, 16)

        def cos(a: Any, b: Any) -> float:
            return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))

        z = {w: mm.mapping_ @ mm.wv[w] for w in ("a0", "b0", "b3")}
        assert cos(z["a0"], vis[0]) > 0.35
        assert cos(z["a0"], z["b0"]) > cos(z["a0"], z["b3"]) + 0.3
    else:
        assert mm.mapping_ is None


def test_multimodal_b_accepts_another_dimension_and_roundtrips(tmp_path: Path) -> None:
    vis = WordVectors(*visual_for(["a0", "b0", "a1"], 5))
    mm = MultimodalSkipGram(variant="B", **SMALL, n_jobs=1).fit(planted_corpus(300), visual=vis)
    assert mm.mapping_ is not None and mm.mapping_.shape == (5, 16)
    mm.save(tmp_path / "mm.npz")
    back = SkipGram.load(tmp_path / "mm.npz")
    assert isinstance(back, MultimodalSkipGram)
    assert back.mapping_ is not None
    np.testing.assert_array_equal(back.mapping_, mm.mapping_)


def test_multimodal_one_thread_is_deterministic() -> None:
    vis = visual_for(["a0", "b0", "a1"], 16)
    runs = [
        MultimodalSkipGram(visual=vis, **SMALL, n_jobs=1).fit(planted_corpus(300)).wv.vectors
        for _ in range(2)
    ]
    np.testing.assert_array_equal(*runs)


# ---------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("corpus", "match"),
    [
        ([], "empty"),
        ([[], []], "empty"),
        ([["a", "b"]], "min_count=5"),
        (["a b c"], "sentence 0 is a str"),
        ([["a", 3]], "tokens must be str"),
    ],
)
def test_bad_corpus(corpus: Any, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        SkipGram().fit(corpus)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="does not exist"):
        SkipGram().fit(tmp_path / "nope.txt")


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"window": 0}, "window"),
        ({"vector_size": 0}, "vector_size"),
        ({"negative": -1}, "negative"),
        ({"alpha": 0.0}, "alpha"),
        ({"alpha": float("nan")}, "alpha"),
        ({"min_alpha": 0.5}, "min_alpha"),
        ({"epochs": 0}, "epochs"),
        ({"sample": -1.0}, "sample"),
        ({"min_count": 0}, "min_count"),
        ({"n_jobs": 0}, "n_jobs"),
        ({"seed": 1.5}, "seed"),
        ({"random_state": 1.5}, "random_state"),
    ],
)
def test_bad_parameters(params: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        SkipGram(**{**SMALL, **params}).fit(planted_corpus(20))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"visual": None}, "needs visual vectors"),
        ({"visual": visual_for(["a0", "b0"], 7)}, "variant A needs vector_size"),
        ({"visual": visual_for(["a0", "zzz"], 16)}, "only 1 corpus word"),
        ({"visual": "nope"}, "WordVectors or a"),
        ({"variant": "C", "visual": visual_for(["a0", "b0"], 16)}, "variant"),
        ({"n_visual_negatives": 0, "visual": visual_for(["a0", "b0"], 16)}, "n_visual_neg"),
        ({"margin": float("inf"), "visual": visual_for(["a0", "b0"], 16)}, "margin"),
    ],
)
def test_bad_multimodal_input(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        MultimodalSkipGram(**kwargs, **SMALL).fit(planted_corpus(20))


def test_nan_and_zero_visual_vectors() -> None:
    vis, words = visual_for(["a0", "b0"], 16)
    vis[1, 3] = np.nan
    # WordVectors itself refuses NaN, as does the raw-array path.
    with pytest.raises(InvalidInputError, match="NaN"):
        MultimodalSkipGram(visual=(vis, words), **SMALL).fit(planted_corpus(20))
    vis[1] = 0.0
    with pytest.raises(InvalidInputError, match="all zeros"):
        MultimodalSkipGram(visual=(vis, words), **SMALL).fit(planted_corpus(20))


def test_unfitted_model_cannot_be_saved(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="not fitted"):
        SkipGram().save(tmp_path / "x.npz")
