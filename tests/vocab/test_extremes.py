"""k-means on extreme magnitudes: a clear error or a finite result, never a hang (issue 11)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.exceptions import ConvergenceWarning

import reference
import vislang
from strategies import huge_scales
from vislang import _core
from vislang.exceptions import InvalidInputError
from vislang.vocab.kmeans import _check_result


def _normal(scale: float, dtype: Any, n: int = 1000, d: int = 16) -> np.ndarray:
    rng = np.random.default_rng(0)
    return (rng.normal(size=(n, d)) * scale).astype(dtype)


def test_overflowing_data_neither_hangs_nor_returns_inf() -> None:
    # Before the fix this spun forever in k-means++ (inf distances rejected every candidate):
    # a subprocess with a timeout turns a regression into a failure instead of a hung suite.
    code = textwrap.dedent(
        """
        import numpy as np, vislang
        from vislang.exceptions import InvalidInputError
        rng = np.random.default_rng(0)
        cases = [(np.float32, s) for s in (1e19, 1e22, 1e25)] + [(np.float64, 1e160)]
        for dtype, scale in cases:
            X = (rng.normal(size=(1000, 16)) * scale).astype(dtype)
            for algorithm in ("lloyd", "hamerly", "auto"):
                for init in ("k-means++", "random"):
                    for init_size in ("auto", "all"):
                        try:
                            vislang.VisualVocabulary(
                                8, algorithm=algorithm, init=init, init_size=init_size
                            ).fit(X)
                        except InvalidInputError as e:
                            assert "overflow" in str(e), e
                        else:
                            raise SystemExit(f"no error at {scale} {algorithm} {init}")
        print("ok")
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


@pytest.mark.parametrize(
    ("dtype", "scale", "shown"),
    [(np.float32, 1e19, "e19"), (np.float32, 1e25, "e25"), (np.float64, 1e160, "e160")],
)
@pytest.mark.parametrize("init", ["k-means++", "random"])
def test_error_names_the_scale_and_dtype(dtype: Any, scale: float, shown: str, init: str) -> None:
    X = _normal(scale, dtype)
    with pytest.raises(InvalidInputError, match="overflow") as e:
        vislang.VisualVocabulary(8, init=init, random_state=0).fit(X)
    assert shown in str(e.value)
    assert "rescale" in str(e.value)
    if dtype == np.float32:
        assert "float32" in str(e.value)


def test_large_but_safe_values_still_fit() -> None:
    X = _normal(1e18, np.float32)
    vocab = vislang.VisualVocabulary(8, random_state=0).fit(X)
    assert np.isfinite(vocab.inertia_) and np.isfinite(vocab.cluster_centers_).all()
    # Rescaled data gives the same clustering (powers of two scale exactly).
    small = vislang.VisualVocabulary(8, random_state=0).fit(X * np.float32(2.0**-60))
    np.testing.assert_array_equal(vocab.labels_, small.labels_)


def test_native_entry_points_refuse_overflow() -> None:
    X = _normal(1e19, np.float32, n=200)
    with pytest.raises(InvalidInputError, match="overflow float32"):
        _core.kmeans_plus_plus(X, 4)
    with pytest.raises(InvalidInputError, match="overflow float32"):
        _core.kmeans_fit(X, 4, init="random")
    with pytest.raises(InvalidInputError, match="overflow float32"):
        _core.kmeans_fit(X / np.float32(1e10), 4, init=np.ascontiguousarray(X[:4]))
    with pytest.raises(InvalidInputError, match="overflow float32"):
        _core.minibatch_step(X, np.ascontiguousarray(X[:4]), np.zeros(4))
    with pytest.raises(InvalidInputError, match="overflow float32"):
        vislang.assign(X, np.ascontiguousarray(X[:4]))


def test_minibatch_and_predict_refuse_overflow() -> None:
    X = _normal(1e19, np.float32)
    with pytest.raises(InvalidInputError, match="overflow"):
        vislang.VisualVocabulary(8, batch_size=100, random_state=0).fit(X)
    vocab = vislang.VisualVocabulary(8, random_state=0).fit(_normal(1.0, np.float32))
    with pytest.raises(InvalidInputError, match="overflow"):
        vocab.predict(X)


def test_sum_of_distances_overflowing_float64_is_refused() -> None:
    # Each squared distance fits float64, their sum over the rows does not.
    X = np.zeros((64, 1))
    X[::2] = 1e153
    with pytest.raises(InvalidInputError, match="sum of squared distances overflows float64"):
        vislang.VisualVocabulary(2, random_state=0).fit(X)


@settings(max_examples=40, deadline=None)
@given(data=st.data(), dtype=st.sampled_from([np.float32, np.float64]))
def test_any_magnitude_gives_reference_result_or_clear_error(data: Any, dtype: Any) -> None:
    scale = data.draw(huge_scales(dtype))
    n = data.draw(st.integers(4, 60))
    k = data.draw(st.integers(1, 4))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    X = (rng.integers(-4, 5, size=(n, 3)) * scale).astype(dtype)
    algorithm = data.draw(st.sampled_from(["lloyd", "hamerly"]))
    vocab = vislang.VisualVocabulary(k, algorithm=algorithm, random_state=0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            vocab.fit(X)
    except InvalidInputError as e:
        assert "overflow" in str(e)
        # Refused only when the squared distances really come near the dtype's range.
        with np.errstate(over="ignore"):
            big = 4 * float(np.max(np.sum(X.astype(np.float64) ** 2, axis=1)))
        fmax = float(np.finfo(np.float64).max)
        assert big > 0.1 * float(np.finfo(dtype).max) or big * n > 0.1 * fmax
        return
    assert np.isfinite(vocab.inertia_)
    assert np.isfinite(vocab.cluster_centers_).all()
    expected = reference.inertia(X.astype(np.float64), vocab.cluster_centers_.astype(np.float64))
    assert vocab.inertia_ == pytest.approx(expected, rel=1e-3)
    idx, d2 = vislang.assign(X, vocab.cluster_centers_)
    assert np.isfinite(d2).all()
    np.testing.assert_array_equal(idx[:, 0], vocab.predict(X))


def test_fewer_distinct_points_than_clusters_warns_at_the_call_site() -> None:
    X = np.repeat(np.array([[0.0, 0.0], [1.0, 1.0], [5.0, 5.0]]), 10, axis=0)
    with pytest.warns(
        ConvergenceWarning, match=r"distinct clusters \(3\) found smaller than n_clusters \(5\)"
    ) as rec:
        vislang.VisualVocabulary(5, random_state=0).fit(X)
    assert rec[0].filename == __file__
    with pytest.warns(ConvergenceWarning) as rec:
        vislang.kmeans(X, 4, random_state=0)
    assert rec[0].filename == __file__
    with pytest.warns(ConvergenceWarning) as rec:
        vislang.VisualVocabulary(5, batch_size=8, random_state=0).fit(X)
    assert rec[0].filename == __file__
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        vislang.VisualVocabulary(3, random_state=0).fit(X)


def test_non_finite_inertia_warns_at_the_call_site() -> None:
    with pytest.warns(RuntimeWarning, match="inertia is inf") as rec:
        _check_result(np.eye(2), np.array([0, 1]), 2, float("inf"))
    assert rec[0].filename == __file__
