"""``vislang.encode`` on extreme magnitudes: the reference result or a clear error, never
inf/NaN (issue 11)."""

from __future__ import annotations

from typing import Any

import bovw_reference as ref
import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import given, settings

import vislang
from strategies import huge_scales
from vislang.exceptions import InvalidInputError


@settings(max_examples=60, deadline=None)
@given(data=st.data(), encoding=st.sampled_from(["hard", "soft", "vlad"]))
def test_encode_any_magnitude(data: Any, encoding: str) -> None:
    scale = data.draw(huge_scales(np.float32))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    d = data.draw(st.integers(1, 4))
    n_words = data.draw(st.integers(1, 5))
    # Distinct centres on a grid; descriptors between them (no exact ties).
    scale /= 128.0  # grid values stay below 128: entries are finite float32
    C = (np.arange(n_words * d).reshape(n_words, d) * 4.0 * scale).astype(np.float32)
    descs = [
        ((rng.integers(0, 4 * n_words * d, size=(m, d)) + 0.25) * scale).astype(np.float32)
        for m in (data.draw(st.integers(1, 20)), data.draw(st.integers(1, 20)))
    ]
    kw = {"encoding": encoding, "k": min(2, n_words), "norm": "l2"}
    try:
        got = vislang.encode(descs, C, **kw)
    except InvalidInputError as e:
        assert "overflow float32" in str(e)
        with np.errstate(over="ignore"):
            big = max(float((a.astype(np.float64) ** 2).sum(axis=1).max()) for a in [*descs, C])
        assert big > 0.1 * float(np.finfo(np.float32).max)
        return
    assert np.isfinite(got).all()
    want, _ = ref.encode([a.astype(np.float64) for a in descs], C.astype(np.float64), **kw)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("encoding", ["hard", "soft", "vlad"])
def test_encode_refuses_overflowing_descriptors(encoding: str) -> None:
    # Soft assignment returned NaN here before (inf distances).
    rng = np.random.default_rng(0)
    X = (rng.normal(size=(50, 8)) * 1e19).astype(np.float32)
    C = (rng.normal(size=(6, 8)) * 1e19).astype(np.float32)
    with pytest.raises(InvalidInputError, match=r"descriptors has values up to .*e\+19"):
        vislang.encode([X[:20], X[20:]], C, encoding=encoding)
