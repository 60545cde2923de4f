"""Bad input: exception types and messages, at the public API and at the native boundary."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import InvalidParameterError

import strategies
import vislang
from vislang import InternalError, InvalidInputError, VisualVocabulary, _core

X = np.arange(12.0).reshape(4, 3)


def with_nan(row: int, value: float = np.nan) -> np.ndarray:
    bad = X.copy()
    bad[row, 1] = value
    return bad


def test_exception_hierarchy() -> None:
    assert issubclass(InvalidInputError, ValueError)
    assert issubclass(vislang.CheckpointError, OSError)
    assert issubclass(InternalError, RuntimeError)
    for cls in (InvalidInputError, vislang.CheckpointError, InternalError):
        assert issubclass(cls, vislang.VislangError)


# ----------------------------------------------------------------------- NaN / inf
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize(
    "call",
    [
        lambda A: VisualVocabulary(2, random_state=0).fit(A),
        lambda A: VisualVocabulary(2, algorithm="lloyd").fit(A),
        lambda A: VisualVocabulary(2, batch_size=2, random_state=0).fit(A),
        lambda A: VisualVocabulary(2, random_state=0).partial_fit(A),
        lambda A: vislang.kmeans(A, 2),
        lambda A: vislang.kmeans_plusplus(A, 2),
        lambda A: vislang.assign(A, X[:2]),
    ],
    ids=["fit", "fit-lloyd", "fit-minibatch", "partial_fit", "kmeans", "kmeans++", "assign"],
)
def test_non_finite_names_the_row(call: Any, value: float) -> None:
    with pytest.raises(InvalidInputError, match=r"^X contains NaN or inf at row 3$"):
        call(with_nan(3, value))


@pytest.mark.parametrize("method", ["predict", "transform", "score", "partial_fit"])
def test_non_finite_after_fit(method: str) -> None:
    vocab = VisualVocabulary(2, random_state=0).fit(X)
    with pytest.raises(InvalidInputError, match=r"^X contains NaN or inf at row 2$"):
        getattr(vocab, method)(with_nan(2))


def test_non_finite_centers_init_and_weights() -> None:
    with pytest.raises(InvalidInputError, match=r"^centers contains NaN or inf at row 1$"):
        vislang.assign(X, with_nan(1)[:2])
    with pytest.raises(InvalidInputError, match=r"^init contains NaN or inf at row 1$"):
        VisualVocabulary(2, init=with_nan(1)[:2]).fit(X)
    with pytest.raises(ValueError, match=r"sample_weight contains NaN"):
        VisualVocabulary(2).fit(X, sample_weight=np.array([1.0, np.nan, 1.0, 1.0]))


@given(data=strategies.non_finite())
def test_non_finite_first_bad_row_is_named(data: tuple[np.ndarray, int]) -> None:
    A, row = data
    C = np.zeros((1, A.shape[1]), A.dtype)
    with pytest.raises(InvalidInputError, match=rf"^X contains NaN or inf at row {row}$"):
        vislang.assign(A, C)
    with pytest.raises(InvalidInputError, match=rf"^X contains NaN or inf at row {row}$"):
        VisualVocabulary(1).fit(A)


# ----------------------------------------------------------------------- shapes and dtypes
def test_wrong_ndim() -> None:
    with pytest.raises(
        InvalidInputError, match=r"^X must be 2-D \(n_samples, n_features\), got shape \(3,\)$"
    ):
        vislang.assign(np.arange(3.0), X)
    with pytest.raises(InvalidInputError, match=r"^centers must be 2-D .* got shape \(2, 2, 3\)$"):
        vislang.assign(X, np.zeros((2, 2, 3)))
    with pytest.raises(InvalidInputError, match=r"^X must be 2-D"):
        vislang.kmeans_plusplus(np.arange(3.0), 1)
    # The estimator follows scikit-learn's validation (ValueError with its messages).
    with pytest.raises(ValueError, match=r"Expected 2D array, got 1D array instead"):
        VisualVocabulary(2).fit(np.arange(5.0))
    with pytest.raises(ValueError, match=r"Found array with dim 3"):
        VisualVocabulary(2).fit(np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match=r"Expected 2D array, got 1D array instead"):
        VisualVocabulary(2, random_state=0).fit(X).predict(np.arange(3.0))


def test_object_and_other_dtypes() -> None:
    with pytest.raises(InvalidInputError, match=r"^X must hold numbers, got dtype object$"):
        vislang.assign(X.astype(object), X)
    with pytest.raises(InvalidInputError, match=r"^centers must hold numbers, got dtype <U1$"):
        vislang.assign(X, np.array([["a", "b", "c"]]))
    with pytest.raises(InvalidInputError, match=r"^X must be real, got dtype complex128$"):
        vislang.assign(X.astype(complex), X)
    with pytest.raises(InvalidInputError, match=r"^X must be a dense array, got a sparse matrix$"):
        import scipy.sparse

        vislang.assign(scipy.sparse.csr_matrix(X), X)
    # Estimator: object arrays of numbers are numbers (scikit-learn's contract) ...
    for batch_size in (None, 2):
        a = VisualVocabulary(2, batch_size=batch_size, random_state=0).fit(X.astype(object))
        b = VisualVocabulary(2, batch_size=batch_size, random_state=0).fit(X)
        np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    # ... anything else is refused.
    for batch_size in (None, 2):
        with pytest.raises(ValueError, match=r"could not convert string to float"):
            VisualVocabulary(2, batch_size=batch_size).fit(
                np.array([["a", "b"], ["c", "d"]], dtype=object)
            )


def test_empty_input() -> None:
    for batch_size in (None, 4):
        with pytest.raises(ValueError, match=r"Found array with 0 sample\(s\) \(shape=\(0, 3\)\)"):
            VisualVocabulary(2, batch_size=batch_size).fit(np.zeros((0, 3)))
        with pytest.raises(ValueError, match=r"Found array with 0 feature\(s\) \(shape=\(3, 0\)\)"):
            VisualVocabulary(2, batch_size=batch_size).fit(np.zeros((3, 0)))
    with pytest.raises(InvalidInputError, match=r"^X must be non-empty, got shape \(0, 3\)$"):
        vislang.kmeans_plusplus(np.zeros((0, 3)), 1)
    with pytest.raises(InvalidInputError, match=r"^centers must be non-empty, got shape \(0, 3\)$"):
        vislang.assign(X, np.zeros((0, 3)))


@pytest.mark.parametrize(
    "call",
    [
        lambda A: VisualVocabulary(5).fit(A),
        lambda A: VisualVocabulary(5, init="random", algorithm="lloyd").fit(A),
        lambda A: VisualVocabulary(5, batch_size=2).fit(A),
        lambda A: VisualVocabulary(5).partial_fit(A),
        lambda A: vislang.kmeans(A, 5),
        lambda A: vislang.kmeans_plusplus(A, 5),
    ],
    ids=["fit", "fit-random-lloyd", "fit-minibatch", "partial_fit", "kmeans", "kmeans++"],
)
def test_more_clusters_than_samples(call: Any) -> None:
    with pytest.raises(InvalidInputError, match=r"^n_clusters=5 must be <= n_samples=3$"):
        call(np.zeros((3, 2)))


def test_mismatched_features() -> None:
    with pytest.raises(InvalidInputError, match=r"^X has 3 features, but centers have 2 features$"):
        vislang.assign(X, X[:, :2])
    with pytest.raises(
        InvalidInputError,
        match=r"^init must have shape \(n_clusters=2, n_features=3\), got \(2, 4\)$",
    ):
        VisualVocabulary(2, init=np.zeros((2, 4))).fit(X)
    with pytest.raises(
        InvalidInputError,
        match=r"^init must have shape \(n_clusters=2, n_features=3\), got \(3, 3\)$",
    ):
        VisualVocabulary(2, init=np.zeros((3, 3)), batch_size=2).fit(X)
    vocab = VisualVocabulary(2, random_state=0).fit(X)
    for method in ("predict", "transform", "score", "partial_fit"):
        with pytest.raises(
            ValueError, match=r"X has 4 features, but VisualVocabulary is expecting 3 features"
        ):
            getattr(vocab, method)(np.zeros((2, 4)))


@pytest.mark.parametrize("k", [0, -1, 5, 1.0, True, "1"])
def test_bad_k_in_assign(k: Any) -> None:
    with pytest.raises(
        InvalidInputError, match=rf"^k must be an int in \[1, n_centers=4\], got {k!r}$"
    ):
        vislang.assign(X, X, k=k)


def test_bad_parameters() -> None:
    with pytest.raises(
        InvalidInputError, match=r"^n_jobs must be None, -1 or a positive int, got 0$"
    ):
        vislang.assign(X, X, n_jobs=0)
    with pytest.raises(
        InvalidInputError, match=r"^n_jobs must be None, -1 or a positive int, got 0$"
    ):
        VisualVocabulary(2, n_jobs=0).fit(X)
    with pytest.raises(InvalidInputError, match=r"^n_clusters must be >= 1, got 0$"):
        vislang.kmeans_plusplus(X, 0)
    with pytest.raises(
        InvalidParameterError, match=r"The 'n_clusters' parameter of VisualVocabulary"
    ):
        VisualVocabulary(0).fit(X)
    with pytest.raises(InvalidParameterError, match=r"The 'algorithm' parameter .* Got 'elkan'"):
        VisualVocabulary(2, algorithm="elkan").fit(X)
    with pytest.raises(InvalidParameterError, match=r"The 'init' parameter"):
        VisualVocabulary(2, init="kmeans").fit(X)
    with pytest.raises(InvalidParameterError, match=r"The 'random_state' parameter"):
        VisualVocabulary(2, random_state="seed").fit(X)
    assert issubclass(InvalidParameterError, ValueError)


def test_bad_sample_weight() -> None:
    with pytest.raises(ValueError, match=r"sample_weight.shape == \(3,\), expected \(4,\)"):
        VisualVocabulary(2).fit(X, sample_weight=np.ones(3))
    with pytest.raises(ValueError, match=r"Negative values in data passed to `sample_weight`"):
        VisualVocabulary(2).fit(X, sample_weight=-np.ones(4))
    with pytest.raises(ValueError, match=r"Sample weights must contain at least one non-zero"):
        VisualVocabulary(2).fit(X, sample_weight=np.zeros(4))


def test_not_fitted() -> None:
    for method in ("predict", "transform", "score"):
        with pytest.raises(NotFittedError):
            getattr(VisualVocabulary(2), method)(X)
    with pytest.raises(NotFittedError):
        VisualVocabulary(2).save("never-written.safetensors")


# ----------------------------------------------------------------------- native boundary
# The private bindings are called directly with input the Python layer would have fixed or
# refused: every failure must be an ordinary exception with a message, never a Rust panic
# (pyo3's PanicException derives from BaseException) and never an InternalError.
Xc = np.ascontiguousarray(X)
C2 = np.ascontiguousarray(X[:2])


@pytest.mark.parametrize(
    ("call", "exc", "message"),
    [
        (
            lambda: _core.nearest(np.repeat(Xc, 2, axis=0)[::2], C2),
            InvalidInputError,
            r"^X must be C-contiguous$",
        ),
        (
            lambda: _core.nearest(Xc, np.repeat(C2, 2, axis=0)[::2]),
            InvalidInputError,
            r"^centers must be C-contiguous$",
        ),
        (
            lambda: _core.nearest(with_nan(2), C2),
            InvalidInputError,
            r"^X contains NaN or inf at row 2$",
        ),
        (
            lambda: _core.nearest(Xc, with_nan(1)[:2].copy()),
            InvalidInputError,
            r"^centers contains NaN or inf at row 1$",
        ),
        (
            lambda: _core.nearest(Xc, C2[:, :2].copy()),
            InvalidInputError,
            r"^X has 3 features, expected 2$",
        ),
        (
            lambda: _core.nearest(Xc, C2, 0),
            InvalidInputError,
            r"^k: must be in \[1, n_centers=2\], got 0$",
        ),
        (
            lambda: _core.nearest(Xc, C2, 3),
            InvalidInputError,
            r"^k: must be in \[1, n_centers=2\], got 3$",
        ),
        (lambda: _core.nearest(Xc, C2, -1), OverflowError, r"negative"),
        (
            lambda: _core.nearest(Xc, C2[:0].copy()),
            InvalidInputError,
            r"^centers: must be non-empty, got shape \(0, 3\)$",
        ),
        (
            lambda: _core.nearest(Xc, C2.astype(np.float32)),
            InvalidInputError,
            r"^centers must be a 2-D array of the same dtype as X$",
        ),
        (lambda: _core.nearest(Xc.astype(np.int64), C2), TypeError, r"argument 'x'"),
        (
            lambda: _core.nearest(Xc, C2, n_threads=0),
            InvalidInputError,
            r"^n_threads must be >= 1, got 0$",
        ),
        (
            lambda: _core.kmeans_fit(Xc, 5, init="k-means++"),
            InvalidInputError,
            r"^n_clusters=5 must be <= n_samples=4$",
        ),
        (
            lambda: _core.kmeans_fit(Xc, 0, init="random"),
            InvalidInputError,
            r"^n_clusters: must be >= 1, got 0$",
        ),
        (
            lambda: _core.kmeans_fit(with_nan(3), 2, init="random"),
            InvalidInputError,
            r"^X contains NaN or inf at row 3$",
        ),
        (
            lambda: _core.kmeans_fit(np.repeat(Xc, 2, axis=0)[::2], 2, init="random"),
            InvalidInputError,
            r"^X must be C-contiguous$",
        ),
        (
            lambda: _core.kmeans_fit(Xc[:0].copy(), 1, init="random"),
            InvalidInputError,
            r"^X: must be non-empty, got shape \(0, 3\)$",
        ),
        (
            lambda: _core.kmeans_fit(Xc, 2, init="foo"),
            InvalidInputError,
            r"^init must be 'k-means\+\+', 'random' or an array, got \"foo\"$",
        ),
        (
            lambda: _core.kmeans_fit(Xc, 2, init=C2.astype(np.float32)),
            InvalidInputError,
            r"^init must be a 2-D array of the same dtype as X$",
        ),
        (
            lambda: _core.kmeans_fit(Xc, 2, init=Xc[:3].copy()),
            InvalidInputError,
            r"^init: must have shape \(2, 3\), got \(3, 3\)$",
        ),
        (
            lambda: _core.kmeans_fit(Xc, 2, init=with_nan(1)[:2].copy()),
            InvalidInputError,
            r"^init contains NaN or inf at row 1$",
        ),
        (
            lambda: _core.kmeans_fit(Xc, 2, init="random", algorithm="elkan"),
            InvalidInputError,
            r"^algorithm must be 'lloyd' or 'hamerly', got \"elkan\"$",
        ),
        (
            lambda: _core.kmeans_fit(Xc, 2, init="random", tol=float("nan")),
            InvalidInputError,
            r"^tol must be finite and >= 0, got NaN$",
        ),
        (
            lambda: _core.kmeans_fit(Xc, 2, init="random", sample_weight=np.ones(3)),
            InvalidInputError,
            r"^sample_weight: has length 3, expected 4$",
        ),
        (
            lambda: _core.kmeans_fit(Xc, 2, init="random", sample_weight=np.zeros(4)),
            InvalidInputError,
            r"^sample_weight: must have a positive sum$",
        ),
        (
            lambda: _core.kmeans_fit(Xc, 2, init="random", sample_weight=-np.ones(4)),
            InvalidInputError,
            r"^sample_weight: must be finite and >= 0, got -1.0 at index 0$",
        ),
        (
            lambda: _core.kmeans_plus_plus(Xc, 5),
            InvalidInputError,
            r"^n_clusters=5 must be <= n_samples=4$",
        ),
        (
            lambda: _core.kmeans_plus_plus(with_nan(0), 2),
            InvalidInputError,
            r"^X contains NaN or inf at row 0$",
        ),
        (
            lambda: _core.kmeans_plus_plus(Xc[:0].copy(), 1),
            InvalidInputError,
            r"^X: must be non-empty, got shape \(0, 3\)$",
        ),
        (
            lambda: _core.minibatch_step(Xc, C2, np.zeros(3)),
            InvalidInputError,
            r"^counts has length 3, expected n_clusters=2$",
        ),
        (
            lambda: _core.minibatch_step(Xc, C2, np.array([0.0, -1.0])),
            InvalidInputError,
            r"^counts: must be finite and >= 0, got -1 at 1$",
        ),
        (
            lambda: _core.minibatch_step(Xc, C2[:, :2].copy(), np.zeros(2)),
            InvalidInputError,
            r"^X has 3 features, expected 2$",
        ),
        (
            lambda: _core.minibatch_step(with_nan(2), C2, np.zeros(2)),
            InvalidInputError,
            r"^X contains NaN or inf at row 2$",
        ),
        (
            lambda: _core.minibatch_step(Xc, C2[:0].copy(), np.zeros(0)),
            InvalidInputError,
            r"^centers: must be non-empty, got shape \(0, 3\)$",
        ),
        (
            lambda: _core.minibatch_step(Xc, C2, np.zeros(4)[::2]),
            InvalidInputError,
            r"^counts must be C-contiguous$",
        ),
        (
            lambda: _core.minibatch_step(Xc, C2, np.zeros(2), sample_weight=np.ones(3)),
            InvalidInputError,
            r"^sample_weight: has length 3, expected 4$",
        ),
    ],
)
def test_native_bad_input_raises_cleanly(call: Any, exc: type, message: str) -> None:
    with pytest.raises(exc, match=message):
        call()


def test_native_callback_error_propagates() -> None:
    calls: list[tuple[Any, ...]] = []

    def stop(*info: Any) -> None:
        calls.append(info)
        raise KeyError("stop here")

    with pytest.raises(KeyError, match="stop here"):
        _core.kmeans_fit(Xc, 2, init="random", callback=stop)
    assert len(calls) == 1 and calls[0][:2] == (0, 0)


@given(
    n=st.integers(0, 5),
    d=st.integers(0, 3),
    n_centers=st.integers(0, 5),
    k=st.integers(0, 7),
    n_threads=st.sampled_from([None, 0, 1, 2]),
    dtype=strategies.dtypes,
    poison=st.sampled_from([None, np.nan, np.inf]),
)
def test_native_nearest_never_panics(
    n: int, d: int, n_centers: int, k: int, n_threads: Any, dtype: Any, poison: Any
) -> None:
    A = np.ones((n, d), dtype)
    C = np.zeros((n_centers, d), dtype)
    if poison is not None and A.size:
        A.flat[-1] = poison
    try:
        idx, d2 = _core.nearest(A, C, k, n_threads=n_threads)
    except InvalidInputError:
        return  # an explained refusal
    except BaseException as e:  # a PanicException or InternalError would land here
        pytest.fail(f"unexpected {type(e).__name__}: {e}")
    assert idx.shape == d2.shape == (n, k)
    assert (idx >= 0).all() and (idx < n_centers).all()


@given(
    n=st.integers(0, 6),
    d=st.integers(0, 3),
    n_clusters=st.integers(0, 7),
    init=st.sampled_from(["k-means++", "random", "array"]),
    algorithm=st.sampled_from(["lloyd", "hamerly"]),
    max_iter=st.integers(0, 3),
    n_init=st.integers(0, 2),
    weights=st.sampled_from([None, "zeros", "ones", "short"]),
)
def test_native_kmeans_fit_never_panics(
    n: int,
    d: int,
    n_clusters: int,
    init: str,
    algorithm: str,
    max_iter: int,
    n_init: int,
    weights: Any,
) -> None:
    A = np.arange(n * d, dtype=np.float64).reshape(n, d) % 3
    init_arg: Any = np.zeros((n_clusters, d)) if init == "array" else init
    sw = {None: None, "zeros": np.zeros(n), "ones": np.ones(n), "short": np.ones(max(n - 1, 0))}[
        weights
    ]
    try:
        centers, labels, inertia, n_iter, _ = _core.kmeans_fit(
            A,
            n_clusters,
            init=init_arg,
            sample_weight=sw,
            max_iter=max_iter,
            n_init=n_init,
            algorithm=algorithm,
            seed=1,
        )
    except InvalidInputError:
        return
    except BaseException as e:
        pytest.fail(f"unexpected {type(e).__name__}: {e}")
    assert centers.shape == (n_clusters, d)
    assert labels.shape == (n,) and ((labels >= 0) & (labels < n_clusters)).all()
    assert np.isfinite(inertia) and 0 <= n_iter <= max_iter


def test_inf_minus_inf_is_reported_without_warnings() -> None:
    # The quick finiteness test sums X; an inf - inf sum must not warn (warnings are errors in
    # this suite) and the first bad row must still be named.
    mixed = np.array([[1.0], [np.inf], [-np.inf]])
    for batch_size in (None, 3):
        with pytest.raises(InvalidInputError, match=r"^X contains NaN or inf at row 1$"):
            VisualVocabulary(1, batch_size=batch_size).fit(mixed)
    with pytest.raises(InvalidInputError, match=r"^X contains NaN or inf at row 1$"):
        vislang.kmeans_plusplus(mixed, 1)
