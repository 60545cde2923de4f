"""One config schema for every runner (``vislang train NAME``): options, TOML, ``--set``.

A runner declares its options once, as :class:`Option` rows (section, key, default, help,
choices); :class:`Schema` fills in defaults, checks every value with one error format that names
the key (``config: train.epochs must be an integer >= 1, got 'x'``), prints the help as TOML and
remembers which keys the user set (so command-line flags never override a value the config
file gave). ``--set section.key=value`` overrides are parsed by :func:`parse_override`.

Pure Python: every layer may import it.
"""

from __future__ import annotations

import json
import math
import sys
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from vislang.exceptions import InvalidInputError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["Option", "ResolvedConfig", "Schema", "apply_overrides", "parse_override"]

#: A default that the user must replace (the option is required).
REQUIRED: Any = type("Required", (), {"__repr__": lambda self: "REQUIRED"})()


@dataclass(frozen=True)
class Option:
    """One config option.

    ``kind`` defaults to the type of ``default`` (``bool``, ``int``, ``float``, ``str``,
    ``list``); ``optional=True`` also accepts ``None`` (TOML has no null: the CLI spells it
    ``--set section.key=none``). Numbers must lie in ``[minimum, maximum]``. ``aliases`` are old
    keys (``"section.key"`` or just ``"key"`` in the same section) that still work with a
    :class:`DeprecationWarning`.
    """

    section: str
    key: str
    default: Any
    help: str
    choices: tuple[Any, ...] = ()
    kind: type | None = None
    minimum: float | None = 0
    maximum: float | None = None
    optional: bool = False
    aliases: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return f"{self.section}.{self.key}"

    @property
    def type_(self) -> type:
        if self.kind is not None:
            return self.kind
        if self.default is None or self.default is REQUIRED:
            return str
        return type(self.default)

    def coerce(self, value: Any) -> Any:
        """``value`` checked and converted (int -> float for float options); raises naming
        the key."""
        where = f"config: {self.name}"
        if value is None:
            if self.optional:
                return None
            raise InvalidInputError(f"{where} must not be empty (none)")
        kind = self.type_
        if kind is bool:
            if not isinstance(value, bool):
                raise InvalidInputError(f"{where} must be true or false, got {value!r}")
        elif kind is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidInputError(f"{where} must be an integer, got {value!r}")
        elif kind is float:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidInputError(f"{where} must be a number, got {value!r}")
            value = float(value)
            if not math.isfinite(value):
                raise InvalidInputError(f"{where} must be finite, got {value}")
        elif kind is str:
            if not isinstance(value, str):
                raise InvalidInputError(f"{where} must be a string, got {value!r}")
        elif kind is list:
            if not isinstance(value, list | tuple):
                raise InvalidInputError(f"{where} must be a list, got {value!r}")
            value = list(value)
        if kind in (int, float):
            if self.minimum is not None and value < self.minimum:
                raise InvalidInputError(f"{where} must be >= {self.minimum:g}, got {value}")
            if self.maximum is not None and value > self.maximum:
                raise InvalidInputError(f"{where} must be <= {self.maximum:g}, got {value}")
        if self.choices and value not in self.choices:
            raise InvalidInputError(f"{where} must be one of {list(self.choices)}, got {value!r}")
        return value


class ResolvedConfig(dict[str, dict[str, Any]]):
    """``{section: {key: value}}`` with every default filled in; ``explicit`` holds the
    ``"section.key"`` names that the user set (file or ``--set``); ``name`` is the schema's
    (the runner's) name."""

    explicit: frozenset[str]
    name: str

    def __init__(
        self, data: Mapping[str, dict[str, Any]], explicit: Iterable[str] = (), name: str = ""
    ) -> None:
        super().__init__(data)
        self.explicit = frozenset(explicit)
        self.name = name

    def is_set(self, name: str) -> bool:
        """Whether the user gave ``"section.key"`` (rather than it being a default)."""
        return name in self.explicit


@dataclass
class Schema:
    """The options of one runner, in display order.

    ``legacy_flat=True`` still accepts a flat config of an older release (top-level
    ``key = value`` lines, each key naming one option) with a :class:`DeprecationWarning`.
    """

    name: str
    options: Sequence[Option] = field(default_factory=tuple)
    legacy_flat: bool = False

    def __post_init__(self) -> None:
        self.options = tuple(self.options)
        seen: set[str] = set()
        for o in self.options:
            if o.name in seen:
                raise ValueError(f"schema {self.name}: option {o.name} declared twice")
            seen.add(o.name)

    @property
    def sections(self) -> list[str]:
        return list(dict.fromkeys(o.section for o in self.options))

    def option(self, name: str) -> Option:
        for o in self.options:
            if o.name == name:
                return o
        raise InvalidInputError(f"config: unknown key {name} for {self.name!r}")

    def defaults(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {s: {} for s in self.sections}
        for o in self.options:
            out[o.section][o.key] = o.default
        return out

    def _lookup(self, section: str, key: str) -> Option | None:
        for o in self.options:
            if o.section == section and o.key == key:
                return o
        for o in self.options:
            if f"{section}.{key}" in o.aliases or (o.section == section and key in o.aliases):
                warnings.warn(
                    f"config key {section}.{key} is deprecated; use {o.name}",
                    DeprecationWarning,
                    stacklevel=4,
                )
                return o
        return None

    def resolve(self, config: Mapping[str, Any] | None = None) -> ResolvedConfig:
        """Defaults filled in and every value checked (errors name the key)."""
        out = self.defaults()
        explicit: set[str] = set()
        config = {} if config is None else config
        if not isinstance(config, Mapping):
            raise InvalidInputError(f"config must be a mapping, got {type(config).__name__}")
        if self.legacy_flat:
            config = self._unflatten(config)
        for section, values in config.items():
            if not isinstance(values, Mapping):
                raise InvalidInputError(
                    f"config: [{section}] must be a table of options, got {values!r}"
                )
            if section not in out and not any(
                a.startswith(f"{section}.") for p in self.options for a in p.aliases
            ):
                raise InvalidInputError(
                    f"config: unknown section [{section}] for {self.name!r}; "
                    f"sections are {self.sections}"
                )
            for key, value in values.items():
                o = self._lookup(str(section), str(key))
                if o is None:
                    known = sorted(p.key for p in self.options if p.section == section)
                    raise InvalidInputError(
                        f"config: unknown key {section}.{key} for {self.name!r}; known: {known}"
                    )
                out[o.section][o.key] = o.coerce(value)
                explicit.add(o.name)
        for o in self.options:
            if out[o.section][o.key] is REQUIRED:
                raise InvalidInputError(f"config: {o.name} is required ({o.help})")
        return ResolvedConfig(out, explicit, self.name)

    def _unflatten(self, config: Mapping[str, Any]) -> Mapping[str, Any]:
        flat = [k for k, v in config.items() if not isinstance(v, Mapping)]
        if not flat:
            return config
        warnings.warn(
            f"a flat config for {self.name!r} (top-level keys {flat[:3]}...) is deprecated; "
            f"put each key in its section ({', '.join(f'[{s}]' for s in self.sections)}), "
            f"see 'vislang train {self.name} --help'",
            DeprecationWarning,
            stacklevel=4,
        )
        out: dict[str, Any] = {k: dict(v) for k, v in config.items() if isinstance(v, Mapping)}
        for key in flat:
            found = [o for o in self.options if o.key == key or key in o.aliases]
            if len(found) != 1:
                raise InvalidInputError(f"config: unknown key {key} for {self.name!r}")
            out.setdefault(found[0].section, {})[key] = config[key]
        return out

    def help(self) -> str:
        """Every option with its default, as TOML (``vislang train NAME --help``)."""
        lines = [f"# vislang train {self.name}: options (TOML), defaults shown"]
        for section in self.sections:
            lines.append(f"\n[{section}]")
            for o in self.options:
                if o.section != section:
                    continue
                extra = f" (one of {', '.join(map(str, o.choices))})" if o.choices else ""
                lines.append(f"{o.key} = {_toml_value(o.default)}  # {o.help}{extra}")
        return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if value is REQUIRED:
        return '""  # REQUIRED'
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    return json.dumps(value)


def parse_override(text: str) -> tuple[str, str, Any]:
    """``"section.key=value"`` -> ``(section, key, value)``; the value is read as TOML
    (``3``, ``0.5``, ``true``, ``"x"``, ``[1, 2]``), ``none`` as ``None``, anything else as a
    bare string."""
    name, sep, raw = text.partition("=")
    section, dot, key = name.strip().partition(".")
    if not sep or not dot or not section or not key:
        raise InvalidInputError(f"override must look like section.key=value, got {text!r}")
    raw = raw.strip()
    value: Any
    if raw.lower() in ("none", "null"):
        value = None
    else:
        try:
            value = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw
    return section, key.strip(), value


def apply_overrides(config: Mapping[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """A copy of ``config`` with every ``section.key=value`` override applied."""
    out: dict[str, Any] = {s: dict(v) if isinstance(v, Mapping) else v for s, v in config.items()}
    for text in overrides:
        section, key, value = parse_override(text)
        table = out.setdefault(section, {})
        if not isinstance(table, dict):
            raise InvalidInputError(f"config: [{section}] must be a table of options")
        table[key] = value
    return out
