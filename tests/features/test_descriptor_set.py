"""DescriptorSet: CSR invariants, indexing, concat and save/load, by property tests."""

from __future__ import annotations

import os
import tempfile
from typing import Any

import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import given, settings

from vislang.exceptions import CheckpointError, InvalidInputError
from vislang.features import DescriptorSet, ImageFeatures

# Example counts come from the HYPOTHESIS_PROFILE loaded in tests/conftest.py.
SETTINGS = settings(deadline=None)


@st.composite
def image_lists(draw: Any) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
    """Per-image descriptors (with empty images), keypoints and sizes."""
    n_images = draw(st.integers(0, 6))
    d = draw(st.integers(1, 5))
    uint8 = draw(st.booleans())
    counts = draw(st.lists(st.integers(0, 4), min_size=n_images, max_size=n_images))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    if uint8:
        descs = [rng.integers(0, 256, (c, d)).astype(np.uint8) for c in counts]
    else:
        descs = [rng.normal(size=(c, d)).astype(np.float32) for c in counts]
    kps = [rng.uniform(0, 100, (c, 3)).astype(np.float32) for c in counts]
    sizes = rng.integers(0, 500, (n_images, 2))
    return descs, kps, sizes


def _check_invariants(ds: DescriptorSet) -> None:
    off = ds.offsets
    assert off.dtype == np.int64 and off.shape == (ds.n_images + 1,)
    assert off[0] == 0 and off[-1] == ds.n_descriptors
    assert (np.diff(off) >= 0).all()
    assert ds.counts.sum() == ds.n_descriptors
    assert len(ds) == ds.n_images
    assert ds.dtype in (np.float32, np.uint8)
    assert ds.image_ids.shape == (ds.n_descriptors,)
    if ds.keypoints is not None:
        assert ds.keypoints.shape == (ds.n_descriptors, 3) and ds.keypoints.dtype == np.float32


def _assert_same(a: DescriptorSet, b: DescriptorSet) -> None:
    np.testing.assert_array_equal(a.descriptors, b.descriptors)
    assert a.dtype == b.dtype and a.n_dims == b.n_dims
    np.testing.assert_array_equal(a.offsets, b.offsets)
    for x, y in ((a.keypoints, b.keypoints), (a.image_sizes, b.image_sizes)):
        assert (x is None) == (y is None)
        if x is not None:
            np.testing.assert_array_equal(x, y)


@SETTINGS
@given(image_lists())
def test_from_list_indexing_and_iteration(data: Any) -> None:
    descs, kps, sizes = data
    ds = DescriptorSet.from_list(descs, kps, sizes, n_dims=descs[0].shape[1] if descs else 3)
    _check_invariants(ds)
    assert ds.counts.tolist() == [len(d) for d in descs]
    for i, feats in enumerate(ds):
        assert isinstance(feats, ImageFeatures)
        np.testing.assert_array_equal(feats.descriptors, descs[i])
        np.testing.assert_array_equal(feats.keypoints, kps[i])
        assert feats.image_size == tuple(sizes[i])
        assert np.shares_memory(feats.descriptors, ds.descriptors) or len(descs[i]) == 0
    np.testing.assert_array_equal(ds.image_ids, np.repeat(np.arange(len(descs)), ds.counts))
    # list(ds) carries keypoints and sizes, so from_list(list(ds)) is the identity
    if len(ds):
        _assert_same(DescriptorSet.from_list(list(ds)), ds)
        np.testing.assert_array_equal(ds[-1].descriptors, descs[-1])


@SETTINGS
@given(image_lists(), st.data())
def test_subsets_and_concat_round_trip(data: Any, pick: Any) -> None:
    descs, kps, sizes = data
    ds = DescriptorSet.from_list(descs, kps, sizes, n_dims=descs[0].shape[1] if descs else 2)
    cut = pick.draw(st.integers(0, len(ds)))
    left, right = ds[:cut], ds[cut:]
    _check_invariants(left)
    _check_invariants(right)
    _assert_same(DescriptorSet.concat([left, right]), ds)
    idx = pick.draw(st.lists(st.integers(0, max(len(ds) - 1, 0)), max_size=len(ds) * 2))
    if len(ds):
        sub = ds[np.array(idx, dtype=np.int64)]
        _check_invariants(sub)
        for j, i in enumerate(idx):
            np.testing.assert_array_equal(sub[j].descriptors, descs[i])
            np.testing.assert_array_equal(sub[j].keypoints, kps[i])
        mask = np.zeros(len(ds), bool)
        mask[idx] = True
        _assert_same(ds[mask], ds[np.flatnonzero(mask)])


@SETTINGS
@given(image_lists(), st.sampled_from(["x.safetensors", "x.npz"]), st.booleans())
def test_save_load_round_trip(data: Any, name: str, with_extras: bool) -> None:
    descs, kps, sizes = data
    n_dims = descs[0].shape[1] if descs else 4
    if with_extras:
        ds = DescriptorSet.from_list(descs, kps, sizes, n_dims=n_dims)
    else:
        ds = DescriptorSet.from_list(descs, n_dims=n_dims)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, name)
        ds.save(path)
        _assert_same(DescriptorSet.load(path), ds)


def test_constructor_accepts_own_arrays_and_keeps_float32() -> None:
    x = np.arange(12, dtype=np.float32).reshape(6, 2)
    ds = DescriptorSet(x, [0, 2, 2, 6])
    assert ds.descriptors is x  # C-contiguous float32: no copy
    assert ds.counts.tolist() == [2, 0, 4]
    assert DescriptorSet(x.astype(np.float64), [0, 6]).dtype == np.float32
    assert DescriptorSet(x.astype(np.uint8), [0, 6]).dtype == np.uint8
    with pytest.raises(ValueError, match="read-only"):
        ds.offsets[0] = 1
    assert "n_images=3" in repr(ds)


@pytest.mark.parametrize(
    ("offsets", "match"),
    [
        ([1, 3], r"offsets must start at 0, got offsets\[0\]=1"),
        ([0, 2, 1, 3], r"non-decreasing, got offsets\[1\]=2 > offsets\[2\]=1"),
        ([0, 2], r"must end at n_descriptors=3, got offsets\[-1\]=2"),
        ([0.0, 3.0], r"offsets must hold integers"),
        ([[0, 3]], r"offsets must be 1-D"),
        ([], r"length n_images \+ 1 >= 1"),
    ],
)
def test_invalid_offsets(offsets: Any, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        DescriptorSet(np.zeros((3, 2)), np.array(offsets))


def test_invalid_arrays() -> None:
    with pytest.raises(InvalidInputError, match=r"descriptors must be 2-D"):
        DescriptorSet(np.zeros(3), [0, 3])
    bad = np.zeros((3, 2))
    bad[1, 0] = np.nan
    with pytest.raises(InvalidInputError, match=r"NaN or inf at row 1"):
        DescriptorSet(bad, [0, 3])
    with pytest.raises(InvalidInputError, match=r"keypoints must have shape \(n_descriptors, 3\)"):
        DescriptorSet(np.zeros((3, 2)), [0, 3], keypoints=np.zeros((3, 2)))
    with pytest.raises(InvalidInputError, match=r"image_sizes must have shape \(n_images, 2\)"):
        DescriptorSet(np.zeros((3, 2)), [0, 1, 3], image_sizes=np.zeros((3, 2), int))
    with pytest.raises(InvalidInputError, match=r"descriptors disagree on n_dims: \[2, 3\]"):
        DescriptorSet.from_list([np.zeros((1, 2)), np.zeros((1, 3))])
    with pytest.raises(InvalidInputError, match=r"keypoints\[0\] must have shape \(1, 3\)"):
        DescriptorSet.from_list([np.zeros((1, 2))], [np.zeros((2, 3))])


def test_concat_checks() -> None:
    a = DescriptorSet.from_list([np.ones((1, 2))], [np.zeros((1, 3))])
    b = DescriptorSet.from_list([np.ones((1, 2))])
    with pytest.raises(InvalidInputError, match=r"sets\[0\] has keypoints but sets\[1\] has none"):
        DescriptorSet.concat([a, b])
    with pytest.raises(InvalidInputError, match=r"n_dims=3"):
        DescriptorSet.concat([b, DescriptorSet.from_list([np.ones((1, 3))])])
    with pytest.raises(InvalidInputError, match="at least one"):
        DescriptorSet.concat([])


def test_empty_images_and_empty_set() -> None:
    ds = DescriptorSet.from_list([[], np.empty((0, 5)), np.empty(0)])
    assert ds.counts.tolist() == [0, 0, 0] and ds.n_dims == 5
    assert DescriptorSet.from_list([]).n_images == 0
    with pytest.raises(IndexError, match="out of range"):
        ds[3]


def test_load_errors_name_the_file(tmp_path: Any) -> None:
    missing = tmp_path / "nope.safetensors"
    with pytest.raises(CheckpointError, match=f"not found: {missing}"):
        DescriptorSet.load(missing)
    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(b"\x00garbage" * 10)
    with pytest.raises(CheckpointError, match=f"cannot read descriptor set file {corrupt}"):
        DescriptorSet.load(corrupt)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, meta=np.array('{"format": "something else"}'), x=np.zeros(3))
    with pytest.raises(CheckpointError, match=f"{foreign} is not a vislang descriptor set"):
        DescriptorSet.load(foreign)
    with pytest.raises(CheckpointError, match="cannot write descriptor set file"):
        DescriptorSet.from_list([np.ones((1, 2))]).save(tmp_path / "no" / "dir.safetensors")


def test_sklearn_safe_indexing_keeps_keypoints() -> None:
    """CV splitters index X with _safe_indexing: a list of ImageFeatures that from_list rebuilds."""
    from sklearn.utils import _safe_indexing

    ds = DescriptorSet.from_list(
        [np.ones((2, 3)), np.zeros((0, 3)), np.full((1, 3), 2.0)],
        [np.zeros((2, 3)), np.zeros((0, 3)), np.ones((1, 3))],
        [[4, 4], [5, 5], [6, 6]],
    )
    part = _safe_indexing(ds, np.array([2, 0]))
    _assert_same(DescriptorSet.from_list(part), ds[[2, 0]])


def test_pickle_round_trip() -> None:
    import pickle

    ds = DescriptorSet.from_list([np.ones((2, 3)), []], [np.zeros((2, 3)), []], [[1, 2], [3, 4]])
    back = pickle.loads(pickle.dumps(ds))
    _assert_same(back, ds)
    assert not back.offsets.flags.writeable
