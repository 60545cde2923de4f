"""Exact chunked top-k search, the COCO 1K/5K protocols and the retrieval grid plot."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from vislang.eval import (
    coco_retrieval_metrics,
    plot_retrieval_grid,
    retrieval_metrics,
    text_to_image_ranks,
    topk_search,
)
from vislang.exceptions import InvalidInputError


def _brute(q: np.ndarray, g: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    s = q.astype(np.float64) @ g.astype(np.float64).T
    idx = np.argsort(-s, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(s, idx, 1), idx


@given(
    n_q=st.integers(1, 20),
    n_g=st.integers(1, 60),
    dim=st.integers(1, 8),
    k=st.integers(1, 60),
    q_chunk=st.integers(1, 7),
    g_chunk=st.integers(1, 25),
    seed=st.integers(0, 2**16),
)
def test_topk_matches_brute_force(
    n_q: int, n_g: int, dim: int, k: int, q_chunk: int, g_chunk: int, seed: int
) -> None:
    k = min(k, n_g)
    rng = np.random.default_rng(seed)
    q, g = rng.normal(size=(n_q, dim)), rng.normal(size=(n_g, dim))
    s, i = topk_search(q, g, k, query_chunk=q_chunk, gallery_chunk=g_chunk)
    bs, _ = _brute(q, g, k)
    np.testing.assert_allclose(s, bs, rtol=1e-4, atol=1e-5)
    # indices agree wherever the score is not (numerically) tied with a neighbour
    np.testing.assert_allclose(np.take_along_axis(q @ g.T, i, 1), bs, rtol=1e-4, atol=1e-5)


def test_topk_100k_gallery_without_full_matrix() -> None:
    rng = np.random.default_rng(0)
    g = rng.normal(size=(100_000, 16)).astype(np.float32)
    g /= np.linalg.norm(g, axis=1, keepdims=True)
    q = g[[5, 99_999, 54_321]] * 3.0  # unit gallery: each query's best match is itself
    s, i = topk_search(q, g, 10, gallery_chunk=8192)
    assert i[:, 0].tolist() == [5, 99_999, 54_321]
    bs, bi = _brute(q, g, 10)
    np.testing.assert_array_equal(i, bi)
    np.testing.assert_allclose(s, bs, rtol=1e-4)


def test_topk_bad_input() -> None:
    with pytest.raises(InvalidInputError, match=r"k=4 must be in \[1, n_gallery=3\]"):
        topk_search(np.eye(3), np.eye(3), 4)
    with pytest.raises(InvalidInputError, match="same dimension"):
        topk_search(np.eye(3), np.eye(2), 1)
    with pytest.raises(InvalidInputError, match="queries contains NaN or inf at row 0"):
        topk_search(np.full((1, 2), np.nan), np.eye(2), 1)
    with pytest.raises(InvalidInputError, match="gallery must be non-empty"):
        topk_search(np.eye(2), np.zeros((0, 2)), 1)


def test_coco_1k_is_mean_of_five_folds_and_5k_is_all() -> None:
    rng = np.random.default_rng(1)
    img = rng.normal(size=(50, 8))
    t2i = np.repeat(np.arange(50), 5)
    txt = img[t2i] + rng.normal(scale=1.5, size=(250, 8))
    m = coco_retrieval_metrics(img, txt, t2i)
    folds = [
        retrieval_metrics(img[f * 10 : f * 10 + 10], txt[f * 50 : f * 50 + 50], t2i[:50] % 10)
        for f in range(5)
    ]
    assert m["1k"]["t2i_r1"] == pytest.approx(np.mean([f["t2i_r1"] for f in folds]))
    assert m["5k"]["t2i_r1"] == pytest.approx(
        100 * np.mean(text_to_image_ranks(img, txt, t2i) <= 1)
    )
    assert m["1k"]["rsum"] >= m["5k"]["rsum"]  # smaller galleries are easier


def test_retrieval_grid_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    images = np.random.default_rng(0).integers(0, 255, size=(6, 16, 16, 3), dtype=np.uint8)
    ranked = np.array([[2, 0, 1], [5, 4, 3]])
    out = plot_retrieval_grid(
        ["a red circle", "a blue square"], ranked, lambda i: images[i], [0, 5], tmp_path / "g.png"
    )
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(InvalidInputError, match="correct must have shape"):
        plot_retrieval_grid(["a"], ranked[:1], lambda i: images[i], [0, 1], tmp_path / "x.png")
