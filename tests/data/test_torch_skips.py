"""Images skipped inside DataLoader workers reach the parent through the batches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vislang.data import read_caption_csv

torch = pytest.importorskip("torch")


def _dataset(tmp_path: Path) -> Path:
    root = tmp_path / "d"
    (root / "images").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(6):
        arr = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        Image.fromarray(arr).save(root / "images" / f"{i}.png")
    # a PNG cut half-way: the header check passes, decoding fails
    big = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(big).save(root / "images" / "3.png")
    data = (root / "images" / "3.png").read_bytes()
    (root / "images" / "3.png").write_bytes(data[: len(data) // 2])
    (root / "captions.csv").write_text(
        "image,caption\n" + "".join(f"{i}.png,caption {i}\n" for i in range(6))
    )
    return root / "captions.csv"


@pytest.mark.parametrize("num_workers", [0, 2])
def test_skips_are_reported_through_the_batch(tmp_path: Path, num_workers: int) -> None:
    ds = read_caption_csv(_dataset(tmp_path), on_error="skip")
    assert len(ds) == 6 and ds.skipped == []  # 3.png fails only when decoded
    view = ds.as_torch(pairs=True, report_skipped=True)
    loader = torch.utils.data.DataLoader(view, batch_size=2, num_workers=num_workers)
    seen = []
    for images, captions, index, skipped in loader:
        assert images.shape[0] == len(captions) == len(skipped)
        seen += index.tolist()
        view.record_skipped(skipped)
    assert seen == [0, 1, 2, 4, 4, 5]  # 3 falls forward to the next decodable image
    assert len(ds.skipped) == 1
    name, reason = ds.skipped[0]
    assert name.endswith("3.png") and "3.png" in reason


def test_without_reporting_items_keep_their_shape(tmp_path: Path) -> None:
    ds = read_caption_csv(_dataset(tmp_path), on_error="skip")
    image, caption, index = ds.as_torch(pairs=True)[3]
    assert index == 4 and caption == "caption 4" and image.shape == (3, 8, 8)
    assert [n.endswith("3.png") for n, _ in ds.skipped] == [True]


def test_a_worker_without_reporting_warns(tmp_path: Path) -> None:
    import warnings

    ds = read_caption_csv(_dataset(tmp_path), on_error="skip")
    loader = torch.utils.data.DataLoader(
        ds.as_torch(pairs=True), batch_size=2, num_workers=1, multiprocessing_context="fork"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # inherited by the forked worker: the warning raises
        with pytest.raises(UserWarning, match=r"3\.png in a DataLoader worker.*report_skipped"):
            list(loader)
