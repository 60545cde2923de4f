"""WARP: determinism for a seed, rank weights, and agreement of the Rust and torch paths."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from loss_reference import harmonic

from vislang import _core
from vislang.exceptions import InvalidInputError
from vislang.losses import WARPLoss
from vislang.losses.functional import warp

BACKENDS = ["rust", "torch"]


def _scores(b: int = 30, c: int = 40, seed: int = 0) -> torch.Tensor:
    return torch.randn(b, c, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


def _mask(b: int, c: int) -> torch.Tensor:
    pos = torch.zeros(b, c, dtype=torch.bool)
    pos[torch.arange(b), torch.arange(b) % c] = True
    pos[0, -1] = True  # one query with two positives
    return pos


@pytest.mark.parametrize("backend", BACKENDS)
def test_same_seed_same_loss_and_gradient(backend: str) -> None:
    out = []
    for _ in range(2):
        s = _scores().requires_grad_()
        loss = warp(s, _mask(30, 40), 0.5, seed=11, backend=backend)  # type: ignore[arg-type]
        loss.backward()
        assert s.grad is not None
        out.append((float(loss.detach()), s.grad.clone()))
    assert out[0][0] == out[1][0]
    torch.testing.assert_close(out[0][1], out[1][1], rtol=0, atol=0)
    s = _scores()
    other = warp(s, _mask(30, 40), 0.5, seed=12, backend=backend)  # type: ignore[arg-type]
    assert float(other) != out[0][0]


def test_rust_warp_does_not_depend_on_the_thread_count() -> None:
    S = np.random.default_rng(1).normal(size=(200, 150)).astype(np.float32)
    P = np.zeros((200, 150), dtype=bool)
    P[np.arange(200), np.arange(200) % 150] = True
    a = _core.warp(S, P, margin=0.5, direction="both", seed=3, n_threads=1)
    b = _core.warp(S, P, margin=0.5, direction="both", seed=3, n_threads=2)
    assert a[0] == b[0]
    np.testing.assert_array_equal(a[1], b[1])


@pytest.mark.parametrize("backend", BACKENDS)
@given(seed=st.integers(0, 2**32), margin=st.sampled_from([0.1, 0.5, 1.0, 3.0]))
def test_each_positive_pair_gets_one_rank_weighted_violator(
    backend: str, seed: int, margin: float
) -> None:
    s = _scores(12, 15, seed % 1000).requires_grad_()
    pos = _mask(12, 15)
    loss = warp(s, pos, margin, seed=seed, backend=backend)  # type: ignore[arg-type]
    loss.backward()
    assert s.grad is not None
    g, S = s.grad.numpy(), s.detach().numpy()
    rebuilt = 0.0
    for i in range(12):
        n_pos = int(pos[i].sum())
        n_neg = 15 - n_pos
        allowed = {harmonic(n_neg // t) for t in range(1, n_neg + 1)}
        neg_cols = [j for j in range(15) if not pos[i, j] and g[i, j] != 0]
        assert len(neg_cols) <= n_pos
        for j in neg_cols:
            assert any(np.isclose(g[i, j], w) or g[i, j] > 0 for w in allowed)
            # The chosen negative violates the margin for some positive of the row.
            assert any(margin - S[i, p] + S[i, j] > 0 for p in np.flatnonzero(pos[i]))
        assert g[i].sum() == pytest.approx(0.0, abs=1e-9)
        for p in np.flatnonzero(pos[i]):
            w = -g[i, p]
            assert w >= 0
            if w:
                assert any(np.isclose(w, a) for a in allowed)
        rebuilt += float((g[i] * S[i]).sum()) + margin * float(-g[i, pos[i].numpy()].sum())
    # loss = sum_w w * (margin - s_p + s_j): linear in S with gradient g.
    assert float(loss.detach()) == pytest.approx(rebuilt, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("backend", BACKENDS)
def test_all_negatives_violate_gives_the_top_rank_weight(backend: str) -> None:
    # Equal negatives above the positive: the first draw violates, rank = n_neg.
    s = torch.zeros(5, 8, dtype=torch.float64)
    s[torch.arange(5), torch.arange(5)] = -1.0
    pos = torch.zeros(5, 8, dtype=torch.bool)
    pos[torch.arange(5), torch.arange(5)] = True
    loss = warp(s, pos, 0.5, seed=0, backend=backend)  # type: ignore[arg-type]
    assert float(loss) == pytest.approx(5 * harmonic(7) * 1.5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_no_violation_gives_zero(backend: str) -> None:
    s = torch.full((6, 6), -5.0, dtype=torch.float64)
    s.fill_diagonal_(5.0)
    s.requires_grad_()
    loss = warp(s, margin=1.0, seed=0, backend=backend)  # type: ignore[arg-type]
    loss.backward()
    assert float(loss.detach()) == 0.0
    assert s.grad is not None and not s.grad.any()


def test_rust_and_torch_warp_agree_in_expectation() -> None:
    s = _scores(20, 30, 5)
    pos = _mask(20, 30)
    rust = np.mean([float(warp(s, pos, 0.5, seed=k, backend="rust")) for k in range(200)])
    tch = np.mean([float(warp(s, pos, 0.5, seed=k, backend="torch")) for k in range(200)])
    assert rust == pytest.approx(tch, rel=0.05)


def test_max_trials_one_only_counts_first_draw_violations() -> None:
    s = _scores(10, 10, 7)
    out = warp(s, margin=0.1, max_trials=1, seed=4)
    full = warp(s, margin=0.1, seed=4)
    assert float(out) <= float(full) + 1e-12


def test_warp_module_advances_its_seed() -> None:
    s = _scores(16, 16, 9)
    m1, m2 = WARPLoss(0.5, seed=5), WARPLoss(0.5, seed=5)
    first = [float(m1.forward_scores(s)) for _ in range(3)]
    assert first == [float(m2.forward_scores(s)) for _ in range(3)]
    assert len(set(first)) > 1


def test_warp_errors() -> None:
    with pytest.raises(InvalidInputError, match=r"max_trials: must be >= 1, got 0"):
        warp(torch.zeros(3, 3), max_trials=0)
    with pytest.raises(InvalidInputError, match=r"max_trials: must be >= 1, got 0"):
        _core.warp(np.zeros((3, 3)), max_trials=0)
    s = torch.zeros(3, 3)
    s[1, 2] = float("nan")
    for backend in BACKENDS:
        with pytest.raises(InvalidInputError, match=r"scores contains NaN or inf at row 1"):
            warp(s, backend=backend)  # type: ignore[arg-type]
