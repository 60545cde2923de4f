"""Each model trains on the shapes world: loss decreases, recall beats chance; exact resume."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from vislang.eval import retrieval_metrics
from vislang.exceptions import CheckpointError, InvalidInputError
from vislang.models import (
    VSE,
    WSABIE,
    DeViSE,
    DeViSEConfig,
    LabeledImages,
    TrainConfig,
    Trainer,
    Vocabulary,
    VSEConfig,
    WSABIEConfig,
    load_model,
    save_checkpoint,
)


def _vse(pairs: dict[str, Any], loss: str, seed: int = 0) -> VSE:
    torch.manual_seed(seed)
    vocab = Vocabulary.build(pairs["train"].captions)
    dim = pairs["train"].images.shape[1]
    cfg = VSEConfig(feature_dim=dim, word_dim=32, embed_dim=64, loss=loss, hinge_warmup_steps=20)
    return VSE(vocab, cfg)


@pytest.mark.parametrize("loss", ["vse", "vse++", "infonce"])
def test_vse_learns_shapes(shapes_pairs: dict[str, Any], loss: str) -> None:
    model = _vse(shapes_pairs, loss)
    chance = model.evaluate(shapes_pairs["test"])
    cfg = TrainConfig(epochs=6, batch_size=64, lr=2e-3, schedule="constant")
    history = Trainer(model, shapes_pairs["train"], shapes_pairs["val"], cfg, progress=False).fit()
    assert history[-1]["loss"] < history[0]["loss"]
    test = model.evaluate(shapes_pairs["test"])
    # 60 test images: chance R@10 is ~17% per direction, rsum ~ 2 * (1.7 + 8.3 + 16.7) = 53
    assert test["rsum"] > 1.8 * max(chance["rsum"], 53.0), (chance, test)
    assert test["t2i_r10"] > 35.0


def test_search_matches_brute_force(shapes_pairs: dict[str, Any]) -> None:
    model = _vse(shapes_pairs, "vse++")
    gallery = shapes_pairs["test"].images
    scores, idx = model.search(["a red circle", "a small blue square"], gallery, k=5)
    img = model.embed_images(gallery)
    txt = model.embed_texts(["a red circle", "a small blue square"])
    brute = (txt @ img.T).numpy()
    expected = np.argsort(-brute, axis=1, kind="stable")[:, :5]
    np.testing.assert_array_equal(idx, expected)
    np.testing.assert_allclose(scores, np.take_along_axis(brute, expected, 1), rtol=1e-5)
    # an embedded tensor as gallery gives the same answer
    _, idx2 = model.search("a red circle", img, k=5)
    np.testing.assert_array_equal(idx2[0], idx[0])


def test_embed_texts_unknown_words_and_long_captions(shapes_pairs: dict[str, Any]) -> None:
    model = _vse(shapes_pairs, "vse")
    e = model.embed_texts(["a zebra", "a " + "very " * 100 + "red circle"])
    assert e.shape == (2, 64) and torch.isfinite(e).all()
    torch.testing.assert_close(e.norm(dim=1), torch.ones(2))
    with pytest.raises(InvalidInputError, match="empty batch"):
        model.embed_texts([])


def test_vse_bad_input(shapes_pairs: dict[str, Any]) -> None:
    model = _vse(shapes_pairs, "vse")
    feats = np.asarray(shapes_pairs["test"].images[:4]).copy()
    with pytest.raises(InvalidInputError, match=r"features must have shape \(batch, 192\)"):
        model.embed_images(feats[:, :10])
    ids, lengths = model.vocab.encode(["a red circle", "a blue square"])
    img = model.encode_images(torch.from_numpy(feats[:3]))
    txt = model.encode_ids(torch.from_numpy(ids), torch.from_numpy(lengths))
    with pytest.raises(InvalidInputError, match="positives: must be given"):
        model.criterion(img, txt)
    with pytest.raises(InvalidInputError, match="NaN or inf at row 1"):
        model.criterion(torch.tensor([[1.0, 0.0], [float("nan"), 0.0]]), torch.eye(2))
    pos = torch.tensor([[True, False], [False, False], [False, True]])
    with pytest.raises(InvalidInputError, match="row 1 has no positive"):
        model.criterion(img, txt, pos)


def _labeled(n: int, n_labels: int, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray, Any]:
    """Planted toy: feature = A^T label_vector + noise, so the map A is learnable."""
    rng = np.random.default_rng(seed)
    label_vectors = rng.normal(size=(n_labels, 16)).astype(np.float32)
    a = rng.normal(size=(16, dim)).astype(np.float32)
    y = rng.integers(0, n_labels, n)
    x = label_vectors[y] @ a + 0.3 * rng.normal(size=(n, dim)).astype(np.float32)
    return x.astype(np.float32), y, label_vectors


def test_devise_zero_shot_on_planted_toy() -> None:
    torch.manual_seed(0)
    x, y, vectors = _labeled(1200, 10, 24, seed=1)
    labels = [f"class{i}" for i in range(10)]
    seen = y < 8
    model = DeViSE(labels[:8], vectors[:8], DeViSEConfig(feature_dim=24))
    train = LabeledImages(x[seen][:800], y[seen][:800])
    cfg = TrainConfig(epochs=15, batch_size=64, lr=1e-2, schedule="constant")
    history = Trainer(model, train, None, cfg, progress=False).fit()
    assert history[-1]["loss"] < 0.5 * history[0]["loss"]
    model.set_labels(labels, vectors)  # all 10 labels: flat hit@k over seen + unseen
    unseen = model.hit_at_k(x[~seen], y[~seen], ks=(1, 2))
    held_out = model.hit_at_k(x[seen][800:], y[seen][800:], ks=(1, 2))
    assert unseen["hit@2"] > 60.0, unseen  # chance is 20%
    assert held_out["hit@1"] > 80.0, held_out


def test_wsabie_learns_labels() -> None:
    torch.manual_seed(0)
    x, y, _ = _labeled(900, 6, 24, seed=2)
    model = WSABIE([f"l{i}" for i in range(6)], WSABIEConfig(feature_dim=24, embed_dim=16))
    train, test = LabeledImages(x[:700], y[:700]), LabeledImages(x[700:], y[700:])
    before = model.evaluate(test)["hit@1"]
    cfg = TrainConfig(epochs=8, batch_size=64, lr=1e-2, schedule="constant")
    history = Trainer(model, train, test, cfg, progress=False).fit()
    assert history[-1]["loss"] < history[0]["loss"]
    after = model.evaluate(test)
    assert after["hit@1"] > max(60.0, before + 20.0), (before, after)
    with pytest.raises(InvalidInputError, match="unknown labels"):
        model.embed_texts(["l9"])
    with pytest.raises(InvalidInputError, match="image 0 has no label"):
        next(model.batches(LabeledImages(x[:2], np.zeros((2, 6), bool)), 2, torch.Generator()))


# ---------------------------------------------------------------------- checkpoints
def _weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_resume_is_exact(shapes_pairs: dict[str, Any], tmp_path: Path) -> None:
    cfg = TrainConfig(epochs=2, batch_size=64, lr=2e-3, max_steps_per_epoch=6, seed=3)
    train, val = shapes_pairs["train"], shapes_pairs["val"]
    straight = _vse(shapes_pairs, "vse++")
    Trainer(straight, train, val, cfg, device="cpu", progress=False).fit()

    first = _vse(shapes_pairs, "vse++")
    t1 = Trainer(first, train, val, cfg, device="cpu", progress=False)
    t1.fit(until_epoch=1)
    t1.save(tmp_path / "ckpt")
    torch.manual_seed(12345)  # disturb the global RNG: the checkpoint must restore it
    t2 = Trainer.resume(tmp_path / "ckpt", train, val, device="cpu", progress=False)
    assert t2.epoch == 1 and t2.step == 6
    t2.fit()
    assert t2.epoch == 2
    a, b = _weights(straight), _weights(t2.model)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_checkpoint_round_trip_and_errors(shapes_pairs: dict[str, Any], tmp_path: Path) -> None:
    model = _vse(shapes_pairs, "vse")
    save_checkpoint(tmp_path / "vse", model)
    loaded = load_model(tmp_path / "vse.safetensors", expected_type="vse")
    assert isinstance(loaded, VSE) and loaded.vocab == model.vocab
    torch.testing.assert_close(
        loaded.embed_texts(["a red circle"]), model.embed_texts(["a red circle"])
    )
    wsabie = WSABIE(["a", "b"], WSABIEConfig(feature_dim=4, embed_dim=3))
    save_checkpoint(tmp_path / "ws", wsabie)
    with pytest.raises(CheckpointError, match=r"ws\.json: checkpoint holds a 'wsabie' model"):
        load_model(tmp_path / "ws", expected_type="vse")
    from vislang.models import load_checkpoint

    with pytest.raises(CheckpointError, match="expected 'vse'"):
        load_checkpoint(tmp_path / "ws", model)
    meta = tmp_path / "vse.json"
    meta.write_text(meta.read_text().replace('"format_version": 1', '"format_version": 99'))
    with pytest.raises(CheckpointError, match="format version 99"):
        load_model(tmp_path / "vse")
    (tmp_path / "ws.safetensors").write_bytes(b"\x00garbage")
    with pytest.raises(CheckpointError, match=r"ws\.safetensors: corrupt"):
        load_model(tmp_path / "ws")
    (tmp_path / "ws.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="corrupt checkpoint sidecar"):
        load_model(tmp_path / "ws")
    with pytest.raises(CheckpointError, match="not found"):
        load_model(tmp_path / "nothing")


def test_checkpoint_model_version_mismatch(tmp_path: Path) -> None:
    wsabie = WSABIE(["a", "b"], WSABIEConfig(feature_dim=4, embed_dim=3))
    save_checkpoint(tmp_path / "ws", wsabie)
    meta = tmp_path / "ws.json"
    meta.write_text(meta.read_text().replace('"model_version": 1', '"model_version": 0'))
    with pytest.raises(CheckpointError, match="wsabie model version 0"):
        load_model(tmp_path / "ws")


def test_retrieval_metrics_masks_other_captions(shapes_pairs: dict[str, Any]) -> None:
    # 5 captions per image: every image's captions are positives, never negatives
    test = shapes_pairs["test"]
    assert np.bincount(test.text_to_image).tolist() == [5] * len(test.images)
    model = _vse(shapes_pairs, "vse")
    m = retrieval_metrics(
        model.embed_images(test.images), model.embed_texts(test.captions), test.text_to_image
    )
    assert set(m) >= {"i2t_r1", "t2i_r10", "i2t_medr", "rsum"}


def test_data_containers_reject_bad_input() -> None:
    from vislang.models import CaptionPairs

    feats = np.zeros((3, 4), np.float32)
    with pytest.raises(InvalidInputError, match=r"text_to_image must have shape \(2,\)"):
        CaptionPairs(feats, ["a", "b"], np.array([0, 1, 2]))
    with pytest.raises(InvalidInputError, match=r"text_to_image\[1\] is not an image index"):
        CaptionPairs(feats, ["a", "b"], np.array([0, 3]))
    feats[2, 1] = np.nan
    with pytest.raises(InvalidInputError, match="images contains NaN or inf at row 2"):
        CaptionPairs(feats, ["a", "b"], np.array([0, 1]))
    with pytest.raises(InvalidInputError, match="targets has 2 rows for 3 images"):
        LabeledImages(np.zeros((3, 4), np.float32), np.array([0, 1]))
    with pytest.raises(InvalidInputError, match="no images or no captions"):
        CaptionPairs(np.zeros((0, 4), np.float32), [], np.zeros(0, np.int64))


def test_separate_backbone_lr_and_early_stopping(shapes_pairs: dict[str, Any]) -> None:
    vocab = Vocabulary.build(["a b"])
    model = VSE(vocab, VSEConfig(backbone="tiny_cnn", word_dim=4, embed_dim=8))
    cfg = TrainConfig(lr=1e-3, backbone_lr=1e-5)
    images = torch.zeros(2, 3, 32, 32)
    from vislang.models import CaptionPairs

    trainer = Trainer(model, CaptionPairs(images, ["a", "b"], [0, 1]), None, cfg, progress=False)
    lrs = sorted(g["lr"] for g in trainer.optimizer.param_groups)
    assert lrs == [1e-5, 1e-3]
    backbone = {id(p) for p in model.image_encoder.backbone.parameters()}  # type: ignore[union-attr]
    slow = next(g for g in trainer.optimizer.param_groups if g["lr"] == 1e-5)
    assert {id(p) for p in slow["params"]} == backbone

    frozen = _vse(shapes_pairs, "vse")
    stop = TrainConfig(epochs=10, lr=0.0, backbone_lr=0.0, patience=2, max_steps_per_epoch=1)
    history = Trainer(
        frozen, shapes_pairs["train"], shapes_pairs["val"], stop, progress=False
    ).fit()
    assert len(history) == 3  # no improvement after epoch 1: stop after 2 more


def test_fused_adamw_follows_the_per_tensor_update(shapes_pairs: dict[str, Any]) -> None:
    # The trainer's fused AdamW must train like torch's reference (per-tensor) AdamW.
    cfg = TrainConfig(epochs=1, batch_size=64, lr=2e-3, max_steps_per_epoch=4, seed=1)
    fused = Trainer(_vse(shapes_pairs, "vse"), shapes_pairs["train"], None, cfg, device="cpu",
                    progress=False)  # fmt: skip
    assert fused.optimizer.defaults["fused"] is True
    loop = Trainer(_vse(shapes_pairs, "vse"), shapes_pairs["train"], None, cfg, device="cpu",
                   progress=False)  # fmt: skip
    loop.optimizer = torch.optim.AdamW(
        loop.model.param_groups(cfg.lr, cfg.backbone_lr),
        weight_decay=cfg.weight_decay,
        foreach=False,
    )
    loop.scheduler = torch.optim.lr_scheduler.LambdaLR(
        loop.optimizer, loop._lr_factor(loop.steps_per_epoch)
    )
    before = _weights(fused.model)
    fused.train_epoch()
    loop.train_epoch()
    a, b = _weights(fused.model), _weights(loop.model)
    moved = 0
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-6, msg=k)
        moved += int(not torch.equal(a[k], before[k]))
    assert moved > 0
