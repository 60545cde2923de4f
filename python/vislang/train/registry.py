"""The runner registry: what ``vislang train NAME`` can train, each with one option schema.

A runner is a function ``run(config, *, device, out, progress) -> dict`` (its metrics) where
``config`` is the :class:`~vislang.options.ResolvedConfig` of its :class:`~vislang.options.Schema`
(``config.is_set("train.seed")`` tells a user-set value from a default). Register it with

>>> @register_runner("show-and-tell", schema=SCHEMA, family="captioning")
... def run(config, *, device="auto", out=None, progress=True): ...

``vislang train --list`` prints every runner's schema; ``vislang train NAME --set k=v`` resolves
the config through the schema, so every runner shares one TOML shape, one override syntax, one
help format and one error format.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from vislang.exceptions import InvalidInputError
from vislang.options import ResolvedConfig, Schema

__all__ = ["Runner", "list_runners", "register_runner", "runner"]

RunFunction = Callable[..., dict[str, Any]]


@dataclass(frozen=True)
class Runner:
    """A trainable name, its option schema and the function that trains it."""

    name: str
    schema: Schema
    run: RunFunction
    family: str
    description: str = ""

    def resolve(self, config: Any = None) -> ResolvedConfig:
        return self.schema.resolve(config)


_RUNNERS: dict[str, Runner] = {}


def register_runner(
    name: str, *, schema: Schema, family: str, description: str = ""
) -> Callable[[RunFunction], RunFunction]:
    """Function decorator: ``vislang train name`` runs the decorated function."""

    def decorate(fn: RunFunction) -> RunFunction:
        _RUNNERS[name] = Runner(name, schema, fn, family, description)
        return fn

    return decorate


def _ensure_loaded() -> None:
    import vislang.train  # noqa: F401  (the runner modules register on import)


def runner(name: str) -> Runner:
    """The runner of ``name``; :class:`InvalidInputError` listing the names if unknown."""
    _ensure_loaded()
    try:
        return _RUNNERS[name]
    except KeyError:
        raise InvalidInputError(
            f"unknown model {name!r}; choose from {', '.join(sorted(_RUNNERS))}"
        ) from None


def list_runners(family: str | None = None) -> list[str]:
    """Names that ``vislang train`` accepts, sorted."""
    _ensure_loaded()
    return sorted(n for n, r in _RUNNERS.items() if family is None or r.family == family)
