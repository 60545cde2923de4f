"""``vislang train``: TOML configs, ``--set`` overrides and the dispatch to the runner registry.

The CLI does not know the models: every name, option, default and help text comes from the
runners registered in :mod:`vislang.train` (``vislang.train.list_runners()``), each with one
:class:`~vislang.options.Schema`. A config is resolved through that schema (one TOML shape, one
``--set section.key=value`` syntax, one error format naming the key); flags the user did not pass
never override the config (``--seed`` only when given).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from vislang.cli._common import (
    CLIError,
    UsageError,
    emit,
    existing_file,
    format_history,
    format_table,
    limit_torch_threads,
    log,
    resolve_device,
)
from vislang.exceptions import InvalidInputError
from vislang.options import apply_overrides as _apply
from vislang.options import parse_override
from vislang.train import list_runners, runner

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = [
    "TRAINERS",
    "apply_overrides",
    "load_config",
    "train_command",
    "trainer",
    "trainer_help",
]


def _module_of(name: str) -> str:
    return runner(name).run.__module__


#: Trainable names -> the module of their runner (kept for older callers; read the registry).
TRAINERS: dict[str, str] = {name: _module_of(name) for name in list_runners()}


def trainer(name: str) -> Any:
    """The registered runner of ``name`` (a :class:`UsageError` listing the names if unknown)."""
    try:
        return runner(name)
    except InvalidInputError as e:
        raise UsageError(str(e)) from None


def trainer_help(name: str) -> str:
    """The options of ``name`` with their defaults, as TOML."""
    return str(trainer(name).schema.help())


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


def apply_overrides(config: dict[str, Any], items: list[str]) -> dict[str, Any]:
    """Apply ``--set section.key=value`` overrides (:func:`vislang.options.parse_override`) in
    place and return the config.

    Examples
    --------
    >>> apply_overrides({"train": {"epochs": 5}}, ["train.epochs=2", "model.dim=64"])
    {'train': {'epochs': 2}, 'model': {'dim': 64}}
    """
    try:
        for item in items:
            parse_override(item)
        new = _apply(config, items)
    except InvalidInputError as e:
        raise UsageError(f"--set: {e}") from None
    config.clear()
    config.update(new)
    return config


def _help_sections(names: list[str]) -> None:
    for name in names:
        r = trainer(name)
        print(f"\n{name} ({r.family}: {r.description}):\n{r.schema.help().rstrip()}")


def train_command(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Load the config, apply ``--set`` (and ``--seed`` when given), resolve it through the
    runner's schema and run it."""
    if args.help:
        print(parser.format_help().rstrip())
        if args.name:
            _help_sections([args.name])
        else:
            print("\nrun 'vislang train NAME --help' for the config options of one model")
        return 0
    names = list_runners()
    if args.list:
        if args.json_output:
            listing = {
                n: {
                    "module": _module_of(n),
                    "family": trainer(n).family,
                    "description": trainer(n).description,
                    "help": trainer_help(n),
                }
                for n in names
            }
            emit(args, listing)
        else:
            print("trainable models:", ", ".join(names))
            _help_sections(names)
        return 0
    if args.name is None:
        raise UsageError("NAME is required (or --list)")
    r = trainer(args.name)
    config = load_config(args.config) if args.config else {}
    overrides = list(args.set)
    if r.schema.legacy_flat:  # `--set key=value` of older releases: a flat (deprecated) key
        for item in [o for o in overrides if "." not in o.partition("=")[0] and "=" in o]:
            _, key, value = parse_override(f"_.{item}")
            config[key] = value
            overrides.remove(item)
    if getattr(args, "seed", None) is not None:
        overrides.append(f"train.seed={int(args.seed)}")
    apply_overrides(config, overrides)
    resolved = r.resolve(config)  # errors name the key, before any training
    device = resolve_device(args.device)
    limit_torch_threads(args.threads)
    out = Path(args.out) if args.out else Path("runs") / args.name.replace("+", "p")
    out.mkdir(parents=True, exist_ok=True)
    log(args, f"training {args.name} on {device}, writing to {out}")
    try:
        metrics = r.run(resolved, device=device, out=out, progress=not args.quiet)
    except ImportError as e:
        raise CLIError(
            f"'{args.name}' needs {e.name or 'a module'}, which cannot be imported in this "
            f"build ({e})"
        ) from None
    if not isinstance(metrics, dict):
        raise CLIError(f"{_module_of(args.name)}.run returned {type(metrics).__name__}")
    from vislang import _dist

    if _dist.rank() != 0:
        return 0  # data-parallel (torchrun): rank 0 reports
    if args.json_output:
        emit(args, metrics)
        return 0
    history = metrics.get("history")
    print(format_table({k: v for k, v in metrics.items() if k != "history"}))
    if history:
        print("\nhistory\n" + format_history(history))
    return 0
