"""Mamba (Gu & Dao, 2023): a selective state-space language model, following
the reference ``mamba_simple`` / mamba-minimal block:

    x, res = split(in_proj(u))                       (d_inner each)
    x = silu(causal depthwise conv1d(x))             (kernel d_conv over time)
    dt, B, C = split(x_proj(x));  delta = softplus(dt_proj(dt))
    y = selective_scan(x, delta, A = -exp(A_log), B, C) + D x
    out = out_proj(y * silu(res))

The model: token embedding, residual blocks x + Mamba(RMSNorm(x)), a final
RMSNorm and a head tied to the embedding.
"""

from __future__ import annotations

import math

import numpy as np

from .. import functional as F
from .. import nn
from ..random import default_rng


class MambaBlock(nn.Module):
    def __init__(self, d_model: int, d_state: int = 16, expand: int = 2, d_conv: int = 4, dt_rank: int | None = None):
        super().__init__()
        d_inner = expand * d_model
        self.d_inner, self.d_state, self.d_conv = d_inner, d_state, d_conv
        self.dt_rank = dt_rank or math.ceil(d_model / 16)
        self.in_proj = nn.Linear(d_model, 2 * d_inner, bias=False)
        self.conv = nn.Conv2d(d_inner, d_inner, (1, d_conv), groups=d_inner)      # depthwise over time
        self.x_proj = nn.Linear(d_inner, self.dt_rank + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(self.dt_rank, d_inner)
        # dt_proj bias: softplus^-1 of dt drawn log-uniformly in [1e-3, 1e-1] (the reference init)
        dt = np.exp(default_rng().uniform(np.log(1e-3), np.log(1e-1), d_inner))
        self.dt_proj.bias.data[...] = dt + np.log(-np.expm1(-dt))
        self.A_log = nn.Parameter(np.log(np.tile(np.arange(1, d_state + 1, dtype=np.float32), (d_inner, 1))))
        self.D = nn.Parameter(np.ones(d_inner, np.float32))
        self.out_proj = nn.Linear(d_inner, d_model, bias=False)

    def forward(self, u):                                        # u: (B, L, d_model)
        B, L, _ = u.shape
        xr = self.in_proj(u)
        x = F.slice(xr, (0,), (self.d_inner,), (2,))
        res = F.slice(xr, (self.d_inner,), (2 * self.d_inner,), (2,))
        # causal depthwise convolution: (B, d_inner, 1, L) padded on the left
        xc = F.reshape(F.transpose(x, (0, 2, 1)), (B, self.d_inner, 1, L))
        xc = self.conv(F.pad(xc, (0, 0, 0, self.d_conv - 1, 0, 0, 0, 0)))
        x = F.silu(F.transpose(F.reshape(xc, (B, self.d_inner, L)), (0, 2, 1)))
        dbc = self.x_proj(x)
        r, n = self.dt_rank, self.d_state
        delta = F.softplus(self.dt_proj(F.slice(dbc, (0,), (r,), (2,))))
        Bm = F.slice(dbc, (r,), (r + n,), (2,))
        Cm = F.slice(dbc, (r + n,), (r + 2 * n,), (2,))
        y = F.selective_scan(x, delta, -F.exp(self.A_log), Bm, Cm) + x * self.D
        return self.out_proj(y * F.silu(res))


class Mamba(nn.Module):
    def __init__(self, vocab_size: int, d_model: int = 128, n_layer: int = 4, d_state: int = 16, expand: int = 2,
                 d_conv: int = 4):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, d_model)
        self.norms = nn.Sequential(*[nn.RMSNorm(d_model) for _ in range(n_layer)])
        self.layers = nn.Sequential(*[MambaBlock(d_model, d_state, expand, d_conv) for _ in range(n_layer)])
        self.norm_f = nn.RMSNorm(d_model)
        self.embedding.weight.data[...] = default_rng().normal(0, 0.02, self.embedding.weight.shape)

    def forward(self, idx):                                      # idx: (B, L) -> logits (B, L, vocab)
        x = self.embedding(idx)
        for norm, layer in zip(self.norms, self.layers):
            x = x + layer(norm(x))
        return F.linear(self.norm_f(x), self.embedding.weight)


def mamba(vocab_size: int, d_model: int = 128, n_layer: int = 4, d_state: int = 16, expand: int = 2, d_conv: int = 4):
    return Mamba(vocab_size, d_model, n_layer, d_state, expand, d_conv)
