"""Image inputs for the extractors: file paths, NumPy arrays and PIL images, in one place.

Every image becomes a C-contiguous uint8 array, gray ``(height, width)`` or RGB
``(height, width, 3)``, optionally shrunk so that its longer side is at most ``max_side``.

Accepted inputs
---------------
- ``str`` / :class:`os.PathLike`: a file OpenCV can decode (PNG, JPEG, TIFF, BMP, WebP, ...).
  EXIF orientation is applied. 16-bit files are reduced to 8 bits.
- NumPy arrays in RGB order (as PIL, scikit-image and matplotlib use; not OpenCV's BGR):
  ``(H, W)`` gray, ``(H, W, 1)``, ``(H, W, 3)`` RGB or ``(H, W, 4)`` RGBA (alpha is dropped).
  dtypes: ``uint8`` as is; ``bool`` as 0/255; ``uint16`` divided by 257; other integers must lie
  in [0, 255]; floats must be finite and lie in [0, 1] (multiplied by 255) or in [0, 255]
  (used as is): an image whose maximum is <= 1 is read as [0, 1].
- PIL images (any mode: gray modes are converted with ``Image.convert("L")``, the others
  with ``Image.convert("RGB")``, then treated as arrays).

Colour to gray uses OpenCV's ``COLOR_RGB2GRAY`` (ITU-R BT.601 weights).
This module imports OpenCV lazily, at the first image read.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from vislang._deps import require
from vislang.exceptions import InvalidInputError

__all__ = ["as_image_list", "describe_image", "load_image"]

ColorMode = Literal["gray", "rgb"]


def _cv2() -> Any:
    require("cv2", "vislang.features")
    import cv2

    return cv2


def _pil_image_class() -> Any:
    # PIL is never imported here: if the user holds a PIL image, PIL.Image is already loaded.
    mod = sys.modules.get("PIL.Image")
    cls = getattr(mod, "Image", None)
    return cls if isinstance(cls, type) else None


def describe_image(image: Any, index: int) -> str:
    """A short name for error messages: the path for files, else ``image <index> (<type>)``."""
    if isinstance(image, (str, os.PathLike)):
        return str(Path(image))
    return f"image {index} ({type(image).__name__})"


def as_image_list(images: Any) -> list[Any]:
    """The images of a batch as a list, without reading them.

    Parameters
    ----------
    images : iterable of images, or ndarray of shape (n_images, H, W) or (n_images, H, W, C)
        A list/tuple/iterable of file paths, arrays or PIL images, or a stacked array of
        same-sized images (its first axis indexes the images).

    Returns
    -------
    list
        One entry per image (array entries are views).

    Raises
    ------
    InvalidInputError
        ``images`` is a single image rather than a batch (a path, a PIL image, a 2-D array or an
        array that looks like one ``(H, W, 3)`` image).
    """
    if isinstance(images, (str, bytes, os.PathLike)):
        raise InvalidInputError(
            f"images must be a sequence of images, got a single path {images!r}; wrap it in a list"
        )
    pil = _pil_image_class()
    if pil is not None and isinstance(images, pil):
        raise InvalidInputError(
            "images must be a sequence of images, got one PIL image; wrap it in a list"
        )
    if isinstance(images, np.ndarray):
        if images.ndim == 3 and images.shape[-1] in (3, 4) and images.shape[1] > 4:
            raise InvalidInputError(
                f"images has shape {images.shape}, which looks like one RGB image; pass [image] "
                "for a single image, or a stack of shape (n_images, height, width[, channels])"
            )
        if images.ndim not in (3, 4):
            raise InvalidInputError(
                "images as an array must have shape (n_images, height, width) or "
                f"(n_images, height, width, channels), got {images.shape}; "
                "pass [image] for a single image"
            )
        return list(images)
    if not isinstance(images, Iterable):
        raise InvalidInputError(
            f"images must be an iterable of images, got {type(images).__name__}"
        )
    return list(images)


def _read_file(path: str | os.PathLike[str], mode: ColorMode) -> NDArray[np.uint8]:
    cv2 = _cv2()
    name = os.fspath(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise InvalidInputError(f"image file not found: {name}") from None
    except IsADirectoryError:
        raise InvalidInputError(f"image path is a directory, not a file: {name}") from None
    except OSError as e:
        raise InvalidInputError(f"cannot read image file {name}: {e.strerror or e}") from None
    img = None
    if data:
        # Always decode to colour and convert with cvtColor: a file and the same pixels passed
        # as an array then give identical gray images (decoders' own gray paths differ slightly).
        img = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise InvalidInputError(
            f"cannot decode image file {name}: empty, corrupt or not an image format OpenCV reads"
        )
    img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY if mode == "gray" else cv2.COLOR_BGR2RGB)
    return np.ascontiguousarray(img, dtype=np.uint8)


def _to_uint8(arr: NDArray[Any], name: str) -> NDArray[np.uint8]:
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == np.bool_:
        out_b: NDArray[np.uint8] = arr.astype(np.uint8) * np.uint8(255)
        return out_b
    if arr.dtype == np.uint16:
        return np.round(arr / 257.0).astype(np.uint8)
    if np.issubdtype(arr.dtype, np.integer):
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi > 255:
            raise InvalidInputError(
                f"{name}: integer images must lie in [0, 255], got values in [{lo}, {hi}]"
            )
        return arr.astype(np.uint8)
    if np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all():
            raise InvalidInputError(f"{name} contains NaN or inf")
        lo_f, hi_f = float(arr.min()), float(arr.max())
        if lo_f < 0 or hi_f > 255:
            raise InvalidInputError(
                f"{name}: float images must lie in [0, 1] or [0, 255], got values in "
                f"[{lo_f:g}, {hi_f:g}]"
            )
        scaled = arr * 255.0 if hi_f <= 1.0 else arr
        out: NDArray[np.uint8] = np.clip(np.round(scaled), 0, 255).astype(np.uint8)
        return out
    raise InvalidInputError(f"{name} must hold numbers, got dtype {arr.dtype}")


def _from_array(arr: NDArray[Any], mode: ColorMode, name: str) -> NDArray[np.uint8]:
    cv2 = _cv2()
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim == 3 and arr.shape[2] == 4:
        arr = arr[:, :, :3]
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] == 3)):
        raise InvalidInputError(
            f"{name} must have shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), got {arr.shape}"
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InvalidInputError(f"{name} is empty: shape {arr.shape}")
    img = np.ascontiguousarray(_to_uint8(arr, name))
    if mode == "gray" and img.ndim == 3:
        img = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    elif mode == "rgb" and img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
    return np.ascontiguousarray(img)


def load_image(
    image: Any,
    mode: ColorMode = "gray",
    max_side: int | None = None,
    *,
    name: str | None = None,
) -> NDArray[np.uint8]:
    """Read or convert one image to a uint8 gray ``(H, W)`` or RGB ``(H, W, 3)`` array.

    Parameters
    ----------
    image : str, os.PathLike, ndarray or PIL.Image.Image
        See the module documentation for the accepted shapes, dtypes and value ranges.
    mode : {"gray", "rgb"}, default="gray"
        Output colour mode. Gray inputs are replicated to three channels for ``"rgb"``.
    max_side : int, default=None
        If given, shrink the image (area interpolation, aspect ratio kept) so that its longer
        side is at most ``max_side`` pixels. Smaller images are never enlarged.
    name : str, default=None
        Name used in error messages (default: the path, or "image").

    Returns
    -------
    ndarray of shape (H, W) or (H, W, 3), dtype uint8, C-contiguous
        A new array or a view of the input (never modified).

    Raises
    ------
    InvalidInputError
        The file is missing, unreadable or not an image; the array has a bad shape, dtype or
        value range. The message names the file or image.

    Examples
    --------
    >>> import numpy as np
    >>> from vislang.features import load_image
    >>> load_image(np.ones((40, 80, 3)), max_side=20).shape
    (10, 20)
    >>> load_image(np.ones((4, 4))).max()
    np.uint8(255)
    """
    label = name
    if label is None:
        label = str(Path(image)) if isinstance(image, (str, os.PathLike)) else "image"
    if isinstance(image, (str, os.PathLike)):
        img = _read_file(image, mode)
    elif isinstance(image, np.ndarray):
        img = _from_array(image, mode, label)
    else:
        pil = _pil_image_class()
        if pil is not None and isinstance(image, pil):
            # Through RGB/L and then the array path, so that a PIL image and the same pixels as
            # an array give identical results (OpenCV's gray conversion, not PIL's).
            gray_modes = ("1", "L", "LA", "I", "I;16", "F")
            converted = image.convert("L" if image.mode in gray_modes else "RGB")
            img = _from_array(np.asarray(converted), mode, label)
        else:
            raise InvalidInputError(
                f"{label}: expected a file path, a NumPy array or a PIL image, "
                f"got {type(image).__name__}"
            )
    return _shrink(img, max_side)


def _shrink(img: NDArray[np.uint8], max_side: int | None) -> NDArray[np.uint8]:
    if max_side is None:
        return img
    h, w = img.shape[:2]
    longest = max(h, w)
    if longest <= max_side:
        return img
    scale = max_side / longest
    new_w = max(1, min(max_side, round(w * scale)))
    new_h = max(1, min(max_side, round(h * scale)))
    cv2 = _cv2()
    out = cv2.resize(img, (new_w, new_h), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(out, dtype=np.uint8)
