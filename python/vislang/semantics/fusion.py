"""Multimodal fusion of text and visual word vectors (Bruni et al. 2014; Kiela & Bottou 2014).

- Feature level: :func:`concatenate` joins per-modality L2-normalised vectors weighted by ``alpha``
  and ``1 - alpha``; :func:`svd_fusion` then keeps the top ``rank`` singular directions (Bruni's
  "latent multimodal mixing"), and :func:`svd_mixing` returns the smoothed text and visual blocks.
- Scoring level: :class:`ScoreFusion` averages the per-modality cosines with weight ``alpha``.
- :class:`DispersionGated` uses the multimodal score only for words whose images are coherent
  (low image dispersion, Kiela et al. 2014) and the text score elsewhere.
- :func:`reweight`: PMI / PPMI / LMI / PLMI for count-based visual vectors (VSEM, Bruni et al.).
- :func:`tune_fusion`: choose ``alpha`` (and ``rank``) on a development split of word pairs.

Fusions are computed over the words both modalities cover, in the text vectors' order.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, overload

import numpy as np
from numpy.typing import NDArray

from vislang.exceptions import InvalidInputError
from vislang.semantics.word_vectors import OutOfVocabularyError, SimilarityModel, WordVectors

if TYPE_CHECKING:
    from vislang.semantics.pairs import PairsLike

__all__ = [
    "DispersionGated",
    "FusionTuning",
    "ScoreFusion",
    "common_words",
    "concatenate",
    "reweight",
    "svd_fusion",
    "svd_mixing",
    "truncated_svd",
    "tune_fusion",
]

ReweightMethod = Literal["pmi", "ppmi", "lmi", "plmi"]
FusionMethod = Literal["concatenate", "svd", "score"]


def _check_alpha(alpha: Any) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, int | float | np.integer | np.floating):
        raise InvalidInputError(f"alpha must be a number in [0, 1], got {alpha!r}")
    if not 0.0 <= float(alpha) <= 1.0:
        raise InvalidInputError(f"alpha must be in [0, 1], got {alpha}")
    return float(alpha)


def _check_vectors(v: Any, name: str) -> WordVectors:
    if not isinstance(v, WordVectors):
        raise InvalidInputError(f"{name} must be a WordVectors, got {type(v).__name__}")
    return v


def common_words(
    text: WordVectors, visual: WordVectors, words: Iterable[str] | None = None
) -> list[str]:
    """Words that have both vectors: ``words`` (in its order) or the text vocabulary's order.

    Raises
    ------
    InvalidInputError
        No word has both vectors.
    OutOfVocabularyError
        A word of ``words`` is missing from either modality.
    """
    _check_vectors(text, "text")
    _check_vectors(visual, "visual")
    if words is None:
        common = [w for w in text.words if w in visual]
    else:
        common = list(dict.fromkeys(words))
        for w in common:
            if w not in text or w not in visual:
                side = "text" if w not in text else "visual"
                raise OutOfVocabularyError(f"word {w!r} has no {side} vector")
    if not common:
        raise InvalidInputError("the text and visual vectors share no word")
    return common


def _blocks(
    text: WordVectors,
    visual: WordVectors,
    alpha: float,
    words: Iterable[str] | None,
    normalize: bool,
) -> tuple[list[str], NDArray[np.float64], NDArray[np.float64]]:
    common = common_words(text, visual, words)
    t = text.lookup(common).astype(np.float64)
    v = visual.lookup(common).astype(np.float64)
    if normalize:
        t = WordVectors(t, common).unit_vectors().astype(np.float64)
        v = WordVectors(v, common).unit_vectors().astype(np.float64)
    return common, alpha * t, (1.0 - alpha) * v


def concatenate(
    text: WordVectors,
    visual: WordVectors,
    *,
    alpha: float = 0.5,
    normalize: bool = True,
    words: Iterable[str] | None = None,
) -> WordVectors:
    """Weighted concatenation ``[alpha * t / |t|, (1 - alpha) * v / |v|]`` (Bruni et al. 2014).

    Parameters
    ----------
    text, visual : WordVectors
    alpha : float in [0, 1], default=0.5
        Weight of the text block (``1`` = text only, ``0`` = visual only).
    normalize : bool, default=True
        L2-normalise each modality's vectors first, so neither dominates by scale.
    words : iterable of str, optional
        The words to fuse; default every word with both vectors, in text order.

    Returns
    -------
    WordVectors
        float64, of dimension ``text.dim + visual.dim``.

    Raises
    ------
    InvalidInputError
        ``alpha`` outside [0, 1], or no common word.

    Examples
    --------
    >>> import numpy as np
    >>> t = WordVectors(np.array([[3.0, 4.0], [1.0, 0.0]]), ["cat", "dog"])
    >>> v = WordVectors(np.array([[2.0], [5.0]]), ["cat", "dog"])
    >>> concatenate(t, v, alpha=0.5)["cat"].round(6).tolist()
    [0.3, 0.4, 0.5]
    """
    alpha = _check_alpha(alpha)
    common, t, v = _blocks(text, visual, alpha, words, normalize)
    return WordVectors(np.hstack([t, v]), common)


def truncated_svd(
    x: NDArray[np.floating[Any]], rank: int
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """The top ``rank`` singular triplets of ``x``, with deterministic signs.

    Returns ``U`` of shape (n, rank), ``s`` of shape (rank,) and ``Vt`` of shape (rank, d) with
    ``x ≈ U @ diag(s) @ Vt``. Each column of ``U`` is flipped so that its largest-magnitude entry
    is positive (scikit-learn's ``svd_flip``), which makes results reproducible across LAPACK
    builds.

    Raises
    ------
    InvalidInputError
        ``rank`` is not in ``[1, min(n, d)]``.
    """
    n, d = x.shape
    if isinstance(rank, bool) or not isinstance(rank, int | np.integer):
        raise InvalidInputError(f"rank must be an int, got {rank!r}")
    if not 1 <= rank <= min(n, d):
        raise InvalidInputError(
            f"rank={rank} must be in [1, min(n_words, n_features)] = [1, {min(n, d)}]"
        )
    u, s, vt = np.linalg.svd(np.asarray(x, dtype=np.float64), full_matrices=False)
    u, s, vt = u[:, :rank], s[:rank], vt[:rank]
    signs = np.sign(u[np.argmax(np.abs(u), axis=0), np.arange(rank)])
    signs[signs == 0] = 1.0
    return u * signs, s, vt * signs[:, None]


def svd_fusion(
    text: WordVectors,
    visual: WordVectors,
    *,
    rank: int,
    alpha: float = 0.5,
    normalize: bool = True,
    words: Iterable[str] | None = None,
) -> WordVectors:
    """SVD fusion: concatenate (see :func:`concatenate`), then keep ``rank`` latent dimensions.

    With ``F = [alpha T, (1 - alpha) V] ≈ U_r S_r V_r^T``, each word gets the row of ``U_r S_r``.
    Its dot products (and cosines) equal those of the rank-``r`` reconstruction
    ``U_r S_r V_r^T``, which is Bruni et al.'s "latent mixing" matrix, since ``V_r`` has
    orthonormal columns. The SVD is not centred, as in Bruni et al.

    Parameters
    ----------
    text, visual, alpha, normalize, words
        As for :func:`concatenate`.
    rank : int
        Latent dimensions, ``1 <= rank <= min(n_words, text.dim + visual.dim)``.

    Returns
    -------
    WordVectors
        float64, of dimension ``rank``.
    """
    fused = concatenate(text, visual, alpha=alpha, normalize=normalize, words=words)
    u, s, _ = truncated_svd(fused.vectors, rank)
    return WordVectors(u * s, fused.words)


def svd_mixing(
    text: WordVectors,
    visual: WordVectors,
    *,
    rank: int,
    alpha: float = 0.5,
    normalize: bool = True,
    words: Iterable[str] | None = None,
) -> tuple[WordVectors, WordVectors]:
    """The text and visual blocks of the rank-``rank`` reconstruction ``U_r S_r V_r^T``.

    Bruni et al. 2014 (Section 3.2) smooth each modality with information from the other this way,
    then fuse the two blocks again at the feature or scoring level (e.g. with
    :class:`ScoreFusion`). Parameters as for :func:`svd_fusion`.

    Returns
    -------
    text_mixed : WordVectors of dimension text.dim
    visual_mixed : WordVectors of dimension visual.dim
    """
    fused = concatenate(text, visual, alpha=alpha, normalize=normalize, words=words)
    u, s, vt = truncated_svd(fused.vectors, rank)
    recon = (u * s) @ vt
    return (
        WordVectors(recon[:, : text.dim], fused.words),
        WordVectors(recon[:, text.dim :], fused.words),
    )


class ScoreFusion:
    """Scoring-level fusion: ``alpha * cos_text + (1 - alpha) * cos_visual`` (Bruni et al. 2014).

    A :class:`~vislang.semantics.SimilarityModel`: pass it to
    :func:`vislang.eval.word_similarity`. It covers the words that have both vectors.

    Parameters
    ----------
    text, visual : WordVectors or SimilarityModel
        Any pair of models with ``similarity`` and ``in``.
    alpha : float in [0, 1], default=0.5

    Examples
    --------
    >>> import numpy as np
    >>> t = WordVectors(np.array([[1.0, 0.0], [0.0, 1.0]]), ["a", "b"])
    >>> v = WordVectors(np.array([[1.0], [1.0]]), ["a", "b"])
    >>> ScoreFusion(t, v, alpha=0.25).similarity("a", "b")
    0.75
    """

    def __init__(
        self, text: SimilarityModel, visual: SimilarityModel, *, alpha: float = 0.5
    ) -> None:
        for name, m in (("text", text), ("visual", visual)):
            if not isinstance(m, SimilarityModel):
                raise InvalidInputError(
                    f"{name} must be a WordVectors or have similarity() and __contains__, got "
                    f"{type(m).__name__}"
                )
        self.text = text
        self.visual = visual
        self.alpha = _check_alpha(alpha)

    def __repr__(self) -> str:
        return f"ScoreFusion(alpha={self.alpha})"

    def __contains__(self, word: object) -> bool:
        return word in self.text and word in self.visual

    def similarity(self, word1: str, word2: str) -> float:
        """The fused score of two words that both modalities cover."""
        a = self.alpha
        return a * self.text.similarity(word1, word2) + (1.0 - a) * self.visual.similarity(
            word1, word2
        )

    def similarities(self, words1: Sequence[str], words2: Sequence[str]) -> NDArray[np.float64]:
        """Vectorised :meth:`similarity` over pairs."""
        return self.alpha * _pair_scores(self.text, words1, words2) + (
            1.0 - self.alpha
        ) * _pair_scores(self.visual, words1, words2)


def _pair_scores(
    model: SimilarityModel, words1: Sequence[str], words2: Sequence[str]
) -> NDArray[np.float64]:
    batch = getattr(model, "similarities", None)
    if batch is not None:
        return np.asarray(batch(words1, words2), dtype=np.float64)
    return np.array(
        [model.similarity(a, b) for a, b in zip(words1, words2, strict=True)], dtype=np.float64
    )


class DispersionGated:
    """Use the multimodal score only for concrete words (Kiela et al. 2014).

    A pair gets ``multimodal``'s score when its words have image dispersion ``<= threshold`` (both
    words with ``require="both"``, at least one with ``"any"``) and ``multimodal`` covers them;
    otherwise it gets ``text``'s score. Words without a dispersion count as abstract.

    Parameters
    ----------
    text : SimilarityModel
        Text-only model (e.g. :class:`~vislang.semantics.WordVectors`); defines coverage.
    multimodal : SimilarityModel
        A fusion (:class:`ScoreFusion`, or the vectors of :func:`concatenate`/:func:`svd_fusion`).
    dispersion : mapping of str to float
        From :func:`~vislang.semantics.image_dispersion` (or any concreteness-like score where
        lower means more concrete).
    threshold : float, optional
        Default: the median dispersion, as in Kiela et al.'s split into concrete and abstract
        halves. Tune it on a development split otherwise.
    require : {"both", "any"}, default="both"

    Attributes
    ----------
    threshold : float
    """

    def __init__(
        self,
        text: SimilarityModel,
        multimodal: SimilarityModel,
        dispersion: Mapping[str, float],
        *,
        threshold: float | None = None,
        require: Literal["both", "any"] = "both",
    ) -> None:
        for name, m in (("text", text), ("multimodal", multimodal)):
            if not isinstance(m, SimilarityModel):
                raise InvalidInputError(
                    f"{name} must be a WordVectors or have similarity() and __contains__, got "
                    f"{type(m).__name__}"
                )
        if require not in ("both", "any"):
            raise InvalidInputError(f"require must be 'both' or 'any', got {require!r}")
        if not dispersion:
            raise InvalidInputError("dispersion is empty")
        values = np.array(list(dispersion.values()), dtype=np.float64)
        if not np.isfinite(values).all():
            raise InvalidInputError("dispersion holds NaN or inf")
        if threshold is None:
            threshold = float(np.median(values))
        elif not np.isfinite(threshold):
            raise InvalidInputError(f"threshold must be finite, got {threshold}")
        self.text = text
        self.multimodal = multimodal
        self.dispersion = dict(dispersion)
        self.threshold = float(threshold)
        self.require = require

    def __repr__(self) -> str:
        return f"DispersionGated(threshold={self.threshold:.4g}, require={self.require!r})"

    def __contains__(self, word: object) -> bool:
        return word in self.text

    def is_concrete(self, word: str) -> bool:
        """Whether ``word``'s dispersion is at or below the threshold."""
        d = self.dispersion.get(word)
        return d is not None and d <= self.threshold

    def uses_vision(self, word1: str, word2: str) -> bool:
        """Whether the pair is scored by the multimodal model."""
        gate = all if self.require == "both" else any
        return (
            gate((self.is_concrete(word1), self.is_concrete(word2)))
            and word1 in self.multimodal
            and word2 in self.multimodal
        )

    def similarity(self, word1: str, word2: str) -> float:
        """The gated score of two words that the text model covers."""
        if self.uses_vision(word1, word2):
            return float(self.multimodal.similarity(word1, word2))
        return float(self.text.similarity(word1, word2))


# ---------------------------------------------------------------------- reweighting
@overload
def reweight(counts: WordVectors, method: ReweightMethod = ...) -> WordVectors: ...
@overload
def reweight(counts: Any, method: ReweightMethod = ...) -> NDArray[np.float64]: ...
def reweight(counts: Any, method: ReweightMethod = "ppmi") -> WordVectors | NDArray[np.float64]:
    """Association reweighting of a word-by-feature count matrix (VSEM; Bruni et al. 2014).

    With ``O = counts[w, f]``, ``N`` the total count and ``E = rowsum(w) * colsum(f) / N`` the
    count expected under independence:

    - ``"pmi"``: ``log(O / E)``, and 0 where ``O == 0`` (instead of ``-inf``);
    - ``"ppmi"``: ``max(0, pmi)``;
    - ``"lmi"``: ``O * log(O / E)`` (local mutual information, Evert 2005), 0 where ``O == 0``;
    - ``"plmi"``: ``max(0, lmi)`` (Bruni et al. 2014 use LMI with negatives set to 0).

    Parameters
    ----------
    counts : WordVectors or array-like of shape (n_words, n_features)
        Non-negative counts (e.g. :func:`~vislang.semantics.aggregate_visual_vectors` with
        ``method="sum"`` over bag-of-visual-words histograms).
    method : {"pmi", "ppmi", "lmi", "plmi"}, default="ppmi"

    Returns
    -------
    WordVectors or ndarray of float64
        Same type as the input.

    Raises
    ------
    InvalidInputError
        Negative or non-finite counts, an all-zero matrix, or an unknown method.

    Examples
    --------
    >>> import numpy as np
    >>> reweight(np.array([[2.0, 0.0], [0.0, 2.0]]), "ppmi").round(4).tolist()
    [[0.6931, 0.0], [0.0, 0.6931]]
    """
    if method not in ("pmi", "ppmi", "lmi", "plmi"):
        raise InvalidInputError(
            f"method must be one of ('pmi', 'ppmi', 'lmi', 'plmi'), got {method!r}"
        )
    words = counts.words if isinstance(counts, WordVectors) else None
    raw = counts.vectors if isinstance(counts, WordVectors) else counts
    from vislang._validation import as_float_matrix

    c = as_float_matrix(raw, "counts", dtype=np.float64)
    if not np.isfinite(c).all():
        raise InvalidInputError("counts holds NaN or inf")
    if (c < 0).any():
        row, col = (int(i[0]) for i in np.nonzero(c < 0))
        raise InvalidInputError(
            f"counts must be non-negative, got {c[row, col]} at row {row}, column {col}"
        )
    total = c.sum()
    if total <= 0:
        raise InvalidInputError("counts is all zeros")
    expected = np.outer(c.sum(axis=1), c.sum(axis=0)) / total
    pos = c > 0
    pmi = np.zeros_like(c)
    pmi[pos] = np.log(c[pos] / expected[pos])
    out = pmi * c if method in ("lmi", "plmi") else pmi
    if method in ("ppmi", "plmi"):
        out = np.maximum(out, 0.0)
    return WordVectors(out, words) if words is not None else out


# ---------------------------------------------------------------------- tuning
@dataclass(frozen=True)
class FusionTuning:
    """The outcome of :func:`tune_fusion`.

    Attributes
    ----------
    method : str
    alpha : float
        Best text weight on the development pairs.
    rank : int or None
        Best SVD rank (``method="svd"`` only).
    dev_rho : float
        Spearman rho of the best setting on the development pairs.
    n_dev_pairs : int
        Development pairs covered by both modalities (the pairs scored).
    grid : list of (alpha, rank, rho)
        Every setting tried, in order.
    """

    method: str
    alpha: float
    rank: int | None
    dev_rho: float
    n_dev_pairs: int
    grid: list[tuple[float, int | None, float]] = field(repr=False)

    def fuse(self, text: WordVectors, visual: WordVectors) -> SimilarityModel:
        """Apply the chosen setting: the fused vectors (or a :class:`ScoreFusion`)."""
        if self.method == "concatenate":
            return concatenate(text, visual, alpha=self.alpha)
        if self.method == "svd":
            assert self.rank is not None
            return svd_fusion(text, visual, alpha=self.alpha, rank=self.rank)
        return ScoreFusion(text, visual, alpha=self.alpha)


def tune_fusion(
    text: WordVectors,
    visual: WordVectors,
    dev_pairs: PairsLike,
    *,
    method: FusionMethod = "concatenate",
    alphas: Iterable[float] | None = None,
    ranks: Iterable[int] | None = None,
    words: Collection[str] | None = None,
) -> FusionTuning:
    """Choose ``alpha`` (and ``rank`` for SVD) by Spearman rho on development pairs only.

    Keep the test pairs out: split a benchmark with
    :meth:`vislang.eval.WordPairs.split` and report the test rho of
    ``tuning.fuse(text, visual)``. Ties go to the first setting in grid order.

    Parameters
    ----------
    text, visual : WordVectors
    dev_pairs : WordPairs or iterable of (word1, word2, score)
        Only pairs that both modalities cover are scored.
    method : {"concatenate", "svd", "score"}, default="concatenate"
    alphas : iterable of float, default=0, 0.1, ..., 1
    ranks : iterable of int
        Required for ``method="svd"``; ranks above the possible maximum are skipped.
    words : collection of str, optional
        Words the SVD is computed over (default: all words with both vectors). The SVD uses no
        similarity scores, so including test words is not tuning on them.

    Returns
    -------
    FusionTuning

    Raises
    ------
    InvalidInputError
        Fewer than 3 development pairs covered by both modalities, a bad grid, or an unknown
        method.
    """
    from vislang.semantics.pairs import as_word_pairs, spearman

    if method not in ("concatenate", "svd", "score"):
        raise InvalidInputError(f"method must be 'concatenate', 'svd' or 'score', got {method!r}")
    common = common_words(text, visual, words)
    both = set(common)
    pairs = as_word_pairs(dev_pairs)
    keep = [
        i
        for i, (a, b) in enumerate(zip(pairs.word1, pairs.word2, strict=True))
        if a in both and b in both
    ]
    if len(keep) < 3:
        raise InvalidInputError(
            f"only {len(keep)} development pair(s) are covered by both modalities; need >= 3"
        )
    dev = pairs.subset(keep)
    grid_alphas = [
        _check_alpha(a) for a in (np.linspace(0.0, 1.0, 11) if alphas is None else alphas)
    ]
    if not grid_alphas:
        raise InvalidInputError("alphas is empty")
    grid_ranks: list[int | None] = [None]
    if method == "svd":
        if ranks is None:
            raise InvalidInputError("method='svd' needs ranks")
        limit = min(len(common), text.dim + visual.dim)
        grid_ranks = [int(r) for r in ranks if 1 <= int(r) <= limit]
        if not grid_ranks:
            raise InvalidInputError(f"no rank in [1, {limit}] was given")
    grid: list[tuple[float, int | None, float]] = []
    for a in grid_alphas:
        if method == "score":
            model: Any = ScoreFusion(text, visual, alpha=a)
            grid.append((a, None, _rho(model, dev, spearman)))
            continue
        fused = concatenate(text, visual, alpha=a, words=common)
        if method == "concatenate":
            grid.append((a, None, _rho(fused, dev, spearman)))
            continue
        u, s, _ = truncated_svd(fused.vectors, max(r for r in grid_ranks if r is not None))
        for r in grid_ranks:
            assert r is not None
            grid.append((a, r, _rho(WordVectors(u[:, :r] * s[:r], fused.words), dev, spearman)))
    scores = np.array([g[2] for g in grid])
    best = int(np.argmax(np.where(np.isnan(scores), -np.inf, scores)))
    a, r, rho = grid[best]
    return FusionTuning(method, a, r, rho, len(dev), grid)


def _rho(model: SimilarityModel, pairs: Any, spearman: Any) -> float:
    pred = _pair_scores(model, pairs.word1, pairs.word2)
    return float(spearman(pred, pairs.scores))
