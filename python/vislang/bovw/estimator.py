"""``BagOfVisualWords``: images in, bag-of-visual-words encodings out (an sklearn transformer)."""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from vislang._validation import seed_from
from vislang.bovw.encoding import _pyramid, encode_with_state
from vislang.exceptions import InvalidInputError
from vislang.features.descriptor_set import DescriptorSet

__all__ = ["BagOfVisualWords"]


class BagOfVisualWords(TransformerMixin, BaseEstimator):
    """Bag of visual words: local descriptors, a k-means vocabulary and per-image encodings.

    ``fit(images)`` extracts descriptors, samples them and builds the vocabulary with
    :class:`vislang.VisualVocabulary` (or takes the given one), then learns the soft-assignment
    bandwidth and the idf weights on the training images. ``transform(images)`` extracts and
    encodes with :func:`vislang.encode`. It works inside :class:`sklearn.pipeline.Pipeline`
    (e.g. followed by :class:`~sklearn.svm.LinearSVC`) and
    :class:`~sklearn.model_selection.GridSearchCV`.

    Parameters
    ----------
    extractor : transformer, default=None
        Turns a list of images into a :class:`DescriptorSet`; None means
        ``vislang.features.DenseSIFT()``. Inputs that already are a ``DescriptorSet`` skip it.
    n_words : int, default=1000
        Vocabulary size (ignored when ``vocabulary`` is given).
    encoding : {"hard", "soft", "vlad"}, default="hard"
        See :func:`vislang.encode`.
    k : int, default=5
        Nearest words per descriptor of the soft encoding.
    sigma : float, default=None
        Soft-assignment bandwidth; None learns the median nearest-word distance of the training
        descriptors (``sigma_``).
    pyramid : tuple of int, default=(1,)
        Spatial pyramid grid sizes, e.g. ``(1, 2)``.
    weighting : {None, "tfidf"}, default=None
        tf-idf with idf learned on the training images (``idf_``).
    norm : {"l2", "l1", "power", None}, default="l2"
        Row normalisation.
    vocabulary : VisualVocabulary or array-like of shape (n_words, n_dims), default=None
        A fitted vocabulary (or centres) to use instead of fitting one; an unfitted
        ``VisualVocabulary`` is cloned and fitted on the sampled descriptors.
    sample_descriptors : int, default=None
        Fit the vocabulary on at most this many descriptors drawn uniformly without
        replacement (None: all).
    random_state : int, RandomState, Generator or None, default=None
        Seed of the sampling and of k-means.
    n_jobs : int, default=None
        Threads for extraction, k-means and encoding.
    verbose : bool, default=False
        Progress bar of the vocabulary's k-means (the extractor has its own ``verbose``).

    Attributes
    ----------
    vocabulary_ : VisualVocabulary or ndarray
        The vocabulary used.
    cluster_centers_ : ndarray of shape (n_words, n_dims), float32
    sigma_ : float or None
        Bandwidth of the soft encoding.
    idf_ : ndarray of shape (n_columns,) or None
        idf weights of ``weighting="tfidf"``.
    n_features_out_ : int
        Width of the encodings.

    Examples
    --------
    >>> import numpy as np
    >>> from vislang import BagOfVisualWords
    >>> from vislang.features import DenseSIFT
    >>> rng = np.random.default_rng(0)
    >>> images = rng.integers(0, 255, size=(4, 32, 32), dtype=np.uint8)
    >>> bovw = BagOfVisualWords(DenseSIFT(step=8, sizes=(4,)), n_words=8, random_state=0)
    >>> bovw.fit_transform(images).shape
    (4, 8)
    """

    _parameter_constraints: ClassVar[dict[str, Any]] = {
        "extractor": "no_validation",
        "n_words": [Interval(Integral, 1, None, closed="left")],
        "encoding": [StrOptions({"hard", "soft", "vlad"})],
        "k": [Interval(Integral, 1, None, closed="left")],
        "sigma": [None, Interval(Real, 0, None, closed="neither")],
        "pyramid": ["array-like", Interval(Integral, 1, 64, closed="both")],
        "weighting": [None, StrOptions({"tfidf"})],
        "norm": [None, StrOptions({"l1", "l2", "power"})],
        "vocabulary": "no_validation",
        "sample_descriptors": [None, Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state", np.random.Generator],
        "n_jobs": [None, Integral],
        "verbose": ["verbose"],
    }

    sigma_: float | None
    idf_: NDArray[np.float64] | None

    def __init__(
        self,
        extractor: Any = None,
        n_words: int = 1000,
        encoding: str = "hard",
        k: int = 5,
        sigma: float | None = None,
        pyramid: Any = (1,),
        weighting: str | None = None,
        norm: str | None = "l2",
        vocabulary: Any = None,
        sample_descriptors: int | None = None,
        random_state: Any = None,
        n_jobs: int | None = None,
        verbose: bool = False,
    ) -> None:
        self.extractor = extractor
        self.n_words = n_words
        self.encoding = encoding
        self.k = k
        self.sigma = sigma
        self.pyramid = pyramid
        self.weighting = weighting
        self.norm = norm
        self.vocabulary = vocabulary
        self.sample_descriptors = sample_descriptors
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose

    # ---------------------------------------------------------------- helpers
    def _extract(self, images: Any) -> DescriptorSet:
        if isinstance(images, DescriptorSet):
            return images
        extractor = self.extractor
        if extractor is None:
            from vislang.features import DenseSIFT

            extractor = DenseSIFT(n_jobs=self.n_jobs)
        ds = extractor.transform(images)
        if not isinstance(ds, DescriptorSet):
            raise InvalidInputError(
                f"extractor must return a DescriptorSet, got {type(ds).__name__}"
            )
        return ds

    def _fit_vocabulary(self, ds: DescriptorSet, seed: int) -> Any:
        if self.vocabulary is not None and hasattr(self.vocabulary, "cluster_centers_"):
            return self.vocabulary
        if self.vocabulary is not None and not hasattr(self.vocabulary, "fit"):
            return np.asarray(self.vocabulary, dtype=np.float32)
        X = np.ascontiguousarray(ds.descriptors, dtype=np.float32)
        if self.sample_descriptors is not None and X.shape[0] > self.sample_descriptors:
            rng = np.random.default_rng(seed)
            rows = np.sort(rng.choice(X.shape[0], self.sample_descriptors, replace=False))
            X = X[rows]
        if self.vocabulary is not None:
            vocab = clone(self.vocabulary)
        else:
            from vislang.vocab import VisualVocabulary

            vocab = VisualVocabulary(
                n_clusters=self.n_words,
                random_state=seed % 2**32,
                n_jobs=self.n_jobs,
                verbose=bool(self.verbose),
            )
        return vocab.fit(X)

    def _encode(self, ds: DescriptorSet, fitting: bool) -> NDArray[np.float32]:
        out, sigma, idf = encode_with_state(
            ds,
            self.vocabulary_,
            encoding=self.encoding,
            k=self.k,
            sigma=self.sigma if fitting else self.sigma_,
            pyramid=self.pyramid,
            weighting=self.weighting,
            norm=self.norm,
            idf=None if fitting else self.idf_,
            n_jobs=self.n_jobs,
        )
        if fitting:
            self.sigma_ = sigma
            self.idf_ = idf
            self.n_features_out_ = int(out.shape[1])
        return out

    # ------------------------------------------------------------ sklearn API
    def fit(self, images: Any, y: Any = None) -> BagOfVisualWords:
        """Extract descriptors of ``images``, build the vocabulary, learn ``sigma_``/``idf_``.

        Parameters
        ----------
        images : iterable of images or DescriptorSet
            Anything the extractor accepts (paths, arrays, PIL images), or descriptors.
        y : ignored

        Returns
        -------
        self
        """
        self.fit_transform(images)
        return self

    def fit_transform(self, images: Any, y: Any = None, **fit_params: Any) -> NDArray[np.float32]:
        """:meth:`fit`, then the encodings of the same images (descriptors extracted once)."""
        self._validate_params()
        _pyramid(self.pyramid)
        if self.encoding == "soft" and self.vocabulary is None and self.k > self.n_words:
            # Fail before the (slow) extraction and k-means.
            raise InvalidInputError(
                f"k must be an int in [1, n_words={self.n_words}], got {self.k}"
            )
        ds = self._extract(images)
        if ds.n_descriptors == 0 and self.vocabulary is None:
            raise InvalidInputError("the training images gave no descriptors to build a vocabulary")
        seed = seed_from(self.random_state)
        self.vocabulary_ = self._fit_vocabulary(ds, seed)
        centers = getattr(self.vocabulary_, "cluster_centers_", self.vocabulary_)
        self.cluster_centers_ = np.ascontiguousarray(centers, dtype=np.float32)
        return self._encode(ds, fitting=True)

    def transform(self, images: Any) -> NDArray[np.float32]:
        """Encodings of ``images``, of shape (n_images, ``n_features_out_``), float32."""
        check_is_fitted(self, "vocabulary_")
        return self._encode(self._extract(images), fitting=False)

    def get_feature_names_out(self, input_features: Any = None) -> NDArray[np.object_]:
        """Names ``bagofvisualwords0`` ... of the output columns."""
        check_is_fitted(self, "n_features_out_")
        return np.asarray([f"bagofvisualwords{i}" for i in range(self.n_features_out_)], object)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        # Inputs are images (lists of arrays or paths), not a 2-D feature matrix.
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        tags.input_tags.string = True
        if tags.transformer_tags is not None:
            tags.transformer_tags.preserves_dtype = []
        return tags
