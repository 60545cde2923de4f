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
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from scipy.stats import rankdata

from vislang._validation import seed_from
from vislang.exceptions import CheckpointError, InvalidInputError
from vislang.semantics.pairs import (
    PairsLike,
    WordPairs,
    _pearson_rows,
    as_word_pairs,
    spearman,
)
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
