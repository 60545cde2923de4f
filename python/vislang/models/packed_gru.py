"""A GRU over packed sequences whose backward pass forms each weight gradient in one product.

``torch.nn.GRU`` on the CPU differentiates its recurrence one time step at a time through
autograd: every step writes a full (3H, H) gradient of the recurrent weights and adds it to
the running sum, and every step of a packed sequence projects its inputs separately. Those
T full-size writes and adds do not shrink with the batch, so they dominate small per-process
batches (data-parallel ranks). Here, as cuDNN does on the GPU:

* the input projection of every token is one matrix product (autograd's own ``linear``);
* the recurrence is one autograd node; its backward pass keeps the gate gradients of all
  steps and forms ``dW_hh`` as one (3H x N) x (N x H) product, N the number of tokens.

The parameters are ``nn.GRU``'s own (same names, shapes, gate order r, z, n and
``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``), so checkpoints are unchanged, and
``packed_gru`` gives ``nn.GRU``'s outputs to float tolerance (tested, with gradients).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.autograd.function import once_differentiable
from torch.nn.utils.rnn import PackedSequence

__all__ = ["packed_gru", "run_rnn", "use_packed_gru"]


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


def _layer(
    x: Tensor,
    steps: list[tuple[int, int]],
    h0: Tensor,
    params: tuple[Tensor, Tensor, Tensor, Tensor],
    reverse: bool,
) -> Tensor:
    w_ih, w_hh, b_ih, b_hh = params
    gi = nn.functional.linear(x, w_ih, b_ih)  # every token's input projection at once
    out: Tensor = _GRURecurrence.apply(gi, w_hh, b_hh, h0, steps, reverse)
    return out


def _last_rows(batch_sizes: Tensor, device: torch.device) -> Tensor:
    """Packed row of each sequence's last step (sequences in packed order)."""
    rows = torch.arange(int(batch_sizes[0]))
    lengths = (batch_sizes[None, :] > rows[:, None]).sum(1)  # (B,)
    starts = torch.cumsum(batch_sizes, 0) - batch_sizes  # first row of each step
    return (starts[lengths - 1] + rows).to(device)


def packed_gru(
    gru: nn.GRU, packed: PackedSequence, h0: Tensor | None = None
) -> tuple[PackedSequence, Tensor]:
    """``gru(packed, h0)`` with the one-product weight gradients (see the module docstring).

    Supports ``num_layers``, ``bidirectional`` and ``bias``; ``dropout`` between layers and
    ``proj_size`` are not used by vislang's encoders and are refused.
    """
    if gru.dropout and gru.training and gru.num_layers > 1:
        raise NotImplementedError("packed_gru: dropout between layers is not supported")
    if getattr(gru, "proj_size", 0):
        raise NotImplementedError("packed_gru: proj_size is not supported")
    data, batch_sizes = packed.data, packed.batch_sizes
    batch = int(batch_sizes[0])
    dirs = 2 if gru.bidirectional else 1
    hidden = gru.hidden_size
    steps = _steps(batch_sizes)
    if h0 is None:
        h0 = data.new_zeros(gru.num_layers * dirs, batch, hidden)
    elif packed.sorted_indices is not None:
        h0 = h0.index_select(1, packed.sorted_indices)
    last = _last_rows(batch_sizes, data.device)
    finals = []
    x = data
    for layer in range(gru.num_layers):
        outs = []
        for d in range(dirs):
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            w_ih, w_hh = getattr(gru, "weight_ih" + sfx), getattr(gru, "weight_hh" + sfx)
            if gru.bias:
                b_ih, b_hh = getattr(gru, "bias_ih" + sfx), getattr(gru, "bias_hh" + sfx)
            else:
                b_ih = b_hh = data.new_zeros(3 * hidden)
            out = _layer(x, steps, h0[layer * dirs + d], (w_ih, w_hh, b_ih, b_hh), bool(d))
            # forward: the last step; reverse: the first step, which is rows [0, B)
            finals.append(out.index_select(0, last) if d == 0 else out[:batch])
            outs.append(out)
        x = outs[0] if dirs == 1 else torch.cat(outs, 1)
    h_n = torch.stack(finals)
    if packed.unsorted_indices is not None:
        h_n = h_n.index_select(1, packed.unsorted_indices)
    return (
        PackedSequence(x, batch_sizes, packed.sorted_indices, packed.unsorted_indices),
        h_n,
    )


def _cpu_autocast() -> bool:
    try:
        return bool(torch.is_autocast_enabled("cpu"))
    except TypeError:  # torch < 2.4
        return bool(torch.is_autocast_cpu_enabled())


def use_packed_gru(rnn: nn.Module, x: Tensor) -> bool:
    """Whether ``packed_gru`` should run ``rnn`` on ``x``: a GRU on the CPU (cuDNN already
    forms the weight gradients in one product on the GPU)."""
    return (
        isinstance(rnn, nn.GRU)
        and x.device.type == "cpu"
        and torch.is_grad_enabled()
        and not _cpu_autocast()  # bfloat16 autocast: nn.GRU's own casts
        and x.dtype == rnn.weight_hh_l0.dtype
    )


def run_rnn(
    rnn: nn.Module, packed: PackedSequence, h0: Tensor | None = None
) -> tuple[PackedSequence, Any]:
    """``rnn(packed, h0)``, through :func:`packed_gru` where :func:`use_packed_gru` says so."""
    if use_packed_gru(rnn, packed.data):
        return packed_gru(rnn, packed, h0)  # type: ignore[arg-type]
    out: tuple[PackedSequence, Any] = rnn(packed, h0)
    return out
