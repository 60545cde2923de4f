"""Input checks of the losses: shapes, dtypes, finiteness and positives masks of torch tensors.

The messages match those of the Rust kernels, so both paths fail the same way.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from vislang.exceptions import InvalidInputError

Direction = Literal["both", "i2t", "t2i"]
Backend = Literal["auto", "rust", "torch"]
Reduction = Literal["sum", "mean"]

DIRECTIONS = ("both", "i2t", "t2i")
RUST_DTYPES = (torch.float32, torch.float64)


def check_choice(value: object, name: str, options: tuple[str, ...]) -> None:
    if value not in options:
        allowed = ", ".join(repr(o) for o in options)
        raise InvalidInputError(f"{name} must be one of {allowed}, got {value!r}")


def check_finite_rows(t: Tensor, name: str) -> None:
    """Raise naming the first row of the 2-D ``t`` that holds NaN or inf (one device sync)."""
    bad = ~torch.isfinite(t).all(dim=1)
    if bool(bad.any()):
        raise InvalidInputError(f"{name} contains NaN or inf at row {int(bad.nonzero()[0, 0])}")


def check_embeddings(image_emb: Tensor, text_emb: Tensor, *, finite: bool = True) -> None:
    """Both 2-D, non-empty, same dimension, dtype and device, and (``finite``) finite."""
    for name, t in (("image_emb", image_emb), ("text_emb", text_emb)):
        if not isinstance(t, Tensor):
            raise InvalidInputError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
        if t.ndim != 2:
            raise InvalidInputError(f"{name} must be 2-D (batch, dim), got shape {tuple(t.shape)}")
        if t.shape[0] == 0 or t.shape[1] == 0:
            raise InvalidInputError(f"{name} must be non-empty, got shape {tuple(t.shape)}")
        if not t.is_floating_point():
            raise InvalidInputError(f"{name} must be a floating-point tensor, got {t.dtype}")
    if image_emb.shape[1] != text_emb.shape[1]:
        raise InvalidInputError(
            "image_emb and text_emb must have the same dimension, got "
            f"{image_emb.shape[1]} and {text_emb.shape[1]}"
        )
    if image_emb.dtype != text_emb.dtype:
        raise InvalidInputError(
            f"image_emb and text_emb must have the same dtype, got {image_emb.dtype} "
            f"and {text_emb.dtype}"
        )
    if image_emb.device != text_emb.device:
        raise InvalidInputError(
            f"image_emb and text_emb must be on the same device, got {image_emb.device} "
            f"and {text_emb.device}"
        )
    if finite:
        check_finite_rows(image_emb.detach(), "image_emb")
        check_finite_rows(text_emb.detach(), "text_emb")


def check_scores(scores: Tensor) -> None:
    if not isinstance(scores, Tensor):
        raise InvalidInputError(f"scores must be a torch.Tensor, got {type(scores).__name__}")
    if scores.ndim != 2:
        raise InvalidInputError(
            f"scores must be 2-D (n_images, n_texts), got shape {tuple(scores.shape)}"
        )
    if not scores.is_floating_point():
        raise InvalidInputError(f"scores must be a floating-point tensor, got {scores.dtype}")
    if scores.shape[0] == 0 or scores.shape[1] == 0:
        raise InvalidInputError(f"scores must be non-empty, got shape {tuple(scores.shape)}")


def check_positives(positives: Tensor | None, scores: Tensor) -> Tensor | None:
    """``positives`` as a bool tensor on the device of ``scores`` (None: the diagonal)."""
    rows, cols = scores.shape
    if positives is None:
        if rows != cols:
            raise InvalidInputError(
                f"positives: must be given when scores is not square, got shape ({rows}, {cols})"
            )
        return None
    if not isinstance(positives, Tensor):
        raise InvalidInputError(
            f"positives must be a bool torch.Tensor, got {type(positives).__name__}"
        )
    if tuple(positives.shape) != (rows, cols):
        got = ", ".join(str(s) for s in positives.shape)
        raise InvalidInputError(
            f"positives must have shape ({rows}, {cols}) like scores, got ({got})"
        )
    if positives.dtype != torch.bool:
        if positives.is_floating_point() or positives.is_complex():
            raise InvalidInputError(f"positives must be a bool tensor, got {positives.dtype}")
        positives = positives != 0
    return positives.to(scores.device)


def check_queries_have_positives(positives: Tensor, direction: str) -> None:
    """Every query (row for i2t, column for t2i) needs a positive (as the Rust kernel)."""
    if direction in ("both", "i2t"):
        empty = ~positives.any(dim=1)
        if bool(empty.any()):
            i = int(empty.nonzero()[0, 0])
            raise InvalidInputError(
                f"positives: row {i} has no positive: every image needs a matching text "
                "(or use direction='t2i')"
            )
    if direction in ("both", "t2i"):
        empty = ~positives.any(dim=0)
        if bool(empty.any()):
            j = int(empty.nonzero()[0, 0])
            raise InvalidInputError(
                f"positives: column {j} has no positive: every text needs a matching image "
                "(or use direction='i2t')"
            )


def use_rust(scores: Tensor, backend: str) -> bool:
    """Whether the Rust kernel runs: CPU float32/float64 (``backend='auto'`` or ``'rust'``)."""
    check_choice(backend, "backend", ("auto", "rust", "torch"))
    fits = scores.device.type == "cpu" and scores.dtype in RUST_DTYPES
    if backend == "rust" and not fits:
        raise InvalidInputError(
            "backend='rust' needs float32 or float64 scores on the CPU, got "
            f"{scores.dtype} on {scores.device}"
        )
    return backend != "torch" and fits


def n_positive_pairs(positives: Tensor | None, scores: Tensor) -> int:
    return scores.shape[0] if positives is None else int(positives.sum())
