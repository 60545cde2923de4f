"""``vislang.encode`` gives identical encodings with ``precision="auto"`` (bfloat16 candidates,
exact re-check) and ``precision="fp32"``: on SIFT-like integers with ties, and on real OpenCV
SIFT descriptors of the scikit-image photos."""

from __future__ import annotations

import numpy as np
import pytest

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
