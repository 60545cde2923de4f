"""``vislang caption`` and the captioning runners (shapes world, tiny sizes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from vislang.models import TrainConfig, save_checkpoint
from vislang.models.captioning import CaptionConfig
from vislang.train.captioning import evaluate_captioner, shapes_caption_data, train_captioner
from vislang.train.registry import list_runners, runner


def _tiny_model(tmp: Path) -> Any:
    torch.manual_seed(0)
    data = shapes_caption_data(12, 4, 4, seed=1)
    cfg = CaptionConfig(backbone="tiny_cnn", word_dim=8, hidden_dim=16, attention_dim=8)
    model, history = train_captioner(
        "show-attend-tell",
        data["train"],
        data["val"],
        config=cfg,
        train_config=TrainConfig(epochs=1, batch_size=32),
        device="cpu",
        progress=False,
    )
    assert len(history) == 1 and "val_cider_d" in history[0]
    metrics = evaluate_captioner(model, data["test"], beams=(1, 2))
    assert set(metrics) == {"greedy", "beam 2"}
    save_checkpoint(tmp / "run" / "best", model)
    return model


def test_caption_command_writes_captions_and_strips(vislang_cli, shape_images, tmp_path) -> None:  # type: ignore[no-untyped-def]
    model = _tiny_model(tmp_path)
    run = vislang_cli(
        "caption",
        *shape_images[:2],
        "--model",
        tmp_path / "run",
        "--beam",
        2,
        "--attention-out",
        tmp_path / "att",
        "--device",
        "cpu",
        "--json",
    )
    assert run.code == 0, run.err
    caps = run.json()
    assert list(caps) == [str(p) for p in shape_images[:2]]
    assert all(isinstance(c, str) for c in caps.values())
    assert sorted(p.name for p in (tmp_path / "att").iterdir()) == [
        f"{p.stem}.attention.png" for p in shape_images[:2]
    ]
    # The same captions as the model on the same pixels.
    from PIL import Image

    imgs = [np.asarray(Image.open(p).convert("RGB")) for p in shape_images[:2]]
    assert list(caps.values()) == model.caption(imgs, beam=2)


def test_caption_command_errors(vislang_cli, shape_images, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _tiny_model(tmp_path)
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not a png")
    run = vislang_cli("caption", bad, "--model", tmp_path / "run", "--device", "cpu")
    assert run.code == 1 and "broken.png" in run.error_line()
    run = vislang_cli("caption", *shape_images[:1], "--model", tmp_path / "nothing")
    assert run.code == 1 and "no checkpoint" in run.error_line()
    run = vislang_cli("caption", *shape_images[:1], "--model", tmp_path / "run", "--beam", 0)
    assert run.code == 1 and "beam must be >= 1, got 0" in run.error_line()


def test_runners_are_registered() -> None:
    assert {"show-and-tell", "show-attend-tell"} <= set(list_runners("captioning"))
    cfg = runner("show-attend-tell").resolve({"model": {"attention": "hard"}})
    assert cfg["model"]["attention"] == "hard" and cfg["train"]["epochs"] == 10
