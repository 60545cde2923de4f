"""The cross-modal runner's ``data.on_error``: a Flickr8k folder with some images missing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from vislang.data import ImageLoadError
from vislang.train import runner


def run_config(name: str, config: dict[str, Any], *, seed: int | None = None, **kw: Any) -> Any:
    """The ``vislang train NAME`` runner (``seed`` as a ``train.seed`` override)."""
    r = runner(name)
    if seed is not None:
        config = {**config, "train": {**config.get("train", {}), "seed": seed}}
    return r.run(r.resolve(config), **kw)


def _flickr8k(root: Path, n: int, missing: set[int]) -> Path:
    rng = np.random.default_rng(0)
    names = [f"{1000 + i}_x.jpg" for i in range(n)]
    folder = root / "Flicker8k_Dataset"
    folder.mkdir(parents=True)
    for i, name in enumerate(names):
        if i not in missing:
            arr = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
            Image.fromarray(arr).save(folder / name, format="PNG")
    colours = ["red", "blue", "green"]
    lines = [f"{name}#{k}\ta {colours[i % 3]} thing number {k} ." for i, name in enumerate(names)
             for k in range(2)]  # fmt: skip
    (root / "Flickr8k.token.txt").write_text("\n".join(lines) + "\n")
    (root / "Flickr_8k.trainImages.txt").write_text("\n".join(names[: n - 8]) + "\n")
    (root / "Flickr_8k.devImages.txt").write_text("\n".join(names[n - 8 : n - 4]) + "\n")
    (root / "Flickr_8k.testImages.txt").write_text("\n".join(names[n - 4 :]) + "\n")
    return root


def test_on_error_skip_counts_the_skipped_images(tmp_path: Path) -> None:
    root = _flickr8k(tmp_path / "f8k", 20, missing={0, 3})
    cfg = {
        "data": {"source": "flickr8k", "path": str(root), "image_size": 32},
        "model": {"embed_dim": 8, "word_dim": 4},
        "train": {"epochs": 1, "batch_size": 4},
    }
    with pytest.raises(
        ImageLoadError, match=r"2 of 20 images are missing\); set data.on_error = 'skip'"
    ):
        run_config("vse", cfg, device="cpu", out=tmp_path / "a", progress=False, plots=False)
    cfg["data"]["on_error"] = "skip"
    with pytest.warns(UserWarning, match=r"data.on_error='skip': 2 images skipped"):
        metrics = run_config(
            "vse", cfg, device="cpu", out=tmp_path / "b", progress=False, plots=False
        )
    assert metrics["skipped_images"] == 2
