"""The two dataset types every reader returns: :class:`CaptionDataset` and :class:`TaggedImages`.

Images are either file paths, decoded lazily with Pillow through a bounded LRU cache, or in-memory
``uint8`` arrays of shape (n_images, height, width, 3). Nothing heavy is imported here: Pillow is
imported on the first decode and PyTorch only by ``as_torch``.
"""

from __future__ import annotations

import os
import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, TypeVar

import numpy as np
from numpy.typing import NDArray

from vislang.exceptions import (
    DatasetFormatError,
    ImageLoadError,
    InvalidInputError,
)

if TYPE_CHECKING:
    from PIL import Image as PILImage

__all__ = [
    "CaptionDataset",
    "CaptionExample",
    "DatasetFormatError",
    "ImageLoadError",
    "OnError",
    "TaggedExample",
    "TaggedImages",
    "canonical_split",
    "simple_tokenize",
]

OnError = Literal["raise", "skip"]
ImagesLike = Sequence[str | os.PathLike[str]] | NDArray[np.uint8] | Sequence[NDArray[np.uint8]]

#: Split aliases found in the wild, mapped to the names used by vislang.
_SPLIT_ALIASES = {
    "dev": "val",
    "valid": "val",
    "validation": "val",
    "trn": "train",
    "tst": "test",
}
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def canonical_split(name: str) -> str:
    """Normalise a split name: ``"dev"``/``"valid"``/``"validation"`` become ``"val"``.

    Examples
    --------
    >>> canonical_split("Dev"), canonical_split("train"), canonical_split("restval")
    ('val', 'train', 'restval')
    """
    key = name.strip().lower()
    return _SPLIT_ALIASES.get(key, key)


def simple_tokenize(text: str) -> list[str]:
    """Lower-case word tokens (letters, digits, an inner apostrophe); punctuation is dropped.

    Examples
    --------
    >>> simple_tokenize("A dog's ball, near the shore .")
    ['a', "dog's", 'ball', 'near', 'the', 'shore']
    """
    return _WORD.findall(text.lower())


class _LRUCache:
    """A thread-safe least-recently-used cache of decoded images, bounded by entry count."""

    def __init__(self, max_items: int) -> None:
        self.max_items = max_items
        self._data: OrderedDict[int, NDArray[np.uint8]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __getstate__(self) -> dict[str, Any]:
        # Pickled for DataLoader workers (spawn): send the bound, not the lock or the images.
        return {"max_items": self.max_items}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["max_items"])  # type: ignore[misc]

    def get(self, key: int) -> NDArray[np.uint8] | None:
        with self._lock:
            value = self._data.get(key)
            if value is None:
                self.misses += 1
                return None
            self._data.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: int, value: NDArray[np.uint8]) -> None:
        if self.max_items <= 0:
            return
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.max_items:
                self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)


def _decode(path: Path) -> NDArray[np.uint8]:
    """Decode ``path`` to an RGB uint8 array of shape (height, width, 3), naming it on failure."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            rgb = im.convert("RGB")
            return np.asarray(rgb, dtype=np.uint8)
    except FileNotFoundError:
        raise ImageLoadError(f"image not found: {path}") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageLoadError(f"cannot decode image {path}: {exc}") from exc


def _header_ok(path: Path) -> str | None:
    """None when Pillow recognises ``path`` from its header, else the reason it does not."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.size  # noqa: B018 - touching the header is the point
        return None
    except FileNotFoundError:
        return "missing"
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        return f"corrupt ({exc})"


_Collection = TypeVar("_Collection", bound="_ImageCollection")


class _ImageCollection:
    """Images (paths or arrays), their ids and splits, lazy loading and error policy."""

    # Set by the subclasses' constructors.
    labels: NDArray[np.int64] | None
    classes: list[str] | None
    name: str

    def __init__(
        self,
        images: ImagesLike,
        *,
        ids: Sequence[str] | None,
        splits: Sequence[str] | str | None,
        on_error: OnError,
        cache_size: int,
    ) -> None:
        if on_error not in ("raise", "skip"):
            raise InvalidInputError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
        if cache_size < 0:
            raise InvalidInputError(f"cache_size must be >= 0, got {cache_size}")
        self.on_error: OnError = on_error
        self.cache_size = cache_size
        self._paths: list[Path] | None = None
        self._arrays: NDArray[np.uint8] | list[NDArray[np.uint8]] | None = None
        if isinstance(images, np.ndarray):
            if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
                raise InvalidInputError(
                    "images as an array must be uint8 of shape (n_images, height, width, 3), "
                    f"got {images.dtype} {images.shape}"
                )
            self._arrays = images
            n = images.shape[0]
        else:
            items = list(images)
            if items and all(isinstance(a, np.ndarray) for a in items):
                arrays: list[NDArray[np.uint8]] = []
                for i, a in enumerate(items):
                    assert isinstance(a, np.ndarray)
                    if a.ndim != 3 or a.shape[-1] != 3 or a.dtype != np.uint8:
                        raise InvalidInputError(
                            f"images[{i}] must be uint8 of shape (height, width, 3), "
                            f"got {a.dtype} {a.shape}"
                        )
                    arrays.append(a)
                self._arrays = arrays
            else:
                self._paths = [Path(p) for p in items]  # type: ignore[arg-type]
            n = len(items)
        if ids is None:
            if self._paths is not None:
                ids = [p.name for p in self._paths]
            else:
                ids = [str(i) for i in range(n)]
        self.ids: list[str] = list(ids)
        if isinstance(splits, str) or splits is None:
            self.splits: list[str] = [canonical_split(splits or "unassigned")] * n
        else:
            self.splits = [canonical_split(s) for s in splits]
        for name, seq in (("ids", self.ids), ("splits", self.splits)):
            if len(seq) != n:
                raise InvalidInputError(f"{name} has {len(seq)} entries for {n} images")
        #: ``(image name, reason)`` of every image dropped or skipped under ``on_error="skip"``.
        self.skipped: list[tuple[str, str]] = []
        self._cache = _LRUCache(cache_size)

    # ------------------------------------------------------------------ basics
    def __len__(self) -> int:
        return len(self.ids)

    @property
    def in_memory(self) -> bool:
        """True when the images are arrays held in memory rather than files."""
        return self._arrays is not None

    @property
    def images(self) -> NDArray[np.uint8] | list[NDArray[np.uint8]] | list[Path]:
        """The images as given: an array (or list of arrays) in memory, or the file paths."""
        if self._arrays is not None:
            return self._arrays
        assert self._paths is not None
        return self._paths

    @property
    def paths(self) -> list[Path] | None:
        """The image files, or None for in-memory images."""
        return None if self._paths is None else list(self._paths)

    def image_name(self, index: int) -> str:
        """The file path (or id, for in-memory images) used in error messages."""
        return str(self._paths[index]) if self._paths is not None else self.ids[index]

    def split_counts(self) -> dict[str, int]:
        """Number of images in each split."""
        return dict(Counter(self.splits))

    def _split_indices(self, split: str | Iterable[str]) -> list[int]:
        wanted = (
            {canonical_split(split)} if isinstance(split, str) else set(map(canonical_split, split))
        )
        unknown = wanted - set(self.splits)
        if unknown and not (wanted - unknown):
            raise InvalidInputError(
                f"no images in split {sorted(unknown)}; available: {sorted(set(self.splits))}"
            )
        return [i for i, s in enumerate(self.splits) if s in wanted]

    def _take_images(self, indices: Sequence[int]) -> ImagesLike:
        if self._paths is not None:
            return [self._paths[i] for i in indices]
        if isinstance(self._arrays, np.ndarray):
            return self._arrays[np.asarray(indices, dtype=np.int64)]
        assert self._arrays is not None
        return [self._arrays[i] for i in indices]

    def _subset_base(self: _Collection, idx: list[int]) -> _Collection:
        """A new collection of images ``idx`` (in that order) with their ids, splits and labels;
        the subclass copies its own per-image fields. Files are not re-checked."""
        out = type(self).__new__(type(self))
        _ImageCollection.__init__(
            out,
            self._take_images(idx),
            ids=[self.ids[i] for i in idx],
            splits=[self.splits[i] for i in idx],
            on_error=self.on_error,
            cache_size=self.cache_size,
        )
        out.labels = None if self.labels is None else self.labels[np.asarray(idx, dtype=np.int64)]
        out.classes = self.classes
        out.name = self.name
        out.skipped = list(self.skipped)
        return out

    # ------------------------------------------------------------------ loading
    def load_image(self, index: int) -> NDArray[np.uint8]:
        """Decoded image ``index`` as a uint8 array of shape (height, width, 3).

        Files are decoded with Pillow (converted to RGB) and kept in an LRU cache of
        ``cache_size`` images. The returned array is shared with the cache: do not modify it.

        Raises
        ------
        ImageLoadError
            The file is missing or cannot be decoded (the message names it), whatever
            ``on_error`` says; the torch view and :meth:`iter_images` skip such images in
            ``"skip"`` mode.
        """
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"image index {index} out of range for {n} images")
        index %= n
        if self._arrays is not None:
            return self._arrays[index]
        cached = self._cache.get(index)
        if cached is not None:
            return cached
        assert self._paths is not None
        img = _decode(self._paths[index])
        img.setflags(write=False)
        self._cache.put(index, img)
        return img

    def load_pil(self, index: int) -> PILImage.Image:
        """Image ``index`` as an RGB ``PIL.Image.Image`` (what torchvision transforms take)."""
        from PIL import Image

        return Image.fromarray(np.ascontiguousarray(self.load_image(index)))

    def iter_images(self) -> Iterator[tuple[int, NDArray[np.uint8]]]:
        """Yield ``(index, image)``; in ``"skip"`` mode bad images are recorded and skipped."""
        for i in range(len(self)):
            try:
                yield i, self.load_image(i)
            except ImageLoadError as exc:
                if self.on_error == "raise":
                    raise
                self.skipped.append((self.image_name(i), str(exc)))

    def _bad_files(self, check_headers: bool) -> list[tuple[int, str]]:
        """Indices of files that are missing (or, with ``check_headers``, unrecognisable)."""
        if self._paths is None:
            return []
        bad: list[tuple[int, str]] = []
        for i, p in enumerate(self._paths):
            if not p.is_file():
                bad.append((i, "missing"))
            elif check_headers:
                reason = _header_ok(p)
                if reason is not None:
                    bad.append((i, reason))
        return bad

    def _check_files(self) -> list[int] | None:
        """Apply ``on_error`` to missing files; return the indices to keep (None = all)."""
        bad = self._bad_files(check_headers=self.on_error == "skip")
        if not bad:
            return None
        if self.on_error == "raise":
            i = bad[0][0]
            more = f" ({len(bad)} of {len(self)} images are missing)" if len(bad) > 1 else ""
            raise ImageLoadError(
                f"image not found: {self.image_name(i)}{more}; pass on_error='skip' to drop them"
            )
        drop = {i for i, _ in bad}
        self.skipped.extend((self.image_name(i), reason) for i, reason in bad)
        return [i for i in range(len(self)) if i not in drop]

    def _verified_indices(self) -> list[int]:
        """Fully decode every image; raise on the first failure or list the good ones."""
        keep = []
        for i in range(len(self)):
            try:
                self.load_image(i)
            except ImageLoadError as exc:
                if self.on_error == "raise":
                    raise
                self.skipped.append((self.image_name(i), str(exc)))
                continue
            keep.append(i)
        return keep


class CaptionExample(NamedTuple):
    """One image with its captions, as returned by ``CaptionDataset[i]``."""

    image: NDArray[np.uint8]
    captions: list[str]
    split: str
    id: str
    label: int | None


class CaptionDataset(_ImageCollection):
    """Images, several captions per image, a split per image and optional labels.

    Every caption reader (:func:`~vislang.data.read_flickr8k`, Karpathy JSON, COCO, CSV) and the
    built-in :func:`~vislang.data.make_shapes` world return this type.

    Parameters
    ----------
    images : sequence of paths, or uint8 array of shape (n_images, height, width, 3)
        Image files (decoded lazily) or the images themselves (a list of (h, w, 3) arrays works
        for varying sizes).
    captions : sequence of sequences of str
        ``captions[i]`` are the captions of image ``i`` (at least one each).
    ids : sequence of str, optional
        Image names; default the file names (or ``"0", "1", ...``).
    splits : str or sequence of str, optional
        Split of each image (``"train"``, ``"val"``, ``"test"``, ``"restval"``, ...); aliases
        such as ``"dev"`` become ``"val"``. Default ``"unassigned"``.
    labels : array-like of int of shape (n_images,), optional
        A class index per image, with ``classes`` its names.
    classes : sequence of str, optional
    tokens : sequence of sequences of lists of str, optional
        Pre-tokenised captions shipped with the annotations (Karpathy JSON).
    annotations : sequence, optional
        Any structured per-image annotation (a :class:`~vislang.data.shapes.Scene` for the shapes
        world).
    on_error : {"raise", "skip"}, default="raise"
        What to do with a missing or corrupt image. ``"raise"`` raises
        :class:`ImageLoadError` naming the file (missing files at construction, undecodable ones
        when loaded). ``"skip"`` drops missing files and files Pillow cannot identify at
        construction (one header read per file), skips images that fail to decode in the torch
        view and :meth:`iter_images`, and records every one in :attr:`skipped`.
    cache_size : int, default=256
        Decoded images kept in the LRU cache (0 disables it).
    name : str, default=""
        A label used in ``repr``.

    Examples
    --------
    >>> import numpy as np
    >>> ds = CaptionDataset(np.zeros((2, 4, 4, 3), np.uint8), [["a cat"], ["a dog", "dog"]],
    ...                     splits=["train", "dev"])
    >>> len(ds), ds.n_captions, ds.split_counts()
    (2, 3, {'train': 1, 'val': 1})
    >>> ds.select("val").captions
    [['a dog', 'dog']]
    """

    def __init__(
        self,
        images: ImagesLike,
        captions: Sequence[Sequence[str]],
        *,
        ids: Sequence[str] | None = None,
        splits: Sequence[str] | str | None = None,
        labels: Sequence[int] | NDArray[np.integer[Any]] | None = None,
        classes: Sequence[str] | None = None,
        tokens: Sequence[Sequence[list[str]]] | None = None,
        annotations: Sequence[Any] | None = None,
        on_error: OnError = "raise",
        cache_size: int = 256,
        name: str = "",
    ) -> None:
        super().__init__(images, ids=ids, splits=splits, on_error=on_error, cache_size=cache_size)
        n = len(self.ids)
        self.captions: list[list[str]] = [list(c) for c in captions]
        self.labels: NDArray[np.int64] | None = (
            None if labels is None else np.asarray(labels, dtype=np.int64)
        )
        self.classes: list[str] | None = None if classes is None else list(classes)
        self.tokens: list[list[list[str]]] | None = (
            None if tokens is None else [[list(t) for t in ts] for ts in tokens]
        )
        self.annotations: list[Any] | None = None if annotations is None else list(annotations)
        self.name = name
        for field, seq in (
            ("captions", self.captions),
            ("labels", self.labels),
            ("tokens", self.tokens),
            ("annotations", self.annotations),
        ):
            if seq is not None and len(seq) != n:
                raise InvalidInputError(f"{field} has {len(seq)} entries for {n} images")
        for i, caps in enumerate(self.captions):
            if not caps:
                raise InvalidInputError(f"image {self.ids[i]!r} has no captions")
        keep = self._check_files()
        if keep is not None:
            self._restrict(keep)

    def _restrict(self, keep: list[int]) -> None:
        """Keep only ``keep`` (in place; used while constructing in ``"skip"`` mode)."""
        sub = self.subset(keep)
        self.__dict__.update({k: v for k, v in sub.__dict__.items() if k != "skipped"})

    # ------------------------------------------------------------------ views
    @property
    def n_captions(self) -> int:
        """Total number of captions."""
        return sum(len(c) for c in self.captions)

    def __getitem__(self, index: int) -> CaptionExample:
        label = None if self.labels is None else int(self.labels[index])
        return CaptionExample(
            self.load_image(index),
            list(self.captions[index]),
            self.splits[index],
            self.ids[index],
            label,
        )

    def __repr__(self) -> str:
        where = "in memory" if self.in_memory else "files"
        name = f"{self.name}: " if self.name else ""
        return (
            f"CaptionDataset({name}{len(self)} images ({where}), {self.n_captions} captions, "
            f"splits={self.split_counts()})"
        )

    def subset(self, indices: Sequence[int] | NDArray[np.integer[Any]]) -> CaptionDataset:
        """A new dataset with images ``indices`` (in that order); files are not re-checked."""
        idx = [int(i) for i in indices]
        out = self._subset_base(idx)
        out.captions = [list(self.captions[i]) for i in idx]
        out.tokens = None if self.tokens is None else [self.tokens[i] for i in idx]
        out.annotations = None if self.annotations is None else [self.annotations[i] for i in idx]
        return out

    def select(self, split: str | Iterable[str]) -> CaptionDataset:
        """Images of one split or several (``select(["train", "restval"])``).

        Raises
        ------
        InvalidInputError
            None of the requested splits exists (the message lists the available ones).
        """
        return self.subset(self._split_indices(split))

    def verify(self) -> CaptionDataset:
        """Decode every image once: raise on the first bad one, or (``"skip"``) drop them."""
        return self.subset(self._verified_indices())

    def pairs(self) -> tuple[NDArray[np.int64], list[str]]:
        """Flattened ``(image_index, caption)`` pairs: an int64 array and the captions."""
        index = np.repeat(np.arange(len(self), dtype=np.int64), [len(c) for c in self.captions])
        flat = [c for caps in self.captions for c in caps]
        return index, flat

    def vocabulary(
        self, tokenizer: Callable[[str], list[str]] = simple_tokenize, min_count: int = 1
    ) -> list[str]:
        """Words of all captions seen at least ``min_count`` times, most frequent first."""
        counts: Counter[str] = Counter()
        for caps in self.captions:
            for c in caps:
                counts.update(tokenizer(c))
        return [w for w, k in sorted(counts.items(), key=lambda t: (-t[1], t[0])) if k >= min_count]

    def as_torch(
        self,
        transform: Callable[[Any], Any] | None = None,
        tokenizer: Callable[[str], Any] | None = None,
        *,
        pairs: bool = False,
        report_skipped: bool = False,
    ) -> Any:
        """A ``torch.utils.data.Dataset`` view (PyTorch is imported here, not before).

        Parameters
        ----------
        transform : callable, optional
            Applied to each image as an RGB ``PIL.Image.Image`` (torchvision transforms work).
            Default: a float32 tensor of shape (3, height, width) with values in [0, 1].
        tokenizer : callable, optional
            Applied to each caption (e.g. ``str -> LongTensor``); default keeps the string.
        pairs : bool, default=False
            False: one item per image, ``(image, [caption, ...], index)`` (use a collate
            function that keeps lists). True: one item per caption, ``(image, caption,
            image_index)``, which the default collate handles when the tokenizer returns
            fixed-length tensors.
        report_skipped : bool, default=False
            Add a last field to each item: the images skipped (``on_error="skip"``) while
            loading it, as ``"name<TAB>reason"`` lines ("" for none). DataLoader workers
            (``num_workers > 0``) hold their own copy of the dataset, so their skips reach the
            parent only this way: pass each batch's last field to the view's
            ``record_skipped`` to add them to :attr:`skipped`. Without it, a worker warns on
            each skip.
        """
        from vislang.data._torch import CaptionTorchDataset

        return CaptionTorchDataset(self, transform, tokenizer, pairs, report_skipped)


class TaggedExample(NamedTuple):
    """One image with its tags, as returned by ``TaggedImages[i]``."""

    image: NDArray[np.uint8]
    tags: list[str]
    split: str
    id: str
    label: int | None


class TaggedImages(_ImageCollection):
    """Images with a set of tags (words) each, optionally one class label each.

    Returned by :func:`~vislang.data.read_image_folder` (tags = ``[label name]``) and
    :func:`~vislang.data.read_tag_file`.

    Parameters
    ----------
    images : sequence of paths, or uint8 array of shape (n_images, height, width, 3)
    tags : sequence of sequences of str
        ``tags[i]`` are the words attached to image ``i`` (may be empty).
    labels : array-like of int of shape (n_images,), optional
        Class index per image, with ``classes`` the class names.
    classes : sequence of str, optional
    ids, splits, on_error, cache_size, name
        As for :class:`CaptionDataset`.

    Examples
    --------
    >>> import numpy as np
    >>> ti = TaggedImages(np.zeros((2, 4, 4, 3), np.uint8), [["sky", "sea"], ["sea"]])
    >>> ti.vocabulary(), ti.multi_hot().tolist()
    (['sea', 'sky'], [[1.0, 1.0], [1.0, 0.0]])
    """

    def __init__(
        self,
        images: ImagesLike,
        tags: Sequence[Sequence[str]],
        *,
        labels: Sequence[int] | NDArray[np.integer[Any]] | None = None,
        classes: Sequence[str] | None = None,
        ids: Sequence[str] | None = None,
        splits: Sequence[str] | str | None = None,
        on_error: OnError = "raise",
        cache_size: int = 256,
        name: str = "",
    ) -> None:
        super().__init__(images, ids=ids, splits=splits, on_error=on_error, cache_size=cache_size)
        n = len(self.ids)
        self.tags: list[list[str]] = [list(t) for t in tags]
        self.labels: NDArray[np.int64] | None = (
            None if labels is None else np.asarray(labels, dtype=np.int64)
        )
        self.classes: list[str] | None = None if classes is None else list(classes)
        self.name = name
        for field, seq in (("tags", self.tags), ("labels", self.labels)):
            if seq is not None and len(seq) != n:
                raise InvalidInputError(f"{field} has {len(seq)} entries for {n} images")
        keep = self._check_files()
        if keep is not None:
            sub = self.subset(keep)
            self.__dict__.update({k: v for k, v in sub.__dict__.items() if k != "skipped"})

    def __getitem__(self, index: int) -> TaggedExample:
        label = None if self.labels is None else int(self.labels[index])
        return TaggedExample(
            self.load_image(index),
            list(self.tags[index]),
            self.splits[index],
            self.ids[index],
            label,
        )

    def __repr__(self) -> str:
        where = "in memory" if self.in_memory else "files"
        name = f"{self.name}: " if self.name else ""
        extra = f", {len(self.classes)} classes" if self.classes is not None else ""
        return (
            f"TaggedImages({name}{len(self)} images ({where}), {len(self.vocabulary())} tags"
            f"{extra}, splits={self.split_counts()})"
        )

    def subset(self, indices: Sequence[int] | NDArray[np.integer[Any]]) -> TaggedImages:
        """A new collection with images ``indices`` (in that order); files are not re-checked."""
        idx = [int(i) for i in indices]
        out = self._subset_base(idx)
        out.tags = [list(self.tags[i]) for i in idx]
        return out

    def select(self, split: str | Iterable[str]) -> TaggedImages:
        """Images of one split or several; see :meth:`CaptionDataset.select`."""
        return self.subset(self._split_indices(split))

    def verify(self) -> TaggedImages:
        """Decode every image once: raise on the first bad one, or (``"skip"``) drop them."""
        return self.subset(self._verified_indices())

    def vocabulary(self) -> list[str]:
        """Sorted distinct tags."""
        return sorted({t for ts in self.tags for t in ts})

    def multi_hot(self, vocabulary: Sequence[str] | None = None) -> NDArray[np.float32]:
        """Tag indicator matrix of shape (n_images, n_tags); unknown tags are ignored."""
        vocab = list(vocabulary) if vocabulary is not None else self.vocabulary()
        col = {w: j for j, w in enumerate(vocab)}
        out = np.zeros((len(self), len(vocab)), dtype=np.float32)
        for i, ts in enumerate(self.tags):
            for t in ts:
                j = col.get(t)
                if j is not None:
                    out[i, j] = 1.0
        return out

    def as_torch(
        self,
        transform: Callable[[Any], Any] | None = None,
        tokenizer: Callable[[list[str]], Any] | None = None,
        *,
        target: Literal["auto", "label", "tags", "multi_hot"] = "auto",
        report_skipped: bool = False,
    ) -> Any:
        """A ``torch.utils.data.Dataset`` of ``(image, target)`` (PyTorch is imported here).

        Parameters
        ----------
        transform : callable, optional
            Applied to the RGB ``PIL.Image.Image``; default a float32 (3, h, w) tensor in [0, 1].
        tokenizer : callable, optional
            Applied to the tag list when ``target="tags"``.
        target : {"auto", "label", "tags", "multi_hot"}, default="auto"
            ``"label"``: the class index; ``"tags"``: the tag list (through ``tokenizer``);
            ``"multi_hot"``: a float32 vector over :meth:`vocabulary`. ``"auto"`` is
            ``"label"`` when labels exist, else ``"multi_hot"``.
        report_skipped : bool, default=False
            Add a last field, the images skipped while loading the item; see
            :meth:`CaptionDataset.as_torch`.
        """
        from vislang.data._torch import TaggedTorchDataset

        if target == "auto":
            target = "label" if self.labels is not None else "multi_hot"
        if target == "label" and self.labels is None:
            raise InvalidInputError("target='label' needs labels; these images only have tags")
        if target not in ("label", "tags", "multi_hot"):
            raise InvalidInputError(
                f"target must be 'auto', 'label', 'tags' or 'multi_hot', got {target!r}"
            )
        return TaggedTorchDataset(self, transform, tokenizer, target, report_skipped)
