"""``VisualVocabulary``: k-means over local descriptors (Lloyd, Hamerly, mini-batch), in Rust.

The Rust core (``vislang-core``) runs seeding, the iterations and the mini-batch steps with the
GIL released. This module validates input, keeps scikit-learn's estimator contract, shows
progress and saves/loads vocabularies.
"""

from __future__ import annotations

import json
import os
import sys
import time
import warnings
from numbers import Integral, Real
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import sklearn
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics.pairwise import euclidean_distances
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

import vislang
from vislang import _core
from vislang._validation import as_float_matrix, seed_from, threads_from
from vislang._validation import check_finite_rows as _check_finite
from vislang._validation import finite_sum as _finite_sum
from vislang.exceptions import CheckpointError, InvalidInputError
from vislang.vocab.assignment import assign

_FORMAT = "vislang.VisualVocabulary/1"
_SAVED_PARAMS = (
    "n_clusters",
    "init",
    "n_init",
    "max_iter",
    "tol",
    "algorithm",
    "init_size",
    "batch_size",
    "random_state",
    "n_jobs",
    "verbose",
)
# Rows per chunk when labelling a (possibly memory-mapped) data set after mini-batch fitting.
_LABEL_CHUNK = 65536


_HISTORY_FIELDS = ("run", "iteration", "inertia", "center_shift", "full_rows", "seconds")


class _Progress:
    """Per-iteration callback of the native fit: records the history, and feeds a tqdm bar
    when ``verbose``."""

    def __init__(self, verbose: bool, total: int, desc: str) -> None:
        self.bar = None
        self.start = time.perf_counter()
        self.rows: list[tuple[int, int, float, float, int, float]] = []
        if verbose:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc=desc, unit="it", leave=False)

    @property
    def history(self) -> dict[str, NDArray[Any]]:
        cols = list(zip(*self.rows, strict=True)) if self.rows else [()] * len(_HISTORY_FIELDS)
        return {name: np.asarray(col) for name, col in zip(_HISTORY_FIELDS, cols, strict=True)}

    def __call__(self, run: int, it: int, inertia: float, shift: float, n_full: int) -> None:
        self.rows.append((run, it, inertia, shift, n_full, time.perf_counter() - self.start))
        if self.bar is not None:
            if it == 0 and run > 0:
                self.bar.reset()
            self.bar.set_postfix(run=run, inertia=f"{inertia:.4g}", full_rows=n_full)
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class _SeedProgress:
    """Per-pass callback of the native k-means++ seeding: a tqdm stage when ``verbose``."""

    def __init__(self, verbose: bool, total: int) -> None:
        self.bar = None
        if verbose:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc="k-means++ seeding", unit="seed", leave=False)

    def __call__(self, n_seeds: int) -> None:
        if self.bar is not None:
            self.bar.update(n_seeds - self.bar.n)

    def reset(self) -> None:
        if self.bar is not None:
            self.bar.reset()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


# Frames in these folders are skipped when a warning names the caller's line.
_INTERNAL_DIRS = tuple(os.path.dirname(m.__file__ or "") + os.sep for m in (vislang, sklearn))


def _warn(message: str, category: type[Warning]) -> None:
    """``warnings.warn`` pointing at the first frame outside vislang and scikit-learn."""
    level, frame = 2, sys._getframe(1)  # stacklevel 2 is the frame that called _warn
    while frame is not None and frame.f_code.co_filename.startswith(_INTERNAL_DIRS):
        level, frame = level + 1, frame.f_back  # type: ignore[assignment]
    warnings.warn(message, category, stacklevel=level)


def _has_fewer_distinct_rows(X: NDArray[Any], k: int) -> bool:
    """Whether ``X`` has fewer than ``k`` distinct rows (chunked; stops at ``k``)."""
    seen: set[bytes] = set()
    row = np.dtype((np.void, X.dtype.itemsize * X.shape[1]))
    for start in range(0, X.shape[0], _LABEL_CHUNK):
        chunk = np.ascontiguousarray(X[start : start + _LABEL_CHUNK]) + 0.0  # -0.0 == 0.0
        seen.update(v.tobytes() for v in np.unique(chunk.view(row).ravel()))
        if len(seen) >= k:
            return False
    return True


def _check_result(X: NDArray[Any], labels: NDArray[Any], n_clusters: int, inertia: float) -> None:
    """scikit-learn's warning for duplicate points; and one for a non-finite inertia."""
    distinct = int(np.unique(labels).size)
    if distinct < n_clusters and _has_fewer_distinct_rows(X, n_clusters):
        _warn(
            f"Number of distinct clusters ({distinct}) found smaller than n_clusters "
            f"({n_clusters}). Possibly due to duplicate points in X.",
            ConvergenceWarning,
        )
    if not np.isfinite(inertia):
        _warn(
            f"inertia is {inertia}: the sum of squared distances overflows float64; "
            "rescale X (e.g. divide it by its largest absolute value)",
            RuntimeWarning,
        )


class _RunOffset:
    """Forwards native progress callbacks with a fixed run index."""

    def __init__(self, callback: _Progress, run: int) -> None:
        self.callback, self.run = callback, run

    def __call__(self, run: int, it: int, inertia: float, shift: float, n_full: int) -> None:
        self.callback(self.run, it, inertia, shift, n_full)


class VisualVocabulary(ClusterMixin, TransformerMixin, BaseEstimator):
    """A visual vocabulary: k-means over local image descriptors, computed in Rust.

    A drop-in for :class:`sklearn.cluster.KMeans` / :class:`~sklearn.cluster.MiniBatchKMeans`
    tuned for descriptor sets (n up to millions, d = 32..256, k up to thousands).

    Parameters
    ----------
    n_clusters : int, default=8
        Number of visual words ``k``.
    init : {"k-means++", "k-means||", "random"} or array-like of shape (n_clusters, n_features)
        Seeding: greedy k-means++ (``2 + ln k`` local trials, pruned with the triangle
        inequality), k-means|| (Bahmani et al. 2012: a few oversampling rounds over all rows,
        then weighted k-means++ on the candidates; runs the distributed code path, also in one
        process), ``k`` distinct random rows, or explicit centres.
    n_init : int, default=1
        Independent runs; the lowest inertia wins. Forced to 1 with explicit centres.
    max_iter : int, default=300
        Iterations per run (mini-batch: passes over the data).
    tol : float, default=1e-4
        Stop when the squared centre shift is below ``tol`` times the mean feature variance.
    algorithm : {"auto", "lloyd", "hamerly"}, default="auto"
        ``"lloyd"`` assigns every point each iteration with a blocked GEMM fused with the arg-min;
        ``"hamerly"`` keeps distance bounds and gives the same result with fewer distance
        computations. ``"auto"`` picks Hamerly.
    init_size : int, "auto", "all" or None, default="auto"
        Seed on a random sample of this many rows (at least ``n_clusters``), then iterate on all
        rows. ``"auto"`` is ``min(n_samples, 256 * n_clusters)`` (mini-batch fitting:
        ``3 * batch_size`` rows, as scikit-learn); ``"all"`` or None seed on all rows (mini-batch
        fitting: None is ``3 * batch_size`` as in scikit-learn, ``"all"`` all rows). Greedy
        k-means++ scores every row in each of its passes, so on large data a sample of a few
        hundred rows per centre gives seeds of about the same inertia several times sooner
        (final inertia within about 1% after 20 iterations at n = 200k, k = 256; set
        ``init_size="all"`` when the last percent matters more than the seeding time).
    batch_size : int, default=None
        When set, fit with mini-batch k-means (Sculley 2010) on batches of this size; works on
        memory-mapped arrays larger than memory. ``partial_fit`` always uses mini-batches.
    random_state : int, RandomState, Generator or None, default=None
        Seed; an int makes results reproducible (and independent of ``n_jobs``).
    n_jobs : int, default=None
        Native threads; None uses all cores (or ``RAYON_NUM_THREADS``), -1 all cores.
    verbose : bool, default=False
        Show progress bars: seeds chosen during k-means++, then the iteration and inertia.
    distributed : bool, default=False
        Every rank of a ``torch.distributed`` group calls ``fit`` with its own shard of the
        rows (an array or a slice of a memory-mapped file, read in chunks); per-cluster sums,
        weights and inertia are summed over the ranks in float64 in rank order, so every rank
        gets the same centres (see :mod:`vislang.vocab._distributed`). ``labels_`` are those
        of this rank's rows, ``inertia_`` is global. Ranks that disagree on ``n_clusters``,
        the number of features or the dtype, or an empty shard, raise ``InvalidInputError`` on
        every rank. Without a group it fits in this process (the same algorithm). ``n_init``
        is ignored (one run).
    oversampling_factor : float, default=2.0
        ``init="k-means||"``: expected candidates per round, as a multiple of ``n_clusters``.
    n_rounds : int, default=5
        ``init="k-means||"``: oversampling rounds (Spark MLlib uses 2, Bahmani et al. 5).

    Raises ``InvalidInputError`` when squared distances would overflow the dtype (e.g. float32
    values near 1e19): rescale such data. Warns (``ConvergenceWarning``) when X has fewer
    distinct points than ``n_clusters``. Ctrl-C stops the seeding between passes over the data
    and the iterations between iterations, whatever ``n_jobs``.

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
    labels_ : ndarray of shape (n_samples,), int32
    inertia_ : float
        Weighted sum of squared distances to the nearest centre.
    n_iter_ : int
    n_steps_ : int
        Mini-batch steps run (mini-batch fitting and ``partial_fit`` only).
    seed_inertia_ : float
        Inertia of the seeds of the kept run (full-batch fitting only).
    history_ : dict of str to ndarray
        One entry per iteration (mini-batch: per step): ``run``, ``iteration``, ``inertia``
        (of the centres that iteration assigned to; mini-batch: batch inertia per row),
        ``center_shift`` (squared), ``full_rows`` (points whose distances to every centre were
        computed) and ``seconds`` since the fit started — for loss curves and profiling.
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np, vislang
    >>> X = np.array([[0, 0], [0, 1], [10, 10], [10, 11]], dtype=np.float32)
    >>> vocab = vislang.VisualVocabulary(n_clusters=2, random_state=0).fit(X)
    >>> sorted(vocab.cluster_centers_.tolist())
    [[0.0, 0.5], [10.0, 10.5]]
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "n_clusters": [Interval(Integral, 1, None, closed="left")],
        "init": [StrOptions({"k-means++", "k-means||", "random"}), "array-like"],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "algorithm": [StrOptions({"auto", "lloyd", "hamerly"})],
        "init_size": [
            None,
            StrOptions({"auto", "all"}),
            Interval(Integral, 1, None, closed="left"),
        ],
        "batch_size": [None, Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state", np.random.Generator],
        "n_jobs": [None, Integral],
        "verbose": ["boolean"],
        "distributed": ["boolean"],
        "oversampling_factor": [Interval(Real, 0, None, closed="neither")],
        "n_rounds": [Interval(Integral, 0, None, closed="left")],
    }

    def __init__(
        self,
        n_clusters: int = 8,
        *,
        init: Any = "k-means++",
        n_init: int = 1,
        max_iter: int = 300,
        tol: float = 1e-4,
        algorithm: str = "auto",
        init_size: int | str | None = "auto",
        batch_size: int | None = None,
        random_state: Any = None,
        n_jobs: int | None = None,
        verbose: bool = False,
        distributed: bool = False,
        oversampling_factor: float = 2.0,
        n_rounds: int = 5,
    ) -> None:
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.algorithm = algorithm
        self.init_size = init_size
        self.batch_size = batch_size
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.distributed = distributed
        self.oversampling_factor = oversampling_factor
        self.n_rounds = n_rounds

    # ------------------------------------------------------------------ fitting
    def _validate_X(self, X: Any, reset: bool) -> NDArray[Any]:
        X = validate_data(
            self,
            X,
            dtype=[np.float64, np.float32],
            order="C",
            accept_sparse=False,
            ensure_all_finite=False,
            reset=reset,
        )
        _check_finite(X, "X")
        return X

    def _init_array(self, X: NDArray[Any]) -> NDArray[Any] | str:
        if isinstance(self.init, str):
            return self.init
        init = as_float_matrix(self.init, "init", dtype=X.dtype)
        if init.shape != (self.n_clusters, X.shape[1]):
            raise InvalidInputError(
                f"init must have shape (n_clusters={self.n_clusters}, n_features={X.shape[1]}), "
                f"got {init.shape}"
            )
        _check_finite(init, "init")
        return init

    def _check_k(self, n_samples: int) -> None:
        if self.n_clusters > n_samples:
            raise InvalidInputError(
                f"n_clusters={self.n_clusters} must be <= n_samples={n_samples}"
            )

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any = None, sample_weight: Any = None) -> VisualVocabulary:
        """Build the vocabulary from descriptors ``X`` of shape (n_samples, n_features).

        ``sample_weight`` (n_samples,) weights each descriptor. Inputs must not be modified by
        another thread during the call (the GIL is released while they are read).

        Raises
        ------
        InvalidInputError
            Bad shape or dtype, NaN/inf (naming the row), ``n_clusters > n_samples``, bad weights.
        """
        if self.distributed or (isinstance(self.init, str) and self.init == "k-means||"):
            from vislang import _dist
            from vislang.vocab._distributed import fit_distributed

            if self.distributed:
                fitted: VisualVocabulary = fit_distributed(self, X, sample_weight)
                return fitted
            with _dist.local():  # k-means|| in this process only, even if a group is running
                fitted = fit_distributed(self, X, sample_weight)
            return fitted
        if self.batch_size is not None:
            return self._fit_minibatch(X, sample_weight)
        X = self._validate_X(X, reset=True)
        self._check_k(X.shape[0])
        sw = self._weights(X, sample_weight)
        init = self._init_array(X)
        algorithm = "hamerly" if self.algorithm == "auto" else self.algorithm
        seed = seed_from(self.random_state)
        options: dict[str, Any] = {
            "sample_weight": sw,
            "max_iter": self.max_iter,
            "tol": _tolerance(X, self.tol),
            "algorithm": algorithm,
            "n_threads": threads_from(self.n_jobs),
        }
        progress = _Progress(self.verbose, self.max_iter, "k-means")
        seeding = _SeedProgress(self.verbose and isinstance(init, str), self.n_clusters)
        try:
            if not isinstance(init, str):
                result = _core.kmeans_fit(
                    X,
                    self.n_clusters,
                    init=init,
                    n_init=self.n_init,
                    seed=seed,
                    callback=progress,
                    **options,
                )
            else:
                # Seed each run (on a random sample of `init_size` rows, by default
                # min(n, 256 k)), then iterate on all rows.
                rng = np.random.default_rng(seed)
                size = self._seed_rows(X.shape[0], None)
                result = None
                for run in range(self.n_init):
                    seeding.reset()
                    seeds = self._sampled_seeds(X, init, rng, size, sw, seeding)
                    out = _core.kmeans_fit(
                        X,
                        self.n_clusters,
                        init=seeds,
                        n_init=1,
                        seed=seed,
                        callback=_RunOffset(progress, run),
                        **options,
                    )
                    if result is None or out[2] < result[2]:
                        result = out
            assert result is not None
            centers, labels, inertia, n_iter, seed_inertia = result
        finally:
            seeding.close()
            progress.close()
        self.history_ = getattr(progress, "history", {})
        self.cluster_centers_ = centers
        self.labels_ = labels.astype(np.int32)
        self.inertia_ = float(inertia)
        self.n_iter_ = int(n_iter)
        self.seed_inertia_ = float(seed_inertia)
        # Weight per cluster, so that ``partial_fit`` continues the running means from here.
        self._counts = np.bincount(labels, weights=sw, minlength=self.n_clusters).astype(np.float64)
        _check_result(X, self.labels_, self.n_clusters, self.inertia_)
        return self

    def _seed_rows(self, n: int, batch_size: int | None) -> int:
        """Rows to seed on: ``init_size`` resolved for ``n`` rows (mini-batch: ``batch_size``)."""
        size = self.init_size
        if size == "all" or (size is None and batch_size is None):
            return n
        if size is None or size == "auto":
            return 3 * batch_size if batch_size is not None else min(n, 256 * self.n_clusters)
        return int(size)

    def _sampled_seeds(
        self,
        X: NDArray[Any],
        init: str,
        rng: np.random.Generator,
        size: int,
        sw: NDArray[Any] | None = None,
        progress: _SeedProgress | None = None,
    ) -> NDArray[Any]:
        """Seeds drawn by ``init`` from a random sample of ``size`` rows (at least k; all rows
        when ``size >= n``, without a copy)."""
        n = X.shape[0]
        size = min(n, max(size, self.n_clusters))
        if size >= n:
            sample, weights = X, sw
        else:
            idx = np.sort(rng.choice(n, size=size, replace=False))
            sample = _finite_batch(X, idx)
            weights = None if sw is None else np.ascontiguousarray(sw[idx])
        if init == "random":
            rows = rng.choice(size, size=self.n_clusters, replace=False)
        else:
            if weights is not None and not weights.any():
                weights = None  # a sample of zero-weight rows: seed it unweighted
            rows = _core.kmeans_plus_plus(
                sample,
                self.n_clusters,
                sample_weight=weights,
                seed=int(rng.integers(0, 2**63 - 1)),
                n_threads=threads_from(self.n_jobs),
                callback=progress if progress is not None and progress.bar is not None else None,
            )
        return np.ascontiguousarray(sample[rows])

    def _weights(self, X: NDArray[Any], sample_weight: Any) -> NDArray[Any] | None:
        if sample_weight is None:
            return None
        sw = _check_sample_weight(sample_weight, X, dtype=X.dtype, ensure_non_negative=True)
        if not np.isfinite(sw).all():
            raise InvalidInputError("sample_weight contains NaN or inf")
        if not sw.any():
            raise InvalidInputError("sample_weight must have a positive sum")
        return np.ascontiguousarray(sw)

    # -------------------------------------------------------------- mini-batch
    def _fit_minibatch(self, X: Any, sample_weight: Any) -> VisualVocabulary:
        # No copy for a C-ordered float32/float64 array or memory map (finiteness is checked
        # batch by batch, so a file larger than memory is never read whole here).
        X = validate_data(
            self,
            X,
            dtype=[np.float64, np.float32],
            order="C",
            accept_sparse=False,
            ensure_all_finite=False,
            reset=True,
        )
        n, _ = X.shape
        self._check_k(n)
        sw = None if sample_weight is None else self._weights(X, sample_weight)
        rng = np.random.default_rng(seed_from(self.random_state))
        batch_size = min(int(self.batch_size or 1024), n)
        centers = self._minibatch_seed(X, rng, batch_size)
        counts = np.zeros(self.n_clusters, dtype=np.float64)
        tol = _tolerance(X[: min(n, 100_000)], self.tol)
        n_steps = max(1, (self.max_iter * n) // batch_size)
        progress = _Progress(self.verbose, n_steps, "mini-batch k-means")
        ewa, best_ewa, no_improvement, since_reassign = None, np.inf, 0, 0
        # scikit-learn's smoothing: the EWA spans about n / batch_size steps (one pass).
        alpha = min(1.0, 2.0 * batch_size / (n + 1))
        step = 0
        try:
            for step in range(1, n_steps + 1):
                idx = np.sort(rng.integers(0, n, batch_size))
                batch = _finite_batch(X, idx)
                bw = None if sw is None else np.ascontiguousarray(sw[idx])
                new_centers, counts, _, _, inertia = _core.minibatch_step(
                    batch, centers, counts, sample_weight=bw, n_threads=threads_from(self.n_jobs)
                )
                shift = float(((new_centers - centers) ** 2).sum())
                centers = new_centers
                since_reassign += 1
                if since_reassign > (10 * self.n_clusters) // batch_size:
                    centers, counts = _reassign_small(centers, counts, batch, rng)
                    since_reassign = 0
                progress(0, step - 1, inertia / batch_size, shift, batch_size)
                # Convergence as in scikit-learn: EWA of the batch inertia stops improving, or
                # the centres stop moving.
                batch_inertia = inertia / batch_size
                ewa = batch_inertia if ewa is None else (1 - alpha) * ewa + alpha * batch_inertia
                if ewa < best_ewa:
                    best_ewa, no_improvement = ewa, 0
                else:
                    no_improvement += 1
                if (tol > 0 and shift <= tol) or no_improvement >= 10:
                    break
        finally:
            progress.close()
        self.history_ = getattr(progress, "history", {})
        self.cluster_centers_ = centers
        self._counts = counts
        self.n_steps_ = step
        self.n_iter_ = int(np.ceil(step * batch_size / n))
        self.labels_, self.inertia_ = self._label_chunks(X, sw)
        _check_result(X, self.labels_, self.n_clusters, self.inertia_)
        return self

    def _minibatch_seed(
        self, X: NDArray[Any], rng: np.random.Generator, batch_size: int
    ) -> NDArray[Any]:
        init = self._init_array(X)
        if not isinstance(init, str):
            return init
        # Seed on `init_size` rows, by default 3 * batch_size as scikit-learn does.
        return self._sampled_seeds(X, init, rng, self._seed_rows(X.shape[0], batch_size))

    def _label_chunks(
        self, X: NDArray[Any], sw: NDArray[Any] | None
    ) -> tuple[NDArray[np.int32], float]:
        labels = np.empty(X.shape[0], dtype=np.int32)
        inertia = 0.0
        for start in range(0, X.shape[0], _LABEL_CHUNK):
            chunk = np.ascontiguousarray(X[start : start + _LABEL_CHUNK])
            _check_finite(chunk, "X", row_offset=start)
            idx, d2 = assign(chunk, self.cluster_centers_, k=1, n_jobs=self.n_jobs)
            labels[start : start + len(chunk)] = idx[:, 0]
            w = None if sw is None else sw[start : start + len(chunk)]
            d = d2[:, 0].astype(np.float64)
            inertia += float(d.sum() if w is None else d @ w)
        return labels, inertia

    def partial_fit(self, X: Any, y: Any = None, sample_weight: Any = None) -> VisualVocabulary:
        """Update the vocabulary with one mini-batch ``X`` (Sculley 2010).

        The first call seeds the centres from ``X`` (which needs ``n_clusters`` rows); later
        calls move each centre towards the running mean of the rows assigned to it.
        """
        first = not hasattr(self, "cluster_centers_")
        X = self._validate_X(X, reset=first)
        if first:
            self._validate_params()
            self._check_k(X.shape[0])
            self._rng = np.random.default_rng(seed_from(self.random_state))
            self.cluster_centers_ = self._minibatch_seed(X, self._rng, X.shape[0])
            self._counts = np.zeros(self.n_clusters, dtype=np.float64)
            self.n_steps_ = 0
        sw = self._weights(X, sample_weight)
        centers = np.ascontiguousarray(self.cluster_centers_, dtype=X.dtype)
        counts = getattr(self, "_counts", None)
        if counts is None:  # e.g. a vocabulary saved without counts
            counts = np.zeros(self.n_clusters, dtype=np.float64)
        centers, counts, _, _, _ = _core.minibatch_step(
            X, centers, counts, sample_weight=sw, n_threads=threads_from(self.n_jobs)
        )
        self.cluster_centers_, self._counts = centers, counts
        self.n_steps_ = getattr(self, "n_steps_", 0) + 1
        self.labels_, self.inertia_ = self._label_chunks(X, sw)
        self.n_iter_ = self.n_steps_
        return self

    # ------------------------------------------------------------------ using
    def _centers_for(self, X: NDArray[Any]) -> NDArray[Any]:
        return np.ascontiguousarray(self.cluster_centers_, dtype=X.dtype)

    def predict(self, X: Any) -> NDArray[np.int32]:
        """Index of the nearest visual word of each row (int32)."""
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        idx, _ = assign(X, self._centers_for(X), k=1, n_jobs=self.n_jobs)
        return idx[:, 0].astype(np.int32)

    def fit_predict(self, X: Any, y: Any = None, sample_weight: Any = None) -> NDArray[np.int32]:
        """Fit, then return ``labels_``."""
        return self.fit(X, sample_weight=sample_weight).labels_

    def transform(self, X: Any) -> NDArray[Any]:
        """Euclidean distances of each row to every centre, shape (n_samples, n_clusters)."""
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        return np.asarray(euclidean_distances(X, self._centers_for(X)), dtype=X.dtype)

    def fit_transform(self, X: Any, y: Any = None, sample_weight: Any = None) -> NDArray[Any]:
        """Fit, then return :meth:`transform` of ``X``."""
        return self.fit(X, sample_weight=sample_weight).transform(X)

    def score(self, X: Any, y: Any = None, sample_weight: Any = None) -> float:
        """Opposite of the (weighted) inertia of ``X`` on the vocabulary."""
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        sw = self._weights(X, sample_weight)
        _, d2 = assign(X, self._centers_for(X), k=1, n_jobs=self.n_jobs)
        d = d2[:, 0].astype(np.float64)
        return -float(d.sum() if sw is None else d @ sw)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags

    # ------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike[str]) -> None:
        """Save centres and settings to ``path`` (safetensors, or npz if it ends in ``.npz``)."""
        check_is_fitted(self)
        params = {k: v for k, v in self.get_params().items() if k in _SAVED_PARAMS}
        if not isinstance(params["init"], str):
            params["init"] = "array"
        if not isinstance(params["random_state"], (int, type(None))):
            params["random_state"] = None
        meta = {
            "format": _FORMAT,
            "params": params,
            "inertia": self.inertia_,
            "n_iter": self.n_iter_,
            "n_features_in": self.n_features_in_,
        }
        tensors = {"cluster_centers": np.ascontiguousarray(self.cluster_centers_)}
        if hasattr(self, "_counts"):
            tensors["counts"] = np.ascontiguousarray(self._counts)
        path = Path(path)
        if path.suffix == ".npz":
            arrays = {"meta": np.array(json.dumps(meta)), **tensors}
            np.savez(path, **arrays)  # type: ignore[arg-type]
        else:
            from safetensors.numpy import save_file

            save_file(tensors, str(path), metadata={"vislang": json.dumps(meta)})

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> VisualVocabulary:
        """Load a vocabulary written by :meth:`save`.

        Raises
        ------
        CheckpointError
            The file is missing, unreadable, corrupt or not a vislang vocabulary.
        """
        path = Path(path)
        if not path.is_file():
            raise CheckpointError(f"vocabulary file not found: {path}")
        try:
            if path.suffix == ".npz":
                # Our own handle: np.load leaks its file when the zip is corrupt.
                with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as z:
                    meta = json.loads(str(z["meta"])) if "meta" in z.files else None
                    tensors = {k: z[k] for k in z.files if k != "meta"}
            else:
                from safetensors import safe_open

                with safe_open(str(path), framework="numpy") as f:
                    meta = json.loads((f.metadata() or {}).get("vislang", "null"))
                    tensors = {k: f.get_tensor(k) for k in f.keys()}
        except Exception as e:  # any decoding failure means a corrupt file
            raise CheckpointError(f"cannot read vocabulary file {path}: {e}") from e
        if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
            raise CheckpointError(f"{path} is not a vislang vocabulary file")
        centers = tensors.get("cluster_centers")
        if centers is None or centers.ndim != 2:
            raise CheckpointError(f"{path} has no 2-D 'cluster_centers' tensor")
        try:
            params = dict(meta["params"])
            if params.get("init") == "array":
                params["init"] = np.array(centers)
            vocab = cls(**params)
            n_features_in = int(meta["n_features_in"])
            inertia, n_iter = float(meta["inertia"]), int(meta["n_iter"])
        except (KeyError, TypeError, ValueError) as e:
            raise CheckpointError(f"{path}: corrupt vocabulary metadata: {e!r}") from e
        if (
            centers.shape != (vocab.n_clusters, n_features_in)
            or centers.dtype not in (np.float32, np.float64)
            or not np.isfinite(centers).all()
        ):
            raise CheckpointError(
                f"{path}: cluster_centers must be finite float32/float64 of shape "
                f"(n_clusters={vocab.n_clusters}, n_features={n_features_in}), got "
                f"{centers.dtype} {centers.shape}"
            )
        counts = tensors.get("counts")
        if counts is not None and (
            counts.shape != (vocab.n_clusters,) or not (np.isfinite(counts) & (counts >= 0)).all()
        ):
            raise CheckpointError(f"{path}: counts must be {vocab.n_clusters} finite values >= 0")
        vocab.cluster_centers_ = np.ascontiguousarray(centers)
        vocab.n_features_in_ = n_features_in
        vocab.inertia_ = inertia
        vocab.n_iter_ = n_iter
        if counts is not None:
            vocab._counts = np.ascontiguousarray(counts, dtype=np.float64)
        return vocab


def _tolerance(X: NDArray[Any], tol: float) -> float:
    """Absolute tolerance: ``tol`` times the mean feature variance (as scikit-learn)."""
    if tol == 0:
        return 0.0
    # Two passes over row chunks: O(chunk * d) extra memory, not a float64 copy of X.
    n, d = X.shape
    step = 8192
    total = np.zeros(d)
    # Huge finite inputs may overflow here (they are refused later, naming the scale).
    with np.errstate(over="ignore", invalid="ignore"):
        for s in range(0, n, step):
            total += X[s : s + step].sum(axis=0, dtype=np.float64)
        mean = total / n
        ss = np.zeros(d)
        for s in range(0, n, step):
            diff = X[s : s + step].astype(np.float64) - mean
            ss += np.einsum("ij,ij->j", diff, diff)
        value = float(np.mean(ss / n) * tol)
    # Variance overflows for huge finite inputs: fall back to the largest finite tolerance.
    return value if np.isfinite(value) else float(np.finfo(np.float64).max)


def _finite_batch(X: NDArray[Any], idx: NDArray[np.int64]) -> NDArray[Any]:
    batch = np.ascontiguousarray(X[idx])
    if not _finite_sum(batch):
        bad = ~np.isfinite(batch).all(axis=1)
        raise InvalidInputError(f"X contains NaN or inf at row {int(idx[np.argmax(bad)])}")
    return batch


def _reassign_small(
    centers: NDArray[Any],
    counts: NDArray[np.float64],
    batch: NDArray[Any],
    rng: np.random.Generator,
) -> tuple[NDArray[Any], NDArray[np.float64]]:
    """Move centres that received under 1% of the largest count to random batch rows
    (scikit-learn's ``reassignment_ratio=0.01``), at most half a batch at a time."""
    small = counts < 0.01 * counts.max()
    n_small = int(small.sum())
    if n_small == 0 or n_small == len(counts):
        return centers, counts
    cap = max(1, len(batch) // 2)
    which = np.flatnonzero(small)[:cap]
    rows = rng.choice(len(batch), size=len(which), replace=len(which) > len(batch))
    centers = centers.copy()
    counts = counts.copy()
    centers[which] = batch[rows]
    counts[which] = counts[~small].min()
    return centers, counts


def kmeans(X: Any, n_clusters: int, **kwargs: Any) -> VisualVocabulary:
    """Fit and return a :class:`VisualVocabulary`; keyword options as in its constructor.

    ``sample_weight`` may be passed here too.

    Examples
    --------
    >>> import numpy as np, vislang
    >>> X = np.r_[np.zeros((5, 2)), np.ones((5, 2))]
    >>> vislang.kmeans(X, 2, random_state=0).inertia_
    0.0
    """
    sample_weight = kwargs.pop("sample_weight", None)
    return VisualVocabulary(n_clusters, **kwargs).fit(X, sample_weight=sample_weight)


def kmeans_plusplus(
    X: Any,
    n_clusters: int,
    *,
    n_local_trials: int | None = None,
    random_state: Any = None,
    n_jobs: int | None = None,
) -> tuple[NDArray[Any], NDArray[np.int64]]:
    """Greedy k-means++ seeds, like :func:`sklearn.cluster.kmeans_plusplus`.

    Returns ``(centers, indices)``: the chosen rows of ``X`` and their indices.
    """
    X = as_float_matrix(X, "X")
    _check_finite(X, "X")
    if n_clusters < 1:
        raise InvalidInputError(f"n_clusters must be >= 1, got {n_clusters}")
    if n_clusters > X.shape[0]:
        raise InvalidInputError(f"n_clusters={n_clusters} must be <= n_samples={X.shape[0]}")
    idx = _core.kmeans_plus_plus(
        X,
        int(n_clusters),
        n_local_trials=n_local_trials,
        seed=seed_from(random_state),
        n_threads=threads_from(n_jobs),
    )
    return X[idx], idx
