"""Skip-gram with extreme learning rates: finite vectors or a clear error (issue 11)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vislang.exceptions import InvalidInputError
from vislang.semantics.skipgram import SkipGram

CORPUS = [["a", "b", "c", "d", "a", "b"] * 5, ["c", "d", "e", "a"] * 5] * 10


def _fit(alpha: float) -> SkipGram:
    model = SkipGram(vector_size=8, min_count=1, alpha=alpha, min_alpha=0.0, epochs=2, seed=0)
    return model.fit(CORPUS)


@settings(max_examples=25, deadline=None)
@given(exponent=st.integers(-12, 308))
def test_any_learning_rate_gives_finite_vectors_or_a_clear_error(exponent: int) -> None:
    try:
        model = _fit(10.0**exponent)
    except InvalidInputError as e:
        assert "diverged" in str(e) or "float32" in str(e)
        return
    assert np.isfinite(model.wv.vectors).all()
    assert np.isfinite(model.syn1neg_).all()


def test_divergence_is_named() -> None:
    # Before: "vectors contains NaN or inf at row 0" (from the WordVectors constructor).
    with pytest.raises(InvalidInputError, match=r"training diverged.*alpha=1000.0"):
        _fit(1e3)
    # Before: "alpha: must be > 0, got inf" for a finite alpha.
    with pytest.raises(InvalidInputError, match=r"alpha must be a float32 number"):
        _fit(1e300)
