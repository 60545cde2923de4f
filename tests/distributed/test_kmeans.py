"""Distributed k-means on 2 gloo ranks: the same centres as one process on the concatenated
data, k-means|| seeds as good as k-means++, clear errors on bad input and on a dead rank."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest

pytest.importorskip("torch")

import vislang
from vislang.distributed import kmeans, launch
from vislang.exceptions import DistributedError, InvalidInputError

K, D = 12, 6
#: Rows of rank 0 (rank 1 has the rest): uneven shards.
SPLIT = 700


def _data(dtype: Any = np.float64) -> np.ndarray:
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=6.0, size=(K, D))
    X = centres[rng.integers(K, size=1600)] + rng.normal(size=(1600, D))
    return X.astype(dtype)


def _shard(rank: int, X: np.ndarray) -> np.ndarray:
    return X[:SPLIT] if rank == 0 else X[SPLIT:]


def _good_start() -> np.ndarray:
    """Near-optimal centres, perturbed: mini-batch should get back close to the optimum."""
    best = vislang.VisualVocabulary(K, n_init=3, random_state=0).fit(_data())
    noise = np.random.default_rng(1).normal(scale=0.5, size=(K, D))
    return best.cluster_centers_ + noise


def _fits(rank: int, folder: str) -> dict[str, Any]:
    X = _data()
    # A memory-mapped file slice, as a rank reads its shard of a large descriptor file.
    mm = np.load(os.path.join(folder, "X.npy"), mmap_mode="r")
    shard = mm[:SPLIT] if rank == 0 else mm[SPLIT:]
    out: dict[str, Any] = {}
    fixed = kmeans(shard, K, init=X[:K], max_iter=100, tol=0.0)
    out["fixed"] = (fixed.cluster_centers_, fixed.inertia_, fixed.labels_, fixed.n_iter_)
    par = kmeans(_shard(rank, X), K, init="k-means||", max_iter=1, random_state=3)
    out["parallel"] = (par.seed_inertia_, par.cluster_centers_)
    pp = kmeans(_shard(rank, X), K, init="k-means++", max_iter=1, random_state=3)
    out["sample"] = (pp.cluster_centers_, pp.seed_inertia_)
    good = _good_start()
    mb = kmeans(_shard(rank, X), K, init=good, batch_size=256, max_iter=3, random_state=0)
    out["minibatch"] = (mb.cluster_centers_, mb.inertia_)
    # More clusters than distinct points early on: empty clusters are relocated alike.
    dup = np.repeat(_shard(rank, X)[:3], 4, axis=0)
    emp = kmeans(dup, 5, init=np.repeat(X[:1], 5, axis=0), max_iter=10, tol=0.0)
    out["empty"] = emp.cluster_centers_
    # Not asked to be distributed: a fit in this process alone, even inside a group.
    alone = vislang.VisualVocabulary(K, init="k-means||", max_iter=3, random_state=0)
    out["alone"] = alone.fit(_shard(rank, X)).n_samples_total_
    return out


@pytest.fixture(scope="module")
def fits(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("shards")
    np.save(folder / "X.npy", _data())
    return launch(_fits, 2, str(folder), timeout=30.0, start_method="fork")


def test_same_init_matches_one_process(fits: list[dict[str, Any]]) -> None:
    X = _data()
    one = kmeans(X, K, init=X[:K], max_iter=100, tol=0.0)  # no group: one process
    rust = vislang.VisualVocabulary(K, init=X[:K], algorithm="lloyd", max_iter=100, tol=0.0)
    rust.fit(X)
    for r, fit in enumerate(fits):
        centres, inertia, labels, _ = fit["fixed"]
        np.testing.assert_allclose(centres, one.cluster_centers_, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(centres, rust.cluster_centers_, rtol=1e-8, atol=1e-8)
        assert inertia == pytest.approx(one.inertia_, rel=1e-10)
        assert inertia == pytest.approx(rust.inertia_, rel=1e-8)
        np.testing.assert_array_equal(labels, _shard(r, one.labels_))
    # Both ranks hold bit-identical centres (fixed reduction order).
    np.testing.assert_array_equal(fits[0]["fixed"][0], fits[1]["fixed"][0])


def test_kmeans_parallel_seeds_as_good_as_kmeans_plusplus(fits: list[dict[str, Any]]) -> None:
    X = _data()
    seeds, _ = vislang.kmeans_plusplus(X, K, random_state=3)
    _, d2 = vislang.assign(X, seeds)
    plusplus = float(d2.sum())
    seed_inertia, centres = fits[0]["parallel"]
    assert seed_inertia <= 1.05 * plusplus
    np.testing.assert_array_equal(centres, fits[1]["parallel"][1])


def test_gathered_sample_seeding_is_kmeans_plusplus(fits: list[dict[str, Any]]) -> None:
    """With init_size covering every row the gathered sample is the data in rank order."""
    X = _data()
    seeds, _ = vislang.kmeans_plusplus(X, K, random_state=3)
    _, d2 = vislang.assign(X, seeds)
    assert fits[0]["sample"][1] == pytest.approx(float(d2.sum()), rel=1e-9)
    np.testing.assert_array_equal(fits[0]["sample"][0], fits[1]["sample"][0])


def test_minibatch_agrees_across_ranks_and_converges(fits: list[dict[str, Any]]) -> None:
    X = _data()
    best = vislang.VisualVocabulary(K, n_init=3, random_state=0).fit(X).inertia_
    _, d2 = vislang.assign(X, _good_start())
    np.testing.assert_array_equal(fits[0]["minibatch"][0], fits[1]["minibatch"][0])
    assert fits[0]["minibatch"][1] <= 1.05 * best < float(d2.sum())


def test_empty_clusters_relocated_the_same_on_every_rank(fits: list[dict[str, Any]]) -> None:
    a, b = fits[0]["empty"], fits[1]["empty"]
    np.testing.assert_array_equal(a, b)
    assert len(np.unique(a, axis=0)) == 5  # 3 + 3 distinct rows: every cluster got one


def test_a_fit_not_asked_to_be_distributed_stays_local(fits: list[dict[str, Any]]) -> None:
    assert [f["alone"] for f in fits] == [SPLIT, 1600 - SPLIT]


def _bad(rank: int) -> list[str]:
    X = _data()
    cases: list[tuple[Any, int]] = [
        (_shard(rank, X), K + rank),  # k differs
        (_shard(rank, X)[:, : D - rank], K),  # d differs
        (_shard(rank, X).astype(np.float32 if rank else np.float64), K),  # dtype differs
        (_shard(rank, X)[: 0 if rank else None], K),  # rank 1's shard is empty
    ]
    messages = []
    for shard, k in cases:
        try:
            kmeans(shard, k, max_iter=2, random_state=0)
        except InvalidInputError as e:
            messages.append(str(e))
        else:
            messages.append("no error")
    return messages


def test_bad_input_raises_on_every_rank() -> None:
    out = launch(_bad, 2, timeout=20.0, start_method="fork")
    assert out[0] == out[1]  # the same error on each rank, none left waiting
    k, d, dtype, empty = out[0]
    assert "disagree on n_clusters: rank 0 has 12, rank 1 has 13" in k
    assert "disagree on n_features: rank 0 has 6, rank 1 has 5" in d
    assert "disagree on dtype: rank 0 has 'float64', rank 1 has 'float32'" in dtype
    assert "rank 1: empty shard (0 rows)" in empty


def _dies(rank: int) -> str | None:
    X = _data()
    if rank == 1:
        os._exit(0)  # a rank that dies before the fit
    try:
        kmeans(_shard(rank, X), K, max_iter=2, random_state=0)
    except DistributedError as e:
        return str(e)
    return "no error"


def test_dead_rank_is_named_not_a_hang() -> None:
    out = launch(_dies, 2, timeout=10.0, start_method="fork")
    assert out[1] is None
    assert out[0] is not None and "not reached by rank 1" in out[0], out[0]


def _hangs(rank: int) -> str | None:
    import time

    X = _data()
    if rank == 1:
        time.sleep(4.0)  # longer than the group's 2 s collective timeout
    try:
        kmeans(_shard(rank, X), K, max_iter=2, random_state=0)
    except DistributedError as e:
        return str(e)
    return "no error"


def test_hung_rank_times_out_naming_it() -> None:
    out = launch(_hangs, 2, timeout=2.0, start_method="fork")
    assert out[0] is not None and "not reached by rank 1" in out[0], out[0]
    assert out[1] != "no error"  # the late rank fails too instead of waiting forever
