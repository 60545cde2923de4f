"""SIFT-family extractors: ``SIFT`` (Lowe 2004), ``DenseSIFT`` (PHOW, Bosch et al. 2007 / VLFeat),
``RootSIFT`` (Arandjelović & Zisserman 2012) and colour SIFT (van de Sande et al. 2010).

``SIFT`` uses OpenCV's SIFT implementation (``cv2.SIFT_create``); ``DenseSIFT`` uses the Rust
kernel ``vislang._core.dense_sift`` (VLFeat's ``vl_dsift`` way) by default and OpenCV with
``backend="opencv"``. Descriptors are float32 of shape
(n, 128), integer-valued in [0, 255] (OpenCV's normalise, clip at 0.2, renormalise, times 512).
With ``color="rgb"`` or ``"opponent"`` the descriptor of each channel is computed at the same
keypoints and the three are concatenated: shape (n, 384), channel after channel.

Keypoint ``scale`` is OpenCV's ``KeyPoint.size``: the descriptor's spatial bins are
``1.5 * size`` pixels wide, so the described square has side ``6 * size`` (4 bins).
"""

from __future__ import annotations

import functools
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions

from vislang.exceptions import InternalError, InvalidInputError
from vislang.features._base import Extracted, LocalFeatureExtractor, _n_threads, keypoint_array
from vislang.features.descriptor_set import DescriptorSet
from vislang.features.images import (
    ColorMode,
    _cv2,
    as_image_list,
    describe_image,
    load_image,
)

__all__ = ["SIFT", "DenseSIFT", "RootSIFT", "opponent_channels", "root_sift"]

_SIFT_DIMS = 128
# OpenCV: bin width = SIFT_DESCR_SCL_FCTR (3) * size / 2, i.e. 1.5 * KeyPoint.size.
_BIN_PER_SIZE = 1.5

_COLOR_CONSTRAINT = [StrOptions({"rgb", "opponent"}), None]


def opponent_channels(rgb: NDArray[np.uint8]) -> list[NDArray[np.uint8]]:
    """The opponent colour channels of an RGB uint8 image, each rescaled to uint8.

    ``O1 = (R - G) / sqrt(2)``, ``O2 = (R + G - 2B) / sqrt(6)``, ``O3 = (R + G + B) / sqrt(3)``
    (van de Sande et al. 2010, Eq. 7). Each channel is mapped linearly onto [0, 255]
    (``(R - G + 255) / 2``, ``(R + G - 2B + 510) / 4``, ``(R + G + B) / 3``): SIFT normalises
    each channel's descriptor, so the linear map only costs rounding.

    Parameters
    ----------
    rgb : ndarray of shape (H, W, 3), dtype uint8

    Returns
    -------
    list of 3 ndarrays of shape (H, W), dtype uint8

    Examples
    --------
    >>> import numpy as np
    >>> from vislang.features import opponent_channels
    >>> [int(c[0, 0]) for c in opponent_channels(np.array([[[255, 0, 0]]], np.uint8))]
    [255, 191, 85]
    """
    c = rgb.astype(np.int32)
    r, g, b = c[..., 0], c[..., 1], c[..., 2]
    chans = [(r - g + 255) / 2.0, (r + g - 2 * b + 510) / 4.0, (r + g + b) / 3.0]
    return [np.ascontiguousarray(np.round(ch).astype(np.uint8)) for ch in chans]


def _color_channels(rgb: NDArray[np.uint8], color: str) -> list[NDArray[np.uint8]]:
    if color == "opponent":
        return opponent_channels(rgb)
    return [np.ascontiguousarray(rgb[:, :, k]) for k in range(3)]


def _compute_channels(
    sift: Any, channels: list[NDArray[np.uint8]], kps: Any
) -> NDArray[np.float32]:
    """Descriptors of each channel at the same keypoints, concatenated column-wise."""
    parts = []
    for ch in channels:
        got, desc = sift.compute(ch, kps)
        if desc is None or len(got) != len(kps):  # SIFT.compute keeps every given keypoint
            raise InternalError(
                f"OpenCV SIFT.compute returned {len(got)} of {len(kps)} keypoints; please report"
            )
        parts.append(desc)
    return np.ascontiguousarray(np.concatenate(parts, axis=1), dtype=np.float32)


class SIFT(LocalFeatureExtractor):
    """SIFT keypoints and descriptors (Lowe 2004), via OpenCV, as a scikit-learn transformer.

    Parameters
    ----------
    n_features : int, default=0
        Keep the best ``n_features`` keypoints by response (0 = all). OpenCV keeps ties at the
        boundary, and a keypoint with several orientations yields several descriptors.
    n_octave_layers : int, default=3
        Layers per octave of the difference-of-Gaussians scale space.
    contrast_threshold : float, default=0.04
        Discard weak extrema (higher = fewer keypoints); OpenCV divides it by
        ``n_octave_layers``.
    edge_threshold : float, default=10
        Discard edge-like extrema (higher = more keypoints).
    sigma : float, default=1.6
        Gaussian blur of the base octave.
    color : {None, "rgb", "opponent"}, default=None
        None: gray SIFT (128-d). ``"rgb"`` / ``"opponent"``: keypoints are detected on the gray
        image and described in each RGB / opponent channel (384-d, van de Sande et al. 2010).
    max_side : int, default=None
        Shrink each image so that its longer side is at most ``max_side`` before extraction.
    n_jobs : int, default=None
        Worker threads (None or -1 = all cores, -2 = all but one). While they run, OpenCV's own
        thread pool is limited to one thread (restored afterwards). Results do not depend on it.
    verbose : bool, default=False
        Show a tqdm progress bar.
    on_error : {"raise", "skip"}, default="raise"
        What to do with an image that cannot be read: raise :class:`InvalidInputError`
        naming it, or warn and return an empty row for it.

    Notes
    -----
    Keypoints are ``(x, y, size)`` with OpenCV's ``KeyPoint.size`` (the descriptor covers a
    square of side ``6 * size`` rotated to the keypoint orientation). An image without
    keypoints (e.g. a constant image) gives an empty row.

    Examples
    --------
    >>> from skimage.data import camera
    >>> from vislang.features import SIFT
    >>> ds = SIFT(n_features=100, max_side=128).transform([camera()])
    >>> ds.n_dims, ds.dtype, ds.image_sizes.tolist()
    (128, dtype('float32'), [[128, 128]])
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **LocalFeatureExtractor._parameter_constraints,
        "n_features": [Interval(Integral, 0, None, closed="left")],
        "n_octave_layers": [Interval(Integral, 1, None, closed="left")],
        "contrast_threshold": [Interval(Real, 0, None, closed="left")],
        "edge_threshold": [Interval(Real, 0, None, closed="left")],
        "sigma": [Interval(Real, 0, None, closed="neither")],
        "color": _COLOR_CONSTRAINT,
    }

    def __init__(
        self,
        n_features: int = 0,
        n_octave_layers: int = 3,
        contrast_threshold: float = 0.04,
        edge_threshold: float = 10,
        sigma: float = 1.6,
        color: str | None = None,
        max_side: int | None = None,
        n_jobs: int | None = None,
        verbose: bool = False,
        on_error: str = "raise",
    ) -> None:
        self.n_features = n_features
        self.n_octave_layers = n_octave_layers
        self.contrast_threshold = contrast_threshold
        self.edge_threshold = edge_threshold
        self.sigma = sigma
        self.color = color
        self.max_side = max_side
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.on_error = on_error

    @property
    def n_dims(self) -> int:
        """Descriptor dimension: 128, or 384 with ``color``."""
        return _SIFT_DIMS * (1 if self.color is None else 3)

    @property
    def _color_mode(self) -> ColorMode:
        return "gray" if self.color is None else "rgb"

    def _empty(self) -> NDArray[Any]:
        return np.empty((0, self.n_dims), dtype=np.float32)

    def _extract(self, image: NDArray[np.uint8]) -> Extracted:
        cv2 = _cv2()
        sift = cv2.SIFT_create(
            nfeatures=int(self.n_features),
            nOctaveLayers=int(self.n_octave_layers),
            contrastThreshold=float(self.contrast_threshold),
            edgeThreshold=float(self.edge_threshold),
            sigma=float(self.sigma),
        )
        if self.color is None:
            kps, desc = sift.detectAndCompute(image, None)
        else:
            kps = sift.detect(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), None)
            desc = _compute_channels(sift, _color_channels(image, self.color), kps) if kps else None
        if not kps or desc is None:
            return self._empty(), np.empty((0, 3), np.float32)
        return np.ascontiguousarray(desc, dtype=np.float32), keypoint_array(kps)


@functools.lru_cache(maxsize=64)
def _grid_array(height: int, width: int, step: int, kp_size: float) -> NDArray[np.float32]:
    """Dense keypoints ``(x, y, kp_size)``, row-major (y outer, x inner); read-only, cached."""
    off = step // 2
    xs = np.arange(off, width, step, dtype=np.float32)
    ys = np.arange(off, height, step, dtype=np.float32)
    gx, gy = np.meshgrid(xs, ys)  # row-major: y outer, x inner
    arr = np.column_stack(
        [gx.ravel(), gy.ravel(), np.full(gx.size, kp_size, dtype=np.float32)]
    ).astype(np.float32)
    arr.flags.writeable = False
    return arr


@functools.lru_cache(maxsize=64)
def _grid(
    height: int, width: int, step: int, kp_size: float
) -> tuple[tuple[Any, ...], NDArray[np.float32]]:
    """Dense keypoints (cached: batches of same-sized images reuse them) and their array."""
    cv2 = _cv2()
    arr = _grid_array(height, width, step, kp_size)
    # angle=0: upright descriptors as in PHOW (OpenCV's default angle -1 would rotate by 1 degree)
    kps = tuple(cv2.KeyPoint(float(x), float(y), float(kp_size), 0.0) for x, y, _ in arr)
    return kps, arr


@functools.lru_cache(maxsize=64)
def _all_sizes_grid(
    height: int, width: int, step: int, kp_sizes: tuple[float, ...]
) -> NDArray[np.float32]:
    """The keypoints of every size, grouped by size (the Rust backend's row order)."""
    arr = np.concatenate(
        [np.empty((0, 3), np.float32)] + [_grid_array(height, width, step, k) for k in kp_sizes]
    )
    arr.flags.writeable = False
    return arr


# Images per native call of the Rust backend: bounds the images held at once and keeps the
# progress bar moving; each call runs its images in parallel.
_RUST_CHUNK = 256


class DenseSIFT(LocalFeatureExtractor):
    """Dense SIFT on a regular grid at several bin sizes, like VLFeat's PHOW (Bosch et al. 2007).

    Every grid point gets one upright SIFT descriptor (4 x 4 spatial bins of ``s`` pixels, a
    ``4s x 4s`` patch, 8 orientations) for every bin size ``s`` in ``sizes``, on the image
    smoothed with a Gaussian of standard deviation ``s / magnif`` (as ``vl_phow``). The grid is
    the same for all sizes and both backends: ``x = step // 2 + i * step < width``,
    ``y = step // 2 + j * step < height``.

    Parameters
    ----------
    step : int, default=8
        Grid spacing in pixels.
    sizes : sequence of float, default=(4, 6, 8, 10)
        SIFT spatial bin sizes in pixels (VLFeat/PHOW ``sizes``); each gives one descriptor per
        grid point, grouped by size in the given order (within a size: row-major).
    magnif : float, default=6.0
        PHOW's smoothing ratio: the image is blurred with sigma ``size / magnif``.
    color : {None, "rgb", "opponent"}, default=None
        Gray (128-d), or per-channel descriptors concatenated (384-d).
    backend : {"rust", "opencv"}, default="rust"
        ``"rust"``: all descriptors of one size at once, VLFeat's ``vl_dsift`` way (orientation
        planes + separable triangular filters, :mod:`vislang._core`), parallel over images.
        ``"opencv"``: OpenCV's ``SIFT.compute`` at every grid point (the behaviour before the
        Rust backend). See Notes for how they differ.
    window : {"flat", "gaussian"}, default="flat"
        Rust backend: spatial weighting, one Gaussian factor per bin (VLFeat's "fast" mode)
        or a Gaussian weight per pixel. Ignored by ``"opencv"``.
    window_size : float, default=1.5
        Rust backend: standard deviation of the spatial Gaussian window, in bins (PHOW 1.5).
    contrast_threshold : float, default=0.005
        Rust backend: a descriptor whose raw norm (gradients of the image in [0, 1], unit-mass
        triangular bins) is at most this is all zeros, as ``vl_phow``'s contrast threshold.
    max_side : int, default=None
        Shrink each image so that its longer side is at most ``max_side`` before extraction.
    n_jobs : int, default=None
        Worker threads (None or -1 = all cores); results do not depend on it. See :class:`SIFT`.
    verbose : bool, default=False
        Show a tqdm progress bar.
    on_error : {"raise", "skip"}, default="raise"
        Raise on an unreadable image, or warn and return an empty row for it.

    Notes
    -----
    Both backends return float32 values that are integers in [0, 255] (normalise, clip at 0.2,
    renormalise, ``round(512 v)`` clipped at 255), in OpenCV's layout (spatial bin row, bin
    column, orientation counter-clockwise from +x with y up), with the same keypoints. The
    keypoint ``scale`` column is OpenCV's ``KeyPoint.size = 2 * s / 3`` (OpenCV's SIFT bin is
    ``1.5 * size`` pixels). Grid points whose patch crosses the image border are kept (samples
    outside the image count as zero), so small images such as CIFAR's 32 x 32 still get
    descriptors and the number of descriptors depends only on the image size. An image
    smaller than ``step // 2 + 1`` pixels gives an empty row.

    The two backends compute different (close) definitions. ``"rust"`` follows
    ``vl_phow``/``vl_dsift``: smoothing sigma ``sqrt((s / magnif)^2 - 1/4)`` on the full
    image, central-difference gradients, bilinear orientation and spatial binning with bin
    centres at ``(b - 1.5) s`` from the grid point, and a flat per-bin window of
    ``window_size`` bins; low-contrast patches (flat ones included) give zero descriptors.
    OpenCV instead describes each point on its Gaussian pyramid level (with its own
    resampling and ``sigma`` handling), rounds the bin positions to its ``1.5 * size`` grid
    with a per-pixel Gaussian window of 2 bins, and normalises every non-flat patch.
    Median cosine similarity between the two per size is measured in
    ``tests/features/test_dsift.py``.

    Examples
    --------
    >>> import numpy as np
    >>> from vislang.features import DenseSIFT
    >>> ds = DenseSIFT(step=8, sizes=(4, 8)).transform(np.zeros((2, 32, 32), np.uint8))
    >>> ds.counts.tolist()  # 4 x 4 grid points x 2 sizes
    [32, 32]
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **LocalFeatureExtractor._parameter_constraints,
        # ranges of step / magnif are checked in _check_params (InvalidInputError)
        "step": [Integral],
        "sizes": ["array-like", Real],
        "magnif": [Real],
        "color": _COLOR_CONSTRAINT,
        "backend": [StrOptions({"rust", "opencv"})],
        "window": [StrOptions({"flat", "gaussian"})],
        "window_size": [Interval(Real, 0, None, closed="neither")],
        "contrast_threshold": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        step: int = 8,
        sizes: Any = (4, 6, 8, 10),
        magnif: float = 6.0,
        color: str | None = None,
        backend: str = "rust",
        window: str = "flat",
        window_size: float = 1.5,
        contrast_threshold: float = 0.005,
        max_side: int | None = None,
        n_jobs: int | None = None,
        verbose: bool = False,
        on_error: str = "raise",
    ) -> None:
        self.step = step
        self.sizes = sizes
        self.magnif = magnif
        self.color = color
        self.backend = backend
        self.window = window
        self.window_size = window_size
        self.contrast_threshold = contrast_threshold
        self.max_side = max_side
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.on_error = on_error

    @property
    def n_dims(self) -> int:
        """Descriptor dimension: 128, or 384 with ``color``."""
        return _SIFT_DIMS * (1 if self.color is None else 3)

    @property
    def keypoint_sizes(self) -> tuple[float, ...]:
        """OpenCV ``KeyPoint.size`` used for each entry of ``sizes`` (``2 * s / 3``)."""
        return tuple(float(s) / _BIN_PER_SIZE for s in self._sizes())

    def _sizes(self) -> tuple[float, ...]:
        sizes = np.atleast_1d(np.asarray(self.sizes, dtype=np.float64))
        return tuple(float(s) for s in sizes)

    def _check_params(self) -> None:
        if isinstance(self.step, bool) or int(self.step) < 1:
            raise InvalidInputError(f"step must be an int >= 1, got {self.step!r}")
        magnif = float(self.magnif)
        if not (np.isfinite(magnif) and magnif > 0):
            raise InvalidInputError(f"magnif must be a positive number, got {self.magnif!r}")
        try:
            sizes = np.atleast_1d(np.asarray(self.sizes, dtype=np.float64))
        except (TypeError, ValueError):
            raise InvalidInputError(f"sizes must be positive numbers, got {self.sizes!r}") from None
        if sizes.ndim != 1 or sizes.size == 0 or not (np.isfinite(sizes) & (sizes > 0)).all():
            raise InvalidInputError(
                f"sizes must be a non-empty sequence of positive numbers, got {self.sizes!r}"
            )

    @property
    def _color_mode(self) -> ColorMode:
        return "gray" if self.color is None else "rgb"

    def _empty(self) -> NDArray[Any]:
        return np.empty((0, self.n_dims), dtype=np.float32)

    def _extract(self, image: NDArray[np.uint8]) -> Extracted:
        if self.backend == "rust":
            desc, _ = self._native([self._channels(image)])
            h, w = image.shape[:2]
            return desc, _all_sizes_grid(h, w, int(self.step), self.keypoint_sizes)
        cv2 = _cv2()
        h, w = image.shape[:2]
        channels = [image] if self.color is None else _color_channels(image, self.color)
        descs, kp_arrays = [], []
        for size in self._sizes():
            kps, arr = _grid(h, w, int(self.step), size / _BIN_PER_SIZE)
            if not kps:
                continue
            # One SIFT object per size: its sigma is the PHOW smoothing size / magnif (OpenCV
            # blurs the base image by sqrt(sigma^2 - 0.5^2), as vl_phow's vl_imsmooth).
            sift = cv2.SIFT_create(sigma=size / float(self.magnif))
            descs.append(_compute_channels(sift, channels, kps))
            kp_arrays.append(arr)
        if not descs:
            return self._empty(), np.empty((0, 3), np.float32)
        return np.concatenate(descs, axis=0), np.concatenate(kp_arrays, axis=0)

    # ------------------------------------------------------------ Rust backend
    def _channels(self, image: NDArray[np.uint8]) -> NDArray[np.uint8]:
        """The array the kernel describes: gray (H, W), or (H, W, 3) RGB / opponent."""
        if self.color == "opponent":
            return np.ascontiguousarray(np.stack(opponent_channels(image), axis=-1))
        return np.ascontiguousarray(image)

    def _native(
        self, images: list[NDArray[np.uint8]], n_threads: int | None = 1
    ) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        from vislang import _core

        desc, counts = _core.dense_sift(
            images,
            step=int(self.step),
            sizes=list(self._sizes()),
            magnif=float(self.magnif),
            window=str(self.window),
            window_size=float(self.window_size),
            contrast_threshold=float(self.contrast_threshold),
            quantize=True,
            n_threads=n_threads,
        )
        return desc, counts

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
            One row per image, in input order, keypoints ``(x, y, scale)`` in the frame of
            the (possibly resized) image and ``image_sizes`` = that frame's ``(height, width)``.
            An image without grid points is an empty row; a skipped image
            (``on_error="skip"``) is an empty row with size ``(0, 0)``.

        Raises
        ------
        InvalidInputError
            Bad parameters (step < 1, sizes or magnif <= 0), or an image that cannot be read
            or converted (the message names the file or image index), unless
            ``on_error="skip"``, which warns and continues.
        """
        if self.backend != "rust":
            return super().transform(images)
        self._validate_params()
        self._check_params()
        items = as_image_list(images)
        n = len(items)
        threads = _n_threads(self.n_jobs, max(n, 1))
        bar = None
        if self.verbose:
            from tqdm.auto import tqdm

            bar = tqdm(total=n, desc=type(self).__name__, unit="img", leave=False)
        # Arrays already in memory and ready as they are: one native call for the whole batch
        # whose output is the result (no per-image conversion, no chunks to concatenate).
        ready = self._ready_arrays(items, range(n)) if bar is None and n > 0 else None
        if ready is not None:
            desc, counts = self._native([self._channels(img) for img in ready], threads)
            sizes = np.array([img.shape[:2] for img in ready], dtype=np.int64)
            offsets = np.zeros(n + 1, dtype=np.int64)
            np.cumsum(counts, out=offsets[1:])
            return DescriptorSet._from_finite(desc, offsets, self._keypoints(sizes), sizes)
        sizes = np.zeros((n, 2), dtype=np.int64)
        parts: list[NDArray[np.float32]] = []
        counts = np.zeros(n, dtype=np.int64)
        try:
            for start in range(0, n, _RUST_CHUNK):
                idx = range(start, min(start + _RUST_CHUNK, n))
                loaded = self._load_chunk(items, idx, threads)
                ok = [i for i, img in zip(idx, loaded, strict=True) if img is not None]
                arrays = [self._channels(img) for img in loaded if img is not None]
                for i, img in zip(idx, loaded, strict=True):
                    if img is not None:
                        sizes[i] = img.shape[:2]
                if arrays:
                    desc, got = self._native(arrays, threads)
                    counts[ok] = got
                    parts.append(desc)
                if bar is not None:
                    bar.update(len(idx))
        finally:
            if bar is not None:
                bar.close()
        if len(parts) == 1 and parts[0].shape[0] == int(counts.sum()):
            data = parts.pop()  # one chunk: its output is the result
        else:
            # One output buffer, filled chunk by chunk (never all descriptors twice at once).
            data = np.empty((int(counts.sum()), self.n_dims), dtype=np.float32)
            pos = 0
            while parts:
                part = parts.pop(0)
                data[pos : pos + part.shape[0]] = part
                pos += part.shape[0]
                del part
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        return DescriptorSet._from_finite(data, offsets, self._keypoints(sizes), sizes)

    def _keypoints(self, sizes: NDArray[np.int64]) -> NDArray[np.float32]:
        """The keypoints of every image of ``sizes`` (skipped images, size 0, have none)."""
        kp_sizes = self.keypoint_sizes
        step = int(self.step)
        if len(sizes) and (sizes == sizes[0]).all() and sizes[0, 0] > 0:
            one = _all_sizes_grid(int(sizes[0, 0]), int(sizes[0, 1]), step, kp_sizes)
            return np.tile(one, (len(sizes), 1))
        return np.concatenate(
            [np.empty((0, 3), np.float32)]
            + [_all_sizes_grid(int(h), int(w), step, kp_sizes) for h, w in sizes if h > 0]
        )

    def _load_chunk(
        self, items: list[Any], idx: range, threads: int
    ) -> list[NDArray[np.uint8] | None]:
        """Read the images of ``idx`` (files decode in threads); ``None`` for skipped ones."""

        ready = self._ready_arrays(items, idx)
        if ready is not None:
            as_loaded: list[NDArray[np.uint8] | None] = list(ready)
            return as_loaded

        def one(i: int) -> tuple[NDArray[np.uint8] | None, str | None]:
            name = describe_image(items[i], i)
            try:
                return load_image(items[i], self._color_mode, self.max_side, name=name), None
            except InvalidInputError as e:
                if self.on_error == "raise":
                    raise
                return None, str(e)

        if threads > 1 and any(isinstance(items[i], (str, os.PathLike)) for i in idx):
            with ThreadPoolExecutor(max_workers=threads) as pool:
                results = list(pool.map(one, idx))
        else:
            results = [one(i) for i in idx]
        out = []
        for img, error in results:
            if error is not None:  # warn from the calling thread, in input order
                warnings.warn(f"skipping {error}", UserWarning, stacklevel=3)
            out.append(img)
        return out

    def _ready_arrays(self, items: list[Any], idx: range) -> list[NDArray[np.uint8]] | None:
        """The images of ``idx`` when every one is already what :func:`load_image` returns.

        That is a non-empty uint8 array of the extractor's colour mode ((H, W) gray or
        (H, W, 3) RGB) within ``max_side``: :func:`load_image` would return it unchanged (as a
        C-contiguous array), so the per-image conversion and its checks are skipped. ``None``
        when any image needs the general path.
        """
        ndim = 2 if self._color_mode == "gray" else 3
        limit = self.max_side
        out = []
        for i in idx:
            img = items[i]
            if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.ndim != ndim:
                return None
            shape = img.shape
            if shape[0] == 0 or shape[1] == 0 or (ndim == 3 and shape[2] != 3):
                return None
            if limit is not None and max(shape[0], shape[1]) > limit:
                return None
            out.append(np.ascontiguousarray(img))
        return out


def root_sift(descriptors: Any, eps: float = 1e-12) -> Any:
    """RootSIFT (Arandjelović & Zisserman 2012): L1-normalise each row, then take square roots.

    Euclidean distance between RootSIFT vectors equals the Hellinger kernel distance between
    the original SIFT histograms. Non-zero rows of the result have unit L2 norm; all-zero rows
    stay zero.

    Parameters
    ----------
    descriptors : array-like of shape (n, d) or DescriptorSet
        Non-negative descriptors (SIFT family).
    eps : float, default=1e-12
        Guards the division for all-zero rows.

    Returns
    -------
    ndarray of shape (n, d), float32, or DescriptorSet
        Same type as the input (a DescriptorSet keeps its offsets and keypoints).

    Raises
    ------
    InvalidInputError
        Negative values, or packed uint8 (binary) descriptors.

    Examples
    --------
    >>> import numpy as np
    >>> from vislang.features import root_sift
    >>> root_sift(np.array([[1.0, 3.0], [0.0, 0.0]])).tolist()
    [[0.5, 0.8660253882408142], [0.0, 0.0]]
    """
    if isinstance(descriptors, DescriptorSet):
        if descriptors.dtype == np.uint8:
            raise InvalidInputError(
                "RootSIFT needs non-negative histogram descriptors, got packed uint8 (binary) "
                "descriptors"
            )
        return descriptors.with_descriptors(root_sift(descriptors.descriptors, eps))
    x = np.asarray(descriptors, dtype=np.float32)
    if x.ndim != 2:
        raise InvalidInputError(f"descriptors must be 2-D (n, d), got shape {x.shape}")
    if x.size and x.min() < 0:
        row = int(np.argmax((x < 0).any(axis=1)))
        raise InvalidInputError(
            f"RootSIFT needs non-negative descriptors, got a negative value at row {row}"
        )
    l1 = x.sum(axis=1, keepdims=True, dtype=np.float64)
    return np.sqrt(x / np.maximum(l1, eps)).astype(np.float32)


class RootSIFT(TransformerMixin, BaseEstimator):
    """RootSIFT descriptors: a SIFT-family extractor followed by :func:`root_sift`.

    Parameters
    ----------
    extractor : SIFT or DenseSIFT, default=None
        The extractor whose descriptors are rooted (None = ``SIFT()``). Its parameters
        (``max_side``, ``n_jobs``, ``color``, ...) apply and are reachable as
        ``extractor__<name>`` in :meth:`set_params` / grid searches.

    Examples
    --------
    >>> import numpy as np
    >>> from skimage.data import camera
    >>> from vislang.features import DenseSIFT, RootSIFT
    >>> ds = RootSIFT(DenseSIFT(step=16, sizes=(8,))).transform([camera()])
    >>> bool(np.allclose(np.linalg.norm(ds.descriptors, axis=1), 1, atol=1e-5))
    True
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "extractor": [HasMethods(["transform"]), None],
    }

    def __init__(self, extractor: Any = None) -> None:
        self.extractor = extractor

    def _inner(self) -> Any:
        return SIFT() if self.extractor is None else self.extractor

    def fit(self, images: Any = None, y: Any = None) -> RootSIFT:
        """Check the parameters; nothing is learned. Returns self."""
        self._validate_params()
        self._inner().fit(images, y)
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return True

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        tags.input_tags.string = True
        return tags

    @property
    def n_dims(self) -> int:
        """Descriptor dimension of the wrapped extractor."""
        return int(self._inner().n_dims)

    def transform(self, images: Any) -> DescriptorSet:
        """Extract with the wrapped extractor and apply :func:`root_sift` to every descriptor.

        Parameters
        ----------
        images : iterable of images
            As for :meth:`SIFT.transform`.

        Returns
        -------
        DescriptorSet
            float32, non-negative, rows of unit L2 norm (all-zero rows stay zero).
        """
        self._validate_params()
        ds = self._inner().transform(images)
        if not isinstance(ds, DescriptorSet):
            raise InvalidInputError(
                f"extractor must return a DescriptorSet, got {type(ds).__name__}"
            )
        result: DescriptorSet = root_sift(ds)
        return result
