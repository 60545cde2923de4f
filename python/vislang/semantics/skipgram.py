"""Skip-gram with negative sampling and the multimodal skip-gram, trained in native code.

:class:`SkipGram` follows Mikolov et al. (2013) and word2vec.c / gensim: a ``min_count``
vocabulary, subsampling of frequent words, the unigram^0.75 noise distribution, a linearly
decaying learning rate, a dynamic window and Hogwild threads over shards of the corpus (the GIL is
released). :class:`MultimodalSkipGram` adds the max-margin visual term of Lazaridou, Pham & Baroni
(2015) for the words that have a visual vector: variant ``"A"`` acts on the word vector itself,
variant ``"B"`` on its image ``M w`` under a learned matrix ``M``.
"""

from __future__ import annotations

import json
import math
import numbers
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator

from vislang import _core
from vislang._validation import seed_from, threads_from
from vislang.exceptions import CheckpointError, InvalidInputError, NotFittedError
from vislang.semantics.corpus import CorpusLike, EncodedCorpus, encode_corpus
from vislang.semantics.word_vectors import WordVectors

__all__ = ["MultimodalSkipGram", "NotFittedError", "SkipGram"]

PathLike = str | Path


def _check_int(name: str, value: Any, low: int) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < low:
        raise InvalidInputError(f"{name} must be an int >= {low}, got {value!r}")
    return int(value)


def _check_float(name: str, value: Any, low: float, *, strict: bool = False) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    v = float(value) if ok else math.nan
    if not ok or not math.isfinite(v) or v < low or (strict and v == low):
        op = ">" if strict else ">="
        raise InvalidInputError(f"{name} must be a finite number {op} {low}, got {value!r}")
    return v


class _Progress:
    """Native progress callback feeding a tqdm bar (words processed)."""

    def __init__(self, enabled: bool, desc: str) -> None:
        self.bar: Any = None
        self.enabled = enabled
        self.desc = desc

    def __call__(self, done: int, total: int) -> bool:
        if self.enabled:
            if self.bar is None:
                from tqdm.auto import tqdm

                self.bar = tqdm(total=total, desc=self.desc, unit="word", unit_scale=True)
            self.bar.update(done - self.bar.n)
        return True

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class SkipGram(BaseEstimator):
    """Skip-gram with negative sampling (word2vec ``-cbow 0``), trained by native Hogwild threads.

    A scikit-learn estimator: ``get_params`` / ``set_params`` / :func:`sklearn.base.clone`
    work, ``__init__`` only stores the parameters and everything learned ends in ``_``. ``fit``
    takes a corpus of token lists, not a numeric matrix.

    Parameters
    ----------
    vector_size : int, default=100
    window : int, default=5
        Maximum distance between a word and its context; each position draws its window
        uniformly in ``1..window`` (word2vec's "dynamic window").
    negative : int, default=5
        Noise words per (word, context) pair, drawn from unigram^``ns_exponent``.
    min_count : int, default=5
        Words seen fewer times are dropped.
    sample : float, default=1e-3
        Subsampling threshold: an occurrence of a word with frequency ``f`` is kept with
        probability ``(sqrt(f / sample) + 1) * sample / f`` (word2vec.c); 0 disables it.
    alpha, min_alpha : float, default=0.025, 1e-4
        Learning rate, decayed linearly from ``alpha`` to ``min_alpha`` over all epochs.
    epochs : int, default=5
    random_state : int, RandomState, Generator or None, default=0
        Seeds the initial weights and every thread's random stream. With an int and
        ``n_jobs=1`` the result is the same, bit for bit, on every run on the same machine.
        None draws a seed from NumPy's global generator (scikit-learn's convention).
    n_jobs : int or None, default=None
        Training threads (None: all cores; -1 likewise). More than one thread races on the
        weights (Hogwild), so the result varies slightly between runs.
    ns_exponent : float, default=0.75
    max_sentence_length : int, default=10000
        Longer sentences are cut.
    verbose : bool, default=False
        Show a tqdm bar of the words processed.
    seed : int, optional
        Alias of ``random_state`` (gensim's name, kept from earlier versions); when given it
        wins over ``random_state``.
    progress : bool, optional
        Alias of ``verbose`` (kept from earlier versions); when given it wins over ``verbose``.

    Attributes
    ----------
    wv_ : WordVectors
        The trained input vectors, one per vocabulary word (``wv`` is an alias).
    counts_ : ndarray of int64
        Corpus count of each vocabulary word (order of ``wv_.words``).
    syn1neg_ : ndarray of float32
        The output (context) vectors.
    words_trained_ : int
        Corpus words processed over all epochs (before subsampling).
    train_seconds_ : float
        Time spent in the native loop.

    Examples
    --------
    >>> corpus = [["cat", "purrs", "meow"], ["dog", "barks", "woof"]] * 200
    >>> model = SkipGram(vector_size=8, min_count=1, epochs=2, n_jobs=1).fit(corpus)
    >>> model.wv_.dim, len(model.wv_)
    (8, 6)
    >>> from sklearn.base import clone
    >>> clone(model).set_params(window=2).get_params()["window"]
    2
    """

    _kind = "skipgram"

    def __init__(
        self,
        vector_size: int = 100,
        window: int = 5,
        negative: int = 5,
        min_count: int = 5,
        sample: float = 1e-3,
        alpha: float = 0.025,
        min_alpha: float = 1e-4,
        epochs: int = 5,
        random_state: Any = 0,
        n_jobs: int | None = None,
        *,
        ns_exponent: float = 0.75,
        max_sentence_length: int = 10_000,
        verbose: bool = False,
        seed: int | None = None,
        progress: bool | None = None,
    ) -> None:
        self.vector_size = vector_size
        self.window = window
        self.negative = negative
        self.min_count = min_count
        self.sample = sample
        self.alpha = alpha
        self.min_alpha = min_alpha
        self.epochs = epochs
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.ns_exponent = ns_exponent
        self.max_sentence_length = max_sentence_length
        self.verbose = verbose
        self.seed = seed
        self.progress = progress

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False  # a corpus of token lists, not a matrix
        tags.input_tags.string = True
        tags.requires_fit = True
        return tags

    @property
    def wv(self) -> WordVectors:
        """Alias of the fitted ``wv_`` (the name gensim users know)."""
        self._check_fitted()
        return self.wv_

    @wv.setter
    def wv(self, value: WordVectors) -> None:
        self.wv_ = value

    def _effective_seed(self) -> int:
        """The u64 seed: ``seed`` (alias) when given, else ``random_state``."""
        if self.seed is not None:
            seed = self.seed
            if not isinstance(seed, numbers.Integral) or isinstance(seed, bool):
                raise InvalidInputError(f"seed must be an int, got {seed!r}")
            return int(seed) % 2**64
        return seed_from(self.random_state)

    def _effective_verbose(self) -> bool:
        return bool(self.verbose if self.progress is None else self.progress)

    def _native_params(self) -> dict[str, Any]:
        alpha = _check_float("alpha", self.alpha, 0.0, strict=True)
        if alpha > float(np.finfo(np.float32).max):
            raise InvalidInputError(f"alpha must be a float32 number (<= 3.4e38), got {alpha!r}")
        min_alpha = _check_float("min_alpha", self.min_alpha, 0.0)
        if min_alpha > alpha:
            raise InvalidInputError(f"min_alpha={min_alpha} must be <= alpha={alpha}")
        seed = self._effective_seed()
        ns = self.ns_exponent
        if not isinstance(ns, numbers.Real) or not math.isfinite(float(ns)):
            raise InvalidInputError(f"ns_exponent must be a finite number, got {ns!r}")
        return {
            "vector_size": _check_int("vector_size", self.vector_size, 1),
            "window": _check_int("window", self.window, 1),
            "negative": _check_int("negative", self.negative, 0),
            "sample": _check_float("sample", self.sample, 0.0),
            "alpha": alpha,
            "min_alpha": min_alpha,
            "epochs": _check_int("epochs", self.epochs, 1),
            "seed": seed,
            "ns_exponent": float(ns),
        }

    # ------------------------------------------------------------------ training
    def encode(self, corpus: CorpusLike) -> EncodedCorpus:
        """The vocabulary and id form of ``corpus`` under this model's ``min_count``."""
        _check_int("min_count", self.min_count, 1)
        _check_int("max_sentence_length", self.max_sentence_length, 1)
        return encode_corpus(
            corpus, min_count=self.min_count, max_sentence_length=self.max_sentence_length
        )

    def fit(self, corpus: CorpusLike | EncodedCorpus, y: None = None) -> SkipGram:
        """Build the vocabulary of ``corpus`` and train on it.

        Parameters
        ----------
        corpus : path, iterable of token lists, or EncodedCorpus
            A text file with one whitespace-tokenised sentence per line, an iterable of token
            lists (iterated once), or the output of :meth:`encode` (reused as is).
        y : None
            Ignored (scikit-learn's signature).

        Returns
        -------
        self

        Raises
        ------
        InvalidInputError
            Empty corpus, no word reaching ``min_count``, bad parameters.
        """
        return self._fit(corpus, None)

    def _fit(self, corpus: CorpusLike | EncodedCorpus, visual: Any) -> SkipGram:
        params = self._native_params()
        enc = corpus if isinstance(corpus, EncodedCorpus) else self.encode(corpus)
        if enc.ids.size == 0:
            raise InvalidInputError("the corpus has no in-vocabulary tokens")
        extra = self._visual_arguments(enc, visual)
        bar = _Progress(self._effective_verbose(), self._kind)
        start = time.perf_counter()
        try:
            syn0, syn1, mapping, words = _core.skipgram_train(
                enc.ids,
                enc.offsets,
                enc.counts,
                **params,
                **extra,
                n_threads=threads_from(self.n_jobs),
                callback=bar,
            )
        finally:
            bar.close()
        self.train_seconds_ = time.perf_counter() - start
        if not (np.isfinite(syn0).all() and np.isfinite(syn1).all()):
            raise InvalidInputError(
                f"training diverged: the vectors became NaN or inf with alpha={self.alpha}; "
                "use a smaller learning rate (the default is 0.025)"
            )
        self.wv_ = WordVectors(syn0, enc.words)
        self.counts_ = enc.counts
        self.syn1neg_ = syn1
        self.words_trained_ = int(words)
        self._set_mapping(mapping)
        return self

    def _visual_arguments(self, enc: EncodedCorpus, visual: Any) -> dict[str, Any]:
        return {}

    def _saved_params(self) -> dict[str, Any]:
        """The JSON-able parameters written by :meth:`save` (aliases resolved)."""
        params = self.get_params(deep=False)
        params.pop("visual", None)  # data, not a setting
        if params.pop("seed", None) is not None:
            params["random_state"] = self.seed
        if params.pop("progress", None) is not None:
            params["verbose"] = self.progress
        rs = params["random_state"]
        if not (rs is None or (isinstance(rs, numbers.Integral) and not isinstance(rs, bool))):
            params["random_state"] = None  # a RandomState/Generator is not JSON
        return params

    def _set_mapping(self, mapping: Any) -> None:
        return None

    # ------------------------------------------------------------------ persistence
    def save(self, path: PathLike) -> None:
        """Write the parameters, vocabulary and weights to a ``.npz`` file."""
        self._check_fitted()
        arrays: dict[str, Any] = {
            "kind": np.array(self._kind),
            "params": np.array(json.dumps(self._saved_params())),
            "vectors": self.wv_.vectors,
            "words": np.array(self.wv_.words, dtype=str),
            "counts": self.counts_,
            "syn1neg": self.syn1neg_,
        }
        arrays.update(self._extra_arrays())
        with open(path, "wb") as f:
            np.savez(f, **arrays)

    def _extra_arrays(self) -> dict[str, Any]:
        return {}

    @classmethod
    def load(cls, path: PathLike) -> SkipGram:
        """Read a model written by :meth:`save`."""
        try:
            with np.load(path, allow_pickle=False) as z:
                data = {k: z[k] for k in z.files}
        except (OSError, ValueError) as e:
            raise CheckpointError(f"cannot read a skip-gram model from {str(path)!r}: {e}") from e
        kind = str(data.get("kind", ""))
        target = MultimodalSkipGram if kind == "mmskipgram" else SkipGram
        if kind not in ("skipgram", "mmskipgram") or not issubclass(target, cls):
            raise CheckpointError(f"{str(path)!r} does not hold a {cls.__name__} (kind={kind!r})")
        params = json.loads(str(data["params"]))
        # Files of earlier versions name the seed and the progress bar differently.
        if "seed" in params:
            params["random_state"] = params.pop("seed")
        if "progress" in params:
            params["verbose"] = params.pop("progress")
        model = target(**params)
        model.wv_ = WordVectors(data["vectors"], [str(w) for w in data["words"]])
        model.counts_ = data["counts"]
        model.syn1neg_ = data["syn1neg"]
        model.words_trained_ = 0
        model._set_mapping(data.get("mapping"))
        return model

    def _check_fitted(self) -> None:
        if "wv_" not in self.__dict__:
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit()")


VisualLike = WordVectors | tuple[Any, Sequence[str]]


class MultimodalSkipGram(SkipGram):
    """The multimodal skip-gram of Lazaridou, Pham & Baroni (2015), MMSkip-gram-A and -B.

    Training is :class:`SkipGram`'s; in addition, whenever a word with a visual vector ``v`` is
    the centre of a window, its representation ``u`` takes one SGD step on
    ``visual_weight * sum_j max(0, margin - cos(u, v) + cos(u, v_j))`` with
    ``n_visual_negatives`` visual vectors ``v_j`` of other words drawn uniformly. ``u`` is the word
    vector (``variant="A"``, needs ``vector_size`` equal to the visual dimension) or ``M w`` with a
    learned matrix ``M`` (``variant="B"``, attribute ``mapping_``).

    The step is the exact gradient, except that ``1/|u|`` in the cosine's gradient is taken as
    ``1/max(|u|, 1)``: word2vec's initial vectors have norm ~0.003, where the exact step would
    throw them far away (direction unchanged, only the step length is capped).

    Parameters
    ----------
    variant : {"A", "B"}, default="A"
    visual : WordVectors or (vectors, words), optional
        Visual vectors of some words (words outside the corpus vocabulary are ignored); may also
        be passed to :meth:`fit`.
    margin : float, default=0.5
        The margin gamma (0.5 in the paper).
    n_visual_negatives : int, default=20
        Visual negatives per update (k). Our reading of the paper is 20; check it before
        quoting it.
    visual_weight : float, default=1.0
        Weight of the visual term (the paper adds it unweighted).
    vector_size, window, negative, min_count, sample, alpha, min_alpha, epochs
        :class:`SkipGram`'s parameters (keyword-only here), as are ``random_state``,
        ``n_jobs``, ``ns_exponent``, ``max_sentence_length``, ``verbose``, ``seed`` and
        ``progress``.

    Attributes
    ----------
    wv_ : WordVectors
        As :class:`SkipGram` (``wv`` is an alias).
    mapping_ : ndarray of shape (visual_dim, vector_size) or None
        ``M`` of variant B.
    visual_words_ : tuple of str
        The vocabulary words that had a visual vector.
    """

    _kind = "mmskipgram"

    def __init__(
        self,
        variant: Literal["A", "B"] = "A",
        visual: VisualLike | None = None,
        margin: float = 0.5,
        n_visual_negatives: int = 20,
        visual_weight: float = 1.0,
        *,
        vector_size: int = 100,
        window: int = 5,
        negative: int = 5,
        min_count: int = 5,
        sample: float = 1e-3,
        alpha: float = 0.025,
        min_alpha: float = 1e-4,
        epochs: int = 5,
        random_state: Any = 0,
        n_jobs: int | None = None,
        ns_exponent: float = 0.75,
        max_sentence_length: int = 10_000,
        verbose: bool = False,
        seed: int | None = None,
        progress: bool | None = None,
    ) -> None:
        # Every parameter is spelled out: scikit-learn's get_params reads the signature.
        super().__init__(
            vector_size=vector_size,
            window=window,
            negative=negative,
            min_count=min_count,
            sample=sample,
            alpha=alpha,
            min_alpha=min_alpha,
            epochs=epochs,
            random_state=random_state,
            n_jobs=n_jobs,
            ns_exponent=ns_exponent,
            max_sentence_length=max_sentence_length,
            verbose=verbose,
            seed=seed,
            progress=progress,
        )
        self.variant = variant
        self.visual = visual
        self.margin = margin
        self.n_visual_negatives = n_visual_negatives
        self.visual_weight = visual_weight

    def fit(
        self, corpus: CorpusLike | EncodedCorpus, visual: VisualLike | None = None
    ) -> MultimodalSkipGram:
        """Train on ``corpus`` with the visual vectors ``visual`` (or those given at
        construction; the parameter ``visual`` is not changed). See :meth:`SkipGram.fit`."""
        self._fit(corpus, self.visual if visual is None else visual)
        return self

    def _visual_arguments(self, enc: EncodedCorpus, visual: Any) -> dict[str, Any]:
        if self.variant not in ("A", "B"):
            raise InvalidInputError(f"variant must be 'A' or 'B', got {self.variant!r}")
        vis = visual
        if vis is None:
            raise InvalidInputError("MultimodalSkipGram needs visual vectors: pass visual=...")
        if not isinstance(vis, WordVectors):
            if not (isinstance(vis, tuple) and len(vis) == 2):
                raise InvalidInputError(
                    f"visual must be a WordVectors or a (vectors, words) pair, got {type(vis)}"
                )
            vis = WordVectors(*vis)
        vectors = np.asarray(vis.vectors, dtype=np.float32)
        if not np.isfinite(vectors).all():
            row = int(np.flatnonzero(~np.isfinite(vectors).all(axis=1))[0])
            raise InvalidInputError(f"visual vectors contain NaN or inf at row {row}")
        if self.variant == "A" and vis.dim != _check_int("vector_size", self.vector_size, 1):
            raise InvalidInputError(
                f"variant A needs vector_size == visual dimension, got vector_size="
                f"{self.vector_size} and visual vectors of dimension {vis.dim}; use variant B "
                "or set vector_size"
            )
        norms = np.linalg.norm(vectors, axis=1)
        if (norms == 0).any():
            w = vis.words[int(np.flatnonzero(norms == 0)[0])]
            raise InvalidInputError(f"the visual vector of {w!r} is all zeros")
        rows = [vis.index.get(w, -1) for w in enc.words]
        used = sorted({r for r in rows if r >= 0})
        if len(used) < 2:
            raise InvalidInputError(
                f"only {len(used)} corpus word(s) have a visual vector; need at least 2 "
                "(the visual negatives are other words' vectors)"
            )
        compact = {r: i for i, r in enumerate(used)}
        self.visual_words_ = tuple(vis.words[r] for r in used)
        return {
            "visual": np.ascontiguousarray(vectors[used]),
            "visual_of": np.array([compact.get(r, -1) for r in rows], dtype=np.int64),
            "variant": self.variant,
            "margin": _check_float("margin", self.margin, -math.inf),
            "n_visual_negatives": _check_int("n_visual_negatives", self.n_visual_negatives, 1),
            "visual_weight": _check_float("visual_weight", self.visual_weight, 0.0),
        }

    def _set_mapping(self, mapping: Any) -> None:
        self.mapping_: NDArray[np.float32] | None = (
            None if mapping is None or np.ndim(mapping) != 2 else np.asarray(mapping)
        )

    def _extra_arrays(self) -> dict[str, Any]:
        return {} if self.mapping_ is None else {"mapping": self.mapping_}
