"""The model registry (timm-style): a new model is one file and one decorator.

>>> @register_model("my-model", family="retrieval", description="...")
... class MyModel(nn.Module): ...

:func:`create_model` builds a registered model from keyword arguments, :func:`list_models`
lists the names (optionally of one family), and checkpoint loading, the ``vislang train``
runners and the test sweep read the same table. One class may register several names with
different ``defaults`` (``vse``, ``vse++`` and ``infonce`` are one class with three losses).

Every registered class provides ``model_type`` (its registered name is written to
checkpoints), ``config_dict()`` and the classmethod ``from_config_dict(config)`` (what a
checkpoint sidecar stores), and ``example(**overrides)``: a tiny instance for the test sweep
(a classmethod that builds what the model needs: a vocabulary, labels, ...), with
``example_batch(model)`` giving one training batch for that instance.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from vislang.exceptions import InvalidInputError

__all__ = ["ModelEntry", "create_model", "list_models", "model_entry", "register_model"]

#: Families used by the CLI and the docs to group models.
FAMILIES = ("retrieval", "labels", "captioning", "alignment", "sentence", "gan")

T = TypeVar("T")


@dataclass(frozen=True)
class ModelEntry:
    """One registered name: the class, its family and the config defaults of this name."""

    name: str
    cls: type[Any]
    family: str
    description: str = ""
    defaults: Mapping[str, Any] = field(default_factory=dict)
    factory: Callable[..., Any] | None = None

    def create(self, **kwargs: Any) -> Any:
        build = self.factory or self.cls
        return build(**{**self.defaults, **kwargs})

    def example(self, **overrides: Any) -> Any:
        """A tiny instance of this name (``cls.example`` with this name's defaults)."""
        return self.cls.example(**{**self.defaults, **overrides})


_REGISTRY: dict[str, ModelEntry] = {}


def register_model(
    name: str,
    *,
    family: str,
    description: str = "",
    defaults: Mapping[str, Any] | None = None,
    factory: str | None = None,
) -> Callable[[type[T]], type[T]]:
    """Class decorator: register ``cls`` under ``name``.

    ``factory`` names a classmethod used by :func:`create_model` instead of the constructor
    (for models whose constructor takes built parts such as a vocabulary).
    """
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")

    def decorate(cls: type[T]) -> type[T]:
        if name in _REGISTRY and _REGISTRY[name].cls is not cls:
            raise ValueError(f"model {name!r} is already registered by {_REGISTRY[name].cls}")
        build = getattr(cls, factory) if factory else None
        _REGISTRY[name] = ModelEntry(name, cls, family, description, dict(defaults or {}), build)
        return cls

    return decorate


def _ensure_loaded() -> None:
    # Registration happens on import of the model modules; importing the package does it.
    import vislang.models  # noqa: F401


def model_entry(name: str) -> ModelEntry:
    """The registry entry of ``name``; :class:`InvalidInputError` listing the names if
    unknown."""
    _ensure_loaded()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise InvalidInputError(
            f"unknown model {name!r}; registered models: {', '.join(sorted(_REGISTRY))}"
        ) from None


def create_model(name: str, **kwargs: Any) -> Any:
    """Build the registered model ``name`` (its defaults updated with ``kwargs``)."""
    return model_entry(name).create(**kwargs)


def list_models(family: str | None = None) -> list[str]:
    """Registered model names, sorted (only those of ``family`` when given)."""
    _ensure_loaded()
    return sorted(n for n, e in _REGISTRY.items() if family is None or e.family == family)
