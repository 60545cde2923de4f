"""Fusion math against explicit NumPy formulas; reweighting; development-split tuning."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from vislang.eval import WordPairs, spearman
from vislang.exceptions import InvalidInputError
from vislang.semantics import (
    DispersionGated,
    OutOfVocabularyError,
    ScoreFusion,
    WordVectors,
    common_words,
    concatenate,
    reweight,
    svd_fusion,
    svd_mixing,
    truncated_svd,
    tune_fusion,
)

WORDS = ["cat", "dog", "car", "bus", "sun", "moon", "tree", "rock"]


@pytest.fixture
def text() -> WordVectors:
    rng = np.random.default_rng(1)
    return WordVectors(rng.normal(size=(len(WORDS), 6)) * 3, WORDS)


@pytest.fixture
def visual() -> WordVectors:
    # Different word order and an extra word; "rock" has no visual vector.
    rng = np.random.default_rng(2)
    words = ["sun", "cat", "dog", "car", "bus", "moon", "tree", "sky"]
    return WordVectors(rng.normal(size=(len(words), 4)).astype(np.float32), words)


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_common_words(text: WordVectors, visual: WordVectors) -> None:
    assert common_words(text, visual) == WORDS[:-1]
    assert common_words(text, visual, ["moon", "cat"]) == ["moon", "cat"]
    with pytest.raises(OutOfVocabularyError, match=r"word 'rock' has no visual vector"):
        common_words(text, visual, ["rock"])
    other = WordVectors(np.ones((1, 2)), ["zzz"])
    with pytest.raises(InvalidInputError, match=r"share no word"):
        common_words(text, other)


@pytest.mark.parametrize("alpha", [0.0, 0.3, 0.5, 1.0])
def test_concatenate_formula(text: WordVectors, visual: WordVectors, alpha: float) -> None:
    fused = concatenate(text, visual, alpha=alpha)
    words = WORDS[:-1]
    t = unit(text.lookup(words).astype(np.float64))
    v = unit(visual.lookup(words).astype(np.float64))
    expected = np.hstack([alpha * t, (1 - alpha) * v])
    assert fused.words == tuple(words)
    np.testing.assert_allclose(fused.vectors, expected, rtol=1e-12)
    # Cosine of the concatenation is a fixed mix of the two cosines.
    if 0 < alpha < 1:
        ct, cv = text.similarity("cat", "sun"), visual.similarity("cat", "sun")
        mix = (alpha**2 * ct + (1 - alpha) ** 2 * cv) / (alpha**2 + (1 - alpha) ** 2)
        assert fused.similarity("cat", "sun") == pytest.approx(mix, rel=1e-6)


def test_concatenate_unnormalised(text: WordVectors, visual: WordVectors) -> None:
    fused = concatenate(text, visual, alpha=0.25, normalize=False, words=["dog"])
    np.testing.assert_allclose(
        fused["dog"], np.concatenate([0.25 * text["dog"], 0.75 * visual["dog"]]), rtol=1e-6
    )


@pytest.mark.parametrize("alpha", [-0.1, 1.5, True, "0.5"])
def test_bad_alpha(text: WordVectors, visual: WordVectors, alpha: object) -> None:
    with pytest.raises(InvalidInputError, match=r"alpha must be"):
        concatenate(text, visual, alpha=alpha)  # type: ignore[arg-type]


def test_svd_fusion_against_numpy(text: WordVectors, visual: WordVectors) -> None:
    rank = 3
    fused = concatenate(text, visual, alpha=0.6)
    u, s, vt = np.linalg.svd(fused.vectors, full_matrices=False)
    recon = u[:, :rank] @ np.diag(s[:rank]) @ vt[:rank]
    z = svd_fusion(text, visual, rank=rank, alpha=0.6)
    assert z.dim == rank and z.words == fused.words
    # Same Gram matrix as the rank-r reconstruction (Bruni's latent mixing matrix).
    np.testing.assert_allclose(z.vectors @ z.vectors.T, recon @ recon.T, atol=1e-10)
    # Singular values match NumPy's; columns agree up to sign.
    np.testing.assert_allclose(np.abs(z.vectors), np.abs(u[:, :rank] * s[:rank]), atol=1e-10)
    tm, vm = svd_mixing(text, visual, rank=rank, alpha=0.6)
    np.testing.assert_allclose(np.hstack([tm.vectors, vm.vectors]), recon, atol=1e-10)
    assert tm.dim == text.dim and vm.dim == visual.dim
    # Full rank reconstructs the concatenation exactly.
    full = min(len(fused), fused.dim)
    tm, vm = svd_mixing(text, visual, rank=full, alpha=0.6)
    np.testing.assert_allclose(np.hstack([tm.vectors, vm.vectors]), fused.vectors, atol=1e-10)


def test_truncated_svd_signs_deterministic() -> None:
    x = np.random.default_rng(3).normal(size=(6, 4))
    u, _s, _vt = truncated_svd(x, 2)
    for j in range(2):
        assert u[np.argmax(np.abs(u[:, j])), j] > 0
    u2, _, _ = truncated_svd(-x, 2)  # same subspace, flipped input
    np.testing.assert_allclose(np.abs(u2), np.abs(u), atol=1e-12)
    with pytest.raises(
        InvalidInputError, match=r"rank=5 must be in \[1, min\(n_words, n_features\)\] = \[1, 4\]"
    ):
        truncated_svd(x, 5)


def test_score_fusion_formula(text: WordVectors, visual: WordVectors) -> None:
    sf = ScoreFusion(text, visual, alpha=0.3)
    assert "cat" in sf and "rock" not in sf and "sky" not in sf
    expected = 0.3 * text.similarity("cat", "car") + 0.7 * visual.similarity("cat", "car")
    assert sf.similarity("cat", "car") == pytest.approx(expected)
    batch = sf.similarities(["cat", "sun"], ["car", "moon"])
    assert batch[0] == pytest.approx(expected)
    assert ScoreFusion(text, visual, alpha=1.0).similarity("sun", "moon") == pytest.approx(
        text.similarity("sun", "moon")
    )
    with pytest.raises(InvalidInputError, match=r"visual must be a WordVectors or have"):
        ScoreFusion(text, object())  # type: ignore[arg-type]


def test_dispersion_gated(text: WordVectors, visual: WordVectors) -> None:
    multi = ScoreFusion(text, visual, alpha=0.5)
    disp = {"cat": 0.2, "dog": 0.3, "car": 0.9, "sun": 0.1}
    gated = DispersionGated(text, multi, disp, threshold=0.5)
    assert gated.similarity("cat", "dog") == pytest.approx(multi.similarity("cat", "dog"))
    assert gated.similarity("cat", "car") == pytest.approx(text.similarity("cat", "car"))
    assert gated.similarity("cat", "rock") == pytest.approx(text.similarity("cat", "rock"))
    assert "rock" in gated
    anyg = DispersionGated(text, multi, disp, threshold=0.5, require="any")
    assert anyg.similarity("cat", "car") == pytest.approx(multi.similarity("cat", "car"))
    # rock has no visual vector: text score even with "any".
    assert anyg.similarity("cat", "rock") == pytest.approx(text.similarity("cat", "rock"))
    assert DispersionGated(text, multi, disp).threshold == pytest.approx(0.25)  # the median
    with pytest.raises(InvalidInputError, match=r"dispersion is empty"):
        DispersionGated(text, multi, {})
    with pytest.raises(InvalidInputError, match=r"multimodal must be a WordVectors or have"):
        DispersionGated(text, {"cat": 1.0}, disp)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match=r"require must be 'both' or 'any'"):
        DispersionGated(text, multi, disp, require="all")  # type: ignore[arg-type]


def reweight_loop(c: np.ndarray, method: str) -> np.ndarray:
    n = c.sum()
    out = np.zeros_like(c)
    for i in range(c.shape[0]):
        for j in range(c.shape[1]):
            if c[i, j] > 0:
                pmi = np.log(c[i, j] * n / (c[i].sum() * c[:, j].sum()))
                out[i, j] = pmi * c[i, j] if "lmi" in method else pmi
    if method in ("ppmi", "plmi"):
        out = np.maximum(out, 0)
    return out


@pytest.mark.parametrize("method", ["pmi", "ppmi", "lmi", "plmi"])
def test_reweight_matches_loop(method: str) -> None:
    c = np.random.default_rng(4).poisson(2.0, size=(5, 7)).astype(np.float64)
    c[2] = 0.0  # a word seen in no image keeps a zero row
    np.testing.assert_allclose(reweight(c, method), reweight_loop(c, method), atol=1e-12)  # type: ignore[arg-type]
    wv = reweight(WordVectors(c, list("abcde")), method)  # type: ignore[arg-type]
    assert wv.words == tuple("abcde")
    np.testing.assert_allclose(wv.vectors, reweight_loop(c, method), atol=1e-12)


def test_reweight_errors() -> None:
    with pytest.raises(InvalidInputError, match=r"non-negative, got -1.0 at row 0, column 1"):
        reweight(np.array([[1.0, -1.0]]))
    with pytest.raises(InvalidInputError, match=r"counts is all zeros"):
        reweight(np.zeros((2, 2)))
    with pytest.raises(InvalidInputError, match=r"method must be one of"):
        reweight(np.ones((2, 2)), "tfidf")  # type: ignore[call-overload]


def planted_pairs() -> tuple[WordVectors, WordVectors, WordPairs]:
    """Gold similarity = visual similarity, so tuning must move alpha towards vision."""
    rng = np.random.default_rng(5)
    words = [f"w{i}" for i in range(30)]
    vis = WordVectors(rng.normal(size=(30, 5)), words)
    txt = WordVectors(rng.normal(size=(30, 5)), words)
    idx = rng.integers(0, 30, size=(80, 2))
    idx = idx[idx[:, 0] != idx[:, 1]]
    w1 = [words[i] for i in idx[:, 0]]
    w2 = [words[j] for j in idx[:, 1]]
    gold = vis.similarities(w1, w2) + 0.3 * txt.similarities(w1, w2)
    return txt, vis, WordPairs(w1, w2, gold)


@pytest.mark.parametrize("method", ["concatenate", "score"])
def test_tune_alpha_brute_force(method: str) -> None:
    txt, vis, pairs = planted_pairs()
    dev, _test = pairs.split(0.5, random_state=0)
    alphas = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    res = tune_fusion(txt, vis, dev, method=method, alphas=alphas)  # type: ignore[arg-type]
    scores = []
    for a in alphas:
        m = (
            concatenate(txt, vis, alpha=a)
            if method == "concatenate"
            else ScoreFusion(txt, vis, alpha=a)
        )
        scores.append(spearman([m.similarity(x, y) for x, y, _ in dev], dev.scores))
    assert res.alpha == alphas[int(np.argmax(scores))]
    assert res.dev_rho == pytest.approx(max(scores))
    assert res.n_dev_pairs == len(dev)
    assert 0.0 < res.alpha < 1.0  # both modalities help on this planted data
    assert [g[0] for g in res.grid] == alphas


def test_tune_svd_and_fuse() -> None:
    txt, vis, pairs = planted_pairs()
    dev, _test = pairs.split(0.5, random_state=1)
    res = tune_fusion(txt, vis, dev, method="svd", alphas=[0.3, 0.7], ranks=[2, 4, 8, 1000])
    assert {g[1] for g in res.grid} == {2, 4, 8}  # impossible ranks are skipped
    assert res.rank in (2, 4, 8)
    model = res.fuse(txt, vis)
    assert isinstance(model, WordVectors) and model.dim == res.rank
    with pytest.raises(InvalidInputError, match=r"method='svd' needs ranks"):
        tune_fusion(txt, vis, dev, method="svd")


def test_tune_needs_covered_dev_pairs(text: WordVectors, visual: WordVectors) -> None:
    with pytest.raises(InvalidInputError, match=r"only 1 development pair\(s\) are covered"):
        tune_fusion(text, visual, [("cat", "dog", 1.0), ("rock", "cat", 2.0)])


@given(st.floats(0.0, 1.0), st.integers(0, 2**32 - 1))
def test_concatenate_property(alpha: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    t = WordVectors(rng.normal(size=(4, 3)), list("abcd"))
    v = WordVectors(rng.normal(size=(4, 2)), list("dcba"))
    f = concatenate(t, v, alpha=alpha)
    for w in "abcd":
        np.testing.assert_allclose(
            f[w], np.concatenate([alpha * unit(t[w][None])[0], (1 - alpha) * unit(v[w][None])[0]])
        )
