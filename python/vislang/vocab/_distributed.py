"""k-means over row shards, one per rank of a torch.distributed group.

Each rank holds its own rows (an array, or a slice of a memory-mapped descriptor file, read in
chunks so a shard larger than memory works) and runs the Rust assignment
(``_core.nearest``) on it; the per-cluster sums, weights and the inertia are accumulated in
float64 and summed over the ranks in rank order (:func:`vislang._dist.sum_float64`), so every
rank computes the same centres, bit for bit, whatever the timing. Per iteration each rank sends
``k * (d + 1) + 1`` float64s.

Seeding:

- ``"k-means||"`` (Bahmani et al. 2012): one uniform first centre, then ``n_rounds``
  oversampling rounds, each keeping every point with probability ``l * d^2(x) / phi``
  (``l = oversampling * k``), then weighted k-means++ (and a few weighted Lloyd steps) on the
  candidates, weighted by how many points each one is nearest to;
- ``"k-means++"``: greedy k-means++ on a sample gathered from every rank (each rank contributes
  in proportion to its rows; ``init_size`` rows in all);
- ``"random"``: ``k`` rows of that sample; an array: rank 0's centres.

With one process (no group) the same code runs on the whole data, so a distributed fit and a
single-process fit on the concatenated shards agree to float tolerance.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from vislang import _core, _dist
from vislang._validation import seed_from, threads_from
from vislang.exceptions import InvalidInputError

if TYPE_CHECKING:
    from vislang.vocab.kmeans import VisualVocabulary

__all__ = ["fit_distributed"]

#: Rows per chunk of a shard (bounded memory on memory-mapped shards).
CHUNK = 65_536
_F64 = NDArray[np.float64]


class _Shard:
    """One rank's rows, weights and the chunked kernels over them."""

    def __init__(self, X: NDArray[Any], weight: _F64 | None, n_threads: int | None) -> None:
        self.X = X
        self.n, self.d = X.shape
        self.w = weight
        self.threads = n_threads

    def chunks(self) -> Any:
        for s in range(0, self.n, CHUNK):
            e = min(s + CHUNK, self.n)
            yield s, e, np.ascontiguousarray(self.X[s:e])

    def weight(self, s: int, e: int) -> _F64:
        return np.ones(e - s) if self.w is None else self.w[s:e]

    def nearest(self, centers: _F64) -> tuple[NDArray[np.int64], _F64]:
        """Label and squared distance of every row to ``centers``."""
        labels = np.empty(self.n, dtype=np.int64)
        d2 = np.empty(self.n)
        c = np.ascontiguousarray(centers, dtype=self.X.dtype)
        for s, e, chunk in self.chunks():
            idx, dist = _core.nearest(chunk, c, 1, n_threads=self.threads)
            labels[s:e] = idx[:, 0]
            d2[s:e] = dist[:, 0]
        return labels, d2

    def stats(self, centers: _F64) -> tuple[_F64, _F64, float, NDArray[np.int64], _F64]:
        """Per-cluster weighted sums and weights, inertia, labels and squared distances."""
        k = centers.shape[0]
        labels, d2 = self.nearest(centers)
        sums = np.zeros((k, self.d))
        counts = np.zeros(k)
        inertia = 0.0
        for s, e, chunk in self.chunks():
            lab, w = labels[s:e], self.weight(s, e)
            counts += np.bincount(lab, weights=w, minlength=k)
            inertia += float(np.dot(d2[s:e], w))
            order = np.argsort(lab, kind="stable")
            ls = lab[order]
            starts = np.flatnonzero(np.r_[True, ls[1:] != ls[:-1]])
            rows = chunk[order].astype(np.float64)
            if self.w is not None:
                rows *= w[order, None]
            sums[ls[starts]] += np.add.reduceat(rows, starts, axis=0)
        return sums, counts, inertia, labels, d2

    def sample(self, size: int, rng: np.random.Generator) -> tuple[_F64, _F64]:
        """``size`` distinct random rows (float64) and their weights."""
        idx = np.sort(rng.choice(self.n, size=min(size, self.n), replace=False))
        rows = np.asarray(self.X[idx], dtype=np.float64).reshape(len(idx), self.d)
        return rows, self.weight(0, self.n)[idx] if self.w is not None else np.ones(len(idx))


def _validate(X: Any, sample_weight: Any) -> tuple[NDArray[Any] | None, _F64 | None, str | None]:
    """The shard as a 2-D float32/float64 array (memmaps kept as they are) and its weights, or
    what is wrong with them (reported by every rank, see ``_dist.agree``)."""
    try:
        if isinstance(X, np.ndarray) and X.dtype in (np.float32, np.float64):
            arr = X
        else:
            arr = np.asarray(X)
            arr = arr.astype(np.float32 if arr.dtype == np.float32 else np.float64, copy=False)
    except (TypeError, ValueError) as e:
        return None, None, f"X is not a numeric array ({e})"
    if arr.ndim != 2:
        return None, None, f"X must be 2-D (n_rows, n_features), got shape {arr.shape}"
    if arr.shape[0] == 0:
        return arr, None, "empty shard (0 rows): give every rank at least one row"
    w = None
    if sample_weight is not None:
        w = np.asarray(sample_weight, dtype=np.float64).reshape(-1)
        if w.shape[0] != arr.shape[0]:
            return arr, None, f"sample_weight has {w.shape[0]} values for {arr.shape[0]} rows"
        if not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
            return arr, None, "sample_weight must be finite, >= 0 and not all 0"
    return arr, w, None


def _moments(shard: _Shard) -> tuple[_F64, _F64, str | None]:
    """Per-feature sum and sum of squares (float64); the first non-finite row, if any."""
    total, sq = np.zeros(shard.d), np.zeros(shard.d)
    for s, _e, chunk in shard.chunks():
        c = chunk.astype(np.float64)
        if not np.isfinite(c).all():
            row = s + int(np.argmax(~np.isfinite(c).all(axis=1)))
            return total, sq, f"X contains NaN or inf at row {row} of this rank's shard"
        total += c.sum(axis=0)
        sq += np.einsum("ij,ij->j", c, c)
    return total, sq, None


def _gathered_rows(rows: _F64, d: int, what: str) -> _F64:
    parts = _dist.all_gather_object(rows, what)
    return np.concatenate([np.asarray(p, dtype=np.float64).reshape(-1, d) for p in parts])


def _quotas(total: int, sizes: list[int]) -> list[int]:
    """``total`` rows split over ranks in proportion to their sizes (largest remainders)."""
    n = sum(sizes)
    exact = [total * s / n for s in sizes]
    q = [min(int(x), s) for x, s in zip(exact, sizes, strict=True)]
    order = sorted(range(len(sizes)), key=lambda r: (-(exact[r] - q[r]), r))
    for r in order:
        if sum(q) >= total:
            break
        if q[r] < sizes[r]:
            q[r] += 1
    return q


def _sample_seeds(
    shard: _Shard, k: int, init: str, sample_size: int, sizes: list[int], seed: int
) -> _F64:
    """k-means++ (or random rows) on a sample gathered from every rank, chosen on rank 0."""
    me = _dist.rank()
    quota = _quotas(max(sample_size, k), sizes)
    rows, w = shard.sample(quota[me], np.random.default_rng([seed, 1, me]))
    sample = _gathered_rows(rows, shard.d, "k-means seeding: gathering the sample")
    weights = np.concatenate(_dist.all_gather_object(w, "k-means seeding: sample weights"))
    centers = None
    if me == 0:
        if init == "random":
            pick = np.random.default_rng([seed, 0]).choice(len(sample), size=k, replace=False)
        else:
            data = np.ascontiguousarray(sample, dtype=shard.X.dtype)
            sw = None if shard.w is None else weights.astype(shard.X.dtype)
            pick = _core.kmeans_plus_plus(
                data, k, sample_weight=sw, seed=seed, n_threads=shard.threads
            )
        centers = sample[pick]
    out: _F64 = _dist.broadcast_object(centers, 0, "k-means seeding: broadcasting the seeds")
    return out


def _parallel_seeds(
    shard: _Shard,
    k: int,
    sizes: list[int],
    seed: int,
    oversampling: float,
    n_rounds: int,
) -> _F64:
    """k-means|| (Bahmani et al. 2012)."""
    me = _dist.rank()
    shared = np.random.default_rng([seed, 0])
    local = np.random.default_rng([seed, 2, me])
    owner = int(shared.choice(len(sizes), p=np.asarray(sizes) / sum(sizes)))
    row = int(shared.integers(sizes[owner]))
    first = np.asarray(shard.X[row], dtype=np.float64)[None] if me == owner else None
    cands = np.asarray(_dist.broadcast_object(first, owner, "k-means||: first centre"))
    _, d2 = shard.nearest(cands)
    w_all = shard.weight(0, shard.n)
    ell = oversampling * k
    for rnd in range(n_rounds):
        (phi,) = _dist.sum_float64([np.array([np.dot(d2, w_all)])], f"k-means|| round {rnd}")
        if phi[0] <= 0:
            break  # every point is a candidate already
        p = np.minimum(1.0, ell * w_all * d2 / phi[0])
        pick = np.flatnonzero(local.random(shard.n) < p)
        new = _gathered_rows(
            np.asarray(shard.X[pick], dtype=np.float64).reshape(-1, shard.d),
            shard.d,
            f"k-means|| round {rnd}: gathering candidates",
        )
        if len(new) == 0:
            continue
        _, d2_new = shard.nearest(new)
        d2 = np.minimum(d2, d2_new)
        cands = np.vstack([cands, new])
    if len(cands) < k:  # too few distinct candidates: add rows of a gathered sample
        quota = _quotas(k - len(cands), sizes)
        rows, _ = shard.sample(quota[me], np.random.default_rng([seed, 3, me]))
        cands = np.vstack([cands, _gathered_rows(rows, shard.d, "k-means||: topping up")])
    labels, _ = shard.nearest(cands)
    (weights,) = _dist.sum_float64(
        [np.bincount(labels, weights=w_all, minlength=len(cands))], "k-means||: candidate weights"
    )
    keep = weights > 0
    if keep.sum() >= k:
        cands, weights = cands[keep], weights[keep]
    centers = None
    if me == 0:
        data = np.ascontiguousarray(cands, dtype=shard.X.dtype)
        sw = np.ascontiguousarray(np.maximum(weights, 1e-12), dtype=shard.X.dtype)
        pick = _core.kmeans_plus_plus(data, k, sample_weight=sw, seed=seed, n_threads=shard.threads)
        refined = _core.kmeans_fit(
            data,
            k,
            init=data[pick],
            sample_weight=sw,
            max_iter=10,
            tol=0.0,
            seed=seed,
            algorithm="lloyd",
            n_threads=shard.threads,
        )
        centers = np.asarray(refined[0], dtype=np.float64)
    out: _F64 = _dist.broadcast_object(centers, 0, "k-means||: broadcasting the seeds")
    return out


def _relocate(shard: _Shard, d2: _F64, n_empty: int, it: int) -> _F64:
    """The ``n_empty`` rows farthest from their centre over all ranks (ties: lower rank, then
    lower row), agreed by every rank: the new centres of the empty clusters."""
    top = np.sort(np.argsort(-d2, kind="stable")[:n_empty])
    rows = np.asarray(shard.X[top], dtype=np.float64).reshape(len(top), shard.d)
    mine = (d2[top], rows, top)
    parts = _dist.all_gather_object(mine, f"k-means iteration {it}: relocating empty clusters")
    entries = [
        (-float(dist), r, int(row), vec)
        for r, (dists, vecs, rows) in enumerate(parts)
        for dist, vec, row in zip(dists, vecs, rows, strict=True)
    ]
    entries.sort(key=lambda t: (t[0], t[1], t[2]))
    return np.array([e[3] for e in entries[:n_empty]])


def fit_distributed(vocab: VisualVocabulary, X: Any, sample_weight: Any = None) -> Any:
    """Fit ``vocab`` on this rank's shard ``X`` (every rank calls it with its own shard)."""
    k = int(vocab.n_clusters)
    shard_arr, w, problem = _validate(X, sample_weight)
    init = vocab.init
    init_kind = init if isinstance(init, str) else "array"
    facts: dict[str, Any] = {
        "n_clusters": k,
        "n_features": None if shard_arr is None or shard_arr.ndim != 2 else shard_arr.shape[1],
        "dtype": None if shard_arr is None else str(shard_arr.dtype),
        "init": init_kind,
        "batch_size": vocab.batch_size,
        "max_iter": int(vocab.max_iter),
        "weighted": sample_weight is not None,
    }
    what = "distributed k-means"
    _dist.agree(facts, problem, what=what)
    assert shard_arr is not None
    shard = _Shard(shard_arr, w, threads_from(vocab.n_jobs))
    total, sq, problem = _moments(shard)
    sizes = [int(s) for s in _dist.all_gather_object(shard.n, f"{what}: shard sizes")]
    _dist.agree({}, problem, what=what)
    n_total = sum(sizes)
    if k > n_total:
        raise InvalidInputError(f"n_clusters={k} must be <= n_samples={n_total} (all ranks)")
    seed = int(_dist.broadcast_object(seed_from(vocab.random_state), 0, f"{what}: seed"))
    (total, sq) = _dist.sum_float64([total, sq], f"{what}: feature variance")
    var = float(np.mean(sq / n_total - (total / n_total) ** 2))
    tol = float(vocab.tol) * max(var, 0.0)

    t0 = time.perf_counter()
    if not isinstance(init, str):
        arr = np.asarray(init, dtype=np.float64)
        if arr.shape != (k, shard.d):
            raise InvalidInputError(
                f"init must have shape (n_clusters={k}, n_features={shard.d}), got {arr.shape}"
            )
        centers = np.asarray(_dist.broadcast_object(arr, 0, f"{what}: initial centres"))
    elif init == "k-means||":
        centers = _parallel_seeds(shard, k, sizes, seed, vocab.oversampling_factor, vocab.n_rounds)
    else:
        size = vocab._seed_rows(n_total, vocab.batch_size)
        centers = _sample_seeds(shard, k, init, size, sizes, seed)
    history: dict[str, list[float]] = {"iteration": [], "inertia": [], "center_shift": []}
    history["seconds"] = []

    if vocab.batch_size is not None:
        centers, counts, n_iter, n_steps, seed_inertia = _minibatch(
            shard, centers, sizes, seed, int(vocab.batch_size), int(vocab.max_iter), history, t0
        )
    else:
        centers, counts, n_iter, seed_inertia = _lloyd(
            shard, centers, int(vocab.max_iter), tol, history, t0
        )
        n_steps = 0
    labels, d2 = shard.nearest(centers)
    local_inertia = float(np.dot(d2, shard.weight(0, shard.n)))
    (inertia,) = _dist.sum_float64([np.array([local_inertia])], f"{what}: final inertia")
    vocab.cluster_centers_ = centers.astype(shard.X.dtype)
    vocab.labels_ = labels.astype(np.int32)
    vocab.inertia_ = float(inertia[0])
    vocab.n_iter_ = int(n_iter)
    vocab.n_steps_ = int(n_steps)
    vocab.seed_inertia_ = float(seed_inertia)
    vocab.n_features_in_ = int(shard.d)
    vocab.history_ = {key: np.asarray(v) for key, v in history.items()}
    vocab._counts = counts
    vocab.n_samples_total_ = int(n_total)
    return vocab


def _lloyd(
    shard: _Shard,
    centers: _F64,
    max_iter: int,
    tol: float,
    history: dict[str, list[float]],
    t0: float,
) -> tuple[_F64, _F64, int, float]:
    seed_inertia = float("nan")
    counts = np.zeros(len(centers))
    it = 0
    for it in range(1, max_iter + 1):
        sums, counts, inertia, _, d2 = shard.stats(centers)
        sums, counts, inert = _dist.sum_float64(
            [sums, counts, np.array([inertia])], f"k-means iteration {it}: summing the clusters"
        )
        if it == 1:
            seed_inertia = float(inert[0])
        new = centers.copy()
        full = counts > 0
        new[full] = sums[full] / counts[full, None]
        empty = np.flatnonzero(~full)
        if empty.size:
            new[empty] = _relocate(shard, d2, int(empty.size), it)
        shift = float(((new - centers) ** 2).sum())
        centers = new
        history["iteration"].append(it)
        history["inertia"].append(float(inert[0]))
        history["center_shift"].append(shift)
        history["seconds"].append(time.perf_counter() - t0)
        if shift <= tol and not empty.size:
            break
    return centers, counts, it, seed_inertia


def _minibatch(
    shard: _Shard,
    centers: _F64,
    sizes: list[int],
    seed: int,
    batch_size: int,
    max_iter: int,
    history: dict[str, list[float]],
    t0: float,
) -> tuple[_F64, _F64, int, int, float]:
    """Mini-batch k-means (Sculley 2010): each step every rank draws its share of the batch;
    the batch's per-cluster sums and weights are summed over ranks, then each centre moves to
    the running weighted mean of every point it has received."""
    me = _dist.rank()
    rng = np.random.default_rng([seed, 4, me])
    quota = max(1, _quotas(min(batch_size, sum(sizes)), sizes)[me])
    n_total = sum(sizes)
    steps = max_iter * -(-n_total // batch_size)
    seen = np.zeros(len(centers))
    seed_inertia = float("nan")
    for step in range(1, steps + 1):
        rows, w = shard.sample(quota, rng)
        batch = _Shard(np.ascontiguousarray(rows, dtype=shard.X.dtype), w, shard.threads)
        sums, counts, inertia, _, _ = batch.stats(centers)
        sums, counts, inert = _dist.sum_float64(
            [sums, counts, np.array([inertia])], f"mini-batch k-means step {step}"
        )
        if step == 1:
            seed_inertia = float(inert[0])
        full = counts > 0
        new = centers.copy()
        new[full] = (centers[full] * seen[full, None] + sums[full]) / (seen[full] + counts[full])[
            :, None
        ]
        seen += counts
        shift = float(((new - centers) ** 2).sum())
        centers = new
        history["iteration"].append(step)
        history["inertia"].append(float(inert[0]))
        history["center_shift"].append(shift)
        history["seconds"].append(time.perf_counter() - t0)
    return centers, seen, max_iter, steps, seed_inertia
