"""Caption metrics of the COCO evaluation, computed in Rust: BLEU-1..4, ROUGE-L, CIDEr-D.

The values equal ``pycocoevalcap``'s ``Bleu(4)``, ``Rouge()`` and ``Cider()`` (its CIDEr is
CIDEr-D: clipped n-gram counts, Gaussian length penalty sigma = 6, x10) after the same
tokenisation as its Java PTB tokenizer (lower case, punctuation tokens removed, the
``-lrb-``/``-rrb-`` quirk kept), with no Java. Scores are on the 0-1 scale (CIDEr-D on its own
0-10 scale); papers print BLEU/ROUGE/METEOR x100, see :func:`format_caption_table`.

METEOR is only ever the official ``meteor-1.5.jar`` shipped with ``pycocoevalcap``, run with
Java; when either is missing the ``meteor`` key is absent (:func:`meteor_status` says why).
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vislang import _core
from vislang.exceptions import InvalidInputError

__all__ = [
    "CiderD",
    "caption_metrics",
    "format_caption_table",
    "meteor_status",
    "ptb_tokenize",
]

METRIC_KEYS = ("bleu1", "bleu2", "bleu3", "bleu4", "rouge_l", "cider_d")

Candidates = Sequence[str] | Mapping[Any, str]
References = Sequence[Sequence[str]] | Mapping[Any, Sequence[str]]


def ptb_tokenize(texts: Sequence[str], *, n_threads: int | None = None) -> list[str]:
    """PTB-tokenise captions as ``pycocoevalcap.tokenizer.PTBTokenizer`` does (tokens joined
    by single spaces, punctuation removed).

    Examples
    --------
    >>> ptb_tokenize(["A dog's toy (red)."])
    ["a dog 's toy -lrb- red -rrb-"]
    """
    texts = list(texts)
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise InvalidInputError(f"texts[{i}] must be a string, got {type(t).__name__}")
    return _core.ptb_tokenize(texts, n_threads=n_threads)


def _as_lists(
    candidates: Candidates, references: References
) -> tuple[list[Any], list[str], list[list[str]]]:
    """Align candidates and references by id (dicts) or position (sequences)."""
    if isinstance(candidates, Mapping) != isinstance(references, Mapping):
        raise InvalidInputError("candidates and references must both be dicts or both sequences")
    if isinstance(candidates, Mapping):
        assert isinstance(references, Mapping)
        missing = [k for k in candidates if k not in references]
        if missing:
            raise InvalidInputError(f"candidate id {missing[0]!r} has no references")
        extra = [k for k in references if k not in candidates]
        if extra:
            raise InvalidInputError(f"reference id {extra[0]!r} has no candidate")
        ids = list(candidates)
        cands = [candidates[k] for k in ids]
        refs = [references[k] for k in ids]
    else:
        assert not isinstance(references, Mapping)
        cands, refs = list(candidates), list(references)
        if len(cands) != len(refs):
            raise InvalidInputError(f"got {len(cands)} candidates but {len(refs)} reference lists")
        ids = list(range(len(cands)))
    if not cands:
        raise InvalidInputError("candidates is empty")
    out_refs: list[list[str]] = []
    for k, c, r in zip(ids, cands, refs, strict=True):
        if not isinstance(c, str):
            raise InvalidInputError(f"candidate {k!r} must be a string, got {type(c).__name__}")
        if isinstance(r, str):
            raise InvalidInputError(f"references of {k!r} must be a list of strings, not a string")
        r = list(r)
        if not r:
            raise InvalidInputError(f"references of {k!r} is an empty list")
        if not all(isinstance(x, str) for x in r):
            raise InvalidInputError(f"references of {k!r} must all be strings")
        out_refs.append(r)
    return ids, cands, out_refs


def meteor_status() -> tuple[bool, str]:
    """Whether the official METEOR can run (Java and ``pycocoevalcap`` installed), and why
    not."""
    if shutil.which("java") is None:
        return False, "METEOR not computed: Java is not installed"
    try:
        import pycocoevalcap.meteor.meteor  # noqa: F401
    except ImportError:
        return False, "METEOR not computed: pycocoevalcap is not installed"
    return True, "METEOR: official meteor-1.5.jar (pycocoevalcap)"


def _meteor(cands: list[str], refs: list[list[str]]) -> float:
    from pycocoevalcap.meteor.meteor import Meteor

    gts = {i: r for i, r in enumerate(refs)}
    res = {i: [c] for i, c in enumerate(cands)}
    scorer = Meteor()
    proc = scorer.meteor_p
    try:
        score, _ = scorer.compute_score(gts, res)
    finally:
        # Close the pipes here: pycocoevalcap's __del__ leaves stdout/stderr open.
        with scorer.lock:
            for f in (proc.stdin, proc.stdout, proc.stderr):
                if f is not None:
                    f.close()
            proc.kill()
            proc.wait()
    return float(score)


def caption_metrics(
    candidates: Candidates,
    references: References,
    *,
    tokenize: bool = True,
    meteor: bool | str = False,
    per_image: bool = False,
    n_threads: int | None = None,
) -> dict[str, Any]:
    """BLEU-1..4, ROUGE-L and CIDEr-D of generated captions, as the COCO evaluation computes
    them.

    Parameters
    ----------
    candidates : sequence of str or dict id -> str
        One generated caption per image.
    references : sequence of lists of str or dict id -> list of str
        The reference captions of each image (same ids / order as ``candidates``).
    tokenize : bool
        PTB-tokenise everything first (as ``pycocoevalcap``'s ``PTBTokenizer``); ``False``
        scores whitespace tokens as given.
    meteor : bool or "auto"
        ``True``: also the official METEOR (Java + pycocoevalcap required, else
        :class:`InvalidInputError`); ``"auto"``: when available; ``False``: never.
    per_image : bool
        Also return ``rouge_l_per_image`` and ``cider_d_per_image`` arrays.
    n_threads : int, optional
        Native threads (default: rayon's, honouring ``RAYON_NUM_THREADS``).

    Returns
    -------
    dict
        ``bleu1`` ... ``bleu4``, ``rouge_l``, ``cider_d`` as floats on the 0-1 scale (CIDEr-D
        0-10), plus ``meteor`` when computed.

    Raises
    ------
    InvalidInputError
        Empty input, mismatched ids or lengths (naming the id), an empty reference list.

    Examples
    --------
    >>> m = caption_metrics(["a dog runs"], [["a dog runs", "the dog is running"]])
    >>> round(m["bleu1"], 4), round(m["rouge_l"], 4)
    (1.0, 1.0)
    """
    ids, cands, refs = _as_lists(candidates, references)
    raw = _core.caption_scores(cands, refs, tokenize=tokenize, n_threads=n_threads)
    out: dict[str, Any] = {k: float(raw[k]) for k in METRIC_KEYS}
    if per_image:
        out["rouge_l_per_image"] = np.asarray(raw["rouge_l_per_image"])
        out["cider_d_per_image"] = np.asarray(raw["cider_d_per_image"])
    if meteor not in (False, True, "auto"):
        raise InvalidInputError(f"meteor must be True, False or 'auto', got {meteor!r}")
    if meteor:
        ok, why = meteor_status()
        if ok:
            if tokenize:
                cands = ptb_tokenize(cands, n_threads=n_threads)
                refs = [ptb_tokenize(r, n_threads=n_threads) for r in refs]
            out["meteor"] = _meteor(cands, refs)
        elif meteor is True:
            raise InvalidInputError(why)
    del ids
    return out


def format_caption_table(rows: Mapping[str, Mapping[str, float]]) -> str:
    """A plain-text table of caption metrics, x100 (the papers' convention), saying so.

    ``rows`` maps a row name (model / decoding) to a :func:`caption_metrics` result; a single
    result is printed as one row.
    """
    if rows and all(isinstance(v, int | float | np.ndarray) for v in rows.values()):
        rows = {"": rows}  # type: ignore[dict-item]  # one caption_metrics result
    if any(not isinstance(r, Mapping) for r in rows.values()):
        raise InvalidInputError(
            "rows must map row names to caption_metrics results (or be one such result)"
        )
    keys = [
        k for k in (*METRIC_KEYS[:5], "meteor", "cider_d") if any(k in r for r in rows.values())
    ]
    keys = list(dict.fromkeys(keys))
    head = f"{'':<24}" + "".join(f"{k:>9}" for k in keys)
    lines = [
        "BLEU / ROUGE-L / METEOR x100 (papers' 0-100 scale), CIDEr-D x100 (i.e. 1.0 -> 100)",
        head,
    ]
    for name, r in rows.items():
        cells = "".join(f"{100 * r[k]:>9.1f}" if k in r else f"{'-':>9}" for k in keys)
        lines.append(f"{name:<24}" + cells)
    if not any("meteor" in r for r in rows.values()):
        lines.append(meteor_status()[1] if not meteor_status()[0] else "METEOR: not requested")
    return "\n".join(lines)


class CiderD:
    """CIDEr-D with the document frequencies of a reference corpus computed once: per-batch
    rewards for self-critical sequence training (Rennie et al. 2017).

    Parameters
    ----------
    references : sequence of lists of str
        Reference captions of each training image; ``log(len(references))`` and the n-gram
        document frequencies come from them.
    tokenize : bool
        PTB-tokenise references and candidates.

    Examples
    --------
    >>> scorer = CiderD([["a red square", "a red box"], ["a blue circle"]])
    >>> scorer.score(["a red square", "a red square"], [0, 1]).round(3).tolist()
    [5.0, 0.0]
    """

    def __init__(
        self,
        references: Sequence[Sequence[str]],
        *,
        tokenize: bool = True,
        n_threads: int | None = None,
    ) -> None:
        refs = [list(r) for r in references]
        _as_lists([""] * len(refs), refs)
        self._scorer = _core.CiderScorer(refs, tokenize=tokenize, n_threads=n_threads)
        self.n_threads = n_threads

    def __len__(self) -> int:
        return len(self._scorer)

    def score(
        self, candidates: Sequence[str], index: Sequence[int] | NDArray[np.integer[Any]]
    ) -> NDArray[np.float64]:
        """CIDEr-D of ``candidates[i]`` against reference set ``index[i]``, shape (n,)."""
        idx = [int(i) for i in np.asarray(index).reshape(-1)]
        if any(i < 0 for i in idx):
            raise InvalidInputError("index must be >= 0")
        cands = list(candidates)
        for i, c in enumerate(cands):
            if not isinstance(c, str):
                raise InvalidInputError(f"candidates[{i}] must be a string, got {type(c).__name__}")
        return self._scorer.score(cands, idx, n_threads=self.n_threads)
