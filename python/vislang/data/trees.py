"""Dependency trees for the DT-RNN (Socher et al. 2014): a checked tree type and three sources.

- :func:`shapes_dependency_tree`: the exact tree of a shapes-world caption, from the grammar
  that generated it (:mod:`vislang.data.shapes`), no parser involved;
- :func:`read_conllu`: user-supplied CoNLL-U files (or text);
- :func:`spacy_trees`: spaCy, when the user has it and an English pipeline installed (an
  optional dependency, imported lazily; nothing is ever downloaded at run time).

Heads follow CoNLL-U: ``heads[i]`` is the 1-based index of word ``i``'s head, 0 for the root.
A :class:`DependencyTree` checks on construction that it is a tree (one root, heads in range,
no cycle) and the error names the sentence.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from vislang.data.shapes import COLOURS, SHAPES
from vislang.exceptions import DatasetFormatError, InvalidInputError, MissingDependencyError

__all__ = [
    "DependencyTree",
    "read_conllu",
    "shapes_dependency_tree",
    "spacy_trees",
]


def _name(text: str, words: Sequence[str]) -> str:
    s = text or " ".join(words)
    return repr(s if len(s) <= 80 else s[:77] + "...")


@dataclass(frozen=True)
class DependencyTree:
    """A dependency tree over ``words``: ``heads`` 1-based (0 = root), ``relations`` the
    dependency labels (``"_"`` when unknown); ``text`` names the sentence in errors.

    Raises
    ------
    InvalidInputError
        Not a tree: lengths differ, no word, a head out of range, a word its own head, no root
        or several roots, a cycle. The message names the sentence.

    Examples
    --------
    >>> t = DependencyTree(("a", "red", "circle"), (3, 3, 0), ("det", "amod", "root"))
    >>> t.root, t.children(2), t.heights()
    (2, [0, 1], [0, 0, 1])
    """

    words: tuple[str, ...]
    heads: tuple[int, ...]
    relations: tuple[str, ...] = ()
    text: str = ""
    _children: tuple[tuple[int, ...], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        words = tuple(str(w) for w in self.words)
        heads = tuple(int(h) for h in self.heads)
        rels = tuple(str(r) for r in self.relations) or ("_",) * len(words)
        object.__setattr__(self, "words", words)
        object.__setattr__(self, "heads", heads)
        object.__setattr__(self, "relations", rels)
        name = _name(self.text, words)
        n = len(words)
        if n == 0:
            raise InvalidInputError(f"dependency tree of {name}: no words")
        if len(heads) != n or len(rels) != n:
            raise InvalidInputError(
                f"dependency tree of {name}: {n} words but {len(heads)} heads and "
                f"{len(rels)} relations"
            )
        for i, h in enumerate(heads):
            if not 0 <= h <= n:
                raise InvalidInputError(
                    f"dependency tree of {name}: word {i + 1} ({words[i]!r}) has head {h}, "
                    f"out of range 0..{n}"
                )
            if h == i + 1:
                raise InvalidInputError(
                    f"dependency tree of {name}: word {i + 1} ({words[i]!r}) is its own head"
                )
        roots = [i for i, h in enumerate(heads) if h == 0]
        if len(roots) != 1:
            raise InvalidInputError(
                f"dependency tree of {name}: {len(roots)} roots (words "
                f"{[i + 1 for i in roots]}); a tree has exactly one word with head 0"
            )
        for start in range(n):
            seen = set()
            i = start
            while heads[i] != 0:
                if i in seen:
                    raise InvalidInputError(
                        f"dependency tree of {name}: a cycle through word {i + 1} "
                        f"({words[i]!r}); heads {list(heads)}"
                    )
                seen.add(i)
                i = heads[i] - 1
        kids: list[list[int]] = [[] for _ in range(n)]
        for i, h in enumerate(heads):
            if h:
                kids[h - 1].append(i)
        object.__setattr__(self, "_children", tuple(tuple(k) for k in kids))

    def __len__(self) -> int:
        return len(self.words)

    @property
    def root(self) -> int:
        """0-based index of the root word."""
        return self.heads.index(0)

    def children(self, i: int) -> list[int]:
        """0-based indices of word ``i``'s dependents, in sentence order."""
        return list(self._children[i])

    def heights(self) -> list[int]:
        """Per word: 0 for a leaf, else 1 + the largest height of its children (the level at
        which batched evaluation computes it)."""
        out = [-1] * len(self)
        order = self._postorder()
        for i in order:
            out[i] = 1 + max((out[c] for c in self._children[i]), default=-1)
        return out

    def subtree_sizes(self) -> list[int]:
        """Per word: the number of words in its subtree (itself included): the paper's
        ``l(i)``."""
        out = [0] * len(self)
        for i in self._postorder():
            out[i] = 1 + sum(out[c] for c in self._children[i])
        return out

    def positions(self) -> list[int]:
        """Per word, its position relative to its head, as in Socher et al. 2014's
        ``W_{l1}, W_{l2}, ..., W_{r1}, W_{r2}, ...``: ``-k`` for the k-th dependent left of the
        head counting outwards, ``+k`` on the right; 0 for the root."""
        out = [0] * len(self)
        for h in range(len(self)):
            left = [c for c in self._children[h] if c < h]
            right = [c for c in self._children[h] if c > h]
            for k, c in enumerate(reversed(left)):
                out[c] = -(k + 1)
            for k, c in enumerate(right):
                out[c] = k + 1
        return out

    def _postorder(self) -> list[int]:
        order: list[int] = []
        stack = [(self.root, False)]
        while stack:
            i, done = stack.pop()
            if done:
                order.append(i)
                continue
            stack.append((i, True))
            stack.extend((c, False) for c in self._children[i])
        return order

    def to_conllu(self) -> str:
        """The tree as one CoNLL-U sentence block (``# text`` line, 10 columns)."""
        lines = [f"# text = {self.text or ' '.join(self.words)}"]
        for i, (w, h, r) in enumerate(zip(self.words, self.heads, self.relations, strict=True)):
            lines.append(f"{i + 1}\t{w}\t_\t_\t_\t_\t{h}\t{r}\t_\t_")
        return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------- shapes world
_SIZE_WORDS = ("small", "little", "large", "big")
_PREFIXES = (("there", "is"), ("the", "image", "shows"), ("a", "picture", "of"))
_RELATIONS = (
    ("to", "the", "left", "of"),
    ("to", "the", "right", "of"),
    ("left", "of"),
    ("right", "of"),
    ("above",),
    ("below",),
    ("under",),
)
_REGIONS = (
    ("in", "the", "top", "left"),
    ("in", "the", "top", "right"),
    ("in", "the", "bottom", "left"),
    ("in", "the", "bottom", "right"),
    ("in", "the", "center"),
    ("in", "the", "middle"),
    ("on", "the", "left"),
    ("on", "the", "right"),
    ("at", "the", "top"),
    ("at", "the", "bottom"),
)


class _Builder:
    """Recursive-descent parse of the shapes grammar that records heads as it goes."""

    def __init__(self, caption: str) -> None:
        self.caption = caption
        self.words = caption.lower().replace(",", " ").split()
        self.heads = [-1] * len(self.words)
        self.rels = ["_"] * len(self.words)
        self.pos = 0

    def fail(self, why: str) -> None:
        raise InvalidInputError(
            f"cannot build the dependency tree of {self.caption!r}: {why} (word {self.pos})"
        )

    def peek(self, seq: Sequence[str]) -> bool:
        return tuple(self.words[self.pos : self.pos + len(seq)]) == tuple(seq)

    def attach(self, i: int, head: int, rel: str) -> None:
        self.heads[i], self.rels[i] = head, rel

    def noun_phrase(self, determiner: bool) -> int:
        """``[a|an|the] [size] colour shape``: the shape word heads the others."""
        mods = []
        if self.pos < len(self.words) and self.words[self.pos] in ("a", "an", "the"):
            mods.append((self.pos, "det"))
            self.pos += 1
        elif determiner:
            self.fail("expected a determiner")
        if self.pos < len(self.words) and self.words[self.pos] in _SIZE_WORDS:
            mods.append((self.pos, "amod"))
            self.pos += 1
        if self.pos >= len(self.words) or self.words[self.pos] not in COLOURS:
            self.fail("expected a colour")
        mods.append((self.pos, "amod"))
        self.pos += 1
        if self.pos >= len(self.words) or self.words[self.pos] not in SHAPES:
            self.fail("expected a shape")
        head = self.pos
        self.pos += 1
        for i, rel in mods:
            self.attach(i, head, rel)
        return head

    def phrase(self, options: Sequence[Sequence[str]]) -> list[int] | None:
        for seq in options:
            if self.peek(seq):
                idx = list(range(self.pos, self.pos + len(seq)))
                self.pos += len(seq)
                return idx
        return None

    def relation(self, subject: int, determiner: bool) -> bool:
        """``rel NP``: the object noun depends on the subject (nmod), the relation words on
        the object noun (the first one as ``case``, the rest fixed to it)."""
        idx = self.phrase(_RELATIONS)
        if idx is None:
            return False
        obj = self.noun_phrase(determiner)
        self.attach(obj, subject, "nmod")
        self.attach(idx[0], obj, "case")
        for i in idx[1:]:
            self.attach(i, idx[0], "fixed")
        return True

    def region(self, subject: int) -> bool:
        """``in the top left``: the last word heads, the preposition is its case."""
        idx = self.phrase(_REGIONS)
        if idx is None:
            return False
        head = idx[-1]
        self.attach(head, subject, "nmod")
        self.attach(idx[0], head, "case")
        self.attach(idx[1], head, "det")
        for i in idx[2:-1]:
            self.attach(i, head, "amod")
        return True

    def clause(self) -> int:
        if self.peek(("the",)):
            start = self.pos
            subject = self.noun_phrase(False)
            if not self.peek(("is",)):
                # "the ..." without "is": an NP clause with "the" as determiner
                self.pos = start
            else:
                cop = self.pos
                self.pos += 1
                self.attach(subject, cop, "nsubj")
                idx = self.phrase(_RELATIONS)
                if idx is None:
                    self.fail("expected a relation")
                    raise AssertionError  # unreachable
                obj = self.noun_phrase(True)
                self.attach(obj, cop, "obl")
                self.attach(idx[0], obj, "case")
                for i in idx[1:]:
                    self.attach(i, idx[0], "fixed")
                return cop
        subject = self.noun_phrase(True)
        if not self.relation(subject, True):
            self.region(subject)
        return subject

    def build(self) -> DependencyTree:
        if not self.words:
            self.fail("no words")
        root: int | None = None
        prefix = None
        for p in _PREFIXES:
            if self.peek(p):
                prefix = list(range(self.pos, self.pos + len(p)))
                self.pos += len(p)
                break
        first = self.clause()
        last = first
        while self.pos < len(self.words):
            if not self.peek(("and",)):
                self.fail("expected 'and' or the end")
            cc = self.pos
            self.pos += 1
            # "X and Y" (a second noun phrase) or a second clause: conj of the first head
            nxt = self.clause()
            self.attach(nxt, first, "conj")
            self.attach(cc, nxt, "cc")
            last = nxt
        del last
        if prefix is None:
            root = first
        elif self.words[prefix[0]] == "there":  # there(expl) is(root) NP(nsubj)
            root = prefix[1]
            self.attach(prefix[0], root, "expl")
            self.attach(first, root, "nsubj")
        elif self.words[prefix[1]] == "image":  # the(det) image(nsubj) shows(root) NP(obj)
            root = prefix[2]
            self.attach(prefix[0], prefix[1], "det")
            self.attach(prefix[1], root, "nsubj")
            self.attach(first, root, "obj")
        else:  # a(det) picture(root) of(case) NP(nmod)
            root = prefix[1]
            self.attach(prefix[0], root, "det")
            self.attach(prefix[2], first, "case")
            self.attach(first, root, "nmod")
        self.attach(root, -1, "root")
        heads = tuple(h + 1 for h in self.heads)  # -1 -> 0 (root)
        return DependencyTree(tuple(self.words), heads, tuple(self.rels), text=self.caption)


def shapes_dependency_tree(caption: str) -> DependencyTree:
    """The dependency tree of a shapes-world caption, exactly, from the grammar.

    Nouns (the shape words) head their determiner, size and colour (``amod``); a relation's
    object noun depends on the subject noun (``nmod``) with the relation words as its
    ``case``; a region ("in the top left") depends on the subject; prefixes ("there is", "the
    image shows", "a picture of") take the first noun phrase as subject / object / nmod.

    Raises
    ------
    InvalidInputError
        The caption is not in the shapes grammar (the message names it and the word).

    Examples
    --------
    >>> t = shapes_dependency_tree("a red square left of a blue circle")
    >>> [(w, t.words[h - 1] if h else "ROOT") for w, h in zip(t.words, t.heads)]
    ... # doctest: +NORMALIZE_WHITESPACE
    [('a', 'square'), ('red', 'square'), ('square', 'ROOT'), ('left', 'circle'),
     ('of', 'left'), ('a', 'circle'), ('blue', 'circle'), ('circle', 'square')]
    """
    return _Builder(caption).build()


# ---------------------------------------------------------------------- CoNLL-U
def read_conllu(source: str | os.PathLike[str]) -> list[DependencyTree]:
    """Sentences of a CoNLL-U file (or CoNLL-U text containing a newline) as trees.

    Multiword-token ranges (``1-2``) and empty nodes (``1.1``) are skipped; ``FORM``, ``HEAD``
    and ``DEPREL`` (columns 2, 7 and 8) are read, so at least 8 tab-separated columns are
    needed. A sentence is named by its ``# sent_id``, else its ``# text``, else its number.

    Raises
    ------
    DatasetFormatError
        Missing columns, a non-integer ID or HEAD (the message names the sentence and line).
    InvalidInputError
        A sentence that is not a tree (see :class:`DependencyTree`).
    """
    if isinstance(source, str) and "\n" in source:
        text, where = source, "CoNLL-U text"
    else:
        path = Path(source)
        if not path.is_file():
            raise InvalidInputError(f"CoNLL-U file not found: {path}")
        text, where = path.read_text(encoding="utf-8"), str(path)
    trees: list[DependencyTree] = []
    rows: list[tuple[str, int, str]] = []
    meta: dict[str, str] = {}

    def flush() -> None:
        if rows:
            label = meta.get("text", "")
            name = meta.get("sent_id")
            words = tuple(r[0] for r in rows)
            try:
                trees.append(
                    DependencyTree(
                        words,
                        tuple(r[1] for r in rows),
                        tuple(r[2] for r in rows),
                        text=label or " ".join(words),
                    )
                )
            except InvalidInputError as e:
                if name:
                    raise InvalidInputError(f"{where}: sentence {name}: {e}") from None
                raise InvalidInputError(f"{where}: sentence {len(trees) + 1}: {e}") from None
        rows.clear()
        meta.clear()

    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip("\r\n")
        if not line.strip():
            flush()
            continue
        if line.startswith("#"):
            key, sep, value = line[1:].partition("=")
            if sep:
                meta[key.strip()] = value.strip()
            continue
        cols = line.split("\t")
        sentence = meta.get("sent_id") or repr(meta.get("text", "")) or ""
        label = f"sentence {sentence or len(trees) + 1}"
        if len(cols) < 8:
            raise DatasetFormatError(
                f"{where}: line {lineno} ({label}): {len(cols)} tab-separated columns, CoNLL-U "
                "needs 10 (at least ID, FORM, LEMMA, UPOS, XPOS, FEATS, HEAD, DEPREL)"
            )
        tid = cols[0]
        if "-" in tid or "." in tid:
            continue
        try:
            int(tid)
            head = int(cols[6])
        except ValueError:
            raise DatasetFormatError(
                f"{where}: line {lineno} ({label}): ID {tid!r} and HEAD {cols[6]!r} must be "
                "integers"
            ) from None
        rows.append((cols[1], head, cols[7]))
    flush()
    return trees


# ---------------------------------------------------------------------- spaCy
def spacy_trees(
    texts: Iterable[str], *, model: str = "en_core_web_sm", batch_size: int = 256
) -> list[DependencyTree]:
    """Parse ``texts`` with spaCy's English pipeline ``model`` (installed by the user: this
    never downloads anything).

    Raises
    ------
    MissingDependencyError
        spaCy or the pipeline package is not installed.
    """
    try:
        import spacy
    except ImportError:
        raise MissingDependencyError(
            'spacy_trees needs spaCy: pip install "vislang[parse]" and an English pipeline '
            f"package ({model})",
            name="spacy",
        ) from None
    try:
        nlp = spacy.load(model, disable=["ner", "lemmatizer"])
    except OSError:
        raise MissingDependencyError(
            f"spaCy pipeline {model!r} is not installed (vislang never downloads it); install "
            f"its package, e.g. python -m spacy download {model}",
            name=model,
        ) from None
    out = []
    for text, doc in zip(texts, nlp.pipe(texts, batch_size=batch_size), strict=False):
        sents = list(doc.sents)
        words = [t.text.lower() for t in doc]
        heads = []
        rels = []
        # Several sentences: their roots depend on the first sentence's root (one tree).
        first_root = sents[0].root.i if sents else 0
        for t in doc:
            if t.head.i == t.i:
                heads.append(0 if t.i == first_root else first_root + 1)
                rels.append("root" if t.i == first_root else "parataxis")
            else:
                heads.append(t.head.i + 1)
                rels.append(t.dep_)
        out.append(DependencyTree(tuple(words), tuple(heads), tuple(rels), text=text))
    return out
