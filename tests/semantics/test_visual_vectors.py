"""Visual word vectors and image dispersion against explicit loops and constructed examples."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from vislang.exceptions import InvalidInputError
from vislang.semantics import (
    aggregate_visual_vectors,
    group_images_by_word,
    image_dispersion,
    tags_from_captions,
)

TAGS = [["dog", "ball"], "dog", ["cat", "cat"], ["dog", "cat"], ["sky"]]


def test_group_images_by_word() -> None:
    groups = group_images_by_word(TAGS)
    assert list(groups) == ["dog", "ball", "cat", "sky"]
    np.testing.assert_array_equal(groups["dog"], [0, 1, 3])
    np.testing.assert_array_equal(groups["cat"], [2, 3])  # repeated tag counts once
    assert list(group_images_by_word(TAGS, min_images=2)) == ["dog", "cat"]
    assert list(group_images_by_word(TAGS, vocabulary={"sky", "cat"})) == ["cat", "sky"]


@pytest.mark.parametrize("method", ["mean", "max", "median", "sum"])
def test_aggregation_matches_loop(method: str) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(len(TAGS), 6)).astype(np.float32)
    wv, counts = aggregate_visual_vectors(x, TAGS, method=method, return_counts=True)  # type: ignore[misc]
    fn = {"mean": np.mean, "max": np.max, "median": np.median, "sum": np.sum}[method]
    assert wv.dtype == np.float32
    for w in ["dog", "ball", "cat", "sky"]:
        rows = [i for i, t in enumerate(TAGS) if w in ([t] if isinstance(t, str) else t)]
        np.testing.assert_allclose(wv[w], fn(x[rows], axis=0), rtol=1e-6)
        assert counts[wv.index[w]] == len(rows)


def test_min_images_and_vocabulary() -> None:
    x = np.eye(5)
    wv = aggregate_visual_vectors(x, TAGS, min_images=2)
    assert wv.words == ("dog", "cat")  # type: ignore[union-attr]
    wv = aggregate_visual_vectors(x, TAGS, vocabulary=["sky"])
    assert wv.words == ("sky",)  # type: ignore[union-attr]


def test_list_of_per_image_arrays() -> None:
    feats = [np.array([1.0, 0.0]), np.array([3.0, 2.0])]
    wv = aggregate_visual_vectors(feats, ["a", "a"])
    np.testing.assert_array_equal(wv["a"], [2.0, 1.0])  # type: ignore[index]


@pytest.mark.parametrize(
    ("features", "tags", "kwargs", "message"),
    [
        (np.zeros((2, 3)), ["a"], {}, r"features has 2 rows \(images\) but tags has 1 entries"),
        (np.zeros((1, 3)), ["a"], {"method": "mode"}, r"method must be one of"),
        (np.zeros((1, 3)), ["a"], {"min_images": 0}, r"min_images must be >= 1, got 0"),
        (np.array([[np.inf]]), ["a"], {}, r"features contains NaN or inf at row 0"),
        ([np.zeros(2), np.zeros(3)], ["a", "b"], {}, r"must all be 1-D of the same length"),
        (np.zeros((1, 2)), [[1]], {}, r"tags\[0\] must be a str or an iterable of str"),
    ],
)
def test_aggregation_errors(
    features: object, tags: list[object], kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        aggregate_visual_vectors(features, tags, **kwargs)  # type: ignore[arg-type]


def dispersion_loop(rows: np.ndarray) -> float:
    """Kiela et al. 2014, Eq. 1, written as the double loop."""
    total, n = 0.0, len(rows)
    for i, j in itertools.combinations(range(n), 2):
        a, b = rows[i], rows[j]
        na, nb = np.linalg.norm(a), np.linalg.norm(b)
        cos = 0.0 if na == 0 or nb == 0 else float(a @ b / na / nb)
        total += 1.0 - cos
    return total / (n * (n - 1) / 2)


def test_dispersion_constructed_examples() -> None:
    x = np.array(
        [
            [1.0, 0.0],
            [2.0, 0.0],
            [5.0, 0.0],  # "sun": same direction -> 0
            [1.0, 0.0],
            [0.0, 3.0],  # "idea": orthogonal -> 1
            [1.0, 1.0],
            [-2.0, -2.0],  # "up": opposite -> 2
            [1.0, 0.0],
            [0.0, 1.0],
            [-1.0, 0.0],  # "mix": (1 + 2 + 1) / 3
        ]
    )
    tags = ["sun"] * 3 + ["idea"] * 2 + ["up"] * 2 + ["mix"] * 3
    d = image_dispersion(x, tags)
    assert d["sun"] == pytest.approx(0.0, abs=1e-12)
    assert d["idea"] == pytest.approx(1.0)
    assert d["up"] == pytest.approx(2.0)
    assert d["mix"] == pytest.approx(4.0 / 3.0)


def test_dispersion_zero_vector_and_min_images() -> None:
    x = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 0.0], [3.0, 3.0]])
    d = image_dispersion(x, [["a"], ["a"], ["a", "b"], []])
    assert d == {"a": pytest.approx(dispersion_loop(x[:3]))}  # "b" has one image
    with pytest.raises(InvalidInputError, match=r"min_images must be >= 2, got 1"):
        image_dispersion(x, ["a"] * 4, min_images=1)


@given(
    st.integers(2, 7),
    st.integers(1, 4),
    st.integers(0, 2**32 - 1),
)
def test_dispersion_matches_loop(n: int, d: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    x[rng.random(n) < 0.2] = 0.0  # some empty histograms
    got = image_dispersion(x, ["w"] * n)["w"]
    assert got == pytest.approx(dispersion_loop(x), abs=1e-9)


def test_tags_from_captions() -> None:
    tags = tags_from_captions(
        [["A dog runs on the grass.", "Two dogs play in the park"], "a red car"],
        lemmas={"dogs": "dog"},
    )
    assert tags == [["dog", "runs", "grass", "play", "park"], ["red", "car"]]
    assert tags_from_captions(["the cat"], stop_words=set()) == [["the", "cat"]]


def test_cnn_visual_vectors_are_the_mean_features_of_each_words_images() -> None:
    pytest.importorskip("torch")
    import vislang.semantics
    from vislang.data import make_shapes
    from vislang.models import cnn_visual_vectors, extract_features

    # moved to the torch layer; the old name still works, with a DeprecationWarning
    with pytest.warns(DeprecationWarning, match="use vislang.models.cnn_visual_vectors"):
        assert vislang.semantics.cnn_visual_vectors is cnn_visual_vectors

    ds = make_shapes(12, seed=3)
    images = np.stack([ds.load_image(i) for i in range(len(ds))])
    tags = [["red"] if i % 3 else ["blue", "red"] for i in range(len(ds))]
    kw = {"backbone": "tiny_cnn", "pretrained": None, "image_size": 32, "device": "cpu"}
    import torch

    torch.manual_seed(0)
    vectors = cnn_visual_vectors(images, tags, min_images=2, **kw)
    torch.manual_seed(0)
    feats = extract_features(images, progress=False, **kw)
    red = feats.mean(axis=0)
    blue = feats[[i for i in range(len(ds)) if i % 3 == 0]].mean(axis=0)
    np.testing.assert_allclose(vectors["red"], red, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(vectors["blue"], blue, rtol=1e-5, atol=1e-6)
    with pytest.raises(InvalidInputError, match="min_images"):
        cnn_visual_vectors(images, tags, min_images=len(ds) + 1, **kw)
