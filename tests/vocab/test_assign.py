"""``vislang.assign`` against the brute-force NumPy oracle (ties included)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import reference
import strategies
import vislang


@given(case=strategies.assign_cases())
def test_assign_equals_brute_force(case: strategies.AssignCase) -> None:
    idx, d2 = vislang.assign(case.X, case.centers, k=case.k)
    ref_idx, ref_d2 = reference.k_nearest(case.X, case.centers, case.k)
    assert idx.dtype == np.int64
    assert d2.dtype == case.X.dtype
    assert idx.shape == d2.shape == (len(case.X), case.k)
    np.testing.assert_array_equal(idx, ref_idx)
    # Integer-valued data: squared distances are exact in both dtypes.
    np.testing.assert_array_equal(d2, ref_d2.astype(case.X.dtype))


@given(case=strategies.assign_cases(), n_jobs=st.sampled_from([1, 2]))
def test_assign_same_for_any_thread_count(case: strategies.AssignCase, n_jobs: int) -> None:
    a = vislang.assign(case.X, case.centers, k=case.k, n_jobs=n_jobs)
    b = vislang.assign(case.X, case.centers, k=case.k, n_jobs=1)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_ties_go_to_lower_index() -> None:
    # Every centre is at distance 1 from the origin: all four tie.
    centers = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])
    X = np.zeros((3, 2))
    idx, d2 = vislang.assign(X, centers, k=3)
    np.testing.assert_array_equal(idx, [[0, 1, 2]] * 3)
    np.testing.assert_array_equal(d2, np.ones((3, 3)))
    # Duplicate centres: the first copy wins.
    idx, _ = vislang.assign(np.array([[5.0]]), np.array([[1.0], [5.0], [5.0]]), k=2)
    np.testing.assert_array_equal(idx, [[1, 2]])


@pytest.mark.parametrize("dtype", strategies.FLOATS)
def test_assign_real_valued_close_to_reference(dtype: type, blobs_factory) -> None:
    # More rows and centres than one 256-row block / 512-centre tile, real-valued data.
    rng = np.random.default_rng(0)
    X = blobs_factory(700, 16, 5, dtype=dtype)
    C = np.ascontiguousarray(X[rng.choice(700, 600, replace=False)] + 0.25, dtype=dtype)
    idx, d2 = vislang.assign(X, C, k=3)
    D = reference.sq_distances(X, C)
    got = np.take_along_axis(D, idx, axis=1)
    # Returned distances are the exact distances of the returned centres ...
    np.testing.assert_allclose(d2, got, rtol=1e-5 if dtype == np.float32 else 1e-12)
    # ... and those are the k smallest (up to rounding of near-ties).
    best = np.sort(D, axis=1)[:, :3]
    np.testing.assert_allclose(got, best, rtol=1e-4 if dtype == np.float32 else 1e-10)
    assert (np.diff(d2, axis=1) >= 0).all()


def test_assign_keeps_float32_and_casts_others() -> None:
    C = np.array([[0.0, 0.0], [3.0, 4.0]])
    _, d32 = vislang.assign(np.zeros((1, 2), np.float32), C)
    assert d32.dtype == np.float32
    idx, d_int = vislang.assign(np.array([[3, 4]], dtype=np.int32), C)
    assert d_int.dtype == np.float64
    assert idx.tolist() == [[1]] and d_int.tolist() == [[0.0]]


def test_assign_non_contiguous_input_is_copied() -> None:
    rng = np.random.default_rng(1)
    X = rng.integers(-3, 4, (40, 6)).astype(np.float64)
    C = rng.integers(-3, 4, (5, 6)).astype(np.float64)
    Xf, Cf = np.asfortranarray(X), np.asfortranarray(C)
    assert not Xf.flags.c_contiguous and not Cf.flags.c_contiguous
    expected = vislang.assign(X, C, k=2)
    for a, b in ((X[::1], C), (Xf, C), (X, Cf), (np.repeat(X, 2, axis=0)[::2], C)):
        idx, d2 = vislang.assign(a, b, k=2)
        np.testing.assert_array_equal(idx, expected[0])
        np.testing.assert_array_equal(d2, expected[1])


def test_assign_zero_rows() -> None:
    idx, d2 = vislang.assign(np.zeros((0, 3)), np.ones((4, 3)), k=2)
    assert idx.shape == d2.shape == (0, 2)


# --- precision="auto" (bfloat16 candidates, exact re-check) against precision="fp32" ---------


def _chunked_k_nearest(X: np.ndarray, C: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``reference.k_nearest`` in row chunks (keeps the n x k x d float64 array small)."""
    parts = [reference.k_nearest(X[i : i + 32], C, k) for i in range(0, len(X), 32)]
    if not parts:
        return np.zeros((0, k), np.int64), np.zeros((0, k))
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _precision_data(kind: str, n: int, nc: int, d: int, seed: int) -> tuple[np.ndarray, ...]:
    """float32 rows and centres of one kind (see the test below)."""
    rng = np.random.default_rng(seed)
    if kind == "sift":
        # Small integers from a coarse alphabet: exact distances, many ties, duplicates.
        C = (rng.integers(0, 5, (nc, d)) * 63).astype(np.float32)
        X = (rng.integers(0, 5, (n, d)) * 63).astype(np.float32)
        if nc > 1:
            C[-1] = C[0]  # duplicated centre: the lower index must win
        X[: min(n, nc)] = C[: min(n, nc)]  # rows on centres: distance 0
    elif kind == "gauss":
        C = rng.standard_normal((nc, d)).astype(np.float32)
        X = rng.standard_normal((n, d)).astype(np.float32)
    elif kind == "far":
        C = (1e4 + rng.standard_normal((nc, d))).astype(np.float32)
        X = (1e4 + rng.standard_normal((n, d))).astype(np.float32)
    elif kind == "means":
        # SIFT-like integer rows (exact in bfloat16) and centres that are noisy means (not).
        X = rng.integers(0, 256, (n, d)).astype(np.float32)
        C = (rng.integers(0, 256, (nc, d)) + rng.uniform(-0.5, 0.5, (nc, d))).astype(np.float32)
        if nc > 1:
            C[-1] = C[0]
        X[: min(n, nc)] = np.round(C[: min(n, nc)])
    elif kind == "root":
        # RootSIFT-like: square roots of integers, inexact in bfloat16 on both sides.
        X = np.sqrt(rng.integers(0, 256, (n, d))).astype(np.float32)
        C = np.sqrt(rng.integers(0, 256, (nc, d)) + rng.uniform(0, 1, (nc, d))).astype(np.float32)
    else:  # "scaled": integers times an extreme power of two (exact, no overflow)
        scale = np.float32(2.0 ** int(rng.integers(-40, 41)))
        C = rng.integers(-4, 5, (nc, d)).astype(np.float32) * scale
        X = rng.integers(-4, 5, (n, d)).astype(np.float32) * scale
    return X, C


@given(
    kind=st.sampled_from(["sift", "gauss", "far", "scaled", "means", "root"]),
    n=st.integers(0, 40),
    nc=st.integers(1, 40),
    d=st.integers(1, 40),
    k=st.integers(1, 8),
    seed=st.integers(0, 2**32 - 1),
)
def test_auto_precision_equals_fp32_and_oracle(
    kind: str, n: int, nc: int, d: int, k: int, seed: int
) -> None:
    k = min(k, nc)
    X, C = _precision_data(kind, n, nc, d, seed)
    idx, d2 = vislang.assign(X, C, k=k, precision="auto")
    idx32, d232 = vislang.assign(X, C, k=k, precision="fp32")
    # Bit-identical to the fp32 path: same neighbours, same exact distances.
    np.testing.assert_array_equal(idx, idx32)
    np.testing.assert_array_equal(d2, d232)
    ref_idx, ref_d2 = reference.k_nearest(X, C, k)
    if kind in ("sift", "scaled"):  # exact in float32: equal to the float64 oracle
        np.testing.assert_array_equal(idx, ref_idx)
        np.testing.assert_array_equal(d2, ref_d2.astype(np.float32))
    else:  # the k smallest up to float32 rounding of near-ties
        np.testing.assert_allclose(d2, ref_d2, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize(("d", "k"), [(128, 1), (128, 5), (37, 1), (37, 4)])
def test_auto_precision_equals_fp32_across_blocks_and_tiles(d: int, k: int) -> None:
    # 600 rows: three row blocks, the last partial; 1100 centres: two centre tiles, the last
    # ending inside a 16-centre group. SIFT-like clustered integers with exact ties.
    rng = np.random.default_rng(d * 10 + k)
    modes = rng.integers(0, 120, (40, d))
    C = np.clip(modes[rng.integers(0, 40, 1100)] + rng.integers(-20, 21, (1100, d)), 0, 255)
    X = np.clip(modes[rng.integers(0, 40, 600)] + rng.integers(-20, 21, (600, d)), 0, 255)
    C, X = C.astype(np.float32), X.astype(np.float32)
    C[1050] = C[3]
    X[:5] = C[3]
    idx, d2 = vislang.assign(X, C, k=k)
    idx32, d232 = vislang.assign(X, C, k=k, precision="fp32")
    np.testing.assert_array_equal(idx, idx32)
    np.testing.assert_array_equal(d2, d232)
    ref_idx, ref_d2 = _chunked_k_nearest(X, C, k)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_array_equal(d2, ref_d2.astype(np.float32))
    assert idx[0, 0] == 3  # the duplicate centre 1050 loses the tie


@pytest.mark.parametrize(
    ("kind", "d", "k"), [("means", 128, 5), ("means", 37, 8), ("root", 33, 17)]
)
def test_auto_precision_equals_fp32_with_inexact_centres_across_tiles(
    kind: str, d: int, k: int
) -> None:
    # k-means-like centres (not representable in bfloat16, so their rounding error enters the
    # bound) over two centre tiles; k = 17 is above the 16 lane minima of the kernel.
    X, C = _precision_data(kind, 300, 1100, d, seed=d + k)
    idx, d2 = vislang.assign(X, C, k=k)
    idx32, d232 = vislang.assign(X, C, k=k, precision="fp32")
    np.testing.assert_array_equal(idx, idx32)
    np.testing.assert_array_equal(d2, d232)
    ref_idx, ref_d2 = _chunked_k_nearest(X, C, k)
    np.testing.assert_allclose(d2, ref_d2, rtol=1e-5)
    # Neighbours agree with the float64 oracle except at float32 near-ties.
    assert (idx == ref_idx).mean() > 0.99


def test_k_above_n_centers_is_an_error() -> None:
    X = np.zeros((3, 4), np.float32)
    for precision in ("auto", "fp32"):
        with pytest.raises(vislang.exceptions.InvalidInputError, match="k"):
            vislang.assign(X, X[:2], k=3, precision=precision)


def test_precision_option_is_checked() -> None:
    X = np.zeros((2, 3), np.float32)
    with pytest.raises(vislang.exceptions.InvalidInputError, match="precision must be"):
        vislang.assign(X, X, precision="bf16")
    # float64 data accept both (the bfloat16 path is for float32 only) and agree.
    Xd = np.arange(12.0).reshape(4, 3)
    a, b = vislang.assign(Xd, Xd[::-1], k=2), vislang.assign(Xd, Xd[::-1], k=2, precision="fp32")
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
