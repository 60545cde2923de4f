"""GRU and LSTM over packed sequences whose backward pass forms each weight gradient in one
product.

``torch.nn.GRU`` / ``nn.LSTM`` on the CPU differentiate their recurrence one time step at a
time through autograd: every step writes a full (3H or 4H, H) gradient of the recurrent
weights and adds it to the running sum, and every step of a packed sequence projects its
inputs separately. Those T full-size writes and adds do not shrink with the batch, so they
dominate small per-process batches (data-parallel ranks). Here, as cuDNN does on the GPU:

* the input projection of every token is one matrix product (autograd's own ``linear``);
* the recurrence is one autograd node; its backward pass keeps the gate gradients of all
  steps and forms ``dW_hh`` as one (gates x N) x (N x H) product, N the number of tokens.

The parameters are the torch modules' own (same names, shapes and gate orders: r, z, n with
``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))`` for the GRU; i, f, g, o for the LSTM), so
checkpoints are unchanged, and :func:`packed_gru` / :func:`packed_lstm` give the modules'
outputs to float tolerance (tested against them, with every gradient). :func:`run_rnn` picks
them where they pay: training on the CPU.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.autograd.function import once_differentiable
from torch.nn.utils.rnn import PackedSequence

from vislang.exceptions import InvalidInputError
from vislang.losses._autograd import _autocast_on

__all__ = ["packed_gru", "packed_lstm", "run_rnn", "use_packed_rnn"]


def _steps(batch_sizes: Tensor) -> list[tuple[int, int]]:
    """(first row, rows) of each time step in a packed layout."""
    sizes = [int(b) for b in batch_sizes]
    starts = [0]
    for b in sizes[:-1]:
        starts.append(starts[-1] + b)
    return list(zip(starts, sizes, strict=True))


class _GRURecurrence(torch.autograd.Function):
    """h_t = GRU(gi_t, h_{t-1}) over a packed layout; ``gi`` holds W_ih x + b_ih per token."""

    @staticmethod
    def forward(
        ctx: Any,
        gi: Tensor,
        w_hh: Tensor,
        b_hh: Tensor,
        h0: Tensor,
        steps: list[tuple[int, int]],
        reverse: bool,
    ) -> Tensor:
        n_tok, hidden = gi.shape[0], w_hh.shape[1]
        out = gi.new_empty(n_tok, hidden)
        prev = gi.new_empty(n_tok, hidden)  # h_{t-1} of each token
        rz = gi.new_empty(n_tok, 2 * hidden)
        cand = gi.new_empty(n_tok, hidden)  # n
        gh_n = gi.new_empty(n_tok, hidden)  # W_hn h + b_hn
        h = h0.clone()
        w_t = w_hh.t()
        for start, b in reversed(steps) if reverse else steps:
            rows = slice(start, start + b)
            hp = h[:b]
            prev[rows] = hp
            gh = torch.addmm(b_hh, hp, w_t)  # (b, 3H)
            g = gi[rows]
            torch.sigmoid(torch.add(g[:, : 2 * hidden], gh[:, : 2 * hidden]), out=rz[rows])
            r, z = rz[rows, :hidden], rz[rows, hidden:]
            gh_n[rows] = gh[:, 2 * hidden :]
            n = torch.tanh(torch.addcmul(g[:, 2 * hidden :], r, gh_n[rows]), out=cand[rows])
            hn = torch.addcmul(n, z, hp - n, out=out[rows])  # (1 - z) n + z h
            h[:b] = hn
        ctx.save_for_backward(w_hh, prev, rz, cand, gh_n)
        ctx.steps, ctx.reverse, ctx.batch = steps, reverse, h0.shape[0]
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, d_out: Tensor) -> tuple[Tensor | None, ...]:
        w_hh, prev, rz, cand, gh_n = ctx.saved_tensors
        hidden = w_hh.shape[1]
        d_gi = d_out.new_empty(d_out.shape[0], 3 * hidden)  # gate pre-activation gradients
        d_gh = d_out.new_empty(d_out.shape[0], 3 * hidden)  # the same for W_hh h + b_hh
        dh = d_out.new_zeros(ctx.batch, hidden)
        for start, b in ctx.steps if ctx.reverse else reversed(ctx.steps):
            rows = slice(start, start + b)
            g = dh[:b] + d_out[rows]
            r, z = rz[rows, :hidden], rz[rows, hidden:]
            n, hp = cand[rows], prev[rows]
            d_n = (g - g * z) * (1 - n * n)  # through tanh
            d_gi[rows, 2 * hidden :] = d_n
            d_gh[rows, 2 * hidden :] = d_n * r
            d_rz = d_gi[rows, : 2 * hidden]
            torch.cat((d_n * gh_n[rows], g * (hp - n)), 1, out=d_rz)
            d_rz.mul_(rz[rows] * (1 - rz[rows]))  # through the sigmoids
            d_gh[rows, : 2 * hidden] = d_rz
            dh[:b] = torch.addmm(g * z, d_gh[rows], w_hh)
        d_w = d_gh.t() @ prev if ctx.needs_input_grad[1] else None
        d_b = d_gh.sum(0) if ctx.needs_input_grad[2] else None
        return d_gi, d_w, d_b, dh if ctx.needs_input_grad[3] else None, None, None


class _LSTMRecurrence(torch.autograd.Function):
    """(h_t, c_t) = LSTM(gi_t, h_{t-1}, c_{t-1}) over a packed layout; ``gi`` holds
    W_ih x + b_ih per token. Returns every step's h and c."""

    @staticmethod
    def forward(
        ctx: Any,
        gi: Tensor,
        w_hh: Tensor,
        b_hh: Tensor,
        h0: Tensor,
        c0: Tensor,
        steps: list[tuple[int, int]],
        reverse: bool,
    ) -> tuple[Tensor, Tensor]:
        n_tok, hidden = gi.shape[0], w_hh.shape[1]
        out = gi.new_empty(n_tok, hidden)
        cells = gi.new_empty(n_tok, hidden)
        prev_h = gi.new_empty(n_tok, hidden)
        prev_c = gi.new_empty(n_tok, hidden)
        gates = gi.new_empty(n_tok, 4 * hidden)  # i, f, g, o after their activations
        h, c = h0.clone(), c0.clone()
        w_t = w_hh.t()
        for start, b in reversed(steps) if reverse else steps:
            rows = slice(start, start + b)
            hp, cp = h[:b], c[:b]
            prev_h[rows], prev_c[rows] = hp, cp
            pre = torch.addmm(b_hh, hp, w_t).add_(gi[rows])  # (b, 4H)
            act = torch.sigmoid(pre, out=gates[rows])
            act[:, 2 * hidden : 3 * hidden] = torch.tanh(pre[:, 2 * hidden : 3 * hidden])
            i, f, g, o = act.chunk(4, 1)
            cn = torch.addcmul(f * cp, i, g, out=cells[rows])
            hn = torch.mul(o, torch.tanh(cn), out=out[rows])
            h[:b], c[:b] = hn, cn
        ctx.save_for_backward(w_hh, prev_h, prev_c, gates, cells)
        ctx.steps, ctx.reverse, ctx.batch = steps, reverse, h0.shape[0]
        return out, cells

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, d_out: Tensor, d_cells: Tensor) -> tuple[Tensor | None, ...]:
        w_hh, prev_h, prev_c, gates, cells = ctx.saved_tensors
        hidden = w_hh.shape[1]
        d_pre = d_out.new_empty(d_out.shape[0], 4 * hidden)  # gate pre-activation gradients
        dh = d_out.new_zeros(ctx.batch, hidden)
        dc = d_out.new_zeros(ctx.batch, hidden)
        for start, b in ctx.steps if ctx.reverse else reversed(ctx.steps):
            rows = slice(start, start + b)
            gh = dh[:b] + d_out[rows]
            i, f, g, o = gates[rows].chunk(4, 1)
            tc = torch.tanh(cells[rows])
            gc = dc[:b] + d_cells[rows] + gh * o * (1 - tc * tc)
            d = d_pre[rows]
            d[:, :hidden] = gc * g * i * (1 - i)
            d[:, hidden : 2 * hidden] = gc * prev_c[rows] * f * (1 - f)
            d[:, 2 * hidden : 3 * hidden] = gc * i * (1 - g * g)
            d[:, 3 * hidden :] = gh * tc * o * (1 - o)
            dc[:b] = gc * f
            dh[:b] = d @ w_hh
        d_w = d_pre.t() @ prev_h if ctx.needs_input_grad[1] else None
        d_b = d_pre.sum(0) if ctx.needs_input_grad[2] else None
        d_h0 = dh if ctx.needs_input_grad[3] else None
        d_c0 = dc if ctx.needs_input_grad[4] else None
        return d_pre, d_w, d_b, d_h0, d_c0, None, None


def _last_rows(batch_sizes: Tensor, device: torch.device) -> Tensor:
    """Packed row of each sequence's last step (sequences in packed order)."""
    rows = torch.arange(int(batch_sizes[0]))
    lengths = (batch_sizes[None, :] > rows[:, None]).sum(1)  # (B,)
    starts = torch.cumsum(batch_sizes, 0) - batch_sizes  # first row of each step
    return (starts[lengths - 1] + rows).to(device)


def _packed(
    rnn: nn.GRU | nn.LSTM, packed: PackedSequence, state: list[Tensor | None]
) -> tuple[PackedSequence, list[Tensor]]:
    """Run ``rnn`` (a GRU: state [h0]; an LSTM: [h0, c0]) over ``packed``; the final states."""
    name = type(rnn).__name__
    if rnn.dropout and rnn.training and rnn.num_layers > 1:
        raise NotImplementedError(f"packed {name}: dropout between layers is not supported")
    if getattr(rnn, "proj_size", 0):
        raise NotImplementedError(f"packed {name}: proj_size is not supported")
    if not isinstance(packed, PackedSequence):
        raise InvalidInputError(f"packed {name}: expected a PackedSequence, got {type(packed)}")
    lstm = isinstance(rnn, nn.LSTM)
    data, batch_sizes = packed.data, packed.batch_sizes
    if data.ndim != 2 or data.shape[1] != rnn.input_size:
        raise InvalidInputError(
            f"packed {name}: inputs of size {rnn.input_size} expected, got packed data of "
            f"shape {tuple(data.shape)}"
        )
    batch, hidden = int(batch_sizes[0]), rnn.hidden_size
    dirs = 2 if rnn.bidirectional else 1
    steps = _steps(batch_sizes)
    initial = []
    for s0 in state:
        want = (rnn.num_layers * dirs, batch, hidden)
        if s0 is None:
            s0 = data.new_zeros(want)
        elif tuple(s0.shape) != want:
            raise InvalidInputError(
                f"packed {name}: initial state of shape {want} expected, got {tuple(s0.shape)}"
            )
        elif packed.sorted_indices is not None:
            s0 = s0.index_select(1, packed.sorted_indices)
        initial.append(s0)
    last = _last_rows(batch_sizes, data.device)
    finals: list[list[Tensor]] = [[] for _ in state]
    x = data
    for layer in range(rnn.num_layers):
        outs = []
        for d in range(dirs):
            k, sfx = layer * dirs + d, f"_l{layer}" + ("_reverse" if d else "")
            w_ih, w_hh = getattr(rnn, "weight_ih" + sfx), getattr(rnn, "weight_hh" + sfx)
            if rnn.bias:
                b_ih, b_hh = getattr(rnn, "bias_ih" + sfx), getattr(rnn, "bias_hh" + sfx)
            else:
                b_ih = b_hh = data.new_zeros(w_hh.shape[0])
            gi = nn.functional.linear(x, w_ih, b_ih)  # every token's input projection at once
            per_token: tuple[Tensor, ...]
            if lstm:
                per_token = _LSTMRecurrence.apply(
                    gi, w_hh, b_hh, initial[0][k], initial[1][k], steps, bool(d)
                )
            else:
                per_token = (_GRURecurrence.apply(gi, w_hh, b_hh, initial[0][k], steps, bool(d)),)
            for fin, t in zip(finals, per_token, strict=True):
                # forward: each sequence's last step; reverse: the first step, rows [0, B)
                fin.append(t.index_select(0, last) if d == 0 else t[:batch])
            outs.append(per_token[0])
        x = outs[0] if dirs == 1 else torch.cat(outs, 1)
    states = [torch.stack(fin) for fin in finals]
    if packed.unsorted_indices is not None:
        states = [s.index_select(1, packed.unsorted_indices) for s in states]
    return PackedSequence(x, batch_sizes, packed.sorted_indices, packed.unsorted_indices), states


def packed_gru(
    gru: nn.GRU, packed: PackedSequence, h0: Tensor | None = None
) -> tuple[PackedSequence, Tensor]:
    """``gru(packed, h0)`` with the one-product weight gradients (see the module docstring).

    Supports ``num_layers``, ``bidirectional`` and ``bias``; ``dropout`` between layers is
    not used by vislang's encoders and is refused.
    """
    out, (h_n,) = _packed(gru, packed, [h0])
    return out, h_n


def packed_lstm(
    lstm: nn.LSTM, packed: PackedSequence, hx: tuple[Tensor, Tensor] | None = None
) -> tuple[PackedSequence, tuple[Tensor, Tensor]]:
    """``lstm(packed, hx)`` with the one-product weight gradients (see the module docstring).

    Supports ``num_layers``, ``bidirectional`` and ``bias``; ``dropout`` between layers and
    ``proj_size`` are refused.
    """
    out, (h_n, c_n) = _packed(lstm, packed, [None, None] if hx is None else list(hx))
    return out, (h_n, c_n)


def use_packed_rnn(rnn: nn.Module, x: Tensor) -> bool:
    """Whether :func:`run_rnn` should run ``rnn`` on ``x`` through :func:`packed_gru` /
    :func:`packed_lstm`: a GRU or LSTM (without projections) training on the CPU (cuDNN
    already forms the weight gradients in one product on the GPU; inference has no backward
    pass)."""
    return (
        type(rnn) in (nn.GRU, nn.LSTM)
        and not getattr(rnn, "proj_size", 0)
        and x.device.type == "cpu"
        and torch.is_grad_enabled()
        and not _autocast_on("cpu")  # bfloat16 autocast: the modules' own casts
        and x.dtype == rnn.weight_hh_l0.dtype
    )


def run_rnn(rnn: nn.Module, packed: PackedSequence, hx: Any = None) -> tuple[PackedSequence, Any]:
    """``rnn(packed, hx)``, through :func:`packed_gru` / :func:`packed_lstm` where
    :func:`use_packed_rnn` says so."""
    if use_packed_rnn(rnn, packed.data):
        if isinstance(rnn, nn.LSTM):
            return packed_lstm(rnn, packed, hx)
        return packed_gru(rnn, packed, hx)  # type: ignore[arg-type]
    out: tuple[PackedSequence, Any] = rnn(packed, hx)
    return out
