"""Shared by cards 2 (KV cache) and 3 (RoPE position): one causal attention head
decoded token by token, in NumPy (the buggy engines) and with the model zoo's
``MultiheadAttention`` + ``KVCache`` + ``RotaryEmbedding`` (certnn), plus the
checks both cards make. Everything in float64, so that cached and full
attention differ only by summation-order rounding (<= 1e-12 here)."""

from __future__ import annotations

import numpy as np

from .card import Findings

D, T = 8, 6


def case(seed: int = 3):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((1, T, D))
    weights = tuple(rng.standard_normal((D, D)) / np.sqrt(D) for _ in range(4))    # W_q, W_k, W_v, W_o
    return x, weights


def rope_np(x, positions):
    """RoPE with certnn's convention: pairs (x_i, x_{i+d/2}) rotated by p * 10000^(-2i/d)."""
    half = x.shape[-1] // 2
    freq = 10000.0 ** (-np.arange(half) * 2.0 / x.shape[-1])
    ang = np.asarray(positions, np.float64)[:, None] * freq[None, :]
    cos, sin = np.cos(np.concatenate([ang, ang], 1)), np.sin(np.concatenate([ang, ang], 1))
    return x * cos + np.concatenate([-x[..., half:], x[..., :half]], -1) * sin


def _attend(q, keys, values):
    s = q @ keys.T / np.sqrt(q.shape[-1])
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return (e / e.sum(axis=-1, keepdims=True)) @ values


def numpy_decode(x, weights, rope: bool, pointer_bug: bool = False, position_bug: bool = False):
    """(full causal attention outputs (T, D), step-by-step decoded outputs (T, D), the cache's keys).

    ``pointer_bug``: a preallocated cache whose write pointer is advanced before
    the write (the new key/value lands one slot late; the query attends over an
    unwritten zero slot and misses its own key). ``position_bug``: the decode
    token's RoPE position restarts at 0 (position ids not offset by the cache length)."""
    Wq, Wk, Wv, Wo = weights
    X = x[0]
    q, k, v = X @ Wq.T, X @ Wk.T, X @ Wv.T
    if rope:
        q, k = rope_np(q, np.arange(T)), rope_np(k, np.arange(T))
    full = np.stack([_attend(q[t], k[:t + 1], v[:t + 1]) for t in range(T)]) @ Wo.T
    K, V, n = np.zeros((T + 1, D)), np.zeros((T + 1, D)), 0
    out = []
    for t in range(T):
        qt, kt, vt = X[t] @ Wq.T, X[t] @ Wk.T, X[t] @ Wv.T
        if rope:
            pos = [0 if position_bug else n]
            qt, kt = rope_np(qt[None], pos)[0], rope_np(kt[None], pos)[0]
        slot = n + 1 if pointer_bug and n > 0 else n
        K[slot], V[slot] = kt, vt
        n += 1
        out.append(_attend(qt, K[:n], V[:n]) @ Wo.T)
    return full, np.stack(out), K[:n]


def certnn_decode(x, weights, rope: bool):
    """The same with the zoo's attention module, decoding through its KVCache."""
    from ..nn.attention import KVCache, MultiheadAttention
    from ..tensor import Tensor, no_grad
    att = MultiheadAttention(D, 1, causal=True, rope=rope, bias=False, dtype=np.float64)
    for lin, W in zip((att.q, att.k, att.v, att.out), weights):
        lin.weight.data[...] = W
    with no_grad():
        full = att(Tensor(x)).data[0]
        cache = KVCache()
        out = [att(Tensor(x[:, t:t + 1]), None, cache).data[0, 0] for t in range(T)]
    return full, np.stack(out), cache.k.data[0, 0]


def check(impl, rope: bool, f: Findings, tol: float, order: bool = True, positions: bool = True) -> None:
    """Decoded outputs vs full attention (``tol``); with ``order`` the cache's last
    entry is the new token's key; with ``rope`` and ``positions`` every cached key is
    rotated at its own position."""
    x, weights = case()
    full, dec, keys = impl(x, weights, rope)
    err = float(np.max(np.abs(dec - full)))
    f.check(err <= tol, "decode-mismatch", lambda: f"cached decoding differs from full attention by {err:.3g}")
    k_expected = x[0] @ weights[1].T
    if rope:
        k_expected = rope_np(k_expected, np.arange(T))
    if order:
        f.check(keys.shape == (T, D) and np.allclose(keys[-1], k_expected[-1], rtol=0, atol=1e-12),
                "cache-order", "the cache's last entry is not the key of the token just appended")
    if rope and positions:
        kerr = float(np.max(np.abs(keys - k_expected))) if keys.shape == (T, D) else float("inf")
        f.check(kerr <= 1e-12, "wrong-position",
                lambda: f"cached keys are not rotated at their positions 0..{T - 1} (max error {kerr:.3g})")
    f.note(max_decode_error=err, cache_length=int(keys.shape[0]))
