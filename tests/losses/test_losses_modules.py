"""The loss modules: VSELoss (warm-up), DeViSELoss, InfoNCELoss; embeddings in, scalar out."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from loss_reference import info_nce_loop, ranking_loop

from vislang.exceptions import InvalidInputError
from vislang.losses import DeViSELoss, InfoNCELoss, VSELoss, WARPLoss


def _emb(n: int, d: int = 8, seed: int = 0, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.nn.functional.normalize(torch.randn(n, d, generator=g, dtype=dtype), dim=1)


@pytest.mark.parametrize(
    "loss", [VSELoss(), VSELoss(max_violation=True), WARPLoss(seed=0), InfoNCELoss()]
)
def test_tiny_forward_backward_is_finite(loss: torch.nn.Module) -> None:
    img = _emb(6, seed=1).requires_grad_()
    txt = _emb(6, seed=2).requires_grad_()
    out = loss(img, txt)
    assert out.ndim == 0 and torch.isfinite(out)
    out.backward()
    assert img.grad is not None and txt.grad is not None
    assert torch.isfinite(img.grad).all() and torch.isfinite(txt.grad).all()


@pytest.mark.parametrize("max_violation", [False, True])
def test_vse_gradient_through_the_embeddings_matches_torch(max_violation: bool) -> None:
    grads = []
    for backend in ("rust", "torch"):
        img = _emb(20, seed=3, dtype=torch.float64).requires_grad_()
        txt = _emb(20, seed=4, dtype=torch.float64).requires_grad_()
        VSELoss(0.2, max_violation, backend=backend)(img, txt).backward()  # type: ignore[arg-type]
        grads.append((img.grad, txt.grad))
    torch.testing.assert_close(grads[0], grads[1])


def test_vse_five_captions_per_image_matches_the_loop() -> None:
    img = _emb(4, seed=5, dtype=torch.float64)
    txt = _emb(20, seed=6, dtype=torch.float64)
    pos = torch.arange(20)[None, :] // 5 == torch.arange(4)[:, None]
    for mv in (False, True):
        out = VSELoss(0.2, mv)(img, txt, pos)
        ref, _ = ranking_loop((img @ txt.T).numpy(), pos.numpy(), 0.2, mv)
        assert float(out) == pytest.approx(ref, rel=1e-12)


def test_vse_warmup_switches_from_sum_to_max() -> None:
    img, txt = _emb(10, seed=7), _emb(10, seed=8)
    loss = VSELoss(0.5, max_violation=True, warmup_steps=2)
    total = float(VSELoss(0.5)(img, txt))
    hardest = float(VSELoss(0.5, max_violation=True)(img, txt))
    assert total > hardest
    seen = [float(loss(img, txt)) for _ in range(4)]
    assert seen == pytest.approx([total, total, hardest, hardest])
    assert int(loss.state_dict()["num_steps"]) == 4
    loss.eval()
    loss(img, txt)
    assert int(loss.num_steps) == 4  # evaluation does not advance the warm-up
    resumed = VSELoss(0.5, max_violation=True, warmup_steps=2)
    resumed.load_state_dict(loss.state_dict())
    assert resumed.hard_negatives


def test_devise_hinge_rank_loss_matches_the_loop() -> None:
    img = _emb(7, seed=9, dtype=torch.float64)
    labels = _emb(5, seed=10, dtype=torch.float64)
    target = torch.tensor([0, 1, 2, 3, 4, 0, 1])
    out = DeViSELoss(0.1, reduction="sum")(img, labels, target)
    pos = torch.nn.functional.one_hot(target, 5).bool()
    ref, _ = ranking_loop((img @ labels.T).numpy(), pos.numpy(), 0.1, False, "i2t")
    assert float(out) == pytest.approx(ref, rel=1e-12)
    mean = DeViSELoss(0.1)(img, labels, target)
    assert float(mean) == pytest.approx(ref / 7, rel=1e-12)
    warp = DeViSELoss(0.1, sampling="warp", seed=0)(img, labels, target)
    assert torch.isfinite(warp)


def test_devise_bad_targets() -> None:
    img, labels = _emb(3), _emb(4)
    with pytest.raises(InvalidInputError, match=r"target\[1\]=7 is not a label index in \[0, 4\)"):
        DeViSELoss()(img, labels, torch.tensor([0, 7, 1]))
    with pytest.raises(InvalidInputError, match=r"target must have shape \(3,\) or \(3, 4\)"):
        DeViSELoss()(img, labels, torch.tensor([0, 1]))


def test_infonce_equals_clip_cross_entropy_on_the_diagonal() -> None:
    img, txt = _emb(9, seed=11), _emb(9, seed=12)
    logits = img @ txt.T / 0.07
    labels = torch.arange(9)
    clip = (
        torch.nn.functional.cross_entropy(logits, labels)
        + torch.nn.functional.cross_entropy(logits.T, labels)
    ) / 2
    torch.testing.assert_close(InfoNCELoss(0.07)(img, txt), clip)


def test_infonce_with_a_mask_matches_the_loop() -> None:
    img = _emb(3, seed=13, dtype=torch.float64)
    txt = _emb(9, seed=14, dtype=torch.float64)
    pos = torch.arange(9)[None, :] // 3 == torch.arange(3)[:, None]
    out = InfoNCELoss(0.1)(img, txt, pos)
    ref = info_nce_loop((img @ txt.T).numpy(), pos.numpy(), 0.1)
    # The temperature is stored as a float32 log-scale: 0.1 up to float32 rounding.
    assert float(out) == pytest.approx(ref, rel=1e-6)


def test_infonce_learnable_temperature_gets_a_gradient() -> None:
    loss = InfoNCELoss(0.1, learnable=True)
    loss(_emb(5, seed=15), _emb(5, seed=16)).backward()
    assert isinstance(loss.logit_scale, torch.nn.Parameter)
    assert loss.logit_scale.grad is not None


@pytest.mark.parametrize(
    ("img", "txt", "message"),
    [
        (torch.zeros(4, 8), torch.zeros(4, 6), r"same dimension, got 8 and 6"),
        (
            torch.zeros(4, 8),
            torch.zeros(5, 8),
            r"must be given when scores is not square, got shape \(4, 5\)",
        ),
        (torch.zeros(0, 8), torch.zeros(0, 8), r"image_emb must be non-empty, got shape \(0, 8\)"),
        (
            torch.zeros(8),
            torch.zeros(4, 8),
            r"image_emb must be 2-D \(batch, dim\), got shape \(8,\)",
        ),
        (torch.zeros(4, 8), torch.zeros(4, 8, dtype=torch.float64), r"same dtype"),
    ],
)
@pytest.mark.parametrize("loss", [VSELoss(), WARPLoss(), InfoNCELoss()])
def test_bad_embeddings(
    loss: torch.nn.Module, img: torch.Tensor, txt: torch.Tensor, message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        loss(img, txt)


@pytest.mark.parametrize("loss", [VSELoss(), WARPLoss(), InfoNCELoss()])
def test_nan_embeddings_name_the_row(loss: torch.nn.Module) -> None:
    img, txt = torch.zeros(4, 8), torch.zeros(4, 8)
    txt[2, 5] = float("nan")
    with pytest.raises(InvalidInputError, match=r"text_emb contains NaN or inf at row 2"):
        loss(img, txt)


def test_bad_options() -> None:
    with pytest.raises(InvalidInputError, match=r"warmup_steps: needs max_violation=True"):
        VSELoss(warmup_steps=3)
    with pytest.raises(InvalidInputError, match=r"direction must be one of"):
        VSELoss(direction="sideways")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match=r"temperature: must be finite and > 0, got 0.0"):
        InfoNCELoss(0.0)


def test_import_vislang_stays_torch_free() -> None:
    code = "import sys, vislang; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_loss_on_the_test_device(device: torch.device) -> None:
    img = _emb(12, seed=17).to(device).requires_grad_()
    txt = _emb(12, seed=18).to(device).requires_grad_()
    for loss in (VSELoss(max_violation=True), WARPLoss(seed=1), InfoNCELoss()):
        out = loss(img, txt)
        out.backward()
        assert out.device == device and torch.isfinite(out)
    assert np.isfinite(img.grad.cpu().numpy()).all()  # type: ignore[union-attr]
