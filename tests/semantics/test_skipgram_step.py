"""The native SGD steps of skip-gram and of the multimodal margin term against plain NumPy.

The oracles below are written from the formulas (float64 throughout); the native side runs the
same update in float32 with a vectorised dot product (a different summation order). With inputs
in [-1, 1], dimension <= 48 and learning rates <= 0.5, each updated value is a short sum of
float32 products, so its error is a few hundred float32 ulps of the values involved at most:
``rtol=1e-4, atol=1e-5`` leaves room for that and still catches any wrong term (those change
values by ~lr * O(1)).
"""

from __future__ import annotations

from typing import Any

import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import given
from hypothesis.extra import numpy as hnp
from numpy.typing import NDArray

from vislang._core import _testing
from vislang.exceptions import InvalidInputError

RTOL, ATOL = 1e-4, 1e-5
NORM_FLOOR = 1.0  # vislang_core::skipgram::NORM_FLOOR


def sigmoid(x: float) -> float:
    return float(0.5 * (1.0 + np.tanh(0.5 * x)))


def sgns_reference(
    syn0: NDArray[Any], syn1: NDArray[Any], center: int, context: int, negs: Any, lr: float
) -> tuple[NDArray[np.float64], NDArray[np.float64], float]:
    """word2vec.c's update: x = syn0[center] predicts context (1) and each negative (0);
    negatives equal to the context are skipped; output rows change as they are visited, x's
    accumulated gradient is applied at the end."""
    s0, s1 = syn0.astype(np.float64), syn1.astype(np.float64)
    x = s0[center].copy()
    grad = np.zeros_like(x)
    loss = 0.0
    for d, t in enumerate([context, *negs]):
        if d > 0 and t == context:
            continue
        label = 1.0 if d == 0 else 0.0
        f = float(x @ s1[t])
        s = sigmoid(f)
        # -log s(f) = log(1 + e^-f), -log(1 - s(f)) = log(1 + e^f)
        loss += float(np.logaddexp(0.0, -f if d == 0 else f))
        g = (label - s) * lr
        grad += g * s1[t]
        s1[t] += g * x
    s0[center] += grad
    return s0, s1, loss


def margin_grad_reference(
    u: NDArray[np.float64], vis: NDArray[np.float64], target: int, negs: Any, margin: float
) -> tuple[NDArray[np.float64], float]:
    """Gradient of sum_j max(0, margin - cos(u, v) + cos(u, v_j)) with 1/|u| floored."""
    vis = vis / np.linalg.norm(vis, axis=1, keepdims=True)
    n = np.linalg.norm(u)
    scale = 1.0 / max(n, NORM_FLOOR)

    def cos_grad(v: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        c = float(u @ v) / n
        return c, (v - c * u / n) * scale

    c_pos, g_pos = cos_grad(vis[target])
    grad = np.zeros_like(u)
    loss = 0.0
    for j in negs:
        if j == target:
            continue
        c_neg, g_neg = cos_grad(vis[j])
        if margin - c_pos + c_neg > 0:
            loss += margin - c_pos + c_neg
            grad += g_neg - g_pos
    return grad, loss


unit_floats = st.floats(-1.0, 1.0, width=32)


@st.composite
def sgns_case(draw: st.DrawFn) -> tuple[Any, ...]:
    rows = draw(st.integers(2, 8))
    dim = draw(st.integers(1, 48))
    syn0 = draw(hnp.arrays(np.float32, (rows, dim), elements=unit_floats))
    syn1 = draw(hnp.arrays(np.float32, (rows, dim), elements=unit_floats))
    center = draw(st.integers(0, rows - 1))
    context = draw(st.integers(0, rows - 1))
    negs = draw(st.lists(st.integers(0, rows - 1), max_size=6))
    lr = draw(st.floats(0.0, 0.5))
    return syn0, syn1, center, context, np.array(negs, dtype=np.uint32), lr


@given(sgns_case())
def test_sgns_step_matches_numpy(case: tuple[Any, ...]) -> None:
    syn0, syn1, center, context, negs, lr = case
    got0, got1, loss = _testing.skipgram_step(syn0, syn1, center, context, negs, lr)
    want0, want1, want_loss = sgns_reference(syn0, syn1, center, context, negs.tolist(), lr)
    np.testing.assert_allclose(got0, want0, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(got1, want1, rtol=RTOL, atol=ATOL)
    assert loss == pytest.approx(want_loss, rel=1e-4, abs=1e-4)
    # Inputs are not modified.
    assert got0 is not syn0


def test_sgns_step_moves_towards_the_context() -> None:
    rng = np.random.default_rng(0)
    syn0 = rng.uniform(-0.5, 0.5, (4, 8)).astype(np.float32)
    syn1 = rng.uniform(-0.5, 0.5, (4, 8)).astype(np.float32)
    before = float(syn0[0] @ syn1[1])
    new0, new1, _ = _testing.skipgram_step(syn0, syn1, 0, 1, np.array([2, 3], np.uint32), 0.1)
    assert float(new0[0] @ new1[1]) > before
    # Rows that take no part are unchanged.
    np.testing.assert_array_equal(new0[1:], syn0[1:])
    np.testing.assert_array_equal(new1[0], syn1[0])


@st.composite
def margin_case(draw: st.DrawFn, variant: str) -> tuple[Any, ...]:
    rows = draw(st.integers(1, 5))
    dim = draw(st.integers(1, 24))
    vdim = dim if variant == "A" else draw(st.integers(1, 24))
    n_vis = draw(st.integers(2, 6))
    syn0 = draw(hnp.arrays(np.float32, (rows, dim), elements=unit_floats))
    vis = draw(hnp.arrays(np.float32, (n_vis, vdim), elements=unit_floats))
    mapping = draw(hnp.arrays(np.float32, (vdim, dim), elements=unit_floats))
    word = draw(st.integers(0, rows - 1))
    target = draw(st.integers(0, n_vis - 1))
    negs = draw(st.lists(st.integers(0, n_vis - 1), min_size=1, max_size=6))
    lr = draw(st.floats(0.0, 0.5))
    margin = draw(st.sampled_from([0.0, 0.5, 1.0, 2.5]))
    weight = draw(st.sampled_from([0.5, 1.0]))
    # Keep clear of the cosine's singularity and of hinge kinks (|violation| < 1e-3), where
    # float32 rounding may legitimately flip a term on or off.
    vis_n = vis / np.maximum(np.linalg.norm(vis, axis=1, keepdims=True), 1e-30)
    u = syn0[word].astype(np.float64)
    if variant == "B":
        u = mapping.astype(np.float64) @ u
    norm = float(np.linalg.norm(u))
    ok = np.linalg.norm(vis, axis=1).min() > 1e-2 and norm > 1e-2
    if ok:
        cos = vis_n.astype(np.float64) @ u / norm
        viol = margin - cos[target] + cos[np.array(negs)]
        ok = bool(np.abs(viol).min() > 1e-3)
    draw(st.just(ok).filter(bool))
    return syn0, vis, mapping, word, target, np.array(negs, dtype=np.uint32), lr, margin, weight


@given(margin_case("A"))
def test_margin_step_a_matches_numpy(case: tuple[Any, ...]) -> None:
    syn0, vis, _, word, target, negs, lr, margin, weight = case
    got, mapping, loss = _testing.multimodal_step(
        syn0, word, vis, target, negs, lr, margin=margin, weight=weight
    )
    assert mapping is None
    want = syn0.astype(np.float64)
    grad, want_loss = margin_grad_reference(
        want[word].copy(), vis.astype(np.float64), target, negs.tolist(), margin
    )
    want[word] -= lr * weight * grad
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)
    assert loss == pytest.approx(want_loss, rel=1e-4, abs=1e-4)


@given(margin_case("B"))
def test_margin_step_b_matches_numpy(case: tuple[Any, ...]) -> None:
    syn0, vis, mapping, word, target, negs, lr, margin, weight = case
    got, got_m, loss = _testing.multimodal_step(
        syn0, word, vis, target, negs, lr, margin=margin, weight=weight, mapping=mapping
    )
    w = syn0.astype(np.float64)
    m = mapping.astype(np.float64)
    grad_z, want_loss = margin_grad_reference(
        m @ w[word], vis.astype(np.float64), target, negs.tolist(), margin
    )
    step = lr * weight
    want_m = m - step * np.outer(grad_z, w[word])
    w[word] -= step * (m.T @ grad_z)
    np.testing.assert_allclose(got, w, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(got_m, want_m, rtol=RTOL, atol=ATOL)
    assert loss == pytest.approx(want_loss, rel=1e-4, abs=1e-4)


def test_margin_step_separates_target_from_negative() -> None:
    syn0 = np.array([[1.0, 0.3, 0.0]], np.float32)
    vis = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]], np.float32)
    negs = np.array([1], np.uint32)
    new, _, loss = _testing.multimodal_step(syn0, 0, vis, 0, negs, 0.2)
    _, _, after = _testing.multimodal_step(new, 0, vis, 0, negs, 0.0)
    assert after < loss


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"word": 5}, "word"),
        ({"target": 9}, "target"),
        ({"negatives": np.array([7], np.uint32)}, "negatives"),
        ({"visual": np.ones((3, 2), np.float32)}, "variant A"),
        ({"mapping": np.ones((2, 2), np.float32)}, "mapping"),
    ],
)
def test_margin_step_rejects_bad_input(kwargs: dict[str, Any], match: str) -> None:
    args: dict[str, Any] = {
        "syn0": np.ones((2, 3), np.float32),
        "word": 0,
        "visual": np.eye(3, dtype=np.float32),
        "target": 0,
        "negatives": np.array([1], np.uint32),
        "lr": 0.1,
    }
    args.update(kwargs)
    with pytest.raises(InvalidInputError, match=match):
        _testing.multimodal_step(**args)


def test_sgns_step_rejects_bad_rows() -> None:
    a = np.zeros((3, 2), np.float32)
    with pytest.raises(InvalidInputError, match="context"):
        _testing.skipgram_step(a, a, 0, 3, np.array([], np.uint32), 0.1)
    with pytest.raises(InvalidInputError, match="syn1neg"):
        _testing.skipgram_step(a, np.zeros((2, 2), np.float32), 0, 1, np.array([], np.uint32), 0.1)


# ---------------------------------------------------------------------- sampling tables
@given(
    hnp.arrays(np.int64, st.integers(1, 50), elements=st.integers(0, 10**6)).filter(
        lambda c: c.sum() > 0
    ),
    st.sampled_from([0.0, 1e-5, 1e-3, 0.1]),
    st.sampled_from([0.75, 1.0, 0.0]),
)
def test_tables_match_the_formulas(counts: NDArray[np.int64], sample: float, power: float) -> None:
    keep, noise = _testing.skipgram_tables(counts, sample, power)
    c = counts.astype(np.float64)
    if sample > 0:
        t = sample * c.sum()
        with np.errstate(divide="ignore", invalid="ignore"):
            want_keep = np.where(c > 0, np.minimum((np.sqrt(c / t) + 1) * t / c, 1.0), 1.0)
    else:
        want_keep = np.ones_like(c)
    np.testing.assert_allclose(keep, want_keep, atol=1e-9)
    w = np.where(c > 0, c**power, 0.0)
    np.testing.assert_allclose(noise, w / w.sum(), atol=1e-8)
