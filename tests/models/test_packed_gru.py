"""packed_gru against torch.nn.GRU: outputs, final states and every gradient."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from vislang.models import RNNTextEncoder, TextEncoderConfig, Vocabulary, create_text_encoder
from vislang.models.packed_gru import packed_gru, run_rnn, use_packed_gru


def _both(
    gru: nn.GRU, x: torch.Tensor, lengths: torch.Tensor, h0: torch.Tensor | None
) -> list[tuple[torch.Tensor, ...]]:
    """(outputs, h_n, grads of x, h0 and every parameter) from nn.GRU and from packed_gru."""
    torch.manual_seed(1)
    w_out = w_h = None
    results = []
    for run in (gru, lambda p, h: packed_gru(gru, p, h)):
        xs = x.detach().clone().requires_grad_(True)
        hs = None if h0 is None else h0.detach().clone().requires_grad_(True)
        packed = pack_padded_sequence(xs, lengths, batch_first=True, enforce_sorted=False)
        out, h_n = run(packed, hs)
        if w_out is None:
            w_out, w_h = torch.randn_like(out.data), torch.randn_like(h_n)
        assert w_h is not None
        loss = (out.data * w_out).sum() + (h_n * w_h).sum()
        inputs = [xs] + ([] if hs is None else [hs]) + list(gru.parameters())
        grads = torch.autograd.grad(loss, inputs)
        results.append((out.data, h_n, *grads))
    return results


@settings(max_examples=40, deadline=None)
@given(
    batch=st.integers(1, 6),
    steps=st.integers(1, 5),
    input_size=st.integers(1, 5),
    hidden=st.integers(1, 6),
    layers=st.integers(1, 2),
    bidirectional=st.booleans(),
    bias=st.booleans(),
    with_h0=st.booleans(),
    data=st.data(),
)
def test_packed_gru_equals_nn_gru(
    batch: int,
    steps: int,
    input_size: int,
    hidden: int,
    layers: int,
    bidirectional: bool,
    bias: bool,
    with_h0: bool,
    data: Any,
) -> None:
    torch.manual_seed(0)
    gru = nn.GRU(
        input_size, hidden, layers, bias=bias, batch_first=True, bidirectional=bidirectional
    ).double()
    drawn = data.draw(st.lists(st.integers(1, steps), min_size=batch, max_size=batch))
    lengths = torch.tensor(drawn)
    x = torch.randn(batch, int(lengths.max()), input_size, dtype=torch.double)
    dirs = 2 if bidirectional else 1
    h0 = torch.randn(layers * dirs, batch, hidden, dtype=torch.double) if with_h0 else None
    reference, ours = _both(gru, x, lengths, h0)
    for a, b in zip(reference, ours, strict=True):
        torch.testing.assert_close(b, a, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("lengths", [[4, 4, 4], [1, 1], [7, 1, 3, 3, 2]])
def test_packed_gru_float32_ties_and_extremes(lengths: list[int]) -> None:
    """Equal lengths, length-1 sequences, and saturated gates (inputs scaled by 50)."""
    torch.manual_seed(0)
    gru = nn.GRU(3, 5, batch_first=True, bidirectional=True)
    x = 50 * torch.randn(len(lengths), max(lengths), 3)
    reference, ours = _both(gru, x, torch.tensor(lengths), None)
    for a, b in zip(reference, ours, strict=True):
        assert torch.isfinite(b).all()
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-5)


def test_run_rnn_picks_packed_gru_only_where_it_helps() -> None:
    gru, lstm = nn.GRU(3, 4), nn.LSTM(3, 4)
    x = torch.zeros(2, 3)
    assert use_packed_gru(gru, x)
    assert not use_packed_gru(lstm, x)
    assert not use_packed_gru(gru, x.double())  # dtype differs from the weights
    with torch.no_grad():
        assert not use_packed_gru(gru, x)  # inference: nn.GRU's forward is as fast
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert not use_packed_gru(gru, x)
    packed = pack_padded_sequence(torch.randn(2, 3, 3), torch.tensor([3, 2]), batch_first=True)
    _, (h, c) = run_rnn(lstm, packed)  # not a GRU: the module itself
    assert h.shape == c.shape == (1, 2, 4)


def test_packed_gru_refuses_what_it_does_not_implement() -> None:
    packed = pack_padded_sequence(torch.randn(2, 3, 3), torch.tensor([3, 2]), batch_first=True)
    with pytest.raises(NotImplementedError, match="dropout"):
        packed_gru(nn.GRU(3, 4, num_layers=2, dropout=0.5), packed)


def test_text_encoder_trains_the_same_through_packed_gru() -> None:
    """The GRU text encoder's gradients through packed_gru equal nn.GRU's; the state dict
    keeps nn.GRU's keys (old checkpoints load)."""
    vocab = Vocabulary.build(["a red circle left of a blue square", "a big green triangle"])
    torch.manual_seed(0)
    enc = create_text_encoder(vocab, TextEncoderConfig("gru", 6, 5))
    assert isinstance(enc, RNNTextEncoder)
    ids, lengths = (torch.from_numpy(a) for a in vocab.encode(["a red circle", "a big square"]))
    grads = []
    for fast in (True, False):
        enc.zero_grad()
        if fast:
            enc(ids, lengths).square().sum().backward()
        else:
            packed = pack_padded_sequence(
                enc.embed(ids), lengths, batch_first=True, enforce_sorted=False
            )
            enc.rnn(packed)[1][-1].square().sum().backward()
        grads.append([p.grad.clone() for p in enc.parameters() if p.grad is not None])
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    assert "rnn.weight_hh_l0" in enc.state_dict()
