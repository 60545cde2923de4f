"""ORB (Rublee et al. 2011): FAST keypoints with binary rBRIEF descriptors, via OpenCV.

How binary descriptors are clustered
------------------------------------
An ORB descriptor is 256 bits, stored by OpenCV as 32 uint8 bytes. vislang's vocabulary is
Euclidean k-means, so by default (``unpack_bits=True``) the bits are unpacked into a float32
vector of 0s and 1s of length 256. For two such vectors the squared Euclidean distance *equals*
the Hamming distance, so assigning a descriptor to binary words is exactly Hamming matching.
k-means centres become per-bit frequencies in [0, 1] (the usual relaxation of k-majority
clustering; Grana et al. 2013), and rounding them at 0.5 gives the binary (k-majority) word.
Use ``unpack_bits=False`` to keep the packed uint8 bytes (e.g. for OpenCV's Hamming matcher);
:func:`unpack_bits` / :func:`pack_bits` convert between the two forms.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray
from sklearn.utils._param_validation import Interval, StrOptions

from vislang.exceptions import InvalidInputError
from vislang.features._base import Extracted, LocalFeatureExtractor, keypoint_array
from vislang.features.descriptor_set import DescriptorSet
from vislang.features.images import _cv2

__all__ = ["ORB", "pack_bits", "unpack_bits"]

_ORB_BYTES = 32


def unpack_bits(descriptors: Any) -> Any:
    """Packed binary descriptors (uint8 bytes) -> float32 vectors of 0/1 bits.

    Parameters
    ----------
    descriptors : array-like of shape (n, n_bytes), uint8, or DescriptorSet
        Packed descriptors, e.g. ORB's (n, 32).

    Returns
    -------
    ndarray of shape (n, 8 * n_bytes), float32, or DescriptorSet
        Bits in NumPy's big-endian order (``np.unpackbits``). Squared Euclidean distance between
        two rows equals the Hamming distance between the packed descriptors.

    Examples
    --------
    >>> import numpy as np
    >>> from vislang.features import unpack_bits
    >>> unpack_bits(np.array([[5]], np.uint8)).tolist()
    [[0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0]]
    """
    if isinstance(descriptors, DescriptorSet):
        return descriptors.with_descriptors(unpack_bits(descriptors.descriptors))
    x = np.asarray(descriptors)
    if x.dtype != np.uint8 or x.ndim != 2:
        raise InvalidInputError(
            f"packed descriptors must be a 2-D uint8 array, got dtype {x.dtype} shape {x.shape}"
        )
    return np.unpackbits(x, axis=1).astype(np.float32)


def pack_bits(bits: Any) -> Any:
    """Inverse of :func:`unpack_bits`: 0/1 vectors (or bit frequencies) -> packed uint8 bytes.

    Values >= 0.5 become 1, so k-means centres of unpacked descriptors become the binary
    (majority) words.

    Parameters
    ----------
    bits : array-like of shape (n, 8 * n_bytes), or DescriptorSet

    Returns
    -------
    ndarray of shape (n, n_bytes), uint8, or DescriptorSet

    Examples
    --------
    >>> import numpy as np
    >>> from vislang.features import pack_bits
    >>> pack_bits([[0, 0, 0, 0, 0, 0.9, 0.1, 1]]).tolist()
    [[5]]
    """
    if isinstance(bits, DescriptorSet):
        return bits.with_descriptors(pack_bits(bits.descriptors))
    x = np.asarray(bits)
    if x.ndim != 2 or x.shape[1] % 8:
        raise InvalidInputError(
            f"bits must be 2-D with a multiple of 8 columns, got shape {x.shape}"
        )
    return np.packbits(x >= 0.5, axis=1)


class ORB(LocalFeatureExtractor):
    """ORB keypoints and binary descriptors (Rublee et al. 2011), via OpenCV.

    Parameters
    ----------
    n_features : int, default=500
        Maximum number of keypoints kept (by score) per image.
    scale_factor : float, default=1.2
        Pyramid decimation ratio (> 1).
    n_levels : int, default=8
        Number of pyramid levels.
    edge_threshold : int, default=31
        Border in pixels where no keypoints are detected (should be >= ``patch_size``).
    fast_threshold : int, default=20
        FAST corner threshold.
    patch_size : int, default=31
        Side of the patch described by rBRIEF (at level 0).
    score_type : {"harris", "fast"}, default="harris"
        How keypoints are ranked.
    unpack_bits : bool, default=True
        True: descriptors are float32 (n, 256) of 0/1 bits, ready for Euclidean k-means, which on
        these vectors is Hamming clustering (see the module documentation). False: packed
        uint8 (n, 32) as OpenCV returns them.
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
    Keypoint ``scale`` is OpenCV's ``KeyPoint.size``: the side of the described patch
    (``patch_size`` times the pyramid level's scale). Images smaller than about
    ``2 * edge_threshold`` pixels, and textureless images, give empty rows.

    Examples
    --------
    >>> from skimage.data import camera
    >>> from vislang.features import ORB
    >>> ds = ORB(n_features=50).transform([camera()])
    >>> ds.n_dims, ds.dtype
    (256, dtype('float32'))
    >>> ORB(n_features=50, unpack_bits=False).transform([camera()]).n_dims
    32
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **LocalFeatureExtractor._parameter_constraints,
        "n_features": [Interval(Integral, 1, None, closed="left")],
        "scale_factor": [Interval(Real, 1, None, closed="neither")],
        "n_levels": [Interval(Integral, 1, None, closed="left")],
        "edge_threshold": [Interval(Integral, 0, None, closed="left")],
        "fast_threshold": [Interval(Integral, 0, None, closed="left")],
        "patch_size": [Interval(Integral, 2, None, closed="left")],
        "score_type": [StrOptions({"harris", "fast"})],
        "unpack_bits": ["boolean"],
    }

    def __init__(
        self,
        n_features: int = 500,
        scale_factor: float = 1.2,
        n_levels: int = 8,
        edge_threshold: int = 31,
        fast_threshold: int = 20,
        patch_size: int = 31,
        score_type: str = "harris",
        unpack_bits: bool = True,
        max_side: int | None = None,
        n_jobs: int | None = None,
        verbose: bool = False,
        on_error: str = "raise",
    ) -> None:
        self.n_features = n_features
        self.scale_factor = scale_factor
        self.n_levels = n_levels
        self.edge_threshold = edge_threshold
        self.fast_threshold = fast_threshold
        self.patch_size = patch_size
        self.score_type = score_type
        self.unpack_bits = unpack_bits
        self.max_side = max_side
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.on_error = on_error

    @property
    def n_dims(self) -> int:
        """256 (unpacked bits) or 32 (packed bytes)."""
        return 8 * _ORB_BYTES if self.unpack_bits else _ORB_BYTES

    def _empty(self) -> NDArray[Any]:
        dtype = np.float32 if self.unpack_bits else np.uint8
        return np.empty((0, self.n_dims), dtype=dtype)

    def _extract(self, image: NDArray[np.uint8]) -> Extracted:
        cv2 = _cv2()
        orb = cv2.ORB_create(
            nfeatures=int(self.n_features),
            scaleFactor=float(self.scale_factor),
            nlevels=int(self.n_levels),
            edgeThreshold=int(self.edge_threshold),
            firstLevel=0,
            WTA_K=2,  # pairwise tests: one bit each, so Hamming (and bit unpacking) applies
            scoreType=cv2.ORB_HARRIS_SCORE if self.score_type == "harris" else cv2.ORB_FAST_SCORE,
            patchSize=int(self.patch_size),
            fastThreshold=int(self.fast_threshold),
        )
        kps, desc = orb.detectAndCompute(image, None)
        if not kps or desc is None:
            return self._empty(), np.empty((0, 3), np.float32)
        desc = np.ascontiguousarray(desc, dtype=np.uint8)
        out = np.unpackbits(desc, axis=1).astype(np.float32) if self.unpack_bits else desc
        return out, keypoint_array(kps)
