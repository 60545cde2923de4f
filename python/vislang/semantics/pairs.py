"""Word-similarity pairs with human scores (:class:`WordPairs`) and Spearman's rho.

The data type of the word-similarity benchmarks: the readers and the evaluation live in
:mod:`vislang.eval.word_similarity` (which re-exports these names); development-split tuning in
:mod:`vislang.semantics.fusion` uses them too, so they sit in this lower layer.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.stats import rankdata

from vislang._validation import seed_from
from vislang.exceptions import InvalidInputError

__all__ = ["PairsLike", "WordPairs", "as_word_pairs", "spearman"]


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
