"""``contrastive_ranking_embeddings``: the fused product + loss equals the loss of the product."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from vislang.exceptions import InvalidInputError
from vislang.losses import VSELoss
from vislang.losses.functional import contrastive_ranking, contrastive_ranking_embeddings

DIRECTIONS = ("both", "i2t", "t2i")


@st.composite
def embedding_cases(draw: Any) -> dict[str, Any]:
    b = draw(st.integers(1, 9))
    masked = draw(st.booleans())
    c = draw(st.integers(1, 9)) if masked else b
    d = draw(st.integers(1, 6))
    # Small integers over 4: many exact ties among the scores.
    img = torch.tensor(draw(st.lists(st.integers(-4, 4), min_size=b * d, max_size=b * d)))
    txt = torch.tensor(draw(st.lists(st.integers(-4, 4), min_size=c * d, max_size=c * d)))
    positives = None
    if masked:
        bits = draw(st.lists(st.booleans(), min_size=b * c, max_size=b * c))
        positives = torch.tensor(bits).reshape(b, c)
        positives[torch.arange(b), torch.arange(b) % c] = True  # every row has a positive
        positives[torch.arange(c) % b, torch.arange(c)] = True  # every column too
    return {
        "img": (img.reshape(b, d) / 4).double(),
        "txt": (txt.reshape(c, d) / 4).double(),
        "positives": positives,
        "max_violation": draw(st.booleans()),
        "direction": draw(st.sampled_from(DIRECTIONS)),
        "reduction": draw(st.sampled_from(["sum", "mean"])),
    }


def _grads(fn: Any, case: dict[str, Any], **kw: Any) -> tuple[torch.Tensor, ...]:
    img = case["img"].clone().requires_grad_()
    txt = case["txt"].clone().requires_grad_()
    loss = fn(img, txt, **kw)
    loss.backward()
    assert img.grad is not None and txt.grad is not None
    return loss.detach(), img.grad, txt.grad


def _fused(img: torch.Tensor, txt: torch.Tensor, **kw: Any) -> torch.Tensor:
    return contrastive_ranking_embeddings(img, txt, **kw)


def _product(img: torch.Tensor, txt: torch.Tensor, **kw: Any) -> torch.Tensor:
    return contrastive_ranking(img @ txt.t(), **kw)


@pytest.mark.parametrize("backend", ["rust", "torch"])
@given(case=embedding_cases())
def test_fused_loss_and_gradients_equal_the_loss_of_the_product(
    case: dict[str, Any], backend: str
) -> None:
    kw = {
        "positives": case["positives"],
        "margin": 0.25,
        "max_violation": case["max_violation"],
        "direction": case["direction"],
        "reduction": case["reduction"],
        "backend": backend,
    }
    want = _grads(_product, case, **kw)
    got = _grads(_fused, case, **kw)
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("max_violation", [False, True])
def test_gradcheck_float64(max_violation: bool) -> None:
    g = torch.Generator().manual_seed(0)
    img = torch.randn(6, 4, dtype=torch.float64, generator=g, requires_grad=True)
    txt = torch.randn(6, 4, dtype=torch.float64, generator=g, requires_grad=True)
    fn = lambda i, t: contrastive_ranking_embeddings(i, t, None, 0.3, max_violation)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (img, txt), eps=1e-6, atol=1e-5)


def test_only_the_inputs_that_need_a_gradient_get_one() -> None:
    g = torch.Generator().manual_seed(1)
    img = torch.randn(5, 3, generator=g, requires_grad=True)
    txt = torch.randn(5, 3, generator=g)  # frozen, e.g. DeViSE's label embeddings
    contrastive_ranking_embeddings(img, txt).backward()
    want = img.detach().clone().requires_grad_()
    contrastive_ranking(want @ txt.t()).backward()
    assert txt.grad is None and img.grad is not None
    torch.testing.assert_close(img.grad, want.grad)


def test_backward_twice_and_upstream_scaling() -> None:
    g = torch.Generator().manual_seed(2)
    img = torch.randn(7, 5, generator=g, requires_grad=True)
    txt = torch.randn(7, 5, generator=g, requires_grad=True)
    loss = contrastive_ranking_embeddings(img, txt, max_violation=True)
    loss.backward(retain_graph=True)
    assert img.grad is not None and txt.grad is not None
    first = (img.grad.clone(), txt.grad.clone())
    img.grad, txt.grad = None, None
    (3.0 * loss).backward()  # the kernel's gradient is recomputed, then scaled
    torch.testing.assert_close(img.grad, 3.0 * first[0])
    torch.testing.assert_close(txt.grad, 3.0 * first[1])


def test_vse_loss_module_is_the_fused_loss() -> None:
    g = torch.Generator().manual_seed(3)
    img = torch.randn(8, 4, generator=g)
    txt = torch.randn(8, 4, generator=g)
    module = VSELoss(margin=0.1, max_violation=True)
    torch.testing.assert_close(
        module(img, txt), contrastive_ranking(img @ txt.t(), None, 0.1, True)
    )
    torch.testing.assert_close(module.forward_scores(img @ txt.t()), module(img, txt))
    assert int(module.num_steps) == 3


@pytest.mark.parametrize("backend", ["rust", "torch"])
@pytest.mark.parametrize("which", ["image_emb", "text_emb"])
def test_non_finite_embeddings_name_the_tensor_and_row(backend: str, which: str) -> None:
    img, txt = torch.zeros(4, 3), torch.zeros(5, 3)
    (img if which == "image_emb" else txt)[2, 1] = float("nan")
    with pytest.raises(InvalidInputError, match=rf"{which}.*row 2"):
        contrastive_ranking_embeddings(
            img, txt, torch.ones(4, 5, dtype=torch.bool), backend=backend
        )  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("img", "txt", "kwargs", "message"),
    [
        (torch.zeros(3, 2), torch.zeros(3, 4), {}, "same dimension"),
        (torch.zeros(3, 2), torch.zeros(3, 2, dtype=torch.float64), {}, "same dtype"),
        (torch.zeros(3), torch.zeros(3, 2), {}, "2-D"),
        (torch.zeros(0, 2), torch.zeros(0, 2), {}, "non-empty"),
        (torch.zeros(3, 2), torch.zeros(4, 2), {}, "positives: must be given"),
        (torch.zeros(3, 2), torch.zeros(3, 2), {"margin": float("nan")}, "margin"),
        (torch.zeros(3, 2), torch.zeros(3, 2), {"reduction": "max"}, "reduction"),
        (torch.zeros(3, 2), torch.zeros(3, 2), {"positives": torch.zeros(3, 3)}, "bool"),
    ],
)
def test_bad_input(
    img: torch.Tensor, txt: torch.Tensor, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        contrastive_ranking_embeddings(img, txt, **kwargs)


@pytest.mark.parametrize("max_violation", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_sparse_and_dense_backward_agree(
    monkeypatch: pytest.MonkeyPatch, max_violation: bool, masked: bool
) -> None:
    from vislang.losses import _autograd

    g = torch.Generator().manual_seed(5)
    img = torch.randn(40, 16, dtype=torch.float64, generator=g)
    txt = torch.randn(30, 16, dtype=torch.float64, generator=g)
    positives = torch.rand(40, 30, generator=g) < 0.1 if masked else None
    if positives is None:
        txt = txt[:40] if txt.shape[0] >= 40 else torch.cat([txt, txt[:10]])
    else:
        positives[torch.arange(40), torch.arange(40) % 30] = True
        positives[torch.arange(30), torch.arange(30)] = True
    grads = []
    for fraction in (0.0, 1.0):  # never sparse, always sparse
        monkeypatch.setattr(_autograd, "SPARSE_FRACTION", fraction)
        i = img.clone().requires_grad_()
        t = txt.clone().requires_grad_()
        contrastive_ranking_embeddings(i, t, positives, 0.5, max_violation).backward()
        grads.append((i.grad, t.grad))
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-12, atol=1e-12)
    # Hardest negatives only: at most four non-zeros of dS per positive pair.
    assert grads[0][0] is not None and grads[0][0].abs().sum() > 0


def test_fused_embedding_loss_under_cpu_autocast() -> None:
    """AMP on the CPU (bfloat16 autocast) must not hand the Rust kernel bfloat16 scores: the
    fused loss computes its product in float32 and equals the loss without autocast."""
    g = torch.Generator().manual_seed(0)
    img = torch.nn.functional.normalize(torch.randn(6, 5, generator=g), dim=1)
    txt = torch.nn.functional.normalize(torch.randn(6, 5, generator=g), dim=1)
    want = contrastive_ranking_embeddings(img, txt, margin=0.2, max_violation=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = contrastive_ranking_embeddings(img, txt, margin=0.2, max_violation=True)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, want)
