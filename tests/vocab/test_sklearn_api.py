"""scikit-learn's estimator checks, plus the parts of the KMeans contract they do not cover."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.cluster import KMeans
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import vislang
from vislang import VisualVocabulary

# Each entry is a genuine inapplicability, not a bug we accept.
SAMPLE_WEIGHT_EQUIVALENCE = (
    "The seeding draws from the random stream differently for weighted rows than for repeated "
    "rows, so the fits differ; scikit-learn expects the same failure of KMeans and "
    "MiniBatchKMeans. Equivalence from a fixed init is tested in test_kmeans.py and "
    "test_minibatch.py."
)
EXPECTED_FAILED = {
    "check_sample_weight_equivalence_on_dense_data": SAMPLE_WEIGHT_EQUIVALENCE,
}

ESTIMATORS = [
    VisualVocabulary(n_clusters=3, n_init=2, max_iter=20, random_state=0),
    VisualVocabulary(n_clusters=3, algorithm="lloyd", init="random", random_state=0),
    VisualVocabulary(n_clusters=3, batch_size=16, max_iter=5, random_state=0),
]


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=lambda est: EXPECTED_FAILED)
def test_sklearn_compatible_estimator(estimator, check) -> None:
    check(estimator)


def test_matches_sklearn_kmeans_from_the_same_init(blobs_factory) -> None:
    X = blobs_factory(500, 6, 5, seed=8)
    init = np.ascontiguousarray(X[:5])
    ours = VisualVocabulary(5, init=init, tol=0.0, max_iter=100).fit(X)
    ref = KMeans(5, init=init, n_init=1, tol=0.0, max_iter=100, algorithm="lloyd").fit(X)
    np.testing.assert_array_equal(ours.labels_, ref.labels_)
    np.testing.assert_allclose(ours.cluster_centers_, ref.cluster_centers_, rtol=1e-10)
    assert ours.inertia_ == pytest.approx(ref.inertia_, rel=1e-10)
    np.testing.assert_allclose(ours.transform(X), ref.transform(X), rtol=1e-10)
    assert ours.score(X) == pytest.approx(ref.score(X), rel=1e-10)


def test_fitted_attributes_and_output_types(blobs32) -> None:
    vocab = VisualVocabulary(4, random_state=0).fit(blobs32)
    assert vocab.cluster_centers_.shape == (4, blobs32.shape[1])
    assert vocab.cluster_centers_.dtype == np.float32
    assert vocab.labels_.dtype == np.int32 and vocab.labels_.shape == (len(blobs32),)
    assert isinstance(vocab.inertia_, float) and isinstance(vocab.n_iter_, int)
    assert vocab.n_features_in_ == blobs32.shape[1]
    assert vocab.predict(blobs32).dtype == np.int32
    assert vocab.transform(blobs32).dtype == np.float32
    assert vocab.transform(blobs32).shape == (len(blobs32), 4)
    np.testing.assert_array_equal(vocab.fit_predict(blobs32), vocab.labels_)
    np.testing.assert_allclose(vocab.fit_transform(blobs32), vocab.transform(blobs32))


def test_clone_pipeline_and_params(blobs64) -> None:
    vocab = VisualVocabulary(4, random_state=0)
    twin = clone(vocab).set_params(n_clusters=3)
    assert twin.get_params()["n_clusters"] == 3 and vocab.n_clusters == 4
    pipe = make_pipeline(StandardScaler(), VisualVocabulary(3, random_state=0)).fit(blobs64)
    assert pipe.predict(blobs64).shape == (len(blobs64),)
    assert "VisualVocabulary(n_clusters=3" in repr(pipe)


def test_kmeans_function_is_the_estimator(blobs64) -> None:
    assert isinstance(vislang.kmeans(blobs64, 2, random_state=0), VisualVocabulary)
