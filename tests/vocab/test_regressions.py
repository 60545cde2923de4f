"""Regression tests for kernel bugs found in review (near-ties, precision, overflow, relocation)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

import vislang
from vislang import _core
from vislang.exceptions import InvalidInputError


def brute_force(X: np.ndarray, C: np.ndarray) -> np.ndarray:
    d2 = ((X[:, None, :].astype(np.float64) - C[None, :, :].astype(np.float64)) ** 2).sum(-1)
    return d2.argmin(axis=1)


def test_k1_near_tie_is_decided_on_exact_distances() -> None:
    x = np.array([[0, 2, 2, 2]], np.float32)
    C = np.array([[0.6, 1.2, 2, 2], [2, 1.8, 2, 2], [-1, 2, 2, 2]], np.float32)
    idx, d2 = vislang.assign(x, C)
    assert idx.tolist() == [[0]]
    assert d2[0, 0] < 1.0


@pytest.mark.parametrize("offset", [1e4, -3e5])
def test_data_far_from_origin_keeps_float32_accuracy(offset: float) -> None:
    rng = np.random.default_rng(0)
    X = (rng.normal(size=(3000, 8)) + offset).astype(np.float32)
    C = X[:64].copy() + np.float32(0.25)
    idx, _ = vislang.assign(X, C)
    # The float32 inputs are exact in float64, so the oracle is exact.
    assert (idx[:, 0] == brute_force(X, C)).mean() == 1.0


def test_huge_finite_values_do_not_panic() -> None:
    idx, d2 = vislang.assign(np.array([[3e19]], np.float32), np.array([[3e19]], np.float32))
    assert idx.tolist() == [[0]] and d2.tolist() == [[0.0]]
    idx, d2 = vislang.assign(np.array([[1e200]]), np.array([[0.0], [1e200]]))
    assert idx.tolist() == [[1]] and d2.tolist() == [[0.0]]
    # Squared distances overflow float64 here: k-means++ looped on them (issue 11); now a
    # clear error that names the scale.
    with pytest.raises(InvalidInputError, match=r"values up to 1\.0e155: squared distances"):
        vislang.kmeans(np.array([[1e155], [0.0], [1e155]]), 2, random_state=0)


@pytest.mark.parametrize("algorithm", ["lloyd", "hamerly"])
def test_relocation_with_duplicate_centres(algorithm: str) -> None:
    X = np.array([4, 4, -4, 0, -2, -2, -3, 3, -2, 0, 3, -4, 0, -3, -3, 4], float)[:, None]
    vocab = vislang.VisualVocabulary(5, init=np.full((5, 1), 4.0), algorithm=algorithm, tol=0).fit(
        X
    )
    assert vocab.inertia_ == pytest.approx(1.5)
    np.testing.assert_array_equal(vocab.labels_, vocab.predict(X))


def test_labels_match_predict_after_relocation() -> None:
    X = np.array([[1.0], [0.0], [0.0]])
    with pytest.warns(ConvergenceWarning, match=r"distinct clusters \(2\)"):
        vocab = vislang.VisualVocabulary(3, init=np.zeros((3, 1)), algorithm="lloyd").fit(X)
    np.testing.assert_array_equal(vocab.labels_, vocab.predict(X))


def test_fortran_ordered_input_is_rejected_by_the_core() -> None:
    X = np.asfortranarray(np.random.default_rng(0).normal(size=(5, 3)))
    with pytest.raises(InvalidInputError, match="X must be C-contiguous"):
        _core.nearest(X, np.zeros((2, 3)))
