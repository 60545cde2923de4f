"""DescriptorSet image names (kept by indexing, concat, pickling, save/load) and skip warnings
that point at the caller's code."""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest

from vislang.exceptions import InvalidInputError
from vislang.features import DescriptorSet


def _set() -> DescriptorSet:
    return DescriptorSet.from_list(
        [np.ones((2, 3)), np.zeros((0, 3)), np.full((1, 3), 2.0)],
        image_sizes=[(4, 5), (0, 0), (6, 7)],
        names=["a.jpg", "b.jpg", "c.jpg"],
    )


@pytest.mark.parametrize("suffix", [".safetensors", ".npz"])
def test_names_survive_save_and_load(tmp_path: Path, suffix: str) -> None:
    ds = _set()
    path = tmp_path / f"d{suffix}"
    ds.save(path)
    loaded = DescriptorSet.load(path)
    assert loaded.names == ["a.jpg", "b.jpg", "c.jpg"]
    assert "names" in repr(loaded)


def test_names_follow_indexing_concat_and_pickle() -> None:
    ds = _set()
    assert ds[[2, 0]].names == ["c.jpg", "a.jpg"]
    assert ds[1:].names == ["b.jpg", "c.jpg"]
    assert ds[~ds.skipped].names == ["a.jpg", "c.jpg"]
    assert ds.skipped.tolist() == [False, True, False]
    assert DescriptorSet.concat([ds, ds[:1]]).names == ["a.jpg", "b.jpg", "c.jpg", "a.jpg"]
    assert DescriptorSet.concat([ds, ds.with_names(None)]).names is None
    assert pickle.loads(pickle.dumps(ds)).names == ds.names
    assert ds.with_descriptors(ds.descriptors * 2).names == ds.names
    assert DescriptorSet(ds.descriptors, ds.offsets).names is None
    with pytest.raises(InvalidInputError, match="names has 2 entries but the set has 3 images"):
        ds.with_names(["x", "y"])
    with pytest.raises(InvalidInputError, match=r"names\[1\] must be a string"):
        ds.with_names(["x", 2, "z"])


def test_extracting_files_records_their_paths_and_warns_at_the_caller(tmp_path: Path) -> None:
    pytest.importorskip("cv2")
    from PIL import Image

    from vislang.features import SIFT

    good = tmp_path / "good.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (32, 32, 3), np.uint8)).save(good)
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"no image")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = SIFT(on_error="skip").transform([str(good), str(bad)])
    assert ds.names == [str(good), str(bad)]
    assert ds.skipped.tolist() == [False, True]
    (w,) = caught
    assert "bad.png" in str(w.message)
    assert w.filename == __file__  # not scikit-learn's set_output wrapper
