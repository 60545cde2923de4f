"""packed_gru / packed_lstm against torch.nn.GRU / nn.LSTM: outputs, final states and every
gradient."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from vislang.exceptions import InvalidInputError
from vislang.models import RNNTextEncoder, TextEncoderConfig, Vocabulary, create_text_encoder
from vislang.models.packed_rnn import packed_gru, packed_lstm, run_rnn, use_packed_rnn


def _both(
    rnn: nn.GRU | nn.LSTM, x: torch.Tensor, lengths: torch.Tensor, state: list[torch.Tensor]
) -> list[tuple[torch.Tensor, ...]]:
    """(outputs, final states, grads of x, the initial states and every parameter) from the
    torch module and from packed_gru / packed_lstm; ``state``: [] (zeros), [h0] or [h0, c0]."""
    lstm = isinstance(rnn, nn.LSTM)
    ours = packed_lstm if lstm else packed_gru
    torch.manual_seed(1)
    weights: list[torch.Tensor] = []
    results = []
    for run in (rnn, lambda p, s: ours(rnn, p, s)):  # type: ignore[operator]
        xs = x.detach().clone().requires_grad_(True)
        s0 = [t.detach().clone().requires_grad_(True) for t in state]
        packed = pack_padded_sequence(xs, lengths, batch_first=True, enforce_sorted=False)
        hx = (tuple(s0) if lstm else s0[0]) if s0 else None
        out, final = run(packed, hx)
        finals = list(final) if lstm else [final]
        if not weights:
            weights = [torch.randn_like(t) for t in [out.data, *finals]]
        loss = sum((t * w).sum() for t, w in zip([out.data, *finals], weights, strict=True))
        grads = torch.autograd.grad(loss, [xs, *s0, *rnn.parameters()])
        results.append((out.data, *finals, *grads))
    return results


@settings(max_examples=40, deadline=None)
@given(
    lstm=st.booleans(),
    batch=st.integers(1, 6),
    steps=st.integers(1, 5),
    input_size=st.integers(1, 5),
    hidden=st.integers(1, 6),
    layers=st.integers(1, 2),
    bidirectional=st.booleans(),
    bias=st.booleans(),
    with_state=st.booleans(),
    data=st.data(),
)
def test_packed_rnn_equals_torch(
    lstm: bool,
    batch: int,
    steps: int,
    input_size: int,
    hidden: int,
    layers: int,
    bidirectional: bool,
    bias: bool,
    with_state: bool,
    data: Any,
) -> None:
    torch.manual_seed(0)
    kind = nn.LSTM if lstm else nn.GRU
    rnn = kind(
        input_size, hidden, layers, bias=bias, batch_first=True, bidirectional=bidirectional
    ).double()
    drawn = data.draw(st.lists(st.integers(1, steps), min_size=batch, max_size=batch))
    lengths = torch.tensor(drawn)
    x = torch.randn(batch, int(lengths.max()), input_size, dtype=torch.double)
    shape = (layers * (2 if bidirectional else 1), batch, hidden)
    state = [torch.randn(shape, dtype=torch.double) for _ in range(2 if lstm else 1)]
    reference, ours = _both(rnn, x, lengths, state if with_state else [])
    for a, b in zip(reference, ours, strict=True):
        torch.testing.assert_close(b, a, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", [nn.GRU, nn.LSTM])
@pytest.mark.parametrize("lengths", [[4, 4, 4], [1, 1], [7, 1, 3, 3, 2]])
def test_packed_rnn_float32_ties_and_extremes(kind: type, lengths: list[int]) -> None:
    """Equal lengths, length-1 sequences, and saturated gates (inputs scaled by 50)."""
    torch.manual_seed(0)
    rnn = kind(3, 5, batch_first=True, bidirectional=True)
    x = 50 * torch.randn(len(lengths), max(lengths), 3)
    reference, ours = _both(rnn, x, torch.tensor(lengths), [])
    for a, b in zip(reference, ours, strict=True):
        assert torch.isfinite(b).all()
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-5)


def test_run_rnn_picks_the_packed_path_only_where_it_helps() -> None:
    gru, lstm = nn.GRU(3, 4), nn.LSTM(3, 4)
    x = torch.zeros(2, 3)
    assert use_packed_rnn(gru, x) and use_packed_rnn(lstm, x)
    assert not use_packed_rnn(nn.RNN(3, 4), x)
    assert not use_packed_rnn(nn.LSTM(3, 4, proj_size=2), x)
    assert not use_packed_rnn(gru, x.double())  # dtype differs from the weights
    with torch.no_grad():
        assert not use_packed_rnn(gru, x)  # inference: no backward pass to speed up
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert not use_packed_rnn(lstm, x)
    packed = pack_padded_sequence(torch.randn(2, 3, 3), torch.tensor([3, 2]), batch_first=True)
    _, (h, c) = run_rnn(lstm, packed)
    assert h.shape == c.shape == (1, 2, 4)
    _, h = run_rnn(nn.RNN(3, 4), packed)  # not a GRU or LSTM: the module itself
    assert h.shape == (1, 2, 4)


def test_packed_rnn_refuses_what_it_does_not_implement() -> None:
    packed = pack_padded_sequence(torch.randn(2, 3, 3), torch.tensor([3, 2]), batch_first=True)
    with pytest.raises(NotImplementedError, match="dropout"):
        packed_gru(nn.GRU(3, 4, num_layers=2, dropout=0.5), packed)
    with pytest.raises(NotImplementedError, match="proj_size"):
        packed_lstm(nn.LSTM(3, 4, proj_size=2), packed)


def test_packed_rnn_rejects_bad_input() -> None:
    packed = pack_padded_sequence(torch.randn(2, 3, 3), torch.tensor([3, 2]), batch_first=True)
    with pytest.raises(InvalidInputError, match="inputs of size 5"):
        packed_gru(nn.GRU(5, 4), packed)
    with pytest.raises(InvalidInputError, match=r"initial state of shape \(1, 2, 4\)"):
        packed_gru(nn.GRU(3, 4), packed, torch.zeros(1, 3, 4))
    with pytest.raises(InvalidInputError, match=r"initial state of shape \(2, 2, 4\)"):
        bad_c0 = (torch.zeros(2, 2, 4), torch.zeros(1, 2, 4))  # c0 of one direction only
        packed_lstm(nn.LSTM(3, 4, bidirectional=True), packed, bad_c0)
    with pytest.raises(InvalidInputError, match="PackedSequence"):
        packed_gru(nn.GRU(3, 4), torch.zeros(2, 3, 3))  # type: ignore[arg-type]


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
