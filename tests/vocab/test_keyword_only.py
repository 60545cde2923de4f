"""Options of ``vislang.assign`` and ``vislang.encode`` are keyword-only; positional use keeps
working for one release with a DeprecationWarning that names the keywords to write."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import vislang

X = np.array([[0.0], [2.9], [5.0]])
C = np.array([[0.0], [3.0], [5.5]])
DESCRIPTORS = [np.array([[0.0], [0.1], [5.0]]), np.array([[4.9]])]


@pytest.mark.parametrize(
    ("func", "n_positional"), [(vislang.assign, 2), (vislang.encode, 2)], ids=["assign", "encode"]
)
def test_signature_is_keyword_only(func: object, n_positional: int) -> None:
    params = list(inspect.signature(func).parameters.values())  # type: ignore[arg-type]
    assert [p.kind for p in params[:n_positional]] == [params[0].POSITIONAL_OR_KEYWORD] * 2
    assert all(p.kind == p.KEYWORD_ONLY for p in params[n_positional:])


def test_assign_positional_options_warn_and_still_work() -> None:
    expected = vislang.assign(X, C, k=2, n_jobs=1)
    with pytest.warns(DeprecationWarning, match=r"Pass k=2, n_jobs=1 as keyword arguments"):
        got = vislang.assign(X, C, 2, 1)
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_array_equal(a, b)


def test_encode_positional_options_warn_and_still_work() -> None:
    expected = vislang.encode(DESCRIPTORS, C, encoding="soft", k=2, sigma=1.0, norm=None)
    with pytest.warns(DeprecationWarning, match=r"Pass encoding='soft', k=2, sigma=1\.0 as"):
        got = vislang.encode(DESCRIPTORS, C, "soft", 2, 1.0, norm=None)
    np.testing.assert_array_equal(got, expected)


def test_keyword_use_does_not_warn() -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        vislang.assign(X, C, k=1)
        vislang.encode(DESCRIPTORS, C, encoding="hard")


def test_positional_and_keyword_together_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="multiple values for argument 'k'"):
        vislang.assign(X, C, 2, k=2)
    with pytest.raises(TypeError, match="takes 2 positional arguments but 6 were given"):
        vislang.assign(X, C, 1, None, "auto", 7)
