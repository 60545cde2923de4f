"""``vislang train``: config files, ``--set`` overrides, and the dispatch to fake model modules."""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import vislang.semantics


class FakeTrainer:
    """Stands in for ``run_config`` / ``config_help`` of a training module."""

    def __init__(self, metrics: Any = None) -> None:
        self.calls: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
        self.metrics = {"t2i_r1": 42.5, "loss": {"final": 0.125}} if metrics is None else metrics

    def run_config(self, name: str, config: dict[str, Any], **kwargs: Any) -> Any:
        self.calls.append((name, config, kwargs))
        return self.metrics

    def config_help(self, name: str) -> str:
        return f"[train]\nepochs = 10  # passes over the data ({name})"


@pytest.fixture
def models(monkeypatch: pytest.MonkeyPatch) -> FakeTrainer:
    """A fake ``vislang.models`` module."""
    fake = FakeTrainer()
    module = types.ModuleType("vislang.models")
    module.run_config = fake.run_config  # type: ignore[attr-defined]
    module.config_help = fake.config_help  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "vislang.models", module)
    return fake


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "vsepp.toml"
    path.write_text('[train]\nepochs = 10\nlr = 2e-4\n[model]\nname = "resnet18"\n')
    return path


def test_dispatch_passes_config_overrides_and_options(
    vislang_cli: Callable[..., Any], models: FakeTrainer, config: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    r = vislang_cli(
        "train", "vse++", "--config", config, "--set", "train.epochs=2", "--set",
        "model.sizes=[1, 2]", "--set", "data.path=some dir", "--device", "cpu", "--seed", 7,
        "--out", out, "--quiet", "--json",
    )  # fmt: skip
    assert r.code == 0, r.err
    assert r.json() == {"t2i_r1": 42.5, "loss": {"final": 0.125}}
    ((name, cfg, kwargs),) = models.calls
    assert name == "vse++"
    assert cfg == {
        "train": {"epochs": 2, "lr": 2e-4},
        "model": {"name": "resnet18", "sizes": [1, 2]},
        "data": {"path": "some dir"},
    }
    assert kwargs == {"device": "cpu", "seed": 7, "out": out, "progress": False}
    assert out.is_dir()


def test_metrics_table_and_default_output_folder(
    vislang_cli: Callable[..., Any], models: FakeTrainer, config: Path
) -> None:
    r = vislang_cli("train", "devise", "--config", config, "--device", "cpu")
    assert r.code == 0, r.err
    rows = dict(line.split(maxsplit=1) for line in r.out.splitlines())
    assert rows == {"t2i_r1": "42.5", "loss.final": "0.125"}
    assert models.calls[0][2]["progress"] is True
    assert models.calls[0][2]["out"] == Path("runs/devise")
    assert Path("runs/devise").is_dir()


def test_skipgram_dispatches_to_semantics(
    vislang_cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeTrainer({"simlex_rho": 0.3})
    monkeypatch.setattr(vislang.semantics, "run_config", fake.run_config, raising=False)
    r = vislang_cli("train", "mmskipgram", "--set", "epochs=1", "--device", "cpu", "--json", "-q")
    assert r.code == 0, r.err
    assert fake.calls[0][:2] == ("mmskipgram", {"epochs": 1})
    assert r.json() == {"simlex_rho": 0.3}


def test_help_and_list_show_the_config_help(
    vislang_cli: Callable[..., Any], models: FakeTrainer
) -> None:
    r = vislang_cli("train", "vse++", "--help")
    assert r.code == 0
    assert "--set KEY=VALUE" in r.out and "epochs = 10  # passes over the data (vse++)" in r.out
    r = vislang_cli("train", "--list")
    assert r.code == 0
    assert "passes over the data (wsabie)" in r.out
    # vislang.semantics has run_config / config_help: its option listing is shown
    assert "skipgram (vislang.semantics):\n[skipgram] options" in r.out
    assert "not available in this build" not in r.out
    r = vislang_cli("train", "--list", "--json")
    listing = r.json()
    assert set(listing) == {"vse", "vse++", "infonce", "devise", "wsabie", "skipgram", "mmskipgram"}
    assert "epochs" in listing["infonce"]["help"]
    assert "corpus = required" in listing["skipgram"]["help"]


def test_missing_module_is_one_clear_line(
    vislang_cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "vislang.models", None)  # import fails
    r = vislang_cli("train", "vse", "--device", "cpu")
    assert r.code == 1
    line = r.error_line()
    assert "'vse' needs vislang.models" in line and "cannot be imported" in line
    monkeypatch.delattr(vislang.semantics, "run_config")  # a build without it
    r = vislang_cli("train", "skipgram", "--device", "cpu")
    assert r.code == 1
    assert "vislang.semantics has no run_config()" in r.error_line()


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (("train", "vse++", "--config", "missing.toml"), 1, "config file not found: missing.toml"),
        (("train", "vse++", "--set", "epochs"), 2, "--set expects KEY=VALUE"),
        (("train", "vse++", "--set", "model.name.x=1"), 2, "model.name is a value in the config"),
        (("train", "resnet"), 2, "argument NAME: invalid choice: 'resnet'"),
        (("train",), 2, "NAME is required"),
        (("train", "vse++", "--device", "tpu"), 2, "argument --device: invalid choice"),
    ],
)
def test_usage_and_config_errors(
    vislang_cli: Callable[..., Any],
    models: FakeTrainer,
    config: Path,
    argv: tuple[str, ...],
    code: int,
    message: str,
) -> None:
    r = vislang_cli(*argv, "--config", config) if "--config" not in argv else vislang_cli(*argv)
    assert r.code == code
    assert message in r.error_line()
    assert models.calls == []


def test_invalid_toml_names_the_file(
    vislang_cli: Callable[..., Any], models: FakeTrainer, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[train\nepochs = ")
    r = vislang_cli("train", "vse++", "--config", bad, "--device", "cpu")
    assert r.code == 1
    assert f"config file {bad} is not valid TOML" in r.error_line()
    assert models.calls == []


def test_errors_raised_by_the_trainer(
    vislang_cli: Callable[..., Any], models: FakeTrainer, config: Path
) -> None:
    from vislang.exceptions import InvalidInputError

    def bad_config(name: str, config: dict[str, Any], **kwargs: Any) -> Any:
        raise InvalidInputError("train.epochs must be >= 1, got 0\n(see config_help)")

    sys.modules["vislang.models"].run_config = bad_config  # type: ignore[attr-defined]
    r = vislang_cli("train", "vse++", "--config", config, "--device", "cpu")
    assert r.code == 1
    assert r.error_line() == ("vislang: error: train.epochs must be >= 1, got 0 (see config_help)")
    r = vislang_cli("train", "vse++", "--config", config, "--device", "cpu", "--debug")
    assert r.code == 1 and "Traceback" in r.err and "InvalidInputError" in r.err

    sys.modules["vislang.models"].run_config = lambda *a, **k: [1, 2]  # type: ignore[attr-defined]
    r = vislang_cli("train", "vse++", "--config", config, "--device", "cpu")
    assert r.code == 1 and "returned list" in r.error_line()


def test_device_auto_and_unavailable_cuda(
    vislang_cli: Callable[..., Any], models: FakeTrainer, config: Path
) -> None:
    torch = pytest.importorskip("torch")
    r = vislang_cli("train", "vse++", "--config", config, "--quiet")
    assert r.code == 0, r.err
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert models.calls[0][2]["device"] == expected
    if not torch.cuda.is_available():
        r = vislang_cli("train", "vse++", "--config", config, "--device", "cuda")
        assert r.code == 1 and "no CUDA device" in r.error_line()
