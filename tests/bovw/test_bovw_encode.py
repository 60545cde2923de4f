"""``vislang.encode`` against the per-image NumPy loop of ``bovw_reference``.

Descriptors and centres are small integers, so squared distances are exact in float32: ties
are real ties (broken to the lower word index by both sides) and neighbours agree exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import bovw_reference as ref
import hypothesis.strategies as st
import numpy as np
import pytest
import scipy.sparse
from hypothesis import given
from numpy.typing import NDArray

import vislang
from vislang.features import DescriptorSet

PYRAMIDS = [(1,), (2,), (1, 2), (1, 2, 4), (3,), (1, 3)]


@dataclass
class Case:
    descs: list[NDArray[np.float32]]
    keypoints: list[NDArray[np.float32]]
    sizes: NDArray[np.int64]
    centers: NDArray[np.float32]

    @property
    def ds(self) -> DescriptorSet:
        return DescriptorSet.from_list(
            self.descs, self.keypoints, self.sizes, n_dims=self.centers.shape[1]
        )


@st.composite
def cases(draw: st.DrawFn, max_images: int = 5, max_per_image: int = 6) -> Case:
    d = draw(st.integers(1, 4))
    n_words = draw(st.integers(1, 6))
    ints = st.integers(-4, 4)
    centers = np.array(
        draw(st.lists(st.lists(ints, min_size=d, max_size=d), min_size=n_words, max_size=n_words)),
        dtype=np.float32,
    )
    n_images = draw(st.integers(0, max_images))
    descs, kps = [], []
    sizes = np.zeros((n_images, 2), dtype=np.int64)
    for i in range(n_images):
        n = draw(st.integers(0, max_per_image))  # empty and one-descriptor images included
        descs.append(
            np.array(
                draw(st.lists(st.lists(ints, min_size=d, max_size=d), min_size=n, max_size=n)),
                dtype=np.float32,
            ).reshape(n, d)
        )
        h, w = draw(st.integers(0, 24)), draw(st.integers(0, 24))
        sizes[i] = (h, w)
        # Keypoints mostly inside the image, sometimes on or beyond the border (clamped).
        coord = st.floats(-2, 26, allow_nan=False, width=32)
        kps.append(
            np.array([[draw(coord), draw(coord), 1.0] for _ in range(n)], dtype=np.float32).reshape(
                n, 3
            )
        )
    return Case(descs, kps, sizes, centers)


def _check(case: Case, **kw: Any) -> NDArray[np.float32]:
    got = vislang.encode(case.ds, case.centers, **kw)
    want, _ = ref.encode(
        case.descs, case.centers, keypoints=case.keypoints, image_sizes=case.sizes, **kw
    )
    assert got.dtype == np.float32
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-6)
    return got


@given(
    cases(),
    st.sampled_from(PYRAMIDS),
    st.sampled_from([None, "l1", "l2", "power"]),
    st.sampled_from([None, "tfidf"]),
)
def test_hard_matches_reference(case: Case, pyramid: Any, norm: Any, weighting: Any) -> None:
    _check(case, encoding="hard", pyramid=pyramid, norm=norm, weighting=weighting)


@given(
    cases(),
    st.integers(1, 6),
    st.one_of(st.none(), st.floats(0.05, 20)),
    st.sampled_from(PYRAMIDS),
    st.sampled_from([None, "l2", "power"]),
    st.sampled_from([None, "tfidf"]),
)
def test_soft_matches_reference(
    case: Case, k: int, sigma: Any, pyramid: Any, norm: Any, weighting: Any
) -> None:
    k = min(k, case.centers.shape[0])
    _check(case, encoding="soft", k=k, sigma=sigma, pyramid=pyramid, norm=norm, weighting=weighting)


@given(
    cases(),
    st.sampled_from(PYRAMIDS),
    st.sampled_from([None, "l1", "l2", "power"]),
    st.booleans(),
)
def test_vlad_matches_reference(case: Case, pyramid: Any, norm: Any, intra: bool) -> None:
    _check(case, encoding="vlad", pyramid=pyramid, norm=norm, intra_norm=intra)


@given(cases(), st.sampled_from(PYRAMIDS))
def test_hard_counts_sum_to_descriptors_and_cells_partition(case: Case, pyramid: Any) -> None:
    n_words = case.centers.shape[0]
    counts = np.array([len(x) for x in case.descs])
    X = vislang.encode(case.ds, case.centers, pyramid=pyramid, norm=None)
    plain = vislang.encode(case.ds, case.centers, norm=None)
    np.testing.assert_array_equal(plain.sum(axis=1), counts)
    weights = ref.level_weights(len(pyramid))
    start = 0
    for g, w in zip(pyramid, weights, strict=True):
        level = X[:, start : start + g * g * n_words].reshape(len(counts), g * g, n_words)
        # Every descriptor falls in exactly one cell of each level: the cells sum to the plain
        # histogram times the level weight.
        np.testing.assert_allclose(level.sum(axis=1), w * plain, rtol=1e-6)
        start += g * g * n_words
    assert start == X.shape[1]


@given(cases(), st.integers(1, 6))
def test_soft_weights_sum_to_one_per_descriptor(case: Case, k: int) -> None:
    k = min(k, case.centers.shape[0])
    X = vislang.encode(case.ds, case.centers, encoding="soft", k=k, norm=None)
    counts = np.array([len(x) for x in case.descs], dtype=np.float64)
    np.testing.assert_allclose(X.sum(axis=1), counts, rtol=1e-5)
    assert (X >= 0).all()


def test_default_sigma_is_median_nearest_distance() -> None:
    descs = [np.array([[0.0], [1.0]], np.float32), np.array([[3.0]], np.float32)]
    C = np.array([[0.0], [4.0]], np.float32)
    ds = DescriptorSet.from_list(descs)
    want = vislang.encode(ds, C, encoding="soft", k=2, sigma=1.0)
    np.testing.assert_allclose(vislang.encode(ds, C, encoding="soft", k=2), want, rtol=1e-6)


def test_empty_set_and_empty_images() -> None:
    C = np.eye(3, dtype=np.float32)
    ds = DescriptorSet(np.zeros((0, 3), np.float32), [0, 0, 0])
    for encoding in ("hard", "soft", "vlad"):
        X = vislang.encode(ds, C, encoding=encoding, k=2)
        assert X.shape == (2, 9 if encoding == "vlad" else 3)
        assert not X.any()
    none = DescriptorSet(np.zeros((0, 3), np.float32), [0])
    assert vislang.encode(none, C).shape == (0, 3)


def test_sparse_output_and_vocabulary_object() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4)).astype(np.float32)
    ds = DescriptorSet(X, [0, 20, 20, 60])
    vocab = vislang.VisualVocabulary(5, random_state=0).fit(X)
    dense = vislang.encode(ds, vocab)
    sp = vislang.encode(ds, vocab, sparse=True)
    assert scipy.sparse.issparse(sp) and sp.format == "csr" and sp.dtype == np.float32
    np.testing.assert_array_equal(sp.toarray(), dense)
    np.testing.assert_array_equal(dense, vislang.encode(ds, vocab.cluster_centers_))
    # A list of per-image arrays works as well.
    np.testing.assert_array_equal(dense, vislang.encode([X[:20], X[:0], X[20:]], vocab))


def test_fixed_idf_is_used() -> None:
    ds = DescriptorSet(np.array([[0.0], [1.0], [1.0]], np.float32), [0, 1, 3])
    C = np.array([[0.0], [1.0]], np.float32)
    X = vislang.encode(ds, C, weighting="tfidf", norm=None, idf=[2.0, 0.5])
    np.testing.assert_allclose(X, [[2.0, 0.0], [0.0, 1.0]])
    learned = vislang.encode(ds, C, weighting="tfidf", norm=None)
    np.testing.assert_allclose(learned, [[np.log(2), 0.0], [0.0, 2 * np.log(2)]], rtol=1e-6)


def test_n_columns_matches_output() -> None:
    from vislang.bovw import n_columns

    ds = DescriptorSet(np.ones((2, 3), np.float32), [0, 2], [[1, 1, 1], [5, 5, 1]], [[8, 8]])
    for enc in ("hard", "vlad"):
        X = vislang.encode(ds, np.eye(3, dtype=np.float32), encoding=enc, pyramid=(1, 2))
        assert X.shape[1] == n_columns(3, 3, enc, (1, 2))


@pytest.mark.parametrize("n", [1, 2])
def test_one_descriptor_images(n: int) -> None:
    ds = DescriptorSet(np.array([[1.0, 0.0]] * n, np.float32), np.arange(n + 1))
    C = np.array([[0.0, 0.0], [1.0, 0.0]], np.float32)
    np.testing.assert_array_equal(vislang.encode(ds, C, norm=None), [[0.0, 1.0]] * n)
    np.testing.assert_array_equal(vislang.encode(ds, C, norm="l2"), [[0.0, 1.0]] * n)
