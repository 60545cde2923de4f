"""Global negatives: 2 gloo ranks x B/2 give the loss and gradients of 1 process x B."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from vislang.distributed import launch  # noqa: E402
from vislang.losses import InfoNCELoss, VSELoss  # noqa: E402

B, D_IN, D = 8, 6, 5
#: The image of each of the 8 captions; rank 0 holds captions 0-3, rank 1 captions 4-7, and
#: image 2 has a caption on each rank (a cross-rank positive pair).
CAPTION_IMAGE = np.array([0, 0, 1, 2, 2, 3, 4, 4])
CASES = ["vse", "vse++", "infonce", "vse++-ids", "infonce-ids"]


def _loss(case: str) -> Any:
    if case.startswith("infonce"):
        return InfoNCELoss(temperature=0.1)
    return VSELoss(margin=0.2, max_violation="++" in case)


def _params() -> tuple[Any, Any, Any, Any]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(B, D_IN, generator=g, dtype=torch.float64)
    y = torch.randn(B, D_IN, generator=g, dtype=torch.float64)
    wi = torch.randn(D_IN, D, generator=g, dtype=torch.float64, requires_grad=True)
    wt = torch.randn(D_IN, D, generator=g, dtype=torch.float64, requires_grad=True)
    return x, y, wi, wt


def _batch(case: str, captions: np.ndarray) -> tuple[Any, Any, dict[str, Any]]:
    """Image rows, caption rows and the loss's keyword arguments for these captions."""
    if not case.endswith("ids"):
        return captions, captions, {}
    ids = CAPTION_IMAGE[captions]
    uniq = np.unique(ids)
    pos = torch.from_numpy(uniq[:, None] == ids[None, :])
    kw = {"image_ids": torch.from_numpy(uniq), "text_image_ids": torch.from_numpy(ids)}
    return uniq, captions, {"positives": pos, **kw}


def _run(case: str, image_rows: Any, caption_rows: Any, kw: dict[str, Any]) -> Any:
    x, y, wi, wt = _params()
    img = torch.nn.functional.normalize(x[image_rows] @ wi, dim=1)
    txt = torch.nn.functional.normalize(y[caption_rows] @ wt, dim=1)
    loss = _loss(case)(img, txt, **kw)
    loss.backward()
    return loss.detach(), wi.grad, wt.grad


def _worker(rank: int) -> dict[str, Any]:
    import torch.distributed as dist

    out = {}
    for case in CASES:
        captions = np.arange(rank * B // 2, (rank + 1) * B // 2)
        loss, gi, gt = _run(case, *_batch(case, captions))
        for g in (gi, gt):  # the trainer's (DDP's) gradient average
            dist.all_reduce(g)
            g /= dist.get_world_size()
        out[case] = (float(loss), gi.numpy(), gt.numpy())
    # Uneven shards after the even ones: rank 1's 5 captions exceed the capacity (4) every
    # rank learned from the calls above, so this call needs the second all-gather.
    for case in ("vse++-uneven", "infonce-ids-uneven", "vse-positives-uneven"):
        captions = np.arange(0, 3) if rank == 0 else np.arange(3, B)
        base = case.removesuffix("-uneven")
        image_rows, caption_rows, kw = _batch(base, captions)
        if base == "vse-positives":
            kw = {"positives": torch.eye(len(captions), dtype=torch.bool)}
        loss, gi, gt = _run(base, image_rows, caption_rows, kw)
        for g in (gi, gt):
            dist.all_reduce(g)
            g /= dist.get_world_size()
        out[case] = (float(loss), gi.numpy(), gt.numpy())
    return out


def _reference(case: str) -> tuple[float, Any, Any]:
    cut = 3 if case.endswith("-uneven") else B // 2  # rank 0's captions: 0 .. cut - 1
    case = case.removesuffix("-uneven").removesuffix("-positives")
    if case.endswith("ids"):
        # The global batch as the ranks see it: each rank's unique images, in rank order
        # (an image with captions on both ranks is a row on each).
        halves = [_batch(case, np.arange(B)[:cut])[0], _batch(case, np.arange(B)[cut:])[0]]
        image_rows = np.concatenate(halves)
        ids = torch.from_numpy(CAPTION_IMAGE)
        pos = torch.from_numpy(image_rows[:, None] == CAPTION_IMAGE[None, :])
        loss, gi, gt = _run(case, image_rows, np.arange(B), {"positives": pos})
        del ids
    else:
        loss, gi, gt = _run(case, np.arange(B), np.arange(B), {})
    return float(loss), gi.numpy(), gt.numpy()


@pytest.fixture(scope="module")
def ranks() -> list[dict[str, Any]]:
    return launch(_worker, 2, timeout=30.0, start_method="fork")


def _assert_each_rank_matches(ranks: list[dict[str, Any]], case: str) -> None:
    loss, gi, gt = _reference(case)
    for r in ranks:
        r_loss, r_gi, r_gt = r[case]
        assert r_loss == pytest.approx(loss, rel=1e-10)
        np.testing.assert_allclose(r_gi, gi, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(r_gt, gt, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("case", CASES)
def test_two_ranks_match_one_process(ranks: list[dict[str, Any]], case: str) -> None:
    _assert_each_rank_matches(ranks, case)


@pytest.mark.parametrize("case", ["vse++-uneven", "infonce-ids-uneven", "vse-positives-uneven"])
def test_uneven_shards_match_one_process(ranks: list[dict[str, Any]], case: str) -> None:
    """3 + 5 captions (a batch larger than any before it) give the 8-caption loss too."""
    _assert_each_rank_matches(ranks, case)


def test_local_loss_differs_from_global() -> None:
    """The check above can fail: half a batch alone gives another loss."""
    loss, _, _ = _reference("vse++")
    half, _, _ = _run("vse++", np.arange(4), np.arange(4), {})
    assert float(half) != pytest.approx(loss / 2, rel=1e-3)
