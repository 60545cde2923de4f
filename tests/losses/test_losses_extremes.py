"""Ranking losses on extreme score magnitudes: the reference loss or a clear error, never a
silent inf/NaN (issue 11)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from loss_reference import ranking_loop

from strategies import huge_scales
from vislang.exceptions import InvalidInputError
from vislang.losses.functional import contrastive_ranking, warp

DTYPES = {np.float32: torch.float32, np.float64: torch.float64}


@settings(max_examples=60, deadline=None)
@given(
    data=st.data(),
    dtype=st.sampled_from([np.float32, np.float64]),
    max_violation=st.booleans(),
    backend=st.sampled_from(["rust", "torch"]),
)
def test_ranking_any_magnitude(data: Any, dtype: Any, max_violation: bool, backend: str) -> None:
    scale = data.draw(huge_scales(dtype))
    b = data.draw(st.integers(1, 6))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    S = (rng.integers(-4, 5, size=(b, b)) * scale).astype(dtype)
    scores = torch.tensor(S, requires_grad=True)
    try:
        # margin = scale: every hinge term is an exact multiple of it (no rounding near ties).
        loss = contrastive_ranking(
            scores, margin=scale, max_violation=max_violation, backend=backend
        )
    except InvalidInputError as e:
        assert "overflow" in str(e)
        return
    assert bool(torch.isfinite(loss))
    want, grad = ranking_loop(S, None, scale, max_violation)
    assert float(loss.detach()) == pytest.approx(want, rel=1e-5)
    loss.backward()
    assert scores.grad is not None and bool(torch.isfinite(scores.grad).all())
    np.testing.assert_allclose(scores.grad.numpy(), grad)


@settings(max_examples=40, deadline=None)
@given(
    data=st.data(),
    dtype=st.sampled_from([np.float32, np.float64]),
    backend=st.sampled_from(["rust", "torch"]),
)
def test_warp_any_magnitude(data: Any, dtype: Any, backend: str) -> None:
    scale = data.draw(huge_scales(dtype))
    b = data.draw(st.integers(1, 6))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    S = torch.tensor((rng.integers(-4, 5, size=(b, b)) * scale).astype(dtype))
    try:
        loss = warp(S, seed=0, backend=backend)
    except InvalidInputError as e:
        assert "overflow" in str(e)
        return
    assert bool(torch.isfinite(loss))


@pytest.mark.parametrize("backend", ["rust", "torch"])
def test_overflowing_margin_violations_are_refused(backend: str) -> None:
    # Finite scores whose violations sum past float32's range: the loss was inf before.
    S = torch.full((6, 6), 3e38)
    S.fill_diagonal_(-3e38)
    with pytest.raises(
        InvalidInputError, match=r"overflow torch.float32 \(scores up to 3.0e\+38\)"
    ):
        contrastive_ranking(S, backend=backend)
