"""Shared machinery of the extractors: the sklearn base class and the parallel image loop.

Images are read and described in a thread pool. OpenCV releases the GIL inside
``imdecode`` / ``detectAndCompute``, so threads scale without pickling images to processes.
While a pool runs, OpenCV's own thread pool is limited to one thread (restored afterwards) so
that ``n_jobs`` workers do not each start ``n_cores`` OpenCV threads.
"""

from __future__ import annotations

import os
import sys
import threading
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from numbers import Integral
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import Interval, StrOptions

from vislang._validation import threads_from
from vislang.exceptions import InvalidInputError
from vislang.features.descriptor_set import DescriptorSet
from vislang.features.images import ColorMode, _cv2, as_image_list, describe_image, load_image

# (descriptors of shape (n_i, n_dims), keypoints of shape (n_i, 3) float32)
Extracted = tuple[NDArray[Any], NDArray[np.float32]]

# Images per task: large enough to amortise the executor's per-task cost on tiny images
# (CIFAR-sized), small enough to balance the load and keep the progress bar moving.
_MAX_CHUNK = 16

_cv_lock = threading.Lock()
_cv_users = 0
_cv_saved = 1


@contextmanager
def _opencv_single_threaded() -> Iterator[None]:
    """Limit OpenCV to one internal thread while any vislang pool runs (reference counted)."""
    global _cv_users, _cv_saved
    cv2 = _cv2()
    with _cv_lock:
        if _cv_users == 0:
            _cv_saved = int(cv2.getNumThreads())
            cv2.setNumThreads(1)
        _cv_users += 1
    try:
        yield
    finally:
        with _cv_lock:
            _cv_users -= 1
            if _cv_users == 0:
                cv2.setNumThreads(_cv_saved)


def _caller_stacklevel() -> int:
    """``stacklevel`` for a warning issued by the caller of this function that points at the
    first frame outside vislang and scikit-learn (whose ``set_output`` wraps ``transform``):
    the user's code, not a library file."""
    import sklearn

    import vislang

    inside = tuple(os.path.dirname(m.__file__ or "") + os.sep for m in (vislang, sklearn))
    frame = sys._getframe(2)  # the caller of the function that warns
    level = 2
    while frame is not None and frame.f_code.co_filename.startswith(inside):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level


def keypoint_array(kps: Any) -> NDArray[np.float32]:
    """``(x, y, size)`` of a sequence of ``cv2.KeyPoint`` as a float32 array of shape (n, 3)."""
    out = np.empty((len(kps), 3), dtype=np.float32)
    for i, k in enumerate(kps):
        out[i] = (k.pt[0], k.pt[1], k.size)
    return out


def _n_threads(n_jobs: int | None, n_tasks: int) -> int:
    threads = threads_from(n_jobs)
    if threads is None:  # vislang convention: None = every core this process may use
        threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
        threads = threads or os.cpu_count() or 1
    return max(1, min(threads, n_tasks))


class LocalFeatureExtractor(TransformerMixin, BaseEstimator):
    """Base class of the extractors: ``transform(images)`` -> :class:`DescriptorSet`.

    Subclasses store their parameters in ``__init__`` and implement :meth:`_extract`
    (one prepared image -> descriptors and keypoints), :meth:`_empty` and
    :attr:`_color_mode`. The extractors are stateless: :meth:`fit` only checks the parameters.
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "max_side": [Interval(Integral, 1, None, closed="left"), None],
        "n_jobs": [Integral, None],
        "verbose": ["verbose"],
        "on_error": [StrOptions({"raise", "skip"})],
    }

    max_side: int | None
    n_jobs: int | None
    verbose: bool | int
    on_error: str

    # ------------------------------------------------------------ to implement
    @property
    def _color_mode(self) -> ColorMode:
        return "gray"

    def _extract(self, image: NDArray[np.uint8]) -> Extracted:
        raise NotImplementedError

    def _empty(self) -> NDArray[Any]:
        """Descriptors of an image without keypoints: shape (0, n_dims), the output dtype."""
        raise NotImplementedError

    def _check_params(self) -> None:
        """Checks beyond ``_parameter_constraints`` (run before every transform)."""

    # -------------------------------------------------------------- sklearn API
    def fit(self, images: Any = None, y: Any = None) -> LocalFeatureExtractor:
        """Check the parameters; nothing is learned.

        Parameters
        ----------
        images : ignored
        y : ignored

        Returns
        -------
        self
        """
        self._validate_params()
        self._check_params()
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return True

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        tags.input_tags.string = True
        if tags.transformer_tags is not None:
            tags.transformer_tags.preserves_dtype = []
        return tags

    def transform(self, images: Any) -> DescriptorSet:
        """Describe every image.

        Parameters
        ----------
        images : iterable of images, or ndarray of shape (n_images, H, W[, C])
            File paths, NumPy arrays (gray or RGB; uint8, or float in [0, 1] or [0, 255]) or
            PIL images, see :mod:`vislang.features.images`.

        Returns
        -------
        DescriptorSet
            One row per image, in input order, with keypoints ``(x, y, scale)`` in the frame of
            the (possibly resized) image and ``image_sizes`` = that frame's ``(height, width)``.
            An image without keypoints is an empty row; a skipped image (``on_error="skip"``)
            is an empty row with size ``(0, 0)`` (see :attr:`DescriptorSet.skipped`). File
            inputs give the set their paths as ``names``.

        Raises
        ------
        InvalidInputError
            An image cannot be read or converted (the message names the file or image index),
            unless ``on_error="skip"``, which warns and continues.
        """
        self._validate_params()
        self._check_params()
        items = as_image_list(images)
        results = self._run(items)
        descriptors: list[NDArray[Any]] = []
        keypoints: list[NDArray[np.float32]] = []
        sizes = np.zeros((len(items), 2), dtype=np.int64)
        level = _caller_stacklevel()
        for i, (res, size, error) in enumerate(results):
            if error is not None:  # warn from the calling thread, in input order
                warnings.warn(f"skipping {error}", UserWarning, stacklevel=level)
            descriptors.append(res[0])
            keypoints.append(res[1])
            sizes[i] = size
        data = np.concatenate([self._empty(), *descriptors], axis=0)
        counts = np.array([d.shape[0] for d in descriptors], dtype=np.int64)
        offsets = np.zeros(len(items) + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        kps = np.concatenate([np.empty((0, 3), np.float32), *keypoints], axis=0)
        paths = all(isinstance(it, (str, os.PathLike)) for it in items)
        names = [describe_image(it, i) for i, it in enumerate(items)] if paths else None
        return DescriptorSet(data, offsets, kps, sizes, names)

    # ------------------------------------------------------------- the loop
    def _one(self, index: int, item: Any) -> tuple[Extracted, tuple[int, int], str | None]:
        name = describe_image(item, index)
        try:
            img = load_image(item, self._color_mode, self.max_side, name=name)
        except InvalidInputError as e:
            if self.on_error == "raise":
                raise
            return (self._empty(), np.empty((0, 3), np.float32)), (0, 0), str(e)
        cv2 = _cv2()
        try:
            desc, kps = self._extract(img)
        except cv2.error as e:
            msg = f"OpenCV failed on {name} of shape {img.shape}: {e}"
            if self.on_error == "raise":
                raise InvalidInputError(msg) from e
            return (self._empty(), np.empty((0, 3), np.float32)), (0, 0), msg
        return (desc, kps), (int(img.shape[0]), int(img.shape[1])), None

    def _run(self, items: list[Any]) -> list[tuple[Extracted, tuple[int, int], str | None]]:
        n = len(items)
        threads = _n_threads(self.n_jobs, n)
        bar = None
        if self.verbose:
            from tqdm.auto import tqdm

            bar = tqdm(total=n, desc=type(self).__name__, unit="img", leave=False)
        try:
            if threads == 1:
                out = []
                for i, item in enumerate(items):
                    out.append(self._one(i, item))
                    if bar is not None:
                        bar.update(1)
                return out
            chunk = max(1, min(_MAX_CHUNK, n // (4 * threads)))
            starts = range(0, n, chunk)

            def work(start: int) -> list[tuple[Extracted, tuple[int, int], str | None]]:
                return [self._one(i, items[i]) for i in range(start, min(start + chunk, n))]

            out = []
            with _opencv_single_threaded():
                pool = ThreadPoolExecutor(
                    max_workers=threads, thread_name_prefix="vislang-features"
                )
                try:
                    # map() yields in submission order: results do not depend on scheduling.
                    for part in pool.map(work, starts):
                        out.extend(part)
                        if bar is not None:
                            bar.update(len(part))
                finally:
                    pool.shutdown(wait=True, cancel_futures=True)
            return out
        finally:
            if bar is not None:
                bar.close()
