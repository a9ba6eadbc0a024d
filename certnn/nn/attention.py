"""Attention building blocks: rotary position embedding (RoPE), a key/value
cache for decoding, multi-head self-attention with causal and padding masks,
and the pre-LayerNorm transformer block of GPT-2 / ViT.

Shapes: a sequence is (batch, T, dim); heads are (batch, heads, T, head_dim).
Everything is composed from ops of the table (linear, reshape, transpose,
slice, concat, mul, matmul, softmax / masked_softmax), so eager and compiled
mode, autograd, export and bound propagation see ordinary graphs.
"""

from __future__ import annotations

import numpy as np

from .. import functional as F
from ..errors import ShapeError
from ..tensor import Tensor
from .layers import GELU, Dropout, LayerNorm, Linear
from .module import Module, Sequential


class RotaryEmbedding(Module):
    """RoPE (Su et al., 2021): the pairs (x_i, x_{i + d/2}) of the last axis (d even)
    are rotated by the angle p * base^(-2i/d) at position p::

        rope(x)_p = x_p * cos_p + rotate_half(x_p) * sin_p,   rotate_half(x) = (-x_2, x_1)

    so <rope(q)_m, rope(k)_n> depends on the positions only through m - n.
    ``offset`` is the position of the first row (the cache length when decoding)."""

    def __init__(self, dim: int, base: float = 10000.0):
        super().__init__()
        if dim % 2:
            raise ShapeError(f"RotaryEmbedding: dim must be even, got {dim}")
        self.dim, self.base = dim, base

    def tables(self, length: int, offset: int = 0, dtype=np.float32):
        """(cos, sin), each (length, dim), for positions offset .. offset + length - 1."""
        half = self.dim // 2
        freq = self.base ** (-np.arange(half, dtype=np.float64) * 2.0 / self.dim)
        angle = np.arange(offset, offset + length, dtype=np.float64)[:, None] * freq[None, :]
        angle = np.concatenate([angle, angle], axis=1)
        return np.cos(angle).astype(dtype), np.sin(angle).astype(dtype)

    def forward(self, x, offset: int = 0):
        if x.shape[-1] != self.dim:
            raise ShapeError(f"expected input (..., T, {self.dim}), got {x.shape}")
        cos, sin = self.tables(x.shape[-2], offset, x.dtype)
        half, last = self.dim // 2, x.ndim - 1
        x1 = F.slice(x, (0,), (half,), (last,))
        x2 = F.slice(x, (half,), (self.dim,), (last,))
        return x * Tensor(cos) + F.concat([-x2, x1], axis=last) * Tensor(sin)

    def extra_repr(self):
        return f"dim={self.dim}, base={self.base}"


class KVCache:
    """The keys and values (batch, heads, T, head_dim) of one attention layer for
    the positions seen so far. Each decoding step appends its new positions and
    attends over all of them; ``len(cache)`` is the next position."""

    def __init__(self):
        self.k = self.v = None

    def __len__(self) -> int:
        return 0 if self.k is None else self.k.shape[-2]

    def update(self, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        axis = k.ndim - 2
        self.k = k if self.k is None else F.concat([self.k, k], axis=axis)
        self.v = v if self.v is None else F.concat([self.v, v], axis=axis)
        return self.k, self.v


class MultiheadAttention(Module):
    """Multi-head self-attention: q, k, v = x W_q, x W_k, x W_v split into heads,
    softmax(q k^T / sqrt(head_dim)) v per head (``scaled_dot_product_attention``),
    heads merged and projected. ``causal``: position t sees positions <= t.
    ``rope``: rotary position embedding on q and k.

    ``forward(x, mask=None, cache=None)``: ``mask`` (batch, T_keys) booleans, True
    for real tokens (padding masked out); ``cache`` a :class:`KVCache` to decode
    with (x then holds only the new positions)."""

    def __init__(self, dim: int, heads: int, causal: bool = False, rope: bool = False, bias: bool = True,
                 dropout: float = 0.0, dtype=np.float32):
        super().__init__()
        if dim % heads:
            raise ShapeError(f"MultiheadAttention: dim {dim} is not divisible by heads {heads}")
        self.dim, self.heads, self.causal = dim, heads, causal
        self.q, self.k, self.v = (Linear(dim, dim, bias, dtype) for _ in range(3))
        self.out = Linear(dim, dim, bias, dtype)
        self.rope = RotaryEmbedding(dim // heads) if rope else None
        self.drop = Dropout(dropout)

    def _split(self, x):
        B, T, _ = x.shape
        return F.transpose(F.reshape(x, (B, T, self.heads, self.dim // self.heads)), (0, 2, 1, 3))

    def forward(self, x, mask=None, cache: KVCache | None = None):
        if x.ndim != 3 or x.shape[-1] != self.dim:
            raise ShapeError(f"expected input (batch, T, {self.dim}), got {x.shape}")
        B, T, _ = x.shape
        q, k, v = self._split(self.q(x)), self._split(self.k(x)), self._split(self.v(x))
        if self.rope is not None:
            offset = len(cache) if cache is not None else 0
            q, k = self.rope(q, offset), self.rope(k, offset)
        if cache is not None:
            k, v = cache.update(k, v)
        if mask is not None:
            mask = np.asarray(mask.data if isinstance(mask, Tensor) else mask, dtype=bool)
            if mask.shape != (B, k.shape[2]):
                raise ShapeError(f"expected a padding mask (batch, T_keys) = ({B}, {k.shape[2]}), got {mask.shape}")
            mask = mask[:, None, None, :]
        y = F.scaled_dot_product_attention(q, k, v, mask, is_causal=self.causal)
        y = F.reshape(F.transpose(y, (0, 2, 1, 3)), (B, T, self.dim))
        return self.drop(self.out(y))

    def extra_repr(self):
        return f"dim={self.dim}, heads={self.heads}, causal={self.causal}, rope={self.rope is not None}"


class TransformerBlock(Module):
    """Pre-LayerNorm block (GPT-2, ViT): x + attn(ln(x)), then x + mlp(ln(x)) with a
    GELU MLP of width ``mlp_ratio * dim``."""

    def __init__(self, dim: int, heads: int, mlp_ratio: int = 4, causal: bool = False, rope: bool = False,
                 dropout: float = 0.0, dtype=np.float32):
        super().__init__()
        self.ln1, self.ln2 = LayerNorm(dim, dtype=dtype), LayerNorm(dim, dtype=dtype)
        self.attn = MultiheadAttention(dim, heads, causal, rope, dropout=dropout, dtype=dtype)
        self.mlp = Sequential(Linear(dim, mlp_ratio * dim, dtype=dtype), GELU(),
                              Linear(mlp_ratio * dim, dim, dtype=dtype), Dropout(dropout))

    def forward(self, x, mask=None, cache: KVCache | None = None):
        x = x + self.attn(self.ln1(x), mask, cache)
        return x + self.mlp(self.ln2(x))


def init_normal_(module: Module, std: float = 0.02) -> Module:
    """GPT-2's initialisation: every linear and embedding weight N(0, std), biases 0
    (LayerNorm keeps weight 1, bias 0)."""
    from ..random import default_rng
    from .layers import Embedding
    for m in module.modules():
        if isinstance(m, Linear | Embedding):
            m.weight.data[...] = default_rng().normal(0.0, std, m.weight.shape)
            if isinstance(m, Linear) and m.bias is not None:
                m.bias.data[...] = 0
    return module


__all__ = ["RotaryEmbedding", "KVCache", "MultiheadAttention", "TransformerBlock", "init_normal_"]
