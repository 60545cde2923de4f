"""word_similarity: Spearman vs scipy, OOV accounting, bootstrap CI, model comparison."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
from hypothesis import given
from hypothesis import strategies as st

from vislang.eval import WordPairs, compare_models, spearman, word_similarity
from vislang.eval.word_similarity import as_word_pairs, bootstrap_spearman
from vislang.exceptions import InvalidInputError
from vislang.semantics import ScoreFusion, WordVectors


@pytest.fixture
def wv() -> WordVectors:
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(40)]
    return WordVectors(rng.normal(size=(40, 8)), words)


@pytest.fixture
def pairs(wv: WordVectors) -> WordPairs:
    """Gold = cosine + noise on 60 pairs, plus 5 pairs with an OOV word."""
    rng = np.random.default_rng(1)
    idx = rng.integers(0, 40, size=(60, 2))
    w1 = [f"w{i}" for i in idx[:, 0]]
    w2 = [f"w{j}" for j in idx[:, 1]]
    gold = wv.similarities(w1, w2) + rng.normal(scale=0.3, size=60)
    oov1 = ["zebra", "w1", "yak", "w3", "zebra"]
    oov2 = ["w2", "okapi", "w4", "yak", "w9"]
    return WordPairs(w1 + oov1, w2 + oov2, np.concatenate([gold, np.arange(5.0)]), name="toy")


@given(
    st.lists(
        st.tuples(st.integers(-5, 5), st.integers(-5, 5)),  # small ranges: many ties
        min_size=3,
        max_size=40,
    )
)
def test_spearman_matches_scipy(xy: list[tuple[int, int]]) -> None:
    x = np.array([a for a, _ in xy], dtype=np.float64)
    y = np.array([b for _, b in xy], dtype=np.float64)
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        assert np.isnan(spearman(x, y))
        return
    assert spearman(x, y) == pytest.approx(scipy.stats.spearmanr(x, y).statistic, abs=1e-12)


def test_spearman_errors() -> None:
    with pytest.raises(InvalidInputError, match=r"same length, got 2 and 3"):
        spearman([1, 2], [1, 2, 3])
    with pytest.raises(InvalidInputError, match=r"at least 2 pairs, got 1"):
        spearman([1], [1])
    with pytest.raises(InvalidInputError, match=r"must be finite"):
        spearman([1, np.nan], [1, 2])


def test_rho_and_oov_accounting(wv: WordVectors, pairs: WordPairs) -> None:
    r = word_similarity(wv, pairs, n_bootstrap=0)
    pred = wv.similarities(pairs.word1[:60], pairs.word2[:60])
    assert r.rho == pytest.approx(scipy.stats.spearmanr(pred, pairs.scores[:60]).statistic)
    assert (r.n_pairs, r.n_covered, r.n_skipped) == (65, 60, 5)
    assert r.coverage == pytest.approx(60 / 65)
    assert r.skipped_pairs == (
        ("zebra", "w2"),
        ("w1", "okapi"),
        ("yak", "w4"),
        ("w3", "yak"),
        ("zebra", "w9"),
    )
    assert r.oov_words == ("zebra", "okapi", "yak")
    np.testing.assert_array_equal(r.covered, np.arange(60))
    np.testing.assert_allclose(r.predicted, pred)
    assert np.isnan(r.ci_low) and np.isnan(r.ci_high)
    assert str(r).startswith("toy: rho=") and "60/65 pairs (5 skipped)" in str(r)


def test_bootstrap_ci(wv: WordVectors, pairs: WordPairs) -> None:
    r1 = word_similarity(wv, pairs, n_bootstrap=300, random_state=7)
    r2 = word_similarity(wv, pairs, n_bootstrap=300, random_state=7)
    r3 = word_similarity(wv, pairs, n_bootstrap=300, random_state=8)
    assert r1.ci_low <= r1.rho <= r1.ci_high
    assert -1.0 <= r1.ci_low < r1.ci_high <= 1.0
    assert r1.ci == r2.ci  # deterministic for a seed
    assert r1.ci != r3.ci
    narrow = word_similarity(wv, pairs, n_bootstrap=300, random_state=7, confidence=0.5)
    assert r1.ci_low <= narrow.ci_low <= narrow.ci_high <= r1.ci_high


def test_bootstrap_matches_loop() -> None:
    rng = np.random.default_rng(2)
    p, g = rng.normal(size=25), rng.normal(size=25)
    low, high = bootstrap_spearman(p, g, n_bootstrap=200, random_state=3)
    # The same resamples, one at a time with scipy.
    rng = np.random.default_rng(3)
    idx = rng.integers(0, 25, size=(200, 25))
    rhos = [scipy.stats.spearmanr(p[i], g[i]).statistic for i in idx]
    assert (low, high) == pytest.approx(tuple(np.percentile(rhos, [2.5, 97.5])), abs=1e-12)


def test_case_insensitive_and_mapping() -> None:
    vecs = {"jerusalem": [1.0, 0.0], "israel": [0.9, 0.1], "cat": [0.0, 1.0]}
    triples = [("Jerusalem", "Israel", 8.0), ("Jerusalem", "cat", 1.0), ("cat", "Israel", 2.0)]
    with pytest.raises(InvalidInputError, match=r"only 0 of 3 pairs are covered \(3 skipped"):
        word_similarity(vecs, triples)
    r = word_similarity(vecs, triples, case_insensitive=True, n_bootstrap=0)
    assert r.n_covered == 3 and r.rho == pytest.approx(1.0)


def test_similarity_model_protocol(wv: WordVectors, pairs: WordPairs) -> None:
    class Negated:
        """Any object with similarity() and __contains__ can be evaluated."""

        def __contains__(self, w: object) -> bool:
            return w in wv

        def similarity(self, a: str, b: str) -> float:
            return -wv.similarity(a, b)

    r = word_similarity(Negated(), pairs, n_bootstrap=0)
    assert r.rho == pytest.approx(-word_similarity(wv, pairs, n_bootstrap=0).rho)


def test_bad_inputs(wv: WordVectors) -> None:
    with pytest.raises(InvalidInputError, match=r"vectors must be a WordVectors"):
        word_similarity([1, 2, 3], [("a", "b", 1.0)])
    with pytest.raises(InvalidInputError, match=r"pairs\[1\] must be a \(word1, word2, score\)"):
        word_similarity(wv, [("w1", "w2", 1.0), ("w1", "w2")])
    with pytest.raises(InvalidInputError, match=r"n_bootstrap must be a non-negative int"):
        word_similarity(wv, [("w1", "w2", 1.0), ("w1", "w3", 2.0)], n_bootstrap=-1)
    with pytest.raises(InvalidInputError, match=r"confidence must be in \(0, 1\), got 1.5"):
        word_similarity(wv, [("w1", "w2", 1.0), ("w1", "w3", 2.0)], confidence=1.5)
    with pytest.raises(InvalidInputError, match=r"scores holds NaN or inf at pair 0"):
        WordPairs(["a"], ["b"], [np.nan])
    with pytest.raises(InvalidInputError, match=r"same length, got 2, 1 and 1"):
        WordPairs(["a", "b"], ["c"], [1.0])


def test_constant_model_gives_nan_rho(wv: WordVectors) -> None:
    flat = WordVectors(np.ones((3, 2)), ["a", "b", "c"])
    r = word_similarity(flat, [("a", "b", 1.0), ("a", "c", 2.0), ("b", "c", 3.0)], n_bootstrap=50)
    assert np.isnan(r.rho) and np.isnan(r.ci_low)


def test_compare_models_on_common_pairs(wv: WordVectors, pairs: WordPairs) -> None:
    # The visual model covers only half the words: every model is scored on the same pairs.
    vis_words = [f"w{i}" for i in range(0, 40, 2)]
    rng = np.random.default_rng(4)
    vis = WordVectors(rng.normal(size=(20, 3)), vis_words)
    res = compare_models(
        {"text": wv, "visual": vis, "fused": ScoreFusion(wv, vis)}, pairs, n_bootstrap=0
    )
    covered = {k: r.n_covered for k, r in res.items()}
    assert len(set(covered.values())) == 1
    shared = pairs.covered_by(wv, vis)
    assert covered["text"] == len(shared)
    assert res["text"].rho == pytest.approx(word_similarity(wv, shared, n_bootstrap=0).rho)
    assert res["text"].n_pairs == len(pairs)
    assert res["text"].n_skipped == len(pairs) - len(shared)
    kept = [pairs[i][:2] for i in res["text"].covered]
    assert kept == [p[:2] for p in shared]
    own = compare_models({"text": wv, "visual": vis}, pairs, common=False, n_bootstrap=0)
    assert own["text"].n_covered == 60 > own["visual"].n_covered


def test_word_pairs_helpers(pairs: WordPairs) -> None:
    dev, test = pairs.split(0.4, random_state=0)
    assert len(dev) == 26 and len(test) == 39
    assert sorted(zip(dev.word1 + test.word1, dev.word2 + test.word2, strict=True)) == sorted(
        zip(pairs.word1, pairs.word2, strict=True)
    )
    dev2, _ = pairs.split(0.4, random_state=0)
    assert dev2.word1 == dev.word1
    with pytest.raises(InvalidInputError, match=r"dev_fraction must be in \(0, 1\)"):
        pairs.split(1.0)
    assert pairs[0] == (pairs.word1[0], pairs.word2[0], float(pairs.scores[0]))
    assert repr(pairs) == "WordPairs('toy', n_pairs=65)"
    assert as_word_pairs(pairs) is pairs
    assert len(pairs.subset(np.arange(65) < 3)) == 3
    assert pairs.words[:1] == [pairs.word1[0]]
