"""Word-similarity evaluation: Spearman rho between model and human scores, with coverage and a
bootstrap confidence interval, plus readers for MEN, SimLex-999 and WordSim-353.

Following Bruni et al. 2014 and Kiela & Bottou 2014, compare models on the pairs that every one
of them covers (:func:`compare_models` does this); a pair with an out-of-vocabulary word is
skipped and counted, never scored as 0.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from scipy.stats import rankdata

from vislang._validation import seed_from
from vislang.exceptions import CheckpointError, InvalidInputError
from vislang.semantics.word_vectors import SimilarityModel, WordVectors

__all__ = [
    "PairsLike",
    "WordPairs",
    "WordSimilarityResult",
    "as_word_pairs",
    "compare_models",
    "load_men",
    "load_simlex999",
    "load_word_pairs",
    "load_wordsim353",
    "spearman",
    "word_similarity",
]

PathLike = str | os.PathLike[str]


# ---------------------------------------------------------------------- pairs
class WordPairs:
    """A word-similarity benchmark: word pairs with human scores and optional extra columns.

    Parameters
    ----------
    word1, word2 : sequence of str
    scores : array-like of float of shape (n_pairs,)
    name : str, default=""
    columns : mapping of str to array, optional
        Extra per-pair columns (SimLex-999's ``POS``, ``conc(w1)``, ...).

    Examples
    --------
    >>> wp = WordPairs(["cat", "car"], ["dog", "bus"], [7.0, 6.0], name="toy")
    >>> len(wp), list(wp)[0]
    (2, ('cat', 'dog', 7.0))
    """

    __slots__ = ("columns", "name", "scores", "word1", "word2")

    word1: tuple[str, ...]
    word2: tuple[str, ...]
    scores: NDArray[np.float64]
    name: str
    columns: dict[str, NDArray[Any]]

    def __init__(
        self,
        word1: Sequence[str],
        word2: Sequence[str],
        scores: Any,
        *,
        name: str = "",
        columns: Mapping[str, Any] | None = None,
    ) -> None:
        w1, w2 = tuple(word1), tuple(word2)
        s = np.asarray(scores, dtype=np.float64).reshape(-1)
        if not len(w1) == len(w2) == len(s):
            raise InvalidInputError(
                f"word1, word2 and scores must have the same length, got {len(w1)}, {len(w2)} "
                f"and {len(s)}"
            )
        for i, (a, b) in enumerate(zip(w1, w2, strict=True)):
            if not isinstance(a, str) or not isinstance(b, str):
                raise InvalidInputError(f"pair {i}: words must be str, got {a!r}, {b!r}")
        if not np.isfinite(s).all():
            raise InvalidInputError(
                f"scores holds NaN or inf at pair {int(np.argmax(~np.isfinite(s)))}"
            )
        cols: dict[str, NDArray[Any]] = {}
        for k, v in (columns or {}).items():
            arr = np.asarray(v)
            if arr.shape[:1] != (len(s),):
                raise InvalidInputError(
                    f"column {k!r} has {arr.shape[0] if arr.ndim else 0} values, expected {len(s)}"
                )
            cols[k] = arr
        s.setflags(write=False)
        self.word1 = w1
        self.word2 = w2
        self.scores = s
        self.name = name
        self.columns = cols

    def __len__(self) -> int:
        return len(self.word1)

    def __iter__(self) -> Iterator[tuple[str, str, float]]:
        yield from zip(self.word1, self.word2, self.scores.tolist(), strict=True)

    def __getitem__(self, i: int) -> tuple[str, str, float]:
        return self.word1[i], self.word2[i], float(self.scores[i])

    def __repr__(self) -> str:
        name = f"{self.name!r}, " if self.name else ""
        return f"WordPairs({name}n_pairs={len(self)})"

    @property
    def words(self) -> list[str]:
        """Distinct words, in order of first appearance."""
        return list(dict.fromkeys(w for p in zip(self.word1, self.word2, strict=True) for w in p))

    def subset(self, indices: Sequence[int] | NDArray[Any]) -> WordPairs:
        """The pairs at ``indices`` (integers or a boolean mask), with their columns."""
        idx = np.asarray(indices)
        if idx.dtype == bool:
            if idx.shape != (len(self),):
                raise InvalidInputError(
                    f"a boolean mask must have shape ({len(self)},), got {idx.shape}"
                )
            idx = np.flatnonzero(idx)
        idx = idx.astype(np.int64).reshape(-1)
        return WordPairs(
            [self.word1[i] for i in idx],
            [self.word2[i] for i in idx],
            self.scores[idx],
            name=self.name,
            columns={k: v[idx] for k, v in self.columns.items()},
        )

    def lower(self) -> WordPairs:
        """The same pairs with lower-cased words."""
        return WordPairs(
            [w.lower() for w in self.word1],
            [w.lower() for w in self.word2],
            self.scores,
            name=self.name,
            columns=self.columns,
        )

    def covered_by(self, *models: Any) -> WordPairs:
        """The pairs whose two words every model covers (``word in model``)."""
        mask = np.array(
            [
                all(a in m and b in m for m in models)
                for a, b in zip(self.word1, self.word2, strict=True)
            ],
            dtype=bool,
        )
        return self.subset(mask) if len(self) else self

    def split(
        self, dev_fraction: float = 0.5, *, random_state: Any = 0
    ) -> tuple[WordPairs, WordPairs]:
        """A random (development, test) split, reproducible for a seed.

        Tune fusion weights on the first and report on the second only.

        Raises
        ------
        InvalidInputError
            ``dev_fraction`` not in (0, 1), or a split would be empty.
        """
        if not 0.0 < dev_fraction < 1.0:
            raise InvalidInputError(f"dev_fraction must be in (0, 1), got {dev_fraction}")
        n_dev = round(dev_fraction * len(self))
        if n_dev == 0 or n_dev == len(self):
            raise InvalidInputError(
                f"dev_fraction={dev_fraction} of {len(self)} pairs leaves an empty split"
            )
        rng = np.random.default_rng(seed_from(random_state))
        perm = rng.permutation(len(self))
        return self.subset(np.sort(perm[:n_dev])), self.subset(np.sort(perm[n_dev:]))


PairsLike = WordPairs | Iterable[tuple[str, str, float]]


def as_word_pairs(pairs: PairsLike) -> WordPairs:
    """``pairs`` as :class:`WordPairs` (from any iterable of ``(word1, word2, score)``).

    Raises
    ------
    InvalidInputError
        An item is not a (str, str, number) triple.
    """
    if isinstance(pairs, WordPairs):
        return pairs
    if isinstance(pairs, str | bytes):
        raise InvalidInputError(
            "pairs must be WordPairs or (word1, word2, score) triples, got a str"
        )
    w1: list[str] = []
    w2: list[str] = []
    s: list[float] = []
    for i, item in enumerate(pairs):
        try:
            a, b, score = item
            score = float(score)
        except (TypeError, ValueError):
            raise InvalidInputError(
                f"pairs[{i}] must be a (word1, word2, score) triple, got {item!r}"
            ) from None
        w1.append(a)
        w2.append(b)
        s.append(score)
    return WordPairs(w1, w2, s)


# ---------------------------------------------------------------------- readers
def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8-sig").splitlines()
    except FileNotFoundError:
        raise CheckpointError(f"word-pair file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise CheckpointError(f"cannot read word-pair file {path}: {e}") from None


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def load_word_pairs(
    path: PathLike,
    *,
    delimiter: str | None = None,
    comment: str | None = "#",
    header: bool | Literal["auto"] = "auto",
    columns: tuple[int, int, int] = (0, 1, 2),
    name: str | None = None,
) -> WordPairs:
    """Read a generic word-pair file: one pair per line, ``word1 word2 score`` by default.

    Parameters
    ----------
    path : path
    delimiter : str, optional
        Field separator; default a tab when the first data line has one, else any whitespace.
    comment : str or None, default="#"
        Lines starting with it are skipped (WordSim-353 as shipped by gensim).
    header : bool or "auto", default="auto"
        Whether the first non-comment line is a header; ``"auto"``: when its score field is
        not a number.
    columns : (int, int, int), default=(0, 1, 2)
        Positions of word1, word2 and the score.
    name : str, optional
        Default: the file name without its suffix.

    Raises
    ------
    CheckpointError
        The file is missing, a line has too few fields or a non-numeric score (the message gives
        the line number), or no pair is found.
    """
    path = Path(path)
    lines = [
        (n, line)
        for n, line in enumerate(_lines(path), start=1)
        if line.strip() and not (comment and line.lstrip().startswith(comment))
    ]
    if not lines:
        raise CheckpointError(f"{path}: no word pair found")
    if delimiter is None:
        delimiter = "\t" if "\t" in lines[0][1] else None

    def fields(line: str) -> list[str]:
        parts = line.split(delimiter)
        return [p.strip() for p in parts] if delimiter is not None else parts

    need = max(columns) + 1
    first = fields(lines[0][1])
    if header == "auto":
        header = len(first) >= need and not _is_number(first[columns[2]])
    header_fields = first if header else None
    if header:
        lines = lines[1:]
    w1: list[str] = []
    w2: list[str] = []
    scores: list[float] = []
    rows: list[list[str]] = []
    for n, line in lines:
        f = fields(line)
        if len(f) < need:
            raise CheckpointError(
                f"{path}: line {n}: expected at least {need} fields, got {len(f)}: {line!r}"
            )
        try:
            score = float(f[columns[2]])
        except ValueError:
            raise CheckpointError(
                f"{path}: line {n}: the score {f[columns[2]]!r} is not a number"
            ) from None
        w1.append(f[columns[0]])
        w2.append(f[columns[1]])
        scores.append(score)
        rows.append(f)
    if not w1:
        raise CheckpointError(f"{path}: no word pair found")
    extra: dict[str, NDArray[Any]] = {}
    if header_fields is not None:
        for j, col in enumerate(header_fields):
            if j in columns or not all(len(r) > j for r in rows):
                continue
            values = [r[j] for r in rows]
            extra[col] = (
                np.array([float(v) for v in values])
                if all(_is_number(v) for v in values)
                else np.array(values)
            )
    try:
        return WordPairs(w1, w2, scores, name=name or path.stem, columns=extra)
    except InvalidInputError as e:
        raise CheckpointError(f"{path}: {e}") from None


_POS_SUFFIX = re.compile(r"-[nvja]$")


def load_men(path: PathLike, *, strip_pos: bool = True) -> WordPairs:
    """Read MEN (Bruni et al. 2014): ``word1 word2 score`` lines, scores in [0, 50].

    Parameters
    ----------
    path : path
        ``MEN_dataset_natural_form_full`` or the lemma file ``MEN_dataset_lemma_form_full``.
    strip_pos : bool, default=True
        Drop the lemma form's part-of-speech suffixes (``sun-n`` -> ``sun``).
    """
    pairs = load_word_pairs(path, delimiter=None, header=False, name="MEN")
    if not strip_pos:
        return pairs
    return WordPairs(
        [_POS_SUFFIX.sub("", w) for w in pairs.word1],
        [_POS_SUFFIX.sub("", w) for w in pairs.word2],
        pairs.scores,
        name=pairs.name,
    )


def load_simlex999(path: PathLike) -> WordPairs:
    """Read SimLex-999 (Hill et al. 2015).

    Accepts the original ``SimLex-999.txt`` (a tab-separated header ``word1 word2 POS SimLex999
    conc(w1) conc(w2) concQ Assoc(USF) SimAssoc333 SD(SimLex)``; the score is the ``SimLex999``
    column and the others become :attr:`WordPairs.columns`) and gensim's ``simlex999.txt``
    (``#`` comments, three columns).

    Raises
    ------
    CheckpointError
        Missing file or malformed line; an original-format file without a ``SimLex999`` column.
    """
    path = Path(path)
    lines = [ln for ln in _lines(path) if ln.strip() and not ln.lstrip().startswith("#")]
    head = lines[0].split("\t") if lines else []
    if len(head) > 3 and not _is_number(head[2]):
        names = [h.strip() for h in head]
        if "SimLex999" not in names:
            raise CheckpointError(f"{path}: the header has no 'SimLex999' column: {names}")
        return load_word_pairs(
            path,
            delimiter="\t",
            header=True,
            columns=(0, 1, names.index("SimLex999")),
            name="SimLex-999",
        )
    return load_word_pairs(path, name="SimLex-999")


def load_wordsim353(path: PathLike) -> WordPairs:
    """Read WordSim-353 (Finkelstein et al. 2002), tab- or comma-separated, ``#`` comments.

    Handles ``combined.tab`` / ``combined.csv`` (header ``Word 1, Word 2, Human (mean)``) and
    gensim's ``wordsim353.tsv``. Words keep their case (``Jerusalem``); see
    ``case_insensitive`` in :func:`word_similarity`.
    """
    path = Path(path)
    lines = [ln for ln in _lines(path) if ln.strip() and not ln.lstrip().startswith("#")]
    delim = None
    if lines and "\t" not in lines[0] and "," in lines[0]:
        delim = ","
    return load_word_pairs(path, delimiter=delim, name="WordSim-353")


# ---------------------------------------------------------------------- scoring
def _pearson_rows(a: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.float64]:
    """Pearson correlation of each row of ``a`` with the same row of ``b`` (NaN if constant)."""
    a = a - a.mean(axis=-1, keepdims=True)
    b = b - b.mean(axis=-1, keepdims=True)
    num = (a * b).sum(axis=-1)
    den = np.sqrt((a * a).sum(axis=-1) * (b * b).sum(axis=-1))
    out = np.full(num.shape, np.nan)
    ok = den > 0
    out[ok] = np.clip(num[ok] / den[ok], -1.0, 1.0)
    return out


def spearman(x: Any, y: Any) -> float:
    """Spearman's rho with average ranks for ties (as :func:`scipy.stats.spearmanr`).

    Returns NaN when either input is constant (scipy warns and returns NaN too).

    Raises
    ------
    InvalidInputError
        Different lengths, fewer than 2 values, or NaN/inf.
    """
    a = np.asarray(x, dtype=np.float64).reshape(-1)
    b = np.asarray(y, dtype=np.float64).reshape(-1)
    if a.shape != b.shape:
        raise InvalidInputError(f"x and y must have the same length, got {a.size} and {b.size}")
    if a.size < 2:
        raise InvalidInputError(f"Spearman's rho needs at least 2 pairs, got {a.size}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise InvalidInputError("x and y must be finite")
    return float(_pearson_rows(rankdata(a)[None], rankdata(b)[None])[0])


@dataclass(frozen=True, eq=False)
class WordSimilarityResult:
    """The outcome of :func:`word_similarity`.

    Attributes
    ----------
    rho : float
        Spearman correlation on the covered pairs (NaN if the model's scores are constant).
    ci_low, ci_high : float
        Percentile bootstrap interval at level ``confidence`` (NaN without bootstrap).
    confidence : float
    n_pairs, n_covered, n_skipped : int
        All pairs, pairs scored, pairs skipped for an out-of-vocabulary word.
    skipped_pairs : tuple of (str, str)
    oov_words : tuple of str
        Distinct out-of-vocabulary words, in order of first appearance.
    predicted, gold : ndarray of float64 of shape (n_covered,)
        Model and human scores of the covered pairs.
    covered : ndarray of int64
        Indices of the covered pairs in the input.
    name : str
        The benchmark's name.
    """

    rho: float
    ci_low: float
    ci_high: float
    confidence: float
    n_pairs: int
    n_covered: int
    n_skipped: int
    skipped_pairs: tuple[tuple[str, str], ...] = field(repr=False)
    oov_words: tuple[str, ...] = field(repr=False)
    predicted: NDArray[np.float64] = field(repr=False)
    gold: NDArray[np.float64] = field(repr=False)
    covered: NDArray[np.int64] = field(repr=False)
    name: str = ""

    @property
    def coverage(self) -> float:
        """Fraction of the pairs scored."""
        return self.n_covered / self.n_pairs if self.n_pairs else 0.0

    @property
    def ci(self) -> tuple[float, float]:
        """``(ci_low, ci_high)``."""
        return self.ci_low, self.ci_high

    def __str__(self) -> str:
        name = f"{self.name}: " if self.name else ""
        ci = f" [{self.ci_low:.3f}, {self.ci_high:.3f}]" if not math.isnan(self.ci_low) else ""
        return (
            f"{name}rho={self.rho:.3f}{ci} on {self.n_covered}/{self.n_pairs} pairs "
            f"({self.n_skipped} skipped)"
        )


def _as_model(vectors: Any) -> Any:
    if isinstance(vectors, WordVectors | SimilarityModel):
        return vectors
    if isinstance(vectors, Mapping):
        return WordVectors.from_dict(vectors)
    raise InvalidInputError(
        "vectors must be a WordVectors, a {word: vector} mapping, or have similarity() and "
        f"__contains__, got {type(vectors).__name__}"
    )


def _resolve(model: Any, word: str, case_insensitive: bool) -> str | None:
    if word in model:
        return word
    if case_insensitive:
        low = word.lower()
        if low in model:
            return low
    return None


def bootstrap_spearman(
    predicted: Any,
    gold: Any,
    *,
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    random_state: Any = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of Spearman's rho, resampling pairs with replacement.

    Resamples whose rho is undefined (a constant column) are dropped. Deterministic for a seed.

    Returns
    -------
    (low, high) : tuple of float
        NaN, NaN when no resample has a defined rho.
    """
    if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, int) or n_bootstrap < 1:
        raise InvalidInputError(f"n_bootstrap must be a positive int, got {n_bootstrap!r}")
    if not 0.0 < confidence < 1.0:
        raise InvalidInputError(f"confidence must be in (0, 1), got {confidence}")
    p = np.asarray(predicted, dtype=np.float64)
    g = np.asarray(gold, dtype=np.float64)
    n = p.size
    rng = np.random.default_rng(seed_from(random_state))
    rhos = np.empty(n_bootstrap)
    # Chunks bound the (chunk, n) rank matrices for large benchmarks.
    chunk = max(1, min(n_bootstrap, 2_000_000 // max(n, 1)))
    for start in range(0, n_bootstrap, chunk):
        stop = min(start + chunk, n_bootstrap)
        idx = rng.integers(0, n, size=(stop - start, n))
        rhos[start:stop] = _pearson_rows(rankdata(p[idx], axis=1), rankdata(g[idx], axis=1))
    rhos = rhos[~np.isnan(rhos)]
    if rhos.size == 0:
        return math.nan, math.nan
    tail = 100.0 * (1.0 - confidence) / 2.0
    low, high = np.percentile(rhos, [tail, 100.0 - tail])
    return float(low), float(high)


def word_similarity(
    vectors: Any,
    pairs: PairsLike,
    *,
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    random_state: Any = 0,
    case_insensitive: bool = False,
) -> WordSimilarityResult:
    """Spearman's rho between a model's similarities and human scores, with coverage and a CI.

    Parameters
    ----------
    vectors : WordVectors, mapping of str to vector, or SimilarityModel
        Word vectors (scored by cosine) or any object with ``similarity(w1, w2)`` and ``in``,
        such as :class:`~vislang.semantics.ScoreFusion`.
    pairs : WordPairs or iterable of (word1, word2, score)
        From :func:`load_men`, :func:`load_simlex999`, :func:`load_wordsim353`, ...
    n_bootstrap : int, default=1000
        Bootstrap resamples of the covered pairs for the interval; 0 skips it (NaN bounds).
    confidence : float, default=0.95
    random_state : int, Generator or None, default=0
        Seed of the bootstrap; the same seed gives the same interval.
    case_insensitive : bool, default=False
        Fall back to the lower-cased word when the word itself has no vector.

    Returns
    -------
    WordSimilarityResult

    Raises
    ------
    InvalidInputError
        Fewer than 2 covered pairs (the message says how many were skipped), or bad options.

    Examples
    --------
    >>> import numpy as np
    >>> from vislang.semantics import WordVectors
    >>> wv = WordVectors(np.array([[1.0, 0.1], [0.9, 0.3], [0.1, 1.0]]), ["cat", "dog", "car"])
    >>> r = word_similarity(wv, [("cat", "dog", 9.0), ("cat", "car", 2.0), ("dog", "car", 3.0),
    ...                          ("cat", "zebra", 5.0)], n_bootstrap=0)
    >>> round(r.rho, 3), r.n_covered, r.n_skipped, r.oov_words
    (1.0, 3, 1, ('zebra',))
    """
    if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, int) or n_bootstrap < 0:
        raise InvalidInputError(f"n_bootstrap must be a non-negative int, got {n_bootstrap!r}")
    model = _as_model(vectors)
    wp = as_word_pairs(pairs)
    cov: list[int] = []
    a_words: list[str] = []
    b_words: list[str] = []
    skipped: list[tuple[str, str]] = []
    oov: dict[str, None] = {}
    for i, (a, b) in enumerate(zip(wp.word1, wp.word2, strict=True)):
        ra, rb = _resolve(model, a, case_insensitive), _resolve(model, b, case_insensitive)
        if ra is None or rb is None:
            skipped.append((a, b))
            for w, r in ((a, ra), (b, rb)):
                if r is None:
                    oov.setdefault(w, None)
            continue
        cov.append(i)
        a_words.append(ra)
        b_words.append(rb)
    if len(cov) < 2:
        raise InvalidInputError(
            f"only {len(cov)} of {len(wp)} pairs are covered ({len(skipped)} skipped for "
            "out-of-vocabulary words); need at least 2"
        )
    batch = getattr(model, "similarities", None)
    if batch is not None:
        pred = np.asarray(batch(a_words, b_words), dtype=np.float64)
    else:
        pred = np.array(
            [model.similarity(a, b) for a, b in zip(a_words, b_words, strict=True)],
            dtype=np.float64,
        )
    if not np.isfinite(pred).all():
        raise InvalidInputError("the model returned NaN or inf similarities")
    gold = wp.scores[cov]
    rho = spearman(pred, gold)
    low = high = math.nan
    if n_bootstrap > 0:
        low, high = bootstrap_spearman(
            pred, gold, n_bootstrap=n_bootstrap, confidence=confidence, random_state=random_state
        )
    elif not 0.0 < confidence < 1.0:
        raise InvalidInputError(f"confidence must be in (0, 1), got {confidence}")
    pred.setflags(write=False)
    return WordSimilarityResult(
        rho=rho,
        ci_low=low,
        ci_high=high,
        confidence=float(confidence),
        n_pairs=len(wp),
        n_covered=len(cov),
        n_skipped=len(skipped),
        skipped_pairs=tuple(skipped),
        oov_words=tuple(oov),
        predicted=pred,
        gold=gold,
        covered=np.asarray(cov, dtype=np.int64),
        name=wp.name,
    )


def compare_models(
    models: Mapping[str, Any],
    pairs: PairsLike,
    *,
    common: bool = True,
    **kwargs: Any,
) -> dict[str, WordSimilarityResult]:
    """Evaluate several models, by default on the pairs that all of them cover.

    This is how Bruni et al. 2014 and Kiela & Bottou 2014 report text-only, visual-only and
    fused rho: on the same pairs, so the numbers are comparable.

    Parameters
    ----------
    models : mapping of str to model
        E.g. ``{"text": glove, "visual": visual, "fused": concatenate(glove, visual)}``.
    pairs : WordPairs or iterable of (word1, word2, score)
    common : bool, default=True
        Restrict to the pairs every model covers; ``False`` lets each model use its own.
    **kwargs
        Passed to :func:`word_similarity` (``n_bootstrap``, ``random_state``, ...). With
        ``case_insensitive=True`` and ``common=True`` the words are lower-cased first.

    Returns
    -------
    dict of str to WordSimilarityResult
        ``n_pairs`` counts the full benchmark, so ``coverage`` is comparable across models.
    """
    wp = as_word_pairs(pairs)
    resolved = {k: _as_model(m) for k, m in models.items()}
    if not common:
        return {k: word_similarity(m, wp, **kwargs) for k, m in resolved.items()}
    base = wp.lower() if kwargs.get("case_insensitive") else wp
    keep = np.array(
        [
            i
            for i, (a, b) in enumerate(zip(base.word1, base.word2, strict=True))
            if all(a in m and b in m for m in resolved.values())
        ],
        dtype=np.int64,
    )
    shared = base.subset(keep)
    kept = set(keep.tolist())
    skipped = tuple(
        (a, b) for i, (a, b) in enumerate(zip(wp.word1, wp.word2, strict=True)) if i not in kept
    )
    missing: dict[str, None] = {}
    for a, b in zip(base.word1, base.word2, strict=True):
        for w in (a, b):
            if not all(w in m for m in resolved.values()):
                missing.setdefault(w, None)
    out: dict[str, WordSimilarityResult] = {}
    for k, m in resolved.items():
        r = word_similarity(m, shared, **kwargs)
        out[k] = WordSimilarityResult(
            rho=r.rho,
            ci_low=r.ci_low,
            ci_high=r.ci_high,
            confidence=r.confidence,
            n_pairs=len(wp),
            n_covered=r.n_covered,
            n_skipped=len(skipped),
            skipped_pairs=skipped,
            oov_words=tuple(missing),
            predicted=r.predicted,
            gold=r.gold,
            covered=keep,
            name=wp.name,
        )
    return out
