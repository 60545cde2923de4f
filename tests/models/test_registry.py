"""The model registry sweep (timm ``test_models.py`` style): every registered model, found
through ``list_models()`` so that a model added with ``@register_model`` is covered without
touching this file, builds tiny, runs forward and backward without NaN, and comes back from a
checkpoint with the same outputs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from vislang.exceptions import InvalidInputError
from vislang.models import create_model, list_models, load_model, save_checkpoint
from vislang.models.registry import model_entry

DEVICE = torch.device(os.environ.get("VISLANG_TEST_DEVICE", "cpu"))
EXPECTED = {"vse", "vse++", "infonce", "devise", "wsabie"}


def test_registry_lists_the_models() -> None:
    assert EXPECTED <= set(list_models())
    assert set(list_models("retrieval")) >= {"vse", "vse++", "infonce"}
    assert set(list_models("labels")) >= {"devise", "wsabie"}
    with pytest.raises(InvalidInputError, match="unknown model 'clip'; registered models: "):
        create_model("clip")


def _outputs(model: Any, batch: dict[str, Any]) -> list[torch.Tensor]:
    """What the sweep compares after a save/load: the loss on a fixed batch (same torch seed)
    and, for embedding models, the image embeddings."""
    model.eval()
    torch.manual_seed(0)
    with torch.no_grad():
        out = [model.training_loss(batch, DEVICE).detach().cpu()]
        if model_entry(model.model_type).family in ("retrieval", "labels") and "images" in batch:
            out.append(model.embed_images(batch["images"]).cpu())
    return out


@pytest.mark.parametrize("name", list_models())
def test_every_registered_model(name: str, tmp_path: Path) -> None:
    entry = model_entry(name)
    torch.manual_seed(0)
    model = entry.example().to(DEVICE)
    assert model.model_type == name
    batch = entry.cls.example_batch(model)
    # forward + backward, no NaN
    model.train()
    loss = model.training_loss(batch, DEVICE)
    assert loss.ndim == 0 and torch.isfinite(loss), loss
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert grads and all(g is not None for g in grads), "a trainable parameter got no gradient"
    assert all(torch.isfinite(g).all() for g in grads if g is not None)
    assert any(float(g.abs().sum()) > 0 for g in grads if g is not None)
    # save, load (through the registry), same outputs (a training step counter, such as the
    # one seeding WARP's draws, advances with each loss: compare from the saved state on)
    save_checkpoint(tmp_path / "m", model)
    before = _outputs(model, batch)
    loaded = load_model(tmp_path / "m", device=DEVICE)
    assert type(loaded) is entry.cls and loaded.model_type == name
    for a, b in zip(before, _outputs(loaded, batch), strict=True):
        torch.testing.assert_close(a, b)
    for key, value in model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[key], value)


@pytest.mark.parametrize("name", list_models())
def test_create_model_applies_the_name_defaults(name: str) -> None:
    entry = model_entry(name)
    model = entry.example()
    for key, value in entry.defaults.items():
        assert getattr(model.config, key) == value


def test_old_flat_checkpoints_keep_loading(tmp_path: Path) -> None:
    """A VSE++ checkpoint written before the registry (model_type "vse", flat config with
    ``warmup_steps``) loads as the vse++ model."""
    import json

    model = create_model(
        "vse++",
        captions=["a red circle", "a blue square"],
        feature_dim=5,
        word_dim=4,
        embed_dim=3,
        hinge_warmup_steps=2,
    )
    save_checkpoint(tmp_path / "m", model)
    meta = json.loads((tmp_path / "m.json").read_text())
    c = meta["config"]["model"]
    flat = {**{k: v for k, v in c["image"].items() if k != "embed_dim"}, "embed_dim": 3}
    flat.update(
        text_encoder=c["text"]["kind"],
        word_dim=c["text"]["word_dim"],
        num_layers=1,
        bidirectional=False,
        loss="vse++",
        margin=0.2,
        warmup_steps=2,
        temperature=0.07,
    )
    meta["config"]["model"] = flat
    meta["model_type"] = "vse"
    (tmp_path / "m.json").write_text(json.dumps(meta))
    loaded = load_model(tmp_path / "m")
    assert loaded.model_type == "vse++" and loaded.config.hinge_warmup_steps == 2  # type: ignore[attr-defined]
    x = torch.from_numpy(np.ones((2, 5), np.float32))
    torch.testing.assert_close(loaded.embed_images(x), model.embed_images(x))


def test_configs_compose_the_encoder_configs() -> None:
    from vislang.models import (
        DeViSEConfig,
        ImageEncoderConfig,
        TextEncoderConfig,
        VSEConfig,
        WSABIEConfig,
    )

    c = VSEConfig(ImageEncoderConfig("tiny_cnn", embed_dim=16), TextEncoderConfig("lstm", 8, 16))
    assert (c.backbone, c.text_encoder, c.word_dim, c.embed_dim) == ("tiny_cnn", "lstm", 8, 16)
    flat = VSEConfig(backbone="tiny_cnn", text_encoder="lstm", word_dim=8, embed_dim=16)
    assert flat == c
    assert VSEConfig.from_dict(c.to_dict()) == c
    with pytest.raises(InvalidInputError, match="must share the joint space"):
        VSEConfig(ImageEncoderConfig(embed_dim=4), TextEncoderConfig(embed_dim=5))
    with pytest.warns(DeprecationWarning, match="use hinge_warmup_steps"):
        assert VSEConfig(warmup_steps=3).hinge_warmup_steps == 3
    with pytest.raises(TypeError, match="unexpected keyword argument 'sampling'"):
        WSABIEConfig(sampling="warp")
    d = DeViSEConfig(feature_dim=7, margin=0.3)
    assert d.image.feature_dim == 7 and not d.finetune
    assert (
        DeViSEConfig.from_dict(
            {
                "backbone": "precomputed",
                "feature_dim": 7,
                "finetune": False,
                "image_size": 0,
                "margin": 0.3,
                "sampling": "all",
            }
        )
        == d
    )
    with pytest.raises(InvalidInputError, match=r"model config: .*'colour'"):
        DeViSEConfig.from_dict({"colour": 1})
