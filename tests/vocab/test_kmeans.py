"""Full-batch k-means (Lloyd and Hamerly) against the NumPy oracles, and its invariants."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from sklearn.exceptions import ConvergenceWarning

import reference
import strategies
import vislang
from vislang import VisualVocabulary

ALGORITHMS = ["lloyd", "hamerly"]


def rtol_for(dtype: Any) -> float:
    return 1e-5 if dtype == np.float32 else 1e-12


# ------------------------------------------------------------------------- one Lloyd step
# Duplicate rows: fewer distinct points than clusters (scikit-learn warns too).
@pytest.mark.filterwarnings(
    "ignore:Number of distinct clusters:sklearn.exceptions.ConvergenceWarning"
)
@given(case=strategies.fit_cases(), algorithm=st.sampled_from(ALGORITHMS))
def test_one_lloyd_step_equals_reference(case: strategies.FitCase, algorithm: str) -> None:
    vocab = VisualVocabulary(
        case.n_clusters, init=case.init, max_iter=1, tol=0.0, algorithm=algorithm
    ).fit(case.X)
    expected = reference.lloyd_step(case.X, case.init)
    assert vocab.cluster_centers_.dtype == case.X.dtype
    # Integer-valued data: the sums are exact, so the means must agree bit for bit.
    np.testing.assert_array_equal(vocab.cluster_centers_, expected)
    assert vocab.n_iter_ == 1
    assert vocab.seed_inertia_ == pytest.approx(reference.inertia(case.X, case.init), rel=1e-12)
    # labels_ and inertia_ describe the returned centres.
    D = reference.sq_distances(case.X, vocab.cluster_centers_)
    own = D[np.arange(len(case.X)), vocab.labels_]
    np.testing.assert_allclose(own, D.min(axis=1), rtol=rtol_for(case.X.dtype), atol=0)
    assert vocab.inertia_ == pytest.approx(
        reference.inertia(case.X, vocab.cluster_centers_), rel=rtol_for(case.X.dtype), abs=0
    )


@given(
    case=strategies.fit_cases(extreme=False),
    weights=st.lists(st.integers(1, 4), min_size=60, max_size=60),
)
def test_integer_weights_equal_repeated_rows(case: strategies.FitCase, weights: list[int]) -> None:
    X, init = case.X, case.init
    w = np.array(weights[: len(X)], dtype=X.dtype)
    # Without empty clusters (relocation picks single rows, not weighted points).
    labels0 = reference.k_nearest(X, init)[0][:, 0]
    assume(len(np.unique(labels0)) == case.n_clusters)
    weighted = VisualVocabulary(case.n_clusters, init=init, max_iter=1, tol=0.0).fit(
        X, sample_weight=w
    )
    repeated = VisualVocabulary(case.n_clusters, init=init, max_iter=1, tol=0.0).fit(
        np.repeat(X, w.astype(int), axis=0)
    )
    np.testing.assert_array_equal(weighted.cluster_centers_, repeated.cluster_centers_)
    np.testing.assert_array_equal(weighted.cluster_centers_, reference.lloyd_step(X, init, w))
    assert weighted.inertia_ == pytest.approx(repeated.inertia_, rel=rtol_for(X.dtype))
    assert weighted.inertia_ == pytest.approx(
        reference.inertia(X, weighted.cluster_centers_, w), rel=rtol_for(X.dtype)
    )


# ------------------------------------------------------------------------- invariants
# Duplicate rows: fewer distinct points than clusters (scikit-learn warns too).
@pytest.mark.filterwarnings(
    "ignore:Number of distinct clusters:sklearn.exceptions.ConvergenceWarning"
)
@given(case=strategies.fit_cases(), algorithm=st.sampled_from(ALGORITHMS))
def test_inertia_never_increases(case: strategies.FitCase, algorithm: str) -> None:
    seed_inertia = reference.inertia(case.X, case.init)
    previous = seed_inertia
    slack = rtol_for(case.X.dtype) * seed_inertia
    for max_iter in range(1, 7):
        vocab = VisualVocabulary(
            case.n_clusters, init=case.init, max_iter=max_iter, tol=0.0, algorithm=algorithm
        ).fit(case.X)
        assert vocab.inertia_ <= previous + slack, (max_iter, vocab.inertia_, previous)
        previous = vocab.inertia_


@given(data=strategies.blobs(), algorithm=st.sampled_from(ALGORITHMS))
def test_inertia_never_increases_on_real_data(data: Any, algorithm: str) -> None:
    X, k, seed = data
    init = np.ascontiguousarray(X[np.random.default_rng(seed).choice(len(X), k, replace=False)])
    previous = reference.inertia(X, init)
    slack = rtol_for(X.dtype) * previous
    for max_iter in range(1, 6):
        vocab = VisualVocabulary(k, init=init, max_iter=max_iter, tol=0.0, algorithm=algorithm).fit(
            X
        )
        assert vocab.inertia_ <= previous + slack
        previous = vocab.inertia_


@given(data=strategies.blobs(), init=st.sampled_from(["k-means++", "random"]))
def test_hamerly_equals_lloyd(data: Any, init: str) -> None:
    X, k, seed = data
    kw = dict(init=init, n_init=2, tol=0.0, random_state=seed)
    lloyd = VisualVocabulary(k, algorithm="lloyd", **kw).fit(X)
    hamerly = VisualVocabulary(k, algorithm="hamerly", **kw).fit(X)
    np.testing.assert_array_equal(hamerly.cluster_centers_, lloyd.cluster_centers_)
    np.testing.assert_array_equal(hamerly.labels_, lloyd.labels_)
    assert hamerly.n_iter_ == lloyd.n_iter_
    assert hamerly.inertia_ == pytest.approx(lloyd.inertia_, rel=rtol_for(X.dtype))


@given(data=strategies.blobs(max_rows=600), algorithm=st.sampled_from(["auto", *ALGORITHMS]))
def test_one_and_two_threads_bit_identical(data: Any, algorithm: str) -> None:
    X, k, seed = data
    fits = [
        VisualVocabulary(k, n_init=2, algorithm=algorithm, random_state=seed, n_jobs=j).fit(X)
        for j in (1, 2)
    ]
    np.testing.assert_array_equal(fits[0].cluster_centers_, fits[1].cluster_centers_)
    np.testing.assert_array_equal(fits[0].labels_, fits[1].labels_)
    assert fits[0].inertia_ == fits[1].inertia_
    assert fits[0].n_iter_ == fits[1].n_iter_


def test_thread_count_does_not_change_large_fit(blobs_factory) -> None:
    # Several 256-row blocks and 4096-row inertia chunks.
    X = blobs_factory(9000, 16, 12, dtype=np.float32, seed=3)
    fits = [VisualVocabulary(20, random_state=7, n_jobs=j, max_iter=20).fit(X) for j in (1, 2)]
    np.testing.assert_array_equal(fits[0].cluster_centers_, fits[1].cluster_centers_)
    np.testing.assert_array_equal(fits[0].labels_, fits[1].labels_)
    assert fits[0].inertia_ == fits[1].inertia_


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_float32_and_float64_agree(seed: int, algorithm: str, blobs_factory) -> None:
    X = blobs_factory(400, 8, 5, seed=seed)
    init = np.ascontiguousarray(X[np.random.default_rng(seed).choice(400, 5, replace=False)])
    f64 = VisualVocabulary(5, init=init, algorithm=algorithm).fit(X)
    f32 = VisualVocabulary(5, init=init.astype(np.float32), algorithm=algorithm).fit(
        X.astype(np.float32)
    )
    assert f32.cluster_centers_.dtype == np.float32
    assert f64.cluster_centers_.dtype == np.float64
    np.testing.assert_array_equal(f32.labels_, f64.labels_)
    np.testing.assert_allclose(f32.cluster_centers_, f64.cluster_centers_, rtol=1e-5, atol=1e-5)
    assert f32.inertia_ == pytest.approx(f64.inertia_, rel=1e-5)


@given(data=strategies.blobs(), init=st.sampled_from(["k-means++", "random"]))
def test_deterministic_for_a_random_state(data: Any, init: str) -> None:
    X, k, seed = data
    a = VisualVocabulary(k, init=init, n_init=3, random_state=seed).fit(X)
    b = VisualVocabulary(k, init=init, n_init=3, random_state=seed).fit(X)
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    assert a.inertia_ == b.inertia_


def test_random_state_kinds_are_reproducible(blobs64) -> None:
    for make in (lambda: 3, lambda: np.random.RandomState(3), lambda: np.random.default_rng(3)):
        a = VisualVocabulary(4, random_state=make()).fit(blobs64)
        b = VisualVocabulary(4, random_state=make()).fit(blobs64)
        np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)


def test_n_init_keeps_the_best_run(blobs_factory) -> None:
    X = blobs_factory(300, 4, 9, seed=5)
    for seed in range(5):
        one = VisualVocabulary(9, init="random", n_init=1, random_state=seed).fit(X)
        many = VisualVocabulary(9, init="random", n_init=6, random_state=seed).fit(X)
        # Run 0 of both fits starts from the same seeds, so more runs can only help.
        assert many.inertia_ <= one.inertia_


# ------------------------------------------------------------------------- empty clusters
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("max_iter", [1, 300])
def test_duplicate_init_centres_are_relocated(algorithm: str, max_iter: int, blobs64) -> None:
    k = 6
    init = np.repeat(blobs64[:1], k, axis=0)  # every centre on the same point
    vocab = VisualVocabulary(k, init=init, max_iter=max_iter, algorithm=algorithm).fit(blobs64)
    assert np.unique(vocab.labels_).size == k
    assert np.unique(vocab.cluster_centers_, axis=0).shape[0] == k
    np.testing.assert_array_equal(vocab.labels_, vocab.predict(blobs64))
    if max_iter == 1:
        np.testing.assert_array_equal(vocab.cluster_centers_, reference.lloyd_step(blobs64, init))


@given(data=strategies.blobs(), algorithm=st.sampled_from(ALGORITHMS))
def test_k_clusters_non_empty_after_fit(data: Any, algorithm: str) -> None:
    X, k, seed = data
    # Centres drawn with replacement: some start out identical.
    init = np.ascontiguousarray(X[np.random.default_rng(seed).integers(0, 2, k)])
    vocab = VisualVocabulary(k, init=init, algorithm=algorithm).fit(X)
    assert np.unique(vocab.labels_).size == k


# ------------------------------------------------------------------------- edge shapes
def test_one_sample() -> None:
    X = np.array([[1.5, -2.0, 3.0]])
    vocab = VisualVocabulary(1, random_state=0).fit(X)
    np.testing.assert_array_equal(vocab.cluster_centers_, X)
    assert vocab.labels_.tolist() == [0]
    assert vocab.inertia_ == 0.0


@pytest.mark.parametrize("dtype", strategies.FLOATS)
@pytest.mark.parametrize("init", ["k-means++", "random"])
def test_k_equals_n_distinct_rows(dtype: type, init: str) -> None:
    X = np.arange(24, dtype=dtype).reshape(8, 3) ** 2
    vocab = VisualVocabulary(8, init=init, random_state=1).fit(X)
    assert vocab.inertia_ == 0.0
    assert sorted(vocab.labels_.tolist()) == list(range(8))
    np.testing.assert_array_equal(vocab.cluster_centers_[vocab.labels_], X)


def test_identical_rows() -> None:
    X = np.full((6, 2), 3.0)
    with pytest.warns(
        ConvergenceWarning, match=r"distinct clusters \(1\) found smaller than n_clusters \(3\)"
    ):
        vocab = VisualVocabulary(3, random_state=0).fit(X)
    assert vocab.inertia_ == 0.0
    np.testing.assert_array_equal(vocab.cluster_centers_, np.full((3, 2), 3.0))


def test_three_blobs_are_found(blobs_factory) -> None:
    X = blobs_factory(300, 2, 3, seed=11)
    vocab = vislang.kmeans(X, 3, n_init=3, random_state=0)
    truth = VisualVocabulary(3, init=vocab.cluster_centers_).fit(X)
    # A fixed point of Lloyd: one more run from the result changes nothing.
    np.testing.assert_array_equal(truth.labels_, vocab.labels_)
    np.testing.assert_allclose(truth.cluster_centers_, vocab.cluster_centers_)
    assert vocab.inertia_ == pytest.approx(reference.inertia(X, vocab.cluster_centers_))
    assert vocab.inertia_ == pytest.approx(-vocab.score(X))
    assert vocab.inertia_ <= vocab.seed_inertia_


def test_tol_stops_early(blobs_factory) -> None:
    X = blobs_factory(500, 4, 6, seed=2)
    exact = VisualVocabulary(6, init="random", tol=0.0, random_state=4).fit(X)
    loose = VisualVocabulary(6, init="random", tol=1.0, random_state=4).fit(X)
    assert 1 <= loose.n_iter_ <= exact.n_iter_


def test_max_iter_is_respected(blobs_factory) -> None:
    X = blobs_factory(500, 4, 6, seed=2)
    for m in (1, 2, 3):
        assert VisualVocabulary(12, tol=0.0, max_iter=m, random_state=0).fit(X).n_iter_ <= m


def test_verbose_does_not_change_the_result(blobs64, capsys) -> None:
    quiet = VisualVocabulary(4, random_state=2).fit(blobs64)
    loud = VisualVocabulary(4, random_state=2, verbose=True).fit(blobs64)
    np.testing.assert_array_equal(quiet.cluster_centers_, loud.cluster_centers_)


def test_kmeans_function_passes_options_and_weights(blobs64) -> None:
    w = np.random.default_rng(0).integers(1, 4, len(blobs64)).astype(np.float64)
    a = vislang.kmeans(blobs64, 4, random_state=3, sample_weight=w)
    b = VisualVocabulary(4, random_state=3).fit(blobs64, sample_weight=w)
    assert isinstance(a, VisualVocabulary) and a.n_clusters == 4
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    assert a.inertia_ == pytest.approx(reference.inertia(blobs64, a.cluster_centers_, w))


# ------------------------------------------------------------------------- seeding
@pytest.mark.parametrize("dtype", strategies.FLOATS)
def test_kmeans_plusplus(dtype: type, blobs_factory) -> None:
    X = blobs_factory(500, 6, 8, dtype=dtype, seed=4)
    centers, idx = vislang.kmeans_plusplus(X, 8, random_state=0, n_jobs=1)
    assert idx.dtype == np.int64 and centers.dtype == dtype
    assert len(set(idx.tolist())) == 8
    np.testing.assert_array_equal(centers, X[idx])
    _, idx2 = vislang.kmeans_plusplus(X, 8, random_state=0, n_jobs=2)
    np.testing.assert_array_equal(idx, idx2)
    # Greedy k-means++ on 8 well separated blobs: far better than 8 random rows on average.
    rand = np.mean(
        [
            reference.inertia(X, X[np.random.default_rng(s).choice(500, 8, replace=False)])
            for s in range(10)
        ]
    )
    assert reference.inertia(X, centers) < rand


@pytest.mark.parametrize("dtype", strategies.FLOATS)
def test_kmeans_plusplus_many_seeds_per_pass(dtype: type) -> None:
    # k = 96 resolves several greedy rounds from one pass over the data (rejection-sampled
    # proposals): still one seed per well separated blob, the same on 1 and 2 threads, and a
    # seed inertia as good as scikit-learn's greedy k-means++ on overlapping data.
    from sklearn.cluster import kmeans_plusplus

    rng = np.random.default_rng(7)
    blob = rng.integers(0, 96, 4000)
    grid = np.stack(np.meshgrid(*[np.arange(4)] * 4, indexing="ij"), -1).reshape(-1, 4)[:96]
    X = np.ascontiguousarray(grid[blob] * 100.0 + rng.normal(size=(4000, 4)), dtype=dtype)
    _, idx = vislang.kmeans_plusplus(X, 96, random_state=1, n_jobs=1)
    _, idx2 = vislang.kmeans_plusplus(X, 96, random_state=1, n_jobs=2)
    np.testing.assert_array_equal(idx, idx2)
    assert sorted(blob[idx].tolist()) == list(range(96))

    Y = np.ascontiguousarray(rng.normal(size=(3000, 16)), dtype=dtype)
    ours = np.mean(
        [reference.inertia(Y, vislang.kmeans_plusplus(Y, 96, random_state=s)[0]) for s in range(4)]
    )
    theirs = np.mean(
        [reference.inertia(Y, kmeans_plusplus(Y, 96, random_state=s)[0]) for s in range(4)]
    )
    assert ours <= theirs * 1.02


def test_kmeans_plusplus_k_equals_n_on_distinct_rows() -> None:
    X = np.arange(10, dtype=np.float64).reshape(5, 2)
    _, idx = vislang.kmeans_plusplus(X, 5, random_state=9)
    assert sorted(idx.tolist()) == list(range(5))
