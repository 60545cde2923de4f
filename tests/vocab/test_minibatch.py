"""Mini-batch k-means: ``VisualVocabulary(batch_size=...)`` and ``partial_fit``."""

from __future__ import annotations

import tracemalloc
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import reference
import strategies
from vislang import InvalidInputError, VisualVocabulary


@given(
    case=strategies.fit_cases(extreme=False),
    n_batches=st.integers(1, 4),
    seed=st.integers(0, 2**32 - 1),
    weighted=st.booleans(),
)
def test_partial_fit_equals_running_mean_reference(
    case: strategies.FitCase, n_batches: int, seed: int, weighted: bool
) -> None:
    rng = np.random.default_rng(seed)
    vocab = VisualVocabulary(case.n_clusters, init=case.init)
    C, counts = case.init, np.zeros(case.n_clusters)
    for b in range(n_batches):
        # The first batch must hold n_clusters rows (it seeds); later ones may be tiny.
        size = len(case.X) if b == 0 else int(rng.integers(1, len(case.X) + 1))
        batch = np.ascontiguousarray(case.X[rng.integers(0, len(case.X), size)])
        w = rng.integers(1, 4, size).astype(batch.dtype) if weighted else None
        vocab.partial_fit(batch, sample_weight=w)
        C, counts = reference.minibatch_step(batch, C, counts, w)
        # Integer data: the running means agree bit for bit with the oracle.
        np.testing.assert_array_equal(vocab.cluster_centers_, C)
    assert vocab.n_steps_ == n_batches
    assert vocab.cluster_centers_.dtype == case.X.dtype


@pytest.mark.parametrize("dtype", strategies.FLOATS)
def test_minibatch_fit_reduces_inertia(dtype: type, blobs_factory) -> None:
    X = blobs_factory(2000, 8, 6, dtype=dtype, seed=1)
    init = np.ascontiguousarray(X[np.random.default_rng(0).choice(len(X), 6, replace=False)])
    vocab = VisualVocabulary(6, init=init, batch_size=128, max_iter=5, random_state=0).fit(X)
    assert vocab.cluster_centers_.dtype == dtype
    assert vocab.inertia_ < 0.8 * reference.inertia(X, init)
    # labels_ and inertia_ describe the whole data set under the final centres.
    np.testing.assert_array_equal(vocab.labels_, vocab.predict(X))
    assert vocab.inertia_ == pytest.approx(reference.inertia(X, vocab.cluster_centers_), rel=1e-5)
    assert vocab.n_steps_ >= 1 and vocab.n_iter_ >= 1


def test_minibatch_close_to_full_batch(blobs_factory) -> None:
    X = blobs_factory(3000, 8, 5, seed=2)
    full = VisualVocabulary(5, n_init=3, random_state=0).fit(X)
    mini = VisualVocabulary(5, n_init=1, batch_size=256, random_state=0).fit(X)
    assert mini.inertia_ <= 1.1 * full.inertia_


def test_partial_fit_reduces_inertia_versus_seeds(blobs_factory) -> None:
    X = blobs_factory(3000, 8, 6, seed=3)
    init = np.ascontiguousarray(X[:6])  # poor seeds: first rows
    vocab = VisualVocabulary(6, init=init)
    for batch in np.array_split(X, 15):
        vocab.partial_fit(batch)
    assert reference.inertia(X, vocab.cluster_centers_) < 0.8 * reference.inertia(X, init)
    assert vocab.n_steps_ == 15


def test_partial_fit_seeds_from_first_batch_deterministically(blobs64) -> None:
    a = VisualVocabulary(4, random_state=5).partial_fit(blobs64[:100])
    b = VisualVocabulary(4, random_state=5).partial_fit(blobs64[:100])
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    with pytest.raises(InvalidInputError, match=r"n_clusters=4 must be <= n_samples=3"):
        VisualVocabulary(4).partial_fit(blobs64[:3])


def test_partial_fit_after_fit_continues_the_means(blobs64) -> None:
    vocab = VisualVocabulary(4, random_state=0, tol=0.0).fit(blobs64)
    before = vocab.cluster_centers_.copy()
    # Converged centres are the means of their clusters, so the same data again keeps them.
    vocab.partial_fit(blobs64)
    np.testing.assert_allclose(vocab.cluster_centers_, before, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(vocab._counts, 2 * np.bincount(vocab.labels_, minlength=4))


@pytest.mark.parametrize("init", ["k-means++", "random"])
def test_minibatch_deterministic_for_a_seed(init: str, blobs_factory) -> None:
    X = blobs_factory(2000, 4, 5, dtype=np.float32, seed=4)
    fits = [
        VisualVocabulary(5, init=init, batch_size=100, max_iter=3, random_state=9, n_jobs=j).fit(X)
        for j in (1, 2, 2)
    ]
    for other in fits[1:]:
        np.testing.assert_array_equal(fits[0].cluster_centers_, other.cluster_centers_)
        np.testing.assert_array_equal(fits[0].labels_, other.labels_)
        assert fits[0].n_steps_ == other.n_steps_


def _write_npy(path: Any, X: np.ndarray) -> np.memmap:
    m = np.lib.format.open_memmap(path, mode="w+", dtype=X.dtype, shape=X.shape)
    m[:] = X
    m.flush()
    del m
    return np.load(path, mmap_mode="r")


def test_minibatch_on_memory_mapped_file(tmp_path, blobs_factory) -> None:
    X = blobs_factory(150_000, 16, 6, dtype=np.float32, seed=6)
    mm = _write_npy(tmp_path / "descriptors.npy", X)
    assert isinstance(mm, np.memmap) and not mm.flags.writeable
    kw = dict(batch_size=1024, max_iter=1, random_state=0)
    tracemalloc.start()
    try:
        from_file = VisualVocabulary(6, **kw).fit(mm)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Never a copy of the whole file (9.6 MB) in memory: batches, labels and chunks only.
    assert peak < 0.5 * X.nbytes, peak
    in_memory = VisualVocabulary(6, **kw).fit(X)
    np.testing.assert_array_equal(from_file.cluster_centers_, in_memory.cluster_centers_)
    np.testing.assert_array_equal(from_file.labels_, in_memory.labels_)
    assert from_file.cluster_centers_.dtype == np.float32
    np.testing.assert_array_equal(np.asarray(mm), X)  # the file was not modified


def test_minibatch_memmap_nan_names_the_row_of_the_file(tmp_path) -> None:
    X = np.random.default_rng(0).normal(size=(70_000, 2)).astype(np.float32)
    X[68_000, 1] = np.nan  # beyond the first 65536-row labelling chunk
    mm = _write_npy(tmp_path / "bad.npy", X)
    with pytest.raises(InvalidInputError, match=r"^X contains NaN or inf at row 68000$"):
        VisualVocabulary(3, batch_size=64, max_iter=1, random_state=0).fit(mm)


def test_minibatch_sample_weight_zero_rows_are_ignored(blobs64) -> None:
    init = np.ascontiguousarray(blobs64[:4])
    w = np.ones(len(blobs64))
    w[::2] = 0.0
    weighted = VisualVocabulary(4, init=init).partial_fit(blobs64, sample_weight=w)
    subset = VisualVocabulary(4, init=init).partial_fit(np.ascontiguousarray(blobs64[1::2]))
    np.testing.assert_allclose(weighted.cluster_centers_, subset.cluster_centers_, rtol=1e-12)
