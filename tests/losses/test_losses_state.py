"""The margin losses share one base; WARP's sampling state lives in ``state_dict``, so a run
resumed from a checkpoint draws the same negatives as one that never stopped."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import torch

from vislang.losses import DeViSELoss, InfoNCELoss, MarginLoss, VSELoss, WARPLoss


def _scores(step: int, n: int = 24) -> torch.Tensor:
    g = torch.Generator().manual_seed(1000 + step)
    return torch.randn(n, n, generator=g, dtype=torch.float64) * 0.3


def _run(loss: Any, steps: range) -> list[float]:
    return [float(loss.forward_scores(_scores(k))) for k in steps]


def test_margin_losses_share_the_base() -> None:
    for cls in (VSELoss, WARPLoss, DeViSELoss):
        assert issubclass(cls, MarginLoss)
    assert not issubclass(InfoNCELoss, MarginLoss)  # not a hinge loss
    assert WARPLoss.samples_negatives and DeViSELoss.samples_negatives
    assert "sample_calls" not in VSELoss().state_dict()  # nothing sampled, no state


@pytest.mark.parametrize("backend", ["rust", "torch"])
@pytest.mark.parametrize("seed", [None, 11])
def test_warp_resume_from_state_dict_draws_the_same_negatives(
    backend: str, seed: int | None
) -> None:
    torch.manual_seed(0)
    straight = WARPLoss(0.5, seed=seed, backend=backend)  # type: ignore[arg-type]
    expected = _run(straight, range(6))

    torch.manual_seed(0)
    first = WARPLoss(0.5, seed=seed, backend=backend)  # type: ignore[arg-type]
    head = _run(first, range(3))
    saved = copy.deepcopy(first.state_dict())
    assert int(saved["sample_calls"]) == 3 and int(saved["sample_seed"]) >= 0

    torch.manual_seed(12345)  # a fresh process: another global RNG state
    resumed = WARPLoss(0.5, seed=seed, backend=backend)  # type: ignore[arg-type]
    resumed.load_state_dict(saved)
    tail = _run(resumed, range(3, 6))
    assert head + tail == expected
    # Without the state the tail differs: the test can fail.
    torch.manual_seed(12345)
    fresh = WARPLoss(0.5, seed=seed, backend=backend)  # type: ignore[arg-type]
    assert _run(fresh, range(3, 6)) != tail


def test_warp_resume_gives_the_same_gradients() -> None:
    torch.manual_seed(3)
    a = WARPLoss(0.2)
    _run(a, range(2))
    b = WARPLoss(0.2)
    b.load_state_dict(a.state_dict())
    s1 = _scores(7).requires_grad_()
    s2 = _scores(7).requires_grad_()
    a.forward_scores(s1).backward()
    b.forward_scores(s2).backward()
    assert s1.grad is not None and s2.grad is not None
    assert torch.equal(s1.grad, s2.grad)


def test_devise_warp_sampling_state_resumes() -> None:
    img = torch.nn.functional.normalize(
        torch.randn(8, 5, generator=torch.Generator().manual_seed(1))
    )
    labels = torch.nn.functional.normalize(
        torch.randn(6, 5, generator=torch.Generator().manual_seed(2))
    )
    target = torch.tensor([0, 1, 2, 3, 4, 5, 0, 1])
    torch.manual_seed(0)
    a = DeViSELoss(0.3, sampling="warp")
    expected = [float(a(img * (1 + k / 10), labels, target)) for k in range(4)]
    torch.manual_seed(0)
    b = DeViSELoss(0.3, sampling="warp")
    head = [float(b(img * (1 + k / 10), labels, target)) for k in range(2)]
    c = DeViSELoss(0.3, sampling="warp")
    c.load_state_dict(b.state_dict())
    tail = [float(c(img * (1 + k / 10), labels, target)) for k in range(2, 4)]
    assert head + tail == expected


def test_state_dicts_without_the_sampling_state_still_load() -> None:
    # Checkpoints of earlier versions have no sample_* keys; strict loading accepts them.
    loss = WARPLoss(0.5, seed=4)
    loss.load_state_dict({}, strict=True)
    assert int(loss.sample_seed) == 4 and int(loss.sample_calls) == 0
    model = torch.nn.Module()
    model.criterion = WARPLoss(0.5)
    model.load_state_dict({}, strict=True)


def test_seed_must_be_an_int() -> None:
    from vislang.exceptions import InvalidInputError

    with pytest.raises(InvalidInputError, match=r"seed: must be None or an int, got 1\.5"):
        WARPLoss(seed=1.5)  # type: ignore[arg-type]
