"""``vislang train``: TOML configs, ``--set`` overrides and the dispatch to the model modules.

The CLI does not know the models. Each training module provides

- ``run_config(name, config, *, device, seed, out, progress) -> dict`` (metrics), and
- ``config_help(name) -> str`` (every option of the config, for ``--help`` / ``--list``),

and is imported only when one of its names is used.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vislang.cli._common import CLIError, UsageError, existing_file

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["TRAINERS", "apply_overrides", "load_config", "trainer", "trainer_help"]

#: Trainable names -> the module that trains them.
TRAINERS: dict[str, str] = {
    "vse": "vislang.models",
    "vse++": "vislang.models",
    "infonce": "vislang.models",
    "devise": "vislang.models",
    "wsabie": "vislang.models",
    "skipgram": "vislang.semantics",
    "mmskipgram": "vislang.semantics",
}


def _module(name: str) -> Any:
    if name not in TRAINERS:
        raise UsageError(f"unknown model {name!r}; choose from {', '.join(TRAINERS)}")
    module_name = TRAINERS[name]
    try:
        return importlib.import_module(module_name)
    except ImportError as e:
        raise CLIError(
            f"'{name}' needs {module_name}, which cannot be imported in this build ({e})"
        ) from None


def _function(name: str, function: str) -> Callable[..., Any]:
    module = _module(name)
    fn = getattr(module, function, None)
    if not callable(fn):
        raise CLIError(
            f"{TRAINERS[name]} has no {function}(): '{name}' is not available in this build"
        )
    return fn


def trainer(name: str) -> Callable[..., Any]:
    """The ``run_config`` function that trains ``name`` (a :class:`CLIError` if missing)."""
    return _function(name, "run_config")


def trainer_help(name: str) -> str:
    """``config_help(name)`` of the module that trains ``name`` (a :class:`CLIError` if
    missing)."""
    return str(_function(name, "config_help")(name))


def load_config(path: str | Path) -> dict[str, Any]:
    """Read a TOML config file; errors name the file."""
    p = existing_file(path, "config file")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise CLIError(f"cannot read config file {p}: {e}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise CLIError(f"config file {p} is not valid TOML: {e}") from None


def _value(raw: str) -> Any:
    """A ``--set`` value as TOML (``3``, ``1e-3``, ``true``, ``[1, 2]``, ``"x"``), else a string."""
    try:
        return tomllib.loads(f"value = {raw}")["value"]
    except tomllib.TOMLDecodeError:
        return raw


def apply_overrides(config: dict[str, Any], items: list[str]) -> dict[str, Any]:
    """Apply ``--set a.b=value`` overrides in place (creating tables) and return the config.

    Examples
    --------
    >>> apply_overrides({"train": {"epochs": 5}}, ["train.epochs=2", "model.dim=64", "name=x y"])
    {'train': {'epochs': 2}, 'model': {'dim': 64}, 'name': 'x y'}
    """
    for item in items:
        key, sep, raw = item.partition("=")
        parts = [p.strip() for p in key.split(".")]
        if not sep or not all(parts):
            raise UsageError(f"--set expects KEY=VALUE (KEY may be dotted: a.b.c), got {item!r}")
        table = config
        for depth, part in enumerate(parts[:-1]):
            nxt = table.setdefault(part, {})
            if not isinstance(nxt, dict):
                where = ".".join(parts[: depth + 1])
                raise UsageError(f"--set {key}: {where} is a value in the config, not a table")
            table = nxt
        table[parts[-1]] = _value(raw.strip())
    return config
