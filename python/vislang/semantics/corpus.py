"""A tokenised corpus as word ids: vocabulary with ``min_count``, flat ids and sentence offsets.

The skip-gram trainers take this CSR form (``ids[offsets[s]:offsets[s + 1]]`` is sentence ``s``) so
that the native loop never touches Python objects.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vislang.exceptions import InvalidInputError

__all__ = ["CorpusLike", "EncodedCorpus", "encode_corpus", "read_sentences"]

CorpusLike = str | os.PathLike[str] | Iterable[Sequence[str]]


@dataclass(frozen=True)
class EncodedCorpus:
    """A corpus mapped to a vocabulary.

    Attributes
    ----------
    words : tuple of str
        The vocabulary, by decreasing count (ties: first occurrence first).
    counts : ndarray of int64
        Corpus count of each word.
    ids : ndarray of uint32
        The corpus's in-vocabulary tokens; words below ``min_count`` are dropped (word2vec).
    offsets : ndarray of int64
        Sentence boundaries, ``len(sentences) + 1`` entries.
    n_raw_tokens : int
        Tokens read, including the dropped ones.
    """

    words: tuple[str, ...]
    counts: NDArray[np.int64]
    ids: NDArray[np.uint32]
    offsets: NDArray[np.int64]
    n_raw_tokens: int


def read_sentences(path: str | os.PathLike[str]) -> Iterable[list[str]]:
    """The whitespace-split lines of a UTF-8 text file (one sentence per line)."""
    p = Path(path)
    if not p.is_file():
        raise InvalidInputError(f"corpus file {str(p)!r} does not exist")
    with p.open(encoding="utf-8", errors="replace") as f:
        for line in f:
            yield line.split()


def encode_corpus(
    corpus: CorpusLike, *, min_count: int = 5, max_sentence_length: int = 10_000
) -> EncodedCorpus:
    """Count the words of ``corpus`` and encode it as ids + sentence offsets.

    Parameters
    ----------
    corpus : path or iterable of token sequences
        A text file (one sentence per line, whitespace-tokenised) or an iterable of lists of
        tokens (iterated once).
    min_count : int, default=5
        Words seen fewer times are dropped from the vocabulary and from the sentences.
    max_sentence_length : int, default=10000
        Longer sentences are cut into pieces of this length (so one-line corpora still split
        over threads).

    Raises
    ------
    InvalidInputError
        Empty corpus, no word reaching ``min_count``, a token that is not a ``str``, bad options.
    """
    if not isinstance(min_count, int) or isinstance(min_count, bool) or min_count < 1:
        raise InvalidInputError(f"min_count must be an int >= 1, got {min_count!r}")
    if max_sentence_length < 1:
        raise InvalidInputError(f"max_sentence_length must be >= 1, got {max_sentence_length}")
    sentences: Iterable[Sequence[str]]
    if isinstance(corpus, str | os.PathLike):
        sentences = read_sentences(corpus)
    elif isinstance(corpus, bytes):
        raise InvalidInputError("corpus must be a path or an iterable of token lists, got bytes")
    else:
        sentences = corpus
    index: dict[str, int] = {}
    chunks: list[NDArray[np.int64]] = []
    lengths: list[int] = []
    for s, sentence in enumerate(sentences):
        if isinstance(sentence, str):
            raise InvalidInputError(
                f"sentence {s} is a str; pass token lists (e.g. line.split()) or a file path"
            )
        toks = list(sentence)
        try:
            ids = [index[t] if t in index else index.setdefault(t, len(index)) for t in toks]
        except TypeError:
            bad = next(t for t in toks if not isinstance(t, str))
            raise InvalidInputError(
                f"sentence {s} holds a {type(bad).__name__}, tokens must be str"
            ) from None
        chunks.append(np.asarray(ids, dtype=np.int64))
        lengths.append(len(ids))
    if not index:
        raise InvalidInputError("the corpus is empty (no tokens)")
    bad_token = next((w for w in index if not isinstance(w, str)), None)
    if bad_token is not None:
        raise InvalidInputError(f"tokens must be str, got {bad_token!r}")
    provisional = np.concatenate(chunks) if chunks else np.zeros(0, np.int64)
    counts_all = np.bincount(provisional, minlength=len(index))
    # Decreasing count, ties by first occurrence (the provisional ids are in that order).
    order = np.argsort(-counts_all, kind="stable")
    order = order[counts_all[order] >= min_count]
    if order.size == 0:
        raise InvalidInputError(
            f"no word occurs at least min_count={min_count} times "
            f"(the most frequent occurs {int(counts_all.max())} times)"
        )
    remap = np.full(len(index), -1, dtype=np.int64)
    remap[order] = np.arange(order.size)
    mapped = remap[provisional]
    keep = mapped >= 0
    ends = np.cumsum(np.asarray(lengths, dtype=np.int64))
    kept_before = np.concatenate([[0], np.cumsum(keep, dtype=np.int64)])
    bounds = kept_before[np.concatenate([[0], ends])]
    bounds = _split_long(bounds, max_sentence_length)
    words_by_id = list(index)
    return EncodedCorpus(
        words=tuple(words_by_id[i] for i in order),
        counts=counts_all[order].astype(np.int64),
        ids=mapped[keep].astype(np.uint32),
        offsets=bounds,
        n_raw_tokens=int(provisional.size),
    )


def _split_long(bounds: NDArray[np.int64], limit: int) -> NDArray[np.int64]:
    """Sentence bounds with every sentence longer than ``limit`` cut into pieces; drops empty
    sentences (they carry no pairs)."""
    lengths = np.diff(bounds)
    if lengths.size and lengths.max() <= limit and lengths.min() > 0:
        return bounds.astype(np.int64)
    out: list[Any] = [np.zeros(1, np.int64)]
    for start, n in zip(bounds[:-1].tolist(), lengths.tolist(), strict=True):
        if n == 0:
            continue
        out.append(np.minimum(np.arange(start + limit, start + n + limit, limit), start + n))
    return np.concatenate(out).astype(np.int64)
