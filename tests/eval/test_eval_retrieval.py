"""Retrieval metrics against a sort-based oracle (ties pessimistic), folds, chunking, errors."""

from __future__ import annotations

from typing import Any

import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import given
from hypothesis.extra import numpy as hnp

from vislang.eval import (
    image_to_text_ranks,
    recall_at_k,
    retrieval_metrics,
    text_to_image_ranks,
)
from vislang.exceptions import InvalidInputError


def oracle_ranks(img: np.ndarray, txt: np.ndarray, t2i: np.ndarray) -> tuple[list[int], list[int]]:
    """Sort every candidate list; on equal scores the positive goes last (pessimistic)."""
    S = img.astype(np.float64) @ txt.astype(np.float64).T
    i2t = []
    for i in range(len(img)):
        order = sorted(range(len(txt)), key=lambda j: (-S[i, j], t2i[j] == i))
        i2t.append(1 + min(order.index(j) for j in range(len(txt)) if t2i[j] == i))
    t2i_r = []
    for t in range(len(txt)):
        order = sorted(range(len(img)), key=lambda k: (-S[k, t], k == t2i[t]))
        t2i_r.append(1 + order.index(int(t2i[t])))
    return i2t, t2i_r


@st.composite
def retrieval_cases(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n_img = draw(st.integers(1, 8))
    per = draw(st.integers(1, 5))
    d = draw(st.integers(1, 4))
    ints = st.integers(-2, 2)  # few values: many tied scores
    img = draw(hnp.arrays(np.int8, (n_img, d), elements=ints)).astype(np.float32)
    txt = draw(hnp.arrays(np.int8, (n_img * per, d), elements=ints)).astype(np.float32)
    t2i = np.repeat(np.arange(n_img), per)
    perm = np.array(draw(st.permutations(range(n_img * per))))
    return img, txt[perm], t2i[perm]


@given(case=retrieval_cases(), chunk=st.integers(1, 4))
def test_ranks_equal_the_sorting_oracle(
    case: tuple[np.ndarray, np.ndarray, np.ndarray], chunk: int
) -> None:
    img, txt, t2i = case
    ref_i2t, ref_t2i = oracle_ranks(img, txt, t2i)
    np.testing.assert_array_equal(image_to_text_ranks(img, txt, t2i, chunk_size=chunk), ref_i2t)
    np.testing.assert_array_equal(text_to_image_ranks(img, txt, t2i, chunk_size=chunk), ref_t2i)


def test_collapsed_embeddings_score_worst() -> None:
    img = np.ones((10, 4))
    txt = np.ones((50, 4))
    m = retrieval_metrics(img, txt, np.repeat(np.arange(10), 5))
    assert m["i2t_r1"] == 0.0 and m["t2i_r1"] == 0.0
    assert m["t2i_medr"] == 10.0 and m["i2t_medr"] == 46.0


def test_metrics_of_a_known_case() -> None:
    img = np.eye(4)
    txt = np.array([[1, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0.9, 0], [0, 0, 0, 1.0]])
    t2i = np.array([0, 1, 2, 3])  # text 1 describes image 1 but points at image 2
    m = retrieval_metrics(img, txt, t2i, ks=(1, 2))
    # i2t ranks: [1, 4, 2, 1]; t2i ranks: [1, 4, 1, 1] (ties with zeros count against)
    assert m["i2t_r1"] == 50.0 and m["i2t_r2"] == 75.0
    assert m["t2i_r1"] == 75.0 and m["t2i_r2"] == 75.0
    assert m["i2t_meanr"] == pytest.approx(8 / 4)
    assert m["i2t_medr"] == 1.0  # floor of the median 1.5, as vsepp
    assert m["rsum"] == pytest.approx(50 + 75 + 75 + 75)


def test_folds_average_the_per_fold_metrics() -> None:
    rng = np.random.default_rng(0)
    img = rng.normal(size=(20, 6))
    txt = np.repeat(img, 5, axis=0) + rng.normal(scale=1.5, size=(100, 6))
    t2i = np.repeat(np.arange(20), 5)
    folds = retrieval_metrics(img, txt, t2i, n_folds=4)
    parts = [
        retrieval_metrics(img[5 * f : 5 * f + 5], txt[25 * f : 25 * f + 25], t2i[:25])
        for f in range(4)
    ]
    for key, value in folds.items():
        assert value == pytest.approx(np.mean([p[key] for p in parts]))
    assert folds["i2t_r1"] >= retrieval_metrics(img, txt, t2i)["i2t_r1"]


def test_recall_at_k() -> None:
    assert recall_at_k([1, 2, 3, 10], 2) == 50.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"text_emb": np.zeros((4, 3))}, r"same dimension, got 2 and 3"),
        ({"text_to_image": np.array([0, 1, 2, 5])}, r"text_to_image\[3\]=5 is not an image index"),
        ({"text_to_image": np.array([0.0, 1, 2, 2])}, r"text_to_image must be an integer array"),
        ({"n_folds": 3}, r"n_folds=3 must be >= 1 and divide n_images=4"),
        ({"image_emb": np.full((4, 2), np.nan)}, r"image_emb contains NaN or inf at row 0"),
        ({"image_emb": np.zeros((0, 2))}, r"image_emb must be non-empty"),
        ({"text_to_image": np.array([0, 1, 2, 2])}, r"image 3 has no caption"),
    ],
)
def test_bad_input(kwargs: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {
        "image_emb": np.eye(4, 2),
        "text_emb": np.eye(4, 2),
        "text_to_image": np.arange(4),
    }
    args.update(kwargs)
    with pytest.raises(InvalidInputError, match=message):
        retrieval_metrics(**args)


def test_eval_is_torch_free() -> None:
    import subprocess
    import sys

    code = "import sys, vislang.eval; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
