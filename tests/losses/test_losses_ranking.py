"""``contrastive_ranking``: Rust kernel and torch ops against the per-triplet loop oracle."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from loss_reference import ranking_loop
from loss_strategies import RankingCase, ranking_cases

from vislang import _core
from vislang.exceptions import InvalidInputError
from vislang.losses.functional import contrastive_ranking, same_image_mask, warp


def _run(case: RankingCase, backend: str) -> tuple[float, np.ndarray]:
    s = torch.from_numpy(case.scores.copy()).requires_grad_()
    pos = None if case.positives is None else torch.from_numpy(case.positives)
    loss = contrastive_ranking(
        s,
        pos,
        case.margin,
        case.max_violation,
        direction=case.direction,  # type: ignore[arg-type]
        backend=backend,  # type: ignore[arg-type]
    )
    loss.backward()
    assert loss.dtype == s.dtype
    assert s.grad is not None
    return float(loss.detach()), s.grad.numpy()


@pytest.mark.parametrize("backend", ["rust", "torch"])
@given(case=ranking_cases())
def test_forward_and_gradient_equal_the_triplet_loop(case: RankingCase, backend: str) -> None:
    loss, grad = _run(case, backend)
    ref_loss, ref_grad = ranking_loop(
        case.scores, case.positives, case.margin, case.max_violation, case.direction
    )
    # Integer scores and half-integer margins: every hinge and their sums are exact.
    assert loss == ref_loss
    np.testing.assert_array_equal(grad, ref_grad.astype(case.scores.dtype))


def test_hardest_negative_ties_go_to_the_lowest_index() -> None:
    s = torch.tensor([[1.0, 3.0, 3.0, 3.0], [0.0, 0.25, 0.0, 0.0]], requires_grad=True)
    pos = torch.tensor([[True, False, False, False], [False, True, False, False]])
    for backend in ("rust", "torch"):
        s.grad = None
        contrastive_ranking(s, pos, 0.5, True, direction="i2t", backend=backend).backward()  # type: ignore[arg-type]
        assert s.grad is not None
        np.testing.assert_array_equal(s.grad[0].numpy(), [-1.0, 1.0, 0.0, 0.0])
        np.testing.assert_array_equal(s.grad[1].numpy(), [1.0, -1.0, 0.0, 0.0])


def test_rows_chunks_and_columns_across_chunks() -> None:
    # B > CHUNK_ROWS (64): column maxima and counters cross chunks; compare with the loop.
    rng = np.random.default_rng(3)
    S = rng.integers(-3, 4, size=(150, 70)).astype(np.float64)
    P = np.zeros((150, 70), dtype=bool)
    P[np.arange(150), np.arange(150) % 70] = True
    for max_violation in (False, True):
        s = torch.from_numpy(S.copy()).requires_grad_()
        loss = contrastive_ranking(s, torch.from_numpy(P), 1.0, max_violation)
        loss.backward()
        ref_loss, ref_grad = ranking_loop(S, P, 1.0, max_violation)
        assert float(loss.detach()) == ref_loss
        assert s.grad is not None
        np.testing.assert_array_equal(s.grad.numpy(), ref_grad)


@pytest.mark.parametrize("max_violation", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_rust_path_equals_torch_path_on_random_scores(max_violation: bool, masked: bool) -> None:
    g = torch.Generator().manual_seed(0)
    n_img = 40
    if masked:  # 5 captions per image: image i owns texts 5i..5i+4
        scores = torch.randn(n_img, 5 * n_img, generator=g)
        pos = torch.arange(5 * n_img)[None, :] // 5 == torch.arange(n_img)[:, None]
    else:
        scores, pos = torch.randn(130, 130, generator=g), None
    a = scores.clone().requires_grad_()
    b = scores.clone().requires_grad_()
    la = contrastive_ranking(a, pos, 0.2, max_violation, backend="rust")
    lb = contrastive_ranking(b, pos, 0.2, max_violation, backend="torch")
    la.backward()
    lb.backward()
    torch.testing.assert_close(la, lb, rtol=1e-5, atol=1e-5)
    assert a.grad is not None and b.grad is not None
    torch.testing.assert_close(a.grad, b.grad, rtol=0, atol=0)


@pytest.mark.parametrize("max_violation", [False, True])
@pytest.mark.parametrize("backend", ["rust", "torch"])
def test_gradcheck_float64(max_violation: bool, backend: str) -> None:
    g = torch.Generator().manual_seed(1)
    # Well separated values: no hinge within gradcheck's eps of a kink.
    scores = (torch.randperm(48, generator=g).double() / 16.0).reshape(6, 8)
    scores = scores.requires_grad_()
    pos = torch.zeros(6, 8, dtype=torch.bool)
    pos[torch.arange(6), torch.arange(6)] = True
    pos[0, 7] = pos[1, 6] = True

    def f(s: torch.Tensor) -> torch.Tensor:
        return contrastive_ranking(s, pos, 0.7, max_violation, backend=backend)  # type: ignore[arg-type]

    assert torch.autograd.gradcheck(f, (scores,), eps=1e-6, atol=1e-6)


# 300 x 300 runs on the calling thread, 400 x 400 on the pool (2**17 entries between them).
@pytest.mark.parametrize("n", [300, 400])
def test_result_does_not_depend_on_the_thread_count(n: int) -> None:
    rng = np.random.default_rng(5)
    S = rng.normal(size=(n, n)).astype(np.float32)
    P = rng.random((n, n)) < 0.01
    np.fill_diagonal(P, True)
    for mask in (None, P):
        for mv in (False, True):
            a = _core.contrastive_ranking(S, mask, max_violation=mv, n_threads=1)
            for threads in (2, 3, None):
                b = _core.contrastive_ranking(S, mask, max_violation=mv, n_threads=threads)
                assert a[0] == b[0]
                np.testing.assert_array_equal(a[1], b[1])
        w1 = _core.warp(S, mask, direction="both", seed=3, n_threads=1)
        w3 = _core.warp(S, mask, direction="both", seed=3, n_threads=3)
        assert w1[0] == w3[0]
        np.testing.assert_array_equal(w1[1], w3[1])


def _thread_count() -> int:
    return len(os.listdir("/proc/self/task"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs Linux /proc")
def test_small_score_matrices_start_no_threads() -> None:
    # A pool size no other test uses: a pool of it would add 5 threads on first use.
    small = np.zeros((100, 100), dtype=np.float32)
    before = _thread_count()
    for mv in (False, True):
        _core.contrastive_ranking(small, max_violation=mv, n_threads=5)
    _core.warp(small, n_threads=5)
    assert _thread_count() == before
    _core.contrastive_ranking(np.zeros((400, 400), dtype=np.float32), n_threads=5)
    assert _thread_count() == before + 5


def test_mask_keeps_other_captions_of_the_same_image_out_of_the_negatives() -> None:
    # Two images, two captions each; image 0's second caption scores high for image 0.
    scores = torch.tensor([[0.9, 0.85, 0.1, 0.0], [0.2, 0.1, 0.8, 0.7]])
    same_image = torch.tensor([[True, True, False, False], [False, False, True, True]])
    loss = contrastive_ranking(scores, same_image, 0.2, direction="i2t")
    ref, _ = ranking_loop(scores.numpy(), same_image.numpy(), 0.2, False, "i2t")
    assert float(loss.detach()) == pytest.approx(ref)
    assert float(loss.detach()) == pytest.approx(0.0)
    # Treating only one caption per image as positive (vsepp) penalises the true caption.
    one_caption = torch.tensor([[True, False, False, False], [False, False, True, False]])
    assert float(contrastive_ranking(scores, one_caption, 0.2, direction="i2t").detach()) > 0.1


def test_reduction_mean_divides_by_the_positive_pairs() -> None:
    s = torch.randn(10, 10, generator=torch.Generator().manual_seed(2))
    total = contrastive_ranking(s)
    torch.testing.assert_close(contrastive_ranking(s, reduction="mean"), total / 10)


def test_non_contiguous_scores_are_copied() -> None:
    s = torch.randn(12, 9, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    pos = torch.zeros(9, 12, dtype=torch.bool)
    pos[torch.arange(9), torch.arange(9)] = True
    t = s.t().requires_grad_()  # (9, 12) view, not C-contiguous
    contrastive_ranking(t, pos, direction="i2t", backend="rust").backward()
    _, ref_grad = ranking_loop(s.t().numpy(), pos.numpy(), 0.2, False, "i2t")
    assert t.grad is not None
    np.testing.assert_array_equal(t.grad.numpy(), ref_grad)


def test_backward_scales_by_the_upstream_gradient() -> None:
    s = torch.randn(7, 7, generator=torch.Generator().manual_seed(6)).requires_grad_()
    (3.0 * contrastive_ranking(s)).backward()
    _, ref_grad = ranking_loop(s.detach().numpy(), None, 0.2, False)
    assert s.grad is not None
    np.testing.assert_array_equal(s.grad.numpy(), 3.0 * ref_grad.astype(np.float32))


@pytest.mark.parametrize("max_violation", [False, True])
def test_cuda_or_test_device_path_matches_the_rust_kernel(
    device: torch.device, max_violation: bool
) -> None:
    g = torch.Generator().manual_seed(7)
    scores = torch.randn(64, 320, generator=g)
    pos = torch.arange(320)[None, :] // 5 == torch.arange(64)[:, None]
    a = scores.clone().requires_grad_()
    b = scores.to(device).requires_grad_()
    la = contrastive_ranking(a, pos, 0.2, max_violation)
    lb = contrastive_ranking(b, pos.to(device), 0.2, max_violation)
    la.backward()
    lb.backward()
    torch.testing.assert_close(la, lb.cpu(), rtol=1e-5, atol=1e-4)
    assert a.grad is not None and b.grad is not None
    torch.testing.assert_close(a.grad, b.grad.cpu(), rtol=0, atol=0)


# ------------------------------------------------------------------------------ bad input
BACKENDS = ["rust", "torch"]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_scores_name_the_row(backend: str, bad: float) -> None:
    s = torch.zeros(5, 5)
    s[3, 1] = bad
    with pytest.raises(InvalidInputError, match=r"scores contains NaN or inf at row 3"):
        contrastive_ranking(s, backend=backend)  # type: ignore[arg-type]


@pytest.mark.parametrize("backend", BACKENDS)
def test_missing_positives_for_non_square_scores(backend: str) -> None:
    with pytest.raises(
        InvalidInputError,
        match=r"positives: must be given when scores is not square, got shape \(4, 5\)",
    ):
        contrastive_ranking(torch.zeros(4, 5), backend=backend)  # type: ignore[arg-type]


@pytest.mark.parametrize("backend", BACKENDS)
def test_positives_of_the_wrong_shape(backend: str) -> None:
    with pytest.raises(
        InvalidInputError, match=r"positives must have shape \(4, 4\) like scores, got \(4, 3\)"
    ):
        contrastive_ranking(torch.zeros(4, 4), torch.ones(4, 3, dtype=torch.bool), backend=backend)  # type: ignore[arg-type]


@pytest.mark.parametrize("backend", BACKENDS)
def test_query_without_positive(backend: str) -> None:
    pos = torch.eye(4, dtype=torch.bool)
    pos[2, 2] = False
    with pytest.raises(InvalidInputError, match=r"positives: row 2 has no positive"):
        contrastive_ranking(torch.zeros(4, 4), pos, backend=backend)  # type: ignore[arg-type]
    pos[2, 3] = True
    with pytest.raises(InvalidInputError, match=r"positives: column 2 has no positive"):
        contrastive_ranking(torch.zeros(4, 4), pos, backend=backend)  # type: ignore[arg-type]
    # Image -> text only: a text without an image is just another negative.
    contrastive_ranking(torch.zeros(4, 4), pos, direction="i2t", backend=backend)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("scores", "kwargs", "message"),
    [
        (torch.zeros(0, 3), {}, r"scores must be non-empty, got shape \(0, 3\)"),
        (torch.zeros(3), {}, r"scores must be 2-D \(n_images, n_texts\), got shape \(3,\)"),
        (torch.zeros(3, 3, dtype=torch.long), {}, r"scores must be a floating-point tensor"),
        (torch.zeros(3, 3), {"direction": "up"}, r"direction must be one of 'both', 'i2t', 't2i'"),
        (torch.zeros(3, 3), {"margin": float("nan")}, r"margin: must be finite, got nan"),
        (torch.zeros(3, 3), {"reduction": "avg"}, r"reduction must be one of 'sum', 'mean'"),
        (torch.zeros(3, 3), {"backend": "cuda"}, r"backend must be one of 'auto', 'rust', 'torch'"),
        (torch.zeros(3, 3), {"n_jobs": 0}, r"n_jobs must be None, -1 or a positive int"),
        (torch.zeros(3, 3), {"margin": float("inf")}, r"margin: must be finite, got inf"),
        (
            torch.zeros(3, 3, dtype=torch.float16),
            {"backend": "rust"},
            r"backend='rust' needs float32",
        ),
    ],
)
def test_bad_arguments(scores: torch.Tensor, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        contrastive_ranking(scores, **kwargs)


def test_core_checks_its_own_inputs() -> None:
    s = np.zeros((3, 3), dtype=np.float32)
    with pytest.raises(InvalidInputError, match=r"direction must be 'both', 'i2t' or 't2i'"):
        _core.contrastive_ranking(s, direction="x")
    with pytest.raises(InvalidInputError, match=r"scores must be C-contiguous"):
        _core.contrastive_ranking(np.zeros((3, 6), dtype=np.float32)[:, ::2])
    with pytest.raises(InvalidInputError, match=r"positives must have shape \(3, 3\)"):
        _core.contrastive_ranking(s, np.ones((3, 2), dtype=bool))
    with pytest.raises(InvalidInputError, match=r"margin: must be finite, got inf"):
        _core.contrastive_ranking(s, margin=float("inf"))
    with pytest.raises(InvalidInputError, match=r"n_threads must be >= 1, got 0"):
        _core.contrastive_ranking(s, n_threads=0)


def test_half_precision_runs_the_torch_path() -> None:
    s = torch.randn(6, 6, generator=torch.Generator().manual_seed(8)).to(torch.bfloat16)
    ref = contrastive_ranking(s.float())
    out = contrastive_ranking(s)
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), ref, rtol=0.05, atol=0.05)


@given(n=st.integers(1, 3))
def test_single_item_batches(n: int) -> None:
    s = torch.zeros(n, n, requires_grad=True)
    loss = contrastive_ranking(s, margin=0.5)
    loss.backward()
    assert float(loss.detach()) == pytest.approx(2 * 0.5 * n * (n - 1))


def test_same_image_mask_marks_repeated_images_as_positives() -> None:
    ids = torch.tensor([4, 9, 4, 2])
    mask = same_image_mask(ids)
    assert mask.tolist() == [
        [True, False, True, False],
        [False, True, False, False],
        [True, False, True, False],
        [False, False, False, True],
    ]
    five = same_image_mask(torch.arange(2), torch.tensor([0, 0, 1, 1, 1]))
    assert five.shape == (2, 5) and five.sum() == 5
    with pytest.raises(InvalidInputError, match=r"image_ids must be a 1-D integer tensor"):
        same_image_mask(torch.zeros(3))


@pytest.mark.parametrize("kernel", ["ranking", "warp"])
def test_backward_twice_with_retain_graph_recomputes_the_same_gradient(kernel: str) -> None:
    s = torch.randn(70, 70, generator=torch.Generator().manual_seed(9)).requires_grad_()
    loss = contrastive_ranking(s, max_violation=True) if kernel == "ranking" else warp(s, seed=3)
    first = torch.autograd.grad(loss, s, retain_graph=True)[0]
    second = torch.autograd.grad(loss, s)[0]
    torch.testing.assert_close(first, second, rtol=0, atol=0)
    assert first.abs().sum() > 0


@pytest.mark.parametrize("max_violation", [False, True])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_unmasked_fast_path_equals_the_general_path(
    max_violation: bool, dtype: torch.dtype
) -> None:
    # No mask (the fast path) vs the same diagonal as an explicit mask (the checked path).
    g = torch.Generator().manual_seed(4)
    base = (torch.randint(0, 8, (130, 130), generator=g) / 8.0).to(dtype)  # many ties
    eye = torch.eye(130, dtype=torch.bool)
    for direction in ("both", "i2t", "t2i"):
        a = base.clone().requires_grad_()
        b = base.clone().requires_grad_()
        la = contrastive_ranking(a, None, 0.2, max_violation, direction=direction)  # type: ignore[arg-type]
        lb = contrastive_ranking(b, eye, 0.2, max_violation, direction=direction)  # type: ignore[arg-type]
        assert la.dtype == dtype and la.shape == ()
        torch.testing.assert_close(la, lb, rtol=1e-6, atol=1e-6)
        (2.0 * la).backward()
        (2.0 * lb).backward()
        assert a.grad is not None and b.grad is not None
        torch.testing.assert_close(a.grad, b.grad)
