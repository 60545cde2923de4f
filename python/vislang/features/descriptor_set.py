"""``DescriptorSet``: the local descriptors of many images in one CSR-style container.

All descriptors are stored in one ``(n_descriptors, n_dims)`` matrix; ``offsets[i]:offsets[i + 1]``
are the rows of image ``i`` (scipy.sparse CSR ``indptr``). Optional per-descriptor keypoints
``(x, y, scale)`` and per-image sizes ``(height, width)`` travel with them so that spatial
pyramids can be built later. This module imports NumPy only (no OpenCV).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple, overload

import numpy as np
from numpy.typing import NDArray

from vislang.exceptions import CheckpointError, InvalidInputError

__all__ = ["DescriptorSet", "ImageFeatures"]

_FORMAT = "vislang.DescriptorSet/1"


class ImageFeatures(NamedTuple):
    """The features of one image, as returned by ``descriptor_set[i]``.

    The arrays are views into the :class:`DescriptorSet` (no copy).

    Attributes
    ----------
    descriptors : ndarray of shape (n_i, n_dims)
        The image's descriptors (float32, or uint8 for packed binary descriptors).
    keypoints : ndarray of shape (n_i, 3) or None
        ``x, y, scale`` of each descriptor (float32), or None if the set has no keypoints.
    image_size : tuple of (int, int) or None
        ``(height, width)`` of the image the keypoints refer to, or None if unknown.
    """

    descriptors: NDArray[Any]
    keypoints: NDArray[np.float32] | None
    image_size: tuple[int, int] | None


def _as_descriptors(a: Any, name: str) -> NDArray[Any]:
    """A 2-D float32 (or uint8) matrix; uint8 is kept, every other numeric dtype becomes float32."""
    arr = np.asarray(a)
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise InvalidInputError(f"{name} must hold numbers, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise InvalidInputError(f"{name} must be real, got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise InvalidInputError(
            f"{name} must be 2-D (n_descriptors, n_dims), got shape {arr.shape}"
        )
    if arr.dtype != np.uint8:
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        if arr.size and not np.isfinite(arr.sum(dtype=np.float64)):
            bad = ~np.isfinite(arr).all(axis=1)
            raise InvalidInputError(f"{name} contains NaN or inf at row {int(np.argmax(bad))}")
    return np.ascontiguousarray(arr)


def _as_offsets(a: Any, n: int) -> NDArray[np.int64]:
    arr = np.asarray(a)
    if arr.ndim != 1:
        raise InvalidInputError(f"offsets must be 1-D (n_images + 1,), got shape {arr.shape}")
    if arr.size == 0:
        raise InvalidInputError("offsets must have length n_images + 1 >= 1, got an empty array")
    if not (np.issubdtype(arr.dtype, np.integer) and not np.issubdtype(arr.dtype, np.bool_)):
        raise InvalidInputError(f"offsets must hold integers, got dtype {arr.dtype}")
    arr = np.array(arr, dtype=np.int64)  # own copy: offsets are made read-only below
    if arr[0] != 0:
        raise InvalidInputError(f"offsets must start at 0, got offsets[0]={int(arr[0])}")
    steps = np.diff(arr)
    if (steps < 0).any():
        i = int(np.argmax(steps < 0))
        raise InvalidInputError(
            f"offsets must be non-decreasing, got offsets[{i}]={int(arr[i])} > "
            f"offsets[{i + 1}]={int(arr[i + 1])}"
        )
    if arr[-1] != n:
        raise InvalidInputError(
            f"offsets must end at n_descriptors={n}, got offsets[-1]={int(arr[-1])}"
        )
    arr.flags.writeable = False
    return arr


def _as_keypoints(a: Any, n: int) -> NDArray[np.float32]:
    arr = np.asarray(a)
    if not (
        np.issubdtype(arr.dtype, np.number) and not np.issubdtype(arr.dtype, np.complexfloating)
    ):
        raise InvalidInputError(f"keypoints must hold real numbers, got dtype {arr.dtype}")
    if arr.shape != (n, 3):
        raise InvalidInputError(
            f"keypoints must have shape (n_descriptors, 3) = ({n}, 3) for x, y, scale, "
            f"got {arr.shape}"
        )
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    if arr.size and not np.isfinite(arr).all():
        row = int(np.argmax(~np.isfinite(arr).all(axis=1)))
        raise InvalidInputError(f"keypoints contains NaN or inf at row {row}")
    return arr


def _as_names(a: Any, n_images: int) -> list[str]:
    if isinstance(a, (str, bytes)):
        raise InvalidInputError(
            "names must be a sequence of strings (one per image), got one string"
        )
    names = list(a)
    if len(names) != n_images:
        raise InvalidInputError(f"names has {len(names)} entries but the set has {n_images} images")
    for i, name in enumerate(names):
        if not isinstance(name, str):
            raise InvalidInputError(f"names[{i}] must be a string, got {type(name).__name__}")
    return names


def _as_image_sizes(a: Any, n_images: int) -> NDArray[np.int64]:
    arr = np.asarray(a)
    if arr.shape != (n_images, 2):
        raise InvalidInputError(
            f"image_sizes must have shape (n_images, 2) = ({n_images}, 2) for height, width, "
            f"got {arr.shape}"
        )
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if not np.issubdtype(arr.dtype, np.floating) or not np.array_equal(arr, np.round(arr)):
            raise InvalidInputError(f"image_sizes must hold integers, got dtype {arr.dtype}")
    arr = np.ascontiguousarray(arr, dtype=np.int64)
    if (arr < 0).any():
        row = int(np.argmax((arr < 0).any(axis=1)))
        raise InvalidInputError(f"image_sizes must be >= 0, got {arr[row].tolist()} at image {row}")
    return arr


class DescriptorSet:
    """Local descriptors of ``n_images`` images, concatenated, with CSR-style offsets.

    Parameters
    ----------
    descriptors : array-like of shape (n_descriptors, n_dims)
        All descriptors, image after image. uint8 is kept as is (packed binary descriptors such
        as ORB with ``unpack_bits=False``); every other numeric dtype is stored as float32 (a copy
        is made unless the input already is C-contiguous float32). NaN and inf are rejected.
    offsets : array-like of int, shape (n_images + 1,)
        Rows ``offsets[i]:offsets[i + 1]`` belong to image ``i``. Must start at 0, be
        non-decreasing and end at ``n_descriptors``. An image without descriptors repeats the
        previous offset (an empty row). Stored as a read-only int64 copy.
    keypoints : array-like of shape (n_descriptors, 3), default=None
        ``x, y, scale`` of each descriptor in pixels (float32). ``x`` is the column and ``y``
        the row in the image of size ``image_sizes[i]``; ``scale`` is OpenCV's
        ``KeyPoint.size`` (see the extractor that produced the set).
    image_sizes : array-like of int, shape (n_images, 2), default=None
        ``(height, width)`` of each image, in the frame of the keypoints (after any resize).
        A skipped (unreadable) image has size ``(0, 0)``.
    names : sequence of str, default=None
        An id or path per image (the extractors set the paths of file inputs); kept by
        indexing, :meth:`concat` and :meth:`save` / :meth:`load`.

    Raises
    ------
    InvalidInputError
        A shape, dtype or offset is invalid; the message names the argument and position.

    See Also
    --------
    DescriptorSet.from_list : build a set from one array per image.

    Examples
    --------
    >>> import numpy as np
    >>> from vislang.features import DescriptorSet
    >>> ds = DescriptorSet.from_list([np.ones((3, 4)), np.zeros((0, 4)), np.ones((2, 4))])
    >>> len(ds), ds.n_descriptors, ds.n_dims
    (3, 5, 4)
    >>> ds.offsets.tolist(), ds.counts.tolist()
    ([0, 3, 3, 5], [3, 0, 2])
    >>> ds[2].descriptors.shape
    (2, 4)
    >>> ds[1:].n_images
    2
    """

    __slots__ = ("_descriptors", "_image_sizes", "_keypoints", "_names", "_offsets")

    def __init__(
        self,
        descriptors: Any,
        offsets: Any,
        keypoints: Any = None,
        image_sizes: Any = None,
        names: Any = None,
    ) -> None:
        self._descriptors = _as_descriptors(descriptors, "descriptors")
        n = self._descriptors.shape[0]
        self._offsets = _as_offsets(offsets, n)
        self._keypoints = None if keypoints is None else _as_keypoints(keypoints, n)
        n_images = self._offsets.shape[0] - 1
        self._image_sizes = None if image_sizes is None else _as_image_sizes(image_sizes, n_images)
        self._names = None if names is None else _as_names(names, n_images)

    @classmethod
    def _from_finite(
        cls,
        descriptors: NDArray[np.float32],
        offsets: Any,
        keypoints: Any = None,
        image_sizes: Any = None,
    ) -> DescriptorSet:
        """As the constructor, for a C-contiguous float32 matrix known to be finite.

        For extractors whose output is finite by construction (the Rust dense SIFT): skips
        the finiteness scan over every descriptor value; offsets, keypoints and image sizes
        are validated as usual.
        """
        if descriptors.dtype != np.float32 or descriptors.ndim != 2:
            return cls(descriptors, offsets, keypoints, image_sizes)
        self = cls.__new__(cls)
        self._descriptors = np.ascontiguousarray(descriptors)
        n = descriptors.shape[0]
        self._offsets = _as_offsets(offsets, n)
        self._keypoints = None if keypoints is None else _as_keypoints(keypoints, n)
        n_images = self._offsets.shape[0] - 1
        self._image_sizes = None if image_sizes is None else _as_image_sizes(image_sizes, n_images)
        self._names = None
        return self

    # ------------------------------------------------------------------ builders
    @classmethod
    def from_list(
        cls,
        descriptors: Sequence[Any],
        keypoints: Sequence[Any] | None = None,
        image_sizes: Any = None,
        *,
        n_dims: int | None = None,
        names: Sequence[str] | None = None,
    ) -> DescriptorSet:
        """Build a set from one descriptor array per image.

        Parameters
        ----------
        descriptors : sequence of array-like of shape (n_i, n_dims), or of ImageFeatures
            One entry per image. An image without descriptors may be given as any empty array
            (``np.empty((0, n_dims))``, ``np.empty(0)``, ``[]``). Entries may also be
            :class:`ImageFeatures` (``list(descriptor_set)``), whose keypoints and image sizes
            are then used unless ``keypoints`` / ``image_sizes`` are given.
        keypoints : sequence of array-like of shape (n_i, 3), default=None
            Per-image keypoints ``x, y, scale``.
        image_sizes : array-like of shape (n_images, 2), default=None
            Per-image ``(height, width)``.
        n_dims : int, default=None
            Descriptor dimension, needed only when every image is empty (otherwise inferred).
        names : sequence of str, default=None
            An id or path per image.

        Returns
        -------
        DescriptorSet
            uint8 when every non-empty input is uint8, float32 otherwise.

        Raises
        ------
        InvalidInputError
            The arrays disagree on ``n_dims`` or have the wrong number of dimensions.

        Examples
        --------
        >>> import numpy as np
        >>> from vislang.features import DescriptorSet
        >>> ds = DescriptorSet.from_list([np.ones((2, 3)), []], n_dims=3)
        >>> ds.counts.tolist(), ds.dtype
        ([2, 0], dtype('float32'))
        >>> DescriptorSet.from_list(list(ds)).offsets.tolist()
        [0, 2, 2]
        """
        items = list(descriptors)
        kps_in: list[Any] | None = None if keypoints is None else list(keypoints)
        if kps_in is not None and len(kps_in) != len(items):
            raise InvalidInputError(
                f"keypoints has {len(kps_in)} entries but descriptors has {len(items)} images"
            )
        if items and all(isinstance(it, ImageFeatures) for it in items):
            if kps_in is None and all(it.keypoints is not None for it in items):
                kps_in = [it.keypoints for it in items]
            if image_sizes is None and all(it.image_size is not None for it in items):
                image_sizes = [it.image_size for it in items]
        arrays = [
            np.asarray(it.descriptors if isinstance(it, ImageFeatures) else it) for it in items
        ]
        for i, a in enumerate(arrays):
            if not (a.ndim == 2 or a.size == 0):
                raise InvalidInputError(
                    f"descriptors[{i}] must be 2-D (n_i, n_dims), got shape {a.shape}"
                )
        # Empty entries of any shape (e.g. np.empty(0)) do not fix n_dims; 2-D rows do.
        dims = sorted({a.shape[1] for a in arrays if a.ndim == 2 and a.shape[0] > 0})
        if n_dims is None:
            if len(dims) > 1:
                raise InvalidInputError(f"descriptors disagree on n_dims: {dims}")
            shaped = [a.shape[1] for a in arrays if a.ndim == 2]
            n_dims = dims[0] if dims else (shaped[0] if shaped else 0)
        counts = np.array([a.shape[0] if a.ndim == 2 else 0 for a in arrays], dtype=np.int64)
        for i, (a, c) in enumerate(zip(arrays, counts, strict=True)):
            if c and a.shape[1] != n_dims:
                raise InvalidInputError(
                    f"descriptors[{i}] has {a.shape[1]} columns, expected n_dims={n_dims}"
                )
        non_empty = [
            _as_descriptors(a, f"descriptors[{i}]")
            for i, (a, c) in enumerate(zip(arrays, counts, strict=True))
            if c
        ]
        uint8 = bool(non_empty) and all(a.dtype == np.uint8 for a in non_empty)
        dtype = np.uint8 if uint8 else np.float32
        offsets = np.zeros(len(arrays) + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        data = np.concatenate(
            [np.empty((0, n_dims), dtype=dtype)] + [a.astype(dtype, copy=False) for a in non_empty],
            axis=0,
        )
        kp_data = None
        if kps_in is not None:
            kp_arrays = [np.asarray(k, dtype=np.float32) for k in kps_in]
            for i, (k, c) in enumerate(zip(kp_arrays, counts, strict=True)):
                if k.size == 0 and c == 0:
                    continue
                if k.shape != (c, 3):
                    raise InvalidInputError(
                        f"keypoints[{i}] must have shape ({c}, 3) for x, y, scale, got {k.shape}"
                    )
            kp_data = np.concatenate(
                [np.empty((0, 3), np.float32)] + [k for k in kp_arrays if k.size], axis=0
            )
        return cls(data, offsets, kp_data, image_sizes, names)

    @classmethod
    def concat(cls, sets: Sequence[DescriptorSet]) -> DescriptorSet:
        """Concatenate the images of several sets, in order.

        Keypoints (image sizes) are kept when every set has them and dropped only if none has;
        a mix raises, because silently dropping them would break spatial pyramids later. Image
        names are kept when every set has them.

        Parameters
        ----------
        sets : sequence of DescriptorSet
            At least one set; all with the same ``n_dims`` and dtype.

        Returns
        -------
        DescriptorSet

        Raises
        ------
        InvalidInputError
            No set given, ``n_dims`` or dtypes differ, or keypoints are present in only some sets.

        Examples
        --------
        >>> import numpy as np
        >>> from vislang.features import DescriptorSet
        >>> a = DescriptorSet.from_list([np.ones((2, 3))])
        >>> b = DescriptorSet.from_list([np.ones((1, 3)), np.ones((4, 3))])
        >>> DescriptorSet.concat([a, b]).offsets.tolist()
        [0, 2, 3, 7]
        """
        sets = list(sets)
        if not sets:
            raise InvalidInputError("concat needs at least one DescriptorSet")
        for i, s in enumerate(sets):
            if not isinstance(s, DescriptorSet):
                raise InvalidInputError(
                    f"sets[{i}] must be a DescriptorSet, got {type(s).__name__}"
                )
        first = sets[0]
        for i, s in enumerate(sets[1:], start=1):
            if s.n_dims != first.n_dims or s.dtype != first.dtype:
                raise InvalidInputError(
                    f"sets[{i}] has n_dims={s.n_dims} dtype={s.dtype}, but sets[0] has "
                    f"n_dims={first.n_dims} dtype={first.dtype}"
                )

        def all_or_none(name: str, present: list[bool]) -> bool:
            if any(present) and not all(present):
                missing = present.index(False)
                raise InvalidInputError(
                    f"cannot concat: sets[{present.index(True)}] has {name} but "
                    f"sets[{missing}] has none"
                )
            return all(present)

        with_kps = all_or_none("keypoints", [s.keypoints is not None for s in sets])
        with_sizes = all_or_none("image_sizes", [s.image_sizes is not None for s in sets])
        data = np.concatenate([s.descriptors for s in sets], axis=0)
        counts = np.concatenate([s.counts for s in sets])
        offsets = np.zeros(counts.shape[0] + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        kps = (
            np.concatenate([s._keypoints for s in sets if s._keypoints is not None])
            if with_kps
            else None
        )
        sizes = (
            np.concatenate([s._image_sizes for s in sets if s._image_sizes is not None])
            if with_sizes
            else None
        )
        names = (
            [n for s in sets for n in (s._names or ())]
            if all(s._names is not None for s in sets)
            else None
        )
        return cls(data, offsets, kps, sizes, names)

    def with_names(self, names: Sequence[str] | None) -> DescriptorSet:
        """The same set with an id or path per image (``None`` removes them).

        Examples
        --------
        >>> import numpy as np
        >>> from vislang.features import DescriptorSet
        >>> ds = DescriptorSet.from_list([np.ones((2, 3)), []], n_dims=3).with_names(["a", "b"])
        >>> ds[1:].names
        ['b']
        """
        return type(self)(
            self._descriptors, self._offsets, self._keypoints, self._image_sizes, names
        )

    def with_descriptors(self, descriptors: Any) -> DescriptorSet:
        """A set with the same images, offsets and keypoints but new descriptor rows.

        Parameters
        ----------
        descriptors : array-like of shape (n_descriptors, n_dims_new)
            One new row per existing descriptor (e.g. the RootSIFT of each row).

        Returns
        -------
        DescriptorSet

        Examples
        --------
        >>> import numpy as np
        >>> from vislang.features import DescriptorSet
        >>> ds = DescriptorSet.from_list([np.full((2, 3), 4.0)])
        >>> ds.with_descriptors(np.sqrt(ds.descriptors)).descriptors[0].tolist()
        [2.0, 2.0, 2.0]
        """
        arr = _as_descriptors(descriptors, "descriptors")
        if arr.shape[0] != self.n_descriptors:
            raise InvalidInputError(
                f"descriptors must have {self.n_descriptors} rows (one per existing descriptor), "
                f"got {arr.shape[0]}"
            )
        return type(self)(arr, self._offsets, self._keypoints, self._image_sizes, self._names)

    # ---------------------------------------------------------------- properties
    @property
    def descriptors(self) -> NDArray[Any]:
        """All descriptors, of shape (n_descriptors, n_dims), float32 or uint8."""
        return self._descriptors

    @property
    def offsets(self) -> NDArray[np.int64]:
        """Read-only int64 array of shape (n_images + 1,): image ``i`` owns rows
        ``offsets[i]:offsets[i + 1]``."""
        return self._offsets

    @property
    def keypoints(self) -> NDArray[np.float32] | None:
        """``x, y, scale`` per descriptor, of shape (n_descriptors, 3), or None."""
        return self._keypoints

    @property
    def image_sizes(self) -> NDArray[np.int64] | None:
        """``(height, width)`` per image, of shape (n_images, 2), or None."""
        return self._image_sizes

    @property
    def names(self) -> list[str] | None:
        """An id or path per image (a copy), or None when the set has none."""
        return None if self._names is None else list(self._names)

    @property
    def skipped(self) -> NDArray[np.bool_]:
        """Whether each image was skipped as unreadable (``on_error="skip"``: size ``(0, 0)``);
        all False when the set has no image sizes."""
        if self._image_sizes is None:
            return np.zeros(self.n_images, dtype=bool)
        return np.asarray((self._image_sizes == 0).all(axis=1))

    @property
    def n_images(self) -> int:
        """Number of images (rows), including images without descriptors."""
        return int(self._offsets.shape[0] - 1)

    @property
    def n_descriptors(self) -> int:
        """Total number of descriptors over all images."""
        return int(self._descriptors.shape[0])

    @property
    def n_dims(self) -> int:
        """Descriptor dimension ``d``."""
        return int(self._descriptors.shape[1])

    @property
    def dtype(self) -> np.dtype[Any]:
        """dtype of the descriptors (float32, or uint8 for packed binary descriptors)."""
        return self._descriptors.dtype

    @property
    def counts(self) -> NDArray[np.int64]:
        """Number of descriptors per image, of shape (n_images,)."""
        return np.diff(self._offsets)

    @property
    def image_ids(self) -> NDArray[np.int64]:
        """Image index of each descriptor, of shape (n_descriptors,) (the CSR row of each entry)."""
        return np.repeat(np.arange(self.n_images, dtype=np.int64), self.counts)

    # ------------------------------------------------------------------ sequence
    def __len__(self) -> int:
        return self.n_images

    @overload
    def __getitem__(self, index: int | np.integer[Any]) -> ImageFeatures: ...

    @overload
    def __getitem__(self, index: slice | Sequence[int] | NDArray[Any]) -> DescriptorSet: ...

    def __getitem__(self, index: Any) -> ImageFeatures | DescriptorSet:
        """``ds[i]`` -> :class:`ImageFeatures` (views); ``ds[1:3]``, ``ds[[0, 2]]``, ``ds[mask]``
        -> a new :class:`DescriptorSet` with those images (a copy)."""
        if isinstance(index, (int, np.integer)) and not isinstance(index, bool):
            n = self.n_images
            i = int(index)
            if not -n <= i < n:
                raise IndexError(f"image index {i} out of range for {n} images")
            i %= n
            lo, hi = int(self._offsets[i]), int(self._offsets[i + 1])
            kps = None if self._keypoints is None else self._keypoints[lo:hi]
            size = None
            if self._image_sizes is not None:
                size = (int(self._image_sizes[i, 0]), int(self._image_sizes[i, 1]))
            return ImageFeatures(self._descriptors[lo:hi], kps, size)
        if isinstance(index, slice):
            idx = np.arange(self.n_images)[index]
        else:
            arr = np.asarray(index)
            if arr.dtype == np.bool_:
                if arr.shape != (self.n_images,):
                    raise IndexError(
                        f"boolean index must have shape ({self.n_images},), got {arr.shape}"
                    )
                idx = np.flatnonzero(arr)
            elif arr.ndim == 1 and (arr.size == 0 or np.issubdtype(arr.dtype, np.integer)):
                idx = arr.astype(np.int64)
                if idx.size and (idx.min() < -self.n_images or idx.max() >= self.n_images):
                    raise IndexError(f"image index out of range for {self.n_images} images")
                idx %= max(self.n_images, 1)
            else:
                raise IndexError(
                    f"index must be an int, a slice, a 1-D integer array or a boolean mask, "
                    f"got {index!r}"
                )
        return self._take(idx)

    def _take(self, idx: NDArray[np.int64]) -> DescriptorSet:
        starts, ends = self._offsets[idx], self._offsets[idx + 1]
        counts = ends - starts
        offsets = np.zeros(idx.shape[0] + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        # Row indices of the selected images, without a per-image Python loop.
        rows = np.repeat(starts - offsets[:-1], counts) + np.arange(offsets[-1], dtype=np.int64)
        kps = None if self._keypoints is None else self._keypoints[rows]
        sizes = None if self._image_sizes is None else self._image_sizes[idx]
        names = None if self._names is None else [self._names[int(i)] for i in idx]
        return type(self)(self._descriptors[rows], offsets, kps, sizes, names)

    def __iter__(self) -> Iterator[ImageFeatures]:
        for i in range(self.n_images):
            yield self[i]

    def __repr__(self) -> str:
        extras = []
        if self._keypoints is not None:
            extras.append("keypoints")
        if self._image_sizes is not None:
            extras.append("image_sizes")
        if self._names is not None:
            extras.append("names")
        return (
            f"DescriptorSet(n_images={self.n_images}, n_descriptors={self.n_descriptors}, "
            f"n_dims={self.n_dims}, dtype={self.dtype}"
            + (f", with {' and '.join(extras)}" if extras else "")
            + ")"
        )

    def __reduce__(self) -> tuple[type[DescriptorSet], tuple[Any, ...]]:
        # Rebuild through __init__ so that unpickled sets (joblib workers) are validated and
        # their offsets read-only again.
        return (
            type(self),
            (self._descriptors, self._offsets, self._keypoints, self._image_sizes, self._names),
        )

    def to_list(self) -> list[NDArray[Any]]:
        """The descriptors of each image as a list of views, of shapes (n_i, n_dims)."""
        return [f.descriptors for f in self]

    # --------------------------------------------------------------- persistence
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the set to one file: safetensors, or NumPy ``.npz`` if ``path`` ends in ``.npz``.

        Parameters
        ----------
        path : str or os.PathLike
            Destination file (overwritten).

        Raises
        ------
        CheckpointError
            The file cannot be written (the message names it).

        Examples
        --------
        >>> import numpy as np, tempfile, os
        >>> from vislang.features import DescriptorSet
        >>> ds = DescriptorSet.from_list([np.ones((2, 3)), []], n_dims=3)
        >>> with tempfile.TemporaryDirectory() as d:
        ...     ds.save(os.path.join(d, "train.safetensors"))
        ...     DescriptorSet.load(os.path.join(d, "train.safetensors")).counts.tolist()
        [2, 0]
        """
        path = Path(path)
        tensors: dict[str, NDArray[Any]] = {
            "descriptors": self._descriptors,
            "offsets": np.ascontiguousarray(self._offsets),
        }
        if self._keypoints is not None:
            tensors["keypoints"] = self._keypoints
        if self._image_sizes is not None:
            tensors["image_sizes"] = self._image_sizes
        info: dict[str, Any] = {"format": _FORMAT, "n_images": self.n_images}
        if self._names is not None:
            info["names"] = self._names
        meta = json.dumps(info)
        try:
            if path.suffix == ".npz":
                np.savez(path, meta=np.array(meta), **tensors)  # type: ignore[arg-type]
            else:
                from safetensors.numpy import save_file

                save_file(tensors, str(path), metadata={"vislang": meta})
        except Exception as e:  # OSError, or safetensors' SafetensorError for the same I/O faults
            raise CheckpointError(f"cannot write descriptor set file {path}: {e}") from e

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> DescriptorSet:
        """Read a set written by :meth:`save` (format chosen by the ``.npz`` suffix).

        Parameters
        ----------
        path : str or os.PathLike
            A file written by :meth:`save`.

        Returns
        -------
        DescriptorSet

        Raises
        ------
        CheckpointError
            The file is missing, unreadable, corrupt, not a vislang descriptor set, or holds
            inconsistent arrays; the message names the file and the problem.
        """
        path = Path(path)
        if not path.is_file():
            raise CheckpointError(f"descriptor set file not found: {path}")
        try:
            if path.suffix == ".npz":
                with np.load(path, allow_pickle=False) as z:
                    meta = json.loads(str(z["meta"]))
                    tensors = {k: z[k] for k in z.files if k != "meta"}
            else:
                from safetensors import safe_open

                with safe_open(str(path), framework="numpy") as f:
                    meta = json.loads((f.metadata() or {})["vislang"])
                    tensors = {k: f.get_tensor(k) for k in f.keys()}
        except Exception as e:  # any decoding failure means a corrupt or foreign file
            raise CheckpointError(f"cannot read descriptor set file {path}: {e}") from e
        if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
            raise CheckpointError(f"{path} is not a vislang descriptor set file")
        for name in ("descriptors", "offsets"):
            if name not in tensors:
                raise CheckpointError(f"{path} has no '{name}' array")
        try:
            return cls(
                tensors["descriptors"],
                tensors["offsets"],
                tensors.get("keypoints"),
                tensors.get("image_sizes"),
                meta.get("names"),
            )
        except InvalidInputError as e:
            raise CheckpointError(f"{path} holds an invalid descriptor set: {e}") from e
