"""``vislang train``: config files, ``--set`` overrides, and the dispatch to the runner
registry (fake runners stand in for the real ones)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from vislang.options import Option, ResolvedConfig, Schema
from vislang.train import registry

SCHEMA = Schema(
    "fake",
    [
        Option("train", "epochs", 10, "passes over the data"),
        Option("train", "lr", 1e-3, "learning rate"),
        Option("train", "seed", 0, "random seed"),
        Option("model", "name", "tiny", "backbone"),
        Option("model", "sizes", [1], "sizes"),
        Option("data", "path", "", "data folder"),
    ],
)


class FakeRunner:
    """Stands in for a registered runner's ``run``."""

    def __init__(self, metrics: Any = None) -> None:
        self.calls: list[tuple[ResolvedConfig, dict[str, Any]]] = []
        self.metrics = {"t2i_r1": 42.5, "loss": {"final": 0.125}} if metrics is None else metrics

    def __call__(self, config: ResolvedConfig, **kwargs: Any) -> Any:
        self.calls.append((config, kwargs))
        return self.metrics


@pytest.fixture
def models(monkeypatch: pytest.MonkeyPatch) -> FakeRunner:
    """Fake runners for every cross-modal name (same schema)."""
    fake = FakeRunner()
    runners = dict(registry._RUNNERS)
    for name in ("vse", "vse++", "infonce", "devise", "wsabie"):
        runners[name] = registry.Runner(name, SCHEMA, fake, "retrieval", f"fake {name}")
    monkeypatch.setattr(registry, "_RUNNERS", runners)
    return fake


def _replace_run(fn: Any) -> None:
    old = registry._RUNNERS["vse++"]
    registry._RUNNERS["vse++"] = registry.Runner("vse++", old.schema, fn, old.family)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "vsepp.toml"
    path.write_text('[train]\nepochs = 10\nlr = 2e-4\n[model]\nname = "resnet18"\n')
    return path


def test_dispatch_passes_config_overrides_and_options(
    vislang_cli: Callable[..., Any], models: FakeRunner, config: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    r = vislang_cli(
        "train", "vse++", "--config", config, "--set", "train.epochs=2", "--set",
        "model.sizes=[1, 2]", "--set", "data.path=some dir", "--device", "cpu", "--seed", 7,
        "--out", out, "--quiet", "--json",
    )  # fmt: skip
    assert r.code == 0, r.err
    assert r.json() == {"t2i_r1": 42.5, "loss": {"final": 0.125}}
    ((cfg, kwargs),) = models.calls
    assert cfg == {
        "train": {"epochs": 2, "lr": 2e-4, "seed": 7},
        "model": {"name": "resnet18", "sizes": [1, 2]},
        "data": {"path": "some dir"},
    }
    assert cfg.is_set("train.seed") and cfg.is_set("train.lr")
    assert kwargs == {"device": "cpu", "out": out, "progress": False}
    assert out.is_dir()


def test_seed_flag_only_overrides_when_given(
    vislang_cli: Callable[..., Any], models: FakeRunner, tmp_path: Path
) -> None:
    path = tmp_path / "seeded.toml"
    path.write_text("[train]\nseed = 5\n")
    assert vislang_cli("train", "vse", "--config", path, "--device", "cpu", "-q").code == 0
    assert vislang_cli("train", "vse", "--device", "cpu", "-q").code == 0
    r = vislang_cli("train", "vse", "--config", path, "--device", "cpu", "-q", "--seed", 0)
    assert r.code == 0
    seeds = [cfg["train"]["seed"] for cfg, _ in models.calls]
    assert seeds == [5, 0, 0]
    assert [cfg.is_set("train.seed") for cfg, _ in models.calls] == [True, False, True]


def test_metrics_table_and_default_output_folder(
    vislang_cli: Callable[..., Any], models: FakeRunner, config: Path
) -> None:
    r = vislang_cli("train", "devise", "--config", config, "--device", "cpu")
    assert r.code == 0, r.err
    rows = dict(line.split(maxsplit=1) for line in r.out.splitlines())
    assert rows == {"t2i_r1": "42.5", "loss.final": "0.125"}
    assert models.calls[0][1]["progress"] is True
    assert models.calls[0][1]["out"] == Path("runs/devise")
    assert Path("runs/devise").is_dir()


def test_skipgram_dispatches_to_its_runner(
    vislang_cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeRunner({"simlex_rho": 0.3})
    real = registry._RUNNERS["mmskipgram"]
    monkeypatch.setitem(
        registry._RUNNERS, "mmskipgram", registry.Runner("mmskipgram", real.schema, fake, "x")
    )
    r = vislang_cli(
        "train", "mmskipgram", "--set", "train.epochs=1", "--set", "data.corpus=c.txt",
        "--device", "cpu", "--json", "-q",
    )  # fmt: skip
    assert r.code == 0, r.err
    ((cfg, _),) = fake.calls
    assert cfg.name == "mmskipgram" and cfg["train"]["epochs"] == 1
    assert cfg["model"]["variant"] == "A"  # defaults filled in by the real schema
    assert r.json() == {"simlex_rho": 0.3}


def test_help_and_list_show_every_runner_schema(vislang_cli: Callable[..., Any]) -> None:
    from vislang.train import list_runners

    r = vislang_cli("train", "vse++", "--help")
    assert r.code == 0
    assert "--set KEY=VALUE" in r.out and "hinge_warmup_steps = 0  # VSE++" in r.out
    r = vislang_cli("train", "--list")
    assert r.code == 0
    for name in list_runners():
        assert f"\n{name} (" in r.out
        assert f"# vislang train {name}: options (TOML), defaults shown" in r.out
    r = vislang_cli("train", "--list", "--json")
    listing = r.json()
    assert set(listing) == set(list_runners())
    assert {"vse", "vse++", "infonce", "devise", "wsabie", "skipgram", "mmskipgram"} <= set(listing)
    assert "epochs" in listing["infonce"]["help"]
    assert listing["skipgram"]["module"] == "vislang.train.skipgram"
    assert "[data]\ncorpus = " in listing["skipgram"]["help"]


def test_missing_module_is_one_clear_line(
    vislang_cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "vislang.models", None)  # import fails
    r = vislang_cli("train", "vse", "--device", "cpu", "--set", "train.epochs=1")
    assert r.code == 1
    line = r.error_line()
    assert "'vse' needs vislang.models" in line and "cannot be imported" in line


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (("train", "vse++", "--config", "missing.toml"), 1, "config file not found: missing.toml"),
        (("train", "vse++", "--set", "epochs"), 2, "--set: override must look like section.key"),
        (("train", "vse++", "--set", "model.name.x=1"), 1, "unknown key model.name.x"),
        (("train", "vse++", "--set", "train.epochs=x"), 1, "train.epochs must be an integer"),
        (("train", "resnet"), 2, "argument NAME: invalid choice: 'resnet'"),
        (("train",), 2, "NAME is required"),
        (("train", "vse++", "--device", "tpu"), 2, "argument --device: invalid choice"),
    ],
)
def test_usage_and_config_errors(
    vislang_cli: Callable[..., Any],
    models: FakeRunner,
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
    vislang_cli: Callable[..., Any], models: FakeRunner, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[train\nepochs = ")
    r = vislang_cli("train", "vse++", "--config", bad, "--device", "cpu")
    assert r.code == 1
    assert f"config file {bad} is not valid TOML" in r.error_line()
    assert models.calls == []


def test_errors_raised_by_the_trainer(
    vislang_cli: Callable[..., Any], models: FakeRunner, config: Path
) -> None:
    from vislang.exceptions import InvalidInputError

    def bad_config(config: ResolvedConfig, **kwargs: Any) -> Any:
        raise InvalidInputError("train.epochs must be >= 1, got 0\n(see config_help)")

    _replace_run(bad_config)
    r = vislang_cli("train", "vse++", "--config", config, "--device", "cpu")
    assert r.code == 1
    assert r.error_line() == ("vislang: error: train.epochs must be >= 1, got 0 (see config_help)")
    r = vislang_cli("train", "vse++", "--config", config, "--device", "cpu", "--debug")
    assert r.code == 1 and "Traceback" in r.err and "InvalidInputError" in r.err

    _replace_run(lambda *a, **k: [1, 2])
    r = vislang_cli("train", "vse++", "--config", config, "--device", "cpu")
    assert r.code == 1 and "returned list" in r.error_line()


def test_device_auto_and_unavailable_cuda(
    vislang_cli: Callable[..., Any], models: FakeRunner, config: Path
) -> None:
    torch = pytest.importorskip("torch")
    r = vislang_cli("train", "vse++", "--config", config, "--quiet")
    assert r.code == 0, r.err
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert models.calls[0][1]["device"] == expected
    if not torch.cuda.is_available():
        r = vislang_cli("train", "vse++", "--config", config, "--device", "cuda")
        assert r.code == 1 and "no CUDA device" in r.error_line()
