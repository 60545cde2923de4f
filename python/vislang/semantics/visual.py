"""Visual word vectors: aggregate the features of the images tagged with each word.

Bruni et al. 2014 (JAIR) sum bag-of-visual-words counts over the ESP-Game images tagged with a
word; Kiela & Bottou 2014 take the mean (or element-wise max) of CNN features over a word's
images. Kiela et al. 2014 ("Improving multi-modal representations using image dispersion: why less
is sometimes more", ACL) define a word's *image dispersion* as the average pairwise cosine distance
between its images' features; concrete words have low dispersion, and vision helps mostly there.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from vislang._validation import as_float_matrix, check_finite_rows
from vislang.exceptions import InvalidInputError
from vislang.semantics.word_vectors import WordVectors

__all__ = [
    "aggregate_visual_vectors",
    "bovw_visual_vectors",
    "group_images_by_word",
    "image_dispersion",
    "tags_from_captions",
]

Aggregation = Literal["mean", "max", "median", "sum"]
_AGGREGATIONS = ("mean", "max", "median", "sum")
TagsLike = Sequence[str | Iterable[str]]


def _features(features: Any) -> NDArray[np.floating[Any]]:
    """A 2-D float matrix from an array or a sequence of 1-D per-image arrays."""
    if isinstance(features, list | tuple) and features and np.ndim(features[0]) == 1:
        shapes = {np.shape(f) for f in features}
        if len(shapes) > 1 or any(np.ndim(f) != 1 for f in features):
            raise InvalidInputError(
                f"per-image feature arrays must all be 1-D of the same length, got shapes "
                f"{sorted(shapes)[:4]}"
            )
        features = np.stack([np.asarray(f) for f in features])
    x = as_float_matrix(features, "features")
    check_finite_rows(x, "features")
    return x


def _check_min_images(min_images: Any, lowest: int) -> int:
    if isinstance(min_images, bool) or not isinstance(min_images, int | np.integer):
        raise InvalidInputError(f"min_images must be an int, got {min_images!r}")
    if min_images < lowest:
        raise InvalidInputError(f"min_images must be >= {lowest}, got {min_images}")
    return int(min_images)


def group_images_by_word(
    tags: TagsLike,
    *,
    min_images: int = 1,
    vocabulary: Collection[str] | None = None,
) -> dict[str, NDArray[np.int64]]:
    """Map each word to the (sorted, distinct) indices of the images tagged with it.

    Parameters
    ----------
    tags : sequence of (str or iterable of str) of length n_images
        ``tags[i]`` are the words of image ``i``: one class name (a str) or several (a list, a set,
        the content words of its captions). A word repeated within one image counts once.
    min_images : int, default=1
        Words with fewer images are dropped.
    vocabulary : collection of str, optional
        Keep only these words (e.g. the words of an evaluation set, or those with a text vector).

    Returns
    -------
    dict of str to ndarray of int64
        In order of first appearance.

    Examples
    --------
    >>> group_images_by_word([["dog", "ball"], "dog", ["cat"]], min_images=2)
    {'dog': array([0, 1])}
    """
    min_images = _check_min_images(min_images, 1)
    keep = None if vocabulary is None else set(vocabulary)
    groups: dict[str, list[int]] = {}
    for i, t in enumerate(tags):
        words = [t] if isinstance(t, str) else list(t)
        for w in words:
            if not isinstance(w, str):
                raise InvalidInputError(
                    f"tags[{i}] must be a str or an iterable of str, got an item of type "
                    f"{type(w).__name__}"
                )
            if keep is not None and w not in keep:
                continue
            idx = groups.setdefault(w, [])
            if not idx or idx[-1] != i:
                idx.append(i)
    return {
        w: np.asarray(idx, dtype=np.int64) for w, idx in groups.items() if len(idx) >= min_images
    }


def _grouped(
    features: Any, tags: TagsLike, min_images: int, vocabulary: Collection[str] | None, lowest: int
) -> tuple[NDArray[np.floating[Any]], dict[str, NDArray[np.int64]]]:
    x = _features(features)
    if len(tags) != x.shape[0]:
        raise InvalidInputError(
            f"features has {x.shape[0]} rows (images) but tags has {len(tags)} entries"
        )
    groups = group_images_by_word(
        tags, min_images=_check_min_images(min_images, lowest), vocabulary=vocabulary
    )
    return x, groups


def aggregate_visual_vectors(
    features: Any,
    tags: TagsLike,
    *,
    method: Aggregation = "mean",
    min_images: int = 1,
    vocabulary: Collection[str] | None = None,
    return_counts: bool = False,
) -> WordVectors | tuple[WordVectors, NDArray[np.int64]]:
    """Build one visual vector per word from the features of the images tagged with it.

    Parameters
    ----------
    features : array-like of shape (n_images, n_features), or a sequence of 1-D arrays
        One vector per image: a bag-of-visual-words histogram, a CNN feature, ...
        float32 stays float32.
    tags : sequence of (str or iterable of str) of length n_images
        See :func:`group_images_by_word`.
    method : {"mean", "max", "median", "sum"}, default="mean"
        Element-wise over a word's images. ``"sum"`` keeps raw counts (Bruni et al. 2014) for
        :func:`~vislang.semantics.fusion.reweight`; ``"mean"``/``"max"`` are Kiela & Bottou 2014's.
    min_images : int, default=1
        Words with fewer images get no vector.
    vocabulary : collection of str, optional
        Build vectors only for these words.
    return_counts : bool, default=False
        Also return the number of images behind each vector.

    Returns
    -------
    vectors : WordVectors
        Words in order of first appearance in ``tags``.
    counts : ndarray of int64 of shape (n_words,)
        Only with ``return_counts=True``.

    Raises
    ------
    InvalidInputError
        ``features`` and ``tags`` disagree in length, ``features`` holds NaN/inf, an unknown
        ``method``, or ``min_images`` < 1.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1.0, 0.0], [3.0, 2.0], [0.0, 5.0]])
    >>> wv = aggregate_visual_vectors(x, [["dog"], ["dog", "ball"], ["ball"]])
    >>> wv["dog"].tolist(), wv["ball"].tolist()
    ([2.0, 1.0], [1.5, 3.5])
    """
    if method not in _AGGREGATIONS:
        raise InvalidInputError(f"method must be one of {_AGGREGATIONS}, got {method!r}")
    x, groups = _grouped(features, tags, min_images, vocabulary, 1)
    words = list(groups)
    out = np.empty((len(words), x.shape[1]), dtype=x.dtype)
    for j, w in enumerate(words):
        rows = x[groups[w]]
        if method == "mean":
            out[j] = rows.mean(axis=0)
        elif method == "sum":
            out[j] = rows.sum(axis=0)
        elif method == "max":
            out[j] = rows.max(axis=0)
        else:
            out[j] = np.median(rows, axis=0)
    wv = WordVectors(out, words)
    if return_counts:
        return wv, np.array([len(groups[w]) for w in words], dtype=np.int64)
    return wv


def _dispersion(rows: NDArray[np.floating[Any]]) -> float:
    """Mean pairwise cosine distance of the rows (Kiela et al. 2014, Eq. 1).

    With unit rows u_i, sum_{i<j} u_i.u_j = (|sum u|^2 - sum |u_i|^2) / 2: O(n d) instead of the
    O(n^2 d) double loop. A zero row has cosine 0 with everything (scikit-learn's convention).
    """
    n = rows.shape[0]
    norms = np.linalg.norm(rows, axis=1)
    unit = np.divide(rows, norms[:, None], out=np.zeros_like(rows), where=norms[:, None] > 0)
    unit = unit.astype(np.float64, copy=False)
    total = unit.sum(axis=0)
    pair_cos = (float(total @ total) - float(np.count_nonzero(norms))) / 2.0
    d = 1.0 - pair_cos / (n * (n - 1) / 2.0)
    # Rounding can push a set of identical images a hair below 0.
    return float(min(max(d, 0.0), 2.0))


def image_dispersion(
    features: Any,
    tags: TagsLike,
    *,
    min_images: int = 2,
    vocabulary: Collection[str] | None = None,
) -> dict[str, float]:
    """Image dispersion of each word (Kiela et al. 2014).

    ``d(w) = 2 / (n (n - 1)) * sum_{i < j} (1 - cos(x_i, x_j))`` over the ``n`` images of ``w``:
    0 when all its images look the same, about 1 for unrelated images.

    Parameters
    ----------
    features, tags, vocabulary
        As for :func:`aggregate_visual_vectors`.
    min_images : int, default=2
        Must be >= 2 (one image has no pairs). Kiela et al. use up to 50 images per word.

    Returns
    -------
    dict of str to float
        In order of first appearance.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    >>> image_dispersion(x, ["sun", "sun", "idea", "idea"])
    {'sun': 0.0, 'idea': 1.0}
    """
    x, groups = _grouped(features, tags, min_images, vocabulary, 2)
    return {w: _dispersion(x[idx]) for w, idx in groups.items()}


def tags_from_captions(
    captions: Sequence[Sequence[str]] | Sequence[str],
    *,
    stop_words: Collection[str] | None = None,
    min_length: int = 2,
    lemmas: Mapping[str, str] | None = None,
) -> list[list[str]]:
    """The content words of each image's captions, as tags (the Bruni et al. ESP-Game setting).

    Parameters
    ----------
    captions : sequence of (str or sequence of str)
        The captions of each image.
    stop_words : collection of str, optional
        Words to drop; default scikit-learn's English stop list.
    min_length : int, default=2
        Shorter tokens are dropped.
    lemmas : mapping of str to str, optional
        Replace tokens (e.g. plurals with singulars: ``{"dogs": "dog"}``).

    Returns
    -------
    list of list of str
        Distinct tags per image, in order of first appearance.

    Examples
    --------
    >>> tags_from_captions([["A dog runs on the grass.", "Two dogs play"]], lemmas={"dogs": "dog"})
    [['dog', 'runs', 'grass', 'play']]
    """
    from vislang.data.base import simple_tokenize

    if stop_words is None:
        from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

        stop_words = ENGLISH_STOP_WORDS
    out: list[list[str]] = []
    for caps in captions:
        seen: dict[str, None] = {}
        for cap in [caps] if isinstance(caps, str) else caps:
            for tok in simple_tokenize(cap):
                tok = lemmas.get(tok, tok) if lemmas else tok
                if len(tok) >= min_length and tok not in stop_words and tok.isalpha():
                    seen.setdefault(tok, None)
        out.append(list(seen))
    return out


def _enough_words(vectors: WordVectors, min_images: int) -> WordVectors:
    if len(vectors) < 2:
        raise InvalidInputError(
            f"only {len(vectors)} words have >= {min_images} images; lower min_images"
        )
    return vectors


def bovw_visual_vectors(
    images: Sequence[Any],
    tags: TagsLike,
    *,
    k: int = 200,
    min_images: int = 3,
    weighting: Literal["pmi", "ppmi", "lmi", "plmi", "none"] = "plmi",
    seed: int = 0,
    n_jobs: int | None = None,
    vocabulary: Collection[str] | None = None,
    progress: bool = False,
) -> WordVectors:
    """Visual word vectors from tagged images with bag-of-visual-words (Bruni et al. 2014).

    Dense SIFT descriptors (OpenCV) are quantised against a ``k``-word k-means vocabulary
    (fitted on a sample of ``50 k`` descriptors); each word's vector is the sum of the count
    histograms of its images (``min_images`` at least), reweighted with ``weighting`` (PLMI by
    default, see :func:`~vislang.semantics.reweight`; ``"none"`` keeps the sums).
    """
    from vislang.features import DenseSIFT
    from vislang.semantics.fusion import reweight
    from vislang.vocab import VisualVocabulary

    if k < 2:
        raise InvalidInputError(f"k must be >= 2, got {k}")
    desc_set = DenseSIFT(
        step=8, sizes=(4, 8), max_side=256, n_jobs=n_jobs, verbose=progress
    ).transform(images)
    desc = desc_set.descriptors
    if len(desc) < k:
        raise InvalidInputError(f"only {len(desc)} descriptors for a vocabulary of k={k}")
    rng = np.random.default_rng(seed)
    sample = desc[rng.choice(len(desc), size=min(len(desc), 50 * k), replace=False)]
    vocab = VisualVocabulary(n_clusters=k, max_iter=50, random_state=seed, n_jobs=n_jobs)
    words = vocab.fit(sample).predict(desc).astype(np.int64)  # (n_descriptors,)
    # Hard bag-of-visual-words counts per image (vislang.encode(..., norm=None) without the
    # bovw layer): descriptor j of image i adds 1 to counts[i, words[j]].
    n_images = len(desc_set.offsets) - 1
    image_of = np.repeat(np.arange(n_images), np.diff(desc_set.offsets))
    counts = (
        np.bincount(image_of * k + words, minlength=n_images * k)
        .reshape(n_images, k)
        .astype(desc.dtype)
    )
    summed = aggregate_visual_vectors(
        counts, tags, method="sum", min_images=min_images, vocabulary=vocabulary
    )
    assert isinstance(summed, WordVectors)
    _enough_words(summed, min_images)
    return summed if weighting == "none" else reweight(summed, weighting)
