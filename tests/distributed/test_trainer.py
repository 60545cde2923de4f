"""The shared trainer on 2 gloo ranks: identical weights on every rank, rank 0 alone writes,
and a checkpoint written with N processes resumes with M."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from vislang.distributed import launch  # noqa: E402
from vislang.models import VSE, CaptionPairs, TrainConfig, Trainer  # noqa: E402

CAPTIONS = ("a red circle", "a blue square", "two green triangles", "a small red circle")


def _pairs() -> CaptionPairs:
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(12, 12)).astype(np.float32)
    text_to_image = np.repeat(np.arange(12), 2)
    captions = [CAPTIONS[i % 4] for i in range(len(text_to_image))]
    return CaptionPairs(feats, captions, text_to_image)


def _config(epochs: int) -> TrainConfig:
    return TrainConfig(epochs=epochs, batch_size=8, lr=1e-2, seed=0, amp=False, schedule="constant")


def _train(rank: int, folder: str) -> dict[str, Any]:
    torch.manual_seed(rank)  # different initial weights per rank: rank 0's are broadcast
    model = VSE.example(loss="vse++")
    data = _pairs()
    trainer = Trainer(model, data, data, _config(2), device="cpu", progress=False, out=folder)
    history = trainer.fit()
    return {
        "distributed": trainer.distributed,
        "steps": trainer.steps_per_epoch,
        "history": history,
        "weights": {k: v.clone() for k, v in model.state_dict().items()},
    }


def _resume(rank: int, path: str, folder: str) -> dict[str, Any]:
    data = _pairs()
    trainer = Trainer.resume(path, data, data, config=_config(3), device="cpu", progress=False)
    trainer.out = Path(folder)
    start = trainer.epoch
    trainer.fit()
    weights = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    return {"start": start, "epoch": trainer.epoch, "weights": weights}


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    folder = tmp_path_factory.mktemp("two")
    return folder, launch(_train, 2, str(folder), timeout=60.0, start_method="fork")


def test_two_ranks_hold_one_model(two_ranks: tuple[Path, list[dict[str, Any]]]) -> None:
    folder, (r0, r1) = two_ranks
    assert r0["distributed"] and r1["distributed"]
    assert r0["steps"] == 3  # 12 pairs per rank, 4 a step: as 24 / 8 in one process
    assert _same(r0["weights"], r1["weights"])  # the same model on every rank
    assert [h["loss"] for h in r0["history"]] == [h["loss"] for h in r1["history"]]
    assert r0["history"][0]["val_rsum"] == r1["history"][0]["val_rsum"]
    assert {p.name for p in folder.iterdir()} >= {"last.json", "best.json"}
    assert not _same(r0["weights"], VSE.example(loss="vse++").state_dict())  # it trained


def test_written_by_two_resumed_by_one(two_ranks: tuple[Path, list[dict[str, Any]]]) -> None:
    folder, (r0, _) = two_ranks
    data = _pairs()
    one = Trainer.resume(folder / "last", data, data, config=_config(3), progress=False)
    assert not one.distributed and one.epoch == 2
    assert _same(dict(one.model.state_dict()), r0["weights"])
    # Validation sharded over the ranks and gathered = one process evaluating everything.
    metrics = one.model.evaluate(data)
    assert r0["history"][-1]["val_rsum"] == pytest.approx(metrics["rsum"])
    one.fit()
    assert one.epoch == 3


def test_written_by_one_resumed_by_two(tmp_path: Path) -> None:
    data = _pairs()
    single = tmp_path / "single"
    Trainer(VSE.example(loss="vse++"), data, data, _config(1), progress=False, out=single).fit()
    out = tmp_path / "resumed"
    out.mkdir()
    a, b = launch(_resume, 2, str(single / "last"), str(out), timeout=60.0, start_method="fork")
    assert a["start"] == b["start"] == 1 and a["epoch"] == b["epoch"] == 3
    assert _same(a["weights"], b["weights"])
    assert "last.json" in os.listdir(out)  # rank 0 wrote its checkpoint
