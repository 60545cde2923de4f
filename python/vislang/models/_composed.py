"""Model configs that compose :class:`ImageEncoderConfig` / :class:`TextEncoderConfig`.

A model config holds its encoders' configs (``config.image``, ``config.text``) plus its own
options; the flat keywords of the older configs (``backbone=``, ``word_dim=``, ...) still work as
shorthand for the encoder fields, and read/write properties (``config.backbone``) forward to
them, so checkpoints saved before the split (flat dicts) keep loading.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import asdict, fields
from typing import Any, ClassVar

from vislang.exceptions import InvalidInputError
from vislang.models.image_encoders import ImageEncoderConfig
from vislang.models.text_encoders import TextEncoderConfig
from vislang.models.vocabulary import Vocabulary

__all__ = ["IMAGE_KEYS", "TEXT_KEYS", "forward", "from_dict", "renamed", "split_flat", "to_dict"]

#: Flat keyword -> field of ImageEncoderConfig / TextEncoderConfig.
IMAGE_KEYS = {k: k for k in ("backbone", "feature_dim", "finetune", "image_size")}
TEXT_KEYS = {
    "text_encoder": "kind",
    "word_dim": "word_dim",
    "num_layers": "num_layers",
    "bidirectional": "bidirectional",
}


def forward(part: str, name: str, doc: str = "") -> Any:
    """A read/write property ``config.<name>`` that is ``config.<part>.<name>``."""

    def get(self: Any) -> Any:
        return getattr(getattr(self, part), name)

    def set_(self: Any, value: Any) -> None:
        setattr(getattr(self, part), name, value)

    return property(get, set_, doc=doc or f"Same as ``{part}.{name}``.")


def split_flat(
    owner: str,
    flat: dict[str, Any],
    image: ImageEncoderConfig,
    text: TextEncoderConfig | None = None,
    *,
    embed_dim_to_text: bool = True,
) -> None:
    """Apply flat keywords (``backbone=``, ``embed_dim=``, ``word_dim=`` ...) to the encoder
    configs in place; anything else is a :class:`TypeError` naming ``owner``."""
    for key in list(flat):
        value = flat.pop(key)
        if key in IMAGE_KEYS:
            setattr(image, IMAGE_KEYS[key], value)
        elif key == "embed_dim":
            image.embed_dim = value
            if text is not None and embed_dim_to_text:
                text.embed_dim = value
        elif text is not None and key in TEXT_KEYS:
            setattr(text, TEXT_KEYS[key], value)
        else:
            raise TypeError(f"{owner}() got an unexpected keyword argument {key!r}")


def renamed(flat: dict[str, Any], old: str, new: str, owner: str, *, warn: bool = True) -> Any:
    """Pop the deprecated keyword ``old`` (a :class:`DeprecationWarning` unless ``warn`` is
    false: old checkpoints load silently)."""
    value = flat.pop(old)
    if warn:
        warnings.warn(
            f"{owner}({old}=...) is deprecated; use {new}=", DeprecationWarning, stacklevel=4
        )
    return value


def from_dict(cls: Any, config: Mapping[str, Any], renames: Mapping[str, str] | None = None) -> Any:
    """A config from its saved dict: nested (``{"image": {...}, ...}``) or the flat layout of
    older checkpoints. Unknown keys raise :class:`InvalidInputError`."""
    data = dict(config)
    for old, new in (renames or {}).items():
        if old in data:
            data[new] = data.pop(old)
    try:
        if "image" in data:
            data["image"] = ImageEncoderConfig(**data["image"])
            if "text" in data:
                data["text"] = TextEncoderConfig(**data["text"])
        return cls(**data)
    except TypeError as exc:
        raise InvalidInputError(f"model config: {exc}") from None


def strict_config(cls: Any, data: Mapping[str, Any], what: str = "model config") -> Any:
    """``cls(**data)`` for a dataclass config; keys it does not have raise
    :class:`InvalidInputError` naming them."""
    unknown = sorted(set(data) - {f.name for f in fields(cls)})
    if unknown:
        raise InvalidInputError(f"{what}: unknown keys {unknown}")
    return cls(**dict(data))


def to_dict(config: Any) -> dict[str, Any]:
    """The nested dict saved in checkpoints."""
    return {f.name: _plain(getattr(config, f.name)) for f in fields(config)}


def _plain(value: Any) -> Any:
    return asdict(value) if hasattr(value, "__dataclass_fields__") else value


class ImageEncoderOptions:
    """Base of the configs made of one image encoder plus loss options (DeViSE, WSABIE): the
    flat encoder keywords as attributes, and the checkpoint dict round trip."""

    image: ImageEncoderConfig

    backbone = forward("image", "backbone")
    feature_dim = forward("image", "feature_dim")
    finetune = forward("image", "finetune")
    image_size = forward("image", "image_size")
    embed_dim = forward("image", "embed_dim")

    @classmethod
    def from_dict(cls, config: Mapping[str, Any]) -> Any:
        """From :meth:`to_dict` or the flat dict of a checkpoint saved before the split."""
        return from_dict(cls, config)

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)


class VocabularyConfigModel:
    """Checkpoint round trip of a model built as ``cls(vocab, config)`` whose config class
    (``config_class``) has ``to_dict`` / ``from_dict``: mixed in before
    :class:`~vislang.models.base.CrossModalModel`."""

    config_class: ClassVar[Any]

    def config_dict(self: Any) -> dict[str, Any]:
        return {"model": self.config.to_dict(), "vocab": self.vocab.to_dict()}

    @classmethod
    def from_config_dict(cls, config: dict[str, Any]) -> Any:
        vocab = Vocabulary.from_dict(config["vocab"])
        return cls(vocab, cls.config_class.from_dict(config["model"]))  # type: ignore[call-arg]
