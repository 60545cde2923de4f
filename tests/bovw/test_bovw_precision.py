"""``vislang.encode`` gives identical encodings with ``precision="auto"`` (bfloat16 candidates,
exact re-check) and ``precision="fp32"``: on SIFT-like integers with ties, on k-means-like words
(soft, k = 1..8, against the NumPy reference too), and on real OpenCV SIFT descriptors of the
scikit-image photos."""

from __future__ import annotations

import bovw_reference as ref
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import vislang
from vislang.features import DescriptorSet

ENCODINGS = [("hard", {}), ("soft", {"k": 5}), ("vlad", {})]


def _assert_same_encodings(ds: DescriptorSet, centers: np.ndarray) -> None:
    for encoding, options in ENCODINGS:
        auto = vislang.encode(ds, centers, encoding=encoding, norm=None, **options)
        fp32 = vislang.encode(
            ds, centers, encoding=encoding, norm=None, precision="fp32", **options
        )
        np.testing.assert_array_equal(auto, fp32, err_msg=encoding)


def test_sift_like_counts_identical() -> None:
    rng = np.random.default_rng(1)
    modes = rng.integers(0, 100, (30, 128))
    descs = [
        np.clip(modes[rng.integers(0, 30, n)] + rng.integers(-25, 26, (n, 128)), 0, 255).astype(
            np.float32
        )
        for n in rng.integers(0, 200, 40)
    ]
    centers = np.clip(modes[rng.integers(0, 30, 300)] + rng.integers(-10, 11, (300, 128)), 0, 255)
    centers = centers.astype(np.float32)
    centers[-1] = centers[0]  # duplicate word: never wins a tie
    ds = DescriptorSet.from_list(descs, n_dims=128)
    _assert_same_encodings(ds, centers)
    counts = vislang.encode(ds, centers, norm=None)
    assert counts[:, -1].sum() == 0
    assert counts.sum() == ds.n_descriptors


def test_precision_option_is_checked() -> None:
    ds = DescriptorSet.from_list([np.zeros((2, 3), np.float32)])
    with pytest.raises(vislang.exceptions.InvalidInputError, match="precision must be"):
        vislang.encode(ds, np.zeros((2, 3)), precision="int8")


def test_real_sift_counts_identical() -> None:
    pytest.importorskip("cv2")
    skdata = pytest.importorskip("skimage.data")
    from vislang.features import SIFT

    images = [getattr(skdata, n)() for n in ("astronaut", "camera", "coffee", "chelsea")]
    ds = SIFT(max_side=256).transform(images)
    assert ds.n_descriptors > 500
    rng = np.random.default_rng(0)
    # Words on descriptors (exact zero distances, duplicates) and fitted k-means words.
    on_data = ds.descriptors[rng.choice(ds.n_descriptors, 200, replace=False)]
    vocab = vislang.VisualVocabulary(n_clusters=64, random_state=0).fit(ds.descriptors)
    fitted = vocab.cluster_centers_
    for centers in (on_data, fitted):
        _assert_same_encodings(ds, np.ascontiguousarray(centers, dtype=np.float32))


@given(
    k=st.integers(1, 8),
    d=st.sampled_from([1, 3, 31, 33, 64, 70, 128]),
    n_words=st.integers(1, 80),
    per_image=st.lists(st.integers(0, 60), min_size=0, max_size=6),
    root=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_soft_auto_equals_fp32_and_reference(
    k: int, d: int, n_words: int, per_image: list[int], root: bool, seed: int
) -> None:
    # SIFT-like integer descriptors (or their square roots, RootSIFT-like) and k-means-like
    # words (noisy means, inexact in bfloat16); empty and one-descriptor images included.
    k = min(k, n_words)
    rng = np.random.default_rng(seed)
    modes = rng.integers(0, 200, (max(1, n_words // 3), d))
    descs = [
        np.clip(modes[rng.integers(0, len(modes), n)] + rng.integers(-30, 31, (n, d)), 0, 255)
        for n in per_image
    ]
    words = modes[rng.integers(0, len(modes), n_words)] + rng.uniform(-8, 8, (n_words, d))
    words = np.clip(words, 0, 255)
    if n_words > 1:
        words[-1] = words[0]  # duplicated word
    if root:
        descs = [np.sqrt(x) for x in descs]
        words = np.sqrt(words)
    descs = [x.astype(np.float32).reshape(-1, d) for x in descs]
    words = words.astype(np.float32)
    ds = DescriptorSet.from_list(descs, n_dims=d)
    sigma = 40.0 if not root else 3.0
    auto = vislang.encode(ds, words, encoding="soft", k=k, sigma=sigma, norm=None)
    fp32 = vislang.encode(ds, words, encoding="soft", k=k, sigma=sigma, norm=None, precision="fp32")
    np.testing.assert_array_equal(auto, fp32)
    want, _ = ref.encode(descs, words, encoding="soft", k=k, sigma=sigma, norm=None)
    # float32 distances vs the float64 reference: equal up to near-ties of rounding.
    np.testing.assert_allclose(auto, want, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(auto.sum(axis=1), [len(x) for x in descs], rtol=1e-5)
    if n_words > 1:  # the duplicate of word 0 only ever shares its weight, or loses the tie
        assert np.all(auto[:, -1] <= auto[:, 0] + 1e-6)
        if k == 1:
            assert not auto[:, -1].any()
