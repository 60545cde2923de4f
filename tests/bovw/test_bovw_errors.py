"""Bad inputs of ``vislang.encode`` and ``_core.encode``: InvalidInputError naming the cause."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import vislang
from vislang import _core
from vislang.exceptions import InvalidInputError
from vislang.features import DescriptorSet

C = np.eye(3, dtype=np.float32)
DS = DescriptorSet(np.eye(3, dtype=np.float32), [0, 1, 3])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"encoding": "fisher"}, r"encoding must be 'hard', 'soft' or 'vlad', got 'fisher'"),
        ({"norm": "l3"}, r"norm must be None, 'l1', 'l2' or 'power', got 'l3'"),
        ({"weighting": "bm25"}, r"weighting must be None or 'tfidf', got 'bm25'"),
        ({"encoding": "vlad", "weighting": "tfidf"}, r"tfidf' applies to the 'hard' and 'soft'"),
        ({"encoding": "soft", "k": 4}, r"k must be an int in \[1, n_words=3\], got 4"),
        ({"encoding": "soft", "k": 0}, r"k must be an int in \[1, n_words=3\], got 0"),
        ({"encoding": "soft", "k": 2, "sigma": 0.0}, r"sigma must be None or a finite number > 0"),
        (
            {"encoding": "soft", "k": 2, "sigma": float("nan")},
            r"sigma must be None or a finite number",
        ),
        ({"pyramid": ()}, r"pyramid must be a non-empty sequence of grid sizes"),
        ({"pyramid": (1, 0)}, r"pyramid grid sizes must be ints in \[1, 64\], got \(1, 0\)"),
        ({"pyramid": (1, 2)}, r"pyramid=\(1, 2\) needs keypoints and image_sizes"),
        ({"intra_norm": True}, r"intra_norm applies to the 'vlad' encoding only"),
        ({"weighting": "tfidf", "idf": [1.0]}, r"idf must have shape \(3,\), got \(1,\)"),
        ({"n_jobs": 0}, r"n_jobs must be None, -1 or a positive int, got 0"),
    ],
)
def test_bad_options(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        vislang.encode(DS, C, **kwargs)


def test_bad_vocabulary_and_descriptors() -> None:
    with pytest.raises(
        InvalidInputError,
        match=r"descriptors have 3 dimensions, but the "
        r"vocabulary centers have 2",
    ):
        vislang.encode(DS, np.eye(2))
    with pytest.raises(InvalidInputError, match=r"vocabulary must be fitted"):
        vislang.encode(DS, vislang.VisualVocabulary(2))
    bad = C.copy()
    bad[1, 2] = np.inf
    with pytest.raises(InvalidInputError, match=r"vocabulary centers contains NaN or inf at row 1"):
        vislang.encode(DS, bad)
    with pytest.raises(InvalidInputError, match=r"vocabulary centers must be non-empty"):
        vislang.encode(DS, np.zeros((0, 3)))
    with pytest.raises(InvalidInputError, match=r"descriptor_set must be a DescriptorSet"):
        vislang.encode(np.eye(3), C)


def test_core_checks_again() -> None:
    """``_core`` is private but callable: it validates cheaply and never panics."""
    X = np.eye(3, dtype=np.float32)
    with pytest.raises(
        InvalidInputError,
        match=r"offsets: must end at n_descriptors=3, got "
        r"offsets\[-1\]=2",
    ):
        _core.encode(X, np.array([0, 2]), C)
    with pytest.raises(InvalidInputError, match=r"offsets: must start at 0, got offsets\[0\]=1"):
        _core.encode(X, np.array([1, 3]), C)
    with pytest.raises(InvalidInputError, match=r"offsets: must be non-decreasing"):
        _core.encode(X, np.array([0, 2, 1, 3]), C)
    with pytest.raises(InvalidInputError, match=r"descriptors has 3 features, expected 2"):
        _core.encode(X, np.array([0, 3]), np.eye(2, dtype=np.float32))
    with pytest.raises(InvalidInputError, match=r"centers must be a 2-D array of the same dtype"):
        _core.encode(X, np.array([0, 3]), np.eye(3))
    with pytest.raises(InvalidInputError, match=r"descriptors must be C-contiguous"):
        _core.encode(np.eye(6, dtype=np.float32)[:, ::2], np.array([0, 6]), C)
    with pytest.raises(InvalidInputError, match=r"keypoints: a spatial pyramid with grids > 1"):
        _core.encode(X, np.array([0, 3]), C, pyramid=[2])
    with pytest.raises(
        InvalidInputError, match=r"keypoints and image_sizes must be given together"
    ):
        _core.encode(X, np.array([0, 3]), C, keypoints=np.zeros((3, 3), np.float32))
    with pytest.raises(InvalidInputError, match=r"image_sizes: must have shape \(n_images, 2\)"):
        _core.encode(
            X,
            np.array([0, 3]),
            C,
            pyramid=[2],
            keypoints=np.zeros((3, 3), np.float32),
            image_sizes=np.zeros((2, 2), np.int64),
        )
    with pytest.raises(InvalidInputError, match=r"k: must be in \[1, n_words=3\], got 5"):
        _core.encode(X, np.array([0, 3]), C, encoding="soft", k=5)
    with pytest.raises(InvalidInputError, match=r"sigma: must be finite and > 0, got -1"):
        _core.encode(X, np.array([0, 3]), C, encoding="soft", k=1, sigma=-1.0)
    with pytest.raises(InvalidInputError, match=r"idf: has length 2, expected n_columns=3"):
        _core.encode(X, np.array([0, 3]), C, idf=np.ones(2))
    nan = X.copy()
    nan[2, 0] = np.nan
    with pytest.raises(InvalidInputError, match=r"descriptors contains NaN or inf at row 2"):
        _core.encode(nan, np.array([0, 3]), C)
    with pytest.raises(InvalidInputError, match=r"n_threads must be >= 1, got 0"):
        _core.encode(X, np.array([0, 3]), C, n_threads=0)


def test_estimator_errors() -> None:
    from vislang.bovw import BagOfVisualWords

    empty = DescriptorSet(np.zeros((0, 3), np.float32), [0, 0])
    with pytest.raises(InvalidInputError, match=r"gave no descriptors to build a vocabulary"):
        BagOfVisualWords(n_words=2).fit(empty)
    with pytest.raises(InvalidInputError, match=r"n_clusters=5 must be <= n_samples=3"):
        BagOfVisualWords(n_words=5).fit(DS)
    with pytest.raises(InvalidInputError, match=r"k must be an int in \[1, n_words=3\], got 5"):
        BagOfVisualWords(n_words=3, encoding="soft", k=5).fit(np.zeros((1, 8, 8), np.uint8))
    with pytest.raises(ValueError, match=r"'encoding' parameter of BagOfVisualWords must be"):
        BagOfVisualWords(encoding="fisher").fit(DS)
