"""Recurrent layers with PyTorch's equations and parameter names (``weight_ih``,
``weight_hh``, ``bias_ih``, ``bias_hh``; gates stacked in PyTorch's order), so
state dicts carry over. Cells are composed from ops of the table (linear,
slice, sigmoid, tanh, mul, add); a sequence layer loops over time:

    RNN   h' = tanh(W_ih x + b_ih + W_hh h + b_hh)
    GRU   r = s(W_ir x + b_ir + W_hr h + b_hr),  z = s(W_iz x + b_iz + W_hz h + b_hz)
          n = tanh(W_in x + b_in + r * (W_hn h + b_hn)),   h' = (1 - z) * n + z * h
    LSTM  i, f, g, o = W_ih x + b_ih + W_hh h + b_hh   (split in four)
          c' = s(f) * c + s(i) * tanh(g),   h' = s(o) * tanh(c')

(s the logistic sigmoid). Initial states are zeros.
"""

from __future__ import annotations

import math

import numpy as np

from .. import functional as F
from ..errors import ShapeError
from ..random import default_rng
from ..tensor import Tensor
from .module import Module, Parameter

_GATES = {"rnn": 1, "gru": 3, "lstm": 4}


def _gates(x, k: int, size: int):
    """The k blocks of ``size`` along the last axis of x."""
    last = x.ndim - 1
    return [F.slice(x, (j * size,), ((j + 1) * size,), (last,)) for j in range(k)]


class _Cell(Module):
    kind = "rnn"

    def __init__(self, input_size: int, hidden_size: int, dtype=np.float32):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        g = _GATES[self.kind] * hidden_size
        bound = 1.0 / math.sqrt(hidden_size)
        u = lambda *s: default_rng().uniform(-bound, bound, s).astype(dtype)  # noqa: E731
        self.weight_ih, self.weight_hh = Parameter(u(g, input_size)), Parameter(u(g, hidden_size))
        self.bias_ih, self.bias_hh = Parameter(u(g)), Parameter(u(g))

    def project(self, x):
        """W_ih x + b_ih."""
        return F.linear(x, self.weight_ih, self.bias_ih)

    def zero_state(self, batch: int, dtype):
        """Zeros of shape (1, hidden): broadcasting against the batch keeps a traced
        graph free of the batch size."""
        return Tensor(np.zeros((1, self.hidden_size), dtype))

    def forward(self, x, state=None):
        """One step from the input x (batch, input_size)."""
        if x.ndim != 2 or x.shape[1] != self.input_size:
            raise ShapeError(f"expected input (batch, {self.input_size}), got {x.shape}")
        state = self.initial(x.shape[0], x.dtype) if state is None else state
        return self.step(self.project(x), state)

    def initial(self, batch: int, dtype):
        return self.zero_state(batch, dtype)

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}"


class RNNCell(_Cell):
    kind = "rnn"

    def step(self, xw, h):
        return F.tanh(xw + F.linear(h, self.weight_hh, self.bias_hh))


class GRUCell(_Cell):
    kind = "gru"

    def step(self, xw, h):
        xr, xz, xn = _gates(xw, 3, self.hidden_size)
        hr, hz, hn = _gates(F.linear(h, self.weight_hh, self.bias_hh), 3, self.hidden_size)
        r, z = F.sigmoid(xr + hr), F.sigmoid(xz + hz)
        n = F.tanh(xn + r * hn)
        return n + z * (h - n)                      # (1 - z) n + z h


class LSTMCell(_Cell):
    """The state is the pair (h, c); ``step`` returns the new pair."""

    kind = "lstm"

    def initial(self, batch: int, dtype):
        return self.zero_state(batch, dtype), self.zero_state(batch, dtype)

    def step(self, xw, state):
        h, c = state
        i, f, g, o = _gates(xw + F.linear(h, self.weight_hh, self.bias_hh), 4, self.hidden_size)
        c = F.sigmoid(f) * c + F.sigmoid(i) * F.tanh(g)
        return F.sigmoid(o) * F.tanh(c), c


class Recurrent(Module):
    """A cell run over a sequence (batch, T, input_size). Returns the last hidden
    state (batch, hidden), or every hidden state (batch, T, hidden) with
    ``return_sequence=True``."""

    cell_type = RNNCell

    def __init__(self, input_size: int, hidden_size: int, return_sequence: bool = False, dtype=np.float32):
        super().__init__()
        self.cell = self.cell_type(input_size, hidden_size, dtype)
        self.return_sequence = return_sequence

    def forward(self, x):
        if x.ndim != 3 or x.shape[2] != self.cell.input_size:
            raise ShapeError(f"expected input (batch, T, {self.cell.input_size}), got {x.shape}")
        B, T, I = x.shape
        state = self.cell.initial(B, x.dtype)
        hs = []
        for t in range(T):
            # one input projection per step: slicing one projection of the whole sequence
            # instead would make the backward sweep scatter T full-size cotangents
            x_t = F.reshape(F.slice(x, (t,), (t + 1,), (1,)), (B, I))
            state = self.cell.step(self.cell.project(x_t), state)
            h = state[0] if isinstance(state, tuple) else state
            if self.return_sequence:
                hs.append(F.reshape(h, (B, 1, self.cell.hidden_size)))
        return F.concat(hs, axis=1) if self.return_sequence else h

    def extra_repr(self):
        return f"return_sequence={self.return_sequence}"


class RNN(Recurrent):
    cell_type = RNNCell


class GRU(Recurrent):
    cell_type = GRUCell


class LSTM(Recurrent):
    cell_type = LSTMCell
