"""A-priori rounding-error bounds for binary32 contractions in certnn's
documented order (``docs/binary32.md``), used by the error-budget interpreter.

Model (u = 2**-24, eta = 2**-150 for binary32; IEEE round-to-nearest):
a product rounds with |fl(a*b) - a*b| <= u|a*b| + eta; a sum rounds with
|fl(a+b) - (a+b)| <= u|fl(a+b)| and no absolute term (a sum whose result is
subnormal is exact).

Sequential sum s_k = fl(s_{k-1} + p_k) of rounded products p_k = fl(t_k) of
exact products t_k, against the exact sum T_k = t_1 + ... + t_k. With
D_k = s_k - T_k:

    |D_k| <= |D_{k-1}| + (u|t_k| + eta) + u|s_k|,   |s_k| <= |T_k| + |D_k|

so |D_k| <= (|D_{k-1}| + u|t_k| + eta + u|T_k|) / (1 - u) and

    |D_K| <= (1 - u)^-K * sum_k (u |t_k| + eta + u |T_k|).

This *running* bound uses the partial sums |T_k| instead of the worst case
sum_j |t_j|, so a sum of mixed-sign terms gets a much smaller bound than the
textbook gamma_K * sum |t_k|. Over an input box, t_k and T_k are enclosed by
intervals (partial sums of interval products), and the float64 arithmetic that
evaluates the bound is itself covered by an inflation factor (every term of the
bound is a sum of non-negative float64 numbers, whose relative rounding error is
below gamma_n(2**-53) < 1e-9 for the sizes met here).

``any_order_dot_error`` is the order-free bound gamma_K * sum |t_k| (+ products'
rounding), valid for every summation order (onnxruntime, BLAS, GPUs).
"""

from __future__ import annotations

import numpy as np

U32 = 2.0 ** -24
ETA32 = 2.0 ** -150
_INFLATE = 1.0 + 1e-9  # covers the float64 rounding of the bound's own evaluation


def gamma(n: int, u: float = U32) -> float:
    if n * u >= 1:
        return float("inf")
    return n * u / (1 - n * u)


def _chunks(b: int, per_row: int, budget: int = 4_000_000):
    step = max(1, budget // max(per_row, 1))
    return [(i, min(b, i + step)) for i in range(0, b, step)]


def _product_ranges(w: np.ndarray, xlo: np.ndarray, xhi: np.ndarray):
    """Enclosure of t[b, r, k] = x[b, k] * w[r, k] for x in [xlo, xhi]."""
    a = xlo[:, None, :] * w[None, :, :]
    c = xhi[:, None, :] * w[None, :, :]
    return np.minimum(a, c), np.maximum(a, c)


def sequential_dot_error(w: np.ndarray, xlo: np.ndarray, xhi: np.ndarray,
                         bias: np.ndarray | None = None) -> np.ndarray:
    """Bound, per batch row b and output r, on |fl_seq(sum_k fl(x_k w_rk)) (+ b_r) -
    (sum_k x_k w_rk + b_r)| for every binary32 vector x in the box [xlo, xhi]
    (float64 arrays of shape (B, K)); ``w`` is (R, K) exact, ``bias`` (R,)."""
    w = np.asarray(w, np.float64)
    B, K = xlo.shape
    R = w.shape[0]
    out = np.empty((B, R))
    growth = (1.0 / (1.0 - U32)) ** K
    k_index = np.arange(1, K + 1)
    for i, j in _chunks(B, R * K):
        tlo, thi = _product_ranges(w, xlo[i:j], xhi[i:j])
        tabs = np.maximum(np.abs(tlo), np.abs(thi))
        Tlo, Thi = np.cumsum(tlo, axis=2), np.cumsum(thi, axis=2)
        # float64 cumsum error: |computed - exact| <= k 2^-53 sum_{j<=k} |t_j| (first order, x1.01)
        slack = np.cumsum(tabs, axis=2) * (k_index * 2.0 ** -53 * 1.01)
        Tabs = np.maximum(np.abs(Tlo), np.abs(Thi)) + slack
        D = growth * (U32 * (tabs.sum(axis=2) + Tabs.sum(axis=2)) + K * ETA32)
        if bias is not None:
            total = np.maximum(np.abs(Tlo[:, :, -1] + bias), np.abs(Thi[:, :, -1] + bias)) + slack[:, :, -1]
            D = D + U32 * (total + D) * (1 + U32)
        out[i:j] = D * _INFLATE
    return out


def any_order_dot_error(w: np.ndarray, xlo: np.ndarray, xhi: np.ndarray,
                        bias: np.ndarray | None = None) -> np.ndarray:
    """Order-free bound: gamma_{K+1} * (sum_k |x_k w_rk| + |b_r|) + K eta, valid for any
    summation order and with or without FMA."""
    w = np.abs(np.asarray(w, np.float64))
    K = xlo.shape[1]
    mag = np.maximum(np.abs(xlo), np.abs(xhi))
    s = mag @ w.T
    if bias is not None:
        s = s + np.abs(bias)
    return (gamma(K + 1) * s + K * ETA32) * (1 + 1e-9 + K * 2.0 ** -52)
