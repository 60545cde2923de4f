"""Bucketed gradient averaging during backward equals one all-reduce after it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from vislang.distributed import launch  # noqa: E402
from vislang.models._data_parallel import GradientSync  # noqa: E402


def _model() -> Any:
    torch.manual_seed(0)
    return torch.nn.ModuleDict(
        {
            "a": torch.nn.Linear(5, 7),
            "b": torch.nn.Linear(7, 3),
            "unused": torch.nn.Linear(3, 2),  # gets no gradient: averaged as zeros
            "frozen": torch.nn.Linear(3, 3).requires_grad_(False),
        }
    )


def _grads(rank: int, bucket_mb: float, steps: int) -> list[list[np.ndarray]]:
    import torch.distributed as dist

    model = _model()
    params = list(model.parameters())
    sync = GradientSync(params, dist.get_world_size(), bucket_mb) if bucket_mb >= 0 else None
    out = []
    for step in range(steps):
        g = torch.Generator().manual_seed(100 * step + rank)
        x = torch.randn(4, 5, generator=g)
        for p in params:
            p.grad = None
        if sync is not None:
            sync.arm()
        loss = model["b"](torch.tanh(model["a"](x))).square().sum()
        loss.backward()
        if sync is not None:
            sync.finish(f"test step {step}")
        else:  # the reference: one all-reduce per gradient after the backward pass
            for p in params:
                if p.requires_grad:
                    if p.grad is None:
                        p.grad = torch.zeros_like(p)
                    dist.all_reduce(p.grad)
                    p.grad /= dist.get_world_size()
        out.append([p.grad.numpy().copy() for p in params if p.requires_grad])
    if sync is not None:  # not armed, then removed: a later backward is not averaged
        for p in params:
            p.grad = None
        model["a"](torch.full((1, 5), rank + 1.0)).sum().backward()
        sync.remove()
        model["a"](torch.full((1, 5), rank + 1.0)).sum().backward()
        out.append([model["a"].weight.grad.numpy().copy()])
    return out


def _worker(rank: int) -> dict[str, Any]:
    return {mb: _grads(rank, mb, 3) for mb in (-1.0, 0.0, 1e-5, 4.0)}


@pytest.fixture(scope="module")
def ranks() -> list[dict[str, Any]]:
    return launch(_worker, 2, timeout=30.0, start_method="fork")


@pytest.mark.parametrize("bucket_mb", [0.0, 1e-5, 4.0])
def test_bucketed_average_equals_reference(ranks: list[dict[str, Any]], bucket_mb: float) -> None:
    for r in ranks:
        ref, got = r[-1.0], r[bucket_mb]
        for step in range(3):
            for a, b in zip(ref[step], got[step], strict=True):
                np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-7)
        assert np.all(got[0][-1] == 0) and np.all(got[0][-2] == 0)  # "unused": zeros
    # both ranks hold the same average, which differs from either rank's own gradient
    np.testing.assert_array_equal(ranks[0][4.0][0][0], ranks[1][4.0][0][0])
    for rank, r in enumerate(ranks):  # unarmed, then removed: each rank's own gradient
        np.testing.assert_array_equal(r[4.0][3][0], np.full((7, 5), 2.0 * (rank + 1)))


def test_buckets_follow_size_and_reverse_order() -> None:
    model = _model()
    params = list(model.parameters())
    sync = GradientSync(params, 2, bucket_mb=(7 * 5 + 7) * 4 / 2**20)
    trainable = [p for p in params if p.requires_grad]
    flat = [p for b in sync.buckets for p in b]
    assert [id(p) for p in flat] == [id(p) for p in reversed(trainable)]
    assert all(sum(p.numel() for p in b) <= 42 or len(b) == 1 for b in sync.buckets)
    assert len(GradientSync(params, 2, bucket_mb=0).buckets) == 1
    sync.remove()


def _bucket_names(rank: int) -> list[list[list[str]]]:
    """The buckets before and after the first backward pass; rank 1's pass also uses
    "unused" (computed last, so its gradients are final first there)."""
    import torch.distributed as dist

    model = _model()
    names = {id(p): n for n, p in model.named_parameters()}
    sync = GradientSync(list(model.parameters()), dist.get_world_size(), 1e-5)
    layouts = [[[names[id(p)] for p in b] for b in sync.buckets]]
    x = torch.ones(2, 5)
    sync.arm()
    loss = model["b"](torch.tanh(model["a"](x))).sum()
    if rank == 1:
        loss = loss + model["unused"](torch.ones(2, 3)).sum()
    loss.backward()
    sync.finish("bucket order test")
    layouts.append([[names[id(p)] for p in b] for b in sync.buckets])
    sync.remove()
    return layouts


def test_buckets_are_rebuilt_in_rank_0s_gradient_order() -> None:
    before, after = zip(*launch(_bucket_names, 2, timeout=30.0, start_method="fork"), strict=True)
    assert before[0] == before[1] and after[0] == after[1]  # the ranks' collectives pair up
    flat = [n for b in after[0] for n in b]
    # rank 0's backward finished b (the last layer) before a; "unused" it never saw: last
    assert flat.index("b.weight") < flat.index("a.weight")
    assert flat.index("b.bias") < flat.index("a.bias")
    assert flat[-2:] == ["unused.bias", "unused.weight"]
    assert sorted(flat) == sorted(n for b in before[0] for n in b)


#: word ids each rank looks up at each step: few rows, more rows (the capacity grows), a rank
#: with none, then most of the table (dense from then on), then few again
_STEP_IDS = [
    ([1, 2, 2], [3, 40]),
    ([5, 6, 7, 8, 9, 10], [1, 11, 12]),
    ([4], []),
    (list(range(0, 50, 2)), list(range(1, 50, 3))),
    ([1, 2], [3]),
]


def _embedding_grads(rank: int, sparse: bool) -> tuple[list[np.ndarray], list[Any]]:
    import torch.distributed as dist

    from vislang.models._data_parallel import embedding_tables

    torch.manual_seed(0)
    model = torch.nn.ModuleDict({"emb": torch.nn.Embedding(50, 4), "out": torch.nn.Linear(4, 1)})
    params = list(model.parameters())
    tables = embedding_tables(model) if sparse else []
    sync = GradientSync(params, dist.get_world_size(), 4.0, row_sparse=tables, row_sparse_min_mb=0)
    grads, modes = [], []
    for step, ids in enumerate(_STEP_IDS):
        for p in params:
            p.grad = None
        sync.arm()
        mine = torch.tensor(ids[rank], dtype=torch.long)
        loss = model["out"](model["emb"](mine) * (rank + step + 1)).sum()
        loss.backward()
        sync.finish(f"embedding step {step}")
        grads.append(model["emb"].weight.grad.numpy().copy())
        modes.append([(t.capacity, t.dense) for t in sync._rows])
    return grads, modes


def _embedding_worker(rank: int) -> dict[bool, Any]:
    return {sparse: _embedding_grads(rank, sparse) for sparse in (False, True)}


def test_small_tables_travel_in_the_buckets() -> None:
    table = torch.nn.Embedding(1100, 1000)  # 4.2 MiB
    small = torch.nn.Embedding(1000, 10)
    sync = GradientSync(
        [table.weight, small.weight], 2, 4.0, row_sparse=[table.weight, small.weight]
    )
    assert [t.param is table.weight for t in sync._rows] == [True]
    assert [p is small.weight for b in sync.buckets for p in b] == [True]
    sync.remove()


def test_embedding_rows_travel_alone_and_sum_exactly() -> None:
    ranks = launch(_embedding_worker, 2, timeout=30.0, start_method="fork")
    for r in ranks:
        dense, _ = r[False]
        sparse, modes = r[True]
        for step, (a, b) in enumerate(zip(dense, sparse, strict=True)):
            np.testing.assert_array_equal(b, a, err_msg=f"step {step}")
        # 2 rows -> capacity 3; 6 rows -> 8; 1 row fits; 25 rows -> dense for good
        assert modes == [[(3, False)], [(8, False)], [(8, False)], [(32, True)], [(32, True)]]
    np.testing.assert_array_equal(ranks[0][True][0][1], ranks[1][True][0][1])
    assert np.flatnonzero(ranks[0][True][0][0].any(1)).tolist() == [1, 2, 3, 40]
