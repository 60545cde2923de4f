"""Seeding on a random sample of rows (`init_size`)."""

from __future__ import annotations

import numpy as np
import pytest

import vislang


@pytest.fixture(scope="module")
def blobs() -> np.ndarray:
    rng = np.random.default_rng(3)
    centres = rng.normal(scale=8.0, size=(12, 6))
    return (centres[rng.integers(0, 12, 3000)] + rng.normal(size=(3000, 6))).astype(np.float32)


def test_init_size_is_deterministic_and_close_to_full_seeding(blobs: np.ndarray) -> None:
    full = vislang.VisualVocabulary(12, n_init=2, random_state=0).fit(blobs)
    a = vislang.VisualVocabulary(12, n_init=2, init_size=300, random_state=0).fit(blobs)
    b = vislang.VisualVocabulary(12, n_init=2, init_size=300, random_state=0).fit(blobs)
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    assert a.inertia_ <= 1.05 * full.inertia_
    np.testing.assert_array_equal(a.labels_, a.predict(blobs))


def test_init_size_larger_than_data_seeds_on_all_rows(blobs: np.ndarray) -> None:
    a = vislang.VisualVocabulary(12, init_size=10_000, random_state=1).fit(blobs)
    b = vislang.VisualVocabulary(12, random_state=1).fit(blobs)
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)


def test_init_size_with_minibatch(blobs: np.ndarray) -> None:
    vocab = vislang.VisualVocabulary(12, init_size=100, batch_size=256, random_state=0).fit(blobs)
    assert vocab.cluster_centers_.shape == (12, 6)
    assert np.isfinite(vocab.inertia_)
