"""``encode``: bag-of-visual-words encodings of a whole :class:`DescriptorSet` in one native call.

The Rust core (``vislang-core/src/histogram.rs``) finds the nearest words of all descriptors with
the blocked GEMM of :func:`vislang.assign`, accumulates every image's row in parallel with the
GIL released, and applies the tf-idf weights and the norm. There is no per-image Python loop.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray

from vislang import _core
from vislang._deprecation import keyword_only_options
from vislang._scale import check_distance_scale
from vislang._validation import as_float_matrix, threads_from
from vislang.exceptions import InvalidInputError
from vislang.features.descriptor_set import DescriptorSet
from vislang.vocab.assignment import check_precision

__all__ = ["encode", "idf_from_counts", "n_columns", "weight_codes"]

ENCODINGS = ("hard", "soft", "vlad")
NORMS = (None, "l1", "l2", "power")
WEIGHTINGS = (None, "tfidf")


def _centers(vocabulary: Any) -> NDArray[np.float32]:
    """float32 centres from a fitted ``VisualVocabulary`` (or any ``cluster_centers_``) or array."""
    centers = getattr(vocabulary, "cluster_centers_", None)
    if centers is None:
        if hasattr(vocabulary, "fit") and not isinstance(vocabulary, np.ndarray):
            raise InvalidInputError(
                "vocabulary must be fitted (it has no cluster_centers_); call fit first"
            )
        centers = vocabulary
    C = as_float_matrix(centers, "vocabulary centers", dtype=np.float32)
    if not np.isfinite(C).all():
        row = int(np.argmax(~np.isfinite(C).all(axis=1)))
        raise InvalidInputError(f"vocabulary centers contains NaN or inf at row {row}")
    return C


def _descriptor_set(descriptor_set: Any) -> DescriptorSet:
    if isinstance(descriptor_set, DescriptorSet):
        return descriptor_set
    if isinstance(descriptor_set, (list, tuple)):
        return DescriptorSet.from_list(descriptor_set)
    raise InvalidInputError(
        "descriptor_set must be a DescriptorSet or a list of per-image descriptor arrays, "
        f"got {type(descriptor_set).__name__}"
    )


def _pyramid(pyramid: Any) -> list[int]:
    if isinstance(pyramid, numbers.Integral) and not isinstance(pyramid, bool):
        pyramid = (pyramid,)
    if not isinstance(pyramid, Sequence) or isinstance(pyramid, str) or len(pyramid) == 0:
        raise InvalidInputError(
            f"pyramid must be a non-empty sequence of grid sizes such as (1, 2, 4), got {pyramid!r}"
        )
    out = []
    for g in pyramid:
        if not isinstance(g, numbers.Integral) or isinstance(g, bool) or not 1 <= int(g) <= 64:
            raise InvalidInputError(f"pyramid grid sizes must be ints in [1, 64], got {pyramid!r}")
        out.append(int(g))
    return out


def n_columns(n_words: int, n_dims: int, encoding: str = "hard", pyramid: Any = (1,)) -> int:
    """Width of an encoding: ``n_words * cells`` (VLAD: ``n_words * n_dims * cells``).

    Examples
    --------
    >>> from vislang.bovw import n_columns
    >>> n_columns(100, 128, "hard", (1, 2, 4))
    2100
    """
    cells = sum(g * g for g in _pyramid(pyramid))
    return n_words * cells * (n_dims if encoding == "vlad" else 1)


def idf_from_counts(document_counts: Any, n_images: int) -> NDArray[np.float64]:
    """``idf_j = log(N / max(df_j, 1))`` from per-column document counts (the numbers of
    images where each column is positive) of ``N`` images: what ``weighting="tfidf"`` learns,
    for counts added up elsewhere (e.g. over the ranks of a sharded encode)."""
    df = np.asarray(document_counts, dtype=np.float64)
    if df.ndim != 1 or not np.isfinite(df).all() or (df < 0).any():
        raise InvalidInputError("document_counts must be a 1-D array of finite counts >= 0")
    if int(n_images) < 1:
        raise InvalidInputError(f"n_images must be >= 1, got {n_images}")
    out: NDArray[np.float64] = np.log(float(n_images) / np.maximum(df, 1.0))
    return out


def weight_codes(
    codes: Any, idf: Any = None, norm: str | None = "l2", n_jobs: int | None = None
) -> NDArray[np.float32]:
    """Multiply the columns of unnormalised codes (``encode(..., norm=None)``) by ``idf`` and
    normalise the rows: the last step of ``encode(..., weighting="tfidf", norm=norm)``."""
    X = as_float_matrix(codes, "codes", dtype=np.float32)
    idf_arr = None
    if idf is not None:
        idf_arr = np.ascontiguousarray(idf, dtype=np.float64)
        if idf_arr.shape != (X.shape[1],):
            raise InvalidInputError(f"idf must have shape ({X.shape[1]},), got {idf_arr.shape}")
    if norm not in NORMS:
        raise InvalidInputError(f"norm must be one of {NORMS}, got {norm!r}")
    out = _core.weight_and_normalize(
        np.ascontiguousarray(X), idf=idf_arr, norm=norm, n_threads=threads_from(n_jobs)
    )
    return cast("NDArray[np.float32]", out)


def _check_options(
    encoding: Any, k: Any, sigma: Any, weighting: Any, norm: Any, n_words: int
) -> None:
    if encoding not in ENCODINGS:
        raise InvalidInputError(f"encoding must be 'hard', 'soft' or 'vlad', got {encoding!r}")
    if norm not in NORMS:
        raise InvalidInputError(f"norm must be None, 'l1', 'l2' or 'power', got {norm!r}")
    if weighting not in WEIGHTINGS:
        raise InvalidInputError(f"weighting must be None or 'tfidf', got {weighting!r}")
    if weighting == "tfidf" and encoding == "vlad":
        raise InvalidInputError("weighting='tfidf' applies to the 'hard' and 'soft' encodings")
    if encoding == "soft":
        if not isinstance(k, numbers.Integral) or isinstance(k, bool) or not 1 <= int(k) <= n_words:
            raise InvalidInputError(f"k must be an int in [1, n_words={n_words}], got {k!r}")
        if sigma is not None and not (
            isinstance(sigma, numbers.Real) and np.isfinite(float(sigma)) and float(sigma) > 0
        ):
            raise InvalidInputError(f"sigma must be None or a finite number > 0, got {sigma!r}")


def encode_with_state(
    descriptor_set: Any,
    vocabulary: Any,
    *,
    encoding: str = "hard",
    k: int = 5,
    sigma: float | None = None,
    pyramid: Any = (1,),
    weighting: str | None = None,
    norm: str | None = "l2",
    idf: Any = None,
    intra_norm: bool = False,
    n_jobs: int | None = None,
    precision: str = "auto",
) -> tuple[NDArray[np.float32], float | None, NDArray[np.float64] | None]:
    """Like :func:`encode` (dense), also returning the ``sigma`` and ``idf`` that were used."""
    ds = _descriptor_set(descriptor_set)
    C = _centers(vocabulary)
    n_words = C.shape[0]
    _check_options(encoding, k, sigma, weighting, norm, n_words)
    check_precision(precision)
    grids = _pyramid(pyramid)
    if ds.n_dims != C.shape[1]:
        raise InvalidInputError(
            f"descriptors have {ds.n_dims} dimensions, but the vocabulary centers have {C.shape[1]}"
        )
    if intra_norm and encoding != "vlad":
        raise InvalidInputError("intra_norm applies to the 'vlad' encoding only")
    keypoints = image_sizes = None
    if any(g > 1 for g in grids):
        if ds.keypoints is None or ds.image_sizes is None:
            raise InvalidInputError(
                f"pyramid={tuple(grids)} needs keypoints and image_sizes in the descriptor set"
            )
        keypoints, image_sizes = ds.keypoints, ds.image_sizes
    X = np.ascontiguousarray(ds.descriptors, dtype=np.float32)  # uint8 (packed ORB) -> float32
    check_distance_scale("descriptors", X, C)
    n_cols = n_columns(n_words, C.shape[1], encoding, grids)
    idf_arr: NDArray[np.float64] | None = None
    if weighting == "tfidf" and idf is not None:
        idf_arr = np.ascontiguousarray(idf, dtype=np.float64)
        if idf_arr.shape != (n_cols,):
            raise InvalidInputError(f"idf must have shape ({n_cols},), got {idf_arr.shape}")
    threads = threads_from(n_jobs)
    learn_idf = weighting == "tfidf" and idf_arr is None and ds.n_images > 0
    out, used_sigma = _core.encode(
        X,
        np.ascontiguousarray(ds.offsets),
        C,
        encoding=encoding,
        k=int(k) if encoding == "soft" else 1,
        sigma=None if sigma is None else float(sigma),
        pyramid=grids,
        keypoints=keypoints,
        image_sizes=image_sizes,
        idf=idf_arr,
        intra_norm=bool(intra_norm),
        norm=None if learn_idf else norm,
        precision=precision,
        n_threads=threads,
    )
    if learn_idf:  # (with no images there is nothing to weight and no idf to learn)
        idf_arr = _core.idf(out)
        out = _core.weight_and_normalize(out, idf=idf_arr, norm=norm, n_threads=threads)
    # float32 in, float32 out (the native call keeps the descriptors' dtype).
    return cast("NDArray[np.float32]", out), used_sigma, idf_arr


@keyword_only_options("0.3")
def encode(
    descriptor_set: Any,
    vocabulary: Any,
    *,
    encoding: str = "hard",
    k: int = 5,
    sigma: float | None = None,
    pyramid: Any = (1,),
    weighting: str | None = None,
    norm: str | None = "l2",
    n_jobs: int | None = None,
    sparse: bool = False,
    idf: Any = None,
    intra_norm: bool = False,
    precision: str = "auto",
) -> Any:
    """Encode every image of a descriptor set as a bag of visual words, in one native call.

    Options after ``vocabulary`` are keyword-only (passing ``encoding``, ``k``, ... ``sparse``
    by position still works, with a ``DeprecationWarning``, until vislang 0.3).

    Parameters
    ----------
    descriptor_set : DescriptorSet or list of array-like of shape (n_i, n_dims)
        Descriptors of ``n_images`` images (see :class:`vislang.DescriptorSet`). Descriptors
        are used as float32 (uint8 packed descriptors are converted, not unpacked).
    vocabulary : VisualVocabulary or array-like of shape (n_words, n_dims)
        A fitted vocabulary (its ``cluster_centers_``) or the centres themselves (cast to
        float32).

    encoding : {"hard", "soft", "vlad"}, default="hard"
        ``"hard"``: counts of the nearest word. ``"soft"``: kernel codebook (van Gemert et al.
        2010): each descriptor spreads a unit weight over its ``k`` nearest words in
        proportion to ``exp(-d^2 / (2 sigma^2))``. ``"vlad"``: per word, the sum of the residuals
        ``x - c`` of the descriptors assigned to it (Jégou et al. 2010).
    k : int, default=5
        Words per descriptor for ``"soft"``, ``1 <= k <= n_words`` (ignored otherwise).
    sigma : float, default=None
        Bandwidth for ``"soft"``. None: the median of the positive distances (not squared) of
        the encoded descriptors to their nearest word (1 if there is none).
        :class:`BagOfVisualWords` learns it at fit time instead, so that transforms do not
        depend on the batch.
    pyramid : sequence of int, default=(1,)
        Spatial pyramid grid sizes (Lazebnik et al. 2006), e.g. ``(1, 2, 4)``: 1 + 4 + 16 cells.
        A descriptor at ``(x, y)`` in an image of size ``(h, w)`` is in cell
        ``(floor(y g / h), floor(x g / w))`` (clamped). Level ``l`` of ``L + 1`` is weighted
        ``1 / 2^L`` (``l = 0``) or ``1 / 2^(L - l + 1)``. Grids above 1 need keypoints and
        image sizes in the set.
    weighting : {None, "tfidf"}, default=None
        ``"tfidf"`` multiplies column ``j`` by ``idf_j = log(N / max(df_j, 1))``, ``df_j`` the
        number of images where the column is positive (Sivic & Zisserman 2003). Learned from
        this set unless ``idf`` is given. Not for VLAD.
    norm : {"l2", "l1", "power", None}, default="l2"
        Row normalisation after weighting. ``"power"``: signed square root then L2, i.e. the
        Hellinger map of histograms and the power-normalised VLAD of Jégou et al. 2012.
    n_jobs : int, default=None
        Native threads; None uses all cores (or ``RAYON_NUM_THREADS``). The result does not
        depend on it.
    sparse : bool, default=False
        Return a ``scipy.sparse.csr_matrix`` instead of a dense array.
    idf : array-like of shape (n_columns,), default=None
        Fixed idf weights for ``weighting="tfidf"`` (e.g. learned on training images).
    intra_norm : bool, default=False
        VLAD only: L2-normalise each word's residual block before ``norm`` (Arandjelović &
        Zisserman 2013).
    precision : {"auto", "fp32"}, default="auto"
        How the nearest words are found; the encoding is the same (see :func:`vislang.assign`).

    Returns
    -------
    ndarray of shape (n_images, n_words * cells), float32
        VLAD: of shape (n_images, n_words * n_dims * cells). Columns are ordered level by
        level, cell by cell (row-major), word by word (VLAD: then dimension). Images without
        descriptors give zero rows.

    Raises
    ------
    InvalidInputError
        Bad option, dimension mismatch, unfitted vocabulary, NaN/inf, or a pyramid without
        keypoints.

    Notes
    -----
    The GIL is released during the computation; inputs must not be modified by another
    thread during the call.

    Examples
    --------
    >>> import numpy as np, vislang
    >>> from vislang.features import DescriptorSet
    >>> ds = DescriptorSet.from_list([np.array([[0.0], [0.2], [5.0]]), np.array([[4.0]])])
    >>> vislang.encode(ds, np.array([[0.0], [5.0]]), norm=None)
    array([[2., 1.],
           [0., 1.]], dtype=float32)
    >>> vislang.encode(ds, np.array([[0.0], [5.0]]), encoding="vlad", norm=None)
    array([[ 0.2,  0. ],
           [ 0. , -1. ]], dtype=float32)
    """
    out, _, _ = encode_with_state(
        descriptor_set,
        vocabulary,
        encoding=encoding,
        k=k,
        sigma=sigma,
        pyramid=pyramid,
        weighting=weighting,
        norm=norm,
        idf=idf,
        intra_norm=intra_norm,
        n_jobs=n_jobs,
        precision=precision,
    )
    if sparse:
        import scipy.sparse

        return scipy.sparse.csr_matrix(out)
    return out
