"""Ranking-loss benchmarks: loss + gradient on the CPU, Rust kernel vs plain PyTorch ops.

Groups (issue 4, section 6):

* ``ranking from S B=.. <mode>``: loss and ``dL/dS`` from a given similarity matrix, for
  ``vislang`` (the Rust kernel through the autograd Function), ``torch-vsepp`` (the loss as
  vsepp's ``ContrastiveLoss`` writes it) and ``torch-vislang`` (vislang's own torch path, used
  on CUDA). pytorch-metric-learning takes embeddings, not S, so it appears only end to end.
* ``ranking e2e B=.. d=.. <mode>``: end to end from embeddings (``S = img @ txt.T`` in the graph,
  backward into both embeddings): ``vislang`` is ``contrastive_ranking_embeddings`` (what
  ``VSELoss`` calls: the product, the kernel and the two backward GEMMs in one autograd node),
  ``vislang-scores`` is ``contrastive_ranking(img @ txt.T)`` (the product as its own node),
  against ``gemm-only`` (the three GEMMs alone: the forward
  ``S = I @ T.T`` and the two backward ``dS @ T``, ``dS.T @ I``; the 1.2x target is read off
  against it) and ``pml``: pytorch-metric-learning's ``TripletMarginLoss`` with
  ``DotProductSimilarity`` and ``SumReducer`` (all triplets for sum, ``BatchHardMiner`` for
  max), called once per direction with texts (images) as ``ref_emb``; checked to give the same
  loss as vislang before timing.

``VISLANG_BENCH_SCALE``: ``smoke`` (tiny, CI: ``pytest benches --benchmark-disable``),
``default`` (B = 128, 1024, 4096) or ``full`` (adds 16384). Every tool runs on
``VISLANG_BENCH_THREADS`` threads (default 2). This file needs nothing from ``conftest.py``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from vislang.losses.functional import (  # noqa: E402
    contrastive_ranking,
    contrastive_ranking_embeddings,
)

SCALE = os.environ.get("VISLANG_BENCH_SCALE", "default")
THREADS = int(os.environ.get("VISLANG_BENCH_THREADS", "2"))
SIZES = {"smoke": [64], "default": [128, 1024, 4096], "full": [128, 1024, 4096, 16384]}[SCALE]
DIM = 32 if SCALE == "smoke" else 1024
E2E_SIZES = SIZES[:2] if SCALE == "default" else SIZES
MARGIN = 0.2
IMPLS = ("vislang", "torch-vsepp", "torch-vislang")


def vsepp_loss(scores: Any, max_violation: bool) -> Any:
    """vsepp's ContrastiveLoss (Faghri et al. 2018, model.py), sum reduction."""
    diagonal = scores.diag().view(scores.size(0), 1)
    d1 = diagonal.expand_as(scores)
    d2 = diagonal.t().expand_as(scores)
    cost_s = (MARGIN + scores - d1).clamp(min=0)
    cost_im = (MARGIN + scores - d2).clamp(min=0)
    mask = torch.eye(scores.size(0), dtype=torch.bool)
    cost_s = cost_s.masked_fill_(mask, 0)
    cost_im = cost_im.masked_fill_(mask, 0)
    if max_violation:
        cost_s = cost_s.max(1)[0]
        cost_im = cost_im.max(0)[0]
    return cost_s.sum() + cost_im.sum()


def loss_fn(impl: str, max_violation: bool) -> Callable[[Any], Any]:
    if impl == "vislang":
        return lambda s: contrastive_ranking(s, None, MARGIN, max_violation, n_jobs=THREADS)
    if impl == "torch-vsepp":
        return lambda s: vsepp_loss(s, max_violation)
    if impl == "torch-vislang":
        return lambda s: contrastive_ranking(s, None, MARGIN, max_violation, backend="torch")
    raise ValueError(impl)


def pml_loss(max_violation: bool) -> Callable[[Any, Any], Any]:
    """pytorch-metric-learning's triplet loss with vislang's semantics (both directions)."""
    pml = pytest.importorskip("pytorch_metric_learning")
    from pytorch_metric_learning import distances, losses, miners, reducers

    sim = distances.DotProductSimilarity()
    loss = losses.TripletMarginLoss(margin=MARGIN, distance=sim, reducer=reducers.SumReducer())
    miner = miners.BatchHardMiner(distance=sim) if max_violation else None
    del pml

    def one_way(anchor: Any, ref: Any) -> Any:
        labels = torch.arange(anchor.shape[0])
        ref_labels = labels.clone()  # a distinct object: PML treats `ref is labels` as self-pairs
        mined = None if miner is None else miner(anchor, labels, ref, ref_labels)
        return loss(anchor, labels, mined, ref, ref_labels)

    return lambda img, txt: one_way(img, txt) + one_way(txt, img)


def _param(b: int, mode: str, impl: str) -> Any:
    return pytest.param(
        b,
        mode,
        impl,
        marks=pytest.mark.benchmark(group=f"ranking from S B={b} {mode}"),
        id=f"B{b}-{mode}-{impl}",
    )


@pytest.fixture(scope="module", autouse=True)
def _threads() -> Any:
    before = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    yield
    torch.set_num_threads(before)


def _pedantic(benchmark: Any, fn: Callable[[], Any], b: int) -> None:
    if SCALE == "smoke" or b <= 1024:
        benchmark(fn)
    else:
        benchmark.pedantic(fn, rounds=3, iterations=1, warmup_rounds=1)


@pytest.mark.parametrize(
    ("b", "mode", "impl"),
    [_param(b, m, i) for b in SIZES for m in ("sum", "max") for i in IMPLS],
)
def test_ranking_from_scores(benchmark: Any, b: int, mode: str, impl: str) -> None:
    if impl == "torch-vislang" and b > 4096:
        pytest.skip("B x B x 1 temporaries of the torch path: slow at this size")
    gen = torch.Generator().manual_seed(0)
    base = torch.randn(b, b, generator=gen) * 0.1
    f = loss_fn(impl, mode == "max")

    def step() -> None:
        s = base.detach().requires_grad_()
        f(s).backward()

    _pedantic(benchmark, step, b)
    benchmark.extra_info.update(impl=impl, b=b, mode=mode, threads=THREADS)


@pytest.mark.parametrize(
    ("b", "mode", "impl"),
    [
        pytest.param(
            b,
            m,
            i,
            marks=pytest.mark.benchmark(group=f"ranking e2e B={b} d={DIM} {m}"),
            id=f"B{b}-{m}-{i}",
        )
        for b in E2E_SIZES
        for m in ("sum", "max")
        for i in ("vislang", "vislang-scores", "torch-vsepp", "pml", "gemm-only")
    ],
)
def test_ranking_end_to_end(benchmark: Any, b: int, mode: str, impl: str) -> None:
    gen = torch.Generator().manual_seed(1)
    img = torch.nn.functional.normalize(torch.randn(b, DIM, generator=gen), dim=1)
    txt = torch.nn.functional.normalize(torch.randn(b, DIM, generator=gen), dim=1)

    if impl == "pml":
        f = pml_loss(mode == "max")
        want = contrastive_ranking(img @ txt.T, None, MARGIN, mode == "max")
        torch.testing.assert_close(f(img, txt), want, rtol=1e-4, atol=1e-3)

        def step() -> None:
            i = img.detach().requires_grad_()
            t = txt.detach().requires_grad_()
            f(i, t).backward()

    elif impl == "gemm-only":
        grad = torch.ones(b, b)

        def step() -> None:
            s = img @ txt.T  # the forward GEMM
            _ = grad @ txt, grad.T @ img  # the two backward GEMMs
            del s

    elif impl == "vislang":
        kw = {"margin": MARGIN, "max_violation": mode == "max", "n_jobs": THREADS}
        want = contrastive_ranking(img @ txt.T, None, **kw)
        torch.testing.assert_close(contrastive_ranking_embeddings(img, txt, **kw), want)

        def step() -> None:
            i = img.detach().requires_grad_()
            t = txt.detach().requires_grad_()
            contrastive_ranking_embeddings(i, t, **kw).backward()

    else:
        f = loss_fn("vislang" if impl == "vislang-scores" else impl, mode == "max")

        def step() -> None:
            i = img.detach().requires_grad_()
            t = txt.detach().requires_grad_()
            f(i @ t.T).backward()

    _pedantic(benchmark, step, b)
    benchmark.extra_info.update(impl=impl, b=b, d=DIM, mode=mode, threads=THREADS)
