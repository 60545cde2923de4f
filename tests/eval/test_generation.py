"""FID, Inception Score, R-precision and attribute accuracy against closed forms and loops."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import linalg
from tests.eval.generation_reference import inception_score_loop, pytorch_fid_frechet_distance

from vislang.eval.generation import (
    attribute_accuracy,
    feature_statistics,
    fid_from_features,
    frechet_distance,
    inception_score,
    r_precision,
)
from vislang.exceptions import InvalidInputError


def _spd(rng: np.random.Generator, d: int, rank: int | None = None) -> np.ndarray:
    a = rng.normal(size=(d, rank or d))
    return a @ a.T / (rank or d) + (0.0 if rank else 0.1) * np.eye(d)


def test_fid_closed_form_for_commuting_gaussians() -> None:
    # Diagonal covariances commute: tr((S1 S2)^1/2) = sum sqrt(a_i b_i), so the FID is
    # |mu1 - mu2|^2 + sum (sqrt(a_i) - sqrt(b_i))^2.
    rng = np.random.default_rng(0)
    a, b = rng.uniform(0.1, 3, 16), rng.uniform(0.1, 3, 16)
    mu1, mu2 = rng.normal(size=16), rng.normal(size=16)
    want = ((mu1 - mu2) ** 2).sum() + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum()
    got = frechet_distance(mu1, np.diag(a), mu2, np.diag(b))
    assert got == pytest.approx(want, rel=1e-10)


def test_fid_closed_form_general_gaussians() -> None:
    # Full covariances: tr((S1 S2)^1/2) = tr((S1^1/2 S2 S1^1/2)^1/2) from scipy sqrtm of
    # symmetric matrices (the textbook W2 distance).
    rng = np.random.default_rng(1)
    s1, s2 = _spd(rng, 12), _spd(rng, 12)
    r1 = linalg.sqrtm(s1).real
    cross = np.trace(linalg.sqrtm(r1 @ s2 @ r1).real)
    mu1, mu2 = rng.normal(size=12), rng.normal(size=12)
    want = ((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * cross
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(want, rel=1e-9)


@pytest.mark.parametrize(("d", "n"), [(8, 200), (64, 40), (32, 1000)])
def test_fid_equals_pytorch_fid_formula(d: int, n: int) -> None:
    # n < d gives singular covariances (the eps branch of pytorch-fid may kick in).
    rng = np.random.default_rng(d)
    x = rng.normal(size=(n, d)) @ rng.normal(size=(d, d))
    y = rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) + 0.5
    mu1, s1 = feature_statistics(x)
    mu2, s2 = feature_statistics(y)
    want = pytorch_fid_frechet_distance(mu1, s1, mu2, s2)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(want, rel=1e-6)
    assert fid_from_features(x, y) == pytest.approx(want, rel=1e-6)


def test_fid_of_identical_sets_is_zero_and_statistics_match_numpy() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(500, 10))
    mu, s = feature_statistics(x)
    np.testing.assert_allclose(mu, x.mean(0))
    np.testing.assert_allclose(s, np.cov(x, rowvar=False))
    assert abs(fid_from_features(x, x)) < 1e-8
    assert fid_from_features(x, x + 1.0) == pytest.approx(10.0, rel=1e-8)


def test_fid_bad_input() -> None:
    with pytest.raises(InvalidInputError, match=r"n_samples >= 2"):
        feature_statistics(np.zeros((1, 4)))
    with pytest.raises(InvalidInputError, match=r"NaN or inf at row 2"):
        feature_statistics(np.array([[0.0], [1.0], [np.nan]]))
    with pytest.raises(InvalidInputError, match=r"differ in dimension: 3 vs 4"):
        fid_from_features(np.zeros((5, 3)), np.zeros((5, 4)))


def test_inception_score_hand_made_probabilities() -> None:
    # k confident, evenly used classes: IS = k. Identical rows: IS = 1.
    assert inception_score(np.eye(5), splits=1)[0] == pytest.approx(5.0)
    assert inception_score(np.tile([0.2, 0.3, 0.5], (7, 1)), splits=1)[0] == pytest.approx(1.0)
    # Two classes, half the images sure of each, half uniform: KL = log 2 for the sure ones.
    p = np.array([[1, 0], [0, 1], [0.5, 0.5], [0.5, 0.5]])
    assert inception_score(p, splits=1)[0] == pytest.approx(np.exp(0.5 * np.log(2)))
    rng = np.random.default_rng(0)
    q = rng.dirichlet(np.ones(10) * 0.3, size=60)
    assert inception_score(q, splits=1)[0] == pytest.approx(inception_score_loop(q), rel=1e-10)
    mean, std = inception_score(q, splits=3)
    parts = [inception_score_loop(part) for part in np.array_split(q, 3)]
    assert (mean, std) == pytest.approx((np.mean(parts), np.std(parts)), rel=1e-10)


def test_inception_score_bad_input() -> None:
    with pytest.raises(InvalidInputError, match=r"sum to 1"):
        inception_score(np.ones((3, 2)))
    with pytest.raises(InvalidInputError, match=r"splits must be in \[1, n_samples=2\]"):
        inception_score(np.eye(2), splits=3)


def test_r_precision_constructed_case() -> None:
    # Texts are one-hot; image i is close to text true[i] for even i, to another text for odd
    # i: exactly half the images rank their caption first.
    n = 120
    txt = np.eye(n)
    true = np.arange(20)
    img = txt[true].copy()
    img[1::2] = txt[true[1::2] + 50]
    assert r_precision(img, txt, true, n_distractors=99, seed=0) == 0.5
    # With every other text a distractor, the wrong images always meet their look-alike.
    assert r_precision(img, txt, true, n_distractors=n - 1, seed=1) == 0.5


def test_r_precision_ties_count_as_misses_and_groups_exclude_duplicates() -> None:
    txt = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    img = np.array([[1.0, 0.0]])
    # Text 1 is the same as text 0: a tie, so a miss unless it is excluded by its group.
    assert r_precision(img, txt, [0], n_distractors=3) == 0.0
    assert r_precision(img, txt, [0], n_distractors=2, groups=[0, 0, 1, 2]) == 1.0
    with pytest.raises(InvalidInputError, match=r"only 2 captions can be distractors"):
        r_precision(img, txt, [0], n_distractors=3, groups=[0, 0, 1, 2])


def test_r_precision_is_seeded_and_near_chance_for_random_embeddings() -> None:
    rng = np.random.default_rng(0)
    img, txt = rng.normal(size=(400, 16)), rng.normal(size=(500, 16))
    true = rng.integers(0, 500, 400)
    a = r_precision(img, txt, true, n_distractors=9, seed=3)
    assert a == r_precision(img, txt, true, n_distractors=9, seed=3)
    assert 0.04 < a < 0.18  # chance is 1 / 10


def test_attribute_accuracy_skips_unasked() -> None:
    acc = attribute_accuracy(
        {"colour": [0, 1, 2, 3], "size": [0, 1, 1, 0]},
        {"colour": [0, 1, 0, 3], "size": [-1, -1, 1, 1]},
    )
    assert acc == {"colour": 0.75, "size": 0.5}
    assert np.isnan(attribute_accuracy({"size": [1]}, {"size": [-1]})["size"])
    with pytest.raises(InvalidInputError, match=r"no prediction for attribute 'shape'"):
        attribute_accuracy({}, {"shape": [0]})


def test_fid_singular_covariance_takes_the_eigh_route() -> None:
    # A zero variance makes the Cholesky factorisation fail: the eigh fallback must agree with
    # the closed form sum (sqrt(a_i) - sqrt(b_i))^2 of commuting covariances.
    a, b = np.array([1.0, 0.0, 2.0, 0.0]), np.array([3.0, 1.0, 1.0, 0.0])
    with pytest.raises(np.linalg.LinAlgError):
        np.linalg.cholesky(np.diag(a))
    want = ((np.sqrt(a) - np.sqrt(b)) ** 2).sum()
    got = frechet_distance(np.zeros(4), np.diag(a), np.zeros(4), np.diag(b))
    assert got == pytest.approx(want, rel=1e-12)
