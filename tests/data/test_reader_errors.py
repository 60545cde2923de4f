"""Readers name a missing file with a vislang error (also the builtin users catch)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from vislang import data
from vislang.exceptions import DatasetNotFoundError, VislangError


@pytest.mark.parametrize(
    "read",
    [
        lambda p: data.read_caption_csv(p / "missing.csv"),
        lambda p: data.read_karpathy_json(p / "missing.json"),
        lambda p: data.read_coco_captions(p / "missing.json"),
        lambda p: data.read_flickr8k(p / "missing.txt"),
        lambda p: data.read_flickr8k(p),
        lambda p: data.read_image_folder(p / "missing"),
    ],
)
def test_missing_dataset_files_raise_a_vislang_error(
    read: Callable[[Path], object], tmp_path: Path
) -> None:
    with pytest.raises(DatasetNotFoundError, match=r"missing|not found|no Flickr8k") as info:
        read(tmp_path)
    assert isinstance(info.value, VislangError) and isinstance(info.value, FileNotFoundError)
