"""Word-level tokenizer and vocabulary, built from training captions only (vsepp issue #29).

Index 0 is ``<pad>`` and index 1 is ``<unk>``: unknown words map to ``<unk>``. Captions longer
than ``max_length`` tokens are truncated to their first ``max_length`` tokens (the end of a long
caption is dropped, never an error). The vocabulary is saved with the model (a JSON object).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vislang.data.base import simple_tokenize
from vislang.exceptions import InvalidInputError

__all__ = ["PAD", "UNK", "Vocabulary"]

PAD = "<pad>"
UNK = "<unk>"


class Vocabulary:
    """Words to indices; ``encode`` turns captions into padded index arrays.

    Parameters
    ----------
    words : sequence of str
        The words, in index order, without ``<pad>`` and ``<unk>`` (which come first).
    max_length : int, default 32
        Captions are truncated to their first ``max_length`` tokens.

    Examples
    --------
    >>> vocab = Vocabulary.build(["a red circle", "a blue square", "a red square"], min_count=2)
    >>> vocab.words
    ['<pad>', '<unk>', 'a', 'red', 'square']
    >>> ids, lengths = vocab.encode(["a red dog"])
    >>> ids.tolist(), lengths.tolist()
    ([[2, 3, 1]], [3])
    """

    def __init__(self, words: Sequence[str], *, max_length: int = 32) -> None:
        if max_length < 1:
            raise InvalidInputError(f"max_length: must be >= 1, got {max_length}")
        self.words: list[str] = [PAD, UNK]
        self.index: dict[str, int] = {PAD: 0, UNK: 1}
        for w in words:
            if w in self.index:
                raise InvalidInputError(f"words: {w!r} appears twice (or is <pad>/<unk>)")
            self.index[w] = len(self.words)
            self.words.append(w)
        self.max_length = int(max_length)

    @classmethod
    def build(
        cls, captions: Iterable[str], *, min_count: int = 1, max_length: int = 32
    ) -> Vocabulary:
        """Words of ``captions`` (training captions only!) seen at least ``min_count`` times,
        most frequent first (ties alphabetical)."""
        if min_count < 1:
            raise InvalidInputError(f"min_count: must be >= 1, got {min_count}")
        counts: Counter[str] = Counter()
        for c in captions:
            counts.update(simple_tokenize(c))
        if not counts:
            raise InvalidInputError("captions: no words to build a vocabulary from")
        ranked = sorted(counts.items(), key=lambda t: (-t[1], t[0]))
        return cls([w for w, k in ranked if k >= min_count], max_length=max_length)

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return word in self.index

    def __repr__(self) -> str:
        return f"Vocabulary({len(self)} words, max_length={self.max_length})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Vocabulary)
            and self.words == other.words
            and self.max_length == other.max_length
        )

    def tokenize(self, caption: str) -> list[str]:
        """Tokens of ``caption``, truncated to ``max_length``."""
        return simple_tokenize(caption)[: self.max_length]

    def lookup(self, tokens: Sequence[str]) -> list[int]:
        """Indices of ``tokens``; unknown words become ``<unk>`` (1)."""
        return [self.index.get(t, 1) for t in tokens]

    def encode(self, captions: Sequence[str]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Padded indices of shape (n, longest) and lengths of shape (n,).

        A caption with no word (empty or only punctuation) becomes one ``<unk>`` so that every
        caption has an embedding. Over-long captions are truncated to ``max_length``.
        """
        if isinstance(captions, str):
            raise InvalidInputError("captions must be a list of strings, got one string")
        if len(captions) == 0:
            raise InvalidInputError("captions: empty batch")
        for i, c in enumerate(captions):
            if not isinstance(c, str):
                raise InvalidInputError(f"captions[{i}] must be a string, got {type(c).__name__}")
        rows = [self.lookup(self.tokenize(c)) or [1] for c in captions]
        lengths = np.array([len(r) for r in rows], dtype=np.int64)
        ids = np.zeros((len(rows), int(lengths.max())), dtype=np.int64)
        for i, r in enumerate(rows):
            ids[i, : len(r)] = r
        return ids, lengths

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (saved in checkpoints)."""
        return {"words": self.words[2:], "max_length": self.max_length}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Vocabulary:
        try:
            return cls(list(d["words"]), max_length=int(d["max_length"]))
        except (KeyError, TypeError) as exc:
            raise InvalidInputError(f"vocabulary: malformed saved vocabulary ({exc})") from None
